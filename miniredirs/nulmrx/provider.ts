/** nulmrx's network provider: the shared provider bound to \Device\NulMRx and its control codes. */
import type { Emulator } from "../../emulator/boot.js";
import { NetworkProvider } from "../common/provider.js";
import { IOCTL_NULMRX, NULMRX_DEVICE_NAME } from "./nulmrx.js";

export class NulNetworkProvider extends NetworkProvider {
  constructor(em: Emulator) {
    super(em, NULMRX_DEVICE_NAME, IOCTL_NULMRX);
  }
}
