/**
 * Where and when something happened, kept by the object it happened to for a report that may come later: who
 * completed an IRP first, when the second completion stops the run. Taken on the path (one small record and a copy
 * of the call chain), read only by reports.
 */
import { formatTime } from "./stop.js";
import type { KThread } from "./thread.js";

export interface Witness {
  readonly thread: KThread;
  /** Virtual time, 100 ns ticks. */
  readonly time: number;
  /** The scenario step the thread was running (KThread.stepLabel, else the step most recently started). */
  readonly step: string | null;
  /** The thread's call chain at that moment, outermost first. */
  readonly chain: readonly string[];
}

/** `thread 5 "main" at 0.000100 s (steps[1] t.yaml:12:5, create); call chain: NtReadFile → IRP_MJ_READ → …` */
export function describeWitness(w: Witness): string {
  const chain = w.chain.length > 0 ? w.chain.join(" → ") : "—";
  return `thread ${w.thread.id} "${w.thread.name}" at ${formatTime(w.time)}${w.step ? ` (${w.step})` : ""}; call chain: ${chain}`;
}
