/**
 * Importing a user's mini-redirector module named by a scenario (`setup.minirdr: ./my-mrx.ts`). Running from the
 * TypeScript sources (tests, development) a TypeScript loader is active, so the module imports as it is. Running
 * from the built package (dist/, no TypeScript loader) the first TypeScript module registers tsx (and only then:
 * JavaScript modules never pay for it); the module's own `import … from "rdbss-emulator"` resolves to that same
 * built package, so it shares the running emulator.
 */
import { pathToFileURL } from "node:url";

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
