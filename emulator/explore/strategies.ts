/**
 * Exploration strategies. Each plugs into the kernel's SchedulingStrategy interface (emulator/kernel/strategy.ts)
 * and is preemptive, so every scheduling point where more than one thread could run is a decision, and the
 * recorded choice list of any run replays exactly under `new ReplayStrategy(choices)`.
 *
 * - Seeded random: `RandomStrategy(iterationSeed(base, i))`, a uniform choice at every decision.
 * - PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler with Probabilistic Guarantees of
 *   Finding Bugs", ASPLOS 2010): threads get distinct random priorities (a thread created later is inserted at a
 *   uniformly random place in the priority order), d-1 priority change points are drawn uniformly over an estimate
 *   k of the run's length in decisions, and the highest-priority runnable thread always runs. At a change point the
 *   thread that would run drops below every other (the i-th change point gives priority d-i, lower than all initial
 *   priorities and than the earlier change points). A bug of depth d is found with probability ≥ 1/(n·k^(d-1)).
 * - Bounded-preemption DFS (CHESS-style context bounding): choice sequences enumerated depth-first, in
 *   lexicographic order, by replaying a prefix and letting the default (non-preemptive, FIFO) scheduler finish the
 *   run; a preemption is choosing a candidate other than the running thread at a yield point, and a sequence may
 *   hold at most P of them. Choices where the running thread blocked (dispatch decisions) are free, as in CHESS.
 *
 * Every iteration's randomness derives from (base seed, iteration) alone, so iteration i is the same run in any
 * process, shard or order.
 */
import { hashString, type KThread, type PickContext, Prng, type SchedulingStrategy } from "../kernel/index.js";

/** The seed of iteration `i` of an exploration with base seed `base`. */
export function iterationSeed(base: number, iteration: number): number {
  return hashString(`rdbss-explore:${base}:${iteration}`);
}

// ================================================================== recording decisions

/** What one run's decisions looked like: enough for DFS, preemption counts and state fingerprints. */
export interface DecisionLog {
  /** Number of candidates at each decision. */
  readonly counts: readonly number[];
  /** Whether the running thread was candidate 0 (a yield point) at each decision. */
  readonly atYield: readonly boolean[];
  /** The index chosen at each decision. */
  readonly chosen: readonly number[];
  /** Fingerprints of the (abstract) states seen at each decision. */
  readonly states: readonly number[];
  /** Fingerprint of the whole schedule: the sequence of (thread, scheduling point) pairs. */
  readonly schedule: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function mix(h: number, v: number): number {
  let x = h;
  x ^= v & 0xff;
  x = Math.imul(x, FNV_PRIME);
  x ^= (v >>> 8) & 0xff;
  x = Math.imul(x, FNV_PRIME);
  x ^= (v >>> 16) & 0xff;
  x = Math.imul(x, FNV_PRIME);
  x ^= v >>> 24;
  return Math.imul(x, FNV_PRIME);
}

/** Two 32-bit hashes folded into one safe integer (53 bits): collisions are negligible at these counts. */
function fold(a: number, b: number): number {
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** hashString of each scheduling point's label, computed once per process. */
const POINT_HASHES = new Map<string, number>();

/**
 * Wraps a strategy and records each decision. The state fingerprint at a decision is the scheduling point plus,
 * for each candidate thread, its id and the point where it last gave up the processor: a cheap abstraction of
 * "where every runnable thread is", so two schedules that reach the same place count once.
 */
export class RecordingStrategy implements SchedulingStrategy {
  readonly inner: SchedulingStrategy;
  readonly name: string;
  readonly preemptive: boolean;
  private readonly counts: number[] = [];
  private readonly atYield: boolean[] = [];
  private readonly chosen: number[] = [];
  private readonly states: number[] = [];
  private readonly lastPoint = new Map<number, number>();
  private scheduleA = FNV_OFFSET;
  private scheduleB = 0x01234567;

  constructor(inner: SchedulingStrategy) {
    this.inner = inner;
    this.name = inner.name;
    this.preemptive = inner.preemptive;
  }

  onThreadCreated(thread: KThread): void {
    this.inner.onThreadCreated?.(thread);
  }

  private hashPoint(label: string): number {
    let h = POINT_HASHES.get(label);
    if (h === undefined) {
      // Labels are the code's scheduling points and the scenarios' yield labels: a bounded set, shared by every
      // schedule of every exploration in the process (a recording strategy is made per schedule).
      if (POINT_HASHES.size >= 4096) POINT_HASHES.clear();
      h = hashString(label);
      POINT_HASHES.set(label, h);
    }
    return h;
  }

  pick(ctx: PickContext): number {
    let idx = this.inner.pick(ctx);
    if (!(Number.isInteger(idx) && idx >= 0 && idx < ctx.count)) idx = 0;
    const p = this.hashPoint(ctx.point);
    let a = mix(FNV_OFFSET, p);
    let b = mix(0x9e3779b9, p ^ ctx.count);
    for (let i = 0; i < ctx.count; i++) {
      const t = ctx.candidate(i);
      const where = i === 0 && ctx.includesCurrent ? p : (this.lastPoint.get(t.id) ?? 0);
      a = mix(mix(a, t.id), where);
      b = mix(mix(b, where), t.id);
    }
    this.states.push(fold(a, b));
    const runner = ctx.candidate(idx);
    if (ctx.includesCurrent && idx !== 0) this.lastPoint.set(ctx.candidate(0).id, p);
    this.scheduleA = mix(mix(this.scheduleA, runner.id), p);
    this.scheduleB = mix(mix(this.scheduleB, p), runner.id);
    this.counts.push(ctx.count);
    this.atYield.push(ctx.includesCurrent);
    this.chosen.push(idx);
    return idx;
  }

  log(): DecisionLog {
    return {
      counts: this.counts,
      atYield: this.atYield,
      chosen: this.chosen,
      states: this.states,
      schedule: fold(this.scheduleA, this.scheduleB),
    };
  }
}

/** Preemptions in a run: choices other than the running thread at yield points. */
export function countPreemptions(log: Pick<DecisionLog, "atYield" | "chosen">): number {
  let n = 0;
  for (let i = 0; i < log.chosen.length; i++) if (log.atYield[i] && log.chosen[i] !== 0) n++;
  return n;
}

// ================================================================== PCT

export interface PctParameters {
  /** The bug depth d: d-1 priority change points. */
  readonly depth: number;
  /** The estimate k of a run's length, in decisions; change points are drawn from [0, k). */
  readonly steps: number;
  readonly seed: number;
}

/** Probabilistic concurrency testing: see the file header. */
export class PctStrategy implements SchedulingStrategy {
  readonly name = "pct";
  readonly preemptive = true;
  /** Threads, highest priority first. */
  private readonly order: KThread[] = [];
  private readonly prng: Prng;
  /** Decision indices where the running thread's priority drops. */
  readonly changePoints: readonly number[];
  private readonly changeSet: ReadonlySet<number>;

  constructor(params: PctParameters) {
    this.prng = new Prng(params.seed);
    const k = Math.max(1, Math.floor(params.steps));
    const want = Math.min(Math.max(0, Math.floor(params.depth) - 1), k);
    const points = new Set<number>();
    while (points.size < want) points.add(this.prng.int(k));
    this.changePoints = [...points].sort((x, y) => x - y);
    this.changeSet = points;
  }

  onThreadCreated(thread: KThread): void {
    this.order.splice(this.prng.int(this.order.length + 1), 0, thread);
  }

  private rank(t: KThread): number {
    const r = this.order.indexOf(t);
    if (r >= 0) return r;
    this.order.push(t);
    return this.order.length - 1;
  }

  private best(ctx: PickContext): number {
    let best = 0;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let i = 0; i < ctx.count; i++) {
      const r = this.rank(ctx.candidate(i));
      if (r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    return best;
  }

  pick(ctx: PickContext): number {
    if (this.changeSet.has(ctx.decision)) {
      const t = ctx.candidate(this.best(ctx));
      this.order.splice(this.order.indexOf(t), 1);
      this.order.push(t);
    }
    return this.best(ctx);
  }
}

// ================================================================== bounded-preemption DFS

/** A subtree of the DFS: the runs whose first choice other than 0 is `value` at decision `position`. */
interface Subtree {
  readonly position: number;
  readonly value: number;
}

/**
 * Enumerates choice prefixes depth-first with at most `preemptions` preemptions. Feed it each run's decision log
 * (`next(log)`) and it answers the next prefix to replay, or null when the bounded tree is exhausted.
 *
 * Sharding: the runs are grouped by their first deviation from the default schedule (position, value), the groups
 * numbered in DFS order along the default run, and group j belongs to shard j mod N (the default run itself to
 * shard 0). A shard skips the other shards' groups without running them, so N processes split the tree with no
 * overlap and no communication.
 */
export class BoundedDfs {
  readonly preemptions: number;
  readonly shard: { readonly index: number; readonly count: number };
  private subtrees: Subtree[] | null = null;
  private readonly subtreeIndex = new Map<string, number>();
  private pendingPrefix: number[] | null = [];

  constructor(preemptions: number, shard: { index: number; count: number } = { index: 0, count: 1 }) {
    this.preemptions = Math.max(0, Math.floor(preemptions));
    this.shard = shard;
  }

  /** The first prefix to run (the default schedule; every shard runs it to learn the tree's top level). */
  first(): number[] {
    return [];
  }

  /** Whether the default schedule counts as this shard's run (only shard 0 owns it). */
  get ownsDefault(): boolean {
    return this.shard.index === 0;
  }

  private owner(st: Subtree): number {
    const j = this.subtreeIndex.get(`${st.position}:${st.value}`);
    return j === undefined ? 0 : j % this.shard.count;
  }

  /** Learn the tree's top level from the default run (all choices 0), when resuming an earlier search. */
  learnFrom(log: DecisionLog): void {
    if (this.subtrees === null) this.learn(log);
  }

  /** Learn the top-level subtrees from the default run (all choices 0). */
  private learn(log: DecisionLog): void {
    const list: Subtree[] = [];
    for (let i = log.counts.length - 1; i >= 0; i--) {
      if (log.atYield[i] && this.preemptions < 1) continue;
      const m = log.counts[i] as number;
      for (let v = 1; v < m; v++) list.push({ position: i, value: v });
    }
    this.subtrees = list;
    list.forEach((st, j) => {
      this.subtreeIndex.set(`${st.position}:${st.value}`, j);
    });
  }

  /** The first subtree after index `from` (in DFS order) that this shard owns, as a prefix. */
  private nextOwned(from: number): number[] | null {
    const list = this.subtrees ?? [];
    for (let j = from; j < list.length; j++) {
      if (j % this.shard.count !== this.shard.index) continue;
      const st = list[j] as Subtree;
      const prefix = new Array<number>(st.position + 1).fill(0);
      prefix[st.position] = st.value;
      return prefix;
    }
    return null;
  }

  private answer(prefix: number[] | null): number[] | null {
    this.pendingPrefix = prefix;
    return prefix;
  }

  /** The prefix to run after the run described by `log`; null when done. */
  next(log: DecisionLog): number[] | null {
    if (this.subtrees === null) this.learn(log);
    const n = log.chosen.length;
    // Preemptions used before each position.
    const before = new Array<number>(n + 1);
    before[0] = 0;
    for (let i = 0; i < n; i++) before[i + 1] = (before[i] as number) + (log.atYield[i] && log.chosen[i] !== 0 ? 1 : 0);
    for (let i = n - 1; i >= 0; i--) {
      const v = (log.chosen[i] as number) + 1;
      if (v >= (log.counts[i] as number)) continue;
      if ((before[i] as number) + (log.atYield[i] ? 1 : 0) > this.preemptions) continue;
      const prefix = log.chosen.slice(0, i + 1) as number[];
      prefix[i] = v;
      if (this.shard.count > 1) {
        const f = prefix.findIndex((c) => c !== 0);
        const st: Subtree = { position: f, value: prefix[f] as number };
        if (this.owner(st) !== this.shard.index) {
          const j = this.subtreeIndex.get(`${st.position}:${st.value}`) ?? 0;
          return this.answer(this.nextOwned(j + 1));
        }
      }
      return this.answer(prefix);
    }
    return this.answer(null);
  }

  /** Where the enumeration stands: the next prefix to run (for resuming), or null when done. */
  get cursor(): readonly number[] | null {
    return this.pendingPrefix;
  }

  /** Shards other than 0 start at their first owned subtree (after learning the tree from the default run). */
  startAfterDefault(log: DecisionLog): number[] | null {
    if (this.subtrees === null) this.learn(log);
    if (this.shard.index === 0) return this.next(log);
    return this.answer(this.nextOwned(0));
  }
}
