/**
 * End to end: change notifications through NtNotifyChangeDirectoryFile on nulmrx — completion by a change with
 * the right FILE_NOTIFY_INFORMATION record, filters, watch-tree, NtCancelIoFile and cleanup.
 */
import test from "ava";
import { notifySuite, nulmrxTarget } from "./_e2e.js";

notifySuite(test, nulmrxTarget);
