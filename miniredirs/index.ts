/**
 * The built-in mini-redirectors as loadable modules: what a scenario names in `setup.minirdr`, what `rdbss list`
 * prints, and the shape a user's own mini-redirector module exports to run under scenarios (see
 * docs/WRITING-A-MINIRDR.md, §12 "Loading and running it").
 */
import type { Emulator } from "../emulator/boot.js";
import type { DRIVER_OBJECT } from "../emulator/io/index.js";
import type { NTSTATUS } from "../emulator/kernel/index.js";
import type { ControlCodes } from "./common/control.js";
import type { NetworkProvider } from "./common/provider.js";
import {
  IOCTL_MEMSMB,
  loadMemSmb,
  MEMSMB_CAPABILITIES,
  MEMSMB_DEVICE_NAME,
  MemSmbNetworkProvider,
  MemSmbRedirector,
  type NetworkOptions,
  type ServerImage,
} from "./memsmb/index.js";
import { IOCTL_NULMRX, loadNulMrx, NULMRX_DEVICE_NAME, NulMrx, NulNetworkProvider } from "./nulmrx/index.js";

/** What a scenario's setup hands to a module's `load`. */
export interface MiniRdrSetup {
  /** Server images (modules with `usesServers`). */
  readonly servers?: readonly ServerImage[];
  /** Network options (latency, jitter, drops) for modules with a network. */
  readonly network?: NetworkOptions;
  /** Module-specific options, passed through as written in the scenario. */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** A loaded mini-redirector: its driver, its network provider and what the runner asks of its backend. */
export interface LoadedMiniRdr {
  /** DriverEntry's status. */
  readonly status: NTSTATUS;
  readonly driver: DRIVER_OBJECT;
  /** `net use` for this redirector (START, STOP, ADDCONN, DELCONN, GETLIST, GETCONN on its device). */
  readonly provider: NetworkProvider;
  /** What RxUnregisterMinirdr found still alive at unload; null before the driver is unloaded. */
  leftAtUnload(): readonly string[] | null;
  /** Backend state still held (server sessions, tree connects, opens, pending requests): leaks once torn down. */
  backendLeaks(): string[];
  /** Fault injection: drop every transport connection (to one server, or all). Returns how many were dropped. */
  dropConnections?(server?: string): number;
  /** The backend itself (memsmb: { world, network, redirector }), for tests. */
  readonly backend: unknown;
}

/** A mini-redirector a scenario can load: the built-ins below, or a user's module exporting one of these. */
export interface MiniRdrModule {
  readonly name: string;
  readonly description: string;
  /** "\Device\MemSmb" */
  readonly deviceName: string;
  /** The control-plane IOCTLs (START … GETCONN) plus any others the module answers, by name. */
  readonly ioctls: ControlCodes & Readonly<Record<string, number>>;
  readonly capabilities: Readonly<Record<string, boolean>>;
  /** Whether `setup.servers` means something to it. */
  readonly usesServers: boolean;
  /** Load it: DriverEntry → RxRegisterMinirdr. Runs on an emulated system thread. */
  load(em: Emulator, setup: MiniRdrSetup): Promise<LoadedMiniRdr>;
}

/** The server image a memsmb scenario gets when it declares none. */
export const DEFAULT_SERVER: ServerImage = {
  name: "srv",
  users: [
    { name: "guest", password: "" },
    { name: "alice", password: "secret" },
    { name: "bob", password: "hunter2" },
  ],
  shares: [
    { name: "share", permissions: { "*": "full" } },
    { name: "public", permissions: { "*": "read", alice: "full" } },
  ],
};

export const memsmbModule: MiniRdrModule = {
  name: "memsmb",
  description:
    "An SMB-like redirector over a virtual network to in-memory servers: users, shares, share access, locks, change notifications (no oplocks, no reconnect; write-through).",
  deviceName: MEMSMB_DEVICE_NAME,
  ioctls: IOCTL_MEMSMB,
  capabilities: MEMSMB_CAPABILITIES,
  usesServers: true,
  load: (em, setup) => loadMemSmbModule(em, setup),
};

/**
 * memsmb's `load`, with the redirector of a given class (MemSmbRedirector or a subclass, as a test's variant of
 * memsmb has): the servers, the network, the driver loaded, its provider, its leak hooks.
 */
export async function loadMemSmbModule(
  em: Emulator,
  setup: MiniRdrSetup,
  redirectorClass: typeof MemSmbRedirector = MemSmbRedirector,
): Promise<LoadedMiniRdr> {
  const closeDelayedFiles = setup.options?.closeDelayedFiles;
  const options = {
    servers: setup.servers && setup.servers.length > 0 ? setup.servers : [DEFAULT_SERVER],
    ...(setup.network ? { network: setup.network } : {}),
    ...(typeof closeDelayedFiles === "number" ? { closeDelayedFiles } : {}),
  };
  const { status, driver, memsmb } = await loadMemSmb(em, options, redirectorClass);
  const { world, network, redirector } = memsmb;
  return {
    status,
    driver,
    provider: new MemSmbNetworkProvider(em),
    leftAtUnload: () => redirector.leftAtUnload,
    backendLeaks: () => {
      const out: string[] = [];
      for (const s of world.servers) {
        for (const [k, v] of Object.entries(s.stats)) if (v !== 0) out.push(`server \\\\${s.name}: ${v} ${k}`);
        for (const p of s.audit()) out.push(`server \\\\${s.name}: ${p}`);
      }
      return out;
    },
    dropConnections: (server) => network.dropConnections(server),
    backend: memsmb,
  };
}

export const nulmrxModule: MiniRdrModule = {
  name: "nulmrx",
  description:
    "The smallest complete mini-redirector (after the WDK's nulmrx sample): an in-memory store per share, no network, no users.",
  deviceName: NULMRX_DEVICE_NAME,
  ioctls: IOCTL_NULMRX,
  capabilities: {
    uncPaths: false,
    driveLetters: true,
    credentials: false,
    changeNotifications: true,
    waitingLocks: true,
    delayedClose: true,
    oplocks: false,
    reconnect: false,
  },
  usesServers: false,
  load(em, setup) {
    const o = setup.options ?? {};
    return loadNulMrxModule(
      em,
      new NulMrx(em.rx, {
        ...(Array.isArray(o.shares) ? { shares: o.shares.map(String) } : {}),
        ...(typeof o.closeDelayedFiles === "number" ? { closeDelayedFiles: o.closeDelayedFiles } : {}),
        ...(typeof o.dpcLatency === "number" ? { dpcLatency: o.dpcLatency } : {}),
        ...(typeof o.canCompleteAtDpcLevel === "boolean" ? { canCompleteAtDpcLevel: o.canCompleteAtDpcLevel } : {}),
      }),
    );
  },
};

/** nulmrx's `load` for a given instance (NulMrx or a subclass): the driver loaded, its provider, its leak hooks. */
export async function loadNulMrxModule(em: Emulator, mrx: NulMrx): Promise<LoadedMiniRdr> {
  const { status, driver } = await loadNulMrx(em, {}, mrx);
  return {
    status,
    driver,
    provider: new NulNetworkProvider(em),
    leftAtUnload: () => mrx.leftAtUnload,
    backendLeaks: () => [],
    backend: mrx,
  };
}

/** The built-in modules by name. */
export const BUILTIN_MINIRDRS: Readonly<Record<string, MiniRdrModule>> = {
  memsmb: memsmbModule,
  nulmrx: nulmrxModule,
};

/** Whether a value looks like a MiniRdrModule (for modules loaded from a user's path). */
export function isMiniRdrModule(x: unknown): x is MiniRdrModule {
  if (typeof x !== "object" || x === null) return false;
  const m = x as Record<string, unknown>;
  return (
    typeof m.name === "string" &&
    typeof m.deviceName === "string" &&
    typeof m.load === "function" &&
    typeof m.ioctls === "object" &&
    m.ioctls !== null
  );
}

export type { ControlCodes } from "./common/control.js";
export { NetworkProvider } from "./common/provider.js";
