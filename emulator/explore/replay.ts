/**
 * The replay file (`*.replay`, JSON, versioned, validated with zod): which scenario (its path and a hash of its
 * text), the kernel seed, profile and check modes, which strategy found the run (name, parameters, base seed,
 * iteration), the run's full choice list, what failed, and the shrunk schedule. `replayRun` reproduces the run
 * under a ReplayStrategy and compares the outcome with the recording.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { BUILTIN_MINIRDRS } from "../../miniredirs/index.js";
import type { Emulator } from "../boot.js";
import { type FaultSpec, parseFaultSpec } from "../faults/index.js";
import { type CheckMode, ReplayStrategy } from "../kernel/index.js";
import { type LoadedScenario, runScenario, type ScenarioReport } from "../scenario/index.js";
import { failureSignature } from "../scenario/signature.js";
import { RecordingStrategy } from "./strategies.js";

export const REPLAY_FORMAT = "rdbss-replay";
export const REPLAY_VERSION = 1;

const CheckModeSchema = z.enum(["stop", "record", "off"]);

const StopSummary = z
  .object({
    kind: z.string(),
    code: z.string(),
    name: z.string(),
    reason: z.string(),
    check: z.string().nullable(),
    thread: z.string().nullable(),
  })
  .strict();
export type StopSummary = z.infer<typeof StopSummary>;

export const ReplayStrategyInfo = z
  .object({
    /** The strategy that found the run ("fifo": the scenario fails under the default schedule). */
    name: z.enum(["random", "pct", "dfs", "fifo"]),
    /** The exploration's base seed (`--seed`). */
    baseSeed: z.number().int(),
    /** The iteration that failed (0-based, in the whole iteration space). */
    iteration: z.number().int().min(0),
    /** random / pct: the iteration's own seed, derived from (baseSeed, iteration). */
    iterationSeed: z.number().int().optional(),
    /** pct: bug depth d and the run-length estimate k. */
    depth: z.number().int().min(1).optional(),
    steps: z.number().int().min(1).optional(),
    /** dfs: the preemption bound. */
    preemptions: z.number().int().min(0).optional(),
    /** The shard that found it ("I/N"), when the search was split. */
    shard: z.string().optional(),
    /** Each iteration ran with its own kernel seed (`seed` below is the failing run's). */
    varySeed: z.boolean().optional(),
  })
  .strict();
export type ReplayStrategyInfo = z.infer<typeof ReplayStrategyInfo>;

export const ReplayFileSchema = z
  .object({
    format: z.literal(REPLAY_FORMAT),
    version: z.literal(REPLAY_VERSION),
    scenario: z
      .object({
        /** The scenario file, relative to the replay file's folder (absolute when on another drive). */
        file: z.string(),
        /** The path the scenario was loaded as (messages name it); replay loads it the same way when it can. */
        loadedAs: z.string(),
        /** sha256 of the scenario file's text. */
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        /**
         * sha256 of what the run is made of: the validated scenario and its server images (`scenarioContentHash`).
         * A replay refuses to run when it changed; an edit of comments or layout alone is only noted. Absent in
         * replays recorded before it existed: the text's hash decides then.
         */
        contentSha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .optional(),
        name: z.string(),
        /** A mini-redirector module given by path, and its hash (a changed module is reported, not refused). */
        minirdr: z.object({ file: z.string(), sha256: z.string() }).strict().optional(),
      })
      .strict(),
    /** The kernel seed of the run (the scenario's setup.seed unless overridden). */
    seed: z.union([z.number().int(), z.string()]),
    profile: z.enum(["docs", "reactos"]),
    checks: z.record(z.string(), CheckModeSchema),
    /** Faults injected on top of the scenario's setup.faults (`--fault`), in their text form. */
    faults: z.array(z.string()).optional(),
    strategy: ReplayStrategyInfo,
    /** Every scheduling choice of the failing run, in order. */
    choices: z.array(z.number().int().min(0)),
    /** What failed. */
    failure: z
      .object({
        /** The kind of failure shrinking preserves (first failure kind / stop code). */
        signature: z.string(),
        /** Every failure of the run, in words. */
        failures: z.array(z.string()),
        stop: StopSummary.nullable(),
      })
      .strict(),
    /** How the run was found. */
    found: z.object({ schedules: z.number().int().min(0), seconds: z.number().min(0) }).strict(),
    /** The shrunk reproducer, when shrinking ran. */
    shrunk: z
      .object({
        choices: z.array(z.number().int().min(0)),
        preemptions: z.object({ before: z.number().int(), after: z.number().int() }).strict(),
        deviations: z.object({ before: z.number().int(), after: z.number().int() }).strict(),
        steps: z.object({ before: z.number().int(), after: z.number().int() }).strict(),
        faults: z.object({ before: z.number().int(), after: z.number().int() }).strict().optional(),
        /** The minimal scenario YAML, relative to the replay file's folder. */
        scenario: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ReplayFile = z.infer<typeof ReplayFileSchema>;

export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The hash a replay records for a loaded scenario: its file's text, or (no file) its validated content. */
export function scenarioHash(loaded: LoadedScenario): string {
  const p = resolve(loaded.file);
  if (existsSync(p)) return sha256(readFileSync(p));
  return sha256(JSON.stringify(loaded.scenario, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
}

/**
 * The hash of what a run of the scenario is made of: its validated content and its server images (fixtures
 * resolved), as JSON with each mapping's keys sorted and bytes as hex. Comments, layout, quoting and key order do
 * not change it; a step, a setting or a server image's file does.
 */
export function scenarioContentHash(loaded: LoadedScenario): string {
  const canonical = (_k: string, v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
    if (v instanceof Map) return { map: [...v.entries()] };
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(o).sort()) sorted[key] = o[key];
      return sorted;
    }
    return v;
  };
  return sha256(JSON.stringify({ scenario: loaded.scenario, servers: loaded.servers }, canonical));
}

/** A mini-redirector named by path, with its file's hash; undefined for built-in and caller-given modules. */
export function minirdrFile(loaded: LoadedScenario): { file: string; sha256: string } | undefined {
  const name = loaded.scenario.setup.minirdr;
  if (loaded.modules[name] || BUILTIN_MINIRDRS[name]) return undefined;
  const p = isAbsolute(name) ? name : resolve(loaded.baseDir, name);
  if (!existsSync(p)) return undefined;
  return { file: p, sha256: sha256(readFileSync(p)) };
}

/** A stop, as the replay file records it. */
export function stopSummary(report: ScenarioReport): StopSummary | null {
  const s = report.stops.find((x) => x.fatal);
  return s ? { kind: s.kind, code: s.code, name: s.name, reason: s.reason, check: s.check, thread: s.thread } : null;
}

/** Write a replay file; paths inside become relative to its folder. */
export function writeReplayFile(path: string, replay: ReplayFile): void {
  const dir = dirname(resolve(path));
  const rel = (p: string): string => {
    const r = relative(dir, resolve(p));
    return isAbsolute(r) ? r : r.startsWith(".") ? r : `./${r}`;
  };
  const out: ReplayFile = {
    ...replay,
    scenario: {
      ...replay.scenario,
      file: rel(replay.scenario.file),
      ...(replay.scenario.minirdr
        ? { minirdr: { ...replay.scenario.minirdr, file: rel(replay.scenario.minirdr.file) } }
        : {}),
    },
    ...(replay.shrunk?.scenario ? { shrunk: { ...replay.shrunk, scenario: rel(replay.shrunk.scenario) } } : {}),
  };
  // Number lists (the schedules) on one line each.
  const text = JSON.stringify(out, null, 2).replace(/\[\s*\d+(?:,\s*\d+)*\s*\]/g, (m) =>
    m.replace(/\s+/g, " ").replace("[ ", "[").replace(" ]", "]"),
  );
  writeFileSync(path, `${text}\n`);
}

export type ReadReplayResult =
  | { readonly ok: true; readonly replay: ReplayFile; readonly scenarioFile: string }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Read and validate a replay file; `scenarioFile` is the scenario's absolute path. */
export function readReplayFile(path: string): ReadReplayResult {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    return { ok: false, problems: [`${path}: ${e instanceof Error ? e.message : String(e)}`] };
  }
  const r = ReplayFileSchema.safeParse(value);
  if (!r.success) {
    return {
      ok: false,
      problems: r.error.issues.map((i) => `${path}: ${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`),
    };
  }
  const dir = dirname(resolve(path));
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const replay: ReplayFile = {
    ...r.data,
    scenario: {
      ...r.data.scenario,
      ...(r.data.scenario.minirdr
        ? { minirdr: { ...r.data.scenario.minirdr, file: abs(r.data.scenario.minirdr.file) } }
        : {}),
    },
    ...(r.data.shrunk?.scenario ? { shrunk: { ...r.data.shrunk, scenario: abs(r.data.shrunk.scenario) } } : {}),
  };
  return { ok: true, replay, scenarioFile: abs(r.data.scenario.file) };
}

/** Failures with the scenario's path replaced, so runs loaded under different paths compare equal. */
export function normalizeFailures(failures: readonly string[], file: string): string[] {
  return failures.map((f) => f.split(file).join("<scenario>"));
}

/**
 * Failures as a replay compares them: normalized, and without their places in the scenario file
 * ("callback-twice.yaml:9", "<scenario>:12:5"). Lines move with an edit of comments or layout, which does not change
 * the run (the content hash says so).
 */
function comparable(failures: readonly string[], file: string): string[] {
  const name = basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const at = new RegExp(`(<scenario>|${name})(?::\\d+){1,2}`, "g");
  return normalizeFailures(failures, file).map((f) => f.replace(at, "$1"));
}

export interface ReplayOutcome {
  readonly report: ScenarioReport;
  /** The run failed with the same failures (same words, same order) and the same stop as recorded. */
  readonly reproduced: boolean;
  /** Where the run left the recording (a choice that no longer fits), if it did. */
  readonly divergence: string | null;
  /** What differs from the recording, in words. */
  readonly differences: readonly string[];
}

export interface ReplayRunOptions {
  readonly trace?: boolean;
  readonly onFinish?: (em: Emulator, report: ScenarioReport) => void;
  /** Replay the shrunk schedule instead of the full one. */
  readonly shrunk?: boolean;
}

/** The replay's extra faults, parsed; throws on a spec this version cannot read. */
export function replayFaults(replay: ReplayFile): FaultSpec[] {
  const out: FaultSpec[] = [];
  for (const f of replay.faults ?? []) {
    const r = parseFaultSpec(f);
    if ("error" in r) throw new Error(`fault "${f}": ${r.error}`);
    out.push(r.spec);
  }
  return out;
}

/**
 * How a replayed run's stop differs from the recorded one, in words (null: the same, locations in the scenario file
 * aside): the stop's name when that differs, else the first field that does.
 */
function describeStopDifference(
  recorded: StopSummary | null,
  recordedFile: string,
  got: StopSummary | null,
  gotFile: string,
): string | null {
  if (recorded === null || got === null) {
    return recorded === got ? null : `stop differs: recorded ${recorded?.name ?? "none"}, got ${got?.name ?? "none"}`;
  }
  if (recorded.name !== got.name) return `stop differs: recorded ${recorded.name}, got ${got.name}`;
  const fields = ["kind", "code", "check", "thread", "reason"] as const;
  for (const f of fields) {
    const a = f === "reason" ? comparable([recorded.reason], recordedFile)[0] : recorded[f];
    const b = f === "reason" ? comparable([got.reason], gotFile)[0] : got[f];
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      return `stop ${got.name} differs in its ${f}: recorded ${JSON.stringify(recorded[f])}, got ${JSON.stringify(got[f])}`;
    }
  }
  return null;
}

/** Run the recorded schedule again and compare. */
export async function replayRun(
  loaded: LoadedScenario,
  replay: ReplayFile,
  options: ReplayRunOptions = {},
): Promise<ReplayOutcome> {
  const choices = options.shrunk && replay.shrunk ? replay.shrunk.choices : replay.choices;
  const strategy = new ReplayStrategy(choices);
  const report = await runScenario(loaded, {
    seed: replay.seed,
    profile: replay.profile,
    checks: replay.checks as Record<string, CheckMode>,
    ...(replay.faults && replay.faults.length > 0 ? { faults: replayFaults(replay) } : {}),
    strategy: new RecordingStrategy(strategy),
    ...(options.trace ? { trace: true } : {}),
    ...(options.onFinish ? { onFinish: options.onFinish } : {}),
  });
  const differences: string[] = [];
  if (report.passed) differences.push("the run passed: the recorded failure did not happen");
  const got = normalizeFailures(report.failures, loaded.file);
  const want = normalizeFailures(replay.failure.failures, replay.scenario.loadedAs);
  const gotAsCompared = comparable(report.failures, loaded.file);
  const wantAsCompared = comparable(replay.failure.failures, replay.scenario.loadedAs);
  if (options.shrunk) {
    const sig = failureSignature(report);
    if (!report.passed && sig !== replay.failure.signature)
      differences.push(`fails differently: ${sig}, recorded ${replay.failure.signature}`);
  } else {
    if (JSON.stringify(gotAsCompared) !== JSON.stringify(wantAsCompared)) {
      // The first failure that differs, each side in words ("none" where that side has fewer), and the counts.
      let i = 0;
      while (i < want.length && i < got.length && wantAsCompared[i] === gotAsCompared[i]) i++;
      const say = (f: string | undefined): string => (f === undefined ? "none" : JSON.stringify(f));
      const counts = want.length === got.length ? "" : ` (${got.length} failure(s), recorded ${want.length})`;
      differences.push(`failure ${i + 1} differs: recorded ${say(want[i])}, got ${say(got[i])}${counts}`);
    }
    const stop = stopSummary(report);
    const stopDifference = describeStopDifference(replay.failure.stop, replay.scenario.loadedAs, stop, loaded.file);
    if (stopDifference !== null) differences.push(stopDifference);
  }
  return { report, reproduced: differences.length === 0, divergence: strategy.divergence, differences };
}
