/**
 * memsmb server: share-relative path parsing and validation, case-insensitive name keys, and the directory-query
 * wildcard matcher. Pure functions, no state.
 *
 * A path is relative to the share root: "\a\b", "a\b", "" and "\" (the root). Every component must be a valid
 * NTFS name as the Win32 layer would accept it; anything else is STATUS_OBJECT_NAME_INVALID:
 * - empty components (so "\\srv\share\x", "a\\b" and a trailing "\" are rejected), "." and "..";
 * - characters < > : " / | ? * and control characters U+0000-U+001F (so "C:\x" and "a/b" are rejected);
 * - trailing dots or spaces;
 * - DOS device names CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9, also with an extension or trailing spaces before it
 *   ("con.txt", "LPT1 .log");
 * - components longer than 255 UTF-16 units, paths longer than 32767.
 * Since ".." never gets through, nothing can name a node outside the share.
 */
import { type NTSTATUS, STATUS } from "../../../emulator/kernel/index.js";

export const MAX_NAME_LENGTH = 255;
export const MAX_PATH_LENGTH = 32767;

const DEVICE_NAMES: ReadonlySet<string> = new Set([
  "CON",
  "PRN",
  "AUX",
  "NUL",
  ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`),
]);

/** Characters never valid in a name component ("\" is the separator and is handled by the caller). */
const INVALID_NAME_CHARS = new Set(["<", ">", ":", '"', "/", "|", "?", "*", "\\"]);
/** Characters never valid in a search pattern (the wildcards * ? < > " are allowed there). */
const INVALID_PATTERN_CHARS = new Set([":", "/", "|", "\\"]);

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Upper-case a name one UTF-16 unit at a time, like RtlUpcaseUnicodeChar: the length never changes (a character whose
 * upper case is longer, such as "ß", stays as it is). Names compare equal when their upcased forms are equal.
 */
export function upcaseName(s: string): string {
  if (PRINTABLE_ASCII.test(s)) return s.toUpperCase();
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    const u = c.toUpperCase();
    out += u.length === 1 ? u : c;
  }
  return out;
}

/** Whether `name` is a valid single component; returns the reason when it is not. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return "empty name component";
  if (name.length > MAX_NAME_LENGTH) return `name longer than ${MAX_NAME_LENGTH} characters`;
  if (name === "." || name === "..") return `"${name}" is not allowed`;
  for (let i = 0; i < name.length; i++) {
    const c = name[i] as string;
    if (c.charCodeAt(0) < 0x20) return `control character U+${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    if (INVALID_NAME_CHARS.has(c)) return `invalid character '${c}'`;
  }
  const last = name[name.length - 1];
  if (last === "." || last === " ") return "trailing dot or space";
  const dot = name.indexOf(".");
  const base = (dot < 0 ? name : name.slice(0, dot)).trimEnd().toUpperCase();
  if (DEVICE_NAMES.has(base)) return `"${name}" is a reserved device name`;
  return null;
}

export type ParsedPath = { ok: true; components: string[] } | { ok: false; status: NTSTATUS; reason: string };

/** Split and validate a share-relative path; `components` is empty for the share root. */
export function parsePath(path: string): ParsedPath {
  if (typeof path !== "string") return invalid("path is not a string");
  if (path.length > MAX_PATH_LENGTH) return invalid(`path longer than ${MAX_PATH_LENGTH} characters`);
  const rest = path.startsWith("\\") ? path.slice(1) : path;
  if (rest === "") return { ok: true, components: [] };
  const components = rest.split("\\");
  for (const c of components) {
    const problem = nameProblem(c);
    if (problem !== null) return invalid(problem);
  }
  return { ok: true, components };
}

function invalid(reason: string): ParsedPath {
  return { ok: false, status: STATUS.STATUS_OBJECT_NAME_INVALID, reason };
}

/** "\a\b" for ["a", "b"], "\" for the root. */
export function joinPath(components: readonly string[]): string {
  return `\\${components.join("\\")}`;
}

/** STATUS_SUCCESS when `pattern` is a valid search expression, STATUS_OBJECT_NAME_INVALID otherwise. */
export function checkPattern(pattern: string): NTSTATUS {
  if (pattern.length === 0 || pattern.length > MAX_NAME_LENGTH) return STATUS.STATUS_OBJECT_NAME_INVALID;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c.charCodeAt(0) < 0x20 || INVALID_PATTERN_CHARS.has(c)) return STATUS.STATUS_OBJECT_NAME_INVALID;
  }
  return STATUS.STATUS_SUCCESS;
}

/** Whether the pattern holds any wildcard (* ? and the DOS wildcards < > "). */
export function hasWildcards(pattern: string): boolean {
  return /[*?<>"]/.test(pattern);
}

/**
 * FsRtlIsNameInExpression with IgnoreCase: `*` matches any run of characters (dots included), `?` exactly one
 * character, and the DOS wildcards the Win32 layer produces: `<` (DOS_STAR) matches any run that does not pass the
 * name's last dot, `>` (DOS_QM) one character or nothing at a dot or the end of the name, `"` (DOS_DOT) a dot or
 * nothing at the end of the name. Literal characters compare case-insensitively. `*.*` therefore needs a dot in the
 * name: the Win32 layer turns a user's "*.*" into "*" before it reaches a file system.
 */
export function matchPattern(pattern: string, name: string): boolean {
  const p = upcaseName(pattern);
  const n = upcaseName(name);
  if (p === "*") return true;
  const lastDot = n.lastIndexOf(".");
  const width = n.length + 1;
  // 0 = unknown, 1 = false, 2 = true
  const memo = new Uint8Array((p.length + 1) * width);
  const go = (pi: number, ni: number): boolean => {
    const slot = pi * width + ni;
    const seen = memo[slot];
    if (seen !== undefined && seen !== 0) return seen === 2;
    let r: boolean;
    if (pi === p.length) {
      r = ni === n.length;
    } else {
      const c = p[pi] as string;
      const atEnd = ni === n.length;
      switch (c) {
        case "*":
          r = go(pi + 1, ni) || (!atEnd && go(pi, ni + 1));
          break;
        case "?":
          r = !atEnd && go(pi + 1, ni + 1);
          break;
        case "<":
          r = go(pi + 1, ni) || (!atEnd && !(n[ni] === "." && ni === lastDot) && go(pi, ni + 1));
          break;
        case ">":
          r = atEnd || n[ni] === "." ? go(pi + 1, ni) : go(pi + 1, ni + 1);
          break;
        case '"':
          r = atEnd ? go(pi + 1, ni) : n[ni] === "." && go(pi + 1, ni + 1);
          break;
        default:
          r = !atEnd && n[ni] === c && go(pi + 1, ni + 1);
      }
    }
    memo[slot] = r ? 2 : 1;
    return r;
  };
  return go(0, 0);
}
