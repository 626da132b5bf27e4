/**
 * The lifecycle the fault sweeps run: net use, create and write a file, a change notification on a directory that
 * a second create completes, closes, net use /delete. Steps have no `expect`, so the first step a fault breaks is
 * the one that fails, and its thread stops there; teardown then cleans up and reports what is left.
 */
import type { FaultSpec } from "../../emulator/faults/index.js";
import { formatReport, runScenario, type ScenarioReport } from "../../emulator/scenario/index.js";
import { load } from "../scenario/_run.js";

export function lifecycle(minirdr: "memsmb" | "nulmrx"): string {
  const remote = minirdr === "memsmb" ? "\\\\srv\\share" : "\\\\nul\\share";
  return `name: lifecycle under faults (${minirdr})
setup:
  minirdr: ${minirdr}
steps:
  - op: net-use
    drive: X
    remote: ${remote}
  - op: create
    path: X:\\a.txt
    as: h
  - op: write
    handle: h
    offset: 0
    data: hello, world
  - op: create
    path: X:\\w
    as: w
    options: FILE_DIRECTORY_FILE
    access: FILE_LIST_DIRECTORY | SYNCHRONIZE
    synchronous: false
  - op: notify
    handle: w
    filter: FILE_NOTIFY_CHANGE_FILE_NAME
    as: n
  - op: create
    path: X:\\w\\new.txt
    as: h2
  - op: wait
    request: n
  - op: close
    handle: h2
  - op: close
    handle: w
  - op: close
    handle: h
  - op: net-use-delete
    drive: X
`;
}

export async function runLifecycle(
  minirdr: "memsmb" | "nulmrx",
  faults: readonly FaultSpec[],
  seed?: number,
): Promise<ScenarioReport> {
  return runScenario(load(lifecycle(minirdr), `lifecycle-${minirdr}.yaml`), {
    faults,
    ...(seed !== undefined ? { seed } : {}),
  });
}

/** The report, for assertion messages. */
export function show(r: ScenarioReport): string {
  return formatReport(r);
}
