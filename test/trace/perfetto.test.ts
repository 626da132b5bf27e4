/**
 * The Chrome trace-event export (emulator/trace/perfetto.ts) of a real nulmrx run: thread metadata, IRP async
 * slices that end where the IRP was completed (the FSP worker, a DPC), MRx slices nested in the dispatch or work
 * item that made them, balanced B/E per track, lock holds, reference-count counters that follow
 * NodeReferenceCount and return to 0 when RDBSS frees the object, stops as instants, determinism, and nothing
 * recorded when tracing is off.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Kernel } from "../../emulator/kernel/index.js";
import type { AnyRxNode } from "../../emulator/rdbss/index.js";
import {
  type ChromeTrace,
  type ChromeTraceEvent,
  chromeTraceJson,
  DPC_TID,
  OBJECTS_PID,
  type TraceEvent,
  toChromeTrace,
  writeChromeTrace,
} from "../../emulator/trace/index.js";
import { nulmrxRun, type TraceRun } from "./_run.js";

const RX_KINDS = ["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "FCB", "SRV_OPEN", "FOBX"] as const;

function assertCleanRun(t: ExecutionContext, r: TraceRun): void {
  t.is(r.run.stop?.format() ?? null, null);
  t.deepEqual(r.run.violations, []);
  t.deepEqual(
    r.run.threadErrors.map((e) => String(e.error)),
    [],
  );
}

const timed = (trace: ChromeTrace): ChromeTraceEvent[] => trace.traceEvents.filter((e) => e.ph !== "M");
const trackKey = (e: ChromeTraceEvent): string => `${e.pid}/${e.tid}`;

/** B/E on every thread track pair up as a stack (same name and category); async b/e pair up by (cat, id). */
function assertBalanced(t: ExecutionContext, trace: ChromeTrace): void {
  const stacks = new Map<string, ChromeTraceEvent[]>();
  const open = new Map<string, ChromeTraceEvent>();
  let lastTs = Number.NEGATIVE_INFINITY;
  for (const e of timed(trace)) {
    t.true((e.ts ?? -1) >= lastTs, "timestamps never go back");
    lastTs = e.ts ?? lastTs;
    if (e.ph === "B") {
      const s = stacks.get(trackKey(e)) ?? [];
      s.push(e);
      stacks.set(trackKey(e), s);
    } else if (e.ph === "E") {
      const b = stacks.get(trackKey(e))?.pop();
      t.truthy(b, `an E without a B on ${trackKey(e)}: ${e.name}`);
      t.is(b?.name, e.name);
      t.is(b?.cat, e.cat);
    } else if (e.ph === "b") {
      const k = `${e.cat}#${e.id}`;
      t.false(open.has(k), `async ${k} begun twice`);
      open.set(k, e);
    } else if (e.ph === "e") {
      const k = `${e.cat}#${e.id}`;
      const b = open.get(k);
      t.truthy(b, `an async end without a begin: ${k}`);
      t.is(b?.name, e.name);
      t.is(b?.pid, e.pid, "an async slice ends in the process it began in");
      open.delete(k);
    }
  }
  for (const [k, s] of stacks) t.is(s.length, 0, `slices left open on ${k}`);
  t.is(open.size, 0, "async slices left open");
}

const tracedRun = nulmrxRun();

test("one metadata track per emulated thread, DPC context on its own track", async (t) => {
  const r = await tracedRun;
  assertCleanRun(t, r);
  const trace = toChromeTrace(r.em.k.trace.events);
  const meta = trace.traceEvents.filter((e) => e.ph === "M");
  const threadNames = new Map(meta.filter((e) => e.name === "thread_name").map((e) => [e.tid, e]));
  const processNames = new Map(meta.filter((e) => e.name === "process_name").map((e) => [e.pid, e.args?.name]));
  const created = r.em.k.trace.events.filter((e) => e.kind === "thread.create");
  t.true(created.length >= 4, "boot, load, the app and workers");
  for (const e of created) {
    const m = threadNames.get(e.data?.id as number);
    t.is(m?.args?.name, e.what, `thread ${e.data?.id}`);
    t.is(m?.pid, e.data?.pid as number, "pid = the emulated process id");
    t.is(processNames.get(m?.pid ?? -1), e.data?.process);
  }
  t.is(processNames.get(4), "System");
  t.is(threadNames.get(DPC_TID)?.args?.name, "DPC");
  t.is(processNames.get(OBJECTS_PID), "RDBSS objects");
  // Every event lands on a process with a name, and every B/E on a named thread.
  for (const e of timed(trace)) {
    t.true(processNames.has(e.pid), `pid ${e.pid} has a name`);
    if (e.ph === "B" || e.ph === "E" || e.ph === "i") t.true(threadNames.has(e.tid), `tid ${e.tid} has a name`);
  }
  t.deepEqual(trace.traceEvents.slice(0, meta.length), meta, "metadata first");
});

test("B/E balanced and nested per track, async slices paired, time monotonic", async (t) => {
  const r = await tracedRun;
  assertBalanced(t, toChromeTrace(r.em.k.trace.events));
  assertBalanced(t, toChromeTrace(r.em.k.trace.events, { stepNs: 1000 }));
});

test("every IRP dispatched is one async slice from dispatch to the completion, wherever it completed", async (t) => {
  const r = await tracedRun;
  const events = r.em.k.trace.events;
  const trace = toChromeTrace(events);
  const ev = timed(trace);
  const dispatched = new Set(events.filter((e) => e.kind === "irp.dispatch").map((e) => e.data?.irp as number));
  t.true(dispatched.size > 20);
  const completedOn = new Set<string>();
  for (const id of dispatched) {
    const b = ev.filter((e) => e.cat === "irp" && e.ph === "b" && e.id === id);
    const e = ev.filter((x) => x.cat === "irp" && x.ph === "e" && x.id === id);
    t.is(b.length, 1, `IRP#${id} begins once`);
    t.is(e.length, 1, `IRP#${id} ends once`);
    t.not(e[0]?.args?.completed, false, `IRP#${id} was completed`);
    t.true(ev.indexOf(b[0] as ChromeTraceEvent) < ev.indexOf(e[0] as ChromeTraceEvent));
    completedOn.add(`${b[0]?.args?.thread} → ${e[0]?.args?.completedOn}`);
    // The dispatch call itself is a B/E slice on the dispatching thread.
    t.true(ev.some((x) => x.cat === "dispatch" && x.ph === "B" && x.args?.irp === id));
  }
  // START is posted to the FSP (a critical worker completes it); the asynchronous read is completed in a DPC.
  t.true(completedOn.has("app → Critical worker 1"), [...completedOn].join(", "));
  t.true(completedOn.has("app → DPC"), [...completedOn].join(", "));
  t.true(completedOn.has("app → app"));
});

test("MRx calls are slices nested in the dispatch or the FSP work item that made them, inside their IRP's life", async (t) => {
  const r = await tracedRun;
  const ev = timed(toChromeTrace(r.em.k.trace.events));
  const stacks = new Map<string, ChromeTraceEvent[]>();
  const irpOpen = new Set<number>();
  let mrx = 0;
  let inDispatchOfSameIrp = 0;
  let inWorkItem = 0;
  for (const e of ev) {
    if (e.cat === "irp" && e.ph === "b") irpOpen.add(e.id as number);
    if (e.cat === "irp" && e.ph === "e") irpOpen.delete(e.id as number);
    const s = stacks.get(trackKey(e)) ?? [];
    stacks.set(trackKey(e), s);
    if (e.ph === "E") s.pop();
    if (e.ph !== "B") continue;
    if (e.cat === "mrx") {
      mrx++;
      const enclosing = s.filter((x) => x.cat === "dispatch" || x.cat === "work");
      t.true(enclosing.length > 0, `${e.name} runs inside a dispatch or a work item`);
      const irp = e.args?.irp as number;
      if (irp !== 0) {
        t.true(irpOpen.has(irp), `${e.name} runs while IRP#${irp} is alive`);
        if (s.some((x) => x.cat === "dispatch" && x.args?.irp === irp)) inDispatchOfSameIrp++;
      }
      if (s.some((x) => x.cat === "work")) inWorkItem++;
    }
    s.push(e);
  }
  t.true(mrx > 10);
  t.true(inDispatchOfSameIrp > 5, "MRxCreate, MRxLowIOSubmit … in the dispatch of their IRP on the same thread");
  t.true(inWorkItem > 2, "the FSP and the scavenger call the mini-redirector from work items");
  // The MRx slices carry the call's result.
  t.true(ev.some((e) => e.cat === "mrx" && e.ph === "E" && e.args?.status === "STATUS_PENDING"));
});

test("lock holds are async slices per lock and owner; an owner pointer's hold is released by the DPC", async (t) => {
  const r = await tracedRun;
  const ev = timed(toChromeTrace(r.em.k.trace.events));
  const begins = ev.filter((e) => e.cat === "lock" && e.ph === "b");
  const ends = ev.filter((e) => e.cat === "lock" && e.ph === "e");
  t.is(begins.length, ends.length);
  t.true(begins.some((e) => e.args?.lock === "netname table of nulmrx" && e.args?.owner === "app"));
  t.true(begins.some((e) => e.args?.lock === "RxData.Resource" && e.args?.owner === "Critical worker 1"));
  t.true(
    ends.every((e) => e.args?.unfinished === undefined),
    "every hold ended before the run did",
  );
  t.true(
    ends.some((e) => e.name.endsWith("· owner pointer") && e.args?.releasedBy === "DPC"),
    "LowIo hands the FCB resource to an owner pointer; the completion in the DPC releases it",
  );
});

test("reference counts follow NodeReferenceCount and return to 0 when RDBSS frees the object", async (t) => {
  const marks: { events: number; refs: Map<string, number> }[] = [];
  const snapshot = (em: TraceRun["em"]): void => {
    marks.push({
      events: em.k.trace.events.length,
      refs: new Map([...em.rx.live].map((n: AnyRxNode) => [`${n.kind}#${n.serial}`, n.NodeReferenceCount])),
    });
  };
  const r = await nulmrxRun({ at: { connected: snapshot, open: snapshot, closed: snapshot, scavenged: snapshot } });
  assertCleanRun(t, r);
  const events = r.em.k.trace.events;
  // At each point, the last counter value of every live object is its NodeReferenceCount.
  for (const m of marks) {
    const last = new Map<string, number>();
    for (const e of timed(toChromeTrace(events.slice(0, m.events)))) {
      if (e.ph === "C" && e.cat === "refs" && e.name !== "live objects")
        last.set(e.name.split(" ")[0] as string, e.args?.refs as number);
    }
    t.true(m.refs.size > 0);
    for (const [id, refs] of m.refs) t.is(last.get(id), refs, `${id} after ${m.events} events`);
  }
  const ev = timed(toChromeTrace(events));
  const counters = new Map<string, number[]>();
  for (const e of ev) {
    if (e.ph !== "C" || e.cat !== "refs" || e.name === "live objects") continue;
    counters.set(e.name, [...(counters.get(e.name) ?? []), e.args?.refs as number]);
  }
  for (const kind of RX_KINDS)
    t.true(
      [...counters.keys()].some((n) => n.startsWith(`${kind}#`)),
      kind,
    );
  for (const [name, values] of counters) {
    t.true((values[0] ?? 0) > 0, `${name} starts referenced`);
    t.is(values.at(-1), 0, `${name} ends at 0: it was freed`);
  }
  const frees = events.filter((e) => e.kind === "note" && e.what.startsWith("free "));
  t.is(frees.length, counters.size, "one free per structure");
  const live = ev.filter((e) => e.ph === "C" && e.name === "live objects");
  t.deepEqual(live.at(-1)?.args, { SRV_CALL: 0, NET_ROOT: 0, V_NET_ROOT: 0, FCB: 0, SRV_OPEN: 0, FOBX: 0 });
  t.is(Math.max(...live.map((e) => e.args?.FOBX as number)), 2, "two opens of a.txt at once");
});

test("same run, byte-identical JSON (FIFO and a seeded random schedule)", async (t) => {
  for (const strategy of ["fifo", "random"] as const) {
    const a = await nulmrxRun({ seed: 3, strategy });
    const b = await nulmrxRun({ seed: 3, strategy });
    assertCleanRun(t, a);
    const ja = chromeTraceJson(toChromeTrace(a.em.k.trace.events, { stepNs: 100 }));
    const jb = chromeTraceJson(toChromeTrace(b.em.k.trace.events, { stepNs: 100 }));
    t.true(ja.length > 10_000);
    t.is(ja, jb, strategy);
    t.is(chromeTraceJson(toChromeTrace(a.em.k.trace.events)), chromeTraceJson(toChromeTrace(b.em.k.trace.events)));
    assertBalanced(t, JSON.parse(ja) as ChromeTrace);
  }
});

test("tracing off records nothing and does not change the run", async (t) => {
  const off = await nulmrxRun({ trace: false });
  const on = await tracedRun;
  assertCleanRun(t, off);
  t.is(off.em.k.trace.events.length, 0);
  t.true(on.em.k.trace.events.length > 300);
  t.deepEqual(toChromeTrace(off.em.k.trace.events).traceEvents, []);
  t.deepEqual(off.run.choices, on.run.choices);
  t.is(off.run.steps, on.run.steps);
  t.is(off.run.time, on.run.time);
  t.deepEqual(
    off.em.rx.mrxLog.map((c) => `${c.thread} ${c.name} ${c.target} ${c.status}`),
    on.em.rx.mrxLog.map((c) => `${c.thread} ${c.name} ${c.target} ${c.status}`),
  );
});

test("timestamps: microseconds of virtual time, or spread by stepNs", async (t) => {
  const r = await tracedRun;
  const events = r.em.k.trace.events;
  const plain = timed(toChromeTrace(events));
  const last = events.at(-1) as TraceEvent;
  t.is(plain.at(-1)?.ts, last.time / 10);
  t.true(
    plain.some((e) => e.ts === 500),
    "the first DPC completion, 0.5 ms in",
  );
  const spread = timed(toChromeTrace(events, { stepNs: 1000 }));
  const distinct = new Set(spread.map((e) => e.ts)).size;
  t.true(distinct >= events.length * 0.5, `${distinct} distinct timestamps for ${events.length} events`);
  t.true((spread.at(-1)?.ts ?? 0) >= last.time / 10);
});

test("writeChromeTrace writes the JSON a scenario runner hands to Perfetto", async (t) => {
  const r = await tracedRun;
  const dir = await mkdtemp(join(tmpdir(), "rdbss-trace-"));
  try {
    const path = join(dir, "run.json");
    await writeChromeTrace(path, r.em.k.trace.events, { metadata: { seed: 7 } });
    const text = await readFile(path, "utf8");
    t.is(text, chromeTraceJson(toChromeTrace(r.em.k.trace.events, { metadata: { seed: 7 } })));
    const parsed = JSON.parse(text) as ChromeTrace;
    t.is(parsed.displayTimeUnit, "ns");
    t.deepEqual(parsed.otherData, { seed: 7 });
    t.is(parsed.traceEvents.length, toChromeTrace(r.em.k.trace.events).traceEvents.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a stop is a global instant; what was open when it happened is closed as unfinished", async (t) => {
  const k = new Kernel({ trace: true });
  const res = k.ExInitializeResourceLite("FcbTable");
  k.createThread(k.createProcess("app.exe"), "reader", async () => {
    await k.ExAcquireResourceSharedLite(res, true);
    await k.ExAcquireResourceExclusiveLite(res, true);
  });
  const run = await k.run();
  t.is(run.stop?.code, 0xc4);
  const trace = toChromeTrace(k.trace.events);
  assertBalanced(t, trace);
  const ev = timed(trace);
  const stop = ev.find((e) => e.ph === "i" && e.s === "g");
  t.is(stop?.name, `STOP ${run.stop?.name}`);
  t.is(stop?.args?.code, 0xc4);
  const hold = ev.find((e) => e.cat === "lock" && e.ph === "e");
  t.is(hold?.name, "FcbTable · reader");
  t.is(hold?.args?.unfinished, true);
});

test("an IRP completed twice (more processing required) and sent again gives two slices", (t) => {
  let seq = 0;
  const ev = (
    thread: number,
    kind: TraceEvent["kind"],
    what: string,
    data?: Record<string, string | number | boolean>,
  ): TraceEvent =>
    data === undefined
      ? { seq: seq++, time: seq * 10, thread, kind, what }
      : { seq: seq++, time: seq * 10, thread, kind, what, data };
  const events: TraceEvent[] = [
    ev(-1, "thread.create", "t", { id: 1, process: "p.exe", pid: 8 }),
    ev(1, "irp.dispatch", "IRP_MJ_READ", { irp: 5, device: "\\Device\\A" }),
    ev(1, "irp.dispatch", "IRP_MJ_READ", { irp: 5, device: "\\Device\\B" }),
    ev(1, "irp.return", "\\Device\\B", { irp: 5, status: 259 }),
    ev(1, "irp.return", "\\Device\\A", { irp: 5, status: 259 }),
    ev(0, "dpc", "done"),
    ev(0, "irp.complete", "IRP#5", { status: 0 }),
    ev(1, "irp.complete", "IRP#5", { status: 0 }),
    ev(1, "irp.dispatch", "IRP_MJ_READ", { irp: 5, device: "\\Device\\A" }),
    ev(1, "irp.complete", "IRP#5", { status: 0 }),
    ev(1, "irp.return", "\\Device\\A", { irp: 5, status: 0 }),
  ];
  const trace = toChromeTrace(events);
  assertBalanced(t, trace);
  const irp = timed(trace).filter((e) => e.cat === "irp" && e.id === 5);
  t.deepEqual(
    irp.map((e) => `${e.ph} ${e.name}`),
    [
      "b IRP_MJ_READ",
      "n IoCompleteRequest (more processing required)",
      "e IRP_MJ_READ",
      "b IRP_MJ_READ",
      "e IRP_MJ_READ",
    ],
  );
  const dispatch = timed(trace).filter((e) => e.cat === "dispatch");
  t.deepEqual(
    dispatch.map((e) => `${e.ph} ${e.name}`),
    [
      "B IRP_MJ_READ → \\Device\\A",
      "B IRP_MJ_READ → \\Device\\B",
      "E IRP_MJ_READ → \\Device\\B",
      "E IRP_MJ_READ → \\Device\\A",
      "B IRP_MJ_READ → \\Device\\A",
      "E IRP_MJ_READ → \\Device\\A",
    ],
  );
  t.true(timed(trace).some((e) => e.ph === "B" && e.cat === "dpc" && e.tid === DPC_TID));
});
