#!/usr/bin/env node
// `npm test`: type-check, lint, then every ava test; the last line printed is
// "N passed, N failed" (", N skipped" when any), which CI reads.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

// On a fresh clone, install exactly what the lockfile says first.
if (!existsSync(new URL("../node_modules/.bin/ava", import.meta.url))) {
  const ci = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  if (ci.status !== 0) {
    process.stdout.write("npm ci failed\n0 passed, 1 failed\n");
    process.exit(1);
  }
}

const run = (cmd, args) => spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;

let failedSteps = 0;
for (const [label, cmd, args] of [
  ["type-check", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]],
  ["lint", bin("biome"), ["lint", "--reporter=summary"]],
]) {
  const r = run(cmd, args);
  if (r.status !== 0) {
    failedSteps++;
    process.stdout.write(`✖ ${label} failed\n${r.stdout}${r.stderr}\n`);
  } else {
    process.stdout.write(`✔ ${label}\n`);
  }
}

const ava = run(bin("ava"), ["--tap", ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const line of ava.stdout.split("\n")) {
  if (/^ok \d+/.test(line)) {
    if (/# SKIP/.test(line)) skipped++;
    else passed++;
  } else if (/^not ok \d+/.test(line)) {
    if (/# TODO/.test(line)) skipped++;
    else {
      failed++;
      failures.push(line);
    }
  }
}
if (failed > 0 || ava.status !== 0) process.stdout.write(`${ava.stdout}\n${ava.stderr}\n`);
else process.stdout.write(`✔ ${passed} tests\n`);
for (const f of failures) process.stdout.write(`${f}\n`);
// A crashed test file (uncaught exception, timeout) counts as one failure even if no test line says so.
if (ava.status !== 0 && failed === 0) failed = 1;
failed += failedSteps;
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
process.exit(failed > 0 ? 1 : 0);
