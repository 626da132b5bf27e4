import test from "ava";
import {
  BAD_POOL_CALLER_CODES,
  BUGCHECK,
  BUGCHECK_INFO,
  bugCheckInfo,
  bugCheckName,
  decodeRdbssBugCheck,
  formatBugCheck,
  RDBSS_BUG_CHECK,
  rdbssBugCheckParam1,
  type SubCode,
  subCodeName,
  VERIFIER_C4,
  VERIFIER_C9,
  WORKER_INVALID_CODES,
} from "../../emulator/kernel/bugcodes.js";
import {
  allStatuses,
  EMULATOR_DEFINED_STATUSES,
  formatStatus,
  isCustomerStatus,
  NT_ERROR,
  NT_INFORMATION,
  NT_SUCCESS,
  NT_WARNING,
  type NtStatusName,
  parseStatus,
  STATUS,
  statusFromName,
  statusName,
  statusSeverity,
} from "../../emulator/kernel/status.js";

/** The status list at the end of rdbss-semantics.md §9, with the values the spec gives. */
const SPEC_SECTION_9: readonly (readonly [NtStatusName, number])[] = [
  ["STATUS_PENDING", 0x103],
  ["STATUS_REPARSE", 0x104],
  ["STATUS_MORE_PROCESSING_REQUIRED", 0xc0000016],
  ["STATUS_RETRY", 0xc000022d],
  ["STATUS_CANCELLED", 0xc0000120],
  ["STATUS_FILES_OPEN", 0xc0000107],
  ["STATUS_CONNECTION_IN_USE", 0xc0000108],
  ["STATUS_LOCK_NOT_GRANTED", 0xc0000055],
  ["STATUS_BAD_NETWORK_PATH", 0xc00000be],
  ["STATUS_BAD_NETWORK_NAME", 0xc00000cc],
  ["STATUS_CONNECTION_ACTIVE", 0xc000023b],
  ["STATUS_REDIRECTOR_NOT_STARTED", 0xc00000fb],
  ["STATUS_REDIRECTOR_STARTED", 0xc00000fc],
  ["STATUS_REDIRECTOR_HAS_OPEN_HANDLES", 0x80000023],
  ["STATUS_UNEXPECTED_NETWORK_ERROR", 0xc00000c4],
  ["STATUS_NOT_IMPLEMENTED", 0xc0000002],
  ["STATUS_INVALID_DEVICE_REQUEST", 0xc0000010],
];

/** Every STATUS_* name that occurs anywhere in rdbss-semantics.md or the seed pages. */
const NAMED_IN_REFERENCE: readonly string[] = [
  "STATUS_ACCESS_DENIED",
  "STATUS_BAD_NETWORK_NAME",
  "STATUS_BAD_NETWORK_PATH",
  "STATUS_BUFFER_OVERFLOW",
  "STATUS_CANCELLED",
  "STATUS_CONNECTION_ACTIVE",
  "STATUS_CONNECTION_IN_USE",
  "STATUS_FILES_OPEN",
  "STATUS_INSUFFICIENT_RESOURCES",
  "STATUS_INVALID_DEVICE_REQUEST",
  "STATUS_INVALID_HANDLE",
  "STATUS_LOCK_NOT_GRANTED",
  "STATUS_MORE_PROCESSING_REQUIRED",
  "STATUS_NETWORK_CREDENTIAL_CONFLICT",
  "STATUS_NOT_IMPLEMENTED",
  "STATUS_NOT_SUPPORTED",
  "STATUS_OBJECT_NAME_COLLISION",
  "STATUS_OBJECT_NAME_INVALID",
  "STATUS_PENDING",
  "STATUS_REDIRECTOR_HAS_OPEN_HANDLES",
  "STATUS_REDIRECTOR_NOT_STARTED",
  "STATUS_REDIRECTOR_STARTED",
  "STATUS_REDIRECTOR_STOPPED",
  "STATUS_REPARSE",
  "STATUS_RETRY",
  "STATUS_SUCCESS",
  "STATUS_UNEXPECTED_NETWORK_ERROR",
  "STATUS_UNSUCCESSFUL",
];

test("§9 statuses exist with the values the spec gives", (t) => {
  for (const [name, value] of SPEC_SECTION_9) {
    t.is<number, number>(STATUS[name], value, name);
    t.is(statusName(value), name);
  }
});

test("every status the reference names is in the table", (t) => {
  for (const name of NAMED_IN_REFERENCE) t.not(statusFromName(name), undefined, name);
});

test("NT_SUCCESS / NT_INFORMATION / NT_WARNING / NT_ERROR classify by the severity bits", (t) => {
  const cases: readonly (readonly [number, boolean, boolean, boolean, boolean])[] = [
    // value, success, information, warning, error
    [STATUS.STATUS_SUCCESS, true, false, false, false],
    [STATUS.STATUS_PENDING, true, false, false, false],
    [STATUS.STATUS_REPARSE, true, false, false, false],
    [STATUS.STATUS_OBJECT_NAME_EXISTS, true, true, false, false],
    [0x7fffffff, true, true, false, false],
    [STATUS.STATUS_REDIRECTOR_HAS_OPEN_HANDLES, false, false, true, false],
    [STATUS.STATUS_BUFFER_OVERFLOW, false, false, true, false],
    [STATUS.STATUS_NO_MORE_FILES, false, false, true, false],
    [0x80000000, false, false, true, false],
    [0xbfffffff, false, false, true, false],
    [STATUS.STATUS_FILES_OPEN, false, false, false, true],
    [STATUS.STATUS_CANCELLED, false, false, false, true],
    [0xc0000000, false, false, false, true],
    [0xffffffff, false, false, false, true],
  ];
  for (const [v, ok, info, warn, err] of cases) {
    const label = formatStatus(v);
    t.is(NT_SUCCESS(v), ok, `NT_SUCCESS ${label}`);
    t.is(NT_INFORMATION(v), info, `NT_INFORMATION ${label}`);
    t.is(NT_WARNING(v), warn, `NT_WARNING ${label}`);
    t.is(NT_ERROR(v), err, `NT_ERROR ${label}`);
  }
  t.is(statusSeverity(STATUS.STATUS_PENDING), "success");
  t.is(statusSeverity(STATUS.STATUS_OBJECT_NAME_EXISTS), "information");
  t.is(statusSeverity(STATUS.STATUS_REDIRECTOR_HAS_OPEN_HANDLES), "warning");
  t.is(statusSeverity(STATUS.STATUS_FILES_OPEN), "error");
});

test("signed (LONG) values classify and print like their unsigned form", (t) => {
  const signed = STATUS.STATUS_FILES_OPEN | 0; // negative as a JS number
  t.true(signed < 0);
  t.true(NT_ERROR(signed));
  t.false(NT_SUCCESS(signed));
  t.is(statusName(signed), "STATUS_FILES_OPEN");
  t.true(NT_WARNING(STATUS.STATUS_REDIRECTOR_HAS_OPEN_HANDLES | 0));
});

test("every table entry round-trips name ↔ value", (t) => {
  const entries = Object.entries(STATUS) as [NtStatusName, number][];
  t.true(entries.length > 100);
  t.is(allStatuses().length, entries.length);
  const firstNameFor = new Map<number, string>();
  for (const [name, value] of entries) {
    t.true(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, `${name} is an unsigned 32-bit number`);
    const canonical = firstNameFor.get(value) ?? name;
    firstNameFor.set(value, canonical);
    t.is(statusFromName(name), value, name);
    t.is(statusFromName(name.slice("STATUS_".length)), value, `${name} without prefix`);
    t.is(parseStatus(name), value);
    t.is(statusName(value), canonical, `${name} prints as the first name listed for its value`);
    t.is(statusFromName(statusName(value)), value);
    t.is(parseStatus(formatStatus(value).slice(-11, -1)), value, "hex part of formatStatus parses back");
  }
});

test("aliases print as the first-listed name", (t) => {
  t.is(STATUS.STATUS_WAIT_0, STATUS.STATUS_SUCCESS);
  t.is(statusName(STATUS.STATUS_WAIT_0), "STATUS_SUCCESS");
  t.is(statusName(0x80), "STATUS_ABANDONED");
});

test("formatting", (t) => {
  t.is(statusName(0xc0000107), "STATUS_FILES_OPEN");
  t.is(formatStatus(0xc0000107), "STATUS_FILES_OPEN (0xC0000107)");
  t.is(formatStatus(STATUS.STATUS_PENDING), "STATUS_PENDING (0x00000103)");
  t.is(statusName(0xc0001234), "0xC0001234");
  t.is(statusName(0x1234), "0x00001234");
  t.is(formatStatus(0xc0001234), "0xC0001234");
});

test("parseStatus accepts names and hex literals", (t) => {
  t.is(parseStatus("STATUS_FILES_OPEN"), 0xc0000107);
  t.is(parseStatus("FILES_OPEN"), 0xc0000107);
  t.is(parseStatus("  STATUS_PENDING "), 0x103);
  t.is(parseStatus("0xC0000107"), 0xc0000107);
  t.is(parseStatus("0xc0000107"), 0xc0000107);
  t.is(parseStatus("0X80000023"), 0x80000023);
  t.is(parseStatus("0x103"), 0x103);
  t.is(parseStatus("0xC0001234"), 0xc0001234, "unknown but well-formed hex is accepted");
  t.is(parseStatus("status_files_open"), undefined, "names are case-sensitive");
  t.is(parseStatus("STATUS_NOT_A_REAL_STATUS"), undefined);
  t.is(parseStatus("0x123456789"), undefined, "more than 8 hex digits");
  t.is(parseStatus("0x"), undefined);
  t.is(parseStatus(""), undefined);
  t.is(parseStatus("toString"), undefined, "no prototype keys");
  t.is(statusFromName("STATUS_STATUS_PENDING"), undefined);
});

test("emulator-defined statuses carry the customer bit; the others do not", (t) => {
  for (const [name, value] of allStatuses()) {
    t.is(isCustomerStatus(value), EMULATOR_DEFINED_STATUSES.has(name), name);
  }
  t.true(NT_ERROR(STATUS.STATUS_REDIRECTOR_STOPPED));
});

// ── bug codes ───────────────────────────────────────────────────────────────────────────────────────────

test("every BUGCHECK code has a BUGCHECK_INFO entry with its own name", (t) => {
  const entries = Object.entries(BUGCHECK) as [keyof typeof BUGCHECK, number][];
  for (const [name, code] of entries) {
    const info = BUGCHECK_INFO[code as (typeof BUGCHECK)[keyof typeof BUGCHECK]];
    t.truthy(info, name);
    t.is(info.name, name);
    t.is(info.params.length, 4);
    t.true(info.summary.length > 0);
    t.is(bugCheckName(code), name);
    t.is(bugCheckInfo(code), info);
  }
  t.is(Object.keys(BUGCHECK_INFO).length, entries.length);
  t.is(new Set(entries.map(([, c]) => c)).size, entries.length, "codes are unique");
});

test("the bug checks named by the spec have their documented codes", (t) => {
  t.is(BUGCHECK.APC_INDEX_MISMATCH, 0x1);
  t.is(BUGCHECK.IRQL_NOT_LESS_OR_EQUAL, 0xa);
  t.is(BUGCHECK.RDR_FILE_SYSTEM, 0x27);
  t.is(BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS, 0x44);
  t.is(BUGCHECK.BAD_POOL_CALLER, 0xc2);
  t.is(BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, 0xc4);
  t.is(BUGCHECK.DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0xc9);
  t.is(BUGCHECK.DRIVER_IRQL_NOT_LESS_OR_EQUAL, 0xd1);
  t.is(BUGCHECK.WORKER_THREAD_RETURNED_AT_BAD_IRQL, 0xe1);
  t.is(BUGCHECK.RESOURCE_NOT_OWNED, 0xe3);
  t.is(BUGCHECK.WORKER_INVALID, 0xe4);
  t.is(bugCheckName(0x1c7), "0x000001C7");
  t.is(bugCheckInfo(0x1c7), undefined);
});

test("sub-code tables have unique codes and look-ups work", (t) => {
  const tables: readonly (readonly [string, Readonly<Record<string, SubCode>>])[] = [
    ["VERIFIER_C4", VERIFIER_C4],
    ["VERIFIER_C9", VERIFIER_C9],
    ["WORKER_INVALID_CODES", WORKER_INVALID_CODES],
    ["BAD_POOL_CALLER_CODES", BAD_POOL_CALLER_CODES],
  ];
  for (const [label, table] of tables) {
    const codes = Object.values(table).map((e) => e.code);
    t.is(new Set(codes).size, codes.length, `${label} codes are unique`);
    for (const [name, entry] of Object.entries(table)) {
      t.regex(name, /^[A-Z][A-Z0-9_]*$/);
      t.true(entry.meaning.length > 0);
      t.is(subCodeName(table, entry.code), name);
    }
  }
  t.is(VERIFIER_C4.SELF_DEADLOCK.code, 0x1000);
  t.is(VERIFIER_C4.LOCK_HIERARCHY_VIOLATION.code, 0x1001);
  t.is(VERIFIER_C9.PENDING_RETURNED_WITHOUT_MARK.code, 0x23d);
  t.is(WORKER_INVALID_CODES.ACTIVE_ITEM_QUEUED.code, 0x1);
  t.is(subCodeName(VERIFIER_C4, 0x1004n), "RELEASE_BY_WRONG_THREAD");
  t.is(subCodeName(VERIFIER_C4, 0xdead), undefined);
});

test("RDBSS 0x27 parameter 1 encodes source and line", (t) => {
  t.is(RDBSS_BUG_CHECK.CLOSE, 0xc10e0000);
  const p1 = rdbssBugCheckParam1("CLEANUP", 123);
  t.is(p1, 0xc1ee007b);
  t.deepEqual(decodeRdbssBugCheck(p1), { source: "CLEANUP", line: 123 });
  t.deepEqual(decodeRdbssBugCheck(BigInt(rdbssBugCheckParam1("ASSERT", 7))), { source: "ASSERT", line: 7 });
  t.deepEqual(decodeRdbssBugCheck(0x12340001), { source: undefined, line: 1 });
  t.is(
    formatBugCheck(BUGCHECK.RDR_FILE_SYSTEM, [p1, 0n, 0n, 0n]),
    "RDR_FILE_SYSTEM (0x27) [0xC1EE007B, 0x0, 0x0, 0x0] RDBSS_BUG_CHECK_CLEANUP line 123",
  );
  t.is(
    formatBugCheck(BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION, [0x1001n, 0xffff800000001000n, 0n, 0n]),
    "DRIVER_VERIFIER_DETECTED_VIOLATION (0xC4) [0x1001, 0xFFFF800000001000, 0x0, 0x0] LOCK_HIERARCHY_VIOLATION",
  );
  t.is(formatBugCheck(BUGCHECK.MULTIPLE_IRP_COMPLETE_REQUESTS), "MULTIPLE_IRP_COMPLETE_REQUESTS (0x44)");
});
