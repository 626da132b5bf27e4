import test from "ava";
import {
  ACCESS,
  ACCESS_FROM_CTL_CODE,
  CREATE_OPTIONS,
  CTL_CODE,
  DELETE,
  DEVICE_TYPE_FROM_CTL_CODE,
  DISPOSITION,
  FILE_ALL_ACCESS,
  FILE_ANY_ACCESS,
  FILE_DEVICE_FILE_SYSTEM,
  FILE_DEVICE_MULTI_UNC_PROVIDER,
  FILE_DEVICE_NAMED_PIPE,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_DEVICE_NETWORK_REDIRECTOR,
  FILE_EXECUTE,
  FILE_GENERIC_EXECUTE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_INFORMATION_CLASS,
  FILE_NOTIFY_CHANGE,
  FILE_NOTIFY_VALID_MASK,
  FILE_READ_ACCESS,
  FILE_READ_ATTRIBUTES,
  FILE_READ_DATA,
  FILE_READ_EA,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  FILE_SPECIAL_ACCESS,
  FILE_VALID_OPTION_FLAGS,
  FILE_WRITE_ACCESS,
  FILE_WRITE_DATA,
  FO_CLEANUP_COMPLETE,
  FO_SYNCHRONOUS_IO,
  FS_INFORMATION_CLASS,
  FSCTL,
  FUNCTION_FROM_CTL_CODE,
  formatFlags,
  GENERIC_ALL,
  GENERIC_EXECUTE,
  GENERIC_READ,
  GENERIC_WRITE,
  IOCTL,
  IOCTL_REDIR_QUERY_PATH,
  IOCTL_REDIR_QUERY_PATH_EX,
  IRP_MJ,
  IRP_MJ_MAXIMUM_FUNCTION,
  IRP_MJ_NAMES,
  IRP_MJ_PNP,
  irpMajorName,
  irpMinorName,
  MAXIMUM_ALLOWED,
  METHOD_BUFFERED,
  METHOD_FROM_CTL_CODE,
  METHOD_NEITHER,
  mapGenericMask,
  parseFlags,
  READ_CONTROL,
  SYMBOLS,
  SYNCHRONIZE,
  type SymbolGroup,
  suggestSymbols,
  WRITE_DAC,
} from "../../emulator/io/constants.js";

// ── CTL_CODE ───────────────────────────────────────────────────────────────────────────────────────────────────

test("IOCTL_REDIR_QUERY_PATH is CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 99, METHOD_NEITHER, FILE_ANY_ACCESS)", (t) => {
  t.is(IOCTL_REDIR_QUERY_PATH, 0x0014018f);
  t.is(CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 99, METHOD_NEITHER, FILE_ANY_ACCESS), 0x0014018f);
  t.is(CTL_CODE(FILE_DEVICE_NETWORK_FILE_SYSTEM, 100, METHOD_NEITHER, FILE_ANY_ACCESS), IOCTL_REDIR_QUERY_PATH_EX);
});

/** Every FSCTL / IOCTL in the tables, with the CTL_CODE arguments ntifs.h / winioctl.h give it. */
const CONTROL_CODES: readonly (readonly [keyof typeof FSCTL | keyof typeof IOCTL, number, number, number, number])[] = [
  ["FSCTL_REQUEST_OPLOCK_LEVEL_1", FILE_DEVICE_FILE_SYSTEM, 0, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_REQUEST_OPLOCK_LEVEL_2", FILE_DEVICE_FILE_SYSTEM, 1, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_REQUEST_BATCH_OPLOCK", FILE_DEVICE_FILE_SYSTEM, 2, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_OPLOCK_BREAK_ACKNOWLEDGE", FILE_DEVICE_FILE_SYSTEM, 3, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_OPBATCH_ACK_CLOSE_PENDING", FILE_DEVICE_FILE_SYSTEM, 4, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_OPLOCK_BREAK_NOTIFY", FILE_DEVICE_FILE_SYSTEM, 5, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_LOCK_VOLUME", FILE_DEVICE_FILE_SYSTEM, 6, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_UNLOCK_VOLUME", FILE_DEVICE_FILE_SYSTEM, 7, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_DISMOUNT_VOLUME", FILE_DEVICE_FILE_SYSTEM, 8, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_IS_VOLUME_MOUNTED", FILE_DEVICE_FILE_SYSTEM, 10, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_IS_PATHNAME_VALID", FILE_DEVICE_FILE_SYSTEM, 11, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_MARK_VOLUME_DIRTY", FILE_DEVICE_FILE_SYSTEM, 12, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_GET_COMPRESSION", FILE_DEVICE_FILE_SYSTEM, 15, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_SET_COMPRESSION", FILE_DEVICE_FILE_SYSTEM, 16, METHOD_BUFFERED, FILE_READ_DATA | FILE_WRITE_DATA],
  ["FSCTL_OPLOCK_BREAK_ACK_NO_2", FILE_DEVICE_FILE_SYSTEM, 20, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_REQUEST_FILTER_OPLOCK", FILE_DEVICE_FILE_SYSTEM, 23, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_SET_REPARSE_POINT", FILE_DEVICE_FILE_SYSTEM, 41, METHOD_BUFFERED, FILE_SPECIAL_ACCESS],
  ["FSCTL_GET_REPARSE_POINT", FILE_DEVICE_FILE_SYSTEM, 42, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_DELETE_REPARSE_POINT", FILE_DEVICE_FILE_SYSTEM, 43, METHOD_BUFFERED, FILE_SPECIAL_ACCESS],
  ["FSCTL_SET_SPARSE", FILE_DEVICE_FILE_SYSTEM, 49, METHOD_BUFFERED, FILE_SPECIAL_ACCESS],
  ["FSCTL_REQUEST_OPLOCK", FILE_DEVICE_FILE_SYSTEM, 144, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_PIPE_ASSIGN_EVENT", FILE_DEVICE_NAMED_PIPE, 0, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_PIPE_DISCONNECT", FILE_DEVICE_NAMED_PIPE, 1, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_PIPE_LISTEN", FILE_DEVICE_NAMED_PIPE, 2, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_PIPE_PEEK", FILE_DEVICE_NAMED_PIPE, 3, METHOD_BUFFERED, FILE_READ_DATA],
  ["FSCTL_PIPE_QUERY_EVENT", FILE_DEVICE_NAMED_PIPE, 4, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_PIPE_TRANSCEIVE", FILE_DEVICE_NAMED_PIPE, 5, METHOD_NEITHER, FILE_READ_DATA | FILE_WRITE_DATA],
  ["FSCTL_PIPE_WAIT", FILE_DEVICE_NAMED_PIPE, 6, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_PIPE_IMPERSONATE", FILE_DEVICE_NAMED_PIPE, 7, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_LMR_GET_LINK_TRACKING_INFORMATION", FILE_DEVICE_NETWORK_FILE_SYSTEM, 58, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["FSCTL_LMR_SET_LINK_TRACKING_INFORMATION", FILE_DEVICE_NETWORK_FILE_SYSTEM, 59, METHOD_BUFFERED, FILE_ANY_ACCESS],
  ["IOCTL_REDIR_QUERY_PATH", FILE_DEVICE_NETWORK_FILE_SYSTEM, 99, METHOD_NEITHER, FILE_ANY_ACCESS],
  ["IOCTL_REDIR_QUERY_PATH_EX", FILE_DEVICE_NETWORK_FILE_SYSTEM, 100, METHOD_NEITHER, FILE_ANY_ACCESS],
  ["IOCTL_LMR_ARE_FILE_OBJECTS_ON_SAME_SERVER", FILE_DEVICE_NETWORK_FILE_SYSTEM, 60, METHOD_BUFFERED, FILE_ANY_ACCESS],
];

test("every FSCTL / IOCTL value equals its CTL_CODE, and every table entry is covered", (t) => {
  const table: Readonly<Record<string, number>> = { ...FSCTL, ...IOCTL };
  for (const [name, dev, func, method, access] of CONTROL_CODES) {
    t.is(table[name], CTL_CODE(dev, func, method, access), name);
  }
  t.deepEqual(new Set(CONTROL_CODES.map(([n]) => n)), new Set(Object.keys(table)));
});

test("well-known literal control codes", (t) => {
  t.is(FSCTL.FSCTL_LOCK_VOLUME, 0x00090018);
  t.is(FSCTL.FSCTL_UNLOCK_VOLUME, 0x0009001c);
  t.is(FSCTL.FSCTL_IS_VOLUME_MOUNTED, 0x00090028);
  t.is(FSCTL.FSCTL_GET_REPARSE_POINT, 0x000900a8);
  t.is(FSCTL.FSCTL_SET_REPARSE_POINT, 0x000900a4);
  t.is(FSCTL.FSCTL_PIPE_PEEK, 0x0011400c);
  t.is(FSCTL.FSCTL_PIPE_TRANSCEIVE, 0x0011c017);
  t.is(FSCTL.FSCTL_REQUEST_OPLOCK_LEVEL_1, 0x00090000);
  t.is(FSCTL.FSCTL_REQUEST_BATCH_OPLOCK, 0x00090008);
  t.is(FSCTL.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE, 0x0009000c);
});

test("CTL_CODE field extraction round-trips", (t) => {
  for (const [name, dev, func, method, access] of CONTROL_CODES) {
    const code = CTL_CODE(dev, func, method, access);
    t.is(DEVICE_TYPE_FROM_CTL_CODE(code), dev, name);
    t.is(FUNCTION_FROM_CTL_CODE(code), func, name);
    t.is(METHOD_FROM_CTL_CODE(code), method, name);
    t.is(ACCESS_FROM_CTL_CODE(code), access, name);
  }
  // Vendor device types (>= 0x8000) and function codes (>= 0x800) stay unsigned.
  const custom = CTL_CODE(0xfffe, 0xfff, METHOD_NEITHER, FILE_READ_ACCESS | FILE_WRITE_ACCESS);
  t.is(custom, 0xfffeffff);
  t.true(custom > 0);
  t.is(DEVICE_TYPE_FROM_CTL_CODE(custom), 0xfffe);
  t.is(FUNCTION_FROM_CTL_CODE(custom), 0xfff);
  t.is(ACCESS_FROM_CTL_CODE(custom), 3);
});

// ── Values that other modules rely on ──────────────────────────────────────────────────────────────────────────

test("device types and a few flags have their WDK values", (t) => {
  t.is(FILE_DEVICE_NETWORK_FILE_SYSTEM, 0x14);
  t.is(FILE_DEVICE_NETWORK_REDIRECTOR, 0x28);
  t.is(FILE_DEVICE_MULTI_UNC_PROVIDER, 0x10);
  t.is(FO_SYNCHRONOUS_IO, 0x2);
  t.is(FO_CLEANUP_COMPLETE, 0x4000);
  t.is(FILE_VALID_OPTION_FLAGS, 0x00ffffff);
  t.is(FILE_NOTIFY_VALID_MASK, 0xfff);
  t.is(FILE_INFORMATION_CLASS.FileNetworkOpenInformation, 34);
  t.is(FILE_INFORMATION_CLASS.FileIdBothDirectoryInformation, 37);
  t.is(FILE_INFORMATION_CLASS.FileDispositionInformationEx, 64);
  t.is(FILE_INFORMATION_CLASS.FileRenameInformationEx, 65);
  t.is(FS_INFORMATION_CLASS.FileFsSectorSizeInformation, 11);
});

test("file access composites have their real values", (t) => {
  t.is<number, number>(FILE_ALL_ACCESS, (ACCESS.STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1ff) >>> 0);
  t.is<number, number>(
    FILE_GENERIC_READ,
    READ_CONTROL | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE,
  );
  t.is<number, number>(
    FILE_GENERIC_WRITE,
    READ_CONTROL |
      FILE_WRITE_DATA |
      ACCESS.FILE_WRITE_ATTRIBUTES |
      ACCESS.FILE_WRITE_EA |
      ACCESS.FILE_APPEND_DATA |
      SYNCHRONIZE,
  );
  t.is<number, number>(FILE_GENERIC_EXECUTE, READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE);
  t.is(FILE_GENERIC_READ, 0x00120089);
  t.is(FILE_GENERIC_WRITE, 0x00120116);
  t.is(FILE_GENERIC_EXECUTE, 0x001200a0);
  t.is(FILE_ALL_ACCESS, 0x001f01ff);
  t.is(GENERIC_READ, 0x80000000);
});

test("mapGenericMask maps GENERIC_* through the file object type's mapping and clears them", (t) => {
  t.is(mapGenericMask(GENERIC_READ), FILE_GENERIC_READ);
  t.is(mapGenericMask(GENERIC_WRITE), FILE_GENERIC_WRITE);
  t.is(mapGenericMask(GENERIC_EXECUTE), FILE_GENERIC_EXECUTE);
  t.is(mapGenericMask(GENERIC_ALL), FILE_ALL_ACCESS);
  t.is(mapGenericMask((GENERIC_READ | GENERIC_WRITE) >>> 0), (FILE_GENERIC_READ | FILE_GENERIC_WRITE) >>> 0);
  t.is(mapGenericMask((GENERIC_READ | DELETE) >>> 0), (FILE_GENERIC_READ | DELETE) >>> 0);
  t.is(mapGenericMask(MAXIMUM_ALLOWED | FILE_READ_DATA), MAXIMUM_ALLOWED | FILE_READ_DATA);
  t.is(mapGenericMask(WRITE_DAC), WRITE_DAC);
  t.is(mapGenericMask(0), 0);
  // No GENERIC_* bit survives, for any input.
  for (const m of [0xffffffff, 0xf0000000, 0x12345678, 0x80000001]) {
    t.is(mapGenericMask(m) & 0xf0000000, 0);
  }
});

test("IRP_MJ_NAMES and the name helpers", (t) => {
  t.is(IRP_MJ_NAMES.length, IRP_MJ_MAXIMUM_FUNCTION + 1);
  for (const [i, name] of IRP_MJ_NAMES.entries()) {
    t.is<number, number>(IRP_MJ[name as keyof typeof IRP_MJ], i, name);
  }
  t.is(irpMajorName(IRP_MJ_PNP), "IRP_MJ_PNP");
  t.is(irpMajorName(0x2a), "IRP_MJ_0x2A");
  t.is(irpMinorName(IRP_MJ.IRP_MJ_DIRECTORY_CONTROL, 2), "IRP_MN_NOTIFY_CHANGE_DIRECTORY");
  t.is(irpMinorName(IRP_MJ.IRP_MJ_LOCK_CONTROL, 2), "IRP_MN_UNLOCK_SINGLE");
  t.is(irpMinorName(IRP_MJ.IRP_MJ_FILE_SYSTEM_CONTROL, 0), "IRP_MN_USER_FS_REQUEST");
  t.is(irpMinorName(IRP_MJ.IRP_MJ_CREATE, 0), "0x00");
});

// ── parseFlags / formatFlags ───────────────────────────────────────────────────────────────────────────────────

test("parseFlags accepts numbers, names, arrays and 'A | B' text", (t) => {
  t.deepEqual(parseFlags("share", 3), { value: 3 });
  t.deepEqual(parseFlags("access", -0x80000000), { value: 0x80000000 });
  t.deepEqual(parseFlags("share", "FILE_SHARE_READ"), { value: FILE_SHARE_READ });
  t.deepEqual(parseFlags("share", "FILE_SHARE_READ | FILE_SHARE_WRITE"), { value: FILE_SHARE_READ | FILE_SHARE_WRITE });
  t.deepEqual(parseFlags("share", "FILE_SHARE_READ|FILE_SHARE_DELETE"), { value: FILE_SHARE_READ | FILE_SHARE_DELETE });
  t.deepEqual(parseFlags("share", ["FILE_SHARE_READ", "FILE_SHARE_WRITE", "FILE_SHARE_DELETE"]), { value: 7 });
  t.deepEqual(parseFlags("share", []), { value: 0 });
  t.deepEqual(parseFlags("access", "GENERIC_READ | SYNCHRONIZE"), { value: (GENERIC_READ | SYNCHRONIZE) >>> 0 });
  t.deepEqual(parseFlags("access", "FILE_LIST_DIRECTORY"), { value: FILE_READ_DATA });
  t.deepEqual(parseFlags("createOptions", "FILE_DIRECTORY_FILE | 0x20"), {
    value: CREATE_OPTIONS.FILE_DIRECTORY_FILE | CREATE_OPTIONS.FILE_SYNCHRONOUS_IO_NONALERT,
  });
  t.deepEqual(parseFlags("notifyFilter", "FILE_NOTIFY_VALID_MASK"), { value: 0xfff });
  t.deepEqual(parseFlags("disposition", "FILE_OPEN_IF"), { value: DISPOSITION.FILE_OPEN_IF });
  t.deepEqual(parseFlags("disposition", 5), { value: 5 });
  t.deepEqual(parseFlags("fileInformationClass", "FileBothDirectoryInformation"), { value: 3 });
  t.deepEqual(parseFlags("fsInformationClass", "FileFsAttributeInformation"), { value: 5 });
  t.deepEqual(parseFlags("irpMajor", "IRP_MJ_CLEANUP"), { value: 0x12 });
  t.deepEqual(parseFlags("createResult", "FILE_OPENED"), { value: 1 });
});

test("parseFlags errors name the unknown symbol and suggest near ones", (t) => {
  const r = parseFlags("share", "FILE_SHARE_READ | FILE_SHARE_WRTIE");
  t.true("error" in r);
  if ("error" in r) {
    t.regex(r.error, /FILE_SHARE_WRTIE/);
    t.regex(r.error, /did you mean FILE_SHARE_WRITE/);
  }
  const lower = parseFlags("access", "file_read_data");
  t.true("error" in lower && lower.error.includes("FILE_READ_DATA"));
  const cls = parseFlags("fileInformationClass", "FileBasicInfo");
  t.true("error" in cls && cls.error.includes("FileBasicInformation"));
  t.true("error" in parseFlags("disposition", "FILE_OPEN | FILE_CREATE"), "enum groups take one name");
  t.true("error" in parseFlags("share", ""), "empty text");
  t.true("error" in parseFlags("share", "FILE_SHARE_READ |"), "dangling bar");
  t.true("error" in parseFlags("share", 1.5), "non-integer");
  t.true("error" in parseFlags("share", 0x1_0000_0000), "33 bits");
  t.true("error" in parseFlags("share", "0x100000000"), "33-bit literal");
  t.true("error" in parseFlags("disposition", []), "enum needs a value");
  t.deepEqual(suggestSymbols("share", "FILE_SHARE_DELTE", 1), ["FILE_SHARE_DELETE"]);
});

test("formatFlags prints names, composites first, unknown bits in hex", (t) => {
  t.is(formatFlags("share", FILE_SHARE_READ | FILE_SHARE_WRITE), "FILE_SHARE_READ | FILE_SHARE_WRITE");
  t.is(formatFlags("share", 0), "0");
  t.is(formatFlags("share", 0x9), "FILE_SHARE_READ | 0x00000008");
  t.is(formatFlags("access", FILE_GENERIC_READ), "FILE_GENERIC_READ");
  t.is(formatFlags("access", (FILE_GENERIC_READ | FILE_GENERIC_WRITE) >>> 0), "FILE_GENERIC_READ | FILE_GENERIC_WRITE");
  t.is(formatFlags("access", FILE_ALL_ACCESS), "FILE_ALL_ACCESS");
  t.is(formatFlags("access", (FILE_GENERIC_READ | DELETE) >>> 0), "FILE_GENERIC_READ | DELETE");
  t.is(formatFlags("access", FILE_READ_DATA | SYNCHRONIZE), "FILE_READ_DATA | SYNCHRONIZE");
  t.is(formatFlags("access", GENERIC_READ), "GENERIC_READ");
  t.is(formatFlags("access", READ_CONTROL), "READ_CONTROL");
  t.is(
    formatFlags(
      "notifyFilter",
      FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_DIR_NAME,
    ),
    "FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME",
  );
  t.is(formatFlags("disposition", 3), "FILE_OPEN_IF");
  t.is(formatFlags("fileInformationClass", 4), "FileBasicInformation");
  t.is(formatFlags("fileInformationClass", 999), "999");
  t.is(formatFlags("irpMajor", 0x1b), "IRP_MJ_PNP");
  t.is(formatFlags("createResult", 2), "FILE_CREATED");
});

test("formatFlags gives the same text again, for -1 and 0xffffffff alike, and after its memo has started again", (t) => {
  const first = formatFlags("access", (FILE_GENERIC_READ | DELETE) >>> 0);
  t.is(formatFlags("access", -1), formatFlags("access", 0xffffffff));
  // More distinct values than a group keeps (256): the memo starts again and the texts stay what they were.
  const texts = new Map<number, string>();
  for (let v = 0; v < 600; v++) texts.set(v, formatFlags("share", v));
  for (let v = 0; v < 600; v++) t.is(formatFlags("share", v), texts.get(v) ?? "(none)");
  t.is(formatFlags("share", 0x9), "FILE_SHARE_READ | 0x00000008");
  t.is(formatFlags("access", (FILE_GENERIC_READ | DELETE) >>> 0), first);
  t.is(first, "FILE_GENERIC_READ | DELETE");
});

test("formatFlags output parses back to the same value in every group", (t) => {
  const samples = [0, 1, 2, 3, 5, 0x7, 0x80, 0x1ff, 0x12019f, 0x80000000, 0xc0000000, 0x00ffffff, 0xffffffff];
  for (const group of Object.keys(SYMBOLS) as SymbolGroup[]) {
    const values = [...samples, ...Object.values(SYMBOLS[group] as Readonly<Record<string, number>>)];
    for (const v of values) {
      const text = formatFlags(group, v);
      t.deepEqual(parseFlags(group, text), { value: v >>> 0 }, `${group} ${v} → ${text}`);
    }
  }
});
