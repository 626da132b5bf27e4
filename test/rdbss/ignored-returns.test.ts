/**
 * The MRx entries whose return value RDBSS ignores (rdbss-semantics.md §3): MRxFinalizeSrvCall, MRxFinalizeNetRoot,
 * MRxFinalizeVNetRoot, MRxDeallocateForFcb, MRxDeallocateForFobx and MRxPreparseName. A mini-redirector that
 * returns a failure (or STATUS_PENDING) from all of them must see exactly what one returning STATUS_SUCCESS sees:
 * the same statuses, the same MRx calls in the same order, every structure finalized, nothing leaked. And
 * MRxPreparseName is called once per create of a file on a connection, after canonicalization, with the
 * canonical name.
 */
import test from "ava";
import type { Emulator } from "../../emulator/boot.js";
import { type NTSTATUS, STATUS, statusName } from "../../emulator/kernel/index.js";
import type { MRX_FCB, MRX_SRV_CALL, RX_CONTEXT } from "../../emulator/rdbss/index.js";
import {
  formatProblem,
  formatReport,
  parseScenario,
  runScenario,
  type ScenarioReport,
} from "../../emulator/scenario/index.js";
import type { MiniRdrModule } from "../../miniredirs/index.js";
import { type NulExtensions, NulMrx } from "../../miniredirs/nulmrx/index.js";
import { nulmrxSubclassModule } from "./_helpers.js";

const S = STATUS;

/** nulmrx doing all its work, then answering `answer` from every entry whose return value is ignored. */
class AnsweringNulMrx extends NulMrx {
  readonly preparsed: { readonly name: string; readonly canonical: string; readonly netRootSet: boolean }[] = [];

  constructor(
    em: Emulator,
    private readonly answer: NTSTATUS,
  ) {
    super(em.rx, {});
  }

  override MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<NulExtensions>): NTSTATUS {
    super.MRxFinalizeSrvCall(srvCall);
    return this.answer;
  }

  override MRxFinalizeNetRoot(): NTSTATUS {
    super.MRxFinalizeNetRoot();
    return this.answer;
  }

  override MRxFinalizeVNetRoot(): NTSTATUS {
    super.MRxFinalizeVNetRoot();
    return this.answer;
  }

  override MRxDeallocateForFcb(fcb: MRX_FCB<NulExtensions>): NTSTATUS {
    super.MRxDeallocateForFcb(fcb);
    return this.answer;
  }

  override MRxDeallocateForFobx(): NTSTATUS {
    super.MRxDeallocateForFobx();
    return this.answer;
  }

  MRxPreparseName(ctx: RX_CONTEXT<NulExtensions>, name: string): NTSTATUS {
    this.preparsed.push({ name, canonical: ctx.Create.CanonicalName, netRootSet: ctx.Create.pNetRoot !== null });
    return this.answer;
  }
}

function answering(answer: NTSTATUS, seen: AnsweringNulMrx[]): MiniRdrModule {
  return nulmrxSubclassModule(`nulmrx answering ${statusName(answer)}`, (em) => {
    const mrx = new AnsweringNulMrx(em, answer);
    seen.push(mrx);
    return mrx;
  });
}

/**
 * Every structure made and finalized: a file closed and delay-closed (its FOBX, SRV_OPEN and FCB finalized through
 * net use /delete, with MRxDeallocateForFobx and MRxDeallocateForFcb), a directory opened and closed at once, the
 * connection deleted (MRxFinalizeNetRoot, MRxFinalizeVNetRoot) and the SRV_CALL finalized by its posted worker.
 */
const SCENARIO = `name: ignored return values
setup:
  minirdr: answering
steps:
  - { op: net-use, drive: N, remote: \\\\nul\\share, expect: STATUS_SUCCESS }
  - { op: create, path: N:\\notes.txt, as: h, disposition: FILE_CREATE, expect: STATUS_SUCCESS }
  - { op: write, handle: h, offset: 0, data: "kept", expect: { status: STATUS_SUCCESS, information: 4 } }
  - { op: close, handle: h, expect: STATUS_SUCCESS }
  - { op: create, path: N:\\sub, as: d, disposition: FILE_CREATE, options: FILE_DIRECTORY_FILE, expect: STATUS_SUCCESS }
  - { op: close, handle: d, expect: STATUS_SUCCESS }
  - { op: create, path: N:\\notes.txt, as: h2, disposition: FILE_OPEN, expect: STATUS_SUCCESS }
  - { op: read, handle: h2, offset: 0, length: 10, expect: { status: STATUS_SUCCESS, data: kept } }
  - { op: close, handle: h2, expect: STATUS_SUCCESS }
  - { op: net-use-delete, drive: N, force: FALSE, expect: STATUS_SUCCESS }
  - { op: advance, by: 1ms }
  - op: check
    live: { SRV_CALL: 0, NET_ROOT: 0, V_NET_ROOT: 0, FCB: 0, SRV_OPEN: 0, FOBX: 0 }
`;

async function run(answer: NTSTATUS): Promise<{ report: ScenarioReport; mrx: AnsweringNulMrx }> {
  const seen: AnsweringNulMrx[] = [];
  const r = parseScenario(SCENARIO, "ignored-returns.yaml", { modules: { answering: answering(answer, seen) } });
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  const report = await runScenario(r.loaded, { lean: false });
  const mrx = seen.at(-1);
  if (mrx === undefined) throw new Error("the module was never loaded");
  return { report, mrx };
}

/** What a run shows of RDBSS's behaviour: each step's status, result and MRx calls, then stops and leaks. */
function behaviour(r: ScenarioReport): unknown {
  return {
    steps: r.steps.map((s) => ({ path: s.path, status: s.status, result: s.result, mrx: s.mrx })),
    stops: r.stops.map((s) => s.text),
    leaks: r.leaks,
    failures: r.failures,
  };
}

const FINALIZE_ENTRIES = [
  "MRxFinalizeSrvCall",
  "MRxFinalizeNetRoot",
  "MRxFinalizeVNetRoot",
  "MRxDeallocateForFcb",
  "MRxDeallocateForFobx",
] as const;

test("the baseline: a mini-redirector answering STATUS_SUCCESS passes, and every ignored entry is reached", async (t) => {
  const { report } = await run(S.STATUS_SUCCESS);
  t.true(report.passed, formatReport(report));
  const called = report.steps.flatMap((s) => s.mrx).map((m) => m.replace(/[( @].*$/, ""));
  for (const entry of FINALIZE_ENTRIES) t.true(called.includes(entry), `${entry} was called`);
});

for (const answer of [S.STATUS_UNSUCCESSFUL, S.STATUS_PENDING, S.STATUS_FILES_OPEN, S.STATUS_INSUFFICIENT_RESOURCES]) {
  test(`${FINALIZE_ENTRIES.join(", ")} and MRxPreparseName answering ${statusName(answer)}: RDBSS does exactly what it does on STATUS_SUCCESS`, async (t) => {
    const ok = await run(S.STATUS_SUCCESS);
    const refused = await run(answer);
    t.true(refused.report.passed, formatReport(refused.report));
    t.deepEqual(behaviour(refused.report), behaviour(ok.report));
    t.deepEqual(refused.mrx.preparsed, ok.mrx.preparsed);
  });
}

test("MRxPreparseName: once per create of a file or directory on the connection, after canonicalization, with the NET_ROOT known", async (t) => {
  const { report, mrx } = await run(S.STATUS_SUCCESS);
  t.true(report.passed, formatReport(report));
  // Three creates in the scenario (notes.txt, sub, notes.txt again); net use's own opens of the device are not
  // creates on a connection and are not preparsed.
  t.deepEqual(
    mrx.preparsed.map((p) => p.name),
    ["\\;N:0\\nul\\share\\notes.txt", "\\;N:0\\nul\\share\\sub", "\\;N:0\\nul\\share\\notes.txt"],
  );
  for (const p of mrx.preparsed) {
    t.is(p.canonical, p.name, "Create.CanonicalName is already set to the name it is given");
    t.true(p.netRootSet, "Create.pNetRoot is set");
  }
  // It runs on the create's path before MRxCreate (or the collapse) of the same step.
  const creates = report.steps.filter((s) => s.op === "create");
  for (const s of creates) {
    const i = s.mrx.indexOf("MRxPreparseName");
    t.true(i >= 0, `${s.path}: ${s.mrx.join(", ")}`);
    const open = s.mrx.findIndex((m) => m === "MRxCreate" || m === "MRxCollapseOpen");
    if (open >= 0) t.true(i < open, `${s.path}: MRxPreparseName before ${s.mrx[open]}`);
  }
});
