/**
 * Bug check codes the emulator can raise, what their four parameters carry, and the parameter-1 sub-code
 * catalogues of the checks that have them.
 *
 * Sources (MicrosoftDocs/windows-driver-docs, windows-driver-docs-pr/debugger/):
 *   bug-check-0xc4--driver-verifier-detected-violation.md   → VERIFIER_C4
 *   bug-check-0xc9--driver-verifier-iomanager-violation.md  → VERIFIER_C9
 *   bug-check-0xe4--worker-invalid.md                       → WORKER_INVALID_CODES
 *   bug-check-0xc2--bad-pool-caller.md                      → BAD_POOL_CALLER_CODES
 *   bug-check-0x27--rdr-file-system.md (+ rdbss-semantics.md §7 for FCBSTRUC and ASSERT) → RDBSS_BUG_CHECK
 *   and the individual bug-check-0x… pages for the parameter meanings in BUGCHECK_INFO.
 * Only sub-codes whose values appear on those pages are listed; the names are ours (the pages give no symbolic
 * names), derived from the documented meaning. All descriptions are paraphrased.
 */

export const BUGCHECK = {
  APC_INDEX_MISMATCH: 0x1,
  IRQL_NOT_GREATER_OR_EQUAL: 0x9,
  IRQL_NOT_LESS_OR_EQUAL: 0xa,
  REFERENCE_BY_POINTER: 0x18,
  KMODE_EXCEPTION_NOT_HANDLED: 0x1e,
  KERNEL_APC_PENDING_DURING_EXIT: 0x20,
  RDR_FILE_SYSTEM: 0x27,
  NO_MORE_IRP_STACK_LOCATIONS: 0x35,
  SYSTEM_SERVICE_EXCEPTION: 0x3b,
  MULTIPLE_IRP_COMPLETE_REQUESTS: 0x44,
  IRQL_GT_ZERO_AT_SYSTEM_SERVICE: 0x4a,
  PAGE_FAULT_IN_NONPAGED_AREA: 0x50,
  SYSTEM_THREAD_EXCEPTION_NOT_HANDLED: 0x7e,
  BAD_POOL_CALLER: 0xc2,
  DRIVER_VERIFIER_DETECTED_VIOLATION: 0xc4,
  DRIVER_VERIFIER_IOMANAGER_VIOLATION: 0xc9,
  DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS: 0xce,
  DRIVER_IRQL_NOT_LESS_OR_EQUAL: 0xd1,
  DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL: 0xd5,
  IMPERSONATING_WORKER_THREAD: 0xdf,
  WORKER_THREAD_RETURNED_AT_BAD_IRQL: 0xe1,
  RESOURCE_NOT_OWNED: 0xe3,
  WORKER_INVALID: 0xe4,
  ACTIVE_EX_WORKER_THREAD_TERMINATION: 0xe9,
  WORKER_THREAD_RETURNED_WITH_BAD_IO_PRIORITY: 0x128,
  FAST_ERESOURCE_PRECONDITION_VIOLATION: 0x1c6,
} as const;

export type BugCheckName = keyof typeof BUGCHECK;
export type BugCheckCode = (typeof BUGCHECK)[BugCheckName];

export interface BugCheckInfo {
  readonly name: BugCheckName;
  /** One line: what the stop means. */
  readonly summary: string;
  /** What parameters 1-4 carry. */
  readonly params: readonly [string, string, string, string];
}

export const BUGCHECK_INFO: Readonly<Record<BugCheckCode, BugCheckInfo>> = {
  [BUGCHECK.APC_INDEX_MISMATCH]: {
    name: "APC_INDEX_MISMATCH",
    summary:
      "A system call or worker routine returned with the thread's APC state or APC-disable count out of balance " +
      "(unpaired KeEnterCriticalRegion / FsRtlEnterFileSystem and their exits).",
    params: [
      "address of the system call or worker routine",
      "the thread's ApcStateIndex",
      "the thread's CombinedApcDisable (SpecialApcDisable << 16 | KernelApcDisable)",
      "call type: 0 = system call, 1 = worker routine",
    ],
  },
  [BUGCHECK.IRQL_NOT_GREATER_OR_EQUAL]: {
    name: "IRQL_NOT_GREATER_OR_EQUAL",
    summary: "A routine was entered at an IRQL below the one it requires (rare; the page lists no parameters).",
    params: ["not documented", "not documented", "not documented", "not documented"],
  },
  [BUGCHECK.IRQL_NOT_LESS_OR_EQUAL]: {
    name: "IRQL_NOT_LESS_OR_EQUAL",
    summary:
      "Pageable (or invalid) memory was touched at raised IRQL: paged code or data, or a blocking wait, at " +
      "DISPATCH_LEVEL or above.",
    params: [
      "the address that could not be accessed",
      "IRQL at the time of the fault",
      "operation bits: bit 0 = write (else read), bit 3 = execute",
      "instruction pointer at the fault",
    ],
  },
  [BUGCHECK.REFERENCE_BY_POINTER]: {
    name: "REFERENCE_BY_POINTER",
    summary:
      "An object's reference count is wrong for its state: dereferenced too often (to zero with handles open, " +
      "or below zero).",
    params: ["object type of the object being dereferenced", "the object", "reserved", "reserved"],
  },
  [BUGCHECK.KMODE_EXCEPTION_NOT_HANDLED]: {
    name: "KMODE_EXCEPTION_NOT_HANDLED",
    summary: "A kernel-mode exception was raised and nothing handled it.",
    params: [
      "the unhandled exception code",
      "address where the exception happened",
      "exception information, parameter 0",
      "exception information, parameter 1",
    ],
  },
  [BUGCHECK.KERNEL_APC_PENDING_DURING_EXIT]: {
    name: "KERNEL_APC_PENDING_DURING_EXIT",
    summary:
      "A thread exited with a kernel APC still queued or with its APC-disable count not back to zero (an unpaired " +
      "critical region, FsRtlEnterFileSystem or mutex).",
    params: ["address of the pending APC", "the thread's APC-disable count", "current IRQL", "reserved"],
  },
  [BUGCHECK.RDR_FILE_SYSTEM]: {
    name: "RDR_FILE_SYSTEM",
    summary:
      "RDBSS / the redirector detected an internal inconsistency (for instance an unexpected node type in cleanup " +
      "or close) or an unexpected exception.",
    params: [
      "RDBSS_BUG_CHECK_* source id in the high 16 bits | source line in the low 16 bits",
      "exception record address, when RxExceptionFilter is on the stack",
      "context record address, when RxExceptionFilter is on the stack",
      "reserved",
    ],
  },
  [BUGCHECK.NO_MORE_IRP_STACK_LOCATIONS]: {
    name: "NO_MORE_IRP_STACK_LOCATIONS",
    summary: "IoCallDriver was given an IRP with no stack location left for the next driver.",
    params: ["the IRP", "reserved", "reserved", "reserved"],
  },
  [BUGCHECK.SYSTEM_SERVICE_EXCEPTION]: {
    name: "SYSTEM_SERVICE_EXCEPTION",
    summary: "An exception escaped while a system service was running on behalf of a caller.",
    params: ["the exception code", "address of the faulting instruction", "context record address", "0"],
  },
  [BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS]: {
    name: "MULTIPLE_IRP_COMPLETE_REQUESTS",
    summary: "IoCompleteRequest was called for an IRP that had already been completed.",
    params: ["the IRP", "reserved", "reserved", "reserved"],
  },
  [BUGCHECK.IRQL_GT_ZERO_AT_SYSTEM_SERVICE]: {
    name: "IRQL_GT_ZERO_AT_SYSTEM_SERVICE",
    summary: "A thread was about to return to user mode from a system call with IRQL still above PASSIVE_LEVEL.",
    params: ["address of the system call routine", "the current IRQL", "0", "0"],
  },
  [BUGCHECK.PAGE_FAULT_IN_NONPAGED_AREA]: {
    name: "PAGE_FAULT_IN_NONPAGED_AREA",
    summary: "Memory that is not valid was referenced (often freed memory or a wild pointer).",
    params: [
      "the address referenced",
      "access type (read, write or execute)",
      "address of the referencing instruction, if known",
      "type of fault",
    ],
  },
  [BUGCHECK.SYSTEM_THREAD_EXCEPTION_NOT_HANDLED]: {
    name: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
    summary: "A system thread (e.g. a worker thread) raised an exception that no handler caught.",
    params: [
      "the unhandled exception code",
      "address where the exception happened",
      "exception record address",
      "context record address",
    ],
  },
  [BUGCHECK.BAD_POOL_CALLER]: {
    name: "BAD_POOL_CALLER",
    summary: "A bad pool request: double free, free at a bad IRQL, wrong tag, or an address that was never pool.",
    params: [
      "violation type (see BAD_POOL_CALLER_CODES)",
      "depends on parameter 1",
      "depends on parameter 1",
      "depends on parameter 1",
    ],
  },
  [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION]: {
    name: "DRIVER_VERIFIER_DETECTED_VIOLATION",
    summary: "Driver Verifier caught a fatal driver error; parameter 1 says which rule (see VERIFIER_C4).",
    params: [
      "violation sub-code (see VERIFIER_C4)",
      "depends on parameter 1",
      "depends on parameter 1",
      "depends on parameter 1",
    ],
  },
  [BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION]: {
    name: "DRIVER_VERIFIER_IOMANAGER_VIOLATION",
    summary: "Driver Verifier's I/O verification caught an IRP-handling error (see VERIFIER_C9).",
    params: [
      "violation sub-code (see VERIFIER_C9)",
      "depends on parameter 1 (for WDM driver errors: address in the driver where it was detected)",
      "depends on parameter 1 (for WDM driver errors: the IRP)",
      "depends on parameter 1 (for WDM driver errors: the device object)",
    ],
  },
  [BUGCHECK.DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS]: {
    name: "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS",
    summary:
      "A driver unloaded while it still had outstanding work (timers, DPCs, worker items, lookaside lists) that " +
      "later ran into its unloaded image.",
    params: ["the address referenced", "0 = read, 1 = write", "address of the referencing code, if known", "reserved"],
  },
  [BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL]: {
    name: "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
    summary: "A driver touched pageable or invalid memory at an IRQL that was too high.",
    params: [
      "the address referenced",
      "IRQL at the time of the reference",
      "0 = read, 1 = write, 8 = execute",
      "address of the referencing instruction",
    ],
  },
  [BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL]: {
    name: "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL",
    summary: "A driver used memory after freeing it (caught by special pool).",
    params: ["the address referenced", "0 = read, 1 = write", "address of the referencing code, if known", "reserved"],
  },
  [BUGCHECK.IMPERSONATING_WORKER_THREAD]: {
    name: "IMPERSONATING_WORKER_THREAD",
    summary: "A work item returned while its worker thread was still impersonating.",
    params: ["the worker routine", "the parameter passed to it", "the work item", "reserved"],
  },
  [BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL]: {
    name: "WORKER_THREAD_RETURNED_AT_BAD_IRQL",
    summary: "A worker routine returned at DISPATCH_LEVEL or above (e.g. holding a spin lock).",
    params: ["address of the worker routine", "IRQL it returned at", "the work item's parameter", "the work item"],
  },
  [BUGCHECK.RESOURCE_NOT_OWNED]: {
    name: "RESOURCE_NOT_OWNED",
    summary: "A thread released an ERESOURCE it does not own.",
    params: ["the resource", "the releasing thread", "the owner table, if there is one", "reserved"],
  },
  [BUGCHECK.WORKER_INVALID]: {
    name: "WORKER_INVALID",
    summary:
      "An executive work item was misused: freed or re-queued while still active, queued to a bad queue, or " +
      "queued with a bad routine (see WORKER_INVALID_CODES).",
    params: [
      "which misuse (see WORKER_INVALID_CODES)",
      "the work item",
      "depends on parameter 1 (queue number, pool block start, worker routine…)",
      "depends on parameter 1",
    ],
  },
  [BUGCHECK.ACTIVE_EX_WORKER_THREAD_TERMINATION]: {
    name: "ACTIVE_EX_WORKER_THREAD_TERMINATION",
    summary: "An executive worker thread was terminated by a work item instead of returning to the queue.",
    params: ["the exiting thread", "reserved", "reserved", "reserved"],
  },
  [BUGCHECK.WORKER_THREAD_RETURNED_WITH_BAD_IO_PRIORITY]: {
    name: "WORKER_THREAD_RETURNED_WITH_BAD_IO_PRIORITY",
    summary: "A worker routine changed its worker thread's I/O priority and did not restore it.",
    params: ["address of the worker routine", "the current I/O priority", "the work item's parameter", "the work item"],
  },
  [BUGCHECK.FAST_ERESOURCE_PRECONDITION_VIOLATION]: {
    name: "FAST_ERESOURCE_PRECONDITION_VIOLATION",
    summary: "A fast-resource routine was called in a state it forbids (IRQL too high, bad owner entry, APCs on…).",
    params: ["violation type", "depends on parameter 1", "depends on parameter 1", "depends on parameter 1"],
  },
};

const BUGCHECK_NAME_BY_CODE = new Map<number, BugCheckName>(
  (Object.entries(BUGCHECK) as [BugCheckName, number][]).map(([name, code]) => [code, name]),
);

function hex8(n: number): string {
  return `0x${(n >>> 0).toString(16).toUpperCase().padStart(8, "0")}`;
}

/** "DRIVER_VERIFIER_DETECTED_VIOLATION" for 0xC4; an unknown code prints as "0x000001C7". */
export function bugCheckName(code: number): string {
  return BUGCHECK_NAME_BY_CODE.get(code >>> 0) ?? hex8(code);
}

export function bugCheckInfo(code: number): BugCheckInfo | undefined {
  const name = BUGCHECK_NAME_BY_CODE.get(code >>> 0);
  return name === undefined ? undefined : BUGCHECK_INFO[BUGCHECK[name]];
}

/** A parameter-1 sub-code table entry. */
export interface SubCode {
  readonly code: number;
  readonly meaning: string;
}

/** Find the name of a sub-code in one of the tables below (VERIFIER_C4, VERIFIER_C9, …). */
export function subCodeName<T extends Readonly<Record<string, SubCode>>>(
  table: T,
  code: number | bigint,
): (keyof T & string) | undefined {
  const c = typeof code === "bigint" ? Number(BigInt.asUintN(32, code)) : code >>> 0;
  for (const [name, entry] of Object.entries(table)) if (entry.code === c) return name;
  return undefined;
}

/**
 * Bug check 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION, parameter 1.
 * Source: windows-driver-docs-pr/debugger/bug-check-0xc4--driver-verifier-detected-violation.md
 * (MicrosoftDocs/windows-driver-docs). Subset: IRQL, spin locks, fast mutexes, ERESOURCEs and the deadlock
 * verifier (0x1000 range), critical regions / APC-disable balance, waits, work items, object references,
 * pool double frees, and the DDI-compliance rules for IRQL, spin locks and critical/guarded regions.
 */
export const VERIFIER_C4 = {
  // Pool (the "double free of a finalized object" family).
  ZERO_BYTE_ALLOCATION: { code: 0x00, meaning: "a zero-byte pool allocation was requested" },
  PAGED_POOL_ALLOC_ABOVE_APC: { code: 0x01, meaning: "paged pool allocated at IRQL above APC_LEVEL" },
  NONPAGED_POOL_ALLOC_ABOVE_DISPATCH: { code: 0x02, meaning: "nonpaged pool allocated at IRQL above DISPATCH_LEVEL" },
  FREE_OF_UNALLOCATED_ADDRESS: { code: 0x10, meaning: "freed an address that no allocation returned" },
  PAGED_POOL_FREE_ABOVE_APC: { code: 0x11, meaning: "paged pool freed at IRQL above APC_LEVEL" },
  NONPAGED_POOL_FREE_ABOVE_DISPATCH: { code: 0x12, meaning: "nonpaged pool freed at IRQL above DISPATCH_LEVEL" },
  POOL_DOUBLE_FREE: { code: 0x13, meaning: "freed pool that was already freed" },
  POOL_DOUBLE_FREE_ALT: { code: 0x14, meaning: "freed pool that was already freed (second form)" },
  UNLOAD_WITH_POOL_ALLOCATED: { code: 0x62, meaning: "a driver unloaded without freeing its pool allocations" },

  // IRQL changes.
  RAISE_IRQL_INVALID: { code: 0x30, meaning: "KeRaiseIrql to a level below the current one, or above HIGH_LEVEL" },
  LOWER_IRQL_INVALID: { code: 0x31, meaning: "KeLowerIrql to a level above the current one, or above HIGH_LEVEL" },

  // Spin locks.
  SPIN_LOCK_RELEASE_NOT_AT_DISPATCH: {
    code: 0x32,
    meaning: "KeReleaseSpinLock called at an IRQL other than DISPATCH_LEVEL (often a double release)",
  },
  KERNEL_SPIN_LOCK_RELEASE_NOT_AT_DISPATCH: { code: 0x35, meaning: "spin lock released with IRQL not DISPATCH_LEVEL" },
  QUEUED_SPIN_LOCK_RELEASE_NOT_AT_DISPATCH: {
    code: 0x36,
    meaning: "queued spin lock released with IRQL not DISPATCH_LEVEL",
  },
  SPIN_LOCK_ACQUIRE_AT_DPC_BELOW_DISPATCH: {
    code: 0x40,
    meaning: "KeAcquireSpinLockAtDpcLevel called below DISPATCH_LEVEL",
  },
  SPIN_LOCK_RELEASE_FROM_DPC_BELOW_DISPATCH: {
    code: 0x41,
    meaning: "KeReleaseSpinLockFromDpcLevel called below DISPATCH_LEVEL",
  },
  SPIN_LOCK_ACQUIRE_ABOVE_DISPATCH: { code: 0x42, meaning: "KeAcquireSpinLock called above DISPATCH_LEVEL" },

  // Fast mutexes and mutexes.
  FAST_MUTEX_ACQUIRE_ABOVE_APC: { code: 0x33, meaning: "fast mutex acquired at IRQL above APC_LEVEL" },
  FAST_MUTEX_RELEASE_NOT_AT_APC: { code: 0x34, meaning: "fast mutex released at an IRQL other than APC_LEVEL" },
  MUTEX_UNSAFE_ACQUIRE_NOT_AT_APC: { code: 0x39, meaning: "unsafe mutex acquire entered with IRQL not APC_LEVEL" },
  MUTEX_UNSAFE_RELEASE_NOT_AT_APC: { code: 0x3a, meaning: "unsafe mutex release entered with IRQL not APC_LEVEL" },

  // ERESOURCEs.
  RESOURCE_ACQUIRE_WITH_APCS_ENABLED: {
    code: 0x37,
    meaning: "ERESOURCE acquired while normal kernel APCs were enabled (no critical region)",
  },
  RESOURCE_RELEASE_WITH_APCS_ENABLED: {
    code: 0x38,
    meaning: "ERESOURCE released while normal kernel APCs were enabled (no critical region)",
  },
  RESOURCE_UNALIGNED: { code: 0x3d, meaning: "a misaligned (bad) ERESOURCE was passed to an acquire routine" },
  RESOURCE_REINITIALIZED: { code: 0xd0, meaning: "an ERESOURCE was initialized a second time" },
  RESOURCE_DELETE_UNINITIALIZED: { code: 0xd1, meaning: "an ERESOURCE that was never initialized was deleted" },
  RESOURCE_FREED_WHILE_ACTIVE: { code: 0xd2, meaning: "pool holding a live ERESOURCE was freed" },

  // Critical regions / APC-disable balance (the "returned with APCs disabled" family).
  LEAVE_CRITICAL_REGION_NOT_IN_REGION: {
    code: 0x3e,
    meaning: "KeLeaveCriticalRegion called by a thread that is not in a critical region",
  },
  DISPATCH_CHANGED_APC_DISABLE_COUNT: {
    code: 0xc5,
    meaning: "a dispatch routine returned with the thread's APC-disable count changed",
  },
  FAST_IO_CHANGED_APC_DISABLE_COUNT: {
    code: 0xc6,
    meaning: "a fast I/O routine returned with the thread's APC-disable count changed",
  },
  COMPLETION_ROUTINE_CHANGED_APC_DISABLE_COUNT: {
    code: 0xfb,
    meaning: "an IRP completion routine returned with the thread's APC-disable count changed",
  },
  ENTER_CRITICAL_REGION_ABOVE_APC: { code: 0x11a, meaning: "KeEnterCriticalRegion called above APC_LEVEL" },
  LEAVE_CRITICAL_REGION_ABOVE_APC: { code: 0x11b, meaning: "KeLeaveCriticalRegion called above APC_LEVEL" },

  // IRQL on return from callbacks; kernel APIs at a wrong IRQL.
  COMPLETION_ROUTINE_CHANGED_IRQL: { code: 0xfa, meaning: "an IRP completion routine returned at a different IRQL" },
  KERNEL_API_WRONG_IRQL: { code: 0xe5, meaning: "a kernel API was called at an IRQL it does not allow" },
  ZW_API_NOT_AT_PASSIVE: {
    code: 0xe6,
    meaning: "a Zw routine was called above PASSIVE_LEVEL or with special kernel APCs disabled",
  },
  SET_EVENT_ABOVE_DISPATCH: { code: 0x80, meaning: "KeSetEvent called above DISPATCH_LEVEL" },

  // Waits.
  WAIT_ABOVE_DISPATCH: { code: 0x120, meaning: "a thread waited at IRQL above DISPATCH_LEVEL" },
  WAIT_AT_DISPATCH_WITHOUT_TIMEOUT: { code: 0x121, meaning: "a thread waited at DISPATCH_LEVEL with a NULL timeout" },
  WAIT_AT_DISPATCH_WITH_NONZERO_TIMEOUT: {
    code: 0x122,
    meaning: "a thread waited at DISPATCH_LEVEL with a non-zero timeout (needs <= APC_LEVEL)",
  },
  SYNC_OBJECT_INVALID_OR_PAGEABLE: {
    code: 0xe1,
    meaning: "a synchronization object is at an invalid or pageable address",
  },

  // Object references and IRPs.
  OBJECT_REFERENCE_AT_ZERO: {
    code: 0x3f,
    meaning: "ObReferenceObject or ObDereferenceObject applied to an object whose count is already zero",
  },
  BAD_HANDLE_TO_REFERENCE_BY_HANDLE: { code: 0x3c, meaning: "ObReferenceObjectByHandle called with a bad handle" },
  NULL_HANDLE_TO_REFERENCE_BY_HANDLE: { code: 0xf5, meaning: "ObReferenceObjectByHandle called with a NULL handle" },
  CANCELLED_IRP_NOT_COMPLETED_IN_TIME: { code: 0x135, meaning: "a cancelled IRP was not completed in time" },

  // Work items.
  WORK_ITEM_IN_SESSION_SPACE: { code: 0x130, meaning: "a work item lives in session address space" },
  WORK_ITEM_IN_PAGEABLE_MEMORY: { code: 0x131, meaning: "a work item lives in pageable memory" },

  // Deadlock verifier (Deadlock Detection option).
  SELF_DEADLOCK: { code: 0x1000, meaning: "a thread tried to acquire, recursively, a lock it already holds" },
  LOCK_HIERARCHY_VIOLATION: {
    code: 0x1001,
    meaning: "lock order inversion: acquisitions that can deadlock were found (parameter 2: the last lock)",
  },
  ACQUIRE_UNINITIALIZED_LOCK: { code: 0x1002, meaning: "a lock was acquired before it was initialized" },
  RELEASE_OUT_OF_ORDER: {
    code: 0x1003,
    meaning: "locks released in the wrong order (parameter 3: the lock that should have gone first)",
  },
  RELEASE_BY_WRONG_THREAD: {
    code: 0x1004,
    meaning: "a lock was released by a thread other than the one that acquired it",
  },
  LOCK_INITIALIZED_TWICE: { code: 0x1005, meaning: "a lock was initialized more than once" },
  RELEASE_OF_UNACQUIRED_LOCK: { code: 0x1007, meaning: "a lock was released without having been acquired" },
  ACQUIRE_WITH_MISMATCHED_API: { code: 0x1008, meaning: "a lock was acquired with an API meant for another lock type" },
  RELEASE_WITH_MISMATCHED_API: { code: 0x1009, meaning: "a lock was released with an API meant for another lock type" },
  THREAD_TERMINATED_HOLDING_LOCK: { code: 0x100a, meaning: "a thread terminated while it still owned a lock" },
  DELETED_LOCK_STILL_OWNED: { code: 0x100b, meaning: "a lock was deleted while a thread still owned it" },

  // DDI compliance rules (Windows 8 and later).
  DDI_IRQL_FAST_MUTEX_APC_LTE: {
    code: 0x00020005,
    meaning: "rule IrqlExApcLte1: ExAcquireFastMutex / ExTryToAcquireFastMutex need IRQL <= APC_LEVEL",
  },
  DDI_IRQL_EX_PASSIVE: {
    code: 0x00020008,
    meaning: "rule IrqlExPassive: some executive routines need IRQL = PASSIVE_LEVEL",
  },
  DDI_IRQL_IO_APC_LTE: {
    code: 0x00020009,
    meaning: "rule IrqlIoApcLte: some I/O manager routines need IRQL <= APC_LEVEL",
  },
  DDI_IRQL_KE_DISPATCH_LTE: {
    code: 0x00020011,
    meaning: "rule IrqlKeDispatchLte: some kernel routines need IRQL <= DISPATCH_LEVEL",
  },
  DDI_IRQL_KE_RELEASE_SPIN_LOCK: {
    code: 0x00020015,
    meaning: "rule IrqlKeReleaseSpinLock: KeReleaseSpinLock needs IRQL = DISPATCH_LEVEL",
  },
  DDI_IRQL_KE_SET_EVENT: {
    code: 0x00020016,
    meaning: "rule IrqlKeSetEvent: <= DISPATCH_LEVEL with Wait FALSE, <= APC_LEVEL with Wait TRUE",
  },
  DDI_IRQL_RETURN: { code: 0x0002001d, meaning: "rule IrqlReturn: a routine returned at the wrong IRQL" },
  DDI_CRITICAL_REGIONS: {
    code: 0x00040003,
    meaning: "rule CriticalRegions: unpaired KeEnterCriticalRegion / KeLeaveCriticalRegion",
  },
  DDI_QUEUED_SPIN_LOCK: { code: 0x00040006, meaning: "rule QueuedSpinLock: queued spin lock misuse" },
  DDI_QUEUED_SPIN_LOCK_RELEASE: {
    code: 0x00040007,
    meaning: "rule QueuedSpinLockRelease: queued spin lock release misuse",
  },
  DDI_SPIN_LOCK: { code: 0x00040009, meaning: "rule SpinLock: spin lock acquired twice or released unheld" },
  DDI_SPIN_LOCK_RELEASE: { code: 0x0004000b, meaning: "rule SpinlockRelease: spin lock still held on return" },
  DDI_GUARDED_REGIONS: {
    code: 0x0004000e,
    meaning: "rule GuardedRegions: unpaired KeEnterGuardedRegion / KeLeaveGuardedRegion",
  },
} as const satisfies Readonly<Record<string, SubCode>>;

export type VerifierC4Name = keyof typeof VERIFIER_C4;

/**
 * Bug check 0xC9 DRIVER_VERIFIER_IOMANAGER_VIOLATION, parameter 1.
 * Source: windows-driver-docs-pr/debugger/bug-check-0xc9--driver-verifier-iomanager-violation.md
 * (MicrosoftDocs/windows-driver-docs). Codes 0x01-0x12 are true bug checks; 0x200 and up are the
 * "WDM DRIVER ERROR" codes, which also appear as parameter 1 of 0xC9 in a crash dump (parameter 2: address in
 * the driver, parameter 3: the IRP, parameter 4: the device object).
 * Completing the same IRP twice is not a 0xC9 code: it is bug check 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS.
 */
export const VERIFIER_C9 = {
  FREE_NON_IRP: { code: 0x01, meaning: "IoFreeIrp given an object whose type is not an IRP" },
  FREE_IRP_STILL_ON_THREAD: { code: 0x02, meaning: "freed an IRP still associated with a thread" },
  CALL_DRIVER_BAD_IRP_TYPE: { code: 0x03, meaning: "IoCallDriver given an IRP whose Type field is wrong" },
  CALL_DRIVER_INVALID_DEVICE: { code: 0x04, meaning: "IoCallDriver given an invalid device object" },
  DISPATCH_CHANGED_IRQL: {
    code: 0x05,
    meaning: "IRQL differed before and after the dispatch routine (parameters 3 and 4)",
  },
  COMPLETE_WITH_PENDING_STATUS: {
    code: 0x06,
    meaning: "IoCompleteRequest with IoStatus.Status = STATUS_PENDING (or 0xFFFFFFFF)",
  },
  COMPLETE_WITH_CANCEL_ROUTINE: { code: 0x07, meaning: "IoCompleteRequest while the IRP's cancel routine was set" },
  COMPLETE_ABOVE_DISPATCH: { code: 0x0e, meaning: "IoCompleteRequest called above DISPATCH_LEVEL" },
  CREATE_WITH_CLOSED_FILE_OBJECT: {
    code: 0x0f,
    meaning: "a create was sent with a file object already closed or whose open was cancelled",
  },
  CALL_DRIVER_ABOVE_DISPATCH: { code: 0x10, meaning: "IoCallDriver called above DISPATCH_LEVEL" },
  FAST_IO_IRQL_MISMATCH: {
    code: 0x11,
    meaning: "IRQL wrong around a fast I/O dispatch routine (parameter 3: before, 4: now)",
  },
  DISPATCH_IRQL_MISMATCH: {
    code: 0x12,
    meaning: "IRQL wrong around a dispatch routine (parameter 3: before, 4: now)",
  },

  // "WDM DRIVER ERROR" codes.
  CALL_DRIVER_WITH_CANCEL_ROUTINE: { code: 0x203, meaning: "IoCallDriver with the IRP's cancel routine still set" },
  FORWARD_IRP_QUEUED_BELOW: {
    code: 0x205,
    meaning: "forwarded an IRP that is still queued below (broken STATUS_PENDING handling)",
  },
  COMPLETE_IRP_QUEUED_BELOW: {
    code: 0x209,
    meaning: "completed an IRP that is still queued below (broken STATUS_PENDING handling)",
  },
  FREE_IRP_IN_USE: { code: 0x20b, meaning: "IoFreeIrp on an IRP that is still in use" },
  FREE_IRP_QUEUED_TO_THREAD: { code: 0x20c, meaning: "IoFreeIrp on an IRP still queued to a thread" },
  SUSPICIOUS_STATUS: { code: 0x21b, meaning: "a driver returned a suspicious status (likely uninitialized)" },
  DISPATCH_STATUS_MISMATCH: {
    code: 0x224,
    meaning: "dispatch routine returned a status different from the IRP's IoStatus.Status",
  },
  DISPATCH_RETURNED_ILLEGAL_STATUS: { code: 0x225, meaning: "dispatch routine returned the illegal status 0xFFFFFFFF" },
  DISPATCH_NEITHER_COMPLETED_NOR_PENDING: {
    code: 0x226,
    meaning: "dispatch routine returned without completing or forwarding the IRP and without STATUS_PENDING",
  },
  COMPLETION_ROUTINE_PAGEABLE: { code: 0x227, meaning: "an IRP completion routine is in pageable code" },
  COMPLETION_DID_NOT_PROPAGATE_PENDING: {
    code: 0x228,
    meaning: "completion routine did not mark the IRP pending although PendingReturned was set",
  },
  CANCEL_ROUTINE_SET_WHILE_BELOW: {
    code: 0x229,
    meaning: "a cancel routine was set on an IRP that lower drivers are still processing",
  },
  COMPLETE_NEVER_FORWARDED: { code: 0x239, meaning: "completing an IRP never sent through IoCallDriver (warning)" },
  FORWARD_AT_ILLEGAL_IRQL: { code: 0x23a, meaning: "forwarded an IRP at an IRQL illegal for its major function" },
  COMPLETE_WITHOUT_CLEARING_CANCEL_ROUTINE: {
    code: 0x23c,
    meaning: "completed an IRP without clearing its cancel routine",
  },
  PENDING_RETURNED_WITHOUT_MARK: {
    code: 0x23d,
    meaning: "returned STATUS_PENDING without calling IoMarkIrpPending",
  },
  MARKED_PENDING_BUT_NOT_RETURNED: {
    code: 0x23e,
    meaning: "called IoMarkIrpPending but returned a status other than STATUS_PENDING",
  },
  FAILED_IRP_THAT_CANNOT_FAIL: { code: 0x247, meaning: "failed an IRP that may not legally be failed" },
  FILE_IO_NOT_AT_PASSIVE: { code: 0x24a, meaning: "a file I/O routine was called above PASSIVE_LEVEL" },
  PENDING_RETURNED_WITHOUT_MARK_ALT: {
    code: 0x24c,
    meaning: "returned STATUS_PENDING without calling IoMarkIrpPending (second form)",
  },
  SUSPICIOUS_STATUS_ALT: { code: 0x300, meaning: "a driver returned a suspicious status (second form)" },
  FORWARD_ABOVE_DISPATCH: { code: 0x301, meaning: "forwarded an IRP above DISPATCH_LEVEL" },
  FORWARD_AT_OR_ABOVE_APC: {
    code: 0x302,
    meaning: "forwarded an IRP at or above APC_LEVEL: the completion APC cannot run, likely deadlock",
  },
  PENDING_WITH_SIGNALED_EVENT: {
    code: 0x307,
    meaning: "request issued with an already-signaled event got STATUS_PENDING: caller may unwind early",
  },
  REINITIALIZE_IRP_IN_USE: { code: 0x310, meaning: "reinitialized an IRP that is still in use" },
  INFORMATION_EXCEEDS_OUTPUT_BUFFER: {
    code: 0x312,
    meaning: "IoStatus.Information is larger than the output part of the system buffer",
  },
} as const satisfies Readonly<Record<string, SubCode>>;

export type VerifierC9Name = keyof typeof VERIFIER_C9;

/**
 * Bug check 0xE4 WORKER_INVALID, parameter 1 (parameter 2 is the work item).
 * Source: windows-driver-docs-pr/debugger/bug-check-0xe4--worker-invalid.md.
 */
export const WORKER_INVALID_CODES = {
  ACTIVE_ITEM_FREED: { code: 0x0, meaning: "an active work item was freed (3: pool block start, 4: end)" },
  ACTIVE_ITEM_QUEUED: { code: 0x1, meaning: "a work item that is still queued/active was queued again (3: queue)" },
  QUEUED_IO_ITEM_FREED: { code: 0x2, meaning: "a queued I/O work item was freed (3: I/O worker routine)" },
  IO_ITEM_INVALID_OBJECT: { code: 0x3, meaning: "an I/O work item was initialized with an invalid object" },
  QUEUED_BEFORE_INIT: { code: 0x5, meaning: "a work item was queued before the worker queues were initialized" },
  INVALID_QUEUE_TYPE: { code: 0x6, meaning: "a work item was queued to an invalid queue type" },
  INVALID_WORKER_ROUTINE: { code: 0x7, meaning: "a work item was queued with an invalid worker routine address" },
} as const satisfies Readonly<Record<string, SubCode>>;

/**
 * Bug check 0xC2 BAD_POOL_CALLER, parameter 1 (subset).
 * Source: windows-driver-docs-pr/debugger/bug-check-0xc2--bad-pool-caller.md.
 */
export const BAD_POOL_CALLER_CODES = {
  ZERO_BYTE_ALLOCATION: { code: 0x00, meaning: "a zero-byte pool allocation was requested" },
  POOL_HEADER_CORRUPT: { code: 0x01, meaning: "the pool header is corrupt (also 0x02, 0x04)" },
  DOUBLE_FREE: { code: 0x06, meaning: "freed pool that was already freed (3: pool header)" },
  DOUBLE_FREE_ALT: { code: 0x07, meaning: "freed pool that was already freed (4: the block being freed)" },
  ALLOCATE_AT_BAD_IRQL: { code: 0x08, meaning: "pool allocated at an invalid IRQL" },
  FREE_AT_BAD_IRQL: { code: 0x09, meaning: "pool freed at an invalid IRQL" },
  FREE_WITH_WRONG_TAG: { code: 0x0a, meaning: "pool freed with a tag other than the allocator's" },
  FREE_INVALID_ADDRESS: { code: 0x46, meaning: "freed an invalid pool address" },
  FREE_NEVER_ALLOCATED: { code: 0x99, meaning: "freed an address that was never pool (or a corrupt header)" },
} as const satisfies Readonly<Record<string, SubCode>>;

/**
 * Bug check 0x27 RDR_FILE_SYSTEM, parameter 1: `RDBSS_BUG_CHECK_<source> | __LINE__`.
 * CACHESUP, CLEANUP, CLOSE and NTEXCEPT are on the bug check page; FCBSTRUC and ASSERT (ReactOS, raised when
 * RxContinueFromAssert is FALSE) come from rdbss-semantics.md §7.
 */
export const RDBSS_BUG_CHECK = {
  FCBSTRUC: 0xfcb00000,
  CACHESUP: 0xca550000,
  CLEANUP: 0xc1ee0000,
  CLOSE: 0xc10e0000,
  NTEXCEPT: 0xbaad0000,
  ASSERT: 0xa55a0000,
} as const;

export type RdbssBugCheckSource = keyof typeof RDBSS_BUG_CHECK;

/** Parameter 1 of a 0x27 stop raised from `source` at `line`. */
export function rdbssBugCheckParam1(source: RdbssBugCheckSource, line: number): number {
  return (RDBSS_BUG_CHECK[source] | (line & 0xffff)) >>> 0;
}

/** Split parameter 1 of a 0x27 stop into its source id (if known) and line. */
export function decodeRdbssBugCheck(param1: number | bigint): {
  readonly source: RdbssBugCheckSource | undefined;
  readonly line: number;
} {
  const p = typeof param1 === "bigint" ? Number(BigInt.asUintN(32, param1)) : param1 >>> 0;
  const high = (p & 0xffff0000) >>> 0;
  let source: RdbssBugCheckSource | undefined;
  for (const [name, id] of Object.entries(RDBSS_BUG_CHECK) as [RdbssBugCheckSource, number][]) {
    if (id === high) source = name;
  }
  return { source, line: p & 0xffff };
}

const SUBCODE_TABLES = new Map<number, Readonly<Record<string, SubCode>>>([
  [BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, VERIFIER_C4],
  [BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, VERIFIER_C9],
  [BUGCHECK.WORKER_INVALID, WORKER_INVALID_CODES],
  [BUGCHECK.BAD_POOL_CALLER, BAD_POOL_CALLER_CODES],
]);

/** "DRIVER_VERIFIER_DETECTED_VIOLATION (0xC4) [0x1001, 0x…, 0, 0]" with the sub-code name when known. */
export function formatBugCheck(code: number, params: readonly (number | bigint)[] = []): string {
  const head = `${bugCheckName(code)} (0x${(code >>> 0).toString(16).toUpperCase()})`;
  const p = params.map((v) => `0x${BigInt.asUintN(64, BigInt(v)).toString(16).toUpperCase()}`);
  const p1 = params[0];
  let sub: string | undefined;
  if (p1 !== undefined) {
    const table = SUBCODE_TABLES.get(code >>> 0);
    if (table !== undefined) sub = subCodeName(table, p1);
    else if (code >>> 0 === BUGCHECK.RDR_FILE_SYSTEM) {
      const d = decodeRdbssBugCheck(p1);
      if (d.source !== undefined) sub = `RDBSS_BUG_CHECK_${d.source} line ${d.line}`;
    }
  }
  return p.length === 0 ? head : `${head} [${p.join(", ")}]${sub === undefined ? "" : ` ${sub}`}`;
}
