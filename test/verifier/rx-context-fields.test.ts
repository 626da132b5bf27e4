/**
 * A freed RX_CONTEXT's fields trap (useAfterFree.rx-context-field): every field a mini-redirector reaches reports
 * its first use after RDBSS dropped the context's last reference; RDBSS's own bookkeeping fields stay plain.
 */
import test from "ava";
import { RX_CONTEXT, type RxContextFieldUse } from "../../emulator/rdbss/index.js";
import { formatReport } from "../../emulator/scenario/index.js";
import { fatal, NET_USE, passed, rdbssStop, runBug } from "./_run.js";

/** The accessors of RX_CONTEXT that are not fields (computed, for RDBSS's own use). */
const NOT_FIELDS = new Set(["hasSyncEvent"]);

/** rxcontx.h's macros over IoStatusBlock: a use of one is a use of IoStatusBlock. */
const ALIASES: Readonly<Record<string, string>> = {
  StoredStatus: "IoStatusBlock",
  InformationToReturn: "IoStatusBlock",
};

/** The scalar fields of RX_CONTEXT a mini-redirector reaches (with MEMBERS, what must trap once it is freed). */
const SCALAR_FIELDS = [
  "ReferenceCount",
  "MajorFunction",
  "MinorFunction",
  "CurrentIrp",
  "CurrentIrpSp",
  "pFcb",
  "pFobx",
  "pRelevantSrvOpen",
  "RxDeviceObject",
  "Flags",
  "MRxCancelRoutine",
  "PostRequest",
  "MRxContextPointer",
];

/** The member structures: reaching one is a "member" use, whichever way its contents then go. */
const MEMBERS = new Set([
  "IoStatusBlock",
  "MRxContext",
  "LowIoContext",
  "SyncEvent",
  "Info",
  "Create",
  "QueryDirectory",
  "NotifyChangeDirectory",
  "PrefixClaim",
]);

/**
 * The plain (untrapped) own fields of a context, and why: the type code and serial number are what a report names
 * the context by (RDBSS's own NodeType checks read them too); the rest is RDBSS's bookkeeping, which the
 * mini-redirector has no business touching (OriginalThread, LastExecutionThread, ResumeRoutine, PendingReturned are
 * RDBSS's own, read by its dispatch and completion paths), the trap's own hook, and the list links.
 */
const PLAIN = [
  "NodeTypeCode",
  "SerialNumber",
  "afterFree",
  "OriginalThread",
  "LastExecutionThread",
  "ResumeRoutine",
  "PendingReturned",
  "completed",
  "completion",
  "lowIoDone",
  "lowIoCompletion",
  "lowIoWaitPending",
  "submittedToMiniRdr",
  "cancelRoutineCalled",
  "freedThread",
  "freedTime",
  "freedStep",
  "mrxLastCall",
  "dPrev",
  "dNext",
  "dList",
];

function accessors(): { name: string; get: boolean; set: boolean }[] {
  const out: { name: string; get: boolean; set: boolean }[] = [];
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(RX_CONTEXT.prototype))) {
    if (d.get === undefined && d.set === undefined) continue;
    if (NOT_FIELDS.has(name)) continue;
    out.push({ name, get: d.get !== undefined, set: d.set !== undefined });
  }
  return out;
}

test("every accessor of RX_CONTEXT reports its use once the context is freed, naming itself", (t) => {
  const ctx = new RX_CONTEXT(7, null);
  const seen: [string, RxContextFieldUse][] = [];
  const list = accessors();
  ctx.afterFree = (_c, field, use) => {
    seen.push([field, use]);
  };
  const rec = ctx as unknown as Record<string, unknown>;
  for (const a of list) {
    const field = ALIASES[a.name] ?? a.name;
    const before = seen.length;
    const v = rec[a.name];
    t.deepEqual(seen.slice(before), [[field, MEMBERS.has(field) ? "member" : "read"]], `reading ${a.name}`);
    if (a.set) {
      const mid = seen.length;
      rec[a.name] = v;
      // An alias's write reaches IoStatusBlock (a member use); a field's is one write.
      t.deepEqual(seen.slice(mid), [[field, field === a.name ? "write" : "member"]], `writing ${a.name}`);
    }
  }
  const uses = new Map(seen.filter(([, u]) => u !== "write"));
  // What a mini-redirector reaches is all trapped: the scalar fields and the member structures.
  for (const f of [...SCALAR_FIELDS, ...MEMBERS]) {
    t.true(uses.has(f), f);
  }
});

test("the only plain fields of an RX_CONTEXT are RDBSS's bookkeeping and the trapped fields' slots", (t) => {
  const ctx = new RX_CONTEXT(7, null);
  const trappedNames = new Set(accessors().map((a) => a.name));
  const plain = Object.keys(ctx).filter((k) => !PLAIN.includes(k));
  // Every other own field is a private slot behind a trapped accessor: its name is not itself a public field.
  for (const k of plain) t.false(trappedNames.has(k), `${k} is a plain field shadowing its accessor`);
  // The slots are lower-case private names; a new capitalised (DDI) field added as plain data would show here.
  t.deepEqual(
    plain.filter((k) => /^[A-Z]/.test(k) || /^p[A-Z]/.test(k)),
    [],
    "a DDI field of RX_CONTEXT that is plain data: make it a trapped accessor, or add it to PLAIN with why",
  );
});

const READ_AND_CANCEL = `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h\n    synchronous: false\n  - op: read\n    handle: h\n    offset: 0\n    length: 4\n    as: r\n    expect: STATUS_PENDING\n  - op: cancel\n    request: r\n  - op: advance\n    by: 10ms\n`;
const AND_WAIT = "  - op: wait\n    request: r\n    expect: STATUS_CANCELLED\n";

test("a completion testing a freed context's Flags stops at the read; without the check the run passes, reading what the dead context said", async (t) => {
  const bad = await runBug("useAfterFree.rx-context-field", READ_AND_CANCEL, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "useAfterFree", 0x05);
  t.regex(
    s.reason,
    /^A read of RxContext->Flags of RX_CONTEXT#\d+ \(IRP_MJ_READ\), whose last reference was dropped on thread "[^"]*worker[^"]*" at [\d.]+ s \(steps\[4\]/,
  );
  t.regex(s.reason, /InterlockedIncrement\(&RxContext->ReferenceCount\)/);
  t.is(s.thread, "DPC");
  t.is(BigInt(s.params[2] as string), 0n, "parameter 3: a read");
  // The hole the trap closes: the freed context still says CANCELLED, so the DPC returns and nothing else notices.
  const off = await runBug("useAfterFree.rx-context-field", `${READ_AND_CANCEL}${AND_WAIT}`, {
    setup: "  checks: { useAfterFree: off }\n",
  });
  passed(t, off);
  // Record mode: one violation for the context, and the run goes on to its end.
  const rec = await runBug("useAfterFree.rx-context-field", `${READ_AND_CANCEL}${AND_WAIT}`, {
    setup: "  checks: { useAfterFree: record }\n",
    expect: "  violations: [useAfterFree]\n",
  });
  passed(t, rec);
  t.is(rec.stops.filter((x) => !x.fatal).length, 1, formatReport(rec));
  t.is(fatal(rec), null);
  // Not cancelled, the same driver is clean: the DPC completes a live context.
  passed(
    t,
    await runBug(
      "useAfterFree.rx-context-field",
      `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h\n  - op: read\n    handle: h\n    offset: 0\n    length: 4\n`,
    ),
  );
});

test("a completion writing a freed context's IoStatusBlock stops at the member; holding a reference, the same completion is the second completion (0x44) instead", async (t) => {
  const bad = await runBug("useAfterFree.rx-context-field-write", READ_AND_CANCEL, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "useAfterFree", 0x05);
  t.regex(
    s.reason,
    /^A use of RxContext->IoStatusBlock \(reaching the member to read or write what it holds\) of RX_CONTEXT#\d+ \(IRP_MJ_READ\)/,
  );
  t.is(BigInt(s.params[2] as string), 2n, "parameter 3: a member structure reached");
  const twice = await runBug("pattern.complete-and-cancel", READ_AND_CANCEL, { expect: "  stop: 0x44\n" });
  passed(t, twice);
});

test("an RDBSS routine given a freed context names the routine, not the first field it reads", async (t) => {
  const bad = await runBug("useAfterFree.rx-context-acquire", READ_AND_CANCEL, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "useAfterFree", 0x05);
  t.regex(s.reason, /^RxAcquireSharedFcb was given RX_CONTEXT#\d+ \(IRP_MJ_READ\), whose last reference was dropped/);
});

test("RDBSS's own reports on a freed context are not the driver's use: a completion after the submit returned is the 0x44", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h\n    synchronous: false\n  - op: read\n    handle: h\n    offset: 0\n    length: 4\n  - op: advance\n    by: 10ms\n`;
  const bad = await runBug("pattern.returned-then-completed", body, { expect: "  stop: 0x44\n" });
  passed(t, bad);
  t.regex(fatal(bad)?.reason ?? "", /RxLowIoCompletion was called again for RX_CONTEXT#\d+ \(LOWIO_OP_READ\)/);
});

test("RDBSS holds a reference on each context it cancels: one completing while another's cancel routine waits is not freed under the cancel loop", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\d\n    as: d\n    options: FILE_DIRECTORY_FILE\n    access: FILE_LIST_DIRECTORY | SYNCHRONIZE\n    synchronous: false\n  - op: notify\n    handle: d\n    filter: FILE_NOTIFY_CHANGE_FILE_NAME\n    as: a\n    expect: STATUS_PENDING\n  - op: notify\n    handle: d\n    filter: FILE_NOTIFY_CHANGE_FILE_NAME\n    as: b\n    expect: STATUS_PENDING\n  - op: close\n    handle: d\n  - op: advance\n    by: 20ms\n  - op: wait\n    request: a\n    expect: STATUS_CANCELLED\n  - op: wait\n    request: b\n    expect: STATUS_SUCCESS\n`;
  passed(t, await runBug("notify.slow-cancel", body));
});

test("a context freed under its own request (a reference released that was never taken) is reported as such", async (t) => {
  const body = `steps:\n${NET_USE}  - op: create\n    path: X:\\f.txt\n    as: h\n  - op: read\n    handle: h\n    offset: 0\n    length: 4\n`;
  const bad = await runBug("useAfterFree.rx-context-over-release", body, { expect: "  stop: any\n" });
  const s = rdbssStop(t, bad, "useAfterFree", 0x05);
  t.regex(
    s.reason,
    /before its request completed: RxDereferenceAndDeleteRxContext released a reference that was never taken/,
  );
});
