// Counts over whole scenario runs, to see whether any part of a run is a lever (docs/PERFORMANCE.md, nineteenth pass).
//
//   node scripts/bench/census.mjs promises [FILE.yaml]   promises made and resolved per run, by the code that made
//                                                        them; "at once" = resolved before any microtask ran, so an
//                                                        await on it waited for nothing
//   node scripts/bench/census.mjs checks [FILE.yaml]     CPU time per run with each check switched off alone, and
//                                                        with all of them off (interleaved rounds, medians)
//   node scripts/bench/census.mjs counts [FILE.yaml]     MRx calls and lock-order edges per run
//
// FILE.yaml defaults to fixtures/bench/lifecycle.yaml. Runs the built package (dist/), rebuilt first when stale.
import { createHook } from "node:async_hooks";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: { warm: { type: "string" }, runs: { type: "string" }, top: { type: "string" } },
  allowPositionals: true,
  strict: true,
});
const [mode, file] = positionals;
const MODES = ["promises", "checks", "counts"];
if (!MODES.includes(mode)) throw new Error(`census: the first argument is one of ${MODES.join(", ")}, not ${mode}`);
const whole = (name, v, d) => {
  const n = Number(v ?? d);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: a whole number of at least 1, not ${v}`);
  return n;
};
const WARM = whole("warm", values.warm, mode === "checks" ? 6000 : 300);
const RUNS = whole("runs", values.runs, mode === "checks" ? 300 : 10);
const TOP = whole("top", values.top, 30);

const { builtIsFresh, build } = await import("../build.mjs");
if (!builtIsFresh()) await build();
const lib = await import("../../dist/index.mjs");
const path = file
  ? resolve(process.cwd(), file)
  : fileURLToPath(new URL("../../fixtures/bench/lifecycle.yaml", import.meta.url));
const r = lib.loadScenarioFile(path);
if (!r.ok) throw new Error(`${path} does not load:\n${r.problems.map(lib.formatProblem).join("\n")}`);
const run = async (options) => {
  const report = await lib.runScenario(r.loaded, options);
  if (!report.passed) throw new Error(`${path}: the run failed: ${report.failures.join("; ")}`);
  return report;
};
for (let i = 0; i < WARM; i++) await run();

if (mode === "counts") {
  let mrx = 0;
  let edges = [];
  await run({
    onFinish(em) {
      mrx = em.rx.mrxLog.length;
      edges = em.k.lockdep.edges();
    },
  });
  console.log(`${path}: ${mrx} MRx calls; ${edges.length} lock-order edges`);
  for (const e of edges) console.log(`  ${e.from} → ${e.to}`);
}

if (mode === "promises") {
  // A microtask turn is counted at each `before` hook: a promise resolved in the turn it was made in never waited.
  let turn = 0;
  const born = new Map();
  const bySite = new Map();
  let made = 0;
  Error.stackTraceLimit = 12;
  const site = () =>
    new Error().stack
      .split("\n")
      .slice(1)
      .filter((l) => !l.includes("node:internal") && !l.includes("census.mjs"))
      .slice(0, 2)
      .map((l) =>
        l
          .trim()
          .replace(/^at /, "")
          .replace(/\(file:\/\/\S*\//, "("),
      )
      .join(" < ");
  const hook = createHook({
    init(id, type) {
      if (type !== "PROMISE") return;
      made++;
      born.set(id, [turn, site()]);
    },
    before() {
      turn++;
    },
    promiseResolve(id) {
      const b = born.get(id);
      if (b === undefined) return;
      born.delete(id);
      const s = bySite.get(b[1]) ?? [0, 0];
      s[b[0] === turn ? 0 : 1]++;
      bySite.set(b[1], s);
    },
  });
  hook.enable();
  for (let i = 0; i < RUNS; i++) await run();
  hook.disable();
  let atOnce = 0;
  let resolved = 0;
  for (const [a, b] of bySite.values()) {
    atOnce += a;
    resolved += a + b;
  }
  const per = (n) => (n / RUNS).toFixed(1);
  console.log(
    `${path}: per run, ${per(made)} promises made, ${per(resolved)} resolved, ${per(atOnce)} of them at once`,
  );
  console.log(`  at once   later   made by`);
  for (const [k, [a, b]] of [...bySite].sort((x, y) => y[1][0] + y[1][1] - x[1][0] - x[1][1]).slice(0, TOP))
    console.log(`  ${per(a).padStart(7)} ${per(b).padStart(7)}   ${k.slice(0, 160)}`);
}

if (mode === "checks") {
  // Every check switch of every room (the catalogue's CHECK_SWITCHES: kernel, I/O, RDBSS and the verifier's own).
  const names = Object.keys(lib.CHECK_SWITCHES);
  const configs = [
    ["default", {}],
    ["all off", Object.fromEntries(names.map((n) => [n, "off"]))],
    ...names.map((n) => [`${n} off`, { [n]: "off" }]),
  ];
  const cpu = async (checks) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < RUNS; i++) await run({ checks });
    const u = process.cpuUsage(t0);
    return (u.user + u.system) / RUNS;
  };
  const times = new Map(configs.map(([k]) => [k, []]));
  // Interleaved: every configuration once per round, so the machine's drift touches them alike, and each round starts
  // at a different one (the first configuration of a round ran measurably slower when it was always the default).
  const step = Math.ceil(configs.length / 5);
  for (let round = 0; round < 5; round++)
    for (let i = 0; i < configs.length; i++) {
      const [k, c] = configs[(i + round * step) % configs.length];
      times.get(k).push(await cpu(c));
    }
  const median = (a) => a.slice().sort((x, y) => x - y)[2];
  const base = median(times.get("default"));
  console.log(`${path}: CPU time per run (median of 5 rounds of ${RUNS} runs), against the default checks`);
  for (const [k, v] of times) {
    const m = median(v);
    console.log(
      `  ${k.padEnd(26)} ${m.toFixed(1).padStart(7)} µs  ${((100 * (m - base)) / base).toFixed(1).padStart(6)} %`,
    );
  }
}
