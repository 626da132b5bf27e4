/**
 * RxSearchForCollapsibleOpen asks the mini-redirector twice: MRxShouldTryToCollapseThisOpen before the search, with
 * pRelevantSrvOpen NULL (may this open collapse at all?), and again with the candidate SRV_OPEN found in
 * pRelevantSrvOpen (may it collapse onto this one?). Refusing the candidate sends the open to the server
 * (MRxCreate on a new SRV_OPEN) instead of MRxCollapseOpen.
 */
import test from "ava";
import type { Emulator } from "../../emulator/boot.js";
import { type NTSTATUS, STATUS } from "../../emulator/kernel/index.js";
import type { RX_CONTEXT } from "../../emulator/rdbss/index.js";
import { formatProblem, formatReport, parseScenario, runScenario } from "../../emulator/scenario/index.js";
import type { MiniRdrModule } from "../../miniredirs/index.js";
import { type NulExtensions, NulMrx } from "../../miniredirs/nulmrx/index.js";
import { nulmrxSubclassModule } from "./_helpers.js";

/** nulmrx recording what each MRxShouldTryToCollapseThisOpen saw in pRelevantSrvOpen; refuses candidates if asked. */
class CandidateNulMrx extends NulMrx {
  readonly asked: (string | null)[] = [];
  constructor(
    em: Emulator,
    private readonly refuseCandidates: boolean,
  ) {
    super(em.rx, {});
  }

  override MRxShouldTryToCollapseThisOpen(ctx?: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const so = ctx?.pRelevantSrvOpen ?? null;
    this.asked.push(so === null ? null : so.label());
    return so !== null && this.refuseCandidates ? STATUS.STATUS_NOT_SUPPORTED : STATUS.STATUS_SUCCESS;
  }
}

function candidateModule(refuse: boolean, seen: CandidateNulMrx[]): MiniRdrModule {
  return nulmrxSubclassModule("nulmrx judging candidates", (em) => {
    const mrx = new CandidateNulMrx(em, refuse);
    seen.push(mrx);
    return mrx;
  });
}

const SCENARIO = `name: collapse onto a candidate
setup:
  minirdr: candidates
steps:
  - { op: net-use, drive: N, remote: \\\\nul\\share, expect: STATUS_SUCCESS }
  - { op: create, path: N:\\a.txt, as: h, disposition: FILE_CREATE, expect: STATUS_SUCCESS }
  - { op: close, handle: h, expect: STATUS_SUCCESS }
  - { op: create, path: N:\\a.txt, as: h2, disposition: FILE_OPEN, expect: STATUS_SUCCESS }
  - { op: close, handle: h2, expect: STATUS_SUCCESS }
`;

async function run(refuse: boolean) {
  const seen: CandidateNulMrx[] = [];
  const p = parseScenario(SCENARIO, "collapse.yaml", { modules: { candidates: candidateModule(refuse, seen) } });
  if (!p.ok) throw new Error(p.problems.map(formatProblem).join("\n"));
  const report = await runScenario(p.loaded, { lean: false });
  return { report, mrx: seen[0] as CandidateNulMrx };
}

test("the reopen asks twice, first with no SRV_OPEN, then with the dormant one; accepted, it collapses", async (t) => {
  const { report, mrx } = await run(false);
  t.true(report.passed, formatReport(report));
  t.is(mrx.asked.length, 2);
  t.is(mrx.asked[0], null);
  t.regex(mrx.asked[1] ?? "", /^SRV_OPEN#\d+/);
  t.deepEqual(report.steps[3]?.mrx, [
    "MRxShouldTryToCollapseThisOpen",
    "MRxShouldTryToCollapseThisOpen",
    "MRxCollapseOpen",
  ]);
});

test("refusing the candidate sends the open to the server: MRxCreate on a new SRV_OPEN, no MRxCollapseOpen", async (t) => {
  const { report, mrx } = await run(true);
  t.true(report.passed, formatReport(report));
  t.deepEqual(mrx.asked.slice(0, 1), [null]);
  t.regex(mrx.asked[1] ?? "", /^SRV_OPEN#\d+/);
  const reopen = report.steps[3]?.mrx ?? [];
  t.deepEqual(reopen.slice(0, 2), ["MRxShouldTryToCollapseThisOpen", "MRxShouldTryToCollapseThisOpen"]);
  t.true(reopen.includes("MRxCreate"), reopen.join(", "));
  t.false(reopen.includes("MRxCollapseOpen"), reopen.join(", "));
  t.is(report.leaks.length, 0);
});
