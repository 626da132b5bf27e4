/**
 * The same scenario and seed give a byte-identical trace and report; the JSON Schema accepts every fixture and
 * rejects broken documents.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import test from "ava";
import { parse } from "yaml";
import { FIXTURES_DIR, reportJson, runScenario, scenarioJsonSchema } from "../../emulator/scenario/index.js";
import { toChromeTrace } from "../../emulator/trace/perfetto.js";
import { load } from "./_run.js";

const RACE = `name: two writers and a notification
setup: { strategy: random, network: { latency: 1ms, jitter: 3ms } }
threads:
  w1:
    steps:
      - op: net-use
        drive: X
        remote: \\\\srv\\share
      - op: signal
        event: up
      - op: create
        path: X:\\a.txt
        as: a
      - op: write
        handle: a
        offset: 0
        data: one
      - op: close
        handle: a
  w2:
    steps:
      - op: wait-signal
        event: up
      - op: create
        path: X:\\b.txt
        as: b
      - op: write
        handle: b
        offset: 0
        data: two
      - op: close
        handle: b
  watcher:
    steps:
      - op: wait-signal
        event: up
      - op: create
        path: X:\\
        as: root
        options: FILE_DIRECTORY_FILE
        access: FILE_LIST_DIRECTORY | SYNCHRONIZE
        synchronous: false
      - op: notify
        handle: root
        filter: FILE_NOTIFY_CHANGE_FILE_NAME
        as: n
        expect: [STATUS_PENDING, STATUS_SUCCESS]
      - op: close
        handle: root
expect: { leaks: none }
`;

async function traced(seed: number): Promise<{ trace: string; report: string; lines: string[] }> {
  let trace = "";
  let lines: string[] = [];
  const r = await runScenario(load(RACE), {
    seed,
    trace: true,
    onFinish: (em) => {
      lines = em.k.trace.lines();
      trace = JSON.stringify(toChromeTrace(em.k.trace.events));
    },
  });
  return { trace, report: JSON.stringify(reportJson(r)), lines };
}

test("the same scenario and seed give a byte-identical trace and report", async (t) => {
  const a = await traced(7);
  const b = await traced(7);
  t.true(a.lines.length > 100, "the trace recorded the run");
  t.is(a.trace, b.trace);
  t.is(a.report, b.report);
  t.deepEqual(a.lines, b.lines);
});

test("different seeds under the random strategy schedule differently", async (t) => {
  const runs = await Promise.all([1, 2, 3, 4, 5].map((s) => traced(s)));
  t.true(new Set(runs.map((r) => r.lines.join("\n"))).size > 1);
  for (const r of runs) t.true(JSON.parse(r.report).passed, r.report);
});

// ------------------------------------------------------------------ the JSON Schema

const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(scenarioJsonSchema());

function fixtures(): string[] {
  return ["scenarios", "checks", "faults"].flatMap((folder) => {
    const dir = join(FIXTURES_DIR, folder);
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => join(dir, f));
  });
}

test("the JSON Schema accepts every fixture", (t) => {
  const files = fixtures();
  t.true(files.length > 0);
  for (const f of files) {
    const ok = validate(parse(readFileSync(f, "utf8")));
    t.true(ok, `${f}: ${ajv.errorsText(validate.errors)}`);
  }
});

test("the JSON Schema rejects broken documents", (t) => {
  const broken: unknown[] = [
    {},
    { name: "x", steps: [{ op: "frobnicate" }] },
    { name: "x", steps: [{ op: "start", colour: "blue" }] },
    { name: "x", steps: [{ op: "create" }] },
    { name: "x", steps: [{ op: "read", handle: "h", length: "ten" }] },
    { name: "x", setup: { profile: "windows" }, steps: [{ op: "start" }] },
    { name: "x", steps: [], extra: 1 },
    { name: 3, steps: [{ op: "start" }] },
  ];
  for (const doc of broken) t.false(validate(doc), JSON.stringify(doc));
});

test("the schema describes every step op", (t) => {
  const text = JSON.stringify(scenarioJsonSchema());
  for (const op of ["net-use", "net-use-delete", "create", "notify", "wait", "call", "check", "fault", "advance"]) {
    t.true(text.includes(`"const":"${op}"`), op);
  }
});
