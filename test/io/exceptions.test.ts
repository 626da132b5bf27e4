import test from "ava";
import {
  bootIo,
  FILE_DEVICE_UNKNOWN,
  FILE_OPEN,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  IRP_MJ_CREATE,
  IRP_MJ_READ,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { Kernel, STATUS } from "../../emulator/kernel/index.js";

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
