/**
 * MINIRDR_DISPATCH (mrx.h): the table a mini-redirector registers with RxRegisterMinirdr. Entries RDBSS calls
 * without a NULL check are required by the type; the rest are optional. Entries RDBSS never calls
 * (MRxCancel, the print-file and time-out entries, MRxUpdateNetRootState …) are rejected at registration.
 *
 * Every entry may be synchronous or return a promise (a mini-redirector waits on its transport). Extension
 * state is created by factories (`MRxFcbExtension` …) rather than sized allocations.
 */
import type { MaybePromise, NTSTATUS } from "../kernel/index.js";
import type {
  MRX_CALLDOWN_CANCEL,
  MRX_CREATENETROOT_CONTEXT,
  MRX_SRVCALL_CALLBACK_CONTEXT,
  RX_CONTEXT,
} from "./context.js";
import type {
  MiniRdrExtensions,
  MRX_FCB,
  MRX_FOBX,
  MRX_NET_ROOT,
  MRX_SRV_CALL,
  MRX_SRV_OPEN,
  MRX_V_NET_ROOT,
} from "./structs.js";

export type { MaybePromise } from "../kernel/index.js";

type Ctx<X extends MiniRdrExtensions> = RX_CONTEXT<X>;

export type MRX_CALLDOWN<X extends MiniRdrExtensions> = (RxContext: Ctx<X>) => MaybePromise<NTSTATUS>;

/** MRxExtractNetRootName's result: the NET_ROOT name ("\server\share") and the rest of the path. */
export interface ExtractedNetRootName {
  readonly NetRootName: string;
  readonly RestOfName: string;
}

export interface MINIRDR_DISPATCH<X extends MiniRdrExtensions = MiniRdrExtensions> {
  /** RDBSS_MANAGE_*_EXTENSION bits and RDBSS_NO_DEFERRED_CACHE_READAHEAD. */
  readonly MRxFlags: number;
  /** Factories for the extensions RDBSS manages (placed at Context). */
  readonly MRxSrvCallExtension?: () => X["SrvCall"];
  readonly MRxNetRootExtension?: () => X["NetRoot"];
  readonly MRxVNetRootExtension?: () => X["VNetRoot"];
  readonly MRxFcbExtension?: () => X["Fcb"];
  readonly MRxSrvOpenExtension?: () => X["SrvOpen"];
  readonly MRxFobxExtension?: () => X["Fobx"];
  /** Seconds before the scavenger finalizes dormant objects (0 → 10 s). */
  readonly ScavengerTimeout?: number;

  // ---- start / stop / control plane
  MRxStart(RxContext: Ctx<X>, RxDeviceObject: unknown): MaybePromise<NTSTATUS>;
  MRxStop(RxContext: Ctx<X>, RxDeviceObject: unknown): MaybePromise<NTSTATUS>;
  /** IOCTLs and FSCTLs on the device FCB: the mini-redirector's control plane. Called without a NULL check. */
  MRxDevFcbXXXControlFile: MRX_CALLDOWN<X>;

  // ---- connection engine
  /** Must return STATUS_PENDING and call the callback exactly once (on success and on failure). */
  MRxCreateSrvCall(SrvCall: MRX_SRV_CALL<X>, CallbackContext: MRX_SRVCALL_CALLBACK_CONTEXT<X>): MaybePromise<NTSTATUS>;
  MRxSrvCallWinnerNotify?(
    SrvCall: MRX_SRV_CALL<X>,
    ThisMinirdrIsTheWinner: boolean,
    RecommunicateContext: unknown,
  ): MaybePromise<NTSTATUS>;
  /** Must return STATUS_PENDING, set NetRootStatus / VirtualNetRootStatus and call the callback exactly once. */
  MRxCreateVNetRoot(CreateNetRootContext: MRX_CREATENETROOT_CONTEXT<X>): MaybePromise<NTSTATUS>;
  /** Pure parsing of "\server\share\rest" into the NET_ROOT name and the rest. Called without a NULL check. */
  MRxExtractNetRootName(FilePathName: string, SrvCall: MRX_SRV_CALL<X>): ExtractedNetRootName;
  /** Close the server connection and clear Context / Context2. Return value ignored. */
  MRxFinalizeSrvCall?(SrvCall: MRX_SRV_CALL<X>, Force: boolean): MaybePromise<NTSTATUS>;
  /** `ForceDisconnect` is a PBOOLEAN that RDBSS passes as NULL: do not rely on it. */
  MRxFinalizeNetRoot?(NetRoot: MRX_NET_ROOT<X>, ForceDisconnect: null): MaybePromise<NTSTATUS>;
  MRxFinalizeVNetRoot?(VNetRoot: MRX_V_NET_ROOT<X>, ForceDisconnect: null): MaybePromise<NTSTATUS>;
  MRxPreparseName?(RxContext: Ctx<X>, Name: string): MaybePromise<NTSTATUS>;
  /** Must succeed or return STATUS_NOT_IMPLEMENTED. */
  MRxGetConnectionId?(RxContext: Ctx<X>): MaybePromise<{ Status: NTSTATUS; ConnectionId: string }>;

  // ---- file objects
  MRxCreate: MRX_CALLDOWN<X>;
  MRxCollapseOpen?: MRX_CALLDOWN<X>;
  /** Called without a NULL check on OPEN / OPEN_IF creates when collapsing is possible. */
  MRxShouldTryToCollapseThisOpen?: MRX_CALLDOWN<X>;
  MRxFlush?: MRX_CALLDOWN<X>;
  MRxZeroExtend?: MRX_CALLDOWN<X>;
  MRxTruncate?: MRX_CALLDOWN<X>;
  MRxCleanupFobx?: MRX_CALLDOWN<X>;
  MRxCloseSrvOpen?: MRX_CALLDOWN<X>;
  /** Called unconditionally at the final FCB free: release private FCB state, clear fMiniInited. */
  MRxDeallocateForFcb(Fcb: MRX_FCB<X>): MaybePromise<NTSTATUS>;
  MRxDeallocateForFobx?(Fobx: MRX_FOBX<X>): MaybePromise<NTSTATUS>;
  MRxIsLockRealizable?(
    Fcb: MRX_FCB<X>,
    ByteOffset: number,
    Length: number,
    LowIoLockFlags: number,
  ): MaybePromise<NTSTATUS>;
  MRxForceClosed?(SrvOpen: MRX_SRV_OPEN<X>): MaybePromise<NTSTATUS>;
  /** STATUS_SUCCESS = not aliased; STATUS_MORE_PROCESSING_REQUIRED = aliased. */
  MRxAreFilesAliased?(Fcb1: MRX_FCB<X>, Fcb2: MRX_FCB<X>): MaybePromise<NTSTATUS>;

  // ---- queries and sets
  MRxQueryDirectory?: MRX_CALLDOWN<X>;
  MRxQueryFileInfo?: MRX_CALLDOWN<X>;
  MRxSetFileInfo?: MRX_CALLDOWN<X>;
  MRxSetFileInfoAtCleanup?: MRX_CALLDOWN<X>;
  MRxQueryEaInfo?: MRX_CALLDOWN<X>;
  MRxSetEaInfo?: MRX_CALLDOWN<X>;
  MRxQuerySdInfo?: MRX_CALLDOWN<X>;
  MRxSetSdInfo?: MRX_CALLDOWN<X>;
  MRxQueryQuotaInfo?: MRX_CALLDOWN<X>;
  MRxSetQuotaInfo?: MRX_CALLDOWN<X>;
  MRxQueryVolumeInfo?: MRX_CALLDOWN<X>;
  MRxSetVolumeInfo?: MRX_CALLDOWN<X>;
  /** STATUS_BAD_NETWORK_PATH when the directory of a tree connect is missing. */
  MRxIsValidDirectory?(RxContext: Ctx<X>, DirectoryName: string): MaybePromise<NTSTATUS>;
  MRxComputeNewBufferingState?(SrvOpen: MRX_SRV_OPEN<X>, MRxContext: unknown): MaybePromise<NTSTATUS>;
  MRxCompleteBufferingStateChangeRequest?(
    RxContext: Ctx<X>,
    SrvOpen: MRX_SRV_OPEN<X>,
    MRxContext: unknown,
  ): MaybePromise<NTSTATUS>;
  MRxExtendForCache?(RxContext: Ctx<X>, NewFileSize: number): MaybePromise<NTSTATUS>;
  MRxExtendForNonCache?(RxContext: Ctx<X>, NewFileSize: number): MaybePromise<NTSTATUS>;

  /** MRxLowIOSubmit[LOWIO_OP_*]: may return STATUS_PENDING and complete later through RxLowIoCompletion. */
  readonly MRxLowIOSubmit: readonly (MRX_CALLDOWN<X> | null | undefined)[];

  /** A cancel routine type, for mini-redirectors to name theirs. */
  readonly __cancelRoutineType?: MRX_CALLDOWN_CANCEL;
}

/** Entries RDBSS never calls (§3 "never"): a dispatch that sets them is rejected by RxRegisterMinirdr. */
export const NEVER_CALLED_ENTRIES = [
  "MRxCancel",
  "MRxOpenPrintFile",
  "MRxClosePrintFile",
  "MRxWritePrintFile",
  "MRxEnumeratePrintQueue",
  "MRxClosedSrvOpenTimeOut",
  "MRxClosedFcbTimeOut",
  "MRxCancelCreateSrvCall",
  "MRxUpdateNetRootState",
] as const;

/** Entries RDBSS calls without a NULL check (the ReactOS "mandatory" set plus the ones every path needs). */
export const REQUIRED_ENTRIES = [
  "MRxStart",
  "MRxStop",
  "MRxDevFcbXXXControlFile",
  "MRxCreateSrvCall",
  "MRxCreateVNetRoot",
  "MRxExtractNetRootName",
  "MRxCreate",
  "MRxDeallocateForFcb",
] as const;

export interface DispatchValidation {
  readonly errors: string[];
  readonly warnings: string[];
}

/**
 * Check a dispatch table the way RxRegisterMinirdr does: required entries present and callable, no
 * never-called entries, extension factories for every RDBSS_MANAGE_* bit, LowIo array well formed.
 */
export function validateDispatch(dispatch: unknown): DispatchValidation {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (typeof dispatch !== "object" || dispatch === null) {
    return { errors: ["the dispatch table is not an object"], warnings };
  }
  const d = dispatch as Record<string, unknown>;
  for (const name of REQUIRED_ENTRIES) {
    if (typeof d[name] !== "function")
      errors.push(`${name} is required (RDBSS calls it without a NULL check) but is missing`);
  }
  for (const name of NEVER_CALLED_ENTRIES) {
    if (d[name] !== undefined && d[name] !== null)
      errors.push(`${name} is set, but RDBSS never calls it: set it to NULL`);
  }
  if (typeof d.MRxFlags !== "number") errors.push("MRxFlags must be a number (RDBSS_MANAGE_* bits)");
  const flags = typeof d.MRxFlags === "number" ? d.MRxFlags : 0;
  const managed: [number, string][] = [
    [0x1, "MRxSrvCallExtension"],
    [0x2, "MRxNetRootExtension"],
    [0x4, "MRxVNetRootExtension"],
    [0x8, "MRxFcbExtension"],
    [0x10, "MRxSrvOpenExtension"],
    [0x20, "MRxFobxExtension"],
  ];
  for (const [bit, name] of managed) {
    if (flags & bit && typeof d[name] !== "function") {
      errors.push(`MRxFlags asks RDBSS to manage an extension (0x${bit.toString(16)}) but ${name} is not a factory`);
    }
    if (!(flags & bit) && d[name] !== undefined) {
      warnings.push(`${name} is given but MRxFlags does not set bit 0x${bit.toString(16)}: RDBSS will not use it`);
    }
  }
  const lowio = d.MRxLowIOSubmit;
  if (!Array.isArray(lowio)) errors.push("MRxLowIOSubmit must be an array indexed by LOWIO_OP_*");
  else {
    if (lowio.length > 10) errors.push(`MRxLowIOSubmit has ${lowio.length} entries; LOWIO_OP_MAXIMUM + 1 is 10`);
    if (lowio[9] !== undefined && lowio[9] !== null)
      errors.push("MRxLowIOSubmit[LOWIO_OP_CLEAROUT] is set, but RDBSS never calls it");
    lowio.forEach((e: unknown, i: number) => {
      if (e !== undefined && e !== null && typeof e !== "function")
        errors.push(`MRxLowIOSubmit[${i}] is not a function`);
    });
  }
  if (typeof d.MRxShouldTryToCollapseThisOpen !== "function") {
    warnings.push("MRxShouldTryToCollapseThisOpen is missing: RDBSS will never collapse opens onto existing SRV_OPENs");
  }
  if (typeof d.ScavengerTimeout === "number" && d.ScavengerTimeout < 0) errors.push("ScavengerTimeout must be ≥ 0");
  return { errors, warnings };
}
