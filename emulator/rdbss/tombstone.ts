/**
 * Tombstones: a structure RDBSS has freed traps every later use. At free time its prototype becomes one whose
 * accessor pair for each field reports the access first, then reads or writes the value the field held (the
 * structures' fields are `accessor` fields, whose slots stay where they were; another object's plain fields move
 * into a grave on the object); a lock on its resources and passing it to an RDBSS routine are reported by their own
 * hooks. This is the emulator's special pool for the six structures (and for the construction calldown contexts
 * RDBSS consumes): where Windows would silently read reused memory — or, under Driver Verifier's special pool, fault
 * with no name attached — the report names the structure, the field, where it was freed, and its reference history.
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
export const KEEP: ReadonlySet<string> = new Set(["fate", "serial", "hooks", "ledger", "guard", "traceKernel"]);

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

/** What one buried object remembers: its graveyard, what it was, and the values of its trapped fields. */
interface Grave {
  readonly tombs: Tombstones;
  readonly info: TombstoneInfo;
  /** The trapped fields' values, in the order of its plan's keys. */
  readonly values: unknown[];
  /** A use was reported (once per tombstone). */
  reported: boolean;
}

/**
 * Where a buried object keeps its grave: a non-enumerable symbol property of the object itself, so the accessors
 * below are the same functions for every emulator of the process, built once, and a free does not build any.
 * Not a WeakMap keyed by the object: V8's young-generation collector keeps an ephemeron's value alive while it
 * cannot tell whether the key is, and a grave holds every field value the structure had (its parents, its
 * context, …), so each free kept a graph of dead objects alive into the old generation.
 */
const GRAVE: unique symbol = Symbol("rdbss tombstone");
/** The grave values of a tombstone whose fields all stay in their accessors' slots. */
const NO_VALUES: unknown[] = [];
type Buried = { [GRAVE]?: Grave };
const graveOf = (obj: object): Grave | undefined => (obj as Buried)[GRAVE];

/**
 * What one kind of tombstone traps: its fields in order, and — per prototype the live objects had — the prototype
 * a buried one gets (`TombShape`).
 */
interface BurialPlan {
  readonly keys: readonly string[];
  readonly shapes: Map<object | null, TombShape>;
}

/**
 * A tombstone prototype: a child of the live prototype with a trapping accessor pair for each field. A field the
 * live prototype already serves through an accessor (the structures' `accessor` fields, stored in private slots)
 * traps, then calls that accessor: its value stays where it was. A field that is an own data property (a calldown
 * context's, FCB_HEADER's) moves into the grave: `own` lists those, in the order of the grave's values.
 */
interface TombShape {
  readonly proto: object;
  readonly own: readonly string[];
}

function planOf(keys: readonly string[]): BurialPlan {
  return { keys, shapes: new Map() };
}

/** The accessor pair `key` has on `proto`'s chain, if any. */
function inheritedAccessor(proto: object | null, key: string): PropertyDescriptor | undefined {
  for (let p = proto; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, key);
    if (d !== undefined) return d.get !== undefined || d.set !== undefined ? d : undefined;
  }
  return undefined;
}

/** An accessor pair that reports a use of `field` of a tombstone (unless the traps are silent), then reads or writes. */
function trappingPair(
  field: string,
  read: (obj: object) => unknown,
  write: (obj: object, v: unknown) => void,
): PropertyDescriptor {
  return {
    configurable: true,
    enumerable: false,
    get(this: object): unknown {
      const g = graveOf(this) as Grave;
      if (g.tombs.peek === 0) g.tombs.touched(this, field, "read");
      return read(this);
    },
    set(this: object, v: unknown): void {
      const g = graveOf(this) as Grave;
      if (g.tombs.peek === 0) g.tombs.touched(this, field, "write");
      write(this, v);
    },
  };
}

/** The tombstone shape of `plan` over `proto`: made once, then shared by every tombstone of that kind. */
function tombShapeOf(plan: BurialPlan, proto: object | null): TombShape {
  let shape = plan.shapes.get(proto);
  if (shape !== undefined) return shape;
  const made: object = Object.create(proto);
  const own: string[] = [];
  for (const key of plan.keys) {
    const field = FIELD_NAMES[key] ?? key;
    const live = inheritedAccessor(proto, key);
    if (live !== undefined) {
      // An `accessor` field: its value stays in the class's slot.
      const { get, set } = live;
      Object.defineProperty(
        made,
        key,
        trappingPair(
          field,
          (o) => get?.call(o),
          (o, v) => set?.call(o, v),
        ),
      );
    } else {
      // A plain field: its value is moved into the grave, at index i.
      const i = own.length;
      own.push(key);
      Object.defineProperty(
        made,
        key,
        trappingPair(
          field,
          (o) => (graveOf(o) as Grave).values[i],
          (o, v) => {
            (graveOf(o) as Grave).values[i] = v;
          },
        ),
      );
    }
  }
  shape = { proto: made, own };
  plan.shapes.set(proto, shape);
  return shape;
}

/** Structures: one plan per (field list, kept set). */
const FIELD_PLANS = new Map<readonly string[], Map<ReadonlySet<string>, BurialPlan>>();
/** Other objects: one plan per (kept set, own trappable keys in order). */
const SHAPE_PLANS = new WeakMap<ReadonlySet<string>, Map<string, BurialPlan>>();

function fieldPlan(fields: readonly string[], keep: ReadonlySet<string>): BurialPlan {
  let byKeep = FIELD_PLANS.get(fields);
  if (byKeep === undefined) {
    byKeep = new Map();
    FIELD_PLANS.set(fields, byKeep);
  }
  let plan = byKeep.get(keep);
  if (plan === undefined) {
    plan = planOf(fields.filter((k) => !keep.has(k)));
    byKeep.set(keep, plan);
  }
  return plan;
}

function shapePlan(obj: object, keep: ReadonlySet<string>): BurialPlan {
  // The own data properties that can be removed, but those kept: what a generic tombstone traps.
  const keys: string[] = [];
  for (const key of Object.keys(obj)) {
    if (keep.has(key)) continue;
    const d = Object.getOwnPropertyDescriptor(obj, key);
    if (d === undefined || !("value" in d) || !d.configurable) continue;
    keys.push(key);
  }
  let bySig = SHAPE_PLANS.get(keep);
  if (bySig === undefined) {
    bySig = new Map();
    SHAPE_PLANS.set(keep, bySig);
  }
  const sig = keys.join("\0");
  let plan = bySig.get(sig);
  if (plan === undefined) {
    plan = planOf(keys);
    bySig.set(sig, plan);
  }
  return plan;
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
   * Turn `obj` into a tombstone: the fields named in `fields` (default: its own data properties but those in
   * `keep`) trap on read and write.
   *
   * Its prototype becomes one whose accessor pair for each field traps first (`TombShape`). The six structures keep
   * their MRX_ fields in `accessor` slots, so their free only swaps the prototype (≈ 0.9 µs for a FOBX); an object
   * with plain fields has them copied into its grave and deleted first (V8 turns it into a dictionary). Which fields
   * a kind of object gets, and its tombstone prototype, are worked out once per kind (per shape for objects without a
   * field list). (Redefining each field as an own accessor, as this did first, cost ≈ 0.25 µs per field and ≈ 5 µs
   * per structure.)
   */
  bury(obj: object, info: TombstoneInfo, keep: ReadonlySet<string> = KEEP, fields?: readonly string[]): void {
    if (graveOf(obj) !== undefined) return;
    const plan = fields !== undefined ? fieldPlan(fields, keep) : shapePlan(obj, keep);
    const shape = tombShapeOf(plan, Object.getPrototypeOf(obj) as object | null);
    const own = obj as Record<string, unknown>;
    const keys = shape.own;
    const n = keys.length;
    const values: unknown[] = n === 0 ? NO_VALUES : new Array(n);
    for (let i = 0; i < n; i++) values[i] = own[keys[i] as string];
    for (let i = n - 1; i >= 0; i--) delete own[keys[i] as string];
    Object.defineProperty(obj, GRAVE, {
      value: { tombs: this, info, values, reported: false },
      configurable: true,
      enumerable: false,
      writable: false,
    });
    Object.setPrototypeOf(obj, shape.proto);
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
