import test from "ava";
import {
  BUGCHECK,
  DISPATCH_LEVEL,
  EventType,
  KDPC,
  Kernel,
  PASSIVE_LEVEL,
  TimerType,
} from "../../emulator/kernel/index.js";
import { MS, runThread, STATUS_SUCCESS, sp, stopOf } from "./_helpers.js";

test("KeSetTimer with a DPC runs the DPC at DISPATCH_LEVEL when virtual time reaches the due time", async (t) => {
  const k = new Kernel({ trace: true });
  const done = k.KeInitializeEvent(EventType.NotificationEvent, false, "done");
  const seen: string[] = [];
  const dpc = k.KeInitializeDpc(
    (d, context) => {
      const self = k.PsGetCurrentThread();
      seen.push(
        `dpc ${d.name} ctx=${String(context)} irql=${k.KeGetCurrentIrql()} at=${k.KeQuerySystemTime()} dpcContext=${self.isDpcContext}`,
      );
      k.KeSetEvent(done);
    },
    "ctx1",
    "tick",
  );
  k.createThread(k.createProcess("p"), "main", async () => {
    const timer = k.KeInitializeTimer(TimerType.NotificationTimer, "t1");
    t.false(k.KeSetTimer(timer, -5 * MS, dpc), "was not set before");
    t.false(k.KeReadStateTimer(timer));
    t.is(await k.KeWaitForSingleObject(done), STATUS_SUCCESS);
    seen.push(`main woke at ${k.KeQuerySystemTime()} irql=${k.KeGetCurrentIrql()}`);
    t.true(k.KeReadStateTimer(timer), "an expired timer is signaled");
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(seen, ["dpc tick ctx=ctx1 irql=2 at=50000 dpcContext=true", "main woke at 50000 irql=0"]);
  const kinds = k.trace.events.map((e) => `${e.kind} ${e.what}`);
  const i = kinds.indexOf("timer t1");
  t.true(i > 0);
  t.is(kinds[i + 1], "dpc tick", "the DPC runs right after the timer expires");
});

test("a thread can wait on a timer object; every waiter of a notification timer wakes", async (t) => {
  const k = new Kernel({ trace: true });
  const timer = k.KeInitializeTimer(TimerType.NotificationTimer, "t");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "arm", () => {
    k.KeSetTimer(timer, 1000); // absolute
  });
  for (const n of ["W1", "W2"]) {
    k.createThread(p, n, async () => {
      await k.KeWaitForSingleObject(timer);
      log.push(`${n} at ${k.KeQuerySystemTime()}`);
    });
  }
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["W1 at 1000", "W2 at 1000"]);
});

test("a synchronization timer satisfies one wait and resets", async (t) => {
  const { r } = await runThread(async (k) => {
    const timer = k.KeInitializeTimer(TimerType.SynchronizationTimer, "st");
    k.KeSetTimer(timer, -100);
    t.is(await k.KeWaitForSingleObject(timer), STATUS_SUCCESS);
    t.false(k.KeReadStateTimer(timer));
    t.is(k.KeWaitForSingleObject(timer, 0), 0x102);
  });
  t.is(r.outcome, "idle");
});

test("a periodic timer fires its DPC every period until cancelled", async (t) => {
  const fired: number[] = [];
  const { r } = await runThread(async (k) => {
    const dpc = k.KeInitializeDpc(() => void fired.push(k.KeQuerySystemTime()), null, "periodic");
    const timer = k.KeInitializeTimer(TimerType.NotificationTimer, "pt");
    k.KeSetTimerEx(timer, -10 * MS, 5, dpc); // first at 10 ms, then every 5 ms
    await k.KeDelayExecutionThread(-26 * MS);
    t.true(k.KeCancelTimer(timer), "still set: periodic timers re-arm");
    t.false(k.KeCancelTimer(timer));
    await k.KeDelayExecutionThread(-100 * MS);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(fired, [10 * MS, 15 * MS, 20 * MS, 25 * MS]);
});

test("a periodic timer's DPC can cancel the timer from inside the DPC", async (t) => {
  const fired: number[] = [];
  const { r } = await runThread(async (k) => {
    const timer = k.KeInitializeTimer(TimerType.NotificationTimer, "pt");
    const dpc = k.KeInitializeDpc(
      () => {
        fired.push(k.KeQuerySystemTime());
        if (fired.length === 3) t.true(k.KeCancelTimer(timer), "the periodic timer is already re-armed");
      },
      null,
      "self-cancel",
    );
    k.KeSetTimerEx(timer, -1 * MS, 1, dpc);
    await k.KeDelayExecutionThread(-50 * MS);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(fired, [1 * MS, 2 * MS, 3 * MS]);
});

test("a one-shot timer can be re-armed from its own DPC", async (t) => {
  const fired: number[] = [];
  const { r } = await runThread(async (k) => {
    const timer = k.KeInitializeTimer(TimerType.NotificationTimer, "again");
    const dpc = k.KeInitializeDpc(
      () => {
        fired.push(k.KeQuerySystemTime());
        if (fired.length < 3) t.false(k.KeSetTimer(timer, -100, dpc), "not set while its DPC runs");
      },
      null,
      "rearm",
    );
    k.KeSetTimer(timer, -100, dpc);
    await k.KeDelayExecutionThread(-1000);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(fired, [100, 200, 300]);
});

test("cancelling a timer does not signal it: a thread waiting on it is left waiting (deadlock)", async (t) => {
  const k = new Kernel();
  const timer = k.KeInitializeTimer(TimerType.NotificationTimer, "cancelled");
  const p = k.createProcess("p");
  k.createThread(p, "waiter", async () => {
    k.KeSetTimer(timer, -1000);
    await k.KeWaitForSingleObject(timer);
    t.fail("never signaled");
  });
  k.createThread(p, "canceller", () => {
    t.true(k.KeCancelTimer(timer));
  });
  const stop = stopOf(await k.run());
  t.is(stop.kind, "deadlock");
  t.is(stop.waits[0]?.waitsFor, 'KTIMER "cancelled"');
  t.is(stop.time, 0);
});

test("KeCancelTimer before the due time keeps the DPC from running", async (t) => {
  let ran = 0;
  const { r } = await runThread(async (k) => {
    const dpc = k.KeInitializeDpc(() => void ran++, null, "never");
    const timer = k.KeInitializeTimer();
    k.KeSetTimer(timer, -1000, dpc);
    t.true(k.KeSetTimer(timer, -2000, dpc), "re-arming a set timer reports it was set");
    await k.KeDelayExecutionThread(-500);
    t.true(k.KeCancelTimer(timer));
    t.false(k.KeCancelTimer(timer), "a second cancel finds nothing");
    await k.KeDelayExecutionThread(-10_000);
    t.false(k.KeReadStateTimer(timer));
  });
  t.is(r.outcome, "idle");
  t.is(ran, 0);
  t.is(r.time, 10_500);
});

test("re-arming a timer replaces its due time", async (t) => {
  const fired: number[] = [];
  const { r } = await runThread(async (k) => {
    const dpc = k.KeInitializeDpc(() => void fired.push(k.KeQuerySystemTime()), null, "d");
    const timer = k.KeInitializeTimer();
    k.KeSetTimer(timer, -1000, dpc);
    k.KeSetTimer(timer, -3000, dpc);
    await k.KeDelayExecutionThread(-5000);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(fired, [3000]);
});

test("timers due at the same time fire in the order they were set", async (t) => {
  const order: string[] = [];
  const { r } = await runThread(async (k) => {
    for (const n of ["a", "b", "c"]) {
      const dpc = k.KeInitializeDpc(() => void order.push(n), null, n);
      k.KeSetTimer(k.KeInitializeTimer(TimerType.NotificationTimer, n), -700, dpc);
    }
    await k.KeDelayExecutionThread(-700);
    order.push(`thread at ${k.KeQuerySystemTime()}`);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(order, ["a", "b", "c", "thread at 700"]);
});

test("a DPC that waits is bug check 0xA in DPC context", async (t) => {
  const { r } = await runThread(async (k) => {
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
    const dpc = k.KeInitializeDpc(
      () => {
        void k.KeWaitForSingleObject(ev);
      },
      null,
      "waiting dpc",
    );
    k.KeSetTimer(k.KeInitializeTimer(), -100, dpc);
    await k.KeWaitForSingleObject(ev);
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
  t.is(stop.params[1], BigInt(DISPATCH_LEVEL));
  t.is(stop.thread?.name, "DPC");
  t.is(stop.thread?.process, "System");
  t.deepEqual(stop.callChain, ["DPC waiting dpc"]);
  t.is(stop.time, 100);
});

test("a DPC may poll a dispatcher object with a zero timeout", async (t) => {
  const polled: number[] = [];
  const { r } = await runThread(async (k) => {
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
    const dpc = k.KeInitializeDpc(
      () => {
        polled.push(k.KeWaitForSingleObject(ev, 0) as number);
        k.KeSetEvent(ev);
        polled.push(k.KeWaitForSingleObject(ev, 0) as number);
      },
      null,
      "poller",
    );
    k.KeSetTimer(k.KeInitializeTimer(), -100, dpc);
    await k.KeWaitForSingleObject(ev);
  });
  t.is(r.outcome, "idle", r.stop?.format());
  t.deepEqual(polled, [0x102, 0]);
});

test("a DPC routine that returns a promise (an async DPC) is a stop", async (t) => {
  const { r } = await runThread(async (k) => {
    const dpc = k.KeInitializeDpc(async () => undefined, null, "async dpc");
    k.KeSetTimer(k.KeInitializeTimer(), -100, dpc);
    await k.KeDelayExecutionThread(-1000);
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
  t.is(stop.thread?.name, "DPC");
  t.regex(stop.reason, /DPC routine async dpc returned a promise/);
});

test("a DPC that throws is bug check 0x7E with the exception as cause", async (t) => {
  const boom = new Error("null FCB");
  const { r } = await runThread(async (k) => {
    k.KeInsertQueueDpc(
      k.KeInitializeDpc(
        () => {
          throw boom;
        },
        null,
        "thrower",
      ),
    );
    await k.KeDelayExecutionThread(-10);
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
  t.is(stop.cause, boom);
  t.is(stop.thread?.name, "DPC");
  t.deepEqual(stop.callChain, ["DPC thrower"]);
});

test("a DPC that returns holding a spin lock is a stop", async (t) => {
  const { r } = await runThread(async (k) => {
    const l = k.KeInitializeSpinLock("leaked");
    k.KeInsertQueueDpc(k.KeInitializeDpc(() => k.KeAcquireSpinLockAtDpcLevel(l), null, "leaky dpc"));
    await k.KeDelayExecutionThread(-10);
  });
  const stop = stopOf(r);
  t.is(stop.code, 0xc4);
  t.regex(stop.reason, /leaky dpc returned holding KSPIN_LOCK "leaked"/);
});

test("a DPC queued at DISPATCH_LEVEL runs when the IRQL drops below DISPATCH_LEVEL", async (t) => {
  const log: string[] = [];
  const { r } = await runThread((k) => {
    const dpc = k.KeInitializeDpc((_d, _c, a1, a2) => void log.push(`dpc ${String(a1)} ${String(a2)}`), null, "d");
    const l = k.KeInitializeSpinLock("sl");
    const old = k.KeAcquireSpinLock(l);
    t.true(k.KeInsertQueueDpc(dpc, "x", "y"));
    t.false(k.KeInsertQueueDpc(dpc, "z", "w"), "already queued");
    log.push("still at DISPATCH_LEVEL");
    k.KeReleaseSpinLock(l, old);
    log.push("lowered");
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["still at DISPATCH_LEVEL", "dpc x y", "lowered"]);
});

test("a DPC queued at PASSIVE_LEVEL runs at the next scheduling point; KeRemoveQueueDpc dequeues", async (t) => {
  const log: string[] = [];
  const { r } = await runThread(async (k) => {
    const d1 = k.KeInitializeDpc(() => void log.push("d1"), null, "d1");
    const d2 = k.KeInitializeDpc(() => void log.push("d2"), null, "d2");
    k.KeInsertQueueDpc(d1);
    k.KeInsertQueueDpc(d2);
    t.true(k.KeRemoveQueueDpc(d2));
    t.false(k.KeRemoveQueueDpc(d2));
    log.push("queued");
    await sp(k, "point");
    log.push("after point");
  });
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["queued", "d1", "after point"]);
});

test("virtual time advances only when no thread is runnable", async (t) => {
  for (const strategy of ["fifo", "random"] as const) {
    const k = new Kernel({ seed: 9, strategy, trace: true });
    const log: string[] = [];
    const busyTimes = new Set<number>();
    const p = k.createProcess("p");
    k.createThread(p, "sleeper", async () => {
      await k.KeDelayExecutionThread(-1000);
      log.push(`sleeper woke at ${k.KeQuerySystemTime()}`);
    });
    k.createThread(p, "busy", async () => {
      for (let i = 0; i < 200; i++) {
        busyTimes.add(k.KeQuerySystemTime());
        await sp(k, "busy");
        if (i % 10 === 0) await k.KeYieldThread();
      }
      log.push(`busy done at ${k.KeQuerySystemTime()}`);
    });
    const r = await k.run();
    t.is(r.outcome, "idle");
    t.deepEqual([...busyTimes], [0], strategy);
    t.deepEqual(log, ["busy done at 0", "sleeper woke at 1000"], strategy);
    t.is(r.time, 1000);
  }
});

test("KeQuerySystemTime does not move while threads run and time is not wall-clock", async (t) => {
  const { r } = await runThread(async (k) => {
    const a = k.KeQuerySystemTime();
    for (let i = 0; i < 1000; i++) await k.KeYieldThread();
    t.is(k.KeQuerySystemTime(), a);
    await k.KeDelayExecutionThread(-864_000_000_000 + 1);
    t.is(k.KeQuerySystemTime(), 864_000_000_000 - 1);
  });
  t.is(r.outcome, "idle");
});

// Regression: run() calls dispatchNext() synchronously; a DPC queued before run() (here from plain JavaScript, as
// an interrupt simulation would) that bug-checked used to throw the BugCheckError out of run() instead of the run
// resolving with the stop ("Never rejects for driver bugs: they are in the result").
test("a DPC that bug-checks during run()'s first dispatch ends the run with a stop", async (t) => {
  const k = new Kernel();
  k.KeInsertQueueDpc(
    new KDPC(
      () => {
        throw new Error("boom");
      },
      null,
      "early",
    ),
  );
  k.createThread(k.createProcess("p"), "main", () => undefined);
  const r = await k.run();
  t.is(stopOf(r).code, BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
});
