/**
 * memsmb server: read / write / flush, end of file, timestamps, basic information, rename, space, volume
 * information and byte-range locks.
 */
import test from "ava";
import {
  DELETE,
  FILE_APPEND_DATA,
  FILE_ATTRIBUTE_ARCHIVE,
  FILE_ATTRIBUTE_DIRECTORY,
  FILE_ATTRIBUTE_HIDDEN,
  FILE_ATTRIBUTE_NORMAL,
  FILE_ATTRIBUTE_READONLY,
  FILE_ATTRIBUTE_TEMPORARY,
  FILE_CREATE,
  FILE_DIRECTORY_FILE,
  FILE_EXECUTE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_LIST_DIRECTORY,
  FILE_OVERWRITE,
  FILE_READ_ATTRIBUTES,
  FILE_READ_DATA,
  FILE_WRITE_ATTRIBUTES,
  FILE_WRITE_DATA,
} from "../../emulator/io/index.js";
import type { NTSTATUS } from "../../emulator/kernel/index.js";
import type { MemSmbServer } from "../../miniredirs/memsmb/server/index.js";
import { connect, dec, enc, mustOpen, newServer, open, S, sn, T0 } from "./_server-fixture.js";

const RW = FILE_GENERIC_READ | FILE_GENERIC_WRITE;

function rw(srv: MemSmbServer, treeId: number, path: string, extra = 0): number {
  return mustOpen(srv, treeId, path, { desiredAccess: RW | extra });
}

// ── read / write ──────────────────────────────────────────────────────────────────────────────────────────────

test("read: partial, at and after end of file, zero length, bad parameters", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "readme.txt");
  t.is(dec(srv.read(f, 0, 5, T0).data), "hello");
  t.is(dec(srv.read(f, 6, 100, T0).data), "world", "cut at end of file");
  const eof = srv.read(f, 11, 1, T0);
  t.is(sn(eof.status), "STATUS_END_OF_FILE");
  t.is(eof.data.length, 0);
  t.is(sn(srv.read(f, 500, 1, T0).status), "STATUS_END_OF_FILE");
  t.is(sn(srv.read(f, 11, 0, T0).status), "STATUS_SUCCESS", "a zero-length read succeeds even at end of file");
  t.is(sn(srv.read(f, -1, 1, T0).status), "STATUS_INVALID_PARAMETER");
  t.is(sn(srv.read(f, 0, 1.5, T0).status), "STATUS_INVALID_PARAMETER");
  const dir = mustOpen(srv, treeId, "docs");
  t.is(sn(srv.read(dir, 0, 1, T0).status), "STATUS_INVALID_DEVICE_REQUEST");
  t.is(sn(srv.write(dir, 0, enc("x"), T0).status), "STATUS_INVALID_DEVICE_REQUEST");
});

test("read needs FILE_READ_DATA or FILE_EXECUTE; write needs FILE_WRITE_DATA or FILE_APPEND_DATA", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const attrs = mustOpen(srv, treeId, "readme.txt", { desiredAccess: FILE_READ_ATTRIBUTES });
  t.is(sn(srv.read(attrs, 0, 1, T0).status), "STATUS_ACCESS_DENIED");
  t.is(sn(srv.write(attrs, 0, enc("x"), T0).status), "STATUS_ACCESS_DENIED");
  t.is(sn(srv.flush(attrs)), "STATUS_ACCESS_DENIED");
  const exec = mustOpen(srv, treeId, "readme.txt", { desiredAccess: FILE_EXECUTE });
  t.is(sn(srv.read(exec, 0, 1, T0).status), "STATUS_SUCCESS");
  const w = mustOpen(srv, treeId, "readme.txt", { desiredAccess: FILE_WRITE_DATA });
  t.is(sn(srv.write(w, 0, enc("H"), T0).status), "STATUS_SUCCESS");
  t.is(sn(srv.flush(w)), "STATUS_SUCCESS");
  t.is(sn(srv.read(w, 0, 1, T0).status), "STATUS_ACCESS_DENIED");
});

test("write: overwrite in place, extend, zero-fill a gap, append with -1 and through an append-only open", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = rw(srv, treeId, "readme.txt");
  t.deepEqual(srv.write(f, 0, enc("HELLO"), T0), { status: S.STATUS_SUCCESS, count: 5 });
  t.is(dec(srv.fileData("data", "readme.txt")), "HELLO world");
  srv.write(f, 11, enc("!"), T0);
  t.is(dec(srv.fileData("data", "readme.txt")), "HELLO world!");
  srv.write(f, 14, enc("x"), T0);
  t.deepEqual([...(srv.fileData("data", "readme.txt") ?? [])].slice(12), [0, 0, 0x78]);
  srv.write(f, -1, enc("END"), T0);
  t.is(srv.queryInfo(f).info.size, 18);
  t.is(dec(srv.fileData("data", "readme.txt")).slice(-3), "END");
  const app = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: FILE_APPEND_DATA });
  t.is(sn(srv.write(app, 0, enc("++"), T0).status), "STATUS_SUCCESS");
  t.is(dec(srv.fileData("data", "docs\\a.txt")), "AAAA++", "append-only writes land at end of file");
  t.deepEqual(srv.write(f, 0, new Uint8Array(0), T0), { status: S.STATUS_SUCCESS, count: 0 });
  t.is(sn(srv.write(f, -2, enc("x"), T0).status), "STATUS_INVALID_PARAMETER");
  t.is(srv.queryInfo(f).info.allocationSize, 4096);
});

test("setEndOfFile: truncate and extend with zeros; access and directory checks", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = rw(srv, treeId, "readme.txt");
  t.is(sn(srv.setEndOfFile(f, 5, T0)), "STATUS_SUCCESS");
  t.is(dec(srv.fileData("data", "readme.txt")), "hello");
  t.is(sn(srv.setEndOfFile(f, 8, T0)), "STATUS_SUCCESS");
  t.deepEqual([...(srv.fileData("data", "readme.txt") ?? [])].slice(5), [0, 0, 0], "no stale bytes come back");
  t.is(sn(srv.setEndOfFile(f, -1, T0)), "STATUS_INVALID_PARAMETER");
  const r = mustOpen(srv, treeId, "readme.txt", { desiredAccess: FILE_GENERIC_READ });
  t.is(sn(srv.setEndOfFile(r, 0, T0)), "STATUS_ACCESS_DENIED");
  const d = mustOpen(srv, treeId, "docs", { desiredAccess: RW });
  t.is(sn(srv.setEndOfFile(d, 0, T0)), "STATUS_INVALID_PARAMETER");
});

test("space: writes beyond the share's capacity fail with STATUS_DISK_FULL; queryVolume reports it", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv, "alice", "pub"); // capacity 64 KiB
  const v0 = srv.queryVolume(treeId);
  t.like(v0, { status: S.STATUS_SUCCESS, label: "PUBLIC", totalBytes: 65536, freeBytes: 65536, fsName: "MEMSMB" });
  const f = mustOpen(srv, treeId, "big.bin", { disposition: FILE_CREATE, desiredAccess: RW | DELETE });
  t.is(sn(srv.write(f, 0, new Uint8Array(5000), T0).status), "STATUS_SUCCESS");
  t.is(srv.queryVolume(treeId).freeBytes, 65536 - 8192, "counted in 4 KiB clusters");
  t.is(sn(srv.write(f, 60000, new Uint8Array(10000), T0).status), "STATUS_DISK_FULL");
  t.is(srv.queryInfo(f).info.size, 5000, "a failed write changes nothing");
  t.is(sn(srv.setEndOfFile(f, 70000, T0)), "STATUS_DISK_FULL");
  t.is(sn(srv.setEndOfFile(f, 65536, T0)), "STATUS_SUCCESS");
  t.is(srv.queryVolume(treeId).freeBytes, 0);
  srv.setDisposition(f, true);
  srv.close(f, T0);
  t.is(srv.queryVolume(treeId).freeBytes, 65536, "deleting gives the space back");
  const data = connect(srv, "alice", "data");
  const v = srv.queryVolume(data.treeId);
  t.is(v.label, "Data");
  t.is(v.totalBytes, 1024 * 1024 * 1024);
  const again = newServer();
  t.is(v.serial, again.queryVolume(connect(again, "alice", "data").treeId).serial, "deterministic serial");
  t.not(v.serial, v0.serial);
});

// ── timestamps ────────────────────────────────────────────────────────────────────────────────────────────────

test("timestamps: create sets all four and the parent's write/change; write, read, setEndOfFile", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const c = open(srv, treeId, "docs\\t.txt", { disposition: FILE_CREATE, desiredAccess: RW }, 100);
  t.like(c.info, { creationTime: 100, lastAccessTime: 100, lastWriteTime: 100, changeTime: 100 });
  t.like(srv.pathInfo("data", "docs"), { lastWriteTime: 100, changeTime: 100, creationTime: 0 });
  srv.write(c.fileId, 0, enc("abc"), 200);
  t.like(srv.queryInfo(c.fileId).info, { creationTime: 100, lastAccessTime: 100, lastWriteTime: 200, changeTime: 200 });
  srv.read(c.fileId, 0, 3, 300);
  t.like(srv.queryInfo(c.fileId).info, { creationTime: 100, lastAccessTime: 300, lastWriteTime: 200, changeTime: 200 });
  srv.read(c.fileId, 50, 3, 350);
  t.is(srv.queryInfo(c.fileId).info.lastAccessTime, 300, "a failed read does not touch the file");
  srv.setEndOfFile(c.fileId, 1, 400);
  t.like(srv.queryInfo(c.fileId).info, { creationTime: 100, lastAccessTime: 300, lastWriteTime: 400, changeTime: 400 });
  t.like(srv.pathInfo("data", "docs"), { lastWriteTime: 100 }, "file writes leave the parent alone");
});

test("timestamps and attributes: setBasic", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "readme.txt", { desiredAccess: FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES });
  t.is(sn(srv.setBasic(f, { lastWriteTime: 777 }, 1000)), "STATUS_SUCCESS");
  t.like(srv.queryInfo(f).info, { lastWriteTime: 777, changeTime: 1000, creationTime: 0 });
  srv.setBasic(f, { creationTime: 5, lastAccessTime: 6, changeTime: 8 }, 2000);
  t.like(srv.queryInfo(f).info, { creationTime: 5, lastAccessTime: 6, lastWriteTime: 777, changeTime: 8 });
  srv.setBasic(f, { creationTime: 0, lastAccessTime: -1 }, 3000);
  t.like(srv.queryInfo(f).info, { creationTime: 5, lastAccessTime: 6, changeTime: 8 }, "0 and -1 leave fields alone");
  srv.setBasic(f, { attributes: FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY }, 4000);
  t.like(srv.queryInfo(f).info, { attributes: FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY, changeTime: 4000 });
  srv.setBasic(f, { attributes: FILE_ATTRIBUTE_NORMAL }, 5000);
  t.is(srv.queryInfo(f).info.attributes, FILE_ATTRIBUTE_NORMAL, "NORMAL clears them; a file with none reports NORMAL");
  t.is(sn(srv.setBasic(f, { attributes: FILE_ATTRIBUTE_DIRECTORY }, 1)), "STATUS_INVALID_PARAMETER");
  const d = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_WRITE_ATTRIBUTES });
  t.is(sn(srv.setBasic(d, { attributes: FILE_ATTRIBUTE_TEMPORARY }, 1)), "STATUS_INVALID_PARAMETER");
  t.is(sn(srv.setBasic(d, { attributes: FILE_ATTRIBUTE_HIDDEN }, 1)), "STATUS_SUCCESS");
  t.is(srv.pathInfo("data", "docs")?.attributes, FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_HIDDEN);
  const ro = mustOpen(srv, treeId, "readme.txt");
  t.is(sn(srv.setBasic(ro, { lastWriteTime: 1 }, 1)), "STATUS_ACCESS_DENIED", "needs FILE_WRITE_ATTRIBUTES");
});

test("overwrite resets size and attributes and sets write/change/access time", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const r = open(
    srv,
    treeId,
    "readme.txt",
    { disposition: FILE_OVERWRITE, desiredAccess: RW, fileAttributes: FILE_ATTRIBUTE_TEMPORARY },
    900,
  );
  t.is(sn(r.status), "STATUS_SUCCESS");
  t.like(r.info, { size: 0, lastWriteTime: 900, changeTime: 900, lastAccessTime: 900, creationTime: 0 });
  t.is(r.info.attributes, FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_ARCHIVE);
  t.is(dec(srv.fileData("data", "readme.txt")), "");
});

// ── rename ────────────────────────────────────────────────────────────────────────────────────────────────────

test("rename: within a directory, across directories, case only; other opens follow", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: DELETE | FILE_READ_DATA });
  const other = mustOpen(srv, treeId, "docs\\a.txt");
  t.is(sn(srv.rename(f, "docs\\renamed.txt", false, 50)), "STATUS_SUCCESS");
  t.is(srv.queryInfo(other).info.path, "\\docs\\renamed.txt");
  t.is(srv.queryInfo(f).info.changeTime, 50);
  t.like(srv.pathInfo("data", "docs"), { lastWriteTime: 50, changeTime: 50 });
  t.is(sn(srv.rename(f, "\\empty\\moved.txt", false, 60)), "STATUS_SUCCESS");
  t.is(dec(srv.fileData("data", "empty\\moved.txt")), "AAAA");
  t.is(srv.fileData("data", "docs\\renamed.txt"), null);
  t.is(sn(srv.rename(f, "empty\\MOVED.TXT", false, 70)), "STATUS_SUCCESS", "case-only rename");
  t.is(srv.queryInfo(f).info.name, "MOVED.TXT");
  t.is(sn(srv.rename(f, "empty\\MOVED.TXT", false, 80)), "STATUS_SUCCESS", "same name: no-op");
  t.is(srv.queryInfo(f).info.changeTime, 70);
  t.is(dec(srv.read(other, 0, 10, T0).data), "AAAA");
  t.deepEqual(srv.audit(), []);
});

test("rename: collisions, replace, and the cases that are refused", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const a = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: DELETE });
  const noDel = mustOpen(srv, treeId, "docs\\a.txt");
  t.is(sn(srv.rename(noDel, "docs\\z.txt", false, T0)), "STATUS_ACCESS_DENIED", "needs DELETE");
  t.is(sn(srv.rename(a, "docs\\b.txt", false, T0)), "STATUS_OBJECT_NAME_COLLISION");
  t.is(sn(srv.rename(a, "DOCS\\B.TXT", false, T0)), "STATUS_OBJECT_NAME_COLLISION");
  t.is(sn(srv.rename(a, "docs\\sub", true, T0)), "STATUS_ACCESS_DENIED", "target is a directory");
  t.is(sn(srv.rename(a, "nodir\\x.txt", false, T0)), "STATUS_OBJECT_PATH_NOT_FOUND");
  t.is(sn(srv.rename(a, "readme.txt\\x.txt", false, T0)), "STATUS_OBJECT_PATH_NOT_FOUND");
  t.is(sn(srv.rename(a, "", false, T0)), "STATUS_OBJECT_NAME_INVALID");
  t.is(sn(srv.rename(a, "ro.txt", true, T0)), "STATUS_ACCESS_DENIED", "read-only target");
  const b = mustOpen(srv, treeId, "docs\\b.txt");
  t.is(sn(srv.rename(a, "docs\\b.txt", true, T0)), "STATUS_ACCESS_DENIED", "target open");
  srv.close(b, T0);
  t.is(sn(srv.rename(a, "docs\\b.txt", true, T0)), "STATUS_SUCCESS");
  t.is(dec(srv.fileData("data", "docs\\b.txt")), "AAAA");
  t.is(srv.fileData("data", "docs\\a.txt"), null);
  // directories
  const docs = mustOpen(srv, treeId, "docs", { desiredAccess: DELETE });
  t.is(sn(srv.rename(docs, "docs2", false, T0)), "STATUS_ACCESS_DENIED", "open files below");
  srv.close(a, T0);
  srv.close(noDel, T0);
  t.is(sn(srv.rename(docs, "docs\\sub\\inner", false, T0)), "STATUS_INVALID_PARAMETER", "into its own subtree");
  t.is(sn(srv.rename(docs, "docs\\x", false, T0)), "STATUS_INVALID_PARAMETER");
  t.is(sn(srv.rename(docs, "empty\\docs", false, T0)), "STATUS_SUCCESS");
  t.is(dec(srv.fileData("data", "empty\\docs\\sub\\c.txt")), "CCCC");
  const root = mustOpen(srv, treeId, "", { desiredAccess: DELETE });
  t.is(sn(srv.rename(root, "x", false, T0)), "STATUS_INVALID_PARAMETER");
  const pending = mustOpen(srv, treeId, "readme.txt", { desiredAccess: DELETE });
  srv.setDisposition(pending, true);
  t.is(sn(srv.rename(pending, "x.txt", false, T0)), "STATUS_DELETE_PENDING");
  t.deepEqual(srv.audit(), []);
});

// ── byte-range locks ──────────────────────────────────────────────────────────────────────────────────────────

interface LockLog {
  readonly events: string[];
  cb(name: string): (s: NTSTATUS) => void;
}

function lockLog(): LockLog {
  const events: string[] = [];
  return {
    events,
    cb: (name) => (s) => {
      events.push(`${name}:${sn(s)}`);
    },
  };
}

function lockSetup() {
  const srv = newServer();
  const { treeId, sessionId } = connect(srv);
  const f = (path = "docs\\a.txt") => rw(srv, treeId, path);
  return { srv, treeId, sessionId, f };
}

const X = (offset: number, length: number, failImmediately = true, key?: number) =>
  key === undefined
    ? { offset, length, exclusive: true, failImmediately }
    : { offset, length, exclusive: true, failImmediately, key };
const SH = (offset: number, length: number, failImmediately = true) => ({
  offset,
  length,
  exclusive: false,
  failImmediately,
});

test("locks: grant, conflict with failImmediately, shared over shared, exclusive over shared", (t) => {
  const { srv, f } = lockSetup();
  const log = lockLog();
  const a = f();
  const b = f();
  t.deepEqual(srv.lock(a, X(0, 10), log.cb("a")), { status: S.STATUS_SUCCESS, waitId: 0 });
  t.is(sn(srv.lock(b, X(5, 10), log.cb("b")).status), "STATUS_LOCK_NOT_GRANTED");
  t.is(sn(srv.lock(b, SH(9, 1), log.cb("b")).status), "STATUS_LOCK_NOT_GRANTED");
  t.is(sn(srv.lock(b, X(10, 10), log.cb("b")).status), "STATUS_SUCCESS", "adjacent ranges do not overlap");
  t.is(sn(srv.lock(a, SH(100, 10), log.cb("a")).status), "STATUS_SUCCESS");
  t.is(sn(srv.lock(b, SH(105, 10), log.cb("b")).status), "STATUS_SUCCESS", "shared overlaps shared");
  t.is(sn(srv.lock(b, X(100, 1), log.cb("b")).status), "STATUS_LOCK_NOT_GRANTED");
  t.is(
    sn(srv.lock(a, X(105, 1), log.cb("a")).status),
    "STATUS_LOCK_NOT_GRANTED",
    "exclusive over own shared conflicts",
  );
  t.is(
    sn(srv.lock(a, X(0, 10), log.cb("a")).status),
    "STATUS_LOCK_NOT_GRANTED",
    "exclusive over own exclusive conflicts",
  );
  t.is(sn(srv.lock(a, SH(0, 10), log.cb("a")).status), "STATUS_SUCCESS", "shared stacks on own exclusive");
  t.is(
    sn(srv.lock(a, { ...SH(0, 10), key: 7 }, log.cb("a")).status),
    "STATUS_LOCK_NOT_GRANTED",
    "...with the same key only",
  );
  t.deepEqual(log.events, [], "no callbacks for immediate answers");
});

test("locks: zero-length locks are granted and never conflict", (t) => {
  const { srv, f } = lockSetup();
  const log = lockLog();
  const a = f();
  const b = f();
  t.is(sn(srv.lock(a, X(0, 10), log.cb("a")).status), "STATUS_SUCCESS");
  t.is(sn(srv.lock(b, X(5, 0), log.cb("b")).status), "STATUS_SUCCESS");
  t.is(sn(srv.lock(b, X(5, 0), log.cb("b")).status), "STATUS_SUCCESS");
  t.is(sn(srv.lock(a, X(5, 0), log.cb("a")).status), "STATUS_SUCCESS");
  t.is(sn(srv.read(a, 0, 10, T0).status), "STATUS_SUCCESS");
  t.is(sn(srv.unlock(b, 5, 0)), "STATUS_SUCCESS");
  t.is(sn(srv.unlock(b, 5, 0)), "STATUS_SUCCESS");
  t.is(sn(srv.unlock(b, 5, 0)), "STATUS_RANGE_NOT_LOCKED");
});

test("locks: unlock needs the exact range and key of a lock of the same open", (t) => {
  const { srv, f } = lockSetup();
  const log = lockLog();
  const a = f();
  const b = f();
  srv.lock(a, X(0, 10, true, 3), log.cb("a"));
  t.is(sn(srv.unlock(a, 0, 5, 3)), "STATUS_RANGE_NOT_LOCKED");
  t.is(sn(srv.unlock(a, 0, 10)), "STATUS_RANGE_NOT_LOCKED", "key defaults to 0");
  t.is(sn(srv.unlock(b, 0, 10, 3)), "STATUS_RANGE_NOT_LOCKED", "another open's lock");
  t.is(sn(srv.unlock(a, 0, 10, 3)), "STATUS_SUCCESS");
  t.is(sn(srv.unlock(a, 0, 10, 3)), "STATUS_RANGE_NOT_LOCKED");
  const d = mustOpen(srv, connect(srv).treeId, "docs", { desiredAccess: FILE_READ_DATA });
  t.is(sn(srv.lock(d, X(0, 1), log.cb("d")).status), "STATUS_INVALID_PARAMETER", "a directory");
  t.is(sn(srv.unlock(d, 0, 1)), "STATUS_INVALID_PARAMETER");
  const attrOnly = mustOpen(srv, connect(srv).treeId, "docs\\a.txt", { desiredAccess: FILE_READ_ATTRIBUTES });
  t.is(sn(srv.lock(attrOnly, X(0, 1), log.cb("x")).status), "STATUS_ACCESS_DENIED");
  t.is(sn(srv.lock(a, X(-1, 1), log.cb("a")).status), "STATUS_INVALID_PARAMETER");
});

test("locks: I/O against locks (LockFileEx rules)", (t) => {
  const { srv, f } = lockSetup();
  const log = lockLog();
  const owner = f();
  const other = f();
  srv.write(owner, 0, new Uint8Array(100), T0);
  srv.lock(owner, X(0, 10), log.cb("o"));
  t.is(sn(srv.read(owner, 0, 10, T0).status), "STATUS_SUCCESS", "own exclusive lock: read");
  t.is(sn(srv.write(owner, 0, enc("x"), T0).status), "STATUS_SUCCESS", "own exclusive lock: write");
  t.is(sn(srv.read(other, 5, 10, T0).status), "STATUS_FILE_LOCK_CONFLICT");
  t.is(sn(srv.write(other, 9, enc("x"), T0).status), "STATUS_FILE_LOCK_CONFLICT");
  t.is(sn(srv.read(other, 10, 10, T0).status), "STATUS_SUCCESS");
  srv.lock(owner, SH(50, 10), log.cb("o"));
  t.is(sn(srv.read(other, 50, 10, T0).status), "STATUS_SUCCESS", "shared lock: others may read");
  t.is(sn(srv.write(other, 55, enc("x"), T0).status), "STATUS_FILE_LOCK_CONFLICT", "shared lock: nobody writes");
  t.is(sn(srv.write(owner, 55, enc("x"), T0).status), "STATUS_FILE_LOCK_CONFLICT", "...not even the owner");
  t.is(sn(srv.read(other, 200, 10, T0).status), "STATUS_END_OF_FILE");
  srv.lock(owner, X(200, 10), log.cb("o"));
  t.is(sn(srv.read(other, 200, 10, T0).status), "STATUS_FILE_LOCK_CONFLICT", "locks beyond end of file count first");
  t.is(sn(srv.write(other, 0, new Uint8Array(0), T0).status), "STATUS_SUCCESS", "zero-length I/O never conflicts");
});

test("locks: waiters are granted in FIFO order when the conflicting lock goes", (t) => {
  const { srv, f } = lockSetup();
  const log = lockLog();
  const h = f();
  const a = f();
  const b = f();
  srv.lock(h, X(0, 10), log.cb("h"));
  const wa = srv.lock(a, X(0, 10, false), log.cb("a"));
  const wb = srv.lock(b, X(5, 10, false), log.cb("b"));
  t.is(sn(wa.status), "STATUS_PENDING");
  t.is(sn(wb.status), "STATUS_PENDING");
  t.true(wa.waitId > 0 && wb.waitId > wa.waitId);
  t.is(srv.stats.pendingLocks, 2);
  t.is(sn(srv.unlock(h, 0, 10)), "STATUS_SUCCESS");
  t.deepEqual(log.events, ["a:STATUS_SUCCESS"], "a first; b still conflicts with a's new lock");
  t.is(srv.stats.pendingLocks, 1);
  srv.unlock(a, 0, 10);
  t.deepEqual(log.events, ["a:STATUS_SUCCESS", "b:STATUS_SUCCESS"]);
  t.is(sn(srv.lock(a, X(5, 1), log.cb("a")).status), "STATUS_LOCK_NOT_GRANTED", "b holds it now");
  t.is(srv.stats.pendingLocks, 0);
});

test("locks: a blocked waiter does not hold back later ones; several grants keep their order", (t) => {
  const { srv, f } = lockSetup();
  const log = lockLog();
  const h1 = f();
  const h2 = f();
  const a = f();
  const b = f();
  const c = f();
  srv.lock(h1, X(0, 10), log.cb("h1"));
  srv.lock(h2, X(20, 10), log.cb("h2"));
  srv.lock(a, X(0, 10, false), log.cb("a"));
  srv.lock(b, SH(20, 5, false), log.cb("b"));
  srv.lock(c, SH(22, 5, false), log.cb("c"));
  srv.unlock(h2, 20, 10);
  t.deepEqual(log.events, ["b:STATUS_SUCCESS", "c:STATUS_SUCCESS"]);
  srv.close(h1, T0);
  t.deepEqual(log.events, ["b:STATUS_SUCCESS", "c:STATUS_SUCCESS", "a:STATUS_SUCCESS"], "closing the holder releases");
});

test("locks: cancel, close of the waiting open, tree disconnect, logoff", (t) => {
  const { srv, f, treeId, sessionId } = lockSetup();
  const log = lockLog();
  const h = f();
  const a = f();
  const b = f();
  srv.lock(h, X(0, 10), log.cb("h"));
  const wa = srv.lock(a, X(0, 10, false), log.cb("a"));
  const wb = srv.lock(b, X(0, 10, false), log.cb("b"));
  t.false(srv.cancelLockWait(b, wa.waitId), "the token belongs to another open");
  t.true(srv.cancelLockWait(a, wa.waitId));
  t.deepEqual(log.events, ["a:STATUS_CANCELLED"]);
  t.false(srv.cancelLockWait(a, wa.waitId), "only once");
  srv.close(b, T0);
  t.deepEqual(log.events, ["a:STATUS_CANCELLED", "b:STATUS_RANGE_NOT_LOCKED"]);
  t.false(srv.cancelLockWait(b, wb.waitId));
  // tree disconnect / logoff
  const other = connect(srv);
  const c = mustOpen(srv, other.treeId, "docs\\a.txt", { desiredAccess: RW });
  srv.lock(c, X(0, 10, false), log.cb("c"));
  const d = f();
  srv.lock(d, X(0, 10, false), log.cb("d"));
  t.is(srv.stats.pendingLocks, 2);
  srv.treeDisconnect(other.treeId, T0);
  t.deepEqual(log.events.slice(2), ["c:STATUS_NETWORK_NAME_DELETED"]);
  srv.logoff(sessionId, T0);
  t.deepEqual(log.events.slice(3), ["d:STATUS_NETWORK_NAME_DELETED"]);
  t.deepEqual(srv.stats, { sessions: 1, trees: 0, opens: 0, pendingNotifies: 0, pendingLocks: 0 });
  t.is(sn(srv.lock(h, X(0, 1), log.cb("h")).status), "STATUS_FILE_CLOSED");
  t.is(treeId > 0, true);
});

test("locks: a callback may call back into the server", (t) => {
  const { srv, f } = lockSetup();
  const h = f();
  const a = f();
  const events: string[] = [];
  srv.lock(h, X(0, 10), () => {});
  srv.lock(a, X(0, 10, false), (s) => {
    events.push(`granted ${sn(s)}`);
    events.push(`unlock ${sn(srv.unlock(a, 0, 10))}`);
    events.push(`relock ${sn(srv.lock(h, X(0, 10), () => {}).status)}`);
  });
  srv.unlock(h, 0, 10);
  t.deepEqual(events, ["granted STATUS_SUCCESS", "unlock STATUS_SUCCESS", "relock STATUS_SUCCESS"]);
  t.deepEqual(srv.audit(), []);
});

test("queryInfo fields", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "docs\\sub\\c.txt", { desiredAccess: FILE_READ_ATTRIBUTES });
  const info = srv.queryInfo(f).info;
  t.like(info, {
    name: "c.txt",
    path: "\\docs\\sub\\c.txt",
    directory: false,
    size: 4,
    allocationSize: 4096,
    attributes: FILE_ATTRIBUTE_ARCHIVE,
    deletePending: false,
    numberOfLinks: 1,
  });
  t.true(info.fileId > 0);
  const root = srv.queryInfo(mustOpen(srv, treeId, "\\", { desiredAccess: FILE_LIST_DIRECTORY })).info;
  t.like(root, {
    name: "",
    path: "\\",
    directory: true,
    size: 0,
    allocationSize: 0,
    attributes: FILE_ATTRIBUTE_DIRECTORY,
  });
  t.not(root.fileId, info.fileId);
  const d = mustOpen(srv, treeId, "nd", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE });
  t.true(srv.queryInfo(d).info.directory);
});
