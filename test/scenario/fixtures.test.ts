/**
 * Every scenario fixture passes (fixtures/scenarios, fixtures/checks, fixtures/faults, fixtures/bench and its parts):
 * the library `npm start` runs, the check fixtures of docs/CHECKS.md, the fault fixtures of docs/FAULTS.md, and what
 * the benchmarks time or count (a bench fixture that stopped passing would make the suite throw, or count a failure).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import {
  FIXTURES_DIR,
  formatProblem,
  formatReport,
  loadScenarioFile,
  runScenario,
} from "../../emulator/scenario/index.js";

for (const folder of ["scenarios", "checks", "faults", "bench", "bench/parts"]) {
  const dir = join(FIXTURES_DIR, folder);
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  test(`every fixture in fixtures/${folder} passes (${files.length})`, async (t) => {
    t.true(files.length > 0);
    for (const f of files) {
      const l = loadScenarioFile(join(dir, f));
      if (!l.ok) {
        t.fail(l.problems.map(formatProblem).join("\n"));
        continue;
      }
      const r = await runScenario(l.loaded);
      t.true(r.passed, formatReport(r, { quiet: true }));
    }
  });
}
