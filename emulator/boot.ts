/**
 * Building an emulator: kernel, I/O manager with MUP, and RDBSS, wired together. `boot()` runs the system start
 * (MUP's DriverEntry) to completion.
 */
// From the modules themselves, not the faults index: that one also exports the zod schema, which the kernel
// does not need (zod is loaded only by code that parses scenarios or fault specs).
import { FaultInjector } from "./faults/injector.js";
import type { FaultSpec } from "./faults/spec.js";
import { bootIo, type IoSystem } from "./io/index.js";
import {
  type CheckMode,
  type FullKernelOptions,
  Kernel,
  type RunResult,
  type SchedulingStrategy,
  type StrategyName,
} from "./kernel/index.js";
import { type ProfileName, Rdbss, type RdbssOptions, type RdbssProfile } from "./rdbss/index.js";

export interface EmulatorOptions {
  readonly seed?: number | string;
  readonly strategy?: StrategyName | SchedulingStrategy;
  readonly trace?: boolean;
  readonly checks?: Readonly<Record<string, CheckMode>>;
  readonly profile?: ProfileName | RdbssProfile;
  readonly profileOverrides?: Partial<RdbssProfile>;
  readonly maxSteps?: number;
  readonly maxTime?: number;
  readonly workers?: FullKernelOptions["workers"];
  /** A fault plan (docs/FAULTS.md), installed from the start: `em.k.faults.records` lists what was injected. */
  readonly faults?: readonly FaultSpec[];
  /**
   * Keep the log of MRx calls, `em.rx.mrxLog` (default true): step reports and `mrx:` expectations read it. It
   * grows by about 36 B per call for the emulator's life; a long run that needs neither can turn it off (per-device
   * call counts, `mrxCalls`, are kept either way).
   */
  readonly logMrxCalls?: boolean;
}

export interface Emulator {
  readonly k: Kernel;
  readonly sys: IoSystem;
  readonly rx: Rdbss;
}

export function createEmulator(options: EmulatorOptions = {}): Emulator {
  // The options given, property by property (each `...(x ? { x } : {})` spread was a copy; this runs per scenario run).
  const ko: Writable<FullKernelOptions> = {};
  if (options.seed !== undefined) ko.seed = options.seed;
  if (options.strategy !== undefined) ko.strategy = options.strategy;
  if (options.trace !== undefined) ko.trace = options.trace;
  if (options.checks !== undefined) ko.checks = options.checks;
  if (options.maxSteps !== undefined) ko.maxSteps = options.maxSteps;
  if (options.maxTime !== undefined) ko.maxTime = options.maxTime;
  if (options.workers !== undefined) ko.workers = options.workers;
  const k = new Kernel(ko);
  if (options.faults !== undefined && options.faults.length > 0) new FaultInjector(options.faults, k.seed).attach(k);
  const sys = bootIo(k);
  const ro: Writable<RdbssOptions> = {};
  if (options.profile !== undefined) ro.profile = options.profile;
  if (options.profileOverrides !== undefined) ro.profileOverrides = options.profileOverrides;
  if (options.logMrxCalls !== undefined) ro.logMrxCalls = options.logMrxCalls;
  const rx = new Rdbss(k, sys, ro);
  return { k, sys, rx };
}

/** An options type whose fields can be set one by one. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Start the system: MUP. Returns the run result of the boot. */
export async function bootEmulator(em: Emulator): Promise<RunResult> {
  em.k.PsCreateSystemThread("system start", async () => {
    await em.sys.mup.start();
  });
  return em.k.run();
}

/** Run `fn` on a new system thread and run the kernel until idle; resolves with fn's result and the run. */
export async function inSystemThread<T>(
  em: Emulator,
  name: string,
  fn: () => Promise<T> | T,
): Promise<{ value: T | undefined; run: RunResult }> {
  let value: T | undefined;
  em.k.PsCreateSystemThread(name, async () => {
    value = await fn();
  });
  const run = await em.k.run();
  return { value, run };
}
