/**
 * Helpers shared by the I/O-manager tests (not a test file itself: ava only runs `*.test.ts`).
 */
import {
  bootIo,
  type DEVICE_OBJECT,
  type DriverDispatch,
  FILE_DEVICE_UNKNOWN,
  FILE_OPEN_IF,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_SYNCHRONOUS_IO_NONALERT,
  type IoSystem,
  type IRP,
  type NtCreateFileResult,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import {
  type CheckMode,
  KEVENT,
  Kernel,
  type KernelStop,
  type KProcess,
  type KThread,
  type NTSTATUS,
  type RunResult,
  type SchedulingStrategy,
  STATUS,
  type StrategyName,
} from "../../emulator/kernel/index.js";
import { PendingDriver, type PendingDriverOptions } from "../drivers/pending-driver.js";

/** One millisecond in 100 ns units. */
export const MS = 10_000;

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export interface BootOptions {
  readonly seed?: number;
  readonly strategy?: StrategyName | SchedulingStrategy;
  readonly checks?: Readonly<Record<string, CheckMode>>;
  readonly trace?: boolean;
  /** Options of the pending driver; `false` loads none. */
  readonly driver?: PendingDriverOptions | false;
  /** More boot work, run on the boot thread after MUP and the pending driver are up. */
  readonly more?: (sys: IoSystem, drv: PendingDriver | null) => Promise<void>;
}

export interface Booted {
  readonly k: Kernel;
  readonly sys: IoSystem;
  /** The pending driver (throws when booted with `driver: false`). */
  readonly drv: PendingDriver;
  readonly boot: RunResult;
  /** A user process for the test's threads. */
  readonly app: KProcess;
}

/** A kernel with MUP and (by default) the pending driver loaded, booted on a system thread. */
export async function bootSystem(opts: BootOptions = {}): Promise<Booted> {
  const k = new Kernel({
    trace: opts.trace ?? true,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.strategy !== undefined ? { strategy: opts.strategy } : {}),
    ...(opts.checks !== undefined ? { checks: opts.checks } : {}),
  });
  const sys = bootIo(k);
  const drv = opts.driver === false ? null : new PendingDriver(sys, opts.driver ?? {});
  k.PsCreateSystemThread("boot", async () => {
    const m = await sys.mup.start();
    if (m !== STATUS.STATUS_SUCCESS) throw new Error(`MUP did not start: ${m}`);
    if (drv) {
      const s = await drv.load();
      if (s !== STATUS.STATUS_SUCCESS) throw new Error(`the pending driver did not load: ${s}`);
    }
    if (opts.more) await opts.more(sys, drv);
  });
  const boot = await k.run();
  if (boot.outcome !== "idle") throw new Error(`boot did not finish cleanly: ${boot.stop?.format()}`);
  return {
    k,
    sys,
    get drv(): PendingDriver {
      if (drv === null) throw new Error("booted without the pending driver");
      return drv;
    },
    boot,
    app: k.createProcess("app.exe"),
  };
}

/** Run one user thread in `app` to the end of the run. */
export async function runUser(b: Booted, body: (t: KThread) => Promise<void>, name = "main"): Promise<RunResult> {
  b.k.createThread(b.app, name, body);
  return b.k.run();
}

/** The stop of a run that must have stopped. */
export function stopOf(r: RunResult): KernelStop {
  if (r.stop === null) throw new Error(`expected the run to stop, but it ended "${r.outcome}"`);
  return r.stop;
}

/** A run that must have ended idle, with no violation and no thread error; returns it. */
export function clean(r: RunResult): RunResult {
  if (r.stop !== null) throw new Error(`unexpected stop:\n${r.stop.format()}`);
  if (r.violations.length > 0)
    throw new Error(`unexpected violations:\n${r.violations.map((v) => v.format()).join("\n")}`);
  if (r.threadErrors.length > 0) {
    const e = r.threadErrors[0]?.error;
    throw e instanceof Error ? e : new Error(String(e));
  }
  return r;
}

/** Parameter 1 (the sub-code) of each violation, as numbers. */
export function subCodes(stops: readonly KernelStop[]): number[] {
  return stops.map((s) => Number(s.params[0]));
}

/** Open a file synchronously for read/write (FILE_OPEN_IF, sharing read+write) unless told otherwise. */
export function openSync(
  sys: IoSystem,
  name: string,
  access: number,
  extra: { share?: number; disposition?: number; options?: number } = {},
): Promise<NtCreateFileResult> {
  return sys.nt.NtCreateFile({
    ObjectName: name,
    DesiredAccess: access | SYNCHRONIZE,
    ShareAccess: extra.share ?? FILE_SHARE_READ | FILE_SHARE_WRITE,
    CreateDisposition: extra.disposition ?? FILE_OPEN_IF,
    CreateOptions: (extra.options ?? 0) | FILE_SYNCHRONOUS_IO_NONALERT,
  });
}

/** Open a file for asynchronous I/O (no FILE_SYNCHRONOUS_IO_*). */
export function openAsync(
  sys: IoSystem,
  name: string,
  access: number,
  extra: { share?: number; disposition?: number; options?: number } = {},
): Promise<NtCreateFileResult> {
  return sys.nt.NtCreateFile({
    ObjectName: name,
    DesiredAccess: access,
    ShareAccess: extra.share ?? FILE_SHARE_READ | FILE_SHARE_WRITE,
    CreateDisposition: extra.disposition ?? FILE_OPEN_IF,
    CreateOptions: extra.options ?? 0,
  });
}

/**
 * Load a small driver with the given dispatch table and one device (named or not). Call from an emulated
 * thread.
 */
export async function makeDevice(
  sys: IoSystem,
  driverName: string,
  deviceName: string | null,
  dispatch: Readonly<Record<number, DriverDispatch>>,
): Promise<DEVICE_OBJECT> {
  const holder: { dev: DEVICE_OBJECT | null } = { dev: null };
  const { status } = await sys.io.IoCreateDriver(driverName, (d) => {
    for (const [major, fn] of Object.entries(dispatch)) d.MajorFunction[Number(major)] = fn;
    const r = sys.io.IoCreateDevice(d, null, deviceName, FILE_DEVICE_UNKNOWN);
    holder.dev = r.device;
    return r.status;
  });
  if (holder.dev === null) throw new Error(`${driverName} did not load: ${status}`);
  return holder.dev;
}

/** Complete an IRP with a status and information; returns the status (the dispatch-routine idiom). */
export function completeIrp(sys: IoSystem, irp: IRP, status: NTSTATUS, information = 0): NTSTATUS {
  irp.IoStatus.Status = status;
  irp.IoStatus.Information = information;
  sys.io.IoCompleteRequest(irp);
  return status;
}

export interface Sent {
  /** What the top-level IoCallDriver returned. */
  readonly returned: NTSTATUS;
  /** Whether IoCallDriver returned a plain number (the dispatch routine ran synchronously). */
  readonly synchronous: boolean;
  /** How many times the I/O manager's final processing (the finalizer) ran. */
  readonly finalized: () => number;
}

/**
 * Act as the I/O manager for an IRP built by the test: give it a finalizer (the I/O manager's completion
 * processing), send it to `device`, run the top-level check, and wait until it has completed.
 */
export async function sendIrp(sys: IoSystem, device: DEVICE_OBJECT, irp: IRP): Promise<Sent> {
  const io = sys.io;
  const done = new KEVENT(0, false, `test ${irp.label()}`);
  let finalized = 0;
  irp.finalizer = () => {
    finalized++;
    io.k.KeSetEvent(done);
  };
  const r = io.IoCallDriver(device, irp);
  const synchronous = typeof r === "number";
  const returned = typeof r === "number" ? r : await r;
  io.topLevelReturned(irp, returned);
  if (!irp.completed) await io.k.KeWaitForSingleObject(done);
  return { returned, synchronous, finalized: () => finalized };
}

/** Complete an IRP later, from a timer DPC at DISPATCH_LEVEL (after `delay` 100 ns units). */
export function completeFromDpc(
  sys: IoSystem,
  irp: IRP,
  status: NTSTATUS,
  information = 0,
  delay = MS,
  before?: () => void,
): void {
  const k = sys.io.k;
  const timer = k.KeInitializeTimer(undefined, `complete ${irp.label()}`);
  const dpc = k.KeInitializeDpc(
    () => {
      before?.();
      completeIrp(sys, irp, status, information);
    },
    null,
    `complete ${irp.label()}`,
  );
  k.KeSetTimer(timer, -delay, dpc);
}
