/**
 * memsmb's fault sites: transport.send and transport.receive (a reset connection, a lost message, a late one) and
 * server.<OP> (the server answers with an error and does nothing). Swept over the lifecycle at every hit: no stop,
 * nothing left after teardown, and the step that fails says STATUS_CONNECTION_DISCONNECTED (memsmb does not
 * reconnect) or the server's status. Probability faults over the network replay exactly from the seed.
 */
import test, { type ExecutionContext } from "ava";
import { type FaultSpec, SERVER_OPERATIONS } from "../../emulator/faults/index.js";
import type { ScenarioReport } from "../../emulator/scenario/index.js";
import { run } from "../scenario/_run.js";
import { runLifecycle, show } from "./_lifecycle.js";

function clean(t: ExecutionContext, r: ScenarioReport, what: string): void {
  t.deepEqual(r.stops, [], `${what}: no stop\n${show(r)}`);
  t.deepEqual(r.leaks, [], `${what}: nothing left\n${show(r)}`);
  t.false(
    r.steps.some((s) => s.outcome === "error"),
    `${what}: no step threw\n${show(r)}`,
  );
}

async function sweep(
  t: ExecutionContext,
  spec: Omit<FaultSpec, "nth">,
  check: (r: ScenarioReport, what: string) => void,
): Promise<number> {
  for (let nth = 1; nth <= 100; nth++) {
    const r = await runLifecycle("memsmb", [{ ...spec, nth } as FaultSpec]);
    const what = `${spec.site}@${nth}${spec.action ? ` ${spec.action}` : ""}`;
    if (r.faults.length === 0) return nth - 1;
    t.is(r.faults.length, 1);
    clean(t, r, what);
    check(r, what);
  }
  t.fail(`${spec.site} was hit more than 100 times`);
  return 100;
}

for (const site of ["transport.send", "transport.receive"] as const) {
  for (const action of ["disconnect", "lose"] as const) {
    test(`${site} ${action} at each message in turn: the failing step says STATUS_CONNECTION_DISCONNECTED, nothing leaks`, async (t) => {
      const hits = await sweep(t, { site, action }, (r, what) => {
        const failed = r.steps.filter((s) => s.outcome === "failed");
        t.true(failed.length <= 1, what);
        for (const s of failed) t.is(s.status, "STATUS_CONNECTION_DISCONNECTED", `${what}: ${s.path}\n${show(r)}`);
      });
      t.true(hits >= 8, `every request and response of the lifecycle is a hit (${hits})`);
    });
  }
}

test("a lost message resets the connection `delay` later: the request waits that long, then fails", async (t) => {
  const r = await runLifecycle("memsmb", [{ site: "transport.send", nth: 3, action: "lose", delay: 30_000_000 }]);
  clean(t, r, "lose");
  const create = r.steps.find((s) => s.path === "steps[1]");
  t.is(create?.status, "STATUS_CONNECTION_DISCONNECTED");
  t.true((create?.time ?? 0) >= 3, `the CREATE waited for the reset (${create?.time} s)`);
  t.regex(r.faults[0]?.effect ?? "", /lost; connection reset 3000 ms later/);
});

test("a delayed message arrives late and the run completes; a delayed response only slows its request", async (t) => {
  const r = await runLifecycle("memsmb", [{ site: "transport.receive", nth: 3, action: "delay", delay: 20_000_000 }]);
  t.true(r.passed, show(r));
  const create = r.steps.find((s) => s.path === "steps[1]");
  t.true((create?.time ?? 0) >= 2, `the CREATE's response came 2 s late (${create?.time} s)`);
  t.is(r.faults[0]?.detail, "response to CREATE #3 on connection 1");
});

test("a delayed CHANGE_NOTIFY is overtaken by the CREATE after it: the server sees the change first", async (t) => {
  // The change happens before the server has the watch, so the notification does not report it (as on a real
  // network); cancelling the request ends it with no records.
  const r = await run(`name: overtaken
setup:
  faults: ["transport.send@4,action=delay,delay=500ms"]
steps:
  - op: net-use
    drive: X
    remote: \\\\srv\\share
  - op: create
    path: X:\\w
    as: w
    options: FILE_DIRECTORY_FILE
    access: FILE_LIST_DIRECTORY | SYNCHRONIZE
    synchronous: false
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n
  - op: create
    path: X:\\w\\new.txt
  - op: advance
    by: 1s
  - op: cancel
    request: n
  - op: wait
    request: n
    expect: STATUS_CANCELLED
  - op: close
    handle: w
`);
  t.true(r.passed, show(r));
  t.is(r.faults[0]?.detail, "CHANGE_NOTIFY #4 on connection 1");
});

for (const op of SERVER_OPERATIONS) {
  test(`server.${op} failing at each hit in turn: the server's status comes back, nothing leaks`, async (t) => {
    await sweep(t, { site: `server.${op}` }, (r, what) => {
      const failed = r.steps.filter((s) => s.outcome === "failed");
      t.true(failed.length <= 1, what);
      for (const s of failed) t.is(s.status, "STATUS_INSUFF_SERVER_RESOURCES", `${what}: ${s.path}\n${show(r)}`);
    });
    t.pass();
  });
}

test("server.CREATE, WRITE and CHANGE_NOTIFY are reached by the lifecycle and fail their steps", async (t) => {
  const create = await runLifecycle("memsmb", [{ site: "server.CREATE", nth: 1 }]);
  t.is(create.steps.find((s) => s.path === "steps[1]")?.status, "STATUS_INSUFF_SERVER_RESOURCES");
  const write = await runLifecycle("memsmb", [{ site: "server.WRITE", nth: 1, status: 0xc000007f }]);
  t.is(write.steps.find((s) => s.op === "write")?.status, "STATUS_DISK_FULL");
  t.is(write.faults[0]?.effect, "STATUS_DISK_FULL");
  const notify = await runLifecycle("memsmb", [{ site: "server.CHANGE_NOTIFY", nth: 1 }]);
  t.is(notify.steps.find((s) => s.op === "wait")?.status, "STATUS_INSUFF_SERVER_RESOURCES");
  for (const r of [create, write, notify]) clean(t, r, r.faults[0]?.site ?? "?");
});

test("a failed CLOSE leaves the server open until the connection goes; teardown still leaves nothing", async (t) => {
  const r = await runLifecycle("memsmb", [{ site: "server.CLOSE", nth: 1, count: Number.POSITIVE_INFINITY }]);
  clean(t, r, "server.CLOSE");
  t.true(r.passed, show(r));
  t.true(r.faults.length >= 1);
});

test("network probability faults replay exactly from the seed", async (t) => {
  const plan: FaultSpec[] = [
    { site: "transport.*", probability: 0.1 },
    { site: "server.*", probability: 0.1 },
    { site: "RxCreate*", probability: 0.05 },
  ];
  const summary = (r: ScenarioReport) => ({
    faults: r.faults.map((f) => `${f.site}#${f.hit}@${f.time}`),
    steps: r.steps.map((s) => `${s.path} ${s.status} ${s.outcome}`),
    leaks: r.leaks,
    stops: r.stops.map((s) => s.name),
  });
  const seen = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
    const a = await runLifecycle("memsmb", plan, seed);
    const b = await runLifecycle("memsmb", plan, seed);
    t.deepEqual(summary(a), summary(b), `seed ${seed} replays`);
    t.deepEqual(a.leaks, [], `seed ${seed}: nothing left\n${show(a)}`);
    t.deepEqual(a.stops, [], `seed ${seed}: no stop\n${show(a)}`);
    seen.add(JSON.stringify(summary(a).faults));
  }
  t.true(seen.size > 1, "different seeds inject different faults");
});
