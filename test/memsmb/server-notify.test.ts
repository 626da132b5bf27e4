/**
 * memsmb server: directory enumeration (cursor, patterns, "." / "..") and change notification (actions, filters,
 * watch-tree, buffering, overflow, cleanup, cancel, disconnect).
 */
import test from "ava";
import {
  DELETE,
  FILE_ACTION_ADDED,
  FILE_ACTION_MODIFIED,
  FILE_ACTION_REMOVED,
  FILE_ACTION_RENAMED_NEW_NAME,
  FILE_ACTION_RENAMED_OLD_NAME,
  FILE_ATTRIBUTE_HIDDEN,
  FILE_CREATE,
  FILE_DIRECTORY_FILE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE,
  FILE_NOTIFY_CHANGE_ATTRIBUTES,
  FILE_NOTIFY_CHANGE_CREATION,
  FILE_NOTIFY_CHANGE_DIR_NAME,
  FILE_NOTIFY_CHANGE_FILE_NAME,
  FILE_NOTIFY_CHANGE_LAST_ACCESS,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  FILE_NOTIFY_CHANGE_SECURITY,
  FILE_NOTIFY_CHANGE_SIZE,
  FILE_NOTIFY_VALID_MASK,
  FILE_OVERWRITE,
  FILE_READ_ATTRIBUTES,
  FILE_WRITE_ATTRIBUTES,
} from "../../emulator/io/index.js";
import {
  type DirectoryQuery,
  type MemSmbServer,
  matchPattern,
  type NotifyResult,
} from "../../miniredirs/memsmb/server/index.js";
import { connect, enc, mustOpen, newServer, open, S, sn, T0 } from "./_server-fixture.js";

const ALL = FILE_NOTIFY_VALID_MASK;
const NAMES = FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME;

function q(over: Partial<DirectoryQuery> = {}): DirectoryQuery {
  return { pattern: null, restart: false, single: false, maxEntries: 1000, ...over };
}

function names(srv: MemSmbServer, dir: number, over: Partial<DirectoryQuery> = {}): string[] | string {
  const r = srv.queryDirectory(dir, q(over));
  return r.status === S.STATUS_SUCCESS ? r.entries.map((e) => e.name) : sn(r.status);
}

// ── pattern matching ──────────────────────────────────────────────────────────────────────────────────────────

test("matchPattern: * ? and the DOS wildcards, case-insensitively", (t) => {
  const yes: [string, string][] = [
    ["*", "anything.txt"],
    ["*", "."],
    ["*.txt", "a.txt"],
    ["*.TXT", "a.txt"],
    ["*.txt", ".txt"],
    ["a*", "a"],
    ["a*b*c", "aXXbYYc"],
    ["?", "a"],
    ["??.txt", "ab.txt"],
    ["*.*", "a.b"],
    ["README.TXT", "readme.txt"],
    ["<.txt", "a.b.txt"],
    ["<", "abc"],
    ['a"', "a"],
    ['a"*', "a"],
    ['a"*', "a.txt"],
    [">>>", "ab"],
    [">>>.txt", "ab.txt"],
    ["Ä*", "äbc"],
  ];
  const no: [string, string][] = [
    ["*.txt", "a.txt.bak"],
    ["?", "ab"],
    ["?", ""],
    ["*.*", "noext"],
    ["a", "b"],
    ["<.txt", "a.txt.x"],
    ["<", "a.b"],
    [">", "ab"],
    ["a*b", "ac"],
    ['a".txt', "a.txt"],
    ['a"', "ab"],
  ];
  for (const [p, n] of yes) t.true(matchPattern(p, n), `${p} ~ ${n}`);
  for (const [p, n] of no) t.false(matchPattern(p, n), `${p} !~ ${n}`);
});

// ── queryDirectory ────────────────────────────────────────────────────────────────────────────────────────────

test("queryDirectory: sorted listing, '.' and '..' except at the share root", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const root = mustOpen(srv, treeId, "", { desiredAccess: FILE_LIST_DIRECTORY });
  t.deepEqual(names(srv, root), ["docs", "empty", "hidden.txt", "readme.txt", "ro.txt"]);
  const docs = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  const r = srv.queryDirectory(docs, q());
  t.deepEqual(
    r.entries.map((e) => [e.name, e.path, e.directory]),
    [
      [".", "\\docs", true],
      ["..", "\\", true],
      ["a.txt", "\\docs\\a.txt", false],
      ["b.txt", "\\docs\\b.txt", false],
      ["sub", "\\docs\\sub", true],
    ],
  );
  t.is(r.entries[2]?.size, 4);
  t.is(sn(srv.queryDirectory(docs, q()).status), "STATUS_NO_MORE_FILES");
  t.deepEqual(names(srv, docs, { restart: true }), [".", "..", "a.txt", "b.txt", "sub"]);
});

test("queryDirectory: NTFS order is the ordinal order of upcased names", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv, "alice", "pub");
  for (const n of ["b", "A", "_x", "a1", "Z", "z0", "~", "ä"]) mustOpen(srv, treeId, n, { disposition: FILE_CREATE });
  const root = mustOpen(srv, treeId, "", { desiredAccess: FILE_LIST_DIRECTORY });
  t.deepEqual(names(srv, root), ["A", "a1", "b", "Z", "z0", "_x", "~", "ä"]);
});

test("queryDirectory: patterns, single, pagination, NO_SUCH_FILE vs NO_MORE_FILES", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const docs = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  t.deepEqual(names(srv, docs, { pattern: "*.TXT" }), ["a.txt", "b.txt"]);
  t.is(names(srv, docs), "STATUS_NO_MORE_FILES", "the pattern stays, the scan is over");
  t.deepEqual(names(srv, docs, { pattern: "?", restart: true }), ["."]);
  t.deepEqual(names(srv, docs, { pattern: "A.TXT", restart: true }), ["a.txt"]);
  t.is(names(srv, docs, { pattern: "nothing*", restart: true }), "STATUS_NO_SUCH_FILE");
  t.is(names(srv, docs), "STATUS_NO_MORE_FILES");
  t.deepEqual(names(srv, docs, { restart: true, pattern: "*", single: true }), ["."]);
  t.deepEqual(names(srv, docs, { single: true }), [".."]);
  t.deepEqual(names(srv, docs, { maxEntries: 2 }), ["a.txt", "b.txt"]);
  t.deepEqual(names(srv, docs, { maxEntries: 2, pattern: "ignored" }), ["sub"], "the pattern is fixed until restart");
  t.is(names(srv, docs), "STATUS_NO_MORE_FILES");
  t.is(names(srv, docs, { restart: true, maxEntries: 0 }), "STATUS_INVALID_PARAMETER");
  t.is(names(srv, docs, { restart: true, pattern: "a\\b" }), "STATUS_OBJECT_NAME_INVALID");
  t.is(names(srv, docs, { restart: true, pattern: "a:b" }), "STATUS_OBJECT_NAME_INVALID");
  t.deepEqual(names(srv, docs, { restart: true, pattern: "" }), [".", "..", "a.txt", "b.txt", "sub"], '"" = "*"');
  // each open has its own cursor
  const docs2 = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  t.deepEqual(names(srv, docs2, { pattern: "b*" }), ["b.txt"]);
});

test("queryDirectory: changes during a scan show up after the cursor only", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const docs = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  t.deepEqual(names(srv, docs, { maxEntries: 3 }), [".", "..", "a.txt"]);
  mustOpen(srv, treeId, "docs\\0-before.txt", { disposition: FILE_CREATE });
  mustOpen(srv, treeId, "docs\\c-after.txt", { disposition: FILE_CREATE });
  const b = mustOpen(srv, treeId, "docs\\b.txt", { desiredAccess: DELETE });
  srv.setDisposition(b, true);
  srv.close(b, T0);
  t.deepEqual(names(srv, docs), ["c-after.txt", "sub"]);
});

test("queryDirectory: needs a directory and FILE_LIST_DIRECTORY; delete-pending entries are listed", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "readme.txt");
  t.is(names(srv, f), "STATUS_INVALID_PARAMETER");
  const noList = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_READ_ATTRIBUTES });
  t.is(names(srv, noList), "STATUS_ACCESS_DENIED");
  const a = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: DELETE });
  srv.setDisposition(a, true);
  const docs = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  const entries = srv.queryDirectory(docs, q({ pattern: "a.txt" })).entries;
  t.is(entries.length, 1);
  t.true(entries[0]?.deletePending);
});

// ── change notification ───────────────────────────────────────────────────────────────────────────────────────

interface Watcher {
  readonly id: number;
  readonly status: string;
  readonly results: NotifyResult[];
  /** Results as "ACTION name" strings (or the status when there are no records). */
  flat(): string[];
}

const ACTION_NAMES: Record<number, string> = {
  [FILE_ACTION_ADDED]: "ADDED",
  [FILE_ACTION_REMOVED]: "REMOVED",
  [FILE_ACTION_MODIFIED]: "MODIFIED",
  [FILE_ACTION_RENAMED_OLD_NAME]: "OLD",
  [FILE_ACTION_RENAMED_NEW_NAME]: "NEW",
};

function show(r: NotifyResult): string[] {
  if (r.records.length === 0) return [sn(r.status)];
  return r.records.map((x) => `${ACTION_NAMES[x.action] ?? x.action} ${x.fileName}`);
}

function watch(srv: MemSmbServer, dir: number, filter = ALL, watchTree = false, bufferLength = 4096): Watcher {
  const results: NotifyResult[] = [];
  const r = srv.notify(dir, { filter, watchTree, bufferLength }, (res) => {
    results.push(res);
  });
  return { id: r.notifyId, status: sn(r.status), results, flat: () => results.flatMap(show) };
}

function notifySetup(path = "docs") {
  const srv = newServer();
  const { treeId, sessionId } = connect(srv);
  const dir = mustOpen(srv, treeId, path, { desiredAccess: FILE_LIST_DIRECTORY });
  return { srv, treeId, sessionId, dir };
}

test("notify: a pending request completes at the next change with its records", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const w = watch(srv, dir);
  t.is(w.status, "STATUS_PENDING");
  t.true(w.id > 0);
  t.is(srv.stats.pendingNotifies, 1);
  t.is(w.results.length, 0);
  mustOpen(srv, treeId, "docs\\new.txt", { disposition: FILE_CREATE });
  t.deepEqual(w.flat(), ["ADDED new.txt"]);
  t.is(sn(w.results[0]?.status ?? 0), "STATUS_SUCCESS");
  t.is(srv.stats.pendingNotifies, 0);
  t.false(srv.cancelNotify(w.id), "already completed");
});

test("notify: actions and filters of each operation", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const seen: string[] = [];
  const arm = () =>
    srv.notify(dir, { filter: ALL, watchTree: false, bufferLength: 4096 }, (r) => {
      seen.push(...show(r));
    });
  arm();
  const f = mustOpen(srv, treeId, "docs\\f.txt", {
    disposition: FILE_CREATE,
    desiredAccess: FILE_GENERIC_WRITE | FILE_GENERIC_READ | DELETE,
  });
  arm();
  mustOpen(srv, treeId, "docs\\d", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE });
  arm();
  srv.write(f, 0, enc("data"), T0);
  arm();
  srv.write(f, 0, enc("D"), T0);
  arm();
  srv.setBasic(f, { attributes: FILE_ATTRIBUTE_HIDDEN }, T0);
  arm();
  srv.rename(f, "docs\\g.txt", false, T0);
  arm();
  srv.setEndOfFile(f, 1, T0);
  arm();
  srv.setDisposition(f, true);
  srv.close(f, T0);
  t.deepEqual(seen, [
    "ADDED f.txt",
    "ADDED d",
    "MODIFIED f.txt",
    "MODIFIED f.txt",
    "MODIFIED f.txt",
    "OLD f.txt",
    "NEW g.txt",
    "MODIFIED g.txt",
    "REMOVED g.txt",
  ]);
});

/** Which operations a watcher with exactly `filter` hears about. */
function heard(filter: number): string[] {
  const srv = newServer();
  const { treeId } = connect(srv);
  const dir = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  const out: string[] = [];
  // start the watch, then cancel the request: from now on changes are buffered until the next request
  srv.cancelNotify(srv.notify(dir, { filter, watchTree: false, bufferLength: 65536 }, () => {}).notifyId);
  const step = (label: string, fn: () => void) => {
    fn();
    const r = srv.notify(dir, { filter, watchTree: false, bufferLength: 65536 }, () => {});
    if (r.status === S.STATUS_PENDING) srv.cancelNotify(r.notifyId);
    else out.push(label);
  };
  const rw = FILE_GENERIC_READ | FILE_GENERIC_WRITE | DELETE;
  let f = 0;
  step("create file", () => {
    f = mustOpen(srv, treeId, "docs\\f.txt", { disposition: FILE_CREATE, desiredAccess: rw });
  });
  step("create dir", () =>
    mustOpen(srv, treeId, "docs\\d", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE }),
  );
  step("write extend", () => srv.write(f, 0, enc("abc"), T0 + 1));
  step("write in place", () => srv.write(f, 0, enc("x"), T0 + 2));
  step("read", () => srv.read(f, 0, 1, T0 + 3));
  step("set attributes", () => srv.setBasic(f, { attributes: FILE_ATTRIBUTE_HIDDEN }, T0 + 4));
  step("set last access", () => srv.setBasic(f, { lastAccessTime: 5 }, T0 + 5));
  step("set creation", () => srv.setBasic(f, { creationTime: 5 }, T0 + 6));
  step("set last write", () => srv.setBasic(f, { lastWriteTime: 5 }, T0 + 7));
  step("truncate", () => srv.setEndOfFile(f, 0, T0 + 8));
  step("rename file", () => srv.rename(f, "docs\\g.txt", false, T0 + 9));
  step("delete file", () => {
    srv.setDisposition(f, true);
    srv.close(f, T0 + 10);
  });
  step("rename dir", () => {
    const d = mustOpen(srv, treeId, "docs\\d", { desiredAccess: DELETE });
    srv.rename(d, "docs\\e", false, T0 + 11);
    srv.close(d, T0);
  });
  return out;
}

test("notify: the FILE_NOTIFY_CHANGE_* filter each operation matches", (t) => {
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_FILE_NAME), ["create file", "rename file", "delete file"]);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_DIR_NAME), ["create dir", "rename dir"]);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_SIZE), ["write extend", "truncate"]);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_LAST_WRITE), ["write extend", "write in place", "set last write", "truncate"]);
  // set attributes replaced ARCHIVE with HIDDEN; the truncate sets ARCHIVE again
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_ATTRIBUTES), ["set attributes", "truncate"]);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_LAST_ACCESS), ["set last access"]);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_CREATION), ["set creation"]);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE_SECURITY), []);
  t.deepEqual(heard(FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_EA | FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_STREAM_NAME), []);
});

test("notify: a change outside the filter leaves the request pending", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const w = watch(srv, dir, FILE_NOTIFY_CHANGE_DIR_NAME);
  mustOpen(srv, treeId, "docs\\file.txt", { disposition: FILE_CREATE });
  t.deepEqual(w.results, []);
  mustOpen(srv, treeId, "docs\\dir", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE });
  t.deepEqual(w.flat(), ["ADDED dir"]);
});

test("notify: watch-tree names are relative to the watched directory; without it, subdirectories are silent", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const flat = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  const tree = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  const root = mustOpen(srv, treeId, "", { desiredAccess: FILE_LIST_DIRECTORY });
  const wf = watch(srv, flat, NAMES, false);
  const wt = watch(srv, tree, NAMES, true);
  const wr = watch(srv, root, NAMES, true);
  mustOpen(srv, treeId, "docs\\sub\\deep.txt", { disposition: FILE_CREATE });
  t.deepEqual(wf.flat(), []);
  t.deepEqual(wt.flat(), ["ADDED sub\\deep.txt"]);
  t.deepEqual(wr.flat(), ["ADDED docs\\sub\\deep.txt"]);
});

test("notify: rename in place is OLD+NEW in one completion; a move is REMOVED+ADDED; replace adds REMOVED", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const root = mustOpen(srv, treeId, "", { desiredAccess: FILE_LIST_DIRECTORY });
  const a = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: DELETE });
  const all: string[][] = [];
  const arm = () => srv.notify(root, { filter: NAMES, watchTree: true, bufferLength: 4096 }, (r) => all.push(show(r)));
  arm();
  srv.rename(a, "docs\\a2.txt", false, T0);
  arm();
  srv.rename(a, "empty\\a3.txt", false, T0);
  arm();
  srv.rename(a, "docs\\b.txt", true, T0);
  t.deepEqual(all, [
    ["OLD docs\\a.txt", "NEW docs\\a2.txt"],
    ["REMOVED docs\\a2.txt", "ADDED empty\\a3.txt"],
    ["REMOVED docs\\b.txt", "REMOVED empty\\a3.txt", "ADDED docs\\b.txt"],
  ]);
});

test("notify: changes between requests are buffered and returned at once by the next request", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const first = watch(srv, dir, NAMES);
  mustOpen(srv, treeId, "docs\\1.txt", { disposition: FILE_CREATE });
  t.deepEqual(first.flat(), ["ADDED 1.txt"]);
  // no request pending: buffered
  mustOpen(srv, treeId, "docs\\2.txt", { disposition: FILE_CREATE });
  mustOpen(srv, treeId, "docs\\3.txt", { disposition: FILE_CREATE });
  const second = watch(srv, dir, NAMES);
  t.is(second.status, "STATUS_SUCCESS", "completed before notify returned");
  t.is(second.id, 0);
  t.deepEqual(second.flat(), ["ADDED 2.txt", "ADDED 3.txt"]);
  const third = watch(srv, dir, NAMES);
  t.is(third.status, "STATUS_PENDING", "the buffer was emptied");
});

test("notify: changes before the first request are not reported", (t) => {
  const { srv, treeId, dir } = notifySetup();
  mustOpen(srv, treeId, "docs\\early.txt", { disposition: FILE_CREATE });
  t.is(watch(srv, dir).status, "STATUS_PENDING");
});

test("notify: overflow → STATUS_NOTIFY_ENUM_DIR with no records, and the buffer is emptied", (t) => {
  const { srv, treeId, dir } = notifySetup();
  // "ADDED 1.txt" is 12 + 2*5 = 22 bytes; two records = 24 + 22 = 46
  const w1 = watch(srv, dir, NAMES, false, 46);
  mustOpen(srv, treeId, "docs\\1.txt", { disposition: FILE_CREATE });
  t.deepEqual(w1.flat(), ["ADDED 1.txt"]);
  mustOpen(srv, treeId, "docs\\2.txt", { disposition: FILE_CREATE });
  mustOpen(srv, treeId, "docs\\3.txt", { disposition: FILE_CREATE });
  const fits = watch(srv, dir, NAMES, false, 46);
  t.deepEqual(fits.flat(), ["ADDED 2.txt", "ADDED 3.txt"], "46 bytes hold exactly two records");
  for (const n of ["4", "5", "6"]) mustOpen(srv, treeId, `docs\\${n}.txt`, { disposition: FILE_CREATE });
  const over = watch(srv, dir, NAMES, false, 4096);
  t.is(over.status, "STATUS_NOTIFY_ENUM_DIR", "three records overflowed the 46-byte buffer");
  t.deepEqual(over.results, [{ status: S.STATUS_NOTIFY_ENUM_DIR, records: [] }]);
  t.is(watch(srv, dir, NAMES, false, 4096).status, "STATUS_PENDING", "emptied");
});

test("notify: buffered records that do not fit the next request's buffer → STATUS_NOTIFY_ENUM_DIR", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const w = watch(srv, dir, NAMES, false, 4096);
  mustOpen(srv, treeId, "docs\\1.txt", { disposition: FILE_CREATE });
  t.is(w.results.length, 1);
  mustOpen(srv, treeId, "docs\\2.txt", { disposition: FILE_CREATE });
  const small = watch(srv, dir, NAMES, false, 10);
  t.is(small.status, "STATUS_NOTIFY_ENUM_DIR");
  t.is(watch(srv, dir, NAMES, false, 4096).status, "STATUS_PENDING");
});

test("notify: a pending request whose buffer is too small for the change → STATUS_NOTIFY_ENUM_DIR", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const w = watch(srv, dir, NAMES, false, 0);
  t.is(w.status, "STATUS_PENDING");
  mustOpen(srv, treeId, "docs\\x.txt", { disposition: FILE_CREATE });
  t.deepEqual(w.flat(), ["STATUS_NOTIFY_ENUM_DIR"]);
});

test("notify: close → STATUS_NOTIFY_CLEANUP; cancel → STATUS_CANCELLED", (t) => {
  const { srv, dir } = notifySetup();
  const w = watch(srv, dir);
  t.true(srv.cancelNotify(w.id));
  t.deepEqual(w.flat(), ["STATUS_CANCELLED"]);
  t.false(srv.cancelNotify(w.id));
  const w2 = watch(srv, dir);
  const w3 = watch(srv, dir);
  t.is(srv.stats.pendingNotifies, 2, "several requests may be pending on one open");
  srv.close(dir, T0);
  t.deepEqual(w2.flat(), ["STATUS_NOTIFY_CLEANUP"]);
  t.deepEqual(w3.flat(), ["STATUS_NOTIFY_CLEANUP"]);
  t.is(srv.stats.pendingNotifies, 0);
});

test("notify: several pending requests complete one per change, oldest first", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const w1 = watch(srv, dir, NAMES);
  const w2 = watch(srv, dir, NAMES);
  mustOpen(srv, treeId, "docs\\1.txt", { disposition: FILE_CREATE });
  t.deepEqual(w1.flat(), ["ADDED 1.txt"]);
  t.deepEqual(w2.flat(), []);
  mustOpen(srv, treeId, "docs\\2.txt", { disposition: FILE_CREATE });
  t.deepEqual(w2.flat(), ["ADDED 2.txt"]);
});

test("notify: tree disconnect and logoff → STATUS_NETWORK_NAME_DELETED; stats return to zero", (t) => {
  const { srv, sessionId, dir } = notifySetup();
  const other = connect(srv, "carol");
  const od = mustOpen(srv, other.treeId, "empty", { desiredAccess: FILE_LIST_DIRECTORY });
  const w1 = watch(srv, od);
  srv.treeDisconnect(other.treeId, T0);
  t.deepEqual(w1.flat(), ["STATUS_NETWORK_NAME_DELETED"]);
  const w2 = watch(srv, dir);
  srv.queryDirectory(dir, q());
  srv.logoff(sessionId, T0);
  t.deepEqual(w2.flat(), ["STATUS_NETWORK_NAME_DELETED"]);
  srv.logoff(other.sessionId, T0);
  t.deepEqual(srv.stats, { sessions: 0, trees: 0, opens: 0, pendingNotifies: 0, pendingLocks: 0 });
  t.deepEqual(srv.audit(), []);
});

test("notify: parameter and access checks complete synchronously", (t) => {
  const { srv, treeId } = notifySetup();
  const file = mustOpen(srv, treeId, "readme.txt");
  const w = watch(srv, file);
  t.is(w.status, "STATUS_INVALID_PARAMETER");
  t.deepEqual(w.flat(), ["STATUS_INVALID_PARAMETER"]);
  const noList = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_READ_ATTRIBUTES });
  t.is(watch(srv, noList).status, "STATUS_ACCESS_DENIED");
  const d = mustOpen(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY });
  t.is(watch(srv, d, 0).status, "STATUS_INVALID_PARAMETER");
  t.is(watch(srv, d, 0x1000).status, "STATUS_INVALID_PARAMETER");
  t.is(watch(srv, d, ALL, false, -1).status, "STATUS_INVALID_PARAMETER");
  t.is(srv.stats.pendingNotifies, 0);
});

test("notify: the first request fixes filter and watch-tree", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const w1 = watch(srv, dir, FILE_NOTIFY_CHANGE_DIR_NAME, false);
  t.true(srv.cancelNotify(w1.id));
  const w2 = watch(srv, dir, ALL, true);
  mustOpen(srv, treeId, "docs\\f.txt", { disposition: FILE_CREATE });
  mustOpen(srv, treeId, "docs\\sub\\d", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE });
  t.deepEqual(w2.flat(), []);
  mustOpen(srv, treeId, "docs\\d", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE });
  t.deepEqual(w2.flat(), ["ADDED d"]);
});

test("notify: a completion callback may post the next request", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const seen: string[] = [];
  const post = (): void => {
    srv.notify(dir, { filter: NAMES, watchTree: false, bufferLength: 4096 }, (r) => {
      seen.push(...show(r));
      if (r.status === S.STATUS_SUCCESS) post();
    });
  };
  post();
  for (const n of ["a", "b", "c"]) mustOpen(srv, treeId, `docs\\${n}`, { disposition: FILE_CREATE });
  t.deepEqual(seen, ["ADDED a", "ADDED b", "ADDED c"]);
  t.is(srv.stats.pendingNotifies, 1);
  srv.close(dir, T0);
  t.deepEqual(seen.at(-1), "STATUS_NOTIFY_CLEANUP");
});

test("notify: overwrite reports MODIFIED; removal of a file with other opens waits for the last close", (t) => {
  const { srv, treeId, dir } = notifySetup();
  const seen: string[] = [];
  const arm = () =>
    srv.notify(dir, { filter: ALL, watchTree: false, bufferLength: 4096 }, (r) => seen.push(...show(r)));
  arm();
  const ow = open(srv, treeId, "docs\\a.txt", {
    disposition: FILE_OVERWRITE,
    desiredAccess: FILE_GENERIC_WRITE | DELETE,
  });
  t.is(sn(ow.status), "STATUS_SUCCESS");
  arm();
  const reader = mustOpen(srv, treeId, "docs\\a.txt");
  srv.setDisposition(ow.fileId, true);
  srv.close(ow.fileId, T0);
  t.deepEqual(seen, ["MODIFIED a.txt"]);
  srv.close(reader, T0);
  t.deepEqual(seen, ["MODIFIED a.txt", "REMOVED a.txt"]);
  const attrs = mustOpen(srv, treeId, "docs\\b.txt", { desiredAccess: FILE_WRITE_ATTRIBUTES });
  arm();
  srv.setBasic(attrs, { changeTime: 5 }, T0);
  t.is(seen.length, 2, "a change time alone reports nothing");
});
