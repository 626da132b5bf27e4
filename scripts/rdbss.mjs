#!/usr/bin/env node
// The `rdbss` command. Runs the built CLI (dist/cli.mjs, from `npm run build`, which `npm ci` runs) when every
// file it was built from is older than the build (dist/build.json lists them); otherwise — no build, an edited
// source, a broken build, or RDBSS_FROM_SOURCE=1 — it registers tsx and runs the TypeScript sources as they are,
// with the "source" export condition for `rdbss-emulator`, so that a user's module importing the package gets the
// same copy of the emulator as the command.
import { register } from "node:module";
import { builtIsFresh as isFresh } from "./build.mjs";

const root = new URL("../", import.meta.url);
const dist = new URL("dist/", root);

function builtIsFresh() {
  return process.env.RDBSS_FROM_SOURCE !== "1" && isFresh();
}
/** A module of the build itself is missing (a build replaced while this one started): not the CLI's own error. */
function brokenBuild(e) {
  return e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes(new URL(".", dist).pathname);
}

async function fromSources() {
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register("./source-conditions.mjs", import.meta.url);
  await import("./cli.ts");
}

if (builtIsFresh()) {
  try {
    await import(new URL("cli.mjs", dist).href);
  } catch (e) {
    if (!brokenBuild(e)) throw e;
    await fromSources();
  }
} else {
  await fromSources();
}
