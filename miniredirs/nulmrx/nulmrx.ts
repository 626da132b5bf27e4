/**
 * nulmrx: the smallest complete network mini-redirector, after the WDK's "null mini-redirector" sample. Its
 * "server" is a local in-memory store, so everything completes synchronously except change notifications, which
 * pend with a cancel routine. Read it top to bottom to see what a mini-redirector owes RDBSS:
 *
 *   1. DriverEntry registers a MINIRDR_DISPATCH with RxRegisterMinirdr.
 *   2. A user-mode "network provider" sends START to the device, then ADDCONN / DELCONN per connection.
 *   3. RDBSS builds SRV_CALL → NET_ROOT → V_NET_ROOT through MRxCreateSrvCall and MRxCreateVNetRoot, which must
 *      return STATUS_PENDING and call back exactly once.
 *   4. Each open goes through MRxCreate, which creates the FOBX (RxCreateNetFobx) and, on the first open of a file,
 *      sets the FCB's type (RxFinishFcbInitialization).
 *   5. Reads, writes, locks and notifications come through MRxLowIOSubmit[LOWIO_OP_*].
 *   6. Teardown: MRxCleanupFobx at the last handle, MRxCloseSrvOpen when the open really closes (perhaps much
 *      later: delayed close), MRxDeallocateForFobx / ForFcb, and MRxFinalizeVNetRoot / NetRoot / SrvCall.
 *
 * Like the WDK sample it serves drive letters only (RX_REGISTERMINI_FLAG_DONT_PROVIDE_UNCS).
 */
import {
  CTL_CODE,
  type DirEntry,
  type DRIVER_OBJECT,
  decodeFileInformation,
  encodeDirectoryEntries,
  encodeFileInformation,
  encodeFsInformation,
  encodeNotifyRecords,
  FILE_ANY_ACCESS,
  FILE_ATTRIBUTE,
  FILE_CREATE,
  FILE_CREATED,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_DIRECTORY_FILE,
  FILE_DOES_NOT_EXIST,
  FILE_INFORMATION_CLASS,
  FILE_NON_DIRECTORY_FILE,
  FILE_OPEN,
  FILE_OPENED,
  FILE_OVERWRITE,
  FILE_OVERWRITE_IF,
  FILE_OVERWRITTEN,
  FILE_REMOTE_DEVICE,
  FILE_SUPERSEDE,
  FILE_SUPERSEDED,
  FS_INFORMATION_CLASS,
  isDecodeError,
  isDirectoryInformationClass,
  isSupportedFileInformationClass,
  METHOD_BUFFERED,
  makeDirEntry,
} from "../../emulator/io/index.js";
import { NT_SUCCESS, type NTSTATUS, STATUS, WorkQueueType } from "../../emulator/kernel/index.js";
import {
  FCB_STATE,
  type FOBX,
  LOWIO_CONTEXT_FLAG,
  type MINIRDR_DISPATCH,
  type MRX_CREATENETROOT_CONTEXT,
  type MRX_FCB,
  type MRX_SRV_CALL,
  type MRX_SRVCALL_CALLBACK_CONTEXT,
  type NET_ROOT,
  NodeType,
  type RDBSS_DEVICE_OBJECT,
  RDBSS_MANAGE,
  type Rdbss,
  RX_CONTEXT,
  RX_REGISTERMINI_FLAG,
} from "../../emulator/rdbss/index.js";
import {
  armCancelRoutine,
  ConnectionControlPlane,
  extractServerShareNetRoot,
  finishDriverEntry,
} from "../common/control.js";
import { matchesTemplate, type NulChange, type NulNode, NulShare } from "./store.js";

const S = STATUS;
const FIC = FILE_INFORMATION_CLASS;

/** The control plane on \Device\NulMRx (METHOD_BUFFERED, FILE_ANY_ACCESS). */
export const IOCTL_NULMRX = {
  START: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS),
  STOP: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS),
  /** Input: UTF-16LE "\;X:0\server\share" [NUL user NUL password]. */
  ADDCONN: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS),
  /** Input: one byte force level (0 = FALSE, 1 = TRUE, 0xff), then the UTF-16LE connection name. */
  DELCONN: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS),
  /** Output: 26 bytes, 1 for each drive letter connected. */
  GETLIST: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x804, METHOD_BUFFERED, FILE_ANY_ACCESS),
  /** Input: UTF-16LE drive letter; output: the UTF-16LE remote name. */
  GETCONN: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x805, METHOD_BUFFERED, FILE_ANY_ACCESS),
} as const;

export const NULMRX_DEVICE_NAME = "\\Device\\NulMRx";

/** Per-structure extensions (RDBSS allocates them because MRxFlags asks it to). */
export interface NulExtensions {
  NetRoot: { share: NulShare | null };
  Fcb: { node: NulNode | null };
  Fobx: { dirIndex: number; notify: RX_CONTEXT | null };
}

export interface NulMrxOptions {
  /** Share names the store serves (default "share" and "public"); other names fail with STATUS_BAD_NETWORK_NAME. */
  readonly shares?: readonly string[];
  /** MaximumNumberOfCloseDelayedFiles per server (default 16; 0 disables delayed close). */
  readonly closeDelayedFiles?: number;
  /**
   * Behave like a network redirector for reads and writes: return STATUS_PENDING and complete from a DPC after this
   * many 100 ns units of virtual latency (RxLowIoCompletion at DISPATCH_LEVEL). Default: complete synchronously.
   */
  readonly dpcLatency?: number;
  /** With dpcLatency: set LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL so RDBSS completes in the DPC itself. */
  readonly canCompleteAtDpcLevel?: boolean;
}

interface PendingNotify {
  readonly ctx: RX_CONTEXT;
  readonly dir: NulNode;
  readonly share: NulShare;
  readonly filter: number;
  readonly watchTree: boolean;
}

export class NulMrx implements MINIRDR_DISPATCH<NulExtensions> {
  readonly rx: Rdbss;
  readonly shares = new Map<string, NulShare>();
  readonly closeDelayedFiles: number;
  private readonly dpcLatency: number;
  private readonly canCompleteAtDpcLevel: boolean;
  device: RDBSS_DEVICE_OBJECT<NulExtensions> | null = null;
  /** What RxUnregisterMinirdr found still alive when the driver was unloaded (null before unload). */
  leftAtUnload: string[] | null = null;
  /** The control plane; its localConnections is the WDK sample's drive-letter table. */
  readonly control: ConnectionControlPlane;
  private readonly notifies = new Set<PendingNotify>();

  // ---- MINIRDR_DISPATCH header
  readonly MRxFlags =
    RDBSS_MANAGE.RDBSS_MANAGE_NET_ROOT_EXTENSION |
    RDBSS_MANAGE.RDBSS_MANAGE_FCB_EXTENSION |
    RDBSS_MANAGE.RDBSS_MANAGE_FOBX_EXTENSION;
  readonly MRxNetRootExtension = (): NulExtensions["NetRoot"] => ({ share: null });
  readonly MRxFcbExtension = (): NulExtensions["Fcb"] => ({ node: null });
  readonly MRxFobxExtension = (): NulExtensions["Fobx"] => ({ dirIndex: 0, notify: null });
  readonly MRxLowIOSubmit: MINIRDR_DISPATCH<NulExtensions>["MRxLowIOSubmit"];

  constructor(rx: Rdbss, options: NulMrxOptions = {}) {
    this.rx = rx;
    this.control = new ConnectionControlPlane(rx, NULMRX_DEVICE_NAME, IOCTL_NULMRX);
    this.closeDelayedFiles = options.closeDelayedFiles ?? 16;
    this.dpcLatency = options.dpcLatency ?? 0;
    this.canCompleteAtDpcLevel = options.canCompleteAtDpcLevel ?? false;
    for (const name of options.shares ?? ["share", "public"])
      this.shares.set(name.toUpperCase(), new NulShare(name, 0));
    // An array literal, not `lowio[i] = (…) => …`: V8 allocates a function literal assigned straight to a property
    // or element in the old generation, where it keeps this redirector's whole run alive until the next full GC
    // (see KernelCore.createThread).
    const lowio: MINIRDR_DISPATCH<NulExtensions>["MRxLowIOSubmit"][number][] = [
      (ctx) => this.viaDpc(ctx, (c) => this.read(c)),
      (ctx) => this.viaDpc(ctx, (c) => this.write(c)),
      (ctx) => this.lock(ctx),
      (ctx) => this.lock(ctx),
      () => S.STATUS_SUCCESS,
      () => S.STATUS_SUCCESS,
      () => S.STATUS_INVALID_DEVICE_REQUEST,
      () => S.STATUS_INVALID_DEVICE_REQUEST,
      (ctx) => this.notify(ctx),
    ];
    this.MRxLowIOSubmit = lowio;
  }

  private now(): number {
    return this.rx.k.KeQuerySystemTime();
  }

  // ================================================================== loading

  /** DriverEntry: register with RDBSS. Run from a system thread (see loadNulMrx). */
  async DriverEntry(driver: DRIVER_OBJECT): Promise<NTSTATUS> {
    const r = this.rx.RxRegisterMinirdr(
      driver,
      this,
      RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_PROVIDE_UNCS |
        RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_PROVIDE_MAILSLOTS,
      NULMRX_DEVICE_NAME,
      FILE_DEVICE_NETWORK_FILE_SYSTEM,
      FILE_REMOTE_DEVICE,
      "nulmrx",
    );
    return finishDriverEntry(this.rx, driver, this, r);
  }

  // ================================================================== start / stop and the control plane

  MRxStart(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  MRxStop(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  /** IOCTLs on the device FCB: the shared control plane (START, STOP, ADDCONN, DELCONN, GETLIST, GETCONN). */
  async MRxDevFcbXXXControlFile(ctx: RX_CONTEXT<NulExtensions>): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    return (await this.control.handle(ctx as RX_CONTEXT)) ?? S.STATUS_INVALID_DEVICE_REQUEST;
  }

  // ================================================================== the connection engine

  /** Build the SRV_CALL: always STATUS_PENDING, the result through the callback, in the RDBSS process. */
  MRxCreateSrvCall(srvCall: MRX_SRV_CALL<NulExtensions>, cb: MRX_SRVCALL_CALLBACK_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const finish = (): void => {
      cb.Status = S.STATUS_SUCCESS;
      cb.RecommunicateContext = { server: srvCall.pSrvCallName };
      cb.SrvCalldownStructure.CallBack(cb);
    };
    if (this.rx.k.IoGetCurrentProcess() === this.rx.RxGetRDBSSProcess()) finish();
    else {
      const st = this.rx.RxDispatchToWorkerThread(
        this.device as unknown as RDBSS_DEVICE_OBJECT,
        WorkQueueType.DelayedWorkQueue,
        finish,
        srvCall,
        "nulmrx MRxCreateSrvCall",
      );
      if (!NT_SUCCESS(st)) {
        cb.Status = st;
        cb.SrvCalldownStructure.CallBack(cb);
      }
    }
    return S.STATUS_PENDING;
  }

  MRxSrvCallWinnerNotify(srvCall: MRX_SRV_CALL<NulExtensions>, winner: boolean, recommunicate: unknown): NTSTATUS {
    if (!winner) return S.STATUS_SUCCESS;
    srvCall.Context = recommunicate;
    srvCall.MaximumNumberOfCloseDelayedFiles = this.closeDelayedFiles;
    srvCall.Flags |= 0x4 | 0x8;
    return S.STATUS_SUCCESS;
  }

  MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    srvCall.Context = null;
    srvCall.Context2 = null;
    return S.STATUS_SUCCESS;
  }

  /** "\server\share\rest" → NET_ROOT "\server\share". */
  MRxExtractNetRootName(path: string): { NetRootName: string; RestOfName: string } {
    return extractServerShareNetRoot(path);
  }

  /** Attach the share (unknown share: STATUS_BAD_NETWORK_NAME); always STATUS_PENDING and the callback once. */
  MRxCreateVNetRoot(cnc: MRX_CREATENETROOT_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const netRoot = cnc.pVNetRoot.pNetRoot;
    const shareName = netRoot.pNetRootName.slice(netRoot.pNetRootName.lastIndexOf("\\") + 1);
    const share = this.shares.get(shareName.toUpperCase());
    const ext = netRoot.Context as NulExtensions["NetRoot"];
    if (!share) {
      cnc.NetRootStatus = S.STATUS_BAD_NETWORK_NAME;
      cnc.VirtualNetRootStatus = S.STATUS_BAD_NETWORK_NAME;
    } else {
      ext.share = share;
      cnc.NetRootStatus = S.STATUS_SUCCESS;
      cnc.VirtualNetRootStatus = S.STATUS_SUCCESS;
    }
    cnc.Callback(cnc);
    return S.STATUS_PENDING;
  }

  MRxFinalizeNetRoot(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  MRxFinalizeVNetRoot(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  MRxIsValidDirectory(ctx: RX_CONTEXT<NulExtensions>, name: string): NTSTATUS {
    const share = this.shareOf(ctx);
    const n = share?.lookup(name);
    return n?.isDirectory ? S.STATUS_SUCCESS : S.STATUS_BAD_NETWORK_PATH;
  }

  private shareOf(ctx: RX_CONTEXT<NulExtensions>): NulShare | null {
    const nr = (ctx.Create.pNetRoot ?? ctx.pFcb?.pNetRoot ?? null) as NET_ROOT | null;
    return (nr?.Context as NulExtensions["NetRoot"] | null)?.share ?? null;
  }

  // ================================================================== opens and closes

  /** Open or create the file; on the first open of the FCB, tell RDBSS its type. */
  MRxCreate(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const rx = this.rx;
    const fcb = ctx.pFcb as MRX_FCB<NulExtensions>;
    const srvOpen = ctx.pRelevantSrvOpen;
    const share = this.shareOf(ctx);
    if (!share || !srvOpen) return S.STATUS_BAD_NETWORK_PATH;
    const p = ctx.Create.NtCreateParameters;
    const path = (fcb as unknown as { FcbTablePath: string }).FcbTablePath;
    if (NulShare.split(path) === null) return S.STATUS_OBJECT_NAME_INVALID;
    const wantDir = (p.CreateOptions & FILE_DIRECTORY_FILE) !== 0;
    const wantFile = (p.CreateOptions & FILE_NON_DIRECTORY_FILE) !== 0;
    const now = this.now();
    let node = share.lookup(path);
    let info: number = FILE_OPENED;
    if (node) {
      if (p.Disposition === FILE_CREATE) return S.STATUS_OBJECT_NAME_COLLISION;
      if (wantDir && !node.isDirectory) return S.STATUS_NOT_A_DIRECTORY;
      if (wantFile && node.isDirectory) return S.STATUS_FILE_IS_A_DIRECTORY;
      if (p.Disposition === FILE_SUPERSEDE || p.Disposition === FILE_OVERWRITE || p.Disposition === FILE_OVERWRITE_IF) {
        if (node.isDirectory) return S.STATUS_INVALID_PARAMETER;
        share.truncate(node, 0, now);
        info = p.Disposition === FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
      }
    } else {
      if (p.Disposition === FILE_OPEN || p.Disposition === FILE_OVERWRITE) {
        const { parent } = share.parentOf(path);
        return parent ? S.STATUS_OBJECT_NAME_NOT_FOUND : S.STATUS_OBJECT_PATH_NOT_FOUND;
      }
      const { parent, leaf } = share.parentOf(path);
      if (!parent) return S.STATUS_OBJECT_PATH_NOT_FOUND;
      node = share.create(parent, leaf, wantDir, now);
      if (p.FileAttributes)
        node.attributes = p.FileAttributes | (wantDir ? FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY : 0);
      info = FILE_CREATED;
    }
    const ext = fcb.Context as NulExtensions["Fcb"];
    if (fcb.OpenCount === 0) {
      ext.node = node;
      rx.RxFinishFcbInitialization(
        fcb as never,
        node.isDirectory ? NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY : NodeType.RDBSS_NTC_STORAGE_TYPE_FILE,
        {
          FileAttributes: node.attributes,
          CreationTime: node.creationTime,
          LastAccessTime: node.lastAccessTime,
          LastWriteTime: node.lastWriteTime,
          LastChangeTime: node.changeTime,
          EndOfFile: node.data.length,
          AllocationSize: node.data.length,
          ValidDataLength: node.data.length,
        },
      );
      fcb.fMiniInited = true;
    }
    srvOpen.Context = node;
    const fobx = rx.RxCreateNetFobx(ctx as RX_CONTEXT, srvOpen as never) as FOBX<NulExtensions> | null;
    // No FOBX (an allocation failure): fail the open; RDBSS drops the SRV_OPEN (and the FCB if nobody has it open).
    if (fobx === null) return S.STATUS_INSUFFICIENT_RESOURCES;
    ctx.pFobx = fobx;
    ctx.Create.ReturnedCreateInformation = info;
    const irp = ctx.CurrentIrp;
    if (irp && rx.profile.createInformation === "must-set") irp.IoStatus.Information = info;
    return S.STATUS_SUCCESS;
  }

  MRxShouldTryToCollapseThisOpen(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }

  MRxCollapseOpen(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    ctx.Create.ReturnedCreateInformation = FILE_OPENED;
    return S.STATUS_SUCCESS;
  }

  /** Last handle: a delete-on-close file goes now (the store's "server" deletes at last cleanup). */
  MRxCleanupFobx(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const fcb = ctx.pFcb;
    if (!fcb) return S.STATUS_SUCCESS;
    const node = (fcb.Context as NulExtensions["Fcb"]).node;
    if (node && fcb.FcbState & FCB_STATE.FCB_STATE_DELETE_ON_CLOSE && fcb.UncleanCount === 0) {
      const share = this.shareOf(ctx);
      share?.remove(node, this.now());
    }
    return S.STATUS_SUCCESS;
  }

  MRxCloseSrvOpen(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  MRxForceClosed(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }

  MRxDeallocateForFcb(fcb: MRX_FCB<NulExtensions>): NTSTATUS {
    (fcb.Context as NulExtensions["Fcb"]).node = null;
    fcb.fMiniInited = false;
    return S.STATUS_SUCCESS;
  }

  MRxDeallocateForFobx(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }

  MRxFlush(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }

  // ================================================================== LowIo

  private nodeOf(ctx: RX_CONTEXT<NulExtensions>): NulNode | null {
    return ctx.pFcb ? (ctx.pFcb.Context as NulExtensions["Fcb"]).node : null;
  }

  /**
   * With dpcLatency: pend the request and do it in a DPC when the virtual latency has passed, completing through
   * RxLowIoCompletion at DISPATCH_LEVEL (as a transport's receive path would).
   */
  private viaDpc(ctx: RX_CONTEXT<NulExtensions>, op: (c: RX_CONTEXT<NulExtensions>) => NTSTATUS): NTSTATUS {
    if (this.dpcLatency <= 0) return op(ctx);
    const k = this.rx.k;
    if (this.canCompleteAtDpcLevel)
      ctx.LowIoContext.Flags |= LOWIO_CONTEXT_FLAG.LOWIO_CONTEXT_FLAG_CAN_COMPLETE_AT_DPC_LEVEL;
    const timer = k.KeInitializeTimer(undefined, `nulmrx ${ctx.label()}`);
    const dpc = k.KeInitializeDpc(
      () => {
        ctx.IoStatusBlock.Status = op(ctx);
        this.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      },
      ctx,
      `nulmrx complete ${ctx.label()}`,
    );
    k.KeSetTimer(timer, -this.dpcLatency, dpc);
    return S.STATUS_PENDING;
  }

  private read(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const node = this.nodeOf(ctx);
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    if (!node || !p.Buffer) return S.STATUS_INVALID_DEVICE_REQUEST;
    if (p.ByteOffset >= node.data.length) {
      ctx.IoStatusBlock.Information = 0;
      return S.STATUS_END_OF_FILE;
    }
    const n = Math.min(p.ByteCount, node.data.length - p.ByteOffset);
    p.Buffer.set(node.data.subarray(p.ByteOffset, p.ByteOffset + n));
    ctx.IoStatusBlock.Information = n;
    return S.STATUS_SUCCESS;
  }

  private write(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const node = this.nodeOf(ctx);
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    const share = this.shareOf(ctx);
    if (!node || !p.Buffer || !share) return S.STATUS_INVALID_DEVICE_REQUEST;
    share.write(node, p.ByteOffset, p.Buffer.subarray(0, p.ByteCount), this.now());
    ctx.IoStatusBlock.Information = p.ByteCount;
    return S.STATUS_SUCCESS;
  }

  /** Byte-range locks: granted unless they overlap another open's lock (then STATUS_LOCK_NOT_GRANTED, never waits). */
  private lock(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const fcb = ctx.pFcb as unknown as {
      FileLocks: { fobx: unknown; offset: number; length: number; exclusive: boolean }[];
    };
    const p = ctx.LowIoContext.ParamsFor.Locks;
    const exclusive = (p.Flags & 0x2) !== 0;
    for (const l of fcb.FileLocks) {
      const overlap = l.offset < p.ByteOffset + p.Length && p.ByteOffset < l.offset + l.length;
      if (overlap && (exclusive || l.exclusive) && l.fobx !== ctx.pFobx) return S.STATUS_LOCK_NOT_GRANTED;
    }
    return S.STATUS_SUCCESS;
  }

  /** Change notification: pend with a cancel routine; a matching change in the store completes it. */
  private notify(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const node = this.nodeOf(ctx);
    const share = this.shareOf(ctx);
    if (!node?.isDirectory || !share) return S.STATUS_INVALID_PARAMETER;
    const p = ctx.LowIoContext.ParamsFor.NotifyChangeDirectory;
    const pending: PendingNotify = { ctx, dir: node, share, filter: p.CompletionFilter, watchTree: p.WatchTree };
    const st = armCancelRoutine(this.rx, ctx as RX_CONTEXT, (c) => this.cancelNotify(c, pending));
    if (st === S.STATUS_CANCELLED) return S.STATUS_CANCELLED;
    this.notifies.add(pending);
    this.listen(share);
    return S.STATUS_PENDING;
  }

  private readonly listening = new WeakSet<NulShare>();
  private listen(share: NulShare): void {
    if (this.listening.has(share)) return;
    this.listening.add(share);
    share.listeners.add((c) => this.onChange(share, c));
  }

  private onChange(share: NulShare, c: NulChange): void {
    for (const n of [...this.notifies]) {
      if (n.share !== share || !(n.filter & c.filter)) continue;
      const dirPath = share.pathOf(n.dir);
      const prefix = dirPath === "\\" ? "\\" : `${dirPath}\\`;
      if (!c.path.toUpperCase().startsWith(prefix.toUpperCase())) continue;
      const rel = c.path.slice(prefix.length);
      if (!n.watchTree && rel.includes("\\")) continue;
      // Disarm the cancel routine first; only if that succeeds is the completion ours to make.
      if (armCancelRoutine(this.rx, n.ctx as RX_CONTEXT, null) !== S.STATUS_SUCCESS) continue;
      this.notifies.delete(n);
      const buf = n.ctx.LowIoContext.ParamsFor.NotifyChangeDirectory.pNotificationBuffer;
      const r = buf
        ? encodeNotifyRecords([{ action: c.action, fileName: rel }], buf)
        : { bytesWritten: 0, complete: false };
      n.ctx.IoStatusBlock.Status = r.complete ? S.STATUS_SUCCESS : S.STATUS_NOTIFY_ENUM_DIR;
      n.ctx.IoStatusBlock.Information = r.bytesWritten;
      this.rx.RxLowIoCompletion(n.ctx as RX_CONTEXT);
    }
  }

  /** The cancel routine: complete the notification (STATUS_NOTIFY_CLEANUP when its handle is being cleaned up). */
  private cancelNotify(ctx: RX_CONTEXT, pending: PendingNotify): NTSTATUS {
    if (!this.notifies.delete(pending)) return S.STATUS_SUCCESS;
    const fo = (ctx.pFobx as FOBX | null)?.AssociatedFileObject;
    ctx.IoStatusBlock.Status = fo?.cleanupSent ? S.STATUS_NOTIFY_CLEANUP : S.STATUS_CANCELLED;
    ctx.IoStatusBlock.Information = 0;
    this.rx.RxLowIoCompletion(ctx);
    return S.STATUS_SUCCESS;
  }

  /** Pending notifications (for tests and reports). */
  get pendingNotifications(): number {
    return this.notifies.size;
  }

  // ================================================================== queries and sets

  MRxQueryDirectory(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const node = this.nodeOf(ctx);
    const fobx = ctx.pFobx;
    const buf = ctx.Info.Buffer;
    const cls = ctx.Info.FileInformationClass;
    if (!node?.isDirectory || !fobx || !buf) return S.STATUS_INVALID_PARAMETER;
    if (!isDirectoryInformationClass(cls)) return S.STATUS_INVALID_INFO_CLASS;
    const ext = fobx.Context as NulExtensions["Fobx"];
    if (ctx.QueryDirectory.RestartScan || ctx.QueryDirectory.InitialQuery) ext.dirIndex = 0;
    const template = fobx.UnicodeQueryTemplate ?? "*";
    const all = [...node.children.values()]
      .filter((c) => matchesTemplate(c.name, template))
      .sort((a, b) => (a.name.toUpperCase() < b.name.toUpperCase() ? -1 : 1));
    const entries: DirEntry[] = all.slice(ext.dirIndex).map((c, i) =>
      makeDirEntry({
        fileName: c.name,
        fileIndex: ext.dirIndex + i + 1,
        creationTime: c.creationTime,
        lastAccessTime: c.lastAccessTime,
        lastWriteTime: c.lastWriteTime,
        changeTime: c.changeTime,
        endOfFile: c.data.length,
        allocationSize: c.data.length,
        fileAttributes: c.attributes,
        fileId: c.fileId,
      }),
    );
    const r = encodeDirectoryEntries(
      cls,
      entries,
      buf.subarray(0, ctx.Info.Length),
      ctx.QueryDirectory.ReturnSingleEntry,
    );
    if (r.status === S.STATUS_NO_MORE_FILES) {
      ctx.Info.LengthRemaining = ctx.Info.Length;
      return ext.dirIndex === 0 && ctx.QueryDirectory.InitialQuery ? S.STATUS_NO_SUCH_FILE : S.STATUS_NO_MORE_FILES;
    }
    ext.dirIndex += r.entriesWritten;
    ctx.Info.LengthRemaining = ctx.Info.Length - r.bytesWritten;
    return r.status;
  }

  MRxQueryFileInfo(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const node = this.nodeOf(ctx);
    const buf = ctx.Info.Buffer;
    const cls = ctx.Info.FileInformationClass;
    const fcb = ctx.pFcb;
    if (!node || !buf || !fcb) return S.STATUS_INVALID_PARAMETER;
    const basic = {
      creationTime: node.creationTime,
      lastAccessTime: node.lastAccessTime,
      lastWriteTime: node.lastWriteTime,
      changeTime: node.changeTime,
      fileAttributes: node.attributes,
    };
    const standard = {
      allocationSize: node.data.length,
      endOfFile: node.data.length,
      numberOfLinks: 1,
      deletePending: (fcb.FcbState & FCB_STATE.FCB_STATE_DELETE_ON_CLOSE) !== 0,
      directory: node.isDirectory,
    };
    const out = buf.subarray(0, ctx.Info.Length);
    let r: { bytesWritten: number; status: NTSTATUS };
    switch (cls) {
      case FIC.FileBasicInformation:
        r = encodeFileInformation(FIC.FileBasicInformation, basic, out);
        break;
      case FIC.FileStandardInformation:
        r = encodeFileInformation(FIC.FileStandardInformation, standard, out);
        break;
      case FIC.FileInternalInformation:
        r = encodeFileInformation(FIC.FileInternalInformation, { indexNumber: node.fileId }, out);
        break;
      case FIC.FileEaInformation:
        r = encodeFileInformation(FIC.FileEaInformation, { eaSize: 0 }, out);
        break;
      case FIC.FileNetworkOpenInformation:
        r = encodeFileInformation(
          FIC.FileNetworkOpenInformation,
          { ...basic, allocationSize: node.data.length, endOfFile: node.data.length },
          out,
        );
        break;
      case FIC.FileAttributeTagInformation:
        r = encodeFileInformation(
          FIC.FileAttributeTagInformation,
          { fileAttributes: node.attributes, reparseTag: 0 },
          out,
        );
        break;
      default:
        return S.STATUS_INVALID_PARAMETER;
    }
    ctx.Info.LengthRemaining = ctx.Info.Length - r.bytesWritten;
    return r.status;
  }

  MRxSetFileInfo(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const node = this.nodeOf(ctx);
    const share = this.shareOf(ctx);
    const buf = ctx.Info.Buffer;
    const cls = ctx.Info.FileInformationClass;
    if (!node || !share || !buf) return S.STATUS_INVALID_PARAMETER;
    if (!isSupportedFileInformationClass(cls)) return S.STATUS_INVALID_INFO_CLASS;
    const now = this.now();
    switch (cls) {
      case FIC.FileBasicInformation: {
        const v = decodeFileInformation(FIC.FileBasicInformation, buf, ctx.Info.Length);
        if (isDecodeError(v)) return v.status;
        if (v.creationTime > 0) node.creationTime = v.creationTime;
        if (v.lastAccessTime > 0) node.lastAccessTime = v.lastAccessTime;
        if (v.lastWriteTime > 0) node.lastWriteTime = v.lastWriteTime;
        if (v.changeTime > 0) node.changeTime = v.changeTime;
        if (v.fileAttributes)
          node.attributes = v.fileAttributes | (node.isDirectory ? FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY : 0);
        return S.STATUS_SUCCESS;
      }
      case FIC.FileEndOfFileInformation:
      case FIC.FileAllocationInformation: {
        const v = decodeFileInformation(FIC.FileEndOfFileInformation, buf, ctx.Info.Length);
        if (isDecodeError(v)) return v.status;
        if (node.isDirectory) return S.STATUS_INVALID_PARAMETER;
        if (cls === FIC.FileEndOfFileInformation || v.endOfFile < node.data.length)
          share.truncate(node, v.endOfFile, now);
        return S.STATUS_SUCCESS;
      }
      case FIC.FileDispositionInformation: {
        const v = decodeFileInformation(FIC.FileDispositionInformation, buf, ctx.Info.Length);
        if (isDecodeError(v)) return v.status;
        if (v.deleteFile && node.isDirectory && node.children.size > 0) return S.STATUS_DIRECTORY_NOT_EMPTY;
        if (v.deleteFile && node.attributes & FILE_ATTRIBUTE.FILE_ATTRIBUTE_READONLY) return S.STATUS_CANNOT_DELETE;
        return S.STATUS_SUCCESS;
      }
      case FIC.FileRenameInformation: {
        const v = decodeFileInformation(FIC.FileRenameInformation, buf, ctx.Info.Length);
        if (isDecodeError(v)) return v.status;
        const target = v.fileName.startsWith("\\")
          ? v.fileName
          : `${share.pathOf(node.parent ?? share.root).replace(/\\$/, "")}\\${v.fileName}`;
        const { parent, leaf } = share.parentOf(target);
        if (!parent || !leaf) return S.STATUS_OBJECT_PATH_NOT_FOUND;
        const existing = share.lookup(target);
        if (existing && existing !== node) {
          if (!ctx.Info.ReplaceIfExists) return S.STATUS_OBJECT_NAME_COLLISION;
          if (existing.isDirectory) return S.STATUS_ACCESS_DENIED;
          share.remove(existing, now);
        }
        share.rename(node, parent, leaf, now);
        return S.STATUS_SUCCESS;
      }
      default:
        return S.STATUS_INVALID_PARAMETER;
    }
  }

  MRxQueryVolumeInfo(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const buf = ctx.Info.Buffer;
    if (!buf) return S.STATUS_INVALID_PARAMETER;
    const out = buf.subarray(0, ctx.Info.Length);
    const FS = FS_INFORMATION_CLASS;
    let r: { bytesWritten: number; status: NTSTATUS };
    switch (ctx.Info.FsInformationClass) {
      case FS.FileFsVolumeInformation:
        r = encodeFsInformation(
          FS.FileFsVolumeInformation,
          { volumeCreationTime: 0, volumeSerialNumber: 0x4e554c, supportsObjects: false, volumeLabel: "NULMRX" },
          out,
        );
        break;
      case FS.FileFsSizeInformation:
        r = encodeFsInformation(
          FS.FileFsSizeInformation,
          {
            totalAllocationUnits: 1 << 20,
            availableAllocationUnits: 1 << 19,
            sectorsPerAllocationUnit: 8,
            bytesPerSector: 512,
          },
          out,
        );
        break;
      case FS.FileFsDeviceInformation:
        r = encodeFsInformation(
          FS.FileFsDeviceInformation,
          { deviceType: FILE_DEVICE_NETWORK_FILE_SYSTEM, characteristics: FILE_REMOTE_DEVICE },
          out,
        );
        break;
      case FS.FileFsAttributeInformation:
        r = encodeFsInformation(
          FS.FileFsAttributeInformation,
          { fileSystemAttributes: 0x3, maximumComponentNameLength: 255, fileSystemName: "NulMRx" },
          out,
        );
        break;
      default:
        return S.STATUS_INVALID_PARAMETER;
    }
    ctx.Info.LengthRemaining = ctx.Info.Length - r.bytesWritten;
    return r.status;
  }
}

export { FILE_DOES_NOT_EXIST, RX_CONTEXT };
