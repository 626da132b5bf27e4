/**
 * The scenario format, as zod schemas: one definition gives the validation (with symbolic names resolved to
 * numbers, and unknown names reported with suggestions), the TypeScript types, and the JSON Schema that editors
 * use (`rdbss schema`). docs/SCENARIOS.md is the reference for users.
 */
import { z } from "zod";
import {
  FAULT_FIELDS,
  FaultSpecSchema,
  faultStepSpec,
  parseFaultDuration,
  validateFaultSpec,
} from "../faults/index.js";
import { didYouMean, parseStatusText } from "../faults/spec.js";
import {
  FILE_INFORMATION_CLASS,
  FS_INFORMATION_CLASS,
  parseFlags,
  type SymbolGroup,
  suggestSymbols,
} from "../io/constants.js";
import { BUGCHECK } from "../kernel/bugcodes.js";
import type { NTSTATUS } from "../kernel/status.js";
import { PROFILE_OPTION_VALUES, type RdbssProfile } from "../rdbss/profile.js";
import { CHECK_SWITCHES } from "../verifier/catalogue.js";

// ================================================================== values

/** A bit set or enum written with the WDK's names: a number, "A | B", or a list of names. */
export function symbolic(group: SymbolGroup, what: string) {
  return z
    .union([z.number().int(), z.string(), z.array(z.string())])
    .describe(`${what}: a number, a name, "A | B", or a list of names`)
    .transform((v, ctx): number => {
      const r = parseFlags(group, v);
      if ("error" in r) {
        ctx.issues.push({ code: "custom", message: r.error, input: v });
        return z.NEVER;
      }
      return r.value;
    });
}

/** An NTSTATUS by name (STATUS_SUCCESS or SUCCESS) or as a hex literal; a misspelt name gets the nearest ones. */
export const Status = z
  .union([z.string(), z.number().int()])
  .describe("an NTSTATUS: STATUS_SUCCESS, SUCCESS, or 0xC0000107")
  .transform((v, ctx): NTSTATUS => {
    if (typeof v === "number") return v >>> 0;
    const s = parseStatusText(v);
    if ("error" in s) {
      ctx.issues.push({ code: "custom", message: s.error, input: v });
      return z.NEVER;
    }
    return s.status;
  });

/** One status, or a list of acceptable ones. */
export const StatusSet = z
  .union([Status, z.array(Status).min(1)])
  .transform((v): NTSTATUS[] => (Array.isArray(v) ? v : [v]));

/** Bytes: text (UTF-8), or {text}, {hex}, {base64}, {utf16} (UTF-16LE, as control-plane IOCTLs take), {fill, length}. */
export const Data = z
  .union([
    z.string(),
    z.object({ text: z.string() }).strict(),
    z.object({ hex: z.string() }).strict(),
    z.object({ base64: z.string() }).strict(),
    z.object({ utf16: z.string() }).strict(),
    z
      .object({
        fill: z.number().int().min(0).max(255),
        length: z
          .number()
          .int()
          .min(0)
          .max(64 * 1024 * 1024),
      })
      .strict(),
  ])
  .describe('bytes: "text", {text}, {hex: "00ff"}, {base64}, {utf16}, or {fill: 65, length: 4096}')
  .transform((v, ctx): Uint8Array => {
    if (typeof v === "string") return new TextEncoder().encode(v);
    if ("text" in v) return new TextEncoder().encode(v.text);
    if ("utf16" in v) {
      const b = new Uint8Array(v.utf16.length * 2);
      for (let i = 0; i < v.utf16.length; i++) {
        const c = v.utf16.charCodeAt(i);
        b[2 * i] = c & 0xff;
        b[2 * i + 1] = c >>> 8;
      }
      return b;
    }
    if ("fill" in v) return new Uint8Array(v.length).fill(v.fill);
    if ("hex" in v) {
      const h = v.hex.replace(/[\s:]/g, "");
      if (!/^([0-9a-fA-F]{2})*$/.test(h)) {
        ctx.issues.push({ code: "custom", message: "hex: an even number of hex digits", input: v.hex });
        return z.NEVER;
      }
      const b = new Uint8Array(h.length / 2);
      for (let i = 0; i < b.length; i++) b[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
      return b;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v.base64) || v.base64.length % 4 !== 0) {
      ctx.issues.push({ code: "custom", message: "base64: not valid base64", input: v.base64 });
      return z.NEVER;
    }
    return new Uint8Array(Buffer.from(v.base64, "base64"));
  });

/** A virtual duration: seconds as a number, or "11s", "250ms", "2m", "100us". Result in 100 ns units. */
export const Duration = z
  .union([z.number().min(0), z.string()])
  .describe('a duration: seconds, or "11s", "250ms", "2m", "100us"')
  .transform((v, ctx): number => {
    // One duration syntax for scenarios and fault specs (faults/spec.ts).
    const d = parseFaultDuration(v);
    if (d === null) {
      ctx.issues.push({ code: "custom", message: `not a duration: "${v}" (write "11s", "250ms", "2m")`, input: v });
      return z.NEVER;
    }
    return d;
  });

function enumName<T extends Readonly<Record<string, number>>>(table: T, what: string) {
  return z
    .union([z.string(), z.number().int()])
    .describe(`${what}: a name or a number`)
    .transform((v, ctx): number => {
      if (typeof v === "number") return v;
      const n = table[v];
      if (n === undefined) {
        const near = Object.keys(table)
          .filter((k) => k.toLowerCase().includes(v.toLowerCase().replace(/^file|information$/gi, "")))
          .slice(0, 3);
        ctx.issues.push({
          code: "custom",
          message: `unknown ${what} "${v}"${near.length ? ` (did you mean ${near.join(", ")}?)` : ""}`,
          input: v,
        });
        return z.NEVER;
      }
      return n;
    });
}

export const FileInformationClass = enumName(FILE_INFORMATION_CLASS, "FILE_INFORMATION_CLASS");
export const FsInformationClass = enumName(FS_INFORMATION_CLASS, "FS_INFORMATION_CLASS");

/** A bug check's code from its name (RDR_FILE_SYSTEM) or a hex literal (0x27); undefined for anything else. */
function bugCheckCode(text: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text, 16);
  return Object.hasOwn(BUGCHECK, text) ? (BUGCHECK as Readonly<Record<string, number>>)[text] : undefined;
}

/** A bug check by name (RDR_FILE_SYSTEM) or code (0x27). */
export const BugCheck = z.union([z.string(), z.number().int()]).transform((v, ctx): number => {
  if (typeof v === "number") return v;
  const code = bugCheckCode(v);
  if (code === undefined) {
    ctx.issues.push({
      code: "custom",
      message: `unknown bug check "${v}"${didYouMean(v, Object.keys(BUGCHECK))}`,
      input: v,
    });
    return z.NEVER;
  }
  return code;
});

/** RxFinalizeConnection's ForceFilesClosed: FALSE, TRUE or 0xff (also false / true / 0 / 1 / 255). */
export const ForceLevel = z
  .union([z.boolean(), z.number().int(), z.string()])
  .describe("FALSE, TRUE or 0xff")
  .transform((v, ctx): number => {
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "number") {
      if (v === 0 || v === 1 || v === 0xff) return v;
    } else {
      const t = v.trim().toUpperCase();
      if (t === "FALSE") return 0;
      if (t === "TRUE") return 1;
      if (t === "0XFF" || t === "255") return 0xff;
    }
    ctx.issues.push({
      code: "custom",
      message: `a force level is FALSE, TRUE or 0xff, not ${JSON.stringify(v)}`,
      input: v,
    });
    return z.NEVER;
  });

/** A name for a handle, request or event: letters, digits, _ . - */
const Name = z.string().regex(/^[A-Za-z_][\w.-]*$/, "a name: letters, digits, _ . - (starting with a letter or _)");

/** An integer that may be written in hex. */
const Int = z
  .union([z.number().int(), z.string().regex(/^0x[0-9a-fA-F]+$/)])
  .transform((v) => (typeof v === "number" ? v : Number.parseInt(v, 16)));

/** A field value in an object-state or information expectation. */
const FieldValue = z.union([
  z.number(),
  z.string(),
  z.boolean(),
  z.object({ min: z.number().optional(), max: z.number().optional() }).strict(),
]);
export type FieldExpectation = z.infer<typeof FieldValue>;

// ================================================================== expectations

const NotifyRecordExpect = z.object({ action: symbolic("fileAction", "FILE_ACTION"), name: z.string() }).strict();

const ExpectFields = {
  status: StatusSet.optional(),
  information: z.union([Int, z.string()]).optional(),
  data: Data.optional(),
  names: z.array(z.string()).optional(),
  records: z.array(NotifyRecordExpect).optional(),
  fields: z.record(z.string(), FieldValue).optional(),
  output: Data.optional(),
  result: z.union([z.boolean(), Status]).optional(),
  connections: z.array(z.object({ local: z.string(), remote: z.string() }).strict()).optional(),
  mrx: z.array(z.string()).optional(),
} as const;
type ExpectKey = keyof typeof ExpectFields;

/** A step's `expect`: a status (shorthand) or an object with the keys that make sense for the step. */
function expectOf<K extends ExpectKey>(...keys: K[]) {
  const shape = {} as { [P in K]: (typeof ExpectFields)[P] };
  for (const k of keys) shape[k] = ExpectFields[k];
  const full = z.object(shape).strict();
  return z
    .union([Status, z.array(Status).min(1), full])
    .optional()
    .transform((v) => {
      if (v === undefined) return undefined;
      if (typeof v === "number") return { status: [v] } as Partial<ExpectValue>;
      if (Array.isArray(v)) return { status: v } as Partial<ExpectValue>;
      return v as Partial<ExpectValue>;
    });
}
export interface ExpectValue {
  status: NTSTATUS[];
  information: number | string;
  data: Uint8Array;
  names: string[];
  records: { action: number; name: string }[];
  fields: Record<string, FieldExpectation>;
  output: Uint8Array;
  result: boolean | number;
  connections: { local: string; remote: string }[];
  mrx: string[];
}

// ================================================================== steps

const base = {
  /** A name for the step (for `rdbss graph --at` and reports). */
  id: Name.optional(),
  /** A note printed with the step. */
  note: z.string().optional(),
};

const Handle = Name.describe("a handle named by an earlier create step's `as`");

/** What an `ioctl` and an `fsctl` step take besides their op: one request shape, two major functions. */
const controlFields = {
  handle: Handle.optional(),
  device: z.boolean().optional(),
  code: z.union([z.string(), Int]),
  input: Data.optional(),
  outputLength: z
    .number()
    .int()
    .min(0)
    .max(1 << 20)
    .default(0),
  as: Name.optional(),
  expect: expectOf("status", "information", "output", "mrx"),
};

export const STEP_OPS = [
  "net-use",
  "net-use-delete",
  "net-list",
  "start",
  "stop",
  "unload",
  "create",
  "close",
  "read",
  "write",
  "flush",
  "query-info",
  "set-info",
  "query-volume",
  "query-directory",
  "notify",
  "wait",
  "cancel",
  "lock",
  "unlock",
  "ioctl",
  "fsctl",
  "advance",
  "signal",
  "wait-signal",
  "fault",
  "call",
  "check",
] as const;
export type StepOp = (typeof STEP_OPS)[number];

/** The RDBSS routines a `call` step can run, with the object kind each takes. */
export const CALLABLE_ROUTINES = {
  RxFinalizeSrvCall: "SRV_CALL",
  RxFinalizeNetRoot: "NET_ROOT",
  RxFinalizeVNetRoot: "V_NET_ROOT",
  RxFinalizeConnection: "V_NET_ROOT",
  RxForceFinalizeAllVNetRoots: "NET_ROOT",
  RxFinalizeNetFcb: "FCB",
  RxFinalizeSrvOpen: "SRV_OPEN",
  RxFinalizeNetFobx: "FOBX",
  RxReference: "any",
  RxDereference: "any",
  RxSetSrvCallDomainName: "SRV_CALL",
  /**
   * Drop an object's scavenger mark and the reference that goes with it (what the scavenger does before it
   * finalizes a marked object): a SRV_CALL left marked by a failed construction is then at count 1.
   */
  RxpUndoScavengerFinalizationMarking: "any",
} as const;
export type CallableRoutine = keyof typeof CALLABLE_ROUTINES;

const ObjectSelector = z
  .string()
  .regex(
    /^(SRV_CALL|NET_ROOT|V_NET_ROOT|FCB|SRV_OPEN|FOBX)\s+\S/,
    'an object: "SRV_CALL \\\\srv", "NET_ROOT \\\\srv\\\\share", "V_NET_ROOT X:", "FCB X:\\\\a.txt", "FOBX of h1" …',
  );

const ObjectExpect = z
  .record(z.string(), FieldValue)
  .describe("fields of the object: exists, NodeReferenceCount (or refs), Condition, OpenCount, flags …");

export const Step = z.discriminatedUnion("op", [
  z
    .object({
      ...base,
      op: z.literal("net-use"),
      drive: z.string().regex(/^[A-Za-z]:?$/),
      remote: z.string().regex(/^\\\\[^\\]+\\[^\\]+$/, "a share: \\\\server\\share"),
      user: z.string().optional(),
      password: z.string().optional(),
      expect: expectOf("status", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("net-use-delete"),
      drive: z.string().regex(/^[A-Za-z]:?$/),
      force: ForceLevel.prefault(0),
      expect: expectOf("status", "mrx"),
    })
    .strict(),
  z.object({ ...base, op: z.literal("net-list"), expect: expectOf("connections") }).strict(),
  z.object({ ...base, op: z.literal("start"), expect: expectOf("status", "mrx") }).strict(),
  z.object({ ...base, op: z.literal("stop"), expect: expectOf("status", "mrx") }).strict(),
  z.object({ ...base, op: z.literal("unload"), expect: expectOf("names", "mrx") }).strict(),
  z
    .object({
      ...base,
      op: z.literal("create"),
      path: z.string().min(1),
      as: Name.optional(),
      access: symbolic("access", "DesiredAccess").prefault(["GENERIC_READ", "GENERIC_WRITE", "SYNCHRONIZE"]),
      share: symbolic("share", "ShareAccess").prefault(["FILE_SHARE_READ", "FILE_SHARE_WRITE", "FILE_SHARE_DELETE"]),
      disposition: symbolic("disposition", "CreateDisposition").prefault("FILE_OPEN_IF"),
      options: symbolic("createOptions", "CreateOptions").prefault(0),
      attributes: symbolic("fileAttributes", "FileAttributes").prefault(0),
      allocationSize: z.number().int().min(0).optional(),
      /** Extended attributes (the EaBuffer): name → value. */
      ea: z.record(z.string().min(1).max(255), Data).optional(),
      /** Add FILE_SYNCHRONOUS_IO_NONALERT (default true); false gives an asynchronous handle. */
      synchronous: z.boolean().prefault(true),
      /** NtCreateFile relative to this handle (RootDirectory). */
      root: Handle.optional(),
      expect: expectOf("status", "information", "mrx"),
    })
    .strict(),
  z.object({ ...base, op: z.literal("close"), handle: Handle, expect: expectOf("status", "mrx") }).strict(),
  z
    .object({
      ...base,
      op: z.literal("read"),
      handle: Handle,
      offset: z.number().int().min(0).optional(),
      length: z
        .number()
        .int()
        .min(0)
        .max(64 * 1024 * 1024),
      key: z.number().int().optional(),
      as: Name.optional(),
      expect: expectOf("status", "information", "data", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("write"),
      handle: Handle,
      offset: z.number().int().min(-2).optional(),
      data: Data,
      key: z.number().int().optional(),
      as: Name.optional(),
      expect: expectOf("status", "information", "mrx"),
    })
    .strict(),
  z.object({ ...base, op: z.literal("flush"), handle: Handle, expect: expectOf("status", "mrx") }).strict(),
  z
    .object({
      ...base,
      op: z.literal("query-info"),
      handle: Handle,
      class: FileInformationClass,
      length: z.number().int().min(0).max(65536).default(1024),
      expect: expectOf("status", "information", "fields", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("set-info"),
      handle: Handle,
      class: FileInformationClass,
      value: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
      expect: expectOf("status", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("query-volume"),
      handle: Handle,
      class: FsInformationClass,
      length: z.number().int().min(0).max(65536).default(1024),
      expect: expectOf("status", "information", "fields", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("query-directory"),
      handle: Handle,
      class: FileInformationClass.prefault("FileDirectoryInformation"),
      pattern: z.string().optional(),
      restart: z.boolean().default(false),
      single: z.boolean().default(false),
      length: z
        .number()
        .int()
        .min(0)
        .max(1 << 20)
        .default(8192),
      expect: expectOf("status", "names", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("notify"),
      handle: Handle,
      filter: symbolic("notifyFilter", "CompletionFilter"),
      watchTree: z.boolean().default(false),
      length: z.number().int().min(0).max(65536).default(1024),
      as: Name.optional(),
      expect: expectOf("status", "records", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("wait"),
      request: Name,
      expect: expectOf("status", "information", "data", "records"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("cancel"),
      request: Name.optional(),
      handle: Handle.optional(),
      expect: expectOf("status"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("lock"),
      handle: Handle,
      offset: z.number().int().min(0),
      length: z.number().int().min(0),
      exclusive: z.boolean().default(true),
      failImmediately: z.boolean().default(true),
      key: z.number().int().default(0),
      as: Name.optional(),
      expect: expectOf("status", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("unlock"),
      handle: Handle,
      offset: z.number().int().min(0),
      length: z.number().int().min(0),
      key: z.number().int().default(0),
      expect: expectOf("status", "mrx"),
    })
    .strict(),
  z.object({ ...base, op: z.literal("ioctl"), ...controlFields }).strict(),
  z.object({ ...base, op: z.literal("fsctl"), ...controlFields }).strict(),
  z.object({ ...base, op: z.literal("advance"), by: Duration, expect: expectOf("mrx") }).strict(),
  z.object({ ...base, op: z.literal("signal"), event: Name }).strict(),
  z.object({ ...base, op: z.literal("wait-signal"), event: Name }).strict(),
  z
    .object({
      ...base,
      op: z.literal("fault"),
      drop: z.string().optional().describe("drop the transport connections to this server ('*' for all)"),
      // Or arm a fault (docs/FAULTS.md): the next hit of `site` fails (`nth`: the nth hit from this step on).
      ...FAULT_FIELDS,
      site: FAULT_FIELDS.site.optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      const spec = faultStepSpec(v);
      if (spec === null) {
        if (v.drop === undefined)
          ctx.addIssue({ code: "custom", message: "a fault step needs `drop` or `site`", path: [] });
        return;
      }
      if (v.drop !== undefined)
        ctx.addIssue({ code: "custom", message: "give either `drop` or `site`, not both", path: ["site"] });
      const problem = validateFaultSpec(spec);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem, path: ["site"] });
    }),
  z
    .object({
      ...base,
      op: z.literal("call"),
      routine: z.enum(Object.keys(CALLABLE_ROUTINES) as [CallableRoutine, ...CallableRoutine[]]),
      object: ObjectSelector,
      force: z.boolean().default(false),
      recursive: z.boolean().default(false),
      level: ForceLevel.optional(),
      referenceCount: z.number().int().min(0).default(0),
      /** The lock the routine requires: held exclusive (default), held shared (a violation for most), or not held. */
      lock: z.enum(["exclusive", "shared", "none"]).default("exclusive"),
      domain: z.string().nullable().optional(),
      expect: expectOf("result", "status", "mrx"),
    })
    .strict(),
  z
    .object({
      ...base,
      op: z.literal("check"),
      objects: z.record(ObjectSelector, ObjectExpect).optional(),
      mrx: z.record(z.string(), FieldValue).optional(),
      live: z
        .partialRecord(z.enum(["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "FCB", "SRV_OPEN", "FOBX"]), FieldValue)
        .optional(),
      files: z
        .record(z.string(), z.union([Data, z.null()]))
        .optional()
        .describe("server-side file contents by \\\\srv\\share\\path (null: absent)"),
    })
    .strict(),
]);
export type StepInput = z.input<typeof Step>;
export type Step = z.output<typeof Step>;

// ================================================================== setup

const FileImageSchema = z
  .object({
    path: z.string().min(1),
    data: Data.optional(),
    directory: z.boolean().optional(),
    attributes: symbolic("fileAttributes", "attributes").optional(),
  })
  .strict();

export const ServerImageSchema = z
  .object({
    name: z.string().min(1),
    users: z.array(z.object({ name: z.string().min(1), password: z.string() }).strict()).default([]),
    shares: z
      .array(
        z
          .object({
            name: z.string().min(1),
            type: z.enum(["disk", "ipc"]).optional(),
            permissions: z.record(z.string(), z.enum(["read", "change", "full"])),
            files: z.array(FileImageSchema).optional(),
            label: z.string().optional(),
            capacity: z.number().int().min(0).optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();
export type ServerImageInput = z.output<typeof ServerImageSchema>;

/** A server: inline, or `{fixture: "servers/x.yaml"}` (resolved from the scenario's folder, then fixtures/). */
const ServerRef = z.union([ServerImageSchema, z.object({ fixture: z.string().min(1) }).strict()]);

const CheckMode = z.enum(["stop", "record", "off"]);

/** A check's name (docs/CHECKS.md); a misspelt one gets the nearest names. */
const CheckName = z.string().superRefine((k, ctx) => {
  if (Object.hasOwn(CHECK_SWITCHES, k)) return;
  ctx.addIssue({
    code: "custom",
    message: `unknown check "${k}"${didYouMean(k, Object.keys(CHECK_SWITCHES))}; docs/CHECKS.md lists them`,
  });
});

/** Profile options by name; each value must be one the docs or reactos profile uses (or the other boolean). */
const ProfileOverrides = z
  .record(z.string(), z.union([z.string(), z.boolean()]))
  .transform((v, ctx): Partial<RdbssProfile> => {
    const out: Record<string, string | boolean> = {};
    for (const [k, val] of Object.entries(v)) {
      const allowed = (PROFILE_OPTION_VALUES as Readonly<Record<string, readonly (string | boolean)[]>>)[k];
      if (allowed === undefined) {
        const known = Object.keys(PROFILE_OPTION_VALUES);
        ctx.issues.push({
          code: "custom",
          message: `unknown profile option "${k}" (options: ${known.join(", ")})`,
          input: v,
          path: [k],
        });
        continue;
      }
      if (!allowed.includes(val)) {
        ctx.issues.push({
          code: "custom",
          message: `${k} is ${allowed.map((a) => JSON.stringify(a)).join(" or ")}`,
          input: val,
          path: [k],
        });
        continue;
      }
      out[k] = val;
    }
    return out as Partial<RdbssProfile>;
  });

export const Setup = z
  .object({
    /** memsmb (default), nulmrx, or a path to a module exporting a MiniRdrModule. */
    minirdr: z.string().min(1).default("memsmb"),
    profile: z.enum(["docs", "reactos"]).default("docs"),
    /** Single profile options on top of `profile` (docs/ARCHITECTURE.md lists them), e.g. srvCallFinalizePostedFrom. */
    profileOverrides: ProfileOverrides.optional(),
    seed: z.union([z.number().int(), z.string()]).default(1),
    strategy: z.enum(["fifo", "random"]).default("fifo"),
    /** A recorded schedule (scheduling choices, as `rdbss explore` writes them): replayed instead of `strategy`. */
    schedule: z.array(z.number().int().min(0)).optional(),
    // Names checked as keys, not by a refinement of the whole record: zod skips that when a mode is invalid, and
    // every problem must be reported at once.
    checks: z.record(CheckName, CheckMode).default({}),
    servers: z.array(ServerRef).optional(),
    network: z
      .object({
        latency: Duration.optional(),
        jitter: Duration.optional(),
        dropProbability: z.number().min(0).max(1).optional(),
        dropAtMessage: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    options: z.record(z.string(), z.unknown()).optional(),
    /** User name → password, for the logon tokens of the threads' processes. */
    users: z.record(z.string(), z.string()).default({}),
    /** Send START before the threads run (default true). */
    start: z.boolean().default(true),
    /** At the end: close what is open, delete connections, STOP, unload, and report what is left (default true). */
    teardown: z.boolean().default(true),
    /** Stop the run after this much virtual time (a livelock guard). */
    maxTime: Duration.optional(),
    /** Fault injection while the steps run (docs/FAULTS.md): "RxCreateNetFcb@2", "transport.send~0.05", {site, nth …}. */
    faults: z.array(FaultSpecSchema).default([]),
  })
  .strict();
export type Setup = z.output<typeof Setup>;

const ThreadSchema = z
  .object({
    /** The logged-on user of the thread's process (default guest). */
    user: z.string().optional(),
    /** The process (threads of one process share handles; default "<user>.exe"). */
    process: z.string().optional(),
    /** A system thread (System process, the RDBSS process): kernel-mode callers. */
    system: z.boolean().default(false),
    steps: z.array(Step).min(1),
  })
  .strict();

const STOP_FORMS =
  "none, any, a bug-check code (0x27), a name (RDR_FILE_SYSTEM) or {code, kind, parameter1, check, thread, reason}";

/**
 * `expect.stop`: none, any, a bug check (code or name), or an object. One union of the input shapes and one
 * transform, so a misspelt name is reported as an unknown stop with the forms (not as the first branch's mismatch);
 * the object comes first, so an object's own problems (an unknown key) are the ones reported.
 */
const StopExpect = z
  .union([
    z
      .object({
        code: BugCheck.optional(),
        kind: z.enum(["bugcheck", "deadlock", "hang", "limit"]).optional(),
        parameter1: Int.optional(),
        check: z.string().optional(),
        thread: z.string().optional(),
        reason: z.string().optional().describe("a substring of the stop's reason"),
      })
      .strict(),
    z.string(),
    z.number().int(),
  ])
  .describe(`a stop: ${STOP_FORMS}`)
  .transform((v, ctx) => {
    if (typeof v !== "string" || v === "none" || v === "any") return v;
    const code = bugCheckCode(v);
    if (code === undefined) {
      ctx.issues.push({
        code: "custom",
        message: `unknown stop "${v}"${didYouMean(v, ["none", "any", ...Object.keys(BUGCHECK)])}; a stop is ${STOP_FORMS}`,
        input: v,
      });
      return z.NEVER;
    }
    return code;
  });

export const Scenario = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    setup: Setup.default(Setup.parse({})),
    /** The steps of the default thread "main" (when `threads` is not given). */
    steps: z.array(Step).min(1).optional(),
    /** Named threads that run concurrently under the scheduler. */
    threads: z.record(Name, ThreadSchema).optional(),
    expect: z
      .object({
        stop: StopExpect.default("none"),
        /** none (default): nothing left after teardown; allowed: report only. */
        leaks: z.enum(["none", "allowed"]).default("none"),
        /** Checks expected to record violations (in record mode), by check name. */
        violations: z.array(z.string()).default([]),
      })
      .strict()
      .default({ stop: "none", leaks: "none", violations: [] }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.steps === undefined && s.threads === undefined) {
      ctx.addIssue({ code: "custom", message: "a scenario needs `steps` or `threads`", path: [] });
    }
    if (s.steps !== undefined && s.threads !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: "give either `steps` (one thread) or `threads`, not both",
        path: ["steps"],
      });
    }
  });
export type ScenarioInput = z.input<typeof Scenario>;
export type Scenario = z.output<typeof Scenario>;

/** The JSON Schema of the input format (what an editor validates and completes). */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(Scenario, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return {
    ...schema,
    $id: "https://rdbss-emulator.dev/scenario.schema.json",
    title: "rdbss-emulator scenario",
    description: "A scripted IRP scenario for rdbss-emulator (docs/SCENARIOS.md).",
  };
}

export { suggestSymbols };
