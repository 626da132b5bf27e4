/**
 * End to end: START, net use (with and without credentials, an unknown share) and net use /delete at FALSE, TRUE
 * and 0xff, with nothing open, a file open and a notification pending — on nulmrx through its network provider.
 */
import test from "ava";
import { connectionSuite, nulmrxTarget } from "./_e2e.js";

connectionSuite(test, nulmrxTarget);
