/**
 * Tombstones: a structure RDBSS has freed traps every later use. At free time each own data property of the object
 * becomes an accessor pair (same value, same enumerability) whose getter and setter report the access first; a lock
 * on its resources and passing it to an RDBSS routine are reported by their own hooks. This is the emulator's
 * special pool for the six structures (and for the construction calldown contexts RDBSS consumes): where Windows
 * would silently read reused memory — or, under Driver Verifier's special pool, fault with no name attached — the
 * report names the structure, the field, where it was freed, and its reference history.
 *
 * Why accessors rather than a Proxy: the mini-redirector already holds the object itself (a pointer from
 * MRxCreate, a list of its own), so the object must change in place; a Proxy would only catch uses through a new
 * reference. Accessors cost nothing until the free, and after it only on the dead object.
 *
 * RDBSS's own bookkeeping looks at freed structures legitimately (the `freed` marker, reports, the object graph,
 * leak lists): it does so inside `look(…)`, or reads only the properties that stay plain (`KEEP`).
 */

/** How a tombstone was touched. */
export type TombstoneUse = "read" | "write" | "lock";

/** What a tombstone remembers. */
export interface TombstoneInfo {
  /** "FCB#4 \srv\share\a.txt" */
  readonly label: string;
  /** Who freed it, on which thread, with which call chain, when (and the step). */
  readonly freedBy: string;
  readonly freedThread: string;
  readonly freedChain: readonly string[];
  readonly freedTime: number;
  readonly freedStep: string | null;
}

/** Properties of an RxNode that stay plain after the free (markers and RDBSS's own wiring). */
export const KEEP: ReadonlySet<string> = new Set(["freed", "serial", "ledger", "guard", "traceKernel"]);

/**
 * The fields a freed structure traps: those of its MRX_ view (structs.ts) — what a mini-redirector can reach —
 * with `refCount` for NodeReferenceCount. RDBSS's private fields stay plain (only RDBSS touches them, and burying
 * fewer fields keeps a free cheap). test/verifier/tombstones.test.ts checks the lists against the classes.
 */
export const TRAPPED_FIELDS = {
  SRV_CALL: [
    "NodeTypeCode",
    "refCount",
    "Context",
    "Context2",
    "RxDeviceObject",
    "pSrvCallName",
    "pPrincipalName",
    "pDomainName",
    "Flags",
    "MaximumNumberOfCloseDelayedFiles",
    "Status",
  ],
  NET_ROOT: [
    "NodeTypeCode",
    "refCount",
    "pSrvCall",
    "Context",
    "Context2",
    "Flags",
    "NumberOfFcbs",
    "NumberOfSrvOpens",
    "MRxNetRootState",
    "Type",
    "DeviceType",
    "pNetRootName",
    "InnerNamePrefix",
    "DiskParameters",
  ],
  V_NET_ROOT: [
    "NodeTypeCode",
    "refCount",
    "pNetRoot",
    "Context",
    "Context2",
    "Flags",
    "NumberOfOpens",
    "NumberOfFobxs",
    "LogonId",
    "pUserDomainName",
    "pUserName",
    "pPassword",
    "SessionId",
    "ConstructionStatus",
    "IsExplicitConnection",
    "NamePrefix",
  ],
  FCB: [
    "NodeTypeCode",
    "refCount",
    "pNetRoot",
    "Context",
    "Context2",
    "FcbState",
    "UncleanCount",
    "UncachedUncleanCount",
    "OpenCount",
    "OutstandingLockOperationsCount",
    "Attributes",
    "fShouldBeOrphaned",
    "fMiniInited",
    "CachedNetRootType",
    "SrvOpenList",
    "SrvOpenListVersion",
    "Header",
  ],
  SRV_OPEN: [
    "NodeTypeCode",
    "refCount",
    "pFcb",
    "pVNetRoot",
    "Context",
    "Context2",
    "Flags",
    "UncleanFobxCount",
    "OpenCount",
    "Key",
    "DesiredAccess",
    "ShareAccess",
    "CreateOptions",
    "BufferingFlags",
  ],
  FOBX: [
    "NodeTypeCode",
    "refCount",
    "pSrvOpen",
    "AssociatedFileObject",
    "Context",
    "Context2",
    "Flags",
    "UnicodeQueryTemplate",
    "OffsetOfNextEaToReturn",
  ],
} as const satisfies Readonly<Record<string, readonly string[]>>;

/** Private field names shown as the field a driver would name. */
const FIELD_NAMES: Readonly<Record<string, string>> = { refCount: "NodeReferenceCount" };

export class Tombstones {
  /** > 0 while RDBSS's own code looks at freed objects: the traps stay silent. */
  peek = 0;
  private readonly infos = new WeakMap<object, TombstoneInfo>();
  private readonly values = new WeakMap<object, Record<string, unknown>>();
  private readonly descriptors = new Map<string, PropertyDescriptor>();
  private readonly fieldMaps = new Map<readonly string[], PropertyDescriptorMap>();
  private readonly reported = new WeakSet<object>();
  private readonly onUse: (obj: object, info: TombstoneInfo, field: string, use: TombstoneUse) => void;
  private readonly inKernel: () => boolean;

  /**
   * `inKernel` tells whether driver code is running: plain JavaScript outside every emulated thread, or a user
   * thread outside any system service (a test looking at the state), is not a driver and reads what the structure
   * held when it was freed.
   */
  constructor(
    onUse: (obj: object, info: TombstoneInfo, field: string, use: TombstoneUse) => void,
    inKernel: () => boolean,
  ) {
    this.onUse = onUse;
    this.inKernel = inKernel;
  }

  /**
   * Turn `obj` into a tombstone: the own data properties named in `fields` (default: all of them but those in
   * `keep`) trap on read and write.
   */
  bury(obj: object, info: TombstoneInfo, keep: ReadonlySet<string> = KEEP, fields?: readonly string[]): void {
    if (this.infos.has(obj)) return;
    this.infos.set(obj, info);
    const values: Record<string, unknown> = {};
    const own = obj as Record<string, unknown>;
    if (fields !== undefined) {
      // A structure: its kind's field list, with one descriptor map built once per list.
      let map = this.fieldMaps.get(fields);
      if (map === undefined) {
        map = {};
        for (const key of fields) if (!keep.has(key)) map[key] = this.descriptor(key);
        this.fieldMaps.set(fields, map);
      }
      for (const key in map) values[key] = own[key];
      this.values.set(obj, values);
      Object.defineProperties(obj, map);
      return;
    }
    const descriptors: PropertyDescriptorMap = {};
    for (const key of Object.keys(obj)) {
      if (keep.has(key)) continue;
      const d = Object.getOwnPropertyDescriptor(obj, key);
      if (d === undefined || !("value" in d) || !d.configurable) continue;
      values[key] = own[key];
      descriptors[key] = this.descriptor(key);
    }
    this.values.set(obj, values);
    Object.defineProperties(obj, descriptors);
  }

  /**
   * One accessor pair per field name, shared by every tombstone: the values live in `values`, so objects of one
   * kind keep sharing hidden classes after their free (no per-object closures, no megamorphic call sites).
   */
  private descriptor(key: string): PropertyDescriptor {
    let d = this.descriptors.get(key);
    if (d === undefined) {
      const self = this;
      const field = FIELD_NAMES[key] ?? key;
      d = {
        configurable: true,
        enumerable: true,
        get(this: object): unknown {
          if (self.peek === 0) self.touch(this, field, "read");
          return (self.values.get(this) as Record<string, unknown>)[key];
        },
        set(this: object, v: unknown): void {
          if (self.peek === 0) self.touch(this, field, "write");
          (self.values.get(this) as Record<string, unknown>)[key] = v;
        },
      };
      this.descriptors.set(key, d);
    }
    return d;
  }

  /** Whether `obj` is a tombstone, and what it remembers. */
  infoOf(obj: object): TombstoneInfo | undefined {
    return this.infos.get(obj);
  }

  /** A use of a tombstone other than a field access (a lock on it). */
  use(obj: object, field: string, use: TombstoneUse): void {
    if (this.peek === 0) this.touch(obj, field, use);
  }

  /** Run `fn` with the traps silent: RDBSS's own bookkeeping looking at freed structures. */
  look<T>(fn: () => T): T {
    this.peek++;
    try {
      return fn();
    } finally {
      this.peek--;
    }
  }

  private touch(obj: object, field: string, use: TombstoneUse): void {
    if (this.reported.has(obj) || !this.inKernel()) return;
    this.reported.add(obj);
    const info = this.infos.get(obj);
    if (info === undefined) return;
    this.peek++;
    try {
      this.onUse(obj, info, field, use);
    } finally {
      this.peek--;
    }
  }
}
