/**
 * memsmb server: the change-notification state of one open directory (SMB2 CHANGE_NOTIFY / FsRtl notify package).
 *
 * - The first request on an open starts the watch and fixes its filter and watch-tree flag; later requests only
 *   supply a buffer (their own filter and tree flag are ignored, as FsRtlNotifyFilterChangeDirectory does).
 * - A change that matches while a request is pending completes the oldest pending request with the change's records
 *   (all records of one operation, e.g. a rename's old and new name, travel together). When they do not fit that
 *   request's buffer, it completes with STATUS_NOTIFY_ENUM_DIR and no records.
 * - A change that matches while no request is pending is buffered on the open. The buffer holds at most the
 *   buffer length of the latest request; beyond that it overflows: the records are dropped and the next request
 *   completes at once with STATUS_NOTIFY_ENUM_DIR. Otherwise the next request completes at once with the buffered
 *   records, or with STATUS_NOTIFY_ENUM_DIR when they do not fit its buffer; either way the buffer is emptied.
 * - Sizes are those of FILE_NOTIFY_INFORMATION records: 12 bytes + 2 per name character, each record after the
 *   first starting on a 4-byte boundary (`notifyRecordsSize`).
 */
import { type NotifyRecord, notifyRecordsSize } from "../../../emulator/io/index.js";
import { type NTSTATUS, STATUS } from "../../../emulator/kernel/index.js";

export type { NotifyRecord };

export interface NotifyResult {
  status: NTSTATUS;
  records: NotifyRecord[];
}

export interface PendingNotify {
  readonly notifyId: number;
  readonly bufferLength: number;
  readonly onComplete: (r: NotifyResult) => void;
}

/** A completion to deliver: the server calls `onComplete(result)` once its own state is consistent. */
export interface NotifyCompletion {
  readonly request: PendingNotify;
  readonly result: NotifyResult;
}

export class NotifyWatch {
  readonly filter: number;
  readonly watchTree: boolean;
  /** Buffer length of the latest request: the most the open buffers between requests. */
  bufferSize: number;
  buffered: NotifyRecord[] = [];
  overflowed = false;
  readonly pending: PendingNotify[] = [];

  constructor(filter: number, watchTree: boolean, bufferSize: number) {
    this.filter = filter;
    this.watchTree = watchTree;
    this.bufferSize = bufferSize;
  }

  /** A new request: an immediate result, or null when it was queued. */
  post(request: PendingNotify): NotifyResult | null {
    this.bufferSize = request.bufferLength;
    if (this.overflowed) {
      this.overflowed = false;
      this.buffered = [];
      return { status: STATUS.STATUS_NOTIFY_ENUM_DIR, records: [] };
    }
    if (this.buffered.length > 0) {
      const records = this.buffered;
      this.buffered = [];
      if (notifyRecordsSize(records) > request.bufferLength)
        return { status: STATUS.STATUS_NOTIFY_ENUM_DIR, records: [] };
      return { status: STATUS.STATUS_SUCCESS, records };
    }
    this.pending.push(request);
    return null;
  }

  /** Records of one change (already filtered and named relative to the watched directory). */
  deliver(records: NotifyRecord[]): NotifyCompletion | null {
    if (records.length === 0) return null;
    const request = this.pending.shift();
    if (request !== undefined) {
      if (notifyRecordsSize(records) > request.bufferLength) {
        return { request, result: { status: STATUS.STATUS_NOTIFY_ENUM_DIR, records: [] } };
      }
      return { request, result: { status: STATUS.STATUS_SUCCESS, records } };
    }
    if (this.overflowed) return null;
    this.buffered.push(...records);
    if (notifyRecordsSize(this.buffered) > this.bufferSize) {
      this.overflowed = true;
      this.buffered = [];
    }
    return null;
  }

  cancel(notifyId: number): PendingNotify | undefined {
    const i = this.pending.findIndex((p) => p.notifyId === notifyId);
    if (i < 0) return undefined;
    return this.pending.splice(i, 1)[0];
  }

  /** Remove and return every pending request (close, disconnect). */
  drain(): PendingNotify[] {
    const all = this.pending.splice(0);
    this.buffered = [];
    this.overflowed = false;
    return all;
  }
}
