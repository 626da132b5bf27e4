/**
 * rdbss-emulator's light entry (`rdbss-emulator/core`): boot an emulator, load a mini-redirector, drive the Nt*
 * services and read the objects — without the scenario format. Nothing here loads zod, yaml or pino, so a process
 * that only embeds the emulator (a unit test of a mini-redirector, a tool) starts in a few tens of milliseconds from
 * the built package (`npm run build`, docs/PERFORMANCE.md, "Third pass: cold start"). The full API is `rdbss-emulator`
 * (emulator/index.ts), a superset of this one.
 */

/** The control plane and DriverEntry helpers the samples share, for a user's own mini-redirector to reuse. */
export {
  armCancelRoutine,
  ConnectionControlPlane,
  type ControlCodes,
  extractServerShareNetRoot,
  finishDriverEntry,
  type RegisteredMiniRdr,
} from "../miniredirs/common/control.js";
export {
  BUILTIN_MINIRDRS,
  DEFAULT_SERVER,
  type LoadedMiniRdr,
  type MiniRdrModule,
  type MiniRdrSetup,
  memsmbModule,
  NetworkProvider,
  nulmrxModule,
} from "../miniredirs/index.js";
/** memsmb's server model on its own (no emulator): what a backend test or the benchmarks' baseline drives. */
export { MemSmbServer, type ServerImage } from "../miniredirs/memsmb/index.js";
export { bootEmulator, createEmulator, type Emulator, type EmulatorOptions, inSystemThread } from "./boot.js";
export * as io from "./io/index.js";
export * as kernel from "./kernel/index.js";
export {
  type CheckMode,
  KERNEL_CHECKS,
  type KernelStop,
  NT_SUCCESS,
  type NTSTATUS,
  type RunResult,
  STATUS,
  statusName,
} from "./kernel/index.js";
export * as rdbss from "./rdbss/index.js";
export { objectGraph, objectGraphDot, RDBSS_CHECKS } from "./rdbss/index.js";
