/**
 * The benchmark suite (issue 7, docs/PERFORMANCE.md): the IRP read path with checks on and off against direct
 * reads on the server model, whole lifecycle scenarios, schedule exploration of a three-thread race, the cost of
 * create + close at 100,000 open files, heap bytes per open handle, and cold start.
 *
 *   npm run bench                      the table
 *   npm run bench -- --json            one JSON object: the nine numbers
 *   npm run bench -- --quick           a smoke run (small sizes, one run; the numbers mean little)
 *   npm run bench -- --runs 9          more runs per median (default 5)
 *   npm run bench -- --warmup 10       warm-up per case: at least half this, at most this, in seconds (default 5)
 *   npm run bench -- --only readIrps,lifecycle   only these in-process cases (for profiling)
 *   npm run bench -- --micro [--json] [--quick]  the kernel micro-benchmarks (scripts/bench.ts)
 *
 * Method: the in-process cases run interleaved, one run of each case after the other, `runs` times, after a
 * warm-up that runs each case until its rate stops rising (the JIT's tier-up; at most `--warmup` seconds) and sizes
 * it to about `--seconds` of work; the reported figure is the median. Scale and
 * cold start run in child processes (scale.ts with --expose-gc; cold-core.mjs on the package built from the current
 * sources by scripts/build.mjs, timed inside the child from its first line, so Node's own start is not counted; and
 * cold.ts on the sources under tsx, the child's wall time minus a bare `node -e ""`'s). Timing is never asserted anywhere.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { directReads, lifecycle, readIrps, schedules } from "./cases.js";
import { LIB_FROM } from "./lib.js";
import { median } from "./world.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    quick: { type: "boolean" },
    micro: { type: "boolean" },
    runs: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string" },
    only: { type: "string" },
    "no-children": { type: "boolean" },
  },
  strict: true,
});

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here("../..");

if (values.micro) {
  const args = [
    "--import=tsx",
    here("../bench.ts"),
    ...(values.json ? ["--json"] : []),
    ...(values.quick ? ["--quick"] : []),
    ...(values.runs ? ["--runs", values.runs] : []),
  ];
  const r = spawnSync(process.execPath, args, { stdio: "inherit", cwd: ROOT });
  process.exit(r.status ?? 1);
}

const quick = values.quick === true;
const runs = Math.max(1, Number(values.runs ?? (quick ? 1 : 5)));
const seconds = Number(values.seconds ?? (quick ? 0.05 : 0.5));
/** Warm-up time per case, in seconds: at least half of it, at most all of it (0: the two sizing runs only). */
const warmupCap = Number(values.warmup ?? (quick ? 0 : 5));
const only = values.only ? new Set(values.only.split(",")) : null;
const log = (s: string): void => {
  if (!values.json) process.stderr.write(s);
};

interface Case {
  /** The JSON key. */
  readonly key: string;
  readonly name: string;
  readonly unit: string;
  /** Run `n` operations; operations per second. */
  readonly run: (n: number) => Promise<number> | number;
  /** Smallest n worth timing. */
  readonly min: number;
}

let exploreSeed = 1;
const cases: Case[] = [
  {
    key: "readIrpsPerSec",
    name: "4 KiB reads, NtReadFile → RDBSS → memsmb (default checks)",
    unit: "reads/s",
    run: (n) => readIrps(n, false),
    min: 200,
  },
  {
    key: "readIrpsPerSecChecksOff",
    name: "the same, every check off",
    unit: "reads/s",
    run: (n) => readIrps(n, true),
    min: 200,
  },
  {
    key: "directReadsPerSec",
    name: "the same reads on the memsmb server model (no IRP path)",
    unit: "reads/s",
    run: (n) => directReads(n),
    min: 1000,
  },
  {
    key: "lifecycleScenariosPerSec",
    name: "lifecycle scenario (fixtures/bench/lifecycle.yaml), start to finish",
    unit: "scenarios/s",
    run: (n) => lifecycle(n),
    min: 5,
  },
  {
    key: "schedulesPerSecRandom",
    name: "explore fixtures/bench/race3.yaml, random",
    unit: "schedules/s",
    // A fresh part of the iteration space each run (explore's iteration i is a pure function of seed and i).
    run: (n) => schedules(n, "random", exploreSeed++),
    min: 10,
  },
  {
    key: "schedulesPerSecPct",
    name: "explore fixtures/bench/race3.yaml, PCT (depth 3)",
    unit: "schedules/s",
    run: (n) => schedules(n, "pct", exploreSeed++),
    min: 10,
  },
];

const TARGETS: Readonly<Record<string, { readonly text: string; readonly met: (v: Results) => boolean | null }>> = {
  readIrpsPerSec: { text: "≥ 1,000,000", met: (v) => has(v.readIrpsPerSec) && v.readIrpsPerSec >= 1_000_000 },
  readIrpsPerSecChecksOff: {
    text: "≤ 1.5 × readIrpsPerSec",
    met: (v) => ratio(v.readIrpsPerSecChecksOff, v.readIrpsPerSec) <= 1.5,
  },
  directReadsPerSec: {
    text: "≤ 3 × readIrpsPerSec",
    met: (v) => ratio(v.directReadsPerSec, v.readIrpsPerSec) <= 3,
  },
  lifecycleScenariosPerSec: {
    text: "≥ 10,000",
    met: (v) => has(v.lifecycleScenariosPerSec) && v.lifecycleScenariosPerSec >= 10_000,
  },
  schedulesPerSecRandom: {
    text: "≥ 5,000",
    met: (v) => has(v.schedulesPerSecRandom) && v.schedulesPerSecRandom >= 5_000,
  },
  schedulesPerSecPct: { text: "≥ 5,000", met: (v) => has(v.schedulesPerSecPct) && v.schedulesPerSecPct >= 5_000 },
  createCloseCostRatio100kTo1k: {
    text: "≤ 1.5",
    met: (v) => has(v.createCloseCostRatio100kTo1k) && v.createCloseCostRatio100kTo1k <= 1.5,
  },
  bytesPerOpenHandle: {
    text: "≤ 2,048",
    met: (v) => has(v.bytesPerOpenHandle) && v.bytesPerOpenHandle <= 2048,
  },
  coldStartMs: { text: "≤ 50", met: (v) => has(v.coldStartMs) && v.coldStartMs <= 50 },
};
type Results = Record<string, number>;
function has(x: number | undefined): x is number {
  return typeof x === "number" && Number.isFinite(x);
}
/** a / b, or NaN (which meets no target) when either is missing. */
function ratio(a: number | undefined, b: number | undefined): number {
  return has(a) && has(b) ? a / b : Number.NaN;
}

// ------------------------------------------------------------------ in-process cases, interleaved

const active = cases.filter((c) => only === null || only.has(c.key) || only.has(c.key.replace(/PerSec.*$/, "")));
const sizes = new Map<string, number>();
const samples = new Map<string, number[]>();
log(`rdbss-emulator benchmark suite — node ${process.version}, ${runs} run(s), ~${seconds}s per measurement\n`);
/** What each case's warm-up saw: its rate in the first sized run, the warm-up's length, and where it ended. */
const warmups = new Map<string, { readonly first: number; readonly seconds: number; readonly steady: boolean }>();
const sized = (c: Case, rate: number, s: number): number => Math.max(c.min, Math.round(rate * s));
for (const c of active) {
  // Warm-up and sizing: a first small run, then one sized from its rate; then runs of a quarter of a measurement
  // for at least half of `warmupCap`, and on until the rate stops rising (three in a row no more than 2 % above
  // the best so far) or `warmupCap` is spent. (A calm streak alone ended some warm-ups early on a noisy machine.)
  // V8 optimizes a whole scenario's thousand-odd functions over its first ≈ 2,000 runs (≈ 1.5–2.5 s; alone, the
  // lifecycle's first 500 runs take ≈ 2.4 ms each, its steady state ≈ 0.55 ms): a case measured before that
  // measures the JIT's warm-up, not the emulator.
  let rate = await c.run(c.min);
  rate = await c.run(sized(c, rate, seconds * 0.25));
  const first = rate;
  let best = rate;
  let calm = 0;
  let spent = 0;
  while (spent < warmupCap && (calm < 3 || spent < warmupCap / 2)) {
    const t0 = process.hrtime.bigint();
    rate = await c.run(sized(c, rate, seconds * 0.25));
    spent += Number(process.hrtime.bigint() - t0) / 1e9;
    if (rate > best * 1.02) {
      best = rate;
      calm = 0;
    } else calm++;
  }
  warmups.set(c.key, { first, seconds: spent, steady: calm >= 3 });
  sizes.set(c.key, sized(c, Math.max(best, rate), seconds));
  samples.set(c.key, []);
}
for (let r = 0; r < runs; r++) {
  for (const c of active) {
    const v = await c.run(sizes.get(c.key) as number);
    samples.get(c.key)?.push(v);
  }
  log(`  run ${r + 1}/${runs} done\n`);
}

const results: Results = {};
for (const c of active) results[c.key] = median(samples.get(c.key) as number[]);

// ------------------------------------------------------------------ child processes: scale and cold start

interface ScaleResult {
  readonly filesSmall: number;
  readonly filesBig: number;
  readonly bytesPerOpenHandle: number;
  readonly createCloseNsSmall: number;
  readonly createCloseNsBig: number;
  readonly createCloseCostRatio: number;
  readonly buildMs: number;
}
let scale: ScaleResult | null = null;
interface ColdResult {
  /**
   * From the built package (`rdbss-emulator/core` as scripts/build.mjs builds it, no tsx), measured inside the
   * child: from its first line running (Node's own start is over) to the first create completed.
   */
  readonly coldStartMs: number;
  /** The same from outside: the child's wall time minus a bare `node -e ""`'s (process exit included). */
  readonly wallDiffMs: number;
  readonly childWallMs: number;
  readonly bareNodeMs: number;
  readonly inProcess: Record<string, number>;
  /** The same cold start from the TypeScript sources under tsx (how tests and development run). */
  readonly sourceMs: number;
  readonly tsxRegisterMs: number;
  readonly sourceInProcess: Record<string, number>;
}
let cold: ColdResult | null = null;

function runChild(args: readonly string[]): string {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`child ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function wallMs(args: readonly string[]): { ms: number; out: string } {
  const s = process.hrtime.bigint();
  const out = runChild(args);
  return { ms: Number(process.hrtime.bigint() - s) / 1e6, out };
}

const wantScale = only === null || only.has("scale") || only.has("bytesPerOpenHandle") || only.has("createClose");
const wantCold = only === null || only.has("cold") || only.has("coldStartMs");
if (!values["no-children"] && wantScale) {
  log("  scale: building 2 worlds in a child process …\n");
  const out = runChild([
    "--expose-gc",
    "--max-old-space-size=8192",
    "--import=tsx",
    here("scale.ts"),
    ...(quick ? ["--connections", "20", "--per-connection", "5", "--runs", "1", "--ops", "50"] : []),
    ...(!quick ? ["--runs", String(Math.max(5, runs))] : []),
  ]);
  scale = JSON.parse(out.trim().split("\n").pop() as string) as ScaleResult;
  results.createCloseCostRatio100kTo1k = scale.createCloseCostRatio;
  results.bytesPerOpenHandle = scale.bytesPerOpenHandle;
}
if (!values["no-children"] && wantCold) {
  log("  cold start: fresh processes …\n");
  const n = quick ? 1 : Math.max(5, runs);
  const bare: number[] = [];
  const tsx: number[] = [];
  const child: number[] = [];
  const built: number[] = [];
  const inner: Record<string, number>[] = [];
  const sourceInner: Record<string, number>[] = [];
  // The package as it ships, built from the current sources into a temporary folder (never a stale dist/).
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  const dist = mkdtempSync(join(ROOT, "node_modules/.cache/rdbss-dist-"));
  try {
    const { build } = (await import(pathToFileURL(join(ROOT, "scripts/build.mjs")).href)) as {
      build(outdir: string): Promise<unknown>;
    };
    await build(dist);
    // Interleaved, so that machine noise hits all alike. The first of each is a warm-up (file cache, tsx's
    // transform cache).
    for (let i = 0; i <= n; i++) {
      const b = wallMs(["-e", ""]).ms;
      const t = wallMs(["--import=tsx", "-e", ""]).ms;
      const c = wallMs(["--import=tsx", here("cold.ts")]);
      const u = wallMs([here("cold-core.mjs"), dist]);
      if (i === 0) continue;
      bare.push(b);
      tsx.push(t);
      child.push(c.ms);
      built.push(u.ms);
      sourceInner.push(JSON.parse(c.out.trim().split("\n").pop() as string) as Record<string, number>);
      inner.push(JSON.parse(u.out.trim().split("\n").pop() as string) as Record<string, number>);
    }
  } finally {
    rmSync(dist, { recursive: true, force: true });
  }
  const medians = (xs: Record<string, number>[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const k of Object.keys(xs[0] ?? {})) out[k] = median(xs.map((x) => x[k] as number));
    return out;
  };
  cold = {
    coldStartMs: median(
      inner.map((x) => (x.totalSinceProcessStartMs as number) - (x.processStartToModuleMs as number)),
    ),
    wallDiffMs: median(built) - median(bare),
    childWallMs: median(built),
    bareNodeMs: median(bare),
    inProcess: medians(inner),
    sourceMs: median(child) - median(bare),
    tsxRegisterMs: median(tsx) - median(bare),
    sourceInProcess: medians(sourceInner),
  };
  results.coldStartMs = cold.coldStartMs;
}

// ------------------------------------------------------------------ output

const KEYS = [
  "readIrpsPerSec",
  "readIrpsPerSecChecksOff",
  "directReadsPerSec",
  "lifecycleScenariosPerSec",
  "schedulesPerSecRandom",
  "schedulesPerSecPct",
  "createCloseCostRatio100kTo1k",
  "bytesPerOpenHandle",
  "coldStartMs",
] as const;

const round = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Number(x.toPrecision(4)));

if (values.json) {
  const obj: Record<string, number> = {};
  for (const k of KEYS) if (has(results[k])) obj[k] = round(results[k] as number);
  process.stdout.write(`${JSON.stringify(obj)}\n`);
} else {
  const fmt = (x: number): string =>
    Math.abs(x) >= 1000 ? Math.round(x).toLocaleString("en-US") : x.toFixed(Math.abs(x) >= 10 ? 1 : 2);
  const out: string[] = [];
  out.push("");
  out.push(`${"key".padEnd(30)} ${"median".padStart(12)} ${"min … max".padStart(24)}  ${"target".padEnd(24)} met`);
  for (const k of KEYS) {
    const v = results[k];
    if (!has(v)) continue;
    const s = samples.get(k);
    const spread = s && s.length > 1 ? `${fmt(Math.min(...s))} … ${fmt(Math.max(...s))}` : "";
    const t = TARGETS[k];
    const met = t?.met(results);
    out.push(
      `${k.padEnd(30)} ${fmt(v).padStart(12)} ${spread.padStart(24)}  ${(t?.text ?? "").padEnd(24)} ${met === null || met === undefined ? "" : met ? "yes" : "NO"}`,
    );
  }
  out.push("");
  if (has(results.readIrpsPerSec)) {
    const r = results.readIrpsPerSec;
    out.push(`read path: ${fmt(1e9 / r)} ns per read with checks on`);
    if (has(results.readIrpsPerSecChecksOff))
      out.push(`  checks off / on = ${(results.readIrpsPerSecChecksOff / r).toFixed(2)}`);
    if (has(results.directReadsPerSec)) out.push(`  direct / IRP     = ${(results.directReadsPerSec / r).toFixed(2)}`);
  }
  if (scale) {
    out.push(
      `scale: create+close ${fmt(scale.createCloseNsSmall / 1000)} µs with ${scale.filesSmall.toLocaleString("en-US")} open, ` +
        `${fmt(scale.createCloseNsBig / 1000)} µs with ${scale.filesBig.toLocaleString("en-US")} open; ` +
        `${fmt(scale.bytesPerOpenHandle)} heap bytes per open handle (built in ${fmt(scale.buildMs / 1000)} s)`,
    );
  }
  if (cold) {
    const inProc = (p: Record<string, number>): string =>
      `importing ${fmt(p.importMs ?? Number.NaN)} ms, boot + memsmb + START ${fmt(p.bootAndStartMs ?? Number.NaN)} ms, ` +
      `net use + first create ${fmt(p.firstCreateMs ?? Number.NaN)} ms`;
    out.push(
      `cold start (built package, rdbss-emulator/core): ${fmt(cold.coldStartMs)} ms in the child after Node's own ` +
        `start (${fmt(cold.inProcess.processStartToModuleMs ?? Number.NaN)} ms): ${inProc(cold.inProcess)}`,
      `  from outside: child ${fmt(cold.childWallMs)} ms − bare \`node -e ""\` ${fmt(cold.bareNodeMs)} ms = ` +
        `${fmt(cold.wallDiffMs)} ms (process exit included)`,
      `  the same from the TypeScript sources under tsx: ${fmt(cold.sourceMs)} ms, of which tsx's loader ` +
        `registration ${fmt(cold.tsxRegisterMs)} ms; ${inProc(cold.sourceInProcess)}`,
    );
  }
  out.push(`sizes per run: ${[...sizes].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  if (warmupCap > 0)
    out.push(
      `warm-up (${fmt(warmupCap / 2)} s a case, then on until the rate stops rising, at most ${fmt(warmupCap)} s): ${[
        ...warmups,
      ]
        .map(
          ([k, w]) =>
            `${k} ${fmt(w.seconds)} s from ${fmt(w.first)}/s${w.steady ? "" : " (cap reached before a steady rate)"}`,
        )
        .join(", ")}`,
    );
  out.push(
    LIB_FROM === "dist"
      ? "measured: the built package (dist/, rebuilt when a source is newer); RDBSS_BENCH_SOURCE=1 measures the sources under tsx"
      : "measured: the TypeScript sources under tsx (RDBSS_BENCH_SOURCE=1)",
  );
  process.stdout.write(`${out.join("\n")}\n`);
}
