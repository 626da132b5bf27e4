/**
 * The kind of a failing run, as shrinking preserves it: the run's stop (kind, code, check), else the first
 * unexpected recorded violation, else the first failing step (its op and status), else leaks, else a thread error.
 * Step paths and line numbers are left out on purpose: dropping steps moves them.
 */
import type { ScenarioReport } from "./runner.js";

export function failureSignature(report: ScenarioReport): string {
  const fatal = report.stops.find((s) => s.fatal);
  if (fatal) return `stop ${fatal.kind} ${fatal.code}${fatal.check ? ` ${fatal.check}` : ""}`;
  const violation = report.failures.find((f) => f.startsWith("a check recorded a violation"));
  if (violation) {
    const v = report.stops.find((s) => !s.fatal);
    return `violation ${v?.check ?? v?.name ?? "?"}`;
  }
  const step = report.steps.find((s) => s.outcome === "failed" || s.outcome === "error");
  if (step) return `step ${step.op} ${step.outcome}${step.status ? ` ${step.status}` : ""}`;
  if (report.failures.some((f) => f.startsWith("left after teardown"))) return "leak";
  if (report.failures.some((f) => /^thread .* threw/.test(f))) return "thread error";
  return `other ${report.failures[0] ?? ""}`;
}

/** How a second run of the same scenario, seed and schedule came out unlike the first (see rerunDifference). */
export interface RerunDifference {
  /** It passed; it failed with another signature; it failed the same way on another schedule. */
  readonly how: "passed" | "failed differently" | "another schedule";
  /** The second run's failure signature ("passed" when it passed). */
  readonly signature: string;
}

/**
 * Whether a run made again from the same scenario, seed and schedule ended as the first did: null when it did (the
 * same failure signature, or both passed, and the same scheduling choices), else how it differs. Explore's
 * confirmation and runScenario's lean-first run ask it of a deterministic system, where any difference is a fault.
 */
export function rerunDifference(first: ScenarioReport, again: ScenarioReport): RerunDifference | null {
  const sig = first.passed ? "passed" : failureSignature(first);
  const sigAgain = again.passed ? "passed" : failureSignature(again);
  if (sig !== sigAgain) return { how: sigAgain === "passed" ? "passed" : "failed differently", signature: sigAgain };
  const a = first.choices;
  const b = again.choices;
  let same = a.length === b.length;
  for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
  return same ? null : { how: "another schedule", signature: sigAgain };
}
