/**
 * A user's project outside this repository, as `npm install rdbss-emulator` leaves it: its own folder, its own
 * package.json (or none), `node_modules/rdbss-emulator`, and the HelloMrx of docs/WRITING-A-MINIRDR.md section 11
 * (test/scenario/_hellomrx.ts) importing the package's entries — `rdbss-emulator/io`, `/kernel`, `/rdbss` and
 * `rdbss-emulator/core` — instead of the repository's relative paths, with a MiniRdrModule export and a scenario.
 * Not a test file itself (ava runs `*.test.ts`).
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../_cli.js";

/** What the project's package.json says about its `.ts` files: nothing (CommonJS), `"type": "module"`, or no file. */
export type PackageScope = "commonjs" | "module" | "none";

const IMPORTS: Readonly<Record<string, string>> = {
  "../../emulator/core.js": "rdbss-emulator/core",
  "../../emulator/io/index.js": "rdbss-emulator/io",
  "../../emulator/kernel/index.js": "rdbss-emulator/kernel",
  "../../emulator/rdbss/index.js": "rdbss-emulator/rdbss",
};

/** The HelloMrx source with the package's imports, and the module export the scenario runner looks for. */
export function helloModuleSource(): string {
  let src = readFileSync(join(ROOT, "test/scenario/_hellomrx.ts"), "utf8");
  for (const [from, to] of Object.entries(IMPORTS)) src = src.replaceAll(`"${from}"`, `"${to}"`);
  if (src.includes('"../')) throw new Error("_hellomrx.ts has an import this helper does not map to the package");
  return `${src}
import { type MiniRdrModule, NetworkProvider } from "rdbss-emulator/core";

export const miniRdr: MiniRdrModule = {
  name: "hellomrx",
  description: "a user's own mini-redirector",
  deviceName: HELLO_DEVICE_NAME,
  ioctls: IOCTL_HELLO,
  capabilities: { changeNotifications: false, delayedClose: false },
  usesServers: false,
  async load(em) {
    const mrx = new HelloMrx(em.rx);
    let left: string[] | null = null;
    const { status, driver } = await em.sys.io.IoCreateDriver("\\\\FileSystem\\\\HelloMrx", (d) => mrx.DriverEntry(d));
    driver.DriverUnload = async () => {
      if (mrx.device) left = await em.rx.RxUnregisterMinirdr(mrx.device as never);
    };
    return {
      status,
      driver,
      provider: new NetworkProvider(em, HELLO_DEVICE_NAME, IOCTL_HELLO),
      leftAtUnload: () => left,
      backendLeaks: () => [],
      backend: mrx,
    };
  },
};
`;
}

export const HELLO_SCENARIO = (module: string): string => `name: hello from a user's project
setup:
  minirdr: ${module}
steps:
  - op: net-use
    drive: H
    remote: \\\\hello\\world
  - op: create
    path: H:\\greeting.txt
    disposition: FILE_CREATE
    as: h
  - op: write
    handle: h
    offset: 0
    data: "hello, world"
  - op: read
    handle: h
    offset: 0
    length: 64
    expect: { data: "hello, world" }
  - op: close
    handle: h
  - op: net-use-delete
    drive: H
    force: "FALSE"
`;

/**
 * Make the project in a fresh temporary folder: `hello.ts` (and `hello.mts`, the same text), `hello.yaml` naming
 * hello.ts, and `node_modules/rdbss-emulator` linking to `pkg` (default: this checkout). Returns the folder.
 */
export function makeUserProject(scope: PackageScope, pkg: string = ROOT): string {
  const dir = mkdtempSync(join(tmpdir(), `rdbss-user-project-${scope}-`));
  if (scope !== "none")
    writeFileSync(
      join(dir, "package.json"),
      `${JSON.stringify({ name: "my-redirector", version: "1.0.0", private: true, ...(scope === "module" ? { type: "module" } : {}) }, null, 2)}\n`,
    );
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(pkg, join(dir, "node_modules", "rdbss-emulator"), "dir");
  const src = helloModuleSource();
  writeFileSync(join(dir, "hello.ts"), src);
  writeFileSync(join(dir, "hello.mts"), src);
  writeFileSync(join(dir, "hello.yaml"), HELLO_SCENARIO("./hello.ts"));
  writeFileSync(join(dir, "hello-mts.yaml"), HELLO_SCENARIO("./hello.mts"));
  return dir;
}
