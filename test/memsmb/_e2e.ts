/**
 * Shared fixture of the memsmb end-to-end tests (e2e-*.test.ts): memsmb loaded with a richer world than the
 * conformance target (several users with different permissions, a second server, an IPC$ share), user processes
 * with logon tokens, and the teardown every test ends with. Everything goes through Nt* calls and the network
 * provider; the server model is only read afterwards (stats, audit, fileData). Not a test file (no `.test.ts`).
 *
 * The helpers of the conformance suite (Session, assertClean, settle, is …) are reused from
 * ../conformance/suite.js.
 */
import type { ExecutionContext } from "ava";
import { createEmulator, type Emulator, type EmulatorOptions } from "../../emulator/boot.js";
import { FILE_OPEN_IF, FILE_SYNCHRONOUS_IO_NONALERT, type NtCreateFileResult } from "../../emulator/io/index.js";
import type { KProcess, RunResult } from "../../emulator/kernel/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import {
  IOCTL_MEMSMB,
  loadMemSmb,
  MEMSMB_DEVICE_NAME,
  type MemSmb,
  MemSmbNetworkProvider,
  type NetworkOptions,
  type ServerImage,
} from "../../miniredirs/memsmb/index.js";
import {
  assertClean,
  bootTarget,
  inSystem,
  is,
  type MiniRdrTarget,
  RW_ACCESS,
  Session,
  SHARE_ALL,
} from "../conformance/suite.js";

export const S = STATUS;

/** Users of server "srv": password is `<name>-pw`. */
export const PASSWORDS: Readonly<Record<string, string>> = {
  alice: "alice-pw",
  bob: "bob-pw",
  carol: "carol-pw",
  dave: "dave-pw",
  erin: "erin-pw",
};

/**
 * \\srv: docs (alice full, bob read, carol none), secret (alice only), pub (everyone change), IPC$.
 * \\srv2: music (dave full, erin read) — dave and erin are not users of \\srv, alice and bob not of \\srv2.
 */
export function worldImages(): ServerImage[] {
  return [
    {
      name: "srv",
      users: ["alice", "bob", "carol"].map((name) => ({ name, password: PASSWORDS[name] as string })),
      shares: [
        {
          name: "docs",
          permissions: { alice: "full", bob: "read" },
          files: [
            { path: "\\readme.txt", data: "hello from docs" },
            { path: "\\sub\\deep.txt", data: "deep" },
          ],
        },
        { name: "secret", permissions: { alice: "full" }, files: [{ path: "\\x.txt", data: "top secret" }] },
        { name: "pub", permissions: { "*": "change" } },
        { name: "IPC$", permissions: { "*": "read" } },
      ],
    },
    {
      name: "srv2",
      users: ["dave", "erin"].map((name) => ({ name, password: PASSWORDS[name] as string })),
      shares: [
        { name: "music", permissions: { dave: "full", erin: "read" }, files: [{ path: "\\song.txt", data: "la" }] },
      ],
    },
  ];
}

export interface E2EOptions extends EmulatorOptions {
  readonly servers?: ServerImage[];
  readonly network?: NetworkOptions;
  readonly closeDelayedFiles?: number;
}

export interface E2E {
  readonly em: Emulator;
  readonly s: Session;
  readonly memsmb: MemSmb;
  /** The network provider with `list()` (Session.np has only the conformance suite's subset). */
  readonly np: MemSmbNetworkProvider;
}

/** The memsmb each emulator loaded (the target's `load` only returns a status). */
const loaded = new WeakMap<Emulator, MemSmb>();

/** A conformance-style target for this world (the suite's bootTarget / Session work with it). */
export function e2eTarget(o: E2EOptions = {}): MiniRdrTarget {
  return {
    name: "memsmb-e2e",
    deviceName: MEMSMB_DEVICE_NAME,
    queryIoctl: { code: IOCTL_MEMSMB.GETLIST, outputLength: 26 },
    createEmulator: (options) => createEmulator(options),
    load: async (em) => {
      const r = await loadMemSmb(em, {
        servers: o.servers ?? worldImages(),
        ...(o.network ? { network: o.network } : {}),
        ...(o.closeDelayedFiles !== undefined ? { closeDelayedFiles: o.closeDelayedFiles } : {}),
      });
      loaded.set(em, r.memsmb);
      return r.status;
    },
    provider: (em) => new MemSmbNetworkProvider(em),
    remote: "\\\\srv\\docs",
    otherRemote: "\\\\srv\\pub",
    badRemote: "\\\\srv\\nosuch",
    features: { notify: true, delayedClose: true, locks: true, dotEntries: true },
  };
}

/** Boot an emulator, load memsmb with the e2e world (nothing started yet). */
export async function boot(o: E2EOptions = {}): Promise<E2E> {
  const target = e2eTarget(o);
  const { em, dev } = await bootTarget(target, o);
  const memsmb = loaded.get(em);
  if (!memsmb) throw new Error("memsmb was not loaded");
  return { em, s: new Session(em, target, dev), memsmb, np: new MemSmbNetworkProvider(em) };
}

/** A process logged on as `user` (token with the user's password, LogonId "<user>-logon"). */
export function userProcess(em: Emulator, user: string, password = PASSWORDS[user] ?? ""): KProcess {
  return em.k.createProcess(`${user}.exe`, {
    UserName: user,
    Password: password,
    LogonId: `${user}-logon`,
    SessionId: 1,
  });
}

/** Run threads (each in its process) until the system is idle. */
export async function runThreads(
  e: E2E,
  threads: readonly { readonly process: KProcess; readonly name: string; readonly body: () => Promise<void> }[],
): Promise<RunResult> {
  for (const th of threads) e.em.k.createThread(th.process, th.name, th.body);
  return e.em.k.run();
}

/** Run one body as `user` (a fresh process of that user). */
export function runAs(e: E2E, user: string, body: (s: Session) => Promise<void>): Promise<RunResult> {
  return runThreads(e, [{ process: userProcess(e.em, user), name: user, body: () => body(e.s) }]);
}

/** NtCreateFile on any object name (UNC paths: "\??\UNC\srv\docs\x"). */
export function openName(
  s: Session,
  objectName: string,
  o: { access?: number; share?: number; disposition?: number; options?: number; sync?: boolean } = {},
): Promise<NtCreateFileResult> {
  return s.nt.NtCreateFile({
    ObjectName: objectName,
    DesiredAccess: o.access ?? RW_ACCESS,
    ShareAccess: o.share ?? SHARE_ALL,
    CreateDisposition: o.disposition ?? FILE_OPEN_IF,
    CreateOptions: (o.options ?? 0) | ((o.sync ?? true) ? FILE_SYNCHRONOUS_IO_NONALERT : 0),
  });
}

export const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

/** The server-side content of a file (null when missing). */
export function serverText(e: E2E, server: string, share: string, path: string): string | null {
  return text(e.memsmb.world.get(server)?.fileData(share, path) ?? null);
}

/** The server's counters and audit, for assertions that it is idle. */
export function serverState(e: E2E, server = "srv") {
  const srv = e.memsmb.world.get(server);
  if (!srv) throw new Error(`no server ${server}`);
  return { ...srv.stats, audit: srv.audit() };
}

export const IDLE_SERVER = { sessions: 0, trees: 0, opens: 0, pendingNotifies: 0, pendingLocks: 0, audit: [] };

/**
 * The end of every test: delete whatever drive letters are left (force TRUE; each from a process of the logon
 * that made it, as `net use /delete` is: DELCONN's tree-connect open must find that logon's V_NET_ROOT), let the
 * scavenger close dormant files and finalize unreferenced connections (11 virtual seconds), STOP the redirector
 * and unload it. Asserts that each step worked, that RDBSS has nothing alive and no active RX_CONTEXT, and that
 * every server is back to zero sessions / trees / opens / pending requests with a clean audit.
 */
export async function finish(t: ExecutionContext, e: E2E): Promise<void> {
  const { em, s } = e;
  let letters: { local: string; remote: string }[] = [];
  const listRun = await runThreads(e, [
    {
      process: em.k.createProcess("net.exe"),
      name: "net use",
      body: async () => {
        letters = await e.np.list();
      },
    },
  ]);
  assertClean(t, listRun);
  for (const c of letters) {
    const letter = c.local.replace(":", "");
    const logon = s.vNetRoot(letter, c.remote)?.LogonId ?? "";
    const user = logon.endsWith("-logon") ? logon.slice(0, -"-logon".length) : null;
    const process = user ? userProcess(em, user) : em.k.createProcess("net.exe");
    const run = await runThreads(e, [
      {
        process,
        name: `net use ${c.local} /delete`,
        body: async () => is(t, await s.np.netUseDelete(letter, 1), S.STATUS_SUCCESS, `net use ${c.local} /delete`),
      },
    ]);
    assertClean(t, run);
  }
  const run = await runThreads(e, [
    {
      process: em.k.createProcess("net.exe"),
      name: "teardown",
      body: async () => {
        await s.delay(11);
        is(t, await s.np.stop(), S.STATUS_SUCCESS, "STOP after everything was closed and deleted");
      },
    },
  ]);
  assertClean(t, run);
  t.deepEqual(s.containers(), [], "connections left in the netname table");
  t.is(s.dev.NumberOfActiveFcbs, 0, "active FCBs left");
  const u = await inSystem(em, () => em.rx.RxUnregisterMinirdr(s.dev));
  assertClean(t, u.run);
  t.deepEqual(u.value, [], "RxUnregisterMinirdr found objects still alive");
  t.deepEqual(
    [...em.rx.live].filter((o) => o.freed === null).map((o) => o.label()),
    [],
    "RDBSS objects never freed",
  );
  t.is(em.rx.ActiveContexts.size, 0, "RX_CONTEXTs still active");
  for (const srv of e.memsmb.world.servers)
    t.deepEqual(serverState(e, srv.name), IDLE_SERVER, `server ${srv.name} is not idle`);
}
