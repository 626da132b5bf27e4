/**
 * The fault spec in scenarios (`setup.faults`): the text form ("RxCreateNetFcb@2", "transport.send~0.05") or an
 * object with the same fields as FaultSpec, statuses by name and delays as durations.
 */
import { z } from "zod";
import type { NTSTATUS } from "../kernel/index.js";
import { TRANSPORT_ACTIONS } from "./sites.js";
import { type FaultSpec, parseFaultDuration, parseFaultSpec, parseStatusText, validateFaultSpec } from "./spec.js";

const FaultStatus = z
  .union([z.string(), z.number().int()])
  .describe("the failure status: STATUS_DISK_FULL, DISK_FULL or 0xC000007F")
  .transform((v, ctx): NTSTATUS => {
    if (typeof v === "number") return v >>> 0;
    const s = parseStatusText(v);
    if ("error" in s) {
      ctx.issues.push({ code: "custom", message: s.error, input: v });
      return z.NEVER;
    }
    return s.status;
  });

const FaultDuration = z
  .union([z.number().min(0), z.string()])
  .describe('a duration: seconds, or "250ms", "5s"')
  .transform((v, ctx): number => {
    const d = parseFaultDuration(v);
    if (d === null) {
      ctx.issues.push({
        code: "custom",
        message: `not a duration: ${JSON.stringify(v)} (write "250ms", "5s")`,
        input: v,
      });
      return z.NEVER;
    }
    return d;
  });

/** The fields of a fault as an object (also the fields a scenario's `fault` step takes). */
export const FAULT_FIELDS = {
  /** A site name or a glob: RxCreateNetFcb, RxCreate*, transport.send, server.WRITE, mymrx.alloc … */
  site: z.string().min(1),
  /** Fail the nth hit of each matching site (1-based). */
  nth: z.number().int().min(1).optional(),
  /** Fail each hit with this probability (seeded). */
  probability: z.number().gt(0).max(1).optional(),
  /** How many hits fail (nth: from the nth on, default 1; probability: at most this many); "all". */
  count: z
    .union([z.number().int().min(1), z.literal("all")])
    .optional()
    .transform((v) => (v === "all" ? Number.POSITIVE_INFINITY : v)),
  /** The failure status, where the site returns one. */
  status: FaultStatus.optional(),
  /** Transport sites: disconnect (default), delay or lose. */
  action: z.enum(TRANSPORT_ACTIONS).optional(),
  /** Transport sites: how late, or how long until a lost message resets the connection. */
  delay: FaultDuration.optional(),
} as const;

/** Drop the undefined fields (exactOptionalPropertyTypes). */
export function faultSpecOf(v: {
  site: string;
  nth?: number | undefined;
  probability?: number | undefined;
  count?: number | undefined;
  status?: NTSTATUS | undefined;
  action?: FaultSpec["action"] | undefined;
  delay?: number | undefined;
}): FaultSpec {
  return {
    site: v.site,
    ...(v.nth !== undefined ? { nth: v.nth } : {}),
    ...(v.probability !== undefined ? { probability: v.probability } : {}),
    ...(v.count !== undefined ? { count: v.count } : {}),
    ...(v.status !== undefined ? { status: v.status } : {}),
    ...(v.action !== undefined ? { action: v.action } : {}),
    ...(v.delay !== undefined ? { delay: v.delay } : {}),
  };
}

/** One entry of `setup.faults`: "RxCreateNetFcb@2" or {site, nth | probability, count, status, action, delay}. */
export const FaultSpecSchema = z
  .union([z.string().min(1), z.object(FAULT_FIELDS).strict()])
  .describe('a fault: "RxCreateNetFcb@2", "transport.send~0.05", or {site, nth | probability, count, status, …}')
  .transform((v, ctx): FaultSpec => {
    if (typeof v === "string") {
      const r = parseFaultSpec(v);
      if ("error" in r) {
        ctx.issues.push({ code: "custom", message: r.error, input: v });
        return z.NEVER;
      }
      return r.spec;
    }
    const spec = faultSpecOf(v);
    const problem = validateFaultSpec(spec);
    if (problem !== null) {
      ctx.issues.push({ code: "custom", message: problem, input: v });
      return z.NEVER;
    }
    return spec;
  });

/**
 * The fault a scenario's `fault` step arms (its `site`, `nth`, `probability`, … fields): the next hit of the site
 * fails unless `nth` or `probability` says otherwise. Null when the step names no site.
 */
export function faultStepSpec(v: {
  site?: string | undefined;
  nth?: number | undefined;
  probability?: number | undefined;
  count?: number | undefined;
  status?: NTSTATUS | undefined;
  action?: FaultSpec["action"] | undefined;
  delay?: number | undefined;
}): FaultSpec | null {
  if (v.site === undefined) return null;
  return faultSpecOf({ ...v, site: v.site, nth: v.nth ?? (v.probability === undefined ? 1 : undefined) });
}
