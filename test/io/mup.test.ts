/**
 * MUP: UNC opens resolved with IOCTL_REDIR_QUERY_PATH and a prefix cache, several providers, deregistration,
 * \Device\Mup names, and drive-letter symbolic links.
 */
import test from "ava";
import { FILE_READ_DATA, FILE_WRITE_DATA, GENERIC_READ, GENERIC_WRITE } from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import { PendingDriver } from "../drivers/pending-driver.js";
import { type Booted, bootSystem, clean, dec, enc, openSync, runUser } from "./_helpers.js";

const { STATUS_SUCCESS, STATUS_BAD_NETWORK_PATH, STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_PATH_NOT_FOUND } = STATUS;

/** Boot with the default provider (\pend on \Device\PendingRdr) and a second one (\other on \Device\OtherRdr). */
async function bootTwo(): Promise<{ b: Booted; other: PendingDriver }> {
  const holder: { other: PendingDriver | null } = { other: null };
  const b = await bootSystem({
    more: async (sys) => {
      const other = new PendingDriver(sys, { deviceName: "\\Device\\OtherRdr", claim: "\\other" });
      const s = await other.load();
      if (s !== STATUS_SUCCESS) throw new Error(`second provider did not load: ${s}`);
      holder.other = other;
    },
  });
  return { b, other: holder.other as PendingDriver };
}

function cache(b: Booted): [string, string][] {
  return [...b.sys.mup.prefixCache.entries()].sort();
}

test("\\??\\UNC\\pend\\x reaches the provider through IOCTL_REDIR_QUERY_PATH; later opens under \\pend use the prefix cache", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    got.push(b.sys.mup.queries);
    const x = await openSync(b.sys, "\\??\\UNC\\pend\\x", FILE_READ_DATA);
    got.push(x.Status, b.sys.mup.queries);
    const y = await openSync(b.sys, "\\??\\UNC\\PEND\\sub\\y", FILE_READ_DATA);
    got.push(y.Status, b.sys.mup.queries);
    // "\pendx" is not under the cached "\pend": a new query, which nobody accepts.
    const z = await openSync(b.sys, "\\??\\UNC\\pendx\\z", FILE_READ_DATA);
    got.push(z.Status, z.FileHandle, b.sys.mup.queries);
  });
  clean(r);
  t.deepEqual(got, [0, STATUS_SUCCESS, 1, STATUS_SUCCESS, 1, STATUS_BAD_NETWORK_PATH, 0, 2]);
  t.deepEqual(b.drv.log, [
    "IOCTL_REDIR_QUERY_PATH \\pend\\x",
    "IRP_MJ_CREATE \\pend\\x",
    "IRP_MJ_CREATE \\PEND\\sub\\y",
    "IOCTL_REDIR_QUERY_PATH \\pendx\\z",
  ]);
  t.deepEqual(cache(b), [["\\PEND", "\\Device\\PendingRdr"]]);
});

test("a UNC name no provider claims is STATUS_BAD_NETWORK_PATH and nothing is cached", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, "\\??\\UNC\\nobody\\share\\f", FILE_READ_DATA);
    got.push(f.Status, f.FileHandle, b.sys.mup.queries);
  });
  clean(r);
  t.deepEqual(got, [STATUS_BAD_NETWORK_PATH, 0, 1]);
  t.deepEqual(cache(b), []);
  t.deepEqual(b.drv.log, ["IOCTL_REDIR_QUERY_PATH \\nobody\\share\\f"]);
});

test("two providers: each is asked in registration order and gets its own prefixes and files", async (t) => {
  const { b, other } = await bootTwo();
  t.deepEqual(
    b.sys.mup.registeredProviders.map((p) => p.deviceName),
    ["\\Device\\PendingRdr", "\\Device\\OtherRdr"],
  );
  t.is(other.driver?.DriverName, "\\Driver\\OtherRdr");
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const a = await openSync(b.sys, "\\??\\UNC\\other\\a.txt", GENERIC_READ | GENERIC_WRITE);
    got.push(a.Status, b.sys.mup.queries); // \pend's driver said no, then \other's said yes
    await nt.NtWriteFile(a.FileHandle, { Buffer: enc.encode("on other") });
    const p = await openSync(b.sys, "\\??\\UNC\\pend\\a.txt", GENERIC_READ | GENERIC_WRITE);
    got.push(p.Status, b.sys.mup.queries);
    await nt.NtWriteFile(p.FileHandle, { Buffer: enc.encode("on pend") });
    const again = await openSync(b.sys, "\\??\\UNC\\other\\a.txt", FILE_READ_DATA);
    const rd = await nt.NtReadFile(again.FileHandle, { Length: 16, ByteOffset: 0 });
    got.push(again.Status, b.sys.mup.queries, dec.decode(rd.Buffer.subarray(0, rd.Information)));
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, 2, STATUS_SUCCESS, 3, STATUS_SUCCESS, 3, "on other"]);
  t.deepEqual(cache(b), [
    ["\\OTHER", "\\Device\\OtherRdr"],
    ["\\PEND", "\\Device\\PendingRdr"],
  ]);
  t.deepEqual(
    b.drv.log.filter((l) => !l.startsWith("complete")),
    ["IOCTL_REDIR_QUERY_PATH \\other\\a.txt", "IOCTL_REDIR_QUERY_PATH \\pend\\a.txt", "IRP_MJ_CREATE \\pend\\a.txt"],
  );
  t.deepEqual(
    other.log.filter((l) => !l.startsWith("complete")),
    ["IOCTL_REDIR_QUERY_PATH \\other\\a.txt", "IRP_MJ_CREATE \\other\\a.txt", "IRP_MJ_CREATE \\other\\a.txt"],
  );
  t.deepEqual([...b.drv.files.keys()], ["\\PEND\\A.TXT"]);
  t.deepEqual([...other.files.keys()], ["\\OTHER\\A.TXT"]);
});

test("FsRtlDeregisterUncProvider drops the provider's cached prefixes; its names stop resolving", async (t) => {
  const { b, other } = await bootTwo();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    await openSync(b.sys, "\\??\\UNC\\other\\a", FILE_READ_DATA);
    await openSync(b.sys, "\\??\\UNC\\pend\\a", FILE_READ_DATA);
    got.push(b.sys.mup.prefixCache.size, b.sys.mup.queries);
    b.sys.mup.FsRtlDeregisterUncProvider(other.mupHandle);
    got.push([...b.sys.mup.prefixCache.keys()], b.sys.mup.registeredProviders.length);
    const o = await openSync(b.sys, "\\??\\UNC\\other\\a", FILE_READ_DATA);
    got.push(o.Status, b.sys.mup.queries); // only \pend's driver was asked, and said no
    const p = await openSync(b.sys, "\\??\\UNC\\pend\\b", FILE_READ_DATA);
    got.push(p.Status, b.sys.mup.queries); // still cached
  });
  clean(r);
  t.deepEqual(got, [2, 3, ["\\PEND"], 1, STATUS_BAD_NETWORK_PATH, 4, STATUS_SUCCESS, 4]);
  t.is(other.log.filter((l) => l.startsWith("IOCTL_REDIR_QUERY_PATH")).length, 1);
});

test("\\Device\\Mup\\pend\\x resolves like \\??\\UNC\\pend\\x", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, "\\Device\\Mup\\pend\\x", FILE_READ_DATA);
    got.push(f.Status, b.sys.mup.queries);
    const g = await openSync(b.sys, "\\DosDevices\\UNC\\pend\\y", FILE_READ_DATA);
    got.push(g.Status, b.sys.mup.queries);
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, 1, STATUS_SUCCESS, 1]);
  t.deepEqual(b.drv.log, ["IOCTL_REDIR_QUERY_PATH \\pend\\x", "IRP_MJ_CREATE \\pend\\x", "IRP_MJ_CREATE \\pend\\y"]);
});

test("a drive-letter symbolic link to \\Device\\PendingRdr\\pend resolves without MUP, to the same files", async (t) => {
  const b = await bootSystem();
  const io = b.sys.io;
  t.is(io.IoCreateSymbolicLink("\\??\\P:", "\\Device\\PendingRdr\\pend"), STATUS_SUCCESS);
  t.is(io.IoCreateSymbolicLink("\\??\\p:", "\\Device\\Elsewhere"), STATUS_OBJECT_NAME_COLLISION);
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await openSync(b.sys, "\\??\\P:\\notes.txt", FILE_WRITE_DATA);
    got.push(f.Status, b.sys.mup.queries);
    await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("via P:") });
    const u = await openSync(b.sys, "\\??\\UNC\\pend\\notes.txt", FILE_READ_DATA);
    const rd = await nt.NtReadFile(u.FileHandle, { Length: 6, ByteOffset: 0 });
    got.push(dec.decode(rd.Buffer));
    got.push(io.IoDeleteSymbolicLink("\\??\\P:"));
    got.push((await openSync(b.sys, "\\??\\P:\\notes.txt", FILE_READ_DATA)).Status);
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, 0, "via P:", STATUS_SUCCESS, STATUS_OBJECT_PATH_NOT_FOUND]);
  t.deepEqual(
    b.drv.log.filter((l) => l.startsWith("IRP_MJ_CREATE")),
    ["IRP_MJ_CREATE \\pend\\notes.txt", "IRP_MJ_CREATE \\pend\\notes.txt"],
  );
});
