/**
 * Compare two V8 heap snapshots (`v8.writeHeapSnapshot()`, or Chrome DevTools): objects and shallow bytes per
 * constructor name, sorted by the growth in bytes. Used to find what an open handle or a read keeps alive
 * (docs/PERFORMANCE.md).
 *
 *   node --import=tsx scripts/bench/heapdiff.ts before.heapsnapshot after.heapsnapshot [--top 40] [--per 100000]
 *
 * `--per N` also prints the growth divided by N (bytes per handle, per read …).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Snapshot {
  readonly snapshot: {
    readonly meta: { readonly node_fields: string[]; readonly node_types: [string[], ...unknown[]] };
  };
  readonly nodes: number[];
  readonly strings: string[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: "string" }, per: { type: "string" } },
  allowPositionals: true,
  strict: true,
});
const [beforeFile, afterFile] = positionals;
if (!beforeFile || !afterFile) {
  process.stderr.write("usage: heapdiff.ts before.heapsnapshot after.heapsnapshot [--top N] [--per N]\n");
  process.exit(2);
}
const top = Number(values.top ?? 40);
const per = values.per ? Number(values.per) : 0;

function histogram(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const F = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += F) {
    const type = types[s.nodes[i + iType] as number] ?? "?";
    let name = s.strings[s.nodes[i + iName] as number] ?? "?";
    // Strings, numbers, code and arrays are grouped by their type; objects and closures by constructor name.
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "(string)";
    else if (type === "code") name = "(code)";
    else if (type === "hidden" || type === "array" || type === "number") name = `(${type}) ${name}`.slice(0, 60);
    else if (type === "closure") name = `(closure) ${name}`;
    const key = name;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + iSize] as number;
    out.set(key, e);
  }
  return out;
}

const a = histogram(beforeFile);
const b = histogram(afterFile);
const rows: { name: string; dCount: number; dBytes: number }[] = [];
for (const [name, eb] of b) {
  const ea = a.get(name) ?? { count: 0, bytes: 0 };
  rows.push({ name, dCount: eb.count - ea.count, dBytes: eb.bytes - ea.bytes });
}
rows.sort((x, y) => y.dBytes - x.dBytes);
let total = 0;
for (const r of rows) total += r.dBytes;
process.stdout.write(`growth: ${total} bytes${per ? ` (${(total / per).toFixed(1)} per unit)` : ""}\n`);
process.stdout.write(
  `${"Δ bytes".padStart(12)} ${"Δ count".padStart(10)}${per ? `${"B/unit".padStart(9)}${"n/unit".padStart(8)}` : ""}  constructor\n`,
);
for (const r of rows.slice(0, top)) {
  process.stdout.write(
    `${String(r.dBytes).padStart(12)} ${String(r.dCount).padStart(10)}${per ? `${(r.dBytes / per).toFixed(1).padStart(9)}${(r.dCount / per).toFixed(2).padStart(8)}` : ""}  ${r.name}\n`,
  );
}
