/**
 * Pool tracking at a driver's unload (Driver Verifier's 0xC4 / 0x62): each pool block is charged to the driver whose
 * code allocated it — in DriverEntry, a dispatch routine, a completion routine, DriverUnload, or a thread, DPC or
 * work item that driver made — and a driver that unloads (or fails DriverEntry) with blocks still allocated stops
 * the run with the count and each block's story. Blocks of other drivers and of test code are not its.
 */
import test from "ava";
import {
  bootIo,
  type DEVICE_OBJECT,
  type DRIVER_OBJECT,
  FILE_DEVICE_UNKNOWN,
  FILE_OPEN,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  type IoSystem,
  type IRP,
  IRP_MJ_CLEANUP,
  IRP_MJ_CLOSE,
  IRP_MJ_CREATE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import {
  BUGCHECK,
  type CheckMode,
  Kernel,
  type KernelStop,
  POOL_TYPE,
  STATUS,
  VERIFIER_C4,
  WorkQueueType,
} from "../../emulator/kernel/index.js";

const NP = POOL_TYPE.NonPagedPool;

function complete(sys: IoSystem, irp: IRP): number {
  irp.IoStatus.Status = STATUS.STATUS_SUCCESS;
  sys.io.IoCompleteRequest(irp);
  return STATUS.STATUS_SUCCESS;
}

interface World {
  readonly k: Kernel;
  readonly sys: IoSystem;
  readonly drivers: Map<string, DRIVER_OBJECT>;
}

/**
 * \Driver\Lower completes creates; \Driver\Upper is attached on top and passes them down with a completion routine.
 * Upper allocates a block in each place its code runs (tags below); `freeAtUnload` frees them in its DriverUnload.
 * A user thread opens and closes the stack once, and allocates a block of its own ("User").
 */
async function world(freeAtUnload: boolean, checks: Record<string, CheckMode> = {}): Promise<World> {
  const k = new Kernel({ checks });
  const sys = bootIo(k);
  const drivers = new Map<string, DRIVER_OBJECT>();
  const upperBlocks: object[] = [];
  const keep = (tag: string): void => {
    const b = k.ExAllocatePoolWithTag(NP, 32, tag);
    if (b !== null) upperBlocks.push(b);
  };
  k.PsCreateSystemThread("load", async () => {
    let lowerDev: DEVICE_OBJECT | null = null;
    const lower = await sys.io.IoCreateDriver("\\Driver\\Lower", (d) => {
      for (const mj of [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE])
        d.MajorFunction[mj] = (_dev, irp) => complete(sys, irp);
      lowerDev = sys.io.IoCreateDevice(d, null, "\\Device\\Stack", FILE_DEVICE_UNKNOWN).device;
      return STATUS.STATUS_SUCCESS;
    });
    drivers.set("lower", lower.driver);
    const upper = await sys.io.IoCreateDriver("\\Driver\\Upper", (d) => {
      keep("Entr");
      // A thread, a DPC and a work item made here run Upper's code.
      k.PsCreateSystemThread("upper thread", () => keep("Thrd"));
      k.KeInsertQueueDpc(k.KeInitializeDpc(() => keep("Dpc_"), null, "upper dpc"));
      k.ExQueueWorkItem(
        k.ExInitializeWorkItem(() => keep("Work"), null, "upper work"),
        WorkQueueType.DelayedWorkQueue,
      );
      const dev = sys.io.IoCreateDevice(d, null, null, FILE_DEVICE_UNKNOWN).device as DEVICE_OBJECT;
      const below = sys.io.IoAttachDeviceToDeviceStack(dev, lowerDev as unknown as DEVICE_OBJECT);
      for (const mj of [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE]) {
        d.MajorFunction[mj] = (_dev, irp) => {
          if (mj === IRP_MJ_CREATE) {
            keep("Disp");
            sys.io.IoCopyCurrentIrpStackLocationToNext(irp);
            const done = (): number => {
              keep("Cmpl");
              return STATUS.STATUS_SUCCESS;
            };
            sys.io.IoSetCompletionRoutine(irp, done, null, true, true, true);
          } else sys.io.IoSkipCurrentIrpStackLocation(irp);
          return sys.io.IoCallDriver(below, irp);
        };
      }
      d.DriverUnload = () => {
        keep("Unld");
        if (freeAtUnload) for (const b of upperBlocks.splice(0)) k.ExFreePool(b);
      };
      return STATUS.STATUS_SUCCESS;
    });
    drivers.set("upper", upper.driver);
  });
  await k.run();
  k.createThread(k.createProcess("app.exe"), "user", async () => {
    k.ExAllocatePoolWithTag(NP, 16, "User");
    const h = await sys.nt.NtCreateFile({
      ObjectName: "\\Device\\Stack",
      DesiredAccess: GENERIC_READ | SYNCHRONIZE,
      CreateDisposition: FILE_OPEN,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    await sys.nt.NtClose(h.FileHandle);
  });
  const r = await k.run();
  if (r.stop !== null) throw new Error(r.stop.format());
  return { k, sys, drivers };
}

async function unload(
  w: World,
  which: string,
): Promise<{ stop: KernelStop | null; violations: readonly KernelStop[] }> {
  w.k.PsCreateSystemThread(`unload ${which}`, () => w.sys.io.unloadDriver(w.drivers.get(which) as DRIVER_OBJECT));
  const r = await w.k.run();
  return { stop: r.stop, violations: r.violations };
}

test("every block Upper's code allocated is charged to Upper: its unload stops with 0xC4 / 0x62 and the count", async (t) => {
  const w = await world(false);
  // Lower allocated nothing: its unload is clean.
  const lower = await unload(w, "lower");
  t.is(lower.stop, null);
  const { stop } = await unload(w, "upper");
  if (stop === null) return t.fail("expected a stop at Upper's unload");
  t.is(stop.code, BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION);
  t.is(stop.check, "pool");
  t.is(stop.params[0], BigInt(VERIFIER_C4.UNLOAD_WITH_POOL_ALLOCATED.code));
  t.is(stop.params[1], w.k.addressOf(w.drivers.get("upper") as object), "the driver");
  t.is(stop.params[3], 7n, "Entr, Thrd, Dpc_, Work, Disp, Cmpl, Unld");
  t.regex(stop.reason, /^\\Driver\\Upper unloaded without freeing 7 pool allocations: pool block 'Entr' /);
  const tags = [...stop.reason.matchAll(/pool block '(\w+)'/g)].map((m) => m[1]);
  t.deepEqual(tags.sort(), ["Cmpl", "Disp", "Dpc_", "Entr", "Thrd", "Unld", "Work"]);
  // Each names where it was allocated.
  t.regex(stop.reason, /'Dpc_' \(NonPagedPool, 32 bytes\), allocated on thread "DPC"[^;]*DPC upper dpc/);
  t.regex(stop.reason, /'Cmpl' [^;]*on thread "user"[^;]*completion routine/);
  // The user's block is no driver's: only the kernel-wide leak list has it.
  t.notRegex(stop.reason, /User/);
  t.true(w.k.pool.outstanding().some((l) => l.startsWith("pool block 'User'")));
});

test("blocks freed in DriverUnload: the unload is clean; recorded, the same leak is reported once and the run goes on", async (t) => {
  const clean = await world(true);
  t.deepEqual(await unload(clean, "upper"), { stop: null, violations: [] });
  t.deepEqual(
    clean.k.pool.outstanding().map((l) => l.slice(0, 17)),
    ["pool block 'User'"],
  );
  const rec = await world(false, { pool: "record" });
  const r = await unload(rec, "upper");
  t.is(r.stop, null);
  t.is(r.violations.length, 1);
  t.is(r.violations[0]?.params[0], BigInt(VERIFIER_C4.UNLOAD_WITH_POOL_ALLOCATED.code));
});

test("a DriverEntry that fails must have freed what it allocated: 0xC4 / 0x62 at once, DriverUnload is never called", async (t) => {
  const k = new Kernel();
  const sys = bootIo(k);
  let unloadCalled = false;
  let status = 0;
  k.PsCreateSystemThread("load", async () => {
    const r = await sys.io.IoCreateDriver("\\Driver\\Failing", (d) => {
      d.DriverUnload = () => {
        unloadCalled = true;
      };
      k.ExAllocatePoolWithTag(POOL_TYPE.PagedPool, 100, "Fail");
      return STATUS.STATUS_INSUFFICIENT_RESOURCES;
    });
    status = r.status;
  });
  const r = await k.run();
  t.is(r.stop?.params[0], BigInt(VERIFIER_C4.UNLOAD_WITH_POOL_ALLOCATED.code));
  t.regex(
    r.stop?.reason ?? "",
    /^\\Driver\\Failing unloaded without freeing 1 pool allocation: pool block 'Fail' \(PagedPool, 100 bytes\), allocated on thread "load".*DriverEntry \\Driver\\Failing/,
  );
  t.false(unloadCalled);
  t.is(status, 0, "the stop came before IoCreateDriver returned");
});
