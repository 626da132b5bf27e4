/**
 * `rdbss explore` and `rdbss replay` from the command line: exit codes (1 found / 0 budget ended / 2 bad input),
 * the files written, the replay's exact reproduction and its refusal of a changed scenario, --json, --workers,
 * --trace.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { cmdExplore, cmdReplay, type ExploreIo } from "../../scripts/explore-cli.js";
import { ROOT, rdbss } from "../_cli.js";
import { RACES } from "./_races.js";

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `rdbss-explore-cli-${what}-`));

/** A copy of a race scenario in its own folder (with its module), so a test can change it. */
function copyRace(name: string): { dir: string; file: string } {
  const dir = tmp(name);
  for (const f of [`${name}.yaml`, `${name}.ts`, "_nulvariant.ts"]) copyFileSync(join(RACES, f), join(dir, f));
  // The copied module imports the emulator by relative path: point it back at the repository.
  for (const f of [`${name}.ts`, "_nulvariant.ts"]) {
    const p = join(dir, f);
    writeFileSync(p, readFileSync(p, "utf8").replaceAll('"../../../', `"${ROOT}`));
  }
  return { dir, file: join(dir, `${name}.yaml`) };
}

test.serial(
  "explore finds a race: exit 1, a replay file and a minimal scenario; replay reproduces it; the minimal scenario fails under run",
  async (t) => {
    const out = tmp("out");
    const r = await rdbss("explore", "test/explore/races/callback-twice.yaml", "--strategy", "pct", "--out", out);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stdout, /✘ explore test\/explore\/races\/callback-twice\.yaml: a failing schedule after \d+ schedule/);
    t.regex(r.stdout, /Stop: 0x00000027 RDR_FILE_SYSTEM/);
    t.regex(r.stdout, /Shrunk: {2}\d+ → \d+ preemptions/);
    t.is(r.stderr, "", "no progress spam when stderr is not a terminal");
    const replay = join(out, "callback-twice.replay");
    const minimal = join(out, "callback-twice.min.yaml");
    t.true(existsSync(replay));
    t.true(existsSync(minimal));
    const file = JSON.parse(readFileSync(replay, "utf8")) as {
      format: string;
      version: number;
      strategy: { name: string };
      shrunk: { scenario: string };
    };
    t.is(file.format, "rdbss-replay");
    t.is(file.version, 1);
    t.is(file.strategy.name, "pct");
    t.is(file.shrunk.scenario, "./callback-twice.min.yaml");
    t.regex(readFileSync(minimal, "utf8"), /^# Minimal reproducer written by `rdbss explore`/);

    const again = await rdbss("replay", replay);
    t.is(again.code, 1);
    t.regex(
      again.stdout,
      /Reproduced exactly from \d+ recorded choices \(pct \(depth 3, k \d+\), seed 1, iteration \d+\): the same 1 failure and the same stop \(0x00000027 RDR_FILE_SYSTEM\)/,
    );
    const shrunk = await rdbss("replay", replay, "--shrunk");
    t.is(shrunk.code, 1);
    t.regex(
      shrunk.stdout,
      /Reproduced with the shrunk schedule: stop bugcheck 0x00000027 (minirdrContract|useAfterFree)\./,
    );

    const run = await rdbss("run", minimal);
    t.is(run.code, 1);
    t.regex(run.stdout, /STOP: 0x00000027 .* RDR_FILE_SYSTEM/);
  },
);

test.serial("explore --json: one object; replay --json and --trace", async (t) => {
  const out = tmp("json");
  const r = await rdbss(
    "explore",
    "test/explore/races/early-deref.yaml",
    "--strategy",
    "random",
    "--seed",
    "3",
    "--json",
    "--no-shrink",
    "--out",
    out,
  );
  t.is(r.code, 1, r.stderr);
  const j = JSON.parse(r.stdout) as {
    found: boolean;
    iterations: number;
    strategy: { name: string; baseSeed: number };
    replay: string;
    minimal: string | null;
    failure: { signature: string };
  };
  t.true(j.found);
  t.true(j.iterations >= 1);
  t.is(j.strategy.name, "random");
  t.is(j.strategy.baseSeed, 3);
  t.is(j.minimal, null);
  t.is(j.failure.signature, "stop bugcheck 0x00000027 references");
  const trace = join(out, "trace.json");
  const rep = await rdbss("replay", j.replay, "--json", "--trace", trace);
  t.is(rep.code, 1, rep.stderr);
  const o = JSON.parse(rep.stdout) as { reproduced: boolean; divergence: string | null; report: { passed: boolean } };
  t.true(o.reproduced);
  t.is(o.divergence, null);
  t.false(o.report.passed);
  t.true(existsSync(trace));
});

test.serial(
  "explore exits 0 when the budget ends without a failing schedule (DFS: the bounded tree is exhausted)",
  async (t) => {
    const out = tmp("quiet");
    const budget = await rdbss(
      "explore",
      "test/explore/races/callback-twice.yaml",
      "--strategy",
      "dfs",
      "--preemptions",
      "0",
      "--out",
      out,
    );
    t.is(budget.code, 0, budget.stderr);
    t.regex(budget.stdout, /✔ explore .*: no failing schedule; the bounded search space is exhausted\./);
    const iterations = await rdbss(
      "explore",
      "test/explore/races/stale-finalize.yaml",
      "--strategy",
      "dfs",
      "--iterations",
      "3",
      "--json",
      "--out",
      out,
    );
    t.is(iterations.code, 0, iterations.stderr);
    const j = JSON.parse(iterations.stdout) as { found: boolean; ended: string; iterations: number; resume: string };
    t.false(j.found);
    t.is(j.ended, "iterations");
    t.is(j.iterations, 3);
    t.regex(j.resume, /^3:[\d,]+$/);
    const resumed = await rdbss(
      "explore",
      "test/explore/races/stale-finalize.yaml",
      "--strategy",
      "dfs",
      "--resume",
      j.resume,
      "--no-shrink",
      "--out",
      out,
    );
    t.is(resumed.code, 1, resumed.stderr);
    t.regex(resumed.stdout, /iteration \d+: \d+ schedules/);
  },
);

test.serial(
  "explore --workers K: K processes share the search and all stop at the first failing schedule",
  async (t) => {
    const out = tmp("workers");
    const r = await rdbss(
      "explore",
      "test/explore/races/notify-cancel.yaml",
      "--strategy",
      "random",
      "--workers",
      "2",
      "--no-shrink",
      "--out",
      out,
    );
    t.is(r.code, 1, r.stderr);
    t.regex(r.stdout, /\(shard [01]\/2\)/);
    t.true(existsSync(join(out, "notify-cancel.replay")));
    const rep = await rdbss("replay", join(out, "notify-cancel.replay"));
    t.is(rep.code, 1);
    t.regex(rep.stdout, /Reproduced exactly/);
  },
);

test.serial("bad input exits 2 and runs nothing", async (t) => {
  const race = "test/explore/races/callback-twice.yaml";
  // Through the command line: an unknown option, a bad value.
  const cli = await Promise.all([
    rdbss("explore", race, "--strategy", "chess"),
    rdbss("explore", race, "--frobnicate"),
  ]);
  for (const r of cli) {
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /^rdbss: .*\n\(see rdbss help\)/);
    t.is(r.stdout, "");
  }
  // The rest in-process (the same functions the command calls).
  const cases: [
    (files: string[], values: Record<string, unknown>, io: ExploreIo) => Promise<number>,
    string[],
    Record<string, unknown>,
    RegExp,
  ][] = [
    [cmdExplore, [race], { shard: "2/2" }, /--shard takes I\/N with 0 ≤ I < N/],
    [cmdExplore, [race], { shard: "x" }, /--shard/],
    [cmdExplore, [race], { iterations: "0" }, /--iterations must be an integer ≥ 1/],
    [cmdExplore, [race], { "time-budget": "-1" }, /--time-budget/],
    [cmdExplore, [race], { workers: "2", shard: "0/2" }, /do not go together/],
    [cmdExplore, [race], { check: ["lockOrder=loud"] }, /--check takes NAME=stop\|record\|off/],
    [cmdExplore, [race, race], {}, /give one scenario file/],
    [cmdExplore, ["no/such/file.yaml"], {}, /no such file/],
    [cmdReplay, ["no/such/file.replay"], {}, /no such file/],
    [cmdReplay, [], {}, /give one \.replay file/],
  ];
  for (const [cmd, files, values, message] of cases) {
    const err: string[] = [];
    const code = await cmd(files, values, { out: () => undefined, err: (l) => err.push(l) });
    t.is(code, 2, `${files.join(" ")} ${JSON.stringify(values)}`);
    t.regex(err.join("\n"), message);
  }
  const dir = tmp("bad");
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "name: bad\nsteps:\n  - op: create\n    path: X:\\f\n    access: GENERIC_NOPE\n");
  const err: string[] = [];
  const io: ExploreIo = { out: () => undefined, err: (l) => err.push(l) };
  t.is(await cmdExplore([bad], {}, io), 2);
  t.regex(err.join("\n"), /bad\.yaml:5:13: .*GENERIC_NOPE/);
  const junk = join(dir, "junk.replay");
  writeFileSync(junk, JSON.stringify({ format: "rdbss-replay", version: 9 }));
  err.length = 0;
  t.is(await cmdReplay([junk], {}, io), 2);
  t.regex(err.join("\n"), /version/);
  t.regex(err.join("\n"), /not a valid replay file; nothing was run/);
});

test.serial("replay refuses a scenario whose content changed since the recording (exit 2)", async (t) => {
  const { dir, file } = copyRace("callback-twice");
  const r = await rdbss("explore", file, "--no-shrink", "--out", dir);
  t.is(r.code, 1, r.stderr);
  const replay = join(dir, "callback-twice.replay");
  t.is((await rdbss("replay", replay)).code, 1);
  writeFileSync(file, readFileSync(file, "utf8").replace("Y:\\notes.txt", "Y:\\other.txt"));
  const changed = await rdbss("replay", replay);
  t.is(changed.code, 2);
  t.regex(
    changed.stderr,
    /changed since this replay was recorded \(content sha256 [0-9a-f]{12}…, recorded [0-9a-f]{12}…\).*Run `rdbss explore` again\. Nothing was run\./,
  );
  t.is(changed.stdout, "");
});

test.serial(
  "replay runs a scenario edited in its comments, layout and key order only, with a note; an older replay without a content hash refuses any edit",
  async (t) => {
    const { dir, file } = copyRace("callback-twice");
    const r = await rdbss("explore", file, "--no-shrink", "--out", dir);
    t.is(r.code, 1, r.stderr);
    const replayFile = join(dir, "callback-twice.replay");
    const recorded = JSON.parse(readFileSync(replayFile, "utf8")) as { scenario: Record<string, unknown> };
    t.regex(String(recorded.scenario.contentSha256), /^[0-9a-f]{64}$/);
    const before = await rdbss("replay", replayFile);
    t.is(before.code, 1);
    // A comment, a key moved ahead of its siblings, a flow mapping written as a block: the same scenario.
    const text = readFileSync(file, "utf8")
      .replace("steps:\n", "# the steps, unchanged\nsteps:\n")
      .replace(
        "  - op: create\n    path: Y:\\notes.txt\n    as: h\n",
        "  - as: h\n    path: Y:\\notes.txt\n    op: create\n",
      )
      .replace("  options: { unreachable: [down] }\n", "  options:\n    unreachable:\n      - down\n");
    t.not(text, readFileSync(file, "utf8"));
    writeFileSync(file, text);
    const edited = await rdbss("replay", replayFile);
    t.is(edited.code, 1, edited.stderr);
    t.regex(
      edited.stderr,
      /note: the scenario .*callback-twice\.yaml was edited since the recording \(comments, layout or key order only/,
    );
    t.regex(edited.stdout, /Reproduced exactly from \d+ recorded choices/);
    // The same run, reported the same way, but for where its steps now are in the file.
    const unlocated = (out: string): string =>
      out.replace(/\.yaml:\d+(?::\d+)?/g, ".yaml").replace(/^( +\S) \d+ +/gm, "$1 <line> ");
    t.is(unlocated(edited.stdout), unlocated(before.stdout));
    t.not(edited.stdout, before.stdout, "the locations follow the edited file");
    // The same replay without its content hash (as recorded before it existed): the text's hash decides.
    delete recorded.scenario.contentSha256;
    writeFileSync(replayFile, JSON.stringify(recorded));
    const old = await rdbss("replay", replayFile);
    t.is(old.code, 2);
    t.regex(old.stderr, /changed since this replay was recorded \(sha256 [0-9a-f]{12}…/);
    t.is(old.stdout, "");
  },
);

test.serial("a module file that no longer loads: replay exits 2 at setup.minirdr and runs nothing", async (t) => {
  const { dir, file } = copyRace("callback-twice");
  const r = await rdbss("explore", file, "--no-shrink", "--out", dir);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /Stop: 0x00000027 RDR_FILE_SYSTEM/, "the copied module loaded and the race was found");
  writeFileSync(join(dir, "callback-twice.ts"), 'throw new Error("half-edited");\n');
  const again = await rdbss("replay", join(dir, "callback-twice.replay"));
  t.is(again.code, 2, again.stdout);
  t.regex(again.stderr, /callback-twice\.yaml:\d+:\d+: setup\.minirdr: cannot load .*callback-twice\.ts: half-edited/);
  t.regex(again.stderr, /nothing was run/);
  t.is(again.stdout, "");
});

test.serial("help lists explore and replay", async (t) => {
  const r = await rdbss("help");
  t.is(r.code, 0);
  t.regex(r.stdout, /rdbss explore FILE \[--strategy random\|pct\|dfs\]/);
  t.regex(r.stdout, /rdbss replay FILE\.replay/);
});

test.serial(
  "a mini-redirector whose failure does not come back: explore exits 2 and says the run is not deterministic",
  async (t) => {
    const out = tmp("flaky");
    const r = await rdbss(
      "explore",
      "test/explore/flaky/flaky.yaml",
      "--strategy",
      "random",
      "--iterations",
      "10",
      "--out",
      out,
    );
    t.is(r.code, 2, r.stderr);
    t.regex(
      r.stderr,
      /^rdbss: explore: schedule [01] failed \(leak\) and, run again with the same seed and schedule, passed: the run is not deterministic\./,
    );
    t.false(existsSync(join(out, "flaky.replay")), "no replay file for a failure no replay reproduces");
  },
);
