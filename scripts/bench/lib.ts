/**
 * The emulator the benchmarks run: the built package (dist/index.mjs, what a user's process loads — the `rdbss`
 * command, a test importing `rdbss-emulator`), rebuilt first when a source is newer than the build. With
 * RDBSS_BENCH_SOURCE=1 they run the TypeScript sources under tsx instead, which is slower: tsx compiles with
 * esbuild's keepNames, so every named closure made on a hot path costs an Object.defineProperty (docs/PERFORMANCE.md,
 * "Method"). Types always come from the sources.
 */
import type * as Api from "../../emulator/index.js";
import { build, builtIsFresh } from "../build.mjs";

export type Lib = typeof Api;

/** Where the measured code comes from ("dist" or "source"), for the report. */
export const LIB_FROM: "dist" | "source" = process.env.RDBSS_BENCH_SOURCE === "1" ? "source" : "dist";

async function load(): Promise<Lib> {
  if (LIB_FROM === "source") return await import("../../emulator/index.js");
  if (!builtIsFresh()) await build();
  const url = new URL("../../dist/index.mjs", import.meta.url);
  return (await import(url.href)) as Lib;
}

export const lib: Lib = await load();
