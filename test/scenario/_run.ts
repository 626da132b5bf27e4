/** Helpers for scenario tests: run YAML text and look at the report. */
import type { ExecutionContext } from "ava";
import {
  formatProblem,
  formatReport,
  type LoadedScenario,
  parseScenario,
  type RunOptions,
  runScenario,
  type ScenarioReport,
} from "../../emulator/scenario/index.js";

export function load(text: string, file = "t.yaml"): LoadedScenario {
  const r = parseScenario(text, file);
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.loaded;
}

export async function run(text: string, options: RunOptions = {}): Promise<ScenarioReport> {
  return runScenario(load(text), options);
}

/** Assert the scenario passed; on failure show the whole report. */
export function passed(t: ExecutionContext, r: ScenarioReport): void {
  t.true(r.passed, formatReport(r));
}

/** Assert it failed, and that the first failure matches. */
export function failedWith(t: ExecutionContext, r: ScenarioReport, first: RegExp): void {
  t.false(r.passed, "expected the scenario to fail");
  t.regex(r.failures[0] ?? "", first, formatReport(r));
}

/** The step reports of one op, in order. */
export function stepsOf(r: ScenarioReport, op: string) {
  return r.steps.filter((s) => s.op === op);
}
