/**
 * File-object lifetime: IRP_MJ_CLEANUP when the last handle goes, IRP_MJ_CLOSE when the last reference goes
 * (a kernel reference, or a pending IRP's), and CLOSE deferred to a worker thread when the last reference is
 * dropped at DISPATCH_LEVEL.
 */
import test from "ava";
import {
  type DriverDispatch,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_CHANGE_LAST_WRITE,
  type FILE_OBJECT,
  FILE_OPEN,
  FILE_READ_DATA,
  FILE_WRITE_DATA,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
} from "../../emulator/io/index.js";
import { BUGCHECK, STATUS } from "../../emulator/kernel/index.js";
import { type Booted, bootSystem, clean, enc, MS, openAsync, openSync, runUser, stopOf } from "./_helpers.js";

const { STATUS_SUCCESS, STATUS_PENDING, STATUS_NOTIFY_CLEANUP, STATUS_INVALID_HANDLE, STATUS_OBJECT_NAME_NOT_FOUND } =
  STATUS;

const FILE = "\\Device\\PendingRdr\\pend\\f.txt";
const DIR = "\\Device\\PendingRdr\\pend\\dir";

/** Record, for every CLEANUP and CLOSE the driver gets, the thread and process it runs in. */
function watchCleanupClose(b: Booted): string[] {
  const seen: string[] = [];
  const driver = b.drv.driver;
  if (!driver) throw new Error("driver not loaded");
  for (const [major, label] of [
    [IRP_MJ_CLEANUP, "CLEANUP"],
    [IRP_MJ_CLOSE, "CLOSE"],
  ] as const) {
    const orig = driver.MajorFunction[major] as DriverDispatch;
    driver.MajorFunction[major] = (d, irp) => {
      const th = b.k.PsGetCurrentThread();
      seen.push(`${label} on "${th.name}" in ${th.process.name} at IRQL ${th.irql}`);
      return orig(d, irp);
    };
  }
  return seen;
}

function fileObject(b: Booted, handle: number): FILE_OBJECT {
  const e = b.sys.nt.handleTable(b.app).get(handle);
  if (!e) throw new Error(`no handle ${handle}`);
  return e.object;
}

test("NtClose of the only handle sends IRP_MJ_CLEANUP then IRP_MJ_CLOSE, on the closing thread", async (t) => {
  const b = await bootSystem();
  const seen = watchCleanupClose(b);
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    const fo = fileObject(b, f.FileHandle);
    got.push(fo.HandleCount, fo.PointerCount);
    got.push(await b.sys.nt.NtClose(f.FileHandle));
    got.push(fo.HandleCount, fo.PointerCount, fo.cleanupSent, fo.closeSent);
    got.push(b.sys.nt.handleTable(b.app).get(f.FileHandle));
  });
  clean(r);
  t.deepEqual(got, [1, 1, STATUS_SUCCESS, 0, 0, true, true, undefined]);
  t.deepEqual(b.drv.log, ["IRP_MJ_CREATE \\pend\\f.txt", "IRP_MJ_CLEANUP \\pend\\f.txt", "IRP_MJ_CLOSE \\pend\\f.txt"]);
  t.deepEqual(seen, ['CLEANUP on "main" in app.exe at IRQL 0', 'CLOSE on "main" in app.exe at IRQL 0']);
});

test("a failed open never sends CLEANUP or CLOSE", async (t) => {
  const b = await bootSystem();
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, FILE, FILE_READ_DATA, { disposition: FILE_OPEN });
    if (f.Status !== STATUS_OBJECT_NAME_NOT_FOUND) throw new Error(`unexpected ${f.Status}`);
  });
  clean(r);
  t.deepEqual(b.drv.log, ["IRP_MJ_CREATE \\pend\\f.txt"]);
  t.is(b.drv.cleanups + b.drv.closes, 0);
});

test("a kernel reference keeps the file object: CLEANUP at NtClose, CLOSE only when ObDereferenceObject drops the last reference", async (t) => {
  const b = await bootSystem();
  const seen = watchCleanupClose(b);
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    const ref = nt.ObReferenceObjectByHandle(f.FileHandle, "UserMode");
    const fo = ref.object;
    if (!fo) throw new Error("no object");
    got.push(ref.status, fo.PointerCount);
    got.push(await nt.NtClose(f.FileHandle));
    got.push(`after NtClose: cleanups=${b.drv.cleanups} closes=${b.drv.closes} refs=${fo.PointerCount}`);
    // The handle is gone, the object is not.
    got.push(nt.ObReferenceObjectByHandle(f.FileHandle, "UserMode").status);
    await b.sys.io.ObDereferenceObject(fo);
    got.push(`after ObDereferenceObject: cleanups=${b.drv.cleanups} closes=${b.drv.closes} refs=${fo.PointerCount}`);
  });
  clean(r);
  t.deepEqual(got, [
    STATUS_SUCCESS,
    2,
    STATUS_SUCCESS,
    "after NtClose: cleanups=1 closes=0 refs=1",
    STATUS_INVALID_HANDLE,
    "after ObDereferenceObject: cleanups=1 closes=1 refs=0",
  ]);
  t.deepEqual(seen, ['CLEANUP on "main" in app.exe at IRQL 0', 'CLOSE on "main" in app.exe at IRQL 0']);
});

test("closing a handle with a pending notification: CLEANUP completes it with STATUS_NOTIFY_CLEANUP, then CLOSE", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const d = await openAsync(b.sys, DIR, FILE_LIST_DIRECTORY);
    const fo = fileObject(b, d.FileHandle);
    const n = await nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
      CompletionFilter: FILE_NOTIFY_CHANGE_LAST_WRITE,
      Length: 128,
    });
    // The pending IRP holds a reference of its own.
    got.push(n.Status, fo.PointerCount, fo.pendingIrps.size);
    got.push(await nt.NtClose(d.FileHandle));
    got.push(n.request?.done, n.request?.Status, fo.PointerCount, fo.pendingIrps.size);
  });
  clean(r);
  t.deepEqual(got, [STATUS_PENDING, 2, 1, STATUS_SUCCESS, true, STATUS_NOTIFY_CLEANUP, 0, 0]);
  t.deepEqual(b.drv.log, ["IRP_MJ_CREATE \\pend\\dir", "IRP_MJ_CLEANUP \\pend\\dir", "IRP_MJ_CLOSE \\pend\\dir"]);
});

// NT's IopCloseFile takes the file-object lock (IopLockFileObject) of an FO_SYNCHRONOUS_IO file object before it
// sends IRP_MJ_CLEANUP, so CloseHandle waits for another thread's in-flight synchronous I/O on that file object
// (the well-known "CloseHandle hangs while another thread is blocked in a synchronous ReadFile").
test("NtClose of a synchronous file object waits for the file-object lock: CLEANUP only after another thread's in-flight synchronous read", async (t) => {
  const latency = 10 * MS;
  const b = await bootSystem({ driver: { latency } });
  const got: string[] = [];
  const r = await runUser(b, async () => {
    const w = await openSync(b.sys, FILE, FILE_WRITE_DATA);
    await b.sys.nt.NtWriteFile(w.FileHandle, { Buffer: enc.encode("data") });
    await b.sys.nt.NtClose(w.FileHandle);
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    b.k.createThread(b.app, "closer", async () => {
      const s = await b.sys.nt.NtClose(f.FileHandle);
      got.push(`closer: NtClose → ${s} at ${b.k.KeQuerySystemTime()}`);
    });
    const rd = await b.sys.nt.NtReadFile(f.FileHandle, { Length: 4 });
    got.push(`reader: ${rd.Status} at ${b.k.KeQuerySystemTime()}`);
  });
  clean(r);
  t.deepEqual(b.drv.log.slice(-3), [
    "complete read from DPC at IRQL 2",
    "IRP_MJ_CLEANUP \\pend\\f.txt",
    "IRP_MJ_CLOSE \\pend\\f.txt",
  ]);
  // The write took one latency, the read another; the close cannot finish before the read.
  t.deepEqual(got.sort(), [
    `closer: NtClose → ${STATUS_SUCCESS} at ${2 * latency}`,
    `reader: ${STATUS_SUCCESS} at ${2 * latency}`,
  ]);
});

// In NT, ObReferenceObjectByHandle's AccessMode only decides whether access is checked; the handle is looked up
// in the current process's table unless it is a kernel handle (OBJ_KERNEL_HANDLE). A driver running in the
// caller's context that references a user handle with KernelMode (the usual call from a dispatch routine) gets
// the object.
test("ObReferenceObjectByHandle(KernelMode) in the caller's context finds the caller's handle", async (t) => {
  const b = await bootSystem();
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    const ref = b.sys.nt.ObReferenceObjectByHandle(f.FileHandle, "KernelMode");
    got.push(ref.status, ref.object === fileObject(b, f.FileHandle));
    if (ref.object) await b.sys.io.ObDereferenceObject(ref.object);
  });
  clean(r);
  t.deepEqual(got, [STATUS_SUCCESS, true]);
});

test("a pending read keeps the file object after NtClose; its completion DPC drops the last reference and CLOSE runs on a worker thread", async (t) => {
  const b = await bootSystem();
  const seen = watchCleanupClose(b);
  const got: unknown[] = [];
  const r = await runUser(b, async () => {
    const nt = b.sys.nt;
    const w = await openSync(b.sys, FILE, FILE_WRITE_DATA);
    await nt.NtWriteFile(w.FileHandle, { Buffer: enc.encode("data") });
    await nt.NtClose(w.FileHandle);
    const f = await openAsync(b.sys, FILE, FILE_READ_DATA);
    const fo = fileObject(b, f.FileHandle);
    const rd = await nt.NtReadFile(f.FileHandle, { Length: 4, ByteOffset: 0 });
    got.push(rd.Status, await nt.NtClose(f.FileHandle));
    got.push(`after NtClose: cleanupSent=${fo.cleanupSent} closeSent=${fo.closeSent} refs=${fo.PointerCount}`);
    const iosb = await rd.request?.wait();
    got.push(iosb?.Status, iosb?.Information, new TextDecoder().decode(rd.Buffer));
  });
  clean(r);
  t.deepEqual(got, [
    STATUS_PENDING,
    STATUS_SUCCESS,
    "after NtClose: cleanupSent=true closeSent=false refs=1",
    STATUS_SUCCESS,
    4,
    "data",
  ]);
  t.deepEqual(seen, [
    'CLEANUP on "main" in app.exe at IRQL 0', // the writer's handle
    'CLOSE on "main" in app.exe at IRQL 0',
    'CLEANUP on "main" in app.exe at IRQL 0', // the reader's handle
    'CLOSE on "Delayed worker 1" in System at IRQL 0',
  ]);
  t.deepEqual(b.drv.log.slice(-3), [
    "IRP_MJ_CLEANUP \\pend\\f.txt",
    "complete read from DPC at IRQL 2",
    "IRP_MJ_CLOSE \\pend\\f.txt",
  ]);
  t.is(b.k.workerCounts().delayed, 1);
});

test("dropping a reference that is already gone is BAD_POOL_CALLER", async (t) => {
  const b = await bootSystem();
  const r = await runUser(b, async () => {
    const f = await openSync(b.sys, FILE, FILE_READ_DATA);
    const fo = fileObject(b, f.FileHandle);
    await b.sys.nt.NtClose(f.FileHandle);
    await b.sys.io.ObDereferenceObject(fo);
  });
  const stop = stopOf(r);
  t.is(stop.code, BUGCHECK.BAD_POOL_CALLER);
  t.is(stop.params[0], 7n);
  t.regex(stop.reason, /reference count is already 0/);
  t.is(b.drv.closes, 1);
});
