/**
 * The lock-order graph (emulator/kernel/lockdep.ts): edges "class A held while acquiring class B" recorded as they
 * happen, an inversion reported the first time a cycle closes — before (and without) any deadlock — with both
 * acquisition chains; ERESOURCE, FAST_MUTEX, KMUTEX and spin locks alike.
 */
import { fc, testProp } from "@fast-check/ava";
import test from "ava";
import { DV, Kernel, type KThread, type RunResult } from "../../emulator/kernel/index.js";

/** Run bodies one after the other on threads of one process (FIFO: each runs to its end before the next). */
async function sequential(
  k: Kernel,
  bodies: readonly [string, (t: KThread) => Promise<void> | void][],
): Promise<RunResult> {
  const p = k.createProcess("app.exe");
  let r: RunResult | null = null;
  for (const [name, body] of bodies) {
    k.createThread(p, name, body);
    r = await k.run();
    if (r.stop) return r;
  }
  return r as RunResult;
}

test("two threads, two resources, opposite orders at different times: the inversion is reported at the second order, with both chains", async (t) => {
  const k = new Kernel();
  const a = k.ExInitializeResourceLite("conn table", "mrx connections");
  const b = k.ExInitializeResourceLite("file \\x", "mrx file");
  const r = await sequential(k, [
    [
      "opener",
      async (th) => {
        th.frames.push("MRxCreate [mrx]");
        await k.ExAcquireResourceExclusiveLite(a, true);
        await k.ExAcquireResourceExclusiveLite(b, true);
        k.ExReleaseResourceLite(b);
        k.ExReleaseResourceLite(a);
        th.frames.pop();
      },
    ],
    [
      "closer",
      async (th) => {
        th.frames.push("MRxCloseSrvOpen [mrx]");
        await k.KeDelayExecutionThread(-10_000);
        await k.ExAcquireResourceSharedLite(b, true);
        await k.ExAcquireResourceSharedLite(a, true);
      },
    ],
  ]);
  const s = r.stop;
  if (s === null) return t.fail("no stop");
  t.is(s.code, 0xc4);
  t.is(s.params[0], DV.LOCK_HIERARCHY_VIOLATION);
  t.is(s.check, "lockOrder");
  t.is(s.thread?.name, "closer");
  t.regex(
    s.reason,
    /^Lock-order inversion: thread \d+ "closer" \(app\.exe\) waits for ERESOURCE "conn table" \(class mrx connections\) while holding ERESOURCE "file \\x" \(class mrx file\)/,
  );
  t.regex(s.reason, /the cycle mrx file → mrx connections → mrx file/);
  t.regex(
    s.reason,
    /this acquisition \(mrx file → mrx connections\): thread \d+ "closer" .* at 0\.001000 s; call chain: MRxCloseSrvOpen \[mrx\] → ExAcquireResourceSharedLite/,
  );
  t.regex(
    s.reason,
    /earlier \(mrx connections → mrx file\): thread \d+ "opener" .*called ExAcquireResourceExclusiveLite on ERESOURCE "file \\x" at 0\.000000 s; call chain: MRxCreate \[mrx\] → ExAcquireResourceExclusiveLite/,
  );
});

test("a cycle through three classes is reported when its last edge appears, naming the whole path", async (t) => {
  const k = new Kernel();
  const [a, b, c] = ["A", "B", "C"].map((n) => k.ExInitializeResourceLite(n)) as [
    ReturnType<Kernel["ExInitializeResourceLite"]>,
    ReturnType<Kernel["ExInitializeResourceLite"]>,
    ReturnType<Kernel["ExInitializeResourceLite"]>,
  ];
  const pair = (x: typeof a, y: typeof a) => async () => {
    await k.ExAcquireResourceExclusiveLite(x, true);
    await k.ExAcquireResourceExclusiveLite(y, true);
    k.ExReleaseResourceLite(y);
    k.ExReleaseResourceLite(x);
  };
  const r = await sequential(k, [
    ["t1", pair(a, b)],
    ["t2", pair(b, c)],
    ["t3", pair(c, a)],
  ]);
  t.is(r.stop?.thread?.name, "t3");
  t.regex(r.stop?.reason ?? "", /the cycle C → A → B → C/);
  t.regex(r.stop?.reason ?? "", /earlier \(A → B\): thread \d+ "t1"/);
  t.regex(r.stop?.reason ?? "", /earlier \(B → C\): thread \d+ "t2"/);
  t.deepEqual(
    k.lockdep
      .edges()
      .map((e) => `${e.from}→${e.to}`)
      .sort(),
    ["A→B", "B→C", "C→A"],
  );
});

test("no edge from a try-acquisition, a recursive acquisition, or two locks of one class", async (t) => {
  const k = new Kernel();
  const table = k.ExInitializeResourceLite("table", "T");
  const f1 = k.ExInitializeResourceLite("f1", "F");
  const f2 = k.ExInitializeResourceLite("f2", "F");
  const r = await sequential(k, [
    [
      "dance",
      async () => {
        // RDBSS's lock-order dance: holding an F, only *try* T.
        await k.ExAcquireResourceExclusiveLite(f1, true);
        t.is(k.ExAcquireResourceExclusiveLite(table, false), true);
        await k.ExAcquireResourceExclusiveLite(f1, true); // recursive
        await k.ExAcquireResourceExclusiveLite(f2, true); // same class
        k.ExReleaseResourceLite(f2);
        k.ExReleaseResourceLite(f1);
        k.ExReleaseResourceLite(table);
        k.ExReleaseResourceLite(f1);
      },
    ],
    [
      "ordered",
      async () => {
        await k.ExAcquireResourceExclusiveLite(table, true);
        await k.ExAcquireResourceExclusiveLite(f2, true);
        k.ExReleaseResourceLite(f2);
        k.ExReleaseResourceLite(table);
      },
    ],
  ]);
  t.is(r.stop, null);
  t.deepEqual(
    k.lockdep.edges().map((e) => `${e.from}→${e.to}`),
    ["T→F"],
  );
});

test("fast mutexes, kernel mutexes and spin locks are in the graph too", async (t) => {
  const k = new Kernel();
  const fm = k.ExInitializeFastMutex("fast");
  const mx = k.KeInitializeMutex(0, "mutex");
  const sl = k.KeInitializeSpinLock("spin");
  const r = await sequential(k, [
    [
      "one",
      async () => {
        await k.ExAcquireFastMutex(fm);
        k.ExReleaseFastMutex(fm);
        await k.KeWaitForSingleObject(mx);
        await k.ExAcquireFastMutex(fm);
        const old = k.KeAcquireSpinLock(sl);
        k.KeReleaseSpinLock(sl, old);
        k.ExReleaseFastMutex(fm);
        k.KeReleaseMutex(mx);
      },
    ],
    [
      "two",
      async () => {
        await k.ExAcquireFastMutex(fm);
        await k.KeWaitForSingleObject(mx);
      },
    ],
  ]);
  t.deepEqual(
    k.lockdep
      .edges()
      .map((e) => `${e.from}→${e.to}`)
      .sort(),
    ["fast→mutex", "fast→spin", "mutex→fast", "mutex→spin"],
  );
  t.is(r.stop?.check, "lockOrder");
  t.regex(r.stop?.reason ?? "", /waits for KMUTEX "mutex" \(class mutex\) while holding FAST_MUTEX "fast"/);
});

test("record mode reports a cycle once and the run goes on; off records edges but reports nothing", async (t) => {
  const orders = async (k: Kernel) => {
    const a = k.ExInitializeResourceLite("A");
    const b = k.ExInitializeResourceLite("B");
    const both = (x: typeof a, y: typeof a) => async () => {
      for (let i = 0; i < 3; i++) {
        await k.ExAcquireResourceExclusiveLite(x, true);
        await k.ExAcquireResourceExclusiveLite(y, true);
        k.ExReleaseResourceLite(y);
        k.ExReleaseResourceLite(x);
      }
    };
    return sequential(k, [
      ["ab", both(a, b)],
      ["ba", both(b, a)],
    ]);
  };
  const rec = await orders(new Kernel({ checks: { lockOrder: "record" } }));
  t.is(rec.stop, null);
  t.is(rec.violations.length, 1);
  t.is(rec.violations[0]?.check, "lockOrder");
  const off = new Kernel({ checks: { lockOrder: "off" } });
  const r = await orders(off);
  t.is(r.stop, null);
  t.is(r.violations.length, 0);
  t.deepEqual(off.lockdep.edges(), [], "off: no edges either (the switch skips the graph)");
});

test("against declared ranks the rank check reports (once), and the graph keeps the edge", async (t) => {
  const k = new Kernel({ checks: { lockOrder: "record" } });
  k.setLockRank("netname table", 1);
  k.setLockRank("FCB", 3);
  const table = k.ExInitializeResourceLite("netname table of x", "netname table");
  const fcb = k.ExInitializeResourceLite("FCB \\x", "FCB");
  const r = await sequential(k, [
    [
      "ordered",
      async () => {
        await k.ExAcquireResourceExclusiveLite(table, true);
        await k.ExAcquireResourceExclusiveLite(fcb, true);
        k.ExReleaseResourceLite(fcb);
        k.ExReleaseResourceLite(table);
      },
    ],
    [
      "inverted",
      async () => {
        await k.ExAcquireResourceExclusiveLite(fcb, true);
        await k.ExAcquireResourceExclusiveLite(table, true);
        k.ExReleaseResourceLite(table);
        k.ExReleaseResourceLite(fcb);
      },
    ],
  ]);
  t.is(r.violations.length, 1, "one report for one inverted acquisition");
  t.regex(r.violations[0]?.reason ?? "", /The documented order is netname table → FCB/);
  t.deepEqual(
    k.lockdep
      .edges()
      .map((e) => `${e.from}→${e.to}`)
      .sort(),
    ["FCB→netname table", "netname table→FCB"],
  );
});

// ---------------------------------------------------------------- property: reported before it deadlocks

type LockOp = {
  readonly res: number;
  readonly shared: boolean;
  readonly yieldInside: boolean;
  readonly inner: LockOp[];
};

const lockOp: fc.Memo<LockOp> = fc.memo((n) =>
  fc.record({
    res: fc.integer({ min: 0, max: 2 }),
    shared: fc.boolean(),
    yieldInside: fc.boolean(),
    inner: n > 1 ? fc.array(lockOp(n - 1), { maxLength: 2 }) : fc.constant([]),
  }),
);

/** Run lock-only programs on 2–3 threads under a seeded random schedule. */
async function runLocks(progs: readonly LockOp[][], seed: number, graph: boolean): Promise<RunResult> {
  const k = new Kernel({ seed, strategy: "random", checks: { lockOrder: graph ? "stop" : "off" } });
  const res = [0, 1, 2].map((i) => k.ExInitializeResourceLite(`R${i}`));
  const run = async (op: LockOp, held: Set<number>): Promise<void> => {
    // Re-acquiring a held resource is recursion (or an upgrade, a separate check): keep the programs clean of it.
    if (held.has(op.res)) return;
    const r = res[op.res] as (typeof res)[number];
    const got = op.shared ? k.ExAcquireResourceSharedLite(r, true) : k.ExAcquireResourceExclusiveLite(r, true);
    if (got !== true) await got;
    held.add(op.res);
    if (op.yieldInside) await k.KeYieldThread();
    for (const i of op.inner) await run(i, held);
    held.delete(op.res);
    k.ExReleaseResourceLite(r);
  };
  const p = k.createProcess("prop.exe");
  progs.forEach((ops, i) => {
    k.createThread(p, `T${i}`, async () => {
      for (const op of ops) await run(op, new Set());
    });
  });
  return k.run();
}

testProp(
  "random lock-only programs: whenever a run deadlocks on its locks, the same run with the graph on stopped with lockOrder first",
  [fc.array(fc.array(lockOp(3), { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 3 }), fc.integer()],
  async (t, progs, seed) => {
    const off = await runLocks(progs, seed, false);
    const on = await runLocks(progs, seed, true);
    if (on.stop !== null) {
      t.is(on.stop.check, "lockOrder", on.stop.format());
      t.is(on.stop.params[0], DV.LOCK_HIERARCHY_VIOLATION);
    }
    if (off.stop?.kind === "deadlock")
      t.not(on.stop, null, "a lock deadlock is always preceded by an inversion report");
    t.not(on.stop?.kind, "deadlock");
  },
  { numRuns: 150 },
);
