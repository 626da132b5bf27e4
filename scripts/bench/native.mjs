#!/usr/bin/env node
// Where a warm case's time goes at the native level: V8's optimized code, its builtins (promises, property-access
// inline caches, Map and Set, strings, calls), its runtime and garbage collector, libc and the kernel. A CPU profile
// (`--cpu-prof`) names JavaScript functions only and folds the builtins they call into them; `perf` samples the
// machine's instructions, and `--perf-basic-prof` names V8's generated code (docs/PERFORMANCE.md, eighteenth pass).
// Needs Linux perf (Debian: apt-get install linux-perf); not run by the tests or CI.
//
//   node scripts/bench/native.mjs [mem|nul|direct|open|life|explore|FILE.yaml ...] [--warm N] [--n N] [--top K]
//
// Each case runs in a child (`instructions.mjs --child`, the same workloads) under `perf record` with sampling off:
// WARM operations first, so that V8 has optimized what it will (a whole run's functions keep tiering up for ≈ 6,500
// runs: docs/PERFORMANCE.md, eighteenth pass), then sampling goes on for N more. Only the main thread is counted (V8's background compiler and GC helpers are not). Prints the
// share of each category and the top K symbols.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { open, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: { warm: { type: "string" }, n: { type: "string" }, top: { type: "string" } },
  allowPositionals: true,
  strict: true,
});

/** Operations before perf attaches, and while it samples, by case (whole runs are slower and tier up later). */
const SIZES = {
  mem: [40000, 200000],
  nul: [40000, 400000],
  direct: [2000000, 2000000],
  open: [20000, 20000],
  life: [8000, 6000],
  explore: [5000, 4000],
};
const SCENARIO_SIZES = [8000, 6000];

/**
 * The categories, first match wins: [name, dso test, symbol test]. Symbols are perf's: `JS:*f` is TurboFan code,
 * `JS:^f` Sparkplug, `JS:~f` the interpreter; `Builtins_X` V8's builtins; C++ names for the runtime.
 */
const CATEGORIES = [
  ["kernel", (d) => d.startsWith("[kernel"), null],
  ["libc (malloc, free, memcpy)", (d) => d.startsWith("libc"), null],
  ["JS, optimized (TurboFan)", null, /^JS:\*/],
  ["JS, optimized (Maglev)", null, /^JS:\+/],
  ["JS, baseline (Sparkplug)", null, /^JS:\^/],
  [
    "JS, interpreted (Ignition, or code V8 will not optimize)",
    null,
    /^JS:|^Builtins_(InterpreterEntryTrampoline|.*Handler$)/,
  ],
  ["promises and async functions", null, /^Builtins_.*(Promise|Microtask|AsyncFunction|Generator|Await)/],
  ["property access not inlined (IC builtins)", null, /^Builtins_(.*IC(_|$|Trampoline)|GetProperty|SetProperty)/],
  ["Map and Set", null, /^Builtins_(.*Ordered(Hash|Map|Set)|Map|Set|WeakMap|WeakSet)|OrderedHash/],
  ["strings", null, /^Builtins_String|String::|Intl::Convert|FastAsciiConvert|StringTable|NewRawOneByteString/],
  ["closures' first call (CompileLazy)", null, /^Builtins_CompileLazy/],
  ["write barrier", null, /^Builtins_RecordWrite/],
  [
    "calls and construction (builtins)",
    null,
    /^Builtins_(Call|Construct|JSConstruct|JSBuiltinsConstruct|FastNew|FindNonDefault)/,
  ],
  ["arrays (builtins)", null, /^Builtins_(Array|GrowFast|CopyFast|ExtractFast|CloneFast|IterableToList)/],
  ["typed arrays (builtins)", null, /^Builtins_(TypedArray|CreateTypedArray|ArrayBuffer)/],
  ["other builtins", null, /^Builtins_/],
  [
    "garbage collection",
    null,
    /Heap|Scaveng|SemiSpace|NewSpace|Sweep|Evacuat|Marking|MarkCompact|GC|MemoryAllocator|RecordWrite|Remembered/,
  ],
  ["V8 runtime (C++)", null, /^v8::|^Runtime_/],
  ["node", null, /^node::|^uv_/],
  ["other", null, null],
];

function categorize(dso, symbol) {
  for (const [name, d, s] of CATEGORIES) {
    if (d !== null && !d(dso)) continue;
    if (s !== null && !s.test(symbol)) continue;
    return name;
  }
  return "other";
}

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
};

const perfVersion = spawnSync("perf", ["--version"], { encoding: "utf8" });
if (perfVersion.error || perfVersion.status !== 0)
  throw new Error("perf is not available (Debian: apt-get install linux-perf)");
const { builtIsFresh, build } = await import("../build.mjs");
if (!builtIsFresh()) await build();
const instructions = fileURLToPath(new URL("./instructions.mjs", import.meta.url));
const top = Number(values.top ?? 25);

for (const which of positionals.length > 0 ? positionals : ["mem", "life"]) {
  const [w, n] = SIZES[which] ?? SCENARIO_SIZES;
  const warm = Number(values.warm ?? w);
  const count = Number(values.n ?? n);
  // The child signals after `warm` operations, so both must be whole and at least 1 (else it never would).
  if (!Number.isInteger(warm) || warm < 1 || !Number.isInteger(count) || count < 1)
    throw new Error(`--warm and --n: whole numbers of at least 1 (got ${values.warm ?? w}, ${values.n ?? n})`);
  const dir = mkdtempSync(join(tmpdir(), "rdbss-native-"));
  let pid = 0;
  try {
    const data = join(dir, "perf.data");
    const [ctl, ack] = [join(dir, "ctl"), join(dir, "ack")];
    for (const f of [ctl, ack, join(dir, "warm"), join(dir, "go")]) {
      if (run("mkfifo", [f]).status !== 0) throw new Error(`mkfifo ${f} failed`);
    }
    // perf starts the child with sampling off (-D -1); the child runs its warm-up, then names itself on the fifo
    // `warm` and waits on `go`; sampling is switched on through perf's control fifo, acknowledged, then the child goes.
    const perf = spawn(
      "perf",
      ["record", "-F", "4000", "-D", "-1", "--control", `fifo:${ctl},${ack}`, "-o", data, "-q", "--"].concat(
        process.execPath,
        "--perf-basic-prof",
        // --perf-basic-prof also turns V8's log on: into the temporary folder, not the working directory.
        `--logfile=${join(dir, "v8.log")}`,
        "--no-logfile-per-isolate",
        instructions,
        "--child",
        which,
        String(warm + count),
      ),
      {
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, RDBSS_BENCH_WARM: String(warm), RDBSS_BENCH_SYNC: dir },
      },
    );
    const exited = new Promise((resolve) => perf.once("exit", resolve));
    // Opening a fifo and reading `warm` wait for the other side: if perf or the child ends first (perf refused by
    // perf_event_paranoid, a failing child), nothing would ever write, so the wait is raced against perf's exit.
    const early = exited.then((code) => {
      // A fifo open waits in a thread of Node's pool until the other side opens: open the other sides here (without
      // waiting), so that those opens end and the process can exit.
      for (const [f, flags] of [
        [ctl, constants.O_RDONLY | constants.O_NONBLOCK],
        [ack, constants.O_WRONLY | constants.O_NONBLOCK],
        [join(dir, "warm"), constants.O_WRONLY | constants.O_NONBLOCK],
      ]) {
        try {
          closeSync(openSync(f, flags));
        } catch {
          // no one waits on this one (a write-only open without a reader fails with ENXIO)
        }
      }
      throw new Error(`${which}: perf record exited (${code}) before the child's warm-up ended`);
    });
    early.catch(() => {}); // after the handshake, perf's exit is awaited below
    const [control, acks] = await Promise.race([Promise.all([open(ctl, "w"), open(ack, "r")]), early]);
    pid = Number((await Promise.race([readFile(join(dir, "warm"), "utf8"), early])).trim());
    await control.write("enable\n");
    const reply = Buffer.alloc(16);
    await acks.read(reply, 0, 16);
    await writeFile(join(dir, "go"), "go\n");
    const code = await exited;
    await Promise.all([control.close(), acks.close()]);
    if (code !== 0) throw new Error(`${which}: perf record (and the child under it) exited with ${code}`);
    const report = run("perf", [
      "report",
      "-i",
      data,
      "--tid",
      String(pid),
      "--no-children",
      "--percentage",
      "relative",
      "--sort",
      "dso,symbol",
      "--stdio",
      "-q",
      "-g",
      "none",
    ]);
    if (report.status !== 0)
      throw new Error(
        `perf report exited ${report.status}: ${report.stderr.slice(-2000)}${report.stdout.slice(0, 500)}`,
      );
    const rows = [];
    for (const line of report.stdout.split("\n")) {
      const m = /^\s*([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*?)\s*$/.exec(line);
      if (m) rows.push({ share: Number(m[1]), dso: m[2], symbol: m[3] });
    }
    const by = new Map();
    for (const r of rows) {
      const c = categorize(r.dso, r.symbol);
      by.set(c, (by.get(c) ?? 0) + r.share);
    }
    console.log(
      `\n${which}: ${count.toLocaleString("en-US")} operations after ${warm.toLocaleString("en-US")}, main thread`,
    );
    for (const [c, share] of [...by].sort((a, b) => b[1] - a[1]))
      console.log(`  ${share.toFixed(1).padStart(5)} %  ${c}`);
    console.log(`  top ${top}:`);
    for (const r of rows.slice(0, top))
      console.log(`  ${r.share.toFixed(2).padStart(6)} %  ${r.symbol.replace(/ file:\/\/\S*\//, " ").slice(0, 110)}`);
  } finally {
    // The child names itself in DIR/pid as it starts, so its map is found even when it ended before its warm-up.
    if (pid === 0) {
      try {
        pid = Number(readFileSync(join(dir, "pid"), "utf8").trim()) || 0;
      } catch {
        // the child never started
      }
    }
    rmSync(dir, { recursive: true, force: true });
    // The map V8 wrote for perf (its code's addresses and names), read by perf report above.
    if (pid > 0) rmSync(`/tmp/perf-${pid}.map`, { force: true });
  }
}
