/**
 * A lockdep-style lock-order graph (after Linux's Documentation/locking/lockdep-design.rst, see
 * ../shared/reference/anchors.md §3.1): locks are grouped into classes (an ERESOURCE's `lockClass` — "netname
 * table", "FCB table", "FCB" … — or the lock's name), and every blocking acquisition of a lock of class B by a
 * thread that holds a lock of class A records the edge A → B, with the thread, call chain, virtual time and
 * scenario step that first showed it. An edge that closes a cycle is a lock-order inversion: two threads
 * following the two orders at the same time can deadlock. It is reported the first time the cycle becomes
 * possible, in a run that did not deadlock (yet) — Driver Verifier's deadlock detection does the same for spin
 * locks, mutexes and fast mutexes but leaves ERESOURCEs out; here they are in.
 *
 * As in lockdep: a try-acquisition (Wait = FALSE) adds no edge to the lock it tries (it cannot wait), but
 * acquisitions made while holding it do; a recursive acquisition of a lock already held adds nothing; two locks of
 * the same class held together add no edge (lockdep's subclass annotations are not modelled).
 *
 * Cost: one Map lookup per lock held at each blocking acquisition; nothing when the thread holds no lock. New edges
 * (rare: one per pair of classes) run a graph search.
 */
import { formatTime } from "./stop.js";
import type { KThread, LockLike } from "./thread.js";

/** The first time "holding class `from`, acquired class `to`" happened. */
export interface LockOrderEdge {
  readonly from: string;
  readonly to: string;
  /** The lock instance held ("ERESOURCE \"FCB \\srv\\share\\a.txt\""). */
  readonly held: string;
  /** The lock instance acquired. */
  readonly acquired: string;
  /** The acquiring DDI ("ExAcquireResourceExclusiveLite"). */
  readonly ddi: string;
  /** `thread 3 "app" (app.exe)` */
  readonly thread: string;
  readonly callChain: readonly string[];
  /** Virtual time, 100 ns units. */
  readonly time: number;
  /** The scenario step the thread was running, when known. */
  readonly step: string | null;
}

/** A lock class: every lock with the same class name. */
export class LockClassNode {
  readonly name: string;
  /** Edges out of this class: classes acquired while one of this class was held. */
  readonly after = new Map<LockClassNode, LockOrderEdge>();
  constructor(name: string) {
    this.name = name;
  }
}

/** A lock-order inversion: the new edge and the path back that closes the cycle. */
export interface LockOrderInversion {
  readonly edge: LockOrderEdge;
  /** The held lock of the new edge. */
  readonly heldLock: LockLike;
  /** Edges from `edge.to` back to `edge.from`, in order. */
  readonly back: readonly LockOrderEdge[];
}

export class LockDep {
  private readonly classes = new Map<string, LockClassNode>();

  /** The class of a lock (cached on the lock). */
  classOf(lock: LockLike): LockClassNode {
    const cached = lock.lockClassNode;
    if (cached) return cached;
    const declared = (lock as { readonly lockClass?: unknown }).lockClass;
    const name = typeof declared === "string" ? declared : lock.name;
    let n = this.classes.get(name);
    if (n === undefined) {
      n = new LockClassNode(name);
      this.classes.set(name, n);
    }
    lock.lockClassNode = n;
    return n;
  }

  /**
   * A blocking acquisition of `lock` by `t` (which does not hold it yet): record an edge from the class of every
   * lock `t` holds. Returns the first inversion a new edge closes, else null.
   */
  acquire(t: KThread, lock: LockLike, ddi: string, time: number, step: string | null): LockOrderInversion | null {
    const held = t.held;
    const to = this.classOf(lock);
    let found: LockOrderInversion | null = null;
    for (let i = 0; i < held.length; i++) {
      const h = (held[i] as { readonly lock: LockLike }).lock;
      if (h === lock) continue;
      const from = this.classOf(h);
      if (from === to || from.after.has(to)) continue;
      const edge: LockOrderEdge = {
        from: from.name,
        to: to.name,
        held: `${h.lockType} "${h.name}"`,
        acquired: `${lock.lockType} "${lock.name}"`,
        ddi,
        thread: `thread ${t.id} "${t.name}" (${t.process.name})`,
        callChain: t.frames.slice(),
        time,
        step,
      };
      from.after.set(to, edge);
      if (found === null) {
        const back = this.path(to, from);
        if (back !== null) found = { edge, heldLock: h, back };
      }
    }
    return found;
  }

  /** The edges of a path from class `a` to class `b` (breadth first: the shortest), or null. */
  path(a: LockClassNode, b: LockClassNode): LockOrderEdge[] | null {
    const prev = new Map<LockClassNode, { node: LockClassNode; edge: LockOrderEdge }>();
    const queue: LockClassNode[] = [a];
    const seen = new Set<LockClassNode>([a]);
    while (queue.length > 0) {
      const n = queue.shift() as LockClassNode;
      if (n === b) {
        const out: LockOrderEdge[] = [];
        let cur = b;
        while (cur !== a) {
          const p = prev.get(cur) as { node: LockClassNode; edge: LockOrderEdge };
          out.unshift(p.edge);
          cur = p.node;
        }
        return out;
      }
      for (const [next, edge] of n.after) {
        if (seen.has(next)) continue;
        seen.add(next);
        prev.set(next, { node: n, edge });
        queue.push(next);
      }
    }
    return null;
  }

  /** Every edge seen so far, in class order (for reports and exports). */
  edges(): LockOrderEdge[] {
    const out: LockOrderEdge[] = [];
    for (const c of this.classes.values()) for (const e of c.after.values()) out.push(e);
    return out;
  }

  /** The class names seen so far. */
  classNames(): string[] {
    return [...this.classes.keys()];
  }
}

/** One edge in words: `thread 3 "app" (app.exe) held … and called … on … at 0.000100 s, <step>; call chain: …`. */
export function describeEdge(e: LockOrderEdge): string {
  const chain = e.callChain.length > 0 ? e.callChain.join(" → ") : "—";
  return `${e.thread} held ${e.held} and called ${e.ddi} on ${e.acquired} at ${formatTime(e.time)}${
    e.step ? `, ${e.step}` : ""
  }; call chain: ${chain}`;
}

/** The plain-language reason of a lock-order inversion report, with both acquisition chains. */
export function describeInversion(inv: LockOrderInversion): string {
  const e = inv.edge;
  const cycle = [e.from, e.to, ...inv.back.slice(0, -1).map((b) => b.to), e.from].join(" → ");
  const lines = [
    `Lock-order inversion: ${e.thread} waits for ${e.acquired} (class ${e.to}) while holding ${e.held} (class ${e.from}), but the opposite order was seen before — the lock classes form the cycle ${cycle}. Two threads taking them in these two orders at the same time deadlock; this run has not deadlocked (yet).`,
    `  this acquisition (${e.from} → ${e.to}): ${describeEdge(e)}`,
    ...inv.back.map((b) => `  earlier (${b.from} → ${b.to}): ${describeEdge(b)}`),
  ];
  return lines.join("\n");
}
