/**
 * The pending driver end to end through the Nt* services: DPC completion, virtual time, data, byte offsets,
 * synchronous vs asynchronous file objects, access and handle checks, NtCreateFile parameter validation and
 * share access.
 */
import test from "ava";
import {
  CTL_CODE,
  DELETE,
  type DriverDispatch,
  FILE_ANY_ACCESS,
  FILE_CREATE,
  FILE_CREATED,
  FILE_DELETE_ON_CLOSE,
  FILE_DEVICE_UNKNOWN,
  FILE_DIRECTORY_FILE,
  FILE_NON_DIRECTORY_FILE,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  type FILE_OBJECT,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OPENED,
  FILE_READ_ATTRIBUTES,
  FILE_READ_DATA,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_SYNCHRONOUS_IO_ALERT,
  FILE_SYNCHRONOUS_IO_NONALERT,
  FILE_WRITE_DATA,
  FO_SYNCHRONOUS_IO,
  GENERIC_READ,
  GENERIC_WRITE,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  IRP_MJ_DEVICE_CONTROL,
  KERNEL_HANDLE_FLAG,
  METHOD_BUFFERED,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import { IOCTL_PENDING_ECHO } from "../drivers/pending-driver.js";
import {
  type Booted,
  bootSystem,
  clean,
  completeIrp,
  dec,
  enc,
  MS,
  makeDevice,
  openAsync,
  openSync,
  runUser,
} from "./_helpers.js";

const {
  STATUS_SUCCESS,
  STATUS_PENDING,
  STATUS_END_OF_FILE,
  STATUS_INVALID_PARAMETER,
  STATUS_ACCESS_DENIED,
  STATUS_INVALID_HANDLE,
  STATUS_SHARING_VIOLATION,
  STATUS_OBJECT_NAME_NOT_FOUND,
  STATUS_OBJECT_NAME_COLLISION,
} = STATUS;

const FILE = "\\??\\UNC\\pend\\data.txt";

function fileObject(b: Booted, handle: number): FILE_OBJECT {
  const e = b.sys.nt.handleTable(b.app).get(handle);
  if (!e) throw new Error(`no handle ${handle}`);
  return e.object;
}

test("reads and writes complete from a DPC at DISPATCH_LEVEL after the driver's latency; the data round-trips", async (t) => {
  const latency = 25 * MS;
  const b = await bootSystem({ driver: { latency } });
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const k = b.k;
    const f = await openSync(b.sys, FILE, GENERIC_READ | GENERIC_WRITE);
    got.push(f.Status, f.Information);
    const t0 = k.KeQuerySystemTime();
    const w = await b.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("hello, redirector") });
    const t1 = k.KeQuerySystemTime();
    const rd = await b.sys.nt.NtReadFile(f.FileHandle, { Length: 10, ByteOffset: 7 });
    const t2 = k.KeQuerySystemTime();
    got.push(w.Status, w.Information, t1 - t0, rd.Status, rd.Information, dec.decode(rd.Buffer), t2 - t1);
  });
  clean(r);
  t.deepEqual(got, [
    STATUS_SUCCESS,
    FILE_CREATED,
    STATUS_SUCCESS,
    17,
    latency,
    STATUS_SUCCESS,
    10,
    "redirector",
    latency,
  ]);
  t.deepEqual(
    b.drv.log.filter((l) => l.startsWith("complete")),
    ["complete write from DPC at IRQL 2", "complete read from DPC at IRQL 2"],
  );
  // The trace agrees: both IRPs were completed in DPC context (thread 0), one latency apart.
  const dispatches = b.k.trace.events.filter((e) => e.kind === "irp.dispatch" && /READ|WRITE/.test(e.what));
  const completions = b.k.trace.events.filter(
    (e) => e.kind === "irp.complete" && dispatches.some((d) => `IRP#${d.data?.irp}` === e.what),
  );
  t.deepEqual(
    completions.map((e) => [e.thread, e.time]),
    [
      [0, latency],
      [0, 2 * latency],
    ],
  );
  t.is(r.time, 2 * latency);
});

test("CurrentByteOffset advances on a synchronous file object (and not after a failure)", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await openSync(b.sys, FILE, GENERIC_READ | GENERIC_WRITE);
    const fo = fileObject(b, f.FileHandle);
    got.push((fo.Flags & FO_SYNCHRONOUS_IO) !== 0, fo.CurrentByteOffset);
    await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("abc") });
    got.push(fo.CurrentByteOffset);
    await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("def") });
    got.push(fo.CurrentByteOffset);
    const eof = await nt.NtReadFile(f.FileHandle, { Length: 4 });
    got.push(eof.Status, fo.CurrentByteOffset);
    const a = await nt.NtReadFile(f.FileHandle, { Length: 2, ByteOffset: 2 });
    got.push(dec.decode(a.Buffer), fo.CurrentByteOffset);
    const rest = await nt.NtReadFile(f.FileHandle, { Length: 10 });
    got.push(
      rest.Status,
      rest.Information,
      dec.decode(rest.Buffer.subarray(0, rest.Information)),
      fo.CurrentByteOffset,
    );
  });
  clean(r);
  t.deepEqual(got, [true, 0, 3, 6, STATUS_END_OF_FILE, 6, "cd", 4, STATUS_SUCCESS, 2, "ef", 6]);
});

test("an asynchronous file object: calls return STATUS_PENDING with an IoRequest to wait on; ByteOffset is required", async (t) => {
  const b = await bootSystem({ driver: { latency: 10 * MS } });
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await openAsync(b.sys, FILE, FILE_READ_DATA | FILE_WRITE_DATA);
    const fo = fileObject(b, f.FileHandle);
    got.push(f.Status, (fo.Flags & FO_SYNCHRONOUS_IO) !== 0);
    const noOffset = await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("12345") });
    got.push(noOffset.Status, noOffset.request);
    const w = await nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("12345"), ByteOffset: 0 });
    const req = w.request;
    if (!req) throw new Error("no request");
    got.push(w.Status, req.Status, req.done, fo.Event.signaled);
    // A 1 ms wait times out (virtual time): the write takes 10 ms.
    got.push(await req.wait(-MS));
    const iosb = await req.wait();
    got.push(iosb?.Status, iosb?.Information, req.Status, req.done, fo.Event.signaled, fo.CurrentByteOffset);
    // Two reads in flight at once on the same asynchronous file object.
    const r1 = await nt.NtReadFile(f.FileHandle, { Length: 2, ByteOffset: 0 });
    const r2 = await nt.NtReadFile(f.FileHandle, { Length: 3, ByteOffset: 2 });
    got.push(r1.Status, r2.Status, b.drv.inFlight.size);
    await r1.request?.wait();
    await r2.request?.wait();
    got.push(dec.decode(r1.Buffer), dec.decode(r2.Buffer), r1.request?.IoStatusBlock.Information);
  });
  clean(r);
  t.deepEqual(got, [
    STATUS_SUCCESS,
    false,
    STATUS_INVALID_PARAMETER,
    null,
    STATUS_PENDING,
    STATUS_PENDING,
    false,
    false,
    null,
    STATUS_SUCCESS,
    5,
    STATUS_SUCCESS,
    true,
    true,
    0,
    STATUS_PENDING,
    STATUS_PENDING,
    2,
    "12",
    "345",
    2,
  ]);
});

test("access checks: reading a write-only handle, writing a read-only one, watching without LIST_DIRECTORY → STATUS_ACCESS_DENIED", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const wo = await openSync(b.sys, FILE, FILE_WRITE_DATA);
    const ro = await openSync(b.sys, FILE, FILE_READ_ATTRIBUTES);
    const rd = await nt.NtReadFile(wo.FileHandle, { Length: 1, ByteOffset: 0 });
    const wr = await nt.NtWriteFile(ro.FileHandle, { Buffer: enc.encode("x"), ByteOffset: 0 });
    const n = await nt.NtNotifyChangeDirectoryFile(ro.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
      Length: 64,
    });
    got.push(rd.Status, rd.request, wr.Status, n.Status);
    // The right access works.
    got.push((await nt.NtWriteFile(wo.FileHandle, { Buffer: enc.encode("x") })).Status);
  });
  clean(r);
  t.deepEqual(got, [STATUS_ACCESS_DENIED, null, STATUS_ACCESS_DENIED, STATUS_ACCESS_DENIED, STATUS_SUCCESS]);
  // Only the successful write reached the driver.
  t.deepEqual(
    b.drv.log.filter((l) => l.startsWith("complete")),
    ["complete write from DPC at IRQL 2"],
  );
});

test("STATUS_INVALID_HANDLE: a handle never issued, a closed handle, another process's handle", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const shared: { handle: number } = { handle: 0 };
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    got.push((await nt.NtReadFile(0x1234, { Length: 1, ByteOffset: 0 })).Status);
    got.push(await nt.NtClose(0x1234));
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    shared.handle = f.FileHandle;
    got.push(await nt.NtClose(f.FileHandle));
    got.push((await nt.NtReadFile(f.FileHandle, { Length: 1 })).Status, await nt.NtClose(f.FileHandle));
    const g = await openSync(b.sys, FILE, FILE_READ_DATA);
    shared.handle = g.FileHandle;
  });
  clean(r);
  b.k.createThread(b.k.createProcess("other.exe"), "other", async () => {
    got.push((await b.sys.nt.NtReadFile(shared.handle, { Length: 1 })).Status);
    got.push(await b.sys.nt.NtCancelIoFile(shared.handle));
  });
  clean(await b.k.run());
  t.deepEqual(got, [
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_HANDLE,
    STATUS_SUCCESS,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_HANDLE,
    STATUS_INVALID_HANDLE,
  ]);
});

test("handle values: multiples of 4, never reused; near misses (unaligned, fractional, negative, kernel bit) are invalid", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  let handles: number[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const opened: number[] = [];
    for (let i = 0; i < 70; i++) opened.push((await openSync(b.sys, FILE, FILE_READ_DATA)).FileHandle);
    for (const h of opened.slice(0, 69)) t.is(await nt.NtClose(h), STATUS_SUCCESS);
    const h = opened[69] as number;
    const again = (await openSync(b.sys, FILE, FILE_READ_DATA)).FileHandle;
    handles = [opened[0] as number, h, again];
    for (const bad of [h + 1, h + 2, h + 0.5, -h, (h | KERNEL_HANDLE_FLAG) >>> 0, opened[0] as number])
      got.push((await nt.NtReadFile(bad, { Length: 1, ByteOffset: 0 })).Status);
    got.push((await nt.NtReadFile(h, { Length: 1, ByteOffset: 0 })).Status !== STATUS_INVALID_HANDLE);
    t.deepEqual(nt.handleTable(b.k.PsGetCurrentThread().process).handles(), [h, again]);
  });
  clean(r);
  t.is(handles[0], 4);
  t.is(handles[1], 4 * 70);
  t.is(handles[2], 4 * 71, "a new handle does not reuse a closed one");
  t.deepEqual(got, [...Array(6).fill(STATUS_INVALID_HANDLE), true]);
});

test("NtCreateFile parameter validation → STATUS_INVALID_PARAMETER before any IRP is sent", async (t) => {
  const b = await bootSystem();
  const base = {
    ObjectName: "\\??\\UNC\\pend\\p.txt",
    DesiredAccess: FILE_READ_DATA | SYNCHRONIZE,
    CreateDisposition: FILE_OPEN_IF,
  };
  const cases = {
    "DIRECTORY|NON_DIRECTORY": { ...base, CreateOptions: FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE },
    "DELETE_ON_CLOSE without DELETE": { ...base, CreateOptions: FILE_DELETE_ON_CLOSE },
    "SYNCHRONOUS_IO without SYNCHRONIZE": {
      ...base,
      DesiredAccess: FILE_READ_DATA,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    },
    "SYNCHRONOUS_IO_ALERT|NONALERT": {
      ...base,
      CreateOptions: FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT,
    },
    "disposition 6": { ...base, CreateDisposition: 6 },
  };
  const got: Record<string, unknown> = {};
  const r = await runUser(b, async () => {
    for (const [label, args] of Object.entries(cases)) {
      const res = await b.sys.nt.NtCreateFile(args);
      got[label] = [res.Status, res.FileHandle];
    }
    // The same options with the access they need are fine.
    const ok = await b.sys.nt.NtCreateFile({
      ...base,
      DesiredAccess: FILE_READ_DATA | DELETE | SYNCHRONIZE,
      CreateOptions: FILE_DELETE_ON_CLOSE | FILE_SYNCHRONOUS_IO_NONALERT,
    });
    got.ok = ok.Status;
  });
  clean(r);
  const bad = [STATUS_INVALID_PARAMETER, 0];
  t.deepEqual(got, {
    "DIRECTORY|NON_DIRECTORY": bad,
    "DELETE_ON_CLOSE without DELETE": bad,
    "SYNCHRONOUS_IO without SYNCHRONIZE": bad,
    "SYNCHRONOUS_IO_ALERT|NONALERT": bad,
    "disposition 6": bad,
    ok: STATUS_SUCCESS,
  });
  // Nothing reached MUP or the driver for the rejected calls: one query and one create, both for "ok".
  t.is(b.sys.mup.queries, 1);
  t.deepEqual(
    b.drv.log.filter((l) => l.startsWith("IRP_MJ_CREATE")),
    ["IRP_MJ_CREATE \\pend\\p.txt"],
  );
});

test("create dispositions: FILE_OPEN of a missing file, FILE_CREATE of an existing one, FILE_OPEN_IF both ways", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const open = async (disposition: number) => {
      const f = await openSync(b.sys, FILE, FILE_READ_DATA, { disposition });
      got.push([f.Status, f.Information]);
      if (f.FileHandle) await b.sys.nt.NtClose(f.FileHandle);
    };
    await open(FILE_OPEN);
    await open(FILE_OPEN_IF);
    await open(FILE_OPEN_IF);
    await open(FILE_CREATE);
    await open(FILE_OPEN);
  });
  clean(r);
  t.deepEqual(got, [
    [STATUS_OBJECT_NAME_NOT_FOUND, 0],
    [STATUS_SUCCESS, FILE_CREATED],
    [STATUS_SUCCESS, FILE_OPENED],
    [STATUS_OBJECT_NAME_COLLISION, 0],
    [STATUS_SUCCESS, FILE_OPENED],
  ]);
});

test("share access: IoCheckShareAccess in the driver's create refuses conflicting opens with STATUS_SHARING_VIOLATION", async (t) => {
  const b = await bootSystem();
  const got: Record<string, number> = {};
  const r = await runUser(b, async () => {
    const open = async (label: string, access: number, share: number): Promise<number> => {
      const f = await openSync(b.sys, FILE, access, { share });
      got[label] = f.Status;
      return f.FileHandle;
    };
    const r1 = await open("reader 1 (share read)", FILE_READ_DATA, FILE_SHARE_READ);
    const r2 = await open("reader 2 (share read)", FILE_READ_DATA, FILE_SHARE_READ);
    await open("writer (share all)", FILE_WRITE_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE);
    await open("reader 3 (share none)", FILE_READ_DATA, 0);
    await open("attributes only", FILE_READ_ATTRIBUTES, 0);
    await b.sys.nt.NtClose(r1);
    await b.sys.nt.NtClose(r2);
    const w = await open("writer after readers closed", FILE_WRITE_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE);
    await open("reader 4 (share none) while writer open", FILE_READ_DATA, 0);
    await open("reader 5 (share read|write)", FILE_READ_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE);
    await b.sys.nt.NtClose(w);
  });
  clean(r);
  t.deepEqual(got, {
    "reader 1 (share read)": STATUS_SUCCESS,
    "reader 2 (share read)": STATUS_SUCCESS,
    "writer (share all)": STATUS_SHARING_VIOLATION,
    "reader 3 (share none)": STATUS_SHARING_VIOLATION,
    "attributes only": STATUS_SUCCESS,
    "writer after readers closed": STATUS_SUCCESS,
    "reader 4 (share none) while writer open": STATUS_SHARING_VIOLATION,
    "reader 5 (share read|write)": STATUS_SUCCESS,
  });
  // Reader 5 is still open (never closed): the file's SHARE_ACCESS counts exactly that one open.
  const sa = b.drv.shares.get("\\PEND\\DATA.TXT");
  t.like(sa, { OpenCount: 1, Readers: 1, Writers: 0, SharedRead: 1, SharedWrite: 1 });
});

test("the echo IOCTL (METHOD_BUFFERED) returns its input reversed through the system buffer", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    const res = await b.sys.nt.NtDeviceIoControlFile(f.FileHandle, IOCTL_PENDING_ECHO, {
      InputBuffer: enc.encode("stressed"),
      OutputBufferLength: 8,
    });
    got.push(res.Status, res.Information, dec.decode(res.OutputBuffer ?? new Uint8Array()));
    // A short output buffer gets what fits.
    const short = await b.sys.nt.NtDeviceIoControlFile(f.FileHandle, IOCTL_PENDING_ECHO, {
      InputBuffer: enc.encode("stressed"),
      OutputBufferLength: 3,
    });
    got.push(short.Status, short.Information, dec.decode(short.OutputBuffer ?? new Uint8Array()));
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, 8, "desserts", STATUS_SUCCESS, 3, "des"]);
});

// For FO_SYNCHRONOUS_IO file objects the file system moves CurrentByteOffset; after a write to end of file
// (ByteOffset -1, FILE_WRITE_TO_END_OF_FILE) it is the new end of file, where NT file systems leave it.
test("a write to end of file (ByteOffset -1) leaves CurrentByteOffset at the new end of file", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, FILE, GENERIC_READ | GENERIC_WRITE);
    const fo = fileObject(b, f.FileHandle);
    await b.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("abc") });
    const w = await b.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("de"), ByteOffset: -1 });
    const all = await b.sys.nt.NtReadFile(f.FileHandle, { Length: 8, ByteOffset: 0 });
    got.push(w.Status, dec.decode(all.Buffer.subarray(0, all.Information)));
    await b.sys.nt.NtWriteFile(f.FileHandle, { Buffer: enc.encode("!"), ByteOffset: -1 });
    got.push(fo.CurrentByteOffset);
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, "abcde", 6]);
});

// NT's IopCompleteRequest copies IoStatus.Information bytes of buffered output for every status that is not an
// error (!NT_ERROR: success, informational and warning; only STATUS_VERIFY_REQUIRED is excepted), so a warning
// such as STATUS_NO_MORE_FILES still returns its data.
test("a METHOD_BUFFERED request completed with a warning status still returns its data", async (t) => {
  const IOCTL_WARN = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS);
  const b = await bootSystem({
    driver: false,
    more: async (sys) => {
      const ok: DriverDispatch = (_d, irp) => completeIrp(sys, irp, STATUS_SUCCESS);
      await makeDevice(sys, "\\Driver\\Warn", "\\Device\\Warn", {
        [IRP_MJ_CREATE]: ok,
        [IRP_MJ_CLEANUP]: ok,
        [IRP_MJ_CLOSE]: ok,
        [IRP_MJ_DEVICE_CONTROL]: (_d, irp) => {
          irp.SystemBuffer?.set([9, 8, 7, 6]);
          return completeIrp(sys, irp, STATUS.STATUS_NO_MORE_FILES, 4);
        },
      });
    },
  });
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, "\\Device\\Warn\\x", FILE_READ_DATA);
    const res = await b.sys.nt.NtDeviceIoControlFile(f.FileHandle, IOCTL_WARN, { OutputBufferLength: 4 });
    got.push(res.Status, res.Information, [...(res.OutputBuffer ?? [])]);
  });
  clean(r);
  t.deepEqual(got, [STATUS.STATUS_NO_MORE_FILES, 4, [9, 8, 7, 6]]);
});
