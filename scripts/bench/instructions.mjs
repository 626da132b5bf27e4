#!/usr/bin/env node
// Instructions per operation, counted by valgrind (cachegrind, no cache simulation) on the built package: a measure of
// the read path that a loaded, shared machine does not disturb, for A/B decisions where wall-clock medians move by
// ± 20 % between runs (docs/PERFORMANCE.md "Sixth pass"). Needs valgrind (Debian: apt-get install valgrind); not run
// by the tests or CI.
//
//   node scripts/bench/instructions.mjs [mem|nul|direct|open|life|explore|explore-full|FILE.yaml ...] [--n1 N] [--n2 N]
//                                       [--seeds S,S,...]
//
// Each case runs in two child processes under valgrind, N1 and N2 operations after the same set-up; the difference
// of the two instruction totals divided by N2 − N1 is the cost of one operation once warm (start-up and set-up
// cancel out). `node --single-threaded` keeps V8's compiler on the main thread, so the count includes it and does not
// depend on timing. V8's hash seed and random seed are fixed (`--hash-seed`, `--random-seed`; `--seeds` lists them,
// default 1): with a fresh seed per process, every hash table's layout differed from run to run and so did the count,
// by ± 2 % per read; with fixed seeds a read's count repeats within ± 0.2 % and a whole run's within ± 0.3 %
// (docs/PERFORMANCE.md, eighteenth pass). One layout can favour one side of an A/B by chance: with several seeds the
// count is their mean, and each seed's is printed. The cases:
//   mem     4 KiB NtReadFile on a synchronous handle through RDBSS and memsmb (readIrpsPerSec's path)
//   nul     the same through nulmrx (LowIo completed in place: the I/O manager and RDBSS floor)
//   direct  MemSmbServer.readInto a transport buffer plus the copy into the caller's buffer (directReadsPerSec's path)
//   open    NtCreateFile + NtClose of a file on memsmb another handle keeps open (the create and close paths)
//   life    the benchmark lifecycle scenario, start to finish (lifecycleScenariosPerSec's path)
//   explore one schedule of a random exploration of the bench race fixture (schedulesPerSecRandom's path)
//   explore-full  the same with leanSearch false: every schedule with the reference ledger
//   FILE.yaml  (or .yml, .json) one runScenario of that scenario, start to finish (it must pass): a part of a
//           lifecycle on its own (fixtures/bench/parts, docs/PERFORMANCE.md "Seventeenth pass")
// A read advances the virtual clock by ≈ 4 ms, and past 2^31 ticks (214.7 s) V8 widens the clock's fields to doubles
// once, deoptimizing for ≈ 0.2 s (docs/PERFORMANCE.md, twelfth pass): a read case runs at most 40,000 reads on one
// emulator and boots another for the next 40,000, whose set-up then counts too, so keep N2 at 40,000 or below.
// N1 and N2 default to 8000 and 20000 operations (open: 3000 and 9000; life and explore: 1000 and 2000, as earlier
// passes counted them; scenario files: 3000 and 6000, as the seventeenth pass counted a run's parts). A whole run's
// count keeps falling for thousands of runs (most of its thousand-odd functions run once or twice per run, so V8
// optimizes them late), so it depends on N (life: ≈ 5.1 M at 500 / 1,000, ≈ 2.1–2.9 M at 1,000–1,500 /
// 2,000–3,000, ≈ 1.6 M at 3,000 / 6,000): compare counts taken at the same N (docs/PERFORMANCE.md, seventeenth
// pass).
//
// Internal: `--child CASE N` runs N operations of CASE and exits (native.mjs runs it too: see `tick`).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: { n1: { type: "string" }, n2: { type: "string" }, seeds: { type: "string" }, child: { type: "string" } },
  allowPositionals: true,
  strict: true,
});

/**
 * Operation `i` is about to run. With RDBSS_BENCH_WARM=W and RDBSS_BENCH_SYNC=DIR (native.mjs), once W have run: write
 * this process's id to the fifo DIR/warm, then wait for DIR/go (the parent has started sampling by then).
 */
const WARM = Number(process.env.RDBSS_BENCH_WARM ?? -1);
function tick(i) {
  if (i !== WARM || !process.env.RDBSS_BENCH_SYNC) return;
  writeFileSync(join(process.env.RDBSS_BENCH_SYNC, "warm"), `${process.pid}\n`);
  readFileSync(join(process.env.RDBSS_BENCH_SYNC, "go"));
}

if (values.child) {
  // native.mjs removes this process's /tmp/perf-PID.map afterwards: it learns the pid here, before anything can fail.
  if (process.env.RDBSS_BENCH_SYNC) writeFileSync(join(process.env.RDBSS_BENCH_SYNC, "pid"), `${process.pid}\n`);
  await child(values.child, Number(positionals[0]));
} else {
  const { builtIsFresh, build } = await import("../build.mjs");
  if (!builtIsFresh()) await build();
  const WHOLE = [1000, 2000];
  const DEFAULT_N = { life: WHOLE, explore: WHOLE, "explore-full": WHOLE, open: [3000, 9000] };
  const cases = positionals.length > 0 ? positionals : ["mem", "nul", "direct"];
  const self = fileURLToPath(import.meta.url);
  const seeds = (values.seeds ?? "1").split(",").map(Number);
  if (seeds.some((x) => !Number.isInteger(x) || x <= 0))
    throw new Error(`--seeds: positive integers, not ${values.seeds}`);
  const count = (which, n, seed) => {
    const r = spawnSync(
      "valgrind",
      [
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        process.execPath,
        "--single-threaded",
        `--hash-seed=${seed}`,
        `--random-seed=${seed}`,
        self,
        "--child",
        which,
        String(n),
      ],
      { encoding: "utf8" },
    );
    if (r.error) throw new Error(`valgrind: ${r.error.message} (Debian: apt-get install valgrind)`);
    const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr);
    if (r.status !== 0 || !m) throw new Error(`${which} ${n}: valgrind exited ${r.status}\n${r.stderr.slice(-2000)}`);
    return Number(m[1].replaceAll(",", ""));
  };
  for (const which of cases) {
    const [d1, d2] = DEFAULT_N[which] ?? (isScenarioFile(which) ? [3000, 6000] : [8000, 20000]);
    const n1 = Number(values.n1 ?? d1);
    const n2 = Number(values.n2 ?? d2);
    const each = seeds.map((seed) => (count(which, n2, seed) - count(which, n1, seed)) / (n2 - n1));
    const per = each.reduce((a, b) => a + b, 0) / each.length;
    const fmt = (x) => Math.round(x).toLocaleString("en-US");
    console.log(
      `${which.padEnd(12)} ${fmt(per).padStart(8)} instructions per operation${
        each.length > 1 ? ` (seeds ${seeds.join(", ")}: ${each.map(fmt).join(" / ")})` : ""
      }`,
    );
  }
}

function isScenarioFile(which) {
  return /\.(ya?ml|json)$/i.test(which);
}

async function child(which, n) {
  const core = await import("../../dist/core.mjs");
  const { createEmulator, bootEmulator, inSystemThread, nulmrxModule, memsmbModule, MemSmbServer, io } = core;
  const image = {
    name: "srv",
    users: [{ name: "guest", password: "" }],
    shares: [{ name: "share", permissions: { "*": "full" } }],
  };
  const must = (what, st) => {
    if (st < 0 || st >= 0x80000000) throw new Error(`${what}: 0x${st.toString(16)}`);
  };
  if (which === "direct") {
    const server = new MemSmbServer(image);
    const { sessionId } = server.sessionSetup("guest", "");
    const tree = server.treeConnect(sessionId, "share");
    const open = server.create(
      tree.treeId,
      {
        path: "\\data.bin",
        desiredAccess: 0x12019f,
        shareAccess: 7,
        disposition: io.FILE_OPEN_IF,
        createOptions: 0,
        fileAttributes: 0,
      },
      0,
    );
    server.write(open.fileId, 0, new Uint8Array(4096).fill(7), 0);
    const buf = new Uint8Array(4096);
    const wire = new Uint8Array(4096);
    for (let i = 0; i < n; i++, tick(i))
      buf.set(wire.subarray(0, server.readInto(open.fileId, 0, 4096, i, wire).count));
    return;
  }
  /** A scenario file, loaded through the package (with the package's scenario and exploration entry points). */
  const scenarioFile = async (file) => {
    const lib = await import("../../dist/index.mjs");
    const r = lib.loadScenarioFile(file);
    if (!r.ok) throw new Error(`${file} does not load:\n${r.problems.map(lib.formatProblem).join("\n")}`);
    return { lib, loaded: r.loaded };
  };
  const benchFixture = (name) => scenarioFile(fileURLToPath(new URL(`../../fixtures/bench/${name}`, import.meta.url)));
  if (which === "life" || isScenarioFile(which)) {
    const { lib, loaded } =
      which === "life" ? await benchFixture("lifecycle.yaml") : await scenarioFile(resolve(process.cwd(), which));
    const { runScenario } = lib;
    for (let i = 0; i < n; i++) {
      tick(i);
      const r = await runScenario(loaded);
      if (!r.passed) throw new Error(`${which}: run ${i} failed: ${r.failures.join("; ")}`);
    }
    return;
  }
  if (which === "explore" || which === "explore-full") {
    const { lib, loaded } = await benchFixture("race3.yaml");
    // With a warm-up, two searches (seeds 1 and 2) with the signal between them.
    const parts = WARM > 0 && WARM < n ? [WARM, n - WARM] : [n];
    for (const [k, iterations] of parts.entries()) {
      if (k > 0) tick(WARM);
      const r = await lib.explore(loaded, {
        strategy: "random",
        iterations,
        seed: k + 1,
        ...(which === "explore-full" ? { leanSearch: false } : {}),
      });
      if (r.found || r.iterations !== iterations)
        throw new Error(`explore: ${r.ended} after ${r.iterations} of ${iterations} schedules`);
    }
    return;
  }
  const mod = which === "mem" || which === "open" ? memsmbModule : which === "nul" ? nulmrxModule : null;
  if (mod === null)
    throw new Error(`unknown case ${which} (mem, nul, direct, open, life, explore, explore-full, FILE.yaml)`);
  // Reads past ≈ 50,000 (native.mjs) go to a fresh emulator per 40,000, so that the clock stays under 2^31 ticks.
  const batch = which === "open" ? n : 40000;
  for (let base = 0; base < n; base += batch) await world(which, mod, Math.min(batch, n - base), base);

  /** Boot an emulator with `mod` and a handle open, then run `count` operations (numbered from `base`). */
  async function world(which, mod, count, base) {
    const em = createEmulator({ seed: 1, maxSteps: Number.MAX_SAFE_INTEGER });
    await bootEmulator(em);
    const mrx = (await inSystemThread(em, "DriverEntry", () => mod.load(em, { servers: [image] }))).value;
    const user = em.k.createProcess("bench.exe");
    const onThread = async (name, fn) => {
      let err = null;
      em.k.createThread(user, name, async () => {
        try {
          await fn();
        } catch (e) {
          err = e;
        }
      });
      const r = await em.k.run();
      if (r.stop) throw new Error(r.stop.format());
      if (err) throw err;
    };
    await onThread("START", async () => must("START", await mrx.provider.start()));
    const nt = em.sys.nt;
    await onThread("reader", async () => {
      must("net use", await mrx.provider.netUse("X", which === "nul" ? "\\\\nul\\share" : "\\\\srv\\share"));
      const h = await nt.NtCreateFile({
        ObjectName: "\\??\\X:\\data.bin",
        DesiredAccess: io.GENERIC_READ | io.GENERIC_WRITE | io.SYNCHRONIZE,
        ShareAccess: 7,
        CreateDisposition: io.FILE_OPEN_IF,
        CreateOptions: io.FILE_SYNCHRONOUS_IO_NONALERT,
      });
      must("create", h.Status);
      must(
        "write",
        (await nt.NtWriteFile(h.FileHandle, { Buffer: new Uint8Array(4096).fill(7), ByteOffset: 0 })).Status,
      );
      if (which === "open") {
        for (let i = 0; i < count; i++) {
          tick(base + i);
          const o = await nt.NtCreateFile({
            ObjectName: "\\??\\X:\\data.bin",
            DesiredAccess: io.GENERIC_READ | io.SYNCHRONIZE,
            ShareAccess: 7,
            CreateDisposition: io.FILE_OPEN,
            CreateOptions: io.FILE_SYNCHRONOUS_IO_NONALERT,
          });
          must(`open ${i}`, o.Status);
          must(`close ${i}`, await nt.NtClose(o.FileHandle));
        }
        return;
      }
      const args = { Buffer: new Uint8Array(4096), ByteOffset: 0 };
      for (let i = 0; i < count; i++) {
        tick(base + i);
        const r = await nt.NtReadFile(h.FileHandle, args);
        if (r.Information !== 4096) throw new Error(`read ${i}: 0x${r.Status.toString(16)}`);
      }
    });
  }
}
