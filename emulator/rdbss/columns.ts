/**
 * Packed columns for the per-emulator logs (the reference ledger, the MRx call log): typed arrays in chunks, the
 * first of which starts small and doubles, since every emulator makes its own and most runs are short.
 */
export type Column = Int32Array | Uint16Array | Int16Array | Float64Array;

/** `a` with room for `rows` rows of `stride` (a copy when it grows). */
export function widen<T extends Column>(a: T, rows: number, stride: number, make: (n: number) => T): T {
  if (rows * stride <= a.length) return a;
  const b = make(rows * stride);
  b.set(a);
  return b;
}
