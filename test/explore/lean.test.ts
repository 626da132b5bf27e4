/**
 * The lean search (explore's default): candidate schedules run without the reference ledger, and a failing one runs
 * again with every check for its report. The search must find the same schedule with the same report as a search
 * that runs everything with the full checks, and must say so when a failure does not come back.
 */
import { join } from "node:path";
import test from "ava";
import { explore, runRecorded, searchChecks, shrinkFailure } from "../../emulator/explore/index.js";
import { ReplayStrategy } from "../../emulator/kernel/index.js";
import { formatProblem, loadScenarioFile, parseScenario } from "../../emulator/scenario/index.js";
import { loadRace, RACES } from "./_races.js";

const FLAKY = join(RACES, "..", "flaky", "flaky.yaml");

test("searchChecks: the ledger off, unless it is off already or a stop's reason is expected", (t) => {
  const loaded = loadRace("early-deref");
  t.deepEqual(searchChecks(loaded, {}), { ledger: "off" });
  t.deepEqual(searchChecks(loaded, { leaks: "stop", ledger: "record" }), { leaks: "stop", ledger: "off" });
  const off = { ledger: "off" } as const;
  t.is(searchChecks(loaded, off), off);
  const withReason = parseScenario(
    `name: a stop whose reason is expected
setup: { minirdr: nulmrx }
steps: [{ op: net-use, drive: X, remote: \\\\srv\\share }]
expect: { stop: { code: RDR_FILE_SYSTEM, reason: "Reference history" } }
`,
    "reason.yaml",
  );
  if (!withReason.ok) return t.fail(withReason.problems.map(formatProblem).join("\n"));
  const checks = { leaks: "stop" } as const;
  t.is(searchChecks(withReason.loaded, checks), checks);
});

test("a run under searchChecks has the same schedule, stops and statuses, without the reference histories", async (t) => {
  const loaded = loadRace("early-deref");
  const found = await explore(loaded, { strategy: "pct", seed: 1, iterations: 500 });
  if (!found.report) return t.fail("pct found nothing");
  const choices = found.report.choices;
  const lean = await runRecorded(loaded, new ReplayStrategy(choices), { checks: searchChecks(loaded, {}) });
  const full = await runRecorded(loaded, new ReplayStrategy(choices), {});
  t.false(lean.report.passed);
  t.deepEqual(lean.report.choices, full.report.choices);
  t.deepEqual(lean.log.states, full.log.states);
  t.deepEqual(
    lean.report.steps.map((s) => [s.thread, s.op, s.status, s.outcome]),
    full.report.steps.map((s) => [s.thread, s.op, s.status, s.outcome]),
  );
  t.deepEqual(
    lean.report.stops.map((s) => [s.kind, s.code, s.check]),
    full.report.stops.map((s) => [s.kind, s.code, s.check]),
  );
  // The report explore returns is the full run's: the stop is explained by the structure's reference history.
  const reason = (r: typeof found.report) => r.stops.find((s) => s.fatal)?.reason ?? "";
  t.regex(reason(found.report), /Reference history of /);
  t.regex(reason(full.report), /Reference history of /);
  t.notRegex(reason(lean.report), /Reference history of /);
  t.deepEqual(found.report.stops, full.report.stops);
  t.deepEqual(found.report.failures, full.report.failures);
});

for (const [race, strategy, iterations] of [
  ["early-deref", "random", 3000],
  ["callback-twice", "pct", 500],
  ["notify-cancel", "random", 3000],
  ["close-vs-delete", "dfs", 3000],
] as const) {
  test(`${race}, ${strategy}: the lean search finds what the full search finds, with the same report`, async (t) => {
    const loaded = loadRace(race);
    const lean = await explore(loaded, { strategy, seed: 1, iterations });
    const full = await explore(loaded, { strategy, seed: 1, iterations, leanSearch: false });
    t.true(full.found);
    t.is(lean.found, full.found);
    t.is(lean.iterations, full.iterations);
    t.is(lean.distinctStates, full.distinctStates);
    t.is(lean.distinctSchedules, full.distinctSchedules);
    t.deepEqual(lean.replay?.choices, full.replay?.choices);
    t.deepEqual(lean.replay?.failure, full.replay?.failure);
    t.deepEqual(lean.replay?.strategy, full.replay?.strategy);
    t.deepEqual(lean.report?.stops, full.report?.stops);
    t.deepEqual(lean.report?.failures, full.report?.failures);
    t.deepEqual(lean.log, full.log);
  });
}

test("a search that finds nothing sees the same states lean and full", async (t) => {
  const r = loadScenarioFile(join(RACES, "..", "..", "..", "fixtures", "bench", "race3.yaml"));
  if (!r.ok) return t.fail(r.problems.map(formatProblem).join("\n"));
  const lean = await explore(r.loaded, { strategy: "random", seed: 3, iterations: 60 });
  const full = await explore(r.loaded, { strategy: "random", seed: 3, iterations: 60, leanSearch: false });
  t.false(lean.found);
  t.is(lean.iterations, 60);
  t.is(lean.distinctStates, full.distinctStates);
  t.is(lean.distinctSchedules, full.distinctSchedules);
});

test("a failure that does not come back when its schedule runs again: explore says the run is not deterministic", async (t) => {
  const r = loadScenarioFile(FLAKY);
  if (!r.ok) return t.fail(r.problems.map(formatProblem).join("\n"));
  const e = await t.throwsAsync(explore(r.loaded, { strategy: "random", seed: 1, iterations: 10 }));
  t.regex(
    e?.message ?? "",
    /^explore: schedule [01] failed \(leak\) and, run again with the same seed and schedule, passed: the run is not deterministic/,
  );
  // Without the lean search nothing runs twice: the first failing run is the result.
  const full = await explore(r.loaded, { strategy: "random", seed: 1, iterations: 10, leanSearch: false });
  t.true(full.found);
  t.regex(full.report?.failures.join("\n") ?? "", /left a buffer behind/);
});

test("shrinking: lean candidates give the same reproducer, and the report of a full run", async (t) => {
  const loaded = loadRace("callback-twice");
  const found = await explore(loaded, { strategy: "pct", seed: 1, iterations: 500 });
  if (!found.report) return t.fail("pct found nothing");
  const lean = await shrinkFailure(loaded, found.report.choices);
  const full = await shrinkFailure(loaded, found.report.choices, { leanSearch: false });
  t.deepEqual(lean.choices, full.choices);
  t.is(lean.signature, full.signature);
  t.deepEqual(lean.steps, full.steps);
  t.deepEqual(lean.preemptions, full.preemptions);
  t.is(lean.yaml, full.yaml);
  t.is(lean.runs, full.runs + 1, "one more run: the result again, with the ledger");
  t.deepEqual(lean.report.stops, full.report.stops);
  t.deepEqual(lean.report.failures, full.report.failures);
});
