import test from "ava";
import {
  EventType,
  FifoStrategy,
  Kernel,
  type PickContext,
  RandomStrategy,
  ReplayStrategy,
  type SchedulingStrategy,
  type StrategyName,
} from "../../emulator/kernel/index.js";
import { sp } from "./_helpers.js";

interface RacyRun {
  readonly lines: string[];
  readonly choices: readonly number[];
  readonly log: string[];
  readonly counter: number;
  readonly outcome: string;
}

/**
 * Two threads increment a shared counter non-atomically (read, scheduling point, write) and log each step, both
 * into a JS array and into the kernel trace.
 */
async function racy(strategy: StrategyName | SchedulingStrategy, seed = 1, rounds = 4): Promise<RacyRun> {
  const k = new Kernel({ seed, strategy, trace: true });
  let counter = 0;
  const log: string[] = [];
  const p = k.createProcess("race.exe");
  for (const name of ["A", "B"]) {
    k.createThread(p, name, async () => {
      for (let i = 0; i < rounds; i++) {
        const v = counter;
        log.push(`${name}${i} read ${v}`);
        k.emit("note", `${name}${i} read ${v}`);
        await sp(k, `race:${name}:${i}`);
        counter = v + 1;
        log.push(`${name}${i} wrote ${counter}`);
        k.emit("note", `${name}${i} wrote ${counter}`);
        await sp(k, `race2:${name}:${i}`);
      }
    });
  }
  const r = await k.run();
  return { lines: k.trace.lines(), choices: [...r.choices], log, counter, outcome: r.outcome };
}

test("same seed under random gives byte-identical traces and choices", async (t) => {
  for (const seed of [1, 2, 3, 42, "a string seed"]) {
    const a = await racy("random", seed as number);
    const b = await racy("random", seed as number);
    t.is(a.outcome, "idle");
    t.true(a.lines.length > 0);
    t.is(a.lines.join("\n"), b.lines.join("\n"), `seed ${seed}`);
    t.deepEqual(a.choices, b.choices);
    t.deepEqual(a.log, b.log);
  }
});

test("seeds 1..20 under random explore at least two interleavings, including a lost update", async (t) => {
  const interleavings = new Set<string>();
  const finals = new Set<number>();
  for (let seed = 1; seed <= 20; seed++) {
    const r = await racy("random", seed);
    t.is(r.outcome, "idle");
    t.true(r.choices.length > 0, "a preemptive strategy records choices");
    interleavings.add(r.log.join("|"));
    finals.add(r.counter);
  }
  t.true(interleavings.size >= 2, `only ${interleavings.size} interleaving(s)`);
  // The race is real: some schedule loses an increment.
  t.true(
    [...finals].some((c) => c < 8),
    `final counters: ${[...finals].join(", ")}`,
  );
});

test("FIFO runs one thread until it blocks or ends; scheduling points never switch", async (t) => {
  const r = await racy("fifo");
  t.deepEqual(r.log, [
    "A0 read 0",
    "A0 wrote 1",
    "A1 read 1",
    "A1 wrote 2",
    "A2 read 2",
    "A2 wrote 3",
    "A3 read 3",
    "A3 wrote 4",
    "B0 read 4",
    "B0 wrote 5",
    "B1 read 5",
    "B1 wrote 6",
    "B2 read 6",
    "B2 wrote 7",
    "B3 read 7",
    "B3 wrote 8",
  ]);
  t.is(r.counter, 8);
  t.false(
    r.lines.some((l) => / yield /.test(l)),
    "no yields under FIFO",
  );
  // The string name and an explicit FifoStrategy object behave the same.
  const s = await racy(new FifoStrategy());
  t.is(s.lines.join("\n"), r.lines.join("\n"));
});

test("FIFO switches when the running thread blocks, then resumes the thread that became ready first", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "go");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "A", async () => {
    log.push("A start");
    await k.KeWaitForSingleObject(ev);
    log.push("A woke");
  });
  k.createThread(p, "B", async () => {
    log.push("B start");
    await k.KeWaitForSingleObject(ev);
    log.push("B woke");
  });
  k.createThread(p, "C", () => {
    log.push("C sets");
    k.KeSetEvent(ev);
    log.push("C done");
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["A start", "B start", "C sets", "C done", "A woke", "B woke"]);
  // Three decisions had more than one candidate (start: A,B,C; A blocks: B,C; C exits: A,B); FIFO picks the first.
  t.deepEqual(r.choices, [0, 0, 0]);
});

test("KeYieldThread switches even under FIFO, schedulePoint does not", async (t) => {
  const k = new Kernel({ trace: true });
  const log: string[] = [];
  const p = k.createProcess("p");
  for (const n of ["A", "B"]) {
    k.createThread(p, n, async () => {
      log.push(`${n}1`);
      await sp(k, "no switch under fifo");
      log.push(`${n}2`);
      await k.KeYieldThread();
      log.push(`${n}3`);
    });
  }
  await k.run();
  t.deepEqual(log, ["A1", "A2", "B1", "B2", "A3", "B3"]);
});

test("replaying a run's choices reproduces the identical trace", async (t) => {
  for (const seed of [3, 11, 17]) {
    const original = await racy("random", seed);
    const rs = new ReplayStrategy(original.choices, undefined, true);
    const replay = await racy(rs, 999);
    t.is(rs.divergence, null);
    t.true(rs.exhausted);
    t.is(replay.lines.join("\n"), original.lines.join("\n"));
    t.deepEqual(replay.choices, original.choices);
    t.deepEqual(replay.log, original.log);
  }
});

test("replay of a corrupted choice list reports a divergence", async (t) => {
  const original = await racy("random", 5);
  t.true(original.choices.length >= 3);
  const corrupted = [...original.choices];
  corrupted[2] = 99;
  const rs = new ReplayStrategy(corrupted, undefined, true);
  const r = await racy(rs);
  t.is(r.outcome, "idle");
  t.not(rs.divergence, null);
  t.regex(rs.divergence ?? "", /decision 2 .*recorded choice 99 but only \d candidates/);
});

// Regression: ReplayStrategy.pick used to check only `c < ctx.count`, so a negative recorded choice was silently
// mapped to 0 by KernelCore.choose without reporting a divergence.
test("replay of a choice list with a negative index reports a divergence", async (t) => {
  const original = await racy("random", 5);
  const corrupted = [...original.choices];
  corrupted[1] = -1;
  const rs = new ReplayStrategy(corrupted, undefined, true);
  await racy(rs);
  t.not(rs.divergence, null);
});

test("after a replay list runs out the fallback strategy decides", async (t) => {
  const original = await racy("random", 8);
  const prefix = original.choices.slice(0, 3);
  const rs = new ReplayStrategy(prefix, new FifoStrategy(), true);
  const r = await racy(rs);
  t.true(rs.exhausted);
  t.is(rs.divergence, null);
  t.deepEqual(r.choices.slice(0, 3), prefix);
  t.true(
    r.choices.slice(3).every((c) => c === 0),
    "FIFO fallback keeps the running thread",
  );
});

test("a custom strategy sees canonical candidates: the running thread first at a yield point", async (t) => {
  const seen: string[] = [];
  const strategy: SchedulingStrategy = {
    name: "spy",
    preemptive: true,
    pick(ctx: PickContext): number {
      const names: string[] = [];
      for (let i = 0; i < ctx.count; i++) names.push(ctx.candidate(i).name);
      seen.push(`${ctx.decision}:${ctx.point}:${ctx.includesCurrent}:${names.join(",")}`);
      return ctx.count - 1;
    },
  };
  const k = new Kernel({ strategy });
  const p = k.createProcess("p");
  for (const n of ["A", "B", "C"]) {
    k.createThread(p, n, async () => {
      await sp(k, `pt ${n}`);
    });
  }
  await k.run();
  t.true(seen.length >= 2);
  // First decision: A runs first (dispatch among A,B,C picks the last one: C)
  t.is(seen[0], "0:dispatch:false:A,B,C");
  t.is(seen[1], "1:pt C:true:C,A,B");
});

test("only one emulated thread runs at a time, even across plain awaits inside a section", async (t) => {
  for (let seed = 1; seed <= 15; seed++) {
    const k = new Kernel({ seed, strategy: "random" });
    let running: string | null = null;
    const overlaps: string[] = [];
    const sections: string[] = [];
    const p = k.createProcess("p");
    for (const n of ["A", "B", "C"]) {
      k.createThread(p, n, async (self) => {
        for (let i = 0; i < 6; i++) {
          if (running !== null) overlaps.push(`${n} entered while ${running} inside`);
          running = n;
          sections.push(`${n}${i}`);
          // Awaits that are not scheduling points must not let another emulated thread in.
          await Promise.resolve();
          await new Promise<void>((r) => queueMicrotask(r));
          if (k.PsGetCurrentThread() !== self) overlaps.push(`${n}: current thread is not ${n}`);
          if (running !== n) overlaps.push(`${n} left while ${running} inside`);
          running = null;
          await sp(k, `cs ${n}`);
          if (i % 3 === 2) await k.KeYieldThread();
        }
      });
    }
    const r = await k.run();
    t.is(r.outcome, "idle");
    t.deepEqual(overlaps, [], `seed ${seed}`);
    t.is(sections.length, 18);
  }
});

test("run() can be called again after an idle run, with new threads", async (t) => {
  const k = new Kernel({ trace: true });
  const p = k.createProcess("p");
  const log: string[] = [];
  k.createThread(p, "first", () => {
    log.push("first");
  });
  const r1 = await k.run();
  t.is(r1.outcome, "idle");
  k.createThread(p, "second", () => {
    log.push("second");
  });
  const r2 = await k.run();
  t.is(r2.outcome, "idle");
  t.deepEqual(log, ["first", "second"]);
});

test("idle workers and pending timers carry over from one run() to the next", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "ev");
  const log: string[] = [];
  const p = k.createProcess("p");
  k.createThread(p, "first", () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(() => void log.push(`w1 on ${k.PsGetCurrentThread().name}`), null, "w1"),
      0,
    );
    const dpc = k.KeInitializeDpc(
      () => {
        log.push(`dpc at ${k.KeQuerySystemTime()}`);
        k.KeSetEvent(ev);
      },
      null,
      "d",
    );
    k.KeSetTimer(k.KeInitializeTimer(), -500, dpc);
  });
  const r1 = await k.run();
  t.is(r1.outcome, "idle", "a pending timer alone does not keep a run going");
  t.is(r1.time, 0);
  k.createThread(p, "second", async () => {
    k.ExQueueWorkItem(
      k.ExInitializeWorkItem(() => void log.push(`w2 on ${k.PsGetCurrentThread().name}`), null, "w2"),
      0,
    );
    await k.KeWaitForSingleObject(ev);
    log.push(`second woke at ${k.KeQuerySystemTime()}`);
  });
  const r2 = await k.run();
  t.is(r2.outcome, "idle");
  t.is(r2.time, 500);
  t.deepEqual(log, ["w1 on Critical worker 1", "w2 on Critical worker 1", "dpc at 500", "second woke at 500"]);
  t.is(k.workerCounts().critical, 1);
});

test("a thread can wait for another thread to terminate", async (t) => {
  const k = new Kernel({ trace: true });
  const p = k.createProcess("p");
  const log: string[] = [];
  const worker = k.createThread(p, "worker", async () => {
    log.push("worker start");
    await k.KeDelayExecutionThread(-100);
    log.push("worker end");
  });
  k.createThread(p, "joiner", async () => {
    const s = await k.KeWaitForSingleObject(worker);
    log.push(`joined ${s} terminated=${worker.terminated}`);
  });
  const r = await k.run();
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["worker start", "worker end", "joined 0 terminated=true"]);
});

test("RandomStrategy is a pure function of its seed", (t) => {
  const pick = (seed: number): number[] => {
    const s = new RandomStrategy(seed);
    const ctx = { count: 5, includesCurrent: false, point: "x", decision: 0, candidate: () => undefined as never };
    return Array.from({ length: 32 }, () => s.pick(ctx));
  };
  t.deepEqual(pick(4), pick(4));
  t.notDeepEqual(pick(4), pick(5));
  t.true(pick(4).every((i) => i >= 0 && i < 5));
});

test("the trace records thread creation, switches, waits, wakes and exits in order", async (t) => {
  const k = new Kernel({ trace: true });
  const ev = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "ev");
  const p = k.createProcess("p");
  k.createThread(p, "waiter", async () => {
    await k.KeWaitForSingleObject(ev);
  });
  k.createThread(p, "setter", () => {
    k.KeSetEvent(ev);
  });
  await k.run();
  const kinds = k.trace.events.map((e) => `${e.kind} ${e.what}`);
  t.deepEqual(kinds, [
    "thread.create waiter",
    "thread.create setter",
    "switch waiter",
    'wait KEVENT "ev"',
    "switch setter",
    "wake waiter",
    "thread.exit setter",
    "switch waiter",
    "thread.exit waiter",
  ]);
  // Trace lines carry the sequence number, virtual time and thread id.
  t.regex(k.trace.lines()[0] ?? "", /^0 t=0 T-1 thread\.create waiter \{"id":1,"process":"p","pid":8\}$/);
});
