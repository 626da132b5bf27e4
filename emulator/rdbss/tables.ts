/**
 * The netname (prefix) table of a mini-redirector device and the FCB table of a NET_ROOT (prefix.h, fcbtable.h).
 * Both are guarded by their own ERESOURCE TableLock; the lock order is netname table → FCB table → FCB.
 * These classes hold the data; the routines that take locks and references live in the RDBSS class.
 */
import type { ERESOURCE } from "../kernel/index.js";
import type { FCB, NET_ROOT, SRV_CALL, V_NET_ROOT } from "./structs.js";

export type PrefixContainer = SRV_CALL | NET_ROOT | V_NET_ROOT;

export interface RX_PREFIX_ENTRY {
  /** The name as inserted ("\server", "\server\share", "\;X:0\server\share"). */
  readonly Prefix: string;
  /** The first CaseInsensitiveLength characters compare case-insensitively, the rest exactly. */
  readonly CaseInsensitiveLength: number;
  /** RX_CONNECTION_ID, compared byte for byte. */
  readonly ConnectionId: string;
  readonly ContainingRecord: PrefixContainer;
}

export class RX_PREFIX_TABLE {
  readonly TableLock: ERESOURCE;
  Version = 0;
  /** Upper-cased prefix → entries (several may share a name and differ in case tail or connection id). */
  private readonly buckets = new Map<string, RX_PREFIX_ENTRY[]>();
  /** Container → the bucket it was inserted in (remove and contains without scanning every bucket). */
  private readonly bucketOf = new Map<PrefixContainer, string>();
  /** Containers inserted more than once: remove and contains scan for them, as before the index. */
  private readonly insertedTwice = new Set<PrefixContainer>();

  constructor(lock: ERESOURCE) {
    this.TableLock = lock;
  }

  insert(entry: RX_PREFIX_ENTRY): void {
    const key = entry.Prefix.toUpperCase();
    const list = this.buckets.get(key);
    if (list) list.push(entry);
    else this.buckets.set(key, [entry]);
    if (this.bucketOf.has(entry.ContainingRecord)) this.insertedTwice.add(entry.ContainingRecord);
    else this.bucketOf.set(entry.ContainingRecord, key);
    this.Version++;
  }

  remove(container: PrefixContainer): boolean {
    if (!this.insertedTwice.has(container)) {
      const key = this.bucketOf.get(container);
      if (key === undefined) return false;
      const list = this.buckets.get(key) as RX_PREFIX_ENTRY[];
      const i = list.findIndex((e) => e.ContainingRecord === container);
      list.splice(i, 1);
      if (list.length === 0) this.buckets.delete(key);
      this.bucketOf.delete(container);
      this.Version++;
      return true;
    }
    return this.removeScanning(container);
  }

  private removeScanning(container: PrefixContainer): boolean {
    let removed = false;
    for (const [key, list] of this.buckets) {
      const i = list.findIndex((e) => e.ContainingRecord === container);
      if (i >= 0) {
        list.splice(i, 1);
        if (list.length === 0) this.buckets.delete(key);
        this.Version++;
        removed = true;
        break;
      }
    }
    // Keep the index right for what is left of a container inserted more than once.
    this.bucketOf.delete(container);
    this.insertedTwice.delete(container);
    for (const [key, list] of this.buckets) {
      for (const e of list) {
        if (e.ContainingRecord !== container) continue;
        if (this.bucketOf.has(container)) this.insertedTwice.add(container);
        else this.bucketOf.set(container, key);
      }
    }
    return removed;
  }

  contains(container: PrefixContainer): boolean {
    return this.bucketOf.has(container);
  }

  /** The entry whose name equals `name` under its case rule and whose connection id matches. */
  find(name: string, connectionId: string): RX_PREFIX_ENTRY | undefined {
    return this.findIn(this.buckets.get(name.toUpperCase()), name, connectionId);
  }

  /** `find` in the bucket already looked up for `name`. */
  private findIn(
    list: readonly RX_PREFIX_ENTRY[] | undefined,
    name: string,
    connectionId: string,
  ): RX_PREFIX_ENTRY | undefined {
    if (!list) return undefined;
    for (const e of list) if (e.ConnectionId === connectionId && matches(e, name)) return e;
    return undefined;
  }

  /**
   * RxPrefixTableLookupName: scan prefixes of `name` from shortest to longest, cutting at "\" and ":". A SRV_CALL
   * hit keeps scanning; the first NET_ROOT or V_NET_ROOT hit stops. Returns the hit and the unmatched rest.
   */
  lookup(name: string, connectionId: string): { entry: RX_PREFIX_ENTRY; remaining: string } | undefined {
    // The name is upper-cased once when it is ASCII (each prefix's bucket key is then a slice of it); otherwise
    // each prefix is upper-cased on its own, since toUpperCase may change the length of other characters.
    const upper = isAscii(name) ? name.toUpperCase() : null;
    let best: { entry: RX_PREFIX_ENTRY; remaining: string } | undefined;
    for (let i = 1; i <= name.length; i++) {
      const atCut = i === name.length || name.charCodeAt(i) === BACKSLASH || name.charCodeAt(i) === COLON;
      if (!atCut) continue;
      const list = this.buckets.get(upper === null ? name.slice(0, i).toUpperCase() : upper.slice(0, i));
      if (list === undefined) continue;
      const e = this.findIn(list, name.slice(0, i), connectionId);
      if (!e) continue;
      best = { entry: e, remaining: name.slice(i) };
      if (e.ContainingRecord.kind !== "SRV_CALL") return best;
    }
    return best;
  }

  /** Every container in the table, in insertion order per name. */
  containers(): PrefixContainer[] {
    const out: PrefixContainer[] = [];
    for (const list of this.buckets.values()) for (const e of list) out.push(e.ContainingRecord);
    return out;
  }

  get size(): number {
    let n = 0;
    for (const list of this.buckets.values()) n += list.length;
    return n;
  }
}

const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** Whether `name` is the entry's name; called only for entries of `name`'s bucket (same upper-cased name). */
function matches(e: RX_PREFIX_ENTRY, name: string): boolean {
  if (name.length !== e.Prefix.length) return false;
  // The whole name compares case-insensitively (the usual rule): the bucket already matched it.
  if (e.CaseInsensitiveLength >= name.length) return true;
  const cil = e.CaseInsensitiveLength;
  if (name.slice(0, cil).toUpperCase() !== e.Prefix.slice(0, cil).toUpperCase()) return false;
  return name.slice(cil) === e.Prefix.slice(cil);
}

/** Whether every character of `s` is ASCII (then `s.toUpperCase()` keeps each character's position). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** RX_FCB_TABLE: the FCBs of one NET_ROOT by path; the share root ("") is TableEntryForNull. */
export class RX_FCB_TABLE {
  readonly TableLock: ERESOURCE;
  Version = 0;
  readonly CaseInsensitiveMatch: boolean;
  private readonly map = new Map<string, FCB>();
  TableEntryForNull: FCB | null = null;

  constructor(lock: ERESOURCE, caseInsensitive: boolean) {
    this.TableLock = lock;
    this.CaseInsensitiveMatch = caseInsensitive;
  }

  private key(path: string): string {
    return this.CaseInsensitiveMatch ? path.toUpperCase() : path;
  }

  lookup(path: string): FCB | undefined {
    if (path === "") return this.TableEntryForNull ?? undefined;
    return this.map.get(this.key(path));
  }

  insert(fcb: FCB): void {
    if (fcb.FcbTablePath === "") this.TableEntryForNull = fcb;
    else this.map.set(this.key(fcb.FcbTablePath), fcb);
    this.Version++;
  }

  remove(fcb: FCB): boolean {
    if (fcb.FcbTablePath === "") {
      if (this.TableEntryForNull !== fcb) return false;
      this.TableEntryForNull = null;
      this.Version++;
      return true;
    }
    const k = this.key(fcb.FcbTablePath);
    if (this.map.get(k) !== fcb) return false;
    this.map.delete(k);
    this.Version++;
    return true;
  }

  /** The FCBs in the hash buckets (not TableEntryForNull). */
  bucketFcbs(): FCB[] {
    return [...this.map.values()];
  }

  all(): FCB[] {
    const out = [...this.map.values()];
    if (this.TableEntryForNull) out.unshift(this.TableEntryForNull);
    return out;
  }

  get size(): number {
    return this.map.size + (this.TableEntryForNull ? 1 : 0);
  }
}
