/**
 * The check catalogue (emulator/verifier): one test per entry runs its fixture (fixtures/checks/<id>.yaml) and
 * checks the stop against the entry — code, parameter 1, switch. Then the catalogue's own consistency: fixtures and
 * entries match one to one, every switch has a default that the emulator really applies, the tests it names exist,
 * and docs/CHECKS.md carries the generated tables.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { createEmulator } from "../../emulator/boot.js";
import { IO_CHECKS } from "../../emulator/io/index.js";
import { KERNEL_CHECKS } from "../../emulator/kernel/index.js";
import { RDBSS_ASSERT, RDBSS_CHECKS } from "../../emulator/rdbss/index.js";
import { RDBSS_CHECK_DEFAULTS } from "../../emulator/rdbss/verify.js";
import { formatReport, loadScenarioFile, runScenario } from "../../emulator/scenario/index.js";
import {
  CATALOGUE,
  CHECK_SWITCHES,
  type CheckSwitch,
  catalogueSections,
  catalogueTable,
  DEFAULT_MODES,
  defaultsTable,
} from "../../emulator/verifier/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

for (const e of CATALOGUE) {
  if (e.fixture === null) continue;
  const fixture = e.fixture;
  test(e.id, async (t) => {
    const loaded = loadScenarioFile(`${ROOT}${fixture}`);
    if (!loaded.ok) return t.fail(loaded.problems.map((p) => p.message).join("\n"));
    const report = await runScenario(loaded.loaded);
    t.true(report.passed, formatReport(report));
    const stop = report.stops.find((s) => s.fatal) ?? null;
    if (e.code === "none") {
      t.is(stop, null);
      return;
    }
    if (stop === null) return t.fail("the fixture did not stop");
    if (e.code === "deadlock") {
      t.is(stop.kind, "deadlock");
      t.true(stop.text.includes("Who waits for what:"), stop.text);
      return;
    }
    t.is(stop.code, `0x${e.code.toString(16).toUpperCase().padStart(8, "0")}`, stop.text);
    if (e.p1 !== undefined) t.is(BigInt(stop.params[0] as string), e.p1, stop.text);
    if (e.check !== null) t.is(stop.check, e.check, stop.text);
    t.true(stop.reason.length > 40, "a plain-language reason");
  });
}

test("every fixture under fixtures/checks is a catalogue entry, and every entry with a fixture has its file", (t) => {
  const files = readdirSync(`${ROOT}fixtures/checks`).filter((f) => f.endsWith(".yaml"));
  const ids = new Set(CATALOGUE.map((e) => e.id));
  for (const f of files) t.true(ids.has(f.replace(/\.yaml$/, "")), `${f} is not in the catalogue`);
  for (const e of CATALOGUE) {
    if (e.fixture !== null) t.true(existsSync(`${ROOT}${e.fixture}`), `${e.fixture} is missing`);
    else t.truthy(e.noFixture, `${e.id} says why it has no fixture`);
  }
  t.is(new Set(CATALOGUE.map((e) => e.id)).size, CATALOGUE.length, "ids are unique");
});

test("the switches are exactly the rooms' check names, each with a documented default the emulator applies", (t) => {
  const names = [...Object.keys(KERNEL_CHECKS), ...Object.keys(IO_CHECKS), ...Object.keys(RDBSS_CHECKS)].sort();
  t.deepEqual(Object.keys(CHECK_SWITCHES).sort(), names);
  t.deepEqual(Object.keys(DEFAULT_MODES).sort(), names);
  const em = createEmulator();
  for (const name of names as CheckSwitch[]) {
    const want = DEFAULT_MODES[name] === "on" ? "stop" : DEFAULT_MODES[name];
    t.is(em.k.checkMode(name), want, name);
  }
  for (const [name, mode] of Object.entries(RDBSS_CHECK_DEFAULTS)) t.is(DEFAULT_MODES[name as CheckSwitch], mode);
  t.not(em.rx.verifier.ledger, null, "the ledger is on by default");
  t.not(em.rx.verifier.tombs, null, "tombstones are on by default");
  const off = createEmulator({ checks: { ledger: "off", useAfterFree: "off" } });
  t.is(off.rx.verifier.ledger, null);
  t.is(off.rx.verifier.tombs, null);
  // An explicit mode wins over a room's default, whichever comes first.
  t.is(createEmulator({ checks: { leaks: "record" } }).k.checkMode("leaks"), "record");
});

test("every switch has at least one entry, and every test file an entry names exists", (t) => {
  const covered = new Set(CATALOGUE.map((e) => e.check));
  for (const name of Object.keys(CHECK_SWITCHES)) t.true(covered.has(name as CheckSwitch), `${name} has no entry`);
  for (const e of CATALOGUE) {
    for (const ref of e.tests) {
      const [file, title] = ref.split(" › ");
      t.true(existsSync(`${ROOT}${file}`), `${e.id}: ${file} does not exist`);
      if (title !== undefined && file !== "test/verifier/catalogue.test.ts") {
        t.true(readFileSync(`${ROOT}${file}`, "utf8").includes(title), `${e.id}: no test "${title}" in ${file}`);
      }
    }
  }
});

test("docs/CHECKS.md carries the generated catalogue table, defaults and sections, and names every entry", (t) => {
  const doc = readFileSync(`${ROOT}docs/CHECKS.md`, "utf8");
  const hint = "regenerate with: node --import=tsx scripts/checks-doc.ts";
  t.true(doc.includes(catalogueTable()), `the catalogue table is out of date (${hint})`);
  t.true(doc.includes(defaultsTable()), `the defaults table is out of date (${hint})`);
  t.true(doc.includes(catalogueSections()), `the sections are out of date (${hint})`);
  for (const e of CATALOGUE) t.true(doc.includes(`### ${e.id}`), e.id);
});

test("every RDBSS_ASSERT sub-code names one check: no two share a parameter 1", (t) => {
  const byCode = new Map<number, string[]>();
  for (const [name, code] of Object.entries(RDBSS_ASSERT)) byCode.set(code, [...(byCode.get(code) ?? []), name]);
  t.deepEqual(
    [...byCode.values()].filter((names) => names.length > 1),
    [],
  );
});
