/**
 * A pass-through filter test driver: an unnamed device attached with IoAttachDeviceToDeviceStack on top of
 * another device. It logs every IRP it sees and passes it down, either with IoSkipCurrentIrpStackLocation
 * ("skip") or with IoCopyCurrentIrpStackLocationToNext and a completion routine ("copy"). The completion
 * routine propagates pending (`if (Irp->PendingReturned) IoMarkIrpPending(Irp)`) unless told not to.
 */
import {
  type DEVICE_OBJECT,
  type DRIVER_OBJECT,
  FILE_DEVICE_UNKNOWN,
  type IoSystem,
  type IRP,
  IRP_MJ_COUNT,
  IRP_MJ_NAMES,
} from "../../emulator/io/index.js";
import { type Kernel, type NTSTATUS, STATUS, statusName } from "../../emulator/kernel/index.js";

export interface FilterDriverOptions {
  /** Driver-object name (default \Driver\PassFilter). */
  readonly driverName?: string;
  /** How IRPs are passed down (default "copy"). */
  readonly mode?: "skip" | "copy";
  /** The completion routine calls IoMarkIrpPending when Irp->PendingReturned (default true). */
  readonly propagatePending?: boolean;
}

export class FilterDriver {
  readonly k: Kernel;
  readonly sys: IoSystem;
  readonly opts: FilterDriverOptions;
  driver: DRIVER_OBJECT | null = null;
  device: DEVICE_OBJECT | null = null;
  /** The device IoAttachDeviceToDeviceStack returned: where IRPs are passed. */
  lower: DEVICE_OBJECT | null = null;
  /** "IRP_MJ_READ IRP#12 \pend\x" at dispatch; "done IRP_MJ_READ IRP#12 STATUS_SUCCESS 5 at IRQL 2" at completion. */
  readonly log: string[] = [];
  /** DeviceObject argument of each completion-routine call (must be this filter's device). */
  readonly completionDevices: (DEVICE_OBJECT | null)[] = [];

  constructor(sys: IoSystem, opts: FilterDriverOptions = {}) {
    this.sys = sys;
    this.k = sys.io.k;
    this.opts = opts;
  }

  get mode(): "skip" | "copy" {
    return this.opts.mode ?? "copy";
  }

  /** Load the driver and attach its device on top of the stack that contains `target`. Call from a thread. */
  async load(target: DEVICE_OBJECT): Promise<NTSTATUS> {
    const io = this.sys.io;
    const { status } = await io.IoCreateDriver(this.opts.driverName ?? "\\Driver\\PassFilter", (driver) => {
      this.driver = driver;
      const { status: s, device } = io.IoCreateDevice(driver, this, null, FILE_DEVICE_UNKNOWN);
      if (!device) return s;
      this.device = device;
      for (let major = 0; major < IRP_MJ_COUNT; major++) {
        driver.MajorFunction[major] = (_d, irp) => this.dispatch(irp);
      }
      this.lower = io.IoAttachDeviceToDeviceStack(device, target);
      return STATUS.STATUS_SUCCESS;
    });
    return status;
  }

  private dispatch(irp: IRP): NTSTATUS | Promise<NTSTATUS> {
    const io = this.sys.io;
    const sp = io.IoGetCurrentIrpStackLocation(irp);
    const name = IRP_MJ_NAMES[sp.MajorFunction] ?? String(sp.MajorFunction);
    this.log.push(`${name} ${irp.label()} ${sp.FileObject?.FileName ?? "-"}`);
    const lower = this.lower as DEVICE_OBJECT;
    if (this.mode === "skip") {
      io.IoSkipCurrentIrpStackLocation(irp);
      return io.IoCallDriver(lower, irp);
    }
    io.IoCopyCurrentIrpStackLocationToNext(irp);
    io.IoSetCompletionRoutine(
      irp,
      (dev, done) => {
        this.completionDevices.push(dev);
        this.log.push(
          `done ${name} ${done.label()} ${statusName(done.IoStatus.Status)} ${done.IoStatus.Information} at IRQL ${this.k.KeGetCurrentIrql()}`,
        );
        if (done.PendingReturned && this.opts.propagatePending !== false) io.IoMarkIrpPending(done);
        return STATUS.STATUS_SUCCESS; // STATUS_CONTINUE_COMPLETION
      },
      null,
      true,
      true,
      true,
    );
    return io.IoCallDriver(lower, irp);
  }
}
