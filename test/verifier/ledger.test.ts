/**
 * The reference ledger (emulator/rdbss/ledger.ts): every NodeReferenceCount change of the six structures with who
 * made it, the thread, the virtual time and the scenario step; the references still held, grouped by holder; the
 * reports at quiescence and at unload; and nothing at all when it is off.
 */
import test from "ava";
import type { Kernel } from "../../emulator/kernel/index.js";
import { LockHoldingState, RDBSS_ASSERT, type RxNode, type SRV_CALL } from "../../emulator/rdbss/index.js";
import { formatHistory, formatLiveObject, RefLedger } from "../../emulator/rdbss/ledger.js";
import * as H from "../rdbss/_helpers.js";
import { NET_USE, passed, runBug } from "./_run.js";

test("net use builds the SRV_CALL's references with their holders: the table entry and the NET_ROOT's", async (t) => {
  const w = await H.makeWorld();
  H.clean(
    await H.user(w, async (np) => {
      await np.netUse("N", "\\\\srv\\share");
    }),
  );
  const { srvCall, netRoot, vNetRoot } = H.connection(w);
  const ledger = w.em.rx.verifier.ledger;
  if (ledger === null) return t.fail("the ledger is on by default");
  const holders = (o: Parameters<typeof ledger.holders>[0]) => ledger.holders(o).map((g) => `${g.count} × ${g.holder}`);
  t.deepEqual(holders(srvCall), [
    "1 × netname table entry (RxCreateSrvCall)",
    `1 × ${netRoot.label()} — RxCreateNetRoot (NET_ROOT → SRV_CALL)`,
  ]);
  t.deepEqual(holders(vNetRoot), [
    "1 × netname table entry (RxCreateVNetRoot)",
    "1 × RxCreateTreeConnect (add-connection reference)",
  ]);
  t.is(srvCall.NodeReferenceCount, 2);
  const history = ledger.history(srvCall);
  t.true(history.length >= 2);
  const first = history[0];
  t.is(first?.delta, 1);
  t.is(first?.count, 1);
  t.is(first?.thread, "user");
  t.regex(first?.by ?? "", /^RxCreateSrvCall ← IRP_MJ_CREATE → \\Device\\NulMRx/);
  t.true(first?.callChain.includes("MRxDevFcbXXXControlFile [nulmrx]"), first?.callChain.join(" → "));
  // Every change is there, and the last count is the object's.
  t.is(history.at(-1)?.count, srvCall.NodeReferenceCount);
  t.is(
    history.reduce((n, e) => n + e.delta, 0),
    srvCall.NodeReferenceCount,
  );
});

test("after net use /delete every hold is closed, the last by the free; the history reads as a story", async (t) => {
  const w = await H.makeWorld();
  let sc: SRV_CALL | null = null;
  H.clean(
    await H.user(w, async (np) => {
      await np.netUse("N", "\\\\srv\\share");
      sc = H.connection(w).srvCall;
      t.is(await np.netUseDelete("N", 0), 0);
    }),
  );
  const srvCall = sc as unknown as SRV_CALL;
  const ledger = w.em.rx.verifier.ledger;
  if (ledger === null) return t.fail();
  t.not(srvCall.freed, null);
  const lines = formatHistory(ledger.history(srvCall));
  t.regex(lines[0] ?? "", /^\+1 → 1 {2}RxCreateSrvCall ← IRP_MJ_CREATE → \\Device\\NulMRx: netname table entry/);
  t.true(
    lines.some((l) => /^-1 → \d+ {2}RxDereference ← RxFinalizeNetRoot \(drops: NET_ROOT#2/.test(l)),
    lines.join("\n"),
  );
  // The table's reference is never dropped: the structure is freed at count 1 (ReactOS's composition, §1.3).
  t.deepEqual(
    ledger.holds(srvCall).map((h) => h.key),
    ["table"],
  );
});

test("a mini-redirector's RxReference / RxDereference pair closes its own hold, whatever RDBSS did in between", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handConnection(w);
  const ledger = w.em.rx.verifier.ledger;
  if (ledger === null) return t.fail();
  H.clean(
    await H.systemThread(w, "mini-redirector", async (th) => {
      th.frames.push("MRxCreate [test]");
      w.em.rx.RxReference(g.vNetRoot);
      th.frames.pop();
      await H.withNetName(w, async () => {
        w.em.rx.referenceInternal(g.vNetRoot, "a path of RDBSS");
        th.frames.push("MRxCleanupFobx [test]");
        await w.em.rx.RxDereference(g.vNetRoot, LockHoldingState.LHS_ExclusiveLockHeld);
        th.frames.pop();
      });
    }),
  );
  t.deepEqual(
    ledger.holders(g.vNetRoot).map((x) => x.holder),
    ["netname table entry (RxCreateVNetRoot)", "a path of RDBSS"],
  );
});

test("the scenario step of each change is recorded (the runner labels its threads)", async (t) => {
  let steps: string[] = [];
  const r = await runBug("none", `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h\n`, {
    options: {
      onFinish: (em) => {
        const l = em.rx.verifier.ledger;
        const fcbLog = (l ? l.objects() : [])
          .filter((o) => o.kind === "FCB")
          .flatMap((o) => (l ? l.history(o) : []).map((e) => e.step ?? ""));
        steps = fcbLog;
      },
    },
  });
  passed(t, r);
  t.true(steps.includes("steps[1] none.yaml:9"), steps.join(", "));
  t.true(steps.includes("teardown"), "teardown's changes are labelled too");
});

test("at unload every structure still alive is reported with its holders; the leaks check stops with them", async (t) => {
  const w = await H.makeWorld({ checks: { leaks: "record" } });
  H.clean(
    await H.user(w, async (np) => {
      await np.netUse("N", "\\\\srv\\share");
    }),
  );
  const r = await H.systemThread(w, "unload", async () => {
    await w.em.rx.RxUnregisterMinirdr(w.dev);
  });
  t.is(r.stop, null);
  t.is(r.violations.length, 1);
  const v = r.violations[0];
  t.is(v?.check, "leaks");
  t.is(v?.params[0], H.assertParam(RDBSS_ASSERT.LEAK_AT_UNLOAD));
  t.is(v?.params[2], 3n, "three structures");
  t.regex(
    v?.reason ?? "",
    /SRV_CALL#1 \\srv: count 2, held by:\n\s+1 × netname table entry \(RxCreateSrvCall\) \(thread user/,
  );
  t.regex(v?.reason ?? "", /1 × RxCreateTreeConnect \(add-connection reference\)/);
  const report = w.em.rx.verifier.leakReports.at(-1);
  t.is(report?.where, "unload");
  t.deepEqual(
    report?.objects.map((o) => o.kind),
    ["SRV_CALL", "NET_ROOT", "V_NET_ROOT"],
  );
  t.deepEqual(formatLiveObject(report?.objects[0] as never).slice(0, 1), ["SRV_CALL#1 \\srv: count 2, held by:"]);
});

test("the quiescence API reports every live structure; at the teardown point anything alive is a leak (leaks: stop)", async (t) => {
  const allowed = await runBug("ledger.history", `steps:\n${NET_USE}`, { expect: "  leaks: allowed\n" });
  passed(t, allowed);
  t.true(
    allowed.leaks.some((l) => /RxReference ← MRxCreateSrvCall \[nulmrx\] \(thread /.test(l)),
    allowed.leaks.join("\n"),
  );
  const stopped = await runBug("ledger.history", `steps:\n${NET_USE}`, {
    setup: "  checks: { leaks: stop }\n",
    expect: "  stop: { code: 0x27, check: leaks }\n",
  });
  passed(t, stopped);
  const s = stopped.stops.find((x) => x.fatal);
  t.regex(
    s?.reason ?? "",
    /^1 structure\(s\) still alive with no handle open and no connection left:\n {2}SRV_CALL#1 \\srv: count 2, held by:/,
  );
  t.is(s?.thread, "teardown quiescence");
});

test("off: no ledger, nodes record nothing; the rest of RDBSS behaves the same", async (t) => {
  const w = await H.makeWorld({ checks: { ledger: "off" } });
  H.clean(
    await H.user(w, async (np) => {
      await np.netUse("N", "\\\\srv\\share");
    }),
  );
  t.is(w.em.rx.verifier.ledger, null);
  const { srvCall } = H.connection(w);
  t.is(srvCall.ledger, null);
  t.is(srvCall.NodeReferenceCount, 2);
  t.deepEqual(w.em.rx.verifier.history(srvCall), []);
});

test("the compact columns read back exactly: wide counts, far rows, big and fractional times, many contexts, a child with no book yet", (t) => {
  const th = { frames: ["test"], name: "t", stepLabel: null as string | null };
  const k = { current: th, stepLabel: null, now: 0 };
  const ledger = new RefLedger(k as unknown as Kernel);
  const node = (serial: number, kind: string): RxNode => {
    const label = `${kind}#${serial} \\srv\\share\\f`;
    return { serial, kind, label: () => label } as unknown as RxNode;
  };
  const vnr = node(1, "V_NET_ROOT");
  const fcb = node(2, "FCB");
  const other = node(3, "FOBX");
  ledger.record(vnr, 0, 1);
  // The FCB names its reference before it has a book of its own.
  ledger.take(vnr, "RxCreateNetFcb (FCB → V_NET_ROOT)", fcb);
  ledger.record(vnr, 1, 2);
  // 70,000 changes of another object between two of the V_NET_ROOT's, each in a step of its own.
  for (let i = 0; i < 70_000; i++) {
    th.stepLabel = `steps[${i}]`;
    k.now += i % 3 === 0 ? 7 : 0;
    ledger.record(other, i, i + 1);
  }
  th.stepLabel = "last";
  k.now = 2 ** 40 + 0.5;
  ledger.record(vnr, 2, 8_200);
  ledger.drop(vnr, "child:2");
  ledger.record(vnr, 8_200, 8_199);
  const h = ledger.history(vnr);
  t.is(h.length, 8_201 - 256);
  t.is(ledger.dropped(vnr), 256);
  t.is(h[1]?.holder, "FCB#2 \\srv\\share\\f — RxCreateNetFcb (FCB → V_NET_ROOT)");
  t.is(h[1]?.time, 0);
  t.deepEqual(
    h.slice(-2).map((e) => [e.seq, e.delta, e.count, e.holder, e.step, e.time]),
    [
      [70_000 + 8_200, 1, 8_200, "test", "last", 2 ** 40 + 0.5],
      [70_000 + 8_201, -1, 8_199, "FCB#2 \\srv\\share\\f — RxCreateNetFcb (FCB → V_NET_ROOT)", "last", 2 ** 40 + 0.5],
    ],
  );
  t.is(ledger.holds(vnr).length, 8_199);
  t.is(ledger.holds(vnr)[0]?.key, "table");
  // The long history kept its first 16 and its latest changes, with their steps and times.
  const o = ledger.history(other);
  t.is(ledger.dropped(other) + o.length, 70_000);
  t.deepEqual(
    [o[0], o[15], o.at(-1)].map((e) => [e?.count, e?.step, e?.time]),
    [
      [1, "steps[0]", 7],
      [16, "steps[15]", 42],
      [70_000, "steps[69999]", 7 * 23_334],
    ],
  );
});
