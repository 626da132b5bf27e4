/**
 * DRIVER_OBJECT, DEVICE_OBJECT, FILE_OBJECT and SHARE_ACCESS (wdm.h), with the emulator's reference counts.
 */
import { defineBitFlags, emptyList, KEVENT, type KThread, ownString, withItem } from "../kernel/index.js";
import { type DriverDispatch, type IRP, IRP_LIST_LINK, IrpList, type IrpSet } from "./irp.js";

export const IRP_MJ_COUNT = 0x1c;

export class DRIVER_OBJECT {
  readonly DriverName: string;
  /** MajorFunction[IRP_MJ_*]: null entries complete with STATUS_INVALID_DEVICE_REQUEST. */
  readonly MajorFunction: (DriverDispatch | null)[] = new Array(IRP_MJ_COUNT).fill(null);
  DriverUnload: ((driver: DRIVER_OBJECT) => Promise<void> | void) | null = null;
  readonly devices: DEVICE_OBJECT[] = [];
  /** Free slot for the driver's global state. */
  DriverExtension: unknown = null;
  constructor(name: string) {
    this.DriverName = name;
  }
}

export class DEVICE_OBJECT<Ext = unknown> {
  readonly DriverObject: DRIVER_OBJECT;
  /** Full object-namespace name (\Device\Foo) or null for an unnamed device. */
  readonly Name: string | null;
  readonly DeviceType: number;
  Characteristics: number;
  Flags: number;
  StackSize = 1;
  /** The device attached on top of this one (a filter), if any. */
  AttachedDevice: DEVICE_OBJECT | null = null;
  /** The device this one is attached to (what IoAttachDeviceToDeviceStack returned). */
  LowerDevice: DEVICE_OBJECT | null = null;
  DeviceExtension: Ext;
  deleted = false;
  /** @internal IoCallDriver's call-chain frame per major function ("IRP_MJ_READ → \Device\X"), made once each. */
  dispatchFrames: (string | undefined)[] | null = null;
  constructor(driver: DRIVER_OBJECT, name: string | null, type: number, characteristics: number, extension: Ext) {
    this.DriverObject = driver;
    this.Name = name;
    this.DeviceType = type;
    this.Characteristics = characteristics;
    this.Flags = 0;
    this.DeviceExtension = extension;
  }
  label(): string {
    return this.Name ?? `unnamed device of ${this.DriverObject.DriverName}`;
  }
}

export class SHARE_ACCESS {
  OpenCount = 0;
  Readers = 0;
  Writers = 0;
  Deleters = 0;
  SharedRead = 0;
  SharedWrite = 0;
  SharedDelete = 0;
}

const NO_IRPS: IrpSet = new IrpList(IRP_LIST_LINK.file);

/** FILE_OBJECT's boolean fields, as bits of one number. */
const FO_BIT = {
  ReadAccess: 1 << 0,
  WriteAccess: 1 << 1,
  DeleteAccess: 1 << 2,
  SharedRead: 1 << 3,
  SharedWrite: 1 << 4,
  SharedDelete: 1 << 5,
  DeletePending: 1 << 6,
  cleanupSent: 1 << 7,
  closeSent: 1 << 8,
  opened: 1 << 9,
} as const;

export class FILE_OBJECT {
  readonly id: number;
  /** The device the file was opened on (the named device at the bottom of its stack). */
  DeviceObject: DEVICE_OBJECT;
  FsContext: unknown = null;
  FsContext2: unknown = null;
  /** The name relative to the device (what IRP_MJ_CREATE sees), e.g. "\server\share\dir\file". */
  FileName: string;
  RelatedFileObject: FILE_OBJECT | null = null;
  Flags = 0;
  CurrentByteOffset = 0;
  FinalStatus = 0;
  /** Granted access of the open (the handle's access mask). */
  GrantedAccess = 0;

  // ---- object-manager bookkeeping
  /** PointerCount: every reference, including one per handle. */
  PointerCount = 1;
  HandleCount = 0;
  /** Synchronous-I/O serialization (IopAcquireFileObjectLock). */
  busy: KThread | null = null;
  /** Threads waiting for `busy`; a list of their own from the first wait (most file objects never have one). */
  busyWaiters: KThread[] = emptyList();
  /** The boolean fields below, one bit each (ten booleans would take ten slots of the object). */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: read and written by the accessors defineBitFlags puts on the prototype
  private bits = 0;
  /** IRPs in flight on this file object; created by the first I/O (most open handles never have one). */
  private pending: IrpList | null = null;
  /** Created when first needed: only asynchronous file objects wait on it (most handles are synchronous). */
  private event: KEVENT | null = null;

  constructor(id: number, device: DEVICE_OBJECT, fileName: string) {
    this.id = id;
    this.DeviceObject = device;
    this.FileName = ownString(fileName);
  }
  /** Signaled when an I/O on an asynchronous file object completes (NT's FileObject->Event / the object itself). */
  get Event(): KEVENT {
    if (this.event === null) this.event = new KEVENT(0, false, `file ${this.id}`);
    return this.event;
  }
  // The boolean fields, as accessors over `bits` (defined on the prototype below, one pair per name).
  declare ReadAccess: boolean;
  declare WriteAccess: boolean;
  declare DeleteAccess: boolean;
  declare SharedRead: boolean;
  declare SharedWrite: boolean;
  declare SharedDelete: boolean;
  declare DeletePending: boolean;
  declare cleanupSent: boolean;
  declare closeSent: boolean;
  /** IRP_MJ_CREATE completed successfully: only then do CLEANUP / CLOSE reach the driver. */
  declare opened: boolean;
  static {
    defineBitFlags(FILE_OBJECT.prototype, FO_BIT);
  }
  /** Queue `t` for the synchronous-I/O lock. */
  addBusyWaiter(t: KThread): void {
    this.busyWaiters = withItem(this.busyWaiters, t);
  }
  /** IRPs in flight on this file object (read-only; see addPendingIrp / deletePendingIrp). */
  get pendingIrps(): IrpSet {
    return this.pending ?? NO_IRPS;
  }
  addPendingIrp(irp: IRP): void {
    if (this.pending === null) this.pending = new IrpList(IRP_LIST_LINK.file);
    this.pending.add(irp);
  }
  deletePendingIrp(irp: IRP): void {
    if (this.pending !== null) this.pending.delete(irp);
  }

  label(): string {
    return `FILE_OBJECT#${this.id} "${this.FileName}"`;
  }
}
