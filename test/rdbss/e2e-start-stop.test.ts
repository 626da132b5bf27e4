/**
 * End to end: the FSD gates before START, STOP with and without open handles, restart, the device-FCB control
 * plane's INVALID_HANDLE for tree-connect handles, and unload (RxUnregisterMinirdr) — on nulmrx.
 */
import test from "ava";
import { nulmrxTarget, startStopSuite } from "./_e2e.js";

startStopSuite(test, nulmrxTarget);
