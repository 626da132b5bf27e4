/**
 * IRP and IO_STACK_LOCATION (wdm.h). The stack-location parameter union is one flat object with a view per
 * major function, so `sp.Parameters.Read.Length` and `sp.Parameters.DeviceIoControl.IoControlCode` read as in C
 * without allocating a union member per IRP.
 */
import type { KEVENT, KThread, NTSTATUS, Witness } from "../kernel/index.js";
import type { DEVICE_OBJECT, FILE_OBJECT } from "./objects.js";

export type KPROCESSOR_MODE = "KernelMode" | "UserMode";

export class IO_STATUS_BLOCK {
  Status: NTSTATUS = 0;
  Information = 0;
}

/** One extended attribute of a create (FILE_FULL_EA_INFORMATION, as an object rather than packed bytes). */
export interface FILE_FULL_EA_INFORMATION {
  readonly EaName: string;
  readonly EaValue: Uint8Array;
  readonly Flags?: number;
}

export interface CreateParameters {
  SecurityContext: { DesiredAccess: number; RequestorMode: KPROCESSOR_MODE };
  /** CreateDisposition << 24 | CreateOptions. */
  Options: number;
  FileAttributes: number;
  ShareAccess: number;
  EaLength: number;
  EaBuffer: readonly FILE_FULL_EA_INFORMATION[] | null;
  AllocationSize: number;
}
export interface ReadWriteParameters {
  Length: number;
  Key: number;
  ByteOffset: number;
}
export interface QueryFileParameters {
  Length: number;
  FileInformationClass: number;
}
export interface SetFileParameters {
  Length: number;
  FileInformationClass: number;
  FileObject: FILE_OBJECT | null;
  ReplaceIfExists: boolean;
  AdvanceOnly: boolean;
}
export interface QueryDirectoryParameters {
  Length: number;
  FileName: string | null;
  FileInformationClass: number;
  FileIndex: number;
}
export interface NotifyDirectoryParameters {
  Length: number;
  CompletionFilter: number;
}
export interface DeviceIoControlParameters {
  OutputBufferLength: number;
  InputBufferLength: number;
  IoControlCode: number;
  Type3InputBuffer: unknown;
}
export interface FileSystemControlParameters {
  OutputBufferLength: number;
  InputBufferLength: number;
  FsControlCode: number;
  Type3InputBuffer: unknown;
}
export interface LockControlParameters {
  Length: number;
  Key: number;
  ByteOffset: number;
}
export interface QueryVolumeParameters {
  Length: number;
  FsInformationClass: number;
}

/** The parameter union of an IO_STACK_LOCATION; each property is a typed view of the same object. */
const NO_SECURITY_CONTEXT: { DesiredAccess: number; RequestorMode: KPROCESSOR_MODE } = Object.freeze({
  DesiredAccess: 0,
  RequestorMode: "UserMode",
});

export class IoParameters
  implements
    ReadWriteParameters,
    QueryFileParameters,
    SetFileParameters,
    QueryDirectoryParameters,
    NotifyDirectoryParameters,
    DeviceIoControlParameters,
    FileSystemControlParameters,
    QueryVolumeParameters,
    CreateParameters
{
  // Create
  /** Set (replaced whole) by the creator of an IRP_MJ_CREATE; other IRPs share one frozen empty context. */
  SecurityContext: { DesiredAccess: number; RequestorMode: KPROCESSOR_MODE } = NO_SECURITY_CONTEXT;
  Options = 0;
  FileAttributes = 0;
  ShareAccess = 0;
  EaLength = 0;
  EaBuffer: readonly FILE_FULL_EA_INFORMATION[] | null = null;
  AllocationSize = 0;
  // Read / Write / LockControl / Query* / Set*
  Length = 0;
  Key = 0;
  ByteOffset = 0;
  FileInformationClass = 0;
  FsInformationClass = 0;
  FileObject: FILE_OBJECT | null = null;
  ReplaceIfExists = false;
  AdvanceOnly = false;
  FileName: string | null = null;
  FileIndex = 0;
  CompletionFilter = 0;
  // DeviceIoControl / FileSystemControl
  OutputBufferLength = 0;
  InputBufferLength = 0;
  IoControlCode = 0;
  FsControlCode = 0;
  Type3InputBuffer: unknown = null;

  get Create(): CreateParameters {
    return this;
  }
  get Read(): ReadWriteParameters {
    return this;
  }
  get Write(): ReadWriteParameters {
    return this;
  }
  get QueryFile(): QueryFileParameters {
    return this;
  }
  get SetFile(): SetFileParameters {
    return this;
  }
  get QueryDirectory(): QueryDirectoryParameters {
    return this;
  }
  get NotifyDirectory(): NotifyDirectoryParameters {
    return this;
  }
  get DeviceIoControl(): DeviceIoControlParameters {
    return this;
  }
  get FileSystemControl(): FileSystemControlParameters {
    return this;
  }
  get LockControl(): LockControlParameters {
    return this;
  }
  get QueryVolume(): QueryVolumeParameters {
    return this;
  }
  get SetVolume(): QueryVolumeParameters {
    return this;
  }

  copyFrom(o: IoParameters): void {
    this.SecurityContext = o.SecurityContext;
    this.Options = o.Options;
    this.FileAttributes = o.FileAttributes;
    this.ShareAccess = o.ShareAccess;
    this.EaLength = o.EaLength;
    this.EaBuffer = o.EaBuffer;
    this.AllocationSize = o.AllocationSize;
    this.Length = o.Length;
    this.Key = o.Key;
    this.ByteOffset = o.ByteOffset;
    this.FileInformationClass = o.FileInformationClass;
    this.FsInformationClass = o.FsInformationClass;
    this.FileObject = o.FileObject;
    this.ReplaceIfExists = o.ReplaceIfExists;
    this.AdvanceOnly = o.AdvanceOnly;
    this.FileName = o.FileName;
    this.FileIndex = o.FileIndex;
    this.CompletionFilter = o.CompletionFilter;
    this.OutputBufferLength = o.OutputBufferLength;
    this.InputBufferLength = o.InputBufferLength;
    this.IoControlCode = o.IoControlCode;
    this.FsControlCode = o.FsControlCode;
    this.Type3InputBuffer = o.Type3InputBuffer;
  }
}

export type IoCompletionRoutine = (DeviceObject: DEVICE_OBJECT | null, Irp: IRP, Context: unknown) => NTSTATUS;
export type DriverDispatch = (DeviceObject: DEVICE_OBJECT, Irp: IRP) => NTSTATUS | Promise<NTSTATUS>;
export type DriverCancel = (DeviceObject: DEVICE_OBJECT, Irp: IRP) => void;

export class IO_STACK_LOCATION {
  MajorFunction = 0;
  MinorFunction = 0;
  Flags = 0;
  Control = 0;
  DeviceObject: DEVICE_OBJECT | null = null;
  FileObject: FILE_OBJECT | null = null;
  CompletionRoutine: IoCompletionRoutine | null = null;
  Context: unknown = null;
  readonly Parameters = new IoParameters();
}

/** What the I/O manager does when an IRP it built finishes (IopCompleteRequest), set by its creator. */
export type IrpFinalizer = (irp: IRP) => void;

export class IRP {
  readonly id: number;
  readonly StackCount: number;
  readonly stack: IO_STACK_LOCATION[];
  /** 1-based as in NT: StackCount + 1 before the first IoCallDriver; the current location is stack[CurrentLocation - 1]. */
  CurrentLocation: number;
  readonly IoStatus = new IO_STATUS_BLOCK();
  PendingReturned = false;
  Cancel = false;
  CancelRoutine: DriverCancel | null = null;
  CancelIrql = 0;
  RequestorMode: KPROCESSOR_MODE = "KernelMode";
  Flags = 0;
  /** AssociatedIrp.SystemBuffer (buffered I/O). */
  SystemBuffer: Uint8Array | null = null;
  /** The caller's buffer as passed (METHOD_NEITHER output, or a structure such as QUERY_PATH_RESPONSE). */
  UserBuffer: unknown = null;
  /** The locked user buffer (an MDL), as a view of the caller's memory. */
  MdlAddress: Uint8Array | null = null;
  /** Tail.Overlay.Thread */
  Thread: KThread | null = null;
  /** Tail.Overlay.OriginalFileObject */
  OriginalFileObject: FILE_OBJECT | null = null;
  UserEvent: KEVENT | null = null;
  UserIosb: IO_STATUS_BLOCK | null = null;
  /** Tail.Overlay.DriverContext[4] */
  readonly DriverContext: unknown[] = [null, null, null, null];

  // ---- emulator bookkeeping
  /** IoCompleteRequest has run to the top (the IRP belongs to the I/O manager again). */
  completed = false;
  /** IoCompleteRequest is walking the stack right now. */
  completing = false;
  /** Who called IoCompleteRequest last (its thread, time, step and call chain), for a second completion's report. */
  completion: Witness | null = null;
  /**
   * Locations that were marked pending with IoMarkIrpPending, one bit per location (bit `CurrentLocation`): the
   * record SL_PENDING_RETURNED leaves after completion clears the locations' Control.
   */
  private pendingMarks = 0;
  /** Marks of locations 31 and up (an IRP may have up to 255 locations; few have more than a handful). */
  private pendingHigh: boolean[] | null = null;
  /**
   * An asynchronous dispatch routine whose return checks the system service runs (IoManager.callDriverForService):
   * the calling thread and its IRQL, until `dispatchReturned`.
   */
  /** @internal */ dispatchThread: KThread | null = null;
  /** @internal */ dispatchIrql = 0;
  /** @internal The dispatching thread's KThread.driver before the call, restored when it returns. */
  dispatchCaller: string | null = null;
  /** Status the top-level IoCallDriver returned to the I/O manager (null while it has not returned). */
  topReturned: NTSTATUS | null = null;
  finalizer: IrpFinalizer | null = null;
  /** What the finalizer finishes (the system service's request record), so one finalizer serves every IRP. */
  finalizerContext: unknown = null;
  /** Where a METHOD_BUFFERED / buffered-read result is copied back to at completion. */
  userOutput: Uint8Array | null = null;
  freed = false;
  // The links of the three IrpLists an IRP can be on (the I/O manager's live IRPs, its thread's IRPs as in
  // Irp->ThreadListEntry, its file object's IRPs in flight): no Set entry per IRP and list.
  /** @internal */ liveNext: IRP | null = null;
  /** @internal */ livePrev: IRP | null = null;
  /** @internal */ liveList: IrpList | null = null;
  /** @internal */ threadNext: IRP | null = null;
  /** @internal */ threadPrev: IRP | null = null;
  /** @internal */ threadList: IrpList | null = null;
  /** @internal */ fileNext: IRP | null = null;
  /** @internal */ filePrev: IRP | null = null;
  /** @internal */ fileList: IrpList | null = null;

  /** `id` comes from the I/O manager, so numbering is per emulator and runs stay reproducible. */
  constructor(stackSize: number, id = 0) {
    this.id = id;
    this.StackCount = stackSize;
    this.stack = new Array(stackSize);
    for (let i = 0; i < stackSize; i++) this.stack[i] = new IO_STACK_LOCATION();
    this.CurrentLocation = stackSize + 1;
  }

  /** IoMarkIrpPending was called at location `loc` (1-based, as CurrentLocation). */
  markedPending(loc: number): boolean {
    return loc < 31 ? (this.pendingMarks & (1 << loc)) !== 0 : this.pendingHigh?.[loc] === true;
  }

  /** @internal Record IoMarkIrpPending (or the I/O manager's propagation) at location `loc`. */
  markPending(loc: number): void {
    if (loc < 31) this.pendingMarks |= 1 << loc;
    else {
      if (this.pendingHigh === null) this.pendingHigh = [];
      this.pendingHigh[loc] = true;
    }
  }

  get AssociatedIrp(): { SystemBuffer: Uint8Array | null } {
    return this;
  }

  get Tail(): {
    Overlay: { Thread: KThread | null; OriginalFileObject: FILE_OBJECT | null; DriverContext: unknown[] };
  } {
    return { Overlay: this };
  }

  label(): string {
    return `IRP#${this.id}`;
  }
}

/** Which of an IRP's links an IrpList uses: the live IRPs, a thread's IRPs, a file object's IRPs in flight. */
export const IRP_LIST_LINK = { live: 0, thread: 1, file: 2 } as const;
export type IrpListLink = (typeof IRP_LIST_LINK)[keyof typeof IRP_LIST_LINK];

function nextOf(irp: IRP, link: IrpListLink): IRP | null {
  return link === 0 ? irp.liveNext : link === 1 ? irp.threadNext : irp.fileNext;
}
function setNext(irp: IRP, link: IrpListLink, v: IRP | null): void {
  if (link === 0) irp.liveNext = v;
  else if (link === 1) irp.threadNext = v;
  else irp.fileNext = v;
}
function prevOf(irp: IRP, link: IrpListLink): IRP | null {
  return link === 0 ? irp.livePrev : link === 1 ? irp.threadPrev : irp.filePrev;
}
function setPrev(irp: IRP, link: IrpListLink, v: IRP | null): void {
  if (link === 0) irp.livePrev = v;
  else if (link === 1) irp.threadPrev = v;
  else irp.filePrev = v;
}
function listOf(irp: IRP, link: IrpListLink): IrpList | null {
  return link === 0 ? irp.liveList : link === 1 ? irp.threadList : irp.fileList;
}
function setList(irp: IRP, link: IrpListLink, v: IrpList | null): void {
  if (link === 0) irp.liveList = v;
  else if (link === 1) irp.threadList = v;
  else irp.fileList = v;
}

/** A read-only view of a set of IRPs (IrpList). */
export interface IrpSet extends Iterable<IRP> {
  readonly size: number;
  has(irp: IRP): boolean;
}

/**
 * A set of IRPs kept as a doubly-linked list through the IRPs themselves (as NT links Irp->ThreadListEntry): adding
 * and removing allocate nothing (a JavaScript Set that goes from one entry to none and back reallocates its table),
 * iteration is in insertion order. An IRP is on at most one list of each link.
 */
export class IrpList implements IrpSet {
  private readonly link: IrpListLink;
  private head: IRP | null = null;
  private tail: IRP | null = null;
  private count = 0;

  constructor(link: IrpListLink) {
    this.link = link;
  }

  get size(): number {
    return this.count;
  }

  has(irp: IRP): boolean {
    return listOf(irp, this.link) === this;
  }

  /** Append; false when the IRP is already on a list of this link. */
  add(irp: IRP): boolean {
    const link = this.link;
    if (listOf(irp, link) !== null) return false;
    setList(irp, link, this);
    setPrev(irp, link, this.tail);
    setNext(irp, link, null);
    if (this.tail === null) this.head = irp;
    else setNext(this.tail, link, irp);
    this.tail = irp;
    this.count++;
    return true;
  }

  /** Remove; false when the IRP is not on this list. */
  delete(irp: IRP): boolean {
    const link = this.link;
    if (listOf(irp, link) !== this) return false;
    const prev = prevOf(irp, link);
    const next = nextOf(irp, link);
    if (prev === null) this.head = next;
    else setNext(prev, link, next);
    if (next === null) this.tail = prev;
    else setPrev(next, link, prev);
    setList(irp, link, null);
    setPrev(irp, link, null);
    setNext(irp, link, null);
    this.count--;
    return true;
  }

  *[Symbol.iterator](): Iterator<IRP> {
    let i = this.head;
    while (i !== null) {
      const next = nextOf(i, this.link);
      yield i;
      i = next;
    }
  }

  values(): IterableIterator<IRP> {
    return this[Symbol.iterator]() as IterableIterator<IRP>;
  }
}
