/**
 * Every precondition RDBSS_DDIS declares (rdbss-semantics.md §1.6, §2, §7): each routine called above its maximum
 * IRQL stops with bug check 0xA, and each lock requirement broken (not held, or held only shared where exclusive is
 * required) stops with bug check 0x27 from the rdbssLocks check. The lock rows also have a positive control: with
 * the lock held as required, no stop.
 */
import test from "ava";
import { FILE_DEVICE_NETWORK_FILE_SYSTEM } from "../../emulator/io/index.js";
import { APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, WorkQueueType } from "../../emulator/kernel/index.js";
import {
  LockHoldingState,
  NodeType,
  RDBSS_ASSERT,
  RDBSS_DDIS,
  type RdbssDdiName,
  RX_WORK_QUEUE_ITEM,
} from "../../emulator/rdbss/index.js";
import * as H from "./_helpers.js";

interface Objs extends H.HandGraph {
  readonly w: H.World;
}

async function objects(opts: Parameters<typeof H.makeWorld>[0] = {}): Promise<Objs> {
  const w = await H.makeWorld(opts);
  return { w, ...(await H.handBuild(w)) };
}

type IrqlChecked = Exclude<RdbssDdiName, "RxGetRDBSSProcess">;

/** One call of each routine with plausible arguments (the IRQL check comes first, before any argument is used). */
const INVOKE = {
  RxCreateSrvCall: (o: Objs) => o.w.em.rx.RxCreateSrvCall(o.ctx, "\\new", null),
  RxCreateNetRoot: (o: Objs) => o.w.em.rx.RxCreateNetRoot(o.srvCall, "\\other"),
  RxCreateVNetRoot: (o: Objs) => o.w.em.rx.RxCreateVNetRoot(o.ctx, o.netRoot, "\\;Z:0\\hand\\share", "Z:", ""),
  RxCreateNetFcb: (o: Objs) => o.w.em.rx.RxCreateNetFcb(o.ctx, o.vNetRoot, "\\new.txt"),
  RxCreateSrvOpen: (o: Objs) => o.w.em.rx.RxCreateSrvOpen(o.vNetRoot, o.fcb),
  RxCreateNetFobx: (o: Objs) => o.w.em.rx.RxCreateNetFobx(o.ctx, o.srvOpen),
  RxReference: (o: Objs) => o.w.em.rx.RxReference(o.srvCall),
  RxDereference: (o: Objs) => o.w.em.rx.RxDereference(o.srvCall, LockHoldingState.LHS_LockNotHeld),
  RxpReferenceNetFcb: (o: Objs) => o.w.em.rx.RxpReferenceNetFcb(o.fcb),
  RxpDereferenceNetFcb: (o: Objs) => o.w.em.rx.RxpDereferenceNetFcb(o.fcb),
  RxpDereferenceAndFinalizeNetFcb: (o: Objs) => o.w.em.rx.RxpDereferenceAndFinalizeNetFcb(o.fcb, null, false, false),
  RxFinalizeSrvCall: (o: Objs) => o.w.em.rx.RxFinalizeSrvCall(o.srvCall, false),
  RxFinalizeNetRoot: (o: Objs) => o.w.em.rx.RxFinalizeNetRoot(o.netRoot, false, false),
  RxFinalizeVNetRoot: (o: Objs) => o.w.em.rx.RxFinalizeVNetRoot(o.vNetRoot, false, false),
  RxFinalizeNetFcb: (o: Objs) => o.w.em.rx.RxFinalizeNetFcb(o.fcb, false, false, o.fcb.NodeReferenceCount),
  RxFinalizeSrvOpen: (o: Objs) => o.w.em.rx.RxFinalizeSrvOpen(o.srvOpen, false, false),
  RxFinalizeNetFobx: (o: Objs) => o.w.em.rx.RxFinalizeNetFobx(o.fobx, false, false),
  RxFinalizeConnection: (o: Objs) => o.w.em.rx.RxFinalizeConnection(o.netRoot, o.vNetRoot, false),
  RxForceFinalizeAllVNetRoots: (o: Objs) => o.w.em.rx.RxForceFinalizeAllVNetRoots(o.netRoot),
  RxFinishFcbInitialization: (o: Objs) =>
    o.w.em.rx.RxFinishFcbInitialization(o.fcb, NodeType.RDBSS_NTC_STORAGE_TYPE_FILE),
  RxSetSrvCallDomainName: (o: Objs) => o.w.em.rx.RxSetSrvCallDomainName(o.srvCall, "DOMAIN"),
  RxSetMinirdrCancelRoutine: (o: Objs) => o.w.em.rx.RxSetMinirdrCancelRoutine(o.ctx, null),
  RxLowIoCompletion: (o: Objs) => o.w.em.rx.RxLowIoCompletion(o.ctx),
  RxPostToWorkerThread: (o: Objs) =>
    o.w.em.rx.RxPostToWorkerThread(
      o.w.dev,
      WorkQueueType.DelayedWorkQueue,
      new RX_WORK_QUEUE_ITEM(),
      () => undefined,
      null,
    ),
  RxDispatchToWorkerThread: (o: Objs) =>
    o.w.em.rx.RxDispatchToWorkerThread(o.w.dev, WorkQueueType.DelayedWorkQueue, () => undefined, null),
  RxPrefixTableLookupName: (o: Objs) => o.w.em.rx.RxPrefixTableLookupName(o.w.dev.pRxNetNameTable, "\\hand"),
  RxRegisterMinirdr: (o: Objs) =>
    o.w.em.rx.RxRegisterMinirdr(
      o.w.dev.device.DriverObject,
      o.w.mrx,
      0,
      "\\Device\\Second",
      FILE_DEVICE_NETWORK_FILE_SYSTEM,
      0,
    ),
  RxStartMinirdr: (o: Objs) => o.w.em.rx.RxStartMinirdr(o.ctx),
  RxStopMinirdr: (o: Objs) => o.w.em.rx.RxStopMinirdr(o.ctx),
  RxUnregisterMinirdr: (o: Objs) => o.w.em.rx.RxUnregisterMinirdr(o.w.dev),
  RxDereferenceAndDeleteRxContext: (o: Objs) => o.w.em.rx.RxDereferenceAndDeleteRxContext(o.ctx),
} satisfies Record<IrqlChecked, (o: Objs) => unknown>;

test("the IRQL table covers every routine of RDBSS_DDIS that has a maximum below HIGH_LEVEL", (t) => {
  const declared = (Object.keys(RDBSS_DDIS) as RdbssDdiName[]).filter((n) => RDBSS_DDIS[n].maxIrql < HIGH_LEVEL);
  t.deepEqual(Object.keys(INVOKE).sort(), declared.sort());
  // RxGetRDBSSProcess may be called at any IRQL: there is nothing above its maximum.
  t.is(RDBSS_DDIS.RxGetRDBSSProcess.maxIrql, HIGH_LEVEL);
  // §2 / §7: everything is ≤ APC_LEVEL except the completion, cancel-arming and context-release routines. Work posting is
  // ≤ APC_LEVEL on its pages; the reactos profile relaxes it (below).
  for (const n of declared) {
    const expected = ["RxSetMinirdrCancelRoutine", "RxLowIoCompletion", "RxDereferenceAndDeleteRxContext"].includes(n)
      ? DISPATCH_LEVEL
      : APC_LEVEL;
    t.is(RDBSS_DDIS[n].maxIrql, expected, n);
  }
});

for (const name of Object.keys(INVOKE) as IrqlChecked[]) {
  const max = RDBSS_DDIS[name].maxIrql;
  const at = max + 1;
  test(`${name} above its maximum IRQL (${at === DISPATCH_LEVEL ? "DISPATCH_LEVEL" : `IRQL ${at}`}): bug check 0xA IRQL_NOT_LESS_OR_EQUAL`, async (t) => {
    const o = await objects();
    const before = o.w.em.rx.mrxLog.length;
    const r = await H.systemThread(o.w, "raised", async () => {
      o.w.em.k.KeRaiseIrql(at);
      await INVOKE[name](o);
    });
    const s = H.assertIrqlStop(t, r, name, at);
    t.is(s.thread?.name, "raised");
    t.is(o.w.em.rx.mrxLog.length, before, "stopped before any mini-redirector call");
  });
}

for (const name of ["RxDispatchToWorkerThread", "RxPostToWorkerThread"] as const) {
  test(`[profile:workerPostingMaxIrql] ${name} at DISPATCH_LEVEL: bug check 0xA under docs; posted under reactos, the routine running at PASSIVE_LEVEL on a worker`, async (t) => {
    const docs = await objects();
    const refused = await H.systemThread(docs.w, "raised", async () => {
      docs.w.em.k.KeRaiseIrql(DISPATCH_LEVEL);
      await INVOKE[name](docs);
    });
    H.assertIrqlStop(t, refused, name, DISPATCH_LEVEL);
    const w = await H.makeWorld({ profile: "reactos" });
    const ran: number[] = [];
    let st: number | undefined;
    const routine = (): void => void ran.push(w.em.k.KeGetCurrentIrql());
    const r = await H.systemThread(w, "raised", () => {
      const old = w.em.k.KeRaiseIrql(DISPATCH_LEVEL);
      st =
        name === "RxDispatchToWorkerThread"
          ? w.em.rx.RxDispatchToWorkerThread(w.dev, WorkQueueType.DelayedWorkQueue, routine, null)
          : w.em.rx.RxPostToWorkerThread(
              w.dev,
              WorkQueueType.DelayedWorkQueue,
              new RX_WORK_QUEUE_ITEM(),
              routine,
              null,
            );
      w.em.k.KeLowerIrql(old);
    });
    H.clean(r);
    t.is(st, 0);
    t.deepEqual(ran, [0]);
    // Above DISPATCH_LEVEL it stops under reactos too.
    const o = await objects({ profile: "reactos" });
    const high = await H.systemThread(o.w, "raised", async () => {
      o.w.em.k.KeRaiseIrql(DISPATCH_LEVEL + 1);
      await INVOKE[name](o);
    });
    H.assertIrqlStop(t, high, name, DISPATCH_LEVEL + 1);
  });
}

test("RxGetRDBSSProcess answers at HIGH_LEVEL", async (t) => {
  const o = await objects();
  let ok = false;
  const r = await H.systemThread(o.w, "high", () => {
    const old = o.w.em.k.KeRaiseIrql(HIGH_LEVEL);
    ok = o.w.em.rx.RxGetRDBSSProcess() === o.w.em.k.systemProcess;
    o.w.em.k.KeLowerIrql(old);
  });
  H.clean(r);
  t.true(ok);
});

// ---------------------------------------------------------------- locks

type LockName = "netname" | "fcbtable" | "fcb";
interface LockRow {
  readonly routine: RdbssDdiName;
  readonly lock: LockName;
  /** Shared is enough (RxPrefixTableLookupName). */
  readonly anyMode?: boolean;
  /** More locks the positive control needs. */
  readonly also?: readonly LockName[];
  readonly invoke: (o: Objs) => unknown;
}

const LOCK_ROWS: readonly LockRow[] = [
  { routine: "RxCreateSrvCall", lock: "netname", invoke: INVOKE.RxCreateSrvCall },
  { routine: "RxCreateNetRoot", lock: "netname", invoke: INVOKE.RxCreateNetRoot },
  { routine: "RxCreateVNetRoot", lock: "netname", invoke: INVOKE.RxCreateVNetRoot },
  { routine: "RxFinalizeSrvCall", lock: "netname", invoke: INVOKE.RxFinalizeSrvCall },
  { routine: "RxFinalizeNetRoot", lock: "netname", invoke: INVOKE.RxFinalizeNetRoot },
  { routine: "RxFinalizeVNetRoot", lock: "netname", invoke: INVOKE.RxFinalizeVNetRoot },
  { routine: "RxForceFinalizeAllVNetRoots", lock: "netname", invoke: INVOKE.RxForceFinalizeAllVNetRoots },
  { routine: "RxPrefixTableLookupName", lock: "netname", anyMode: true, invoke: INVOKE.RxPrefixTableLookupName },
  { routine: "RxCreateNetFcb", lock: "fcbtable", invoke: INVOKE.RxCreateNetFcb },
  { routine: "RxCreateSrvOpen", lock: "fcb", invoke: INVOKE.RxCreateSrvOpen },
  { routine: "RxCreateNetFobx", lock: "fcb", invoke: INVOKE.RxCreateNetFobx },
  { routine: "RxFinalizeNetFcb", lock: "fcb", also: ["fcbtable"], invoke: INVOKE.RxFinalizeNetFcb },
  { routine: "RxFinalizeSrvOpen", lock: "fcb", invoke: INVOKE.RxFinalizeSrvOpen },
  { routine: "RxFinalizeNetFobx", lock: "fcb", invoke: INVOKE.RxFinalizeNetFobx },
  { routine: "RxpDereferenceAndFinalizeNetFcb", lock: "fcb", invoke: INVOKE.RxpDereferenceAndFinalizeNetFcb },
];

function resourceOf(o: Objs, lock: LockName) {
  switch (lock) {
    case "netname":
      return o.w.dev.pRxNetNameTable.TableLock;
    case "fcbtable":
      return o.w.em.rx.fcbTableOf(o.netRoot).TableLock;
    case "fcb":
      return o.fcb.Header.Resource;
  }
}

test("the lock table covers every routine of RDBSS_DDIS with a lock requirement, with the declared lock", (t) => {
  const declared = (Object.keys(RDBSS_DDIS) as RdbssDdiName[]).filter((n) => RDBSS_DDIS[n].lock !== "none");
  t.deepEqual(LOCK_ROWS.map((r) => r.routine).sort(), declared.sort());
  const names: Record<LockName, readonly string[]> = {
    netname: ["netname-exclusive", "netname-any"],
    fcbtable: ["fcbtable-exclusive"],
    fcb: ["fcb-exclusive"],
  };
  for (const row of LOCK_ROWS) {
    t.true(names[row.lock].includes(RDBSS_DDIS[row.routine].lock), row.routine);
    t.is(RDBSS_DDIS[row.routine].lock === "netname-any", row.anyMode === true, row.routine);
  }
});

for (const row of LOCK_ROWS) {
  const broken: readonly ("not held" | "held shared")[] = row.anyMode ? ["not held"] : ["not held", "held shared"];
  for (const how of broken) {
    test(`${row.routine} with the ${row.lock === "netname" ? "netname table" : row.lock === "fcbtable" ? "FCB table" : "FCB"} ${how}: bug check 0x27 (rdbssLocks)`, async (t) => {
      const o = await objects();
      const res = resourceOf(o, row.lock);
      const r = await H.systemThread(o.w, "driver", async () => {
        if (how === "held shared") await o.w.em.rx.acquire(res, false);
        await row.invoke(o);
      });
      const s = H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.LOCK_NOT_HELD, row.routine);
      t.true(s.reason.includes(`requires the ${res.name} held`), s.reason);
      t.true(s.reason.includes(how === "held shared" ? "holds it shared" : "holds it not at all"), s.reason);
      t.is(s.params[1], o.w.em.k.addressOf(res));
    });
  }
  test(`${row.routine} with the ${row.lock === "netname" ? "netname table" : row.lock === "fcbtable" ? "FCB table" : "FCB"} held ${row.anyMode ? "shared" : "exclusive"}${row.also ? " (and the FCB table)" : ""}: no stop`, async (t) => {
    const o = await objects();
    const r = await H.systemThread(o.w, "driver", async () => {
      for (const extra of row.also ?? []) await o.w.em.rx.acquire(resourceOf(o, extra), true);
      const res = resourceOf(o, row.lock);
      await o.w.em.rx.acquire(res, !row.anyMode);
      await row.invoke(o);
      if (!o.fcb.freed || row.lock !== "fcb") o.w.em.rx.release(res);
      for (const extra of row.also ?? []) o.w.em.rx.release(resourceOf(o, extra));
    });
    t.is(r.stop, null, r.stop?.format());
    t.deepEqual(r.violations, []);
  });
}

test("RxFinalizeNetFcb with the FCB exclusive but not the FCB table (a non-orphaned FCB): bug check 0x27 (rdbssLocks)", async (t) => {
  const o = await objects();
  const table = o.w.em.rx.fcbTableOf(o.netRoot).TableLock;
  const r = await H.systemThread(o.w, "driver", async () => {
    await H.withFcb(o.w, o.fcb, () => o.w.em.rx.RxFinalizeNetFcb(o.fcb, false, false, 1));
  });
  const s = H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.LOCK_NOT_HELD, "RxFinalizeNetFcb");
  t.true(s.reason.includes(table.name), s.reason);
  t.is(o.fcb.freed, null);
});

test("RxFinalizeNetFcb with Force TRUE: bug check 0x27 (FORCE_MUST_BE_FALSE)", async (t) => {
  const o = await objects();
  const table = o.w.em.rx.fcbTableOf(o.netRoot).TableLock;
  const r = await H.systemThread(o.w, "driver", async () => {
    await o.w.em.rx.acquire(table, true);
    await H.withFcb(o.w, o.fcb, () => o.w.em.rx.RxFinalizeNetFcb(o.fcb, false, true, 1));
  });
  H.assertRdbssStop(t, r, "rdbssLocks", RDBSS_ASSERT.FORCE_MUST_BE_FALSE, "RxFinalizeNetFcb");
});
