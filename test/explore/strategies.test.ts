/**
 * The exploration strategies on small kernel programs and on one race scenario: PCT's change points and priority
 * discipline, bounded-preemption DFS (no duplicate runs, the bound respected, every outcome of the unbounded tree,
 * shards that partition the tree), per-iteration seeds, and explore()'s determinism across shards.
 */
import test from "ava";
import {
  BoundedDfs,
  countPreemptions,
  type DecisionLog,
  explore,
  iterationSeed,
  PctStrategy,
  RecordingStrategy,
} from "../../emulator/explore/index.js";
import { Kernel, ReplayStrategy, type SchedulingStrategy } from "../../emulator/kernel/index.js";
import { parseScenario } from "../../emulator/scenario/index.js";
import { sp } from "../kernel/_helpers.js";
import { loadRace } from "./_races.js";

const QUIET = `name: two threads, two connections
setup: { minirdr: nulmrx }
threads:
  a: { steps: [{ op: net-use, drive: X, remote: \\\\srv\\share }] }
  b: { steps: [{ op: net-use, drive: Y, remote: \\\\srv\\public }] }
`;

/** Two or three threads each doing `rounds` non-atomic increments around a yield point. */
async function program(
  strategy: SchedulingStrategy,
  threads = 2,
  rounds = 2,
): Promise<{ log: DecisionLog; counter: number; order: string[] }> {
  const rec = new RecordingStrategy(strategy);
  const k = new Kernel({ strategy: rec });
  let counter = 0;
  const order: string[] = [];
  const p = k.createProcess("p.exe");
  for (let i = 0; i < threads; i++) {
    const name = String.fromCharCode(65 + i);
    k.createThread(p, name, async () => {
      for (let r = 0; r < rounds; r++) {
        const v = counter;
        order.push(name);
        await sp(k, `${name}:${r}`);
        counter = v + 1;
      }
    });
  }
  await k.run();
  return { log: rec.log(), counter, order };
}

/** Run the whole DFS over `program`; the choice lists of every run. */
async function dfsAll(preemptions: number, shard?: { index: number; count: number }, threads = 2, rounds = 2) {
  const dfs = new BoundedDfs(preemptions, shard);
  const runs: { choices: readonly number[]; log: DecisionLog; counter: number }[] = [];
  let prefix: number[] | null = dfs.first();
  let leaf = 0;
  while (prefix !== null && leaf < 10_000) {
    const r = await program(new ReplayStrategy(prefix), threads, rounds);
    if (leaf > 0 || dfs.ownsDefault) runs.push({ choices: r.log.chosen, log: r.log, counter: r.counter });
    prefix = leaf === 0 ? dfs.startAfterDefault(r.log) : dfs.next(r.log);
    leaf++;
  }
  return runs;
}

test("iteration seeds depend only on (base seed, iteration)", (t) => {
  t.is(iterationSeed(1, 5), iterationSeed(1, 5));
  t.not(iterationSeed(1, 5), iterationSeed(1, 6));
  t.not(iterationSeed(1, 5), iterationSeed(2, 5));
});

test("PCT draws depth-1 distinct change points in [0, k)", (t) => {
  for (let seed = 0; seed < 50; seed++) {
    const s = new PctStrategy({ depth: 4, steps: 20, seed });
    t.is(s.changePoints.length, 3);
    t.is(new Set(s.changePoints).size, 3);
    for (const c of s.changePoints) t.true(c >= 0 && c < 20);
    t.deepEqual(
      [...s.changePoints],
      [...s.changePoints].sort((a, b) => a - b),
    );
  }
  t.is(new PctStrategy({ depth: 1, steps: 20, seed: 1 }).changePoints.length, 0);
  t.is(new PctStrategy({ depth: 10, steps: 3, seed: 1 }).changePoints.length, 3);
});

test("PCT with depth 1 always runs the highest-priority thread: no thread is preempted by a lower one", async (t) => {
  for (let seed = 0; seed < 20; seed++) {
    const { order } = await program(new PctStrategy({ depth: 1, steps: 10, seed }), 3, 3);
    // Every thread runs all its rounds in one block.
    const blocks = order.filter((x, i) => i === 0 || order[i - 1] !== x);
    t.is(blocks.length, 3, order.join(""));
  }
});

test("PCT is deterministic per seed and different seeds give different priority orders", async (t) => {
  const a = await program(new PctStrategy({ depth: 3, steps: 10, seed: 7 }), 3, 3);
  const b = await program(new PctStrategy({ depth: 3, steps: 10, seed: 7 }), 3, 3);
  t.deepEqual(a.log.chosen, b.log.chosen);
  const orders = new Set<string>();
  for (let seed = 0; seed < 40; seed++)
    orders.add((await program(new PctStrategy({ depth: 2, steps: 10, seed }), 3, 3)).order.join(""));
  t.true(orders.size > 3);
});

test("bounded DFS visits each schedule once and respects the preemption bound", async (t) => {
  for (const p of [0, 1, 2]) {
    const runs = await dfsAll(p);
    const keys = runs.map((r) => JSON.stringify(r.choices));
    t.is(new Set(keys).size, keys.length, `P=${p}: a schedule ran twice`);
    for (const r of runs) t.true(countPreemptions(r.log) <= p);
  }
  const sizes = await Promise.all([0, 1, 2, 3].map(async (p) => (await dfsAll(p)).length));
  for (let i = 1; i < sizes.length; i++) t.true((sizes[i] as number) >= (sizes[i - 1] as number));
  t.log(`leaves for P = 0..3: ${sizes.join(", ")}`);
});

test("unbounded DFS finds every outcome of the lost-update race", async (t) => {
  const runs = await dfsAll(100);
  const counters = new Set(runs.map((r) => r.counter));
  // Two threads, two non-atomic increments each: 2, 3 or 4.
  t.deepEqual([...counters].sort(), [2, 3, 4]);
  t.true(runs.some((r) => countPreemptions(r.log) > 0));
});

test("DFS shards partition the tree: together they run exactly the unsharded schedules, each once", async (t) => {
  for (const n of [2, 3]) {
    const all = (await dfsAll(2, undefined, 3, 2)).map((r) => JSON.stringify(r.choices)).sort();
    const parts: string[] = [];
    for (let i = 0; i < n; i++)
      for (const r of await dfsAll(2, { index: i, count: n }, 3, 2)) parts.push(JSON.stringify(r.choices));
    t.is(new Set(parts).size, parts.length, "two shards ran the same schedule");
    t.deepEqual(parts.sort(), all);
  }
});

test("explore is deterministic, and the shard that owns the failing iteration finds the same run", async (t) => {
  const loaded = loadRace("stale-finalize");
  const a = await explore(loaded, { strategy: "random", seed: 1, iterations: 200 });
  const b = await explore(loaded, { strategy: "random", seed: 1, iterations: 200 });
  t.true(a.found);
  t.is(a.iterations, b.iterations);
  t.deepEqual(a.replay?.choices, b.replay?.choices);
  const i = a.replay?.strategy.iteration ?? -1;
  const shard = await explore(loaded, {
    strategy: "random",
    seed: 1,
    iterations: 200,
    shard: { index: i % 3, count: 3 },
  });
  t.true(shard.found);
  t.is(shard.replay?.strategy.iteration, i);
  t.is(shard.replay?.strategy.shard, `${i % 3}/3`);
  t.deepEqual(shard.replay?.choices, a.replay?.choices);
  t.is(shard.iterations, Math.floor(i / 3) + 1);
});

test("explore with DFS: exhausts the tree within its bound, or finds the bug with one more preemption", async (t) => {
  const loaded = loadRace("callback-twice");
  const p0 = await explore(loaded, { strategy: "dfs", preemptions: 0, iterations: 1000 });
  t.false(p0.found);
  t.is(p0.ended, "exhausted");
  t.is(p0.dfsCursor, null);
  const p1 = await explore(loaded, { strategy: "dfs", preemptions: 1, iterations: 1000 });
  t.true(p1.found);
  t.is(p1.replay?.strategy.preemptions, 1);
  t.true(p1.log !== null && countPreemptions(p1.log) <= 1);
});

test("explore stops at its iteration budget and reports what it saw", async (t) => {
  const loaded = loadRace("callback-twice");
  const r = await explore(loaded, { strategy: "dfs", preemptions: 2, iterations: 3 });
  t.false(r.found);
  t.is(r.ended, "iterations");
  t.is(r.iterations, 3);
  t.true(r.distinctStates > 0);
  t.true(r.distinctSchedules > 0 && r.distinctSchedules <= 3);
  t.true(r.dfsCursor !== null && Array.isArray(r.dfsCursor.prefix) && r.dfsCursor.leaf === 3);
  let stopped = 0;
  const quiet = parseScenario(QUIET, "quiet.yaml");
  if (!quiet.ok) return t.fail();
  const s = await explore(quiet.loaded, { strategy: "random", iterations: 100, shouldStop: () => ++stopped > 2 });
  t.is(s.ended, "stopped");
  t.is(s.iterations, 2);
});

test("a DFS stopped by its budget resumes from its cursor and finds what one long search finds", async (t) => {
  const loaded = loadRace("callback-twice");
  const whole = await explore(loaded, { strategy: "dfs", preemptions: 1, iterations: 1000 });
  t.true(whole.found);
  const first = await explore(loaded, { strategy: "dfs", preemptions: 1, iterations: 5 });
  t.false(first.found);
  if (!first.dfsCursor) return t.fail("no cursor");
  const rest = await explore(loaded, { strategy: "dfs", preemptions: 1, iterations: 1000, dfsResume: first.dfsCursor });
  t.true(rest.found);
  t.is(rest.replay?.strategy.iteration, whole.replay?.strategy.iteration);
  t.is(first.iterations + rest.iterations, whole.iterations);
  t.deepEqual(rest.replay?.choices, whole.replay?.choices);
});
