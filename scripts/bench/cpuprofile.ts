/**
 * Summarise a V8 CPU profile (`node --cpu-prof`): the functions with the most self time and the most total
 * (inclusive) time, with their file and line. Used to find what to make fast (docs/PERFORMANCE.md).
 *
 *   node --import=tsx --cpu-prof --cpu-prof-dir=prof scripts/bench/suite.ts --only readIrps
 *   node --import=tsx scripts/bench/cpuprofile.ts prof/*.cpuprofile [--top 40]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: "string" } },
  allowPositionals: true,
  strict: true,
});
const top = Number(values.top ?? 30);

function where(f: CallFrame): string {
  const file = f.url.replace(/^file:\/\//, "").replace(/^.*\/work\/main\//, "");
  return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    all += dt;
    let id: number | undefined = p.samples[i] as number;
    const leaf = byId.get(id);
    if (!leaf) continue;
    const key = where(leaf.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    while (id !== undefined) {
      const n = byId.get(id);
      if (!n) break;
      const k = where(n.callFrame);
      if (!seen.has(k)) {
        seen.add(k);
        total.set(k, (total.get(k) ?? 0) + dt);
      }
      id = parent.get(id);
    }
  }
  const show = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title} (${file}, ${(all / 1000).toFixed(0)} ms sampled)\n`);
    const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [k, v] of rows) process.stdout.write(`${((100 * v) / all).toFixed(1).padStart(6)}%  ${k}\n`);
  };
  show("self time", self);
  show("total time", total);
}
