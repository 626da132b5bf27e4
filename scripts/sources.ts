/**
 * The built `rdbss` command (dist/cli.mjs) and users' own mini-redirector modules. A module may import the
 * emulator by relative path into its sources (docs/WRITING-A-MINIRDR.md does); the built command is one bundled
 * copy of the emulator, those sources would be a second one, and the two would not recognise each other's objects
 * (every `instanceof` across them fails). So a command that is about to run a scenario naming a module of its own
 * runs again from the sources — the command's own copy then is the sources — before it has printed anything.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../emulator/package-root.js";
import type { LoadedScenario } from "../emulator/scenario/index.js";
import { BUILTIN_MINIRDRS } from "../miniredirs/index.js";

/** This code runs from the bundle (an .mjs chunk of dist/), not from the TypeScript sources. */
export const RUNNING_BUILT = !import.meta.url.endsWith(".ts");

/** The scenario loads a mini-redirector module from a file (not a built-in, not a module object). */
export function usesOwnModule(l: LoadedScenario): boolean {
  const name = l.scenario.setup.minirdr;
  return l.modules[name] === undefined && BUILTIN_MINIRDRS[name] === undefined;
}

/**
 * When running built and one of `loaded` uses a module file (null: the caller knows one does): run this same command
 * from the sources, wait for it, and return its exit code. Null otherwise (go on here).
 */
export function rerunFromSourcesIfNeeded(loaded: readonly LoadedScenario[] | null): number | null {
  if (!RUNNING_BUILT || (loaded !== null && !loaded.some(usesOwnModule))) return null;
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, "scripts/rdbss.mjs"), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, RDBSS_FROM_SOURCE: "1" },
  });
  return r.status ?? 1;
}
