/**
 * A table of values keyed by small non-negative integer ids that are handed out in increasing order and not reused
 * (handle indexes, a server's file ids). Entries live in fixed-size chunks found by `id >>> CHUNK_BITS`, so one entry
 * costs an array slot and a 32-bit tag instead of a Map entry and an entry object (≈ 75 B together at 100,000
 * entries). A chunk is dropped when its last entry goes, so memory follows the live entries, not the ids ever used:
 * the worst case (one survivor per chunk) costs one chunk per live entry.
 *
 * Each entry has a numeric tag next to its value (a handle's granted access), so a caller that needs one number
 * beside the value does not need an object per entry.
 */
const CHUNK_BITS = 5;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

/**
 * A new chunk's slots, copied from this template: `slice` copies in generated code, where `fill` on a new array calls
 * into C++ (docs/PERFORMANCE.md, item 66). Never written.
 */
const EMPTY_SLOTS: readonly unknown[] = Array.from({ length: 2 * CHUNK }, () => undefined);

/** A chunk's slots: value, tag, value, tag … (one array: a typed array for the tags would cost more per chunk). */
class Chunk {
  readonly slots: unknown[] = EMPTY_SLOTS.slice();
  live = 0;
}

export class IdTable<T> {
  private readonly chunks = new Map<number, Chunk>();
  private count = 0;
  // The chunk of the latest lookup: most lookups hit the same few entries in a row.
  private lastKey = -1;
  private lastChunk: Chunk | undefined = undefined;

  private chunk(id: number): Chunk | undefined {
    const key = id >>> CHUNK_BITS;
    if (key === this.lastKey) return this.lastChunk;
    const c = this.chunks.get(key);
    if (c !== undefined) {
      this.lastKey = key;
      this.lastChunk = c;
    }
    return c;
  }

  private static check(id: number): void {
    if ((id | 0) !== id || id < 0) throw new RangeError(`IdTable: id ${id} is not an integer in 0 … 2^31 - 1`);
  }

  get size(): number {
    return this.count;
  }

  /** How many chunks are held (memory accounting and tests). */
  get chunkCount(): number {
    return this.chunks.size;
  }

  get(id: number): T | undefined {
    if ((id | 0) !== id || id < 0) return undefined;
    const c = this.chunk(id);
    return c === undefined ? undefined : (c.slots[2 * (id & MASK)] as T | undefined);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** The tag kept with `id`'s entry (0 when there is none). */
  tag(id: number): number {
    if ((id | 0) !== id || id < 0) return 0;
    const c = this.chunk(id);
    return c === undefined ? 0 : ((c.slots[2 * (id & MASK) + 1] as number | undefined) ?? 0);
  }

  /** Set `id`'s entry (`value` must not be undefined) and its tag. */
  set(id: number, value: T, tag = 0): void {
    IdTable.check(id);
    if (value === undefined) throw new TypeError(`IdTable: the value of id ${id} is undefined`);
    let c = this.chunk(id);
    if (c === undefined) {
      c = new Chunk();
      const key = id >>> CHUNK_BITS;
      this.chunks.set(key, c);
      this.lastKey = key;
      this.lastChunk = c;
    }
    const i = 2 * (id & MASK);
    if (c.slots[i] === undefined) {
      c.live++;
      this.count++;
    }
    c.slots[i] = value;
    c.slots[i + 1] = tag;
  }

  /** Remove `id`'s entry; returns its value, or undefined when there was none. */
  delete(id: number): T | undefined {
    if ((id | 0) !== id || id < 0) return undefined;
    const c = this.chunk(id);
    if (c === undefined) return undefined;
    const i = 2 * (id & MASK);
    const v = c.slots[i] as T | undefined;
    if (v === undefined) return undefined;
    c.slots[i] = undefined;
    c.slots[i + 1] = undefined;
    this.count--;
    if (--c.live === 0) {
      const key = id >>> CHUNK_BITS;
      this.chunks.delete(key);
      if (this.lastKey === key) {
        this.lastKey = -1;
        this.lastChunk = undefined;
      }
    }
    return v;
  }

  /** The ids in increasing order (a copy: the table may change while the caller walks it). */
  ids(): number[] {
    const out: number[] = [];
    for (const key of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const c = this.chunks.get(key) as Chunk;
      for (let i = 0; i < CHUNK; i++) if (c.slots[2 * i] !== undefined) out.push(key * CHUNK + i);
    }
    return out;
  }

  /** The values in id order (a copy). */
  values(): T[] {
    const out: T[] = [];
    for (const id of this.ids()) out.push(this.get(id) as T);
    return out;
  }
}
