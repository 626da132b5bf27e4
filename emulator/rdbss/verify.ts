/**
 * RDBSS's verifier hooks: the reference ledger (ledger.ts), tombstones (tombstone.ts), leak reports at quiescence
 * and unload, and the mini-redirector contract checks that need state across calls — MRxContext[] not surviving a
 * MINIRDR_CALL (pattern 17 of ../shared/reference/rdbss-semantics.md §8), the NULL Force pointer of
 * MRxFinalizeNetRoot / MRxFinalizeVNetRoot (15), a SRV_CALL's context released before its posted
 * MRxFinalizeSrvCall ran (6), two live SRV_CALLs sharing one context (7), live handles orphaned by a forced
 * finalization (2), a premature non-forced RxFinalizeNetRoot (20) and a lost add-connection reference (19).
 *
 * Rdbss owns one RdbssVerifier and calls it from a handful of places; everything here is off the hot path or a
 * null test when its check is off. The catalogue of every check is emulator/verifier; docs/CHECKS.md explains them.
 */

import { IRP_MJ_NAMES } from "../io/index.js";
import {
  formatTime,
  type KThread,
  NT_SUCCESS,
  type NTSTATUS,
  type PoolBlockInfo,
  statusName,
  type Witness,
  type WORK_QUEUE_ITEM,
} from "../kernel/index.js";
import type { RX_CONTEXT, RxContextAfterFree, RxContextFieldUse } from "./context.js";
import { managesSrvCallExtension, type RDBSS_DEVICE_OBJECT } from "./device.js";
import type { MaybePromise } from "./dispatch.js";
import {
  formatHistory,
  formatHolder,
  formatLiveObject,
  type HolderGroup,
  type LiveObjectReport,
  RefLedger,
} from "./ledger.js";
import type { Rdbss } from "./rdbss.js";
import type { AnyRxNode, FCB, FreedAt, RxNode, RxNodeHooks, SRV_CALL, V_NET_ROOT } from "./structs.js";
import { HEADER_FIELDS, type TombstoneInfo, Tombstones, type TombstoneUse, TRAPPED_FIELDS } from "./tombstone.js";

/** RDBSS_BUG_CHECK_ASSERT sub-codes of the checks in this file (merged into RDBSS_ASSERT). */
export const VERIFIER_ASSERT = {
  MRXCONTEXT_STALE: 0x001c,
  FORCE_DEREFERENCED: 0x001d,
  CONTEXT_FREED_EARLY: 0x001e,
  SHARED_CONTEXT: 0x001f,
  LEAK_AT_UNLOAD: 0x0020,
  LEAK_AT_QUIESCENCE: 0x0021,
  ORPHANED_OPEN_HANDLES: 0x0022,
  PREMATURE_FINALIZE: 0x0023,
  ADD_CONNECTION_KEPT: 0x0024,
} as const;

/** The check names this file adds (merged into RDBSS_CHECKS). */
export const VERIFIER_RDBSS_CHECKS = {
  ledger:
    "The reference ledger: every reference and dereference of the six structures recorded with who made it (an instrument: any mode but off turns it on; it raises nothing itself).",
  leaks:
    "Structures still alive at unload (RxUnregisterMinirdr) or at a quiescence point, reported with the references that keep them alive.",
  orphanedHandles:
    "A forced connection finalization orphaned files the user still has open (their I/O now fails with STATUS_UNEXPECTED_NETWORK_ERROR).",
  prematureFinalize:
    "A non-forced RxFinalizeNetRoot while other references are held (under the reactos profile its FINALIZATION_IN_PROGRESS flag sticks).",
  lostConnection:
    "A connection delete that succeeded while the V_NET_ROOT kept its add-connection reference (the connection lives until unload).",
} as const;

/** Default modes of the checks RDBSS declares (the others stop). */
export const RDBSS_CHECK_DEFAULTS = {
  leaks: "off",
  orphanedHandles: "off",
  prematureFinalize: "off",
} as const;

/**
 * One structure teardown left, as the scenario report lists it: `text` is its headline and its holders, one per line
 * ("NET_ROOT#2 \srv\share (count 2) never freed — held by:\n  1 × RxReference ← MRxCreate [nulmrx] (…)\n  …");
 * `summary` is one line, the headline and the first holder (the likely cause).
 */
export interface LeakEntry {
  readonly text: string;
  readonly summary: string;
}

/** A leak report: what was alive at unload or at a quiescence point, with who holds each reference. */
export interface LeakReport {
  readonly where: "unload" | "quiescence";
  /** The mini-redirector's name, or "all devices". */
  readonly device: string;
  /** Virtual time, 100 ns units. */
  readonly time: number;
  readonly objects: readonly LiveObjectReport[];
  /** V_NET_ROOTs keeping an add-connection reference for a drive letter that is gone (quiescence only). */
  readonly lostConnections: readonly string[];
}

interface MrxContextTrap {
  readonly verifier: RdbssVerifier;
  readonly ctx: RX_CONTEXT;
  /** The MRx call running now on this context. */
  call: string;
  readonly trapped: boolean[];
  /** For each trapped slot, the call that wrote it (null: not known). */
  readonly writers: (string | null)[];
  reported: boolean;
}

/** Where a trapped MRxContext[] keeps its trap: a symbol, not enumerable (Object.keys, inspect and deepEqual on the
 * array see the four slots only). */
const MRX_TRAP: unique symbol = Symbol("MRxContext trap");

/** An RX_CONTEXT's MRxContext[] with a slot trapped: the accessors find their trap here. */
interface TrappedMrxContext extends Array<unknown> {
  [MRX_TRAP]?: MrxContextTrap;
}

/**
 * The accessors of a trapped MRxContext[] slot: one pair per slot for the process, reading their state through the
 * array they are called on. Not closures made per trap: defining an accessor allocates its AccessorPair in V8's old
 * generation, and closures over the run in it would keep every finished run alive across young collections.
 * They assume `this` is the trapped array itself, as it is for `a[i]` and `a[i] = v` (a mini-redirector's reads and
 * writes); an accessor called on another receiver (pulled out of its descriptor, or through an object whose prototype
 * is the array) is outside what the trap models.
 */
const MRX_SLOT_ACCESSORS = [0, 1, 2, 3].map((slot) => ({
  get(this: TrappedMrxContext): null {
    const t = this[MRX_TRAP] as MrxContextTrap;
    t.verifier.staleMrxContext(t.ctx, slot, t.writers[slot] ?? null, t);
    return null;
  },
  set(this: TrappedMrxContext, nv: unknown): void {
    Object.defineProperty(this, slot, { value: nv, writable: true, configurable: true, enumerable: true });
    (this[MRX_TRAP] as MrxContextTrap).trapped[slot] = false;
  },
}));

/** A holder of a leaked structure's reference: 0 a mini-redirector's or a test's, 1 another plain one, 2 structural. */
function holderRank(g: HolderGroup): number {
  return g.external ? 0 : g.structural ? 2 : 1;
}

/** A leaked structure, the likeliest cause first: by its likeliest holder (3: nothing known). */
function leakRank(r: LiveObjectReport | null): number {
  if (r === null) return 3;
  let rank = r.unexplained > 0 ? 1 : 3;
  for (const g of r.holders) rank = Math.min(rank, holderRank(g));
  return rank;
}

/**
 * An MRx finalization routine running: MRxFinalizeSrvCall (pattern 7 at a free), or MRxFinalizeNetRoot /
 * MRxFinalizeVNetRoot, which get ForceDisconnect as NULL (`forceNull`, pattern 15). Its thread, and work queued from
 * it, are inside it.
 */
interface FinalizeCall {
  readonly name: string;
  readonly node: RxNode;
  readonly forceNull: boolean;
}

/** A JavaScript TypeError about null: the emulated dereference of a NULL pointer. */
function isNullFault(e: unknown): e is TypeError {
  return e instanceof TypeError && /\bnull\b/.test(e.message);
}

export class RdbssVerifier {
  private readonly rx: Rdbss;
  /** The reference ledger (null when check "ledger" is off). */
  readonly ledger: RefLedger | null;
  /** Tombstones for freed structures (null when check "useAfterFree" is off). */
  readonly tombs: Tombstones | null;
  /** What a freed RX_CONTEXT reports a driver's use of its fields to (null when check "useAfterFree" is off). */
  readonly contextAfterFree: RxContextAfterFree | null;
  /** MRxContext[] traps (part of "minirdrContract"). */
  readonly mrxContextTraps: boolean;
  /** What every structure of this RDBSS reports its reference changes to (set on each by `track`). */
  private readonly hooks: RxNodeHooks;
  /** Reports made at unload and at quiescence points, oldest first. */
  readonly leakReports: LeakReport[] = [];
  private readonly postedContext = new WeakMap<SRV_CALL, { readonly Context: unknown; readonly Context2: unknown }>();
  /** Threads inside an MRx finalization routine, and the call each is in (innermost); made on first use. */
  private finalizeCalls: Map<KThread, FinalizeCall> | null = null;
  /** Work items queued from inside such a call (or from work those queued), by their `queuedBy` record; lazy. */
  private finalizeWork: WeakMap<Witness, FinalizeCall> | null = null;
  /** NULL faults already reported as pattern 15 (the exception goes on to its 0x7E in record mode). */
  private readonly forceFaults = new WeakSet<object>();

  constructor(rx: Rdbss) {
    this.rx = rx;
    const k = rx.k;
    this.ledger = k.checkMode("ledger") !== "off" ? new RefLedger(k) : null;
    const uaf = k.checkMode("useAfterFree") !== "off";
    this.tombs = uaf
      ? new Tombstones(
          (obj, info, field, use) => this.tombstoneUsed(obj, info, field, use),
          () => this.driverRunning(),
        )
      : null;
    const afterFree: RxContextAfterFree = (ctx, field, use) => this.contextFieldUsedAfterFree(ctx, field, use);
    this.contextAfterFree = uaf ? afterFree : null;
    this.mrxContextTraps = k.checkMode("minirdrContract") !== "off";
    this.hooks = { traceKernel: k, ledger: this.ledger, guard: this.tombs };
    if (this.mrxContextTraps) {
      // Through locals (see KernelCore.createThread on V8 pretenuring closures assigned straight to a property: these
      // two kept every finished run's emulator alive into the old generation, +29 % instructions per lifecycle).
      const queued = (item: WORK_QUEUE_ITEM, by: KThread): void => this.workItemQueued(item, by);
      const unhandled = (t: KThread, e: unknown): void => this.unhandledException(t, e);
      const freed = (block: object, info: PoolBlockInfo): void => this.poolFreed(block, info);
      k.workItemObserver = queued;
      k.unhandledExceptionObserver = unhandled;
      k.pool.freeObserver = freed;
    }
  }

  // ================================================================== ledger and tombstones

  /** A structure RDBSS just created: wire its trace, ledger and tombstone guard. */
  track(node: RxNode): void {
    node.hooks = this.hooks;
  }

  /** The next increment of `node` is the reference `holder` takes (a child's, when `child` is given). */
  take(node: RxNode, holder: string, child?: RxNode): void {
    if (this.ledger !== null) this.ledger.take(node, holder, child);
  }

  /** The next decrement of `node` drops the reference with one of these keys. */
  drop(node: RxNode, ...keys: string[]): void {
    if (this.ledger !== null) this.ledger.drop(node, ...keys);
  }

  /**
   * Whether driver code is running: a thread in kernel mode (a system thread, a DPC, or a user thread inside a
   * system service), before any stop. User-mode code cannot touch pool at all, so a read from it is a test looking
   * at the state.
   */
  private driverRunning(): boolean {
    const k = this.rx.k;
    const t = k.current;
    if (t === null || k.stopped !== null) return false;
    return t.kernelDepth > 0 || t.process.isSystem || t.isDpcContext;
  }

  /** Run `fn` with the tombstones silent (RDBSS's own bookkeeping looking at freed structures). */
  look<T>(fn: () => T): T {
    return this.tombs === null ? fn() : this.tombs.look(fn);
  }

  /** A structure was just freed (poisoned, out of the live set): make it a tombstone. */
  buried(node: AnyRxNode): void {
    const tombs = this.tombs;
    if (tombs === null) return;
    const f = node.freed as FreedAt;
    const info: TombstoneInfo = {
      label: f.label ?? node.label(),
      freedBy: f.by,
      freedThread: f.thread,
      freedChain: f.callChain,
      freedTime: f.time,
      freedStep: f.step ?? null,
    };
    if (node.kind === "FCB") {
      const fcb: FCB = node;
      const hook = (ddi: string): void => tombs.use(fcb, `its resource (${ddi})`, "lock");
      fcb.Header.Resource.useAfterDelete = hook;
      const paging = fcb.Header.pagingIoResourceIfMade;
      if (paging !== null) paging.useAfterDelete = hook;
      tombs.bury(fcb.Header, { ...info, label: `${info.label} (FCB Header)` }, HEADER_FIELDS);
    }
    tombs.bury(node, info, TRAPPED_FIELDS[node.kind]);
  }

  /**
   * A calldown structure RDBSS has consumed (construction is over): it becomes a tombstone, so a mini-redirector
   * touching it after its callback (pattern 8) is reported. `fields` are those that trap (calldown.ts: all but the
   * callback and the link to it, so that a late second callback is still reported as CALLBACK_TWICE).
   */
  buryCalldown(obj: object, label: string, by: string, fields: readonly string[]): void {
    const tombs = this.tombs;
    if (tombs === null) return;
    const t = this.rx.k.current;
    tombs.bury(
      obj,
      {
        label,
        freedBy: by,
        freedThread: t ? t.name : "?",
        freedChain: t ? t.frames.slice() : [],
        freedTime: this.rx.k.now,
        freedStep: t?.stepLabel ?? this.rx.k.stepLabel,
      },
      fields,
    );
  }

  /** The reference history of a structure as report lines (empty when the ledger is off). */
  history(node: RxNode): string[] {
    return this.ledger === null ? [] : formatHistory(this.ledger.history(node), 40, this.ledger.dropped(node));
  }

  /** "\nReference history of X:\n  +1 → 1 …" for stop reasons (empty when the ledger is off). */
  historyText(node: RxNode, label: string): string {
    const h = this.history(node);
    return h.length === 0 ? "" : `\nReference history of ${label}:\n  ${h.join("\n  ")}`;
  }

  private tombstoneUsed(obj: object, info: TombstoneInfo, field: string, use: TombstoneUse): void {
    if (process.env.TOMB_DEBUG) console.error(new Error(`tomb ${field}`).stack);
    const what = use === "lock" ? `A lock on ${field}` : use === "write" ? `A write of ${field}` : `A read of ${field}`;
    const chain = info.freedChain.length > 0 ? info.freedChain.join(" → ") : "—";
    const node = this.ledger !== null && isRxNode(obj) ? obj : null;
    this.rx.rdbssViolation(
      "useAfterFree",
      VERIFIER_ASSERT_USE_AFTER_FREE,
      obj,
      `${what} of ${info.label}, which was freed by ${info.freedBy} on thread "${info.freedThread}" at ${formatTime(info.freedTime)}${
        info.freedStep ? ` (${info.freedStep})` : ""
      }: a use after free — in Windows this reads or corrupts reused pool. Freed with call chain: ${chain}.${
        node ? this.historyText(node, info.label) : ""
      }`,
      use === "read" ? 0n : use === "write" ? 1n : 2n,
    );
  }

  /**
   * An RX_CONTEXT given to an RDBSS routine after its last reference was dropped (the IRP completed and RDBSS freed
   * it): typically a transport's completion that disarms the cancel routine of a request the cancel routine already
   * completed. The context is not a tombstone (RDBSS's own paths read it after completion); the routines that a
   * mini-redirector calls on it check it.
   */
  contextUsedAfterFree(ctx: RX_CONTEXT, routine: string): void {
    ctx.afterFree = null; // one report per context; and the report reads its fields
    this.rx.rdbssViolation(
      "useAfterFree",
      VERIFIER_ASSERT_USE_AFTER_FREE,
      ctx,
      `${routine} was given ${this.freedContextText(ctx)}, so this is a use after free — in Windows it touches a context back on the lookaside list, perhaps reused for another request. A completion that can race the cancel routine (or anything else that completes the request) must hold a reference from the submit (InterlockedIncrement(&RxContext->ReferenceCount)) and drop it with RxDereferenceAndDeleteRxContext when it is done with the context.`,
      0n,
    );
  }

  /**
   * "RX_CONTEXT#13 (IRP_MJ_READ), whose last reference was dropped on thread … at …: its request was completed and
   * RDBSS freed the context" — or, when the request had not completed, that a reference was released that was never
   * taken. Read with the context's `afterFree` cleared.
   */
  private freedContextText(ctx: RX_CONTEXT): string {
    const major = IRP_MJ_NAMES[ctx.MajorFunction] ?? String(ctx.MajorFunction);
    const where = `whose last reference was dropped on thread "${ctx.freedThread}" at ${formatTime(ctx.freedTime)}${
      ctx.freedStep ? ` (${ctx.freedStep})` : ""
    }`;
    return ctx.completed
      ? `${ctx.label()} (${major}), ${where}: its request was completed and RDBSS freed the context`
      : `${ctx.label()} (${major}), ${where} before its request completed: RxDereferenceAndDeleteRxContext released a reference that was never taken (one call too many), and RDBSS freed the context under the request`;
  }

  /**
   * A field of an RX_CONTEXT read or written by driver code after RDBSS dropped the context's last reference (the
   * accessors of a freed context call this): a late completion, a timer or a cancel routine that lost the race,
   * looking at a request that is over. RDBSS's own looks at a context that may be freed (its double-completion
   * reports) run inside `look()`; the context's `describeActivity` reads its private slots.
   */
  private contextFieldUsedAfterFree(ctx: RX_CONTEXT, field: string, use: RxContextFieldUse): void {
    if ((this.tombs as Tombstones).peek > 0 || !this.driverRunning()) return;
    ctx.afterFree = null; // one report per context; and the report reads its fields
    const what =
      use === "member"
        ? `A use of RxContext->${field} (reaching the member to read or write what it holds)`
        : `A ${use} of RxContext->${field}`;
    const does = use === "read" ? "reads" : use === "write" ? "writes into" : "reads or writes";
    this.rx.rdbssViolation(
      "useAfterFree",
      VERIFIER_ASSERT_USE_AFTER_FREE,
      ctx,
      `${what} of ${this.freedContextText(ctx)}, so this is a use after free — in Windows the context is back on RDBSS's lookaside list, perhaps already another request's, and this ${does} that request's state. Whatever outlives the request's completion (a transport's pending exchange, a timer, a cancel routine) must hold a reference on the context (InterlockedIncrement(&RxContext->ReferenceCount) before the submit returns, dropped with RxDereferenceAndDeleteRxContext when done), or must not look at it once the request may have completed.`,
      use === "read" ? 0n : use === "write" ? 1n : 2n,
    );
  }

  // ================================================================== leak reports

  /** Every live structure (of one device, or all) with the references that keep it alive. */
  liveReport(dev?: RDBSS_DEVICE_OBJECT): LiveObjectReport[] {
    const out: LiveObjectReport[] = [];
    this.look(() => {
      for (const node of this.rx.live) {
        if (dev !== undefined && this.rx.deviceOf(node) !== dev) continue;
        out.push(this.objectReport(node));
      }
    });
    return out;
  }

  /** One structure with the references that keep it alive (none known when the ledger is off). */
  private objectReport(node: AnyRxNode): LiveObjectReport {
    const label = node.label();
    const count = node.NodeReferenceCount;
    return this.ledger !== null
      ? this.ledger.report(node, label, count)
      : { label, kind: node.kind, count, holders: [], unexplained: count };
  }

  /**
   * RxUnregisterMinirdr, before it forces anything: what is still alive on the device is reported (check "leaks",
   * off by default) and kept in `leakReports`.
   */
  atUnload(dev: RDBSS_DEVICE_OBJECT): LeakReport {
    const report: LeakReport = {
      where: "unload",
      device: dev.MiniRdrName,
      time: this.rx.k.now,
      objects: this.liveReport(dev),
      lostConnections: [],
    };
    this.leakReports.push(report);
    if (report.objects.length > 0 && this.rx.k.checkMode("leaks") !== "off") {
      this.rx.rdbssViolation(
        "leaks",
        VERIFIER_ASSERT.LEAK_AT_UNLOAD,
        dev,
        `RxUnregisterMinirdr(${dev.MiniRdrName}): ${report.objects.length} structure(s) still alive at unload; RDBSS force-finalizes them now, but something failed to release them:\n${formatLeak(report)}`,
        BigInt(report.objects.length),
      );
    }
    return report;
  }

  /**
   * A quiescence point (no request in flight): every live structure is reported with its holders (`leakReports`).
   * `expectEmpty` (the runner's teardown, after every handle was closed and every connection deleted): anything alive
   * is a leak (check "leaks"). In both cases a V_NET_ROOT holding its add-connection reference for a drive letter
   * whose `\??\X:` link is gone is a lost connection (check "lostConnection").
   */
  quiescence(expectEmpty: boolean, dev?: RDBSS_DEVICE_OBJECT): LeakReport {
    const k = this.rx.k;
    const objects = this.liveReport(dev);
    const lost: string[] = [];
    this.look(() => {
      for (const node of this.rx.live) {
        if (node.kind !== "V_NET_ROOT" || !node.AdditionalReferenceForDeleteFsctlTaken) continue;
        if (dev !== undefined && this.rx.deviceOf(node) !== dev) continue;
        const m = /^\\;([A-Za-z]):/.exec(node.PrefixName);
        if (!m) continue;
        const link = this.rx.sys.io.lookupName(`\\??\\${(m[1] as string).toUpperCase()}:`);
        const d = this.rx.deviceOf(node);
        const target = `${d.DeviceName}${node.PrefixName}`.toUpperCase();
        if (link?.kind === "symlink" && link.target.toUpperCase() === target) continue;
        lost.push(node.label());
      }
    });
    const report: LeakReport = {
      where: "quiescence",
      device: dev?.MiniRdrName ?? "all devices",
      time: k.now,
      objects,
      lostConnections: lost,
    };
    this.leakReports.push(report);
    for (const l of lost) {
      const node = [...this.rx.live].find((n) => n.label() === l);
      this.rx.rdbssViolation(
        "lostConnection",
        VERIFIER_ASSERT.ADD_CONNECTION_KEPT,
        node ?? null,
        `${l} still holds its add-connection reference, but its drive letter is gone: \`net use /delete\` succeeded without RxFinalizeConnection dropping the reference (the DELCONN handler never called it, or ignored its failure). The connection — and the server session behind it — lives until the driver unloads.${
          node ? this.historyText(node, l) : ""
        }`,
      );
    }
    if (expectEmpty && objects.length > 0 && k.checkMode("leaks") !== "off") {
      this.rx.rdbssViolation(
        "leaks",
        VERIFIER_ASSERT.LEAK_AT_QUIESCENCE,
        null,
        `${objects.length} structure(s) still alive with no handle open and no connection left:\n${formatLeak(report)}`,
        BigInt(objects.length),
      );
    }
    return report;
  }

  /**
   * The structures teardown left, one entry each: those RxUnregisterMinirdr reported alive (`atUnload`, its lines:
   * "SRV_CALL#1 \srv (count 2)") and those still alive after it (`neverFreed`), a structure in both listed once.
   * Each names who holds its references. The likely cause comes first: a structure holding a reference a
   * mini-redirector (or a test) took and never dropped, then one holding a reference that is not its table entry's
   * or a child's; a structure held only by those is usually the consequence of another's leak. The holders of each
   * are in the same order.
   */
  explainLeaks(atUnload: readonly string[], neverFreed: readonly AnyRxNode[]): LeakEntry[] {
    const entries: { head: string; report: LiveObjectReport | null }[] = [];
    const unloaded = this.leakReports.findLast((r) => r.where === "unload") ?? null;
    for (const line of atUnload) {
      const report = unloaded?.objects.find((o) => line.startsWith(`${o.label} (`) || line === o.label) ?? null;
      entries.push({ head: `${line} alive at unload`, report });
    }
    this.look(() => {
      for (const node of neverFreed) {
        const report = this.objectReport(node);
        const seen = entries.find((e) => e.report?.label === report.label);
        if (seen === undefined) entries.push({ head: `${report.label} (count ${report.count}) never freed`, report });
        else {
          const after = seen.report?.count === report.count ? "" : ` (count ${report.count} after it)`;
          seen.head = `${seen.head} and never freed${after}`;
          seen.report = report;
        }
      }
    });
    return entries
      .map((e, i) => ({ ...e, i, rank: leakRank(e.report) }))
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map((e) => {
        const held = e.report === null ? [] : [...e.report.holders].sort((a, b) => holderRank(a) - holderRank(b));
        const lines = held.map((g) => formatHolder(g));
        const unexplained = e.report?.unexplained ?? 0;
        if (unexplained > 0) lines.push(`${unexplained} × (not in the ledger)`);
        if (lines.length === 0) return { text: e.head, summary: e.head };
        const others = held.slice(1).reduce((n, g) => n + g.count, 0) + (held.length > 0 ? unexplained : 0);
        const also = others === 0 ? "" : ` and ${others} other reference${others === 1 ? "" : "s"}`;
        return {
          text: `${e.head} — held by:\n  ${lines.join("\n  ")}`,
          summary: `${e.head} — held by ${lines[0]}${also}`,
        };
      });
  }

  // ================================================================== MRxContext[] (pattern 17)

  /**
   * MINIRDR_CALL's zeroing of MRxContext[]. A slot that still holds what an earlier call on this context left there
   * is zeroed as RDBSS does, and a read of it is reported: the mini-redirector expected it to survive. The trap stays
   * until the slot is written, so a read two or more calls later (A writes, B leaves the slot alone, C reads) is
   * reported too, naming the call that wrote it.
   */
  zeroMrxContext(ctx: RX_CONTEXT, name: string): void {
    const a = ctx.MRxContext;
    const prev = ctx.mrxLastCall;
    ctx.mrxLastCall = name;
    let trap = (a as TrappedMrxContext)[MRX_TRAP] ?? null;
    if (trap === null && a[0] === null && a[1] === null && a[2] === null && a[3] === null) return;
    if (trap !== null) trap.call = name;
    for (let i = 0; i < 4; i++) {
      // Still trapped (nothing wrote the slot since): it stays a trap, now for this call (trap.call).
      if (trap?.trapped[i]) continue;
      const v = a[i];
      if (v === null || v === undefined) {
        a[i] = null;
        continue;
      }
      if (trap === null) {
        trap = {
          verifier: this,
          ctx,
          call: name,
          trapped: [false, false, false, false],
          writers: [null, null, null, null],
          reported: false,
        };
        Object.defineProperty(a, MRX_TRAP, { value: trap, enumerable: false, configurable: true, writable: false });
      }
      trap.writers[i] = prev;
      const { get, set } = MRX_SLOT_ACCESSORS[i] as (typeof MRX_SLOT_ACCESSORS)[number];
      Object.defineProperty(a, i, { configurable: true, enumerable: true, get, set });
      trap.trapped[i] = true;
    }
  }

  /** A trapped MRxContext[] slot was read (MRX_SLOT_ACCESSORS). */
  staleMrxContext(ctx: RX_CONTEXT, slot: number, writer: string | null, trap: MrxContextTrap): void {
    if (trap.reported) return;
    trap.reported = true;
    this.rx.rdbssViolation(
      "minirdrContract",
      VERIFIER_ASSERT.MRXCONTEXT_STALE,
      ctx,
      `${trap.call} read RxContext->MRxContext[${slot}] of ${ctx.label()}, which ${writer ?? "an earlier call"} had set: RDBSS zeroes MRxContext[] before every call into the mini-redirector (MINIRDR_CALL), so the value did not survive and this read sees NULL. Keep state that must outlive one call in your own structures (the SRV_OPEN or FOBX extension).`,
      BigInt(slot),
    );
  }

  // ================================================================== the Force pointer (pattern 15)

  /**
   * MRxFinalizeNetRoot / MRxFinalizeVNetRoot get `ForceDisconnect` as a NULL PBOOLEAN. A TypeError about null from
   * the call is the mini-redirector dereferencing it (check "minirdrContract"); the exception still happens (0x7E)
   * in record mode, as the fault would in Windows.
   */
  async guardForceNull<T>(name: string, node: RxNode, fn: () => MaybePromise<T>): Promise<T> {
    try {
      return await this.inFinalizeCall(name, node, true, fn);
    } catch (e) {
      if (isNullFault(e)) {
        this.forceFaults.add(e);
        this.rx.rdbssViolation(
          "minirdrContract",
          VERIFIER_ASSERT.FORCE_DEREFERENCED,
          node,
          `${name}(${node.label()}, ForceDisconnect) faulted on a NULL pointer (${e.message}): RDBSS passes ForceDisconnect as NULL — a PBOOLEAN that must not be dereferenced or relied on (rdbss-semantics §9, pattern 15). Decide from your own state whether to tear the connection down.`,
        );
      }
      throw e;
    }
  }

  /**
   * Run `fn`, the MRx finalization routine `name` on `node`, as the running thread's current finalization call (an
   * outer one is restored after). Only while minirdrContract is on: its observers are what read the calls.
   */
  private async inFinalizeCall<T>(
    name: string,
    node: RxNode,
    forceNull: boolean,
    fn: () => MaybePromise<T>,
  ): Promise<T> {
    const t = this.rx.k.current;
    if (!this.mrxContextTraps || t === null) return fn();
    if (this.finalizeCalls === null) this.finalizeCalls = new Map();
    const outer = this.finalizeCalls.get(t);
    this.finalizeCalls.set(t, { name, node, forceNull });
    try {
      return await fn();
    } finally {
      if (outer !== undefined) this.finalizeCalls.set(t, outer);
      else this.finalizeCalls.delete(t);
    }
  }

  /** The finalization call thread `t` is in: its own, or the one that queued the work it runs. */
  private finalizeCallOn(t: KThread): FinalizeCall | undefined {
    const direct = this.finalizeCalls !== null ? this.finalizeCalls.get(t) : undefined;
    if (direct !== undefined || t.queuedBy === null || this.finalizeWork === null) return direct;
    return this.finalizeWork.get(t.queuedBy);
  }

  /**
   * A work item queued from inside a finalization call (or from work that one queued) carries that call: the
   * ForceDisconnect pointer it captured is still NULL when the worker reads it, and a SRV_CALL's state it frees is
   * still freed by that MRxFinalizeSrvCall.
   */
  private workItemQueued(item: WORK_QUEUE_ITEM, by: KThread): void {
    if (item.queuedBy === null) return;
    const call = this.finalizeCallOn(by);
    if (call === undefined) return;
    if (this.finalizeWork === null) this.finalizeWork = new WeakMap();
    this.finalizeWork.set(item.queuedBy, call);
  }

  /**
   * An exception nothing handled, about to be a 0x7E: a NULL fault in work that MRxFinalize(V)NetRoot queued is
   * pattern 15 one step removed — the routine handed the NULL ForceDisconnect to a worker.
   */
  private unhandledException(t: KThread, error: unknown): void {
    if (!isNullFault(error) || this.forceFaults.has(error) || t.queuedBy === null || this.finalizeWork === null) return;
    const call = this.finalizeWork.get(t.queuedBy);
    if (call === undefined || !call.forceNull) return;
    this.forceFaults.add(error);
    this.rx.rdbssViolation(
      "minirdrContract",
      VERIFIER_ASSERT.FORCE_DEREFERENCED,
      call.node,
      `Work that ${call.name}(${call.node.label()}, ForceDisconnect) queued faulted on a NULL pointer on thread "${t.name}" (${error.message}): RDBSS passes ForceDisconnect as NULL — a PBOOLEAN that must not be dereferenced or relied on, also not later by the work the routine posts with it (rdbss-semantics §9, pattern 15). Decide from your own state whether to tear the connection down. (If the NULL was another pointer, the fault is still the driver's: in Windows, 0x7E.)`,
    );
  }

  // ================================================================== SRV_CALL contexts (patterns 6 and 7)

  /** RxFinalizeSrvCall posted its destroy: remember the contexts MRxFinalizeSrvCall must still find. */
  destroyPosted(srvCall: SRV_CALL): void {
    this.postedContext.set(srvCall, { Context: srvCall.Context, Context2: srvCall.Context2 });
  }

  /** Right before MRxFinalizeSrvCall: the mini-redirector's state must still be there, and be this SRV_CALL's own. */
  beforeFinalizeSrvCall(srvCall: SRV_CALL): void {
    const managed = managesSrvCallExtension(srvCall);
    const posted = this.postedContext.get(srvCall);
    if (posted !== undefined) {
      this.postedContext.delete(srvCall);
      const changed =
        (posted.Context !== null && srvCall.Context !== posted.Context) ||
        (posted.Context2 !== null && srvCall.Context2 !== posted.Context2);
      if (changed) {
        this.rx.rdbssViolation(
          "minirdrContract",
          VERIFIER_ASSERT.CONTEXT_FREED_EARLY,
          srvCall,
          `${srvCall.label()}'s ${posted.Context !== null && srvCall.Context !== posted.Context ? "Context" : "Context2"} was released before MRxFinalizeSrvCall ran. RxFinalizeSrvCall returned TRUE from a thread outside the RDBSS process, which only means "will be freed": the finalization was posted to a worker, and MRxFinalizeSrvCall now runs on state the mini-redirector already let go of (rdbss-semantics §8, pattern 6). Release it in MRxFinalizeSrvCall.`,
        );
      }
    }
    // Context (unless RDBSS manages the extension) and Context2 (always the mini-redirector's own): either one shared
    // with another live SRV_CALL is state keyed by server name.
    for (const mine of managed ? (["Context2"] as const) : (["Context", "Context2"] as const)) {
      const value = srvCall[mine];
      if (value === null || typeof value !== "object") continue;
      const held = this.srvCallHolding(value, srvCall);
      if (held === null) continue;
      this.rx.rdbssViolation(
        "minirdrContract",
        VERIFIER_ASSERT.SHARED_CONTEXT,
        srvCall,
        `MRxFinalizeSrvCall is about to run for ${srvCall.label()}, whose ${mine} is also the ${held.field} of the live ${held.other.label()}: the mini-redirector keys its connection state by server name, and a new SRV_CALL for the same server was built before the old one's (posted) finalization ran. Finalizing the old one now tears down the state the new one uses (rdbss-semantics §8, pattern 7). Give each SRV_CALL its own state.`,
        this.rx.k.addressOf(held.other),
      );
      return;
    }
  }

  /**
   * The live SRV_CALL other than `except`, whose MRxFinalizeSrvCall has not run, that holds `value` as its Context
   * (when the mini-redirector owns it: no RDBSS_MANAGE_SRV_CALL_EXTENSION) or its Context2; null when none does.
   */
  private srvCallHolding(value: object, except: SRV_CALL): { other: SRV_CALL; field: "Context" | "Context2" } | null {
    for (const other of this.rx.live) {
      if (other === except || other.kind !== "SRV_CALL" || other.miniFinalized) continue;
      if (other.Context === value && !managesSrvCallExtension(other)) return { other, field: "Context" };
      if (other.Context2 === value) return { other, field: "Context2" };
    }
    return null;
  }

  /**
   * Run MRxFinalizeSrvCall(srvCall) as `fn`, known as the running thread's finalization (and, through workItemQueued,
   * of the work it queues) while it runs, so that `poolFreed` can tell whose finalization freed a block.
   */
  finalizingSrvCall<T>(srvCall: SRV_CALL, fn: () => MaybePromise<T>): Promise<T> {
    return this.inFinalizeCall("MRxFinalizeSrvCall", srvCall, false, fn);
  }

  /**
   * A pool block was freed. From inside one SRV_CALL's MRxFinalizeSrvCall (or work it queued), freeing the Context or
   * Context2 of another live SRV_CALL is pattern 7 with separate states: most likely the mini-redirector found "the
   * state of \\srv" by name, and the name now leads to the state of a new SRV_CALL, built before the old one's
   * posted finalization ran.
   */
  private poolFreed(block: object, info: PoolBlockInfo): void {
    const calls = this.finalizeCalls;
    const t = this.rx.k.current;
    if (calls === null || t === null) return;
    const call = this.finalizeCallOn(t);
    if (call === undefined || call.node.kind !== "SRV_CALL") return;
    const srvCall = call.node as SRV_CALL;
    const held = this.srvCallHolding(block, srvCall);
    if (held === null) return;
    this.rx.rdbssViolation(
      "minirdrContract",
      VERIFIER_ASSERT.SHARED_CONTEXT,
      srvCall,
      `MRxFinalizeSrvCall for ${srvCall.label()} freed pool block '${info.tag}', the ${held.field} of the live ${held.other.label()}${calls.get(t) !== call ? ` (in work it queued, on thread "${t.name}")` : ""}. A new SRV_CALL for the same server was built before the old one's posted finalization ran, and the old one's finalization has just freed the new one's state — most likely because the mini-redirector looks its connection state up by server name (rdbss-semantics §8, pattern 7). Free what the SRV_CALL being finalized points to (its Context), not what the name leads to now.`,
      this.rx.k.addressOf(held.other),
    );
  }

  // ================================================================== forced finalization, premature finalization

  /** A forced V_NET_ROOT finalization orphaned FCBs with open handles (pattern 2). */
  orphaned(vNetRoot: V_NET_ROOT, fcbs: readonly { readonly fcb: FCB; readonly handles: number }[]): void {
    if (fcbs.length === 0 || this.rx.k.checkMode("orphanedHandles") === "off") return;
    this.rx.rdbssViolation(
      "orphanedHandles",
      VERIFIER_ASSERT.ORPHANED_OPEN_HANDLES,
      vNetRoot,
      `${vNetRoot.label()} was finalized with files still open (${fcbs
        .map((f) => `${f.fcb.label()}: ${f.handles} handle(s)`)
        .join(
          ", ",
        )}): their SRV_OPENs are orphaned and every later request on those handles but close fails with STATUS_UNEXPECTED_NETWORK_ERROR. A forced delete (RxFinalizeConnection TRUE) is for when the user said so; after STATUS_FILES_OPEN from FALSE, report the failure instead of retrying with TRUE (rdbss-semantics §8, pattern 2).`,
      BigInt(fcbs.length),
    );
  }

  /** A non-forced RxFinalizeNetRoot while other references are held (pattern 20). */
  prematureNetRootFinalize(netRoot: RxNode & { readonly pNetRootName: string }, sticky: boolean): void {
    if (this.rx.k.checkMode("prematureFinalize") === "off") return;
    this.rx.rdbssViolation(
      "prematureFinalize",
      VERIFIER_ASSERT.PREMATURE_FINALIZE,
      netRoot,
      `RxFinalizeNetRoot(${netRoot.label()}, ForceFinalize = FALSE) while its count is ${netRoot.NodeReferenceCount}: it cannot be finalized now${
        sticky
          ? ", and (reactos profile) NETROOT_FLAG_FINALIZATION_IN_PROGRESS stays set, so later finalizations return FALSE at once and the NET_ROOT is never freed"
          : ""
      } (rdbss-semantics §8, pattern 20). Drop your references and let RxDereference finalize it.`,
      BigInt(netRoot.NodeReferenceCount),
    );
  }

  // ================================================================== the delete IOCTL (pattern 19)

  /** A device-FCB control request starts on `t`: note the connections it finalizes. */
  beginControl(t: KThread): void {
    t.tls.set(CONTROL_KEY, new Set<V_NET_ROOT>());
  }

  /** RxFinalizeConnection was called for `vNetRoot` (noted when a control request runs on `t`). */
  finalizeConnectionCalled(t: KThread, vNetRoot: V_NET_ROOT): void {
    const m = t.tls.get(CONTROL_KEY) as Set<V_NET_ROOT> | undefined;
    if (m !== undefined) m.add(vNetRoot);
  }

  /**
   * The control request returned `status`. Success, while a connection it tried to finalize still holds its
   * add-connection reference (RxFinalizeConnection failed: success and 0xff drop it), is a delete that only appears
   * to succeed.
   */
  endControl(t: KThread, status: NTSTATUS): void {
    const m = t.tls.get(CONTROL_KEY) as Set<V_NET_ROOT> | undefined;
    t.tls.delete(CONTROL_KEY);
    if (m === undefined || !NT_SUCCESS(status) || status === STATUS_PENDING) return;
    for (const vnr of m) {
      if (vnr.freed !== null || !vnr.AdditionalReferenceForDeleteFsctlTaken) continue;
      this.rx.rdbssViolation(
        "lostConnection",
        VERIFIER_ASSERT.ADD_CONNECTION_KEPT,
        vnr,
        `A control request returned ${statusName(status)} although RxFinalizeConnection(${vnr.label()}) did not finalize the connection (it failed and left the add-connection reference): the delete looks successful, but the connection — and its server session — lives until unload (rdbss-semantics §8, pattern 19). Return the failure, or finalize with the level the user asked for.${this.historyText(vnr, vnr.label())}`,
      );
    }
  }
}

/** RDBSS_ASSERT.USE_AFTER_FREE (defined with the other RDBSS sub-codes in rdbss.ts). */
const VERIFIER_ASSERT_USE_AFTER_FREE = 0x0005;

const CONTROL_KEY = "verifier.control";
const STATUS_PENDING = 0x103;

function isRxNode(o: object): o is AnyRxNode {
  return typeof (o as { label?: unknown }).label === "function" && "NodeTypeCode" in o && "serial" in o;
}

/** A leak report as text: each object with its holders. */
export function formatLeak(r: LeakReport): string {
  return r.objects.flatMap((o) => formatLiveObject(o).map((l) => `  ${l}`)).join("\n");
}
