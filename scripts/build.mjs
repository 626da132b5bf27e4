#!/usr/bin/env node
// `npm run build` (and npm's `prepare`, so `npm ci` builds it): the package as it ships, in dist/ —
//   dist/index.mjs  the public API (`rdbss-emulator`)
//   dist/core.mjs   the light entry (`rdbss-emulator/core`: boot, kernel, I/O, RDBSS, mini-redirectors; no zod,
//                   yaml or pino)
//   dist/kernel.mjs, io.mjs, rdbss.mjs  the rooms' DDI surfaces (`rdbss-emulator/kernel`, `/io`, `/rdbss`), for a
//                   mini-redirector's flat imports (CTL_CODE, STATUS, RX_CONTEXT …), as the sources import them
//   dist/cli.mjs    the `rdbss` command (scripts/rdbss.mjs runs it when it is newer than every source file)
//   dist/types/     declaration files of emulator/ and miniredirs/ (tsconfig.types.json), which the package's
//                   `types` conditions name: a user's project type-checks against them under its own compiler
//                   options, never against this repository's sources
// built by esbuild as ES modules with shared chunks, so they all load one copy of the emulator; dependencies stay
// in node_modules. The sources run as they are under tsx (tests, development); dist/ is what a user's process
// loads without tsx: docs/PERFORMANCE.md, "Third pass: cold start".
//
//   node scripts/build.mjs [--outdir DIR]
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ENTRIES = {
  index: "emulator/index.ts",
  core: "emulator/core.ts",
  kernel: "emulator/kernel/index.ts",
  io: "emulator/io/index.ts",
  rdbss: "emulator/rdbss/index.ts",
  cli: "scripts/cli.ts",
};

/** Build into `outdir` (default dist/). Files are written beside their final names and renamed into place,
 *  chunks before entries, so a process starting meanwhile sees the old build or the new one, never half of one. */
export async function build(outdir = join(ROOT, "dist")) {
  const esbuild = await import("esbuild");
  // Taken before esbuild reads anything: a source saved during the build is newer than the build (so stale).
  const builtAt = Date.now();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, src]) => [name, join(ROOT, src)])),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked",
    // Whitespace and syntax only: names stay as written (stacks and profiles read as the sources do).
    minifyWhitespace: true,
    minifySyntax: true,
    write: false,
    metafile: true,
    outdir,
    logLevel: "error",
  });
  mkdirSync(join(outdir, "chunks"), { recursive: true });
  const entries = new Set(Object.keys(ENTRIES).flatMap((n) => [`${n}.mjs`, `${n}.mjs.map`]));
  const files = [...result.outputFiles].sort(
    (a, b) =>
      Number(entries.has(a.path.slice(outdir.length + 1))) - Number(entries.has(b.path.slice(outdir.length + 1))),
  );
  const keep = new Set();
  for (const f of files) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
    keep.add(f.path);
  }
  buildTypes(outdir);
  // Last: what the build was made from and when. scripts/rdbss.mjs runs the build only while every one of these
  // files is older than it (a build without this file is incomplete: not run).
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith("node_modules/"));
  const manifest = join(outdir, "build.json");
  writeFileSync(`${manifest}.${process.pid}.tmp`, `${JSON.stringify({ builtAt, inputs }, null, 1)}\n`);
  renameSync(`${manifest}.${process.pid}.tmp`, manifest);
  return { outdir, files: [...keep] };
}

/**
 * The declaration files, into `outdir/types` (emitted beside it, then swapped in). `--noCheck`: declarations only,
 * in well under a second; `npm run typecheck` is what checks the sources. tsc's own errors fail the build.
 */
function buildTypes(outdir) {
  let tsc;
  try {
    tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin/tsc");
  } catch {
    // An install without devDependencies: the package runs; a TypeScript user of it has no declarations.
    process.stderr.write("rdbss-emulator: typescript is not installed; dist/types not built\n");
    return;
  }
  const dest = join(outdir, "types");
  const tmp = `${dest}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.types.json"), "--noCheck", "--outDir", tmp], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
    });
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Whether the build in `outdir` is complete and newer than every file it was built from (dist/build.json lists
 * them). What scripts/rdbss.mjs and the benchmarks decide on: run the build, or the sources.
 */
export function builtIsFresh(outdir = join(ROOT, "dist")) {
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(join(outdir, "build.json"), "utf8"));
    if (typeof builtAt !== "number" || !Array.isArray(inputs) || inputs.length === 0) return false;
    for (const f of inputs) if (statSync(join(ROOT, f)).mtimeMs >= builtAt) return false;
    return true;
  } catch {
    return false; // no build, an incomplete one, or a source gone
  }
}

/** Remove chunks no entry of this build refers to (an explicit build only: a concurrent one may still use them). */
function pruneChunks(outdir, keep) {
  const dir = join(outdir, "chunks");
  for (const f of readdirSync(dir)) if (!keep.has(join(dir, f))) rmSync(join(dir, f), { force: true });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--outdir");
  const outdir = i > 0 ? resolve(process.argv[i + 1] ?? "dist") : join(ROOT, "dist");
  try {
    const { files } = await build(outdir);
    pruneChunks(outdir, new Set(files));
  } catch (e) {
    // npm's `prepare` on an install without esbuild (e.g. --omit=dev once tsx no longer brings it): the command
    // runs from the sources instead, so the install must not fail.
    if (process.env.npm_lifecycle_event === "prepare" && e?.code === "ERR_MODULE_NOT_FOUND") {
      process.stderr.write(
        "rdbss-emulator: esbuild is not installed; dist/ not built (the rdbss command runs the sources)\n",
      );
      process.exit(0);
    }
    // esbuild has printed the located errors.
    process.stderr.write(`build failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    process.exit(1);
  }
}
