/**
 * End to end through the Nt* calls, RDBSS and nulmrx: opens and their dispositions, share modes, data, file
 * information, rename, delete, directories, volume information, byte-range locks and flush (the shared suite),
 * plus what only nulmrx promises.
 */
import test from "ava";
import { filesSuite, nulmrxTarget } from "./_e2e.js";

filesSuite(test, nulmrxTarget);
