/**
 * A mini-redirector written in a user's own project (test/scenario/_user-project.ts): a `.ts` module importing the
 * package's entries (`rdbss-emulator/io`, `/kernel`, `/rdbss`, `/core`) loads and runs under `rdbss run` and
 * `runScenario` whatever the project's package.json says — `"type": "module"`, nothing (CommonJS, as `npm init`
 * writes it), or no package.json at all. Before, a `.ts` module in a CommonJS folder failed with Node's "Cannot
 * require() ES Module … in a cycle". A module that does not load is bad input (exit 2, located) for run and explore,
 * and ends no process: Node 20 reports a throwing CommonJS module in an import graph twice, once as an unhandled
 * rejection.
 */

import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { formatReport, loadScenarioFile, runScenario } from "../../emulator/scenario/index.js";
import { ROOT } from "../_cli.js";
import { HELLO_SCENARIO, makeUserProject, type PackageScope } from "./_user-project.js";

function rdbssIn(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "scripts/rdbss.mjs"), ...args],
      { cwd, env: { ...process.env, RDBSS_FROM_SOURCE: "1" }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const SCOPES: readonly PackageScope[] = ["commonjs", "module", "none"];

for (const scope of SCOPES) {
  test(`rdbss run: a .ts and an .mts module in a project whose package scope is ${scope} pass`, async (t) => {
    const dir = makeUserProject(scope);
    const r = await rdbssIn(dir, "run", "hello.yaml", "hello-mts.yaml", "--summary");
    t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
    t.regex(r.stdout, /2 of 2 scenarios passed\./);
    t.notRegex(r.stderr, /require\(\)|cycle/);
  });

  test(`runScenario in this process: a .ts module in a ${scope} project runs the scenario`, async (t) => {
    const dir = makeUserProject(scope);
    const loaded = loadScenarioFile(join(dir, "hello.yaml"));
    if (!loaded.ok) return t.fail(loaded.problems.map((p) => p.message).join("\n"));
    const report = await runScenario(loaded.loaded);
    t.true(report.passed, formatReport(report));
    t.is(report.steps.find((s) => s.op === "read")?.outcome, "passed");
    t.true(report.steps[0]?.mrx.includes("MRxCreateSrvCall"), report.steps[0]?.mrx.join(", "));
  });
}

test("a module importing a CommonJS file that throws: run and explore exit 2 at setup.minirdr, no crash", async (t) => {
  const dir = makeUserProject("commonjs");
  writeFileSync(join(dir, "helper.cjs"), 'require("./not-there.js");\n');
  writeFileSync(join(dir, "broken.ts"), 'import "./helper.cjs";\nexport const nothing = 1;\n');
  writeFileSync(join(dir, "broken.yaml"), HELLO_SCENARIO("./broken.ts"));
  // Beside a module that loads, as a command loading several scenarios does.
  const run = await rdbssIn(dir, "run", "broken.yaml", "hello.yaml");
  t.is(run.code, 2, run.stderr);
  t.regex(run.stderr, /^broken\.yaml:3:\d+: setup\.minirdr: cannot load .*broken\.ts: Cannot find module/m);
  t.regex(run.stderr, /1 problem; nothing was run\./);
  t.notRegex(run.stderr, /Node\.js v\d+|node:internal/, "the process did not die of the repeated rejection");
  t.is(run.stdout, "");

  const explore = await rdbssIn(dir, "explore", "broken.yaml", "--iterations", "3", "--out", join(dir, "out"));
  t.is(explore.code, 2, explore.stdout);
  t.regex(explore.stderr, /setup\.minirdr: cannot load .*broken\.ts/);
  t.notRegex(explore.stdout, /failing schedule/, "a module that does not load is not a failing schedule");
});
