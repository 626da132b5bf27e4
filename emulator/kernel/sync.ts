/**
 * State of the kernel's synchronization objects. The DDIs that operate on them (KeSetEvent,
 * ExAcquireResourceExclusiveLite …) live on the Kernel class, which checks IRQL and ownership rules.
 */
import type { KDPC } from "./core.js";
import { emptyList, withItem } from "./lists.js";
import type { LockClassNode } from "./lockdep.js";
import { DispatcherObject, type WaitReason } from "./object.js";
import type { KThread, LockLike } from "./thread.js";
import type { TimerEntry } from "./timers.js";
import type { Witness } from "./witness.js";

export const EventType = { NotificationEvent: 0, SynchronizationEvent: 1 } as const;
export type EVENT_TYPE = (typeof EventType)[keyof typeof EventType];

export const TimerType = { NotificationTimer: 0, SynchronizationTimer: 1 } as const;
export type TIMER_TYPE = (typeof TimerType)[keyof typeof TimerType];

/** KEVENT: a notification event stays signaled and releases every waiter; a synchronization event auto-resets. */
export class KEVENT extends DispatcherObject {
  readonly objectType = "KEVENT";
  readonly type: EVENT_TYPE;
  signaled: boolean;
  /**
   * Whose event it is, for reports ("… of RX_CONTEXT#13 (what it waits for)"). A field of every event rather than a
   * subclass: the wait and signal paths then see one KEVENT shape.
   */
  readonly subject: ReportSubject | null;
  constructor(type: EVENT_TYPE, initialState: boolean, name = "event", subject: ReportSubject | null = null) {
    super(name);
    this.type = type;
    this.signaled = initialState;
    this.subject = subject;
  }
  override describe(): string {
    const s = this.subject;
    if (s === null) return super.describe();
    const what = s.describeActivity();
    return `${super.describe()} of ${s.label()}${what ? ` (${what})` : ""}`;
  }
  isSignaledFor(): boolean {
    return this.signaled;
  }
  acquireFor(): number {
    if (this.type === EventType.SynchronizationEvent) this.signaled = false;
    return 0;
  }
}

/** KMUTEX (mutant): recursive for its owner; acquiring it enters a critical region. */
export class KMUTEX extends DispatcherObject implements LockLike {
  readonly objectType = "KMUTEX";
  readonly lockType = "KMUTEX";
  readonly level: number;
  lockClassNode: LockClassNode | null = null;
  owner: KThread | null = null;
  recursion = 0;
  constructor(level = 0, name = "mutex") {
    super(name);
    this.level = level;
  }
  isSignaledFor(t: KThread): boolean {
    return this.owner === null || this.owner === t;
  }
  acquireFor(t: KThread): number {
    if (this.owner !== t) {
      this.owner = t;
      t.held.push({ lock: this, mode: "exclusive" });
      t.criticalRegion++;
    }
    this.recursion++;
    return 0;
  }
  override owners(): readonly KThread[] {
    return this.owner ? [this.owner] : [];
  }
}

/** KTIMER: signaled when it expires; optionally queues a DPC; optionally periodic. */
export class KTIMER extends DispatcherObject {
  readonly objectType = "KTIMER";
  readonly type: TIMER_TYPE;
  signaled = false;
  entry: TimerEntry | null = null;
  dpc: KDPC | null = null;
  period = 0;
  dueTime = 0;
  constructor(type: TIMER_TYPE = TimerType.NotificationTimer, name = "timer") {
    super(name);
    this.type = type;
  }
  isSignaledFor(): boolean {
    return this.signaled;
  }
  acquireFor(): number {
    if (this.type === TimerType.SynchronizationTimer) this.signaled = false;
    return 0;
  }
  get inserted(): boolean {
    return this.entry !== null && !this.entry.cancelled;
  }
}

/** FAST_MUTEX: not recursive; raises to APC_LEVEL while held. */
export class FAST_MUTEX implements LockLike {
  readonly lockType = "FAST_MUTEX";
  readonly name: string;
  lockClassNode: LockClassNode | null = null;
  owner: KThread | null = null;
  oldIrql = 0;
  /** Acquired with ExAcquireFastMutexUnsafe (no IRQL raise). */
  unsafe = false;
  readonly waiters: { readonly thread: KThread; readonly unsafe: boolean }[] = [];
  constructor(name = "fast mutex") {
    this.name = name;
  }
  owners(): readonly KThread[] {
    return this.owner ? [this.owner] : [];
  }
}

/** KSPIN_LOCK: raises to DISPATCH_LEVEL while held. */
export class KSPIN_LOCK implements LockLike {
  readonly lockType = "KSPIN_LOCK";
  readonly name: string;
  lockClassNode: LockClassNode | null = null;
  owner: KThread | null = null;
  constructor(name = "spin lock") {
    this.name = name;
  }
  owners(): readonly KThread[] {
    return this.owner ? [this.owner] : [];
  }
}

/**
 * An owner of an ERESOURCE: a thread, or an owner pointer set with ExSetResourceOwnerPointer (RDBSS uses
 * `RxContext | 3` so another thread can release the resource for the context).
 */
export type ResourceOwner = KThread | ResourceOwnerPointer;

/**
 * What an owner pointer or an event stands for (RDBSS: the RX_CONTEXT of an asynchronous LowIo, whose SyncEvent a
 * synchronous one waits on), asked for words only when a report is built. The kernel knows nothing else about it.
 */
export interface ReportSubject {
  /** "RX_CONTEXT#13" */
  label(): string;
  /** What it is doing now, in words ("IRP_MJ_READ, LOWIO_OP_READ pended by …"); "" when there is nothing to say. */
  describeActivity(): string;
}

export class ResourceOwnerPointer {
  readonly label: string;
  /** What the pointer stands for, when its maker said (see ReportSubject). */
  readonly subject: ReportSubject | null;
  /** The scenario step the thread that made the pointer was running (KThread.stepLabel), for reports. */
  readonly step: string | null;
  constructor(label: string, subject: ReportSubject | null = null, step: string | null = null) {
    this.label = label;
    this.subject = subject;
    this.step = step;
  }
  /**
   * For reports: "RX_CONTEXT#13 (owner pointer, since steps[2] t.yaml:8): IRP_MJ_READ, …", or "owner pointer
   * ctx|3" when only the label is known.
   */
  describe(): string {
    const s = this.subject;
    const since = this.step === null ? "" : `since ${this.step}`;
    if (s === null) return `owner pointer ${this.label}${since ? ` (${since})` : ""}`;
    const what = s.describeActivity();
    return `${s.label()} (owner pointer${since ? `, ${since}` : ""})${what ? `: ${what}` : ""}`;
  }
}

interface ResourceWaiter {
  readonly thread: KThread;
  readonly exclusive: boolean;
}

/**
 * Names a resource when a report or trace asks, instead of a string the resource keeps for its life: a structure
 * with one resource each (an FCB: "FCB \\srv\\share\\a.txt") names them after itself, built from the names it
 * keeps anyway.
 */
export interface ResourceNamer {
  resourceName(res: ERESOURCE): string;
}

/** ERESOURCE: a readers/writer lock with recursive exclusive and shared ownership, and owner tracking. */
const NO_SHARED_OWNERS: ReadonlyMap<ResourceOwner, number> = new Map();

export class ERESOURCE implements LockLike {
  get lockType(): "ERESOURCE" {
    return "ERESOURCE";
  }
  /** The name, or what names it (see ResourceNamer). */
  private naming: string | ResourceNamer;
  exclusiveOwner: ResourceOwner | null = null;
  exclusiveCount = 0;
  /**
   * The shared owners and their counts: null while there are none (most resources, most of the time), the owner
   * itself while one owner holds it once (a read holding its FCB shared: no Map made and emptied per read), else a
   * Map from owner to count.
   */
  private shared: Map<ResourceOwner, number> | ResourceOwner | null = null;
  /** Threads waiting, in arrival order: one shared frozen empty list until the first wait (most resources never
   *  see one); add through `addWaiter`. */
  waiters: ResourceWaiter[] = emptyList();
  deleted = false;
  /** Lock class for ordering checks (e.g. "netname table", "FCB table", "FCB"); defaults to the name. */
  readonly lockClass: string;
  lockClassNode: LockClassNode | null = null;
  /**
   * Called instead of the generic "used after ExDeleteResourceLite" report when the resource was retired with the
   * structure that contained it (RDBSS: an FCB's resources after its final free → a tombstone report).
   */
  useAfterDelete: ((ddi: string) => void) | null = null;
  constructor(name: string | ResourceNamer = "resource", lockClass?: string) {
    this.naming = name;
    this.lockClass = lockClass ?? (typeof name === "string" ? name : "resource");
  }
  get name(): string {
    const n = this.naming;
    return typeof n === "string" ? n : n.resourceName(this);
  }
  /** Name the resource after the structure that contains it from now on (see ResourceNamer). */
  nameBy(namer: ResourceNamer): void {
    this.naming = namer;
  }
  addWaiter(w: ResourceWaiter): void {
    this.waiters = withItem(this.waiters, w);
  }
  /** The shared owners and their counts (a snapshot when one owner holds it; change with setShared / deleteShared). */
  get sharedOwners(): ReadonlyMap<ResourceOwner, number> {
    const s = this.shared;
    if (s === null) return NO_SHARED_OWNERS;
    if (s instanceof Map) return s;
    return new Map([[s, 1]]);
  }
  /** How many times `owner` holds the resource shared (0: not at all). */
  sharedCount(owner: ResourceOwner): number {
    const s = this.shared;
    if (s === null) return 0;
    if (s instanceof Map) return s.get(owner) ?? 0;
    return s === owner ? 1 : 0;
  }
  /** How many owners hold it shared. */
  get sharedOwnerCount(): number {
    const s = this.shared;
    return s === null ? 0 : s instanceof Map ? s.size : 1;
  }
  setShared(owner: ResourceOwner, count: number): void {
    const s = this.shared;
    if (s === null && count === 1) {
      this.shared = owner;
      return;
    }
    if (s instanceof Map) {
      s.set(owner, count);
      return;
    }
    if (s === owner && count === 1) return;
    const m = new Map<ResourceOwner, number>();
    if (s !== null && s !== owner) m.set(s, 1);
    m.set(owner, count);
    this.shared = m;
  }
  deleteShared(owner: ResourceOwner): void {
    const s = this.shared;
    if (s === null) return;
    if (!(s instanceof Map)) {
      if (s === owner) this.shared = null;
      return;
    }
    if (!s.delete(owner)) return;
    if (s.size === 0) this.shared = null;
  }
  clearShared(): void {
    this.shared = null;
  }
  owners(): readonly KThread[] {
    const out: KThread[] = [];
    if (this.exclusiveOwner && !(this.exclusiveOwner instanceof ResourceOwnerPointer)) out.push(this.exclusiveOwner);
    for (const o of this.sharedOwners.keys()) if (!(o instanceof ResourceOwnerPointer)) out.push(o);
    return out;
  }
  /** The owners that are not threads (owner pointers), in words, for reports: "shared by RX_CONTEXT#13 (…)". */
  ownerPointers(): string[] {
    const out: string[] = [];
    const x = this.exclusiveOwner;
    if (x instanceof ResourceOwnerPointer) out.push(`exclusive by ${x.describe()}`);
    for (const o of this.sharedOwners.keys())
      if (o instanceof ResourceOwnerPointer) out.push(`shared by ${o.describe()}`);
    return out;
  }
  get exclusiveWaiters(): number {
    const ws = this.waiters;
    let n = 0;
    for (let i = 0; i < ws.length; i++) if ((ws[i] as { exclusive: boolean }).exclusive) n++;
    return n;
  }
  get sharedWaiters(): number {
    return this.waiters.length - this.exclusiveWaiters;
  }
  /** Total acquisitions (exclusive recursion + shared counts). */
  get activeCount(): number {
    let n = this.exclusiveCount;
    for (const c of this.sharedOwners.values()) n += c;
    return n;
  }
}

/** A wait on a non-dispatcher lock, for deadlock reports. */
export class LockWait implements WaitReason {
  readonly lock: LockLike;
  readonly mode: "exclusive" | "shared";
  constructor(lock: LockLike, mode: "exclusive" | "shared") {
    this.lock = lock;
    this.mode = mode;
  }
  describe(): string {
    return `${this.lock.lockType} "${this.lock.name}" (${this.mode})`;
  }
  owners(): readonly KThread[] {
    return this.lock.owners();
  }
  otherOwners(): readonly string[] {
    return this.lock instanceof ERESOURCE ? this.lock.ownerPointers() : [];
  }
}

export const WorkQueueType = { CriticalWorkQueue: 0, DelayedWorkQueue: 1, HyperCriticalWorkQueue: 2 } as const;
export type WORK_QUEUE_TYPE = (typeof WorkQueueType)[keyof typeof WorkQueueType];
export const WORK_QUEUE_NAMES = ["CriticalWorkQueue", "DelayedWorkQueue", "HyperCriticalWorkQueue"] as const;

/** WORK_QUEUE_ITEM: run `routine(parameter)` on a system worker thread at PASSIVE_LEVEL. */
export class WORK_QUEUE_ITEM {
  routine: (parameter: unknown) => Promise<void> | void;
  parameter: unknown;
  readonly name: string;
  /** Non-null while the item sits in a queue (List.Flink in the real structure). */
  queuedOn: WORK_QUEUE_TYPE | null = null;
  /** The driver whose code initialized the item (KThread.driver): the worker runs the routine for it. */
  readonly driver: string | null;
  /** Who queued it last (ExQueueWorkItem's caller): a stop in the routine names it. */
  queuedBy: Witness | null = null;
  constructor(
    routine: WORK_QUEUE_ITEM["routine"],
    parameter: unknown,
    name = "work item",
    driver: string | null = null,
  ) {
    this.routine = routine;
    this.parameter = parameter;
    this.name = name;
    this.driver = driver;
  }
}

export const WaitType = { WaitAll: 0, WaitAny: 1 } as const;
export type WAIT_TYPE = (typeof WaitType)[keyof typeof WaitType];

/**
 * KQUEUE: a queue of entries that threads remove with KeRemoveQueue (waiting while it is empty). Worker-style
 * loops remove with `idle: true` so that waiting for work does not keep a run alive.
 */
export class KQUEUE<T = unknown> {
  readonly name: string;
  readonly entries: T[] = [];
  readonly waiters: KThread[] = [];
  /** What a thread waiting here waits for (made once, for deadlock reports). */
  waitReason: { describe(): string; owners(): readonly KThread[] } | null = null;
  constructor(name = "queue") {
    this.name = name;
  }
  get length(): number {
    return this.entries.length;
  }
}
