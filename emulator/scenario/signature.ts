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
