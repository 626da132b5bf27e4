/**
 * End to end: a concurrent scenario on nulmrx (two writers, a shared file, a pending notification, a forced
 * connection delete) replays identically from the same seed under the random strategy, and ends clean and in the
 * same state under other seeds and under FIFO.
 */
import test from "ava";
import { determinismSuite, nulmrxTarget } from "./_e2e.js";

determinismSuite(test, nulmrxTarget);
