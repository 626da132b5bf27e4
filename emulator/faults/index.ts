/**
 * Fault injection: named sites (RDBSS's allocations and work-queue insertions, memsmb's transport and server
 * operations, a mini-redirector's own through `rx.faults`), a plan of specs (the N-th hit, or a seeded
 * probability), and the injector that a kernel consults (`k.faults`). docs/FAULTS.md describes it for users.
 */
export {
  type FaultHit,
  FaultInjector,
  type FaultRecord,
  type FaultReport,
  faultReports,
  formatFaultReport,
  MiniRdrFaults,
} from "./injector.js";
export { FAULT_FIELDS, FaultSpecSchema, faultSpecOf, faultStepSpec } from "./schema.js";
export {
  DEFAULT_DELAY,
  DEFAULT_LOSS_DETECTION,
  FAULT_SITES,
  type FaultSiteInfo,
  type FaultSiteKind,
  type FixedFaultSite,
  knownSites,
  SERVER_OPERATIONS,
  SERVER_SITE_INFO,
  type ServerOperation,
  siteInfo,
  TRANSPORT_ACTIONS,
  type TransportAction,
} from "./sites.js";
export {
  type FaultSpec,
  type FaultSpecResult,
  formatFaultSpec,
  isGlob,
  parseFaultDuration,
  parseFaultSpec,
  parseFaultSpecs,
  siteMatcher,
  suggestSites,
  validateFaultSpec,
} from "./spec.js";
