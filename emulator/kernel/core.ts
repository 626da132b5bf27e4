/**
 * The emulated kernel's core: processes, threads, the deterministic scheduler, the virtual clock with its timer
 * queue, DPCs, stops and checks. Only one emulated thread runs at a time; control changes hands only at
 * scheduling points, so a run is a pure function of (program, seed, strategy) and can be replayed from the
 * recorded choice list.
 */
import type { FaultInjector } from "../faults/index.js";
import { Trace, type TraceKind } from "../trace/events.js"; // not the index: it loads pino and the exporters
import { BUGCHECK } from "./bugcodes.js";
import { DISPATCH_LEVEL, irqlName, PASSIVE_LEVEL } from "./irql.js";
import type { DispatcherObject, WaitBlock, WaitReason } from "./object.js";
import { Prng } from "./prng.js";
import { BugCheckError, EmulatorUsageError, KernelStop, type StopKind, type WaitEdge } from "./stop.js";
import {
  FifoStrategy,
  makeStrategy,
  type PickContext,
  RandomStrategy,
  type SchedulingStrategy,
  type StrategyName,
} from "./strategy.js";
import { KProcess, KThread, type ThreadEntry, ThreadState } from "./thread.js";
import { type TimerEntry, TimerQueue } from "./timers.js";
import type { Witness } from "./witness.js";

/** How a check reacts to a violation: stop the run (a bug check), record it and go on, or ignore it. */
export type CheckMode = "stop" | "record" | "off";

/** Kernel-level checks; higher layers (RDBSS, the verifier) register more names. */
export const KERNEL_CHECKS = {
  irql: "A DDI called above its maximum IRQL, a wait at DISPATCH_LEVEL or above, IRQL raise/lower misuse, pool and pageable memory touched above their IRQL.",
  locks: "Lock ownership and mode rules: non-owner release, recursive non-recursive locks, self-deadlock.",
  deadlock: "Every live thread blocked with nothing that can wake one of them.",
  threadExit: "A thread ending at raised IRQL, inside a critical region, or holding locks.",
  systemService: "A system service returning to user mode at raised IRQL, in a critical region, or holding locks.",
  lockOrder:
    "Lock order: a waiting acquisition against the declared ranks (setLockRank), and the lockdep-style graph over lock classes (ERESOURCE, FAST_MUTEX, KMUTEX, spin locks) reporting the first cycle, before it can deadlock.",
  workItem: "Work-queue protocol: re-queuing a queued item, a worker returning at raised IRQL.",
  pool: "Pool misuse (Driver Verifier's pool tracking and special pool): a block freed twice, freed with another tag, an address no allocation returned, a zero-byte allocation, a freed block read or written, a driver unloading with its blocks still allocated.",
} as const;

export interface KernelOptions {
  /** Seed for the random strategy and every other seeded choice (fault injection …). Default 1. */
  readonly seed?: number | string;
  /** "fifo" (default), "random", or a strategy object (replay, PCT, DFS …). */
  readonly strategy?: StrategyName | SchedulingStrategy;
  /** Record the event trace. */
  readonly trace?: boolean;
  /** Stop with RUN_LIMIT_EXCEEDED after this many scheduling steps. Default 5,000,000. */
  readonly maxSteps?: number;
  /** Stop with RUN_LIMIT_EXCEEDED when virtual time would pass this (100 ns units). Default 1 day. */
  readonly maxTime?: number;
  /** Per-check modes; unspecified checks stop. */
  readonly checks?: Readonly<Record<string, CheckMode>>;
}

export interface RunResult {
  /** "idle": every live thread is idle-waiting and nothing is ready; "stopped": see `stop`. */
  readonly outcome: "idle" | "stopped";
  readonly stop: KernelStop | null;
  /** Violations recorded by checks in "record" mode. */
  readonly violations: readonly KernelStop[];
  /** Errors thrown by user-mode test threads (not bug checks). */
  readonly threadErrors: readonly { thread: string; error: unknown }[];
  readonly steps: number;
  readonly time: number;
  /** The recorded scheduling choices (indices), for replay. */
  readonly choices: readonly number[];
}

/** A deferred procedure call (KDPC). The routine runs at DISPATCH_LEVEL and must not wait. */
/** A value, or the promise of one when something waits (routines that are synchronous unless they block). */
export type MaybePromise<T> = T | Promise<T>;

export class KDPC {
  readonly name: string;
  readonly routine: (dpc: KDPC, context: unknown, arg1: unknown, arg2: unknown) => void;
  readonly context: unknown;
  queued = false;
  arg1: unknown = undefined;
  arg2: unknown = undefined;
  /** The DPC thread's frame while the routine runs (made once, not per run). */
  readonly frame: string;
  /** The driver whose code initialized the DPC (KThread.driver): the routine runs for it. */
  readonly driver: string | null;
  constructor(routine: KDPC["routine"], context: unknown, name: string, driver: string | null = null) {
    this.routine = routine;
    this.context = context;
    this.name = name;
    this.frame = `DPC ${name}`;
    this.driver = driver;
  }
}

/**
 * The thread being parked on a new promise: `park`, the promises' executor, stores the promise's resolver in it. One
 * function for every wait (the Promise constructor calls its executor at once), not a closure per wait.
 */
let parking: KThread | null = null;
function park(resolve: (value: number) => void): void {
  (parking as KThread).resume = resolve as (result: unknown) => void;
  parking = null;
}

const DEFAULT_MAX_STEPS = 5_000_000;
const ONE_DAY = 864_000_000_000;

export class KernelCore {
  readonly seed: number | string;
  readonly prng: Prng;
  readonly strategy: SchedulingStrategy;
  readonly trace: Trace;
  /** The fault plan (emulator/faults), or null: every fault site tests this once and goes on when it is null. */
  faults: FaultInjector | null = null;
  /** Virtual time in 100 ns units since boot. */
  now = 0;
  /** The running thread (or the DPC pseudo-thread while DPCs run); null between runs. */
  current: KThread | null = null;
  /**
   * The driver whose code is running (the running thread's KThread.driver), or null: what a thread, DPC, work item
   * or pool block made now is charged to.
   */
  get runningDriver(): string | null {
    return this.current !== null ? this.current.driver : null;
  }
  readonly systemProcess: KProcess;
  /** Pseudo-thread representing DPC context. */
  readonly dpcThread: KThread;
  readonly choices: number[] = [];
  steps = 0;
  readonly maxSteps: number;
  readonly maxTime: number;
  readonly violations: KernelStop[] = [];
  readonly threadErrors: { thread: string; error: unknown }[] = [];

  private readonly ready: KThread[] = [];
  private readonly threads: KThread[] = [];
  private readonly processes: KProcess[] = [];
  private readonly dpcQueue: KDPC[] = [];
  readonly timers = new TimerQueue();
  private liveThreads = 0;
  private idleWaiters = 0;
  private nextThreadId = 1;
  private nextProcessId = 8;
  private stopInfo: KernelStop | null = null;
  /**
   * Called with an exception that nothing handled, before its bug check (0x1E / 0x7E): a checker above the kernel
   * (RDBSS's verifier) may name the rule it breaks. A violation it raises in stop mode becomes the stop instead.
   */
  unhandledExceptionObserver: ((t: KThread, error: unknown) => void) | null = null;
  private runState: "idle" | "running" | "stopped" = "idle";
  private runToken = 0;
  private resolveRun: ((r: RunResult) => void) | null = null;
  /** The pending hang check of the current run (see `run`). */
  private hangCheck: ReturnType<typeof setImmediate> | null = null;
  private decision = 0;
  private readonly checkModes = new Map<string, CheckMode>();
  /** Hot-path check switches. */
  checkIrql = true;
  checkLocks = true;
  /** The lock-order graph (check "lockOrder") is on. */
  checkLockGraph = true;
  /** The scenario step most recently started on any thread (set by the scenario runner), for reports. */
  stepLabel: string | null = null;
  private readonly addresses = new WeakMap<object, bigint>();
  private nextAddress = 0xffffa00000100000n;
  private readonly pick: MutablePickContext;

  constructor(options: KernelOptions = {}) {
    this.seed = options.seed ?? 1;
    this.prng = new Prng(this.seed);
    const s = options.strategy ?? "fifo";
    this.strategy = typeof s === "string" ? makeStrategy(s, this.seed) : s;
    this.trace = new Trace(options.trace ?? false);
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.maxTime = options.maxTime ?? ONE_DAY;
    for (const [k, v] of Object.entries(options.checks ?? {})) this.setCheck(k, v);
    this.systemProcess = new KProcess(4, "System", true);
    this.processes.push(this.systemProcess);
    this.dpcThread = new KThread(0, "DPC", this.systemProcess, () => undefined, true);
    this.dpcThread.irql = DISPATCH_LEVEL;
    this.dpcThread.state = ThreadState.Running;
    this.pick = new MutablePickContext(this.ready);
  }

  // ---------------------------------------------------------------- checks

  setCheck(check: string, mode: CheckMode): void {
    this.checkModes.set(check, mode);
    if (check === "irql") this.checkIrql = mode !== "off";
    if (check === "locks") this.checkLocks = mode !== "off";
    if (check === "lockOrder") this.checkLockGraph = mode !== "off";
  }

  /** Declare a check's default mode: applies unless a mode was set for it explicitly (before or after). */
  setCheckDefault(check: string, mode: CheckMode): void {
    if (!this.checkModes.has(check)) this.setCheck(check, mode);
  }

  checkMode(check: string): CheckMode {
    return this.checkModes.get(check) ?? "stop";
  }

  /**
   * A check found a violation. In "stop" mode this is a bug check (never returns); in "record" mode the
   * violation is kept in the run's report and execution goes on; in "off" mode nothing happens.
   */
  violation(check: string, code: number, params: readonly [bigint, bigint, bigint, bigint], reason: string): void {
    const mode = this.checkMode(check);
    if (mode === "off") return;
    const stop = this.makeStop("bugcheck", code, params, reason, check);
    if (mode === "record") {
      this.violations.push(stop);
      return;
    }
    this.raiseStop(stop);
  }

  /**
   * Pageable memory touched above APC_LEVEL (switch "irql"): 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL for `address`, with
   * `access` 0 (read), 1 (write) or 8 (execute: the faulting instruction is then the address itself). The reason is
   * `subject` at the IRQL, `where`, then `rule` (what may run or be touched only at APC_LEVEL or below) and `advice`.
   */
  pageableAtRaisedIrql(
    t: KThread,
    address: bigint,
    access: 0n | 1n | 8n,
    subject: string,
    where: string,
    rule: string,
    advice: string,
  ): void {
    this.violation(
      "irql",
      BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL,
      [address, BigInt(t.irql), access, access === 8n ? address : 0n],
      `${subject} at ${irqlName(t.irql)}${t.isDpcContext ? " (in a DPC)" : ""}${where}: ${rule} only at APC_LEVEL or below — above it a page fault cannot be served, and Windows stops with 0xD1 whenever the page happens to be out. ${advice}`,
    );
  }

  /** KeBugCheckEx: stop the run. Never returns. */
  bugCheck(code: number, params: readonly [bigint, bigint, bigint, bigint], reason: string, check?: string): never {
    this.raiseStop(this.makeStop("bugcheck", code, params, reason, check));
  }

  /** The stop that ended the run, if any. */
  get stopped(): KernelStop | null {
    return this.stopInfo;
  }

  private makeStop(
    kind: StopKind,
    code: number,
    params: readonly [bigint, bigint, bigint, bigint] | undefined,
    reason: string,
    check?: string,
    extra?: { waits?: WaitEdge[]; cause?: unknown; thread?: KThread | null },
  ): KernelStop {
    const t = extra?.thread !== undefined ? extra.thread : this.current;
    const q = t?.queuedBy ?? null;
    return new KernelStop({
      kind,
      code,
      ...(params ? { params } : {}),
      reason,
      thread: t ? t.label() : null,
      callChain: t ? [...t.frames] : [],
      time: this.now,
      step: this.steps,
      ...(extra?.waits ? { waits: extra.waits } : {}),
      ...(extra?.cause !== undefined ? { cause: extra.cause } : {}),
      ...(check ? { check } : {}),
      ...(q !== null ? { queuedBy: { thread: q.thread.label(), time: q.time, step: q.step, callChain: q.chain } } : {}),
    });
  }

  private raiseStop(stop: KernelStop): never {
    if (this.stopInfo === null) {
      this.stopInfo = stop;
      if (this.trace.active) this.emit("stop", stop.name, { code: stop.code, reason: stop.reason });
      this.finish();
    }
    throw new BugCheckError(this.stopInfo);
  }

  /** Stop for an exception thrown by driver code running in kernel mode. */
  exceptionStop(t: KThread, error: unknown): void {
    if (this.stopInfo !== null) return;
    if (this.unhandledExceptionObserver !== null) {
      try {
        this.unhandledExceptionObserver(t, error);
      } catch (e) {
        if (!(e instanceof BugCheckError)) throw e;
      }
      if (this.stopInfo !== null) return;
    }
    const code =
      t.process.isSystem || t.isDpcContext
        ? BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED
        : BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED;
    const exCode = error instanceof TypeError || error instanceof RangeError ? 0xc0000005n : 0xe0000001n;
    const msg = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const stop = this.makeStop(
      "bugcheck",
      code,
      [exCode, 0n, 0n, 0n],
      `Driver code threw an exception that nothing handled (${msg}). In Windows this is ${
        exCode === 0xc0000005n ? "an access violation (0xC0000005)" : "an unhandled software exception"
      } in kernel mode.`,
      undefined,
      { cause: error, thread: t },
    );
    this.stopInfo = stop;
    if (this.trace.active) this.emit("stop", stop.name, { code: stop.code, reason: stop.reason });
    this.finish();
  }

  /** A deterministic fake kernel address for an object, for bug-check parameters. */
  addressOf(obj: object): bigint {
    let a = this.addresses.get(obj);
    if (a === undefined) {
      a = this.nextAddress;
      this.nextAddress += 0x100n;
      this.addresses.set(obj, a);
    }
    return a;
  }

  // ---------------------------------------------------------------- DDI entry

  /**
   * Enter a DDI: check the caller's IRQL against the DDI's maximum and push the call-chain frame. Pair with
   * `leave`. Returns the calling thread.
   */
  enter(name: string, maxIrql: number): KThread {
    const t = this.current;
    if (t === null) throw this.outsideThread(name);
    t.frames.push(name);
    if (t.irql > maxIrql && this.checkIrql) this.irqlTooHigh(t, name, maxIrql);
    return t;
  }

  leave(t: KThread): void {
    t.frames.pop();
  }

  /** Who is running, when, at which step and in which call chain: a record for a report that may come later. */
  witness(t: KThread): Witness {
    return { thread: t, time: this.now, step: t.stepLabel ?? this.stepLabel, chain: t.callChain() };
  }

  /** The running thread; throws a usage error when called outside any emulated thread. */
  thread(name = "this call"): KThread {
    const t = this.current;
    if (t === null) throw this.outsideThread(name);
    return t;
  }

  outsideThread(name: string): EmulatorUsageError {
    return new EmulatorUsageError(
      "NOT_IN_THREAD",
      `${name} must be called from an emulated thread (kernel.createThread / run), not from plain JavaScript.`,
    );
  }

  irqlTooHigh(t: KThread, name: string, maxIrql: number): void {
    this.violation(
      "irql",
      BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
      [0n, BigInt(t.irql), 0n, 0n],
      `${name} was called at ${irqlName(t.irql)}, but it may only be called at ${irqlName(maxIrql)} or below.`,
    );
  }

  // ---------------------------------------------------------------- processes and threads

  /** A user process; `token` is the user it runs as (default credentials for network redirectors). */
  createProcess(name: string, token: KProcess["token"] = null): KProcess {
    const p = new KProcess(this.nextProcessId, name, false);
    p.token = token;
    this.nextProcessId += 4;
    this.processes.push(p);
    return p;
  }

  get allProcesses(): readonly KProcess[] {
    return this.processes;
  }

  get allThreads(): readonly KThread[] {
    return this.threads;
  }

  /**
   * Create a thread in `process` that runs `entry`. It becomes ready at once and runs when the scheduler picks
   * it (within `run()`).
   */
  createThread(process: KProcess, name: string, entry: ThreadEntry): KThread {
    if (this.stopInfo !== null) throw new BugCheckError(this.stopInfo);
    const t = new KThread(this.nextThreadId++, name, process, entry);
    // A thread made by driver code runs that driver's code.
    t.driver = this.runningDriver;
    this.threads.push(t);
    this.liveThreads++;
    // Through a local, not `t.resume = () => …`: V8's parser allocates a function literal assigned straight to a
    // property in the OLD generation (it guesses "a method, long-lived"). Such a closure dies with its run but
    // stays until the next full GC, and through its context it keeps the kernel and everything reachable from it
    // alive across every young-generation GC in between: each finished run was promoted whole (≈ 100 KB per
    // lifecycle run). The same holds for every closure assigned to a property per run or per IRP (irp.finalizer,
    // MajorFunction[i], LowIo tables, DriverUnload …): they go through a local too.
    const start = () => queueMicrotask(() => void this.runThread(t));
    t.resume = start;
    t.state = ThreadState.Ready;
    this.ready.push(t);
    this.strategy.onThreadCreated?.(t);
    if (this.trace.active) this.emit("thread.create", name, { id: t.id, process: process.name, pid: process.id });
    return t;
  }

  private async runThread(t: KThread): Promise<void> {
    try {
      await t.entry(t);
    } catch (e) {
      if (e instanceof BugCheckError || this.stopInfo !== null) return;
      if (t.kernelDepth === 0 && !t.process.isSystem) {
        t.error = e;
        this.threadErrors.push({ thread: t.name, error: e });
      } else {
        this.exceptionStop(t, e);
        return;
      }
    }
    if (this.stopInfo !== null) return;
    try {
      this.exitThread(t);
    } catch (e) {
      if (!(e instanceof BugCheckError)) this.exceptionStop(t, e);
    }
  }

  /** Hook for the exit checks (held locks …), overridden by the full kernel. */
  protected checkThreadExit(_t: KThread): void {}

  /** Called for every thread that ends, before it is marked terminated (the I/O manager cancels its IRPs). */
  readonly onThreadExit: ((t: KThread) => void)[] = [];

  private exitThread(t: KThread): void {
    for (const f of this.onThreadExit) f(t);
    this.checkThreadExit(t);
    t.state = ThreadState.Terminated;
    this.liveThreads--;
    if (this.trace.active) this.emit("thread.exit", t.name);
    this.signalObject(t);
    if (this.current === t) this.dispatchNext();
  }

  // ---------------------------------------------------------------- scheduling

  /**
   * A scheduling point where the running thread stays runnable. Returns undefined when it keeps running (always,
   * under a non-preemptive strategy or when nothing else is ready), else a promise to await.
   */
  schedulePoint(label: string): Promise<number> | undefined {
    if (this.stopInfo !== null) throw new BugCheckError(this.stopInfo);
    const t = this.current;
    if (t === null || t.isDpcContext || t.irql >= DISPATCH_LEVEL) return undefined;
    if (++this.steps > this.maxSteps) this.limitStop();
    if (this.dpcQueue.length > 0) this.drainDpcs();
    if (this.ready.length === 0 || !this.strategy.preemptive) return undefined;
    const idx = this.choose(label, true);
    if (idx === 0) return undefined;
    return this.switchAway(t, idx - 1, label);
  }

  /** KeYieldThread / ZwYieldExecution: give up the processor to the next ready thread, even under FIFO. */
  yieldThread(label = "KeYieldThread"): Promise<number> | undefined {
    if (this.stopInfo !== null) throw new BugCheckError(this.stopInfo);
    const t = this.current;
    if (t === null || t.isDpcContext || t.irql >= DISPATCH_LEVEL) return undefined;
    if (++this.steps > this.maxSteps) this.limitStop();
    if (this.dpcQueue.length > 0) this.drainDpcs();
    if (this.ready.length === 0) return undefined;
    const idx = this.ready.length > 1 ? this.choose(label, false) : 0;
    return this.switchAway(t, idx, label);
  }

  private switchAway(t: KThread, readyIndex: number, label: string): Promise<number> {
    const next = this.takeReady(readyIndex);
    t.state = ThreadState.Ready;
    this.ready.push(t);
    if (this.trace.active) this.emit("yield", label);
    parking = t;
    const p = new Promise<number>(park);
    this.switchTo(next);
    return p;
  }

  /**
   * Park the running thread until `readyThread` is called for it; resolves with the wait status. `idle` marks
   * a wait that does not keep a run alive (a worker waiting for work).
   */
  block(reason: WaitReason, idle = false, irqlChecked = false): Promise<number> {
    if (this.stopInfo !== null) throw new BugCheckError(this.stopInfo);
    const t = this.current;
    if (t === null) throw this.outsideThread("a wait");
    if (!irqlChecked && this.checkIrql && (t.isDpcContext || t.irql >= DISPATCH_LEVEL)) {
      this.violation(
        "irql",
        BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
        [0n, BigInt(t.irql), 0n, 0n],
        `A thread tried to wait (on ${reason.describe()}) at ${irqlName(t.irql)}. Waiting is only allowed below DISPATCH_LEVEL: the processor cannot switch threads at this level.`,
      );
    }
    if (++this.steps > this.maxSteps) this.limitStop();
    t.state = ThreadState.Waiting;
    t.waitReason = reason;
    t.idleWait = idle;
    if (idle) this.idleWaiters++;
    if (this.trace.active) this.emit("wait", reason.describe());
    parking = t;
    const p = new Promise<number>(park);
    this.dispatchNext();
    return p;
  }

  /** Make a waiting thread ready with `status` as its wait result. */
  readyThread(t: KThread, status: number): void {
    if (t.state !== ThreadState.Waiting) return;
    t.state = ThreadState.Ready;
    t.waitStatus = status;
    t.waitReason = null;
    if (t.idleWait) {
      t.idleWait = false;
      this.idleWaiters--;
    }
    this.ready.push(t);
    if (this.trace.active) this.emit("wake", t.name, { id: t.id, status });
  }

  private choose(label: string, includesCurrent: boolean): number {
    const ctx = this.pick;
    ctx.includesCurrent = includesCurrent;
    ctx.current = includesCurrent ? this.current : null;
    ctx.count = this.ready.length + (includesCurrent ? 1 : 0);
    ctx.point = label;
    ctx.decision = this.decision++;
    let idx = this.strategy.pick(ctx);
    if (!(idx >= 0 && idx < ctx.count)) idx = 0;
    this.choices.push(idx);
    return idx;
  }

  private takeReady(i: number): KThread {
    return (i === 0 ? this.ready.shift() : this.ready.splice(i, 1)[0]) as KThread;
  }

  private switchTo(next: KThread): void {
    const prev = this.current;
    this.current = next;
    next.state = ThreadState.Running;
    if (this.trace.active && prev !== next) this.emit("switch", next.name, { id: next.id });
    const r = next.resume as (result: unknown) => void;
    next.resume = null;
    if (next.popFrameOnResume) {
      next.popFrameOnResume = false;
      next.frames.pop();
    }
    if (next.resumeWithEntry) {
      next.resumeWithEntry = false;
      const e = next.queueEntry;
      next.queueEntry = undefined;
      r(e);
    } else r(next.waitStatus);
  }

  /** The running thread cannot continue: run DPCs and due timers, then the next ready thread, or end the run. */
  private dispatchNext(): void {
    for (;;) {
      if (this.stopInfo !== null) return;
      if (this.timers.peekDue() <= this.now) this.fireDueTimers();
      if (this.dpcQueue.length > 0) this.drainDpcs();
      const n = this.ready.length;
      if (n > 0) {
        const idx = n > 1 ? this.choose("dispatch", false) : 0;
        this.switchTo(this.takeReady(idx));
        return;
      }
      this.current = null;
      if (this.liveThreads - this.idleWaiters <= 0) {
        this.finish();
        return;
      }
      const due = this.timers.peekDue();
      if (due !== Number.POSITIVE_INFINITY) {
        if (due > this.maxTime) {
          this.stopInfo = this.timeLimitStop();
          this.finish();
          return;
        }
        this.now = due;
        if (this.trace.active) this.emit("clock", "advance", { now: due });
        continue;
      }
      this.stopInfo = this.deadlockStop();
      if (this.trace.active) this.emit("stop", "DEADLOCK");
      this.finish();
      return;
    }
  }

  private limitStop(): never {
    this.raiseStop(
      this.makeStop(
        "limit",
        0,
        undefined,
        `The run took more than ${this.maxSteps} scheduling steps: a livelock, or a loop that never blocks.`,
      ),
    );
  }

  /**
   * Virtual time would pass the run's limit. Reached here, no thread was ready: every live thread was blocked and only
   * timers kept the clock going — a deadlock that a periodic timer (a keep-alive, a scavenger) hides from the
   * deadlock check, or a wait for something that never comes. The stop carries who waits for what, as a deadlock's
   * does, and names a lock cycle when there is one.
   */
  private timeLimitStop(): KernelStop {
    const { waits, cycle } = this.waitGraph();
    const limit = `Virtual time would pass the run's limit (${this.maxTime / 1e7} s)`;
    if (waits.length === 0) return this.makeStop("limit", 0, undefined, `${limit}.`);
    const why = cycle
      ? `, and ${cycle.map((t) => `"${t.name}"`).join(" → ")} → "${(cycle[0] as KThread).name}" each wait for a lock the next one holds: a deadlock, which the pending timers hid from the deadlock check.`
      : `, with every thread blocked and only timers running: likely a deadlock (or a wait for something that never comes) that a periodic timer hides from the deadlock check.`;
    return this.makeStop("limit", 0, undefined, `${limit}${why}`, undefined, { waits, thread: null });
  }

  /** Who waits for what, and the first cycle of lock waits (null when none). */
  private waitGraph(): { waits: WaitEdge[]; cycle: KThread[] | null } {
    const waits: WaitEdge[] = [];
    for (const t of this.threads) {
      if (t.state !== ThreadState.Waiting || t.idleWait || t.waitReason === null) continue;
      const others = t.waitReason.otherOwners?.() ?? [];
      waits.push({
        thread: t.label(),
        waitsFor: t.waitReason.describe(),
        heldBy: t.waitReason.owners().map((o) => o.label()),
        ...(others.length > 0 ? { otherOwners: others } : {}),
      });
    }
    return { waits, cycle: findCycle(this.threads) };
  }

  private deadlockStop(): KernelStop {
    const { waits, cycle } = this.waitGraph();
    const reason = cycle
      ? `Deadlock: ${cycle.map((t) => `"${t.name}"`).join(" → ")} → "${(cycle[0] as KThread).name}" each wait for a lock the next one holds.`
      : `Every live thread is blocked and nothing can wake any of them (no timer is pending, no thread is ready).`;
    return this.makeStop("deadlock", 0, undefined, reason, "deadlock", { waits, thread: null });
  }

  // ---------------------------------------------------------------- dispatcher-object waits

  /**
   * Wake the waiters an object now satisfies, in arrival order, until it stops being signaled.
   */
  signalObject(obj: DispatcherObject): void {
    const list = obj.waitList;
    let i = 0;
    while (i < list.length) {
      const wb = list[i] as WaitBlock;
      if (!wb.waitAll) {
        if (obj.isSignaledFor(wb.thread)) {
          const extra = obj.acquireFor(wb.thread);
          this.completeWait(wb, wb.indexOf(obj) + extra);
          continue;
        }
      } else if (wb.objects.every((o) => o.isSignaledFor(wb.thread))) {
        let extra = 0;
        for (const o of wb.objects) extra |= o.acquireFor(wb.thread);
        this.completeWait(wb, extra);
        continue;
      }
      i++;
    }
  }

  completeWait(wb: WaitBlock, status: number): void {
    wb.satisfied = true;
    for (let k = 0, n = wb.count; k < n; k++) {
      const list = wb.objectAt(k).waitList;
      const j = list.indexOf(wb);
      if (j < 0) continue;
      // Taken out in place (splice would allocate the array of removed entries on every wake).
      if (j === 0) list.shift();
      else {
        for (let i = j + 1; i < list.length; i++) list[i - 1] = list[i] as WaitBlock;
        list.length--;
      }
    }
    if (wb.timeout) this.timers.cancel(wb.timeout as TimerEntry);
    this.readyThread(wb.thread, status);
  }

  // ---------------------------------------------------------------- DPCs and timers

  queueDpc(dpc: KDPC, arg1: unknown, arg2: unknown): boolean {
    if (dpc.queued) return false;
    dpc.queued = true;
    dpc.arg1 = arg1;
    dpc.arg2 = arg2;
    this.dpcQueue.push(dpc);
    return true;
  }

  removeDpc(dpc: KDPC): boolean {
    if (!dpc.queued) return false;
    dpc.queued = false;
    const i = this.dpcQueue.indexOf(dpc);
    if (i >= 0) this.dpcQueue.splice(i, 1);
    return true;
  }

  /** Run every queued DPC at DISPATCH_LEVEL, in the DPC pseudo-thread. */
  drainDpcs(): void {
    if (this.stopInfo !== null) return;
    const saved = this.current;
    this.current = this.dpcThread;
    // Emptied by popping: writing an array's length is a runtime call, and this runs for every DPC.
    const frames = this.dpcThread.frames;
    try {
      while (this.dpcQueue.length > 0 && this.stopInfo === null) {
        const d = this.dpcQueue.shift() as KDPC;
        d.queued = false;
        if (this.trace.active) this.emit("dpc", d.name);
        while (frames.length > 0) frames.pop();
        frames.push(d.frame);
        this.dpcThread.irql = DISPATCH_LEVEL;
        this.dpcThread.driver = d.driver;
        let r: unknown;
        try {
          r = d.routine(d, d.context, d.arg1, d.arg2);
        } catch (e) {
          if (e instanceof BugCheckError) throw e;
          this.exceptionStop(this.dpcThread, e);
          throw new BugCheckError(this.stopped as KernelStop);
        }
        if (r !== undefined && typeof (r as { then?: unknown }).then === "function") {
          this.violation(
            "irql",
            BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
            [0n, BigInt(DISPATCH_LEVEL), 0n, 0n],
            `DPC routine ${d.name} returned a promise: a DPC runs at DISPATCH_LEVEL and cannot wait or be async.`,
          );
        }
        if (this.dpcThread.held.length > 0) {
          this.violation(
            "locks",
            BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
            [0n, 0n, 0n, 0n],
            `DPC routine ${d.name} returned holding ${this.dpcThread.held.map((h) => `${h.lock.lockType} "${h.lock.name}"`).join(", ")}.`,
          );
        }
        while (frames.length > 0) frames.pop();
      }
    } finally {
      this.dpcThread.driver = null;
      this.current = saved;
    }
  }

  /** Add a timer entry at absolute virtual time `due`. */
  addTimer(due: number, fire: () => void): TimerEntry {
    return this.timers.add(due, fire);
  }

  /** Fire every timer entry due at or before now. */
  fireDueTimers(): void {
    for (;;) {
      const e = this.timers.popDue(this.now);
      if (e === undefined) return;
      if (this.trace.active) this.emit("timer", "expire", { due: e.due });
      e.fire();
    }
  }

  /** Convert an NT due time (negative: relative, in 100 ns; positive: absolute) to an absolute time. */
  absoluteDue(dueTime: number): number {
    return dueTime < 0 ? this.now - dueTime : Math.max(dueTime, this.now);
  }

  // ---------------------------------------------------------------- running

  /**
   * Run until every live thread is idle-waiting (or there are none) with nothing ready, or until a stop. Can
   * be called again after creating more threads. Never rejects for driver bugs: they are in the result.
   */
  run(): Promise<RunResult> {
    if (this.stopInfo !== null) return Promise.resolve(this.result());
    if (this.runState === "running") {
      return Promise.reject(new EmulatorUsageError("ALREADY_RUNNING", "run() called while the kernel is running."));
    }
    this.runState = "running";
    const token = ++this.runToken;
    const p = new Promise<RunResult>((res) => {
      this.resolveRun = res;
    });
    // Everything in the emulated kernel progresses through microtasks. If the macrotask queue gets a turn
    // while the run is still going, a thread is waiting on something outside the kernel: a hang. The check is
    // cleared when the run ends: a caller running many emulators back to back without yielding to the macrotask
    // queue (a benchmark, an exploration) would otherwise keep every finished kernel alive through its pending
    // immediate, and the garbage collector would promote them all.
    this.hangCheck = setImmediate(() => {
      this.hangCheck = null;
      if (this.runState === "running" && this.runToken === token) this.hangStop();
    });
    if (this.current === null) {
      try {
        this.dispatchNext();
      } catch (e) {
        // A DPC or timer that stops the run during the first dispatch: the stop is already recorded.
        if (!(e instanceof BugCheckError)) throw e;
      }
    }
    return p;
  }

  private hangStop(): void {
    const t = this.current;
    this.stopInfo = this.makeStop(
      "hang",
      0,
      undefined,
      t
        ? `Thread "${t.name}" awaited something outside the emulated kernel (a real timer, real I/O, or a promise nobody settles) and never reached a scheduling point. Everything inside the kernel must wait through kernel objects.`
        : "The run stopped making progress outside any thread.",
      undefined,
      { thread: t },
    );
    this.finish();
  }

  private finish(): void {
    if (this.hangCheck !== null) {
      clearImmediate(this.hangCheck);
      this.hangCheck = null;
    }
    if (this.stopInfo !== null) this.runState = "stopped";
    else this.runState = "idle";
    const r = this.resolveRun;
    this.resolveRun = null;
    if (r) r(this.result());
  }

  result(): RunResult {
    return {
      outcome: this.stopInfo ? "stopped" : "idle",
      stop: this.stopInfo,
      violations: this.violations,
      threadErrors: this.threadErrors,
      steps: this.steps,
      time: this.now,
      choices: this.choices,
    };
  }

  // ---------------------------------------------------------------- trace

  emit(kind: TraceKind, what: string, data?: Readonly<Record<string, string | number | boolean>>): void {
    this.trace.emit(this.now, this.current ? this.current.id : -1, kind, what, data);
  }

  get isPreemptive(): boolean {
    return this.strategy.preemptive;
  }

  get strategyName(): string {
    return this.strategy.name;
  }
}

class MutablePickContext implements PickContext {
  count = 0;
  includesCurrent = false;
  current: KThread | null = null;
  point = "";
  decision = 0;
  private readonly ready: KThread[];
  constructor(ready: KThread[]) {
    this.ready = ready;
  }
  candidate(i: number): KThread {
    if (this.includesCurrent) return (i === 0 ? this.current : this.ready[i - 1]) as KThread;
    return this.ready[i] as KThread;
  }
}

/** A cycle in the waits-for graph (thread → owner of what it waits for), if there is one. */
function findCycle(threads: readonly KThread[]): KThread[] | null {
  const next = (t: KThread): readonly KThread[] =>
    t.state === ThreadState.Waiting && t.waitReason ? t.waitReason.owners() : [];
  for (const start of threads) {
    const path: KThread[] = [];
    const seen = new Set<KThread>();
    const dfs = (t: KThread): KThread[] | null => {
      if (t === start && path.length > 0) return [...path];
      if (seen.has(t)) return null;
      seen.add(t);
      path.push(t);
      for (const o of next(t)) {
        const c = dfs(o);
        if (c) return c;
      }
      path.pop();
      return null;
    };
    const c = dfs(start);
    if (c) return c;
  }
  return null;
}

export { FifoStrategy, PASSIVE_LEVEL, RandomStrategy };
