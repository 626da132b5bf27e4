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
import { failureSignature, rerunDifference } from "../scenario/signature.js";
import {
  minirdrFile,
  REPLAY_FORMAT,
  REPLAY_VERSION,
  type ReplayFile,
  type ReplayStrategyInfo,
  scenarioContentHash,
  scenarioHash,
  stopSummary,
} from "./replay.js";
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
  /**
   * Default true: candidate schedules run without the reference ledger, an instrument that never changes a run's
   * outcome (it only explains stops and leaks), and a failing schedule is run again with every instrument for the
   * report and the replay file. False runs every schedule with the full checks (to compare, or to time them).
   */
  readonly leanSearch?: boolean;
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

/**
 * The checks a candidate schedule runs with: `checks` with the reference ledger off. The ledger records who took
 * and dropped every reference; it never stops a run and no check reads it, so a run's schedule, stops, violations,
 * statuses and leaks are the same without it: only the texts that explain them are shorter. That text is visible to
 * one expectation, a stop's `reason` substring, so a scenario that has one keeps the ledger.
 */
export function searchChecks(
  loaded: LoadedScenario,
  checks: Readonly<Record<string, CheckMode>>,
): Readonly<Record<string, CheckMode>> {
  if (checks.ledger === "off") return checks;
  const stop = loaded.scenario.expect.stop;
  if (typeof stop === "object" && stop.reason !== undefined) return checks;
  return { ...checks, ledger: "off" };
}

/**
 * A failing schedule that did not fail the same way when run again (same scenario, seed and schedule): something in
 * the run is not a function of them, and no replay of the failure could be trusted.
 */
export class NotDeterministicError extends Error {
  override readonly name = "NotDeterministicError";
}

type Recorded = { report: ScenarioReport; log: DecisionLog };

/**
 * A run that failed in a lean search (`found`), run again with the full checks (`full`): the full run when it fails
 * the same way (signature and choices), else a NotDeterministicError naming `what`. The two runs are the same
 * schedule of the same deterministic system, so a difference means the scenario or its mini-redirector is not one.
 */
export async function confirmInFull(found: Recorded, full: () => Promise<Recorded>, what: string): Promise<Recorded> {
  const again = await full();
  const diff = rerunDifference(found.report, again.report);
  if (diff === null) return again;
  throw new NotDeterministicError(
    `${what} failed (${failureSignature(found.report)}) and, run again with the same seed and schedule, ${
      diff.how === "passed"
        ? "passed"
        : diff.how === "failed differently"
          ? `failed differently (${diff.signature})`
          : "took a different schedule"
    }: the run is not deterministic. A mini-redirector must not use Math.random, Date.now, real timers or state kept from one run to the next.`,
  );
}

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
  // What candidate schedules run with; a failing one runs again with runOpts (confirm).
  const leanChecks = options.leanSearch === false ? checks : searchChecks(loaded, checks);
  const lean = leanChecks !== checks;
  const searchOpts = lean ? { ...runOpts, checks: leanChecks } : runOpts;
  /** A schedule that failed in the search, run again under the full checks for its report and log. */
  const confirm = (
    found: Recorded,
    strategy: () => SchedulingStrategy,
    seedOfRun: number | string,
    what: string,
  ): Promise<Recorded> =>
    lean
      ? confirmInFull(
          found,
          () => runRecorded(loaded, strategy(), { ...runOpts, runSeed: seedOfRun }),
          `explore: ${what}`,
        )
      : Promise.resolve(found);
  // What was explored: the scenario's text (and a module file's) as it is now.
  const hash = scenarioHash(loaded);
  const contentHash = scenarioContentHash(loaded);
  const moduleFile = minirdrFile(loaded);

  let steps: number | undefined;
  if (name === "pct") steps = await calibrate(loaded, seed, searchOpts);
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
            contentSha256: contentHash,
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
      const { log } = await runRecorded(loaded, new ReplayStrategy([]), searchOpts);
      dfs.learnFrom(log);
      prefix = [...resume.prefix];
      leaf = Math.max(1, resume.leaf);
    }
    const cursor = (p: number[]) => ({ leaf, prefix: p });
    while (prefix !== null) {
      if (iterations >= budget) return finish("iterations", null, cursor(prefix));
      if (outOfTime()) return finish("time", null, cursor(prefix));
      if (options.shouldStop?.()) return finish("stopped", null, cursor(prefix));
      const tried = prefix;
      const run = await runRecorded(loaded, new ReplayStrategy(tried), searchOpts);
      const { log } = run;
      const counts = leaf > 0 || dfs.ownsDefault;
      if (counts) iterations++;
      note(log);
      if (!run.report.passed && counts) {
        const failed = await confirm(run, () => new ReplayStrategy(tried), runSeed, `DFS leaf ${leaf}`);
        return finish("found", { ...failed, strategy: { ...info, iteration: leaf }, seed: runSeed });
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
    const strategy = (): SchedulingStrategy =>
      name === "pct" ? new PctStrategy({ depth, steps: steps ?? 1, seed: s }) : new RandomStrategy(s);
    const seedOfRun = options.varySeed ? s : runSeed;
    const run = await runRecorded(loaded, strategy(), { ...searchOpts, runSeed: seedOfRun });
    iterations++;
    note(run.log);
    if (!run.report.passed) {
      const failed = await confirm(run, strategy, seedOfRun, `schedule ${i}`);
      return finish("found", { ...failed, strategy: { ...info, iteration: i, iterationSeed: s }, seed: seedOfRun });
    }
    if (iterations % 16 === 0) await nextTick();
  }
  return finish("iterations", null);
}
