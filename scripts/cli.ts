/**
 * `rdbss`: the command line. Exit codes: 0 success, 1 a scenario failed (or a run found a bug), 2 bad input.
 */
import { readdirSync, realpathSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import type { Emulator } from "../emulator/boot.js";
import { type FaultSpec, parseFaultSpecs } from "../emulator/faults/index.js";
import type { CheckMode } from "../emulator/kernel/index.js";
import { allStatuses, statusHex } from "../emulator/kernel/index.js";
import { objectGraph, objectGraphDot } from "../emulator/rdbss/index.js";
import {
  formatProblems,
  formatReport,
  type LoadedScenario,
  loadScenarioFile,
  type Problem,
  reportJson,
  runScenario,
  type StepReport,
  scenarioJsonSchema,
} from "../emulator/scenario/index.js";
import { checkScenarioModule } from "../emulator/scenario/load.js";
import { createLogger, isLogLevel, type Logger, type TraceEvent } from "../emulator/trace/index.js";
import { writeChromeTrace } from "../emulator/trace/perfetto.js";
import { CHECK_SWITCHES } from "../emulator/verifier/index.js";
import { BUILTIN_MINIRDRS } from "../miniredirs/index.js";
import { runDemo } from "./demo.js";
import { cmdExplore, cmdReplay, EXPLORE_CLI_OPTIONS, EXPLORE_HELP } from "./explore-cli.js";
import { rerunFromSourcesIfNeeded } from "./sources.js";

const HELP = `rdbss — a deterministic emulator of the Windows I/O manager, RDBSS and network mini-redirectors

Usage:
  rdbss run FILE|DIR... [--seed N] [--profile docs|reactos] [--json] [--trace OUT.json] [--quiet|--summary]
                        [--check NAME=stop|record|off]... [--fault SPEC]... [--log-level L]
      Run scenarios (YAML or JSON; a folder runs every scenario in it and its subfolders, skipping node_modules,
      dot-folders and package.json / tsconfig.json). Exit 0 when all pass, 1 when one fails, 2 when a file is
      invalid or a setup.minirdr module file does not load (then nothing runs).
  rdbss check FILE|DIR...
      Validate scenarios, and load the mini-redirector module files they name, without running them.
  rdbss schema
      Print the JSON Schema of the scenario format (for editors).
  rdbss graph FILE --at STEP [--format dot|json]
      Run a scenario up to the step STEP (its id, its line number, or its path such as steps[3]) and print the
      RDBSS object graph (SRV_CALL → NET_ROOT → V_NET_ROOT → FCB → SRV_OPEN → FOBX) as Graphviz DOT.
  rdbss list
      The built-in mini-redirectors, their IOCTLs and capabilities, and the known NTSTATUS values.
  rdbss demo [--seed N] [--strategy fifo|random]
      A guided tour of the kernel, the I/O manager, RDBSS and a broken mini-redirector.
${EXPLORE_HELP}  rdbss help
      Show this text.

Options:
  --seed N          seed for the scheduler and every seeded choice (default: the scenario's, else 1)
  --profile P       RDBSS semantics: docs (the WDK documentation) or reactos (the ReactOS implementation)
  --json            one JSON object per scenario on stdout: {scenario, passed, steps, stops, leaks, …}
  --trace OUT.json  write a Chrome trace-event file (open it in ui.perfetto.dev) — one scenario only
  --quiet           one line per scenario (and its failures) instead of the step-by-step report
  --summary         like --quiet, plus a totals line
  --check N=M       set a check's mode (stop, record or off), as Driver Verifier options
  --fault SPEC      inject a fault while the steps run (repeatable; docs/FAULTS.md): SITE@N (the Nth hit),
                    SITE@N..M, SITE~P (seeded probability), then ,status=S ,action=A ,delay=D; SITE may be a
                    glob. e.g. --fault RxCreateNetFcb@2  --fault 'RxCreate*@1'  --fault transport.send~0.05
  --log-level L     trace, debug, info, warn (default), error, fatal, silent — logs go to stderr
`;

class UsageError extends Error {}

/** Files a folder walk never takes for scenarios: a project's own configuration. */
const NOT_SCENARIOS = /^(package(-lock)?\.json|npm-shrinkwrap\.json|[jt]sconfig(\..*)?\.json|biome\.jsonc?|\..*)$/i;

/**
 * The files named, and the scenarios in the folders named (`.yaml`, `.yml`, `.json`), walked in sorted order. A walk
 * skips `node_modules`, dot-folders and a project's configuration files (package.json, tsconfig.json …), and visits
 * each real folder once (a symbolic link back up the tree is not a loop).
 */
function scenarioFiles(args: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (p: string, named: boolean): void => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      throw new UsageError(named ? `no such file or folder: ${p}` : `cannot read ${p} (a broken link?)`);
    }
    if (!st.isDirectory()) {
      out.push(p);
      return;
    }
    const real = realpathSync(p);
    if (seen.has(real)) return;
    seen.add(real);
    for (const e of readdirSync(p).sort()) {
      if (e === "node_modules" || NOT_SCENARIOS.test(e)) continue;
      const q = join(p, e);
      let isDir: boolean;
      try {
        isDir = statSync(q).isDirectory();
      } catch {
        throw new UsageError(`cannot read ${q} (a broken link?)`);
      }
      if (isDir) walk(q, false);
      else if (/\.(ya?ml|json)$/i.test(e)) out.push(q);
    }
  };
  for (const a of args) walk(a, true);
  return out;
}

/** The scenarios loaded, or the exit code when the command ends here. */
type Loading = { readonly loaded: readonly LoadedScenario[] } | { readonly exit: number };

/**
 * Load every file, then import the mini-redirector module files they name (nothing runs: a module that does not
 * load is bad input, like an invalid file); print every problem: exit 2 when there is one. `rerun`: a command that
 * runs the scenarios first runs again from the sources when one names a module file (scripts/sources.ts), so the
 * modules are imported by the process that runs them.
 */
async function loadAll(files: readonly string[], err: (l: string) => void, rerun = false): Promise<Loading> {
  const loaded: LoadedScenario[] = [];
  const problems: Problem[] = [];
  for (const f of files) {
    const r = loadScenarioFile(f);
    if (r.ok) loaded.push(r.loaded);
    else problems.push(...r.problems);
  }
  const code = rerun ? rerunFromSourcesIfNeeded(loaded) : null;
  if (code !== null) return { exit: code };
  for (const l of loaded) {
    const p = await checkScenarioModule(l);
    if (p !== null) problems.push(p);
  }
  if (problems.length > 0) {
    for (const line of formatProblems(problems)) err(line);
    return { exit: 2 };
  }
  return { loaded };
}

function parseChecks(list: readonly string[]): Record<string, CheckMode> {
  const out: Record<string, CheckMode> = {};
  for (const c of list) {
    const m = /^([\w.-]+)=(stop|record|off)$/.exec(c);
    if (!m) throw new UsageError(`--check takes NAME=stop|record|off, got "${c}"`);
    if (!((m[1] as string) in CHECK_SWITCHES))
      throw new UsageError(`--check: unknown check "${m[1]}" (docs/CHECKS.md lists them)`);
    out[m[1] as string] = m[2] as CheckMode;
  }
  return out;
}

function parseFaults(list: readonly string[]): FaultSpec[] {
  const r = parseFaultSpecs(list);
  if ("error" in r) throw new UsageError(`--fault ${r.error}`);
  return r.specs;
}

interface Io {
  readonly out: (l: string) => void;
  readonly err: (l: string) => void;
}

async function cmdRun(files: readonly string[], values: Record<string, unknown>, log: Logger, io: Io): Promise<number> {
  const loading = await loadAll(scenarioFiles(files), io.err, true);
  if ("exit" in loading) return loading.exit;
  const { loaded } = loading;
  if (loaded.length === 0) throw new UsageError("no scenario files given");
  const trace = values.trace as string | undefined;
  if (trace !== undefined && loaded.length !== 1)
    throw new UsageError("--trace writes one scenario's trace: give one file");
  const json = values.json === true;
  const quiet = values.quiet === true || values.summary === true;
  const checks = parseChecks((values.check as string[] | undefined) ?? []);
  const faults = parseFaults((values.fault as string[] | undefined) ?? []);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const profile = values.profile as "docs" | "reactos" | undefined;
  let failed = 0;
  for (const l of loaded) {
    const t0 = process.hrtime.bigint();
    let events: readonly TraceEvent[] = [];
    const report = await runScenario(l, {
      ...(seed !== undefined ? { seed } : {}),
      ...(profile !== undefined ? { profile } : {}),
      checks,
      ...(faults.length > 0 ? { faults } : {}),
      trace: trace !== undefined,
      // Callbacks only when something reads them: a run that hands out its emulator runs once, with the ledger
      // (runScenario, "lean first").
      ...(log.isLevelEnabled("debug")
        ? {
            onStep: (s: StepReport) =>
              log.debug(
                { step: s.path, line: s.where.line, sent: s.sent, result: s.result, mrx: s.mrx, outcome: s.outcome },
                "step",
              ),
          }
        : {}),
      ...(trace !== undefined
        ? {
            onFinish: (em: Emulator) => {
              events = em.k.trace.events;
            },
          }
        : {}),
    });
    // Virtual time stands still between timers: spread events 100 ns apart so Perfetto draws every slice.
    if (trace !== undefined) await writeChromeTrace(trace, events, { stepNs: 100 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    log.info({ scenario: report.scenario, passed: report.passed, ms }, "scenario finished");
    if (!report.passed) failed++;
    if (json) io.out(JSON.stringify(reportJson(report)));
    else io.out(formatReport(report, { quiet }));
  }
  if (trace !== undefined && !json) io.err(`trace written to ${trace} (open it in https://ui.perfetto.dev)`);
  if (values.summary === true && !json) {
    io.out(`\n${loaded.length - failed} of ${loaded.length} scenarios passed${failed ? `, ${failed} failed` : ""}.`);
  }
  return failed > 0 ? 1 : 0;
}

async function cmdGraph(file: string, at: string, format: string, io: Io): Promise<number> {
  const loading = await loadAll([file], io.err, true);
  if ("exit" in loading) return loading.exit;
  const l = loading.loaded[0] as LoadedScenario;
  let graph: string | null = null;
  const report = await runScenario(l, {
    onStep: (s, em) => {
      if (graph !== null) return;
      if (s.id === at || s.path === at || String(s.where.line) === at) {
        graph = format === "json" ? JSON.stringify(objectGraph(em.rx), null, 2) : objectGraphDot(em.rx);
      }
    },
  });
  if (graph === null) {
    io.err(`${file}: no step "${at}" ran (give a step id, a line number, or a path such as steps[3])`);
    if (!report.passed) io.err(formatReport(report, { quiet: true }));
    return 2;
  }
  io.out(graph);
  return 0;
}

function cmdList(io: Io): number {
  io.out("Mini-redirectors (setup.minirdr):");
  for (const m of Object.values(BUILTIN_MINIRDRS)) {
    io.out(`  ${m.name}  ${m.deviceName}`);
    io.out(`    ${m.description}`);
    io.out(
      `    capabilities: ${Object.entries(m.capabilities)
        .map(([k, v]) => `${k}${v ? "" : " (no)"}`)
        .join(", ")}`,
    );
    io.out("    IOCTLs:");
    for (const [k, v] of Object.entries(m.ioctls))
      io.out(
        `      ${`IOCTL_${m.name.toUpperCase()}_${k}`.padEnd(28)} ${k.padEnd(8)} 0x${v.toString(16).toUpperCase().padStart(8, "0")}`,
      );
  }
  const st = allStatuses();
  io.out(`\nKnown NTSTATUS values (${st.length}):`);
  for (const [name, v] of st) io.out(`  ${statusHex(v)}  ${name}`);
  return 0;
}

async function main(argv: readonly string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        seed: { type: "string" },
        strategy: { type: "string" },
        profile: { type: "string" },
        json: { type: "boolean" },
        trace: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        summary: { type: "boolean" },
        check: { type: "string", multiple: true },
        fault: { type: "string", multiple: true },
        at: { type: "string" },
        format: { type: "string" },
        "log-level": { type: "string", short: "l" },
        help: { type: "boolean", short: "h" },
        ...EXPLORE_CLI_OPTIONS,
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? "help";
  const level = String(values["log-level"] ?? "warn");
  if (!isLogLevel(level)) throw new UsageError(`unknown log level "${level}"`);
  const log = createLogger(level);
  if (values.help || command === "help") {
    io.out(HELP);
    return 0;
  }
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new UsageError(`--seed must be a non-negative integer, got "${String(values.seed)}"`);
  }
  if (values.profile !== undefined && values.profile !== "docs" && values.profile !== "reactos") {
    throw new UsageError(`--profile must be docs or reactos, got "${String(values.profile)}"`);
  }
  const files = positionals.slice(1);
  switch (command) {
    case "run":
      if (files.length === 0) throw new UsageError("run: give scenario files or folders");
      return cmdRun(files, values, log, io);
    case "check": {
      if (files.length === 0) throw new UsageError("check: give scenario files or folders");
      const loading = await loadAll(scenarioFiles(files), io.err);
      if ("exit" in loading) return loading.exit;
      for (const l of loading.loaded) io.out(`ok  ${relative(process.cwd(), l.file) || l.file}  (${l.scenario.name})`);
      return 0;
    }
    case "schema":
      io.out(JSON.stringify(scenarioJsonSchema(), null, 2));
      return 0;
    case "graph": {
      if (files.length !== 1) throw new UsageError("graph: give one scenario file");
      if (values.at === undefined) throw new UsageError("graph: --at STEP is required");
      const format = String(values.format ?? "dot");
      if (format !== "dot" && format !== "json") throw new UsageError(`--format must be dot or json, got "${format}"`);
      return cmdGraph(files[0] as string, String(values.at), format, io);
    }
    case "list":
      return cmdList(io);
    case "explore":
      return cmdExplore(files, values, io);
    case "replay":
      return cmdReplay(files, values, io);
    case "demo": {
      const seed = Number(values.seed ?? "1");
      const strategy = String(values.strategy ?? "fifo");
      if (strategy !== "fifo" && strategy !== "random")
        throw new UsageError(`--strategy must be fifo or random, got "${strategy}"`);
      log.debug({ seed, strategy }, "starting demo");
      return runDemo({ seed, strategy, out: io.out });
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

const io: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`rdbss: ${e.message}\n(see rdbss help)\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`rdbss: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
