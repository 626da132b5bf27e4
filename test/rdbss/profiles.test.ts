/**
 * The semantic profiles (emulator/rdbss/profile.ts, rdbss-semantics.md §9). Every option of PROFILE_OPTION_DOCS
 * has at least one test, tagged "[profile:<option>]" in its title, that observes the difference between its two
 * values; most live next to the routine they concern (finalize-srvcall, finalize-connection, finalize-netroot,
 * references, contracts), the rest are here.
 *
 * Four options have the same value in the "docs" and "reactos" profiles (both follow ReactOS or the one coherent
 * reading): srvCallFinalizePostedFrom, fcbFinalizeAssertions, fcbReferences and fcbCreateLock. For those the
 * difference cannot be seen between the two named profiles; their tests compare the profile's value with the
 * alternative set through profileOverrides.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { FILE_CREATED, FILE_OVERWRITTEN } from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import {
  DOCS_PROFILE,
  PROFILE_OPTION_DOCS,
  RDBSS_ASSERT,
  type RdbssProfile,
  REACTOS_PROFILE,
  type RX_CONTEXT,
} from "../../emulator/rdbss/index.js";
import { type NulExtensions, NulMrx } from "../../miniredirs/nulmrx/index.js";
import * as H from "./_helpers.js";

type Option = keyof typeof PROFILE_OPTION_DOCS;
const SAME_IN_BOTH: readonly Option[] = [
  "srvCallFinalizePostedFrom",
  "fcbFinalizeAssertions",
  "fcbReferences",
  "fcbCreateLock",
];

test("every profile option is observed by a test tagged [profile:<option>] in test/rdbss", (t) => {
  const dir = dirname(fileURLToPath(import.meta.url));
  const text = readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
  const tagged = new Set([...text.matchAll(/\[profile:([A-Za-z0-9]+)\]/g)].map((m) => m[1]));
  const options = Object.keys(PROFILE_OPTION_DOCS) as Option[];
  t.deepEqual(
    options.filter((o) => !tagged.has(o)),
    [],
    "options without a test",
  );
  t.deepEqual(
    [...tagged].filter((x) => !options.includes(x as Option)),
    [],
    "tags naming no option",
  );
});

test("the two named profiles differ on every option except the four documented as the same", (t) => {
  const options = Object.keys(PROFILE_OPTION_DOCS) as Option[];
  t.deepEqual(
    options.filter((o) => DOCS_PROFILE[o] === REACTOS_PROFILE[o]),
    [...SAME_IN_BOTH],
  );
  // Every option is a field of both profiles.
  for (const o of options) {
    t.not(DOCS_PROFILE[o], undefined, o);
    t.not(REACTOS_PROFILE[o], undefined, o);
  }
});

// ---------------------------------------------------------------- createInformation

/** A mini-redirector that reports its create disposition in Irp->IoStatus.Information (as the docs ask). */
class SetsIrpInformation extends NulMrx {
  override MRxCreate(ctx: RX_CONTEXT<NulExtensions>): number {
    const st = super.MRxCreate(ctx);
    if (st === STATUS.STATUS_SUCCESS && ctx.CurrentIrp) ctx.CurrentIrp.IoStatus.Information = FILE_OVERWRITTEN;
    return st;
  }
}

async function createOnce(
  w: H.World,
): Promise<{ status: number; information: number; run: import("../../emulator/kernel/index.js").RunResult }> {
  let status = -1;
  let information = -1;
  const run = await H.user(w, async (np) => {
    t0(await np.netUse("N", "\\\\srv\\share"));
    const h = await H.openFile(w, "\\??\\N:\\new.txt");
    status = h.Status;
    information = h.Information;
  });
  return { status, information, run };
}

function t0(st: number): void {
  if (st !== 0) throw new Error(`net use failed: ${H.statusName(st)}`);
}

test("[profile:createInformation] docs (must-set): the Information a mini-redirector sets in MRxCreate is what NtCreateFile returns", async (t) => {
  const w = await H.makeWorld({ profile: "docs", makeMrx: (em) => new SetsIrpInformation(em.rx) });
  const r = await createOnce(w);
  H.clean(r.run);
  t.is(r.status, STATUS.STATUS_SUCCESS);
  t.is(r.information, FILE_OVERWRITTEN, "the mini-redirector's value, not ReturnedCreateInformation (FILE_CREATED)");
});

test("[profile:createInformation] reactos (canary): a mini-redirector that changes Irp->IoStatus.Information in MRxCreate stops (0x27, minirdrContract)", async (t) => {
  const w = await H.makeWorld({ profile: "reactos", makeMrx: (em) => new SetsIrpInformation(em.rx) });
  const r = await createOnce(w);
  const s = H.assertRdbssStop(t, r.run, "minirdrContract", RDBSS_ASSERT.CREATE_INFORMATION);
  t.true(s.reason.includes("0xABCDEF"), s.reason);
  t.true(s.reason.includes("ReturnedCreateInformation"), s.reason);
});

test("[profile:createInformation] reactos (canary): a mini-redirector that leaves it alone gets Create.ReturnedCreateInformation", async (t) => {
  const w = await H.makeWorld({ profile: "reactos" });
  const r = await createOnce(w);
  H.clean(r.run);
  t.is(r.status, STATUS.STATUS_SUCCESS);
  t.is(r.information, FILE_CREATED);
});

// ---------------------------------------------------------------- fcbReferences (same in both profiles)

for (const value of ["v-net-root", "net-root"] as const) {
  test(`[profile:fcbReferences] ${value}${value === "v-net-root" ? " (both profiles)" : " (override)"}: an open file's FCB references its ${value === "v-net-root" ? "V_NET_ROOT" : "NET_ROOT"}; everything is released after the delete`, async (t) => {
    const overrides: Partial<RdbssProfile> = value === "net-root" ? { fcbReferences: value } : {};
    const w = await H.makeWorld({ profileOverrides: overrides });
    t.is(w.em.rx.profile.fcbReferences, value);
    const seen: Record<string, unknown> = {};
    H.clean(
      await H.user(w, async (np) => {
        const h = await H.netUseAndOpen(w, np);
        const c = H.connection(w);
        // V_NET_ROOT: table + add-connection + SRV_OPEN (+ FCB); NET_ROOT: table + V_NET_ROOT (+ FCB).
        seen.open = { vNetRoot: c.vNetRoot.NodeReferenceCount, netRoot: c.netRoot.NodeReferenceCount };
        await w.em.sys.nt.NtClose(h);
        seen.deleted = H.statusName(await np.netUseDelete("N", 0));
        seen.freed = [c.vNetRoot.freed !== null, c.netRoot.freed !== null];
      }),
    );
    t.deepEqual(seen, {
      open: value === "v-net-root" ? { vNetRoot: 4, netRoot: 2 } : { vNetRoot: 3, netRoot: 3 },
      deleted: "STATUS_SUCCESS",
      freed: [true, true],
    });
  });
}

// ---------------------------------------------------------------- fcbCreateLock (same in both profiles)

for (const value of ["fcb-table", "netname-table"] as const) {
  test(`[profile:fcbCreateLock] ${value}${value === "fcb-table" ? " (both profiles)" : " (override)"}: RxCreateNetFcb needs the ${value === "fcb-table" ? "FCB table" : "netname table"} exclusive, not the other`, async (t) => {
    const overrides: Partial<RdbssProfile> = value === "netname-table" ? { fcbCreateLock: value } : {};
    const results: Record<string, string> = {};
    for (const held of ["fcb-table", "netname-table"] as const) {
      const w = await H.makeWorld({ profileOverrides: overrides });
      const c = await H.handConnection(w);
      const lock = held === "fcb-table" ? w.em.rx.fcbTableOf(c.netRoot).TableLock : w.dev.pRxNetNameTable.TableLock;
      const r = await H.systemThread(w, "driver", async () => {
        await w.em.rx.acquire(lock, true);
        w.em.rx.RxCreateNetFcb(c.ctx, c.vNetRoot, "\\x.txt");
        w.em.rx.release(lock);
      });
      results[held] = r.stop ? `${r.stop.name} (${r.stop.check})` : "ok";
    }
    t.deepEqual(
      results,
      value === "fcb-table"
        ? { "fcb-table": "ok", "netname-table": "RDR_FILE_SYSTEM (rdbssLocks)" }
        : { "fcb-table": "RDR_FILE_SYSTEM (rdbssLocks)", "netname-table": "ok" },
    );
  });
}

// RDBSS's own create and close paths take whichever lock profile.fcbCreateLock names, so its precondition on
// RxCreateNetFcb / RxFinalizeNetFcb holds under either value (regression: the create path once always took the FCB
// table, and every open stopped with 0x27 under "netname-table").
test("[profile:fcbCreateLock] netname-table (override): an ordinary open and close through RDBSS do not trip RDBSS's own lock check", async (t) => {
  const w = await H.makeWorld({ profileOverrides: { fcbCreateLock: "netname-table" } });
  let status = -1;
  const r = await H.user(w, async (np) => {
    const h = await H.netUseAndOpen(w, np);
    status = await w.em.sys.nt.NtClose(h);
  });
  t.is(r.stop, null, r.stop?.format());
  t.is(status, STATUS.STATUS_SUCCESS);
});

// ---------------------------------------------------------------- fcbFinalizeAssertions (same in both profiles)

for (const value of ["asserted", "lenient"] as const) {
  test(`[profile:fcbFinalizeAssertions] ${value}${value === "asserted" ? " (both profiles)" : " (override)"}: RxpDereferenceAndFinalizeNetFcb with Force TRUE and without the FCB ${value === "asserted" ? "stops" : "is let through"}`, async (t) => {
    const overrides: Partial<RdbssProfile> = value === "lenient" ? { fcbFinalizeAssertions: value } : {};
    const outcomes: Record<string, string> = {};
    for (const breach of ["force TRUE", "FCB not held"] as const) {
      const w = await H.makeWorld({ profileOverrides: overrides });
      const c = await H.handConnection(w);
      const fcb = await H.handFcb(w, c.vNetRoot);
      let ret: boolean | undefined;
      const r = await H.systemThread(w, "driver", async () => {
        if (breach === "force TRUE") await w.em.rx.acquire(fcb.Header.Resource, true);
        ret = await w.em.rx.RxpDereferenceAndFinalizeNetFcb(fcb, null, false, breach === "force TRUE");
      });
      outcomes[breach] = r.stop
        ? `stop ${r.stop.params[0] === H.assertParam(RDBSS_ASSERT.FORCE_MUST_BE_FALSE) ? "FORCE_MUST_BE_FALSE" : r.stop.params[0] === H.assertParam(RDBSS_ASSERT.LOCK_NOT_HELD) ? "LOCK_NOT_HELD" : r.stop.name}`
        : `returned ${String(ret)}, freed ${fcb.freed !== null}`;
    }
    t.deepEqual(
      outcomes,
      value === "asserted"
        ? { "force TRUE": "stop FORCE_MUST_BE_FALSE", "FCB not held": "stop LOCK_NOT_HELD" }
        : { "force TRUE": "returned true, freed true", "FCB not held": "returned true, freed true" },
    );
  });
}

// ---------------------------------------------------------------- finalizeNetRootPurges

// The docs' "purges orphaned FCBs" cannot be observed here: in this emulator an FCB that is orphaned (a forced
// RxFinalizeConnection with the file open) leaves the FCB table at once, so RxFinalizeNetRoot's walk over the table
// never meets one. The observable difference is the other side: ReactOS purges the non-orphaned, unused FCBs, the
// docs profile leaves them.
for (const profile of ["docs", "reactos"] as const) {
  test(`[profile:finalizeNetRootPurges] ${profile}: RxFinalizeNetRoot(recursive) ${profile === "reactos" ? "purges" : "leaves"} an unused, non-orphaned FCB`, async (t) => {
    const w = await H.makeWorld({ profile });
    const c = await H.handConnection(w);
    const fcb = await H.handFcb(w, c.vNetRoot);
    let ret: boolean | undefined;
    H.clean(
      await H.systemThread(w, "driver", async () => {
        t.is(w.em.rx.RxpDereferenceNetFcb(fcb), 1, "only the FCB table's reference left");
        ret = await H.withNetName(w, () => w.em.rx.RxFinalizeNetRoot(c.netRoot, true, false));
      }),
    );
    t.false(ret, "the NET_ROOT itself is still referenced by its V_NET_ROOT");
    if (profile === "reactos") {
      t.not(fcb.freed, null);
      t.is(H.count(w, "MRxDeallocateForFcb"), 1);
      t.is(w.em.rx.fcbTableOf(c.netRoot).size, 0);
    } else {
      t.is(fcb.freed, null);
      t.is(H.count(w, "MRxDeallocateForFcb"), 0);
      t.is(w.em.rx.fcbTableOf(c.netRoot).lookup("\\lone.txt"), fcb);
    }
  });
}
