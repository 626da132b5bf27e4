/**
 * The built package (scripts/build.mjs → dist/): the light entry `rdbss-emulator/core` loads none of zod, yaml and
 * pino; the built `rdbss` command gives byte-for-byte the reports the sources give (and runs itself again from the
 * sources for scenarios with mini-redirector modules of their own, which may import the sources by path); and the
 * cold-start program of the benchmark suite runs on it. Built into a temporary folder, so the
 * checkout's dist/ is never touched.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import test, { type ExecutionContext } from "ava";
import { makeUserProject } from "./_user-project.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
// Inside the checkout (node_modules/.cache), so the built files resolve their dependencies as dist/ would.
mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
const out = mkdtempSync(join(ROOT, "node_modules/.cache/rdbss-dist-test-"));

test.before(async () => {
  const { build } = (await import(pathToFileURL(join(ROOT, "scripts/build.mjs")).href)) as {
    build(outdir: string): Promise<unknown>;
  };
  await build(out);
});
test.after.always(() => rmSync(out, { recursive: true, force: true }));

/** Every bare (package) import reachable from an entry file through its relative imports. */
function packagesReachedFrom(file: string, seen = new Set<string>(), found = new Set<string>()): Set<string> {
  if (seen.has(file)) return found;
  seen.add(file);
  const src = readFileSync(file, "utf8");
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
    const spec = m[1] as string;
    if (spec.startsWith(".")) packagesReachedFrom(join(dirname(file), spec), seen, found);
    else found.add(spec);
  }
  return found;
}

test("rdbss-emulator/core loads no zod, yaml or pino", (t) => {
  const pkgs = [...packagesReachedFrom(join(out, "core.mjs"))];
  t.true(pkgs.length > 0, "core reaches node: built-ins at least");
  t.deepEqual(
    pkgs.filter((p) => !p.startsWith("node:")),
    [],
  );
  // The full entry does load them (the scenario format), which is why core exists.
  t.true(packagesReachedFrom(join(out, "index.mjs")).has("zod"));
});

function runBoth(args: readonly string[]): { built: string; source: string } {
  const built = spawnSync(process.execPath, [join(out, "cli.mjs"), ...args], { cwd: ROOT, encoding: "utf8" });
  const source = spawnSync(process.execPath, ["scripts/rdbss.mjs", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, RDBSS_FROM_SOURCE: "1" },
  });
  if (source.status !== 0) throw new Error(`sources: ${source.status}\n${source.stderr}`);
  if (built.status !== 0) throw new Error(`built: ${built.status}\n${built.stderr}`);
  return { built: built.stdout, source: source.stdout };
}

test("the built rdbss command reports exactly what the sources report", (t) => {
  const { built, source } = runBoth(["run", "fixtures/scenarios", "--json", "--seed", "7"]);
  t.true(source.trim().split("\n").length > 40);
  t.is(built, source);
});

test("a scenario with a module of its own runs from the sources, so the module shares the command's emulator", (t) => {
  // fixtures/checks name TypeScript mini-redirector modules that import the emulator by relative path
  // (test/verifier/_buggy.ts and others): the built command runs the same command again from the sources.
  const { built, source } = runBoth(["run", "fixtures/checks", "--json"]);
  const reports = source.trim().split("\n");
  t.true(reports.some((r) => (JSON.parse(r) as { minirdr?: string }).minirdr?.endsWith(".ts") ?? false));
  t.is(built, source);
});

test("the benchmark suite's cold-start program runs on the built package", (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/bench/cold-core.mjs"), out], { encoding: "utf8" });
  t.is(r.status, 0, r.stderr);
  const timings = JSON.parse(r.stdout.trim()) as Record<string, number>;
  t.deepEqual(Object.keys(timings), [
    "processStartToModuleMs",
    "importMs",
    "bootAndStartMs",
    "firstCreateMs",
    "totalSinceProcessStartMs",
  ]);
});

/** The package as npm installs it: package.json with its exports and dist/ (this build), no sources. */
function installedPackage(t: ExecutionContext): string {
  const pkg = mkdtempSync(join(ROOT, "node_modules/.cache/rdbss-dist-test-pkg-"));
  t.teardown(() => rmSync(pkg, { recursive: true, force: true }));
  copyFileSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  symlinkSync(out, join(pkg, "dist"), "dir");
  return pkg;
}

test("a user's process on the built package runs a .ts mini-redirector module from a CommonJS project", (t) => {
  // The package as npm installs it: package.json with its exports, dist/ (this build); no TypeScript loader in
  // the process until the scenario names a .ts module.
  const dir = makeUserProject("commonjs", installedPackage(t));
  writeFileSync(
    join(dir, "main.mjs"),
    `import { formatReport, loadScenarioFile, runScenario } from "rdbss-emulator";
const r = loadScenarioFile(new URL("hello.yaml", import.meta.url).pathname);
if (!r.ok) throw new Error(JSON.stringify(r.problems));
const report = await runScenario(r.loaded);
console.log(JSON.stringify({ passed: report.passed, from: import.meta.resolve("rdbss-emulator/io"), text: formatReport(report) }));
`,
  );
  const r = spawnSync(process.execPath, ["main.mjs"], { cwd: dir, encoding: "utf8" });
  t.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim()) as { passed: boolean; from: string; text: string };
  t.true(result.passed, result.text);
  t.is(result.from, pathToFileURL(join(out, "io.mjs")).href, "the built entry, not the sources");
});

test("a user's TypeScript project type-checks against the built declarations under its own compiler options", (t) => {
  // The package as npm installs it: package.json and dist/ (this build, with dist/types), no sources. The user's
  // options differ from the repository's: no exactOptionalPropertyTypes, index signatures read with brackets, an
  // older lib. Against the sources (the package's `types` before dist/types existed) this project had errors in
  // the emulator's own files; against the declarations it has none.
  const dir = makeUserProject("module", installedPackage(t));
  const options = {
    target: "es2022",
    lib: ["es2022"],
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    noPropertyAccessFromIndexSignature: true,
    noImplicitReturns: true,
    noEmit: true,
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules/@types")],
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: options, include: ["hello.ts"] }));
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", dir], { cwd: dir, encoding: "utf8" });
  t.is(r.status, 0, r.stdout + r.stderr);
  // The declarations are what it read: a type error in the user's own file is still reported, located there.
  writeFileSync(
    join(dir, "wrong.ts"),
    'import { FILE_OPEN } from "rdbss-emulator/io";\nexport const s: string = FILE_OPEN;\n',
  );
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: options, include: ["hello.ts", "wrong.ts"] }),
  );
  const wrong = spawnSync(process.execPath, [tsc, "-p", dir], { cwd: dir, encoding: "utf8" });
  t.not(wrong.status, 0);
  t.regex(wrong.stdout, /wrong\.ts\(2,14\): error TS2322/);
  t.notRegex(wrong.stdout, /dist\/types|emulator\//, "no error inside the package");
});
