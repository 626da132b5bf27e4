/**
 * RX_CONTEXT (rxcontx.h) and the calldown structures of two-phase construction (mrx.h): the per-request
 * context RDBSS passes to every MRx routine, with its LowIo parameters, and the contexts of MRxCreateSrvCall
 * and MRxCreateVNetRoot.
 */
import { type IO_STACK_LOCATION, type IRP, irpMajorName } from "../io/index.js";
import { type DList, KEVENT, type KThread, type NTSTATUS, type Witness } from "../kernel/index.js";
import { LOWIO_OP_NAMES, NodeType } from "./constants.js";
import type { FCB, FOBX, MiniRdrExtensions, NET_ROOT, SRV_CALL, SRV_OPEN, V_NET_ROOT } from "./structs.js";

/** A mini-redirector's cancel routine (MRxCancelRoutine): must complete the context with STATUS_CANCELLED. */
export type MRX_CALLDOWN_CANCEL = (RxContext: RX_CONTEXT) => NTSTATUS | Promise<NTSTATUS>;

export interface LOWIO_READWRITE_PARAMS {
  Flags: number;
  /** The caller's buffer (the locked MDL). */
  Buffer: Uint8Array | null;
  ByteOffset: number;
  ByteCount: number;
  Key: number;
}

export interface LOWIO_LOCK_PARAMS {
  ByteOffset: number;
  Length: number;
  Key: number;
  Flags: number;
  /** For LOWIO_OP_UNLOCK_MULTIPLE: the ranges to unlock. */
  LockList: { ByteOffset: number; Length: number; Key: number }[];
}

export interface LOWIO_FSCTL_PARAMS {
  FsControlCode: number;
  InputBufferLength: number;
  pInputBuffer: unknown;
  OutputBufferLength: number;
  pOutputBuffer: Uint8Array | null;
  MinorFunction: number;
}

export interface LOWIO_NOTIFY_PARAMS {
  WatchTree: boolean;
  CompletionFilter: number;
  NotificationBufferLength: number;
  pNotificationBuffer: Uint8Array | null;
}

export class LOWIO_CONTEXT {
  Operation = 0;
  Flags = 0;
  /** Where the completion routine runs the shell completion (RxLowIoCompletionTail). */
  CompletionRoutine: ((ctx: RX_CONTEXT) => NTSTATUS) | null = null;
  /** The FCB resource held across the LowIo (released by the completion thread for async requests). */
  Resource: unknown = null;
  ResourceThreadId: unknown = null;
  /** The operation's parameters; each member is made on first use (a read touches only ReadWrite). */
  readonly ParamsFor = new LowIoParams();
}

/** RX_CONTEXT.Info: query / set information. */
export interface RX_CONTEXT_INFO {
  FileInformationClass: number;
  FsInformationClass: number;
  Buffer: Uint8Array | null;
  Length: number;
  LengthRemaining: number;
  ReplaceIfExists: boolean;
}

/** RX_CONTEXT.Create. */
export interface RX_CONTEXT_CREATE<X extends MiniRdrExtensions = MiniRdrExtensions> {
  NtCreateParameters: NT_CREATE_PARAMETERS;
  /** The name relative to the NET_ROOT ("\dir\file"). */
  RemainingName: string;
  CanonicalName: string;
  pSrvCall: SRV_CALL<X> | null;
  pNetRoot: NET_ROOT<X> | null;
  pVNetRoot: V_NET_ROOT<X> | null;
  /** FILE_OPENED, FILE_CREATED … set by MRxCreate. */
  ReturnedCreateInformation: number;
  UserName: string | null;
  Password: string | null;
  UserDomainName: string | null;
  TreeConnectOpenDeferred: boolean;
  FcbAcquired: boolean;
  ThisIsATreeConnectOpen: boolean;
}

/** RX_CONTEXT.QueryDirectory. */
export interface RX_CONTEXT_QUERY_DIRECTORY {
  FileIndex: number;
  RestartScan: boolean;
  ReturnSingleEntry: boolean;
  IndexSpecified: boolean;
  InitialQuery: boolean;
  Template: string | null;
}

/** LOWIO_CONTEXT.ParamsFor: a union in RDBSS; here each member is allocated when an operation first uses it. */
export class LowIoParams {
  private rw: LOWIO_READWRITE_PARAMS | null = null;
  private locks: LOWIO_LOCK_PARAMS | null = null;
  private fsctl: LOWIO_FSCTL_PARAMS | null = null;
  private ioctl: LOWIO_FSCTL_PARAMS | null = null;
  private notify: LOWIO_NOTIFY_PARAMS | null = null;
  get ReadWrite(): LOWIO_READWRITE_PARAMS {
    if (this.rw === null) this.rw = { Flags: 0, Buffer: null, ByteOffset: 0, ByteCount: 0, Key: 0 };
    return this.rw;
  }
  get Locks(): LOWIO_LOCK_PARAMS {
    if (this.locks === null) this.locks = { ByteOffset: 0, Length: 0, Key: 0, Flags: 0, LockList: [] };
    return this.locks;
  }
  get FsCtl(): LOWIO_FSCTL_PARAMS {
    if (this.fsctl === null) this.fsctl = controlParams();
    return this.fsctl;
  }
  get IoCtl(): LOWIO_FSCTL_PARAMS {
    if (this.ioctl === null) this.ioctl = controlParams();
    return this.ioctl;
  }
  get NotifyChangeDirectory(): LOWIO_NOTIFY_PARAMS {
    if (this.notify === null)
      this.notify = { WatchTree: false, CompletionFilter: 0, NotificationBufferLength: 0, pNotificationBuffer: null };
    return this.notify;
  }
}

function controlParams(): LOWIO_FSCTL_PARAMS {
  return {
    FsControlCode: 0,
    InputBufferLength: 0,
    pInputBuffer: null,
    OutputBufferLength: 0,
    pOutputBuffer: null,
    MinorFunction: 0,
  };
}

export interface NT_CREATE_PARAMETERS {
  DesiredAccess: number;
  AllocationSize: number;
  FileAttributes: number;
  ShareAccess: number;
  Disposition: number;
  CreateOptions: number;
  EaBuffer: readonly { EaName: string; EaValue: Uint8Array }[] | null;
}

/**
 * Reports a driver's use of a freed RX_CONTEXT's field (RdbssVerifier.contextFieldUsedAfterFree): set on the context
 * when RDBSS drops its last reference with the `useAfterFree` check on.
 */
export type RxContextAfterFree = (ctx: RX_CONTEXT, field: string, use: RxContextFieldUse) => void;

/**
 * How a freed RX_CONTEXT's field was used: read, written, or (a member structure: IoStatusBlock, LowIoContext,
 * MRxContext[], Info …) reached, to read or write what it holds.
 */
export type RxContextFieldUse = "read" | "write" | "member";

/**
 * The trapped fields of RX_CONTEXT, by the index its accessors pass to `freedUse` (index × 4 + use: 0 read, 1 write,
 * 2 a member structure reached). A number rather than the name and the use: it keeps each accessor within the
 * bytecode V8 always inlines (27 bytes), so that a live context's field costs RDBSS's own paths a load and a compare.
 */
const TRAPPED_FIELDS: readonly string[] = [
  "ReferenceCount",
  "MajorFunction",
  "MinorFunction",
  "CurrentIrp",
  "CurrentIrpSp",
  "pFcb",
  "pFobx",
  "pRelevantSrvOpen",
  "RxDeviceObject",
  "Flags",
  "IoStatusBlock",
  "MRxContext",
  "MRxCancelRoutine",
  "PostRequest",
  "LowIoContext",
  "MRxContextPointer",
  "SyncEvent",
  "Info",
  "Create",
  "QueryDirectory",
  "NotifyChangeDirectory",
  "PrefixClaim",
];
const USES: readonly RxContextFieldUse[] = ["read", "write", "member"];

/** A freed context's field was used: report it through the context's `afterFree`. */
function freedUse(ctx: RX_CONTEXT, id: number): void {
  const report = ctx.afterFree as RxContextAfterFree;
  report(ctx, TRAPPED_FIELDS[id >> 2] as string, USES[id & 3] as RxContextFieldUse);
}

/**
 * RX_CONTEXT. The fields a mini-redirector reaches are getter / setter pairs over private slots, each first testing
 * `afterFree`: null while the context lives, so a live access costs a load and a compare (the accessors stay within
 * the bytecode V8 always inlines); set when RDBSS frees the context, so that driver code reading or writing a field
 * afterwards (a late completion, a timer, a cancel routine that lost the race) is reported, naming the field. Not a
 * prototype swap at the free as for the six structures' tombstones (tombstone.ts): every request frees a context,
 * and a swap measured + 20 % of a nulmrx read's instructions, the accessors' tests ≈ + 3 %. A member structure the
 * driver kept a pointer to (`ctx.LowIoContext`, `ctx.IoStatusBlock`) is reached without the context and not trapped.
 */
export class RX_CONTEXT<X extends MiniRdrExtensions = MiniRdrExtensions> {
  readonly NodeTypeCode = NodeType.RDBSS_NTC_RX_CONTEXT;
  readonly SerialNumber: number;
  /**
   * @internal Null while the context lives; RDBSS's `useAfterFree` hook once its last reference is dropped (null
   * again once a use was reported: one report per context).
   */
  afterFree: RxContextAfterFree | null = null;
  private referenceCount = 1;
  private majorFunction = 0;
  private minorFunction = 0;
  private currentIrp: IRP | null = null;
  private currentIrpSp: IO_STACK_LOCATION | null = null;
  private fcb: FCB<X> | null = null;
  private fobx: FOBX<X> | null = null;
  private relevantSrvOpen: SRV_OPEN<X> | null = null;
  private rxDeviceObject: unknown;
  OriginalThread: KThread | null = null;
  LastExecutionThread: KThread | null = null;
  private flags = 0;
  private readonly ioStatusBlock = { Status: 0, Information: 0 };
  private readonly mrxContext: unknown[] = [null, null, null, null];
  private mrxCancelRoutine: MRX_CALLDOWN_CANCEL | null = null;
  /** The common routine to re-run when the context is posted or resumed. */
  ResumeRoutine: ((ctx: RX_CONTEXT) => NTSTATUS | Promise<NTSTATUS>) | null = null;
  private syncEvent: KEVENT | null;
  private postRequest = false;
  PendingReturned = false;
  // The union members of RDBSS's RX_CONTEXT (Create, Info, QueryDirectory …) are made on first use: an IRP touches
  // one of them at most, and a read none.
  private info: RX_CONTEXT_INFO | null = null;
  private create: RX_CONTEXT_CREATE<X> | null = null;
  private queryDirectory: RX_CONTEXT_QUERY_DIRECTORY | null = null;
  private notifyChange: { pVNetRoot: V_NET_ROOT<X> | null } | null = null;
  private prefixClaim: { SuppliedPathName: string } | null = null;

  private readonly lowIoContext = new LOWIO_CONTEXT();
  /** The emulator's bookkeeping: the IRP was completed (RxCompleteRequest ran). */
  completed = false;
  /** Who ran RxCompleteRequest on a context without an IRP (else IRP.completion has it), for a second completion's report. */
  completion: Witness | null = null;
  /** The current LowIo operation has completed (RxLowIoCompletion ran, or the submit returned a final status). */
  lowIoDone = false;
  /** Who called RxLowIoCompletion for the current operation, for a second call's report; null if the submit returned. */
  lowIoCompletion: Witness | null = null;
  /**
   * A synchronous read or write pended: the promise its common routine returned is the wait on SyncEvent, and
   * whoever awaits it finishes the LowIo (FsdDispatcher.settleLowIo) — no async frame of its own per read.
   */
  lowIoWaitPending = false;
  /** MRxLowIOSubmit has been called for the current operation (the mini-redirector owns it until it completes). */
  submittedToMiniRdr = false;
  /** RDBSS called the mini-redirector's cancel routine for this context. */
  cancelRoutineCalled = false;
  /**
   * Who dropped the last reference (RxDereferenceAndDeleteRxContext at 0: the context went back to its lookaside
   * list): the thread, the virtual time and the scenario step, for a use-after-free report. Null while alive.
   */
  freedThread: string | null = null;
  freedTime = 0;
  freedStep: string | null = null;
  private mrxContextPointer: unknown = null;
  /** The verifier's MRxContext[] check: the MRx routine last called with this context (its slot traps are kept on
   * MRxContext[] itself). */
  mrxLastCall: string | null = null;
  /** @internal The links of RDBSS's list of active contexts (Rdbss.ActiveContexts). */
  dPrev: RX_CONTEXT | null = null;
  /** @internal */ dNext: RX_CONTEXT | null = null;
  /** @internal */ dList: DList<RX_CONTEXT> | null = null;

  /** `event` is the SyncEvent; without one, a notification event is made on first use. */
  constructor(serialNumber: number, device: unknown, event: KEVENT | null = null) {
    this.SerialNumber = serialNumber;
    this.rxDeviceObject = device;
    this.syncEvent = event;
  }

  // The trapped fields. Each accessor tests `afterFree` itself and passes its entry of TRAPPED_FIELDS as a number
  // (test/verifier/rx-context-fields.test.ts checks that every accessor reports its own name and use).
  get ReferenceCount(): number {
    if (this.afterFree !== null) freedUse(this, 0); // ReferenceCount, read
    return this.referenceCount;
  }
  set ReferenceCount(v: number) {
    if (this.afterFree !== null) freedUse(this, 1); // ReferenceCount, write
    this.referenceCount = v;
  }
  get MajorFunction(): number {
    if (this.afterFree !== null) freedUse(this, 4); // MajorFunction, read
    return this.majorFunction;
  }
  set MajorFunction(v: number) {
    if (this.afterFree !== null) freedUse(this, 5); // MajorFunction, write
    this.majorFunction = v;
  }
  get MinorFunction(): number {
    if (this.afterFree !== null) freedUse(this, 8); // MinorFunction, read
    return this.minorFunction;
  }
  set MinorFunction(v: number) {
    if (this.afterFree !== null) freedUse(this, 9); // MinorFunction, write
    this.minorFunction = v;
  }
  get CurrentIrp(): IRP | null {
    if (this.afterFree !== null) freedUse(this, 12); // CurrentIrp, read
    return this.currentIrp;
  }
  set CurrentIrp(v: IRP | null) {
    if (this.afterFree !== null) freedUse(this, 13); // CurrentIrp, write
    this.currentIrp = v;
  }
  get CurrentIrpSp(): IO_STACK_LOCATION | null {
    if (this.afterFree !== null) freedUse(this, 16); // CurrentIrpSp, read
    return this.currentIrpSp;
  }
  set CurrentIrpSp(v: IO_STACK_LOCATION | null) {
    if (this.afterFree !== null) freedUse(this, 17); // CurrentIrpSp, write
    this.currentIrpSp = v;
  }
  get pFcb(): FCB<X> | null {
    if (this.afterFree !== null) freedUse(this, 20); // pFcb, read
    return this.fcb;
  }
  set pFcb(v: FCB<X> | null) {
    if (this.afterFree !== null) freedUse(this, 21); // pFcb, write
    this.fcb = v;
  }
  get pFobx(): FOBX<X> | null {
    if (this.afterFree !== null) freedUse(this, 24); // pFobx, read
    return this.fobx;
  }
  set pFobx(v: FOBX<X> | null) {
    if (this.afterFree !== null) freedUse(this, 25); // pFobx, write
    this.fobx = v;
  }
  get pRelevantSrvOpen(): SRV_OPEN<X> | null {
    if (this.afterFree !== null) freedUse(this, 28); // pRelevantSrvOpen, read
    return this.relevantSrvOpen;
  }
  set pRelevantSrvOpen(v: SRV_OPEN<X> | null) {
    if (this.afterFree !== null) freedUse(this, 29); // pRelevantSrvOpen, write
    this.relevantSrvOpen = v;
  }
  /** The RDBSS device object of the mini-redirector. */
  get RxDeviceObject(): unknown {
    if (this.afterFree !== null) freedUse(this, 32); // RxDeviceObject, read
    return this.rxDeviceObject;
  }
  set RxDeviceObject(v: unknown) {
    if (this.afterFree !== null) freedUse(this, 33); // RxDeviceObject, write
    this.rxDeviceObject = v;
  }
  get Flags(): number {
    if (this.afterFree !== null) freedUse(this, 36); // Flags, read
    return this.flags;
  }
  set Flags(v: number) {
    if (this.afterFree !== null) freedUse(this, 37); // Flags, write
    this.flags = v;
  }
  /** IoStatusBlock: StoredStatus / InformationToReturn alias its fields. */
  get IoStatusBlock(): { Status: NTSTATUS; Information: number } {
    if (this.afterFree !== null) freedUse(this, 42); // IoStatusBlock, member
    return this.ioStatusBlock;
  }
  /** Scratch space for the mini-redirector; zeroed before every MINIRDR_CALL. */
  get MRxContext(): unknown[] {
    if (this.afterFree !== null) freedUse(this, 46); // MRxContext, member
    return this.mrxContext;
  }
  get MRxCancelRoutine(): MRX_CALLDOWN_CANCEL | null {
    if (this.afterFree !== null) freedUse(this, 48); // MRxCancelRoutine, read
    return this.mrxCancelRoutine;
  }
  set MRxCancelRoutine(v: MRX_CALLDOWN_CANCEL | null) {
    if (this.afterFree !== null) freedUse(this, 49); // MRxCancelRoutine, write
    this.mrxCancelRoutine = v;
  }
  /** Set by the mini-redirector to ask RDBSS to re-run the request in the file-system process. */
  get PostRequest(): boolean {
    if (this.afterFree !== null) freedUse(this, 52); // PostRequest, read
    return this.postRequest;
  }
  set PostRequest(v: boolean) {
    if (this.afterFree !== null) freedUse(this, 53); // PostRequest, write
    this.postRequest = v;
  }
  get LowIoContext(): LOWIO_CONTEXT {
    if (this.afterFree !== null) freedUse(this, 58); // LowIoContext, member
    return this.lowIoContext;
  }
  /** Free slot for the mini-redirector (e.g. its transport request). */
  get MRxContextPointer(): unknown {
    if (this.afterFree !== null) freedUse(this, 60); // MRxContextPointer, read
    return this.mrxContextPointer;
  }
  set MRxContextPointer(v: unknown) {
    if (this.afterFree !== null) freedUse(this, 61); // MRxContextPointer, write
    this.mrxContextPointer = v;
  }

  /** Whether SyncEvent has been made (a context nobody waited on has none). */
  get hasSyncEvent(): boolean {
    return this.syncEvent !== null;
  }

  get SyncEvent(): KEVENT {
    const made = this.syncEvent;
    return made !== null && this.afterFree === null ? made : this.makeSyncEvent();
  }
  /** SyncEvent, made on first use; a freed context's use of it reported. */
  private makeSyncEvent(): KEVENT {
    if (this.afterFree !== null) freedUse(this, 66); // SyncEvent, member
    if (this.syncEvent === null) this.syncEvent = new KEVENT(0, false, "RX_CONTEXT SyncEvent", this);
    return this.syncEvent;
  }

  /** Query / set information. */
  get Info(): RX_CONTEXT_INFO {
    const made = this.info;
    return made !== null && this.afterFree === null ? made : this.makeInfo();
  }
  /** Info, made on first use; a freed context's use of it reported. */
  private makeInfo(): RX_CONTEXT_INFO {
    if (this.afterFree !== null) freedUse(this, 70); // Info, member
    if (this.info === null)
      this.info = {
        FileInformationClass: 0,
        FsInformationClass: 0,
        Buffer: null,
        Length: 0,
        LengthRemaining: 0,
        ReplaceIfExists: false,
      };
    return this.info;
  }

  get Create(): RX_CONTEXT_CREATE<X> {
    const made = this.create;
    return made !== null && this.afterFree === null ? made : this.makeCreate();
  }
  /** Create, made on first use; a freed context's use of it reported. */
  private makeCreate(): RX_CONTEXT_CREATE<X> {
    if (this.afterFree !== null) freedUse(this, 74); // Create, member
    if (this.create === null)
      this.create = {
        NtCreateParameters: {
          DesiredAccess: 0,
          AllocationSize: 0,
          FileAttributes: 0,
          ShareAccess: 0,
          Disposition: 0,
          CreateOptions: 0,
          EaBuffer: null,
        },
        RemainingName: "",
        CanonicalName: "",
        pSrvCall: null,
        pNetRoot: null,
        pVNetRoot: null,
        ReturnedCreateInformation: 0,
        UserName: null,
        Password: null,
        UserDomainName: null,
        TreeConnectOpenDeferred: false,
        FcbAcquired: false,
        ThisIsATreeConnectOpen: false,
      };
    return this.create;
  }

  get QueryDirectory(): RX_CONTEXT_QUERY_DIRECTORY {
    const made = this.queryDirectory;
    return made !== null && this.afterFree === null ? made : this.makeQueryDirectory();
  }
  /** QueryDirectory, made on first use; a freed context's use of it reported. */
  private makeQueryDirectory(): RX_CONTEXT_QUERY_DIRECTORY {
    if (this.afterFree !== null) freedUse(this, 78); // QueryDirectory, member
    if (this.queryDirectory === null)
      this.queryDirectory = {
        FileIndex: 0,
        RestartScan: false,
        ReturnSingleEntry: false,
        IndexSpecified: false,
        InitialQuery: false,
        Template: null,
      };
    return this.queryDirectory;
  }

  get NotifyChangeDirectory(): { pVNetRoot: V_NET_ROOT<X> | null } {
    const made = this.notifyChange;
    return made !== null && this.afterFree === null ? made : this.makeNotifyChangeDirectory();
  }
  /** NotifyChangeDirectory, made on first use; a freed context's use of it reported. */
  private makeNotifyChangeDirectory(): { pVNetRoot: V_NET_ROOT<X> | null } {
    if (this.afterFree !== null) freedUse(this, 82); // NotifyChangeDirectory, member
    if (this.notifyChange === null) this.notifyChange = { pVNetRoot: null };
    return this.notifyChange;
  }

  get PrefixClaim(): { SuppliedPathName: string } {
    const made = this.prefixClaim;
    return made !== null && this.afterFree === null ? made : this.makePrefixClaim();
  }
  /** PrefixClaim, made on first use; a freed context's use of it reported. */
  private makePrefixClaim(): { SuppliedPathName: string } {
    if (this.afterFree !== null) freedUse(this, 86); // PrefixClaim, member
    if (this.prefixClaim === null) this.prefixClaim = { SuppliedPathName: "" };
    return this.prefixClaim;
  }

  // StoredStatus and InformationToReturn are rxcontx.h's macros over IoStatusBlock: a freed context reports them as
  // a use of IoStatusBlock, through its accessor.
  get StoredStatus(): NTSTATUS {
    return this.IoStatusBlock.Status;
  }
  set StoredStatus(s: NTSTATUS) {
    this.IoStatusBlock.Status = s;
  }
  get InformationToReturn(): number {
    return this.IoStatusBlock.Information;
  }
  set InformationToReturn(n: number) {
    this.IoStatusBlock.Information = n;
  }

  label(): string {
    return `RX_CONTEXT#${this.SerialNumber}`;
  }

  /**
   * What the context is doing, for reports that name it (a wait on its SyncEvent, the owner pointer of its FCB
   * resource): "IRP_MJ_READ, LOWIO_OP_READ pended by MRxLowIOSubmit[LOWIO_OP_READ] [romrx], which has not called
   * RxLowIoCompletion". Built only when a report asks.
   */
  describeActivity(): string {
    // The slots, not the trapped accessors: a report may describe a context that is already freed.
    const irp = this.currentIrp === null ? "" : `${irpMajorName(this.majorFunction)}, `;
    const dev = (this.rxDeviceObject as { readonly MiniRdrName?: string } | null)?.MiniRdrName;
    const mini = dev === undefined ? "" : ` [${dev}]`;
    if (this.submittedToMiniRdr && !this.lowIoDone) {
      const operation = this.lowIoContext.Operation;
      const op = LOWIO_OP_NAMES[operation] ?? `LowIo operation ${operation}`;
      return `${irp}${op} pended by MRxLowIOSubmit[${op}]${mini}, which has not called RxLowIoCompletion`;
    }
    if (this.mrxLastCall !== null) return `${irp}last called ${this.mrxLastCall}${mini}`;
    return irp.slice(0, -2);
  }
}

// ---------------------------------------------------------------- two-phase construction

/** MRX_SRVCALL_CALLBACK_CONTEXT: one per mini-redirector asked to build the SRV_CALL. */
export interface MRX_SRVCALL_CALLBACK_CONTEXT<X extends MiniRdrExtensions = MiniRdrExtensions> {
  readonly SrvCalldownStructure: MRX_SRVCALLDOWN_STRUCTURE<X>;
  readonly CallbackContextOrdinal: number;
  readonly RxDeviceObject: unknown;
  /** The mini-redirector's result; initialised to STATUS_BAD_NETWORK_PATH. */
  Status: NTSTATUS;
  /** Handed back to MRxSrvCallWinnerNotify. */
  RecommunicateContext: unknown;
}

/** MRX_SRVCALLDOWN_STRUCTURE */
export interface MRX_SRVCALLDOWN_STRUCTURE<X extends MiniRdrExtensions = MiniRdrExtensions> {
  readonly FinishEvent: KEVENT;
  readonly SrvCall: SRV_CALL<X>;
  /** RDBSS's completion callback (RxCreateSrvCallCallBack): the mini-redirector calls it exactly once. */
  readonly CallBack: (context: MRX_SRVCALL_CALLBACK_CONTEXT<X>) => void;
  readonly RxContext: RX_CONTEXT<X>;
  NumberToWait: number;
  NumberRemaining: number;
  BestFinisher: unknown;
  BestFinisherOrdinal: number;
  readonly CallbackContexts: MRX_SRVCALL_CALLBACK_CONTEXT<X>[];
}

/** MRX_CREATENETROOT_CONTEXT */
export interface MRX_CREATENETROOT_CONTEXT<X extends MiniRdrExtensions = MiniRdrExtensions> {
  readonly pCreateContext: RX_CONTEXT<X>;
  readonly pVNetRoot: V_NET_ROOT<X>;
  readonly FinishEvent: KEVENT;
  VirtualNetRootStatus: NTSTATUS;
  NetRootStatus: NTSTATUS;
  /** RDBSS's callback (RxCreateNetRootCallBack): the mini-redirector calls it exactly once. */
  readonly Callback: (context: MRX_CREATENETROOT_CONTEXT<X>) => void;
}
