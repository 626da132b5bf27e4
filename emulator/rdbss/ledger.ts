/**
 * The reference ledger: every change of NodeReferenceCount of the six structures (SRV_CALL, NET_ROOT, V_NET_ROOT,
 * FCB, SRV_OPEN, FOBX) is recorded with what made it (the RDBSS routine or path, and who called it), the thread,
 * the virtual time, the call chain and the scenario step. What RDBSS's checked builds did with RxpTrackReference /
 * RxpTrackDereference — and what no shipping Windows can do any more (../shared/reference/anchors.md §4.5).
 *
 * Besides the history, the ledger keeps the references that are still held ("holds"): each increment opens a hold
 * named after its holder, each decrement closes one. RDBSS names the structural ones where it takes and drops them
 * (a NET_ROOT's reference on its SRV_CALL is held by that NET_ROOT; the add-connection reference; the scavenger's
 * mark); a decrement without a name closes the most recent plain hold — never a structural one, and never a
 * reference a mini-redirector took with RxReference unless it is the mini-redirector (or a test thread) dropping
 * it. So when an object outlives what should have freed it, the report says which references keep it alive and who
 * took each one: "SRV_CALL#1 \srv: count 3 — 1 × netname table entry (RxCreateSrvCall …), 1 × RxReference ←
 * MRxCreateSrvCall [leaky] (thread app, steps[0] t.yaml:6, 0.000000 s) …".
 *
 * Cost: off, one null test per reference change (RxNode.ledger is null). On, one small record per change.
 */
import type { Kernel } from "../kernel/index.js";
import type { AnyRxNode, RefRecorder, RxNode } from "./structs.js";

/** One change of a structure's reference count. */
export interface RefEntry {
  /** Order over the whole run. */
  readonly seq: number;
  /** +1, -1 (or the size of a jump, e.g. +2 when an FCB is created with two references). */
  readonly delta: number;
  /** The count after the change. */
  readonly count: number;
  /** What changed it: "RxReference ← MRxCreate [nulmrx]", "RxCreateNetRoot (NET_ROOT → SRV_CALL)". */
  readonly by: string;
  /** The hold it opened or closed (its holder, in words). */
  readonly holder: string;
  readonly thread: string;
  /** Virtual time, 100 ns units. */
  readonly time: number;
  /** The scenario step, when known ("steps[2] t.yaml:14"). */
  readonly step: string | null;
  readonly callChain: readonly string[];
}

/** A reference that is still held. */
export interface RefHold {
  /** Matching key: "table", "child:7", the path's label … */
  readonly key: string;
  /** The holder, in words. */
  readonly holder: string;
  /** The increment that opened it. */
  readonly entry: RefEntry;
  /** Structural: dropped only where RDBSS names it (table entry, a child's reference, add-connection, scavenger). */
  readonly structural: boolean;
  /** Taken by a mini-redirector or a test thread through RxReference / RxpReferenceNetFcb. */
  readonly external: boolean;
}

/** The references keeping one object alive, grouped by holder. */
export interface HolderGroup {
  readonly holder: string;
  readonly count: number;
  readonly structural: boolean;
  readonly external: boolean;
  /** The increments that opened these holds, oldest first. */
  readonly entries: readonly RefEntry[];
}

/** What the ledger says about one live object. */
export interface LiveObjectReport {
  readonly label: string;
  readonly kind: AnyRxNode["kind"];
  readonly count: number;
  readonly holders: readonly HolderGroup[];
  /** Holds the counts do not explain (the ledger saw fewer increments than the count says), if any. */
  readonly unexplained: number;
}

interface Book {
  /** Exactly sized while short (see `append`): most objects keep a handful of entries and holds for long. */
  entries: RefEntry[];
  holds: RefHold[];
  /** Entries dropped from the middle of a long history (the first ones, the story of its creation, stay). */
  dropped: number;
}

/** A history keeps its first HISTORY_HEAD entries and, past HISTORY_MAX, drops the oldest of the rest in blocks. */
const HISTORY_HEAD = 16;
const HISTORY_MAX = 512;
const HISTORY_DROP = 256;

interface ChainNode {
  readonly chain: readonly string[];
  next: Map<string, ChainNode> | null;
}

interface Pending {
  readonly node: RxNode;
  readonly take?: { readonly key: string; readonly holder: string; readonly structural: boolean };
  readonly drop?: readonly string[];
}

/** Keys of holds RDBSS takes and drops by name (never closed by an unnamed decrement). */
export const STRUCTURAL_HOLDS = {
  table: "table",
  addConnection: "RxCreateTreeConnect (add-connection reference)",
  scavengerMark: "scavenger mark",
  postedDestroy: "RxFinalizeSrvCall (posted destroy)",
} as const;

/** The holder name of a V_NET_ROOT's one-time add-connection reference. */
export const ADD_CONNECTION_REFERENCE = STRUCTURAL_HOLDS.addConnection;

/** The matching key of a child's reference on its parent. */
export function childKey(child: RxNode): string {
  return `child:${child.serial}`;
}

/** The increments a structure is created with, by kind (the count its RxCreate* routine sets). */
const CREATION_HOLDS: Readonly<Record<AnyRxNode["kind"], readonly { key: string; holder: string }[]>> = {
  SRV_CALL: [{ key: STRUCTURAL_HOLDS.table, holder: "netname table entry (RxCreateSrvCall)" }],
  NET_ROOT: [{ key: STRUCTURAL_HOLDS.table, holder: "netname table entry (RxCreateNetRoot)" }],
  V_NET_ROOT: [{ key: STRUCTURAL_HOLDS.table, holder: "netname table entry (RxCreateVNetRoot)" }],
  FCB: [
    { key: STRUCTURAL_HOLDS.table, holder: "FCB table entry (RxCreateNetFcb)" },
    { key: "creator", holder: "creator's reference (RxCreateNetFcb)" },
  ],
  SRV_OPEN: [{ key: "open", holder: "open reference (RxCreateSrvOpen)" }],
  FOBX: [{ key: "handle", holder: "file object's reference (RxCreateNetFobx)" }],
};

const NO_FRAMES: readonly string[] = [];

/**
 * Append to a book's list. A short list is copied into an array of exactly its new length (Array.push grows the
 * backing store by at least 16 slots, ≈ 130 bytes of slack per list, and an open file has six lists); a long one
 * is pushed onto.
 */
const EXACT_UP_TO = 24;
function append<T>(list: T[], item: T): T[] {
  if (list.length >= EXACT_UP_TO) {
    list.push(item);
    return list;
  }
  return list.concat([item]);
}
const EXTERNAL_KEY = "external";

/** A ledger entry as a plain literal (object spread here costs microseconds per entry). */
function entry(
  seq: number,
  delta: number,
  count: number,
  by: string,
  holder: string,
  thread: string,
  time: number,
  step: string | null,
  callChain: readonly string[],
): RefEntry {
  return { seq, delta, count, by, holder, thread, time, step, callChain };
}

/**
 * The same text as one flat string. A holder named after a child ("FCB#7 \\srv\\share\\f — RxCreateNetFcb …") is
 * kept as long as the reference is held: as the child's label flattened (a label is a rope of small pieces) joined to
 * a shared " — holder" suffix, it costs about a third of the rope, and half of one flat two-byte string.
 */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** Routines through which a mini-redirector (or a test thread) takes and drops references. */
const EXTERNAL_TAKE = new Set(["RxReference", "RxpReferenceNetFcb"]);
const EXTERNAL_DROP = new Set(["RxDereference", "RxpDereferenceNetFcb"]);

export class RefLedger implements RefRecorder {
  private readonly k: Kernel;
  private readonly books = new Map<RxNode, Book>();
  private pending: Pending | null = null;
  private seq = 0;
  /** Call chains, interned: a trie over frames, each node holding its chain (shared, never mutated). */
  private readonly chains: ChainNode = { chain: NO_FRAMES, next: null };
  /** `by` strings ("RxReference ← MRxCreate [nulmrx]"), interned by top frame then caller. */
  private readonly bys = new Map<string, Map<string, string>>();
  private readonly tops = new Map<string, string>();
  private readonly suffixes = new Map<string, string>();

  constructor(k: Kernel) {
    this.k = k;
  }

  /** The next increment of `node` opens a hold named `holder` (a child's reference when `child` is given). */
  take(node: RxNode, holder: string, child?: RxNode): void {
    const key = child ? childKey(child) : holder;
    const structural = child !== undefined || isStructuralKey(holder);
    this.pending = {
      node,
      take: { key, holder: child ? flat(child.label()) + this.suffixOf(holder) : holder, structural },
    };
  }

  /** The next decrement of `node` closes the hold with one of these keys (the latest), if there is one. */
  drop(node: RxNode, ...keys: string[]): void {
    this.pending = { node, drop: keys };
  }

  /** RxNode's NodeReferenceCount setter: one change. */
  record(node: RxNode, from: number, to: number): void {
    const t = this.k.current;
    const frames = t ? t.frames : NO_FRAMES;
    const pending = this.pending !== null && this.pending.node === node ? this.pending : null;
    if (pending !== null) this.pending = null;
    const top = frames.length > 0 ? (frames[frames.length - 1] as string) : null;
    const caller = frames.length > 1 ? (frames[frames.length - 2] as string) : null;
    const by =
      top === null
        ? "(no call chain)"
        : caller !== null && isRdbssRoutine(top)
          ? this.byOf(top, caller)
          : this.topOf(top);
    // A reference a mini-redirector (an MRx frame below the routine) or a test thread (nothing below) takes or drops.
    const outside = top !== null && (caller === null || caller.endsWith("]"));
    const book = this.bookOf(node);
    const thread = t ? t.name : "(no thread)";
    const step = t?.stepLabel ?? this.k.stepLabel;
    const time = this.k.now;
    // The call chain is kept for increments (the references that may be held for long); a decrement has `by`.
    const chain = to > from ? this.chainOf(frames) : NO_FRAMES;
    if (book.entries.length >= HISTORY_MAX) {
      book.entries.splice(HISTORY_HEAD, HISTORY_DROP);
      book.dropped += HISTORY_DROP;
    }
    if (from < 0) {
      // RDBSS putting the count back to 0 after an underflow it reported: no reference is taken.
      book.entries = append(
        book.entries,
        entry(++this.seq, to - from, to, by, "(count reset after an underflow)", thread, time, step, chain),
      );
      return;
    }
    if (to > from) {
      const creation = from === 0 && book.entries.length === 0 && pending?.take === undefined;
      const ext = !creation && top !== null && outside && EXTERNAL_TAKE.has(top);
      const kinds = creation ? CREATION_HOLDS[(node as AnyRxNode).kind] : null;
      for (let i = 0; i < to - from; i++) {
        let key: string;
        let holder: string;
        let structural = false;
        if (kinds !== null) {
          const h = kinds[Math.min(i, kinds.length - 1)] as { key: string; holder: string };
          key = h.key;
          holder = h.holder;
          structural = isStructuralKey(key);
        } else if (pending?.take !== undefined && i === 0 && !ext) {
          key = pending.take.key;
          holder = pending.take.holder;
          structural = pending.take.structural;
        } else {
          key = ext ? EXTERNAL_KEY : by;
          holder = ext && caller === null ? `${top} (thread ${thread})` : by;
        }
        const e = entry(++this.seq, 1, from + i + 1, by, holder, thread, time, step, chain);
        book.entries = append(book.entries, e);
        book.holds = append(book.holds, { key, holder, entry: e, structural, external: ext });
      }
      return;
    }
    const ext = top !== null && outside && EXTERNAL_DROP.has(top);
    for (let i = 0; i < from - to; i++) {
      const h = this.closeOne(book, i === 0 ? (pending?.drop ?? null) : null, ext);
      const holder = h ? h.holder : "(no reference to drop: the count went below what was taken)";
      book.entries = append(book.entries, entry(++this.seq, -1, from - i - 1, by, holder, thread, time, step, chain));
    }
  }

  /** " — holder", one string per holder name. */
  private suffixOf(holder: string): string {
    let s = this.suffixes.get(holder);
    if (s === undefined) {
      s = ` — ${holder}`;
      this.suffixes.set(holder, s);
    }
    return s;
  }

  /** A top frame, one string per text (the I/O manager builds "IRP_MJ_CREATE → \\Device\\…" per call). */
  private topOf(top: string): string {
    const s = this.tops.get(top);
    if (s !== undefined) return s;
    this.tops.set(top, top);
    return top;
  }

  /** `${top} ← ${caller}`, one string per pair. */
  private byOf(top: string, caller: string): string {
    let m = this.bys.get(top);
    if (m === undefined) {
      m = new Map();
      this.bys.set(top, m);
    }
    let s = m.get(caller);
    if (s === undefined) {
      s = `${top} ← ${caller}`;
      m.set(caller, s);
    }
    return s;
  }

  /** A copy of `frames`, shared with every earlier record of the same call chain. */
  private chainOf(frames: readonly string[]): readonly string[] {
    let node = this.chains;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as string;
      let next = node.next;
      if (next === null) {
        next = new Map();
        node.next = next;
      }
      let child = next.get(f);
      if (child === undefined) {
        child = { chain: frames.slice(0, i + 1), next: null };
        next.set(f, child);
      }
      node = child;
    }
    return node.chain;
  }

  /** Choose the hold a decrement closes, and close it. */
  private closeOne(book: Book, keys: readonly string[] | null, external: boolean): RefHold | null {
    const holds = book.holds;
    const pick = (pred: (h: RefHold) => boolean): RefHold | null => {
      for (let i = holds.length - 1; i >= 0; i--) {
        const h = holds[i] as RefHold;
        if (pred(h)) {
          holds.splice(i, 1);
          return h;
        }
      }
      return null;
    };
    if (keys !== null) {
      const h = pick((x) => keys.includes(x.key));
      if (h) return h;
    }
    if (external) {
      const h = pick((x) => x.external);
      if (h) return h;
    }
    return (
      pick((x) => !x.structural && !x.external) ??
      pick((x) => x.external) ??
      pick((x) => x.key !== STRUCTURAL_HOLDS.table) ??
      pick(() => true)
    );
  }

  private bookOf(node: RxNode): Book {
    let b = this.books.get(node);
    if (b === undefined) {
      b = { entries: [], holds: [], dropped: 0 };
      this.books.set(node, b);
    }
    return b;
  }

  /** The recorded changes of one object, oldest first (a long history loses entries after its first 16). */
  history(node: RxNode): readonly RefEntry[] {
    return this.books.get(node)?.entries ?? [];
  }

  /** How many entries of a long history were dropped (after its first 16). */
  dropped(node: RxNode): number {
    return this.books.get(node)?.dropped ?? 0;
  }

  /** The references still held on one object. */
  holds(node: RxNode): readonly RefHold[] {
    return this.books.get(node)?.holds ?? [];
  }

  /** The references still held on one object, grouped by holder (structural first, then in the order taken). */
  holders(node: RxNode): HolderGroup[] {
    const groups = new Map<string, { holder: string; structural: boolean; external: boolean; entries: RefEntry[] }>();
    for (const h of this.holds(node)) {
      const g = groups.get(h.holder);
      if (g) g.entries.push(h.entry);
      else
        groups.set(h.holder, { holder: h.holder, structural: h.structural, external: h.external, entries: [h.entry] });
    }
    return [...groups.values()]
      .map((g) => ({ ...g, count: g.entries.length }))
      .sort(
        (a, b) => Number(b.structural) - Number(a.structural) || (a.entries[0]?.seq ?? 0) - (b.entries[0]?.seq ?? 0),
      );
  }

  /** One live object: its count and who holds its references. `label` is read by the caller (it may be freed). */
  report(node: AnyRxNode, label: string, count: number): LiveObjectReport {
    const holders = this.holders(node);
    const held = holders.reduce((n, g) => n + g.count, 0);
    return { label, kind: node.kind, count, holders, unexplained: Math.max(0, count - held) };
  }
}

/** Whether a structure's kind matches an RDBSS routine frame ("RxReference", "RxFinalizeNetRoot" …). */
function isRdbssRoutine(frame: string): boolean {
  return frame.startsWith("Rx") && !frame.includes(" ");
}

function isStructuralKey(key: string): boolean {
  return (
    key === STRUCTURAL_HOLDS.table ||
    key === STRUCTURAL_HOLDS.addConnection ||
    key === STRUCTURAL_HOLDS.scavengerMark ||
    key === STRUCTURAL_HOLDS.postedDestroy ||
    key.startsWith("child:")
  );
}

/** Virtual time as seconds. */
function seconds(ticks: number): string {
  return `${(ticks / 1e7).toFixed(6)} s`;
}

/** "thread app, steps[0] t.yaml:6, 0.000000 s" */
export function whereOf(e: Pick<RefEntry, "thread" | "step" | "time">): string {
  return `thread ${e.thread}${e.step ? `, ${e.step}` : ""}, ${seconds(e.time)}`;
}

/** An object's history, one line per change: "+1 → 2  RxReference ← MRxCreate [nulmrx]  (thread app, …)". */
export function formatHistory(entries: readonly RefEntry[], max = 40, dropped = 0): string[] {
  const shown = entries.length > max ? entries.slice(entries.length - max) : entries;
  const out: string[] = [];
  const skipped = entries.length - shown.length + dropped;
  if (skipped > 0) out.push(`… ${skipped} earlier change(s)`);
  for (const e of shown) {
    const d = e.delta > 0 ? `+${e.delta}` : `${e.delta}`;
    const what = e.delta > 0 ? e.holder : `${e.by} (drops: ${e.holder})`;
    out.push(`${d} → ${e.count}  ${e.delta > 0 && e.by !== e.holder ? `${e.by}: ${what}` : what}  (${whereOf(e)})`);
  }
  return out;
}

/** "2 × RxReference ← MRxCreate [nulmrx] (first: thread app, steps[1] t.yaml:9, 0.000100 s)" */
export function formatHolder(g: HolderGroup): string {
  const first = g.entries[0];
  const last = g.entries[g.entries.length - 1];
  const when = first
    ? g.count > 1 && last && last !== first
      ? ` (first: ${whereOf(first)}; last: ${whereOf(last)})`
      : ` (${whereOf(first)})`
    : "";
  return `${g.count} × ${g.holder}${when}`;
}

/** A live object with its holders, as report lines. */
export function formatLiveObject(r: LiveObjectReport): string[] {
  const lines = [`${r.label}: count ${r.count}, held by:`];
  for (const g of r.holders) lines.push(`  ${formatHolder(g)}`);
  if (r.unexplained > 0) lines.push(`  ${r.unexplained} × (not in the ledger: taken while it was off)`);
  if (r.holders.length === 0 && r.unexplained === 0) lines.push("  (no reference recorded)");
  return lines;
}
