/**
 * A small test driver: a network-redirector-shaped device that claims one UNC prefix through MUP, keeps files
 * in memory, pends every read and write and completes it from a DPC after a virtual latency, pends change
 * notifications with a cancel routine (completed by writes, cancelled at cleanup), and answers a custom IOCTL.
 * It exercises the kernel and I/O manager the way a real driver does; knobs make it misbehave on purpose.
 */

import {
  CTL_CODE,
  type DEVICE_OBJECT,
  type DRIVER_OBJECT,
  FILE_ACTION_MODIFIED,
  FILE_ANY_ACCESS,
  FILE_CREATE,
  FILE_CREATED,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  type FILE_OBJECT,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OPENED,
  FILE_REMOTE_DEVICE,
  FO_SYNCHRONOUS_IO,
  IOCTL_REDIR_QUERY_PATH,
  type IoSystem,
  type IRP,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  IRP_MJ_DEVICE_CONTROL,
  IRP_MJ_DIRECTORY_CONTROL,
  IRP_MJ_READ,
  IRP_MJ_WRITE,
  IRP_MN_NOTIFY_CHANGE_DIRECTORY,
  METHOD_BUFFERED,
  type QUERY_PATH_REQUEST,
  type QUERY_PATH_RESPONSE,
  SHARE_ACCESS,
} from "../../emulator/io/index.js";
import type { KDPC, Kernel, KTIMER, NTSTATUS } from "../../emulator/kernel/index.js";
import { STATUS } from "../../emulator/kernel/index.js";

/** IOCTL_PENDING_ECHO: METHOD_BUFFERED, echoes its input reversed. */
export const IOCTL_PENDING_ECHO = CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS);

export interface PendingDriverOptions {
  /** Device name (default \Device\PendingRdr). */
  readonly deviceName?: string;
  /** Driver-object name (default \Driver\ + the last component of the device name, e.g. \Driver\PendingRdr). */
  readonly driverName?: string;
  /** The UNC prefix it claims, e.g. "\pend" claims \\pend\… (default "\pend"). */
  readonly claim?: string;
  /** Virtual latency before a read/write completes, in 100 ns units (default 10 ms). */
  readonly latency?: number;
  /** Bugs to inject. */
  readonly bugs?: {
    /** Return STATUS_PENDING without IoMarkIrpPending. */
    readonly pendWithoutMark?: boolean;
    /** Complete reads twice. */
    readonly doubleComplete?: boolean;
    /** Complete a notify without clearing its cancel routine. */
    readonly completeWithCancelRoutine?: boolean;
    /** The cancel routine forgets IoReleaseCancelSpinLock. */
    readonly cancelKeepsSpinLock?: boolean;
  };
}

interface FileNode {
  data: Uint8Array;
}

interface Fcb {
  readonly name: string;
  readonly node: FileNode | null;
  readonly share: SHARE_ACCESS;
}

interface PendingIo {
  readonly irp: IRP;
  readonly timer: KTIMER;
  readonly dpc: KDPC;
}

export class PendingDriver {
  readonly k: Kernel;
  readonly sys: IoSystem;
  readonly opts: PendingDriverOptions;
  device: DEVICE_OBJECT | null = null;
  driver: DRIVER_OBJECT | null = null;
  readonly files = new Map<string, FileNode>();
  readonly shares = new Map<string, SHARE_ACCESS>();
  /** Pending notify IRPs by file object. */
  readonly notifies = new Map<FILE_OBJECT, IRP>();
  readonly inFlight = new Set<PendingIo>();
  /** What the driver saw, in order: "IRP_MJ_CREATE \x", "complete read from DPC at DISPATCH_LEVEL" … */
  readonly log: string[] = [];
  cleanups = 0;
  closes = 0;
  mupHandle = 0;

  constructor(sys: IoSystem, opts: PendingDriverOptions = {}) {
    this.sys = sys;
    this.k = sys.io.k;
    this.opts = opts;
  }

  get deviceName(): string {
    return this.opts.deviceName ?? "\\Device\\PendingRdr";
  }

  get driverName(): string {
    const dev = this.deviceName;
    return this.opts.driverName ?? `\\Driver\\${dev.slice(dev.lastIndexOf("\\") + 1)}`;
  }

  get claim(): string {
    return this.opts.claim ?? "\\pend";
  }

  /** Load the driver and register it with MUP. Call from an emulated system thread. */
  async load(): Promise<NTSTATUS> {
    const io = this.sys.io;
    const { status } = await io.IoCreateDriver(this.driverName, (driver) => {
      this.driver = driver;
      const { status: s, device } = io.IoCreateDevice(
        driver,
        this,
        this.deviceName,
        FILE_DEVICE_NETWORK_FILE_SYSTEM,
        FILE_REMOTE_DEVICE,
      );
      if (!device) return s;
      this.device = device;
      driver.MajorFunction[IRP_MJ_CREATE] = (_d, irp) => this.create(irp);
      driver.MajorFunction[IRP_MJ_CLEANUP] = (_d, irp) => this.cleanup(irp);
      driver.MajorFunction[IRP_MJ_CLOSE] = (_d, irp) => this.close(irp);
      driver.MajorFunction[IRP_MJ_READ] = (_d, irp) => this.readWrite(irp, false);
      driver.MajorFunction[IRP_MJ_WRITE] = (_d, irp) => this.readWrite(irp, true);
      driver.MajorFunction[IRP_MJ_DIRECTORY_CONTROL] = (_d, irp) => this.directoryControl(irp);
      driver.MajorFunction[IRP_MJ_DEVICE_CONTROL] = (_d, irp) => this.deviceControl(irp);
      return STATUS.STATUS_SUCCESS;
    });
    if ((status | 0) < 0) return status;
    const r = this.sys.mup.FsRtlRegisterUncProvider(this.deviceName);
    this.mupHandle = r.handle;
    return r.status;
  }

  private complete(irp: IRP, status: NTSTATUS, information = 0): NTSTATUS {
    irp.IoStatus.Status = status;
    irp.IoStatus.Information = information;
    this.sys.io.IoCompleteRequest(irp);
    return status;
  }

  private create(irp: IRP): NTSTATUS {
    const io = this.sys.io;
    const sp = io.IoGetCurrentIrpStackLocation(irp);
    const fo = sp.FileObject as FILE_OBJECT;
    this.log.push(`IRP_MJ_CREATE ${fo.FileName}`);
    if (fo.FileName === "") {
      fo.FsContext = null; // a device open
      return this.complete(irp, STATUS.STATUS_SUCCESS, FILE_OPENED);
    }
    const key = fo.FileName.toUpperCase();
    if (!key.startsWith(this.claim.toUpperCase())) return this.complete(irp, STATUS.STATUS_OBJECT_PATH_NOT_FOUND);
    const disposition = sp.Parameters.Create.Options >>> 24;
    let node = this.files.get(key) ?? null;
    let info: number = FILE_OPENED;
    const isDirectory = key === this.claim.toUpperCase() || key.endsWith("\\DIR");
    if (!node && !isDirectory) {
      if (disposition === FILE_CREATE || disposition === FILE_OPEN_IF || disposition > FILE_OPEN_IF) {
        node = { data: new Uint8Array(0) };
        this.files.set(key, node);
        info = FILE_CREATED;
      } else if (disposition === FILE_OPEN) {
        return this.complete(irp, STATUS.STATUS_OBJECT_NAME_NOT_FOUND);
      }
    } else if (node && disposition === FILE_CREATE) {
      return this.complete(irp, STATUS.STATUS_OBJECT_NAME_COLLISION);
    }
    let share = this.shares.get(key);
    if (!share) {
      share = new SHARE_ACCESS();
      this.shares.set(key, share);
    }
    const st = io.IoCheckShareAccess(
      sp.Parameters.Create.SecurityContext.DesiredAccess,
      sp.Parameters.Create.ShareAccess,
      fo,
      share,
      true,
    );
    if (st !== STATUS.STATUS_SUCCESS) return this.complete(irp, st);
    const fcb: Fcb = { name: key, node, share };
    fo.FsContext = fcb;
    return this.complete(irp, STATUS.STATUS_SUCCESS, info);
  }

  private cleanup(irp: IRP): NTSTATUS {
    const io = this.sys.io;
    const fo = io.IoGetCurrentIrpStackLocation(irp).FileObject as FILE_OBJECT;
    this.cleanups++;
    this.log.push(`IRP_MJ_CLEANUP ${fo.FileName}`);
    const fcb = fo.FsContext as Fcb | null;
    if (fcb) io.IoRemoveShareAccess(fo, fcb.share);
    // Cancel the notification pending on this handle, as a file system does at cleanup.
    const n = this.notifies.get(fo);
    if (n && io.IoSetCancelRoutine(n, null) !== null) {
      this.notifies.delete(fo);
      this.complete(n, STATUS.STATUS_NOTIFY_CLEANUP);
    }
    return this.complete(irp, STATUS.STATUS_SUCCESS);
  }

  private close(irp: IRP): NTSTATUS {
    const fo = this.sys.io.IoGetCurrentIrpStackLocation(irp).FileObject as FILE_OBJECT;
    this.closes++;
    this.log.push(`IRP_MJ_CLOSE ${fo.FileName}`);
    return this.complete(irp, STATUS.STATUS_SUCCESS);
  }

  private readWrite(irp: IRP, write: boolean): NTSTATUS {
    const io = this.sys.io;
    const sp = io.IoGetCurrentIrpStackLocation(irp);
    const fcb = sp.FileObject?.FsContext as Fcb | null;
    if (!fcb?.node) return this.complete(irp, STATUS.STATUS_INVALID_DEVICE_REQUEST);
    const node = fcb.node;
    const offset = sp.Parameters.Read.ByteOffset;
    const length = sp.Parameters.Read.Length;
    const fo = sp.FileObject as FILE_OBJECT;
    // As a file system does: a synchronous file object's current offset follows each transfer.
    const synchronous = (fo.Flags & FO_SYNCHRONOUS_IO) !== 0;
    const buf = irp.MdlAddress as Uint8Array;
    const timer = this.k.KeInitializeTimer(undefined, `${write ? "write" : "read"} ${irp.label()}`);
    const entry: PendingIo = {
      irp,
      timer,
      dpc: this.k.KeInitializeDpc(
        () => {
          this.inFlight.delete(entry);
          this.log.push(`complete ${write ? "write" : "read"} from DPC at IRQL ${this.k.KeGetCurrentIrql()}`);
          let n = 0;
          if (write) {
            const end =
              Math.min(offset, Number.MAX_SAFE_INTEGER) === Number.MAX_SAFE_INTEGER
                ? node.data.length + length
                : offset + length;
            if (end > node.data.length) {
              const grown = new Uint8Array(end);
              grown.set(node.data);
              node.data = grown;
            }
            node.data.set(buf.subarray(0, length), end - length);
            n = length;
            if (synchronous) fo.CurrentByteOffset = end;
            this.notifyChange(fcb.name);
          } else {
            if (offset >= node.data.length) {
              this.complete(irp, STATUS.STATUS_END_OF_FILE);
              return;
            }
            n = Math.min(length, node.data.length - offset);
            buf.set(node.data.subarray(offset, offset + n));
            if (synchronous) fo.CurrentByteOffset = offset + n;
          }
          this.complete(irp, STATUS.STATUS_SUCCESS, n);
          if (this.opts.bugs?.doubleComplete && !write) this.complete(irp, STATUS.STATUS_SUCCESS, n);
        },
        null,
        `complete ${irp.label()}`,
      ),
    };
    this.inFlight.add(entry);
    if (!this.opts.bugs?.pendWithoutMark) io.IoMarkIrpPending(irp);
    this.k.KeSetTimer(timer, -(this.opts.latency ?? 100_000), entry.dpc);
    return STATUS.STATUS_PENDING;
  }

  private directoryControl(irp: IRP): NTSTATUS {
    const io = this.sys.io;
    const sp = io.IoGetCurrentIrpStackLocation(irp);
    if (sp.MinorFunction !== IRP_MN_NOTIFY_CHANGE_DIRECTORY)
      return this.complete(irp, STATUS.STATUS_INVALID_DEVICE_REQUEST);
    const fo = sp.FileObject as FILE_OBJECT;
    io.IoMarkIrpPending(irp);
    this.notifies.set(fo, irp);
    io.IoSetCancelRoutine(irp, (_dev, cancelled) => {
      this.log.push(`cancel routine for ${cancelled.label()}`);
      if (!this.opts.bugs?.cancelKeepsSpinLock) io.IoReleaseCancelSpinLock(cancelled.CancelIrql);
      this.notifies.delete(fo);
      this.complete(cancelled, STATUS.STATUS_CANCELLED);
    });
    // A cancel that came before the routine was set: complete now.
    if (irp.Cancel && io.IoSetCancelRoutine(irp, null) !== null) {
      this.notifies.delete(fo);
      this.complete(irp, STATUS.STATUS_CANCELLED);
    }
    return STATUS.STATUS_PENDING;
  }

  /** Complete every pending notification (a file under the claim changed). */
  private notifyChange(fileName: string): void {
    const io = this.sys.io;
    for (const [fo, irp] of [...this.notifies]) {
      if (!this.opts.bugs?.completeWithCancelRoutine && io.IoSetCancelRoutine(irp, null) === null) continue;
      this.notifies.delete(fo);
      const out = irp.MdlAddress;
      const rel = fileName.slice(fileName.lastIndexOf("\\") + 1);
      let info = 0;
      if (out && out.length >= 12 + rel.length * 2) {
        const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
        dv.setUint32(0, 0, true);
        dv.setUint32(4, FILE_ACTION_MODIFIED, true);
        dv.setUint32(8, rel.length * 2, true);
        for (let i = 0; i < rel.length; i++) dv.setUint16(12 + i * 2, rel.charCodeAt(i), true);
        info = 12 + rel.length * 2;
      }
      this.complete(irp, info ? STATUS.STATUS_SUCCESS : STATUS.STATUS_NOTIFY_ENUM_DIR, info);
    }
  }

  private deviceControl(irp: IRP): NTSTATUS {
    const io = this.sys.io;
    const sp = io.IoGetCurrentIrpStackLocation(irp);
    const code = sp.Parameters.DeviceIoControl.IoControlCode;
    if (code === IOCTL_REDIR_QUERY_PATH) {
      if (irp.RequestorMode !== "KernelMode") return this.complete(irp, STATUS.STATUS_INVALID_DEVICE_REQUEST);
      const req = sp.Parameters.DeviceIoControl.Type3InputBuffer as QUERY_PATH_REQUEST;
      const resp = irp.UserBuffer as QUERY_PATH_RESPONSE;
      const claim = this.claim.toUpperCase();
      const name = req.FilePathName.toUpperCase();
      this.log.push(`IOCTL_REDIR_QUERY_PATH ${req.FilePathName}`);
      if (name === claim || name.startsWith(`${claim}\\`)) {
        resp.LengthAccepted = claim.length * 2;
        return this.complete(irp, STATUS.STATUS_SUCCESS);
      }
      return this.complete(irp, STATUS.STATUS_BAD_NETWORK_PATH);
    }
    if (code === IOCTL_PENDING_ECHO) {
      const inLen = sp.Parameters.DeviceIoControl.InputBufferLength;
      const outLen = sp.Parameters.DeviceIoControl.OutputBufferLength;
      const sys = irp.SystemBuffer as Uint8Array;
      const copy = sys.slice(0, inLen).reverse();
      const n = Math.min(outLen, inLen);
      sys.set(copy.subarray(0, n));
      return this.complete(irp, STATUS.STATUS_SUCCESS, n);
    }
    return this.complete(irp, STATUS.STATUS_INVALID_DEVICE_REQUEST);
  }
}
