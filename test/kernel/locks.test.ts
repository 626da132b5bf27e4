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
import { runThread, stopOf } from "./_helpers.js";

// ================================================================ FAST_MUTEX

test("ExAcquireFastMutex raises to APC_LEVEL and ExReleaseFastMutex restores the old IRQL", async (t) => {
  const { r } = await runThread(async (k) => {
    const m = k.ExInitializeFastMutex("fm");
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
    await k.ExAcquireFastMutex(m);
    t.is(k.KeGetCurrentIrql(), APC_LEVEL);
    k.ExReleaseFastMutex(m);
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
    // Acquired at APC_LEVEL it stays at APC_LEVEL after the release.
    k.KeRaiseIrql(APC_LEVEL);
    await k.ExAcquireFastMutex(m);
    k.ExReleaseFastMutex(m);
    t.is(k.KeGetCurrentIrql(), APC_LEVEL);
    k.KeLowerIrql(PASSIVE_LEVEL);
  });
  t.is(r.outcome, "idle");
});

test("an uncontended ExAcquireFastMutex returns synchronously", async (t) => {
  const { r } = await runThread((k, self) => {
    const m = k.ExInitializeFastMutex("fm");
    t.is(k.ExAcquireFastMutex(m), undefined);
    t.is(m.owner, self);
    t.deepEqual(
      self.held.map((h) => h.lock.name),
      ["fm"],
    );
    k.ExReleaseFastMutex(m);
    t.is(m.owner, null);
  });
  t.is(r.outcome, "idle");
});

test("FAST_MUTEX contention blocks and hands the mutex over in FIFO order", async (t) => {
  const k = new Kernel({ trace: true });
  const m = k.ExInitializeFastMutex("fm");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "holder", async () => {
    await k.ExAcquireFastMutex(m);
    log.push("holder in");
    await k.KeYieldThread(); // let the others queue up (KeYieldThread is allowed at APC_LEVEL)
    log.push("holder out");
    k.ExReleaseFastMutex(m);
  });
  for (const n of ["W1", "W2", "W3"]) {
    k.createThread(p, n, async () => {
      log.push(`${n} asks`);
      await k.ExAcquireFastMutex(m);
      log.push(`${n} in at ${k.KeGetCurrentIrql()}`);
      k.ExReleaseFastMutex(m);
    });
  }
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, [
    "holder in",
    "W1 asks",
    "W2 asks",
    "W3 asks",
    "holder out",
    "W1 in at 1",
    "W2 in at 1",
    "W3 in at 1",
  ]);
});

// Regression: the release used to set `m.owner = null` and only ready the first waiter, which took ownership when
// it resumed. In between the mutex looked free, the releaser took it again at once, and the woken waiter then
// overwrote `m.owner`: two threads inside the fast mutex. Ownership now passes to the waiter at release time.
test("a FAST_MUTEX released to a waiter cannot be re-acquired by the releaser before the waiter runs", async (t) => {
  const k = new Kernel({ trace: true });
  const m = k.ExInitializeFastMutex("fm");
  let inside = 0;
  let maxInside = 0;
  const enter = (): void => {
    inside++;
    maxInside = Math.max(maxInside, inside);
  };
  const p = k.createProcess("p");
  k.createThread(p, "A", async () => {
    await k.ExAcquireFastMutex(m);
    enter();
    await k.KeYieldThread(); // B blocks on the mutex
    inside--;
    k.ExReleaseFastMutex(m); // B is readied
    await k.ExAcquireFastMutex(m); // must wait for B
    enter();
    await k.KeYieldThread();
    inside--;
    k.ExReleaseFastMutex(m);
  });
  k.createThread(p, "B", async () => {
    await k.ExAcquireFastMutex(m);
    enter();
    await k.KeYieldThread();
    inside--;
    k.ExReleaseFastMutex(m);
  });
  const r = await k.run();
  t.is(maxInside, 1, "mutual exclusion");
  t.is(r.outcome, "idle");
});

test("a recursive ExAcquireFastMutex is a self-deadlock stop 0xC4", async (t) => {
  const { r } = await runThread(
    async (k) => {
      const m = k.ExInitializeFastMutex("fm");
      await k.ExAcquireFastMutex(m);
      await k.ExAcquireFastMutex(m);
      t.fail("not reached");
    },
    {},
    "recursor",
  );
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.is(stop.name, "DRIVER_VERIFIER_DETECTED_VIOLATION");
  t.is(stop.params[0], DV.SELF_DEADLOCK);
  t.is(stop.thread?.name, "recursor");
  t.regex(stop.reason, /not recursive/);
});

test("ExReleaseFastMutex by a thread that does not own it stops (owned by another / not held)", async (t) => {
  const k = new Kernel({ trace: true });
  const m = k.ExInitializeFastMutex("fm");
  const p = k.createProcess("p");
  k.createThread(p, "owner", async () => {
    await k.ExAcquireFastMutex(m);
    await k.KeYieldThread();
    t.fail("not reached");
  });
  k.createThread(p, "intruder", () => {
    k.ExReleaseFastMutex(m);
  });
  const stop = stopOf(await k.run());
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.RELEASE_BY_OTHER_THREAD);
  t.is(stop.thread?.name, "intruder");
  t.regex(stop.reason, /owner: "owner"/);

  const { r } = await runThread((k2) => {
    k2.ExReleaseFastMutex(k2.ExInitializeFastMutex("free"));
  });
  t.is(stopOf(r).params[0], DV.RELEASE_NOT_OWNED);
});

test("ExTryToAcquireFastMutex succeeds on a free mutex and fails, without waiting, on a held one", async (t) => {
  const k = new Kernel({ trace: true });
  const m = k.ExInitializeFastMutex("fm");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "A", async () => {
    t.true(k.ExTryToAcquireFastMutex(m));
    t.is(k.KeGetCurrentIrql(), APC_LEVEL);
    await k.KeYieldThread();
    k.ExReleaseFastMutex(m);
    log.push("A released");
  });
  k.createThread(p, "B", async () => {
    t.false(k.ExTryToAcquireFastMutex(m));
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL, "a failed try does not raise");
    log.push("B failed");
    await k.KeYieldThread();
    t.true(k.ExTryToAcquireFastMutex(m));
    log.push("B got it");
    k.ExReleaseFastMutex(m);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["B failed", "A released", "B got it"]);
});

test("ExAcquireFastMutex above APC_LEVEL stops with FAST_MUTEX_ACQUIRE_BAD_IRQL", async (t) => {
  const { r } = await runThread(async (k) => {
    k.KeRaiseIrql(DISPATCH_LEVEL);
    await k.ExAcquireFastMutex(k.ExInitializeFastMutex("fm"));
  });
  const stop = stopOf(r);
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.FAST_MUTEX_ACQUIRE_BAD_IRQL);
  t.is(stop.params[1], 2n);
});

test("ExAcquireFastMutexUnsafe does not raise the IRQL", async (t) => {
  const { r } = await runThread(async (k) => {
    const m = k.ExInitializeFastMutex("fm");
    k.KeEnterCriticalRegion();
    await k.ExAcquireFastMutexUnsafe(m);
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
    k.ExReleaseFastMutexUnsafe(m);
    k.KeLeaveCriticalRegion();
  });
  t.is(r.outcome, "idle");
});

// ================================================================ spin locks

test("KeAcquireSpinLock raises to DISPATCH_LEVEL and KeReleaseSpinLock restores the old IRQL", async (t) => {
  const { r } = await runThread((k, self) => {
    const l = k.KeInitializeSpinLock("sl");
    const old = k.KeAcquireSpinLock(l);
    t.is(old, PASSIVE_LEVEL);
    t.is(k.KeGetCurrentIrql(), DISPATCH_LEVEL);
    t.is(l.owner, self);
    k.KeReleaseSpinLock(l, old);
    t.is(k.KeGetCurrentIrql(), PASSIVE_LEVEL);
    t.is(l.owner, null);
    // From APC_LEVEL back to APC_LEVEL.
    k.KeRaiseIrql(APC_LEVEL);
    const old2 = k.KeAcquireSpinLock(l);
    t.is(old2, APC_LEVEL);
    k.KeReleaseSpinLock(l, old2);
    t.is(k.KeGetCurrentIrql(), APC_LEVEL);
    k.KeLowerIrql(PASSIVE_LEVEL);
    // At DISPATCH_LEVEL: the AtDpcLevel variants do not change the IRQL.
    const o = k.KeRaiseIrql(DISPATCH_LEVEL);
    k.KeAcquireSpinLockAtDpcLevel(l);
    t.is(k.KeGetCurrentIrql(), DISPATCH_LEVEL);
    k.KeReleaseSpinLockFromDpcLevel(l);
    t.is(k.KeGetCurrentIrql(), DISPATCH_LEVEL);
    k.KeLowerIrql(o);
  });
  t.is(r.outcome, "idle");
});

test("holding a spin lock, scheduling points do not switch threads", async (t) => {
  const k = new Kernel({ seed: 3, strategy: "random", trace: true });
  const l = k.KeInitializeSpinLock("sl");
  const log: string[] = [];
  const p = k.createProcess("p");
  for (const n of ["A", "B"]) {
    k.createThread(p, n, async () => {
      for (let i = 0; i < 3; i++) {
        const old = k.KeAcquireSpinLock(l);
        log.push(`${n} in`);
        t.is(k.schedulePoint("inside spin lock"), undefined);
        log.push(`${n} out`);
        k.KeReleaseSpinLock(l, old);
        const pt = k.schedulePoint("outside");
        if (pt) await pt;
      }
    });
  }
  const r = await k.run();
  t.is(r.outcome, "idle");
  for (let i = 0; i < log.length; i += 2) t.is(log[i]?.split(" ")[0], log[i + 1]?.split(" ")[0]);
});

for (const [label, raise] of [
  ["HIGH_LEVEL", HIGH_LEVEL],
  ["a device IRQL (3)", 3],
] as const) {
  test(`KeAcquireSpinLock at ${label} stops with SPINLOCK_ACQUIRE_BAD_IRQL`, async (t) => {
    const { r } = await runThread(
      (k) => {
        k.KeRaiseIrql(raise);
        k.KeAcquireSpinLock(k.KeInitializeSpinLock("sl"));
      },
      {},
      "isr",
    );
    const stop = stopOf(r);
    t.is(stop.code, 0xc4);
    t.is(stop.params[0], DV.SPINLOCK_ACQUIRE_BAD_IRQL);
    t.is(stop.params[1], BigInt(raise));
    t.is(stop.thread?.name, "isr");
    t.is(stop.check, "irql");
  });
}

test("acquiring a spin lock the thread already holds stops (it would spin forever)", async (t) => {
  const { r } = await runThread(
    (k) => {
      const l = k.KeInitializeSpinLock("sl");
      k.KeAcquireSpinLock(l);
      k.KeAcquireSpinLock(l);
    },
    {},
    "spinner",
  );
  const stop = stopOf(r);
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.SELF_DEADLOCK);
  t.is(stop.thread?.name, "spinner");
  t.regex(stop.reason, /already holds/);
});

test("releasing a spin lock nobody holds stops with RELEASE_NOT_OWNED", async (t) => {
  const { r } = await runThread((k) => {
    const l = k.KeInitializeSpinLock("sl");
    const old = k.KeRaiseIrql(DISPATCH_LEVEL);
    k.KeReleaseSpinLock(l, old);
  });
  const stop = stopOf(r);
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.RELEASE_NOT_OWNED);
  t.regex(stop.reason, /nobody holds/);
});

test("releasing a spin lock another thread holds stops with RELEASE_BY_OTHER_THREAD", async (t) => {
  // A holder cannot be preempted at DISPATCH_LEVEL; to let another thread run while it "holds" the lock, the
  // holder illegally lowers its IRQL (with the IRQL check off, so only the lock check fires).
  const k = new Kernel({ trace: true, checks: { irql: "off" } });
  const l = k.KeInitializeSpinLock("sl");
  const p = k.createProcess("p");
  k.createThread(p, "holder", async () => {
    k.KeAcquireSpinLock(l);
    k.KeLowerIrql(PASSIVE_LEVEL);
    await k.KeYieldThread();
  });
  k.createThread(p, "other", () => {
    const old = k.KeRaiseIrql(DISPATCH_LEVEL);
    k.KeReleaseSpinLock(l, old);
  });
  const stop = stopOf(await k.run());
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.RELEASE_BY_OTHER_THREAD);
  t.is(stop.thread?.name, "other");
  t.regex(stop.reason, /"holder" holds/);
});

test("KeReleaseSpinLock below DISPATCH_LEVEL stops with SPINLOCK_RELEASE_BAD_IRQL", async (t) => {
  const { r } = await runThread((k) => {
    const l = k.KeInitializeSpinLock("sl");
    const old = k.KeAcquireSpinLock(l);
    k.KeLowerIrql(PASSIVE_LEVEL);
    k.KeReleaseSpinLock(l, old);
  });
  t.is(stopOf(r).params[0], DV.SPINLOCK_RELEASE_BAD_IRQL);
});

// ================================================================ ERESOURCE

test("an ERESOURCE is shared by many readers at once", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("res");
  let readers = 0;
  let maxReaders = 0;
  const p = k.createProcess("p");
  for (const n of ["R1", "R2", "R3"]) {
    k.createThread(p, n, async () => {
      t.true(await k.ExAcquireResourceSharedLite(res, true));
      readers++;
      maxReaders = Math.max(maxReaders, readers);
      t.is(k.ExIsResourceAcquiredSharedLite(res), 1);
      t.false(k.ExIsResourceAcquiredExclusiveLite(res));
      await k.KeYieldThread();
      readers--;
      k.ExReleaseResourceLite(res);
    });
  }
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.is(maxReaders, 3);
  t.is(res.activeCount, 0);
});

test("shared owners and counts read the same whether one owner holds it once, several times, or several owners do", async (t) => {
  // An ERESOURCE held shared once by one owner keeps that owner in place of a Map (the read path's case); the
  // accessors and the owner table must not show the difference.
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("res");
  const p = k.createProcess("p");
  const seen: string[] = [];
  const show = (): string =>
    `${res.sharedOwnerCount}:${[...res.sharedOwners].map(([o, n]) => `${o === a ? "A" : "B"}×${n}`).join(",")}`;
  let a: unknown = null;
  const go = k.KeInitializeEvent(0, false, "go");
  const b = k.createThread(p, "B", async () => {
    await k.KeWaitForSingleObject(go);
    t.true(await k.ExAcquireResourceSharedLite(res, true));
    seen.push(show());
    k.ExReleaseResourceLite(res);
    seen.push(show());
  });
  k.createThread(p, "A", async (self) => {
    a = self;
    t.is(res.sharedCount(self), 0);
    t.true(await k.ExAcquireResourceSharedLite(res, true));
    seen.push(show());
    t.is(res.sharedCount(self), 1);
    t.is(k.ExIsResourceAcquiredSharedLite(res), 1);
    t.true(await k.ExAcquireResourceSharedLite(res, true));
    seen.push(show());
    t.is(k.ExIsResourceAcquiredSharedLite(res), 2);
    k.ExReleaseResourceLite(res);
    seen.push(show());
    t.is(res.sharedCount(b), 0);
    k.KeSetEvent(go);
    await k.KeYieldThread();
    k.ExReleaseResourceLite(res);
    seen.push(show());
    t.is(res.activeCount, 0);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(seen, ["1:A×1", "1:A×2", "1:A×1", "2:A×1,B×1", "1:A×1", "0:"]);
});

test("an exclusive owner excludes readers and writers until it releases", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("res");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "W", async () => {
    t.true(await k.ExAcquireResourceExclusiveLite(res, true));
    log.push("W in");
    await k.KeYieldThread();
    t.is(k.ExGetSharedWaiterCount(res), 1);
    t.is(k.ExGetExclusiveWaiterCount(res), 1);
    log.push("W out");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "R", async () => {
    t.false(await k.ExAcquireResourceSharedLite(res, false), "Wait = FALSE fails at once");
    log.push("R waits");
    await k.ExAcquireResourceSharedLite(res, true);
    log.push("R in");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "W2", async () => {
    t.false(await k.ExAcquireResourceExclusiveLite(res, false));
    log.push("W2 waits");
    await k.ExAcquireResourceExclusiveLite(res, true);
    log.push("W2 in");
    k.ExReleaseResourceLite(res);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["W in", "R waits", "W2 waits", "W out", "R in", "W2 in"]);
});

test("exclusive acquisition is recursive, and an exclusive owner may acquire shared", async (t) => {
  const { r } = await runThread((k, self) => {
    const res = k.ExInitializeResourceLite("res");
    t.true(k.ExAcquireResourceExclusiveLite(res, true));
    t.true(k.ExAcquireResourceExclusiveLite(res, true));
    t.true(k.ExAcquireResourceSharedLite(res, true));
    t.true(k.ExAcquireSharedStarveExclusive(res, false));
    t.true(k.ExIsResourceAcquiredExclusiveLite(res));
    t.is(k.ExIsResourceAcquiredSharedLite(res), 4);
    t.is(res.exclusiveOwner, self);
    for (let i = 4; i > 0; i--) {
      t.is(k.ExIsResourceAcquiredSharedLite(res), i);
      k.ExReleaseResourceLite(res);
    }
    t.false(k.ExIsResourceAcquiredExclusiveLite(res));
    t.is(k.ExIsResourceAcquiredSharedLite(res), 0);
    t.is(self.held.length, 0);
  });
  t.is(r.outcome, "idle");
});

test("shared acquisitions are recursive and counted", async (t) => {
  const { r } = await runThread((k) => {
    const res = k.ExInitializeResourceLite("res");
    t.true(k.ExAcquireResourceSharedLite(res, true));
    t.true(k.ExAcquireResourceSharedLite(res, true));
    t.is(k.ExIsResourceAcquiredSharedLite(res), 2);
    t.false(k.ExIsResourceAcquiredExclusiveLite(res));
    k.ExReleaseResourceLite(res);
    t.is(k.ExIsResourceAcquiredSharedLite(res), 1);
    k.ExReleaseResourceLite(res);
    t.is(k.ExIsResourceAcquiredSharedLite(res), 0);
  });
  t.is(r.outcome, "idle");
});

test("upgrading a shared hold to exclusive is a self-deadlock stop 0xC4", async (t) => {
  const { r } = await runThread(
    async (k) => {
      const res = k.ExInitializeResourceLite("Fcb");
      await k.ExAcquireResourceSharedLite(res, true);
      t.false(await k.ExAcquireResourceExclusiveLite(res, false), "Wait = FALSE just fails");
      await k.ExAcquireResourceExclusiveLite(res, true);
      t.fail("not reached");
    },
    {},
    "upgrader",
  );
  const stop = stopOf(r);
  t.is(stop.kind, "bugcheck");
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.SELF_DEADLOCK);
  t.is(stop.thread?.name, "upgrader");
  t.regex(stop.reason, /upgraded/);
  t.regex(stop.reason, /self-deadlock/);
  t.deepEqual(stop.callChain, ["ExAcquireResourceExclusiveLite"]);
});

test("a waiting writer blocks later readers, but ExAcquireSharedStarveExclusive gets in", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("res");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "R1", async () => {
    await k.ExAcquireResourceSharedLite(res, true);
    log.push("R1 in");
    await k.KeYieldThread(); // W queues
    await k.KeYieldThread(); // R2 queues behind W, R3 starves W
    log.push("R1 out");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "W", async () => {
    log.push("W asks");
    await k.ExAcquireResourceExclusiveLite(res, true);
    log.push("W in");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "R2", async () => {
    t.false(await k.ExAcquireResourceSharedLite(res, false), "blocked by the waiting writer");
    log.push("R2 asks");
    await k.ExAcquireResourceSharedLite(res, true);
    log.push("R2 in");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "R3", async () => {
    t.true(await k.ExAcquireSharedStarveExclusive(res, false), "starves the writer");
    log.push("R3 in");
    t.is(k.ExGetExclusiveWaiterCount(res), 1);
    t.is(k.ExGetSharedWaiterCount(res), 1);
    await k.KeYieldThread();
    log.push("R3 out");
    k.ExReleaseResourceLite(res);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  // W gets in only after both readers left; R2, which asked after W, only after W.
  t.deepEqual(log, ["R1 in", "W asks", "R2 asks", "R3 in", "R3 out", "R1 out", "W in", "R2 in"]);
});

test("ExConvertExclusiveToSharedLite keeps the hold as shared and wakes the shared waiters", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("res");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "W", async () => {
    await k.ExAcquireResourceExclusiveLite(res, true);
    await k.KeYieldThread();
    t.is(k.ExGetSharedWaiterCount(res), 2);
    k.ExConvertExclusiveToSharedLite(res);
    log.push("converted");
    t.false(k.ExIsResourceAcquiredExclusiveLite(res));
    t.is(k.ExIsResourceAcquiredSharedLite(res), 1);
    t.is(k.ExGetSharedWaiterCount(res), 0);
    await k.KeYieldThread();
    await k.KeYieldThread();
    log.push("W releases");
    k.ExReleaseResourceLite(res);
  });
  for (const n of ["S1", "S2"]) {
    k.createThread(p, n, async () => {
      await k.ExAcquireResourceSharedLite(res, true);
      log.push(`${n} in, W still holds shared: ${res.sharedOwners.size === 3}`);
      k.ExReleaseResourceLite(res);
    });
  }
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, [
    "converted",
    "S1 in, W still holds shared: true",
    "S2 in, W still holds shared: false",
    "W releases",
  ]);
});

// The WDK (ExConvertExclusiveToSharedLite, Remarks): "During this conversion, the current thread and any other
// threads waiting for shared access to the resource are given shared access" — all of them, including shared
// waiters queued behind an exclusive waiter (an earlier version granted only those at the head of the queue).
test("ExConvertExclusiveToSharedLite grants shared access to shared waiters queued behind an exclusive waiter", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("res");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "W", async () => {
    await k.ExAcquireResourceExclusiveLite(res, true);
    await k.KeYieldThread(); // X queues (exclusive), then S (shared)
    t.is(k.ExGetExclusiveWaiterCount(res), 1);
    t.is(k.ExGetSharedWaiterCount(res), 1);
    k.ExConvertExclusiveToSharedLite(res);
    log.push(`converted, shared waiters left: ${k.ExGetSharedWaiterCount(res)}`);
    await k.KeYieldThread();
    log.push("W releases");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "X", async () => {
    await k.ExAcquireResourceExclusiveLite(res, true);
    log.push("X in");
    k.ExReleaseResourceLite(res);
  });
  k.createThread(p, "S", async () => {
    await k.ExAcquireResourceSharedLite(res, true);
    log.push("S in");
    await k.KeYieldThread();
    k.ExReleaseResourceLite(res);
  });
  const r = await k.run();
  t.is(r.outcome, "idle", r.stop?.format());
  t.deepEqual(log.slice(0, 2), ["converted, shared waiters left: 0", "S in"]);
  t.is(log.at(-1), "X in");
});

test("ExReleaseResourceLite by a thread that does not own the resource is bug check 0xE3", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("NetRootTable");
  const p = k.createProcess("p");
  k.createThread(p, "owner", async () => {
    await k.ExAcquireResourceSharedLite(res, true);
    await k.KeYieldThread();
  });
  k.createThread(p, "stranger", async () => {
    await k.callDdi("MRxDoSomething", PASSIVE_LEVEL, () => {
      k.ExReleaseResourceLite(res);
    });
  });
  const stop = stopOf(await k.run());
  t.is(stop.code, BUGCHECK.RESOURCE_NOT_OWNED);
  t.is(stop.code, 0xe3);
  t.is(stop.name, "RESOURCE_NOT_OWNED");
  t.is(stop.thread?.name, "stranger");
  t.deepEqual(stop.callChain, ["MRxDoSomething", "ExReleaseResourceLite"]);
  t.regex(stop.reason, /"stranger", which does not own it \(held shared ×1 by thread "owner"\)/);
  t.not(stop.params[0], 0n, "parameter 1 is the resource's address");
  t.not(stop.params[1], 0n, "parameter 2 is the thread's address");
});

test("ExSetResourceOwnerPointer lets another thread release with ExReleaseResourceForThreadLite", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("Fcb");
  const owner = k.makeResourceOwnerPointer("RxContext#1|3");
  const handedOver = k.KeInitializeEvent(EventType.NotificationEvent, false, "handed over");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "acquirer", async (self) => {
    await k.ExAcquireResourceExclusiveLite(res, true);
    k.ExSetResourceOwnerPointer(res, owner);
    t.is(self.held.length, 0, "the thread no longer owns it");
    t.false(k.ExIsResourceAcquiredExclusiveLite(res));
    k.KeSetEvent(handedOver);
    log.push("acquirer done");
  });
  k.createThread(p, "completer", async () => {
    await k.KeWaitForSingleObject(handedOver);
    k.ExReleaseResourceForThreadLite(res, owner);
    log.push("released for owner pointer");
  });
  k.createThread(p, "next", async () => {
    await k.KeWaitForSingleObject(handedOver);
    await k.ExAcquireResourceExclusiveLite(res, true);
    log.push("next got it");
    k.ExReleaseResourceLite(res);
  });
  const r = await k.run();
  t.is(r.outcome, "idle", r.stop?.format());
  t.deepEqual(log, ["acquirer done", "released for owner pointer", "next got it"]);
});

test("a shared hold handed to an owner pointer is released for it too", async (t) => {
  const { r } = await runThread((k) => {
    const res = k.ExInitializeResourceLite("Fcb");
    const owner = k.makeResourceOwnerPointer("ctx");
    t.true(k.ExAcquireResourceSharedLite(res, true));
    k.ExSetResourceOwnerPointer(res, owner);
    t.is(k.ExIsResourceAcquiredSharedLite(res), 0);
    t.is(res.activeCount, 1);
    k.ExReleaseResourceForThreadLite(res, owner);
    t.is(res.activeCount, 0);
  });
  t.is(r.outcome, "idle");
});

test("ExReleaseResourceForThreadLite may release another thread's hold when given that thread", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("Fcb");
  const p = k.createProcess("p");
  const log: string[] = [];
  const owner = k.createThread(p, "owner", async () => {
    await k.ExAcquireResourceSharedLite(res, true);
    await k.KeYieldThread();
    log.push(`owner still holds: ${k.ExIsResourceAcquiredSharedLite(res)}`);
  });
  k.createThread(p, "helper", () => {
    k.ExReleaseResourceForThreadLite(res, owner);
    log.push("released for owner");
  });
  const r = await k.run();
  t.is(r.outcome, "idle", r.stop?.format());
  t.deepEqual(log, ["released for owner", "owner still holds: 0"]);
  t.is(owner.held.length, 0, "so the owner may exit without tripping the held-lock check");
});

test("ExReleaseResourceForThreadLite for an owner that does not hold it is 0xE3", async (t) => {
  const { r } = await runThread((k) => {
    const res = k.ExInitializeResourceLite("Fcb");
    t.true(k.ExAcquireResourceExclusiveLite(res, true));
    k.ExReleaseResourceForThreadLite(res, k.makeResourceOwnerPointer("wrong ctx"));
  });
  const stop = stopOf(r);
  t.is(stop.code, 0xe3);
  t.regex(stop.reason, /owner pointer wrong ctx, which does not own it \(held exclusive by thread "main"\)/);
});

test("ExDeleteResourceLite on a held resource stops with RESOURCE_DELETED_WHILE_HELD", async (t) => {
  const { r } = await runThread(
    (k) => {
      const res = k.ExInitializeResourceLite("Fcb");
      t.true(k.ExAcquireResourceSharedLite(res, true));
      k.ExDeleteResourceLite(res);
    },
    {},
    "deleter",
  );
  const stop = stopOf(r);
  t.is(stop.code, 0xc4);
  t.is(stop.params[0], DV.RESOURCE_DELETED_WHILE_HELD);
  t.is(stop.thread?.name, "deleter");
  t.deepEqual(stop.callChain, ["ExDeleteResourceLite"]);
});

test("a resource used after ExDeleteResourceLite stops; deleting a free one is fine", async (t) => {
  const { r } = await runThread((k) => {
    const res = k.ExInitializeResourceLite("Fcb");
    t.true(k.ExAcquireResourceExclusiveLite(res, true));
    k.ExReleaseResourceLite(res);
    t.is(k.ExDeleteResourceLite(res), 0);
    t.true(k.ExAcquireResourceSharedLite(res, true));
  });
  const stop = stopOf(r);
  t.is(stop.params[0], DV.RESOURCE_DELETED_WHILE_HELD);
  t.regex(stop.reason, /after ExDeleteResourceLite/);
});
