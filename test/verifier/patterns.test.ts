/**
 * The 20 lifecycle-bug patterns of ../shared/reference/rdbss-semantics.md §8: for each, the deliberately buggy
 * mini-redirector (test/verifier/_buggy.ts) caught by its check — stop code, check, sub-code, reason — beside the
 * correct nulmrx passing the same scenario. Where the pattern is about using RDBSS (not the mini-redirector), a
 * scenario `call` step or a test thread makes the call.
 */
import test, { type ExecutionContext } from "ava";
import { createEmulator } from "../../emulator/boot.js";
import { RDBSS_ASSERT, validateDispatch } from "../../emulator/rdbss/index.js";
import { formatReport } from "../../emulator/scenario/index.js";
import { NulMrx } from "../../miniredirs/nulmrx/index.js";
import { fatal, NET_USE, passed, rdbssStop, runBug } from "./_run.js";

const A = RDBSS_ASSERT;
const CREATE = "  - op: create\n    path: X:\\f.txt\n    as: h\n";
const CLOSE = "  - op: close\n    handle: h\n";
const DELETE = (force: string, expect?: string) =>
  `  - op: net-use-delete\n    drive: X\n    force: ${force}\n${expect ? `    expect: ${expect}\n` : ""}`;

test("pattern 1, leaked reference: the leak report names the RxReference taken in MRxCreateSrvCall, with its step; nulmrx leaves nothing", async (t) => {
  const bad = await runBug("ledger.history", `steps:\n${NET_USE}`, { expect: "  leaks: allowed\n" });
  passed(t, bad);
  const line = bad.leaks.find((l) => l.includes("SRV_CALL#1"));
  t.truthy(line, bad.leaks.join("\n"));
  // The reference never dropped leads; the table entry's follows. One holder a line.
  t.regex(
    line ?? "",
    /— held by:\n {2}1 × RxReference ← MRxCreateSrvCall \[nulmrx\] \(.*\)\n {2}1 × netname table entry \(RxCreateSrvCall\) /,
  );
  t.regex(line ?? "", /steps\[0\] ledger\.history\.yaml:\d+/);
  const good = await runBug("none", `steps:\n${NET_USE}`);
  passed(t, good);
  t.deepEqual(good.leaks, []);
});

test("pattern 2, finalize while files open: a delete that forces past the user's FALSE orphans the open file (orphanedHandles); nulmrx answers STATUS_FILES_OPEN", async (t) => {
  const setup = "  checks: { orphanedHandles: stop }\n";
  const bad = await runBug("orphanedHandles.forced-delete", `steps:\n${NET_USE}${CREATE}${DELETE("FALSE")}`, {
    setup,
    expect: "  stop: any\n",
  });
  const s = rdbssStop(t, bad, "orphanedHandles", A.ORPHANED_OPEN_HANDLES);
  t.regex(s.reason, /finalized with files still open \(FCB#\d+ \\srv\\share\\f\.txt: 1 handle\(s\)\)/);
  const good = await runBug(
    "none",
    `steps:\n${NET_USE}${CREATE}${DELETE("FALSE", "STATUS_FILES_OPEN")}  - op: write\n    handle: h\n    data: still works\n`,
    { setup },
  );
  passed(t, good);
});

test("pattern 2 through a second drive letter: a forced delete of Y: orphans the handle opened through Y: on an FCB X: opened first, and only that handle is counted", async (t) => {
  const setup = "  checks: { orphanedHandles: stop }\n";
  const useY = "  - op: net-use\n    drive: Y\n    remote: \\\\srv\\share\n";
  const opens = "  - op: create\n    path: X:\\f.txt\n    as: hx\n  - op: create\n    path: Y:\\f.txt\n    as: hy\n";
  const deleteY = "  - op: net-use-delete\n    drive: Y\n    force: TRUE\n";
  const bad = await runBug("none", `steps:\n${NET_USE}${useY}${opens}${deleteY}`, { setup, expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "orphanedHandles", A.ORPHANED_OPEN_HANDLES);
  t.regex(
    s.reason,
    /V_NET_ROOT#\d+ \\;Y:0\\srv\\share was finalized with files still open \(FCB#\d+ \\srv\\share\\f\.txt: 1 handle\(s\)\)/,
  );
  // The handle through Y: closed first: nothing is orphaned, and X:'s handle on the same FCB goes on working.
  const closeY = "  - op: close\n    handle: hy\n";
  const good = await runBug(
    "none",
    `steps:\n${NET_USE}${useY}${opens}${closeY}${deleteY}  - op: write\n    handle: hx\n    data: still works\n`,
    { setup },
  );
  passed(t, good);
});

test("pattern 3, finalizing without the netname table exclusive: RxFinalizeSrvCall under a shared lock (rdbssLocks); exclusive is fine", async (t) => {
  const body = (lock: string) =>
    `threads:\n  k:\n    system: true\n    steps:\n      - op: net-use\n        drive: X\n        remote: \\\\srv\\share\n      - op: call\n        routine: RxFinalizeSrvCall\n        object: SRV_CALL \\\\srv\n        force: false\n        lock: ${lock}\n${
      lock === "exclusive" ? "        expect: { result: false }\n" : ""
    }`;
  const bad = await runBug("none", body("shared"), { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "rdbssLocks", A.LOCK_NOT_HELD);
  t.regex(s.reason, /requires the netname table of nulmrx held exclusive, but thread "k" holds it shared/);
  passed(t, await runBug("none", body("exclusive")));
});

test("pattern 4, lying LockHoldingState: RxDereference(LHS_ExclusiveLockHeld) without the lock (rdbssLocks)", async (t) => {
  const bad = await runBug("rdbssLocks.lying-lock-state", `steps:\n${NET_USE}${CREATE}`, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "rdbssLocks", A.LOCK_STATE_LIE);
  t.regex(
    s.reason,
    /RxDereference\(SRV_CALL#1 \\srv, LHS_ExclusiveLockHeld\) but thread "main" holds the netname table/,
  );
  passed(t, await runBug("none", `steps:\n${NET_USE}${CREATE}`));
});

test("pattern 5, use after finalize: a field of the previous, freed FCB read through a kept pointer (tombstone)", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\a.txt\n    as: a\n  - op: close\n    handle: a\n  - op: create\n    path: X:\\b.txt\n    as: b\n`;
  const bad = await runBug("useAfterFree.field", body, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "useAfterFree", A.USE_AFTER_FREE);
  t.regex(s.reason, /^A read of OpenCount of FCB#\d+ \\srv\\share\\a\.txt, which was freed by RxFinalizeNetFcb/);
  t.regex(s.reason, /Reference history of FCB#\d+/);
  t.is(s.params[2], "0x0000000000000000", "parameter 3: a read");
  passed(t, await runBug("none", body));
});

test("pattern 6, RxFinalizeSrvCall's TRUE taken as freed: the context goes before the posted MRxFinalizeSrvCall", async (t) => {
  const body = `steps:\n${NET_USE}${DELETE("FALSE")}`;
  const bad = await runBug("minirdrContract.context-freed-early", body, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "minirdrContract", A.CONTEXT_FREED_EARLY);
  t.regex(s.reason, /SRV_CALL#1 \\srv's Context was released before MRxFinalizeSrvCall ran/);
  t.is(s.thread, "Delayed worker 1", "MRxFinalizeSrvCall was posted to a delayed worker");
  // The worker's own chain starts at the worker; the report also names who posted it, from which step and call.
  t.is(s.queuedBy?.thread, "main");
  t.regex(s.queuedBy?.step ?? "", /^steps\[1\] /, "the net use /delete step");
  t.deepEqual(s.queuedBy?.callChain.slice(-4), [
    "RxDereference",
    "RxFinalizeSrvCall",
    "RxDispatchToWorkerThread",
    "ExQueueWorkItem",
  ]);
  t.regex(s.text, /\nWork item queued by thread \d+ "main" at [\d.]+ s \(steps\[1\] [^)]*\), call chain:\n/);
  passed(t, await runBug("none", body));
});

test("pattern 6, with pool: per-server state freed on the posted path's TRUE, pointer left set, read by the posted MRxFinalizeSrvCall (0xD5)", async (t) => {
  const body = `steps:\n${NET_USE}${DELETE("FALSE")}`;
  const bad = await runBug("pool.use-after-free", body, { expect: "  stop: any\n" });
  const s = fatal(bad);
  t.is(s?.code, "0x000000D5", s?.text);
  t.is(s?.check, "pool");
  t.regex(s?.reason ?? "", /^A read of server of pool block 'BugS' \(NonPagedPool, 64 bytes\) after it was freed/);
  t.regex(s?.reason ?? "", /freed by ExFreePoolWithTag on thread "main" .*\(steps\[1\] .*MRxDevFcbXXXControlFile/);
  t.is(s?.thread, "Delayed worker 1", "the posted MRxFinalizeSrvCall made the read");
  t.regex(s?.callChain.at(-1) ?? "", /^MRxFinalizeSrvCall/);
  // Context2 keeps its pointer: the old pointer-change check alone would not have seen this.
  t.false(/Context2? was released/.test(s?.reason ?? ""));
  passed(t, await runBug("none", body));
});

test("pool never freed: the driver's unload stops with 0xC4 / 0x62 naming the block; recorded, the teardown's leak report names it too", async (t) => {
  const bad = await runBug("pool.leak", `steps:\n${NET_USE}`, { expect: "  stop: any\n" });
  const s = fatal(bad);
  if (s === null) return t.fail("expected a stop at unload");
  t.is(s.code, "0x000000C4", s.text);
  t.is(s.check, "pool");
  t.deepEqual([BigInt(s.params[0] as string), BigInt(s.params[3] as string)], [0x62n, 1n]);
  t.regex(s.thread ?? "", /teardown unload/);
  t.regex(
    s.reason,
    /^\\FileSystem\\NulMRx unloaded without freeing 1 pool allocation: pool block 'BugL' \(PagedPool, 128 bytes\), allocated on thread "[^"]+" .*MRxCreateSrvCall \[nulmrx\]\.$/,
  );
  // Recorded: the run goes on to its leak report, which fails a scenario that expects no leaks.
  const setup = "  checks: { pool: record }\n";
  const rec = await runBug("pool.leak", `steps:\n${NET_USE}`, { setup, expect: "  leaks: allowed\n" });
  t.is(fatal(rec), null);
  t.deepEqual(
    rec.stops.map((v) => [v.check, BigInt(v.params[0] as string)]),
    [["pool", 0x62n]],
  );
  const leak = rec.leaks.find((l) => l.includes("'BugL'"));
  t.regex(
    leak ?? rec.leaks.join("\n"),
    /^pool block 'BugL' \(PagedPool, 128 bytes\) never freed: allocated on thread "[^"]+" .*MRxCreateSrvCall/,
  );
  t.is(rec.leaks.length, 1, rec.leaks.join("\n"));
  const strict = await runBug("pool.leak", `steps:\n${NET_USE}`, { setup });
  t.false(strict.passed);
  t.regex(strict.failures.join("\n"), /left after teardown: pool block 'BugL'/);
});

test("pattern 7, finalize/create race on one server name: the new SRV_CALL shares the dying one's state", async (t) => {
  const body = `steps:\n${NET_USE}  - op: call\n    routine: RxFinalizeConnection\n    object: "V_NET_ROOT X:"\n    level: TRUE\n  - op: net-use\n    drive: Y\n    remote: \\\\srv\\share\n`;
  const bad = await runBug("minirdrContract.shared-context", body, { expect: "  stop: any\n  leaks: allowed\n" });
  const s = rdbssStop(t, bad, "minirdrContract", A.SHARED_CONTEXT);
  t.regex(s.reason, /SRV_CALL#1 \\srv, whose Context is also the Context of the live SRV_CALL#\d+ \\srv/);
  // The same state kept in Context2 instead.
  const bad2 = await runBug("minirdrContract.shared-context2", body, { expect: "  stop: any\n  leaks: allowed\n" });
  t.regex(
    rdbssStop(t, bad2, "minirdrContract", A.SHARED_CONTEXT).reason,
    /SRV_CALL#1 \\srv, whose Context2 is also the Context2 of the live SRV_CALL#\d+ \\srv/,
  );
  // nulmrx's state is per SRV_CALL: the same interleaving is harmless.
  const good = await runBug("none", body, { expect: "  leaks: allowed\n" });
  passed(t, good);
  t.is(fatal(good), null);
});

test("pattern 7 with separate states: the old SRV_CALL's MRxFinalizeSrvCall frees the new one's state, found by name", async (t) => {
  const body = `steps:\n${NET_USE}  - op: call\n    routine: RxFinalizeConnection\n    object: "V_NET_ROOT X:"\n    level: TRUE\n  - op: net-use\n    drive: Y\n    remote: \\\\srv\\share\n`;
  const bad = await runBug("minirdrContract.shared-context-freed", body, { expect: "  stop: any\n  leaks: allowed\n" });
  const s = rdbssStop(t, bad, "minirdrContract", A.SHARED_CONTEXT);
  t.regex(
    s.reason,
    /^MRxFinalizeSrvCall for SRV_CALL#1 \\srv freed pool block 'BugK', the Context2 of the live SRV_CALL#\d+ \\srv\. A new SRV_CALL/,
  );
  t.is(s.thread, "Delayed worker 1", "the posted finalization, on the delayed worker");
  // Each SRV_CALL's Context2 differs, so the check before MRxFinalizeSrvCall (shared pointers) cannot see this one.
  t.notRegex(s.reason, /whose Context2 is also/);
  // The same free posted by MRxFinalizeSrvCall to a work item: found on the worker, naming the finalization.
  const posted = await runBug("minirdrContract.shared-context-freed-posted", body, {
    expect: "  stop: any\n  leaks: allowed\n",
  });
  const p = rdbssStop(t, posted, "minirdrContract", A.SHARED_CONTEXT);
  t.regex(
    p.reason,
    /^MRxFinalizeSrvCall for SRV_CALL#1 \\srv freed pool block 'BugK', the Context2 of the live SRV_CALL#\d+ \\srv \(in work it queued, on thread "Delayed worker \d+"\)/,
  );
  // Unchecked, the run goes on with the new SRV_CALL's state freed under it; only the unload notices, as a leak of
  // the old SRV_CALL's block (its own finalization freed the other one), 25 s and a teardown away from the cause.
  const unchecked = await runBug("minirdrContract.shared-context-freed", body, {
    setup: "  checks: { minirdrContract: off }\n",
    expect: "  stop: any\n  leaks: allowed\n",
  });
  const leak = fatal(unchecked);
  t.is(leak?.check, "pool");
  t.regex(leak?.reason ?? "", /unloaded without freeing 1 pool allocation: pool block 'BugK'/);
  // Without the race (the old finalization has run before the server is used again) the same driver is clean.
  const apart = `steps:\n${NET_USE}  - op: call\n    routine: RxFinalizeConnection\n    object: "V_NET_ROOT X:"\n    level: TRUE\n  - op: advance\n    by: 1s\n  - op: net-use\n    drive: Y\n    remote: \\\\srv\\share\n`;
  const clean = await runBug("minirdrContract.shared-context-freed", apart, { expect: "  leaks: allowed\n" });
  passed(t, clean);
  t.is(fatal(clean), null);
});

test("pattern 8, broken two-phase construction: not STATUS_PENDING, two callbacks, none, and the context touched after", async (t) => {
  const cases = [
    ["minirdrContract.not-pending", A.NOT_PENDING, /must return STATUS_PENDING/],
    ["minirdrContract.callback-twice", A.CALLBACK_TWICE, /called its completion callback 2 times/],
    ["minirdrContract.callback-never", A.CALLBACK_NEVER, /never called its completion callback/],
  ] as const;
  for (const [bug, sub, reason] of cases) {
    const r = await runBug(bug, `steps:\n${NET_USE}`, { expect: "  stop: any\n" });
    t.regex(rdbssStop(t, r, "minirdrContract", sub).reason, reason);
  }
  const late = await runBug("useAfterFree.calldown", `steps:\n${NET_USE}${CREATE}`, { expect: "  stop: any\n" });
  t.regex(
    rdbssStop(t, late, "useAfterFree", A.USE_AFTER_FREE).reason,
    /^A write of NetRootStatus of MRX_CREATENETROOT_CONTEXT of V_NET_ROOT#3/,
  );
  passed(t, await runBug("none", `steps:\n${NET_USE}${CREATE}`));
});

test("pattern 8, the context touched straight after the callback, in the same call: the waiter may already have freed it", async (t) => {
  // RDBSS reads the result and buries the structure as soon as the callback signals FinishEvent, before control
  // returns to the mini-redirector; a write in the next statement is reported (it used to pass: nothing had freed
  // the context yet in this single-threaded model).
  const cnc = await runBug("useAfterFree.calldown-right-after", `steps:\n${NET_USE}`, { expect: "  stop: any\n" });
  const s = rdbssStop(t, cnc, "useAfterFree", A.USE_AFTER_FREE);
  t.regex(s.reason, /^A write of VirtualNetRootStatus of MRX_CREATENETROOT_CONTEXT of V_NET_ROOT#\d+/);
  t.regex(s.reason, /RxConstructNetRoot/);
  t.regex(s.callChain.at(-1) ?? "", /^MRxCreateVNetRoot/, "reported inside MRxCreateVNetRoot, at the write");
  const srv = await runBug("useAfterFree.srvcall-calldown-right-after", `steps:\n${NET_USE}`, {
    expect: "  stop: any\n",
  });
  t.regex(
    rdbssStop(t, srv, "useAfterFree", A.USE_AFTER_FREE).reason,
    /^A write of Status of MRX_SRVCALL_CALLBACK_CONTEXT of SRV_CALL#\d+/,
  );
  passed(t, await runBug("none", `steps:\n${NET_USE}${CREATE}`));
});

test("pattern 9, change notification without a cancel routine: stopped at the submit; nulmrx's is cancelled by the forced delete", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\d\n    as: d\n    options: FILE_DIRECTORY_FILE\n    access: FILE_LIST_DIRECTORY | SYNCHRONIZE\n    synchronous: false\n  - op: notify\n    handle: d\n    filter: FILE_NOTIFY_CHANGE_FILE_NAME\n    as: n\n    expect: STATUS_PENDING\n`;
  const bad = await runBug("minirdrContract.notify-without-cancel", body, { expect: "  stop: any\n" });
  t.regex(rdbssStop(t, bad, "minirdrContract", A.NOTIFY_WITHOUT_CANCEL).reason, /without arming a cancel routine/);
  const left = await runBug("minirdrContract.notify-left-pending", `${body}${DELETE("TRUE")}`, {
    expect: "  stop: any\n",
  });
  t.regex(rdbssStop(t, left, "minirdrContract", A.NOTIFY_LEFT_PENDING).reason, /although its cancel routine ran/);
  passed(
    t,
    await runBug(
      "none",
      `${body}${DELETE("FALSE", "STATUS_FILES_OPEN")}${DELETE("TRUE")}  - op: wait\n    request: n\n    expect: STATUS_CANCELLED\n`,
    ),
  );
});

test("pattern 10, completion racing cancel: completing without disarming the cancel routine completes twice (0x44); disarming first while holding a reference is clean; without the reference the disarm is a use after free", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h\n    synchronous: false\n  - op: read\n    handle: h\n    offset: 0\n    length: 4\n    as: r\n    expect: STATUS_PENDING\n  - op: cancel\n    request: r\n  - op: advance\n    by: 10ms\n  - op: wait\n    request: r\n    expect: STATUS_CANCELLED\n`;
  const bad = await runBug("pattern.complete-and-cancel", body, { expect: "  stop: 0x44\n" });
  passed(t, bad);
  const s = fatal(bad);
  t.regex(s?.reason ?? "", /RxLowIoCompletion was called again for RX_CONTEXT#\d+ \(LOWIO_OP_READ\)/);
  // The first completion is named: the cancel routine, on the worker RDBSS cancels from.
  t.regex(
    s?.reason ?? "",
    /RxLowIoCompletion was first called by thread \d+ "[^"]*worker[^"]*" at [\d.]+ s \(steps\[4\][^)]*\); call chain: worker: RxCancelOperation RX_CONTEXT#\d+ → MRxCancelRoutine \[nulmrx\] → RxLowIoCompletion\.$/,
  );
  t.is(s?.thread, "DPC");
  passed(t, await runBug("pattern.complete-and-cancel-fixed", body));
  // Disarming first without holding a reference: the cancel routine's completion let RDBSS free the context before
  // the DPC's disarm (a use after free of the RX_CONTEXT).
  const freed = await runBug("useAfterFree.rx-context", body, { expect: "  stop: { code: 0x27 }\n" });
  passed(t, freed);
  const u = rdbssStop(t, freed, "useAfterFree", 0x05);
  t.regex(
    u.reason,
    /^RxSetMinirdrCancelRoutine was given RX_CONTEXT#\d+ \(IRP_MJ_READ\), whose last reference was dropped on thread "[^"]+" at [\d.]+ s/,
  );
  t.regex(u.reason, /InterlockedIncrement\(&RxContext->ReferenceCount\).*RxDereferenceAndDeleteRxContext/);
  t.is(fatal(freed)?.thread, "DPC");
});

test("pattern 11, wrong lock order: the netname table from inside MRxCreate (FCB held) is reported before any deadlock", async (t) => {
  const bad = await runBug("lockOrder.rank", `steps:\n${NET_USE}${CREATE}`, { expect: "  stop: any\n" });
  const s = fatal(bad);
  t.is(s?.code, "0x000000C4");
  t.is(s?.check, "lockOrder");
  t.is(s?.params[0], "0x0000000000001001");
  t.regex(
    s?.reason ?? "",
    /waits for netname table .* while holding FCB .*The documented order is RxData → netname table → FCB table → FCB/,
  );
  passed(t, await runBug("none", `steps:\n${NET_USE}${CREATE}`));
});

test("pattern 12, MRxStart waiting for a thread that needs the netname table: a deadlock with who waits for what", async (t) => {
  const bad = await runBug("deadlock.wait-for-graph", `steps:\n${NET_USE}`, { expect: "  stop: { kind: deadlock }\n" });
  passed(t, bad);
  const s = fatal(bad);
  t.regex(
    s?.text ?? "",
    /waits for ERESOURCE "netname table of nulmrx" \(exclusive\) held by thread \d+ "Critical worker 1"/,
  );
  t.regex(s?.text ?? "", /waits for KEVENT "mrx transport ready" \(no owner\)/);
  passed(t, await runBug("none", `steps:\n${NET_USE}`));
});

test("pattern 13, a raw RX_FILE_TYPE given to RxFinishFcbInitialization (minirdrContract)", async (t) => {
  const bad = await runBug("minirdrContract.bad-file-type", `steps:\n${NET_USE}${CREATE}`, { expect: "  stop: any\n" });
  t.regex(rdbssStop(t, bad, "minirdrContract", A.BAD_FILE_TYPE).reason, /FileType = 0x3/);
  passed(t, await runBug("none", `steps:\n${NET_USE}${CREATE}`));
});

test("pattern 14, mini-redirector state not cleared at finalize: SRV_CALL Context, FCB fMiniInited", async (t) => {
  const sc = await runBug("minirdrContract.context-not-cleared", `steps:\n${NET_USE}${DELETE("FALSE")}`, {
    expect: "  stop: any\n",
  });
  t.regex(rdbssStop(t, sc, "minirdrContract", A.CONTEXT_NOT_CLEARED).reason, /still has Context set/);
  const fcb = await runBug("minirdrContract.mini-inited-left", `steps:\n${NET_USE}${CREATE}${CLOSE}`, {
    expect: "  stop: any\n",
  });
  t.regex(rdbssStop(t, fcb, "minirdrContract", A.MINI_INITED_LEFT).reason, /freed with fMiniInited still set/);
  passed(t, await runBug("none", `steps:\n${NET_USE}${CREATE}${CLOSE}${DELETE("FALSE")}`));
});

test("pattern 15, the NULL ForceDisconnect pointer dereferenced in MRxFinalizeVNetRoot (minirdrContract)", async (t) => {
  const bad = await runBug("minirdrContract.force-dereferenced", `steps:\n${NET_USE}${DELETE("FALSE")}`, {
    expect: "  stop: any\n",
  });
  const s = rdbssStop(t, bad, "minirdrContract", A.FORCE_DEREFERENCED);
  t.regex(s.reason, /MRxFinalizeVNetRoot\(V_NET_ROOT#3 .*, ForceDisconnect\) faulted on a NULL pointer/);
  // In record mode the fault still happens, as in Windows: the violation is kept and the run stops with 0x1E/0x7E.
  const rec = await runBug("minirdrContract.force-dereferenced", `steps:\n${NET_USE}${DELETE("FALSE")}`, {
    setup: "  checks: { minirdrContract: record }\n",
    expect: "  stop: any\n  violations: [minirdrContract]\n",
  });
  passed(t, rec);
  t.regex(fatal(rec)?.name ?? "", /EXCEPTION_NOT_HANDLED/);
  passed(t, await runBug("none", `steps:\n${NET_USE}${DELETE("FALSE")}`));
});

test("pattern 15 one step removed: work that MRxFinalizeVNetRoot posted reads the NULL ForceDisconnect (minirdrContract)", async (t) => {
  const body = `steps:\n${NET_USE}${DELETE("FALSE")}`;
  const bad = await runBug("minirdrContract.force-dereferenced-in-worker", body, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "minirdrContract", A.FORCE_DEREFERENCED);
  t.regex(
    s.reason,
    /^Work that MRxFinalizeVNetRoot\(V_NET_ROOT#3 .*, ForceDisconnect\) queued faulted on a NULL pointer on thread ".*worker.*" \(Cannot read properties of null/,
  );
  // The stop is on the worker, and names who queued the work: the mini-redirector inside MRxFinalizeVNetRoot.
  t.regex(s.thread ?? "", /worker/);
  t.regex(
    formatReport(bad),
    /Work item queued by thread .*call chain:[\s\S]*MRxFinalizeVNetRoot \[nulmrx\][\s\S]*RxDispatchToWorkerThread/,
  );
  // Record mode: the violation is kept once, and the fault is still the worker's 0x7E, as in Windows.
  const rec = await runBug("minirdrContract.force-dereferenced-in-worker", body, {
    setup: "  checks: { minirdrContract: record }\n",
    expect: "  stop: any\n  violations: [minirdrContract]\n",
  });
  passed(t, rec);
  t.is(fatal(rec)?.name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
  t.is(rec.stops.filter((x) => !x.fatal).length, 1, "one recorded violation");
  // With the check off the same fault is the plain 0x7E, without the explanation.
  const off = await runBug("minirdrContract.force-dereferenced-in-worker", body, {
    setup: "  checks: { minirdrContract: off }\n",
    expect: "  stop: any\n",
  });
  t.is(fatal(off)?.name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
  t.notRegex(fatal(off)?.reason ?? "", /ForceDisconnect/);
});

test("pattern 16, a missing mandatory dispatch entry: RxRegisterMinirdr's validation names it", (t) => {
  const good = new NulMrx(createEmulator().rx);
  t.deepEqual(validateDispatch(good).errors, []);
  const bad = Object.create(good) as Record<string, unknown>;
  bad.MRxDeallocateForFcb = undefined;
  const v = validateDispatch(bad as never);
  t.true(
    v.errors.some((e) => e.includes("MRxDeallocateForFcb")),
    v.errors.join("\n"),
  );
});

test("pattern 17, MRxContext[] expected to survive between calls: the stale read is reported", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h1\n    access: GENERIC_READ | SYNCHRONIZE\n  - op: create\n    path: X:\\f.txt\n    as: h2\n    access: GENERIC_WRITE | SYNCHRONIZE\n`;
  const bad = await runBug("minirdrContract.mrxcontext-stale", body, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "minirdrContract", A.MRXCONTEXT_STALE);
  t.regex(
    s.reason,
    /^MRx(Create|CollapseOpen) read RxContext->MRxContext\[0\] of RX_CONTEXT#\d+, which MRxShouldTryToCollapseThisOpen had set/,
  );
  passed(t, await runBug("none", body));
});

test("pattern 17, two calls on: a slot written by MRxShouldTryToCollapseThisOpen, left alone by MRxCollapseOpen, read by MRxCreate", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h1\n  - op: create\n    path: X:\\f.txt\n    as: h2\n`;
  let calls: string[] = [];
  const bad = await runBug("minirdrContract.mrxcontext-stale-later", body, {
    expect: "  stop: any\n",
    options: { onFinish: (em) => (calls = [...em.rx.mrxLog].map((c) => c.name)) },
  });
  const s = rdbssStop(t, bad, "minirdrContract", A.MRXCONTEXT_STALE);
  t.regex(
    s.reason,
    /^MRxCreate read RxContext->MRxContext\[0\] of RX_CONTEXT#\d+, which MRxShouldTryToCollapseThisOpen had set/,
  );
  // MRxCollapseOpen ran between the write and the read (the trap used to last one call: this run passed).
  const between = calls.slice(calls.lastIndexOf("MRxShouldTryToCollapseThisOpen"));
  t.deepEqual(between, ["MRxShouldTryToCollapseThisOpen", "MRxCollapseOpen", "MRxDeallocateForFobx", "MRxCreate"]);
  passed(t, await runBug("none", body));
});

/** A read that the buggy driver completes from a DPC (the pattern-18 variants). */
const READ_COMPLETED_FROM_DPC = `steps:\n${NET_USE}${CREATE}  - op: read\n    handle: h\n    length: 4\n    expect: [STATUS_SUCCESS, STATUS_END_OF_FILE]\n`;

/** Run `bug` on that read: it must stop with 0xA (irql), `ddi` called at DISPATCH_LEVEL from the DPC. */
async function readCompletionAtDpc(t: ExecutionContext, bug: string, ddi: string): Promise<void> {
  const bad = await runBug(bug, READ_COMPLETED_FROM_DPC, { expect: "  stop: { code: 0xA, check: irql }\n" });
  passed(t, bad);
  const s = fatal(bad);
  t.regex(
    s?.reason ?? "",
    new RegExp(`^${ddi} was called at DISPATCH_LEVEL, but it may only be called at APC_LEVEL or below`),
  );
  t.deepEqual(s?.callChain, ["DPC mrx read completion", ddi]);
}

test("pattern 18, RxDereference from a DPC-level completion: IRQL_NOT_LESS_OR_EQUAL (irql)", async (t) => {
  await readCompletionAtDpc(t, "pattern.dereference-at-dpc", "RxDereference");
  passed(t, await runBug("none", READ_COMPLETED_FROM_DPC));
});

test("pattern 18, the net-root callback from a DPC-level completion: IRQL_NOT_LESS_OR_EQUAL (irql)", async (t) => {
  const bad = await runBug("pattern.netroot-callback-at-dpc", `steps:\n${NET_USE}`, {
    expect: "  stop: { code: 0xA, check: irql }\n",
  });
  passed(t, bad);
  t.regex(fatal(bad)?.reason ?? "", /^RxCreateNetRootCallBack was called at DISPATCH_LEVEL/);
  passed(t, await runBug("none", `steps:\n${NET_USE}`));
});

test("pattern 18, RxDispatchToWorkerThread from a DPC-level completion: IRQL_NOT_LESS_OR_EQUAL under docs, accepted under reactos", async (t) => {
  await readCompletionAtDpc(t, "pattern.post-at-dpc", "RxDispatchToWorkerThread");
  const body = READ_COMPLETED_FROM_DPC;
  // ReactOS's RxInsertWorkQueueItem takes a spin lock: the same driver works there, and the read completes.
  const reactos = await runBug("pattern.post-at-dpc", body, { setup: "  profile: reactos\n" });
  passed(t, reactos);
  t.is(reactos.stops.length, 0);
  passed(t, await runBug("none", body));
});

test("pattern 19, lost add-connection reference: a delete reporting success after RxFinalizeConnection failed, or never calling it", async (t) => {
  const failed = await runBug("lostConnection.delete-ioctl", `steps:\n${NET_USE}${CREATE}${DELETE("FALSE")}`, {
    expect: "  stop: any\n",
  });
  t.regex(
    rdbssStop(t, failed, "lostConnection", A.ADD_CONNECTION_KEPT).reason,
    /returned STATUS_SUCCESS although RxFinalizeConnection\(V_NET_ROOT#3 .*\) did not finalize the connection/,
  );
  const never = await runBug("lostConnection.quiescence", `steps:\n${NET_USE}${DELETE("FALSE")}`, {
    expect: "  stop: any\n",
  });
  const s = rdbssStop(t, never, "lostConnection", A.ADD_CONNECTION_KEPT);
  t.regex(s.reason, /still holds its add-connection reference, but its drive letter is gone/);
  t.is(s.thread, "teardown quiescence");
  passed(
    t,
    await runBug(
      "none",
      `steps:\n${NET_USE}${CREATE}${DELETE("FALSE", "STATUS_FILES_OPEN")}${CLOSE}${DELETE("FALSE")}`,
    ),
  );
});

test("pattern 20, premature RxFinalizeNetRoot while referenced (prematureFinalize); the reactos profile's flag sticks", async (t) => {
  const body = `threads:\n  k:\n    system: true\n    steps:\n      - op: net-use\n        drive: X\n        remote: \\\\srv\\share\n      - op: call\n        routine: RxFinalizeNetRoot\n        object: NET_ROOT \\\\srv\\share\n        force: false\n        expect: { result: false }\n`;
  const bad = await runBug("none", body, { setup: "  checks: { prematureFinalize: stop }\n", expect: "  stop: any\n" });
  t.regex(rdbssStop(t, bad, "prematureFinalize", A.PREMATURE_FINALIZE).reason, /while its count is 2/);
  const sticky = await runBug("none", body, {
    setup: "  profile: reactos\n  checks: { prematureFinalize: stop }\n",
    expect: "  stop: any\n",
  });
  t.regex(rdbssStop(t, sticky, "prematureFinalize", A.PREMATURE_FINALIZE).reason, /FINALIZATION_IN_PROGRESS stays set/);
  // Off (the default), the docs profile shrugs it off: FALSE, and the connection goes normally at teardown.
  passed(t, await runBug("none", body));
});
