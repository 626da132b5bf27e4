/**
 * Loading scenarios: every kind of bad input gives located problems (file, line, column, path, what was
 * expected) and nothing runs; good input gives resolved values.
 */
import { fc, testProp } from "@fast-check/ava";
import test from "ava";
import { stringify } from "yaml";
import { FILE_OPEN_IF, GENERIC_READ, SYNCHRONIZE } from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import { formatProblem, type Problem, parseScenario } from "../../emulator/scenario/index.js";

function problems(text: string): Problem[] {
  const r = parseScenario(text, "t.yaml");
  if (r.ok) throw new Error("expected problems");
  return [...r.problems];
}

const OK = `name: ok
steps:
  - op: net-use
    drive: X
    remote: \\\\srv\\share
`;

test("a valid scenario loads with defaults filled in and symbolic names resolved", (t) => {
  const r = parseScenario(
    `${OK}  - op: create
    path: X:\\a.txt
    as: h
    access: GENERIC_READ | SYNCHRONIZE
    expect: STATUS_SUCCESS
  - op: close
    handle: h
`,
    "t.yaml",
  );
  if (!r.ok) return t.fail(r.problems.map(formatProblem).join("\n"));
  const s = r.loaded.scenario;
  t.is(s.setup.minirdr, "memsmb");
  t.is(s.setup.profile, "docs");
  t.is(s.setup.seed, 1);
  t.is(s.expect.stop, "none");
  t.is(s.expect.leaks, "none");
  const create = r.loaded.threads[0]?.steps[1]?.step;
  if (create?.op !== "create") return t.fail();
  t.is(create.access, (GENERIC_READ | SYNCHRONIZE) >>> 0);
  t.is(create.disposition, FILE_OPEN_IF);
  t.deepEqual(create.expect?.status, [STATUS.STATUS_SUCCESS]);
  t.is(r.loaded.threads[0]?.name, "main");
  t.deepEqual(r.loaded.threads[0]?.steps[1]?.where, { file: "t.yaml", line: 6, column: 5 });
});

test("JSON is accepted too", (t) => {
  const r = parseScenario(JSON.stringify({ name: "j", steps: [{ op: "start" }] }), "t.json");
  t.true(r.ok);
});

test("an unknown key is reported at its own line with the path of its mapping", (t) => {
  const p = problems(`name: x
steps:
  - op: start
    colour: blue
`);
  t.is(p.length, 1);
  t.like(p[0], { file: "t.yaml", line: 4, path: "steps[0]" });
  t.regex(p[0]?.message ?? "", /unknown key "colour"/);
});

test("an unknown step op lists the valid ones", (t) => {
  const p = problems(`name: x
steps:
  - op: frobnicate
`);
  t.like(p[0], { line: 3, path: "steps[0].op" });
  t.regex(p[0]?.message ?? "", /net-use.*create.*check/s);
});

test("an unknown flag name is located and near names are suggested", (t) => {
  const p = problems(`name: x
steps:
  - op: create
    path: X:\\a
    access: GENERIC_RAED
`);
  t.like(p[0], { line: 5, column: 13, path: "steps[0].access" });
  t.regex(p[0]?.message ?? "", /GENERIC_RAED/);
  t.regex(p[0]?.message ?? "", /GENERIC_READ/);
});

test("an unknown status, a bad duration, bad hex and a bad force level are each located", (t) => {
  const p = problems(`name: x
steps:
  - op: start
    expect: STATUS_NOT_A_STATUS
  - op: advance
    by: soon
  - op: write
    handle: h
    data: { hex: "abc" }
  - op: net-use-delete
    drive: X
    force: maybe
  - op: create
    path: X:\\a
    as: h
`);
  const byPath = Object.fromEntries(p.map((x) => [x.path, x]));
  t.regex(byPath["steps[0].expect"]?.message ?? "", /unknown status "STATUS_NOT_A_STATUS"/);
  t.is(byPath["steps[0].expect"]?.line, 4);
  t.regex(byPath["steps[1].by"]?.message ?? "", /not a duration/);
  t.regex(byPath["steps[2].data"]?.message ?? "", /hex/);
  t.is(byPath["steps[2].data"]?.line, 9);
  t.regex(byPath["steps[3].force"]?.message ?? "", /FALSE, TRUE or 0xff/);
});

test("a YAML syntax error is located and nothing else is checked", (t) => {
  const p = problems("name: x\nsteps:\n  - op: start\n   bad: [\n");
  t.true(p.length >= 1);
  t.is(p[0]?.line, 4);
  t.is(p[0]?.path, "");
});

test("duplicate keys are an error", (t) => {
  const p = problems("name: x\nname: y\nsteps:\n  - op: start\n");
  t.is(p[0]?.line, 2);
});

test("cross references: unknown handle, request, unsignalled event, duplicate step id", (t) => {
  const p = problems(`name: x
steps:
  - op: close
    handle: nope
  - op: wait
    request: r9
  - op: wait-signal
    event: never
  - op: start
    id: a
  - op: stop
    id: a
`);
  const msgs = p.map(formatProblem).join("\n");
  t.regex(msgs, /t\.yaml:4:13: steps\[0\]\.handle: no create step names a handle "nope"/);
  t.regex(msgs, /steps\[1\]\.request: no step names a request "r9"/);
  t.regex(msgs, /steps\[2\]\.event: no step signals "never"/);
  t.regex(msgs, /t\.yaml:12:9: steps\[4\]: step id "a" is already used by steps\[3\]/);
});

test("setup problems: unknown mini-redirector, servers for nulmrx, a bad server image, a missing fixture", (t) => {
  t.regex(
    problems("name: x\nsetup: { minirdr: nosuch }\nsteps: [{ op: start }]\n")[0]?.message ?? "",
    /unknown mini-redirector "nosuch"/,
  );
  const p2 = problems(`name: x
setup:
  minirdr: nulmrx
  servers: [{ name: s }]
steps: [{ op: start }]
`);
  t.like(p2[0], { line: 4, path: "setup.servers" });
  const p3 = problems(`name: x
setup:
  servers:
    - name: s
      users: [{ name: a, password: p }]
      shares:
        - name: docs
          permissions: { a: full }
          files:
            - path: ..\\escape.txt
              data: x
steps: [{ op: start }]
`);
  t.is(p3.length, 1);
  t.like(p3[0], { path: "setup.servers[0].shares[0].files[0].path" });
  t.is(p3[0]?.line, 10);
  const p4 = problems("name: x\nsetup:\n  servers: [{ fixture: servers/nosuch.yaml }]\nsteps: [{ op: start }]\n");
  t.regex(p4[0]?.message ?? "", /no such fixture/);
});

test("a thread whose user has no password is an error on memsmb", (t) => {
  const p = problems(`name: x
threads:
  a:
    user: mallory
    steps: [{ op: start }]
`);
  t.like(p[0], { line: 4, path: "threads.a.user" });
});

test("steps and threads together, or neither, are errors", (t) => {
  t.regex(problems("name: x\n")[0]?.message ?? "", /needs `steps` or `threads`/);
  t.regex(
    problems("name: x\nsteps: [{op: start}]\nthreads: { a: { steps: [{op: stop}] } }\n")[0]?.message ?? "",
    /not both/,
  );
});

test("every problem is reported at once (nothing runs)", (t) => {
  const p = problems(`name: x
steps:
  - op: create
    path: X:\\a
    access: NOPE
    share: ALSO_NOPE
  - op: read
    handle: h
    length: -1
`);
  t.true(p.length >= 3, p.map(formatProblem).join("\n"));
});

// Malformed and random documents: the loader always answers with a result, and problems are located in the text.
const yamlish = fc.oneof(
  fc.string(),
  fc.constantFrom("name: x\nsteps:\n  - op: start\n", OK, "steps: [", "- - -", "{", "name: [1, 2", "\t\tname: x"),
);
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom<unknown>(null, true, 0, -1, 1.5, "", "op", "start", "STATUS_SUCCESS", "X:\\a"),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom("name", "op", "steps", "setup", "threads", "expect", "path", "handle", "as", "drive"),
      tie("value"),
      { maxKeys: 4 },
    ),
  ),
}));

testProp("malformed YAML text never throws; problems have a line and column inside the text", [yamlish], (t, text) => {
  const r = parseScenario(text, "p.yaml");
  if (r.ok) return t.pass();
  const lines = text.split("\n").length;
  for (const p of r.problems) {
    t.true(p.line >= 1 && p.line <= lines + 1, formatProblem(p));
    t.true(p.column >= 1);
    t.is(p.file, "p.yaml");
    t.true(p.message.length > 0);
  }
});

testProp("random documents never throw and are either valid or located", [jsonValue.value], (t, doc) => {
  const text = stringify({
    name: "r",
    steps: [{ op: "start" }],
    ...(typeof doc === "object" && doc !== null && !Array.isArray(doc) ? doc : { extra: doc }),
  });
  const r = parseScenario(text, "r.yaml");
  if (!r.ok) for (const p of r.problems) t.true(p.line >= 1 && p.message.length > 0);
  else t.is(r.loaded.scenario.name.length > 0, true);
});

test("one handle name used by threads of two processes is an error (handles belong to a process)", (t) => {
  const p = problems(`name: x
threads:
  a:
    user: alice
    steps:
      - { op: create, path: "X:\\\\f", as: h }
  b:
    user: bob
    steps:
      - { op: create, path: "X:\\\\g", as: h }
`);
  t.like(p[0], { path: "threads.b.steps[0].as", line: 10 });
  t.regex(p[0]?.message ?? "", /already used in process alice\.exe/);
});

test("setup.profileOverrides: known options with their values pass, others are located errors", (t) => {
  const r = parseScenario(
    "name: x\nsetup:\n  profileOverrides: { srvCallFinalizePostedFrom: rdbss-process, scavengerReclaims: false }\nsteps: [{ op: start }]\n",
    "t.yaml",
  );
  t.true(r.ok);
  if (r.ok)
    t.deepEqual(r.loaded.scenario.setup.profileOverrides, {
      srvCallFinalizePostedFrom: "rdbss-process",
      scavengerReclaims: false,
    });
  const p = problems(
    "name: x\nsetup:\n  profileOverrides:\n    fcbReferences: both\n    colour: red\nsteps: [{ op: start }]\n",
  );
  t.regex(
    p.map(formatProblem).join("\n"),
    /setup\.profileOverrides\.fcbReferences: fcbReferences is "v-net-root" or "net-root"/,
  );
  t.regex(p.map(formatProblem).join("\n"), /unknown profile option "colour"/);
});

test("setup.checks: an unknown check name is a located error (a typo must not silently do nothing)", (t) => {
  const p = problems("name: x\nsetup:\n  checks: { lockOrdr: record }\nsteps: [{ op: start }]\n");
  t.like(p[0], { path: "setup.checks.lockOrdr", line: 3 });
  t.regex(p[0]?.message ?? "", /unknown check "lockOrdr" \(did you mean lockOrder/);
});
