/**
 * The folder of the rdbss-emulator package (its package.json), found from this module's own location, so that it
 * is the same whether the code runs from the TypeScript sources (emulator/…) or from the built package
 * (dist/chunks/…). Never throws at import: a program that bundles the emulator elsewhere gets a best guess.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(from: string): string {
  for (let dir = from; ; ) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === "rdbss-emulator") return dir;
      } catch {
        // not ours (unreadable or not JSON): keep looking
      }
    }
    const up = dirname(dir);
    // Bundled into some other program: no package.json of ours above. Two levels up, as from a bundle in dist/chunks
    // (or the profiling bundles of docs/PERFORMANCE.md); only fixture lookups and `explore --workers` use it.
    if (up === dir) return resolve(from, "../..");
    dir = up;
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
