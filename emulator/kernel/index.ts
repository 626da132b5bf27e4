/** The emulated kernel: threads and the deterministic scheduler, IRQL, locks, timers, DPCs, work queues, stops. */
export {
  BAD_POOL_CALLER_CODES,
  BUGCHECK,
  BUGCHECK_INFO,
  bugCheckName,
  formatBugCheck,
  RDBSS_BUG_CHECK,
  rdbssBugCheckParam1,
  VERIFIER_C4,
  VERIFIER_C9,
  WORKER_INVALID_CODES,
} from "./bugcodes.js";
export {
  type CheckMode,
  KDPC,
  KERNEL_CHECKS,
  type KernelOptions,
  type MaybePromise,
  type RunResult,
} from "./core.js";
export { IdTable } from "./idtable.js";
export { APC_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, Irql, irqlName, type KIRQL, PASSIVE_LEVEL } from "./irql.js";
export {
  DV,
  type FullKernelOptions,
  KERNEL_DDIS,
  Kernel,
  type KernelDdiName,
  type WorkerLimits,
} from "./kernel.js";
export {
  DList,
  type DListItem,
  defineBitFlags,
  emptyList,
  linkedAppend,
  linkedItems,
  linkedRemove,
  withItem,
} from "./lists.js";
export {
  describeEdge,
  describeInversion,
  LockClassNode,
  LockDep,
  type LockOrderEdge,
  type LockOrderInversion,
} from "./lockdep.js";
export { DispatcherObject, WaitBlock, type WaitReason } from "./object.js";
export { observed } from "./observed.js";
export { POOL_TYPE, type PoolBlockInfo, type PoolTag, tagText } from "./pool.js";
export { hashString, Prng } from "./prng.js";
export * from "./status.js";
export {
  BugCheckError,
  EmulatorUsageError,
  formatTime,
  hex32,
  hex64,
  KernelStop,
  type StopKind,
  type StopThread,
  type WaitEdge,
} from "./stop.js";
export {
  FifoStrategy,
  type PickContext,
  RandomStrategy,
  ReplayDivergence,
  ReplayStrategy,
  type SchedulingStrategy,
  type StrategyName,
} from "./strategy.js";
export { editDistance, ownString } from "./strings.js";
export {
  ERESOURCE,
  type EVENT_TYPE,
  EventType,
  FAST_MUTEX,
  KEVENT,
  KMUTEX,
  KQUEUE,
  KSPIN_LOCK,
  KTIMER,
  LockWait,
  type ResourceNamer,
  type ResourceOwner,
  ResourceOwnerPointer,
  type TIMER_TYPE,
  TimerType,
  WaitType,
  WORK_QUEUE_ITEM,
  type WORK_QUEUE_TYPE,
  WorkQueueType,
} from "./sync.js";
export {
  type HeldLock,
  KProcess,
  KThread,
  type LockLike,
  type ProcessToken,
  type ThreadEntry,
  ThreadState,
} from "./thread.js";
export { describeWitness, type Witness } from "./witness.js";
