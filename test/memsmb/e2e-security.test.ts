/**
 * memsmb end to end: security. Logon failures, share permissions (none, read-only, full), names that try to leave
 * the share, share-name case, unknown shares and servers, and IPC$ (not a disk). Everything through net use and
 * Nt* calls from processes with logon tokens; the server model is only inspected afterwards.
 */
import test from "ava";
import {
  DELETE,
  decodeDirectoryEntries,
  FILE_CREATE,
  FILE_INFORMATION_CLASS,
  FILE_LIST_DIRECTORY,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OVERWRITE_IF,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { NetRootType } from "../../emulator/rdbss/index.js";
import { assertClean, is } from "../conformance/suite.js";
import { boot, finish, IDLE_SERVER, openName, runThreads, S, serverState, serverText, userProcess } from "./_e2e.js";

const READ = GENERIC_READ | SYNCHRONIZE;

test("wrong password: net use and a UNC open are STATUS_LOGON_FAILURE, no session stays; the right one then works", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        const calls = s.calls("MRxCreateVNetRoot");
        is(t, await s.np.netUse("A", "\\\\srv\\docs", "alice", "not-her-password"), S.STATUS_LOGON_FAILURE);
        t.is(s.calls("MRxCreateVNetRoot"), calls + 1, "the logon was tried (MRxCreateVNetRoot)");
        t.is(em.sys.io.lookupName("\\??\\A:"), undefined, "no drive letter");
        t.deepEqual(await e.np.list(), []);
        // User names ignore case, passwords do not.
        is(t, await s.np.netUse("B", "\\\\srv\\docs", "ALICE", "ALICE-PW"), S.STATUS_LOGON_FAILURE);
        is(t, await s.np.netUse("B", "\\\\srv\\docs", "nobody", "x"), S.STATUS_LOGON_FAILURE);
        await s.settle();
        t.deepEqual(serverState(e), IDLE_SERVER, "a failed logon leaves no session on the server");
        // The right password (explicit, then user-name case folded) works on the same letter.
        is(t, await s.np.netUse("A", "\\\\srv\\docs", "alice", "alice-pw"), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("B", "\\\\srv\\docs", "ALICE", "alice-pw"), S.STATUS_SUCCESS);
        const r = await s.open("\\readme.txt", { drive: "A", disposition: FILE_OPEN, access: READ });
        is(t, r.Status, S.STATUS_SUCCESS);
        t.is((await s.read(r.FileHandle, 64, 0)).text, "hello from docs");
        is(t, await s.nt.NtClose(r.FileHandle), S.STATUS_SUCCESS);
        t.like(serverState(e), { sessions: 2, trees: 2 });
      },
    },
  ]);
  assertClean(t, run);
  const stale = await runThreads(e, [
    {
      // Default credentials from a token whose password is wrong: MUP surfaces the logon failure.
      process: userProcess(em, "alice", "stale-password"),
      name: "alice (stale token)",
      body: async () => {
        const u = await openName(s, "\\??\\UNC\\srv\\docs\\readme.txt", { access: READ, disposition: FILE_OPEN });
        is(t, u.Status, S.STATUS_LOGON_FAILURE);
        t.is(u.FileHandle, 0);
      },
    },
  ]);
  assertClean(t, stale);
  t.is(serverText(e, "srv", "docs", "\\readme.txt"), "hello from docs");
  await finish(t, e);
});

test("a user without permission on a share: net use and UNC opens are STATUS_ACCESS_DENIED, the session is logged off", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "carol"),
      name: "carol",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        // carol is a user of \\srv but has no entry on docs (and docs has no "*").
        is(t, await s.np.netUse("C", "\\\\srv\\docs"), S.STATUS_ACCESS_DENIED);
        is(t, await s.np.netUse("C", "\\\\srv\\secret", "carol", "carol-pw"), S.STATUS_ACCESS_DENIED);
        const u = await openName(s, "\\??\\UNC\\srv\\docs\\readme.txt", { access: READ, disposition: FILE_OPEN });
        is(t, u.Status, S.STATUS_ACCESS_DENIED, "MUP passes the redirector's access denied through");
        const u2 = await openName(s, "\\??\\UNC\\srv\\docs\\new.txt", { disposition: FILE_CREATE });
        is(t, u2.Status, S.STATUS_ACCESS_DENIED);
        await s.settle();
        t.deepEqual(serverState(e), IDLE_SERVER, "each refused tree connect logged its session off");
        // Where she has a permission ("*": change on pub), the same process works.
        const p = await openName(s, "\\??\\UNC\\srv\\pub\\carol.txt", { disposition: FILE_CREATE });
        is(t, p.Status, S.STATUS_SUCCESS);
        is(t, (await s.write(p.FileHandle, "mine", 0)).Status, S.STATUS_SUCCESS);
        is(t, await s.nt.NtClose(p.FileHandle), S.STATUS_SUCCESS);
        t.like(serverState(e), { sessions: 1, trees: 1 });
      },
    },
  ]);
  assertClean(t, run);
  t.is(serverText(e, "srv", "pub", "\\carol.txt"), "mine");
  t.is(serverText(e, "srv", "docs", "\\new.txt"), null, "nothing was created on docs");
  await finish(t, e);
});

test("a read-only user: creating, writing, truncating, deleting and renaming are STATUS_ACCESS_DENIED; reading works", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "bob"),
      name: "bob",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("B", "\\\\srv\\docs"), S.STATUS_SUCCESS, "default credentials: bob's token");
        t.like(s.vNetRoot("B", "\\\\srv\\docs"), { LogonId: "bob-logon", IsExplicitConnection: false });
        const B = { drive: "B" };
        is(t, (await s.open("\\bob.txt", { ...B, disposition: FILE_CREATE })).Status, S.STATUS_ACCESS_DENIED);
        is(
          t,
          (await s.open("\\bob.txt", { ...B, disposition: FILE_OPEN_IF, access: READ })).Status,
          S.STATUS_ACCESS_DENIED,
        );
        is(t, (await s.openDir("\\bobdir", { ...B, disposition: FILE_CREATE })).Status, S.STATUS_ACCESS_DENIED);
        is(t, (await s.open("\\readme.txt", { ...B, disposition: FILE_OPEN })).Status, S.STATUS_ACCESS_DENIED);
        is(
          t,
          (await s.open("\\readme.txt", { ...B, disposition: FILE_OVERWRITE_IF, access: READ })).Status,
          S.STATUS_ACCESS_DENIED,
        );
        is(
          t,
          (await s.open("\\readme.txt", { ...B, disposition: FILE_OPEN, access: DELETE | SYNCHRONIZE })).Status,
          S.STATUS_ACCESS_DENIED,
        );
        // Reading is allowed: read, query, list.
        const r = await s.open("\\readme.txt", { ...B, disposition: FILE_OPEN, access: READ });
        is(t, r.Status, S.STATUS_SUCCESS);
        t.is((await s.read(r.FileHandle, 64, 0)).text, "hello from docs");
        const st = await s.queryStandard(r.FileHandle);
        t.is(typeof st === "number" ? -1 : st.endOfFile, 15);
        // Through the read-only handle nothing can change.
        is(t, (await s.write(r.FileHandle, "bob was here", 0)).Status, S.STATUS_ACCESS_DENIED);
        is(t, (await s.setEndOfFile(r.FileHandle, 0)).Status, S.STATUS_ACCESS_DENIED);
        is(t, (await s.setDisposition(r.FileHandle, true)).Status, S.STATUS_ACCESS_DENIED);
        is(t, (await s.rename(r.FileHandle, "\\moved.txt", false)).Status, S.STATUS_ACCESS_DENIED);
        is(t, await s.nt.NtClose(r.FileHandle), S.STATUS_SUCCESS);
        const d = await s.openDir("\\", { ...B, disposition: FILE_OPEN, access: READ | FILE_LIST_DIRECTORY });
        is(t, d.Status, S.STATUS_SUCCESS);
        const q = await s.nt.NtQueryDirectoryFile(d.FileHandle, {
          FileInformationClass: FILE_INFORMATION_CLASS.FileNamesInformation,
          Length: 1024,
          RestartScan: true,
        });
        is(t, q.Status, S.STATUS_SUCCESS);
        t.deepEqual(
          decodeDirectoryEntries(FILE_INFORMATION_CLASS.FileNamesInformation, q.Buffer, q.Information).map(
            (x) => x.fileName,
          ),
          ["readme.txt", "sub"],
        );
        is(t, await s.nt.NtClose(d.FileHandle), S.STATUS_SUCCESS);
      },
    },
  ]);
  assertClean(t, run);
  const srv = e.memsmb.world.get("srv");
  t.is(serverText(e, "srv", "docs", "\\readme.txt"), "hello from docs", "unchanged on the server");
  t.is(srv?.pathInfo("docs", "\\bob.txt") ?? null, null);
  t.is(srv?.pathInfo("docs", "\\bobdir") ?? null, null);
  t.is(srv?.pathInfo("docs", "\\moved.txt") ?? null, null);
  // alice (full) on the same share, through UNC: her write is what bob then reads through B:.
  const run2 = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        const w = await openName(s, "\\??\\UNC\\srv\\docs\\readme.txt", {
          access: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
          disposition: FILE_OPEN,
        });
        is(t, w.Status, S.STATUS_SUCCESS);
        is(t, (await s.write(w.FileHandle, "HELLO", 0)).Status, S.STATUS_SUCCESS);
        is(t, await s.nt.NtClose(w.FileHandle), S.STATUS_SUCCESS);
      },
    },
  ]);
  assertClean(t, run2);
  const run3 = await runThreads(e, [
    {
      process: userProcess(em, "bob"),
      name: "bob again",
      body: async () => {
        const r = await s.open("\\readme.txt", { drive: "B", disposition: FILE_OPEN, access: READ });
        t.is((await s.read(r.FileHandle, 64, 0)).text, "HELLO from docs");
        await s.nt.NtClose(r.FileHandle);
      },
    },
  ]);
  assertClean(t, run3);
  await finish(t, e);
});

test("names that try to leave the share (.., device names, drive and stream colons) fail and touch nothing", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const images = () => e.memsmb.world.servers.map((srv) => structuredClone(srv.snapshot()));
  const before = images();
  const results: string[] = [];
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("A", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        const names = [
          "\\..\\secret\\x.txt",
          "\\..\\..\\x",
          "\\sub\\..\\..\\secret\\x.txt",
          "\\sub\\..\\readme.txt",
          "\\.\\readme.txt",
          "\\CON",
          "\\nul",
          "\\LPT1",
          "\\lpt1.txt",
          "\\sub\\COM3.log",
          "\\C:\\x.txt",
          "\\C:",
          "\\readme.txt:stream",
          "\\trailing.",
        ];
        for (const name of names) {
          for (const disposition of [FILE_OPEN, FILE_OPEN_IF, FILE_CREATE]) {
            const r = await s.open(name, { drive: "A", disposition });
            results.push(
              `A:${name} ${disposition} ${r.Status === S.STATUS_OBJECT_NAME_INVALID ? "invalid" : r.Status}`,
            );
            if (r.FileHandle) await s.nt.NtClose(r.FileHandle);
          }
        }
        // The same through UNC paths: inside a share the server refuses the name; ".." as the share name is an
        // unknown share (MUP: STATUS_BAD_NETWORK_PATH).
        for (const [name, expected] of [
          ["\\??\\UNC\\srv\\docs\\..\\secret\\x.txt", S.STATUS_OBJECT_NAME_INVALID],
          ["\\??\\UNC\\srv\\docs\\..\\..\\srv2\\music\\song.txt", S.STATUS_OBJECT_NAME_INVALID],
          ["\\??\\UNC\\srv\\..\\secret\\x.txt", S.STATUS_BAD_NETWORK_PATH],
          ["\\??\\UNC\\srv\\docs\\AUX", S.STATUS_OBJECT_NAME_INVALID],
        ] as const) {
          const r = await openName(s, name, { disposition: FILE_OPEN_IF });
          is(t, r.Status, expected, name);
          if (r.FileHandle) await s.nt.NtClose(r.FileHandle);
        }
        // The share still works normally.
        const ok = await s.open("\\readme.txt", { drive: "A", disposition: FILE_OPEN, access: READ });
        is(t, ok.Status, S.STATUS_SUCCESS);
        await s.nt.NtClose(ok.FileHandle);
      },
    },
  ]);
  assertClean(t, run);
  t.deepEqual(
    results.filter((r) => !r.endsWith(" invalid")),
    [],
    "every such name is STATUS_OBJECT_NAME_INVALID",
  );
  t.is(results.length, 14 * 3);
  t.deepEqual(images(), before, "nothing changed on either server: no file, no directory, no timestamp");
  t.is(serverText(e, "srv", "secret", "\\x.txt"), "top secret");
  t.is(serverText(e, "srv2", "music", "\\song.txt"), "la");
  await finish(t, e);
});

test("share and server names differing in case reach the same share: one SRV_CALL, one NET_ROOT, one server share", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", "\\\\SRV\\DOCS"), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("M", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("O", "\\\\Srv\\Docs", "alice", "alice-pw"), S.STATUS_SUCCESS);
        t.is(s.calls("MRxCreateSrvCall"), 1, "one connection to the server");
        t.is(s.containers().filter((c) => c.startsWith("NET_ROOT")).length, 1, "one NET_ROOT");
        t.is(s.containers().filter((c) => c.startsWith("V_NET_ROOT")).length, 3);
        const nr = s.netRoot("\\\\sRv\\dOcS");
        t.is(nr?.Type, NetRootType.NET_ROOT_DISK);
        await s.createFile("\\case.txt", "written through N:");
        const m = await s.open("\\CASE.TXT", { drive: "M", disposition: FILE_OPEN, access: READ });
        t.is((await s.read(m.FileHandle, 64, 0)).text, "written through N:");
        await s.nt.NtClose(m.FileHandle);
        const u = await openName(s, "\\??\\UNC\\sRv\\DoCs\\Case.Txt", { access: READ, disposition: FILE_OPEN });
        is(t, u.Status, S.STATUS_SUCCESS);
        t.is((await s.read(u.FileHandle, 64, 0)).text, "written through N:");
        await s.nt.NtClose(u.FileHandle);
        const o = await s.open("\\case.txt", { drive: "O", disposition: FILE_OPEN, access: READ });
        t.is((await s.read(o.FileHandle, 64, 0)).text, "written through N:");
        await s.nt.NtClose(o.FileHandle);
        t.like(serverState(e), { sessions: 4, trees: 4 }, "a session and tree connect per V_NET_ROOT");
      },
    },
  ]);
  assertClean(t, run);
  t.deepEqual(e.memsmb.world.get("srv")?.shareNames, ["docs", "secret", "pub", "IPC$"]);
  t.is(serverText(e, "srv", "docs", "\\case.txt"), "written through N:");
  t.is(e.memsmb.network.connections.length, 1);
  await finish(t, e);
});

test("unknown share is STATUS_BAD_NETWORK_NAME; unknown server STATUS_BAD_NETWORK_PATH, cached until scavenged", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("Q", "\\\\srv\\nosuch"), S.STATUS_BAD_NETWORK_NAME);
        is(t, await s.np.netUse("Z", "\\\\nosrv\\docs"), S.STATUS_BAD_NETWORK_PATH);
        t.is(s.calls("MRxCreateSrvCall"), 2);
        t.deepEqual(
          e.memsmb.network.connections.map((c) => c.server.name),
          ["srv"],
          "no connection to a server that does not exist",
        );
        // Through MUP both are STATUS_BAD_NETWORK_PATH (MupOrderedErrorList ranks BAD_NETWORK_NAME below it).
        is(t, (await openName(s, "\\??\\UNC\\srv\\nosuch\\f", { access: READ })).Status, S.STATUS_BAD_NETWORK_PATH);
        is(t, (await openName(s, "\\??\\UNC\\nosrv\\docs\\f", { access: READ })).Status, S.STATUS_BAD_NETWORK_PATH);
        is(t, (await openName(s, "\\??\\UNC\\NOSRV\\x\\f", { access: READ })).Status, S.STATUS_BAD_NETWORK_PATH);
        // The failed SRV_CALL is cached (Bad) until the scavenger finalizes it: no new connection attempt.
        is(t, await s.np.netUse("Z", "\\\\nosrv\\docs"), S.STATUS_BAD_NETWORK_PATH);
        t.is(s.calls("MRxCreateSrvCall"), 2);
        t.true(s.containers().includes("SRV_CALL \\nosrv"));
        await s.delay(11);
        t.false(s.containers().includes("SRV_CALL \\nosrv"), "scavenged");
        is(t, await s.np.netUse("Z", "\\\\nosrv\\docs"), S.STATUS_BAD_NETWORK_PATH);
        t.is(s.calls("MRxCreateSrvCall"), 3, "asked again after the scavenger");
        t.deepEqual(await e.np.list(), []);
        // The good server is unaffected.
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        t.is(await s.contentOf("\\readme.txt"), "hello from docs");
        t.like(serverState(e), { sessions: 1, trees: 1 }, "the failed tree connects left nothing");
      },
    },
  ]);
  assertClean(t, run);
  await finish(t, e);
});

test("IPC$ is not a disk: net use X: is STATUS_BAD_DEVICE_TYPE; a deviceless connection is a pipe NET_ROOT with no files", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("I", "\\\\srv\\IPC$"), S.STATUS_BAD_DEVICE_TYPE);
        t.is(em.sys.io.lookupName("\\??\\I:"), undefined);
        await s.settle();
        t.deepEqual(serverState(e), IDLE_SERVER, "the refused drive connection's tree and session are gone");
        const nr = s.netRoot("\\\\srv\\IPC$");
        t.is(nr?.Type, NetRootType.NET_ROOT_PIPE, "the NET_ROOT itself is good and a pipe share");
        // Deviceless (UNC): the connection works, but there is no file system behind it.
        for (const [name, options] of [
          ["\\??\\UNC\\srv\\IPC$\\file.txt", 0],
          ["\\??\\UNC\\srv\\IPC$\\dir", 1],
          ["\\??\\UNC\\srv\\ipc$\\", 0],
        ] as const) {
          const r = await openName(s, name, { options });
          is(t, r.Status, S.STATUS_INVALID_DEVICE_REQUEST, name);
        }
        t.like(serverState(e), { sessions: 1, trees: 1, opens: 0 }, "one deviceless tree connect to IPC$");
        t.is(s.dev.NumberOfActiveFcbs, 0);
      },
    },
  ]);
  assertClean(t, run);
  await finish(t, e);
});
