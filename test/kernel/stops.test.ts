import test from "ava";
import {
  APC_LEVEL,
  BUGCHECK,
  BugCheckError,
  DV,
  EventType,
  Kernel,
  KernelStop,
  PASSIVE_LEVEL,
} from "../../emulator/kernel/index.js";
import { runThread, sp, stopOf } from "./_helpers.js";

test("two threads taking two ERESOURCEs in opposite order: a deadlock stop with both wait edges", async (t) => {
  // The lock-order graph would report the inversion before the deadlock (test/verifier/lockorder.test.ts); this
  // test is about the deadlock report itself.
  const k = new Kernel({ trace: true, checks: { lockOrder: "off" } });
  const r1 = k.ExInitializeResourceLite("NetRootTable");
  const r2 = k.ExInitializeResourceLite("FcbTable");
  const p = k.createProcess("p");
  const after: string[] = [];
  k.createThread(p, "opener", async () => {
    await k.ExAcquireResourceExclusiveLite(r1, true);
    await k.KeYieldThread();
    await k.ExAcquireResourceExclusiveLite(r2, true);
    after.push("opener");
  });
  k.createThread(p, "closer", async () => {
    await k.ExAcquireResourceSharedLite(r2, true);
    await k.ExAcquireResourceExclusiveLite(r1, true);
    after.push("closer");
  });
  const r = await k.run();
  t.deepEqual(after, []);
  const stop = stopOf(r);
  t.is(stop.kind, "deadlock");
  t.is(stop.name, "DEADLOCK");
  t.is(stop.check, "deadlock");
  t.is(stop.thread, null);
  t.deepEqual(
    stop.waits.map((w) => ({ thread: w.thread.name, waitsFor: w.waitsFor, heldBy: w.heldBy.map((h) => h.name) })),
    [
      { thread: "opener", waitsFor: 'ERESOURCE "FcbTable" (exclusive)', heldBy: ["closer"] },
      { thread: "closer", waitsFor: 'ERESOURCE "NetRootTable" (exclusive)', heldBy: ["opener"] },
    ],
  );
  t.is(stop.reason, 'Deadlock: "opener" → "closer" → "opener" each wait for a lock the next one holds.');
  const text = stop.format();
  t.regex(text, /^\*\*\* DEADLOCK/);
  t.regex(text, /Who waits for what:/);
  t.regex(text, /thread 1 "opener" waits for ERESOURCE "FcbTable" \(exclusive\) held by thread 2 "closer"/);
  t.regex(text, /thread 2 "closer" waits for ERESOURCE "NetRootTable" \(exclusive\) held by thread 1 "opener"/);
  t.true(k.trace.lines().at(-1)?.endsWith("stop DEADLOCK"));
});

test("two threads taking two FAST_MUTEXes in opposite order: a deadlock stop naming the owners", async (t) => {
  const k = new Kernel({ checks: { lockOrder: "off" } }); // else the lock-order graph reports the inversion first
  const a = k.ExInitializeFastMutex("A");
  const b = k.ExInitializeFastMutex("B");
  const p = k.createProcess("p");
  k.createThread(p, "T1", async () => {
    await k.ExAcquireFastMutex(a);
    await k.KeYieldThread();
    await k.ExAcquireFastMutex(b);
  });
  k.createThread(p, "T2", async () => {
    await k.ExAcquireFastMutex(b);
    await k.ExAcquireFastMutex(a);
  });
  const stop = stopOf(await k.run());
  t.is(stop.kind, "deadlock");
  t.deepEqual(
    stop.waits.map((w) => `${w.thread.name} waits for ${w.waitsFor} held by ${w.heldBy.map((h) => h.name).join(",")}`),
    ['T1 waits for FAST_MUTEX "B" (exclusive) held by T2', 'T2 waits for FAST_MUTEX "A" (exclusive) held by T1'],
  );
  t.regex(stop.reason, /^Deadlock: "T1" → "T2" → "T1"/);
});

test("a deadlock among some threads is found even while idle workers wait for work", async (t) => {
  const k = new Kernel();
  const res = k.ExInitializeResourceLite("R");
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "never");
  k.createThread(k.createProcess("p"), "holder", async () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(() => undefined, null, "w"),
      0,
    );
    await k.KeDelayExecutionThread(-10); // the worker runs its item and goes idle
    await k.ExAcquireResourceExclusiveLite(res, true);
    await k.KeWaitForSingleObject(ev);
  });
  const stop = stopOf(await k.run());
  t.is(stop.kind, "deadlock");
  t.deepEqual(
    stop.waits.map((w) => w.thread.name),
    ["holder"],
    "the idle worker is not part of the report",
  );
  t.is(k.workerCounts().critical, 1);
});

test("a thread waiting on an event nobody sets: a deadlock with no owner", async (t) => {
  const k = new Kernel();
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "IoCompletion");
  const p = k.createProcess("p");
  k.createThread(p, "waiter", async () => {
    await k.KeWaitForSingleObject(ev);
  });
  k.createThread(p, "finisher", () => undefined);
  const stop = stopOf(await k.run());
  t.is(stop.kind, "deadlock");
  t.deepEqual(
    stop.waits.map((w) => [w.thread.name, w.waitsFor, w.heldBy.length]),
    [["waiter", 'KEVENT "IoCompletion"', 0]],
  );
  t.regex(stop.reason, /nothing can wake any of them/);
  t.regex(stop.format(), /thread 1 "waiter" waits for KEVENT "IoCompletion" \(no owner\)/);
});

test("a deadlock on an ERESOURCE held through owner pointers names them, what they stand for and the step that made them", async (t) => {
  // RDBSS hands an asynchronous read's FCB resource to `RxContext | 3`; a thread then waits for it exclusive. The
  // owners are not threads, so no cycle is claimed, but the report says who holds it instead of "(no owner)".
  const k = new Kernel({ checks: { lockOrder: "off" } });
  const res = k.ExInitializeResourceLite("FCB \\srv\\share\\a.txt");
  const activity: string[] = [];
  const context = {
    label: () => "RX_CONTEXT#7",
    describeActivity: () => {
      activity.push("asked");
      return "IRP_MJ_READ, LOWIO_OP_READ pended";
    },
  };
  const p = k.createProcess("p");
  k.createThread(p, "reader", async (self) => {
    self.stepLabel = "steps[2] t.yaml:8";
    t.true(await k.ExAcquireResourceSharedLite(res, true));
    k.ExSetResourceOwnerPointer(res, k.makeResourceOwnerPointer("RX_CONTEXT#7|3", context));
    t.true(await k.ExAcquireResourceSharedLite(res, true));
    k.ExSetResourceOwnerPointer(res, k.makeResourceOwnerPointer("bare|3"));
    t.deepEqual(activity, [], "nothing is described before a report asks");
  });
  k.createThread(p, "closer", async () => {
    await k.KeYieldThread();
    await k.ExAcquireResourceExclusiveLite(res, true);
  });
  const stop = stopOf(await k.run());
  t.is(stop.kind, "deadlock");
  t.deepEqual(
    stop.waits.map((w) => [w.thread.name, w.waitsFor, w.heldBy.length, w.otherOwners]),
    [
      [
        "closer",
        'ERESOURCE "FCB \\srv\\share\\a.txt" (exclusive)',
        0,
        [
          "shared by RX_CONTEXT#7 (owner pointer, since steps[2] t.yaml:8): IRP_MJ_READ, LOWIO_OP_READ pended",
          "shared by owner pointer bare|3 (since steps[2] t.yaml:8)",
        ],
      ],
    ],
  );
  t.deepEqual(activity, ["asked"]);
  t.regex(
    stop.format(),
    /thread 2 "closer" waits for ERESOURCE "FCB .*a\.txt" \(exclusive\) held shared by RX_CONTEXT#7 \(owner pointer, since steps\[2\] t\.yaml:8\): IRP_MJ_READ, LOWIO_OP_READ pended; held shared by owner pointer bare\|3 \(since steps\[2\] t\.yaml:8\)$/m,
  );
  t.notRegex(stop.format(), /no owner/);
  t.false(
    "otherOwners" in (stopOf(await deadlockOnEvent()).waits[0] ?? {}),
    "absent when there are none (JSON unchanged)",
  );
});

async function deadlockOnEvent() {
  const k = new Kernel();
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "never");
  k.createThread(k.createProcess("p"), "waiter", async () => {
    await k.KeWaitForSingleObject(ev);
  });
  return k.run();
}

test("a thread awaiting a promise that never settles is a hang naming the thread", async (t) => {
  const k = new Kernel();
  const p = k.createProcess("p");
  const log: string[] = [];
  k.createThread(p, "stuck", async () => {
    await k.callDdi("MRxQueryNetRoot", PASSIVE_LEVEL, () => new Promise<void>(() => {}));
  });
  k.createThread(p, "innocent", () => void log.push("innocent ran"));
  const r = await k.run();
  const stop = stopOf(r);
  t.is(r.outcome, "stopped");
  t.is(stop.kind, "hang");
  t.is(stop.name, "HANG");
  t.is(stop.thread?.name, "stuck");
  t.regex(stop.reason, /Thread "stuck" awaited something outside the emulated kernel/);
  t.deepEqual(stop.callChain, ["MRxQueryNetRoot"]);
  t.deepEqual(log, [], "no other thread runs after the hang");
});

test("an exception in a system thread is bug check 0x7E with the error as cause", async (t) => {
  const k = new Kernel();
  const err = new Error("assertion in driver");
  k.PsCreateSystemThread("scavenger", async () => {
    await k.KeDelayExecutionThread(-10);
    throw err;
  });
  const stop = stopOf(await k.run());
  t.is(stop.kind, "bugcheck");
  t.is(stop.code, BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
  t.is(stop.code, 0x7e);
  t.is(stop.name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
  t.is(stop.cause, err);
  t.is(stop.params[0], 0xe0000001n);
  t.is(stop.thread?.name, "scavenger");
  t.is(stop.thread?.process, "System");
  t.regex(stop.reason, /Error: assertion in driver/);
  t.regex(stop.format(), /Exception:\n {2}Error: assertion in driver/);
});

test("an exception in a user thread outside kernel mode is not a stop: it is in threadErrors", async (t) => {
  const k = new Kernel();
  const p = k.createProcess("app.exe");
  const err = new Error("test program bug");
  const log: string[] = [];
  k.createThread(p, "buggy", async () => {
    await k.KeYieldThread();
    throw err;
  });
  k.createThread(p, "fine", async () => {
    await k.KeYieldThread();
    await k.KeYieldThread();
    log.push("fine finished");
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.is(r.stop, null);
  t.deepEqual(r.threadErrors, [{ thread: "buggy", error: err }]);
  t.deepEqual(log, ["fine finished"]);
  t.is(k.allThreads[0]?.error, err);
  t.true(k.allThreads[0]?.terminated);
});

test("an exception in a user thread inside a system service is bug check 0x1E", async (t) => {
  const err = new Error("driver bug");
  const { r } = await runThread(
    (k, self) => {
      k.systemServiceEnter(self);
      throw err;
    },
    {},
    "caller",
  );
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
  t.is(stop.cause, err);
  t.is(stop.thread?.name, "caller");
  t.deepEqual(r.threadErrors, []);
});

test("a driver that catches the BugCheckError cannot continue the run: it stays stopped, no other thread runs", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
  const res = k.ExInitializeResourceLite("res");
  const p = k.createProcess("p");
  const log: string[] = [];
  const caught: unknown[] = [];
  // The run's result is delivered as soon as the stop happens; the sloppy thread's JavaScript goes on in the
  // background (nothing can stop it), so the test waits for it to return before looking at the log.
  let sloppyReturned = (): void => {};
  const returned = new Promise<void>((res) => {
    sloppyReturned = res;
  });
  k.createThread(p, "sloppy", async () => {
    try {
      k.ExReleaseResourceLite(res);
    } catch (e) {
      caught.push(e);
    }
    log.push("sloppy continues");
    k.KeSetEvent(ev); // readies "waiter", which must never run
    try {
      await sp(k, "after stop");
    } catch (e) {
      caught.push(e);
    }
    try {
      await k.KeYieldThread();
    } catch (e) {
      caught.push(e);
    }
    try {
      await k.KeDelayExecutionThread(-10);
    } catch (e) {
      caught.push(e);
    }
    log.push("sloppy returns");
    sloppyReturned();
  });
  k.createThread(p, "waiter", async () => {
    await k.KeWaitForSingleObject(ev);
    log.push("waiter ran");
  });
  k.createThread(p, "bystander", () => void log.push("bystander ran"));
  const r = await k.run();
  await returned;
  await new Promise((res) => setImmediate(res));
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.RESOURCE_NOT_OWNED);
  t.is(stop.thread?.name, "sloppy");
  t.deepEqual(log, ["sloppy continues", "sloppy returns"]);
  t.is(caught.length, 4);
  for (const e of caught) {
    t.true(e instanceof BugCheckError);
    t.is((e as BugCheckError).stop, stop, "every later scheduling point rethrows the same stop");
  }
  // Running again returns the same stopped result; creating threads is refused.
  const again = await k.run();
  t.is(again.stop, stop);
  t.throws(() => k.createThread(p, "late", () => undefined), { instanceOf: BugCheckError });
  t.is(k.trace.events.filter((e) => e.kind === "stop").length, 1);
});

// Regression: after a stop, KeReleaseSpinLock / KeLowerIrql / ExReleaseFastMutex used to drain the DPC queue, so a
// driver that swallowed the BugCheckError made queued DPC routines run after the machine had "crashed".
test("no DPC runs after a stop, even when the driver swallows the BugCheckError and lowers the IRQL", async (t) => {
  const log: string[] = [];
  const { r } = await runThread((k) => {
    const l = k.KeInitializeSpinLock("l");
    const old = k.KeAcquireSpinLock(l);
    k.KeInsertQueueDpc(k.KeInitializeDpc(() => void log.push("dpc ran"), null, "late dpc"));
    try {
      k.KeAcquireSpinLock(l); // self-deadlock: stop
    } catch {
      log.push("caught");
    }
    k.KeReleaseSpinLock(l, old);
    log.push("lowered");
  });
  await new Promise((res) => setImmediate(res));
  t.is(stopOf(r).params[0], DV.SELF_DEADLOCK);
  t.deepEqual(log, ["caught", "lowered"]);
});

test("a later violation after a caught stop does not replace the first stop", async (t) => {
  const { r } = await runThread((k) => {
    try {
      k.KeLowerIrql(APC_LEVEL);
    } catch {
      // swallowed by a sloppy driver
    }
    try {
      k.KeRaiseIrql(PASSIVE_LEVEL);
    } catch {
      // again
    }
  });
  t.deepEqual(stopOf(r).params[0], DV.LOWER_IRQL_TO_HIGHER);
});

test("exceeding maxSteps is a limit stop", async (t) => {
  const { r } = await runThread(
    async (k) => {
      for (;;) await sp(k, "spin");
    },
    { maxSteps: 500 },
    "spinner",
  );
  const stop = stopOf(r);
  t.is(stop.kind, "limit");
  t.is(stop.name, "RUN_LIMIT_EXCEEDED");
  t.is(stop.thread?.name, "spinner");
  t.is(r.steps, 501);
  t.regex(stop.reason, /more than 500 scheduling steps/);
});

test("a livelock of two threads yielding forever hits the step limit", async (t) => {
  const k = new Kernel({ maxSteps: 1000, seed: 4, strategy: "random" });
  const p = k.createProcess("p");
  for (const n of ["A", "B"]) {
    k.createThread(p, n, async () => {
      for (;;) await k.KeYieldThread();
    });
  }
  const stop = stopOf(await k.run());
  t.is(stop.kind, "limit");
  t.true(stop.thread?.name === "A" || stop.thread?.name === "B");
});

test("virtual time passing maxTime is a limit stop", async (t) => {
  const { r } = await runThread(
    async (k) => {
      await k.KeDelayExecutionThread(-20_000_000);
    },
    { maxTime: 10_000_000 },
  );
  const stop = stopOf(r);
  t.is(stop.kind, "limit");
  t.regex(stop.reason, /Virtual time would pass the run's limit \(1 s\)/);
  t.is(r.time, 0, "the clock is not advanced past the limit");
});

test("a system service returning to user mode holding a lock is a stop", async (t) => {
  const { r } = await runThread(
    async (k, self) => {
      const res = k.ExInitializeResourceLite("VNetRoot");
      k.systemServiceEnter(self);
      await k.ExAcquireResourceExclusiveLite(res, true);
      k.systemServiceExit(self, "NtCreateFile");
    },
    {},
    "app",
  );
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.is(stop.params[0], DV.THREAD_EXIT_HOLDING_LOCK);
  t.is(stop.check, "systemService");
  t.is(stop.thread?.name, "app");
  t.is(stop.reason, 'NtCreateFile returned to user mode holding ERESOURCE "VNetRoot" (exclusive).');
});

test("a system service returning at raised IRQL or inside a critical region is a stop", async (t) => {
  const a = await runThread((k, self) => {
    k.systemServiceEnter(self);
    k.KeRaiseIrql(APC_LEVEL);
    k.systemServiceExit(self, "NtReadFile");
  });
  t.is(stopOf(a.r).code, BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE);
  t.regex(stopOf(a.r).reason, /NtReadFile returned to user mode at APC_LEVEL/);
  const b = await runThread((k, self) => {
    k.systemServiceEnter(self);
    k.FsRtlEnterFileSystem();
    k.systemServiceExit(self, "NtClose");
  });
  t.is(stopOf(b.r).code, BUGCHECK.APC_INDEX_MISMATCH);
});

test("only the outermost system service exit is checked", async (t) => {
  const { r } = await runThread(async (k, self) => {
    const res = k.ExInitializeResourceLite("r");
    k.systemServiceEnter(self);
    k.systemServiceEnter(self);
    await k.ExAcquireResourceSharedLite(res, true);
    k.systemServiceExit(self, "inner");
    k.ExReleaseResourceLite(res);
    k.systemServiceExit(self, "outer");
  });
  t.is(r.outcome, "idle", r.stop?.format());
});

test("a thread that exits holding a lock is a stop naming the lock and the thread", async (t) => {
  const { r } = await runThread(
    async (k) => {
      await k.ExAcquireFastMutex(k.ExInitializeFastMutex("FcbMutex"));
      k.KeLowerIrql(PASSIVE_LEVEL); // so that only the held-lock check fires
    },
    { checks: { irql: "off" } },
    "exiter",
  );
  const stop = stopOf(r);
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.THREAD_EXIT_HOLDING_LOCK);
  t.is(stop.check, "threadExit");
  t.is(stop.reason, 'Thread "exiter" ended holding FAST_MUTEX "FcbMutex" (exclusive). Nobody can release it now.');
});

test('a check in "record" mode keeps the violation and lets the run finish', async (t) => {
  const { r } = await runThread(
    async (k) => {
      const res = k.ExInitializeResourceLite("r");
      await k.ExAcquireResourceSharedLite(res, true);
    },
    { checks: { threadExit: "record" } },
    "leaker",
  );
  t.is(r.outcome, "idle");
  t.is(r.violations.length, 1);
  t.is(r.violations[0]?.params[0], DV.THREAD_EXIT_HOLDING_LOCK);
  t.is(r.violations[0]?.thread?.name, "leaker");
});

test("stop.format() contains the code, parameters, name, thread, reason and call chain", async (t) => {
  const k = new Kernel();
  const res = k.ExInitializeResourceLite("FcbTable");
  k.createThread(k.createProcess("explorer.exe"), "opener", async () => {
    await k.callDdi("IoCallDriver", PASSIVE_LEVEL, async () => {
      await k.callDdi("RxFsdDispatch", PASSIVE_LEVEL, () => {
        k.ExReleaseResourceLite(res);
      });
    });
  });
  const stop = stopOf(await k.run());
  t.deepEqual(stop.callChain, ["IoCallDriver", "RxFsdDispatch", "ExReleaseResourceLite"]);
  t.is(stop.codeHex, "0x000000E3");
  const text = stop.format();
  const lines = text.split("\n");
  t.regex(
    lines[0] ?? "",
    /^\*\*\* STOP: 0x000000E3 \(0x[0-9A-F]{16}, 0x[0-9A-F]{16}, 0x[0-9A-F]{16}, 0x0000000000000000\) RESOURCE_NOT_OWNED$/,
  );
  t.true(lines.includes('Thread 1 "opener" in process "explorer.exe"'));
  t.true(lines.includes("Check: locks"));
  t.true(lines.some((l) => l.startsWith('Reason: ExReleaseResourceLite on ERESOURCE "FcbTable"')));
  const chainAt = lines.indexOf("Call chain (outermost first):");
  t.true(chainAt > 0);
  t.deepEqual(lines.slice(chainAt + 1, chainAt + 4), ["  IoCallDriver", "  RxFsdDispatch", "  ExReleaseResourceLite"]);
  t.regex(text, /Virtual time 0\.000000 s, scheduling step \d+/);
  const json = stop.toJSON();
  t.is(json.code, "0x000000E3");
  t.is(json.name, "RESOURCE_NOT_OWNED");
  t.deepEqual(json.callChain, ["IoCallDriver", "RxFsdDispatch", "ExReleaseResourceLite"]);
});

test("KernelStop defaults: names for non-bugcheck kinds and zero parameters", (t) => {
  const base = { reason: "r", thread: null, callChain: [], time: 12_345_678, step: 3 } as const;
  t.is(new KernelStop({ kind: "hang", code: 0, ...base }).name, "HANG");
  t.is(new KernelStop({ kind: "limit", code: 0, ...base }).name, "RUN_LIMIT_EXCEEDED");
  const b = new KernelStop({ kind: "bugcheck", code: 0xe4, ...base });
  t.is(b.name, "WORKER_INVALID");
  t.deepEqual(b.params, [0n, 0n, 0n, 0n]);
  t.regex(b.format(), /Virtual time 1\.234568 s, scheduling step 3/);
});

test("calling a DDI from plain JavaScript outside any emulated thread is a usage error", (t) => {
  const k = new Kernel();
  const err = t.throws(() => k.KeGetCurrentIrql());
  t.is(err?.name, "EmulatorUsageError");
  t.regex(err?.message ?? "", /must be called from an emulated thread/);
});

test("run() while a run is in progress is rejected as a usage error", async (t) => {
  const k = new Kernel();
  let second: Promise<unknown> | null = null;
  k.createThread(k.createProcess("p"), "main", () => {
    second = k.run();
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.not(second, null);
  await t.throwsAsync(second as unknown as Promise<unknown>, { name: "EmulatorUsageError" });
});
