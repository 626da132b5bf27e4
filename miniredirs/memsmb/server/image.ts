/**
 * memsmb server images: a server described as data (scenario files and tests declare these), its validation with
 * located error messages, and the normalized form the server is built from.
 *
 * Validation rules (each failure throws a ServerImageError whose `path` names the offending field):
 * - `name`: non-empty, at most 63 characters, no whitespace, control characters or \ / : * ? " < > |;
 * - `users[i].name`: non-empty, not "*", no control characters or \ / [ ] : ; | = , + * ? < > ", unique ignoring
 *   case; `users[i].password`: a string (may be empty);
 * - `shares[i].name`: non-empty, at most 80 characters, no control characters or \ / : * ? " < > |, unique ignoring
 *   case; `type` is "disk" or "ipc" (default "ipc" for a share named IPC$, "disk" otherwise);
 * - `shares[i].permissions`: keys are "*" (everyone) or declared user names (any case), values "read", "change" or
 *   "full";
 * - `shares[i].files[j]`: `path` a valid non-root share-relative path (see paths.ts), declared once (ignoring case);
 *   missing parent directories are created implicitly, but no path may go through a declared file; `data` only on
 *   files (a string is stored as UTF-8); `attributes` a subset of the settable attributes (READONLY, HIDDEN,
 *   SYSTEM, ARCHIVE, NORMAL, TEMPORARY, OFFLINE, NOT_CONTENT_INDEXED) plus DIRECTORY for directories (default
 *   ARCHIVE for files); times are non-negative integers (100 ns units, default 0);
 * - an ipc share has no files; `capacity` (bytes, default 1 GiB) is a positive integer at least the space the files
 *   take; `label` at most 32 characters.
 */
import { FILE_ATTRIBUTE, FILE_ATTRIBUTE_VALID_SET_FLAGS } from "../../../emulator/io/index.js";
import { parsePath, upcaseName } from "./paths.js";

export type SharePermission = "read" | "change" | "full";

export interface FileImage {
  /** Share-relative path ("\dir\file.txt" or "dir\file.txt"). */
  path: string;
  data?: string | Uint8Array;
  directory?: boolean;
  attributes?: number;
  creationTime?: number;
  lastAccessTime?: number;
  lastWriteTime?: number;
  changeTime?: number;
}

export interface ShareImage {
  name: string;
  type?: "disk" | "ipc";
  /** user → permission; "*" = everyone. A user's effective permission is the strongest of its entry and "*". */
  permissions: Record<string, SharePermission>;
  files?: FileImage[];
  /** Volume label reported by queryVolume (default: the share name). */
  label?: string;
  /** Volume size in bytes (default 1 GiB); writes that would need more space fail with STATUS_DISK_FULL. */
  capacity?: number;
}

export interface UserImage {
  name: string;
  password: string;
}

export interface ServerImage {
  /** "srv" */
  name: string;
  users: UserImage[];
  shares: ShareImage[];
}

export class ServerImageError extends Error {
  /** Where in the image the problem is, e.g. "shares[1].files[3].path". */
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "ServerImageError";
    this.path = path;
  }
}

export const DEFAULT_CAPACITY = 1024 * 1024 * 1024;
export const CLUSTER_SIZE = 4096;

const PERMISSIONS: readonly SharePermission[] = ["read", "change", "full"];
const FILE_ATTRIBUTES_ALLOWED = FILE_ATTRIBUTE_VALID_SET_FLAGS;
const INVALID_HOST_CHARS = /[\s\\/:*?"<>|]/;
const INVALID_SHARE_CHARS = /[\\/:*?"<>|]/;
const INVALID_USER_CHARS = /[\\/[\]:;|=,+*?<>"]/;

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

export interface NormalizedFile {
  components: string[];
  directory: boolean;
  data: Uint8Array;
  /** Stored attributes: FILE_ATTRIBUTE_NORMAL stripped, FILE_ATTRIBUTE_DIRECTORY set on directories. */
  attributes: number;
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
}

export interface NormalizedShare {
  name: string;
  type: "disk" | "ipc";
  /** Upcased user name (or "*") → permission. */
  permissions: Map<string, SharePermission>;
  /** The permissions as declared (for snapshots). */
  declaredPermissions: Record<string, SharePermission>;
  /** Parents before children, in declaration order. */
  files: NormalizedFile[];
  label: string | null;
  capacity: number | null;
}

export interface NormalizedImage {
  name: string;
  users: UserImage[];
  shares: NormalizedShare[];
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isTime(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

export function allocationOf(size: number): number {
  return Math.ceil(size / CLUSTER_SIZE) * CLUSTER_SIZE;
}

/** Validate an image and normalize it; throws ServerImageError. */
export function normalizeImage(image: ServerImage): NormalizedImage {
  const fail = (path: string, message: string): never => {
    throw new ServerImageError(path, message);
  };
  if (!isRecord(image)) fail("(image)", "a server image must be an object");
  const raw = image as unknown as Record<string, unknown>;
  const name = raw.name;
  if (typeof name !== "string" || name.length === 0) return fail("name", "the server name must be a non-empty string");
  if (name.length > 63) fail("name", "the server name is longer than 63 characters");
  if (INVALID_HOST_CHARS.test(name) || hasControlChar(name)) fail("name", `invalid character in server name "${name}"`);

  if (!Array.isArray(raw.users)) fail("users", "users must be an array");
  const users: UserImage[] = [];
  const userKeys = new Set<string>();
  for (const [i, u] of (raw.users as unknown[]).entries()) {
    const at = `users[${i}]`;
    if (!isRecord(u)) return fail(at, "a user must be an object with name and password");
    if (typeof u.name !== "string" || u.name.length === 0)
      return fail(`${at}.name`, "the user name must be a non-empty string");
    if (u.name === "*") fail(`${at}.name`, `"*" is reserved for "everyone" in share permissions`);
    if (INVALID_USER_CHARS.test(u.name) || hasControlChar(u.name))
      fail(`${at}.name`, `invalid character in user name "${u.name}"`);
    if (typeof u.password !== "string") fail(`${at}.password`, "the password must be a string");
    const key = upcaseName(u.name);
    if (userKeys.has(key)) fail(`${at}.name`, `duplicate user "${u.name}"`);
    userKeys.add(key);
    users.push({ name: u.name, password: u.password as string });
  }

  if (!Array.isArray(raw.shares)) fail("shares", "shares must be an array");
  const shares: NormalizedShare[] = [];
  const shareKeys = new Set<string>();
  for (const [i, s] of (raw.shares as unknown[]).entries()) {
    const at = `shares[${i}]`;
    if (!isRecord(s)) return fail(at, "a share must be an object");
    const sname = s.name;
    if (typeof sname !== "string" || sname.length === 0)
      return fail(`${at}.name`, "the share name must be a non-empty string");
    if (sname.length > 80) fail(`${at}.name`, "the share name is longer than 80 characters");
    if (INVALID_SHARE_CHARS.test(sname) || hasControlChar(sname))
      fail(`${at}.name`, `invalid character in share name "${sname}"`);
    const skey = upcaseName(sname);
    if (shareKeys.has(skey)) fail(`${at}.name`, `duplicate share "${sname}" (share names ignore case)`);
    shareKeys.add(skey);
    let type: "disk" | "ipc" = skey === "IPC$" ? "ipc" : "disk";
    if (s.type !== undefined) {
      if (s.type !== "disk" && s.type !== "ipc") return fail(`${at}.type`, `type must be "disk" or "ipc"`);
      type = s.type;
    }
    if (!isRecord(s.permissions)) return fail(`${at}.permissions`, "permissions must be an object (user → permission)");
    const permissions = new Map<string, SharePermission>();
    const declaredPermissions: Record<string, SharePermission> = {};
    for (const [user, perm] of Object.entries(s.permissions)) {
      // Where a failure is (built only for one: every run of a scenario normalizes its images).
      const pat = (): string => `${at}.permissions[${JSON.stringify(user)}]`;
      const ukey = user === "*" ? "*" : upcaseName(user);
      if (ukey !== "*" && !userKeys.has(ukey)) fail(pat(), `unknown user "${user}"`);
      if (typeof perm !== "string" || !PERMISSIONS.includes(perm as SharePermission)) {
        fail(pat(), `permission must be "read", "change" or "full", not ${JSON.stringify(perm)}`);
      }
      if (permissions.has(ukey)) fail(pat(), `user "${user}" is listed twice (names ignore case)`);
      permissions.set(ukey, perm as SharePermission);
      declaredPermissions[user] = perm as SharePermission;
    }
    let label: string | null = null;
    if (s.label !== undefined) {
      if (typeof s.label !== "string" || s.label.length > 32)
        return fail(`${at}.label`, "label must be a string of at most 32 characters");
      label = s.label;
    }
    let capacity: number | null = null;
    if (s.capacity !== undefined) {
      if (typeof s.capacity !== "number" || !Number.isSafeInteger(s.capacity) || s.capacity <= 0) {
        return fail(`${at}.capacity`, "capacity must be a positive integer (bytes)");
      }
      capacity = s.capacity;
    }
    const files = normalizeFiles(s.files, `${at}.files`, type, fail);
    const used = files.reduce((sum, f) => sum + (f.directory ? 0 : allocationOf(f.data.length)), 0);
    if (used > (capacity ?? DEFAULT_CAPACITY))
      fail(`${at}.capacity`, `the files need ${used} bytes, more than the capacity`);
    shares.push({ name: sname, type, permissions, declaredPermissions, files, label, capacity });
  }
  return { name, users, shares };
}

function normalizeFiles(
  files: unknown,
  at: string,
  type: "disk" | "ipc",
  fail: (path: string, message: string) => never,
): NormalizedFile[] {
  if (files === undefined) return [];
  if (!Array.isArray(files)) return fail(at, "files must be an array");
  if (type === "ipc" && files.length > 0) fail(at, "an ipc share cannot hold files");
  const out: NormalizedFile[] = [];
  /** Upcased path → entry, and whether it was declared (rather than implied by a child). */
  const byPath = new Map<string, { entry: NormalizedFile; declared: number | null }>();
  const encoder = new TextEncoder();
  for (const [j, f] of (files as unknown[]).entries()) {
    const fat = `${at}[${j}]`;
    if (!isRecord(f)) return fail(fat, "a file must be an object with a path");
    if (typeof f.path !== "string") return fail(`${fat}.path`, "path must be a string");
    const parsed = parsePath(f.path);
    if (!parsed.ok) return fail(`${fat}.path`, `invalid path "${f.path}": ${parsed.reason}`);
    if (parsed.components.length === 0) fail(`${fat}.path`, "the share root cannot be declared");
    if (f.directory !== undefined && typeof f.directory !== "boolean")
      fail(`${fat}.directory`, "directory must be a boolean");
    const directory = f.directory === true;
    if (directory && f.data !== undefined) fail(`${fat}.data`, "a directory cannot have data");
    let data = new Uint8Array(0);
    if (f.data !== undefined) {
      if (typeof f.data === "string") data = encoder.encode(f.data);
      else if (f.data instanceof Uint8Array) data = new Uint8Array(f.data);
      else return fail(`${fat}.data`, "data must be a string or a Uint8Array");
    }
    let attributes: number = directory
      ? FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY
      : FILE_ATTRIBUTE.FILE_ATTRIBUTE_ARCHIVE;
    if (f.attributes !== undefined) {
      const a = f.attributes;
      if (typeof a !== "number" || !Number.isInteger(a) || a < 0 || a > 0xffffffff) {
        return fail(`${fat}.attributes`, "attributes must be a 32-bit unsigned integer");
      }
      const allowed = FILE_ATTRIBUTES_ALLOWED | (directory ? FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY : 0);
      if ((a & ~allowed) !== 0) {
        fail(
          `${fat}.attributes`,
          `attributes 0x${(a & ~allowed).toString(16)} cannot be set on a ${directory ? "directory" : "file"}`,
        );
      }
      if (directory && (a & FILE_ATTRIBUTE.FILE_ATTRIBUTE_TEMPORARY) !== 0) {
        fail(`${fat}.attributes`, "a directory cannot be temporary");
      }
      attributes =
        (a & ~FILE_ATTRIBUTE.FILE_ATTRIBUTE_NORMAL) | (directory ? FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY : 0);
    }
    const times = { creationTime: 0, lastAccessTime: 0, lastWriteTime: 0, changeTime: 0 };
    for (const k of ["creationTime", "lastAccessTime", "lastWriteTime", "changeTime"] as const) {
      const v = f[k];
      if (v === undefined) continue;
      if (!isTime(v)) return fail(`${fat}.${k}`, "times must be non-negative integers (100 ns units)");
      times[k] = v;
    }
    // Parents: implied directories, unless one of them was declared as a file.
    const comps = parsed.components;
    for (let d = 1; d < comps.length; d++) {
      const prefix = comps.slice(0, d);
      const key = upcaseName(prefix.join("\\"));
      const existing = byPath.get(key);
      if (existing !== undefined) {
        if (!existing.entry.directory) {
          fail(`${fat}.path`, `"${prefix.join("\\")}" is a file (${at}[${existing.declared ?? "?"}]), not a directory`);
        }
        continue;
      }
      const implied: NormalizedFile = {
        components: prefix,
        directory: true,
        data: new Uint8Array(0),
        attributes: FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY,
        creationTime: 0,
        lastAccessTime: 0,
        lastWriteTime: 0,
        changeTime: 0,
      };
      byPath.set(key, { entry: implied, declared: null });
      out.push(implied);
    }
    const key = upcaseName(comps.join("\\"));
    const existing = byPath.get(key);
    if (existing !== undefined) {
      if (existing.declared !== null)
        fail(`${fat}.path`, `"${f.path}" is already declared at ${at}[${existing.declared}]`);
      if (!directory) fail(`${fat}.path`, `"${f.path}" is a directory (it holds other declared files)`);
      // A directory first implied by a child, declared afterwards: take the declared details.
      existing.entry.components = comps;
      existing.entry.attributes = attributes;
      Object.assign(existing.entry, times);
      existing.declared = j;
      continue;
    }
    const entry: NormalizedFile = { components: comps, directory, data, attributes, ...times };
    byPath.set(key, { entry, declared: j });
    out.push(entry);
  }
  return out;
}

/** Every file of a share (pre-order, parents first) as a FileImage with a copy of its data. */
export function fileImage(
  components: readonly string[],
  node: {
    directory: boolean;
    data: Uint8Array;
    attributes: number;
    creationTime: number;
    lastAccessTime: number;
    lastWriteTime: number;
    changeTime: number;
  },
): FileImage {
  const base: FileImage = { path: `\\${components.join("\\")}` };
  if (node.directory) base.directory = true;
  else base.data = new Uint8Array(node.data);
  base.attributes = node.attributes;
  base.creationTime = node.creationTime;
  base.lastAccessTime = node.lastAccessTime;
  base.lastWriteTime = node.lastWriteTime;
  base.changeTime = node.changeTime;
  return base;
}
