/**
 * The scenario room: the format (schema.ts), loading with located errors (load.ts), the runner (runner.ts) and
 * reports (report.ts).
 */
export {
  checkScenarioModule,
  controlCodeNames,
  type DocPath,
  FIXTURES_DIR,
  formatProblem,
  formatProblems,
  type LoadedScenario,
  type LoadOptions,
  type LoadResult,
  type Location,
  loadScenarioFile,
  loadServerImageFile,
  type PlacedStep,
  type Problem,
  parseScenario,
  type ThreadPlan,
} from "./load.js";
export { formatReport, reportJson, type TextOptions } from "./report.js";
export {
  ntPath,
  type RunOptions,
  runScenario,
  type ScenarioReport,
  type StepOutcome,
  type StepReport,
  type StopReport,
  showBytes,
} from "./runner.js";
export {
  CALLABLE_ROUTINES,
  type CallableRoutine,
  Scenario,
  type ScenarioInput,
  STEP_OPS,
  type Step,
  type StepOp,
  scenarioJsonSchema,
} from "./schema.js";
