/**
 * memsmb keeps each SRV_CALL's connection state in pool ('MsSc'), so pool tracking checks memsmb itself: the block
 * is charged to memsmb's driver, freed by MRxFinalizeSrvCall, and a memsmb that forgets the free stops when it
 * unloads (0xC4 / 0x62). The allocation failure is fixtures/faults/srvcall-state-pool-failure.yaml.
 */
import test from "ava";
import { VERIFIER_C4 } from "../../emulator/kernel/index.js";
import type { MRX_SRV_CALL } from "../../emulator/rdbss/index.js";
import { formatReport, parseScenario, runScenario, type ScenarioReport } from "../../emulator/scenario/index.js";
import { loadMemSmbModule, type MiniRdrModule, memsmbModule } from "../../miniredirs/index.js";
import { MEMSMB_SRVCALL_TAG, type MemSmbExtensions, MemSmbRedirector } from "../../miniredirs/memsmb/index.js";

/** memsmb with MRxFinalizeSrvCall disconnecting but not freeing the state (the pointer is cleared all the same). */
class ForgetfulMemSmb extends MemSmbRedirector {
  override MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<MemSmbExtensions>): number {
    srvCall.Context?.connection.drop("redirector disconnected (MRxFinalizeSrvCall)");
    srvCall.Context = null;
    return 0;
  }
}

const forgetful: MiniRdrModule = {
  ...memsmbModule,
  name: "forgetful-memsmb",
  load: (em, setup) => loadMemSmbModule(em, setup, ForgetfulMemSmb),
};

const STEPS = `steps:
  - op: net-use
    drive: X
    remote: \\\\srv\\share
  - op: net-use-delete
    drive: X
`;

async function run(minirdr: string, expect = ""): Promise<ScenarioReport> {
  const text = `name: pool ${minirdr}\nsetup:\n  minirdr: ${minirdr}\n${STEPS}${expect}`;
  const r = parseScenario(text, "pool.yaml", { modules: { forgetful } });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return runScenario(r.loaded);
}

test("memsmb's connection state is a pool block charged to memsmb, freed by MRxFinalizeSrvCall", async (t) => {
  let during: { tag: string; driver: string | null }[] = [];
  let step = 0;
  const text = `name: pool memsmb\nsetup:\n  minirdr: memsmb\n${STEPS}`;
  const r = parseScenario(text, "pool.yaml");
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  let after: string[] = [];
  const report = await runScenario(r.loaded, {
    onStep: (_report, em) => {
      const blocks = em.k.pool.outstanding();
      if (step++ === 0) {
        // After net use: one block, the SRV_CALL's Context.
        const ctx = [...em.rx.live].find((o) => o.kind === "SRV_CALL")?.Context as object | null | undefined;
        const info = ctx ? em.k.pool.infoOf(ctx) : undefined;
        during = info ? [{ tag: info.tag, driver: info.driver }] : [];
        t.is(blocks.length, 1, blocks.join("\n"));
      }
    },
    onFinish: (em) => {
      after = em.k.pool.outstanding();
    },
  });
  t.true(report.passed, formatReport(report));
  t.deepEqual(during, [{ tag: MEMSMB_SRVCALL_TAG, driver: "\\FileSystem\\MemSmb" }]);
  t.deepEqual(after, [], "the scavenger's MRxFinalizeSrvCall freed it");
});

test("a memsmb that forgets to free the state stops at its unload with 0xC4 / 0x62 naming 'MsSc'", async (t) => {
  const report = await run("forgetful", "expect:\n  stop: any\n");
  const s = report.stops.find((x) => x.fatal);
  if (s === undefined) return t.fail(formatReport(report));
  t.is(s.code, "0x000000C4");
  t.is(BigInt(s.params[0] as string), BigInt(VERIFIER_C4.UNLOAD_WITH_POOL_ALLOCATED.code));
  t.regex(
    s.reason,
    /^\\FileSystem\\MemSmb unloaded without freeing 1 pool allocation: pool block 'MsSc' \(NonPagedPool, 16 bytes\), allocated on thread "[^"]+" .*MRxSrvCallWinnerNotify \[memsmb\]\.$/,
  );
  // The real memsmb, same steps: clean.
  const good = await run("memsmb");
  t.true(good.passed, formatReport(good));
});
