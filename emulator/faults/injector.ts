/**
 * The fault injector: installed on a kernel as `k.faults` (null when there is no plan, so each site costs one
 * test), it counts every hit of every site it is asked about, decides from the plan whether this hit fails, and
 * records each injected fault (site, hit number, virtual time, thread, scenario step) in `records` and in the
 * trace. Probabilities come from one generator per spec, seeded from the run's seed and the spec's position:
 * the same seed and plan give the same faults, and a run without a plan draws nothing.
 */
import { hashString, type Kernel, type NTSTATUS, Prng, STATUS, statusName } from "../kernel/index.js";
import { siteInfo, type TransportAction } from "./sites.js";
import { defaultDelay, type FaultSpec, formatFaultSpec, siteMatcher, validateFaultSpec } from "./spec.js";

/** What a site learns when its hit fails. */
export interface FaultHit {
  readonly site: string;
  /** The hit number of this site (1-based). */
  readonly hit: number;
  /** The failure status (the spec's, else the site's default). */
  readonly status: NTSTATUS;
  /** Transport sites: what happens to the message. */
  readonly action: TransportAction;
  /** Transport sites: the delay (100 ns units). */
  readonly delay: number;
}

/** One injected fault, as reports show it. */
export interface FaultRecord {
  readonly site: string;
  readonly hit: number;
  /** Virtual time, 100 ns units. */
  readonly time: number;
  /** The emulated thread that reached the site ("DPC" in DPC context). */
  readonly thread: string;
  /** The spec that fired, in its text form. */
  readonly spec: string;
  /** What was being done ("\srv", "FCB \srv\share\a.txt", "CREATE #3 on connection 1"). */
  readonly detail: string;
  /** What the failure was ("NULL (STATUS_INSUFFICIENT_RESOURCES)", "connection 1 reset" …). */
  readonly effect: string;
  /** The scenario step it happened in, when known. */
  readonly step?: string;
}

interface SpecState {
  readonly spec: FaultSpec;
  readonly label: string;
  readonly match: RegExp;
  readonly prng: Prng;
  /** Per-site hit counts when the spec was armed (a `fault` step counts from its own moment). */
  readonly base: ReadonlyMap<string, number> | null;
  fired: number;
}

export class FaultInjector {
  readonly records: FaultRecord[] = [];
  /** Where a fault happened in scenario terms; the runner sets it (thread name → step description). */
  stepOf: ((thread: string) => string | undefined) | null = null;
  private readonly seed: number | string;
  private readonly specs: SpecState[] = [];
  private readonly counts = new Map<string, number>();
  private readonly matching = new Map<string, SpecState[]>();
  private k: Kernel | null = null;

  /** Throws on an invalid spec (validateFaultSpec says why). */
  constructor(plan: readonly FaultSpec[], seed: number | string) {
    this.seed = seed;
    for (const s of plan) this.add(s);
  }

  /** Install on a kernel: its fault sites consult this plan from now on. */
  attach(k: Kernel): this {
    this.k = k;
    k.faults = this;
    return this;
  }

  /** Remove from the kernel: sites cost one test again and nothing fails or is counted. */
  detach(): void {
    if (this.k !== null && this.k.faults === this) this.k.faults = null;
  }

  /** The plan, in its text form. */
  get plan(): string[] {
    return this.specs.map((s) => s.label);
  }

  /**
   * Add a spec to the plan. `fromNow`: its nth counts hits from this moment (what a scenario's `fault` step means
   * by "the next RxCreateNetFcb").
   */
  add(spec: FaultSpec, fromNow = false): void {
    const problem = validateFaultSpec(spec);
    if (problem !== null) throw new Error(`invalid fault ${formatFaultSpec(spec)}: ${problem}`);
    const index = this.specs.length;
    this.specs.push({
      spec,
      label: formatFaultSpec(spec),
      match: siteMatcher(spec.site.trim()),
      prng: new Prng(hashString(`faults:${String(this.seed)}:${index}:${spec.site.toLowerCase()}`)),
      base: fromNow ? new Map(this.counts) : null,
      fired: 0,
    });
    this.matching.clear();
  }

  /** How many times a site was reached while the injector was installed. */
  hits(site: string): number {
    return this.counts.get(site) ?? 0;
  }

  /** Every site reached, with its hit count. */
  get siteHits(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /**
   * A site is reached: count the hit and decide. Returns null when it proceeds, or what its failure is. `detail`
   * says what was being done (for the report).
   */
  hit(site: string, detail = ""): FaultHit | null {
    const n = (this.counts.get(site) ?? 0) + 1;
    this.counts.set(site, n);
    let specs = this.matching.get(site);
    if (specs === undefined) {
      specs = this.specs.filter((s) => s.match.test(site));
      this.matching.set(site, specs);
    }
    if (specs.length === 0) return null;
    let firing: SpecState | null = null;
    for (const s of specs) {
      // Every probabilistic spec draws on every hit of its sites, so one spec's faults never shift another's.
      const fires = this.decide(s, site, n);
      if (fires && firing === null) firing = s;
    }
    if (firing === null) return null;
    firing.fired++;
    return this.inject(firing, site, n, detail);
  }

  /** For mini-redirectors: true when this hit of `site` must fail (an injected fault, recorded). */
  check(site: string, detail = ""): boolean {
    return this.hit(site, detail) !== null;
  }

  private decide(s: SpecState, site: string, n: number): boolean {
    const { nth, probability, count } = s.spec;
    if (nth !== undefined) {
      const rel = n - (s.base?.get(site) ?? 0);
      return rel >= nth && rel < nth + (count ?? 1);
    }
    const draw = s.prng.chance(probability as number);
    return draw && (count === undefined || s.fired < count);
  }

  private inject(s: SpecState, site: string, n: number, detail: string): FaultHit {
    const info = siteInfo(site);
    const status = s.spec.status ?? (info ? STATUS[info.status] : STATUS.STATUS_INSUFFICIENT_RESOURCES);
    const action = s.spec.action ?? "disconnect";
    const delay = s.spec.delay ?? defaultDelay(action);
    const hit: FaultHit = { site, hit: n, status, action, delay };
    const k = this.k;
    const thread = k?.current?.name ?? "(no thread)";
    let effect: string;
    switch (info?.kind) {
      case "allocation":
        effect = `NULL (${statusName(status)})`;
        break;
      case "transport":
        effect =
          action === "disconnect"
            ? "connection reset (STATUS_CONNECTION_DISCONNECTED)"
            : action === "delay"
              ? `delivered ${delay / 10_000} ms late`
              : `lost; connection reset ${delay / 10_000} ms later`;
        break;
      case undefined:
        effect = "failed";
        break;
      default:
        effect = statusName(status);
    }
    const step = this.stepOf?.(thread);
    this.records.push({
      site,
      hit: n,
      time: k?.now ?? 0,
      thread,
      spec: s.label,
      detail,
      effect,
      ...(step !== undefined ? { step } : {}),
    });
    if (k?.trace.active) k.emit("fault", site, { hit: n, spec: s.label, effect, ...(detail ? { detail } : {}) });
    return hit;
  }
}

/**
 * What a mini-redirector calls for its own allocations (`rx.faults`): `check(site)` is true when the fault plan
 * fails this hit; `allocate(site, make)` returns null then, else `make()`. With no plan installed both cost one test.
 */
export class MiniRdrFaults {
  private readonly kernel: () => Kernel;

  constructor(kernel: () => Kernel) {
    this.kernel = kernel;
  }

  /** True when this hit of `site` fails (an injected fault, recorded in the report and the trace). */
  check(site: string, detail = ""): boolean {
    const f = this.kernel().faults;
    return f !== null && f.hit(site, detail) !== null;
  }

  /** An allocation that can be made to fail: null when the plan fails this hit of `site`, else `make()`. */
  allocate<T>(site: string, make: () => T, detail = ""): T | null {
    return this.check(site, detail) ? null : make();
  }
}

/** An injected fault as a scenario report carries it: the record with its time in virtual seconds. */
export interface FaultReport extends Omit<FaultRecord, "time"> {
  /** Virtual time, seconds. */
  readonly time: number;
}

export function faultReports(records: readonly FaultRecord[]): FaultReport[] {
  return records.map((r) => ({ ...r, time: Math.round(r.time / 10) / 1_000_000 }));
}

/** One line per injected fault, for text reports. */
export function formatFaultReport(f: FaultReport): string {
  return `${f.site} hit ${f.hit} (${f.spec}) at ${f.time.toFixed(6)} s on ${f.thread}${f.step ? ` during ${f.step}` : ""}: ${f.effect}${f.detail ? ` — ${f.detail}` : ""}`;
}
