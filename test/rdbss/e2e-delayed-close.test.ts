/**
 * End to end: delayed close on nulmrx — the dormant SRV_OPEN after a close, collapsing a new open onto it, and the
 * scavenger closing it after its time limit of virtual time.
 */
import test from "ava";
import { delayedCloseSuite, nulmrxTarget } from "./_e2e.js";

delayedCloseSuite(test, nulmrxTarget);
