/**
 * RDBSS_DEVICE_OBJECT: the mini-redirector's device with RDBSS's per-device state (rxstruc.h): start/stop state,
 * the netname table, the device FCB, dispatcher and scavenger state, and counts.
 */
import type { DEVICE_OBJECT } from "../io/index.js";
import type { KEVENT } from "../kernel/index.js";
import { NodeType, type RDBSS_STATE, RdbssState } from "./constants.js";
import type { RX_CONTEXT } from "./context.js";
import type { MINIRDR_DISPATCH } from "./dispatch.js";
import type { FOBX, MiniRdrExtensions, NET_ROOT, SRV_CALL, V_NET_ROOT } from "./structs.js";
import type { RX_PREFIX_TABLE } from "./tables.js";

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
  readonly DispatcherContext: { NumberOfWorkerThreads: number; pTearDownEvent: KEVENT | null } = {
    NumberOfWorkerThreads: 0,
    pTearDownEvent: null,
  };
  readonly DeviceFcb = new RX_DEVICE_FCB();
  readonly Scavenger = new RDBSS_SCAVENGER();
  /** How often each MRx entry was called. */
  readonly mrxCalls = new Map<string, number>();
  unregistered = false;
  /** The mini-redirector's own device-wide state (its "device extension"). */
  MiniRdrExtension: unknown = null;

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
