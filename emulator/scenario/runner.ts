/**
 * The scenario runner: boot an emulator, load the mini-redirector, run every thread's steps concurrently under the
 * scheduler, check each step's expectations as it completes, tear down (close, delete connections, STOP, unload)
 * and report what was left. Everything a step does goes through the Nt* services, the network provider, or (for
 * `call`) an RDBSS routine on an emulated thread; the runner itself never changes emulator state behind its back.
 */
import { basename } from "node:path";
import type { LoadedMiniRdr, MiniRdrModule } from "../../miniredirs/index.js";
import type { MemSmbWorld } from "../../miniredirs/memsmb/server/index.js";
import { bootEmulator, createEmulator, type Emulator, inSystemThread } from "../boot.js";
import {
  FaultInjector,
  type FaultReport,
  type FaultSpec,
  faultReports,
  faultStepSpec,
  formatFaultSpec,
} from "../faults/index.js";
import {
  decodeDirectoryEntries,
  decodeFileInformation,
  decodeFsInformation,
  decodeNotifyRecords,
  encodeFileInformation,
  FILE_ATTRIBUTE,
  FILE_INFORMATION_CLASS,
  type FILE_OBJECT,
  FILE_OPEN,
  FILE_SYNCHRONOUS_IO_NONALERT,
  FS_INFORMATION_CLASS,
  formatFlags,
  GENERIC_READ,
  GENERIC_WRITE,
  type IoRequest,
  isDecodeError,
  isDirectoryInformationClass,
  isSupportedFileInformationClass,
  isSupportedFsInformationClass,
  parseFlags,
  SYNCHRONIZE,
} from "../io/index.js";
import {
  type CheckMode,
  type KEVENT,
  type KernelStop,
  type KProcess,
  NT_SUCCESS,
  type NTSTATUS,
  ReplayStrategy,
  type RunResult,
  STATUS as S,
  type SchedulingStrategy,
  type StrategyName,
  statusName,
} from "../kernel/index.js";
import {
  type AnyRxNode,
  CONDITION_NAMES,
  FCB,
  FCB_STATE,
  FOBX,
  FOBX_FLAG,
  LockHoldingState,
  type NET_ROOT,
  NETROOT_FLAG,
  type RDBSS_DEVICE_OBJECT,
  RX_NODE_FLAG_FIELDS,
  type SRV_CALL,
  SRV_OPEN,
  SRVCALL_FLAG,
  SRVOPEN_FLAG,
  TRAPPED_FIELDS,
  V_NET_ROOT,
} from "../rdbss/index.js";
import { resolveMiniRdr } from "./import-module.js";
import { controlCodeNames, type LoadedScenario, type Location, type PlacedStep, type ThreadPlan } from "./load.js";
import type { ExpectValue, FieldExpectation, Step } from "./schema.js";
import { failureSignature, rerunDifference } from "./signature.js";

// ================================================================== reports

/** "interrupted": the step was running when the run stopped (it has no result); "not-run": it never started. */
export type StepOutcome = "passed" | "failed" | "error" | "interrupted" | "not-run";

export interface StepReport {
  /** Order in which the step started (0-based, over all threads). */
  readonly ordinal: number;
  readonly thread: string;
  readonly index: number;
  readonly op: Step["op"];
  readonly id: string | undefined;
  /** "threads.a.steps[2]" */
  readonly path: string;
  readonly where: Location;
  /** What was sent, in words ("NtCreateFile \??\X:\a.txt FILE_OPEN_IF …"). */
  readonly sent: string;
  /** What came back, in words. */
  readonly result: string;
  readonly status: string | null;
  /** The MRx calls made while the step ran ("MRxCreate", "MRxCleanupFobx @ worker" when another thread made it). */
  readonly mrx: readonly string[];
  /** Virtual time when the step ended, in seconds. */
  readonly time: number;
  readonly outcome: StepOutcome;
  /** Why it failed, in words. */
  readonly failure: string | null;
}

export interface StopReport {
  readonly kind: KernelStop["kind"];
  readonly code: string;
  readonly name: string;
  readonly params: readonly string[];
  readonly reason: string;
  readonly check: string | null;
  readonly thread: string | null;
  readonly callChain: readonly string[];
  /**
   * The stop came on a worker thread: who queued the work item it ran — the thread, the virtual time (seconds), the
   * step and the call chain at ExQueueWorkItem. Null otherwise.
   */
  readonly queuedBy: {
    readonly thread: string;
    readonly time: number;
    readonly step: string | null;
    readonly callChain: readonly string[];
  } | null;
  /**
   * What each scenario thread was doing when the run stopped; for a stop outside every step (on a worker, at
   * teardown), also the phase and the last step that ran.
   */
  readonly steps: readonly string[];
  /** true for the run's stop, false for a violation recorded (check in record mode). */
  readonly fatal: boolean;
  readonly text: string;
  /**
   * The scenario's failure that restates this stop ("the run stopped: NAME — reason"), if any: the text report points
   * to the stop instead of printing its reason again.
   */
  readonly failure: string | null;
}

export interface ScenarioReport {
  readonly scenario: string;
  readonly file: string;
  readonly passed: boolean;
  readonly seed: number | string;
  readonly profile: string;
  readonly minirdr: string;
  readonly steps: readonly StepReport[];
  readonly stops: readonly StopReport[];
  /** What was left after teardown (RDBSS objects at unload, backend state). */
  readonly leaks: readonly string[];
  /** Every divergence from an expectation, in words; the first is the headline. */
  readonly failures: readonly string[];
  /** Virtual time at the end, seconds. */
  readonly time: number;
  /** Scheduling steps of the run. */
  readonly schedulingSteps: number;
  /** The run's scheduling choices (for replay). */
  readonly choices: readonly number[];
  /** Every injected fault (setup.faults, RunOptions.faults, `fault` steps), in order (docs/FAULTS.md). */
  readonly faults: readonly FaultReport[];
}

export interface RunOptions {
  readonly seed?: number | string;
  readonly profile?: "docs" | "reactos";
  readonly strategy?: StrategyName | SchedulingStrategy;
  /** Check modes on top of the scenario's setup.checks. */
  readonly checks?: Readonly<Record<string, CheckMode>>;
  /** Record the event trace (read it from `em.k.trace.events` in `onFinish`). */
  readonly trace?: boolean;
  /** Called after every step (on the emulated thread, between scheduling points): snapshots, live printing. */
  readonly onStep?: (report: StepReport, em: Emulator) => void;
  /** Called once at the end with the emulator (traces, graphs, custom assertions). */
  readonly onFinish?: (em: Emulator, report: ScenarioReport) => void;
  /** Load a mini-redirector module by path (default: dynamic import); called once per run (see `lean`). */
  readonly importModule?: (path: string) => Promise<unknown>;
  /** Faults to inject while the steps run, after the scenario's setup.faults (docs/FAULTS.md). */
  readonly faults?: readonly FaultSpec[];
  /**
   * Run without the reference ledger first and again with it only when that run is not a clean pass (default
   * true; see runScenario). For a deterministic scenario the report is the same either way; a failing one loads
   * its mini-redirector twice. false runs once, with the checks as configured.
   */
  readonly lean?: boolean;
}

// ================================================================== helpers

const enc = new TextEncoder();
const dec = new TextDecoder();

class StepFailed extends Error {}

/** How long teardown lets the system idle (the scavenger runs every 10 s): 25 virtual seconds. */
const TEARDOWN_IDLE = 25 * 10_000_000;

/** Bytes as text when printable, else hex; cut at `max` bytes. */
export function showBytes(b: Uint8Array, max = 48): string {
  const cut = b.subarray(0, max);
  const more = b.length > max ? `… (${b.length} bytes)` : "";
  let printable = true;
  for (const c of cut) if (c < 0x20 || c > 0x7e) printable = c === 10 || c === 13 || c === 9 ? printable : false;
  if (printable) return `${JSON.stringify(dec.decode(cut))}${more}`;
  return `0x${Buffer.from(cut).toString("hex")}${more}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** `X:\a` → `\??\X:\a`; `\\srv\share\a` → `\??\UNC\srv\share\a`; NT paths unchanged. */
export function ntPath(path: string): string {
  if (/^[A-Za-z]:/.test(path)) return `\\??\\${path[0]?.toUpperCase()}${path.slice(1)}`;
  if (path.startsWith("\\\\")) return `\\??\\UNC\\${path.slice(2)}`;
  return path;
}

const norm = (k: string): string => k.replace(/[_\s]/g, "").toLowerCase();

const FLAG_TABLES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  SRV_CALL: SRVCALL_FLAG,
  NET_ROOT: NETROOT_FLAG,
  FCB: FCB_STATE,
  SRV_OPEN: SRVOPEN_FLAG,
  FOBX: FOBX_FLAG,
  V_NET_ROOT: {},
};

function fmtTime(t: number): number {
  return Math.round(t / 10) / 1_000_000;
}

/** Whether a reported MRx call ("MRxFinalizeSrvCall(TRUE) @ Delayed worker 1") is the expected one. */
function mrxCallMatches(reported: string, expected: string, stepThread: string): boolean {
  // "MRxFinalizeSrvCall(TRUE) @ Delayed worker 1"; no "@" when the step's own thread made the call.
  const at = reported.indexOf(" @ ");
  const call = at >= 0 ? reported.slice(0, at) : reported;
  const thread = at >= 0 ? reported.slice(at + 3) : stepThread;
  // An expectation may name the thread: "MRxFinalizeSrvCall @ Delayed worker" (a prefix of its name).
  const eat = expected.indexOf(" @ ");
  const want = eat >= 0 ? expected.slice(0, eat) : expected;
  if (eat >= 0 && !thread.startsWith(expected.slice(eat + 3))) return false;
  return want.includes("(") ? call === want : call.replace(/\(.*$/, "") === want;
}

/** Compare one field; returns a failure text or null. */
function compareField(
  what: string,
  key: string,
  actual: unknown,
  expected: FieldExpectation,
  flags?: Readonly<Record<string, number>>,
): string | null {
  if (typeof expected === "object") {
    if (typeof actual !== "number") return `${what}.${key} is ${JSON.stringify(actual)}, not a number`;
    if (expected.min !== undefined && actual < expected.min)
      return `${what}.${key} is ${actual}, expected at least ${expected.min}`;
    if (expected.max !== undefined && actual > expected.max)
      return `${what}.${key} is ${actual}, expected at most ${expected.max}`;
    return null;
  }
  if (typeof expected === "string" && typeof actual === "number") {
    // Flag names on a numeric field: those bits must be set. A Condition by name.
    if (norm(key) === "condition") {
      const want = expected.replace(/^Condition_/, "");
      const got = CONDITION_NAMES[actual] ?? String(actual);
      return got === want ? null : `${what}.Condition is ${got}, expected ${want}`;
    }
    let mask = 0;
    for (const term of expected.split("|").map((t) => t.trim())) {
      const v = flags?.[term] ?? (FILE_ATTRIBUTE as Readonly<Record<string, number>>)[term];
      if (v === undefined) return `${what}.${key}: unknown flag name "${term}"`;
      mask |= v;
    }
    return (actual & mask) === mask
      ? null
      : `${what}.${key} is 0x${(actual >>> 0).toString(16)}, expected ${expected} to be set`;
  }
  if (actual !== expected) return `${what}.${key} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
  return null;
}

/** A case- and underscore-insensitive property lookup, flattening one level of nested objects. */
function lookupField(obj: Record<string, unknown>, key: string): { found: boolean; value: unknown } {
  const n = norm(key);
  for (const [k, v] of Object.entries(obj)) if (norm(k) === n) return { found: true, value: v };
  for (const v of Object.values(obj)) {
    if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const r = lookupField(v as Record<string, unknown>, key);
      if (r.found) return r;
    }
  }
  return { found: false, value: undefined };
}

const PRIVATE_NODE_FIELDS: ReadonlySet<string> = new Set([
  "fate",
  "srvOpenFirst",
  "fobxFirst",
  "nextInFcb",
  "nextInSrvOpen",
  "livePrev",
  "liveNext",
]);

/** What a step observed, for its expectations (check) and its report line. */
interface StepGot {
  status: NTSTATUS | null;
  information?: number;
  data?: Uint8Array;
  names?: string[];
  records?: { action: number; fileName: string }[];
  fields?: Record<string, unknown> | null;
  output?: Uint8Array;
  result?: boolean | NTSTATUS;
  connections?: { local: string; remote: string }[];
  successRequired?: boolean;
}

/** A plain view of an RDBSS object's own fields (with accessors that matter). */
function objectFields(o: AnyRxNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const view = o as unknown as Record<string, unknown>;
  // Own fields, and the MRX_ view's `accessor` fields (on the class, not the object, listed by kind), but RDBSS's
  // private links and label slot.
  for (const k of [...Object.keys(o), ...TRAPPED_FIELDS[o.kind]]) {
    const v = view[k];
    if ((typeof v !== "object" || v === null) && !PRIVATE_NODE_FIELDS.has(k)) out[k] = v;
  }
  for (const k of RX_NODE_FLAG_FIELDS) if (k in o) out[k] = (o as unknown as Record<string, unknown>)[k];
  out.NodeReferenceCount = o.NodeReferenceCount;
  out.refs = o.NodeReferenceCount;
  out.Condition = o.Condition;
  out.freed = o.freed !== null;
  out.exists = o.freed === null;
  if (o instanceof SRV_OPEN) out.fobxCount = o.FobxList.length;
  if (o instanceof FCB) out.srvOpenCount = o.srvOpenCount;
  return out;
}

// ================================================================== the runner

interface HandleEntry {
  readonly handle: number;
  readonly process: KProcess;
  readonly fileObject: FILE_OBJECT | null;
  readonly path: string;
  closed: boolean;
}

interface RequestEntry {
  readonly request: IoRequest;
  readonly kind: "notify" | "read" | "other";
  readonly buffer: Uint8Array | null;
  readonly handle: string;
}

class ScenarioRun {
  readonly em: Emulator;
  readonly loaded: LoadedScenario;
  readonly options: RunOptions;
  mod!: MiniRdrModule;
  mrx!: LoadedMiniRdr;
  dev: RDBSS_DEVICE_OBJECT | null = null;
  readonly steps: StepReport[] = [];
  readonly failures: string[] = [];
  /**
   * The report is made. A stop ends the run while a thread's frames are still unwinding (the BugCheckError travels
   * up its await chain in microtasks after the kernel has returned); what those frames would record about the step
   * the stop interrupted is not part of the run, whose report already says "the run stopped during this step".
   */
  finished = false;
  readonly handles = new Map<string, HandleEntry>();
  readonly requests = new Map<string, RequestEntry>();
  readonly events = new Map<string, KEVENT>();
  readonly processes = new Map<string, KProcess>();
  /** Drive letter → the process whose net-use step connected it (its logon session owns the connection). */
  readonly driveOwners = new Map<string, KProcess>();
  readonly current = new Map<string, PlacedStep>();
  /** Per thread, where the MRx log stood when its current step began: a step a stop interrupts lists its calls too. */
  readonly stepLogStart = new Map<string, number>();
  /** The step that started last (over all threads): where a stop outside every step came after. */
  lastStarted: PlacedStep | null = null;
  private ordinal = 0;
  unloaded = false;
  started = false;

  constructor(em: Emulator, loaded: LoadedScenario, options: RunOptions) {
    this.em = em;
    this.loaded = loaded;
    this.options = options;
  }

  fail(msg: string): void {
    if (!this.finished) this.failures.push(msg);
  }

  at(ps: PlacedStep): string {
    return `${ps.where.file}:${ps.where.line}:${ps.where.column} (${ps.path}, ${ps.step.op})`;
  }

  /** The fault injector of the run (setup.faults, RunOptions.faults, or the first `fault` step that arms one). */
  faultInjector: FaultInjector | null = null;

  /** Install a fault plan on the kernel; injected faults name the step each scenario thread is in. */
  installFaults(plan: readonly FaultSpec[]): FaultInjector {
    const inj = new FaultInjector(plan, this.em.k.seed);
    // (A local, not `inj.stepOf = (…) => …`: see KernelCore.createThread on V8 pretenuring such closures.)
    const stepOf = (thread: string): string | undefined => {
      // The step of the thread that hit the site; a worker or transport thread acts for the only step running.
      const ps = this.current.get(thread) ?? (this.current.size === 1 ? [...this.current.values()][0] : undefined);
      return ps ? `${ps.path} (${ps.step.op}${ps.step.id ? ` ${ps.step.id}` : ""}, line ${ps.where.line})` : undefined;
    };
    inj.stepOf = stepOf;
    this.faultInjector = inj.attach(this.em.k);
    return inj;
  }

  process(plan: ThreadPlan): KProcess {
    if (plan.system) return this.em.k.systemProcess;
    let p = this.processes.get(plan.process);
    if (!p) {
      const password = this.loaded.passwords.get(plan.user) ?? "";
      p = this.em.k.createProcess(plan.process, {
        UserName: plan.user,
        Password: password,
        LogonId: plan.user,
        SessionId: 0,
      });
      this.processes.set(plan.process, p);
    }
    return p;
  }

  event(name: string): KEVENT {
    let e = this.events.get(name);
    if (!e) {
      e = this.em.k.KeInitializeEvent(0, false, `scenario event ${name}`);
      this.events.set(name, e);
    }
    return e;
  }

  handle(ps: PlacedStep, name: string): HandleEntry {
    const h = this.handles.get(name);
    if (!h) throw new StepFailed(`handle "${name}" was never opened (its create step failed or has not run yet)`);
    const me = this.em.k.current?.process;
    if (me && h.process !== me && !me.isSystem) {
      throw new StepFailed(
        `handle "${name}" belongs to process ${h.process.name}, not ${me.name} (thread ${ps.thread})`,
      );
    }
    return h;
  }

  // -------------------------------------------------------------- object selectors

  private deviceNodes(): AnyRxNode[] {
    return [...this.em.rx.live];
  }

  /** Resolve "SRV_CALL \srv", "V_NET_ROOT X:", "FCB X:\a.txt", "FOBX of h1" …; null when nothing matches. */
  resolveObject(selector: string): AnyRxNode | null {
    const m = /^(SRV_CALL|NET_ROOT|V_NET_ROOT|FCB|SRV_OPEN|FOBX)\s+(.+)$/.exec(selector.trim());
    if (!m) throw new StepFailed(`not an object selector: "${selector}"`);
    const kind = m[1] as AnyRxNode["kind"];
    const rest = (m[2] as string).trim();
    const of = /^of\s+(\S+)$/.exec(rest);
    if (of) {
      const h = this.handles.get(of[1] as string);
      if (!h) throw new StepFailed(`"${selector}": no handle named ${of[1]}`);
      const fo = h.fileObject;
      const fcb = fo?.FsContext instanceof FCB ? fo.FsContext : null;
      const fobx = fo?.FsContext2 instanceof FOBX ? fo.FsContext2 : null;
      const vnrDirect = fo?.FsContext2 instanceof V_NET_ROOT ? fo.FsContext2 : null;
      switch (kind) {
        case "FCB":
          return fcb;
        case "FOBX":
          return fobx;
        case "SRV_OPEN":
          return fobx?.pSrvOpen ?? null;
        case "V_NET_ROOT":
          return vnrDirect ?? fobx?.pSrvOpen.pVNetRoot ?? null;
        case "NET_ROOT":
          return fcb?.pNetRoot ?? vnrDirect?.pNetRoot ?? null;
        case "SRV_CALL":
          return (fcb?.pNetRoot ?? vnrDirect?.pNetRoot)?.pSrvCall ?? null;
      }
    }
    const upper = (s: string) => s.toUpperCase();
    const candidates = this.deviceNodes().filter((o) => o.kind === kind);
    let name = rest;
    if (kind === "V_NET_ROOT" && /^[A-Za-z]:$/.test(rest)) {
      const link = this.em.sys.io.lookupName(`\\??\\${upper(rest)}`);
      if (link?.kind !== "symlink") return null;
      const target = link.target;
      const i = target.indexOf("\\;");
      name = i >= 0 ? target.slice(i) : target;
      return candidates.filter((o) => upper((o as V_NET_ROOT).PrefixName) === upper(name)).at(-1) ?? null;
    }
    if (kind === "FCB" || kind === "SRV_OPEN" || kind === "FOBX") {
      // "X:\a.txt" → the connection's share + path; "\\srv\share\a.txt" or "\srv\share\a.txt".
      let full = rest;
      const drive = /^([A-Za-z]):(.*)$/.exec(rest);
      if (drive) {
        const link = this.em.sys.io.lookupName(`\\??\\${upper(drive[1] as string)}:`);
        if (link?.kind !== "symlink") return null;
        const t = link.target;
        const i = t.indexOf("\\;");
        const afterPrefix = i >= 0 ? t.slice(i + 2).replace(/^[^\\]*/, "") : t;
        full = `${afterPrefix}${drive[2]}`;
      }
      full = full.replace(/^\\\\/, "\\");
      return candidates.filter((o) => upper(o.displayName) === upper(full)).at(-1) ?? null;
    }
    name = rest.replace(/^\\\\/, "\\");
    return candidates.filter((o) => upper(o.displayName) === upper(name)).at(-1) ?? null;
  }

  // -------------------------------------------------------------- expectations

  /** A step's expectations against what it got, and its MRx calls (`mrx`, as the step's report lists them). */
  check(ps: PlacedStep, got: StepGot, mrx: readonly string[]): string[] {
    const e = ("expect" in ps.step ? ps.step.expect : undefined) as Partial<ExpectValue> | undefined;
    const out: string[] = [];
    if (e?.status !== undefined && got.status !== null) {
      if (!e.status.includes(got.status)) {
        out.push(`returned ${statusName(got.status)}, expected ${e.status.map(statusName).join(" or ")}`);
      }
    } else if (
      got.status !== null &&
      e?.result === undefined &&
      got.successRequired !== false &&
      !NT_SUCCESS(got.status)
    ) {
      out.push(
        `returned ${statusName(got.status)} (a step without \`expect\` must succeed; write \`expect: ${statusName(got.status)}\` if this is what should happen)`,
      );
    }
    if (e?.information !== undefined) {
      let want: number;
      if (typeof e.information === "number") want = e.information;
      else {
        const r = parseFlags("createResult", e.information);
        want = "error" in r ? Number.NaN : r.value;
      }
      if (got.information !== want) {
        const show = (v: number | undefined) =>
          ps.step.op === "create" && v !== undefined ? `${formatFlags("createResult", v)} (${v})` : String(v);
        out.push(`Information is ${show(got.information)}, expected ${show(want)}`);
      }
    }
    if (e?.data !== undefined) {
      const d = got.data ?? new Uint8Array(0);
      if (!sameBytes(d, e.data)) {
        out.push(
          `data is ${showBytes(d)}, expected ${showBytes(e.data)} (first difference at byte ${firstDifference(d, e.data)})`,
        );
      }
    }
    if (e?.output !== undefined) {
      const d = got.output ?? new Uint8Array(0);
      if (!sameBytes(d, e.output)) out.push(`output is ${showBytes(d)}, expected ${showBytes(e.output)}`);
    }
    if (e?.names !== undefined) {
      const n = got.names ?? [];
      if (JSON.stringify(n) !== JSON.stringify(e.names))
        out.push(`names are ${JSON.stringify(n)}, expected ${JSON.stringify(e.names)}`);
    }
    if (e?.records !== undefined) {
      const r = (got.records ?? []).map((x) => ({ action: formatFlags("fileAction", x.action), name: x.fileName }));
      const w = e.records.map((x) => ({ action: formatFlags("fileAction", x.action), name: x.name }));
      if (JSON.stringify(r) !== JSON.stringify(w))
        out.push(`notification records are ${JSON.stringify(r)}, expected ${JSON.stringify(w)}`);
    }
    if (e?.fields !== undefined) {
      if (!got.fields) out.push("no decoded information to compare fields with");
      else
        for (const [k, v] of Object.entries(e.fields)) {
          const f = lookupField(got.fields, k);
          if (!f.found) out.push(`no field "${k}" in the result (fields: ${Object.keys(got.fields).join(", ")})`);
          else {
            const msg = compareField("result", k, f.value, v);
            if (msg) out.push(msg);
          }
        }
    }
    if (e?.result !== undefined) {
      const r = got.result;
      if (typeof e.result === "boolean") {
        if (r !== e.result) out.push(`returned ${String(r)}, expected ${String(e.result)}`);
      } else if (r !== e.result)
        out.push(`returned ${typeof r === "number" ? statusName(r) : String(r)}, expected ${statusName(e.result)}`);
    }
    if (e?.connections !== undefined) {
      const c = got.connections ?? [];
      const norm2 = (l: { local: string; remote: string }[]) =>
        JSON.stringify(l.map((x) => ({ local: x.local.toUpperCase(), remote: x.remote.toUpperCase() })));
      if (norm2(c) !== norm2(e.connections))
        out.push(`connections are ${JSON.stringify(c)}, expected ${JSON.stringify(e.connections)}`);
    }
    if (e?.mrx !== undefined) {
      // The expected calls must appear in this order among the step's MRx calls (others may interleave). An
      // expectation without arguments ("MRxFinalizeSrvCall") matches any; "MRxFinalizeSrvCall(TRUE)" only those.
      let i = 0;
      for (const call of mrx)
        if (i < e.mrx.length && mrxCallMatches(call, e.mrx[i] as string, this.em.k.current?.name ?? ps.thread)) i++;
      if (i < e.mrx.length)
        out.push(
          `MRx calls were [${mrx.join(", ")}], expected [${e.mrx.join(", ")}] in this order (missing from ${e.mrx[i]})`,
        );
    }
    return out;
  }

  // -------------------------------------------------------------- steps

  async runThread(plan: ThreadPlan): Promise<void> {
    for (let i = 0; i < plan.steps.length; i++) {
      const ps = plan.steps[i] as PlacedStep;
      const ok = await this.runStep(ps);
      if (!ok) {
        for (const rest of plan.steps.slice(i + 1)) {
          this.steps.push({
            ordinal: -1,
            thread: rest.thread,
            index: rest.index,
            op: rest.step.op,
            id: rest.step.id,
            path: rest.path,
            where: rest.where,
            sent: "",
            result: "",
            status: null,
            mrx: [],
            time: fmtTime(this.em.k.now),
            outcome: "not-run",
            failure: null,
          });
        }
        return;
      }
    }
    this.current.delete(plan.name);
  }

  async runStep(ps: PlacedStep): Promise<boolean> {
    const ordinal = this.ordinal++;
    this.current.set(ps.thread, ps);
    this.lastStarted = ps;
    const label = ps.label ?? `${ps.path} ${basename(ps.where.file)}:${ps.where.line}`;
    this.em.k.stepLabel = label;
    if (this.em.k.current) this.em.k.current.stepLabel = label;
    const logStart = this.em.rx.mrxLog.length;
    this.stepLogStart.set(ps.thread, logStart);
    const me = this.em.k.current?.name ?? ps.thread;
    let sent = "";
    let result = "";
    let status: NTSTATUS | null = null;
    let failures: string[] = [];
    let outcome: StepOutcome = "passed";
    // The step's MRx calls, listed once: the expectations and the report read the same list (nothing runs between).
    let mrx: string[] | null = null;
    try {
      const r = await this.exec(ps);
      sent = r.sent;
      result = r.result;
      status = r.got.status;
      if (r.skipCheck) failures = r.extraFailures ?? [];
      else {
        mrx = this.mrxCallsSince(logStart, me);
        // (`got` and the calls apart: a copy of `got` with them added is a megamorphic object spread, one per step.)
        const checked = this.check(ps, r.got, mrx);
        failures =
          r.extraFailures !== undefined && r.extraFailures.length > 0 ? [...r.extraFailures, ...checked] : checked;
      }
    } catch (e) {
      if (e instanceof StepFailed) {
        failures = [e.message];
        outcome = "failed";
      } else {
        failures = [`the step threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`];
        outcome = "error";
      }
    }
    if (this.finished) return false;
    if (failures.length > 0 && outcome === "passed") outcome = "failed";
    const failure = failures.length > 0 ? failures.join("; ") : null;
    const report: StepReport = {
      ordinal,
      thread: ps.thread,
      index: ps.index,
      op: ps.step.op,
      id: ps.step.id,
      path: ps.path,
      where: ps.where,
      sent,
      result,
      status: status === null ? null : statusName(status),
      mrx: mrx ?? this.mrxCallsSince(logStart, me),
      time: fmtTime(this.em.k.now),
      outcome,
      failure,
    };
    this.steps.push(report);
    if (failure !== null) this.fail(`${this.at(ps)}: ${sent ? `${sent}: ` : ""}${failure}`);
    this.options.onStep?.(report, this.em);
    return failure === null;
  }

  /** The MRx calls of this mini-redirector logged since `logStart`, as a step reports them. */
  mrxCallsSince(logStart: number, me: string): string[] {
    const log = this.em.rx.mrxLog;
    const device = this.dev === null ? null : this.dev.MiniRdrName;
    const out: string[] = [];
    // Read through the log's columns: no MrxCallRecord per call.
    for (let i = logStart; i < log.length; i++) {
      if (device !== null && log.deviceAt(i) !== device) continue;
      const name = log.nameAt(i) as string;
      const args = log.argsAt(i);
      const thread = log.threadAt(i) as string;
      const call = args !== undefined ? `${name}(${args})` : name;
      out.push(thread === me ? call : `${call} @ ${thread}`);
    }
    return out;
  }

  private async exec(ps: PlacedStep): Promise<{
    sent: string;
    result: string;
    got: StepGot;
    skipCheck?: boolean;
    extraFailures?: string[];
  }> {
    const st = ps.step;
    const nt = this.em.sys.nt;
    const k = this.em.k;
    const np = this.mrx.provider;
    const sn = statusName;
    switch (st.op) {
      case "net-use": {
        const letter = st.drive.replace(/:$/, "").toUpperCase();
        const status = await np.netUse(letter, st.remote, st.user, st.password);
        if (NT_SUCCESS(status)) this.driveOwners.set(letter, k.current?.process ?? k.systemProcess);
        return {
          sent: `net use ${letter}: ${st.remote}${st.user !== undefined ? ` /user:${st.user}` : ""}`,
          result: sn(status),
          got: { status },
        };
      }
      case "net-use-delete": {
        const letter = st.drive.replace(/:$/, "").toUpperCase();
        const status = await np.netUseDelete(letter, st.force);
        const f = st.force === 0 ? "FALSE" : st.force === 1 ? "TRUE" : "0xff";
        return { sent: `net use ${letter}: /delete (DELCONN, force ${f})`, result: sn(status), got: { status } };
      }
      case "net-list": {
        const list = await np.list();
        return {
          sent: "net use (GETLIST, GETCONN)",
          result: list.map((c) => `${c.local} ${c.remote}`).join(", ") || "(none)",
          got: { status: null, connections: list },
        };
      }
      case "start": {
        const status = await np.start();
        if (NT_SUCCESS(status)) this.started = true;
        return { sent: `START (IOCTL on ${this.mod.deviceName})`, result: sn(status), got: { status } };
      }
      case "stop": {
        const status = await np.stop();
        if (NT_SUCCESS(status)) this.started = false;
        return { sent: `STOP (IOCTL on ${this.mod.deviceName})`, result: sn(status), got: { status } };
      }
      case "unload": {
        // NtUnloadDriver: the I/O manager runs DriverUnload on a system thread (the System process, which is the
        // RDBSS process) whoever asked for the unload; the step waits for it.
        let left: string[] = [];
        if (k.current && !k.current.process.isSystem) {
          const done = k.KeInitializeEvent(0, false, "scenario unload done");
          k.PsCreateSystemThread(`unload for ${ps.thread}`, async () => {
            try {
              left = await this.unload();
            } finally {
              if (k.stopped === null) k.KeSetEvent(done);
            }
          });
          await k.KeWaitForSingleObject(done);
        } else left = await this.unload();
        return {
          sent: `unload ${this.mrx.driver.DriverName} (DriverUnload → RxUnregisterMinirdr)`,
          result: left.length ? `left alive: ${left.join("; ")}` : "nothing left alive",
          got: { status: null, names: left },
        };
      }
      case "create": {
        const options = st.options | (st.synchronous ? FILE_SYNCHRONOUS_IO_NONALERT : 0);
        const root = st.root !== undefined ? this.handle(ps, st.root) : null;
        const ObjectName = root ? st.path : ntPath(st.path);
        const r = await nt.NtCreateFile({
          ObjectName,
          DesiredAccess: st.access,
          ShareAccess: st.share,
          CreateDisposition: st.disposition,
          CreateOptions: options,
          ...(st.attributes ? { FileAttributes: st.attributes } : {}),
          ...(st.allocationSize !== undefined ? { AllocationSize: st.allocationSize } : {}),
          ...(st.ea !== undefined
            ? { EaBuffer: Object.entries(st.ea).map(([EaName, EaValue]) => ({ EaName, EaValue })) }
            : {}),
          ...(root ? { RootDirectory: root.handle } : {}),
        });
        if (NT_SUCCESS(r.Status) && st.as !== undefined) {
          const e = nt.referenceByHandle(r.FileHandle);
          const proc = k.current?.process ?? k.systemProcess;
          this.handles.set(st.as, {
            handle: r.FileHandle,
            process: proc,
            fileObject: e?.object ?? null,
            path: ObjectName,
            closed: false,
          });
        } else if (NT_SUCCESS(r.Status)) {
          // A handle nobody names: close it so it does not leak.
          await nt.NtClose(r.FileHandle);
        }
        const sent = `NtCreateFile ${ObjectName} ${formatFlags("disposition", st.disposition)} access=${formatFlags("access", st.access)} share=${formatFlags("share", st.share)}${options ? ` options=${formatFlags("createOptions", options)}` : ""}`;
        const res = NT_SUCCESS(r.Status)
          ? `${sn(r.Status)}, ${formatFlags("createResult", r.Information)}${st.as ? `, handle ${st.as}` : ""}`
          : sn(r.Status);
        return { sent, result: res, got: { status: r.Status, information: r.Information } };
      }
      case "close": {
        const h = this.handle(ps, st.handle);
        const status = await nt.NtClose(h.handle);
        if (NT_SUCCESS(status)) h.closed = true;
        return { sent: `NtClose ${st.handle}`, result: sn(status), got: { status } };
      }
      case "read": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtReadFile(h.handle, {
          Buffer: new Uint8Array(st.length),
          Length: st.length,
          ...(st.offset !== undefined ? { ByteOffset: st.offset } : {}),
          ...(st.key !== undefined ? { Key: st.key } : {}),
        });
        if (r.Status === S.STATUS_PENDING && r.request && st.as)
          this.requests.set(st.as, { request: r.request, kind: "read", buffer: r.Buffer, handle: st.handle });
        const data = r.Buffer.subarray(0, r.Information);
        return {
          sent: `NtReadFile ${st.handle} ${st.length} bytes${st.offset !== undefined ? ` at ${st.offset}` : ""}`,
          result: `${sn(r.Status)}, ${r.Information} bytes${r.Information ? ` ${showBytes(data)}` : ""}`,
          got: { status: r.Status, information: r.Information, data },
        };
      }
      case "write": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtWriteFile(h.handle, {
          Buffer: st.data,
          ...(st.offset !== undefined ? { ByteOffset: st.offset } : {}),
          ...(st.key !== undefined ? { Key: st.key } : {}),
        });
        if (r.Status === S.STATUS_PENDING && r.request && st.as)
          this.requests.set(st.as, { request: r.request, kind: "other", buffer: null, handle: st.handle });
        return {
          sent: `NtWriteFile ${st.handle} ${showBytes(st.data)}${st.offset !== undefined ? ` at ${st.offset}` : ""}`,
          result: `${sn(r.Status)}, ${r.Information} bytes`,
          got: { status: r.Status, information: r.Information },
        };
      }
      case "flush": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtFlushBuffersFile(h.handle);
        return { sent: `NtFlushBuffersFile ${st.handle}`, result: sn(r.Status), got: { status: r.Status } };
      }
      case "query-info": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtQueryInformationFile(h.handle, { FileInformationClass: st.class, Length: st.length });
        let fields: Record<string, unknown> | null = null;
        if (NT_SUCCESS(r.Status) && isSupportedFileInformationClass(st.class)) {
          const v = decodeFileInformation(st.class, r.Buffer, r.Information);
          if (!isDecodeError(v)) fields = v as unknown as Record<string, unknown>;
        }
        const cls = className(st.class);
        return {
          sent: `NtQueryInformationFile ${st.handle} ${cls}`,
          result: `${sn(r.Status)}${fields ? ` ${JSON.stringify(fields)}` : ""}`,
          got: { status: r.Status, information: r.Information, fields },
        };
      }
      case "set-info": {
        const h = this.handle(ps, st.handle);
        if (!isSupportedFileInformationClass(st.class))
          throw new StepFailed(`set-info: ${className(st.class)} cannot be encoded`);
        const value: Record<string, unknown> = { rootDirectory: 0, replaceIfExists: false };
        for (const [key, v] of Object.entries(st.value)) {
          const camel = key.charAt(0).toLowerCase() + key.slice(1);
          if (typeof v === "string" && /attributes$/i.test(key)) {
            const p = parseFlags("fileAttributes", v);
            if ("error" in p) throw new StepFailed(`set-info value.${key}: ${p.error}`);
            value[camel] = p.value;
          } else value[camel] = v;
        }
        const name = typeof value.fileName === "string" ? value.fileName : "";
        const buf = new Uint8Array(128 + name.length * 2);
        const enc2 = encodeFileInformation(st.class, value as never, buf);
        if ("error" in enc2 && typeof enc2.error === "string") throw new StepFailed(`set-info: ${enc2.error}`);
        const len = (enc2 as { bytesWritten: number }).bytesWritten;
        const r = await nt.NtSetInformationFile(h.handle, {
          FileInformationClass: st.class,
          Buffer: buf.subarray(0, len),
        });
        return {
          sent: `NtSetInformationFile ${st.handle} ${className(st.class)} ${JSON.stringify(st.value)}`,
          result: sn(r.Status),
          got: { status: r.Status },
        };
      }
      case "query-volume": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtQueryVolumeInformationFile(h.handle, { FsInformationClass: st.class, Length: st.length });
        let fields: Record<string, unknown> | null = null;
        if (NT_SUCCESS(r.Status) && isSupportedFsInformationClass(st.class)) {
          const v = decodeFsInformation(st.class, r.Buffer, r.Information);
          if (!isDecodeError(v)) fields = v as unknown as Record<string, unknown>;
        }
        const cls = Object.entries(FS_INFORMATION_CLASS).find(([, v]) => v === st.class)?.[0] ?? `class ${st.class}`;
        return {
          sent: `NtQueryVolumeInformationFile ${st.handle} ${cls}`,
          result: `${sn(r.Status)}${fields ? ` ${JSON.stringify(fields)}` : `, ${r.Information} bytes`}`,
          got: { status: r.Status, information: r.Information, fields },
        };
      }
      case "query-directory": {
        const h = this.handle(ps, st.handle);
        if (!isDirectoryInformationClass(st.class))
          throw new StepFailed(`query-directory: ${className(st.class)} is not a directory information class`);
        const r = await nt.NtQueryDirectoryFile(h.handle, {
          FileInformationClass: st.class,
          Length: st.length,
          RestartScan: st.restart,
          ReturnSingleEntry: st.single,
          ...(st.pattern !== undefined ? { FileName: st.pattern } : {}),
        });
        const names =
          NT_SUCCESS(r.Status) && r.Status !== S.STATUS_PENDING
            ? decodeDirectoryEntries(st.class, r.Buffer, r.Information).map((e) => e.fileName)
            : [];
        return {
          sent: `NtQueryDirectoryFile ${st.handle} ${className(st.class)}${st.pattern !== undefined ? ` "${st.pattern}"` : ""}${st.restart ? " restart" : ""}${st.single ? " single" : ""}`,
          result: `${sn(r.Status)} ${JSON.stringify(names)}`,
          got: { status: r.Status, names },
        };
      }
      case "notify": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtNotifyChangeDirectoryFile(h.handle, {
          CompletionFilter: st.filter,
          WatchTree: st.watchTree,
          Length: st.length,
        });
        if (r.Status === S.STATUS_PENDING && r.request && st.as)
          this.requests.set(st.as, { request: r.request, kind: "notify", buffer: r.Buffer, handle: st.handle });
        const records = r.Status === S.STATUS_PENDING ? [] : decodeNotifyRecords(r.Buffer, r.Information);
        return {
          sent: `NtNotifyChangeDirectoryFile ${st.handle} ${formatFlags("notifyFilter", st.filter)}${st.watchTree ? " WatchTree" : ""}`,
          result: `${sn(r.Status)}${st.as && r.Status === S.STATUS_PENDING ? `, request ${st.as}` : ""}`,
          got: { status: r.Status, records },
        };
      }
      case "wait": {
        const req = this.requests.get(st.request);
        if (!req)
          throw new StepFailed(`request "${st.request}" was never started (its step did not return STATUS_PENDING)`);
        const b = await req.request.wait();
        if (!b) throw new StepFailed(`request "${st.request}" did not complete`);
        const status = b.Status;
        const records =
          req.kind === "notify" && NT_SUCCESS(status) && req.buffer
            ? decodeNotifyRecords(req.buffer, b.Information)
            : [];
        const data = req.kind === "read" && req.buffer ? req.buffer.subarray(0, b.Information) : undefined;
        const rec = records.length
          ? ` ${JSON.stringify(records.map((x) => `${formatFlags("fileAction", x.action)} ${x.fileName}`))}`
          : "";
        return {
          sent: `wait for ${st.request}`,
          result: `${sn(status)}, Information ${b.Information}${rec}`,
          got: { status, information: b.Information, records, ...(data ? { data } : {}) },
        };
      }
      case "cancel": {
        if (st.request !== undefined) {
          const req = this.requests.get(st.request);
          if (!req) throw new StepFailed(`request "${st.request}" was never started`);
          const h = this.handle(ps, req.handle);
          const status = await nt.NtCancelIoFileEx(h.handle, req.request);
          return { sent: `NtCancelIoFileEx ${req.handle} ${st.request}`, result: sn(status), got: { status } };
        }
        const h = this.handle(ps, st.handle as string);
        const status = await nt.NtCancelIoFile(h.handle);
        return { sent: `NtCancelIoFile ${st.handle}`, result: sn(status), got: { status } };
      }
      case "lock": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtLockFile(h.handle, {
          ByteOffset: st.offset,
          Length: st.length,
          Key: st.key,
          FailImmediately: st.failImmediately,
          ExclusiveLock: st.exclusive,
        });
        if (r.Status === S.STATUS_PENDING && r.request && st.as)
          this.requests.set(st.as, { request: r.request, kind: "other", buffer: null, handle: st.handle });
        return {
          sent: `NtLockFile ${st.handle} [${st.offset}, +${st.length}) ${st.exclusive ? "exclusive" : "shared"}${st.failImmediately ? " fail-immediately" : " wait"}`,
          result: sn(r.Status),
          got: { status: r.Status },
        };
      }
      case "unlock": {
        const h = this.handle(ps, st.handle);
        const r = await nt.NtUnlockFile(h.handle, { ByteOffset: st.offset, Length: st.length, Key: st.key });
        return {
          sent: `NtUnlockFile ${st.handle} [${st.offset}, +${st.length})`,
          result: sn(r.Status),
          got: { status: r.Status },
        };
      }
      case "ioctl":
      case "fsctl": {
        const codes = controlCodeNames(this.mod.name, this.mod.ioctls);
        const code = typeof st.code === "number" ? st.code : codes.get(st.code);
        if (code === undefined) throw new StepFailed(`unknown control code "${st.code}" for ${this.mod.name}`);
        let handle: number;
        let temp = false;
        if (st.handle !== undefined) handle = this.handle(ps, st.handle).handle;
        else {
          const o = await nt.NtCreateFile({
            ObjectName: this.mod.deviceName,
            DesiredAccess: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
            ShareAccess: 7,
            CreateDisposition: FILE_OPEN,
            CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
          });
          if (!NT_SUCCESS(o.Status))
            return { sent: `open ${this.mod.deviceName}`, result: sn(o.Status), got: { status: o.Status } };
          handle = o.FileHandle;
          temp = true;
        }
        const args = { ...(st.input ? { InputBuffer: st.input } : {}), OutputBufferLength: st.outputLength };
        const r =
          st.op === "ioctl"
            ? await nt.NtDeviceIoControlFile(handle, code, args)
            : await nt.NtFsControlFile(handle, code, args);
        if (r.Status === S.STATUS_PENDING && r.request && st.as)
          this.requests.set(st.as, { request: r.request, kind: "other", buffer: null, handle: st.handle ?? "" });
        if (temp) await nt.NtClose(handle);
        const output = r.OutputBuffer ? r.OutputBuffer.subarray(0, r.Information) : new Uint8Array(0);
        const codeName = typeof st.code === "string" ? st.code : `0x${code.toString(16)}`;
        return {
          sent: `${st.op === "ioctl" ? "NtDeviceIoControlFile" : "NtFsControlFile"} ${st.handle ?? this.mod.deviceName} ${codeName}${st.input ? ` ${showBytes(st.input)}` : ""}`,
          result: `${sn(r.Status)}, ${r.Information} bytes${r.Information ? ` ${showBytes(output)}` : ""}`,
          got: { status: r.Status, information: r.Information, output },
        };
      }
      case "advance": {
        await k.KeDelayExecutionThread(-st.by);
        return {
          sent: `wait ${st.by / 10_000_000} s of virtual time`,
          result: `now ${fmtTime(k.now)} s`,
          got: { status: null },
        };
      }
      case "signal": {
        k.KeSetEvent(this.event(st.event));
        return { sent: `signal ${st.event}`, result: "set", got: { status: null } };
      }
      case "wait-signal": {
        await k.KeWaitForSingleObject(this.event(st.event));
        return { sent: `wait for signal ${st.event}`, result: "signaled", got: { status: null } };
      }
      case "fault": {
        const spec = faultStepSpec(st);
        if (spec !== null) {
          // Arm a fault counted from this step: nth 1 is the site's next hit.
          (this.faultInjector ?? this.installFaults([])).add(spec, true);
          return {
            sent: `arm fault ${formatFaultSpec(spec)} (hits counted from here)`,
            result: "armed",
            got: { status: null },
          };
        }
        if (st.drop === undefined) return { sent: "fault (nothing)", result: "", got: { status: null } };
        if (!this.mrx.dropConnections) throw new StepFailed(`${this.mod.name} has no transport connections to drop`);
        const n = this.mrx.dropConnections(st.drop === "*" ? undefined : st.drop);
        return { sent: `drop the transport connections to ${st.drop}`, result: `${n} dropped`, got: { status: null } };
      }
      case "call":
        return this.call(ps, st);
      case "check":
        return this.checkState(st);
    }
  }

  private async call(
    _ps: PlacedStep,
    st: Extract<Step, { op: "call" }>,
  ): Promise<{
    sent: string;
    result: string;
    got: { status: NTSTATUS | null; result?: boolean | NTSTATUS };
    skipCheck?: boolean;
  }> {
    const rx = this.em.rx;
    const k = this.em.k;
    const obj = this.resolveObject(st.object);
    if (!obj) throw new StepFailed(`${st.object}: no such object is alive`);
    const want = {
      RxFinalizeSrvCall: "SRV_CALL",
      RxFinalizeNetRoot: "NET_ROOT",
      RxFinalizeVNetRoot: "V_NET_ROOT",
      RxFinalizeConnection: "V_NET_ROOT",
      RxForceFinalizeAllVNetRoots: "NET_ROOT",
      RxFinalizeNetFcb: "FCB",
      RxFinalizeSrvOpen: "SRV_OPEN",
      RxFinalizeNetFobx: "FOBX",
      RxSetSrvCallDomainName: "SRV_CALL",
    } as Record<string, string>;
    const w = want[st.routine];
    if (w !== undefined && obj.kind !== w) throw new StepFailed(`${st.routine} takes a ${w}, not ${obj.label()}`);
    // The lock the routine's documentation requires: the netname table, or the FCB.
    const fcb =
      obj instanceof FCB ? obj : obj instanceof SRV_OPEN ? obj.pFcb : obj instanceof FOBX ? obj.pSrvOpen.pFcb : null;
    const table = this.dev?.pRxNetNameTable ?? null;
    const needsNetname =
      [
        "RxFinalizeSrvCall",
        "RxFinalizeNetRoot",
        "RxFinalizeVNetRoot",
        "RxForceFinalizeAllVNetRoots",
        "RxDereference",
        "RxReference",
      ].includes(st.routine) && !(fcb && (st.routine === "RxDereference" || st.routine === "RxReference"));
    const needsFcb =
      ["RxFinalizeNetFcb", "RxFinalizeSrvOpen", "RxFinalizeNetFobx"].includes(st.routine) ||
      ((st.routine === "RxDereference" || st.routine === "RxReference") && fcb !== null);
    const resource = needsNetname ? (table?.TableLock ?? null) : needsFcb && fcb ? fcb.Header.Resource : null;
    let acquired = false;
    if (
      resource &&
      st.lock !== "none" &&
      st.routine !== "RxReference" &&
      st.routine !== "RxpUndoScavengerFinalizationMarking"
    ) {
      if (st.lock === "exclusive") await k.ExAcquireResourceExclusiveLite(resource, true);
      else await k.ExAcquireResourceSharedLite(resource, true);
      acquired = true;
    }
    const lhs =
      st.lock === "exclusive"
        ? LockHoldingState.LHS_ExclusiveLockHeld
        : st.lock === "shared"
          ? LockHoldingState.LHS_SharedLockHeld
          : LockHoldingState.LHS_LockNotHeld;
    let result: boolean | NTSTATUS | null = null;
    const label = obj.label();
    try {
      switch (st.routine) {
        case "RxFinalizeSrvCall":
          result = await rx.RxFinalizeSrvCall(obj as SRV_CALL, st.force);
          break;
        case "RxFinalizeNetRoot":
          result = await rx.RxFinalizeNetRoot(obj as NET_ROOT, st.recursive, st.force);
          break;
        case "RxFinalizeVNetRoot":
          result = await rx.RxFinalizeVNetRoot(obj as V_NET_ROOT, st.recursive, st.force);
          break;
        case "RxFinalizeConnection": {
          const v = obj as V_NET_ROOT;
          result = await rx.RxFinalizeConnection(v.pNetRoot, v, st.level ?? 0);
          break;
        }
        case "RxForceFinalizeAllVNetRoots":
          await rx.RxForceFinalizeAllVNetRoots(obj as NET_ROOT);
          result = null;
          break;
        case "RxFinalizeNetFcb":
          result = await rx.RxFinalizeNetFcb(obj as FCB, st.recursive, st.force, st.referenceCount);
          break;
        case "RxFinalizeSrvOpen":
          result = await rx.RxFinalizeSrvOpen(obj as SRV_OPEN, st.recursive, st.force);
          break;
        case "RxFinalizeNetFobx":
          result = await rx.RxFinalizeNetFobx(obj as FOBX, st.recursive, st.force);
          break;
        case "RxReference":
          rx.RxReference(obj);
          break;
        case "RxDereference":
          await rx.RxDereference(obj, lhs);
          break;
        case "RxSetSrvCallDomainName":
          result = rx.RxSetSrvCallDomainName(obj as SRV_CALL, st.domain ?? null);
          break;
        case "RxpUndoScavengerFinalizationMarking":
          rx.undoScavengerMark(obj);
          break;
      }
    } finally {
      if (acquired && resource) {
        const cur = k.current;
        if (cur && (k.ExIsResourceAcquiredExclusiveLite(resource) || k.ExIsResourceAcquiredSharedLite(resource) > 0))
          k.ExReleaseResourceLite(resource);
      }
    }
    const args =
      st.routine === "RxFinalizeConnection"
        ? `${label}, ${st.level === 0 ? "FALSE" : st.level === 1 ? "TRUE" : "0xff"}`
        : st.routine === "RxFinalizeSrvCall"
          ? `${label}, Force=${st.force ? "TRUE" : "FALSE"}`
          : st.routine.startsWith("RxFinalize")
            ? `${label}, Recursive=${st.recursive ? "TRUE" : "FALSE"}, Force=${st.force ? "TRUE" : "FALSE"}`
            : label;
    const lockText =
      resource && (acquired || st.lock === "none")
        ? ` (${st.lock === "none" ? "without" : `holding ${st.lock}`} ${resource.name})`
        : "";
    const shown =
      result === null ? "returned" : typeof result === "boolean" ? (result ? "TRUE" : "FALSE") : statusName(result);
    const status = typeof result === "number" ? result : null;
    const got: { status: NTSTATUS | null; result?: boolean | NTSTATUS } = { status };
    if (result !== null) got.result = result;
    return { sent: `${st.routine}(${args})${lockText}`, result: shown, got };
  }

  private async checkState(
    st: Extract<Step, { op: "check" }>,
  ): Promise<{ sent: string; result: string; got: { status: null }; skipCheck: true; extraFailures: string[] }> {
    const failures: string[] = [];
    const seen: string[] = [];
    for (const [sel, fields] of Object.entries(st.objects ?? {})) {
      const o = this.resolveObject(sel);
      const alive = o !== null && o.freed === null;
      const expectExists = fields.exists ?? fields.Exists;
      if (o === null || !alive) {
        if (expectExists === false) {
          seen.push(`${sel}: gone`);
          continue;
        }
        failures.push(`${sel} does not exist${o ? ` (it was freed by ${o.freed?.by})` : ""}`);
        continue;
      }
      const values = objectFields(o);
      const flags = FLAG_TABLES[o.kind];
      const parts: string[] = [];
      for (const [key, v] of Object.entries(fields)) {
        const f = lookupField(values, key);
        if (!f.found) {
          failures.push(`${o.label()} has no field "${key}"`);
          continue;
        }
        const msg = compareField(o.label(), key, f.value, v, flags);
        if (msg) failures.push(msg);
        parts.push(`${key}=${norm(key) === "condition" ? CONDITION_NAMES[f.value as number] : String(f.value)}`);
      }
      seen.push(`${o.label()} ${parts.join(" ")}`);
    }
    for (const [name, v] of Object.entries(st.mrx ?? {})) {
      // "MRxFinalizeSrvCall(TRUE)": only the calls made with those arguments.
      const n = name.includes("(")
        ? this.em.rx.mrxLog.filter(
            (r) => (this.dev === null || r.device === this.dev.MiniRdrName) && `${r.name}(${r.args ?? ""})` === name,
          ).length
        : (this.dev?.mrxCallCount(name) ?? 0);
      const msg = compareField("MRx calls", name, n, v);
      if (msg) failures.push(msg);
      seen.push(`${name}×${n}`);
    }
    for (const [kind, v] of Object.entries(st.live ?? {})) {
      const n = [...this.em.rx.live].filter((o) => o.kind === kind).length;
      const msg = compareField("live objects", kind, n, v);
      if (msg)
        failures.push(
          `${msg}: ${[...this.em.rx.live]
            .filter((o) => o.kind === kind)
            .map((o) => o.label())
            .join(", ")}`,
        );
      seen.push(`${kind}: ${n} live`);
    }
    for (const [path, want] of Object.entries(st.files ?? {})) {
      const world = (this.mrx.backend as { world?: MemSmbWorld } | null)?.world;
      if (!world) {
        failures.push(`files: ${this.mod.name} has no server to look into`);
        break;
      }
      const m = /^\\\\([^\\]+)\\([^\\]+)(\\.*)$/.exec(path);
      if (!m) {
        failures.push(`files: "${path}" is not \\\\server\\share\\path`);
        continue;
      }
      const srv = world.get(m[1] as string);
      const data = srv ? srv.fileData(m[2] as string, m[3] as string) : null;
      if (want === null) {
        if (data !== null && data !== undefined)
          failures.push(`server file ${path} exists (${showBytes(data)}), expected it absent`);
      } else if (data === null || data === undefined)
        failures.push(`server file ${path} does not exist, expected ${showBytes(want)}`);
      else if (!sameBytes(data, want))
        failures.push(`server file ${path} holds ${showBytes(data)}, expected ${showBytes(want)}`);
      seen.push(`${path}: ${data ? showBytes(data) : "absent"}`);
    }
    return {
      sent: "check object state",
      result: seen.join("; "),
      got: { status: null },
      skipCheck: true,
      extraFailures: failures,
    };
  }

  async unload(): Promise<string[]> {
    if (this.unloaded) return [];
    this.unloaded = true;
    await this.em.sys.io.unloadDriver(this.mrx.driver);
    return [...(this.mrx.leftAtUnload() ?? [])];
  }
}

function className(cls: number): string {
  for (const [k, v] of Object.entries(FILE_INFORMATION_CLASS)) if (v === cls) return k;
  return `class ${cls}`;
}

/**
 * A stop as the report shows it. For the run's stop (`phase`: "run", "teardown (unload)" …), `steps` also says where
 * the scenario was when no step was running: the phase, and the last step that ran (whose request may have left the
 * work that stopped). `failure` is the scenario failure that restates the stop, if any.
 */
function stopReport(
  stop: KernelStop,
  run: ScenarioRun,
  phase: string | null = null,
  failure: string | null = null,
): StopReport {
  // After the steps (teardown) every scenario thread is done: a step still listed as current is one its thread
  // failed at, not one it is running.
  const during = phase === null || phase === "run";
  const steps = during ? [...run.current.values()].map((ps) => `thread ${ps.thread} was at ${run.at(ps)}`) : [];
  const last = run.lastStarted;
  if (phase !== null && steps.length === 0) {
    if (during) {
      if (last !== null) steps.push(`no step was running: the run stopped after ${run.at(last)}, the last step to run`);
    } else {
      const after = last === null ? " (before the first step)" : `, after ${run.at(last)}, the last step`;
      steps.push(`the run stopped during ${phase}${after}`);
    }
  }
  return {
    kind: stop.kind,
    code: stop.codeHex,
    name: stop.name,
    params: stop.paramsHex,
    reason: stop.reason,
    check: stop.check ?? null,
    thread: stop.thread ? stop.thread.name : null,
    callChain: stop.callChain,
    queuedBy:
      stop.queuedBy === null
        ? null
        : {
            thread: stop.queuedBy.thread.name,
            time: stop.queuedBy.time / 1e7,
            step: stop.queuedBy.step,
            callChain: stop.queuedBy.callChain,
          },
    steps,
    fatal: phase !== null,
    text: stop.format(),
    failure,
  };
}

/** A stop reason's first line (a reason may go on with a reference history or a list). */
function reasonHeadline(reason: string): string {
  const i = reason.indexOf("\n");
  return i < 0 ? reason : reason.slice(0, i).replace(/:$/, "");
}

/**
 * Whether the run's stop is what `expect.stop` says (null) or why not. `phase` is where the run stopped ("run",
 * "teardown (unload)" …; named in the text when it is not the steps).
 */
function stopMatches(
  expect: LoadedScenario["scenario"]["expect"]["stop"],
  stop: KernelStop | null,
  phase = "run",
): string | null {
  const stopped = phase === "run" ? "the run stopped" : `the run stopped during ${phase}`;
  if (expect === "none") return stop ? `${stopped}: ${stop.name} — ${reasonHeadline(stop.reason)}` : null;
  if (expect === "any") return stop ? null : "expected the run to stop, but it ended normally";
  if (!stop)
    return `expected a stop${typeof expect === "number" ? ` 0x${expect.toString(16).toUpperCase()}` : ""}, but the run ended normally`;
  if (typeof expect === "number")
    return stop.kind === "bugcheck" && stop.code === expect
      ? null
      : `${stopped} with ${stop.codeHex} ${stop.name}, expected 0x${expect.toString(16).toUpperCase()}`;
  if (expect.kind !== undefined && stop.kind !== expect.kind)
    return `${stopped} with a ${stop.kind}, expected a ${expect.kind}`;
  if (expect.code !== undefined && stop.code !== expect.code)
    return `${stopped} with ${stop.codeHex} ${stop.name}, expected 0x${expect.code.toString(16).toUpperCase()}`;
  if (expect.parameter1 !== undefined && stop.params[0] !== BigInt(expect.parameter1))
    return `the stop's first parameter is ${stop.paramsHex[0]}, expected 0x${expect.parameter1.toString(16)}`;
  if (expect.check !== undefined && stop.check !== expect.check)
    return `the stop came from check ${stop.check ?? "(none)"}, expected ${expect.check}`;
  if (expect.thread !== undefined && stop.thread?.name !== expect.thread)
    return `the stop was on thread ${stop.thread?.name ?? "(none)"}, expected ${expect.thread}`;
  if (expect.reason !== undefined && !stop.reason.includes(expect.reason))
    return `the stop's reason "${stop.reason}" does not mention "${expect.reason}"`;
  return null;
}

/**
 * Run a loaded scenario to the end; never throws for anything the scenario or the mini-redirector does.
 *
 * Lean first: the reference ledger is an instrument (it raises nothing and no check reads it); all it adds to a
 * report is the reference histories that explain a stop, a violation or a leak. So when nothing can read the
 * ledger but the report (no `onStep` / `onFinish`, no trace, a strategy made here rather than passed in) and the
 * scenario expects no stop, violation or leak, the run goes without it first. A clean pass (passed, no stop, no
 * leak) is the report the ledger would have given, and is returned. Anything else runs again with the ledger, and
 * that run's report is returned; if it did not fail the same way (same failure signature and schedule), the run is
 * not a function of its scenario and seed, and the report says so. `lean: false` runs once, as configured.
 */
export async function runScenario(loaded: LoadedScenario, options: RunOptions = {}): Promise<ScenarioReport> {
  if (!runsLean(loaded, options)) return runOnce(loaded, options);
  const lean = await runOnce(loaded, { ...options, checks: { ...options.checks, ledger: "off" } });
  if (lean.passed && lean.stops.length === 0 && lean.leaks.length === 0) return lean;
  const full = await runOnce(loaded, options);
  const diff = rerunDifference(lean, full);
  if (diff === null) return full;
  const sig = lean.passed ? "passed" : failureSignature(lean);
  const failures = [
    `not deterministic: run without the reference ledger, this scenario ${sig === "passed" ? "passed" : `failed (${sig})`}; run again with the same seed and the ledger on, ${
      diff.how === "another schedule"
        ? "it failed the same way on a different schedule"
        : diff.how === "passed"
          ? "it passed"
          : `it failed differently (${diff.signature})`
    }. The ledger only records references, so the run depends on something else: a mini-redirector must not use Math.random, Date.now, real timers or state kept from one run to the next.`,
    ...lean.failures.map((f) => `without the ledger: ${f}`),
    ...full.failures,
  ];
  return { ...full, passed: false, failures };
}

/** Whether runScenario may run `loaded` lean first (see there). */
function runsLean(loaded: LoadedScenario, options: RunOptions): boolean {
  if (options.lean === false || options.onStep || options.onFinish || options.trace) return false;
  if (options.strategy !== undefined && typeof options.strategy !== "string") return false;
  const e = loaded.scenario.expect;
  if (e.stop !== "none" || e.leaks !== "none" || e.violations.length > 0) return false;
  return (options.checks?.ledger ?? loaded.scenario.setup.checks.ledger) !== "off";
}

/** One run of a loaded scenario with the checks as configured. */
async function runOnce(loaded: LoadedScenario, options: RunOptions): Promise<ScenarioReport> {
  const s = loaded.scenario;
  const seed = options.seed ?? s.setup.seed;
  const profile = options.profile ?? s.setup.profile;
  const em = createEmulator({
    seed,
    strategy: options.strategy ?? (s.setup.schedule ? new ReplayStrategy(s.setup.schedule) : s.setup.strategy),
    profile,
    ...(s.setup.profileOverrides ? { profileOverrides: s.setup.profileOverrides } : {}),
    trace: options.trace ?? false,
    checks: { ...s.setup.checks, ...(options.checks ?? {}) },
    maxTime: s.setup.maxTime ?? 3600 * 10_000_000,
  });
  const run = new ScenarioRun(em, loaded, options);
  const stops: StopReport[] = [];
  const leaks: string[] = [];
  /** A leak entry of several lines → its one-line summary, for the failure it causes. */
  const leakSummaries = new Map<string, string>();
  let last: RunResult | null = null;
  /** The phase the run stopped in ("run", "teardown (unload)" …), once it has. */
  let stoppedIn: string | null = null;
  const finish = (): ScenarioReport => {
    const stop = last?.stop ?? null;
    const expectStop = stopMatches(s.expect.stop, stop, stoppedIn ?? "run");
    if (expectStop) run.failures.unshift(expectStop);
    if (stop !== null) {
      const restates = s.expect.stop === "none" ? expectStop : null;
      stops.push(stopReport(stop, run, stoppedIn ?? "run", restates));
    }
    const violations = last?.violations ?? [];
    for (const v of violations) stops.push(stopReport(v, run));
    const seenChecks = new Set(violations.map((v) => v.check ?? v.name));
    for (const v of violations) {
      if (!s.expect.violations.includes(v.check ?? v.name))
        run.fail(`a check recorded a violation: ${v.name}${v.check ? ` (${v.check})` : ""} — ${v.reason}`);
    }
    for (const c of s.expect.violations)
      if (!seenChecks.has(c)) run.fail(`expected check "${c}" to record a violation; it did not`);
    for (const e of last?.threadErrors ?? [])
      run.fail(`thread ${e.thread} threw: ${e.error instanceof Error ? e.error.message : String(e.error)}`);
    if (s.expect.leaks === "none" && leaks.length > 0) {
      // One line: the first entry (the likely cause) and how many more the report lists.
      const first = leaks[0] as string;
      const more = leaks.length > 1 ? `; ${leaks.length - 1} more left` : "";
      run.fail(`left after teardown: ${leakSummaries.get(first) ?? first}${more}`);
    }
    const steps = [...run.steps].sort((a, b) => (a.ordinal < 0 ? 1 : b.ordinal < 0 ? -1 : a.ordinal - b.ordinal));
    const report: ScenarioReport = {
      scenario: s.name,
      file: loaded.file,
      passed: run.failures.length === 0,
      seed,
      profile,
      minirdr: s.setup.minirdr,
      steps,
      stops: [...stops],
      leaks: [...leaks],
      failures: [...run.failures],
      time: fmtTime(em.k.now),
      schedulingSteps: last?.steps ?? 0,
      choices: last?.choices ?? [],
      faults: faultReports(run.faultInjector?.records ?? []),
    };
    run.finished = true;
    options.onFinish?.(em, report);
    return report;
  };
  // A stop in any phase (START, teardown …) is a failure unless it is the one expected (a check that fires at
  // teardown's quiescence point, a deadlock in MRxStart); `finish` reports it, once, naming the phase.
  const phase = (what: string, r: RunResult): boolean => {
    last = r;
    if (r.stop) {
      stoppedIn = what;
      return false;
    }
    return true;
  };

  // Boot and load.
  if (!phase("boot", await bootEmulator(em))) return finish();
  try {
    run.mod = await resolveMiniRdr(loaded, options.importModule);
  } catch (e) {
    run.fail(`setup.minirdr: ${e instanceof Error ? e.message : String(e)}`);
    return finish();
  }
  const loadResult = await inSystemThread(em, `DriverEntry ${run.mod.name}`, () =>
    run.mod.load(em, {
      ...(loaded.servers.length > 0 ? { servers: loaded.servers } : {}),
      ...(s.setup.network
        ? { network: Object.fromEntries(Object.entries(s.setup.network).filter(([, v]) => v !== undefined)) }
        : {}),
      ...(s.setup.options ? { options: s.setup.options } : {}),
    }),
  );
  if (!phase("load", loadResult.run)) return finish();
  if (!loadResult.value || !NT_SUCCESS(loadResult.value.status)) {
    run.fail(
      `load: DriverEntry of ${run.mod.name} returned ${loadResult.value ? statusName(loadResult.value.status) : "nothing"}`,
    );
    return finish();
  }
  run.mrx = loadResult.value;
  run.dev = em.rx.devices.find((d) => d.DeviceName.toUpperCase() === run.mod.deviceName.toUpperCase()) ?? null;
  const svc = em.k.createProcess("netsvc.exe");
  if (s.setup.start) {
    let st: NTSTATUS = S.STATUS_UNSUCCESSFUL;
    em.k.createThread(svc, "start", async () => {
      st = await run.mrx.provider.start();
    });
    if (!phase("START", await em.k.run())) return finish();
    if (!NT_SUCCESS(st)) {
      run.fail(`setup: START returned ${statusName(st)}`);
      return finish();
    }
    run.started = true;
  }

  // Faults are injected while the scenario's threads run (boot, DriverEntry, START and teardown run without them).
  // A scenario whose `fault` steps arm faults gets its injector now, so that hit numbers count from the start.
  const faultPlan = [...s.setup.faults, ...(options.faults ?? [])];
  const armsFaults = loaded.threads.some((t) => t.steps.some((ps) => ps.step.op === "fault" && ps.step.site));
  if (faultPlan.length > 0 || armsFaults) {
    try {
      run.installFaults(faultPlan);
    } catch (e) {
      run.fail(`setup.faults: ${e instanceof Error ? e.message : String(e)}`);
      return finish();
    }
  }
  // The scenario's threads.
  for (const plan of loaded.threads) {
    const body = () => run.runThread(plan);
    if (plan.system) em.k.PsCreateSystemThread(plan.name, body);
    else em.k.createThread(run.process(plan), plan.name, body);
  }
  const main = await em.k.run();
  run.faultInjector?.detach();
  if (!phase("run", main)) {
    for (const ps of run.current.values()) {
      if (!run.steps.some((r) => r.path === ps.path)) {
        run.steps.push({
          ordinal: Number.MAX_SAFE_INTEGER,
          thread: ps.thread,
          index: ps.index,
          op: ps.step.op,
          id: ps.step.id,
          path: ps.path,
          where: ps.where,
          sent: "",
          result: "(the run stopped during this step)",
          status: null,
          mrx: run.mrxCallsSince(run.stepLogStart.get(ps.thread) ?? em.rx.mrxLog.length, ps.thread),
          time: fmtTime(em.k.now),
          outcome: "interrupted",
          failure: null,
        });
      }
    }
    return finish();
  }

  // Teardown: close what the scenario left open, delete connections, STOP, unload; whatever is left leaked.
  if (s.setup.teardown) {
    em.k.stepLabel = "teardown";
    let atUnload: readonly string[] = [];
    const byProcess = new Map<KProcess, HandleEntry[]>();
    for (const h of run.handles.values())
      if (!h.closed) byProcess.set(h.process, [...(byProcess.get(h.process) ?? []), h]);
    for (const [p, hs] of byProcess) {
      const body = async () => {
        for (const h of hs) {
          const st = await em.sys.nt.NtClose(h.handle);
          if (NT_SUCCESS(st)) h.closed = true;
          else leaks.push(`teardown: NtClose of ${h.path} returned ${statusName(st)}`);
        }
      };
      if (p.isSystem) em.k.PsCreateSystemThread("teardown close", body);
      else em.k.createThread(p, "teardown close", body);
    }
    if (!phase("teardown (closing handles)", await em.k.run())) return finish();
    if (!run.unloaded) {
      // Connections belong to logon sessions: each process deletes its own (as logoff would), then STOP.
      const deleteConnections = async () => {
        const me = em.k.current?.process;
        for (const c of await run.mrx.provider.list()) {
          // Another logon session's drive is not this process's to delete (its DELCONN would open a tree connect
          // with this process's credentials, build a V_NET_ROOT of its own and finalize that one instead).
          const owner = run.driveOwners.get(c.local.replace(/:$/, "").toUpperCase());
          if (owner !== undefined && owner !== me) continue;
          const st = await run.mrx.provider.netUseDelete(c.local, 1);
          if (!NT_SUCCESS(st)) leaks.push(`teardown: net use ${c.local} /delete returned ${statusName(st)}`);
        }
      };
      // One process after the other: the provider's drive table is the device's, so concurrent teardown threads
      // would each list (and try to delete) every connection.
      for (const p of [...run.processes.values()]) {
        em.k.createThread(p, "teardown net use /delete", deleteConnections);
        if (!phase("teardown (connections)", await em.k.run())) return finish();
      }
      if (loaded.threads.some((t) => t.system)) {
        em.k.PsCreateSystemThread("teardown net use /delete", deleteConnections);
        if (!phase("teardown (connections)", await em.k.run())) return finish();
      }
      // Idle connections (UNC ones included) and dormant files are the scavenger's: give it two periods, as an
      // idle system would, before STOP; what survives that with no handle and no connection is a leak.
      em.k.createThread(svc, "teardown STOP", async () => {
        await em.k.KeDelayExecutionThread(-TEARDOWN_IDLE);
        if (run.started) await run.mrx.provider.stop();
      });
      if (!phase("teardown (STOP)", await em.k.run())) return finish();
      // Quiescence: nothing in flight, no handle, no connection. What is alive is reported with who holds it
      // (checks "leaks", "lostConnection"; docs/CHECKS.md).
      const q = await inSystemThread(em, "teardown quiescence", () => em.rx.verifier.quiescence(true));
      if (!phase("teardown (quiescence)", q.run)) return finish();
      const u = await inSystemThread(em, "teardown unload", () => run.unload());
      if (!phase("teardown (unload)", u.run)) return finish();
      atUnload = u.value ?? [];
    }
    // The RDBSS structures left, each once, the likely cause first (RdbssVerifier.explainLeaks).
    for (const e of em.rx.verifier.explainLeaks(atUnload, [...em.rx.live])) {
      leaks.push(e.text);
      if (e.summary !== e.text) leakSummaries.set(e.text, e.summary);
    }
    for (const b of run.mrx.backendLeaks()) leaks.push(b);
    // Pool the drivers allocated and never freed (Driver Verifier's pool tracking at unload).
    for (const p of em.k.pool.outstanding()) leaks.push(p);
  }
  return finish();
}

export { enc as textEncoder };
