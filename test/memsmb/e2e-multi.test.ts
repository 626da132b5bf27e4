/**
 * memsmb end to end: several users and servers at once. Two logons on one share are two V_NET_ROOTs on one
 * NET_ROOT (one FCB per file, one SRV_OPEN per logon, no collapsing across logons) with each user's permission
 * enforced by the server; two servers with their own users and shares used concurrently; deleting one connection
 * leaves the others (and their pending requests) alone.
 */
import test from "ava";
import {
  FILE_CREATE,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE,
  FILE_OPEN,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { statusName } from "../../emulator/kernel/index.js";
import { type FCB, NET_ROOT, type SRV_OPEN, type V_NET_ROOT } from "../../emulator/rdbss/index.js";
import { assertClean, is, type Session, settle } from "../conformance/suite.js";
import { boot, finish, openName, runThreads, S, serverState, serverText, userProcess } from "./_e2e.js";

const READ = GENERIC_READ | SYNCHRONIZE;
const RW = GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE;
const UNC = (path: string) => `\\??\\UNC\\srv\\docs${path}`;

/** What a thread sees of its own handle (the handle table is per process). */
function objects(s: Session, h: number): { fcb: FCB | null; srvOpen: SRV_OPEN | null; vnr: V_NET_ROOT | null } {
  const { fcb, fobx } = s.objectsOf(h);
  const srvOpen = (fobx?.pSrvOpen as SRV_OPEN | undefined) ?? null;
  return { fcb, srvOpen, vnr: (srvOpen?.pVNetRoot as V_NET_ROOT | undefined) ?? null };
}

test("two logons on one share: two V_NET_ROOTs on one NET_ROOT, one FCB, a SRV_OPEN each, each user's permission", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const seen: Record<string, ReturnType<typeof objects>> = {};
  const creates: number[] = [];
  // Step 1: alice creates and writes through UNC; bob reads the same file through UNC, at the same time.
  const start = await runThreads(e, [
    { process: em.k.createProcess("net.exe"), name: "start", body: async () => void (await s.np.start()) },
  ]);
  assertClean(t, start);
  let aliceHandle = 0;
  const aliceProcess = userProcess(em, "alice");
  const run = await runThreads(e, [
    {
      process: aliceProcess,
      name: "alice",
      body: async () => {
        const r = await openName(s, UNC("\\shared.txt"), { access: RW, disposition: FILE_CREATE });
        is(t, r.Status, S.STATUS_SUCCESS);
        aliceHandle = r.FileHandle;
        is(t, (await s.write(r.FileHandle, "from alice", 0)).Status, S.STATUS_SUCCESS);
        seen.alice = objects(s, r.FileHandle);
        await s.delay(1); // keep it open while bob works
        is(t, (await s.write(r.FileHandle, "FROM", 0)).Status, S.STATUS_SUCCESS, "alice's handle is unaffected");
      },
    },
    {
      process: userProcess(em, "bob"),
      name: "bob",
      body: async () => {
        await s.delay(0.5);
        is(t, (await openName(s, UNC("\\bob.txt"), { disposition: FILE_CREATE })).Status, S.STATUS_ACCESS_DENIED);
        is(
          t,
          (await openName(s, UNC("\\shared.txt"), { access: RW, disposition: FILE_OPEN })).Status,
          S.STATUS_ACCESS_DENIED,
          "bob may not write what alice may",
        );
        const r = await openName(s, UNC("\\shared.txt"), { access: READ, disposition: FILE_OPEN });
        is(t, r.Status, S.STATUS_SUCCESS);
        t.is((await s.read(r.FileHandle, 64, 0)).text, "from alice");
        is(t, (await s.write(r.FileHandle, "bob", 0)).Status, S.STATUS_ACCESS_DENIED);
        seen.bob = objects(s, r.FileHandle);
        is(t, await s.nt.NtClose(r.FileHandle), S.STATUS_SUCCESS);
      },
    },
  ]);
  assertClean(t, run);
  const { alice, bob } = seen;
  if (!alice || !bob) return t.fail("no objects seen");
  t.not(alice.vnr, null);
  t.not(alice.vnr, bob.vnr, "one V_NET_ROOT per logon");
  t.is(alice.vnr?.pNetRoot, bob.vnr?.pNetRoot, "on the same NET_ROOT");
  t.like(alice.vnr, { LogonId: "alice-logon", PrefixName: "\\;:1\\srv\\docs", IsExplicitConnection: false });
  t.like(bob.vnr, { LogonId: "bob-logon", PrefixName: "\\;:1\\srv\\docs", IsExplicitConnection: false });
  const nr = alice.vnr?.pNetRoot as NET_ROOT;
  t.true(nr instanceof NET_ROOT);
  t.deepEqual(
    nr.VirtualNetRoots.map((v) => v.LogonId),
    ["alice-logon", "bob-logon"],
  );
  t.is(alice.fcb, bob.fcb, "one FCB for the file (the NET_ROOT's FCB table)");
  t.not(alice.srvOpen, bob.srvOpen, "a SRV_OPEN per logon");
  t.is(alice.srvOpen?.pVNetRoot, alice.vnr);
  t.is(bob.srvOpen?.pVNetRoot, bob.vnr);
  t.deepEqual(
    s.containers(),
    ["SRV_CALL \\srv", "NET_ROOT \\srv\\docs", "V_NET_ROOT \\;:1\\srv\\docs", "V_NET_ROOT \\;:1\\srv\\docs"],
    "both V_NET_ROOTs are in the netname table under the same name",
  );
  t.like(serverState(e), { sessions: 2, trees: 2 }, "a session and tree connect per user");
  t.is(serverText(e, "srv", "docs", "\\shared.txt"), "FROM alice");
  // Step 2: bob's read open is dormant now. alice opening with exactly bob's access and share mode must not be
  // collapsed onto bob's SRV_OPEN (it is bob's server open, with bob's rights): RDBSS asks the server again.
  const run2 = await runThreads(e, [
    {
      process: aliceProcess,
      name: "alice again",
      body: async () => {
        is(t, await s.nt.NtClose(aliceHandle), S.STATUS_SUCCESS);
        creates.push(s.calls("MRxCreate"));
        const r = await openName(s, UNC("\\shared.txt"), { access: READ, disposition: FILE_OPEN });
        is(t, r.Status, S.STATUS_SUCCESS);
        creates.push(s.calls("MRxCreate"), s.calls("MRxCollapseOpen"));
        const mine = objects(s, r.FileHandle);
        t.is(mine.vnr, alice.vnr, "alice's own V_NET_ROOT");
        t.not(mine.srvOpen, bob.srvOpen);
        is(t, await s.nt.NtClose(r.FileHandle), S.STATUS_SUCCESS);
        // The same open again collapses onto alice's own dormant SRV_OPEN.
        const again = await openName(s, UNC("\\shared.txt"), { access: READ, disposition: FILE_OPEN });
        t.is(objects(s, again.FileHandle).srvOpen, mine.srvOpen);
        creates.push(s.calls("MRxCreate"), s.calls("MRxCollapseOpen"));
        await s.nt.NtClose(again.FileHandle);
      },
    },
  ]);
  assertClean(t, run2);
  const [before, after, collapses, afterAgain, collapsesAgain] = creates as [number, number, number, number, number];
  t.is(after, before + 1, "a new MRxCreate for alice");
  t.is(collapses, 0);
  t.is(afterAgain, after, "no MRxCreate for alice's second open");
  t.is(collapsesAgain, 1);
  await finish(t, e);
});

test("two servers with their own users and shares, used concurrently by two threads", async (t) => {
  for (const seed of [1, 2, 3]) {
    const e = await boot({ seed, strategy: "random", network: { jitter: 10_000 } });
    const { em, s } = e;
    const log: string[] = [];
    const worker = (user: string, letter: string, remote: string, other: string) => async () => {
      is(t, await s.np.netUse(letter, remote), S.STATUS_SUCCESS, `${user}: net use ${letter}:`);
      // Not a user of the other server.
      is(t, await s.np.netUse("X", other), S.STATUS_LOGON_FAILURE, `${user} on ${other}`);
      const h = await s.mustOpen(`\\${user}.log`, { drive: letter, disposition: FILE_CREATE });
      for (let i = 0; i < 5; i++) {
        const w = await s.write(h, `${user}${i};`);
        log.push(`${user} write ${i} ${statusName(w.Status)}`);
        await s.delay(0.01);
      }
      await s.nt.NtClose(h);
      const r = await s.open(`\\${user}.log`, { drive: letter, disposition: FILE_OPEN, access: READ });
      log.push(`${user} read ${(await s.read(r.FileHandle, 128, 0)).text}`);
      await s.nt.NtClose(r.FileHandle);
    };
    const boot1 = await runThreads(e, [
      { process: em.k.createProcess("net.exe"), name: "start", body: async () => void (await s.np.start()) },
    ]);
    assertClean(t, boot1);
    const run = await runThreads(e, [
      {
        process: userProcess(em, "alice"),
        name: "alice",
        body: worker("alice", "N", "\\\\srv\\docs", "\\\\srv2\\music"),
      },
      { process: userProcess(em, "dave"), name: "dave", body: worker("dave", "M", "\\\\srv2\\music", "\\\\srv\\docs") },
    ]);
    assertClean(t, run);
    t.deepEqual(
      log.filter((l) => l.includes("read")).sort(),
      ["alice read alice0;alice1;alice2;alice3;alice4;", "dave read dave0;dave1;dave2;dave3;dave4;"],
      `seed ${seed}`,
    );
    t.is(log.filter((l) => l.endsWith("STATUS_SUCCESS")).length, 10, `seed ${seed}`);
    t.deepEqual(
      e.memsmb.network.connections.map((c) => c.server.name).sort(),
      ["srv", "srv2"],
      "one connection per server",
    );
    t.deepEqual(
      s
        .containers()
        .filter((c) => c.startsWith("SRV_CALL"))
        .sort(),
      ["SRV_CALL \\srv", "SRV_CALL \\srv2"],
    );
    t.is(serverText(e, "srv", "docs", "\\alice.log"), "alice0;alice1;alice2;alice3;alice4;");
    t.is(serverText(e, "srv2", "music", "\\dave.log"), "dave0;dave1;dave2;dave3;dave4;");
    t.is(serverText(e, "srv", "docs", "\\dave.log"), null, "nothing crossed servers");
    t.is(serverText(e, "srv2", "music", "\\alice.log"), null);
    t.like(serverState(e, "srv"), { sessions: 1, trees: 1 });
    t.like(serverState(e, "srv2"), { sessions: 1, trees: 1 });
    await finish(t, e);
  }
});

test("deleting one connection (forced, with a handle open) leaves the others and their pending requests alone", async (t) => {
  const e = await boot({ network: { record: true } });
  const { em, s } = e;
  const watchFilter = FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME;
  // Pending I/O belongs to its thread (a thread's exit cancels it): each user's thread lives through the test.
  const watch = async (drive: string) => {
    const d = await s.openDir("\\", {
      drive,
      sync: false,
      access: FILE_LIST_DIRECTORY | SYNCHRONIZE,
      disposition: FILE_OPEN,
    });
    is(t, d.Status, S.STATUS_SUCCESS);
    const n = await s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, { CompletionFilter: watchFilter, Length: 512 });
    is(t, n.Status, S.STATUS_PENDING);
    return { d: d.FileHandle, n };
  };
  const started = await runThreads(e, [
    { process: em.k.createProcess("net.exe"), name: "start", body: async () => void (await s.np.start()) },
  ]);
  assertClean(t, started);
  let srvConnection: (typeof e.memsmb.network.connections)[number] | undefined;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("P", "\\\\srv\\pub"), S.STATUS_SUCCESS);
        const p = await s.mustOpen("\\p.txt", { drive: "P", disposition: FILE_CREATE });
        is(t, (await s.write(p, "pub data", 0)).Status, S.STATUS_SUCCESS);
        const n = await watch("N");
        await s.delay(1); // dave is set up meanwhile
        t.like(serverState(e, "srv"), { sessions: 2, trees: 2, opens: 2, pendingNotifies: 1 });
        t.like(serverState(e, "srv2"), { sessions: 1, trees: 1, opens: 1, pendingNotifies: 1 });
        srvConnection = e.memsmb.network.connections.find((c) => c.server.name === "srv");
        const mark = e.memsmb.network.log.length;
        // Forced delete of P: with p.txt open.
        is(t, await s.np.netUseDelete("P", 1), S.STATUS_SUCCESS);
        is(t, (await s.write(p, "lost?", 0)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
        is(t, await s.nt.NtClose(p), S.STATUS_SUCCESS);
        await s.settle();
        t.false(srvConnection?.dropped ?? true, "the connection to \\srv stays: docs still uses it");
        t.deepEqual(s.containers(), [
          "SRV_CALL \\srv",
          "SRV_CALL \\srv2",
          "NET_ROOT \\srv\\docs",
          "NET_ROOT \\srv2\\music",
          "V_NET_ROOT \\;N:0\\srv\\docs",
          "V_NET_ROOT \\;M:0\\srv2\\music",
        ]);
        t.deepEqual(
          e.memsmb.network.log.slice(mark).filter((m) => m.what === "cancel"),
          [],
          "no request of N: or M: was cancelled by P:'s delete",
        );
        t.like(serverState(e, "srv"), { sessions: 2, trees: 2, opens: 1, pendingNotifies: 1 });
        // N: works, its notification is still pending and completes on a change.
        t.false(n.n.request?.done ?? true);
        await s.createFile("\\n-after.txt", "n");
        const done = await settle(n.n.request);
        is(t, done.Status, S.STATUS_SUCCESS);
        t.is(await s.contentOf("\\n-after.txt"), "n");
        is(t, await s.nt.NtClose(n.d), S.STATUS_SUCCESS);
      },
    },
    {
      process: userProcess(em, "dave"),
      name: "dave",
      body: async () => {
        await s.delay(0.1);
        is(t, await s.np.netUse("M", "\\\\srv2\\music"), S.STATUS_SUCCESS);
        const m = await watch("M");
        await s.delay(2); // alice deletes P: meanwhile
        t.false(m.n.request?.done ?? true, "dave's notification on \\srv2 is untouched");
        const h = await s.mustOpen("\\m.txt", { drive: "M", disposition: FILE_CREATE });
        is(t, (await s.write(h, "music", 0)).Status, S.STATUS_SUCCESS);
        await s.nt.NtClose(h);
        is(t, (await settle(m.n.request)).Status, S.STATUS_SUCCESS);
        is(t, await s.nt.NtClose(m.d), S.STATUS_SUCCESS);
      },
    },
  ]);
  assertClean(t, run);
  t.is(serverText(e, "srv", "pub", "\\p.txt"), "pub data", "what P: wrote before the delete is on the server");
  t.is(serverText(e, "srv2", "music", "\\m.txt"), "music");
  await finish(t, e);
});
