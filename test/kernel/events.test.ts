import test from "ava";
import { BUGCHECK, DV, EventType, Kernel } from "../../emulator/kernel/index.js";
import { runThread, STATUS_MUTANT_NOT_OWNED, STATUS_SUCCESS, STATUS_TIMEOUT, stopOf } from "./_helpers.js";

// ---------------------------------------------------------------- KEVENT

test("a notification event releases every waiter and stays signaled", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "n");
  const log: string[] = [];
  const p = k.createProcess("p");
  for (const n of ["W1", "W2"]) {
    k.createThread(p, n, async () => {
      const s = await k.KeWaitForSingleObject(ev);
      log.push(`${n} ${s}`);
    });
  }
  k.createThread(p, "setter", () => {
    log.push(`prev ${k.KeSetEvent(ev)}`);
    log.push(`prev again ${k.KeSetEvent(ev)}`);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["prev 0", "prev again 1", "W1 0", "W2 0"]);
  t.is(k.KeReadStateEvent(ev), 1);
});

test("a synchronization event wakes exactly one of two waiters per set, in arrival order", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "s");
  const woken: string[] = [];
  const p = k.createProcess("p");
  for (const n of ["W1", "W2"]) {
    k.createThread(p, n, async () => {
      t.is(await k.KeWaitForSingleObject(ev), STATUS_SUCCESS);
      woken.push(n);
    });
  }
  const observed: string[] = [];
  k.createThread(p, "setter", async () => {
    k.KeSetEvent(ev);
    t.is(k.KeReadStateEvent(ev), 0, "the wait consumed the signal");
    await k.KeDelayExecutionThread(-10);
    observed.push(`after first set: ${woken.join(",")}`);
    k.KeSetEvent(ev);
    await k.KeDelayExecutionThread(-10);
    observed.push(`after second set: ${woken.join(",")}`);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(observed, ["after first set: W1", "after second set: W1,W2"]);
});

test("a synchronization event set with no waiter satisfies one later wait and resets", async (t) => {
  const { r } = await runThread((k) => {
    const ev = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "s");
    t.is(k.KeSetEvent(ev), 0);
    t.is(k.KeReadStateEvent(ev), 1);
    t.is(k.KeWaitForSingleObject(ev, 0), STATUS_SUCCESS);
    t.is(k.KeReadStateEvent(ev), 0);
    t.is(k.KeWaitForSingleObject(ev, 0), STATUS_TIMEOUT);
  });
  t.is(r.outcome, "idle");
});

test("KeResetEvent and KeClearEvent unsignal; KeResetEvent returns the previous state", async (t) => {
  const { r } = await runThread((k) => {
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, true, "n");
    t.is(k.KeResetEvent(ev), 1);
    t.is(k.KeResetEvent(ev), 0);
    k.KeSetEvent(ev);
    k.KeClearEvent(ev);
    t.is(k.KeReadStateEvent(ev), 0);
  });
  t.is(r.outcome, "idle");
});

test("KeWaitForMultipleObjects WaitAny returns the index of the object that satisfied it", async (t) => {
  const k = new Kernel({ trace: true });
  const evs = [0, 1, 2].map((i) => k.KeInitializeEvent(EventType.SynchronizationEvent, false, `e${i}`));
  const results: number[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "waiter", async () => {
    results.push(await k.KeWaitForMultipleObjects(evs, "WaitAny"));
    // Already signaled: the lowest signaled index wins and only that object is consumed.
    k.KeSetEvent(evs[2]!);
    k.KeSetEvent(evs[1]!);
    results.push(await k.KeWaitForMultipleObjects(evs, "WaitAny"));
    results.push(await k.KeWaitForMultipleObjects(evs, "WaitAny"));
  });
  k.createThread(p, "setter", () => {
    k.KeSetEvent(evs[2]!);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(results, [2, 1, 2]);
});

test("KeWaitForMultipleObjects WaitAll waits for every object and consumes them all", async (t) => {
  const k = new Kernel({ trace: true });
  const a = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "a");
  const b = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "b");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "waiter", async () => {
    const s = await k.KeWaitForMultipleObjects([a, b], "WaitAll");
    log.push(`woke ${s} a=${k.KeReadStateEvent(a)} b=${k.KeReadStateEvent(b)}`);
  });
  k.createThread(p, "setter", async () => {
    k.KeSetEvent(a);
    await k.KeYieldThread();
    log.push(`a set, a=${k.KeReadStateEvent(a)}`);
    k.KeSetEvent(b);
    log.push("b set");
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["a set, a=1", "b set", "woke 0 a=0 b=0"]);
});

test("a wait times out with STATUS_TIMEOUT after exactly its relative timeout in virtual time", async (t) => {
  const { k, r } = await runThread(async (k) => {
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "never");
    const before = k.KeQuerySystemTime();
    t.is(await k.KeWaitForSingleObject(ev, -5000), STATUS_TIMEOUT);
    t.is(k.KeQuerySystemTime() - before, 5000);
    t.is(await k.KeWaitForMultipleObjects([ev, ev], "WaitAny", -250), STATUS_TIMEOUT);
    t.is(k.KeQuerySystemTime() - before, 5250);
    // An absolute (positive) timeout.
    t.is(await k.KeWaitForSingleObject(ev, 9000), STATUS_TIMEOUT);
    t.is(k.KeQueryInterruptTime(), 9000);
  });
  t.is(r.outcome, "idle");
  t.is(r.time, 9000);
  t.true(k.trace.lines().some((l) => / clock advance \{"now":5000\}/.test(l)));
});

test("a wait satisfied before its timeout returns STATUS_SUCCESS and the timeout never fires", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "waiter", async () => {
    const s = await k.KeWaitForSingleObject(ev, -1_000_000);
    log.push(`status ${s} at ${k.KeQuerySystemTime()}`);
    // A later wait in the same thread is not disturbed by the old timeout entry.
    await k.KeDelayExecutionThread(-10);
    log.push(`slept until ${k.KeQuerySystemTime()}`);
  });
  k.createThread(p, "setter", async () => {
    await k.KeDelayExecutionThread(-2000);
    k.KeSetEvent(ev);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["status 0 at 2000", "slept until 2010"]);
  t.is(r.time, 2010);
  t.false(k.trace.lines().some((l) => /"now":1000000/.test(l)));
});

test("a polling wait (timeout 0) returns at once, synchronously, without advancing time", async (t) => {
  const { r } = await runThread((k) => {
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
    const polled = k.KeWaitForSingleObject(ev, 0);
    t.is(polled, STATUS_TIMEOUT, "not a promise: returned synchronously");
    k.KeSetEvent(ev);
    t.is(k.KeWaitForSingleObject(ev, 0), STATUS_SUCCESS);
    // Polling is allowed at DISPATCH_LEVEL.
    const old = k.KeRaiseIrql(2);
    t.is(k.KeWaitForSingleObject(ev, 0), STATUS_SUCCESS);
    k.KeResetEvent(ev);
    t.is(k.KeWaitForMultipleObjects([ev], "WaitAll", 0), STATUS_TIMEOUT);
    k.KeLowerIrql(old);
    t.is(k.KeQuerySystemTime(), 0);
  });
  t.is(r.outcome, "idle");
  t.is(r.time, 0);
});

test("KeDelayExecutionThread sleeps exactly the interval and returns STATUS_SUCCESS", async (t) => {
  const { r } = await runThread(async (k) => {
    t.is(await k.KeDelayExecutionThread(-12345), STATUS_SUCCESS);
    t.is(k.KeQuerySystemTime(), 12345);
    t.is(await k.KeDelayExecutionThread(-1), STATUS_SUCCESS);
    t.is(k.KeQuerySystemTime(), 12346);
  });
  t.is(r.time, 12346);
});

test("an event wait nobody will satisfy ends the run in a deadlock stop", async (t) => {
  const { r } = await runThread(
    async (k) => {
      const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "orphan");
      await k.KeWaitForSingleObject(ev);
      t.fail("never woken");
    },
    {},
    "lonely",
  );
  const stop = stopOf(r);
  t.is(stop.kind, "deadlock");
  t.is(stop.waits.length, 1);
  t.is(stop.waits[0]?.thread.name, "lonely");
  t.is(stop.waits[0]?.waitsFor, 'KEVENT "orphan"');
  t.deepEqual(stop.waits[0]?.heldBy, []);
});

// ---------------------------------------------------------------- KMUTEX

test("a KMUTEX is recursive for its owner and enters a critical region while held", async (t) => {
  const k = new Kernel({ trace: true });
  const m = k.KeInitializeMutex(0, "m");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "owner", async (self) => {
    t.is(await k.KeWaitForSingleObject(m), STATUS_SUCCESS);
    t.is(await k.KeWaitForSingleObject(m), STATUS_SUCCESS);
    t.is(m.owner, self);
    t.is(m.recursion, 2);
    t.is(self.criticalRegion, 1, "one critical region however deep the recursion");
    await k.KeYieldThread();
    k.KeReleaseMutex(m);
    log.push("released once");
    await k.KeYieldThread();
    k.KeReleaseMutex(m);
    log.push("released twice");
    t.is(self.criticalRegion, 0);
    t.is(self.held.length, 0);
  });
  k.createThread(p, "other", async (self) => {
    log.push("other waits");
    await k.KeWaitForSingleObject(m);
    log.push("other owns");
    t.is(m.owner, self);
    k.KeReleaseMutex(m);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["other waits", "released once", "released twice", "other owns"]);
});

test("KeReleaseMutex by a non-owner is bug check 0x1E with STATUS_MUTANT_NOT_OWNED", async (t) => {
  const k = new Kernel({ trace: true });
  const m = k.KeInitializeMutex(0, "guard");
  const p = k.createProcess("p");
  k.createThread(p, "owner", async () => {
    await k.KeWaitForSingleObject(m);
    await k.KeYieldThread();
    t.fail("the run stops before the owner runs again");
  });
  k.createThread(p, "thief", () => {
    k.KeReleaseMutex(m);
  });
  const r = await k.run();
  const stop = stopOf(r);
  t.is(stop.kind, "bugcheck");
  t.is(stop.code, BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED);
  t.is(stop.code, 0x1e);
  t.is(stop.name, "KMODE_EXCEPTION_NOT_HANDLED");
  t.is(stop.params[0], STATUS_MUTANT_NOT_OWNED);
  t.is(stop.thread?.name, "thief");
  t.deepEqual(stop.callChain, ["KeReleaseMutex"]);
  t.regex(stop.reason, /"thief", which does not own it \(owner: "owner"\)/);
  t.is(stop.check, "locks");
});

test("KeReleaseMutex of a mutex nobody owns is bug check 0x1E too", async (t) => {
  const { r } = await runThread((k) => {
    k.KeReleaseMutex(k.KeInitializeMutex(0, "free"));
  });
  const stop = stopOf(r);
  t.is(stop.code, 0x1e);
  t.is(stop.params[0], STATUS_MUTANT_NOT_OWNED);
  t.regex(stop.reason, /it is not owned/);
});

// Regression: KeReleaseMutex used to return the recursion count (2, then 1). The WDK says "If the return value is
// zero, the mutex object was released and attained a state of signaled": the previous signal state, 1 - recursion.
test("KeReleaseMutex returns zero when the release leaves the mutex signaled", async (t) => {
  const { r } = await runThread(async (k) => {
    const m = k.KeInitializeMutex(0, "m");
    await k.KeWaitForSingleObject(m);
    await k.KeWaitForSingleObject(m);
    t.is(k.KeReleaseMutex(m), -1, "still owned after the first release");
    t.is(k.KeReleaseMutex(m), 0, "signaled after the last release");
  });
  t.is(r.outcome, "idle");
});

/** T1 takes m1 then m2, T2 m2 then m1: a cycle of two KMUTEX waits. */
function opposingMutexes(k: Kernel, p: ReturnType<Kernel["createProcess"]>): void {
  const m1 = k.KeInitializeMutex(0, "m1");
  const m2 = k.KeInitializeMutex(0, "m2");
  k.createThread(p, "T1", async () => {
    await k.KeWaitForSingleObject(m1);
    await k.KeYieldThread();
    await k.KeWaitForSingleObject(m2);
  });
  k.createThread(p, "T2", async () => {
    await k.KeWaitForSingleObject(m2);
    await k.KeWaitForSingleObject(m1);
  });
}

/** The wait edges of a stop, "T1 -> KMUTEX "m2" held by T2", sorted. */
const waitEdges = (stop: ReturnType<typeof stopOf>): string[] =>
  stop.waits.map((w) => `${w.thread.name} -> ${w.waitsFor} held by ${w.heldBy.map((h) => h.name)}`).sort();
const OPPOSING_EDGES = ['T1 -> KMUTEX "m2" held by T2', 'T2 -> KMUTEX "m1" held by T1'];

test("two threads taking two KMUTEXes in opposite order deadlock, each edge naming the owner", async (t) => {
  const k = new Kernel({ trace: true, checks: { lockOrder: "off" } }); // else the lock-order graph reports first
  opposingMutexes(k, k.createProcess("p"));
  const r = await k.run();
  const stop = stopOf(r);
  t.is(stop.kind, "deadlock");
  t.is(stop.name, "DEADLOCK");
  t.deepEqual(waitEdges(stop), OPPOSING_EDGES);
  t.regex(stop.reason, /"T[12]" → "T[12]" → "T[12]"/);
});

test("the same deadlock beside a periodic timer: the time-limit stop names the cycle and who waits for what", async (t) => {
  // A keep-alive timer keeps the clock going, so the deadlock check (nothing ready, no timer pending) never fires.
  const k = new Kernel({ trace: true, checks: { lockOrder: "off" }, maxTime: 60 * 1e7 });
  let ticks = 0;
  const p = k.createProcess("p");
  k.createThread(p, "arm", () => {
    k.KeSetTimerEx(
      k.KeInitializeTimer(undefined, "keep-alive"),
      -10_000_000,
      1000,
      k.KeInitializeDpc(() => void ticks++, null, "keep-alive"),
    );
  });
  opposingMutexes(k, p);
  const stop = stopOf(await k.run());
  t.is(stop.kind, "limit");
  t.true(ticks > 50, "the timer ran all along");
  t.regex(
    stop.reason,
    /^Virtual time would pass the run's limit \(60 s\), and "T[12]" → "T[12]" → "T[12]" each wait for a lock the next one holds: a deadlock, which the pending timers hid/,
  );
  t.deepEqual(waitEdges(stop), OPPOSING_EDGES);
});

test("a thread that ends owning a KMUTEX is stopped by the thread-exit check", async (t) => {
  const { r } = await runThread(
    async (k) => {
      await k.KeWaitForSingleObject(k.KeInitializeMutex(0, "kept"));
    },
    {},
    "leaker",
  );
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.is(stop.params[0], DV.THREAD_EXIT_HOLDING_LOCK);
  t.is(stop.check, "threadExit");
  t.is(stop.thread?.name, "leaker");
  t.regex(stop.reason, /KMUTEX "kept"/);
});
