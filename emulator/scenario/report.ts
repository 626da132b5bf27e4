/**
 * Reports: the readable step-by-step text of a scenario run, and its JSON form (one object per scenario with at
 * least scenario, passed, steps, stops, leaks).
 */
import { formatFaultReport } from "../faults/index.js";
import type { ScenarioReport, StepReport } from "./runner.js";

export interface TextOptions {
  /** One line per scenario (plus the failures). */
  readonly quiet?: boolean;
  /** Colour marks (✔ ✘) — plain ASCII when false. */
  readonly unicode?: boolean;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));

function stepLine(r: StepReport, threads: number, mark: (ok: boolean | null) => string): string[] {
  const who = threads > 1 ? `${pad(r.thread, 8)} ` : "";
  const state = r.outcome === "passed" ? mark(true) : r.outcome === "not-run" ? "·" : mark(false);
  const head = `  ${state} ${who}${pad(`${r.where.line}`, 4)} ${pad(r.op, 16)}`;
  const lines: string[] = [];
  if (r.outcome === "not-run") {
    lines.push(`${head}(not run${r.result ? `: ${r.result}` : ""})`);
    return lines;
  }
  lines.push(`${head}${r.sent}`);
  if (r.result) lines.push(`${" ".repeat(head.length)}→ ${r.result}`);
  if (r.mrx.length > 0) lines.push(`${" ".repeat(head.length)}  MRx: ${r.mrx.join(", ")}`);
  if (r.failure) lines.push(`${" ".repeat(head.length)}${mark(false)} ${r.failure}`);
  return lines;
}

/** The human-readable report of one scenario. */
export function formatReport(r: ScenarioReport, o: TextOptions = {}): string {
  const uni = o.unicode ?? true;
  const mark = (ok: boolean | null) => (ok ? (uni ? "✔" : "ok") : uni ? "✘" : "FAIL");
  const lines: string[] = [];
  const threads = new Set(r.steps.map((s) => s.thread)).size;
  lines.push(
    `${mark(r.passed)} ${r.scenario}  (${r.file}; ${r.minirdr}, ${r.profile} profile, seed ${r.seed}; ${r.steps.filter((s) => s.outcome !== "not-run").length} steps, ${r.time.toFixed(3)} s virtual)`,
  );
  if (!o.quiet) for (const s of r.steps) lines.push(...stepLine(s, threads, mark));
  for (const st of r.stops.filter((x) => x.fatal)) {
    lines.push("");
    for (const l of st.text.split("\n")) lines.push(`  ${l}`);
    for (const l of st.steps) lines.push(`  ${l}`);
  }
  for (const st of r.stops.filter((x) => !x.fatal))
    lines.push(`  recorded: ${st.name}${st.check ? ` (${st.check})` : ""}: ${st.reason}`);
  if (!o.quiet && r.faults.length > 0) {
    lines.push("  Faults injected:");
    for (const f of r.faults) lines.push(`    ${formatFaultReport(f)}`);
  }
  if (r.leaks.length > 0) {
    lines.push("  Left after teardown:");
    for (const l of r.leaks) lines.push(`    ${l}`);
  }
  if (!r.passed) {
    lines.push(`  First divergence: ${r.failures[0] ?? "(none)"}`);
    for (const f of r.failures.slice(1)) lines.push(`  also: ${f}`);
  }
  return lines.join("\n");
}

/** The JSON object of one scenario (stable key order). */
export function reportJson(r: ScenarioReport): Record<string, unknown> {
  return {
    scenario: r.scenario,
    file: r.file,
    passed: r.passed,
    minirdr: r.minirdr,
    profile: r.profile,
    seed: r.seed,
    steps: r.steps.map((s) => ({
      thread: s.thread,
      index: s.index,
      op: s.op,
      ...(s.id !== undefined ? { id: s.id } : {}),
      line: s.where.line,
      sent: s.sent,
      result: s.result,
      status: s.status,
      mrx: s.mrx,
      time: s.time,
      outcome: s.outcome,
      failure: s.failure,
    })),
    stops: r.stops.map((s) => ({
      fatal: s.fatal,
      kind: s.kind,
      code: s.code,
      name: s.name,
      params: s.params,
      reason: s.reason,
      check: s.check,
      thread: s.thread,
      callChain: s.callChain,
      steps: s.steps,
    })),
    leaks: r.leaks,
    faults: r.faults,
    failures: r.failures,
    time: r.time,
    schedulingSteps: r.schedulingSteps,
  };
}
