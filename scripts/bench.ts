/**
 * Micro-benchmarks of the emulated kernel's hot paths, measured side by side in one process and reported as
 * ratios to a plain function call (never asserted in tests). `--json` prints one JSON object, `--quick` is a
 * short smoke run.
 *
 *   npm run bench [-- --json] [-- --quick]
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bootEmulator, createEmulator, inSystemThread } from "../emulator/boot.js";
import { bootIo, FILE_DEVICE_UNKNOWN, type IRP, IRP_MJ_READ } from "../emulator/io/index.js";
import { EventType, Kernel, type KThread, STATUS } from "../emulator/kernel/index.js";
import { LockHoldingState, type RDBSS_DEVICE_OBJECT } from "../emulator/rdbss/index.js";
import { loadScenarioFile, runScenario } from "../emulator/scenario/index.js";
import { loadNulMrx } from "../miniredirs/nulmrx/index.js";

interface Case {
  readonly name: string;
  readonly key: string;
  /** Runs `n` operations and returns elapsed nanoseconds. */
  readonly run: (n: number) => Promise<number>;
}

const { values } = parseArgs({
  options: { json: { type: "boolean" }, quick: { type: "boolean" }, runs: { type: "string" } },
  strict: true,
});
const quick = values.quick === true;
const runs = Number(values.runs ?? (quick ? 3 : 7));
const N = quick ? 20_000 : 1_000_000;

let sink = 0;
function plain(x: number): number {
  return (x * 31 + 7) | 0;
}
const calls: ((x: number) => number)[] = [plain, (x) => (x + 1) | 0];

/** Run `body` inside an emulated thread of a fresh kernel and time it there. */
async function inThread(body: (k: Kernel, t: KThread) => Promise<number> | number): Promise<number> {
  const k = new Kernel();
  let ns = 0;
  k.createThread(k.systemProcess, "bench", async (t) => {
    ns = await body(k, t);
  });
  const r = await k.run();
  if (r.stop) throw new Error(r.stop.format());
  return ns;
}

function elapsed(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/**
 * RxReference + RxDereference pairs on a V_NET_ROOT (netname table held, so the count never reaches the
 * finalization threshold), in an emulator with nulmrx loaded; `ledger` switches the reference ledger.
 */
async function referencePairs(n: number, ledger: boolean): Promise<number> {
  const em = createEmulator({ checks: { ledger: ledger ? "stop" : "off" } });
  await bootEmulator(em);
  await inSystemThread(em, "load", () => loadNulMrx(em));
  const dev = em.rx.devices[0] as RDBSS_DEVICE_OBJECT;
  const r = await inSystemThread(em, "bench", async () => {
    const rx = em.rx;
    const lock = dev.pRxNetNameTable.TableLock;
    await rx.acquire(lock, true);
    const sc = rx.RxCreateSrvCall(null, "\\bench", null);
    if (sc === null) throw new Error("RxCreateSrvCall failed");
    const nr = rx.RxCreateNetRoot(sc, "\\share");
    if (nr === null) throw new Error("RxCreateNetRoot failed");
    const vnr = rx.RxCreateVNetRoot(null, nr, "\\;B:0\\bench\\share", "B:", "");
    if (vnr === null) throw new Error("RxCreateVNetRoot failed");
    rx.RxReference(vnr);
    const s = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      rx.RxReference(vnr);
      await rx.RxDereference(vnr, LockHoldingState.LHS_ExclusiveLockHeld);
    }
    const ns = elapsed(s);
    rx.release(lock);
    return ns;
  });
  if (r.run.stop) throw new Error(r.run.stop.format());
  return r.value as number;
}

const SCENARIO = fileURLToPath(new URL("../fixtures/scenarios/net-use-basic.yaml", import.meta.url));

/** Whole scenario runs (memsmb: net use, create, write, read, close, delete, teardown), per run. */
async function scenarioRuns(n: number, ledger: boolean): Promise<number> {
  const loaded = loadScenarioFile(SCENARIO);
  if (!loaded.ok) throw new Error(`cannot load ${SCENARIO}`);
  const iters = Math.max(1, Math.floor(n / 200_000));
  const s = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) {
    const report = await runScenario(loaded.loaded, { checks: { ledger: ledger ? "stop" : "off" }, lean: false });
    if (!report.passed) throw new Error(`${SCENARIO} failed: ${report.failures[0]}`);
  }
  return (elapsed(s) / iters) * n;
}

const cases: Case[] = [
  {
    name: "plain function call",
    key: "plainCall",
    run: async (n) => {
      const f = calls[0] as (x: number) => number;
      const s = process.hrtime.bigint();
      let acc = 0;
      for (let i = 0; i < n; i++) acc = f(acc ^ i);
      sink ^= acc;
      return elapsed(s);
    },
  },
  {
    name: "ERESOURCE exclusive acquire+release (uncontended)",
    key: "eresourceExclusive",
    run: (n) =>
      inThread((k) => {
        const r = k.ExInitializeResourceLite("bench");
        const s = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          if (k.ExAcquireResourceExclusiveLite(r, true) !== true) throw new Error("contended");
          k.ExReleaseResourceLite(r);
        }
        return elapsed(s);
      }),
  },
  {
    name: "ERESOURCE shared acquire+release (uncontended)",
    key: "eresourceShared",
    run: (n) =>
      inThread((k) => {
        const r = k.ExInitializeResourceLite("bench");
        const s = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          if (k.ExAcquireResourceSharedLite(r, true) !== true) throw new Error("contended");
          k.ExReleaseResourceLite(r);
        }
        return elapsed(s);
      }),
  },
  {
    name: "ERESOURCE exclusive acquire+release holding another (lock-order graph)",
    key: "eresourceNested",
    run: (n) =>
      inThread((k) => {
        const outer = k.ExInitializeResourceLite("bench outer", "outer");
        const r = k.ExInitializeResourceLite("bench inner", "inner");
        if (k.ExAcquireResourceExclusiveLite(outer, true) !== true) throw new Error("contended");
        const s = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          if (k.ExAcquireResourceExclusiveLite(r, true) !== true) throw new Error("contended");
          k.ExReleaseResourceLite(r);
        }
        const ns = elapsed(s);
        k.ExReleaseResourceLite(outer);
        return ns;
      }),
  },
  {
    name: "FAST_MUTEX acquire+release (uncontended)",
    key: "fastMutex",
    run: (n) =>
      inThread((k) => {
        const m = k.ExInitializeFastMutex("bench");
        const s = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          if (k.ExAcquireFastMutex(m) !== undefined) throw new Error("contended");
          k.ExReleaseFastMutex(m);
        }
        return elapsed(s);
      }),
  },
  {
    name: "IRP round trip: IoCallDriver → driver completes at once",
    key: "irpRoundTrip",
    run: (n) =>
      inThread(async (k) => {
        const { io } = bootIo(k);
        const holder: { dev: ReturnType<typeof io.IoCreateDevice>["device"] } = { dev: null };
        await io.IoCreateDriver("\\Driver\\Bench", (d) => {
          d.MajorFunction[IRP_MJ_READ] = (_dev, irp) => {
            irp.IoStatus.Status = STATUS.STATUS_SUCCESS;
            irp.IoStatus.Information = irp.stack[irp.CurrentLocation - 1]?.Parameters.Length ?? 0;
            io.IoCompleteRequest(irp);
            return STATUS.STATUS_SUCCESS;
          };
          holder.dev = io.IoCreateDevice(d, null, "\\Device\\Bench", FILE_DEVICE_UNKNOWN).device;
          return STATUS.STATUS_SUCCESS;
        });
        const device = holder.dev;
        if (device === null) throw new Error("bench driver did not create its device");
        let completed = 0;
        const finalizer = (irp: IRP): void => {
          completed += irp.IoStatus.Information;
        };
        const s = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          const irp = io.IoAllocateIrp(device.StackSize);
          irp.finalizer = finalizer;
          const sp = io.IoGetNextIrpStackLocation(irp);
          sp.MajorFunction = IRP_MJ_READ;
          sp.Parameters.Length = 4096;
          const st = io.IoCallDriver(device, irp);
          if (typeof st !== "number") await st;
        }
        const ns = elapsed(s);
        sink ^= completed;
        return ns;
      }),
  },
  {
    name: "thread switch: KeSetEvent → waiting thread runs (per switch)",
    key: "threadSwitch",
    run: async (n) => {
      const k = new Kernel();
      const ping = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "ping");
      const pong = k.KeInitializeEvent(EventType.SynchronizationEvent, false, "pong");
      const iters = Math.max(1, Math.floor(n / 10));
      let start = 0n;
      let ns = 0;
      k.createThread(k.systemProcess, "a", async () => {
        start = process.hrtime.bigint();
        for (let i = 0; i < iters; i++) {
          k.KeSetEvent(ping);
          await k.KeWaitForSingleObject(pong);
        }
        ns = elapsed(start);
      });
      k.createThread(k.systemProcess, "b", async () => {
        for (let i = 0; i < iters; i++) {
          await k.KeWaitForSingleObject(ping);
          k.KeSetEvent(pong);
        }
      });
      const r = await k.run();
      if (r.stop) throw new Error(r.stop.format());
      return (ns / (2 * iters)) * n;
    },
  },
  {
    name: "RxReference + RxDereference (ledger off)",
    key: "refPairLedgerOff",
    run: (n) => referencePairs(n, false),
  },
  {
    name: "RxReference + RxDereference (ledger on)",
    key: "refPairLedgerOn",
    run: (n) => referencePairs(n, true),
  },
  {
    name: "scenario net-use-basic.yaml, per run (ledger off)",
    key: "scenarioLedgerOff",
    run: (n) => scenarioRuns(n, false),
  },
  {
    name: "scenario net-use-basic.yaml, per run (ledger on)",
    key: "scenarioLedgerOn",
    run: (n) => scenarioRuns(n, true),
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const perOp: Record<string, number[]> = {};
// Warm up, then interleave the cases run by run so that machine noise hits them alike.
for (const c of cases) await c.run(Math.min(N, 10_000));
for (let r = 0; r < runs; r++) {
  for (const c of cases) {
    const ns = await c.run(N);
    const list = perOp[c.key] ?? [];
    list.push(ns / N);
    perOp[c.key] = list;
  }
}
const base = median(perOp.plainCall as number[]);
const results = cases.map((c) => {
  const ns = median(perOp[c.key] as number[]);
  return { key: c.key, name: c.name, nsPerOp: ns, ratioToPlainCall: ns / base };
});

if (values.json) {
  const obj: Record<string, number> = {};
  for (const r of results) {
    obj[`${r.key}NsPerOp`] = Number(r.nsPerOp.toFixed(2));
    obj[`${r.key}Ratio`] = Number(r.ratioToPlainCall.toFixed(2));
  }
  obj.runs = runs;
  obj.opsPerRun = N;
  process.stdout.write(`${JSON.stringify(obj)}\n`);
} else {
  process.stdout.write(
    `rdbss-emulator micro-benchmarks (median of ${runs} runs × ${N} ops, node ${process.version})\n\n`,
  );
  process.stdout.write(`${"case".padEnd(64)} ${"ns/op".padStart(9)} ${"× plain call".padStart(13)}\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(64)} ${r.nsPerOp.toFixed(1).padStart(9)} ${r.ratioToPlainCall.toFixed(1).padStart(13)}\n`,
    );
  }
}
if (sink === 0x7fffffff) process.stdout.write("\n");
