/**
 * Cancellation: NtCancelIoFile (the calling thread's requests on a file, waited for), NtCancelIoFileEx (one
 * request, or all on the file, from any thread), IoCancelIrp without a cancel routine, and cancel racing
 * completion under random schedules.
 */
import test from "ava";
import {
  type DriverDispatch,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  FILE_READ_DATA,
  FILE_WRITE_DATA,
  type IoRequest,
  type IoSystem,
  type IRP,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  IRP_MJ_DIRECTORY_CONTROL,
} from "../../emulator/io/index.js";
import { BUGCHECK, type NTSTATUS, type RunResult, STATUS, VERIFIER_C9 } from "../../emulator/kernel/index.js";
import type { PendingDriverOptions } from "../drivers/pending-driver.js";
import {
  type Booted,
  bootSystem,
  clean,
  completeFromDpc,
  completeIrp,
  enc,
  MS,
  makeDevice,
  openAsync,
  openSync,
  runUser,
} from "./_helpers.js";

const { STATUS_SUCCESS, STATUS_PENDING, STATUS_CANCELLED, STATUS_NOT_FOUND } = STATUS;
const FILE = "\\Device\\PendingRdr\\pend\\f.txt";
const DIR = "\\Device\\PendingRdr\\pend\\dir";
const WATCH = { CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE, Length: 256 } as const;

test("NtCancelIoFile cancels the calling thread's pending notification (STATUS_CANCELLED), not another thread's read", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const held: { readIrp: IRP | null; notifyIrp: IRP | null } = { readIrp: null, notifyIrp: null };
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const w = await openSync(b.sys, FILE, FILE_WRITE_DATA);
    await nt.NtWriteFile(w.FileHandle, { Buffer: enc.encode("abcd") });
    const f = await openAsync(b.sys, FILE, FILE_READ_DATA);
    const n = await nt.NtNotifyChangeDirectoryFile(f.FileHandle, WATCH);
    held.notifyIrp = n.request?.irp ?? null;
    // Another thread of the process reads the same file object.
    const reader = b.k.createThread(b.app, "reader", async () => {
      const rd = await nt.NtReadFile(f.FileHandle, { Length: 4, ByteOffset: 0 });
      held.readIrp = rd.request?.irp ?? null;
      const iosb = await rd.request?.wait();
      got.push(`reader: ${iosb?.Status} ${iosb?.Information}`);
    });
    await b.k.KeYieldThread(); // let the reader issue its read
    got.push(`notify ${n.Status}, read in flight: ${b.drv.inFlight.size}`);
    got.push(`NtCancelIoFile → ${await nt.NtCancelIoFile(f.FileHandle)}`);
    got.push(`notify now: done=${n.request?.done} ${n.request?.Status}`);
    await b.k.KeWaitForSingleObject(reader);
  });
  clean(r);
  t.deepEqual(got, [
    `notify ${STATUS_PENDING}, read in flight: 1`,
    `NtCancelIoFile → ${STATUS_SUCCESS}`,
    `notify now: done=true ${STATUS_CANCELLED}`,
    `reader: ${STATUS_SUCCESS} 4`,
  ]);
  t.true(held.notifyIrp?.Cancel);
  t.false(held.readIrp?.Cancel);
  t.true(b.drv.log.some((l) => l === `cancel routine for ${held.notifyIrp?.label()}`));
});

/** A driver whose notifications pend and whose cancel routine completes them later, from a DPC. */
function slowCancelDriver(sys: IoSystem, delay: number): Readonly<Record<number, DriverDispatch>> {
  const io = sys.io;
  const ok: DriverDispatch = (_d, irp) => completeIrp(sys, irp, STATUS_SUCCESS);
  return {
    [IRP_MJ_CREATE]: ok,
    [IRP_MJ_CLEANUP]: ok,
    [IRP_MJ_CLOSE]: ok,
    [IRP_MJ_DIRECTORY_CONTROL]: (_d, irp) => {
      io.IoMarkIrpPending(irp);
      io.IoSetCancelRoutine(irp, (_dev, c) => {
        io.IoReleaseCancelSpinLock(c.CancelIrql);
        completeFromDpc(sys, c, STATUS_CANCELLED, 0, delay);
      });
      return STATUS_PENDING;
    },
  };
}

test("NtCancelIoFile waits until the cancelled request has completed", async (t) => {
  const delay = 5 * MS;
  const b = await bootSystem({
    driver: false,
    more: async (sys) => {
      await makeDevice(sys, "\\Driver\\SlowCancel", "\\Device\\SlowCancel", slowCancelDriver(sys, delay));
    },
  });
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const d = await openAsync(b.sys, "\\Device\\SlowCancel\\d", FILE_LIST_DIRECTORY);
    const n = await b.sys.nt.NtNotifyChangeDirectoryFile(d.FileHandle, WATCH);
    const t0 = b.k.KeQuerySystemTime();
    const s = await b.sys.nt.NtCancelIoFile(d.FileHandle);
    got.push(s, b.k.KeQuerySystemTime() - t0, n.request?.done, n.request?.Status);
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, delay, true, STATUS_CANCELLED]);
});

test("NtCancelIoFileEx cancels one request; without a request, every request on the file, from any thread", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const d1 = await openAsync(b.sys, DIR, FILE_LIST_DIRECTORY);
    const d2 = await openAsync(b.sys, DIR, FILE_LIST_DIRECTORY);
    const n1 = await nt.NtNotifyChangeDirectoryFile(d1.FileHandle, WATCH);
    const n2 = await nt.NtNotifyChangeDirectoryFile(d2.FileHandle, WATCH);
    got.push(await nt.NtCancelIoFileEx(d1.FileHandle, n1.request ?? undefined));
    got.push(n1.request?.Status, n2.request?.Status);
    const other = b.k.createThread(b.app, "other", async () => {
      got.push(await nt.NtCancelIoFileEx(d2.FileHandle));
      got.push(await nt.NtCancelIoFileEx(d2.FileHandle));
    });
    await b.k.KeWaitForSingleObject(other);
    got.push(n2.request?.Status);
  });
  clean(r);
  t.deepEqual(got, [
    STATUS_SUCCESS,
    STATUS_CANCELLED,
    STATUS_PENDING,
    STATUS_SUCCESS,
    STATUS_NOT_FOUND,
    STATUS_CANCELLED,
  ]);
});

test("IoCancelIrp on an IRP without a cancel routine returns false and only sets Irp->Cancel", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await openAsync(b.sys, FILE, FILE_READ_DATA | FILE_WRITE_DATA);
    const w = await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("xyz"), ByteOffset: 0 });
    const pending = [...b.drv.inFlight][0]?.irp;
    if (!pending) throw new Error("nothing in flight");
    got.push(pending.CancelRoutine, b.sys.io.IoCancelIrp(pending), pending.Cancel, pending.completed);
    const iosb = await w.request?.wait();
    got.push(iosb?.Status, iosb?.Information);
    // With a cancel routine, it runs and IoCancelIrp returns true.
    const n = await nt.NtNotifyChangeDirectoryFile(f.FileHandle, WATCH);
    const irp = n.request?.irp;
    if (!irp) throw new Error("no notify IRP");
    got.push(irp.CancelRoutine !== null, b.sys.io.IoCancelIrp(irp), irp.Cancel, irp.CancelRoutine, n.request?.Status);
  });
  clean(r);
  t.deepEqual(got, [null, false, true, false, STATUS_SUCCESS, 3, true, true, true, null, STATUS_CANCELLED]);
  t.is(b.k.trace.events.filter((e) => e.kind === "irp.cancel").length, 2);
});

interface RaceOutcome {
  readonly result: RunResult;
  readonly status: NTSTATUS | null;
  readonly completions: number;
}

/**
 * One thread watches a directory and cancels its watch after a scheduling point; another writes a file, whose
 * completion DPC completes every pending watch. Latency 0: the write completes as soon as the writer blocks.
 */
async function race(seed: number, bugs: PendingDriverOptions["bugs"] = {}): Promise<RaceOutcome> {
  const b: Booted = await bootSystem({ seed, strategy: "random", driver: { latency: 0, bugs } });
  const out: { status: NTSTATUS | null; irp: string } = { status: null, irp: "" };
  b.k.createThread(b.app, "writer", async () => {
    const f = await openSync(b.sys, FILE, FILE_WRITE_DATA);
    await b.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("change") });
  });
  b.k.createThread(b.app, "watcher", async () => {
    const d = await openAsync(b.sys, DIR, FILE_LIST_DIRECTORY);
    const n = await b.sys.nt.NtNotifyChangeDirectoryFile(d.FileHandle, WATCH);
    out.irp = `IRP#${n.request?.id}`;
    const p = b.k.schedulePoint("before cancel");
    if (p) await p;
    await b.sys.nt.NtCancelIoFile(d.FileHandle);
    const iosb = await n.request?.wait();
    out.status = iosb?.Status ?? null;
  });
  const result = await b.k.run();
  const completions = b.k.trace.events.filter((e) => e.kind === "irp.complete" && e.what === out.irp).length;
  return { result, status: out.status, completions };
}

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);

test("cancel racing completion with the correct IoSetCancelRoutine(Irp, NULL) pattern: one completion, no stop, both outcomes", async (t) => {
  const outcomes = new Map<NTSTATUS, number[]>();
  for (const seed of SEEDS) {
    const o = await race(seed);
    clean(o.result);
    t.is(o.completions, 1, `seed ${seed}: the notification was completed ${o.completions} times`);
    t.true(o.status === STATUS_SUCCESS || o.status === STATUS_CANCELLED, `seed ${seed}: status ${o.status}`);
    outcomes.set(o.status as NTSTATUS, [...(outcomes.get(o.status as NTSTATUS) ?? []), seed]);
  }
  t.deepEqual([...outcomes.keys()].sort(), [STATUS_SUCCESS, STATUS_CANCELLED].sort());
});

test("cancel racing completion when completion does not clear the cancel routine: some seed stops (0xC9/0x07 or 0x44)", async (t) => {
  const stops: string[] = [];
  for (const seed of SEEDS) {
    const o = await race(seed, { completeWithCancelRoutine: true });
    if (o.result.stop) {
      const s = o.result.stop;
      const ok =
        (s.code === BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION &&
          s.params[0] === BigInt(VERIFIER_C9.COMPLETE_WITH_CANCEL_ROUTINE.code)) ||
        s.code === BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS;
      t.true(ok, `seed ${seed}: unexpected stop ${s.format()}`);
      stops.push(`${seed}: ${s.name}`);
    } else {
      t.is(o.status, STATUS_CANCELLED, `seed ${seed}: without a stop the watch must have been cancelled`);
    }
  }
  t.true(stops.length > 0, "no seed caught the bug");
  t.true(stops.length < SEEDS.length, "every seed stopped: the race never went the cancel way");
});

// Thread rundown (PspExitThread → IoCancelThreadIo) cancels every IRP still queued to the ending thread, so a
// driver's cancel-at-thread-exit path runs (regression: requests once outlived their thread).
test("a thread that ends with a request still pending has it cancelled at thread rundown (IoCancelThreadIo)", async (t) => {
  const b = await bootSystem();
  const held: { req: IoRequest | null } = { req: null };
  const r = await runUser(
    b,
    async () => {
      const d = await openAsync(b.sys, DIR, FILE_LIST_DIRECTORY);
      const n = await b.sys.nt.NtNotifyChangeDirectoryFile(d.FileHandle, WATCH);
      held.req = n.request;
    },
    "short-lived",
  );
  clean(r);
  t.is(held.req?.Status, STATUS_CANCELLED);
  t.true(b.drv.log.some((l) => l.startsWith("cancel routine for")));
});
