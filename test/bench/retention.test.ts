/**
 * A finished run leaves nothing behind that a young collection cannot free. Bytes, not time: scripts/bench/retention.ts
 * runs whole lifecycles (and exploration schedules) in a young generation big enough to hold a batch, collects it
 * twice, and reports the old-space growth per run.
 *
 * The failure this guards against is silent everywhere else: a function literal assigned straight to a property of a
 * long-lived object (`k.workItemObserver = (…) => this.…`) is pretenured by V8, and through its context every run's
 * emulator is promoted. Every report stays correct; the lifecycle costs 29 % more instructions. Measured: ≈ 70 KB per
 * lifecycle and ≈ 85 KB per schedule with such a closure, under 5 KB without. The bound sits far from both. The same
 * goes for accessors defined per run (`Object.defineProperty(o, k, { get: () => … })`): V8 allocates the
 * AccessorPair in the old generation.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import test from "ava";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Well above what a run keeps when nothing pins it, well below one pinned emulator. */
const BOUND = 24 * 1024;

interface Retention {
  readonly case: string;
  readonly medianBytesPerRun: number;
  readonly bytesPerRun: readonly number[];
}

function retention(which: string): Retention {
  const r = spawnSync(
    process.execPath,
    [
      "--expose-gc",
      "--min-semi-space-size=64",
      "--max-semi-space-size=64",
      "--import=tsx",
      "--conditions=source",
      "scripts/bench/retention.ts",
      which,
      "--warm",
      "100",
    ],
    { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, RDBSS_BENCH_SOURCE: "1" } },
  );
  if (r.status !== 0) throw new Error(`retention.ts ${which} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as Retention;
}

const CASES = [
  ["life", "a lifecycle scenario"],
  ["explore", "an exploration schedule"],
  // A run whose checks trap a stale MRxContext[] slot: the trap's accessors (an AccessorPair lives in the old
  // generation) once closed over the run, ≈ 70 KB pinned per run.
  ["fixtures/checks/minirdrContract.mrxcontext-stale.yaml", "a run that trips the MRxContext[] trap"],
] as const;

for (const [which, what] of CASES) {
  test(`${what} leaves nothing a young collection cannot free`, (t) => {
    const r = retention(which);
    t.is(r.case, which);
    t.is(r.bytesPerRun.length, 5);
    t.true(
      r.medianBytesPerRun < BOUND,
      `${r.medianBytesPerRun} old-space bytes per run survive young collections (rounds: ${r.bytesPerRun.join(", ")}): ` +
        "something long-lived pins each finished run (a closure assigned straight to a property?)",
    );
  });
}
