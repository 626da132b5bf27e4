/**
 * memsmb server side: an in-memory SMB2-like file server model (see server.ts for the semantics).
 */
export {
  CLUSTER_SIZE,
  DEFAULT_CAPACITY,
  type FileImage,
  normalizeImage,
  type ServerImage,
  ServerImageError,
  type ShareImage,
  type SharePermission,
  type UserImage,
} from "./image.js";
export { ByteRangeLocks, type LockRange, rangesOverlap } from "./locks.js";
export { type NotifyRecord, type NotifyResult, NotifyWatch } from "./notify.js";
export { checkPattern, hasWildcards, joinPath, matchPattern, nameProblem, parsePath, upcaseName } from "./paths.js";
export {
  type BasicInfoChange,
  type CreateRequest,
  type CreateResult,
  type DirectoryQuery,
  type FileInfo,
  type LockRequest,
  MemSmbServer,
  MemSmbWorld,
  type NotifyRequest,
  type ServerStats,
  SHARE_PERMISSION_ACCESS,
  type VolumeInfo,
} from "./server.js";
