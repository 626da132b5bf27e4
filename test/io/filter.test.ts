/**
 * A filter device attached on top of the pending driver's device: it sees every IRP first, passes it down
 * (IoSkipCurrentIrpStackLocation, or IoCopyCurrentIrpStackLocationToNext + a completion routine), and the
 * results are exactly those without it.
 */
import test from "ava";
import {
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  GENERIC_READ,
  GENERIC_WRITE,
} from "../../emulator/io/index.js";
import { BUGCHECK, STATUS, VERIFIER_C9 } from "../../emulator/kernel/index.js";
import { FilterDriver, type FilterDriverOptions } from "../drivers/filter-driver.js";
import { IOCTL_PENDING_ECHO } from "../drivers/pending-driver.js";
import {
  type Booted,
  bootSystem,
  clean,
  dec,
  enc,
  openAsync,
  openSync,
  runUser,
  stopOf,
  subCodes,
} from "./_helpers.js";

const FILTER_LABEL = "unnamed device of \\Driver\\PassFilter";

interface Booted2 extends Booted {
  readonly filter: FilterDriver | null;
}

async function boot(filter: FilterDriverOptions | null, checks?: Readonly<Record<string, "stop" | "record">>) {
  const holder: { f: FilterDriver | null } = { f: null };
  const b = await bootSystem({
    ...(checks ? { checks } : {}),
    more: async (sys, drv) => {
      if (filter === null || drv === null) return;
      const f = new FilterDriver(sys, filter);
      const s = await f.load(drv.device as NonNullable<typeof drv.device>);
      if (s !== STATUS.STATUS_SUCCESS) throw new Error(`filter did not load: ${s}`);
      holder.f = f;
    },
  });
  return Object.assign(b, { filter: holder.f }) as Booted2;
}

/** A user program touching every major function the pending driver handles; returns what it observed. */
async function program(b: Booted): Promise<{ results: unknown[]; stackCounts: number[] }> {
  const results: unknown[] = [];
  const stackCounts: number[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await openSync(b.sys, "\\??\\UNC\\pend\\a.txt", GENERIC_READ | GENERIC_WRITE);
    results.push(["create", f.Status, f.Information]);
    const w = await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("hello") });
    results.push(["write", w.Status, w.Information]);
    const rd = await nt.NtReadFile(f.FileHandle, { Length: 5, ByteOffset: 0 });
    results.push(["read", rd.Status, rd.Information, dec.decode(rd.Buffer)]);
    const io = await nt.NtDeviceIoControlFile(f.FileHandle, IOCTL_PENDING_ECHO, {
      InputBuffer: enc.encode("abc"),
      OutputBufferLength: 3,
    });
    results.push(["ioctl", io.Status, io.Information, dec.decode(io.OutputBuffer ?? new Uint8Array())]);
    const d = await openAsync(b.sys, "\\??\\UNC\\pend\\dir", FILE_LIST_DIRECTORY);
    const n = await nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
      Length: 128,
    });
    stackCounts.push(n.request?.irp?.StackCount ?? -1);
    results.push(["notify", n.Status]);
    await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("!"), ByteOffset: 5 });
    const iosb = await n.request?.wait();
    results.push(["notified", iosb?.Status, iosb?.Information, [...n.Buffer.subarray(0, iosb?.Information ?? 0)]]);
    const n2 = await nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
      Length: 128,
    });
    results.push(["cancel", await nt.NtCancelIoFile(d.FileHandle), n2.request?.Status]);
    results.push(["close", await nt.NtClose(d.FileHandle), await nt.NtClose(f.FileHandle)]);
  });
  clean(r);
  return { results, stackCounts };
}

test("a filter attached with IoAttachDeviceToDeviceStack grows StackSize by one and sees every IRP before the driver; results are unchanged", async (t) => {
  const plain = await boot(null);
  const base = await program(plain);
  t.deepEqual(base.stackCounts, [1]);
  for (const mode of ["skip", "copy"] as const) {
    const b = await boot({ mode });
    const filter = b.filter as FilterDriver;
    const dev = b.drv.device;
    if (!dev || !filter.device) throw new Error("devices missing");
    t.is(dev.StackSize, 1, mode);
    t.is(filter.device.StackSize, 2, mode);
    t.is(filter.lower, dev, mode);
    t.is(b.sys.io.IoGetAttachedDevice(dev), filter.device, mode);
    const run = await program(b);
    t.deepEqual(run.results, base.results, `${mode}: the program sees the same results`);
    t.deepEqual(run.stackCounts, [2], `${mode}: IRPs get two stack locations`);
    t.deepEqual(b.drv.log, plain.drv.log, `${mode}: the driver sees the same requests`);
    // Every IRP that reached the driver was dispatched to the filter first, and only once to each.
    const byIrp = new Map<number, string[]>();
    for (const e of b.k.trace.events) {
      if (e.kind !== "irp.dispatch") continue;
      const id = Number(e.data?.irp);
      byIrp.set(id, [...(byIrp.get(id) ?? []), String(e.data?.device)]);
    }
    const reached = [...byIrp.values()].filter((devs) => devs.includes("\\Device\\PendingRdr"));
    t.is(reached.length, 13, mode);
    t.true(
      reached.every((devs) => devs.length === 2 && devs[0] === FILTER_LABEL && devs[1] === "\\Device\\PendingRdr"),
      mode,
    );
    // What the filter logged, major functions only, in order.
    const majors = filter.log.filter((l) => !l.startsWith("done")).map((l) => l.split(" ")[0]);
    t.deepEqual(
      majors,
      [
        "IRP_MJ_DEVICE_CONTROL", // MUP's IOCTL_REDIR_QUERY_PATH for \pend\a.txt
        "IRP_MJ_CREATE",
        "IRP_MJ_WRITE",
        "IRP_MJ_READ",
        "IRP_MJ_DEVICE_CONTROL",
        "IRP_MJ_CREATE", // \pend\dir: prefix cached, no query
        "IRP_MJ_DIRECTORY_CONTROL",
        "IRP_MJ_WRITE",
        "IRP_MJ_DIRECTORY_CONTROL",
        "IRP_MJ_CLEANUP",
        "IRP_MJ_CLOSE",
        "IRP_MJ_CLEANUP",
        "IRP_MJ_CLOSE",
      ],
      mode,
    );
    if (mode === "copy") {
      // One completion-routine call per IRP, always with the filter's own device.
      t.is(filter.completionDevices.length, majors.length);
      t.true(filter.completionDevices.every((d) => d === filter.device));
      const done = filter.log.filter((l) => l.startsWith("done"));
      t.regex(done.find((l) => l.startsWith("done IRP_MJ_READ")) ?? "", /STATUS_SUCCESS 5 at IRQL 2$/);
      t.regex(done.find((l) => l.startsWith("done IRP_MJ_CREATE")) ?? "", /STATUS_SUCCESS 2 at IRQL 0$/);
    } else {
      t.deepEqual(filter.completionDevices, []);
    }
  }
});

test("a copy filter whose completion routine ignores PendingReturned breaks the first pended IRP (0xC9/0x228)", async (t) => {
  const b = await boot({ mode: "copy", propagatePending: false });
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, "\\??\\UNC\\pend\\a.txt", GENERIC_READ | GENERIC_WRITE);
    await b.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("hello") });
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION);
  t.is(stop.params[0], BigInt(VERIFIER_C9.COMPLETION_DID_NOT_PROPAGATE_PENDING.code));
  t.regex(stop.reason, /\\Driver\\PassFilter/);
  // Recorded instead: each pended IRP (write, read) yields the routine's omission and the unmarked top.
  const rb = await boot({ mode: "copy", propagatePending: false }, { irp: "record" });
  const rr = await runUser(rb, async () => {
    const f = await openSync(rb.sys, "\\??\\UNC\\pend\\a.txt", GENERIC_READ | GENERIC_WRITE);
    await rb.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("hello") });
    await rb.sys.nt.NtReadFile(f.FileHandle, { Length: 5, ByteOffset: 0 });
  });
  t.is(rr.stop, null);
  const [a, c] = [
    VERIFIER_C9.COMPLETION_DID_NOT_PROPAGATE_PENDING.code,
    VERIFIER_C9.PENDING_RETURNED_WITHOUT_MARK.code,
  ];
  t.deepEqual(subCodes(rr.violations), [a, c, a, c]);
});
