/**
 * memsmb server: an in-memory SMB2-like file server, as a pure model. It knows nothing of the emulated kernel,
 * RDBSS, timers or clocks: every call is synchronous, time comes in as `now` (100 ns units) on the calls that change
 * timestamps, and nothing is random. Ids (sessions, trees, opens, nodes, notify requests, lock waits) are per-server
 * counters starting at 1; every collection iterates in insertion order, and directory listings are sorted, so the same
 * calls always give the same answers.
 *
 * Semantic choices (what a Windows SMB2 server over NTFS does, where this model had to pick):
 *
 * Sessions and trees
 * - sessionSetup: user names ignore case, passwords do not; a bad user or password is STATUS_LOGON_FAILURE.
 * - An unknown session id is STATUS_USER_SESSION_DELETED (treeConnect, logoff); an unknown tree id is
 *   STATUS_NETWORK_NAME_DELETED (create, treeDisconnect, queryVolume); an unknown or closed file id is
 *   STATUS_FILE_CLOSED — what a Windows server answers for a stale SessionId / TreeId / FileId.
 * - treeConnect matches share names ignoring case (STATUS_BAD_NETWORK_NAME when none does). A user's permission is
 *   the strongest of its own entry and the "*" entry; with neither, STATUS_ACCESS_DENIED. The permission applies to
 *   ipc shares as well. maximalAccess is the share's grant: read 0x001200A9 (FILE_GENERIC_READ |
 *   FILE_GENERIC_EXECUTE), change 0x001301BF (read + FILE_GENERIC_WRITE + DELETE), full 0x001F01FF (FILE_ALL_ACCESS).
 * - treeDisconnect closes every open of the tree; logoff disconnects every tree of the session. Requests still
 *   pending on those opens (change notifications and lock waits) complete with STATUS_NETWORK_NAME_DELETED; then the
 *   opens are closed normally (locks released, other waiters granted, delete-on-close and delete-pending honoured).
 * - An ipc share has no files: create on it is STATUS_INVALID_DEVICE_REQUEST, and so is queryVolume.
 *
 * create
 * - Parameter checks first: disposition above FILE_OVERWRITE_IF, share access outside FILE_SHARE_VALID_FLAGS,
 *   create options in 0xFF000000, FILE_DIRECTORY_FILE with FILE_NON_DIRECTORY_FILE, FILE_DIRECTORY_FILE with a
 *   disposition other than FILE_CREATE / FILE_OPEN / FILE_OPEN_IF, or file attributes in 0xFFFF8048 →
 *   STATUS_INVALID_PARAMETER. A desired access of 0 or with bits in 0x0CE0FE00 → STATUS_ACCESS_DENIED (the SMB2
 *   server rule: a redirector must ask for at least FILE_READ_ATTRIBUTES); ACCESS_SYSTEM_SECURITY →
 *   STATUS_PRIVILEGE_NOT_HELD. A bad path → STATUS_OBJECT_NAME_INVALID (see paths.ts).
 * - GENERIC_* bits are mapped with mapGenericMask (file generic mapping). Bits beyond the share's grant →
 *   STATUS_ACCESS_DENIED, before the name is looked up (the share ACL is checked first). MAXIMUM_ALLOWED grants the
 *   share's whole grant (minus FILE_WRITE_DATA / FILE_APPEND_DATA on a read-only file) plus the bits asked for.
 * - A missing or non-directory intermediate component → STATUS_OBJECT_PATH_NOT_FOUND; a missing leaf with FILE_OPEN
 *   or FILE_OVERWRITE → STATUS_OBJECT_NAME_NOT_FOUND.
 * - Existing leaf, in this order: delete pending → STATUS_DELETE_PENDING; FILE_CREATE → STATUS_OBJECT_NAME_COLLISION;
 *   FILE_DIRECTORY_FILE on a file → STATUS_NOT_A_DIRECTORY; FILE_NON_DIRECTORY_FILE on a directory →
 *   STATUS_FILE_IS_A_DIRECTORY; FILE_SUPERSEDE / FILE_OVERWRITE(_IF) on a directory → STATUS_OBJECT_NAME_COLLISION
 *   (FastFAT's rule); write access to a read-only file → STATUS_ACCESS_DENIED; overwriting a read-only file, on a
 *   share without write permission, or dropping its HIDDEN / SYSTEM attribute → STATUS_ACCESS_DENIED;
 *   FILE_DELETE_ON_CLOSE without DELETE granted → STATUS_ACCESS_DENIED (MS-SMB2), on the share root or a read-only
 *   node → STATUS_CANNOT_DELETE, on a non-empty directory → STATUS_DIRECTORY_NOT_EMPTY; then share access.
 * - New leaf: the parent is delete pending → STATUS_DELETE_PENDING; a share without write permission →
 *   STATUS_ACCESS_DENIED; FILE_DELETE_ON_CLOSE needs DELETE (STATUS_ACCESS_DENIED) and a read-only new file is
 *   STATUS_CANNOT_DELETE. A new file gets (attributes & 0x3127) | ARCHIVE, a new directory DIRECTORY |
 *   (attributes & 0x3027) (NTFS sets no ARCHIVE on directories).
 * - Share access follows IoCheckShareAccess exactly, for files and directories alike: read = FILE_READ_DATA |
 *   FILE_EXECUTE (= FILE_LIST_DIRECTORY | FILE_TRAVERSE), write = FILE_WRITE_DATA | FILE_APPEND_DATA (=
 *   FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY), delete = DELETE; an open with none of them neither checks nor counts.
 *   Overwrite and supersede count as write access for the check (NTFS adds FILE_WRITE_DATA). Conflict →
 *   STATUS_SHARING_VIOLATION.
 * - Overwrite / supersede truncate to 0, set attributes to (attributes & 0x3127) | ARCHIVE, set last-write, change
 *   and last-access time, and report FILE_ACTION_MODIFIED. createAction is FILE_CREATED, FILE_OPENED,
 *   FILE_OVERWRITTEN or FILE_SUPERSEDED. Byte-range locks do not block an overwrite (as on Windows).
 *
 * Deletion
 * - FILE_DELETE_ON_CLOSE takes effect when that open is closed: the node becomes delete pending (unless it is a
 *   directory that has gained children meanwhile: then it silently stays), and is removed when its last open closes.
 *   setDisposition(true) makes the node delete pending at once; setDisposition(false) clears delete pending and the
 *   delete-on-close flag of every open of the node. New opens of a delete-pending node, and creates inside a
 *   delete-pending directory, fail with STATUS_DELETE_PENDING. queryInfo reports deletePending and numberOfLinks 0
 *   (1 otherwise).
 * - setDisposition needs DELETE (STATUS_ACCESS_DENIED); the share root and read-only nodes are STATUS_CANNOT_DELETE;
 *   a directory with children (delete-pending ones included) is STATUS_DIRECTORY_NOT_EMPTY.
 *
 * I/O
 * - read needs FILE_READ_DATA or FILE_EXECUTE; write needs FILE_WRITE_DATA or FILE_APPEND_DATA (STATUS_ACCESS_DENIED);
 *   on a directory both are STATUS_INVALID_DEVICE_REQUEST. A zero-length read or write succeeds and changes nothing.
 *   Byte-range conflicts (see locks.ts) → STATUS_FILE_LOCK_CONFLICT, checked before end of file; a read at or after
 *   end of file → STATUS_END_OF_FILE; a read is cut at end of file.
 * - write offset -1 (FILE_WRITE_TO_END_OF_FILE) appends; so does every write through an append-only open (the I/O
 *   manager's rule). A write past end of file zero-fills the gap. Space is counted in 4 KiB clusters against the
 *   share's capacity; running out → STATUS_DISK_FULL.
 * - flush needs FILE_WRITE_DATA or FILE_APPEND_DATA (STATUS_ACCESS_DENIED) and otherwise just succeeds.
 * - queryInfo needs no particular access.
 *
 * Timestamps: a new node gets `now` for all four times, and its parent's last-write and change time are set; read
 * sets last-access; write, setEndOfFile and overwrite set last-write and change; setBasic sets what it is given
 * (0, undefined or a negative value = unchanged) and sets change time to `now` unless it was given; rename sets the
 * node's change time and both parents' last-write and change time; removal sets the parent's.
 *
 * setBasic needs FILE_WRITE_ATTRIBUTES. Attributes are masked with FILE_ATTRIBUTE_VALID_SET_FLAGS (NORMAL alone
 * clears them); DIRECTORY on a file or TEMPORARY on a directory → STATUS_INVALID_PARAMETER. setEndOfFile needs
 * FILE_WRITE_DATA; on a directory it is STATUS_INVALID_PARAMETER.
 *
 * rename: needs DELETE on the source (STATUS_ACCESS_DENIED); the root → STATUS_INVALID_PARAMETER; a delete-pending
 * source or target directory → STATUS_DELETE_PENDING; newPath is share-relative (so no cross-share rename exists);
 * missing target parent → STATUS_OBJECT_PATH_NOT_FOUND; a directory moved into its own subtree →
 * STATUS_INVALID_PARAMETER; an existing target: without replaceIfExists → STATUS_OBJECT_NAME_COLLISION, a directory,
 * open, or read-only → STATUS_ACCESS_DENIED; a directory with open nodes below it → STATUS_ACCESS_DENIED. Renaming to
 * the same name is a no-op; a case-only rename changes the case. Other opens of the node follow it.
 *
 * queryDirectory: needs FILE_LIST_DIRECTORY; a file → STATUS_INVALID_PARAMETER; maxEntries < 1 →
 * STATUS_INVALID_PARAMETER. The cursor lives on the open (SMB2): the first query (or one with restart) fixes the
 * pattern (null or "" = "*"; a pattern with \ : / | or control characters → STATUS_OBJECT_NAME_INVALID); matching is
 * FsRtlIsNameInExpression with IgnoreCase (paths.ts). Entries come in NTFS order — "." and ".." first (for every
 * directory except the share root, which behaves like a volume root), then names in ordinal order of their upcased
 * form — and the cursor remembers the last name returned, so entries added or removed during a scan appear or vanish
 * as they would on NTFS. No entry on the first query of a scan → STATUS_NO_SUCH_FILE; later → STATUS_NO_MORE_FILES.
 * Delete-pending entries are listed.
 *
 * Byte-range locks: see locks.ts for the conflict rules. lock needs FILE_READ_DATA or FILE_WRITE_DATA
 * (STATUS_ACCESS_DENIED); a directory → STATUS_INVALID_PARAMETER. `lock` returns `{ status, waitId }`:
 * STATUS_SUCCESS (granted, onGranted never called), STATUS_LOCK_NOT_GRANTED (conflict with failImmediately), or
 * STATUS_PENDING with a waitId > 0: onGranted is then called exactly once, with STATUS_SUCCESS when granted (FIFO
 * scan whenever locks are released), STATUS_CANCELLED after cancelLockWait(fileId, waitId), STATUS_RANGE_NOT_LOCKED
 * when the waiting open is closed (FsRtl's status for waiters of a cleaned-up file), or STATUS_NETWORK_NAME_DELETED
 * on tree disconnect / logoff. unlock needs the exact offset, length and key (key defaults to 0) of a lock of the
 * same open, else STATUS_RANGE_NOT_LOCKED. Closing an open releases its locks.
 *
 * Change notification: see notify.ts for buffering. notify needs a directory (STATUS_INVALID_PARAMETER), and
 * FILE_LIST_DIRECTORY (STATUS_ACCESS_DENIED); a filter of 0 or outside FILE_NOTIFY_VALID_MASK is
 * STATUS_INVALID_PARAMETER. Rule: `onComplete` is called exactly once per notify call. When the request completes at
 * once (an error, buffered changes, an overflow), onComplete runs synchronously before notify returns and notify
 * returns the same status with notifyId 0; otherwise notify returns STATUS_PENDING and a notifyId > 0, and
 * onComplete runs later: with the records of the next matching change, STATUS_CANCELLED (cancelNotify),
 * STATUS_NOTIFY_CLEANUP (the open is closed) or STATUS_NETWORK_NAME_DELETED (tree disconnect / logoff).
 * Which filter each operation matches (record names are relative to the watched directory, joined with "\"):
 * - create of a file / directory: FILE_ACTION_ADDED, FILE_NAME / DIR_NAME;
 * - removal (last close of a delete-pending node, a target replaced by rename): FILE_ACTION_REMOVED, FILE_NAME /
 *   DIR_NAME;
 * - rename within a directory: RENAMED_OLD_NAME then RENAMED_NEW_NAME; a move to another directory: REMOVED from the
 *   old one then ADDED to the new one (what NTFS reports); FILE_NAME / DIR_NAME, one batch per rename;
 * - write, setEndOfFile, overwrite: FILE_ACTION_MODIFIED, LAST_WRITE, plus SIZE when the size changed and ATTRIBUTES
 *   when the attributes changed (each write reports at once; NTFS may coalesce them);
 * - setBasic: FILE_ACTION_MODIFIED with CREATION / LAST_ACCESS / LAST_WRITE / ATTRIBUTES for the fields given (a
 *   change time alone reports nothing);
 * - read updates last-access time without a notification (NTFS updates it lazily); nothing reports SECURITY, EA or
 *   STREAM_* changes (the model has no security descriptors, EAs or streams); parent-directory timestamp updates
 *   report nothing.
 *
 * Callbacks (onGranted, onComplete) for requests other than the call's own immediate notify completion are queued
 * while the server updates its state and run, in order, before the outermost server call returns; a callback may call
 * back into the server (its own callbacks then run after the ones already queued).
 */
import {
  ACCESS_SYSTEM_SECURITY,
  DELETE,
  FILE_ACTION,
  FILE_ADD_FILE,
  FILE_ADD_SUBDIRECTORY,
  FILE_ALL_ACCESS,
  FILE_APPEND_DATA,
  FILE_ATTRIBUTE,
  FILE_ATTRIBUTE_VALID_SET_FLAGS,
  FILE_CREATE,
  FILE_CREATED,
  FILE_DELETE_ON_CLOSE,
  FILE_DIRECTORY_FILE,
  FILE_EXECUTE,
  FILE_GENERIC_EXECUTE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_LIST_DIRECTORY,
  FILE_MAXIMUM_DISPOSITION,
  FILE_NON_DIRECTORY_FILE,
  FILE_NOTIFY_CHANGE,
  FILE_NOTIFY_VALID_MASK,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OPENED,
  FILE_OVERWRITE,
  FILE_OVERWRITE_IF,
  FILE_OVERWRITTEN,
  FILE_READ_DATA,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_VALID_FLAGS,
  FILE_SHARE_WRITE,
  FILE_SUPERSEDE,
  FILE_SUPERSEDED,
  FILE_WRITE_ATTRIBUTES,
  FILE_WRITE_DATA,
  MAXIMUM_ALLOWED,
  mapGenericMask,
} from "../../../emulator/io/index.js";
import { IdTable, type NTSTATUS, STATUS } from "../../../emulator/kernel/index.js";
import {
  allocationOf,
  DEFAULT_CAPACITY,
  fileImage,
  type NormalizedShare,
  normalizeImage,
  type ServerImage,
  ServerImageError,
  type SharePermission,
  type UserImage,
} from "./image.js";
import { ByteRangeLocks } from "./locks.js";
import { type NotifyRecord, type NotifyResult, NotifyWatch, type PendingNotify } from "./notify.js";
import { checkPattern, joinPath, matchPattern, parsePath, upcaseName } from "./paths.js";

// ── Public types ─────────────────────────────────────────────────────────────────────────────────────────────

export interface FileInfo {
  /** The node's name ("" for the share root; "." / ".." for those directory entries). */
  name: string;
  /** Share-relative path, "\dir\file" ("\" for the root). */
  path: string;
  directory: boolean;
  size: number;
  allocationSize: number;
  /** FILE_ATTRIBUTE_* (FILE_ATTRIBUTE_NORMAL for a file with none). */
  attributes: number;
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
  /** The node's index number (stable for the node's life, unique in the server). */
  fileId: number;
  deletePending: boolean;
  numberOfLinks: number;
}

export interface CreateRequest {
  path: string;
  desiredAccess: number;
  shareAccess: number;
  disposition: number;
  createOptions: number;
  fileAttributes: number;
}

export interface CreateResult {
  status: NTSTATUS;
  fileId: number;
  createAction: number;
  info: FileInfo;
}

export interface BasicInfoChange {
  creationTime?: number;
  lastAccessTime?: number;
  lastWriteTime?: number;
  changeTime?: number;
  attributes?: number;
}

export interface DirectoryQuery {
  pattern: string | null;
  restart: boolean;
  single: boolean;
  maxEntries: number;
}

export interface LockRequest {
  offset: number;
  length: number;
  exclusive: boolean;
  failImmediately: boolean;
  key?: number;
}

export interface NotifyRequest {
  filter: number;
  watchTree: boolean;
  bufferLength: number;
}

export interface VolumeInfo {
  status: NTSTATUS;
  label: string;
  serial: number;
  totalBytes: number;
  freeBytes: number;
  fsName: "MEMSMB";
}

export interface ServerStats {
  sessions: number;
  trees: number;
  opens: number;
  pendingNotifies: number;
  pendingLocks: number;
}

export type { NotifyRecord, NotifyResult, ServerImage, SharePermission };

// ── Internal model ───────────────────────────────────────────────────────────────────────────────────────────
//
// Memory: a file node and an open are what the server keeps per open file, so they are laid out to be small
// (docs/PERFORMANCE.md, bytesPerOpenHandle). An open's share mode is a bit mask, not an object; a node lists a single
// open directly and needs an `OpenList` (with the share counts) only while it has two or more; its byte-range lock
// lists exist only once something locks it; names and keys are interned strings.

/** Share-mode bits of an open: the access it counts and the sharing it allows (IoCheckShareAccess's inputs). */
const M_READ = 1;
const M_WRITE = 2;
const M_DELETE = 4;
const M_SHARED_READ = 8;
const M_SHARED_WRITE = 16;
const M_SHARED_DELETE = 32;
/** An open with none of these neither checks nor counts. */
const M_COUNTED = M_READ | M_WRITE | M_DELETE;
const M_MASK = 63;
/** Open flag beside the mode bits. */
const O_DELETE_ON_CLOSE = 64;

interface ShareCounts {
  openCount: number;
  readers: number;
  writers: number;
  deleters: number;
  sharedRead: number;
  sharedWrite: number;
  sharedDelete: number;
}

const SHARE_COUNT_KEYS = [
  "openCount",
  "readers",
  "writers",
  "deleters",
  "sharedRead",
  "sharedWrite",
  "sharedDelete",
] as const satisfies readonly (keyof ShareCounts)[];

/** The opens of a node with two or more, in the order they were made, and their share-access counts. */
class OpenList implements ShareCounts {
  readonly list: Open[];
  openCount = 0;
  readers = 0;
  writers = 0;
  deleters = 0;
  sharedRead = 0;
  sharedWrite = 0;
  sharedDelete = 0;
  constructor(first: Open, second: Open) {
    this.list = [first, second];
    addShare(this, first.mode, 1);
    addShare(this, second.mode, 1);
  }
}

/**
 * The children of every file node: one shared empty map (a Map per file cost ≈ 300 bytes per open file). Only
 * directories are parents (resolveParent and the image loader check it); adding to this one is a bug, so it throws.
 */
class NoChildren extends Map<string, Node> {
  override set(key: string, _value: Node): this {
    throw new Error(`memsmb: a file node cannot have children (adding "${key}")`);
  }
}
const NO_CHILDREN: Map<string, Node> = new NoChildren();

const F_DIRECTORY = 1;
const F_DELETE_PENDING = 2;
const F_REMOVED = 4;

class Node {
  readonly id: number;
  readonly share: Share;
  /** Interned (see intern). */
  name: string;
  /** upcaseName(name), interned. */
  key: string;
  parent: Node | null;
  readonly children: Map<string, Node>;
  buf: Uint8Array;
  size: number;
  attributes: number;
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
  /** F_* bits. */
  private flags: number;
  /** No open, the only one, or (two or more) the list with the share counts. See opensOf / addOpen / removeOpen. */
  opens: Open | OpenList | null = null;
  /** Created by the first lock request; dropped with the last open once empty. */
  locks: ByteRangeLocks<Open> | null = null;

  constructor(id: number, share: Share, name: string, directory: boolean, parent: Node | null, now: number) {
    this.id = id;
    this.share = share;
    this.name = intern(name);
    this.key = intern(upcaseName(name));
    this.parent = parent;
    this.children = directory ? new Map() : NO_CHILDREN;
    this.buf = EMPTY;
    this.size = 0;
    this.attributes = directory ? A.FILE_ATTRIBUTE_DIRECTORY : A.FILE_ATTRIBUTE_ARCHIVE;
    this.creationTime = now;
    this.lastAccessTime = now;
    this.lastWriteTime = now;
    this.changeTime = now;
    this.flags = directory ? F_DIRECTORY : 0;
  }

  get directory(): boolean {
    return (this.flags & F_DIRECTORY) !== 0;
  }
  get deletePending(): boolean {
    return (this.flags & F_DELETE_PENDING) !== 0;
  }
  set deletePending(v: boolean) {
    this.flags = v ? this.flags | F_DELETE_PENDING : this.flags & ~F_DELETE_PENDING;
  }
  get removed(): boolean {
    return (this.flags & F_REMOVED) !== 0;
  }
  set removed(v: boolean) {
    this.flags = v ? this.flags | F_REMOVED : this.flags & ~F_REMOVED;
  }

  /** Whether the node has any open. */
  get isOpen(): boolean {
    return this.opens !== null;
  }

  /** The byte-range locks, created on first use. */
  lockState(): ByteRangeLocks<Open> {
    if (this.locks === null) this.locks = new ByteRangeLocks<Open>();
    return this.locks;
  }
}

interface Share {
  readonly name: string;
  readonly type: "disk" | "ipc";
  readonly permissions: Map<string, SharePermission>;
  readonly declaredPermissions: Record<string, SharePermission>;
  readonly label: string | null;
  readonly capacity: number | null;
  readonly root: Node;
  used: number;
  /** Opens with a change-notification watch, in the order their watches started. */
  readonly watchers: Set<Open>;
}

interface Session {
  readonly id: number;
  readonly user: UserImage;
  readonly trees: Set<Tree>;
}

interface Tree {
  readonly id: number;
  readonly session: Session;
  readonly share: Share;
  readonly permission: SharePermission;
  readonly maximalAccess: number;
  readonly opens: Set<Open>;
}

interface Enumeration {
  /** The pattern, upcased. */
  readonly pattern: string;
  /** 0: "." next, 1: ".." next, 2: names. */
  phase: number;
  /** Upcased name of the last entry scanned (names after it come next). */
  lastKey: string | null;
  first: boolean;
}

class Open {
  readonly id: number;
  readonly tree: Tree;
  readonly node: Node;
  readonly grantedAccess: number;
  /** The share mode (M_* bits) and O_DELETE_ON_CLOSE. */
  private bits: number;
  enumeration: Enumeration | null = null;
  watch: NotifyWatch | null = null;

  constructor(id: number, tree: Tree, node: Node, grantedAccess: number, mode: number, deleteOnClose: boolean) {
    this.id = id;
    this.tree = tree;
    this.node = node;
    this.grantedAccess = grantedAccess;
    this.bits = mode | (deleteOnClose ? O_DELETE_ON_CLOSE : 0);
  }

  /** M_* bits. */
  get mode(): number {
    return this.bits & M_MASK;
  }
  get deleteOnClose(): boolean {
    return (this.bits & O_DELETE_ON_CLOSE) !== 0;
  }
  set deleteOnClose(v: boolean) {
    this.bits = v ? this.bits | O_DELETE_ON_CLOSE : this.bits & ~O_DELETE_ON_CLOSE;
  }
}

interface Change {
  readonly dir: Node;
  readonly name: string;
  readonly action: number;
  readonly filter: number;
}

// ── Constants ────────────────────────────────────────────────────────────────────────────────────────────────

const S = STATUS;
const A = FILE_ATTRIBUTE;
const N = FILE_NOTIFY_CHANGE;

/** What each share permission grants (the share ACL's maximal access). */
export const SHARE_PERMISSION_ACCESS = {
  read: (FILE_GENERIC_READ | FILE_GENERIC_EXECUTE) >>> 0,
  change: (FILE_GENERIC_READ | FILE_GENERIC_EXECUTE | FILE_GENERIC_WRITE | DELETE) >>> 0,
  full: FILE_ALL_ACCESS,
} as const satisfies Record<SharePermission, number>;

const PERMISSION_RANK = { read: 1, change: 2, full: 3 } as const satisfies Record<SharePermission, number>;

/** Access bits an SMB2 server refuses outright (MS-SMB2 3.3.5.9). */
const SMB2_INVALID_ACCESS_BITS = 0x0ce0fe00;
/** File attributes a create refuses (STATUS_INVALID_PARAMETER): VOLUME, DEVICE, INTEGRITY_STREAM and above 0xFFFF. */
const CREATE_INVALID_ATTRIBUTES = 0xffff8048;
/** Attributes a new or overwritten file keeps from the request. */
const FILE_CREATE_ATTRIBUTES = 0x00003127;
/** Attributes a new directory keeps from the request. */
const DIRECTORY_CREATE_ATTRIBUTES = 0x00003027;
const CREATE_OPTIONS_INVALID = 0xff000000;
const READ_ACCESS = FILE_READ_DATA | FILE_EXECUTE;
const WRITE_ACCESS = FILE_WRITE_DATA | FILE_APPEND_DATA;

const EMPTY = new Uint8Array(0);

function emptyInfo(): FileInfo {
  return {
    name: "",
    path: "",
    directory: false,
    size: 0,
    allocationSize: 0,
    attributes: 0,
    creationTime: 0,
    lastAccessTime: 0,
    lastWriteTime: 0,
    changeTime: 0,
    fileId: 0,
    deletePending: false,
    numberOfLinks: 0,
  };
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function shareModeOf(access: number, shareAccess: number): number {
  return (
    ((access & READ_ACCESS) !== 0 ? M_READ : 0) |
    ((access & WRITE_ACCESS) !== 0 ? M_WRITE : 0) |
    ((access & DELETE) !== 0 ? M_DELETE : 0) |
    ((shareAccess & FILE_SHARE_READ) !== 0 ? M_SHARED_READ : 0) |
    ((shareAccess & FILE_SHARE_WRITE) !== 0 ? M_SHARED_WRITE : 0) |
    ((shareAccess & FILE_SHARE_DELETE) !== 0 ? M_SHARED_DELETE : 0)
  );
}

/** IoCheckShareAccess, against counts. */
function shareAllows(c: ShareCounts, m: number): boolean {
  if ((m & M_COUNTED) === 0) return true;
  return !(
    ((m & M_READ) !== 0 && c.sharedRead < c.openCount) ||
    ((m & M_WRITE) !== 0 && c.sharedWrite < c.openCount) ||
    ((m & M_DELETE) !== 0 && c.sharedDelete < c.openCount) ||
    (c.readers !== 0 && (m & M_SHARED_READ) === 0) ||
    (c.writers !== 0 && (m & M_SHARED_WRITE) === 0) ||
    (c.deleters !== 0 && (m & M_SHARED_DELETE) === 0)
  );
}

/** IoCheckShareAccess against the node's opens (one open: its own mode stands for the counts). */
function nodeShareAllows(node: Node, m: number): boolean {
  const opens = node.opens;
  if (opens === null || (m & M_COUNTED) === 0) return true;
  if (opens instanceof OpenList) return shareAllows(opens, m);
  const o = opens.mode;
  if ((o & M_COUNTED) === 0) return true;
  // openCount is 1: each "shared < openCount" test is "not shared"; each "x !== 0" test is "o has x".
  return !(
    ((m & M_READ) !== 0 && (o & M_SHARED_READ) === 0) ||
    ((m & M_WRITE) !== 0 && (o & M_SHARED_WRITE) === 0) ||
    ((m & M_DELETE) !== 0 && (o & M_SHARED_DELETE) === 0) ||
    ((o & M_READ) !== 0 && (m & M_SHARED_READ) === 0) ||
    ((o & M_WRITE) !== 0 && (m & M_SHARED_WRITE) === 0) ||
    ((o & M_DELETE) !== 0 && (m & M_SHARED_DELETE) === 0)
  );
}

function addShare(c: ShareCounts, m: number, sign: 1 | -1): void {
  if ((m & M_COUNTED) === 0) return;
  c.openCount += sign;
  if ((m & M_READ) !== 0) c.readers += sign;
  if ((m & M_WRITE) !== 0) c.writers += sign;
  if ((m & M_DELETE) !== 0) c.deleters += sign;
  if ((m & M_SHARED_READ) !== 0) c.sharedRead += sign;
  if ((m & M_SHARED_WRITE) !== 0) c.sharedWrite += sign;
  if ((m & M_SHARED_DELETE) !== 0) c.sharedDelete += sign;
}

function zeroCounts(): ShareCounts {
  return { openCount: 0, readers: 0, writers: 0, deleters: 0, sharedRead: 0, sharedWrite: 0, sharedDelete: 0 };
}

/** The share counts the node keeps (a single open's are its own mode's). */
function countsOf(node: Node): ShareCounts {
  const opens = node.opens;
  if (opens instanceof OpenList) return opens;
  const c = zeroCounts();
  if (opens !== null) addShare(c, opens.mode, 1);
  return c;
}

/** The node's opens, oldest first (a copy). */
function opensOf(node: Node): Open[] {
  const opens = node.opens;
  if (opens === null) return [];
  if (opens instanceof OpenList) return opens.list.slice();
  return [opens];
}

function hasOpen(node: Node, open: Open): boolean {
  const opens = node.opens;
  return opens === open || (opens instanceof OpenList && opens.list.includes(open));
}

function addOpen(node: Node, open: Open): void {
  const opens = node.opens;
  if (opens === null) node.opens = open;
  else if (opens instanceof OpenList) {
    opens.list.push(open);
    addShare(opens, open.mode, 1);
  } else node.opens = new OpenList(opens, open);
}

/** Remove an open of the node (keeping the others' order); back to a single reference when one is left. */
function removeOpen(node: Node, open: Open): void {
  const opens = node.opens;
  if (opens === open) {
    node.opens = null;
    return;
  }
  if (!(opens instanceof OpenList)) return;
  const i = opens.list.indexOf(open);
  if (i < 0) return;
  opens.list.splice(i, 1);
  addShare(opens, open.mode, -1);
  if (opens.list.length === 1) node.opens = opens.list[0] as Open;
}

/** readCheck's "go on and copy" (not an NTSTATUS any routine returns). */
const READ_OK = -1;

/**
 * The same string, interned: V8 keeps property names in its (weak) string table, so equal names share one flat
 * string, and a name cut out of a longer path (a sliced string) no longer keeps that whole path alive. Short names
 * too: skipping them (≈ 0.2 µs each) cost 48 heap bytes per open handle in scripts/bench/scale.ts.
 */
function intern(s: string): string {
  const box: Record<string, number> = Object.create(null);
  box[s] = 0;
  for (const k in box) return k;
  return s;
}

function nameFilter(node: Node): number {
  return node.directory ? N.FILE_NOTIFY_CHANGE_DIR_NAME : N.FILE_NOTIFY_CHANGE_FILE_NAME;
}

// ── The server ───────────────────────────────────────────────────────────────────────────────────────────────

export class MemSmbServer {
  readonly name: string;
  private readonly users: UserImage[];
  private readonly userByKey = new Map<string, UserImage>();
  private readonly shareList: Share[] = [];
  private readonly shareByKey = new Map<string, Share>();
  private readonly sessions = new Map<number, Session>();
  private readonly trees = new Map<number, Tree>();
  private readonly opens = new IdTable<Open>();
  private readonly notifyOwners = new Map<number, Open>();
  private readonly ids = { session: 0, tree: 0, open: 0, node: 0, notify: 0, lockWait: 0 };
  private readonly deferred: (() => void)[] = [];
  private depth = 0;
  private flushing = false;

  /** Throws ServerImageError (with the offending field's path) for an invalid image. */
  constructor(image: ServerImage) {
    const n = normalizeImage(image);
    this.name = n.name;
    this.users = n.users;
    for (const u of n.users) this.userByKey.set(upcaseName(u.name), u);
    for (const s of n.shares) {
      const share = this.buildShare(s);
      this.shareList.push(share);
      this.shareByKey.set(upcaseName(share.name), share);
    }
  }

  // ── sessions and trees ────────────────────────────────────────────────────────────────────────────────────

  sessionSetup(user: string, password: string): { status: NTSTATUS; sessionId: number } {
    const u = typeof user === "string" ? this.userByKey.get(upcaseName(user)) : undefined;
    if (u === undefined || u.password !== password) return { status: S.STATUS_LOGON_FAILURE, sessionId: 0 };
    const session: Session = { id: ++this.ids.session, user: u, trees: new Set() };
    this.sessions.set(session.id, session);
    return { status: S.STATUS_SUCCESS, sessionId: session.id };
  }

  /** Disconnects every tree of the session (see treeDisconnect), then ends it. */
  logoff(sessionId: number, now: number): NTSTATUS {
    return this.run(() => {
      const session = this.sessions.get(sessionId);
      if (session === undefined) return S.STATUS_USER_SESSION_DELETED;
      this.disconnectTrees([...session.trees], now);
      this.sessions.delete(sessionId);
      return S.STATUS_SUCCESS;
    });
  }

  treeConnect(
    sessionId: number,
    share: string,
  ): { status: NTSTATUS; treeId: number; shareType: "disk" | "ipc"; maximalAccess: number } {
    const fail = (status: NTSTATUS, shareType: "disk" | "ipc" = "disk") => ({
      status,
      treeId: 0,
      shareType,
      maximalAccess: 0,
    });
    const session = this.sessions.get(sessionId);
    if (session === undefined) return fail(S.STATUS_USER_SESSION_DELETED);
    const sh = typeof share === "string" ? this.shareByKey.get(upcaseName(share)) : undefined;
    if (sh === undefined) return fail(S.STATUS_BAD_NETWORK_NAME);
    const permission = this.permissionOf(sh, session.user);
    if (permission === null) return fail(S.STATUS_ACCESS_DENIED, sh.type);
    const tree: Tree = {
      id: ++this.ids.tree,
      session,
      share: sh,
      permission,
      maximalAccess: SHARE_PERMISSION_ACCESS[permission],
      opens: new Set(),
    };
    this.trees.set(tree.id, tree);
    session.trees.add(tree);
    return { status: S.STATUS_SUCCESS, treeId: tree.id, shareType: sh.type, maximalAccess: tree.maximalAccess };
  }

  /**
   * Closes every open of the tree. Their pending notifications and lock waits complete with
   * STATUS_NETWORK_NAME_DELETED first.
   */
  treeDisconnect(treeId: number, now: number): NTSTATUS {
    return this.run(() => {
      const tree = this.trees.get(treeId);
      if (tree === undefined) return S.STATUS_NETWORK_NAME_DELETED;
      this.disconnectTrees([tree], now);
      return S.STATUS_SUCCESS;
    });
  }

  // ── create / close ────────────────────────────────────────────────────────────────────────────────────────

  create(treeId: number, req: CreateRequest, now: number): CreateResult {
    return this.run(() => this.doCreate(treeId, req, now));
  }

  /** Closes the open; a delete-pending node goes with its last open. `info` is the node as of the close. */
  close(fileId: number, now: number): { status: NTSTATUS; info: FileInfo | null } {
    return this.run(() => {
      const open = this.opens.get(fileId);
      if (open === undefined) return { status: S.STATUS_FILE_CLOSED, info: null };
      const info = this.closeOpen(open, now, S.STATUS_NOTIFY_CLEANUP, S.STATUS_RANGE_NOT_LOCKED);
      return { status: S.STATUS_SUCCESS, info };
    });
  }

  // ── data ──────────────────────────────────────────────────────────────────────────────────────────────────

  read(fileId: number, offset: number, length: number, now: number): { status: NTSTATUS; data: Uint8Array } {
    return this.run(() => {
      const open = this.opens.get(fileId);
      const status = this.readCheck(open, offset, length);
      if (status !== READ_OK) return { status, data: length === 0 && status === 0 ? new Uint8Array(0) : EMPTY };
      const node = (open as Open).node;
      const data = node.buf.slice(offset, Math.min(node.size, offset + length));
      node.lastAccessTime = now;
      return { status: S.STATUS_SUCCESS, data };
    });
  }

  /**
   * `read` into the caller's buffer (at least `length` bytes) instead of a new one: what a transport does with its
   * receive buffers. `count` bytes were copied (0 unless the status is a success).
   */
  readInto(
    fileId: number,
    offset: number,
    length: number,
    now: number,
    into: Uint8Array,
  ): { status: NTSTATUS; count: number } {
    return this.run(() => {
      const open = this.opens.get(fileId);
      const status = this.readCheck(open, offset, length);
      if (status !== READ_OK) return { status, count: 0 };
      if (!(into instanceof Uint8Array) || into.length < length) return { status: S.STATUS_BUFFER_TOO_SMALL, count: 0 };
      const node = (open as Open).node;
      const end = Math.min(node.size, offset + length);
      into.set(node.buf.subarray(offset, end));
      node.lastAccessTime = now;
      return { status: S.STATUS_SUCCESS, count: end - offset };
    });
  }

  /** Why a read of `length` bytes at `offset` through `open` copies nothing (its status), or READ_OK. */
  private readCheck(open: Open | undefined, offset: number, length: number): NTSTATUS {
    if (open === undefined) return S.STATUS_FILE_CLOSED;
    const node = open.node;
    if (node.directory) return S.STATUS_INVALID_DEVICE_REQUEST;
    if ((open.grantedAccess & READ_ACCESS) === 0) return S.STATUS_ACCESS_DENIED;
    if (!isCount(offset) || !isCount(length)) return S.STATUS_INVALID_PARAMETER;
    if (length === 0) return S.STATUS_SUCCESS;
    if (node.locks !== null && !node.locks.canRead(open, offset, length)) return S.STATUS_FILE_LOCK_CONFLICT;
    if (offset >= node.size) return S.STATUS_END_OF_FILE;
    return READ_OK;
  }

  /** offset -1 = end of file. An append-only open always writes at end of file. */
  write(fileId: number, offset: number, data: Uint8Array, now: number): { status: NTSTATUS; count: number } {
    return this.run(() => {
      const open = this.opens.get(fileId);
      if (open === undefined) return { status: S.STATUS_FILE_CLOSED, count: 0 };
      const node = open.node;
      if (node.directory) return { status: S.STATUS_INVALID_DEVICE_REQUEST, count: 0 };
      if ((open.grantedAccess & WRITE_ACCESS) === 0) return { status: S.STATUS_ACCESS_DENIED, count: 0 };
      if (!(data instanceof Uint8Array)) return { status: S.STATUS_INVALID_PARAMETER, count: 0 };
      let at: number;
      if (offset === -1 || (open.grantedAccess & FILE_WRITE_DATA) === 0) at = node.size;
      else if (isCount(offset)) at = offset;
      else return { status: S.STATUS_INVALID_PARAMETER, count: 0 };
      if (data.length === 0) return { status: S.STATUS_SUCCESS, count: 0 };
      const end = at + data.length;
      if (!Number.isSafeInteger(end)) return { status: S.STATUS_INVALID_PARAMETER, count: 0 };
      if (node.locks !== null && !node.locks.canWrite(open, at, data.length))
        return { status: S.STATUS_FILE_LOCK_CONFLICT, count: 0 };
      const oldSize = node.size;
      if (end > oldSize) {
        if (!this.fits(node, end)) return { status: S.STATUS_DISK_FULL, count: 0 };
        this.setSize(node, end);
      }
      node.buf.set(data, at);
      this.touchWrite(node, now, oldSize);
      return { status: S.STATUS_SUCCESS, count: data.length };
    });
  }

  flush(fileId: number): NTSTATUS {
    const open = this.opens.get(fileId);
    if (open === undefined) return S.STATUS_FILE_CLOSED;
    if ((open.grantedAccess & WRITE_ACCESS) === 0) return S.STATUS_ACCESS_DENIED;
    return S.STATUS_SUCCESS;
  }

  // ── metadata ──────────────────────────────────────────────────────────────────────────────────────────────

  queryInfo(fileId: number): { status: NTSTATUS; info: FileInfo } {
    const open = this.opens.get(fileId);
    if (open === undefined) return { status: S.STATUS_FILE_CLOSED, info: emptyInfo() };
    return { status: S.STATUS_SUCCESS, info: this.infoOf(open.node) };
  }

  setBasic(fileId: number, v: BasicInfoChange, now: number): NTSTATUS {
    return this.run(() => {
      const open = this.opens.get(fileId);
      if (open === undefined) return S.STATUS_FILE_CLOSED;
      const node = open.node;
      if ((open.grantedAccess & FILE_WRITE_ATTRIBUTES) === 0) return S.STATUS_ACCESS_DENIED;
      const given = (x: number | undefined): x is number => x !== undefined && x > 0;
      for (const x of [v.creationTime, v.lastAccessTime, v.lastWriteTime, v.changeTime, v.attributes]) {
        if (x !== undefined && (typeof x !== "number" || !Number.isSafeInteger(x))) return S.STATUS_INVALID_PARAMETER;
      }
      let attributes: number | null = null;
      if (given(v.attributes)) {
        const a = v.attributes >>> 0;
        if ((a & A.FILE_ATTRIBUTE_DIRECTORY) !== 0 && !node.directory) return S.STATUS_INVALID_PARAMETER;
        if ((a & A.FILE_ATTRIBUTE_TEMPORARY) !== 0 && node.directory) return S.STATUS_INVALID_PARAMETER;
        attributes =
          (a & FILE_ATTRIBUTE_VALID_SET_FLAGS & ~A.FILE_ATTRIBUTE_NORMAL) |
          (node.directory ? A.FILE_ATTRIBUTE_DIRECTORY : 0);
      }
      let filter = 0;
      if (given(v.creationTime)) {
        node.creationTime = v.creationTime;
        filter |= N.FILE_NOTIFY_CHANGE_CREATION;
      }
      if (given(v.lastAccessTime)) {
        node.lastAccessTime = v.lastAccessTime;
        filter |= N.FILE_NOTIFY_CHANGE_LAST_ACCESS;
      }
      if (given(v.lastWriteTime)) {
        node.lastWriteTime = v.lastWriteTime;
        filter |= N.FILE_NOTIFY_CHANGE_LAST_WRITE;
      }
      if (attributes !== null) {
        node.attributes = attributes >>> 0;
        filter |= N.FILE_NOTIFY_CHANGE_ATTRIBUTES;
      }
      if (given(v.changeTime)) node.changeTime = v.changeTime;
      else if (filter !== 0) node.changeTime = now;
      this.reportModified(node, filter);
      return S.STATUS_SUCCESS;
    });
  }

  setEndOfFile(fileId: number, size: number, now: number): NTSTATUS {
    return this.run(() => {
      const open = this.opens.get(fileId);
      if (open === undefined) return S.STATUS_FILE_CLOSED;
      const node = open.node;
      if (node.directory) return S.STATUS_INVALID_PARAMETER;
      if ((open.grantedAccess & FILE_WRITE_DATA) === 0) return S.STATUS_ACCESS_DENIED;
      if (!isCount(size)) return S.STATUS_INVALID_PARAMETER;
      const oldSize = node.size;
      if (size > oldSize && !this.fits(node, size)) return S.STATUS_DISK_FULL;
      this.setSize(node, size);
      this.touchWrite(node, now, oldSize);
      return S.STATUS_SUCCESS;
    });
  }

  setDisposition(fileId: number, deleteFile: boolean): NTSTATUS {
    const open = this.opens.get(fileId);
    if (open === undefined) return S.STATUS_FILE_CLOSED;
    const node = open.node;
    if ((open.grantedAccess & DELETE) === 0) return S.STATUS_ACCESS_DENIED;
    if (!deleteFile) {
      node.deletePending = false;
      for (const o of opensOf(node)) o.deleteOnClose = false;
      return S.STATUS_SUCCESS;
    }
    if (node.parent === null || (node.attributes & A.FILE_ATTRIBUTE_READONLY) !== 0) return S.STATUS_CANNOT_DELETE;
    if (node.directory && node.children.size > 0) return S.STATUS_DIRECTORY_NOT_EMPTY;
    node.deletePending = true;
    return S.STATUS_SUCCESS;
  }

  rename(fileId: number, newPath: string, replaceIfExists: boolean, now: number): NTSTATUS {
    return this.run(() => this.doRename(fileId, newPath, replaceIfExists, now));
  }

  // ── directories ───────────────────────────────────────────────────────────────────────────────────────────

  queryDirectory(fileId: number, req: DirectoryQuery): { status: NTSTATUS; entries: FileInfo[] } {
    const open = this.opens.get(fileId);
    if (open === undefined) return { status: S.STATUS_FILE_CLOSED, entries: [] };
    const node = open.node;
    if (!node.directory) return { status: S.STATUS_INVALID_PARAMETER, entries: [] };
    if ((open.grantedAccess & FILE_LIST_DIRECTORY) === 0) return { status: S.STATUS_ACCESS_DENIED, entries: [] };
    if (!(req.maxEntries >= 1)) return { status: S.STATUS_INVALID_PARAMETER, entries: [] };
    let e = open.enumeration;
    if (e === null || req.restart) {
      const pattern = req.pattern === null || req.pattern === "" ? "*" : req.pattern;
      if (typeof pattern !== "string" || checkPattern(pattern) !== S.STATUS_SUCCESS) {
        return { status: S.STATUS_OBJECT_NAME_INVALID, entries: [] };
      }
      e = { pattern: upcaseName(pattern), phase: node.parent === null ? 2 : 0, lastKey: null, first: true };
      open.enumeration = e;
    }
    const limit = req.single ? 1 : req.maxEntries;
    const entries: FileInfo[] = [];
    while (entries.length < limit && e.phase < 2) {
      const dot = e.phase === 0 ? "." : "..";
      const target = e.phase === 0 ? node : (node.parent as Node);
      e.phase++;
      if (matchPattern(e.pattern, dot)) entries.push({ ...this.infoOf(target), name: dot });
    }
    if (entries.length < limit) {
      const lastKey = e.lastKey;
      const rest = [...node.children.values()]
        .filter((c) => lastKey === null || c.key > lastKey)
        .sort((a, b) => compareKeys(a.key, b.key));
      for (const child of rest) {
        e.lastKey = child.key;
        if (matchPattern(e.pattern, child.key)) entries.push(this.infoOf(child));
        if (entries.length >= limit) break;
      }
    }
    const status = entries.length > 0 ? S.STATUS_SUCCESS : e.first ? S.STATUS_NO_SUCH_FILE : S.STATUS_NO_MORE_FILES;
    e.first = false;
    return { status, entries };
  }

  // ── byte-range locks ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * STATUS_SUCCESS (granted; onGranted is not called), STATUS_LOCK_NOT_GRANTED, or STATUS_PENDING with a waitId for
   * cancelLockWait; onGranted then runs exactly once later (see the header).
   */
  lock(fileId: number, req: LockRequest, onGranted: (status: NTSTATUS) => void): { status: NTSTATUS; waitId: number } {
    const open = this.opens.get(fileId);
    if (open === undefined) return { status: S.STATUS_FILE_CLOSED, waitId: 0 };
    const node = open.node;
    if (node.directory) return { status: S.STATUS_INVALID_PARAMETER, waitId: 0 };
    if ((open.grantedAccess & (FILE_READ_DATA | FILE_WRITE_DATA)) === 0)
      return { status: S.STATUS_ACCESS_DENIED, waitId: 0 };
    const key = req.key ?? 0;
    if (
      !isCount(req.offset) ||
      !isCount(req.length) ||
      !isCount(key) ||
      !Number.isSafeInteger(req.offset + req.length)
    ) {
      return { status: S.STATUS_INVALID_PARAMETER, waitId: 0 };
    }
    const range = { offset: req.offset, length: req.length, exclusive: req.exclusive === true, key };
    const locks = node.lockState();
    if (!locks.conflicts(open, range)) {
      locks.grant(open, range);
      return { status: S.STATUS_SUCCESS, waitId: 0 };
    }
    if (req.failImmediately) return { status: S.STATUS_LOCK_NOT_GRANTED, waitId: 0 };
    const waitId = ++this.ids.lockWait;
    locks.enqueue({ ...range, owner: open, waitId, onGranted });
    return { status: S.STATUS_PENDING, waitId };
  }

  unlock(fileId: number, offset: number, length: number, key?: number): NTSTATUS {
    return this.run(() => {
      const open = this.opens.get(fileId);
      if (open === undefined) return S.STATUS_FILE_CLOSED;
      const node = open.node;
      if (node.directory) return S.STATUS_INVALID_PARAMETER;
      if (node.locks === null || !node.locks.release(open, offset, length, key ?? 0)) return S.STATUS_RANGE_NOT_LOCKED;
      this.grantWaiters(node);
      return S.STATUS_SUCCESS;
    });
  }

  /** Cancels a pending lock wait of this open (onGranted(STATUS_CANCELLED)); false when there is none. */
  cancelLockWait(fileId: number, token: number): boolean {
    return this.run(() => {
      const open = this.opens.get(fileId);
      if (open === undefined) return false;
      const w = open.node.locks?.removeWaiter(token, open);
      if (w === undefined) return false;
      this.defer(() => w.onGranted(S.STATUS_CANCELLED));
      return true;
    });
  }

  // ── change notification ───────────────────────────────────────────────────────────────────────────────────

  /**
   * onComplete runs exactly once: synchronously before this returns when the status is final (notifyId 0), later
   * when it is STATUS_PENDING (cancel with cancelNotify(notifyId)).
   */
  notify(
    fileId: number,
    req: NotifyRequest,
    onComplete: (r: NotifyResult) => void,
  ): { status: NTSTATUS; notifyId: number } {
    const finish = (r: NotifyResult) => {
      onComplete(r);
      return { status: r.status, notifyId: 0 };
    };
    const fail = (status: NTSTATUS) => finish({ status, records: [] });
    const open = this.opens.get(fileId);
    if (open === undefined) return fail(S.STATUS_FILE_CLOSED);
    if (!open.node.directory) return fail(S.STATUS_INVALID_PARAMETER);
    if ((open.grantedAccess & FILE_LIST_DIRECTORY) === 0) return fail(S.STATUS_ACCESS_DENIED);
    const filter = req.filter >>> 0;
    if (filter === 0 || (filter & ~FILE_NOTIFY_VALID_MASK) !== 0 || !isCount(req.bufferLength)) {
      return fail(S.STATUS_INVALID_PARAMETER);
    }
    if (open.watch === null) {
      open.watch = new NotifyWatch(filter, req.watchTree === true, req.bufferLength);
      open.node.share.watchers.add(open);
    }
    const request: PendingNotify = { notifyId: this.ids.notify + 1, bufferLength: req.bufferLength, onComplete };
    const now = open.watch.post(request);
    if (now !== null) return finish(now);
    this.ids.notify++;
    this.notifyOwners.set(request.notifyId, open);
    return { status: S.STATUS_PENDING, notifyId: request.notifyId };
  }

  /** Completes the pending request with STATUS_CANCELLED (before returning); false when it is not pending. */
  cancelNotify(notifyId: number): boolean {
    return this.run(() => {
      const open = this.notifyOwners.get(notifyId);
      const request = open?.watch?.cancel(notifyId);
      if (open === undefined || request === undefined) return false;
      this.completeNotify(request, { status: S.STATUS_CANCELLED, records: [] });
      return true;
    });
  }

  // ── volume ────────────────────────────────────────────────────────────────────────────────────────────────

  queryVolume(treeId: number): VolumeInfo {
    const tree = this.trees.get(treeId);
    const fail = (status: NTSTATUS): VolumeInfo => ({
      status,
      label: "",
      serial: 0,
      totalBytes: 0,
      freeBytes: 0,
      fsName: "MEMSMB",
    });
    if (tree === undefined) return fail(S.STATUS_NETWORK_NAME_DELETED);
    const share = tree.share;
    if (share.type === "ipc") return fail(S.STATUS_INVALID_DEVICE_REQUEST);
    const total = share.capacity ?? DEFAULT_CAPACITY;
    return {
      status: S.STATUS_SUCCESS,
      label: share.label ?? share.name,
      serial: fnv1a(`${upcaseName(this.name)}\\${upcaseName(share.name)}`),
      totalBytes: total,
      freeBytes: Math.max(0, total - share.used),
      fsName: "MEMSMB",
    };
  }

  // ── introspection ─────────────────────────────────────────────────────────────────────────────────────────

  get stats(): ServerStats {
    let pendingLocks = 0;
    const nodes = new Set<Node>();
    for (const o of this.opens.values()) nodes.add(o.node);
    for (const n of nodes) pendingLocks += n.locks?.waiters.length ?? 0;
    return {
      sessions: this.sessions.size,
      trees: this.trees.size,
      opens: this.opens.size,
      pendingNotifies: this.notifyOwners.size,
      pendingLocks,
    };
  }

  /** The share names, in declaration order. */
  get shareNames(): string[] {
    return this.shareList.map((s) => s.name);
  }

  /** The current content as an image (children sorted like a directory listing); the constructor accepts it back. */
  snapshot(): ServerImage {
    return {
      name: this.name,
      users: this.users.map((u) => ({ name: u.name, password: u.password })),
      shares: this.shareList.map((s) => {
        const out: ServerImage["shares"][number] = {
          name: s.name,
          type: s.type,
          permissions: { ...s.declaredPermissions },
        };
        if (s.label !== null) out.label = s.label;
        if (s.capacity !== null) out.capacity = s.capacity;
        if (s.type === "disk") {
          const files: NonNullable<ServerImage["shares"][number]["files"]> = [];
          const walk = (dir: Node, prefix: string[]) => {
            for (const child of this.sortedChildren(dir)) {
              const comps = [...prefix, child.name];
              files.push(
                fileImage(comps, {
                  directory: child.directory,
                  data: child.buf.subarray(0, child.size),
                  attributes: child.attributes,
                  creationTime: child.creationTime,
                  lastAccessTime: child.lastAccessTime,
                  lastWriteTime: child.lastWriteTime,
                  changeTime: child.changeTime,
                }),
              );
              if (child.directory) walk(child, comps);
            }
          };
          walk(s.root, []);
          out.files = files;
        }
        return out;
      }),
    };
  }

  /** The node at `path` in `share`; null for an unknown share or a bad or missing path. */
  private nodeAt(share: string, path: string): Node | null {
    const sh = this.shareByKey.get(upcaseName(share));
    if (sh === undefined) return null;
    const parsed = parsePath(path);
    if (!parsed.ok) return null;
    let node: Node | undefined = sh.root;
    for (const c of parsed.components) {
      node = node.children.get(upcaseName(c));
      if (node === undefined) return null;
    }
    return node;
  }

  /** A copy of a file's data; null for an unknown share, a bad or missing path, or a directory. */
  fileData(share: string, path: string): Uint8Array | null {
    const node = this.nodeAt(share, path);
    if (node === null) return null;
    if (node.directory) return null;
    return node.buf.slice(0, node.size);
  }

  /** Information about a node by share and path (for tests and reports); null when there is none. */
  pathInfo(share: string, path: string): FileInfo | null {
    const node = this.nodeAt(share, path);
    if (node === null) return null;
    return this.infoOf(node);
  }

  /**
   * Check the model's internal invariants; returns a description of every violation (empty when consistent):
   * tree structure, open ↔ node ↔ tree ↔ session references, share-access counts against the opens, locks and
   * waiters owned by live opens of their node, watchers and pending notifications, and space accounting.
   */
  audit(): string[] {
    const problems: string[] = [];
    const liveOpens = new Set(this.opens.values());
    for (const share of this.shareList) {
      let used = 0;
      const visit = (node: Node, parent: Node | null): void => {
        const where = `${share.name}:${this.pathOf(node)}`;
        if (node.parent !== parent) problems.push(`${where}: wrong parent link`);
        if (node.removed) problems.push(`${where}: removed node still reachable`);
        if (node.key !== upcaseName(node.name)) problems.push(`${where}: key does not match name`);
        if (node.share !== share) problems.push(`${where}: wrong share`);
        if (!node.directory) used += allocationOf(node.size);
        if (node.size > node.buf.length) problems.push(`${where}: size beyond buffer`);
        const c = zeroCounts();
        const opens = opensOf(node);
        if (node.opens instanceof OpenList && opens.length < 2) problems.push(`${where}: open list of ${opens.length}`);
        if (new Set(opens).size !== opens.length) problems.push(`${where}: an open listed twice`);
        for (const o of opens) {
          if (!liveOpens.has(o)) problems.push(`${where}: references closed open ${o.id}`);
          if (o.node !== node) problems.push(`${where}: open ${o.id} points elsewhere`);
          addShare(c, o.mode, 1);
        }
        const counts = countsOf(node);
        for (const k of SHARE_COUNT_KEYS) {
          if (c[k] !== counts[k]) problems.push(`${where}: share count ${k} ${counts[k]}, expected ${c[k]}`);
        }
        const locks = node.locks;
        if (locks !== null) {
          for (const g of locks.granted) if (!hasOpen(node, g.owner)) problems.push(`${where}: lock of a foreign open`);
          for (const w of locks.waiters)
            if (!hasOpen(node, w.owner)) problems.push(`${where}: waiter of a foreign open`);
          if (!node.isOpen && !locks.empty) problems.push(`${where}: locks without opens`);
        }
        if (!node.isOpen && node.deletePending) problems.push(`${where}: delete pending without opens`);
        for (const [key, child] of node.children) {
          if (key !== child.key) problems.push(`${where}: child key mismatch`);
          visit(child, node);
        }
      };
      visit(share.root, null);
      if (used !== share.used) problems.push(`${share.name}: used ${share.used}, expected ${used}`);
      for (const w of share.watchers) {
        if (!liveOpens.has(w) || w.watch === null) problems.push(`${share.name}: stale watcher ${w.id}`);
      }
    }
    for (const o of liveOpens) {
      let n: Node | null = o.node;
      while (n !== null && n.parent !== null) n = n.parent;
      if (n !== o.node.share.root || o.node.removed) problems.push(`open ${o.id}: node not in its share`);
      if (!hasOpen(o.node, o)) problems.push(`open ${o.id}: node does not list it`);
      if (!o.tree.opens.has(o) || this.trees.get(o.tree.id) !== o.tree) problems.push(`open ${o.id}: tree gone`);
      if (o.watch !== null && !o.node.share.watchers.has(o)) problems.push(`open ${o.id}: watch not registered`);
    }
    for (const t of this.trees.values()) {
      if (this.sessions.get(t.session.id) !== t.session || !t.session.trees.has(t)) {
        problems.push(`tree ${t.id}: session gone`);
      }
      for (const o of t.opens) if (!liveOpens.has(o)) problems.push(`tree ${t.id}: lists closed open ${o.id}`);
    }
    for (const [id, o] of this.notifyOwners) {
      if (!liveOpens.has(o) || o.watch?.pending.some((p) => p.notifyId === id) !== true) {
        problems.push(`notify ${id}: not pending on a live open`);
      }
    }
    let pending = 0;
    for (const o of liveOpens) pending += o.watch?.pending.length ?? 0;
    if (pending !== this.notifyOwners.size) problems.push(`pending notifies ${pending} != ${this.notifyOwners.size}`);
    return problems;
  }

  // ── internals: callbacks ──────────────────────────────────────────────────────────────────────────────────

  private run<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      if (this.depth === 0) this.runDeferred();
    }
  }

  private defer(cb: () => void): void {
    this.deferred.push(cb);
  }

  private runDeferred(): void {
    if (this.flushing) return;
    this.flushing = true;
    let failed = false;
    let error: unknown;
    try {
      for (let cb = this.deferred.shift(); cb !== undefined; cb = this.deferred.shift()) {
        try {
          cb();
        } catch (e) {
          if (!failed) {
            failed = true;
            error = e;
          }
        }
      }
    } finally {
      this.flushing = false;
    }
    if (failed) throw error;
  }

  // ── internals: model ──────────────────────────────────────────────────────────────────────────────────────

  private buildShare(s: NormalizedShare): Share {
    const share = {
      name: s.name,
      type: s.type,
      permissions: s.permissions,
      declaredPermissions: s.declaredPermissions,
      label: s.label,
      capacity: s.capacity,
      used: 0,
      watchers: new Set<Open>(),
    } as Omit<Share, "root"> as Share;
    const root = this.newNode(share, "", true, null, 0);
    (share as { root: Node }).root = root;
    for (const f of s.files) {
      let parent = root;
      for (const c of f.components.slice(0, -1)) parent = parent.children.get(upcaseName(c)) as Node;
      const node = this.newNode(share, f.components[f.components.length - 1] as string, f.directory, parent, 0);
      node.attributes = f.attributes;
      node.creationTime = f.creationTime;
      node.lastAccessTime = f.lastAccessTime;
      node.lastWriteTime = f.lastWriteTime;
      node.changeTime = f.changeTime;
      if (!f.directory) {
        this.setSize(node, f.data.length);
        node.buf.set(f.data);
      }
      parent.children.set(node.key, node);
    }
    return share;
  }

  private newNode(share: Share, name: string, directory: boolean, parent: Node | null, now: number): Node {
    return new Node(++this.ids.node, share, name, directory, parent, now);
  }

  private permissionOf(share: Share, user: UserImage): SharePermission | null {
    const own = share.permissions.get(upcaseName(user.name));
    const everyone = share.permissions.get("*");
    if (own === undefined) return everyone ?? null;
    if (everyone === undefined) return own;
    return PERMISSION_RANK[own] >= PERMISSION_RANK[everyone] ? own : everyone;
  }

  private pathOf(node: Node): string {
    const names: string[] = [];
    for (let n: Node | null = node; n !== null && n.parent !== null; n = n.parent) names.push(n.name);
    return joinPath(names.reverse());
  }

  private infoOf(node: Node): FileInfo {
    const attributes = node.directory
      ? node.attributes | A.FILE_ATTRIBUTE_DIRECTORY
      : node.attributes === 0
        ? A.FILE_ATTRIBUTE_NORMAL
        : node.attributes;
    return {
      name: node.name,
      path: this.pathOf(node),
      directory: node.directory,
      size: node.directory ? 0 : node.size,
      allocationSize: node.directory ? 0 : allocationOf(node.size),
      attributes,
      creationTime: node.creationTime,
      lastAccessTime: node.lastAccessTime,
      lastWriteTime: node.lastWriteTime,
      changeTime: node.changeTime,
      fileId: node.id,
      deletePending: node.deletePending,
      numberOfLinks: node.deletePending ? 0 : 1,
    };
  }

  private sortedChildren(dir: Node): Node[] {
    return [...dir.children.values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Whether growing `node` to `size` bytes fits in the share. */
  private fits(node: Node, size: number): boolean {
    const share = node.share;
    const extra = allocationOf(size) - allocationOf(node.size);
    return extra <= (share.capacity ?? DEFAULT_CAPACITY) - share.used;
  }

  private setSize(node: Node, size: number): void {
    const share = node.share;
    share.used += allocationOf(size) - allocationOf(node.size);
    if (size > node.buf.length) {
      const grown = new Uint8Array(Math.max(size, Math.min(node.buf.length * 2, size + (1 << 20))));
      grown.set(node.buf.subarray(0, node.size));
      node.buf = grown;
    } else if (size < node.size) {
      node.buf.fill(0, size, node.size);
    }
    node.size = size;
  }

  /** Timestamps and notification after the data or size of a file changed. */
  private touchWrite(node: Node, now: number, oldSize: number): void {
    const oldAttributes = node.attributes;
    node.attributes |= A.FILE_ATTRIBUTE_ARCHIVE;
    node.lastWriteTime = now;
    node.changeTime = now;
    let filter = N.FILE_NOTIFY_CHANGE_LAST_WRITE;
    if (node.size !== oldSize) filter |= N.FILE_NOTIFY_CHANGE_SIZE;
    if (node.attributes !== oldAttributes) filter |= N.FILE_NOTIFY_CHANGE_ATTRIBUTES;
    this.reportModified(node, filter);
  }

  private reportModified(node: Node, filter: number): void {
    if (filter === 0 || node.parent === null) return;
    this.report(node.share, [{ dir: node.parent, name: node.name, action: FILE_ACTION.FILE_ACTION_MODIFIED, filter }]);
  }

  /** Deliver the records of one operation to every watcher of the share, in watch order. */
  private report(share: Share, changes: Change[]): void {
    for (const w of share.watchers) {
      const watch = w.watch;
      if (watch === null) continue;
      const records: NotifyRecord[] = [];
      for (const c of changes) {
        if ((c.filter & watch.filter) === 0) continue;
        const rel = relativeDir(w.node, c.dir, watch.watchTree);
        if (rel === null) continue;
        rel.push(c.name);
        records.push({ action: c.action, fileName: rel.join("\\") });
      }
      const done = watch.deliver(records);
      if (done !== null) this.completeNotify(done.request, done.result);
    }
  }

  private completeNotify(request: PendingNotify, result: NotifyResult): void {
    this.notifyOwners.delete(request.notifyId);
    this.defer(() => request.onComplete(result));
  }

  private grantWaiters(node: Node): void {
    if (node.locks === null) return;
    for (const w of node.locks.grantWaiters()) this.defer(() => w.onGranted(S.STATUS_SUCCESS));
  }

  private attach(parent: Node, node: Node, now: number): void {
    parent.children.set(node.key, node);
    node.parent = parent;
    parent.lastWriteTime = now;
    parent.changeTime = now;
  }

  /** Unlink a node (with no opens) from its parent; no notification. */
  private detach(node: Node, now: number): Node {
    const parent = node.parent as Node;
    parent.children.delete(node.key);
    node.parent = null;
    node.removed = true;
    if (!node.directory) this.setSize(node, 0);
    parent.lastWriteTime = now;
    parent.changeTime = now;
    return parent;
  }

  private register(tree: Tree, node: Node, granted: number, mode: number, deleteOnClose: boolean): Open {
    const open = new Open(++this.ids.open, tree, node, granted >>> 0, mode, deleteOnClose);
    addOpen(node, open);
    tree.opens.add(open);
    this.opens.set(open.id, open);
    return open;
  }

  private closeOpen(open: Open, now: number, pendingStatus: NTSTATUS, lockWaitStatus: NTSTATUS): FileInfo {
    const node = open.node;
    this.opens.delete(open.id);
    open.tree.opens.delete(open);
    if (open.watch !== null) {
      for (const p of open.watch.drain()) this.completeNotify(p, { status: pendingStatus, records: [] });
      node.share.watchers.delete(open);
      open.watch = null;
    }
    open.enumeration = null;
    const locks = node.locks;
    if (locks !== null) {
      for (const w of locks.removeWaitersOf(open)) this.defer(() => w.onGranted(lockWaitStatus));
      if (locks.releaseOwner(open) > 0) this.grantWaiters(node);
    }
    removeOpen(node, open);
    if (!node.isOpen && node.locks !== null && node.locks.empty) node.locks = null;
    if (open.deleteOnClose && !node.deletePending && (!node.directory || node.children.size === 0)) {
      node.deletePending = true;
    }
    const info = this.infoOf(node);
    if (node.deletePending && !node.isOpen) {
      const parent = this.detach(node, now);
      this.report(node.share, [
        { dir: parent, name: node.name, action: FILE_ACTION.FILE_ACTION_REMOVED, filter: nameFilter(node) },
      ]);
    }
    return info;
  }

  /**
   * Fail every pending request of the trees' opens with STATUS_NETWORK_NAME_DELETED first (so that closing one open
   * does not grant a lock to another open that is about to go too), then close the opens and end the trees.
   */
  private disconnectTrees(trees: readonly Tree[], now: number): void {
    const gone = S.STATUS_NETWORK_NAME_DELETED;
    const opens = trees.flatMap((tree) => [...tree.opens]);
    for (const open of opens) {
      if (open.watch !== null)
        for (const p of open.watch.drain()) this.completeNotify(p, { status: gone, records: [] });
      for (const w of open.node.locks?.removeWaitersOf(open) ?? []) this.defer(() => w.onGranted(gone));
    }
    for (const open of opens) this.closeOpen(open, now, gone, gone);
    for (const tree of trees) {
      this.trees.delete(tree.id);
      tree.session.trees.delete(tree);
    }
  }

  /** Resolve all but the last component: the parent directory, or the status for a bad intermediate component. */
  private resolveParent(share: Share, components: readonly string[]): Node | NTSTATUS {
    let dir = share.root;
    for (let i = 0; i < components.length - 1; i++) {
      const next = dir.children.get(upcaseName(components[i] as string));
      if (next === undefined || !next.directory) return S.STATUS_OBJECT_PATH_NOT_FOUND;
      dir = next;
    }
    return dir;
  }

  private doCreate(treeId: number, req: CreateRequest, now: number): CreateResult {
    const fail = (status: NTSTATUS): CreateResult => ({ status, fileId: 0, createAction: 0, info: emptyInfo() });
    const tree = this.trees.get(treeId);
    if (tree === undefined) return fail(S.STATUS_NETWORK_NAME_DELETED);
    const share = tree.share;
    if (share.type === "ipc") return fail(S.STATUS_INVALID_DEVICE_REQUEST);
    const disposition = req.disposition;
    const options = req.createOptions >>> 0;
    const fileAttributes = req.fileAttributes >>> 0;
    if (!Number.isInteger(disposition) || disposition < 0 || disposition > FILE_MAXIMUM_DISPOSITION) {
      return fail(S.STATUS_INVALID_PARAMETER);
    }
    if (((req.shareAccess >>> 0) & ~FILE_SHARE_VALID_FLAGS) !== 0) return fail(S.STATUS_INVALID_PARAMETER);
    if ((options & CREATE_OPTIONS_INVALID) !== 0) return fail(S.STATUS_INVALID_PARAMETER);
    const wantDir = (options & FILE_DIRECTORY_FILE) !== 0;
    const wantFile = (options & FILE_NON_DIRECTORY_FILE) !== 0;
    if (wantDir && wantFile) return fail(S.STATUS_INVALID_PARAMETER);
    if (wantDir && disposition !== FILE_CREATE && disposition !== FILE_OPEN && disposition !== FILE_OPEN_IF) {
      return fail(S.STATUS_INVALID_PARAMETER);
    }
    if ((fileAttributes & CREATE_INVALID_ATTRIBUTES) !== 0) return fail(S.STATUS_INVALID_PARAMETER);
    const rawAccess = req.desiredAccess >>> 0;
    if (rawAccess === 0 || (rawAccess & SMB2_INVALID_ACCESS_BITS) !== 0) return fail(S.STATUS_ACCESS_DENIED);
    if ((rawAccess & ACCESS_SYSTEM_SECURITY) !== 0) return fail(S.STATUS_PRIVILEGE_NOT_HELD);
    const parsed = parsePath(req.path);
    if (!parsed.ok) return fail(parsed.status);
    const mapped = mapGenericMask(rawAccess);
    const maximum = (mapped & MAXIMUM_ALLOWED) !== 0;
    const desired = (mapped & ~MAXIMUM_ALLOWED) >>> 0;
    const shareMax = tree.maximalAccess;
    if ((desired & ~shareMax) !== 0) return fail(S.STATUS_ACCESS_DENIED);
    const deleteOnClose = (options & FILE_DELETE_ON_CLOSE) !== 0;

    const comps = parsed.components;
    let parent: Node | null = null;
    let leaf: Node | undefined = share.root;
    if (comps.length > 0) {
      const p = this.resolveParent(share, comps);
      if (typeof p === "number") return fail(p);
      parent = p;
      leaf = p.children.get(upcaseName(comps[comps.length - 1] as string));
    }

    if (leaf !== undefined) {
      // ── open an existing node
      if (leaf.deletePending) return fail(S.STATUS_DELETE_PENDING);
      if (disposition === FILE_CREATE) return fail(S.STATUS_OBJECT_NAME_COLLISION);
      if (wantDir && !leaf.directory) return fail(S.STATUS_NOT_A_DIRECTORY);
      if (wantFile && leaf.directory) return fail(S.STATUS_FILE_IS_A_DIRECTORY);
      const overwrite =
        disposition === FILE_SUPERSEDE || disposition === FILE_OVERWRITE || disposition === FILE_OVERWRITE_IF;
      if (leaf.directory && overwrite) return fail(S.STATUS_OBJECT_NAME_COLLISION);
      const readOnly = (leaf.attributes & A.FILE_ATTRIBUTE_READONLY) !== 0;
      const readOnlyFile = readOnly && !leaf.directory;
      let granted = desired;
      if (maximum) granted = (granted | (shareMax & ~(readOnlyFile ? WRITE_ACCESS : 0))) >>> 0;
      if (readOnlyFile && (desired & WRITE_ACCESS) !== 0) return fail(S.STATUS_ACCESS_DENIED);
      if (overwrite) {
        if (readOnlyFile || (shareMax & FILE_WRITE_DATA) === 0) return fail(S.STATUS_ACCESS_DENIED);
        const keep = leaf.attributes & (A.FILE_ATTRIBUTE_HIDDEN | A.FILE_ATTRIBUTE_SYSTEM);
        if ((keep & ~fileAttributes) !== 0) return fail(S.STATUS_ACCESS_DENIED);
      }
      if (deleteOnClose) {
        if ((granted & DELETE) === 0) return fail(S.STATUS_ACCESS_DENIED);
        if (leaf.parent === null || readOnly) return fail(S.STATUS_CANNOT_DELETE);
        if (leaf.directory && leaf.children.size > 0) return fail(S.STATUS_DIRECTORY_NOT_EMPTY);
      }
      const mode = shareModeOf(granted | (overwrite ? FILE_WRITE_DATA : 0), req.shareAccess);
      if (!nodeShareAllows(leaf, mode)) return fail(S.STATUS_SHARING_VIOLATION);
      let createAction: number = FILE_OPENED;
      if (overwrite) {
        const oldSize = leaf.size;
        const oldAttributes = leaf.attributes;
        this.setSize(leaf, 0);
        leaf.attributes = ((fileAttributes & FILE_CREATE_ATTRIBUTES) | A.FILE_ATTRIBUTE_ARCHIVE) >>> 0;
        leaf.lastWriteTime = now;
        leaf.changeTime = now;
        leaf.lastAccessTime = now;
        let filter = N.FILE_NOTIFY_CHANGE_LAST_WRITE;
        if (oldSize !== 0) filter |= N.FILE_NOTIFY_CHANGE_SIZE;
        if (oldAttributes !== leaf.attributes) filter |= N.FILE_NOTIFY_CHANGE_ATTRIBUTES;
        this.reportModified(leaf, filter);
        createAction = disposition === FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
      }
      const open = this.register(tree, leaf, granted, mode, deleteOnClose);
      return { status: S.STATUS_SUCCESS, fileId: open.id, createAction, info: this.infoOf(leaf) };
    }

    // ── create a new node
    const dir = parent as Node;
    if (disposition === FILE_OPEN || disposition === FILE_OVERWRITE) return fail(S.STATUS_OBJECT_NAME_NOT_FOUND);
    if (dir.deletePending) return fail(S.STATUS_DELETE_PENDING);
    if ((shareMax & (wantDir ? FILE_ADD_SUBDIRECTORY : FILE_ADD_FILE)) === 0) return fail(S.STATUS_ACCESS_DENIED);
    const granted = maximum ? (desired | shareMax) >>> 0 : desired;
    if (deleteOnClose) {
      if ((granted & DELETE) === 0) return fail(S.STATUS_ACCESS_DENIED);
      if ((fileAttributes & A.FILE_ATTRIBUTE_READONLY) !== 0) return fail(S.STATUS_CANNOT_DELETE);
    }
    const mode = shareModeOf(granted, req.shareAccess);
    const node = this.newNode(share, comps[comps.length - 1] as string, wantDir, null, now);
    node.attributes = wantDir
      ? (A.FILE_ATTRIBUTE_DIRECTORY | (fileAttributes & DIRECTORY_CREATE_ATTRIBUTES)) >>> 0
      : ((fileAttributes & FILE_CREATE_ATTRIBUTES) | A.FILE_ATTRIBUTE_ARCHIVE) >>> 0;
    this.attach(dir, node, now);
    this.report(share, [{ dir, name: node.name, action: FILE_ACTION.FILE_ACTION_ADDED, filter: nameFilter(node) }]);
    const open = this.register(tree, node, granted, mode, deleteOnClose);
    return { status: S.STATUS_SUCCESS, fileId: open.id, createAction: FILE_CREATED, info: this.infoOf(node) };
  }

  private doRename(fileId: number, newPath: string, replaceIfExists: boolean, now: number): NTSTATUS {
    const open = this.opens.get(fileId);
    if (open === undefined) return S.STATUS_FILE_CLOSED;
    if ((open.grantedAccess & DELETE) === 0) return S.STATUS_ACCESS_DENIED;
    const node = open.node;
    const share = node.share;
    const oldParent = node.parent;
    if (oldParent === null) return S.STATUS_INVALID_PARAMETER;
    if (node.deletePending) return S.STATUS_DELETE_PENDING;
    const parsed = parsePath(newPath);
    if (!parsed.ok) return parsed.status;
    const comps = parsed.components;
    if (comps.length === 0) return S.STATUS_OBJECT_NAME_INVALID;
    const p = this.resolveParent(share, comps);
    if (typeof p === "number") return p;
    const newParent = p;
    if (newParent.deletePending) return S.STATUS_DELETE_PENDING;
    for (let n: Node | null = newParent; n !== null; n = n.parent) if (n === node) return S.STATUS_INVALID_PARAMETER;
    const newName = comps[comps.length - 1] as string;
    const newKey = upcaseName(newName);
    const existing = newParent.children.get(newKey);
    if (existing === node && node.name === newName) return S.STATUS_SUCCESS;
    if (existing !== undefined && existing !== node) {
      if (!replaceIfExists) return S.STATUS_OBJECT_NAME_COLLISION;
      if (existing.directory || existing.isOpen) return S.STATUS_ACCESS_DENIED;
      if ((existing.attributes & A.FILE_ATTRIBUTE_READONLY) !== 0) return S.STATUS_ACCESS_DENIED;
    }
    if (node.directory && hasOpenBelow(node)) return S.STATUS_ACCESS_DENIED;

    const changes: Change[] = [];
    if (existing !== undefined && existing !== node) {
      this.detach(existing, now);
      changes.push({
        dir: newParent,
        name: existing.name,
        action: FILE_ACTION.FILE_ACTION_REMOVED,
        filter: nameFilter(existing),
      });
    }
    const oldName = node.name;
    oldParent.children.delete(node.key);
    oldParent.lastWriteTime = now;
    oldParent.changeTime = now;
    node.name = intern(newName);
    node.key = intern(newKey);
    this.attach(newParent, node, now);
    node.changeTime = now;
    const filter = nameFilter(node);
    if (oldParent === newParent) {
      changes.push({ dir: oldParent, name: oldName, action: FILE_ACTION.FILE_ACTION_RENAMED_OLD_NAME, filter });
      changes.push({ dir: newParent, name: newName, action: FILE_ACTION.FILE_ACTION_RENAMED_NEW_NAME, filter });
    } else {
      changes.push({ dir: oldParent, name: oldName, action: FILE_ACTION.FILE_ACTION_REMOVED, filter });
      changes.push({ dir: newParent, name: newName, action: FILE_ACTION.FILE_ACTION_ADDED, filter });
    }
    this.report(share, changes);
    return S.STATUS_SUCCESS;
  }
}

/** The path from `watched` down to `dir` (names), or null when `dir` is out of the watch's scope. */
function relativeDir(watched: Node, dir: Node, tree: boolean): string[] | null {
  if (dir === watched) return [];
  if (!tree) return null;
  const names: string[] = [];
  for (let n: Node | null = dir; n !== null; n = n.parent) {
    if (n === watched) return names.reverse();
    names.push(n.name);
  }
  return null;
}

function hasOpenBelow(dir: Node): boolean {
  for (const child of dir.children.values()) {
    if (child.isOpen) return true;
    if (child.directory && hasOpenBelow(child)) return true;
  }
  return false;
}

// ── Several servers ──────────────────────────────────────────────────────────────────────────────────────────

/** Several servers at once, by name (names ignore case). */
export class MemSmbWorld {
  private readonly byName = new Map<string, MemSmbServer>();
  private readonly list: MemSmbServer[] = [];

  constructor(images: readonly ServerImage[] = []) {
    for (const image of images) this.add(image);
  }

  /** Builds and adds a server; throws ServerImageError for a bad image or a name already in use. */
  add(image: ServerImage): MemSmbServer {
    const server = new MemSmbServer(image);
    const key = upcaseName(server.name);
    if (this.byName.has(key)) throw new ServerImageError("name", `a server named "${server.name}" already exists`);
    this.byName.set(key, server);
    this.list.push(server);
    return server;
  }

  get(name: string): MemSmbServer | undefined {
    return this.byName.get(upcaseName(name));
  }

  /** The servers in the order they were added. */
  get servers(): MemSmbServer[] {
    return [...this.list];
  }
}
