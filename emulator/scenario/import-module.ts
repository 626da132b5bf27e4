/**
 * Importing a user's mini-redirector module named by a scenario (`setup.minirdr: ./my-mrx.ts`). Running from the
 * TypeScript sources (tests, development) a TypeScript loader is active, so the module imports as it is. Running
 * from the built package (dist/, no TypeScript loader) the first TypeScript module registers tsx (and only then:
 * JavaScript modules never pay for it); the module's own `import … from "rdbss-emulator"` resolves to that same
 * built package, so it shares the running emulator.
 */
import { register } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BUILTIN_MINIRDRS, isMiniRdrModule, type MiniRdrModule } from "../../miniredirs/index.js";
import type { LoadedScenario } from "./load.js";

const TS = /\.[cm]?tsx?$/i;
/** This file runs as .ts only under a TypeScript loader; bundled into dist/ it is part of an .mjs chunk. */
let tsLoader = import.meta.url.endsWith(".ts");
let tsAsModule = false;

/**
 * A resolve hook (registered after the TypeScript loader, so it sees the loader's answer): a `.ts` / `.tsx` file
 * outside node_modules, the module file and what it imports, whose package scope says CommonJS (no package.json, or one without `"type": "module"`, as
 * `npm init` writes it) loads as an ES module anyway. A mini-redirector module is written with `import`; compiled
 * to CommonJS, its `import … from "rdbss-emulator"` becomes a require() of an ES-module-only package, which Node 20
 * refuses ("require() … in a cycle"), and which would bypass the export conditions that give the module the
 * running copy of the emulator. The URL loses the query tsx gives a TypeScript file it means to load as CommonJS.
 * `.cts` files stay CommonJS, as they say.
 */
const TS_AS_MODULE_HOOK = `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.format === "module" || r.url.includes("/node_modules/")) return r;
  const ts = /^file:\\/\\/[^?#]*?\\.tsx?(?=%3F|[?#]|$)/i.exec(r.url);
  return ts ? { ...r, url: ts[0], format: "module" } : r;
}`;

export async function importUserModule(path: string): Promise<unknown> {
  if (TS.test(path)) {
    if (!tsLoader) {
      const tsx = (await import("tsx/esm/api")) as { register(): unknown };
      tsx.register();
      tsLoader = true;
    }
    if (!tsAsModule) {
      register(`data:text/javascript,${encodeURIComponent(TS_AS_MODULE_HOOK)}`);
      tsAsModule = true;
    }
  }
  return await importReportingOnce(pathToFileURL(path).href);
}

/** A scenario's module file that does not import or exports no mini-redirector module: bad input, not a failed run. */
export class ModuleLoadError extends Error {}

/**
 * The mini-redirector a scenario's `setup.minirdr` names: one of the caller's modules, a built-in one, or what its
 * module file exports (the default export, `miniRdr`, `module`, else the first export that is one). Importing runs
 * the module's top level and nothing else. Throws ModuleLoadError when the file does not import or exports none.
 */
export async function resolveMiniRdr(
  loaded: Pick<LoadedScenario, "scenario" | "baseDir" | "modules">,
  importModule: (path: string) => Promise<unknown> = importUserModule,
): Promise<MiniRdrModule> {
  const name = loaded.scenario.setup.minirdr;
  const builtin = loaded.modules[name] ?? BUILTIN_MINIRDRS[name];
  if (builtin) return builtin;
  const path = isAbsolute(name) ? name : resolve(loaded.baseDir, name);
  let imported: unknown;
  try {
    imported = await importModule(path);
  } catch (e) {
    throw new ModuleLoadError(`cannot load ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const ns = imported as Record<string, unknown>;
  const found = [ns.default, ns.miniRdr, ns.module, ...Object.values(ns)].find(isMiniRdrModule);
  if (!found)
    throw new ModuleLoadError(
      `${path} exports no mini-redirector module (an object with name, deviceName, ioctls and load)`,
    );
  return found;
}

/**
 * `import(url)`, except that a failure is reported once. Node 20 rejects the import of a graph in which a CommonJS
 * module throws and also reports the same error as an unhandled rejection (before or after the import's own
 * rejection), which would end the process after the caller has reported the module as bad input. Unhandled
 * rejections are held while any import runs (a command loads several scenarios' modules at once) and until the
 * macrotask after the last one ends; the imports' own errors are dropped then, any other is rejected again, so Node
 * treats it as it would have.
 */
let importing = 0;
let holding = false;
const held: unknown[] = [];
const importErrors = new Set<unknown>();
async function importReportingOnce(url: string): Promise<unknown> {
  importing++;
  if (!holding) {
    process.on("unhandledRejection", holdRejection);
    holding = true;
  }
  try {
    return await import(url);
  } catch (e) {
    importErrors.add(e);
    throw e;
  } finally {
    if (--importing === 0) setImmediate(releaseRejections);
  }
}

function holdRejection(reason: unknown): void {
  held.push(reason);
}
function releaseRejections(): void {
  if (importing > 0 || !holding) return;
  process.off("unhandledRejection", holdRejection);
  holding = false;
  const again = held.filter((r) => !importErrors.has(r));
  held.length = 0;
  importErrors.clear();
  for (const r of again) void Promise.reject(r);
}
