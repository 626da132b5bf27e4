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
 * Cost: off, one null test per reference change (RxNode.ledger is null). On, 24 bytes per change and 12 per
 * reference still held, no object per either (see the data layout below).
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

/**
 * The ledger's data layout. Nothing is kept as an object per change, per hold or per object: records, holds and books
 * are rows of Int32 columns in chunks, and every text (what changed the count, the holder, the matching
 * key, the thread and step) is an id into one string table. `RefEntry` / `RefHold` objects are built when a history,
 * a holds list or a report asks for them, with the same texts as ever.
 *
 * - A record (one change; its seq is its row + 1): count, holder, where|flags, site, next, time.
 *   - holder: a string id; a child's reference is `-1 - (label * SUFFIXES + suffix)` (a row of the child's label at
 *     the time, and the shared " — holder" suffix); a count reset keeps its delta here instead.
 *   - where|flags: the (thread, step) pair's id × 16 + F_* flags.
 *   - site: an increment's call chain (a trie node, which also knows its `by`); a decrement's `by` (a string id).
 *   - next: the next record of the same object's history (-1: the last).
 *   - time: virtual time minus the chunk's first record's time (chunks whose times do not fit keep a Float64 column).
 *   A chunk whose records were all dropped from the histories (and hold nothing open) is released.
 * - A hold (a reference still held): record, key × 4 + flags, previous hold of the same object. Rows are reused.
 *   - key: a string id, or `-1 - serial` for a child's reference ("child:N").
 * - A book (one object): first and last record, history length, latest hold; found by the object's serial (a Map
 *   for the rare object whose serial does not fit); the count of dropped entries, for the few long histories, aside.
 */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
/** Row ids are Int32: a run is limited to 2^31 - 1 changes (at ≈ 1 µs per change, over half an hour of them). */
const MAX_ROWS = 0x7fff_ffff;

const REC_STRIDE = 6;
const R_COUNT = 0;
const R_HOLDER = 1;
const R_WHERE = 2;
const R_SITE = 3;
const R_NEXT = 4;
const R_TIME = 5;
/** An increment (delta > 0): the site is a call chain. */
const F_UP = 1;
/** A count reset after an underflow: the holder column holds the delta. */
const F_RESET = 2;
/** Its hold is open. */
const F_HELD = 4;
/** Dropped from its object's history. */
const F_DROPPED = 8;
const FLAG_BITS = 4;
const FLAG_MASK = (1 << FLAG_BITS) - 1;
/** A count (or a reset's delta) that does not fit an Int32 is kept aside, this marks it. */
const WIDE = -0x8000_0000;

const HOLD_STRIDE = 3;
const H_REC = 0;
/** key × 4 + HF_* flags. */
const H_KEY = 1;
const H_PREV = 2;
const HF_STRUCTURAL = 1;
const HF_EXTERNAL = 2;
const HF_BITS = 2;
const HF_MASK = (1 << HF_BITS) - 1;
/** Keys (string ids and child serials) stay below this, so that key × 4 fits an Int32. */
const MAX_KEY = 0x1fff_ffff;

const LABEL_STRIDE = 3;
const L_KIND = 0;
const L_SERIAL = 1;
const L_NAME = 2;

const BOOK_STRIDE = 4;
const B_HEAD = 0;
const B_TAIL = 1;
const B_LEN = 2;
const B_HOLDS = 3;
/** A book is found by its object's serial (RDBSS numbers its structures 1, 2, 3 …) while serials stay this dense. */
const SERIAL_SLACK = 4096;

/** A child's holder is label × SUFFIXES + suffix (suffixes are the few holder names of child references). */
const SUFFIXES = 64;

/** A history keeps its first HISTORY_HEAD entries and, past HISTORY_MAX, drops the oldest of the rest in blocks. */
const HISTORY_HEAD = 16;
const HISTORY_MAX = 512;
const HISTORY_DROP = 256;

/** The first chunk starts small (a ledger per emulator, most runs are short) and doubles up to CHUNK rows. */
const FIRST_ROWS = 64;

/** Make room for row `id` in `chunks` (rows of `stride` Int32s): a new chunk, or the last one grown. */
function grow(chunks: (Int32Array | null)[], id: number, stride: number): void {
  const i = id & CHUNK_MASK;
  if (i === 0) {
    chunks.push(new Int32Array((id === 0 ? FIRST_ROWS : CHUNK) * stride));
    return;
  }
  const c = id >>> CHUNK_BITS;
  const a = chunks[c] as Int32Array;
  if (i * stride < a.length) return;
  const b = new Int32Array(Math.min(CHUNK, (a.length / stride) * 2) * stride);
  b.set(a);
  chunks[c] = b;
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

  // Records, in chunks (see the layout above).
  private recCount = 0;
  private readonly recChunks: (Int32Array | null)[] = [];
  /** Per chunk: the time its columns are relative to, its Float64 time column when they do not fit, its dead rows. */
  private readonly recBase: number[] = [];
  private readonly recTime64: (Float64Array | null)[] = [];
  private readonly recDead: number[] = [];
  /** Counts and reset deltas that do not fit an Int32, by record. */
  private readonly wide = new Map<number, number>();

  /** Every text, by id; the interned ones are in `ids` (a child's display name is not). */
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
  /**
   * Child labels ("FCB#7 \\srv\\share\\f"): kind (a string id), serial, display name (a string id); a label not in that
   * form is kept whole (kind -1). The FCB, SRV_OPEN and FOBX of one open share their display name, and a SRV_OPEN
   * names itself twice (on the V_NET_ROOT and on the FCB): the last label and the last name are reused.
   */
  private readonly labelRows = new Rows(LABEL_STRIDE);
  private lastLabel = -1;
  private lastName = -1;

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
  private pendingLabel: string | null = null;
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
      this.pendingLabel = child.label();
    } else {
      this.pendingKey = this.keyOf(holder);
      this.pendingStructural = isStructuralKey(holder);
      this.pendingLabel = null;
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
    const where = this.whereOf(thread, t?.stepLabel ?? this.k.stepLabel) << FLAG_BITS;
    const time = this.k.now;
    const books = this.bookRows;
    if (books.get(book, B_LEN) >= HISTORY_MAX) this.dropHistory(book);
    // The call chain is kept for increments (the references that may be held for long); a decrement has `by`.
    const site = to > from ? this.chainOf(frames, by) : by;
    if (from < 0) {
      // RDBSS putting the count back to 0 after an underflow it reported: no reference is taken.
      const r = this.addRecord(book, to, 0, where | F_RESET | (to > from ? F_UP : 0), site, time);
      this.setWide(r, R_HOLDER, to - from);
      return;
    }
    if (to > from) {
      const creation = from === 0 && books.get(book, B_LEN) === 0 && pending !== PENDING_TAKE;
      const ext = !creation && top !== null && outside && EXTERNAL_TAKE.has(top);
      const kinds = creation ? this.creationOf((node as AnyRxNode).kind) : null;
      for (let i = 0; i < to - from; i++) {
        let key: number;
        let holder: number;
        let structural = false;
        if (kinds !== null) {
          const h = kinds[Math.min(i, kinds.length - 1)] as { key: number; holder: number; structural: boolean };
          key = h.key;
          holder = h.holder;
          structural = h.structural;
        } else if (pending === PENDING_TAKE && i === 0 && !ext) {
          key = this.pendingKey;
          holder = this.pendingHolderId();
          structural = this.pendingStructural;
        } else {
          key = ext ? this.externalKey : this.keyOfBy(by);
          holder = ext && caller === null ? this.intern(`${top} (thread ${thread})`) : by;
        }
        const r = this.addRecord(book, from + i + 1, holder, where | F_UP | F_HELD, site, time);
        this.openHold(book, r, key, (structural ? HF_STRUCTURAL : 0) | (ext ? HF_EXTERNAL : 0));
      }
      return;
    }
    const ext = top !== null && outside && EXTERNAL_DROP.has(top);
    for (let i = 0; i < from - to; i++) {
      const h = this.closeOne(book, i === 0 && pending === PENDING_DROP ? this.pendingDrop : null, ext);
      this.addRecord(book, from - i - 1, h >= 0 ? this.recGet(h, R_HOLDER) : this.noHoldHolder, where, site, time);
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

  /** The pending take's holder as an id: a child's label with the holder's suffix, or the holder. */
  private pendingHolderId(): number {
    const label = this.pendingLabel;
    const holder = this.pendingHolder;
    if (label === null) return this.intern(holder);
    let suffix = this.suffixIds.get(holder);
    if (suffix === undefined) {
      // More holder names for child references than a composite id has room for: the text as one string.
      if (this.suffixes.length >= SUFFIXES) return this.push(flat(`${label} — ${holder}`));
      suffix = this.suffixes.length;
      this.suffixes.push(` — ${holder}`);
      this.suffixIds.set(holder, suffix);
    }
    const composite = this.labelOf(label) * SUFFIXES + suffix;
    if (composite >= MAX_ROWS - 1) return this.push(flat(label + (this.suffixes[suffix] as string)));
    return -1 - composite;
  }

  /** A child's label as a label row. */
  private labelOf(label: string): number {
    let kind = -1;
    let serial = 0;
    let name = label;
    const hash = label.indexOf("#");
    const space = hash > 0 ? label.indexOf(" ", hash) : -1;
    if (space > hash + 1) {
      const digits = label.slice(hash + 1, space);
      const n = Number(digits);
      if (Number.isInteger(n) && n >= 0 && n < MAX_ROWS && String(n) === digits) {
        kind = this.intern(label.slice(0, hash));
        serial = n;
        name = label.slice(space + 1);
      }
    }
    const rows = this.labelRows;
    let l = this.lastLabel;
    if (
      l >= 0 &&
      rows.get(l, L_KIND) === kind &&
      rows.get(l, L_SERIAL) === serial &&
      this.strs[rows.get(l, L_NAME)] === name
    )
      return l;
    let t = this.lastName;
    if (t < 0 || this.strs[t] !== name) {
      t = this.push(flat(name));
      this.lastName = t;
    }
    l = rows.add();
    rows.set(l, L_KIND, kind);
    rows.set(l, L_SERIAL, serial);
    rows.set(l, L_NAME, t);
    this.lastLabel = l;
    return l;
  }

  private labelText(l: number): string {
    const rows = this.labelRows;
    const kind = rows.get(l, L_KIND);
    const name = this.strs[rows.get(l, L_NAME)] as string;
    return kind < 0 ? name : `${this.strs[kind] as string}#${rows.get(l, L_SERIAL)} ${name}`;
  }

  private holderText(holder: number): string {
    if (holder >= 0) return this.strs[holder] as string;
    const c = -1 - holder;
    return this.labelText(Math.floor(c / SUFFIXES)) + (this.suffixes[c % SUFFIXES] as string);
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
      if (id >= MAX_ROWS >>> FLAG_BITS) throw new Error("reference ledger: too many (thread, step) pairs");
      this.whereThread.push(this.intern(thread));
      this.whereStep.push(step === null ? -1 : this.intern(step));
      m.set(step, id);
    }
    this.lastThread = thread;
    this.lastStep = step;
    this.lastWhere = id;
    return id;
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

  private recGet(r: number, field: number): number {
    return (this.recChunks[r >>> CHUNK_BITS] as Int32Array)[(r & CHUNK_MASK) * REC_STRIDE + field] as number;
  }

  private recSet(r: number, field: number, v: number): void {
    (this.recChunks[r >>> CHUNK_BITS] as Int32Array)[(r & CHUNK_MASK) * REC_STRIDE + field] = v;
  }

  /** Store a count or a reset's delta; one that does not fit an Int32 goes to `wide`. */
  private setWide(r: number, field: number, v: number): void {
    if ((v | 0) === v && v !== WIDE) this.recSet(r, field, v);
    else {
      this.recSet(r, field, WIDE);
      this.wide.set(r * REC_STRIDE + field, v);
    }
  }

  private getWide(r: number, field: number): number {
    const v = this.recGet(r, field);
    return v === WIDE ? (this.wide.get(r * REC_STRIDE + field) as number) : v;
  }

  /** A new record at the end of `book`'s history. */
  private addRecord(
    book: number,
    count: number,
    holder: number,
    whereFlags: number,
    site: number,
    time: number,
  ): number {
    const r = this.recCount;
    if (r >= MAX_ROWS)
      throw new Error("reference ledger: more than 2^31 - 1 changes in one run (turn check ledger off)");
    const c = r >>> CHUNK_BITS;
    const i = r & CHUNK_MASK;
    grow(this.recChunks, r, REC_STRIDE);
    if (i === 0) {
      this.recBase.push(time);
      this.recTime64.push(null);
      this.recDead.push(0);
    }
    this.recCount = r + 1;
    const a = this.recChunks[c] as Int32Array;
    const o = i * REC_STRIDE;
    a[o + R_HOLDER] = holder;
    a[o + R_WHERE] = whereFlags;
    a[o + R_SITE] = site;
    a[o + R_NEXT] = -1;
    this.setWide(r, R_COUNT, count);
    const t64 = this.recTime64[c] as Float64Array | null;
    const off = time - (this.recBase[c] as number);
    if (t64 !== null) t64[i] = time;
    else if ((off | 0) === off) a[o + R_TIME] = off;
    else {
      // A time this chunk's Int32 offsets cannot hold: from now on the chunk keeps its times as they are.
      const base = this.recBase[c] as number;
      const full = new Float64Array(CHUNK);
      for (let j = 0; j < i; j++) full[j] = base + (a[j * REC_STRIDE + R_TIME] as number);
      full[i] = time;
      this.recTime64[c] = full;
    }
    const books = this.bookRows;
    const tail = books.get(book, B_TAIL);
    if (tail < 0) books.set(book, B_HEAD, r);
    else this.recSet(tail, R_NEXT, r);
    books.set(book, B_TAIL, r);
    books.set(book, B_LEN, books.get(book, B_LEN) + 1);
    return r;
  }

  private timeOf(r: number): number {
    const c = r >>> CHUNK_BITS;
    const t64 = this.recTime64[c] as Float64Array | null;
    return t64 !== null ? (t64[r & CHUNK_MASK] as number) : (this.recBase[c] as number) + this.recGet(r, R_TIME);
  }

  /** A record nothing refers to any more (out of its history, its hold closed). */
  private dead(r: number): void {
    const c = r >>> CHUNK_BITS;
    const n = (this.recDead[c] as number) + 1;
    this.recDead[c] = n;
    if (n === CHUNK) {
      this.recChunks[c] = null;
      this.recTime64[c] = null;
    }
  }

  /** Drop HISTORY_DROP records after the first HISTORY_HEAD of a long history. */
  private dropHistory(book: number): void {
    const books = this.bookRows;
    let keep = books.get(book, B_HEAD);
    for (let i = 1; i < HISTORY_HEAD; i++) keep = this.recGet(keep, R_NEXT);
    let r = this.recGet(keep, R_NEXT);
    for (let i = 0; i < HISTORY_DROP; i++) {
      const next = this.recGet(r, R_NEXT);
      const flags = this.recGet(r, R_WHERE);
      if (flags & F_HELD) this.recSet(r, R_WHERE, flags | F_DROPPED);
      else this.dead(r);
      r = next;
    }
    this.recSet(keep, R_NEXT, r);
    books.set(book, B_LEN, books.get(book, B_LEN) - HISTORY_DROP);
    this.droppedBy.set(book, (this.droppedBy.get(book) ?? 0) + HISTORY_DROP);
  }

  private entryOf(r: number): RefEntry {
    const wf = this.recGet(r, R_WHERE);
    const where = wf >>> FLAG_BITS;
    const flags = wf & FLAG_MASK;
    const site = this.recGet(r, R_SITE);
    const up = (flags & F_UP) !== 0;
    const chain = up ? (this.chainNodes[site] as ChainNode) : null;
    const reset = (flags & F_RESET) !== 0;
    const step = this.whereStep[where] as number;
    return entry(
      r + 1,
      reset ? this.getWide(r, R_HOLDER) : up ? 1 : -1,
      this.getWide(r, R_COUNT),
      this.strs[chain !== null ? chain.by : site] as string,
      reset ? RESET_HOLDER : this.holderText(this.recGet(r, R_HOLDER)),
      this.strs[this.whereThread[where] as number] as string,
      this.timeOf(r),
      step < 0 ? null : (this.strs[step] as string),
      chain !== null ? chain.chain : NO_FRAMES,
    );
  }

  // ------------------------------------------------------------------ holds

  private openHold(book: number, r: number, key: number, flags: number): void {
    const holds = this.holdRows;
    let h = this.freeHold;
    if (h >= 0) this.freeHold = holds.get(h, H_PREV);
    else h = holds.add();
    holds.set(h, H_REC, r);
    holds.set(h, H_KEY, key * (1 << HF_BITS) + flags);
    holds.set(h, H_PREV, this.bookRows.get(book, B_HOLDS));
    this.bookRows.set(book, B_HOLDS, h);
  }

  /** The record of a closed hold is no longer held (and is dead if its history dropped it). */
  private unhold(r: number): void {
    const flags = this.recGet(r, R_WHERE);
    this.recSet(r, R_WHERE, flags & ~F_HELD);
    if (flags & F_DROPPED) this.dead(r);
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
      const kf = holds.get(h, H_KEY);
      const flags = kf & HF_MASK;
      const key = kf >> HF_BITS;
      const match =
        mode === PICK_KEYS
          ? (keys as readonly number[]).includes(key)
          : mode === PICK_EXTERNAL
            ? (flags & HF_EXTERNAL) !== 0
            : mode === PICK_PLAIN
              ? (flags & (HF_STRUCTURAL | HF_EXTERNAL)) === 0
              : mode === PICK_NOT_TABLE
                ? key !== this.tableKey
                : true;
      if (!match) {
        newer = h;
        continue;
      }
      const prev = holds.get(h, H_PREV);
      if (newer < 0) this.bookRows.set(book, B_HOLDS, prev);
      else holds.set(newer, H_PREV, prev);
      holds.set(h, H_PREV, this.freeHold);
      this.freeHold = h;
      return holds.get(h, H_REC);
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
    for (let r = this.bookRows.get(b, B_HEAD); r >= 0; r = this.recGet(r, R_NEXT)) out.push(this.entryOf(r));
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
      const kf = holds.get(h, H_KEY);
      const flags = kf & HF_MASK;
      const e = this.entryOf(holds.get(h, H_REC));
      out.push({
        key: this.keyText(kf >> HF_BITS),
        holder: e.holder,
        entry: e,
        structural: (flags & HF_STRUCTURAL) !== 0,
        external: (flags & HF_EXTERNAL) !== 0,
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
