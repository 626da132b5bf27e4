/**
 * The injector: nth hits and ranges per site, globs, seeded probabilities (the same seed gives the same faults),
 * faults armed "from now", records and trace events; and the API: createEmulator({faults}), `rx.faults` for a
 * mini-redirector's own allocations, RxPostToWorkerThread, and the one test a site costs without a plan.
 */
import test from "ava";
import { createEmulator, inSystemThread } from "../../emulator/boot.js";
import { FaultInjector, type FaultSpec } from "../../emulator/faults/index.js";
import { Kernel, STATUS, WorkQueueType } from "../../emulator/kernel/index.js";
import { RX_WORK_QUEUE_ITEM } from "../../emulator/rdbss/index.js";
import * as H from "../rdbss/_helpers.js";

/** Hit `site` n times; the hit numbers that failed. */
function failing(inj: FaultInjector, site: string, n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n; i++) if (inj.hit(site) !== null) out.push(i);
  return out;
}

test("nth fails exactly that hit of each matching site; ranges and count; globs count per site", (t) => {
  t.deepEqual(failing(new FaultInjector([{ site: "RxCreateNetFcb", nth: 3 }], 1), "RxCreateNetFcb", 6), [3]);
  t.deepEqual(
    failing(new FaultInjector([{ site: "RxCreateNetFcb", nth: 2, count: 3 }], 1), "RxCreateNetFcb", 8),
    [2, 3, 4],
  );
  t.deepEqual(
    failing(
      new FaultInjector([{ site: "RxCreateNetFcb", nth: 5, count: Number.POSITIVE_INFINITY }], 1),
      "RxCreateNetFcb",
      7,
    ),
    [5, 6, 7],
  );
  const glob = new FaultInjector([{ site: "rxcreate*", nth: 2 }], 1);
  t.deepEqual(failing(glob, "RxCreateSrvOpen", 3), [2]);
  t.deepEqual(failing(glob, "RxCreateNetFobx", 3), [2]);
  t.deepEqual(failing(glob, "RxDispatchToWorkerThread", 3), [], "not matched");
  t.is(glob.hits("RxCreateSrvOpen"), 3);
  t.is(glob.hits("RxDispatchToWorkerThread"), 3, "every site reached is counted");
  t.deepEqual(
    glob.records.map((r) => `${r.site}#${r.hit} ${r.spec}`),
    ["RxCreateSrvOpen#2 rxcreate*@2", "RxCreateNetFobx#2 rxcreate*@2"],
  );
});

test("probability faults are seeded: the same seed gives the same hits, another seed others, at about the rate", (t) => {
  const plan: FaultSpec[] = [{ site: "transport.send", probability: 0.25 }];
  const a = failing(new FaultInjector(plan, 7), "transport.send", 4000);
  const b = failing(new FaultInjector(plan, 7), "transport.send", 4000);
  const c = failing(new FaultInjector(plan, 8), "transport.send", 4000);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
  t.true(a.length > 850 && a.length < 1150, `${a.length} of 4000 at p = 0.25`);
  const capped = failing(
    new FaultInjector([{ site: "transport.send", probability: 1, count: 2 }], 7),
    "transport.send",
    5,
  );
  t.deepEqual(capped, [1, 2]);
});

test("one spec's draws never shift another's; a run without a plan draws nothing", (t) => {
  const alone = new FaultInjector([{ site: "server.WRITE", probability: 0.5 }], 3);
  const both = new FaultInjector(
    [
      { site: "server.WRITE", probability: 0.5 },
      { site: "server.*", probability: 0.5 },
    ],
    3,
  );
  const w1: number[] = [];
  const w2: number[] = [];
  for (let i = 1; i <= 200; i++) {
    if (alone.hit("server.WRITE")?.site) w1.push(i);
    const h = both.hit("server.WRITE");
    if (h !== null && both.records.at(-1)?.spec === "server.WRITE~0.5") w2.push(i);
  }
  t.deepEqual(w1, w2, "the first spec fires on the same hits whether or not a second one matches too");
  const k = new Kernel({ seed: 3 });
  t.is(k.faults, null);
});

test("a spec added from now counts hits from that moment (a scenario's fault step)", (t) => {
  const inj = new FaultInjector([], 1);
  failing(inj, "RxCreateNetFcb", 4);
  inj.add({ site: "RxCreateNetFcb", nth: 2 }, true);
  t.deepEqual(failing(inj, "RxCreateNetFcb", 4), [2]);
  t.is(inj.records[0]?.hit, 6, "the record carries the site's hit number in the run");
  t.throws(() => inj.add({ site: "Nope", nth: 1 }), { message: /unknown fault site/ });
});

test("the hit carries the failure: the site's default status, the spec's status, transport action and delay", (t) => {
  const inj = new FaultInjector(
    [
      { site: "RxCreateSrvCall", nth: 1 },
      { site: "RxPostToWorkerThread", nth: 1 },
      { site: "server.CREATE", nth: 1 },
      { site: "server.WRITE", nth: 1, status: STATUS.STATUS_DISK_FULL },
      { site: "transport.send", nth: 1 },
      { site: "transport.receive", nth: 1, action: "lose" },
      { site: "transport.receive", nth: 2, action: "delay", delay: 123 },
      { site: "mymrx.alloc", nth: 1 },
    ],
    1,
  );
  t.is(inj.hit("RxCreateSrvCall")?.status, STATUS.STATUS_INSUFFICIENT_RESOURCES);
  t.is(inj.hit("RxPostToWorkerThread")?.status, STATUS.STATUS_UNSUCCESSFUL);
  t.is(inj.hit("server.CREATE")?.status, STATUS.STATUS_INSUFF_SERVER_RESOURCES);
  t.is(inj.hit("server.WRITE")?.status, STATUS.STATUS_DISK_FULL);
  t.like(inj.hit("transport.send"), { action: "disconnect" });
  t.like(inj.hit("transport.receive"), { action: "lose", delay: 50_000_000 });
  t.like(inj.hit("transport.receive"), { action: "delay", delay: 123 });
  t.true(inj.check("mymrx.alloc"));
  t.deepEqual(
    inj.records.map((r) => r.effect),
    [
      "NULL (STATUS_INSUFFICIENT_RESOURCES)",
      "STATUS_UNSUCCESSFUL",
      "STATUS_INSUFF_SERVER_RESOURCES",
      "STATUS_DISK_FULL",
      "connection reset (STATUS_CONNECTION_DISCONNECTED)",
      "lost; connection reset 5000 ms later",
      "delivered 0.0123 ms late",
      "failed",
    ],
  );
});

test("createEmulator({faults}) installs the plan; records name the thread and time; the trace has fault events", async (t) => {
  const em = createEmulator({ seed: 5, trace: true, faults: [{ site: "mymrx.*", nth: 2 }] });
  t.true(em.k.faults instanceof FaultInjector);
  const seen: (boolean | null)[] = [];
  const { run } = await inSystemThread(em, "mrx worker", async () => {
    await em.k.KeDelayExecutionThread(-10_000);
    seen.push(em.rx.faults.check("mymrx.alloc.fcbext", "FCB extension"));
    seen.push(em.rx.faults.check("mymrx.alloc.fcbext"));
    seen.push(em.rx.faults.allocate("mymrx.alloc.srvopen", () => true));
    seen.push(em.rx.faults.allocate("mymrx.alloc.srvopen", () => true));
  });
  t.is(run.stop, null);
  t.deepEqual(seen, [false, true, true, null]);
  t.deepEqual(
    em.k.faults?.records.map((r) => ({ site: r.site, hit: r.hit, thread: r.thread, time: r.time, detail: r.detail })),
    [
      { site: "mymrx.alloc.fcbext", hit: 2, thread: "mrx worker", time: 10_000, detail: "" },
      { site: "mymrx.alloc.srvopen", hit: 2, thread: "mrx worker", time: 10_000, detail: "" },
    ],
  );
  const events = em.k.trace.events.filter((e) => e.kind === "fault");
  t.deepEqual(
    events.map((e) => [e.what, e.data?.hit, e.data?.spec]),
    [
      ["mymrx.alloc.fcbext", 2, "mymrx.*@2"],
      ["mymrx.alloc.srvopen", 2, "mymrx.*@2"],
    ],
  );
  em.k.faults?.detach();
  t.is(em.k.faults, null);
  t.false(em.rx.faults.check("mymrx.alloc.fcbext"), "no plan: nothing fails");
});

test("RxPostToWorkerThread: the refused item's routine never runs; the next post works", async (t) => {
  const w = await H.makeWorld({ faults: [{ site: "RxPostToWorkerThread", nth: 1 }] });
  const item = new RX_WORK_QUEUE_ITEM("my item");
  const sts: number[] = [];
  const ran: number[] = [];
  H.clean(
    await H.systemThread(w, "driver", () => {
      sts.push(w.em.rx.RxPostToWorkerThread(w.dev, WorkQueueType.DelayedWorkQueue, item, () => void ran.push(1), null));
      t.false(item.queued);
      sts.push(w.em.rx.RxPostToWorkerThread(w.dev, WorkQueueType.DelayedWorkQueue, item, () => void ran.push(2), null));
    }),
  );
  t.deepEqual(sts, [STATUS.STATUS_UNSUCCESSFUL, STATUS.STATUS_SUCCESS]);
  t.deepEqual(ran, [2]);
});

test("RxDispatchToWorkerThread with a status override; RxCreate* return NULL through the API", async (t) => {
  const w = await H.makeWorld();
  // Installed after START (createEmulator's plan would have failed START's post to the FSP).
  new FaultInjector(
    [
      { site: "RxDispatchToWorkerThread", nth: 1, status: STATUS.STATUS_DEVICE_NOT_READY },
      { site: "RxCreateSrvCall", nth: 1 },
    ],
    w.em.k.seed,
  ).attach(w.em.k);
  let st = -1;
  let ran = false;
  let sc: unknown = "unset";
  H.clean(
    await H.systemThread(w, "driver", async () => {
      st = w.em.rx.RxDispatchToWorkerThread(
        w.dev,
        WorkQueueType.DelayedWorkQueue,
        () => {
          ran = true;
        },
        null,
      );
      await H.withNetName(w, () => {
        sc = w.em.rx.RxCreateSrvCall(H.internalContext(w), "\\nowhere", null);
      });
    }),
  );
  t.is(st, STATUS.STATUS_DEVICE_NOT_READY);
  t.false(ran);
  t.is(sc, null);
  t.is(w.em.rx.live.size, 0, "nothing was allocated");
});
