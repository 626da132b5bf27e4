/**
 * RxRegisterMinirdr's validation of the dispatch table, and lock-order bugs a mini-redirector can commit against
 * RDBSS's own locks (rdbss-semantics.md §8 patterns 11 and 12).
 */
import test from "ava";
import { bootEmulator, createEmulator, inSystemThread } from "../../emulator/boot.js";
import {
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { DV, STATUS } from "../../emulator/kernel/index.js";
import { type MINIRDR_DISPATCH, RDBSS_MANAGE, type RX_CONTEXT, validateDispatch } from "../../emulator/rdbss/index.js";
import { loadNulMrx, type NulExtensions, type NulMrx, NulNetworkProvider } from "../../miniredirs/nulmrx/index.js";

const ok = STATUS.STATUS_SUCCESS;

/** A minimal table with every required entry. */
function minimal(): Record<string, unknown> {
  return {
    MRxFlags: 0,
    MRxStart: () => ok,
    MRxStop: () => ok,
    MRxDevFcbXXXControlFile: () => ok,
    MRxCreateSrvCall: () => STATUS.STATUS_PENDING,
    MRxCreateVNetRoot: () => STATUS.STATUS_PENDING,
    MRxExtractNetRootName: (p: string) => ({ NetRootName: p, RestOfName: "" }),
    MRxCreate: () => ok,
    MRxDeallocateForFcb: () => ok,
    MRxShouldTryToCollapseThisOpen: () => ok,
    MRxLowIOSubmit: [],
  };
}

test("a complete table validates; each required entry missing is an error naming it", (t) => {
  t.deepEqual(validateDispatch(minimal()).errors, []);
  for (const name of [
    "MRxStart",
    "MRxStop",
    "MRxDevFcbXXXControlFile",
    "MRxCreateSrvCall",
    "MRxCreateVNetRoot",
    "MRxExtractNetRootName",
    "MRxCreate",
    "MRxDeallocateForFcb",
  ]) {
    const d = minimal();
    delete d[name];
    const v = validateDispatch(d);
    t.true(
      v.errors.some((e) => e.startsWith(`${name} is required`)),
      `${name}: ${v.errors.join("; ")}`,
    );
  }
});

test("entries RDBSS never calls are rejected, as is LOWIO_OP_CLEAROUT", (t) => {
  for (const name of [
    "MRxCancel",
    "MRxOpenPrintFile",
    "MRxClosedSrvOpenTimeOut",
    "MRxUpdateNetRootState",
    "MRxCancelCreateSrvCall",
  ]) {
    const d = { ...minimal(), [name]: () => ok };
    t.true(
      validateDispatch(d).errors.some((e) => e.includes(`${name} is set, but RDBSS never calls it`)),
      name,
    );
  }
  const lowio = [];
  lowio[9] = () => ok;
  t.true(validateDispatch({ ...minimal(), MRxLowIOSubmit: lowio }).errors.some((e) => e.includes("LOWIO_OP_CLEAROUT")));
});

test("a managed-extension bit without its factory is an error; a factory without its bit a warning; no collapse entry a warning", (t) => {
  const d = { ...minimal(), MRxFlags: RDBSS_MANAGE.RDBSS_MANAGE_FCB_EXTENSION };
  t.true(validateDispatch(d).errors.some((e) => e.includes("MRxFcbExtension is not a factory")));
  const w = { ...minimal(), MRxFobxExtension: () => ({}) };
  t.true(validateDispatch(w).warnings.some((e) => e.includes("MRxFobxExtension is given")));
  const c = minimal();
  delete c.MRxShouldTryToCollapseThisOpen;
  t.true(validateDispatch(c).warnings.some((e) => e.includes("never collapse")));
});

test("RxRegisterMinirdr refuses a bad table with STATUS_INVALID_PARAMETER and creates no device", async (t) => {
  const em = createEmulator();
  await bootEmulator(em);
  const bad = { ...minimal(), MRxCancel: () => ok } as unknown as MINIRDR_DISPATCH;
  const { value } = await inSystemThread(em, "load", async () => {
    let result: ReturnType<typeof em.rx.RxRegisterMinirdr> | null = null;
    await em.sys.io.IoCreateDriver("\\FileSystem\\Bad", (driver) => {
      result = em.rx.RxRegisterMinirdr(driver, bad, 0, "\\Device\\BadRdr", FILE_DEVICE_NETWORK_FILE_SYSTEM, 0);
      return result.status;
    });
    return result as ReturnType<typeof em.rx.RxRegisterMinirdr> | null;
  });
  t.is(value?.status, STATUS.STATUS_INVALID_PARAMETER);
  t.is(value?.device, null);
  t.true(value?.errors.some((e) => e.includes("MRxCancel")));
  t.is(em.sys.io.lookupName("\\Device\\BadRdr"), undefined);
  t.is(em.rx.devices.length, 0);
});

test("pattern 11: a mini-redirector taking the netname table from inside MRxCreate (FCB held) is a lock-order violation", async (t) => {
  const em = createEmulator();
  await bootEmulator(em);
  await inSystemThread(em, "load", async () => {
    const r = await loadNulMrx(em);
    const mrx = r.mrx;
    const inner = mrx.MRxCreate.bind(mrx);
    const table: MINIRDR_DISPATCH<NulExtensions> = mrx;
    table.MRxCreate = (ctx) => {
      // e.g. deciding to finalize a stale connection from inside the create: RxFinalizeConnection waits for the
      // netname table while RDBSS holds this FCB exclusive.
      const dev = mrx.device;
      if (!dev) return STATUS.STATUS_INTERNAL_ERROR;
      return em.rx.acquire(dev.pRxNetNameTable.TableLock, true).then(() => {
        em.rx.release(dev.pRxNetNameTable.TableLock);
        return inner(ctx);
      });
    };
    return r;
  });
  const np = new NulNetworkProvider(em);
  em.k.createThread(em.k.createProcess("app"), "user", async () => {
    await np.start();
    await np.netUse("N", "\\\\srv\\share");
    await em.sys.nt.NtCreateFile({
      ObjectName: "\\??\\N:\\x.txt",
      DesiredAccess: GENERIC_READ | SYNCHRONIZE,
      ShareAccess: 0,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
  });
  const r = await em.k.run();
  t.is(r.stop?.code, 0xc4);
  t.is(r.stop?.params[0], DV.LOCK_HIERARCHY_VIOLATION);
  t.regex(r.stop?.reason ?? "", /netname table .* while holding FCB/);
  t.true(r.stop?.callChain.some((f) => f.startsWith("MRxCreate")));
});

test("pattern 12: MRxStart waiting for a thread that needs the netname table deadlocks, and the report says who holds it", async (t) => {
  const em = createEmulator();
  await bootEmulator(em);
  const { value } = await inSystemThread(em, "load", () => loadNulMrx(em));
  const mrx = value?.mrx as NulMrx;
  const ready = em.k.KeInitializeEvent(0, false, "helper ready");
  const table: MINIRDR_DISPATCH<NulExtensions> = mrx;
  table.MRxStart = async (_ctx: RX_CONTEXT<NulExtensions>) => {
    // MRxStart runs holding RxData.Resource and the netname table exclusive; a helper thread that needs the
    // netname table can never signal it.
    const dev = mrx.device;
    em.k.PsCreateSystemThread("start helper", async () => {
      if (dev) await em.rx.acquire(dev.pRxNetNameTable.TableLock, false);
      em.k.KeSetEvent(ready);
    });
    await em.k.KeWaitForSingleObject(ready);
    return ok;
  };
  const np = new NulNetworkProvider(em);
  em.k.createThread(em.k.createProcess("app"), "user", async () => {
    await np.start();
  });
  const r = await em.k.run();
  t.is(r.stop?.kind, "deadlock");
  const helper = r.stop?.waits.find((w) => w.thread.name === "start helper");
  t.regex(helper?.waitsFor ?? "", /netname table of nulmrx/);
  t.true((helper?.heldBy.length ?? 0) > 0, "the holder of the netname table is named");
});
