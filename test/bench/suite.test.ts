/**
 * The benchmark suite's smoke run (`npm run bench -- --quick --json`) still works and prints the nine numbers of
 * issue 7. No timing is asserted: only that every key is there and is a finite, positive number.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import test from "ava";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const KEYS = [
  "readIrpsPerSec",
  "readIrpsPerSecChecksOff",
  "directReadsPerSec",
  "lifecycleScenariosPerSec",
  "schedulesPerSecRandom",
  "schedulesPerSecPct",
  "createCloseCostRatio100kTo1k",
  "bytesPerOpenHandle",
  "coldStartMs",
];

test("npm run bench -- --quick --json prints one object with the nine numbers", (t) => {
  const r = spawnSync(process.execPath, ["--import=tsx", "scripts/bench/suite.ts", "--quick", "--json"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  t.is(lines.length, 1, "one line of JSON on stdout");
  const obj = JSON.parse(lines[0] as string) as Record<string, unknown>;
  t.deepEqual(Object.keys(obj), KEYS);
  for (const k of KEYS) {
    const v = obj[k];
    t.true(typeof v === "number" && Number.isFinite(v) && v > 0, `${k} = ${String(v)}`);
  }
});
