/**
 * Stops: what a Windows bug check would be, plus what a debugger cannot give — a plain-language reason, the
 * emulated call chain, the thread, and (for deadlocks) who waits for what. A stop ends the run cleanly; it is a
 * value in the run's result, never an exception escaping to Node.
 */
import { bugCheckName } from "./bugcodes.js";

export type StopKind =
  /** A real bug check code with four parameters. */
  | "bugcheck"
  /** Every live thread is blocked and nothing can wake any of them. */
  | "deadlock"
  /** A thread awaited something outside the emulated kernel (a real timer, real I/O, a promise never settled). */
  | "hang"
  /** The run exceeded its step or virtual-time budget (a livelock or an unbounded loop of scheduling points). */
  | "limit";

export interface StopThread {
  readonly id: number;
  readonly name: string;
  readonly process: string;
}

export interface WaitEdge {
  /** The blocked thread. */
  readonly thread: StopThread;
  /** What it waits for, in words ("ERESOURCE FcbTable (exclusive)"). */
  readonly waitsFor: string;
  /** Threads that hold what it waits for (empty when nobody owns it, e.g. an event nobody will set). */
  readonly heldBy: readonly StopThread[];
  /**
   * Owners that are not threads, in words: an ERESOURCE handed to an owner pointer ("shared by RX_CONTEXT#13 (owner
   * pointer, since steps[2] t.yaml:8): IRP_MJ_READ, …"). Absent when there are none.
   */
  readonly otherOwners?: readonly string[];
}

/** Who queued the work item a worker thread was running when the run stopped (ExQueueWorkItem's caller). */
export interface StopOrigin {
  readonly thread: StopThread;
  /** Virtual time, 100 ns units. */
  readonly time: number;
  readonly step: string | null;
  /** The queuing thread's call chain at ExQueueWorkItem, outermost first. */
  readonly callChain: readonly string[];
}

export interface KernelStopInit {
  readonly kind: StopKind;
  readonly code: number;
  readonly params?: readonly [bigint, bigint, bigint, bigint];
  readonly name?: string;
  readonly reason: string;
  readonly thread: StopThread | null;
  readonly callChain: readonly string[];
  readonly time: number;
  readonly step: number;
  readonly waits?: readonly WaitEdge[];
  readonly cause?: unknown;
  /** The check that raised it (see the verifier catalogue), when it came from a check. */
  readonly check?: string;
  /** The stop came on a worker: who queued the work item it ran. */
  readonly queuedBy?: StopOrigin;
}

const ZERO4: readonly [bigint, bigint, bigint, bigint] = [0n, 0n, 0n, 0n];

export class KernelStop {
  readonly kind: StopKind;
  readonly code: number;
  readonly params: readonly [bigint, bigint, bigint, bigint];
  readonly name: string;
  readonly reason: string;
  readonly thread: StopThread | null;
  readonly callChain: readonly string[];
  /** Virtual time of the stop, in 100 ns units. */
  readonly time: number;
  readonly step: number;
  readonly waits: readonly WaitEdge[];
  readonly cause: unknown;
  readonly check: string | undefined;
  /** The stop came on a worker thread: who queued the work item it was running (else null). */
  readonly queuedBy: StopOrigin | null;

  constructor(init: KernelStopInit) {
    this.kind = init.kind;
    this.code = init.code;
    this.params = init.params ?? ZERO4;
    this.name = init.name ?? (init.kind === "bugcheck" ? bugCheckName(init.code) : defaultName(init.kind));
    this.reason = init.reason;
    this.thread = init.thread;
    this.callChain = init.callChain;
    this.time = init.time;
    this.step = init.step;
    this.waits = init.waits ?? [];
    this.cause = init.cause;
    this.check = init.check;
    this.queuedBy = init.queuedBy ?? null;
  }

  /** "0x000000E3" */
  get codeHex(): string {
    return hex32(this.code);
  }

  get paramsHex(): readonly string[] {
    return this.params.map(hex64);
  }

  /** A multi-line report in the shape of a debugger's `!analyze` header, with the emulator's extras. */
  format(): string {
    const lines: string[] = [];
    if (this.kind === "bugcheck") {
      lines.push(`*** STOP: ${this.codeHex} (${this.paramsHex.join(", ")}) ${this.name}`);
    } else {
      lines.push(`*** ${this.name}`);
    }
    if (this.thread) {
      lines.push(`Thread ${this.thread.id} "${this.thread.name}" in process "${this.thread.process}"`);
    }
    lines.push(`Virtual time ${formatTime(this.time)}, scheduling step ${this.step}`);
    if (this.check) lines.push(`Check: ${this.check}`);
    lines.push(`Reason: ${this.reason}`);
    if (this.callChain.length > 0) {
      lines.push("Call chain (outermost first):");
      for (const f of this.callChain) lines.push(`  ${f}`);
    }
    const q = this.queuedBy;
    if (q !== null) {
      lines.push(
        `Work item queued by ${threadLabel(q.thread)} at ${formatTime(q.time)}${q.step ? ` (${q.step})` : ""}, call chain:`,
      );
      for (const f of q.callChain) lines.push(`  ${f}`);
    }
    if (this.waits.length > 0) {
      lines.push("Who waits for what:");
      for (const w of this.waits) lines.push(`  ${threadLabel(w.thread)} waits for ${w.waitsFor}${heldText(w)}`);
    }
    if (this.cause instanceof Error && this.cause.stack) {
      lines.push("Exception:");
      for (const l of this.cause.stack.split("\n").slice(0, 8)) lines.push(`  ${l}`);
    }
    return lines.join("\n");
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      code: this.codeHex,
      name: this.name,
      params: this.paramsHex,
      reason: this.reason,
      thread: this.thread,
      callChain: this.callChain,
      time: this.time,
      step: this.step,
      waits: this.waits,
      check: this.check,
      queuedBy: this.queuedBy ?? undefined,
      cause: this.cause instanceof Error ? { message: this.cause.message, stack: this.cause.stack } : undefined,
    };
  }
}

/**
 * Thrown inside the emulated thread that hit a stop, to unwind it. The run has already ended when this is
 * thrown: even if driver code catches it, the scheduler never resumes any thread again.
 */
export class BugCheckError extends Error {
  readonly stop: KernelStop;
  constructor(stop: KernelStop) {
    super(`${stop.name}: ${stop.reason}`);
    this.name = "BugCheckError";
    this.stop = stop;
  }
}

/** Misuse of the emulator's own API from outside an emulated thread (a test harness error, not a driver bug). */
export class EmulatorUsageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "EmulatorUsageError";
    this.code = code;
  }
}

function defaultName(kind: StopKind): string {
  switch (kind) {
    case "deadlock":
      return "DEADLOCK";
    case "hang":
      return "HANG";
    case "limit":
      return "RUN_LIMIT_EXCEEDED";
    default:
      return "BUGCHECK";
  }
}

function threadLabel(t: StopThread): string {
  return `thread ${t.id} "${t.name}"`;
}

/** " held by thread 3 "x"; held shared by RX_CONTEXT#13 (owner pointer …)", or " (no owner)". */
function heldText(w: WaitEdge): string {
  const held: string[] = [];
  if (w.heldBy.length > 0) held.push(`held by ${w.heldBy.map(threadLabel).join(", ")}`);
  for (const o of w.otherOwners ?? []) held.push(`held ${o}`);
  return held.length > 0 ? ` ${held.join("; ")}` : " (no owner)";
}

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
}

export function hex64(n: bigint): string {
  return `0x${BigInt.asUintN(64, n).toString(16).toUpperCase().padStart(16, "0")}`;
}

/** Virtual time (100 ns units) as seconds with microsecond precision. */
export function formatTime(ticks: number): string {
  return `${(ticks / 1e7).toFixed(6)} s`;
}
