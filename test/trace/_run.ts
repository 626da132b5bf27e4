/**
 * One small nulmrx run for the trace and graph tests: boot, load nulmrx, START, `net use N:`, open a file, write,
 * read (synchronously and, on an asynchronous file object, completed from a DPC), close, let the scavenger run,
 * `net use N: /delete`, let it run again. `at` hooks see the emulator at named points of the program (on the user
 * thread, between system calls). Not a test file itself (ava runs `*.test.ts`).
 */
import { bootEmulator, createEmulator, type Emulator, inSystemThread } from "../../emulator/boot.js";
import {
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  type NtCreateFileResult,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { type RunResult, STATUS, type StrategyName, statusName } from "../../emulator/kernel/index.js";
import { loadNulMrx, NulNetworkProvider } from "../../miniredirs/nulmrx/index.js";

export type RunPoint = "connected" | "open" | "closed" | "scavenged" | "deleted" | "end";

export interface TraceRunOptions {
  readonly trace?: boolean;
  readonly seed?: number;
  readonly strategy?: StrategyName;
  /** Hooks called on the user thread at each point of the program. */
  readonly at?: Partial<Record<RunPoint, (em: Emulator) => void>>;
}

export interface TraceRun {
  readonly em: Emulator;
  readonly run: RunResult;
}

const must = (what: string, s: number): void => {
  if (s !== STATUS.STATUS_SUCCESS) throw new Error(`${what}: ${statusName(s)}`);
};

/** An emulator with nulmrx loaded (reads and writes pend and complete from a DPC after 0.5 ms of virtual time). */
export async function bootNulMrx(
  options: Pick<TraceRunOptions, "trace" | "seed" | "strategy"> = {},
): Promise<{ em: Emulator; np: NulNetworkProvider }> {
  const em = createEmulator({
    seed: options.seed ?? 7,
    trace: options.trace ?? true,
    ...(options.strategy !== undefined ? { strategy: options.strategy } : {}),
  });
  const boot = await bootEmulator(em);
  if (boot.outcome !== "idle") throw new Error(`boot: ${boot.stop?.format()}`);
  const load = await inSystemThread(em, "load nulmrx", () =>
    loadNulMrx(em, { dpcLatency: 5000, canCompleteAtDpcLevel: true }),
  );
  if (load.run.outcome !== "idle" || load.value?.status !== STATUS.STATUS_SUCCESS) throw new Error("load nulmrx");
  return { em, np: new NulNetworkProvider(em) };
}

/** NtCreateFile of `\??\N:<name>` with FILE_OPEN_IF. */
export function openFile(em: Emulator, name: string, access: number, sync: boolean): Promise<NtCreateFileResult> {
  return em.sys.nt.NtCreateFile({
    ObjectName: `\\??\\N:${name}`,
    DesiredAccess: access,
    ShareAccess: 7,
    CreateDisposition: FILE_OPEN_IF,
    CreateOptions: sync ? FILE_SYNCHRONOUS_IO_NONALERT : 0,
  });
}

export async function nulmrxRun(options: TraceRunOptions = {}): Promise<TraceRun> {
  const { em, np } = await bootNulMrx(options);
  const nt = em.sys.nt;
  const at = (p: RunPoint): void => options.at?.[p]?.(em);
  const delay = (seconds: number) => em.k.KeDelayExecutionThread(-Math.round(seconds * 10_000_000));
  em.k.createThread(em.k.createProcess("app.exe"), "app", async () => {
    must("START", await np.start());
    must("net use", await np.netUse("N", "\\\\srv\\share"));
    at("connected");
    const f = await openFile(em, "\\a.txt", GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, true);
    must("open", f.Status);
    must(
      "write",
      (await nt.NtWriteFile(f.FileHandle, { Buffer: new TextEncoder().encode("hello"), ByteOffset: 0 })).Status,
    );
    must("read", (await nt.NtReadFile(f.FileHandle, { Buffer: new Uint8Array(16), ByteOffset: 0 })).Status);
    // An asynchronous file object: the read returns STATUS_PENDING and a DPC completes the IRP.
    const g = await openFile(em, "\\a.txt", GENERIC_READ, false);
    must("open async", g.Status);
    const r = await nt.NtReadFile(g.FileHandle, { Buffer: new Uint8Array(16), ByteOffset: 0 });
    if (r.Status !== STATUS.STATUS_PENDING || r.request === null)
      throw new Error(`async read: ${statusName(r.Status)}`);
    const done = await r.request.wait();
    if (done?.Status !== STATUS.STATUS_SUCCESS) throw new Error("async read did not succeed");
    at("open");
    await nt.NtClose(g.FileHandle);
    await nt.NtClose(f.FileHandle);
    at("closed");
    await delay(11);
    at("scavenged");
    must("net use /delete", await np.netUseDelete("N", 0));
    at("deleted");
    await delay(11);
    at("end");
  });
  const run = await em.k.run();
  return { em, run };
}
