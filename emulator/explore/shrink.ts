/**
 * Shrinking a failing run to a minimal reproducer.
 *
 * 1. The schedule: the choices other than 0 (0 is the non-preemptive, FIFO choice) are set back to 0 by delta
 *    debugging over their positions — halves, then quarters, … then one at a time — keeping a change only when the
 *    run still fails the same way (the same failure signature: stop kind and code, or the first failing step's op
 *    and status; see signature.ts). Trailing zeros are dropped: a replay that runs out of choices continues FIFO.
 * 2. The scenario, where the failure survives: injected faults (setup.faults, with the extra faults of the search
 *    moved into it), whole threads, then steps (last first), dropped one at a time, keeping each drop after which
 *    the document still loads and the run still fails the same way under the shrunk schedule, until nothing more
 *    goes; then the schedule is shrunk again.
 * 3. The result is written as scenario YAML with `setup.schedule`, so that a plain `rdbss run` fails.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { type Document, isMap, isSeq, parseDocument } from "yaml";
import { BUILTIN_MINIRDRS } from "../../miniredirs/index.js";
import { type FaultSpec, formatFaultSpec } from "../faults/index.js";
import { type CheckMode, ReplayStrategy } from "../kernel/index.js";
import {
  FIXTURES_DIR,
  type LoadedScenario,
  parseScenario,
  runScenario,
  type ScenarioReport,
} from "../scenario/index.js";
import { failureSignature } from "../scenario/signature.js";
import { confirmInFull, runRecorded, searchChecks } from "./explore.js";
import { countPreemptions, type DecisionLog } from "./strategies.js";

export interface ShrinkOptions {
  readonly runSeed?: number | string;
  readonly profile?: "docs" | "reactos";
  readonly checks?: Readonly<Record<string, CheckMode>>;
  /** The scenario's text (default: read from the loaded file). Without it only the schedule is shrunk. */
  readonly text?: string;
  /** Where the minimal YAML will live (relative paths in it are rewritten for that folder); default: beside the original. */
  readonly outputDir?: string;
  /** Upper bound on runs (default 3000). */
  readonly maxRuns?: number;
  /** Faults injected on top of the scenario's (`rdbss explore --fault`); the minimal YAML lists them in setup.faults. */
  readonly faults?: readonly FaultSpec[];
  /** Shrink the scenario's steps (and faults) too (default true). */
  readonly steps?: boolean;
  /** As explore's: false runs every candidate with the full checks (default true: candidates run without the ledger). */
  readonly leanSearch?: boolean;
  /** A comment for the top of the YAML. */
  readonly header?: string;
}

export interface ShrinkResult {
  /** The shrunk schedule (no trailing zeros). */
  readonly choices: readonly number[];
  readonly signature: string;
  readonly preemptions: { readonly before: number; readonly after: number };
  /** Choices other than 0 (preemptions plus non-FIFO picks after a block). */
  readonly deviations: { readonly before: number; readonly after: number };
  readonly steps: { readonly before: number; readonly after: number };
  /** Injected fault specs (the scenario's setup.faults plus `faults`). */
  readonly faults: { readonly before: number; readonly after: number };
  readonly runs: number;
  /** The minimal scenario (YAML with setup.schedule); null when the scenario's text was not available. */
  readonly yaml: string | null;
  /** The failing run of the minimal scenario. */
  readonly report: ScenarioReport;
}

function trimZeros(c: readonly number[]): number[] {
  let n = c.length;
  while (n > 0 && c[n - 1] === 0) n--;
  return c.slice(0, n);
}

function deviations(c: readonly number[]): number {
  let n = 0;
  for (const x of c) if (x !== 0) n++;
  return n;
}

function countSteps(loaded: LoadedScenario): number {
  let n = 0;
  for (const t of loaded.threads) n += t.steps.length;
  return n;
}

/** Rewrite relative module and fixture paths of a scenario document for a new folder. */
function relocate(doc: Document, loaded: LoadedScenario, outputDir: string): void {
  const rel = (abs: string): string => {
    const r = relative(outputDir, abs).split("\\").join("/");
    return isAbsolute(r) ? r : r.startsWith(".") ? r : `./${r}`;
  };
  const minirdr = loaded.scenario.setup.minirdr;
  if (!loaded.modules[minirdr] && !BUILTIN_MINIRDRS[minirdr] && !isAbsolute(minirdr)) {
    const abs = resolve(loaded.baseDir, minirdr);
    if (existsSync(abs)) doc.setIn(["setup", "minirdr"], rel(abs));
  }
  const servers = doc.getIn(["setup", "servers"]);
  if (isSeq(servers)) {
    servers.items.forEach((item, i) => {
      if (!isMap(item)) return;
      const f = item.get("fixture");
      if (typeof f !== "string" || isAbsolute(f)) return;
      const abs = resolve(loaded.baseDir, f);
      if (existsSync(abs) && !existsSync(resolve(FIXTURES_DIR, f)))
        doc.setIn(["setup", "servers", i, "fixture"], rel(abs));
    });
  }
}

/** Shrink a failing schedule (and the scenario, when its text is available). */
export async function shrinkFailure(
  loaded: LoadedScenario,
  failingChoices: readonly number[],
  options: ShrinkOptions = {},
): Promise<ShrinkResult> {
  const maxRuns = options.maxRuns ?? 3000;
  const baseOpts = {
    ...(options.runSeed !== undefined ? { runSeed: options.runSeed } : {}),
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
    ...(options.checks !== undefined ? { checks: options.checks } : {}),
  };
  /** Faults given on top of the scenario's; moved into its setup.faults once the YAML is built. */
  let extraFaults: readonly FaultSpec[] = options.faults ?? [];
  const faultsBefore = loaded.scenario.setup.faults.length + extraFaults.length;
  let runs = 0;
  // Candidates run lean (explore.ts, searchChecks); the result is run again with the full checks for its report.
  const fullChecks = { ...loaded.scenario.setup.checks, ...(options.checks ?? {}) };
  const run = async (
    l: LoadedScenario,
    choices: readonly number[],
    full = false,
  ): Promise<{ report: ScenarioReport; log: DecisionLog }> => {
    runs++;
    const checks = full || options.leanSearch === false ? fullChecks : searchChecks(l, fullChecks);
    return runRecorded(l, new ReplayStrategy(choices), { ...baseOpts, checks, faults: extraFaults });
  };

  const first = await run(loaded, failingChoices);
  if (first.report.passed) throw new Error("shrinkFailure: the given schedule does not fail");
  const signature = failureSignature(first.report);
  const preemptionsBefore = countPreemptions(first.log);
  const deviationsBefore = deviations(first.report.choices);
  const stepsBefore = countSteps(loaded);

  let current = loaded;
  let best = trimZeros(first.report.choices);
  let bestRun = first;

  /** Try a schedule on the current scenario; adopt it (normalized to what really ran) if it fails the same way. */
  const attempt = async (l: LoadedScenario, choices: readonly number[]): Promise<boolean> => {
    if (runs >= maxRuns) return false;
    const r = await run(l, choices);
    if (r.report.passed || failureSignature(r.report) !== signature) return false;
    best = trimZeros(r.report.choices);
    bestRun = r;
    return true;
  };

  const shrinkSchedule = async (): Promise<void> => {
    let granularity = 2;
    for (;;) {
      const positions: number[] = [];
      best.forEach((c, i) => {
        if (c !== 0) positions.push(i);
      });
      if (positions.length === 0 || runs >= maxRuns) return;
      const n = Math.min(granularity, positions.length);
      const chunk = Math.ceil(positions.length / n);
      let progressed = false;
      for (let s = 0; s < positions.length; s += chunk) {
        const candidate = best.slice();
        for (const p of positions.slice(s, s + chunk)) candidate[p] = 0;
        if (await attempt(current, trimZeros(candidate))) {
          progressed = true;
          granularity = Math.max(2, granularity - 1);
          break;
        }
      }
      if (!progressed) {
        if (chunk <= 1) return;
        granularity = Math.min(positions.length, granularity * 2);
      }
    }
  };

  await shrinkSchedule();

  // The scenario's text: shrink steps and write the YAML.
  const text = options.text ?? (existsSync(resolve(loaded.file)) ? readFileSync(resolve(loaded.file), "utf8") : null);
  const outputDir = resolve(options.outputDir ?? loaded.baseDir);
  let yaml: string | null = null;
  if (text !== null) {
    let doc: Document = parseDocument(text);
    relocate(doc, loaded, outputDir);
    const render = (d: Document, choices: readonly number[]): string => {
      const c = d.clone();
      c.deleteIn(["setup", "strategy"]);
      const faults = c.getIn(["setup", "faults"]);
      if (isSeq(faults) && faults.items.length === 0) c.deleteIn(["setup", "faults"]);
      if (!isMap(c.get("setup"))) c.set("setup", c.createNode({}));
      // What the search overrode for every run becomes part of the scenario, so that a plain run is the same run.
      const setup = loaded.scenario.setup;
      if (options.runSeed !== undefined && options.runSeed !== setup.seed) c.setIn(["setup", "seed"], options.runSeed);
      if (options.profile !== undefined && options.profile !== setup.profile)
        c.setIn(["setup", "profile"], options.profile);
      for (const [k, v] of Object.entries(options.checks ?? {}))
        if (setup.checks[k] !== v) c.setIn(["setup", "checks", k], v);
      c.setIn(["setup", "schedule"], c.createNode([...choices], { flow: true }));
      return c.toString({ lineWidth: 120 });
    };
    const load = (t: string): LoadedScenario | null => {
      const r = parseScenario(t, loaded.file, { baseDir: outputDir, modules: loaded.modules });
      return r.ok ? r.loaded : null;
    };
    const tryDoc = async (d: Document): Promise<boolean> => {
      const l = load(render(d, best));
      if (l === null) return false;
      if (!(await attempt(l, best))) return false;
      current = l;
      doc = d;
      return true;
    };
    if (extraFaults.length > 0) {
      // The extra faults become part of the scenario (after its own, as they were injected), so they can be shrunk.
      const d = doc.clone();
      const list = d.getIn(["setup", "faults"]);
      const texts = extraFaults.map(formatFaultSpec);
      if (isSeq(list)) for (const f of texts) list.add(d.createNode(f));
      else d.setIn(["setup", "faults"], d.createNode(texts));
      const saved = extraFaults;
      extraFaults = [];
      if (!(await tryDoc(d))) extraFaults = saved;
    }
    if (options.steps !== false) {
      /** One pass over threads and steps; true when something was dropped. */
      const pass = async (): Promise<boolean> => {
        let dropped = false;
        const drop = async (path: (string | number)[]): Promise<void> => {
          const d = doc.clone();
          d.deleteIn(path);
          if (await tryDoc(d)) dropped = true;
        };
        const faults = doc.getIn(["setup", "faults"]);
        for (let i = (isSeq(faults) ? faults.items.length : 0) - 1; i >= 0; i--) await drop(["setup", "faults", i]);
        const threads = doc.get("threads");
        if (isMap(threads)) {
          const names = threads.items.map((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key));
          for (const name of [...names].reverse()) {
            const t = doc.get("threads");
            if (!isMap(t) || t.items.length <= 1) break;
            await drop(["threads", name]);
          }
          const remaining = doc.get("threads");
          const left = isMap(remaining)
            ? remaining.items.map((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key))
            : [];
          for (const name of left) {
            const steps = doc.getIn(["threads", name, "steps"]);
            for (let i = (isSeq(steps) ? steps.items.length : 0) - 1; i >= 0; i--) {
              const cur = doc.getIn(["threads", name, "steps"]);
              if (!isSeq(cur) || cur.items.length <= 1) break;
              await drop(["threads", name, "steps", i]);
            }
          }
        } else {
          const steps = doc.get("steps");
          for (let i = (isSeq(steps) ? steps.items.length : 0) - 1; i >= 0; i--) {
            const cur = doc.get("steps");
            if (!isSeq(cur) || cur.items.length <= 1) break;
            await drop(["steps", i]);
          }
        }
        return dropped;
      };
      // Dropping a step can free another (a signal once its waiter is gone): repeat until nothing more goes.
      while ((await pass()) && runs < maxRuns) {}
      if (current !== loaded) await shrinkSchedule();
    }
    const out = doc.clone();
    if (options.header) out.commentBefore = options.header;
    yaml = render(out, best);
    // The document as written must load and, run plainly (its own seed, profile, checks and schedule), fail the same way.
    const check = load(yaml);
    if (check === null) yaml = null;
    else {
      runs++;
      const plain = await runScenario(check, { lean: false });
      if (plain.passed || failureSignature(plain) !== signature) yaml = null;
    }
  }

  if (options.leanSearch !== false && searchChecks(current, fullChecks) !== fullChecks) {
    // The shortest schedule on the smallest scenario, with every instrument: the report returned.
    const shrunk = current;
    bestRun = await confirmInFull(bestRun, () => run(shrunk, best, true), "shrinkFailure: the shortest schedule");
  }
  return {
    choices: best,
    signature,
    preemptions: { before: preemptionsBefore, after: countPreemptions(bestRun.log) },
    deviations: { before: deviationsBefore, after: deviations(best) },
    steps: { before: stepsBefore, after: countSteps(current) },
    faults: { before: faultsBefore, after: current.scenario.setup.faults.length + extraFaults.length },
    runs,
    yaml,
    report: bestRun.report,
  };
}
