/**
 * Scheduling at the I/O level: a run is a pure function of (program, seed, strategy), and deadlocks through
 * synchronous file objects are reported with who waits for what.
 */
import test from "ava";
import {
  type DriverDispatch,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  FILE_OPEN_IF,
  FILE_READ_DATA,
  FILE_SYNCHRONOUS_IO_NONALERT,
  FILE_WRITE_DATA,
  GENERIC_READ,
  GENERIC_WRITE,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  IRP_MJ_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { ReplayStrategy, type SchedulingStrategy, STATUS } from "../../emulator/kernel/index.js";
import { bootSystem, completeIrp, enc, makeDevice, openAsync, openSync, runUser, stopOf } from "./_helpers.js";

interface Run {
  readonly lines: string[];
  readonly choices: readonly number[];
  readonly driverLog: readonly string[];
  readonly outcome: string;
}

/** Three threads doing overlapping I/O through MUP and the pending driver. */
async function program(seed: number, strategy: "random" | SchedulingStrategy): Promise<Run> {
  const b = await bootSystem({ seed, strategy });
  const nt = b.sys.nt;
  for (const [name, file] of [
    ["writer-a", "a.txt"],
    ["writer-b", "b.txt"],
  ] as const) {
    b.k.createThread(b.app, name, async () => {
      const f = await openSync(b.sys, `\\??\\UNC\\pend\\${file}`, GENERIC_READ | GENERIC_WRITE);
      for (let i = 0; i < 3; i++) await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode(`${name}:${i};`) });
      await nt.NtReadFile(f.FileHandle, { Length: 8, ByteOffset: 0 });
      await nt.NtClose(f.FileHandle);
    });
  }
  b.k.createThread(b.app, "watcher", async () => {
    const d = await openAsync(b.sys, "\\??\\UNC\\pend\\dir", FILE_LIST_DIRECTORY);
    for (let i = 0; i < 2; i++) {
      const n = await nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
        CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
        Length: 128,
      });
      await n.request?.wait(-30 * 10_000);
    }
    await nt.NtCancelIoFile(d.FileHandle);
    await nt.NtClose(d.FileHandle);
  });
  const r = await b.k.run();
  return { lines: b.k.trace.lines(), choices: r.choices, driverLog: b.drv.log, outcome: r.outcome };
}

test("the same program with the same seed under the random strategy gives an identical trace", async (t) => {
  for (const seed of [1, 7, 12345]) {
    const a = await program(seed, "random");
    const b = await program(seed, "random");
    t.is(a.outcome, "idle");
    t.true(a.lines.length > 100);
    t.deepEqual(b.lines, a.lines, `seed ${seed}`);
    t.deepEqual(b.choices, a.choices, `seed ${seed}`);
    t.deepEqual(b.driverLog, a.driverLog, `seed ${seed}`);
    // And the recorded choices replay it.
    const replay = await program(seed, new ReplayStrategy(a.choices, undefined, true));
    t.deepEqual(replay.lines, a.lines, `seed ${seed} replayed`);
  }
});

test("different seeds explore different interleavings of the same program", async (t) => {
  const traces = new Set<string>();
  for (let seed = 1; seed <= 8; seed++) traces.add((await program(seed, "random")).lines.join("\n"));
  t.true(traces.size > 1);
});

test("a thread blocked in a synchronous notification holds its file object: another thread's read on it is a reported deadlock", async (t) => {
  const b = await bootSystem();
  const r = await runUser(
    b,
    async () => {
      const f = await openSync(b.sys, "\\??\\UNC\\pend\\x", FILE_READ_DATA);
      b.k.createThread(b.app, "reader", async () => {
        await b.sys.nt.NtReadFile(f.FileHandle, { Length: 1 });
      });
      await b.sys.nt.NtNotifyChangeDirectoryFile(f.FileHandle, {
        CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
        Length: 64,
      });
    },
    "watcher",
  );
  const stop = stopOf(r);
  t.is(stop.kind, "deadlock");
  t.is(stop.name, "DEADLOCK");
  t.is(stop.check, "deadlock");
  t.regex(stop.reason, /Every live thread is blocked/);
  const waits = stop.waits.map((w) => ({
    thread: w.thread.name,
    waitsFor: w.waitsFor,
    heldBy: w.heldBy.map((h) => h.name),
  }));
  t.is(waits.length, 2);
  t.like(waits[0], { thread: "watcher", heldBy: [] });
  t.regex(waits[0]?.waitsFor ?? "", /^KEVENT "request \d+"$/);
  t.like(waits[1], { thread: "reader", heldBy: ["watcher"] });
  t.regex(waits[1]?.waitsFor ?? "", /^synchronous-I\/O lock of FILE_OBJECT#\d+ "\\pend\\x"$/);
  t.regex(stop.format(), /Who waits for what:/);
  t.regex(
    stop.format(),
    /"reader" waits for synchronous-I\/O lock of FILE_OBJECT#\d+ "\\pend\\x" held by thread \d+ "watcher"/,
  );
});

test("a driver that reads another synchronous file from inside its read dispatch: opposite orders on two threads are a deadlock cycle", async (t) => {
  const handles: Record<string, number> = {};
  const b = await bootSystem({
    driver: false,
    more: async (sys) => {
      const ok: DriverDispatch = (_d, irp) => completeIrp(sys, irp, STATUS.STATUS_SUCCESS);
      await makeDevice(sys, "\\Driver\\Chain", "\\Device\\Chain", {
        [IRP_MJ_CREATE]: ok,
        [IRP_MJ_CLEANUP]: ok,
        [IRP_MJ_CLOSE]: ok,
        // A read of \a reads \b first (and vice versa), through a kernel handle, synchronously.
        [IRP_MJ_READ]: async (_d, irp) => {
          const name = sys.io.IoGetCurrentIrpStackLocation(irp).FileObject?.FileName ?? "";
          await sys.io.k.KeYieldThread();
          const other = name === "\\a" ? "\\b" : "\\a";
          await sys.nt.ZwReadFile(handles[other] as number, { Length: 1 });
          return completeIrp(sys, irp, STATUS.STATUS_SUCCESS, 1);
        },
      });
      for (const name of ["\\a", "\\b"]) {
        const f = await sys.nt.ZwCreateFile({
          ObjectName: `\\Device\\Chain${name}`,
          DesiredAccess: FILE_READ_DATA | FILE_WRITE_DATA | SYNCHRONIZE,
          CreateDisposition: FILE_OPEN_IF,
          CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
        });
        handles[name] = f.FileHandle;
      }
    },
  });
  for (const [thread, file] of [
    ["reader-a", "\\a"],
    ["reader-b", "\\b"],
  ] as const) {
    b.k.PsCreateSystemThread(thread, async () => {
      await b.sys.nt.ZwReadFile(handles[file] as number, { Length: 1 });
    });
  }
  const stop = stopOf(await b.k.run());
  t.is(stop.kind, "deadlock");
  t.is(stop.reason, 'Deadlock: "reader-a" → "reader-b" → "reader-a" each wait for a lock the next one holds.');
  t.deepEqual(
    stop.waits.map((w) => [w.thread.name, w.waitsFor.replace(/#\d+/, "#n"), w.heldBy.map((h) => h.name)]),
    [
      ["reader-a", 'synchronous-I/O lock of FILE_OBJECT#n "\\b"', ["reader-b"]],
      ["reader-b", 'synchronous-I/O lock of FILE_OBJECT#n "\\a"', ["reader-a"]],
    ],
  );
});
