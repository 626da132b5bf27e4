/**
 * The exploration room: schedule strategies (seeded random, PCT, bounded-preemption DFS), `explore` over many
 * schedules, replay files, and shrinking to a minimal reproducer. docs/EXPLORE.md describes the method.
 */

export { failureSignature } from "../scenario/signature.js";
export {
  type DfsCursor,
  type ExploreOptions,
  type ExploreProgress,
  type ExploreResult,
  type ExploreStrategyName,
  explore,
  NotDeterministicError,
  runRecorded,
  type Shard,
  searchChecks,
} from "./explore.js";
export {
  normalizeFailures,
  REPLAY_FORMAT,
  REPLAY_VERSION,
  type ReadReplayResult,
  type ReplayFile,
  ReplayFileSchema,
  type ReplayOutcome,
  type ReplayRunOptions,
  readReplayFile,
  replayFaults,
  replayRun,
  scenarioContentHash,
  scenarioHash,
  sha256,
  writeReplayFile,
} from "./replay.js";
export { type ShrinkOptions, type ShrinkResult, shrinkFailure } from "./shrink.js";
export {
  BoundedDfs,
  countPreemptions,
  type DecisionLog,
  iterationSeed,
  type PctParameters,
  PctStrategy,
  RecordingStrategy,
} from "./strategies.js";
