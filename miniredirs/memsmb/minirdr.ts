/**
 * The memsmb mini-redirector: an RDBSS mini-redirector for the memsmb server, mapped the way real network
 * redirectors map their objects (../shared/reference/real-minirdrs.md):
 *
 *   SRV_CALL   ↔ a connection to a server (MRxCreateSrvCall connects, MRxFinalizeSrvCall disconnects)
 *   NET_ROOT   ↔ a share (its name and type)
 *   V_NET_ROOT ↔ a user's session and tree connect (MRxCreateVNetRoot sets up both; MRxFinalizeVNetRoot tree-
 *                disconnects and logs off); two users on one share are two V_NET_ROOTs
 *   SRV_OPEN   ↔ a server file id (MRxCreate opens, MRxCloseSrvOpen closes)
 *   FOBX       ↔ per-handle state: the directory enumeration, the pending change notification
 *
 * Reads, writes, locks and notifications are LowIo: they go over the network and complete on the transport's
 * receive thread through RxLowIoCompletion; waiting locks and notifications arm a cancel routine. Writes are
 * write-through (a write completes when the server has it), so data written through a handle that was closed
 * successfully is on the server, and a forced connection delete loses nothing that was acknowledged.
 * Delayed close is enabled (16 dormant files per server), so the scavenger matters. A connection's state
 * (SRV_CALL.Context) is nonpaged pool tagged 'MsSc', freed by MRxFinalizeSrvCall: pool tracking checks it.
 */

/** The pool tag of a SRV_CALL's connection state. */
export const MEMSMB_SRVCALL_TAG = "MsSc";

import {
  type DirEntry,
  type DRIVER_OBJECT,
  decodeFileInformation,
  encodeDirectoryEntries,
  encodeFileInformation,
  encodeFsInformation,
  encodeNotifyRecords,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_DIRECTORY_FILE,
  FILE_INFORMATION_CLASS,
  FILE_REMOTE_DEVICE,
  FS_INFORMATION_CLASS,
  isDecodeError,
  isDirectoryInformationClass,
  makeDirEntry,
} from "../../emulator/io/index.js";
import { NT_SUCCESS, type NTSTATUS, POOL_TYPE, STATUS, WorkQueueType } from "../../emulator/kernel/index.js";
import {
  FCB_STATE,
  type FOBX,
  type MINIRDR_DISPATCH,
  type MRX_CREATENETROOT_CONTEXT,
  type MRX_FCB,
  type MRX_NET_ROOT,
  type MRX_SRV_CALL,
  type MRX_SRVCALL_CALLBACK_CONTEXT,
  type MRX_V_NET_ROOT,
  NetRootType,
  NodeType,
  type RDBSS_DEVICE_OBJECT,
  RDBSS_MANAGE,
  type Rdbss,
  type RX_CONTEXT,
  SRVOPEN_FLAG,
} from "../../emulator/rdbss/index.js";
import {
  armCancelRoutine,
  ConnectionControlPlane,
  type ControlCodes,
  extractServerShareNetRoot,
  finishDriverEntry,
} from "../common/control.js";
import type { ServerCall, ServerHandler, SmbConnection, SmbExchange, SmbNetwork, WireBuffers } from "./network.js";
import type { FileInfo } from "./server/index.js";

const S = STATUS;
const FIC = FILE_INFORMATION_CLASS;
/** A FOBX with no directory entries left over from its last query (most FOBXs never query a directory). */
const NO_ENTRIES: readonly FileInfo[] = Object.freeze([]);

export const MEMSMB_DEVICE_NAME = "\\Device\\MemSmb";

/** Per-structure state. */
export interface MemSmbExtensions {
  /**
   * SRV_CALL.Context (not RDBSS-managed): a pool block tagged 'MsSc', allocated by MRxSrvCallWinnerNotify and freed
   * by MRxFinalizeSrvCall.
   */
  SrvCall: { connection: SmbConnection };
  NetRoot: { share: string; type: "disk" | "ipc" };
  VNetRoot: { sessionId: number; treeId: number; user: string; connection: SmbConnection | null };
  SrvOpen: { fileId: number; connection: SmbConnection | null; treeId: number };
  /** The directory entries the last query returned that did not fit the caller's buffer. */
  Fobx: { leftovers: readonly FileInfo[] };
}

type Ctx = RX_CONTEXT<MemSmbExtensions>;

export interface MemSmbRdrOptions {
  readonly closeDelayedFiles?: number;
  /** Device name (default \Device\MemSmb). */
  readonly deviceName?: string;
}

interface Reply<T = unknown> {
  status: NTSTATUS;
  value?: T;
}

const INVALID_RESPONSE: Reply = Object.freeze({ status: S.STATUS_INVALID_NETWORK_RESPONSE });

/**
 * A server response as {status, value}: a response without a numeric status is STATUS_INVALID_NETWORK_RESPONSE; a
 * dropped connection's DISCONNECTED is STATUS_CONNECTION_DISCONNECTED. (The response itself is read, not copied.)
 */
function asReply<T>(r: unknown): Reply<T> {
  const o = r as { status?: unknown } | null;
  return typeof o === "object" && o !== null && typeof o.status === "number"
    ? (o as Reply<T>)
    : (INVALID_RESPONSE as Reply<T>);
}

/**
 * A LowIo request over the network (SmbExchange): served on the server thread, completed on the receive thread with
 * RxLowIoCompletion. One object per request: reads and writes, the hot path, have classes of their own; locks and
 * notifications use CallbackLowIo.
 */
abstract class LowIoExchange implements SmbExchange {
  abstract readonly name: string;
  readonly ctx: Ctx;
  readonly rx: Rdbss;
  readonly fileId: number;
  /** A cancel routine is armed while the request is on the server (waiting locks, change notifications). */
  readonly cancellable: boolean;
  constructor(ctx: Ctx, rx: Rdbss, fileId: number, cancellable: boolean) {
    this.ctx = ctx;
    this.rx = rx;
    this.fileId = fileId;
    this.cancellable = cancellable;
  }
  abstract serve(c: ServerCall): void;
  /** The status the LowIo completes with (setting its Information), from the server's reply. */
  protected abstract complete(r: Reply): NTSTATUS;
  receive(raw: unknown): void {
    const ctx = this.ctx as RX_CONTEXT;
    if (!this.cancellable) {
      this.ctx.IoStatusBlock.Status = this.complete(asReply(raw));
      this.rx.RxLowIoCompletion(ctx);
      return;
    }
    // A cancel routine that already ran completed the request itself; the server's late answer is ignored. The
    // reference taken at the submit keeps the context alive for this disarm even then.
    if (armCancelRoutine(this.rx, ctx, null) === S.STATUS_SUCCESS) {
      this.ctx.IoStatusBlock.Status = this.complete(asReply(raw));
      this.rx.RxLowIoCompletion(ctx);
    }
    this.rx.RxDereferenceAndDeleteRxContext(ctx);
  }
}

class ReadExchange extends LowIoExchange {
  /** What the request on the wire asks for. */
  private readonly offset: number;
  private readonly length: number;
  /** The transport buffer holding the server's bytes, from serve until complete (null when nothing was read). */
  private wire: Uint8Array | null = null;
  /** The connection's network's pool, where `wire` comes from and goes back to. */
  private readonly buffers: WireBuffers;
  constructor(ctx: Ctx, rx: Rdbss, fileId: number, buffers: WireBuffers) {
    super(ctx, rx, fileId, false);
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    this.offset = p.ByteOffset;
    this.length = p.ByteCount;
    this.buffers = buffers;
  }
  get name(): string {
    return "READ";
  }
  serve(c: ServerCall): void {
    // The server copies into a transport buffer; the reply carries the count. The buffer stays this exchange's until
    // `complete` has copied it out (a reply lost with its connection leaves it to the collector).
    const buffers = this.buffers;
    const wire = buffers.take(this.length);
    const r = c.server.readInto(this.fileId, this.offset, this.length, c.now, wire);
    if (r.count === 0) buffers.give(wire);
    else this.wire = wire;
    c.reply({ status: r.status, value: r.count });
  }
  protected complete(r: Reply): NTSTATUS {
    const p = this.ctx.LowIoContext.ParamsFor.ReadWrite;
    const ok = NT_SUCCESS(r.status);
    const wire = this.wire;
    const count = ok && wire !== null ? Math.min((r.value as number | undefined) ?? 0, p.ByteCount, wire.length) : 0;
    if (count > 0 && p.Buffer) p.Buffer.set(count === wire?.length ? wire : (wire as Uint8Array).subarray(0, count));
    if (wire !== null) {
      this.wire = null;
      this.buffers.give(wire);
    }
    this.ctx.IoStatusBlock.Information = count;
    return r.status;
  }
}

class WriteExchange extends LowIoExchange {
  /** The data, copied onto the wire when the request is made (the caller's buffer may change after the call). */
  private readonly data: Uint8Array;
  private readonly offset: number;
  constructor(ctx: Ctx, rx: Rdbss, fileId: number) {
    super(ctx, rx, fileId, false);
    const p = ctx.LowIoContext.ParamsFor.ReadWrite;
    this.offset = p.ByteOffset;
    this.data = (p.Buffer ?? EMPTY_DATA).slice(0, p.ByteCount);
  }
  get name(): string {
    return "WRITE";
  }
  serve(c: ServerCall): void {
    const r = c.server.write(this.fileId, this.offset, this.data, c.now);
    c.reply({ status: r.status, value: r.count });
  }
  protected complete(r: Reply): NTSTATUS {
    this.ctx.IoStatusBlock.Information = NT_SUCCESS(r.status) ? ((r.value as number | undefined) ?? 0) : 0;
    return r.status;
  }
}

/** The other LowIo requests (locks, unlocks, notifications): a server handler and a completion as closures. */
class CallbackLowIo extends LowIoExchange {
  readonly name: string;
  private readonly handler: ServerHandler;
  private readonly onReply: (r: Reply) => NTSTATUS;
  constructor(
    ctx: Ctx,
    rx: Rdbss,
    fileId: number,
    name: string,
    handler: ServerHandler,
    onReply: (r: Reply) => NTSTATUS,
    cancellable: boolean,
  ) {
    super(ctx, rx, fileId, cancellable);
    this.name = name;
    this.handler = handler;
    this.onReply = onReply;
  }
  serve(c: ServerCall): void {
    this.handler(c);
  }
  protected complete(r: Reply): NTSTATUS {
    return this.onReply(r);
  }
}

const EMPTY_DATA = new Uint8Array(0);

/**
 * LOGOFF on the server thread. The session leaves the connection's set there, when the server has really logged
 * it off: a LOGOFF still on the wire when the connection drops (MRxFinalizeSrvCall right after
 * MRxFinalizeVNetRoot, in one scavenger pass) is never delivered, and the server's reset handling must still log
 * the session off.
 */
function logoffHandler(sessionId: number): ServerHandler {
  return (c) => {
    c.connection.sessions.delete(sessionId);
    c.reply({ status: c.server.logoff(sessionId, c.now) });
  };
}

export class MemSmbRedirector implements MINIRDR_DISPATCH<MemSmbExtensions> {
  readonly rx: Rdbss;
  readonly network: SmbNetwork;
  readonly deviceName: string;
  readonly control: ConnectionControlPlane;
  readonly closeDelayedFiles: number;
  device: RDBSS_DEVICE_OBJECT<MemSmbExtensions> | null = null;
  /** What RxUnregisterMinirdr found still alive when the driver was unloaded (null before unload). */
  leftAtUnload: string[] | null = null;

  readonly MRxFlags =
    RDBSS_MANAGE.RDBSS_MANAGE_NET_ROOT_EXTENSION |
    RDBSS_MANAGE.RDBSS_MANAGE_V_NET_ROOT_EXTENSION |
    RDBSS_MANAGE.RDBSS_MANAGE_SRV_OPEN_EXTENSION |
    RDBSS_MANAGE.RDBSS_MANAGE_FOBX_EXTENSION;
  readonly MRxNetRootExtension = (): MemSmbExtensions["NetRoot"] => ({ share: "", type: "disk" });
  readonly MRxVNetRootExtension = (): MemSmbExtensions["VNetRoot"] => ({
    sessionId: 0,
    treeId: 0,
    user: "",
    connection: null,
  });
  readonly MRxSrvOpenExtension = (): MemSmbExtensions["SrvOpen"] => ({ fileId: 0, connection: null, treeId: 0 });
  readonly MRxFobxExtension = (): MemSmbExtensions["Fobx"] => ({ leftovers: NO_ENTRIES });
  readonly MRxLowIOSubmit: MINIRDR_DISPATCH<MemSmbExtensions>["MRxLowIOSubmit"];

  constructor(rx: Rdbss, network: SmbNetwork, codes: ControlCodes, options: MemSmbRdrOptions = {}) {
    this.rx = rx;
    this.network = network;
    this.deviceName = options.deviceName ?? MEMSMB_DEVICE_NAME;
    this.closeDelayedFiles = options.closeDelayedFiles ?? 16;
    this.control = new ConnectionControlPlane(rx, this.deviceName, codes);
    // An array literal, not `lowio[i] = (…) => …`: V8 allocates a function literal assigned straight to a property
    // or element in the old generation, where it keeps this redirector's whole run alive until the next full GC
    // (see KernelCore.createThread).
    const lowio: MINIRDR_DISPATCH<MemSmbExtensions>["MRxLowIOSubmit"][number][] = [
      (ctx) => this.read(ctx),
      (ctx) => this.write(ctx),
      (ctx) => this.lock(ctx, false),
      (ctx) => this.lock(ctx, true),
      (ctx) => this.unlock(ctx, false),
      (ctx) => this.unlock(ctx, true),
      () => S.STATUS_NOT_SUPPORTED,
      () => S.STATUS_NOT_SUPPORTED,
      (ctx) => this.notify(ctx),
    ];
    this.MRxLowIOSubmit = lowio;
  }

  // ================================================================== registration and control

  async DriverEntry(driver: DRIVER_OBJECT): Promise<NTSTATUS> {
    const r = this.rx.RxRegisterMinirdr(
      driver,
      this,
      0,
      this.deviceName,
      FILE_DEVICE_NETWORK_FILE_SYSTEM,
      FILE_REMOTE_DEVICE,
      "memsmb",
    );
    return finishDriverEntry(this.rx, driver, this, r);
  }

  MRxStart(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  MRxStop(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  async MRxDevFcbXXXControlFile(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    return (await this.control.handle(ctx as RX_CONTEXT)) ?? S.STATUS_INVALID_DEVICE_REQUEST;
  }

  // ================================================================== the connection engine

  /** Connect to the server, in the RDBSS process; STATUS_PENDING always, the result through the callback once. */
  MRxCreateSrvCall(
    srvCall: MRX_SRV_CALL<MemSmbExtensions>,
    cb: MRX_SRVCALL_CALLBACK_CONTEXT<MemSmbExtensions>,
  ): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const serverName = srvCall.pSrvCallName.replace(/^\\/, "");
    const st = this.rx.RxDispatchToWorkerThread(
      this.device as unknown as RDBSS_DEVICE_OBJECT,
      WorkQueueType.DelayedWorkQueue,
      async () => {
        const r = await this.network.connect(serverName);
        cb.Status = r.status;
        cb.RecommunicateContext = r.connection;
        cb.SrvCalldownStructure.CallBack(cb);
      },
      srvCall,
      `memsmb connect \\\\${serverName}`,
    );
    if (!NT_SUCCESS(st)) {
      cb.Status = st;
      cb.SrvCalldownStructure.CallBack(cb);
    }
    return S.STATUS_PENDING;
  }

  MRxSrvCallWinnerNotify(srvCall: MRX_SRV_CALL<MemSmbExtensions>, winner: boolean, recommunicate: unknown): NTSTATUS {
    const connection = recommunicate as SmbConnection | null;
    if (!winner) {
      connection?.drop("lost the SRV_CALL construction");
      return S.STATUS_SUCCESS;
    }
    if (!connection) return S.STATUS_BAD_NETWORK_PATH;
    const state = this.rx.k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 16, MEMSMB_SRVCALL_TAG, { connection });
    if (state === null) {
      connection.drop("no pool for the connection's state");
      return S.STATUS_INSUFFICIENT_RESOURCES;
    }
    srvCall.Context = state;
    srvCall.MaximumNumberOfCloseDelayedFiles = this.closeDelayedFiles;
    srvCall.Flags |= 0x4 | 0x8;
    return S.STATUS_SUCCESS;
  }

  /** Disconnect: the server logs off what the connection still had. The state is freed; Context and Context2 cleared. */
  MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<MemSmbExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const state = srvCall.Context;
    if (state !== null) {
      state.connection.drop("redirector disconnected (MRxFinalizeSrvCall)");
      this.rx.k.ExFreePoolWithTag(state, MEMSMB_SRVCALL_TAG);
    }
    srvCall.Context = null;
    srvCall.Context2 = null;
    return S.STATUS_SUCCESS;
  }

  MRxExtractNetRootName(path: string): { NetRootName: string; RestOfName: string } {
    return extractServerShareNetRoot(path);
  }

  /**
   * Session setup and tree connect for this user, on a worker of the RDBSS process; always STATUS_PENDING and the
   * callback once. A share that does not exist fails the NET_ROOT; a logon or permission failure fails only this
   * V_NET_ROOT.
   */
  MRxCreateVNetRoot(cnc: MRX_CREATENETROOT_CONTEXT<MemSmbExtensions>): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const vnr = cnc.pVNetRoot;
    const netRoot = vnr.pNetRoot;
    const srvCall = netRoot.pSrvCall;
    const connection = srvCall.Context?.connection ?? null;
    const share = netRoot.pNetRootName.slice(netRoot.pNetRootName.lastIndexOf("\\") + 1);
    const proc = cnc.pCreateContext.OriginalThread?.process;
    const user = vnr.pUserName ?? proc?.token?.UserName ?? "guest";
    const password = vnr.pPassword ?? proc?.token?.Password ?? "";
    const firstOnNetRoot = netRoot.Context?.share === "";
    /** A drive-letter connection ("\;X:0\server\share", net use X:), not a deviceless one. */
    const driveConnection = /^\\;[A-Za-z]:/.test(cnc.pCreateContext.Create.CanonicalName);
    const finish = (netRootStatus: NTSTATUS, vnrStatus: NTSTATUS): void => {
      cnc.NetRootStatus = netRootStatus;
      cnc.VirtualNetRootStatus = vnrStatus;
      cnc.Callback(cnc);
    };
    const st = this.rx.RxDispatchToWorkerThread(
      this.device as unknown as RDBSS_DEVICE_OBJECT,
      WorkQueueType.DelayedWorkQueue,
      async () => {
        if (!connection || connection.dropped)
          return finish(S.STATUS_CONNECTION_DISCONNECTED, S.STATUS_CONNECTION_DISCONNECTED);
        const sess = asReply<number>(
          await connection.call("SESSION_SETUP", (c) => {
            const r = c.server.sessionSetup(user, password);
            if (NT_SUCCESS(r.status)) c.connection.sessions.add(r.sessionId);
            c.reply({ status: r.status, value: r.sessionId });
          }),
        );
        if (!NT_SUCCESS(sess.status)) return finish(firstOnNetRoot ? S.STATUS_SUCCESS : S.STATUS_SUCCESS, sess.status);
        const sessionId = sess.value as number;
        const tree = asReply<{ treeId: number; type: "disk" | "ipc" }>(
          await connection.call("TREE_CONNECT", (c) => {
            const r = c.server.treeConnect(sessionId, share);
            c.reply({ status: r.status, value: { treeId: r.treeId, type: r.shareType } });
          }),
        );
        if (!NT_SUCCESS(tree.status)) {
          connection.send("LOGOFF", logoffHandler(sessionId), () => undefined);
          const shareMissing = tree.status === S.STATUS_BAD_NETWORK_NAME;
          return finish(shareMissing && firstOnNetRoot ? tree.status : S.STATUS_SUCCESS, tree.status);
        }
        const t = tree.value as { treeId: number; type: "disk" | "ipc" };
        const nrExt = netRoot.Context as MemSmbExtensions["NetRoot"];
        nrExt.share = share;
        nrExt.type = t.type;
        netRoot.Type = t.type === "ipc" ? NetRootType.NET_ROOT_PIPE : NetRootType.NET_ROOT_DISK;
        if (t.type === "ipc" && driveConnection) {
          // A drive letter is a disk device: "net use X: \\srv\IPC$" is refused (Windows: system error 66,
          // ERROR_BAD_DEV_TYPE). The NET_ROOT itself is good; deviceless connections to IPC$ work.
          const treeId = t.treeId;
          connection.send(
            "TREE_DISCONNECT",
            (c) => c.reply({ status: c.server.treeDisconnect(treeId, c.now) }),
            () => undefined,
          );
          connection.send("LOGOFF", logoffHandler(sessionId), () => undefined);
          return finish(S.STATUS_SUCCESS, S.STATUS_BAD_DEVICE_TYPE);
        }
        vnr.Context = { sessionId, treeId: t.treeId, user, connection };
        finish(S.STATUS_SUCCESS, S.STATUS_SUCCESS);
      },
      vnr,
      `memsmb session+tree ${user}@${netRoot.pNetRootName}`,
    );
    // The work could not be queued: this V_NET_ROOT fails; the NET_ROOT only when this call was building it (another
    // user's good connection to the share must not turn Bad with it).
    if (!NT_SUCCESS(st)) finish(firstOnNetRoot ? st : S.STATUS_SUCCESS, st);
    return S.STATUS_PENDING;
  }

  MRxFinalizeNetRoot(_netRoot: MRX_NET_ROOT<MemSmbExtensions>, _force: null): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  /** Tree-disconnect and log off what MRxCreateVNetRoot set up (nothing else). */
  MRxFinalizeVNetRoot(vnr: MRX_V_NET_ROOT<MemSmbExtensions>, _force: null): NTSTATUS {
    this.rx.k.PAGED_CODE();
    const ext = vnr.Context as MemSmbExtensions["VNetRoot"] | null;
    const c = ext?.connection;
    if (ext && c && ext.treeId !== 0 && !c.dropped) {
      const { treeId, sessionId } = ext;
      c.send(
        "TREE_DISCONNECT",
        (s) => s.reply({ status: s.server.treeDisconnect(treeId, s.now) }),
        () => undefined,
      );
      c.send("LOGOFF", logoffHandler(sessionId), () => undefined);
    }
    if (ext) ext.treeId = 0;
    return S.STATUS_SUCCESS;
  }

  MRxIsValidDirectory(ctx: Ctx, name: string): Promise<NTSTATUS> {
    return this.withTree(ctx, async (conn, treeId) => {
      const r = asReply<FileInfo>(
        await conn.call("QUERY_PATH", (c) => {
          const o = c.server.create(
            treeId,
            {
              path: name,
              desiredAccess: 0x80,
              shareAccess: 7,
              disposition: 1,
              createOptions: FILE_DIRECTORY_FILE,
              fileAttributes: 0,
            },
            c.now,
          );
          if (NT_SUCCESS(o.status)) c.server.close(o.fileId, c.now);
          c.reply({ status: o.status });
        }),
      );
      return NT_SUCCESS(r.status) ? S.STATUS_SUCCESS : S.STATUS_BAD_NETWORK_PATH;
    });
  }

  private vnrOf(ctx: Ctx): MemSmbExtensions["VNetRoot"] | null {
    const v = (ctx.Create.pVNetRoot ??
      ctx.pRelevantSrvOpen?.pVNetRoot ??
      ctx.pFcb?.VNetRoot ??
      null) as MRX_V_NET_ROOT<MemSmbExtensions> | null;
    return (v?.Context as MemSmbExtensions["VNetRoot"] | null) ?? null;
  }

  private async withTree(ctx: Ctx, fn: (conn: SmbConnection, treeId: number) => Promise<NTSTATUS>): Promise<NTSTATUS> {
    const v = this.vnrOf(ctx);
    if (!v?.connection || v.treeId === 0) return S.STATUS_NETWORK_NAME_DELETED;
    if (v.connection.dropped) return S.STATUS_CONNECTION_DISCONNECTED;
    return fn(v.connection, v.treeId);
  }

  private openOf(ctx: Ctx): MemSmbExtensions["SrvOpen"] | null {
    const so = ctx.pFobx?.pSrvOpen ?? ctx.pRelevantSrvOpen;
    return (so?.Context as MemSmbExtensions["SrvOpen"] | null) ?? null;
  }

  // ================================================================== opens and closes

  /** CREATE on the server; on the first open of the FCB, set its type and sizes. */
  MRxCreate(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    return this.withTree(ctx, async (conn, treeId) => {
      const fcb = ctx.pFcb as MRX_FCB<MemSmbExtensions>;
      const srvOpen = ctx.pRelevantSrvOpen;
      if (!srvOpen) return S.STATUS_INTERNAL_ERROR;
      const p = ctx.Create.NtCreateParameters;
      const path = (fcb as unknown as { FcbTablePath: string }).FcbTablePath || "\\";
      const r = asReply<{ fileId: number; createAction: number; info: FileInfo }>(
        await conn.call("CREATE", (c) => {
          const o = c.server.create(
            treeId,
            {
              path,
              desiredAccess: p.DesiredAccess,
              shareAccess: p.ShareAccess,
              disposition: p.Disposition,
              createOptions: p.CreateOptions,
              fileAttributes: p.FileAttributes,
            },
            c.now,
          );
          c.reply({ status: o.status, value: { fileId: o.fileId, createAction: o.createAction, info: o.info } });
        }),
      );
      if (!NT_SUCCESS(r.status) || !r.value) return r.status;
      const { fileId, createAction, info } = r.value;
      if (fcb.OpenCount === 0) {
        this.rx.RxFinishFcbInitialization(
          fcb as never,
          info.directory ? NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY : NodeType.RDBSS_NTC_STORAGE_TYPE_FILE,
          {
            FileAttributes: info.attributes,
            NumberOfLinks: info.numberOfLinks,
            CreationTime: info.creationTime,
            LastAccessTime: info.lastAccessTime,
            LastWriteTime: info.lastWriteTime,
            LastChangeTime: info.changeTime,
            AllocationSize: info.allocationSize,
            EndOfFile: info.size,
            ValidDataLength: info.size,
          },
        );
      }
      const ext = srvOpen.Context as MemSmbExtensions["SrvOpen"];
      ext.fileId = fileId;
      ext.connection = conn;
      ext.treeId = treeId;
      const fobx = this.rx.RxCreateNetFobx(ctx as RX_CONTEXT, srvOpen as never) as FOBX<MemSmbExtensions> | null;
      if (fobx === null) {
        // No FOBX (an allocation failure): undo the open on the server, or it would outlive the failed create.
        ext.fileId = 0;
        await conn.call("CLOSE", (c) => c.reply({ status: c.server.close(fileId, c.now).status }));
        return S.STATUS_INSUFFICIENT_RESOURCES;
      }
      ctx.pFobx = fobx;
      ctx.Create.ReturnedCreateInformation = createAction;
      const irp = ctx.CurrentIrp;
      if (irp && this.rx.profile.createInformation === "must-set") irp.IoStatus.Information = createAction;
      return S.STATUS_SUCCESS;
    });
  }

  /** Collapsing reuses the server open; directories are not collapsed (each handle has its own enumeration). */
  MRxShouldTryToCollapseThisOpen(ctx: Ctx): NTSTATUS {
    const fcb = ctx.pFcb;
    if (ctx.Create.NtCreateParameters.CreateOptions & FILE_DIRECTORY_FILE) return S.STATUS_NOT_SUPPORTED;
    if (fcb && (fcb.NodeTypeCode & ~0x1000) === NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY)
      return S.STATUS_NOT_SUPPORTED;
    return S.STATUS_SUCCESS;
  }

  /**
   * Only a dormant (delay-closed) SRV_OPEN is revived: a live one's server open belongs to other handles, whose
   * byte-range locks and enumeration the server could not tell apart. STATUS_MORE_PROCESSING_REQUIRED makes RDBSS
   * open a new SRV_OPEN instead.
   */
  MRxCollapseOpen(ctx: Ctx): NTSTATUS {
    const so = ctx.pRelevantSrvOpen;
    if (so && so.UncleanFobxCount > 0) return S.STATUS_MORE_PROCESSING_REQUIRED;
    ctx.Create.ReturnedCreateInformation = 1;
    return S.STATUS_SUCCESS;
  }

  MRxCleanupFobx(): NTSTATUS {
    this.rx.k.PAGED_CODE();
    return S.STATUS_SUCCESS;
  }

  /**
   * CLOSE the server file id (a delete-on-close file goes now). An open the server no longer has (the connection
   * dropped, or the server disconnected its tree or session) is closed as far as anyone can tell: success.
   */
  async MRxCloseSrvOpen(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    const o = this.openOf(ctx);
    if (!o?.connection || o.fileId === 0) return S.STATUS_SUCCESS;
    const { connection, fileId } = o;
    o.fileId = 0;
    if (connection.dropped) return S.STATUS_SUCCESS;
    const r = asReply(await connection.call("CLOSE", (c) => c.reply({ status: c.server.close(fileId, c.now).status })));
    const gone: NTSTATUS[] = [
      S.STATUS_CONNECTION_DISCONNECTED,
      S.STATUS_FILE_CLOSED,
      S.STATUS_NETWORK_NAME_DELETED,
      S.STATUS_USER_SESSION_DELETED,
    ];
    return gone.includes(r.status) ? S.STATUS_SUCCESS : r.status;
  }

  MRxForceClosed(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }

  MRxDeallocateForFcb(fcb: MRX_FCB<MemSmbExtensions>): NTSTATUS {
    fcb.fMiniInited = false;
    return S.STATUS_SUCCESS;
  }

  MRxDeallocateForFobx(): NTSTATUS {
    return S.STATUS_SUCCESS;
  }

  MRxFlush(ctx: Ctx): Promise<NTSTATUS> {
    const o = this.openOf(ctx);
    return this.withTree(ctx, async (conn) => {
      if (!o) return S.STATUS_INVALID_HANDLE;
      const id = o.fileId;
      return asReply(await conn.call("FLUSH", (c) => c.reply({ status: c.server.flush(id) }))).status;
    });
  }

  // ================================================================== LowIo: everything completes on the receive thread

  /** The open a LowIo request goes to, or null when the handle has no server file (STATUS_INVALID_HANDLE). */
  private lowIoOpen(ctx: Ctx): { fileId: number; connection: SmbConnection } | null {
    const o = this.openOf(ctx);
    return o?.connection && o.fileId !== 0 ? (o as { fileId: number; connection: SmbConnection }) : null;
  }

  /**
   * Send a LowIo request; the response completes it on the receive thread, unless the cancel routine armed here (for
   * a cancellable one) completed it first.
   */
  private submitLowIo(conn: SmbConnection, x: LowIoExchange): NTSTATUS {
    if (x.cancellable) {
      const rx = this.rx;
      const name = x.name;
      let msgId = 0;
      const armed = armCancelRoutine(rx, x.ctx as RX_CONTEXT, (c) => {
        // The cancel routine completes the request itself; the server's late answer is ignored.
        conn.cancel(msgId);
        const fo = (c.pFobx as FOBX | null)?.AssociatedFileObject;
        c.IoStatusBlock.Status =
          fo?.cleanupSent && name === "CHANGE_NOTIFY" ? S.STATUS_NOTIFY_CLEANUP : S.STATUS_CANCELLED;
        c.IoStatusBlock.Information = 0;
        rx.RxLowIoCompletion(c);
        return S.STATUS_SUCCESS;
      });
      if (armed === S.STATUS_CANCELLED) return S.STATUS_CANCELLED;
      // The answer can arrive after the cancel routine completed the request and RDBSS freed the context: hold it
      // (InterlockedIncrement(&RxContext->ReferenceCount)) until `receive` is done with it.
      (x.ctx as RX_CONTEXT).ReferenceCount++;
      msgId = conn.submit(x);
      return S.STATUS_PENDING;
    }
    conn.submit(x);
    return S.STATUS_PENDING;
  }

  /** A LowIo request whose server side and completion are closures (locks, unlocks, notifications). */
  private lowIo(
    ctx: Ctx,
    name: string,
    handler: ServerHandler,
    onReply: (r: Reply) => NTSTATUS,
    cancellable: boolean,
  ): NTSTATUS {
    const o = this.lowIoOpen(ctx);
    if (o === null) return S.STATUS_INVALID_HANDLE;
    return this.submitLowIo(
      o.connection,
      new CallbackLowIo(ctx, this.rx, o.fileId, name, handler, onReply, cancellable),
    );
  }

  private read(ctx: Ctx): NTSTATUS {
    const o = this.lowIoOpen(ctx);
    if (o === null) return S.STATUS_INVALID_HANDLE;
    return this.submitLowIo(o.connection, new ReadExchange(ctx, this.rx, o.fileId, o.connection.network.buffers));
  }

  private write(ctx: Ctx): NTSTATUS {
    const o = this.lowIoOpen(ctx);
    if (o === null) return S.STATUS_INVALID_HANDLE;
    return this.submitLowIo(o.connection, new WriteExchange(ctx, this.rx, o.fileId));
  }

  private lock(ctx: Ctx, exclusive: boolean): NTSTATUS {
    const p = ctx.LowIoContext.ParamsFor.Locks;
    const o = this.openOf(ctx);
    const fileId = o?.fileId ?? 0;
    const req = {
      offset: p.ByteOffset,
      length: p.Length,
      exclusive,
      failImmediately: (p.Flags & 0x1) !== 0,
      key: p.Key,
    };
    return this.lowIo(
      ctx,
      "LOCK",
      (c) => {
        const r = c.server.lock(fileId, req, (status) => c.reply({ status }));
        if (r.status !== S.STATUS_PENDING) c.reply({ status: r.status });
        else c.onCancel(() => c.server.cancelLockWait(fileId, r.waitId));
      },
      (r) => r.status,
      !req.failImmediately,
    );
  }

  private unlock(ctx: Ctx, all: boolean): NTSTATUS {
    const p = ctx.LowIoContext.ParamsFor.Locks;
    const o = this.openOf(ctx);
    const fileId = o?.fileId ?? 0;
    const ranges = all
      ? p.LockList.map((l) => ({ offset: l.ByteOffset, length: l.Length, key: l.Key }))
      : [{ offset: p.ByteOffset, length: p.Length, key: p.Key }];
    return this.lowIo(
      ctx,
      "UNLOCK",
      (c) => {
        let status: NTSTATUS = S.STATUS_SUCCESS;
        for (const r of ranges) {
          const st = c.server.unlock(fileId, r.offset, r.length, r.key);
          if (!NT_SUCCESS(st)) status = st;
        }
        c.reply({ status: all ? S.STATUS_SUCCESS : status });
      },
      (r) => r.status,
      false,
    );
  }

  /** CHANGE_NOTIFY: pends on the server; a cancel routine is armed first. */
  private notify(ctx: Ctx): NTSTATUS {
    const p = ctx.LowIoContext.ParamsFor.NotifyChangeDirectory;
    const o = this.openOf(ctx);
    const fileId = o?.fileId ?? 0;
    const req = { filter: p.CompletionFilter, watchTree: p.WatchTree, bufferLength: p.NotificationBufferLength };
    return this.lowIo(
      ctx,
      "CHANGE_NOTIFY",
      (c) => {
        const r = c.server.notify(fileId, req, (done) => c.reply({ status: done.status, value: done.records }));
        // A final result (error, buffered changes) has already been replied through the callback.
        if (r.status === S.STATUS_PENDING) c.onCancel(() => c.server.cancelNotify(r.notifyId));
      },
      (r) => {
        const records = (r.value as { action: number; fileName: string }[] | undefined) ?? [];
        if (!NT_SUCCESS(r.status) || records.length === 0 || !p.pNotificationBuffer) {
          ctx.IoStatusBlock.Information = 0;
          return r.status;
        }
        const e = encodeNotifyRecords(records, p.pNotificationBuffer.subarray(0, p.NotificationBufferLength));
        ctx.IoStatusBlock.Information = e.bytesWritten;
        return e.complete ? r.status : S.STATUS_NOTIFY_ENUM_DIR;
      },
      true,
    );
  }

  // ================================================================== queries and sets (synchronous round trips)

  private entryOf(i: FileInfo, index: number): DirEntry {
    return makeDirEntry({
      fileName: i.name,
      fileIndex: index,
      creationTime: i.creationTime,
      lastAccessTime: i.lastAccessTime,
      lastWriteTime: i.lastWriteTime,
      changeTime: i.changeTime,
      endOfFile: i.size,
      allocationSize: i.allocationSize,
      fileAttributes: i.attributes,
      fileId: i.fileId,
    });
  }

  async MRxQueryDirectory(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    const o = this.openOf(ctx);
    const fobx = ctx.pFobx;
    const buf = ctx.Info.Buffer;
    const cls = ctx.Info.FileInformationClass;
    if (!o?.connection || !fobx || !buf) return S.STATUS_INVALID_PARAMETER;
    if (!isDirectoryInformationClass(cls)) return S.STATUS_INVALID_INFO_CLASS;
    const ext = fobx.Context as MemSmbExtensions["Fobx"];
    const q = ctx.QueryDirectory;
    const restart = q.RestartScan || q.InitialQuery;
    if (restart) ext.leftovers = NO_ENTRIES;
    let entries = ext.leftovers;
    if (entries.length === 0) {
      const conn = o.connection;
      const fileId = o.fileId;
      const pattern = q.InitialQuery || q.RestartScan ? (fobx.UnicodeQueryTemplate ?? "*") : null;
      const r = asReply<FileInfo[]>(
        await conn.call("QUERY_DIRECTORY", (c) => {
          const d = c.server.queryDirectory(fileId, { pattern, restart, single: false, maxEntries: 128 });
          c.reply({ status: d.status, value: d.entries });
        }),
      );
      if (!NT_SUCCESS(r.status)) {
        ctx.Info.LengthRemaining = ctx.Info.Length;
        return r.status;
      }
      entries = r.value ?? [];
    }
    const out = buf.subarray(0, ctx.Info.Length);
    const enc = encodeDirectoryEntries(
      cls,
      entries.map((e, i) => this.entryOf(e, i + 1)),
      out,
      q.ReturnSingleEntry,
    );
    ext.leftovers = entries.slice(enc.entriesWritten);
    ctx.Info.LengthRemaining = ctx.Info.Length - enc.bytesWritten;
    return enc.status === S.STATUS_NO_MORE_FILES ? S.STATUS_NO_MORE_FILES : enc.status;
  }

  private async queryInfo(ctx: Ctx): Promise<Reply<FileInfo>> {
    const o = this.openOf(ctx);
    if (!o?.connection) return { status: S.STATUS_INVALID_HANDLE };
    if (o.connection.dropped) return { status: S.STATUS_CONNECTION_DISCONNECTED };
    const fileId = o.fileId;
    return asReply<FileInfo>(
      await o.connection.call("QUERY_INFO", (c) => {
        const r = c.server.queryInfo(fileId);
        c.reply({ status: r.status, value: r.info });
      }),
    );
  }

  async MRxQueryFileInfo(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    const buf = ctx.Info.Buffer;
    if (!buf) return S.STATUS_INVALID_PARAMETER;
    const r = await this.queryInfo(ctx);
    if (!NT_SUCCESS(r.status) || !r.value) return r.status;
    const i = r.value;
    const basic = {
      creationTime: i.creationTime,
      lastAccessTime: i.lastAccessTime,
      lastWriteTime: i.lastWriteTime,
      changeTime: i.changeTime,
      fileAttributes: i.attributes,
    };
    const out = buf.subarray(0, ctx.Info.Length);
    let e: { bytesWritten: number; status: NTSTATUS };
    switch (ctx.Info.FileInformationClass) {
      case FIC.FileBasicInformation:
        e = encodeFileInformation(FIC.FileBasicInformation, basic, out);
        break;
      case FIC.FileStandardInformation:
        e = encodeFileInformation(
          FIC.FileStandardInformation,
          {
            allocationSize: i.allocationSize,
            endOfFile: i.size,
            numberOfLinks: i.numberOfLinks,
            deletePending: i.deletePending,
            directory: i.directory,
          },
          out,
        );
        break;
      case FIC.FileInternalInformation:
        e = encodeFileInformation(FIC.FileInternalInformation, { indexNumber: i.fileId }, out);
        break;
      case FIC.FileEaInformation:
        e = encodeFileInformation(FIC.FileEaInformation, { eaSize: 0 }, out);
        break;
      case FIC.FileNetworkOpenInformation:
        e = encodeFileInformation(
          FIC.FileNetworkOpenInformation,
          { ...basic, allocationSize: i.allocationSize, endOfFile: i.size },
          out,
        );
        break;
      case FIC.FileAttributeTagInformation:
        e = encodeFileInformation(
          FIC.FileAttributeTagInformation,
          { fileAttributes: i.attributes, reparseTag: 0 },
          out,
        );
        break;
      default:
        return S.STATUS_INVALID_PARAMETER;
    }
    ctx.Info.LengthRemaining = ctx.Info.Length - e.bytesWritten;
    return e.status;
  }

  async MRxSetFileInfo(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    const o = this.openOf(ctx);
    const buf = ctx.Info.Buffer;
    if (!o?.connection || !buf) return S.STATUS_INVALID_PARAMETER;
    if (o.connection.dropped) return S.STATUS_CONNECTION_DISCONNECTED;
    const conn = o.connection;
    const fileId = o.fileId;
    const len = ctx.Info.Length;
    const call = async (
      name: string,
      f: (c: Parameters<Parameters<SmbConnection["send"]>[1]>[0]) => NTSTATUS,
    ): Promise<NTSTATUS> => asReply(await conn.call(name, (c) => c.reply({ status: f(c) }))).status;
    switch (ctx.Info.FileInformationClass) {
      case FIC.FileBasicInformation: {
        const v = decodeFileInformation(FIC.FileBasicInformation, buf, len);
        if (isDecodeError(v)) return v.status;
        return call("SET_INFO basic", (c) =>
          c.server.setBasic(
            fileId,
            {
              creationTime: v.creationTime,
              lastAccessTime: v.lastAccessTime,
              lastWriteTime: v.lastWriteTime,
              changeTime: v.changeTime,
              attributes: v.fileAttributes,
            },
            c.now,
          ),
        );
      }
      case FIC.FileEndOfFileInformation: {
        const v = decodeFileInformation(FIC.FileEndOfFileInformation, buf, len);
        if (isDecodeError(v)) return v.status;
        return call("SET_INFO eof", (c) => c.server.setEndOfFile(fileId, v.endOfFile, c.now));
      }
      case FIC.FileAllocationInformation:
        return S.STATUS_SUCCESS;
      case FIC.FileDispositionInformation: {
        const v = decodeFileInformation(FIC.FileDispositionInformation, buf, len);
        if (isDecodeError(v)) return v.status;
        return call("SET_INFO disposition", (c) => c.server.setDisposition(fileId, v.deleteFile));
      }
      case FIC.FileRenameInformation: {
        const v = decodeFileInformation(FIC.FileRenameInformation, buf, len);
        if (isDecodeError(v)) return v.status;
        const fcbPath = (ctx.pFcb as unknown as { FcbTablePath: string } | null)?.FcbTablePath ?? "";
        const dir = fcbPath.slice(0, fcbPath.lastIndexOf("\\"));
        const target = v.fileName.startsWith("\\") ? v.fileName : `${dir}\\${v.fileName}`;
        const replace = ctx.Info.ReplaceIfExists || v.replaceIfExists;
        const st = await call("SET_INFO rename", (c) => c.server.rename(fileId, target, replace, c.now));
        // The server open now names the file by its new name, while RDBSS takes the FCB out of its table under the
        // old one: no later open can collapse onto this SRV_OPEN, so keeping it dormant after the close would only
        // hold the server open (and delay a delete of the file, which stays delete-pending until the scavenger).
        const so = ctx.pFobx?.pSrvOpen ?? ctx.pRelevantSrvOpen;
        if (NT_SUCCESS(st) && so) so.Flags |= SRVOPEN_FLAG.SRVOPEN_FLAG_COLLAPSING_DISABLED;
        return st;
      }
      default:
        return S.STATUS_INVALID_PARAMETER;
    }
  }

  async MRxQueryVolumeInfo(ctx: Ctx): Promise<NTSTATUS> {
    this.rx.k.PAGED_CODE();
    const buf = ctx.Info.Buffer;
    if (!buf) return S.STATUS_INVALID_PARAMETER;
    const v = this.vnrOf(ctx);
    if (!v?.connection || v.connection.dropped) return S.STATUS_CONNECTION_DISCONNECTED;
    const treeId = v.treeId;
    const r = asReply<{ label: string; serial: number; totalBytes: number; freeBytes: number; fsName: string }>(
      await v.connection.call("QUERY_VOLUME", (c) => {
        const q = c.server.queryVolume(treeId);
        c.reply({ status: q.status, value: q });
      }),
    );
    if (!NT_SUCCESS(r.status) || !r.value) return r.status;
    const q = r.value;
    const out = buf.subarray(0, ctx.Info.Length);
    const FS = FS_INFORMATION_CLASS;
    let e: { bytesWritten: number; status: NTSTATUS };
    switch (ctx.Info.FsInformationClass) {
      case FS.FileFsVolumeInformation:
        e = encodeFsInformation(
          FS.FileFsVolumeInformation,
          { volumeCreationTime: 0, volumeSerialNumber: q.serial, supportsObjects: false, volumeLabel: q.label },
          out,
        );
        break;
      case FS.FileFsSizeInformation:
        e = encodeFsInformation(
          FS.FileFsSizeInformation,
          {
            totalAllocationUnits: Math.floor(q.totalBytes / 4096),
            availableAllocationUnits: Math.floor(q.freeBytes / 4096),
            sectorsPerAllocationUnit: 8,
            bytesPerSector: 512,
          },
          out,
        );
        break;
      case FS.FileFsDeviceInformation:
        e = encodeFsInformation(
          FS.FileFsDeviceInformation,
          { deviceType: FILE_DEVICE_NETWORK_FILE_SYSTEM, characteristics: FILE_REMOTE_DEVICE },
          out,
        );
        break;
      case FS.FileFsAttributeInformation:
        e = encodeFsInformation(
          FS.FileFsAttributeInformation,
          { fileSystemAttributes: 0x3, maximumComponentNameLength: 255, fileSystemName: q.fsName },
          out,
        );
        break;
      default:
        return S.STATUS_INVALID_PARAMETER;
    }
    ctx.Info.LengthRemaining = ctx.Info.Length - e.bytesWritten;
    return e.status;
  }

  /** FCB state a test may want to see: whether RDBSS considers it delete-pending. */
  static deletePending(fcb: MRX_FCB): boolean {
    return (fcb.FcbState & FCB_STATE.FCB_STATE_DELETE_ON_CLOSE) !== 0;
  }
}
