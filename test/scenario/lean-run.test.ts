/**
 * runScenario runs lean first (emulator/scenario/runner.ts, runScenario): without the reference ledger, and again
 * with it only when that run is not a clean pass. The report must be the one a run with the ledger gives, on every
 * fixture that passes and on a failure whose text comes from the ledger; a run that hands out its emulator runs once
 * with the ledger; a mini-redirector whose second run differs from its first is reported as not deterministic.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import type { Emulator } from "../../emulator/boot.js";
import { RandomStrategy } from "../../emulator/kernel/index.js";
import { importUserModule } from "../../emulator/scenario/import-module.js";
import {
  formatProblem,
  type LoadedScenario,
  loadScenarioFile,
  parseScenario,
  type RunOptions,
  reportJson,
  runScenario,
} from "../../emulator/scenario/index.js";
import { type LoadedMiniRdr, type MiniRdrModule, nulmrxModule } from "../../miniredirs/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CHECKS = join(ROOT, "fixtures", "checks");

function loadFile(path: string): LoadedScenario {
  const r = loadScenarioFile(path);
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.loaded;
}

/** Runs of a user module, each with whether its emulator had the reference ledger on. */
function countingImport(): { ledgerOn: boolean[]; importModule: NonNullable<RunOptions["importModule"]> } {
  const ledgerOn: boolean[] = [];
  return {
    ledgerOn,
    importModule: async (path) => {
      const ns = (await importUserModule(path)) as Record<string, unknown>;
      const mod = Object.values(ns).find((v): v is MiniRdrModule => typeof v === "object" && v !== null && "load" in v);
      if (!mod) throw new Error(`${path}: no module`);
      return {
        miniRdr: {
          ...mod,
          load: (em, setup) => {
            ledgerOn.push(em.rx.verifier.ledger !== null);
            return mod.load(em, setup);
          },
        } satisfies MiniRdrModule,
      };
    },
  };
}

/**
 * fixtures/checks/ledger.history.yaml with `leaks: none`: with its bug (MRxCreateSrvCall keeps a reference), a leak
 * the scenario does not allow; without it, a clean pass. Both run the module through its path.
 */
function ledgerHistory(bug: boolean): LoadedScenario {
  let text = readFileSync(join(CHECKS, "ledger.history.yaml"), "utf8").replace("leaks: allowed", "leaks: none");
  if (!bug) text = text.replace("options: { bug: ledger.history }", "options: {}");
  const r = parseScenario(text, bug ? "leaky.yaml" : "clean.yaml", { baseDir: CHECKS });
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.loaded;
}

/**
 * nulmrx as a user module whose `adapt` sees each load's number (from 1): a mini-redirector that keeps state from
 * one run to the next, in a closure (the scenario's own module path is ignored).
 */
function nulmrxVariant(
  name: string,
  adapt: (n: number, em: Emulator, loaded: LoadedMiniRdr) => LoadedMiniRdr,
): { readonly importModule: NonNullable<RunOptions["importModule"]>; readonly loads: () => number } {
  let loads = 0;
  return {
    loads: () => loads,
    importModule: async () => ({
      miniRdr: {
        ...nulmrxModule,
        name,
        async load(em, setup) {
          const n = ++loads;
          return adapt(n, em, await nulmrxModule.load(em, setup));
        },
      } satisfies MiniRdrModule,
    }),
  };
}

test("every fixture that passes: the lean-first report is the report with the ledger, field for field", async (t) => {
  const files = [
    ...readdirSync(join(ROOT, "fixtures", "scenarios")).map((f) => join(ROOT, "fixtures", "scenarios", f)),
    join(ROOT, "fixtures", "bench", "lifecycle.yaml"),
    join(ROOT, "fixtures", "bench", "race3.yaml"),
  ].filter((f) => f.endsWith(".yaml"));
  t.true(files.length > 40);
  for (const f of files) {
    const loaded = loadFile(f);
    const first = await runScenario(loaded);
    const full = await runScenario(loaded, { lean: false });
    t.true(first.passed, f);
    t.deepEqual(first, full, f);
  }
});

test("a clean pass runs once, without the ledger; lean: false runs once, with it", async (t) => {
  const clean = ledgerHistory(false);
  const a = countingImport();
  const report = await runScenario(clean, { importModule: a.importModule });
  t.true(report.passed, report.failures.join("\n"));
  t.deepEqual(a.ledgerOn, [false]);
  const b = countingImport();
  await runScenario(clean, { importModule: b.importModule, lean: false });
  t.deepEqual(b.ledgerOn, [true]);
});

test("a leak the scenario does not allow: run again with the ledger, and the report names the holders as a full run does", async (t) => {
  const leaky = ledgerHistory(true);
  const a = countingImport();
  const report = await runScenario(leaky, { importModule: a.importModule });
  t.deepEqual(a.ledgerOn, [false, true], "lean, then again with the ledger");
  t.false(report.passed);
  t.regex(report.failures.join("\n"), /left after teardown: .*SRV_CALL/s);
  t.regex(report.leaks.join("\n"), /RxReference/, "the holders come from the ledger");
  const full = await runScenario(leaky, { lean: false });
  t.is(JSON.stringify(reportJson(report)), JSON.stringify(reportJson(full)));
});

test("a run that hands out its emulator (onStep, onFinish, trace) or brings its own strategy runs once, with the ledger", async (t) => {
  const loaded = loadFile(join(ROOT, "fixtures", "checks", "ledger.history.yaml"));
  const plain = loadFile(join(ROOT, "fixtures", "bench", "lifecycle.yaml"));
  t.true(plain.scenario.expect.stop === "none");
  // onStep and onFinish are handed the emulator: the ledger is on when they look.
  let seenByStep: boolean | null = null;
  await runScenario(plain, {
    onStep: (_s, em) => {
      seenByStep = em.rx.verifier.ledger !== null;
    },
  });
  t.true(seenByStep);
  let seenAtFinish: boolean | null = null;
  await runScenario(plain, {
    onFinish: (em) => {
      seenAtFinish = em.rx.verifier.ledger !== null;
    },
  });
  t.true(seenAtFinish);
  // A trace is read from the emulator afterwards: one run, with the ledger (seen from the module's load).
  const traced = countingImport();
  t.true((await runScenario(ledgerHistory(false), { importModule: traced.importModule, trace: true })).passed);
  t.deepEqual(traced.ledgerOn, [true]);
  // A scenario that expects leaks (or a stop, or violations) keeps the ledger from the start: its report has them.
  const a = countingImport();
  await runScenario(loaded, { importModule: a.importModule });
  t.deepEqual(a.ledgerOn, [true]);
  // The ledger switched off by the caller: one run, as asked.
  const b = countingImport();
  const leaky = ledgerHistory(true);
  await runScenario(leaky, { importModule: b.importModule, checks: { ledger: "off" } });
  t.deepEqual(b.ledgerOn, [false]);
  // A strategy object may keep state from one run to the next (a recording, a cursor): it is not run twice.
  const c = countingImport();
  const report = await runScenario(leaky, { importModule: c.importModule, strategy: new RandomStrategy(3) });
  t.false(report.passed, "it leaks");
  t.deepEqual(c.ledgerOn, [true]);
});

test("a mini-redirector whose runs depend on the runs before them is reported as not deterministic", async (t) => {
  // nulmrx whose backend leaks on its first load only: the lean run leaks, the run with the ledger does not.
  const { importModule, loads } = nulmrxVariant("flaky", (n, _em, loaded) => ({
    ...loaded,
    backendLeaks: () => (n === 1 ? [`load ${n} left a buffer behind`] : []),
  }));
  const loaded = loadFile(join(ROOT, "test", "explore", "flaky", "flaky.yaml"));
  const report = await runScenario(loaded, { importModule });
  t.is(loads(), 2);
  t.false(report.passed);
  t.regex(
    report.failures[0] ?? "",
    /^not deterministic: run without the reference ledger, this scenario failed \(leak\); run again with the same seed and the ledger on, it passed\. The ledger only records references/,
  );
  t.regex(report.failures[1] ?? "", /^without the ledger: left after teardown: load 1 left a buffer behind/);
  t.deepEqual(report.leaks, [], "the report is the second run's, which left nothing");
});

test("a stop during a step: what the interrupted step's frames do while they unwind is not added to the report", async (t) => {
  // The BugCheckError travels up the thread's await chain after the kernel has returned the stop; the step it
  // interrupted is reported as "(the run stopped during this step)", and the report does not change afterwards.
  const loaded = loadFile(join(CHECKS, "systemService.holding-lock.yaml"));
  const report = await runScenario(loaded);
  const before = JSON.stringify(reportJson(report));
  await new Promise((r) => setImmediate(r));
  t.is(JSON.stringify(reportJson(report)), before);
  t.true(report.passed, report.failures.join("\n"));
  t.deepEqual(report.failures, []);
  t.is(report.steps.find((s) => s.outcome === "interrupted")?.result, "(the run stopped during this step)");
});

test("the same failure on a different schedule is not deterministic either", async (t) => {
  // Both runs leak (the same failure signature), but on its first load the module makes the first net use wait a
  // millisecond of virtual time, so the random strategy's choices differ between the two runs.
  let skip = 0;
  const { importModule, loads } = nulmrxVariant("drifting", (n, em, loaded) => {
    if (n === 1 + skip) {
      const provider = loaded.provider;
      const netUse = provider.netUse.bind(provider);
      let calls = 0;
      provider.netUse = async (...args: Parameters<typeof netUse>) => {
        if (calls++ === 0) await em.k.KeDelayExecutionThread(-10_000);
        return netUse(...args);
      };
    }
    return { ...loaded, backendLeaks: () => ["a buffer left behind"] };
  });
  const loaded = loadFile(join(ROOT, "test", "explore", "flaky", "flaky.yaml"));
  const report = await runScenario(loaded, { importModule, strategy: "random" });
  t.is(loads(), 2);
  t.false(report.passed);
  t.regex(
    report.failures[0] ?? "",
    /^not deterministic: run without the reference ledger, this scenario failed \(leak\); run again with the same seed and the ledger on, it failed the same way on a different schedule\./,
  );
  // Without the delay both runs take one schedule: the plain leak, reported once.
  skip = 100;
  const steady = await runScenario(loaded, { importModule, strategy: "random" });
  t.regex(steady.failures[0] ?? "", /^left after teardown: a buffer left behind/);
});
