/**
 * The `rdbss` command as the CLI tests run it (not a test file itself: ava only runs `*.test.ts`).
 */
import { execFile } from "node:child_process";
import { join } from "node:path";

/** The project's root folder. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Run `node scripts/rdbss.mjs …args` from the root; resolves with its exit code and output. */
export function rdbss(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "node",
      [join(ROOT, "scripts/rdbss.mjs"), ...args],
      { cwd: ROOT, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
