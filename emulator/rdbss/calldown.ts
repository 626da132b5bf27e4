/**
 * RDBSS's side of the two-phase construction structures (context.ts declares what a mini-redirector sees). RDBSS
 * frees them when the construction is over and the verifier turns them into tombstones (pattern 8). Their trapped
 * fields are `accessor` fields, as in the six structures: the burial only swaps the prototype, instead of moving
 * plain fields into the grave (≈ 3–4 µs per object, three per new connection). The callbacks and the link the
 * callback reaches the calldown by stay plain: a late second callback must still run, to be reported as
 * CALLBACK_TWICE rather than as a use after free.
 */
import type { KEVENT, NTSTATUS } from "../kernel/index.js";
import type {
  MRX_CREATENETROOT_CONTEXT,
  MRX_SRVCALL_CALLBACK_CONTEXT,
  MRX_SRVCALLDOWN_STRUCTURE,
  RX_CONTEXT,
} from "./context.js";
import type { SRV_CALL, V_NET_ROOT } from "./structs.js";

export class SrvCallCallbackContext implements MRX_SRVCALL_CALLBACK_CONTEXT {
  /** Trapped once the construction is over: every field but `SrvCalldownStructure`. */
  static readonly trapped = ["CallbackContextOrdinal", "RxDeviceObject", "Status", "RecommunicateContext"] as const;
  readonly SrvCalldownStructure: MRX_SRVCALLDOWN_STRUCTURE;
  accessor CallbackContextOrdinal: number;
  accessor RxDeviceObject: unknown;
  accessor Status: NTSTATUS;
  accessor RecommunicateContext: unknown = null;
  constructor(calldown: MRX_SRVCALLDOWN_STRUCTURE, ordinal: number, device: unknown, status: NTSTATUS) {
    this.SrvCalldownStructure = calldown;
    this.CallbackContextOrdinal = ordinal;
    this.RxDeviceObject = device;
    this.Status = status;
  }
}

export class SrvCalldownStructure implements MRX_SRVCALLDOWN_STRUCTURE {
  /** Trapped once the construction is over: every field but `CallBack`. */
  static readonly trapped = [
    "FinishEvent",
    "SrvCall",
    "RxContext",
    "NumberToWait",
    "NumberRemaining",
    "BestFinisher",
    "BestFinisherOrdinal",
    "CallbackContexts",
  ] as const;
  accessor FinishEvent: KEVENT;
  accessor SrvCall: SRV_CALL;
  accessor RxContext: RX_CONTEXT;
  accessor NumberToWait: number;
  accessor NumberRemaining: number;
  accessor BestFinisher: unknown = null;
  accessor BestFinisherOrdinal = -1;
  accessor CallbackContexts: MRX_SRVCALL_CALLBACK_CONTEXT[] = [];
  readonly CallBack: (context: MRX_SRVCALL_CALLBACK_CONTEXT) => void;
  constructor(
    finish: KEVENT,
    srvCall: SRV_CALL,
    ctx: RX_CONTEXT,
    count: number,
    callBack: (context: MRX_SRVCALL_CALLBACK_CONTEXT) => void,
  ) {
    this.FinishEvent = finish;
    this.SrvCall = srvCall;
    this.RxContext = ctx;
    this.NumberToWait = count;
    this.NumberRemaining = count;
    this.CallBack = callBack;
  }
}

export class CreateNetRootContext implements MRX_CREATENETROOT_CONTEXT {
  /** Trapped once the construction is over: every field but `Callback`. */
  static readonly trapped = [
    "pCreateContext",
    "pVNetRoot",
    "FinishEvent",
    "VirtualNetRootStatus",
    "NetRootStatus",
  ] as const;
  accessor pCreateContext: RX_CONTEXT;
  accessor pVNetRoot: V_NET_ROOT;
  accessor FinishEvent: KEVENT;
  accessor VirtualNetRootStatus: NTSTATUS;
  accessor NetRootStatus: NTSTATUS;
  readonly Callback: (context: MRX_CREATENETROOT_CONTEXT) => void;
  constructor(
    ctx: RX_CONTEXT,
    vnr: V_NET_ROOT,
    finish: KEVENT,
    status: NTSTATUS,
    callback: (context: MRX_CREATENETROOT_CONTEXT) => void,
  ) {
    this.pCreateContext = ctx;
    this.pVNetRoot = vnr;
    this.FinishEvent = finish;
    this.VirtualNetRootStatus = status;
    this.NetRootStatus = status;
    this.Callback = callback;
  }
}
