/**
 * Importing a user's mini-redirector module named by a scenario (`setup.minirdr: ./my-mrx.ts`). Running from the
 * TypeScript sources (tests, development) a TypeScript loader is active, so the module imports as it is. Running
 * from the built package (dist/, no TypeScript loader) the first TypeScript module registers tsx (and only then:
 * JavaScript modules never pay for it); the module's own `import … from "rdbss-emulator"` resolves to that same
 * built package, so it shares the running emulator.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BUILTIN_MINIRDRS, isMiniRdrModule, type MiniRdrModule } from "../../miniredirs/index.js";
import type { LoadedScenario } from "./load.js";

const TS = /\.[cm]?tsx?$/i;
/** This file runs as .ts only under a TypeScript loader; bundled into dist/ it is part of an .mjs chunk. */
let tsLoader = import.meta.url.endsWith(".ts");

export async function importUserModule(path: string): Promise<unknown> {
  if (!tsLoader && TS.test(path)) {
    const tsx = (await import("tsx/esm/api")) as { register(): unknown };
    tsx.register();
    tsLoader = true;
  }
  return await import(pathToFileURL(path).href);
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
