/**
 * What the benchmark suite measures (scripts/bench/suite.ts runs these side by side and takes medians). Each
 * function builds what it needs outside the timed region and returns operations per second, or the measured
 * quantity; nothing here asserts a timing. A run that goes wrong (a status, a stop, a failed scenario) throws, so
 * a broken path is never timed.
 */
import { fileURLToPath } from "node:url";
import {
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import { formatProblems, type LoadedScenario } from "../../emulator/scenario/index.js";
import { lib } from "./lib.js";
import { allChecksOff, benchServer, elapsedNs, memsmbWorld, must, onThread } from "./world.js";

// The code measured comes from `lib` (the built package unless RDBSS_BENCH_SOURCE=1); constants and types from the
// sources.
const { explore, loadScenarioFile, MemSmbServer, runScenario } = lib;

export const READ_SIZE = 4096;

const RW = GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE;

/**
 * 4 KiB reads on one open handle: NtReadFile → I/O manager → RDBSS (FSD, RX_CONTEXT, LowIo) → memsmb → the
 * virtual network → the server thread → back on the receive thread → RxLowIoCompletion → IoCompleteRequest.
 * A synchronous file object, as most callers open files. Returns reads per second.
 */
export async function readIrps(n: number, checksOff: boolean): Promise<number> {
  const w = await memsmbWorld(checksOff ? allChecksOff() : {});
  const nt = w.em.sys.nt;
  const ns = await onThread(w, "reader", async () => {
    must("net use", await w.mrx.provider.netUse("X", "\\\\srv\\share"));
    const h = await nt.NtCreateFile({
      ObjectName: "\\??\\X:\\data.bin",
      DesiredAccess: RW,
      ShareAccess: 7,
      CreateDisposition: FILE_OPEN_IF,
      CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
    });
    must("create", h.Status);
    must(
      "write",
      (await nt.NtWriteFile(h.FileHandle, { Buffer: new Uint8Array(READ_SIZE).fill(7), ByteOffset: 0 })).Status,
    );
    const buf = new Uint8Array(READ_SIZE);
    const args = { Buffer: buf, ByteOffset: 0 };
    const s = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = await nt.NtReadFile(h.FileHandle, args);
      if (r.Information !== READ_SIZE) throw new Error(`read ${i}: ${r.Status} ${r.Information}`);
    }
    const ns = elapsedNs(s);
    if (buf[READ_SIZE - 1] !== 7) throw new Error("read returned the wrong bytes");
    must("close", await nt.NtClose(h.FileHandle));
    return ns;
  });
  return (n * 1e9) / ns;
}

/**
 * The same 4 KiB reads done directly on the memsmb server model (session, tree connect and open made once): what the
 * IRP path's read does at the server and the client — the server's copy into a transport buffer (`readInto`, as
 * memsmb's READ exchange serves it) plus the copy from there into the caller's buffer that the client does on
 * completion. Reads per second.
 */
export function directReads(n: number): number {
  const server = new MemSmbServer(benchServer());
  const { sessionId } = server.sessionSetup("guest", "");
  const tree = server.treeConnect(sessionId, "share");
  if (tree.status !== STATUS.STATUS_SUCCESS) throw new Error(`tree connect: ${tree.status}`);
  const open = server.create(
    tree.treeId,
    {
      path: "\\data.bin",
      desiredAccess: FILE_GENERIC_READ | FILE_GENERIC_WRITE,
      shareAccess: 7,
      disposition: FILE_OPEN_IF,
      createOptions: 0,
      fileAttributes: 0,
    },
    0,
  );
  if (open.status !== STATUS.STATUS_SUCCESS) throw new Error(`create: ${open.status}`);
  server.write(open.fileId, 0, new Uint8Array(READ_SIZE).fill(7), 0);
  const buf = new Uint8Array(READ_SIZE);
  // The transport buffer: memsmb's WireBuffers hands the same one back read after read in this steady state.
  const wire = new Uint8Array(READ_SIZE);
  const s = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = server.readInto(open.fileId, 0, READ_SIZE, i, wire);
    if (r.status !== STATUS.STATUS_SUCCESS || r.count !== READ_SIZE) throw new Error(`read ${i}: ${r.status}`);
    buf.set(r.count === wire.length ? wire : wire.subarray(0, r.count));
  }
  const ns = elapsedNs(s);
  if (buf[READ_SIZE - 1] !== 7) throw new Error("read returned the wrong bytes");
  return (n * 1e9) / ns;
}

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
export const LIFECYCLE = here("../../fixtures/bench/lifecycle.yaml");
export const RACE3 = here("../../fixtures/bench/race3.yaml");

const scenarios = new Map<string, LoadedScenario>();
export function loadFixture(path: string): LoadedScenario {
  let s = scenarios.get(path);
  if (!s) {
    const r = loadScenarioFile(path);
    if (!r.ok) throw new Error(`cannot load ${path}:\n${formatProblems(r.problems).join("\n")}`);
    s = r.loaded;
    scenarios.set(path, s);
  }
  return s;
}

/** Whole lifecycle scenarios (fixtures/bench/lifecycle.yaml), start to finish with teardown. Scenarios per second. */
export async function lifecycle(n: number): Promise<number> {
  const loaded = loadFixture(LIFECYCLE);
  const s = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const report = await runScenario(loaded);
    if (!report.passed) throw new Error(`${LIFECYCLE} failed: ${report.failures.join("; ")}`);
  }
  return (n * 1e9) / elapsedNs(s);
}

/** explore() over the three-thread race fixture (fixtures/bench/race3.yaml). Schedules per second. */
export async function schedules(n: number, strategy: "random" | "pct", seed: number): Promise<number> {
  const loaded = loadFixture(RACE3);
  const s = process.hrtime.bigint();
  const r = await explore(loaded, { strategy, iterations: n, seed });
  const ns = elapsedNs(s);
  if (r.found) throw new Error(`${RACE3} failed under ${strategy}: ${r.report?.failures.join("; ")}`);
  if (r.iterations !== n) throw new Error(`explore ran ${r.iterations} of ${n} schedules (${r.ended})`);
  return (n * 1e9) / ns;
}
