/**
 * Binary encoders and decoders for the FILE_*_INFORMATION, FILE_FS_*_INFORMATION, directory-entry and
 * FILE_NOTIFY_INFORMATION layouts, byte for byte as a 64-bit Windows lays them out.
 *
 * Conventions:
 * - little-endian; names are UTF-16LE code units (a JS string is written unit by unit, so lone surrogates survive);
 * - LARGE_INTEGER fields (times in 100 ns units, sizes, file ids) are JS numbers. Every integral double in the
 *   int64 range round-trips exactly, but a current FILETIME (~1.3e17) is above 2^53, so only multiples of 16
 *   (1.6 µs) are representable there: times coarser than that are exact, finer ones are rounded by the caller's
 *   arithmetic, never by these codecs;
 * - BOOLEAN fields are JS booleans (any non-zero byte decodes as true);
 * - HANDLE fields (RootDirectory) are 8 bytes on x64 and are carried as numbers.
 *
 * Buffer problems are reported as NTSTATUS values, never thrown. Who returns which status:
 * - the I/O manager rejects a Length below the structure's `sizeof` with STATUS_INFO_LENGTH_MISMATCH and a class
 *   not valid for the request with STATUS_INVALID_INFO_CLASS before any driver runs (`validate*Length` below,
 *   from the tables the I/O manager keeps — IopQueryOperationLength and friends);
 * - a file system that gets a buffer too small for the fixed part returns STATUS_BUFFER_TOO_SMALL and copies
 *   nothing; one that can fit the fixed part but not the whole variable-length name copies as much of the name as
 *   fits, stores the full name length in the length field, and returns STATUS_BUFFER_OVERFLOW (a warning: the
 *   partial data and Information are still returned). RDBSS treats STATUS_BUFFER_OVERFLOW the same way.
 *
 * Directory queries follow the FastFAT / NTFS / CDFS rules: entries start on 8-byte boundaries; a subsequent entry
 * that does not fit entirely is not copied at all (STATUS_SUCCESS, the cursor stays on it); a first entry whose
 * name does not fit is copied partially with STATUS_BUFFER_OVERFLOW. Change-notify records start on 4-byte
 * boundaries (the FsRtl notify package uses ULONG alignment), and when the records do not all fit nothing is
 * returned: the caller completes the IRP with STATUS_NOTIFY_ENUM_DIR and Information 0.
 */

import { type NTSTATUS, STATUS } from "../kernel/status.js";
import { FILE_INFORMATION_CLASS as FIC, FS_INFORMATION_CLASS as FSIC } from "./constants.js";

// ── Low-level helpers ────────────────────────────────────────────────────────────────────────────────────────

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function setU32(v: DataView, off: number, n: number): void {
  v.setUint32(off, n >>> 0, true);
}

function getU32(v: DataView, off: number): number {
  return v.getUint32(off, true);
}

function setI64(v: DataView, off: number, n: number): void {
  v.setBigInt64(off, BigInt(Math.trunc(n)), true);
}

function getI64(v: DataView, off: number): number {
  return Number(v.getBigInt64(off, true));
}

/** UTF-16LE bytes of a string, one code unit at a time. */
export function utf16leBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >>> 8;
  }
  return out;
}

/** Decode `byteLength` bytes of UTF-16LE at `offset` (a trailing odd byte is ignored). */
export function readUtf16le(bytes: Uint8Array, offset: number, byteLength: number): string {
  const units = Math.floor(Math.max(0, byteLength) / 2);
  const codes: number[] = new Array<number>(units);
  for (let i = 0; i < units; i++) {
    codes[i] = (bytes[offset + 2 * i] as number) | ((bytes[offset + 2 * i + 1] as number) << 8);
  }
  let s = "";
  for (let i = 0; i < codes.length; i += 4096) s += String.fromCharCode(...codes.slice(i, i + 4096));
  return s;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Copy as much of `name` as fits in [offset, limit); returns the number of bytes copied. */
function copyName(bytes: Uint8Array, offset: number, limit: number, name: Uint8Array): number {
  const n = Math.max(0, Math.min(name.length, limit - offset));
  bytes.set(name.subarray(0, n), offset);
  return n;
}

export interface EncodeResult {
  /** Bytes of the buffer that carry data: what IO_STATUS_BLOCK.Information reports. */
  readonly bytesWritten: number;
  readonly status: NTSTATUS;
}

/** What a decoder returns instead of a value. */
export interface DecodeError {
  readonly error: string;
  readonly status: NTSTATUS;
}

export function isDecodeError(x: unknown): x is DecodeError {
  return typeof x === "object" && x !== null && "error" in x && "status" in x;
}

function tooSmall(): EncodeResult {
  return { bytesWritten: 0, status: STATUS.STATUS_BUFFER_TOO_SMALL };
}

function lengthMismatch(what: string, length: number, need: number): DecodeError {
  return { error: `${what}: ${length} bytes, need at least ${need}`, status: STATUS.STATUS_INFO_LENGTH_MISMATCH };
}

// ── Decoded value shapes ─────────────────────────────────────────────────────────────────────────────────────

/** FILE_BASIC_INFORMATION (40 bytes). On set, a time of 0 means "leave unchanged" and -1 "stop updating". */
export interface FileBasicInformation {
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
  fileAttributes: number;
}

/** FILE_STANDARD_INFORMATION (24 bytes). */
export interface FileStandardInformation {
  allocationSize: number;
  endOfFile: number;
  numberOfLinks: number;
  deletePending: boolean;
  directory: boolean;
}

/** FILE_INTERNAL_INFORMATION (8 bytes). */
export interface FileInternalInformation {
  indexNumber: number;
}

/** FILE_EA_INFORMATION (4 bytes). */
export interface FileEaInformation {
  eaSize: number;
}

/** FILE_ACCESS_INFORMATION (4 bytes). */
export interface FileAccessInformation {
  accessFlags: number;
}

/** FILE_POSITION_INFORMATION (8 bytes). */
export interface FilePositionInformation {
  currentByteOffset: number;
}

/** FILE_MODE_INFORMATION (4 bytes): FILE_WRITE_THROUGH | FILE_SEQUENTIAL_ONLY | FILE_NO_INTERMEDIATE_BUFFERING | … */
export interface FileModeInformation {
  mode: number;
}

/** FILE_ALIGNMENT_INFORMATION (4 bytes). */
export interface FileAlignmentInformation {
  alignmentRequirement: number;
}

/** FILE_NAME_INFORMATION (4 + name): FileNameInformation, FileAlternateNameInformation, FileNormalizedName…. */
export interface FileNameInformation {
  fileName: string;
}

/** FILE_END_OF_FILE_INFORMATION (8 bytes). */
export interface FileEndOfFileInformation {
  endOfFile: number;
}

/** FILE_ALLOCATION_INFORMATION (8 bytes). */
export interface FileAllocationInformation {
  allocationSize: number;
}

/** FILE_VALID_DATA_LENGTH_INFORMATION (8 bytes). */
export interface FileValidDataLengthInformation {
  validDataLength: number;
}

/** FILE_DISPOSITION_INFORMATION (1 byte). */
export interface FileDispositionInformation {
  deleteFile: boolean;
}

/** FILE_DISPOSITION_INFORMATION_EX (4 bytes): FILE_DISPOSITION_* flags. */
export interface FileDispositionInformationEx {
  flags: number;
}

/**
 * FILE_RENAME_INFORMATION / FILE_LINK_INFORMATION (x64): ReplaceIfExists at 0 (BOOLEAN, 7 bytes of padding),
 * RootDirectory at 8, FileNameLength at 16, FileName at 20; sizeof 24.
 */
export interface FileRenameInformation {
  replaceIfExists: boolean;
  rootDirectory: number;
  fileName: string;
}

/** FILE_RENAME_INFORMATION_EX / FILE_LINK_INFORMATION_EX: as above with a ULONG Flags at 0 (FILE_RENAME_*). */
export interface FileRenameInformationEx {
  flags: number;
  rootDirectory: number;
  fileName: string;
}

/** FILE_NETWORK_OPEN_INFORMATION (56 bytes). */
export interface FileNetworkOpenInformation {
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
  allocationSize: number;
  endOfFile: number;
  fileAttributes: number;
}

/** FILE_ATTRIBUTE_TAG_INFORMATION (8 bytes). */
export interface FileAttributeTagInformation {
  fileAttributes: number;
  reparseTag: number;
}

/** FILE_ALL_INFORMATION: the eight fixed structures (96 bytes) followed by a FILE_NAME_INFORMATION at 96. */
export interface FileAllInformation {
  basicInformation: FileBasicInformation;
  standardInformation: FileStandardInformation;
  internalInformation: FileInternalInformation;
  eaInformation: FileEaInformation;
  accessInformation: FileAccessInformation;
  positionInformation: FilePositionInformation;
  modeInformation: FileModeInformation;
  alignmentInformation: FileAlignmentInformation;
  nameInformation: FileNameInformation;
}

/** The value type for each FILE_INFORMATION_CLASS this module encodes (directory classes are separate). */
export interface FileInformationValueMap {
  [FIC.FileBasicInformation]: FileBasicInformation;
  [FIC.FileStandardInformation]: FileStandardInformation;
  [FIC.FileInternalInformation]: FileInternalInformation;
  [FIC.FileEaInformation]: FileEaInformation;
  [FIC.FileAccessInformation]: FileAccessInformation;
  [FIC.FileNameInformation]: FileNameInformation;
  [FIC.FileRenameInformation]: FileRenameInformation;
  [FIC.FileLinkInformation]: FileRenameInformation;
  [FIC.FileDispositionInformation]: FileDispositionInformation;
  [FIC.FilePositionInformation]: FilePositionInformation;
  [FIC.FileModeInformation]: FileModeInformation;
  [FIC.FileAlignmentInformation]: FileAlignmentInformation;
  [FIC.FileAllInformation]: FileAllInformation;
  [FIC.FileAllocationInformation]: FileAllocationInformation;
  [FIC.FileEndOfFileInformation]: FileEndOfFileInformation;
  [FIC.FileAlternateNameInformation]: FileNameInformation;
  [FIC.FileNetworkOpenInformation]: FileNetworkOpenInformation;
  [FIC.FileAttributeTagInformation]: FileAttributeTagInformation;
  [FIC.FileValidDataLengthInformation]: FileValidDataLengthInformation;
  [FIC.FileShortNameInformation]: FileNameInformation;
  [FIC.FileNormalizedNameInformation]: FileNameInformation;
  [FIC.FileDispositionInformationEx]: FileDispositionInformationEx;
  [FIC.FileRenameInformationEx]: FileRenameInformationEx;
  [FIC.FileLinkInformationEx]: FileRenameInformationEx;
}

export type SupportedFileInformationClass = keyof FileInformationValueMap;

// ── Per-class codecs ─────────────────────────────────────────────────────────────────────────────────────────

interface Codec<T> {
  /** Bytes before the variable-length part (the whole structure for fixed ones). */
  readonly fixed: number;
  encode(bytes: Uint8Array, value: T): EncodeResult;
  decode(bytes: Uint8Array, length: number): T | DecodeError;
}

function fixedCodec<T>(
  what: string,
  size: number,
  write: (v: DataView, value: T) => void,
  read: (v: DataView) => T,
): Codec<T> {
  return {
    fixed: size,
    encode(bytes, value) {
      if (bytes.byteLength < size) return tooSmall();
      bytes.fill(0, 0, size);
      write(viewOf(bytes), value);
      return { bytesWritten: size, status: STATUS.STATUS_SUCCESS };
    },
    decode(bytes, length) {
      if (length < size) return lengthMismatch(what, length, size);
      return read(viewOf(bytes));
    },
  };
}

/**
 * A structure of `fixed` bytes whose last ULONG (at `lengthOffset`) is the byte length of the WCHAR name
 * that follows at `fixed`. Query side: partial names give STATUS_BUFFER_OVERFLOW with the full length stored.
 */
function namedCodec<T>(
  what: string,
  fixed: number,
  lengthOffset: number,
  nameOf: (value: T) => string,
  write: (v: DataView, value: T) => void,
  read: (v: DataView, name: string) => T,
  strictName: boolean,
): Codec<T> {
  return {
    fixed,
    encode(bytes, value) {
      if (bytes.byteLength < fixed) return tooSmall();
      const name = utf16leBytes(nameOf(value));
      bytes.fill(0, 0, fixed);
      const v = viewOf(bytes);
      write(v, value);
      setU32(v, lengthOffset, name.length);
      const copied = copyName(bytes, fixed, bytes.byteLength, name);
      return {
        bytesWritten: fixed + copied,
        status: copied < name.length ? STATUS.STATUS_BUFFER_OVERFLOW : STATUS.STATUS_SUCCESS,
      };
    },
    decode(bytes, length) {
      if (length < fixed) return lengthMismatch(what, length, fixed);
      const v = viewOf(bytes);
      const nameLength = getU32(v, lengthOffset);
      if (strictName) {
        // NtSetInformationFile's checks for rename / link targets.
        if (nameLength % 2 !== 0) {
          return { error: `${what}: odd FileNameLength ${nameLength}`, status: STATUS.STATUS_INVALID_PARAMETER };
        }
        if (nameLength > length - fixed) {
          return {
            error: `${what}: FileNameLength ${nameLength} runs past the ${length}-byte buffer`,
            status: STATUS.STATUS_INVALID_PARAMETER,
          };
        }
      }
      // Query results may carry a partial name (STATUS_BUFFER_OVERFLOW): read what is there.
      return read(v, readUtf16le(bytes, fixed, Math.min(nameLength, length - fixed)));
    },
  };
}

const basicCodec = fixedCodec<FileBasicInformation>(
  "FILE_BASIC_INFORMATION",
  40,
  (v, x) => {
    setI64(v, 0, x.creationTime);
    setI64(v, 8, x.lastAccessTime);
    setI64(v, 16, x.lastWriteTime);
    setI64(v, 24, x.changeTime);
    setU32(v, 32, x.fileAttributes);
  },
  (v) => ({
    creationTime: getI64(v, 0),
    lastAccessTime: getI64(v, 8),
    lastWriteTime: getI64(v, 16),
    changeTime: getI64(v, 24),
    fileAttributes: getU32(v, 32),
  }),
);

const standardCodec = fixedCodec<FileStandardInformation>(
  "FILE_STANDARD_INFORMATION",
  24,
  (v, x) => {
    setI64(v, 0, x.allocationSize);
    setI64(v, 8, x.endOfFile);
    setU32(v, 16, x.numberOfLinks);
    v.setUint8(20, x.deletePending ? 1 : 0);
    v.setUint8(21, x.directory ? 1 : 0);
  },
  (v) => ({
    allocationSize: getI64(v, 0),
    endOfFile: getI64(v, 8),
    numberOfLinks: getU32(v, 16),
    deletePending: v.getUint8(20) !== 0,
    directory: v.getUint8(21) !== 0,
  }),
);

const internalCodec = fixedCodec<FileInternalInformation>(
  "FILE_INTERNAL_INFORMATION",
  8,
  (v, x) => setI64(v, 0, x.indexNumber),
  (v) => ({ indexNumber: getI64(v, 0) }),
);

const eaCodec = fixedCodec<FileEaInformation>(
  "FILE_EA_INFORMATION",
  4,
  (v, x) => setU32(v, 0, x.eaSize),
  (v) => ({ eaSize: getU32(v, 0) }),
);

const accessCodec = fixedCodec<FileAccessInformation>(
  "FILE_ACCESS_INFORMATION",
  4,
  (v, x) => setU32(v, 0, x.accessFlags),
  (v) => ({ accessFlags: getU32(v, 0) }),
);

const positionCodec = fixedCodec<FilePositionInformation>(
  "FILE_POSITION_INFORMATION",
  8,
  (v, x) => setI64(v, 0, x.currentByteOffset),
  (v) => ({ currentByteOffset: getI64(v, 0) }),
);

const modeCodec = fixedCodec<FileModeInformation>(
  "FILE_MODE_INFORMATION",
  4,
  (v, x) => setU32(v, 0, x.mode),
  (v) => ({ mode: getU32(v, 0) }),
);

const alignmentCodec = fixedCodec<FileAlignmentInformation>(
  "FILE_ALIGNMENT_INFORMATION",
  4,
  (v, x) => setU32(v, 0, x.alignmentRequirement),
  (v) => ({ alignmentRequirement: getU32(v, 0) }),
);

const endOfFileCodec = fixedCodec<FileEndOfFileInformation>(
  "FILE_END_OF_FILE_INFORMATION",
  8,
  (v, x) => setI64(v, 0, x.endOfFile),
  (v) => ({ endOfFile: getI64(v, 0) }),
);

const allocationCodec = fixedCodec<FileAllocationInformation>(
  "FILE_ALLOCATION_INFORMATION",
  8,
  (v, x) => setI64(v, 0, x.allocationSize),
  (v) => ({ allocationSize: getI64(v, 0) }),
);

const validDataLengthCodec = fixedCodec<FileValidDataLengthInformation>(
  "FILE_VALID_DATA_LENGTH_INFORMATION",
  8,
  (v, x) => setI64(v, 0, x.validDataLength),
  (v) => ({ validDataLength: getI64(v, 0) }),
);

const dispositionCodec = fixedCodec<FileDispositionInformation>(
  "FILE_DISPOSITION_INFORMATION",
  1,
  (v, x) => v.setUint8(0, x.deleteFile ? 1 : 0),
  (v) => ({ deleteFile: v.getUint8(0) !== 0 }),
);

const dispositionExCodec = fixedCodec<FileDispositionInformationEx>(
  "FILE_DISPOSITION_INFORMATION_EX",
  4,
  (v, x) => setU32(v, 0, x.flags),
  (v) => ({ flags: getU32(v, 0) }),
);

const networkOpenCodec = fixedCodec<FileNetworkOpenInformation>(
  "FILE_NETWORK_OPEN_INFORMATION",
  56,
  (v, x) => {
    setI64(v, 0, x.creationTime);
    setI64(v, 8, x.lastAccessTime);
    setI64(v, 16, x.lastWriteTime);
    setI64(v, 24, x.changeTime);
    setI64(v, 32, x.allocationSize);
    setI64(v, 40, x.endOfFile);
    setU32(v, 48, x.fileAttributes);
  },
  (v) => ({
    creationTime: getI64(v, 0),
    lastAccessTime: getI64(v, 8),
    lastWriteTime: getI64(v, 16),
    changeTime: getI64(v, 24),
    allocationSize: getI64(v, 32),
    endOfFile: getI64(v, 40),
    fileAttributes: getU32(v, 48),
  }),
);

const attributeTagCodec = fixedCodec<FileAttributeTagInformation>(
  "FILE_ATTRIBUTE_TAG_INFORMATION",
  8,
  (v, x) => {
    setU32(v, 0, x.fileAttributes);
    setU32(v, 4, x.reparseTag);
  },
  (v) => ({ fileAttributes: getU32(v, 0), reparseTag: getU32(v, 4) }),
);

function nameInfoCodec(what: string): Codec<FileNameInformation> {
  return namedCodec<FileNameInformation>(
    what,
    4,
    0,
    (x) => x.fileName,
    () => {},
    (_v, fileName) => ({ fileName }),
    false,
  );
}

const nameCodec = nameInfoCodec("FILE_NAME_INFORMATION");

function renameCodecOf(what: string): Codec<FileRenameInformation> {
  return namedCodec<FileRenameInformation>(
    what,
    20,
    16,
    (x) => x.fileName,
    (v, x) => {
      v.setUint8(0, x.replaceIfExists ? 1 : 0);
      setI64(v, 8, x.rootDirectory);
    },
    (v, fileName) => ({ replaceIfExists: v.getUint8(0) !== 0, rootDirectory: getI64(v, 8), fileName }),
    true,
  );
}

function renameExCodecOf(what: string): Codec<FileRenameInformationEx> {
  return namedCodec<FileRenameInformationEx>(
    what,
    20,
    16,
    (x) => x.fileName,
    (v, x) => {
      setU32(v, 0, x.flags);
      setI64(v, 8, x.rootDirectory);
    },
    (v, fileName) => ({ flags: getU32(v, 0), rootDirectory: getI64(v, 8), fileName }),
    true,
  );
}

/** Offsets of the pieces of FILE_ALL_INFORMATION. */
const ALL_OFFSETS = {
  basic: 0,
  standard: 40,
  internal: 64,
  ea: 72,
  access: 76,
  position: 80,
  mode: 88,
  alignment: 92,
  name: 96,
} as const;

const allCodec: Codec<FileAllInformation> = {
  fixed: 100,
  encode(bytes, x) {
    if (bytes.byteLength < 100) return tooSmall();
    const put = <T>(off: number, codec: Codec<T>, value: T): void => {
      codec.encode(bytes.subarray(off, off + codec.fixed), value);
    };
    put(ALL_OFFSETS.basic, basicCodec, x.basicInformation);
    put(ALL_OFFSETS.standard, standardCodec, x.standardInformation);
    put(ALL_OFFSETS.internal, internalCodec, x.internalInformation);
    put(ALL_OFFSETS.ea, eaCodec, x.eaInformation);
    put(ALL_OFFSETS.access, accessCodec, x.accessInformation);
    put(ALL_OFFSETS.position, positionCodec, x.positionInformation);
    put(ALL_OFFSETS.mode, modeCodec, x.modeInformation);
    put(ALL_OFFSETS.alignment, alignmentCodec, x.alignmentInformation);
    const r = nameCodec.encode(bytes.subarray(ALL_OFFSETS.name), x.nameInformation);
    return { bytesWritten: ALL_OFFSETS.name + r.bytesWritten, status: r.status };
  },
  decode(bytes, length) {
    if (length < 100) return lengthMismatch("FILE_ALL_INFORMATION", length, 100);
    // The fixed pieces cannot fail once the 100-byte check passed; `get` only narrows their types.
    let failure: DecodeError | undefined;
    const get = <T>(off: number, codec: Codec<T>, len: number): T => {
      const r = codec.decode(bytes.subarray(off), len);
      if (isDecodeError(r)) failure ??= r;
      return r as T;
    };
    const value: FileAllInformation = {
      basicInformation: get(ALL_OFFSETS.basic, basicCodec, 40),
      standardInformation: get(ALL_OFFSETS.standard, standardCodec, 24),
      internalInformation: get(ALL_OFFSETS.internal, internalCodec, 8),
      eaInformation: get(ALL_OFFSETS.ea, eaCodec, 4),
      accessInformation: get(ALL_OFFSETS.access, accessCodec, 4),
      positionInformation: get(ALL_OFFSETS.position, positionCodec, 8),
      modeInformation: get(ALL_OFFSETS.mode, modeCodec, 4),
      alignmentInformation: get(ALL_OFFSETS.alignment, alignmentCodec, 4),
      nameInformation: get(ALL_OFFSETS.name, nameCodec, length - ALL_OFFSETS.name),
    };
    return failure ?? value;
  },
};

const FILE_CODECS: { readonly [C in SupportedFileInformationClass]: Codec<FileInformationValueMap[C]> } = {
  [FIC.FileBasicInformation]: basicCodec,
  [FIC.FileStandardInformation]: standardCodec,
  [FIC.FileInternalInformation]: internalCodec,
  [FIC.FileEaInformation]: eaCodec,
  [FIC.FileAccessInformation]: accessCodec,
  [FIC.FileNameInformation]: nameCodec,
  [FIC.FileRenameInformation]: renameCodecOf("FILE_RENAME_INFORMATION"),
  [FIC.FileLinkInformation]: renameCodecOf("FILE_LINK_INFORMATION"),
  [FIC.FileDispositionInformation]: dispositionCodec,
  [FIC.FilePositionInformation]: positionCodec,
  [FIC.FileModeInformation]: modeCodec,
  [FIC.FileAlignmentInformation]: alignmentCodec,
  [FIC.FileAllInformation]: allCodec,
  [FIC.FileAllocationInformation]: allocationCodec,
  [FIC.FileEndOfFileInformation]: endOfFileCodec,
  [FIC.FileAlternateNameInformation]: nameInfoCodec("FILE_NAME_INFORMATION (alternate name)"),
  [FIC.FileNetworkOpenInformation]: networkOpenCodec,
  [FIC.FileAttributeTagInformation]: attributeTagCodec,
  [FIC.FileValidDataLengthInformation]: validDataLengthCodec,
  [FIC.FileShortNameInformation]: nameInfoCodec("FILE_NAME_INFORMATION (short name)"),
  [FIC.FileNormalizedNameInformation]: nameInfoCodec("FILE_NAME_INFORMATION (normalized name)"),
  [FIC.FileDispositionInformationEx]: dispositionExCodec,
  [FIC.FileRenameInformationEx]: renameExCodecOf("FILE_RENAME_INFORMATION_EX"),
  [FIC.FileLinkInformationEx]: renameExCodecOf("FILE_LINK_INFORMATION_EX"),
};

export function isSupportedFileInformationClass(cls: number): cls is SupportedFileInformationClass {
  return Object.hasOwn(FILE_CODECS, cls);
}

/**
 * Write `value` in the layout of `cls` at the start of `buffer` (whose byteLength is the request's Length), the
 * way a file system answers IRP_MJ_QUERY_INFORMATION (or a caller builds an IRP_MJ_SET_INFORMATION buffer).
 * STATUS_BUFFER_TOO_SMALL when the fixed part does not fit, STATUS_BUFFER_OVERFLOW for a truncated name,
 * STATUS_INVALID_INFO_CLASS for a class this module does not lay out.
 */
export function encodeFileInformation<C extends SupportedFileInformationClass>(
  cls: C,
  value: FileInformationValueMap[C],
  buffer: Uint8Array,
): EncodeResult {
  if (!isSupportedFileInformationClass(cls)) return { bytesWritten: 0, status: STATUS.STATUS_INVALID_INFO_CLASS };
  const codec = FILE_CODECS[cls] as Codec<FileInformationValueMap[C]>;
  return codec.encode(buffer, value);
}

/**
 * Read the first `length` bytes of `buffer` as `cls`. STATUS_INFO_LENGTH_MISMATCH when even the fixed part is
 * missing; for rename / link buffers, STATUS_INVALID_PARAMETER when FileNameLength is odd or runs past `length`.
 */
export function decodeFileInformation<C extends SupportedFileInformationClass>(
  cls: C,
  buffer: Uint8Array,
  length: number = buffer.byteLength,
): FileInformationValueMap[C] | DecodeError {
  if (!isSupportedFileInformationClass(cls)) {
    return { error: `FILE_INFORMATION_CLASS ${cls} is not supported`, status: STATUS.STATUS_INVALID_INFO_CLASS };
  }
  const n = Math.min(length, buffer.byteLength);
  const codec = FILE_CODECS[cls] as Codec<FileInformationValueMap[C]>;
  return codec.decode(buffer, n);
}

// ── Size tables and the I/O manager's length checks ──────────────────────────────────────────────────────────

export interface InformationClassSize {
  /** FIELD_OFFSET of the variable part (name), or the whole size for fixed structures. */
  readonly fixed: number;
  /** sizeof(structure) on x64, padding and the one-WCHAR name array included. */
  readonly size: number;
  /** Minimum Length for NtQueryInformationFile (IopQueryOperationLength); absent: not a query class. */
  readonly query?: number;
  /** Minimum Length for NtSetInformationFile (IopSetOperationLength); absent: not a set class. */
  readonly set?: number;
  /** Minimum Length for NtQueryDirectoryFile; absent: not a directory class. */
  readonly directory?: number;
}

/** Sizes per FILE_INFORMATION_CLASS, for the classes laid out here plus a few the I/O manager knows. */
export const FILE_INFORMATION_SIZES: Readonly<Partial<Record<number, InformationClassSize>>> = {
  [FIC.FileDirectoryInformation]: { fixed: 64, size: 72, directory: 72 },
  [FIC.FileFullDirectoryInformation]: { fixed: 68, size: 72, directory: 72 },
  [FIC.FileBothDirectoryInformation]: { fixed: 94, size: 96, directory: 96 },
  [FIC.FileBasicInformation]: { fixed: 40, size: 40, query: 40, set: 40 },
  [FIC.FileStandardInformation]: { fixed: 24, size: 24, query: 24 },
  [FIC.FileInternalInformation]: { fixed: 8, size: 8, query: 8 },
  [FIC.FileEaInformation]: { fixed: 4, size: 4, query: 4 },
  [FIC.FileAccessInformation]: { fixed: 4, size: 4, query: 4 },
  [FIC.FileNameInformation]: { fixed: 4, size: 8, query: 8 },
  [FIC.FileRenameInformation]: { fixed: 20, size: 24, set: 24 },
  [FIC.FileLinkInformation]: { fixed: 20, size: 24, set: 24 },
  [FIC.FileNamesInformation]: { fixed: 12, size: 16, directory: 16 },
  [FIC.FileDispositionInformation]: { fixed: 1, size: 1, set: 1 },
  [FIC.FilePositionInformation]: { fixed: 8, size: 8, query: 8, set: 8 },
  [FIC.FileModeInformation]: { fixed: 4, size: 4, query: 4, set: 4 },
  [FIC.FileAlignmentInformation]: { fixed: 4, size: 4, query: 4 },
  [FIC.FileAllInformation]: { fixed: 100, size: 104, query: 104 },
  [FIC.FileAllocationInformation]: { fixed: 8, size: 8, set: 8 },
  [FIC.FileEndOfFileInformation]: { fixed: 8, size: 8, set: 8 },
  [FIC.FileAlternateNameInformation]: { fixed: 4, size: 8, query: 8 },
  [FIC.FileStreamInformation]: { fixed: 24, size: 32, query: 32 },
  [FIC.FileNetworkOpenInformation]: { fixed: 56, size: 56, query: 56 },
  [FIC.FileAttributeTagInformation]: { fixed: 8, size: 8, query: 8 },
  [FIC.FileIdBothDirectoryInformation]: { fixed: 104, size: 112, directory: 112 },
  [FIC.FileIdFullDirectoryInformation]: { fixed: 80, size: 88, directory: 88 },
  [FIC.FileValidDataLengthInformation]: { fixed: 8, size: 8, set: 8 },
  [FIC.FileShortNameInformation]: { fixed: 4, size: 8, set: 8 },
  [FIC.FileNormalizedNameInformation]: { fixed: 4, size: 8, query: 8 },
  [FIC.FileDispositionInformationEx]: { fixed: 4, size: 4, set: 4 },
  [FIC.FileRenameInformationEx]: { fixed: 20, size: 24, set: 24 },
  [FIC.FileLinkInformationEx]: { fixed: 20, size: 24, set: 24 },
};

function validateLength(size: number | undefined, length: number): NTSTATUS {
  if (size === undefined) return STATUS.STATUS_INVALID_INFO_CLASS;
  return length < size ? STATUS.STATUS_INFO_LENGTH_MISMATCH : STATUS.STATUS_SUCCESS;
}

/** NtQueryInformationFile's check: STATUS_INVALID_INFO_CLASS / STATUS_INFO_LENGTH_MISMATCH / STATUS_SUCCESS. */
export function validateQueryInformationLength(cls: number, length: number): NTSTATUS {
  return validateLength(FILE_INFORMATION_SIZES[cls]?.query, length);
}

/** NtSetInformationFile's check. */
export function validateSetInformationLength(cls: number, length: number): NTSTATUS {
  return validateLength(FILE_INFORMATION_SIZES[cls]?.set, length);
}

/** NtQueryDirectoryFile's check (directory classes only). */
export function validateQueryDirectoryLength(cls: number, length: number): NTSTATUS {
  return validateLength(FILE_INFORMATION_SIZES[cls]?.directory, length);
}

// ── Directory entries ────────────────────────────────────────────────────────────────────────────────────────

/** One directory entry, with every field any directory class carries; a class that lacks a field ignores it. */
export interface DirEntry {
  fileName: string;
  fileIndex: number;
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
  endOfFile: number;
  allocationSize: number;
  fileAttributes: number;
  eaSize: number;
  /** 8.3 name, at most 12 characters (longer ones are cut to 12). */
  shortName: string;
  fileId: number;
}

/** A DirEntry with zeros / empty strings for every field not given. */
export function makeDirEntry(fields: Partial<DirEntry> & { fileName: string }): DirEntry {
  return {
    fileIndex: 0,
    creationTime: 0,
    lastAccessTime: 0,
    lastWriteTime: 0,
    changeTime: 0,
    endOfFile: 0,
    allocationSize: 0,
    fileAttributes: 0,
    eaSize: 0,
    shortName: "",
    fileId: 0,
    ...fields,
  };
}

export const DIRECTORY_CLASSES = [
  FIC.FileDirectoryInformation,
  FIC.FileFullDirectoryInformation,
  FIC.FileBothDirectoryInformation,
  FIC.FileNamesInformation,
  FIC.FileIdBothDirectoryInformation,
  FIC.FileIdFullDirectoryInformation,
] as const;

export type DirectoryInformationClass = (typeof DIRECTORY_CLASSES)[number];

export function isDirectoryInformationClass(cls: number): cls is DirectoryInformationClass {
  return (DIRECTORY_CLASSES as readonly number[]).includes(cls);
}

interface DirLayout {
  /** FIELD_OFFSET(..., FileName). */
  readonly nameOffset: number;
  readonly nameLengthOffset: number;
  /** true for everything but FILE_NAMES_INFORMATION: times, sizes, attributes at the usual places. */
  readonly full: boolean;
  readonly eaSizeOffset?: number;
  readonly shortNameOffset?: number;
  readonly fileIdOffset?: number;
}

/** Field offsets per directory class (x64). */
export const DIRECTORY_LAYOUTS: Readonly<Record<DirectoryInformationClass, DirLayout>> = {
  [FIC.FileDirectoryInformation]: { nameOffset: 64, nameLengthOffset: 60, full: true },
  [FIC.FileFullDirectoryInformation]: { nameOffset: 68, nameLengthOffset: 60, full: true, eaSizeOffset: 64 },
  [FIC.FileBothDirectoryInformation]: {
    nameOffset: 94,
    nameLengthOffset: 60,
    full: true,
    eaSizeOffset: 64,
    shortNameOffset: 68,
  },
  [FIC.FileNamesInformation]: { nameOffset: 12, nameLengthOffset: 8, full: false },
  [FIC.FileIdBothDirectoryInformation]: {
    nameOffset: 104,
    nameLengthOffset: 60,
    full: true,
    eaSizeOffset: 64,
    shortNameOffset: 68,
    fileIdOffset: 96,
  },
  [FIC.FileIdFullDirectoryInformation]: {
    nameOffset: 80,
    nameLengthOffset: 60,
    full: true,
    eaSizeOffset: 64,
    fileIdOffset: 72,
  },
};

/** Directory entries start on 8-byte boundaries (QuadAlign). */
export const DIRECTORY_ENTRY_ALIGNMENT = 8;

/** The same entry with the fields `cls` cannot carry reset to their defaults (what a decode gives back). */
export function dirEntryForClass(cls: DirectoryInformationClass, e: DirEntry): DirEntry {
  const l = DIRECTORY_LAYOUTS[cls];
  return {
    fileName: e.fileName,
    fileIndex: e.fileIndex >>> 0,
    creationTime: l.full ? e.creationTime : 0,
    lastAccessTime: l.full ? e.lastAccessTime : 0,
    lastWriteTime: l.full ? e.lastWriteTime : 0,
    changeTime: l.full ? e.changeTime : 0,
    endOfFile: l.full ? e.endOfFile : 0,
    allocationSize: l.full ? e.allocationSize : 0,
    fileAttributes: l.full ? e.fileAttributes >>> 0 : 0,
    eaSize: l.eaSizeOffset !== undefined ? e.eaSize >>> 0 : 0,
    shortName: l.shortNameOffset !== undefined ? e.shortName.slice(0, 12) : "",
    fileId: l.fileIdOffset !== undefined ? e.fileId : 0,
  };
}

/** Bytes one entry occupies without trailing padding. */
export function directoryEntrySize(cls: DirectoryInformationClass, e: DirEntry): number {
  return DIRECTORY_LAYOUTS[cls].nameOffset + e.fileName.length * 2;
}

export interface DirectoryEncodeResult extends EncodeResult {
  /** Whole entries copied; the caller's enumeration cursor advances by this many. */
  readonly entriesWritten: number;
  /** True when the first entry was copied with a truncated name (STATUS_BUFFER_OVERFLOW; cursor not advanced). */
  readonly partial: boolean;
}

/** Write the fixed part of one entry at `off` (the area is zeroed first; NextEntryOffset is left 0). */
function writeDirFixed(
  bytes: Uint8Array,
  v: DataView,
  off: number,
  l: DirLayout,
  e: DirEntry,
  nameBytes: number,
): void {
  bytes.fill(0, off, off + l.nameOffset);
  setU32(v, off + 4, e.fileIndex);
  setU32(v, off + l.nameLengthOffset, nameBytes);
  if (l.full) {
    setI64(v, off + 8, e.creationTime);
    setI64(v, off + 16, e.lastAccessTime);
    setI64(v, off + 24, e.lastWriteTime);
    setI64(v, off + 32, e.changeTime);
    setI64(v, off + 40, e.endOfFile);
    setI64(v, off + 48, e.allocationSize);
    setU32(v, off + 56, e.fileAttributes);
  }
  if (l.eaSizeOffset !== undefined) setU32(v, off + l.eaSizeOffset, e.eaSize);
  if (l.shortNameOffset !== undefined) {
    const short = utf16leBytes(e.shortName.slice(0, 12));
    v.setUint8(off + l.shortNameOffset, short.length);
    bytes.set(short, off + l.shortNameOffset + 2);
  }
  if (l.fileIdOffset !== undefined) setI64(v, off + l.fileIdOffset, e.fileId);
}

/**
 * Pack directory entries into `buffer` (its byteLength is the request's Length), as a file system answers
 * IRP_MN_QUERY_DIRECTORY:
 * - no entries: STATUS_NO_MORE_FILES, nothing written (the caller turns it into STATUS_NO_SUCH_FILE on the first
 *   query of a handle, as FastFAT and NTFS do);
 * - buffer smaller than the fixed part of the class: STATUS_INFO_LENGTH_MISMATCH (the I/O manager never lets such a
 *   request through; see `validateQueryDirectoryLength`);
 * - the first entry's name does not fit: its fixed part and as many name bytes as fit, FileNameLength holding the
 *   full length, STATUS_BUFFER_OVERFLOW, entriesWritten 0, partial true;
 * - otherwise as many whole entries as fit (only one with `returnSingleEntry`), each on an 8-byte boundary, the last
 *   with NextEntryOffset 0; bytesWritten ends at the last entry's name (no trailing padding); STATUS_SUCCESS.
 * Bytes past `bytesWritten` are left untouched.
 */
export function encodeDirectoryEntries(
  cls: DirectoryInformationClass,
  entries: readonly DirEntry[],
  buffer: Uint8Array,
  returnSingleEntry: boolean,
): DirectoryEncodeResult {
  const l = DIRECTORY_LAYOUTS[cls];
  if (l === undefined) {
    return { bytesWritten: 0, entriesWritten: 0, partial: false, status: STATUS.STATUS_INVALID_INFO_CLASS };
  }
  if (entries.length === 0) {
    return { bytesWritten: 0, entriesWritten: 0, partial: false, status: STATUS.STATUS_NO_MORE_FILES };
  }
  const length = buffer.byteLength;
  if (length < l.nameOffset) {
    return { bytesWritten: 0, entriesWritten: 0, partial: false, status: STATUS.STATUS_INFO_LENGTH_MISMATCH };
  }
  const v = viewOf(buffer);
  let next = 0;
  let last = -1;
  let bytesWritten = 0;
  let count = 0;
  for (const e of entries) {
    const name = utf16leBytes(e.fileName);
    const need = l.nameOffset + name.length;
    if (count > 0) {
      if (returnSingleEntry || next + need > length) break;
    }
    writeDirFixed(buffer, v, next, l, e, name.length);
    const copied = copyName(buffer, next + l.nameOffset, length, name);
    if (last >= 0) {
      setU32(v, last, next - last);
      buffer.fill(0, bytesWritten, next); // padding between entries
    }
    bytesWritten = next + l.nameOffset + copied;
    if (copied < name.length) {
      return { bytesWritten, entriesWritten: 0, partial: true, status: STATUS.STATUS_BUFFER_OVERFLOW };
    }
    last = next;
    count++;
    next = align(bytesWritten, DIRECTORY_ENTRY_ALIGNMENT);
  }
  return { bytesWritten, entriesWritten: count, partial: false, status: STATUS.STATUS_SUCCESS };
}

/**
 * Walk a NextEntryOffset chain in the first `length` bytes of `buffer`. Stops (without error) at an entry whose
 * fixed part would pass `length`, at a NextEntryOffset of 0, or at one that would not move forward; a name that
 * runs past `length` (a STATUS_BUFFER_OVERFLOW result) is cut to the bytes present.
 */
export function decodeDirectoryEntries(
  cls: DirectoryInformationClass,
  buffer: Uint8Array,
  length: number = buffer.byteLength,
): DirEntry[] {
  const l = DIRECTORY_LAYOUTS[cls];
  const out: DirEntry[] = [];
  if (l === undefined) return out;
  const n = Math.min(length, buffer.byteLength);
  const v = viewOf(buffer);
  let off = 0;
  while (off + l.nameOffset <= n) {
    const nextOffset = getU32(v, off);
    const nameLength = getU32(v, off + l.nameLengthOffset);
    const nameBytes = Math.min(nameLength, n - off - l.nameOffset);
    const shortLength = l.shortNameOffset !== undefined ? Math.min(v.getUint8(off + l.shortNameOffset), 24) : 0;
    out.push({
      fileName: readUtf16le(buffer, off + l.nameOffset, nameBytes),
      fileIndex: getU32(v, off + 4),
      creationTime: l.full ? getI64(v, off + 8) : 0,
      lastAccessTime: l.full ? getI64(v, off + 16) : 0,
      lastWriteTime: l.full ? getI64(v, off + 24) : 0,
      changeTime: l.full ? getI64(v, off + 32) : 0,
      endOfFile: l.full ? getI64(v, off + 40) : 0,
      allocationSize: l.full ? getI64(v, off + 48) : 0,
      fileAttributes: l.full ? getU32(v, off + 56) : 0,
      eaSize: l.eaSizeOffset !== undefined ? getU32(v, off + l.eaSizeOffset) : 0,
      shortName: l.shortNameOffset !== undefined ? readUtf16le(buffer, off + l.shortNameOffset + 2, shortLength) : "",
      fileId: l.fileIdOffset !== undefined ? getI64(v, off + l.fileIdOffset) : 0,
    });
    if (nextOffset === 0) break;
    off += nextOffset;
  }
  return out;
}

// ── Change notification records ──────────────────────────────────────────────────────────────────────────────

/** One FILE_NOTIFY_INFORMATION record: NextEntryOffset 0, Action 4, FileNameLength 8, FileName 12. */
export interface NotifyRecord {
  action: number;
  /** Relative to the watched directory. */
  fileName: string;
}

export const NOTIFY_RECORD_HEADER = 12;
/** Records start on ULONG boundaries (FsRtl notify package). */
export const NOTIFY_RECORD_ALIGNMENT = 4;

/** Bytes the records need: aligned records, the last one without padding. */
export function notifyRecordsSize(records: readonly NotifyRecord[]): number {
  let end = 0;
  for (const [i, r] of records.entries()) {
    const start = i === 0 ? 0 : align(end, NOTIFY_RECORD_ALIGNMENT);
    end = start + NOTIFY_RECORD_HEADER + r.fileName.length * 2;
  }
  return end;
}

/**
 * Chain the records into `buffer`. When they do not all fit, nothing is written and `complete` is false: the
 * notify IRP then completes with STATUS_NOTIFY_ENUM_DIR and Information 0 (the caller must re-enumerate).
 */
export function encodeNotifyRecords(
  records: readonly NotifyRecord[],
  buffer: Uint8Array,
): { bytesWritten: number; complete: boolean } {
  const total = notifyRecordsSize(records);
  if (total > buffer.byteLength) return { bytesWritten: 0, complete: false };
  const v = viewOf(buffer);
  let off = 0;
  let end = 0;
  for (const [i, r] of records.entries()) {
    const name = utf16leBytes(r.fileName);
    if (i > 0) {
      const start = align(end, NOTIFY_RECORD_ALIGNMENT);
      buffer.fill(0, end, start);
      setU32(v, off, start - off);
      off = start;
    }
    setU32(v, off, 0);
    setU32(v, off + 4, r.action);
    setU32(v, off + 8, name.length);
    buffer.set(name, off + NOTIFY_RECORD_HEADER);
    end = off + NOTIFY_RECORD_HEADER + name.length;
  }
  return { bytesWritten: end, complete: true };
}

/** Walk a FILE_NOTIFY_INFORMATION chain in the first `length` bytes (same stopping rules as directories). */
export function decodeNotifyRecords(buffer: Uint8Array, length: number = buffer.byteLength): NotifyRecord[] {
  const n = Math.min(length, buffer.byteLength);
  const v = viewOf(buffer);
  const out: NotifyRecord[] = [];
  let off = 0;
  while (off + NOTIFY_RECORD_HEADER <= n) {
    const next = getU32(v, off);
    const nameLength = Math.min(getU32(v, off + 8), n - off - NOTIFY_RECORD_HEADER);
    out.push({ action: getU32(v, off + 4), fileName: readUtf16le(buffer, off + NOTIFY_RECORD_HEADER, nameLength) });
    if (next === 0) break;
    off += next;
  }
  return out;
}

// ── Volume (FS) information ──────────────────────────────────────────────────────────────────────────────────

/** FILE_FS_VOLUME_INFORMATION: VolumeCreationTime 0, VolumeSerialNumber 8, VolumeLabelLength 12, SupportsObjects 16, VolumeLabel 18. */
export interface FileFsVolumeInformation {
  volumeCreationTime: number;
  volumeSerialNumber: number;
  supportsObjects: boolean;
  volumeLabel: string;
}

/** FILE_FS_LABEL_INFORMATION (set): VolumeLabelLength 0, VolumeLabel 4. */
export interface FileFsLabelInformation {
  volumeLabel: string;
}

/** FILE_FS_SIZE_INFORMATION (24 bytes). */
export interface FileFsSizeInformation {
  totalAllocationUnits: number;
  availableAllocationUnits: number;
  sectorsPerAllocationUnit: number;
  bytesPerSector: number;
}

/** FILE_FS_FULL_SIZE_INFORMATION (32 bytes). */
export interface FileFsFullSizeInformation {
  totalAllocationUnits: number;
  callerAvailableAllocationUnits: number;
  actualAvailableAllocationUnits: number;
  sectorsPerAllocationUnit: number;
  bytesPerSector: number;
}

/** FILE_FS_DEVICE_INFORMATION (8 bytes): a FILE_DEVICE_* type and the device characteristics. */
export interface FileFsDeviceInformation {
  deviceType: number;
  characteristics: number;
}

/** FILE_FS_ATTRIBUTE_INFORMATION: FileSystemAttributes 0, MaximumComponentNameLength 4 (LONG), FileSystemNameLength 8, FileSystemName 12. */
export interface FileFsAttributeInformation {
  fileSystemAttributes: number;
  maximumComponentNameLength: number;
  fileSystemName: string;
}

/** FILE_FS_SECTOR_SIZE_INFORMATION (28 bytes). */
export interface FileFsSectorSizeInformation {
  logicalBytesPerSector: number;
  physicalBytesPerSectorForAtomicity: number;
  physicalBytesPerSectorForPerformance: number;
  fileSystemEffectivePhysicalBytesPerSectorForAtomicity: number;
  flags: number;
  byteOffsetForSectorAlignment: number;
  byteOffsetForPartitionAlignment: number;
}

export interface FsInformationValueMap {
  [FSIC.FileFsVolumeInformation]: FileFsVolumeInformation;
  [FSIC.FileFsLabelInformation]: FileFsLabelInformation;
  [FSIC.FileFsSizeInformation]: FileFsSizeInformation;
  [FSIC.FileFsDeviceInformation]: FileFsDeviceInformation;
  [FSIC.FileFsAttributeInformation]: FileFsAttributeInformation;
  [FSIC.FileFsFullSizeInformation]: FileFsFullSizeInformation;
  [FSIC.FileFsSectorSizeInformation]: FileFsSectorSizeInformation;
}

export type SupportedFsInformationClass = keyof FsInformationValueMap;

const FS_CODECS: { readonly [C in SupportedFsInformationClass]: Codec<FsInformationValueMap[C]> } = {
  [FSIC.FileFsVolumeInformation]: namedCodec<FileFsVolumeInformation>(
    "FILE_FS_VOLUME_INFORMATION",
    18,
    12,
    (x) => x.volumeLabel,
    (v, x) => {
      setI64(v, 0, x.volumeCreationTime);
      setU32(v, 8, x.volumeSerialNumber);
      v.setUint8(16, x.supportsObjects ? 1 : 0);
    },
    (v, volumeLabel) => ({
      volumeCreationTime: getI64(v, 0),
      volumeSerialNumber: getU32(v, 8),
      supportsObjects: v.getUint8(16) !== 0,
      volumeLabel,
    }),
    false,
  ),
  [FSIC.FileFsLabelInformation]: namedCodec<FileFsLabelInformation>(
    "FILE_FS_LABEL_INFORMATION",
    4,
    0,
    (x) => x.volumeLabel,
    () => {},
    (_v, volumeLabel) => ({ volumeLabel }),
    true,
  ),
  [FSIC.FileFsSizeInformation]: fixedCodec<FileFsSizeInformation>(
    "FILE_FS_SIZE_INFORMATION",
    24,
    (v, x) => {
      setI64(v, 0, x.totalAllocationUnits);
      setI64(v, 8, x.availableAllocationUnits);
      setU32(v, 16, x.sectorsPerAllocationUnit);
      setU32(v, 20, x.bytesPerSector);
    },
    (v) => ({
      totalAllocationUnits: getI64(v, 0),
      availableAllocationUnits: getI64(v, 8),
      sectorsPerAllocationUnit: getU32(v, 16),
      bytesPerSector: getU32(v, 20),
    }),
  ),
  [FSIC.FileFsDeviceInformation]: fixedCodec<FileFsDeviceInformation>(
    "FILE_FS_DEVICE_INFORMATION",
    8,
    (v, x) => {
      setU32(v, 0, x.deviceType);
      setU32(v, 4, x.characteristics);
    },
    (v) => ({ deviceType: getU32(v, 0), characteristics: getU32(v, 4) }),
  ),
  [FSIC.FileFsAttributeInformation]: namedCodec<FileFsAttributeInformation>(
    "FILE_FS_ATTRIBUTE_INFORMATION",
    12,
    8,
    (x) => x.fileSystemName,
    (v, x) => {
      setU32(v, 0, x.fileSystemAttributes);
      v.setInt32(4, x.maximumComponentNameLength | 0, true);
    },
    (v, fileSystemName) => ({
      fileSystemAttributes: getU32(v, 0),
      maximumComponentNameLength: v.getInt32(4, true),
      fileSystemName,
    }),
    false,
  ),
  [FSIC.FileFsFullSizeInformation]: fixedCodec<FileFsFullSizeInformation>(
    "FILE_FS_FULL_SIZE_INFORMATION",
    32,
    (v, x) => {
      setI64(v, 0, x.totalAllocationUnits);
      setI64(v, 8, x.callerAvailableAllocationUnits);
      setI64(v, 16, x.actualAvailableAllocationUnits);
      setU32(v, 24, x.sectorsPerAllocationUnit);
      setU32(v, 28, x.bytesPerSector);
    },
    (v) => ({
      totalAllocationUnits: getI64(v, 0),
      callerAvailableAllocationUnits: getI64(v, 8),
      actualAvailableAllocationUnits: getI64(v, 16),
      sectorsPerAllocationUnit: getU32(v, 24),
      bytesPerSector: getU32(v, 28),
    }),
  ),
  [FSIC.FileFsSectorSizeInformation]: fixedCodec<FileFsSectorSizeInformation>(
    "FILE_FS_SECTOR_SIZE_INFORMATION",
    28,
    (v, x) => {
      setU32(v, 0, x.logicalBytesPerSector);
      setU32(v, 4, x.physicalBytesPerSectorForAtomicity);
      setU32(v, 8, x.physicalBytesPerSectorForPerformance);
      setU32(v, 12, x.fileSystemEffectivePhysicalBytesPerSectorForAtomicity);
      setU32(v, 16, x.flags);
      setU32(v, 20, x.byteOffsetForSectorAlignment);
      setU32(v, 24, x.byteOffsetForPartitionAlignment);
    },
    (v) => ({
      logicalBytesPerSector: getU32(v, 0),
      physicalBytesPerSectorForAtomicity: getU32(v, 4),
      physicalBytesPerSectorForPerformance: getU32(v, 8),
      fileSystemEffectivePhysicalBytesPerSectorForAtomicity: getU32(v, 12),
      flags: getU32(v, 16),
      byteOffsetForSectorAlignment: getU32(v, 20),
      byteOffsetForPartitionAlignment: getU32(v, 24),
    }),
  ),
};

export function isSupportedFsInformationClass(cls: number): cls is SupportedFsInformationClass {
  return Object.hasOwn(FS_CODECS, cls);
}

/** As `encodeFileInformation`, for IRP_MJ_QUERY_VOLUME_INFORMATION answers (labels truncate with BUFFER_OVERFLOW). */
export function encodeFsInformation<C extends SupportedFsInformationClass>(
  cls: C,
  value: FsInformationValueMap[C],
  buffer: Uint8Array,
): EncodeResult {
  if (!isSupportedFsInformationClass(cls)) return { bytesWritten: 0, status: STATUS.STATUS_INVALID_INFO_CLASS };
  return (FS_CODECS[cls] as Codec<FsInformationValueMap[C]>).encode(buffer, value);
}

export function decodeFsInformation<C extends SupportedFsInformationClass>(
  cls: C,
  buffer: Uint8Array,
  length: number = buffer.byteLength,
): FsInformationValueMap[C] | DecodeError {
  if (!isSupportedFsInformationClass(cls)) {
    return { error: `FS_INFORMATION_CLASS ${cls} is not supported`, status: STATUS.STATUS_INVALID_INFO_CLASS };
  }
  return (FS_CODECS[cls] as Codec<FsInformationValueMap[C]>).decode(buffer, Math.min(length, buffer.byteLength));
}

/** Sizes per FS_INFORMATION_CLASS (IopQueryFsOperationLength / IopSetFsOperationLength). */
export const FS_INFORMATION_SIZES: Readonly<Partial<Record<number, InformationClassSize>>> = {
  [FSIC.FileFsVolumeInformation]: { fixed: 18, size: 24, query: 24 },
  [FSIC.FileFsLabelInformation]: { fixed: 4, size: 8, set: 8 },
  [FSIC.FileFsSizeInformation]: { fixed: 24, size: 24, query: 24 },
  [FSIC.FileFsDeviceInformation]: { fixed: 8, size: 8, query: 8 },
  [FSIC.FileFsAttributeInformation]: { fixed: 12, size: 16, query: 16 },
  [FSIC.FileFsControlInformation]: { fixed: 48, size: 48, query: 48, set: 48 },
  [FSIC.FileFsFullSizeInformation]: { fixed: 32, size: 32, query: 32 },
  [FSIC.FileFsObjectIdInformation]: { fixed: 64, size: 64, query: 64, set: 64 },
  [FSIC.FileFsSectorSizeInformation]: { fixed: 28, size: 28, query: 28 },
};

/** NtQueryVolumeInformationFile's check. */
export function validateQueryVolumeLength(cls: number, length: number): NTSTATUS {
  return validateLength(FS_INFORMATION_SIZES[cls]?.query, length);
}

/** NtSetVolumeInformationFile's check. */
export function validateSetVolumeLength(cls: number, length: number): NTSTATUS {
  return validateLength(FS_INFORMATION_SIZES[cls]?.set, length);
}
