/**
 * `rdbss explore` and `rdbss replay` (dispatched from cli.ts). Exit codes: explore 1 when a failing schedule was
 * found (replay written), 0 when the budget ended without one, 2 on bad input; replay 1 when the run fails (the
 * recorded failure, or another one), 0 when it passes, 2 on bad input (an invalid replay file, a missing or
 * changed scenario).
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, extname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import {
  type DfsCursor,
  type ExploreOptions,
  type ExploreResult,
  type ExploreStrategyName,
  explore,
  NotDeterministicError,
  type ReplayFile,
  readReplayFile,
  replayFaults,
  replayRun,
  type ShrinkResult,
  scenarioContentHash,
  sha256,
  shrinkFailure,
  writeReplayFile,
} from "../emulator/explore/index.js";
import { type FaultSpec, parseFaultSpecs } from "../emulator/faults/index.js";
import type { CheckMode } from "../emulator/kernel/index.js";
import { PACKAGE_ROOT } from "../emulator/package-root.js";
import {
  checkScenarioModule,
  formatProblem,
  formatProblems,
  formatReport,
  type LoadedScenario,
  loadScenarioFile,
  type Problem,
  reportJson,
} from "../emulator/scenario/index.js";
import type { TraceEvent } from "../emulator/trace/index.js";
import { writeChromeTrace } from "../emulator/trace/perfetto.js";
import { RUNNING_BUILT, rerunFromSourcesIfNeeded } from "./sources.js";

/** Print bad input's problems and "N problems; nothing was run."; exit code 2. */
function badInput(io: ExploreIo, problems: readonly Problem[]): 2 {
  for (const line of formatProblems(problems)) io.err(line);
  return 2;
}

export interface ExploreIo {
  readonly out: (l: string) => void;
  readonly err: (l: string) => void;
}

/** The options `explore` and `replay` add to the command line (cli.ts spreads them into its parseArgs table). */
export const EXPLORE_CLI_OPTIONS = {
  iterations: { type: "string" },
  "time-budget": { type: "string" },
  depth: { type: "string" },
  preemptions: { type: "string" },
  shard: { type: "string" },
  workers: { type: "string" },
  out: { type: "string" },
  "no-shrink": { type: "boolean" },
  "vary-seed": { type: "boolean" },
  resume: { type: "string" },
  shrunk: { type: "boolean" },
} as const;

export const EXPLORE_HELP = `  rdbss explore FILE [--strategy random|pct|dfs] [--iterations N] [--time-budget S] [--depth D]
                     [--preemptions P] [--seed S] [--shard I/N] [--workers K] [--out DIR] [--fault SPEC]...
                     [--vary-seed] [--no-shrink] [--json]
      Run one scenario under many schedules until one fails (an unexpected stop, a check violation, a leak, a
      failed expectation, a deadlock). Writes DIR/NAME.replay and the shrunk reproducer DIR/NAME.min.yaml (fails
      under a plain \`rdbss run\`). Exit 1 when a failing schedule was found, 0 when the budget ended, 2 on bad input.
        --strategy      pct (default: random priorities with D-1 change points), random, dfs (bounded preemptions)
        --iterations N  schedules to try (default 10000; split among shards)      --time-budget S  seconds (default 300)
        --depth D       PCT bug depth (default 3)      --preemptions P  DFS preemption bound (default 2)
        --seed S        base seed: iteration i runs with a seed derived from (S, i) (default 1)
        --shard I/N     run only shard I (0 ≤ I < N) of the search: iterations i with i mod N = I (DFS: subtrees)
        --workers K     K local worker processes, one shard each; all stop when one finds a failing schedule
        --out DIR       where the replay file and the minimal scenario go (default rdbss-explore)
        --resume L:C,…  continue a DFS search from where its budget ended (it prints this)
        --fault SPEC    inject this fault in every run too (docs/FAULTS.md); recorded in the replay, shrunk away
                        when the failure does not need it
        --vary-seed     random / pct: each iteration gets its own kernel seed, so seeded faults, jitter and drops
                        vary with the schedule
  rdbss replay FILE.replay [--trace OUT.json] [--json] [--shrunk]
      Re-run a recorded failing schedule exactly and compare with the recording (--shrunk: the shrunk schedule).
      Refuses (exit 2) when the scenario file changed since; exit 1 when the run fails, 0 when it passes.
`;

class BadInput extends Error {}

function usage(io: ExploreIo, message: string): number {
  io.err(`rdbss: ${message}\n(see rdbss help)`);
  return 2;
}

function int(values: Record<string, unknown>, key: string, dflt: number, min: number): number {
  const v = values[key];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new BadInput(`--${key} must be an integer ≥ ${min}, got "${String(v)}"`);
  return n;
}

function parseChecks(list: readonly string[]): Record<string, CheckMode> {
  const out: Record<string, CheckMode> = {};
  for (const c of list) {
    const m = /^([\w.-]+)=(stop|record|off)$/.exec(c);
    if (!m) throw new BadInput(`--check takes NAME=stop|record|off, got "${c}"`);
    out[m[1] as string] = m[2] as CheckMode;
  }
  return out;
}

interface ExploreSettings {
  readonly file: string;
  readonly strategy: ExploreStrategyName;
  readonly iterations: number;
  readonly timeBudgetS: number;
  readonly depth: number;
  readonly preemptions: number;
  readonly seed: number;
  readonly shard: { index: number; count: number } | null;
  readonly workers: number;
  readonly out: string;
  readonly shrink: boolean;
  readonly json: boolean;
  readonly profile: "docs" | "reactos" | undefined;
  readonly checks: Record<string, CheckMode>;
  readonly resume: DfsCursor | null;
  readonly faults: readonly FaultSpec[];
  readonly faultTexts: readonly string[];
  readonly varySeed: boolean;
}

function settings(files: readonly string[], values: Record<string, unknown>): ExploreSettings {
  if (files.length !== 1) throw new BadInput("explore: give one scenario file");
  const strategy = String(values.strategy ?? "pct");
  if (strategy !== "random" && strategy !== "pct" && strategy !== "dfs") {
    throw new BadInput(`--strategy must be random, pct or dfs, got "${strategy}"`);
  }
  let shard: { index: number; count: number } | null = null;
  if (values.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(String(values.shard));
    const index = m ? Number(m[1]) : Number.NaN;
    const count = m ? Number(m[2]) : Number.NaN;
    if (!m || count < 1 || index >= count)
      throw new BadInput(`--shard takes I/N with 0 ≤ I < N, got "${String(values.shard)}"`);
    shard = { index, count };
  }
  const workers = int(values, "workers", 1, 1);
  if (workers > 1 && shard !== null)
    throw new BadInput("--workers and --shard do not go together: each worker is one shard");
  const tb = values["time-budget"];
  const timeBudgetS = tb === undefined ? 300 : Number(tb);
  if (!(timeBudgetS > 0)) throw new BadInput(`--time-budget must be a positive number of seconds, got "${String(tb)}"`);
  let resume: DfsCursor | null = null;
  if (values.resume !== undefined) {
    const m = /^(\d+):([\d,]*)$/.exec(String(values.resume));
    if (!m) throw new BadInput(`--resume takes LEAF:C,C,… (as a DFS search prints it), got "${String(values.resume)}"`);
    if (strategy !== "dfs" || workers > 1)
      throw new BadInput("--resume continues one DFS search: use it with --strategy dfs and no --workers");
    resume = { leaf: Number(m[1]), prefix: m[2] === "" ? [] : (m[2] as string).split(",").map(Number) };
  }
  const faultTexts = (values.fault as string[] | undefined) ?? [];
  const parsedFaults = parseFaultSpecs(faultTexts);
  if ("error" in parsedFaults) throw new BadInput(`--fault ${parsedFaults.error}`);
  const varySeed = values["vary-seed"] === true;
  if (varySeed && strategy === "dfs")
    throw new BadInput("--vary-seed goes with random or pct: a DFS replays one seed's tree");
  return {
    resume,
    faults: parsedFaults.specs,
    faultTexts,
    varySeed,
    file: files[0] as string,
    strategy,
    iterations: int(values, "iterations", 10000, 1),
    timeBudgetS,
    depth: int(values, "depth", 3, 1),
    preemptions: int(values, "preemptions", 2, 0),
    seed: int(values, "seed", 1, 0),
    shard,
    workers,
    out: String(values.out ?? "rdbss-explore"),
    shrink: values["no-shrink"] !== true,
    json: values.json === true,
    profile: values.profile as "docs" | "reactos" | undefined,
    checks: parseChecks((values.check as string[] | undefined) ?? []),
  };
}

/** The arguments a worker process gets: the same search, one shard. */
function workerArgs(s: ExploreSettings, shard: number): string[] {
  const a = ["explore", s.file, "--strategy", s.strategy, "--iterations", String(s.iterations)];
  a.push("--time-budget", String(s.timeBudgetS), "--depth", String(s.depth), "--preemptions", String(s.preemptions));
  a.push("--seed", String(s.seed), "--shard", `${shard}/${s.workers}`);
  if (s.profile) a.push("--profile", s.profile);
  for (const [k, v] of Object.entries(s.checks)) a.push("--check", `${k}=${v}`);
  for (const f of s.faultTexts) a.push("--fault", f);
  if (s.varySeed) a.push("--vary-seed");
  return a;
}

// ================================================================== progress

class Progress {
  private last = 0;
  private shown = false;
  constructor(private readonly enabled: boolean) {}
  update(runs: number, perSec: number, states: number, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    process.stderr.write(`\r\x1b[2Kexplore: ${runs} schedules, ${perSec.toFixed(0)}/s, ${states} distinct states`);
  }
  clear(): void {
    if (this.shown) process.stderr.write("\r\x1b[2K");
    this.shown = false;
  }
}

// ================================================================== worker processes

interface WorkerResult {
  readonly found: boolean;
  readonly iterations: number;
  readonly distinctSchedules: number;
  readonly ended: ExploreResult["ended"];
  readonly replay: ReplayFile | null;
}

type WorkerMessage =
  | { readonly type: "progress"; readonly iterations: number; readonly states: readonly number[] }
  | { readonly type: "result"; readonly result: WorkerResult };

const WORKER_ENV = "RDBSS_EXPLORE_WORKER";

function isWorker(): boolean {
  return process.env[WORKER_ENV] === "1" && typeof process.send === "function";
}

/** Run the search in K worker processes (one shard each); the first failing schedule stops them all. */
async function runWorkers(
  s: ExploreSettings,
  progress: Progress,
): Promise<{
  found: ReplayFile | null;
  iterations: number;
  distinctStates: number;
  distinctSchedules: number;
  elapsedMs: number;
  ended: ExploreResult["ended"];
  errors: string[];
}> {
  const t0 = performance.now();
  const entry = join(PACKAGE_ROOT, "scripts/rdbss.mjs");
  const states = new Set<number>();
  const iterations = new Array<number>(s.workers).fill(0);
  const results: (WorkerResult | null)[] = new Array<WorkerResult | null>(s.workers).fill(null);
  const errors: string[] = [];
  let found: ReplayFile | null = null;
  const children: ChildProcess[] = [];
  const total = () => iterations.reduce((a, b) => a + b, 0);
  await new Promise<void>((done) => {
    let alive = s.workers;
    for (let j = 0; j < s.workers; j++) {
      const child = fork(entry, workerArgs(s, j), {
        env: { ...process.env, [WORKER_ENV]: "1" },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      children.push(child);
      child.on("message", (m: WorkerMessage) => {
        if (m.type === "progress") {
          iterations[j] = m.iterations;
          for (const x of m.states) states.add(x);
          const el = performance.now() - t0;
          progress.update(total(), el > 0 ? (total() * 1000) / el : 0, states.size);
        } else {
          results[j] = m.result;
          iterations[j] = m.result.iterations;
          if (m.result.found && found === null) {
            found = m.result.replay;
            for (const c of children) if (c !== child && c.exitCode === null) c.kill();
          }
        }
      });
      child.on("exit", (code) => {
        if (results[j] === null && found === null && code !== 0)
          errors.push(`worker ${j}/${s.workers} exited with ${code}: ${stderr.trim()}`);
        if (--alive === 0) done();
      });
    }
  });
  const finished = results.filter((r): r is WorkerResult => r !== null);
  const ended: ExploreResult["ended"] = found
    ? "found"
    : finished.some((r) => r.ended === "time")
      ? "time"
      : finished.length > 0 && finished.every((r) => r.ended === "exhausted")
        ? "exhausted"
        : "iterations";
  return {
    found,
    iterations: total(),
    distinctStates: states.size,
    distinctSchedules: finished.reduce((a, r) => a + r.distinctSchedules, 0),
    elapsedMs: performance.now() - t0,
    ended,
    errors,
  };
}

// ================================================================== explore

function describeStrategy(st: ReplayFile["strategy"] | ExploreResult["strategy"]): string {
  const parts: string[] = [st.name];
  if (st.name === "pct") parts.push(`depth ${st.depth}, k ${st.steps}`);
  if (st.name === "dfs") parts.push(`≤ ${st.preemptions} preemptions`);
  return `${parts.join(" (")}${parts.length > 1 ? ")" : ""}, seed ${st.baseSeed}`;
}

/** Replay info, shrink, write the files; returns the paths. */
async function report(
  loaded: LoadedScenario,
  replay: ReplayFile,
  s: ExploreSettings,
  io: ExploreIo,
): Promise<{ replayPath: string; minimalPath: string | null; shrunk: ShrinkResult | null }> {
  mkdirSync(s.out, { recursive: true });
  const stem = basename(s.file, extname(s.file));
  const replayPath = join(s.out, `${stem}.replay`);
  const minimalPath = join(s.out, `${stem}.min.yaml`);
  let shrunk: ShrinkResult | null = null;
  let full = replay;
  if (s.shrink) {
    const header = [
      ` Minimal reproducer written by \`rdbss explore\` from ${relative(s.out, resolve(s.file)) || s.file}`,
      ` (${describeStrategy(replay.strategy)}, iteration ${replay.strategy.iteration}). It fails under a plain \`rdbss run\`:`,
      ` ${replay.failure.signature}. setup.schedule is the shrunk schedule (scheduling choices; 0 = FIFO).`,
    ].join("\n");
    try {
      shrunk = await shrinkFailure(loaded, replay.choices, {
        runSeed: replay.seed,
        profile: replay.profile,
        checks: replay.checks as Record<string, CheckMode>,
        ...(s.faults.length > 0 ? { faults: s.faults } : {}),
        outputDir: s.out,
        header,
      });
    } catch (e) {
      io.err(`rdbss: shrinking failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (shrunk?.yaml) writeFileSync(minimalPath, shrunk.yaml);
    if (shrunk) {
      full = {
        ...replay,
        shrunk: {
          choices: [...shrunk.choices],
          preemptions: shrunk.preemptions,
          deviations: shrunk.deviations,
          steps: shrunk.steps,
          faults: shrunk.faults,
          ...(shrunk.yaml ? { scenario: resolve(minimalPath) } : {}),
        },
      };
    }
  }
  writeReplayFile(replayPath, full);
  return { replayPath, minimalPath: shrunk?.yaml ? minimalPath : null, shrunk };
}

export async function cmdExplore(
  files: readonly string[],
  values: Record<string, unknown>,
  io: ExploreIo,
): Promise<number> {
  let s: ExploreSettings;
  try {
    s = settings(files, values);
  } catch (e) {
    if (e instanceof BadInput) return usage(io, e.message);
    throw e;
  }
  if (!existsSync(s.file)) return usage(io, `no such file: ${s.file}`);
  const r = loadScenarioFile(s.file);
  if (!r.ok) return badInput(io, r.problems);
  const loaded = r.loaded;
  const worker = isWorker();
  if (!worker) {
    const rerun = rerunFromSourcesIfNeeded([loaded]);
    if (rerun !== null) return rerun;
    // A module file that does not load is bad input, as for `rdbss run`: not a failing schedule to shrink.
    const bad = await checkScenarioModule(loaded);
    if (bad !== null) return badInput(io, [bad]);
  }
  const progress = new Progress(!worker && process.stderr.isTTY === true && !s.json);

  let found: ReplayFile | null;
  let summary: {
    iterations: number;
    distinctStates: number;
    distinctSchedules: number;
    elapsedMs: number;
    ended: ExploreResult["ended"];
  };
  let strategyInfo: ExploreResult["strategy"] | null = null;
  let cursor: DfsCursor | null = null;
  if (s.workers > 1 && !worker) {
    const w = await runWorkers(s, progress);
    progress.clear();
    for (const e of w.errors) io.err(`rdbss: ${e}`);
    if (w.errors.length > 0 && w.found === null) return 2;
    found = w.found;
    summary = w;
  } else {
    let lastSent = 0;
    let pendingStates: number[] = [];
    const send = (m: WorkerMessage) => process.send?.(m);
    const options: ExploreOptions = {
      strategy: s.strategy,
      iterations: s.iterations,
      timeBudgetMs: s.timeBudgetS * 1000,
      depth: s.depth,
      preemptions: s.preemptions,
      seed: s.seed,
      ...(s.shard ? { shard: s.shard } : {}),
      ...(s.resume ? { dfsResume: s.resume } : {}),
      ...(s.faults.length > 0 ? { faults: s.faults } : {}),
      ...(s.varySeed ? { varySeed: true } : {}),
      ...(s.profile ? { profile: s.profile } : {}),
      checks: s.checks,
      onProgress: (p) => {
        progress.update(p.iterations, p.schedulesPerSec, p.distinctStates);
        if (worker && performance.now() - lastSent > 200) {
          lastSent = performance.now();
          send({ type: "progress", iterations: p.iterations, states: pendingStates });
          pendingStates = [];
        }
      },
      ...(worker
        ? {
            onNewStates: (st: readonly number[]) => {
              for (const x of st) pendingStates.push(x);
            },
          }
        : {}),
    };
    let res: ExploreResult;
    try {
      res = await explore(loaded, options);
    } catch (e) {
      if (!(e instanceof NotDeterministicError)) throw e;
      progress.clear();
      io.err(`rdbss: ${e.message}`);
      return 2;
    }
    progress.clear();
    if (worker) {
      send({ type: "progress", iterations: res.iterations, states: pendingStates });
      const result: WorkerResult = {
        found: res.found,
        iterations: res.iterations,
        distinctSchedules: res.distinctSchedules,
        ended: res.ended,
        replay: res.replay,
      };
      await new Promise<void>((ok) => process.send?.({ type: "result", result } satisfies WorkerMessage, () => ok()));
      return res.found ? 1 : 0;
    }
    found = res.replay;
    summary = res;
    strategyInfo = res.strategy;
    cursor = res.dfsCursor;
  }

  const secs = summary.elapsedMs / 1000;
  const rate = secs > 0 ? summary.iterations / secs : 0;
  const stats = `${summary.iterations} schedules in ${secs.toFixed(1)} s (${rate.toFixed(0)}/s), ${summary.distinctStates} distinct states, ${summary.distinctSchedules} distinct schedules`;
  if (found === null) {
    const why =
      summary.ended === "exhausted"
        ? "the bounded search space is exhausted"
        : summary.ended === "time"
          ? "the time budget ended"
          : "the iteration budget ended";
    if (s.json) {
      io.out(
        JSON.stringify({
          found: false,
          file: s.file,
          ended: summary.ended,
          iterations: summary.iterations,
          schedulesPerSec: rate,
          distinctStates: summary.distinctStates,
          distinctSchedules: summary.distinctSchedules,
          elapsedMs: summary.elapsedMs,
          ...(strategyInfo ? { strategy: strategyInfo } : {}),
          ...(cursor ? { resume: `${cursor.leaf}:${cursor.prefix.join(",")}` } : {}),
        }),
      );
    } else {
      io.out(`✔ explore ${s.file}: no failing schedule; ${why}.`);
      io.out(
        `  ${s.strategy}${s.workers > 1 ? ` × ${s.workers} workers` : ""}${s.shard ? ` (shard ${s.shard.index}/${s.shard.count})` : ""}, seed ${s.seed}: ${stats}`,
      );
      if (cursor)
        io.out(
          `  To go on: rdbss explore ${s.file} --strategy dfs --preemptions ${s.preemptions}${s.shard ? ` --shard ${s.shard.index}/${s.shard.count}` : ""} --resume ${cursor.leaf}:${cursor.prefix.join(",")}`,
        );
    }
    return 0;
  }

  const { replayPath, minimalPath, shrunk } = await report(loaded, found, s, io);
  if (s.json) {
    io.out(
      JSON.stringify({
        found: true,
        file: s.file,
        ended: "found",
        iterations: summary.iterations,
        schedulesPerSec: rate,
        distinctStates: summary.distinctStates,
        distinctSchedules: summary.distinctSchedules,
        elapsedMs: summary.elapsedMs,
        strategy: found.strategy,
        failure: found.failure,
        replay: replayPath,
        minimal: minimalPath,
        shrunk: shrunk
          ? {
              choices: shrunk.choices,
              preemptions: shrunk.preemptions,
              deviations: shrunk.deviations,
              steps: shrunk.steps,
              runs: shrunk.runs,
            }
          : null,
      }),
    );
    return 1;
  }
  io.out(
    `✘ explore ${s.file}: a failing schedule after ${summary.iterations} schedule${summary.iterations === 1 ? "" : "s"}`,
  );
  io.out(
    `  ${describeStrategy(found.strategy)}, iteration ${found.strategy.iteration}${found.strategy.shard ? ` (shard ${found.strategy.shard})` : ""}: ${stats}`,
  );
  io.out(`  First failure: ${found.failure.failures[0] ?? found.failure.signature}`);
  if (found.failure.stop)
    io.out(
      `  Stop: ${found.failure.stop.code} ${found.failure.stop.name}${found.failure.stop.thread ? ` on thread ${found.failure.stop.thread}` : ""}`,
    );
  io.out(`  Replay:  rdbss replay ${replayPath}`);
  if (shrunk) {
    io.out(
      `  Shrunk:  ${shrunk.preemptions.before} → ${shrunk.preemptions.after} preemptions, ${shrunk.deviations.before} → ${shrunk.deviations.after} non-FIFO choices, ${shrunk.steps.before} → ${shrunk.steps.after} steps${shrunk.faults.before > 0 ? `, ${shrunk.faults.before} → ${shrunk.faults.after} faults` : ""} (${shrunk.runs} runs)`,
    );
    if (minimalPath) io.out(`  Minimal: rdbss run ${minimalPath}   (fails: ${found.failure.signature})`);
  }
  return 1;
}

// ================================================================== replay

export async function cmdReplay(
  files: readonly string[],
  values: Record<string, unknown>,
  io: ExploreIo,
): Promise<number> {
  if (files.length !== 1) return usage(io, "replay: give one .replay file");
  const file = files[0] as string;
  if (!existsSync(file)) return usage(io, `no such file: ${file}`);
  const r = readReplayFile(file);
  if (!r.ok) {
    for (const p of r.problems) io.err(p);
    io.err("not a valid replay file; nothing was run.");
    return 2;
  }
  const replay = r.replay;
  if (!existsSync(r.scenarioFile)) {
    io.err(`rdbss: ${file}: the scenario ${r.scenarioFile} does not exist any more; nothing was run.`);
    return 2;
  }
  const m = replay.scenario.minirdr;
  // A recording made with a module of one's own: replay it from the sources (scripts/sources.ts), before any note.
  if (m && RUNNING_BUILT) return rerunFromSourcesIfNeeded(null) as number;
  // Load it under the same name as when it was recorded, so messages compare equal.
  const sameName = resolve(replay.scenario.loadedAs) === resolve(r.scenarioFile);
  const l = loadScenarioFile(sameName ? replay.scenario.loadedAs : r.scenarioFile);
  const changed = (what: string, now: string, then: string): number => {
    io.err(
      `rdbss: ${file}: the scenario ${r.scenarioFile} changed since this replay was recorded (${what} ${now.slice(0, 12)}…, recorded ${then.slice(0, 12)}…): its schedule would not mean the same run. Run \`rdbss explore\` again. Nothing was run.`,
    );
    return 2;
  };
  const textHash = sha256(readFileSync(r.scenarioFile));
  const recordedContent = replay.scenario.contentSha256;
  // Recorded before content hashes: any edit of the file refuses the replay.
  if (recordedContent === undefined && textHash !== replay.scenario.sha256) {
    return changed("sha256", textHash, replay.scenario.sha256);
  }
  if (!l.ok) {
    for (const p of l.problems) io.err(formatProblem(p));
    return 2;
  }
  if (recordedContent !== undefined) {
    const contentHash = scenarioContentHash(l.loaded);
    if (contentHash !== recordedContent) return changed("content sha256", contentHash, recordedContent);
    if (textHash !== replay.scenario.sha256) {
      io.err(
        `rdbss: note: the scenario ${r.scenarioFile} was edited since the recording (comments, layout or key order only: its steps, setup and server images are the same); replaying.`,
      );
    }
  }
  if (m && existsSync(m.file) && sha256(readFileSync(m.file)) !== m.sha256) {
    io.err(`rdbss: note: the mini-redirector ${m.file} changed since the recording (a fix?): the run may differ.`);
  }
  const bad = await checkScenarioModule(l.loaded);
  if (bad !== null) return badInput(io, [bad]);

  try {
    replayFaults(replay);
  } catch (e) {
    io.err(`rdbss: ${file}: ${e instanceof Error ? e.message : String(e)}; nothing was run.`);
    return 2;
  }
  const trace = values.trace as string | undefined;
  let events: readonly TraceEvent[] = [];
  const shrunk = values.shrunk === true;
  if (shrunk && !replay.shrunk) return usage(io, `${file} has no shrunk schedule`);
  const outcome = await replayRun(l.loaded, replay, {
    ...(trace !== undefined ? { trace: true, onFinish: (em) => (events = em.k.trace.events) } : {}),
    shrunk,
  });
  if (trace !== undefined) await writeChromeTrace(trace, events, { stepNs: 100 });
  if (values.json === true) {
    io.out(
      JSON.stringify({
        replay: file,
        reproduced: outcome.reproduced,
        divergence: outcome.divergence,
        differences: outcome.differences,
        report: reportJson(outcome.report),
      }),
    );
  } else {
    io.out(formatReport(outcome.report));
    io.out("");
    const what = shrunk ? "the shrunk schedule" : `${replay.choices.length} recorded choices`;
    if (outcome.reproduced) {
      io.out(
        shrunk
          ? `Reproduced with ${what}: ${replay.failure.signature}.`
          : `Reproduced exactly from ${what} (${describeStrategy(replay.strategy)}, iteration ${replay.strategy.iteration}): the same ${replay.failure.failures.length} failure${replay.failure.failures.length === 1 ? "" : "s"}${replay.failure.stop ? ` and the same stop (${replay.failure.stop.code} ${replay.failure.stop.name})` : ""}.`,
      );
    } else {
      io.out(`Not reproduced from ${what}:`);
      for (const d of outcome.differences) io.out(`  ${d}`);
    }
    if (outcome.divergence) io.out(`  The run left the recording: ${outcome.divergence}`);
    if (trace !== undefined) io.err(`trace written to ${trace} (open it in https://ui.perfetto.dev)`);
  }
  return outcome.report.passed ? 0 : 1;
}
