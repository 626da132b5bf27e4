#!/usr/bin/env node
// The `rdbss` command. Runs the built CLI (dist/cli.mjs, from `npm run build`, which `npm ci` runs) when it is
// newer than every source file; otherwise — no build yet, a source edited since, or RDBSS_FROM_SOURCE=1 — it
// registers tsx and runs the TypeScript sources as they are, with the "source" export condition, so that a user's
// module importing `rdbss-emulator` gets the same copy of the emulator as the command.
import { readdirSync, statSync } from "node:fs";
import { register } from "node:module";

const root = new URL("../", import.meta.url);
const built = new URL("dist/cli.mjs", root);

/** The newest modification time (ms) of the TypeScript sources the CLI is built from. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(new URL(`${e.name}/`, dir));
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(new URL(e.name, dir)).mtimeMs);
    }
  };
  for (const d of ["emulator/", "miniredirs/", "scripts/"]) walk(new URL(d, root));
  return newest;
}

function builtIsFresh() {
  if (process.env.RDBSS_FROM_SOURCE === "1") return false;
  let t;
  try {
    t = statSync(built).mtimeMs;
  } catch {
    return false;
  }
  return t >= newestSource();
}

if (builtIsFresh()) {
  await import(built.href);
} else {
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register("./source-conditions.mjs", import.meta.url);
  await import("./cli.ts");
}
