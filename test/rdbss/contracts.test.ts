/**
 * The rest of the seed family (rdbss-semantics.md §2, §4.6, §4.7, §8 pattern 13): RxFinishFcbInitialization,
 * RxSetSrvCallDomainName, RxSetMinirdrCancelRoutine, RxForceFinalizeAllVNetRoots, RxPrefixTableLookupName,
 * RxDispatchToWorkerThread / RxPostToWorkerThread, RxGetRDBSSProcess, and the docs-only routines under reactos.
 */
import test from "ava";
import { BUGCHECK, RDBSS_BUG_CHECK, STATUS, WorkQueueType } from "../../emulator/kernel/index.js";
import {
  type FCB,
  FCB_STATE,
  LockHoldingState,
  NodeType,
  RDBSS_ASSERT,
  type RX_CONTEXT,
  RX_CONTEXT_FLAG,
  RX_WORK_QUEUE_ITEM,
} from "../../emulator/rdbss/index.js";
import { type NulExtensions, NulMrx } from "../../miniredirs/nulmrx/index.js";
import * as H from "./_helpers.js";

const PACKET_1 = {
  FileAttributes: 0x20,
  NumberOfLinks: 1,
  CreationTime: 111,
  LastAccessTime: 112,
  LastWriteTime: 113,
  LastChangeTime: 114,
  AllocationSize: 4096,
  EndOfFile: 100,
  ValidDataLength: 100,
};
const PACKET_2 = {
  FileAttributes: 0x21,
  NumberOfLinks: 2,
  CreationTime: 221,
  LastAccessTime: 222,
  LastWriteTime: 223,
  LastChangeTime: 224,
  AllocationSize: 8192,
  EndOfFile: 200,
  ValidDataLength: 150,
};

function timesOf(fcb: FCB) {
  return {
    FileAttributes: fcb.Attributes,
    NumberOfLinks: fcb.NumberOfLinks,
    CreationTime: fcb.CreationTime,
    LastAccessTime: fcb.LastAccessTime,
    LastWriteTime: fcb.LastWriteTime,
    LastChangeTime: fcb.LastChangeTime,
    AllocationSize: fcb.Header.AllocationSize,
    EndOfFile: fcb.Header.FileSize,
    ValidDataLength: fcb.Header.ValidDataLength,
  };
}

// ---------------------------------------------------------------- RxFinishFcbInitialization

test("RxFinishFcbInitialization with a raw RX_FILE_TYPE (3): bug check 0x27 from the minirdrContract check", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handBuild(w);
  const r = await H.systemThread(w, "mini-redirector", () => w.em.rx.RxFinishFcbInitialization(g.fcb, 3));
  const s = H.assertRdbssStop(t, r, "minirdrContract", RDBSS_ASSERT.BAD_FILE_TYPE, "RxFinishFcbInitialization");
  t.true(s.reason.includes("FileType = 0x3"), s.reason);
  t.is(g.fcb.NodeTypeCode, NodeType.RDBSS_NTC_STORAGE_TYPE_UNKNOWN);
});

test("pattern 13: a mini-redirector that passes 3 from MRxCreate (violation recorded) makes cleanup bug check 0x27 (RDBSS_BUG_CHECK_CLEANUP)", async (t) => {
  class RawFileType extends NulMrx {
    override MRxCreate(ctx: RX_CONTEXT<NulExtensions>): number {
      const st = super.MRxCreate(ctx);
      if (st === STATUS.STATUS_SUCCESS && ctx.pFcb) this.rx.RxFinishFcbInitialization(ctx.pFcb as unknown as FCB, 3);
      return st;
    }
  }
  const w = await H.makeWorld({ checks: { minirdrContract: "record" }, makeMrx: (em) => new RawFileType(em.rx) });
  let opened: number | undefined;
  const r = await H.user(w, async (np) => {
    const h = await H.netUseAndOpen(w, np);
    opened = h;
    await w.em.sys.nt.NtClose(h);
  });
  t.not(opened, undefined);
  t.is(r.violations.length, 1);
  t.is(r.violations[0]?.check, "minirdrContract");
  t.is(r.violations[0]?.params[0], H.assertParam(RDBSS_ASSERT.BAD_FILE_TYPE));
  const s = H.stopOf(r);
  t.is(s.code, BUGCHECK.RDR_FILE_SYSTEM);
  t.is(s.params[0] >> 16n, BigInt(RDBSS_BUG_CHECK.CLEANUP >>> 16), "0xC1EE: RDBSS_BUG_CHECK_CLEANUP");
  t.true(s.reason.includes("IRP_MJ_CLEANUP"), s.reason);
  t.true(s.reason.includes("0x3"), s.reason);
});

const VALID_TYPES = [
  ["RDBSS_NTC_STORAGE_TYPE_UNKNOWN", NodeType.RDBSS_NTC_STORAGE_TYPE_UNKNOWN],
  ["RDBSS_NTC_STORAGE_TYPE_DIRECTORY", NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY],
  ["RDBSS_NTC_STORAGE_TYPE_FILE", NodeType.RDBSS_NTC_STORAGE_TYPE_FILE],
  ["RDBSS_NTC_SPOOLFILE", NodeType.RDBSS_NTC_SPOOLFILE],
  ["RDBSS_NTC_MAILSLOT", NodeType.RDBSS_NTC_MAILSLOT],
] as const;

for (const [name, type] of VALID_TYPES) {
  test(`RxFinishFcbInitialization(${name}, InitPacket): the node type and the packet's times and sizes`, async (t) => {
    const w = await H.makeWorld();
    const g = await H.handBuild(w);
    H.clean(await H.systemThread(w, "mini-redirector", () => w.em.rx.RxFinishFcbInitialization(g.fcb, type, PACKET_1)));
    t.is(g.fcb.NodeTypeCode, type);
    t.deepEqual(timesOf(g.fcb), PACKET_1);
    t.is(g.fcb.FcbState & FCB_STATE.FCB_STATE_TIME_AND_SIZE_ALREADY_SET, FCB_STATE.FCB_STATE_TIME_AND_SIZE_ALREADY_SET);
  });
}

test("RxFinishFcbInitialization without an InitPacket: the node type only", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handBuild(w);
  const before = timesOf(g.fcb);
  H.clean(
    await H.systemThread(w, "mini-redirector", () =>
      w.em.rx.RxFinishFcbInitialization(g.fcb, NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY),
    ),
  );
  t.is(g.fcb.NodeTypeCode, NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY);
  t.deepEqual(timesOf(g.fcb), before);
  t.is(g.fcb.FcbState & FCB_STATE.FCB_STATE_TIME_AND_SIZE_ALREADY_SET, 0);
});

for (const profile of ["docs", "reactos"] as const) {
  test(`[profile:finishFcbInitAlwaysApplyPacket] ${profile}: a second InitPacket once times are set is ${profile === "docs" ? "ignored" : "applied"}`, async (t) => {
    const w = await H.makeWorld({ profile });
    const g = await H.handBuild(w);
    H.clean(
      await H.systemThread(w, "mini-redirector", () => {
        w.em.rx.RxFinishFcbInitialization(g.fcb, NodeType.RDBSS_NTC_STORAGE_TYPE_FILE, PACKET_1);
        w.em.rx.RxFinishFcbInitialization(g.fcb, NodeType.RDBSS_NTC_STORAGE_TYPE_FILE, PACKET_2);
      }),
    );
    t.deepEqual(timesOf(g.fcb), profile === "docs" ? PACKET_1 : PACKET_2);
  });
}

test("RxFinishFcbInitialization(RDBSS_NTC_MAILSLOT) on an FCB whose times are already set zeroes them (both profiles)", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await H.makeWorld({ profile });
    const g = await H.handBuild(w);
    H.clean(
      await H.systemThread(w, "mini-redirector", () => {
        w.em.rx.RxFinishFcbInitialization(g.fcb, NodeType.RDBSS_NTC_STORAGE_TYPE_FILE, PACKET_1);
        w.em.rx.RxFinishFcbInitialization(g.fcb, NodeType.RDBSS_NTC_MAILSLOT, PACKET_2);
      }),
    );
    const z = timesOf(g.fcb);
    t.deepEqual(
      [z.CreationTime, z.LastAccessTime, z.LastWriteTime, z.LastChangeTime, z.AllocationSize, z.EndOfFile],
      [0, 0, 0, 0, 0, 0],
      profile,
    );
    t.is(g.fcb.NodeTypeCode, NodeType.RDBSS_NTC_MAILSLOT);
  }
});

// ---------------------------------------------------------------- RxSetSrvCallDomainName, RxSetMinirdrCancelRoutine

test("RxSetSrvCallDomainName sets pDomainName; an empty or NULL name clears it; RxFinalizeSrvCall frees it", async (t) => {
  const w = await H.makeWorld();
  const sc = await H.handSrvCall(w);
  const seen: unknown[] = [];
  H.clean(
    await H.systemThread(w, "mini-redirector", async () => {
      const rx = w.em.rx;
      seen.push(rx.RxSetSrvCallDomainName(sc, "CORP"), sc.pDomainName);
      seen.push(rx.RxSetSrvCallDomainName(sc, "OTHER"), sc.pDomainName);
      seen.push(rx.RxSetSrvCallDomainName(sc, ""), sc.pDomainName);
      seen.push(rx.RxSetSrvCallDomainName(sc, "CORP"), sc.pDomainName);
      seen.push(rx.RxSetSrvCallDomainName(sc, null), sc.pDomainName);
      rx.RxSetSrvCallDomainName(sc, "CORP");
      await H.withNetName(w, () => rx.RxFinalizeSrvCall(sc, false));
      // The test looks at the freed SRV_CALL from a system thread: past the tombstone trap, as RDBSS's reports do.
      seen.push(
        sc.freed !== null,
        rx.verifier.look(() => sc.pDomainName),
      );
    }),
  );
  const OK = STATUS.STATUS_SUCCESS;
  t.deepEqual(seen, [OK, "CORP", OK, "OTHER", OK, null, OK, "CORP", OK, null, true, null]);
});

test("RxSetMinirdrCancelRoutine arms and disarms; on a cancelled context it returns STATUS_CANCELLED and stores nothing", async (t) => {
  const w = await H.makeWorld();
  const seen: unknown[] = [];
  H.clean(
    await H.systemThread(w, "mini-redirector", () => {
      const rx = w.em.rx;
      const ctx = H.internalContext(w);
      const routine = () => STATUS.STATUS_SUCCESS;
      seen.push(rx.RxSetMinirdrCancelRoutine(ctx, routine), ctx.MRxCancelRoutine === routine);
      seen.push(rx.RxSetMinirdrCancelRoutine(ctx, null), ctx.MRxCancelRoutine);
      const cancelled = H.internalContext(w);
      cancelled.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED;
      seen.push(rx.RxSetMinirdrCancelRoutine(cancelled, routine), cancelled.MRxCancelRoutine);
    }),
  );
  t.deepEqual(seen, [STATUS.STATUS_SUCCESS, true, STATUS.STATUS_SUCCESS, null, STATUS.STATUS_CANCELLED, null]);
});

// ---------------------------------------------------------------- RxForceFinalizeAllVNetRoots

test("RxForceFinalizeAllVNetRoots finalizes every V_NET_ROOT of the NET_ROOT (two drive letters on one share)", async (t) => {
  const w = await H.makeWorld({ makeMrx: (em) => new H.RecordingNulMrx(em) });
  const rec = w.mrx as H.RecordingNulMrx;
  H.clean(
    await H.user(w, async (np) => {
      await np.netUse("N", "\\\\srv\\share");
      await np.netUse("M", "\\\\srv\\share");
    }),
  );
  const n = H.connection(w, "N");
  const m = H.connection(w, "M");
  t.is(n.netRoot.NumberOfVirtualNetRoots, 2);
  H.clean(
    await H.systemThread(w, "mini-redirector", () =>
      H.withNetName(w, () => w.em.rx.RxForceFinalizeAllVNetRoots(n.netRoot)),
    ),
  );
  for (const v of [n.vNetRoot, m.vNetRoot]) {
    t.true(v.UpperFinalizationDone, v.label());
    t.false(w.dev.pRxNetNameTable.contains(v));
  }
  t.is(n.netRoot.NumberOfVirtualNetRoots, 0);
  t.deepEqual(n.netRoot.VirtualNetRoots, []);
  t.false(w.dev.pRxNetNameTable.contains(n.netRoot), "the last one took the NET_ROOT's name out");
  t.deepEqual(
    rec.finalizeCalls.map((c) => [c.name, c.target]),
    [["MRxFinalizeNetRoot", n.netRoot.label()]],
    "the V_NET_ROOTs keep their add-connection references: their memory (and MRxFinalizeVNetRoot) comes later",
  );
  t.is(H.vNetRoots(w).length, 0);
});

test("RxForceFinalizeAllVNetRoots on V_NET_ROOTs holding only the table's reference releases them", async (t) => {
  const w = await H.makeWorld({ makeMrx: (em) => new H.RecordingNulMrx(em) });
  const c = await H.handConnection(w);
  let second: import("../../emulator/rdbss/index.js").V_NET_ROOT | null = null;
  H.clean(
    await H.systemThread(w, "mini-redirector", () =>
      H.withNetName(w, async () => {
        second = w.em.rx.RxCreateVNetRoot(H.internalContext(w), c.netRoot, "\\;G:0\\hand\\share", "G:", "");
        await w.em.rx.RxForceFinalizeAllVNetRoots(c.netRoot);
      }),
    ),
  );
  t.not(c.vNetRoot.freed, null);
  t.not((second as { freed: unknown } | null)?.freed ?? null, null);
  t.deepEqual(
    (w.mrx as H.RecordingNulMrx).finalizeCalls.map((x) => x.name),
    ["MRxFinalizeVNetRoot", "MRxFinalizeNetRoot", "MRxFinalizeVNetRoot", "MRxFinalizeSrvCall"],
  );
});

// ---------------------------------------------------------------- RxPrefixTableLookupName

test("RxPrefixTableLookupName returns the container referenced (SRV_CALL, or a V_NET_ROOT for a NET_ROOT or V_NET_ROOT hit) and the rest of the name", async (t) => {
  const w = await H.makeWorld();
  H.clean(await H.user(w, (np) => np.netUse("N", "\\\\srv\\share").then(() => undefined)));
  const c = H.connection(w);
  const before = [c.srvCall, c.netRoot, c.vNetRoot].map((x) => x.NodeReferenceCount);
  const hits: { kind: string; label: string; remaining: string }[] = [];
  let miss: unknown = "not run";
  H.clean(
    await H.systemThread(w, "driver", () =>
      H.withNetName(
        w,
        () => {
          const table = w.dev.pRxNetNameTable;
          for (const name of ["\\;N:0\\srv\\share\\dir\\f.txt", "\\srv", "\\srv\\share\\x"]) {
            const r = w.em.rx.RxPrefixTableLookupName(table, name);
            if (r) hits.push({ kind: r.container.kind, label: r.container.label(), remaining: r.remaining });
          }
          miss = w.em.rx.RxPrefixTableLookupName(table, "\\nosuch\\share");
        },
        false,
      ),
    ),
  );
  t.deepEqual(hits, [
    { kind: "V_NET_ROOT", label: c.vNetRoot.label(), remaining: "\\dir\\f.txt" },
    { kind: "SRV_CALL", label: c.srvCall.label(), remaining: "" },
    { kind: "V_NET_ROOT", label: c.vNetRoot.label(), remaining: "\\x" },
  ]);
  t.is(miss, null);
  t.deepEqual(
    [c.srvCall, c.netRoot, c.vNetRoot].map((x) => x.NodeReferenceCount),
    [(before[0] as number) + 1, before[1] as number, (before[2] as number) + 2],
    "each hit references what it returns; a NET_ROOT hit references the V_NET_ROOT it is converted to",
  );
});

// ---------------------------------------------------------------- the RDBSS dispatcher

test("RxDispatchToWorkerThread runs the routine on a worker of the System process, after the call returns", async (t) => {
  const w = await H.makeWorld();
  const seen: string[] = [];
  let st: number | undefined;
  H.clean(
    await H.foreignThread(w, "app thread", () => {
      st = w.em.rx.RxDispatchToWorkerThread(
        w.dev,
        WorkQueueType.CriticalWorkQueue,
        (ctx) => {
          const th = w.em.k.PsGetCurrentThread();
          seen.push(`ran ${String(ctx)} on ${th.name} in ${th.process.name} (system: ${th.process.isSystem})`);
        },
        "ctx",
      );
      seen.push("returned");
    }),
  );
  t.is(st, STATUS.STATUS_SUCCESS);
  t.is(seen[0], "returned");
  t.regex(seen[1] ?? "", /^ran ctx on Critical worker \d+ in System \(system: true\)$/);
  t.is(w.dev.DispatcherContext.NumberOfWorkerThreads, 0);
});

test("RxDispatchToWorkerThread after the device is unregistered: STATUS_UNSUCCESSFUL, the routine never runs", async (t) => {
  const w = await H.makeWorld();
  let ran = false;
  const sts: number[] = [];
  H.clean(
    await H.systemThread(w, "unload", async () => {
      await w.em.rx.RxUnregisterMinirdr(w.dev);
      sts.push(
        w.em.rx.RxDispatchToWorkerThread(
          w.dev,
          WorkQueueType.DelayedWorkQueue,
          () => {
            ran = true;
          },
          null,
        ),
      );
      sts.push(
        w.em.rx.RxPostToWorkerThread(
          w.dev,
          WorkQueueType.DelayedWorkQueue,
          new RX_WORK_QUEUE_ITEM(),
          () => {
            ran = true;
          },
          null,
        ),
      );
    }),
  );
  t.deepEqual(sts, [STATUS.STATUS_UNSUCCESSFUL, STATUS.STATUS_UNSUCCESSFUL]);
  t.false(ran);
  t.true(w.dev.unregistered);
});

test("RxPostToWorkerThread with its item still queued: bug check 0xE4 WORKER_INVALID (workItem check)", async (t) => {
  const w = await H.makeWorld();
  const item = new RX_WORK_QUEUE_ITEM("my item");
  let first: number | undefined;
  let queuedAfterFirst: boolean | undefined;
  const r = await H.systemThread(w, "driver", () => {
    first = w.em.rx.RxPostToWorkerThread(w.dev, WorkQueueType.DelayedWorkQueue, item, () => undefined, null);
    queuedAfterFirst = item.queued;
    w.em.rx.RxPostToWorkerThread(w.dev, WorkQueueType.DelayedWorkQueue, item, () => undefined, null);
  });
  t.is(first, STATUS.STATUS_SUCCESS);
  t.true(queuedAfterFirst);
  const s = H.stopOf(r);
  t.is(s.code, BUGCHECK.WORKER_INVALID);
  t.is(s.name, "WORKER_INVALID");
  t.is(s.check, "workItem");
  t.is(s.params[0], 1n, "ACTIVE_ITEM_QUEUED");
  t.is(s.params[1], w.em.k.addressOf(item));
  t.true(s.callChain.includes("RxPostToWorkerThread"));
});

test("RxPostToWorkerThread may re-post its item once the routine has started", async (t) => {
  const w = await H.makeWorld();
  const item = new RX_WORK_QUEUE_ITEM("my item");
  const runs: number[] = [];
  H.clean(
    await H.systemThread(w, "driver", () => {
      w.em.rx.RxPostToWorkerThread(
        w.dev,
        WorkQueueType.DelayedWorkQueue,
        item,
        () => {
          runs.push(1);
          t.false(item.queued);
          w.em.rx.RxPostToWorkerThread(w.dev, WorkQueueType.DelayedWorkQueue, item, () => void runs.push(2), null);
        },
        null,
      );
    }),
  );
  t.deepEqual(runs, [1, 2]);
});

test("RxGetRDBSSProcess is the System process, whoever asks", async (t) => {
  const w = await H.makeWorld();
  const seen: unknown[] = [];
  H.clean(
    await H.foreignThread(w, "app thread", () => {
      const p = w.em.rx.RxGetRDBSSProcess();
      seen.push(p === w.em.k.systemProcess, p.name, p.isSystem, p === w.em.k.PsGetCurrentProcess());
    }),
  );
  t.deepEqual(seen, [true, "System", true, false]);
});

// ---------------------------------------------------------------- docs-only routines

test("[profile:docsOnlyRoutines] RxForceFinalizeAllVNetRoots, RxSetSrvCallDomainName, RxSetMinirdrCancelRoutine: available under docs, absent under reactos", async (t) => {
  for (const profile of ["docs", "reactos"] as const) {
    const w = await H.makeWorld({ profile });
    const c = await H.handConnection(w);
    const outcome: Record<string, string> = {};
    H.clean(
      await H.systemThread(w, "mini-redirector", async () => {
        const rx = w.em.rx;
        const calls: [string, () => unknown][] = [
          ["RxSetSrvCallDomainName", () => rx.RxSetSrvCallDomainName(c.srvCall, "CORP")],
          ["RxSetMinirdrCancelRoutine", () => rx.RxSetMinirdrCancelRoutine(H.internalContext(w), null)],
          ["RxForceFinalizeAllVNetRoots", () => H.withNetName(w, () => rx.RxForceFinalizeAllVNetRoots(c.netRoot))],
        ];
        for (const [name, call] of calls) {
          try {
            await call();
            outcome[name] = "ok";
          } catch (e) {
            outcome[name] =
              e instanceof TypeError && e.message.includes("not exported by ReactOS") ? "absent" : String(e);
          }
        }
      }),
    );
    const expected = profile === "docs" ? "ok" : "absent";
    t.deepEqual(
      outcome,
      { RxSetSrvCallDomainName: expected, RxSetMinirdrCancelRoutine: expected, RxForceFinalizeAllVNetRoots: expected },
      profile,
    );
    t.is(c.vNetRoot.freed !== null, profile === "docs");
  }
});

test("RxDereference of a V_NET_ROOT from a lookup, under the lock, gives back exactly the lookup's reference", async (t) => {
  const w = await H.makeWorld();
  const c = await H.handConnection(w);
  const counts: number[] = [];
  H.clean(
    await H.systemThread(w, "driver", () =>
      H.withNetName(w, async () => {
        const hit = w.em.rx.RxPrefixTableLookupName(w.dev.pRxNetNameTable, "\\;H:0\\hand\\share\\a");
        counts.push(c.vNetRoot.NodeReferenceCount);
        if (hit) await w.em.rx.RxDereference(hit.container, LockHoldingState.LHS_SharedLockHeld);
        counts.push(c.vNetRoot.NodeReferenceCount);
      }),
    ),
  );
  // 1 → 2 (lookup) → 1, which with only a shared claim marks it for the scavenger (+1).
  t.deepEqual(counts, [2, 2]);
  t.true(c.vNetRoot.scavengerMarked);
});

test("an MRxDeallocateForFcb that leaves fMiniInited set: bug check 0x27 from the minirdrContract check when the FCB is freed (pattern 14)", async (t) => {
  class KeepsMiniInited extends NulMrx {
    override MRxDeallocateForFcb(): number {
      return STATUS.STATUS_SUCCESS;
    }
  }
  const w = await H.makeWorld({ makeMrx: (em) => new KeepsMiniInited(em.rx) });
  const r = await H.user(w, async (np) => {
    await np.netUse("N", "\\\\srv\\share");
    // A directory is never delay-closed: its FCB is finalized at the close.
    const d = await H.openFile(w, "\\??\\N:\\", { dir: true });
    await w.em.sys.nt.NtClose(d.FileHandle);
  });
  const s = H.assertRdbssStop(t, r, "minirdrContract", RDBSS_ASSERT.MINI_INITED_LEFT, "RxFinalizeNetFcb");
  t.true(s.reason.includes("fMiniInited"), s.reason);
  t.is(H.count(w, "MRxDeallocateForFcb"), 1);
});
