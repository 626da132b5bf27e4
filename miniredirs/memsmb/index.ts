/**
 * memsmb: an in-memory SMB-like server (server/), the network between it and the client (network.ts), the
 * mini-redirector (minirdr.ts) and its network provider. `loadMemSmb` builds the world of servers, the network
 * and the redirector, and runs its DriverEntry.
 */
import type { Emulator } from "../../emulator/boot.js";
import type { DRIVER_OBJECT } from "../../emulator/io/index.js";
import {
  CTL_CODE,
  FILE_ANY_ACCESS,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  METHOD_BUFFERED,
} from "../../emulator/io/index.js";
import type { NTSTATUS } from "../../emulator/kernel/index.js";
import type { ControlCodes } from "../common/control.js";
import { NetworkProvider } from "../common/provider.js";
import { MEMSMB_DEVICE_NAME, type MemSmbRdrOptions, MemSmbRedirector } from "./minirdr.js";
import { type NetworkOptions, SmbNetwork } from "./network.js";
import { MemSmbWorld, type ServerImage } from "./server/index.js";

/** The control plane on \Device\MemSmb (METHOD_BUFFERED, FILE_ANY_ACCESS). */
export const IOCTL_MEMSMB = {
  START: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS),
  STOP: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS),
  ADDCONN: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS),
  DELCONN: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x903, METHOD_BUFFERED, FILE_ANY_ACCESS),
  GETLIST: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x904, METHOD_BUFFERED, FILE_ANY_ACCESS),
  GETCONN: CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x905, METHOD_BUFFERED, FILE_ANY_ACCESS),
} as const satisfies ControlCodes;

/** What memsmb supports (for the conformance suite and `rdbss list`). */
export const MEMSMB_CAPABILITIES = {
  uncPaths: true,
  driveLetters: true,
  credentials: true,
  changeNotifications: true,
  waitingLocks: true,
  delayedClose: true,
  oplocks: false,
  reconnect: false,
} as const;

export interface MemSmbOptions extends MemSmbRdrOptions {
  readonly servers: readonly ServerImage[];
  readonly network?: NetworkOptions;
}

export interface MemSmb {
  readonly world: MemSmbWorld;
  readonly network: SmbNetwork;
  readonly redirector: MemSmbRedirector;
}

/** Build the servers, the network and the redirector; run DriverEntry. Call from an emulated system thread. */
export async function loadMemSmb(
  em: Emulator,
  options: MemSmbOptions,
  redirectorClass: typeof MemSmbRedirector = MemSmbRedirector,
): Promise<{ status: NTSTATUS; memsmb: MemSmb; driver: DRIVER_OBJECT }> {
  const world = new MemSmbWorld();
  for (const image of options.servers) world.add(image);
  const network = new SmbNetwork(em.k, world, options.network ?? {});
  const redirector = new redirectorClass(em.rx, network, IOCTL_MEMSMB, options);
  const { status, driver } = await em.sys.io.IoCreateDriver("\\FileSystem\\MemSmb", (d) => redirector.DriverEntry(d));
  return { status, memsmb: { world, network, redirector }, driver };
}

/** memsmb's network provider: `net use` for \Device\MemSmb. */
export class MemSmbNetworkProvider extends NetworkProvider {
  constructor(em: Emulator, deviceName = MEMSMB_DEVICE_NAME) {
    super(em, deviceName, IOCTL_MEMSMB);
  }
}

export { MEMSMB_DEVICE_NAME, MEMSMB_SRVCALL_TAG, type MemSmbExtensions, MemSmbRedirector } from "./minirdr.js";
export {
  DISCONNECTED,
  type NetworkEvent,
  type NetworkMessage,
  type NetworkOptions,
  SmbConnection,
  SmbNetwork,
} from "./network.js";
export * from "./server/index.js";
