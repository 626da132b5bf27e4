/**
 * KQUEUE: KeInsertQueue / KeRemoveQueue. Entries come out in FIFO order; a waiting thread is handed the entry itself
 * (whatever it is, a number included, never the wait status); waiters are served in arrival order; an entry inserted
 * by a DPC while the only thread is switching away reaches that thread; a timeout returns undefined and leaves later
 * entries in the queue.
 */
import test from "ava";
import type { Kernel } from "../../emulator/kernel/index.js";
import { MS, runThread } from "./_helpers.js";

/** Insert `entry` into `q` from a DPC `ms` milliseconds from now. */
function insertLater<T>(k: Kernel, q: ReturnType<Kernel["KeInitializeQueue"]>, entry: T, ms: number): void {
  const dpc = k.KeInitializeDpc(() => void k.KeInsertQueue(q, entry), null, `insert ${String(entry)}`);
  k.KeSetTimer(k.KeInitializeTimer(undefined, `insert ${String(entry)}`), -ms * MS, dpc);
}

test("entries queued before KeRemoveQueue come out in FIFO order without waiting", async (t) => {
  const got: unknown[] = [];
  const { r } = await runThread(async (k) => {
    const q = k.KeInitializeQueue<number | string>("q");
    t.is(k.KeInsertQueue(q, 1), 0);
    t.is(k.KeInsertQueue(q, "two"), 1);
    t.is(k.KeInsertQueue(q, 3), 2);
    for (let i = 0; i < 3; i++) {
      const e = k.KeRemoveQueue(q);
      t.false(e instanceof Promise, "no wait when the queue has an entry");
      got.push(e);
    }
  });
  t.is(r.outcome, "idle");
  t.deepEqual(got, [1, "two", 3]);
});

test("a waiting thread is handed the entry itself, numbers included (0 and STATUS_TIMEOUT's value are entries, not statuses)", async (t) => {
  const got: unknown[] = [];
  const entries: unknown[] = [0, 0x102, { kind: "request" }, "x"];
  const { r } = await runThread(async (k) => {
    const q = k.KeInitializeQueue<unknown>("q");
    for (let i = 0; i < entries.length; i++) insertLater(k, q, entries[i], i + 1);
    for (let i = 0; i < entries.length; i++) got.push(await k.KeRemoveQueue(q));
  });
  t.is(r.outcome, "idle");
  t.deepEqual(got, entries);
  t.is(got[2], entries[2], "the same object, not a copy");
});

test("an entry a DPC inserts while the only thread switches away reaches that thread (the clock jumps to the timer)", async (t) => {
  const log: string[] = [];
  const { k, r } = await runThread(async (k) => {
    const q = k.KeInitializeQueue<string>("q");
    insertLater(k, q, "late", 5);
    const before = k.now;
    const e = await k.KeRemoveQueue(q);
    log.push(`${e} after ${(k.now - before) / MS} ms`);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["late after 5 ms"]);
  t.true(k.now >= 5 * MS);
});

test("two waiters are served in the order they started waiting; each gets one entry", async (t) => {
  const log: string[] = [];
  const { r } = await runThread(async (k, main) => {
    const q = k.KeInitializeQueue<string>("q");
    for (const name of ["w1", "w2"]) {
      k.createThread(main.process, name, async () => {
        log.push(`${name} got ${await k.KeRemoveQueue(q)}`);
      });
    }
    // Let both workers start waiting, then insert two entries from this thread.
    await k.KeDelayExecutionThread(-1 * MS);
    k.KeInsertQueue(q, "a");
    k.KeInsertQueue(q, "b");
    await k.KeDelayExecutionThread(-1 * MS);
  });
  t.is(r.outcome, "idle");
  t.deepEqual(log, ["w1 got a", "w2 got b"]);
});

test("a wait with a timeout returns undefined when it expires; an entry inserted afterwards stays queued", async (t) => {
  const got: unknown[] = [];
  const { r } = await runThread(async (k) => {
    const q = k.KeInitializeQueue<string>("q");
    got.push(await k.KeRemoveQueue(q, { timeout: -2 * MS }));
    k.KeInsertQueue(q, "kept");
    got.push(k.KeRemoveQueue(q, { timeout: 0 }));
    got.push(k.KeRemoveQueue(q, { timeout: 0 }));
    insertLater(k, q, "in time", 1);
    got.push(await k.KeRemoveQueue(q, { timeout: -5 * MS }));
  });
  t.is(r.outcome, "idle");
  t.deepEqual(got, [undefined, "kept", undefined, "in time"]);
});
