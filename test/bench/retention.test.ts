/**
 * A finished run leaves nothing behind that a young collection cannot free. Bytes, not time: scripts/bench/retention.ts
 * runs whole lifecycles (and exploration schedules) in a young generation big enough to hold a batch, collects it
 * twice, and reports the old-space growth per run.
 *
 * The failure this guards against is silent everywhere else: a function literal assigned straight to a property of a
 * long-lived object (`k.workItemObserver = (…) => this.…`) is pretenured by V8, and through its context every run's
 * emulator is promoted. Every report stays correct; the lifecycle costs 29 % more instructions. Measured: ≈ 70 KB per
 * lifecycle and ≈ 85 KB per schedule with such a closure, under 10 KB without. The bound sits far from both. The same
 * goes for accessors defined per run (`Object.defineProperty(o, k, { get: () => … })`): V8 allocates the
 * AccessorPair in the old generation.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

// The same rule, before anything runs: scripts/lint/pretenured-closure.grit (a Biome plugin listed in biome.json, so
// `npm test`'s lint step fails on it) flags the literal in the emulator's and the mini-redirectors' code, with its
// place, and lets the local form through.
test("the lint plugin flags a function literal assigned straight to a property, and only there", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "pretenured-"));
  try {
    const plugin = join(ROOT, "scripts", "lint", "pretenured-closure.grit");
    writeFileSync(join(dir, "biome.json"), JSON.stringify({ plugins: [plugin] }));
    const literal =
      "export function f(o: { g: unknown }, a: unknown[]): void {\n  o.g = () => 1;\n  a[0] = function () {};\n}\n";
    const local = "export function f(o: { g: unknown }): void {\n  const g = (): number => 1;\n  o.g = g;\n}\n";
    for (const room of ["emulator", "miniredirs", "test"]) mkdirSync(join(dir, room));
    writeFileSync(join(dir, "emulator", "literal.ts"), literal);
    writeFileSync(join(dir, "miniredirs", "literal.ts"), literal);
    writeFileSync(join(dir, "emulator", "local.ts"), local);
    writeFileSync(join(dir, "test", "literal.ts"), literal);
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "biome"), ["lint", "--max-diagnostics=50", "."], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    const flagged = [...out.matchAll(/^(\S+\.ts):(\d+):(\d+) plugin/gm)].map((m) => `${m[1]}:${m[2]}:${m[3]}`).sort();
    t.deepEqual(flagged, [
      "emulator/literal.ts:2:9",
      "emulator/literal.ts:3:10",
      "miniredirs/literal.ts:2:9",
      "miniredirs/literal.ts:3:10",
    ]);
    t.regex(out, /pretenured by V8/);
    t.not(r.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
