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
