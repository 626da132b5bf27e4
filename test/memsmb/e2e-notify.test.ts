/**
 * memsmb end to end: change notifications through NtNotifyChangeDirectoryFile, beyond the conformance suite's
 * basics. Every completion filter against every kind of change, watch-tree with nested and moved names, changes
 * buffered on the server between requests, overflow (STATUS_NOTIFY_ENUM_DIR), cleanup and cancel seen from the
 * server, the first request's filter sticking to the handle, and net use /delete at FALSE, TRUE and 0xff with a
 * notification pending (RxFinalizeConnection, ../shared/reference/rdbss-semantics.md §2 and §5.4).
 */
import test, { type ExecutionContext } from "ava";
import {
  DELETE,
  decodeNotifyRecords,
  encodeFileInformation,
  FILE_ACTION,
  FILE_DELETE_ON_CLOSE,
  FILE_INFORMATION_CLASS,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE,
  FILE_OPEN,
  FILE_WRITE_ATTRIBUTES,
  GENERIC_READ,
  GENERIC_WRITE,
  type IoResult,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { type NTSTATUS, statusName } from "../../emulator/kernel/index.js";
import { FCB_STATE } from "../../emulator/rdbss/index.js";
import type { MemSmbExtensions } from "../../miniredirs/memsmb/index.js";
import { assertClean, is, type Session, settle } from "../conformance/suite.js";
import { boot, type E2E, finish, IDLE_SERVER, runAs, S, serverState, serverText } from "./_e2e.js";

const N = FILE_NOTIFY_CHANGE;
const ACTION: Record<number, string> = {
  [FILE_ACTION.FILE_ACTION_ADDED]: "ADDED",
  [FILE_ACTION.FILE_ACTION_REMOVED]: "REMOVED",
  [FILE_ACTION.FILE_ACTION_MODIFIED]: "MODIFIED",
  [FILE_ACTION.FILE_ACTION_RENAMED_OLD_NAME]: "OLD",
  [FILE_ACTION.FILE_ACTION_RENAMED_NEW_NAME]: "NEW",
};

type Notify = IoResult & { Buffer: Uint8Array };

/** An asynchronous directory handle for watching. */
async function watchDir(s: Session, name: string): Promise<number> {
  const r = await s.openDir(name, { sync: false, access: FILE_LIST_DIRECTORY | SYNCHRONIZE, disposition: FILE_OPEN });
  if (r.Status !== S.STATUS_SUCCESS) throw new Error(`watch ${name}: ${statusName(r.Status)}`);
  return r.FileHandle;
}

function arm(s: Session, h: number, filter: number, watchTree = false, length = 1024): Promise<Notify> {
  return s.nt.NtNotifyChangeDirectoryFile(h, { CompletionFilter: filter, WatchTree: watchTree, Length: length });
}

/** "STATUS_SUCCESS ADDED a.txt, MODIFIED b.txt" for a completed request, "pending" otherwise. */
function outcome(n: Notify): string {
  const r = n.request;
  if (!r?.done) return n.request ? "pending" : statusName(n.Status);
  const recs = decodeNotifyRecords(n.Buffer, r.IoStatusBlock.Information).map(
    (x) => `${ACTION[x.action] ?? x.action} ${x.fileName}`,
  );
  return [statusName(r.IoStatusBlock.Status), ...(recs.length ? [recs.join(", ")] : [])].join(" ");
}

function basicInfo(v: { creationTime?: number; lastAccessTime?: number; fileAttributes?: number }): Uint8Array {
  const b = new Uint8Array(40);
  encodeFileInformation(
    FILE_INFORMATION_CLASS.FileBasicInformation,
    {
      creationTime: v.creationTime ?? 0,
      lastAccessTime: v.lastAccessTime ?? 0,
      lastWriteTime: 0,
      changeTime: 0,
      fileAttributes: v.fileAttributes ?? 0,
    },
    b,
  );
  return b;
}

/** Start memsmb, connect N: to \\srv\docs as alice, and run the body; then the standard teardown. */
async function scenarioAsAlice(
  t: ExecutionContext,
  body: (s: Session, e: E2E) => Promise<void>,
  options: Parameters<typeof boot>[0] = {},
): Promise<E2E> {
  const e = await boot({ network: { record: true }, ...options });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    await body(s, e);
  });
  assertClean(t, run);
  return e;
}

// ------------------------------------------------------------------ filters

/** One kind of change each; the modifications go through a second handle on \<dir>\f.txt. */
const CHANGES: readonly (readonly [string, (s: Session, dir: string, f: number) => Promise<NTSTATUS>])[] = [
  ["read", async (s, _d, f) => (await s.read(f, 2, 0)).Status],
  ["write", async (s, _d, f) => (await s.write(f, "x", 0)).Status],
  ["extend", async (s, _d, f) => (await s.write(f, "yyyy", 3)).Status],
  ["truncate", async (s, _d, f) => (await s.setEndOfFile(f, 2)).Status],
  [
    "creation time",
    async (s, _d, f) =>
      (await s.setInformation(f, FILE_INFORMATION_CLASS.FileBasicInformation, basicInfo({ creationTime: 1234 })))
        .Status,
  ],
  [
    "access time",
    async (s, _d, f) =>
      (await s.setInformation(f, FILE_INFORMATION_CLASS.FileBasicInformation, basicInfo({ lastAccessTime: 99 })))
        .Status,
  ],
  [
    "attributes",
    async (s, _d, f) =>
      (await s.setInformation(f, FILE_INFORMATION_CLASS.FileBasicInformation, basicInfo({ fileAttributes: 0x2 })))
        .Status,
  ],
  [
    "create",
    async (s, d) => {
      await s.createFile(`${d}\\new.txt`);
      return S.STATUS_SUCCESS;
    },
  ],
  [
    "mkdir",
    async (s, d) => {
      await s.mkdir(`${d}\\sub`);
      return S.STATUS_SUCCESS;
    },
  ],
  [
    "rename",
    async (s, d) => {
      const h = await s.mustOpen(`${d}\\new.txt`, { disposition: FILE_OPEN, access: DELETE | SYNCHRONIZE });
      const r = await s.rename(h, `${d}\\renamed.txt`, false);
      await s.nt.NtClose(h);
      return r.Status;
    },
  ],
  [
    "delete",
    async (s, d) => {
      const h = await s.open(`${d}\\renamed.txt`, {
        disposition: FILE_OPEN,
        access: DELETE | SYNCHRONIZE,
        options: FILE_DELETE_ON_CLOSE,
      });
      return h.Status === S.STATUS_SUCCESS ? s.nt.NtClose(h.FileHandle) : h.Status;
    },
  ],
  [
    "rmdir",
    async (s, d) => {
      const h = await s.openDir(`${d}\\sub`, { disposition: FILE_OPEN, options: FILE_DELETE_ON_CLOSE });
      return h.Status === S.STATUS_SUCCESS ? s.nt.NtClose(h.FileHandle) : h.Status;
    },
  ],
];

const MOD = "STATUS_SUCCESS MODIFIED f.txt";
const EXPECTED_BY_FILTER: Record<string, Record<string, string>> = {
  FILE_NAME: {
    create: "STATUS_SUCCESS ADDED new.txt",
    rename: "STATUS_SUCCESS OLD new.txt, NEW renamed.txt",
    delete: "STATUS_SUCCESS REMOVED renamed.txt",
  },
  DIR_NAME: { mkdir: "STATUS_SUCCESS ADDED sub", rmdir: "STATUS_SUCCESS REMOVED sub" },
  ATTRIBUTES: { attributes: MOD },
  SIZE: { extend: MOD, truncate: MOD },
  LAST_WRITE: { write: MOD, extend: MOD, truncate: MOD },
  LAST_ACCESS: { "access time": MOD },
  CREATION: { "creation time": MOD },
  // The model has no security descriptors, EAs or streams: nothing reports them.
  EA: {},
  SECURITY: {},
  STREAM_NAME: {},
  STREAM_SIZE: {},
  STREAM_WRITE: {},
};
/** Every filter at once: each change but the read completes one request with its one batch of records. */
const EXPECTED_ALL: Record<string, string> = Object.assign({}, ...Object.values(EXPECTED_BY_FILTER));

test("each completion filter is completed by exactly its kinds of change, with the right records", async (t) => {
  const got: Record<string, Record<string, string>> = {};
  const filters = [...Object.keys(EXPECTED_BY_FILTER), "ALL"];
  const filterOf = (name: string): number =>
    name === "ALL"
      ? Object.keys(EXPECTED_BY_FILTER).reduce((m, k) => m | filterOf(k), 0)
      : (N[`FILE_NOTIFY_CHANGE_${name}` as keyof typeof N] as number);
  const e = await scenarioAsAlice(t, async (s, e) => {
    for (const [i, name] of filters.entries()) {
      const filter = filterOf(name);
      const dir = `\\f${i}`;
      await s.mkdir(dir);
      await s.createFile(`${dir}\\f.txt`, "abc");
      const f = await s.mustOpen(`${dir}\\f.txt`, {
        disposition: FILE_OPEN,
        access: GENERIC_READ | GENERIC_WRITE | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE,
      });
      const w = await watchDir(s, dir);
      let n = await arm(s, w, filter);
      is(t, n.Status, S.STATUS_PENDING);
      await s.settle();
      t.is(serverState(e).pendingNotifies, 1, `${name}: the request waits on the server`);
      const seen: Record<string, string> = {};
      for (const [what, change] of CHANGES) {
        is(t, await change(s, dir, f), S.STATUS_SUCCESS, `${name}: ${what}`);
        await s.settle();
        if (n.request?.done) {
          seen[what] = outcome(n);
          n = await arm(s, w, filter);
        }
      }
      got[name] = seen;
      is(t, await s.nt.NtClose(f), S.STATUS_SUCCESS);
      is(t, await s.nt.NtClose(w), S.STATUS_SUCCESS);
      t.is(outcome(n), "STATUS_NOTIFY_CLEANUP", `${name}: the last request ends with the handle`);
    }
  });
  t.deepEqual(got, { ...EXPECTED_BY_FILTER, ALL: EXPECTED_ALL });
  await finish(t, e);
});

// ------------------------------------------------------------------ watch tree

test("watch-tree: nested changes are named relative to the watched directory, moves are REMOVED + ADDED", async (t) => {
  const e = await scenarioAsAlice(t, async (s) => {
    await s.mkdir("\\t");
    await s.mkdir("\\t\\a");
    await s.mkdir("\\t\\a\\b");
    await s.createFile("\\t\\a\\b\\f.txt", "abc");
    const filter = N.FILE_NOTIFY_CHANGE_FILE_NAME | N.FILE_NOTIFY_CHANGE_SIZE;
    const watches = [
      { name: "tree \\t", h: await watchDir(s, "\\t"), tree: true },
      { name: "flat \\t", h: await watchDir(s, "\\t"), tree: false },
      { name: "flat \\t\\a\\b", h: await watchDir(s, "\\t\\a\\b"), tree: false },
      { name: "tree \\t\\a", h: await watchDir(s, "\\t\\a"), tree: true },
    ];
    const pending = await Promise.all(watches.map((w) => arm(s, w.h, filter, w.tree)));
    const log: string[] = [];
    const step = async (what: string, fn: () => Promise<unknown>) => {
      await fn();
      await s.settle();
      for (const [i, w] of watches.entries()) {
        const n = pending[i] as Notify;
        if (!n.request?.done) continue;
        log.push(`${what} → ${w.name}: ${outcome(n)}`);
        pending[i] = await arm(s, w.h, filter, w.tree);
      }
    };
    await step("extend a\\b\\f.txt", async () => {
      const h = await s.mustOpen("\\t\\a\\b\\f.txt", { disposition: FILE_OPEN });
      await s.write(h, "more", 3);
      await s.nt.NtClose(h);
    });
    await step("rename in a\\b", async () => {
      const h = await s.mustOpen("\\t\\a\\b\\f.txt", { disposition: FILE_OPEN, access: DELETE | SYNCHRONIZE });
      is(t, (await s.rename(h, "\\t\\a\\b\\g.txt", false)).Status, S.STATUS_SUCCESS);
      await s.nt.NtClose(h);
    });
    await step("move a\\b\\g.txt to \\t\\top.txt", async () => {
      const h = await s.mustOpen("\\t\\a\\b\\g.txt", { disposition: FILE_OPEN, access: DELETE | SYNCHRONIZE });
      is(t, (await s.rename(h, "\\t\\top.txt", false)).Status, S.STATUS_SUCCESS);
      await s.nt.NtClose(h);
    });
    await step("a directory outside \\t", () => s.mkdir("\\elsewhere"));
    t.deepEqual(log, [
      "extend a\\b\\f.txt → tree \\t: STATUS_SUCCESS MODIFIED a\\b\\f.txt",
      "extend a\\b\\f.txt → flat \\t\\a\\b: STATUS_SUCCESS MODIFIED f.txt",
      "extend a\\b\\f.txt → tree \\t\\a: STATUS_SUCCESS MODIFIED b\\f.txt",
      "rename in a\\b → tree \\t: STATUS_SUCCESS OLD a\\b\\f.txt, NEW a\\b\\g.txt",
      "rename in a\\b → flat \\t\\a\\b: STATUS_SUCCESS OLD f.txt, NEW g.txt",
      "rename in a\\b → tree \\t\\a: STATUS_SUCCESS OLD b\\f.txt, NEW b\\g.txt",
      "move a\\b\\g.txt to \\t\\top.txt → tree \\t: STATUS_SUCCESS REMOVED a\\b\\g.txt, ADDED top.txt",
      "move a\\b\\g.txt to \\t\\top.txt → flat \\t: STATUS_SUCCESS ADDED top.txt",
      "move a\\b\\g.txt to \\t\\top.txt → flat \\t\\a\\b: STATUS_SUCCESS REMOVED g.txt",
      "move a\\b\\g.txt to \\t\\top.txt → tree \\t\\a: STATUS_SUCCESS REMOVED b\\g.txt",
    ]);
    for (const w of watches) is(t, await s.nt.NtClose(w.h), S.STATUS_SUCCESS);
    t.deepEqual(
      pending.map((n) => outcome(n)),
      Array(4).fill("STATUS_NOTIFY_CLEANUP"),
    );
  });
  await finish(t, e);
});

// ------------------------------------------------------------------ buffering and overflow

test("changes while no request is pending are buffered on the server and delivered by the next request", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    await s.mkdir("\\b");
    const w = await watchDir(s, "\\b");
    // Before the first request there is no watch: this change is not reported to anyone.
    await s.createFile("\\b\\before-watch.txt");
    const n1 = await arm(s, w, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    await s.createFile("\\b\\a.txt");
    t.is(outcome(await settleNotify(n1)), "STATUS_SUCCESS ADDED a.txt");
    // No request pending now: these are buffered by the server (the watch lives on the server open).
    await s.createFile("\\b\\c.txt");
    await s.createFile("\\b\\d.txt");
    const del = await s.mustOpen("\\b\\a.txt", { disposition: FILE_OPEN, options: FILE_DELETE_ON_CLOSE });
    await s.nt.NtClose(del);
    await s.settle();
    t.is(serverState(e).pendingNotifies, 0);
    const n2 = await arm(s, w, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    is(t, n2.Status, S.STATUS_PENDING, "the request still travels to the server (asynchronous handle)");
    await s.settle();
    t.is(
      outcome(n2),
      "STATUS_SUCCESS ADDED c.txt, ADDED d.txt, REMOVED a.txt",
      "completed by the buffered changes, without a new change",
    );
    // The buffer is empty again: the next request waits.
    const n3 = await arm(s, w, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    await s.settle();
    t.is(outcome(n3), "pending");
    t.is(serverState(e).pendingNotifies, 1);
    is(t, await s.nt.NtClose(w), S.STATUS_SUCCESS);
    t.is(outcome(n3), "STATUS_NOTIFY_CLEANUP");
    await s.settle();
    t.like(serverState(e), { pendingNotifies: 0 });
  });
  await finish(t, e);
});

test("overflow: a record that does not fit, or a buffer that overflowed between requests, is STATUS_NOTIFY_ENUM_DIR", async (t) => {
  const e = await scenarioAsAlice(t, async (s) => {
    await s.mkdir("\\o");
    const w = await watchDir(s, "\\o");
    const F = N.FILE_NOTIFY_CHANGE_FILE_NAME;
    // (1) A pending request whose buffer cannot hold the change's record (12 + 2 × 17 bytes > 32).
    const small = await arm(s, w, F, false, 32);
    await s.createFile("\\o\\a-long-name.txt");
    t.is(outcome(await settleNotify(small)), "STATUS_NOTIFY_ENUM_DIR");
    t.is(small.request?.IoStatusBlock.Information, 0);
    // (2) Between requests the server buffers at most the latest request's length (32 bytes): three records of
    // 12 + 2 × 5 bytes overflow it; the next request completes at once with STATUS_NOTIFY_ENUM_DIR, no records.
    for (const f of ["1.txt", "2.txt", "3.txt"]) await s.createFile(`\\o\\${f}`);
    const after = await arm(s, w, F, false, 1024);
    t.is(outcome(await settleNotify(after)), "STATUS_NOTIFY_ENUM_DIR");
    t.is(after.request?.IoStatusBlock.Information, 0);
    // The overflow is cleared: the next change is reported normally.
    const next = await arm(s, w, F, false, 1024);
    await s.settle();
    t.is(outcome(next), "pending");
    await s.createFile("\\o\\4.txt");
    t.is(outcome(await settleNotify(next)), "STATUS_SUCCESS ADDED 4.txt");
    // (3) Buffered records that fit the server's buffer (1024) but not the next request's (16 bytes).
    await s.createFile("\\o\\5.txt");
    const tiny = await arm(s, w, F, false, 16);
    t.is(outcome(await settleNotify(tiny)), "STATUS_NOTIFY_ENUM_DIR");
    await s.nt.NtClose(w);
  });
  await finish(t, e);
});

async function settleNotify(n: Notify): Promise<Notify> {
  await settle(n.request);
  return n;
}

// ------------------------------------------------------------------ cleanup, cancel, filters

test("NtClose completes only that handle's request with STATUS_NOTIFY_CLEANUP; the server closes its open and watch", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    await s.mkdir("\\x");
    const h1 = await watchDir(s, "\\x");
    const h2 = await watchDir(s, "\\x");
    const n1 = await arm(s, h1, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    const n2 = await arm(s, h2, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    await s.settle();
    t.like(serverState(e), { opens: 2, pendingNotifies: 2 }, "directories never collapse: two server opens");
    const { fcb } = s.objectsOf(h1);
    is(t, await s.nt.NtClose(h1), S.STATUS_SUCCESS);
    t.is(outcome(n1), "STATUS_NOTIFY_CLEANUP", "completed during the close (cleanup)");
    t.is(n1.request?.IoStatusBlock.Information, 0);
    t.is(outcome(n2), "pending", "the other handle's request is untouched");
    await s.settle();
    t.like(serverState(e), { opens: 1, pendingNotifies: 1 });
    t.is(s.fcbByPath("\\x"), fcb, "the FCB stays for the other handle");
    await s.createFile("\\x\\new.txt");
    t.is(outcome(await settleNotify(n2)), "STATUS_SUCCESS ADDED new.txt");
    is(t, await s.nt.NtClose(h2), S.STATUS_SUCCESS);
    await s.settle();
    t.like(serverState(e), { opens: 1, pendingNotifies: 0 }, "only new.txt's dormant open is left");
    t.is(s.fcbByPath("\\x"), null);
    t.not(fcb?.freed ?? null, null, "the directory's FCB is freed");
    t.deepEqual(
      e.memsmb.network.log
        .filter((m) => m.name === "CHANGE_NOTIFY" && m.what === "reply")
        .map((m) => statusName(m.status ?? 0)),
      ["STATUS_CANCELLED", "STATUS_SUCCESS"],
      "cleanup cancels h1's request through the cancel routine (a CANCEL the server answers) before the CLOSE",
    );
  });
  await finish(t, e);
});

test("NtCancelIoFile: STATUS_CANCELLED, the CANCEL reaches the server, the watch goes on buffering", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    await s.mkdir("\\c");
    const h = await watchDir(s, "\\c");
    const n = await arm(s, h, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    await s.settle();
    const mark = e.memsmb.network.log.length;
    is(t, await s.nt.NtCancelIoFile(h), S.STATUS_SUCCESS);
    t.is(outcome(n), "STATUS_CANCELLED");
    await s.settle();
    t.deepEqual(
      e.memsmb.network.log
        .slice(mark)
        .map((m) => `${m.what} ${m.name} ${m.status === undefined ? "" : statusName(m.status)}`.trim()),
      ["cancel CHANGE_NOTIFY", "reply CHANGE_NOTIFY STATUS_CANCELLED", "response CHANGE_NOTIFY STATUS_CANCELLED"],
      "the server got the CANCEL and answered the request; the late answer is dropped by the client",
    );
    t.like(serverState(e), { opens: 1, pendingNotifies: 0 });
    // A change between the cancel and the next request is not lost: the server's watch buffered it.
    await s.createFile("\\c\\while-cancelled.txt");
    const n2 = await arm(s, h, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    t.is(outcome(await settleNotify(n2)), "STATUS_SUCCESS ADDED while-cancelled.txt");
    is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
  });
  await finish(t, e);
});

test("the first request's filter and watch-tree flag stick to the handle (later requests only bring a buffer)", async (t) => {
  const e = await scenarioAsAlice(t, async (s) => {
    await s.mkdir("\\s");
    await s.mkdir("\\s\\sub");
    await s.createFile("\\s\\existing.txt", "e");
    const h = await watchDir(s, "\\s");
    const other = await watchDir(s, "\\s");
    const first = await arm(s, h, N.FILE_NOTIFY_CHANGE_FILE_NAME, false);
    await s.createFile("\\s\\one.txt");
    t.is(outcome(await settleNotify(first)), "STATUS_SUCCESS ADDED one.txt");
    // The second request asks for directory names, writes and the whole tree: ignored.
    const second = await arm(s, h, N.FILE_NOTIFY_CHANGE_DIR_NAME | N.FILE_NOTIFY_CHANGE_LAST_WRITE, true);
    const otherN = await arm(s, other, N.FILE_NOTIFY_CHANGE_DIR_NAME, false);
    await s.mkdir("\\s\\newdir");
    const f = await s.mustOpen("\\s\\existing.txt", { disposition: FILE_OPEN });
    await s.write(f, "changed", 0);
    await s.nt.NtClose(f);
    await s.createFile("\\s\\sub\\deep.txt");
    await s.settle();
    t.is(outcome(second), "pending", "no directory name, write or subdirectory change completes it");
    t.is(outcome(otherN), "STATUS_SUCCESS ADDED newdir", "another handle has its own filter");
    await s.createFile("\\s\\two.txt");
    t.is(outcome(await settleNotify(second)), "STATUS_SUCCESS ADDED two.txt", "still FILE_NAME, not the tree");
    await s.nt.NtClose(h);
    await s.nt.NtClose(other);
  });
  await finish(t, e);
});

// ------------------------------------------------------------------ net use /delete with a notification pending

/** \w watched (FILE_NAME) through N:, the request pending on the server. */
async function pendingWatch(s: Session, e: E2E): Promise<{ d: number; n: Notify; mark: number }> {
  await s.mkdir("\\w");
  const d = await watchDir(s, "\\w");
  const n = await arm(s, d, N.FILE_NOTIFY_CHANGE_FILE_NAME);
  await s.settle();
  if (serverState(e).pendingNotifies !== 1) throw new Error("the notification is not pending on the server");
  return { d, n, mark: e.memsmb.network.log.length };
}

const messagesSince = (e: E2E, mark: number): string[] =>
  e.memsmb.network.log
    .slice(mark)
    .map(
      (m) => `${m.what} ${m.name}${m.status === undefined ? "" : ` ${statusName(m.status)}`}${m.lost ? " (lost)" : ""}`,
    );

test("net use /delete FALSE with a notification pending: STATUS_FILES_OPEN, nothing changes anywhere", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    const { d, n, mark } = await pendingWatch(s, e);
    is(t, await s.np.netUseDelete("N", 0), S.STATUS_FILES_OPEN);
    await s.settle();
    t.is(outcome(n), "pending");
    t.is(s.calls("MRxCancelRoutine"), 0, "RxCancelNotifyChangeDirectoryRequestsForVNetRoot only counted it");
    t.deepEqual(messagesSince(e, mark), [], "nothing went to the server");
    t.like(serverState(e), { sessions: 1, trees: 1, opens: 1, pendingNotifies: 1 });
    t.is(e.em.sys.io.lookupName("\\??\\N:")?.kind, "symlink", "the drive letter stays");
    t.deepEqual(await e.np.list(), [{ local: "N:", remote: "\\\\srv\\docs" }]);
    t.like(s.vNetRoot("N"), { AdditionalReferenceForDeleteFsctlTaken: true, NumberOfFobxs: 1 });
    // The handle and its request work as before.
    await s.createFile("\\w\\after.txt");
    t.is(outcome(await settleNotify(n)), "STATUS_SUCCESS ADDED after.txt");
    const n2 = await arm(s, d, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    const q = await s.nt.NtQueryDirectoryFile(d, {
      FileInformationClass: FILE_INFORMATION_CLASS.FileNamesInformation,
      Length: 512,
      RestartScan: true,
    });
    is(t, (await settle(q.request)).Status, S.STATUS_SUCCESS);
    is(t, await s.nt.NtClose(d), S.STATUS_SUCCESS);
    t.is(outcome(n2), "STATUS_NOTIFY_CLEANUP");
    // Now the same delete goes through. The V_NET_ROOT, NET_ROOT and SRV_CALL go in one pass: MRxFinalizeVNetRoot
    // sends TREE_DISCONNECT and LOGOFF, and MRxFinalizeSrvCall drops the connection before they are delivered; the
    // server logs the connection's session off when the transport goes (what a server does on a reset).
    const mark2 = e.memsmb.network.log.length;
    is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS);
    await s.settle();
    t.is(e.em.sys.io.lookupName("\\??\\N:"), undefined);
    t.deepEqual(s.containers(), []);
    t.deepEqual(messagesSince(e, mark2).slice(-2), [
      "response TREE_DISCONNECT STATUS_CONNECTION_DISCONNECTED",
      "response LOGOFF STATUS_CONNECTION_DISCONNECTED",
    ]);
    t.like(serverState(e), { sessions: 0, trees: 0, opens: 0, pendingNotifies: 0 });
  });
  await finish(t, e);
});

test("net use /delete 0xff with a notification pending: STATUS_FILES_OPEN, but the connection goes with the handle", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    const { d, n, mark } = await pendingWatch(s, e);
    const vnr = s.vNetRoot("N");
    is(t, await s.np.netUseDelete("N", 0xff), S.STATUS_FILES_OPEN, "docs profile: 0xff fails like FALSE");
    await s.settle();
    t.is(outcome(n), "pending", "0xff is not a force: nothing is cancelled");
    t.deepEqual(messagesSince(e, mark), []);
    t.like(serverState(e), { sessions: 1, trees: 1, opens: 1, pendingNotifies: 1 });
    t.false(vnr?.AdditionalReferenceForDeleteFsctlTaken ?? true, "but the add-connection reference is dropped");
    t.is(e.em.sys.io.lookupName("\\??\\N:")?.kind, "symlink", "the provider keeps the letter (the IOCTL failed)");
    // The handle keeps working.
    await s.createFile("\\w\\after.txt");
    t.is(outcome(await settleNotify(n)), "STATUS_SUCCESS ADDED after.txt");
    const n2 = await arm(s, d, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    is(t, await s.nt.NtClose(d), S.STATUS_SUCCESS);
    t.is(outcome(n2), "STATUS_NOTIFY_CLEANUP");
    // Nothing holds the connection now: the scavenger finalizes it, and the server is idle.
    await s.delay(11);
    t.deepEqual(s.containers(), []);
    t.not(vnr?.freed ?? null, null);
    t.deepEqual(serverState(e), IDLE_SERVER);
    t.deepEqual(
      { v: s.calls("MRxFinalizeVNetRoot"), n: s.calls("MRxFinalizeNetRoot"), c: s.calls("MRxFinalizeSrvCall") },
      { v: 1, n: 1, c: 1 },
    );
    // The letter is still defined (it names a connection that is gone); deleting it builds the connection again
    // (DELCONN opens a tree connect) only to finalize it.
    t.deepEqual(await e.np.list(), [{ local: "N:", remote: "\\\\srv\\docs" }]);
    const vnrs = s.calls("MRxCreateVNetRoot");
    is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS);
    t.is(s.calls("MRxCreateVNetRoot"), vnrs + 1);
    t.is(e.em.sys.io.lookupName("\\??\\N:"), undefined);
    await s.settle();
    t.deepEqual(s.containers(), []);
    t.deepEqual(serverState(e), IDLE_SERVER);
  });
  await finish(t, e);
});

test("net use /delete TRUE with a notification pending: cancelled (server too), handle orphaned, server state kept until close", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    const { d, n, mark } = await pendingWatch(s, e);
    const vnr = s.vNetRoot("N");
    const { fcb } = s.objectsOf(d);
    is(t, await s.np.netUseDelete("N", 1), S.STATUS_SUCCESS);
    t.is(outcome(n), "STATUS_CANCELLED", "completed by RxFinalizeConnection's cancel pass, before it returned");
    t.is(s.calls("MRxCancelRoutine"), 1);
    await s.settle();
    t.deepEqual(messagesSince(e, mark), [
      "cancel CHANGE_NOTIFY",
      "reply CHANGE_NOTIFY STATUS_CANCELLED",
      "response CHANGE_NOTIFY STATUS_CANCELLED",
    ]);
    t.is(e.em.sys.io.lookupName("\\??\\N:"), undefined);
    t.deepEqual(await e.np.list(), []);
    t.deepEqual(s.containers(), ["SRV_CALL \\srv"], "V_NET_ROOT and NET_ROOT left the netname table");
    t.is(s.calls("MRxFinalizeNetRoot"), 1);
    t.is(s.calls("MRxFinalizeVNetRoot"), 0, "the orphaned FCB still references the V_NET_ROOT");
    t.is(vnr?.freed, null, "the V_NET_ROOT is not freed yet");
    t.true(vnr?.UpperFinalizationDone);
    t.not((fcb?.FcbState ?? 0) & FCB_STATE.FCB_STATE_ORPHANED, 0, "the directory's FCB is orphaned");
    // The server keeps the orphaned handle's open, its tree and session; nothing is pending there.
    t.like(serverState(e), { sessions: 1, trees: 1, opens: 1, pendingNotifies: 0 });
    // Every later operation on the handle fails; closing it works.
    const q = await s.nt.NtQueryDirectoryFile(d, {
      FileInformationClass: FILE_INFORMATION_CLASS.FileNamesInformation,
      Length: 512,
      RestartScan: true,
    });
    is(t, (await settle(q.request)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
    const n2 = await arm(s, d, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    t.is(outcome(await settleNotify(n2)), "STATUS_UNEXPECTED_NETWORK_ERROR");
    is(t, (await s.open("\\w\\x.txt")).Status, S.STATUS_OBJECT_PATH_NOT_FOUND, "N: is gone");
    is(t, await s.nt.NtClose(d), S.STATUS_SUCCESS);
    t.not(fcb?.freed ?? null, null);
    await s.settle();
    t.like(serverState(e), { sessions: 1, trees: 1, opens: 0 }, "MRxCloseSrvOpen closed the server open");
    await s.delay(11);
    t.deepEqual(s.containers(), []);
    t.not(vnr?.freed ?? null, null);
    t.deepEqual(serverState(e), IDLE_SERVER);
    t.deepEqual(
      { v: s.calls("MRxFinalizeVNetRoot"), n: s.calls("MRxFinalizeNetRoot"), c: s.calls("MRxFinalizeSrvCall") },
      { v: 1, n: 1, c: 1 },
    );
  });
  await finish(t, e);
});

test("a tree disconnect on the server (an administrator's action) completes the pending notification with STATUS_NETWORK_NAME_DELETED", async (t) => {
  const e = await scenarioAsAlice(t, async (s, e) => {
    await s.createFile("\\kept.txt", "kept");
    const f = await s.mustOpen("\\kept.txt", {
      disposition: FILE_OPEN,
      access: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
    });
    const { d, n, mark } = await pendingWatch(s, e);
    const tree = s.vNetRoot("N")?.Context as MemSmbExtensions["VNetRoot"] | null;
    if (!tree?.connection) return t.fail("no tree connect behind N:");
    // RDBSS never tree-disconnects under a pending notification (it cancels it first); the server can.
    const { treeId } = tree;
    tree.connection.serverAction(
      "administrator disconnects the tree",
      (srv, now) => void srv.treeDisconnect(treeId, now),
    );
    await s.settle();
    t.is(outcome(n), "STATUS_NETWORK_NAME_DELETED");
    t.is(n.request?.IoStatusBlock.Information, 0);
    t.deepEqual(messagesSince(e, mark), [
      "admin administrator disconnects the tree",
      "reply CHANGE_NOTIFY STATUS_NETWORK_NAME_DELETED",
      "response CHANGE_NOTIFY STATUS_NETWORK_NAME_DELETED",
    ]);
    t.like(serverState(e), { sessions: 1, trees: 0, opens: 0, pendingNotifies: 0 }, "its opens were closed");
    t.is(s.calls("MRxCancelRoutine"), 0);
    // The client's objects are all still there; what reaches the server now fails.
    const n2 = await arm(s, d, N.FILE_NOTIFY_CHANGE_FILE_NAME);
    t.is(outcome(await settleNotify(n2)), "STATUS_FILE_CLOSED", "the server no longer knows the file id");
    is(t, (await s.write(f, "x", 0)).Status, S.STATUS_FILE_CLOSED);
    is(t, (await s.open("\\other.txt")).Status, S.STATUS_NETWORK_NAME_DELETED, "nor the tree id");
    t.is(serverText(e, "srv", "docs", "\\kept.txt"), "kept");
    const closes = () => e.em.rx.mrxLog.filter((c) => c.name === "MRxCloseSrvOpen");
    const before = closes().length;
    is(t, await s.nt.NtClose(d), S.STATUS_SUCCESS);
    is(t, await s.nt.NtClose(f), S.STATUS_SUCCESS);
    t.deepEqual(
      closes()
        .slice(before)
        .map((c) => `${c.target.split(" ")[1]} ${c.status}`),
      ["\\srv\\docs\\w STATUS_SUCCESS"],
      "closing an open the server already dropped is a success (kept.txt's SRV_OPEN stays dormant)",
    );
    // The connection itself is fine: deleting N: works and a new net use gets a new tree.
    is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS);
    await s.settle();
    t.deepEqual(serverState(e), IDLE_SERVER);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    t.is(await s.contentOf("\\kept.txt"), "kept");
  });
  await finish(t, e);
});
