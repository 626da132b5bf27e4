/**
 * MRxFinalizeNetRoot (seed page 003), MRxFinalizeVNetRoot, RxFinalizeNetRoot and RxFinalizeVNetRoot
 * (rdbss-semantics.md §2, §8 pattern 20): when the mini-redirector's NET_ROOT and V_NET_ROOT callbacks run, with
 * which ForceDisconnect argument, in which order against MRxFinalizeSrvCall, and RxFinalizeNetRoot's
 * FINALIZATION_IN_PROGRESS flag under both profiles.
 */
import test from "ava";
import { STATUS } from "../../emulator/kernel/index.js";
import {
  LockHoldingState,
  type NET_ROOT,
  NETROOT_FLAG,
  type SRV_CALL,
  type V_NET_ROOT,
} from "../../emulator/rdbss/index.js";
import * as H from "./_helpers.js";

const IN_PROGRESS = NETROOT_FLAG.NETROOT_FLAG_FINALIZATION_IN_PROGRESS;

function world(options: H.WorldOptions = {}): Promise<H.World & { rec: H.RecordingNulMrx }> {
  return H.makeWorld({ ...options, makeMrx: (em) => new H.RecordingNulMrx(em) }).then((w) => ({
    ...w,
    rec: w.mrx as H.RecordingNulMrx,
  }));
}

test("the last V_NET_ROOT goes: MRxFinalizeNetRoot(NetRoot, NULL), then MRxFinalizeVNetRoot(VNetRoot, NULL) at its release, then MRxFinalizeSrvCall", async (t) => {
  const w = await world();
  let c: { srvCall: SRV_CALL; netRoot: NET_ROOT; vNetRoot: V_NET_ROOT } | null = null;
  H.clean(
    await H.user(w, async (np) => {
      t.is(await np.netUse("N", "\\\\srv\\share"), 0);
      c = H.connection(w);
      t.is(await np.netUseDelete("N", 1), STATUS.STATUS_SUCCESS);
    }),
  );
  const conn = c as { srvCall: SRV_CALL; netRoot: NET_ROOT; vNetRoot: V_NET_ROOT } | null;
  if (conn === null) return t.fail("no connection");
  t.deepEqual(
    w.rec.finalizeCalls.map((x) => [x.name, x.target]),
    [
      ["MRxFinalizeNetRoot", conn.netRoot.label()],
      ["MRxFinalizeVNetRoot", conn.vNetRoot.label()],
      ["MRxFinalizeSrvCall", conn.srvCall.label()],
    ],
  );
  const [nr, vnr] = w.rec.finalizeCalls;
  // RDBSS passes FALSE (a NULL PBOOLEAN) as ForceDisconnect.
  t.is(nr?.force, null);
  t.is(vnr?.force, null);
  t.false(nr?.freedAtCall);
  t.false(vnr?.freedAtCall);
  t.is(vnr?.countAtCall, 1, "MRxFinalizeVNetRoot runs when only the table's reference is left");
  // §3: both are called with the netname table held.
  t.is(nr?.netNameTable, "exclusive");
  t.is(vnr?.netNameTable, "exclusive");
  t.deepEqual(H.mrxOrder(w, ["MRxFinalizeNetRoot", "MRxFinalizeVNetRoot", "MRxFinalizeSrvCall"]), [
    "MRxFinalizeNetRoot",
    "MRxFinalizeVNetRoot",
    "MRxFinalizeSrvCall",
  ]);
  t.not(conn.vNetRoot.freed, null);
  t.not(conn.netRoot.freed, null);
  t.not(conn.srvCall.freed, null);
});

test("a forced delete with a file open: MRxFinalizeNetRoot at once, MRxFinalizeVNetRoot only when the V_NET_ROOT's memory goes (docs: the scavenger after the close)", async (t) => {
  const w = await world({ profile: "docs" });
  let c: { srvCall: SRV_CALL; netRoot: NET_ROOT; vNetRoot: V_NET_ROOT } | null = null;
  const seen: Record<string, unknown> = {};
  H.clean(
    await H.user(w, async (np) => {
      const h = await H.netUseAndOpen(w, np);
      const conn = H.connection(w);
      c = conn;
      t.is(await np.netUseDelete("N", 1), STATUS.STATUS_SUCCESS);
      seen.afterDelete = w.rec.finalizeCalls.map((x) => x.name);
      seen.vnrAfterDelete = { freed: conn.vNetRoot.freed !== null, upper: conn.vNetRoot.UpperFinalizationDone };
      t.is(await w.em.sys.nt.NtClose(h), STATUS.STATUS_SUCCESS);
      seen.afterClose = w.rec.finalizeCalls.map((x) => x.name);
      seen.markedAfterClose = conn.vNetRoot.scavengerMarked;
      await H.sleep(w, 9);
      seen.after9s = w.rec.finalizeCalls.map((x) => x.name);
      await H.sleep(w, 2);
      seen.after11s = w.rec.finalizeCalls.map((x) => x.name);
    }),
  );
  t.deepEqual(seen, {
    afterDelete: ["MRxFinalizeNetRoot"],
    vnrAfterDelete: { freed: false, upper: true },
    afterClose: ["MRxFinalizeNetRoot"],
    markedAfterClose: true,
    after9s: ["MRxFinalizeNetRoot"],
    after11s: ["MRxFinalizeNetRoot", "MRxFinalizeVNetRoot", "MRxFinalizeSrvCall"],
  });
  const conn = c as { vNetRoot: V_NET_ROOT } | null;
  const vnrCall = w.rec.callsOf("MRxFinalizeVNetRoot")[0];
  t.regex(vnrCall?.thread ?? "", /^Delayed worker/, "the scavenger's pass");
  t.is(vnrCall?.countAtCall, 1);
  t.is(vnrCall?.force, null);
  t.is(vnrCall?.netNameTable, "exclusive", "the scavenger's pass holds the netname table");
  t.not(conn?.vNetRoot.freed ?? null, null);
});

test("[profile:scavengerReclaims] a forced delete with a file open under reactos: MRxFinalizeVNetRoot never runs (the V_NET_ROOT stays marked for the scavenger)", async (t) => {
  const w = await world({ profile: "reactos" });
  let vnr: V_NET_ROOT | null = null;
  H.clean(
    await H.user(w, async (np) => {
      const h = await H.netUseAndOpen(w, np);
      vnr = H.connection(w).vNetRoot;
      await np.netUseDelete("N", 1);
      await w.em.sys.nt.NtClose(h);
      await H.sleep(w, 120);
    }),
  );
  const v = vnr as V_NET_ROOT | null;
  t.deepEqual(
    w.rec.finalizeCalls.map((x) => x.name),
    ["MRxFinalizeNetRoot"],
  );
  t.true(v?.scavengerMarked);
  t.is(v?.freed, null);
  t.is(w.dev.Scavenger.passes, 0);
});

test("two V_NET_ROOTs on one NET_ROOT (two drive letters, one share): MRxFinalizeNetRoot only after both go", async (t) => {
  const w = await world();
  const seen: Record<string, unknown> = {};
  H.clean(
    await H.user(w, async (np) => {
      t.is(await np.netUse("N", "\\\\srv\\share"), 0);
      t.is(await np.netUse("M", "\\\\srv\\share"), 0);
      const n = H.connection(w, "N");
      const m = H.connection(w, "M");
      t.is(n.netRoot, m.netRoot);
      t.is(H.netRoots(w).length, 1);
      t.is(n.netRoot.NumberOfVirtualNetRoots, 2);
      t.not(n.vNetRoot, m.vNetRoot);
      t.is(await np.netUseDelete("N", 0), STATUS.STATUS_SUCCESS);
      seen.afterN = w.rec.finalizeCalls.map((x) => `${x.name} ${x.target}`);
      seen.netRootAfterN = { freed: n.netRoot.freed !== null, inTable: w.dev.pRxNetNameTable.contains(n.netRoot) };
      seen.vnrs = n.netRoot.NumberOfVirtualNetRoots;
      t.is(await np.netUseDelete("M", 0), STATUS.STATUS_SUCCESS);
      seen.afterM = w.rec.finalizeCalls.map((x) => `${x.name} ${x.target}`);
      seen.netRootAfterM = { freed: n.netRoot.freed !== null, inTable: w.dev.pRxNetNameTable.contains(n.netRoot) };
      seen.labels = [n.vNetRoot.label(), m.vNetRoot.label(), n.netRoot.label()];
    }),
  );
  const [nLabel, mLabel, nrLabel] = seen.labels as string[];
  t.deepEqual(seen.afterN, [`MRxFinalizeVNetRoot ${nLabel}`]);
  t.deepEqual(seen.netRootAfterN, { freed: false, inTable: true });
  t.is(seen.vnrs, 1);
  t.deepEqual(seen.afterM, [
    `MRxFinalizeVNetRoot ${nLabel}`,
    `MRxFinalizeNetRoot ${nrLabel}`,
    `MRxFinalizeVNetRoot ${mLabel}`,
  ]);
  t.deepEqual(seen.netRootAfterM, { freed: true, inTable: false });
  // The SRV_CALL's finalization was posted from the app's thread and ran after the NET_ROOT's.
  const order = w.rec.finalizeCalls.map((x) => x.name);
  t.is(order.indexOf("MRxFinalizeSrvCall"), 3);
  t.is(w.rec.callsOf("MRxFinalizeNetRoot").length, 1);
});

test("RxFinalizeNetRoot itself never calls MRxFinalizeNetRoot (a NET_ROOT with no V_NET_ROOT, finalized at count 1)", async (t) => {
  const w = await world();
  let ret: boolean | undefined;
  let nr: NET_ROOT | null = null;
  H.clean(
    await H.systemThread(w, "mini-redirector", () =>
      H.withNetName(w, async () => {
        const sc = w.em.rx.RxCreateSrvCall(H.internalContext(w), "\\solo", null)!;
        const n = w.em.rx.RxCreateNetRoot(sc, "\\share");
        nr = n;
        if (n === null) return;
        t.is(n.NodeReferenceCount, 1);
        ret = await w.em.rx.RxFinalizeNetRoot(n, true, false);
      }),
    ),
  );
  t.true(ret);
  t.not((nr as NET_ROOT | null)?.freed ?? null, null);
  t.is(H.count(w, "MRxFinalizeNetRoot"), 0);
  // Its SRV_CALL reference went with it: the SRV_CALL (count 1) was finalized by RxDereference.
  t.is(H.count(w, "MRxFinalizeSrvCall"), 1);
});

test("RxFinalizeNetRoot on a live NET_ROOT (count 2: table + its V_NET_ROOT) returns FALSE, even forced", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world({ profile });
    const a = await H.handConnection(w, "\\a");
    const b = await H.handConnection(w, "\\b");
    const rets: boolean[] = [];
    H.clean(
      await H.systemThread(w, "mini-redirector", () =>
        H.withNetName(w, async () => {
          rets.push(await w.em.rx.RxFinalizeNetRoot(a.netRoot, false, false));
          rets.push(await w.em.rx.RxFinalizeNetRoot(b.netRoot, true, true));
        }),
      ),
    );
    t.deepEqual(rets, [false, false], profile);
    for (const g of [a, b]) {
      t.is(g.netRoot.NodeReferenceCount, 2);
      t.is(g.netRoot.freed, null);
      t.true(w.dev.pRxNetNameTable.contains(g.netRoot));
    }
    t.is(H.count(w, "MRxFinalizeNetRoot"), 0);
  }
});

for (const profile of ["docs", "reactos"] as const) {
  test(`[profile:finalizeNetRootStickyFlag] ${profile}: a finalize attempt at count 2 ${profile === "docs" ? "clears FINALIZATION_IN_PROGRESS; at count 1 the NET_ROOT goes" : "leaves FINALIZATION_IN_PROGRESS set; at count 1 it still returns FALSE (pattern 20)"}`, async (t) => {
    const w = await world({ profile });
    const seen: Record<string, unknown> = {};
    let nr: NET_ROOT | null = null;
    H.clean(
      await H.systemThread(w, "mini-redirector", () =>
        H.withNetName(w, async () => {
          const rx = w.em.rx;
          const sc = rx.RxCreateSrvCall(H.internalContext(w), "\\solo", null)!;
          const n = rx.RxCreateNetRoot(sc, "\\share");
          if (n === null) return;
          nr = n;
          rx.RxReference(n);
          seen.atCount2 = await rx.RxFinalizeNetRoot(n, false, false);
          seen.flagAfterAttempt = (n.Flags & IN_PROGRESS) !== 0;
          // Drop the extra reference with the lock held: RxDereference finalizes at count 1.
          await rx.RxDereference(n, LockHoldingState.LHS_ExclusiveLockHeld);
          seen.freedByDereference = n.freed !== null;
          if (n.freed === null) {
            seen.count = n.NodeReferenceCount;
            seen.atCount1 = await rx.RxFinalizeNetRoot(n, false, false);
            seen.atCount1Forced = await rx.RxFinalizeNetRoot(n, true, true);
            seen.freedAtEnd = n.freed !== null;
          }
        }),
      ),
    );
    if (profile === "docs") {
      t.deepEqual(seen, { atCount2: false, flagAfterAttempt: false, freedByDereference: true });
    } else {
      t.deepEqual(seen, {
        atCount2: false,
        flagAfterAttempt: true,
        freedByDereference: false,
        count: 1,
        atCount1: false,
        atCount1Forced: false,
        freedAtEnd: false,
      });
      t.true(w.dev.pRxNetNameTable.contains(nr as unknown as NET_ROOT), "never freed, never leaves the table");
    }
  });
}

test("[profile:finalizeNetRootStickyFlag] docs: after a failed attempt, the scavenger's RxFinalizeNetRoot at count 1 releases the NET_ROOT", async (t) => {
  const w = await world({ profile: "docs" });
  const seen: Record<string, unknown> = {};
  let nr: NET_ROOT | null = null;
  H.clean(
    await H.systemThread(w, "mini-redirector", async () => {
      const rx = w.em.rx;
      await H.withNetName(w, async () => {
        const sc = rx.RxCreateSrvCall(H.internalContext(w), "\\solo", null)!;
        const n = rx.RxCreateNetRoot(sc, "\\share");
        if (n === null) return;
        nr = n;
        rx.RxReference(n);
        seen.attempt = await rx.RxFinalizeNetRoot(n, false, false);
      });
      const n = nr as NET_ROOT | null;
      if (n === null) return;
      // Dropped without the lock: marked for scavenged finalization.
      await rx.RxDereference(n, LockHoldingState.LHS_LockNotHeld);
      seen.marked = n.scavengerMarked;
      await H.sleep(w, 11);
      seen.freed = n.freed !== null;
      seen.passes = w.dev.Scavenger.passes;
    }),
  );
  t.deepEqual(seen, { attempt: false, marked: true, freed: true, passes: 1 });
  t.is((nr as NET_ROOT | null)?.freed?.by, "RxFinalizeNetRoot");
});

test("RxFinalizeVNetRoot: FALSE at count 2 unless forced; at count 1 MRxFinalizeNetRoot (last V_NET_ROOT) and MRxFinalizeVNetRoot, both with NULL, and the chain is released", async (t) => {
  const w = await world();
  const busy = await H.handConnection(w, "\\busy");
  const idle = await H.handConnection(w, "\\idle");
  const seen: Record<string, unknown> = {};
  H.clean(
    await H.systemThread(w, "mini-redirector", () =>
      H.withNetName(w, async () => {
        const rx = w.em.rx;
        rx.RxReference(busy.vNetRoot);
        seen.atCount2 = await rx.RxFinalizeVNetRoot(busy.vNetRoot, false, false);
        seen.upperAtCount2 = busy.vNetRoot.UpperFinalizationDone;
        seen.callsAtCount2 = w.rec.finalizeCalls.length;
        seen.count = idle.vNetRoot.NodeReferenceCount;
        seen.atCount1 = await rx.RxFinalizeVNetRoot(idle.vNetRoot, false, false);
      }),
    ),
  );
  t.deepEqual(seen, { atCount2: false, upperAtCount2: false, callsAtCount2: 0, count: 1, atCount1: true });
  t.deepEqual(
    w.rec.finalizeCalls.map((c) => [c.name, c.target, c.force]),
    [
      ["MRxFinalizeNetRoot", idle.netRoot.label(), null],
      ["MRxFinalizeVNetRoot", idle.vNetRoot.label(), null],
      ["MRxFinalizeSrvCall", idle.srvCall.label(), true],
    ],
  );
  t.not(idle.vNetRoot.freed, null);
  t.not(idle.netRoot.freed, null);
  t.not(idle.srvCall.freed, null);
  t.is(busy.vNetRoot.freed, null);
});
