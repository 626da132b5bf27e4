/**
 * Deadlock reports print the wait-for graph — who waits for what, and who holds it — for every kind of wait:
 * ERESOURCE, FAST_MUTEX, KMUTEX (owned objects, with the cycle of owners named) and KEVENT (no owner), and mixes.
 * The lock-order graph is off here: it would report the ownable cycles before they deadlock (lockorder.test.ts).
 */
import test from "ava";
import { EventType, Kernel, type KernelStop } from "../../emulator/kernel/index.js";

async function deadlock(build: (k: Kernel) => void): Promise<KernelStop> {
  const k = new Kernel({ checks: { lockOrder: "off" } });
  build(k);
  const r = await k.run();
  if (r.stop === null) throw new Error("no deadlock");
  return r.stop;
}

const lines = (s: KernelStop): string[] =>
  s.waits.map(
    (w) =>
      `${w.thread.name} waits for ${w.waitsFor}${w.heldBy.length ? ` held by ${w.heldBy.map((h) => h.name).join(",")}` : " (no owner)"}`,
  );

test("ERESOURCE: the cycle of owners and both waits", async (t) => {
  const s = await deadlock((k) => {
    const a = k.ExInitializeResourceLite("A");
    const b = k.ExInitializeResourceLite("B");
    const p = k.createProcess("p");
    k.createThread(p, "t1", async () => {
      await k.ExAcquireResourceExclusiveLite(a, true);
      await k.KeYieldThread();
      await k.ExAcquireResourceSharedLite(b, true);
    });
    k.createThread(p, "t2", async () => {
      await k.ExAcquireResourceExclusiveLite(b, true);
      await k.ExAcquireResourceExclusiveLite(a, true);
    });
  });
  t.is(s.kind, "deadlock");
  t.is(s.check, "deadlock");
  t.regex(s.reason, /^Deadlock: "t[12]" → "t[12]" → "t[12]" each wait for a lock the next one holds\./);
  t.deepEqual(lines(s).sort(), [
    't1 waits for ERESOURCE "B" (shared) held by t2',
    't2 waits for ERESOURCE "A" (exclusive) held by t1',
  ]);
  t.regex(s.format(), /Who waits for what:\n {2}thread \d+ "t[12]" waits for/);
});

test("FAST_MUTEX and KMUTEX: owners named", async (t) => {
  const s = await deadlock((k) => {
    const fm = k.ExInitializeFastMutex("FM");
    const mx = k.KeInitializeMutex(0, "MX");
    const p = k.createProcess("p");
    k.createThread(p, "t1", async () => {
      await k.ExAcquireFastMutex(fm);
      await k.KeYieldThread();
      await k.KeWaitForSingleObject(mx);
    });
    k.createThread(p, "t2", async () => {
      await k.KeWaitForSingleObject(mx);
      await k.ExAcquireFastMutex(fm);
    });
  });
  t.deepEqual(lines(s).sort(), [
    't1 waits for KMUTEX "MX" held by t2',
    't2 waits for FAST_MUTEX "FM" (exclusive) held by t1',
  ]);
  t.regex(s.reason, /each wait for a lock the next one holds/);
});

test("KEVENT: events have no owner — each wait is listed, no cycle claimed", async (t) => {
  const s = await deadlock((k) => {
    const e1 = k.KeInitializeEvent(EventType.NotificationEvent, false, "ready");
    const e2 = k.KeInitializeEvent(EventType.NotificationEvent, false, "done");
    const p = k.createProcess("p");
    k.createThread(p, "t1", async () => {
      await k.KeWaitForSingleObject(e1);
      k.KeSetEvent(e2);
    });
    k.createThread(p, "t2", async () => {
      await k.KeWaitForSingleObject(e2);
      k.KeSetEvent(e1);
    });
  });
  t.deepEqual(lines(s).sort(), ['t1 waits for KEVENT "ready" (no owner)', 't2 waits for KEVENT "done" (no owner)']);
  t.regex(s.reason, /^Every live thread is blocked and nothing can wake any of them/);
});

test("a mix: a resource held by a thread that waits for an event only the waiter would set", async (t) => {
  const s = await deadlock((k) => {
    const r = k.ExInitializeResourceLite("netname table");
    const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "transport ready");
    const p = k.createProcess("p");
    k.createThread(p, "starter", async () => {
      await k.ExAcquireResourceExclusiveLite(r, true);
      await k.KeWaitForSingleObject(ev);
    });
    k.createThread(p, "worker", async () => {
      await k.ExAcquireResourceExclusiveLite(r, true);
      k.KeSetEvent(ev);
    });
  });
  t.deepEqual(lines(s).sort(), [
    'starter waits for KEVENT "transport ready" (no owner)',
    'worker waits for ERESOURCE "netname table" (exclusive) held by starter',
  ]);
});
