/**
 * Regenerates the table of docs/EXPLORE.md: for each race under test/explore/races, how many schedules seeded
 * random, PCT and bounded DFS needed to find it, over base seeds 1..N (the counts are deterministic given the
 * seeds; only the wall-clock rate varies). Run: node --import=tsx scripts/explore-table.ts [--seeds N] [--cap C]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { explore } from "../emulator/explore/index.js";
import { formatProblem, loadScenarioFile } from "../emulator/scenario/index.js";

const RACES: readonly (readonly [string, string])[] = [
  ["a", "stale-finalize"],
  ["b", "notify-cancel"],
  ["c", "close-vs-delete"],
  ["d", "callback-twice"],
  ["e", "early-deref"],
];

const { values } = parseArgs({
  options: { seeds: { type: "string" }, cap: { type: "string" }, depth: { type: "string" } },
});
const seeds = Number(values.seeds ?? 10);
const cap = Number(values.cap ?? 5000);
const depth = Number(values.depth ?? 3);
const dir = join(new URL(".", import.meta.url).pathname, "../test/explore/races");

function stats(xs: readonly (number | null)[]): string {
  const found = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  const miss = xs.length - found.length;
  // Misses count as the cap for the median (a lower bound).
  const all = [...found, ...new Array<number>(miss).fill(cap)].sort((a, b) => a - b);
  const median =
    all.length % 2
      ? all[(all.length - 1) / 2]
      : ((all[all.length / 2 - 1] as number) + (all[all.length / 2] as number)) / 2;
  const mean = found.length ? Math.round(found.reduce((a, b) => a + b, 0) / found.length) : null;
  const med = miss * 2 >= all.length ? `> ${cap}` : String(median);
  return `${med} | ${mean ?? "–"} | ${found.length ? `${found[0]}–${found[found.length - 1]}` : "–"}${miss ? ` (${miss} not found in ${cap})` : ""}`;
}

const rows: string[] = [];
const perSeed: string[] = [];
for (const [letter, name] of RACES) {
  const r = loadScenarioFile(join(dir, `${name}.yaml`));
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  const counts: Record<"random" | "pct", (number | null)[]> = { random: [], pct: [] };
  for (const strategy of ["random", "pct"] as const) {
    for (let seed = 1; seed <= seeds; seed++) {
      const res = await explore(r.loaded, { strategy, seed, iterations: cap, depth });
      counts[strategy].push(res.found ? res.iterations : null);
    }
  }
  const dfs: string[] = [];
  for (const p of [0, 1, 2]) {
    const res = await explore(r.loaded, { strategy: "dfs", preemptions: p, iterations: cap });
    dfs.push(
      res.found
        ? String(res.iterations)
        : res.ended === "exhausted"
          ? `none (${res.iterations}, exhausted)`
          : `> ${cap}`,
    );
  }
  rows.push(`| (${letter}) ${name} | ${stats(counts.random)} | ${stats(counts.pct)} | ${dfs.join(" / ")} |`);
  const show = (xs: (number | null)[]) => xs.map((x) => (x === null ? `>${cap}` : String(x))).join(" ");
  perSeed.push(`| (${letter}) ${name} | ${show(counts.random)} | ${show(counts.pct)} |`);
  process.stderr.write(`${name} done\n`);
}
console.log(`Seeds 1..${seeds}, cap ${cap} schedules, PCT depth ${depth}.\n`);
console.log("| race | random: median | mean | range | PCT: median | mean | range | DFS P=0 / 1 / 2 |");
console.log("| --- | ---: | ---: | --- | ---: | ---: | --- | --- |");
for (const r of rows) console.log(r);
console.log(`\n| race | random, seeds 1..${seeds} | PCT, seeds 1..${seeds} |`);
console.log("| --- | --- | --- |");
for (const r of perSeed) console.log(r);
