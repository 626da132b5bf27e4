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
 * Cost: off, one null test per reference change (RxNode.ledger is null). On, 10 bytes per change and 8 per
 * reference still held, no object per either (see the data layout below).
 */
import { formatTime, type Kernel } from "../kernel/index.js";
import { widen } from "./columns.js";
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

/**
 * The ledger's data layout. Nothing is kept as an object per change, per hold or per object: records, holds and books
 * are rows of typed columns in chunks, and every text (what changed the count, the holder, the matching key, the
 * thread and step) is an id into one string table. `RefEntry` / `RefHold` objects are built when a history, a holds
 * list or a report asks for them, with the same texts as ever.
 *
 * - A record (one change; its seq is its row + 1) is 10 bytes: holder (Int32), context (Uint16), count and flags
 *   (Int16), next (Uint16).
 *   - holder: a string id; a child's reference is `-1 - (child × 2 + tag) × SUFFIXES - suffix` (the child's book,
 *     tag 0, or — for a child with no book yet — its row in `childNodes`, tag 1; its label is read from the node,
 *     which keeps it for life; and the shared " — holder" suffix); a count reset keeps its delta here instead.
 *   - context: what a run of changes shares, interned: the (thread, step) pair, the site (an increment's call chain,
 *     a trie node that also knows its `by`; a decrement's `by`, a string id), C_* flags, and the hold's key (the
 *     holder's id, the child's serial, or the key itself). 0xFFFF: in `wideCtx`.
 *   - count × 4 + F_HELD / F_DROPPED; a count outside ±8191 is in `wideCount`.
 *   - next: the next record of the same object's history, as the distance to it (0: the last; 0xFFFF: in `wideNext`).
 *   - time: not a column. Records are appended in time order mostly at the same instant, so the time is kept once per
 *     run of records at one instant (the run's first row and its time) and found by a binary search.
 *   A chunk whose records were all dropped from the histories (and hold nothing open) is released.
 * - A hold (a reference still held): record, previous hold of the same object (8 bytes). Rows are reused. Its key
 *   and flags are in its record's context.
 *   - key: a string id, or `-1 - serial` for a child's reference ("child:N").
 * - A book (one object): first and last record, history length, latest hold; found by the object's serial (a Map
 *   for the rare object whose serial does not fit); the count of dropped entries, for the few long histories, aside.
 */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
/** Row ids are Int32: a run is limited to 2^31 - 1 changes (at ≈ 1 µs per change, over half an hour of them). */
const MAX_ROWS = 0x7fff_ffff;

/** Its hold is open. */
const F_HELD = 1;
/** Dropped from its object's history. */
const F_DROPPED = 2;
const CF_BITS = 2;
/** Counts in the Int16 column: ±COUNT_MAX; COUNT_WIDE marks one kept in `wideCount`. */
const COUNT_MAX = 8191;
const COUNT_WIDE = -8192;
/** A reset's delta that does not fit an Int32 is kept aside, this marks it. */
const WIDE = -0x8000_0000;
/** A Uint16 column's escape: the value is in a Map by row. */
const U16_WIDE = 0xffff;

/** Context flags. An increment (delta > 0): the site is a call chain. */
const C_UP = 1;
/** A count reset after an underflow: the holder column holds the delta. */
const C_RESET = 2;
/** The hold it opened is structural / external. */
const C_STRUCTURAL = 4;
const C_EXTERNAL = 8;

/** A context's hash (its four columns are 32-bit integers): multiplicative mixing, then a finalizer. */
function ctxHash(where: number, site: number, flags: number, key: number): number {
  let h =
    Math.imul(where, 0x9e3779b1) ^
    Math.imul(site, 0x85ebca77) ^
    Math.imul(flags + 1, 0xc2b2ae3d) ^
    Math.imul(key, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
/** A context's hold key: the record's holder id / the serial of the child in the holder; any other value is the key. */
const KEY_HOLDER = -0x7fff_fff0;
const KEY_CHILD = -0x7fff_fff1;

const HOLD_STRIDE = 2;
const H_REC = 0;
const H_PREV = 1;
/** Keys (string ids and child serials) stay below this. */
const MAX_KEY = 0x1fff_ffff;

const BOOK_STRIDE = 4;
const B_HEAD = 0;
const B_TAIL = 1;
const B_LEN = 2;
const B_HOLDS = 3;
/** A book is found by its object's serial (RDBSS numbers its structures 1, 2, 3 …) while serials stay this dense. */
const SERIAL_SLACK = 4096;

/** A child's holder is (child × 2 + tag) × SUFFIXES + suffix (suffixes are the few holder names of child references). */
const SUFFIXES = 64;

/** A history keeps its first HISTORY_HEAD entries and, past HISTORY_MAX, drops the oldest of the rest in blocks. */
const HISTORY_HEAD = 16;
const HISTORY_MAX = 512;
const HISTORY_DROP = 256;

/** The first chunk starts small (a ledger per emulator, most runs are short) and doubles up to CHUNK rows. */
const FIRST_ROWS = 64;

/** The rows a chunk for row `id` needs: CHUNK, or (the first chunk) twice what it had. */
function chunkRows(id: number, had: number): number {
  return id < CHUNK ? Math.min(CHUNK, Math.max(FIRST_ROWS, had * 2)) : CHUNK;
}

/** Make room for row `id` in `chunks` (rows of `stride` Int32s): a new chunk, or the last one grown. */
function grow(chunks: (Int32Array | null)[], id: number, stride: number): void {
  const i = id & CHUNK_MASK;
  const c = id >>> CHUNK_BITS;
  if (i === 0) {
    chunks.push(new Int32Array(chunkRows(id, 0) * stride));
    return;
  }
  const a = chunks[c] as Int32Array;
  if (i * stride < a.length) return;
  chunks[c] = widen(a, chunkRows(id, a.length / stride), stride, (n) => new Int32Array(n));
}

/** Rows of `stride` Int32 columns in chunks of CHUNK rows (no slack beyond the last chunk). */
class Rows {
  readonly stride: number;
  readonly chunks: (Int32Array | null)[] = [];
  size = 0;
  constructor(stride: number) {
    this.stride = stride;
  }
  add(): number {
    const id = this.size;
    if (id >= MAX_ROWS) throw new Error("reference ledger: more than 2^31 - 1 rows in one run (turn check ledger off)");
    grow(this.chunks, id, this.stride);
    this.size = id + 1;
    return id;
  }
  get(id: number, field: number): number {
    return (this.chunks[id >>> CHUNK_BITS] as Int32Array)[(id & CHUNK_MASK) * this.stride + field] as number;
  }
  set(id: number, field: number, v: number): void {
    (this.chunks[id >>> CHUNK_BITS] as Int32Array)[(id & CHUNK_MASK) * this.stride + field] = v;
  }
}

/** CHUNK records' columns. */
interface RecChunk {
  holder: Int32Array;
  ctx: Uint16Array;
  cf: Int16Array;
  next: Uint16Array;
  /** Records nothing refers to any more. */
  dead: number;
}

interface ChainNode {
  readonly id: number;
  readonly chain: readonly string[];
  next: Map<string, ChainNode> | null;
  /** The `by` of a change made with this call chain (a string id; -1 until first needed). */
  by: number;
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

const CHILD_PREFIX = "child:";

/** The matching key of a child's reference on its parent. */
export function childKey(child: RxNode): string {
  return `${CHILD_PREFIX}${child.serial}`;
}

/** The serial of a key that reads exactly as `childKey` writes it ("child:7"), or -1. */
function childSerialOf(key: string): number {
  if (!key.startsWith(CHILD_PREFIX)) return -1;
  const digits = key.slice(CHILD_PREFIX.length);
  const n = Number(digits);
  return Number.isInteger(n) && n >= 0 && n < MAX_KEY && String(n) === digits ? n : -1;
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
const EXTERNAL_KEY = "external";
const RESET_HOLDER = "(count reset after an underflow)";
const NO_HOLD_HOLDER = "(no reference to drop: the count went below what was taken)";
const NO_CHAIN_BY = "(no call chain)";

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
 * The same text as one flat string. A child's display name is cut from its label, a rope of small pieces: kept as a
 * slice it would keep the whole rope alive; flat, it costs what its characters do.
 */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** Routines through which a mini-redirector (or a test thread) takes and drops references. */
const EXTERNAL_TAKE = new Set(["RxReference", "RxpReferenceNetFcb"]);
const EXTERNAL_DROP = new Set(["RxDereference", "RxpDereferenceNetFcb"]);

/** What `closeOne` looks for, in its order. */
const PICK_KEYS = 0;
const PICK_EXTERNAL = 1;
const PICK_PLAIN = 2;
const PICK_NOT_TABLE = 3;
const PICK_ANY = 4;
/** After the named keys and (for a mini-redirector's drop) its own references. */
const PICK_ORDER = [PICK_PLAIN, PICK_EXTERNAL, PICK_NOT_TABLE, PICK_ANY] as const;

/** No take or drop pending. */
const PENDING_NONE = 0;
const PENDING_TAKE = 1;
const PENDING_DROP = 2;

export class RefLedger implements RefRecorder {
  private readonly k: Kernel;
  /** The object of each book, in the order first recorded. */
  private readonly bookNodes: RxNode[] = [];
  /** Book id + 1 by the object's serial (0: none); objects whose serial does not fit or is taken are in `others`. */
  private bySerial = new Int32Array(64);
  private readonly others = new Map<RxNode, number>();
  /** Entries dropped from long histories, by book. */
  private readonly droppedBy = new Map<number, number>();
  private readonly bookRows = new Rows(BOOK_STRIDE);
  private readonly holdRows = new Rows(HOLD_STRIDE);
  /** Free hold rows, linked through H_PREV. */
  private freeHold = -1;
  /** Children named by a reference before they had a book of their own (see the holder column). */
  private readonly childNodes: RxNode[] = [];

  // Records, in chunks (see the layout above).
  private recs = 0;
  private readonly recChunks: (RecChunk | null)[] = [];
  /** Counts, reset deltas, contexts and next rows that do not fit their columns, by record. */
  private readonly wideCount = new Map<number, number>();
  private readonly wideHolder = new Map<number, number>();
  private readonly wideCtx = new Map<number, number>();
  private readonly wideNext = new Map<number, number>();
  /** Runs of records at one time: each run's first row and its time, in chunks. */
  private runs = 0;
  private readonly runRows: Int32Array[] = [];
  private readonly runTimes: Float64Array[] = [];
  private lastTime = Number.NaN;

  /** Contexts, by id: (thread, step) pair, site, C_* flags, hold key; interned by pair, site × 16 + flags, key. */
  private readonly ctxWhere: number[] = [];
  private readonly ctxSite: number[] = [];
  private readonly ctxFlags: number[] = [];
  private readonly ctxKey: number[] = [];
  /**
   * The contexts' ids by their four columns: an open-addressing hash table (linear probing, at most half full) whose
   * slots hold id + 1, 0 when free; a slot matches when the columns of its id are the ones looked for. (Three levels
   * of nested Maps did this first: ≈ 10 KB of Maps per lifecycle scenario, most contexts being new in a fresh run.)
   */
  private ctxTable = new Int32Array(64);
  private lastCtx = -1;
  private lastCtxWhere = -1;
  private lastCtxSite = -1;
  private lastCtxFlags = -1;
  private lastCtxKey = 0;

  /** Every text, by id; the interned ones are in `ids`. */
  private readonly strs: string[] = [];
  private readonly ids = new Map<string, number>();
  /** " — holder" suffixes of child references. */
  private readonly suffixes: string[] = [];
  private readonly suffixIds = new Map<string, number>();
  /** (thread, step) pairs: string ids (-1: no step). */
  private readonly whereThread: number[] = [];
  private readonly whereStep: number[] = [];
  private readonly wheres = new Map<string, Map<string | null, number>>();
  private lastThread: string | null = null;
  private lastStep: string | null = null;
  private lastWhere = -1;

  /** Call chains, interned: a trie over frames, each node holding its chain (shared, never mutated). */
  private readonly chains: ChainNode;
  private readonly chainNodes: ChainNode[] = [];
  /** `by` ids ("RxReference ← MRxCreate [nulmrx]"), by top frame then caller. */
  private readonly bys = new Map<string, Map<string, number>>();
  /** Hold keys and holders of the creation references, by kind (ids). */
  private readonly creation = new Map<string, readonly { key: number; holder: number; structural: boolean }[]>();

  private readonly tableKey: number;
  private readonly externalKey: number;
  private readonly noHoldHolder: number;
  private readonly noChainBy: number;

  // The next change of `pendingNode` opens (take) or closes (drop) a named hold.
  private pendingNode: RxNode | null = null;
  private pendingKind = PENDING_NONE;
  private pendingKey = 0;
  private pendingHolder = "";
  private pendingChild: RxNode | null = null;
  private pendingStructural = false;
  private pendingDrop: readonly number[] = [];

  constructor(k: Kernel) {
    this.k = k;
    this.tableKey = this.intern(STRUCTURAL_HOLDS.table);
    this.externalKey = this.keyOf(EXTERNAL_KEY);
    this.noHoldHolder = this.intern(NO_HOLD_HOLDER);
    this.noChainBy = this.intern(NO_CHAIN_BY);
    this.chains = this.chainNode(NO_FRAMES);
    this.chains.by = this.noChainBy;
  }

  /** The next increment of `node` opens a hold named `holder` (a child's reference when `child` is given). */
  take(node: RxNode, holder: string, child?: RxNode): void {
    this.pendingNode = node;
    this.pendingKind = PENDING_TAKE;
    this.pendingHolder = holder;
    if (child) {
      const serial = child.serial;
      this.pendingKey =
        Number.isInteger(serial) && serial >= 0 && serial < MAX_KEY ? -1 - serial : this.keyOf(childKey(child));
      this.pendingStructural = true;
      // Its label is read from the node when a holder is shown (after its free, from what the free recorded).
      this.pendingChild = child;
    } else {
      this.pendingKey = this.keyOf(holder);
      this.pendingStructural = isStructuralKey(holder);
      this.pendingChild = null;
    }
  }

  /** The next decrement of `node` closes the hold with one of these keys (the latest), if there is one. */
  drop(node: RxNode, ...keys: string[]): void {
    const ids: number[] = [];
    for (const key of keys) {
      const serial = childSerialOf(key);
      const id = serial >= 0 ? -1 - serial : this.ids.get(key);
      if (id !== undefined) ids.push(id);
    }
    this.pendingNode = node;
    this.pendingKind = PENDING_DROP;
    this.pendingDrop = ids;
  }

  /** RxNode's NodeReferenceCount setter: one change. */
  record(node: RxNode, from: number, to: number): void {
    const t = this.k.current;
    const frames = t ? t.frames : NO_FRAMES;
    let pending = PENDING_NONE;
    if (this.pendingNode === node) {
      pending = this.pendingKind;
      this.pendingNode = null;
      this.pendingKind = PENDING_NONE;
    }
    const top = frames.length > 0 ? (frames[frames.length - 1] as string) : null;
    const caller = frames.length > 1 ? (frames[frames.length - 2] as string) : null;
    const by =
      top === null
        ? this.noChainBy
        : caller !== null && isRdbssRoutine(top)
          ? this.byOf(top, caller)
          : this.intern(top);
    // A reference a mini-redirector (an MRx frame below the routine) or a test thread (nothing below) takes or drops.
    const outside = top !== null && (caller === null || caller.endsWith("]"));
    const book = this.bookOf(node);
    const thread = t ? t.name : "(no thread)";
    const where = this.whereOf(thread, t?.stepLabel ?? this.k.stepLabel);
    const time = this.k.now;
    const books = this.bookRows;
    if (books.get(book, B_LEN) >= HISTORY_MAX) this.dropHistory(book);
    // The call chain is kept for increments (the references that may be held for long); a decrement has `by`.
    const site = to > from ? this.chainOf(frames, by) : by;
    if (from < 0) {
      // RDBSS putting the count back to 0 after an underflow it reported: no reference is taken.
      const ctx = this.ctxOf(where, site, C_RESET | (to > from ? C_UP : 0), KEY_HOLDER);
      const r = this.addRecord(book, to, 0, ctx, time, 0);
      this.setResetDelta(r, to - from);
      return;
    }
    if (to > from) {
      const creation = from === 0 && books.get(book, B_LEN) === 0 && pending !== PENDING_TAKE;
      const ext = !creation && top !== null && outside && EXTERNAL_TAKE.has(top);
      const kinds = creation ? this.creationOf((node as AnyRxNode).kind) : null;
      for (let i = 0; i < to - from; i++) {
        let key: number;
        let holder: number;
        let flags = C_UP;
        if (kinds !== null) {
          const h = kinds[Math.min(i, kinds.length - 1)] as { key: number; holder: number; structural: boolean };
          key = h.key;
          holder = h.holder;
          if (h.structural) flags |= C_STRUCTURAL;
        } else if (pending === PENDING_TAKE && i === 0 && !ext) {
          key = this.pendingKey;
          holder = this.pendingHolderId();
          if (this.pendingStructural) flags |= C_STRUCTURAL;
        } else {
          key = ext ? this.externalKey : this.keyOfBy(by);
          holder = ext && caller === null ? this.intern(`${top} (thread ${thread})`) : by;
        }
        if (ext) flags |= C_EXTERNAL;
        const spec = key === holder ? KEY_HOLDER : holder < 0 && this.childKeyOf(holder) === key ? KEY_CHILD : key;
        const r = this.addRecord(book, from + i + 1, holder, this.ctxOf(where, site, flags, spec), time, F_HELD);
        this.openHold(book, r);
      }
      return;
    }
    const ext = top !== null && outside && EXTERNAL_DROP.has(top);
    const ctx = this.ctxOf(where, site, 0, KEY_HOLDER);
    for (let i = 0; i < from - to; i++) {
      const h = this.closeOne(book, i === 0 && pending === PENDING_DROP ? this.pendingDrop : null, ext);
      this.addRecord(book, from - i - 1, h >= 0 ? this.holderAt(h) : this.noHoldHolder, ctx, time, 0);
      if (h >= 0) this.unhold(h);
    }
  }

  // ------------------------------------------------------------------ texts

  private intern(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  private push(s: string): number {
    const id = this.strs.length;
    if (id >= MAX_KEY) throw new Error("reference ledger: more than 2^29 - 1 texts in one run (turn check ledger off)");
    this.strs.push(s);
    return id;
  }

  /** A hold's matching key: a child's ("child:N") as `-1 - N`, any other as its string id. */
  private keyOf(key: string): number {
    const serial = childSerialOf(key);
    return serial >= 0 ? -1 - serial : this.intern(key);
  }

  /** The key of an unnamed increment: its `by` (a string id already). */
  private keyOfBy(by: number): number {
    const s = this.strs[by] as string;
    return s.startsWith(CHILD_PREFIX) ? this.keyOf(s) : by;
  }

  private keyText(key: number): string {
    return key < 0 ? `${CHILD_PREFIX}${-1 - key}` : (this.strs[key] as string);
  }

  /** The pending take's holder as an id: a child with the holder's suffix, or the holder. */
  private pendingHolderId(): number {
    const child = this.pendingChild;
    const holder = this.pendingHolder;
    if (child === null) return this.intern(holder);
    let suffix = this.suffixIds.get(holder);
    if (suffix === undefined) {
      // More holder names for child references than a composite id has room for: the text as one string.
      if (this.suffixes.length >= SUFFIXES) return this.push(flat(`${child.label()} — ${holder}`));
      suffix = this.suffixes.length;
      this.suffixes.push(` — ${holder}`);
      this.suffixIds.set(holder, suffix);
    }
    let x = this.find(child) * 2;
    if (x < 0) {
      x = this.childNodes.length * 2 + 1;
      if (x < MAX_ROWS / SUFFIXES) this.childNodes.push(child);
    }
    const composite = x * SUFFIXES + suffix;
    if (composite >= MAX_ROWS - 1) return this.push(flat(child.label() + (this.suffixes[suffix] as string)));
    return -1 - composite;
  }

  /** The child a composite holder names. */
  private childOf(holder: number): RxNode {
    const x = Math.floor((-1 - holder) / SUFFIXES);
    return (x & 1 ? this.childNodes[x >>> 1] : this.bookNodes[x >>> 1]) as RxNode;
  }

  /** The key of the child a composite holder names ("child:N" as `-1 - N`; KEY_CHILD when its serial is not one). */
  private childKeyOf(holder: number): number {
    const serial = this.childOf(holder).serial;
    return Number.isInteger(serial) && serial >= 0 && serial < MAX_KEY ? -1 - serial : KEY_CHILD;
  }

  private holderText(holder: number): string {
    if (holder >= 0) return this.strs[holder] as string;
    return this.childOf(holder).label() + (this.suffixes[(-1 - holder) % SUFFIXES] as string);
  }

  /** The (thread, step) pair's id. */
  private whereOf(thread: string, step: string | null): number {
    if (this.lastWhere >= 0 && thread === this.lastThread && step === this.lastStep) return this.lastWhere;
    let m = this.wheres.get(thread);
    if (m === undefined) {
      m = new Map();
      this.wheres.set(thread, m);
    }
    let id = m.get(step);
    if (id === undefined) {
      id = this.whereThread.length;
      if (id >= MAX_ROWS) throw new Error("reference ledger: too many (thread, step) pairs");
      this.whereThread.push(this.intern(thread));
      this.whereStep.push(step === null ? -1 : this.intern(step));
      m.set(step, id);
    }
    this.lastThread = thread;
    this.lastStep = step;
    this.lastWhere = id;
    return id;
  }

  /** The context's id. */
  private ctxOf(where: number, site: number, flags: number, key: number): number {
    if (
      where === this.lastCtxWhere &&
      site === this.lastCtxSite &&
      flags === this.lastCtxFlags &&
      key === this.lastCtxKey
    )
      return this.lastCtx;
    const table = this.ctxTable;
    const mask = table.length - 1;
    let slot = ctxHash(where, site, flags, key) & mask;
    let id = -1;
    for (let e = table[slot] as number; e !== 0; e = table[slot] as number) {
      const c = e - 1;
      if (
        this.ctxWhere[c] === where &&
        this.ctxSite[c] === site &&
        this.ctxFlags[c] === flags &&
        this.ctxKey[c] === key
      ) {
        id = c;
        break;
      }
      slot = (slot + 1) & mask;
    }
    if (id < 0) {
      id = this.ctxWhere.length;
      if (id >= MAX_ROWS) throw new Error("reference ledger: too many contexts");
      this.ctxWhere.push(where);
      this.ctxSite.push(site);
      this.ctxFlags.push(flags);
      this.ctxKey.push(key);
      table[slot] = id + 1;
      if ((id + 1) * 2 > mask) this.growCtxTable();
    }
    this.lastCtxWhere = where;
    this.lastCtxSite = site;
    this.lastCtxFlags = flags;
    this.lastCtxKey = key;
    this.lastCtx = id;
    return id;
  }

  /** The context table at twice its size, every id rehashed. */
  private growCtxTable(): void {
    const table = new Int32Array(this.ctxTable.length * 2);
    const mask = table.length - 1;
    for (let c = 0; c < this.ctxWhere.length; c++) {
      let slot =
        ctxHash(
          this.ctxWhere[c] as number,
          this.ctxSite[c] as number,
          this.ctxFlags[c] as number,
          this.ctxKey[c] as number,
        ) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = c + 1;
    }
    this.ctxTable = table;
  }

  /** `${top} ← ${caller}`, one id per pair. */
  private byOf(top: string, caller: string): number {
    let m = this.bys.get(top);
    if (m === undefined) {
      m = new Map();
      this.bys.set(top, m);
    }
    let id = m.get(caller);
    if (id === undefined) {
      id = this.intern(`${top} ← ${caller}`);
      m.set(caller, id);
    }
    return id;
  }

  private chainNode(chain: readonly string[]): ChainNode {
    const n: ChainNode = { id: this.chainNodes.length, chain, next: null, by: -1 };
    this.chainNodes.push(n);
    return n;
  }

  /** The trie node of `frames` (its chain is a copy shared with every earlier record of the same call chain). */
  private chainOf(frames: readonly string[], by: number): number {
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
        child = this.chainNode(frames.slice(0, i + 1));
        next.set(f, child);
      }
      node = child;
    }
    if (node.by < 0) node.by = by;
    return node.id;
  }

  private creationOf(kind: AnyRxNode["kind"]): readonly { key: number; holder: number; structural: boolean }[] {
    let c = this.creation.get(kind);
    if (c === undefined) {
      c = CREATION_HOLDS[kind].map((h) => ({
        key: this.keyOf(h.key),
        holder: this.intern(h.holder),
        structural: isStructuralKey(h.key),
      }));
      this.creation.set(kind, c);
    }
    return c;
  }

  // ------------------------------------------------------------------ records

  private chunk(r: number): RecChunk {
    return this.recChunks[r >>> CHUNK_BITS] as RecChunk;
  }

  /** The holder column (not a reset's delta). */
  private holderAt(r: number): number {
    return this.chunk(r).holder[r & CHUNK_MASK] as number;
  }

  private setResetDelta(r: number, v: number): void {
    const a = this.chunk(r).holder;
    if ((v | 0) === v && v !== WIDE) a[r & CHUNK_MASK] = v;
    else {
      a[r & CHUNK_MASK] = WIDE;
      this.wideHolder.set(r, v);
    }
  }

  private resetDelta(r: number): number {
    const v = this.holderAt(r);
    return v === WIDE ? (this.wideHolder.get(r) as number) : v;
  }

  private ctxAt(r: number): number {
    const v = this.chunk(r).ctx[r & CHUNK_MASK] as number;
    return v === U16_WIDE ? (this.wideCtx.get(r) as number) : v;
  }

  private countAt(r: number): number {
    const v = (this.chunk(r).cf[r & CHUNK_MASK] as number) >> CF_BITS;
    return v === COUNT_WIDE ? (this.wideCount.get(r) as number) : v;
  }

  /** The next record of the same history, or -1. */
  private nextOf(r: number): number {
    const d = this.chunk(r).next[r & CHUNK_MASK] as number;
    return d === 0 ? -1 : d === U16_WIDE ? (this.wideNext.get(r) as number) : r + d;
  }

  private setNext(r: number, next: number): void {
    const a = this.chunk(r).next;
    const i = r & CHUNK_MASK;
    if (a[i] === U16_WIDE) this.wideNext.delete(r);
    const d = next < 0 ? 0 : next - r;
    if (d < U16_WIDE) a[i] = d;
    else {
      a[i] = U16_WIDE;
      this.wideNext.set(r, next);
    }
  }

  /** Room for record `r`: a new chunk, or the first one grown. */
  private growRecs(r: number): RecChunk {
    const c = r >>> CHUNK_BITS;
    const i = r & CHUNK_MASK;
    if (i === 0) {
      const n = chunkRows(r, 0);
      const ch: RecChunk = {
        holder: new Int32Array(n),
        ctx: new Uint16Array(n),
        cf: new Int16Array(n),
        next: new Uint16Array(n),
        dead: 0,
      };
      this.recChunks.push(ch);
      return ch;
    }
    const ch = this.recChunks[c] as RecChunk;
    if (i < ch.holder.length) return ch;
    const n = chunkRows(r, ch.holder.length);
    ch.holder = widen(ch.holder, n, 1, (m) => new Int32Array(m));
    ch.ctx = widen(ch.ctx, n, 1, (m) => new Uint16Array(m));
    ch.cf = widen(ch.cf, n, 1, (m) => new Int16Array(m));
    ch.next = widen(ch.next, n, 1, (m) => new Uint16Array(m));
    return ch;
  }

  /** A new run of records at `time`, from row `r`. */
  private addRun(r: number, time: number): void {
    const n = this.runs;
    const c = n >>> CHUNK_BITS;
    const i = n & CHUNK_MASK;
    if (i === 0) {
      const rows = chunkRows(n, 0);
      this.runRows.push(new Int32Array(rows));
      this.runTimes.push(new Float64Array(rows));
    } else if (i >= (this.runRows[c] as Int32Array).length) {
      const rows = chunkRows(n, i);
      this.runRows[c] = widen(this.runRows[c] as Int32Array, rows, 1, (m) => new Int32Array(m));
      this.runTimes[c] = widen(this.runTimes[c] as Float64Array, rows, 1, (m) => new Float64Array(m));
    }
    (this.runRows[c] as Int32Array)[i] = r;
    (this.runTimes[c] as Float64Array)[i] = time;
    this.runs = n + 1;
    this.lastTime = time;
  }

  /** A new record at the end of `book`'s history. */
  private addRecord(book: number, count: number, holder: number, ctx: number, time: number, flags: number): number {
    const r = this.recs;
    if (r >= MAX_ROWS)
      throw new Error("reference ledger: more than 2^31 - 1 changes in one run (turn check ledger off)");
    const ch = this.growRecs(r);
    const i = r & CHUNK_MASK;
    this.recs = r + 1;
    ch.holder[i] = holder;
    if (ctx < U16_WIDE) ch.ctx[i] = ctx;
    else {
      ch.ctx[i] = U16_WIDE;
      this.wideCtx.set(r, ctx);
    }
    if (count >= -COUNT_MAX && count <= COUNT_MAX) ch.cf[i] = count * (1 << CF_BITS) + flags;
    else {
      ch.cf[i] = COUNT_WIDE * (1 << CF_BITS) + flags;
      this.wideCount.set(r, count);
    }
    if (time !== this.lastTime || this.runs === 0) this.addRun(r, time);
    const books = this.bookRows;
    const tail = books.get(book, B_TAIL);
    if (tail < 0) books.set(book, B_HEAD, r);
    else this.setNext(tail, r);
    books.set(book, B_TAIL, r);
    books.set(book, B_LEN, books.get(book, B_LEN) + 1);
    return r;
  }

  private timeOf(r: number): number {
    // The last run starting at or before r.
    let lo = 0;
    let hi = this.runs - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (((this.runRows[mid >>> CHUNK_BITS] as Int32Array)[mid & CHUNK_MASK] as number) <= r) lo = mid;
      else hi = mid - 1;
    }
    return (this.runTimes[lo >>> CHUNK_BITS] as Float64Array)[lo & CHUNK_MASK] as number;
  }

  /** A record nothing refers to any more (out of its history, its hold closed). */
  private dead(r: number): void {
    const c = r >>> CHUNK_BITS;
    const ch = this.recChunks[c] as RecChunk;
    ch.dead++;
    if (ch.dead === CHUNK) this.recChunks[c] = null;
  }

  /** Drop HISTORY_DROP records after the first HISTORY_HEAD of a long history. */
  private dropHistory(book: number): void {
    const books = this.bookRows;
    let keep = books.get(book, B_HEAD);
    for (let i = 1; i < HISTORY_HEAD; i++) keep = this.nextOf(keep);
    let r = this.nextOf(keep);
    for (let i = 0; i < HISTORY_DROP; i++) {
      const next = this.nextOf(r);
      const cf = this.chunk(r).cf;
      const j = r & CHUNK_MASK;
      if ((cf[j] as number) & F_HELD) cf[j] = (cf[j] as number) | F_DROPPED;
      else this.dead(r);
      this.wideNext.delete(r);
      r = next;
    }
    this.setNext(keep, r);
    books.set(book, B_LEN, books.get(book, B_LEN) - HISTORY_DROP);
    this.droppedBy.set(book, (this.droppedBy.get(book) ?? 0) + HISTORY_DROP);
  }

  private entryOf(r: number): RefEntry {
    const ctx = this.ctxAt(r);
    const where = this.ctxWhere[ctx] as number;
    const flags = this.ctxFlags[ctx] as number;
    const site = this.ctxSite[ctx] as number;
    const up = (flags & C_UP) !== 0;
    const chain = up ? (this.chainNodes[site] as ChainNode) : null;
    const reset = (flags & C_RESET) !== 0;
    const step = this.whereStep[where] as number;
    return entry(
      r + 1,
      reset ? this.resetDelta(r) : up ? 1 : -1,
      this.countAt(r),
      this.strs[chain !== null ? chain.by : site] as string,
      reset ? RESET_HOLDER : this.holderText(this.holderAt(r)),
      this.strs[this.whereThread[where] as number] as string,
      this.timeOf(r),
      step < 0 ? null : (this.strs[step] as string),
      chain !== null ? chain.chain : NO_FRAMES,
    );
  }

  // ------------------------------------------------------------------ holds

  private openHold(book: number, r: number): void {
    const holds = this.holdRows;
    let h = this.freeHold;
    if (h >= 0) this.freeHold = holds.get(h, H_PREV);
    else h = holds.add();
    holds.set(h, H_REC, r);
    holds.set(h, H_PREV, this.bookRows.get(book, B_HOLDS));
    this.bookRows.set(book, B_HOLDS, h);
  }

  /** The matching key of the hold record `r` opened. */
  private holdKey(r: number, ctx: number): number {
    const key = this.ctxKey[ctx] as number;
    return key === KEY_HOLDER ? this.holderAt(r) : key === KEY_CHILD ? this.childKeyOf(this.holderAt(r)) : key;
  }

  /** The record of a closed hold is no longer held (and is dead if its history dropped it). */
  private unhold(r: number): void {
    const cf = this.chunk(r).cf;
    const i = r & CHUNK_MASK;
    const v = cf[i] as number;
    cf[i] = v & ~F_HELD;
    if (v & F_DROPPED) this.dead(r);
  }

  /** Choose the hold a decrement closes, and close it: its record, or -1. */
  private closeOne(book: number, keys: readonly number[] | null, external: boolean): number {
    if (keys !== null) {
      const r = this.pick(book, PICK_KEYS, keys);
      if (r >= 0) return r;
    }
    if (external) {
      const r = this.pick(book, PICK_EXTERNAL, null);
      if (r >= 0) return r;
    }
    for (const mode of PICK_ORDER) {
      const r = this.pick(book, mode, null);
      if (r >= 0) return r;
    }
    return -1;
  }

  /** Close the latest hold of `book` that matches `mode`: its record, or -1. */
  private pick(book: number, mode: number, keys: readonly number[] | null): number {
    const holds = this.holdRows;
    let newer = -1;
    for (let h = this.bookRows.get(book, B_HOLDS); h >= 0; h = holds.get(h, H_PREV)) {
      const r = holds.get(h, H_REC);
      let match = true;
      if (mode !== PICK_ANY) {
        const ctx = this.ctxAt(r);
        const flags = this.ctxFlags[ctx] as number;
        match =
          mode === PICK_KEYS
            ? (keys as readonly number[]).includes(this.holdKey(r, ctx))
            : mode === PICK_EXTERNAL
              ? (flags & C_EXTERNAL) !== 0
              : mode === PICK_PLAIN
                ? (flags & (C_STRUCTURAL | C_EXTERNAL)) === 0
                : this.holdKey(r, ctx) !== this.tableKey;
      }
      if (!match) {
        newer = h;
        continue;
      }
      const prev = holds.get(h, H_PREV);
      if (newer < 0) this.bookRows.set(book, B_HOLDS, prev);
      else holds.set(newer, H_PREV, prev);
      holds.set(h, H_PREV, this.freeHold);
      this.freeHold = h;
      return r;
    }
    return -1;
  }

  /** The book of `node`, or -1. */
  private find(node: RxNode): number {
    const s = node.serial;
    if (s >= 0 && s < this.bySerial.length) {
      const b = (this.bySerial[s] as number) - 1;
      if (b >= 0 && this.bookNodes[b] === node) return b;
    }
    return this.others.size === 0 ? -1 : (this.others.get(node) ?? -1);
  }

  private bookOf(node: RxNode): number {
    let b = this.find(node);
    if (b >= 0) return b;
    b = this.bookRows.add();
    const books = this.bookRows;
    books.set(b, B_HEAD, -1);
    books.set(b, B_TAIL, -1);
    books.set(b, B_LEN, 0);
    books.set(b, B_HOLDS, -1);
    this.bookNodes.push(node);
    const s = node.serial;
    if (Number.isInteger(s) && s >= 0 && s < this.bookNodes.length * 4 + SERIAL_SLACK) {
      let a = this.bySerial;
      if (s >= a.length) {
        const bigger = new Int32Array(Math.max(s + 1, a.length * 2));
        bigger.set(a);
        a = bigger;
        this.bySerial = a;
      }
      if (a[s] === 0) {
        a[s] = b + 1;
        return b;
      }
    }
    this.others.set(node, b);
    return b;
  }

  // ------------------------------------------------------------------ reading

  /** Every structure the ledger has a record of, in the order of its first change. */
  objects(): RxNode[] {
    return this.bookNodes.slice();
  }

  /** The recorded changes of one object, oldest first (a long history loses entries after its first 16). */
  history(node: RxNode): readonly RefEntry[] {
    const b = this.find(node);
    const out: RefEntry[] = [];
    if (b < 0) return out;
    for (let r = this.bookRows.get(b, B_HEAD); r >= 0; r = this.nextOf(r)) out.push(this.entryOf(r));
    return out;
  }

  /** How many entries of a long history were dropped (after its first 16). */
  dropped(node: RxNode): number {
    const b = this.find(node);
    return b < 0 ? 0 : (this.droppedBy.get(b) ?? 0);
  }

  /** The references still held on one object, in the order taken. */
  holds(node: RxNode): readonly RefHold[] {
    const b = this.find(node);
    const out: RefHold[] = [];
    if (b < 0) return out;
    const holds = this.holdRows;
    for (let h = this.bookRows.get(b, B_HOLDS); h >= 0; h = holds.get(h, H_PREV)) {
      const r = holds.get(h, H_REC);
      const ctx = this.ctxAt(r);
      const flags = this.ctxFlags[ctx] as number;
      const e = this.entryOf(r);
      out.push({
        key: this.keyText(this.holdKey(r, ctx)),
        holder: e.holder,
        entry: e,
        structural: (flags & C_STRUCTURAL) !== 0,
        external: (flags & C_EXTERNAL) !== 0,
      });
    }
    return out.reverse();
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

/** "thread app, steps[0] t.yaml:6, 0.000000 s" */
export function whereOf(e: Pick<RefEntry, "thread" | "step" | "time">): string {
  return `thread ${e.thread}${e.step ? `, ${e.step}` : ""}, ${formatTime(e.time)}`;
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
