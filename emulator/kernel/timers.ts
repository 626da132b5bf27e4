/** A binary min-heap of timer entries ordered by (due time, insertion order); cancelled entries are skipped lazily. */
export interface TimerEntry {
  readonly due: number;
  readonly seq: number;
  readonly fire: () => void;
  cancelled: boolean;
}

export class TimerQueue {
  private heap: TimerEntry[] = [];
  private seq = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  add(due: number, fire: () => void): TimerEntry {
    const e: TimerEntry = { due, seq: this.seq++, fire, cancelled: false };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, h[p] as TimerEntry)) break;
      h[i] = h[p] as TimerEntry;
      i = p;
    }
    h[i] = e;
    this.live++;
    return e;
  }

  cancel(e: TimerEntry): void {
    if (!e.cancelled) {
      e.cancelled = true;
      this.live--;
    }
  }

  /** Due time of the earliest live entry, or Infinity. */
  peekDue(): number {
    this.dropCancelled();
    const top = this.heap[0];
    return top === undefined ? Number.POSITIVE_INFINITY : top.due;
  }

  /** Remove and return the earliest live entry if it is due at or before `now`. */
  popDue(now: number): TimerEntry | undefined {
    this.dropCancelled();
    const top = this.heap[0];
    if (top === undefined || top.due > now) return undefined;
    this.popTop();
    this.live--;
    top.cancelled = true;
    return top;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as TimerEntry).cancelled) this.popTop();
  }

  private popTop(): void {
    const h = this.heap;
    const last = h.pop() as TimerEntry;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mv = last;
      if (l < n && less(h[l] as TimerEntry, mv)) {
        m = l;
        mv = h[l] as TimerEntry;
      }
      if (r < n && less(h[r] as TimerEntry, mv)) {
        m = r;
        mv = h[r] as TimerEntry;
      }
      if (m === i) break;
      h[i] = mv;
      i = m;
    }
    h[i] = last;
  }
}

function less(a: TimerEntry, b: TimerEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
