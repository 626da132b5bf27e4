/**
 * The conformance suite (suite.ts) against memsmb: the same behaviours through the memsmb redirector, its network
 * and its server model.
 */
import test from "ava";
import { conformanceSuite } from "./suite.js";
import { memsmbTarget } from "./targets.js";

conformanceSuite(test, memsmbTarget);
