/**
 * The event stream of a run. Recording is off unless asked for (tests, `--trace`, exploration fingerprints);
 * when off, every emit site is a single boolean test. Events are plain data so that two runs can be compared
 * byte for byte and exported (Perfetto, Graphviz) later.
 */
import { channel } from "node:diagnostics_channel";

/**
 * What happened. The payloads the exporters rely on: thread.create {id, process, pid}; lock.acquire / lock.release
 * {type, mode, owner: thread id, or -1 for an ERESOURCE owner pointer; `to` on a FAST_MUTEX hand-over};
 * irp.dispatch {irp, device} when IoCallDriver calls a dispatch routine and irp.return {irp, status} when it
 * returns; irp.complete / irp.cancel name "IRP#id"; work.run / work.done bracket a work item on its worker;
 * mrx.enter {target, device, irp} / mrx.exit {status} bracket an MRx call; ref {count} is a new
 * NodeReferenceCount of the RDBSS structure named by `what`; note "free <label>" is RDBSS freeing one; fault
 * {hit, spec, effect, detail} is an injected fault at the site named by `what` (emulator/faults).
 */
export type TraceKind =
  | "thread.create"
  | "thread.exit"
  | "switch"
  | "wait"
  | "wake"
  | "yield"
  | "irql"
  | "lock.acquire"
  | "lock.release"
  | "dpc"
  | "timer"
  | "clock"
  | "work.queue"
  | "work.run"
  | "work.done"
  | "irp.dispatch"
  | "irp.return"
  | "irp.complete"
  | "irp.cancel"
  | "mrx.enter"
  | "mrx.exit"
  | "ref"
  | "stop"
  | "fault"
  | "note";

export interface TraceEvent {
  /** Sequence number within the run. */
  readonly seq: number;
  /** Virtual time, 100 ns units. */
  readonly time: number;
  /** Id of the emulated thread that was running (0 for DPC context). */
  readonly thread: number;
  readonly kind: TraceKind;
  /** A short subject: an object name, a DDI, an IRP major function. */
  readonly what: string;
  /** Optional small payload (numbers and strings only, so traces serialize deterministically). */
  readonly data?: Readonly<Record<string, string | number | boolean>>;
}

/** Published for every event while somebody subscribes (tests, live tracers); free when nobody listens. */
export const traceChannel = channel("rdbss:trace");

export class Trace {
  enabled: boolean;
  readonly events: TraceEvent[] = [];
  private seq = 0;

  constructor(enabled = false) {
    this.enabled = enabled;
  }

  emit(
    time: number,
    thread: number,
    kind: TraceKind,
    what: string,
    data?: Readonly<Record<string, string | number | boolean>>,
  ): void {
    const ev: TraceEvent =
      data === undefined
        ? { seq: this.seq++, time, thread, kind, what }
        : { seq: this.seq++, time, thread, kind, what, data };
    if (this.enabled) this.events.push(ev);
    if (traceChannel.hasSubscribers) traceChannel.publish(ev);
  }

  /** Whether any consumer wants events (recording or a channel subscriber). Call sites test this first. */
  get active(): boolean {
    return this.enabled || traceChannel.hasSubscribers;
  }

  /** One line per event; the canonical text form used to compare runs. */
  lines(): string[] {
    return this.events.map(formatEvent);
  }
}

export function formatEvent(e: TraceEvent): string {
  const data = e.data ? ` ${JSON.stringify(e.data)}` : "";
  return `${e.seq} t=${e.time} T${e.thread} ${e.kind} ${e.what}${data}`;
}
