/** Written by `ownString` (never read) so that the read which flattens its copy is not optimized away. */
let _flattened = 0;

/**
 * Strings a structure keeps for life (its name, its label, its resource's name) as one sequential string of their
 * own. V8 represents a string built by `+` or a template as a rope of ConsStrings (32 B each, plus their parts) and a
 * substring of 13 characters or more as a slice that keeps its whole parent alive; neither goes away by itself.
 *
 * The copy is a new rope of the string's two halves (a half of 13 characters or more is a slice, which is fine: the
 * rope is _flattened at once). Reading a character of a rope flattens it in place: V8 copies the characters into one
 * new sequential string and leaves the rope pointing at it, and the young-generation collector then drops the rope
 * and the halves. ≈ 0.1 µs; the copy through JSON this replaces (`JSON.parse(JSON.stringify(s))`) cost ≈ 0.3–0.4 µs.
 */
export function ownString(s: string): string {
  const n = s.length;
  if (n < 13) return s;
  const h = n >>> 1;
  const copy = s.slice(0, h) + s.slice(h);
  _flattened ^= copy.charCodeAt(0);
  return copy;
}

/** Levenshtein distance between two names, without regard to case: the "did you mean" of every name the user types. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[] = Array.from({ length: t.length + 1 }, (_, i) => i);
  for (let i = 1; i <= s.length; i++) {
    let diagonal = d[0] as number;
    d[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const above = d[j] as number;
      d[j] = Math.min(above + 1, (d[j - 1] as number) + 1, diagonal + (s[i - 1] === t[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return d[t.length] as number;
}
