/**
 * The log of MRx calls (`em.rx.mrxLog`): every call RDBSS made into a mini-redirector, in order, with its target,
 * thread, virtual time, shown arguments and returned status. Step reports list a step's calls from it, expectations
 * count them, and tests read it.
 *
 * The log keeps one entry per call for the life of the emulator, and the IRP path makes calls by the hundred
 * thousand (one per read), so entries are packed: the names, devices, threads, argument texts and statuses are
 * interned and kept as numbers in chunked typed arrays, the time in a Float64Array, and the target as the label
 * string its structure already keeps. About 36 B a call, where an object per call cost about 80 B and was promoted
 * out of the young generation with every read. `at(i)` and the array-like methods build MrxCallRecord objects on
 * demand.
 */
import { widen } from "./columns.js";

/** What a recorded MRx call looked like (for reports and expectations). */
export interface MrxCallRecord {
  readonly name: string;
  readonly device: string;
  readonly target: string;
  readonly thread: string;
  readonly time: number;
  /** The arguments worth showing, in words ("TRUE" for MRxFinalizeSrvCall's Force, "FALSE" for the NULL PBOOLEAN). */
  readonly args?: string;
  readonly status?: string;
}

const CHUNK_BITS = 10;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;
/** Int32 columns per entry: name, device, thread, args, status (interned ids; -1 for none). */
const COLS = 5;
const C_NAME = 0;
const C_DEVICE = 1;
const C_THREAD = 2;
const C_ARGS = 3;
const C_STATUS = 4;

/** Rows of the first chunk: an emulator's boot and a short scenario make a few dozen calls (a full chunk is 36 KB). */
const FIRST_ROWS = 64;

/** Up to CHUNK entries; the first chunk starts small and doubles as it fills. Entries are only ever appended. */
class Chunk {
  ints: Int32Array;
  times: Float64Array;
  readonly targets: string[] = [];
  constructor(rows: number) {
    // Both columns in one buffer: a buffer outside the heap costs ≈ 4,000 instructions to make, whatever its size,
    // and every emulator makes this chunk. (grow gives each column a buffer of its own.)
    const buffer = new ArrayBuffer(rows * (8 + 4 * COLS));
    this.times = new Float64Array(buffer, 0, rows);
    this.ints = new Int32Array(buffer, 8 * rows, COLS * rows);
  }
  /** Room for `rows` entries (more than it has). */
  grow(rows: number): void {
    this.ints = widen(this.ints, rows, COLS, (n) => new Int32Array(n));
    this.times = widen(this.times, rows, 1, (n) => new Float64Array(n));
  }
}

export class MrxLog implements Iterable<MrxCallRecord> {
  private readonly chunks: Chunk[] = [];
  private count = 0;
  private readonly texts: string[] = [];
  private readonly ids = new Map<string, number>();

  /** The id of an interned text (names, devices, threads, arguments, statuses: a few hundred distinct texts). */
  intern(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.texts.length;
      this.texts.push(text);
      this.ids.set(text, id);
    }
    return id;
  }

  get length(): number {
    return this.count;
  }

  /**
   * Append a call (ids from `intern`; `args` -1 when the call shows none). Returns its index, for `setStatus`.
   */
  push(name: number, device: number, target: string, thread: number, time: number, args: number): number {
    const i = this.count;
    const k = i & MASK;
    let c: Chunk;
    if (k === 0) {
      c = new Chunk(i === 0 ? FIRST_ROWS : CHUNK);
      this.chunks.push(c);
    } else {
      c = this.chunks[i >>> CHUNK_BITS] as Chunk;
      if (k === c.times.length) c.grow(Math.min(CHUNK, k * 2));
    }
    const b = k * COLS;
    const ints = c.ints;
    ints[b + C_NAME] = name;
    ints[b + C_DEVICE] = device;
    ints[b + C_THREAD] = thread;
    ints[b + C_ARGS] = args;
    ints[b + C_STATUS] = -1;
    c.times[k] = time;
    c.targets.push(target);
    this.count = i + 1;
    return i;
  }

  /** Record the status call `index` returned (an interned id). */
  setStatus(index: number, status: number): void {
    const c = this.chunks[index >>> CHUNK_BITS];
    if (c !== undefined && index < this.count) c.ints[(index & MASK) * COLS + C_STATUS] = status;
  }

  /** The call at `index` (negative counts from the end, as Array.prototype.at), or undefined. */
  at(index: number): MrxCallRecord | undefined {
    const n = Math.trunc(index) || 0;
    const i = n < 0 ? this.count + n : n;
    if (i < 0 || i >= this.count) return undefined;
    const c = this.chunks[i >>> CHUNK_BITS] as Chunk;
    const k = i & MASK;
    const b = k * COLS;
    const ints = c.ints;
    const t = this.texts;
    const args = ints[b + C_ARGS] as number;
    const status = ints[b + C_STATUS] as number;
    const r: { -readonly [K in keyof MrxCallRecord]: MrxCallRecord[K] } = {
      name: t[ints[b + C_NAME] as number] as string,
      device: t[ints[b + C_DEVICE] as number] as string,
      target: c.targets[k] as string,
      thread: t[ints[b + C_THREAD] as number] as string,
      time: c.times[k] as number,
    };
    // Assigned rather than spread in (the same keys in the same order: spreading a literal costs a copy each).
    if (args >= 0) r.args = t[args] as string;
    if (status >= 0) r.status = t[status] as string;
    return r;
  }

  /** The name of the call at `index` without building its record. */
  nameAt(index: number): string | undefined {
    return this.textAt(index, C_NAME);
  }

  /** The device (mini-redirector name) of the call at `index` without building its record. */
  deviceAt(index: number): string | undefined {
    return this.textAt(index, C_DEVICE);
  }

  /** The thread of the call at `index` without building its record. */
  threadAt(index: number): string | undefined {
    return this.textAt(index, C_THREAD);
  }

  /** The shown arguments of the call at `index` (undefined when it shows none) without building its record. */
  argsAt(index: number): string | undefined {
    return this.textAt(index, C_ARGS);
  }

  /** An interned text column of the call at `index` (undefined out of range, or for -1: none). */
  private textAt(index: number, column: number): string | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) return undefined;
    const c = this.chunks[index >>> CHUNK_BITS] as Chunk;
    const id = c.ints[(index & MASK) * COLS + column] as number;
    return id < 0 ? undefined : this.texts[id];
  }

  *[Symbol.iterator](): Iterator<MrxCallRecord> {
    for (let i = 0; i < this.count; i++) yield this.at(i) as MrxCallRecord;
  }

  /** The calls from `start` up to (not including) `end`, as Array.prototype.slice. */
  slice(start = 0, end = this.count): MrxCallRecord[] {
    const n = this.count;
    const s = Math.trunc(start) || 0;
    const e = Math.trunc(end) || 0;
    const from = s < 0 ? Math.max(0, n + s) : Math.min(s, n);
    const to = e < 0 ? Math.max(0, n + e) : Math.min(e, n);
    const out: MrxCallRecord[] = [];
    for (let i = from; i < to; i++) out.push(this.at(i) as MrxCallRecord);
    return out;
  }

  toArray(): MrxCallRecord[] {
    return this.slice();
  }

  filter(keep: (r: MrxCallRecord, index: number) => boolean): MrxCallRecord[] {
    const out: MrxCallRecord[] = [];
    for (let i = 0; i < this.count; i++) {
      const r = this.at(i) as MrxCallRecord;
      if (keep(r, i)) out.push(r);
    }
    return out;
  }

  map<U>(f: (r: MrxCallRecord, index: number) => U): U[] {
    const out: U[] = [];
    for (let i = 0; i < this.count; i++) out.push(f(this.at(i) as MrxCallRecord, i));
    return out;
  }

  some(test: (r: MrxCallRecord, index: number) => boolean): boolean {
    for (let i = 0; i < this.count; i++) if (test(this.at(i) as MrxCallRecord, i)) return true;
    return false;
  }

  find(test: (r: MrxCallRecord, index: number) => boolean): MrxCallRecord | undefined {
    for (let i = 0; i < this.count; i++) {
      const r = this.at(i) as MrxCallRecord;
      if (test(r, i)) return r;
    }
    return undefined;
  }

  toJSON(): MrxCallRecord[] {
    return this.slice();
  }
}
