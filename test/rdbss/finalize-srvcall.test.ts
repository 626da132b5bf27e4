/**
 * RxFinalizeSrvCall (seed page 000) and MRxFinalizeSrvCall (seed page 001), rdbss-semantics.md §2:
 * the count rule (1 unless forced), the netname-table-exclusive precondition, where MRxFinalizeSrvCall runs
 * (inline in the RDBSS process, posted to a delayed worker otherwise, or the other way round under the
 * srvCallFinalizePostedFrom override), that TRUE on the posted path only means "will be freed", and that
 * MRxFinalizeSrvCall runs exactly once whatever the path.
 */
import test from "ava";
import { STATUS } from "../../emulator/kernel/index.js";
import { LockHoldingState, RDBSS_ASSERT, type SRV_CALL, SRVCALL_FLAG } from "../../emulator/rdbss/index.js";
import * as H from "./_helpers.js";

function recordingWorld(options: H.WorldOptions = {}): Promise<H.World & { rec: H.RecordingNulMrx }> {
  return H.makeWorld({ ...options, makeMrx: (em) => new H.RecordingNulMrx(em) }).then((w) => ({
    ...w,
    rec: w.mrx as H.RecordingNulMrx,
  }));
}

/** RxFinalizeSrvCall under the netname table held exclusive, on the current thread; marks "returned" after it. */
async function finalizeUnderLock(
  w: H.World & { rec: H.RecordingNulMrx },
  sc: SRV_CALL,
  force: boolean,
  out: { ret?: boolean; callsAtReturn?: number; freedAtReturn?: boolean; inTableAtReturn?: boolean },
): Promise<void> {
  await H.withNetName(w, async () => {
    out.ret = await w.em.rx.RxFinalizeSrvCall(sc, force);
    w.rec.mark("returned");
    out.callsAtReturn = w.rec.callsOf("MRxFinalizeSrvCall").length;
    out.freedAtReturn = sc.freed !== null;
    out.inTableAtReturn = w.dev.pRxNetNameTable.contains(sc);
  });
}

test("at NodeReferenceCount 1, not forced: TRUE and exactly one MRxFinalizeSrvCall (Force FALSE), memory released", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  t.is(sc.NodeReferenceCount, 1);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(await H.systemThread(w, "finalizer", () => finalizeUnderLock(w, sc, false, out)));
  t.true(out.ret);
  t.is(out.callsAtReturn, 1);
  t.true(out.freedAtReturn);
  t.false(out.inTableAtReturn);
  const [call] = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(w.rec.callsOf("MRxFinalizeSrvCall").length, 1);
  t.is(call?.force, false);
  t.false(call?.freedAtCall);
  t.is(H.count(w, "MRxFinalizeSrvCall"), 1);
  t.is(sc.Flags & SRVCALL_FLAG.SRVCALL_FLAG_FORCE_FINALIZED, 0);
  t.is(sc.Context, null);
});

test("at NodeReferenceCount 2, not forced: FALSE, no callback, the SRV_CALL untouched", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(
    await H.systemThread(w, "finalizer", async () => {
      w.em.rx.RxReference(sc);
      await finalizeUnderLock(w, sc, false, out);
    }),
  );
  t.false(out.ret);
  t.is(H.count(w, "MRxFinalizeSrvCall"), 0);
  t.is(sc.NodeReferenceCount, 2);
  t.is(sc.freed, null);
  t.false(sc.UpperFinalizationDone);
  t.true(w.dev.pRxNetNameTable.contains(sc));
});

test("forced at NodeReferenceCount 2 in the RDBSS process: FALSE (not freed), callback once (Force TRUE), memory kept until the count drops", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  let again: boolean | undefined;
  let freedBeforeDrop: boolean | undefined;
  H.clean(
    await H.systemThread(w, "finalizer", async () => {
      w.em.rx.RxReference(sc);
      await finalizeUnderLock(w, sc, true, out);
      await H.withNetName(w, async () => {
        // A second forced call finds the upper finalization done: no second callback.
        again = await w.em.rx.RxFinalizeSrvCall(sc, true);
        freedBeforeDrop = sc.freed !== null;
        await w.em.rx.RxDereference(sc, LockHoldingState.LHS_ExclusiveLockHeld);
      });
    }),
  );
  t.false(out.ret, "the page: FALSE if the finalization did not occur — the memory stays at count 2");
  t.is(out.callsAtReturn, 1);
  t.false(out.freedAtReturn);
  t.false(out.inTableAtReturn, "the upper finalization removed the name");
  t.false(again, "still count 2: nothing freed");
  t.false(freedBeforeDrop);
  t.not(sc.freed, null, "freed once the extra reference went");
  t.is(sc.Flags & SRVCALL_FLAG.SRVCALL_FLAG_FORCE_FINALIZED, SRVCALL_FLAG.SRVCALL_FLAG_FORCE_FINALIZED);
  const calls = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(calls.length, 1);
  t.is(calls[0]?.force, true);
  t.is(calls[0]?.countAtCall, 2);
});

for (const held of ["shared", "not at all"] as const) {
  test(`netname table held ${held}: bug check 0x27 RDR_FILE_SYSTEM from the rdbssLocks check, no callback`, async (t) => {
    const w = await recordingWorld();
    const sc = await H.handSrvCall(w);
    const r = await H.systemThread(w, "finalizer", async () => {
      if (held === "shared") await H.withNetName(w, () => w.em.rx.RxFinalizeSrvCall(sc, false), false);
      else await w.em.rx.RxFinalizeSrvCall(sc, false);
    });
    const s = H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.LOCK_NOT_HELD, "RxFinalizeSrvCall");
    t.true(s.reason.includes(`holds it ${held}`), s.reason);
    t.is(s.thread?.name, "finalizer");
    t.is(H.count(w, "MRxFinalizeSrvCall"), 0);
    t.is(sc.freed, null);
  });
}

test("called from a thread outside the RDBSS process: MRxFinalizeSrvCall runs later on a delayed worker of the System process; the memory goes after it returns", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(await H.foreignThread(w, "app thread", () => finalizeUnderLock(w, sc, false, out)));
  t.true(out.ret, "TRUE: will be freed");
  t.is(out.callsAtReturn, 0, "not yet called when RxFinalizeSrvCall returned");
  t.false(out.freedAtReturn, "TRUE does not mean the memory is gone");
  t.false(out.inTableAtReturn);
  const calls = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(calls.length, 1);
  const call = calls[0] as H.FinalizeCall;
  t.regex(call.thread, /^Delayed worker \d+$/);
  t.is(call.process, "System");
  t.true(call.processIsSystem);
  t.true(call.seq > w.rec.markSeq("returned"), "ran after the call returned");
  t.false(call.freedAtCall, "the SRV_CALL is alive while the mini-redirector finalizes it");
  t.is(call.netNameTable, "not held", "§2: the worker calls MRxFinalizeSrvCall without the prefix lock");
  t.is(call.force, false);
  const log = H.calls(w, "MRxFinalizeSrvCall");
  t.is(log.length, 1);
  t.is(log[0]?.thread, call.thread);
  t.is(log[0]?.target, sc.label());
  // Released by RxFinalizeSrvCall re-entered on the same worker, after MRxFinalizeSrvCall.
  t.not(sc.freed, null);
  t.is(sc.freed?.thread, call.thread);
  t.is(sc.freed?.by, "RxFinalizeSrvCall");
  t.true(sc.freed?.callChain.some((f) => f.startsWith("worker: RxpDestroySrvCall")));
  t.is(w.em.k.allThreads.find((x) => x.name === call.thread)?.process.isSystem, true);
});

test("called from the RDBSS (System) process: MRxFinalizeSrvCall inline, on the calling thread, before it returns", async (t) => {
  const w = await recordingWorld();
  t.is(w.em.rx.RxGetRDBSSProcess(), w.em.k.systemProcess);
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(await H.systemThread(w, "rdbss thread", () => finalizeUnderLock(w, sc, false, out)));
  const [call] = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(call?.thread, "rdbss thread");
  t.is(call?.netNameTable, "exclusive", "inline, under the caller's lock");
  t.true((call?.seq ?? Infinity) < w.rec.markSeq("returned"));
  t.true(out.freedAtReturn);
  t.is(sc.freed?.thread, "rdbss thread");
});

test("forced at NodeReferenceCount 2 from outside the RDBSS process: WillFree FALSE, still posted once; freed when the last reference goes", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(
    await H.foreignThread(w, "app thread", async () => {
      w.em.rx.RxReference(sc);
      await finalizeUnderLock(w, sc, true, out);
    }),
  );
  t.false(out.ret, "§2: the posted path returns WillFree, whether the count was 1");
  t.is(out.callsAtReturn, 0);
  t.is(w.rec.callsOf("MRxFinalizeSrvCall").length, 1);
  t.regex(w.rec.callsOf("MRxFinalizeSrvCall")[0]?.thread ?? "", /^Delayed worker/);
  t.is(sc.freed, null, "the caller's reference still holds it");
  t.is(sc.NodeReferenceCount, 2);
  H.clean(
    await H.systemThread(w, "drop", () =>
      H.withNetName(w, () => w.em.rx.RxDereference(sc, LockHoldingState.LHS_ExclusiveLockHeld)),
    ),
  );
  t.not(sc.freed, null);
  t.is(H.count(w, "MRxFinalizeSrvCall"), 1);
});

test("[profile:srvCallFinalizePostedFrom] override rdbss-process: a System-process caller is posted to a delayed worker", async (t) => {
  const w = await recordingWorld({ profileOverrides: { srvCallFinalizePostedFrom: "rdbss-process" } });
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(await H.systemThread(w, "rdbss thread", () => finalizeUnderLock(w, sc, false, out)));
  t.true(out.ret);
  t.is(out.callsAtReturn, 0);
  t.false(out.freedAtReturn);
  const calls = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(calls.length, 1);
  t.regex(calls[0]?.thread ?? "", /^Delayed worker \d+$/);
  t.true((calls[0]?.seq ?? 0) > w.rec.markSeq("returned"));
  t.not(sc.freed, null);
});

test("[profile:srvCallFinalizePostedFrom] override rdbss-process: a caller outside the RDBSS process gets MRxFinalizeSrvCall inline", async (t) => {
  const w = await recordingWorld({ profileOverrides: { srvCallFinalizePostedFrom: "rdbss-process" } });
  const sc = await H.handSrvCall(w);
  const out: Parameters<typeof finalizeUnderLock>[3] = {};
  H.clean(await H.foreignThread(w, "app thread", () => finalizeUnderLock(w, sc, false, out)));
  t.true(out.ret);
  t.is(out.callsAtReturn, 1);
  t.true(out.freedAtReturn);
  const [call] = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(call?.thread, "app thread");
  t.is(call?.process, "foreign.exe");
});

test("[profile:srvCallFinalizePostedFrom] both named profiles post from outside the RDBSS process (the MRxFinalizeSrvCall page and ReactOS agree)", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await recordingWorld({ profile });
    t.is(w.em.rx.profile.srvCallFinalizePostedFrom, "non-rdbss-process");
    const inside = await H.handSrvCall(w, "\\inside");
    const outside = await H.handSrvCall(w, "\\outside");
    const a: Parameters<typeof finalizeUnderLock>[3] = {};
    const b: Parameters<typeof finalizeUnderLock>[3] = {};
    H.clean(await H.systemThread(w, "rdbss thread", () => finalizeUnderLock(w, inside, false, a)));
    H.clean(await H.foreignThread(w, "app thread", () => finalizeUnderLock(w, outside, false, b)));
    t.is(a.callsAtReturn, 1, profile);
    t.is(b.callsAtReturn, 1, `${profile}: the inline call of the first SRV_CALL, none yet for the second`);
    const calls = w.rec.callsOf("MRxFinalizeSrvCall");
    t.deepEqual(
      calls.map((c) => c.target),
      [inside.label(), outside.label()],
    );
    t.is(calls[0]?.thread, "rdbss thread");
    t.regex(calls[1]?.thread ?? "", /^Delayed worker/);
  }
});

// ---------------------------------------------------------------- exactly once, whatever the path

test("exactly one MRxFinalizeSrvCall: connection deleted through DELCONN (posted from the app's thread)", async (t) => {
  const w = await recordingWorld();
  let sc: SRV_CALL | null = null;
  H.clean(
    await H.user(w, async (np) => {
      t.is(await np.netUse("N", "\\\\srv\\share"), 0);
      sc = H.connection(w).srvCall;
      t.is(await np.netUseDelete("N", 1), 0);
      w.rec.mark("delete returned");
    }),
  );
  const calls = w.rec.callsOf("MRxFinalizeSrvCall");
  t.is(calls.length, 1);
  t.regex(calls[0]?.thread ?? "", /^Delayed worker/);
  t.is(calls[0]?.force, true, "RxDereference finalizes with ForceFinalize TRUE");
  t.not((sc as SRV_CALL | null)?.freed ?? null, null);
  t.is(H.count(w, "MRxFinalizeSrvCall"), 1);
});

test("exactly one MRxFinalizeSrvCall: marked by RxDereference without the lock, then reclaimed by the scavenger (docs)", async (t) => {
  const w = await recordingWorld({ profile: "docs" });
  const sc = await H.handSrvCall(w);
  H.clean(
    await H.systemThread(w, "deref", async () => {
      w.em.rx.RxReference(sc);
      await w.em.rx.RxDereference(sc, LockHoldingState.LHS_LockNotHeld);
      await H.sleep(w, 11);
    }),
  );
  t.not(sc.freed, null);
  t.is(w.rec.callsOf("MRxFinalizeSrvCall").length, 1);
  t.regex(w.rec.callsOf("MRxFinalizeSrvCall")[0]?.thread ?? "", /^Delayed worker/, "the scavenger's pass");
});

test("exactly one MRxFinalizeSrvCall: RxUnregisterMinirdr force-finalizes a leftover SRV_CALL", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  let left: string[] = [];
  H.clean(
    await H.systemThread(w, "unload", async () => {
      w.em.rx.RxReference(sc);
      left = await w.em.rx.RxUnregisterMinirdr(w.dev);
    }),
  );
  t.deepEqual(left, [`${sc.label()} (count 2)`]);
  t.is(w.rec.callsOf("MRxFinalizeSrvCall").length, 1);
  t.is(w.rec.callsOf("MRxFinalizeSrvCall")[0]?.force, true);
});

test("exactly one MRxFinalizeSrvCall: a second finalize while the posted destroy is still queued", async (t) => {
  const w = await recordingWorld();
  const sc = await H.handSrvCall(w);
  const rets: boolean[] = [];
  H.clean(
    await H.foreignThread(w, "app thread", () =>
      H.withNetName(w, async () => {
        rets.push(await w.em.rx.RxFinalizeSrvCall(sc, false));
        rets.push(await w.em.rx.RxFinalizeSrvCall(sc, true));
        rets.push(await w.em.rx.RxFinalizeSrvCall(sc, false));
      }),
    ),
  );
  t.deepEqual(
    rets,
    [true, false, false],
    "count 1, posted: TRUE (will free); then at count 2 (the posted reference), forced or not: FALSE",
  );
  t.is(w.rec.callsOf("MRxFinalizeSrvCall").length, 1);
  t.not(sc.freed, null);
});

test("an MRxFinalizeSrvCall that leaves SrvCall->Context set: bug check 0x27 from the minirdrContract check (pattern 14)", async (t) => {
  class KeepsContext extends H.RecordingNulMrx {
    /** Closes nothing and clears nothing. */
    override MRxFinalizeSrvCall(): number {
      return STATUS.STATUS_SUCCESS;
    }
  }
  const w = await H.makeWorld({ makeMrx: (em) => new KeepsContext(em) });
  const sc = await H.handSrvCall(w);
  sc.Context = { connection: "still here" };
  const r = await H.systemThread(w, "finalizer", () =>
    H.withNetName(w, async () => {
      await w.em.rx.RxFinalizeSrvCall(sc, false);
    }),
  );
  const s = H.assertRdbssStop(t, r, "minirdrContract", RDBSS_ASSERT.CONTEXT_NOT_CLEARED, "RxFinalizeSrvCall");
  t.true(s.reason.includes("Context"), s.reason);
  t.is(H.count(w, "MRxFinalizeSrvCall"), 1);
});
