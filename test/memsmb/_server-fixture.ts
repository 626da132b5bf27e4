/**
 * Shared fixtures for the memsmb server tests: a sample image, connection and open helpers.
 */
import {
  FILE_GENERIC_READ,
  FILE_OPEN,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
} from "../../emulator/io/index.js";
import { type NTSTATUS, STATUS, statusName } from "../../emulator/kernel/index.js";
import {
  type CreateRequest,
  type CreateResult,
  MemSmbServer,
  type ServerImage,
} from "../../miniredirs/memsmb/server/index.js";

export const S = STATUS;
export const T0 = 1_000_000;
export const SHARE_ALL = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | null): string => (b === null ? "<null>" : new TextDecoder().decode(b));

/** "STATUS_SUCCESS" for a status (readable assertion messages). */
export function sn(s: NTSTATUS): string {
  return statusName(s);
}

export function sampleImage(): ServerImage {
  return {
    name: "srv",
    users: [
      { name: "alice", password: "alice-pw" },
      { name: "bob", password: "bob-pw" },
      { name: "carol", password: "carol-pw" },
      { name: "dave", password: "dave-pw" },
    ],
    shares: [
      {
        name: "Data",
        permissions: { alice: "full", bob: "read", carol: "change" },
        files: [
          { path: "\\readme.txt", data: "hello world" },
          { path: "\\docs\\a.txt", data: "AAAA" },
          { path: "\\docs\\b.txt", data: "BBBB" },
          { path: "\\docs\\sub\\c.txt", data: "CCCC" },
          { path: "\\empty", directory: true },
          { path: "\\ro.txt", data: "read only", attributes: 0x01 },
          { path: "\\hidden.txt", data: "h", attributes: 0x02 | 0x20 },
        ],
      },
      { name: "IPC$", permissions: { "*": "read" } },
      { name: "pub", permissions: { "*": "change" }, capacity: 64 * 1024, label: "PUBLIC" },
    ],
  };
}

export function newServer(image: ServerImage = sampleImage()): MemSmbServer {
  return new MemSmbServer(image);
}

export function connect(
  server: MemSmbServer,
  user = "alice",
  share = "data",
  password = `${user}-pw`,
): { sessionId: number; treeId: number } {
  const s = server.sessionSetup(user, password);
  if (s.status !== S.STATUS_SUCCESS) throw new Error(`sessionSetup(${user}) → ${sn(s.status)}`);
  const t = server.treeConnect(s.sessionId, share);
  if (t.status !== S.STATUS_SUCCESS) throw new Error(`treeConnect(${share}) → ${sn(t.status)}`);
  return { sessionId: s.sessionId, treeId: t.treeId };
}

export function req(path: string, over: Partial<CreateRequest> = {}): CreateRequest {
  return {
    path,
    desiredAccess: FILE_GENERIC_READ,
    shareAccess: SHARE_ALL,
    disposition: FILE_OPEN,
    createOptions: 0,
    fileAttributes: 0,
    ...over,
  };
}

export function open(
  server: MemSmbServer,
  treeId: number,
  path: string,
  over: Partial<CreateRequest> = {},
  now = T0,
): CreateResult {
  return server.create(treeId, req(path, over), now);
}

/** Open and insist on success; returns the file id. */
export function mustOpen(
  server: MemSmbServer,
  treeId: number,
  path: string,
  over: Partial<CreateRequest> = {},
  now = T0,
): number {
  const r = open(server, treeId, path, over, now);
  if (r.status !== S.STATUS_SUCCESS) throw new Error(`create(${path}) → ${sn(r.status)}`);
  return r.fileId;
}
