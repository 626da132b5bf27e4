/**
 * Lists most owners never use (the waiters of a resource, the locks of a file): they start as one shared, frozen
 * empty list and get a list of their own with their first item, so the thousands of owners that never use theirs
 * cost one pointer each, not an array. Never mutate the shared one: add through `withItem`, empty with `emptyList`.
 */
const EMPTY: readonly never[] = Object.freeze([]);

/** The shared empty list (frozen: push, shift, splice or a length write on it throw). */
export function emptyList<T>(): T[] {
  return EMPTY as unknown as T[];
}

/** `list` with `item` appended: a list of its own when `list` is the shared empty one, else `list` itself. */
export function withItem<T>(list: T[], item: T): T[] {
  if (list === (EMPTY as unknown)) return [item];
  list.push(item);
  return list;
}

/**
 * Boolean fields kept as bits of one number field `bits` (one slot of an object instead of one per boolean):
 * defines an accessor pair on `proto` for each name of `flags`. The class declares the fields (`declare x: boolean`)
 * and a `bits = 0` field, and calls this once from a static block.
 */
export function defineBitFlags(proto: object, flags: Readonly<Record<string, number>>): void {
  for (const [name, bit] of Object.entries(flags)) {
    Object.defineProperty(proto, name, {
      get(this: { bits: number }): boolean {
        return (this.bits & bit) !== 0;
      },
      set(this: { bits: number }, on: boolean): void {
        this.bits = on ? this.bits | bit : this.bits & ~bit;
      },
      configurable: true,
      enumerable: false,
    });
  }
}

/**
 * Singly linked lists threaded through the items themselves (a LIST_ENTRY's job): each item links to the next in
 * its own `key` field, and the owner keeps the first. No array per owner; lists are short (an FCB's SRV_OPENs, a
 * SRV_OPEN's FOBXs), so appending walks to the end.
 */
/** The list from `first` on, in order (a copy). */
export function linkedItems<K extends string, T extends Record<K, T | null>>(first: T | null, key: K): T[] {
  const out: T[] = [];
  for (let x: T | null = first; x !== null; x = x[key]) out.push(x);
  return out;
}

/** `item` appended to the list that starts at `first`; returns the (possibly new) first. */
export function linkedAppend<K extends string, T extends Record<K, T | null>>(first: T | null, item: T, key: K): T {
  if (first === null) {
    (item as Record<K, T | null>)[key] = null;
    return item;
  }
  let last: T = first;
  for (let next = last[key]; ; next = last[key]) {
    // InsertTailList of an entry already on the list corrupts it (here: a cycle); refuse instead.
    if (last === item) throw new Error(`linkedAppend: the item is already on the list (${key})`);
    if (next === null) break;
    last = next;
  }
  (item as Record<K, T | null>)[key] = null;
  (last as Record<K, T | null>)[key] = item;
  return first;
}

/** `item` taken out of the list that starts at `first`: the (possibly new) first, or undefined when it was not on it. */
export function linkedRemove<K extends string, T extends Record<K, T | null>>(
  first: T | null,
  item: T,
  key: K,
): T | null | undefined {
  if (first === item) {
    const rest: T | null = item[key];
    (item as Record<K, T | null>)[key] = null;
    return rest;
  }
  for (let p: T | null = first; p !== null; p = p[key]) {
    if (p[key] === item) {
      (p as Record<K, T | null>)[key] = item[key];
      (item as Record<K, T | null>)[key] = null;
      return first;
    }
  }
  return undefined;
}

/** An item of a DList: its links, owned by the list it is on (one DList per item at a time). */
export interface DListItem<T> {
  dPrev: T | null;
  dNext: T | null;
  dList: object | null;
}

/**
 * A doubly linked list threaded through its items (a LIST_ENTRY with InsertTailList / RemoveEntryList): adding and
 * removing are O(1) and allocate nothing, where a JavaScript Set that goes from one entry to none and back
 * reallocates its table each time. Iteration is in insertion order.
 */
export class DList<T extends DListItem<T>> implements Iterable<T> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(item: T): boolean {
    return item.dList === this;
  }

  /** Append; false when the item is already on a list. */
  add(item: T): boolean {
    if (item.dList !== null) return false;
    item.dList = this;
    item.dPrev = this.tail;
    item.dNext = null;
    if (this.tail === null) this.head = item;
    else this.tail.dNext = item;
    this.tail = item;
    this.count++;
    return true;
  }

  /** Remove; false when the item is not on this list. */
  delete(item: T): boolean {
    if (item.dList !== this) return false;
    const { dPrev: prev, dNext: next } = item;
    if (prev === null) this.head = next;
    else prev.dNext = next;
    if (next === null) this.tail = prev;
    else next.dPrev = prev;
    item.dList = null;
    item.dPrev = null;
    item.dNext = null;
    this.count--;
    return true;
  }

  *[Symbol.iterator](): Iterator<T> {
    let i = this.head;
    while (i !== null) {
      const next: T | null = i.dNext;
      yield i;
      i = next;
    }
  }
}
