/**
 * Tombstones: a structure RDBSS has freed traps every later use. At free time its prototype becomes one whose
 * accessor pair for each trapped field reports the access first, then reads or writes the value the field held (the
 * trapped fields are `accessor` fields, whose slots stay where they were); a lock on its resources and passing it to
 * an RDBSS routine are reported by their own hooks. This is the emulator's special pool for the six structures (and
 * for the FCB header and the construction calldown contexts RDBSS consumes): where Windows would silently read
 * reused memory — or, under Driver Verifier's special pool, fault with no name attached — the report names the
 * structure, the field, where it was freed, and its reference history.
 *
 * Why accessors rather than a Proxy: the mini-redirector already holds the object itself (a pointer from
 * MRxCreate, a list of its own), so the object must change in place; a Proxy would only catch uses through a new
 * reference. Accessors cost nothing until the free, and after it only on the dead object.
 *
 * RDBSS's own bookkeeping looks at freed structures legitimately (the `freed` marker, reports, the object graph,
 * leak lists): it does so inside `look(…)`, or reads only the properties that are not trapped (its own wiring).
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

/**
 * The fields a freed structure traps: those of its MRX_ view (structs.ts) — what a mini-redirector can reach —
 * with `refCount` for NodeReferenceCount. structs.ts declares each of them as an `accessor` field (a private slot
 * behind a getter and setter on the class), so that a free only swaps the prototype. RDBSS's private fields stay
 * plain (only RDBSS touches them). test/verifier/tombstones.test.ts checks the lists against the classes.
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
    "srvOpenFirst",
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

/**
 * The fields of a freed FCB's header (FSRTL_ADVANCED_FCB_HEADER), all of them: `accessor` fields of FCB_HEADER, like
 * the structures' (test/verifier/tombstones.test.ts checks the list against the class).
 */
export const HEADER_FIELDS = [
  "Resource",
  "FileSize",
  "AllocationSize",
  "ValidDataLength",
  "paging",
  "owner",
] as const satisfies readonly string[];

/** Private field names shown as the field a driver would name. */
const FIELD_NAMES: Readonly<Record<string, string>> = {
  refCount: "NodeReferenceCount",
  // FCB_HEADER keeps its paging-I/O resource (or its name, until it is made) in `paging`.
  paging: "PagingIoResource",
  // FCB keeps its SrvOpenList as the first SRV_OPEN of a linked list.
  srvOpenFirst: "SrvOpenList",
};

/** What one buried object remembers: its graveyard and what it was. */
interface Grave {
  readonly tombs: Tombstones;
  readonly info: TombstoneInfo;
  /** A use was reported (once per tombstone). */
  reported: boolean;
}

/** Returns the object it is given from its constructor, so that a subclass's private field lands on that object. */
class Stamp {
  constructor(obj: object) {
    // biome-ignore lint/correctness/noConstructorReturn: the private-field stamp below needs the returned object
    return obj as Stamp;
  }
}

/**
 * Where a buried object keeps its grave: a private field stamped on the object itself (`new GraveStamp(obj, g)`, through
 * Stamp's constructor), so the accessors below are the same functions for every emulator of the process, built once,
 * and a free does not build any. A private field is invisible to everything outside this class: Object.keys, for…in,
 * Object.getOwnPropertySymbols, spread, Object.assign, util.inspect, deepEqual and JSON see the structure as before.
 * Not a WeakMap keyed by the object: V8's young-generation collector keeps an ephemeron's value alive while it
 * cannot tell whether the key is, which kept each freed structure's graph of dead objects alive into the old
 * generation. Not `Object.defineProperty` with a symbol key (as before item 65): that goes through V8's runtime and
 * costs twice as much. Nor a plain symbol-keyed store: it costs more than the stamp, and it is enumerable, so a spread
 * would copy the grave and inspect would print it.
 */
class GraveStamp extends Stamp {
  #grave: Grave;
  constructor(obj: object, grave: Grave) {
    super(obj);
    this.#grave = grave;
  }
  static of(obj: object): Grave | undefined {
    return #grave in obj ? (obj as GraveStamp).#grave : undefined;
  }
}
const graveOf = GraveStamp.of;

/** The accessor pair `key` has on `proto`'s chain, if any. */
function inheritedAccessor(proto: object | null, key: string): PropertyDescriptor | undefined {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, key);
    if (d !== undefined) return d.get !== undefined || d.set !== undefined ? d : undefined;
  }
  return undefined;
}

/**
 * Tombstone prototypes, by field list then by the live prototype: a child of the live prototype with, for each
 * field, an accessor pair that reports the use (unless the traps are silent), then calls the class's accessor, so
 * the value stays in its slot. Made once per kind, then shared by every tombstone of that kind.
 */
const TOMB_PROTOS = new Map<readonly string[], Map<object | null, object>>();

function tombProtoOf(fields: readonly string[], proto: object | null): object {
  let byProto = TOMB_PROTOS.get(fields);
  if (byProto === undefined) {
    byProto = new Map();
    TOMB_PROTOS.set(fields, byProto);
  }
  let made = byProto.get(proto);
  if (made !== undefined) return made;
  made = Object.create(proto) as object;
  for (const key of fields) {
    const live = inheritedAccessor(proto, key);
    // A plain own field would shadow the trap and let every use through unreported: each trapped field must be an
    // `accessor` field of the class (checked here, once per kind, rather than silently missed).
    if (live === undefined)
      throw new TypeError(`tombstones: ${key} is not an accessor field of ${String(proto?.constructor?.name)}`);
    const field = FIELD_NAMES[key] ?? key;
    const get = live.get as (this: object) => unknown;
    const set = live.set as (this: object, v: unknown) => void;
    Object.defineProperty(made, key, {
      configurable: true,
      enumerable: false,
      get(this: object): unknown {
        const g = graveOf(this) as Grave;
        if (g.tombs.peek === 0) g.tombs.touched(this, field, "read");
        return get.call(this);
      },
      set(this: object, v: unknown): void {
        const g = graveOf(this) as Grave;
        if (g.tombs.peek === 0) g.tombs.touched(this, field, "write");
        set.call(this, v);
      },
    });
  }
  byProto.set(proto, made);
  return made;
}

export class Tombstones {
  /** > 0 while RDBSS's own code looks at freed objects: the traps stay silent. */
  peek = 0;
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
   * Turn `obj` into a tombstone: the fields named in `fields` — `accessor` fields of its class (a TypeError
   * otherwise) — trap on read and write; the rest stays plain.
   *
   * It gets a grave (a private field stamped on it) and its kind's tombstone prototype, whose accessor pair for each
   * field traps first and then calls the class's (docs/PERFORMANCE.md, items 39, 41 and 65). (Redefining each field as an own accessor, as this did first,
   * cost ≈ 0.25 µs per field and ≈ 5 µs per structure; moving plain fields into the grave, as it did next for the
   * calldowns and FCB headers, ≈ 3–4 µs per object.)
   */
  bury(obj: object, info: TombstoneInfo, fields: readonly string[]): void {
    if (graveOf(obj) !== undefined) return;
    const proto = tombProtoOf(fields, Object.getPrototypeOf(obj) as object | null);
    // The grave is stamped first, then the prototype swapped (the other order measured slower).
    new GraveStamp(obj, { tombs: this, info, reported: false });
    Object.setPrototypeOf(obj, proto);
  }

  /** Whether `obj` is a tombstone, and what it remembers. */
  infoOf(obj: object): TombstoneInfo | undefined {
    const g = graveOf(obj);
    return g !== undefined && g.tombs === this ? g.info : undefined;
  }

  /** A use of a tombstone other than a field access (a lock on it). */
  use(obj: object, field: string, use: TombstoneUse): void {
    if (this.peek === 0) this.touched(obj, field, use);
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

  /** A tombstone was touched while the traps are armed (the accessors call this; not for other callers). */
  touched(obj: object, field: string, use: TombstoneUse): void {
    const g = graveOf(obj);
    if (g === undefined || g.tombs !== this || g.reported || !this.inKernel()) return;
    g.reported = true;
    const info = g.info;
    this.peek++;
    try {
      this.onUse(obj, info, field, use);
    } finally {
      this.peek--;
    }
  }
}
