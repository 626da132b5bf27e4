/**
 * Small helpers shared by the kernel tests (not a test file itself: ava only runs `*.test.ts`).
 */
import { Kernel, type KernelStop, type KThread, type RunResult } from "../../emulator/kernel/index.js";

/** NTSTATUS values the tests compare against (literal, so the tests do not depend on status.ts). */
export const STATUS_SUCCESS = 0;
export const STATUS_TIMEOUT = 0x102;
export const STATUS_MUTANT_NOT_OWNED = 0xc0000046n;

/** One millisecond in 100 ns units. */
export const MS = 10_000;

/** A scheduling point: await it only when the scheduler switched away. */
export async function sp(k: Kernel, label: string): Promise<void> {
  const p = k.schedulePoint(label);
  if (p) await p;
}

/** A kernel with one user thread running `body`; returns the kernel and the run's result. */
export async function runThread(
  body: (k: Kernel, t: KThread) => Promise<void> | void,
  options: ConstructorParameters<typeof Kernel>[0] = {},
  threadName = "main",
): Promise<{ k: Kernel; r: RunResult }> {
  const k = new Kernel({ trace: true, ...options });
  k.createThread(k.createProcess("test.exe"), threadName, (t) => body(k, t));
  const r = await k.run();
  return { k, r };
}

/** The stop of a run that must have stopped. */
export function stopOf(r: RunResult): KernelStop {
  if (r.stop === null) throw new Error(`expected the run to stop, but it ended "${r.outcome}"`);
  return r.stop;
}
