/**
 * Scheduling strategies. At every scheduling point with more than one runnable thread the kernel asks the
 * strategy which one runs; the answer (an index) is recorded, so a run can be replayed from its choice list.
 *
 * Candidates are ordered canonically: at a yield point index 0 is the running thread and 1..n-1 are the ready
 * threads in the order they became ready; when the running thread blocked, 0..n-1 are the ready threads.
 */
import { Prng } from "./prng.js";
import type { KThread } from "./thread.js";

export interface PickContext {
  /** Number of candidates (≥ 2). */
  readonly count: number;
  /** The i-th candidate. */
  candidate(i: number): KThread;
  /** True when candidate 0 is the thread that was running (a yield point), false after it blocked. */
  readonly includesCurrent: boolean;
  /** Label of the scheduling point ("KeWaitForSingleObject", "yield:IoCallDriver" …). */
  readonly point: string;
  /** Index of this decision within the run. */
  readonly decision: number;
}

export interface SchedulingStrategy {
  readonly name: string;
  /**
   * Whether yield points may switch threads. A non-preemptive strategy only switches when the running thread
   * blocks or exits, which makes scheduling points free.
   */
  readonly preemptive: boolean;
  pick(ctx: PickContext): number;
  /** Called when a new thread is created (priority-based strategies assign priorities here). */
  onThreadCreated?(thread: KThread): void;
}

/** Run the current thread until it blocks; then the thread that became ready first. */
export class FifoStrategy implements SchedulingStrategy {
  readonly name = "fifo";
  readonly preemptive = false;
  pick(): number {
    return 0;
  }
}

/** At every scheduling point, a uniformly random runnable thread, from a seed. */
export class RandomStrategy implements SchedulingStrategy {
  readonly name = "random";
  readonly preemptive = true;
  private readonly prng: Prng;
  constructor(seed: number | string) {
    this.prng = new Prng(seed);
  }
  pick(ctx: PickContext): number {
    return this.prng.int(ctx.count);
  }
}

export class ReplayDivergence extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayDivergence";
  }
}

/**
 * Replays a recorded choice list. When the list runs out it continues with `fallback` (FIFO by default). A
 * recorded index that does not fit the candidates means the program diverged from the recording.
 */
export class ReplayStrategy implements SchedulingStrategy {
  readonly name = "replay";
  readonly preemptive: boolean;
  private i = 0;
  private readonly choices: readonly number[];
  private readonly fallback: SchedulingStrategy;
  divergence: string | null = null;

  constructor(choices: readonly number[], fallback: SchedulingStrategy = new FifoStrategy(), preemptive = true) {
    this.choices = choices;
    this.fallback = fallback;
    this.preemptive = preemptive;
  }

  pick(ctx: PickContext): number {
    if (this.i < this.choices.length) {
      const c = this.choices[this.i++] as number;
      if (Number.isInteger(c) && c >= 0 && c < ctx.count) return c;
      this.divergence ??= `decision ${ctx.decision} at ${ctx.point}: recorded choice ${c} but only ${ctx.count} candidates`;
      return 0;
    }
    return this.fallback.pick(ctx);
  }

  get exhausted(): boolean {
    return this.i >= this.choices.length;
  }
}

export type StrategyName = "fifo" | "random";

export function makeStrategy(name: StrategyName, seed: number | string): SchedulingStrategy {
  switch (name) {
    case "fifo":
      return new FifoStrategy();
    case "random":
      return new RandomStrategy(seed);
  }
}
