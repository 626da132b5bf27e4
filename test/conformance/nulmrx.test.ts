/**
 * The conformance suite (suite.ts) against nulmrx: opens and dispositions, share modes, data, information, rename,
 * delete, directories, volume, locks, flush, change notifications, connections at every force level, delayed
 * close and the scavenger, start/stop/unload, determinism.
 */
import test from "ava";
import { conformanceSuite, nulmrxTarget } from "./suite.js";

conformanceSuite(test, nulmrxTarget);
