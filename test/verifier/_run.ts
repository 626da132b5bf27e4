/** Helpers for the verifier tests: run a scenario body against the buggy nulmrx (test/verifier/_buggy.ts). */
import type { ExecutionContext } from "ava";
import {
  formatProblem,
  formatReport,
  parseScenario,
  type RunOptions,
  runScenario,
  type ScenarioReport,
  type StopReport,
} from "../../emulator/scenario/index.js";
import { buggyModule } from "./_buggy.js";

/** YAML for `net use X: \\srv\share` as the first step. */
export const NET_USE = "  - op: net-use\n    drive: X\n    remote: \\\\srv\\share\n";

/**
 * Run `body` (the YAML after `setup:`, starting with `steps:` or `threads:`) on nulmrx with bug `bug` ("none": the
 * correct nulmrx). `setup` adds setup keys (YAML lines, indented two spaces); `expect` the top-level expect block.
 */
export async function runBug(
  bug: string,
  body: string,
  opts: { setup?: string; expect?: string; name?: string; options?: RunOptions } = {},
): Promise<ScenarioReport> {
  const text = `name: ${opts.name ?? bug}\nsetup:\n  minirdr: buggy\n  options: { bug: ${bug} }\n${opts.setup ?? ""}${body}${
    opts.expect ? `expect:\n${opts.expect}` : ""
  }`;
  const r = parseScenario(text, `${bug}.yaml`, { modules: { buggy: buggyModule } });
  if (!r.ok) throw new Error(`${r.problems.map(formatProblem).join("\n")}\n${text}`);
  return runScenario(r.loaded, opts.options ?? {});
}

/** The run's stop (the fatal one). */
export function fatal(r: ScenarioReport): StopReport | null {
  return r.stops.find((s) => s.fatal) ?? null;
}

/** Assert the scenario passed (its expectations hold), showing the report otherwise. */
export function passed(t: ExecutionContext, r: ScenarioReport): void {
  t.true(r.passed, formatReport(r));
}

/** Assert the run stopped with 0x27 and this RDBSS_ASSERT sub-code from `check`; returns the stop. */
export function rdbssStop(t: ExecutionContext, r: ScenarioReport, check: string, sub: number): StopReport {
  const s = fatal(r);
  if (s === null) throw new Error(`expected a stop:\n${formatReport(r)}`);
  t.is(s.code, "0x00000027", s.text);
  t.is(s.check, check, s.text);
  t.is(BigInt(s.params[0] as string), BigInt((0xa55a0000 | sub) >>> 0), s.text);
  return s;
}
