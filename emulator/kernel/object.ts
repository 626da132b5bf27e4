/**
 * Dispatcher objects (DISPATCHER_HEADER in ntddk): things a thread can wait on with KeWaitForSingleObject /
 * KeWaitForMultipleObjects. KEVENT, KMUTEX, KTIMER and KTHREAD derive from this.
 */
import type { KThread } from "./thread.js";

/** Anything a blocked thread can be waiting for; used to explain deadlocks. */
export interface WaitReason {
  describe(): string;
  owners(): readonly KThread[];
  /** Owners that are not threads (an ERESOURCE held through an owner pointer), in words; asked only by reports. */
  otherOwners?(): readonly string[];
}

export abstract class DispatcherObject {
  abstract readonly objectType: string;
  name: string;
  /** Wait blocks of threads waiting on this object, in arrival order. */
  readonly waitList: WaitBlock[] = [];

  constructor(name: string) {
    this.name = name;
  }

  /** Whether a wait by `t` would be satisfied now. */
  abstract isSignaledFor(t: KThread): boolean;

  /** Consume the signal for `t` (auto-reset, take ownership). Returns an extra status bit (abandoned) or 0. */
  abstract acquireFor(t: KThread): number;

  /** Threads that own the object (a mutex owner); empty when it has no owner. */
  owners(): readonly KThread[] {
    return [];
  }

  describe(): string {
    return `${this.objectType} "${this.name}"`;
  }
}

/** One thread's wait on one or more dispatcher objects (KWAIT_BLOCK, simplified to one block per wait). */
export class WaitBlock implements WaitReason {
  readonly thread: KThread;
  readonly waitAll: boolean;
  /** The timeout's timer entry, if the wait has one. */
  timeout: { cancelled: boolean } | null = null;
  satisfied = false;
  /** The object of a single-object wait (the first of several otherwise). */
  private readonly first: DispatcherObject;
  /** The objects of a wait on several; null for a single object (no array per wait). */
  private readonly several: readonly DispatcherObject[] | null;

  /** `objects` is kept (not copied) when it has more than one object. */
  constructor(thread: KThread, objects: readonly DispatcherObject[], waitAll: boolean) {
    this.thread = thread;
    this.first = objects[0] as DispatcherObject;
    this.several = objects.length > 1 ? objects : null;
    this.waitAll = waitAll;
  }

  /** The objects waited on, in order. */
  get objects(): readonly DispatcherObject[] {
    return this.several ?? [this.first];
  }

  /** How many objects the wait is on. */
  get count(): number {
    return this.several === null ? 1 : this.several.length;
  }

  /** The `i`-th object waited on. */
  objectAt(i: number): DispatcherObject {
    return this.several === null ? this.first : (this.several[i] as DispatcherObject);
  }

  /** Where `o` is among the objects (-1 when it is not one of them). */
  indexOf(o: DispatcherObject): number {
    if (this.several === null) return o === this.first ? 0 : -1;
    return this.several.indexOf(o);
  }

  describe(): string {
    const names = this.objects.map((o) => o.describe());
    if (names.length === 1) return names[0] as string;
    return `${this.waitAll ? "all of" : "any of"} [${names.join(", ")}]`;
  }

  owners(): readonly KThread[] {
    const out: KThread[] = [];
    for (const o of this.objects) for (const t of o.owners()) if (!out.includes(t)) out.push(t);
    return out;
  }
}
