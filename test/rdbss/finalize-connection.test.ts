/**
 * RxFinalizeConnection (seed pages 002 / 004; rdbss-semantics.md §2, §9): each ForceFilesClosed level (TRUE,
 * FALSE, 0xff) against nothing open, an open file, a pending change notification and a dormant (delay-closed)
 * file — through nulmrx's DELCONN IOCTL ("net use N: /d") and by calling the routine directly — and the places
 * where the documentation and ReactOS disagree, pinned under both profiles.
 */
import test from "ava";
import { FILE_NOTIFY_CHANGE_FILE_NAME, FILE_OPEN, type IoRequest } from "../../emulator/io/index.js";
import { BUGCHECK, type KThread, type NTSTATUS, STATUS } from "../../emulator/kernel/index.js";
import {
  type FCB,
  FCB_STATE,
  type NET_ROOT,
  RX_CONTEXT_FLAG,
  type SRV_CALL,
  SRVOPEN_FLAG,
  type V_NET_ROOT,
} from "../../emulator/rdbss/index.js";
import { NulNetworkProvider } from "../../miniredirs/nulmrx/index.js";
import * as H from "./_helpers.js";

const S = STATUS;
type Profile = "docs" | "reactos";
type Scenario = "nothing open" | "a file open" | "a change notification pending" | "a dormant closed file";
const SCENARIOS: readonly Scenario[] = [
  "nothing open",
  "a file open",
  "a change notification pending",
  "a dormant closed file",
];

function world(profile: Profile): Promise<H.World & { rec: H.RecordingNulMrx }> {
  return H.makeWorld({
    profile,
    // Under reactos RxSetMinirdrCancelRoutine does not exist: the mini-redirector arms its cancel routine by
    // writing RxContext->MRxCancelRoutine itself.
    makeMrx: (em) => new H.RecordingNulMrx(em, { armCancelDirectly: profile === "reactos" }),
  }).then((w) => ({ ...w, rec: w.mrx as H.RecordingNulMrx }));
}

interface Setup {
  handle: number;
  notify: IoRequest | null;
  dormantFcb: FCB | null;
  openFcb: FCB | null;
  srvCall: SRV_CALL;
  netRoot: NET_ROOT;
  vNetRoot: V_NET_ROOT;
}

/** Net use N:, then put the connection in the scenario's state. Runs on a user thread. */
async function arrange(
  w: H.World,
  np: Parameters<Parameters<typeof H.user>[1]>[0],
  scenario: Scenario,
): Promise<Setup> {
  const nt = w.em.sys.nt;
  if ((await np.netUse("N", "\\\\srv\\share")) !== 0) throw new Error("net use failed");
  let handle = 0;
  let notify: IoRequest | null = null;
  let dormantFcb: FCB | null = null;
  let openFcb: FCB | null = null;
  if (scenario === "a file open") {
    const h = await H.openFile(w, "\\??\\N:\\f.txt");
    handle = h.FileHandle;
    await nt.NtWriteFile(handle, { Buffer: H.enc.encode("abc"), ByteOffset: 0 });
    openFcb = H.only(H.fcbs(w, H.connection(w).netRoot), "FCB");
  } else if (scenario === "a change notification pending") {
    const d = await H.openFile(w, "\\??\\N:\\", { dir: true, async: true });
    handle = d.FileHandle;
    const n = await nt.NtNotifyChangeDirectoryFile(handle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_FILE_NAME,
      Length: 256,
    });
    if (n.Status !== S.STATUS_PENDING) throw new Error(`notify did not pend: ${H.statusName(n.Status)}`);
    notify = n.request;
  } else if (scenario === "a dormant closed file") {
    const h = await H.openFile(w, "\\??\\N:\\f.txt");
    await nt.NtClose(h.FileHandle);
    const c = H.connection(w);
    dormantFcb = H.only(H.fcbs(w, c.netRoot), "FCB");
    const so = H.srvOpenOf(dormantFcb);
    if (!(so.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED)) throw new Error("the close was not delayed");
  }
  return { handle, notify, dormantFcb, openFcb, ...H.connection(w) };
}

interface Observed {
  status: NTSTATUS;
  vNetRootFreed: boolean;
  upperFinalized: boolean;
  inNetNameTable: boolean;
  addConnectionReference: boolean;
  closeSrvOpenDuringDelete: number;
  dormantFcbFreed: boolean | null;
  fcbOrphaned: boolean | null;
  srvOpenOrphaned: boolean | null;
  /** The pending notification afterwards: "pending" or its final status. */
  notify: string | null;
  /** A read on the open file's handle afterwards, and its close. */
  laterRead: string | null;
  laterClose: string | null;
}

function observe(w: H.World, s: Setup, status: NTSTATUS, closesBefore: number): Observed {
  // Called on the deleting thread, possibly a system thread: look at freed structures past their tombstone traps.
  return w.em.rx.verifier.look(() => observeNow(w, s, status, closesBefore));
}

function observeNow(w: H.World, s: Setup, status: NTSTATUS, closesBefore: number): Observed {
  const fcb = s.openFcb;
  return {
    status,
    vNetRootFreed: s.vNetRoot.freed !== null,
    upperFinalized: s.vNetRoot.UpperFinalizationDone,
    inNetNameTable: w.dev.pRxNetNameTable.contains(s.vNetRoot),
    addConnectionReference: s.vNetRoot.AdditionalReferenceForDeleteFsctlTaken,
    closeSrvOpenDuringDelete: H.count(w, "MRxCloseSrvOpen") - closesBefore,
    dormantFcbFreed: s.dormantFcb ? s.dormantFcb.freed !== null : null,
    fcbOrphaned: fcb ? (fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) !== 0 : null,
    srvOpenOrphaned: fcb?.SrvOpenList[0] ? (fcb.SrvOpenList[0].Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_ORPHANED) !== 0 : null,
    notify: s.notify ? (s.notify.done ? H.statusName(s.notify.IoStatusBlock.Status) : "pending") : null,
    laterRead: null,
    laterClose: null,
  };
}

/** After the delete: read on the open file's handle (file scenario) and close whatever handle the scenario holds. */
async function afterwards(w: H.World, s: Setup, o: Observed): Promise<void> {
  const nt = w.em.sys.nt;
  if (s.handle === 0) return;
  if (s.notify === null) {
    const r = await nt.NtReadFile(s.handle, { Buffer: new Uint8Array(3), ByteOffset: 0 });
    o.laterRead = H.statusName(r.Status);
  }
  o.laterClose = H.statusName(await nt.NtClose(s.handle));
}

/** What the spec says each (scenario, level) ends in; identical under both profiles. */
function expected(scenario: Scenario, level: number): Partial<Observed> {
  const forced = level === 1;
  switch (scenario) {
    case "nothing open":
    case "a dormant closed file":
      return {
        status: S.STATUS_SUCCESS,
        vNetRootFreed: true,
        upperFinalized: true,
        inNetNameTable: false,
        addConnectionReference: false,
        // The dormant file's delayed close happens now (RxScavengeRelatedFobxs + RxPurgeFcb).
        closeSrvOpenDuringDelete: scenario === "a dormant closed file" ? 1 : 0,
        dormantFcbFreed: scenario === "a dormant closed file" ? true : null,
      };
    case "a file open":
      return forced
        ? {
            status: S.STATUS_SUCCESS,
            vNetRootFreed: false,
            upperFinalized: true,
            inNetNameTable: false,
            addConnectionReference: false,
            fcbOrphaned: true,
            srvOpenOrphaned: true,
            laterRead: "STATUS_UNEXPECTED_NETWORK_ERROR",
            laterClose: "STATUS_SUCCESS",
          }
        : {
            status: S.STATUS_FILES_OPEN,
            vNetRootFreed: false,
            upperFinalized: false,
            inNetNameTable: true,
            // 0xff drops the add-connection reference even though it fails.
            addConnectionReference: level === 0,
            fcbOrphaned: false,
            srvOpenOrphaned: false,
            laterRead: "STATUS_SUCCESS",
            laterClose: "STATUS_SUCCESS",
          };
    case "a change notification pending":
      return forced
        ? {
            status: S.STATUS_SUCCESS,
            vNetRootFreed: false,
            upperFinalized: true,
            inNetNameTable: false,
            addConnectionReference: false,
            notify: "STATUS_CANCELLED",
            laterClose: "STATUS_SUCCESS",
          }
        : {
            status: S.STATUS_FILES_OPEN,
            vNetRootFreed: false,
            upperFinalized: false,
            inNetNameTable: true,
            addConnectionReference: level === 0,
            notify: "pending",
            laterClose: "STATUS_SUCCESS",
          };
  }
}

function check(t: import("ava").ExecutionContext, o: Observed, e: Partial<Observed>): void {
  const picked: Partial<Observed> = {};
  for (const k of Object.keys(e) as (keyof Observed)[]) (picked as Record<string, unknown>)[k] = o[k];
  t.deepEqual({ ...picked, status: H.statusName(o.status) }, { ...e, status: H.statusName(e.status as NTSTATUS) });
}

// ---------------------------------------------------------------- through DELCONN

for (const profile of ["docs", "reactos"] as const) {
  for (const { name, level } of H.FORCE_LEVELS) {
    for (const scenario of SCENARIOS) {
      test(`${profile}: DELCONN ${name} with ${scenario}`, async (t) => {
        const w = await world(profile);
        let o: Observed | null = null;
        H.clean(
          await H.user(w, async (np) => {
            const s = await arrange(w, np, scenario);
            const before = H.count(w, "MRxCloseSrvOpen");
            const status = await np.netUseDelete("N", level);
            o = observe(w, s, status, before);
            await afterwards(w, s, o);
          }),
        );
        const got = o as Observed | null;
        if (got === null) return t.fail("the user thread did not finish");
        check(t, got, expected(scenario, level));
      });
    }
  }
}

// ---------------------------------------------------------------- called directly

/**
 * The user thread arranges the scenario and waits (so that its pending notification stays pending); a System
 * thread calls RxFinalizeConnection(NetRoot, VNetRoot, level) directly; then the user thread does its later I/O.
 */
async function direct(
  w: H.World,
  scenario: Scenario,
  arg: boolean | number,
  call?: (s: Setup, t: KThread) => Promise<NTSTATUS>,
): Promise<{ o: Observed; s: Setup }> {
  const ready = H.event(w, "arranged");
  const done = H.event(w, "finalized");
  let s: Setup | null = null;
  let o: Observed | null = null;
  w.em.k.createThread(w.app, "user", async () => {
    const setup = await arrange(w, new NulNetworkProvider(w.em), scenario);
    s = setup;
    w.em.k.KeSetEvent(ready);
    await H.waitFor(w, done);
    const observed = o as Observed | null;
    if (observed) await afterwards(w, setup, observed);
  });
  w.em.k.PsCreateSystemThread("mini-redirector", async (t) => {
    await H.waitFor(w, ready);
    const setup = s as unknown as Setup;
    const before = H.count(w, "MRxCloseSrvOpen");
    const status = call ? await call(setup, t) : await w.em.rx.RxFinalizeConnection(setup.netRoot, setup.vNetRoot, arg);
    o = observe(w, setup, status, before);
    w.em.k.KeSetEvent(done);
  });
  H.clean(await w.em.k.run());
  if (o === null || s === null) throw new Error("the threads did not finish");
  return { o, s };
}

for (const profile of ["docs", "reactos"] as const) {
  for (const { name, level, arg } of H.FORCE_LEVELS) {
    for (const scenario of SCENARIOS) {
      test(`${profile}: RxFinalizeConnection(NetRoot, VNetRoot, ${name}) called directly with ${scenario}`, async (t) => {
        const w = await world(profile);
        const { o } = await direct(w, scenario, arg);
        check(t, o, expected(scenario, level));
      });
    }
  }
}

test("a forced delete with nothing open, called from the RDBSS process: the whole chain goes inline (NetRoot, VNetRoot, SrvCall callbacks on the caller's thread)", async (t) => {
  const w = await world("docs");
  const { s } = await direct(w, "nothing open", true);
  t.not(s.vNetRoot.freed, null);
  t.not(s.netRoot.freed, null);
  t.not(s.srvCall.freed, null);
  t.deepEqual(
    w.rec.finalizeCalls.map((c) => `${c.name} on ${c.thread}`),
    [
      "MRxFinalizeNetRoot on mini-redirector",
      "MRxFinalizeVNetRoot on mini-redirector",
      "MRxFinalizeSrvCall on mini-redirector",
    ],
  );
});

test("TRUE orphans the open file: its FCB leaves the FCB table, a new open of the same name builds a new FCB on a new connection", async (t) => {
  const w = await world("docs");
  let first: FCB | null = null;
  let second: FCB | null = null;
  H.clean(
    await H.user(w, async (np) => {
      const s = await arrange(w, np, "a file open");
      first = H.only(H.fcbs(w, s.netRoot), "FCB");
      t.is(await np.netUseDelete("N", 1), S.STATUS_SUCCESS);
      t.deepEqual(H.fcbs(w, s.netRoot), [], "the orphaned FCB left the table");
      t.is(await np.netUse("N", "\\\\srv\\share"), S.STATUS_SUCCESS);
      const h = await H.openFile(w, "\\??\\N:\\f.txt", { disposition: FILE_OPEN });
      t.is(h.Status, S.STATUS_SUCCESS);
      second = H.only(H.fcbs(w, H.connection(w).netRoot), "FCB");
      const r = await w.em.sys.nt.NtReadFile(h.FileHandle, { Buffer: new Uint8Array(3), ByteOffset: 0 });
      t.is(r.Status, S.STATUS_SUCCESS);
      t.is(new TextDecoder().decode(r.Buffer), "abc");
      // The old handle still fails; both close.
      const old = await w.em.sys.nt.NtReadFile(s.handle, { Buffer: new Uint8Array(3), ByteOffset: 0 });
      t.is(old.Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
      t.is(await w.em.sys.nt.NtClose(s.handle), S.STATUS_SUCCESS);
      t.is(await w.em.sys.nt.NtClose(h.FileHandle), S.STATUS_SUCCESS);
    }),
  );
  t.not(first, null);
  t.not(second, first);
});

// ---------------------------------------------------------------- where the profiles differ

test("[profile:finalizeConnection0xffNotifications] 0xff with a notification pending: docs fails before touching the FCBs, reactos ignores it and purges the dormant file", async (t) => {
  const results: Record<Profile, Record<string, unknown>> = { docs: {}, reactos: {} };
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world(profile);
    H.clean(
      await H.user(w, async (np) => {
        // A dormant file first (creating it afterwards would complete the notification) …
        const s = await arrange(w, np, "a dormant closed file");
        const dormant = s.dormantFcb as FCB;
        // … then a change notification on the share root.
        const d = await H.openFile(w, "\\??\\N:\\", { dir: true, async: true });
        const n = await w.em.sys.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
          CompletionFilter: FILE_NOTIFY_CHANGE_FILE_NAME,
          Length: 256,
        });
        t.is(n.Status, S.STATUS_PENDING);
        const before = H.count(w, "MRxCloseSrvOpen");
        const status = await np.netUseDelete("N", 0xff);
        results[profile] = {
          status: H.statusName(status),
          notify: n.request?.done ? H.statusName(n.request.IoStatusBlock.Status) : "pending",
          addConnectionReference: s.vNetRoot.AdditionalReferenceForDeleteFsctlTaken,
          dormantFcbFreed: dormant.freed !== null,
          closeSrvOpenDuringDelete: H.count(w, "MRxCloseSrvOpen") - before,
          connectionFinalizationDone: s.vNetRoot.ConnectionFinalizationDone,
        };
        await w.em.sys.nt.NtClose(d.FileHandle);
      }),
    );
  }
  t.deepEqual(results.docs, {
    status: "STATUS_FILES_OPEN",
    notify: "pending",
    addConnectionReference: false,
    dormantFcbFreed: false,
    closeSrvOpenDuringDelete: 0,
    connectionFinalizationDone: false,
  });
  t.deepEqual(results.reactos, {
    status: "STATUS_FILES_OPEN",
    notify: "pending",
    addConnectionReference: false,
    dormantFcbFreed: true,
    closeSrvOpenDuringDelete: 1,
    connectionFinalizationDone: false,
  });
});

test("[profile:finalizeConnectionDocumentedStatuses] netname table held by another thread and a context that cannot wait: docs STATUS_LOCK_NOT_GRANTED at once, reactos waits and succeeds", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world(profile);
    H.clean(await H.user(w, (np) => np.netUse("N", "\\\\srv\\share").then(() => undefined)));
    const c = H.connection(w);
    const seq: string[] = [];
    w.em.k.PsCreateSystemThread("holder", async () => {
      await H.withNetName(w, async () => {
        seq.push("holder has the table");
        await H.sleep(w, 1);
        seq.push("holder releases");
      });
    });
    w.em.k.PsCreateSystemThread("caller", async (th) => {
      const ctx = H.internalContext(w);
      ctx.Flags &= ~RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT;
      th.TopLevelIrp = ctx;
      const st = await w.em.rx.RxFinalizeConnection(c.netRoot, c.vNetRoot, true);
      seq.push(`returned ${H.statusName(st)}`);
    });
    H.clean(await w.em.k.run());
    if (profile === "docs") {
      t.deepEqual(seq, ["holder has the table", "returned STATUS_LOCK_NOT_GRANTED", "holder releases"]);
      t.is(c.vNetRoot.freed, null);
      t.true(c.vNetRoot.AdditionalReferenceForDeleteFsctlTaken, "nothing was done");
      t.true(w.dev.pRxNetNameTable.contains(c.vNetRoot));
    } else {
      t.deepEqual(seq, ["holder has the table", "holder releases", "returned STATUS_SUCCESS"]);
      t.not(c.vNetRoot.freed, null);
    }
  }
});

test("[profile:finalizeConnectionDocumentedStatuses] docs STATUS_LOCK_NOT_GRANTED with a notification pending: refused before anything is done, the notification still pending", async (t) => {
  const w = await world("docs");
  const ready = H.event(w, "ready");
  const done = H.event(w, "done");
  let notify: IoRequest | null = null;
  let during = "";
  let cancelsDuring = -1;
  let status = null as NTSTATUS | null;
  w.em.k.createThread(w.app, "user", async () => {
    await new NulNetworkProvider(w.em).netUse("N", "\\\\srv\\share");
    const d = await H.openFile(w, "\\??\\N:\\", { dir: true, async: true });
    const n = await w.em.sys.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_FILE_NAME,
      Length: 256,
    });
    t.is(n.Status, S.STATUS_PENDING);
    notify = n.request;
    w.em.k.KeSetEvent(ready);
    await H.waitFor(w, done);
    await w.em.sys.nt.NtClose(d.FileHandle);
  });
  w.em.k.PsCreateSystemThread("holder", async () => {
    await H.waitFor(w, ready);
    await H.withNetName(w, () => H.sleep(w, 1));
  });
  w.em.k.PsCreateSystemThread("caller", async (th) => {
    await H.waitFor(w, ready);
    await H.sleep(w, 0.1);
    const ctx = H.internalContext(w);
    ctx.Flags &= ~RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT;
    th.TopLevelIrp = ctx;
    const c = H.connection(w);
    status = await w.em.rx.RxFinalizeConnection(c.netRoot, c.vNetRoot, true);
    const req = notify as IoRequest | null;
    during = req === null ? "none" : req.done ? H.statusName(req.IoStatusBlock.Status) : "pending";
    cancelsDuring = H.count(w, "MRxCancelRoutine");
    w.em.k.KeSetEvent(done);
  });
  H.clean(await w.em.k.run());
  t.is(status, S.STATUS_LOCK_NOT_GRANTED);
  t.is(during, "pending", "a refused call cancelled nothing");
  t.is(cancelsDuring, 0, "no cancel routine ran (the handle's close cancels the notification later)");
  const c = H.connection(w);
  t.true(c.vNetRoot.AdditionalReferenceForDeleteFsctlTaken, "the connection is as it was");
  t.true(w.dev.pRxNetNameTable.contains(c.vNetRoot));
});

test("[profile:finalizeConnectionDocumentedStatuses] the caller's RX_CONTEXT is cancelled: docs STATUS_CANCELLED and nothing done, reactos ignores the flag", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world(profile);
    const { o } = await direct(w, "nothing open", true, (s, th) => {
      const ctx = H.internalContext(w);
      ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED;
      th.TopLevelIrp = ctx;
      return w.em.rx.RxFinalizeConnection(s.netRoot, s.vNetRoot, true);
    });
    if (profile === "docs") {
      t.is(o.status, S.STATUS_CANCELLED);
      t.false(o.vNetRootFreed);
      t.false(o.upperFinalized);
      t.true(o.addConnectionReference);
      t.true(o.inNetNameTable);
    } else {
      t.is(o.status, S.STATUS_SUCCESS);
      t.true(o.vNetRootFreed);
    }
  }
});

test("[profile:finalizeConnectionChecksShareRoot] FALSE while the share root is open through another drive letter: docs STATUS_CONNECTION_IN_USE, reactos misses it (STATUS_SUCCESS)", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world(profile);
    let status: NTSTATUS = -1;
    let vnr: V_NET_ROOT | null = null;
    H.clean(
      await H.user(w, async (np) => {
        t.is(await np.netUse("N", "\\\\srv\\share"), 0);
        t.is(await np.netUse("M", "\\\\srv\\share"), 0);
        // The share root's FCB is created through N: (its V_NET_ROOT is N's) and stays open through M:.
        const viaN = await H.openFile(w, "\\??\\N:\\", { dir: true });
        const viaM = await H.openFile(w, "\\??\\M:\\", { dir: true });
        await w.em.sys.nt.NtClose(viaN.FileHandle);
        vnr = H.connection(w, "N").vNetRoot;
        const root = H.only(H.fcbs(w, vnr.pNetRoot), "share-root FCB");
        t.is(root.FcbTablePath, "");
        t.is(root.VNetRoot, vnr);
        t.is(root.UncleanCount, 1);
        t.is(vnr.NumberOfFobxs, 0);
        status = await np.netUseDelete("N", 0);
        await w.em.sys.nt.NtClose(viaM.FileHandle);
      }),
    );
    const v = vnr as V_NET_ROOT | null;
    if (profile === "docs") {
      t.is(status, S.STATUS_CONNECTION_IN_USE);
      t.true(v?.AdditionalReferenceForDeleteFsctlTaken);
    } else {
      t.is(status, S.STATUS_SUCCESS);
      t.false(v?.AdditionalReferenceForDeleteFsctlTaken);
    }
    t.true(v?.ConnectionFinalizationDone, `${profile}: no FOBX of N: remains`);
  }
});

for (const what of ["a subdirectory", "a file"] as const) {
  test(`[profile:finalizeConnectionChecksShareRoot] FALSE while ${what} (not the share root) created through N: is open through M: only: ${what === "a file" ? "STATUS_FILES_OPEN" : "STATUS_CONNECTION_IN_USE"} under both profiles`, async (t) => {
    for (const profile of ["docs", "reactos"] as const) {
      const w = await world(profile);
      let status: NTSTATUS = -1;
      H.clean(
        await H.user(w, async (np) => {
          const dir = what === "a subdirectory";
          await np.netUse("N", "\\\\srv\\share");
          await np.netUse("M", "\\\\srv\\share");
          const viaN = await H.openFile(w, "\\??\\N:\\x", { dir });
          const viaM = await H.openFile(w, "\\??\\M:\\x", { dir });
          await w.em.sys.nt.NtClose(viaN.FileHandle);
          const n = H.connection(w, "N").vNetRoot;
          t.is(H.only(H.fcbs(w, n.pNetRoot), "FCB").VNetRoot, n);
          status = await np.netUseDelete("N", 0);
          await w.em.sys.nt.NtClose(viaM.FileHandle);
        }),
      );
      // §2 step 6: unclean directories alone give STATUS_CONNECTION_IN_USE, an unclean file STATUS_FILES_OPEN.
      t.is(H.statusName(status), what === "a file" ? "STATUS_FILES_OPEN" : "STATUS_CONNECTION_IN_USE", profile);
    }
  });
}

test("[profile:finalizeConnectionNullVNetRoot] a NULL VNetRoot: docs uses the NET_ROOT's default V_NET_ROOT, reactos dereferences it (an access violation in the System thread)", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world(profile);
    H.clean(await H.user(w, (np) => np.netUse("N", "\\\\srv\\share").then(() => undefined)));
    const c = H.connection(w);
    t.is(c.netRoot.DefaultVNetRoot, c.vNetRoot);
    const got: { status: NTSTATUS | null } = { status: null };
    const r = await H.systemThread(w, "mini-redirector", async () => {
      got.status = await w.em.rx.RxFinalizeConnection(c.netRoot, null, true);
    });
    if (profile === "docs") {
      H.clean(r);
      t.is(got.status, S.STATUS_SUCCESS);
      t.not(c.vNetRoot.freed, null);
    } else {
      const stop = H.stopOf(r);
      t.is(stop.code, BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED);
      t.is(stop.params[0], 0xc0000005n);
      t.is(got.status, null);
      t.is(c.vNetRoot.freed, null);
    }
  }
});

test("[profile:revalidateOrphanedOnSubmit] a read that passed the FSD gate before a forced delete: docs fails it with STATUS_UNEXPECTED_NETWORK_ERROR at LowIo submit, reactos lets it reach the mini-redirector", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await world(profile);
    const opened = H.event(w, "opened");
    const held = H.event(w, "FCB held");
    const goRead = H.event(w, "go read");
    const seq: string[] = [];
    let setup: Setup | null = null;
    let readsBefore = 0;
    w.em.k.createThread(w.app, "reader", async () => {
      const s = await arrange(w, new NulNetworkProvider(w.em), "a file open");
      setup = s;
      w.em.k.KeSetEvent(opened);
      await H.waitFor(w, goRead);
      readsBefore = H.count(w, "MRxLowIOSubmit[LOWIO_OP_READ]");
      seq.push("read issued");
      const r = await w.em.sys.nt.NtReadFile(s.handle, { Buffer: new Uint8Array(3), ByteOffset: 0 });
      seq.push(`read ${H.statusName(r.Status)} (${r.Information} bytes)`);
      await w.em.sys.nt.NtClose(s.handle);
    });
    // A driver thread holds the FCB while the delete and then the read queue up behind it, in that order.
    w.em.k.PsCreateSystemThread("holder", async () => {
      await H.waitFor(w, opened);
      const fcb = (setup as Setup | null)?.openFcb as FCB;
      await w.em.rx.acquire(fcb.Header.Resource, true);
      w.em.k.KeSetEvent(held);
      await H.sleep(w, 0.1);
      w.em.k.KeSetEvent(goRead);
      await H.sleep(w, 0.1);
      seq.push("holder releases");
      w.em.rx.release(fcb.Header.Resource);
    });
    w.em.k.PsCreateSystemThread("deleter", async () => {
      await H.waitFor(w, held);
      const s = setup as Setup | null;
      if (s === null) return;
      const st = await w.em.rx.RxFinalizeConnection(s.netRoot, s.vNetRoot, true);
      seq.push(`delete ${H.statusName(st)}`);
    });
    H.clean(await w.em.k.run());
    const reads = H.count(w, "MRxLowIOSubmit[LOWIO_OP_READ]") - readsBefore;
    if (profile === "docs") {
      t.deepEqual(seq, [
        "read issued",
        "holder releases",
        "delete STATUS_SUCCESS",
        "read STATUS_UNEXPECTED_NETWORK_ERROR (0 bytes)",
      ]);
      t.is(reads, 0, "the mini-redirector never saw the read");
    } else {
      t.deepEqual(seq, ["read issued", "holder releases", "delete STATUS_SUCCESS", "read STATUS_SUCCESS (3 bytes)"]);
      t.is(reads, 1, "the read reached the mini-redirector on an orphaned FCB");
    }
  }
});

test("after a failed delete: FALSE kept the add-connection reference, so the connection outlives its files until a retry (pattern 19); 0xff dropped it, so the scavenger releases the connection once the files are closed (docs)", async (t) => {
  const seen: Record<string, unknown[]> = {};
  for (const { name, level } of H.FORCE_LEVELS.filter((f) => f.level !== 1)) {
    const w = await world("docs");
    const log: unknown[] = [];
    H.clean(
      await H.user(w, async (np) => {
        const s = await arrange(w, np, "a file open");
        log.push(H.statusName(await np.netUseDelete("N", level)));
        await w.em.sys.nt.NtClose(s.handle);
        await H.sleep(w, 60);
        log.push({
          freed: s.vNetRoot.freed !== null,
          addConnectionReference: s.vNetRoot.AdditionalReferenceForDeleteFsctlTaken,
        });
        if (level === 0) {
          log.push(`retry ${H.statusName(await np.netUseDelete("N", 0))}`);
          log.push({ freed: s.vNetRoot.freed !== null });
        }
      }),
    );
    log.push(w.rec.finalizeCalls.map((c) => c.name));
    seen[name] = log;
  }
  const all = ["MRxFinalizeNetRoot", "MRxFinalizeVNetRoot", "MRxFinalizeSrvCall"];
  t.deepEqual(seen, {
    FALSE: [
      "STATUS_FILES_OPEN",
      { freed: false, addConnectionReference: true },
      "retry STATUS_SUCCESS",
      { freed: true },
      all,
    ],
    "0xff": ["STATUS_FILES_OPEN", { freed: true, addConnectionReference: false }, all],
  });
});
