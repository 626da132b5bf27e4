/**
 * rdbss-emulator's public API, for users' own test runners: boot an emulator, load a mini-redirector (a built-in
 * one or your own MiniRdrModule), run scenario files or scenario objects, or drive the Nt* services directly, and
 * read the report. See docs/SCENARIOS.md ("From your own tests") and docs/WRITING-A-MINIRDR.md.
 */

// Everything of the light entry (boot, kernel, I/O, RDBSS, the mini-redirectors), then the scenario machinery.
export * from "./core.js";
export {
  type ExploreOptions,
  type ExploreResult,
  explore,
  NotDeterministicError,
  type ReplayFile,
  readReplayFile,
  replayRun,
  type ShrinkResult,
  shrinkFailure,
  writeReplayFile,
} from "./explore/index.js";
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
