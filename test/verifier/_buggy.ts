/**
 * Deliberately buggy mini-redirectors for the check catalogue (emulator/verifier) and the 20 lifecycle-bug patterns
 * of ../shared/reference/rdbss-semantics.md §8: nulmrx with one misbehaviour switched on by name. The scenario
 * fixtures under fixtures/checks/ load this file as their `setup.minirdr` and pick the bug with `options.bug`; the
 * tests under test/verifier/ run the same bug and the correct nulmrx (`bug: none`) side by side.
 *
 * Each bug is a small function at one hook point (MRxCreate, MRxCreateSrvCall, the read path, DELCONN …). They
 * call the kernel, I/O manager and RDBSS DDIs exactly as a broken driver would.
 */
import type { Emulator } from "../../emulator/boot.js";
import {
  CTL_CODE,
  type DEVICE_OBJECT,
  type DRIVER_OBJECT,
  FILE_ANY_ACCESS,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_DEVICE_UNKNOWN,
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  type IRP,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  IRP_MJ_READ,
  METHOD_BUFFERED,
} from "../../emulator/io/index.js";
import {
  APC_LEVEL,
  DISPATCH_LEVEL,
  type ERESOURCE,
  EventType,
  HIGH_LEVEL,
  type Kernel,
  type NTSTATUS,
  PASSIVE_LEVEL,
  POOL_TYPE,
  ResourceOwnerPointer,
  STATUS,
  WorkQueueType,
} from "../../emulator/kernel/index.js";
import {
  type FCB,
  LockHoldingState,
  type MaybePromise,
  type MRX_CREATENETROOT_CONTEXT,
  type MRX_FCB,
  type MRX_SRV_CALL,
  type MRX_SRVCALL_CALLBACK_CONTEXT,
  type MRX_V_NET_ROOT,
  type RDBSS_DEVICE_OBJECT,
  type RX_CONTEXT,
  RX_CONTEXT_FLAG,
  type SRV_CALL,
} from "../../emulator/rdbss/index.js";
import { armCancelRoutine } from "../../miniredirs/common/control.js";
import { type MiniRdrModule, NetworkProvider } from "../../miniredirs/index.js";
import { IOCTL_NULMRX, NULMRX_DEVICE_NAME, type NulExtensions, NulMrx } from "../../miniredirs/nulmrx/index.js";

const S = STATUS;
type Ctx = RX_CONTEXT<NulExtensions>;

/** A custom METHOD_BUFFERED IOCTL on the device FCB whose answer claims more bytes than the buffer holds. */
export const IOCTL_VERIFIER_OVERFLOW = CTL_CODE(
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  0x900,
  METHOD_BUFFERED,
  FILE_ANY_ACCESS,
);
export const BUGGY_IOCTLS = { ...IOCTL_NULMRX, VERIFIER_OVERFLOW: IOCTL_VERIFIER_OVERFLOW } as const;

/** The helper device the IRP-protocol bugs send a read to: "\Device\VerifierHelper". */
const HELPER_DEVICE = "\\Device\\VerifierHelper";

/** The hook points a bug can take over. `next` runs nulmrx's own behaviour. */
interface Bug {
  readonly create?: (m: BuggyMrx, ctx: Ctx, next: () => NTSTATUS) => MaybePromise<NTSTATUS>;
  readonly collapse?: (m: BuggyMrx, ctx: Ctx, next: () => NTSTATUS) => NTSTATUS;
  readonly shouldCollapse?: (m: BuggyMrx, ctx: Ctx) => NTSTATUS;
  readonly createSrvCall?: (
    m: BuggyMrx,
    srvCall: MRX_SRV_CALL<NulExtensions>,
    cb: MRX_SRVCALL_CALLBACK_CONTEXT<NulExtensions>,
    next: () => NTSTATUS,
  ) => NTSTATUS;
  readonly createVNetRoot?: (
    m: BuggyMrx,
    cnc: MRX_CREATENETROOT_CONTEXT<NulExtensions>,
    next: () => NTSTATUS,
  ) => NTSTATUS;
  readonly finalizeSrvCall?: (m: BuggyMrx, srvCall: MRX_SRV_CALL<NulExtensions>, next: () => NTSTATUS) => NTSTATUS;
  readonly finalizeVNetRoot?: (m: BuggyMrx, vnr: MRX_V_NET_ROOT<NulExtensions>, force: null) => NTSTATUS;
  readonly deallocateForFcb?: (m: BuggyMrx, fcb: MRX_FCB<NulExtensions>, next: () => NTSTATUS) => NTSTATUS;
  /** LowIo read (index 0) and notify (index 8). */
  readonly read?: (m: BuggyMrx, ctx: Ctx, next: () => NTSTATUS) => NTSTATUS;
  readonly notify?: (m: BuggyMrx, ctx: Ctx, next: () => NTSTATUS) => NTSTATUS;
  /** Device-FCB IOCTLs (the control plane: DELCONN …). */
  readonly control?: (m: BuggyMrx, ctx: Ctx, next: () => Promise<NTSTATUS>) => Promise<NTSTATUS>;
  readonly start?: (m: BuggyMrx) => MaybePromise<NTSTATUS>;
  /** The helper device's read dispatch (IRP-protocol bugs). */
  readonly helperRead?: (io: Emulator["sys"]["io"], irp: IRP, k: Kernel) => NTSTATUS;
  /** nulmrx options this bug needs. */
  readonly options?: { readonly closeDelayedFiles?: number; readonly dpcLatency?: number };
}

/** A resource of the mini-redirector's own (class "mrx <name>"). */
function ownResource(m: BuggyMrx, name: string): ERESOURCE {
  let r = m.resources.get(name);
  if (r === undefined) {
    r = m.rx.k.ExInitializeResourceLite(`mrx ${name}`, `mrx ${name}`);
    m.resources.set(name, r);
  }
  return r;
}

/** Open \Device\VerifierHelper and read from it (kernel mode), for the IRP-protocol bugs. */
async function readHelper(m: BuggyMrx): Promise<void> {
  const nt = m.rx.sys.nt;
  const f = await nt.ZwCreateFile({
    ObjectName: `${HELPER_DEVICE}\\f`,
    DesiredAccess: 0x120089,
    ShareAccess: 7,
    CreateDisposition: FILE_OPEN_IF,
    CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
  });
  if (f.Status !== S.STATUS_SUCCESS) throw new Error(`helper open: ${f.Status}`);
  await nt.ZwReadFile(f.FileHandle, { Length: 4 });
  await nt.ZwClose(f.FileHandle);
}

/** Run `completion` from a DPC 1 ms of virtual time from now (a read the mini-redirector completes later). */
function laterFromDpc(m: BuggyMrx, completion: () => void): void {
  const k = m.rx.k;
  k.KeSetTimer(
    k.KeInitializeTimer(undefined, "mrx read"),
    -10_000,
    k.KeInitializeDpc(completion, null, "mrx read completion"),
  );
}

/** Arm a cancel routine that completes the request with STATUS_CANCELLED (the pattern-10 drivers' cancel side). */
function armCancellingRoutine(m: BuggyMrx, ctx: Ctx): void {
  armCancelRoutine(m.rx, ctx as RX_CONTEXT, (c) => {
    c.IoStatusBlock.Status = S.STATUS_CANCELLED;
    return m.rx.RxLowIoCompletion(c);
  });
}

/** Complete an IRP with a status (the dispatch-routine idiom). */
function complete(io: Emulator["sys"]["io"], irp: IRP, status: NTSTATUS): NTSTATUS {
  irp.IoStatus.Status = status;
  irp.IoStatus.Information = 0;
  io.IoCompleteRequest(irp);
  return status;
}

type CreateHook = NonNullable<Bug["create"]>;

/** MRxCreate doing `bad` first, then opening normally. */
const inCreate =
  (bad: (m: BuggyMrx, ctx: Ctx) => MaybePromise<void>): CreateHook =>
  async (m, ctx, next) => {
    await bad(m, ctx);
    return next();
  };

/** A read that goes through the helper device whose read dispatch is `helperRead`. */
const viaHelper = (helperRead: NonNullable<Bug["helperRead"]>): Bug => ({
  create: inCreate((m) => readHelper(m)),
  helperRead,
});

/** The FCB a previous open left behind (the mini-redirector kept a pointer in its own state). */
function keptFcb(m: BuggyMrx, ctx: Ctx): FCB | null {
  const old = m.kept;
  m.kept = ctx.pFcb as unknown as FCB;
  return old;
}

/** Pattern 7's bug: connection state kept per server name in `field`, so two SRV_CALLs for one server share it. */
function nameKeyedState(field: "Context" | "Context2"): Bug {
  return {
    createSrvCall: (m, srvCall, _cb, next) => {
      const name = srvCall.pSrvCallName.toUpperCase();
      let conn = m.connections.get(name);
      if (conn === undefined) {
        conn = { server: srvCall.pSrvCallName, open: true };
        m.connections.set(name, conn);
      }
      srvCall[field] = conn;
      return next();
    },
    finalizeSrvCall: (m, srvCall, next) => {
      const conn = srvCall[field] as { open: boolean } | null;
      if (conn) conn.open = false;
      m.connections.delete(srvCall.pSrvCallName.toUpperCase());
      srvCall[field] = null;
      return next();
    },
  };
}

/**
 * Pattern 7 with separate states: each SRV_CALL gets its own pool block in Context2, but the finalization finds "the
 * state of \\srv" by name, which by then leads to the new SRV_CALL's block. `posted`: the finalization frees it from a
 * work item it queues (a redirector that posts its disconnect).
 */
function nameFoundState(posted: boolean): Bug {
  return {
    createSrvCall: (m, srvCall, _cb, next) => {
      const state = m.rx.k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 32, "BugK", {
        server: srvCall.pSrvCallName,
        open: true,
      });
      if (state === null) return S.STATUS_INSUFFICIENT_RESOURCES;
      m.connections.set(srvCall.pSrvCallName.toUpperCase(), state);
      srvCall.Context2 = state;
      return next();
    },
    finalizeSrvCall: (m, srvCall, next) => {
      const k = m.rx.k;
      const name = srvCall.pSrvCallName.toUpperCase();
      const disconnect = (): void => {
        const state = m.connections.get(name);
        if (state === undefined) return;
        m.connections.delete(name);
        k.ExFreePoolWithTag(state, "BugK");
      };
      if (posted)
        k.ExQueueWorkItem(k.ExInitializeWorkItem(disconnect, null, "BugK disconnect"), WorkQueueType.DelayedWorkQueue);
      else disconnect();
      srvCall.Context2 = null;
      return next();
    },
  };
}

export const BUGS: Readonly<Record<string, Bug>> = {
  none: {},
  // ---------------------------------------------------------------- IRQL
  "irql.ddi-above-max": {
    create: inCreate((m, ctx) => {
      const k = m.rx.k;
      k.KeRaiseIrql(DISPATCH_LEVEL);
      m.rx.RxReference(ctx.pRelevantSrvOpen as never);
    }),
  },
  "irql.wait-at-dispatch": {
    create: inCreate(async (m) => {
      const k = m.rx.k;
      const ev = k.KeInitializeEvent(EventType.NotificationEvent, false, "mrx event");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      await k.KeWaitForSingleObject(ev);
    }),
  },
  "irql.raise-to-lower": {
    create: inCreate((m) => {
      m.rx.k.KeRaiseIrql(DISPATCH_LEVEL);
      m.rx.k.KeRaiseIrql(PASSIVE_LEVEL);
    }),
  },
  "irql.lower-to-higher": { create: inCreate((m) => m.rx.k.KeLowerIrql(DISPATCH_LEVEL)) },
  "irql.fast-mutex-above-apc": {
    create: inCreate(async (m) => {
      const k = m.rx.k;
      const fm = k.ExInitializeFastMutex("mrx fast mutex");
      k.KeRaiseIrql(DISPATCH_LEVEL);
      await k.ExAcquireFastMutex(fm);
    }),
  },
  "irql.fast-mutex-release-not-apc": {
    create: inCreate(async (m) => {
      const k = m.rx.k;
      const fm = k.ExInitializeFastMutex("mrx fast mutex");
      await k.ExAcquireFastMutex(fm);
      k.KeRaiseIrql(DISPATCH_LEVEL);
      k.ExReleaseFastMutex(fm);
    }),
  },
  "irql.spin-lock-above-dispatch": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const l = k.KeInitializeSpinLock("mrx spin lock");
      k.KeRaiseIrql(HIGH_LEVEL);
      k.KeAcquireSpinLock(l);
    }),
  },
  "irql.spin-lock-release-not-dispatch": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const l = k.KeInitializeSpinLock("mrx spin lock");
      const old = k.KeAcquireSpinLock(l);
      k.KeLowerIrql(PASSIVE_LEVEL);
      k.KeReleaseSpinLock(l, old);
    }),
  },
  "irql.spin-lock-at-dpc-below-dispatch": {
    create: inCreate((m) => m.rx.k.KeAcquireSpinLockAtDpcLevel(m.rx.k.KeInitializeSpinLock("mrx spin lock"))),
  },
  "irql.dpc-returns-promise": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const dpc = k.KeInitializeDpc(
        (async () => undefined) as unknown as Parameters<Kernel["KeInitializeDpc"]>[0],
        null,
        "mrx async dpc",
      );
      k.KeInsertQueueDpc(dpc);
    }),
  },
  // ---------------------------------------------------------------- locks
  "locks.non-owner-release": { create: inCreate((m) => m.rx.k.ExReleaseResourceLite(ownResource(m, "A"))) },
  "locks.recursive-fast-mutex": {
    create: inCreate(async (m) => {
      const k = m.rx.k;
      const fm = k.ExInitializeFastMutex("mrx fast mutex");
      await k.ExAcquireFastMutex(fm);
      await k.ExAcquireFastMutex(fm);
    }),
  },
  "locks.shared-to-exclusive": {
    create: inCreate(async (m) => {
      const k = m.rx.k;
      const r = ownResource(m, "A");
      await k.ExAcquireResourceSharedLite(r, true);
      await k.ExAcquireResourceExclusiveLite(r, true);
    }),
  },
  "locks.spin-lock-twice": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const l = k.KeInitializeSpinLock("mrx spin lock");
      k.KeAcquireSpinLock(l);
      k.KeAcquireSpinLock(l);
    }),
  },
  "locks.fast-mutex-not-held": {
    create: inCreate((m) => m.rx.k.ExReleaseFastMutex(m.rx.k.ExInitializeFastMutex("mrx fast mutex"))),
  },
  "locks.spin-lock-not-held": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const l = k.KeInitializeSpinLock("mrx spin lock");
      const old = k.KeRaiseIrql(DISPATCH_LEVEL);
      k.KeReleaseSpinLock(l, old);
    }),
  },
  "locks.kmutex-not-owned": {
    create: inCreate((m) => void m.rx.k.KeReleaseMutex(m.rx.k.KeInitializeMutex(0, "mrx mutex"))),
  },
  "locks.critical-region-underflow": { create: inCreate((m) => m.rx.k.KeLeaveCriticalRegion()) },
  "locks.delete-held-resource": {
    create: inCreate(async (m) => {
      const r = ownResource(m, "A");
      await m.rx.k.ExAcquireResourceExclusiveLite(r, true);
      m.rx.k.ExDeleteResourceLite(r);
    }),
  },
  "locks.dpc-holding-lock": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const l = k.KeInitializeSpinLock("mrx dpc lock");
      k.KeInsertQueueDpc(k.KeInitializeDpc(() => k.KeAcquireSpinLockAtDpcLevel(l), null, "mrx dpc"));
    }),
  },
  "locks.convert-not-owner": { create: inCreate((m) => m.rx.k.ExConvertExclusiveToSharedLite(ownResource(m, "A"))) },
  "locks.owner-pointer-not-owner": {
    create: inCreate((m) => m.rx.k.ExSetResourceOwnerPointer(ownResource(m, "A"), new ResourceOwnerPointer("mrx"))),
  },
  // ---------------------------------------------------------------- RDBSS lock preconditions and lock order
  "rdbssLocks.lying-lock-state": {
    // Pattern 4: "I hold the netname table exclusive" — it does not.
    create: inCreate(async (m, ctx) => {
      const sc = (ctx.pFcb as unknown as FCB).pNetRoot.pSrvCall;
      m.rx.RxReference(sc);
      await m.rx.RxDereference(sc, LockHoldingState.LHS_ExclusiveLockHeld);
    }),
  },
  "rdbssLocks.force-must-be-false": {
    create: inCreate(async (m, ctx) => {
      const fcb = ctx.pFcb as unknown as FCB;
      m.rx.RxpReferenceNetFcb(fcb);
      await m.rx.RxpDereferenceAndFinalizeNetFcb(fcb, ctx as RX_CONTEXT, false, true);
    }),
  },
  "lockOrder.rank": {
    // Pattern 11: the netname table from inside MRxCreate, which runs with the FCB resource held.
    create: inCreate(async (m) => {
      const dev = m.device as unknown as RDBSS_DEVICE_OBJECT;
      await m.rx.acquire(dev.pRxNetNameTable.TableLock, true);
      m.rx.release(dev.pRxNetNameTable.TableLock);
    }),
  },
  "lockOrder.cycle": {
    // Two locks of its own, A then B when opening, B then A when reading: never at the same time in this run.
    create: inCreate(async (m) => {
      const k = m.rx.k;
      await k.ExAcquireResourceExclusiveLite(ownResource(m, "A"), true);
      await k.ExAcquireResourceExclusiveLite(ownResource(m, "B"), true);
      k.ExReleaseResourceLite(ownResource(m, "B"));
      k.ExReleaseResourceLite(ownResource(m, "A"));
    }),
    read: (m, _ctx, next) => {
      const k = m.rx.k;
      if (k.ExAcquireResourceExclusiveLite(ownResource(m, "B"), true) !== true) throw new Error("contended");
      if (k.ExAcquireResourceExclusiveLite(ownResource(m, "A"), true) !== true) throw new Error("contended");
      k.ExReleaseResourceLite(ownResource(m, "A"));
      k.ExReleaseResourceLite(ownResource(m, "B"));
      return next();
    },
  },
  "deadlock.wait-for-graph": {
    // Pattern 12: MRxStart (RxData and the netname table held exclusive) waits for a worker that needs the table.
    start: async (m) => {
      const k = m.rx.k;
      const dev = m.device as unknown as RDBSS_DEVICE_OBJECT;
      const ready = k.KeInitializeEvent(EventType.NotificationEvent, false, "mrx transport ready");
      m.rx.RxDispatchToWorkerThread(
        dev,
        WorkQueueType.DelayedWorkQueue,
        async () => {
          await m.rx.acquire(dev.pRxNetNameTable.TableLock, true);
          m.rx.release(dev.pRxNetNameTable.TableLock);
          k.KeSetEvent(ready);
        },
        null,
        "mrx transport start",
      );
      await k.KeWaitForSingleObject(ready);
      return S.STATUS_SUCCESS;
    },
  },
  // ---------------------------------------------------------------- thread exit, system-service return, work items
  "threadExit.holding-lock": {
    create: inCreate((m) => {
      m.rx.k.PsCreateSystemThread("mrx worker", async () => {
        await m.rx.k.ExAcquireResourceExclusiveLite(ownResource(m, "A"), true);
      });
    }),
  },
  "threadExit.raised-irql": {
    create: inCreate((m) => {
      m.rx.k.PsCreateSystemThread("mrx worker", () => {
        m.rx.k.KeRaiseIrql(DISPATCH_LEVEL);
      });
    }),
  },
  "systemService.holding-lock": {
    create: inCreate(async (m) => {
      await m.rx.k.ExAcquireResourceExclusiveLite(ownResource(m, "A"), true);
    }),
  },
  "systemService.raised-irql": { create: inCreate((m) => void m.rx.k.KeRaiseIrql(APC_LEVEL)) },
  "systemService.critical-region": { create: inCreate((m) => m.rx.k.KeEnterCriticalRegion()) },
  "workItem.requeue": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const item = k.ExInitializeWorkItem(() => undefined, null, "mrx work item");
      k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
      k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
    }),
  },
  "workItem.returned-holding-lock": {
    create: inCreate((m) => {
      const k = m.rx.k;
      const item = k.ExInitializeWorkItem(
        async () => {
          await k.ExAcquireResourceExclusiveLite(ownResource(m, "A"), true);
        },
        null,
        "mrx work item",
      );
      k.ExQueueWorkItem(item, WorkQueueType.DelayedWorkQueue);
    }),
  },
  // ---------------------------------------------------------------- IRPs
  "irp.completed-twice": viaHelper((io, irp) => {
    complete(io, irp, S.STATUS_SUCCESS);
    return complete(io, irp, S.STATUS_SUCCESS);
  }),
  "irp.pending-without-mark": viaHelper((io, irp, k) => {
    // Completed later from a DPC, but never marked pending.
    const timer = k.KeInitializeTimer(undefined, "helper read");
    k.KeSetTimer(
      timer,
      -10_000,
      k.KeInitializeDpc(() => complete(io, irp, S.STATUS_SUCCESS), null, "helper completion"),
    );
    return S.STATUS_PENDING;
  }),
  "irp.marked-not-pending": viaHelper((io, irp) => {
    io.IoMarkIrpPending(irp);
    return complete(io, irp, S.STATUS_SUCCESS);
  }),
  "irp.status-mismatch": viaHelper((io, irp) => {
    complete(io, irp, S.STATUS_SUCCESS);
    return S.STATUS_UNSUCCESSFUL;
  }),
  "irp.neither-completed-nor-pending": viaHelper(() => S.STATUS_SUCCESS),
  "irp.complete-with-pending-status": viaHelper((io, irp) => complete(io, irp, S.STATUS_PENDING)),
  "irp.complete-with-cancel-routine": viaHelper((io, irp) => {
    io.IoSetCancelRoutine(irp, () => undefined);
    return complete(io, irp, S.STATUS_SUCCESS);
  }),
  "irp.dispatch-changed-irql": viaHelper((io, irp, k) => {
    k.KeRaiseIrql(APC_LEVEL);
    return complete(io, irp, S.STATUS_SUCCESS);
  }),
  "irp.cancel-spin-lock-kept": viaHelper((io, irp) => {
    io.IoMarkIrpPending(irp);
    io.IoSetCancelRoutine(irp, () => undefined); // forgets IoReleaseCancelSpinLock(Irp->CancelIrql)
    io.IoCancelIrp(irp);
    return S.STATUS_PENDING;
  }),
  "irp.call-completed-irp": {
    create: inCreate((m) => {
      const io = m.rx.sys.io;
      const dev = m.helper as DEVICE_OBJECT;
      const irp = io.IoAllocateIrp(dev.StackSize);
      io.IoFreeIrp(irp);
      void io.IoCallDriver(dev, irp);
    }),
  },
  "irp.freed-twice": {
    create: inCreate((m) => {
      const io = m.rx.sys.io;
      const irp = io.IoAllocateIrp((m.helper as DEVICE_OBJECT).StackSize);
      io.IoFreeIrp(irp);
      io.IoFreeIrp(irp);
    }),
  },
  "irp.information-exceeds-buffer": {
    control: async (_m, ctx, next) => {
      const p = ctx.LowIoContext.ParamsFor.IoCtl;
      if (p.FsControlCode !== IOCTL_VERIFIER_OVERFLOW) return next();
      ctx.InformationToReturn = p.OutputBufferLength + 56;
      return S.STATUS_SUCCESS;
    },
  },
  // ---------------------------------------------------------------- references, use after free
  "references.underflow": {
    create: inCreate((m, ctx) => {
      const fcb = ctx.pFcb as unknown as FCB;
      for (let i = 0; i < 4; i++) m.rx.RxpDereferenceNetFcb(fcb);
    }),
  },
  "references.bad-node-type": { create: inCreate((m, ctx) => m.rx.RxReference(ctx.pFcb as unknown as FCB)) },
  "ledger.history": {
    // Pattern 1: a reference taken while building the SRV_CALL and never dropped.
    createSrvCall: (m, srvCall, _cb, next) => {
      m.rx.RxReference(srvCall as unknown as SRV_CALL);
      return next();
    },
  },
  "useAfterFree.ddi": {
    create: inCreate((m, ctx) => {
      const old = keptFcb(m, ctx);
      if (old !== null) m.rx.RxpReferenceNetFcb(old);
    }),
    options: { closeDelayedFiles: 0 },
  },
  "useAfterFree.field": {
    // Pattern 5: a pointer to the FCB of the previous open, kept in the mini-redirector's own state.
    create: inCreate((m, ctx) => {
      const old = keptFcb(m, ctx);
      if (old !== null && old.OpenCount > 0) throw new Error("not reached: the read above traps");
    }),
    options: { closeDelayedFiles: 0 },
  },
  "useAfterFree.lock": {
    create: inCreate(async (m, ctx) => {
      const fcb = ctx.pFcb as unknown as FCB;
      const old = m.keptResource;
      m.keptResource = fcb.Header.Resource;
      if (old !== null) {
        await m.rx.k.ExAcquireResourceSharedLite(old, true);
        m.rx.k.ExReleaseResourceLite(old);
      }
    }),
    options: { closeDelayedFiles: 0 },
  },
  "useAfterFree.calldown": {
    // Pattern 8 (touching the construction context after its callback): a status written long after.
    createVNetRoot: (m, cnc, next) => {
      m.keptCnc = cnc;
      return next();
    },
    create: inCreate((m) => {
      if (m.keptCnc !== null) m.keptCnc.NetRootStatus = S.STATUS_SUCCESS;
    }),
  },
  "useAfterFree.calldown-right-after": {
    // Pattern 8, the narrow race: a status written again straight after the callback, in the same call. RDBSS's
    // waiter may already have read the context and freed it on another processor.
    createVNetRoot: (_m, cnc, next) => {
      const st = next();
      cnc.VirtualNetRootStatus = S.STATUS_SUCCESS;
      return st;
    },
  },
  "useAfterFree.srvcall-calldown-right-after": {
    // The same with the SRV_CALL's callback context: its status set again after the callback.
    createSrvCall: (_m, srvCall, cb) => {
      cb.Status = S.STATUS_SUCCESS;
      cb.RecommunicateContext = { server: srvCall.pSrvCallName };
      cb.SrvCalldownStructure.CallBack(cb);
      cb.Status = S.STATUS_SUCCESS;
      return S.STATUS_PENDING;
    },
  },
  // ---------------------------------------------------------------- pool (the kernel's pool tracking)
  "pool.double-free": {
    createSrvCall: (m, srvCall, _cb, next) => {
      const k = m.rx.k;
      const name = k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 64, "BugN", { server: srvCall.pSrvCallName });
      if (name !== null) {
        k.ExFreePoolWithTag(name, "BugN");
        k.ExFreePoolWithTag(name, "BugN");
      }
      return next();
    },
  },
  "pool.wrong-tag": {
    createSrvCall: (m, _srvCall, _cb, next) => {
      const block = m.rx.k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 32, "BugA");
      if (block !== null) m.rx.k.ExFreePoolWithTag(block, "BugB");
      return next();
    },
  },
  "pool.free-unallocated": {
    // Frees the calldown's callback context, which RDBSS owns and no allocation of the driver returned.
    createSrvCall: (m, _srvCall, cb, next) => {
      m.rx.k.ExFreePool(cb);
      return next();
    },
  },
  "pool.use-after-free": {
    // Pattern 6 with real memory: the per-server state is a pool block in Context2, freed when the delete's
    // RxFinalizeSrvCall said TRUE (posted: "will be freed") with the pointer left set; the posted
    // MRxFinalizeSrvCall then reads it.
    createSrvCall: (m, srvCall, _cb, next) => {
      srvCall.Context2 = m.rx.k.ExAllocatePoolWithTag(POOL_TYPE.NonPagedPool, 64, "BugS", {
        server: srvCall.pSrvCallName,
      });
      return next();
    },
    control: async (m, ctx, next) => {
      const st = await next();
      if (ctx.LowIoContext.ParamsFor.IoCtl.FsControlCode !== IOCTL_NULMRX.DELCONN) return st;
      for (const o of m.rx.live) {
        const state = o.kind === "SRV_CALL" && o.destroyPosted ? o.Context2 : null;
        if (typeof state === "object" && state !== null) m.rx.k.ExFreePoolWithTag(state, "BugS");
      }
      return st;
    },
    finalizeSrvCall: (_m, srvCall, next) => {
      const state = srvCall.Context2 as { server: string } | null;
      if (state !== null && state.server !== srvCall.pSrvCallName) throw new Error("not reached: the read traps");
      return next();
    },
  },
  "pool.leak": {
    // The same state, freed nowhere: pool tracking stops when nulmrx unloads (0xC4 / 0x62), naming the block.
    createSrvCall: (m, srvCall, _cb, next) => {
      m.rx.k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 128, "BugL", { server: srvCall.pSrvCallName });
      return next();
    },
  },
  "irql.pool-above-max": {
    // Paged pool allocated from the DPC that completes a read.
    read: (m, ctx) => {
      laterFromDpc(m, () => {
        m.rx.k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 16, "BugP");
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "irql.paged-pool-at-dispatch": {
    // The read's bookkeeping kept in PagedPool, and read by the DPC that completes the read (which also frees it there:
    // in record mode that is a second irql violation, 0xC4 / 0x11).
    read: (m, ctx) => {
      const k = m.rx.k;
      const req = k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 32, "BugQ", { length: 4 });
      if (req === null) return S.STATUS_INSUFFICIENT_RESOURCES;
      laterFromDpc(m, () => {
        ctx.IoStatusBlock.Information = req.length;
        k.ExFreePoolWithTag(req, "BugQ");
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "irql.paged-code-at-dispatch": {
    // The DPC that completes a read calls a helper whose code is pageable (it begins with PAGED_CODE()).
    read: (m, ctx) => {
      const finishRead = (): void => {
        m.rx.k.PAGED_CODE("BugFinishRead");
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      };
      laterFromDpc(m, finishRead);
      return S.STATUS_PENDING;
    },
  },
  // ---------------------------------------------------------------- mini-redirector contracts
  "minirdrContract.callback-twice": {
    createSrvCall: (_m, _sc, cb) => {
      cb.Status = S.STATUS_SUCCESS;
      cb.SrvCalldownStructure.CallBack(cb);
      cb.SrvCalldownStructure.CallBack(cb);
      return S.STATUS_PENDING;
    },
  },
  "minirdrContract.not-pending": {
    createSrvCall: (_m, _sc, cb) => {
      cb.Status = S.STATUS_SUCCESS;
      cb.SrvCalldownStructure.CallBack(cb);
      return S.STATUS_SUCCESS;
    },
  },
  "minirdrContract.callback-never": { createSrvCall: () => S.STATUS_PENDING },
  "minirdrContract.lowio-completed-and-returned": {
    // Completes the read through RxLowIoCompletion, then also returns its final status.
    read: (m, ctx, next) => {
      const st = next();
      ctx.IoStatusBlock.Status = st;
      m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      return st;
    },
  },
  "minirdrContract.context-not-cleared": { finalizeSrvCall: () => S.STATUS_SUCCESS },
  "minirdrContract.mini-inited-left": { deallocateForFcb: () => S.STATUS_SUCCESS, options: { closeDelayedFiles: 0 } },
  "minirdrContract.bad-file-type": {
    create: (m, ctx, next) => {
      const st = next();
      if (st === S.STATUS_SUCCESS && ctx.pFcb) m.rx.RxFinishFcbInitialization(ctx.pFcb as unknown as FCB, 3);
      return st;
    },
  },
  "minirdrContract.notify-without-cancel": { notify: () => S.STATUS_PENDING },
  "minirdrContract.notify-left-pending": {
    // A cancel routine that does not complete the request.
    notify: (m, ctx) => {
      armCancelRoutine(m.rx, ctx as RX_CONTEXT, () => S.STATUS_SUCCESS);
      return S.STATUS_PENDING;
    },
  },
  "minirdrContract.create-information": {
    create: (_m, ctx, next) => {
      const st = next();
      if (ctx.CurrentIrp) ctx.CurrentIrp.IoStatus.Information = 1;
      return st;
    },
  },
  "minirdrContract.no-fobx": {
    create: (_m, ctx, next) => {
      const st = next();
      ctx.pFobx = null;
      return st;
    },
  },
  "minirdrContract.mrxcontext-stale": {
    // Pattern 17: state left in MRxContext[] by MRxShouldTryToCollapseThisOpen, read back in MRxCreate.
    shouldCollapse: (_m, ctx) => {
      ctx.MRxContext[0] = { decided: "no collapse" };
      return S.STATUS_SUCCESS;
    },
    create: (_m, ctx, next) => {
      if (ctx.MRxContext[0] !== null) return S.STATUS_INTERNAL_ERROR;
      return next();
    },
    collapse: (_m, ctx, next) => {
      if (ctx.MRxContext[0] !== null) return S.STATUS_INTERNAL_ERROR;
      return next();
    },
  },
  "minirdrContract.mrxcontext-stale-later": {
    // Pattern 17, two calls on: MRxShouldTryToCollapseThisOpen leaves state in MRxContext[0], MRxCollapseOpen declines
    // without touching it, and MRxCreate reads it.
    shouldCollapse: (_m, ctx) => {
      ctx.MRxContext[0] = { decided: "checked the server" };
      return S.STATUS_SUCCESS;
    },
    collapse: () => S.STATUS_MORE_PROCESSING_REQUIRED,
    create: (_m, ctx, next) => {
      if (ctx.MRxContext[0] !== null) return S.STATUS_INTERNAL_ERROR;
      return next();
    },
  },
  "minirdrContract.force-dereferenced": {
    // Pattern 15: ForceDisconnect read as if it were a BOOLEAN pointer.
    finalizeVNetRoot: (_m, _vnr, force) => {
      const f = force as unknown as { readonly value: boolean };
      return f.value ? S.STATUS_SUCCESS : S.STATUS_SUCCESS;
    },
  },
  "minirdrContract.force-dereferenced-in-worker": {
    // Pattern 15 one step removed: the teardown is posted to a worker, which reads the captured ForceDisconnect.
    finalizeVNetRoot: (m, _vnr, force) => {
      const f = force as unknown as { readonly value: boolean };
      m.rx.RxDispatchToWorkerThread(
        m.device as unknown as RDBSS_DEVICE_OBJECT,
        WorkQueueType.DelayedWorkQueue,
        () => {
          if (f.value) m.rx.k.KeQuerySystemTime();
        },
        null,
        "buggy: tear the tree connection down",
      );
      return S.STATUS_SUCCESS;
    },
  },
  "minirdrContract.context-freed-early": {
    // Pattern 6: RxFinalizeSrvCall's TRUE taken as "freed" — the connection state goes before MRxFinalizeSrvCall.
    control: async (m, ctx, next) => {
      const st = await next();
      if (ctx.LowIoContext.ParamsFor.IoCtl.FsControlCode !== IOCTL_NULMRX.DELCONN) return st;
      for (const o of m.rx.live) {
        if (o.kind === "SRV_CALL" && o.destroyPosted) o.Context = null;
      }
      return st;
    },
  },
  // Pattern 7: per-server state keyed by name, shared by the dying SRV_CALL and its successor — in Context, or in
  // Context2 (nulmrx keeps its own state in Context).
  "minirdrContract.shared-context": nameKeyedState("Context"),
  "minirdrContract.shared-context2": nameKeyedState("Context2"),
  "minirdrContract.shared-context-freed": nameFoundState(false),
  "minirdrContract.shared-context-freed-posted": nameFoundState(true),
  "orphanedHandles.forced-delete": {
    // Pattern 2: the delete ignores the level the user asked for and always forces.
    control: async (_m, ctx, next) => {
      const p = ctx.LowIoContext.ParamsFor.IoCtl;
      if (p.FsControlCode === IOCTL_NULMRX.DELCONN && p.pInputBuffer instanceof Uint8Array) p.pInputBuffer[0] = 1;
      return next();
    },
  },
  "lostConnection.delete-ioctl": {
    // Pattern 19: RxFinalizeConnection's failure ignored; the delete reports success.
    control: async (_m, ctx, next) => {
      const st = await next();
      return ctx.LowIoContext.ParamsFor.IoCtl.FsControlCode === IOCTL_NULMRX.DELCONN ? S.STATUS_SUCCESS : st;
    },
  },
  "lostConnection.quiescence": {
    // Pattern 19: DELCONN never calls RxFinalizeConnection.
    control: async (m, ctx, next) => {
      const p = ctx.LowIoContext.ParamsFor.IoCtl;
      if (p.FsControlCode !== IOCTL_NULMRX.DELCONN) return next();
      const name = new TextDecoder("utf-16le").decode((p.pInputBuffer as Uint8Array).subarray(1, p.InputBufferLength));
      const letter = name.slice(2, name.indexOf(":"));
      m.control.localConnections.delete(letter.toUpperCase());
      return S.STATUS_SUCCESS;
    },
  },
  // ---------------------------------------------------------------- RDBSS's own stops, exceptions
  "rdbss.cleanup-bad-node-type": {
    create: (m, ctx, next) => {
      const st = next();
      if (st === S.STATUS_SUCCESS && ctx.pFcb) m.rx.RxFinishFcbInitialization(ctx.pFcb as unknown as FCB, 3);
      return st;
    },
  },
  "exception.driver-threw": {
    create: () => {
      const state = null as unknown as { open: boolean };
      return state.open ? S.STATUS_SUCCESS : S.STATUS_SUCCESS;
    },
  },
  // ---------------------------------------------------------------- patterns only (test/verifier/patterns.test.ts)
  "pattern.dereference-at-dpc": {
    // Pattern 18: RxDereference from the DPC that completes a read.
    read: (m, ctx) => {
      const srvOpen = ctx.pRelevantSrvOpen as unknown as Parameters<typeof m.rx.RxReference>[0];
      m.rx.RxReference(srvOpen);
      laterFromDpc(m, () => {
        // The IRQL check stops the run inside RxDereference. A DPC cannot await, so the promise is dropped, as a
        // driver writer would: its rejection must not become an unhandled rejection (ava fails the file on one).
        void m.rx.RxDereference(srvOpen, LockHoldingState.LHS_LockNotHeld);
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "pattern.netroot-callback-at-dpc": {
    // Pattern 18: the net-root construction reported from a DPC-level transport completion.
    createVNetRoot: (m, cnc) => {
      cnc.NetRootStatus = S.STATUS_SUCCESS;
      cnc.VirtualNetRootStatus = S.STATUS_SUCCESS;
      laterFromDpc(m, () => cnc.Callback(cnc));
      return S.STATUS_PENDING;
    },
  },
  "pattern.post-at-dpc": {
    // Pattern 18: the DPC that completes a read hands the completion to a worker with RxDispatchToWorkerThread
    // (≤ APC_LEVEL on its page; ReactOS's queue takes a spin lock and accepts DISPATCH_LEVEL).
    read: (m, ctx) => {
      laterFromDpc(m, () => {
        m.rx.RxDispatchToWorkerThread(
          m.device as unknown as RDBSS_DEVICE_OBJECT,
          WorkQueueType.CriticalWorkQueue,
          () => {
            ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
            m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
          },
          ctx,
          "mrx read completion worker",
        );
      });
      return S.STATUS_PENDING;
    },
  },
  "pattern.complete-and-cancel": {
    // Pattern 10: a read completed from a DPC without disarming its cancel routine, which completes it too. The DPC
    // holds a reference from the submit, so the context outlives the cancel routine's completion: what goes wrong is
    // the second completion alone (without the reference, its first write is a use after free:
    // "useAfterFree.rx-context-field-write").
    read: (m, ctx) => {
      armCancellingRoutine(m, ctx);
      ctx.ReferenceCount++;
      laterFromDpc(m, () => {
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
        m.rx.RxDereferenceAndDeleteRxContext(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "useAfterFree.rx-context-field-write": {
    // The same completion without the reference: when the cancel routine wins, RDBSS frees the context, and the DPC's
    // first statement writes into it.
    read: (m, ctx) => {
      armCancellingRoutine(m, ctx);
      laterFromDpc(m, () => {
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "useAfterFree.rx-context-field": {
    // A completion that asks the context whether it was cancelled, instead of disarming the cancel routine: when the
    // cancel routine won, the request is over and RDBSS freed the context, so the test reads freed memory. Here the
    // freed context still says CANCELLED and the DPC returns, so without the trap the run passes; in Windows the
    // context may already be another request's, whose flags say otherwise, and the DPC completes that request.
    read: (m, ctx) => {
      armCancellingRoutine(m, ctx);
      laterFromDpc(m, () => {
        if (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) return;
        if (armCancelRoutine(m.rx, ctx as RX_CONTEXT, null) !== S.STATUS_SUCCESS) return;
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "pattern.complete-and-cancel-fixed": {
    // The same, disarming first: only the winner of RxSetMinirdrCancelRoutine(ctx, NULL) completes. The DPC holds a
    // reference on the context from the submit, so its disarm never touches a context the cancel routine's
    // completion let RDBSS free.
    read: (m, ctx) => {
      armCancellingRoutine(m, ctx);
      ctx.ReferenceCount++;
      laterFromDpc(m, () => {
        if (armCancelRoutine(m.rx, ctx as RX_CONTEXT, null) === S.STATUS_SUCCESS) {
          ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
          m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
        }
        m.rx.RxDereferenceAndDeleteRxContext(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "useAfterFree.rx-context": {
    // Disarming first, as the docs say, but without a reference: when the cancel routine wins, RDBSS completes the
    // request and frees the context before the DPC's disarm touches it.
    read: (m, ctx) => {
      armCancellingRoutine(m, ctx);
      laterFromDpc(m, () => {
        if (armCancelRoutine(m.rx, ctx as RX_CONTEXT, null) !== S.STATUS_SUCCESS) return;
        ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_PENDING;
    },
  },
  "useAfterFree.rx-context-acquire": {
    // A late completion that takes the FCB for the request whose context it still holds: RxAcquireSharedFcb is given
    // the freed context (the FCB it kept from the submit is alive: the handle is open).
    read: (m, ctx) => {
      const fcb = ctx.pFcb as unknown as FCB;
      armCancellingRoutine(m, ctx);
      laterFromDpc(m, () => {
        m.rx.RxAcquireSharedFcb(ctx as RX_CONTEXT, fcb).catch(() => {});
      });
      return S.STATUS_PENDING;
    },
  },
  "pattern.returned-then-completed": {
    // MRxLowIOSubmit[LOWIO_OP_READ] returns its final status, and a DPC later calls RxLowIoCompletion as well: the
    // second completion is the 0x44, whatever RDBSS must read of the (by then freed) context to say so.
    read: (m, ctx) => {
      laterFromDpc(m, () => {
        m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
      });
      return S.STATUS_SUCCESS;
    },
  },
  "useAfterFree.rx-context-over-release": {
    // MRxLowIOSubmit drops a reference it never took: RDBSS frees the context under its own request.
    read: (m, ctx) => {
      m.rx.RxDereferenceAndDeleteRxContext(ctx as RX_CONTEXT);
      return S.STATUS_SUCCESS;
    },
  },
  "notify.slow-cancel": {
    // A correct driver: notifications pend with a cancel routine that waits (it runs at PASSIVE_LEVEL) before it
    // completes; the server answers the second notification 2 ms after it pends, disarming first. Closing the handle
    // cancels both in turn, and the second completes while the first's cancel routine waits.
    notify: (m, ctx) => {
      const k = m.rx.k;
      const cancel = async (c: RX_CONTEXT): Promise<NTSTATUS> => {
        await k.KeDelayExecutionThread(-50_000);
        c.IoStatusBlock.Status = S.STATUS_CANCELLED;
        return m.rx.RxLowIoCompletion(c);
      };
      if (armCancelRoutine(m.rx, ctx as RX_CONTEXT, cancel) !== S.STATUS_SUCCESS) return S.STATUS_CANCELLED;
      m.notifyCount++;
      if (m.notifyCount === 2) {
        const answer = (): void => {
          if (armCancelRoutine(m.rx, ctx as RX_CONTEXT, null) !== S.STATUS_SUCCESS) return;
          ctx.IoStatusBlock.Status = S.STATUS_SUCCESS;
          m.rx.RxLowIoCompletion(ctx as RX_CONTEXT);
        };
        k.KeSetTimer(k.KeInitializeTimer(undefined, "server"), -20_000, k.KeInitializeDpc(answer, null, "answer"));
      }
      return S.STATUS_PENDING;
    },
  },
  "pattern.missing-dispatch-entry": {},
  // ---------------------------------------------------------------- reports only (test/scenario/report-clarity.test.ts)
  "report.read-never-completes": {
    // MRxLowIOSubmit[LOWIO_OP_READ] pends and never calls RxLowIoCompletion: the reader (or whoever wants the FCB
    // resource the read holds) waits forever.
    read: () => S.STATUS_PENDING,
  },
};

/** nulmrx with one bug switched on. */
export class BuggyMrx extends NulMrx {
  readonly bug: Bug;
  readonly bugName: string;
  readonly resources = new Map<string, ERESOURCE>();
  readonly connections = new Map<string, { server: string; open: boolean }>();
  kept: FCB | null = null;
  keptResource: ERESOURCE | null = null;
  keptCnc: MRX_CREATENETROOT_CONTEXT<NulExtensions> | null = null;
  /** Notifications submitted so far ("notify.slow-cancel"). */
  notifyCount = 0;
  helper: DEVICE_OBJECT | null = null;

  constructor(em: Emulator, bugName: string) {
    const bug = BUGS[bugName];
    if (bug === undefined) throw new Error(`unknown bug "${bugName}"; known: ${Object.keys(BUGS).join(", ")}`);
    super(em.rx, bug.options ?? {});
    this.bug = bug;
    this.bugName = bugName;
    const lowio = this.MRxLowIOSubmit as unknown as ((ctx: Ctx) => NTSTATUS)[];
    const read = lowio[0] as (ctx: Ctx) => NTSTATUS;
    const notify = lowio[8] as (ctx: Ctx) => NTSTATUS;
    // Through locals, not `lowio[0] = (ctx) => …`: V8 pretenures a function literal assigned straight to an element,
    // and every finished run would be promoted through it (docs/WRITING-A-MINIRDR.md, "Keeping finished runs
    // collectable").
    if (bug.read) {
      const r = bug.read;
      const wrapped = (ctx: Ctx): NTSTATUS => r(this, ctx, () => read(ctx));
      lowio[0] = wrapped;
    }
    if (bug.notify) {
      const n = bug.notify;
      const wrapped = (ctx: Ctx): NTSTATUS => n(this, ctx, () => notify(ctx));
      lowio[8] = wrapped;
    }
  }

  override MRxStart(): NTSTATUS {
    return this.bug.start ? (this.bug.start(this) as NTSTATUS) : super.MRxStart();
  }
  override MRxCreate(ctx: Ctx): NTSTATUS {
    return this.bug.create
      ? (this.bug.create(this, ctx, () => super.MRxCreate(ctx)) as NTSTATUS)
      : super.MRxCreate(ctx);
  }
  override MRxShouldTryToCollapseThisOpen(ctx?: Ctx): NTSTATUS {
    return this.bug.shouldCollapse && ctx ? this.bug.shouldCollapse(this, ctx) : super.MRxShouldTryToCollapseThisOpen();
  }
  override MRxCollapseOpen(ctx: Ctx): NTSTATUS {
    return this.bug.collapse
      ? this.bug.collapse(this, ctx, () => super.MRxCollapseOpen(ctx))
      : super.MRxCollapseOpen(ctx);
  }
  override MRxCreateSrvCall(
    srvCall: MRX_SRV_CALL<NulExtensions>,
    cb: MRX_SRVCALL_CALLBACK_CONTEXT<NulExtensions>,
  ): NTSTATUS {
    return this.bug.createSrvCall
      ? this.bug.createSrvCall(this, srvCall, cb, () => super.MRxCreateSrvCall(srvCall, cb))
      : super.MRxCreateSrvCall(srvCall, cb);
  }
  override MRxSrvCallWinnerNotify(
    srvCall: MRX_SRV_CALL<NulExtensions>,
    winner: boolean,
    recommunicate: unknown,
  ): NTSTATUS {
    // The shared-context bug keeps its own Context (nulmrx's would overwrite it with the recommunicate context).
    const keep = this.bugName === "minirdrContract.shared-context" ? srvCall.Context : undefined;
    const st = super.MRxSrvCallWinnerNotify(srvCall, winner, recommunicate);
    if (keep !== undefined) srvCall.Context = keep;
    return st;
  }
  override MRxCreateVNetRoot(cnc: MRX_CREATENETROOT_CONTEXT<NulExtensions>): NTSTATUS {
    return this.bug.createVNetRoot
      ? this.bug.createVNetRoot(this, cnc, () => super.MRxCreateVNetRoot(cnc))
      : super.MRxCreateVNetRoot(cnc);
  }
  override MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<NulExtensions>): NTSTATUS {
    return this.bug.finalizeSrvCall
      ? this.bug.finalizeSrvCall(this, srvCall, () => super.MRxFinalizeSrvCall(srvCall))
      : super.MRxFinalizeSrvCall(srvCall);
  }
  override MRxFinalizeVNetRoot(vnr?: MRX_V_NET_ROOT<NulExtensions>, force?: null): NTSTATUS {
    return this.bug.finalizeVNetRoot && vnr
      ? this.bug.finalizeVNetRoot(this, vnr, force ?? null)
      : super.MRxFinalizeVNetRoot();
  }
  override MRxDeallocateForFcb(fcb: MRX_FCB<NulExtensions>): NTSTATUS {
    return this.bug.deallocateForFcb
      ? this.bug.deallocateForFcb(this, fcb, () => super.MRxDeallocateForFcb(fcb))
      : super.MRxDeallocateForFcb(fcb);
  }
  override async MRxDevFcbXXXControlFile(ctx: Ctx): Promise<NTSTATUS> {
    return this.bug.control
      ? this.bug.control(this, ctx, () => super.MRxDevFcbXXXControlFile(ctx))
      : super.MRxDevFcbXXXControlFile(ctx);
  }
}

/** Load the helper device for the IRP-protocol bugs (its read dispatch is the bug's). */
async function loadHelper(em: Emulator, mrx: BuggyMrx): Promise<void> {
  const io = em.sys.io;
  const ok = (_d: DEVICE_OBJECT, irp: IRP): NTSTATUS => complete(io, irp, S.STATUS_SUCCESS);
  const read = mrx.bug.helperRead;
  await io.IoCreateDriver("\\Driver\\VerifierHelper", (d: DRIVER_OBJECT) => {
    d.MajorFunction[IRP_MJ_CREATE] = ok;
    d.MajorFunction[IRP_MJ_CLEANUP] = ok;
    d.MajorFunction[IRP_MJ_CLOSE] = ok;
    d.MajorFunction[IRP_MJ_READ] = read ? (_dev, irp) => read(io, irp, em.k) : ok;
    const r = io.IoCreateDevice(d, null, HELPER_DEVICE, FILE_DEVICE_UNKNOWN);
    mrx.helper = r.device;
    return r.status;
  });
}

/** The scenario module: `setup: { minirdr: <path to this file>, options: { bug: <name> } }`. */
export const buggyModule: MiniRdrModule = {
  name: "buggy-nulmrx",
  description: "nulmrx with one deliberate bug (test/verifier/_buggy.ts), for the check catalogue's fixtures.",
  deviceName: NULMRX_DEVICE_NAME,
  ioctls: BUGGY_IOCTLS,
  capabilities: { uncPaths: false, driveLetters: true, changeNotifications: true, delayedClose: true },
  usesServers: false,
  async load(em, setup) {
    const bug = typeof setup.options?.bug === "string" ? setup.options.bug : "none";
    const mrx = new BuggyMrx(em, bug);
    await loadHelper(em, mrx);
    const { status, driver } = await em.sys.io.IoCreateDriver("\\FileSystem\\NulMRx", (d) => mrx.DriverEntry(d));
    return {
      status,
      driver,
      provider: new NetworkProvider(em, NULMRX_DEVICE_NAME, IOCTL_NULMRX),
      leftAtUnload: () => mrx.leftAtUnload,
      backendLeaks: () => [],
      backend: mrx,
    };
  },
};

export default buggyModule;
