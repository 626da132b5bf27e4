import test from "ava";
import {
  bootIo,
  type DEVICE_OBJECT,
  FILE_DEVICE_UNKNOWN,
  FILE_OPEN,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  IRP_MJ_CREATE,
  IRP_MJ_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { EventType, KEVENT, Kernel, STATUS } from "../../emulator/kernel/index.js";

test("a driver exception under a system service is a kernel-mode stop (0x1E), not the calling program's error", async (t) => {
  const k = new Kernel();
  const sys = bootIo(k);
  k.PsCreateSystemThread("load", async () => {
    await sys.io.IoCreateDriver("\\Driver\\Thrower", (d) => {
      d.MajorFunction[IRP_MJ_CREATE] = (_dev, irp) => {
        irp.IoStatus.Status = STATUS.STATUS_SUCCESS;
        sys.io.IoCompleteRequest(irp);
        return STATUS.STATUS_SUCCESS;
      };
      d.MajorFunction[IRP_MJ_READ] = () => {
        const nothing = null as unknown as { field: number };
        return nothing.field;
      };
      sys.io.IoCreateDevice(d, null, "\\Device\\Thrower", FILE_DEVICE_UNKNOWN);
      return STATUS.STATUS_SUCCESS;
    });
  });
  await k.run();
  k.createThread(k.createProcess("app"), "user", async () => {
    const h = await sys.nt.NtCreateFile({
      ObjectName: "\\Device\\Thrower",
      DesiredAccess: GENERIC_READ | SYNCHRONIZE,
      CreateDisposition: FILE_OPEN,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    await sys.nt.NtReadFile(h.FileHandle, { Length: 4 });
  });
  const r = await k.run();
  t.is(r.stop?.code, 0x1e);
  t.is(r.stop?.params[0], 0xc0000005n);
  t.is(r.threadErrors.length, 0);
  t.true(r.stop?.callChain.includes("NtReadFile"));
});

test("an IRP a DPC sends on without waiting: a stop in the asynchronous dispatch routine is the run's stop, not an unhandled rejection", async (t) => {
  // ava fails the file on an unhandled rejection, so this test also shows that the dropped promise is observed.
  const k = new Kernel();
  const sys = bootIo(k);
  const never = new KEVENT(EventType.NotificationEvent, false, "never signalled");
  let dev: DEVICE_OBJECT | null = null;
  k.PsCreateSystemThread("load", async () => {
    await sys.io.IoCreateDriver("\\Driver\\Waiter", (d) => {
      // Asynchronous, as a driver written with `await` is: it waits, which a routine called at DISPATCH_LEVEL may not.
      d.MajorFunction[IRP_MJ_READ] = async () => await k.KeWaitForSingleObject(never);
      dev = sys.io.IoCreateDevice(d, null, "\\Device\\Waiter", FILE_DEVICE_UNKNOWN).device;
      return STATUS.STATUS_SUCCESS;
    });
  });
  await k.run();
  k.PsCreateSystemThread("sender", async () => {
    const dpc = k.KeInitializeDpc(
      () => {
        const irp = sys.io.IoAllocateIrp(1);
        sys.io.IoGetNextIrpStackLocation(irp).MajorFunction = IRP_MJ_READ;
        void sys.io.IoCallDriver(dev as DEVICE_OBJECT, irp);
      },
      null,
      "forward",
    );
    k.KeInsertQueueDpc(dpc);
  });
  const r = await k.run();
  t.is(r.stop?.name, "IRQL_NOT_LESS_OR_EQUAL");
  t.deepEqual(r.stop?.callChain, ["DPC forward", "IRP_MJ_READ → \\Device\\Waiter"]);
  t.regex(r.stop?.reason ?? "", /KeWaitForSingleObject/);
  await new Promise((resolve) => setImmediate(resolve));
});
