/**
 * Loading scenario files: YAML or JSON text → the zod schema → cross-reference checks → a LoadedScenario whose
 * every part can be located (file:line:column) for messages at run time. Nothing runs when a file is invalid:
 * every problem found is reported at once, each with its place in the file, the path inside the document and what
 * was expected. Loading never throws for bad input; it returns the problems.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { BUILTIN_MINIRDRS, DEFAULT_SERVER, type MiniRdrModule } from "../../miniredirs/index.js";
import { normalizeImage, type ServerImage, ServerImageError } from "../../miniredirs/memsmb/server/index.js";
import { didYouMean } from "../faults/spec.js";
import { FSCTL } from "../io/constants.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { ModuleLoadError, resolveMiniRdr } from "./import-module.js";
import { Scenario, type ServerImageInput, ServerImageSchema, type Step } from "./schema.js";

export type DocPath = readonly (string | number)[];

export interface Location {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One problem in a scenario file. */
export interface Problem extends Location {
  /** The path inside the document: "threads.a.steps[2].access". */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`;
}

/** Bad input as the commands print it: one line per problem, then "N problems; nothing was run." */
export function formatProblems(problems: readonly Problem[]): string[] {
  const n = problems.length;
  return [...problems.map(formatProblem), `${n} problem${n === 1 ? "" : "s"}; nothing was run.`];
}

/** A step as the runner sees it: the validated step, its thread, and where it is written. */
export interface PlacedStep {
  readonly step: Step;
  readonly thread: string;
  /** Index within its thread. */
  readonly index: number;
  /** "threads.a.steps[2]" or "steps[2]" */
  readonly path: string;
  readonly where: Location;
  /**
   * What the reference ledger, lock-order and tombstone reports call the step: "steps[2] t.yaml:14" (set by the
   * loader; a plan built by hand may leave it out).
   */
  readonly label?: string;
}

export interface ThreadPlan {
  readonly name: string;
  readonly user: string;
  readonly process: string;
  readonly system: boolean;
  readonly steps: readonly PlacedStep[];
}

export interface LoadedScenario {
  readonly file: string;
  readonly baseDir: string;
  readonly scenario: Scenario;
  readonly threads: readonly ThreadPlan[];
  /** Server images with fixtures resolved (memsmb); empty: the module's default. */
  readonly servers: readonly ServerImage[];
  /** User → password for logon tokens (setup.users, then the server images' users). */
  readonly passwords: ReadonlyMap<string, string>;
  /** Mini-redirector modules given by the caller (by name), besides the built-in ones. */
  readonly modules: Readonly<Record<string, MiniRdrModule>>;
  locate(path: DocPath): Location;
}

export interface LoadOptions {
  /** Folder that relative paths (fixtures, module files) resolve from (default: the file's folder or the cwd). */
  readonly baseDir?: string;
  /** Your own mini-redirector modules, by the name `setup.minirdr` uses. */
  readonly modules?: Readonly<Record<string, MiniRdrModule>>;
}

export type LoadResult =
  | { readonly ok: true; readonly loaded: LoadedScenario }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/** The project's fixtures folder (for `{fixture: …}` references that are not beside the scenario). */
export const FIXTURES_DIR = join(PACKAGE_ROOT, "fixtures");

export function formatPath(path: DocPath): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(p)) out += out === "" ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

interface Positioned {
  readonly locate: (path: DocPath) => Location;
  readonly value: unknown;
  readonly problems: Problem[];
}

/** Parse YAML (JSON is YAML) keeping positions. */
function parseWithPositions(text: string, file: string): Positioned {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const problems: Problem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
    problems.push({ file, line: pos.line, column: pos.col, path: "", message: e.message.split("\n")[0] ?? e.message });
  }
  const locate = (path: DocPath): Location => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const p = lc.linePos(node.range[0]);
        return { file, line: p.line, column: p.col };
      }
      // A key whose value is null still has a position: find the pair's key.
      if (n > 0) {
        const parent = doc.getIn(path.slice(0, n - 1), true);
        const key = path[n - 1];
        if (parent && typeof parent === "object" && "items" in parent && typeof key === "string") {
          for (const item of (parent as { items: unknown[] }).items) {
            const k = (item as { key?: unknown }).key;
            if (isNode(k) && (k as { value?: unknown }).value === key && k.range) {
              const p = lc.linePos(k.range[0]);
              return { file, line: p.line, column: p.col };
            }
          }
        }
      }
    }
    return { file, line: 1, column: 1 };
  };
  let value: unknown = null;
  if (problems.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      problems.push({ file, line: 1, column: 1, path: "", message: e instanceof Error ? e.message : String(e) });
    }
  }
  return { locate, value, problems };
}

/** What this module reads of a zod schema's definition (zod 4's `_zod.def`). */
interface SchemaDef {
  readonly type: string;
  readonly [field: string]: unknown;
}
const defOf = (schema: unknown): SchemaDef => (schema as { _zod: { def: SchemaDef } })._zod.def;

/**
 * The keys `schema` allows in the mapping at `path` of `data`: for an unknown key's "did you mean". Follows
 * wrappers, arrays and records; at a union, the branches `data` selects by discriminator (a step's `op`), else all.
 */
function keysAt(schema: unknown, data: unknown, path: readonly (string | number)[]): Set<string> {
  const keys = new Set<string>();
  const child = (d: unknown, k: string | number): unknown =>
    d !== null && typeof d === "object" ? (d as Record<string | number, unknown>)[k] : undefined;
  const walk = (s: unknown, d: unknown, i: number): void => {
    const def = defOf(s);
    switch (def.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        walk(def.innerType, d, i);
        return;
      case "pipe":
        walk(def.in, d, i);
        return;
      case "lazy":
        walk((def.getter as () => unknown)(), d, i);
        return;
      case "intersection":
        walk(def.left, d, i);
        walk(def.right, d, i);
        return;
      case "union": {
        const options = def.options as readonly unknown[];
        const disc = typeof def.discriminator === "string" ? def.discriminator : null;
        const tag = disc === null ? undefined : child(d, disc);
        const chosen = options.filter((o) => {
          const values = (o as { _zod: { propValues?: Record<string, Set<unknown>> } })._zod.propValues;
          return disc === null || values?.[disc]?.has(tag) === true;
        });
        for (const o of chosen.length > 0 ? chosen : options) walk(o, d, i);
        return;
      }
      case "object": {
        const shape = def.shape as Record<string, unknown>;
        if (i === path.length) {
          for (const k of Object.keys(shape)) keys.add(k);
          return;
        }
        const k = path[i] as string | number;
        if (typeof k === "string" && shape[k] !== undefined) walk(shape[k], child(d, k), i + 1);
        return;
      }
      case "array":
        if (i < path.length) walk(def.element, child(d, path[i] as string | number), i + 1);
        return;
      case "record":
        if (i < path.length) walk(def.valueType, child(d, path[i] as string | number), i + 1);
        return;
      default:
        return;
    }
  };
  walk(schema, data, 0);
  return keys;
}

/** zod issues → located problems; a union reports the branch that got furthest. */
function zodProblems(
  issues: readonly z.core.$ZodIssue[],
  base: DocPath,
  locate: (p: DocPath) => Location,
  file: string,
  input: unknown = undefined,
  schema: unknown = null,
): Problem[] {
  const out: Problem[] = [];
  const visit = (issue: z.core.$ZodIssue, prefix: DocPath): void => {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    if (issue.code === "invalid_union" && issue.errors.length > 0 && !("note" in issue && issue.note)) {
      // The branch whose first issue is deepest is what the author most likely meant.
      let best: readonly z.core.$ZodIssue[] | null = null;
      let bestDepth = -1;
      for (const branch of issue.errors) {
        const depth = Math.max(...branch.map((i) => i.path.length + (i.code === "invalid_type" ? 0 : 0.5)));
        if (depth > bestDepth) {
          best = branch;
          bestDepth = depth;
        }
      }
      if (best && bestDepth > 0) {
        for (const i of best) visit(i, path);
        return;
      }
      const expected = issue.errors
        .map((b) => b[0])
        .filter((i): i is z.core.$ZodIssue => i !== undefined && i.code === "invalid_type")
        .map((i) => (i as { expected: string }).expected);
      const msg = expected.length > 0 ? `expected ${[...new Set(expected)].join(" or ")}` : issue.message;
      out.push({ ...locate([...base, ...path]), file, path: formatPath(path), message: msg });
      return;
    }
    if (issue.code === "invalid_key") {
      // A record's key that its key schema refused (an unknown check name): that schema's own message, at the key.
      for (const i of issue.issues) visit(i, path);
      return;
    }
    let where = locate([...base, ...path]);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      // At the (first) unknown key itself, not at the mapping that holds it.
      if (issue.keys[0] !== undefined) where = locate([...base, ...path, issue.keys[0]]);
      const known = schema === null ? new Set<string>() : keysAt(schema, input, path);
      message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys
        .map((k) => `"${k}"${didYouMean(k, known)}`)
        .join(", ")}`;
    }
    const options = (issue as { options?: unknown }).options;
    if (issue.code === "invalid_union" && Array.isArray(options) && options.length > 0) {
      // A discriminator (a step's `op`) no branch has: the nearest names first.
      const got = valueAt(input, path);
      const names = options.map(String);
      message =
        typeof got === "string"
          ? `unknown ${String(path.at(-1) ?? "value")} "${got}"${didYouMean(got, names)}; one of ${names.join(", ")}`
          : `expected one of ${names.join(", ")}`;
    }
    out.push({ ...where, file, path: formatPath(path), message });
  };
  for (const i of issues) visit(i, []);
  return out;
}

/** The value at `path` in plain data (undefined where the path leads nowhere). */
function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

/** Names used by steps: handles, requests, events (for cross-reference checks). */
function crossCheck(
  s: Scenario,
  threads: readonly ThreadPlan[],
  locate: (p: DocPath) => Location,
  file: string,
  usesServers: boolean | null,
  ioctlNames: ReadonlySet<string> | null,
): Problem[] {
  const problems: Problem[] = [];
  const at = (path: string, docPath: DocPath, message: string) =>
    problems.push({ ...locate(docPath), file, path, message });
  const handles = new Set<string>();
  const handleProcess = new Map<string, string>();
  const requests = new Set<string>();
  const signaled = new Set<string>();
  const ids = new Map<string, string>();
  const stepPath = (t: ThreadPlan, i: number): DocPath => (s.threads ? ["threads", t.name, "steps", i] : ["steps", i]);
  for (const t of threads) {
    for (const ps of t.steps) {
      const st = ps.step;
      if (st.id !== undefined) {
        const prev = ids.get(st.id);
        if (prev !== undefined)
          at(ps.path, [...stepPath(t, ps.index), "id"], `step id "${st.id}" is already used by ${prev}`);
        else ids.set(st.id, ps.path);
      }
      if (st.op === "create" && st.as) {
        handles.add(st.as);
        // Handles belong to a process: one name cannot stand for handles of two processes.
        const owner = handleProcess.get(st.as);
        if (owner !== undefined && owner !== t.process) {
          at(
            `${ps.path}.as`,
            [...stepPath(t, ps.index), "as"],
            `handle name "${st.as}" is already used in process ${owner}; threads of different processes cannot share handles, pick another name`,
          );
        } else handleProcess.set(st.as, t.process);
      }
      if (
        (st.op === "notify" ||
          st.op === "lock" ||
          st.op === "read" ||
          st.op === "write" ||
          st.op === "ioctl" ||
          st.op === "fsctl") &&
        st.as
      )
        requests.add(st.as);
      if (st.op === "signal") signaled.add(st.event);
    }
  }
  for (const t of threads) {
    for (const ps of t.steps) {
      const st = ps.step;
      const p = stepPath(t, ps.index);
      if ("handle" in st && st.handle !== undefined && !handles.has(st.handle)) {
        at(
          `${ps.path}.handle`,
          [...p, "handle"],
          `no create step names a handle "${st.handle}" (with \`as: ${st.handle}\`)`,
        );
      }
      if (st.op === "create" && st.root !== undefined && !handles.has(st.root)) {
        at(`${ps.path}.root`, [...p, "root"], `no create step names a handle "${st.root}"`);
      }
      if ((st.op === "wait" || st.op === "cancel") && st.request !== undefined && !requests.has(st.request)) {
        at(
          `${ps.path}.request`,
          [...p, "request"],
          `no step names a request "${st.request}" (with \`as: ${st.request}\` on notify, lock, read, write, ioctl or fsctl)`,
        );
      }
      if (st.op === "cancel" && st.request === undefined && st.handle === undefined) {
        at(ps.path, p, "cancel needs `request` (NtCancelIoFileEx) or `handle` (NtCancelIoFile)");
      }
      if (st.op === "wait-signal" && !signaled.has(st.event)) {
        at(`${ps.path}.event`, [...p, "event"], `no step signals "${st.event}": this wait would never end`);
      }
      if ((st.op === "ioctl" || st.op === "fsctl") && st.handle === undefined && !st.device) {
        at(ps.path, p, `${st.op} needs \`handle\` or \`device: true\``);
      }
      if (
        (st.op === "ioctl" || st.op === "fsctl") &&
        typeof st.code === "string" &&
        ioctlNames !== null &&
        !ioctlNames.has(st.code)
      ) {
        at(
          `${ps.path}.code`,
          [...p, "code"],
          `unknown control code "${st.code}" (known: ${[...ioctlNames].slice(0, 12).join(", ")}…)`,
        );
      }
      if (st.op === "fault" && st.drop !== undefined && usesServers === false) {
        at(`${ps.path}.drop`, [...p, "drop"], "this mini-redirector has no transport connections to drop");
      }
      if (st.op === "call" && st.routine === "RxFinalizeConnection" && st.level === undefined) {
        at(`${ps.path}.level`, [...p], "RxFinalizeConnection needs `level`: FALSE, TRUE or 0xff");
      }
    }
  }
  return problems;
}

/** Control-code names a built-in module answers (with and without the IOCTL_<MODULE>_ prefix) plus FSCTL_*. */
export function controlCodeNames(moduleName: string, ioctls: Readonly<Record<string, number>>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(ioctls)) {
    m.set(k, v);
    m.set(`IOCTL_${moduleName.toUpperCase()}_${k}`, v);
  }
  for (const [k, v] of Object.entries(FSCTL)) m.set(k, v);
  return m;
}

/** Parse and validate scenario text. `file` names it in messages; relative fixtures resolve from `baseDir`. */
export function parseScenario(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const baseDir = options.baseDir ?? process.cwd();
  const modules = options.modules ?? {};
  const parsed = parseWithPositions(text, file);
  if (parsed.problems.length > 0) return { ok: false, problems: parsed.problems };
  const { locate } = parsed;
  if (typeof parsed.value !== "object" || parsed.value === null || Array.isArray(parsed.value)) {
    return {
      ok: false,
      problems: [
        { ...locate([]), path: "", message: "a scenario is a mapping with name, setup, steps or threads, expect" },
      ],
    };
  }
  const r = Scenario.safeParse(parsed.value);
  if (!r.success) return { ok: false, problems: zodProblems(r.error.issues, [], locate, file, parsed.value, Scenario) };
  const s = r.data;
  const problems: Problem[] = [];

  // The mini-redirector.
  const builtin = modules[s.setup.minirdr] ?? BUILTIN_MINIRDRS[s.setup.minirdr];
  if (!builtin) {
    const p = isAbsolute(s.setup.minirdr) ? s.setup.minirdr : resolve(baseDir, s.setup.minirdr);
    const names = [...Object.keys(modules), ...Object.keys(BUILTIN_MINIRDRS)];
    if (!/[\\/.]/.test(s.setup.minirdr)) {
      problems.push({
        ...locate(["setup", "minirdr"]),
        path: "setup.minirdr",
        message: `unknown mini-redirector "${s.setup.minirdr}"${didYouMean(s.setup.minirdr, names)}: ${names.join(", ")}, or a path to a module file`,
      });
    } else if (!existsSync(p)) {
      problems.push({
        ...locate(["setup", "minirdr"]),
        path: "setup.minirdr",
        message: `no module file ${p} (a path is taken relative to the scenario's folder; built-in mini-redirectors: ${names.join(", ")})`,
      });
    }
  }
  if (builtin && !builtin.usesServers && s.setup.servers !== undefined) {
    problems.push({
      ...locate(["setup", "servers"]),
      path: "setup.servers",
      message: `${builtin.name} has no servers; remove setup.servers`,
    });
  }

  // Server images: inline or fixtures, each checked by the server model.
  const servers: ServerImage[] = [];
  for (const [i, ref] of (s.setup.servers ?? []).entries()) {
    let image: ServerImageInput;
    let imageFile = file;
    let imageLocate = (p: DocPath) => locate(["setup", "servers", i, ...p]);
    if ("fixture" in ref) {
      const candidates = [resolve(baseDir, ref.fixture), resolve(FIXTURES_DIR, ref.fixture)];
      const found = candidates.find((c) => existsSync(c));
      if (!found) {
        problems.push({
          ...locate(["setup", "servers", i, "fixture"]),
          path: `setup.servers[${i}].fixture`,
          message: `no such fixture: ${ref.fixture} (looked in ${candidates.join(" and ")})`,
        });
        continue;
      }
      const sub = loadServerImageFile(found);
      if (!sub.ok) {
        problems.push(...sub.problems);
        continue;
      }
      image = sub.image;
      imageFile = found;
      imageLocate = sub.locate;
    } else image = ref;
    const img = image as unknown as ServerImage;
    try {
      normalizeImage(img);
      servers.push(img);
    } catch (e) {
      if (e instanceof ServerImageError) {
        const segs = e.path
          .split(/[.[\]]/)
          .filter((x) => x !== "")
          .map((x) => (/^\d+$/.test(x) ? Number(x) : x));
        problems.push({
          ...imageLocate(segs),
          file: imageFile,
          path: "fixture" in ref ? e.path : `setup.servers[${i}].${e.path}`,
          message: e.message.replace(/^[^:]*: /, ""),
        });
      } else throw e;
    }
  }

  // Threads and their users.
  const passwords = new Map<string, string>();
  for (const image of servers.length > 0 ? servers : builtin?.usesServers ? [DEFAULT_SERVER] : []) {
    for (const u of image.users) if (!passwords.has(u.name)) passwords.set(u.name, u.password);
  }
  for (const [u, p] of Object.entries(s.setup.users)) passwords.set(u, p);
  const threads: ThreadPlan[] = [];
  const place = (name: string, steps: readonly Step[], prefix: DocPath): PlacedStep[] =>
    steps.map((step, index) => {
      const path = formatPath([...prefix, index]);
      const where = locate([...prefix, index]);
      return { step, thread: name, index, path, where, label: `${path} ${basename(where.file)}:${where.line}` };
    });
  if (s.threads) {
    for (const [name, t] of Object.entries(s.threads)) {
      const user = t.user ?? "guest";
      if (!t.system && t.user !== undefined && !passwords.has(user) && builtin?.usesServers) {
        problems.push({
          ...locate(["threads", name, "user"]),
          path: `threads.${name}.user`,
          message: `user "${user}" has no password: add it to setup.users or a server image`,
        });
      }
      threads.push({
        name,
        user,
        process: t.system ? "System" : (t.process ?? `${user}.exe`),
        system: t.system,
        steps: place(name, t.steps, ["threads", name, "steps"]),
      });
    }
  } else {
    threads.push({
      name: "main",
      user: "guest",
      process: "guest.exe",
      system: false,
      steps: place("main", s.steps ?? [], ["steps"]),
    });
  }
  const ioctlNames = builtin ? new Set(controlCodeNames(builtin.name, builtin.ioctls).keys()) : null;
  problems.push(...crossCheck(s, threads, locate, file, builtin ? builtin.usesServers : null, ioctlNames));
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, loaded: { file, baseDir, scenario: s, threads, servers, passwords, modules, locate } };
}

/**
 * Load the mini-redirector module file a valid scenario names (`setup.minirdr: ./my-mrx.ts`) without running the
 * scenario: null when it imports and exports a usable module (or the scenario names a built-in or given module),
 * else the problem, located at setup.minirdr. A module that cannot be used is bad input, like an invalid file.
 */
export async function checkScenarioModule(
  loaded: LoadedScenario,
  importModule?: (path: string) => Promise<unknown>,
): Promise<Problem | null> {
  try {
    await resolveMiniRdr(loaded, importModule);
    return null;
  } catch (e) {
    if (!(e instanceof ModuleLoadError)) throw e;
    return { ...loaded.locate(["setup", "minirdr"]), path: "setup.minirdr", message: e.message };
  }
}

/** A file's text, or the located problem of not being able to read it. */
function readText(path: string): string | { ok: false; problems: Problem[] } {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const message = `cannot read: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, problems: [{ file: path, line: 1, column: 1, path: "", message }] };
  }
}

/** Read and validate a scenario file. */
export function loadScenarioFile(path: string, options: Omit<LoadOptions, "baseDir"> = {}): LoadResult {
  const text = readText(path);
  if (typeof text !== "string") return text;
  return parseScenario(text, path, { ...options, baseDir: dirname(resolve(path)) });
}

/** A server image file (fixtures/servers/*.yaml). */
export function loadServerImageFile(
  path: string,
): { ok: true; image: ServerImageInput; locate: (p: DocPath) => Location } | { ok: false; problems: Problem[] } {
  const text = readText(path);
  if (typeof text !== "string") return text;
  const parsed = parseWithPositions(text, path);
  if (parsed.problems.length > 0) return { ok: false, problems: parsed.problems };
  return ServerImageFromValue(parsed.value, parsed.locate, path);
}

function ServerImageFromValue(
  value: unknown,
  locate: (p: DocPath) => Location,
  file: string,
): { ok: true; image: ServerImageInput; locate: (p: DocPath) => Location } | { ok: false; problems: Problem[] } {
  const r = ServerImageSchema.safeParse(value);
  if (!r.success)
    return { ok: false, problems: zodProblems(r.error.issues, [], locate, file, value, ServerImageSchema) };
  return { ok: true, image: r.data, locate };
}
