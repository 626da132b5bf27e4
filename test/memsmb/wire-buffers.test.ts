/**
 * memsmb's transport buffers (WireBuffers) and the server's readInto, which together carry a READ's data from the
 * server model to the caller without a fresh ArrayBuffer per reply; and, end to end, that a reply is still the
 * server's data as of serving it, whatever reuses the buffers after it.
 */
import test from "ava";
import { FILE_CREATE, FILE_OPEN, GENERIC_READ, GENERIC_WRITE, SYNCHRONIZE } from "../../emulator/io/index.js";
import { WireBuffers } from "../../miniredirs/memsmb/network.js";
import { assertClean, is, settle } from "../conformance/suite.js";
import { boot, S as ES, finish, runThreads, userProcess } from "./_e2e.js";
import { connect, dec, mustOpen, newServer, S, sn, T0 } from "./_server-fixture.js";

test("WireBuffers: power-of-two sizes from 4 KiB to 64 KiB, given back and taken again; larger ones not kept", (t) => {
  const w = new WireBuffers();
  const a = w.take(10);
  t.is(a.length, 4096, "a small reply gets the smallest class");
  t.is(w.take(4096).length, 4096);
  t.is(w.take(4097).length, 8192);
  t.is(w.take(65536).length, 65536);
  const big = w.take(65537);
  t.is(big.length, 65537, "beyond the largest class: a buffer of its own size");
  w.give(a);
  t.is(w.take(100), a, "a buffer given back is the next one taken of its class");
  t.not(w.take(100), a, "and only once");
  w.give(big);
  t.not(w.take(65537), big, "a large buffer is not kept");
  w.give(new Uint8Array(5000));
  t.is(w.take(5000).length, 8192, "a buffer of no class is not kept");
  const many = Array.from({ length: 20 }, () => w.take(4096));
  for (const b of many) w.give(b);
  const back = new Set(Array.from({ length: 20 }, () => w.take(4096)));
  t.is(many.filter((b) => back.has(b)).length, 8, "at most eight of a class are kept");
});

test("readInto: the read's checks and statuses, into the caller's buffer, bytes past the count untouched", (t) => {
  const srv = newServer();
  const { treeId } = connect(srv);
  const f = mustOpen(srv, treeId, "readme.txt");
  const into = new Uint8Array(64).fill(0xee);
  const r = srv.readInto(f, 6, 64, T0, into);
  t.is(sn(r.status), "STATUS_SUCCESS");
  t.is(r.count, 5, "cut at end of file");
  t.is(dec(into.subarray(0, r.count)), "world");
  t.true(
    into.subarray(5).every((b) => b === 0xee),
    "nothing written past the count",
  );
  for (const [offset, length] of [
    [0, 5],
    [3, 4],
    [0, 11],
    [10, 1],
  ] as const) {
    const buf = new Uint8Array(length);
    const x = srv.readInto(f, offset, length, T0, buf);
    const y = srv.read(f, offset, length, T0);
    t.is(x.status, y.status);
    t.deepEqual(buf.subarray(0, x.count), y.data, `readInto and read agree at ${offset}+${length}`);
  }
  t.deepEqual(srv.readInto(f, 11, 1, T0, into), { status: S.STATUS_END_OF_FILE, count: 0 });
  t.deepEqual(srv.readInto(f, 0, 0, T0, into), { status: S.STATUS_SUCCESS, count: 0 });
  t.deepEqual(srv.readInto(f, -1, 1, T0, into), { status: S.STATUS_INVALID_PARAMETER, count: 0 });
  t.deepEqual(srv.readInto(f, 0, 65, T0, into), { status: S.STATUS_BUFFER_TOO_SMALL, count: 0 });
  t.deepEqual(srv.readInto(999, 0, 1, T0, into), { status: S.STATUS_FILE_CLOSED, count: 0 });
  const dir = mustOpen(srv, treeId, "docs");
  t.is(sn(srv.readInto(dir, 0, 1, T0, into).status), "STATUS_INVALID_DEVICE_REQUEST");
});

test("a READ's reply is the data as the server read it, though a write lands before the reply arrives", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "alice",
      body: async () => {
        is(t, await s.np.start(), ES.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), ES.STATUS_SUCCESS);
        const h = await s.mustOpen("\\snap.txt", { disposition: FILE_CREATE });
        is(t, (await s.write(h, "A".repeat(6000), 0)).Status, ES.STATUS_SUCCESS);
        // An asynchronous read; 3 ms in, the server has served it and its reply is on the wire (2 ms each way).
        const a = await s.mustOpen("\\snap.txt", { disposition: FILE_OPEN, sync: false });
        const buf = new Uint8Array(6000);
        const r = await s.nt.NtReadFile(a, { Buffer: buf, ByteOffset: 0 });
        is(t, r.Status, ES.STATUS_PENDING);
        await s.delay(0.003);
        t.false(r.request?.done ?? true, "the reply has not arrived yet");
        is(t, (await s.write(h, "B".repeat(6000), 0)).Status, ES.STATUS_SUCCESS, "a write overtakes the reply");
        const done = await settle(r.request);
        is(t, done.Status, ES.STATUS_SUCCESS);
        t.is(done.Information, 6000);
        t.is(new TextDecoder().decode(buf), "A".repeat(6000), "the reply is what the server read");
        // The transport buffer came back: the next reads, short and long, see only their own bytes.
        const small = new Uint8Array(64).fill(0x2e);
        const r2 = await s.nt.NtReadFile(h, { Buffer: small, ByteOffset: 5990 });
        is(t, r2.Status, ES.STATUS_SUCCESS);
        t.is(r2.Information, 10);
        t.is(new TextDecoder().decode(small.subarray(0, 12)), "BBBBBBBBBB..", "nothing past the count");
        t.is((await s.read(h, 6000, 0)).text, "B".repeat(6000));
        is(t, await s.nt.NtClose(a), ES.STATUS_SUCCESS);
        is(t, await s.nt.NtClose(h), ES.STATUS_SUCCESS);
      },
    },
  ]);
  assertClean(t, run);
  await finish(t, e);
});

test("reads on two threads at once, of different sizes, each get their own file's bytes", async (t) => {
  const e = await boot();
  const { em, s } = e;
  const RW = GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE;
  const sizes = { x: 4096, y: 100, z: 20000 } as const;
  const run = await runThreads(e, [
    {
      process: userProcess(em, "alice"),
      name: "setup",
      body: async () => {
        is(t, await s.np.start(), ES.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", "\\\\srv\\docs"), ES.STATUS_SUCCESS);
        for (const [name, size] of Object.entries(sizes)) {
          const h = await s.mustOpen(`\\${name}.bin`, { disposition: FILE_CREATE, access: RW });
          is(t, (await s.write(h, name.repeat(size), 0)).Status, ES.STATUS_SUCCESS);
          is(t, await s.nt.NtClose(h), ES.STATUS_SUCCESS);
        }
      },
    },
  ]);
  assertClean(t, run);
  const readers = Object.entries(sizes).map(([name, size]) => ({
    process: userProcess(em, "alice"),
    name: `reader ${name}`,
    body: async () => {
      const h = await s.mustOpen(`\\${name}.bin`, { disposition: FILE_OPEN });
      for (let i = 0; i < 5; i++) {
        const r = await s.read(h, size + 7, 0);
        is(t, r.Status, ES.STATUS_SUCCESS);
        t.is(r.text, name.repeat(size), `${name}, read ${i}`);
      }
      is(t, await s.nt.NtClose(h), ES.STATUS_SUCCESS);
    },
  }));
  assertClean(t, await runThreads(e, readers));
  await finish(t, e);
});
