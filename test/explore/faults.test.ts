/**
 * Exploration with injected faults: extra faults are part of every run and of the replay file, shrinking keeps the
 * ones the failure needs (moved into the minimal scenario's setup.faults) and drops the others; `varySeed` gives
 * each iteration its own kernel seed and the replay records the failing run's.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { parse } from "yaml";
import { explore, replayRun, shrinkFailure } from "../../emulator/explore/index.js";
import { parseFaultSpecs } from "../../emulator/faults/index.js";
import { formatReport, parseScenario, runScenario } from "../../emulator/scenario/index.js";
import { loadRace } from "./_races.js";

function faults(...texts: string[]) {
  const r = parseFaultSpecs(texts);
  if ("error" in r) throw new Error(r.error);
  return r.specs;
}

const TEXT = `name: open two files
setup: { minirdr: nulmrx }
steps:
  - { op: net-use, drive: X, remote: \\\\srv\\share }
  - { op: create, path: X:\\a.txt, as: a }
  - { op: create, path: X:\\b.txt, as: b }
  - { op: close, handle: a }
  - { op: close, handle: b }
`;

test("a fault the failure needs is kept and written into setup.faults; one it does not need is dropped", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "rdbss-explore-faults-"));
  const parsed = parseScenario(TEXT, join(dir, "two.yaml"), { baseDir: dir });
  if (!parsed.ok) return t.fail();
  t.true((await runScenario(parsed.loaded)).passed);
  const extra = faults("RxCreateNetFcb@2", "RxCreateSrvCall@7");
  const r = await explore(parsed.loaded, { strategy: "random", iterations: 10, faults: extra });
  t.true(r.found);
  t.deepEqual(r.replay?.faults, ["RxCreateNetFcb@2", "RxCreateSrvCall@7"]);
  t.is(r.replay?.failure.signature, "step create failed STATUS_INSUFFICIENT_RESOURCES");
  if (!r.replay) return;
  const again = await replayRun(parsed.loaded, r.replay);
  t.true(again.reproduced, again.differences.join("; "));
  // Without the faults the failure is gone: the replay says so, and names the recorded failure it did not see.
  const gone = await replayRun(parsed.loaded, { ...r.replay, faults: [] });
  t.false(gone.reproduced);
  t.deepEqual(gone.differences.slice(0, 2), [
    "the run passed: the recorded failure did not happen",
    `failure 1 differs: recorded ${JSON.stringify(r.replay.failure.failures[0]?.split(join(dir, "two.yaml")).join("<scenario>"))}, got none (0 failure(s), recorded ${r.replay.failure.failures.length})`,
  ]);
  const min = await shrinkFailure(parsed.loaded, r.replay.choices, { text: TEXT, faults: extra, outputDir: dir });
  t.deepEqual(min.faults, { before: 2, after: 1 });
  const doc = parse(min.yaml ?? "") as { setup: { faults: string[]; schedule: number[] } };
  t.deepEqual(doc.setup.faults, ["RxCreateNetFcb@2"]);
  t.true(Array.isArray(doc.setup.schedule));
  const m = parseScenario(min.yaml ?? "", join(dir, "two.min.yaml"), { baseDir: dir });
  if (!m.ok) return t.fail();
  const plain = await runScenario(m.loaded);
  t.false(plain.passed, formatReport(plain));
});

test("varySeed: each iteration runs with its own kernel seed, and the replay file records the failing run's", async (t) => {
  const loaded = loadRace("notify-cancel");
  const r = await explore(loaded, { strategy: "random", seed: 4, iterations: 3000, varySeed: true });
  t.true(r.found);
  if (!r.replay) return;
  t.true(r.replay.strategy.varySeed);
  t.is(r.replay.seed, r.replay.strategy.iterationSeed as number);
  t.not(r.replay.seed, loaded.scenario.setup.seed);
  const again = await replayRun(loaded, r.replay);
  t.true(again.reproduced, again.differences.join("; "));
  // A stop that differs in its words alone is named with the field that differs; its places in the scenario file
  // (which move with a comment) are not compared.
  const stop = r.replay.failure.stop;
  if (stop === null) return t.fail("the race stops the run");
  const told = await replayRun(loaded, {
    ...r.replay,
    failure: { ...r.replay.failure, stop: { ...stop, reason: "x" } },
  });
  t.deepEqual(told.differences, [
    `stop ${stop.name} differs in its reason: recorded "x", got ${JSON.stringify(again.report.stops.find((s) => s.fatal)?.reason)}`,
  ]);
  const moved = (text: string): string =>
    text.replace(/notify-cancel\.yaml:(\d+)/g, (_m, n) => `notify-cancel.yaml:${Number(n) + 3}`);
  t.regex(stop.reason + r.replay.failure.failures.join(""), /notify-cancel\.yaml:\d+/, "the texts name places");
  const shifted = await replayRun(loaded, {
    ...r.replay,
    failure: {
      ...r.replay.failure,
      failures: r.replay.failure.failures.map(moved),
      stop: { ...stop, reason: moved(stop.reason) },
    },
  });
  t.true(shifted.reproduced, shifted.differences.join("; "));
  // The minimal scenario carries the failing run's seed, so a plain run is that run.
  const dir = mkdtempSync(join(tmpdir(), "rdbss-explore-seed-"));
  const min = await shrinkFailure(loaded, r.replay.choices, { runSeed: r.replay.seed, outputDir: dir });
  const doc = parse(min.yaml ?? "") as { setup: { seed: number } };
  t.is(doc.setup.seed, r.replay.seed as number);
  const m = parseScenario(min.yaml ?? "", join(dir, "min.yaml"), { baseDir: dir });
  if (!m.ok) return t.fail();
  t.false((await runScenario(m.loaded)).passed);
});
