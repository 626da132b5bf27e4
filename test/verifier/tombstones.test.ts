/**
 * Tombstones (emulator/rdbss/tombstone.ts): a structure RDBSS freed traps every later use by driver code — a field
 * read or write, a lock on its resource, passing it to a routine — naming where it was freed and its reference
 * history. RDBSS's own bookkeeping, and a test looking at the state from outside the kernel, read it plainly.
 */
import { inspect } from "node:util";
import test from "ava";
import { KEVENT } from "../../emulator/kernel/index.js";
import { CreateNetRootContext, SrvCallCallbackContext, SrvCalldownStructure } from "../../emulator/rdbss/calldown.js";
import {
  FCB,
  FCB_HEADER,
  FOBX,
  type MRX_SRVCALL_CALLBACK_CONTEXT,
  NET_ROOT,
  RDBSS_ASSERT,
  type RX_CONTEXT,
  SRV_CALL,
  SRV_OPEN,
  V_NET_ROOT,
} from "../../emulator/rdbss/index.js";
import { HEADER_FIELDS, TRAPPED_FIELDS } from "../../emulator/rdbss/tombstone.js";
import * as H from "../rdbss/_helpers.js";

/** An FCB built by hand and freed again (RxFinalizeNetFcb at count 1 under the FCB table). */
async function freedFcb(w: H.World): Promise<FCB> {
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  if (!(await H.freeHandFcb(w, fcb))) throw new Error("not freed");
  return fcb;
}

test("a field read by driver code on a system thread: 0x27 / 0xA55A0005 naming the field, the free and the history", async (t) => {
  const w = await H.makeWorld();
  const fcb = await freedFcb(w);
  const r = await H.systemThread(w, "mini-redirector", () => {
    void fcb.OpenCount;
  });
  const s = H.stopOf(r);
  t.is(s.code, 0x27);
  t.is(s.check, "useAfterFree");
  t.is(s.params[0], H.assertParam(RDBSS_ASSERT.USE_AFTER_FREE));
  t.is(s.params[1], w.em.k.addressOf(fcb));
  t.is(s.params[2], 0n, "a read");
  t.regex(
    s.reason,
    /^A read of OpenCount of FCB#\d+ \\hand\\share\\lone\.txt, which was freed by RxFinalizeNetFcb on thread "purge"/,
  );
  t.regex(s.reason, /Freed with call chain: RxFinalizeNetFcb\./);
  t.regex(s.reason, /Reference history of FCB#\d+ \\hand\\share\\lone\.txt:\n {2}\+1 → 1 {2}RxCreateNetFcb/);
});

test("a write is reported as a write (parameter 3 = 1); NodeReferenceCount by its name", async (t) => {
  const w = await H.makeWorld();
  const fcb = await freedFcb(w);
  const s1 = H.stopOf(
    await H.systemThread(w, "mini-redirector", () => {
      fcb.fMiniInited = true;
    }),
  );
  t.is(s1.params[2], 1n);
  t.regex(s1.reason, /^A write of fMiniInited of FCB#/);
  const w2 = await H.makeWorld();
  const fcb2 = await freedFcb(w2);
  const s2 = H.stopOf(await H.systemThread(w2, "mini-redirector", () => void fcb2.NodeReferenceCount));
  t.regex(s2.reason, /^A read of NodeReferenceCount of FCB#/);
});

test("SrvOpenList of a freed FCB is reported by that name (it is kept as a linked list), and the resource keeps its name", async (t) => {
  const w = await H.makeWorld();
  const fcb = await freedFcb(w);
  const s = H.stopOf(await H.systemThread(w, "mini-redirector", () => void fcb.SrvOpenList.length));
  t.is(s.check, "useAfterFree");
  t.regex(s.reason, /^A read of SrvOpenList of FCB#\d+ \\hand\\share\\lone\.txt, which was freed by RxFinalizeNetFcb/);
  // RDBSS's own look at the dead (a report naming the resource) is no use of it.
  t.is(fcb.Header.Resource.name, "FCB \\hand\\share\\lone.txt");
});

test("a lock on the freed FCB's resource is a tombstone use too (parameter 3 = 2)", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  const res = fcb.Header.Resource;
  H.clean(
    await H.systemThread(w, "purge", async () => {
      const rx = w.em.rx;
      await rx.acquire(rx.fcbTableOf(g.netRoot).TableLock, true);
      await rx.acquire(res, true);
      rx.RxpDereferenceNetFcb(fcb);
      await rx.RxFinalizeNetFcb(fcb, false, false, 1);
      rx.release(rx.fcbTableOf(g.netRoot).TableLock);
    }),
  );
  const s = H.stopOf(
    await H.systemThread(w, "mini-redirector", () => void w.em.k.ExAcquireResourceExclusiveLite(res, true)),
  );
  t.is(s.check, "useAfterFree");
  t.is(s.params[2], 2n);
  t.regex(s.reason, /^A lock on its resource \(ExAcquireResourceExclusiveLite\) of FCB#/);
});

test("outside the kernel (a test after the run, a user thread outside any system service) the tombstone reads plainly", async (t) => {
  const w = await H.makeWorld();
  const fcb = await freedFcb(w);
  t.is(fcb.OpenCount, 0, "plain JavaScript after the run");
  const seen: unknown[] = [];
  H.clean(
    await H.user(w, async () => {
      seen.push(fcb.UncleanCount, fcb.fMiniInited);
    }),
  );
  t.deepEqual(seen, [0, false]);
});

test("RDBSS's own bookkeeping: labels stay readable (cached at the free), look() reads past the traps", async (t) => {
  const w = await H.makeWorld();
  const fcb = await freedFcb(w);
  const out: unknown[] = [];
  H.clean(
    await H.systemThread(w, "rdbss", () => {
      out.push(
        fcb.label(),
        fcb.freed?.by,
        w.em.rx.verifier.look(() => fcb.OpenCount),
      );
    }),
  );
  t.regex(out[0] as string, /^FCB#\d+ \\hand\\share\\lone\.txt$/);
  t.deepEqual(out.slice(1), ["RxFinalizeNetFcb", 0]);
});

test("record mode: the first use is recorded, the run goes on reading the stale value", async (t) => {
  const w = await H.makeWorld({ checks: { useAfterFree: "record" } });
  const fcb = await freedFcb(w);
  const seen: unknown[] = [];
  const r = await H.systemThread(w, "mini-redirector", () => {
    seen.push(fcb.OpenCount, fcb.UncleanCount, fcb.OpenCount);
  });
  t.is(r.stop, null);
  t.deepEqual(seen, [0, 0, 0]);
  t.is(r.violations.length, 1, "one report per tombstone");
});

test("a tombstone stays an instance of its class, with its methods; a write to it in record mode is kept", async (t) => {
  const w = await H.makeWorld({ checks: { useAfterFree: "record" } });
  const fcb = await freedFcb(w);
  t.true(fcb instanceof FCB, "RDBSS's instanceof tests still see an FCB");
  t.regex(fcb.label(), /^FCB#\d+ /);
  t.not(Object.getPrototypeOf(fcb), FCB.prototype, "its prototype is the FCB's tombstone prototype");
  t.true(Object.hasOwn(fcb, "serial"), "the fields RDBSS keeps plain stay");
  // FCB_HEADER's fields are accessor fields too: its tombstone prototype traps them.
  t.false(Object.hasOwn(fcb.Header, "FileSize"));
  t.true(fcb.Header instanceof FCB_HEADER);
  t.not(Object.getPrototypeOf(fcb.Header), FCB_HEADER.prototype);
  const seen: unknown[] = [];
  const r = await H.systemThread(w, "mini-redirector", () => {
    fcb.UncleanCount = 7;
    seen.push(fcb.UncleanCount, fcb.OpenCount);
  });
  t.deepEqual(seen, [7, 0], "a write in record mode is kept; the other fields read what they held");
  t.is(r.violations.length, 1);
  t.regex(r.violations[0]?.reason ?? "", /^A write of UncleanCount of FCB#/);
});

test("two kinds freed in one world trap through their own prototypes (SRV_OPEN and FOBX of a hand-built graph)", async (t) => {
  const w = await H.makeWorld({ checks: { useAfterFree: "record" } });
  const g = await H.handBuild(w);
  const { srvOpen, fobx } = g;
  const verifier = w.em.rx.verifier;
  const info = { label: "x", freedBy: "test", freedThread: "t", freedChain: [], freedTime: 0, freedStep: null };
  verifier.tombs?.bury(fobx, { ...info, label: "FOBX" }, TRAPPED_FIELDS.FOBX);
  verifier.tombs?.bury(srvOpen, { ...info, label: "SRV_OPEN" }, TRAPPED_FIELDS.SRV_OPEN);
  t.true(fobx instanceof FOBX && srvOpen instanceof SRV_OPEN);
  t.not(Object.getPrototypeOf(fobx), Object.getPrototypeOf(srvOpen));
  const seen: unknown[] = [];
  const r = await H.systemThread(w, "mini-redirector", () => {
    seen.push(fobx.pSrvOpen === srvOpen, srvOpen.pFcb === g.fcb);
  });
  t.deepEqual(seen, [true, true]);
  t.deepEqual(
    r.violations.map((v) => /^A read of (\w+) of (\w+)/.exec(v.reason)?.slice(1)),
    [
      ["pSrvOpen", "FOBX"],
      ["pFcb", "SRV_OPEN"],
    ],
  );
});

test("off: no tombstones (the DDI check is off too)", async (t) => {
  const w = await H.makeWorld({ checks: { useAfterFree: "off" } });
  const fcb = await freedFcb(w);
  const r = await H.systemThread(w, "mini-redirector", () => {
    void fcb.OpenCount;
    w.em.rx.RxpReferenceNetFcb(fcb);
  });
  t.is(r.stop, null);
  t.is(r.violations.length, 0);
  t.is(w.em.rx.verifier.tombs, null);
});

/** `field` is an `accessor` field of obj's class: a getter and setter pair on its prototype chain, not an own property. */
function isAccessorField(obj: object, field: string): boolean {
  if (Object.hasOwn(obj, field)) return false;
  for (let p = Object.getPrototypeOf(obj) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, field);
    if (d !== undefined) return d.get !== undefined && d.set !== undefined;
  }
  return false;
}

test("the trapped fields are the MRX_ view's, and every one is an accessor field of the structure", (t) => {
  const device = {};
  const sc = new SRV_CALL(1, "\\s", device, "");
  const nr = new NET_ROOT(2, sc, "\\s\\x", "");
  const vnr = new V_NET_ROOT(3, nr, "\\;X:0\\s\\x", "", "u", "");
  const samples = { SRV_CALL: sc, NET_ROOT: nr, V_NET_ROOT: vnr } as const;
  for (const [kind, obj] of Object.entries(samples)) {
    for (const f of TRAPPED_FIELDS[kind as keyof typeof samples]) t.true(isAccessorField(obj, f), `${kind}.${f}`);
  }
  // FCB, SRV_OPEN and FOBX: from a hand-built graph.
  t.true(TRAPPED_FIELDS.FCB.includes("Header"));
  t.true(TRAPPED_FIELDS.FOBX.includes("pSrvOpen"));
  t.truthy(FOBX && SRV_OPEN);
});

test("FCB, SRV_OPEN and FOBX fields exist as listed, as accessor fields", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handBuild(w);
  for (const [kind, obj] of [
    ["FCB", g.fcb],
    ["SRV_OPEN", g.srvOpen],
    ["FOBX", g.fobx],
  ] as const) {
    for (const f of TRAPPED_FIELDS[kind]) t.true(isAccessorField(obj, f), `${kind}.${f}`);
  }
});

test("FCB_HEADER and the calldown structures trap through accessor fields; their callbacks stay plain and callable", async (t) => {
  const w = await H.makeWorld({ checks: { useAfterFree: "record" } });
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  for (const f of HEADER_FIELDS) t.true(isAccessorField(fcb.Header, f), `FCB_HEADER.${f}`);
  const ctx = {} as RX_CONTEXT;
  const calls: number[] = [];
  const calldown = new SrvCalldownStructure(new KEVENT(0, false, "finish"), g.srvCall, ctx, 1, (c) => {
    calls.push(c.CallbackContextOrdinal);
  });
  const cb: MRX_SRVCALL_CALLBACK_CONTEXT = new SrvCallCallbackContext(calldown, 0, null, 0);
  const cnc = new CreateNetRootContext(ctx, g.vNetRoot, new KEVENT(0, false, "finish"), 0, () => calls.push(-1));
  const own = [
    [SrvCalldownStructure.trapped, calldown, "CallBack"],
    [SrvCallCallbackContext.trapped, cb, "SrvCalldownStructure"],
    [CreateNetRootContext.trapped, cnc, "Callback"],
  ] as const;
  for (const [fields, obj, kept] of own) {
    for (const f of fields) t.true(isAccessorField(obj, f), `${obj.constructor.name}.${f}`);
    t.true(Object.hasOwn(obj, kept), `${obj.constructor.name}.${kept} stays an own field`);
  }
  const verifier = w.em.rx.verifier;
  verifier.buryCalldown(calldown, "MRX_SRVCALLDOWN_STRUCTURE of x", "test", SrvCalldownStructure.trapped);
  verifier.buryCalldown(cb, "MRX_SRVCALL_CALLBACK_CONTEXT of x", "test", SrvCallCallbackContext.trapped);
  verifier.buryCalldown(cnc, "MRX_CREATENETROOT_CONTEXT of x", "test", CreateNetRootContext.trapped);
  const r = await H.systemThread(w, "mini-redirector", () => {
    cb.SrvCalldownStructure.CallBack(cb);
    cnc.Callback(cnc);
    cb.Status = 5;
    calls.push(cb.Status, calldown.NumberRemaining);
  });
  t.deepEqual(
    calls,
    [0, -1, 5, 1],
    "the callbacks ran; a write in record mode is kept; other fields read what they held",
  );
  t.deepEqual(
    r.violations.map((v) => /^A (read|write) of (\w+) of (\w+)/.exec(v.reason)?.slice(1)),
    [
      ["read", "CallbackContextOrdinal", "MRX_SRVCALL_CALLBACK_CONTEXT"],
      ["read", "NumberRemaining", "MRX_SRVCALLDOWN_STRUCTURE"],
    ],
    "each tombstone reports its first use, once; calling the kept callbacks is not a use",
  );
});

test("a trapped field that is not an accessor field is refused when its kind is first buried (it would shadow the trap)", async (t) => {
  const w = await H.makeWorld();
  const info = { label: "x", freedBy: "test", freedThread: "t", freedChain: [], freedTime: 0, freedStep: null };
  const plain = { Status: 0 };
  t.throws(() => w.em.rx.verifier.tombs?.bury(plain, info, ["Status"]), {
    instanceOf: TypeError,
    message: /Status is not an accessor field of Object/,
  });
  t.true(Object.hasOwn(plain, "Status"), "the object is left as it was");
  t.is(w.em.rx.verifier.tombs?.infoOf(plain), undefined);
});

test("the FCB's paging-I/O resource is made on first use; a live one is an ERESOURCE that works", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  t.is(fcb.Header.pagingIoResourceIfMade, null, "nothing in RDBSS needs it without paging I/O");
  const paging = fcb.Header.PagingIoResource;
  t.is(paging.name, "FCB paging \\hand\\share\\lone.txt");
  t.is(paging.lockClass, "FCB paging");
  t.is(fcb.Header.PagingIoResource, paging, "made once");
  t.is(fcb.Header.pagingIoResourceIfMade, paging);
  H.clean(
    await H.systemThread(w, "paging io", async () => {
      await w.em.rx.acquire(paging, true);
      t.is(paging.exclusiveOwner !== null, true);
      w.em.rx.release(paging);
    }),
  );
});

/** An FCB built by hand; `before` runs on it before it is freed (RxFinalizeNetFcb at count 1 under the FCB table). */
async function freeFcbAfter<T>(w: H.World, before: (fcb: FCB) => T): Promise<T> {
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  const kept = before(fcb);
  if (!(await H.freeHandFcb(w, fcb))) throw new Error("not freed");
  return kept;
}

test("a freed FCB's paging-I/O resource, made or not, traps like its other fields", async (t) => {
  // Never made before the free: reading it through a kept Header pointer is a read of PagingIoResource.
  const w = await H.makeWorld();
  const header = await freeFcbAfter(w, (fcb) => fcb.Header);
  const s = H.stopOf(await H.systemThread(w, "mini-redirector", () => void header.PagingIoResource));
  t.is(s.check, "useAfterFree");
  t.regex(s.reason, /^A read of PagingIoResource of FCB#\d+ \\hand\\share\\lone\.txt \(FCB Header\)/);
  // Made before the free: it is retired with the FCB, and a lock on it is a tombstone use.
  const w2 = await H.makeWorld();
  const paging = await freeFcbAfter(w2, (fcb) => fcb.Header.PagingIoResource);
  t.true(paging.deleted, "retired with the FCB");
  const s2 = H.stopOf(
    await H.systemThread(w2, "mini-redirector", () => void w2.em.k.ExAcquireResourceSharedLite(paging, true)),
  );
  t.is(s2.check, "useAfterFree");
  t.regex(s2.reason, /^A lock on its resource \(ExAcquireResourceSharedLite\) of FCB#/);
});

test("a tombstone adds nothing a test or a driver can see: keys, symbols, a spread and inspect show the structure as before", async (t) => {
  const w = await H.makeWorld();
  const g = await H.handConnection(w);
  const fcb = await H.handFcb(w, g.vNetRoot);
  const keys = (o: object): string[] => {
    const out: string[] = [];
    for (const k in o) out.push(k);
    return out;
  };
  const before = {
    keys: Object.keys(fcb),
    forIn: keys(fcb),
    symbols: Object.getOwnPropertySymbols(fcb),
    spread: Object.keys({ ...fcb }),
    spreadSymbols: Object.getOwnPropertySymbols({ ...fcb }),
  };
  if (!(await H.freeHandFcb(w, fcb))) throw new Error("not freed");
  // It is a tombstone: the verifier finds its grave.
  t.truthy(w.em.rx.verifier.tombs?.infoOf(fcb));
  // Looked at from the test (outside every emulated thread): plain reads, no report.
  t.deepEqual(Object.keys(fcb), before.keys);
  t.deepEqual(keys(fcb), before.forIn);
  t.deepEqual(Object.getOwnPropertySymbols(fcb), before.symbols);
  t.deepEqual(Object.keys({ ...fcb }), before.spread);
  t.deepEqual(Object.getOwnPropertySymbols({ ...fcb }), before.spreadSymbols);
  t.false(inspect(fcb, { showHidden: true, depth: 1 }).includes("tombs"), "inspect shows no grave");
  // A copy is not a tombstone.
  t.is(w.em.rx.verifier.tombs?.infoOf({ ...fcb }), undefined);
  t.is(w.em.k.stopped, null);
});
