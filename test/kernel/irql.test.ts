import test from "ava";
import {
  APC_LEVEL,
  BUGCHECK,
  DISPATCH_LEVEL,
  DV,
  EventType,
  HIGH_LEVEL,
  Kernel,
  PASSIVE_LEVEL,
} from "../../emulator/kernel/index.js";
import { runThread, STATUS_TIMEOUT, stopOf } from "./_helpers.js";

test("KeRaiseIrql returns the old IRQL; KeLowerIrql restores it; the trace records each change", async (t) => {
  const { k, r } = await runThread((k) => {
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
    t.is(k.KeRaiseIrql(APC_LEVEL), PASSIVE_LEVEL);
    t.is(k.KeRaiseIrql(DISPATCH_LEVEL), APC_LEVEL);
    t.is(k.KeRaiseIrqlToDpcLevel(), DISPATCH_LEVEL, "raising to the same level is allowed");
    t.is(k.KeRaiseIrql(HIGH_LEVEL), DISPATCH_LEVEL);
    k.KeLowerIrql(DISPATCH_LEVEL);
    k.KeLowerIrql(PASSIVE_LEVEL);
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
  });
  t.is(r.outcome, "idle");
  const irqlEvents = k.trace.events.filter((e) => e.kind === "irql").map((e) => e.what);
  t.deepEqual(irqlEvents, ["APC_LEVEL", "DISPATCH_LEVEL", "HIGH_LEVEL", "DISPATCH_LEVEL", "PASSIVE_LEVEL"]);
});

test("waiting at DISPATCH_LEVEL is bug check 0xA IRQL_NOT_LESS_OR_EQUAL", async (t) => {
  const { r } = await runThread(
    async (k) => {
      const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      await k.KeWaitForSingleObject(ev);
      t.fail("not reached");
    },
    {},
    "waiter",
  );
  const stop = stopOf(r);
  t.is(stop.kind, "bugcheck");
  t.is(stop.code, BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
  t.is(stop.code, 0xa);
  t.is(stop.name, "IRQL_NOT_LESS_OR_EQUAL");
  t.is(stop.params[1], BigInt(DISPATCH_LEVEL));
  t.is(stop.thread?.name, "waiter");
  t.is(stop.check, "irql");
  t.regex(stop.reason, /KeWaitForSingleObject on KEVENT "ev" at DISPATCH_LEVEL/);
});

test("KeWaitForMultipleObjects and KeDelayExecutionThread at DISPATCH_LEVEL stop too", async (t) => {
  const a = await runThread(async (k) => {
    k.KeRaiseIrql(DISPATCH_LEVEL);
    await k.KeWaitForMultipleObjects([k.KeInitializeEvent(EventType.NotificationEvent, false)], "WaitAny", -10);
  });
  t.is(stopOf(a.r).code, 0xa);
  const b = await runThread(async (k) => {
    k.KeRaiseIrql(DISPATCH_LEVEL);
    await k.KeDelayExecutionThread(-10);
  });
  t.is(stopOf(b.r).code, 0xa);
  t.regex(
    stopOf(b.r).reason,
    /KeDelayExecutionThread was called at DISPATCH_LEVEL, but it may only be called at APC_LEVEL/,
  );
});

test("a DDI called above its maximum IRQL is bug check 0xA naming the DDI and the levels", async (t) => {
  const { r } = await runThread(
    async (k) => {
      const res = k.ExInitializeResourceLite("res");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      await k.ExAcquireResourceExclusiveLite(res, true);
    },
    {},
    "driver",
  );
  const stop = stopOf(r);
  t.is(stop.code, 0xa);
  t.deepEqual(stop.params, [0n, 2n, 0n, 0n]);
  t.is(stop.thread?.name, "driver");
  t.is(
    stop.reason,
    "ExAcquireResourceExclusiveLite was called at DISPATCH_LEVEL, but it may only be called at APC_LEVEL or below.",
  );
});

test("DDIs allowed at DISPATCH_LEVEL run there without a stop", async (t) => {
  const { r } = await runThread((k) => {
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, false);
    const res = k.ExInitializeResourceLite("res");
    const timer = k.KeInitializeTimer();
    const old = k.KeRaiseIrql(DISPATCH_LEVEL);
    k.KeSetEvent(ev);
    k.KeResetEvent(ev);
    k.KeSetTimer(timer, -10);
    k.KeCancelTimer(timer);
    t.false(k.ExIsResourceAcquiredExclusiveLite(res));
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(() => undefined, null, "w"),
      0,
    );
    k.KeLowerIrql(old);
  });
  t.is(r.outcome, "idle", r.stop?.format());
});

test("KeRaiseIrql to a lower IRQL is bug check 0x9 IRQL_NOT_GREATER_OR_EQUAL", async (t) => {
  const { r } = await runThread((k) => {
    k.KeRaiseIrql(DISPATCH_LEVEL);
    k.KeRaiseIrql(APC_LEVEL);
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL);
  t.is(stop.code, 0x9);
  t.is(stop.name, "IRQL_NOT_GREATER_OR_EQUAL");
  t.deepEqual(stop.params, [2n, 1n, 0n, 0n]);
  t.regex(stop.reason, /use KeLowerIrql/);
});

test("KeLowerIrql to a higher IRQL is bug check 0xC4 LOWER_IRQL_TO_HIGHER", async (t) => {
  const { r } = await runThread((k) => {
    k.KeLowerIrql(APC_LEVEL);
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.deepEqual(stop.params, [DV.LOWER_IRQL_TO_HIGHER, 0n, 1n, 0n]);
});

test('checks: {irql: "record"} records the violation and the run goes on', async (t) => {
  const log: string[] = [];
  const { r } = await runThread(
    async (k) => {
      const res = k.ExInitializeResourceLite("res");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      k.KeRaiseIrql(APC_LEVEL); // 0x9, recorded
      log.push(`irql now ${k.KeGetCurrentIrql()}`);
      k.KeRaiseIrql(DISPATCH_LEVEL);
      await k.ExAcquireResourceSharedLite(res, true); // 0xA, recorded
      log.push("acquired anyway");
      k.ExReleaseResourceLite(res);
      k.KeLowerIrql(PASSIVE_LEVEL);
      log.push("done");
    },
    { checks: { irql: "record" } },
    "sloppy",
  );
  t.is(r.outcome, "idle");
  t.is(r.stop, null);
  t.deepEqual(log, ["irql now 1", "acquired anyway", "done"]);
  t.deepEqual(
    r.violations.map((v) => [v.code, v.thread?.name, v.check]),
    [
      [0x9, "sloppy", "irql"],
      [0xa, "sloppy", "irql"],
    ],
  );
  t.is(r.violations[1]?.kind, "bugcheck");
});

test('checks: {irql: "off"} ignores IRQL misuse entirely', async (t) => {
  const { r } = await runThread(
    async (k) => {
      const ev = k.KeInitializeEvent(EventType.NotificationEvent, false);
      k.KeRaiseIrql(DISPATCH_LEVEL);
      k.KeRaiseIrql(APC_LEVEL);
      k.KeLowerIrql(DISPATCH_LEVEL);
      t.is(await k.KeWaitForSingleObject(ev, -10), STATUS_TIMEOUT);
      k.KeLowerIrql(PASSIVE_LEVEL);
    },
    { checks: { irql: "off" } },
  );
  t.is(r.outcome, "idle");
  t.deepEqual(r.violations, []);
});

// Regression: a wait at DISPATCH_LEVEL in "record" mode used to be reported twice, by waitForObjects (kernel.ts)
// and again by KernelCore.block (core.ts). One faulty call is one violation.
test('a wait at DISPATCH_LEVEL in "record" mode is recorded once', async (t) => {
  const { r } = await runThread(
    async (k) => {
      const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
      const old = k.KeRaiseIrql(DISPATCH_LEVEL);
      await k.KeWaitForSingleObject(ev, -100);
      k.KeLowerIrql(old);
    },
    { checks: { irql: "record" } },
  );
  t.is(r.outcome, "idle");
  t.is(r.violations.length, 1, r.violations.map((v) => v.reason).join("\n"));
});

// Regression: the module doc of kernel.ts says every DDI's maximum IRQL is "declared in `KERNEL_DDIS` and checked
// on every call"; these DDIs used to accept any IRQL (KeYieldThread silently did nothing at DISPATCH_LEVEL).
const unchecked: readonly [string, number, (k: Kernel) => unknown][] = [
  ["KeYieldThread", DISPATCH_LEVEL, (k) => k.KeYieldThread()],
  ["KeInitializeMutex", DISPATCH_LEVEL, (k) => k.KeInitializeMutex(0, "m")],
  ["ExInitializeResourceLite", HIGH_LEVEL, (k) => k.ExInitializeResourceLite("r")],
  [
    "ExIsResourceAcquiredExclusiveLite",
    HIGH_LEVEL,
    (k) => k.ExIsResourceAcquiredExclusiveLite(k.ExInitializeResourceLite("r")),
  ],
  ["ExGetExclusiveWaiterCount", HIGH_LEVEL, (k) => k.ExGetExclusiveWaiterCount(k.ExInitializeResourceLite("r"))],
];
for (const [name, irql, call] of unchecked) {
  test(`${name} above its declared maximum IRQL stops`, async (t) => {
    const { r } = await runThread(async (k) => {
      k.KeRaiseIrql(irql);
      await call(k);
      k.KeLowerIrql(PASSIVE_LEVEL);
    });
    t.is(stopOf(r).code, 0xa);
  });
}

test("a user thread that ends at raised IRQL stops with 0x4A, a system thread with 0xE1", async (t) => {
  const user = await runThread(
    (k) => {
      k.KeRaiseIrql(APC_LEVEL);
    },
    {},
    "app",
  );
  const us = stopOf(user.r);
  t.is(us.code, BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE);
  t.is(us.params[1], 1n);
  t.is(us.thread?.name, "app");
  t.is(us.check, "threadExit");

  const k = new Kernel();
  k.PsCreateSystemThread("sys", () => {
    k.KeRaiseIrql(DISPATCH_LEVEL);
  });
  const ss = stopOf(await k.run());
  t.is(ss.code, BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL);
  t.is(ss.thread?.name, "sys");
  t.is(ss.thread?.process, "System");
});

test("KeLeaveCriticalRegion without KeEnterCriticalRegion stops; ending inside one is APC_INDEX_MISMATCH", async (t) => {
  const a = await runThread((k) => {
    k.KeEnterCriticalRegion();
    k.FsRtlExitFileSystem();
    k.KeLeaveCriticalRegion();
  });
  const sa = stopOf(a.r);
  t.is(sa.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.is(sa.params[0], DV.LEAVE_CRITICAL_REGION_NOT_IN_REGION);
  t.deepEqual(sa.callChain, ["KeLeaveCriticalRegion"]);
  const b = await runThread(
    (k) => {
      k.FsRtlEnterFileSystem();
    },
    {},
    "forgetful",
  );
  const s = stopOf(b.r);
  t.is(s.code, 0x1);
  t.is(s.params[2], 1n);
  t.regex(s.reason, /"forgetful" ended inside 1 critical region/);
});

test("an invalid IRQL value is an error, not an IRQL change", async (t) => {
  const { r } = await runThread(
    (k) => {
      k.KeRaiseIrql(16);
    },
    {},
    "bad",
  );
  t.is(r.outcome, "idle");
  t.is(r.threadErrors.length, 1);
  t.is(r.threadErrors[0]?.thread, "bad");
  t.true(r.threadErrors[0]?.error instanceof RangeError);
});
