/**
 * Where a case allocates: V8's sampling heap profiler, counting objects that were already collected too (every
 * allocation, not only what is retained), summarised by allocating function. What `node --heap-prof` does not
 * show, and what the young-generation GC time of a profile is made of (docs/PERFORMANCE.md). With `--survivors`,
 * only what a young-generation collection did not free (promoted, or still alive): where promotion comes from.
 *
 *   node --import=tsx scripts/bench/allocprof.ts read|readoff|life|random|pct|direct [n] [--top 40] [--survivors]
 */
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import * as c from "./cases.js";

const { values, positionals } = parseArgs({
  options: {
    top: { type: "string" },
    interval: { type: "string" },
    callers: { type: "string" },
    survivors: { type: "boolean" },
  },
  allowPositionals: true,
  strict: true,
});
const which = positionals[0] ?? "read";
const top = Number(values.top ?? 40);
const cases: Record<string, [number, (n: number) => Promise<number> | number]> = {
  read: [20_000, (n) => c.readIrps(n, false)],
  readoff: [20_000, (n) => c.readIrps(n, true)],
  direct: [200_000, (n) => c.directReads(n)],
  life: [200, (n) => c.lifecycle(n)],
  random: [100, (n) => c.schedules(n, "random", 1)],
  pct: [100, (n) => c.schedules(n, "pct", 1)],
};
const entry = cases[which];
if (!entry) throw new Error(`unknown case ${which}`);
const [defaultN, run] = entry;
const n = Number(positionals[1] ?? defaultN);

interface Node {
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly Node[];
}

await run(Math.ceil(n / 10)); // warm up
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", {
  samplingInterval: Number(values.interval ?? 4096),
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: values.survivors !== true,
});
await run(n);
const { profile } = (await session.post("HeapProfiler.stopSampling")) as { profile: { head: Node } };
session.disconnect();

const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
const walk = (node: Node, stack: string[]): number => {
  const f = node.callFrame;
  const file = f.url.replace(/^file:\/\//, "").replace(/^.*\/work\/main\//, "");
  const key = `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
  let sum = node.selfSize;
  all += node.selfSize;
  self.set(key, (self.get(key) ?? 0) + node.selfSize);
  for (const ch of node.children) sum += walk(ch, [...stack, key]);
  if (!stack.includes(key)) total.set(key, (total.get(key) ?? 0) + sum);
  return sum;
};
walk(profile.head, []);
// --callers NAME: who calls the allocating function NAME (two frames up), by bytes.
if (values.callers) {
  const by = new Map<string, number>();
  const visit = (node: Node, stack: string[]): void => {
    const name = node.callFrame.functionName || "(anonymous)";
    const here = `${name}:${node.callFrame.lineNumber + 1}`;
    if (name === values.callers && node.selfSize > 0) {
      const k = stack.slice(-3).join(" < ");
      by.set(k, (by.get(k) ?? 0) + node.selfSize);
    }
    for (const ch of node.children) visit(ch, [...stack, here]);
  };
  visit(profile.head, []);
  process.stdout.write(`\ncallers of ${values.callers}:\n`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 15))
    process.stdout.write(`${(v / n).toFixed(0).padStart(8)} B/op  ${k}\n`);
}
const show = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title}: ${(all / n).toFixed(0)} bytes allocated per operation (${which}, n = ${n})\n`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(
      `${(v / n).toFixed(0).padStart(8)} B/op  ${((100 * v) / all).toFixed(1).padStart(5)}%  ${k}\n`,
    );
};
show("allocated by (self)", self);
show("allocated under (total)", total);
