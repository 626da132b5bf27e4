/**
 * RDBSS's file-system dispatch: the FSD entry with its gates, RX_CONTEXT lifetime, posting to the file-system
 * process (FSP), the IRP cancel routine, LowIo, and the common routines of every IRP major function
 * (../shared/reference/rdbss-semantics.md §4 and §5).
 */

import type { IoManager } from "../io/index.js";
import {
  type DriverCancel,
  FILE_CREATE,
  FILE_CREATE_TREE_CONNECTION,
  FILE_DELETE_ON_CLOSE,
  FILE_DIRECTORY_FILE,
  FILE_INFORMATION_CLASS,
  FILE_NON_DIRECTORY_FILE,
  type FILE_OBJECT,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OPENED,
  FO_CLEANUP_COMPLETE,
  FO_SYNCHRONOUS_IO,
  type IO_STACK_LOCATION,
  IOCTL_REDIR_QUERY_PATH,
  type IRP,
  IRP_MJ,
  IRP_MJ_NAMES,
  IRP_MN_LOCK,
  IRP_MN_NOTIFY_CHANGE_DIRECTORY,
  IRP_MN_QUERY_DIRECTORY,
  IRP_MN_UNLOCK_ALL,
  IRP_MN_UNLOCK_SINGLE,
  IRP_SYNCHRONOUS_API,
  METHOD_BUFFERED,
  METHOD_FROM_CTL_CODE,
  METHOD_NEITHER,
  type QUERY_PATH_REQUEST,
  type QUERY_PATH_RESPONSE,
  SL_EXCLUSIVE_LOCK,
  SL_FAIL_IMMEDIATELY,
  SL_INDEX_SPECIFIED,
  SL_RESTART_SCAN,
  SL_RETURN_SINGLE_ENTRY,
  SL_WATCH_TREE,
} from "../io/index.js";
import {
  APC_LEVEL,
  BUGCHECK,
  DISPATCH_LEVEL,
  describeWitness,
  KEVENT,
  type Kernel,
  type KThread,
  NT_SUCCESS,
  type NTSTATUS,
  RDBSS_BUG_CHECK,
  STATUS,
  statusName,
  WorkQueueType,
} from "../kernel/index.js";
import { CreateNetRootContext, SrvCallCallbackContext, SrvCalldownStructure } from "./calldown.js";
import {
  Condition,
  CREATE_INFORMATION_CANARY,
  FCB_STATE,
  FOBX_FLAG,
  LOWIO_CONTEXT_FLAG,
  type LOWIO_OP,
  LOWIO_OP_NAMES,
  LockHoldingState,
  LowIoOp,
  NodeType,
  NodeTypeIsFcb,
  RdbssState,
  RX_CONTEXT_FLAG,
  SRVOPEN_FLAG,
  StableCondition,
} from "./constants.js";
import {
  type MRX_CREATENETROOT_CONTEXT,
  type MRX_SRVCALL_CALLBACK_CONTEXT,
  type MRX_SRVCALLDOWN_STRUCTURE,
  RX_CONTEXT,
} from "./context.js";
import { type RDBSS_DEVICE_OBJECT, RX_DEVICE_FCB } from "./device.js";
import type { MaybePromise } from "./dispatch.js";
import { processLogonId, processSessionId, RDBSS_ASSERT, type Rdbss } from "./rdbss.js";
import { FCB, FOBX, type NET_ROOT, type RxNode, type SRV_CALL, type SRV_OPEN, V_NET_ROOT } from "./structs.js";

const S = STATUS;
const {
  FilePositionInformation,
  FileModeInformation,
  FileAlignmentInformation,
  FileNameInformation,
  FileDispositionInformation,
  FileDispositionInformationEx,
  FileRenameInformation,
  FileEndOfFileInformation,
  FileAllocationInformation,
} = FILE_INFORMATION_CLASS;

/** LOWIO lock flags. */
const LOWIO_LOCKSFLAG_FAIL_IMMEDIATELY = 0x1;
const LOWIO_LOCKSFLAG_EXCLUSIVELOCK = 0x2;

/** How long RDBSS waits for a two-phase construction callback before it reports the contract broken. */
const CONSTRUCTION_TIMEOUT = -60 * 10_000_000;

type CommonRoutine = (ctx: RX_CONTEXT) => MaybePromise<NTSTATUS>;

/** "MRxLowIOSubmit[LOWIO_OP_READ]" … built once per operation (the MRx call's name, a Map key on every call). */
const LOWIO_SUBMIT_NAMES: string[] = [];

/**
 * The MRx call of RxLowIoSubmit, a function of the context rather than a closure per request (a new closure's first
 * call goes through V8's CompileLazy builtin: docs/PERFORMANCE.md, eighteenth pass). MRxLowIOSubmit[op] is read from
 * the dispatch table again when the call is made, after callMRx's scheduling point; lowIoSubmit made MINIRDR_CALL's
 * NULL check before it (a dispatch table is registered once and not changed while the mini-redirector runs). A second
 * check here was counted: + 2 % instructions per nulmrx read, for a case no driver makes.
 */
function submitToMiniRdr(ctx: RX_CONTEXT): MaybePromise<NTSTATUS> {
  ctx.submittedToMiniRdr = true;
  const table = (ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT).Dispatch.MRxLowIOSubmit;
  return (table[ctx.LowIoContext.Operation] as (c: RX_CONTEXT) => MaybePromise<NTSTATUS>).call(table, ctx);
}

export class RdbssFsd {
  readonly rx: Rdbss;
  /** Per-object transition events (RxWaitForStableCondition). */
  private readonly transitions = new WeakMap<RxNode, KEVENT>();
  /** The common routine of each major function, made once (not a new closure per IRP). */
  private readonly commonRoutines: (CommonRoutine | undefined)[] = [];

  /** The cancel routine of every IRP RxFsdDispatch holds: its RX_CONTEXT is in Tail.Overlay.DriverContext[0]. */
  private readonly cancelIrp: DriverCancel;

  constructor(rx: Rdbss) {
    this.rx = rx;
    // Through a local (see KernelCore.createThread on V8 pretenuring closures assigned straight to a property).
    const cancelIrp: DriverCancel = (_device, irp) => this.cancelRoutine(irp, irp.DriverContext[0] as RX_CONTEXT);
    this.cancelIrp = cancelIrp;
  }

  private get io(): IoManager {
    return this.rx.sys.io;
  }
  private get k(): Kernel {
    return this.rx.k;
  }

  // ================================================================== the FSD entry

  /**
   * RxFsdDispatch: every IRP to a mini-redirector's device arrives here (FsRtlEnterFileSystem … the common routine,
   * with the context as the thread's current RX_CONTEXT … FsRtlExitFileSystem), in one async frame.
   */
  dispatch(dev: RDBSS_DEVICE_OBJECT, irp: IRP): MaybePromise<NTSTATUS> {
    // Synchronous while the common routine is: only a routine that waits gets an async frame (dispatchWait), a small
    // one, since an async function's frame holds every register of its body and is copied at each await.
    const k = this.k;
    k.FsRtlEnterFileSystem();
    let t: KThread | null = null;
    let ctx: RX_CONTEXT | null = null;
    let common: CommonRoutine | undefined;
    let prev: unknown = null;
    let r: MaybePromise<NTSTATUS>;
    try {
      const io = this.io;
      const sp = io.IoGetCurrentIrpStackLocation(irp);
      const major = sp.MajorFunction;
      const fo = sp.FileObject;
      const state = dev.StartStopContext.State;
      const gate = this.gate(dev, sp, fo, state);
      if (gate !== null) {
        // Early rejects are completed with the IRP marked pending, and STATUS_PENDING is returned.
        io.IoMarkIrpPending(irp);
        irp.IoStatus.Status = gate;
        irp.IoStatus.Information = 0;
        io.IoCompleteRequest(irp);
        r = S.STATUS_PENDING;
      } else if (
        // Fault site RxCreateRxContext: RxFsdCommonDispatch completes the IRP with STATUS_INSUFFICIENT_RESOURCES.
        // CLEANUP and CLOSE are not consulted: the I/O manager cannot fail them (the FCB would be stranded).
        k.faults !== null &&
        major !== IRP_MJ.IRP_MJ_CLEANUP &&
        major !== IRP_MJ.IRP_MJ_CLOSE &&
        k.faults.hit("RxCreateRxContext", `IRP#${irp.id} ${IRP_MJ_NAMES[major] ?? major}`) !== null
      ) {
        irp.IoStatus.Status = S.STATUS_INSUFFICIENT_RESOURCES;
        irp.IoStatus.Information = 0;
        io.IoCompleteRequest(irp);
        r = S.STATUS_INSUFFICIENT_RESOURCES;
      } else {
        ctx = this.createContext(dev, irp, sp);
        common = this.commonRoutines[major];
        if (common === undefined) {
          common = this.commonRoutine(major);
          this.commonRoutines[major] = common;
        }
        ctx.ResumeRoutine = common;
        if (major !== IRP_MJ.IRP_MJ_CLEANUP && major !== IRP_MJ.IRP_MJ_CLOSE) {
          // The IRP's cancel routine finds its RX_CONTEXT in the IRP (Tail.Overlay.DriverContext[0]): one routine
          // for every IRP, no closure per IRP. (An IRP → RX_CONTEXT WeakMap, as before that, made V8's scavenger keep
          // every IRP and context alive into the old generation.)
          irp.DriverContext[0] = ctx;
          io.IoSetCancelRoutine(irp, this.cancelIrp);
          if (irp.Cancel && io.IoSetCancelRoutine(irp, null) !== null) {
            ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED;
          }
        }
        ctx.PendingReturned = true;
        // The context is the thread's current RX_CONTEXT while the common routine runs (runOnThread, inlined: no
        // continuation closures per IRP).
        t = k.thread("RxFsdDispatch");
        prev = t.TopLevelIrp;
        ctx.LastExecutionThread = t;
        t.TopLevelIrp = ctx;
        r = common(ctx);
        while (r === S.STATUS_RETRY) {
          t.TopLevelIrp = ctx;
          r = common(ctx);
        }
      }
      if (typeof r !== "number")
        return this.dispatchWait(ctx as RX_CONTEXT, t as KThread, prev, common as CommonRoutine, r);
      if (t !== null) t.TopLevelIrp = prev;
      const status = ctx === null ? r : this.dispatchDone(ctx, r);
      if (k.stopped === null) k.FsRtlExitFileSystem();
      return status;
    } catch (e) {
      if (t !== null) t.TopLevelIrp = prev;
      if (k.stopped === null) k.FsRtlExitFileSystem();
      throw e;
    }
  }

  /** RxFsdDispatch once its common routine waits: the rest of `dispatch`, in a frame of its own. */
  private async dispatchWait(
    ctx: RX_CONTEXT,
    t: KThread,
    prev: unknown,
    common: CommonRoutine,
    pending: Promise<NTSTATUS>,
  ): Promise<NTSTATUS> {
    try {
      let status = this.settleLowIo(ctx, await pending);
      while (status === S.STATUS_RETRY) {
        t.TopLevelIrp = ctx;
        const r = common(ctx);
        status = typeof r === "number" ? r : this.settleLowIo(ctx, await r);
      }
      t.TopLevelIrp = prev;
      return this.dispatchDone(ctx, status);
    } finally {
      t.TopLevelIrp = prev;
      if (this.k.stopped === null) this.k.FsRtlExitFileSystem();
    }
  }

  /** The common routine returned `status` (not STATUS_RETRY): complete the IRP unless it pended; drop the context. */
  private dispatchDone(ctx: RX_CONTEXT, status: NTSTATUS): NTSTATUS {
    if (status === S.STATUS_PENDING) {
      this.dereferenceContext(ctx);
      return S.STATUS_PENDING;
    }
    ctx.PendingReturned = false;
    this.completeRequest(ctx, status);
    this.dereferenceContext(ctx);
    return status;
  }

  /** The FSD gates of RxFsdDispatch / RxFsdCommonDispatch. Null when the IRP may proceed. */
  private gate(
    _dev: RDBSS_DEVICE_OBJECT,
    sp: IO_STACK_LOCATION,
    fo: FILE_OBJECT | null,
    state: number,
  ): NTSTATUS | null {
    const major = sp.MajorFunction;
    if (major === IRP_MJ.IRP_MJ_CREATE_MAILSLOT || major === IRP_MJ.IRP_MJ_CREATE_NAMED_PIPE)
      return S.STATUS_OBJECT_NAME_INVALID;
    // MUP's IOCTL_REDIR_QUERY_PATH comes with no file object: it is device traffic (the prefix claim).
    if (
      major === IRP_MJ.IRP_MJ_DEVICE_CONTROL &&
      fo === null &&
      sp.Parameters.IoControlCode === IOCTL_REDIR_QUERY_PATH
    ) {
      return state === RdbssState.RDBSS_STARTED ? null : S.STATUS_REDIRECTOR_NOT_STARTED;
    }
    if (major !== IRP_MJ.IRP_MJ_CREATE && (fo === null || fo.FsContext === null))
      return S.STATUS_INVALID_DEVICE_REQUEST;
    const isCleanupOrClose = major === IRP_MJ.IRP_MJ_CLEANUP || major === IRP_MJ.IRP_MJ_CLOSE;
    const deviceTraffic =
      fo !== null &&
      (fo.FsContext instanceof RX_DEVICE_FCB ||
        (major === IRP_MJ.IRP_MJ_CREATE && fo.FileName === "" && fo.RelatedFileObject === null));
    if (state === RdbssState.RDBSS_STARTABLE && !deviceTraffic && !isCleanupOrClose)
      return S.STATUS_REDIRECTOR_NOT_STARTED;
    if (state === RdbssState.RDBSS_STOP_IN_PROGRESS && !isCleanupOrClose) return S.STATUS_REDIRECTOR_NOT_STARTED;
    if (!isCleanupOrClose && fo?.FsContext instanceof FCB) {
      const fcb = fo.FsContext;
      const fobx = fo.FsContext2 instanceof FOBX ? fo.FsContext2 : null;
      if (
        fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED ||
        (fobx && fobx.pSrvOpen.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_ORPHANED)
      ) {
        return S.STATUS_UNEXPECTED_NETWORK_ERROR;
      }
    }
    return null;
  }

  /** RxCreateRxContext + RxInitializeContext. */
  createContext(dev: RDBSS_DEVICE_OBJECT, irp: IRP | null, sp: IO_STACK_LOCATION | null): RX_CONTEXT {
    const ctx = new RX_CONTEXT(this.rx.newContextSerial(), dev);
    ctx.OriginalThread = this.k.current;
    ctx.CurrentIrp = irp;
    ctx.CurrentIrpSp = sp;
    if (irp && sp) {
      ctx.MajorFunction = sp.MajorFunction;
      ctx.MinorFunction = sp.MinorFunction;
      const fo = sp.FileObject;
      const synchronous =
        sp.MajorFunction === IRP_MJ.IRP_MJ_CREATE ||
        (irp.Flags & IRP_SYNCHRONOUS_API) !== 0 ||
        (fo !== null && (fo.Flags & FO_SYNCHRONOUS_IO) !== 0) ||
        sp.MajorFunction === IRP_MJ.IRP_MJ_CLEANUP ||
        sp.MajorFunction === IRP_MJ.IRP_MJ_CLOSE;
      if (synchronous) ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT;
      const notify =
        sp.MajorFunction === IRP_MJ.IRP_MJ_DIRECTORY_CONTROL && sp.MinorFunction === IRP_MN_NOTIFY_CHANGE_DIRECTORY;
      if (!synchronous || notify || sp.MajorFunction === IRP_MJ.IRP_MJ_DEVICE_CONTROL) {
        ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_ASYNC_OPERATION;
      }
      if (notify) ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT;
      if (fo?.FsContext instanceof FCB) {
        ctx.pFcb = fo.FsContext;
        ctx.pFobx = fo.FsContext2 instanceof FOBX ? fo.FsContext2 : null;
        ctx.pRelevantSrvOpen = ctx.pFobx?.pSrvOpen ?? null;
        if (notify) ctx.NotifyChangeDirectory.pVNetRoot = fo.FsContext.VNetRoot;
      } else if (fo?.FsContext2 instanceof V_NET_ROOT && notify) {
        ctx.NotifyChangeDirectory.pVNetRoot = fo.FsContext2;
      }
    }
    this.rx.ActiveContexts.add(ctx);
    dev.NumberOfActiveContexts++;
    return ctx;
  }

  /** RxDereferenceAndDeleteRxContext: at 0 the context leaves the active list; the last one wakes a waiting stop. */
  dereferenceContext(ctx: RX_CONTEXT): void {
    if (--ctx.ReferenceCount > 0) return;
    if (!this.rx.ActiveContexts.delete(ctx)) return;
    const k = this.k;
    ctx.freedThread = k.current?.name ?? "(no thread)";
    ctx.freedTime = k.now;
    ctx.freedStep = k.stepLabel;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    dev.NumberOfActiveContexts--;
    const stop = dev.StartStopContext.pStopContext;
    if (stop && stop !== ctx && dev.NumberOfActiveContexts <= 1) this.k.KeSetEvent(stop.SyncEvent);
    // From here on, a driver's use of its fields is a use after free (null when the check is off).
    ctx.afterFree = this.rx.verifier.contextAfterFree;
  }

  /**
   * Run a common routine with the context set as the thread's current RX_CONTEXT (restored when it returns, or when
   * its promise settles). Synchronous when the routine is.
   */
  private runOnThread(t: KThread, ctx: RX_CONTEXT, routine: CommonRoutine): MaybePromise<NTSTATUS> {
    const prev = t.TopLevelIrp;
    t.TopLevelIrp = ctx;
    ctx.LastExecutionThread = t;
    let r: MaybePromise<NTSTATUS>;
    try {
      r = routine(ctx);
    } catch (e) {
      t.TopLevelIrp = prev;
      throw e;
    }
    if (typeof r === "number") {
      t.TopLevelIrp = prev;
      return r;
    }
    return r.then(
      (st) => {
        const final = this.settleLowIo(ctx, st);
        t.TopLevelIrp = prev;
        return final;
      },
      (e: unknown) => {
        t.TopLevelIrp = prev;
        throw e;
      },
    );
  }

  /** RxCompleteRequest: clear the cancel routine, complete the IRP with the status and InformationToReturn. */
  completeRequest(ctx: RX_CONTEXT, status: NTSTATUS): void {
    if (ctx.completed) {
      // RDBSS's own look at a context that may be freed already: not the driver's.
      const [done, major, first] = this.rx.verifier.look(
        () => [ctx.CurrentIrp, ctx.MajorFunction, this.firstCompletionText(ctx)] as const,
      );
      this.k.bugCheck(
        BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS,
        [done ? this.k.addressOf(done) : 0n, this.k.addressOf(ctx), 0n, 0n],
        `${ctx.label()} (${IRP_MJ_NAMES[major] ?? major}) was completed twice: the mini-redirector completed the same request twice (for example from its completion path and from its cancel routine without disarming it with RxSetMinirdrCancelRoutine(RxContext, NULL)).${first}`,
      );
    }
    const irp = ctx.CurrentIrp;
    ctx.completed = true;
    const iosb = ctx.IoStatusBlock;
    iosb.Status = status;
    if (irp === null) {
      // With an IRP, IoCompleteRequest records who completed it (IRP.completion); without one, RDBSS does.
      ctx.completion = this.k.witness(this.k.current as KThread);
      return;
    }
    this.io.IoSetCancelRoutine(irp, null);
    irp.IoStatus.Status = status;
    irp.IoStatus.Information = NT_SUCCESS(status) || status === S.STATUS_BUFFER_OVERFLOW ? iosb.Information : 0;
    this.io.IoCompleteRequest(irp);
  }

  /** RxFsdPostRequest: mark the IRP pending and run the common routine again on an RDBSS worker (the FSP). */
  postRequest(ctx: RX_CONTEXT): NTSTATUS {
    const irp = ctx.CurrentIrp;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    if (irp && !(ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_NO_PREPOSTING_NEEDED)) this.io.IoMarkIrpPending(irp);
    ctx.ReferenceCount++;
    ctx.PostRequest = false;
    const queue =
      ctx.CurrentIrpSp?.Parameters.IoControlCode === IOCTL_REDIR_QUERY_PATH
        ? WorkQueueType.DelayedWorkQueue
        : WorkQueueType.CriticalWorkQueue;
    const st = this.rx.postToWorker(dev, queue, () => this.fspDispatch(ctx), ctx, `RxFspDispatch ${ctx.label()}`);
    if (!NT_SUCCESS(st)) {
      ctx.ReferenceCount--;
      // The IRP is already marked pending: complete it with the failure here and report STATUS_PENDING, as a
      // pended IRP must be (returning the failure would break the pending protocol).
      if (irp?.markedPending(irp.CurrentLocation)) {
        this.completeRequest(ctx, st);
        return S.STATUS_PENDING;
      }
      return st;
    }
    return S.STATUS_PENDING;
  }

  /** RxFspDispatch: in the worker, IN_FSP | WAIT, re-run the resume routine, complete unless pending. */
  private async fspDispatch(ctx: RX_CONTEXT): Promise<void> {
    ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_IN_FSP | RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT;
    const routine = ctx.ResumeRoutine;
    let status: NTSTATUS = S.STATUS_INVALID_DEVICE_REQUEST;
    if (routine) {
      const t = this.k.thread("RxFspDispatch");
      do {
        const r = this.runOnThread(t, ctx, routine);
        status = typeof r === "number" ? r : await r;
      } while (status === S.STATUS_RETRY);
    }
    if (status !== S.STATUS_PENDING && !(ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_NO_COMPLETE_FROM_FSP)) {
      this.completeRequest(ctx, status);
    }
    this.dereferenceContext(ctx);
  }

  /** RxCancelRoutine: the IRP's cancel routine. Marks the context cancelled; its MRx cancel routine runs at PASSIVE. */
  private cancelRoutine(irp: IRP, ctx: RX_CONTEXT): void {
    this.io.IoReleaseCancelSpinLock(irp.CancelIrql);
    if (ctx.completed) return;
    ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED;
    if (ctx.MRxCancelRoutine === null) return;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    ctx.ReferenceCount++;
    const st = this.rx.postToWorker(
      dev,
      WorkQueueType.CriticalWorkQueue,
      async () => {
        await this.rx.cancelContext(ctx);
        this.dereferenceContext(ctx);
      },
      ctx,
      `RxCancelOperation ${ctx.label()}`,
    );
    if (!NT_SUCCESS(st)) ctx.ReferenceCount--;
  }

  private commonRoutine(major: number): CommonRoutine {
    switch (major) {
      case IRP_MJ.IRP_MJ_CREATE:
        return (c) => this.commonCreate(c);
      case IRP_MJ.IRP_MJ_CLEANUP:
        return (c) => this.commonCleanup(c);
      case IRP_MJ.IRP_MJ_CLOSE:
        return (c) => this.commonClose(c);
      case IRP_MJ.IRP_MJ_READ:
        return (c) => this.commonReadWrite(c, false);
      case IRP_MJ.IRP_MJ_WRITE:
        return (c) => this.commonReadWrite(c, true);
      case IRP_MJ.IRP_MJ_QUERY_INFORMATION:
        return (c) => this.commonQueryInformation(c);
      case IRP_MJ.IRP_MJ_SET_INFORMATION:
        return (c) => this.commonSetInformation(c);
      case IRP_MJ.IRP_MJ_QUERY_VOLUME_INFORMATION:
        return (c) => this.commonQueryVolume(c);
      case IRP_MJ.IRP_MJ_DIRECTORY_CONTROL:
        return (c) => this.commonDirectoryControl(c);
      case IRP_MJ.IRP_MJ_DEVICE_CONTROL:
      case IRP_MJ.IRP_MJ_INTERNAL_DEVICE_CONTROL:
      case IRP_MJ.IRP_MJ_FILE_SYSTEM_CONTROL:
        return (c) => this.commonControl(c);
      case IRP_MJ.IRP_MJ_LOCK_CONTROL:
        return (c) => this.commonLockControl(c);
      case IRP_MJ.IRP_MJ_FLUSH_BUFFERS:
        return (c) => this.commonFlush(c);
      default:
        return async () => S.STATUS_INVALID_DEVICE_REQUEST;
    }
  }

  // ================================================================== stable conditions

  private transitionEvent(obj: RxNode): KEVENT {
    let e = this.transitions.get(obj);
    if (!e) {
      e = new KEVENT(0, false, `${obj.label()} transition`);
      this.transitions.set(obj, e);
    }
    return e;
  }

  /** RxUpdateCondition: set a stable condition and release the waiters. */
  updateCondition(obj: RxNode, condition: number): void {
    obj.Condition = condition as RxNode["Condition"];
    const e = this.transitions.get(obj);
    if (e) this.k.KeSetEvent(e);
  }

  /** RxWaitForStableCondition (blocking form). */
  async waitForStable(obj: RxNode): Promise<void> {
    while (!StableCondition(obj.Condition) && !obj.freed) {
      const e = this.transitionEvent(obj);
      this.k.KeClearEvent(e);
      await this.k.KeWaitForSingleObject(e);
    }
  }

  // ================================================================== CREATE

  /**
   * RxCommonCreate. The checks before the name is looked up (and a device open, which ends there) are synchronous:
   * only an open by name gets an async frame (createByName).
   */
  private commonCreate(ctx: RX_CONTEXT): MaybePromise<NTSTATUS> {
    const irp = ctx.CurrentIrp as IRP;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fo = sp.FileObject as FILE_OBJECT;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const p = sp.Parameters.Create;
    const params = ctx.Create.NtCreateParameters;
    params.DesiredAccess = p.SecurityContext.DesiredAccess;
    params.Disposition = p.Options >>> 24;
    params.CreateOptions = p.Options & 0xffffff;
    params.ShareAccess = p.ShareAccess;
    params.FileAttributes = p.FileAttributes;
    params.AllocationSize = p.AllocationSize;
    params.EaBuffer = p.EaBuffer;
    this.captureCredentials(ctx);
    // 1. Empty name, no related file object: a device open.
    if (fo.FileName === "" && fo.RelatedFileObject === null) {
      fo.FsContext = dev.DeviceFcb;
      fo.FsContext2 = null;
      dev.DeviceFcb.OpenCount++;
      dev.DeviceFcb.UncleanCount++;
      ctx.InformationToReturn = FILE_OPENED;
      return S.STATUS_SUCCESS;
    }
    let name = fo.FileName;
    const related = fo.RelatedFileObject;
    if (related) {
      const rf = related.FsContext;
      if (rf instanceof FCB) name = `${rf.VNetRoot.PrefixName}${rf.FcbTablePath}\\${name}`;
      else if (related.FsContext2 instanceof V_NET_ROOT) name = `${related.FsContext2.PrefixName}\\${name}`;
      else return S.STATUS_INVALID_PARAMETER;
    }
    if (params.CreateOptions & FILE_CREATE_TREE_CONNECTION) return this.createTreeConnect(ctx, fo, name);
    if (name.startsWith("\\\\")) name = name.slice(1);
    if (name.length > 1 && name.endsWith("\\")) {
      name = name.slice(0, -1);
      if (params.CreateOptions & FILE_NON_DIRECTORY_FILE) return S.STATUS_OBJECT_NAME_INVALID;
      params.CreateOptions |= FILE_DIRECTORY_FILE;
    }
    const canonical = this.canonicalize(ctx, name);
    if (canonical === null) return S.STATUS_OBJECT_NAME_INVALID;
    ctx.Create.CanonicalName = canonical;
    return this.createByName(ctx, irp, fo, dev, canonical);
  }

  /** The rest of RxCommonCreate for an open by name: V_NET_ROOT, then FCB, SRV_OPEN and FOBX. */
  private async createByName(
    ctx: RX_CONTEXT,
    irp: IRP,
    fo: FILE_OBJECT,
    dev: RDBSS_DEVICE_OBJECT,
    canonical: string,
  ): Promise<NTSTATUS> {
    const params = ctx.Create.NtCreateParameters;
    try {
      let status = await this.findOrConstructVNetRoot(ctx, canonical);
      if (!NT_SUCCESS(status)) return status;
      const rest = ctx.Create.RemainingName;
      if (/[*?<>"]/.test(rest)) return S.STATUS_OBJECT_NAME_INVALID;
      const mrxPreparse = dev.Dispatch.MRxPreparseName;
      if (mrxPreparse)
        await this.rx.callMRx(dev, "MRxPreparseName", ctx.Create.pVNetRoot, ctx, () =>
          mrxPreparse.call(dev.Dispatch, ctx, canonical),
        );
      let retried = false;
      for (;;) {
        status = await this.createFromNetRoot(ctx, irp, fo);
        if (status === S.STATUS_SHARING_VIOLATION && !retried && params.Disposition !== FILE_CREATE) {
          // Scavenge dormant files on this NET_ROOT once and retry (TryForScavengingOnSharingViolation).
          retried = true;
          const n = await this.scavengeFobxsForNetRoot((ctx.Create.pVNetRoot as V_NET_ROOT).pNetRoot);
          if (n > 0) continue;
        }
        break;
      }
      if (status === S.STATUS_SHARING_VIOLATION && params.Disposition === FILE_CREATE)
        status = S.STATUS_OBJECT_NAME_COLLISION;
      return status;
    } finally {
      const w = this.releaseCreateReferences(ctx);
      if (w) await w;
    }
  }

  /** EAs carry explicit credentials of a connection: "UserName", "Password", "Domain" (UTF-8 values). */
  private captureCredentials(ctx: RX_CONTEXT): void {
    const eas = ctx.Create.NtCreateParameters.EaBuffer;
    if (!eas) return;
    const dec = new TextDecoder();
    for (const ea of eas) {
      const v = dec.decode(ea.EaValue);
      const n = ea.EaName.toUpperCase();
      if (n === "USERNAME" || n === "USER") ctx.Create.UserName = v;
      else if (n === "PASSWORD") ctx.Create.Password = v;
      else if (n === "DOMAIN" || n === "DOMAINNAME") ctx.Create.UserDomainName = v;
    }
  }

  /** RxFirstCanonicalize: "\;X:<id>\server\share…" is kept; a UNC "\server\share…" becomes "\;:<session>\server\share…". */
  canonicalize(ctx: RX_CONTEXT, name: string): string | null {
    if (!name.startsWith("\\")) return null;
    if (name.startsWith("\\;")) {
      const cut = name.indexOf("\\", 2);
      if (cut < 0) return null;
      return name;
    }
    const proc = ctx.OriginalThread?.process;
    return `\\;:${proc ? processSessionId(proc) : 0}${name}`;
  }

  /** Split a canonical name into its connection prefix ("\;X:0") and the UNC part ("\server\share\rest"). */
  private splitCanonical(canonical: string): { prefix: string; unc: string } {
    const cut = canonical.indexOf("\\", 2);
    return { prefix: canonical.slice(0, cut), unc: canonical.slice(cut) };
  }

  /** Drop what RxFindOrConstructVirtualNetRoot and the FCB lookup referenced (RxpPrepareCreateContextForReuse). */
  private releaseCreateReferences(ctx: RX_CONTEXT): Promise<void> | undefined {
    const vnr = ctx.Create.pVNetRoot;
    const sc = ctx.Create.pSrvCall;
    ctx.Create.pVNetRoot = null;
    ctx.Create.pNetRoot = null;
    ctx.Create.pSrvCall = null;
    if (vnr && !vnr.freed) {
      this.rx.verifier.drop(vnr, "create context (Create.pVNetRoot)", "RxFindOrConstructVirtualNetRoot");
      const w = this.rx.dereferenceNow(vnr, LockHoldingState.LHS_LockNotHeld);
      if (w) return w.then(() => this.releaseCreateSrvCall(sc));
    }
    return this.releaseCreateSrvCall(sc);
  }

  /** The end of releaseCreateReferences: the SRV_CALL reference (undefined when dropping it waits for nothing). */
  private releaseCreateSrvCall(sc: SRV_CALL | null): Promise<void> | undefined {
    if (!sc || sc.freed) return undefined;
    this.rx.verifier.drop(sc, "create context (Create.pSrvCall)");
    return this.rx.dereferenceNow(sc, LockHoldingState.LHS_LockNotHeld);
  }

  /**
   * RxFindOrConstructVirtualNetRoot: look up the V_NET_ROOT under the shared netname lock; on a miss, retry
   * exclusive and construct SRV_CALL / NET_ROOT / V_NET_ROOT; wait for it to be stable. On success
   * Create.pVNetRoot (referenced) and Create.RemainingName are set.
   */
  async findOrConstructVNetRoot(ctx: RX_CONTEXT, canonical: string): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const table = dev.pRxNetNameTable;
    let connectionId = "";
    const getId = dev.Dispatch.MRxGetConnectionId;
    if (getId) {
      const r = await this.rx.callMRx(dev, "MRxGetConnectionId", null, ctx, () => getId.call(dev.Dispatch, ctx));
      if (typeof r === "object") {
        if (NT_SUCCESS(r.Status)) connectionId = r.ConnectionId;
        else if (r.Status !== S.STATUS_NOT_IMPLEMENTED) return r.Status;
      } else if (r !== S.STATUS_NOT_IMPLEMENTED) return r;
    }
    const lookupVnr = (): { vnr: V_NET_ROOT; remaining: string } | NTSTATUS | null => {
      const hit = table.lookup(canonical, connectionId);
      if (hit?.entry.ContainingRecord.kind !== "V_NET_ROOT") return null;
      const first = hit.entry.ContainingRecord;
      // Matching credentials: a LogonId mismatch falls through to other V_NET_ROOTs of the same NET_ROOT (the hit
      // first, then the others in list order; walked in place, no array per create).
      const r = this.vnrCandidate(ctx, first, null, hit.remaining);
      if (r !== null) return r;
      const others = first.pNetRoot.VirtualNetRoots;
      let prefix: string | null = null;
      for (let i = 0; i < others.length; i++) {
        const vnr = others[i] as V_NET_ROOT;
        if (vnr === first) continue;
        if (prefix === null) prefix = first.PrefixName.toUpperCase();
        const o = this.vnrCandidate(ctx, vnr, prefix, hit.remaining);
        if (o !== null) return o;
      }
      return null;
    };
    const shared = this.rx.acquireNow(table.TableLock, false);
    if (shared) await shared;
    let found = lookupVnr();
    if (found !== null && typeof found === "object")
      this.rx.referenceInternal(found.vnr, "RxFindOrConstructVirtualNetRoot");
    this.rx.release(table.TableLock);
    let status: NTSTATUS = S.STATUS_SUCCESS;
    if (typeof found === "number") return found;
    if (found === null) {
      await this.rx.acquire(table.TableLock, true);
      found = lookupVnr();
      if (typeof found === "number") {
        this.rx.release(table.TableLock);
        return found;
      }
      if (found !== null) {
        this.rx.referenceInternal(found.vnr, "RxFindOrConstructVirtualNetRoot");
      } else {
        status = await this.findOrCreateConnections(ctx, canonical, connectionId);
        if (ctx.Create.pVNetRoot) {
          const { unc } = this.splitCanonical(canonical);
          found = {
            vnr: ctx.Create.pVNetRoot,
            remaining: unc.slice(ctx.Create.pVNetRoot.pNetRoot.pNetRootName.length),
          };
        }
      }
      this.rx.release(table.TableLock);
    }
    if (found === null || typeof found === "number") return NT_SUCCESS(status) ? S.STATUS_BAD_NETWORK_PATH : status;
    const vnr = found.vnr;
    ctx.Create.pVNetRoot = vnr;
    ctx.Create.pNetRoot = vnr.pNetRoot;
    if (!StableCondition(vnr.Condition) && !vnr.freed) await this.waitForStable(vnr);
    if (vnr.Condition !== Condition.Condition_Good) {
      return NT_SUCCESS(vnr.ConstructionStatus) ? S.STATUS_BAD_NETWORK_PATH : vnr.ConstructionStatus;
    }
    ctx.Create.RemainingName = vnr.NamePrefix + found.remaining;
    return NT_SUCCESS(status) ? S.STATUS_SUCCESS : status;
  }

  /**
   * One V_NET_ROOT of the lookup in findOrConstructVNetRoot: the match, a status that ends the lookup, or null to try
   * the next. `prefix` is the hit's PrefixName upper-cased (null for the hit itself, which matches its own name).
   */
  private vnrCandidate(
    ctx: RX_CONTEXT,
    vnr: V_NET_ROOT,
    prefix: string | null,
    remaining: string,
  ): { vnr: V_NET_ROOT; remaining: string } | NTSTATUS | null {
    if (prefix !== null && vnr.PrefixName.toUpperCase() !== prefix) return null;
    const nr = vnr.pNetRoot;
    if (nr.Condition !== Condition.Condition_Good && nr.Condition !== Condition.Condition_InTransition) {
      return S.STATUS_BAD_NETWORK_PATH;
    }
    const c = this.checkCredentials(ctx, vnr);
    if (c === S.STATUS_SUCCESS) return { vnr, remaining };
    if (c === S.STATUS_NETWORK_CREDENTIAL_CONFLICT) return c;
    return null;
  }

  /** RxCheckVNetRootCredentials */
  private checkCredentials(ctx: RX_CONTEXT, vnr: V_NET_ROOT): NTSTATUS {
    const proc = ctx.OriginalThread?.process;
    const logon = ctx.Create.UserName ?? (proc ? processLogonId(proc) : "");
    if (vnr.LogonId !== logon && !(vnr.IsExplicitConnection && ctx.Create.UserName === null))
      return S.STATUS_MORE_PROCESSING_REQUIRED;
    if (
      ctx.Create.UserName !== null &&
      (vnr.pUserName !== ctx.Create.UserName || vnr.pPassword !== ctx.Create.Password)
    ) {
      return vnr.pUserName === ctx.Create.UserName
        ? S.STATUS_NETWORK_CREDENTIAL_CONFLICT
        : S.STATUS_MORE_PROCESSING_REQUIRED;
    }
    return S.STATUS_SUCCESS;
  }

  /**
   * RxFindOrCreateConnections, entered and left with the netname table exclusive: find or build the SRV_CALL and
   * the NET_ROOT, then build this V_NET_ROOT. Construction drops and re-takes the lock.
   */
  private async findOrCreateConnections(ctx: RX_CONTEXT, canonical: string, connectionId: string): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const table = dev.pRxNetNameTable;
    const { prefix, unc } = this.splitCanonical(canonical);
    const server = unc.slice(0, unc.indexOf("\\", 1) < 0 ? unc.length : unc.indexOf("\\", 1));
    if (server.length <= 1) return S.STATUS_BAD_NETWORK_PATH;
    for (let attempt = 0; attempt < 64; attempt++) {
      const hit = table.lookup(unc, connectionId);
      let netRoot: NET_ROOT | null = null;
      let srvCall: SRV_CALL | null = null;
      if (hit?.entry.ContainingRecord.kind === "NET_ROOT") {
        netRoot = hit.entry.ContainingRecord;
        srvCall = netRoot.pSrvCall;
      } else if (hit?.entry.ContainingRecord.kind === "SRV_CALL") {
        srvCall = hit.entry.ContainingRecord;
      }
      if (srvCall) {
        if (srvCall.RxDeviceObject !== dev) return S.STATUS_BAD_NETWORK_NAME;
        if (srvCall.Condition === Condition.Condition_InTransition) {
          this.rx.release(table.TableLock);
          await this.waitForStable(srvCall);
          await this.rx.acquire(table.TableLock, true);
          continue;
        }
        if (srvCall.Condition === Condition.Condition_Bad)
          return NT_SUCCESS(srvCall.Status) ? S.STATUS_BAD_NETWORK_PATH : srvCall.Status;
      }
      if (netRoot) {
        if (netRoot.Condition === Condition.Condition_InTransition) {
          this.rx.release(table.TableLock);
          await this.waitForStable(netRoot);
          await this.rx.acquire(table.TableLock, true);
          continue;
        }
        if (netRoot.Condition === Condition.Condition_Bad) {
          return NT_SUCCESS(netRoot.ConstructionStatus) ? S.STATUS_BAD_NETWORK_PATH : netRoot.ConstructionStatus;
        }
      }
      if (!srvCall) {
        srvCall = this.rx.RxCreateSrvCall(ctx, server, null, connectionId);
        if (srvCall === null) return S.STATUS_INSUFFICIENT_RESOURCES;
        this.rx.referenceInternal(srvCall, "create context (Create.pSrvCall)");
        ctx.Create.pSrvCall = srvCall;
        const st = await this.constructSrvCall(ctx, srvCall);
        if (!NT_SUCCESS(st)) return st;
        continue;
      }
      if (ctx.Create.pSrvCall === null) {
        this.rx.referenceInternal(srvCall, "create context (Create.pSrvCall)");
        ctx.Create.pSrvCall = srvCall;
      }
      const mrxExtract = dev.Dispatch.MRxExtractNetRootName;
      let netRootName: string;
      if (netRoot) netRootName = netRoot.pNetRootName;
      else {
        const t = this.k.thread("MRxExtractNetRootName");
        t.frames.push(`MRxExtractNetRootName [${dev.MiniRdrName}]`);
        this.rx.mrxRoutine(dev, "MRxExtractNetRootName").calls++;
        const r = mrxExtract.call(dev.Dispatch, unc, srvCall);
        t.frames.pop();
        netRootName = r.NetRootName;
        if (!netRootName.toUpperCase().startsWith(server.toUpperCase())) netRootName = server + netRootName;
      }
      // RxFindOrCreateConnections: a NULL NET_ROOT or V_NET_ROOT is STATUS_INSUFFICIENT_RESOURCES; a NET_ROOT built
      // for a V_NET_ROOT that could not be is finalized at once (RxFinalizeNetRoot(NetRoot, TRUE, TRUE)), before
      // anyone can see it (the netname table is held exclusive throughout).
      const newNetRoot = netRoot === null;
      if (!netRoot) {
        netRoot = this.rx.RxCreateNetRoot(srvCall, netRootName, 0, connectionId);
        if (netRoot === null) return S.STATUS_INSUFFICIENT_RESOURCES;
        netRoot.Condition = Condition.Condition_InTransition;
      }
      const vnrName = prefix + netRoot.pNetRootName;
      const vnr = this.rx.RxCreateVNetRoot(ctx, netRoot, vnrName, prefix, "", connectionId);
      if (vnr === null) {
        if (newNetRoot) await this.rx.RxFinalizeNetRoot(netRoot, true, true);
        return S.STATUS_INSUFFICIENT_RESOURCES;
      }
      this.rx.referenceInternal(vnr, "create context (Create.pVNetRoot)");
      vnr.Condition = Condition.Condition_InTransition;
      ctx.Create.pVNetRoot = vnr;
      ctx.Create.pNetRoot = netRoot;
      return this.constructNetRoot(ctx, srvCall, netRoot, vnr);
    }
    return S.STATUS_BAD_NETWORK_PATH;
  }

  /**
   * RxConstructSrvCall: the SRV_CALL goes InTransition, the lock is dropped, MRxCreateSrvCall must return
   * STATUS_PENDING and call RxCreateSrvCallCallBack exactly once; then MRxSrvCallWinnerNotify and the
   * transition to Good or Bad under the lock (re-taken before returning).
   */
  private async constructSrvCall(ctx: RX_CONTEXT, srvCall: SRV_CALL): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const table = dev.pRxNetNameTable;
    srvCall.Condition = Condition.Condition_InTransition;
    this.rx.release(table.TableLock);
    const finish = new KEVENT(0, false, `${srvCall.label()} FinishEvent`);
    let calls = 0;
    let consumed = false;
    const calldown: MRX_SRVCALLDOWN_STRUCTURE = new SrvCalldownStructure(
      finish,
      srvCall,
      ctx,
      1,
      (c: MRX_SRVCALL_CALLBACK_CONTEXT) => {
        calls++;
        if (calls > 1 || consumed) {
          this.rx.rdbssViolation(
            "minirdrContract",
            RDBSS_ASSERT.CALLBACK_TWICE,
            calldown,
            consumed && calls === 1
              ? `MRxCreateSrvCall's callback for ${srvCall.label()} ran after RDBSS had given up waiting for it and freed the calldown structure.`
              : `MRxCreateSrvCall called its completion callback ${calls} times for ${srvCall.label()}: it must be called exactly once (NumberRemaining would underflow).`,
          );
          return;
        }
        if (NT_SUCCESS(c.Status)) {
          calldown.BestFinisher = c.RxDeviceObject;
          calldown.BestFinisherOrdinal = c.CallbackContextOrdinal;
        }
        if (--calldown.NumberRemaining === 0) {
          // The waiter may run, read the result and free the calldown the moment FinishEvent is set, on another
          // processor: the mini-redirector must not touch either structure after this call (pattern 8).
          consume("RxConstructSrvCall (woken by the callback, which set FinishEvent)");
          this.k.KeSetEvent(finish);
        }
      },
    );
    const cb: MRX_SRVCALL_CALLBACK_CONTEXT = new SrvCallCallbackContext(calldown, 0, dev, S.STATUS_BAD_NETWORK_PATH);
    calldown.CallbackContexts.push(cb);
    // What RxConstructSrvCall reads once woken, taken when the last callback signals it; then both structures are
    // buried, as RDBSS frees them (RxFreePool) after reading.
    let result: NTSTATUS = S.STATUS_BAD_NETWORK_PATH;
    let recommunicate: unknown = null;
    let buried = false;
    const consume = (by: string): void => {
      if (buried) return;
      buried = true;
      result = cb.Status;
      recommunicate = cb.RecommunicateContext;
      this.rx.verifier.buryCalldown(
        cb,
        `MRX_SRVCALL_CALLBACK_CONTEXT of ${srvCall.label()}`,
        by,
        SrvCallCallbackContext.trapped,
      );
      this.rx.verifier.buryCalldown(
        calldown,
        `MRX_SRVCALLDOWN_STRUCTURE of ${srvCall.label()}`,
        by,
        SrvCalldownStructure.trapped,
      );
    };
    const r = await this.rx.callMRx(
      dev,
      "MRxCreateSrvCall",
      srvCall,
      null,
      () => dev.Dispatch.MRxCreateSrvCall(srvCall, cb),
      true,
    );
    if (r !== S.STATUS_PENDING) {
      this.rx.rdbssViolation(
        "minirdrContract",
        RDBSS_ASSERT.NOT_PENDING,
        srvCall,
        `MRxCreateSrvCall returned ${statusName(r)} for ${srvCall.label()}: it must return STATUS_PENDING and report the result through the callback, on success and on failure.`,
      );
    }
    if (calls === 0) {
      const w = await this.k.KeWaitForSingleObject(finish, CONSTRUCTION_TIMEOUT);
      if (w === S.STATUS_TIMEOUT) {
        consumed = true;
        this.rx.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.CALLBACK_NEVER,
          srvCall,
          `MRxCreateSrvCall for ${srvCall.label()} returned ${statusName(r)} but never called its completion callback: RDBSS waits on the calldown's FinishEvent forever (the create hangs).`,
        );
        cb.Status = S.STATUS_BAD_NETWORK_PATH;
      }
    }
    consumed = true;
    // No callback (a synchronous return, or a timeout): RDBSS reads what is there and frees the structures now.
    consume("RxConstructSrvCall");
    let status = result;
    if (NT_SUCCESS(status) && dev.Dispatch.MRxSrvCallWinnerNotify) {
      const winner = dev.Dispatch.MRxSrvCallWinnerNotify;
      const w = await this.rx.callMRx(
        dev,
        "MRxSrvCallWinnerNotify",
        srvCall,
        null,
        () => winner.call(dev.Dispatch, srvCall, true, recommunicate),
        true,
      );
      if (!NT_SUCCESS(w)) status = w;
    }
    await this.rx.acquire(table.TableLock, true);
    srvCall.Status = status;
    this.updateCondition(srvCall, NT_SUCCESS(status) ? Condition.Condition_Good : Condition.Condition_Bad);
    return status;
  }

  /**
   * RxConstructNetRoot: drop the lock; MRxCreateVNetRoot must return STATUS_PENDING, fill NetRootStatus /
   * VirtualNetRootStatus and call the callback once; translate the two statuses into conditions; re-take the lock.
   */
  private async constructNetRoot(
    ctx: RX_CONTEXT,
    _srvCall: SRV_CALL,
    netRoot: NET_ROOT,
    vnr: V_NET_ROOT,
  ): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const table = dev.pRxNetNameTable;
    this.rx.release(table.TableLock);
    const finish = new KEVENT(0, false, `${vnr.label()} FinishEvent`);
    let calls = 0;
    let freed = false;
    // What RxConstructNetRoot reads once woken, taken when the callback signals it; then the context is buried, as
    // RDBSS frees it (RxFreePool) after reading.
    let nrStatus: NTSTATUS = S.STATUS_BAD_NETWORK_PATH;
    let vnrStatus: NTSTATUS = S.STATUS_BAD_NETWORK_PATH;
    let buried = false;
    const consume = (by: string): void => {
      if (buried) return;
      buried = true;
      nrStatus = cnc.NetRootStatus;
      vnrStatus = cnc.VirtualNetRootStatus;
      this.rx.verifier.buryCalldown(
        cnc,
        `MRX_CREATENETROOT_CONTEXT of ${vnr.label()}`,
        by,
        CreateNetRootContext.trapped,
      );
    };
    const cnc: MRX_CREATENETROOT_CONTEXT = new CreateNetRootContext(ctx, vnr, finish, S.STATUS_SUCCESS, () => {
      // RxCreateNetRootCallBack is paged code (≤ APC_LEVEL, §7), though all it does is set an event: a callback from a
      // DPC-level transport completion is IRQL_NOT_LESS_OR_EQUAL (§8 pattern 18).
      this.rx.leaveDdi(this.k.enter("RxCreateNetRootCallBack", APC_LEVEL));
      calls++;
      if (calls > 1 || freed) {
        this.rx.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.CALLBACK_TWICE,
          cnc,
          freed && calls === 1
            ? `MRxCreateVNetRoot's callback for ${vnr.label()} ran after RDBSS freed the MRX_CREATENETROOT_CONTEXT (use after free).`
            : `MRxCreateVNetRoot called its callback ${calls} times for ${vnr.label()}: it must be called exactly once.`,
        );
        return;
      }
      // The waiter may run, read the statuses and free the context the moment FinishEvent is set, on another
      // processor: the mini-redirector must not touch it after this call (pattern 8).
      consume("RxConstructNetRoot (woken by the callback, which set FinishEvent)");
      this.k.KeSetEvent(finish);
    });
    const r = await this.rx.callMRx(dev, "MRxCreateVNetRoot", vnr, ctx, () => dev.Dispatch.MRxCreateVNetRoot(cnc));
    if (r !== S.STATUS_PENDING) {
      this.rx.rdbssViolation(
        "minirdrContract",
        RDBSS_ASSERT.NOT_PENDING,
        vnr,
        `MRxCreateVNetRoot returned ${statusName(r)} for ${vnr.label()}: it must return STATUS_PENDING and report through NetRootStatus / VirtualNetRootStatus and the callback.`,
      );
      if (calls === 0) {
        // ReactOS: a synchronous return leaves both roots Bad, even when it returned success.
        cnc.NetRootStatus = cnc.VirtualNetRootStatus = NT_SUCCESS(r) ? S.STATUS_BAD_NETWORK_PATH : r;
        calls = 1;
      }
    }
    if (calls === 0) {
      const w = await this.k.KeWaitForSingleObject(finish, CONSTRUCTION_TIMEOUT);
      if (w === S.STATUS_TIMEOUT) {
        this.rx.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.CALLBACK_NEVER,
          vnr,
          `MRxCreateVNetRoot for ${vnr.label()} never called its callback: RDBSS waits on FinishEvent forever (the create hangs).`,
        );
        cnc.NetRootStatus = cnc.VirtualNetRootStatus = S.STATUS_BAD_NETWORK_PATH;
      }
    }
    freed = true;
    // No callback (a synchronous return, or a timeout): RDBSS reads what is there and frees the context now.
    consume("RxConstructNetRoot");
    const nrOk = NT_SUCCESS(nrStatus);
    const vnrOk = NT_SUCCESS(vnrStatus);
    await this.rx.acquire(table.TableLock, true);
    if (nrOk) {
      if (netRoot.Condition !== Condition.Condition_Good) this.updateCondition(netRoot, Condition.Condition_Good);
    } else {
      netRoot.ConstructionStatus = nrStatus;
      this.updateCondition(netRoot, Condition.Condition_Bad);
    }
    const status = !nrOk ? nrStatus : vnrStatus;
    vnr.ConstructionStatus = nrOk && vnrOk ? S.STATUS_SUCCESS : status;
    this.updateCondition(vnr, nrOk && vnrOk ? Condition.Condition_Good : Condition.Condition_Bad);
    return nrOk && vnrOk ? S.STATUS_SUCCESS : status;
  }

  /** RxCreateTreeConnect: build or find the V_NET_ROOT, take the one-time add-connection reference. */
  private async createTreeConnect(ctx: RX_CONTEXT, fo: FILE_OBJECT, name: string): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const canonical = this.canonicalize(ctx, name.startsWith("\\\\") ? name.slice(1) : name);
    if (canonical === null) return S.STATUS_OBJECT_NAME_INVALID;
    ctx.Create.CanonicalName = canonical;
    ctx.Create.ThisIsATreeConnectOpen = true;
    try {
      let status = await this.findOrConstructVNetRoot(ctx, canonical);
      if (status === S.STATUS_NETWORK_CREDENTIAL_CONFLICT) {
        await this.rx.scavengeVNetRoots(dev);
        status = await this.findOrConstructVNetRoot(ctx, canonical);
      }
      if (!NT_SUCCESS(status)) return status;
      const vnr = ctx.Create.pVNetRoot as V_NET_ROOT;
      const rest = ctx.Create.RemainingName;
      const isValid = dev.Dispatch.MRxIsValidDirectory;
      if (rest !== "" && rest !== "\\" && isValid) {
        const st = await this.rx.callMRx(dev, "MRxIsValidDirectory", vnr, ctx, () =>
          isValid.call(dev.Dispatch, ctx, rest),
        );
        if (!NT_SUCCESS(st)) return st;
      }
      if (!vnr.AdditionalReferenceForDeleteFsctlTaken) {
        vnr.AdditionalReferenceForDeleteFsctlTaken = true;
        this.rx.referenceInternal(vnr, "RxCreateTreeConnect (add-connection reference)");
      }
      fo.FsContext = dev.DeviceFcb;
      fo.FsContext2 = vnr;
      dev.DeviceFcb.OpenCount++;
      dev.DeviceFcb.UncleanCount++;
      vnr.ConstructionStatus = S.STATUS_SUCCESS;
      vnr.NumberOfOpens++;
      // The lookup reference now belongs to the handle.
      ctx.Create.pVNetRoot = null;
      ctx.InformationToReturn = FILE_OPENED;
      return S.STATUS_SUCCESS;
    } finally {
      await this.releaseCreateReferences(ctx);
    }
  }

  /** RxCreateFromNetRoot: find or create the FCB, then collapse onto or create a SRV_OPEN. */
  private async createFromNetRoot(ctx: RX_CONTEXT, irp: IRP, fo: FILE_OBJECT): Promise<NTSTATUS> {
    const rx = this.rx;
    const vnr = ctx.Create.pVNetRoot as V_NET_ROOT;
    const netRoot = vnr.pNetRoot;
    const table = rx.fcbTableOf(netRoot);
    const path = ctx.Create.RemainingName === "\\" ? "" : ctx.Create.RemainingName;
    const params = ctx.Create.NtCreateParameters;
    const shared = rx.acquireNow(table.TableLock, false);
    if (shared) await shared;
    let fcb = table.lookup(path) ?? null;
    if (fcb) fcb.NodeReferenceCount++;
    rx.release(table.TableLock);
    if (!fcb) {
      // RxCreateNetFcb's lock (the FCB table, or the netname table under fcbCreateLock "netname-table").
      const createLock = rx.fcbCreateLockOf(netRoot);
      const extra = createLock !== table.TableLock;
      if (extra) await rx.acquire(createLock, true);
      await rx.acquire(table.TableLock, true);
      fcb = table.lookup(path) ?? null;
      if (fcb) fcb.NodeReferenceCount++;
      else {
        fcb = rx.RxCreateNetFcb(ctx, vnr, path);
        if (fcb !== null) fcb.Condition = Condition.Condition_InTransition;
      }
      rx.release(table.TableLock);
      if (extra) rx.release(createLock);
      // RxFindOrCreateFcb: no FCB could be allocated.
      if (fcb === null) return S.STATUS_INSUFFICIENT_RESOURCES;
    }
    if (fcb.Condition === Condition.Condition_InTransition && fcb.OpenCount > 0) await this.waitForStable(fcb);
    const acquiring = rx.acquireExclusiveFcbNow(ctx, fcb);
    const acq = typeof acquiring === "number" ? acquiring : await acquiring;
    if (acq !== S.STATUS_SUCCESS) {
      await this.dropFcbAfterCreate(ctx, fcb, false);
      return acq;
    }
    ctx.pFcb = fcb;
    if (fcb.OpenCount > 0) {
      const st = this.io.IoCheckShareAccess(params.DesiredAccess, params.ShareAccess, fo, fcb.ShareAccess, false);
      if (st !== S.STATUS_SUCCESS) {
        const w = this.dropFcbAfterCreate(ctx, fcb, true);
        if (w) await w;
        return st;
      }
    }
    let status = await this.collapseOrCreateSrvOpen(ctx, irp);
    if (status === S.STATUS_SUCCESS) {
      const fobx = ctx.pFobx as FOBX;
      const so = fobx.pSrvOpen;
      const share = this.io.IoCheckShareAccess(params.DesiredAccess, params.ShareAccess, fo, fcb.ShareAccess, true);
      if (share !== S.STATUS_SUCCESS) {
        // A sharing violation discovered after the open: undo the FOBX.
        status = share;
        await this.undoOpen(ctx, fobx);
      } else {
        fo.FsContext = fcb;
        fo.FsContext2 = fobx;
        fobx.AssociatedFileObject = fo;
        fcb.UncleanCount++;
        fcb.OpenCount++;
        so.UncleanFobxCount++;
        so.OpenCount++;
        if (params.CreateOptions & FILE_DELETE_ON_CLOSE) fobx.Flags |= FOBX_FLAG.FOBX_FLAG_DELETE_ON_CLOSE;
        if (fo.Flags & 0x8) fcb.UncachedUncleanCount++;
        const fromMini =
          this.rx.profile.createInformation === "must-set" && irp.IoStatus.Information !== CREATE_INFORMATION_CANARY
            ? irp.IoStatus.Information
            : ctx.Create.ReturnedCreateInformation;
        ctx.InformationToReturn = fromMini;
      }
    }
    const w = this.dropFcbAfterCreate(ctx, fcb, true);
    if (w) await w;
    return status;
  }

  /** The end of RxCreateFromNetRoot: drop the lookup reference; an FCB nobody opened is finalized. */
  private dropFcbAfterCreate(ctx: RX_CONTEXT, fcb: FCB, held: boolean): Promise<void> | undefined {
    if (!held) {
      const w = this.rx.acquireNow(fcb.Header.Resource, true);
      if (w) return w.then(() => this.dropHeldFcbAfterCreate(ctx, fcb));
    }
    return this.dropHeldFcbAfterCreate(ctx, fcb);
  }

  /** dropFcbAfterCreate with the FCB held (undefined when nothing waits). */
  private dropHeldFcbAfterCreate(ctx: RX_CONTEXT, fcb: FCB): Promise<void> | undefined {
    if (fcb.OpenCount === 0) {
      if (fcb.Condition === Condition.Condition_InTransition) fcb.Condition = Condition.Condition_Bad;
      const freed = this.rx.dereferenceAndFinalizeNetFcbNow(fcb, ctx, false, false);
      if (typeof freed !== "boolean") return freed.then((f) => this.releaseUnlessFreed(fcb, f));
      this.releaseUnlessFreed(fcb, freed);
    } else {
      fcb.NodeReferenceCount--;
      this.rx.release(fcb.Header.Resource);
    }
    return undefined;
  }

  /** After RxpDereferenceAndFinalizeNetFcb: release the FCB unless it was freed. */
  private releaseUnlessFreed(fcb: FCB, freed: boolean): void {
    if (!freed) this.rx.release(fcb.Header.Resource);
  }

  /** Undo a successful MRxCreate whose open cannot be kept (FCB held exclusive). */
  private async undoOpen(ctx: RX_CONTEXT, fobx: FOBX): Promise<void> {
    await this.rx.closeAssociatedSrvOpen(fobx, ctx);
    await this.rx.RxDereference(fobx, LockHoldingState.LHS_ExclusiveLockHeld);
    ctx.pFobx = null;
  }

  /** RxCollapseOrCreateSrvOpen: FCB held exclusive; UncleanCount is raised for the duration. */
  private async collapseOrCreateSrvOpen(ctx: RX_CONTEXT, irp: IRP): Promise<NTSTATUS> {
    const rx = this.rx;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const fcb = ctx.pFcb as FCB;
    const vnr = ctx.Create.pVNetRoot as V_NET_ROOT;
    const params = ctx.Create.NtCreateParameters;
    fcb.UncleanCount++;
    // Under the "canary" profile MRxCreate must leave this untouched; under "must-set" a value other than the
    // canary is what the mini-redirector reported. A collapsed open never calls MRxCreate, so plant it first.
    irp.IoStatus.Information = CREATE_INFORMATION_CANARY;
    try {
      const d = params.Disposition;
      const should = dev.Dispatch.MRxShouldTryToCollapseThisOpen;
      if (
        (d === FILE_OPEN || d === FILE_OPEN_IF) &&
        // A delete-on-close open never collapses: the server must see it (ReactOS RxSearchForCollapsibleOpen).
        (params.CreateOptions & FILE_DELETE_ON_CLOSE) === 0 &&
        fcb.FcbState & FCB_STATE.FCB_STATE_COLLAPSING_ENABLED &&
        should &&
        fcb.srvOpenFirst !== null
      ) {
        const asked = rx.callMRx(dev, "MRxShouldTryToCollapseThisOpen", fcb, ctx, () => should.call(dev.Dispatch, ctx));
        const st = asked instanceof Promise ? await asked : asked;
        if (st === S.STATUS_SUCCESS) {
          const blocked =
            SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSED |
            SRVOPEN_FLAG.SRVOPEN_FLAG_COLLAPSING_DISABLED |
            SRVOPEN_FLAG.SRVOPEN_FLAG_FILE_RENAMED |
            SRVOPEN_FLAG.SRVOPEN_FLAG_FILE_DELETED |
            SRVOPEN_FLAG.SRVOPEN_FLAG_ORPHANED;
          // The first match on the SRV_OPEN list, walked through its links (no array per open).
          let so: SRV_OPEN | null = fcb.srvOpenFirst;
          while (
            so !== null &&
            !(
              so.pVNetRoot === vnr &&
              !(so.Flags & blocked) &&
              so.Condition === Condition.Condition_Good &&
              so.DesiredAccess === params.DesiredAccess &&
              so.ShareAccess === params.ShareAccess &&
              (so.CreateOptions & 0xff) === (params.CreateOptions & 0xff)
            )
          )
            so = so.nextInFcb;
          if (so) {
            // The candidate found, RDBSS asks again with it in pRelevantSrvOpen: the mini-redirector may refuse
            // this SRV_OPEN (its server handle, its oplock) and the open goes to the server instead.
            ctx.pRelevantSrvOpen = so;
            const found = so;
            const askedAgain = rx.callMRx(dev, "MRxShouldTryToCollapseThisOpen", found, ctx, () =>
              should.call(dev.Dispatch, ctx),
            );
            const again = askedAgain instanceof Promise ? await askedAgain : askedAgain;
            if (again !== S.STATUS_SUCCESS) {
              ctx.pRelevantSrvOpen = null;
              so = null;
            }
          }
          if (so) {
            const fobx = rx.RxCreateNetFobx(ctx, so);
            // No FOBX for the collapsed open: the create fails and the SRV_OPEN stays as it was (dormant or open).
            if (fobx === null) return S.STATUS_INSUFFICIENT_RESOURCES;
            if (so.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED) {
              so.Flags &= ~SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED;
              fcb.pNetRoot.pSrvCall.NumberOfCloseDelayedFiles--;
            }
            ctx.pFobx = fobx;
            const collapse = dev.Dispatch.MRxCollapseOpen;
            const collapsing = collapse
              ? rx.callMRx(dev, "MRxCollapseOpen", so, ctx, () => collapse.call(dev.Dispatch, ctx))
              : S.STATUS_SUCCESS;
            const cst = collapsing instanceof Promise ? await collapsing : collapsing;
            if (cst === S.STATUS_SUCCESS) {
              ctx.Create.ReturnedCreateInformation = FILE_OPENED;
              return S.STATUS_SUCCESS;
            }
            fobx.NodeReferenceCount = 0;
            fobx.Flags |= FOBX_FLAG.FOBX_FLAG_SRVOPEN_CLOSED;
            await rx.RxFinalizeNetFobx(fobx, true, true);
            ctx.pFobx = null;
            // STATUS_MORE_PROCESSING_REQUIRED: the mini-redirector declines this SRV_OPEN; open a new one instead.
            if (cst !== S.STATUS_MORE_PROCESSING_REQUIRED) return cst as NTSTATUS;
          }
        }
      }
      // An open that does not collapse first scavenges the file's dormant (delay-closed) opens, so that their
      // server-side opens do not outlive the handles (share modes, delete-on-close).
      if (hasScavengerMarkedFobx(fcb)) await rx.scavengeRelatedFobxs(fcb);
      const so = rx.RxCreateSrvOpen(vnr, fcb);
      if (so === null) return S.STATUS_INSUFFICIENT_RESOURCES;
      so.DesiredAccess = params.DesiredAccess;
      so.ShareAccess = params.ShareAccess;
      so.CreateOptions = params.CreateOptions;
      ctx.pRelevantSrvOpen = so;
      ctx.pFobx = null;
      const canary = rx.profile.createInformation === "canary";
      irp.IoStatus.Information = CREATE_INFORMATION_CANARY;
      const creating = rx.callMRx(dev, "MRxCreate", so, ctx, () => dev.Dispatch.MRxCreate(ctx));
      let status = (creating instanceof Promise ? await creating : creating) as NTSTATUS;
      if (canary && irp.IoStatus.Information !== CREATE_INFORMATION_CANARY) {
        rx.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.CREATE_INFORMATION,
          ctx,
          `MRxCreate changed Irp->IoStatus.Information (to ${irp.IoStatus.Information}); under the "${rx.profile.name}" profile RDBSS plants 0xABCDEF there and asserts it is unchanged: report the create disposition in RxContext->Create.ReturnedCreateInformation.`,
        );
      }
      if (status === S.STATUS_SUCCESS) {
        if (ctx.pFobx === null) {
          const injected =
            rx.k.faults?.records.some((r) => r.site === "RxCreateNetFobx" && r.detail === so.label()) ?? false;
          rx.rdbssViolation(
            "minirdrContract",
            RDBSS_ASSERT.NO_FOBX,
            so,
            injected
              ? `MRxCreate returned STATUS_SUCCESS for ${so.label()} although RxCreateNetFobx returned NULL (an injected allocation failure): it must undo its open and fail, typically with STATUS_INSUFFICIENT_RESOURCES.`
              : `MRxCreate returned STATUS_SUCCESS for ${so.label()} without calling RxCreateNetFobx and setting RxContext->pFobx.`,
          );
          ctx.pFobx = rx.RxCreateNetFobx(ctx, so);
        }
        if (ctx.pFobx !== null) {
          so.Condition = Condition.Condition_Good;
          if (fcb.Condition !== Condition.Condition_Good) this.updateCondition(fcb, Condition.Condition_Good);
          return S.STATUS_SUCCESS;
        }
        status = S.STATUS_INSUFFICIENT_RESOURCES;
      }
      // Failure: the SRV_OPEN (and a FOBX the mini-redirector made) go away.
      so.Condition = Condition.Condition_Bad;
      const fobx = ctx.pFobx as FOBX | null;
      if (fobx) {
        fobx.Flags |= FOBX_FLAG.FOBX_FLAG_SRVOPEN_CLOSED;
        await rx.RxDereference(fobx, LockHoldingState.LHS_ExclusiveLockHeld);
      }
      ctx.pFobx = null;
      if (!so.freed) await rx.RxDereference(so, LockHoldingState.LHS_ExclusiveLockHeld);
      return status === S.STATUS_PENDING ? S.STATUS_INTERNAL_ERROR : status;
    } finally {
      fcb.UncleanCount--;
    }
  }

  // ================================================================== CLEANUP and CLOSE

  private fcbTypeCheck(fcb: unknown, which: "CLEANUP" | "CLOSE"): fcb is FCB {
    if (fcb instanceof FCB && NodeTypeIsFcb(Rdbss_NodeType(fcb))) return true;
    const src = which === "CLEANUP" ? RDBSS_BUG_CHECK.CLEANUP : RDBSS_BUG_CHECK.CLOSE;
    return this.k.bugCheck(
      BUGCHECK.RDR_FILE_SYSTEM,
      [BigInt((src | 0x0100) >>> 0), fcb instanceof Object ? this.k.addressOf(fcb) : 0n, 0n, 0n],
      `IRP_MJ_${which}: the file object's FsContext ${fcb instanceof FCB ? `(${fcb.label()}) has node type 0x${Rdbss_NodeType(fcb).toString(16).toUpperCase()}, not an FCB type — usually the raw RX_FILE_TYPE passed to RxFinishFcbInitialization` : "is not an FCB"}.`,
    );
  }

  /**
   * RxCommonCleanup: the last handle to a file object is closed. A device handle's, or a handle without a FOBX,
   * ends at once (no async frame); a file's goes on in cleanupFobx.
   */
  private commonCleanup(ctx: RX_CONTEXT): MaybePromise<NTSTATUS> {
    const rx = this.rx;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fo = sp.FileObject as FILE_OBJECT;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    if (fo.FsContext instanceof RX_DEVICE_FCB) {
      dev.DeviceFcb.UncleanCount--;
      fo.Flags |= FO_CLEANUP_COMPLETE;
      return S.STATUS_SUCCESS;
    }
    const fcb = fo.FsContext;
    const fobx = fo.FsContext2 instanceof FOBX ? fo.FsContext2 : null;
    if (!this.fcbTypeCheck(fcb, "CLEANUP")) return S.STATUS_INVALID_PARAMETER;
    rx.checkAlive(fcb, "RxCommonCleanup");
    if (!fobx) {
      fcb.UncleanCount--;
      return S.STATUS_SUCCESS;
    }
    rx.checkAlive(fobx, "RxCommonCleanup");
    return this.cleanupFobx(ctx, dev, fo, fcb, fobx);
  }

  /** RxCommonCleanup of a file's handle. */
  private async cleanupFobx(
    ctx: RX_CONTEXT,
    dev: RDBSS_DEVICE_OBJECT,
    fo: FILE_OBJECT,
    fcb: FCB,
    fobx: FOBX,
  ): Promise<NTSTATUS> {
    const rx = this.rx;
    const so = fobx.pSrvOpen;
    if (Rdbss_NodeType(fcb) === NodeType.RDBSS_NTC_STORAGE_TYPE_FILE) this.markFobxOnCleanup(dev, fobx);
    const acquiring = rx.acquireNow(fcb.Header.Resource, true);
    if (acquiring) await acquiring;
    const mrxCleanup = dev.Dispatch.MRxCleanupFobx;
    if (fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) {
      fcb.UncleanCount--;
      so.UncleanFobxCount--;
      if (mrxCleanup) await rx.callMRx(dev, "MRxCleanupFobx", fobx, ctx, () => mrxCleanup.call(dev.Dispatch, ctx));
      this.io.IoRemoveShareAccess(fo, fcb.ShareAccess);
      fo.Flags |= FO_CLEANUP_COMPLETE;
      rx.release(fcb.Header.Resource);
      return S.STATUS_SUCCESS;
    }
    if (fobx.Flags & FOBX_FLAG.FOBX_FLAG_DELETE_ON_CLOSE) fcb.FcbState |= FCB_STATE.FCB_STATE_DELETE_ON_CLOSE;
    const cancelling = rx.cancelNotifyForFobx(fobx);
    if (cancelling) await cancelling;
    const last = fcb.UncleanCount === 1;
    const deleting = last && (fcb.FcbState & FCB_STATE.FCB_STATE_DELETE_ON_CLOSE) !== 0;
    const table = rx.fcbTableOf(fcb.pNetRoot);
    let tookTable = false;
    if (deleting) {
      // Lock order: FCB table before FCB.
      if (this.k.ExAcquireResourceExclusiveLite(table.TableLock, false) !== true) {
        rx.release(fcb.Header.Resource);
        await rx.acquire(table.TableLock, true);
        await rx.acquire(fcb.Header.Resource, true);
      }
      tookTable = true;
    }
    const mine = fcb.FileLocks.length === 0 ? fcb.FileLocks : fcb.FileLocks.filter((l) => l.fobx === fobx);
    if (mine.length > 0) {
      const p = ctx.LowIoContext.ParamsFor.Locks;
      p.LockList = mine.map((l) => ({ ByteOffset: l.offset, Length: l.length, Key: l.key }));
      ctx.pFobx = fobx;
      ctx.pFcb = fcb;
      await this.lowIoSubmit(ctx, LowIoOp.LOWIO_OP_UNLOCK_MULTIPLE, null, true);
      for (const l of mine) fcb.removeFileLock(l);
    }
    const atCleanup = dev.Dispatch.MRxSetFileInfoAtCleanup;
    if (atCleanup) {
      const w = rx.callMRx(dev, "MRxSetFileInfoAtCleanup", fobx, ctx, () => atCleanup.call(dev.Dispatch, ctx));
      if (w instanceof Promise) await w;
    }
    if (last && fcb.FcbState & FCB_STATE.FCB_STATE_TRUNCATE_ON_CLOSE && dev.Dispatch.MRxTruncate) {
      const trunc = dev.Dispatch.MRxTruncate;
      await rx.callMRx(dev, "MRxTruncate", fcb, ctx, () => trunc.call(dev.Dispatch, ctx));
    }
    fcb.UncleanCount--;
    if (fo.Flags & 0x8 && fcb.UncachedUncleanCount > 0) fcb.UncachedUncleanCount--;
    if (mrxCleanup) {
      const w = rx.callMRx(dev, "MRxCleanupFobx", fobx, ctx, () => mrxCleanup.call(dev.Dispatch, ctx));
      if (w instanceof Promise) await w;
    }
    so.UncleanFobxCount--;
    if (deleting) {
      if (table.remove(fcb)) fcb.FcbState |= FCB_STATE.FCB_STATE_NAME_ALREADY_REMOVED;
      so.Flags |= SRVOPEN_FLAG.SRVOPEN_FLAG_FILE_DELETED;
    }
    this.io.IoRemoveShareAccess(fo, fcb.ShareAccess);
    fo.Flags |= FO_CLEANUP_COMPLETE;
    if (tookTable) rx.release(table.TableLock);
    rx.release(fcb.Header.Resource);
    return S.STATUS_SUCCESS;
  }

  /** RxMarkFobxOnCleanup: a disk file's FOBX becomes dormant (oldest beyond the limit is purged). */
  private markFobxOnCleanup(dev: RDBSS_DEVICE_OBJECT, fobx: FOBX): void {
    const list = dev.Scavenger.ClosePendingFobxsList;
    fobx.Flags |= FOBX_FLAG.FOBX_FLAG_MARKED_AS_DORMANT;
    list.push(fobx);
    while (list.length > dev.Scavenger.MaximumNumberOfDormantFiles) {
      const old = list.shift() as FOBX;
      old.Flags &= ~FOBX_FLAG.FOBX_FLAG_MARKED_AS_DORMANT;
    }
  }

  /**
   * RxCommonClose: the last reference to a file object is gone. Synchronous unless something waits (a contended
   * FCB, a mini-redirector call that pends): each step that may wait hands the rest to the next helper, in order.
   */
  private commonClose(ctx: RX_CONTEXT): MaybePromise<NTSTATUS> {
    const rx = this.rx;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fo = sp.FileObject as FILE_OBJECT;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    if (fo.FsContext instanceof RX_DEVICE_FCB) {
      dev.DeviceFcb.OpenCount--;
      const vnr = fo.FsContext2;
      if (vnr instanceof V_NET_ROOT) return this.closeTreeConnect(dev, fo, vnr);
      fo.FsContext = null;
      fo.FsContext2 = null;
      return S.STATUS_SUCCESS;
    }
    const fcb = fo.FsContext;
    if (!this.fcbTypeCheck(fcb, "CLOSE")) return S.STATUS_INVALID_PARAMETER;
    rx.checkAlive(fcb, "RxCommonClose");
    const fobx = fo.FsContext2 instanceof FOBX ? fo.FsContext2 : null;
    const acquiring = rx.acquireNow(fcb.Header.Resource, true);
    if (acquiring) return acquiring.then(() => this.closeHeldFcb(ctx, dev, fo, fcb, fobx));
    return this.closeHeldFcb(ctx, dev, fo, fcb, fobx);
  }

  /** RxCommonDevFCBClose: a tree-connect handle drops its V_NET_ROOT reference under the netname table. */
  private async closeTreeConnect(dev: RDBSS_DEVICE_OBJECT, fo: FILE_OBJECT, vnr: V_NET_ROOT): Promise<NTSTATUS> {
    const rx = this.rx;
    await rx.acquire(dev.pRxNetNameTable.TableLock, true);
    vnr.NumberOfOpens--;
    if (!vnr.freed) await rx.RxDereference(vnr, LockHoldingState.LHS_ExclusiveLockHeld);
    rx.release(dev.pRxNetNameTable.TableLock);
    fo.FsContext = null;
    fo.FsContext2 = null;
    return S.STATUS_SUCCESS;
  }

  /** RxCommonClose with the FCB held exclusive: the FOBX's close (delayed or not), then the FCB's dereference. */
  private closeHeldFcb(
    ctx: RX_CONTEXT,
    dev: RDBSS_DEVICE_OBJECT,
    fo: FILE_OBJECT,
    fcb: FCB,
    fobx: FOBX | null,
  ): MaybePromise<NTSTATUS> {
    const rx = this.rx;
    fcb.NodeReferenceCount++;
    let wait: Promise<unknown> | undefined;
    if (fobx) {
      rx.checkAlive(fobx, "RxCommonClose");
      const so = fobx.pSrvOpen;
      const srvCall = fcb.pNetRoot.pSrvCall;
      let delay =
        Rdbss_NodeType(fcb) === NodeType.RDBSS_NTC_STORAGE_TYPE_FILE &&
        !(fcb.FcbState & (FCB_STATE.FCB_STATE_DELETE_ON_CLOSE | FCB_STATE.FCB_STATE_ORPHANED)) &&
        (fcb.FcbState & FCB_STATE.FCB_STATE_COLLAPSING_ENABLED) !== 0 &&
        so.OpenCount === 1 &&
        !(
          so.Flags &
          (SRVOPEN_FLAG.SRVOPEN_FLAG_COLLAPSING_DISABLED |
            SRVOPEN_FLAG.SRVOPEN_FLAG_FILE_DELETED |
            SRVOPEN_FLAG.SRVOPEN_FLAG_ORPHANED)
        );
      if (delay) {
        if (++srvCall.NumberOfCloseDelayedFiles >= srvCall.MaximumNumberOfCloseDelayedFiles) {
          srvCall.NumberOfCloseDelayedFiles--;
          delay = false;
        }
      }
      // RxMarkFobxOnClose
      const dormant = dev.Scavenger.ClosePendingFobxsList.indexOf(fobx);
      if (dormant >= 0) dev.Scavenger.ClosePendingFobxsList.splice(dormant, 1);
      if (!fobx.fOpenCountDecremented) {
        fcb.OpenCount--;
        fobx.fOpenCountDecremented = true;
      }
      fobx.CloseTime = this.k.now;
      if (delay) {
        so.Flags |= SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED;
        wait = rx.dereferenceNow(fobx, LockHoldingState.LHS_SharedLockHeld);
      } else {
        const closing = rx.closeAssociatedSrvOpen(fobx, ctx);
        wait =
          closing instanceof Promise
            ? closing.then(() => rx.dereferenceNow(fobx, LockHoldingState.LHS_ExclusiveLockHeld))
            : rx.dereferenceNow(fobx, LockHoldingState.LHS_ExclusiveLockHeld);
      }
    } else {
      fcb.OpenCount--;
    }
    if (wait) return wait.then(() => this.closeDereferenceFcb(ctx, fo, fcb));
    return this.closeDereferenceFcb(ctx, fo, fcb);
  }

  /** The end of RxCommonClose: drop the FCB reference taken for the close (which may finalize the FCB). */
  private closeDereferenceFcb(ctx: RX_CONTEXT, fo: FILE_OBJECT, fcb: FCB): MaybePromise<NTSTATUS> {
    const finalizing = this.rx.dereferenceAndFinalizeNetFcbNow(fcb, ctx, false, false);
    if (typeof finalizing !== "boolean") return finalizing.then((freed) => this.closeDone(fo, fcb, freed));
    return this.closeDone(fo, fcb, finalizing);
  }

  private closeDone(fo: FILE_OBJECT, fcb: FCB, freed: boolean): NTSTATUS {
    if (!freed) this.rx.release(fcb.Header.Resource);
    fo.FsContext = null;
    fo.FsContext2 = null;
    return S.STATUS_SUCCESS;
  }

  // ================================================================== LowIo

  /**
   * RxLowIoSubmit: call MRxLowIOSubmit[op]. An asynchronous context is referenced, its IRP marked pending, and
   * STATUS_PENDING returned when the mini-redirector pends; a synchronous one waits on SyncEvent. The completion
   * routine (the "shell completion") runs when the operation completes.
   */
  lowIoSubmit(
    ctx: RX_CONTEXT,
    op: LOWIO_OP,
    completion: ((ctx: RX_CONTEXT) => NTSTATUS) | null,
    forceSync = false,
    deferWait = false,
  ): MaybePromise<NTSTATUS> {
    const rx = this.rx;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const lowio = ctx.LowIoContext;
    lowio.Operation = op;
    lowio.CompletionRoutine = completion;
    ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_NO_PREPOSTING_NEEDED;
    const mrx = dev.Dispatch.MRxLowIOSubmit[op];
    if (!mrx) return S.STATUS_NOT_IMPLEMENTED;
    const async =
      !forceSync && (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_ASYNC_OPERATION) !== 0 && ctx.CurrentIrp !== null;
    if (async) {
      ctx.ReferenceCount++;
      if (!(ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_IN_FSP)) this.io.IoMarkIrpPending(ctx.CurrentIrp as IRP);
    } else {
      lowio.Flags |= LOWIO_CONTEXT_FLAG.LOWIO_CONTEXT_FLAG_SYNCCALL;
      if (ctx.hasSyncEvent) this.k.KeClearEvent(ctx.SyncEvent);
    }
    ctx.lowIoDone = false;
    ctx.lowIoCompletion = null;
    ctx.submittedToMiniRdr = false;
    const target = ctx.pFobx ?? ctx.pFcb;
    if (rx.profile.revalidateOrphanedOnSubmit && this.orphaned(ctx)) {
      // The connection was force-deleted after the FSD gate let this request in.
      return this.lowIoSubmitted(ctx, op, async, S.STATUS_UNEXPECTED_NETWORK_ERROR, deferWait);
    }
    let name = LOWIO_SUBMIT_NAMES[op];
    if (name === undefined) {
      name = `MRxLowIOSubmit[${LOWIO_OP_NAMES[op]}]`;
      LOWIO_SUBMIT_NAMES[op] = name;
    }
    const r = rx.callMRx(dev, name, target, ctx, submitToMiniRdr, false, undefined, ctx);
    if (typeof r !== "number") return r.then((st) => this.lowIoSubmitted(ctx, op, async, st as NTSTATUS, deferWait));
    return this.lowIoSubmitted(ctx, op, async, r, deferWait);
  }

  /** lowIoSubmit once the mini-redirector returned `st`: wait for a synchronous pended call, then the completion. */
  private lowIoSubmitted(
    ctx: RX_CONTEXT,
    op: LOWIO_OP,
    async: boolean,
    st: NTSTATUS,
    deferWait: boolean,
  ): MaybePromise<NTSTATUS> {
    if (st === S.STATUS_PENDING) {
      if (
        op === LowIoOp.LOWIO_OP_NOTIFY_CHANGE_DIRECTORY &&
        ctx.MRxCancelRoutine === null &&
        !ctx.lowIoDone &&
        !ctx.cancelRoutineCalled
      ) {
        this.rx.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.NOTIFY_WITHOUT_CANCEL,
          ctx,
          `MRxLowIOSubmit[LOWIO_OP_NOTIFY_CHANGE_DIRECTORY] pended ${ctx.label()} without arming a cancel routine (RxSetMinirdrCancelRoutine): cleanup and RxFinalizeConnection cannot see it, so the handle, its FOBX and the connection stay pinned.`,
        );
      }
      if (async) return S.STATUS_PENDING;
      if (deferWait) {
        // The wait itself is returned; RxFsdDispatch / RxFspDispatch finish the LowIo when it ends (settleLowIo).
        const w = this.k.KeWaitForSingleObject(ctx.SyncEvent);
        if (typeof w === "number") return this.lowIoFinish(ctx, false);
        ctx.lowIoWaitPending = true;
        return w;
      }
      return this.lowIoWait(ctx);
    }
    if (ctx.lowIoDone) this.completedAndReturned(ctx, op, st);
    ctx.IoStatusBlock.Status = st;
    ctx.lowIoDone = true;
    return this.lowIoFinish(ctx, async);
  }

  /**
   * The mini-redirector called RxLowIoCompletion inside MRxLowIOSubmit and then returned a final status. RDBSS then
   * runs the completion a second time: an asynchronous request is completed twice; a synchronous one leaves its
   * SyncEvent signalled for the context's next wait.
   */
  private completedAndReturned(ctx: RX_CONTEXT, op: LOWIO_OP, st: NTSTATUS): void {
    this.rx.rdbssViolation(
      "minirdrContract",
      RDBSS_ASSERT.LOWIO_COMPLETED_AND_RETURNED,
      ctx,
      `MRxLowIOSubmit[${LOWIO_OP_NAMES[op]}] called RxLowIoCompletion for ${ctx.label()} and then returned ${statusName(st)}: a LowIo call either returns STATUS_PENDING and later calls RxLowIoCompletion, or returns its final status without calling it; doing both completes the request twice.`,
    );
  }

  /** A synchronous LowIo call the mini-redirector pended: wait on SyncEvent for RxLowIoCompletion. */
  private async lowIoWait(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    await this.k.KeWaitForSingleObject(ctx.SyncEvent);
    return this.lowIoFinish(ctx, false);
  }

  /**
   * A common routine's promise settled with `status`: when it was a read's or write's deferred LowIo wait, finish the
   * LowIo now (on the waiting thread, with its RX_CONTEXT still current, as lowIoWait would have).
   */
  private settleLowIo(ctx: RX_CONTEXT, status: NTSTATUS): NTSTATUS {
    if (!ctx.lowIoWaitPending) return status;
    ctx.lowIoWaitPending = false;
    return this.lowIoFinish(ctx, false);
  }

  /** The shell completion of a LowIo call that did not pend (or was waited for). */
  private lowIoFinish(ctx: RX_CONTEXT, async: boolean): NTSTATUS {
    const completion = ctx.LowIoContext.CompletionRoutine;
    const final = completion ? completion(ctx) : ctx.IoStatusBlock.Status;
    if (async) {
      // Marked pending before the call: complete here and return STATUS_PENDING to the I/O manager.
      this.completeRequest(ctx, final);
      this.dereferenceContext(ctx);
      return S.STATUS_PENDING;
    }
    return final;
  }

  /**
   * For a second completion's report: who completed the request first. RxLowIoCompletion's caller names the
   * mini-redirector's path (its receive thread, its cancel routine); else RxCompleteRequest's caller.
   */
  private firstCompletionText(ctx: RX_CONTEXT): string {
    const lowIo = ctx.lowIoCompletion;
    if (lowIo !== null) return ` RxLowIoCompletion was first called by ${describeWitness(lowIo)}.`;
    const done = ctx.CurrentIrp?.completion ?? ctx.completion;
    if (done !== null) return ` The request was first completed by ${describeWitness(done)}.`;
    return ctx.lowIoDone ? " The first completion was MRxLowIOSubmit returning the operation's final status." : "";
  }

  private orphaned(ctx: RX_CONTEXT): boolean {
    const fcb = ctx.pFcb;
    const so = ctx.pFobx?.pSrvOpen ?? null;
    return (
      (fcb !== null && (fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) !== 0) ||
      (so !== null && (so.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_ORPHANED) !== 0)
    );
  }

  /**
   * RxLowIoCompletion: the mini-redirector reports that a LowIo operation finished (IoStatusBlock set). Synchronous
   * contexts are woken; asynchronous ones run the completion and complete the IRP, deferred to a worker when called
   * at DISPATCH_LEVEL without LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL.
   */
  lowIoCompletion(ctx: RX_CONTEXT): NTSTATUS {
    if (ctx.lowIoDone || ctx.completed) {
      // RDBSS's own look at a context that may be freed already (its first completion let it go): not the driver's.
      const [irp, op, first] = this.rx.verifier.look(
        () => [ctx.CurrentIrp, ctx.LowIoContext.Operation, this.firstCompletionText(ctx)] as const,
      );
      this.k.bugCheck(
        BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS,
        [irp ? this.k.addressOf(irp) : 0n, this.k.addressOf(ctx), 0n, 0n],
        `RxLowIoCompletion was called again for ${ctx.label()} (${LOWIO_OP_NAMES[op]}), which has already completed: the mini-redirector completed the request twice (often its completion racing its cancel routine without RxSetMinirdrCancelRoutine(RxContext, NULL)).${first}`,
      );
    }
    ctx.lowIoDone = true;
    ctx.lowIoCompletion = this.k.witness(this.k.current as KThread);
    const lowio = ctx.LowIoContext;
    if (lowio.Flags & LOWIO_CONTEXT_FLAG.LOWIO_CONTEXT_FLAG_SYNCCALL) {
      // The waiting thread runs the completion; the documented return for a synchronous context.
      this.k.KeSetEvent(ctx.SyncEvent);
      return S.STATUS_MORE_PROCESSING_REQUIRED;
    }
    const t = this.k.current as KThread;
    if (t.irql >= DISPATCH_LEVEL && !(lowio.Flags & LOWIO_CONTEXT_FLAG.LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL)) {
      const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      const item = this.k.ExInitializeWorkItem(
        () => {
          this.completionTail(ctx);
        },
        ctx,
        `RxLowIoCompletionTail ${ctx.label()}`,
      );
      this.k.ExQueueWorkItem(item, WorkQueueType.CriticalWorkQueue);
      void dev;
      return S.STATUS_MORE_PROCESSING_REQUIRED;
    }
    // Run here: the return is what the completion routine returned.
    return this.completionTail(ctx);
  }

  private completionTail(ctx: RX_CONTEXT): NTSTATUS {
    const routine = ctx.LowIoContext.CompletionRoutine;
    const status = routine ? routine(ctx) : ctx.IoStatusBlock.Status;
    this.completeRequest(ctx, status);
    this.dereferenceContext(ctx);
    return status;
  }

  // ================================================================== READ and WRITE

  private commonReadWrite(ctx: RX_CONTEXT, write: boolean): MaybePromise<NTSTATUS> {
    const rx = this.rx;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fcb = ctx.pFcb;
    if (!fcb || !ctx.pFobx) return S.STATUS_INVALID_DEVICE_REQUEST;
    rx.checkAlive(fcb, write ? "RxCommonWrite" : "RxCommonRead");
    const type = Rdbss_NodeType(fcb);
    if (type === NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY) return S.STATUS_INVALID_DEVICE_REQUEST;
    const length = sp.Parameters.Read.Length;
    if (length === 0) {
      ctx.InformationToReturn = 0;
      return S.STATUS_SUCCESS;
    }
    const res = fcb.Header.Resource;
    const canWait = (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT) !== 0;
    const got = write
      ? this.k.ExAcquireResourceExclusiveLite(res, canWait)
      : this.k.ExAcquireResourceSharedLite(res, canWait);
    if (got === false) return this.postRequest(ctx);
    if (got !== true) return got.then(() => this.readWriteLocked(ctx, fcb, write));
    return this.readWriteLocked(ctx, fcb, write);
  }

  /** RxCommonRead / RxCommonWrite with the FCB resource held: extend for a write past the allocation, then LowIo. */
  private readWriteLocked(ctx: RX_CONTEXT, fcb: FCB, write: boolean): MaybePromise<NTSTATUS> {
    const rx = this.rx;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const length = sp.Parameters.Read.Length;
    let offset = sp.Parameters.Read.ByteOffset;
    if (write && offset >= Number.MAX_SAFE_INTEGER) offset = fcb.Header.FileSize;
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    p.Buffer = (ctx.CurrentIrp as IRP).MdlAddress;
    p.ByteOffset = offset;
    p.ByteCount = length;
    p.Key = sp.Parameters.Read.Key;
    p.Flags = 0;
    if (write && offset + length > fcb.Header.FileSize) {
      p.Flags |= 0x2;
      const dev = rx.deviceOf(fcb);
      const ext = dev.Dispatch.MRxExtendForNonCache;
      if (offset + length > fcb.Header.AllocationSize && ext) {
        const r = rx.callMRx(dev, "MRxExtendForNonCache", fcb, ctx, () => ext.call(dev.Dispatch, ctx, offset + length));
        if (r instanceof Promise) return r.then(() => this.readWriteSubmit(ctx, fcb, write, offset));
      }
    }
    return this.readWriteSubmit(ctx, fcb, write, offset);
  }

  private readWriteSubmit(ctx: RX_CONTEXT, fcb: FCB, write: boolean, offset: number): MaybePromise<NTSTATUS> {
    const fo = (ctx.CurrentIrpSp as IO_STACK_LOCATION).FileObject as FILE_OBJECT;
    const res = fcb.Header.Resource;
    const synchronousFo = (fo.Flags & FO_SYNCHRONOUS_IO) !== 0;
    const async = (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_ASYNC_OPERATION) !== 0;
    // The completion thread releases the resource for the context (ResourceThreadId = RxContext | 3).
    // Only an asynchronous context hands its resource to the completion thread; a synchronous one releases its own.
    const owner = async ? this.k.makeResourceOwnerPointer(`${ctx.label()}|3`, ctx) : null;
    if (owner !== null) this.k.ExSetResourceOwnerPointer(res, owner);
    ctx.LowIoContext.Resource = res;
    ctx.LowIoContext.ResourceThreadId = owner !== null ? owner : this.k.current;
    // The completion is passed inline, not bound to a name first: under tsx (esbuild keepNames) a named closure gets
    // an Object.defineProperty(fn, "name") per read, a measurable share of the read path.
    return this.lowIoSubmit(
      ctx,
      write ? LowIoOp.LOWIO_OP_WRITE : LowIoOp.LOWIO_OP_READ,
      (c: RX_CONTEXT): NTSTATUS => {
        const st = c.IoStatusBlock.Status;
        const n = NT_SUCCESS(st) ? c.IoStatusBlock.Information : 0;
        c.InformationToReturn = n;
        if (NT_SUCCESS(st)) {
          if (write && offset + n > fcb.Header.FileSize && !fcb.freed) {
            fcb.Header.FileSize = offset + n;
            if (fcb.Header.AllocationSize < fcb.Header.FileSize) fcb.Header.AllocationSize = fcb.Header.FileSize;
            fcb.Header.ValidDataLength = fcb.Header.FileSize;
          }
          if (synchronousFo) fo.CurrentByteOffset = offset + n;
        }
        if (!res.deleted) {
          if (owner !== null) this.k.ExReleaseResourceForThreadLite(res, owner);
          else this.k.ExReleaseResourceLite(res);
        }
        return st;
      },
      false,
      true,
    );
  }

  // ================================================================== information

  private infoSetup(ctx: RX_CONTEXT, cls: number, buffer: Uint8Array | null, length: number): void {
    ctx.Info.FileInformationClass = cls;
    ctx.Info.Buffer = buffer;
    ctx.Info.Length = length;
    ctx.Info.LengthRemaining = length;
  }

  private async commonQueryInformation(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const rx = this.rx;
    const irp = ctx.CurrentIrp as IRP;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fo = sp.FileObject as FILE_OBJECT;
    const fcb = ctx.pFcb;
    if (!fcb) return S.STATUS_INVALID_PARAMETER;
    rx.checkAlive(fcb, "RxCommonQueryInformation");
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const cls = sp.Parameters.QueryFile.FileInformationClass;
    const length = sp.Parameters.QueryFile.Length;
    const buf = irp.SystemBuffer;
    if (!buf) return S.STATUS_INVALID_PARAMETER;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    switch (cls) {
      case FilePositionInformation:
        if (length < 8) return S.STATUS_INFO_LENGTH_MISMATCH;
        dv.setBigInt64(0, BigInt(fo.CurrentByteOffset), true);
        ctx.InformationToReturn = 8;
        return S.STATUS_SUCCESS;
      case FileModeInformation:
        if (length < 4) return S.STATUS_INFO_LENGTH_MISMATCH;
        dv.setUint32(0, fo.Flags & 0x3e, true);
        ctx.InformationToReturn = 4;
        return S.STATUS_SUCCESS;
      case FileAlignmentInformation:
        if (length < 4) return S.STATUS_INFO_LENGTH_MISMATCH;
        dv.setUint32(0, 0, true);
        ctx.InformationToReturn = 4;
        return S.STATUS_SUCCESS;
      case FileNameInformation: {
        const name = fcb.PrivateAlreadyPrefixedName;
        if (length < 4) return S.STATUS_INFO_LENGTH_MISMATCH;
        dv.setUint32(0, name.length * 2, true);
        const room = Math.floor((length - 4) / 2);
        for (let i = 0; i < Math.min(room, name.length); i++) dv.setUint16(4 + i * 2, name.charCodeAt(i), true);
        ctx.InformationToReturn = 4 + Math.min(room, name.length) * 2;
        return room < name.length ? S.STATUS_BUFFER_OVERFLOW : S.STATUS_SUCCESS;
      }
    }
    const mrx = dev.Dispatch.MRxQueryFileInfo;
    if (!mrx) return S.STATUS_NOT_IMPLEMENTED;
    await rx.acquire(fcb.Header.Resource, false);
    try {
      this.infoSetup(ctx, cls, buf, length);
      const st = (await rx.callMRx(dev, "MRxQueryFileInfo", fcb, ctx, () => mrx.call(dev.Dispatch, ctx))) as NTSTATUS;
      if (ctx.PostRequest && st !== S.STATUS_PENDING) return this.postRequest(ctx);
      if (NT_SUCCESS(st) || st === S.STATUS_BUFFER_OVERFLOW)
        ctx.InformationToReturn = length - ctx.Info.LengthRemaining;
      return st;
    } finally {
      if (!fcb.freed) rx.release(fcb.Header.Resource);
    }
  }

  private async commonSetInformation(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const rx = this.rx;
    const irp = ctx.CurrentIrp as IRP;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fo = sp.FileObject as FILE_OBJECT;
    const fcb = ctx.pFcb;
    const fobx = ctx.pFobx;
    if (!fcb || !fobx) return S.STATUS_INVALID_PARAMETER;
    rx.checkAlive(fcb, "RxCommonSetInformation");
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const cls = sp.Parameters.SetFile.FileInformationClass;
    const length = sp.Parameters.SetFile.Length;
    const buf = irp.SystemBuffer;
    if (!buf) return S.STATUS_INVALID_PARAMETER;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (cls === FilePositionInformation) {
      if (length < 8) return S.STATUS_INFO_LENGTH_MISMATCH;
      fo.CurrentByteOffset = Number(dv.getBigInt64(0, true));
      return S.STATUS_SUCCESS;
    }
    const mrx = dev.Dispatch.MRxSetFileInfo;
    if (!mrx) return S.STATUS_NOT_IMPLEMENTED;
    const renameOrDelete =
      cls === FileRenameInformation || cls === FileDispositionInformation || cls === FileDispositionInformationEx;
    const table = rx.fcbTableOf(fcb.pNetRoot);
    if (renameOrDelete) {
      // Purge the dormant files related to this one, then close the NET_ROOT's dormant opens, so that their delayed
      // closes do not hold this file (or a rename's target) open.
      await this.purgeRelatedFobxs({ fcb, ctx });
      await this.scavengeFobxsForNetRoot(fcb.pNetRoot);
      await rx.acquire(table.TableLock, true);
    }
    await rx.acquire(fcb.Header.Resource, true);
    try {
      this.infoSetup(ctx, cls, buf, length);
      ctx.Info.ReplaceIfExists = sp.Parameters.SetFile.ReplaceIfExists;
      const st = (await rx.callMRx(dev, "MRxSetFileInfo", fcb, ctx, () => mrx.call(dev.Dispatch, ctx))) as NTSTATUS;
      if (ctx.PostRequest && st !== S.STATUS_PENDING) return this.postRequest(ctx);
      if (NT_SUCCESS(st)) {
        if (cls === FileDispositionInformation || cls === FileDispositionInformationEx) {
          const del = cls === FileDispositionInformation ? (buf[0] ?? 0) !== 0 : (dv.getUint32(0, true) & 1) !== 0;
          if (del) fcb.FcbState |= FCB_STATE.FCB_STATE_DELETE_ON_CLOSE;
          else fcb.FcbState &= ~FCB_STATE.FCB_STATE_DELETE_ON_CLOSE;
        } else if (cls === FileRenameInformation) {
          fobx.pSrvOpen.Flags |= SRVOPEN_FLAG.SRVOPEN_FLAG_FILE_RENAMED;
          if (table.remove(fcb)) fcb.FcbState |= FCB_STATE.FCB_STATE_NAME_ALREADY_REMOVED;
        } else if (cls === FileEndOfFileInformation && length >= 8) {
          fcb.Header.FileSize = Number(dv.getBigInt64(0, true));
          if (fcb.Header.ValidDataLength > fcb.Header.FileSize) fcb.Header.ValidDataLength = fcb.Header.FileSize;
        } else if (cls === FileAllocationInformation && length >= 8) {
          fcb.Header.AllocationSize = Number(dv.getBigInt64(0, true));
        }
      }
      return st;
    } finally {
      if (!fcb.freed) rx.release(fcb.Header.Resource);
      if (renameOrDelete) rx.release(table.TableLock);
    }
  }

  private async commonQueryVolume(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const rx = this.rx;
    const irp = ctx.CurrentIrp as IRP;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const mrx = dev.Dispatch.MRxQueryVolumeInfo;
    if (!mrx) return S.STATUS_NOT_IMPLEMENTED;
    const length = sp.Parameters.QueryVolume.Length;
    this.infoSetup(ctx, 0, irp.SystemBuffer, length);
    ctx.Info.FsInformationClass = sp.Parameters.QueryVolume.FsInformationClass;
    const st = (await rx.callMRx(dev, "MRxQueryVolumeInfo", ctx.pFcb, ctx, () =>
      mrx.call(dev.Dispatch, ctx),
    )) as NTSTATUS;
    if (ctx.PostRequest && st !== S.STATUS_PENDING) return this.postRequest(ctx);
    if (NT_SUCCESS(st) || st === S.STATUS_BUFFER_OVERFLOW) ctx.InformationToReturn = length - ctx.Info.LengthRemaining;
    return st;
  }

  private async commonFlush(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const fcb = ctx.pFcb;
    if (!fcb) return S.STATUS_INVALID_DEVICE_REQUEST;
    const mrx = dev.Dispatch.MRxFlush;
    if (!mrx) return S.STATUS_SUCCESS;
    await this.rx.acquire(fcb.Header.Resource, true);
    try {
      return (await this.rx.callMRx(dev, "MRxFlush", fcb, ctx, () => mrx.call(dev.Dispatch, ctx))) as NTSTATUS;
    } finally {
      if (!fcb.freed) this.rx.release(fcb.Header.Resource);
    }
  }

  // ================================================================== directory control

  private async commonDirectoryControl(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const rx = this.rx;
    const irp = ctx.CurrentIrp as IRP;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fcb = ctx.pFcb;
    const fobx = ctx.pFobx;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    if (!fcb || !fobx) return S.STATUS_INVALID_PARAMETER;
    rx.checkAlive(fcb, "RxCommonDirectoryControl");
    if (Rdbss_NodeType(fcb) !== NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY) return S.STATUS_INVALID_PARAMETER;
    if (sp.MinorFunction === IRP_MN_QUERY_DIRECTORY) {
      const mrx = dev.Dispatch.MRxQueryDirectory;
      if (!mrx) return S.STATUS_NOT_IMPLEMENTED;
      await rx.acquire(fcb.Header.Resource, true);
      try {
        const q = ctx.QueryDirectory;
        q.InitialQuery = fobx.UnicodeQueryTemplate === null;
        if (q.InitialQuery) fobx.UnicodeQueryTemplate = sp.Parameters.QueryDirectory.FileName ?? "*";
        if (fobx.UnicodeQueryTemplate === "*") fobx.Flags |= FOBX_FLAG.FOBX_FLAG_MATCH_ALL;
        q.Template = fobx.UnicodeQueryTemplate;
        q.RestartScan = (sp.Flags & SL_RESTART_SCAN) !== 0;
        q.ReturnSingleEntry = (sp.Flags & SL_RETURN_SINGLE_ENTRY) !== 0;
        q.IndexSpecified = (sp.Flags & SL_INDEX_SPECIFIED) !== 0;
        q.FileIndex = sp.Parameters.QueryDirectory.FileIndex;
        const length = sp.Parameters.QueryDirectory.Length;
        this.infoSetup(ctx, sp.Parameters.QueryDirectory.FileInformationClass, irp.MdlAddress, length);
        const st = (await rx.callMRx(dev, "MRxQueryDirectory", fobx, ctx, () =>
          mrx.call(dev.Dispatch, ctx),
        )) as NTSTATUS;
        if (ctx.PostRequest && st !== S.STATUS_PENDING) return this.postRequest(ctx);
        if (NT_SUCCESS(st) || st === S.STATUS_BUFFER_OVERFLOW)
          ctx.InformationToReturn = length - ctx.Info.LengthRemaining;
        return st;
      } finally {
        if (!fcb.freed) rx.release(fcb.Header.Resource);
      }
    }
    if (sp.MinorFunction === IRP_MN_NOTIFY_CHANGE_DIRECTORY) {
      const p = ctx.LowIoContext.ParamsFor.NotifyChangeDirectory;
      p.WatchTree = (sp.Flags & SL_WATCH_TREE) !== 0;
      p.CompletionFilter = sp.Parameters.NotifyDirectory.CompletionFilter;
      p.NotificationBufferLength = sp.Parameters.NotifyDirectory.Length;
      p.pNotificationBuffer = irp.MdlAddress;
      ctx.NotifyChangeDirectory.pVNetRoot = fcb.VNetRoot;
      return this.lowIoSubmit(ctx, LowIoOp.LOWIO_OP_NOTIFY_CHANGE_DIRECTORY, (c) => {
        c.InformationToReturn = c.IoStatusBlock.Information;
        return c.IoStatusBlock.Status;
      });
    }
    return S.STATUS_INVALID_DEVICE_REQUEST;
  }

  // ================================================================== device and file-system control

  private async commonControl(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const rx = this.rx;
    const irp = ctx.CurrentIrp as IRP;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fo = sp.FileObject;
    if (fo === null) {
      if (sp.Parameters.IoControlCode === IOCTL_REDIR_QUERY_PATH && irp.RequestorMode === "KernelMode") {
        return this.prefixClaim(ctx, irp, sp);
      }
      return S.STATUS_INVALID_DEVICE_REQUEST;
    }
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const fsctl = sp.MajorFunction === IRP_MJ.IRP_MJ_FILE_SYSTEM_CONTROL;
    const code = sp.Parameters.DeviceIoControl.IoControlCode;
    const method = METHOD_FROM_CTL_CODE(code);
    const p = fsctl ? ctx.LowIoContext.ParamsFor.FsCtl : ctx.LowIoContext.ParamsFor.IoCtl;
    p.FsControlCode = code;
    p.MinorFunction = sp.MinorFunction;
    p.InputBufferLength = sp.Parameters.DeviceIoControl.InputBufferLength;
    p.OutputBufferLength = sp.Parameters.DeviceIoControl.OutputBufferLength;
    if (method === METHOD_NEITHER) {
      p.pInputBuffer = sp.Parameters.DeviceIoControl.Type3InputBuffer;
      p.pOutputBuffer = irp.UserBuffer instanceof Uint8Array ? irp.UserBuffer : null;
    } else {
      p.pInputBuffer = irp.SystemBuffer ?? sp.Parameters.DeviceIoControl.Type3InputBuffer;
      p.pOutputBuffer = method === METHOD_BUFFERED ? irp.SystemBuffer : irp.MdlAddress;
    }
    if (fo.FsContext instanceof RX_DEVICE_FCB) {
      // RxCommonDevFCBIoCtl / FsCtl: the mini-redirector's control plane on the device FCB.
      if (fo.FsContext2 !== null) return S.STATUS_INVALID_HANDLE;
      if (!fsctl && code === IOCTL_REDIR_QUERY_PATH) {
        if (irp.RequestorMode !== "KernelMode") return S.STATUS_INVALID_DEVICE_REQUEST;
        return this.prefixClaim(ctx, irp, sp);
      }
      const caller = this.k.thread("MRxDevFcbXXXControlFile");
      rx.verifier.beginControl(caller);
      const st = (await rx.callMRx(dev, "MRxDevFcbXXXControlFile", null, ctx, () =>
        dev.Dispatch.MRxDevFcbXXXControlFile(ctx),
      )) as NTSTATUS;
      rx.verifier.endControl(caller, st);
      if (ctx.PostRequest && st !== S.STATUS_PENDING) return this.postRequest(ctx);
      return st;
    }
    if (!fsctl && code === IOCTL_REDIR_QUERY_PATH) return S.STATUS_INVALID_DEVICE_REQUEST;
    if (!ctx.pFcb) return S.STATUS_INVALID_DEVICE_REQUEST;
    return this.lowIoSubmit(ctx, fsctl ? LowIoOp.LOWIO_OP_FSCTL : LowIoOp.LOWIO_OP_IOCTL, (c) => {
      c.InformationToReturn = c.IoStatusBlock.Information;
      return c.IoStatusBlock.Status;
    });
  }

  /** RxPrefixClaim: MUP asks whether this redirector serves a path; answering builds the connection objects. */
  private async prefixClaim(ctx: RX_CONTEXT, irp: IRP, sp: IO_STACK_LOCATION): Promise<NTSTATUS> {
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    if (dev.StartStopContext.State !== RdbssState.RDBSS_STARTED) return S.STATUS_REDIRECTOR_NOT_STARTED;
    const req = sp.Parameters.DeviceIoControl.Type3InputBuffer as QUERY_PATH_REQUEST | null;
    const resp = irp.UserBuffer as QUERY_PATH_RESPONSE | null;
    if (!req || !resp) return S.STATUS_INVALID_PARAMETER;
    const canonical = this.canonicalize(ctx, req.FilePathName);
    if (canonical === null) return S.STATUS_OBJECT_NAME_INVALID;
    ctx.PrefixClaim.SuppliedPathName = req.FilePathName;
    try {
      const st = await this.findOrConstructVNetRoot(ctx, canonical);
      if (!NT_SUCCESS(st)) return st;
      const nr = (ctx.Create.pVNetRoot as V_NET_ROOT).pNetRoot;
      resp.LengthAccepted = nr.pNetRootName.length * 2;
      return S.STATUS_SUCCESS;
    } finally {
      await this.releaseCreateReferences(ctx);
    }
  }

  // ================================================================== locks

  private async commonLockControl(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const rx = this.rx;
    const sp = ctx.CurrentIrpSp as IO_STACK_LOCATION;
    const fcb = ctx.pFcb;
    const fobx = ctx.pFobx;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    if (!fcb || !fobx) return S.STATUS_INVALID_PARAMETER;
    if (Rdbss_NodeType(fcb) !== NodeType.RDBSS_NTC_STORAGE_TYPE_FILE) return S.STATUS_INVALID_PARAMETER;
    const p = ctx.LowIoContext.ParamsFor.Locks;
    p.ByteOffset = sp.Parameters.LockControl.ByteOffset;
    p.Length = sp.Parameters.LockControl.Length;
    p.Key = sp.Parameters.LockControl.Key;
    p.Flags = 0;
    const minor = sp.MinorFunction;
    if (minor === IRP_MN_LOCK) {
      const exclusive = (sp.Flags & SL_EXCLUSIVE_LOCK) !== 0;
      if (sp.Flags & SL_FAIL_IMMEDIATELY) p.Flags |= LOWIO_LOCKSFLAG_FAIL_IMMEDIATELY;
      if (exclusive) p.Flags |= LOWIO_LOCKSFLAG_EXCLUSIVELOCK;
      const realizable = dev.Dispatch.MRxIsLockRealizable;
      if (realizable) {
        const r = await rx.callMRx(
          dev,
          "MRxIsLockRealizable",
          fcb,
          ctx,
          () => realizable.call(dev.Dispatch, fcb, p.ByteOffset, p.Length, p.Flags),
          true,
        );
        if (!NT_SUCCESS(r)) return r as NTSTATUS;
      }
      const offset = p.ByteOffset;
      const length = p.Length;
      const key = p.Key;
      fcb.OutstandingLockOperationsCount++;
      return this.lowIoSubmit(ctx, exclusive ? LowIoOp.LOWIO_OP_EXCLUSIVELOCK : LowIoOp.LOWIO_OP_SHAREDLOCK, (c) => {
        fcb.OutstandingLockOperationsCount--;
        if (NT_SUCCESS(c.IoStatusBlock.Status) && !fcb.freed) fcb.addFileLock({ fobx, offset, length, key, exclusive });
        return c.IoStatusBlock.Status;
      });
    }
    if (minor === IRP_MN_UNLOCK_SINGLE) {
      const offset = p.ByteOffset;
      const length = p.Length;
      return this.lowIoSubmit(ctx, LowIoOp.LOWIO_OP_UNLOCK, (c) => {
        if (NT_SUCCESS(c.IoStatusBlock.Status)) {
          const held = fcb.FileLocks.find((l) => l.fobx === fobx && l.offset === offset && l.length === length);
          if (held !== undefined) fcb.removeFileLock(held);
        }
        return c.IoStatusBlock.Status;
      });
    }
    if (minor === IRP_MN_UNLOCK_ALL) {
      const mine = fcb.FileLocks.filter((l) => l.fobx === fobx);
      p.LockList = mine.map((l) => ({ ByteOffset: l.offset, Length: l.length, Key: l.key }));
      return this.lowIoSubmit(ctx, LowIoOp.LOWIO_OP_UNLOCK_MULTIPLE, (c) => {
        if (NT_SUCCESS(c.IoStatusBlock.Status)) for (const l of mine) fcb.removeFileLock(l);
        return c.IoStatusBlock.Status;
      });
    }
    return S.STATUS_INVALID_DEVICE_REQUEST;
  }

  // ================================================================== scavenging helpers

  /**
   * RxPurgeRelatedFobxs before a rename or a delete of `purging.fcb`: the dormant (scavenger-marked) files of the
   * NET_ROOT related to it are purged from the cache. A directory relates to every file. For a file, RDBSS asks the
   * mini-redirector about each other dormant file: MRxAreFilesAliased(Fcb, PurgingFcb) returning
   * STATUS_MORE_PROCESSING_REQUIRED means aliased, anything else (or a NULL entry) not. The emulator has no cached data
   * to purge, so the answer changes nothing here: what is observable is the calls. RxScavengeFobxsForNetRoot then
   * closes the dormant files.
   */
  async purgeRelatedFobxs(purging: PurgingFcb): Promise<void> {
    if (Rdbss_NodeType(purging.fcb) === NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY) return;
    const netRoot = purging.fcb.pNetRoot;
    const dev = this.rx.deviceOf(netRoot);
    const mrx = dev.Dispatch.MRxAreFilesAliased;
    if (!mrx) return;
    const seen = new Set<FCB>([purging.fcb]);
    for (const fobx of [...dev.Scavenger.FobxFinalizationList]) {
      const fcb = fobx.pSrvOpen.pFcb;
      if (fobx.freed || !fobx.scavengerMarked || fcb.pNetRoot !== netRoot || seen.has(fcb)) continue;
      seen.add(fcb);
      await this.rx.callMRx(
        dev,
        "MRxAreFilesAliased",
        fcb,
        purging.ctx,
        () => mrx.call(dev.Dispatch, fcb, purging.fcb),
        true,
      );
    }
  }

  /** RxScavengeFobxsForNetRoot: finalize the dormant (scavenger-marked) FOBXs of a NET_ROOT and purge their FCBs. */
  async scavengeFobxsForNetRoot(netRoot: NET_ROOT): Promise<number> {
    const rx = this.rx;
    const sc = rx.deviceOf(netRoot).Scavenger;
    const victims = sc.FobxFinalizationList.filter((f) => f.pSrvOpen.pFcb.pNetRoot === netRoot);
    let n = 0;
    for (const fobx of victims) {
      if (fobx.freed || !fobx.scavengerMarked) continue;
      const fcb = fobx.pSrvOpen.pFcb;
      await rx.acquire(fcb.Header.Resource, true);
      if (fobx.scavengerMarked && !fobx.freed) {
        rx.undoScavengerMark(fobx);
        await rx.RxFinalizeNetFobx(fobx, true, false);
        n++;
      }
      fcb.NodeReferenceCount++;
      const freed = await rx.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, false);
      if (!freed) rx.release(fcb.Header.Resource);
    }
    return n;
  }
}

/** The file a rename or a delete purges for (RxPurgeRelatedFobxs's PurgingFcb), and the request doing it. */
interface PurgingFcb {
  readonly fcb: FCB;
  readonly ctx: RX_CONTEXT;
}

/** The node type with the scavenger bit stripped. */
function Rdbss_NodeType(obj: { NodeTypeCode: number }): number {
  return obj.NodeTypeCode & ~0x1000;
}

export type { FOBX, SRV_OPEN };

/** Whether any FOBX of the FCB's SRV_OPENs is marked for the scavenger (a dormant, delay-closed open). */
function hasScavengerMarkedFobx(fcb: FCB): boolean {
  for (let so = fcb.srvOpenFirst; so !== null; so = so.nextInFcb) {
    for (let f = so.fobxFirst; f !== null; f = f.nextInSrvOpen) if (f.scavengerMarked) return true;
  }
  return false;
}
