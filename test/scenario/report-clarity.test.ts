/**
 * What a failing scenario's report says, and that it says it once: who holds what a deadlocked thread waits for
 * when the holder is not a thread (an RX_CONTEXT behind an owner pointer, a SyncEvent), where a stop outside every
 * step came (on a worker, at teardown), the stop's reason and history printed once, and leaks listed once each, the
 * likely cause first, one holder a line. The buggy mini-redirectors are test/verifier/_buggy.ts's.
 */
import test, { type ExecutionContext } from "ava";
import { formatReport, type ScenarioReport } from "../../emulator/scenario/index.js";
import { fatal, NET_USE, runBug } from "../verifier/_run.js";
import { passed, run } from "./_run.js";

const NEVER = "report.read-never-completes";
const create = (synchronous: boolean) =>
  `  - op: create\n    path: X:\\f.txt\n    as: h\n    synchronous: ${synchronous}\n`;
const DELETE = "  - op: net-use-delete\n    drive: X\n";

/** How many times `needle` occurs in `text`. */
const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

function stopText(t: ExecutionContext, r: ScenarioReport): string {
  const s = fatal(r);
  if (s === null) throw new Error(`expected a stop:\n${formatReport(r)}`);
  t.truthy(s.text);
  return s.text;
}

test("an asynchronous read that never completes: the FCB resource it holds through an owner pointer is named with its RX_CONTEXT, operation, MRx routine and step", async (t) => {
  const read = "  - op: read\n    handle: h\n    offset: 0\n    length: 4\n    as: r\n";
  const r = await runBug(NEVER, `steps:\n${NET_USE}${create(false)}${read}  - op: close\n    handle: h\n`, {
    expect: "  stop: { kind: deadlock }\n",
  });
  passed(t, r);
  const text = stopText(t, r);
  t.regex(
    text,
    /thread \d+ "main" waits for ERESOURCE "FCB \\srv\\share\\f\.txt" \(exclusive\) held shared by RX_CONTEXT#\d+ \(owner pointer, since steps\[2\] report\.read-never-completes\.yaml:13\): IRP_MJ_READ, LOWIO_OP_READ pended by MRxLowIOSubmit\[LOWIO_OP_READ\] \[nulmrx\], which has not called RxLowIoCompletion$/m,
  );
  t.notRegex(text, /no owner/);
});

test("a synchronous read that never completes: the SyncEvent wait names its RX_CONTEXT and what pended it; the step is interrupted, not 'not run'", async (t) => {
  const r = await runBug(NEVER, `steps:\n${NET_USE}${create(true)}  - op: read\n    handle: h\n    length: 4\n`);
  const text = stopText(t, r);
  t.regex(
    text,
    /thread \d+ "main" waits for KEVENT "RX_CONTEXT SyncEvent" of RX_CONTEXT#\d+ \(IRP_MJ_READ, LOWIO_OP_READ pended by MRxLowIOSubmit\[LOWIO_OP_READ\] \[nulmrx\], which has not called RxLowIoCompletion\)/,
  );
  const read = r.steps.find((s) => s.op === "read");
  t.is(read?.outcome, "interrupted");
  const report = formatReport(r);
  t.regex(report, /^ {2}! 13 {3}read {12}\(interrupted: the run stopped during this step\)$/m);
  // The MRx call the interrupted step made is the one that never finished: listed in the text and the JSON.
  t.deepEqual(read?.mrx, ["MRxLowIOSubmit[LOWIO_OP_READ]"]);
  t.regex(
    report,
    /\(interrupted: the run stopped during this step\)\n {27}MRx so far: MRxLowIOSubmit\[LOWIO_OP_READ\]$/m,
  );
  t.notRegex(report, /not run: \(/);
  t.regex(report.split("\n")[0] ?? "", /; 2 steps, 1 interrupted, /);
  t.regex(report, /thread main was at report\.read-never-completes\.yaml:13:5 \(steps\[2\], read\)/);
  t.regex(report, /First divergence: the run stopped: DEADLOCK \(check deadlock\) — the stop above$/m);
});

test("a stop on a worker after the last step names that step", async (t) => {
  const r = await runBug("minirdrContract.context-not-cleared", `steps:\n${NET_USE}${DELETE}`);
  const s = fatal(r);
  t.regex(s?.thread ?? "", /worker/);
  t.deepEqual(s?.steps, [
    "no step was running: the run stopped after minirdrContract.context-not-cleared.yaml:9:5 (steps[1], net-use-delete), the last step to run",
  ]);
  t.regex(formatReport(r), /\n {2}no step was running: the run stopped after .*:9:5 \(steps\[1\], net-use-delete\)/);
});

test("a stop at teardown: named once with its phase and the last step; its reason and reference history are printed once", async (t) => {
  const r = await runBug("lostConnection.quiescence", `steps:\n${NET_USE}${DELETE}`);
  t.false(r.passed);
  t.deepEqual(r.failures.length, 1, r.failures.join("\n"));
  t.regex(
    r.failures[0] ?? "",
    /^the run stopped during teardown \(quiescence\): RDR_FILE_SYSTEM — V_NET_ROOT#\d+ \\;X:0\\srv\\share still holds its add-connection reference, .* lives until the driver unloads\.$/,
  );
  t.deepEqual(fatal(r)?.steps, [
    "the run stopped during teardown (quiescence), after lostConnection.quiescence.yaml:9:5 (steps[1], net-use-delete), the last step",
  ]);
  const report = formatReport(r);
  t.is(occurrences(report, "Reference history of"), 1, report);
  t.is(occurrences(report, "still holds its add-connection reference"), 1, report);
  t.regex(
    report,
    /First divergence: the run stopped during teardown \(quiescence\): RDR_FILE_SYSTEM \(check lostConnection\) — the stop above$/m,
  );
  t.notRegex(report, /\n {2}also: /);
});

test("a pool leak at unload: the reason is printed once", async (t) => {
  const r = await runBug("pool.leak", `steps:\n${NET_USE}`);
  t.is(r.failures.length, 1, r.failures.join("\n"));
  const report = formatReport(r);
  t.is(occurrences(report, "unloaded without freeing 1 pool allocation"), 1, report);
  t.regex(report, /the run stopped during teardown \(unload\), after pool\.leak\.yaml:6:5 \(steps\[0\], net-use\)/);
  t.regex(report.split("\n")[0] ?? "", /; 1 step, /);
});

test("a leaked reference: the holder that never dropped it leads, each structure is listed once, one holder a line", async (t) => {
  const body = `name: leak\nsetup: { minirdr: nulmrx }\nthreads:\n  k:\n    system: true\n    steps:\n${NET_USE.replace(/^/gm, "    ").trimEnd()}\n      - op: call\n        routine: RxReference\n        object: NET_ROOT \\srv\\share\n${DELETE.replace(/^/gm, "    ")}`;
  const r = await run(body);
  t.false(r.passed);
  t.is(r.leaks.length, 2, r.leaks.join("\n"));
  const [netRoot, srvCall] = r.leaks;
  t.is(
    netRoot?.split("\n").slice(0, 2).join("\n"),
    "NET_ROOT#2 \\srv\\share (count 2) never freed — held by:\n  1 × RxReference (thread k) (thread k, threads.k.steps[1] t.yaml:10, 0.000000 s)",
  );
  t.regex(srvCall ?? "", /^SRV_CALL#1 \\srv \(count 2\) alive at unload and never freed — held by:\n {2}1 × /);
  t.is(r.leaks.filter((l) => l.includes("SRV_CALL#1 \\srv (")).length, 1, "the SRV_CALL once");
  t.is(r.failures.length, 1);
  t.is(
    r.failures[0],
    "left after teardown: NET_ROOT#2 \\srv\\share (count 2) never freed — held by 1 × RxReference (thread k) (thread k, threads.k.steps[1] t.yaml:10, 0.000000 s) and 1 other reference; 1 more left",
  );
  const report = formatReport(r).split("\n");
  const at = report.indexOf("  Left after teardown:");
  t.deepEqual(
    report.slice(at + 1, at + 7).map((l) => l.replace(/ \(thread k, .*\)$/, "")),
    [
      "    NET_ROOT#2 \\srv\\share (count 2) never freed — held by:",
      "      1 × RxReference (thread k)",
      "      1 × netname table entry (RxCreateNetRoot)",
      "    SRV_CALL#1 \\srv (count 2) alive at unload and never freed — held by:",
      "      1 × netname table entry (RxCreateSrvCall)",
      "      1 × NET_ROOT#2 \\srv\\share — RxCreateNetRoot (NET_ROOT → SRV_CALL)",
    ],
  );
});

test("a violation recorded (check in record mode) prints where it happened: the thread and its call chain", async (t) => {
  const steps = `steps:\n${NET_USE}${create(true)}  - op: close\n    handle: h\n`;
  const r = await runBug("rdbss.cleanup-bad-node-type", steps, {
    setup: "  checks: { minirdrContract: record }\n",
    expect: "  stop: { code: 0x27, parameter1: 0xC1EE0100 }\n  violations: [minirdrContract]\n",
  });
  passed(t, r);
  const recorded = r.stops.find((s) => !s.fatal);
  t.is(recorded?.thread, "main");
  const report = formatReport(r);
  t.regex(
    report,
    /^ {2}recorded: RDR_FILE_SYSTEM \(minirdrContract\): RxFinishFcbInitialization\(FCB#\d+ .*\n {12}on thread "main": NtCreateFile → IRP_MJ_CREATE → \\Device\\NulMRx → MRxCreate \[nulmrx\] → RxFinishFcbInitialization$/m,
  );
});
