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

/** The marks of steps that did not finish: never started, or running when the run stopped. */
const NOT_DONE: Partial<Record<StepReport["outcome"], string>> = { "not-run": "·", interrupted: "!" };

/** "1 step", "7 steps" */
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function stepLine(r: StepReport, threads: number, mark: (ok: boolean | null) => string): string[] {
  const who = threads > 1 ? `${pad(r.thread, 8)} ` : "";
  const state = r.outcome === "passed" ? mark(true) : (NOT_DONE[r.outcome] ?? mark(false));
  const head = `  ${state} ${who}${pad(`${r.where.line}`, 4)} ${pad(r.op, 16)}`;
  const lines: string[] = [];
  if (r.outcome === "not-run") {
    lines.push(`${head}(not run)`);
    return lines;
  }
  if (r.outcome === "interrupted") {
    lines.push(`${head}(interrupted: the run stopped during this step)`);
    // What the mini-redirector was called for while the step ran: often the very call that never finished.
    if (r.mrx.length > 0) lines.push(`${" ".repeat(head.length)}  MRx so far: ${r.mrx.join(", ")}`);
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
  const ran = r.steps.filter((s) => s.outcome !== "not-run" && s.outcome !== "interrupted").length;
  const interrupted = r.steps.filter((s) => s.outcome === "interrupted").length;
  lines.push(
    `${mark(r.passed)} ${r.scenario}  (${r.file}; ${r.minirdr}, ${r.profile} profile, seed ${r.seed}; ${plural(ran, "step")}${interrupted > 0 ? `, ${interrupted} interrupted` : ""}, ${r.time.toFixed(3)} s virtual)`,
  );
  if (!o.quiet) for (const s of r.steps) lines.push(...stepLine(s, threads, mark));
  const fatal = r.stops.find((x) => x.fatal);
  if (fatal) {
    lines.push("");
    for (const l of fatal.text.split("\n")) lines.push(`  ${l}`);
    for (const l of fatal.steps) lines.push(`  ${l}`);
  }
  for (const st of r.stops.filter((x) => !x.fatal)) {
    lines.push(`  recorded: ${st.name}${st.check ? ` (${st.check})` : ""}: ${st.reason}`);
    // Where it happened, as a stop would print it, in one line: a recorded violation does not end the run, so the
    // thread and call chain are all that ties it to the code that made it.
    if (st.thread !== null) {
      const chain = st.callChain.length > 0 ? st.callChain.join(" → ") : "—";
      const q = st.queuedBy;
      const queued = q === null ? "" : `; work item queued by thread "${q.thread}"${q.step ? ` (${q.step})` : ""}`;
      lines.push(`            on thread "${st.thread}": ${chain}${queued}`);
    }
  }
  if (!o.quiet && r.faults.length > 0) {
    lines.push("  Faults injected:");
    for (const f of r.faults) lines.push(`    ${formatFaultReport(f)}`);
  }
  if (r.leaks.length > 0) {
    lines.push("  Left after teardown:");
    for (const l of r.leaks) for (const part of l.split("\n")) lines.push(`    ${part}`);
  }
  if (!r.passed) {
    // The failure that restates the stop printed above points to it instead of repeating its reason.
    // ("the run stopped during teardown (unload): NAME — reason" → "… NAME (check pool) — the stop above").
    const show = (f: string) =>
      fatal?.failure === f
        ? `${f.slice(0, f.indexOf(" — "))}${fatal.check ? ` (check ${fatal.check})` : ""} — the stop above`
        : f;
    lines.push(`  First divergence: ${r.failures[0] === undefined ? "(none)" : show(r.failures[0])}`);
    for (const f of r.failures.slice(1)) lines.push(`  also: ${show(f)}`);
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
      queuedBy: s.queuedBy,
      steps: s.steps,
    })),
    leaks: r.leaks,
    faults: r.faults,
    failures: r.failures,
    time: r.time,
    schedulingSteps: r.schedulingSteps,
  };
}
