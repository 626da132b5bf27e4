/**
 * The lifecycle (net use, create, write, notify, close, net use /delete) with each allocation site failing at each
 * of its hits in turn, on memsmb and nulmrx: the run never stops, nothing is left after teardown (no RDBSS object,
 * no server session, tree or open), and the step that hit the fault is the one that fails, with
 * STATUS_INSUFFICIENT_RESOURCES. RxDispatchToWorkerThread failing is swept the same way: every caller falls back
 * or fails its request with STATUS_INSUFFICIENT_RESOURCES.
 */
import test, { type ExecutionContext } from "ava";
import type { FaultSpec } from "../../emulator/faults/index.js";
import { runScenario, type ScenarioReport } from "../../emulator/scenario/index.js";
import { load } from "../scenario/_run.js";
import { lifecycle, runLifecycle, show } from "./_lifecycle.js";

const ALLOCATION_SITES = [
  "RxCreateSrvCall",
  "RxCreateNetRoot",
  "RxCreateVNetRoot",
  "RxCreateNetFcb",
  "RxCreateSrvOpen",
  "RxCreateNetFobx",
  "RxCreateRxContext",
] as const;

/** The step a fault record names ("steps[3] (create, line 15)") as a step report. */
function faultedStep(r: ScenarioReport) {
  const f = r.faults[0];
  const path = f?.step?.split(" ")[0];
  return r.steps.find((s) => s.path === path);
}

/** Assert what every faulted run must show: no stop, no leak, no error, exactly the injected fault. */
function clean(t: ExecutionContext, r: ScenarioReport, what: string): void {
  t.deepEqual(r.stops, [], `${what}: no stop\n${show(r)}`);
  t.deepEqual(r.leaks, [], `${what}: nothing left\n${show(r)}`);
  t.false(
    r.steps.some((s) => s.outcome === "error"),
    `${what}: no step threw\n${show(r)}`,
  );
  t.is(r.faults.length, 1, `${what}: one fault\n${show(r)}`);
}

/**
 * Run the lifecycle with `spec` at each nth in turn until the site is no longer reached; `check` looks at each
 * faulted run. Returns how many hits the site had.
 */
async function sweep(
  t: ExecutionContext,
  minirdr: "memsmb" | "nulmrx",
  spec: Omit<FaultSpec, "nth">,
  check: (r: ScenarioReport, what: string) => void,
): Promise<number> {
  for (let nth = 1; nth <= 100; nth++) {
    const r = await runLifecycle(minirdr, [{ ...spec, nth } as FaultSpec]);
    const what = `${minirdr} ${spec.site}@${nth}`;
    if (r.faults.length === 0) {
      t.true(r.passed, `${what}: the site is no longer reached and the run passes\n${show(r)}`);
      return nth - 1;
    }
    t.is(r.faults[0]?.hit, nth);
    clean(t, r, what);
    check(r, what);
  }
  t.fail(`${spec.site} was hit more than 100 times`);
  return 100;
}

for (const minirdr of ["memsmb", "nulmrx"] as const) {
  for (const site of ALLOCATION_SITES) {
    test(`${minirdr}: ${site} failing at each hit in turn leaks nothing; the step fails with STATUS_INSUFFICIENT_RESOURCES`, async (t) => {
      const hits = await sweep(t, minirdr, { site }, (r, what) => {
        const failed = r.steps.filter((s) => s.outcome === "failed");
        t.is(failed.length, 1, `${what}: one step fails (its thread stops there)\n${show(r)}`);
        const step = faultedStep(r);
        t.truthy(step, `${what}: the fault names its step\n${show(r)}`);
        t.is(failed[0]?.path, step?.path, `${what}: the step that hit the fault is the one that fails\n${show(r)}`);
        t.is(failed[0]?.status, "STATUS_INSUFFICIENT_RESOURCES", `${what}\n${show(r)}`);
        t.deepEqual(r.failures.length, 1, `${what}: nothing else went wrong\n${show(r)}`);
      });
      t.true(hits >= 1, `${site} is reached by the lifecycle`);
    });
  }

  test(`${minirdr}: RxDispatchToWorkerThread failing at each hit in turn: a fallback, or the request fails with STATUS_INSUFFICIENT_RESOURCES`, async (t) => {
    const hits = await sweep(t, minirdr, { site: "RxDispatchToWorkerThread" }, (r, what) => {
      for (const s of r.steps.filter((x) => x.outcome === "failed"))
        t.is(s.status, "STATUS_INSUFFICIENT_RESOURCES", `${what}: ${s.path}\n${show(r)}`);
    });
    t.true(hits >= 1);
  });
}

test("the sweeps cover the lifecycle's allocations: one SRV_CALL, NET_ROOT and V_NET_ROOT; three FCBs, SRV_OPENs, FOBXs", async (t) => {
  // A plan that never fires still counts every site reached; read the counts at the last step.
  let hits: Record<string, number> = {};
  const r = await runScenario(load(lifecycle("memsmb")), {
    faults: [{ site: "never.reached", nth: 1 }],
    onStep: (_s, em) => {
      hits = Object.fromEntries(em.k.faults?.siteHits ?? []);
    },
  });
  t.true(r.passed, show(r));
  t.deepEqual(r.faults, []);
  t.like(hits, {
    RxCreateSrvCall: 1,
    RxCreateNetRoot: 1,
    RxCreateVNetRoot: 1,
    RxCreateNetFcb: 3,
    RxCreateSrvOpen: 3,
    RxCreateNetFobx: 3,
  });
  t.true((hits.RxCreateRxContext ?? 0) >= 8, "an RX_CONTEXT for each IRP but cleanup and close");
});
