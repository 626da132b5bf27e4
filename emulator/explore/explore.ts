/**
 * `explore`: run one scenario under many schedules until a run fails (report.passed === false: an unexpected
 * stop, a check violation, a leak, a failed expectation, a deadlock) or the budget ends, and describe the failing
 * run as a replay file. Each iteration is a pure function of (scenario, base seed, strategy, iteration), so a
 * search split over shards or processes finds the same runs a single process would.
 */
import { performance } from "node:perf_hooks";
import { type FaultSpec, formatFaultSpec } from "../faults/index.js";
import { type CheckMode, RandomStrategy, ReplayStrategy, type SchedulingStrategy } from "../kernel/index.js";
import { type LoadedScenario, runScenario, type ScenarioReport } from "../scenario/index.js";
import {
  minirdrFile,
  REPLAY_FORMAT,
  REPLAY_VERSION,
  type ReplayFile,
  type ReplayStrategyInfo,
  scenarioHash,
  stopSummary,
} from "./replay.js";
import { failureSignature } from "./signature.js";
import { BoundedDfs, type DecisionLog, iterationSeed, PctStrategy, RecordingStrategy } from "./strategies.js";

export type ExploreStrategyName = "random" | "pct" | "dfs";

export interface Shard {
  /** 0-based. */
  readonly index: number;
  readonly count: number;
}

export interface ExploreProgress {
  /** Schedules run so far (this shard). */
  readonly iterations: number;
  readonly elapsedMs: number;
  readonly schedulesPerSec: number;
  readonly distinctStates: number;
  readonly distinctSchedules: number;
}

/** Where a DFS stopped: the next prefix to run and its leaf number. */
export interface DfsCursor {
  readonly leaf: number;
  readonly prefix: readonly number[];
}

export interface ExploreOptions {
  /** Default "pct". */
  readonly strategy?: ExploreStrategyName;
  /** The size of the iteration space (all shards together); default 1000. For DFS, the leaf budget per shard is this divided by the shard count. */
  readonly iterations?: number;
  /** Stop after this much wall-clock time (milliseconds). */
  readonly timeBudgetMs?: number;
  /** PCT: the bug depth d (default 3). */
  readonly depth?: number;
  /** DFS: the preemption bound P (default 2). */
  readonly preemptions?: number;
  /** The base seed; iteration i runs with a seed derived from (seed, i). Default 1. */
  readonly seed?: number;
  readonly shard?: Shard;
  /** The kernel seed of every run (default: the scenario's setup.seed). */
  readonly runSeed?: number | string;
  readonly profile?: "docs" | "reactos";
  readonly checks?: Readonly<Record<string, CheckMode>>;
  /** Faults injected in every run, after the scenario's setup.faults (docs/FAULTS.md). */
  readonly faults?: readonly FaultSpec[];
  /**
   * random / pct: give each iteration its own kernel seed too (derived from the base seed and the iteration), so the
   * seeded choices — probability faults, network jitter and drops — vary with the schedule. Default false: every
   * run uses the scenario's seed and only the schedule varies.
   */
  readonly varySeed?: boolean;
  /** Called after every schedule. */
  readonly onProgress?: (p: ExploreProgress) => void;
  /** New state fingerprints, as they are first seen (for merging the counts of several workers). */
  readonly onNewStates?: (states: readonly number[]) => void;
  /** DFS: continue an earlier search (same scenario, bound and shard) from its `dfsCursor`. */
  readonly dfsResume?: DfsCursor;
  /** Polled between schedules: true ends the search (another worker found a bug). */
  readonly shouldStop?: () => boolean;
}

export interface ExploreResult {
  readonly found: boolean;
  /** Schedules this search ran (not counting the PCT calibration runs). */
  readonly iterations: number;
  readonly schedulesPerSec: number;
  readonly distinctStates: number;
  readonly distinctSchedules: number;
  readonly elapsedMs: number;
  /** Why the search ended. */
  readonly ended: "found" | "iterations" | "time" | "exhausted" | "stopped";
  readonly strategy: Omit<ReplayStrategyInfo, "iteration" | "iterationSeed">;
  /** The failing run, as a replay file (paths absolute until written). */
  readonly replay: ReplayFile | null;
  readonly report: ScenarioReport | null;
  /** The failing run's decision log. */
  readonly log: DecisionLog | null;
  /** DFS: where the search stopped (pass it as `dfsResume` to go on), null when the bounded tree is exhausted. */
  readonly dfsCursor: DfsCursor | null;
}

/** One run of a scenario under a strategy, with its decision log. */
export async function runRecorded(
  loaded: LoadedScenario,
  strategy: SchedulingStrategy,
  options: Pick<ExploreOptions, "runSeed" | "profile" | "checks" | "faults"> = {},
): Promise<{ report: ScenarioReport; log: DecisionLog }> {
  const rec = new RecordingStrategy(strategy);
  const report = await runScenario(loaded, {
    ...(options.runSeed !== undefined ? { seed: options.runSeed } : {}),
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
    ...(options.checks !== undefined ? { checks: options.checks } : {}),
    ...(options.faults !== undefined && options.faults.length > 0 ? { faults: options.faults } : {}),
    strategy: rec,
  });
  return { report, log: rec.log() };
}

/** The default schedule, run preemptively (every decision recorded, choice 0 everywhere = FIFO). */
function defaultStrategy(): SchedulingStrategy {
  return new ReplayStrategy([]);
}

/** PCT's run-length estimate k: the most decisions seen in a default and a random calibration run. */
async function calibrate(loaded: LoadedScenario, seed: number, options: ExploreOptions): Promise<number> {
  const a = await runRecorded(loaded, defaultStrategy(), options);
  const b = await runRecorded(loaded, new RandomStrategy(iterationSeed(seed, -1)), options);
  return Math.max(1, a.log.counts.length, b.log.counts.length);
}

const nextTick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Explore: see the file header. */
export async function explore(loaded: LoadedScenario, options: ExploreOptions = {}): Promise<ExploreResult> {
  const name = options.strategy ?? "pct";
  const seed = options.seed ?? 1;
  const shard = options.shard ?? { index: 0, count: 1 };
  if (!(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count))
    throw new RangeError(`bad shard ${shard.index}/${shard.count}`);
  const space = Math.max(0, Math.floor(options.iterations ?? 1000));
  const depth = Math.max(1, Math.floor(options.depth ?? 3));
  const preemptions = Math.max(0, Math.floor(options.preemptions ?? 2));
  const t0 = performance.now();
  const deadline = options.timeBudgetMs !== undefined ? t0 + options.timeBudgetMs : Number.POSITIVE_INFINITY;
  const states = new Set<number>();
  const schedules = new Set<number>();
  const shardText = shard.count > 1 ? `${shard.index}/${shard.count}` : undefined;
  const runSeed = options.runSeed ?? loaded.scenario.setup.seed;
  const profile = options.profile ?? loaded.scenario.setup.profile;
  const checks: Record<string, CheckMode> = { ...loaded.scenario.setup.checks, ...(options.checks ?? {}) };
  const faults = options.faults ?? [];
  const runOpts = { runSeed, profile, checks, faults };
  // What was explored: the scenario's text (and a module file's) as it is now.
  const hash = scenarioHash(loaded);
  const moduleFile = minirdrFile(loaded);

  let steps: number | undefined;
  if (name === "pct") steps = await calibrate(loaded, seed, runOpts);
  const info: Omit<ReplayStrategyInfo, "iteration" | "iterationSeed"> = {
    name,
    baseSeed: seed,
    ...(name === "pct" ? { depth, steps } : {}),
    ...(name === "dfs" ? { preemptions } : {}),
    ...(shardText ? { shard: shardText } : {}),
    ...(options.varySeed && name !== "dfs" ? { varySeed: true } : {}),
  };

  let iterations = 0;
  const progress = (): ExploreProgress => {
    const elapsedMs = performance.now() - t0;
    return {
      iterations,
      elapsedMs,
      schedulesPerSec: elapsedMs > 0 ? (iterations * 1000) / elapsedMs : 0,
      distinctStates: states.size,
      distinctSchedules: schedules.size,
    };
  };
  const note = (log: DecisionLog): void => {
    schedules.add(log.schedule);
    let fresh: number[] | null = null;
    for (const s of log.states) {
      if (!states.has(s)) {
        states.add(s);
        if (options.onNewStates) {
          fresh ??= [];
          fresh.push(s);
        }
      }
    }
    if (fresh) options.onNewStates?.(fresh);
    options.onProgress?.(progress());
  };
  const finish = (
    ended: ExploreResult["ended"],
    failing: {
      report: ScenarioReport;
      log: DecisionLog;
      strategy: ReplayStrategyInfo;
      seed: number | string;
    } | null,
    dfsCursor: DfsCursor | null = null,
  ): ExploreResult => {
    const p = progress();
    const replay: ReplayFile | null = failing
      ? {
          format: REPLAY_FORMAT,
          version: REPLAY_VERSION,
          scenario: {
            file: loaded.file,
            loadedAs: loaded.file,
            sha256: hash,
            name: loaded.scenario.name,
            ...(moduleFile ? { minirdr: moduleFile } : {}),
          },
          seed: failing.seed,
          profile,
          checks,
          ...(faults.length > 0 ? { faults: faults.map(formatFaultSpec) } : {}),
          strategy: failing.strategy,
          choices: [...failing.report.choices],
          failure: {
            signature: failureSignature(failing.report),
            failures: [...failing.report.failures],
            stop: stopSummary(failing.report),
          },
          found: { schedules: iterations, seconds: Math.round(p.elapsedMs) / 1000 },
        }
      : null;
    return {
      found: failing !== null,
      iterations,
      schedulesPerSec: p.schedulesPerSec,
      distinctStates: p.distinctStates,
      distinctSchedules: p.distinctSchedules,
      elapsedMs: p.elapsedMs,
      ended,
      strategy: info,
      replay,
      report: failing?.report ?? null,
      log: failing?.log ?? null,
      dfsCursor,
    };
  };
  const outOfTime = (): boolean => performance.now() >= deadline;

  if (name === "dfs") {
    const dfs = new BoundedDfs(preemptions, shard);
    const budget = Math.ceil(space / shard.count);
    let prefix: number[] | null = dfs.first();
    let leaf = 0;
    const resume = options.dfsResume;
    if (resume) {
      // The tree's top level comes from the default run; then continue where the earlier search stopped.
      const { log } = await runRecorded(loaded, new ReplayStrategy([]), runOpts);
      dfs.learnFrom(log);
      prefix = [...resume.prefix];
      leaf = Math.max(1, resume.leaf);
    }
    const cursor = (p: number[]) => ({ leaf, prefix: p });
    while (prefix !== null) {
      if (iterations >= budget) return finish("iterations", null, cursor(prefix));
      if (outOfTime()) return finish("time", null, cursor(prefix));
      if (options.shouldStop?.()) return finish("stopped", null, cursor(prefix));
      const { report, log } = await runRecorded(loaded, new ReplayStrategy(prefix), runOpts);
      const counts = leaf > 0 || dfs.ownsDefault;
      if (counts) iterations++;
      note(log);
      if (!report.passed && counts) {
        return finish("found", { report, log, strategy: { ...info, iteration: leaf }, seed: runSeed });
      }
      prefix = leaf === 0 ? dfs.startAfterDefault(log) : dfs.next(log);
      leaf++;
      if (leaf % 16 === 0) await nextTick();
    }
    return finish("exhausted", null, null);
  }

  for (let i = shard.index; i < space; i += shard.count) {
    if (outOfTime()) return finish("time", null);
    if (options.shouldStop?.()) return finish("stopped", null);
    const s = iterationSeed(seed, i);
    const strategy = name === "pct" ? new PctStrategy({ depth, steps: steps ?? 1, seed: s }) : new RandomStrategy(s);
    const seedOfRun = options.varySeed ? s : runSeed;
    const { report, log } = await runRecorded(loaded, strategy, { ...runOpts, runSeed: seedOfRun });
    iterations++;
    note(log);
    if (!report.passed) {
      return finish("found", { report, log, strategy: { ...info, iteration: i, iterationSeed: s }, seed: seedOfRun });
    }
    if (iterations % 16 === 0) await nextTick();
  }
  return finish("iterations", null);
}
