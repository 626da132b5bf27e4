/**
 * Helpers shared by the RDBSS routine-level tests (not a test file itself: ava only runs `*.test.ts`).
 *
 * A test boots an emulator, loads nulmrx, starts it through its network provider, and then runs emulated threads:
 * user threads (a process of their own, the Nt* services) for the end-to-end setup, and kernel threads (the System
 * process, or a thread of another process) that call the RDBSS routines directly with the locks they need.
 */
import type { ExecutionContext } from "ava";
import { bootEmulator, createEmulator, type Emulator, type EmulatorOptions } from "../../emulator/boot.js";
import {
  FILE_DIRECTORY_FILE,
  FILE_LIST_DIRECTORY,
  FILE_NON_DIRECTORY_FILE,
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  type NtCreateFileResult,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import type { KEVENT, KernelStop, KProcess, KThread, NTSTATUS, RunResult } from "../../emulator/kernel/index.js";
import { BUGCHECK, EventType, RDBSS_BUG_CHECK, STATUS, statusName } from "../../emulator/kernel/index.js";
import type {
  FCB,
  FOBX,
  MrxCallRecord,
  NET_ROOT,
  RDBSS_ASSERT,
  RDBSS_DEVICE_OBJECT,
  RX_CONTEXT,
  SRV_CALL,
  SRV_OPEN,
  V_NET_ROOT,
} from "../../emulator/rdbss/index.js";
import { loadNulMrxModule, type MiniRdrModule, nulmrxModule } from "../../miniredirs/index.js";
import { type NulExtensions, NulMrx, type NulMrxOptions, NulNetworkProvider } from "../../miniredirs/nulmrx/index.js";

export const enc = new TextEncoder();

/** One second of virtual time, in 100 ns units. */
export const SECOND = 10_000_000;

/** The three ForceFilesClosed levels of RxFinalizeConnection (and of the DELCONN IOCTL's first byte). */
export const FORCE_LEVELS = [
  { name: "FALSE", level: 0, arg: false },
  { name: "TRUE", level: 1, arg: true },
  { name: "0xff", level: 0xff, arg: 0xff },
] as const;

export interface World {
  readonly em: Emulator;
  readonly mrx: NulMrx;
  readonly dev: RDBSS_DEVICE_OBJECT;
  /** A user process for the tests' user threads. */
  readonly app: KProcess;
}

export interface WorldOptions extends EmulatorOptions {
  readonly nul?: NulMrxOptions;
  /** Build the mini-redirector (default: a plain NulMrx); a subclass lets a test change one callback. */
  readonly makeMrx?: (em: Emulator) => NulMrx;
  /** Start the mini-redirector through the provider (default true). */
  readonly start?: boolean;
}

/** Boot, load nulmrx (or a subclass) and start it. Throws when any of it does not end cleanly. */
export async function makeWorld(options: WorldOptions = {}): Promise<World> {
  const { nul, makeMrx, start, ...emOptions } = options;
  const em = createEmulator({ trace: false, ...emOptions });
  const boot = await bootEmulator(em);
  if (boot.outcome !== "idle") throw new Error(`boot did not finish: ${boot.stop?.format()}`);
  const mrx = makeMrx ? makeMrx(em) : new NulMrx(em.rx, nul ?? {});
  let loaded: NTSTATUS | undefined;
  em.k.PsCreateSystemThread("load nulmrx", async () => {
    const r = await em.sys.io.IoCreateDriver("\\FileSystem\\NulMRx", (d) => mrx.DriverEntry(d));
    loaded = r.status;
  });
  clean(await em.k.run(), "load");
  if (loaded !== 0) throw new Error(`nulmrx did not load: ${loaded}`);
  const dev = em.rx.devices[0] as RDBSS_DEVICE_OBJECT;
  const app = em.k.createProcess("app.exe");
  const w: World = { em, mrx, dev, app };
  if (start !== false) {
    let st: NTSTATUS | undefined;
    await user(w, async (np) => {
      st = await np.start();
    });
    if (st !== 0) throw new Error(`nulmrx did not start: ${st === undefined ? "?" : statusName(st)}`);
  }
  return w;
}

/** Run one user thread (in the test's app process) with a network provider, to the end of the run. */
export async function user(w: World, body: (np: NulNetworkProvider, t: KThread) => Promise<void>): Promise<RunResult> {
  w.em.k.createThread(w.app, "user", (t) => body(new NulNetworkProvider(w.em), t));
  return w.em.k.run();
}

/** Run `body` on a new thread of the System process (the RDBSS process). */
export function systemThread(w: World, name: string, body: (t: KThread) => Promise<void> | void): Promise<RunResult> {
  w.em.k.PsCreateSystemThread(name, body);
  return w.em.k.run();
}

/** Run `body` on a kernel-mode thread of a process other than the RDBSS process (a driver called from an app). */
export function foreignThread(
  w: World,
  name: string,
  body: (t: KThread) => Promise<void> | void,
  process: KProcess = w.em.k.createProcess("foreign.exe"),
): Promise<RunResult> {
  w.em.k.createThread(process, name, body);
  return w.em.k.run();
}

/** A run that must have ended without stop, violation or thread error; returns it. */
export function clean(r: RunResult, what = "run"): RunResult {
  if (r.stop !== null) throw new Error(`${what}: unexpected stop:\n${r.stop.format()}`);
  if (r.violations.length > 0)
    throw new Error(`${what}: unexpected violations:\n${r.violations.map((v) => v.format()).join("\n")}`);
  if (r.threadErrors.length > 0) {
    const e = r.threadErrors[0]?.error;
    throw e instanceof Error ? e : new Error(String(e));
  }
  return r;
}

/** The stop of a run that must have stopped. */
export function stopOf(r: RunResult): KernelStop {
  if (r.stop === null) throw new Error(`expected the run to stop, but it ended "${r.outcome}"`);
  return r.stop;
}

/** Open a file (or directory) on a drive letter for synchronous I/O. */
export function openFile(
  w: World,
  path: string,
  extra: { dir?: boolean; async?: boolean; options?: number; disposition?: number } = {},
): Promise<NtCreateFileResult> {
  const options =
    (extra.options ?? 0) |
    (extra.dir ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE) |
    (extra.async ? 0 : FILE_SYNCHRONOUS_IO_NONALERT);
  return w.em.sys.nt.NtCreateFile({
    ObjectName: path,
    DesiredAccess: GENERIC_READ | GENERIC_WRITE | FILE_LIST_DIRECTORY | (extra.async ? 0 : SYNCHRONIZE),
    ShareAccess: 7,
    CreateDisposition: extra.disposition ?? FILE_OPEN_IF,
    CreateOptions: options,
  });
}

// ---------------------------------------------------------------- object access

export function srvCalls(w: World): SRV_CALL[] {
  return w.dev.pRxNetNameTable.containers().filter((c): c is SRV_CALL => c.kind === "SRV_CALL");
}
export function netRoots(w: World): NET_ROOT[] {
  return w.dev.pRxNetNameTable.containers().filter((c): c is NET_ROOT => c.kind === "NET_ROOT");
}
export function vNetRoots(w: World): V_NET_ROOT[] {
  return w.dev.pRxNetNameTable.containers().filter((c): c is V_NET_ROOT => c.kind === "V_NET_ROOT");
}

/** The one object of a kind (throws when there are none or several). */
export function only<T>(xs: readonly T[], what = "object"): T {
  if (xs.length !== 1) throw new Error(`expected exactly one ${what}, found ${xs.length}`);
  return xs[0] as T;
}

export function fcbs(w: World, netRoot: NET_ROOT): FCB[] {
  return w.em.rx.fcbTableOf(netRoot).all();
}

/** The connection objects of a drive letter's V_NET_ROOT ("\;N:0\srv\share"). */
export function connection(w: World, letter = "N"): { srvCall: SRV_CALL; netRoot: NET_ROOT; vNetRoot: V_NET_ROOT } {
  const vNetRoot = only(
    vNetRoots(w).filter((v) => v.PrefixName.startsWith(`\\;${letter}:`)),
    `V_NET_ROOT for ${letter}:`,
  );
  return { srvCall: vNetRoot.pNetRoot.pSrvCall, netRoot: vNetRoot.pNetRoot, vNetRoot };
}

export function srvOpenOf(fcb: FCB): SRV_OPEN {
  return only(fcb.SrvOpenList, `SRV_OPEN of ${fcb.label()}`);
}
export function fobxOf(so: SRV_OPEN): FOBX {
  return only(so.FobxList, `FOBX of ${so.label()}`);
}

// ---------------------------------------------------------------- MRx calls

/** The MRx call records of one entry, in order. */
export function calls(w: World, name: string): MrxCallRecord[] {
  return w.em.rx.mrxLog.filter((r) => r.name === name);
}

/** How many times an MRx entry was called on the device. */
export function count(w: World, name: string): number {
  return w.dev.mrxCalls.get(name) ?? 0;
}

/** The names of the MRx calls logged after index `from`, filtered to those in `names`. */
export function mrxOrder(w: World, names: readonly string[], from = 0): string[] {
  return w.em.rx.mrxLog.slice(from).flatMap((r) => (names.includes(r.name) ? [r.name] : []));
}

/** A context for direct calls ("test"), marked as waitable. */
export function internalContext(w: World, why = "test"): RX_CONTEXT {
  return w.em.rx.makeInternalContext(w.dev, why);
}

/** Take the netname table lock (exclusive unless told otherwise) around `fn`. */
export async function withNetName<T>(w: World, fn: () => Promise<T> | T, exclusive = true): Promise<T> {
  const lock = w.dev.pRxNetNameTable.TableLock;
  await w.em.rx.acquire(lock, exclusive);
  try {
    return await fn();
  } finally {
    if (w.em.k.stopped === null) w.em.rx.release(lock);
  }
}

/** Take an FCB's resource exclusive around `fn` (not released when `fn` says the FCB was freed). */
export async function withFcb<T>(w: World, fcb: FCB, fn: () => Promise<T> | T, releaseAfter = true): Promise<T> {
  await w.em.rx.acquire(fcb.Header.Resource, true);
  const r = await fn();
  if (releaseAfter && w.em.k.stopped === null && !fcb.freed) w.em.rx.release(fcb.Header.Resource);
  return r;
}

/** Net use N: \\srv\share and open \??\N:\<file>; returns the handle (to be closed by the caller). */
export async function netUseAndOpen(w: World, np: NulNetworkProvider, file = "f.txt", letter = "N"): Promise<number> {
  const st = await np.netUse(letter, "\\\\srv\\share");
  if (st !== 0) throw new Error(`net use failed: ${statusName(st)}`);
  const h = await openFile(w, `\\??\\${letter}:\\${file}`);
  if (h.Status !== 0) throw new Error(`open failed: ${statusName(h.Status)}`);
  return h.FileHandle;
}

// ---------------------------------------------------------------- stops

/** Parameter 1 of an RDBSS assertion stop: RDBSS_BUG_CHECK_ASSERT | sub-code. */
export function assertParam(sub: (typeof RDBSS_ASSERT)[keyof typeof RDBSS_ASSERT]): bigint {
  return BigInt((RDBSS_BUG_CHECK.ASSERT | sub) >>> 0);
}

/**
 * The run stopped with bug check 0x27 RDR_FILE_SYSTEM from the RDBSS check `check`, parameter 1
 * RDBSS_BUG_CHECK_ASSERT | `sub`, raised inside `routine` (the innermost call-chain frame of that name).
 */
export function assertRdbssStop(
  t: ExecutionContext,
  r: RunResult,
  check: string,
  sub: (typeof RDBSS_ASSERT)[keyof typeof RDBSS_ASSERT],
  routine?: string,
): KernelStop {
  const s = stopOf(r);
  t.is(s.kind, "bugcheck");
  t.is(s.code, BUGCHECK.RDR_FILE_SYSTEM);
  t.is(s.name, "RDR_FILE_SYSTEM");
  t.is(s.check, check);
  t.is(s.params[0], assertParam(sub));
  if (routine !== undefined) t.true(s.callChain.includes(routine), `call chain ${s.callChain.join(" → ")}`);
  return s;
}

/** The run stopped with bug check 0xA IRQL_NOT_LESS_OR_EQUAL (check "irql") inside `routine`, at `irql`. */
export function assertIrqlStop(t: ExecutionContext, r: RunResult, routine: string, irql: number): KernelStop {
  const s = stopOf(r);
  t.is(s.code, BUGCHECK.IRQL_NOT_LESS_OR_EQUAL);
  t.is(s.name, "IRQL_NOT_LESS_OR_EQUAL");
  t.is(s.check, "irql");
  t.is(s.params[1], BigInt(irql));
  t.is(s.callChain[s.callChain.length - 1], routine);
  t.true(s.reason.startsWith(`${routine} was called at`), s.reason);
  return s;
}

// ---------------------------------------------------------------- objects built by hand

export interface HandGraph {
  readonly srvCall: SRV_CALL;
  readonly netRoot: NET_ROOT;
  readonly vNetRoot: V_NET_ROOT;
  readonly fcb: FCB;
  readonly srvOpen: SRV_OPEN;
  readonly fobx: FOBX;
  readonly ctx: RX_CONTEXT;
}

/**
 * SRV_CALL "\<name>", NET_ROOT "\<name>\share" and V_NET_ROOT "\;H:0\<name>\share" built with RxCreate* under
 * the netname table (count 1 each but the NET_ROOT, 2: table + V_NET_ROOT, and the SRV_CALL, 2: table + NET_ROOT),
 * then an FCB "\hand.txt" (FCB table held: count 2), a SRV_OPEN (FCB held: count 1, +1 for the FOBX) and a FOBX
 * (count 1). No mini-redirector callback runs; nothing is open.
 */
export async function handBuild(w: World, name = "\\hand"): Promise<HandGraph> {
  return (await build(w, name, true)) as HandGraph;
}

/** As handBuild, without the FCB, SRV_OPEN and FOBX: the V_NET_ROOT has only the table's reference. */
export async function handConnection(
  w: World,
  name = "\\hand",
): Promise<Pick<HandGraph, "srvCall" | "netRoot" | "vNetRoot" | "ctx">> {
  return build(w, name, false);
}

async function build(
  w: World,
  name: string,
  files: boolean,
): Promise<Pick<HandGraph, "srvCall" | "netRoot" | "vNetRoot" | "ctx"> | HandGraph> {
  let g: Pick<HandGraph, "srvCall" | "netRoot" | "vNetRoot" | "ctx"> | HandGraph | null = null;
  clean(
    await systemThread(w, "hand build", async () => {
      const rx = w.em.rx;
      const ctx = internalContext(w, "hand build");
      const lock = w.dev.pRxNetNameTable.TableLock;
      await rx.acquire(lock, true);
      const srvCall = rx.RxCreateSrvCall(ctx, name, null)!;
      const netRoot = rx.RxCreateNetRoot(srvCall, "\\share");
      if (netRoot === null) throw new Error("RxCreateNetRoot failed");
      const vNetRoot = rx.RxCreateVNetRoot(ctx, netRoot, `\\;H:0${name}\\share`, "H:", "");
      if (vNetRoot === null) throw new Error("RxCreateVNetRoot failed");
      rx.release(lock);
      if (!files) {
        g = { srvCall, netRoot, vNetRoot, ctx };
        return;
      }
      const table = rx.fcbTableOf(netRoot);
      await rx.acquire(table.TableLock, true);
      const fcb = rx.RxCreateNetFcb(ctx, vNetRoot, "\\hand.txt")!;
      rx.release(table.TableLock);
      await rx.acquire(fcb.Header.Resource, true);
      const srvOpen = rx.RxCreateSrvOpen(vNetRoot, fcb)!;
      const fobx = rx.RxCreateNetFobx(ctx, srvOpen)!;
      rx.release(fcb.Header.Resource);
      g = { srvCall, netRoot, vNetRoot, fcb, srvOpen, fobx, ctx };
    }),
    "hand build",
  );
  if (g === null) throw new Error("hand build did not finish");
  return g;
}

/** Only the SRV_CALL (count 1: the table's reference), built under the netname table. */
export async function handSrvCall(w: World, name = "\\lone"): Promise<SRV_CALL> {
  let sc: SRV_CALL | null = null;
  clean(
    await systemThread(w, "hand build", () =>
      withNetName(w, () => {
        sc = w.em.rx.RxCreateSrvCall(internalContext(w), name, null);
      }),
    ),
    "hand build",
  );
  if (sc === null) throw new Error("no SRV_CALL");
  return sc;
}

/** An FCB for `path` on a V_NET_ROOT, created under the FCB table (count 2: table + creator); nothing opened. */
export async function handFcb(w: World, vNetRoot: V_NET_ROOT, path = "\\lone.txt"): Promise<FCB> {
  let fcb: FCB | null = null;
  clean(
    await systemThread(w, "hand build", async () => {
      const rx = w.em.rx;
      const table = rx.fcbTableOf(vNetRoot.pNetRoot);
      await rx.acquire(table.TableLock, true);
      fcb = rx.RxCreateNetFcb(internalContext(w), vNetRoot, path);
      rx.release(table.TableLock);
    }),
    "hand build",
  );
  if (fcb === null) throw new Error("no FCB");
  return fcb;
}

/**
 * Free a hand-built FCB (handFcb): drop its count to 1 and RxFinalizeNetFcb it under the FCB table and its resource,
 * on a thread named "purge". Returns whether it was freed.
 */
export async function freeHandFcb(w: World, fcb: FCB): Promise<boolean> {
  let freed = false;
  clean(
    await systemThread(w, "purge", async () => {
      const rx = w.em.rx;
      const table = rx.fcbTableOf(fcb.pNetRoot);
      await rx.acquire(table.TableLock, true);
      await rx.acquire(fcb.Header.Resource, true);
      rx.RxpDereferenceNetFcb(fcb);
      freed = await rx.RxFinalizeNetFcb(fcb, false, false, 1);
      rx.release(table.TableLock);
    }),
  );
  return freed;
}

/** A notification event for coordinating the test's threads. */
export function event(w: World, name: string): KEVENT {
  return w.em.k.KeInitializeEvent(EventType.NotificationEvent, false, name);
}

export async function waitFor(w: World, ev: KEVENT): Promise<void> {
  await w.em.k.KeWaitForSingleObject(ev);
}

/** Sleep `seconds` of virtual time on the current emulated thread. */
export async function sleep(w: World, seconds: number): Promise<void> {
  await w.em.k.KeDelayExecutionThread(-Math.round(seconds * SECOND));
}

// ---------------------------------------------------------------- a recording nulmrx

/** One call of a finalize callback as the recording mini-redirector saw it. */
export interface FinalizeCall {
  readonly name: "MRxFinalizeSrvCall" | "MRxFinalizeNetRoot" | "MRxFinalizeVNetRoot";
  readonly target: string;
  /** The Force / ForceDisconnect argument exactly as passed. */
  readonly force: unknown;
  readonly thread: string;
  readonly process: string;
  readonly processIsSystem: boolean;
  /** The object's memory state and count when the callback ran. */
  readonly freedAtCall: boolean;
  readonly countAtCall: number;
  /** How the calling thread held the device's netname table during the callback. */
  readonly netNameTable: "exclusive" | "shared" | "not held";
  /** A global sequence number shared with `mark` (to order the callback against the test's own steps). */
  readonly seq: number;
}

/**
 * nulmrx with its three finalize callbacks recorded (arguments, thread, process, object state). `marks` lets a
 * test put its own steps in the same sequence. With `armCancelDirectly`, change notifications arm their cancel
 * routine by writing RxContext->MRxCancelRoutine (what a mini-redirector does where RxSetMinirdrCancelRoutine is
 * not exported, i.e. under the reactos profile) and the cancel routine completes them with STATUS_CANCELLED.
 */
export class RecordingNulMrx extends NulMrx {
  readonly finalizeCalls: FinalizeCall[] = [];
  readonly marks: { readonly label: string; readonly seq: number }[] = [];
  private seq = 0;

  constructor(em: Emulator, options: NulMrxOptions & { armCancelDirectly?: boolean } = {}) {
    super(em.rx, options);
    if (options.armCancelDirectly) {
      const lowio = [...this.MRxLowIOSubmit];
      lowio[8] = (ctx) => this.pendNotify(ctx);
      (this as unknown as { MRxLowIOSubmit: typeof lowio }).MRxLowIOSubmit = lowio;
    }
  }

  mark(label: string): void {
    this.marks.push({ label, seq: ++this.seq });
  }

  /** The sequence number of a mark. */
  markSeq(label: string): number {
    const m = this.marks.find((x) => x.label === label);
    if (!m) throw new Error(`no mark "${label}"`);
    return m.seq;
  }

  private record(
    name: FinalizeCall["name"],
    obj: { label(): string; NodeReferenceCount: number },
    force: unknown,
  ): void {
    const t = this.rx.k.thread(name);
    this.finalizeCalls.push({
      name,
      target: obj.label(),
      force,
      thread: t.name,
      process: t.process.name,
      processIsSystem: t.process.isSystem,
      freedAtCall: (obj as { freed?: unknown }).freed !== null,
      countAtCall: obj.NodeReferenceCount,
      netNameTable: this.netNameHeld(t),
      seq: ++this.seq,
    });
  }

  private netNameHeld(t: KThread): FinalizeCall["netNameTable"] {
    const lock = this.device?.pRxNetNameTable.TableLock;
    if (!lock) return "not held";
    if (lock.exclusiveOwner === t) return "exclusive";
    return lock.sharedOwners.has(t) ? "shared" : "not held";
  }

  callsOf(name: FinalizeCall["name"]): FinalizeCall[] {
    return this.finalizeCalls.filter((c) => c.name === name);
  }

  override MRxFinalizeSrvCall(srvCall: Parameters<NulMrx["MRxFinalizeSrvCall"]>[0], force?: boolean): NTSTATUS {
    this.record("MRxFinalizeSrvCall", srvCall, force);
    return super.MRxFinalizeSrvCall(srvCall);
  }

  override MRxFinalizeNetRoot(netRoot?: { label(): string; NodeReferenceCount: number }, force?: unknown): NTSTATUS {
    if (netRoot) this.record("MRxFinalizeNetRoot", netRoot, force);
    return super.MRxFinalizeNetRoot();
  }

  override MRxFinalizeVNetRoot(vNetRoot?: { label(): string; NodeReferenceCount: number }, force?: unknown): NTSTATUS {
    if (vNetRoot) this.record("MRxFinalizeVNetRoot", vNetRoot, force);
    return super.MRxFinalizeVNetRoot();
  }

  /** Pend a change notification with RxContext->MRxCancelRoutine set directly. */
  private pendNotify(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    ctx.MRxCancelRoutine = (c) => {
      c.IoStatusBlock.Status = STATUS.STATUS_CANCELLED;
      c.IoStatusBlock.Information = 0;
      this.rx.RxLowIoCompletion(c);
      return STATUS.STATUS_SUCCESS;
    };
    return STATUS.STATUS_PENDING;
  }
}

export { statusName };

/** A scenario module that loads a NulMrx subclass (`make`) as the built-in nulmrx module loads NulMrx. */
export function nulmrxSubclassModule(name: string, make: (em: Emulator) => NulMrx): MiniRdrModule {
  return {
    ...nulmrxModule,
    name,
    load: (em) => loadNulMrxModule(em, make(em)),
  };
}
