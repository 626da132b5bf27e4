/**
 * The MRx call log (emulator/rdbss/mrxlog.ts): packed entries read back as the records they were, in order, across
 * chunk boundaries; and what RDBSS writes into it for real calls (target label, thread, arguments, status).
 */
import test from "ava";
import { type MrxCallRecord, MrxLog } from "../../emulator/rdbss/index.js";
import * as H from "./_helpers.js";

function fill(log: MrxLog, n: number): MrxCallRecord[] {
  const want: MrxCallRecord[] = [];
  for (let i = 0; i < n; i++) {
    const name = `MRx${i % 7}`;
    const args = i % 3 === 0 ? (i % 2 === 0 ? "TRUE" : "FALSE") : undefined;
    const at = log.push(
      log.intern(name),
      log.intern("dev"),
      `FCB#${i} \\srv\\share\\f${i}`,
      log.intern(`t${i % 4}`),
      i * 1000.5,
      args === undefined ? -1 : log.intern(args),
    );
    const status = i % 5 === 0 ? undefined : `STATUS_${i % 2}`;
    if (status !== undefined) log.setStatus(at, log.intern(status));
    want.push({
      name,
      device: "dev",
      target: `FCB#${i} \\srv\\share\\f${i}`,
      thread: `t${i % 4}`,
      time: i * 1000.5,
      ...(args !== undefined ? { args } : {}),
      ...(status !== undefined ? { status } : {}),
    });
  }
  return want;
}

test("entries read back as the records written, across chunks; absent args and status are absent keys", (t) => {
  const log = new MrxLog();
  const want = fill(log, 2500);
  t.is(log.length, 2500);
  t.deepEqual(log.toArray(), want);
  t.deepEqual([...log], want);
  t.deepEqual(log.at(-1), want[2499]);
  t.is(log.at(2500), undefined);
  t.deepEqual(log.at(1.5), want[1], "indexes truncate, as Array.prototype.at");
  t.is(log.nameAt(1.5), undefined);
  t.deepEqual(log.slice(1.5, 3.9), want.slice(1, 3));
  t.false("status" in (log.at(0) as MrxCallRecord), "status never set");
  t.false("args" in (log.at(1) as MrxCallRecord), "no args shown");
  t.is(log.nameAt(1030), "MRx1");
  t.deepEqual(log.slice(1020, 1030), want.slice(1020, 1030));
  t.deepEqual(log.slice(-3), want.slice(-3));
  t.deepEqual(
    log.filter((r) => r.args === "TRUE").map((r) => r.target),
    want.filter((r) => r.args === "TRUE").map((r) => r.target),
  );
  t.deepEqual(
    log.map((r, i) => `${i}:${r.name}`),
    want.map((r, i) => `${i}:${r.name}`),
  );
  t.true(log.some((r) => r.thread === "t3"));
  t.is(log.find((r) => r.time > 2000)?.target, want[2]?.target);
  t.deepEqual(JSON.parse(JSON.stringify(log)), want);
});

test("RDBSS logs each MRx call with its target, thread, arguments and status, as calls() and mrxOrder() read them", async (t) => {
  const w = await H.makeWorld();
  H.clean(
    await H.user(w, async (np) => {
      const h = await H.netUseAndOpen(w, np);
      await w.em.sys.nt.NtClose(h);
      await np.netUseDelete("N", 1);
    }),
  );
  const create = H.only(H.calls(w, "MRxCreate"));
  t.regex(create.target, /^SRV_OPEN#\d+ \\srv\\share\\f\.txt$/);
  t.is(create.thread, "user");
  t.is(create.status, "STATUS_SUCCESS");
  t.is(create.device, w.dev.MiniRdrName);
  const finalize = H.only(H.calls(w, "MRxFinalizeSrvCall"));
  t.is(finalize.args, "TRUE", "RxFinalizeConnection(…, TRUE) force-finalizes");
  t.deepEqual(H.mrxOrder(w, ["MRxCreate", "MRxCleanupFobx", "MRxCloseSrvOpen"]), [
    "MRxCreate",
    "MRxCleanupFobx",
    "MRxCloseSrvOpen",
  ]);
  // Times never go backwards.
  const times = w.em.rx.mrxLog.map((r) => r.time);
  t.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
  );
});

test("logMrxCalls: false keeps the log empty but still counts calls per device", async (t) => {
  const w = await H.makeWorld({ logMrxCalls: false });
  H.clean(
    await H.user(w, async (np) => {
      const h = await H.netUseAndOpen(w, np);
      await w.em.sys.nt.NtClose(h);
    }),
  );
  t.is(w.em.rx.mrxLog.length, 0);
  t.is(w.dev.mrxCalls.get("MRxCreate"), 1);
});
