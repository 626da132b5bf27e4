import test from "ava";
import { DV, Kernel, type RunResult } from "../../emulator/kernel/index.js";

function ranked(): {
  k: Kernel;
  table: ReturnType<Kernel["ExInitializeResourceLite"]>;
  fcb: ReturnType<Kernel["ExInitializeResourceLite"]>;
} {
  const k = new Kernel();
  k.setLockRank("netname table", 1);
  k.setLockRank("FCB", 3);
  return {
    k,
    table: k.ExInitializeResourceLite("netname table of test", "netname table"),
    fcb: k.ExInitializeResourceLite("FCB \\s\\x", "FCB"),
  };
}

async function runOne(k: Kernel, body: () => Promise<void>): Promise<RunResult> {
  k.createThread(k.systemProcess, "t", body);
  return k.run();
}

test("waiting for a lower-ranked lock while holding a higher-ranked one is a lock-order violation (0xC4 / 0x1001)", async (t) => {
  const { k, table, fcb } = ranked();
  const r = await runOne(k, async () => {
    await k.ExAcquireResourceExclusiveLite(fcb, true);
    await k.ExAcquireResourceExclusiveLite(table, true);
  });
  t.is(r.stop?.code, 0xc4);
  t.is(r.stop?.params[0], DV.LOCK_HIERARCHY_VIOLATION);
  t.is(r.stop?.check, "lockOrder");
  t.regex(r.stop?.reason ?? "", /netname table .*while holding FCB/);
});

test("the documented order, a try-acquire against it, and a recursive acquisition are not violations", async (t) => {
  const { k, table, fcb } = ranked();
  const r = await runOne(k, async () => {
    await k.ExAcquireResourceExclusiveLite(table, true);
    await k.ExAcquireResourceExclusiveLite(fcb, true);
    k.ExReleaseResourceLite(table);
    // FCB held: a no-wait attempt on the table cannot deadlock (RDBSS's lock-order dance does this).
    t.true(k.ExAcquireResourceExclusiveLite(table, false) === true);
    // Recursive exclusive acquisition of a lock already held does not wait either.
    t.true((await k.ExAcquireResourceExclusiveLite(table, true)) === true);
    k.ExReleaseResourceLite(table);
    k.ExReleaseResourceLite(table);
    k.ExReleaseResourceLite(fcb);
  });
  t.is(r.stop, null);
  t.is(r.violations.length, 0);
});

test("in record mode the inversion is reported and the run goes on", async (t) => {
  const k = new Kernel({ checks: { lockOrder: "record" } });
  k.setLockRank("netname table", 1);
  k.setLockRank("FCB", 3);
  const table = k.ExInitializeResourceLite("table", "netname table");
  const fcb = k.ExInitializeResourceLite("fcb", "FCB");
  const r = await runOne(k, async () => {
    await k.ExAcquireResourceSharedLite(fcb, true);
    await k.ExAcquireResourceSharedLite(table, true);
    k.ExReleaseResourceLite(table);
    k.ExReleaseResourceLite(fcb);
  });
  t.is(r.outcome, "idle");
  t.is(r.violations.length, 1);
  t.is(r.violations[0]?.params[0], DV.LOCK_HIERARCHY_VIOLATION);
});
