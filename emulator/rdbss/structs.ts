/**
 * The six RDBSS structures (fcb.h / mrxfcb.h): SRV_CALL, NET_ROOT, V_NET_ROOT, FCB, SRV_OPEN and FOBX. Each
 * class holds the fields the mini-redirector sees (its MRX_ view, exported below as a type with only those
 * fields) and RDBSS's private ones. A mini-redirector's per-structure state is typed through `Ext`.
 */

import { type FILE_OBJECT, SHARE_ACCESS } from "../io/index.js";
import {
  defineBitFlags,
  ERESOURCE,
  emptyList,
  type Kernel,
  linkedAppend,
  linkedItems,
  linkedRemove,
  ownString,
  type ResourceNamer,
  withItem,
} from "../kernel/index.js";
import { type NET_ROOT_TYPE, NetRootType, NodeType, type RX_BLOCK_CONDITION, RX_FREED_POISON } from "./constants.js";

/** The mini-redirector's extension types, one per structure. */
export interface MiniRdrExtensions {
  SrvCall?: unknown;
  NetRoot?: unknown;
  VNetRoot?: unknown;
  Fcb?: unknown;
  SrvOpen?: unknown;
  Fobx?: unknown;
}
type Ext<X extends MiniRdrExtensions, K extends keyof MiniRdrExtensions> = X[K] extends undefined ? unknown : X[K];

/** Where a freed object was freed, for use-after-free reports. */
export interface FreedAt {
  readonly by: string;
  readonly thread: string;
  readonly callChain: readonly string[];
  readonly time: number;
  /** Its label at the time ("FCB#4 \srv\share\a.txt"): reports name a freed node without touching it. */
  readonly label?: string;
  /** The scenario step the freeing thread was running, when known. */
  readonly step?: string | null;
}

/** Where every NodeReferenceCount change goes when the reference ledger is on (ledger.ts). */
export interface RefRecorder {
  record(node: RxNode, from: number, to: number): void;
}

/** The tombstone guard of an RDBSS instance (tombstone.ts): `peek > 0` while RDBSS's own code may look at the dead. */
export interface TombstoneGuard {
  peek: number;
}

let serial = 0;

/** Common header of every RDBSS node (NODE_TYPE_CODE, NodeReferenceCount). */
/** The observers of the nodes of one RDBSS: one object shared by all of them (one field per node, not three). */
export interface RxNodeHooks {
  readonly traceKernel: Pick<Kernel, "trace" | "emit">;
  readonly ledger: RefRecorder | null;
  readonly guard: TombstoneGuard | null;
}

/** The boolean fields of the structures that a mini-redirector does not see (not in the MRX_ views), as bits. */
const NODE_BIT = {
  scavengerMarked: 1 << 0,
  UpperFinalizationDone: 1 << 1,
  /** FCB */
  miniDeallocated: 1 << 2,
  /** FOBX */
  fOpenCountDecremented: 1 << 3,
} as const;
/** In its RDBSS's LiveList (not a field a view lists). */
const LIVE_BIT = 1 << 4;
/** `bits` keeps the flags below this shift and Condition from it up. */
const CONDITION_SHIFT = 8;
const FLAG_BITS = (1 << CONDITION_SHIFT) - 1;

/** The bit-backed booleans, for views that list a structure's fields (they are accessors, not own fields). */
export const RX_NODE_FLAG_FIELDS = Object.keys(NODE_BIT) as readonly (keyof typeof NODE_BIT)[];

export abstract class RxNode {
  accessor NodeTypeCode: number;
  private accessor refCount = 0;
  /** What observes this node, shared by every node of one RDBSS (set by RDBSS when it creates the node). */
  declare hooks: RxNodeHooks | null;
  /** Emulator serial number, stable within a run: objects are named "SRV_CALL#3 \server" in reports. */
  declare readonly serial: number;
  /**
   * Its label once built (label()), then, from its free on, where it was freed: one slot for both (read them as
   * `label()` and `freed`).
   */
  declare private fate: string | FreedAt | null;
  /** Neighbours in RDBSS's list of live structures (LiveList), in allocation order. */
  declare livePrev: RxNode | null;
  declare liveNext: RxNode | null;
  /**
   * The boolean fields below as bits 0–7 and Condition from bit 8 up: one slot of the object instead of one per
   * boolean and one for Condition.
   */
  declare protected bits: number;
  /** RX_BLOCK_CONDITION (kept in `bits` from CONDITION_SHIFT up: integers of ±2^23 round-trip, RDBSS's are 0–5). */
  get Condition(): RX_BLOCK_CONDITION {
    return (this.bits >> CONDITION_SHIFT) as RX_BLOCK_CONDITION;
  }
  set Condition(c: RX_BLOCK_CONDITION) {
    this.bits = (this.bits & FLAG_BITS) | (c << CONDITION_SHIFT);
  }
  /** Marked for scavenged finalization (RX_SCAVENGER_MASK in the node type). */
  declare scavengerMarked: boolean;
  declare UpperFinalizationDone: boolean;
  /** In its RDBSS's LiveList (see LiveList). */
  declare inLiveList: boolean;
  static {
    defineBitFlags(RxNode.prototype, {
      scavengerMarked: NODE_BIT.scavengerMarked,
      UpperFinalizationDone: NODE_BIT.UpperFinalizationDone,
      inLiveList: LIVE_BIT,
    });
  }

  /**
   * The fields above are assigned here rather than initialised as class fields: six classes extend this one, and V8
   * defines a base class's field initialisers through a megamorphic define-own-property path that costs ≈ 1 µs per
   * object once it has seen more than four receiver shapes; plain stores in the constructor take ≈ 0.1 µs.
   */
  constructor(nodeType: number, serialNumber: number) {
    this.hooks = null;
    this.serial = serialNumber;
    this.fate = null;
    this.livePrev = null;
    this.liveNext = null;
    this.bits = 0;
    this.NodeTypeCode = nodeType;
  }

  get NodeReferenceCount(): number {
    return this.refCount;
  }
  set NodeReferenceCount(n: number) {
    const old = this.refCount;
    if (n === old) return;
    this.refCount = n;
    const h = this.hooks;
    if (h === null) return;
    if (h.ledger !== null) h.ledger.record(this, old, n);
    if (h.traceKernel.trace.active) h.traceKernel.emit("ref", this.label(), { count: n });
  }
  /**
   * The kernel whose trace records this node's reference count (a `ref` event per change); every change goes
   * through the NodeReferenceCount setter, so the trace misses none.
   */
  get traceKernel(): Pick<Kernel, "trace" | "emit"> | null {
    return this.hooks?.traceKernel ?? null;
  }
  /** The reference ledger every NodeReferenceCount change is recorded in, when it is on. */
  get ledger(): RefRecorder | null {
    return this.hooks?.ledger ?? null;
  }
  /** The tombstone guard: `label()` may read a freed parent's name under it. */
  get guard(): TombstoneGuard | null {
    return this.hooks?.guard ?? null;
  }

  abstract get kind(): "SRV_CALL" | "NET_ROOT" | "V_NET_ROOT" | "FCB" | "SRV_OPEN" | "FOBX";
  abstract get displayName(): string;

  /**
   * "FCB#12 \srv\share\a.txt": kind, serial and name, which a structure keeps for life (names are set when it is
   * created), so it is built once. The MRx call log, reports and traces then share one string per structure instead
   * of a new rope per use (the log keeps one per MRx call: ≈ 90 B per read on the IRP path).
   */
  label(): string {
    const f = this.fate;
    if (typeof f === "string") return f;
    if (f !== null && f.label !== undefined) return f.label;
    const l = ownString(`${this.kind}#${this.serial} ${this.peekDisplayName()}`);
    if (f === null) this.fate = l;
    return l;
  }

  /** Set when the memory is released (poison); later uses are use-after-free. */
  get freed(): FreedAt | null {
    const f = this.fate;
    return typeof f === "string" ? null : f;
  }

  /** `displayName`, which may read a freed parent's name: RDBSS's own look at the dead (the tombstone guard's peek). */
  protected peekDisplayName(): string {
    const g = this.hooks?.guard ?? null;
    if (g !== null) g.peek++;
    try {
      return this.displayName;
    } finally {
      if (g !== null) g.peek--;
    }
  }

  /** Poison the node type as RxFreeObject does. */
  poison(at: FreedAt): void {
    this.fate = at;
    this.NodeTypeCode |= RX_FREED_POISON;
  }
}

/** Serial numbers are per RDBSS instance; RDBSS resets this when it is created. */
export function nextSerial(): number {
  return ++serial;
}
export function resetSerials(): void {
  serial = 0;
}

export class SRV_CALL<X extends MiniRdrExtensions = MiniRdrExtensions> extends RxNode {
  accessor Context: Ext<X, "SrvCall"> | null = null;
  accessor Context2: unknown = null;
  /** The owning mini-redirector's device (RDBSS_DEVICE_OBJECT). */
  accessor RxDeviceObject: unknown;
  /** "\server" */
  accessor pSrvCallName: string;
  accessor pPrincipalName: string | null = null;
  accessor pDomainName: string | null = null;
  accessor Flags = 0;
  accessor MaximumNumberOfCloseDelayedFiles = 0;
  accessor Status = 0;
  // private
  NumberOfCloseDelayedFiles = 0;
  SerialNumberForEnum = 0;
  /** The RX_CONNECTION_ID the SRV_CALL was created with (compared byte for byte on lookups). */
  ConnectionId: string;
  /** MRxFinalizeSrvCall has been called (it must be called exactly once). */
  miniFinalized = false;
  /** The posted destroy is pending on a delayed worker. */
  destroyPosted = false;

  constructor(serialNumber: number, name: string, device: unknown, connectionId: string) {
    super(NodeType.RDBSS_NTC_SRVCALL, serialNumber);
    this.pSrvCallName = name;
    this.RxDeviceObject = device;
    this.ConnectionId = connectionId;
  }
  get kind(): "SRV_CALL" {
    return "SRV_CALL";
  }
  get displayName(): string {
    return this.pSrvCallName;
  }
}

export class NET_ROOT<X extends MiniRdrExtensions = MiniRdrExtensions> extends RxNode {
  accessor pSrvCall: SRV_CALL<X>;
  accessor Context: Ext<X, "NetRoot"> | null = null;
  accessor Context2: unknown = null;
  accessor Flags = 0;
  accessor NumberOfFcbs = 0;
  accessor NumberOfSrvOpens = 0;
  accessor MRxNetRootState = 0;
  accessor Type: NET_ROOT_TYPE = NetRootType.NET_ROOT_DISK;
  accessor DeviceType = 0;
  /** "\server\share" */
  accessor pNetRootName: string;
  accessor InnerNamePrefix = "";
  accessor DiskParameters = { ClusterSize: 1, ReadAheadGranularity: 1 << 15 };
  // private
  DefaultVNetRoot: V_NET_ROOT<X> | null = null;
  readonly VirtualNetRoots: V_NET_ROOT<X>[] = [];
  NumberOfVirtualNetRoots = 0;
  ConstructionStatus = 0;
  ConnectionId: string;
  /** The FCB table (created by RxCreateNetRoot). */
  FcbTable: unknown = null;
  miniFinalized = false;

  constructor(serialNumber: number, srvCall: SRV_CALL<X>, name: string, connectionId: string) {
    super(NodeType.RDBSS_NTC_NETROOT, serialNumber);
    this.pSrvCall = srvCall;
    this.pNetRootName = name;
    this.ConnectionId = connectionId;
  }
  get kind(): "NET_ROOT" {
    return "NET_ROOT";
  }
  get displayName(): string {
    return this.pNetRootName;
  }
}

export class V_NET_ROOT<X extends MiniRdrExtensions = MiniRdrExtensions> extends RxNode {
  accessor pNetRoot: NET_ROOT<X>;
  accessor Context: Ext<X, "VNetRoot"> | null = null;
  accessor Context2: unknown = null;
  accessor Flags = 0;
  accessor NumberOfOpens = 0;
  accessor NumberOfFobxs = 0;
  accessor LogonId: string;
  accessor pUserDomainName: string | null = null;
  accessor pUserName: string | null = null;
  accessor pPassword: string | null = null;
  accessor SessionId = 0;
  accessor ConstructionStatus = 0;
  accessor IsExplicitConnection = false;
  // private
  ConnectionFinalizationDone = false;
  AdditionalReferenceForDeleteFsctlTaken = false;
  /** The canonical name under which it is in the netname table ("\;X:0\server\share" or "\server\share"). */
  PrefixName: string;
  /** The path below the share this V_NET_ROOT is rooted at (e.g. "\d1"). */
  accessor NamePrefix: string;
  ConnectionId: string;
  miniFinalized = false;

  constructor(
    serialNumber: number,
    netRoot: NET_ROOT<X>,
    prefixName: string,
    namePrefix: string,
    logonId: string,
    connectionId: string,
  ) {
    super(NodeType.RDBSS_NTC_V_NETROOT, serialNumber);
    this.pNetRoot = netRoot;
    this.PrefixName = prefixName;
    this.NamePrefix = namePrefix;
    this.LogonId = logonId;
    this.ConnectionId = connectionId;
  }
  get kind(): "V_NET_ROOT" {
    return "V_NET_ROOT";
  }
  get displayName(): string {
    return this.PrefixName;
  }
}

/** A byte-range lock held on an FCB (the FsRtl FILE_LOCK, reduced to what RDBSS needs). */
export interface RxFileLock {
  readonly fobx: FOBX;
  readonly offset: number;
  readonly length: number;
  readonly key: number;
  readonly exclusive: boolean;
}

/**
 * FSRTL_ADVANCED_FCB_HEADER, reduced: the FCB's main resource, its paging-I/O resource and the sizes. The paging-I/O
 * resource is made on first use: nothing in RDBSS acquires it without a cache manager (paging I/O), so most FCBs
 * never need one (≈ 300 B each with its name).
 */
export class FCB_HEADER {
  // `accessor` fields (private slots behind a getter and setter on the class), like the structures' MRX_ fields:
  // freeing the FCB only swaps its header's prototype for a trapping one (tombstone.ts, HEADER_FIELDS).
  accessor Resource: ERESOURCE;
  accessor FileSize = 0;
  accessor AllocationSize = 0;
  accessor ValidDataLength = 0;
  /** The paging-I/O resource once made (named after the FCB, which `owner` is). */
  private accessor paging: ERESOURCE | null = null;
  private accessor owner: FCB;
  constructor(resource: ERESOURCE, owner: FCB) {
    this.Resource = resource;
    this.owner = owner;
  }
  get PagingIoResource(): ERESOURCE {
    const p = this.paging;
    if (p !== null) return p;
    const res = new ERESOURCE(this.owner, "FCB paging");
    // An FCB freed before its paging resource was made: the resource goes with it (RDBSS retired the main one).
    if (this.Resource.deleted) {
      res.deleted = true;
      res.useAfterDelete = this.Resource.useAfterDelete;
    }
    this.paging = res;
    return res;
  }
  /** The paging-I/O resource if it was made (RDBSS retires it with the FCB). */
  get pagingIoResourceIfMade(): ERESOURCE | null {
    return this.paging;
  }
}

export class FCB<X extends MiniRdrExtensions = MiniRdrExtensions> extends RxNode implements ResourceNamer {
  accessor pNetRoot: NET_ROOT<X>;
  accessor Context: Ext<X, "Fcb"> | null = null;
  accessor Context2: unknown = null;
  accessor FcbState = 0;
  accessor UncleanCount = 0;
  accessor UncachedUncleanCount = 0;
  accessor OpenCount = 0;
  accessor OutstandingLockOperationsCount = 0;
  accessor Attributes = 0;
  accessor fShouldBeOrphaned = false;
  accessor fMiniInited = false;
  accessor CachedNetRootType: NET_ROOT_TYPE;
  /**
   * The first of the FCB's SRV_OPENs, linked through SRV_OPEN.nextInFcb (RDBSS's SrvOpenList LIST_ENTRY): a link
   * in each SRV_OPEN instead of an array per FCB (≈ 56 B each; almost every FCB has one SRV_OPEN). Read the list
   * as `SrvOpenList`; change it with addSrvOpen / removeSrvOpen.
   */
  accessor srvOpenFirst: SRV_OPEN<X> | null = null;
  accessor SrvOpenListVersion = 0;
  /** FSRTL_ADVANCED_FCB_HEADER, reduced. */
  accessor Header: FCB_HEADER;
  CreationTime = 0;
  LastAccessTime = 0;
  LastWriteTime = 0;
  LastChangeTime = 0;
  NumberOfLinks = 1;
  // private
  VNetRoot: V_NET_ROOT<X>;
  /** The FCB table key: the path relative to the NET_ROOT ("\dir\file", "" for the share root). */
  readonly FcbTablePath: string;
  readonly ShareAccess: SHARE_ACCESS;
  /** RDBSS's share access per SRV_OPEN: made on first use (RDBSS itself checks share access on `ShareAccess`). */
  private perSrvOpens: SHARE_ACCESS | null = null;
  /** Byte-range locks granted on the file: one shared frozen empty list until the first lock (`addFileLock`). */
  FileLocks: RxFileLock[] = emptyList();
  declare miniDeallocated: boolean;
  static {
    defineBitFlags(FCB.prototype, { miniDeallocated: NODE_BIT.miniDeallocated });
  }

  constructor(
    serialNumber: number,
    netRoot: NET_ROOT<X>,
    vNetRoot: V_NET_ROOT<X>,
    path: string,
    resource: ERESOURCE,
    share: SHARE_ACCESS,
  ) {
    super(NodeType.RDBSS_NTC_STORAGE_TYPE_UNKNOWN, serialNumber);
    this.pNetRoot = netRoot;
    this.VNetRoot = vNetRoot;
    this.FcbTablePath = path;
    this.CachedNetRootType = netRoot.Type;
    this.Header = new FCB_HEADER(resource, this);
    this.ShareAccess = share;
  }
  /** The SRV_OPENs in the order they were made (a copy: RDBSS's SrvOpenList). */
  get SrvOpenList(): readonly SRV_OPEN<X>[] {
    return linkedItems(this.srvOpenFirst, "nextInFcb");
  }
  /** How many SRV_OPENs the list holds. */
  get srvOpenCount(): number {
    let n = 0;
    for (let so = this.srvOpenFirst; so !== null; so = so.nextInFcb) n++;
    return n;
  }
  /** Append to SrvOpenList (InsertTailList). */
  addSrvOpen(so: SRV_OPEN<X>): void {
    this.srvOpenFirst = linkedAppend(this.srvOpenFirst, so, "nextInFcb");
  }
  /** Take out of SrvOpenList (RemoveEntryList); false when it was not on it. */
  removeSrvOpen(so: SRV_OPEN<X>): boolean {
    const first = linkedRemove(this.srvOpenFirst, so, "nextInFcb");
    if (first === undefined) return false;
    this.srvOpenFirst = first;
    return true;
  }
  /** Its resources' names ("FCB \\srv\\share\\a.txt", "FCB paging …"), built when asked rather than kept. */
  resourceName(res: ERESOURCE): string {
    return `${res.lockClass} ${this.peekDisplayName()}`;
  }
  get ShareAccessPerSrvOpens(): SHARE_ACCESS {
    if (this.perSrvOpens === null) this.perSrvOpens = new SHARE_ACCESS();
    return this.perSrvOpens;
  }
  get kind(): "FCB" {
    return "FCB";
  }
  get displayName(): string {
    return `${this.pNetRoot.pNetRootName}${this.FcbTablePath}`;
  }
  addFileLock(lock: RxFileLock): void {
    this.FileLocks = withItem(this.FileLocks, lock);
  }
  removeFileLock(lock: RxFileLock): void {
    const i = this.FileLocks.indexOf(lock);
    if (i >= 0) this.FileLocks.splice(i, 1);
  }
  clearFileLocks(): void {
    if (this.FileLocks.length > 0) this.FileLocks = emptyList();
  }
  /** The FCB's full name as RDBSS prefixes it ("\server\share\dir\file"). */
  get PrivateAlreadyPrefixedName(): string {
    return this.displayName;
  }
}

export class SRV_OPEN<X extends MiniRdrExtensions = MiniRdrExtensions> extends RxNode {
  accessor pFcb: FCB<X>;
  accessor pVNetRoot: V_NET_ROOT<X> | null;
  accessor Context: Ext<X, "SrvOpen"> | null = null;
  accessor Context2: unknown = null;
  accessor Flags = 0;
  accessor UncleanFobxCount = 0;
  accessor OpenCount = 0;
  accessor Key: unknown = null;
  accessor DesiredAccess = 0;
  accessor ShareAccess = 0;
  accessor CreateOptions = 0;
  accessor BufferingFlags = 0;
  // private
  /** The first of its FOBXs, linked through FOBX.nextInSrvOpen (see FCB.srvOpenFirst); read as `FobxList`. */
  fobxFirst: FOBX<X> | null = null;
  /** The next SRV_OPEN of the FCB's SrvOpenList. */
  nextInFcb: SRV_OPEN<X> | null = null;
  OpenStatus = 0;

  constructor(serialNumber: number, fcb: FCB<X>, vNetRoot: V_NET_ROOT<X>) {
    super(NodeType.RDBSS_NTC_SRVOPEN, serialNumber);
    this.pFcb = fcb;
    this.pVNetRoot = vNetRoot;
  }
  get kind(): "SRV_OPEN" {
    return "SRV_OPEN";
  }
  get displayName(): string {
    return this.pFcb.displayName;
  }
  get pAlreadyPrefixedName(): string {
    return this.pFcb.PrivateAlreadyPrefixedName;
  }
  /** The FOBXs in the order they were made (a copy). */
  get FobxList(): readonly FOBX<X>[] {
    return linkedItems(this.fobxFirst, "nextInSrvOpen");
  }
  /** Append to FobxList. */
  addFobx(fobx: FOBX<X>): void {
    this.fobxFirst = linkedAppend(this.fobxFirst, fobx, "nextInSrvOpen");
  }
  /** Take out of FobxList; false when it was not on it. */
  removeFobx(fobx: FOBX<X>): boolean {
    const first = linkedRemove(this.fobxFirst, fobx, "nextInSrvOpen");
    if (first === undefined) return false;
    this.fobxFirst = first;
    return true;
  }
}

export class FOBX<X extends MiniRdrExtensions = MiniRdrExtensions> extends RxNode {
  accessor pSrvOpen: SRV_OPEN<X>;
  accessor AssociatedFileObject: FILE_OBJECT | null = null;
  accessor Context: Ext<X, "Fobx"> | null = null;
  accessor Context2: unknown = null;
  accessor Flags = 0;
  /** The directory query template (set by the first NtQueryDirectoryFile). */
  accessor UnicodeQueryTemplate: string | null = null;
  accessor OffsetOfNextEaToReturn = 0;
  // private
  FobxSerialNumber = 0;
  /** The next FOBX of its SRV_OPEN's FobxList. */
  nextInSrvOpen: FOBX<X> | null = null;
  declare fOpenCountDecremented: boolean;
  static {
    defineBitFlags(FOBX.prototype, { fOpenCountDecremented: NODE_BIT.fOpenCountDecremented });
  }
  CloseTime = 0;

  constructor(serialNumber: number, srvOpen: SRV_OPEN<X>) {
    super(NodeType.RDBSS_NTC_FOBX, serialNumber);
    this.pSrvOpen = srvOpen;
  }
  get kind(): "FOBX" {
    return "FOBX";
  }
  get displayName(): string {
    return this.pSrvOpen.displayName;
  }
}

export type AnyRxNode = SRV_CALL | NET_ROOT | V_NET_ROOT | FCB | SRV_OPEN | FOBX;

/**
 * The mini-redirector's views (MRX_SRV_CALL …): the fields a mini-redirector may read and write. RDBSS passes
 * the same objects; the views keep its private fields out of the mini-redirector's type.
 */
export type MRX_SRV_CALL<X extends MiniRdrExtensions = MiniRdrExtensions> = Pick<
  SRV_CALL<X>,
  | "NodeTypeCode"
  | "NodeReferenceCount"
  | "Context"
  | "Context2"
  | "RxDeviceObject"
  | "pSrvCallName"
  | "pPrincipalName"
  | "pDomainName"
  | "Flags"
  | "MaximumNumberOfCloseDelayedFiles"
  | "Status"
  | "serial"
  | "label"
>;
export type MRX_NET_ROOT<X extends MiniRdrExtensions = MiniRdrExtensions> = Pick<
  NET_ROOT<X>,
  | "NodeTypeCode"
  | "NodeReferenceCount"
  | "pSrvCall"
  | "Context"
  | "Context2"
  | "Flags"
  | "NumberOfFcbs"
  | "NumberOfSrvOpens"
  | "MRxNetRootState"
  | "Type"
  | "DeviceType"
  | "pNetRootName"
  | "InnerNamePrefix"
  | "DiskParameters"
  | "serial"
  | "label"
>;
export type MRX_V_NET_ROOT<X extends MiniRdrExtensions = MiniRdrExtensions> = Pick<
  V_NET_ROOT<X>,
  | "NodeTypeCode"
  | "NodeReferenceCount"
  | "pNetRoot"
  | "Context"
  | "Context2"
  | "Flags"
  | "NumberOfOpens"
  | "NumberOfFobxs"
  | "LogonId"
  | "pUserDomainName"
  | "pUserName"
  | "pPassword"
  | "SessionId"
  | "ConstructionStatus"
  | "IsExplicitConnection"
  | "NamePrefix"
  | "serial"
  | "label"
>;
export type MRX_FCB<X extends MiniRdrExtensions = MiniRdrExtensions> = Pick<
  FCB<X>,
  | "NodeTypeCode"
  | "NodeReferenceCount"
  | "pNetRoot"
  | "Context"
  | "Context2"
  | "FcbState"
  | "UncleanCount"
  | "UncachedUncleanCount"
  | "OpenCount"
  | "OutstandingLockOperationsCount"
  | "Attributes"
  | "fShouldBeOrphaned"
  | "fMiniInited"
  | "CachedNetRootType"
  | "SrvOpenList"
  | "SrvOpenListVersion"
  | "Header"
  | "PrivateAlreadyPrefixedName"
  | "serial"
  | "label"
>;
export type MRX_SRV_OPEN<X extends MiniRdrExtensions = MiniRdrExtensions> = Pick<
  SRV_OPEN<X>,
  | "NodeTypeCode"
  | "NodeReferenceCount"
  | "pFcb"
  | "pVNetRoot"
  | "Context"
  | "Context2"
  | "Flags"
  | "pAlreadyPrefixedName"
  | "UncleanFobxCount"
  | "OpenCount"
  | "Key"
  | "DesiredAccess"
  | "ShareAccess"
  | "CreateOptions"
  | "BufferingFlags"
  | "serial"
  | "label"
>;
export type MRX_FOBX<X extends MiniRdrExtensions = MiniRdrExtensions> = Pick<
  FOBX<X>,
  | "NodeTypeCode"
  | "NodeReferenceCount"
  | "pSrvOpen"
  | "AssociatedFileObject"
  | "Context"
  | "Context2"
  | "Flags"
  | "UnicodeQueryTemplate"
  | "OffsetOfNextEaToReturn"
  | "serial"
  | "label"
>;

/**
 * Every structure an RDBSS has allocated and not yet freed, in allocation order (leak reports, object graphs): a
 * Set's interface — add, delete, has, size, iteration — over links in the structures themselves (16 B each), not a
 * hash table (≈ 35–100 B an entry, depending on where it is in its doubling). Iterating while the list changes is
 * not supported (nothing does: callers that finalize copy it first).
 */
export class LiveList implements Iterable<AnyRxNode> {
  private head: RxNode | null = null;
  private tail: RxNode | null = null;
  private count = 0;
  get size(): number {
    return this.count;
  }
  has(node: RxNode): boolean {
    return node.inLiveList;
  }
  add(node: AnyRxNode): this {
    if (node.inLiveList) return this;
    node.inLiveList = true;
    node.livePrev = this.tail;
    node.liveNext = null;
    if (this.tail === null) this.head = node;
    else this.tail.liveNext = node;
    this.tail = node;
    this.count++;
    return this;
  }
  delete(node: RxNode): boolean {
    if (!node.inLiveList) return false;
    node.inLiveList = false;
    const { livePrev: p, liveNext: n } = node;
    if (p === null) this.head = n;
    else p.liveNext = n;
    if (n === null) this.tail = p;
    else n.livePrev = p;
    node.livePrev = null;
    node.liveNext = null;
    this.count--;
    return true;
  }
  *[Symbol.iterator](): IterableIterator<AnyRxNode> {
    for (let n = this.head; n !== null; n = n.liveNext) yield n as AnyRxNode;
  }
  values(): IterableIterator<AnyRxNode> {
    return this[Symbol.iterator]();
  }
}
