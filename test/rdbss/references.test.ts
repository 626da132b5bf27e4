/**
 * NodeReferenceCount rules (rdbss-semantics.md §1.4, §2): RxReference / RxDereference on the five structures they
 * take, marking for scavenged finalization (RX_SCAVENGER_MASK and the mark's extra reference) and the rescue by a
 * reference, the scavenger's reclaim (docs) or its absence (reactos), the lock-state and underflow checks, and the
 * FCB's own routines (RxpReferenceNetFcb, RxpDereferenceNetFcb, RxpDereferenceAndFinalizeNetFcb).
 */
import test from "ava";
import { STATUS } from "../../emulator/kernel/index.js";
import {
  type AnyRxNode,
  FCB_STATE,
  type LOCK_HOLDING_STATE,
  LockHoldingState,
  NodeType,
  RDBSS_ASSERT,
  RX_SCAVENGER_MASK,
} from "../../emulator/rdbss/index.js";
import { NulMrx } from "../../miniredirs/nulmrx/index.js";
import * as H from "./_helpers.js";

function world(options: H.WorldOptions = {}): Promise<H.World & { rec: H.RecordingNulMrx }> {
  return H.makeWorld({ ...options, makeMrx: (em) => new H.RecordingNulMrx(em) }).then((w) => ({
    ...w,
    rec: w.mrx as H.RecordingNulMrx,
  }));
}

type Kind = "SRV_CALL" | "NET_ROOT" | "V_NET_ROOT" | "SRV_OPEN" | "FOBX";
const KINDS: readonly Kind[] = ["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "SRV_OPEN", "FOBX"];

function pick(g: H.HandGraph, kind: Kind): AnyRxNode {
  switch (kind) {
    case "SRV_CALL":
      return g.srvCall;
    case "NET_ROOT":
      return g.netRoot;
    case "V_NET_ROOT":
      return g.vNetRoot;
    case "SRV_OPEN":
      return g.srvOpen;
    case "FOBX":
      return g.fobx;
  }
}

/** The lock RxDereference means for a kind: the netname table, or the FCB resource. */
function lockOf(w: H.World, g: H.HandGraph, kind: Kind) {
  return kind === "SRV_OPEN" || kind === "FOBX" ? g.fcb.Header.Resource : w.dev.pRxNetNameTable.TableLock;
}

test("the starting counts of a hand-built graph: containers 1 + their holders, FCB 2 + its SRV_OPEN, SRV_OPEN 1 + its FOBX, FOBX 1", async (t) => {
  const w = await world();
  const g = await H.handBuild(w);
  t.deepEqual(
    {
      srvCall: g.srvCall.NodeReferenceCount,
      netRoot: g.netRoot.NodeReferenceCount,
      vNetRoot: g.vNetRoot.NodeReferenceCount,
      fcb: g.fcb.NodeReferenceCount,
      srvOpen: g.srvOpen.NodeReferenceCount,
      fobx: g.fobx.NodeReferenceCount,
    },
    // SRV_CALL: table + NET_ROOT; NET_ROOT: table + V_NET_ROOT; V_NET_ROOT: table + FCB + SRV_OPEN;
    // FCB: table + creator + SRV_OPEN; SRV_OPEN: its own + FOBX.
    { srvCall: 2, netRoot: 2, vNetRoot: 3, fcb: 3, srvOpen: 2, fobx: 1 },
  );
  t.is(g.netRoot.NumberOfFcbs, 1);
  t.is(g.vNetRoot.NumberOfFobxs, 1);
});

for (const kind of KINDS) {
  test(`RxReference / RxDereference on a ${kind}: +1 / -1 above the threshold, no finalization, no mark`, async (t) => {
    const w = await world();
    const g = await H.handBuild(w);
    const obj = pick(g, kind);
    const start = obj.NodeReferenceCount;
    const type = obj.NodeTypeCode;
    const counts: number[] = [];
    H.clean(
      await H.systemThread(w, "driver", async () => {
        const rx = w.em.rx;
        rx.RxReference(obj);
        counts.push(obj.NodeReferenceCount);
        rx.RxReference(obj);
        counts.push(obj.NodeReferenceCount);
        const lock = lockOf(w, g, kind);
        await rx.acquire(lock, true);
        await rx.RxDereference(obj, LockHoldingState.LHS_ExclusiveLockHeld);
        rx.release(lock);
        counts.push(obj.NodeReferenceCount);
        await rx.RxDereference(obj, LockHoldingState.LHS_LockNotHeld);
        counts.push(obj.NodeReferenceCount);
      }),
    );
    t.deepEqual(counts, [start + 1, start + 2, start + 1, start]);
    t.is(obj.NodeTypeCode, type);
    t.false(obj.scavengerMarked);
    t.is(obj.freed, null);
    t.is(w.rec.finalizeCalls.length, 0);
    t.is(w.dev.Scavenger.markedCount, 0);
  });
}

// ---------------------------------------------------------------- scavenger marks

test("RxDereference without the lock marks a SRV_CALL, NET_ROOT or V_NET_ROOT at count 1: 0x1000 in the node type, an extra reference, on the scavenger's list", async (t) => {
  const w = await world();
  const c = await H.handConnection(w);
  const lone = await H.handSrvCall(w, "\\lone");
  const objs: readonly { obj: AnyRxNode; type: number; list: readonly AnyRxNode[] }[] = [
    { obj: lone, type: NodeType.RDBSS_NTC_SRVCALL, list: w.dev.Scavenger.SrvCallFinalizationList },
    { obj: c.vNetRoot, type: NodeType.RDBSS_NTC_V_NETROOT, list: w.dev.Scavenger.VNetRootFinalizationList },
  ];
  H.clean(
    await H.systemThread(w, "driver", async () => {
      for (const { obj } of objs) {
        w.em.rx.RxReference(obj);
        await w.em.rx.RxDereference(obj, LockHoldingState.LHS_LockNotHeld);
      }
    }),
  );
  for (const { obj, type, list } of objs) {
    t.is(obj.NodeTypeCode, type | RX_SCAVENGER_MASK, obj.label());
    t.is(obj.NodeReferenceCount, 2, "the table's reference + the mark's");
    t.true(obj.scavengerMarked);
    t.true(list.includes(obj));
    t.is(obj.freed, null);
  }
  t.is(lone.NodeTypeCode, 0xfb10, "a marked SRV_CALL reads as 0xFB10");
  t.is(w.rec.finalizeCalls.length, 0, "marking calls nothing");
});

test("a NET_ROOT whose count reaches 1 without the lock is marked too (0xFB11)", async (t) => {
  const w = await world();
  let nr: AnyRxNode | null = null;
  H.clean(
    await H.systemThread(w, "driver", async () => {
      await H.withNetName(w, () => {
        const sc = w.em.rx.RxCreateSrvCall(H.internalContext(w), "\\solo", null)!;
        nr = w.em.rx.RxCreateNetRoot(sc, "\\share");
      });
      const n = nr as AnyRxNode | null;
      if (n === null) return;
      w.em.rx.RxReference(n);
      await w.em.rx.RxDereference(n, LockHoldingState.LHS_LockNotHeld);
    }),
  );
  const n = nr as AnyRxNode | null;
  t.is(n?.NodeTypeCode, 0xfb11);
  t.is(n?.NodeReferenceCount, 2);
  t.true(w.dev.Scavenger.NetRootFinalizationList.includes(n as never));
});

test("a FOBX is marked only at count 0; a SRV_OPEN is never marked", async (t) => {
  const w = await world();
  const g = await H.handBuild(w);
  const seen: Record<string, unknown> = {};
  H.clean(
    await H.systemThread(w, "driver", async () => {
      const rx = w.em.rx;
      await rx.RxDereference(g.srvOpen, LockHoldingState.LHS_LockNotHeld);
      seen.srvOpenAt1 = [g.srvOpen.NodeReferenceCount, g.srvOpen.scavengerMarked];
      rx.RxReference(g.fobx);
      await rx.RxDereference(g.fobx, LockHoldingState.LHS_LockNotHeld);
      seen.fobxAt1 = [g.fobx.NodeReferenceCount, g.fobx.scavengerMarked];
      await rx.RxDereference(g.fobx, LockHoldingState.LHS_LockNotHeld);
      seen.fobxAt0 = [g.fobx.NodeReferenceCount, g.fobx.scavengerMarked, g.fobx.NodeTypeCode];
      await rx.RxDereference(g.srvOpen, LockHoldingState.LHS_LockNotHeld);
      seen.srvOpenAt0 = [g.srvOpen.NodeReferenceCount, g.srvOpen.scavengerMarked, g.srvOpen.NodeTypeCode];
    }),
  );
  t.deepEqual(seen, {
    srvOpenAt1: [1, false],
    fobxAt1: [1, false],
    fobxAt0: [1, true, NodeType.RDBSS_NTC_FOBX | RX_SCAVENGER_MASK],
    srvOpenAt0: [0, false, NodeType.RDBSS_NTC_SRVOPEN],
  });
  t.true(w.dev.Scavenger.FobxFinalizationList.includes(g.fobx));
  t.is(g.srvOpen.freed, null, "not finalized either: the lock was not held");
});

test("RxReference rescues a marked object: the mark's reference and the 0x1000 bit go, it leaves the scavenger's list", async (t) => {
  const w = await world();
  const sc = await H.handSrvCall(w);
  H.clean(
    await H.systemThread(w, "driver", async () => {
      w.em.rx.RxReference(sc);
      await w.em.rx.RxDereference(sc, LockHoldingState.LHS_LockNotHeld);
      t.true(sc.scavengerMarked);
      w.em.rx.RxReference(sc);
    }),
  );
  t.false(sc.scavengerMarked);
  t.is(sc.NodeTypeCode, NodeType.RDBSS_NTC_SRVCALL);
  t.is(sc.NodeReferenceCount, 2, "the table's + the new reference");
  t.is(w.dev.Scavenger.markedCount, 0);
});

for (const profile of ["docs", "reactos"] as const) {
  test(`[profile:scavengerReclaims] ${profile}: marked objects are ${profile === "docs" ? "finalized by the scavenger once ScavengerTimeout (10 s of virtual time) has passed" : "never finalized (ReactOS's scavenger is a stub)"}`, async (t) => {
    const w = await world({ profile });
    const c = await H.handConnection(w);
    const sc = await H.handSrvCall(w, "\\lone");
    const seen: Record<string, unknown> = {};
    H.clean(
      await H.systemThread(w, "driver", async () => {
        for (const o of [c.vNetRoot, sc]) {
          w.em.rx.RxReference(o);
          await w.em.rx.RxDereference(o, LockHoldingState.LHS_LockNotHeld);
        }
        await H.sleep(w, 9);
        seen.at9s = [c.vNetRoot.freed !== null, sc.freed !== null, w.dev.Scavenger.passes];
        await H.sleep(w, 2);
        seen.at11s = [c.vNetRoot.freed !== null, sc.freed !== null, w.dev.Scavenger.passes];
        await H.sleep(w, 300);
        seen.at311s = [c.vNetRoot.freed !== null, sc.freed !== null, w.dev.Scavenger.passes];
      }),
    );
    if (profile === "docs") {
      t.deepEqual(seen, { at9s: [false, false, 0], at11s: [true, true, 1], at311s: [true, true, 1] });
      // The scavenger's pass runs on a delayed worker in the System process: the whole chain is finalized inline.
      t.deepEqual(
        w.rec.finalizeCalls.map((x) => x.name),
        ["MRxFinalizeNetRoot", "MRxFinalizeVNetRoot", "MRxFinalizeSrvCall", "MRxFinalizeSrvCall"],
      );
      for (const call of w.rec.finalizeCalls) {
        t.regex(call.thread, /^Delayed worker \d+$/);
        t.true(call.processIsSystem);
      }
      t.not(c.netRoot.freed, null);
      t.not(c.srvCall.freed, null);
    } else {
      t.deepEqual(seen, { at9s: [false, false, 0], at11s: [false, false, 0], at311s: [false, false, 0] });
      t.true(c.vNetRoot.scavengerMarked);
      t.true(sc.scavengerMarked);
      t.is(w.rec.finalizeCalls.length, 0);
    }
  });
}

test("a mini-redirector's ScavengerTimeout (3 s) replaces the default 10 s", async (t) => {
  class QuickScavenger extends NulMrx {
    readonly ScavengerTimeout = 3;
  }
  const w = await H.makeWorld({ profile: "docs", makeMrx: (em) => new QuickScavenger(em.rx) });
  t.is(w.dev.Scavenger.TimeLimit, 3);
  const sc = await H.handSrvCall(w);
  const seen: boolean[] = [];
  H.clean(
    await H.systemThread(w, "driver", async () => {
      w.em.rx.RxReference(sc);
      await w.em.rx.RxDereference(sc, LockHoldingState.LHS_LockNotHeld);
      await H.sleep(w, 2);
      seen.push(sc.freed !== null);
      await H.sleep(w, 2);
      seen.push(sc.freed !== null);
    }),
  );
  t.deepEqual(seen, [false, true]);
});

// ---------------------------------------------------------------- checks

const LIES: readonly { kind: Kind; claim: LOCK_HOLDING_STATE; holds: "nothing" | "shared"; name: string }[] = [
  { kind: "SRV_CALL", claim: LockHoldingState.LHS_ExclusiveLockHeld, holds: "nothing", name: "LHS_ExclusiveLockHeld" },
  { kind: "NET_ROOT", claim: LockHoldingState.LHS_ExclusiveLockHeld, holds: "shared", name: "LHS_ExclusiveLockHeld" },
  { kind: "V_NET_ROOT", claim: LockHoldingState.LHS_SharedLockHeld, holds: "nothing", name: "LHS_SharedLockHeld" },
  { kind: "SRV_OPEN", claim: LockHoldingState.LHS_ExclusiveLockHeld, holds: "nothing", name: "LHS_ExclusiveLockHeld" },
  { kind: "FOBX", claim: LockHoldingState.LHS_ExclusiveLockHeld, holds: "shared", name: "LHS_ExclusiveLockHeld" },
];

for (const lie of LIES) {
  test(`RxDereference(${lie.kind}, ${lie.name}) holding ${lie.holds === "nothing" ? "no lock" : "the lock only shared"}: a lying LockHoldingState stops (0x27, rdbssLocks)`, async (t) => {
    const w = await world();
    const g = await H.handBuild(w);
    const obj = pick(g, lie.kind);
    const before = obj.NodeReferenceCount;
    const r = await H.systemThread(w, "driver", async () => {
      w.em.rx.RxReference(obj);
      if (lie.holds === "shared") await w.em.rx.acquire(lockOf(w, g, lie.kind), false);
      await w.em.rx.RxDereference(obj, lie.claim);
    });
    const s = H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.LOCK_STATE_LIE, "RxDereference");
    t.true(s.reason.includes(lie.name), s.reason);
    t.true(s.reason.includes(lie.holds === "nothing" ? "not at all" : "shared"), s.reason);
    t.is(obj.NodeReferenceCount, before + 1, "stopped before the decrement");
    t.is(obj.freed, null);
  });
}

test("RxDereference below zero stops (0x27, references: REFERENCE_UNDERFLOW)", async (t) => {
  const w = await world();
  const g = await H.handBuild(w);
  const r = await H.systemThread(w, "driver", async () => {
    // The SRV_OPEN holds 2 (its own + its FOBX's): a driver that drops three.
    for (let i = 0; i < 3; i++) await w.em.rx.RxDereference(g.srvOpen, LockHoldingState.LHS_LockNotHeld);
  });
  const s = H.assertRdbssStop(t, r, "references", RDBSS_ASSERT.REFERENCE_UNDERFLOW, "RxDereference");
  t.true(s.reason.includes(g.srvOpen.label()), s.reason);
  // With the ledger on (the default), the reason ends with the structure's reference history: the two drops that
  // emptied it and the one that went below.
  t.true(s.reason.includes(`\nReference history of ${g.srvOpen.label()}:`), s.reason);
  t.regex(s.reason, /-1 → 0 .*\n.*-1 → -1 /);
});

for (const routine of ["RxReference", "RxDereference"] as const) {
  test(`${routine} on an FCB stops (0x27, references: BAD_NODE_TYPE)`, async (t) => {
    const w = await world();
    const g = await H.handBuild(w);
    const r = await H.systemThread(w, "driver", async () => {
      if (routine === "RxReference") w.em.rx.RxReference(g.fcb);
      else await w.em.rx.RxDereference(g.fcb, LockHoldingState.LHS_LockNotHeld);
    });
    const s = H.assertRdbssStop(t, r, "references", RDBSS_ASSERT.BAD_NODE_TYPE, routine);
    t.true(s.reason.includes("RxpReferenceNetFcb") || s.reason.includes("RxpDereferenceNetFcb"), s.reason);
    t.is(g.fcb.NodeReferenceCount, 3);
  });
}

test("RxDereference with the lock held exclusive at the threshold finalizes at once (SRV_CALL → RxFinalizeSrvCall forced, FOBX → RxFinalizeNetFobx → its SRV_OPEN)", async (t) => {
  const w = await world();
  const g = await H.handBuild(w);
  const sc = await H.handSrvCall(w, "\\lone");
  H.clean(
    await H.systemThread(w, "driver", async () => {
      const rx = w.em.rx;
      rx.RxReference(sc);
      await H.withNetName(w, () => rx.RxDereference(sc, LockHoldingState.LHS_ExclusiveLockHeld));
      await H.withFcb(w, g.fcb, () => rx.RxDereference(g.fobx, LockHoldingState.LHS_ExclusiveLockHeld));
    }),
  );
  t.not(sc.freed, null);
  t.deepEqual(
    w.rec.finalizeCalls.map((c) => [c.name, c.force, c.thread]),
    [["MRxFinalizeSrvCall", true, "driver"]],
  );
  t.not(g.fobx.freed, null);
  t.is(H.count(w, "MRxDeallocateForFobx"), 1);
  t.not(g.srvOpen.freed, null, "the FOBX's dereference of its SRV_OPEN (exclusive) finalized it at 0");
  t.is(g.fcb.freed, null, "an FCB is never finalized by RxDereference");
  t.is(g.fcb.NodeReferenceCount, 2, "the SRV_OPEN's reference went with it");
  t.is(g.vNetRoot.NumberOfFobxs, 0);
});

// ---------------------------------------------------------------- the FCB's routines

test("RxpReferenceNetFcb / RxpDereferenceNetFcb return the new count and never finalize, even at 0", async (t) => {
  const w = await world();
  const c = await H.handConnection(w);
  const fcb = await H.handFcb(w, c.vNetRoot);
  const counts: number[] = [];
  H.clean(
    await H.systemThread(w, "driver", () => {
      const rx = w.em.rx;
      counts.push(rx.RxpReferenceNetFcb(fcb));
      counts.push(rx.RxpDereferenceNetFcb(fcb));
      counts.push(rx.RxpDereferenceNetFcb(fcb));
      counts.push(rx.RxpDereferenceNetFcb(fcb));
    }),
  );
  t.deepEqual(counts, [3, 2, 1, 0]);
  t.is(fcb.freed, null);
  t.is(H.count(w, "MRxDeallocateForFcb"), 0);
  t.is(w.em.rx.fcbTableOf(c.netRoot).lookup("\\lone.txt"), fcb);
  t.is(fcb.NodeTypeCode, NodeType.RDBSS_NTC_STORAGE_TYPE_UNKNOWN);
});

test("RxpDereferenceNetFcb below zero stops (0x27, references: REFERENCE_UNDERFLOW)", async (t) => {
  const w = await world();
  const c = await H.handConnection(w);
  const fcb = await H.handFcb(w, c.vNetRoot);
  const r = await H.systemThread(w, "driver", () => {
    for (let i = 0; i < 3; i++) w.em.rx.RxpDereferenceNetFcb(fcb);
  });
  const s = H.assertRdbssStop(t, r, "references", RDBSS_ASSERT.REFERENCE_UNDERFLOW, "RxpDereferenceNetFcb");
  t.true(s.reason.includes(`\nReference history of ${fcb.label()}:`), s.reason);
});

test("RxpDereferenceAndFinalizeNetFcb on an unused FCB: TRUE, MRxDeallocateForFcb once, out of the FCB table, its V_NET_ROOT reference dropped", async (t) => {
  const w = await world();
  const c = await H.handConnection(w);
  const fcb = await H.handFcb(w, c.vNetRoot);
  const activeBefore = w.dev.NumberOfActiveFcbs;
  t.is(c.vNetRoot.NodeReferenceCount, 2);
  let ret: boolean | undefined;
  let tableHeldAfter: boolean | undefined;
  H.clean(
    await H.systemThread(w, "driver", async (th) => {
      await w.em.rx.acquire(fcb.Header.Resource, true);
      // The caller holds only the FCB: the routine takes the FCB table itself.
      ret = await w.em.rx.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, false);
      tableHeldAfter = w.em.rx.fcbTableOf(c.netRoot).TableLock.exclusiveOwner === th;
      // TRUE: the FCB is gone, the caller must not release it (and holds nothing now).
      t.is(th.held.length, 0);
    }),
  );
  t.true(ret);
  t.false(tableHeldAfter);
  t.not(fcb.freed, null);
  t.is(H.count(w, "MRxDeallocateForFcb"), 1);
  t.is(w.em.rx.fcbTableOf(c.netRoot).size, 0);
  t.is(c.netRoot.NumberOfFcbs, 0);
  t.is(w.dev.NumberOfActiveFcbs, activeBefore - 1);
  t.is(c.vNetRoot.NodeReferenceCount, 2, "back to 1, then the lock-free dereference marked it (+1)");
  t.true(c.vNetRoot.scavengerMarked);
});

test("RxpDereferenceAndFinalizeNetFcb while another reference remains: FALSE, nothing freed", async (t) => {
  const w = await world();
  const c = await H.handConnection(w);
  const fcb = await H.handFcb(w, c.vNetRoot);
  const rets: boolean[] = [];
  H.clean(
    await H.systemThread(w, "driver", async () => {
      const rx = w.em.rx;
      rx.RxpReferenceNetFcb(fcb);
      await rx.acquire(fcb.Header.Resource, true);
      rets.push(await rx.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, false));
      rx.release(fcb.Header.Resource);
    }),
  );
  t.deepEqual(rets, [false]);
  t.is(fcb.freed, null);
  t.is(fcb.NodeReferenceCount, 2);
  t.is(w.em.rx.fcbTableOf(c.netRoot).lookup("\\lone.txt"), fcb);
  t.is(H.count(w, "MRxDeallocateForFcb"), 0);
});

test("RxpDereferenceAndFinalizeNetFcb on an FCB with an open handle (end to end): FALSE", async (t) => {
  const w = await world();
  let h = 0;
  H.clean(
    await H.user(w, async (np) => {
      h = await H.netUseAndOpen(w, np);
    }),
  );
  const fcb = H.only(H.fcbs(w, H.connection(w).netRoot), "FCB");
  t.is(fcb.OpenCount, 1);
  const start = fcb.NodeReferenceCount;
  let ret: boolean | undefined;
  H.clean(
    await H.systemThread(w, "driver", async () => {
      w.em.rx.RxpReferenceNetFcb(fcb);
      ret = await H.withFcb(w, fcb, () => w.em.rx.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, false));
    }),
  );
  t.false(ret);
  t.is(fcb.NodeReferenceCount, start);
  t.is(fcb.freed, null);
  H.clean(
    await H.user(w, async () => {
      t.is(await w.em.sys.nt.NtClose(h), STATUS.STATUS_SUCCESS);
    }),
  );
});

test("RxpDereferenceAndFinalizeNetFcb requires the FCB exclusive (0x27, rdbssLocks) and Force FALSE (0x27, FORCE_MUST_BE_FALSE)", async (t) => {
  for (const mode of ["not held", "shared", "force"] as const) {
    const w = await world();
    const c = await H.handConnection(w);
    const fcb = await H.handFcb(w, c.vNetRoot);
    const r = await H.systemThread(w, "driver", async () => {
      if (mode !== "not held") await w.em.rx.acquire(fcb.Header.Resource, mode === "force");
      await w.em.rx.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, mode === "force");
    });
    if (mode === "force") {
      H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.FORCE_MUST_BE_FALSE, "RxpDereferenceAndFinalizeNetFcb");
    } else {
      const s = H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.LOCK_NOT_HELD, "RxpDereferenceAndFinalizeNetFcb");
      t.true(s.reason.includes(mode === "shared" ? "holds it shared" : "holds it not at all"), s.reason);
    }
    t.is(fcb.freed, null, mode);
    t.is(fcb.FcbState & FCB_STATE.FCB_STATE_NAME_ALREADY_REMOVED, 0);
  }
});

// ---------------------------------------------------------------- SRV_OPEN and FOBX finalization

test("RxFinalizeNetFobx / RxFinalizeSrvOpen, not forced, while referenced: FALSE and nothing happens", async (t) => {
  const w = await world();
  const g = await H.handBuild(w);
  const rets: boolean[] = [];
  H.clean(
    await H.systemThread(w, "driver", () =>
      H.withFcb(w, g.fcb, async () => {
        rets.push(await w.em.rx.RxFinalizeNetFobx(g.fobx, false, false));
        rets.push(await w.em.rx.RxFinalizeSrvOpen(g.srvOpen, false, false));
      }),
    ),
  );
  t.deepEqual(rets, [false, false]);
  t.false(g.fobx.UpperFinalizationDone);
  t.false(g.srvOpen.UpperFinalizationDone);
  t.is(H.count(w, "MRxDeallocateForFobx") + H.count(w, "MRxForceClosed"), 0);
  t.deepEqual(g.srvOpen.FobxList, [g.fobx]);
});

// rdbss-semantics.md §2 (RxFinalizeSrvOpen, step 3): the upper finalization runs only "if the SRV_OPEN is CLOSED, or
// if it is not yet finalized and its condition is not Good" — Force only skips the reference-count test (step 2).
test("RxFinalizeSrvOpen forced on a Good, not closed SRV_OPEN (file open): no upper finalization (§2 step 3)", async (t) => {
  const w = await world();
  let h = 0;
  H.clean(
    await H.user(w, async (np) => {
      h = await H.netUseAndOpen(w, np);
    }),
  );
  const fcb = H.only(H.fcbs(w, H.connection(w).netRoot), "FCB");
  const so = H.srvOpenOf(fcb);
  const vnr = so.pVNetRoot;
  let ret: boolean | undefined;
  H.clean(
    await H.systemThread(w, "driver", async () => {
      ret = await H.withFcb(w, fcb, () => w.em.rx.RxFinalizeSrvOpen(so, false, true));
    }),
  );
  t.not(h, 0);
  t.false(ret);
  t.is(H.count(w, "MRxForceClosed"), 0);
  t.deepEqual(fcb.SrvOpenList, [so]);
  t.is(so.pVNetRoot, vnr);
  t.false(so.UpperFinalizationDone);
});

test("a routine given a structure after its memory was released: bug check 0xD5 from the useAfterFree check", async (t) => {
  const w = await world();
  const sc = await H.handSrvCall(w);
  const r = await H.systemThread(w, "driver", async () => {
    await H.withNetName(w, () => w.em.rx.RxFinalizeSrvCall(sc, false));
    t.not(sc.freed, null);
    w.em.rx.RxReference(sc);
  });
  const s = H.stopOf(r);
  t.is(s.code, 0xd5);
  t.is(s.name, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL");
  t.is(s.check, "useAfterFree");
  t.true(s.reason.startsWith(`RxReference was given ${sc.label()}`), s.reason);
  t.true(s.reason.includes("released by RxFinalizeSrvCall"), s.reason);
  t.is(sc.NodeTypeCode & 0xf000, 0xf000, "the freed node type is poisoned");
});
