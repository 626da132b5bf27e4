/**
 * The RDBSS emulator: the routines of the seed pages and their family (RxCreate*, RxReference / RxDereference,
 * RxFinalize*, RxFinalizeConnection …) with their IRQL and lock preconditions declared in RDBSS_DDIS and checked
 * on every call, the MINIRDR_CALL path into mini-redirectors, the RDBSS dispatcher (worker queues in the RDBSS
 * process), cancellation, and registration / start / stop.
 *
 * Behaviour follows ../shared/reference/rdbss-semantics.md; where the documentation and ReactOS differ, the
 * profile (profile.ts) decides.
 */
import { MiniRdrFaults } from "../faults/injector.js"; // not the index: it loads zod
import type { DEVICE_OBJECT, DRIVER_OBJECT, IoSystem, IRP } from "../io/index.js";
import { IRP_MJ_DIRECTORY_CONTROL, IRP_MN_NOTIFY_CHANGE_DIRECTORY, SHARE_ACCESS } from "../io/index.js";
import {
  APC_LEVEL,
  BUGCHECK,
  DISPATCH_LEVEL,
  DList,
  type ERESOURCE,
  HIGH_LEVEL,
  KEVENT,
  type Kernel,
  type KProcess,
  type KThread,
  NT_SUCCESS,
  type NTSTATUS,
  observed,
  RDBSS_BUG_CHECK,
  STATUS,
  statusName,
  type WORK_QUEUE_TYPE,
  WorkQueueType,
} from "../kernel/index.js";
import {
  Condition,
  FCB_STATE,
  FOBX_FLAG,
  type LOCK_HOLDING_STATE,
  LockHoldingState,
  NETROOT_FLAG,
  NodeType,
  nodeTypeName,
  RDBSS_MANAGE,
  RdbssState,
  RX_CONTEXT_FLAG,
  RX_REGISTERMINI_FLAG,
  RX_SCAVENGER_MASK,
  SRVCALL_FLAG,
  SRVOPEN_FLAG,
  VALID_FCB_FILE_TYPES,
} from "./constants.js";
import { type MRX_CALLDOWN_CANCEL, RX_CONTEXT } from "./context.js";
import { type MrxRoutine, managesSrvCallExtension, RDBSS_DEVICE_OBJECT, ScavengerState } from "./device.js";
import { type MaybePromise, type MINIRDR_DISPATCH, validateDispatch } from "./dispatch.js";
import { RdbssFsd } from "./fsd.js";
import { ADD_CONNECTION_REFERENCE, childKey } from "./ledger.js";
import { MrxLog } from "./mrxlog.js";
import { type RdbssProfile, resolveProfile } from "./profile.js";
import {
  type AnyRxNode,
  FCB,
  FOBX,
  type FreedAt,
  LiveList,
  type MiniRdrExtensions,
  NET_ROOT,
  type RxNode,
  SRV_CALL,
  SRV_OPEN,
  V_NET_ROOT,
} from "./structs.js";
import { RX_FCB_TABLE, RX_PREFIX_TABLE } from "./tables.js";
import { RDBSS_CHECK_DEFAULTS, RdbssVerifier, VERIFIER_ASSERT, VERIFIER_RDBSS_CHECKS } from "./verify.js";

const { STATUS_SUCCESS, STATUS_PENDING, STATUS_CANCELLED } = STATUS;

/** What RxDereference returns when it is done at once: one settled promise, shared (nothing can change it). */
const SETTLED: Promise<void> = Promise.resolve();

const SETTLED_TRUE: Promise<boolean> = Promise.resolve(true);
const SETTLED_FALSE: Promise<boolean> = Promise.resolve(false);

/** RxFinalizeNetFobx's result once the SRV_OPEN's dereference that waited is done: the FOBX was freed. */
function fobxFreed(): boolean {
  return true;
}

/** The status of an FCB acquisition that waited (acquireExclusiveFcbNow). */
function acquiredFcb(): NTSTATUS {
  return STATUS_SUCCESS;
}

/** Lock a routine requires, as declared in the WDK pages and the reference's §1.6 table. */
export type LockRequirement = "netname-exclusive" | "netname-any" | "fcbtable-exclusive" | "fcb-exclusive" | "none";

export interface RdbssDdiSpec {
  readonly maxIrql: number;
  readonly lock: LockRequirement;
}

/** The RDBSS routines with their maximum IRQL and lock precondition (checked on every call). */
export const RDBSS_DDIS = {
  RxCreateSrvCall: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxCreateNetRoot: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxCreateVNetRoot: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxCreateNetFcb: { maxIrql: APC_LEVEL, lock: "fcbtable-exclusive" },
  RxCreateSrvOpen: { maxIrql: APC_LEVEL, lock: "fcb-exclusive" },
  RxCreateNetFobx: { maxIrql: APC_LEVEL, lock: "fcb-exclusive" },
  RxReference: { maxIrql: APC_LEVEL, lock: "none" },
  RxDereference: { maxIrql: APC_LEVEL, lock: "none" },
  RxpReferenceNetFcb: { maxIrql: APC_LEVEL, lock: "none" },
  RxpDereferenceNetFcb: { maxIrql: APC_LEVEL, lock: "none" },
  RxpDereferenceAndFinalizeNetFcb: { maxIrql: APC_LEVEL, lock: "fcb-exclusive" },
  RxFinalizeSrvCall: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxFinalizeNetRoot: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxFinalizeVNetRoot: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxFinalizeNetFcb: { maxIrql: APC_LEVEL, lock: "fcb-exclusive" },
  RxFinalizeSrvOpen: { maxIrql: APC_LEVEL, lock: "fcb-exclusive" },
  RxFinalizeNetFobx: { maxIrql: APC_LEVEL, lock: "fcb-exclusive" },
  RxFinalizeConnection: { maxIrql: APC_LEVEL, lock: "none" },
  RxForceFinalizeAllVNetRoots: { maxIrql: APC_LEVEL, lock: "netname-exclusive" },
  RxFinishFcbInitialization: { maxIrql: APC_LEVEL, lock: "none" },
  RxSetSrvCallDomainName: { maxIrql: APC_LEVEL, lock: "none" },
  // Both pages carry RDBSS's boilerplate "<= APC_LEVEL", but RxLowIoCompletion's own text describes what it does at
  // DISPATCH_LEVEL (§7), and the completion pattern it belongs to — RxSetMinirdrCancelRoutine(ctx, NULL), then
  // RxLowIoCompletion — runs in a transport's DPC-level receive indication. Holding the disarm to APC_LEVEL would
  // stop every redirector that follows the documented pattern.
  RxSetMinirdrCancelRoutine: { maxIrql: DISPATCH_LEVEL, lock: "none" },
  RxLowIoCompletion: { maxIrql: DISPATCH_LEVEL, lock: "none" },
  // A spin lock and a free to the lookaside list: callable from the DPC that ends a transport's request.
  RxDereferenceAndDeleteRxContext: { maxIrql: DISPATCH_LEVEL, lock: "none" },
  // ≤ APC_LEVEL for a mini-redirector, as both pages require; the reactos profile allows DISPATCH_LEVEL (its queue
  // takes a spin lock), and RDBSS's own posting is held to that too (`workerPostingMaxIrql`, `postToWorker`).
  RxPostToWorkerThread: { maxIrql: APC_LEVEL, lock: "none" },
  RxDispatchToWorkerThread: { maxIrql: APC_LEVEL, lock: "none" },
  RxGetRDBSSProcess: { maxIrql: HIGH_LEVEL, lock: "none" },
  RxPrefixTableLookupName: { maxIrql: APC_LEVEL, lock: "netname-any" },
  RxRegisterMinirdr: { maxIrql: APC_LEVEL, lock: "none" },
  RxStartMinirdr: { maxIrql: APC_LEVEL, lock: "none" },
  RxStopMinirdr: { maxIrql: APC_LEVEL, lock: "none" },
  RxUnregisterMinirdr: { maxIrql: APC_LEVEL, lock: "none" },
} as const satisfies Record<string, RdbssDdiSpec>;
export type RdbssDdiName = keyof typeof RDBSS_DDIS;

/** The checks RDBSS adds to the kernel's. */
export const RDBSS_CHECKS = {
  rdbssLocks: "An RDBSS routine called without the lock its documentation requires, or with a lying LockHoldingState.",
  references: "Reference-count underflow on one of the six structures; referencing a type RxReference does not take.",
  useAfterFree:
    "A SRV_CALL, NET_ROOT, V_NET_ROOT, FCB, SRV_OPEN or FOBX used after its memory was released: given to an RDBSS routine, or (tombstones) a field read or written, or its resource locked, by driver code; an RX_CONTEXT given to an RDBSS routine, or a field of it read or written by driver code, after its last reference was dropped.",
  minirdrContract:
    "Mini-redirector contracts: two-phase construction (STATUS_PENDING, exactly one callback, the context left alone after), MRxFinalizeSrvCall clears Context, fMiniInited cleared, valid FileType, pending notifications armed with a cancel routine, MRxContext[] not kept across calls, the NULL Force pointer not dereferenced, SRV_CALL state neither released early nor shared.",
  ...VERIFIER_RDBSS_CHECKS,
} as const;

/** RX_WORK_QUEUE_ITEM: a preallocated item for RxPostToWorkerThread. */
export class RX_WORK_QUEUE_ITEM {
  queued = false;
  readonly name: string;
  constructor(name = "RX_WORK_QUEUE_ITEM") {
    this.name = name;
  }
}

export type RxWorkerRoutine = (context: unknown) => MaybePromise<void>;

export interface RdbssOptions {
  readonly profile?: RdbssProfile | "docs" | "reactos";
  readonly profileOverrides?: Partial<RdbssProfile>;
  /** Keep a log of every MRx call (default true). */
  readonly logMrxCalls?: boolean;
}

/** The RDBSS_BUG_CHECK_ASSERT sub-codes the emulator uses for the RDBSS-level checks (parameter 1 low word). */
export const RDBSS_ASSERT = {
  LOCK_NOT_HELD: 0x0001,
  LOCK_STATE_LIE: 0x0002,
  REFERENCE_UNDERFLOW: 0x0003,
  BAD_NODE_TYPE: 0x0004,
  USE_AFTER_FREE: 0x0005,
  CALLBACK_TWICE: 0x0010,
  NOT_PENDING: 0x0011,
  CALLBACK_NEVER: 0x0012,
  CONTEXT_NOT_CLEARED: 0x0013,
  MINI_INITED_LEFT: 0x0014,
  BAD_FILE_TYPE: 0x0015,
  NOTIFY_WITHOUT_CANCEL: 0x0016,
  NOTIFY_LEFT_PENDING: 0x0017,
  CREATE_INFORMATION: 0x0018,
  FORCE_MUST_BE_FALSE: 0x0019,
  TABLE_NOT_EMPTY: 0x001a,
  NO_FOBX: 0x001b,
  LOWIO_COMPLETED_AND_RETURNED: 0x0025,
  ...VERIFIER_ASSERT,
} as const;

export class Rdbss {
  readonly k: Kernel;
  readonly sys: IoSystem;
  readonly profile: RdbssProfile;
  /** The profile's `workerPostingMaxIrql` as a number: the most a mini-redirector may post a work item at. */
  private readonly workerPostingMaxIrql: number;
  /** RxData.Resource */
  readonly RxDataResource: ERESOURCE;
  /** The process RxDriverEntry ran in: the "file system process". */
  readonly OurProcess: KProcess;
  /** RxActiveContexts */
  readonly ActiveContexts = new DList<RX_CONTEXT>();
  readonly devices: RDBSS_DEVICE_OBJECT[] = [];
  readonly mrxLog = new MrxLog();
  readonly logMrxCalls: boolean;
  /** Every structure allocated and not yet freed, in allocation order (for leak reports and object graphs). */
  readonly live = new LiveList();
  /**
   * Fault injection for a mini-redirector's own allocations (emulator/faults): `rx.faults.check("mymrx.alloc")` is
   * true when the run's fault plan fails this hit; with no plan it is one test.
   */
  readonly faults: MiniRdrFaults;
  private serial = 0;
  private contextSerial = 0;
  /** The reference ledger, tombstones, leak reports and the stateful contract checks (verify.ts). */
  readonly verifier: RdbssVerifier;

  constructor(kernel: Kernel, sys: IoSystem, options: RdbssOptions = {}) {
    this.k = kernel;
    this.sys = sys;
    const p = options.profile ?? "docs";
    this.profile = resolveProfile(p, options.profileOverrides ?? {});
    this.workerPostingMaxIrql = this.profile.workerPostingMaxIrql === "APC_LEVEL" ? APC_LEVEL : DISPATCH_LEVEL;
    this.RxDataResource = kernel.ExInitializeResourceLite("RxData.Resource", "RxData");
    // The documented lock order: netname table → FCB table → FCB resource (RxData.Resource before all).
    kernel.setLockRank("RxData", 0);
    kernel.setLockRank("netname table", 1);
    kernel.setLockRank("FCB table", 2);
    kernel.setLockRank("FCB", 3);
    kernel.setLockRank("FCB paging", 4);
    this.OurProcess = kernel.systemProcess;
    this.logMrxCalls = options.logMrxCalls ?? true;
    for (const [check, mode] of Object.entries(RDBSS_CHECK_DEFAULTS)) kernel.setCheckDefault(check, mode);
    this.verifier = new RdbssVerifier(this);
    this.faults = new MiniRdrFaults(() => this.k);
  }

  nextSerial(): number {
    return ++this.serial;
  }

  // ================================================================== checks

  /** Enter an RDBSS routine: IRQL check and call-chain frame. */
  enterDdi(name: RdbssDdiName, maxIrql: number): KThread {
    // `maxIrql` is the caller's constant read of RDBSS_DDIS (a lookup by name here would be a keyed load with a
    // different key at every call site).
    return this.k.enter(name, maxIrql);
  }

  leaveDdi(t: KThread): void {
    if (this.k.stopped === null) this.k.leave(t);
  }

  /** An RDBSS assertion: bug check 0x27 RDR_FILE_SYSTEM with RDBSS_BUG_CHECK_ASSERT | sub-code. */
  rdbssViolation(check: keyof typeof RDBSS_CHECKS, subCode: number, obj: object | null, reason: string, p3 = 0n): void {
    this.k.violation(
      check,
      BUGCHECK.RDR_FILE_SYSTEM,
      [BigInt((RDBSS_BUG_CHECK.ASSERT | subCode) >>> 0), obj ? this.k.addressOf(obj) : 0n, p3, 0n],
      reason,
    );
  }

  /** Use after free: any RDBSS routine given a freed structure. Bug check 0xD5 as special pool reports it. */
  checkAlive(obj: RxNode | null | undefined, routine: string): void {
    if (obj == null || obj.freed === null) return;
    const f = obj.freed;
    this.k.violation(
      "useAfterFree",
      BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
      [this.k.addressOf(obj), 0n, 0n, 0n],
      `${routine} was given ${obj.label()}, whose memory was released by ${f.by} on thread "${f.thread}" at ${(f.time / 1e7).toFixed(6)} s (call chain: ${f.callChain.join(" → ") || "—"}).${this.verifier.historyText(obj, obj.label())}`,
    );
  }

  /**
   * Use after free: an RDBSS routine given an RX_CONTEXT whose last reference was dropped. Checked before the
   * routine reads any of its fields, so the report names the routine rather than the first field it reads.
   */
  checkContext(ctx: RX_CONTEXT, routine: string): void {
    if (ctx.freedThread !== null) this.verifier.contextUsedAfterFree(ctx, routine);
  }

  /**
   * The caller must hold `res` (exclusive, or at least shared). `subject` names what the routine works on; a
   * structure is labelled only when there is something to report.
   */
  requireLock(routine: string, res: ERESOURCE, exclusive: boolean, subject: string | { label(): string }): void {
    const t = this.k.current;
    if (t === null) return;
    const ok = exclusive ? res.exclusiveOwner === t : res.exclusiveOwner === t || res.sharedCount(t) > 0;
    if (ok) return;
    const holds = res.exclusiveOwner === t ? "exclusive" : res.sharedCount(t) > 0 ? "shared" : "not at all";
    if (typeof subject !== "string") subject = subject.label();
    this.rdbssViolation(
      "rdbssLocks",
      RDBSS_ASSERT.LOCK_NOT_HELD,
      res,
      `${routine}${subject ? ` (${subject})` : ""} requires the ${res.name} held ${exclusive ? "exclusive" : "shared or exclusive"}, but thread "${t.name}" holds it ${holds}.`,
      this.k.addressOf(res),
    );
  }

  private netNameTableOf(obj: SRV_CALL | NET_ROOT | V_NET_ROOT): RX_PREFIX_TABLE {
    const sc = obj instanceof SRV_CALL ? obj : obj instanceof NET_ROOT ? obj.pSrvCall : obj.pNetRoot.pSrvCall;
    return (sc.RxDeviceObject as RDBSS_DEVICE_OBJECT).pRxNetNameTable;
  }

  deviceOf(obj: AnyRxNode): RDBSS_DEVICE_OBJECT {
    switch (obj.kind) {
      case "SRV_CALL":
        return obj.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      case "NET_ROOT":
        return obj.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      case "V_NET_ROOT":
        return obj.pNetRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      case "FCB":
        return obj.pNetRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      case "SRV_OPEN":
        return obj.pFcb.pNetRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      case "FOBX":
        return obj.pSrvOpen.pFcb.pNetRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    }
  }

  fcbTableOf(netRoot: NET_ROOT): RX_FCB_TABLE {
    return netRoot.FcbTable as RX_FCB_TABLE;
  }

  /** The lock FCB creation and final finalization require (profile fcbCreateLock). */
  fcbCreateLockOf(netRoot: NET_ROOT): ERESOURCE {
    return this.profile.fcbCreateLock === "fcb-table"
      ? this.fcbTableOf(netRoot).TableLock
      : (netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT).pRxNetNameTable.TableLock;
  }

  private freedAt(by: string, label: string): FreedAt {
    const t = this.k.current;
    return {
      by,
      thread: t ? t.name : "?",
      callChain: t ? [...t.frames] : [],
      time: this.k.now,
      label,
      step: t?.stepLabel ?? this.k.stepLabel,
    };
  }

  private free(obj: RxNode, by: string): void {
    obj.poison(this.freedAt(by, obj.label()));
    this.live.delete(obj as AnyRxNode);
    if (this.k.trace.active) this.k.emit("note", `free ${obj.label()}`, { by });
    this.verifier.buried(obj as AnyRxNode);
  }

  // ================================================================== calling the mini-redirector

  /**
   * MINIRDR_CALL: a cancelled context returns STATUS_CANCELLED without calling; MRxContext[] is zeroed; the call
   * is bracketed by scheduling points and recorded. `through` gives MINIRDR_CALL_THROUGH (no cancel check, no
   * zeroing).
   */
  callMRx<T, A = undefined>(
    dev: RDBSS_DEVICE_OBJECT,
    name: string,
    target: { label(): string } | null,
    ctx: RX_CONTEXT | null,
    fn: (arg: A) => MaybePromise<T>,
    through = false,
    args?: string,
    fnArg?: A,
  ): MaybePromise<T | NTSTATUS> {
    // Synchronous unless something makes it wait (a scheduling point that switches threads, an asynchronous MRx
    // routine): an MRx call that returns at once costs no promise. `fn` gets `fnArg`: a hot caller passes a function
    // and its argument rather than a closure per call (RxLowIoSubmit).
    const labels = this.mrxRoutine(dev, name);
    const before = this.k.schedulePoint(labels.before);
    if (before !== undefined)
      return before.then(() => this.enterMRx(dev, name, labels, target, ctx, fn, through, args, fnArg as A));
    return this.enterMRx(dev, name, labels, target, ctx, fn, through, args, fnArg as A);
  }

  private enterMRx<T, A>(
    dev: RDBSS_DEVICE_OBJECT,
    name: string,
    labels: MrxRoutine,
    target: { label(): string } | null,
    ctx: RX_CONTEXT | null,
    fn: (arg: A) => MaybePromise<T>,
    through: boolean,
    args: string | undefined,
    fnArg: A,
  ): MaybePromise<T | NTSTATUS> {
    if (ctx !== null && !through) {
      if (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return STATUS_CANCELLED;
      if (this.verifier.mrxContextTraps) this.verifier.zeroMrxContext(ctx, name);
      else ctx.MRxContext[0] = ctx.MRxContext[1] = ctx.MRxContext[2] = ctx.MRxContext[3] = null;
    }
    labels.calls++;
    const t = this.k.thread(name);
    const log = this.logMrxCalls ? this.mrxLog : null;
    const at =
      log === null
        ? -1
        : log.push(
            labels.nameId,
            labels.deviceId,
            target ? target.label() : "",
            this.threadNameId(log, t),
            this.k.now,
            args === undefined ? -1 : log.intern(args),
          );
    if (this.k.trace.active)
      this.k.emit("mrx.enter", name, {
        target: target ? target.label() : "",
        device: dev.MiniRdrName,
        irp: ctx?.CurrentIrp?.id ?? 0,
      });
    t.frames.push(labels.frame);
    // The mini-redirector's code runs on this thread until the call returns (its pool is charged to it).
    const caller = t.driver;
    t.driver = labels.driver;
    let v: MaybePromise<T>;
    try {
      v = fn(fnArg);
    } catch (e) {
      if (this.k.stopped === null) {
        t.frames.pop();
        t.driver = caller;
      }
      throw e;
    }
    if (v instanceof Promise) {
      return v.then(
        (r) => this.leaveMRx(t, name, labels, log, at, r, caller),
        (e: unknown) => {
          if (this.k.stopped === null) {
            t.frames.pop();
            t.driver = caller;
          }
          throw e;
        },
      );
    }
    return this.leaveMRx(t, name, labels, log, at, v, caller);
  }

  private leaveMRx<T>(
    t: KThread,
    name: string,
    labels: MrxRoutine,
    log: MrxLog | null,
    at: number,
    r: T,
    caller: string | null,
  ): MaybePromise<T> {
    t.driver = caller;
    if (this.k.stopped === null) t.frames.pop();
    if (this.k.trace.active) this.k.emit("mrx.exit", name, typeof r === "number" ? { status: statusName(r) } : {});
    if (log !== null && typeof r === "number") log.setStatus(at, this.statusId(log, r));
    const after = this.k.schedulePoint(labels.after);
    if (after !== undefined) return after.then(() => r);
    return r;
  }

  /** The MRx log's interned id of a status name, cached per status (and the last one on its own: no Map lookup). */
  private readonly statusIds = new Map<number, number>();
  private lastStatus = Number.NaN;
  private lastStatusId = -1;
  private statusId(log: MrxLog, status: number): number {
    if (status === this.lastStatus) return this.lastStatusId;
    let id = this.statusIds.get(status);
    if (id === undefined) {
      id = log.intern(statusName(status));
      this.statusIds.set(status, id);
    }
    this.lastStatus = status;
    this.lastStatusId = id;
    return id;
  }

  /** The MRx log's interned id of a thread's name; the last thread's is kept (calls come in runs from one thread). */
  private lastLogThread: KThread | null = null;
  private lastLogThreadId = -1;
  private threadNameId(log: MrxLog, t: KThread): number {
    if (t !== this.lastLogThread) {
      this.lastLogThreadId = log.intern(t.name);
      this.lastLogThread = t;
    }
    return this.lastLogThreadId;
  }

  /** The last routine `mrxRoutine` answered: a read or write loop calls one routine over and over. */
  private lastRoutineDev: RDBSS_DEVICE_OBJECT | null = null;
  private lastRoutineName = "";
  private lastRoutine: MrxRoutine | null = null;

  /** An MRx routine's labels, frame, log ids and call count on a device, built on its first call there. */
  mrxRoutine(dev: RDBSS_DEVICE_OBJECT, name: string): MrxRoutine {
    if (name === this.lastRoutineName && dev === this.lastRoutineDev) return this.lastRoutine as MrxRoutine;
    let l = dev.mrxRoutines.get(name);
    if (l === undefined) {
      l = {
        before: `before ${name}`,
        after: `after ${name}`,
        frame: `${name} [${dev.MiniRdrName}]`,
        nameId: this.mrxLog.intern(name),
        deviceId: this.mrxLog.intern(dev.MiniRdrName),
        driver: dev.device.DriverObject.DriverName,
        calls: 0,
      };
      dev.mrxRoutines.set(name, l);
    }
    this.lastRoutineDev = dev;
    this.lastRoutineName = name;
    this.lastRoutine = l;
    return l;
  }

  /** How many times an MRx entry was called on a device (all devices when omitted). */
  mrxCallCount(name: string, dev?: RDBSS_DEVICE_OBJECT): number {
    if (dev) return dev.mrxCallCount(name);
    let n = 0;
    for (const d of this.devices) n += d.mrxCallCount(name);
    return n;
  }

  // ================================================================== locks (RxAcquire… helpers)

  /** Acquire an ERESOURCE, waiting if needed. */
  async acquire(res: ERESOURCE, exclusive: boolean): Promise<void> {
    const r = exclusive
      ? this.k.ExAcquireResourceExclusiveLite(res, true)
      : this.k.ExAcquireResourceSharedLite(res, true);
    if (r !== true) await r;
  }

  /**
   * `acquire` for RDBSS's own paths: undefined when the resource was granted at once, else the wait. Callers write
   * `const w = rx.acquireNow(…); if (w) await w;`, so that an uncontended lock costs no promise and no suspension:
   * awaiting even a settled value suspends the async caller for a microtask turn (≈ 750 instructions with the
   * callee's promise, against ≈ 10 for the plain call). Waits and grants happen exactly as through `acquire`.
   */
  acquireNow(res: ERESOURCE, exclusive: boolean): Promise<boolean> | undefined {
    const r = exclusive
      ? this.k.ExAcquireResourceExclusiveLite(res, true)
      : this.k.ExAcquireResourceSharedLite(res, true);
    return typeof r === "boolean" ? undefined : r;
  }

  release(res: ERESOURCE): void {
    this.k.ExReleaseResourceLite(res);
  }

  RxAcquirePrefixTableLockExclusive(table: RX_PREFIX_TABLE, wait = true): MaybePromise<boolean> {
    return this.k.ExAcquireResourceExclusiveLite(table.TableLock, wait);
  }

  RxAcquirePrefixTableLockShared(table: RX_PREFIX_TABLE, wait = true): MaybePromise<boolean> {
    return this.k.ExAcquireResourceSharedLite(table.TableLock, wait);
  }

  RxReleasePrefixTableLock(table: RX_PREFIX_TABLE): void {
    this.k.ExReleaseResourceLite(table.TableLock);
  }

  /** RxAcquireExclusiveFcb (no RX_CONTEXT): returns STATUS_SUCCESS, or STATUS_CANCELLED for a cancelled context. */
  RxAcquireExclusiveFcb(ctx: RX_CONTEXT | null, fcb: FCB): Promise<NTSTATUS> {
    return observed(this.doAcquireExclusiveFcb(ctx, fcb));
  }

  private async doAcquireExclusiveFcb(ctx: RX_CONTEXT | null, fcb: FCB): Promise<NTSTATUS> {
    this.checkAlive(fcb, "RxAcquireExclusiveFcb");
    if (ctx !== null) this.checkContext(ctx, "RxAcquireExclusiveFcb");
    if (ctx && ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return STATUS_CANCELLED;
    await this.acquire(fcb.Header.Resource, true);
    return STATUS_SUCCESS;
  }

  /**
   * RxAcquireExclusiveFcb for RDBSS's own create path: the status itself when the FCB was granted at once (or the
   * context is cancelled), else a promise of it. The same checks and the same acquisition as RxAcquireExclusiveFcb.
   */
  acquireExclusiveFcbNow(ctx: RX_CONTEXT | null, fcb: FCB): MaybePromise<NTSTATUS> {
    this.checkAlive(fcb, "RxAcquireExclusiveFcb");
    if (ctx && ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return STATUS_CANCELLED;
    const w = this.acquireNow(fcb.Header.Resource, true);
    return w === undefined ? STATUS_SUCCESS : w.then(acquiredFcb);
  }

  RxAcquireSharedFcb(ctx: RX_CONTEXT | null, fcb: FCB): Promise<NTSTATUS> {
    return observed(this.doAcquireSharedFcb(ctx, fcb));
  }

  private async doAcquireSharedFcb(ctx: RX_CONTEXT | null, fcb: FCB): Promise<NTSTATUS> {
    this.checkAlive(fcb, "RxAcquireSharedFcb");
    if (ctx !== null) this.checkContext(ctx, "RxAcquireSharedFcb");
    if (ctx && ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return STATUS_CANCELLED;
    await this.acquire(fcb.Header.Resource, false);
    return STATUS_SUCCESS;
  }

  RxReleaseFcb(_ctx: RX_CONTEXT | null, fcb: FCB): void {
    this.checkAlive(fcb, "RxReleaseFcb");
    this.k.ExReleaseResourceLite(fcb.Header.Resource);
  }

  RxIsFcbAcquiredExclusive(fcb: FCB): boolean {
    return this.k.ExIsResourceAcquiredExclusiveLite(fcb.Header.Resource);
  }

  /** The resource of an FCB after its final free: its holders no longer hold anything. */
  private retireResource(res: ERESOURCE): void {
    for (const t of res.owners()) {
      if (this.k.trace.active) this.k.emit("lock.release", res.name, { type: "ERESOURCE", owner: t.id, retired: true });
      const i = t.held.findIndex((h) => h.lock === res);
      if (i >= 0) t.held.splice(i, 1);
    }
    res.exclusiveOwner = null;
    res.exclusiveCount = 0;
    res.clearShared();
    res.deleted = true;
  }

  // ================================================================== creating the structures

  private extension<T>(dev: RDBSS_DEVICE_OBJECT, bit: number, factory: (() => T) | undefined): T | null {
    return dev.Dispatch.MRxFlags & bit && factory ? factory() : null;
  }

  /**
   * RxCreateSrvCall: a SRV_CALL in the netname table (count 1). Requires the netname table exclusive. NULL when the
   * allocation fails (fault site RxCreateSrvCall).
   */
  RxCreateSrvCall(
    ctx: RX_CONTEXT | null,
    name: string,
    _innerNamePrefix: string | null,
    connectionId = "",
  ): SRV_CALL | null {
    const t = this.enterDdi("RxCreateSrvCall", RDBSS_DDIS.RxCreateSrvCall.maxIrql);
    const dev = (ctx?.RxDeviceObject ?? this.devices[0]) as RDBSS_DEVICE_OBJECT;
    this.requireLock("RxCreateSrvCall", dev.pRxNetNameTable.TableLock, true, name);
    if (this.k.faults !== null && this.k.faults.hit("RxCreateSrvCall", name) !== null) {
      this.leaveDdi(t);
      return null;
    }
    const sc = new SRV_CALL(this.nextSerial(), name, dev, connectionId);
    this.live.add(sc);
    this.verifier.track(sc);
    sc.Context = this.extension(dev, RDBSS_MANAGE.RDBSS_MANAGE_SRV_CALL_EXTENSION, dev.Dispatch.MRxSrvCallExtension);
    sc.SerialNumberForEnum = sc.serial;
    dev.pRxNetNameTable.insert({
      Prefix: name,
      CaseInsensitiveLength: name.length,
      ConnectionId: connectionId,
      ContainingRecord: sc,
    });
    sc.NodeReferenceCount = 1;
    this.leaveDdi(t);
    return sc;
  }

  /** RxCreateNetRoot: a NET_ROOT "\server\share" referencing its SRV_CALL. Requires the netname table exclusive. */
  RxCreateNetRoot(srvCall: SRV_CALL, name: string, netRootFlags = 0, connectionId = ""): NET_ROOT | null {
    const t = this.enterDdi("RxCreateNetRoot", RDBSS_DDIS.RxCreateNetRoot.maxIrql);
    this.checkAlive(srvCall, "RxCreateNetRoot");
    const dev = srvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    this.requireLock("RxCreateNetRoot", dev.pRxNetNameTable.TableLock, true, name);
    const full = name.toUpperCase().startsWith(srvCall.pSrvCallName.toUpperCase()) ? name : srvCall.pSrvCallName + name;
    if (full.length * 2 > 0xffff || (this.k.faults !== null && this.k.faults.hit("RxCreateNetRoot", full) !== null)) {
      this.leaveDdi(t);
      return null;
    }
    const nr = new NET_ROOT(this.nextSerial(), srvCall, full, connectionId);
    this.live.add(nr);
    this.verifier.track(nr);
    nr.Context = this.extension(dev, RDBSS_MANAGE.RDBSS_MANAGE_NET_ROOT_EXTENSION, dev.Dispatch.MRxNetRootExtension);
    const caseInsensitive = (srvCall.Flags & SRVCALL_FLAG.SRVCALL_FLAG_CASE_INSENSITIVE_NETROOTS) !== 0;
    dev.pRxNetNameTable.insert({
      Prefix: full,
      CaseInsensitiveLength: caseInsensitive ? full.length : srvCall.pSrvCallName.length,
      ConnectionId: connectionId,
      ContainingRecord: nr,
    });
    nr.NodeReferenceCount = 1;
    nr.Flags |= netRootFlags;
    const lock = this.k.ExInitializeResourceLite(`FCB table of ${full}`, "FCB table");
    nr.FcbTable = new RX_FCB_TABLE(lock, true);
    this.referenceInternal(srvCall, "RxCreateNetRoot (NET_ROOT → SRV_CALL)", nr);
    this.leaveDdi(t);
    return nr;
  }

  /** RxCreateVNetRoot: a V_NET_ROOT referencing its NET_ROOT, linked into its list. Requires the netname table exclusive. */
  RxCreateVNetRoot(
    ctx: RX_CONTEXT | null,
    netRoot: NET_ROOT,
    canonicalName: string,
    _localNetRootName: string,
    filePath: string,
    connectionId = "",
  ): V_NET_ROOT | null {
    const t = this.enterDdi("RxCreateVNetRoot", RDBSS_DDIS.RxCreateVNetRoot.maxIrql);
    this.checkAlive(netRoot, "RxCreateVNetRoot");
    const dev = netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    this.requireLock("RxCreateVNetRoot", dev.pRxNetNameTable.TableLock, true, canonicalName);
    if (this.k.faults !== null && this.k.faults.hit("RxCreateVNetRoot", canonicalName) !== null) {
      this.leaveDdi(t);
      return null;
    }
    const proc = ctx?.OriginalThread?.process ?? t.process;
    const logonId = ctx?.Create.UserName ?? processLogonId(proc);
    const vnr = new V_NET_ROOT(this.nextSerial(), netRoot, canonicalName, filePath, logonId, connectionId);
    this.live.add(vnr);
    this.verifier.track(vnr);
    vnr.Context = this.extension(
      dev,
      RDBSS_MANAGE.RDBSS_MANAGE_V_NET_ROOT_EXTENSION,
      dev.Dispatch.MRxVNetRootExtension,
    );
    if (ctx) {
      vnr.pUserName = ctx.Create.UserName;
      vnr.pPassword = ctx.Create.Password;
      vnr.pUserDomainName = ctx.Create.UserDomainName;
      vnr.IsExplicitConnection = ctx.Create.UserName !== null;
    }
    vnr.SessionId = processSessionId(proc);
    dev.pRxNetNameTable.insert({
      Prefix: canonicalName,
      CaseInsensitiveLength: canonicalName.length,
      ConnectionId: connectionId,
      ContainingRecord: vnr,
    });
    vnr.NodeReferenceCount = 1;
    this.referenceInternal(netRoot, "RxCreateVNetRoot (V_NET_ROOT → NET_ROOT)", vnr);
    netRoot.VirtualNetRoots.push(vnr);
    netRoot.NumberOfVirtualNetRoots++;
    if (netRoot.DefaultVNetRoot === null) netRoot.DefaultVNetRoot = vnr;
    this.leaveDdi(t);
    return vnr;
  }

  /**
   * RxCreateNetFcb: an FCB for `name` (relative to the NET_ROOT) in the FCB table, referencing its V_NET_ROOT;
   * count 2 (table + creator). Requires the FCB table exclusive. NULL when the allocation fails (fault site
   * RxCreateNetFcb).
   */
  RxCreateNetFcb(ctx: RX_CONTEXT | null, vNetRoot: V_NET_ROOT, name: string): FCB | null {
    const t = this.enterDdi("RxCreateNetFcb", RDBSS_DDIS.RxCreateNetFcb.maxIrql);
    this.checkAlive(vNetRoot, "RxCreateNetFcb");
    if (ctx !== null) this.checkContext(ctx, "RxCreateNetFcb");
    const netRoot = vNetRoot.pNetRoot;
    const dev = netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const table = this.fcbTableOf(netRoot);
    if (this.profile.fcbCreateLock === "fcb-table") this.requireLock("RxCreateNetFcb", table.TableLock, true, name);
    else this.requireLock("RxCreateNetFcb", dev.pRxNetNameTable.TableLock, true, name);
    const k = this.k;
    if (k.faults !== null && k.faults.hit("RxCreateNetFcb", `${netRoot.pNetRootName}${name}`) !== null) {
      this.leaveDdi(t);
      return null;
    }
    const fcb = new FCB(
      this.nextSerial(),
      netRoot,
      vNetRoot,
      name,
      k.ExInitializeResourceLite("FCB", "FCB"),
      new SHARE_ACCESS(),
    );
    // Named by the FCB from now on (FCB.resourceName): "FCB \\srv\\share\\a.txt".
    fcb.Header.Resource.nameBy(fcb);
    this.live.add(fcb);
    this.verifier.track(fcb);
    fcb.Context = this.extension(dev, RDBSS_MANAGE.RDBSS_MANAGE_FCB_EXTENSION, dev.Dispatch.MRxFcbExtension);
    fcb.FcbState |= FCB_STATE.FCB_STATE_COLLAPSING_ENABLED;
    table.insert(fcb);
    if (this.profile.fcbReferences === "v-net-root")
      this.referenceInternal(vNetRoot, "RxCreateNetFcb (FCB → V_NET_ROOT)", fcb);
    else this.referenceInternal(netRoot, "RxCreateNetFcb (FCB → NET_ROOT)", fcb);
    netRoot.NumberOfFcbs++;
    dev.NumberOfActiveFcbs++;
    fcb.NodeReferenceCount = 2;
    if (ctx) ctx.pFcb = fcb;
    this.leaveDdi(t);
    return fcb;
  }

  /**
   * RxCreateSrvOpen: count 1; references the V_NET_ROOT and the FCB. Requires the FCB exclusive. NULL when the
   * allocation fails (fault site RxCreateSrvOpen).
   */
  RxCreateSrvOpen(vNetRoot: V_NET_ROOT, fcb: FCB): SRV_OPEN | null {
    const t = this.enterDdi("RxCreateSrvOpen", RDBSS_DDIS.RxCreateSrvOpen.maxIrql);
    this.checkAlive(fcb, "RxCreateSrvOpen");
    this.checkAlive(vNetRoot, "RxCreateSrvOpen");
    this.requireLock("RxCreateSrvOpen", fcb.Header.Resource, true, fcb);
    if (this.k.faults !== null && this.k.faults.hit("RxCreateSrvOpen", fcb.label()) !== null) {
      this.leaveDdi(t);
      return null;
    }
    const dev = this.deviceOf(fcb);
    const so = new SRV_OPEN(this.nextSerial(), fcb, vNetRoot);
    this.live.add(so);
    this.verifier.track(so);
    so.Context = this.extension(dev, RDBSS_MANAGE.RDBSS_MANAGE_SRV_OPEN_EXTENSION, dev.Dispatch.MRxSrvOpenExtension);
    so.NodeReferenceCount = 1;
    so.Condition = Condition.Condition_InTransition;
    this.referenceInternal(vNetRoot, "RxCreateSrvOpen (SRV_OPEN → V_NET_ROOT)", so);
    this.verifier.take(fcb, "RxCreateSrvOpen (SRV_OPEN → FCB)", so);
    this.fcbRef(fcb);
    fcb.addSrvOpen(so);
    fcb.SrvOpenListVersion++;
    fcb.pNetRoot.NumberOfSrvOpens++;
    this.leaveDdi(t);
    return so;
  }

  /**
   * RxCreateNetFobx: called by the mini-redirector at the end of a successful MRxCreate. Count 1; references the
   * SRV_OPEN. Requires the FCB exclusive. Returns the FOBX (store it in RxContext->pFobx), or NULL when the
   * allocation fails (fault site RxCreateNetFobx): the mini-redirector must then undo its open and fail MRxCreate.
   */
  RxCreateNetFobx(ctx: RX_CONTEXT, srvOpen: SRV_OPEN): FOBX | null {
    const t = this.enterDdi("RxCreateNetFobx", RDBSS_DDIS.RxCreateNetFobx.maxIrql);
    this.checkAlive(srvOpen, "RxCreateNetFobx");
    this.checkContext(ctx, "RxCreateNetFobx");
    const fcb = srvOpen.pFcb;
    this.requireLock("RxCreateNetFobx", fcb.Header.Resource, true, fcb);
    if (this.k.faults !== null && this.k.faults.hit("RxCreateNetFobx", srvOpen.label()) !== null) {
      this.leaveDdi(t);
      return null;
    }
    const dev = this.deviceOf(fcb);
    const fobx = new FOBX(this.nextSerial(), srvOpen);
    this.live.add(fobx);
    this.verifier.track(fobx);
    fobx.Context = this.extension(dev, RDBSS_MANAGE.RDBSS_MANAGE_FOBX_EXTENSION, dev.Dispatch.MRxFobxExtension);
    fobx.NodeReferenceCount = 1;
    fobx.FobxSerialNumber = 0;
    if (ctx.Create.CanonicalName.startsWith("\\;:")) fobx.Flags |= FOBX_FLAG.FOBX_FLAG_UNC_NAME;
    if (ctx.Create.NtCreateParameters.CreateOptions & 0x4000) fobx.Flags |= FOBX_FLAG.FOBX_FLAG_BACKUP_INTENT;
    this.referenceInternal(srvOpen, "RxCreateNetFobx (FOBX → SRV_OPEN)", fobx);
    if (srvOpen.pVNetRoot) srvOpen.pVNetRoot.NumberOfFobxs++;
    srvOpen.addFobx(fobx);
    this.leaveDdi(t);
    return fobx;
  }

  // ================================================================== references

  /** Increment without the DDI checks (RDBSS-internal references); `by` names the holder in the ledger. */
  referenceInternal(obj: AnyRxNode, by: string, child?: AnyRxNode): void {
    this.verifier.take(obj, by, child);
    obj.NodeReferenceCount++;
    if (obj.scavengerMarked) this.undoScavengerMark(obj);
  }

  private fcbRef(fcb: FCB): number {
    return ++fcb.NodeReferenceCount;
  }

  /**
   * RxReference: SRV_CALL, NET_ROOT, V_NET_ROOT, SRV_OPEN or FOBX. A reference rescues an object marked for
   * scavenged finalization (the mark's extra reference is dropped).
   */
  RxReference(obj: AnyRxNode): void {
    const t = this.enterDdi("RxReference", RDBSS_DDIS.RxReference.maxIrql);
    this.checkAlive(obj, "RxReference");
    if (obj.kind === "FCB") {
      this.rdbssViolation(
        "references",
        RDBSS_ASSERT.BAD_NODE_TYPE,
        obj,
        `RxReference was given ${obj.label()}: FCBs are referenced with RxpReferenceNetFcb, not RxReference.`,
      );
    } else this.referenceInternal(obj, "RxReference");
    this.leaveDdi(t);
  }

  /**
   * RxDereference: decrement; at the threshold, finalize now if the caller holds the right lock exclusive
   * (the netname table for SRV_CALL / NET_ROOT / V_NET_ROOT, the FCB for SRV_OPEN / FOBX), otherwise mark the
   * object for scavenged finalization. The declared LockHoldingState is checked against what the thread holds.
   */
  RxDereference(obj: AnyRxNode, lockHoldingState: LOCK_HOLDING_STATE): Promise<void> {
    let w: Promise<void> | undefined;
    try {
      w = this.dereferenceNow(obj, lockHoldingState);
    } catch (e) {
      // As from an async routine: a throw (a stop) rejects the promise the caller holds.
      return observed(Promise.reject(e));
    }
    return w === undefined ? SETTLED : observed(w);
  }

  /**
   * RxDereference for RDBSS's own paths: undefined when it is done at once (most drops finalize nothing), else a
   * promise of the finalization it started. Throws what RxDereference's promise would reject with.
   */
  dereferenceNow(obj: AnyRxNode, lockHoldingState: LOCK_HOLDING_STATE): Promise<void> | undefined {
    const t = this.enterDdi("RxDereference", RDBSS_DDIS.RxDereference.maxIrql);
    let tail: Promise<unknown> | undefined;
    try {
      this.checkAlive(obj, "RxDereference");
      if (obj.kind === "FCB") {
        this.rdbssViolation(
          "references",
          RDBSS_ASSERT.BAD_NODE_TYPE,
          obj,
          `RxDereference was given ${obj.label()}: FCBs are dereferenced with RxpDereferenceNetFcb / RxpDereferenceAndFinalizeNetFcb.`,
        );
        return undefined;
      }
      const table = obj.kind === "SRV_CALL" || obj.kind === "NET_ROOT" || obj.kind === "V_NET_ROOT";
      const res = table
        ? this.netNameTableOf(obj).TableLock
        : (obj.kind === "SRV_OPEN" ? obj.pFcb : obj.pSrvOpen.pFcb).Header.Resource;
      this.checkLockHoldingState(obj, res, lockHoldingState);
      const n = --obj.NodeReferenceCount;
      if (n < 0) {
        obj.NodeReferenceCount = 0;
        this.rdbssViolation(
          "references",
          RDBSS_ASSERT.REFERENCE_UNDERFLOW,
          obj,
          `RxDereference took ${obj.label()} below zero: a reference was dropped that was never taken (or dropped twice).${this.verifier.historyText(obj, obj.label())}`,
        );
        return undefined;
      }
      if (n > 1) return undefined;
      if (lockHoldingState !== LockHoldingState.LHS_ExclusiveLockHeld) {
        if ((table && n <= 1) || (obj.kind === "FOBX" && n === 0)) this.markForScavenge(obj);
        return undefined;
      }
      if (obj.scavengerMarked) this.undoScavengerMark(obj);
      switch (obj.kind) {
        case "SRV_CALL":
          tail = this.RxFinalizeSrvCall(obj, true);
          break;
        case "NET_ROOT":
          tail = this.RxFinalizeNetRoot(obj, true, true);
          break;
        case "V_NET_ROOT":
          tail = this.RxFinalizeVNetRoot(obj, true, true);
          break;
        case "SRV_OPEN":
          if (obj.OpenCount === 0) tail = this.RxFinalizeSrvOpen(obj, false, false);
          break;
        case "FOBX": {
          const f = this.finalizeNetFobxNow(obj, false);
          if (typeof f !== "boolean") tail = f;
          break;
        }
      }
      return tail === undefined ? undefined : this.leaveDdiAfter(t, tail);
    } finally {
      // The frame goes now unless a finalization is under way (leaveDdiAfter takes it then).
      if (tail === undefined) this.leaveDdi(t);
    }
  }

  /** The end of an RDBSS routine that waits for `p` in its last step: its frame goes when `p` settles. */
  private async leaveDdiAfter(t: KThread, p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } finally {
      this.leaveDdi(t);
    }
  }

  /** `leaveDdiAfter` for a routine whose result is `p`'s. */
  private async leaveDdiWith<T>(t: KThread, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } finally {
      this.leaveDdi(t);
    }
  }

  private checkLockHoldingState(obj: AnyRxNode, res: ERESOURCE, lhs: LOCK_HOLDING_STATE): void {
    const t = this.k.current;
    if (t === null || lhs === LockHoldingState.LHS_LockNotHeld) return;
    const excl = res.exclusiveOwner === t;
    const any = excl || res.sharedCount(t) > 0;
    const lie =
      (lhs === LockHoldingState.LHS_ExclusiveLockHeld && !excl) ||
      (lhs === LockHoldingState.LHS_SharedLockHeld && !any);
    if (!lie) return;
    this.rdbssViolation(
      "rdbssLocks",
      RDBSS_ASSERT.LOCK_STATE_LIE,
      obj,
      `RxDereference(${obj.label()}, ${lhs === LockHoldingState.LHS_ExclusiveLockHeld ? "LHS_ExclusiveLockHeld" : "LHS_SharedLockHeld"}) but thread "${t.name}" holds the ${res.name} ${excl ? "exclusive" : any ? "shared" : "not at all"}. Finalizing without the lock races concurrent lookups (use after free).`,
      this.k.addressOf(res),
    );
  }

  /** RxpReferenceNetFcb: plain increment; returns the new count. */
  RxpReferenceNetFcb(fcb: FCB): number {
    const t = this.enterDdi("RxpReferenceNetFcb", RDBSS_DDIS.RxpReferenceNetFcb.maxIrql);
    this.checkAlive(fcb, "RxpReferenceNetFcb");
    const n = this.fcbRef(fcb);
    this.leaveDdi(t);
    return n;
  }

  /** RxpDereferenceNetFcb: plain decrement, never finalizes; returns the new count. */
  RxpDereferenceNetFcb(fcb: FCB): number {
    const t = this.enterDdi("RxpDereferenceNetFcb", RDBSS_DDIS.RxpDereferenceNetFcb.maxIrql);
    this.checkAlive(fcb, "RxpDereferenceNetFcb");
    const n = --fcb.NodeReferenceCount;
    if (n < 0) {
      fcb.NodeReferenceCount = 0;
      this.rdbssViolation(
        "references",
        RDBSS_ASSERT.REFERENCE_UNDERFLOW,
        fcb,
        `RxpDereferenceNetFcb took ${fcb.label()} below zero.${this.verifier.historyText(fcb, fcb.label())}`,
      );
    }
    this.leaveDdi(t);
    return n;
  }

  // ================================================================== finalization

  /**
   * RxFinalizeSrvCall: requires the netname table exclusive; finalizes only at count 1 unless forced. The upper
   * finalization removes the name and calls MRxFinalizeSrvCall exactly once — inline under the caller's lock, or
   * (depending on the calling process and the profile) from a delayed worker without the lock, in which case TRUE
   * means "will be freed" and the memory is released only after MRxFinalizeSrvCall returns. TRUE only when the count
   * was 1; a forced call at a higher count finalizes the upper part and returns FALSE, on either path.
   */
  RxFinalizeSrvCall(srvCall: SRV_CALL, forceFinalize: boolean): Promise<boolean> {
    return observed(this.doFinalizeSrvCall(srvCall, forceFinalize));
  }

  private async doFinalizeSrvCall(srvCall: SRV_CALL, forceFinalize: boolean): Promise<boolean> {
    const t = this.enterDdi("RxFinalizeSrvCall", RDBSS_DDIS.RxFinalizeSrvCall.maxIrql);
    try {
      this.checkAlive(srvCall, "RxFinalizeSrvCall");
      const dev = srvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      this.requireLock("RxFinalizeSrvCall", dev.pRxNetNameTable.TableLock, true, srvCall);
      if (srvCall.NodeReferenceCount !== 1 && !forceFinalize) return false;
      if (!srvCall.UpperFinalizationDone) {
        dev.pRxNetNameTable.remove(srvCall);
        if (forceFinalize) srvCall.Flags |= SRVCALL_FLAG.SRVCALL_FLAG_FORCE_FINALIZED;
        srvCall.UpperFinalizationDone = true;
        const inRdbss = t.process === this.OurProcess;
        const post = this.profile.srvCallFinalizePostedFrom === "non-rdbss-process" ? !inRdbss : inRdbss;
        if (post) {
          const willFree = srvCall.NodeReferenceCount === 1;
          this.referenceInternal(srvCall, "RxFinalizeSrvCall (posted destroy)");
          srvCall.destroyPosted = true;
          this.verifier.destroyPosted(srvCall);
          const st = this.postToWorker(
            dev,
            WorkQueueType.DelayedWorkQueue,
            () => this.destroySrvCall(srvCall, forceFinalize),
            srvCall,
            `RxpDestroySrvCall ${srvCall.label()}`,
          );
          if (NT_SUCCESS(st)) return willFree;
          // The dispatcher is gone (the device is spinning down): finalize inline instead.
          srvCall.destroyPosted = false;
          this.verifier.drop(srvCall, "RxFinalizeSrvCall (posted destroy)");
          srvCall.NodeReferenceCount--;
        }
        await this.miniFinalizeSrvCall(srvCall, forceFinalize);
      }
      if (srvCall.NodeReferenceCount === 1) {
        srvCall.pDomainName = null;
        this.free(srvCall, "RxFinalizeSrvCall");
        return true;
      }
      // Forced at a count above 1: the name is gone and MRxFinalizeSrvCall has run, but the memory stays until the
      // last reference goes, so "the finalization did not occur" (page 000) — FALSE, as the posted path answers for
      // the same call and as RDBSS's own NodeActuallyFinalized does.
      return false;
    } finally {
      this.leaveDdi(t);
    }
  }

  /** MRxFinalizeSrvCall, exactly once, then the Context check (it must clear Context and Context2). */
  private async miniFinalizeSrvCall(srvCall: SRV_CALL, force: boolean): Promise<void> {
    if (srvCall.miniFinalized) return;
    srvCall.miniFinalized = true;
    const dev = srvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    const mrx = dev.Dispatch.MRxFinalizeSrvCall;
    this.verifier.beforeFinalizeSrvCall(srvCall);
    if (mrx)
      await this.verifier.finalizingSrvCall(srvCall, () =>
        this.callMRx(
          dev,
          "MRxFinalizeSrvCall",
          srvCall,
          null,
          () => mrx.call(dev.Dispatch, srvCall, force),
          true,
          force ? "TRUE" : "FALSE",
        ),
      );
    if ((!managesSrvCallExtension(srvCall) && srvCall.Context !== null) || srvCall.Context2 !== null) {
      this.rdbssViolation(
        "minirdrContract",
        RDBSS_ASSERT.CONTEXT_NOT_CLEARED,
        srvCall,
        `After MRxFinalizeSrvCall, ${srvCall.label()} still has ${srvCall.Context2 !== null ? "Context2" : "Context"} set: the mini-redirector must free its connection state and clear both (RxFreeObject asserts they are NULL).`,
      );
    }
  }

  /** RxpDestroySrvCall, on a delayed worker: MRxFinalizeSrvCall without the lock, then free under it. */
  private async destroySrvCall(srvCall: SRV_CALL, force: boolean): Promise<void> {
    await this.miniFinalizeSrvCall(srvCall, force);
    const dev = srvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    await this.acquire(dev.pRxNetNameTable.TableLock, true);
    srvCall.destroyPosted = false;
    this.verifier.drop(srvCall, "RxFinalizeSrvCall (posted destroy)");
    srvCall.NodeReferenceCount--;
    await this.RxFinalizeSrvCall(srvCall, force);
    this.release(dev.pRxNetNameTable.TableLock);
  }

  /**
   * RxFinalizeNetRoot: requires the netname table exclusive. Sets FINALIZATION_IN_PROGRESS; with `recursive`
   * purges FCBs; frees at count 1 (even when forced it needs count 1) and dereferences the SRV_CALL. It does not
   * call MRxFinalizeNetRoot (that happens when the last V_NET_ROOT goes).
   */
  RxFinalizeNetRoot(netRoot: NET_ROOT, recursive: boolean, _force: boolean): Promise<boolean> {
    return observed(this.doFinalizeNetRoot(netRoot, recursive, _force));
  }

  private async doFinalizeNetRoot(netRoot: NET_ROOT, recursive: boolean, _force: boolean): Promise<boolean> {
    const t = this.enterDdi("RxFinalizeNetRoot", RDBSS_DDIS.RxFinalizeNetRoot.maxIrql);
    try {
      this.checkAlive(netRoot, "RxFinalizeNetRoot");
      const dev = netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      this.requireLock("RxFinalizeNetRoot", dev.pRxNetNameTable.TableLock, true, netRoot);
      if (netRoot.Flags & NETROOT_FLAG.NETROOT_FLAG_FINALIZATION_IN_PROGRESS) return false;
      netRoot.Flags |= NETROOT_FLAG.NETROOT_FLAG_FINALIZATION_IN_PROGRESS;
      const table = this.fcbTableOf(netRoot);
      if (recursive && table.size > 0) {
        await this.acquire(table.TableLock, true);
        const orphanedOnly = this.profile.finalizeNetRootPurges === "orphaned";
        for (const fcb of table.all()) {
          const orphaned = (fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) !== 0;
          if (orphaned !== orphanedOnly) continue;
          await this.purgeFcb(fcb);
        }
        this.release(table.TableLock);
      }
      if (netRoot.NodeReferenceCount !== 1) {
        if (!_force) this.verifier.prematureNetRootFinalize(netRoot, this.profile.finalizeNetRootStickyFlag);
        if (!this.profile.finalizeNetRootStickyFlag)
          netRoot.Flags &= ~NETROOT_FLAG.NETROOT_FLAG_FINALIZATION_IN_PROGRESS;
        return false;
      }
      if (table.size !== 0) {
        this.rdbssViolation(
          "references",
          RDBSS_ASSERT.TABLE_NOT_EMPTY,
          netRoot,
          `RxFinalizeNetRoot freeing ${netRoot.label()} whose FCB table still holds ${table
            .all()
            .map((f) => f.label())
            .join(", ")}.`,
        );
      }
      if (!(netRoot.Flags & NETROOT_FLAG.NETROOT_FLAG_NAME_ALREADY_REMOVED)) {
        dev.pRxNetNameTable.remove(netRoot);
        netRoot.Flags |= NETROOT_FLAG.NETROOT_FLAG_NAME_ALREADY_REMOVED;
      }
      const srvCall = netRoot.pSrvCall;
      this.free(netRoot, "RxFinalizeNetRoot");
      this.verifier.drop(srvCall, childKey(netRoot));
      await this.RxDereference(srvCall, LockHoldingState.LHS_ExclusiveLockHeld);
      return true;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxFinalizeVNetRoot: requires the netname table exclusive. The upper finalization orphans its SRV_OPENs, leaves
   * the NET_ROOT's list (the last one removes the NET_ROOT's name and calls MRxFinalizeNetRoot(NetRoot, NULL)) and
   * removes its own name; at count 1 it calls MRxFinalizeVNetRoot(VNetRoot, NULL), dereferences the NET_ROOT and
   * is freed.
   */
  RxFinalizeVNetRoot(vNetRoot: V_NET_ROOT, _recursive: boolean, force: boolean): Promise<boolean> {
    return observed(this.doFinalizeVNetRoot(vNetRoot, _recursive, force));
  }

  private async doFinalizeVNetRoot(vNetRoot: V_NET_ROOT, _recursive: boolean, force: boolean): Promise<boolean> {
    const t = this.enterDdi("RxFinalizeVNetRoot", RDBSS_DDIS.RxFinalizeVNetRoot.maxIrql);
    try {
      this.checkAlive(vNetRoot, "RxFinalizeVNetRoot");
      const netRoot = vNetRoot.pNetRoot;
      const dev = netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      this.requireLock("RxFinalizeVNetRoot", dev.pRxNetNameTable.TableLock, true, vNetRoot);
      if (vNetRoot.NodeReferenceCount !== 1 && !force) return false;
      if (!vNetRoot.UpperFinalizationDone) {
        vNetRoot.UpperFinalizationDone = true;
        this.referenceInternal(netRoot, "RxFinalizeVNetRoot (upper finalization)");
        this.orphanSrvOpens(vNetRoot);
        this.checkNotifiesGone(vNetRoot);
        const i = netRoot.VirtualNetRoots.indexOf(vNetRoot);
        if (i >= 0) {
          netRoot.VirtualNetRoots.splice(i, 1);
          netRoot.NumberOfVirtualNetRoots--;
        }
        if (netRoot.DefaultVNetRoot === vNetRoot) netRoot.DefaultVNetRoot = netRoot.VirtualNetRoots[0] ?? null;
        if (netRoot.NumberOfVirtualNetRoots === 0) {
          if (!(netRoot.Flags & NETROOT_FLAG.NETROOT_FLAG_NAME_ALREADY_REMOVED)) {
            dev.pRxNetNameTable.remove(netRoot);
            netRoot.Flags |= NETROOT_FLAG.NETROOT_FLAG_NAME_ALREADY_REMOVED;
          }
          if (!netRoot.miniFinalized) {
            netRoot.miniFinalized = true;
            const mrx = dev.Dispatch.MRxFinalizeNetRoot;
            if (mrx)
              await this.callMRx(
                dev,
                "MRxFinalizeNetRoot",
                netRoot,
                null,
                () =>
                  this.verifier.guardForceNull("MRxFinalizeNetRoot", netRoot, () =>
                    mrx.call(dev.Dispatch, netRoot, null),
                  ),
                true,
                "FALSE",
              );
          }
        }
        this.verifier.drop(netRoot, "RxFinalizeVNetRoot (upper finalization)");
        await this.RxDereference(netRoot, LockHoldingState.LHS_ExclusiveLockHeld);
        dev.pRxNetNameTable.remove(vNetRoot);
      }
      if (vNetRoot.NodeReferenceCount === 1) {
        if (!vNetRoot.miniFinalized) {
          vNetRoot.miniFinalized = true;
          const mrx = dev.Dispatch.MRxFinalizeVNetRoot;
          if (mrx)
            await this.callMRx(
              dev,
              "MRxFinalizeVNetRoot",
              vNetRoot,
              null,
              () =>
                this.verifier.guardForceNull("MRxFinalizeVNetRoot", vNetRoot, () =>
                  mrx.call(dev.Dispatch, vNetRoot, null),
                ),
              true,
              "FALSE",
            );
        }
        vNetRoot.pPassword = null;
        this.free(vNetRoot, "RxFinalizeVNetRoot");
        this.verifier.drop(netRoot, childKey(vNetRoot));
        await this.RxDereference(netRoot, LockHoldingState.LHS_ExclusiveLockHeld);
        return true;
      }
      return false;
    } finally {
      this.leaveDdi(t);
    }
  }

  /** Orphan the FCBs and SRV_OPENs still open through a V_NET_ROOT being torn down (RxOrphanSrvOpens). */
  private orphanSrvOpens(vNetRoot: V_NET_ROOT): void {
    const table = this.fcbTableOf(vNetRoot.pNetRoot);
    // The handles left open through this V_NET_ROOT, per FCB: an FCB's whole unclean count when the FCB itself is
    // orphaned, else (an FCB another V_NET_ROOT of the same share opened first, as with X: and Y: on one share) the
    // handles on its SRV_OPENs opened through this one.
    const withHandles: { fcb: FCB; handles: number }[] = [];
    for (const fcb of table.all()) {
      let orphanedAny = false;
      let orphanedHandles = 0;
      for (const so of fcb.SrvOpenList) {
        if (so.pVNetRoot === vNetRoot && !(so.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSED)) {
          so.Flags |= SRVOPEN_FLAG.SRVOPEN_FLAG_ORPHANED;
          orphanedAny = true;
          orphanedHandles += so.UncleanFobxCount;
        }
      }
      if (fcb.VNetRoot === vNetRoot && (orphanedAny || fcb.UncleanCount > 0 || fcb.OpenCount > 0)) {
        fcb.FcbState |= FCB_STATE.FCB_STATE_ORPHANED;
        if (fcb.UncleanCount > 0) withHandles.push({ fcb, handles: fcb.UncleanCount });
        // An orphaned FCB leaves the table, so a new open builds a new FCB.
        if (table.remove(fcb)) fcb.FcbState |= FCB_STATE.FCB_STATE_NAME_ALREADY_REMOVED;
      } else if (orphanedHandles > 0) withHandles.push({ fcb, handles: orphanedHandles });
    }
    this.verifier.orphaned(vNetRoot, withHandles);
  }

  /** Pattern 9: a change notification still pending on a V_NET_ROOT that is being upper-finalized. */
  private checkNotifiesGone(vNetRoot: V_NET_ROOT): void {
    for (const ctx of this.ActiveContexts) {
      if (
        ctx.MajorFunction === IRP_MJ_DIRECTORY_CONTROL &&
        ctx.MinorFunction === IRP_MN_NOTIFY_CHANGE_DIRECTORY &&
        ctx.NotifyChangeDirectory.pVNetRoot === vNetRoot &&
        ctx.submittedToMiniRdr &&
        !ctx.lowIoDone &&
        !ctx.completed
      ) {
        this.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.NOTIFY_LEFT_PENDING,
          ctx,
          `${vNetRoot.label()} is being torn down while a change notification (${ctx.label()}) is still pending in the mini-redirector ${
            ctx.cancelRoutineCalled
              ? "although its cancel routine ran: a cancel routine must complete the request (STATUS_CANCELLED) before it returns"
              : ctx.MRxCancelRoutine === null
                ? "with no cancel routine armed, so RxFinalizeConnection could not see it"
                : "with a cancel routine armed only after RxFinalizeConnection's cancel pass (RDBSS sees armed notifications only)"
          }. The IRP would later complete against an orphaned or freed V_NET_ROOT.`,
        );
      }
    }
  }

  /**
   * RxpDereferenceAndFinalizeNetFcb: requires the FCB exclusive; Force must be FALSE. Drops a reference and, when
   * the FCB is unused, takes the FCB table (with the lock-order dance) and finalizes it. TRUE means the FCB memory
   * is gone: the caller must not release it.
   */
  RxpDereferenceAndFinalizeNetFcb(
    fcb: FCB,
    ctx: RX_CONTEXT | null,
    recursive: boolean,
    force: boolean,
  ): Promise<boolean> {
    let r: MaybePromise<boolean>;
    try {
      r = this.dereferenceAndFinalizeNetFcbNow(fcb, ctx, recursive, force);
    } catch (e) {
      return observed(Promise.reject(e));
    }
    return typeof r === "boolean" ? (r ? SETTLED_TRUE : SETTLED_FALSE) : observed(r);
  }

  /**
   * RxpDereferenceAndFinalizeNetFcb for RDBSS's own paths: the result itself when the FCB stays (still open, or
   * referenced), else the promise of its finalization (finalizeUnusedFcb).
   */
  dereferenceAndFinalizeNetFcbNow(
    fcb: FCB,
    ctx: RX_CONTEXT | null,
    recursive: boolean,
    force: boolean,
  ): MaybePromise<boolean> {
    const t = this.enterDdi("RxpDereferenceAndFinalizeNetFcb", RDBSS_DDIS.RxpDereferenceAndFinalizeNetFcb.maxIrql);
    let r: MaybePromise<boolean> = false;
    try {
      this.checkAlive(fcb, "RxpDereferenceAndFinalizeNetFcb");
      if (this.profile.fcbFinalizeAssertions === "asserted") {
        this.requireLock("RxpDereferenceAndFinalizeNetFcb", fcb.Header.Resource, true, fcb);
        if (force) {
          this.rdbssViolation(
            "rdbssLocks",
            RDBSS_ASSERT.FORCE_MUST_BE_FALSE,
            fcb,
            `RxpDereferenceAndFinalizeNetFcb(${fcb.label()}, ForceFinalize = TRUE): RDBSS asserts ForceFinalize is FALSE.`,
          );
        }
      }
      const n = --fcb.NodeReferenceCount;
      if (n < 0) {
        fcb.NodeReferenceCount = 0;
        this.rdbssViolation(
          "references",
          RDBSS_ASSERT.REFERENCE_UNDERFLOW,
          fcb,
          `RxpDereferenceAndFinalizeNetFcb took ${fcb.label()} below zero.${this.verifier.historyText(fcb, fcb.label())}`,
        );
        return false;
      }
      if (!recursive && (fcb.OpenCount !== 0 || fcb.UncleanCount !== 0 || n > 1)) return false;
      r = this.finalizeUnusedFcb(t, fcb, ctx, recursive, force);
      return r;
    } finally {
      // The frame goes now unless finalizeUnusedFcb runs (it takes the frame when it ends).
      if (typeof r === "boolean") this.leaveDdi(t);
    }
  }

  /** The rest of RxpDereferenceAndFinalizeNetFcb once the FCB is unused: take the table, finalize, leave. */
  private async finalizeUnusedFcb(
    t: KThread,
    fcb: FCB,
    ctx: RX_CONTEXT | null,
    recursive: boolean,
    force: boolean,
  ): Promise<boolean> {
    try {
      const orphaned = (fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) !== 0;
      const netRoot = fcb.pNetRoot;
      const tableLock = this.fcbCreateLockOf(netRoot);
      let tookTable = false;
      if (!orphaned) {
        this.referenceInternal(netRoot, "RxpDereferenceAndFinalizeNetFcb");
        if (tableLock.exclusiveOwner !== t) {
          if (ctx) ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_BYPASS_VALIDOP_CHECK;
          const got = this.k.ExAcquireResourceExclusiveLite(tableLock, false);
          if (got !== true) {
            // Lock order is table → FCB: drop the FCB, wait for the table, re-take the FCB. A reference keeps the
            // FCB alive meanwhile (another thread may purge it), and the count is read again afterwards.
            fcb.NodeReferenceCount++;
            this.k.ExReleaseResourceLite(fcb.Header.Resource);
            await this.acquire(tableLock, true);
            await this.acquire(fcb.Header.Resource, true);
            fcb.NodeReferenceCount--;
          }
          tookTable = true;
        }
      }
      const freed = await this.RxFinalizeNetFcb(fcb, recursive, force, fcb.NodeReferenceCount);
      if (tookTable) this.release(tableLock);
      if (!orphaned) {
        this.verifier.drop(netRoot, "RxpDereferenceAndFinalizeNetFcb");
        const w = this.dereferenceNow(netRoot, LockHoldingState.LHS_LockNotHeld);
        if (w) await w;
      }
      return freed;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxFinalizeNetFcb: requires the FCB exclusive and (unless orphaned) the FCB table exclusive. Frees at count 1
   * when nothing is open (or recursively), calling MRxDeallocateForFcb unconditionally.
   */
  RxFinalizeNetFcb(fcb: FCB, recursive: boolean, force: boolean, referenceCount: number): Promise<boolean> {
    return observed(this.doFinalizeNetFcb(fcb, recursive, force, referenceCount));
  }

  private async doFinalizeNetFcb(
    fcb: FCB,
    recursive: boolean,
    force: boolean,
    referenceCount: number,
  ): Promise<boolean> {
    const t = this.enterDdi("RxFinalizeNetFcb", RDBSS_DDIS.RxFinalizeNetFcb.maxIrql);
    try {
      this.checkAlive(fcb, "RxFinalizeNetFcb");
      const orphaned = (fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) !== 0;
      const table = this.fcbTableOf(fcb.pNetRoot);
      if (this.profile.fcbFinalizeAssertions === "asserted") {
        this.requireLock("RxFinalizeNetFcb", fcb.Header.Resource, true, fcb);
        if (!orphaned) {
          const dev = this.deviceOf(fcb);
          const lock = this.profile.fcbCreateLock === "fcb-table" ? table.TableLock : dev.pRxNetNameTable.TableLock;
          this.requireLock("RxFinalizeNetFcb", lock, true, fcb);
        }
        if (force) {
          this.rdbssViolation(
            "rdbssLocks",
            RDBSS_ASSERT.FORCE_MUST_BE_FALSE,
            fcb,
            `RxFinalizeNetFcb(${fcb.label()}, Force = TRUE): RDBSS asserts Force is FALSE.`,
          );
        }
      }
      if (recursive) {
        for (const so of fcb.SrvOpenList) await this.RxFinalizeSrvOpen(so, true, true);
      } else if (fcb.OpenCount !== 0 || fcb.UncleanCount !== 0) {
        return false;
      }
      if (referenceCount !== 1) return false;
      if (!fcb.UpperFinalizationDone) {
        fcb.UpperFinalizationDone = true;
        fcb.clearFileLocks();
        if (!orphaned && !(fcb.FcbState & FCB_STATE.FCB_STATE_NAME_ALREADY_REMOVED)) {
          table.remove(fcb);
          fcb.FcbState |= FCB_STATE.FCB_STATE_NAME_ALREADY_REMOVED;
        }
      }
      const dev = this.deviceOf(fcb);
      if (!fcb.miniDeallocated) {
        fcb.miniDeallocated = true;
        await this.callMRx(dev, "MRxDeallocateForFcb", fcb, null, () => dev.Dispatch.MRxDeallocateForFcb(fcb), true);
      }
      if (fcb.fMiniInited) {
        this.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.MINI_INITED_LEFT,
          fcb,
          `${fcb.label()} is being freed with fMiniInited still set: MRxDeallocateForFcb must release the mini-redirector's FCB state and clear it.`,
        );
      }
      this.retireResource(fcb.Header.Resource);
      const paging = fcb.Header.pagingIoResourceIfMade;
      if (paging !== null) this.retireResource(paging);
      fcb.pNetRoot.NumberOfFcbs--;
      dev.NumberOfActiveFcbs--;
      const parent = this.profile.fcbReferences === "v-net-root" ? fcb.VNetRoot : fcb.pNetRoot;
      this.free(fcb, "RxFinalizeNetFcb");
      this.verifier.drop(parent, childKey(fcb));
      await this.RxDereference(parent, LockHoldingState.LHS_LockNotHeld);
      this.onFcbFreed?.(dev);
      return true;
    } finally {
      this.leaveDdi(t);
    }
  }

  /** Set by the start/stop module: notified when an FCB goes (a stop in progress may be waiting). */
  onFcbFreed: ((dev: RDBSS_DEVICE_OBJECT) => void) | null = null;

  /**
   * RxFinalizeSrvOpen: requires the FCB exclusive. With `recursive` finalizes its FOBXs first; stops while the
   * count is not 0 unless forced; the upper finalization (when closed or not Good) calls MRxForceClosed, unlinks it
   * and dereferences the V_NET_ROOT; at count 0 it is freed and the FCB dereferenced.
   */
  RxFinalizeSrvOpen(srvOpen: SRV_OPEN, recursive: boolean, force: boolean): Promise<boolean> {
    return observed(this.doFinalizeSrvOpen(srvOpen, recursive, force));
  }

  private async doFinalizeSrvOpen(srvOpen: SRV_OPEN, recursive: boolean, force: boolean): Promise<boolean> {
    const t = this.enterDdi("RxFinalizeSrvOpen", RDBSS_DDIS.RxFinalizeSrvOpen.maxIrql);
    try {
      this.checkAlive(srvOpen, "RxFinalizeSrvOpen");
      const fcb = srvOpen.pFcb;
      this.requireLock("RxFinalizeSrvOpen", fcb.Header.Resource, true, srvOpen);
      if (recursive) for (const fobx of srvOpen.FobxList) await this.RxFinalizeNetFobx(fobx, true, force);
      if (srvOpen.NodeReferenceCount !== 0 && !force) return false;
      const closed = (srvOpen.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSED) !== 0;
      // §2 step 3: only a CLOSED SRV_OPEN, or one not yet finalized whose condition is not Good (Force only skips
      // the count check above).
      if (!srvOpen.UpperFinalizationDone && (closed || srvOpen.Condition !== Condition.Condition_Good)) {
        srvOpen.UpperFinalizationDone = true;
        const dev = this.deviceOf(fcb);
        if (!(fcb.FcbState & FCB_STATE.FCB_STATE_ORPHANED) && dev.Dispatch.MRxForceClosed) {
          const mrx = dev.Dispatch.MRxForceClosed;
          await this.callMRx(dev, "MRxForceClosed", srvOpen, null, () => mrx.call(dev.Dispatch, srvOpen), true);
        }
        if (fcb.removeSrvOpen(srvOpen)) fcb.SrvOpenListVersion++;
        fcb.pNetRoot.NumberOfSrvOpens--;
        const vnr = srvOpen.pVNetRoot;
        srvOpen.pVNetRoot = null;
        if (vnr) {
          this.verifier.drop(vnr, childKey(srvOpen));
          await this.RxDereference(vnr, LockHoldingState.LHS_LockNotHeld);
        }
      }
      if (srvOpen.NodeReferenceCount === 0) {
        this.free(srvOpen, "RxFinalizeSrvOpen");
        this.verifier.drop(fcb, childKey(srvOpen));
        fcb.NodeReferenceCount--;
        return true;
      }
      return false;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxFinalizeNetFobx: requires the FCB exclusive. The upper finalization unlinks it, calls MRxDeallocateForFobx
   * and closes the associated SRV_OPEN (→ MRxCloseSrvOpen); at count 0 it is freed and the SRV_OPEN dereferenced
   * (which may finalize it).
   */
  RxFinalizeNetFobx(fobx: FOBX, _recursive: boolean, force: boolean): Promise<boolean> {
    let r: MaybePromise<boolean>;
    try {
      r = this.finalizeNetFobxNow(fobx, force);
    } catch (e) {
      return observed(Promise.reject(e));
    }
    return typeof r === "boolean" ? (r ? SETTLED_TRUE : SETTLED_FALSE) : observed(r);
  }

  /**
   * RxFinalizeNetFobx for RDBSS's own paths: the result itself when nothing waits (the mini-redirector's calls
   * return at once), else a promise of it. Each step runs in the same order as one async routine would run them;
   * only a step that waits makes the rest wait.
   */
  private finalizeNetFobxNow(fobx: FOBX, force: boolean): MaybePromise<boolean> {
    const t = this.enterDdi("RxFinalizeNetFobx", RDBSS_DDIS.RxFinalizeNetFobx.maxIrql);
    let r: MaybePromise<boolean> = false;
    try {
      r = this.finalizeNetFobxSteps(fobx, force);
      return typeof r === "boolean" ? r : this.leaveDdiWith(t, r);
    } finally {
      if (typeof r === "boolean") this.leaveDdi(t);
    }
  }

  private finalizeNetFobxSteps(fobx: FOBX, force: boolean): MaybePromise<boolean> {
    this.checkAlive(fobx, "RxFinalizeNetFobx");
    const srvOpen = fobx.pSrvOpen;
    const fcb = srvOpen.pFcb;
    this.requireLock("RxFinalizeNetFobx", fcb.Header.Resource, true, fobx);
    if (fobx.NodeReferenceCount !== 0 && !force) return false;
    if (fobx.UpperFinalizationDone) return this.freeFinalizedFobx(fobx, srvOpen);
    fobx.UpperFinalizationDone = true;
    srvOpen.removeFobx(fobx);
    fobx.UnicodeQueryTemplate = null;
    const dev = this.deviceOf(fcb);
    const mrx = dev.Dispatch.MRxDeallocateForFobx;
    if (mrx) {
      const d = this.callMRx(dev, "MRxDeallocateForFobx", fobx, null, () => mrx.call(dev.Dispatch, fobx), true);
      if (d instanceof Promise) return d.then(() => this.closeFinalizedFobx(fobx, srvOpen));
    }
    return this.closeFinalizedFobx(fobx, srvOpen);
  }

  /** RxFinalizeNetFobx, after MRxDeallocateForFobx: close the associated SRV_OPEN unless that is done. */
  private closeFinalizedFobx(fobx: FOBX, srvOpen: SRV_OPEN): MaybePromise<boolean> {
    if (!(fobx.Flags & FOBX_FLAG.FOBX_FLAG_SRVOPEN_CLOSED)) {
      const c = this.closeAssociatedSrvOpen(fobx, null);
      if (c instanceof Promise) return c.then(() => this.freeFinalizedFobx(fobx, srvOpen));
    }
    return this.freeFinalizedFobx(fobx, srvOpen);
  }

  /** RxFinalizeNetFobx's last step: at count 0 the FOBX is freed and its SRV_OPEN dereferenced. */
  private freeFinalizedFobx(fobx: FOBX, srvOpen: SRV_OPEN): MaybePromise<boolean> {
    if (fobx.NodeReferenceCount !== 0) return false;
    if (srvOpen.pVNetRoot) srvOpen.pVNetRoot.NumberOfFobxs--;
    else this.vNetRootOfFobx.get(fobx)?.decrementFobxs();
    this.free(fobx, "RxFinalizeNetFobx");
    this.verifier.drop(srvOpen, childKey(fobx));
    const w = this.dereferenceNow(srvOpen, LockHoldingState.LHS_ExclusiveLockHeld);
    return w === undefined ? true : w.then(fobxFreed);
  }

  /** FOBXs whose SRV_OPEN lost its V_NET_ROOT pointer before they were freed (forced teardown). */
  private readonly vNetRootOfFobx = new WeakMap<FOBX, { decrementFobxs(): void }>();

  /**
   * RxCloseAssociatedSrvOpen: the FOBX's open of the SRV_OPEN ends; at the SRV_OPEN's last open (unless it is
   * delay-closed) MRxCloseSrvOpen runs, the SRV_OPEN becomes CLOSED (Key = -1) and its open reference is dropped.
   */
  closeAssociatedSrvOpen(fobx: FOBX, ctx: RX_CONTEXT | null): MaybePromise<NTSTATUS> {
    if (fobx.Flags & FOBX_FLAG.FOBX_FLAG_SRVOPEN_CLOSED) return STATUS_SUCCESS;
    fobx.Flags |= FOBX_FLAG.FOBX_FLAG_SRVOPEN_CLOSED;
    const srvOpen = fobx.pSrvOpen;
    const fcb = srvOpen.pFcb;
    if (srvOpen.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSED) return STATUS_SUCCESS;
    if (srvOpen.OpenCount > 0) srvOpen.OpenCount--;
    if (srvOpen.OpenCount > 0) return STATUS_SUCCESS;
    const dev = this.deviceOf(fcb);
    if (srvOpen.Flags & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED) {
      srvOpen.Flags &= ~SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED;
      fcb.pNetRoot.pSrvCall.NumberOfCloseDelayedFiles--;
    }
    const mrx = dev.Dispatch.MRxCloseSrvOpen;
    if (mrx && srvOpen.Condition === Condition.Condition_Good) {
      const c = ctx ?? this.makeInternalContext(dev, "close");
      c.pFcb = fcb;
      c.pFobx = fobx;
      c.pRelevantSrvOpen = srvOpen;
      const r = this.callMRx(dev, "MRxCloseSrvOpen", srvOpen, c, () => mrx.call(dev.Dispatch, c), true);
      if (r instanceof Promise) return r.then((status) => this.srvOpenClosed(srvOpen, ctx, c, status as NTSTATUS));
      return this.srvOpenClosed(srvOpen, ctx, c, r as NTSTATUS);
    }
    return this.srvOpenClosed(srvOpen, null, null, STATUS_SUCCESS);
  }

  /** The end of RxCloseAssociatedSrvOpen, once MRxCloseSrvOpen (if called, with context `c`) has returned `status`. */
  private srvOpenClosed(srvOpen: SRV_OPEN, ctx: RX_CONTEXT | null, c: RX_CONTEXT | null, status: NTSTATUS): NTSTATUS {
    if (c !== null && ctx === null) this.dropInternalContext(c);
    srvOpen.Flags |= SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSED;
    srvOpen.Key = -1;
    this.verifier.drop(srvOpen, "open");
    srvOpen.NodeReferenceCount--;
    return status;
  }

  /** RxPurgeFcb: reference and try to finalize an FCB (FCB held exclusive by the caller unless `acquire`). */
  async purgeFcb(fcb: FCB, acquire = true): Promise<boolean> {
    if (fcb.freed) return true;
    if (acquire) await this.acquire(fcb.Header.Resource, true);
    fcb.NodeReferenceCount++;
    const freed = await this.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, false);
    if (!freed && acquire) this.release(fcb.Header.Resource);
    return freed;
  }

  /** A context RDBSS builds for its own calls into the mini-redirector (close from the scavenger …). */
  makeInternalContext(dev: RDBSS_DEVICE_OBJECT, why: string): RX_CONTEXT {
    const ctx = new RX_CONTEXT(++this.contextSerial, dev, new KEVENT(1, false, `RX_CONTEXT ${why}`));
    ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT;
    ctx.OriginalThread = this.k.current;
    return ctx;
  }

  dropInternalContext(_ctx: RX_CONTEXT): void {}

  newContextSerial(): number {
    return ++this.contextSerial;
  }

  // ================================================================== connections

  /**
   * RxFinalizeConnection(NetRoot, VNetRoot, ForceFilesClosed): delete a connection (net use /d). TRUE forces open
   * files and notifications closed; FALSE fails with STATUS_FILES_OPEN (or STATUS_CONNECTION_IN_USE) while any are
   * open; 0xff drops the add-connection reference but otherwise acts like FALSE. The profile decides the
   * documentation / ReactOS differences (§9).
   */
  RxFinalizeConnection(
    netRoot: NET_ROOT,
    vNetRoot: V_NET_ROOT | null,
    forceFilesClosed: boolean | number,
  ): Promise<NTSTATUS> {
    return observed(this.doFinalizeConnection(netRoot, vNetRoot, forceFilesClosed));
  }

  private async doFinalizeConnection(
    netRoot: NET_ROOT,
    vNetRoot: V_NET_ROOT | null,
    forceFilesClosed: boolean | number,
  ): Promise<NTSTATUS> {
    const t = this.enterDdi("RxFinalizeConnection", RDBSS_DDIS.RxFinalizeConnection.maxIrql);
    try {
      const level = forceFilesClosed === true ? 1 : forceFilesClosed === false ? 0 : forceFilesClosed;
      const docs = this.profile.finalizeConnectionDocumentedStatuses;
      const ctx = currentRxContext(t);
      if (docs && ctx && ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return STATUS_CANCELLED;
      this.checkAlive(netRoot, "RxFinalizeConnection");
      let vnr = vNetRoot;
      if (vnr === null) {
        if (this.profile.finalizeConnectionNullVNetRoot === "fault") {
          throw new TypeError("RxFinalizeConnection: VNetRoot is NULL (ReactOS dereferences it unconditionally)");
        }
        vnr = netRoot.DefaultVNetRoot;
        if (vnr === null) return STATUS.STATUS_INVALID_PARAMETER;
      }
      this.checkAlive(vnr, "RxFinalizeConnection");
      this.verifier.finalizeConnectionCalled(t, vnr);
      const forceClose = level === 1;
      const dev = netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      const prefixLock = dev.pRxNetNameTable.TableLock;
      // The netname table, exclusive. A context that cannot wait gets STATUS_LOCK_NOT_GRANTED (docs), and it is
      // tried before anything is done: a call that fails leaves the connection and its notifications as they were.
      const noWait = docs && ctx !== null && !(ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_WAIT);
      if (noWait && this.k.ExAcquireResourceExclusiveLite(prefixLock, false) !== true) {
        return STATUS.STATUS_LOCK_NOT_GRANTED;
      }
      let status: NTSTATUS = await this.cancelNotifyForVNetRoot(vnr, forceClose);
      let failedEarly = false;
      if (status !== STATUS_SUCCESS) {
        if (level === 0) {
          if (noWait) this.release(prefixLock);
          return status;
        }
        if (level === 0xff && this.profile.finalizeConnection0xffNotifications === "fail") failedEarly = true;
        else status = STATUS_SUCCESS;
      }
      if (!noWait) await this.acquire(prefixLock, true);
      this.referenceInternal(netRoot, "RxFinalizeConnection");
      const table = this.fcbTableOf(netRoot);
      let uncleanAny = 0;
      let uncleanDir = 0;
      if (!failedEarly) {
        await this.acquire(table.TableLock, true);
        if (!vnr.ConnectionFinalizationDone) {
          const fcbs = this.profile.finalizeConnectionChecksShareRoot ? table.all() : table.bucketFcbs();
          for (const fcb of fcbs) {
            if (fcb.VNetRoot !== vnr || fcb.freed) continue;
            if (fcb.UncleanCount > 0 && !forceClose) {
              status = STATUS.STATUS_CONNECTION_IN_USE;
              if (Rdbss.NodeType(fcb) === NodeType.RDBSS_NTC_STORAGE_TYPE_DIRECTORY) uncleanDir++;
              else uncleanAny++;
              continue;
            }
            await this.acquire(fcb.Header.Resource, true);
            fcb.FcbState &= ~FCB_STATE.FCB_STATE_COLLAPSING_ENABLED;
            await this.scavengeRelatedFobxs(fcb);
            const freed = await this.purgeFcb(fcb, false);
            if (!freed) this.release(fcb.Header.Resource);
          }
          if (vnr.NumberOfFobxs === 0) vnr.ConnectionFinalizationDone = true;
        }
        const filesOpen = vnr.NumberOfFobxs;
        if (forceClose && this.profile.finalizeConnectionDocumentedStatuses) {
          // Notifications that reached the mini-redirector after the first pass are cancelled too.
          await this.cancelNotifyForVNetRoot(vnr, true);
        }
        if (forceClose) await this.RxFinalizeVNetRoot(vnr, false, true);
        const error = !NT_SUCCESS(status);
        if (forceClose) {
          status = error && uncleanAny !== 0 ? STATUS.STATUS_FILES_OPEN : STATUS_SUCCESS;
        } else if ((error && uncleanAny !== 0) || filesOpen > 0) {
          status = STATUS.STATUS_FILES_OPEN;
        }
        void uncleanDir;
        this.release(table.TableLock);
      }
      if ((level === 0xff || status === STATUS_SUCCESS) && vnr.AdditionalReferenceForDeleteFsctlTaken && !vnr.freed) {
        vnr.AdditionalReferenceForDeleteFsctlTaken = false;
        this.verifier.drop(vnr, ADD_CONNECTION_REFERENCE);
        await this.RxDereference(vnr, LockHoldingState.LHS_ExclusiveLockHeld);
      }
      this.verifier.drop(netRoot, "RxFinalizeConnection");
      await this.RxDereference(netRoot, LockHoldingState.LHS_ExclusiveLockHeld);
      this.release(prefixLock);
      return status;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxCancelNotifyChangeDirectoryRequestsForVNetRoot: pending notifications on this V_NET_ROOT that have an
   * MRxCancelRoutine (the others are invisible). Not forced and one exists → STATUS_FILES_OPEN; forced → each is
   * marked cancelled and its cancel routine called.
   */
  async cancelNotifyForVNetRoot(vNetRoot: V_NET_ROOT, forceClose: boolean): Promise<NTSTATUS> {
    const onVnr = (c: RX_CONTEXT): boolean =>
      c.MajorFunction === IRP_MJ_DIRECTORY_CONTROL &&
      c.MinorFunction === IRP_MN_NOTIFY_CHANGE_DIRECTORY &&
      c.NotifyChangeDirectory.pVNetRoot === vNetRoot &&
      !c.completed;
    const found = [...this.ActiveContexts].filter((c) => onVnr(c) && c.MRxCancelRoutine !== null);
    if (!forceClose) return found.length > 0 ? STATUS.STATUS_FILES_OPEN : STATUS_SUCCESS;
    if (this.profile.finalizeConnectionDocumentedStatuses) {
      // "RxFinalizeConnection cancels all the outstanding requests for a given V_NET_ROOT" (the page): a notification
      // still on its way to the mini-redirector is marked cancelled, so its MINIRDR_CALL returns STATUS_CANCELLED
      // without calling; and every other request on the V_NET_ROOT's files that the mini-redirector can cancel (a
      // byte-range lock waiting for its range, say) is cancelled with the notifications. ReactOS cancels only the
      // notifications (§9).
      const caller = currentRxContext(this.k.current);
      for (const c of this.ActiveContexts) {
        if (onVnr(c)) c.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED;
        else if (
          c !== caller &&
          !c.completed &&
          c.MRxCancelRoutine !== null &&
          c.pFcb !== null &&
          c.pFcb.VNetRoot === vNetRoot
        ) {
          found.push(c);
        }
      }
    }
    return this.cancelContexts(found);
  }

  /** RxCancelNotifyChangeDirectoryRequestsForFobx (cleanup): cancel this FOBX's pending notifications. */
  cancelNotifyForFobx(fobx: FOBX): Promise<NTSTATUS> | undefined {
    // Collected first (cancelling changes the set); most cleanups find none, allocate nothing and return undefined
    // (no promise to wait for).
    let found: RX_CONTEXT[] | null = null;
    for (const c of this.ActiveContexts) {
      if (
        c.MajorFunction === IRP_MJ_DIRECTORY_CONTROL &&
        c.MinorFunction === IRP_MN_NOTIFY_CHANGE_DIRECTORY &&
        c.pFobx === fobx &&
        c.MRxCancelRoutine !== null &&
        !c.completed
      ) {
        if (found === null) found = [];
        found.push(c);
      }
    }
    return found === null ? undefined : this.cancelContexts(found);
  }

  /**
   * Cancel each context in turn; the first failure is the result. Each is referenced while collected, as RDBSS does
   * (InterlockedIncrement of its ReferenceCount), and released after its cancel routine returns: a cancel routine
   * that waits lets the others complete meanwhile, and their contexts must not be freed before their turn.
   */
  private async cancelContexts(found: readonly RX_CONTEXT[]): Promise<NTSTATUS> {
    for (const c of found) c.ReferenceCount++;
    let status: NTSTATUS = STATUS_SUCCESS;
    for (const c of found) {
      try {
        const s = await this.cancelContext(c);
        if (!NT_SUCCESS(s)) status = s;
      } finally {
        // After a stop inside a cancel routine the run is over: the rest stay referenced.
        if (this.k.stopped === null) this.fsd.dereferenceContext(c);
      }
    }
    return status;
  }

  /** Mark a context cancelled and call its mini-redirector cancel routine (once). */
  async cancelContext(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    ctx.Flags |= RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED;
    const routine = ctx.MRxCancelRoutine;
    ctx.MRxCancelRoutine = null;
    if (routine === null || ctx.completed) return STATUS_SUCCESS;
    ctx.cancelRoutineCalled = true;
    const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
    return (await this.callMRx(dev, "MRxCancelRoutine", ctx, null, () => routine(ctx), true)) as NTSTATUS;
  }

  /** RxForceFinalizeAllVNetRoots: forced RxFinalizeVNetRoot on every V_NET_ROOT of a NET_ROOT (netname table X). */
  RxForceFinalizeAllVNetRoots(netRoot: NET_ROOT): Promise<void> {
    return observed(this.doForceFinalizeAllVNetRoots(netRoot));
  }

  private async doForceFinalizeAllVNetRoots(netRoot: NET_ROOT): Promise<void> {
    const t = this.enterDdi("RxForceFinalizeAllVNetRoots", RDBSS_DDIS.RxForceFinalizeAllVNetRoots.maxIrql);
    try {
      this.requireDocsRoutine("RxForceFinalizeAllVNetRoots");
      this.checkAlive(netRoot, "RxForceFinalizeAllVNetRoots");
      const dev = netRoot.pSrvCall.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      this.requireLock("RxForceFinalizeAllVNetRoots", dev.pRxNetNameTable.TableLock, true, netRoot);
      for (const vnr of [...netRoot.VirtualNetRoots]) await this.RxFinalizeVNetRoot(vnr, true, true);
    } finally {
      this.leaveDdi(t);
    }
  }

  /** RxScavengeRelatedFobxs: finalize (forced) the dormant FOBXs of one FCB. FCB held exclusive. */
  async scavengeRelatedFobxs(fcb: FCB): Promise<number> {
    let n = 0;
    for (const so of fcb.SrvOpenList) {
      for (const fobx of so.FobxList) {
        if (!fobx.scavengerMarked) continue;
        this.undoScavengerMark(fobx);
        await this.RxFinalizeNetFobx(fobx, true, true);
        n++;
      }
    }
    return n;
  }

  private requireDocsRoutine(name: string): void {
    if (this.profile.docsOnlyRoutines === "absent") {
      throw new TypeError(
        `${name} is not exported by ReactOS's RDBSS (profile "${this.profile.name}"): a driver importing it would not load`,
      );
    }
  }

  // ================================================================== the rest of the seed family

  /**
   * RxFinishFcbInitialization: the mini-redirector's first successful open sets the FCB's storage type (a node
   * type: RDBSS_NTC_STORAGE_TYPE_FILE / DIRECTORY / UNKNOWN, SPOOLFILE, MAILSLOT) and optionally times and sizes.
   */
  RxFinishFcbInitialization(
    fcb: FCB,
    fileType: number,
    initPacket?: {
      readonly FileAttributes?: number;
      readonly NumberOfLinks?: number;
      readonly CreationTime?: number;
      readonly LastAccessTime?: number;
      readonly LastWriteTime?: number;
      readonly LastChangeTime?: number;
      readonly AllocationSize?: number;
      readonly EndOfFile?: number;
      readonly ValidDataLength?: number;
    },
  ): void {
    const t = this.enterDdi("RxFinishFcbInitialization", RDBSS_DDIS.RxFinishFcbInitialization.maxIrql);
    try {
      this.checkAlive(fcb, "RxFinishFcbInitialization");
      if (!VALID_FCB_FILE_TYPES.includes(fileType)) {
        this.rdbssViolation(
          "minirdrContract",
          RDBSS_ASSERT.BAD_FILE_TYPE,
          fcb,
          `RxFinishFcbInitialization(${fcb.label()}, FileType = 0x${fileType.toString(16)}): FileType is written into the node type, so it must be RDBSS_NTC_STORAGE_TYPE_FILE (0xEC03), _DIRECTORY (0xEC02), _UNKNOWN (0xEC00), RDBSS_NTC_SPOOLFILE or RDBSS_NTC_MAILSLOT — not the raw RX_FILE_TYPE enum. Cleanup and close would bug check 0x27 on it.`,
        );
      }
      const wasFile = Rdbss.NodeType(fcb) === NodeType.RDBSS_NTC_STORAGE_TYPE_FILE;
      fcb.NodeTypeCode = (fcb.NodeTypeCode & RX_SCAVENGER_MASK) | fileType;
      const alreadySet = (fcb.FcbState & FCB_STATE.FCB_STATE_TIME_AND_SIZE_ALREADY_SET) !== 0;
      if (fileType === NodeType.RDBSS_NTC_MAILSLOT && alreadySet) {
        fcb.CreationTime = fcb.LastAccessTime = fcb.LastWriteTime = fcb.LastChangeTime = 0;
        fcb.Header.AllocationSize = fcb.Header.FileSize = fcb.Header.ValidDataLength = 0;
      } else if (initPacket && (!alreadySet || this.profile.finishFcbInitAlwaysApplyPacket)) {
        fcb.Attributes = initPacket.FileAttributes ?? fcb.Attributes;
        fcb.NumberOfLinks = initPacket.NumberOfLinks ?? fcb.NumberOfLinks;
        fcb.CreationTime = initPacket.CreationTime ?? fcb.CreationTime;
        fcb.LastAccessTime = initPacket.LastAccessTime ?? fcb.LastAccessTime;
        fcb.LastWriteTime = initPacket.LastWriteTime ?? fcb.LastWriteTime;
        fcb.LastChangeTime = initPacket.LastChangeTime ?? fcb.LastChangeTime;
        fcb.Header.AllocationSize = initPacket.AllocationSize ?? fcb.Header.AllocationSize;
        fcb.Header.FileSize = initPacket.EndOfFile ?? fcb.Header.FileSize;
        fcb.Header.ValidDataLength = initPacket.ValidDataLength ?? fcb.Header.ValidDataLength;
        fcb.FcbState |= FCB_STATE.FCB_STATE_TIME_AND_SIZE_ALREADY_SET;
      }
      if (!wasFile && fileType === NodeType.RDBSS_NTC_STORAGE_TYPE_FILE) fcb.clearFileLocks();
    } finally {
      this.leaveDdi(t);
    }
  }

  /** RxSetSrvCallDomainName: replace the SRV_CALL's domain name (NULL or empty clears it). */
  RxSetSrvCallDomainName(srvCall: SRV_CALL, domainName: string | null): NTSTATUS {
    const t = this.enterDdi("RxSetSrvCallDomainName", RDBSS_DDIS.RxSetSrvCallDomainName.maxIrql);
    try {
      this.requireDocsRoutine("RxSetSrvCallDomainName");
      this.checkAlive(srvCall, "RxSetSrvCallDomainName");
      srvCall.pDomainName = domainName && domainName.length > 0 ? domainName : null;
      return STATUS_SUCCESS;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxSetMinirdrCancelRoutine: arm (or, with null, disarm) the mini-redirector's cancel routine. Fails with
   * STATUS_CANCELLED if the context is already cancelled.
   */
  RxSetMinirdrCancelRoutine(ctx: RX_CONTEXT, routine: MRX_CALLDOWN_CANCEL | null): NTSTATUS {
    const t = this.enterDdi("RxSetMinirdrCancelRoutine", RDBSS_DDIS.RxSetMinirdrCancelRoutine.maxIrql);
    try {
      this.requireDocsRoutine("RxSetMinirdrCancelRoutine");
      this.checkContext(ctx, "RxSetMinirdrCancelRoutine");
      if (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return STATUS_CANCELLED;
      ctx.MRxCancelRoutine = routine;
      return STATUS_SUCCESS;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxDereferenceAndDeleteRxContext: drop a reference on an RX_CONTEXT; the last one frees it (and a STOP waiting for
   * the device's contexts to drain goes on). A mini-redirector that must touch a context after RDBSS could have
   * completed it — its transport's completion racing its cancel routine — holds a reference from the submit
   * (`InterlockedIncrement(&RxContext->ReferenceCount)`: `ctx.ReferenceCount++`) and drops it here when done.
   */
  RxDereferenceAndDeleteRxContext(ctx: RX_CONTEXT): void {
    const t = this.enterDdi("RxDereferenceAndDeleteRxContext", RDBSS_DDIS.RxDereferenceAndDeleteRxContext.maxIrql);
    try {
      if (ctx.freedThread !== null) this.verifier.contextUsedAfterFree(ctx, "RxDereferenceAndDeleteRxContext");
      else this.fsd.dereferenceContext(ctx);
    } finally {
      this.leaveDdi(t);
    }
  }

  /** RxGetRDBSSProcess: the process RDBSS runs its workers and transport state in. */
  RxGetRDBSSProcess(): KProcess {
    return this.OurProcess;
  }

  /**
   * RxPrefixTableLookupName: find the container for a name (netname table held shared or exclusive); the result is
   * referenced and the caller must dereference it.
   */
  RxPrefixTableLookupName(
    table: RX_PREFIX_TABLE,
    name: string,
    connectionId = "",
  ): { container: SRV_CALL | NET_ROOT | V_NET_ROOT; remaining: string } | null {
    const t = this.enterDdi("RxPrefixTableLookupName", RDBSS_DDIS.RxPrefixTableLookupName.maxIrql);
    try {
      this.requireLock("RxPrefixTableLookupName", table.TableLock, false, name);
      const hit = table.lookup(name, connectionId);
      if (!hit) return null;
      let c = hit.entry.ContainingRecord;
      if (c.kind === "NET_ROOT") {
        const v = c.DefaultVNetRoot ?? c.VirtualNetRoots[0];
        if (!v) return null;
        c = v;
      }
      this.referenceInternal(c, "RxPrefixTableLookupName");
      return { container: c, remaining: hit.remaining };
    } finally {
      this.leaveDdi(t);
    }
  }

  // ================================================================== the RDBSS dispatcher

  /**
   * RxDispatchToWorkerThread: run `routine(context)` on a worker of the RDBSS process. Fails with
   * STATUS_UNSUCCESSFUL when the device's dispatcher is spinning down. A mini-redirector may call it at the
   * profile's `workerPostingMaxIrql` at most.
   */
  RxDispatchToWorkerThread(
    dev: RDBSS_DEVICE_OBJECT,
    queue: WORK_QUEUE_TYPE,
    routine: RxWorkerRoutine,
    context: unknown,
    name = "RxDispatchToWorkerThread item",
  ): NTSTATUS {
    return this.postToWorker(dev, queue, routine, context, name, this.workerPostingMaxIrql);
  }

  /**
   * RDBSS's own posting (RxFsdPostRequest, its IRP cancel routine, a posted MRxFinalizeSrvCall) and the body of
   * RxDispatchToWorkerThread: the same routine, fault site and call-chain name. RDBSS is held to the code's
   * DISPATCH_LEVEL whatever the profile says, since the IRP cancel routine posts at DISPATCH_LEVEL.
   */
  postToWorker(
    dev: RDBSS_DEVICE_OBJECT,
    queue: WORK_QUEUE_TYPE,
    routine: RxWorkerRoutine,
    context: unknown,
    name: string,
    maxIrql: number = DISPATCH_LEVEL,
  ): NTSTATUS {
    const t = this.enterDdi("RxDispatchToWorkerThread", maxIrql);
    try {
      // Fault site: the work-item wrapper cannot be allocated (STATUS_INSUFFICIENT_RESOURCES by default).
      if (this.k.faults !== null) {
        const f = this.k.faults.hit("RxDispatchToWorkerThread", name);
        if (f !== null) return f.status;
      }
      return this.insertWorkItem(dev, queue, routine, context, name, null);
    } finally {
      this.leaveDdi(t);
    }
  }

  /** RxPostToWorkerThread: as RxDispatchToWorkerThread with a caller-supplied RX_WORK_QUEUE_ITEM. */
  RxPostToWorkerThread(
    dev: RDBSS_DEVICE_OBJECT,
    queue: WORK_QUEUE_TYPE,
    item: RX_WORK_QUEUE_ITEM,
    routine: RxWorkerRoutine,
    context: unknown,
  ): NTSTATUS {
    const t = this.enterDdi("RxPostToWorkerThread", this.workerPostingMaxIrql);
    try {
      if (item.queued) {
        this.k.violation(
          "workItem",
          BUGCHECK.WORKER_INVALID,
          [1n, this.k.addressOf(item), BigInt(queue), 0n],
          `RxPostToWorkerThread: RX_WORK_QUEUE_ITEM "${item.name}" is still queued.`,
        );
        return STATUS.STATUS_UNSUCCESSFUL;
      }
      // Fault site: the queue refuses the item (STATUS_UNSUCCESSFUL by default).
      if (this.k.faults !== null) {
        const f = this.k.faults.hit("RxPostToWorkerThread", item.name);
        if (f !== null) return f.status;
      }
      return this.insertWorkItem(dev, queue, routine, context, item.name, item);
    } finally {
      this.leaveDdi(t);
    }
  }

  private insertWorkItem(
    dev: RDBSS_DEVICE_OBJECT,
    queue: WORK_QUEUE_TYPE,
    routine: RxWorkerRoutine,
    context: unknown,
    name: string,
    item: RX_WORK_QUEUE_ITEM | null,
  ): NTSTATUS {
    if (dev.DispatcherContext.pTearDownEvent !== null || dev.unregistered) return STATUS.STATUS_UNSUCCESSFUL;
    dev.DispatcherContext.NumberOfWorkerThreads++;
    if (item) item.queued = true;
    const wi = this.k.ExInitializeWorkItem(
      async () => {
        if (item) item.queued = false;
        try {
          await routine(context);
        } finally {
          if (this.k.stopped === null) {
            const dispatcher = dev.DispatcherContext;
            if (--dispatcher.NumberOfWorkerThreads <= dispatcher.spinDownCaller && dispatcher.pTearDownEvent) {
              this.k.KeSetEvent(dispatcher.pTearDownEvent);
            }
          }
        }
      },
      context,
      name,
    );
    this.k.ExQueueWorkItem(wi, queue);
    return STATUS_SUCCESS;
  }

  // ================================================================== registration, start, stop, unload

  /** The FSD (IRP paths); created with the RDBSS instance. */
  readonly fsd: RdbssFsd = new RdbssFsd(this);

  /**
   * RxRegisterMinirdr: validate the dispatch table, create the device, its netname table and scavenger, and point
   * the driver's MajorFunction table at RDBSS (unless RX_REGISTERMINI_FLAG_DONT_INIT_DRIVER_DISPATCH).
   */
  RxRegisterMinirdr<X extends MiniRdrExtensions>(
    driver: DRIVER_OBJECT,
    dispatch: MINIRDR_DISPATCH<X>,
    controls: number,
    deviceName: string,
    deviceType: number,
    deviceCharacteristics: number,
    miniRdrName = deviceName.slice(deviceName.lastIndexOf("\\") + 1),
  ): {
    status: NTSTATUS;
    device: RDBSS_DEVICE_OBJECT<X> | null;
    errors: readonly string[];
    warnings: readonly string[];
  } {
    const t = this.k.current;
    if (t) this.enterDdi("RxRegisterMinirdr", RDBSS_DDIS.RxRegisterMinirdr.maxIrql);
    try {
      const v = validateDispatch(dispatch);
      if (v.errors.length > 0)
        return { status: STATUS.STATUS_INVALID_PARAMETER, device: null, errors: v.errors, warnings: v.warnings };
      const io = this.sys.io;
      const { status, device } = io.IoCreateDevice<unknown>(
        driver,
        null,
        deviceName,
        deviceType,
        deviceCharacteristics | 0x10,
      );
      if (device === null)
        return {
          status,
          device: null,
          errors: [`IoCreateDevice(${deviceName}) failed: ${statusName(status)}`],
          warnings: v.warnings,
        };
      const lock = this.k.ExInitializeResourceLite(`netname table of ${miniRdrName}`, "netname table");
      const rdev = new RDBSS_DEVICE_OBJECT<X>(
        device,
        deviceName,
        miniRdrName,
        dispatch,
        controls,
        new RX_PREFIX_TABLE(lock),
      );
      device.DeviceExtension = rdev;
      rdev.Scavenger.TimeLimit =
        dispatch.ScavengerTimeout && dispatch.ScavengerTimeout > 0 ? dispatch.ScavengerTimeout : 10;
      this.devices.push(rdev as unknown as RDBSS_DEVICE_OBJECT);
      if (!(controls & RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_INIT_DRIVER_DISPATCH)) {
        // One routine through a local, not `MajorFunction[i] = (…) => …`: see KernelCore.createThread on V8
        // pretenuring such closures.
        const fsdDispatch = (_d: DEVICE_OBJECT, irp: IRP): Promise<NTSTATUS> | NTSTATUS =>
          this.fsd.dispatch(rdev as unknown as RDBSS_DEVICE_OBJECT, irp);
        for (let i = 0; i < driver.MajorFunction.length; i++) driver.MajorFunction[i] = fsdDispatch;
      }
      return { status: STATUS_SUCCESS, device: rdev, errors: [], warnings: v.warnings };
    } finally {
      if (t) this.leaveDdi(t);
    }
  }

  /**
   * RxStartMinirdr: posted to the file-system process (returns STATUS_PENDING with RxContext->PostRequest set when
   * called outside it); takes RxData.Resource and the netname table exclusive, registers with MUP, calls MRxStart.
   */
  RxStartMinirdr(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    return observed(this.doStartMinirdr(ctx));
  }

  private async doStartMinirdr(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const t = this.enterDdi("RxStartMinirdr", RDBSS_DDIS.RxStartMinirdr.maxIrql);
    try {
      this.checkContext(ctx, "RxStartMinirdr");
      const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      if (!(ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_IN_FSP)) {
        ctx.PostRequest = true;
        return STATUS_PENDING;
      }
      await this.acquire(this.RxDataResource, true);
      await this.acquire(dev.pRxNetNameTable.TableLock, true);
      try {
        if (dev.StartStopContext.State === RdbssState.RDBSS_STARTED || dev.MupHandle !== 0)
          return STATUS.STATUS_REDIRECTOR_STARTED;
        if (dev.StartStopContext.State === RdbssState.RDBSS_STOP_IN_PROGRESS)
          return STATUS.STATUS_REDIRECTOR_NOT_STARTED;
        if (!(dev.RegistrationControls & RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_PROVIDE_UNCS)) {
          const r = this.sys.mup.FsRtlRegisterUncProvider(
            dev.DeviceName,
            !(dev.RegistrationControls & RX_REGISTERMINI_FLAG.RX_REGISTERMINI_FLAG_DONT_PROVIDE_MAILSLOTS),
          );
          if (!NT_SUCCESS(r.status)) return r.status;
          dev.MupHandle = r.handle;
        }
        const st = (await this.callMRx(dev, "MRxStart", null, ctx, () => dev.Dispatch.MRxStart(ctx, dev))) as NTSTATUS;
        if (NT_SUCCESS(st)) {
          dev.StartStopContext.Version++;
          dev.StartStopContext.State = RdbssState.RDBSS_STARTED;
        } else if (dev.MupHandle !== 0) {
          // RxUnstart: undo the registrations.
          this.sys.mup.FsRtlDeregisterUncProvider(dev.MupHandle);
          dev.MupHandle = 0;
        }
        return st;
      } finally {
        this.release(dev.pRxNetNameTable.TableLock);
        this.release(this.RxDataResource);
      }
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxStopMinirdr: posted to the file-system process; state STOP_IN_PROGRESS (only CLEANUP and CLOSE pass), MUP
   * registration dropped, MRxStop, outstanding contexts drained; STATUS_REDIRECTOR_HAS_OPEN_HANDLES when FCBs are
   * still active. Objects are not force-finalized.
   */
  RxStopMinirdr(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    return observed(this.doStopMinirdr(ctx));
  }

  private async doStopMinirdr(ctx: RX_CONTEXT): Promise<NTSTATUS> {
    const t = this.enterDdi("RxStopMinirdr", RDBSS_DDIS.RxStopMinirdr.maxIrql);
    try {
      this.checkContext(ctx, "RxStopMinirdr");
      const dev = ctx.RxDeviceObject as RDBSS_DEVICE_OBJECT;
      if (!(ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_IN_FSP)) {
        ctx.PostRequest = true;
        return STATUS_PENDING;
      }
      if (dev.StartStopContext.State === RdbssState.RDBSS_STARTABLE) return STATUS.STATUS_REDIRECTOR_STOPPED;
      if (dev.StartStopContext.State === RdbssState.RDBSS_STOP_IN_PROGRESS) return STATUS.STATUS_REDIRECTOR_NOT_STARTED;
      dev.StartStopContext.State = RdbssState.RDBSS_STOP_IN_PROGRESS;
      dev.StartStopContext.pStopContext = ctx;
      if (dev.MupHandle !== 0) {
        this.sys.mup.FsRtlDeregisterUncProvider(dev.MupHandle);
        dev.MupHandle = 0;
      }
      await this.callMRx(dev, "MRxStop", null, ctx, () => dev.Dispatch.MRxStop(ctx, dev), true);
      // Outstanding contexts drain; the last one's deletion signals this context's SyncEvent.
      while (dev.NumberOfActiveContexts > 1) {
        this.k.KeClearEvent(ctx.SyncEvent);
        await this.k.KeWaitForSingleObject(ctx.SyncEvent);
      }
      // RxSpinDownMRxDispatcher: the mini-redirector's work still queued or running finishes before the stop returns
      // (posting fails meanwhile). The device is startable again, and RxStartMinirdr is itself posted to this queue,
      // so the queue takes work again once the stop is over.
      await this.spinDownDispatcher(dev, ctx);
      dev.DispatcherContext.pTearDownEvent = null;
      dev.StartStopContext.pStopContext = null;
      dev.StartStopContext.State = RdbssState.RDBSS_STARTABLE;
      return dev.NumberOfActiveFcbs > 0 ? STATUS.STATUS_REDIRECTOR_HAS_OPEN_HANDLES : STATUS_SUCCESS;
    } finally {
      this.leaveDdi(t);
    }
  }

  /**
   * RxSpinDownMRxDispatcher: from now on the device's work queue refuses new items (RxDispatchToWorkerThread,
   * RxPostToWorkerThread and RDBSS's own posting return STATUS_UNSUCCESSFUL); wait until the items already queued
   * or running have finished. Unregister calls it for good; stop for the time it waits.
   */
  private async spinDownDispatcher(dev: RDBSS_DEVICE_OBJECT, ctx: RX_CONTEXT | null): Promise<void> {
    const dispatcher = dev.DispatcherContext;
    // A context running in the file-system process was posted to this queue: it does not wait for itself.
    dispatcher.spinDownCaller = ctx !== null && ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_IN_FSP ? 1 : 0;
    const idle = dispatcher.NumberOfWorkerThreads <= dispatcher.spinDownCaller;
    if (dispatcher.pTearDownEvent === null) {
      dispatcher.pTearDownEvent = new KEVENT(0, idle, `${dev.MiniRdrName} teardown`);
    } else if (idle) this.k.KeSetEvent(dispatcher.pTearDownEvent);
    else this.k.KeClearEvent(dispatcher.pTearDownEvent);
    if (!idle) await this.k.KeWaitForSingleObject(dispatcher.pTearDownEvent);
    dispatcher.spinDownCaller = 0;
  }

  /**
   * RxUnregisterMinirdr (unload): force-finalize whatever is left on the device and report it, drain the
   * dispatcher, drop the MUP registration and delete the device. Returns the labels of what was left alive.
   */
  RxUnregisterMinirdr(dev: RDBSS_DEVICE_OBJECT): Promise<string[]> {
    return observed(this.doUnregisterMinirdr(dev));
  }

  private async doUnregisterMinirdr(dev: RDBSS_DEVICE_OBJECT): Promise<string[]> {
    const t = this.enterDdi("RxUnregisterMinirdr", RDBSS_DDIS.RxUnregisterMinirdr.maxIrql);
    try {
      const left: string[] = [];
      const table = dev.pRxNetNameTable;
      await this.acquire(table.TableLock, true);
      this.verifier.atUnload(dev);
      const containers = table.containers();
      for (const c of containers) if (!c.freed) left.push(`${c.label()} (count ${c.NodeReferenceCount})`);
      for (const c of containers) {
        if (c.kind !== "NET_ROOT" || c.freed) continue;
        for (const fcb of this.fcbTableOf(c).all()) {
          left.push(
            `${fcb.label()} (count ${fcb.NodeReferenceCount}, open ${fcb.OpenCount}, unclean ${fcb.UncleanCount})`,
          );
        }
      }
      // Dormant (delay-closed) files are closed first, as RxFinalizeConnection(TRUE) does, while the connection to
      // the server still exists: their FOBXs are scavenged (MRxCloseSrvOpen) and the unused FCBs purged. Left to
      // the forced V_NET_ROOT finalization they would be orphaned out of the FCB table, and nothing would ever
      // finalize them (nor the V_NET_ROOT, NET_ROOT and SRV_CALL they keep referenced).
      for (const c of containers) {
        if (c.kind !== "NET_ROOT" || c.freed) continue;
        const fcbTable = this.fcbTableOf(c);
        await this.acquire(fcbTable.TableLock, true);
        for (const fcb of fcbTable.all()) {
          if (fcb.freed || fcb.UncleanCount > 0) continue;
          await this.acquire(fcb.Header.Resource, true);
          fcb.FcbState &= ~FCB_STATE.FCB_STATE_COLLAPSING_ENABLED;
          await this.scavengeRelatedFobxs(fcb);
          const freed = await this.purgeFcb(fcb, false);
          if (!freed) this.release(fcb.Header.Resource);
        }
        this.release(fcbTable.TableLock);
      }
      // The add-connection references go first (no one will send DELCONN now), then everything is forced.
      for (const c of containers) {
        if (c.kind === "V_NET_ROOT" && !c.freed && c.AdditionalReferenceForDeleteFsctlTaken) {
          c.AdditionalReferenceForDeleteFsctlTaken = false;
          this.verifier.drop(c, ADD_CONNECTION_REFERENCE);
          await this.RxDereference(c, LockHoldingState.LHS_ExclusiveLockHeld);
        }
      }
      for (const c of containers) {
        if (c.kind !== "V_NET_ROOT" || c.freed) continue;
        if (c.scavengerMarked) this.undoScavengerMark(c);
        await this.RxFinalizeVNetRoot(c, true, true);
      }
      for (const c of containers) {
        if (c.kind !== "NET_ROOT" || c.freed) continue;
        if (c.scavengerMarked) this.undoScavengerMark(c);
        await this.RxFinalizeNetRoot(c, true, true);
      }
      for (const c of containers) {
        if (c.kind !== "SRV_CALL" || c.freed) continue;
        if (c.scavengerMarked) this.undoScavengerMark(c);
        await this.RxFinalizeSrvCall(c, true);
      }
      this.release(table.TableLock);
      // Wait for queued work (the posted SRV_CALL destroys) to finish.
      await this.spinDownDispatcher(dev, null);
      if (dev.MupHandle !== 0) {
        this.sys.mup.FsRtlDeregisterUncProvider(dev.MupHandle);
        dev.MupHandle = 0;
      }
      this.sys.io.IoDeleteDevice(dev.device);
      dev.unregistered = true;
      const i = this.devices.indexOf(dev);
      if (i >= 0) this.devices.splice(i, 1);
      return left;
    } finally {
      this.leaveDdi(t);
    }
  }

  /** RxLowIoCompletion: see RdbssFsd.lowIoCompletion. Callable up to DISPATCH_LEVEL. */
  RxLowIoCompletion(ctx: RX_CONTEXT): NTSTATUS {
    const t = this.enterDdi("RxLowIoCompletion", RDBSS_DDIS.RxLowIoCompletion.maxIrql);
    try {
      return this.fsd.lowIoCompletion(ctx);
    } finally {
      this.leaveDdi(t);
    }
  }

  /** RxScavengeVNetRoots: finalize the V_NET_ROOTs of a device that are marked for scavenged finalization. */
  async scavengeVNetRoots(dev: RDBSS_DEVICE_OBJECT): Promise<void> {
    const table = dev.pRxNetNameTable;
    await this.acquire(table.TableLock, true);
    for (const vnr of [...dev.Scavenger.VNetRootFinalizationList]) {
      if (vnr.freed || !vnr.scavengerMarked) continue;
      this.undoScavengerMark(vnr);
      await this.RxFinalizeVNetRoot(vnr, true, false);
    }
    this.release(table.TableLock);
  }

  /**
   * One scavenger pass (RxScavengerFinalizeEntries) at PASSIVE_LEVEL in the RDBSS process: dormant FOBXs (their
   * delayed closes happen now, and unused FCBs go), then marked V_NET_ROOTs, NET_ROOTs and SRV_CALLs under the
   * netname table.
   */
  async scavengerPass(dev: RDBSS_DEVICE_OBJECT): Promise<void> {
    const sc = dev.Scavenger;
    sc.State = ScavengerState.RDBSS_SCAVENGER_ACTIVE;
    for (const fobx of [...sc.FobxFinalizationList]) {
      if (fobx.freed || !fobx.scavengerMarked) continue;
      const fcb = fobx.pSrvOpen.pFcb;
      await this.acquire(fcb.Header.Resource, true);
      if (!fobx.freed && fobx.scavengerMarked) {
        this.undoScavengerMark(fobx);
        await this.RxFinalizeNetFobx(fobx, true, false);
      }
      fcb.NodeReferenceCount++;
      const freed = await this.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, false);
      if (!freed) this.release(fcb.Header.Resource);
    }
    const table = dev.pRxNetNameTable;
    await this.acquire(table.TableLock, true);
    for (const vnr of [...sc.VNetRootFinalizationList]) {
      if (vnr.freed || !vnr.scavengerMarked) continue;
      this.undoScavengerMark(vnr);
      await this.RxFinalizeVNetRoot(vnr, true, false);
    }
    for (const nr of [...sc.NetRootFinalizationList]) {
      if (nr.freed || !nr.scavengerMarked) continue;
      this.undoScavengerMark(nr);
      await this.RxFinalizeNetRoot(nr, true, false);
    }
    for (const s of [...sc.SrvCallFinalizationList]) {
      if (s.freed || !s.scavengerMarked) continue;
      this.undoScavengerMark(s);
      await this.RxFinalizeSrvCall(s, false);
    }
    this.release(table.TableLock);
    sc.passes++;
    sc.State = ScavengerState.RDBSS_SCAVENGER_DORMANT;
  }

  /** The first mark arms a one-shot timer (TimeLimit seconds); its DPC queues the pass to a worker. */
  private armScavenger(dev: RDBSS_DEVICE_OBJECT): void {
    const sc = dev.Scavenger;
    if (!this.profile.scavengerReclaims || sc.timerArmed || dev.unregistered) return;
    sc.timerArmed = true;
    if (sc.State === ScavengerState.RDBSS_SCAVENGER_INACTIVE) sc.State = ScavengerState.RDBSS_SCAVENGER_DORMANT;
    const k = this.k;
    const timer = k.KeInitializeTimer(undefined, `${dev.MiniRdrName} scavenger`);
    const dpc = k.KeInitializeDpc(
      () => {
        const item = k.ExInitializeWorkItem(
          async () => {
            sc.timerArmed = false;
            await this.scavengerPass(dev);
            if (sc.markedCount > 0) this.armScavenger(dev);
          },
          dev,
          `${dev.MiniRdrName} scavenger pass`,
        );
        k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
      },
      dev,
      `${dev.MiniRdrName} scavenger timer`,
    );
    k.KeSetTimer(timer, -sc.TimeLimit * 10_000_000, dpc);
  }

  // ================================================================== scavenger marking

  markForScavenge(obj: SRV_CALL | NET_ROOT | V_NET_ROOT | SRV_OPEN | FOBX): void {
    if (obj.scavengerMarked || obj.kind === "SRV_OPEN") return;
    const dev = this.deviceOf(obj);
    const sc = dev.Scavenger;
    obj.scavengerMarked = true;
    this.verifier.take(obj, "scavenger mark");
    obj.NodeReferenceCount++;
    obj.NodeTypeCode |= RX_SCAVENGER_MASK;
    if (obj.kind === "SRV_CALL") sc.SrvCallFinalizationList.push(obj);
    else if (obj.kind === "NET_ROOT") sc.NetRootFinalizationList.push(obj);
    else if (obj.kind === "V_NET_ROOT") sc.VNetRootFinalizationList.push(obj);
    else sc.FobxFinalizationList.push(obj);
    this.onScavengerMark(dev);
  }

  /** Arm the scavenger's one-shot timer on the first mark. */
  private onScavengerMark(dev: RDBSS_DEVICE_OBJECT): void {
    this.armScavenger(dev);
  }

  undoScavengerMark(obj: AnyRxNode): void {
    if (!obj.scavengerMarked || obj.kind === "FCB" || obj.kind === "SRV_OPEN") return;
    obj.scavengerMarked = false;
    this.verifier.drop(obj, "scavenger mark");
    obj.NodeReferenceCount--;
    obj.NodeTypeCode &= ~RX_SCAVENGER_MASK;
    const sc = this.deviceOf(obj).Scavenger;
    const lists: AnyRxNode[][] = [
      sc.SrvCallFinalizationList,
      sc.NetRootFinalizationList,
      sc.VNetRootFinalizationList,
      sc.FobxFinalizationList,
    ];
    for (const l of lists) {
      const i = l.indexOf(obj);
      if (i >= 0) l.splice(i, 1);
    }
  }

  /** The node type as a mini-redirector reading NodeTypeCode would see it (scavenger bit stripped). */
  static NodeType(obj: { NodeTypeCode: number }): number {
    return obj.NodeTypeCode & ~RX_SCAVENGER_MASK;
  }

  static describeNodeType(obj: { NodeTypeCode: number }): string {
    return nodeTypeName(Rdbss.NodeType(obj));
  }
}

/** A process's logon id: "<process>:0" unless the process says otherwise (tls-free: by name). */
/** The RX_CONTEXT the current thread is working for (set by the FSD/FSP dispatch). */
export function currentRxContext(t: KThread | null): RX_CONTEXT | null {
  return t === null ? null : ((t.TopLevelIrp as RX_CONTEXT | null) ?? null);
}

/** The logon id a process's opens are made under: its token's, or one per process when it has none. */
export function processLogonId(p: KProcess): string {
  return p.token?.LogonId ?? `${p.name}`;
}

export function processSessionId(p: KProcess): number {
  return p.token?.SessionId ?? 0;
}

export { RDBSS_DEVICE_OBJECT };
