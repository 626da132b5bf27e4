/**
 * memsmb server: random sequences of operations keep the model's invariants.
 *
 * After every step: the server's own audit is clean (no open references a removed node, share-access counts match
 * the opens, locks and waiters belong to live opens, space accounting is right), stats agree with what the test
 * tracked (opens, pending notifications and lock waits), no callback ran twice, written data reads back, and the
 * snapshot round-trips through the constructor. At the end every session logs off: stats are all zero and every
 * pending request got exactly one completion. The same sequence on a fresh server gives the same results.
 */
import { fc, testProp } from "@fast-check/ava";
import {
  DELETE,
  FILE_ATTRIBUTE_HIDDEN,
  FILE_ATTRIBUTE_NORMAL,
  FILE_ATTRIBUTE_READONLY,
  FILE_DELETE_ON_CLOSE,
  FILE_DIRECTORY_FILE,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  FILE_LIST_DIRECTORY,
  FILE_NOTIFY_VALID_MASK,
  FILE_READ_ATTRIBUTES,
  FILE_WRITE_ATTRIBUTES,
  MAXIMUM_ALLOWED,
} from "../../emulator/io/index.js";
import { type NTSTATUS, STATUS, statusName } from "../../emulator/kernel/index.js";
import { MemSmbServer, type ServerImage } from "../../miniredirs/memsmb/server/index.js";

const IMAGE: ServerImage = {
  name: "prop",
  users: [
    { name: "full", password: "p" },
    { name: "change", password: "p" },
    { name: "read", password: "p" },
  ],
  shares: [
    {
      name: "s",
      permissions: { full: "full", change: "change", read: "read" },
      capacity: 256 * 1024,
      files: [
        { path: "a", data: "alpha" },
        { path: "d\\x", data: "x-ray" },
        { path: "d\\sub", directory: true },
        { path: "ro", data: "read-only", attributes: FILE_ATTRIBUTE_READONLY },
      ],
    },
  ],
};

const PATHS = ["a", "b", "ro", "d", "d\\x", "d\\y", "d\\sub", "d\\sub\\z", "e", "e\\w", "", "A", "D\\X", "..\\a"];
const ACCESS = [
  FILE_GENERIC_READ,
  FILE_GENERIC_READ | FILE_GENERIC_WRITE,
  FILE_GENERIC_READ | FILE_GENERIC_WRITE | DELETE,
  DELETE,
  FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
  FILE_LIST_DIRECTORY,
  MAXIMUM_ALLOWED,
];
const ATTRIBUTES = [FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_READONLY, FILE_ATTRIBUTE_HIDDEN];
const BUFFERS = [0, 40, 4096];

type Op =
  | {
      kind: "create";
      tree: number;
      path: number;
      disposition: number;
      dir: boolean;
      access: number;
      share: number;
      deleteOnClose: boolean;
    }
  | { kind: "close"; h: number }
  | { kind: "write"; h: number; offset: number; length: number; byte: number }
  | { kind: "read"; h: number; offset: number; length: number }
  | { kind: "eof"; h: number; size: number }
  | { kind: "rename"; h: number; path: number; replace: boolean }
  | { kind: "disposition"; h: number; del: boolean }
  | { kind: "basic"; h: number; attributes: number; time: number }
  | { kind: "lock"; h: number; offset: number; length: number; exclusive: boolean; wait: boolean }
  | { kind: "unlock"; h: number; offset: number; length: number }
  | { kind: "cancelLock"; h: number; wait: number }
  | { kind: "notify"; h: number; filter: number; tree: boolean; buffer: number }
  | { kind: "cancelNotify"; n: number }
  | { kind: "query"; h: number; restart: boolean; max: number }
  | { kind: "disconnect"; tree: number }
  | { kind: "logoff"; tree: number };

const small = (max: number) => fc.nat({ max });
const handle = small(15);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      tree: small(2),
      path: small(PATHS.length - 1),
      disposition: fc.oneof(small(5), fc.constantFrom(1, 3)),
      dir: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
      access: small(ACCESS.length - 1),
      share: small(7),
      deleteOnClose: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("close" as const), h: handle }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      h: handle,
      offset: small(20),
      length: small(12),
      byte: fc.integer({ min: 1, max: 255 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("read" as const), h: handle, offset: small(20), length: small(12) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("eof" as const), h: handle, size: small(30) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("rename" as const),
      h: handle,
      path: small(PATHS.length - 1),
      replace: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("disposition" as const), h: handle, del: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("basic" as const),
      h: handle,
      attributes: small(ATTRIBUTES.length - 1),
      time: small(3),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("lock" as const),
      h: handle,
      offset: fc.constantFrom(0, 4, 8),
      length: fc.constantFrom(0, 4, 8),
      exclusive: fc.boolean(),
      wait: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("unlock" as const),
      h: handle,
      offset: fc.constantFrom(0, 4, 8),
      length: fc.constantFrom(0, 4, 8),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancelLock" as const), h: handle, wait: small(10) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("notify" as const),
      h: handle,
      filter: fc.integer({ min: 1, max: FILE_NOTIFY_VALID_MASK }),
      tree: fc.boolean(),
      buffer: small(BUFFERS.length - 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancelNotify" as const), n: small(10) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("query" as const), h: handle, restart: fc.boolean(), max: small(4) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("disconnect" as const), tree: small(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("logoff" as const), tree: small(2) }) },
);

interface Pending {
  readonly id: number;
  calls: number;
  pending: boolean;
}

/** Run the ops; returns the result log, or throws with the first broken invariant. */
function run(ops: readonly Op[]): string[] {
  const srv = new MemSmbServer(IMAGE);
  const log: string[] = [];
  const users = ["full", "change", "read"];
  const sessions: number[] = [];
  const trees: number[] = [];
  const connectTree = (i: number) => {
    const s = srv.sessionSetup(users[i] as string, "p");
    sessions[i] = s.sessionId;
    trees[i] = srv.treeConnect(s.sessionId, "S").treeId;
  };
  for (let i = 0; i < 3; i++) connectTree(i);
  /** fileId, tree index, open? */
  const handles: { id: number; tree: number; open: boolean }[] = [];
  const notifies: Pending[] = [];
  const locks: (Pending & { fileId: number })[] = [];
  let now = 1000;
  const fail = (msg: string): never => {
    throw new Error(`${msg}\nlog:\n${log.join("\n")}`);
  };
  /** Mostly a live handle; the last index picks among all handles, closed ones included. */
  const h = (i: number) => {
    const pool = i === 15 ? handles : handles.filter((x) => x.open);
    return pool[i % Math.max(1, pool.length)] ?? { id: 9999, tree: 0, open: false };
  };
  const st = (s: NTSTATUS) => statusName(s);
  const closeTree = (tree: number) => {
    for (const x of handles) if (x.tree === tree) x.open = false;
  };

  for (const op of ops) {
    now += 10;
    let line: string;
    switch (op.kind) {
      case "create": {
        const r = srv.create(
          trees[op.tree] as number,
          {
            path: PATHS[op.path] as string,
            desiredAccess: (ACCESS[op.access] as number) | (op.deleteOnClose ? DELETE : 0),
            shareAccess: op.share,
            disposition: op.disposition,
            createOptions: (op.dir ? FILE_DIRECTORY_FILE : 0) | (op.deleteOnClose ? FILE_DELETE_ON_CLOSE : 0),
            fileAttributes: 0,
          },
          now,
        );
        if (r.status === STATUS.STATUS_SUCCESS) handles.push({ id: r.fileId, tree: op.tree, open: true });
        line = `create ${PATHS[op.path]} → ${st(r.status)} ${r.createAction} ${r.info.path} ${r.info.size}`;
        break;
      }
      case "close": {
        const x = h(op.h);
        const r = srv.close(x.id, now);
        if (r.status === STATUS.STATUS_SUCCESS) {
          if (!x.open) fail(`closed handle ${x.id} closed again`);
          x.open = false;
        }
        line = `close ${x.id} → ${st(r.status)} ${r.info?.path ?? ""}`;
        break;
      }
      case "write": {
        const x = h(op.h);
        const data = new Uint8Array(op.length).fill(op.byte);
        const r = srv.write(x.id, op.offset, data, now);
        if (r.status === STATUS.STATUS_SUCCESS && op.length > 0) {
          const info = srv.queryInfo(x.id).info;
          const stored = srv.fileData("s", info.path);
          const back = stored?.subarray(op.offset, op.offset + op.length);
          if (back === undefined || back.length !== op.length || back.some((b) => b !== op.byte)) {
            fail(`write to ${info.path} at ${op.offset} did not read back`);
          }
        }
        line = `write ${x.id} @${op.offset}+${op.length} → ${st(r.status)} ${r.count}`;
        break;
      }
      case "read": {
        const x = h(op.h);
        const r = srv.read(x.id, op.offset, op.length, now);
        line = `read ${x.id} @${op.offset}+${op.length} → ${st(r.status)} [${r.data.join(",")}]`;
        break;
      }
      case "eof":
        line = `eof ${h(op.h).id} ${op.size} → ${st(srv.setEndOfFile(h(op.h).id, op.size, now))}`;
        break;
      case "rename":
        line = `rename ${h(op.h).id} ${PATHS[op.path]} → ${st(srv.rename(h(op.h).id, PATHS[op.path] as string, op.replace, now))}`;
        break;
      case "disposition":
        line = `disposition ${h(op.h).id} ${op.del} → ${st(srv.setDisposition(h(op.h).id, op.del))}`;
        break;
      case "basic":
        line = `basic ${h(op.h).id} → ${st(srv.setBasic(h(op.h).id, { attributes: ATTRIBUTES[op.attributes] as number, lastWriteTime: op.time }, now))}`;
        break;
      case "lock": {
        const x = h(op.h);
        const entry = { id: 0, calls: 0, pending: false, fileId: x.id };
        const r = srv.lock(
          x.id,
          { offset: op.offset, length: op.length, exclusive: op.exclusive, failImmediately: !op.wait },
          (s) => {
            entry.calls++;
            entry.pending = false;
            log.push(`  lock-callback ${entry.id} ${st(s)}`);
          },
        );
        if (r.status === STATUS.STATUS_PENDING) {
          Object.assign(entry, { id: r.waitId, pending: true });
          locks.push(entry);
        } else if (entry.calls > 0) fail("lock callback ran for an immediate answer");
        line = `lock ${x.id} @${op.offset}+${op.length} ${op.exclusive ? "X" : "S"} → ${st(r.status)}`;
        break;
      }
      case "unlock":
        line = `unlock ${h(op.h).id} → ${st(srv.unlock(h(op.h).id, op.offset, op.length))}`;
        break;
      case "cancelLock": {
        const w = locks[op.wait % Math.max(1, locks.length)];
        line = `cancelLock → ${w === undefined ? "-" : srv.cancelLockWait(w.fileId, w.id)}`;
        break;
      }
      case "notify": {
        const x = h(op.h);
        const entry: Pending = { id: 0, calls: 0, pending: false };
        const r = srv.notify(
          x.id,
          { filter: op.filter, watchTree: op.tree, bufferLength: BUFFERS[op.buffer] as number },
          (res) => {
            entry.calls++;
            entry.pending = false;
            log.push(
              `  notify-callback ${entry.id} ${st(res.status)} ${res.records.map((z) => `${z.action}:${z.fileName}`).join(" ")}`,
            );
          },
        );
        if (r.status === STATUS.STATUS_PENDING) {
          if (entry.calls !== 0) fail("a pending notify completed before returning");
          Object.assign(entry, { id: r.notifyId, pending: true });
        } else if (entry.calls !== 1) fail("an immediate notify completion did not run onComplete exactly once");
        notifies.push(entry);
        line = `notify ${x.id} → ${st(r.status)}`;
        break;
      }
      case "cancelNotify": {
        const n = notifies[op.n % Math.max(1, notifies.length)];
        line = `cancelNotify → ${n === undefined ? "-" : srv.cancelNotify(n.id)}`;
        break;
      }
      case "query": {
        const r = srv.queryDirectory(h(op.h).id, {
          pattern: null,
          restart: op.restart,
          single: false,
          maxEntries: op.max + 1,
        });
        line = `query ${h(op.h).id} → ${st(r.status)} ${r.entries.map((e) => e.name).join(",")}`;
        break;
      }
      case "disconnect": {
        const r = srv.treeDisconnect(trees[op.tree] as number, now);
        closeTree(op.tree);
        trees[op.tree] = srv.treeConnect(sessions[op.tree] as number, "s").treeId;
        line = `disconnect ${op.tree} → ${st(r)}`;
        break;
      }
      case "logoff": {
        const r = srv.logoff(sessions[op.tree] as number, now);
        closeTree(op.tree);
        connectTree(op.tree);
        line = `logoff ${op.tree} → ${st(r)}`;
        break;
      }
    }
    log.push(line);

    // ── invariants after every step
    const problems = srv.audit();
    if (problems.length > 0) fail(`audit: ${problems.join("; ")}`);
    const stats = srv.stats;
    const openCount = handles.filter((x) => x.open).length;
    if (stats.opens !== openCount) fail(`stats.opens ${stats.opens}, tracked ${openCount}`);
    const pendingNotifies = notifies.filter((n) => n.pending).length;
    if (stats.pendingNotifies !== pendingNotifies)
      fail(`stats.pendingNotifies ${stats.pendingNotifies}, tracked ${pendingNotifies}`);
    const pendingLocks = locks.filter((n) => n.pending).length;
    if (stats.pendingLocks !== pendingLocks) fail(`stats.pendingLocks ${stats.pendingLocks}, tracked ${pendingLocks}`);
    if ([...notifies, ...locks].some((n) => n.calls > 1)) fail("a callback ran twice");
    if (stats.sessions !== 3 || stats.trees !== 3) fail(`sessions/trees ${stats.sessions}/${stats.trees}`);
    const snap = srv.snapshot();
    const again = new MemSmbServer(snap).snapshot();
    if (JSON.stringify(again, replacer) !== JSON.stringify(snap, replacer)) fail("snapshot does not round-trip");
  }

  for (const s of sessions) srv.logoff(s, now + 1);
  const end = srv.stats;
  if (Object.values(end).some((v) => v !== 0)) fail(`stats after logoff: ${JSON.stringify(end)}`);
  if (srv.audit().length > 0) fail(`audit after logoff: ${srv.audit().join("; ")}`);
  if ([...notifies, ...locks].some((n) => n.calls !== 1)) fail("a request did not complete exactly once");
  log.push(JSON.stringify(srv.snapshot(), replacer));
  return log;
}

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? `bytes:${[...value].join(",")}` : value;
}

testProp(
  "random operation sequences keep the invariants, clean up fully and are deterministic",
  [fc.array(opArb, { minLength: 10, maxLength: 120, size: "max" })],
  (t, ops) => {
    const first = run(ops);
    const second = run(ops);
    t.deepEqual(second, first);
  },
  { numRuns: 200 },
);
