/**
 * RxStopMinirdr spins the device's dispatcher down (§6 Stop, step 7; RxSpinDownMRxDispatcher: it waits for the
 * outstanding worker items): work the mini-redirector posted before the stop finishes before the stop returns, and
 * the queue refuses new work while the stop waits for it. The device is startable again afterwards, so the queue
 * takes work again once the stop is over.
 */
import test from "ava";
import { statusName, WorkQueueType } from "../../emulator/kernel/index.js";
import type { RDBSS_DEVICE_OBJECT } from "../../emulator/rdbss/index.js";
import * as H from "./_helpers.js";

test("STOP waits for the mini-redirector's outstanding work item; a post during the wait is refused, one after the stop runs, and START works again", async (t) => {
  const w = await H.makeWorld();
  const rx = w.em.rx;
  const k = w.em.k;
  const dev = w.dev as RDBSS_DEVICE_OBJECT;
  const log: string[] = [];
  const at = (what: string): void => {
    log.push(`${(k.now / H.SECOND).toFixed(1)} s ${what}`);
  };
  const post = (name: string): string =>
    statusName(rx.RxDispatchToWorkerThread(dev, WorkQueueType.DelayedWorkQueue, () => at(`${name} ran`), null, name));
  const r = await H.user(w, async (np) => {
    rx.RxDispatchToWorkerThread(
      dev,
      WorkQueueType.DelayedWorkQueue,
      async () => {
        await H.sleep(w, 5);
        at("long item done");
      },
      null,
      "long item",
    );
    await H.sleep(w, 0.1);
    k.createThread(w.app, "late poster", async () => {
      await H.sleep(w, 1);
      at(`post during the stop: ${post("refused item")}`);
    });
    at(`STOP: ${statusName(await np.stop())}`);
    at(`post after the stop: ${post("later item")}`);
    await H.sleep(w, 1);
    at(`START: ${statusName(await np.start())}`);
  });
  H.clean(r);
  t.deepEqual(log, [
    "1.1 s post during the stop: STATUS_UNSUCCESSFUL",
    "5.0 s long item done",
    "5.0 s STOP: STATUS_SUCCESS",
    "5.0 s post after the stop: STATUS_SUCCESS",
    "5.0 s later item ran",
    "6.0 s START: STATUS_SUCCESS",
  ]);
  t.is(dev.DispatcherContext.NumberOfWorkerThreads, 0);
});
