/**
 * The emulated NT kernel's executive surface: KeXxx / ExXxx / PsXxx routines with the WDK's names, each with its
 * maximum IRQL declared in `KERNEL_DDIS` and checked on every call, and with the ownership rules Driver Verifier
 * checks (non-owner release, recursive fast mutex, shared→exclusive upgrade, waits at DISPATCH_LEVEL …).
 *
 * Waits and contended acquisitions return a promise; an uncontended acquisition returns its result
 * synchronously, so hot paths can skip the `await`:  `const r = k.ExAcquireResourceSharedLite(res, true);
 * if (r !== true) await r;`.
 */
import { BUGCHECK, VERIFIER_C4, WORKER_INVALID_CODES } from "./bugcodes.js";
import { KDPC, KernelCore, type KernelOptions } from "./core.js";
import { APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, irqlName, isValidIrql, type KIRQL, PASSIVE_LEVEL } from "./irql.js";
import { describeInversion, LockDep } from "./lockdep.js";
import { type DispatcherObject, WaitBlock } from "./object.js";
import { Pool, type PoolTag } from "./pool.js";
import { BugCheckError } from "./stop.js";
import {
  ERESOURCE,
  type EVENT_TYPE,
  EventType,
  FAST_MUTEX,
  KEVENT,
  KMUTEX,
  KQUEUE,
  KSPIN_LOCK,
  KTIMER,
  LockWait,
  type ReportSubject,
  type ResourceOwner,
  ResourceOwnerPointer,
  type TIMER_TYPE,
  TimerType,
  WORK_QUEUE_ITEM,
  WORK_QUEUE_NAMES,
  type WORK_QUEUE_TYPE,
  WorkQueueType,
} from "./sync.js";
import { type HeldLock, type KProcess, KThread, type LockLike, type ThreadEntry, ThreadState } from "./thread.js";

/** Maximum IRQL of every kernel DDI (from the WDK's "IRQL" requirement of each routine). */
export const KERNEL_DDIS = {
  KeRaiseIrql: HIGH_LEVEL,
  KeLowerIrql: HIGH_LEVEL,
  KeGetCurrentIrql: HIGH_LEVEL,
  KeEnterCriticalRegion: APC_LEVEL,
  KeLeaveCriticalRegion: APC_LEVEL,
  KeInitializeEvent: HIGH_LEVEL,
  KeSetEvent: DISPATCH_LEVEL,
  KeResetEvent: DISPATCH_LEVEL,
  KeClearEvent: HIGH_LEVEL,
  KeReadStateEvent: HIGH_LEVEL,
  KeWaitForSingleObject: DISPATCH_LEVEL,
  KeWaitForMultipleObjects: DISPATCH_LEVEL,
  KeDelayExecutionThread: APC_LEVEL,
  KeInitializeMutex: PASSIVE_LEVEL,
  KeReleaseMutex: DISPATCH_LEVEL,
  KeInitializeTimer: DISPATCH_LEVEL,
  KeSetTimer: DISPATCH_LEVEL,
  KeSetTimerEx: DISPATCH_LEVEL,
  KeCancelTimer: DISPATCH_LEVEL,
  KeReadStateTimer: HIGH_LEVEL,
  KeInitializeDpc: HIGH_LEVEL,
  KeInsertQueueDpc: HIGH_LEVEL,
  KeRemoveQueueDpc: HIGH_LEVEL,
  KeQuerySystemTime: HIGH_LEVEL,
  KeQueryInterruptTime: HIGH_LEVEL,
  KeYieldThread: APC_LEVEL,
  ExInitializeFastMutex: DISPATCH_LEVEL,
  ExAcquireFastMutex: APC_LEVEL,
  ExTryToAcquireFastMutex: APC_LEVEL,
  ExReleaseFastMutex: APC_LEVEL,
  ExAcquireFastMutexUnsafe: APC_LEVEL,
  ExReleaseFastMutexUnsafe: APC_LEVEL,
  KeInitializeSpinLock: HIGH_LEVEL,
  KeAcquireSpinLock: DISPATCH_LEVEL,
  KeReleaseSpinLock: DISPATCH_LEVEL,
  KeAcquireSpinLockAtDpcLevel: DISPATCH_LEVEL,
  KeReleaseSpinLockFromDpcLevel: DISPATCH_LEVEL,
  ExInitializeResourceLite: DISPATCH_LEVEL,
  ExDeleteResourceLite: APC_LEVEL,
  ExAcquireResourceExclusiveLite: APC_LEVEL,
  ExAcquireResourceSharedLite: APC_LEVEL,
  ExAcquireSharedStarveExclusive: APC_LEVEL,
  ExConvertExclusiveToSharedLite: APC_LEVEL,
  ExReleaseResourceLite: DISPATCH_LEVEL,
  ExReleaseResourceForThreadLite: DISPATCH_LEVEL,
  ExSetResourceOwnerPointer: DISPATCH_LEVEL,
  ExIsResourceAcquiredExclusiveLite: DISPATCH_LEVEL,
  ExIsResourceAcquiredSharedLite: DISPATCH_LEVEL,
  ExGetExclusiveWaiterCount: DISPATCH_LEVEL,
  ExGetSharedWaiterCount: DISPATCH_LEVEL,
  ExInitializeWorkItem: HIGH_LEVEL,
  KeInitializeQueue: DISPATCH_LEVEL,
  KeInsertQueue: DISPATCH_LEVEL,
  KeRemoveQueue: APC_LEVEL,
  ExQueueWorkItem: DISPATCH_LEVEL,
  PsCreateSystemThread: PASSIVE_LEVEL,
  PsGetCurrentProcess: HIGH_LEVEL,
  PsGetCurrentThread: HIGH_LEVEL,
  IoGetCurrentProcess: HIGH_LEVEL,
} as const;

export type KernelDdiName = keyof typeof KERNEL_DDIS;

/**
 * Driver Verifier 0xC4 parameter-1 sub-codes used by the kernel checks (values from the 0xC4 bug-check page,
 * see VERIFIER_C4 in bugcodes.ts).
 */
export const DV = {
  RAISE_IRQL_TO_LOWER: BigInt(VERIFIER_C4.RAISE_IRQL_INVALID.code),
  LOWER_IRQL_TO_HIGHER: BigInt(VERIFIER_C4.LOWER_IRQL_INVALID.code),
  SPINLOCK_RELEASE_BAD_IRQL: BigInt(VERIFIER_C4.SPIN_LOCK_RELEASE_NOT_AT_DISPATCH.code),
  FAST_MUTEX_ACQUIRE_BAD_IRQL: BigInt(VERIFIER_C4.FAST_MUTEX_ACQUIRE_ABOVE_APC.code),
  FAST_MUTEX_RELEASE_BAD_IRQL: BigInt(VERIFIER_C4.FAST_MUTEX_RELEASE_NOT_AT_APC.code),
  SPINLOCK_ACQUIRE_BAD_IRQL: BigInt(VERIFIER_C4.SPIN_LOCK_ACQUIRE_ABOVE_DISPATCH.code),
  SELF_DEADLOCK: BigInt(VERIFIER_C4.SELF_DEADLOCK.code),
  LOCK_HIERARCHY_VIOLATION: BigInt(VERIFIER_C4.LOCK_HIERARCHY_VIOLATION.code),
  RELEASE_NOT_OWNED: BigInt(VERIFIER_C4.RELEASE_OF_UNACQUIRED_LOCK.code),
  RELEASE_BY_OTHER_THREAD: BigInt(VERIFIER_C4.RELEASE_BY_WRONG_THREAD.code),
  THREAD_EXIT_HOLDING_LOCK: BigInt(VERIFIER_C4.THREAD_TERMINATED_HOLDING_LOCK.code),
  RESOURCE_DELETED_WHILE_HELD: BigInt(VERIFIER_C4.DELETED_LOCK_STILL_OWNED.code),
  LEAVE_CRITICAL_REGION_NOT_IN_REGION: BigInt(VERIFIER_C4.LEAVE_CRITICAL_REGION_NOT_IN_REGION.code),
} as const;

/** Highest number of worker threads per system work queue (created on demand). */
export interface WorkerLimits {
  readonly critical: number;
  readonly delayed: number;
  readonly hyperCritical: number;
}

export interface FullKernelOptions extends KernelOptions {
  readonly workers?: Partial<WorkerLimits>;
}

const STATUS_SUCCESS = 0;
const STATUS_TIMEOUT = 0x102;
const STATUS_MUTANT_NOT_OWNED = 0xc0000046n;

class WorkQueue {
  readonly type: WORK_QUEUE_TYPE;
  readonly items: WORK_QUEUE_ITEM[] = [];
  readonly idle: KThread[] = [];
  workers = 0;
  readonly max: number;
  constructor(type: WORK_QUEUE_TYPE, max: number) {
    this.type = type;
    this.max = max;
  }
}

const NO_QUEUE_OPTIONS: { timeout?: number; idle?: boolean } = {};

class QueueWaitReason {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  describe(): string {
    return `KQUEUE "${this.name}"`;
  }
  owners(): readonly KThread[] {
    return [];
  }
}

class QueueWait {
  readonly q: WorkQueue;
  constructor(q: WorkQueue) {
    this.q = q;
  }
  describe(): string {
    return `work in ${WORK_QUEUE_NAMES[this.q.type]}`;
  }
  owners(): readonly KThread[] {
    return [];
  }
}

export class Kernel extends KernelCore {
  private readonly workQueues: readonly WorkQueue[];

  /** Pool allocations (ExAllocatePoolWithTag …): tracking, special pool, leaks. */
  readonly pool: Pool;
  /** Called for each work item queued (its `queuedBy` set), with the queuing thread: for a checker above the kernel. */
  workItemObserver: ((item: WORK_QUEUE_ITEM, by: KThread) => void) | null = null;

  constructor(options: FullKernelOptions = {}) {
    super(options);
    this.pool = new Pool(this);
    const w = options.workers ?? {};
    this.workQueues = [
      new WorkQueue(WorkQueueType.CriticalWorkQueue, w.critical ?? 3),
      new WorkQueue(WorkQueueType.DelayedWorkQueue, w.delayed ?? 2),
      new WorkQueue(WorkQueueType.HyperCriticalWorkQueue, w.hyperCritical ?? 1),
    ];
  }

  /**
   * Check a DDI's declared maximum IRQL when it is called from an emulated thread. Initializers and queries
   * may also be called from plain setup code outside any thread, where there is no IRQL to check.
   */
  private checkDdi(name: KernelDdiName, maxIrql: number): void {
    // The maximum comes from the caller as a constant property read (`KERNEL_DDIS.KeSetEvent`): a lookup by the
    // name here would be a keyed load with a different key at every call site.
    const t = this.current;
    if (t !== null && t.irql > maxIrql && this.checkIrql) this.irqlTooHigh(t, name, maxIrql);
  }

  // ============================================================== IRQL

  KeGetCurrentIrql(): KIRQL {
    return this.thread("KeGetCurrentIrql").irql;
  }

  /**
   * PAGED_CODE(): the first statement of a routine whose code is pageable (`#pragma alloc_text(PAGE, …)` in C). Run
   * above APC_LEVEL, that code may not be resident and the page fault cannot be served: 0xD1 with 8 (execute) in
   * parameter 3, in Windows only when the page happens to be out (or Driver Verifier's force IRQL checking paged it
   * out); here on every call. `routine` names the routine in the report; by default the innermost frame of the call
   * chain (the MRx routine RDBSS called, "MRxCreate [memsmb]"). Switch "irql".
   */
  PAGED_CODE(routine?: string): void {
    const t = this.current;
    if (t === null || t.irql <= APC_LEVEL || !this.checkIrql) return;
    const name = routine ?? t.frames[t.frames.length - 1] ?? t.name;
    if (this.pageableCode === null) this.pageableCode = new Map();
    let code = this.pageableCode.get(name);
    if (code === undefined) {
      code = { routine: name };
      this.pageableCode.set(name, code);
    } else if (this.checkMode("irql") === "record") return;
    this.pageableAtRaisedIrql(
      t,
      this.addressOf(code),
      8n,
      `The pageable routine ${name} (it begins with PAGED_CODE()) ran`,
      ` on thread "${t.name}"`,
      "pageable code may run",
      "Post the work to a worker thread, or make the routine non-pageable.",
    );
  }

  /** The routines PAGED_CODE() reported, by name: a stable fake code address for each (parameter 1); made on first use. */
  private pageableCode: Map<string, { readonly routine: string }> | null = null;

  /** Raise the IRQL; returns the previous one (the OldIrql out-parameter). */
  KeRaiseIrql(newIrql: KIRQL): KIRQL {
    const t = this.thread("KeRaiseIrql");
    const old = t.irql;
    if (!isValidIrql(newIrql)) throw new RangeError(`KeRaiseIrql: ${newIrql} is not an IRQL`);
    if (newIrql < old && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL,
        [BigInt(old), BigInt(newIrql), 0n, 0n],
        `KeRaiseIrql was asked to "raise" from ${irqlName(old)} to the lower ${irqlName(newIrql)}; use KeLowerIrql to lower.`,
      );
    }
    this.setIrql(t, newIrql);
    return old;
  }

  KeRaiseIrqlToDpcLevel(): KIRQL {
    return this.KeRaiseIrql(DISPATCH_LEVEL);
  }

  KeLowerIrql(newIrql: KIRQL): void {
    const t = this.thread("KeLowerIrql");
    if (!isValidIrql(newIrql)) throw new RangeError(`KeLowerIrql: ${newIrql} is not an IRQL`);
    if (newIrql > t.irql && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.LOWER_IRQL_TO_HIGHER, BigInt(t.irql), BigInt(newIrql), 0n],
        `KeLowerIrql was asked to "lower" from ${irqlName(t.irql)} to the higher ${irqlName(newIrql)}.`,
      );
    }
    this.setIrql(t, newIrql);
    if (newIrql < DISPATCH_LEVEL && !t.isDpcContext) this.runPendingDpcs();
  }

  private setIrql(t: KThread, irql: KIRQL): void {
    const old = t.irql;
    t.irql = irql;
    if (this.trace.active && old !== irql) this.emit("irql", irqlName(irql), { from: old, to: irql });
  }

  KeEnterCriticalRegion(): void {
    const t = this.enter("KeEnterCriticalRegion", KERNEL_DDIS.KeEnterCriticalRegion);
    t.criticalRegion++;
    this.leave(t);
  }

  KeLeaveCriticalRegion(): void {
    const t = this.enter("KeLeaveCriticalRegion", KERNEL_DDIS.KeLeaveCriticalRegion);
    if (t.criticalRegion === 0) {
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.LEAVE_CRITICAL_REGION_NOT_IN_REGION, this.addressOf(t), 0n, 0n],
        "KeLeaveCriticalRegion without a matching KeEnterCriticalRegion (the APC-disable count went negative).",
      );
    } else t.criticalRegion--;
    this.leave(t);
  }

  /** FsRtlEnterFileSystem: KeEnterCriticalRegion, as file systems do on entry. */
  FsRtlEnterFileSystem(): void {
    this.KeEnterCriticalRegion();
  }

  FsRtlExitFileSystem(): void {
    this.KeLeaveCriticalRegion();
  }

  // ============================================================== processes and threads

  PsGetCurrentProcess(): KProcess {
    this.checkDdi("PsGetCurrentProcess", KERNEL_DDIS.PsGetCurrentProcess);
    return this.thread("PsGetCurrentProcess").process;
  }

  IoGetCurrentProcess(): KProcess {
    return this.thread("IoGetCurrentProcess").process;
  }

  PsGetCurrentThread(): KThread {
    return this.thread("PsGetCurrentThread");
  }

  /** PsCreateSystemThread: a thread in the system process. */
  PsCreateSystemThread(name: string, entry: ThreadEntry): KThread {
    if (this.current !== null) {
      const t = this.enter("PsCreateSystemThread", KERNEL_DDIS.PsCreateSystemThread);
      this.leave(t);
    }
    return this.createThread(this.systemProcess, name, entry);
  }

  protected override checkThreadExit(t: KThread): void {
    if (t.irql !== PASSIVE_LEVEL) {
      this.violation(
        "threadExit",
        t.process.isSystem ? BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL : BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE,
        [0n, BigInt(t.irql), 0n, 0n],
        `Thread "${t.name}" ended at ${irqlName(t.irql)}; threads must end at PASSIVE_LEVEL.`,
      );
    }
    if (t.held.length > 0) {
      const h = t.held[0] as { lock: LockLike };
      this.violation(
        "threadExit",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.THREAD_EXIT_HOLDING_LOCK, this.addressOf(h.lock), this.addressOf(t), 0n],
        `Thread "${t.name}" ended holding ${describeHeld(t)}. Nobody can release ${t.held.length > 1 ? "them" : "it"} now.`,
      );
    }
    if (t.criticalRegion !== 0) {
      this.violation(
        "threadExit",
        BUGCHECK.APC_INDEX_MISMATCH,
        [0n, 0n, BigInt(t.criticalRegion), 0n],
        `Thread "${t.name}" ended inside ${t.criticalRegion} critical region(s) (KeEnterCriticalRegion without KeLeaveCriticalRegion).`,
      );
    }
  }

  /**
   * Called by the I/O manager around every system service (Nt*): on return to user mode the thread must be at
   * PASSIVE_LEVEL, outside any critical region, and hold no kernel lock.
   */
  systemServiceEnter(t: KThread): void {
    t.kernelDepth++;
  }

  systemServiceExit(t: KThread, service: string): void {
    t.kernelDepth--;
    if (t.kernelDepth > 0) return;
    if (t.irql !== PASSIVE_LEVEL) {
      this.violation(
        "systemService",
        BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE,
        [0n, BigInt(t.irql), 0n, 0n],
        `${service} returned to user mode at ${irqlName(t.irql)}: something raised the IRQL and did not lower it.`,
      );
    }
    if (t.criticalRegion !== 0) {
      this.violation(
        "systemService",
        BUGCHECK.APC_INDEX_MISMATCH,
        [0n, 0n, BigInt(t.criticalRegion), 0n],
        `${service} returned to user mode with kernel APCs disabled ${t.criticalRegion} time(s): a KeEnterCriticalRegion / FsRtlEnterFileSystem (or a held KMUTEX) was not balanced.`,
      );
    }
    if (t.held.length > 0) {
      this.violation(
        "systemService",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.THREAD_EXIT_HOLDING_LOCK, this.addressOf((t.held[0] as { lock: LockLike }).lock), this.addressOf(t), 0n],
        `${service} returned to user mode holding ${describeHeld(t)}.`,
      );
    }
  }

  // ============================================================== events, mutexes, timers, waits

  KeInitializeEvent(type: EVENT_TYPE, state: boolean, name = "event"): KEVENT {
    this.checkDdi("KeInitializeEvent", KERNEL_DDIS.KeInitializeEvent);
    return new KEVENT(type, state, name);
  }

  /** Signal an event; returns the previous state (nonzero if it was signaled). */
  KeSetEvent(event: KEVENT, _increment = 0, _wait = false): number {
    const t = this.enter("KeSetEvent", KERNEL_DDIS.KeSetEvent);
    const prev = event.signaled ? 1 : 0;
    event.signaled = true;
    if (event.waitList.length > 0) this.signalObject(event);
    this.leave(t);
    return prev;
  }

  KeResetEvent(event: KEVENT): number {
    const t = this.enter("KeResetEvent", KERNEL_DDIS.KeResetEvent);
    const prev = event.signaled ? 1 : 0;
    event.signaled = false;
    this.leave(t);
    return prev;
  }

  KeClearEvent(event: KEVENT): void {
    this.checkDdi("KeClearEvent", KERNEL_DDIS.KeClearEvent);
    event.signaled = false;
  }

  KeReadStateEvent(event: KEVENT): number {
    this.checkDdi("KeReadStateEvent", KERNEL_DDIS.KeReadStateEvent);
    return event.signaled ? 1 : 0;
  }

  KeInitializeMutex(level = 0, name = "mutex"): KMUTEX {
    this.checkDdi("KeInitializeMutex", KERNEL_DDIS.KeInitializeMutex);
    return new KMUTEX(level, name);
  }

  /** Release a KMUTEX; a non-owner release raises STATUS_MUTANT_NOT_OWNED, which kernel mode cannot handle. */
  KeReleaseMutex(mutex: KMUTEX, _wait = false): number {
    const t = this.enter("KeReleaseMutex", KERNEL_DDIS.KeReleaseMutex);
    if (mutex.owner !== t) {
      this.violation(
        "locks",
        BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED,
        [STATUS_MUTANT_NOT_OWNED, this.addressOf(mutex), 0n, 0n],
        `KeReleaseMutex on KMUTEX "${mutex.name}" by thread "${t.name}", which does not own it (${
          mutex.owner ? `owner: "${mutex.owner.name}"` : "it is not owned"
        }): the kernel raises STATUS_MUTANT_NOT_OWNED.`,
      );
      this.leave(t);
      return 0;
    }
    // The previous signal state of a mutant is 1 - recursion: 0 when this release leaves it signaled.
    const prev = 1 - mutex.recursion;
    if (--mutex.recursion === 0) {
      mutex.owner = null;
      removeHeld(t, mutex);
      t.criticalRegion--;
      if (mutex.waitList.length > 0) this.signalObject(mutex);
    }
    this.leave(t);
    return prev;
  }

  KeInitializeTimer(type: TIMER_TYPE = TimerType.NotificationTimer, name = "timer"): KTIMER {
    this.checkDdi("KeInitializeTimer", KERNEL_DDIS.KeInitializeTimer);
    return new KTIMER(type, name);
  }

  /** Arm a timer; `dueTime` < 0 is relative (100 ns units), > 0 absolute. Returns whether it was already set. */
  KeSetTimer(timer: KTIMER, dueTime: number, dpc: KDPC | null = null): boolean {
    return this.KeSetTimerEx(timer, dueTime, 0, dpc);
  }

  /** `period` in milliseconds, as in the WDK. */
  KeSetTimerEx(timer: KTIMER, dueTime: number, period: number, dpc: KDPC | null = null): boolean {
    const t = this.enter("KeSetTimerEx", KERNEL_DDIS.KeSetTimerEx);
    const wasSet = timer.inserted;
    if (timer.entry) this.timers.cancel(timer.entry);
    timer.signaled = false;
    timer.dpc = dpc;
    timer.period = period;
    this.armTimer(timer, this.absoluteDue(dueTime));
    this.leave(t);
    return wasSet;
  }

  private armTimer(timer: KTIMER, due: number): void {
    timer.dueTime = due;
    timer.entry = this.addTimer(due, () => {
      timer.entry = null;
      timer.signaled = true;
      if (this.trace.active) this.emit("timer", timer.name);
      if (timer.waitList.length > 0) this.signalObject(timer);
      if (timer.dpc) this.queueDpc(timer.dpc, undefined, undefined);
      if (timer.period > 0) this.armTimer(timer, this.now + timer.period * 10_000);
    });
  }

  KeCancelTimer(timer: KTIMER): boolean {
    const t = this.enter("KeCancelTimer", KERNEL_DDIS.KeCancelTimer);
    const wasSet = timer.inserted;
    if (timer.entry) this.timers.cancel(timer.entry);
    timer.entry = null;
    this.leave(t);
    return wasSet;
  }

  KeReadStateTimer(timer: KTIMER): boolean {
    this.checkDdi("KeReadStateTimer", KERNEL_DDIS.KeReadStateTimer);
    return timer.signaled;
  }

  KeInitializeDpc(routine: KDPC["routine"], context: unknown, name = "dpc"): KDPC {
    this.checkDdi("KeInitializeDpc", KERNEL_DDIS.KeInitializeDpc);
    return new KDPC(routine, context, name, this.runningDriver);
  }

  /** Queue a DPC; it runs at DISPATCH_LEVEL at the next scheduling point. Returns FALSE if already queued. */
  KeInsertQueueDpc(dpc: KDPC, arg1?: unknown, arg2?: unknown): boolean {
    this.checkDdi("KeInsertQueueDpc", KERNEL_DDIS.KeInsertQueueDpc);
    return this.queueDpc(dpc, arg1, arg2);
  }

  KeRemoveQueueDpc(dpc: KDPC): boolean {
    this.checkDdi("KeRemoveQueueDpc", KERNEL_DDIS.KeRemoveQueueDpc);
    return this.removeDpc(dpc);
  }

  /** System time, 100 ns units since boot (the emulator's epoch). */
  KeQuerySystemTime(): number {
    this.checkDdi("KeQuerySystemTime", KERNEL_DDIS.KeQuerySystemTime);
    return this.now;
  }

  KeQueryInterruptTime(): number {
    this.checkDdi("KeQueryInterruptTime", KERNEL_DDIS.KeQueryInterruptTime);
    return this.now;
  }

  /**
   * KeWaitForSingleObject. `timeout` as in the WDK: undefined waits forever, 0 polls, < 0 is relative and
   * > 0 absolute (100 ns units). Resolves with STATUS_SUCCESS (STATUS_WAIT_0) or STATUS_TIMEOUT.
   */
  KeWaitForSingleObject(object: DispatcherObject, timeout?: number): number | Promise<number> {
    const one = this.oneObject;
    one[0] = object;
    return this.waitForObjects("KeWaitForSingleObject", one, false, timeout);
  }

  /** KeWaitForSingleObject's object list, reused: a wait that blocks copies it into its WaitBlock. (It keeps the
   * last object waited on reachable; emptying it on every call costs more than that.) */
  private readonly oneObject: DispatcherObject[] = [];

  /** KeWaitForMultipleObjects with WaitAny (status = STATUS_WAIT_0 + index) or WaitAll. */
  KeWaitForMultipleObjects(
    objects: readonly DispatcherObject[],
    waitType: "WaitAll" | "WaitAny",
    timeout?: number,
  ): number | Promise<number> {
    return this.waitForObjects("KeWaitForMultipleObjects", objects, waitType === "WaitAll", timeout);
  }

  private waitForObjects(
    name: string,
    objects: readonly DispatcherObject[],
    waitAll: boolean,
    timeout: number | undefined,
  ): number | Promise<number> {
    const t = this.thread(name);
    if (this.checkIrql) {
      if (t.irql > DISPATCH_LEVEL || (t.irql === DISPATCH_LEVEL && timeout !== 0)) {
        this.violation(
          "irql",
          BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
          [this.addressOf(objects[0] ?? t), BigInt(t.irql), 0n, 0n],
          `${name} on ${objects.map((o) => o.describe()).join(", ")} at ${irqlName(t.irql)}: a wait with a nonzero timeout is only allowed below DISPATCH_LEVEL.`,
        );
      }
    }
    if (this.checkLockGraph && t.held.length !== 0 && timeout !== 0) {
      for (const o of objects) if (o instanceof KMUTEX && o.owner !== t) this.lockGraph(t, o, name);
    }
    // Satisfied at once?
    if (waitAll) {
      if (objects.every((o) => o.isSignaledFor(t))) {
        let extra = 0;
        for (const o of objects) extra |= o.acquireFor(t);
        return STATUS_SUCCESS + extra;
      }
    } else {
      for (let i = 0; i < objects.length; i++) {
        const o = objects[i] as DispatcherObject;
        if (o.isSignaledFor(t)) return i + o.acquireFor(t);
      }
    }
    if (timeout === 0) return STATUS_TIMEOUT;
    t.frames.push(name);
    // A single object is kept in the wait block itself: `objects` may be KeWaitForSingleObject's reused list.
    const wb = new WaitBlock(t, objects, waitAll);
    for (let i = 0; i < objects.length; i++) (objects[i] as DispatcherObject).waitList.push(wb);
    if (timeout !== undefined) {
      wb.timeout = this.addTimer(this.absoluteDue(timeout), () => {
        wb.timeout = null;
        if (!wb.satisfied) this.completeWait(wb, STATUS_TIMEOUT);
      });
    }
    // The frame comes off when the thread is switched back in (KernelCore.switchTo), not in a continuation here.
    t.popFrameOnResume = true;
    return this.block(wb, false, true);
  }

  /** KeDelayExecutionThread: sleep for `interval` (< 0 relative, 100 ns units). */
  KeDelayExecutionThread(interval: number): Promise<number> {
    const t = this.enter("KeDelayExecutionThread", KERNEL_DDIS.KeDelayExecutionThread);
    this.leave(t);
    const timer = new KTIMER(TimerType.NotificationTimer, `${t.name} sleep`);
    this.armTimer(timer, this.absoluteDue(interval));
    return Promise.resolve(this.waitForObjects("KeDelayExecutionThread", [timer], false, undefined));
  }

  /** ZwYieldExecution / KeYieldThread. Its checks throw synchronously, so a DPC that calls it stops there. */
  KeYieldThread(): Promise<void> {
    this.checkDdi("KeYieldThread", KERNEL_DDIS.KeYieldThread);
    const p = this.yieldThread("KeYieldThread");
    return p === undefined ? Promise.resolve() : p.then(ignoreValue);
  }

  // ============================================================== FAST_MUTEX

  ExInitializeFastMutex(name = "fast mutex"): FAST_MUTEX {
    this.checkDdi("ExInitializeFastMutex", KERNEL_DDIS.ExInitializeFastMutex);
    return new FAST_MUTEX(name);
  }

  /** Acquire a FAST_MUTEX and raise to APC_LEVEL. Returns undefined when acquired without waiting. */
  ExAcquireFastMutex(m: FAST_MUTEX): Promise<void> | undefined {
    const t = this.thread("ExAcquireFastMutex");
    if (t.irql > APC_LEVEL && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.FAST_MUTEX_ACQUIRE_BAD_IRQL, BigInt(t.irql), this.addressOf(m), 0n],
        `ExAcquireFastMutex on "${m.name}" at ${irqlName(t.irql)}; the maximum is APC_LEVEL.`,
      );
    }
    return this.acquireFastMutex(t, m, false);
  }

  /** ExAcquireFastMutexUnsafe: the caller has already disabled APCs; IRQL is not raised. */
  ExAcquireFastMutexUnsafe(m: FAST_MUTEX): Promise<void> | undefined {
    const t = this.enter("ExAcquireFastMutexUnsafe", KERNEL_DDIS.ExAcquireFastMutexUnsafe);
    this.leave(t);
    return this.acquireFastMutex(t, m, true);
  }

  private acquireFastMutex(t: KThread, m: FAST_MUTEX, unsafe: boolean): Promise<void> | undefined {
    if (this.checkLockGraph && t.held.length !== 0 && m.owner !== t)
      this.lockGraph(t, m, unsafe ? "ExAcquireFastMutexUnsafe" : "ExAcquireFastMutex");
    if (m.owner === t && this.checkLocks) {
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.SELF_DEADLOCK, this.addressOf(m), this.addressOf(t), 0n],
        `Thread "${t.name}" acquired FAST_MUTEX "${m.name}" again while holding it. Fast mutexes are not recursive: this thread would wait for itself forever.`,
      );
    }
    if (m.owner === null) {
      this.takeFastMutex(t, m, unsafe);
      return undefined;
    }
    m.waiters.push({ thread: t, unsafe });
    t.frames.push(unsafe ? "ExAcquireFastMutexUnsafe" : "ExAcquireFastMutex");
    // The releaser hands ownership to us (see releaseFastMutex); on wake only the IRQL is left to raise.
    return this.block(new LockWait(m, "exclusive")).then(() => {
      t.frames.pop();
      if (!unsafe) {
        m.oldIrql = t.irql;
        if (t.irql < APC_LEVEL) this.setIrql(t, APC_LEVEL);
      }
    });
  }

  private takeFastMutex(t: KThread, m: FAST_MUTEX, unsafe: boolean): void {
    m.owner = t;
    m.unsafe = unsafe;
    t.held.push({ lock: m, mode: "exclusive" });
    if (!unsafe) {
      m.oldIrql = t.irql;
      if (t.irql < APC_LEVEL) this.setIrql(t, APC_LEVEL);
    }
    if (this.trace.active) this.emit("lock.acquire", m.name, { type: "FAST_MUTEX" });
  }

  ExTryToAcquireFastMutex(m: FAST_MUTEX): boolean {
    const t = this.enter("ExTryToAcquireFastMutex", KERNEL_DDIS.ExTryToAcquireFastMutex);
    this.leave(t);
    if (m.owner !== null) return false;
    this.takeFastMutex(t, m, false);
    return true;
  }

  ExReleaseFastMutex(m: FAST_MUTEX): void {
    this.releaseFastMutex(m, false);
  }

  ExReleaseFastMutexUnsafe(m: FAST_MUTEX): void {
    this.releaseFastMutex(m, true);
  }

  private releaseFastMutex(m: FAST_MUTEX, unsafe: boolean): void {
    const name = unsafe ? "ExReleaseFastMutexUnsafe" : "ExReleaseFastMutex";
    const t = this.thread(name);
    if (m.owner !== t) {
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [m.owner ? DV.RELEASE_BY_OTHER_THREAD : DV.RELEASE_NOT_OWNED, this.addressOf(m), this.addressOf(t), 0n],
        `${name} on FAST_MUTEX "${m.name}" by thread "${t.name}", which does not own it (${
          m.owner ? `owner: "${m.owner.name}"` : "it is not held"
        }).`,
      );
      return;
    }
    if (!unsafe && t.irql !== APC_LEVEL && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.FAST_MUTEX_RELEASE_BAD_IRQL, BigInt(t.irql), this.addressOf(m), 0n],
        `ExReleaseFastMutex on "${m.name}" at ${irqlName(t.irql)}; a held fast mutex keeps the thread at APC_LEVEL.`,
      );
    }
    m.owner = null;
    removeHeld(t, m);
    if (!m.unsafe) this.setIrql(t, m.oldIrql);
    if (this.trace.active) this.emit("lock.release", m.name, { type: "FAST_MUTEX" });
    const next = m.waiters.shift();
    if (next) {
      // Direct handoff: the waiter owns the mutex from now on, so the releaser cannot take it back first.
      m.owner = next.thread;
      m.unsafe = next.unsafe;
      next.thread.held.push({ lock: m, mode: "exclusive" });
      if (this.trace.active) this.emit("lock.acquire", m.name, { type: "FAST_MUTEX", to: next.thread.id });
      this.readyThread(next.thread, STATUS_SUCCESS);
    }
    if (t.irql < DISPATCH_LEVEL && !t.isDpcContext) this.runPendingDpcs();
  }

  // ============================================================== spin locks

  KeInitializeSpinLock(name = "spin lock"): KSPIN_LOCK {
    this.checkDdi("KeInitializeSpinLock", KERNEL_DDIS.KeInitializeSpinLock);
    return new KSPIN_LOCK(name);
  }

  /** Acquire a spin lock and raise to DISPATCH_LEVEL; returns the old IRQL. */
  KeAcquireSpinLock(lock: KSPIN_LOCK): KIRQL {
    const t = this.thread("KeAcquireSpinLock");
    if (t.irql > DISPATCH_LEVEL && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.SPINLOCK_ACQUIRE_BAD_IRQL, BigInt(t.irql), this.addressOf(lock), 0n],
        `KeAcquireSpinLock on "${lock.name}" at ${irqlName(t.irql)}; spin locks may only be acquired at DISPATCH_LEVEL or below.`,
      );
    }
    const old = t.irql;
    if (t.irql < DISPATCH_LEVEL) this.setIrql(t, DISPATCH_LEVEL);
    this.takeSpinLock(t, lock, "KeAcquireSpinLock");
    return old;
  }

  KeAcquireSpinLockAtDpcLevel(lock: KSPIN_LOCK): void {
    const t = this.thread("KeAcquireSpinLockAtDpcLevel");
    if (t.irql < DISPATCH_LEVEL && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL,
        [BigInt(t.irql), BigInt(DISPATCH_LEVEL), 0n, 0n],
        `KeAcquireSpinLockAtDpcLevel on "${lock.name}" at ${irqlName(t.irql)}; the caller must already be at DISPATCH_LEVEL.`,
      );
    } else if (t.irql > DISPATCH_LEVEL && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.SPINLOCK_ACQUIRE_BAD_IRQL, BigInt(t.irql), this.addressOf(lock), 0n],
        `KeAcquireSpinLockAtDpcLevel on "${lock.name}" at ${irqlName(t.irql)}; above DISPATCH_LEVEL use an interrupt spin lock.`,
      );
    }
    this.takeSpinLock(t, lock, "KeAcquireSpinLockAtDpcLevel");
  }

  private takeSpinLock(t: KThread, lock: KSPIN_LOCK, name: string): void {
    if (this.checkLockGraph && t.held.length !== 0 && lock.owner !== t) this.lockGraph(t, lock, name);
    if (lock.owner !== null && this.checkLocks) {
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.SELF_DEADLOCK, this.addressOf(lock), this.addressOf(t), 0n],
        lock.owner === t
          ? `${name}: thread "${t.name}" acquired spin lock "${lock.name}" that it already holds; it would spin forever.`
          : `${name}: spin lock "${lock.name}" is held by "${lock.owner.name}", which cannot run to release it while this processor spins at DISPATCH_LEVEL.`,
      );
    }
    lock.owner = t;
    t.held.push({ lock, mode: "exclusive" });
    if (this.trace.active) this.emit("lock.acquire", lock.name, { type: "KSPIN_LOCK" });
  }

  KeReleaseSpinLock(lock: KSPIN_LOCK, oldIrql: KIRQL): void {
    const t = this.thread("KeReleaseSpinLock");
    if (t.irql !== DISPATCH_LEVEL && this.checkIrql) {
      this.violation(
        "irql",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.SPINLOCK_RELEASE_BAD_IRQL, BigInt(t.irql), this.addressOf(lock), 0n],
        `KeReleaseSpinLock on "${lock.name}" at ${irqlName(t.irql)}; a spin lock holder is at DISPATCH_LEVEL.`,
      );
    }
    this.dropSpinLock(t, lock, "KeReleaseSpinLock");
    this.setIrql(t, oldIrql);
    if (oldIrql < DISPATCH_LEVEL && !t.isDpcContext) this.runPendingDpcs();
  }

  KeReleaseSpinLockFromDpcLevel(lock: KSPIN_LOCK): void {
    const t = this.thread("KeReleaseSpinLockFromDpcLevel");
    this.dropSpinLock(t, lock, "KeReleaseSpinLockFromDpcLevel");
  }

  private dropSpinLock(t: KThread, lock: KSPIN_LOCK, name: string): void {
    if (lock.owner !== t && this.checkLocks) {
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [lock.owner ? DV.RELEASE_BY_OTHER_THREAD : DV.RELEASE_NOT_OWNED, this.addressOf(lock), this.addressOf(t), 0n],
        `${name}: thread "${t.name}" released spin lock "${lock.name}" that ${
          lock.owner ? `"${lock.owner.name}" holds` : "nobody holds"
        }.`,
      );
      return;
    }
    lock.owner = null;
    removeHeld(t, lock);
    if (this.trace.active) this.emit("lock.release", lock.name, { type: "KSPIN_LOCK" });
  }

  /** Lowering below DISPATCH_LEVEL lets queued DPCs run (as the DISPATCH software interrupt would). */
  private runPendingDpcs(): void {
    this.drainDpcs();
  }

  // ============================================================== ERESOURCE

  ExInitializeResourceLite(name = "resource", lockClass?: string): ERESOURCE {
    this.checkDdi("ExInitializeResourceLite", KERNEL_DDIS.ExInitializeResourceLite);
    return new ERESOURCE(name, lockClass);
  }

  ExDeleteResourceLite(res: ERESOURCE): number {
    const t = this.enter("ExDeleteResourceLite", KERNEL_DDIS.ExDeleteResourceLite);
    if (res.activeCount > 0 || res.waiters.length > 0) {
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.RESOURCE_DELETED_WHILE_HELD, this.addressOf(res), 0n, 0n],
        `ExDeleteResourceLite on ERESOURCE "${res.name}" while it is held (${res.activeCount} acquisition(s)) or waited for (${res.waiters.length}).`,
      );
    }
    res.deleted = true;
    this.leave(t);
    return STATUS_SUCCESS;
  }

  /** Declared order of lock classes (lower rank first), e.g. RDBSS's netname table → FCB table → FCB. */
  private readonly lockRanks = new Map<string, number>();

  /** Declare the rank of an ERESOURCE lock class: a thread may only wait for a class of higher rank than it holds. */
  setLockRank(lockClass: string, rank: number): void {
    this.lockRanks.set(lockClass, rank);
  }

  /** The lock-order graph over lock classes (check "lockOrder"; see lockdep.ts). */
  readonly lockdep = new LockDep();

  /**
   * A blocking acquisition of `res`: against the declared ranks (a lower-ranked class while holding a higher one),
   * then into the lock-order graph (an inversion the first time a cycle closes, reported unless the rank check
   * already reported this acquisition).
   */
  private checkLockOrder(t: KThread, res: ERESOURCE, name: string): void {
    const ranked = this.lockRanks.size !== 0 && this.checkLockRank(t, res, name);
    if (this.checkLockGraph && t.held.length !== 0) this.lockGraph(t, res, name, ranked);
  }

  /** Record the lock-order edges of a blocking acquisition by `t`; report the first cycle a new edge closes. */
  private lockGraph(t: KThread, lock: LockLike, ddi: string, quiet = false): void {
    const inv = this.lockdep.acquire(t, lock, ddi, this.now, t.stepLabel ?? this.stepLabel);
    if (inv === null || quiet) return;
    this.violation(
      "lockOrder",
      BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      [DV.LOCK_HIERARCHY_VIOLATION, this.addressOf(lock), this.addressOf(inv.heldLock), 0n],
      describeInversion(inv),
    );
  }

  /** A blocking acquisition of `res` while holding a lock of a higher-ranked class inverts the declared order. */
  private checkLockRank(t: KThread, res: ERESOURCE, name: string): boolean {
    const want = this.lockRanks.get(res.lockClass);
    if (want === undefined) return false;
    for (let i = 0; i < t.held.length; i++) {
      const h = t.held[i] as HeldLock;
      if (!(h.lock instanceof ERESOURCE) || h.lock === res) continue;
      const have = this.lockRanks.get(h.lock.lockClass);
      if (have === undefined || have <= want) continue;
      const order = [...this.lockRanks.entries()]
        .sort((a, b) => a[1] - b[1])
        .map(([c]) => c)
        .join(" → ");
      this.violation(
        "lockOrder",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.LOCK_HIERARCHY_VIOLATION, this.addressOf(res), this.addressOf(h.lock), 0n],
        `${name}: thread "${t.name}" waits for ${res.lockClass} "${res.name}" while holding ${h.lock.lockClass} "${h.lock.name}". The documented order is ${order}; taking them the other way round can deadlock against a thread that follows the order.`,
      );
      return true;
    }
    return false;
  }

  /**
   * Acquire exclusive. Returns true (acquired at once), false (Wait = FALSE and not available), or a promise of
   * true when the caller must wait.
   */
  ExAcquireResourceExclusiveLite(res: ERESOURCE, wait: boolean): boolean | Promise<boolean> {
    const t = this.enter("ExAcquireResourceExclusiveLite", KERNEL_DDIS.ExAcquireResourceExclusiveLite);
    this.checkResourceUsable(res, "ExAcquireResourceExclusiveLite");
    if (wait && this.checkLocks && res.exclusiveOwner !== t)
      this.checkLockOrder(t, res, "ExAcquireResourceExclusiveLite");
    if (res.exclusiveOwner === t) {
      res.exclusiveCount++;
      this.leave(t);
      return true;
    }
    if (res.sharedCount(t) > 0) {
      if (!wait) {
        this.leave(t);
        return false;
      }
      if (this.checkLocks) {
        this.violation(
          "locks",
          BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
          [DV.SELF_DEADLOCK, this.addressOf(res), this.addressOf(t), 0n],
          `Thread "${t.name}" holds ERESOURCE "${res.name}" shared and asked for it exclusive. An ERESOURCE cannot be upgraded: the thread waits for itself to release its shared hold (self-deadlock).`,
        );
      }
    }
    if (res.exclusiveOwner === null && res.sharedOwnerCount === 0 && res.waiters.length === 0) {
      this.grantExclusive(res, t);
      this.leave(t);
      return true;
    }
    if (!wait) {
      this.leave(t);
      return false;
    }
    res.addWaiter({ thread: t, exclusive: true });
    return this.block(new LockWait(res, "exclusive")).then(() => {
      this.leave(t);
      return true;
    });
  }

  /** Acquire shared; an exclusive owner may acquire shared too (it counts as a recursive exclusive hold). */
  ExAcquireResourceSharedLite(res: ERESOURCE, wait: boolean): boolean | Promise<boolean> {
    return this.acquireShared(res, wait, "ExAcquireResourceSharedLite", false);
  }

  /** Shared even when exclusive waiters are queued. */
  ExAcquireSharedStarveExclusive(res: ERESOURCE, wait: boolean): boolean | Promise<boolean> {
    return this.acquireShared(res, wait, "ExAcquireSharedStarveExclusive", true);
  }

  private acquireShared(
    res: ERESOURCE,
    wait: boolean,
    name: "ExAcquireResourceSharedLite" | "ExAcquireSharedStarveExclusive",
    starveExclusive: boolean,
  ): boolean | Promise<boolean> {
    const t = this.enter(
      name,
      starveExclusive ? KERNEL_DDIS.ExAcquireSharedStarveExclusive : KERNEL_DDIS.ExAcquireResourceSharedLite,
    );
    this.checkResourceUsable(res, name);
    if (wait && this.checkLocks && res.exclusiveOwner !== t && res.sharedCount(t) === 0)
      this.checkLockOrder(t, res, name);
    if (res.exclusiveOwner === t) {
      res.exclusiveCount++;
      this.leave(t);
      return true;
    }
    const mine = res.sharedCount(t) || undefined;
    if (mine !== undefined) {
      res.setShared(t, mine + 1);
      this.leave(t);
      return true;
    }
    if (res.exclusiveOwner === null && (starveExclusive || res.exclusiveWaiters === 0)) {
      this.grantShared(res, t);
      this.leave(t);
      return true;
    }
    if (!wait) {
      this.leave(t);
      return false;
    }
    res.addWaiter({ thread: t, exclusive: false });
    return this.block(new LockWait(res, "shared")).then(() => {
      this.leave(t);
      return true;
    });
  }

  private grantExclusive(res: ERESOURCE, owner: KThread): void {
    res.exclusiveOwner = owner;
    res.exclusiveCount = 1;
    owner.held.push({ lock: res, mode: "exclusive" });
    if (this.trace.active)
      this.emit("lock.acquire", res.name, { type: "ERESOURCE", mode: "exclusive", owner: owner.id });
  }

  private grantShared(res: ERESOURCE, owner: KThread): void {
    res.setShared(owner, 1);
    owner.held.push({ lock: res, mode: "shared" });
    if (this.trace.active) this.emit("lock.acquire", res.name, { type: "ERESOURCE", mode: "shared", owner: owner.id });
  }

  private checkResourceUsable(res: ERESOURCE, name: string): void {
    if (res.deleted) {
      if (res.useAfterDelete !== null) {
        res.useAfterDelete(name);
        return;
      }
      this.violation(
        "locks",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [DV.RESOURCE_DELETED_WHILE_HELD, this.addressOf(res), 0n, 0n],
        `${name} on ERESOURCE "${res.name}" after ExDeleteResourceLite.`,
      );
    }
  }

  /** ExReleaseResourceLite: release one acquisition held by the calling thread. */
  ExReleaseResourceLite(res: ERESOURCE): void {
    const t = this.enter("ExReleaseResourceLite", KERNEL_DDIS.ExReleaseResourceLite);
    this.releaseResource(res, t, t, "ExReleaseResourceLite");
    this.leave(t);
  }

  /** Release on behalf of `owner` (a thread, or an owner pointer set with ExSetResourceOwnerPointer). */
  ExReleaseResourceForThreadLite(res: ERESOURCE, owner: ResourceOwner): void {
    const t = this.enter("ExReleaseResourceForThreadLite", KERNEL_DDIS.ExReleaseResourceForThreadLite);
    this.releaseResource(res, owner, t, "ExReleaseResourceForThreadLite");
    this.leave(t);
  }

  private releaseResource(res: ERESOURCE, owner: ResourceOwner, caller: KThread, name: string): void {
    if (res.deleted && res.useAfterDelete !== null) {
      res.useAfterDelete(name);
      return;
    }
    if (res.exclusiveOwner === owner) {
      if (--res.exclusiveCount === 0) {
        res.exclusiveOwner = null;
        if (owner instanceof KThread) removeHeld(owner, res);
        if (this.trace.active)
          this.emit("lock.release", res.name, { type: "ERESOURCE", mode: "exclusive", owner: ownerId(owner) });
        this.wakeResourceWaiters(res);
      }
      return;
    }
    const n = res.sharedCount(owner) || undefined;
    if (n !== undefined) {
      if (n > 1) res.setShared(owner, n - 1);
      else {
        res.deleteShared(owner);
        if (owner instanceof KThread) removeHeld(owner, res);
        if (this.trace.active)
          this.emit("lock.release", res.name, { type: "ERESOURCE", mode: "shared", owner: ownerId(owner) });
        this.wakeResourceWaiters(res);
      }
      return;
    }
    const holders = describeResourceOwners(res);
    this.violation(
      "locks",
      BUGCHECK.RESOURCE_NOT_OWNED,
      [this.addressOf(res), this.addressOf(caller), this.addressOf(res.sharedOwners), 0n],
      `${name} on ERESOURCE "${res.name}" for ${
        owner === caller ? `thread "${caller.name}"` : ownerLabel(owner)
      }, which does not own it (${holders}). A resource may only be released by its owner, or for it with ExReleaseResourceForThreadLite.`,
    );
  }

  private wakeResourceWaiters(res: ERESOURCE): void {
    if (res.exclusiveOwner !== null || res.waiters.length === 0) return;
    const head = res.waiters[0] as { thread: KThread; exclusive: boolean };
    if (head.exclusive) {
      if (res.sharedOwnerCount > 0) return;
      res.waiters.shift();
      this.grantExclusive(res, head.thread);
      this.readyThread(head.thread, STATUS_SUCCESS);
      return;
    }
    // Grant every shared waiter ahead of the first exclusive one.
    while (res.waiters.length > 0 && !(res.waiters[0] as { exclusive: boolean }).exclusive) {
      const w = res.waiters.shift() as { thread: KThread };
      this.grantShared(res, w.thread);
      this.readyThread(w.thread, STATUS_SUCCESS);
    }
  }

  ExConvertExclusiveToSharedLite(res: ERESOURCE): void {
    const t = this.enter("ExConvertExclusiveToSharedLite", KERNEL_DDIS.ExConvertExclusiveToSharedLite);
    if (res.exclusiveOwner !== t) {
      this.violation(
        "locks",
        BUGCHECK.RESOURCE_NOT_OWNED,
        [this.addressOf(res), this.addressOf(t), 0n, 1n],
        `ExConvertExclusiveToSharedLite on ERESOURCE "${res.name}" by thread "${t.name}", which does not hold it exclusive.`,
      );
      this.leave(t);
      return;
    }
    const count = res.exclusiveCount;
    res.exclusiveOwner = null;
    res.exclusiveCount = 0;
    res.setShared(t, count);
    const h = t.held.find((x) => x.lock === res);
    if (h) (h as { mode: string }).mode = "shared";
    // "The current thread and any other threads waiting for shared access are given shared access."
    for (let i = 0; i < res.waiters.length; ) {
      const w = res.waiters[i] as { thread: KThread; exclusive: boolean };
      if (w.exclusive) {
        i++;
        continue;
      }
      res.waiters.splice(i, 1);
      this.grantShared(res, w.thread);
      this.readyThread(w.thread, STATUS_SUCCESS);
    }
    this.leave(t);
  }

  /**
   * ExSetResourceOwnerPointer: hand the calling thread's ownership to an owner pointer, so that another thread
   * can later release it with ExReleaseResourceForThreadLite(res, pointer).
   */
  ExSetResourceOwnerPointer(res: ERESOURCE, pointer: ResourceOwnerPointer): void {
    const t = this.enter("ExSetResourceOwnerPointer", KERNEL_DDIS.ExSetResourceOwnerPointer);
    if (res.exclusiveOwner === t) {
      res.exclusiveOwner = pointer;
      if (this.trace.active) this.traceOwnerPointer(res, t, "exclusive");
    } else if (res.sharedCount(t) > 0) {
      const n = res.sharedCount(t);
      res.deleteShared(t);
      res.setShared(pointer, res.sharedCount(pointer) + n);
      if (this.trace.active) this.traceOwnerPointer(res, t, "shared");
    } else {
      this.violation(
        "locks",
        BUGCHECK.RESOURCE_NOT_OWNED,
        [this.addressOf(res), this.addressOf(t), 0n, 2n],
        `ExSetResourceOwnerPointer on ERESOURCE "${res.name}" by thread "${t.name}", which does not own it.`,
      );
      this.leave(t);
      return;
    }
    removeHeld(t, res);
    this.leave(t);
  }

  /** The trace of ExSetResourceOwnerPointer: the thread's hold ends and an owner pointer's begins. */
  private traceOwnerPointer(res: ERESOURCE, t: KThread, mode: "exclusive" | "shared"): void {
    this.emit("lock.release", res.name, { type: "ERESOURCE", mode, owner: t.id, to: "owner pointer" });
    this.emit("lock.acquire", res.name, { type: "ERESOURCE", mode, owner: -1, from: t.id });
  }

  ExIsResourceAcquiredExclusiveLite(res: ERESOURCE): boolean {
    this.checkDdi("ExIsResourceAcquiredExclusiveLite", KERNEL_DDIS.ExIsResourceAcquiredExclusiveLite);
    return res.exclusiveOwner === this.thread("ExIsResourceAcquiredExclusiveLite");
  }

  /** The number of times the caller holds the resource (shared or exclusive); 0 if not at all. */
  ExIsResourceAcquiredSharedLite(res: ERESOURCE): number {
    this.checkDdi("ExIsResourceAcquiredSharedLite", KERNEL_DDIS.ExIsResourceAcquiredSharedLite);
    const t = this.thread("ExIsResourceAcquiredSharedLite");
    if (res.exclusiveOwner === t) return res.exclusiveCount;
    return res.sharedCount(t);
  }

  ExGetExclusiveWaiterCount(res: ERESOURCE): number {
    this.checkDdi("ExGetExclusiveWaiterCount", KERNEL_DDIS.ExGetExclusiveWaiterCount);
    return res.exclusiveWaiters;
  }

  ExGetSharedWaiterCount(res: ERESOURCE): number {
    this.checkDdi("ExGetSharedWaiterCount", KERNEL_DDIS.ExGetSharedWaiterCount);
    return res.sharedWaiters;
  }

  /**
   * A fresh owner pointer (what RDBSS builds as `RxContext | 3`). `subject` is what it stands for, described only
   * when a report names the resource's owners; the pointer remembers the scenario step it was made in.
   */
  makeResourceOwnerPointer(label: string, subject: ReportSubject | null = null): ResourceOwnerPointer {
    return new ResourceOwnerPointer(label, subject, this.current?.stepLabel ?? this.stepLabel);
  }

  // ============================================================== KQUEUE

  KeInitializeQueue<T>(name = "queue"): KQUEUE<T> {
    this.checkDdi("KeInitializeQueue", KERNEL_DDIS.KeInitializeQueue);
    return new KQUEUE<T>(name);
  }

  /** Insert an entry; a thread waiting in KeRemoveQueue gets it. Returns the number of entries before. */
  KeInsertQueue<T>(q: KQUEUE<T>, entry: T): number {
    this.checkDdi("KeInsertQueue", KERNEL_DDIS.KeInsertQueue);
    const before = q.entries.length;
    const waiter = q.waiters.shift();
    if (waiter) {
      waiter.queueEntry = entry;
      this.readyThread(waiter, STATUS_SUCCESS);
    } else q.entries.push(entry);
    return before;
  }

  /**
   * Remove the oldest entry, waiting while the queue is empty. `idle` marks the wait as a daemon's (it does not keep
   * a run alive: an emulator extension for server and transport loops). Resolves with undefined on timeout.
   */
  KeRemoveQueue<T>(
    q: KQUEUE<T>,
    options: { timeout?: number; idle?: boolean } = NO_QUEUE_OPTIONS,
  ): T | undefined | Promise<T | undefined> {
    const t = this.enter("KeRemoveQueue", KERNEL_DDIS.KeRemoveQueue);
    this.leave(t);
    if (q.entries.length > 0) return q.entries.shift();
    if (options.timeout === 0) return undefined;
    q.waiters.push(t);
    if (q.waitReason === null) q.waitReason = new QueueWaitReason(q.name);
    if (options.timeout === undefined) {
      // Without a timeout the wait can only end with an entry: the scheduler resumes the thread with it. (Set before
      // blocking: the switch away can run a DPC that inserts into this queue and switch straight back.)
      t.resumeWithEntry = true;
      return this.block(q.waitReason, options.idle ?? false) as Promise<unknown> as Promise<T | undefined>;
    }
    const timer = this.addTimer(this.absoluteDue(options.timeout), () => {
      const i = q.waiters.indexOf(t);
      if (i >= 0) {
        q.waiters.splice(i, 1);
        this.readyThread(t, STATUS_TIMEOUT);
      }
    });
    return this.block(q.waitReason, options.idle ?? false).then((status) => {
      this.timers.cancel(timer);
      if (status === STATUS_TIMEOUT) return undefined;
      const e = t.queueEntry as T | undefined;
      t.queueEntry = undefined;
      return e;
    });
  }

  // ============================================================== work queues

  ExInitializeWorkItem(routine: WORK_QUEUE_ITEM["routine"], parameter: unknown, name = "work item"): WORK_QUEUE_ITEM {
    this.checkDdi("ExInitializeWorkItem", KERNEL_DDIS.ExInitializeWorkItem);
    return new WORK_QUEUE_ITEM(routine, parameter, name, this.runningDriver);
  }

  // ---------------------------------------------------------------- pool (pool.ts)

  /**
   * ExAllocatePoolWithTag: a block of `PoolType` tagged `Tag`, or null when the allocation fails (a fault plan's
   * `ExAllocatePoolWithTag` site). The block is `init` (or an empty object) behind a special-pool guard: keep your
   * state in it and use only the pointer returned. Paged pool at most APC_LEVEL, nonpaged at most DISPATCH_LEVEL.
   */
  ExAllocatePoolWithTag<T extends object = Record<string, unknown>>(
    PoolType: number,
    NumberOfBytes: number,
    Tag: PoolTag,
    init?: T,
  ): T | null {
    const t = this.enter("ExAllocatePoolWithTag", HIGH_LEVEL);
    try {
      return this.pool.allocate(PoolType, NumberOfBytes, Tag, init);
    } finally {
      if (this.stopped === null) this.leave(t);
    }
  }

  /** ExFreePoolWithTag: free a block with the tag it was allocated with. */
  ExFreePoolWithTag(P: object, Tag: PoolTag): void {
    const t = this.enter("ExFreePoolWithTag", HIGH_LEVEL);
    try {
      this.pool.free("ExFreePoolWithTag", P, Tag);
    } finally {
      if (this.stopped === null) this.leave(t);
    }
  }

  /**
   * Driver Verifier's pool tracking when a driver's image unloads (after DriverUnload, or after a failed
   * DriverEntry): every block charged to `driverName` (allocated while its code ran, KThread.driver) must have been
   * freed, else bug check 0xC4 / 0x62 listing them. Called by the I/O manager.
   */
  verifyPoolAtUnload(driverObject: object, driverName: string): void {
    this.pool.verifyUnload(driverObject, driverName);
  }

  /** ExFreePool: free a block (no tag check). */
  ExFreePool(P: object): void {
    const t = this.enter("ExFreePool", HIGH_LEVEL);
    try {
      this.pool.free("ExFreePool", P, null);
    } finally {
      if (this.stopped === null) this.leave(t);
    }
  }

  /**
   * Queue a work item to a system worker thread. Re-queuing an item that is still queued is bug check 0xE4.
   */
  ExQueueWorkItem(item: WORK_QUEUE_ITEM, queueType: WORK_QUEUE_TYPE): void {
    const t = this.enter("ExQueueWorkItem", KERNEL_DDIS.ExQueueWorkItem);
    const q = this.workQueues[queueType];
    if (q === undefined) {
      this.violation(
        "workItem",
        BUGCHECK.WORKER_INVALID,
        [BigInt(WORKER_INVALID_CODES.INVALID_QUEUE_TYPE.code), this.addressOf(item), BigInt(queueType), 0n],
        `ExQueueWorkItem: ${String(queueType)} is not a work queue type (CriticalWorkQueue, DelayedWorkQueue or HyperCriticalWorkQueue).`,
      );
      this.leave(t);
      return;
    }
    if (item.queuedOn !== null) {
      this.violation(
        "workItem",
        BUGCHECK.WORKER_INVALID,
        [BigInt(WORKER_INVALID_CODES.ACTIVE_ITEM_QUEUED.code), this.addressOf(item), BigInt(item.queuedOn), 0n],
        `ExQueueWorkItem: work item "${item.name}" is already queued on ${WORK_QUEUE_NAMES[item.queuedOn]}. An item may be queued again only after its routine has started.`,
      );
      this.leave(t);
      return;
    }
    item.queuedOn = queueType;
    item.queuedBy = this.witness(t);
    if (this.workItemObserver !== null) this.workItemObserver(item, t);
    if (this.trace.active) this.emit("work.queue", item.name, { queue: WORK_QUEUE_NAMES[queueType] });
    const idle = q.idle.shift();
    if (idle) {
      idle.tls.set("workItem", item);
      this.readyThread(idle, STATUS_SUCCESS);
    } else {
      q.items.push(item);
      if (q.workers < q.max) this.startWorker(q);
    }
    this.leave(t);
  }

  private startWorker(q: WorkQueue): void {
    q.workers++;
    const name = `${WORK_QUEUE_NAMES[q.type].replace("WorkQueue", "")} worker ${q.workers}`;
    this.createThread(this.systemProcess, name, async (t) => {
      for (;;) {
        let item = q.items.shift();
        if (item === undefined) {
          q.idle.push(t);
          await this.block(new QueueWait(q), true);
          item = t.tls.get("workItem") as WORK_QUEUE_ITEM;
          t.tls.delete("workItem");
        }
        item.queuedOn = null;
        if (this.trace.active) this.emit("work.run", item.name);
        t.frames.push(`worker: ${item.name}`);
        t.driver = item.driver;
        t.queuedBy = item.queuedBy;
        await item.routine(item.parameter);
        t.queuedBy = null;
        t.driver = null;
        t.frames.pop();
        if (this.trace.active) this.emit("work.done", item.name);
        if (t.irql !== PASSIVE_LEVEL) {
          this.violation(
            "workItem",
            BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL,
            [0n, BigInt(t.irql), 0n, 0n],
            `Work item "${item.name}" returned at ${irqlName(t.irql)}; worker routines must return at PASSIVE_LEVEL.`,
          );
          t.irql = PASSIVE_LEVEL;
        }
        if (t.held.length > 0 || t.criticalRegion !== 0) {
          this.violation(
            "workItem",
            BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL,
            [0n, BigInt(t.irql), this.addressOf(item), BigInt(t.criticalRegion)],
            `Work item "${item.name}" returned ${t.held.length ? `holding ${describeHeld(t)}` : `inside ${t.criticalRegion} critical region(s)`}.`,
          );
        }
      }
    });
  }

  /** Number of worker threads created so far per queue (for tests and reports). */
  workerCounts(): WorkerLimits {
    return {
      critical: (this.workQueues[0] as WorkQueue).workers,
      delayed: (this.workQueues[1] as WorkQueue).workers,
      hyperCritical: (this.workQueues[2] as WorkQueue).workers,
    };
  }

  // ============================================================== helpers for higher layers

  /**
   * Run `fn` as a DDI frame: check the IRQL, push the frame, pop it when `fn` settles. For async DDIs
   * implemented in higher layers.
   */
  async callDdi<T>(name: string, maxIrql: KIRQL, fn: (t: KThread) => Promise<T> | T): Promise<T> {
    const t = this.enter(name, maxIrql);
    try {
      return await fn(t);
    } finally {
      if (this.stopped === null) this.leave(t);
    }
  }

  /** A thread that runs `fn` in a new process (a user-mode test program). */
  spawn(processName: string, threadName: string, entry: ThreadEntry): KThread {
    return this.createThread(this.createProcess(processName), threadName, entry);
  }
}

function ignoreValue(): void {}

function removeHeld(t: KThread, lock: LockLike): void {
  const h = t.held;
  for (let i = h.length - 1; i >= 0; i--) {
    if ((h[i] as { lock: LockLike }).lock === lock) {
      // Locks are mostly released in reverse order: the last one is popped (a splice is a runtime call).
      if (i === h.length - 1) h.pop();
      else h.splice(i, 1);
      return;
    }
  }
}

function describeHeld(t: KThread): string {
  return t.held.map((h) => `${h.lock.lockType} "${h.lock.name}" (${h.mode})`).join(", ");
}

/** The owner of a resource hold as the trace records it: a thread id, or -1 for an owner pointer. */
function ownerId(o: ResourceOwner): number {
  return o instanceof ResourceOwnerPointer ? -1 : o.id;
}

function ownerLabel(o: ResourceOwner): string {
  return o instanceof ResourceOwnerPointer ? `owner pointer ${o.label}` : `thread "${o.name}"`;
}

function describeResourceOwners(res: ERESOURCE): string {
  const parts: string[] = [];
  if (res.exclusiveOwner) parts.push(`held exclusive by ${ownerLabel(res.exclusiveOwner)}`);
  for (const [o, n] of res.sharedOwners) parts.push(`held shared ×${n} by ${ownerLabel(o)}`);
  return parts.length ? parts.join("; ") : "it is not held at all";
}

export { BugCheckError, EventType, ThreadState, TimerType, WorkQueueType };
