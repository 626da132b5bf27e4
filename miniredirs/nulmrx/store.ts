/**
 * nulmrx's backing store: an in-memory tree of files and directories per share. Nothing here knows about RDBSS.
 */
import { FILE_ACTION, FILE_ATTRIBUTE, FILE_NOTIFY_CHANGE } from "../../emulator/io/index.js";

export interface NulNode {
  name: string;
  readonly isDirectory: boolean;
  readonly children: Map<string, NulNode>;
  data: Uint8Array;
  attributes: number;
  creationTime: number;
  lastAccessTime: number;
  lastWriteTime: number;
  changeTime: number;
  readonly fileId: number;
  parent: NulNode | null;
}

export interface NulChange {
  /** The changed entry's path relative to the share ("\dir\file"). */
  readonly path: string;
  readonly action: number;
  /** FILE_NOTIFY_CHANGE_* bits this change matches. */
  readonly filter: number;
}

export function newNode(name: string, isDirectory: boolean, parent: NulNode | null, now: number, fileId = 0): NulNode {
  return {
    name,
    isDirectory,
    children: new Map(),
    data: new Uint8Array(0),
    attributes: isDirectory ? FILE_ATTRIBUTE.FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE.FILE_ATTRIBUTE_ARCHIVE,
    creationTime: now,
    lastAccessTime: now,
    lastWriteTime: now,
    changeTime: now,
    fileId,
    parent,
  };
}

/** One share: a directory tree and the listeners for its changes. */
export class NulShare {
  readonly name: string;
  readonly root: NulNode;
  readonly listeners = new Set<(c: NulChange) => void>();
  /** File ids are numbered per share (no module-level state: emulators in one process never interfere). */
  private nextFileId = 1;

  constructor(name: string, now: number) {
    this.name = name;
    this.root = newNode("", true, null, now, this.nextFileId++);
  }

  /** Split "\a\b" into components; null for a name with an escape ("..", empty inner component). */
  static split(path: string): string[] | null {
    if (path === "" || path === "\\") return [];
    const parts = path.split("\\").filter((p, i) => !(i === 0 && p === ""));
    for (const p of parts) if (p === "" || p === "." || p === "..") return null;
    return parts;
  }

  lookup(path: string): NulNode | null {
    const parts = NulShare.split(path);
    if (parts === null) return null;
    let n: NulNode = this.root;
    for (const p of parts) {
      const c = n.children.get(p.toUpperCase());
      if (!c) return null;
      n = c;
    }
    return n;
  }

  parentOf(path: string): { parent: NulNode | null; leaf: string } {
    const parts = NulShare.split(path);
    if (parts === null || parts.length === 0) return { parent: null, leaf: "" };
    const leaf = parts[parts.length - 1] as string;
    const parent = this.lookup(`\\${parts.slice(0, -1).join("\\")}`);
    return { parent: parent?.isDirectory ? parent : null, leaf };
  }

  pathOf(n: NulNode): string {
    const parts: string[] = [];
    for (let c: NulNode | null = n; c?.parent; c = c.parent) parts.unshift(c.name);
    return `\\${parts.join("\\")}`;
  }

  emit(node: NulNode, action: number, filter: number): void {
    const c: NulChange = { path: this.pathOf(node), action, filter };
    for (const l of [...this.listeners]) l(c);
  }

  create(parent: NulNode, leaf: string, isDirectory: boolean, now: number): NulNode {
    const n = newNode(leaf, isDirectory, parent, now, this.nextFileId++);
    parent.children.set(leaf.toUpperCase(), n);
    parent.lastWriteTime = now;
    this.emit(
      n,
      FILE_ACTION.FILE_ACTION_ADDED,
      isDirectory ? FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_DIR_NAME : FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
    );
    return n;
  }

  remove(n: NulNode, now: number): void {
    if (!n.parent) return;
    this.emit(
      n,
      FILE_ACTION.FILE_ACTION_REMOVED,
      n.isDirectory ? FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_DIR_NAME : FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME,
    );
    n.parent.children.delete(n.name.toUpperCase());
    n.parent.lastWriteTime = now;
    n.parent = null;
  }

  rename(n: NulNode, newParent: NulNode, newLeaf: string, now: number): void {
    const filter = n.isDirectory
      ? FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_DIR_NAME
      : FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_FILE_NAME;
    this.emit(n, FILE_ACTION.FILE_ACTION_RENAMED_OLD_NAME, filter);
    n.parent?.children.delete(n.name.toUpperCase());
    n.name = newLeaf;
    n.parent = newParent;
    newParent.children.set(newLeaf.toUpperCase(), n);
    n.changeTime = now;
    this.emit(n, FILE_ACTION.FILE_ACTION_RENAMED_NEW_NAME, filter);
  }

  write(n: NulNode, offset: number, bytes: Uint8Array, now: number): void {
    const end = offset + bytes.length;
    if (end > n.data.length) {
      const grown = new Uint8Array(end);
      grown.set(n.data);
      n.data = grown;
    }
    n.data.set(bytes, offset);
    n.lastWriteTime = n.changeTime = now;
    this.emit(
      n,
      FILE_ACTION.FILE_ACTION_MODIFIED,
      FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_SIZE,
    );
  }

  truncate(n: NulNode, size: number, now: number): void {
    const d = new Uint8Array(size);
    d.set(n.data.subarray(0, Math.min(size, n.data.length)));
    n.data = d;
    n.lastWriteTime = n.changeTime = now;
    this.emit(
      n,
      FILE_ACTION.FILE_ACTION_MODIFIED,
      FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE.FILE_NOTIFY_CHANGE_LAST_WRITE,
    );
  }
}

/** Windows-style wildcard match of a name against a template (* and ?), case-insensitive. */
export function matchesTemplate(name: string, template: string): boolean {
  if (template === "*" || template === "*.*") return true;
  const re = new RegExp(
    `^${template
      .split("")
      .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("")}$`,
    "i",
  );
  return re.test(name);
}
