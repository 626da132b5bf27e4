/**
 * The check catalogue as data: every check of ../shared/DESIGN.md §4 — IRQL, locks, lock order, references, IRPs,
 * mini-redirector contracts — with its stop code and parameter meanings, what triggers it, the explanation the
 * stop prints, its switch and default mode, the fixture that triggers it (fixtures/checks/<id>.yaml) and the test.
 * docs/CHECKS.md is the prose around it; test/verifier/catalogue.test.ts runs every fixture and checks the stop
 * against its entry.
 *
 * A *switch* is the name `setup.checks`, `rdbss run --check NAME=MODE` and `createEmulator({ checks })` take
 * (several entries share one, as Driver Verifier's options group rules). Entries whose switch is null stop always,
 * as Windows does whatever the verifier settings (a second IRP completion, a driver exception).
 */
import { IO_CHECKS } from "../io/index.js";
import { BAD_POOL_CALLER_CODES, BUGCHECK, DV, KERNEL_CHECKS, VERIFIER_C4, VERIFIER_C9 } from "../kernel/index.js";
import { RDBSS_ASSERT, RDBSS_CHECKS } from "../rdbss/index.js";

/** A check switch: the name a mode is set for. */
export type CheckSwitch = keyof typeof KERNEL_CHECKS | keyof typeof IO_CHECKS | keyof typeof RDBSS_CHECKS;

/** What a switch does by default: stop the run, record the violation, do nothing, or (ledger) just record history. */
export type DefaultMode = "stop" | "record" | "off" | "on";

export interface CheckEntry {
  /** Stable id, also the fixture's file name: fixtures/checks/<id>.yaml. */
  readonly id: string;
  /** The switch that sets its mode; null when it always stops. */
  readonly check: CheckSwitch | null;
  /** One line. */
  readonly title: string;
  /** The stop: a bug-check code (or "deadlock" for the deadlock report, "none" for instruments). */
  readonly code: number | "deadlock" | "none";
  /** Parameter 1 when it identifies the rule (a Driver Verifier sub-code, or RDBSS_BUG_CHECK_ASSERT | sub-code). */
  readonly p1?: bigint;
  /** What parameters 1–4 carry. */
  readonly params: readonly [string, string, string, string];
  /** What triggers it. */
  readonly trigger: string;
  /** The plain-language explanation the stop prints (abridged). */
  readonly explanation: string;
  /** fixtures/checks/<id>.yaml, or null with `noFixture` saying why. */
  readonly fixture: string | null;
  readonly noFixture?: string;
  /** The ava tests that pin it ("file › title"). */
  readonly tests: readonly string[];
  /** The lifecycle-bug pattern of rdbss-semantics §8 it catches, if any. */
  readonly patterns?: readonly number[];
  /** The nearest Driver Verifier / lockdep rule, and how this differs. */
  readonly compare?: string;
}

const ASSERT = 0xa55a0000;
const rdbss = (sub: number): bigint => BigInt((ASSERT | sub) >>> 0);
const c4 = (sub: bigint): bigint => sub;
const c9 = (name: keyof typeof VERIFIER_C9): bigint => BigInt(VERIFIER_C9[name].code);

const P_IRQL_A: readonly [string, string, string, string] = [
  "address referenced (0 for a DDI call)",
  "IRQL at the time",
  "0",
  "0",
];
const P_C9: readonly [string, string, string, string] = [
  "Driver Verifier I/O sub-code",
  "the IRP or device (fake address)",
  "a status, IRQL or second object",
  "a further value",
];
const P_27: readonly [string, string, string, string] = [
  "RDBSS_BUG_CHECK_ASSERT (0xA55A0000) | sub-code",
  "the structure concerned (fake address)",
  "a detail (the lock, an access kind, a count)",
  "0",
];
const P_44: readonly [string, string, string, string] = [
  "the IRP (fake address)",
  "the RX_CONTEXT, when RDBSS completed it",
  "0",
  "0",
];

const CAT = "test/verifier/catalogue.test.ts";
const fx = (id: string): string => `fixtures/checks/${id}.yaml`;

/** One catalogue entry whose fixture and catalogue test are named after its id. */
function entry(e: Omit<CheckEntry, "fixture" | "tests"> & { tests?: readonly string[] }): CheckEntry {
  return { ...e, fixture: fx(e.id), tests: [`${CAT} › ${e.id}`, ...(e.tests ?? [])] };
}

export const CATALOGUE: readonly CheckEntry[] = [
  // ------------------------------------------------------------------ IRQL
  entry({
    id: "irql.ddi-above-max",
    check: "irql",
    title: "A DDI called above its maximum IRQL",
    code: BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
    params: P_IRQL_A,
    trigger:
      "Any kernel, I/O or RDBSS routine entered above the IRQL its documentation allows (KERNEL_DDIS, IO_DDIS, RDBSS_DDIS) — e.g. RxDereference, the net-root callback or (docs profile: ≤ APC_LEVEL on its page) RxDispatchToWorkerThread from a DPC-level completion.",
    explanation: "<DDI> was called at DISPATCH_LEVEL, but it may only be called at APC_LEVEL or below.",
    patterns: [18],
    tests: ["test/verifier/patterns.test.ts › pattern 18"],
    compare:
      "Driver Verifier's IRQL checking reports paged access at raised IRQL when it happens to fault (0xD1/0xA); here every call is checked against the routine's declared maximum.",
  }),
  entry({
    id: "irql.wait-at-dispatch",
    check: "irql",
    title: "A wait at DISPATCH_LEVEL or above",
    code: BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
    params: ["the object waited on", "IRQL at the time", "0", "0"],
    trigger:
      "KeWaitForSingleObject / KeWaitForMultipleObjects with a nonzero timeout, or any blocking acquisition, at DISPATCH_LEVEL.",
    explanation:
      "KeWaitForSingleObject on <object> at DISPATCH_LEVEL: a wait with a nonzero timeout is only allowed below DISPATCH_LEVEL.",
  }),
  entry({
    id: "irql.raise-to-lower",
    check: "irql",
    title: "KeRaiseIrql to a lower IRQL",
    code: BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL,
    params: ["the current IRQL", "the requested IRQL", "0", "0"],
    trigger: "KeRaiseIrql(NewIrql) with NewIrql below the current IRQL.",
    explanation:
      'KeRaiseIrql was asked to "raise" from DISPATCH_LEVEL to the lower PASSIVE_LEVEL; use KeLowerIrql to lower.',
  }),
  entry({
    id: "irql.lower-to-higher",
    check: "irql",
    title: "KeLowerIrql to a higher IRQL",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.LOWER_IRQL_TO_HIGHER),
    params: ["0x31", "the current IRQL", "the requested IRQL", "0"],
    trigger: "KeLowerIrql(NewIrql) with NewIrql above the current IRQL.",
    explanation: 'KeLowerIrql was asked to "lower" from PASSIVE_LEVEL to the higher DISPATCH_LEVEL.',
  }),
  entry({
    id: "irql.fast-mutex-above-apc",
    check: "irql",
    title: "ExAcquireFastMutex above APC_LEVEL",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.FAST_MUTEX_ACQUIRE_BAD_IRQL),
    params: ["0x33", "the IRQL", "the fast mutex", "0"],
    trigger: "ExAcquireFastMutex at DISPATCH_LEVEL (e.g. while holding a spin lock).",
    explanation: 'ExAcquireFastMutex on "<name>" at DISPATCH_LEVEL; the maximum is APC_LEVEL.',
  }),
  entry({
    id: "irql.fast-mutex-release-not-apc",
    check: "irql",
    title: "ExReleaseFastMutex at an IRQL other than APC_LEVEL",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.FAST_MUTEX_RELEASE_BAD_IRQL),
    params: ["0x34", "the IRQL", "the fast mutex", "0"],
    trigger: "Changing the IRQL while holding a fast mutex, then releasing it.",
    explanation: 'ExReleaseFastMutex on "<name>" at DISPATCH_LEVEL; a held fast mutex keeps the thread at APC_LEVEL.',
  }),
  entry({
    id: "irql.spin-lock-above-dispatch",
    check: "irql",
    title: "KeAcquireSpinLock above DISPATCH_LEVEL",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.SPINLOCK_ACQUIRE_BAD_IRQL),
    params: ["0x42", "the IRQL", "the spin lock", "0"],
    trigger: "KeAcquireSpinLock at HIGH_LEVEL (an ordinary spin lock above DISPATCH_LEVEL).",
    explanation:
      'KeAcquireSpinLock on "<name>" at HIGH_LEVEL; spin locks may only be acquired at DISPATCH_LEVEL or below.',
  }),
  entry({
    id: "irql.spin-lock-release-not-dispatch",
    check: "irql",
    title: "KeReleaseSpinLock at an IRQL other than DISPATCH_LEVEL",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.SPINLOCK_RELEASE_BAD_IRQL),
    params: ["0x32", "the IRQL", "the spin lock", "0"],
    trigger: "Lowering the IRQL while holding a spin lock, then releasing it.",
    explanation: 'KeReleaseSpinLock on "<name>" at PASSIVE_LEVEL; a spin lock holder is at DISPATCH_LEVEL.',
  }),
  entry({
    id: "irql.spin-lock-at-dpc-below-dispatch",
    check: "irql",
    title: "KeAcquireSpinLockAtDpcLevel below DISPATCH_LEVEL",
    code: BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL,
    params: ["the IRQL", "DISPATCH_LEVEL (2)", "0", "0"],
    trigger: "KeAcquireSpinLockAtDpcLevel from PASSIVE_LEVEL code.",
    explanation:
      'KeAcquireSpinLockAtDpcLevel on "<name>" at PASSIVE_LEVEL; the caller must already be at DISPATCH_LEVEL.',
  }),
  entry({
    id: "irql.dpc-returns-promise",
    check: "irql",
    title: "A DPC routine that is async (waits)",
    code: BUGCHECK.IRQL_NOT_LESS_OR_EQUAL,
    params: ["0", "DISPATCH_LEVEL (2)", "0", "0"],
    trigger: "A KDPC routine that returns a promise: it would wait at DISPATCH_LEVEL.",
    explanation: "DPC routine <name> returned a promise: a DPC runs at DISPATCH_LEVEL and cannot wait or be async.",
  }),
  entry({
    id: "irql.pool-above-max",
    check: "irql",
    title: "Pool allocated or freed above its IRQL",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: BigInt(VERIFIER_C4.PAGED_POOL_ALLOC_ABOVE_APC.code),
    params: ["0x01 / 0x02 (allocation), 0x11 / 0x12 (free)", "the IRQL", "the pool type", "bytes, or the block"],
    trigger:
      "ExAllocatePoolWithTag / ExFreePoolWithTag of PagedPool above APC_LEVEL, or of NonPagedPool above DISPATCH_LEVEL (e.g. paged pool from a DPC-level completion).",
    explanation:
      "ExAllocatePoolWithTag of PagedPool at DISPATCH_LEVEL: paged pool may only be allocated or freed at APC_LEVEL or below (its pages can be paged out).",
    compare:
      "Driver Verifier's IRQL checking raises the same 0xC4 sub-codes; here the block's tag and the call chain are in the report.",
  }),
  entry({
    id: "irql.paged-pool-at-dispatch",
    check: "irql",
    title: "Paged pool read or written at DISPATCH_LEVEL",
    code: BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL,
    params: ["the block", "the IRQL", "0 = read, 1 = write", "0"],
    trigger:
      "A read or write of a live PagedPool block (from ExAllocatePoolWithTag) at DISPATCH_LEVEL or above — e.g. a DPC-level completion reading request state kept in paged pool. Reported once per block.",
    explanation:
      "A read of <field> of pool block '<tag>' (PagedPool, <n> bytes) at DISPATCH_LEVEL (in a DPC): paged pool may be touched only at APC_LEVEL or below … The block was allocated on thread … call chain ….",
    compare:
      "In Windows this faults only when the page happens to be paged out at that moment; Driver Verifier's force IRQL checking pages pageable memory out at every raise to make it likely. Here every access is checked, so the bug shows on the first run, with where the block was allocated.",
    tests: [
      "test/kernel/pool.test.ts › a paged block read at DISPATCH_LEVEL: 0xD1 naming the field and the allocation; at APC_LEVEL it is fine",
      "test/kernel/pool.test.ts › in record mode a paged block touched at DISPATCH_LEVEL is listed once, however often it is touched",
    ],
  }),
  entry({
    id: "irql.paged-code-at-dispatch",
    check: "irql",
    title: "Pageable code run at DISPATCH_LEVEL",
    code: BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL,
    params: [
      "the routine (fake code address)",
      "the IRQL",
      "8 (execute)",
      "the routine again (the faulting instruction)",
    ],
    trigger:
      "PAGED_CODE() (Kernel.PAGED_CODE, the first statement of a pageable routine) reached above APC_LEVEL. memsmb and nulmrx begin their pageable MRx routines with it, as the WDK's nulmrx does.",
    explanation:
      "The pageable routine <name> (it begins with PAGED_CODE()) ran at DISPATCH_LEVEL (in a DPC) on thread …: pageable code may run only at APC_LEVEL or below …",
    compare:
      "A checked build's PAGED_CODE() asserts; a free build faults only when the code's page is out (0xD1 with 8 in parameter 3). Here the rule is checked on every call.",
    tests: [
      "test/kernel/pool.test.ts › PAGED_CODE(): nothing at PASSIVE_LEVEL or APC_LEVEL; above, 0xD1 with 8 (execute) naming the routine from the call chain",
      "test/kernel/pool.test.ts › PAGED_CODE() in record mode: one violation per routine, each with its own code address",
    ],
  }),
  // ------------------------------------------------------------------ locks
  entry({
    id: "locks.non-owner-release",
    check: "locks",
    title: "ERESOURCE released by a thread that does not own it",
    code: BUGCHECK.RESOURCE_NOT_OWNED,
    params: ["the resource", "the releasing thread", "the owner table", "0"],
    trigger:
      "ExReleaseResourceLite by a thread that does not hold it — e.g. releasing the FCB resource from a completion thread without RxReleaseFcbResourceForThreadInMRx / ExReleaseResourceForThreadLite.",
    explanation:
      'ExReleaseResourceLite on ERESOURCE "<name>" for thread "<t>", which does not own it (held exclusive by "<owner>").',
  }),
  entry({
    id: "locks.recursive-fast-mutex",
    check: "locks",
    title: "A FAST_MUTEX acquired again by its owner",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.SELF_DEADLOCK),
    params: ["0x1000", "the fast mutex", "the thread", "0"],
    trigger: "ExAcquireFastMutex on a fast mutex the thread already holds.",
    explanation: 'Thread "<t>" acquired FAST_MUTEX "<name>" again while holding it. Fast mutexes are not recursive.',
    compare: "Driver Verifier deadlock detection reports the same (0xC4/0x1000).",
  }),
  entry({
    id: "locks.shared-to-exclusive",
    check: "locks",
    title: "ERESOURCE held shared, then requested exclusive (upgrade)",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.SELF_DEADLOCK),
    params: ["0x1000", "the resource", "the thread", "0"],
    trigger: "ExAcquireResourceExclusiveLite(res, TRUE) by a thread holding res shared.",
    explanation:
      'Thread "<t>" holds ERESOURCE "<name>" shared and asked for it exclusive. An ERESOURCE cannot be upgraded (self-deadlock).',
    patterns: [12],
    compare: "Driver Verifier leaves ERESOURCEs out of its deadlock detection; lockdep has no ERESOURCE semantics.",
  }),
  entry({
    id: "locks.spin-lock-twice",
    check: "locks",
    title: "A spin lock acquired twice",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.SELF_DEADLOCK),
    params: ["0x1000", "the spin lock", "the thread", "0"],
    trigger: "KeAcquireSpinLock on a spin lock already held (on one processor, by anyone).",
    explanation:
      'KeAcquireSpinLock: thread "<t>" acquired spin lock "<name>" that it already holds; it would spin forever.',
  }),
  entry({
    id: "locks.fast-mutex-not-held",
    check: "locks",
    title: "A FAST_MUTEX released that is not held",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.RELEASE_NOT_OWNED),
    params: ["0x1007 (0x1004 when another thread owns it)", "the fast mutex", "the thread", "0"],
    trigger: "ExReleaseFastMutex by a thread that does not own it.",
    explanation: 'ExReleaseFastMutex on FAST_MUTEX "<name>" by thread "<t>", which does not own it (it is not held).',
  }),
  entry({
    id: "locks.spin-lock-not-held",
    check: "locks",
    title: "A spin lock released that is not held",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.RELEASE_NOT_OWNED),
    params: ["0x1007 (0x1004 when another thread holds it)", "the spin lock", "the thread", "0"],
    trigger: "KeReleaseSpinLock on a spin lock nobody (or another thread) holds.",
    explanation: 'KeReleaseSpinLock: thread "<t>" released spin lock "<name>" that nobody holds.',
  }),
  entry({
    id: "locks.kmutex-not-owned",
    check: "locks",
    title: "A KMUTEX released by a non-owner",
    code: BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED,
    p1: 0xc0000046n,
    params: ["STATUS_MUTANT_NOT_OWNED", "the mutex", "0", "0"],
    trigger: "KeReleaseMutex by a thread that does not own the mutex (Windows raises STATUS_MUTANT_NOT_OWNED).",
    explanation: 'KeReleaseMutex on "<name>" by thread "<t>", which does not own it.',
  }),
  entry({
    id: "locks.critical-region-underflow",
    check: "locks",
    title: "KeLeaveCriticalRegion without KeEnterCriticalRegion",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.LEAVE_CRITICAL_REGION_NOT_IN_REGION),
    params: ["0x3E", "the thread", "0", "0"],
    trigger: "KeLeaveCriticalRegion / FsRtlExitFileSystem more often than entered.",
    explanation:
      "KeLeaveCriticalRegion without a matching KeEnterCriticalRegion (the APC-disable count went negative).",
  }),
  entry({
    id: "locks.delete-held-resource",
    check: "locks",
    title: "ExDeleteResourceLite on a held ERESOURCE",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.RESOURCE_DELETED_WHILE_HELD),
    params: ["0x100B", "the resource", "0", "0"],
    trigger: "Deleting a resource that is held or waited for (or using it after deletion).",
    explanation: 'ExDeleteResourceLite on ERESOURCE "<name>" while it is held (1 acquisition(s)) or waited for (0).',
  }),
  entry({
    id: "locks.dpc-holding-lock",
    check: "locks",
    title: "A DPC routine returning with a lock held",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: 0n,
    params: ["0", "0", "0", "0"],
    trigger: "A KDPC routine that acquires a spin lock (KeAcquireSpinLockAtDpcLevel) and returns without releasing it.",
    explanation: 'DPC routine <name> returned holding KSPIN_LOCK "<lock>".',
  }),
  entry({
    id: "locks.convert-not-owner",
    check: "locks",
    title: "ExConvertExclusiveToSharedLite without holding it exclusive",
    code: BUGCHECK.RESOURCE_NOT_OWNED,
    params: ["the resource", "the thread", "0", "1"],
    trigger: "ExConvertExclusiveToSharedLite by a thread that does not hold the resource exclusive.",
    explanation:
      'ExConvertExclusiveToSharedLite on ERESOURCE "<name>" by thread "<t>", which does not hold it exclusive.',
  }),
  entry({
    id: "locks.owner-pointer-not-owner",
    check: "locks",
    title: "ExSetResourceOwnerPointer without owning the resource",
    code: BUGCHECK.RESOURCE_NOT_OWNED,
    params: ["the resource", "the thread", "0", "2"],
    trigger: "ExSetResourceOwnerPointer by a thread that holds nothing of the resource.",
    explanation: 'ExSetResourceOwnerPointer on ERESOURCE "<name>" by thread "<t>", which does not own it.',
  }),
  // ------------------------------------------------------------------ RDBSS lock preconditions
  entry({
    id: "rdbssLocks.netname-exclusive",
    check: "rdbssLocks",
    title: "An RDBSS routine called without the lock its documentation requires (netname table exclusive …)",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.LOCK_NOT_HELD),
    params: P_27,
    trigger:
      "RxFinalizeSrvCall / NetRoot / VNetRoot, RxForceFinalizeAllVNetRoots and RxCreate(SrvCall|NetRoot|VNetRoot) without the netname table exclusive; RxCreateNetFcb without the FCB table; RxCreateSrvOpen / RxCreateNetFobx / RxFinalize(NetFcb|SrvOpen|NetFobx) without the FCB exclusive; RxPrefixTableLookupName without the table held at all (RDBSS_DDIS).",
    explanation:
      'RxFinalizeSrvCall (SRV_CALL#1 \\srv) requires the netname table of <mrx> held exclusive, but thread "<t>" holds it shared.',
    patterns: [3],
    tests: ["test/verifier/patterns.test.ts › pattern 3"],
    compare: "No Windows tool checks RDBSS's lock preconditions; checked builds of RDBSS asserted some of them.",
  }),
  entry({
    id: "rdbssLocks.lying-lock-state",
    check: "rdbssLocks",
    title: "RxDereference with a LockHoldingState that is not true",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.LOCK_STATE_LIE),
    params: P_27,
    trigger:
      "RxDereference(obj, LHS_ExclusiveLockHeld) (or _SharedLockHeld) while the thread does not hold the lock so.",
    explanation:
      'RxDereference(SRV_CALL#1 \\srv, LHS_ExclusiveLockHeld) but thread "<t>" holds the netname table not at all. Finalizing without the lock races concurrent lookups (use after free).',
    patterns: [4],
    tests: ["test/verifier/patterns.test.ts › pattern 4"],
  }),
  entry({
    id: "rdbssLocks.force-must-be-false",
    check: "rdbssLocks",
    title: "RxpDereferenceAndFinalizeNetFcb / RxFinalizeNetFcb with Force TRUE (reactos profile)",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.FORCE_MUST_BE_FALSE),
    params: P_27,
    trigger:
      "Under the reactos profile (fcbFinalizeAssertions: asserted), a forced FCB finalization, which ReactOS asserts against.",
    explanation:
      "RxpDereferenceAndFinalizeNetFcb(FCB#4 …, ForceFinalize = TRUE): RDBSS asserts ForceFinalize is FALSE.",
  }),
  // ------------------------------------------------------------------ lock order
  entry({
    id: "lockOrder.rank",
    check: "lockOrder",
    title: "A waiting acquisition against the documented lock order (netname table → FCB table → FCB)",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.LOCK_HIERARCHY_VIOLATION),
    params: ["0x1001", "the lock being acquired", "the lock held", "0"],
    trigger:
      "Waiting for a lock of a class ranked lower than one held (setLockRank): e.g. RxFinalizeConnection or the netname table from inside MRxCreate, which runs with the FCB held.",
    explanation:
      'ExAcquireResourceExclusiveLite: thread "<t>" waits for netname table "…" while holding FCB "…". The documented order is RxData → netname table → FCB table → FCB → FCB paging; taking them the other way round can deadlock.',
    patterns: [11],
    tests: ["test/verifier/patterns.test.ts › pattern 11"],
  }),
  entry({
    id: "lockOrder.cycle",
    check: "lockOrder",
    title: "A lock-order inversion (lockdep graph): the first cycle among lock classes",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.LOCK_HIERARCHY_VIOLATION),
    params: ["0x1001", "the lock being acquired", "the lock held", "0"],
    trigger:
      "A blocking acquisition of class B while holding class A, after B → … → A was seen (on any thread, at any time): reported the first time the cycle becomes possible, whether or not the run deadlocks.",
    explanation:
      "Lock-order inversion: thread … waits for … (class B) while holding … (class A), but the opposite order was seen before — the lock classes form the cycle A → B → A. Then both acquisition chains: thread, call chain, virtual time and step of each edge.",
    tests: ["test/verifier/lockorder.test.ts"],
    compare:
      "Driver Verifier's deadlock detection (0xC4/0x1001) covers spin locks, mutexes and fast mutexes but not ERESOURCEs; lockdep covers Linux lock classes. This graph covers ERESOURCE, FAST_MUTEX, KMUTEX and spin locks, and prints both chains with virtual time and scenario step.",
  }),
  entry({
    id: "deadlock.wait-for-graph",
    check: "deadlock",
    title: "Every live thread blocked: a deadlock, with who waits for what",
    code: "deadlock",
    params: ["—", "—", "—", "—"],
    trigger:
      "No thread is ready, no timer pending, and a non-idle thread waits (an ERESOURCE, FAST_MUTEX, KMUTEX, KEVENT, KQUEUE …).",
    explanation:
      'Deadlock: "a" → "b" → "a" each wait for a lock the next one holds. Who waits for what: thread 1 "a" waits for ERESOURCE "X" (exclusive) held by thread 2 "b" …',
    patterns: [12],
    tests: ["test/verifier/deadlock.test.ts"],
  }),
  // ------------------------------------------------------------------ thread exit, system-service return
  entry({
    id: "threadExit.holding-lock",
    check: "threadExit",
    title: "A thread ending while it holds a lock",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.THREAD_EXIT_HOLDING_LOCK),
    params: ["0x100A", "the lock", "the thread", "0"],
    trigger: "A system thread (PsCreateSystemThread) returning with an ERESOURCE, mutex or spin lock held.",
    explanation: 'Thread "<t>" ended holding ERESOURCE "<name>" (exclusive). Nobody can release it now.',
  }),
  entry({
    id: "threadExit.raised-irql",
    check: "threadExit",
    title: "A thread ending at raised IRQL",
    code: BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL,
    params: ["0", "the IRQL", "0", "0"],
    trigger: "A system thread returning at APC_LEVEL or above (0x4A for a user thread).",
    explanation: 'Thread "<t>" ended at DISPATCH_LEVEL.',
  }),
  entry({
    id: "systemService.holding-lock",
    check: "systemService",
    title: "A system service returning to user mode with a lock held",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: c4(DV.THREAD_EXIT_HOLDING_LOCK),
    params: ["0x100A", "the lock", "the thread", "0"],
    trigger:
      "A driver acquiring a lock in a dispatch or MRx routine and returning without releasing it: the Nt* call returns to user mode holding it.",
    explanation: 'NtCreateFile returned to user mode holding ERESOURCE "<name>" (exclusive).',
  }),
  entry({
    id: "systemService.raised-irql",
    check: "systemService",
    title: "A system service returning to user mode at raised IRQL",
    code: BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE,
    params: ["0", "the IRQL", "0", "0"],
    trigger: "A driver raising the IRQL and returning from its dispatch or MRx routine without lowering it.",
    explanation: "NtCreateFile returned to user mode at APC_LEVEL.",
  }),
  entry({
    id: "systemService.critical-region",
    check: "systemService",
    title: "A system service returning inside a critical region",
    code: BUGCHECK.APC_INDEX_MISMATCH,
    params: ["0", "0", "the APC-disable count", "0"],
    trigger: "KeEnterCriticalRegion / FsRtlEnterFileSystem without the matching exit before returning to user mode.",
    explanation:
      "NtCreateFile returned to user mode with kernel APCs disabled 1 time(s): a KeEnterCriticalRegion / FsRtlEnterFileSystem (or a held KMUTEX) was not balanced.",
  }),
  // ------------------------------------------------------------------ pool
  entry({
    id: "pool.double-free",
    check: "pool",
    title: "A pool block freed twice",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: BigInt(VERIFIER_C4.POOL_DOUBLE_FREE.code),
    params: ["0x13", "reserved (0)", "the block", "0"],
    trigger: "ExFreePoolWithTag / ExFreePool of a block already freed.",
    explanation:
      "ExFreePoolWithTag freed pool block 'BugN' (NonPagedPool, 64 bytes) a second time. It was allocated on thread … call chain …, and freed on thread … .",
    patterns: [5],
    compare:
      "Driver Verifier's pool tracking stops with the same code and the pool header; here both the allocation and the first free are named with their call chains and steps.",
  }),
  entry({
    id: "pool.wrong-tag",
    check: "pool",
    title: "A pool block freed with another tag",
    code: BUGCHECK.BAD_POOL_CALLER,
    p1: BigInt(BAD_POOL_CALLER_CODES.FREE_WITH_WRONG_TAG.code),
    params: ["0x0A", "the block", "0", "0"],
    trigger: "ExFreePoolWithTag with a tag other than the one the block was allocated with.",
    explanation:
      "ExFreePoolWithTag gave the tag 'BugB' for pool block 'BugA' (NonPagedPool, 32 bytes), allocated with 'BugA' on thread … .",
  }),
  entry({
    id: "pool.free-unallocated",
    check: "pool",
    title: "Freeing what no allocation returned",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: BigInt(VERIFIER_C4.FREE_OF_UNALLOCATED_ADDRESS.code),
    params: ["0x10", "the address", "0", "0"],
    trigger:
      "ExFreePoolWithTag / ExFreePool of an object that did not come from ExAllocatePoolWithTag (an RDBSS structure, a calldown context, NULL).",
    explanation:
      "ExFreePool was given an address that no ExAllocatePoolWithTag returned: a driver may free only the pointer its allocation gave it.",
  }),
  entry({
    id: "pool.use-after-free",
    check: "pool",
    title: "A freed pool block read or written",
    code: BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
    params: ["the block", "0 read, 1 write", "0", "0"],
    trigger:
      "Any property read or write through a pointer to a freed pool block — e.g. per-server state freed when RxFinalizeSrvCall returned TRUE on its posted path, then read by the posted MRxFinalizeSrvCall (pattern 6).",
    explanation:
      "A read of server of pool block 'BugS' (NonPagedPool, 64 bytes) after it was freed: a use after free — in Windows this reads or corrupts reused pool. Allocated on thread … ; freed on thread … .",
    patterns: [6],
    tests: ["test/verifier/patterns.test.ts › pattern 6, with pool"],
    compare:
      "Special pool faults (0xD5) only when the freed page is touched and names no allocation; every block here is special pool, and the report carries its tag, allocation and free.",
  }),
  entry({
    id: "pool.leak-at-unload",
    check: "pool",
    title: "A driver unloading with pool still allocated",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: BigInt(VERIFIER_C4.UNLOAD_WITH_POOL_ALLOCATED.code),
    params: ["0x62", "the driver", "0", "how many blocks"],
    trigger:
      "A driver whose DriverUnload returns (or whose DriverEntry fails) while blocks its code allocated are still allocated. A block is charged to the driver whose code was running: DriverEntry, DriverUnload, its dispatch and completion routines, its MRx routines, and the threads, DPCs and work items it made.",
    explanation:
      "\\FileSystem\\NulMRx unloaded without freeing 1 pool allocation: pool block 'BugL' (PagedPool, 128 bytes), allocated on thread … call chain … MRxCreateSrvCall [nulmrx].",
    tests: ["test/io/pool-unload.test.ts", "test/verifier/patterns.test.ts › pool never freed"],
    compare:
      "Driver Verifier's pool tracking stops with the same code at unload and leaves the list to !verifier 3; here the stop lists every block with its tag, size, thread, step and call chain. In record mode the blocks are also in the scenario's leak report.",
  }),
  // ------------------------------------------------------------------ work items
  entry({
    id: "workItem.requeue",
    check: "workItem",
    title: "A queued work item queued again",
    code: BUGCHECK.WORKER_INVALID,
    p1: 1n,
    params: ["1", "the work item", "the queue", "0"],
    trigger: "ExQueueWorkItem (or RxPostToWorkerThread with its RX_WORK_QUEUE_ITEM) while the item is still queued.",
    explanation: 'ExQueueWorkItem: work item "<name>" is already queued on DelayedWorkQueue.',
  }),
  entry({
    id: "workItem.returned-holding-lock",
    check: "workItem",
    title: "A worker routine returning with a lock held or at raised IRQL",
    code: BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL,
    params: ["the routine", "the IRQL", "the work item", "the APC-disable count"],
    trigger: "A work-item routine that returns holding a lock, inside a critical region, or above PASSIVE_LEVEL.",
    explanation: 'Work item "<name>" returned holding ERESOURCE "<lock>" (exclusive).',
  }),
  // ------------------------------------------------------------------ IRPs
  entry({
    id: "irp.completed-twice",
    check: null,
    title: "An IRP (or an RX_CONTEXT) completed twice",
    code: BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS,
    params: P_44,
    trigger:
      "IoCompleteRequest on a completed IRP; RxLowIoCompletion called again for a finished LowIo request (typically a completion racing a cancel routine that was not disarmed).",
    explanation:
      'RxLowIoCompletion was called again for RX_CONTEXT#12 (LOWIO_OP_READ), which has already completed: the mini-redirector completed the request twice (often its completion racing its cancel routine without RxSetMinirdrCancelRoutine(RxContext, NULL)). RxLowIoCompletion was first called by thread 4 "Critical worker 1" at 0.000000 s (steps[4] t.yaml:21); call chain: worker: RxCancelOperation RX_CONTEXT#12 → MRxCancelRoutine [nulmrx] → RxLowIoCompletion.',
    patterns: [10],
    tests: ["test/verifier/patterns.test.ts › pattern 10"],
    compare: "Windows stops with 0x44 whatever the verifier settings; so does the emulator.",
  }),
  entry({
    id: "irp.pending-without-mark",
    check: "irp",
    title: "STATUS_PENDING returned without IoMarkIrpPending",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("PENDING_RETURNED_WITHOUT_MARK"),
    params: P_C9,
    trigger: "A dispatch routine returning STATUS_PENDING for an IRP it did not mark pending.",
    explanation: "A driver returned STATUS_PENDING for IRP#7 without calling IoMarkIrpPending first.",
  }),
  entry({
    id: "irp.marked-not-pending",
    check: "irp",
    title: "IoMarkIrpPending, then a status other than STATUS_PENDING",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("MARKED_PENDING_BUT_NOT_RETURNED"),
    params: P_C9,
    trigger: "A dispatch routine that marks the IRP pending and returns a final status.",
    explanation: "IRP#7 was marked pending but the driver returned STATUS_SUCCESS instead of STATUS_PENDING.",
  }),
  entry({
    id: "irp.status-mismatch",
    check: "irp",
    title: "A dispatch routine returning a status other than the one it completed with",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("DISPATCH_STATUS_MISMATCH"),
    params: P_C9,
    trigger: "Completing with one status and returning another.",
    explanation: "The driver returned STATUS_UNSUCCESSFUL for IRP#7 but completed it with STATUS_SUCCESS.",
  }),
  entry({
    id: "irp.neither-completed-nor-pending",
    check: "irp",
    title: "A dispatch routine returning without completing or pending the IRP",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("DISPATCH_NEITHER_COMPLETED_NOR_PENDING"),
    params: P_C9,
    trigger: "Returning a final status without IoCompleteRequest and without STATUS_PENDING.",
    explanation:
      "A driver returned STATUS_SUCCESS for IRP#7 without completing it and without returning STATUS_PENDING.",
  }),
  entry({
    id: "irp.complete-with-pending-status",
    check: "irp",
    title: "IoCompleteRequest with IoStatus.Status = STATUS_PENDING",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("COMPLETE_WITH_PENDING_STATUS"),
    params: P_C9,
    trigger: "Completing an IRP whose status is STATUS_PENDING.",
    explanation: "IoCompleteRequest on IRP#7 with IoStatus.Status = STATUS_PENDING.",
  }),
  entry({
    id: "irp.complete-with-cancel-routine",
    check: "irp",
    title: "IoCompleteRequest with the cancel routine still set",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("COMPLETE_WITH_CANCEL_ROUTINE"),
    params: P_C9,
    trigger: "Completing an IRP without IoSetCancelRoutine(Irp, NULL) first.",
    explanation:
      "IoCompleteRequest on IRP#7 while its cancel routine is still set: clear it with IoSetCancelRoutine(Irp, NULL) first, or the cancel routine may run on a completed IRP.",
    patterns: [10],
  }),
  entry({
    id: "irp.dispatch-changed-irql",
    check: "irp",
    title: "A dispatch routine returning at a different IRQL",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("DISPATCH_CHANGED_IRQL"),
    params: ["0x5", "the device", "IRQL before", "IRQL after"],
    trigger: "Raising (or lowering) the IRQL in a dispatch routine and returning so.",
    explanation: "The dispatch routine of \\Device\\… for IRP#7 returned at IRQL 1, but was called at 0.",
  }),
  entry({
    id: "irp.information-exceeds-buffer",
    check: "irp",
    title: "Buffered output larger than the caller's buffer",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("INFORMATION_EXCEEDS_OUTPUT_BUFFER"),
    params: ["0x312", "the IRP", "Information", "the output buffer length"],
    trigger:
      "A METHOD_BUFFERED request completed with IoStatus.Information above OutputBufferLength (a mini-redirector setting RxContext->InformationToReturn too large).",
    explanation: "IRP#7 completed with Information = 64, larger than the 8-byte output buffer.",
  }),
  entry({
    id: "irp.cancel-spin-lock-kept",
    check: "irp",
    title: "A cancel routine returning with the cancel spin lock held",
    code: BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
    p1: 0n,
    params: ["0", "the cancel spin lock", "the IRP", "0"],
    trigger: "An IRP cancel routine that does not call IoReleaseCancelSpinLock(Irp->CancelIrql).",
    explanation:
      "The cancel routine for IRP#7 returned without releasing the cancel spin lock (IoReleaseCancelSpinLock(Irp->CancelIrql)).",
  }),
  entry({
    id: "irp.call-completed-irp",
    check: "irp",
    title: "IoCallDriver with an IRP that was already completed",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("CALL_DRIVER_BAD_IRP_TYPE"),
    params: P_C9,
    trigger: "Sending an IRP again after completing it (or after IoFreeIrp).",
    explanation: "IoCallDriver with IRP#7, which was already completed.",
  }),
  entry({
    id: "irp.freed-twice",
    check: "irp",
    title: "IoFreeIrp on an IRP already freed",
    code: BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION,
    p1: c9("FREE_NON_IRP"),
    params: P_C9,
    trigger: "A driver-allocated IRP freed twice.",
    explanation: "IoFreeIrp on IRP#7, which was already freed.",
  }),
  // ------------------------------------------------------------------ references
  entry({
    id: "references.underflow",
    check: "references",
    title: "A reference count taken below zero",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.REFERENCE_UNDERFLOW),
    params: P_27,
    trigger:
      "RxDereference / RxpDereferenceNetFcb / RxpDereferenceAndFinalizeNetFcb dropping a reference that was never taken (or twice).",
    explanation:
      "RxpDereferenceNetFcb took FCB#4 \\srv\\share\\f.txt below zero. (With the ledger on, its reference history follows.)",
  }),
  entry({
    id: "references.bad-node-type",
    check: "references",
    title: "RxReference / RxDereference given an FCB",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.BAD_NODE_TYPE),
    params: P_27,
    trigger: "RxReference(fcb) or RxDereference(fcb): FCBs use RxpReferenceNetFcb / RxpDereferenceNetFcb.",
    explanation: "RxReference was given FCB#4 …: FCBs are referenced with RxpReferenceNetFcb, not RxReference.",
  }),
  entry({
    id: "ledger.history",
    check: "ledger",
    title: "The reference ledger: every reference and dereference, with who made it",
    code: "none",
    params: ["—", "—", "—", "—"],
    trigger:
      "Always recording (unless switched off): each NodeReferenceCount change of SRV_CALL, NET_ROOT, V_NET_ROOT, FCB, SRV_OPEN, FOBX with the routine or RDBSS path, its caller, thread, virtual time, call chain and scenario step. It raises nothing; use-after-free, underflow and leak reports print from it.",
    explanation:
      "SRV_CALL#1 \\srv (count 2) alive at unload and never freed — held by: 1 × RxReference ← MRxCreateSrvCall [leaky] (thread app, steps[0] t.yaml:6, 0.000000 s); 1 × netname table entry (RxCreateSrvCall) (…)",
    patterns: [1],
    tests: ["test/verifier/ledger.test.ts", "test/verifier/patterns.test.ts › pattern 1"],
    compare:
      "RDBSS's RxpTrackReference / RxpTrackDereference did this in checked builds only, which Microsoft no longer ships; Driver Verifier's pool tracking counts bytes, not holders.",
  }),
  entry({
    id: "leaks.at-unload",
    check: "leaks",
    title: "Structures still alive when the mini-redirector unloads",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.LEAK_AT_UNLOAD),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x20", "the device", "how many structures", "0"],
    trigger:
      "RxUnregisterMinirdr finding SRV_CALLs, NET_ROOTs, V_NET_ROOTs or files still alive: each is reported with the references that keep it alive, grouped by holder (the routine or path that took each one).",
    explanation:
      "RxUnregisterMinirdr(nulmrx): 1 structure(s) still alive at unload …\n  SRV_CALL#1 \\srv: count 2, held by:\n    1 × netname table entry (RxCreateSrvCall) (…)\n    1 × RxReference (thread k, steps[1] …)",
    patterns: [1, 19],
    tests: ["test/verifier/ledger.test.ts"],
    compare: "Driver Verifier's pool tracking stops at unload (0xC4/0x62) with a byte count and no holder.",
  }),
  entry({
    id: "leaks.at-quiescence",
    check: "leaks",
    title: "Structures still alive at quiescence (no handle, no connection, nothing in flight)",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.LEAK_AT_QUIESCENCE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x21", "0", "how many structures", "0"],
    trigger:
      "The scenario runner's teardown, after closing every handle, deleting every connection and letting the scavenger run: whatever is alive leaked. Also the API rx.verifier.quiescence(true).",
    explanation: "2 structure(s) still alive with no handle open and no connection left: … held by: …",
    patterns: [1],
  }),
  entry({
    id: "useAfterFree.ddi",
    check: "useAfterFree",
    title: "An RDBSS routine given a freed structure",
    code: BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
    params: ["the structure (fake address)", "0", "0", "0"],
    trigger: "Any RDBSS routine given a SRV_CALL, NET_ROOT, V_NET_ROOT, FCB, SRV_OPEN or FOBX after its final free.",
    explanation:
      'RxReference was given SRV_CALL#1 \\lone, whose memory was released by RxFinalizeSrvCall on thread "driver" at … (call chain …). Reference history of SRV_CALL#1 \\lone: …',
    patterns: [5],
    compare:
      "Special pool catches the access (0xD5) with no name for the object; here it is named, with where it was freed.",
  }),
  entry({
    id: "useAfterFree.field",
    check: "useAfterFree",
    title: "A field of a freed structure read or written (tombstone)",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.USE_AFTER_FREE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x05", "the structure", "0 read, 1 write, 2 lock", "0"],
    trigger:
      "Driver code (a system thread, a DPC, or a user thread inside a system service) touching a field of a structure's MRX_ view after RDBSS freed it — e.g. a pointer to an FCB kept in the mini-redirector's own list.",
    explanation:
      'A read of FcbState of FCB#4 \\srv\\share\\a.txt, which was freed by RxFinalizeNetFcb on thread "app" at 0.000000 s (steps[3] …): a use after free — in Windows this reads or corrupts reused pool. Freed with call chain: … Reference history of FCB#4 …',
    patterns: [5],
    tests: ["test/verifier/tombstones.test.ts", "test/verifier/patterns.test.ts › pattern 5"],
    compare:
      "Special pool (0xD5) and KASAN catch the access to freed memory; neither names the structure, its freeing call chain or its reference history.",
  }),
  entry({
    id: "useAfterFree.lock",
    check: "useAfterFree",
    title: "A lock taken or released on a freed FCB's resource",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.USE_AFTER_FREE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x05", "the FCB", "2 (lock)", "0"],
    trigger:
      "ExAcquireResource… / ExReleaseResource… on the Header.Resource of an FCB after its final free (the pointer kept from before).",
    explanation:
      "A lock on its resource (ExAcquireResourceExclusiveLite) of FCB#4 …, which was freed by RxFinalizeNetFcb …",
    patterns: [5],
  }),
  entry({
    id: "useAfterFree.rx-context",
    check: "useAfterFree",
    title: "An RX_CONTEXT given to an RDBSS routine after its last reference was dropped",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.USE_AFTER_FREE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x05", "the RX_CONTEXT", "0", "0"],
    trigger:
      "RxSetMinirdrCancelRoutine, RxDereferenceAndDeleteRxContext, RxAcquireExclusiveFcb / RxAcquireSharedFcb, RxCreateNetFcb, RxCreateNetFobx, RxStartMinirdr or RxStopMinirdr on an RX_CONTEXT that RDBSS already freed — typically a transport's completion disarming the cancel routine of a request that the cancel routine completed first, without holding a reference on the context (pattern 10's other half).",
    explanation:
      'RxSetMinirdrCancelRoutine was given RX_CONTEXT#13 (IRP_MJ_READ), whose last reference was dropped on thread "Critical worker 1" at 0.000000 s …: its request was completed and RDBSS freed the context, so this is a use after free … must hold a reference from the submit (InterlockedIncrement(&RxContext->ReferenceCount)) and drop it with RxDereferenceAndDeleteRxContext …',
    patterns: [10, 5],
    tests: [
      "test/verifier/patterns.test.ts › pattern 10",
      "test/verifier/rx-context-fields.test.ts › an RDBSS routine given a freed context names the routine, not the first field it reads",
    ],
    compare:
      "Special pool catches the access to the freed context only if the lookaside list is disabled (RX_CONTEXTs come from one); with it, the disarm silently writes into another request's context.",
  }),
  entry({
    id: "useAfterFree.rx-context-field",
    check: "useAfterFree",
    title: "A field of an RX_CONTEXT read or written after its last reference was dropped",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.USE_AFTER_FREE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x05", "the RX_CONTEXT", "0 read, 1 write, 2 a member structure reached", "0"],
    trigger:
      "Driver code reading or writing a field of an RX_CONTEXT (Flags, IoStatusBlock, StoredStatus, LowIoContext, pFcb, MRxContext[] …) after RDBSS freed it — a late transport completion, a timer or a cancel routine that lost the race, looking at a request that is over without holding a reference on its context. Reported at the first such access, once per context.",
    explanation:
      "A read of RxContext->Flags of RX_CONTEXT#13 (IRP_MJ_READ), whose last reference was dropped on thread \"Critical worker 1\" at 0.000000 s …: its request was completed and RDBSS freed the context, so this is a use after free — in Windows the context is back on RDBSS's lookaside list, perhaps already another request's … must hold a reference on the context (InterlockedIncrement(&RxContext->ReferenceCount) …",
    patterns: [10, 5],
    tests: ["test/verifier/rx-context-fields.test.ts"],
    compare:
      "Special pool catches the access only with RDBSS's lookaside list out of the way; with it, as shipped, the read sees whichever request the context now belongs to, and a test of its Flags can pass on one run and complete another request on the next.",
  }),
  entry({
    id: "useAfterFree.calldown",
    check: "useAfterFree",
    title: "A construction calldown context touched after RDBSS consumed it",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.USE_AFTER_FREE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x05", "the context", "0 read, 1 write", "0"],
    trigger:
      "A mini-redirector reading or writing MRX_CREATENETROOT_CONTEXT, MRX_SRVCALL_CALLBACK_CONTEXT or MRX_SRVCALLDOWN_STRUCTURE fields once its callback has signalled RDBSS — even in the statement right after the call, since the waiter may free the structure on another processor at once — or after construction ended without a callback.",
    explanation:
      "A write of NetRootStatus of MRX_CREATENETROOT_CONTEXT of V_NET_ROOT#3 …, which was freed by RxConstructNetRoot …",
    patterns: [8],
    tests: ["test/verifier/patterns.test.ts › pattern 8, the context touched straight after the callback"],
  }),
  // ------------------------------------------------------------------ mini-redirector contracts
  entry({
    id: "minirdrContract.callback-twice",
    check: "minirdrContract",
    title: "A construction callback called twice (or after RDBSS gave up)",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.CALLBACK_TWICE),
    params: P_27,
    trigger:
      "MRxCreateSrvCall's or MRxCreateVNetRoot's callback called more than once, or after the 60-second wait expired.",
    explanation:
      "MRxCreateSrvCall called its completion callback 2 times for SRV_CALL#1 \\srv: it must be called exactly once (NumberRemaining would underflow).",
    patterns: [8],
  }),
  entry({
    id: "minirdrContract.not-pending",
    check: "minirdrContract",
    title: "MRxCreateSrvCall / MRxCreateVNetRoot not returning STATUS_PENDING",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.NOT_PENDING),
    params: P_27,
    trigger: "A synchronous status from the two-phase construction entries.",
    explanation:
      "MRxCreateSrvCall returned STATUS_SUCCESS for SRV_CALL#1 \\srv: it must return STATUS_PENDING and report the result through the callback.",
    patterns: [8],
    tests: ["test/verifier/patterns.test.ts › pattern 8"],
  }),
  entry({
    id: "minirdrContract.callback-never",
    check: "minirdrContract",
    title: "A construction callback never called",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.CALLBACK_NEVER),
    params: P_27,
    trigger:
      "MRxCreateSrvCall / MRxCreateVNetRoot returning STATUS_PENDING and never calling back (RDBSS waits 60 virtual seconds).",
    explanation:
      "MRxCreateSrvCall for SRV_CALL#1 \\srv returned STATUS_PENDING but never called its completion callback: RDBSS waits on the calldown's FinishEvent forever.",
    patterns: [8],
  }),
  entry({
    id: "minirdrContract.context-not-cleared",
    check: "minirdrContract",
    title: "MRxFinalizeSrvCall leaving Context / Context2 set",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.CONTEXT_NOT_CLEARED),
    params: P_27,
    trigger: "After MRxFinalizeSrvCall, SRV_CALL->Context (unmanaged) or Context2 non-NULL.",
    explanation:
      "After MRxFinalizeSrvCall, SRV_CALL#1 \\srv still has Context set: the mini-redirector must free its connection state and clear both.",
    patterns: [14],
    tests: ["test/verifier/patterns.test.ts › pattern 14"],
  }),
  entry({
    id: "minirdrContract.mini-inited-left",
    check: "minirdrContract",
    title: "An FCB freed with fMiniInited still set",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.MINI_INITED_LEFT),
    params: P_27,
    trigger: "MRxDeallocateForFcb not clearing fMiniInited.",
    explanation:
      "FCB#4 … is being freed with fMiniInited still set: MRxDeallocateForFcb must release the mini-redirector's FCB state and clear it.",
    patterns: [14],
  }),
  entry({
    id: "minirdrContract.bad-file-type",
    check: "minirdrContract",
    title: "RxFinishFcbInitialization with a raw RX_FILE_TYPE",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.BAD_FILE_TYPE),
    params: P_27,
    trigger: "FileType not a storage node type (RDBSS_NTC_STORAGE_TYPE_FILE 0xEC03 …), e.g. the enum value 3.",
    explanation:
      "RxFinishFcbInitialization(FCB#4 …, FileType = 0x3): FileType is written into the node type, so it must be RDBSS_NTC_STORAGE_TYPE_FILE (0xEC03) …",
    patterns: [13],
    tests: ["test/verifier/patterns.test.ts › pattern 13"],
  }),
  entry({
    id: "minirdrContract.notify-without-cancel",
    check: "minirdrContract",
    title: "A change notification pending without a cancel routine",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.NOTIFY_WITHOUT_CANCEL),
    params: P_27,
    trigger:
      "MRxLowIOSubmit[LOWIO_OP_NOTIFY_CHANGE_DIRECTORY] returning STATUS_PENDING without RxSetMinirdrCancelRoutine.",
    explanation:
      "MRxLowIOSubmit[LOWIO_OP_NOTIFY_CHANGE_DIRECTORY] pended RX_CONTEXT#13 without arming a cancel routine (RxSetMinirdrCancelRoutine): cleanup and RxFinalizeConnection cannot see it …",
    patterns: [9],
    tests: ["test/verifier/patterns.test.ts › pattern 9"],
  }),
  entry({
    id: "minirdrContract.notify-left-pending",
    check: "minirdrContract",
    title: "A notification still pending when its V_NET_ROOT is torn down",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.NOTIFY_LEFT_PENDING),
    params: P_27,
    trigger:
      "A forced connection delete while a notification is pending in the mini-redirector (its cancel routine did not complete it, or none was armed).",
    explanation:
      "V_NET_ROOT#3 … is being torn down while a change notification (RX_CONTEXT#13) is still pending in the mini-redirector although its cancel routine ran …",
    patterns: [9],
  }),
  entry({
    id: "minirdrContract.create-information",
    check: "minirdrContract",
    title: "MRxCreate touching Irp->IoStatus.Information (reactos profile)",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.CREATE_INFORMATION),
    params: P_27,
    trigger:
      "Under the reactos profile, MRxCreate writing Irp->IoStatus.Information instead of Create.ReturnedCreateInformation.",
    explanation:
      "MRxCreate changed Irp->IoStatus.Information …: under ReactOS it must be left alone (use Create.ReturnedCreateInformation).",
  }),
  entry({
    id: "minirdrContract.no-fobx",
    check: "minirdrContract",
    title: "MRxCreate returning success without a FOBX",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.NO_FOBX),
    params: P_27,
    trigger: "MRxCreate returning STATUS_SUCCESS without calling RxCreateNetFobx.",
    explanation: "MRxCreate returned STATUS_SUCCESS for FCB#4 … without creating a FOBX (RxCreateNetFobx).",
  }),
  entry({
    id: "minirdrContract.lowio-completed-and-returned",
    check: "minirdrContract",
    title: "A LowIo call completed through RxLowIoCompletion and also returning its final status",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.LOWIO_COMPLETED_AND_RETURNED),
    params: P_27,
    trigger: "MRxLowIOSubmit[op] calling RxLowIoCompletion and then returning a status other than STATUS_PENDING.",
    explanation:
      "MRxLowIOSubmit[LOWIO_OP_READ] called RxLowIoCompletion for RX_CONTEXT#13 … and then returned STATUS_SUCCESS: a LowIo call either returns STATUS_PENDING and later calls RxLowIoCompletion, or returns its final status without calling it …",
    tests: ["test/rdbss/lowio-contract.test.ts"],
  }),
  entry({
    id: "minirdrContract.mrxcontext-stale",
    check: "minirdrContract",
    title: "MRxContext[] expected to survive between calls",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.MRXCONTEXT_STALE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x1C", "the RX_CONTEXT", "the slot", "0"],
    trigger:
      "A mini-redirector reading RxContext->MRxContext[i] that an earlier MRx call on the same context set: RDBSS zeroed it before this call.",
    explanation:
      "MRxCollapseOpen read RxContext->MRxContext[0] of RX_CONTEXT#9, which MRxCreate had set: RDBSS zeroes MRxContext[] before every call into the mini-redirector (MINIRDR_CALL), so the value did not survive and this read sees NULL.",
    patterns: [17],
    tests: ["test/verifier/patterns.test.ts › pattern 17"],
  }),
  entry({
    id: "minirdrContract.force-dereferenced",
    check: "minirdrContract",
    title: "The NULL ForceDisconnect pointer of MRxFinalizeNetRoot / MRxFinalizeVNetRoot dereferenced",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.FORCE_DEREFERENCED),
    params: P_27,
    trigger:
      "MRxFinalizeNetRoot(NetRoot, ForceDisconnect) / MRxFinalizeVNetRoot faulting on a NULL pointer, or work it queued (directly or through further work items) faulting on one on its worker: RDBSS passes ForceDisconnect as NULL.",
    explanation:
      "MRxFinalizeVNetRoot(V_NET_ROOT#3 …, ForceDisconnect) faulted on a NULL pointer (Cannot read properties of null …): RDBSS passes ForceDisconnect as NULL — a PBOOLEAN that must not be dereferenced or relied on.",
    patterns: [15],
    tests: [
      "test/verifier/patterns.test.ts › pattern 15",
      "test/verifier/patterns.test.ts › pattern 15 one step removed",
    ],
  }),
  entry({
    id: "minirdrContract.context-freed-early",
    check: "minirdrContract",
    title: "A SRV_CALL's context released before its posted MRxFinalizeSrvCall",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.CONTEXT_FREED_EARLY),
    params: P_27,
    trigger:
      "RxFinalizeSrvCall returned TRUE from outside the RDBSS process (the destroy is posted) and the caller freed the SRV_CALL's Context before MRxFinalizeSrvCall ran.",
    explanation:
      'SRV_CALL#1 \\srv\'s Context was released before MRxFinalizeSrvCall ran. RxFinalizeSrvCall returned TRUE from a thread outside the RDBSS process, which only means "will be freed" …',
    patterns: [6],
    tests: ["test/verifier/patterns.test.ts › pattern 6"],
  }),
  entry({
    id: "minirdrContract.shared-context",
    check: "minirdrContract",
    title: "Two live SRV_CALLs sharing the mini-redirector's per-server state",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.SHARED_CONTEXT),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x1F", "the SRV_CALL being finalized", "the other SRV_CALL", "0"],
    trigger:
      "State keyed by server name, when a new SRV_CALL was built before the old one's posted finalization ran: MRxFinalizeSrvCall about to run for a SRV_CALL whose Context (or Context2) is also that of another live SRV_CALL; or, with a state per SRV_CALL, MRxFinalizeSrvCall freeing (ExFreePool…) a pool block that is the Context or Context2 of another live SRV_CALL.",
    explanation:
      "MRxFinalizeSrvCall is about to run for SRV_CALL#1 \\srv, whose Context is also the Context of the live SRV_CALL#5 \\srv … / MRxFinalizeSrvCall for SRV_CALL#1 \\srv freed pool block 'BugK', the Context2 of the live SRV_CALL#5 \\srv …",
    patterns: [7],
    tests: [
      "test/verifier/patterns.test.ts › pattern 7",
      "test/verifier/patterns.test.ts › pattern 7 with separate states",
    ],
    compare:
      "With a state per SRV_CALL and no check, pool tracking only notices at unload, as a leak of the old SRV_CALL's block, a teardown away from the cause.",
  }),
  entry({
    id: "orphanedHandles.forced-delete",
    check: "orphanedHandles",
    title: "A forced connection delete orphaning files the user still has open",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.ORPHANED_OPEN_HANDLES),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x22", "the V_NET_ROOT", "how many FCBs", "0"],
    trigger:
      "RxFinalizeConnection(TRUE) (or a forced RxFinalizeVNetRoot) while handles are open on its files. Off by default: a user's `net use /d /y` does exactly this; switch it on to find a redirector that forces on its own.",
    explanation:
      "V_NET_ROOT#3 … was finalized with files still open (FCB#4 …: 1 handle(s)): their SRV_OPENs are orphaned and every later request on those handles but close fails with STATUS_UNEXPECTED_NETWORK_ERROR …",
    patterns: [2],
    tests: ["test/verifier/patterns.test.ts › pattern 2"],
  }),
  entry({
    id: "prematureFinalize.net-root",
    check: "prematureFinalize",
    title: "A non-forced RxFinalizeNetRoot while other references are held",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.PREMATURE_FINALIZE),
    params: ["RDBSS_BUG_CHECK_ASSERT | 0x23", "the NET_ROOT", "its count", "0"],
    trigger:
      "RxFinalizeNetRoot(NetRoot, …, FALSE) at a count above 1. Off by default (legal under the docs profile, where it returns FALSE); under the reactos profile the FINALIZATION_IN_PROGRESS flag sticks.",
    explanation:
      "RxFinalizeNetRoot(NET_ROOT#2 …, ForceFinalize = FALSE) while its count is 2: it cannot be finalized now, and (reactos profile) NETROOT_FLAG_FINALIZATION_IN_PROGRESS stays set …",
    patterns: [20],
    tests: ["test/verifier/patterns.test.ts › pattern 20"],
  }),
  entry({
    id: "lostConnection.delete-ioctl",
    check: "lostConnection",
    title: "A connection delete that succeeds while the add-connection reference stays",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.ADD_CONNECTION_KEPT),
    params: P_27,
    trigger:
      "A device-FCB control request (DELCONN) returning success after an RxFinalizeConnection it made failed and left the V_NET_ROOT's add-connection reference.",
    explanation:
      "A control request returned STATUS_SUCCESS although RxFinalizeConnection(V_NET_ROOT#3 …) did not finalize the connection …: the delete looks successful, but the connection lives until unload.",
    patterns: [19],
    tests: ["test/verifier/patterns.test.ts › pattern 19"],
  }),
  entry({
    id: "lostConnection.quiescence",
    check: "lostConnection",
    title: "A V_NET_ROOT holding its add-connection reference for a drive letter that is gone",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: rdbss(RDBSS_ASSERT.ADD_CONNECTION_KEPT),
    params: P_27,
    trigger:
      "At quiescence (the runner's teardown): `net use X: /delete` removed the drive, but RxFinalizeConnection never dropped the reference (the DELCONN handler never called it).",
    explanation:
      "V_NET_ROOT#3 \\;X:0\\srv\\share still holds its add-connection reference, but its drive letter is gone: `net use /delete` succeeded without RxFinalizeConnection dropping the reference …",
    patterns: [19],
  }),
  // ------------------------------------------------------------------ RDBSS's own stops, exceptions
  entry({
    id: "rdbss.cleanup-bad-node-type",
    check: null,
    title: "IRP_MJ_CLEANUP / CLOSE on an FCB whose node type is not an FCB type",
    code: BUGCHECK.RDR_FILE_SYSTEM,
    p1: BigInt((0xc1ee0000 | 0x0100) >>> 0),
    params: ["RDBSS_BUG_CHECK_CLEANUP (0xC1EE0000) or _CLOSE (0xC10E0000) | line", "the FCB", "0", "0"],
    trigger:
      "What a bad FileType (pattern 13) leads to when recorded instead of stopped: RDBSS's own assertion in cleanup or close.",
    explanation:
      "IRP_MJ_CLEANUP: the file object's FsContext (FCB#4 …) has node type 0x3, not an FCB type — usually the raw RX_FILE_TYPE passed to RxFinishFcbInitialization.",
    patterns: [13],
  }),
  entry({
    id: "exception.driver-threw",
    check: null,
    title: "Driver code throwing (an access violation, a software exception)",
    code: BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED,
    params: ["0xC0000005 (TypeError/RangeError) or 0xE0000001", "0", "0", "0"],
    trigger:
      "An exception escaping a dispatch, MRx, completion or work routine: 0x1E on a user thread in a system service, 0x7E on a system thread or DPC.",
    explanation:
      "Driver code threw an exception that nothing handled (TypeError: …). In Windows this is an access violation (0xC0000005) in kernel mode.",
  }),
];

/** Every switch with what it covers (the union of the rooms' check tables). */
export const CHECK_SWITCHES: Readonly<Record<CheckSwitch, string>> = {
  ...KERNEL_CHECKS,
  ...IO_CHECKS,
  ...RDBSS_CHECKS,
};

/** The default mode of every switch (the kernel stops unless a room declares otherwise). */
export const DEFAULT_MODES: Readonly<Record<CheckSwitch, DefaultMode>> = {
  irql: "stop",
  locks: "stop",
  deadlock: "stop",
  threadExit: "stop",
  systemService: "stop",
  lockOrder: "stop",
  workItem: "stop",
  pool: "stop",
  irp: "stop",
  rdbssLocks: "stop",
  references: "stop",
  useAfterFree: "stop",
  minirdrContract: "stop",
  ledger: "on",
  leaks: "off",
  orphanedHandles: "off",
  prematureFinalize: "off",
  lostConnection: "stop",
};

/** The entry with this id. */
export function checkEntry(id: string): CheckEntry | undefined {
  return CATALOGUE.find((e) => e.id === id);
}
