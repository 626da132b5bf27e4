/**
 * RX_CONTEXT (rxcontx.h) and the calldown structures of two-phase construction (mrx.h): the per-request
 * context RDBSS passes to every MRx routine, with its LowIo parameters, and the contexts of MRxCreateSrvCall
 * and MRxCreateVNetRoot.
 */
import type { IO_STACK_LOCATION, IRP } from "../io/index.js";
import type { KEVENT, KThread, NTSTATUS } from "../kernel/index.js";
import { NodeType } from "./constants.js";
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
  readonly ParamsFor: {
    ReadWrite: LOWIO_READWRITE_PARAMS;
    Locks: LOWIO_LOCK_PARAMS;
    FsCtl: LOWIO_FSCTL_PARAMS;
    IoCtl: LOWIO_FSCTL_PARAMS;
    NotifyChangeDirectory: LOWIO_NOTIFY_PARAMS;
  } = {
    ReadWrite: { Flags: 0, Buffer: null, ByteOffset: 0, ByteCount: 0, Key: 0 },
    Locks: { ByteOffset: 0, Length: 0, Key: 0, Flags: 0, LockList: [] },
    FsCtl: {
      FsControlCode: 0,
      InputBufferLength: 0,
      pInputBuffer: null,
      OutputBufferLength: 0,
      pOutputBuffer: null,
      MinorFunction: 0,
    },
    IoCtl: {
      FsControlCode: 0,
      InputBufferLength: 0,
      pInputBuffer: null,
      OutputBufferLength: 0,
      pOutputBuffer: null,
      MinorFunction: 0,
    },
    NotifyChangeDirectory: {
      WatchTree: false,
      CompletionFilter: 0,
      NotificationBufferLength: 0,
      pNotificationBuffer: null,
    },
  };
}

/** NtCreateFile's parameters as RDBSS captures them (NT_CREATE_PARAMETERS). */
export interface NT_CREATE_PARAMETERS {
  DesiredAccess: number;
  AllocationSize: number;
  FileAttributes: number;
  ShareAccess: number;
  Disposition: number;
  CreateOptions: number;
  EaBuffer: readonly { EaName: string; EaValue: Uint8Array }[] | null;
}

export class RX_CONTEXT<X extends MiniRdrExtensions = MiniRdrExtensions> {
  readonly NodeTypeCode = NodeType.RDBSS_NTC_RX_CONTEXT;
  ReferenceCount = 1;
  readonly SerialNumber: number;
  MajorFunction = 0;
  MinorFunction = 0;
  CurrentIrp: IRP | null = null;
  CurrentIrpSp: IO_STACK_LOCATION | null = null;
  pFcb: FCB<X> | null = null;
  pFobx: FOBX<X> | null = null;
  pRelevantSrvOpen: SRV_OPEN<X> | null = null;
  /** The RDBSS device object of the mini-redirector. */
  RxDeviceObject: unknown;
  OriginalThread: KThread | null = null;
  LastExecutionThread: KThread | null = null;
  Flags = 0;
  /** IoStatusBlock: StoredStatus / InformationToReturn alias its fields. */
  readonly IoStatusBlock = { Status: 0, Information: 0 };
  /** Scratch space for the mini-redirector; zeroed before every MINIRDR_CALL. */
  readonly MRxContext: unknown[] = [null, null, null, null];
  MRxCancelRoutine: MRX_CALLDOWN_CANCEL | null = null;
  /** The common routine to re-run when the context is posted or resumed. */
  ResumeRoutine: ((ctx: RX_CONTEXT) => Promise<NTSTATUS>) | null = null;
  SyncEvent: KEVENT;
  /** Set by the mini-redirector to ask RDBSS to re-run the request in the file-system process. */
  PostRequest = false;
  PendingReturned = false;
  /** Query / set information. */
  readonly Info = {
    FileInformationClass: 0,
    FsInformationClass: 0,
    Buffer: null as Uint8Array | null,
    Length: 0,
    LengthRemaining: 0,
    ReplaceIfExists: false,
  };
  readonly Create: {
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
  } = {
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
  readonly QueryDirectory = {
    FileIndex: 0,
    RestartScan: false,
    ReturnSingleEntry: false,
    IndexSpecified: false,
    InitialQuery: false,
    Template: null as string | null,
  };
  readonly NotifyChangeDirectory: { pVNetRoot: V_NET_ROOT<X> | null } = { pVNetRoot: null };
  readonly PrefixClaim = { SuppliedPathName: "" };
  readonly LowIoContext = new LOWIO_CONTEXT();
  /** The emulator's bookkeeping: the IRP was completed (RxCompleteRequest ran). */
  completed = false;
  /** The current LowIo operation has completed (RxLowIoCompletion ran, or the submit returned a final status). */
  lowIoDone = false;
  /** MRxLowIOSubmit has been called for the current operation (the mini-redirector owns it until it completes). */
  submittedToMiniRdr = false;
  /** RDBSS called the mini-redirector's cancel routine for this context. */
  cancelRoutineCalled = false;
  /** Free slot for the mini-redirector (e.g. its transport request). */
  MRxContextPointer: unknown = null;

  constructor(serialNumber: number, device: unknown, event: KEVENT) {
    this.SerialNumber = serialNumber;
    this.RxDeviceObject = device;
    this.SyncEvent = event;
  }

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
