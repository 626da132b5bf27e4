/**
 * The scale measurements, run by the suite in a child process started with --expose-gc:
 *
 * - bytesPerOpenHandle: a world with `connections` connections (one tree connect = one NET_ROOT + V_NET_ROOT per
 *   share, all to one server, opened by UNC path so they are not limited to 26 drive letters) and one file open on
 *   each; then `perConnection - 1` more files open on each, so `files` handles in all. The heap is measured after a
 *   full GC before and after the extra opens and the difference divided by the extra handles: what one more open
 *   handle costs (FILE_OBJECT, handle-table entry, FCB, SRV_OPEN, FOBX, the server's open and node) when the
 *   connections already exist.
 * - createCloseCostRatio100kTo1k: the cost of one create + close of a new file on one of those connections, with
 *   `connections × 1` files open, and with `connections × perConnection` open (the same world after the extra
 *   opens, and a second world kept at 1 per connection, measured alternately; median of `runs` each).
 *
 * Prints one JSON line.
 */
import { parseArgs } from "node:util";
import {
  FILE_CREATE,
  FILE_OPEN_IF,
  FILE_SYNCHRONOUS_IO_NONALERT,
  GENERIC_READ,
  GENERIC_WRITE,
  SYNCHRONIZE,
} from "../../emulator/io/index.js";
import { benchServer, elapsedNs, type MemSmbWorld, median, memsmbWorld, must, onThread } from "./world.js";

const { values } = parseArgs({
  options: {
    connections: { type: "string" },
    "per-connection": { type: "string" },
    runs: { type: "string" },
    ops: { type: "string" },
  },
  strict: true,
});
const CONNECTIONS = Number(values.connections ?? 1000);
const PER_CONNECTION = Number(values["per-connection"] ?? 100);
const RUNS = Number(values.runs ?? 7);
const OPS = Number(values.ops ?? 2000);

const RW = GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE;
const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (!gc) throw new Error("run with --expose-gc");
  for (let i = 0; i < 4; i++) gc();
  // Typed arrays' backing stores (the reference ledger's columns) live outside the V8 heap: counted too.
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const unc = (share: number, file: string): string => `\\??\\UNC\\srv\\${share === 0 ? "share" : `s${share}`}\\${file}`;

async function open(w: MemSmbWorld, path: string, disposition: number = FILE_OPEN_IF): Promise<number> {
  const r = await w.em.sys.nt.NtCreateFile({
    ObjectName: path,
    DesiredAccess: RW,
    ShareAccess: 7,
    CreateDisposition: disposition,
    CreateOptions: FILE_SYNCHRONOUS_IO_NONALERT,
  });
  must(`create ${path}`, r.Status);
  return r.FileHandle;
}

/** A world with `CONNECTIONS` tree connects, file f0 open on each. */
async function world(): Promise<{ w: MemSmbWorld; handles: number[] }> {
  const w = await memsmbWorld({}, [benchServer(CONNECTIONS)]);
  const handles = await onThread(w, "open f0", async () => {
    const hs: number[] = [];
    for (let c = 0; c < CONNECTIONS; c++) hs.push(await open(w, unc(c, "f0")));
    return hs;
  });
  return { w, handles };
}

/** Open files f1 … f(PER_CONNECTION-1) on every connection. */
async function fill(w: MemSmbWorld): Promise<number> {
  return onThread(w, "fill", async () => {
    let n = 0;
    for (let c = 0; c < CONNECTIONS; c++)
      for (let f = 1; f < PER_CONNECTION; f++) {
        await open(w, unc(c, `f${f}`));
        n++;
      }
    return n;
  });
}

/** Average ns of one create (FILE_CREATE of a new name) + close, on the middle connection. */
let serial = 0;
async function createClose(w: MemSmbWorld, ops: number): Promise<number> {
  const share = Math.floor(CONNECTIONS / 2);
  return onThread(w, "create+close", async () => {
    const nt = w.em.sys.nt;
    const s = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) {
      const h = await open(w, unc(share, `new${serial++}`), FILE_CREATE);
      must("close", await nt.NtClose(h));
    }
    return elapsedNs(s) / ops;
  });
}

const t0 = performance.now();
const small = await world();
const big = await world();
const before = heapUsed();
const extra = await fill(big.w);
const after = heapUsed();
const buildMs = performance.now() - t0;
const bytesPerOpenHandle = (after - before) / extra;

// Warm up both, then alternate.
await createClose(small.w, Math.min(OPS, 200));
await createClose(big.w, Math.min(OPS, 200));
const smallNs: number[] = [];
const bigNs: number[] = [];
for (let r = 0; r < RUNS; r++) {
  smallNs.push(await createClose(small.w, OPS));
  bigNs.push(await createClose(big.w, OPS));
}
const small1k = median(smallNs);
const big100k = median(bigNs);
process.stdout.write(
  `${JSON.stringify({
    connections: CONNECTIONS,
    filesSmall: CONNECTIONS,
    filesBig: CONNECTIONS * PER_CONNECTION,
    bytesPerOpenHandle,
    createCloseNsSmall: small1k,
    createCloseNsBig: big100k,
    createCloseCostRatio: big100k / small1k,
    createCloseNsSmallRuns: smallNs,
    createCloseNsBigRuns: bigNs,
    buildMs,
    // Keep the worlds alive until here (the heap figure must include them).
    alive: small.handles.length + big.handles.length,
  })}\n`,
);
