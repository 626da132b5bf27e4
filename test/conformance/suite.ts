/**
 * Shared helpers of the end-to-end tests: RDBSS and a mini-redirector driven only through the Nt* system calls,
 * the way a user program and its network provider drive them. Not a test file itself (ava runs `*.test.ts`).
 *
 * The suites (`filesSuite`, `notifySuite`, `connectionSuite`, `delayedCloseSuite`, `startStopSuite`,
 * `determinismSuite`, or `conformanceSuite` for all of them) are written against a `MiniRdrTarget`, so any
 * mini-redirector with a network provider of the same shape (START / STOP / net use / net use /delete) can run
 * them: test/conformance/<name>.test.ts runs them against each mini-redirector with
 * `conformanceSuite(test, memsmbTarget)`.
 *
 * Conventions:
 * - a scenario boots an emulator, loads the mini-redirector from a system thread, then runs the body on a user
 *   thread of "app.exe"; by default the body starts with the redirector started and `N:` connected to
 *   `target.remote`;
 * - file names given to `Session.open` are relative to the share ("\dir\file"); they are opened as
 *   `\??\N:\dir\file`;
 * - assertions compare status names (`statusName`) so a failure reads "STATUS_SHARING_VIOLATION" rather than a
 *   negative number; nothing asserts wall-clock time: the scavenger is driven by virtual time
 *   (`Session.delay`).
 */
import type { ExecutionContext, TestFn } from "ava";
import {
  bootEmulator,
  createEmulator,
  type Emulator,
  type EmulatorOptions,
  inSystemThread,
} from "../../emulator/boot.js";
import {
  DELETE,
  decodeDirectoryEntries,
  decodeFileInformation,
  decodeFsInformation,
  decodeNotifyRecords,
  encodeFileInformation,
  FILE_ACTION,
  FILE_ATTRIBUTE,
  FILE_CREATE,
  FILE_CREATE_TREE_CONNECTION,
  FILE_CREATED,
  FILE_DELETE_ON_CLOSE,
  FILE_DIRECTORY_FILE,
  FILE_INFORMATION_CLASS,
  FILE_LIST_DIRECTORY,
  FILE_NON_DIRECTORY_FILE,
  FILE_NOTIFY_CHANGE,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OPENED,
  FILE_OVERWRITE,
  FILE_OVERWRITE_IF,
  FILE_OVERWRITTEN,
  FILE_READ_ATTRIBUTES,
  FILE_REMOTE_DEVICE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_SUPERSEDE,
  FILE_SUPERSEDED,
  FILE_SYNCHRONOUS_IO_NONALERT,
  type FileStandardInformation,
  FS_INFORMATION_CLASS,
  GENERIC_READ,
  GENERIC_WRITE,
  type IoRequest,
  type IoResult,
  isDecodeError,
  type NtCreateFileResult,
  SYNCHRONIZE,
  type SystemServices,
} from "../../emulator/io/index.js";
import { NT_SUCCESS, type NTSTATUS, type RunResult, STATUS, statusName } from "../../emulator/kernel/index.js";
import {
  FCB,
  FOBX,
  NET_ROOT,
  type RDBSS_DEVICE_OBJECT,
  RdbssState,
  type RX_FCB_TABLE,
  SRVOPEN_FLAG,
  V_NET_ROOT,
} from "../../emulator/rdbss/index.js";
import { IOCTL_NULMRX, loadNulMrx, NULMRX_DEVICE_NAME, NulNetworkProvider } from "../../miniredirs/nulmrx/index.js";

const S = STATUS;
const FIC = FILE_INFORMATION_CLASS;

// ================================================================== the target

/**
 * What the suites need from a mini-redirector's user-mode network provider; the shared provider of
 * miniredirs/common/provider.ts (NulNetworkProvider, MemSmbNetworkProvider) has this shape.
 */
export interface NetUseProvider {
  start(): Promise<NTSTATUS>;
  stop(): Promise<NTSTATUS>;
  /** net use X: \\server\share [/user:u password] */
  netUse(letter: string, remote: string, user?: string, password?: string): Promise<NTSTATUS>;
  /** net use X: /delete — force 0 (FALSE), 1 (TRUE) or 0xff. */
  netUseDelete(letter: string, force: number): Promise<NTSTATUS>;
}

/** A mini-redirector under test. */
export interface MiniRdrTarget {
  /** For test titles: "nulmrx". */
  readonly name: string;
  /** Its device, "\Device\NulMRx". */
  readonly deviceName: string;
  /** An IOCTL on the device that only reads state and works before START (nulmrx: GETLIST). */
  readonly queryIoctl: { readonly code: number; readonly outputLength: number };
  readonly createEmulator: (options: EmulatorOptions) => Emulator;
  /** Load it (DriverEntry → RxRegisterMinirdr); called on a system thread. */
  readonly load: (em: Emulator) => Promise<NTSTATUS>;
  readonly provider: (em: Emulator) => NetUseProvider;
  /** A share the server has, "\\srv\share". */
  readonly remote: string;
  /** Another share of the same server, "\\srv\public". */
  readonly otherRemote: string;
  /** A share the server does not have (net use fails with STATUS_BAD_NETWORK_NAME). */
  readonly badRemote: string;
  readonly features: {
    /** LOWIO_OP_NOTIFY_CHANGE_DIRECTORY pends and completes on changes. */
    readonly notify: boolean;
    /** SRV_CALL.MaximumNumberOfCloseDelayedFiles > 1: closed files stay dormant until scavenged. */
    readonly delayedClose: boolean;
    /** Byte-range locks through LowIo. */
    readonly locks: boolean;
    /** Directory queries of a subdirectory return "." and ".." first, as SMB servers and NTFS do. */
    readonly dotEntries?: boolean;
  };
}

export const nulmrxTarget: MiniRdrTarget = {
  name: "nulmrx",
  deviceName: NULMRX_DEVICE_NAME,
  queryIoctl: { code: IOCTL_NULMRX.GETLIST, outputLength: 26 },
  createEmulator: (options) => createEmulator(options),
  load: async (em) => (await loadNulMrx(em)).status,
  provider: (em) => new NulNetworkProvider(em),
  remote: "\\\\srv\\share",
  otherRemote: "\\\\srv\\public",
  badRemote: "\\\\srv\\nosuch",
  features: { notify: true, delayedClose: true, locks: true },
};

// ================================================================== scenarios

export interface OpenOptions {
  readonly access?: number;
  readonly share?: number;
  readonly disposition?: number;
  readonly options?: number;
  readonly attributes?: number;
  /** Synchronous file object (FILE_SYNCHRONOUS_IO_NONALERT); default true. Asynchronous calls return an IoRequest. */
  readonly sync?: boolean;
  /** Drive letter (default "N"). */
  readonly drive?: string;
}

/** Default access of `Session.open`: read, write, delete, synchronize. */
export const RW_ACCESS = GENERIC_READ | GENERIC_WRITE | DELETE | SYNCHRONIZE;
export const SHARE_ALL = 7;

/** What a scenario body gets: the emulator, the services, the provider and the mini-redirector's RDBSS device. */
export class Session {
  readonly em: Emulator;
  readonly nt: SystemServices;
  readonly np: NetUseProvider;
  readonly target: MiniRdrTarget;
  readonly dev: RDBSS_DEVICE_OBJECT;

  constructor(em: Emulator, target: MiniRdrTarget, dev: RDBSS_DEVICE_OBJECT) {
    this.em = em;
    this.nt = em.sys.nt;
    this.np = target.provider(em);
    this.target = target;
    this.dev = dev;
  }

  /** NtCreateFile on `\??\N:<name>` (name relative to the share). */
  open(name: string, o: OpenOptions = {}): Promise<NtCreateFileResult> {
    const sync = o.sync ?? true;
    return this.nt.NtCreateFile({
      ObjectName: `\\??\\${o.drive ?? "N"}:${name}`,
      DesiredAccess: o.access ?? RW_ACCESS,
      ShareAccess: o.share ?? SHARE_ALL,
      CreateDisposition: o.disposition ?? FILE_OPEN_IF,
      CreateOptions: (o.options ?? 0) | (sync ? FILE_SYNCHRONOUS_IO_NONALERT : 0),
      ...(o.attributes !== undefined ? { FileAttributes: o.attributes } : {}),
    });
  }

  /** Open or create a directory (FILE_DIRECTORY_FILE). */
  openDir(name: string, o: OpenOptions = {}): Promise<NtCreateFileResult> {
    return this.open(name, {
      access: GENERIC_READ | FILE_LIST_DIRECTORY | DELETE | SYNCHRONIZE,
      ...o,
      options: (o.options ?? 0) | FILE_DIRECTORY_FILE,
    });
  }

  /** Open a path that must open; throws (a thread error) otherwise. */
  async mustOpen(name: string, o: OpenOptions = {}): Promise<number> {
    const r = await this.open(name, o);
    if (!NT_SUCCESS(r.Status)) throw new Error(`open ${name}: ${statusName(r.Status)}`);
    return r.FileHandle;
  }

  /** Create (or overwrite) a file with this content and close it. */
  async createFile(name: string, content = ""): Promise<void> {
    const h = await this.mustOpen(name, { disposition: FILE_OVERWRITE_IF });
    if (content.length > 0) {
      const w = await this.write(h, content, 0);
      if (w.Status !== S.STATUS_SUCCESS) throw new Error(`write ${name}: ${statusName(w.Status)}`);
    }
    await this.nt.NtClose(h);
  }

  /** Create a directory and close it. */
  async mkdir(name: string): Promise<void> {
    const r = await this.openDir(name, { disposition: FILE_CREATE });
    if (!NT_SUCCESS(r.Status)) throw new Error(`mkdir ${name}: ${statusName(r.Status)}`);
    await this.nt.NtClose(r.FileHandle);
  }

  write(h: number, data: string | Uint8Array, offset?: number): Promise<IoResult> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    return this.nt.NtWriteFile(h, { Buffer: bytes, ...(offset !== undefined ? { ByteOffset: offset } : {}) });
  }

  /** Read `length` bytes; `text` is what came back, decoded. */
  async read(
    h: number,
    length: number,
    offset?: number,
  ): Promise<{ Status: NTSTATUS; Information: number; text: string }> {
    const r = await this.nt.NtReadFile(h, {
      Buffer: new Uint8Array(length),
      ...(offset !== undefined ? { ByteOffset: offset } : {}),
    });
    return { Status: r.Status, Information: r.Information, text: dec.decode(r.Buffer.subarray(0, r.Information)) };
  }

  /** The whole content of a file by name (opens, reads, closes), or null when it cannot be opened. */
  async contentOf(name: string): Promise<string | null> {
    const r = await this.open(name, { disposition: FILE_OPEN, access: GENERIC_READ | SYNCHRONIZE });
    if (!NT_SUCCESS(r.Status)) return null;
    const d = await this.read(r.FileHandle, 4096, 0);
    await this.nt.NtClose(r.FileHandle);
    return d.Status === S.STATUS_END_OF_FILE ? "" : d.text;
  }

  /** Whether a name exists (an open with FILE_OPEN succeeds). */
  async exists(name: string): Promise<boolean> {
    const r = await this.open(name, { disposition: FILE_OPEN, access: SYNCHRONIZE | FILE_READ_ATTRIBUTES });
    if (NT_SUCCESS(r.Status)) await this.nt.NtClose(r.FileHandle);
    return NT_SUCCESS(r.Status);
  }

  async queryStandard(h: number): Promise<FileStandardInformation | NTSTATUS> {
    const r = await this.nt.NtQueryInformationFile(h, {
      FileInformationClass: FIC.FileStandardInformation,
      Length: 24,
    });
    if (r.Status !== S.STATUS_SUCCESS) return r.Status;
    const v = decodeFileInformation(FIC.FileStandardInformation, r.Buffer, r.Information);
    if (isDecodeError(v)) throw new Error(v.error);
    return v;
  }

  /** Names in a directory (FileNamesInformation, one query from the start with RestartScan). */
  async list(dir: string, pattern?: string): Promise<string[] | NTSTATUS> {
    const d = await this.openDir(dir, { disposition: FILE_OPEN });
    if (!NT_SUCCESS(d.Status)) return d.Status;
    const q = await this.nt.NtQueryDirectoryFile(d.FileHandle, {
      FileInformationClass: FIC.FileNamesInformation,
      Length: 8192,
      RestartScan: true,
      ...(pattern !== undefined ? { FileName: pattern } : {}),
    });
    await this.nt.NtClose(d.FileHandle);
    if (q.Status === S.STATUS_NO_SUCH_FILE || q.Status === S.STATUS_NO_MORE_FILES) return [];
    if (!NT_SUCCESS(q.Status)) return q.Status;
    return decodeDirectoryEntries(FIC.FileNamesInformation, q.Buffer, q.Information).map((e) => e.fileName);
  }

  setInformation(h: number, cls: number, buffer: Uint8Array): Promise<IoResult> {
    return this.nt.NtSetInformationFile(h, { FileInformationClass: cls, Buffer: buffer });
  }

  setEndOfFile(h: number, endOfFile: number): Promise<IoResult> {
    const b = new Uint8Array(8);
    encodeFileInformation(FIC.FileEndOfFileInformation, { endOfFile }, b);
    return this.setInformation(h, FIC.FileEndOfFileInformation, b);
  }

  setDisposition(h: number, deleteFile: boolean): Promise<IoResult> {
    const b = new Uint8Array(1);
    encodeFileInformation(FIC.FileDispositionInformation, { deleteFile }, b);
    return this.setInformation(h, FIC.FileDispositionInformation, b);
  }

  /** FileRenameInformation with a share-relative target ("\new.txt"). */
  rename(h: number, fileName: string, replaceIfExists: boolean): Promise<IoResult> {
    const b = new Uint8Array(24 + fileName.length * 2);
    const r = encodeFileInformation(FIC.FileRenameInformation, { replaceIfExists, rootDirectory: 0, fileName }, b);
    return this.setInformation(h, FIC.FileRenameInformation, b.subarray(0, Math.max(24, r.bytesWritten)));
  }

  /** Sleep on this thread for `seconds` of virtual time (timers, the scavenger, fire meanwhile). */
  async delay(seconds: number): Promise<void> {
    await this.em.k.KeDelayExecutionThread(-Math.round(seconds * 10_000_000));
  }

  /**
   * Let queued work run (posted requests, RDBSS's delayed workers: MRxFinalizeSrvCall is posted when the
   * SRV_CALL is finalized outside the RDBSS process, and a transport may need a round trip) by sleeping 100
   * virtual milliseconds — far below the scavenger's 10 s.
   */
  settle(): Promise<void> {
    return this.delay(0.1);
  }

  /** How many times RDBSS called an MRx entry of this device. */
  calls(name: string): number {
    return this.dev.mrxCalls.get(name) ?? 0;
  }

  /** The FCB and FOBX behind a handle of this process. */
  objectsOf(h: number): { fcb: FCB | null; fobx: FOBX | null; fsContext2: unknown } {
    const e = this.nt.referenceByHandle(h);
    const fo = e?.object;
    return {
      fcb: fo?.FsContext instanceof FCB ? fo.FsContext : null,
      fobx: fo?.FsContext2 instanceof FOBX ? fo.FsContext2 : null,
      fsContext2: fo?.FsContext2 ?? null,
    };
  }

  /** The NET_ROOT of `remote` in the netname table, if any. */
  netRoot(remote = this.target.remote): NET_ROOT | null {
    return netRootOf(this.dev, remote);
  }

  /** The FCB of a share-relative path in the NET_ROOT's FCB table (dormant files included). */
  fcbByPath(path: string, remote = this.target.remote): FCB | null {
    const nr = this.netRoot(remote);
    return nr ? ((nr.FcbTable as RX_FCB_TABLE).lookup(path) ?? null) : null;
  }

  /** The V_NET_ROOT of a drive letter's connection ("\;N:0\srv\share"). */
  vNetRoot(letter = "N", remote = this.target.remote): V_NET_ROOT | null {
    const name = `\\;${letter}:0${remote.replace(/^\\\\/, "\\")}`.toUpperCase();
    for (const c of this.dev.pRxNetNameTable.containers())
      if (c instanceof V_NET_ROOT && c.PrefixName.toUpperCase() === name) return c;
    return null;
  }

  /** Labels of what is in the netname table ("SRV_CALL#1 \srv" …), sorted by kind. */
  containers(): string[] {
    return containerLabels(this.dev);
  }
}

export function netRootOf(dev: RDBSS_DEVICE_OBJECT, remote: string): NET_ROOT | null {
  const name = remote.replace(/^\\\\/, "\\").toUpperCase();
  for (const c of dev.pRxNetNameTable.containers())
    if (c instanceof NET_ROOT && c.pNetRootName.toUpperCase() === name) return c;
  return null;
}

const KIND_ORDER = { SRV_CALL: 0, NET_ROOT: 1, V_NET_ROOT: 2 } as const;
export function containerLabels(dev: RDBSS_DEVICE_OBJECT): string[] {
  return dev.pRxNetNameTable
    .containers()
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.serial - b.serial)
    .map((c) => `${c.kind} ${c.displayName}`);
}

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export interface ScenarioOptions extends EmulatorOptions {
  /** State before the body runs: "loaded", "started" (START sent) or "connected" (and N: → target.remote). */
  readonly setup?: "loaded" | "started" | "connected";
  /** Name of the user process (default "app.exe"). */
  readonly process?: string;
}

export interface Booted {
  readonly em: Emulator;
  readonly dev: RDBSS_DEVICE_OBJECT;
}

/** createEmulator → bootEmulator → load on a system thread. Throws if any step does not end cleanly. */
export async function bootTarget(target: MiniRdrTarget, options: EmulatorOptions = {}): Promise<Booted> {
  const em = target.createEmulator(options);
  const boot = await bootEmulator(em);
  if (boot.outcome !== "idle") throw new Error(`boot: ${boot.stop?.format()}`);
  const load = await inSystemThread(em, `load ${target.name}`, () => target.load(em));
  if (load.run.outcome !== "idle") throw new Error(`load: ${load.run.stop?.format()}`);
  if (load.value !== S.STATUS_SUCCESS) throw new Error(`load: ${statusName(load.value ?? -1)}`);
  const dev = em.rx.devices.find((d) => d.DeviceName === target.deviceName);
  if (!dev) throw new Error(`${target.deviceName} is not registered with RDBSS`);
  return { em, dev };
}

export interface ScenarioResult<T> extends Booted {
  readonly run: RunResult;
  readonly value: T | undefined;
  readonly session: Session;
}

/**
 * Boot, load, and run `body` on a user thread (after the setup: by default START and `net use N:`); resolves
 * after the kernel has run to idle (or stopped). Errors thrown by the body land in `run.threadErrors`.
 */
export async function scenario<T>(
  target: MiniRdrTarget,
  body: (s: Session) => Promise<T>,
  options: ScenarioOptions = {},
): Promise<ScenarioResult<T>> {
  const { em, dev } = await bootTarget(target, options);
  const session = new Session(em, target, dev);
  const value = await runApp(session, body, options);
  return { em, dev, session, run: value.run, value: value.value };
}

/** Run one more user thread on an already booted session (its own setup is applied first). */
export async function runApp<T>(
  s: Session,
  body: (s: Session) => Promise<T>,
  options: Pick<ScenarioOptions, "setup" | "process"> = {},
): Promise<{ run: RunResult; value: T | undefined }> {
  let value: T | undefined;
  const setup = options.setup ?? "connected";
  s.em.k.createThread(s.em.k.createProcess(options.process ?? "app.exe"), "app", async () => {
    if (setup !== "loaded") {
      const st = await s.np.start();
      if (st !== S.STATUS_SUCCESS) throw new Error(`setup: START returned ${statusName(st)}`);
    }
    if (setup === "connected") {
      const st = await s.np.netUse("N", s.target.remote);
      if (st !== S.STATUS_SUCCESS) throw new Error(`setup: net use N: returned ${statusName(st)}`);
    }
    value = await body(s);
  });
  const run = await s.em.k.run();
  return { run, value };
}

/** Run `fn` on a system thread of an already booted emulator. */
export async function inSystem<T>(
  em: Emulator,
  fn: () => Promise<T>,
): Promise<{ run: RunResult; value: T | undefined }> {
  return inSystemThread(em, "test system thread", fn);
}

// ================================================================== assertions

/** The run ended idle, without a stop, a recorded violation or an exception in a test thread. */
export function assertClean(t: ExecutionContext, run: RunResult): void {
  t.is(run.stop?.format() ?? null, null, "the run stopped");
  t.deepEqual(
    run.violations.map((v) => v.format()),
    [],
    "violations were recorded",
  );
  t.deepEqual(
    run.threadErrors.map(
      (e) => `${e.thread}: ${e.error instanceof Error ? (e.error.stack ?? e.error.message) : String(e.error)}`,
    ),
    [],
    "a test thread threw",
  );
  t.is(run.outcome, "idle");
  t.is(run.stop, null);
  t.is(run.violations.length, 0);
}

/** Compare statuses by name. */
export function is(t: ExecutionContext, actual: NTSTATUS, expected: NTSTATUS, message?: string): void {
  t.is(statusName(actual), statusName(expected), message);
}

/** The MRx calls of a device in order, restricted to `names`. */
export function mrxSequence(em: Emulator, names: readonly string[], device?: string): string[] {
  return em.rx.mrxLog
    .filter((r) => names.includes(r.name) && (device === undefined || r.device === device))
    .map((r) => r.name);
}

/** Wait for an asynchronous request and return its final status block. */
export async function settle(req: IoRequest | null): Promise<{ Status: NTSTATUS; Information: number }> {
  if (!req) throw new Error("no request");
  const b = await req.wait();
  if (!b) throw new Error("request did not complete");
  return { Status: b.Status, Information: b.Information };
}

// ================================================================== suite: files

/** Opens, data, information, rename, delete, directories, volume, locks, flush. */
export function filesSuite(test: TestFn, target: MiniRdrTarget): void {
  const title = (s: string): string => `${target.name}: ${s}`;

  test(title("create: the six dispositions and their Information values"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      // Missing file: FILE_OPEN and FILE_OVERWRITE fail, the others create.
      is(t, (await s.open("\\d.txt", { disposition: FILE_OPEN })).Status, S.STATUS_OBJECT_NAME_NOT_FOUND);
      is(t, (await s.open("\\d.txt", { disposition: FILE_OVERWRITE })).Status, S.STATUS_OBJECT_NAME_NOT_FOUND);
      is(t, (await s.open("\\nodir\\d.txt", { disposition: FILE_CREATE })).Status, S.STATUS_OBJECT_PATH_NOT_FOUND);
      const created: [number, string][] = [
        [FILE_CREATE, "\\create.txt"],
        [FILE_OPEN_IF, "\\openif.txt"],
        [FILE_OVERWRITE_IF, "\\overwriteif.txt"],
        [FILE_SUPERSEDE, "\\supersede.txt"],
      ];
      for (const [disposition, name] of created) {
        const r = await s.open(name, { disposition });
        is(t, r.Status, S.STATUS_SUCCESS, `create ${name}`);
        t.is(r.Information, FILE_CREATED, `${name}: FILE_CREATED`);
        is(t, (await s.write(r.FileHandle, "abc", 0)).Status, S.STATUS_SUCCESS);
        is(t, await s.nt.NtClose(r.FileHandle), S.STATUS_SUCCESS);
      }
      // Existing file.
      is(t, (await s.open("\\create.txt", { disposition: FILE_CREATE })).Status, S.STATUS_OBJECT_NAME_COLLISION);
      const expectExisting: [number, number, string][] = [
        [FILE_OPEN, FILE_OPENED, "abc"],
        [FILE_OPEN_IF, FILE_OPENED, "abc"],
        [FILE_OVERWRITE, FILE_OVERWRITTEN, ""],
        [FILE_OVERWRITE_IF, FILE_OVERWRITTEN, ""],
        [FILE_SUPERSEDE, FILE_SUPERSEDED, ""],
      ];
      for (const [disposition, info, content] of expectExisting) {
        // A fresh name, opened with another access than createFile's: no collapsing onto a dormant open, so
        // MRxCreate answers (collapsed opens: delayedCloseSuite).
        const name = `\\exists${disposition}.txt`;
        await s.createFile(name, "abc");
        const r = await s.open(name, { disposition, access: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE });
        is(t, r.Status, S.STATUS_SUCCESS, `disposition ${disposition}`);
        t.is(r.Information, info, `disposition ${disposition}: Information`);
        const st = await s.queryStandard(r.FileHandle);
        t.is(typeof st === "number" ? -1 : st.endOfFile, content.length, `disposition ${disposition}: size`);
        await s.nt.NtClose(r.FileHandle);
        t.is(await s.contentOf(name), content);
      }
    });
    assertClean(t, run);
  });

  test(title("create: FILE_DIRECTORY_FILE on a file and FILE_NON_DIRECTORY_FILE on a directory fail"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const d = await s.openDir("\\dir", { disposition: FILE_CREATE });
      is(t, d.Status, S.STATUS_SUCCESS);
      t.is(d.Information, FILE_CREATED);
      await s.createFile("\\file.txt", "x");
      // While the other object is open (its FCB exists) and after it is closed.
      is(t, (await s.open("\\dir", { options: FILE_NON_DIRECTORY_FILE })).Status, S.STATUS_FILE_IS_A_DIRECTORY);
      is(t, (await s.openDir("\\file.txt")).Status, S.STATUS_NOT_A_DIRECTORY);
      await s.nt.NtClose(d.FileHandle);
      is(t, (await s.open("\\dir", { options: FILE_NON_DIRECTORY_FILE })).Status, S.STATUS_FILE_IS_A_DIRECTORY);
      const f = await s.mustOpen("\\file.txt");
      is(t, (await s.openDir("\\file.txt")).Status, S.STATUS_NOT_A_DIRECTORY);
      await s.nt.NtClose(f);
      // Neither flag: both open.
      const d2 = await s.mustOpen("\\dir", { disposition: FILE_OPEN, access: GENERIC_READ | SYNCHRONIZE });
      const st = await s.queryStandard(d2);
      t.true(typeof st !== "number" && st.directory);
      // A read on a directory handle is not a file read.
      is(t, (await s.read(d2, 4, 0)).Status, S.STATUS_INVALID_DEVICE_REQUEST);
      await s.nt.NtClose(d2);
    });
    assertClean(t, run);
  });

  test(
    title("create: share modes (STATUS_SHARING_VIOLATION; FILE_CREATE on an existing name → COLLISION)"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        await s.createFile("\\s.txt", "data");
        const h1 = await s.mustOpen("\\s.txt", { share: 0 });
        const creates = s.calls("MRxCreate") + s.calls("MRxCollapseOpen");
        is(t, (await s.open("\\s.txt", { access: GENERIC_READ | SYNCHRONIZE })).Status, S.STATUS_SHARING_VIOLATION);
        is(t, (await s.open("\\s.txt", { disposition: FILE_CREATE })).Status, S.STATUS_OBJECT_NAME_COLLISION);
        t.is(
          s.calls("MRxCreate") + s.calls("MRxCollapseOpen"),
          creates,
          "a sharing violation never reaches the mini-redirector",
        );
        await s.nt.NtClose(h1);
        // Read sharing: a reader that shares read+write can join; a writer cannot.
        const r1 = await s.mustOpen("\\s.txt", { access: GENERIC_READ | SYNCHRONIZE, share: FILE_SHARE_READ });
        const r2 = await s.open("\\s.txt", {
          access: GENERIC_READ | SYNCHRONIZE,
          share: FILE_SHARE_READ | FILE_SHARE_WRITE,
        });
        is(t, r2.Status, S.STATUS_SUCCESS);
        is(t, (await s.open("\\s.txt", { access: GENERIC_WRITE | SYNCHRONIZE })).Status, S.STATUS_SHARING_VIOLATION);
        // A reader that does not share read with r1 conflicts too.
        is(
          t,
          (await s.open("\\s.txt", { access: GENERIC_READ | SYNCHRONIZE, share: FILE_SHARE_WRITE })).Status,
          S.STATUS_SHARING_VIOLATION,
        );
        await s.nt.NtClose(r1);
        await s.nt.NtClose(r2.FileHandle);
        const w = await s.open("\\s.txt", { access: GENERIC_WRITE | SYNCHRONIZE });
        is(t, w.Status, S.STATUS_SUCCESS, "after the readers closed, a writer opens");
        await s.nt.NtClose(w.FileHandle);
      });
      assertClean(t, run);
    },
  );

  test(title("read, write, extend: data round-trips; reading at EOF is STATUS_END_OF_FILE"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const h = await s.mustOpen("\\rw.txt", { disposition: FILE_CREATE });
      // Synchronous file object: no offset = the current position.
      is(t, (await s.write(h, "abc")).Status, S.STATUS_SUCCESS);
      is(t, (await s.write(h, "def")).Status, S.STATUS_SUCCESS);
      let r = await s.read(h, 100, 0);
      is(t, r.Status, S.STATUS_SUCCESS);
      t.is(r.text, "abcdef");
      // Extend past EOF with a gap.
      const w = await s.write(h, "XY", 8);
      is(t, w.Status, S.STATUS_SUCCESS);
      t.is(w.Information, 2);
      r = await s.read(h, 100, 0);
      t.is(r.Information, 10);
      t.is(r.text, "abcdef\0\0XY");
      const { fcb } = s.objectsOf(h);
      t.is(fcb?.Header.FileSize, 10, "RDBSS's FCB follows the extension");
      const st = await s.queryStandard(h);
      t.is(typeof st === "number" ? -1 : st.endOfFile, 10);
      // Partial read at the end, then EOF.
      r = await s.read(h, 100, 8);
      is(t, r.Status, S.STATUS_SUCCESS);
      t.is(r.text, "XY");
      r = await s.read(h, 100, 10);
      is(t, r.Status, S.STATUS_END_OF_FILE);
      t.is(r.Information, 0);
      r = await s.read(h, 4, 1000);
      is(t, r.Status, S.STATUS_END_OF_FILE);
      // Zero-length transfers succeed without the mini-redirector.
      const reads = s.calls("MRxLowIOSubmit[LOWIO_OP_READ]");
      r = await s.read(h, 0, 0);
      is(t, r.Status, S.STATUS_SUCCESS);
      t.is(s.calls("MRxLowIOSubmit[LOWIO_OP_READ]"), reads);
      await s.nt.NtClose(h);
      t.is(await s.contentOf("\\rw.txt"), "abcdef\0\0XY");
    });
    assertClean(t, run);
  });

  test(title("query information: basic, standard, name and network-open classes decode"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\qd");
      const h = await s.mustOpen("\\qd\\q.txt", { disposition: FILE_CREATE });
      await s.write(h, "1234567", 0);
      const b = await s.nt.NtQueryInformationFile(h, { FileInformationClass: FIC.FileBasicInformation, Length: 40 });
      is(t, b.Status, S.STATUS_SUCCESS);
      t.is(b.Information, 40);
      const basic = decodeFileInformation(FIC.FileBasicInformation, b.Buffer, b.Information);
      if (isDecodeError(basic)) t.fail(basic.error);
      else {
        t.is(basic.fileAttributes & FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY, 0);
        t.true(basic.creationTime <= basic.lastWriteTime);
      }
      const st = await s.queryStandard(h);
      t.like(st, { endOfFile: 7, numberOfLinks: 1, deletePending: false, directory: false });
      const n = await s.nt.NtQueryInformationFile(h, { FileInformationClass: FIC.FileNameInformation, Length: 512 });
      is(t, n.Status, S.STATUS_SUCCESS);
      const name = decodeFileInformation(FIC.FileNameInformation, n.Buffer, n.Information);
      t.is(isDecodeError(name) ? name.error : name.fileName, `${target.remote.slice(1)}\\qd\\q.txt`);
      const no = await s.nt.NtQueryInformationFile(h, {
        FileInformationClass: FIC.FileNetworkOpenInformation,
        Length: 56,
      });
      is(t, no.Status, S.STATUS_SUCCESS);
      const net = decodeFileInformation(FIC.FileNetworkOpenInformation, no.Buffer, no.Information);
      t.is(isDecodeError(net) ? -1 : net.endOfFile, 7);
      // A buffer too small for FILE_BASIC_INFORMATION.
      const small = await s.nt.NtQueryInformationFile(h, { FileInformationClass: FIC.FileBasicInformation, Length: 8 });
      t.false(NT_SUCCESS(small.Status));
      await s.nt.NtClose(h);
      const d = await s.mustOpen("\\qd", { disposition: FILE_OPEN, access: GENERIC_READ | SYNCHRONIZE });
      const db = await s.nt.NtQueryInformationFile(d, { FileInformationClass: FIC.FileBasicInformation, Length: 40 });
      const dbasic = decodeFileInformation(FIC.FileBasicInformation, db.Buffer, db.Information);
      t.not(isDecodeError(dbasic) ? 0 : dbasic.fileAttributes & FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY, 0);
      const dst = await s.queryStandard(d);
      t.true(typeof dst !== "number" && dst.directory);
      await s.nt.NtClose(d);
    });
    assertClean(t, run);
  });

  test(title("set end of file: FileEndOfFileInformation truncates and extends"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const h = await s.mustOpen("\\eof.txt", { disposition: FILE_CREATE });
      await s.write(h, "0123456789", 0);
      is(t, (await s.setEndOfFile(h, 4)).Status, S.STATUS_SUCCESS);
      t.is((await s.read(h, 100, 0)).text, "0123");
      t.like(await s.queryStandard(h), { endOfFile: 4 });
      t.is(s.objectsOf(h).fcb?.Header.FileSize, 4);
      is(t, (await s.setEndOfFile(h, 8)).Status, S.STATUS_SUCCESS);
      t.is((await s.read(h, 100, 0)).text, "0123\0\0\0\0");
      t.is(s.objectsOf(h).fcb?.Header.FileSize, 8);
      is(t, (await s.read(h, 1, 8)).Status, S.STATUS_END_OF_FILE);
      await s.nt.NtClose(h);
      t.is(await s.contentOf("\\eof.txt"), "0123\0\0\0\0");
    });
    assertClean(t, run);
  });

  test(
    title("rename: without ReplaceIfExists onto an existing name fails; with it the target is replaced"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        await s.createFile("\\a.txt", "A");
        await s.createFile("\\b.txt", "B");
        const h = await s.mustOpen("\\a.txt", { disposition: FILE_OPEN });
        is(t, (await s.rename(h, "\\c.txt", false)).Status, S.STATUS_SUCCESS);
        t.false(await s.exists("\\a.txt"), "the old name is gone");
        t.is(await s.contentOf("\\c.txt"), "A");
        t.is((await s.read(h, 10, 0)).text, "A", "the renamed handle still reads");
        is(t, (await s.rename(h, "\\b.txt", false)).Status, S.STATUS_OBJECT_NAME_COLLISION);
        t.is(await s.contentOf("\\b.txt"), "B", "the target survives a refused rename");
        is(t, (await s.rename(h, "\\b.txt", true)).Status, S.STATUS_SUCCESS);
        await s.nt.NtClose(h);
        t.is(await s.contentOf("\\b.txt"), "A");
        t.false(await s.exists("\\c.txt"));
        t.deepEqual(await s.list("\\"), ["b.txt"]);
        // Renaming into a directory that does not exist.
        const h2 = await s.mustOpen("\\b.txt", { disposition: FILE_OPEN });
        is(t, (await s.rename(h2, "\\nodir\\b.txt", false)).Status, S.STATUS_OBJECT_PATH_NOT_FOUND);
        await s.nt.NtClose(h2);
      });
      assertClean(t, run);
    },
  );

  test(title("delete: FILE_DELETE_ON_CLOSE and FileDispositionInformation delete at the last close"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const fcbsBefore = s.dev.NumberOfActiveFcbs;
      const doc = await s.mustOpen("\\doc.txt", { disposition: FILE_CREATE, options: FILE_DELETE_ON_CLOSE });
      await s.write(doc, "bye", 0);
      t.deepEqual(await s.list("\\", "doc*"), ["doc.txt"]);
      t.is(s.dev.NumberOfActiveFcbs, fcbsBefore + 1);
      await s.nt.NtClose(doc);
      t.false(await s.exists("\\doc.txt"), "delete-on-close: gone after the close");
      t.is(s.fcbByPath("\\doc.txt"), null, "and its FCB is out of the FCB table");
      t.is(s.dev.NumberOfActiveFcbs, fcbsBefore, "a deleted file is not kept for a delayed close");

      await s.createFile("\\disp.txt", "x");
      const h1 = await s.mustOpen("\\disp.txt", { disposition: FILE_OPEN });
      const h2 = await s.mustOpen("\\disp.txt", { disposition: FILE_OPEN, access: GENERIC_READ | SYNCHRONIZE });
      is(t, (await s.setDisposition(h1, true)).Status, S.STATUS_SUCCESS);
      t.like(await s.queryStandard(h2), { deletePending: true });
      await s.nt.NtClose(h1);
      t.deepEqual(await s.list("\\", "disp*"), ["disp.txt"], "still there while a handle is open");
      await s.nt.NtClose(h2);
      t.deepEqual(await s.list("\\", "disp*"), [], "gone after the last handle");
      t.false(await s.exists("\\disp.txt"));

      // Set, then clear: nothing is deleted.
      await s.createFile("\\keep.txt", "k");
      const h3 = await s.mustOpen("\\keep.txt", { disposition: FILE_OPEN });
      is(t, (await s.setDisposition(h3, true)).Status, S.STATUS_SUCCESS);
      is(t, (await s.setDisposition(h3, false)).Status, S.STATUS_SUCCESS);
      await s.nt.NtClose(h3);
      t.is(await s.contentOf("\\keep.txt"), "k");

      // A directory that is not empty cannot be deleted.
      await s.mkdir("\\full");
      await s.createFile("\\full\\f.txt", "f");
      const d = await s.openDir("\\full", { disposition: FILE_OPEN });
      is(t, (await s.setDisposition(d.FileHandle, true)).Status, S.STATUS_DIRECTORY_NOT_EMPTY);
      await s.nt.NtClose(d.FileHandle);
      t.true(await s.exists("\\full\\f.txt"));
    });
    assertClean(t, run);
  });

  test(title("directory query: pattern, ReturnSingleEntry and RestartScan (decodeDirectoryEntries)"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\d");
      await s.createFile("\\d\\b.txt", "bb");
      await s.createFile("\\d\\a.txt", "a");
      await s.createFile("\\d\\c.log", "ccc");
      await s.mkdir("\\d\\sub");
      const d = await s.openDir("\\d", { disposition: FILE_OPEN });
      is(t, d.Status, S.STATUS_SUCCESS);
      const h = d.FileHandle;
      const q = (args: { FileName?: string; RestartScan?: boolean; ReturnSingleEntry?: boolean; cls?: 1 | 3 | 12 }) =>
        s.nt.NtQueryDirectoryFile(h, {
          FileInformationClass: args.cls ?? FIC.FileDirectoryInformation,
          Length: 4096,
          ...(args.FileName !== undefined ? { FileName: args.FileName } : {}),
          ...(args.RestartScan !== undefined ? { RestartScan: args.RestartScan } : {}),
          ...(args.ReturnSingleEntry !== undefined ? { ReturnSingleEntry: args.ReturnSingleEntry } : {}),
        });
      const dots = target.features.dotEntries === true;
      let r = await q({ FileName: "*.txt" });
      is(t, r.Status, S.STATUS_SUCCESS);
      let entries = decodeDirectoryEntries(FIC.FileDirectoryInformation, r.Buffer, r.Information);
      t.deepEqual(
        entries.map((e) => [e.fileName, e.endOfFile]),
        [
          ["a.txt", 1],
          ["b.txt", 2],
        ],
      );
      r = await q({});
      is(t, r.Status, S.STATUS_NO_MORE_FILES, "the pattern stays with the handle: nothing more");
      r = await q({ RestartScan: true });
      is(t, r.Status, S.STATUS_SUCCESS);
      entries = decodeDirectoryEntries(FIC.FileDirectoryInformation, r.Buffer, r.Information);
      t.deepEqual(
        entries.map((e) => e.fileName),
        ["a.txt", "b.txt"],
        "RestartScan starts over with the first query's pattern",
      );
      await s.nt.NtClose(h);

      // One entry at a time, every name, directories flagged.
      const d2 = await s.openDir("\\d", { disposition: FILE_OPEN });
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const one = await s.nt.NtQueryDirectoryFile(d2.FileHandle, {
          FileInformationClass: FIC.FileBothDirectoryInformation,
          Length: 4096,
          ReturnSingleEntry: true,
        });
        if (one.Status === S.STATUS_NO_MORE_FILES) break;
        is(t, one.Status, S.STATUS_SUCCESS);
        const e = decodeDirectoryEntries(FIC.FileBothDirectoryInformation, one.Buffer, one.Information);
        t.is(e.length, 1);
        const first = e[0];
        if (first) {
          seen.push(first.fileName);
          t.is(
            (first.fileAttributes & FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY) !== 0,
            first.fileName === "sub" || first.fileName === "." || first.fileName === "..",
            `${first.fileName}: FILE_ATTRIBUTE_DIRECTORY`,
          );
        }
      }
      t.deepEqual(seen, [...(dots ? [".", ".."] : []), "a.txt", "b.txt", "c.log", "sub"]);
      await s.nt.NtClose(d2.FileHandle);

      // No match on the first query: STATUS_NO_SUCH_FILE.
      const d3 = await s.openDir("\\d", { disposition: FILE_OPEN });
      r = await s.nt.NtQueryDirectoryFile(d3.FileHandle, {
        FileInformationClass: FIC.FileNamesInformation,
        Length: 4096,
        FileName: "*.none",
      });
      is(t, r.Status, S.STATUS_NO_SUCH_FILE);
      await s.nt.NtClose(d3.FileHandle);

      // A directory query on a file handle.
      const f = await s.mustOpen("\\d\\a.txt", { disposition: FILE_OPEN, access: GENERIC_READ | SYNCHRONIZE });
      r = await s.nt.NtQueryDirectoryFile(f, { FileInformationClass: FIC.FileNamesInformation, Length: 4096 });
      is(t, r.Status, S.STATUS_INVALID_PARAMETER);
      await s.nt.NtClose(f);
    });
    assertClean(t, run);
  });

  test(title("volume information: FILE_REMOTE_DEVICE; size, volume and attribute classes decode"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const h = await s.mustOpen("\\vol.txt");
      const FS = FS_INFORMATION_CLASS;
      const qv = (cls: number, length: number) =>
        s.nt.NtQueryVolumeInformationFile(h, { FsInformationClass: cls, Length: length });
      let r = await qv(FS.FileFsDeviceInformation, 8);
      is(t, r.Status, S.STATUS_SUCCESS);
      const devInfo = decodeFsInformation(FS.FileFsDeviceInformation, r.Buffer, r.Information);
      t.not(isDecodeError(devInfo) ? 0 : devInfo.characteristics & FILE_REMOTE_DEVICE, 0);
      r = await qv(FS.FileFsSizeInformation, 24);
      is(t, r.Status, S.STATUS_SUCCESS);
      const size = decodeFsInformation(FS.FileFsSizeInformation, r.Buffer, r.Information);
      t.true(
        !isDecodeError(size) && size.bytesPerSector > 0 && size.totalAllocationUnits >= size.availableAllocationUnits,
      );
      r = await qv(FS.FileFsAttributeInformation, 512);
      is(t, r.Status, S.STATUS_SUCCESS);
      const attr = decodeFsInformation(FS.FileFsAttributeInformation, r.Buffer, r.Information);
      t.true(!isDecodeError(attr) && attr.fileSystemName.length > 0);
      r = await qv(FS.FileFsVolumeInformation, 512);
      is(t, r.Status, S.STATUS_SUCCESS);
      t.false(isDecodeError(decodeFsInformation(FS.FileFsVolumeInformation, r.Buffer, r.Information)));
      t.true(s.calls("MRxQueryVolumeInfo") >= 4);
      await s.nt.NtClose(h);
    });
    assertClean(t, run);
  });

  (target.features.locks ? test : test.skip)(
    title("byte-range locks: a conflicting lock is STATUS_LOCK_NOT_GRANTED until unlocked or closed"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        await s.createFile("\\lock.txt", "0123456789abcdef");
        const h1 = await s.mustOpen("\\lock.txt", { disposition: FILE_OPEN });
        const h2 = await s.mustOpen("\\lock.txt", { disposition: FILE_OPEN });
        const lock = (h: number, ByteOffset: number, Length: number, ExclusiveLock: boolean) =>
          s.nt.NtLockFile(h, { ByteOffset, Length, ExclusiveLock, FailImmediately: true }).then((r) => r.Status);
        is(t, await lock(h1, 0, 10, true), S.STATUS_SUCCESS);
        is(t, await lock(h2, 5, 10, true), S.STATUS_LOCK_NOT_GRANTED, "exclusive over exclusive");
        is(t, await lock(h2, 0, 1, false), S.STATUS_LOCK_NOT_GRANTED, "shared over exclusive");
        is(t, await lock(h2, 10, 5, true), S.STATUS_SUCCESS, "a range that does not overlap");
        t.is(s.objectsOf(h1).fcb?.FileLocks.length, 2);
        is(t, (await s.nt.NtUnlockFile(h1, { ByteOffset: 0, Length: 10 })).Status, S.STATUS_SUCCESS);
        t.is(s.objectsOf(h1).fcb?.FileLocks.length, 1);
        is(t, await lock(h2, 5, 5, true), S.STATUS_SUCCESS, "granted once unlocked");
        // Shared locks share.
        is(t, await lock(h1, 100, 10, false), S.STATUS_SUCCESS);
        is(t, await lock(h2, 100, 10, false), S.STATUS_SUCCESS);
        is(t, await lock(h1, 105, 1, true), S.STATUS_LOCK_NOT_GRANTED);
        // Closing a handle releases its locks (cleanup unlocks them through LOWIO_OP_UNLOCK_MULTIPLE).
        const unlockAll = s.calls("MRxLowIOSubmit[LOWIO_OP_UNLOCK_MULTIPLE]");
        await s.nt.NtClose(h2);
        t.is(s.calls("MRxLowIOSubmit[LOWIO_OP_UNLOCK_MULTIPLE]"), unlockAll + 1);
        t.is(s.objectsOf(h1).fcb?.FileLocks.length, 1, "only h1's shared lock is left");
        is(t, await lock(h1, 5, 10, true), S.STATUS_SUCCESS);
        // NtUnlockFile "all" drops the rest.
        is(t, (await s.nt.NtUnlockFile(h1, "all")).Status, S.STATUS_SUCCESS);
        t.is(s.objectsOf(h1).fcb?.FileLocks.length, 0);
        await s.nt.NtClose(h1);
      });
      assertClean(t, run);
    },
  );

  test(title("flush: NtFlushBuffersFile reaches MRxFlush and succeeds"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const h = await s.mustOpen("\\flush.txt");
      await s.write(h, "data", 0);
      const before = s.calls("MRxFlush");
      is(t, (await s.nt.NtFlushBuffersFile(h)).Status, S.STATUS_SUCCESS);
      t.is(s.calls("MRxFlush"), before + 1);
      await s.nt.NtClose(h);
    });
    assertClean(t, run);
  });
}

// ================================================================== suite: change notifications

/** NtNotifyChangeDirectoryFile: completion by a change, filters, watch-tree, cancel, cleanup. */
export function notifySuite(test: TestFn, target: MiniRdrTarget): void {
  const title = (s: string): string => `${target.name}: ${s}`;
  const t0 = target.features.notify ? test : test.skip;
  const { FILE_NOTIFY_CHANGE_FILE_NAME, FILE_NOTIFY_CHANGE_DIR_NAME } = FILE_NOTIFY_CHANGE;

  /** An asynchronous directory handle (so the notify call returns STATUS_PENDING with a request). */
  const watchDir = async (s: Session, name: string): Promise<number> => {
    const r = await s.openDir(name, { sync: false, access: FILE_LIST_DIRECTORY | SYNCHRONIZE });
    if (!NT_SUCCESS(r.Status)) throw new Error(`open ${name}: ${statusName(r.Status)}`);
    return r.FileHandle;
  };
  const notify = (s: Session, h: number, CompletionFilter: number, WatchTree = false) =>
    s.nt.NtNotifyChangeDirectoryFile(h, { CompletionFilter, WatchTree, Length: 1024 });

  t0(title("notify: a pending request completes with the change's FILE_NOTIFY_INFORMATION record"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\w");
      const h = await watchDir(s, "\\w");
      const n = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME);
      is(t, n.Status, S.STATUS_PENDING);
      t.false(n.request?.done ?? true, "still pending before any change");
      await s.createFile("\\w\\new.txt", "x");
      const done = await settle(n.request);
      is(t, done.Status, S.STATUS_SUCCESS);
      t.deepEqual(decodeNotifyRecords(n.Buffer, done.Information), [
        { action: FILE_ACTION.FILE_ACTION_ADDED, fileName: "new.txt" },
      ]);
      // The handle can watch again (same filter: a redirector may keep the first call's filter for the handle).
      const n2 = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME);
      is(t, n2.Status, S.STATUS_PENDING);
      await s.createFile("\\w\\second.txt", "y");
      const done2 = await settle(n2.request);
      is(t, done2.Status, S.STATUS_SUCCESS);
      t.deepEqual(decodeNotifyRecords(n2.Buffer, done2.Information), [
        { action: FILE_ACTION.FILE_ACTION_ADDED, fileName: "second.txt" },
      ]);
      // A deletion is FILE_ACTION_REMOVED.
      const n3 = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME);
      const del = await s.mustOpen("\\w\\new.txt", { disposition: FILE_OPEN, options: FILE_DELETE_ON_CLOSE });
      await s.nt.NtClose(del);
      const done3 = await settle(n3.request);
      t.deepEqual(decodeNotifyRecords(n3.Buffer, done3.Information), [
        { action: FILE_ACTION.FILE_ACTION_REMOVED, fileName: "new.txt" },
      ]);
      is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
    });
    assertClean(t, run);
  });

  t0(title("notify: a change outside the completion filter leaves the request pending"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\f");
      const h = await watchDir(s, "\\f");
      const n = await notify(s, h, FILE_NOTIFY_CHANGE_DIR_NAME);
      await s.createFile("\\f\\file.txt", "x");
      await s.delay(1);
      t.false(n.request?.done ?? true, "a file name change does not match FILE_NOTIFY_CHANGE_DIR_NAME");
      is(t, n.Status, S.STATUS_PENDING);
      await s.mkdir("\\f\\sub");
      const done = await settle(n.request);
      is(t, done.Status, S.STATUS_SUCCESS);
      t.deepEqual(decodeNotifyRecords(n.Buffer, done.Information), [
        { action: FILE_ACTION.FILE_ACTION_ADDED, fileName: "sub" },
      ]);
      await s.nt.NtClose(h);
    });
    assertClean(t, run);
  });

  t0(title("notify: watch-tree sees changes in subdirectories, a plain watch does not"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\t");
      await s.mkdir("\\t\\sub");
      const tree = await watchDir(s, "\\t");
      const flat = await watchDir(s, "\\t");
      const nt = await notify(s, tree, FILE_NOTIFY_CHANGE_FILE_NAME, true);
      const nf = await notify(s, flat, FILE_NOTIFY_CHANGE_FILE_NAME, false);
      await s.createFile("\\t\\sub\\deep.txt", "x");
      const done = await settle(nt.request);
      is(t, done.Status, S.STATUS_SUCCESS);
      t.deepEqual(decodeNotifyRecords(nt.Buffer, done.Information), [
        { action: FILE_ACTION.FILE_ACTION_ADDED, fileName: "sub\\deep.txt" },
      ]);
      t.false(nf.request?.done ?? true, "the plain watch ignores the subdirectory");
      await s.createFile("\\t\\top.txt", "x");
      const flatDone = await settle(nf.request);
      t.deepEqual(decodeNotifyRecords(nf.Buffer, flatDone.Information), [
        { action: FILE_ACTION.FILE_ACTION_ADDED, fileName: "top.txt" },
      ]);
      await s.nt.NtClose(tree);
      await s.nt.NtClose(flat);
    });
    assertClean(t, run);
  });

  t0(title("notify: NtCancelIoFile completes the request with STATUS_CANCELLED"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\c");
      const h = await watchDir(s, "\\c");
      const n = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME);
      is(t, n.Status, S.STATUS_PENDING);
      const cancels = s.calls("MRxCancelRoutine");
      is(t, await s.nt.NtCancelIoFile(h), S.STATUS_SUCCESS);
      t.true(n.request?.done, "NtCancelIoFile waits for the cancelled request");
      is(t, n.request?.IoStatusBlock.Status ?? 0, S.STATUS_CANCELLED);
      t.is(n.request?.IoStatusBlock.Information, 0);
      t.is(s.calls("MRxCancelRoutine"), cancels + 1, "RDBSS ran the mini-redirector's cancel routine once");
      // The handle still works; a later change completes a new request normally.
      const n2 = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME);
      await s.createFile("\\c\\after.txt");
      is(t, (await settle(n2.request)).Status, S.STATUS_SUCCESS);
      // NtCancelIoFileEx on one request.
      const n3 = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME);
      is(t, await s.nt.NtCancelIoFileEx(h, n3.request ?? undefined), S.STATUS_SUCCESS);
      is(t, (await settle(n3.request)).Status, S.STATUS_CANCELLED);
      await s.nt.NtClose(h);
    });
    assertClean(t, run);
  });

  t0(title("notify: closing the handle completes the request with STATUS_NOTIFY_CLEANUP"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\x");
      const h = await watchDir(s, "\\x");
      const n = await notify(s, h, FILE_NOTIFY_CHANGE_FILE_NAME, true);
      is(t, n.Status, S.STATUS_PENDING);
      is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
      const done = await settle(n.request);
      is(t, done.Status, S.STATUS_NOTIFY_CLEANUP);
      t.is(done.Information, 0);
      // The directory is not held open by the finished request: its FCB goes (directories are not delay-closed).
      t.is(s.fcbByPath("\\x"), null);
    });
    assertClean(t, run);
  });

  t0(title("notify: a notification on a file handle is refused"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const f = await s.mustOpen("\\plain.txt", { sync: false, access: GENERIC_READ | SYNCHRONIZE });
      const n = await notify(s, f, FILE_NOTIFY_CHANGE_FILE_NAME);
      const st = n.Status === S.STATUS_PENDING ? (await settle(n.request)).Status : n.Status;
      is(t, st, S.STATUS_INVALID_PARAMETER);
      await s.nt.NtClose(f);
    });
    assertClean(t, run);
  });
}

// ================================================================== suite: connections

/** START, net use (with and without credentials), and net use /delete at FALSE, TRUE and 0xff. */
export function connectionSuite(test: TestFn, target: MiniRdrTarget): void {
  const title = (s: string): string => `${target.name}: ${s}`;
  const linkOf = (s: Session, letter: string) => s.em.sys.io.lookupName(`\\??\\${letter}:`);
  const finalizeCalls = (s: Session) => ({
    MRxFinalizeVNetRoot: s.calls("MRxFinalizeVNetRoot"),
    MRxFinalizeNetRoot: s.calls("MRxFinalizeNetRoot"),
    MRxFinalizeSrvCall: s.calls("MRxFinalizeSrvCall"),
  });
  const share = target.remote.replace(/^\\\\/, "\\");
  const server = share.slice(0, share.indexOf("\\", 1));

  test(
    title("START, then STATUS_REDIRECTOR_STARTED; net use with and without credentials; unknown share"),
    async (t) => {
      const { run } = await scenario(
        target,
        async (s) => {
          t.is(s.dev.StartStopContext.State, RdbssState.RDBSS_STARTABLE);
          is(t, await s.np.start(), S.STATUS_SUCCESS);
          t.is(s.dev.StartStopContext.State, RdbssState.RDBSS_STARTED);
          is(t, await s.np.start(), S.STATUS_REDIRECTOR_STARTED);
          t.is(s.calls("MRxStart"), 1, "MRxStart runs once");
          // Without credentials.
          is(t, await s.np.netUse("N", target.remote), S.STATUS_SUCCESS);
          t.is(linkOf(s, "N")?.kind, "symlink");
          t.deepEqual(s.containers(), [`SRV_CALL ${server}`, `NET_ROOT ${share}`, `V_NET_ROOT \\;N:0${share}`]);
          t.deepEqual(mrxSequence(s.em, ["MRxCreateSrvCall", "MRxSrvCallWinnerNotify", "MRxCreateVNetRoot"]), [
            "MRxCreateSrvCall",
            "MRxSrvCallWinnerNotify",
            "MRxCreateVNetRoot",
          ]);
          const n = s.vNetRoot("N");
          t.false(n?.IsExplicitConnection ?? true);
          t.true(n?.AdditionalReferenceForDeleteFsctlTaken, "the add-connection reference keeps the connection");
          // With credentials, on another share of the same server: the SRV_CALL is reused.
          is(t, await s.np.netUse("P", target.otherRemote, "alice", "secret"), S.STATUS_SUCCESS);
          t.is(s.calls("MRxCreateSrvCall"), 1);
          t.is(s.calls("MRxCreateVNetRoot"), 2);
          const p = s.vNetRoot("P", target.otherRemote);
          t.like(p, { pUserName: "alice", pPassword: "secret", IsExplicitConnection: true });
          // Files open through both drives.
          await s.createFile("\\n.txt", "n");
          const hp = await s.open("\\p.txt", { drive: "P", disposition: FILE_CREATE });
          is(t, hp.Status, S.STATUS_SUCCESS);
          await s.nt.NtClose(hp.FileHandle);
          // A share the server does not have: no link.
          const vnrCalls = s.calls("MRxCreateVNetRoot");
          is(t, await s.np.netUse("Q", target.badRemote), S.STATUS_BAD_NETWORK_NAME);
          t.is(linkOf(s, "Q"), undefined);
          t.is(s.calls("MRxCreateVNetRoot"), vnrCalls + 1);
          // The failure is cached until the scavenger finalizes the Bad V_NET_ROOT / NET_ROOT: a V_NET_ROOT found
          // in the netname table whose NET_ROOT is neither Good nor InTransition gives STATUS_BAD_NETWORK_PATH
          // without asking the mini-redirector (RxFindOrConstructVirtualNetRoot; rdbss-semantics.md §5.1 step 3).
          is(t, await s.np.netUse("Q", target.badRemote), S.STATUS_BAD_NETWORK_PATH);
          t.is(s.calls("MRxCreateVNetRoot"), vnrCalls + 1);
          await s.delay(11);
          t.deepEqual(
            s.containers().filter((c) => c.includes("nosuch")),
            [],
            "the scavenger finalized the failed connection",
          );
          is(t, await s.np.netUse("Q", target.badRemote), S.STATUS_BAD_NETWORK_NAME);
          t.is(s.calls("MRxCreateVNetRoot"), vnrCalls + 2);
          t.is(s.calls("MRxCreateSrvCall"), 1, "one SRV_CALL for the server throughout");
        },
        { setup: "loaded" },
      );
      assertClean(t, run);
    },
  );

  test(
    title("concurrent net use of one server from three drives: one SRV_CALL, one NET_ROOT, three V_NET_ROOTs"),
    async (t) => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const { em, dev } = await bootTarget(target, { seed, strategy: "random" });
        const s = new Session(em, target, dev);
        const app = em.k.createProcess("app.exe");
        const results: string[] = [];
        em.k.createThread(app, "main", async () => {
          is(t, await s.np.start(), S.STATUS_SUCCESS);
          for (const letter of ["N", "M", "O"]) {
            em.k.createThread(app, `net use ${letter}:`, async () => {
              const st = await s.np.netUse(letter, target.remote);
              const h = await s.open(`\\${letter}.txt`, { drive: letter, disposition: FILE_CREATE });
              if (NT_SUCCESS(h.Status)) await s.nt.NtClose(h.FileHandle);
              results.push(`${letter} ${statusName(st)} ${statusName(h.Status)}`);
            });
          }
        });
        const run = await em.k.run();
        assertClean(t, run);
        t.deepEqual(
          results.sort(),
          ["M STATUS_SUCCESS STATUS_SUCCESS", "N STATUS_SUCCESS STATUS_SUCCESS", "O STATUS_SUCCESS STATUS_SUCCESS"],
          `seed ${seed}`,
        );
        t.is(s.calls("MRxCreateSrvCall"), 1, `seed ${seed}: the others waited for the SRV_CALL in transition`);
        t.is(s.calls("MRxCreateVNetRoot"), 3, `seed ${seed}`);
        t.is(s.containers().filter((c) => c.startsWith("NET_ROOT")).length, 1, `seed ${seed}`);
        t.is(s.containers().filter((c) => c.startsWith("V_NET_ROOT")).length, 3, `seed ${seed}`);
      }
    },
  );

  for (const level of [0, 1, 0xff]) {
    test(title(`net use /delete with nothing open (force ${level}): the connection is finalized`), async (t) => {
      const { run } = await scenario(target, async (s) => {
        // A directory was used and closed (not delay-closed), so nothing is open or dormant.
        await s.mkdir("\\dir");
        is(t, await s.np.netUseDelete("N", level), S.STATUS_SUCCESS);
        await s.settle();
        t.is(linkOf(s, "N"), undefined, "the drive letter is gone");
        t.deepEqual(s.containers(), [], "SRV_CALL, NET_ROOT and V_NET_ROOT are finalized");
        t.deepEqual(finalizeCalls(s), { MRxFinalizeVNetRoot: 1, MRxFinalizeNetRoot: 1, MRxFinalizeSrvCall: 1 });
        t.deepEqual(
          mrxSequence(s.em, ["MRxFinalizeVNetRoot", "MRxFinalizeNetRoot", "MRxFinalizeSrvCall"]).at(-1),
          "MRxFinalizeSrvCall",
        );
        // And a new net use builds a new connection.
        is(t, await s.np.netUse("N", target.remote), S.STATUS_SUCCESS);
        t.is(s.calls("MRxCreateSrvCall"), 2);
        t.true(await s.exists("\\dir"));
      });
      assertClean(t, run);
    });
  }

  test(title("net use /delete FALSE with a file open: STATUS_FILES_OPEN, the file keeps working"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const h = await s.mustOpen("\\open.txt", { disposition: FILE_CREATE });
      is(t, await s.np.netUseDelete("N", 0), S.STATUS_FILES_OPEN);
      t.is(linkOf(s, "N")?.kind, "symlink", "the drive letter stays");
      t.true(s.vNetRoot("N")?.AdditionalReferenceForDeleteFsctlTaken, "FALSE keeps the add-connection reference");
      is(t, (await s.write(h, "still", 0)).Status, S.STATUS_SUCCESS);
      t.is((await s.read(h, 10, 0)).text, "still");
      t.is(s.calls("MRxFinalizeVNetRoot"), 0);
      await s.nt.NtClose(h);
      // Closed (perhaps only dormant): now the delete goes through; dormant files are scavenged on the way.
      is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS);
      await s.settle();
      t.deepEqual(s.containers(), []);
      t.is(s.dev.NumberOfActiveFcbs, 0);
      t.deepEqual(finalizeCalls(s), { MRxFinalizeVNetRoot: 1, MRxFinalizeNetRoot: 1, MRxFinalizeSrvCall: 1 });
    });
    assertClean(t, run);
  });

  test(
    title("net use /delete 0xff with a file open: STATUS_FILES_OPEN, but the connection goes with the file"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        const h = await s.mustOpen("\\open.txt", { disposition: FILE_CREATE });
        is(t, await s.np.netUseDelete("N", 0xff), S.STATUS_FILES_OPEN);
        t.false(
          s.vNetRoot("N")?.AdditionalReferenceForDeleteFsctlTaken ?? true,
          "0xff drops the add-connection reference",
        );
        is(t, (await s.write(h, "still", 0)).Status, S.STATUS_SUCCESS, "the open file keeps working");
        await s.nt.NtClose(h);
        // Nothing holds the connection any more: once the closed file is scavenged, everything is finalized.
        await s.delay(25);
        t.deepEqual(s.containers(), []);
        t.deepEqual(finalizeCalls(s), { MRxFinalizeVNetRoot: 1, MRxFinalizeNetRoot: 1, MRxFinalizeSrvCall: 1 });
      });
      assertClean(t, run);
    },
  );

  test(
    title("net use /delete TRUE with a file open: the handle fails with UNEXPECTED_NETWORK_ERROR, NtClose works"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        const h = await s.mustOpen("\\forced.txt", { disposition: FILE_CREATE });
        await s.write(h, "abc", 0);
        const { fcb } = s.objectsOf(h);
        is(t, await s.np.netUseDelete("N", 1), S.STATUS_SUCCESS);
        t.is(linkOf(s, "N"), undefined);
        t.deepEqual(
          s.containers().filter((c) => c.startsWith("V_NET_ROOT")),
          [],
          "the V_NET_ROOT left the netname table",
        );
        t.is(s.calls("MRxFinalizeNetRoot"), 1, "the NET_ROOT's last V_NET_ROOT is gone");
        is(t, (await s.read(h, 3, 0)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
        is(t, (await s.write(h, "x", 0)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
        is(t, await s.queryStandard(h).then((r) => (typeof r === "number" ? r : 0)), S.STATUS_UNEXPECTED_NETWORK_ERROR);
        is(t, (await s.nt.NtFlushBuffersFile(h)).Status, S.STATUS_UNEXPECTED_NETWORK_ERROR);
        is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
        t.not(fcb?.freed ?? null, null, "the orphaned FCB is freed at the close");
        t.is(s.dev.NumberOfActiveFcbs, 0);
        await s.delay(25);
        t.deepEqual(s.containers(), []);
        t.deepEqual(finalizeCalls(s), { MRxFinalizeVNetRoot: 1, MRxFinalizeNetRoot: 1, MRxFinalizeSrvCall: 1 });
        // The drive can be connected again and the file is still on the server.
        is(t, await s.np.netUse("N", target.remote), S.STATUS_SUCCESS);
        t.is(await s.contentOf("\\forced.txt"), "abc");
      });
      assertClean(t, run);
    },
  );

  (target.features.notify ? test : test.skip)(
    title("net use /delete with a pending notification: FALSE and 0xff refuse, TRUE cancels it"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        await s.mkdir("\\watched");
        const d = await s.openDir("\\watched", { sync: false, access: FILE_LIST_DIRECTORY | SYNCHRONIZE });
        const n = await s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
          CompletionFilter: FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
          Length: 512,
        });
        is(t, n.Status, S.STATUS_PENDING);
        is(t, await s.np.netUseDelete("N", 0), S.STATUS_FILES_OPEN);
        is(t, await s.np.netUseDelete("N", 0xff), S.STATUS_FILES_OPEN);
        t.false(n.request?.done ?? true, "a refused delete leaves the notification pending");
        is(t, await s.np.netUseDelete("N", 1), S.STATUS_SUCCESS);
        const done = await settle(n.request);
        is(t, done.Status, S.STATUS_CANCELLED);
        is(t, await s.nt.NtClose(d.FileHandle), S.STATUS_SUCCESS);
        await s.delay(25);
        t.deepEqual(s.containers(), []);
      });
      assertClean(t, run);
    },
  );
}

// ================================================================== suite: delayed close and the scavenger

/** Delayed close: dormant SRV_OPENs, collapsing onto them, and the scavenger closing them after its time limit. */
export function delayedCloseSuite(test: TestFn, target: MiniRdrTarget): void {
  const title = (s: string): string => `${target.name}: ${s}`;
  const t0 = target.features.delayedClose ? test : test.skip;
  const { SRVOPEN_FLAG_CLOSE_DELAYED, SRVOPEN_FLAG_CLOSED } = SRVOPEN_FLAG;

  t0(title("delayed close: after the close the SRV_OPEN stays dormant and MRxCloseSrvOpen has not run"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      const h = await s.mustOpen("\\dormant.txt", { disposition: FILE_CREATE });
      await s.write(h, "zzz", 0);
      const { fcb, fobx } = s.objectsOf(h);
      const so = fobx?.pSrvOpen;
      const srvCall = fcb?.pNetRoot.pSrvCall;
      if (!fcb || !fobx || !so || !srvCall) return t.fail("no FCB / FOBX behind the handle");
      t.true(srvCall.MaximumNumberOfCloseDelayedFiles > 1, "the mini-redirector opted in to delayed close");
      is(t, await s.nt.NtClose(h), S.STATUS_SUCCESS);
      t.is(s.calls("MRxCleanupFobx"), 1, "cleanup ran");
      t.is(s.calls("MRxCloseSrvOpen"), 0, "the close is delayed");
      t.is(s.calls("MRxDeallocateForFcb"), 0);
      t.not(so.Flags & SRVOPEN_FLAG_CLOSE_DELAYED, 0, "SRVOPEN_FLAG_CLOSE_DELAYED");
      t.is(so.Flags & SRVOPEN_FLAG_CLOSED, 0);
      t.is(srvCall.NumberOfCloseDelayedFiles, 1);
      t.is(fcb.freed, null);
      t.is(fcb.OpenCount, 0);
      t.is(fcb.UncleanCount, 0);
      t.true(fobx.scavengerMarked, "the dormant FOBX waits for the scavenger");
      t.is(s.fcbByPath("\\dormant.txt"), fcb, "the FCB stays in the FCB table");
      t.is(s.dev.NumberOfActiveFcbs, 1);
    });
    assertClean(t, run);
  });

  t0(
    title("delayed close: reopening with the same access collapses onto it (MRxCollapseOpen, no MRxCreate)"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        await s.createFile("\\collapse.txt", "data");
        const fcb = s.fcbByPath("\\collapse.txt");
        const so = fcb?.SrvOpenList[0];
        if (!fcb || !so) return t.fail("no dormant FCB / SRV_OPEN");
        const creates = s.calls("MRxCreate");
        const r = await s.open("\\collapse.txt", { disposition: FILE_OPEN });
        is(t, r.Status, S.STATUS_SUCCESS);
        t.is(s.calls("MRxCreate"), creates, "no new MRxCreate");
        t.is(s.calls("MRxCollapseOpen"), 1);
        t.true(s.calls("MRxShouldTryToCollapseThisOpen") >= 1);
        t.is(s.objectsOf(r.FileHandle).fobx?.pSrvOpen, so, "the new FOBX hangs off the dormant SRV_OPEN");
        t.is(so.Flags & SRVOPEN_FLAG_CLOSE_DELAYED, 0, "revived");
        t.is(fcb.pNetRoot.pSrvCall.NumberOfCloseDelayedFiles, 0);
        t.is((await s.read(r.FileHandle, 10, 0)).text, "data");
        // Another access mask cannot collapse: a second SRV_OPEN through MRxCreate.
        const other = await s.open("\\collapse.txt", { disposition: FILE_OPEN, access: GENERIC_READ | SYNCHRONIZE });
        is(t, other.Status, S.STATUS_SUCCESS);
        t.is(s.calls("MRxCreate"), creates + 1);
        t.is(fcb.SrvOpenList.length, 2);
        await s.nt.NtClose(other.FileHandle);
        await s.nt.NtClose(r.FileHandle);
        // The revived SRV_OPEN still has its dormant FOBX (scavenger-marked), the other one was delay-closed:
        // neither is closed yet; the scavenger closes both.
        t.is(s.calls("MRxCloseSrvOpen"), 0, "both SRV_OPENs wait for the scavenger");
        await s.delay(11);
        t.is(s.calls("MRxCloseSrvOpen"), 2);
        t.not(fcb.freed, null);
        t.is(fcb.pNetRoot.pSrvCall.NumberOfCloseDelayedFiles, 0);
        t.is(s.dev.NumberOfActiveFcbs, 0);
      });
      assertClean(t, run);
    },
  );

  // A collapsed open is an open of an existing file: NtCreateFile must report FILE_OPENED (regression: the
  // Information canary was once planted only before MRxCreate, so a collapsed open reported 0, FILE_SUPERSEDED).
  const collapsedInfo = target.features.delayedClose ? test : test.skip;
  collapsedInfo(title("delayed close: a collapsed open reports FILE_OPENED"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.createFile("\\info.txt", "i");
      const r = await s.open("\\info.txt", { disposition: FILE_OPEN });
      is(t, r.Status, S.STATUS_SUCCESS);
      t.is(s.calls("MRxCollapseOpen"), 1, "the open was collapsed");
      t.is(r.Information, FILE_OPENED);
      await s.nt.NtClose(r.FileHandle);
    });
    assertClean(t, run);
  });

  t0(title("delayed close: after 10+ s of virtual time the scavenger closes it and frees the FCB"), async (t) => {
    const { run, em } = await scenario(target, async (s) => {
      await s.createFile("\\scavenged.txt", "s");
      const fcb = s.fcbByPath("\\scavenged.txt");
      const so = fcb?.SrvOpenList[0];
      if (!fcb || !so) return t.fail("no dormant FCB / SRV_OPEN");
      t.is(s.dev.Scavenger.TimeLimit, 10);
      await s.delay(9);
      t.is(s.calls("MRxCloseSrvOpen"), 0, "not before the scavenger's time limit");
      t.is(fcb.freed, null);
      await s.delay(2);
      t.is(s.calls("MRxCloseSrvOpen"), 1, "the scavenger ran the delayed close");
      t.not(so.Flags & SRVOPEN_FLAG_CLOSED, 0);
      t.is(s.calls("MRxDeallocateForFcb"), 1);
      t.not(fcb.freed, null, "the FCB is freed");
      t.is(s.fcbByPath("\\scavenged.txt"), null);
      t.is(s.dev.NumberOfActiveFcbs, 0);
      t.true(s.dev.Scavenger.passes >= 1);
      t.is(fcb.pNetRoot.pSrvCall.NumberOfCloseDelayedFiles, 0);
      // The connection itself is untouched.
      t.true(await s.exists("\\scavenged.txt"));
    });
    assertClean(t, run);
    t.deepEqual(
      mrxSequence(em, [
        "MRxCreate",
        "MRxCleanupFobx",
        "MRxDeallocateForFobx",
        "MRxCloseSrvOpen",
        "MRxDeallocateForFcb",
      ]).slice(0, 5),
      ["MRxCreate", "MRxCleanupFobx", "MRxDeallocateForFobx", "MRxCloseSrvOpen", "MRxDeallocateForFcb"],
      "cleanup at the close, the rest when the scavenger finalizes the FOBX (RxFinalizeNetFobx order)",
    );
  });

  t0(title("delayed close: reopens racing the scavenger pass end clean under random schedules"), async (t) => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const { em, dev } = await bootTarget(target, { seed, strategy: "random" });
      const s = new Session(em, target, dev);
      const app = em.k.createProcess("app.exe");
      const results: string[] = [];
      em.k.createThread(app, "main", async () => {
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        is(t, await s.np.netUse("N", target.remote), S.STATUS_SUCCESS);
        await s.createFile("\\race.txt", "race");
        // The scavenger's timer fires 10 s after the close; reopen around that instant.
        for (let i = 0; i < 3; i++) {
          em.k.createThread(app, `reopen ${i}`, async () => {
            await s.delay(10 + (i - 1) * 1e-7);
            const h = await s.open("\\race.txt", { disposition: FILE_OPEN });
            const r = NT_SUCCESS(h.Status) ? await s.read(h.FileHandle, 10, 0) : null;
            if (NT_SUCCESS(h.Status)) await s.nt.NtClose(h.FileHandle);
            results.push(`${statusName(h.Status)} ${r?.text ?? ""}`);
          });
        }
        await s.delay(40);
        results.push(
          `fcbs ${s.dev.NumberOfActiveFcbs} closes ${s.calls("MRxCloseSrvOpen")} creates ${s.calls("MRxCreate")}`,
        );
      });
      const run = await em.k.run();
      assertClean(t, run);
      const summary = results.pop() ?? "";
      t.deepEqual(results, Array(3).fill("STATUS_SUCCESS race"), `seed ${seed}`);
      t.regex(summary, /^fcbs 0 /, `seed ${seed}: everything scavenged in the end (${summary})`);
      t.is(s.calls("MRxCloseSrvOpen"), s.calls("MRxCreate"), `seed ${seed}: every SRV_OPEN closed once`);
    }
  });

  t0(title("delayed close: directories and delete-on-close files are closed at once"), async (t) => {
    const { run } = await scenario(target, async (s) => {
      await s.mkdir("\\dir");
      t.is(s.calls("MRxCloseSrvOpen"), 1, "a directory is not delay-closed");
      t.is(s.fcbByPath("\\dir"), null);
      const h = await s.mustOpen("\\gone.txt", { disposition: FILE_CREATE, options: FILE_DELETE_ON_CLOSE });
      await s.nt.NtClose(h);
      t.is(s.calls("MRxCloseSrvOpen"), 2, "nor is a delete-on-close file");
      t.is(s.dev.NumberOfActiveFcbs, 0);
    });
    assertClean(t, run);
  });
}

// ================================================================== suite: start, stop, unload and the FSD gates

/** The device's start / stop state, the FSD gates, and RxUnregisterMinirdr. */
export function startStopSuite(test: TestFn, target: MiniRdrTarget): void {
  const title = (s: string): string => `${target.name}: ${s}`;
  const share = target.remote.replace(/^\\\\/, "\\");
  /** The tree-connect name of drive N:, "\Device\NulMRx\;N:0\srv\share". */
  const treeConnectName = `${target.deviceName}\\;N:0${share}`;
  const openDevice = (s: Session) =>
    s.nt.NtCreateFile({
      ObjectName: target.deviceName,
      DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
      ShareAccess: SHARE_ALL,
      CreateDisposition: FILE_OPEN,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
  const queryDevice = async (s: Session): Promise<NTSTATUS> => {
    const d = await openDevice(s);
    if (!NT_SUCCESS(d.Status)) return d.Status;
    const r = await s.nt.NtDeviceIoControlFile(d.FileHandle, target.queryIoctl.code, {
      OutputBufferLength: target.queryIoctl.outputLength,
    });
    await s.nt.NtClose(d.FileHandle);
    return r.Status;
  };

  test(title("before START: file opens are STATUS_REDIRECTOR_NOT_STARTED, device opens work"), async (t) => {
    const { run } = await scenario(
      target,
      async (s) => {
        t.is(s.dev.StartStopContext.State, RdbssState.RDBSS_STARTABLE);
        const d = await openDevice(s);
        is(t, d.Status, S.STATUS_SUCCESS, "a device open passes the gate");
        t.is(d.Information, FILE_OPENED);
        is(t, await s.nt.NtClose(d.FileHandle), S.STATUS_SUCCESS);
        is(t, await queryDevice(s), S.STATUS_SUCCESS, "and so does an IOCTL on the device FCB");
        const f = await s.nt.NtCreateFile({
          ObjectName: `${treeConnectName}\\file.txt`,
          DesiredAccess: RW_ACCESS,
          CreateDisposition: FILE_OPEN_IF,
          CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
        });
        is(t, f.Status, S.STATUS_REDIRECTOR_NOT_STARTED);
        // net use's tree connect is a named open too.
        is(t, await s.np.netUse("N", target.remote), S.STATUS_REDIRECTOR_NOT_STARTED);
        t.is(s.calls("MRxCreateSrvCall"), 0, "nothing reached the connection engine");
        t.is(s.calls("MRxCreate"), 0);
        t.deepEqual(s.containers(), []);
      },
      { setup: "loaded" },
    );
    assertClean(t, run);
  });

  test(title("an IOCTL on a tree-connect handle is STATUS_INVALID_HANDLE"), async (t) => {
    const { run, session: s } = await scenario(target, async () => undefined, { setup: "started" });
    assertClean(t, run);
    const controls = s.calls("MRxDevFcbXXXControlFile");
    const sys = await inSystem(s.em, async () => {
      const zw = s.em.sys.nt;
      const tc = await zw.ZwCreateFile({
        ObjectName: treeConnectName,
        DesiredAccess: SYNCHRONIZE | GENERIC_READ,
        ShareAccess: SHARE_ALL,
        CreateDisposition: FILE_OPEN_IF,
        CreateOptions: FILE_CREATE_TREE_CONNECTION | FILE_SYNCHRONOUS_IO_NONALERT,
      });
      is(t, tc.Status, S.STATUS_SUCCESS);
      const fo = zw.ObReferenceObjectByHandle(tc.FileHandle, "KernelMode").object;
      t.true(fo?.FsContext2 instanceof V_NET_ROOT, "FsContext2 of a tree connect is the V_NET_ROOT");
      if (fo) await s.em.sys.io.ObDereferenceObject(fo);
      const r = await zw.ZwDeviceIoControlFile(tc.FileHandle, target.queryIoctl.code, {
        OutputBufferLength: target.queryIoctl.outputLength,
      });
      is(t, r.Status, S.STATUS_INVALID_HANDLE);
      is(t, await zw.ZwClose(tc.FileHandle), S.STATUS_SUCCESS);
    });
    assertClean(t, sys.run);
    t.is(s.calls("MRxDevFcbXXXControlFile"), controls, "the IOCTL never reached MRxDevFcbXXXControlFile");
  });

  test(
    title("STOP: open handles refuse it; after the close it stops, file opens fail, START works again"),
    async (t) => {
      const { run } = await scenario(target, async (s) => {
        const h = await s.mustOpen("\\stop.txt", { disposition: FILE_CREATE });
        await s.write(h, "before", 0);
        is(t, await s.np.stop(), S.STATUS_REDIRECTOR_HAS_OPEN_HANDLES);
        t.is(s.dev.StartStopContext.State, RdbssState.RDBSS_STARTED, "still started");
        is(t, (await s.write(h, "!", 6)).Status, S.STATUS_SUCCESS, "and the handle still works");
        await s.nt.NtClose(h);
        // A closed file may stay dormant (delayed close) and still count as an active FCB until the scavenger
        // closes it: wait past the scavenger's time limit.
        await s.delay(11);
        t.is(s.dev.NumberOfActiveFcbs, 0);
        is(t, await s.np.stop(), S.STATUS_SUCCESS);
        t.is(s.dev.StartStopContext.State, RdbssState.RDBSS_STARTABLE);
        t.is(s.calls("MRxStop"), 1);
        is(t, (await s.open("\\stop.txt", { disposition: FILE_OPEN })).Status, S.STATUS_REDIRECTOR_NOT_STARTED);
        is(t, await queryDevice(s), S.STATUS_SUCCESS, "device opens still work");
        is(t, await s.np.stop(), S.STATUS_REDIRECTOR_STOPPED, "a second STOP");
        t.is(s.calls("MRxStop"), 1);
        // Stop does not finalize connections: after START the drive works again.
        t.not(s.vNetRoot("N"), null);
        is(t, await s.np.start(), S.STATUS_SUCCESS);
        t.is(s.dev.StartStopContext.State, RdbssState.RDBSS_STARTED);
        t.is(s.calls("MRxStart"), 2);
        t.is(await s.contentOf("\\stop.txt"), "before!");
      });
      assertClean(t, run);
    },
  );

  test(title("unload after everything is closed and deleted: RxUnregisterMinirdr leaves nothing"), async (t) => {
    const {
      run,
      session: s,
      em,
      dev,
    } = await scenario(target, async (s) => {
      await s.createFile("\\u.txt", "u");
      is(t, await s.np.netUseDelete("N", 0), S.STATUS_SUCCESS);
      await s.settle();
      is(t, await s.np.stop(), S.STATUS_SUCCESS);
    });
    assertClean(t, run);
    const u = await inSystem(em, () => em.rx.RxUnregisterMinirdr(dev));
    assertClean(t, u.run);
    t.deepEqual(u.value, []);
    t.is(dev.pRxNetNameTable.size, 0);
    t.true(dev.unregistered);
    t.false(em.rx.devices.includes(dev));
    t.is(em.sys.io.lookupName(target.deviceName), undefined, "the device object is deleted");
    t.deepEqual(
      { v: s.calls("MRxFinalizeVNetRoot"), n: s.calls("MRxFinalizeNetRoot"), c: s.calls("MRxFinalizeSrvCall") },
      { v: 1, n: 1, c: 1 },
      "each finalized once, by the delete",
    );
  });

  const unloadConnected = async (t: ExecutionContext) => {
    const { run, session, em, dev } = await scenario(target, async (s) => {
      await s.mkdir("\\kept");
    });
    assertClean(t, run);
    t.is(session.calls("MRxFinalizeVNetRoot"), 0);
    const objects = dev.pRxNetNameTable.containers();
    const u = await inSystem(em, () => em.rx.RxUnregisterMinirdr(dev));
    assertClean(t, u.run);
    return { s: session, em, dev, objects, left: u.value ?? [] };
  };

  test(title("unload with a connection in place: the leftovers are reported and taken out of the table"), async (t) => {
    const { s, dev, left } = await unloadConnected(t);
    t.is(left.length, 3, left.join("; "));
    t.true(left.some((l) => l.startsWith("SRV_CALL#")));
    t.true(left.some((l) => l.startsWith("NET_ROOT#")));
    t.true(left.some((l) => l.startsWith("V_NET_ROOT#")));
    t.is(dev.pRxNetNameTable.size, 0);
    t.true(dev.unregistered);
    t.is(s.calls("MRxFinalizeNetRoot"), 1);
    t.is(s.calls("MRxFinalizeSrvCall"), 1);
  });

  // RxUnregisterMinirdr must force-finalize what is left, so the mini-redirector gets every finalize callback
  // (regression: the add-connection reference once kept the V_NET_ROOT, its NET_ROOT and SRV_CALL alive).
  test(title("unload with a connection in place: MRxFinalizeVNetRoot runs and every object is freed"), async (t) => {
    const { s, em, objects } = await unloadConnected(t);
    t.is(s.calls("MRxFinalizeVNetRoot"), 1);
    t.deepEqual(
      objects.filter((o) => o.freed === null).map((o) => `${o.label()} (count ${o.NodeReferenceCount})`),
      [],
      "objects left alive after the unload",
    );
    t.deepEqual(mrxSequence(em, ["MRxFinalizeVNetRoot", "MRxFinalizeNetRoot", "MRxFinalizeSrvCall"]), [
      "MRxFinalizeNetRoot",
      "MRxFinalizeVNetRoot",
      "MRxFinalizeSrvCall",
    ]);
  });
}

// ================================================================== suite: determinism

/** One scenario with concurrency: two user threads on their own files and a shared one, a notification. */
async function concurrentScenario(
  target: MiniRdrTarget,
  options: EmulatorOptions,
): Promise<{ run: RunResult; trace: string[]; contents: (string | null)[]; containers: string[] }> {
  const { em, dev } = await bootTarget(target, { trace: true, ...options });
  const s = new Session(em, target, dev);
  const app = em.k.createProcess("app.exe");
  const worker = (name: string) => async () => {
    const h = await s.mustOpen(`\\${name}.txt`, { disposition: FILE_CREATE });
    for (let i = 0; i < 3; i++) await s.write(h, `${name}${i}`, i * name.length + i);
    await s.nt.NtClose(h);
    const shared = await s.mustOpen("\\shared.txt");
    await s.write(shared, name, name === "alpha" ? 0 : 16);
    await s.nt.NtClose(shared);
    await s.createFile(`\\w\\${name}.done`);
  };
  em.k.createThread(app, "main", async () => {
    if ((await s.np.start()) !== S.STATUS_SUCCESS) throw new Error("START");
    if ((await s.np.netUse("N", target.remote)) !== S.STATUS_SUCCESS) throw new Error("net use");
    await s.mkdir("\\w");
    if (target.features.notify) {
      const d = await s.openDir("\\w", { sync: false, access: FILE_LIST_DIRECTORY | SYNCHRONIZE });
      await s.nt.NtNotifyChangeDirectoryFile(d.FileHandle, {
        CompletionFilter: FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
        Length: 256,
      });
      em.k.createThread(app, "alpha", worker("alpha"));
      em.k.createThread(app, "beta", worker("beta"));
      await s.delay(1);
      await s.nt.NtClose(d.FileHandle);
    } else {
      em.k.createThread(app, "alpha", worker("alpha"));
      em.k.createThread(app, "beta", worker("beta"));
      await s.delay(1);
    }
  });
  const first = await em.k.run();
  if (first.stop !== null) return { run: first, trace: em.k.trace.lines(), contents: [], containers: [] };
  let contents: (string | null)[] = [];
  let containers: string[] = [];
  em.k.createThread(app, "check", async () => {
    contents = [await s.contentOf("\\alpha.txt"), await s.contentOf("\\beta.txt"), await s.contentOf("\\shared.txt")];
    if ((await s.np.netUseDelete("N", 1)) !== S.STATUS_SUCCESS) throw new Error("net use /delete");
    await s.delay(25);
    containers = s.containers();
  });
  const run = await em.k.run();
  return { run, trace: em.k.trace.lines(), contents, containers };
}

/** The same seed replays the same run (event for event); other seeds still end clean and in the same state. */
export function determinismSuite(test: TestFn, target: MiniRdrTarget): void {
  const title = (s: string): string => `${target.name}: ${s}`;
  const expected = ["alpha0alpha1alpha2", "beta0beta1beta2", "alpha\0\0\0\0\0\0\0\0\0\0\0beta"];

  test(title("determinism: the same seed under strategy random gives an identical trace"), async (t) => {
    const a = await concurrentScenario(target, { seed: 1234, strategy: "random" });
    const b = await concurrentScenario(target, { seed: 1234, strategy: "random" });
    assertClean(t, a.run);
    assertClean(t, b.run);
    t.true(a.trace.length > 100, `a real trace (${a.trace.length} events)`);
    const diff = a.trace.findIndex((l, i) => l !== b.trace[i]);
    t.is(diff, -1, diff >= 0 ? `first difference at event ${diff}: ${a.trace[diff]} / ${b.trace[diff]}` : "");
    t.is(a.trace.length, b.trace.length);
    t.deepEqual(a.run.choices, b.run.choices);
    t.deepEqual(a.contents, expected);
  });

  test(title("determinism: different seeds all end clean, in the same final state"), async (t) => {
    const traces = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const r = await concurrentScenario(target, { seed, strategy: "random" });
      assertClean(t, r.run);
      t.deepEqual(r.contents, expected, `seed ${seed}`);
      t.deepEqual(r.containers, [], `seed ${seed}: the connection is gone`);
      traces.add(r.trace.join("\n"));
    }
    t.true(traces.size > 1, "the seeds explored different schedules");
    const fifo = await concurrentScenario(target, { strategy: "fifo" });
    assertClean(t, fifo.run);
    t.deepEqual(fifo.contents, expected);
  });
}

// ================================================================== everything

/** Every suite, for a mini-redirector that wants the whole conformance run in one file. */
export function conformanceSuite(test: TestFn, target: MiniRdrTarget): void {
  filesSuite(test, target);
  notifySuite(test, target);
  connectionSuite(test, target);
  delayedCloseSuite(test, target);
  startStopSuite(test, target);
  determinismSuite(test, target);
}
