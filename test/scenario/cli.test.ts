/**
 * The `rdbss` command: run (text, --json, --trace), check, schema, graph, list, and the exit codes 0 / 1 / 2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { rdbss } from "../_cli.js";

const dir = mkdtempSync(join(tmpdir(), "rdbss-cli-"));
const PASS = join(dir, "pass.yaml");
const FAIL = join(dir, "fail.yaml");
const BAD = join(dir, "bad.yaml");
writeFileSync(
  PASS,
  `name: passes
steps:
  - op: net-use
    drive: X
    remote: \\\\srv\\share
  - op: create
    id: made
    path: X:\\f.txt
    as: f
  - op: close
    handle: f
`,
);
writeFileSync(
  FAIL,
  `name: fails
steps:
  - op: net-use
    drive: X
    remote: \\\\srv\\nosuch
`,
);
writeFileSync(
  BAD,
  `name: bad
steps:
  - op: create
    path: X:\\f
    access: GENERIC_NOPE
`,
);

test("run: a passing scenario exits 0 with a step-by-step report", async (t) => {
  const r = await rdbss("run", PASS);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /✔ passes/);
  t.regex(r.stdout, /net-use\s+net use X: \\\\srv\\share/);
  t.regex(r.stdout, /MRx: MRxDevFcbXXXControlFile, MRxCreateSrvCall/);
});

test("run: a failing scenario exits 1 and explains the first divergence", async (t) => {
  const r = await rdbss("run", FAIL, PASS);
  t.is(r.code, 1);
  t.regex(r.stdout, /✘ fails/);
  t.regex(
    r.stdout,
    /First divergence: .*fail\.yaml:3:5 \(steps\[0\], net-use\): net use X: \\\\srv\\nosuch: returned STATUS_BAD_NETWORK_NAME/,
  );
  t.regex(r.stdout, /✔ passes/);
});

test("run: an invalid file exits 2, names file:line:column, and runs nothing", async (t) => {
  const r = await rdbss("run", PASS, BAD);
  t.is(r.code, 2);
  t.regex(r.stderr, /bad\.yaml:5:13: steps\[0\]\.access: .*GENERIC_NOPE/);
  t.regex(r.stderr, /nothing was run/);
  t.is(r.stdout, "");
});

test("run --json: one object per scenario with scenario, passed, steps, stops, leaks", async (t) => {
  const r = await rdbss("run", "--json", PASS, FAIL);
  t.is(r.code, 1);
  const objs = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(objs.length, 2);
  for (const o of objs) for (const k of ["scenario", "passed", "steps", "stops", "leaks"]) t.true(k in o, k);
  t.is(objs[0]?.passed, true);
  t.is(objs[1]?.passed, false);
  t.is((objs[0]?.steps as unknown[] | undefined)?.length, 3);
});

test("run --trace writes a Chrome trace-event file", async (t) => {
  const out = join(dir, "trace.json");
  const r = await rdbss("run", PASS, "--trace", out);
  t.is(r.code, 0, r.stderr);
  const trace = JSON.parse(readFileSync(out, "utf8")) as { traceEvents: { ph: string; name: string }[] };
  t.true(trace.traceEvents.some((e) => e.ph === "M" && e.name === "thread_name"));
  t.true(trace.traceEvents.some((e) => e.name.includes("MRxCreate")));
});

test("check validates without running; schema prints a JSON Schema", async (t) => {
  const ok = await rdbss("check", PASS);
  t.is(ok.code, 0);
  t.regex(ok.stdout, /ok .*pass\.yaml +\(passes\)/);
  t.is((await rdbss("check", BAD)).code, 2);
  const s = await rdbss("schema");
  t.is(s.code, 0);
  t.is((JSON.parse(s.stdout) as { title: string }).title, "rdbss-emulator scenario");
});

test("graph --at prints the object graph as DOT at a step", async (t) => {
  const r = await rdbss("graph", PASS, "--at", "made");
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^digraph/);
  for (const k of ["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "FCB", "SRV_OPEN", "FOBX"]) t.true(r.stdout.includes(k), k);
  const missing = await rdbss("graph", PASS, "--at", "nosuchstep");
  t.is(missing.code, 2);
});

test("list shows the mini-redirectors, their IOCTLs and the statuses", async (t) => {
  const r = await rdbss("list");
  t.is(r.code, 0);
  t.regex(r.stdout, /memsmb\s+\\Device\\MemSmb/);
  t.regex(r.stdout, /IOCTL_MEMSMB_DELCONN\s+DELCONN\s+0x[0-9A-F]{8}/);
  t.regex(r.stdout, /nulmrx/);
  t.regex(r.stdout, /0xC0000107\s+STATUS_FILES_OPEN/);
});

test("bad usage exits 2", async (t) => {
  t.is((await rdbss("run")).code, 2);
  t.is((await rdbss("frobnicate")).code, 2);
  t.is((await rdbss("run", PASS, "--seed", "-3")).code, 2);
  t.is((await rdbss("run", join(dir, "missing.yaml"))).code, 2);
});
