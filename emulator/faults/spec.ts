/**
 * A fault plan is a list of specs. A spec names a site (or a glob over site names) and a mode: fail the N-th hit
 * (`nth`, optionally `count` hits from there), or fail each hit with a seeded probability. The text form is what
 * `rdbss run --fault` and `setup.faults: ["…"]` take:
 *
 *   RxCreateNetFcb@2              the 2nd hit of RxCreateNetFcb
 *   RxCreate*@1                   the 1st hit of every RxCreate… site
 *   RxCreateRxContext@3..5        hits 3, 4 and 5          RxCreateSrvOpen@2..   every hit from the 2nd on
 *   transport.send~0.05           each message with probability 0.05 (also ~5%)
 *   server.WRITE@1,status=STATUS_DISK_FULL       transport.receive@2,action=delay,delay=250ms
 */
import { allStatuses, editDistance, NT_SUCCESS, type NTSTATUS, parseStatus, statusName } from "../kernel/index.js";
import {
  DEFAULT_DELAY,
  DEFAULT_LOSS_DETECTION,
  FAULT_SITES,
  knownSites,
  SERVER_OPERATIONS,
  TRANSPORT_ACTIONS,
  type TransportAction,
} from "./sites.js";

export interface FaultSpec {
  /** A site name, or a glob over site names (`*`, `?`); matched without regard to case. */
  readonly site: string;
  /** Fail the nth hit of each matching site (1-based, counted per site). */
  readonly nth?: number;
  /** Fail each hit with this probability (0 < p ≤ 1), drawn from a generator seeded by the run's seed. */
  readonly probability?: number;
  /** With nth: how many hits from the nth on fail (default 1; Infinity: all). With probability: at most this many. */
  readonly count?: number;
  /** The failure status, where the site returns one (it must be a failure). */
  readonly status?: NTSTATUS;
  /** Transport sites: disconnect (default), delay or lose. */
  readonly action?: TransportAction;
  /** Transport sites: how late a delayed message arrives, or how long until a lost one resets the connection (100 ns). */
  readonly delay?: number;
}

export type FaultSpecResult = { readonly spec: FaultSpec } | { readonly error: string };

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|us|µs|s|m|min)?$/;
const UNIT_100NS: Readonly<Record<string, number>> = {
  us: 10,
  µs: 10,
  ms: 10_000,
  s: 10_000_000,
  m: 600_000_000,
  min: 600_000_000,
};

/** "250ms", "5s", "100us", or seconds as a number → 100 ns units; null when it is not a duration. */
export function parseFaultDuration(v: string | number): number | null {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? Math.round(v * 10_000_000) : null;
  const m = DURATION.exec(v.trim());
  if (m === null) return null;
  return Math.round(Number(m[1]) * (UNIT_100NS[m[2] ?? "s"] ?? 10_000_000));
}

/**
 * The (up to three) candidates nearest to a misspelt name, nearest first, without regard to case; none when nothing
 * is close. One "did you mean" for fault sites, statuses, and the scenario format's check and bug-check names.
 */
export function nearestNames(name: string, candidates: Iterable<string>): string[] {
  const n = name.toLowerCase();
  return [...candidates]
    .map((s) => ({ s, d: editDistance(n, s) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(n.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.s);
}

/** " (did you mean A, B?)" with the candidates nearest to `name`, or "" when none is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const near = nearestNames(name, candidates);
  return near.length > 0 ? ` (did you mean ${near.join(", ")}?)` : "";
}

/** The known sites nearest to a misspelt name. */
export function suggestSites(name: string): string[] {
  return nearestNames(name, knownSites());
}

/**
 * A status by name (STATUS_FILES_OPEN or FILES_OPEN) or as a hex literal (0xC0000107); an unknown name is an error
 * that suggests the nearest known statuses. Scenarios and fault specs parse statuses with this.
 */
export function parseStatusText(text: string): { readonly status: NTSTATUS } | { readonly error: string } {
  const status = parseStatus(text);
  if (status !== undefined) return { status };
  const t = text.trim();
  const full = /^STATUS_/i.test(t) ? t : `STATUS_${t}`;
  const names = allStatuses().map(([name]) => name);
  return { error: `unknown status "${text}"${didYouMean(full, names)}` };
}

export function isGlob(site: string): boolean {
  return /[*?]/.test(site);
}

/** A case-insensitive matcher for a site pattern. */
export function siteMatcher(pattern: string): RegExp {
  const re = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${re}$`, "i");
}

function isTransportPattern(site: string): boolean {
  const re = siteMatcher(site);
  return re.test("transport.send") || re.test("transport.receive");
}

/**
 * Check a spec: a known site (RDBSS's routine names are checked, with suggestions; `transport.` and `server.`
 * names must be memsmb's; any other dotted name is a mini-redirector's own site), exactly one of nth and
 * probability, a failure status, transport options only on transport sites.
 */
export function validateFaultSpec(spec: FaultSpec): string | null {
  const site = spec.site.trim();
  if (site === "") return "a fault needs a site";
  if (!isGlob(site)) {
    const lower = site.toLowerCase();
    const fixed = Object.keys(FAULT_SITES).find((s) => s.toLowerCase() === lower);
    if (lower.startsWith("server.")) {
      const op = site.slice(7).toUpperCase();
      if (!(SERVER_OPERATIONS as readonly string[]).includes(op))
        return `unknown server operation "${site.slice(7)}" (server.${SERVER_OPERATIONS.join(", server.")})`;
    } else if (lower.startsWith("transport.")) {
      if (fixed === undefined) return `unknown transport site "${site}" (transport.send, transport.receive)`;
    } else if (fixed === undefined && !site.includes(".")) {
      return `unknown fault site "${site}"${didYouMean(site, knownSites())}; a mini-redirector's own sites have a dot in their name ("mymrx.alloc")`;
    }
  }
  const hasNth = spec.nth !== undefined;
  const hasP = spec.probability !== undefined;
  if (hasNth === hasP)
    return `a fault on ${site} needs exactly one of nth ("${site}@2") and probability ("${site}~0.05")`;
  if (hasNth && (!Number.isInteger(spec.nth) || (spec.nth as number) < 1))
    return `nth must be a whole number ≥ 1, not ${spec.nth}`;
  if (hasP && !((spec.probability as number) > 0 && (spec.probability as number) <= 1))
    return `probability must be in (0, 1], not ${spec.probability}`;
  if (
    spec.count !== undefined &&
    !(spec.count === Number.POSITIVE_INFINITY || (Number.isInteger(spec.count) && spec.count >= 1))
  )
    return `count must be a whole number ≥ 1 (or all), not ${spec.count}`;
  if (spec.status !== undefined && NT_SUCCESS(spec.status))
    return `a fault's status must be a failure, not ${statusName(spec.status)}`;
  const fixedInfo = (FAULT_SITES as Readonly<Record<string, { kind: string; status: string }>>)[
    Object.keys(FAULT_SITES).find((s) => s.toLowerCase() === site.toLowerCase()) ?? ""
  ];
  if (spec.status !== undefined && fixedInfo?.kind === "allocation")
    return `${site} returns NULL and the operation fails with ${fixedInfo.status}; a status cannot be chosen for it`;
  if ((spec.action !== undefined || spec.delay !== undefined) && !isTransportPattern(site))
    return `action and delay are for transport sites (transport.send, transport.receive), not ${site}`;
  if (spec.action !== undefined && !(TRANSPORT_ACTIONS as readonly string[]).includes(spec.action))
    return `action must be ${TRANSPORT_ACTIONS.join(", ")}, not ${spec.action}`;
  if (spec.delay !== undefined && !(Number.isFinite(spec.delay) && spec.delay >= 0))
    return `delay must be a duration, not ${spec.delay}`;
  return null;
}

/**
 * Parse the text form: `SITE[@N[..[M]] | ~P[%]][,status=S][,action=A][,delay=D][,count=C]`. A bare SITE is
 * SITE@1.
 */
export function parseFaultSpec(text: string): FaultSpecResult {
  const [head = "", ...opts] = text.split(",").map((s) => s.trim());
  let site = head;
  let spec: {
    site: string;
    nth?: number;
    probability?: number;
    count?: number;
    status?: NTSTATUS;
    action?: TransportAction;
    delay?: number;
  };
  const at = head.lastIndexOf("@");
  const tilde = head.lastIndexOf("~");
  if (at >= 0) {
    site = head.slice(0, at);
    const m = /^(\d+)(?:\.\.(\d*))?$/.exec(head.slice(at + 1));
    if (m === null) return { error: `"${text}": after @ comes a hit number, N or N..M or N.. (every hit from N on)` };
    const nth = Number(m[1]);
    spec = { site, nth };
    if (m[2] !== undefined) {
      if (m[2] === "") spec.count = Number.POSITIVE_INFINITY;
      else {
        const last = Number(m[2]);
        if (last < nth) return { error: `"${text}": the range ${nth}..${last} is empty` };
        spec.count = last - nth + 1;
      }
    }
  } else if (tilde >= 0) {
    site = head.slice(0, tilde);
    const p = head.slice(tilde + 1);
    const m = /^(\d*\.?\d+)(%?)$/.exec(p);
    if (m === null) return { error: `"${text}": after ~ comes a probability, 0.05 or 5%` };
    spec = { site, probability: Number(m[1]) / (m[2] === "%" ? 100 : 1) };
  } else spec = { site, nth: 1 };
  for (const o of opts) {
    const eq = o.indexOf("=");
    if (eq < 0) return { error: `"${text}": options are key=value (status, action, delay, count), got "${o}"` };
    const key = o.slice(0, eq).trim().toLowerCase();
    const value = o.slice(eq + 1).trim();
    switch (key) {
      case "status": {
        const st = parseStatusText(value);
        if ("error" in st) return { error: `"${text}": ${st.error}` };
        spec.status = st.status;
        break;
      }
      case "action":
        if (!(TRANSPORT_ACTIONS as readonly string[]).includes(value))
          return { error: `"${text}": action is ${TRANSPORT_ACTIONS.join(", ")}, not "${value}"` };
        spec.action = value as TransportAction;
        break;
      case "delay": {
        const d = parseFaultDuration(value);
        if (d === null) return { error: `"${text}": delay is a duration ("250ms", "5s"), not "${value}"` };
        spec.delay = d;
        break;
      }
      case "count": {
        if (value === "all") spec.count = Number.POSITIVE_INFINITY;
        else if (/^\d+$/.test(value)) spec.count = Number(value);
        else return { error: `"${text}": count is a whole number or all, not "${value}"` };
        break;
      }
      default:
        return { error: `"${text}": unknown option "${key}" (status, action, delay, count)` };
    }
  }
  const problem = validateFaultSpec(spec);
  return problem === null ? { spec } : { error: `"${text}": ${problem}` };
}

/** Parse several specs (the CLI's repeated --fault); the first error is returned. */
export function parseFaultSpecs(texts: readonly string[]): { specs: FaultSpec[] } | { error: string } {
  const specs: FaultSpec[] = [];
  for (const t of texts) {
    const r = parseFaultSpec(t);
    if ("error" in r) return { error: r.error };
    specs.push(r.spec);
  }
  return { specs };
}

function fmtDuration(t: number): string {
  return t % 10_000_000 === 0 ? `${t / 10_000_000}s` : t % 10_000 === 0 ? `${t / 10_000}ms` : `${t / 10}us`;
}

/** The text form of a spec (parseFaultSpec reads it back). */
export function formatFaultSpec(spec: FaultSpec): string {
  let s = spec.site;
  if (spec.nth !== undefined) {
    s += `@${spec.nth}`;
    if (spec.count === Number.POSITIVE_INFINITY) s += "..";
    else if (spec.count !== undefined && spec.count > 1) s += `..${spec.nth + spec.count - 1}`;
  } else if (spec.probability !== undefined) {
    s += `~${spec.probability}`;
    if (spec.count !== undefined && spec.count !== Number.POSITIVE_INFINITY) s += `,count=${spec.count}`;
  }
  if (spec.status !== undefined) s += `,status=${statusName(spec.status)}`;
  if (spec.action !== undefined) s += `,action=${spec.action}`;
  if (spec.delay !== undefined) s += `,delay=${fmtDuration(spec.delay)}`;
  return s;
}

/** A transport fault's delay when the spec gives none. */
export function defaultDelay(action: TransportAction): number {
  return action === "lose" ? DEFAULT_LOSS_DETECTION : DEFAULT_DELAY;
}
