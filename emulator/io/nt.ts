/**
 * System services: the Nt* calls a user-mode program makes (and the Zw* forms kernel components use), with
 * per-process handle tables. Each call builds an IRP, sends it to the top of the file's device stack, and either
 * waits for it (synchronous file objects, opened with FILE_SYNCHRONOUS_IO_*) or returns STATUS_PENDING with an
 * IoRequest the caller can wait on or cancel (asynchronous file objects).
 */
import {
  BugCheckError,
  IdTable,
  KERNEL_DDIS,
  KEVENT,
  type KProcess,
  type KThread,
  type MaybePromise,
  type NTSTATUS,
  PASSIVE_LEVEL,
  STATUS,
  statusName,
} from "../kernel/index.js";
import {
  ACCESS_FROM_CTL_CODE,
  DELETE,
  FILE_ADD_FILE,
  FILE_APPEND_DATA,
  FILE_CREATE,
  FILE_DELETE_ON_CLOSE,
  FILE_DIRECTORY_FILE,
  FILE_INFORMATION_CLASS,
  FILE_LIST_DIRECTORY,
  FILE_MAXIMUM_DISPOSITION,
  FILE_NO_INTERMEDIATE_BUFFERING,
  FILE_NON_DIRECTORY_FILE,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_RANDOM_ACCESS,
  FILE_READ_ACCESS,
  FILE_READ_ATTRIBUTES,
  FILE_READ_DATA,
  FILE_SEQUENTIAL_ONLY,
  FILE_SYNCHRONOUS_IO_ALERT,
  FILE_SYNCHRONOUS_IO_NONALERT,
  FILE_VALID_OPTION_FLAGS,
  FILE_WRITE_ACCESS,
  FILE_WRITE_ATTRIBUTES,
  FILE_WRITE_DATA,
  FILE_WRITE_THROUGH,
  FO_ALERTABLE_IO,
  FO_NO_INTERMEDIATE_BUFFERING,
  FO_RANDOM_ACCESS,
  FO_SEQUENTIAL_ONLY,
  FO_SYNCHRONOUS_IO,
  FO_WRITE_THROUGH,
  IO_REPARSE,
  IRP_BUFFERED_IO,
  IRP_CREATE_OPERATION,
  IRP_INPUT_OPERATION,
  IRP_MJ_CREATE,
  IRP_MJ_DEVICE_CONTROL,
  IRP_MJ_DIRECTORY_CONTROL,
  IRP_MJ_FILE_SYSTEM_CONTROL,
  IRP_MJ_FLUSH_BUFFERS,
  IRP_MJ_LOCK_CONTROL,
  IRP_MJ_NAMES,
  IRP_MJ_QUERY_INFORMATION,
  IRP_MJ_QUERY_VOLUME_INFORMATION,
  IRP_MJ_READ,
  IRP_MJ_SET_INFORMATION,
  IRP_MJ_WRITE,
  IRP_MN_LOCK,
  IRP_MN_NOTIFY_CHANGE_DIRECTORY,
  IRP_MN_QUERY_DIRECTORY,
  IRP_MN_UNLOCK_ALL,
  IRP_MN_UNLOCK_SINGLE,
  IRP_MN_USER_FS_REQUEST,
  IRP_SYNCHRONOUS_API,
  METHOD_BUFFERED,
  METHOD_FROM_CTL_CODE,
  METHOD_NEITHER,
  mapGenericMask,
  SL_EXCLUSIVE_LOCK,
  SL_FAIL_IMMEDIATELY,
  SL_INDEX_SPECIFIED,
  SL_RESTART_SCAN,
  SL_RETURN_SINGLE_ENTRY,
  SL_WATCH_TREE,
  SYNCHRONIZE,
} from "./constants.js";
import type { IoManager } from "./iomgr.js";
import {
  type FILE_FULL_EA_INFORMATION,
  type IO_STACK_LOCATION,
  IO_STATUS_BLOCK,
  type IRP,
  IRP_LIST_LINK,
  IrpList,
  type KPROCESSOR_MODE,
} from "./irp.js";
import type { FILE_OBJECT } from "./objects.js";

const {
  FileAllocationInformation,
  FileBasicInformation,
  FileDispositionInformation,
  FileDispositionInformationEx,
  FileEndOfFileInformation,
  FileLinkInformation,
  FileRenameInformation,
} = FILE_INFORMATION_CLASS;
const { STATUS_SUCCESS, STATUS_PENDING, STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_ACCESS_DENIED } =
  STATUS;

/** A handle-table entry: the object and the access granted to the handle. */
export interface HandleEntry {
  readonly object: FILE_OBJECT;
  readonly GrantedAccess: number;
}

/** Kernel handles (OBJ_KERNEL_HANDLE, in the System process's table) have this bit set, as on x64 Windows. */
export const KERNEL_HANDLE_FLAG = 0x80000000;

/**
 * A process's handle table. Handle values are multiples of 4 and are not reused within a run. The entries are the
 * file objects in an IdTable keyed by handle / 4, each with its granted access as the entry's tag: no object per
 * handle (`get` makes a HandleEntry for the callers that want one; the I/O paths use `object` and `access`).
 */
export class HandleTable {
  private readonly entries = new IdTable<FILE_OBJECT>();
  private next = 4;
  private readonly flag: number;
  constructor(kernelHandles = false) {
    this.flag = kernelHandles ? KERNEL_HANDLE_FLAG : 0;
  }
  /** The entry's index, or -1 for a value that is not one of this table's handles. */
  private index(handle: number): number {
    if (handle !== handle >>> 0 || (handle & 3) !== 0 || (handle & KERNEL_HANDLE_FLAG) >>> 0 !== this.flag) return -1;
    return (handle & ~KERNEL_HANDLE_FLAG) >>> 2;
  }
  insert(object: FILE_OBJECT, GrantedAccess: number): number {
    const h = (this.next + this.flag) >>> 0;
    this.entries.set(this.next >>> 2, object, GrantedAccess);
    this.next += 4;
    return h;
  }
  /** The file object behind `handle`, if it is open. */
  object(handle: number): FILE_OBJECT | undefined {
    const i = this.index(handle);
    return i < 0 ? undefined : this.entries.get(i);
  }
  /** The access granted to `handle` (0 when it is not open). */
  access(handle: number): number {
    const i = this.index(handle);
    return i < 0 ? 0 : this.entries.tag(i);
  }
  get(handle: number): HandleEntry | undefined {
    const object = this.object(handle);
    return object === undefined ? undefined : { object, GrantedAccess: this.access(handle) };
  }
  /** Close `handle`: its file object, or undefined when it was not open. */
  remove(handle: number): FILE_OBJECT | undefined {
    const i = this.index(handle);
    return i < 0 ? undefined : this.entries.delete(i);
  }
  get size(): number {
    return this.entries.size;
  }
  handles(): number[] {
    return this.entries.ids().map((i) => ((i << 2) + this.flag) >>> 0);
  }
}

/**
 * An I/O request in flight, as the caller sees it: NT's IO_STATUS_BLOCK plus the event that is signaled when the
 * IRP completes. Returned by every call on an asynchronous file object.
 */
export class IoRequest {
  readonly id: number;
  readonly major: number;
  readonly minor: number;
  readonly file: FILE_OBJECT;
  readonly thread: KThread;
  readonly IoStatusBlock = new IO_STATUS_BLOCK();
  private ev: KEVENT | null = null;
  /** The data buffer of the request (read data, query results, notification records). */
  buffer: Uint8Array | null = null;
  done = false;
  irp: IRP | null;
  private readonly nt: SystemServices;

  constructor(nt: SystemServices, irp: IRP, file: FILE_OBJECT, thread: KThread, major: number, minor: number) {
    this.nt = nt;
    this.id = irp.id;
    this.irp = irp;
    this.file = file;
    this.thread = thread;
    this.major = major;
    this.minor = minor;
  }

  /** Signaled when the request completes (made when somebody first needs to wait for it). */
  get event(): KEVENT {
    if (this.ev === null) this.ev = new KEVENT(0, this.done, `request ${this.id}`);
    return this.ev;
  }

  /** @internal What completion does besides the status block (set by SystemServices.issue). */
  userEvent: KEVENT | null = null;
  /** @internal */ outputLength = 0;

  /** @internal IopCompleteRequest for the IRP of this request (the IRP's finalizer, completeIoRequest). */
  finish(done: IRP): void {
    const io = this.nt.io;
    const k = io.k;
    io.copyBufferedOutput(done, this.outputLength);
    this.IoStatusBlock.Status = done.IoStatus.Status;
    this.IoStatusBlock.Information = done.IoStatus.Information;
    done.freed = true;
    done.threadList?.delete(done);
    this.file.deletePendingIrp(done);
    this.done = true;
    this.irp = null;
    if (this.ev !== null) k.KeSetEvent(this.ev);
    if (this.userEvent !== null) k.KeSetEvent(this.userEvent);
    // An asynchronous file object is itself signaled when its I/O completes.
    if ((this.file.Flags & FO_SYNCHRONOUS_IO) === 0) k.KeSetEvent(this.file.Event);
    const d = io.ObDereferenceObject(this.file);
    if (d) void d;
  }

  get Status(): NTSTATUS {
    return this.done ? this.IoStatusBlock.Status : STATUS_PENDING;
  }

  /** Wait (from an emulated thread) until the request completes; returns its final status block. */
  async wait(timeout?: number): Promise<IO_STATUS_BLOCK | null> {
    if (this.done) return this.IoStatusBlock;
    const s = await this.nt.io.k.KeWaitForSingleObject(this.event, timeout);
    return s === STATUS.STATUS_TIMEOUT ? null : this.IoStatusBlock;
  }

  label(): string {
    return `${IRP_MJ_NAMES[this.major] ?? this.major} request #${this.id}`;
  }
}

/** The finalizer of every IRP a system service sends: finish its IoRequest (IopCompleteRequest). */
function completeIoRequest(done: IRP): void {
  (done.finalizerContext as IoRequest).finish(done);
}

/**
 * A service's result with the caller's buffer: `{ ...r, Buffer: buffer }` for issue's { Status, Information, request }
 * (the same keys in the same order), without copying it through an object spread.
 */
function withBuffer(r: IoResult, buffer: Uint8Array): IoResult & { Buffer: Uint8Array } {
  return { Status: r.Status, Information: r.Information, request: r.request, Buffer: buffer };
}

/** A service's result; with `Buffer` (the caller's data buffer) when given. */
function ioResult<R extends IoResult>(
  Status: NTSTATUS,
  Information: number,
  request: IoRequest | null,
  buffer: Uint8Array | undefined,
): R {
  return (
    buffer === undefined ? { Status, Information, request } : { Status, Information, request, Buffer: buffer }
  ) as R;
}

export interface IoResult {
  /** The status the call returned: the final status, or STATUS_PENDING for asynchronous I/O still in flight. */
  readonly Status: NTSTATUS;
  /** IoStatusBlock.Information when the request has completed, else 0. */
  readonly Information: number;
  /** The request (always set for asynchronous file objects; null when the call failed before an IRP was sent). */
  readonly request: IoRequest | null;
}

export interface NtCreateFileArgs {
  readonly ObjectName: string;
  readonly RootDirectory?: number;
  readonly DesiredAccess: number;
  readonly FileAttributes?: number;
  readonly ShareAccess?: number;
  readonly CreateDisposition: number;
  readonly CreateOptions?: number;
  readonly EaBuffer?: readonly FILE_FULL_EA_INFORMATION[];
  readonly AllocationSize?: number;
}

export interface NtCreateFileResult {
  readonly Status: NTSTATUS;
  /** The new handle, or 0 on failure. */
  readonly FileHandle: number;
  /** FILE_CREATED, FILE_OPENED … */
  readonly Information: number;
}

export interface ReadWriteArgs {
  /** The caller's buffer (reads fill it; writes send it). */
  readonly Buffer?: Uint8Array;
  /** Bytes to transfer (default: the buffer's length). */
  readonly Length?: number;
  /** Offset; required for asynchronous file objects, defaults to CurrentByteOffset for synchronous ones. */
  readonly ByteOffset?: number;
  readonly Key?: number;
}

export interface IoControlArgs {
  readonly InputBuffer?: Uint8Array | unknown;
  readonly InputBufferLength?: number;
  readonly OutputBuffer?: Uint8Array;
  readonly OutputBufferLength?: number;
}

/** Per-call options of every Nt service. */
export interface CallOptions {
  /** An event to signal at completion (as the Event parameter of the NT call). */
  readonly Event?: KEVENT;
}

/** A failed NtCreateFile's result. */
function createFailed(Status: NTSTATUS): NtCreateFileResult {
  return { Status, FileHandle: 0, Information: 0 };
}

/** The options of a call that passes none (shared, not a new object per call). */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** Fills the stack location of an IRP `issue` builds; a status rejects the request before it is sent. */
type IrpSetup<A> = (sp: IO_STACK_LOCATION, irp: IRP, fo: FILE_OBJECT, arg: A) => NTSTATUS | undefined;

/**
 * What the read and write setup needs: the caller's arguments (ByteOffset and Key are read when the IRP is built, after
 * a synchronous handle's lock is had) and the buffer and length fixed at the call, as the closure it replaces held them.
 */
interface ReadWriteSetup {
  readonly args: ReadWriteArgs;
  readonly buffer: Uint8Array;
  readonly length: number;
}

/** The stack location of a read or write (NtReadFile, NtWriteFile and their Zw forms). */
function setupReadWrite(sp: IO_STACK_LOCATION, irp: IRP, fo: FILE_OBJECT, rw: ReadWriteSetup): NTSTATUS | undefined {
  const args = rw.args;
  const sync = (fo.Flags & FO_SYNCHRONOUS_IO) !== 0;
  if (args.ByteOffset === undefined && !sync) return STATUS_INVALID_PARAMETER;
  let offset = args.ByteOffset ?? fo.CurrentByteOffset;
  if (offset === -1) offset = Number.MAX_SAFE_INTEGER; // FILE_WRITE_TO_END_OF_FILE
  const { buffer, length } = rw;
  sp.Parameters.Length = length;
  sp.Parameters.ByteOffset = offset;
  sp.Parameters.Key = args.Key ?? 0;
  const view = length === buffer.length ? buffer : buffer.subarray(0, length);
  irp.UserBuffer = view;
  irp.MdlAddress = view;
  if (sp.MajorFunction === IRP_MJ_READ) irp.Flags |= IRP_INPUT_OPERATION;
  return undefined;
}

/** Maximum IRQL of the system services: PASSIVE_LEVEL. */
export const NT_SERVICES = [
  "NtCreateFile",
  "NtOpenFile",
  "NtClose",
  "NtReadFile",
  "NtWriteFile",
  "NtDeviceIoControlFile",
  "NtFsControlFile",
  "NtQueryDirectoryFile",
  "NtNotifyChangeDirectoryFile",
  "NtQueryInformationFile",
  "NtSetInformationFile",
  "NtQueryVolumeInformationFile",
  "NtLockFile",
  "NtUnlockFile",
  "NtFlushBuffersFile",
  "NtCancelIoFile",
  "NtCancelIoFileEx",
] as const;

class FileObjectLock {
  readonly lockType = "file object lock";
  readonly name: string;
  readonly fo: FILE_OBJECT;
  constructor(fo: FILE_OBJECT) {
    this.fo = fo;
    this.name = fo.label();
  }
  owners(): readonly KThread[] {
    return this.fo.busy ? [this.fo.busy] : [];
  }
  describe(): string {
    return `synchronous-I/O lock of ${this.fo.label()}`;
  }
}

export class SystemServices {
  readonly io: IoManager;

  constructor(io: IoManager) {
    this.io = io;
  }

  /** The handle table of a process (created on first use). */
  handleTable(p: KProcess): HandleTable {
    if (!(p.handleTable instanceof HandleTable)) p.handleTable = new HandleTable(p.isSystem);
    return p.handleTable as HandleTable;
  }

  /**
   * Look up a handle: kernel handles (KERNEL_HANDLE_FLAG) live in the System process's table and only kernel mode
   * may use them; any other handle is looked up in the calling thread's process. AccessMode does not choose the
   * table, as in NT.
   */
  referenceByHandle(handle: number, mode: KPROCESSOR_MODE = "UserMode"): HandleEntry | undefined {
    const t = this.io.k.thread("ObReferenceObjectByHandle");
    return this.tableForHandle(t, handle, mode)?.get(handle);
  }

  private tableForHandle(t: KThread, handle: number, mode: KPROCESSOR_MODE): HandleTable | undefined {
    // A System-process thread's PreviousMode is KernelMode, so its Nt* calls may use the handles it created.
    if ((handle & KERNEL_HANDLE_FLAG) !== 0)
      return mode === "KernelMode" || t.process.isSystem ? this.handleTable(this.io.k.systemProcess) : undefined;
    return this.handleTable(t.process);
  }

  /** ObReferenceObjectByHandle: the file object behind a handle, with a reference the caller must drop. */
  ObReferenceObjectByHandle(
    handle: number,
    mode: KPROCESSOR_MODE = "KernelMode",
  ): { status: NTSTATUS; object: FILE_OBJECT | null } {
    const e = this.referenceByHandle(handle, mode);
    if (!e) return { status: STATUS_INVALID_HANDLE, object: null };
    this.io.ObReferenceObject(e.object);
    return { status: STATUS_SUCCESS, object: e.object };
  }

  // ------------------------------------------------------------ service frame

  private service<T>(name: string, mode: KPROCESSOR_MODE, body: (t: KThread) => MaybePromise<T>): Promise<T> {
    // What an async function would do, without its frame when the body does not wait (NtClose mostly): every throw
    // is the returned promise's rejection.
    let t: KThread;
    let r: MaybePromise<T>;
    try {
      t = this.serviceEnter(name, mode);
    } catch (e) {
      return Promise.reject(e);
    }
    try {
      r = body(t);
    } catch (e) {
      return this.serviceTail(t, name, mode, Promise.reject(e));
    }
    if (r instanceof Promise) return this.serviceTail(t, name, mode, r);
    try {
      this.serviceExit(t, name, mode);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve(r);
  }

  /** The end of `service` once its body waits. */
  private async serviceTail<T>(t: KThread, name: string, mode: KPROCESSOR_MODE, r: Promise<T>): Promise<T> {
    try {
      return await r;
    } catch (e) {
      this.serviceFailed(t, e);
      throw e;
    } finally {
      this.serviceExit(t, name, mode);
    }
  }

  /** A system service starts: its frame (at PASSIVE_LEVEL), and for a user-mode caller the kernel entry. */
  private serviceEnter(name: string, mode: KPROCESSOR_MODE): KThread {
    const k = this.io.k;
    const t = k.enter(name, PASSIVE_LEVEL);
    if (mode === "UserMode") k.systemServiceEnter(t);
    return t;
  }

  /** An exception raised below a system service is a kernel-mode exception (0x1E), not the caller's error. */
  private serviceFailed(t: KThread, e: unknown): void {
    const k = this.io.k;
    if (!(e instanceof BugCheckError) && k.stopped === null) k.exceptionStop(t, e);
  }

  /** A system service returns: its frame goes, and a user-mode caller's return to user mode is checked. */
  private serviceExit(t: KThread, name: string, mode: KPROCESSOR_MODE): void {
    const k = this.io.k;
    if (k.stopped !== null) return;
    k.leave(t);
    if (mode === "UserMode") k.systemServiceExit(t, name);
  }

  /** Where a new handle goes: kernel-mode opens create kernel handles (OBJ_KERNEL_HANDLE). */
  private tableFor(t: KThread, mode: KPROCESSOR_MODE): HandleTable {
    return this.handleTable(mode === "KernelMode" ? this.io.k.systemProcess : t.process);
  }

  // ------------------------------------------------------------ create / close

  NtCreateFile(args: NtCreateFileArgs): Promise<NtCreateFileResult> {
    return this.service("NtCreateFile", "UserMode", (t) => this.createFile(t, args, "UserMode"));
  }

  /** NtOpenFile: NtCreateFile with FILE_OPEN. */
  NtOpenFile(args: Omit<NtCreateFileArgs, "CreateDisposition">): Promise<NtCreateFileResult> {
    return this.service("NtOpenFile", "UserMode", (t) =>
      this.createFile(t, { ...args, CreateDisposition: FILE_OPEN }, "UserMode"),
    );
  }

  /** ZwCreateFile from kernel mode: a kernel handle in the system process, no access checks. */
  ZwCreateFile(args: NtCreateFileArgs): Promise<NtCreateFileResult> {
    return this.service("ZwCreateFile", "KernelMode", (t) => this.createFile(t, args, "KernelMode"));
  }

  private async createFile(t: KThread, args: NtCreateFileArgs, mode: KPROCESSOR_MODE): Promise<NtCreateFileResult> {
    const options = args.CreateOptions ?? 0;
    const disposition = args.CreateDisposition;
    const access = mapGenericMask(args.DesiredAccess);
    // IoCreateFile's parameter checks.
    if (
      disposition > FILE_MAXIMUM_DISPOSITION ||
      disposition < 0 ||
      (options & ~FILE_VALID_OPTION_FLAGS) !== 0 ||
      ((options & FILE_SYNCHRONOUS_IO_ALERT) !== 0 && (options & FILE_SYNCHRONOUS_IO_NONALERT) !== 0) ||
      ((options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT)) !== 0 && (access & SYNCHRONIZE) === 0) ||
      ((options & FILE_DELETE_ON_CLOSE) !== 0 && (access & DELETE) === 0) ||
      ((options & FILE_DIRECTORY_FILE) !== 0 && (options & FILE_NON_DIRECTORY_FILE) !== 0) ||
      ((options & FILE_DIRECTORY_FILE) !== 0 &&
        disposition !== FILE_CREATE &&
        disposition !== FILE_OPEN &&
        disposition !== FILE_OPEN_IF)
    ) {
      return createFailed(STATUS_INVALID_PARAMETER);
    }
    const table = this.tableFor(t, mode);
    let related: FILE_OBJECT | null = null;
    if (args.RootDirectory !== undefined && args.RootDirectory !== 0) {
      const e = this.tableForHandle(t, args.RootDirectory, mode)?.get(args.RootDirectory);
      if (!e) return createFailed(STATUS_INVALID_HANDLE);
      if (args.ObjectName.startsWith("\\")) return createFailed(STATUS.STATUS_OBJECT_NAME_INVALID);
      related = e.object;
    }
    let name = args.ObjectName;
    for (let reparse = 0; reparse < 32; reparse++) {
      let device: FILE_OBJECT["DeviceObject"];
      let remaining: string;
      if (related) {
        device = related.DeviceObject;
        remaining = name;
      } else {
        const parsed = this.io.parseName(name);
        if ("status" in parsed) return createFailed(parsed.status);
        device = parsed.device;
        remaining = parsed.remaining;
      }
      const fo = this.io.newFileObject(device, remaining);
      fo.RelatedFileObject = related;
      if (options & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT)) fo.Flags |= FO_SYNCHRONOUS_IO;
      if (options & FILE_SYNCHRONOUS_IO_ALERT) fo.Flags |= FO_ALERTABLE_IO;
      if (options & FILE_NO_INTERMEDIATE_BUFFERING) fo.Flags |= FO_NO_INTERMEDIATE_BUFFERING;
      if (options & FILE_WRITE_THROUGH) fo.Flags |= FO_WRITE_THROUGH;
      if (options & FILE_SEQUENTIAL_ONLY) fo.Flags |= FO_SEQUENTIAL_ONLY;
      if (options & FILE_RANDOM_ACCESS) fo.Flags |= FO_RANDOM_ACCESS;
      const top = this.io.IoGetAttachedDevice(device);
      const irp = this.io.IoAllocateIrp(top.StackSize);
      irp.Thread = t;
      irp.RequestorMode = mode;
      irp.OriginalFileObject = fo;
      irp.Flags = IRP_CREATE_OPERATION | IRP_SYNCHRONOUS_API;
      const sp = this.io.IoGetNextIrpStackLocation(irp);
      sp.MajorFunction = IRP_MJ_CREATE;
      sp.FileObject = fo;
      const p = sp.Parameters;
      p.SecurityContext = { DesiredAccess: access, RequestorMode: mode };
      p.Options = ((disposition & 0xff) << 24) | (options & 0xffffff);
      p.FileAttributes = args.FileAttributes ?? 0;
      p.ShareAccess = args.ShareAccess ?? 0;
      p.EaBuffer = args.EaBuffer ?? null;
      p.EaLength = args.EaBuffer ? args.EaBuffer.length : 0;
      p.AllocationSize = args.AllocationSize ?? 0;
      const iosb = new IO_STATUS_BLOCK();
      // (A local, not `irp.finalizer = (…) => …`: see KernelCore.createThread on V8 pretenuring such closures.)
      const finalizer = (done: IRP): void => {
        iosb.Status = done.IoStatus.Status;
        iosb.Information = done.IoStatus.Information;
        const ev = done.finalizerContext;
        if (ev instanceof KEVENT) this.io.k.KeSetEvent(ev);
        else {
          // Nobody waits yet (the event is made only when the sender waits): KeSetEvent's own checks, without it.
          const k = this.io.k;
          k.leave(k.enter("KeSetEvent", KERNEL_DDIS.KeSetEvent));
        }
      };
      irp.finalizer = finalizer;
      const called = this.io.IoCallDriver(top, irp);
      let status = typeof called === "number" ? called : await called;
      this.io.topLevelReturned(irp, status);
      if (status === STATUS_PENDING || !irp.completed) {
        // The sender waits: the event is made only now (most creates complete before IoCallDriver returns).
        const ev = new KEVENT(0, irp.completed, `create ${irp.label()}`);
        irp.finalizerContext = ev;
        await this.io.k.KeWaitForSingleObject(ev);
      }
      status = irp.completed ? iosb.Status : status;
      if (status === STATUS.STATUS_REPARSE && iosb.Information === IO_REPARSE) {
        name = fo.FileName;
        related = null;
        continue;
      }
      if ((status | 0) < 0) return { Status: status, FileHandle: 0, Information: iosb.Information };
      fo.opened = true;
      fo.GrantedAccess = access;
      fo.HandleCount = 1;
      const handle = table.insert(fo, access);
      return { Status: status, FileHandle: handle, Information: iosb.Information };
    }
    return createFailed(STATUS.STATUS_REPARSE_POINT_NOT_RESOLVED ?? STATUS.STATUS_OBJECT_NAME_INVALID);
  }

  /** NtClose: IRP_MJ_CLEANUP when the last handle goes, IRP_MJ_CLOSE when the last reference goes. */
  NtClose(handle: number): Promise<NTSTATUS> {
    return this.service("NtClose", "UserMode", (t) => this.close(t, handle, "UserMode"));
  }

  ZwClose(handle: number): Promise<NTSTATUS> {
    return this.service("ZwClose", "KernelMode", (t) => this.close(t, handle, "KernelMode"));
  }

  /** NtClose's body: synchronous unless the CLEANUP or the CLOSE waits (then closeWaiting goes on). */
  private close(t: KThread, handle: number, mode: KPROCESSOR_MODE): MaybePromise<NTSTATUS> {
    const fo = this.tableForHandle(t, handle, mode)?.remove(handle);
    if (fo === undefined) return STATUS_INVALID_HANDLE;
    if (--fo.HandleCount === 0) {
      // IopCloseFile: a synchronous file object's CLEANUP waits for the I/O in progress on it.
      const sync = (fo.Flags & FO_SYNCHRONOUS_IO) !== 0;
      if (sync) {
        const wait = this.lockFile(t, fo);
        if (wait !== undefined) return this.closeWaiting(fo, sync, wait, undefined);
      }
      const cleanup = this.io.sendCleanup(fo);
      if (cleanup) return this.closeWaiting(fo, sync, undefined, cleanup);
      if (sync) this.unlockFile(fo);
    }
    const dereference = this.io.ObDereferenceObject(fo);
    if (dereference) return this.closeWaiting(fo, false, undefined, undefined, dereference);
    return STATUS_SUCCESS;
  }

  /**
   * The rest of `close` from the step that waits: the file object's lock (`lock`), its CLEANUP (`cleanup`, the lock
   * held when `sync`), or the CLOSE that dropping the last reference sent (`dereference`).
   */
  private async closeWaiting(
    fo: FILE_OBJECT,
    sync: boolean,
    lock: Promise<void> | undefined,
    cleanup: Promise<void> | undefined,
    dereference?: Promise<void>,
  ): Promise<NTSTATUS> {
    if (dereference === undefined) {
      if (lock !== undefined) {
        await lock;
        cleanup = this.io.sendCleanup(fo);
      }
      if (cleanup) await cleanup;
      if (sync) this.unlockFile(fo);
      const d = this.io.ObDereferenceObject(fo);
      if (d) await d;
    } else await dereference;
    return STATUS_SUCCESS;
  }

  // ------------------------------------------------------------ the common IRP path

  /** Take a synchronous file object's I/O lock: undefined when it was free (no await), else a promise. */
  private lockFile(t: KThread, fo: FILE_OBJECT): Promise<void> | undefined {
    if (fo.busy === null) {
      fo.busy = t;
      return undefined;
    }
    return this.waitForFileLock(t, fo);
  }

  private async waitForFileLock(t: KThread, fo: FILE_OBJECT): Promise<void> {
    fo.addBusyWaiter(t);
    const lock = new FileObjectLock(fo);
    await this.io.k.block({ describe: () => lock.describe(), owners: () => lock.owners() });
  }

  private unlockFile(fo: FILE_OBJECT): void {
    const next = fo.busyWaiters.length > 0 ? fo.busyWaiters.shift() : undefined;
    if (next) {
      fo.busy = next;
      this.io.k.readyThread(next, STATUS_SUCCESS);
    } else fo.busy = null;
  }

  /**
   * Build and send an IRP for an open handle. `setup` fills the stack location; the request's buffer is where the
   * caller will find the result. With `resultBuffer`, every result carries it as `Buffer`.
   *
   * With `service`, this is the system service's own frame too (what `service` does, without a frame of its own on
   * the read and write path). Synchronous up to the point something waits: only then does an async frame (issueTail)
   * take over, a small one, since an async function's frame holds every register of its body and is copied at each
   * await.
   *
   * `setup` gets `setupArg` as its fourth argument: the read and write path passes a module-level function and what
   * it needs there, instead of a closure per call (a new closure's first call goes through V8's CompileLazy builtin:
   * docs/PERFORMANCE.md, eighteenth pass).
   */
  private issue<R extends IoResult = IoResult, A = undefined>(
    caller: KThread | null,
    handle: number,
    mode: KPROCESSOR_MODE,
    requiredAccess: number,
    major: number,
    minor: number,
    setup: IrpSetup<A>,
    opts: CallOptions = NO_OPTIONS,
    outputLength = 0,
    resultBuffer: Uint8Array | undefined = undefined,
    service: string | null = null,
    early: NTSTATUS | undefined = undefined,
    setupArg?: A,
  ): Promise<R> {
    const t = service === null ? (caller as KThread) : this.serviceEnter(service, mode);
    let fo: FILE_OBJECT | undefined;
    let sync = false;
    try {
      if (early !== undefined) return this.issueDone(t, service, mode, ioResult<R>(early, 0, null, resultBuffer));
      const table = this.tableForHandle(t, handle, mode);
      fo = table?.object(handle);
      if (table === undefined || fo === undefined)
        return this.issueDone(t, service, mode, ioResult<R>(STATUS_INVALID_HANDLE, 0, null, resultBuffer));
      if (mode === "UserMode" && requiredAccess !== 0 && (table.access(handle) & requiredAccess) === 0)
        return this.issueDone(t, service, mode, ioResult<R>(STATUS_ACCESS_DENIED, 0, null, resultBuffer));
      sync = (fo.Flags & FO_SYNCHRONOUS_IO) !== 0;
      if (sync) {
        const wait = this.lockFile(t, fo);
        if (wait !== undefined) {
          const locked = fo;
          return wait.then(
            () =>
              this.issueLocked<R, A>(
                t,
                locked,
                true,
                mode,
                major,
                minor,
                setup,
                opts,
                outputLength,
                resultBuffer,
                service,
                setupArg as A,
              ),
            (e: unknown) => this.issueFailed<R>(t, service, mode, e),
          );
        }
      }
    } catch (e) {
      return this.issueFailed(t, service, mode, e);
    }
    return this.issueLocked<R, A>(
      t,
      fo,
      sync,
      mode,
      major,
      minor,
      setup,
      opts,
      outputLength,
      resultBuffer,
      service,
      setupArg as A,
    );
  }

  /** `issue` with a synchronous file object's I/O lock held: build the IRP and send it. */
  private issueLocked<R extends IoResult, A>(
    t: KThread,
    fo: FILE_OBJECT,
    sync: boolean,
    mode: KPROCESSOR_MODE,
    major: number,
    minor: number,
    setup: IrpSetup<A>,
    opts: CallOptions,
    outputLength: number,
    resultBuffer: Uint8Array | undefined,
    service: string | null,
    setupArg: A,
  ): Promise<R> {
    try {
      const top = this.io.IoGetRelatedDeviceObject(fo);
      const irp = this.io.IoAllocateIrp(top.StackSize);
      irp.Thread = t;
      irp.RequestorMode = mode;
      irp.OriginalFileObject = fo;
      const sp = this.io.IoGetNextIrpStackLocation(irp);
      sp.MajorFunction = major;
      sp.MinorFunction = minor;
      sp.FileObject = fo;
      const bad = setup(sp, irp, fo, setupArg);
      if (bad !== undefined) {
        this.io.IoFreeIrp(irp);
        if (sync) this.unlockFile(fo);
        return this.issueDone(t, service, mode, ioResult<R>(bad, 0, null, resultBuffer));
      }
      this.io.ObReferenceObject(fo);
      const req = new IoRequest(this, irp, fo, t, major, minor);
      req.buffer = irp.userOutput ?? irp.MdlAddress ?? (irp.UserBuffer instanceof Uint8Array ? irp.UserBuffer : null);
      const userEvent = opts.Event ?? null;
      if (userEvent) this.io.k.KeResetEvent(userEvent);
      if (!sync) this.io.k.KeClearEvent(fo.Event);
      let threadList = this.io.threadIrps.get(t);
      if (threadList === undefined) {
        threadList = new IrpList(IRP_LIST_LINK.thread);
        this.io.threadIrps.set(t, threadList);
      }
      threadList.add(irp);
      fo.addPendingIrp(irp);
      req.userEvent = userEvent;
      req.outputLength = outputLength;
      irp.finalizerContext = req;
      irp.finalizer = completeIoRequest;
      const called = this.io.callDriverForService(top, irp);
      if (typeof called !== "number")
        return this.issueTail<R>(req, irp, sync, called, null, 0, resultBuffer, service, mode);
      const r = this.issueReturned<R>(req, irp, sync, called, resultBuffer);
      if (r instanceof Promise) return this.issueTail<R>(req, irp, sync, null, r, called, resultBuffer, service, mode);
      return this.issueDone(t, service, mode, r);
    } catch (e) {
      return this.issueFailed(t, service, mode, e);
    }
  }

  /** The top-level IoCallDriver returned `status`: the result, or (a synchronous file object's pending I/O) its wait. */
  private issueReturned<R extends IoResult>(
    req: IoRequest,
    irp: IRP,
    sync: boolean,
    status: NTSTATUS,
    resultBuffer: Uint8Array | undefined,
  ): R | Promise<number> {
    this.io.topLevelReturned(irp, status);
    if (sync && (status === STATUS_PENDING || !req.done)) {
      const w = this.io.k.KeWaitForSingleObject(req.event);
      if (typeof w !== "number") return w;
    }
    return this.issueResult<R>(req, sync, status, resultBuffer);
  }

  private issueResult<R extends IoResult>(
    req: IoRequest,
    sync: boolean,
    status: NTSTATUS,
    resultBuffer: Uint8Array | undefined,
  ): R {
    if (sync) {
      this.unlockFile(req.file);
      const final = req.done ? req.IoStatusBlock.Status : status;
      return ioResult<R>(final, req.IoStatusBlock.Information, req, resultBuffer);
    }
    if (status === STATUS_PENDING) return ioResult<R>(STATUS_PENDING, 0, req, resultBuffer);
    return ioResult<R>(status, req.IoStatusBlock.Information, req, resultBuffer);
  }

  /** The rest of `issue` once something waits: IoCallDriver's dispatch (`called`), or the request itself (`waiting`). */
  private async issueTail<R extends IoResult>(
    req: IoRequest,
    irp: IRP,
    sync: boolean,
    called: Promise<NTSTATUS> | null,
    waiting: Promise<number> | null,
    status: NTSTATUS,
    resultBuffer: Uint8Array | undefined,
    service: string | null,
    mode: KPROCESSOR_MODE,
  ): Promise<R> {
    try {
      if (called !== null) {
        status = this.io.dispatchReturned(irp, await called);
        const r = this.issueReturned<R>(req, irp, sync, status, resultBuffer);
        if (!(r instanceof Promise)) return r;
        waiting = r;
      }
      await waiting;
      return this.issueResult<R>(req, sync, status, resultBuffer);
    } catch (e) {
      if (service !== null) this.serviceFailed(req.thread, e);
      throw e;
    } finally {
      if (service !== null) this.serviceExit(req.thread, service, mode);
    }
  }

  /** `issue` ends without waiting: the service returns `r`. */
  private issueDone<R>(t: KThread, service: string | null, mode: KPROCESSOR_MODE, r: R): Promise<R> {
    if (service !== null) this.serviceExit(t, service, mode);
    return Promise.resolve(r);
  }

  /** `issue` ends with an exception (a bug check, or a driver's exception: 0x1E). */
  private issueFailed<R>(t: KThread, service: string | null, mode: KPROCESSOR_MODE, e: unknown): Promise<R> {
    if (service !== null) {
      this.serviceFailed(t, e);
      this.serviceExit(t, service, mode);
    }
    return Promise.reject(e);
  }

  // ------------------------------------------------------------ read / write

  NtReadFile(handle: number, args: ReadWriteArgs, opts?: CallOptions): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.readWrite("NtReadFile", handle, args, opts, "UserMode", IRP_MJ_READ);
  }

  NtWriteFile(handle: number, args: ReadWriteArgs, opts?: CallOptions): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.readWrite("NtWriteFile", handle, args, opts, "UserMode", IRP_MJ_WRITE);
  }

  ZwReadFile(handle: number, args: ReadWriteArgs, opts?: CallOptions): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.readWrite("ZwReadFile", handle, args, opts, "KernelMode", IRP_MJ_READ);
  }

  ZwWriteFile(handle: number, args: ReadWriteArgs, opts?: CallOptions): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.readWrite("ZwWriteFile", handle, args, opts, "KernelMode", IRP_MJ_WRITE);
  }

  /** NtReadFile / NtWriteFile and their Zw forms: one async frame from the service to the IRP's completion. */
  private readWrite(
    service: string,
    handle: number,
    args: ReadWriteArgs,
    opts: CallOptions | undefined,
    mode: KPROCESSOR_MODE,
    major: number,
  ): Promise<IoResult & { Buffer: Uint8Array }> {
    const length = args.Length ?? args.Buffer?.length ?? 0;
    const buffer = args.Buffer ?? new Uint8Array(length);
    const required = major === IRP_MJ_READ ? FILE_READ_DATA : FILE_WRITE_DATA | FILE_APPEND_DATA;
    return this.issue<IoResult & { Buffer: Uint8Array }, ReadWriteSetup>(
      null,
      handle,
      mode,
      required,
      major,
      0,
      setupReadWrite,
      opts ?? NO_OPTIONS,
      0,
      buffer,
      service,
      length > buffer.length ? STATUS.STATUS_INVALID_USER_BUFFER : undefined,
      { args, buffer, length },
    );
  }

  // ------------------------------------------------------------ device and file-system control

  NtDeviceIoControlFile(
    handle: number,
    code: number,
    args: IoControlArgs = {},
    opts?: CallOptions,
  ): Promise<IoResult & { OutputBuffer: Uint8Array | null }> {
    return this.service("NtDeviceIoControlFile", "UserMode", (t) =>
      this.control(t, handle, code, args, opts, "UserMode", IRP_MJ_DEVICE_CONTROL),
    );
  }

  ZwDeviceIoControlFile(
    handle: number,
    code: number,
    args: IoControlArgs = {},
    opts?: CallOptions,
  ): Promise<IoResult & { OutputBuffer: Uint8Array | null }> {
    return this.service("ZwDeviceIoControlFile", "KernelMode", (t) =>
      this.control(t, handle, code, args, opts, "KernelMode", IRP_MJ_DEVICE_CONTROL),
    );
  }

  NtFsControlFile(
    handle: number,
    code: number,
    args: IoControlArgs = {},
    opts?: CallOptions,
  ): Promise<IoResult & { OutputBuffer: Uint8Array | null }> {
    return this.service("NtFsControlFile", "UserMode", (t) =>
      this.control(t, handle, code, args, opts, "UserMode", IRP_MJ_FILE_SYSTEM_CONTROL),
    );
  }

  ZwFsControlFile(
    handle: number,
    code: number,
    args: IoControlArgs = {},
    opts?: CallOptions,
  ): Promise<IoResult & { OutputBuffer: Uint8Array | null }> {
    return this.service("ZwFsControlFile", "KernelMode", (t) =>
      this.control(t, handle, code, args, opts, "KernelMode", IRP_MJ_FILE_SYSTEM_CONTROL),
    );
  }

  private async control(
    t: KThread,
    handle: number,
    code: number,
    args: IoControlArgs,
    opts: CallOptions | undefined,
    mode: KPROCESSOR_MODE,
    major: number,
  ): Promise<IoResult & { OutputBuffer: Uint8Array | null }> {
    const method = METHOD_FROM_CTL_CODE(code);
    const ctlAccess = ACCESS_FROM_CTL_CODE(code);
    let required = 0;
    if (ctlAccess & FILE_READ_ACCESS) required |= FILE_READ_DATA;
    if (ctlAccess & FILE_WRITE_ACCESS) required |= FILE_WRITE_DATA;
    const input = args.InputBuffer ?? null;
    const inLen = args.InputBufferLength ?? (input instanceof Uint8Array ? input.length : 0);
    const outLen = args.OutputBufferLength ?? args.OutputBuffer?.length ?? 0;
    const output = args.OutputBuffer ?? (outLen > 0 ? new Uint8Array(outLen) : null);
    if (output && outLen > output.length) {
      return { Status: STATUS.STATUS_INVALID_USER_BUFFER, Information: 0, request: null, OutputBuffer: output };
    }
    const r = await this.issue(
      t,
      handle,
      mode,
      required === (FILE_READ_DATA | FILE_WRITE_DATA) ? required : required,
      major,
      major === IRP_MJ_FILE_SYSTEM_CONTROL ? IRP_MN_USER_FS_REQUEST : 0,
      (sp, irp) => {
        const p = sp.Parameters;
        p.IoControlCode = code;
        p.FsControlCode = code;
        p.InputBufferLength = inLen;
        p.OutputBufferLength = outLen;
        if (method === METHOD_NEITHER) {
          p.Type3InputBuffer = input;
          irp.UserBuffer = output;
        } else {
          const sysLen = method === METHOD_BUFFERED ? Math.max(inLen, outLen) : inLen;
          const sys = new Uint8Array(sysLen);
          if (input instanceof Uint8Array && inLen !== 0) sys.set(input.subarray(0, inLen));
          irp.SystemBuffer = sys;
          irp.Flags |= IRP_BUFFERED_IO;
          if (method === METHOD_BUFFERED) {
            irp.userOutput = output;
            irp.Flags |= IRP_INPUT_OPERATION;
          } else irp.MdlAddress = output ? output.subarray(0, outLen) : null;
          if (!(input instanceof Uint8Array)) p.Type3InputBuffer = input;
        }
        return undefined;
      },
      opts,
      outLen,
    );
    // r is issue's { Status, Information, request }: the same keys in the same order, without an object spread.
    return { Status: r.Status, Information: r.Information, request: r.request, OutputBuffer: output };
  }

  // ------------------------------------------------------------ directories

  NtQueryDirectoryFile(
    handle: number,
    args: {
      readonly FileInformationClass: number;
      readonly Length: number;
      readonly ReturnSingleEntry?: boolean;
      readonly FileName?: string;
      readonly RestartScan?: boolean;
      readonly FileIndex?: number;
    },
    opts?: CallOptions,
  ): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.service("NtQueryDirectoryFile", "UserMode", async (t) => {
      const buffer = new Uint8Array(args.Length);
      const r = await this.issue(
        t,
        handle,
        "UserMode",
        FILE_LIST_DIRECTORY,
        IRP_MJ_DIRECTORY_CONTROL,
        IRP_MN_QUERY_DIRECTORY,
        (sp, irp) => {
          const p = sp.Parameters;
          p.Length = args.Length;
          p.FileInformationClass = args.FileInformationClass;
          p.FileName = args.FileName ?? null;
          p.FileIndex = args.FileIndex ?? 0;
          if (args.RestartScan) sp.Flags |= SL_RESTART_SCAN;
          if (args.ReturnSingleEntry) sp.Flags |= SL_RETURN_SINGLE_ENTRY;
          if (args.FileIndex !== undefined) sp.Flags |= SL_INDEX_SPECIFIED;
          irp.UserBuffer = buffer;
          irp.MdlAddress = buffer;
          return undefined;
        },
        opts,
      );
      return withBuffer(r, buffer);
    });
  }

  /** NtNotifyChangeDirectoryFile: completes when something matching the filter changes (usually pends). */
  NtNotifyChangeDirectoryFile(
    handle: number,
    args: { readonly CompletionFilter: number; readonly WatchTree?: boolean; readonly Length: number },
    opts?: CallOptions,
  ): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.service("NtNotifyChangeDirectoryFile", "UserMode", async (t) => {
      const buffer = new Uint8Array(args.Length);
      const r = await this.issue(
        t,
        handle,
        "UserMode",
        FILE_LIST_DIRECTORY,
        IRP_MJ_DIRECTORY_CONTROL,
        IRP_MN_NOTIFY_CHANGE_DIRECTORY,
        (sp, irp) => {
          if (args.CompletionFilter === 0) return STATUS_INVALID_PARAMETER;
          sp.Parameters.Length = args.Length;
          sp.Parameters.CompletionFilter = args.CompletionFilter;
          if (args.WatchTree) sp.Flags |= SL_WATCH_TREE;
          irp.UserBuffer = buffer;
          irp.MdlAddress = buffer;
          return undefined;
        },
        opts,
      );
      return withBuffer(r, buffer);
    });
  }

  // ------------------------------------------------------------ information

  NtQueryInformationFile(
    handle: number,
    args: { readonly FileInformationClass: number; readonly Length: number },
    opts?: CallOptions,
  ): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.service("NtQueryInformationFile", "UserMode", async (t) => {
      const buffer = new Uint8Array(args.Length);
      const r = await this.issue(
        t,
        handle,
        "UserMode",
        args.FileInformationClass === FileBasicInformation ? FILE_READ_ATTRIBUTES : 0,
        IRP_MJ_QUERY_INFORMATION,
        0,
        (sp, irp) => {
          sp.Parameters.Length = args.Length;
          sp.Parameters.FileInformationClass = args.FileInformationClass;
          irp.SystemBuffer = new Uint8Array(args.Length);
          irp.userOutput = buffer;
          irp.Flags |= IRP_BUFFERED_IO | IRP_INPUT_OPERATION;
          return undefined;
        },
        opts,
        args.Length,
      );
      return withBuffer(r, buffer);
    });
  }

  NtSetInformationFile(
    handle: number,
    args: { readonly FileInformationClass: number; readonly Buffer: Uint8Array },
    opts?: CallOptions,
  ): Promise<IoResult> {
    return this.service("NtSetInformationFile", "UserMode", async (t) => {
      const cls = args.FileInformationClass;
      let required = 0;
      if (cls === FileBasicInformation) required = FILE_WRITE_ATTRIBUTES;
      else if (cls === FileDispositionInformation || cls === FileDispositionInformationEx) required = DELETE;
      else if (cls === FileEndOfFileInformation || cls === FileAllocationInformation) required = FILE_WRITE_DATA;
      else if (cls === FileRenameInformation || cls === FileLinkInformation)
        required = cls === FileRenameInformation ? DELETE : 0;
      return this.issue(
        t,
        handle,
        "UserMode",
        required,
        IRP_MJ_SET_INFORMATION,
        0,
        (sp, irp) => {
          sp.Parameters.Length = args.Buffer.length;
          sp.Parameters.FileInformationClass = cls;
          if (cls === FileRenameInformation || cls === FileLinkInformation) {
            // ReplaceIfExists is the first byte of FILE_RENAME_INFORMATION.
            sp.Parameters.ReplaceIfExists = (args.Buffer[0] ?? 0) !== 0;
            sp.Parameters.FileObject = null;
          }
          const sys = new Uint8Array(args.Buffer.length);
          sys.set(args.Buffer);
          irp.SystemBuffer = sys;
          irp.Flags |= IRP_BUFFERED_IO;
          return undefined;
        },
        opts,
      );
    });
  }

  NtQueryVolumeInformationFile(
    handle: number,
    args: { readonly FsInformationClass: number; readonly Length: number },
    opts?: CallOptions,
  ): Promise<IoResult & { Buffer: Uint8Array }> {
    return this.service("NtQueryVolumeInformationFile", "UserMode", async (t) => {
      const buffer = new Uint8Array(args.Length);
      const r = await this.issue(
        t,
        handle,
        "UserMode",
        0,
        IRP_MJ_QUERY_VOLUME_INFORMATION,
        0,
        (sp, irp) => {
          sp.Parameters.Length = args.Length;
          sp.Parameters.FsInformationClass = args.FsInformationClass;
          irp.SystemBuffer = new Uint8Array(args.Length);
          irp.userOutput = buffer;
          irp.Flags |= IRP_BUFFERED_IO | IRP_INPUT_OPERATION;
          return undefined;
        },
        opts,
        args.Length,
      );
      return withBuffer(r, buffer);
    });
  }

  // ------------------------------------------------------------ locks, flush

  NtLockFile(
    handle: number,
    args: {
      readonly ByteOffset: number;
      readonly Length: number;
      readonly Key?: number;
      readonly FailImmediately?: boolean;
      readonly ExclusiveLock?: boolean;
    },
    opts?: CallOptions,
  ): Promise<IoResult> {
    return this.service("NtLockFile", "UserMode", (t) =>
      this.issue(
        t,
        handle,
        "UserMode",
        FILE_READ_DATA | FILE_WRITE_DATA,
        IRP_MJ_LOCK_CONTROL,
        IRP_MN_LOCK,
        (sp) => {
          if (args.Length <= 0) return STATUS_INVALID_PARAMETER;
          sp.Parameters.ByteOffset = args.ByteOffset;
          sp.Parameters.Length = args.Length;
          sp.Parameters.Key = args.Key ?? 0;
          if (args.FailImmediately) sp.Flags |= SL_FAIL_IMMEDIATELY;
          if (args.ExclusiveLock) sp.Flags |= SL_EXCLUSIVE_LOCK;
          return undefined;
        },
        opts,
      ),
    );
  }

  NtUnlockFile(
    handle: number,
    args: { readonly ByteOffset: number; readonly Length: number; readonly Key?: number } | "all",
  ): Promise<IoResult> {
    return this.service("NtUnlockFile", "UserMode", (t) =>
      this.issue(
        t,
        handle,
        "UserMode",
        FILE_READ_DATA | FILE_WRITE_DATA,
        IRP_MJ_LOCK_CONTROL,
        args === "all" ? IRP_MN_UNLOCK_ALL : IRP_MN_UNLOCK_SINGLE,
        (sp) => {
          if (args !== "all") {
            sp.Parameters.ByteOffset = args.ByteOffset;
            sp.Parameters.Length = args.Length;
            sp.Parameters.Key = args.Key ?? 0;
          }
          return undefined;
        },
      ),
    );
  }

  NtFlushBuffersFile(handle: number): Promise<IoResult> {
    return this.service("NtFlushBuffersFile", "UserMode", (t) =>
      this.issue(
        t,
        handle,
        "UserMode",
        FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_ADD_FILE,
        IRP_MJ_FLUSH_BUFFERS,
        0,
        () => undefined,
      ),
    );
  }

  // ------------------------------------------------------------ cancellation

  /**
   * NtCancelIoFile: cancel every request the calling thread issued on this handle's file object, and wait (up to
   * five virtual minutes, as NT does) for them to complete.
   */
  NtCancelIoFile(handle: number): Promise<NTSTATUS> {
    return this.service("NtCancelIoFile", "UserMode", async (t) => {
      const fo = this.tableForHandle(t, handle, "UserMode")?.object(handle);
      if (fo === undefined) return STATUS_INVALID_HANDLE;
      const mine = [...(this.io.threadIrps.get(t) ?? [])].filter((i) => i.OriginalFileObject === fo);
      const waits: KEVENT[] = [];
      for (const irp of mine) {
        const ev = new KEVENT(0, false, `cancel wait ${irp.label()}`);
        const prev = irp.finalizer;
        // (A local, not `irp.finalizer = (…) => …`: see KernelCore.createThread on V8 pretenuring such closures.)
        const finalizer = (d: IRP): void => {
          prev?.(d);
          this.io.k.KeSetEvent(ev);
        };
        irp.finalizer = finalizer;
        waits.push(ev);
        this.io.IoCancelIrp(irp);
      }
      const pending = waits.filter((w) => !w.signaled);
      if (pending.length > 0) await this.io.k.KeWaitForMultipleObjects(pending, "WaitAll", -5 * 60 * 10_000_000);
      return STATUS_SUCCESS;
    });
  }

  /** NtCancelIoFileEx: cancel one request (or all requests on the file, from any thread); does not wait. */
  NtCancelIoFileEx(handle: number, request?: IoRequest): Promise<NTSTATUS> {
    return this.service("NtCancelIoFileEx", "UserMode", async (t) => {
      const fo = this.tableForHandle(t, handle, "UserMode")?.object(handle);
      if (fo === undefined) return STATUS_INVALID_HANDLE;
      const targets = request ? (request.irp ? [request.irp] : []) : [...fo.pendingIrps];
      if (targets.length === 0) return STATUS.STATUS_NOT_FOUND;
      for (const irp of targets) this.io.IoCancelIrp(irp);
      return STATUS_SUCCESS;
    });
  }

  describeStatus(s: NTSTATUS): string {
    return statusName(s);
  }
}
