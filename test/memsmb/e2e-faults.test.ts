/**
 * memsmb end to end: network faults. A connection dropped (SmbConnection.drop through SmbNetwork.dropConnections,
 * from the test thread at the chosen moment, or NetworkOptions.dropProbability) while a read is on the wire, while
 * notifications and a lock wait are pending, while net use /delete waits for the server; afterwards every handle
 * closes, net use /delete, STOP and unload work and nothing leaks. Seeded jitter: the same seed replays the same
 * run, other seeds reorder completions but never the data.
 *
 * What the redirector answers after a drop (memsmb does not reconnect): requests in flight and every later request
 * on the connection fail with STATUS_CONNECTION_DISCONNECTED; the server logs the connection's sessions off when
 * the transport goes (their trees disconnect, opens close, pending requests end with STATUS_NETWORK_NAME_DELETED
 * on the server, answers that are never delivered).
 */
import test, { type ExecutionContext } from "ava";
import {
  FILE_CREATE,
  FILE_INFORMATION_CLASS,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE,
  FILE_OPEN,
  FILE_OVERWRITE_IF,
  GENERIC_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { NT_SUCCESS, type NTSTATUS, statusName } from "../../emulator/kernel/index.js";
import { assertClean, enc, is, type Session, settle } from "../conformance/suite.js";
import {
  boot,
  type E2E,
  finish,
  IDLE_SERVER,
  runAs,
  runThreads,
  S,
  serverState,
  serverText,
  userProcess,
} from "./_e2e.js";

const READ = GENERIC_READ | SYNCHRONIZE;
const DISCONNECTED = "STATUS_CONNECTION_DISCONNECTED";

function messages(e: E2E, from = 0, names?: readonly string[]): string[] {
  return e.memsmb.network.log
    .slice(from)
    .filter((m) => names === undefined || names.includes(m.name))
    .map(
      (m) => `${m.what} ${m.name}${m.status === undefined ? "" : ` ${statusName(m.status)}`}${m.lost ? " (lost)" : ""}`,
    );
}

/** After a drop: N: is unusable until it is deleted and connected again (no reconnect). */
async function afterDrop(t: ExecutionContext, s: Session, e: E2E): Promise<void> {
  is(t, (await s.open("\\new.txt", { disposition: FILE_CREATE })).Status, S.STATUS_CONNECTION_DISCONNECTED);
  is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS, "net use /delete works once the handles are closed");
  await s.settle();
  t.deepEqual(s.containers(), [], "the dead connection's SRV_CALL, NET_ROOT and V_NET_ROOT are finalized");
  t.deepEqual(serverState(e), IDLE_SERVER);
  // A new net use makes a new connection; the data is intact.
  is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
  t.is(e.memsmb.network.connections.length, 2);
  t.false(e.memsmb.network.connections[1]?.dropped ?? true);
}

test("a drop while a read is on the wire: the read fails with STATUS_CONNECTION_DISCONNECTED, the handle too", async (t) => {
  const e = await boot({ network: { record: true } });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    await s.createFile("\\r.txt", "0123456789");
    const h = await s.mustOpen("\\r.txt", { disposition: FILE_OPEN, access: READ, sync: false });
    const w = await s.mustOpen("\\w.txt", { disposition: FILE_CREATE });
    const mark = e.memsmb.network.log.length;
    // (1) The request is on its way to the server: it never arrives.
    const r1 = await s.nt.NtReadFile(h, { Length: 10, ByteOffset: 0 });
    is(t, r1.Status, S.STATUS_PENDING);
    t.is(e.memsmb.network.dropConnections("srv"), 1);
    const d1 = await settle(r1.request);
    is(t, d1.Status, S.STATUS_CONNECTION_DISCONNECTED);
    t.is(d1.Information, 0);
    t.deepEqual(messages(e, mark), [`response READ ${DISCONNECTED}`], "the READ never reached the server");
    t.deepEqual(
      e.memsmb.network.events.map((ev) => `${ev.what} ${ev.detail}`),
      ["drop dropped on request"],
    );
    await s.settle();
    t.deepEqual(serverState(e), IDLE_SERVER, "the server logged the session off: tree, opens and all");
    // Everything later on the connection fails the same way; the handles still close.
    is(
      t,
      (await s.nt.NtReadFile(h, { Length: 10, ByteOffset: 0 }).then((r) => settle(r.request))).Status,
      S.STATUS_CONNECTION_DISCONNECTED,
    );
    is(t, (await s.write(w, "x", 0)).Status, S.STATUS_CONNECTION_DISCONNECTED);
    is(t, await s.queryStandard(w).then((q) => (typeof q === "number" ? q : 0)), S.STATUS_CONNECTION_DISCONNECTED);
    is(t, (await s.nt.NtFlushBuffersFile(w)).Status, S.STATUS_CONNECTION_DISCONNECTED);
    is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    is(t, await s.nt.NtClose(w), S.STATUS_SUCCESS);
    await afterDrop(t, s, e);
    t.is(await s.contentOf("\\r.txt"), "0123456789");
    t.is(await s.contentOf("\\w.txt"), "", "created before the drop, never written");
  });
  assertClean(t, run);
  await finish(t, e);
});

test("a drop after the server answered a read, before the answer arrives: the read still fails, nothing is half done", async (t) => {
  const e = await boot({ network: { record: true } });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    const h = await s.mustOpen("\\readme.txt", { disposition: FILE_OPEN, access: READ, sync: false });
    const mark = e.memsmb.network.log.length;
    const buffer = new Uint8Array(15).fill(0x2a);
    const r = await s.nt.NtReadFile(h, { Buffer: buffer, ByteOffset: 0 });
    await s.delay(0.003); // one-way latency is 2 ms: the server has answered, the answer is on the wire
    t.deepEqual(messages(e, mark), ["request READ", "reply READ STATUS_SUCCESS"]);
    e.memsmb.network.dropConnections();
    const d = await settle(r.request);
    is(t, d.Status, S.STATUS_CONNECTION_DISCONNECTED);
    t.is(d.Information, 0);
    t.deepEqual([...buffer], Array(15).fill(0x2a), "the caller's buffer was not touched");
    is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    await afterDrop(t, s, e);
  });
  assertClean(t, run);
  await finish(t, e);
});

test("a drop with a notification and a lock wait pending: both complete with STATUS_CONNECTION_DISCONNECTED", async (t) => {
  const e = await boot({ network: { record: true } });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    await s.mkdir("\\w");
    const d = await s.openDir("\\w", {
      sync: false,
      access: FILE_LIST_DIRECTORY | SYNCHRONIZE,
      disposition: FILE_OPEN,
    });
    const n = await s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
      Length: 512,
    });
    // Two handles on one file; the second waits for the first one's byte-range lock.
    await s.createFile("\\locked.txt", "0123456789");
    const a = await s.mustOpen("\\locked.txt", { disposition: FILE_OPEN });
    const b = await s.mustOpen("\\locked.txt", { disposition: FILE_OPEN, access: READ | 0x2, sync: false });
    is(
      t,
      (await s.nt.NtLockFile(a, { ByteOffset: 0, Length: 4, ExclusiveLock: true, FailImmediately: true })).Status,
      S.STATUS_SUCCESS,
    );
    const wait = await s.nt.NtLockFile(b, { ByteOffset: 0, Length: 4, ExclusiveLock: true, FailImmediately: false });
    is(t, wait.Status, S.STATUS_PENDING);
    await s.settle();
    t.like(serverState(e), { pendingNotifies: 1, pendingLocks: 1 });
    const mark = e.memsmb.network.log.length;
    t.is(e.memsmb.network.dropConnections("srv"), 1);
    const dn = await settle(n.request);
    const dl = await settle(wait.request);
    is(t, dn.Status, S.STATUS_CONNECTION_DISCONNECTED);
    is(t, dl.Status, S.STATUS_CONNECTION_DISCONNECTED);
    await s.settle();
    t.deepEqual(
      messages(e, mark).sort(),
      [
        "reply CHANGE_NOTIFY STATUS_NETWORK_NAME_DELETED (lost)",
        "reply LOCK STATUS_NETWORK_NAME_DELETED (lost)",
        `response CHANGE_NOTIFY ${DISCONNECTED}`,
        `response LOCK ${DISCONNECTED}`,
      ],
      "the server's logoff disconnected the tree, which completed its pending requests; the answers were lost",
    );
    t.deepEqual(serverState(e), IDLE_SERVER);
    // The handles are still there: new requests fail at once, the closes work.
    const n2 = await s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
      Length: 512,
    });
    is(t, (await settle(n2.request)).Status, S.STATUS_CONNECTION_DISCONNECTED);
    is(t, (await s.nt.NtUnlockFile(a, { ByteOffset: 0, Length: 4 })).Status, S.STATUS_CONNECTION_DISCONNECTED);
    for (const h of [d.FileHandle, a, b]) is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    t.is(s.calls("MRxCancelRoutine"), 0, "nothing was left for cleanup to cancel");
    await afterDrop(t, s, e);
  });
  assertClean(t, run);
  await finish(t, e);
});

test("a drop while net use /delete waits for the server (closing a dormant file): the delete still succeeds", async (t) => {
  const e = await boot({ network: { record: true } });
  const { em, s } = e;
  const alice = userProcess(em, "alice");
  const setup = await runThreads(e, [
    {
      process: alice,
      name: "setup",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        await s.createFile("\\dormant.txt", "kept");
      },
    },
  ]);
  assertClean(t, setup);
  t.like(serverState(e), { opens: 1 }, "the closed file is dormant: its server open is still there");
  const mark = e.memsmb.network.log.length;
  let deleteStatus: NTSTATUS = -1;
  const run = await runThreads(e, [
    {
      process: alice,
      name: "net use N: /delete",
      body: async () => {
        deleteStatus = await s.np.netUseDelete("N", 0);
      },
    },
    {
      process: em.k.createProcess("fault.exe"),
      name: "fault",
      body: async () => {
        await s.delay(0.001); // the purge's CLOSE is on the wire (2 ms one way)
        t.is(s.calls("MRxCloseSrvOpen"), 1, "net use /delete is inside MRxCloseSrvOpen");
        t.is(e.memsmb.network.dropConnections(), 1);
      },
    },
  ]);
  assertClean(t, run);
  is(t, deleteStatus, S.STATUS_SUCCESS);
  t.deepEqual(messages(e, mark), [`response CLOSE ${DISCONNECTED}`], "the CLOSE never reached the server");
  t.is(em.sys.io.lookupName("\\??\\N:"), undefined);
  t.deepEqual(s.containers(), []);
  t.deepEqual(serverState(e), IDLE_SERVER, "the transport reset closed the dormant open on the server");
  t.is(serverText(e, "srv", "docs", "\\dormant.txt"), "kept");
  await finish(t, e);
});

test("a drop during a forced net use /delete with a notification and an open file: it completes, the handles close", async (t) => {
  const e = await boot({ network: { record: true } });
  const { em, s } = e;
  const alice = userProcess(em, "alice");
  let notify: Awaited<ReturnType<Session["nt"]["NtNotifyChangeDirectoryFile"]>> | null = null;
  const handles: number[] = [];
  let deleteStatus: NTSTATUS = -1;
  const run = await runThreads(e, [
    {
      process: alice,
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        await s.mkdir("\\w");
        await s.createFile("\\dormant.txt", "d");
        const d = await s.openDir("\\w", {
          sync: false,
          access: FILE_LIST_DIRECTORY | SYNCHRONIZE,
          disposition: FILE_OPEN,
        });
        notify = await s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
          CompletionFilter: FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
          Length: 512,
        });
        const f = await s.mustOpen("\\open.txt", { disposition: FILE_CREATE });
        is(t, (await s.write(f, "before", 0)).Status, S.STATUS_SUCCESS);
        handles.push(d.FileHandle, f);
        await s.settle();
        em.k.createThread(em.k.createProcess("fault.exe"), "fault", async () => {
          await s.delay(0.001); // inside the delete: the dormant file's CLOSE is on the wire
          e.memsmb.network.dropConnections();
        });
        const mark = e.memsmb.network.log.length;
        deleteStatus = await s.np.netUseDelete("N", 1);
        const n = notify as NonNullable<typeof notify>;
        t.true(n.request?.done, "the notification was completed by the forced delete");
        is(t, n.request?.IoStatusBlock.Status ?? 0, S.STATUS_CANCELLED, "by its cancel routine, before the drop");
        await s.settle();
        t.deepEqual(
          messages(e, mark).sort(),
          [
            "reply CHANGE_NOTIFY STATUS_NETWORK_NAME_DELETED (lost)",
            `response CHANGE_NOTIFY ${DISCONNECTED}`,
            `response CLOSE ${DISCONNECTED}`,
          ],
          "the CANCEL and the CLOSE were lost on the wire; the server's logoff ended the notification",
        );
        is(t, (await s.write(f, "after", 0)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
        for (const h of handles) is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
        await s.settle();
      },
    },
  ]);
  assertClean(t, run);
  is(t, deleteStatus, S.STATUS_SUCCESS);
  t.deepEqual(serverState(e), IDLE_SERVER);
  t.is(serverText(e, "srv", "docs", "\\open.txt"), "before", "written before the drop: on the server");
  await finish(t, e);
});

// ------------------------------------------------------------------ seeded faults and jitter

/** Writes to eight files at once (asynchronous handles), recording the order in which they complete. */
async function jitterRun(
  t: ExecutionContext,
  seed: number,
): Promise<{ order: string[]; data: (string | null)[]; trace: string[]; log: string[] }> {
  const e = await boot({ seed, strategy: "random", trace: true, network: { jitter: 100_000, record: true } });
  const order: string[] = [];
  const run = await runAs(e, "alice", async (s) => {
    await s.np.start();
    await s.np.netUse("N", "\\\\srv\\docs");
    const hs: number[] = [];
    for (let i = 0; i < 8; i++)
      hs.push(await s.mustOpen(`\\j${i}.txt`, { sync: false, disposition: FILE_OVERWRITE_IF }));
    for (const [i, h] of hs.entries()) {
      const w = await s.nt.NtWriteFile(h, { Buffer: enc.encode(`data of j${i}`), ByteOffset: 0 });
      // A waiter thread per request records when it completes (pending I/O is waited for on a thread).
      e.em.k.createThread(e.em.k.createProcess("waiter"), `wait ${i}`, async () => {
        const b = await w.request?.wait();
        order.push(`j${i} ${statusName(b?.Status ?? w.Status)}`);
      });
    }
    await s.delay(1);
    for (const h of hs) await s.nt.NtClose(h);
  });
  assertClean(t, run);
  const data = Array.from({ length: 8 }, (_, i) => serverText(e, "srv", "docs", `\\j${i}.txt`));
  const result = {
    order,
    data,
    trace: e.em.k.trace.lines(),
    log: e.memsmb.network.log.map((m) => `${m.time} ${m.connection} ${m.what} ${m.id} ${m.name} ${m.status ?? ""}`),
  };
  await finish(t, e);
  return result;
}

test("seeded jitter: the same seed replays the same run; other seeds reorder completions, never the data", async (t) => {
  const a = await jitterRun(t, 7);
  const b = await jitterRun(t, 7);
  t.deepEqual(a.order, b.order);
  t.deepEqual(a.log, b.log, "the same messages at the same virtual times");
  t.is(a.trace.length, b.trace.length);
  const diff = a.trace.findIndex((l, i) => l !== b.trace[i]);
  t.is(diff, -1, diff >= 0 ? `first difference at event ${diff}: ${a.trace[diff]} / ${b.trace[diff]}` : "");
  const expected = Array.from({ length: 8 }, (_, i) => `data of j${i}`);
  const orders = new Set<string>();
  for (const seed of [7, 8, 9, 10, 11]) {
    const r = seed === 7 ? a : await jitterRun(t, seed);
    t.deepEqual(r.data, expected, `seed ${seed}: every file has its data`);
    t.is(r.order.length, 8);
    t.true(
      r.order.every((o) => o.endsWith("STATUS_SUCCESS")),
      `seed ${seed}: ${r.order.join(", ")}`,
    );
    orders.add(r.order.map((o) => o.split(" ")[0]).join(","));
  }
  t.true(orders.size > 1, "the seeds completed the writes in different orders");
  t.true(
    [...orders].some((o) => o !== "j0,j1,j2,j3,j4,j5,j6,j7"),
    "jitter let later writes complete before earlier ones",
  );
});

test("random drops (dropProbability): every run ends clean, no write reported done is missing, teardown leaves nothing", async (t) => {
  let sawDrop = 0;
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const e = await boot({ seed, strategy: "random", network: { dropProbability: 0.04, record: true } });
    const { s } = e;
    const acknowledged: { name: string; text: string }[] = [];
    const statuses = new Set<string>();
    const run = await runAs(e, "alice", async () => {
      is(t, await s.np.start(), S.STATUS_SUCCESS);
      for (let round = 0; round < 3; round++) {
        const st = await s.np.netUse("N", "\\\\srv\\docs");
        statuses.add(`net use ${statusName(st)}`);
        if (!NT_SUCCESS(st)) {
          // A dead connection (no reconnect) fails everything until its SRV_CALL is finalized.
          await s.delay(11);
          continue;
        }
        for (let i = 0; i < 4; i++) {
          const name = `\\s${seed}-${round}-${i}.txt`;
          const o = await s.open(name, { disposition: FILE_CREATE });
          statuses.add(`open ${statusName(o.Status)}`);
          if (!NT_SUCCESS(o.Status)) continue;
          const text = `seed ${seed} round ${round} file ${i}`;
          const w = await s.write(o.FileHandle, text, 0);
          statuses.add(`write ${statusName(w.Status)}`);
          if (w.Status === S.STATUS_SUCCESS) acknowledged.push({ name, text });
          is(t, await s.nt.NtClose(o.FileHandle), S.STATUS_SUCCESS, "a close always succeeds");
        }
        const del = await s.np.netUseDelete("N", 1);
        statuses.add(`delete ${statusName(del)}`);
        await s.delay(11);
      }
    });
    assertClean(t, run);
    sawDrop += e.memsmb.network.events.filter((ev) => ev.what === "drop" && ev.detail.startsWith("fault")).length;
    for (const st of statuses) {
      const status = st.split(" ").at(-1);
      t.true(
        status === "STATUS_SUCCESS" || status === DISCONNECTED,
        `seed ${seed}: ${st} (a drop surfaces as STATUS_CONNECTION_DISCONNECTED)`,
      );
    }
    for (const a of acknowledged)
      t.is(serverText(e, "srv", "docs", a.name), a.text, `seed ${seed}: ${a.name} was acknowledged`);
    await finish(t, e);
  }
  t.true(sawDrop >= 4, `faults were injected (${sawDrop} drops)`);
});

test("STOP and unload after a drop with handles still open at the time: everything is finalized", async (t) => {
  const e = await boot({ network: { record: true } });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("P", "\\\\srv\\pub"), S.STATUS_SUCCESS);
    const f = await s.mustOpen("\\f.txt", { disposition: FILE_CREATE });
    const g = await s.mustOpen("\\g.txt", { drive: "P", disposition: FILE_CREATE });
    e.memsmb.network.dropConnections();
    is(t, await s.np.stop(), S.STATUS_REDIRECTOR_HAS_OPEN_HANDLES, "STOP still refuses while handles are open");
    is(t, (await s.setEndOfFile(f, 10)).Status, S.STATUS_CONNECTION_DISCONNECTED);
    is(
      t,
      (
        await s.nt.NtQueryInformationFile(g, {
          FileInformationClass: FILE_INFORMATION_CLASS.FileBasicInformation,
          Length: 40,
        })
      ).Status,
      S.STATUS_CONNECTION_DISCONNECTED,
    );
    is(t, await s.nt.NtClose(f), S.STATUS_SUCCESS);
    is(t, await s.nt.NtClose(g), S.STATUS_SUCCESS);
    await s.settle();
    t.deepEqual(serverState(e), IDLE_SERVER);
  });
  assertClean(t, run);
  // finish: net use /delete of both letters, the scavenger, STOP, unload — all on the dead connection.
  await finish(t, e);
  t.deepEqual(e.em.rx.mrxLog.filter((c) => c.name === "MRxFinalizeSrvCall").length, 1, "one SRV_CALL, finalized once");
});
