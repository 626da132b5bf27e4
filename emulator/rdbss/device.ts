/**
 * RDBSS_DEVICE_OBJECT: the mini-redirector's device with RDBSS's per-device state (rxstruc.h): start/stop state,
 * the netname table, the device FCB, dispatcher and scavenger state, and counts.
 */
import type { DEVICE_OBJECT } from "../io/index.js";
import type { KEVENT } from "../kernel/index.js";
import { NodeType, RDBSS_MANAGE, type RDBSS_STATE, RdbssState } from "./constants.js";
import type { RX_CONTEXT } from "./context.js";
import type { MINIRDR_DISPATCH } from "./dispatch.js";
import type { FOBX, MiniRdrExtensions, NET_ROOT, SRV_CALL, V_NET_ROOT } from "./structs.js";
import type { RX_PREFIX_TABLE } from "./tables.js";

/** An MRx routine as called on one device: scheduling-point labels, call-chain frame, MrxLog ids, call count. */
export interface MrxRoutine {
  readonly before: string;
  readonly after: string;
  readonly frame: string;
  /** The routine's and the device's names as MrxLog ids. */
  readonly nameId: number;
  readonly deviceId: number;
  /** The mini-redirector's DriverName: the thread runs its code during the call (KThread.driver). */
  readonly driver: string;
  calls: number;
}

/** The device FCB (RxDeviceFCB): the FsContext of device opens and tree-connect handles. */
export class RX_DEVICE_FCB {
  readonly NodeTypeCode = NodeType.RDBSS_NTC_DEVICE_FCB;
  OpenCount = 0;
  UncleanCount = 0;
  label(): string {
    return "device FCB";
  }
}

/** Scavenger states (scavengr.h). */
export const ScavengerState = {
  RDBSS_SCAVENGER_INACTIVE: 0,
  RDBSS_SCAVENGER_DORMANT: 1,
  RDBSS_SCAVENGER_ACTIVE: 2,
  RDBSS_SCAVENGER_SUSPENDED: 3,
} as const;
export type SCAVENGER_STATE = (typeof ScavengerState)[keyof typeof ScavengerState];

export class RDBSS_SCAVENGER {
  State: SCAVENGER_STATE = ScavengerState.RDBSS_SCAVENGER_INACTIVE;
  /** Seconds. */
  TimeLimit = 10;
  MaximumNumberOfDormantFiles = 50;
  /** FOBXs made dormant at cleanup (delayed close candidates), oldest first. */
  readonly ClosePendingFobxsList: FOBX[] = [];
  /** Objects marked for scavenged finalization, by type. */
  readonly SrvCallFinalizationList: SRV_CALL[] = [];
  readonly NetRootFinalizationList: NET_ROOT[] = [];
  readonly VNetRootFinalizationList: V_NET_ROOT[] = [];
  readonly FobxFinalizationList: FOBX[] = [];
  timerArmed = false;
  /** Completed scavenger passes (for tests and reports). */
  passes = 0;
  get markedCount(): number {
    return (
      this.SrvCallFinalizationList.length +
      this.NetRootFinalizationList.length +
      this.VNetRootFinalizationList.length +
      this.FobxFinalizationList.length
    );
  }
}

export class RDBSS_DEVICE_OBJECT<X extends MiniRdrExtensions = MiniRdrExtensions> {
  readonly device: DEVICE_OBJECT;
  /** \Device\<name> */
  readonly DeviceName: string;
  /** A short name for reports ("memsmb"). */
  readonly MiniRdrName: string;
  readonly Dispatch: MINIRDR_DISPATCH<X>;
  readonly RegistrationControls: number;
  readonly StartStopContext: { State: RDBSS_STATE; Version: number; pStopContext: RX_CONTEXT<X> | null } = {
    State: RdbssState.RDBSS_STARTABLE,
    Version: 0,
    pStopContext: null,
  };
  NumberOfActiveFcbs = 0;
  NumberOfActiveContexts = 0;
  readonly pRxNetNameTable: RX_PREFIX_TABLE;
  MupHandle = 0;
  readonly DispatcherContext: {
    NumberOfWorkerThreads: number;
    pTearDownEvent: KEVENT | null;
    /**
     * Emulator bookkeeping: how many of the items counted in NumberOfWorkerThreads are the spin-down's own caller (a
     * stop runs as a posted RxFspDispatch on this very queue), so the teardown event is set when only those remain.
     */
    spinDownCaller: number;
  } = {
    NumberOfWorkerThreads: 0,
    pTearDownEvent: null,
    spinDownCaller: 0,
  };
  readonly DeviceFcb = new RX_DEVICE_FCB();
  readonly Scavenger = new RDBSS_SCAVENGER();
  /** Per MRx routine called on this device: its labels and how often it was called (see Rdbss.mrxRoutine). */
  readonly mrxRoutines = new Map<string, MrxRoutine>();
  unregistered = false;
  /** The mini-redirector's own device-wide state (its "device extension"). */
  MiniRdrExtension: unknown = null;

  /** How often the MRx routine `name` was called on this device. */
  mrxCallCount(name: string): number {
    return this.mrxRoutines.get(name)?.calls ?? 0;
  }

  /** How often each MRx routine was called (a snapshot). */
  get mrxCalls(): ReadonlyMap<string, number> {
    const m = new Map<string, number>();
    for (const [name, r] of this.mrxRoutines) if (r.calls > 0) m.set(name, r.calls);
    return m;
  }

  constructor(
    device: DEVICE_OBJECT,
    name: string,
    miniRdrName: string,
    dispatch: MINIRDR_DISPATCH<X>,
    controls: number,
    table: RX_PREFIX_TABLE,
  ) {
    this.device = device;
    this.DeviceName = name;
    this.MiniRdrName = miniRdrName;
    this.Dispatch = dispatch;
    this.RegistrationControls = controls;
    this.pRxNetNameTable = table;
  }

  get State(): RDBSS_STATE {
    return this.StartStopContext.State;
  }

  label(): string {
    return this.DeviceName;
  }
}

/** RDBSS allocates and owns the SRV_CALL's Context (the mini-redirector's extension) for the SRV_CALL's device. */
export function managesSrvCallExtension(srvCall: SRV_CALL): boolean {
  const dev = srvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
  return (dev.Dispatch.MRxFlags & RDBSS_MANAGE.RDBSS_MANAGE_SRV_CALL_EXTENSION) !== 0;
}
