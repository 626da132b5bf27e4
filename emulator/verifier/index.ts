/**
 * The verifier room: the check catalogue (every check of ../shared/DESIGN.md §4 with its stop code, parameters,
 * trigger, explanation, switch, default mode, fixture and tests) and its rendering for docs/CHECKS.md. The
 * mechanisms live where they act: the lock-order graph in emulator/kernel/lockdep.ts, the reference ledger,
 * tombstones and the stateful contract checks in emulator/rdbss/{ledger,tombstone,verify}.ts.
 */
export {
  CATALOGUE,
  CHECK_SWITCHES,
  type CheckEntry,
  type CheckSwitch,
  checkEntry,
  DEFAULT_MODES,
  type DefaultMode,
} from "./catalogue.js";
export { catalogueSections, catalogueTable, codeText, defaultsTable } from "./markdown.js";
