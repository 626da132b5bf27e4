/**
 * Bad input is reported as bad input: misspelt statuses and stops name the nearest valid ones, every problem of a
 * file is reported at once, and a setup.minirdr module file that does not load is a located problem (`rdbss run`
 * and `rdbss check` exit 2, nothing runs) rather than a failed scenario.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { parseFaultSpec } from "../../emulator/faults/index.js";
import { BUGCHECK, STATUS } from "../../emulator/kernel/index.js";
import { formatProblem, loadScenarioFile, type Problem, parseScenario } from "../../emulator/scenario/index.js";
import { checkScenarioModule } from "../../emulator/scenario/load.js";
import { ROOT, rdbss } from "../_cli.js";

function problems(text: string): Problem[] {
  const r = parseScenario(text, "t.yaml");
  if (r.ok) throw new Error("expected problems");
  return [...r.problems];
}

function messageAt(p: readonly Problem[], path: string): string {
  return p.find((x) => x.path === path)?.message ?? `no problem at ${path}: ${p.map(formatProblem).join("; ")}`;
}

function stopOf(stop: string): unknown {
  const r = parseScenario(`name: x\nsteps: [{ op: start }]\nexpect:\n  stop: ${stop}\n`, "t.yaml");
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.loaded.scenario.expect.stop;
}

test("expect.stop: a misspelt bug-check name is an unknown stop, with the nearest name and the accepted forms", (t) => {
  const p = problems("name: x\nsteps: [{ op: start }]\nexpect:\n  stop: RDR_FILE_SYSTM\n");
  t.like(p[0], { path: "expect.stop", line: 4, column: 9 });
  const message = messageAt(p, "expect.stop");
  t.regex(message, /^unknown stop "RDR_FILE_SYSTM" \(did you mean RDR_FILE_SYSTEM\?\)/);
  t.regex(message, /none, any, a bug-check code \(0x27\), a name \(RDR_FILE_SYSTEM\) or \{code, kind, parameter1/);
  t.notRegex(message, /expected "none"/);
  t.regex(
    messageAt(problems("name: x\nsteps: [{ op: start }]\nexpect: { stop: nnoe }\n"), "expect.stop"),
    /did you mean none\?/,
  );
  t.regex(
    messageAt(
      problems("name: x\nsteps: [{ op: start }]\nexpect: { stop: { code: RDR_FILE_SYSTM } }\n"),
      "expect.stop.code",
    ),
    /unknown bug check "RDR_FILE_SYSTM" \(did you mean RDR_FILE_SYSTEM\?\)/,
  );
  // Property names of Object.prototype are not bug checks.
  t.regex(
    messageAt(problems("name: x\nsteps: [{ op: start }]\nexpect: { stop: constructor }\n"), "expect.stop"),
    /unknown stop/,
  );
});

test("expect.stop: none, any, a code, a name and the object form still load", (t) => {
  t.is(stopOf("none"), "none");
  t.is(stopOf("any"), "any");
  t.is(stopOf("0x27"), BUGCHECK.RDR_FILE_SYSTEM);
  t.is(stopOf('"0x27"'), BUGCHECK.RDR_FILE_SYSTEM);
  t.is(stopOf("RDR_FILE_SYSTEM"), BUGCHECK.RDR_FILE_SYSTEM);
  t.deepEqual(stopOf("{ code: RDR_FILE_SYSTEM, kind: bugcheck }"), {
    code: BUGCHECK.RDR_FILE_SYSTEM,
    kind: "bugcheck",
  });
  t.regex(
    messageAt(problems("name: x\nsteps: [{ op: start }]\nexpect: { stop: { knd: hang } }\n"), "expect.stop"),
    /unknown key "knd" \(did you mean kind\?\)/,
  );
});

test("an unknown key names the nearest keys of its own mapping: a step's by its op, setup, expect, the top level", (t) => {
  const p = problems(
    "name: x\nsetpu: {}\nsteps:\n  - { op: create, pth: X:\\a, as: h }\n  - { op: read, handle: h, length: 4, ofset: 0 }\n  - { op: net-use, drive: X, remote: \\\\s\\t, pasword: p }\nexpect: { stpo: none }\n",
  );
  t.is(messageAt(p, "steps[0]"), 'unknown key "pth" (did you mean path?)');
  t.is(messageAt(p, "steps[1]"), 'unknown key "ofset" (did you mean offset?)');
  t.is(messageAt(p, "steps[2]"), 'unknown key "pasword" (did you mean password?)');
  t.is(messageAt(p, "expect"), 'unknown key "stpo" (did you mean stop?)');
  t.is(messageAt(p, ""), 'unknown key "setpu" (did you mean setup?)');
  // Nothing near: no guess.
  t.is(messageAt(problems("name: x\nsteps: [{ op: start, zzzzzz: 1 }]\n"), "steps[0]"), 'unknown key "zzzzzz"');
});

test("a misspelt status names the nearest statuses: a step's expect, expect.status and a call's result", (t) => {
  const p = problems(`name: x
steps:
  - { op: net-use, drive: R, remote: \\\\box\\ro, expect: STATUS_SUCESS }
  - { op: net-use-delete, drive: R, expect: FILES_OPN }
  - { op: net-use-delete, drive: R, expect: { status: STATUS_BAD_NETWORK_NAM } }
  - { op: call, routine: RxFinalizeSrvCall, object: "SRV_CALL \\\\box", expect: { result: STATUS_SUCESS } }
`);
  t.regex(messageAt(p, "steps[0].expect"), /^unknown status "STATUS_SUCESS" \(did you mean STATUS_SUCCESS\b/);
  t.regex(messageAt(p, "steps[1].expect"), /^unknown status "FILES_OPN" \(did you mean STATUS_FILES_OPEN\b/);
  t.regex(messageAt(p, "steps[2].expect.status"), /did you mean STATUS_BAD_NETWORK_NAME\b/);
  t.regex(messageAt(p, "steps[3].expect.result"), /did you mean STATUS_SUCCESS\b/);
  t.like(
    p.find((x) => x.path === "steps[1].expect"),
    { line: 4 },
  );
});

test("fault statuses name the nearest statuses too: text specs, setup.faults objects and fault steps", (t) => {
  const text = parseFaultSpec("server.WRITE@1,status=DISK_FUL");
  t.true("error" in text && /unknown status "DISK_FUL" \(did you mean STATUS_DISK_FULL\b/.test(text.error));
  const ok = parseFaultSpec("server.WRITE@1,status=DISK_FULL");
  t.true("spec" in ok && ok.spec.status === STATUS.STATUS_DISK_FULL);
  const p = problems(`name: x
setup:
  faults:
    - { site: server.WRITE, nth: 1, status: STATUS_DSK_FULL }
    - "server.READ@1,status=ACCESS_DENID"
steps:
  - { op: fault, site: server.WRITE, status: DISK_FUL }
`);
  t.regex(messageAt(p, "setup.faults[0].status"), /did you mean STATUS_DISK_FULL\b/);
  t.regex(messageAt(p, "setup.faults[1]"), /unknown status "ACCESS_DENID" \(did you mean STATUS_ACCESS_DENIED\b/);
  t.regex(messageAt(p, "steps[0].status"), /did you mean STATUS_DISK_FULL\b/);
});

test("setup.checks: every unknown check name and every bad mode are reported at once", (t) => {
  const p = problems(
    "name: x\nsetup:\n  checks: { irqll: off, leaks: maybe, lockOrdr: record }\nsteps: [{ op: start }]\n",
  );
  t.regex(messageAt(p, "setup.checks.irqll"), /unknown check "irqll" \(did you mean irql\b/);
  t.regex(messageAt(p, "setup.checks.lockOrdr"), /unknown check "lockOrdr" \(did you mean lockOrder\b/);
  t.regex(messageAt(p, "setup.checks.leaks"), /"stop"\|"record"\|"off"/);
  // Property names of Object.prototype are not checks.
  const proto = problems("name: x\nsetup:\n  checks: { constructor: off }\nsteps: [{ op: net-list }]\n");
  t.regex(messageAt(proto, "setup.checks.constructor"), /unknown check "constructor"/);
  t.like(
    p.find((x) => x.path === "setup.checks.irqll"),
    { line: 3 },
  );
});

// Module files that cannot be used, each named by a scenario beside it.
const dir = mkdtempSync(join(tmpdir(), "rdbss-badmod-"));
writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n'); // as a user's project: .ts files are ES modules
const BAD_MODULES = {
  noexport: {
    what: "exports no module",
    source: "export const notAModule = { name: 'x' };\n",
    message: /mod-noexport\.ts exports no mini-redirector module \(an object with name, deviceName, ioctls and load\)/,
  },
  syntax: {
    what: "does not parse",
    source: "export default { name: 'x',\n",
    message: /cannot load .*mod-syntax\.ts: /,
  },
  throws: {
    what: "throws at import",
    source: "throw new Error('boom at import time');\n",
    message: /cannot load .*mod-throws\.ts: boom at import time/,
  },
} as const;
type BadModule = keyof typeof BAD_MODULES;
const BAD_NAMES = Object.keys(BAD_MODULES) as BadModule[];

/** A scenario file in `dir` whose setup.minirdr (line 3, column 12) is `minirdr`. */
function scenarioFile(name: string, minirdr: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: module ${name}\nsetup:\n  minirdr: ${minirdr}\nsteps:\n  - { op: start }\n`);
  return file;
}
for (const name of BAD_NAMES) {
  writeFileSync(join(dir, `mod-${name}.ts`), BAD_MODULES[name].source);
  scenarioFile(name, `./mod-${name}.ts`);
}
const GOOD = scenarioFile("good", join(ROOT, "test/verifier/_buggy.ts"));

test("checkScenarioModule: a module file that does not load is a problem located at setup.minirdr", async (t) => {
  for (const name of BAD_NAMES) {
    const r = parseScenario(`name: x\nsetup:\n  minirdr: ./mod-${name}.ts\nsteps: [{ op: start }]\n`, "t.yaml", {
      baseDir: dir,
    });
    if (!r.ok) return t.fail(r.problems.map(formatProblem).join("\n"));
    const p = await checkScenarioModule(r.loaded);
    t.like(p, { file: "t.yaml", line: 3, column: 12, path: "setup.minirdr" }, name);
    t.regex(p?.message ?? "", BAD_MODULES[name].message);
  }
  const builtin = parseScenario("name: x\nsteps: [{ op: start }]\n", "t.yaml");
  t.true(builtin.ok && (await checkScenarioModule(builtin.loaded)) === null);
});

for (const name of BAD_NAMES) {
  test(`run and check: a module that ${BAD_MODULES[name].what} is bad input (exit 2, located, nothing runs)`, async (t) => {
    for (const command of ["run", "check"]) {
      const r = await rdbss(command, join(dir, `${name}.yaml`));
      t.is(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
      t.regex(r.stderr, new RegExp(`${name}\\.yaml:3:12: setup\\.minirdr: `), command);
      t.regex(r.stderr, BAD_MODULES[name].message, command);
      t.regex(r.stderr, /1 problem; nothing was run\./, command);
      t.is(r.stdout, "", command);
    }
  });
}

test("check loads a usable module and says ok; a bad module and an invalid file are reported together", async (t) => {
  const ok = await rdbss("check", GOOD);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /ok .*good\.yaml +\(module good\)/);
  const invalid = join(dir, "invalid.yaml");
  writeFileSync(invalid, "name: x\nsteps: [{ op: start, expect: FILES_OPN }]\n");
  const both = await rdbss("run", invalid, join(dir, "throws.yaml"));
  t.is(both.code, 2);
  t.regex(both.stderr, /invalid\.yaml:2:.*did you mean STATUS_FILES_OPEN/);
  t.regex(both.stderr, /throws\.yaml:3:12: .*boom at import time/);
  t.regex(both.stderr, /2 problems; nothing was run\./);
});

test("a misspelt op names the nearest ops; an unknown key is located at the key, not at its mapping", (t) => {
  const p = problems(
    "name: x\nsetup:\n  minirdr: nulmrx\n  option: { a: 1 }\nsteps:\n  - { op: start }\n  - { op: creat, path: X:\\a }\n",
  );
  t.like(
    p.find((x) => x.path === "setup"),
    { line: 4 },
  );
  t.is(messageAt(p, "setup"), 'unknown key "option" (did you mean options?)');
  const op = messageAt(p, "steps[1].op");
  t.regex(op, /^unknown op "creat" \(did you mean create, read\?\); one of net-use, net-use-delete, /);
  t.notRegex(op, /Invalid discriminator/);
});

test("setup.minirdr: a path to a file that does not exist says so, with where paths are taken from", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "rdbss-missing-module-"));
  writeFileSync(join(dir, "s.yaml"), "name: x\nsetup: { minirdr: ./missing.ts }\nsteps: [{ op: net-list }]\n");
  const r = loadScenarioFile(join(dir, "s.yaml"));
  if (r.ok) return t.fail("expected a problem");
  t.is(
    messageAt(r.problems, "setup.minirdr"),
    `no module file ${join(dir, "missing.ts")} (a path is taken relative to the scenario's folder; built-in mini-redirectors: memsmb, nulmrx)`,
  );
  t.regex(
    messageAt(problems("name: x\nsetup: { minirdr: nulmr }\nsteps: [{ op: start }]\n"), "setup.minirdr"),
    /^unknown mini-redirector "nulmr" \(did you mean nulmrx\?\): memsmb, nulmrx, or a path to a module file$/,
  );
});

test("rdbss run DIR skips node_modules, dot-folders and a project's package.json, and survives a link back up", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "rdbss-walk-"));
  writeFileSync(join(dir, "package.json"), '{ "name": "p" }\n');
  writeFileSync(join(dir, "tsconfig.json"), "{}\n");
  writeFileSync(join(dir, "a.yaml"), "name: a\nsetup: { minirdr: nulmrx }\nsteps: [{ op: net-list }]\n");
  for (const skipped of ["node_modules/pkg", ".cache"]) {
    mkdirSync(join(dir, skipped), { recursive: true });
    writeFileSync(join(dir, skipped, "config.yaml"), "not: a scenario\n");
  }
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", "b.yaml"), "name: b\nsetup: { minirdr: nulmrx }\nsteps: [{ op: net-list }]\n");
  symlinkSync(dir, join(dir, "sub", "loop"), "dir");
  const r = await rdbss("run", dir, "--summary");
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /2 of 2 scenarios passed\./);
  t.is(r.stderr, "");
});
