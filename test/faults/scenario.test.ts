/**
 * Faults from scenarios, RunOptions and the command line: every injected fault is in the report (site, hit, time,
 * thread, step), in its text and JSON forms and in the trace; faults are armed while the steps run (not during boot,
 * START or teardown); `fault` steps arm one counted from the step; `rdbss run --fault` and the fixtures.
 */
import { join } from "node:path";
import test from "ava";
import { formatReport, reportJson } from "../../emulator/scenario/index.js";
import type { TraceEvent } from "../../emulator/trace/index.js";
import { toChromeTrace } from "../../emulator/trace/perfetto.js";
import { ROOT, rdbss } from "../_cli.js";
import { run } from "../scenario/_run.js";
import { runLifecycle, show } from "./_lifecycle.js";

const NET_USE = `  - op: net-use
    drive: X
    remote: \\\\srv\\share
`;

test("the report lists each injected fault with its site, hit, time, thread and step; text and JSON show it", async (t) => {
  const r = await run(`name: report
setup:
  faults: [RxCreateNetFcb@2]
steps:
${NET_USE}  - op: create
    path: X:\\a.txt
  - op: create
    id: second
    path: X:\\b.txt
    expect: STATUS_INSUFFICIENT_RESOURCES
`);
  t.true(r.passed, show(r));
  t.deepEqual(r.faults, [
    {
      site: "RxCreateNetFcb",
      hit: 2,
      time: r.faults[0]?.time ?? -1,
      thread: "main",
      spec: "RxCreateNetFcb@2",
      detail: "\\srv\\share\\b.txt",
      effect: "NULL (STATUS_INSUFFICIENT_RESOURCES)",
      step: "steps[2] (create second, line 10)",
    },
  ]);
  t.true((r.faults[0]?.time ?? 0) > 0);
  t.regex(
    formatReport(r),
    /Faults injected:\n {4}RxCreateNetFcb hit 2 \(RxCreateNetFcb@2\) at [\d.]+ s on main during steps\[2\] \(create second, line 10\): NULL \(STATUS_INSUFFICIENT_RESOURCES\) — \\srv\\share\\b\.txt/,
  );
  t.notRegex(formatReport(r, { quiet: true }), /Faults injected/);
  t.deepEqual((reportJson(r) as { faults: unknown }).faults, r.faults);
});

test("a fault on a worker or transport thread names the step it acted for", async (t) => {
  const r = await runLifecycle("memsmb", [{ site: "transport.receive", nth: 3 }]);
  t.is(r.faults[0]?.thread, "srvsvc conn 1", "the server thread sends the response");
  t.is(r.faults[0]?.step, "steps[1] (create, line 8)");
});

test("the trace has a fault event at the site", async (t) => {
  let all: TraceEvent[] = [];
  let events: TraceEvent[] = [];
  const r = await run(
    `name: trace
steps:
${NET_USE}  - op: create
    path: X:\\a.txt
    expect: STATUS_INSUFFICIENT_RESOURCES
`,
    {
      trace: true,
      faults: [{ site: "RxCreateSrvOpen", nth: 1 }],
      onFinish: (em) => {
        all = [...em.k.trace.events];
        events = all.filter((e) => e.kind === "fault");
      },
    },
  );
  t.true(r.passed, show(r));
  t.deepEqual(
    events.map((e) => [e.what, e.data?.hit, e.data?.spec, e.data?.effect]),
    [["RxCreateSrvOpen", 1, "RxCreateSrvOpen@1", "NULL (STATUS_INSUFFICIENT_RESOURCES)"]],
  );
  const chrome = toChromeTrace(all);
  const instant = chrome.traceEvents.find((e) => e.name === "fault RxCreateSrvOpen");
  t.like(instant, { ph: "i", args: { hit: 1, spec: "RxCreateSrvOpen@1" } });
});

test("faults are armed while the steps run: boot, DriverEntry and START are not counted, teardown never fails", async (t) => {
  // START's RX_CONTEXT would be hit 1 if START were counted; the net use's IOCTL is the first hit.
  const r = await run(
    `name: window
steps:
${NET_USE}`,
    { faults: [{ site: "RxCreateRxContext", nth: 1 }] },
  );
  t.is(r.faults[0]?.step, "steps[0] (net-use, line 3)");
  t.is(r.steps[0]?.status, "STATUS_INSUFFICIENT_RESOURCES");
  // Every later RX_CONTEXT fails as well, but teardown (which closes and deletes connections) runs without faults.
  const all = await run(
    `name: window
steps:
${NET_USE}  - op: create
    path: X:\\a.txt
    as: h
    expect: STATUS_SUCCESS
`,
    { faults: [{ site: "RxCreateRxContext", nth: 10, count: Number.POSITIVE_INFINITY }] },
  );
  t.true(all.passed, show(all));
  t.deepEqual(all.leaks, []);
});

test("RunOptions.faults come after setup.faults; both apply", async (t) => {
  const r = await run(
    `name: both
setup:
  faults: ["RxCreateNetFcb@1"]
steps:
${NET_USE}  - op: create
    path: X:\\a.txt
    expect: STATUS_INSUFFICIENT_RESOURCES
  - op: create
    path: X:\\b.txt
    expect: STATUS_INSUFFICIENT_RESOURCES
`,
    { faults: [{ site: "RxCreateSrvOpen", nth: 1 }] },
  );
  t.true(r.passed, show(r));
  t.deepEqual(
    r.faults.map((f) => f.spec),
    ["RxCreateNetFcb@1", "RxCreateSrvOpen@1"],
  );
});

test("a fault step arms a fault counted from the step; without a site it still drops connections", async (t) => {
  const r = await run(`name: step
steps:
${NET_USE}  - op: create
    path: X:\\a.txt
  - op: fault
    site: RxCreateNetFcb
  - op: create
    path: X:\\b.txt
    expect: STATUS_INSUFFICIENT_RESOURCES
  - op: create
    path: X:\\c.txt
  - op: fault
    site: server.CREATE
    nth: 2
    status: STATUS_ACCESS_DENIED
  - op: create
    path: X:\\d.txt
  - op: create
    path: X:\\e.txt
    expect: STATUS_ACCESS_DENIED
  - op: fault
    drop: srv
  - op: create
    path: X:\\f.txt
    expect: STATUS_CONNECTION_DISCONNECTED
`);
  t.true(r.passed, show(r));
  t.deepEqual(
    r.faults.map((f) => `${f.site}#${f.hit} ${f.spec}`),
    ["RxCreateNetFcb#2 RxCreateNetFcb@1", "server.CREATE#4 server.CREATE@2,status=STATUS_ACCESS_DENIED"],
  );
  t.regex(r.steps.find((s) => s.op === "fault")?.sent ?? "", /arm fault RxCreateNetFcb@1 \(hits counted from here\)/);
});

test("rdbss run --fault: repeatable, reported, and a bad spec is a usage error (exit 2) with a suggestion", async (t) => {
  const file = join(ROOT, "fixtures/scenarios/net-use-basic.yaml");
  const r = await rdbss("run", file, "--fault", "RxCreateNetFcb@1", "--fault", "transport.send~0.0001");
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /Faults injected:\n {4}RxCreateNetFcb hit 1 \(RxCreateNetFcb@1\)/);
  const json = await rdbss("run", file, "--json", "--fault", "RxCreateNetFcb@1");
  const report = JSON.parse(json.stdout) as { faults: { site: string; hit: number }[] };
  t.like(report.faults[0], { site: "RxCreateNetFcb", hit: 1 });
  const bad = await rdbss("run", file, "--fault", "RxCreateNetFbc@1");
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--fault "RxCreateNetFbc@1": unknown fault site .*did you mean RxCreateNetFcb/);
  const help = await rdbss("help");
  t.regex(help.stdout, /--fault SPEC/);
});

test("the fault fixtures pass under rdbss run fixtures/faults --summary", async (t) => {
  const r = await rdbss("run", join(ROOT, "fixtures/faults"), "--summary");
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /(\d+) of \1 scenarios passed\./);
});
