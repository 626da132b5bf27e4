/**
 * What a finished run still pins: old-space bytes per whole run that young-generation collections could not free.
 *
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import=tsx --conditions=source \
 *     scripts/bench/retention.ts [life | explore | SCENARIO.yaml] [--runs 20] [--rounds 5] [--warm 200]
 *
 * It measures the built package (rebuilt first when stale, which needs esbuild: `npm ci`), or the TypeScript sources
 * with RDBSS_BENCH_SOURCE=1 (as the test does).
 *
 * `life` is the benchmark lifecycle, `explore` one random schedule of the benchmark race, and a scenario file is that
 * scenario run start to finish (it must pass): how a mini-redirector's author checks that their own driver does not
 * pin its runs (docs/WRITING-A-MINIRDR.md, "Keeping finished runs collectable").
 *
 * Every run builds a fresh emulator and drops it. Nothing of it should outlive the run, so a young collection should
 * free all of it. When something the old generation holds points into the run (V8 pretenures a function literal
 * assigned straight to a property: its context then keeps the run's kernel alive until the next major collection),
 * each scavenge promotes the whole run instead, and the next major collection pays for it again: +29 % instructions
 * per lifecycle the one time it happened (docs/PERFORMANCE.md, fourteenth pass).
 *
 * Method (docs/PERFORMANCE.md, "Promotion"): warm up; then, in each round, two minor collections, a batch of `runs`
 * runs in a young generation big enough to hold the batch, two minor collections again, and the growth of old space
 * divided by `runs`. A round during which V8 ran a full collection of its own (seen through a PerformanceObserver on
 * `gc` entries) measures what that collection freed, not what the batch pinned: it is measured again, at most
 * `rounds` more times in all. Prints one JSON line: the median and every round kept. Bytes, not time: the test suite
 * asserts a bound on it (test/bench/retention.test.ts).
 */

import { constants, PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics } from "node:v8";
import { LIFECYCLE, loadFixture, RACE3 } from "./cases.js";
import { lib } from "./lib.js";
import { median } from "./world.js";

// The built package unless RDBSS_BENCH_SOURCE=1 (scripts/bench/lib.ts).
const { explore, runScenario } = lib;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { runs: { type: "string" }, rounds: { type: "string" }, warm: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const which = positionals[0] ?? "life";
  const scenarioFile = which === "life" ? LIFECYCLE : which === "explore" ? null : which;
  if (scenarioFile !== null && !/\.ya?ml$/.test(scenarioFile))
    throw new Error(`retention: "${which}" is neither life, explore nor a scenario file (.yaml)`);
  const count = (name: string, text: string | undefined, fallback: number): number => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`retention: --${name} must be a whole number ≥ 1, not "${text}"`);
    return n;
  };
  const runs = count("runs", values.runs, 20);
  const rounds = count("rounds", values.rounds, 5);
  const warm = count("warm", values.warm, 200);

  // `gc()` is a full collection; `gc({ type: "minor" })` a scavenge (Node 20's V8 knows no other type).
  const collect = (globalThis as { gc?: (o?: { type: "minor" }) => void }).gc;
  if (collect === undefined) throw new Error("retention: run with --expose-gc");

  async function batch(n: number): Promise<void> {
    if (scenarioFile !== null) {
      const loaded = loadFixture(scenarioFile);
      for (let i = 0; i < n; i++) {
        const report = await runScenario(loaded);
        if (!report.passed) throw new Error(`${scenarioFile} failed: ${report.failures.join("; ")}`);
      }
    } else {
      const r = await explore(loadFixture(RACE3), { strategy: "random", iterations: n, seed: 1 });
      if (r.found || r.iterations !== n) throw new Error(`${RACE3}: explore ended ${r.ended}`);
    }
  }

  const oldSpace = (): number =>
    getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_used_size ?? 0;
  const minor = (): void => {
    collect({ type: "minor" });
    collect({ type: "minor" });
  };

  let fullCollections = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullCollections++;
  });
  observer.observe({ entryTypes: ["gc"] });
  // GC entries are delivered from the event loop, not during a batch's microtasks.
  const settle = async (): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  await batch(warm);
  collect();
  const perRun: number[] = [];
  let redone = 0;
  while (perRun.length < rounds) {
    minor();
    await settle();
    const fullBefore = fullCollections;
    const before = oldSpace();
    await batch(runs);
    minor();
    const after = oldSpace();
    await settle();
    if (fullCollections !== fullBefore && redone < rounds) {
      redone++;
      continue;
    }
    perRun.push(Math.round((after - before) / runs));
  }
  observer.disconnect();
  console.log(
    JSON.stringify({ case: which, runs, medianBytesPerRun: median(perRun), bytesPerRun: perRun, roundsRedone: redone }),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
