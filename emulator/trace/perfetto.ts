/**
 * The event stream of a run as Chrome trace-event JSON, the format ui.perfetto.dev and chrome://tracing open.
 *
 * Tracks:
 * - one process per emulated process (pid = KProcess id, System is 4) and one thread track per emulated thread
 *   (tid = emulated thread id); DPC context has its own track (tid DPC_TID) and so does work the scheduler does
 *   outside any thread (tid NO_THREAD_TID), both in System;
 * - on a thread track, B/E slices: each IoCallDriver from the dispatch call to its return ("IRP_MJ_READ →
 *   \Device\NulMRx"), the MRx calls RDBSS makes (nested in the dispatch that made them, or in the work item of an
 *   FSP worker), work items, waits and preemptions; DPC routines on the DPC track; instants for completions,
 *   cancels, timers, notes and stops;
 * - an IRP's whole life, from its first dispatch to the IoCompleteRequest that finished it, is an async slice
 *   (b/e, cat "irp", id = IRP id) in the process of the dispatching thread. Async, not B/E, because an IRP is
 *   often completed on another thread than the one that sent it (a worker of the FSP, a DPC, the thread that
 *   happens to run the completion): an E must be on the track of its B, and B/E slices on one track must nest,
 *   while a thread can have several IRPs pending that end in any order;
 * - each lock hold, from lock.acquire to lock.release of one lock by one owner, is an async slice too (cat "lock"):
 *   holds of different locks do not nest (acquire A, acquire B, release A) and an ERESOURCE can be released by
 *   another thread (ExReleaseResourceForThreadLite, owner pointers);
 * - the NodeReferenceCount of every SRV_CALL, NET_ROOT, V_NET_ROOT, FCB, SRV_OPEN and FOBX is a counter track
 *   ("C"), set to 0 when RDBSS frees the object, in the pseudo-process "RDBSS objects" (pid OBJECTS_PID), with a
 *   "live objects" counter per structure type; each thread's IRQL is a counter too.
 *
 * Timestamps are microseconds of virtual time (TraceEvent.time / 10). Most of a run happens at the same virtual
 * instant (time only moves when every thread waits for a timer), so `stepNs` can spread events: each event is
 * then placed at least `stepNs` nanoseconds after the previous one, which keeps the order and makes nesting visible.
 * The output is a pure function of the events and options: the same events give byte-identical JSON.
 */
import { writeFile } from "node:fs/promises";
import type { TraceEvent } from "./events.js";

/** The pid of the System process (KProcess id 4), which owns the DPC and no-thread tracks. */
export const SYSTEM_PID = 4;
/** The pseudo-process that holds the reference-count counters. */
export const OBJECTS_PID = 2;
/** The pseudo-process of threads whose creation the trace did not see. */
export const UNKNOWN_PID = 3;
/** The track of DPC context (emulated thread id 0). */
export const DPC_TID = 1_000_000;
/** The track of scheduler work outside any thread (trace thread -1: clock advances, timer expiry). */
export const NO_THREAD_TID = 1_000_001;

/** Categories of the events this exporter writes. */
export const CHROME_TRACE_CATEGORIES = {
  irp: "irp",
  dispatch: "dispatch",
  mrx: "mrx",
  lock: "lock",
  wait: "wait",
  work: "work",
  dpc: "dpc",
  timer: "timer",
  rdbss: "rdbss",
  refs: "refs",
  irql: "irql",
  thread: "thread",
  stop: "stop",
} as const;
export type ChromeTraceCategory = (typeof CHROME_TRACE_CATEGORIES)[keyof typeof CHROME_TRACE_CATEGORIES];

/** The phases used: metadata, duration begin/end, async begin/end/instant, instant, counter. */
export type ChromeTracePhase = "M" | "B" | "E" | "b" | "e" | "n" | "i" | "C";

export type ChromeTraceArgs = Readonly<Record<string, string | number | boolean>>;

export interface ChromeTraceEvent {
  readonly name: string;
  readonly cat?: ChromeTraceCategory;
  readonly ph: ChromeTracePhase;
  /** Microseconds; absent on metadata events. */
  readonly ts?: number;
  readonly pid: number;
  readonly tid: number;
  /** Async events: the IRP id or the lock hold's serial (scoped by cat). */
  readonly id?: number;
  /** Instant scope: global, process or thread. */
  readonly s?: "g" | "p" | "t";
  readonly args?: ChromeTraceArgs;
}

export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: "ms" | "ns";
  readonly otherData?: ChromeTraceArgs;
}

export interface ChromeTraceOptions {
  /** Minimum distance between consecutive events, in nanoseconds (default 0: virtual time only). */
  readonly stepNs?: number;
  /** Wait and preemption slices on thread tracks (default true). */
  readonly waits?: boolean;
  /** Lock holds as async slices (default true). */
  readonly locks?: boolean;
  /** Reference-count and live-object counters (default true). */
  readonly refCounts?: boolean;
  /** IRQL counters per thread (default true). */
  readonly irql?: boolean;
  /** Written as the trace's `otherData` (seed, scenario name …). */
  readonly metadata?: ChromeTraceArgs;
}

const C = CHROME_TRACE_CATEGORIES;
const RX_KINDS = ["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "FCB", "SRV_OPEN", "FOBX"] as const;
type RxKind = (typeof RX_KINDS)[number];

/** Events the scheduler emits on behalf of a thread that is not running (it is the current one while blocked). */
const PASSIVE_KINDS: ReadonlySet<TraceEvent["kind"]> = new Set(["timer", "clock", "wake", "dpc", "stop"]);

interface ThreadTrack {
  readonly pid: number;
  readonly tid: number;
  name: string;
}

interface OpenSlice {
  readonly name: string;
  readonly cat: ChromeTraceCategory;
  /** What closes it: the IRP id of a dispatch, the MRx name, "work", or "suspend" for waits and preemptions. */
  readonly key: string;
}

interface AsyncSlice {
  readonly name: string;
  readonly cat: ChromeTraceCategory;
  readonly id: number;
  readonly pid: number;
  readonly tid: number;
}

interface LockHold extends AsyncSlice {
  count: number;
}

interface RefCounter {
  readonly name: string;
  readonly kind: RxKind;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

function irpIdOf(e: TraceEvent): number | undefined {
  const fromData = num(e.data?.irp);
  if (fromData !== undefined) return fromData;
  const m = /^IRP#(\d+)/.exec(e.what);
  return m ? Number(m[1]) : undefined;
}

/** "FCB#4 \srv\share\a.txt" → "FCB#4", and its kind. */
function objectKey(label: string): { key: string; kind: RxKind } | undefined {
  const key = label.split(" ", 1)[0] ?? "";
  const kind = key.slice(0, key.indexOf("#"));
  return (RX_KINDS as readonly string[]).includes(kind) ? { key, kind: kind as RxKind } : undefined;
}

/**
 * For every IRP completion, whether it ends the IRP's current life: the last IoCompleteRequest before the IRP is
 * dispatched again (reuse) or the trace ends. Earlier ones were stopped by STATUS_MORE_PROCESSING_REQUIRED.
 */
function finalCompletions(events: readonly TraceEvent[]): Set<number> {
  const last = new Map<number, number>();
  const finals = new Set<number>();
  events.forEach((e, i) => {
    if (e.kind === "irp.dispatch") {
      const id = irpIdOf(e);
      if (id === undefined) return;
      const l = last.get(id);
      if (l !== undefined) {
        finals.add(l);
        last.delete(id);
      }
    } else if (e.kind === "irp.complete") {
      const id = irpIdOf(e);
      if (id !== undefined) last.set(id, i);
    }
  });
  for (const i of last.values()) finals.add(i);
  return finals;
}

/** Convert recorded trace events to Chrome trace-event JSON (see the module comment for the tracks). */
export function toChromeTrace(events: readonly TraceEvent[], options: ChromeTraceOptions = {}): ChromeTrace {
  const stepNs = Math.max(0, options.stepNs ?? 0);
  const withWaits = options.waits ?? true;
  const withLocks = options.locks ?? true;
  const withRefs = options.refCounts ?? true;
  const withIrql = options.irql ?? true;

  const out: ChromeTraceEvent[] = [];
  const processNames = new Map<number, string>([[SYSTEM_PID, "System"]]);
  const pidByName = new Map<string, number>([["System", SYSTEM_PID]]);
  const threads = new Map<number, ThreadTrack>();
  const stacks = new Map<number, OpenSlice[]>();
  const irps = new Map<number, AsyncSlice>();
  const holds = new Map<string, LockHold>();
  const counters = new Map<string, RefCounter>();
  const live: Record<RxKind, number> = { SRV_CALL: 0, NET_ROOT: 0, V_NET_ROOT: 0, FCB: 0, SRV_OPEN: 0, FOBX: 0 };
  const finals = finalCompletions(events);
  let holdSerial = 0;
  let dpcOpen: string | null = null;
  let lastNs = Number.NEGATIVE_INFINITY;
  let ts = 0;

  const processPid = (name: string, pid: number | undefined): number => {
    const known = pidByName.get(name);
    if (known !== undefined && (pid === undefined || pid === known)) return known;
    const p = pid ?? 1000 + pidByName.size;
    pidByName.set(name, p);
    processNames.set(p, name);
    return p;
  };

  const track = (thread: number): ThreadTrack => {
    let t = threads.get(thread);
    if (t === undefined) {
      if (thread === 0) t = { pid: SYSTEM_PID, tid: DPC_TID, name: "DPC" };
      else if (thread < 0) t = { pid: SYSTEM_PID, tid: NO_THREAD_TID, name: "scheduler (no thread)" };
      else {
        processNames.set(UNKNOWN_PID, "(threads created before tracing)");
        t = { pid: UNKNOWN_PID, tid: thread, name: `thread ${thread}` };
      }
      threads.set(thread, t);
    }
    return t;
  };

  const stackOf = (thread: number): OpenSlice[] => {
    let s = stacks.get(thread);
    if (s === undefined) {
      s = [];
      stacks.set(thread, s);
    }
    return s;
  };

  const begin = (thread: number, slice: OpenSlice, args?: ChromeTraceArgs): void => {
    const t = track(thread);
    stackOf(thread).push(slice);
    out.push(
      args === undefined
        ? { name: slice.name, cat: slice.cat, ph: "B", ts, pid: t.pid, tid: t.tid }
        : { name: slice.name, cat: slice.cat, ph: "B", ts, pid: t.pid, tid: t.tid, args },
    );
  };

  const endOne = (thread: number, slice: OpenSlice, args?: ChromeTraceArgs): void => {
    const t = track(thread);
    out.push(
      args === undefined
        ? { name: slice.name, cat: slice.cat, ph: "E", ts, pid: t.pid, tid: t.tid }
        : { name: slice.name, cat: slice.cat, ph: "E", ts, pid: t.pid, tid: t.tid, args },
    );
  };

  /** Close the topmost slice with `key` on a thread, and (truncated) whatever is still open above it. */
  const end = (thread: number, key: string, args?: ChromeTraceArgs): void => {
    const s = stacks.get(thread);
    if (s === undefined) return;
    let i = s.length - 1;
    while (i >= 0 && (s[i] as OpenSlice).key !== key) i--;
    if (i < 0) return;
    while (s.length - 1 > i) endOne(thread, s.pop() as OpenSlice, { truncated: true });
    endOne(thread, s.pop() as OpenSlice, args);
  };

  const resume = (thread: number): void => {
    const s = stacks.get(thread);
    if (s !== undefined && s.length > 0 && (s[s.length - 1] as OpenSlice).key === "suspend") end(thread, "suspend");
  };

  const instant = (thread: number, name: string, cat: ChromeTraceCategory, args?: ChromeTraceArgs): void => {
    const t = track(thread);
    out.push(
      args === undefined
        ? { name, cat, ph: "i", ts, pid: t.pid, tid: t.tid, s: "t" }
        : { name, cat, ph: "i", ts, pid: t.pid, tid: t.tid, s: "t", args },
    );
  };

  const asyncEvent = (a: AsyncSlice, ph: "b" | "e" | "n", name: string, args?: ChromeTraceArgs): void => {
    out.push(
      args === undefined
        ? { name, cat: a.cat, ph, ts, pid: a.pid, tid: a.tid, id: a.id }
        : { name, cat: a.cat, ph, ts, pid: a.pid, tid: a.tid, id: a.id, args },
    );
  };

  const counter = (name: string, pid: number, tid: number, cat: ChromeTraceCategory, args: ChromeTraceArgs): void => {
    out.push({ name, cat, ph: "C", ts, pid, tid, args });
  };

  const liveCounter = (): void => counter("live objects", OBJECTS_PID, OBJECTS_PID, C.refs, { ...live });

  const ownerTrack = (owner: number): ThreadTrack =>
    owner === -1 ? { pid: SYSTEM_PID, tid: NO_THREAD_TID, name: "owner pointer" } : track(owner);

  events.forEach((e, index) => {
    const ns = e.time * 100;
    lastNs = stepNs > 0 && ns < lastNs + stepNs ? lastNs + stepNs : ns;
    ts = stepNs > 0 ? Math.round(lastNs) / 1000 : e.time / 10;
    const thread = e.thread;
    if (dpcOpen !== null && (thread !== 0 || e.kind === "dpc")) {
      end(0, "dpc");
      dpcOpen = null;
    }
    if (thread > 0 && !PASSIVE_KINDS.has(e.kind)) resume(thread);
    const d = e.data;

    switch (e.kind) {
      case "thread.create": {
        const id = num(d?.id);
        if (id === undefined) break;
        const processName = str(d?.process) ?? "?";
        const pid = processPid(processName, num(d?.pid));
        threads.set(id, { pid, tid: id, name: e.what });
        break;
      }
      case "thread.exit": {
        const s = stacks.get(thread);
        while (s !== undefined && s.length > 0) endOne(thread, s.pop() as OpenSlice, { truncated: true });
        instant(thread, `exit ${e.what}`, C.thread);
        break;
      }
      case "switch": {
        const id = num(d?.id) ?? thread;
        if (id > 0) resume(id);
        break;
      }
      case "wait":
        if (withWaits) begin(thread, { name: `wait ${e.what}`, cat: C.wait, key: "suspend" });
        break;
      case "yield":
        if (withWaits) begin(thread, { name: `preempted at ${e.what}`, cat: C.wait, key: "suspend" });
        break;
      case "irql": {
        const to = num(d?.to);
        if (withIrql && to !== undefined) {
          const t = track(thread);
          counter(`IRQL ${t.name}`, t.pid, t.tid, C.irql, { level: to });
        }
        break;
      }
      case "lock.acquire": {
        if (!withLocks) break;
        const owner = num(d?.owner) ?? num(d?.to) ?? thread;
        const key = `${e.what}\u0000${owner}`;
        const open = holds.get(key);
        if (open !== undefined) {
          open.count++;
          break;
        }
        const t = ownerTrack(owner);
        const h: LockHold = {
          name: `${e.what} · ${t.name}`,
          cat: C.lock,
          id: ++holdSerial,
          pid: t.pid,
          tid: t.tid,
          count: 1,
        };
        holds.set(key, h);
        const args: Record<string, string | number | boolean> = { lock: e.what, owner: t.name };
        const type = str(d?.type);
        const mode = str(d?.mode);
        if (type !== undefined) args.type = type;
        if (mode !== undefined) args.mode = mode;
        asyncEvent(h, "b", h.name, args);
        break;
      }
      case "lock.release": {
        if (!withLocks) break;
        const owner = num(d?.owner) ?? thread;
        const key = `${e.what}\u0000${owner}`;
        const h = holds.get(key);
        if (h === undefined || --h.count > 0) break;
        holds.delete(key);
        const args: Record<string, string | number | boolean> = {};
        if (owner !== thread) args.releasedBy = track(thread).name;
        if (d?.retired === true) args.retired = true;
        if (str(d?.to) !== undefined) args.handedTo = str(d?.to) as string;
        asyncEvent(h, "e", h.name, Object.keys(args).length > 0 ? args : undefined);
        break;
      }
      case "dpc":
        begin(0, { name: `DPC ${e.what}`, cat: C.dpc, key: "dpc" });
        dpcOpen = e.what;
        break;
      case "timer":
        instant(thread, e.what === "expire" ? "timer expires" : `timer ${e.what}`, C.timer, d);
        break;
      case "clock":
        break;
      case "work.queue":
        instant(thread, `queue ${e.what}`, C.work, d);
        break;
      case "work.run":
        begin(thread, { name: e.what, cat: C.work, key: "work" });
        break;
      case "work.done":
        end(thread, "work");
        break;
      case "irp.dispatch": {
        const id = irpIdOf(e);
        if (id === undefined) break;
        const device = str(d?.device) ?? "?";
        begin(thread, { name: `${e.what} → ${device}`, cat: C.dispatch, key: `irp ${id}` }, { irp: id, device });
        if (!irps.has(id)) {
          const t = track(thread);
          const a: AsyncSlice = { name: e.what, cat: C.irp, id, pid: t.pid, tid: t.tid };
          irps.set(id, a);
          asyncEvent(a, "b", a.name, { irp: id, device, thread: t.name });
        }
        break;
      }
      case "irp.return": {
        const id = irpIdOf(e);
        const status = num(d?.status);
        if (id !== undefined) end(thread, `irp ${id}`, status === undefined ? undefined : { returned: status });
        break;
      }
      case "irp.complete": {
        const id = irpIdOf(e);
        if (id === undefined) break;
        const status = num(d?.status) ?? 0;
        instant(thread, `IoCompleteRequest IRP#${id}`, C.irp, { irp: id, status });
        const a = irps.get(id);
        if (a === undefined) break;
        if (finals.has(index)) {
          irps.delete(id);
          asyncEvent(a, "e", a.name, { status, completedOn: track(thread).name });
        } else asyncEvent(a, "n", "IoCompleteRequest (more processing required)", { status });
        break;
      }
      case "irp.cancel": {
        const id = irpIdOf(e);
        if (id === undefined) break;
        instant(thread, `IoCancelIrp IRP#${id}`, C.irp, { irp: id });
        const a = irps.get(id);
        if (a !== undefined) asyncEvent(a, "n", "IoCancelIrp", { cancelledOn: track(thread).name });
        break;
      }
      case "mrx.enter":
        begin(thread, { name: e.what, cat: C.mrx, key: `mrx ${e.what}` }, d);
        break;
      case "mrx.exit":
        end(thread, `mrx ${e.what}`, d !== undefined && Object.keys(d).length > 0 ? d : undefined);
        break;
      case "ref": {
        const count = num(d?.count);
        const obj = objectKey(e.what);
        if (!withRefs || obj === undefined || count === undefined) break;
        let c = counters.get(obj.key);
        if (c === undefined) {
          c = { name: e.what, kind: obj.kind };
          counters.set(obj.key, c);
          live[obj.kind]++;
          liveCounter();
        }
        counter(c.name, OBJECTS_PID, OBJECTS_PID, C.refs, { refs: count });
        break;
      }
      case "note": {
        instant(thread, e.what, C.rdbss, d);
        if (!withRefs || !e.what.startsWith("free ")) break;
        const obj = objectKey(e.what.slice(5));
        const c = obj === undefined ? undefined : counters.get(obj.key);
        if (obj === undefined || c === undefined) break;
        counters.delete(obj.key);
        counter(c.name, OBJECTS_PID, OBJECTS_PID, C.refs, { refs: 0 });
        live[c.kind]--;
        liveCounter();
        break;
      }
      case "fault":
        instant(thread, `fault ${e.what}`, C.rdbss, d);
        break;
      case "stop": {
        const t = track(thread);
        const args = d ?? {};
        out.push({ name: `STOP ${e.what}`, cat: C.stop, ph: "i", ts, pid: t.pid, tid: t.tid, s: "g", args });
        instant(thread, `STOP ${e.what}`, C.stop, args);
        break;
      }
      case "wake":
        break;
    }
  });

  // The end of the trace closes whatever is still open, deterministically: threads by id, then IRPs, then holds.
  if (stepNs > 0 && events.length > 0) ts = Math.round(lastNs + stepNs) / 1000;
  for (const thread of [...stacks.keys()].sort((a, b) => a - b)) {
    const s = stacks.get(thread) as OpenSlice[];
    while (s.length > 0) endOne(thread, s.pop() as OpenSlice, { unfinished: true });
  }
  for (const id of [...irps.keys()].sort((a, b) => a - b)) {
    const a = irps.get(id) as AsyncSlice;
    asyncEvent(a, "e", a.name, { completed: false });
  }
  for (const h of [...holds.values()].sort((a, b) => a.id - b.id)) asyncEvent(h, "e", h.name, { unfinished: true });

  const meta: ChromeTraceEvent[] = [];
  const pids = new Set<number>([...threads.values()].map((t) => t.pid));
  for (const e of out) pids.add(e.pid);
  processNames.set(OBJECTS_PID, "RDBSS objects");
  for (const pid of [...pids].sort((a, b) => a - b)) {
    meta.push({ name: "process_name", ph: "M", pid, tid: pid, args: { name: processNames.get(pid) ?? `pid ${pid}` } });
    meta.push({ name: "process_sort_index", ph: "M", pid, tid: pid, args: { sort_index: pid } });
  }
  for (const t of [...threads.values()].sort((a, b) => a.pid - b.pid || a.tid - b.tid)) {
    meta.push({ name: "thread_name", ph: "M", pid: t.pid, tid: t.tid, args: { name: t.name } });
    meta.push({ name: "thread_sort_index", ph: "M", pid: t.pid, tid: t.tid, args: { sort_index: t.tid } });
  }

  const trace: ChromeTrace = { traceEvents: [...meta, ...out], displayTimeUnit: "ns" };
  return options.metadata === undefined ? trace : { ...trace, otherData: options.metadata };
}

/** The JSON text of a Chrome trace: one event per line, stable key order (byte-identical for equal traces). */
export function chromeTraceJson(trace: ChromeTrace): string {
  const lines = trace.traceEvents.map((e) => JSON.stringify(e));
  const tail =
    trace.otherData === undefined
      ? `"displayTimeUnit":${JSON.stringify(trace.displayTimeUnit)}`
      : `"displayTimeUnit":${JSON.stringify(trace.displayTimeUnit)},"otherData":${JSON.stringify(trace.otherData)}`;
  return `{"traceEvents":[\n${lines.join(",\n")}\n],${tail}}\n`;
}

/** Write the Chrome trace of `events` to `path` (for `rdbss run --trace OUT.json` and scenario runners). */
export async function writeChromeTrace(
  path: string,
  events: readonly TraceEvent[],
  options: ChromeTraceOptions = {},
): Promise<void> {
  await writeFile(path, chromeTraceJson(toChromeTrace(events, options)), "utf8");
}
