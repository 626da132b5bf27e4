/**
 * The RDBSS room: the six structures, the name tables, references and finalization, RX_CONTEXT and LowIo, the
 * IRP paths, the scavenger, registration and start/stop, and the MINIRDR_DISPATCH type. A mini-redirector
 * imports only from here (and the kernel's DDIs).
 */
export * from "./constants.js";
export * from "./context.js";
export { RDBSS_DEVICE_OBJECT, RDBSS_SCAVENGER, RX_DEVICE_FCB, ScavengerState } from "./device.js";
export {
  type ExtractedNetRootName,
  type MaybePromise,
  type MINIRDR_DISPATCH,
  type MRX_CALLDOWN,
  NEVER_CALLED_ENTRIES,
  REQUIRED_ENTRIES,
  validateDispatch,
} from "./dispatch.js";
export { RdbssFsd } from "./fsd.js";
export {
  type ObjectGraphOptions,
  objectGraph,
  objectGraphDot,
  RX_GRAPH_KINDS,
  type RxGraphEdge,
  type RxGraphNode,
  type RxGraphNodeKind,
  type RxObjectGraph,
} from "./graph.js";
export { type MrxCallRecord, MrxLog } from "./mrxlog.js";
export {
  DOCS_PROFILE,
  PROFILE_OPTION_DOCS,
  PROFILES,
  type ProfileName,
  type RdbssProfile,
  REACTOS_PROFILE,
  resolveProfile,
} from "./profile.js";
export {
  currentRxContext,
  type LockRequirement,
  processLogonId,
  processSessionId,
  RDBSS_ASSERT,
  RDBSS_CHECKS,
  RDBSS_DDIS,
  Rdbss,
  type RdbssDdiName,
  type RdbssDdiSpec,
  type RdbssOptions,
  RX_WORK_QUEUE_ITEM,
  type RxWorkerRoutine,
} from "./rdbss.js";
export * from "./structs.js";
export { type PrefixContainer, RX_FCB_TABLE, type RX_PREFIX_ENTRY, RX_PREFIX_TABLE } from "./tables.js";
export { TRAPPED_FIELDS } from "./tombstone.js";
