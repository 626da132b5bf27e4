/** nulmrx: the smallest complete mini-redirector (see nulmrx.ts), its loader and its network provider. */
import type { Emulator } from "../../emulator/boot.js";
import type { DRIVER_OBJECT } from "../../emulator/io/index.js";
import type { NTSTATUS } from "../../emulator/kernel/index.js";
import { NulMrx, type NulMrxOptions } from "./nulmrx.js";

export { IOCTL_NULMRX, NULMRX_DEVICE_NAME, type NulExtensions, NulMrx, type NulMrxOptions } from "./nulmrx.js";
export { NulNetworkProvider } from "./provider.js";
export { matchesTemplate, type NulNode, NulShare } from "./store.js";

/**
 * Load nulmrx (DriverEntry → RxRegisterMinirdr). Call from an emulated system thread. `mrx` loads an instance made
 * elsewhere (a subclass in a test) in place of `new NulMrx(em.rx, options)`.
 */
export async function loadNulMrx(
  em: Emulator,
  options: NulMrxOptions = {},
  mrx: NulMrx = new NulMrx(em.rx, options),
): Promise<{ status: NTSTATUS; mrx: NulMrx; driver: DRIVER_OBJECT }> {
  const { status, driver } = await em.sys.io.IoCreateDriver("\\FileSystem\\NulMRx", (d) => mrx.DriverEntry(d));
  return { status, mrx, driver };
}
