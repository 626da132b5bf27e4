/**
 * Dispatcher objects (DISPATCHER_HEADER in ntddk): things a thread can wait on with KeWaitForSingleObject /
 * KeWaitForMultipleObjects. KEVENT, KMUTEX, KTIMER and KTHREAD derive from this.
 */
import type { KThread } from "./thread.js";

/** Anything a blocked thread can be waiting for; used to explain deadlocks. */
export interface WaitReason {
  describe(): string;
  owners(): readonly KThread[];
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
  readonly objects: readonly DispatcherObject[];
  readonly waitAll: boolean;
  /** The timeout's timer entry, if the wait has one. */
  timeout: { cancelled: boolean } | null = null;
  satisfied = false;

  constructor(thread: KThread, objects: readonly DispatcherObject[], waitAll: boolean) {
    this.thread = thread;
    this.objects = objects;
    this.waitAll = waitAll;
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
