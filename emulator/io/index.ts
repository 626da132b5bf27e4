/**
 * The I/O manager room: object namespace, drivers and device stacks, IRPs, file objects and handles, the Nt*
 * system services, and MUP. `bootIo(kernel)` builds all of it; call `await io.mup.start()` from a system thread
 * (or use the emulator's boot helper).
 */
import type { Kernel } from "../kernel/index.js";
import { IoManager } from "./iomgr.js";
import { Mup } from "./mup.js";
import { SystemServices } from "./nt.js";

export * from "./constants.js";
export * from "./fileinfo.js";
export { IO_CHECKS, IO_DDIS, IoManager, type NamespaceEntry } from "./iomgr.js";
export * from "./irp.js";
export { Mup, type UncProvider } from "./mup.js";
export {
  type CallOptions,
  type HandleEntry,
  HandleTable,
  type IoControlArgs,
  IoRequest,
  type IoResult,
  KERNEL_HANDLE_FLAG,
  NT_SERVICES,
  type NtCreateFileArgs,
  type NtCreateFileResult,
  type ReadWriteArgs,
  SystemServices,
} from "./nt.js";
export { DEVICE_OBJECT, DRIVER_OBJECT, FILE_OBJECT, IRP_MJ_COUNT, SHARE_ACCESS } from "./objects.js";

export interface IoSystem {
  readonly io: IoManager;
  readonly nt: SystemServices;
  readonly mup: Mup;
}

/** Build the I/O manager, the system services and MUP over a kernel. */
export function bootIo(kernel: Kernel): IoSystem {
  const io = new IoManager(kernel);
  return { io, nt: new SystemServices(io), mup: new Mup(io) };
}
