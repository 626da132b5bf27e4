/**
 * KPROCESS / KTHREAD. An emulated thread is an async function run by the kernel's scheduler; it only runs when
 * the scheduler hands it control, and gives control back only at scheduling points (a wait, a contended lock, a
 * yield point, its exit).
 */
import type { LockClassNode } from "./lockdep.js";
import { DispatcherObject, type WaitReason } from "./object.js";
import type { Witness } from "./witness.js";

export const ThreadState = {
  Initialized: 0,
  Ready: 1,
  Running: 2,
  Waiting: 3,
  Terminated: 4,
} as const;
export type ThreadStateValue = (typeof ThreadState)[keyof typeof ThreadState];

/** The user a process runs as (its access token, reduced to what a network redirector needs). */
export interface ProcessToken {
  readonly UserName: string;
  /** The password the redirector presents for default credentials (the emulator's stand-in for SSO). */
  readonly Password: string;
  readonly LogonId: string;
  readonly SessionId: number;
}

export class KProcess {
  readonly id: number;
  readonly name: string;
  readonly isSystem: boolean;
  /** Slot for the I/O manager's handle table (owned by emulator/io). */
  handleTable: unknown = null;
  /** The logged-on user; null for the System process and processes created without one. */
  token: ProcessToken | null = null;

  constructor(id: number, name: string, isSystem: boolean) {
    this.id = id;
    this.name = name;
    this.isSystem = isSystem;
  }
}

/** A lock a thread holds, for reports, exit checks and deadlock explanations. */
export interface HeldLock {
  readonly lock: LockLike;
  readonly mode: "exclusive" | "shared";
}

export interface LockLike {
  readonly lockType: string;
  readonly name: string;
  owners(): readonly KThread[];
  /** The lock-order graph's class node for this lock, cached on first use (see lockdep.ts). */
  lockClassNode?: LockClassNode | null;
}

export type ThreadEntry = (thread: KThread) => Promise<void> | void;

export class KThread extends DispatcherObject {
  readonly objectType = "KTHREAD";
  readonly id: number;
  readonly process: KProcess;
  readonly entry: ThreadEntry;
  /** True for the pseudo-thread that represents DPC (arbitrary thread) context. */
  readonly isDpcContext: boolean;
  irql = 0;
  state: ThreadStateValue = ThreadState.Initialized;
  /** Emulated call chain: DDIs, IRP dispatch routines and MRx calls currently active on this thread. */
  readonly frames: string[] = [];
  /** The last copy `callChain()` made of `frames` at each depth, handed out again while the frames are the same. */
  private readonly chainCopies: (readonly string[] | undefined)[] = [];
  /** Depth of system-service (Nt*) calls; > 0 means the thread is in kernel mode. */
  kernelDepth = 0;
  /** KernelApcDisable: KeEnterCriticalRegion / FsRtlEnterFileSystem nesting. */
  criticalRegion = 0;
  /** Locks held, in acquisition order. */
  readonly held: HeldLock[] = [];
  /** Set while Waiting: what the thread waits for. */
  waitReason: WaitReason | null = null;
  /** Idle waits (a worker waiting for work, a receive thread waiting for a packet) do not keep a run alive. */
  idleWait = false;
  /** Status the current wait completed with. */
  waitStatus = 0;
  /** The entry KeInsertQueue handed this thread while it waited in KeRemoveQueue (a thread waits on one queue). */
  queueEntry: unknown = undefined;
  /**
   * The thread waits in KeRemoveQueue without a timeout: the scheduler resumes it with `queueEntry` instead of the
   * wait status (no continuation per wait to swap one for the other).
   */
  resumeWithEntry = false;
  /** A KeWaitFor… wait pushed a call-chain frame: the scheduler pops it when the thread runs again. */
  popFrameOnResume = false;
  /** Resolver of the promise the thread is parked on (with the wait status, or the queue entry); null while running. */
  resume: ((result: unknown) => void) | null = null;
  /** The exception that ended a user-mode thread, if any. */
  error: unknown = undefined;
  /**
   * The file system's per-thread slot (ETHREAD.TopLevelIrp, IoGetTopLevelIrp / IoSetTopLevelIrp). RDBSS keeps the
   * RX_CONTEXT the thread is working for here; a field, not a `tls` entry, because it changes twice per IRP.
   */
  TopLevelIrp: unknown = null;
  /**
   * Who queued the work this thread runs now (a worker's current work item: ExQueueWorkItem's caller), or null. A
   * stop on the thread reports it beside the thread's own call chain, which begins at the worker.
   */
  queuedBy: Witness | null = null;
  /** Free-form per-thread data for higher layers (a worker's current work item, verifier bookkeeping …). */
  readonly tls: Map<string, unknown> = new Map();
  /** The scenario step this thread is running ("steps[2] t.yaml:14"), set by the scenario runner; for reports. */
  stepLabel: string | null = null;
  /**
   * The driver whose code the thread is running (DRIVER_OBJECT.DriverName), or null for the kernel, RDBSS's own
   * paths and test code: the image Driver Verifier would read from a return address. Set while DriverEntry,
   * DriverUnload and MRx routines run; a thread, DPC or work item made by driver code runs for that driver. Pool
   * blocks are charged to it, and checked when it unloads (0xC4 / 0x62).
   */
  driver: string | null = null;

  constructor(id: number, name: string, process: KProcess, entry: ThreadEntry, isDpcContext = false) {
    super(name);
    this.id = id;
    this.process = process;
    this.entry = entry;
    this.isDpcContext = isDpcContext;
  }

  isSignaledFor(): boolean {
    return this.state === ThreadState.Terminated;
  }

  acquireFor(): number {
    return 0;
  }

  get terminated(): boolean {
    return this.state === ThreadState.Terminated;
  }

  /**
   * A copy of the call chain as it is now, for a record kept past this moment (KernelCore.witness). A thread passes
   * the same chains again and again (every read completes in the same frames, a request's RDBSS and I/O manager
   * completions one frame apart), so the last copy made at this depth is reused while it still matches: a
   * comparison, not an allocation, on the paths that record one per IRP.
   */
  callChain(): readonly string[] {
    const f = this.frames;
    const n = f.length;
    const c = this.chainCopies[n];
    if (c !== undefined) {
      let i = 0;
      while (i < n && c[i] === f[i]) i++;
      if (i === n) return c;
    }
    const copy = f.slice();
    this.chainCopies[n] = copy;
    return copy;
  }

  override describe(): string {
    return `thread ${this.id} "${this.name}"`;
  }

  label(): { id: number; name: string; process: string } {
    return { id: this.id, name: this.name, process: this.process.name };
  }
}
