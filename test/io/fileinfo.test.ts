import { fc, testProp } from "@fast-check/ava";
import test from "ava";
import {
  FILE_INFORMATION_CLASS as FIC,
  FILE_ACTION,
  FILE_ATTRIBUTE_ARCHIVE,
  FILE_ATTRIBUTE_DIRECTORY,
  FILE_ATTRIBUTE_NORMAL,
  FILE_DEVICE_NETWORK_FILE_SYSTEM,
  FILE_REMOTE_DEVICE,
  FS_ATTRIBUTE,
  FS_INFORMATION_CLASS as FSIC,
} from "../../emulator/io/constants.js";
import {
  DIRECTORY_CLASSES,
  DIRECTORY_LAYOUTS,
  type DirEntry,
  type DirectoryInformationClass,
  decodeDirectoryEntries,
  decodeFileInformation,
  decodeFsInformation,
  decodeNotifyRecords,
  dirEntryForClass,
  directoryEntrySize,
  encodeDirectoryEntries,
  encodeFileInformation,
  encodeFsInformation,
  encodeNotifyRecords,
  FILE_INFORMATION_SIZES,
  type FileAllInformation,
  type FileBasicInformation,
  type FileInformationValueMap,
  FS_INFORMATION_SIZES,
  type FsInformationValueMap,
  isDecodeError,
  makeDirEntry,
  type NotifyRecord,
  notifyRecordsSize,
  readUtf16le,
  type SupportedFileInformationClass,
  type SupportedFsInformationClass,
  utf16leBytes,
  validateQueryDirectoryLength,
  validateQueryInformationLength,
  validateQueryVolumeLength,
  validateSetInformationLength,
} from "../../emulator/io/fileinfo.js";
import { STATUS } from "../../emulator/kernel/status.js";

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u32 = (b: Uint8Array, off: number) => view(b).getUint32(off, true);
const i64 = (b: Uint8Array, off: number) => Number(view(b).getBigInt64(off, true));

const BASIC: FileBasicInformation = {
  creationTime: 132_000_000_000_000_000,
  lastAccessTime: 132_000_000_000_000_000 + 16, // above 2^53: steps of 16
  lastWriteTime: -1,
  changeTime: 0,
  fileAttributes: FILE_ATTRIBUTE_ARCHIVE,
};

// ── Fixed layouts ──────────────────────────────────────────────────────────────────────────────────────────────

test("FILE_BASIC_INFORMATION is 40 bytes with FileAttributes at 32", (t) => {
  const buf = new Uint8Array(64).fill(0xaa);
  const r = encodeFileInformation(FIC.FileBasicInformation, BASIC, buf);
  t.deepEqual(r, { bytesWritten: 40, status: STATUS.STATUS_SUCCESS });
  t.is(i64(buf, 0), BASIC.creationTime);
  t.is(i64(buf, 16), -1);
  t.is(u32(buf, 32), FILE_ATTRIBUTE_ARCHIVE);
  t.is(u32(buf, 36), 0, "padding is zeroed");
  t.is(buf[40], 0xaa, "nothing past the structure");
  t.deepEqual(decodeFileInformation(FIC.FileBasicInformation, buf, 40), BASIC);
});

test("FILE_STANDARD_INFORMATION is 24 bytes with DeletePending at 20 and Directory at 21", (t) => {
  const buf = new Uint8Array(24);
  const value = { allocationSize: 8192, endOfFile: 5000, numberOfLinks: 2, deletePending: true, directory: false };
  t.is(encodeFileInformation(FIC.FileStandardInformation, value, buf).bytesWritten, 24);
  t.is(u32(buf, 16), 2);
  t.is(buf[20], 1);
  t.is(buf[21], 0);
  t.deepEqual(decodeFileInformation(FIC.FileStandardInformation, buf), value);
});

test("FILE_NETWORK_OPEN_INFORMATION is 56 bytes with FileAttributes at 48", (t) => {
  const buf = new Uint8Array(56);
  const value = {
    creationTime: 1,
    lastAccessTime: 2,
    lastWriteTime: 3,
    changeTime: 4,
    allocationSize: 4096,
    endOfFile: 100,
    fileAttributes: FILE_ATTRIBUTE_NORMAL,
  };
  t.is(encodeFileInformation(FIC.FileNetworkOpenInformation, value, buf).bytesWritten, 56);
  t.is(i64(buf, 32), 4096);
  t.is(i64(buf, 40), 100);
  t.is(u32(buf, 48), FILE_ATTRIBUTE_NORMAL);
  t.deepEqual(decodeFileInformation(FIC.FileNetworkOpenInformation, buf), value);
});

/** Round trip + exact size for every fixed-size class. */
const FIXED_CASES: readonly {
  [C in SupportedFileInformationClass]: readonly [C, FileInformationValueMap[C], number];
}[SupportedFileInformationClass][] = [
  [FIC.FileBasicInformation, BASIC, 40],
  [
    FIC.FileStandardInformation,
    { allocationSize: 0, endOfFile: 0, numberOfLinks: 1, deletePending: false, directory: true },
    24,
  ],
  [FIC.FileInternalInformation, { indexNumber: 0x0001_0000_0000_0042 }, 8],
  [FIC.FileEaInformation, { eaSize: 17 }, 4],
  [FIC.FileAccessInformation, { accessFlags: 0x0012019f }, 4],
  [FIC.FileDispositionInformation, { deleteFile: true }, 1],
  [FIC.FilePositionInformation, { currentByteOffset: 1 << 20 }, 8],
  [FIC.FileModeInformation, { mode: 0x20 }, 4],
  [FIC.FileAlignmentInformation, { alignmentRequirement: 0x1ff }, 4],
  [FIC.FileAllocationInformation, { allocationSize: 65536 }, 8],
  [FIC.FileEndOfFileInformation, { endOfFile: 12345 }, 8],
  [
    FIC.FileNetworkOpenInformation,
    {
      creationTime: 5,
      lastAccessTime: 6,
      lastWriteTime: 7,
      changeTime: 8,
      allocationSize: 9,
      endOfFile: 10,
      fileAttributes: 0x20,
    },
    56,
  ],
  [FIC.FileAttributeTagInformation, { fileAttributes: 0x400, reparseTag: 0xa000000c }, 8],
  [FIC.FileValidDataLengthInformation, { validDataLength: 777 }, 8],
  [FIC.FileDispositionInformationEx, { flags: 0x13 }, 4],
];

test("every fixed-size class round-trips at its exact size and refuses a smaller buffer", (t) => {
  for (const [cls, value, size] of FIXED_CASES) {
    const buf = new Uint8Array(size);
    const r = encodeFileInformation(cls, value as never, buf);
    t.deepEqual(r, { bytesWritten: size, status: STATUS.STATUS_SUCCESS }, `class ${cls}`);
    t.deepEqual(decodeFileInformation(cls, buf, size), value, `class ${cls}`);
    t.is(FILE_INFORMATION_SIZES[cls]?.size, size, `size table for class ${cls}`);
    const small = new Uint8Array(size - 1);
    t.deepEqual(encodeFileInformation(cls, value as never, small), {
      bytesWritten: 0,
      status: STATUS.STATUS_BUFFER_TOO_SMALL,
    });
    const d = decodeFileInformation(cls, buf, size - 1);
    t.true(isDecodeError(d) && d.status === STATUS.STATUS_INFO_LENGTH_MISMATCH, `short decode of class ${cls}`);
  }
});

// ── Variable-length layouts ────────────────────────────────────────────────────────────────────────────────────

test("FILE_NAME_INFORMATION: length at 0, name at 4; a truncated name gives BUFFER_OVERFLOW with the full length", (t) => {
  const name = "\\dir\\file.txt";
  const full = new Uint8Array(4 + name.length * 2);
  t.deepEqual(encodeFileInformation(FIC.FileNameInformation, { fileName: name }, full), {
    bytesWritten: 4 + name.length * 2,
    status: STATUS.STATUS_SUCCESS,
  });
  t.is(u32(full, 0), name.length * 2);
  t.is(readUtf16le(full, 4, name.length * 2), name);
  t.deepEqual(decodeFileInformation(FIC.FileNameInformation, full), { fileName: name });

  const part = new Uint8Array(10);
  const r = encodeFileInformation(FIC.FileNameInformation, { fileName: name }, part);
  t.deepEqual(r, { bytesWritten: 10, status: STATUS.STATUS_BUFFER_OVERFLOW });
  t.is(u32(part, 0), name.length * 2, "full length reported");
  t.deepEqual(decodeFileInformation(FIC.FileNameInformation, part, r.bytesWritten), { fileName: "\\di" });

  t.deepEqual(encodeFileInformation(FIC.FileNameInformation, { fileName: name }, new Uint8Array(3)), {
    bytesWritten: 0,
    status: STATUS.STATUS_BUFFER_TOO_SMALL,
  });
});

test("FILE_RENAME_INFORMATION x64 layout: ReplaceIfExists 0, RootDirectory 8, FileNameLength 16, FileName 20", (t) => {
  const value = { replaceIfExists: true, rootDirectory: 0x1234, fileName: "new.txt" };
  const buf = new Uint8Array(20 + 14).fill(0xcc);
  t.deepEqual(encodeFileInformation(FIC.FileRenameInformation, value, buf), {
    bytesWritten: 34,
    status: STATUS.STATUS_SUCCESS,
  });
  t.is(buf[0], 1);
  t.deepEqual([...buf.subarray(1, 8)], [0, 0, 0, 0, 0, 0, 0], "padding after the BOOLEAN");
  t.is(i64(buf, 8), 0x1234);
  t.is(u32(buf, 16), 14);
  t.is(readUtf16le(buf, 20, 14), "new.txt");
  t.deepEqual(decodeFileInformation(FIC.FileRenameInformation, buf), value);
  t.deepEqual(decodeFileInformation(FIC.FileLinkInformation, buf), value);

  const ex = { flags: 0x3, rootDirectory: 0, fileName: "x" };
  const exBuf = new Uint8Array(24);
  encodeFileInformation(FIC.FileRenameInformationEx, ex, exBuf);
  t.is(u32(exBuf, 0), 3);
  t.deepEqual(decodeFileInformation(FIC.FileRenameInformationEx, exBuf, 22), ex);
});

test("rename buffers with a bad FileNameLength are STATUS_INVALID_PARAMETER", (t) => {
  const buf = new Uint8Array(24);
  encodeFileInformation(FIC.FileRenameInformation, { replaceIfExists: false, rootDirectory: 0, fileName: "ab" }, buf);
  view(buf).setUint32(16, 3, true);
  const odd = decodeFileInformation(FIC.FileRenameInformation, buf);
  t.true(isDecodeError(odd) && odd.status === STATUS.STATUS_INVALID_PARAMETER);
  view(buf).setUint32(16, 100, true);
  const past = decodeFileInformation(FIC.FileRenameInformation, buf);
  t.true(isDecodeError(past) && past.status === STATUS.STATUS_INVALID_PARAMETER);
  const short = decodeFileInformation(FIC.FileRenameInformation, buf, 19);
  t.true(isDecodeError(short) && short.status === STATUS.STATUS_INFO_LENGTH_MISMATCH);
});

test("FILE_ALL_INFORMATION: pieces at their offsets, name length at 96 and name at 100", (t) => {
  const all: FileAllInformation = {
    basicInformation: BASIC,
    standardInformation: {
      allocationSize: 4096,
      endOfFile: 10,
      numberOfLinks: 1,
      deletePending: false,
      directory: false,
    },
    internalInformation: { indexNumber: 99 },
    eaInformation: { eaSize: 0 },
    accessInformation: { accessFlags: 0x120089 },
    positionInformation: { currentByteOffset: 5 },
    modeInformation: { mode: 0x20 },
    alignmentInformation: { alignmentRequirement: 1 },
    nameInformation: { fileName: "\\share\\a.txt" },
  };
  const buf = new Uint8Array(200);
  const r = encodeFileInformation(FIC.FileAllInformation, all, buf);
  t.deepEqual(r, { bytesWritten: 100 + 24, status: STATUS.STATUS_SUCCESS });
  t.is(u32(buf, 32), BASIC.fileAttributes);
  t.is(i64(buf, 40), 4096);
  t.is(i64(buf, 64), 99);
  t.is(u32(buf, 76), 0x120089);
  t.is(i64(buf, 80), 5);
  t.is(u32(buf, 88), 0x20);
  t.is(u32(buf, 92), 1);
  t.is(u32(buf, 96), 24);
  t.is(readUtf16le(buf, 100, 24), "\\share\\a.txt");
  t.deepEqual(decodeFileInformation(FIC.FileAllInformation, buf, r.bytesWritten), all);

  const part = encodeFileInformation(FIC.FileAllInformation, all, new Uint8Array(104));
  t.deepEqual(part, { bytesWritten: 104, status: STATUS.STATUS_BUFFER_OVERFLOW });
  t.is(encodeFileInformation(FIC.FileAllInformation, all, new Uint8Array(99)).status, STATUS.STATUS_BUFFER_TOO_SMALL);
});

test("the I/O manager length checks follow its tables", (t) => {
  t.is(validateQueryInformationLength(FIC.FileBasicInformation, 40), STATUS.STATUS_SUCCESS);
  t.is(validateQueryInformationLength(FIC.FileBasicInformation, 39), STATUS.STATUS_INFO_LENGTH_MISMATCH);
  t.is(validateQueryInformationLength(FIC.FileNameInformation, 7), STATUS.STATUS_INFO_LENGTH_MISMATCH);
  t.is(validateQueryInformationLength(FIC.FileNameInformation, 8), STATUS.STATUS_SUCCESS);
  t.is(validateQueryInformationLength(FIC.FileAllInformation, 103), STATUS.STATUS_INFO_LENGTH_MISMATCH);
  t.is(validateQueryInformationLength(FIC.FileRenameInformation, 100), STATUS.STATUS_INVALID_INFO_CLASS);
  t.is(validateQueryInformationLength(FIC.FileDirectoryInformation, 100), STATUS.STATUS_INVALID_INFO_CLASS);
  t.is(validateSetInformationLength(FIC.FileRenameInformation, 23), STATUS.STATUS_INFO_LENGTH_MISMATCH);
  t.is(validateSetInformationLength(FIC.FileRenameInformation, 24), STATUS.STATUS_SUCCESS);
  t.is(validateSetInformationLength(FIC.FileDispositionInformation, 1), STATUS.STATUS_SUCCESS);
  t.is(validateSetInformationLength(FIC.FileStandardInformation, 24), STATUS.STATUS_INVALID_INFO_CLASS);
  t.is(validateQueryDirectoryLength(FIC.FileBothDirectoryInformation, 95), STATUS.STATUS_INFO_LENGTH_MISMATCH);
  t.is(validateQueryDirectoryLength(FIC.FileBothDirectoryInformation, 96), STATUS.STATUS_SUCCESS);
  t.is(validateQueryDirectoryLength(FIC.FileBasicInformation, 96), STATUS.STATUS_INVALID_INFO_CLASS);
  t.is(validateQueryVolumeLength(FSIC.FileFsVolumeInformation, 23), STATUS.STATUS_INFO_LENGTH_MISMATCH);
  t.is(validateQueryVolumeLength(FSIC.FileFsLabelInformation, 100), STATUS.STATUS_INVALID_INFO_CLASS);
  for (const cls of DIRECTORY_CLASSES) {
    const s = FILE_INFORMATION_SIZES[cls];
    t.is(s?.fixed, DIRECTORY_LAYOUTS[cls].nameOffset, `fixed part of class ${cls}`);
    t.true((s?.size ?? 0) >= (s?.fixed ?? 0) + 2 && (s?.size ?? 0) % 4 === 0, `sizeof of class ${cls}`);
  }
});

// ── Directory entries ──────────────────────────────────────────────────────────────────────────────────────────

const ENTRIES: readonly DirEntry[] = [
  makeDirEntry({
    fileName: "alpha.txt",
    fileIndex: 7,
    creationTime: 11,
    lastAccessTime: 12,
    lastWriteTime: 13,
    changeTime: 14,
    endOfFile: 100,
    allocationSize: 4096,
    fileAttributes: FILE_ATTRIBUTE_ARCHIVE,
    eaSize: 3,
    shortName: "ALPHA~1.TXT",
    fileId: 0x10002,
  }),
  makeDirEntry({ fileName: "b", fileAttributes: FILE_ATTRIBUTE_DIRECTORY, shortName: "B", fileId: 5 }),
  makeDirEntry({ fileName: "a much longer directory entry name.docx", endOfFile: 1 }),
];

test("FILE_BOTH_DIR_INFORMATION: ShortNameLength at 68, ShortName at 70, FileName at 94, entries 8-aligned", (t) => {
  const cls = FIC.FileBothDirectoryInformation;
  const buf = new Uint8Array(512).fill(0xee);
  const r = encodeDirectoryEntries(cls, ENTRIES, buf, false);
  t.is(r.status, STATUS.STATUS_SUCCESS);
  t.is(r.entriesWritten, 3);
  t.false(r.partial);
  const first = ENTRIES[0] as DirEntry;
  t.is(u32(buf, 4), 7, "FileIndex");
  t.is(i64(buf, 8), 11, "CreationTime");
  t.is(i64(buf, 40), 100, "EndOfFile");
  t.is(i64(buf, 48), 4096, "AllocationSize");
  t.is(u32(buf, 56), FILE_ATTRIBUTE_ARCHIVE, "FileAttributes");
  t.is(u32(buf, 60), first.fileName.length * 2, "FileNameLength");
  t.is(u32(buf, 64), 3, "EaSize");
  t.is(buf[68], 22, "ShortNameLength in bytes");
  t.is(readUtf16le(buf, 70, 22), "ALPHA~1.TXT");
  t.is(readUtf16le(buf, 94, first.fileName.length * 2), "alpha.txt");
  const next1 = u32(buf, 0);
  t.is(next1, Math.ceil((94 + 18) / 8) * 8, "NextEntryOffset is the 8-aligned size");
  t.is(next1 % 8, 0);
  const next2 = u32(buf, next1);
  t.is(next2 % 8, 0);
  t.is(u32(buf, next1 + next2), 0, "last entry has NextEntryOffset 0");
  const lastSize = directoryEntrySize(cls, ENTRIES[2] as DirEntry);
  t.is(r.bytesWritten, next1 + next2 + lastSize, "no trailing padding counted");
  t.is(buf[r.bytesWritten], 0xee, "nothing written past bytesWritten");
  t.deepEqual(
    decodeDirectoryEntries(cls, buf, r.bytesWritten),
    ENTRIES.map((e) => dirEntryForClass(cls, e)),
  );
});

test("name offsets of the other directory classes", (t) => {
  const e = ENTRIES[0] as DirEntry;
  const cases: readonly [DirectoryInformationClass, number, number | undefined][] = [
    [FIC.FileDirectoryInformation, 64, undefined],
    [FIC.FileFullDirectoryInformation, 68, undefined],
    [FIC.FileNamesInformation, 12, undefined],
    [FIC.FileIdBothDirectoryInformation, 104, 96],
    [FIC.FileIdFullDirectoryInformation, 80, 72],
  ];
  for (const [cls, nameOffset, fileIdOffset] of cases) {
    const buf = new Uint8Array(256);
    const r = encodeDirectoryEntries(cls, [e], buf, false);
    t.is(r.bytesWritten, nameOffset + e.fileName.length * 2, `class ${cls}`);
    t.is(readUtf16le(buf, nameOffset, e.fileName.length * 2), e.fileName, `class ${cls}`);
    t.is(u32(buf, cls === FIC.FileNamesInformation ? 8 : 60), e.fileName.length * 2, `FileNameLength, class ${cls}`);
    if (fileIdOffset !== undefined) t.is(i64(buf, fileIdOffset), e.fileId, `FileId, class ${cls}`);
    t.deepEqual(decodeDirectoryEntries(cls, buf, r.bytesWritten), [dirEntryForClass(cls, e)]);
  }
});

test("directory buffer rules: single entry, subsequent entry that does not fit, first-entry overflow, no entries", (t) => {
  const cls = FIC.FileDirectoryInformation;
  const single = encodeDirectoryEntries(cls, ENTRIES, new Uint8Array(1024), true);
  t.is(single.entriesWritten, 1);
  t.is(single.status, STATUS.STATUS_SUCCESS);

  // Room for the first entry and most of the second, but not all of it: stop after the first.
  const firstSize = directoryEntrySize(cls, ENTRIES[0] as DirEntry);
  const secondStart = Math.ceil(firstSize / 8) * 8;
  const tight = new Uint8Array(secondStart + 64 + 1).fill(0x55);
  const r = encodeDirectoryEntries(cls, ENTRIES, tight, false);
  t.deepEqual(r, { bytesWritten: firstSize, entriesWritten: 1, partial: false, status: STATUS.STATUS_SUCCESS });
  t.is(u32(tight, 0), 0, "the only entry is the last one");
  t.true(
    tight.subarray(firstSize).every((b) => b === 0x55),
    "the rest of the buffer is untouched",
  );

  // The first entry's name does not fit: partial copy, full length recorded, BUFFER_OVERFLOW.
  const long = ENTRIES[2] as DirEntry;
  const part = new Uint8Array(64 + 11);
  const o = encodeDirectoryEntries(cls, [long], part, false);
  t.deepEqual(o, { bytesWritten: 75, entriesWritten: 0, partial: true, status: STATUS.STATUS_BUFFER_OVERFLOW });
  t.is(u32(part, 60), long.fileName.length * 2);
  const decoded = decodeDirectoryEntries(cls, part, o.bytesWritten);
  t.is(decoded.length, 1);
  t.is(decoded[0]?.fileName, long.fileName.slice(0, 5));

  t.deepEqual(encodeDirectoryEntries(cls, [], new Uint8Array(100), false), {
    bytesWritten: 0,
    entriesWritten: 0,
    partial: false,
    status: STATUS.STATUS_NO_MORE_FILES,
  });
  t.is(encodeDirectoryEntries(cls, ENTRIES, new Uint8Array(63), false).status, STATUS.STATUS_INFO_LENGTH_MISMATCH);
});

test("decodeDirectoryEntries stops on a NextEntryOffset that runs past the buffer", (t) => {
  const cls = FIC.FileNamesInformation;
  const buf = new Uint8Array(64);
  encodeDirectoryEntries(cls, [makeDirEntry({ fileName: "x" })], buf, false);
  view(buf).setUint32(0, 1000, true);
  t.is(decodeDirectoryEntries(cls, buf).length, 1);
});

// ── Change notification ────────────────────────────────────────────────────────────────────────────────────────

const RECORDS: readonly NotifyRecord[] = [
  { action: FILE_ACTION.FILE_ACTION_RENAMED_OLD_NAME, fileName: "old" },
  { action: FILE_ACTION.FILE_ACTION_RENAMED_NEW_NAME, fileName: "new name" },
  { action: FILE_ACTION.FILE_ACTION_ADDED, fileName: "sub\\file.txt" },
];

test("FILE_NOTIFY_INFORMATION chain: Action 4, FileNameLength 8, FileName 12, records on 4-byte boundaries", (t) => {
  const buf = new Uint8Array(256).fill(0x77);
  const r = encodeNotifyRecords(RECORDS, buf);
  t.true(r.complete);
  t.is(r.bytesWritten, notifyRecordsSize(RECORDS));
  t.is(u32(buf, 4), FILE_ACTION.FILE_ACTION_RENAMED_OLD_NAME);
  t.is(u32(buf, 8), 6);
  t.is(readUtf16le(buf, 12, 6), "old");
  t.is(u32(buf, 0), 20, "12 + 6 rounded up to 4");
  t.is(u32(buf, 20), 12 + 16);
  t.is(u32(buf, 48), 0, "last record");
  t.is(r.bytesWritten, 48 + 12 + 24);
  t.is(buf[r.bytesWritten], 0x77);
  t.deepEqual(decodeNotifyRecords(buf, r.bytesWritten), RECORDS);
});

test("notify records that do not all fit: nothing written, complete=false", (t) => {
  const need = notifyRecordsSize(RECORDS);
  const buf = new Uint8Array(need - 1).fill(0x33);
  t.deepEqual(encodeNotifyRecords(RECORDS, buf), { bytesWritten: 0, complete: false });
  t.true(buf.every((b) => b === 0x33));
  t.deepEqual(encodeNotifyRecords(RECORDS, new Uint8Array(need)), { bytesWritten: need, complete: true });
  t.deepEqual(encodeNotifyRecords([], new Uint8Array(0)), { bytesWritten: 0, complete: true });
});

// ── Volume information ─────────────────────────────────────────────────────────────────────────────────────────

test("FS information layouts round-trip at their sizes", (t) => {
  const cases: readonly {
    [C in SupportedFsInformationClass]: readonly [C, FsInformationValueMap[C], number];
  }[SupportedFsInformationClass][] = [
    [
      FSIC.FileFsVolumeInformation,
      { volumeCreationTime: 9, volumeSerialNumber: 0xdeadbeef, supportsObjects: true, volumeLabel: "DATA" },
      26,
    ],
    [FSIC.FileFsLabelInformation, { volumeLabel: "NEW" }, 10],
    [
      FSIC.FileFsSizeInformation,
      { totalAllocationUnits: 1e9, availableAllocationUnits: 5e8, sectorsPerAllocationUnit: 8, bytesPerSector: 512 },
      24,
    ],
    [
      FSIC.FileFsDeviceInformation,
      { deviceType: FILE_DEVICE_NETWORK_FILE_SYSTEM, characteristics: FILE_REMOTE_DEVICE },
      8,
    ],
    [
      FSIC.FileFsAttributeInformation,
      {
        fileSystemAttributes: FS_ATTRIBUTE.FILE_CASE_PRESERVED_NAMES | FS_ATTRIBUTE.FILE_UNICODE_ON_DISK,
        maximumComponentNameLength: 255,
        fileSystemName: "NTFS",
      },
      20,
    ],
    [
      FSIC.FileFsFullSizeInformation,
      {
        totalAllocationUnits: 10,
        callerAvailableAllocationUnits: 5,
        actualAvailableAllocationUnits: 6,
        sectorsPerAllocationUnit: 8,
        bytesPerSector: 4096,
      },
      32,
    ],
    [
      FSIC.FileFsSectorSizeInformation,
      {
        logicalBytesPerSector: 512,
        physicalBytesPerSectorForAtomicity: 4096,
        physicalBytesPerSectorForPerformance: 4096,
        fileSystemEffectivePhysicalBytesPerSectorForAtomicity: 4096,
        flags: 3,
        byteOffsetForSectorAlignment: 0,
        byteOffsetForPartitionAlignment: 0,
      },
      28,
    ],
  ];
  for (const [cls, value, size] of cases) {
    const buf = new Uint8Array(size);
    t.deepEqual(
      encodeFsInformation(cls, value as never, buf),
      { bytesWritten: size, status: STATUS.STATUS_SUCCESS },
      `class ${cls}`,
    );
    t.deepEqual(decodeFsInformation(cls, buf), value, `class ${cls}`);
    t.is(
      encodeFsInformation(cls, value as never, new Uint8Array((FS_INFORMATION_SIZES[cls]?.fixed ?? 1) - 1)).status,
      STATUS.STATUS_BUFFER_TOO_SMALL,
    );
  }
});

test("FILE_FS_VOLUME_INFORMATION: label length at 12, SupportsObjects at 16, label at 18, partial label overflows", (t) => {
  const value = { volumeCreationTime: 1, volumeSerialNumber: 2, supportsObjects: false, volumeLabel: "LONGLABEL" };
  const buf = new Uint8Array(24);
  const r = encodeFsInformation(FSIC.FileFsVolumeInformation, value, buf);
  t.deepEqual(r, { bytesWritten: 24, status: STATUS.STATUS_BUFFER_OVERFLOW });
  t.is(u32(buf, 12), 18);
  t.is(buf[16], 0);
  t.is(readUtf16le(buf, 18, 6), "LON");
  const attr = new Uint8Array(12 + 8);
  encodeFsInformation(
    FSIC.FileFsAttributeInformation,
    { fileSystemAttributes: 3, maximumComponentNameLength: 255, fileSystemName: "SMB2" },
    attr,
  );
  t.is(u32(attr, 8), 8);
  t.is(readUtf16le(attr, 12, 8), "SMB2");
});

test("UTF-16 helpers keep lone surrogates and odd code units", (t) => {
  const s = "a\ud800b\udfff\u00e9\u{1f600}";
  t.is(readUtf16le(utf16leBytes(s), 0, s.length * 2), s);
});

// ── Properties ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Any integral double a LARGE_INTEGER can hold: exact small values and real FILETIMEs (~1.3e17, above 2^53). */
const int64 = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc
    .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    .map((b) => Number(b))
    .filter((n) => n >= -(2 ** 63) && n < 2 ** 63),
);
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const utf16Unit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

const dirEntryArb: fc.Arbitrary<DirEntry> = fc.record({
  fileName: fc.string({ unit: utf16Unit, minLength: 0, maxLength: 40 }),
  fileIndex: uint32,
  creationTime: int64,
  lastAccessTime: int64,
  lastWriteTime: int64,
  changeTime: int64,
  endOfFile: int64,
  allocationSize: int64,
  fileAttributes: uint32,
  eaSize: uint32,
  shortName: fc.string({ unit: utf16Unit, maxLength: 12 }),
  fileId: int64,
});

const classArb = fc.constantFrom(...DIRECTORY_CLASSES);

function totalSize(cls: DirectoryInformationClass, entries: readonly DirEntry[]): number {
  let end = 0;
  for (const [i, e] of entries.entries()) end = (i === 0 ? 0 : Math.ceil(end / 8) * 8) + directoryEntrySize(cls, e);
  return end;
}

testProp(
  "directory entries round-trip through encode/decode when the buffer is large enough",
  [classArb, fc.array(dirEntryArb, { minLength: 1, maxLength: 8 }), fc.nat({ max: 32 })],
  (t, cls, entries, slack) => {
    const buf = new Uint8Array(totalSize(cls, entries) + slack);
    const r = encodeDirectoryEntries(cls, entries, buf, false);
    t.is(r.status, STATUS.STATUS_SUCCESS);
    t.is(r.entriesWritten, entries.length);
    t.is(r.bytesWritten, totalSize(cls, entries));
    t.deepEqual(
      decodeDirectoryEntries(cls, buf, r.bytesWritten),
      entries.map((e) => dirEntryForClass(cls, e)),
    );
  },
);

testProp(
  "a truncated directory buffer never yields more than the status says",
  [classArb, fc.array(dirEntryArb, { minLength: 1, maxLength: 6 }), fc.nat({ max: 600 }), fc.boolean()],
  (t, cls, entries, extra, single) => {
    const fixed = DIRECTORY_LAYOUTS[cls].nameOffset;
    const length = Math.min(fixed + extra, totalSize(cls, entries));
    const backing = new Uint8Array(length + 16).fill(0xa5);
    const r = encodeDirectoryEntries(cls, entries, backing.subarray(0, length), single);
    t.true(r.bytesWritten <= length);
    t.true(
      backing.subarray(length).every((b) => b === 0xa5),
      "nothing written past Length",
    );
    t.true(
      backing.subarray(r.bytesWritten, length).every((b) => b === 0xa5),
      "nothing written past bytesWritten",
    );
    const decoded = decodeDirectoryEntries(cls, backing, r.bytesWritten);
    const expected = entries.map((e) => dirEntryForClass(cls, e));
    if (r.status === STATUS.STATUS_SUCCESS) {
      t.false(r.partial);
      t.true(r.entriesWritten >= 1);
      if (single) t.is(r.entriesWritten, 1);
      t.deepEqual(decoded, expected.slice(0, r.entriesWritten));
      const next = entries[r.entriesWritten];
      if (!single && next !== undefined) {
        t.true(
          Math.ceil(r.bytesWritten / 8) * 8 + directoryEntrySize(cls, next) > length,
          "the next entry did not fit",
        );
      }
    } else {
      t.is(r.status, STATUS.STATUS_BUFFER_OVERFLOW);
      t.true(r.partial);
      t.is(r.entriesWritten, 0);
      const first = expected[0] as DirEntry;
      t.true(directoryEntrySize(cls, first) > length);
      t.is(decoded.length, 1);
      const got = decoded[0] as DirEntry;
      t.deepEqual({ ...got, fileName: "" }, { ...first, fileName: "" });
      t.true(first.fileName.startsWith(got.fileName));
      t.is(got.fileName.length, Math.floor((r.bytesWritten - fixed) / 2));
    }
  },
);

testProp(
  "notify records round-trip or report incompleteness",
  [
    fc.array(
      fc.record({ action: fc.integer({ min: 1, max: 11 }), fileName: fc.string({ unit: utf16Unit, maxLength: 30 }) }),
      {
        maxLength: 8,
      },
    ),
    fc.nat({ max: 400 }),
  ],
  (t, records, length) => {
    const buf = new Uint8Array(length);
    const r = encodeNotifyRecords(records, buf);
    if (notifyRecordsSize(records) <= length) {
      t.true(r.complete);
      t.deepEqual(decodeNotifyRecords(buf, r.bytesWritten), records.length === 0 ? [] : records);
    } else {
      t.deepEqual(r, { bytesWritten: 0, complete: false });
    }
  },
);

testProp("FILE_BASIC_INFORMATION round-trips", [int64, int64, int64, int64, uint32], (t, c, a, w, ch, attrs) => {
  const value = { creationTime: c, lastAccessTime: a, lastWriteTime: w, changeTime: ch, fileAttributes: attrs };
  const buf = new Uint8Array(40);
  encodeFileInformation(FIC.FileBasicInformation, value, buf);
  t.deepEqual(decodeFileInformation(FIC.FileBasicInformation, buf), value);
});
