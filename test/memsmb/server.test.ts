/**
 * memsmb server: sessions, tree connects, create (dispositions, options, access, share modes), permissions, path
 * validation and confinement, deletion.
 */
import test from "ava";
import {
  DELETE,
  FILE_ADD_FILE,
  FILE_APPEND_DATA,
  FILE_ATTRIBUTE_HIDDEN,
  FILE_ATTRIBUTE_NORMAL,
  FILE_ATTRIBUTE_READONLY,
  FILE_CREATE,
  FILE_CREATED,
  FILE_DELETE_ON_CLOSE,
  FILE_DIRECTORY_FILE,
  FILE_EXECUTE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_LIST_DIRECTORY,
  FILE_NON_DIRECTORY_FILE,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OPENED,
  FILE_OVERWRITE,
  FILE_OVERWRITE_IF,
  FILE_OVERWRITTEN,
  FILE_READ_ATTRIBUTES,
  FILE_READ_DATA,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_SUPERSEDE,
  FILE_SUPERSEDED,
  FILE_WRITE_ATTRIBUTES,
  FILE_WRITE_DATA,
  GENERIC_ALL,
  GENERIC_READ,
  GENERIC_WRITE,
  MAXIMUM_ALLOWED,
  SYNCHRONIZE,
  WRITE_DAC,
} from "../../emulator/io/index.js";
import { connect, dec, enc, mustOpen, newServer, open, S, SHARE_ALL, sn, T0 } from "./_server-fixture.js";

// ── sessions ──────────────────────────────────────────────────────────────────────────────────────────────────

test("sessionSetup: good credentials, wrong password, unknown user, user name case", (t) => {
  const srv = newServer();
  const ok = srv.sessionSetup("alice", "alice-pw");
  t.is(sn(ok.status), "STATUS_SUCCESS");
  t.true(ok.sessionId > 0);
  t.is(sn(srv.sessionSetup("alice", "wrong").status), "STATUS_LOGON_FAILURE");
  t.is(sn(srv.sessionSetup("alice", "ALICE-PW").status), "STATUS_LOGON_FAILURE", "passwords are case-sensitive");
  t.is(sn(srv.sessionSetup("mallory", "x").status), "STATUS_LOGON_FAILURE");
  t.is(srv.sessionSetup("mallory", "x").sessionId, 0);
  t.is(sn(srv.sessionSetup("ALICE", "alice-pw").status), "STATUS_SUCCESS", "user names ignore case");
  t.is(srv.stats.sessions, 2);
});

test("logoff: unknown session, and a session's trees go with it", (t) => {
  const srv = newServer();
  const { sessionId, treeId } = connect(srv);
  t.is(sn(srv.logoff(999, T0)), "STATUS_USER_SESSION_DELETED");
  t.is(sn(srv.logoff(sessionId, T0)), "STATUS_SUCCESS");
  t.is(sn(srv.logoff(sessionId, T0)), "STATUS_USER_SESSION_DELETED");
  t.is(sn(open(srv, treeId, "readme.txt").status), "STATUS_NETWORK_NAME_DELETED");
  t.is(sn(srv.treeConnect(sessionId, "data").status), "STATUS_USER_SESSION_DELETED");
  t.deepEqual(srv.stats, { sessions: 0, trees: 0, opens: 0, pendingNotifies: 0, pendingLocks: 0 });
});

// ── tree connect ──────────────────────────────────────────────────────────────────────────────────────────────

test("treeConnect: share names ignore case; unknown share; bad session", (t) => {
  const srv = newServer();
  const { sessionId } = srv.sessionSetup("alice", "alice-pw");
  for (const name of ["Data", "data", "DATA", "dAtA"]) {
    const r = srv.treeConnect(sessionId, name);
    t.is(sn(r.status), "STATUS_SUCCESS", name);
    t.is(r.shareType, "disk");
  }
  t.is(sn(srv.treeConnect(sessionId, "nope").status), "STATUS_BAD_NETWORK_NAME");
  t.is(sn(srv.treeConnect(sessionId, "\\\\srv\\data").status), "STATUS_BAD_NETWORK_NAME");
  t.is(sn(srv.treeConnect(sessionId, "data ").status), "STATUS_BAD_NETWORK_NAME");
  t.is(sn(srv.treeConnect(12345, "data").status), "STATUS_USER_SESSION_DELETED");
  t.is(srv.stats.trees, 4);
});

test("treeConnect: permissions and maximal access", (t) => {
  const srv = newServer();
  const conn = (user: string, share: string) => {
    const s = srv.sessionSetup(user, `${user}-pw`);
    return srv.treeConnect(s.sessionId, share);
  };
  t.is(conn("alice", "data").maximalAccess, 0x001f01ff);
  t.is(conn("carol", "data").maximalAccess, 0x001301bf);
  t.is(conn("bob", "data").maximalAccess, 0x001200a9);
  const dave = conn("dave", "data");
  t.is(sn(dave.status), "STATUS_ACCESS_DENIED", "no entry for dave and no '*' entry");
  t.is(dave.treeId, 0);
  // "*" = everyone
  t.is(conn("dave", "pub").maximalAccess, 0x001301bf);
  const ipc = conn("dave", "ipc$");
  t.is(sn(ipc.status), "STATUS_SUCCESS");
  t.is(ipc.shareType, "ipc");
});

test("treeConnect: a user's permission is the strongest of its own entry and '*'", (t) => {
  const srv = newServer({
    name: "srv",
    users: [
      { name: "u1", password: "p" },
      { name: "u2", password: "p" },
    ],
    shares: [{ name: "s", permissions: { "*": "change", U1: "read", u2: "full" } }],
  });
  const s1 = srv.sessionSetup("u1", "p").sessionId;
  const s2 = srv.sessionSetup("u2", "p").sessionId;
  t.is(srv.treeConnect(s1, "s").maximalAccess, 0x001301bf);
  t.is(srv.treeConnect(s2, "s").maximalAccess, 0x001f01ff);
});

test("treeDisconnect closes the tree's opens and ends it", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "readme.txt");
  t.is(srv.stats.opens, 1);
  t.is(sn(srv.treeDisconnect(treeId, T0)), "STATUS_SUCCESS");
  t.is(srv.stats.opens, 0);
  t.is(sn(srv.read(f, 0, 1, T0).status), "STATUS_FILE_CLOSED");
  t.is(sn(srv.treeDisconnect(treeId, T0)), "STATUS_NETWORK_NAME_DELETED");
  t.is(sn(srv.queryVolume(treeId).status), "STATUS_NETWORK_NAME_DELETED");
});

test("an ipc share opens no files", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv, "alice", "IPC$");
  t.is(sn(open(srv, treeId, "srvsvc").status), "STATUS_INVALID_DEVICE_REQUEST");
  t.is(sn(open(srv, treeId, "").status), "STATUS_INVALID_DEVICE_REQUEST");
  t.is(sn(srv.queryVolume(treeId).status), "STATUS_INVALID_DEVICE_REQUEST");
});

// ── dispositions ──────────────────────────────────────────────────────────────────────────────────────────────

test("create dispositions: status and createAction with and without an existing file", (t) => {
  const table: [string, number, boolean, string, number][] = [
    ["FILE_SUPERSEDE", FILE_SUPERSEDE, true, "STATUS_SUCCESS", FILE_SUPERSEDED],
    ["FILE_SUPERSEDE", FILE_SUPERSEDE, false, "STATUS_SUCCESS", FILE_CREATED],
    ["FILE_OPEN", FILE_OPEN, true, "STATUS_SUCCESS", FILE_OPENED],
    ["FILE_OPEN", FILE_OPEN, false, "STATUS_OBJECT_NAME_NOT_FOUND", 0],
    ["FILE_CREATE", FILE_CREATE, true, "STATUS_OBJECT_NAME_COLLISION", 0],
    ["FILE_CREATE", FILE_CREATE, false, "STATUS_SUCCESS", FILE_CREATED],
    ["FILE_OPEN_IF", FILE_OPEN_IF, true, "STATUS_SUCCESS", FILE_OPENED],
    ["FILE_OPEN_IF", FILE_OPEN_IF, false, "STATUS_SUCCESS", FILE_CREATED],
    ["FILE_OVERWRITE", FILE_OVERWRITE, true, "STATUS_SUCCESS", FILE_OVERWRITTEN],
    ["FILE_OVERWRITE", FILE_OVERWRITE, false, "STATUS_OBJECT_NAME_NOT_FOUND", 0],
    ["FILE_OVERWRITE_IF", FILE_OVERWRITE_IF, true, "STATUS_SUCCESS", FILE_OVERWRITTEN],
    ["FILE_OVERWRITE_IF", FILE_OVERWRITE_IF, false, "STATUS_SUCCESS", FILE_CREATED],
    ["6", 6, true, "STATUS_INVALID_PARAMETER", 0],
    ["6", 6, false, "STATUS_INVALID_PARAMETER", 0],
  ];
  for (const [name, disposition, exists, status, action] of table) {
    const srv = newServer();
    const { treeId } = connect(srv);
    if (exists) {
      const f = mustOpen(srv, treeId, "t.dat", { disposition: FILE_CREATE, desiredAccess: FILE_GENERIC_WRITE });
      srv.write(f, 0, enc("old content"), T0);
      srv.close(f, T0);
    }
    const r = open(
      srv,
      treeId,
      "t.dat",
      { disposition, desiredAccess: FILE_GENERIC_READ | FILE_GENERIC_WRITE | DELETE },
      T0 + 5,
    );
    const label = `${name} ${exists ? "existing" : "missing"}`;
    t.is(sn(r.status), status, label);
    t.is(r.createAction, action, label);
    if (r.status === S.STATUS_SUCCESS) {
      const expectedSize = exists && action === FILE_OPENED ? 11 : 0;
      t.is(r.info.size, expectedSize, label);
      t.is(r.info.name, "t.dat");
      t.is(r.info.path, "\\t.dat");
      t.false(r.info.directory);
    } else {
      t.is(r.fileId, 0, label);
    }
    t.deepEqual(srv.audit(), []);
  }
});

test("create: directory and non-directory options", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  t.is(sn(open(srv, treeId, "readme.txt", { createOptions: FILE_DIRECTORY_FILE }).status), "STATUS_NOT_A_DIRECTORY");
  t.is(sn(open(srv, treeId, "docs", { createOptions: FILE_NON_DIRECTORY_FILE }).status), "STATUS_FILE_IS_A_DIRECTORY");
  t.is(
    sn(open(srv, treeId, "docs", { createOptions: FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE }).status),
    "STATUS_INVALID_PARAMETER",
  );
  t.is(
    sn(open(srv, treeId, "newdir", { createOptions: FILE_DIRECTORY_FILE, disposition: FILE_OVERWRITE_IF }).status),
    "STATUS_INVALID_PARAMETER",
  );
  t.is(
    sn(open(srv, treeId, "docs", { disposition: FILE_OVERWRITE_IF, desiredAccess: FILE_GENERIC_WRITE }).status),
    "STATUS_OBJECT_NAME_COLLISION",
    "overwriting a directory",
  );
  const d = open(srv, treeId, "newdir", { createOptions: FILE_DIRECTORY_FILE, disposition: FILE_CREATE });
  t.is(sn(d.status), "STATUS_SUCCESS");
  t.true(d.info.directory);
  t.is(d.info.attributes, 0x10, "a new directory has only FILE_ATTRIBUTE_DIRECTORY");
  const f = open(srv, treeId, "newfile", { disposition: FILE_CREATE, fileAttributes: FILE_ATTRIBUTE_NORMAL });
  t.false(f.info.directory);
  t.is(f.info.attributes, 0x20, "a new file gets ARCHIVE");
  // plain open of a directory without options works
  t.is(sn(open(srv, treeId, "docs").status), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "\\").status), "STATUS_SUCCESS", "the share root");
  t.is(sn(open(srv, treeId, "").status), "STATUS_SUCCESS", "the share root");
  t.is(sn(open(srv, treeId, "", { disposition: FILE_CREATE }).status), "STATUS_OBJECT_NAME_COLLISION");
  t.is(sn(open(srv, treeId, "x", { createOptions: 0x01000000 }).status), "STATUS_INVALID_PARAMETER");
  t.is(
    sn(open(srv, treeId, "x", { fileAttributes: 0x40, disposition: FILE_CREATE }).status),
    "STATUS_INVALID_PARAMETER",
  );
  t.is(sn(open(srv, treeId, "x", { shareAccess: 8 }).status), "STATUS_INVALID_PARAMETER");
});

test("create: missing parent vs missing leaf", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  t.is(sn(open(srv, treeId, "nodir\\x.txt").status), "STATUS_OBJECT_PATH_NOT_FOUND");
  t.is(sn(open(srv, treeId, "nodir\\x.txt", { disposition: FILE_CREATE }).status), "STATUS_OBJECT_PATH_NOT_FOUND");
  t.is(sn(open(srv, treeId, "readme.txt\\x").status), "STATUS_OBJECT_PATH_NOT_FOUND", "a file as a directory");
  t.is(sn(open(srv, treeId, "docs\\nope.txt").status), "STATUS_OBJECT_NAME_NOT_FOUND");
  t.is(sn(open(srv, treeId, "docs\\sub\\c.txt").status), "STATUS_SUCCESS");
});

test("names ignore case and keep their case", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = open(srv, treeId, "Mixed.TXT", { disposition: FILE_CREATE });
  t.is(sn(f.status), "STATUS_SUCCESS");
  const again = open(srv, treeId, "mixed.txt");
  t.is(sn(again.status), "STATUS_SUCCESS");
  t.is(again.info.name, "Mixed.TXT");
  t.is(again.info.path, "\\Mixed.TXT");
  t.is(again.info.fileId, f.info.fileId);
  t.is(sn(open(srv, treeId, "MIXED.txt", { disposition: FILE_CREATE }).status), "STATUS_OBJECT_NAME_COLLISION");
  t.is(sn(open(srv, treeId, "DOCS\\A.TXT").status), "STATUS_SUCCESS");
  t.is(open(srv, treeId, "DOCS\\A.TXT").info.path, "\\docs\\a.txt");
});

// ── access ────────────────────────────────────────────────────────────────────────────────────────────────────

test("generic access is mapped; MAXIMUM_ALLOWED grants the share's access", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv); // alice: full
  const r = mustOpen(srv, treeId, "readme.txt", { desiredAccess: GENERIC_READ });
  t.is(sn(srv.read(r, 0, 5, T0).status), "STATUS_SUCCESS");
  t.is(sn(srv.write(r, 0, enc("x"), T0).status), "STATUS_ACCESS_DENIED");
  const w = mustOpen(srv, treeId, "readme.txt", { desiredAccess: GENERIC_WRITE });
  t.is(sn(srv.write(w, 0, enc("H"), T0).status), "STATUS_SUCCESS");
  t.is(sn(srv.read(w, 0, 5, T0).status), "STATUS_ACCESS_DENIED");
  const all = mustOpen(srv, treeId, "readme.txt", { desiredAccess: GENERIC_ALL });
  t.is(sn(srv.setDisposition(all, false)), "STATUS_SUCCESS", "GENERIC_ALL includes DELETE");
  const max = mustOpen(srv, treeId, "readme.txt", { desiredAccess: MAXIMUM_ALLOWED });
  t.is(sn(srv.write(max, 0, enc("h"), T0).status), "STATUS_SUCCESS");
  t.is(sn(srv.read(max, 0, 5, T0).status), "STATUS_SUCCESS");
  // bob (read) with MAXIMUM_ALLOWED gets a read-only open
  const bob = connect(srv, "bob");
  const bmax = mustOpen(srv, bob.treeId, "readme.txt", { desiredAccess: MAXIMUM_ALLOWED });
  t.is(sn(srv.read(bmax, 0, 5, T0).status), "STATUS_SUCCESS");
  t.is(sn(srv.write(bmax, 0, enc("x"), T0).status), "STATUS_ACCESS_DENIED");
  t.is(sn(srv.setDisposition(bmax, true)), "STATUS_ACCESS_DENIED");
});

test("create: a desired access of 0, invalid bits, and ACCESS_SYSTEM_SECURITY", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: 0 }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: 0x08000000 }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: 0x01000000 }).status), "STATUS_PRIVILEGE_NOT_HELD");
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: FILE_READ_ATTRIBUTES }).status), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: SYNCHRONIZE }).status), "STATUS_SUCCESS");
});

test("permissions: read share allows read/list/execute, no write, delete or create", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv, "bob");
  const before = srv.snapshot();
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: GENERIC_READ }).status), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "readme.txt", { desiredAccess: FILE_EXECUTE }).status), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "docs", { desiredAccess: FILE_LIST_DIRECTORY }).status), "STATUS_SUCCESS");
  for (const access of [
    GENERIC_WRITE,
    FILE_WRITE_DATA,
    FILE_APPEND_DATA,
    FILE_WRITE_ATTRIBUTES,
    DELETE,
    WRITE_DAC,
    GENERIC_ALL,
  ]) {
    t.is(
      sn(open(srv, treeId, "readme.txt", { desiredAccess: access }).status),
      "STATUS_ACCESS_DENIED",
      `0x${access.toString(16)}`,
    );
  }
  t.is(sn(open(srv, treeId, "docs", { desiredAccess: FILE_ADD_FILE }).status), "STATUS_ACCESS_DENIED");
  // creating needs write permission even when only read access is asked for
  t.is(sn(open(srv, treeId, "new.txt", { disposition: FILE_OPEN_IF }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, treeId, "new.txt", { disposition: FILE_CREATE }).status), "STATUS_ACCESS_DENIED");
  t.is(
    sn(open(srv, treeId, "nd", { disposition: FILE_CREATE, createOptions: FILE_DIRECTORY_FILE }).status),
    "STATUS_ACCESS_DENIED",
  );
  t.is(sn(open(srv, treeId, "readme.txt", { disposition: FILE_OVERWRITE_IF }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, treeId, "readme.txt", { disposition: FILE_SUPERSEDE }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, treeId, "readme.txt", { createOptions: FILE_DELETE_ON_CLOSE }).status), "STATUS_ACCESS_DENIED");
  t.deepEqual(srv.snapshot(), before, "nothing changed");
});

test("permissions: change allows all but changing permissions; full allows that too", (t) => {
  const srv = newServer();
  const carol = connect(srv, "carol");
  const f = mustOpen(srv, carol.treeId, "c.txt", {
    disposition: FILE_CREATE,
    desiredAccess: FILE_GENERIC_WRITE | DELETE,
  });
  t.is(sn(srv.write(f, 0, enc("carol"), T0).status), "STATUS_SUCCESS");
  t.is(sn(open(srv, carol.treeId, "readme.txt", { desiredAccess: WRITE_DAC }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, carol.treeId, "readme.txt", { desiredAccess: GENERIC_ALL }).status), "STATUS_ACCESS_DENIED");
  const alice = connect(srv, "alice");
  t.is(sn(open(srv, alice.treeId, "readme.txt", { desiredAccess: WRITE_DAC }).status), "STATUS_SUCCESS");
  t.is(sn(open(srv, alice.treeId, "readme.txt", { desiredAccess: GENERIC_ALL }).status), "STATUS_SUCCESS");
});

test("read-only files: no write access, no overwrite, delete-on-close refused", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  t.is(sn(open(srv, treeId, "ro.txt").status), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "ro.txt", { desiredAccess: FILE_WRITE_DATA }).status), "STATUS_ACCESS_DENIED");
  t.is(sn(open(srv, treeId, "ro.txt", { desiredAccess: FILE_APPEND_DATA }).status), "STATUS_ACCESS_DENIED");
  t.is(
    sn(open(srv, treeId, "ro.txt", { disposition: FILE_OVERWRITE, desiredAccess: FILE_GENERIC_READ }).status),
    "STATUS_ACCESS_DENIED",
  );
  t.is(sn(open(srv, treeId, "ro.txt", { disposition: FILE_SUPERSEDE }).status), "STATUS_ACCESS_DENIED");
  t.is(
    sn(open(srv, treeId, "ro.txt", { desiredAccess: DELETE, createOptions: FILE_DELETE_ON_CLOSE }).status),
    "STATUS_CANNOT_DELETE",
  );
  const m = mustOpen(srv, treeId, "ro.txt", { desiredAccess: MAXIMUM_ALLOWED });
  t.is(sn(srv.write(m, 0, enc("x"), T0).status), "STATUS_ACCESS_DENIED", "MAXIMUM_ALLOWED leaves out write");
  t.is(sn(srv.setDisposition(m, true)), "STATUS_CANNOT_DELETE");
  // clearing the attribute makes it writable again
  t.is(sn(srv.setBasic(m, { attributes: FILE_ATTRIBUTE_NORMAL }, T0)), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "ro.txt", { desiredAccess: FILE_WRITE_DATA }).status), "STATUS_SUCCESS");
  t.is(dec(srv.fileData("data", "ro.txt")), "read only");
});

test("overwriting a hidden file must keep FILE_ATTRIBUTE_HIDDEN", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  t.is(
    sn(open(srv, treeId, "hidden.txt", { disposition: FILE_OVERWRITE, desiredAccess: FILE_GENERIC_WRITE }).status),
    "STATUS_ACCESS_DENIED",
  );
  const r = open(srv, treeId, "hidden.txt", {
    disposition: FILE_OVERWRITE,
    desiredAccess: FILE_GENERIC_WRITE,
    fileAttributes: FILE_ATTRIBUTE_HIDDEN,
  });
  t.is(sn(r.status), "STATUS_SUCCESS");
  t.is(r.info.attributes, FILE_ATTRIBUTE_HIDDEN | 0x20);
  t.is(r.info.size, 0);
});

// ── share modes ───────────────────────────────────────────────────────────────────────────────────────────────

const ACCESS_KINDS: [string, number][] = [
  ["none", FILE_READ_ATTRIBUTES],
  ["R", FILE_READ_DATA],
  ["X", FILE_EXECUTE],
  ["W", FILE_WRITE_DATA],
  ["A", FILE_APPEND_DATA],
  ["D", DELETE],
  ["RW", FILE_READ_DATA | FILE_WRITE_DATA],
  ["RWD", FILE_READ_DATA | FILE_WRITE_DATA | DELETE],
];

/** Independent formulation of IoCheckShareAccess for two opens. */
function expectConflict(a1: number, s1: number, a2: number, s2: number): boolean {
  const kinds = (a: number) => ({
    r: (a & (FILE_READ_DATA | FILE_EXECUTE)) !== 0,
    w: (a & (FILE_WRITE_DATA | FILE_APPEND_DATA)) !== 0,
    d: (a & DELETE) !== 0,
  });
  const k1 = kinds(a1);
  const k2 = kinds(a2);
  if (!(k1.r || k1.w || k1.d) || !(k2.r || k2.w || k2.d)) return false;
  const shares = (s: number) => ({
    r: (s & FILE_SHARE_READ) !== 0,
    w: (s & FILE_SHARE_WRITE) !== 0,
    d: (s & FILE_SHARE_DELETE) !== 0,
  });
  const h1 = shares(s1);
  const h2 = shares(s2);
  return (k1.r && !h2.r) || (k1.w && !h2.w) || (k1.d && !h2.d) || (k2.r && !h1.r) || (k2.w && !h1.w) || (k2.d && !h1.d);
}

for (const target of ["file", "directory"] as const) {
  test(`share modes: every access × share pair of two opens on a ${target}`, (t) => {
    const srv = newServer();
    const { treeId } = connect(srv);
    const path = target === "file" ? "docs\\a.txt" : "docs\\sub";
    let checked = 0;
    for (const [n1, a1] of ACCESS_KINDS) {
      for (let s1 = 0; s1 < 8; s1++) {
        const first = open(srv, treeId, path, { desiredAccess: a1, shareAccess: s1 });
        t.is(sn(first.status), "STATUS_SUCCESS");
        for (const [n2, a2] of ACCESS_KINDS) {
          for (let s2 = 0; s2 < 8; s2++) {
            const second = open(srv, treeId, path, { desiredAccess: a2, shareAccess: s2 });
            const want = expectConflict(a1, s1, a2, s2) ? "STATUS_SHARING_VIOLATION" : "STATUS_SUCCESS";
            if (sn(second.status) !== want)
              t.fail(`${n1}/${s1} then ${n2}/${s2}: ${sn(second.status)}, expected ${want}`);
            if (second.status === S.STATUS_SUCCESS) srv.close(second.fileId, T0);
            checked++;
          }
        }
        srv.close(first.fileId, T0);
      }
    }
    t.is(checked, 64 * 64);
    t.is(srv.stats.opens, 0);
    t.deepEqual(srv.audit(), []);
  });
}

test("share modes: counts go back after close; three opens; overwrite counts as write", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const a = mustOpen(srv, treeId, "readme.txt", { desiredAccess: FILE_READ_DATA, shareAccess: FILE_SHARE_READ });
  const b = mustOpen(srv, treeId, "readme.txt", {
    desiredAccess: FILE_READ_DATA,
    shareAccess: FILE_SHARE_READ | FILE_SHARE_WRITE,
  });
  t.is(
    sn(open(srv, treeId, "readme.txt", { desiredAccess: FILE_WRITE_DATA, shareAccess: SHARE_ALL }).status),
    "STATUS_SHARING_VIOLATION",
  );
  srv.close(a, T0);
  t.is(
    sn(open(srv, treeId, "readme.txt", { desiredAccess: FILE_WRITE_DATA, shareAccess: SHARE_ALL }).status),
    "STATUS_SUCCESS",
  );
  srv.close(b, T0);
  // an overwrite needs the others to share write even when only read access is asked for
  const c = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: FILE_READ_DATA, shareAccess: FILE_SHARE_READ });
  t.is(
    sn(
      open(srv, treeId, "docs\\a.txt", {
        desiredAccess: FILE_READ_DATA,
        shareAccess: SHARE_ALL,
        disposition: FILE_OVERWRITE,
      }).status,
    ),
    "STATUS_SHARING_VIOLATION",
  );
  srv.close(c, T0);
  t.deepEqual(srv.audit(), []);
});

test("share modes hold across sessions and trees", (t) => {
  const srv = newServer();
  const a = connect(srv, "alice");
  const c = connect(srv, "carol");
  mustOpen(srv, a.treeId, "readme.txt", { desiredAccess: FILE_GENERIC_WRITE, shareAccess: FILE_SHARE_READ });
  t.is(sn(open(srv, c.treeId, "README.TXT", { desiredAccess: FILE_GENERIC_WRITE }).status), "STATUS_SHARING_VIOLATION");
  t.is(sn(open(srv, c.treeId, "README.TXT", { desiredAccess: FILE_GENERIC_READ }).status), "STATUS_SUCCESS");
  srv.logoff(a.sessionId, T0);
  t.is(sn(open(srv, c.treeId, "README.TXT", { desiredAccess: FILE_GENERIC_WRITE }).status), "STATUS_SUCCESS");
});

// ── deletion ──────────────────────────────────────────────────────────────────────────────────────────────────

test("FILE_DELETE_ON_CLOSE: needs DELETE, removes the file at the last close", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  t.is(sn(open(srv, treeId, "readme.txt", { createOptions: FILE_DELETE_ON_CLOSE }).status), "STATUS_ACCESS_DENIED");
  const other = mustOpen(srv, treeId, "readme.txt");
  const doc = mustOpen(srv, treeId, "readme.txt", {
    desiredAccess: DELETE | FILE_READ_DATA,
    createOptions: FILE_DELETE_ON_CLOSE,
  });
  t.false(srv.queryInfo(doc).info.deletePending, "delete pending only starts at that handle's close");
  const third = open(srv, treeId, "readme.txt");
  t.is(sn(third.status), "STATUS_SUCCESS");
  const closed = srv.close(doc, T0 + 10);
  t.is(sn(closed.status), "STATUS_SUCCESS");
  t.true(closed.info?.deletePending);
  t.is(sn(open(srv, treeId, "readme.txt").status), "STATUS_DELETE_PENDING");
  t.true(srv.queryInfo(other).info.deletePending);
  t.is(srv.queryInfo(other).info.numberOfLinks, 0);
  t.not(srv.fileData("data", "readme.txt"), null, "still there while open");
  srv.close(third.fileId, T0);
  t.not(srv.fileData("data", "readme.txt"), null);
  srv.close(other, T0 + 20);
  t.is(srv.fileData("data", "readme.txt"), null);
  t.is(sn(open(srv, treeId, "readme.txt").status), "STATUS_OBJECT_NAME_NOT_FOUND");
  t.is(srv.pathInfo("data", "\\")?.lastWriteTime, T0 + 20, "the parent's last-write time");
  t.deepEqual(srv.audit(), []);
});

test("FILE_DELETE_ON_CLOSE on a new file and on directories", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const tmp = mustOpen(srv, treeId, "tmp.txt", {
    disposition: FILE_CREATE,
    desiredAccess: DELETE | FILE_GENERIC_WRITE,
    createOptions: FILE_DELETE_ON_CLOSE,
  });
  srv.write(tmp, 0, enc("scratch"), T0);
  srv.close(tmp, T0);
  t.is(srv.pathInfo("data", "tmp.txt"), null);
  t.is(
    sn(
      open(srv, treeId, "ro2.txt", {
        disposition: FILE_CREATE,
        desiredAccess: DELETE,
        fileAttributes: FILE_ATTRIBUTE_READONLY,
        createOptions: FILE_DELETE_ON_CLOSE,
      }).status,
    ),
    "STATUS_CANNOT_DELETE",
  );
  t.is(
    sn(open(srv, treeId, "docs", { desiredAccess: DELETE, createOptions: FILE_DELETE_ON_CLOSE }).status),
    "STATUS_DIRECTORY_NOT_EMPTY",
  );
  t.is(
    sn(open(srv, treeId, "", { desiredAccess: DELETE, createOptions: FILE_DELETE_ON_CLOSE }).status),
    "STATUS_CANNOT_DELETE",
  );
  const e = mustOpen(srv, treeId, "empty", {
    desiredAccess: DELETE,
    createOptions: FILE_DELETE_ON_CLOSE | FILE_DIRECTORY_FILE,
  });
  srv.close(e, T0);
  t.is(srv.pathInfo("data", "empty"), null);
  // a directory that gains a child before the close stays
  const d = mustOpen(srv, treeId, "d2", {
    disposition: FILE_CREATE,
    desiredAccess: DELETE,
    createOptions: FILE_DELETE_ON_CLOSE | FILE_DIRECTORY_FILE,
  });
  srv.close(mustOpen(srv, treeId, "d2\\child", { disposition: FILE_CREATE }), T0);
  srv.close(d, T0);
  t.not(srv.pathInfo("data", "d2"), null);
  t.false(srv.pathInfo("data", "d2")?.deletePending);
  t.deepEqual(srv.audit(), []);
});

test("setDisposition: access, read-only, non-empty directory, root, undelete", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const noDelete = mustOpen(srv, treeId, "readme.txt");
  t.is(sn(srv.setDisposition(noDelete, true)), "STATUS_ACCESS_DENIED");
  const f = mustOpen(srv, treeId, "readme.txt", { desiredAccess: DELETE });
  t.is(sn(srv.setDisposition(f, true)), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "readme.txt").status), "STATUS_DELETE_PENDING");
  t.is(sn(srv.setDisposition(f, false)), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "readme.txt").status), "STATUS_SUCCESS");
  srv.close(f, T0);
  t.not(srv.fileData("data", "readme.txt"), null, "undeleted");
  const ro = mustOpen(srv, treeId, "ro.txt", { desiredAccess: DELETE });
  t.is(sn(srv.setDisposition(ro, true)), "STATUS_CANNOT_DELETE");
  const docs = mustOpen(srv, treeId, "docs", { desiredAccess: DELETE });
  t.is(sn(srv.setDisposition(docs, true)), "STATUS_DIRECTORY_NOT_EMPTY");
  const root = mustOpen(srv, treeId, "", { desiredAccess: DELETE });
  t.is(sn(srv.setDisposition(root, true)), "STATUS_CANNOT_DELETE");
  // undelete also clears delete-on-close
  const doc = mustOpen(srv, treeId, "docs\\a.txt", { desiredAccess: DELETE, createOptions: FILE_DELETE_ON_CLOSE });
  t.is(sn(srv.setDisposition(doc, false)), "STATUS_SUCCESS");
  srv.close(doc, T0);
  t.not(srv.fileData("data", "docs\\a.txt"), null);
  t.is(sn(srv.setDisposition(9999, true)), "STATUS_FILE_CLOSED");
});

test("a delete-pending directory refuses new children; its removal follows the last close", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const d = mustOpen(srv, treeId, "empty", { desiredAccess: DELETE | FILE_LIST_DIRECTORY });
  t.is(sn(srv.setDisposition(d, true)), "STATUS_SUCCESS");
  t.is(sn(open(srv, treeId, "empty\\x.txt", { disposition: FILE_CREATE }).status), "STATUS_DELETE_PENDING");
  const f = mustOpen(srv, treeId, "readme.txt", { desiredAccess: DELETE });
  t.is(sn(srv.rename(f, "empty\\readme.txt", false, T0)), "STATUS_DELETE_PENDING");
  srv.close(d, T0);
  t.is(srv.pathInfo("data", "empty"), null);
});

// ── paths ─────────────────────────────────────────────────────────────────────────────────────────────────────

const BAD_PATHS = [
  "..\\..\\x",
  "..",
  "a\\..\\..\\b",
  "docs\\..\\readme.txt",
  ".",
  "docs\\.\\a.txt",
  "C:\\x",
  "c:x",
  "\\\\srv\\other\\x",
  "\\\\srv\\data\\readme.txt",
  "docs\\\\a.txt",
  "docs\\",
  "a/b",
  "/etc/passwd",
  "CON",
  "con",
  "con.txt",
  "Con.Tar.Gz",
  "PRN",
  "aux.c",
  "NUL",
  "nul .txt",
  "COM1",
  "com9.log",
  "LPT1",
  "lpt9.x",
  "docs\\nul",
  "a<b",
  "a>b",
  'a"b',
  "a|b",
  "a?b",
  "a*b",
  "a:stream",
  "tab\there",
  "nul\u0000byte",
  "trailing.",
  "trailing ",
  "docs.\\a.txt",
  "x".repeat(256),
];

test("paths: escapes, device names, invalid characters and long names are STATUS_OBJECT_NAME_INVALID", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const before = srv.snapshot();
  for (const path of BAD_PATHS) {
    for (const disposition of [FILE_OPEN, FILE_CREATE, FILE_OPEN_IF]) {
      const r = open(srv, treeId, path, { disposition, desiredAccess: FILE_GENERIC_READ | FILE_GENERIC_WRITE });
      t.is(sn(r.status), "STATUS_OBJECT_NAME_INVALID", JSON.stringify(path));
    }
  }
  const f = mustOpen(srv, treeId, "readme.txt", { desiredAccess: DELETE });
  for (const path of BAD_PATHS)
    t.is(sn(srv.rename(f, path, true, T0)), "STATUS_OBJECT_NAME_INVALID", JSON.stringify(path));
  srv.close(f, T0);
  t.deepEqual(srv.snapshot(), before, "nothing was created or moved");
  for (const path of BAD_PATHS) t.is(srv.fileData("data", path), null);
});

test("paths: names close to the forbidden ones are fine", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  for (const path of [
    "COM10",
    "console",
    "conx.txt",
    "lpt",
    ".hidden",
    "a..b",
    " lead",
    "x".repeat(255),
    "ünïcödé",
    "a b.c d",
    "dots.in.name.txt",
  ]) {
    const r = open(srv, treeId, path, { disposition: FILE_CREATE });
    t.is(sn(r.status), "STATUS_SUCCESS", JSON.stringify(path));
    t.is(r.info.name, path);
  }
  t.is(sn(open(srv, treeId, "\\docs\\a.txt").status), "STATUS_SUCCESS", "leading backslash");
  t.is(sn(open(srv, treeId, "docs\\a.txt").status), "STATUS_SUCCESS", "no leading backslash");
});

test("shares are separate namespaces", (t) => {
  const srv = newServer();
  const data = connect(srv, "alice", "data");
  const pub = connect(srv, "alice", "pub");
  t.is(sn(open(srv, pub.treeId, "readme.txt").status), "STATUS_OBJECT_NAME_NOT_FOUND");
  const f = mustOpen(srv, pub.treeId, "readme.txt", {
    disposition: FILE_CREATE,
    desiredAccess: FILE_GENERIC_WRITE | DELETE,
  });
  srv.write(f, 0, enc("pub copy"), T0);
  t.is(dec(srv.fileData("pub", "readme.txt")), "pub copy");
  t.is(dec(srv.fileData("data", "readme.txt")), "hello world");
  t.is(sn(srv.rename(f, "\\\\srv\\data\\readme.txt", true, T0)), "STATUS_OBJECT_NAME_INVALID");
  t.is(sn(srv.rename(f, "..\\data\\readme.txt", true, T0)), "STATUS_OBJECT_NAME_INVALID");
  t.not(open(srv, data.treeId, "readme.txt").info.fileId, open(srv, pub.treeId, "readme.txt").info.fileId);
});

test("unknown ids: STATUS_FILE_CLOSED for every file operation", (t) => {
  const srv = newServer();
  const nothing = () => t.fail("callback must not run");
  t.is(sn(srv.close(42, T0).status), "STATUS_FILE_CLOSED");
  t.is(srv.close(42, T0).info, null);
  t.is(sn(srv.read(42, 0, 1, T0).status), "STATUS_FILE_CLOSED");
  t.is(sn(srv.write(42, 0, enc("x"), T0).status), "STATUS_FILE_CLOSED");
  t.is(sn(srv.flush(42)), "STATUS_FILE_CLOSED");
  t.is(sn(srv.queryInfo(42).status), "STATUS_FILE_CLOSED");
  t.is(sn(srv.setBasic(42, {}, T0)), "STATUS_FILE_CLOSED");
  t.is(sn(srv.setEndOfFile(42, 0, T0)), "STATUS_FILE_CLOSED");
  t.is(sn(srv.rename(42, "x", false, T0)), "STATUS_FILE_CLOSED");
  t.is(
    sn(srv.queryDirectory(42, { pattern: null, restart: false, single: false, maxEntries: 10 }).status),
    "STATUS_FILE_CLOSED",
  );
  t.is(
    sn(srv.lock(42, { offset: 0, length: 1, exclusive: true, failImmediately: false }, nothing).status),
    "STATUS_FILE_CLOSED",
  );
  t.is(sn(srv.unlock(42, 0, 1)), "STATUS_FILE_CLOSED");
  t.false(srv.cancelLockWait(42, 1));
  t.false(srv.cancelNotify(42));
  let got = "";
  t.is(
    sn(
      srv.notify(42, { filter: 1, watchTree: false, bufferLength: 100 }, (r) => {
        got = sn(r.status);
      }).status,
    ),
    "STATUS_FILE_CLOSED",
  );
  t.is(got, "STATUS_FILE_CLOSED");
});
