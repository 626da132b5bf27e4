/**
 * memsmb server images: validation with located errors, defaults, snapshots that round-trip, fileData, and the
 * several-server world.
 */
import test from "ava";
import { FILE_ATTRIBUTE_DIRECTORY, FILE_CREATE, FILE_GENERIC_WRITE } from "../../emulator/io/index.js";
import { MemSmbServer, MemSmbWorld, type ServerImage, ServerImageError } from "../../miniredirs/memsmb/server/index.js";
import { connect, dec, enc, mustOpen, newServer, sampleImage, sn, T0 } from "./_server-fixture.js";

function base(): ServerImage {
  return {
    name: "srv",
    users: [
      { name: "alice", password: "a" },
      { name: "bob", password: "b" },
    ],
    shares: [
      { name: "one", permissions: { alice: "full" }, files: [{ path: "x.txt", data: "x" }] },
      { name: "two", permissions: { "*": "read" } },
    ],
  };
}

function rejects(
  t: import("ava").ExecutionContext,
  mutate: (img: ServerImage) => void,
  path: string,
  text?: RegExp,
): void {
  const img = base();
  mutate(img);
  const err = t.throws(() => new MemSmbServer(img), { instanceOf: ServerImageError });
  t.is(err?.path, path);
  t.true(err?.message.startsWith(`${path}: `));
  if (text !== undefined) t.regex(err?.message ?? "", text);
}

test("image validation: located errors", (t) => {
  rejects(t, (i) => i.shares.push({ name: "ONE", permissions: {} }), "shares[2].name", /duplicate share/);
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "a\\..\\..\\b" }), "shares[0].files[1].path", /invalid path/);
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "con.txt" }), "shares[0].files[1].path", /device name/);
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "" }), "shares[0].files[1].path", /root/);
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "X.TXT" }), "shares[0].files[1].path", /already declared/);
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "x.txt\\y" }), "shares[0].files[1].path", /is a file/);
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "d", directory: true, data: "no" }), "shares[0].files[1].data");
  rejects(
    t,
    (i) => i.shares[0]?.files?.push({ path: "f", attributes: FILE_ATTRIBUTE_DIRECTORY }),
    "shares[0].files[1].attributes",
  );
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "f", attributes: 0x40 }), "shares[0].files[1].attributes");
  rejects(t, (i) => i.shares[0]?.files?.push({ path: "f", creationTime: -1 }), "shares[0].files[1].creationTime");
  rejects(
    t,
    (i) => i.shares[1]?.permissions && Object.assign(i.shares[1].permissions, { mallory: "read" }),
    'shares[1].permissions["mallory"]',
    /unknown user/,
  );
  rejects(
    t,
    (i) => Object.assign(i.shares[1]?.permissions ?? {}, { bob: "admin" }),
    'shares[1].permissions["bob"]',
    /permission must be/,
  );
  rejects(
    t,
    (i) => Object.assign(i.shares[1]?.permissions ?? {}, { BOB: "read", bob: "full" }),
    'shares[1].permissions["bob"]',
    /twice/,
  );
  rejects(t, (i) => i.users.push({ name: "ALICE", password: "x" }), "users[2].name", /duplicate user/);
  rejects(t, (i) => i.users.push({ name: "*", password: "x" }), "users[2].name");
  rejects(t, (i) => i.users.push({ name: "", password: "x" }), "users[2].name");
  rejects(
    t,
    (i) => i.shares.push({ name: "IPC$", permissions: {}, files: [{ path: "pipe" }] }),
    "shares[2].files",
    /ipc/,
  );
  rejects(t, (i) => i.shares.push({ name: "a\\b", permissions: {} }), "shares[2].name");
  rejects(t, (i) => i.shares.push({ name: "", permissions: {} }), "shares[2].name");
  rejects(t, (i) => i.shares.push({ name: "c", permissions: {}, capacity: 0 }), "shares[2].capacity");
  rejects(
    t,
    (i) => i.shares.push({ name: "c", permissions: {}, capacity: 100, files: [{ path: "f", data: "1" }] }),
    "shares[2].capacity",
  );
  rejects(t, (i) => Object.assign(i, { name: "s r v" }), "name");
  rejects(t, (i) => Object.assign(i, { name: "" }), "name");
  rejects(t, (i) => Object.assign(i, { users: null }), "users");
});

test("image defaults: implied directories, UTF-8 data, IPC$ is an ipc share, attributes", (t) => {
  const srv = new MemSmbServer({
    name: "srv",
    users: [{ name: "u", password: "p" }],
    shares: [
      {
        name: "s",
        permissions: { u: "full" },
        files: [
          { path: "a\\b\\c.txt", data: "héllo" },
          { path: "A\\Dir", directory: true, attributes: 0x02 },
          { path: "bin", data: new Uint8Array([0, 1, 2]) },
        ],
      },
      { name: "ipc$", permissions: { "*": "read" } },
    ],
  });
  t.is(dec(srv.fileData("s", "a\\b\\c.txt")), "héllo");
  t.is(srv.pathInfo("s", "a\\b\\c.txt")?.size, 6);
  t.true(srv.pathInfo("s", "a\\b")?.directory);
  t.is(srv.pathInfo("s", "a\\dir")?.name, "Dir");
  t.is(srv.pathInfo("s", "a\\dir")?.attributes, 0x12);
  t.is(srv.pathInfo("s", "a\\b\\c.txt")?.attributes, 0x20, "files default to ARCHIVE");
  t.deepEqual([...(srv.fileData("s", "bin") ?? [])], [0, 1, 2]);
  t.is(srv.fileData("s", "a"), null, "a directory has no data");
  t.is(srv.fileData("nope", "bin"), null);
  t.is(srv.fileData("S", "BIN")?.length, 3);
  const { sessionId } = srv.sessionSetup("u", "p");
  t.is(srv.treeConnect(sessionId, "IPC$").shareType, "ipc");
  t.deepEqual(srv.shareNames, ["s", "ipc$"]);
});

test("snapshot round-trips through the constructor and reflects changes", (t) => {
  const srv = newServer();
  const first = srv.snapshot();
  t.deepEqual(new MemSmbServer(first).snapshot(), first);
  const { treeId } = connect(srv);
  const f = mustOpen(
    srv,
    treeId,
    "docs\\new.bin",
    { disposition: FILE_CREATE, desiredAccess: FILE_GENERIC_WRITE },
    5000,
  );
  srv.write(f, 0, enc("payload"), 6000);
  const snap = srv.snapshot();
  const share = snap.shares.find((s) => s.name === "Data");
  const entry = share?.files?.find((x) => x.path === "\\docs\\new.bin");
  t.like(entry, { creationTime: 5000, lastWriteTime: 6000, attributes: 0x20 });
  t.is(dec((entry?.data as Uint8Array | undefined) ?? null), "payload");
  t.deepEqual(new MemSmbServer(snap).snapshot(), snap);
  t.deepEqual(
    share?.files?.map((x) => x.path),
    [
      "\\docs",
      "\\docs\\a.txt",
      "\\docs\\b.txt",
      "\\docs\\new.bin",
      "\\docs\\sub",
      "\\docs\\sub\\c.txt",
      "\\empty",
      "\\hidden.txt",
      "\\readme.txt",
      "\\ro.txt",
    ],
    "pre-order, sorted like a listing",
  );
  // the snapshot is a copy
  (entry?.data as Uint8Array)[0] = 0x50;
  t.is(dec(srv.fileData("data", "docs\\new.bin")), "payload");
  t.deepEqual(
    snap.shares.map((s) => [s.name, s.type]),
    [
      ["Data", "disk"],
      ["IPC$", "ipc"],
      ["pub", "disk"],
    ],
  );
  t.like(snap.shares[2], { label: "PUBLIC", capacity: 65536 });
});

test("the image is copied: changing it later does not change the server", (t) => {
  const img = sampleImage();
  const data = new Uint8Array([1, 2, 3]);
  img.shares[0]?.files?.push({ path: "bytes", data });
  const srv = new MemSmbServer(img);
  data[0] = 9;
  img.users[0] = { name: "alice", password: "changed" };
  t.deepEqual([...(srv.fileData("data", "bytes") ?? [])], [1, 2, 3]);
  t.is(sn(srv.sessionSetup("alice", "alice-pw").status), "STATUS_SUCCESS");
});

test("MemSmbWorld: servers by name, ignoring case; duplicates refused", (t) => {
  const world = new MemSmbWorld();
  const a = world.add({ ...base(), name: "Alpha" });
  const b = world.add({ ...base(), name: "beta" });
  t.is(world.get("ALPHA"), a);
  t.is(world.get("Beta"), b);
  t.is(world.get("gamma"), undefined);
  t.deepEqual(world.servers, [a, b]);
  const err = t.throws(() => world.add({ ...base(), name: "alpha" }), { instanceOf: ServerImageError });
  t.is(err?.path, "name");
  t.deepEqual(
    world.servers.map((s) => s.name),
    ["Alpha", "beta"],
  );
  const two = new MemSmbWorld([sampleImage(), { ...base(), name: "other" }]);
  t.is(two.servers.length, 2);
  // the servers are independent
  const s1 = two.get("srv") as MemSmbServer;
  const c = connect(s1);
  mustOpen(s1, c.treeId, "only-here", { disposition: FILE_CREATE }, T0);
  t.is(two.get("other")?.pathInfo("one", "only-here"), null);
});
