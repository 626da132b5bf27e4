/**
 * The I/O manager: the object namespace (\Device\…, \??\X: links), drivers and device stacks, IRPs with
 * IoCallDriver / IoCompleteRequest / IoCancelIrp and their protocol checks, file-object references (CLEANUP
 * when the last handle goes, CLOSE when the last reference goes), and share access.
 */
import {
  BUGCHECK,
  DISPATCH_LEVEL,
  describeWitness,
  KEVENT,
  type Kernel,
  type KSPIN_LOCK,
  type KThread,
  type NTSTATUS,
  observed,
  PASSIVE_LEVEL,
  STATUS,
  statusName,
  VERIFIER_C9,
  WorkQueueType,
} from "../kernel/index.js";
import {
  DELETE,
  FILE_APPEND_DATA,
  FILE_EXECUTE,
  FILE_READ_DATA,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_WRITE_DATA,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_DEVICE_CONTROL,
  IRP_MJ_INTERNAL_DEVICE_CONTROL,
  IRP_MJ_NAMES,
  METHOD_BUFFERED,
  METHOD_FROM_CTL_CODE,
  METHOD_NEITHER,
  SL_INVOKE_ON_CANCEL,
  SL_INVOKE_ON_ERROR,
  SL_INVOKE_ON_SUCCESS,
  SL_PENDING_RETURNED,
} from "./constants.js";
import {
  type DriverCancel,
  type DriverDispatch,
  type IO_STACK_LOCATION,
  IO_STATUS_BLOCK,
  type IoCompletionRoutine,
  IRP,
  IRP_LIST_LINK,
  IrpList,
} from "./irp.js";
import { DEVICE_OBJECT, DRIVER_OBJECT, FILE_OBJECT, SHARE_ACCESS } from "./objects.js";

const { STATUS_SUCCESS, STATUS_PENDING, STATUS_MORE_PROCESSING_REQUIRED, STATUS_INVALID_DEVICE_REQUEST } = STATUS;

const C9 = (name: keyof typeof VERIFIER_C9): bigint => BigInt(VERIFIER_C9[name].code);

/** Driver-verifier-style IRP checks, under the check name "irp". */
export const IO_CHECKS = {
  irp: "IRP protocol: completed once, STATUS_PENDING only when marked pending, no cancel routine at completion, buffers respected.",
} as const;

export type NamespaceEntry =
  | { readonly kind: "device"; readonly device: DEVICE_OBJECT }
  | { readonly kind: "symlink"; readonly target: string };

/** The maximum IRQL of the I/O manager's DDIs. */
export const IO_DDIS = {
  IoCallDriver: DISPATCH_LEVEL,
  IoCompleteRequest: DISPATCH_LEVEL,
  IoCancelIrp: DISPATCH_LEVEL,
  IoSetCancelRoutine: DISPATCH_LEVEL,
  IoAcquireCancelSpinLock: DISPATCH_LEVEL,
  IoMarkIrpPending: DISPATCH_LEVEL,
  IoAllocateIrp: DISPATCH_LEVEL,
  IoFreeIrp: DISPATCH_LEVEL,
  IoBuildDeviceIoControlRequest: PASSIVE_LEVEL,
  IoCreateDevice: PASSIVE_LEVEL,
  IoDeleteDevice: PASSIVE_LEVEL,
  IoCreateSymbolicLink: PASSIVE_LEVEL,
  IoDeleteSymbolicLink: PASSIVE_LEVEL,
  IoAttachDeviceToDeviceStack: DISPATCH_LEVEL,
  IoDetachDevice: DISPATCH_LEVEL,
  IoCheckShareAccess: DISPATCH_LEVEL,
  ObReferenceObject: DISPATCH_LEVEL,
  ObDereferenceObject: DISPATCH_LEVEL,
} as const;

export class IoManager {
  readonly k: Kernel;
  private readonly namespace = new Map<string, NamespaceEntry>();
  /**
   * At least the length of the longest name ever put in `namespace` (never lowered): parseName does not look up
   * prefixes longer than this, which can name nothing (a file open's path is mostly longer than any object name).
   */
  private longestName = 0;
  private readonly drivers = new Map<string, DRIVER_OBJECT>();
  readonly cancelSpinLock: KSPIN_LOCK;
  private irpSerial = 0;
  private fileSerial = 0;
  /** IRPs issued by each thread (Tail.Overlay.ListEntry on the thread's IrpList), for NtCancelIoFile. */
  readonly threadIrps = new Map<KThread, IrpList>();
  /** Every IRP not yet completed, for leak and hang reports. */
  readonly liveIrps = new IrpList(IRP_LIST_LINK.live);

  constructor(kernel: Kernel) {
    this.k = kernel;
    this.cancelSpinLock = kernel.KeInitializeSpinLock("IoCancelSpinLock");
    kernel.onThreadExit.push((t) => this.IoCancelThreadIo(t));
  }

  /** IoCancelThreadIo: a thread that ends cancels the IRPs it issued that are still in flight. */
  IoCancelThreadIo(t: KThread): void {
    const irps = this.threadIrps.get(t);
    if (!irps) return;
    // (Copied first: cancelling changes the list. Most threads end with none in flight.)
    if (irps.size > 0) for (const irp of [...irps]) if (!irp.completed) this.IoCancelIrp(irp);
    this.threadIrps.delete(t);
  }

  // ============================================================== namespace

  static canon(path: string): string {
    return path.toUpperCase();
  }

  /** IoCreateSymbolicLink(\??\X:, \Device\…) */
  IoCreateSymbolicLink(link: string, target: string): NTSTATUS {
    const key = IoManager.canon(link);
    if (this.namespace.has(key)) return STATUS.STATUS_OBJECT_NAME_COLLISION;
    this.setName(key, { kind: "symlink", target });
    return STATUS_SUCCESS;
  }

  IoDeleteSymbolicLink(link: string): NTSTATUS {
    const key = IoManager.canon(link);
    const e = this.namespace.get(key);
    if (e?.kind !== "symlink") return STATUS.STATUS_OBJECT_NAME_NOT_FOUND;
    this.namespace.delete(key);
    return STATUS_SUCCESS;
  }

  /** Add a canonical name to the namespace (keeping `longestName`). */
  private setName(key: string, entry: NamespaceEntry): void {
    this.namespace.set(key, entry);
    if (key.length > this.longestName) this.longestName = key.length;
  }

  lookupName(name: string): NamespaceEntry | undefined {
    return this.namespace.get(IoManager.canon(name));
  }

  /** Every namespace entry, sorted by name (for `rdbss list` and tests). */
  listNamespace(): { name: string; entry: NamespaceEntry }[] {
    return [...this.namespace.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, entry]) => ({ name, entry }));
  }

  /**
   * Parse an object name the way the object manager does for a file open: follow symbolic links (prefix
   * substitution) until a device is reached. Returns the device and the remaining name ("" or "\…").
   */
  parseName(name: string): { device: DEVICE_OBJECT; remaining: string } | { status: NTSTATUS; reason: string } {
    let path = name;
    for (let hops = 0; hops < 32; hops++) {
      if (!path.startsWith("\\"))
        return { status: STATUS.STATUS_OBJECT_PATH_SYNTAX_BAD, reason: `"${path}" is not absolute` };
      const upper = IoManager.canon(path);
      // Longest prefix that names an object, cutting at backslashes (a prefix longer than every name is not looked up).
      const longest = this.longestName;
      let cut = upper.length;
      let found: NamespaceEntry | undefined;
      while (cut > 0) {
        if (cut <= longest) {
          found = this.namespace.get(upper.slice(0, cut));
          if (found) break;
        }
        cut = upper.lastIndexOf("\\", cut - 1);
      }
      if (!found) {
        return { status: STATUS.STATUS_OBJECT_PATH_NOT_FOUND, reason: `no object named by any prefix of "${path}"` };
      }
      const rest = path.slice(cut);
      if (found.kind === "device") {
        if (found.device.deleted)
          return { status: STATUS.STATUS_NO_SUCH_DEVICE, reason: `${found.device.label()} was deleted` };
        return { device: found.device, remaining: rest };
      }
      path = found.target + rest;
    }
    return { status: STATUS.STATUS_OBJECT_NAME_INVALID, reason: `too many symbolic-link hops resolving "${name}"` };
  }

  // ============================================================== drivers and devices

  /**
   * Create a driver object and run its DriverEntry on the calling thread (load it). Call from an emulated
   * thread (normally a system thread).
   */
  async IoCreateDriver(
    name: string,
    DriverEntry: (driver: DRIVER_OBJECT) => NTSTATUS | Promise<NTSTATUS>,
  ): Promise<{ status: NTSTATUS; driver: DRIVER_OBJECT }> {
    const t = this.k.thread("IoCreateDriver");
    if (this.drivers.has(IoManager.canon(name))) {
      return {
        status: STATUS.STATUS_OBJECT_NAME_COLLISION,
        driver: this.drivers.get(IoManager.canon(name)) as DRIVER_OBJECT,
      };
    }
    const driver = new DRIVER_OBJECT(name);
    this.drivers.set(IoManager.canon(name), driver);
    t.frames.push(`DriverEntry ${name}`);
    const caller = t.driver;
    t.driver = name;
    let status: NTSTATUS;
    try {
      status = await DriverEntry(driver);
    } finally {
      if (this.k.stopped === null) {
        t.frames.pop();
        t.driver = caller;
      }
    }
    if ((status | 0) < 0) {
      // The image is unloaded without DriverUnload: what DriverEntry allocated must have been freed.
      this.k.verifyPoolAtUnload(driver, name);
      for (const d of [...driver.devices]) this.IoDeleteDevice(d);
      this.drivers.delete(IoManager.canon(name));
    }
    return { status, driver };
  }

  /**
   * Unload a driver: call DriverUnload, then delete what devices remain; with pool tracking, the driver's pool
   * must all be freed by then (0xC4 / 0x62).
   */
  async unloadDriver(driver: DRIVER_OBJECT): Promise<void> {
    const t = this.k.thread("unloadDriver");
    if (driver.DriverUnload) {
      t.frames.push(`DriverUnload ${driver.DriverName}`);
      const caller = t.driver;
      t.driver = driver.DriverName;
      try {
        await driver.DriverUnload(driver);
      } finally {
        if (this.k.stopped === null) {
          t.frames.pop();
          t.driver = caller;
        }
      }
    }
    for (const d of [...driver.devices]) this.IoDeleteDevice(d);
    this.drivers.delete(IoManager.canon(driver.DriverName));
    this.k.verifyPoolAtUnload(driver, driver.DriverName);
  }

  IoCreateDevice<Ext>(
    driver: DRIVER_OBJECT,
    extension: Ext,
    name: string | null,
    deviceType: number,
    characteristics = 0,
    flags = 0,
  ): { status: NTSTATUS; device: DEVICE_OBJECT<Ext> | null } {
    if (name !== null && this.namespace.has(IoManager.canon(name))) {
      return { status: STATUS.STATUS_OBJECT_NAME_COLLISION, device: null };
    }
    const dev = new DEVICE_OBJECT<Ext>(driver, name, deviceType, characteristics, extension);
    dev.Flags = flags;
    driver.devices.push(dev);
    if (name !== null) this.setName(IoManager.canon(name), { kind: "device", device: dev as DEVICE_OBJECT });
    return { status: STATUS_SUCCESS, device: dev };
  }

  IoDeleteDevice(dev: DEVICE_OBJECT): void {
    dev.deleted = true;
    const i = dev.DriverObject.devices.indexOf(dev);
    if (i >= 0) dev.DriverObject.devices.splice(i, 1);
    if (dev.Name !== null) {
      const key = IoManager.canon(dev.Name);
      const e = this.namespace.get(key);
      if (e?.kind === "device" && e.device === dev) this.namespace.delete(key);
    }
  }

  /** Attach `source` on top of the stack that contains `target`; returns the device it was attached to. */
  IoAttachDeviceToDeviceStack(source: DEVICE_OBJECT, target: DEVICE_OBJECT): DEVICE_OBJECT {
    const top = this.IoGetAttachedDevice(target);
    top.AttachedDevice = source;
    source.LowerDevice = top;
    source.StackSize = top.StackSize + 1;
    return top;
  }

  IoDetachDevice(target: DEVICE_OBJECT): void {
    const above = target.AttachedDevice;
    if (above) above.LowerDevice = null;
    target.AttachedDevice = null;
  }

  /** The highest device in the stack that contains `dev`. */
  IoGetAttachedDevice(dev: DEVICE_OBJECT): DEVICE_OBJECT {
    let d = dev;
    while (d.AttachedDevice) d = d.AttachedDevice;
    return d;
  }

  /** The device an IRP for this file object is sent to: the top of its device's stack. */
  IoGetRelatedDeviceObject(fo: FILE_OBJECT): DEVICE_OBJECT {
    return this.IoGetAttachedDevice(fo.DeviceObject);
  }

  // ============================================================== IRPs

  IoAllocateIrp(stackSize: number): IRP {
    const irp = new IRP(stackSize, ++this.irpSerial);
    this.liveIrps.add(irp);
    return irp;
  }

  IoFreeIrp(irp: IRP): void {
    if (irp.freed) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("FREE_NON_IRP"), this.k.addressOf(irp), 0n, 0n],
        `IoFreeIrp on ${irp.label()}, which was already freed.`,
      );
      return;
    }
    irp.freed = true;
    this.liveIrps.delete(irp);
  }

  IoGetCurrentIrpStackLocation(irp: IRP): IO_STACK_LOCATION {
    return irp.stack[irp.CurrentLocation - 1] as IO_STACK_LOCATION;
  }

  IoGetNextIrpStackLocation(irp: IRP): IO_STACK_LOCATION {
    const sp = irp.stack[irp.CurrentLocation - 2];
    if (sp === undefined) {
      this.k.bugCheck(
        BUGCHECK.NO_MORE_IRP_STACK_LOCATIONS,
        [this.k.addressOf(irp), 0n, 0n, 0n],
        `IoGetNextIrpStackLocation on ${irp.label()}: there is no lower stack location (StackCount ${irp.StackCount}).`,
      );
    }
    return sp;
  }

  IoSkipCurrentIrpStackLocation(irp: IRP): void {
    irp.CurrentLocation++;
  }

  IoCopyCurrentIrpStackLocationToNext(irp: IRP): void {
    const cur = this.IoGetCurrentIrpStackLocation(irp);
    const next = this.IoGetNextIrpStackLocation(irp);
    next.MajorFunction = cur.MajorFunction;
    next.MinorFunction = cur.MinorFunction;
    next.Flags = cur.Flags;
    next.FileObject = cur.FileObject;
    next.Parameters.copyFrom(cur.Parameters);
    next.CompletionRoutine = null;
    next.Context = null;
    next.Control = 0;
  }

  IoSetCompletionRoutine(
    irp: IRP,
    routine: IoCompletionRoutine,
    context: unknown,
    invokeOnSuccess: boolean,
    invokeOnError: boolean,
    invokeOnCancel: boolean,
  ): void {
    const next = this.IoGetNextIrpStackLocation(irp);
    next.CompletionRoutine = routine;
    next.Context = context;
    next.Control = 0;
    if (invokeOnSuccess) next.Control |= SL_INVOKE_ON_SUCCESS;
    if (invokeOnError) next.Control |= SL_INVOKE_ON_ERROR;
    if (invokeOnCancel) next.Control |= SL_INVOKE_ON_CANCEL;
  }

  IoMarkIrpPending(irp: IRP): void {
    const sp = this.IoGetCurrentIrpStackLocation(irp);
    sp.Control |= SL_PENDING_RETURNED;
    irp.markPending(irp.CurrentLocation);
  }

  /**
   * Send an IRP to a device. Returns the dispatch routine's status, synchronously when the routine is
   * synchronous. A scheduling point precedes every dispatch.
   */
  IoCallDriver(device: DEVICE_OBJECT, irp: IRP): NTSTATUS | Promise<NTSTATUS> {
    return this.callDriverEntry(device, irp, false);
  }

  /**
   * IoCallDriver for the I/O manager's own system services: when the dispatch routine is asynchronous, its promise is
   * returned as it is, and the service, which awaits it anyway, runs the return checks itself with
   * `dispatchReturned` (one promise and one continuation per IRP fewer than `IoCallDriver`'s).
   */
  callDriverForService(device: DEVICE_OBJECT, irp: IRP): NTSTATUS | Promise<NTSTATUS> {
    return this.callDriverEntry(device, irp, true);
  }

  private callDriverEntry(device: DEVICE_OBJECT, irp: IRP, raw: boolean): NTSTATUS | Promise<NTSTATUS> {
    const t = this.k.enter("IoCallDriver", IO_DDIS.IoCallDriver);
    this.k.leave(t);
    const sched = this.k.schedulePoint("IoCallDriver");
    // After a scheduling point the call is a continuation anyway: the return checks stay in it.
    if (sched !== undefined) return observed(sched.then(() => this.callDriver(t, device, irp, false)));
    const r = this.callDriver(t, device, irp, raw);
    // A driver may send an IRP on and not wait for it (from a DPC or a completion routine): see `observed`.
    return raw || typeof r === "number" ? r : observed(r);
  }

  /** The asynchronous dispatch routine `callDriverForService` handed back returned `status`: its return checks. */
  dispatchReturned(irp: IRP, status: NTSTATUS): NTSTATUS {
    const t = irp.dispatchThread;
    if (t === null) return status;
    irp.dispatchThread = null;
    // A service's IRP is sent to the top of its device stack: its first (top) stack location.
    const sp = irp.stack[irp.StackCount - 1] as IO_STACK_LOCATION;
    return this.afterDispatch(t, irp, sp.DeviceObject as DEVICE_OBJECT, status, irp.dispatchIrql, irp.dispatchCaller);
  }

  private callDriver(t: KThread, device: DEVICE_OBJECT, irp: IRP, raw: boolean): NTSTATUS | Promise<NTSTATUS> {
    if (irp.completed || irp.freed) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("CALL_DRIVER_BAD_IRP_TYPE"), this.k.addressOf(irp), this.k.addressOf(device), 0n],
        `IoCallDriver with ${irp.label()}, which was already ${irp.freed ? "freed" : "completed"}.`,
      );
    }
    if (device.deleted) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("CALL_DRIVER_INVALID_DEVICE"), this.k.addressOf(device), this.k.addressOf(irp), 0n],
        `IoCallDriver to ${device.label()}, which was deleted.`,
      );
    }
    irp.CurrentLocation--;
    if (irp.CurrentLocation < 1) {
      this.k.bugCheck(
        BUGCHECK.NO_MORE_IRP_STACK_LOCATIONS,
        [this.k.addressOf(irp), 0n, 0n, 0n],
        `IoCallDriver to ${device.label()} with ${irp.label()}, which has no stack location left (StackCount ${irp.StackCount}).`,
      );
    }
    const loc = irp.CurrentLocation;
    const sp = irp.stack[loc - 1] as IO_STACK_LOCATION;
    sp.DeviceObject = device;
    const major = sp.MajorFunction;
    const dispatch = device.DriverObject.MajorFunction[major] ?? invalidDeviceRequest(this);
    let frames = device.dispatchFrames;
    if (frames === null) {
      frames = [];
      device.dispatchFrames = frames;
    }
    let frame = frames[major];
    if (frame === undefined) {
      frame = `${IRP_MJ_NAMES[major] ?? `IRP_MJ_${major}`} → ${device.label()}`;
      frames[major] = frame;
    }
    t.frames.push(frame);
    if (this.k.trace.active)
      this.k.emit("irp.dispatch", IRP_MJ_NAMES[major] ?? String(major), { irp: irp.id, device: device.label() });
    const irqlBefore = t.irql;
    // The dispatch routine is the device's driver's code (a mini-redirector's is RDBSS, linked into its image).
    const caller = t.driver;
    t.driver = device.DriverObject.DriverName;
    const r = dispatch(device, irp);
    if (typeof r === "number") return this.afterDispatch(t, irp, device, r, irqlBefore, caller);
    if (raw) {
      irp.dispatchThread = t;
      irp.dispatchIrql = irqlBefore;
      irp.dispatchCaller = caller;
      return r;
    }
    return r.then((s) => this.afterDispatch(t, irp, device, s, irqlBefore, caller));
  }

  private afterDispatch(
    t: KThread,
    irp: IRP,
    device: DEVICE_OBJECT,
    status: NTSTATUS,
    irqlBefore: number,
    caller: string | null,
  ): NTSTATUS {
    if (this.k.stopped !== null) return status;
    t.driver = caller;
    t.frames.pop();
    if (this.k.trace.active) this.k.emit("irp.return", device.label(), { irp: irp.id, status });
    if (t.irql !== irqlBefore) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("DISPATCH_CHANGED_IRQL"), this.k.addressOf(device), BigInt(irqlBefore), BigInt(t.irql)],
        `The dispatch routine of ${device.label()} for ${irp.label()} returned at IRQL ${t.irql}, but was called at ${irqlBefore}.`,
      );
    }
    return status;
  }

  /**
   * The I/O manager's own check when the top-level IoCallDriver returns to it: STATUS_PENDING must come with
   * IoMarkIrpPending, and a completed IRP's returned status must match its IoStatus.Status.
   */
  topLevelReturned(irp: IRP, status: NTSTATUS): void {
    irp.topReturned = status;
    if (irp.completed) this.checkPendingProtocol(irp);
    else if (status !== STATUS_PENDING) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("DISPATCH_NEITHER_COMPLETED_NOR_PENDING"), this.k.addressOf(irp), BigInt(status >>> 0), 0n],
        `A driver returned ${statusName(status)} for ${irp.label()} without completing it and without returning STATUS_PENDING.`,
      );
    }
  }

  private checkPendingProtocol(irp: IRP): void {
    const returned = irp.topReturned;
    if (returned === null) return;
    if (returned === STATUS_PENDING && !irp.PendingReturned) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("PENDING_RETURNED_WITHOUT_MARK"), this.k.addressOf(irp), 0n, 0n],
        `A driver returned STATUS_PENDING for ${irp.label()} without calling IoMarkIrpPending first.`,
      );
    } else if (returned !== STATUS_PENDING && irp.PendingReturned) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("MARKED_PENDING_BUT_NOT_RETURNED"), this.k.addressOf(irp), BigInt(returned >>> 0), 0n],
        `${irp.label()} was marked pending but the driver returned ${statusName(returned)} instead of STATUS_PENDING.`,
      );
    } else if (returned !== STATUS_PENDING && returned !== irp.IoStatus.Status) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [
          C9("DISPATCH_STATUS_MISMATCH"),
          this.k.addressOf(irp),
          BigInt(returned >>> 0),
          BigInt(irp.IoStatus.Status >>> 0),
        ],
        `The driver returned ${statusName(returned)} for ${irp.label()} but completed it with ${statusName(irp.IoStatus.Status)}.`,
      );
    }
  }

  /**
   * Complete an IRP: run completion routines from the current stack location upwards, then the I/O manager's
   * final processing. Completing an IRP twice is bug check 0x44.
   */
  IoCompleteRequest(irp: IRP, _priorityBoost = 0): void {
    const t = this.k.enter("IoCompleteRequest", IO_DDIS.IoCompleteRequest);
    if (irp.completed || irp.completing || irp.freed) {
      const first = irp.completion;
      this.k.bugCheck(
        BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS,
        [this.k.addressOf(irp), 0n, 0n, 0n],
        `IoCompleteRequest on ${irp.label()}, which ${irp.completed || irp.completing ? "was already completed" : "was already freed"}. A driver completed the same IRP twice (often a completion racing a cancel routine).${
          first ? ` It was completed before by ${describeWitness(first)}.` : ""
        }`,
      );
    }
    const status = irp.IoStatus.Status;
    if (status === STATUS_PENDING) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("COMPLETE_WITH_PENDING_STATUS"), this.k.addressOf(irp), 0n, 0n],
        `IoCompleteRequest on ${irp.label()} with IoStatus.Status = STATUS_PENDING.`,
      );
    }
    if (irp.CancelRoutine !== null) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("COMPLETE_WITH_CANCEL_ROUTINE"), this.k.addressOf(irp), 0n, 0n],
        `IoCompleteRequest on ${irp.label()} while its cancel routine is still set: clear it with IoSetCancelRoutine(Irp, NULL) first, or the cancel routine may run on a completed IRP.`,
      );
    }
    if (this.k.trace.active) this.k.emit("irp.complete", irp.label(), { status: irp.IoStatus.Status });
    irp.completing = true;
    irp.completion = this.k.witness(t);
    const top = irp.StackCount + 1;
    while (irp.CurrentLocation <= irp.StackCount) {
      const sp = irp.stack[irp.CurrentLocation - 1] as IO_STACK_LOCATION;
      irp.PendingReturned = (sp.Control & SL_PENDING_RETURNED) !== 0;
      irp.CurrentLocation++;
      const routine = sp.CompletionRoutine;
      const st = irp.IoStatus.Status;
      const invoke =
        routine !== null &&
        (((st | 0) >= 0 && (sp.Control & SL_INVOKE_ON_SUCCESS) !== 0) ||
          ((st | 0) < 0 && (sp.Control & SL_INVOKE_ON_ERROR) !== 0) ||
          (irp.Cancel && (sp.Control & SL_INVOKE_ON_CANCEL) !== 0));
      const context = sp.Context;
      sp.CompletionRoutine = null;
      sp.Context = null;
      sp.Control = 0;
      if (invoke) {
        const dev =
          irp.CurrentLocation === top ? null : (irp.stack[irp.CurrentLocation - 1] as IO_STACK_LOCATION).DeviceObject;
        const locBefore = irp.CurrentLocation;
        t.frames.push(`completion routine (${dev ? dev.label() : "top"})`);
        // The routine is the code of the driver whose device it completes for (the originator's, at the top).
        const caller = t.driver;
        if (dev !== null) t.driver = dev.DriverObject.DriverName;
        const r = (routine as IoCompletionRoutine)(dev, irp, context);
        t.driver = caller;
        t.frames.pop();
        if (r === STATUS_MORE_PROCESSING_REQUIRED) {
          irp.completing = false;
          this.k.leave(t);
          return;
        }
        if (irp.PendingReturned && locBefore <= irp.StackCount && !irp.markedPending(locBefore)) {
          this.k.violation(
            "irp",
            BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
            [C9("COMPLETION_DID_NOT_PROPAGATE_PENDING"), this.k.addressOf(irp), 0n, 0n],
            `A completion routine of ${dev ? dev.label() : "a driver"} saw Irp->PendingReturned but did not call IoMarkIrpPending for ${irp.label()}.`,
          );
        }
      } else if (irp.PendingReturned && irp.CurrentLocation <= irp.StackCount) {
        (irp.stack[irp.CurrentLocation - 1] as IO_STACK_LOCATION).Control |= SL_PENDING_RETURNED;
        irp.markPending(irp.CurrentLocation);
      }
    }
    irp.completing = false;
    irp.completed = true;
    this.liveIrps.delete(irp);
    this.k.leave(t);
    if (irp.finalizer) irp.finalizer(irp);
    else {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("FREE_NON_IRP"), this.k.addressOf(irp), 0n, 0n],
        `${irp.label()} was allocated by a driver but completed all the way up: its owner must stop completion with STATUS_MORE_PROCESSING_REQUIRED and free it.`,
      );
    }
    if (irp.topReturned !== null) this.checkPendingProtocol(irp);
  }

  // ============================================================== cancellation

  IoAcquireCancelSpinLock(): number {
    return this.k.KeAcquireSpinLock(this.cancelSpinLock);
  }

  IoReleaseCancelSpinLock(irql: number): void {
    this.k.KeReleaseSpinLock(this.cancelSpinLock, irql);
  }

  /** Atomically set the cancel routine and return the previous one. */
  IoSetCancelRoutine(irp: IRP, routine: DriverCancel | null): DriverCancel | null {
    const prev = irp.CancelRoutine;
    irp.CancelRoutine = routine;
    return prev;
  }

  /**
   * IoCancelIrp: mark the IRP cancelled and call its cancel routine, if it has one, holding the cancel spin lock
   * (the routine must release it with IoReleaseCancelSpinLock(Irp->CancelIrql)). Returns whether a routine ran.
   */
  IoCancelIrp(irp: IRP): boolean {
    const t = this.k.enter("IoCancelIrp", IO_DDIS.IoCancelIrp);
    if (this.k.trace.active) this.k.emit("irp.cancel", irp.label());
    const old = this.IoAcquireCancelSpinLock();
    irp.Cancel = true;
    const routine = this.IoSetCancelRoutine(irp, null);
    if (routine === null || irp.completed) {
      this.IoReleaseCancelSpinLock(old);
      this.k.leave(t);
      return false;
    }
    irp.CancelIrql = old;
    const sp = irp.stack[irp.CurrentLocation - 1];
    const dev = sp?.DeviceObject ?? null;
    t.frames.push(`cancel routine (${dev ? dev.label() : "?"})`);
    routine(dev as DEVICE_OBJECT, irp);
    t.frames.pop();
    if (this.cancelSpinLock.owner === t) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [0n, this.k.addressOf(this.cancelSpinLock), this.k.addressOf(irp), 0n],
        `The cancel routine for ${irp.label()} returned without releasing the cancel spin lock (IoReleaseCancelSpinLock(Irp->CancelIrql)).`,
      );
      this.IoReleaseCancelSpinLock(old);
    }
    this.k.leave(t);
    return true;
  }

  // ============================================================== IRPs built by the I/O manager for drivers

  /**
   * IoBuildDeviceIoControlRequest: an IRP for an IOCTL sent from kernel mode. The event (if any) is signaled and
   * the status block filled when it completes.
   */
  IoBuildDeviceIoControlRequest(
    ioControlCode: number,
    device: DEVICE_OBJECT,
    input: unknown,
    inputLength: number,
    output: unknown,
    outputLength: number,
    internal: boolean,
    event: KEVENT | null,
    iosb: IO_STATUS_BLOCK,
  ): IRP {
    const top = this.IoGetAttachedDevice(device);
    const irp = this.IoAllocateIrp(top.StackSize);
    irp.RequestorMode = "KernelMode";
    irp.Thread = this.k.current;
    const sp = this.IoGetNextIrpStackLocation(irp);
    sp.MajorFunction = internal ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL;
    sp.Parameters.IoControlCode = ioControlCode;
    sp.Parameters.InputBufferLength = inputLength;
    sp.Parameters.OutputBufferLength = outputLength;
    const method = METHOD_FROM_CTL_CODE(ioControlCode);
    if (method === METHOD_NEITHER) {
      sp.Parameters.Type3InputBuffer = input;
      irp.UserBuffer = output;
    } else if (input instanceof Uint8Array || output instanceof Uint8Array) {
      const sys = new Uint8Array(Math.max(inputLength, method === METHOD_BUFFERED ? outputLength : 0));
      if (input instanceof Uint8Array) sys.set(input.subarray(0, inputLength));
      irp.SystemBuffer = sys;
      if (method === METHOD_BUFFERED) irp.userOutput = output instanceof Uint8Array ? output : null;
      else irp.MdlAddress = output instanceof Uint8Array ? output.subarray(0, outputLength) : null;
    }
    // (A local, not `irp.finalizer = (…) => …`: see KernelCore.createThread on V8 pretenuring such closures.)
    const finalizer = (done: IRP): void => {
      this.copyBufferedOutput(done, outputLength);
      iosb.Status = done.IoStatus.Status;
      iosb.Information = done.IoStatus.Information;
      if (event) this.k.KeSetEvent(event);
      done.freed = true;
    };
    irp.finalizer = finalizer;
    return irp;
  }

  /** Copy a buffered result back to the caller's buffer at completion, checking Information against its size. */
  copyBufferedOutput(irp: IRP, outputLength: number): void {
    const out = irp.userOutput;
    if (out === null || irp.SystemBuffer === null) return;
    let n = irp.IoStatus.Information;
    // IopCompleteRequest copies back for every status that is not an error (success, information, warning),
    // except STATUS_VERIFY_REQUIRED.
    const st = irp.IoStatus.Status >>> 0;
    if (st >= 0xc0000000 || st === 0x80000016) n = 0;
    if (n > outputLength) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
        [C9("INFORMATION_EXCEEDS_OUTPUT_BUFFER"), this.k.addressOf(irp), BigInt(n), BigInt(outputLength)],
        `${irp.label()} completed with Information = ${n}, larger than the ${outputLength}-byte output buffer.`,
      );
      n = outputLength;
    }
    if (n > 0) out.set(irp.SystemBuffer.subarray(0, n));
  }

  // ============================================================== file objects

  newFileObject(device: DEVICE_OBJECT, fileName: string): FILE_OBJECT {
    const id = ++this.fileSerial;
    return new FILE_OBJECT(id, device, fileName);
  }

  ObReferenceObject(fo: FILE_OBJECT): void {
    if (fo.PointerCount <= 0) {
      this.k.violation(
        "irp",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [0x3fn, this.k.addressOf(fo), 0n, 0n],
        `ObReferenceObject on ${fo.label()}, whose reference count is already 0 (it is being deleted).`,
      );
    }
    fo.PointerCount++;
  }

  /**
   * ObDereferenceObject: when the last reference goes, IRP_MJ_CLOSE is sent. From a thread below
   * DISPATCH_LEVEL it is sent synchronously; otherwise the deletion is deferred to a worker thread, as the
   * object manager does.
   */
  ObDereferenceObject(fo: FILE_OBJECT): void | Promise<void> {
    if (fo.PointerCount <= 0) {
      this.k.violation(
        "irp",
        BUGCHECK.BAD_POOL_CALLER,
        [0x7n, 0n, this.k.addressOf(fo), 0n],
        `ObDereferenceObject on ${fo.label()}, whose reference count is already 0: a reference was dropped twice.`,
      );
      return;
    }
    if (--fo.PointerCount > 0) return;
    const t = this.k.current;
    if (t === null || t.isDpcContext || t.irql >= DISPATCH_LEVEL) {
      const item = this.k.ExInitializeWorkItem(() => this.deleteFileObject(fo), null, `delete ${fo.label()}`);
      this.k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
      return;
    }
    return this.deleteFileObject(fo);
  }

  private deleteFileObject(fo: FILE_OBJECT): Promise<void> | undefined {
    if (!fo.opened || fo.closeSent) return undefined;
    fo.closeSent = true;
    return this.sendCloseLikeIrp(fo, IRP_MJ_CLOSE);
  }

  /** IRP_MJ_CLEANUP when the last handle to an opened file object is closed (undefined when nothing waits). */
  sendCleanup(fo: FILE_OBJECT): Promise<void> | undefined {
    if (!fo.opened || fo.cleanupSent) return undefined;
    fo.cleanupSent = true;
    return this.sendCloseLikeIrp(fo, IRP_MJ_CLEANUP);
  }

  /**
   * CLEANUP and CLOSE: synchronous, cannot fail, carry no file-object reference. Returns undefined when the IRP
   * completed before IoCallDriver returned (no promise to wait for), else the wait for it.
   */
  private sendCloseLikeIrp(fo: FILE_OBJECT, major: number): Promise<void> | undefined {
    const top = this.IoGetRelatedDeviceObject(fo);
    const irp = this.IoAllocateIrp(top.StackSize);
    irp.Thread = this.k.current;
    irp.OriginalFileObject = fo;
    irp.RequestorMode = "KernelMode";
    const sp = this.IoGetNextIrpStackLocation(irp);
    sp.MajorFunction = major;
    sp.FileObject = fo;
    irp.finalizer = this.closeLikeFinalizer;
    const s = this.IoCallDriver(top, irp);
    if (typeof s !== "number") return s.then((status) => this.closeLikeReturned(irp, major, status));
    return this.closeLikeReturned(irp, major, s);
  }

  /** A CLEANUP or CLOSE IRP's IoCallDriver returned `s`: the return checks, and the wait if it is not done. */
  private closeLikeReturned(irp: IRP, major: number, s: NTSTATUS): Promise<void> | undefined {
    this.topLevelReturned(irp, s);
    if (s === STATUS_PENDING || !irp.completed) {
      // The sender waits: the event is made only now (most of these IRPs complete before IoCallDriver returns).
      const ev = new KEVENT(0, irp.completed, `${IRP_MJ_NAMES[major]} ${irp.label()}`);
      irp.finalizerContext = ev;
      return this.waitForCloseLike(ev);
    }
    return undefined;
  }

  private async waitForCloseLike(ev: KEVENT): Promise<void> {
    await this.k.KeWaitForSingleObject(ev);
  }

  /** The finalizer of every CLEANUP and CLOSE IRP: wake its sender when it waits (its event is the context). */
  private readonly closeLikeFinalizer = (done: IRP): void => {
    const ev = done.finalizerContext;
    if (ev instanceof KEVENT) this.k.KeSetEvent(ev);
  };

  // ============================================================== share access

  /** IoCheckShareAccess (with Update = TRUE it also records the open, like IoSetShareAccess). */
  IoCheckShareAccess(
    desiredAccess: number,
    desiredShareAccess: number,
    fo: FILE_OBJECT,
    shareAccess: SHARE_ACCESS,
    update: boolean,
  ): NTSTATUS {
    const read = (desiredAccess & (FILE_EXECUTE | FILE_READ_DATA)) !== 0;
    const write = (desiredAccess & (FILE_WRITE_DATA | FILE_APPEND_DATA)) !== 0;
    const del = (desiredAccess & DELETE) !== 0;
    fo.ReadAccess = read;
    fo.WriteAccess = write;
    fo.DeleteAccess = del;
    if (!(read || write || del)) return STATUS_SUCCESS;
    const sr = (desiredShareAccess & FILE_SHARE_READ) !== 0;
    const sw = (desiredShareAccess & FILE_SHARE_WRITE) !== 0;
    const sd = (desiredShareAccess & FILE_SHARE_DELETE) !== 0;
    fo.SharedRead = sr;
    fo.SharedWrite = sw;
    fo.SharedDelete = sd;
    const sa = shareAccess;
    if (
      (read && sa.SharedRead < sa.OpenCount) ||
      (write && sa.SharedWrite < sa.OpenCount) ||
      (del && sa.SharedDelete < sa.OpenCount) ||
      (sa.Readers !== 0 && !sr) ||
      (sa.Writers !== 0 && !sw) ||
      (sa.Deleters !== 0 && !sd)
    ) {
      return STATUS.STATUS_SHARING_VIOLATION;
    }
    if (update) this.addShare(fo, sa);
    return STATUS_SUCCESS;
  }

  IoSetShareAccess(
    desiredAccess: number,
    desiredShareAccess: number,
    fo: FILE_OBJECT,
    shareAccess: SHARE_ACCESS,
  ): void {
    fo.ReadAccess = (desiredAccess & (FILE_EXECUTE | FILE_READ_DATA)) !== 0;
    fo.WriteAccess = (desiredAccess & (FILE_WRITE_DATA | FILE_APPEND_DATA)) !== 0;
    fo.DeleteAccess = (desiredAccess & DELETE) !== 0;
    fo.SharedRead = (desiredShareAccess & FILE_SHARE_READ) !== 0;
    fo.SharedWrite = (desiredShareAccess & FILE_SHARE_WRITE) !== 0;
    fo.SharedDelete = (desiredShareAccess & FILE_SHARE_DELETE) !== 0;
    if (fo.ReadAccess || fo.WriteAccess || fo.DeleteAccess) this.addShare(fo, shareAccess);
  }

  IoUpdateShareAccess(fo: FILE_OBJECT, shareAccess: SHARE_ACCESS): void {
    if (fo.ReadAccess || fo.WriteAccess || fo.DeleteAccess) this.addShare(fo, shareAccess);
  }

  private addShare(fo: FILE_OBJECT, sa: SHARE_ACCESS): void {
    sa.OpenCount++;
    if (fo.ReadAccess) sa.Readers++;
    if (fo.WriteAccess) sa.Writers++;
    if (fo.DeleteAccess) sa.Deleters++;
    if (fo.SharedRead) sa.SharedRead++;
    if (fo.SharedWrite) sa.SharedWrite++;
    if (fo.SharedDelete) sa.SharedDelete++;
  }

  IoRemoveShareAccess(fo: FILE_OBJECT, sa: SHARE_ACCESS): void {
    if (!(fo.ReadAccess || fo.WriteAccess || fo.DeleteAccess)) return;
    sa.OpenCount--;
    if (fo.ReadAccess) sa.Readers--;
    if (fo.WriteAccess) sa.Writers--;
    if (fo.DeleteAccess) sa.Deleters--;
    if (fo.SharedRead) sa.SharedRead--;
    if (fo.SharedWrite) sa.SharedWrite--;
    if (fo.SharedDelete) sa.SharedDelete--;
  }

  nextIrpId(): number {
    return ++this.irpSerial;
  }
}

/** The default dispatch entry (IopInvalidDeviceRequest). */
function invalidDeviceRequest(io: IoManager): DriverDispatch {
  return (_dev, irp) => {
    irp.IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    irp.IoStatus.Information = 0;
    io.IoCompleteRequest(irp);
    return STATUS_INVALID_DEVICE_REQUEST;
  };
}

export { DEVICE_OBJECT, DRIVER_OBJECT, FILE_OBJECT, IO_STATUS_BLOCK, IRP, SHARE_ACCESS };
