/**
 * Semantic profiles: where the documentation and the ReactOS implementation of RDBSS disagree
 * (../shared/reference/rdbss-semantics.md §9), each difference is a named option. The "docs" profile follows the
 * documented contract wherever it is coherent; the "reactos" profile reproduces ReactOS everywhere.
 */

export interface RdbssProfile {
  readonly name: string;
  /**
   * Which caller of RxFinalizeSrvCall gets MRxFinalizeSrvCall posted to a delayed worker. "non-rdbss-process":
   * callers outside the RDBSS process (ReactOS, and the MRxFinalizeSrvCall page: transport state lives in the
   * system process). "rdbss-process": callers inside it (the RxFinalizeSrvCall page read literally).
   */
  readonly srvCallFinalizePostedFrom: "non-rdbss-process" | "rdbss-process";
  /**
   * RxFinalizeConnection(…, 0xff) with change notifications pending: "fail" (docs: acts like FALSE and fails) or
   * "ignore" (ReactOS: a failed notify cancel is ignored and processing continues).
   */
  readonly finalizeConnection0xffNotifications: "fail" | "ignore";
  /**
   * Whether RxFinalizeConnection can return STATUS_CANCELLED (the caller's RX_CONTEXT was cancelled) and
   * STATUS_LOCK_NOT_GRANTED (the netname table cannot be had without waiting and the context cannot wait), as
   * documented (the lock is tried before anything is done, so a refused call changes nothing), and whether TRUE
   * cancels every outstanding request on the V_NET_ROOT that has a cancel routine ("cancels all the outstanding
   * requests", the page). ReactOS never returns them (it acquires blocking) and cancels only change notifications.
   */
  readonly finalizeConnectionDocumentedStatuses: boolean;
  /** RxFinalizeConnection also checks the share-root FCB (TableEntryForNull): docs true, ReactOS false. */
  readonly finalizeConnectionChecksShareRoot: boolean;
  /** A NULL VNetRoot in RxFinalizeConnection: "default" (docs: optional; the NET_ROOT's default V_NET_ROOT is used) or "fault" (ReactOS dereferences it). */
  readonly finalizeConnectionNullVNetRoot: "default" | "fault";
  /** MRxCreate and Irp->IoStatus.Information: "must-set" (docs) or "canary" (ReactOS plants 0xABCDEF and asserts it is unchanged). */
  readonly createInformation: "must-set" | "canary";
  /**
   * RxpDereferenceAndFinalizeNetFcb / RxFinalizeNetFcb preconditions: "asserted" (ReactOS: Force must be FALSE and
   * the FCB held exclusive; the docs page states both conditions inverted, which is not a coherent contract).
   */
  readonly fcbFinalizeAssertions: "asserted" | "lenient";
  /** What an FCB references: "v-net-root" (ReactOS) or "net-root" (the docs' static-part table). */
  readonly fcbReferences: "v-net-root" | "net-root";
  /** The lock RxCreateNetFcb / RxFinalizeNetFcb require: "fcb-table" (ReactOS and the docs' table) or "netname-table" (the docs' text). */
  readonly fcbCreateLock: "fcb-table" | "netname-table";
  /** RxFinalizeNetRoot(recursive) purges "orphaned" FCBs (docs) or "non-orphaned" ones (ReactOS). */
  readonly finalizeNetRootPurges: "orphaned" | "non-orphaned";
  /** RxFinalizeNetRoot's FINALIZATION_IN_PROGRESS flag: cleared when the attempt fails (docs) or sticky (ReactOS). */
  readonly finalizeNetRootStickyFlag: boolean;
  /** RxFinishFcbInitialization's InitPacket: applied only while times and sizes are not yet set (docs) or always (ReactOS). */
  readonly finishFcbInitAlwaysApplyPacket: boolean;
  /** The scavenger finalizes marked objects when its timer fires (docs: "later, no time guarantee"); ReactOS's is a stub. */
  readonly scavengerReclaims: boolean;
  /** RxForceFinalizeAllVNetRoots, RxSetSrvCallDomainName, RxSetMinirdrCancelRoutine exist (docs) or are absent (ReactOS). */
  readonly docsOnlyRoutines: "available" | "absent";
  /**
   * A LowIo request that passed the FSD gate before its connection was force-deleted fails with
   * STATUS_UNEXPECTED_NETWORK_ERROR instead of reaching the mini-redirector on an orphaned FCB (docs: the
   * documented "cancels all outstanding requests"); ReactOS does not re-check.
   */
  readonly revalidateOrphanedOnSubmit: boolean;
  /**
   * The highest IRQL at which a mini-redirector may call RxDispatchToWorkerThread and RxPostToWorkerThread:
   * "APC_LEVEL" (both pages' requirements, §7's docs row) or "DISPATCH_LEVEL" (ReactOS: the queue is guarded by a
   * spin lock, so posting from a DPC-level completion works). RDBSS's own posting — from its IRP cancel routine,
   * which runs at DISPATCH_LEVEL — is held to the code's DISPATCH_LEVEL under either value.
   */
  readonly workerPostingMaxIrql: "APC_LEVEL" | "DISPATCH_LEVEL";
}

export const DOCS_PROFILE: RdbssProfile = {
  name: "docs",
  srvCallFinalizePostedFrom: "non-rdbss-process",
  finalizeConnection0xffNotifications: "fail",
  finalizeConnectionDocumentedStatuses: true,
  finalizeConnectionChecksShareRoot: true,
  finalizeConnectionNullVNetRoot: "default",
  createInformation: "must-set",
  fcbFinalizeAssertions: "asserted",
  fcbReferences: "v-net-root",
  fcbCreateLock: "fcb-table",
  finalizeNetRootPurges: "orphaned",
  finalizeNetRootStickyFlag: false,
  finishFcbInitAlwaysApplyPacket: false,
  scavengerReclaims: true,
  docsOnlyRoutines: "available",
  revalidateOrphanedOnSubmit: true,
  workerPostingMaxIrql: "APC_LEVEL",
};

export const REACTOS_PROFILE: RdbssProfile = {
  name: "reactos",
  srvCallFinalizePostedFrom: "non-rdbss-process",
  finalizeConnection0xffNotifications: "ignore",
  finalizeConnectionDocumentedStatuses: false,
  finalizeConnectionChecksShareRoot: false,
  finalizeConnectionNullVNetRoot: "fault",
  createInformation: "canary",
  fcbFinalizeAssertions: "asserted",
  fcbReferences: "v-net-root",
  fcbCreateLock: "fcb-table",
  finalizeNetRootPurges: "non-orphaned",
  finalizeNetRootStickyFlag: true,
  finishFcbInitAlwaysApplyPacket: true,
  scavengerReclaims: false,
  docsOnlyRoutines: "absent",
  revalidateOrphanedOnSubmit: false,
  workerPostingMaxIrql: "DISPATCH_LEVEL",
};

/** The values each profile option takes (for scenario `setup.profileOverrides` and the CLI). */
export const PROFILE_OPTION_VALUES = {
  srvCallFinalizePostedFrom: ["non-rdbss-process", "rdbss-process"],
  finalizeConnection0xffNotifications: ["fail", "ignore"],
  finalizeConnectionDocumentedStatuses: [true, false],
  finalizeConnectionChecksShareRoot: [true, false],
  finalizeConnectionNullVNetRoot: ["default", "fault"],
  createInformation: ["must-set", "canary"],
  fcbFinalizeAssertions: ["asserted", "lenient"],
  fcbReferences: ["v-net-root", "net-root"],
  fcbCreateLock: ["fcb-table", "netname-table"],
  finalizeNetRootPurges: ["orphaned", "non-orphaned"],
  finalizeNetRootStickyFlag: [true, false],
  finishFcbInitAlwaysApplyPacket: [true, false],
  scavengerReclaims: [true, false],
  docsOnlyRoutines: ["available", "absent"],
  revalidateOrphanedOnSubmit: [true, false],
  workerPostingMaxIrql: ["APC_LEVEL", "DISPATCH_LEVEL"],
} as const satisfies { readonly [K in keyof Omit<RdbssProfile, "name">]: readonly RdbssProfile[K][] };

export const PROFILES = { docs: DOCS_PROFILE, reactos: REACTOS_PROFILE } as const;
export type ProfileName = keyof typeof PROFILES;

/** A profile by name, with per-option overrides. */
export function resolveProfile(
  base: ProfileName | RdbssProfile = "docs",
  overrides: Partial<RdbssProfile> = {},
): RdbssProfile {
  const p = typeof base === "string" ? PROFILES[base] : base;
  return { ...p, ...overrides, name: Object.keys(overrides).length > 0 ? `${p.name}+custom` : p.name };
}

/** One line per option, for `rdbss list` and the docs. */
export const PROFILE_OPTION_DOCS: Readonly<Record<keyof Omit<RdbssProfile, "name">, string>> = {
  srvCallFinalizePostedFrom: "RxFinalizeSrvCall: which callers get MRxFinalizeSrvCall posted to a delayed worker",
  finalizeConnection0xffNotifications:
    "RxFinalizeConnection(0xff) with notifications pending: fail (docs) or ignore (ReactOS)",
  finalizeConnectionDocumentedStatuses:
    "RxFinalizeConnection may return STATUS_CANCELLED / STATUS_LOCK_NOT_GRANTED, and TRUE cancels every cancellable request on the V_NET_ROOT, not only notifications (docs)",
  finalizeConnectionChecksShareRoot: "RxFinalizeConnection checks the share-root FCB for open handles (docs)",
  finalizeConnectionNullVNetRoot:
    "RxFinalizeConnection with a NULL VNetRoot: default V_NET_ROOT (docs) or a fault (ReactOS)",
  createInformation: "MRxCreate sets Irp->IoStatus.Information (docs) or must leave the 0xABCDEF canary (ReactOS)",
  fcbFinalizeAssertions: "RxpDereferenceAndFinalizeNetFcb asserts Force == FALSE and the FCB held exclusive",
  fcbReferences: "an FCB references its V_NET_ROOT (ReactOS) or its NET_ROOT (docs' table)",
  fcbCreateLock: "RxCreateNetFcb requires the FCB table (ReactOS) or the netname table (docs' text) exclusive",
  finalizeNetRootPurges: "RxFinalizeNetRoot(recursive) purges orphaned (docs) or non-orphaned (ReactOS) FCBs",
  finalizeNetRootStickyFlag: "a failed RxFinalizeNetRoot leaves FINALIZATION_IN_PROGRESS set forever (ReactOS)",
  finishFcbInitAlwaysApplyPacket:
    "RxFinishFcbInitialization applies the InitPacket even when times are already set (ReactOS)",
  scavengerReclaims: "the scavenger timer finalizes objects marked for scavenged finalization (docs)",
  docsOnlyRoutines: "RxForceFinalizeAllVNetRoots, RxSetSrvCallDomainName, RxSetMinirdrCancelRoutine exist (docs)",
  revalidateOrphanedOnSubmit:
    "a LowIo request on a force-deleted connection fails instead of reaching the mini-redirector (docs)",
  workerPostingMaxIrql:
    "a mini-redirector may post work items (RxDispatchToWorkerThread, RxPostToWorkerThread) at ≤ APC_LEVEL (docs) or ≤ DISPATCH_LEVEL (ReactOS)",
};
