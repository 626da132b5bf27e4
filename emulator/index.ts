/**
 * rdbss-emulator's public API, for users' own test runners: boot an emulator, load a mini-redirector (a built-in
 * one or your own MiniRdrModule), run scenario files or scenario objects, or drive the Nt* services directly, and
 * read the report. See docs/SCENARIOS.md ("From your own tests") and docs/WRITING-A-MINIRDR.md.
 */

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
export { bootEmulator, createEmulator, type Emulator, type EmulatorOptions, inSystemThread } from "./boot.js";
export {
  type ExploreOptions,
  type ExploreResult,
  explore,
  type ReplayFile,
  readReplayFile,
  replayRun,
  type ShrinkResult,
  shrinkFailure,
  writeReplayFile,
} from "./explore/index.js";
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
export {
  formatProblem,
  formatReport,
  type LoadedScenario,
  type LoadOptions,
  type LoadResult,
  loadScenarioFile,
  type Problem,
  parseScenario,
  type RunOptions,
  reportJson,
  runScenario,
  type ScenarioInput,
  type ScenarioReport,
  type StepReport,
  scenarioJsonSchema,
} from "./scenario/index.js";
export { toChromeTrace, writeChromeTrace } from "./trace/perfetto.js";
export * as verifier from "./verifier/index.js";
export { CATALOGUE, CHECK_SWITCHES, type CheckEntry, type CheckSwitch, DEFAULT_MODES } from "./verifier/index.js";

import { stringify } from "yaml";
import { type LoadOptions, type LoadResult, parseScenario } from "./scenario/index.js";
import type { ScenarioInput } from "./scenario/schema.js";

/**
 * Validate a scenario written as an object (the same shape as the YAML), e.g. from a test. `name` stands in for
 * the file name in messages.
 */
export function scenarioFromObject(
  doc: ScenarioInput,
  name = "<scenario object>",
  options: LoadOptions = {},
): LoadResult {
  return parseScenario(stringify(doc), name, options);
}
