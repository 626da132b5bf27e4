/**
 * memsmb end to end: data safety. memsmb is write-through: a write completes only when the server has applied it,
 * so what a successful NtWriteFile wrote is on the server at once — whether the handle is then closed, left dormant
 * by delayed close, collapsed onto again, or orphaned by a forced net use /delete. A write that cannot be applied
 * fails with a status and changes nothing; a write whose answer is lost fails although the server has it (a
 * failure can be reported for data that arrived, a success is never reported for data that did not).
 */
import test from "ava";
import { FILE_CREATE, FILE_OPEN, FILE_OVERWRITE_IF, GENERIC_READ, SYNCHRONIZE } from "../../emulator/io/index.js";
import { statusName } from "../../emulator/kernel/index.js";
import { SRVOPEN_FLAG } from "../../emulator/rdbss/index.js";
import { assertClean, enc, is, settle } from "../conformance/suite.js";
import {
  boot,
  finish,
  IDLE_SERVER,
  openName,
  runAs,
  runThreads,
  S,
  serverState,
  serverText,
  userProcess,
  worldImages,
} from "./_e2e.js";

const READ = GENERIC_READ | SYNCHRONIZE;

test("write-through: every write is on the server when NtWriteFile returns, before any close", async (t) => {
  const e = await boot({ network: { record: true } });
  const { em, s } = e;
  const on = () => serverText(e, "srv", "docs", "\\wt.txt");
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
        const h = await s.mustOpen("\\wt.txt", { disposition: FILE_CREATE });
        t.is(on(), "");
        is(t, (await s.write(h, "hello", 0)).Status, S.STATUS_SUCCESS);
        t.is(on(), "hello");
        is(t, (await s.write(h, " world", 5)).Status, S.STATUS_SUCCESS);
        t.is(on(), "hello world");
        is(t, (await s.write(h, "!", 13)).Status, S.STATUS_SUCCESS);
        t.is(on(), "hello world\0\0!", "a write past the end zero-fills the gap");
        is(t, (await s.setEndOfFile(h, 11)).Status, S.STATUS_SUCCESS);
        t.is(on(), "hello world");
        // bob (another logon, another V_NET_ROOT) sees it while alice's handle is still open: no client caching.
        await s.delay(1);
        is(t, (await s.write(h, "HELLO", 0)).Status, S.STATUS_SUCCESS);
        await s.delay(1);
        is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
        t.is(on(), "HELLO world");
        // An asynchronous write: the server has the data when the request completes. Half a round trip in, the
        // server has applied it but the client has not been told yet.
        const a = await s.mustOpen("\\wt.txt", { disposition: FILE_OPEN, sync: false });
        const w = await s.nt.NtWriteFile(a, { Buffer: enc.encode("async"), ByteOffset: 0 });
        is(t, w.Status, S.STATUS_PENDING);
        t.is(on(), "HELLO world", "not applied at submission");
        await s.delay(0.003);
        t.false(w.request?.done ?? true);
        t.is(on(), "async world", "applied by the server; the answer is on its way");
        is(t, (await settle(w.request)).Status, S.STATUS_SUCCESS);
        is(t, await s.nt.NtClose(a), S.STATUS_SUCCESS);
      },
    },
    {
      process: userProcess(em, "bob"),
      name: "bob",
      body: async () => {
        await s.delay(0.5);
        const r = await openName(s, "\\??\\UNC\\srv\\docs\\wt.txt", { access: READ, disposition: FILE_OPEN });
        is(t, r.Status, S.STATUS_SUCCESS);
        t.is((await s.read(r.FileHandle, 64, 0)).text, "hello world");
        await s.delay(1);
        t.is((await s.read(r.FileHandle, 64, 0)).text, "HELLO world", "alice's later write, through bob's handle");
        is(t, await s.nt.NtClose(r.FileHandle), S.STATUS_SUCCESS);
      },
    },
  ]);
  assertClean(t, run);
  t.deepEqual(
    e.memsmb.network.log.filter((m) => m.what === "request" && m.name === "FLUSH"),
    [],
    "nothing needed a flush",
  );
  await finish(t, e);
  t.is(on(), "async world", "still there after net use /delete, STOP and unload");
});

test("delayed close: the closed handle's data is on the server while its SRV_OPEN is dormant, and after collapsing", async (t) => {
  const e = await boot();
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    const h = await s.mustOpen("\\dc.txt", { disposition: FILE_CREATE });
    is(t, (await s.write(h, "written then closed", 0)).Status, S.STATUS_SUCCESS);
    const so = s.objectsOf(h).fobx?.pSrvOpen;
    is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    t.not((so?.Flags ?? 0) & SRVOPEN_FLAG.SRVOPEN_FLAG_CLOSE_DELAYED, 0, "the SRV_OPEN is dormant");
    t.is(s.calls("MRxCloseSrvOpen"), 0, "no CLOSE was sent");
    t.like(serverState(e), { opens: 1 }, "the server still has the open");
    t.is(serverText(e, "srv", "docs", "\\dc.txt"), "written then closed", "but the data is already there");
    // Reopen with the same access: collapsed onto the dormant SRV_OPEN; its writes are write-through too.
    const r = await s.mustOpen("\\dc.txt", { disposition: FILE_OPEN });
    t.is(s.objectsOf(r).fobx?.pSrvOpen, so);
    t.is(s.calls("MRxCollapseOpen"), 1);
    is(t, (await s.write(r, "WRITTEN", 0)).Status, S.STATUS_SUCCESS);
    t.is(serverText(e, "srv", "docs", "\\dc.txt"), "WRITTEN then closed");
    is(t, await s.nt.NtClose(r), S.STATUS_SUCCESS);
    // The scavenger closes it 10 s later: nothing changes in the data.
    await s.delay(11);
    t.is(s.calls("MRxCloseSrvOpen"), 1);
    t.like(serverState(e), { opens: 0 });
    t.is(serverText(e, "srv", "docs", "\\dc.txt"), "WRITTEN then closed");
    // Dormant again, then purged by net use /delete: same.
    await s.createFile("\\dc2.txt", "second file");
    is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS);
    await s.settle();
    t.deepEqual(serverState(e), IDLE_SERVER);
    t.is(serverText(e, "srv", "docs", "\\dc2.txt"), "second file");
  });
  assertClean(t, run);
  await finish(t, e);
});

test("forced net use /delete with the handle open: earlier writes are on the server, later ones fail, none is lost silently", async (t) => {
  const e = await boot({ network: { record: true } });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    const h = await s.mustOpen("\\forced.txt", { disposition: FILE_CREATE });
    is(t, (await s.write(h, "one;", 0)).Status, S.STATUS_SUCCESS);
    is(t, (await s.write(h, "two;", 4)).Status, S.STATUS_SUCCESS);
    // A write still in flight when the delete starts: RxFinalizeConnection takes the FCB exclusive to purge it,
    // so it waits for the write (which holds the FCB) to complete; the write succeeds and is on the server.
    const a = await s.mustOpen("\\forced.txt", { disposition: FILE_OPEN, sync: false });
    const inFlight = await s.nt.NtWriteFile(a, { Buffer: enc.encode("three;"), ByteOffset: 8 });
    is(t, inFlight.Status, S.STATUS_PENDING);
    is(t, await s.np.netUseDelete("N", 1), S.STATUS_SUCCESS);
    t.true(inFlight.request?.done, "completed before the delete returned");
    is(t, inFlight.request?.IoStatusBlock.Status ?? -1, S.STATUS_SUCCESS);
    t.is(serverText(e, "srv", "docs", "\\forced.txt"), "one;two;three;");
    // After the delete: every write fails with a status, and the server's data does not change.
    const mark = e.memsmb.network.log.length;
    is(t, (await s.write(h, "four;", 14)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
    const late = await s.nt.NtWriteFile(a, { Buffer: enc.encode("five;"), ByteOffset: 19 });
    is(t, (await settle(late.request)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
    is(t, (await s.setEndOfFile(h, 0)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
    is(t, (await s.nt.NtFlushBuffersFile(h)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
    t.deepEqual(
      e.memsmb.network.log.slice(mark).filter((m) => m.what === "request"),
      [],
      "the failed calls never reached the server",
    );
    t.is(serverText(e, "srv", "docs", "\\forced.txt"), "one;two;three;");
    is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    is(t, await s.nt.NtClose(a), S.STATUS_SUCCESS);
    // A new connection reads back exactly what was acknowledged.
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    t.is(await s.contentOf("\\forced.txt"), "one;two;three;");
  });
  assertClean(t, run);
  await finish(t, e);
});

test("a write the server refuses (disk full, read-only handle) reports it and changes nothing", async (t) => {
  const images = worldImages();
  images[0]?.shares.push({ name: "small", permissions: { alice: "full" }, capacity: 8192 });
  const e = await boot({ servers: images });
  const on = () => e.memsmb.world.get("srv")?.fileData("small", "\\big.bin") ?? null;
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("S", "\\\\srv\\small"), S.STATUS_SUCCESS);
    const h = await s.mustOpen("\\big.bin", { drive: "S", disposition: FILE_CREATE });
    is(t, (await s.write(h, new Uint8Array(4096).fill(1), 0)).Status, S.STATUS_SUCCESS);
    const full = await s.write(h, new Uint8Array(8192).fill(2), 4096);
    is(t, full.Status, S.STATUS_DISK_FULL);
    t.is(full.Information, 0);
    t.is(on()?.length, 4096, "the file did not grow");
    t.true(
      on()?.every((b) => b === 1),
      "and its data did not change",
    );
    is(t, (await s.write(h, new Uint8Array(4096).fill(3), 4096)).Status, S.STATUS_SUCCESS, "what fits is written");
    t.is(on()?.length, 8192);
    is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    const r = await s.mustOpen("\\big.bin", { drive: "S", disposition: FILE_OPEN, access: READ });
    is(t, (await s.write(r, "x", 0)).Status, S.STATUS_ACCESS_DENIED);
    is(t, await s.nt.NtClose(r), S.STATUS_SUCCESS);
    t.is(on()?.[0], 1);
    // Overwrite through a new create truncates: that is a success the server applied, not a loss.
    const o = await s.mustOpen("\\big.bin", { drive: "S", disposition: FILE_OVERWRITE_IF });
    t.is(on()?.length, 0);
    await s.nt.NtClose(o);
  });
  assertClean(t, run);
  await finish(t, e);
});

test("a write whose answer is lost (connection dropped) fails although the server applied it: never the reverse", async (t) => {
  const e = await boot({ network: { record: true } });
  const run = await runAs(e, "alice", async (s) => {
    is(t, await s.np.start(), S.STATUS_SUCCESS);
    is(t, await s.np.netUse("N", "\\\\srv\\docs"), S.STATUS_SUCCESS);
    const a = await s.mustOpen("\\lost.txt", { disposition: FILE_CREATE, sync: false });
    const b = await s.mustOpen("\\lost2.txt", { disposition: FILE_CREATE, sync: false });
    // t0: the first write leaves; t0 + 1 ms: the second; t0 + 2 ms: the server applies the first and answers;
    // t0 + 2.5 ms: the connection drops, with the first answer and the second request on the wire.
    const mark = e.memsmb.network.log.length;
    const w1 = await s.nt.NtWriteFile(a, { Buffer: enc.encode("applied"), ByteOffset: 0 });
    await s.delay(0.001);
    const w2 = await s.nt.NtWriteFile(b, { Buffer: enc.encode("never"), ByteOffset: 0 });
    await s.delay(0.0015);
    t.deepEqual(
      e.memsmb.network.log
        .slice(mark)
        .map((m) => `${m.what} ${m.name}${m.status === undefined ? "" : ` ${statusName(m.status)}`}`),
      ["request WRITE", "reply WRITE STATUS_SUCCESS"],
      "only the first write reached the server",
    );
    e.memsmb.network.dropConnections();
    const d1 = await settle(w1.request);
    const d2 = await settle(w2.request);
    is(t, d1.Status, S.STATUS_CONNECTION_DISCONNECTED, "applied by the server, answer lost: reported as failed");
    t.is(d1.Information, 0);
    is(t, d2.Status, S.STATUS_CONNECTION_DISCONNECTED, "lost on the wire: failed");
    t.is(serverText(e, "srv", "docs", "\\lost.txt"), "applied", "the first one is on the server nonetheless");
    t.is(serverText(e, "srv", "docs", "\\lost2.txt"), "", "the second is not");
    is(t, await s.nt.NtClose(a), S.STATUS_SUCCESS);
    is(t, await s.nt.NtClose(b), S.STATUS_SUCCESS);
  });
  assertClean(t, run);
  await finish(t, e);
});
