/**
 * The race suite run against each deliberately buggy variant under test/explore/races: the scenario passes under
 * the default FIFO schedule; `explore` finds the bug from a clean start with seeded random and with PCT; the replay
 * file reproduces the failing run exactly; shrinking yields a scenario YAML that fails under a plain run.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import test from "ava";
import {
  type ExploreStrategyName,
  explore,
  failureSignature,
  readReplayFile,
  replayRun,
  shrinkFailure,
  writeReplayFile,
} from "../../emulator/explore/index.js";
import {
  formatProblem,
  formatReport,
  type LoadedScenario,
  loadScenarioFile,
  parseScenario,
  runScenario,
} from "../../emulator/scenario/index.js";

export const RACES = resolve(new URL(".", import.meta.url).pathname, "races");

export function loadRace(name: string): LoadedScenario {
  const r = loadScenarioFile(join(RACES, `${name}.yaml`));
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.loaded;
}

export interface RaceBudget {
  readonly seed: number;
  readonly iterations: number;
}

/** Register the suite for one race. `signature` matches the failure signature of every way the bug shows. */
export function raceSuite(
  name: string,
  signature: RegExp,
  budgets: Readonly<Record<"random" | "pct", RaceBudget>>,
): void {
  test(`${name}: passes under the default FIFO schedule`, async (t) => {
    const report = await runScenario(loadRace(name));
    t.true(report.passed, formatReport(report));
  });

  for (const strategy of ["random", "pct"] as const satisfies readonly ExploreStrategyName[]) {
    const budget = budgets[strategy];
    test(`${name}: ${strategy} finds it from a clean start; the replay reproduces it exactly; shrinking gives a YAML that fails under a plain run`, async (t) => {
      const loaded = loadRace(name);
      const found = await explore(loaded, { strategy, seed: budget.seed, iterations: budget.iterations });
      t.true(found.found, `${strategy} found nothing in ${found.iterations} schedules`);
      const replay = found.replay;
      if (!replay || !found.report) return;
      t.regex(replay.failure.signature, signature);
      t.log(
        `${name}: ${strategy} (seed ${budget.seed}) needed ${found.iterations} schedules: ${replay.failure.signature}`,
      );

      // The replay file round-trips and reproduces the run exactly.
      const dir = mkdtempSync(join(tmpdir(), `rdbss-explore-${name}-`));
      const file = join(dir, `${name}.replay`);
      writeReplayFile(file, replay);
      const read = readReplayFile(file);
      if (!read.ok) return t.fail(read.problems.join("\n"));
      t.is(read.scenarioFile, resolve(loaded.file));
      t.deepEqual(read.replay.choices, replay.choices);
      const again = await replayRun(loaded, read.replay);
      t.true(again.reproduced, again.differences.join("; "));
      t.is(again.divergence, null);
      t.deepEqual(again.report.failures, found.report.failures);
      t.deepEqual(again.report.stops, found.report.stops);
      t.deepEqual(again.report.choices, found.report.choices);

      // Shrinking: fewer (or as many) preemptions, a YAML that fails the same way under a plain run.
      const shrunk = await shrinkFailure(loaded, replay.choices, { outputDir: dir });
      t.true(shrunk.preemptions.after <= shrunk.preemptions.before);
      t.true(shrunk.deviations.after <= shrunk.deviations.before);
      t.true(shrunk.steps.after <= shrunk.steps.before);
      t.is(shrunk.signature, replay.failure.signature);
      const yaml = shrunk.yaml;
      if (yaml === null) return t.fail("no minimal scenario was written");
      t.regex(yaml, /schedule: \[/);
      const minimal = join(dir, `${name}.min.yaml`);
      writeFileSync(minimal, yaml);
      const parsed = parseScenario(yaml, minimal, { baseDir: dir });
      if (!parsed.ok) return t.fail(parsed.problems.map(formatProblem).join("\n"));
      const plain = await runScenario(parsed.loaded);
      t.false(plain.passed, "the minimal scenario should fail under a plain run");
      t.is(failureSignature(plain), replay.failure.signature, formatReport(plain));
    });
  }
}
