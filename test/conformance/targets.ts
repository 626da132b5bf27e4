/**
 * Conformance targets beyond nulmrx (which suite.ts defines): memsmb with a server image that has the shares and
 * users the suite expects (a guest for default credentials, alice / secret for explicit ones).
 */
import { createEmulator } from "../../emulator/boot.js";
import {
  IOCTL_MEMSMB,
  loadMemSmb,
  MEMSMB_DEVICE_NAME,
  MemSmbNetworkProvider,
  type ServerImage,
} from "../../miniredirs/memsmb/index.js";
import type { MiniRdrTarget } from "./suite.js";

export const conformanceServer: ServerImage = {
  name: "srv",
  users: [
    { name: "guest", password: "" },
    { name: "alice", password: "secret" },
  ],
  shares: [
    { name: "share", permissions: { "*": "full" } },
    { name: "public", permissions: { "*": "full" } },
  ],
};

export const memsmbTarget: MiniRdrTarget = {
  name: "memsmb",
  deviceName: MEMSMB_DEVICE_NAME,
  queryIoctl: { code: IOCTL_MEMSMB.GETLIST, outputLength: 26 },
  createEmulator: (options) => createEmulator(options),
  load: async (em) => (await loadMemSmb(em, { servers: [conformanceServer] })).status,
  provider: (em) => new MemSmbNetworkProvider(em),
  remote: "\\\\srv\\share",
  otherRemote: "\\\\srv\\public",
  badRemote: "\\\\srv\\nosuch",
  features: { notify: true, delayedClose: true, locks: true, dotEntries: true },
};
