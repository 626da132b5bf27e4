/**
 * The benchmark suite's fixtures: an emulator with memsmb loaded and started, a user process with a connected
 * drive, and helpers to run code on emulated threads and time it there. Nothing here asserts timing.
 */
import type { Emulator } from "../../emulator/boot.js";
import { IO_CHECKS } from "../../emulator/io/index.js";
import {
  type CheckMode,
  KERNEL_CHECKS,
  type KProcess,
  NT_SUCCESS,
  type NTSTATUS,
  statusName,
} from "../../emulator/kernel/index.js";
import { RDBSS_CHECKS } from "../../emulator/rdbss/index.js";
import type { LoadedMiniRdr } from "../../miniredirs/index.js";
import type { ServerImage } from "../../miniredirs/memsmb/index.js";
import { lib } from "./lib.js";

// The code measured comes from `lib` (the built package unless RDBSS_BENCH_SOURCE=1); constants and types from the
// sources.
const { bootEmulator, createEmulator, inSystemThread, memsmbModule } = lib;

/** Every check switch of every room, set to "off" (the reference ledger and the verifier's traps included). */
export function allChecksOff(): Record<string, CheckMode> {
  const out: Record<string, CheckMode> = {};
  for (const name of [...Object.keys(KERNEL_CHECKS), ...Object.keys(IO_CHECKS), ...Object.keys(RDBSS_CHECKS)])
    out[name] = "off";
  // Switches a room reads with checkMode() but may not list in its table (yet).
  for (const name of ["ledger", "leaks", "orphanedHandles", "prematureFinalize", "lostConnection"]) out[name] = "off";
  return out;
}

/** One server, "srv", with one share everyone may change, and `shares` more for the many-connection cases. */
export function benchServer(shares = 1): ServerImage {
  return {
    name: "srv",
    users: [{ name: "guest", password: "" }],
    shares: Array.from({ length: shares }, (_, i) => ({
      name: i === 0 ? "share" : `s${i}`,
      permissions: { "*": "full" as const },
    })),
  };
}

export interface MemSmbWorld {
  readonly em: Emulator;
  readonly mrx: LoadedMiniRdr;
  readonly user: KProcess;
}

export function must(what: string, st: NTSTATUS): void {
  if (!NT_SUCCESS(st)) throw new Error(`${what}: ${statusName(st)}`);
}

/** Boot, load memsmb with `servers`, START it; `user` is a process with a guest token. */
export async function memsmbWorld(
  checks: Readonly<Record<string, CheckMode>> = {},
  servers: readonly ServerImage[] = [benchServer()],
): Promise<MemSmbWorld> {
  const em = createEmulator({ seed: 1, checks, maxSteps: Number.MAX_SAFE_INTEGER });
  const boot = await bootEmulator(em);
  if (boot.stop) throw new Error(boot.stop.format());
  const loaded = await inSystemThread(em, "DriverEntry memsmb", () => memsmbModule.load(em, { servers }));
  if (loaded.run.stop) throw new Error(loaded.run.stop.format());
  const mrx = loaded.value;
  if (!mrx) throw new Error("memsmb did not load");
  must("DriverEntry", mrx.status);
  const user = em.k.createProcess("bench.exe"); // no token: memsmb presents guest / ""
  await onThread({ em, mrx, user }, "START", async () => must("START", await mrx.provider.start()));
  return { em, mrx, user };
}

/** Run `fn` on a new thread of the user process; run the kernel until idle; return fn's value. */
export async function onThread<T>(w: MemSmbWorld, name: string, fn: () => Promise<T>): Promise<T> {
  let value: T | undefined;
  let failed: unknown = null;
  let done = false;
  w.em.k.createThread(w.user, name, async () => {
    try {
      value = await fn();
      done = true;
    } catch (e) {
      failed = e;
    }
  });
  const r = await w.em.k.run();
  if (r.stop) throw new Error(r.stop.format());
  if (failed !== null) throw failed;
  if (!done) throw new Error(`${name} did not finish`);
  return value as T;
}

export function elapsedNs(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

export { inSystemThread };
