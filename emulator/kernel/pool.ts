/**
 * Pool: ExAllocatePoolWithTag / ExFreePoolWithTag / ExFreePool with Driver Verifier's pool tracking and special
 * pool built in. A block is the object the driver keeps its state in (`init`, or an empty object), handed out behind a
 * Proxy: the driver only ever holds the Proxy (it came from the allocation), so once the block is freed every read
 * or write through any copy of the pointer is caught. That is what special pool does with an unmapped page (bug
 * check 0xD5), here with the block's tag, who allocated it and who freed it in the report.
 *
 * The checks (switch "pool"): freeing a block twice (0xC4 / 0x13), freeing what no allocation returned (0xC4 / 0x10),
 * freeing with another tag than the allocation's (0xC2 / 0x0A), a zero-byte allocation (0xC4 / 0x00), and a use after
 * free (0xD5). The IRQL rules belong to the "irql" switch: paged pool at most APC_LEVEL, nonpaged at most
 * DISPATCH_LEVEL, for allocations (0xC4 / 0x01, 0x02) and frees (0xC4 / 0x11, 0x12); and a read or write of a paged
 * block at DISPATCH_LEVEL or above (0xD1, which Driver Verifier's force IRQL checking makes likely by paging pageable
 * memory out at every raise; here every access is checked, whatever happened to be resident). Blocks still allocated when a
 * scenario ends are listed among its leaks (`outstanding`). Pool tracking charges each block to the driver whose
 * code allocated it (KThread.driver); when that driver unloads with blocks still allocated, the stop is 0xC4 / 0x62.
 */
import { BAD_POOL_CALLER_CODES, BUGCHECK, VERIFIER_C4 } from "./bugcodes.js";
import type { KernelCore } from "./core.js";
import { APC_LEVEL, DISPATCH_LEVEL, irqlName } from "./irql.js";

/** POOL_TYPE (the values of wdm.h that matter here). */
export const POOL_TYPE = {
  NonPagedPool: 0,
  PagedPool: 1,
  NonPagedPoolNx: 512,
} as const;
export type POOL_TYPE = (typeof POOL_TYPE)[keyof typeof POOL_TYPE];

/** A pool tag: four characters ("NulC"), or the ULONG a C driver would write. */
export type PoolTag = string | number;

/** Where something happened to a block, for reports. */
interface PoolEvent {
  /** The DDI (ExAllocatePoolWithTag, ExFreePoolWithTag, ExFreePool). */
  readonly by: string;
  readonly thread: string;
  readonly chain: readonly string[];
  readonly time: number;
  readonly step: string | null;
}

/** What the pool knows about one allocation. */
export interface PoolBlockInfo {
  readonly tag: string;
  /** The driver the block is charged to (the allocating thread's KThread.driver), or null (kernel, test code). */
  readonly driver: string | null;
  readonly poolType: POOL_TYPE;
  readonly bytes: number;
  readonly allocated: PoolEvent;
  freed: PoolEvent | null;
  /** Its use at DISPATCH_LEVEL or above (paged pool) was reported: once per block, so `record` mode lists it once. */
  pagedFaultReported: boolean;
}

/** "NulC" for 'NulC', or the ULONG as four characters when printable (little-endian, as !pool shows it). */
export function tagText(tag: PoolTag): string {
  if (typeof tag === "string") return tag;
  let s = "";
  for (let i = 0; i < 4; i++) {
    const c = (tag >>> (8 * i)) & 0xff;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
  }
  return s;
}

function poolTypeName(t: number): string {
  return t === POOL_TYPE.PagedPool ? "PagedPool" : t === POOL_TYPE.NonPagedPoolNx ? "NonPagedPoolNx" : "NonPagedPool";
}

/** The pool of one emulated kernel. */
export class Pool {
  private readonly k: KernelCore;
  private readonly blocks = new WeakMap<object, PoolBlockInfo>();
  /** Blocks not yet freed, in allocation order (for the leak report). */
  private readonly live = new Set<object>();

  /**
   * Told of every block freed, after the checks passed (RDBSS's verifier: a SRV_CALL's state freed by another
   * SRV_CALL's MRxFinalizeSrvCall). Assign it through a local, not a function literal (KernelCore.createThread).
   */
  freeObserver: ((block: object, info: PoolBlockInfo) => void) | null = null;

  constructor(kernel: KernelCore) {
    this.k = kernel;
  }

  private event(by: string): PoolEvent {
    const t = this.k.current;
    return {
      by,
      thread: t ? t.name : "?",
      chain: t ? t.frames.slice(0, -1) : [],
      time: this.k.now,
      step: t?.stepLabel ?? this.k.stepLabel,
    };
  }

  private describe(b: PoolBlockInfo): string {
    return `pool block '${b.tag}' (${poolTypeName(b.poolType)}, ${b.bytes} bytes)`;
  }

  private where(e: PoolEvent): string {
    return `on thread "${e.thread}" at ${(e.time / 1e7).toFixed(6)} s${e.step ? ` (${e.step})` : ""}, call chain ${e.chain.join(" → ") || "—"}`;
  }

  /** The IRQL rule of both calls: paged pool at most APC_LEVEL, nonpaged at most DISPATCH_LEVEL. */
  private checkIrql(ddi: string, poolType: number, bytes: number, free: boolean, block: object | null): void {
    const t = this.k.current;
    if (t === null || !this.k.checkIrql) return;
    const paged = poolType === POOL_TYPE.PagedPool;
    const max = paged ? APC_LEVEL : DISPATCH_LEVEL;
    if (t.irql <= max) return;
    const sub = free
      ? paged
        ? VERIFIER_C4.PAGED_POOL_FREE_ABOVE_APC
        : VERIFIER_C4.NONPAGED_POOL_FREE_ABOVE_DISPATCH
      : paged
        ? VERIFIER_C4.PAGED_POOL_ALLOC_ABOVE_APC
        : VERIFIER_C4.NONPAGED_POOL_ALLOC_ABOVE_DISPATCH;
    this.k.violation(
      "irql",
      BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      [BigInt(sub.code), BigInt(t.irql), BigInt(poolType), free && block ? this.k.addressOf(block) : BigInt(bytes)],
      `${ddi} of ${poolTypeName(poolType)} at ${irqlName(t.irql)}: ${paged ? "paged pool may only be allocated or freed at APC_LEVEL or below (its pages can be paged out)" : "nonpaged pool may only be allocated or freed at DISPATCH_LEVEL or below"}.`,
    );
  }

  allocate<T extends object>(poolType: number, bytes: number, tag: PoolTag, init: T | undefined): T | null {
    const text = tagText(tag);
    if (bytes === 0) {
      this.k.violation(
        "pool",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [BigInt(VERIFIER_C4.ZERO_BYTE_ALLOCATION.code), BigInt(this.k.current?.irql ?? 0), BigInt(poolType), 0n],
        `ExAllocatePoolWithTag('${text}') asked for 0 bytes: a zero-byte allocation is a driver bug (Driver Verifier stops on it).`,
      );
    }
    this.checkIrql("ExAllocatePoolWithTag", poolType, bytes, false, null);
    if (this.k.faults !== null && this.k.faults.hit("ExAllocatePoolWithTag", text) !== null) return null;
    const target = (init ?? {}) as T;
    const info: PoolBlockInfo = {
      tag: text,
      driver: this.k.runningDriver,
      poolType: poolType as POOL_TYPE,
      bytes,
      allocated: this.event("ExAllocatePoolWithTag"),
      freed: null,
      pagedFaultReported: false,
    };
    const pool = this;
    // A freed block traps every access (special pool); a live paged one traps an access at DISPATCH_LEVEL or above.
    const paged = poolType === POOL_TYPE.PagedPool;
    const block = new Proxy(target, {
      get(o, key, receiver) {
        if ((info.freed !== null || paged) && key !== "then") pool.touched(block, info, key, "read");
        return Reflect.get(o, key, receiver);
      },
      set(o, key, value, receiver) {
        if (info.freed !== null || paged) pool.touched(block, info, key, "write");
        return Reflect.set(o, key, value, receiver);
      },
      has(o, key) {
        if (info.freed !== null || paged) pool.touched(block, info, key, "read");
        return Reflect.has(o, key);
      },
      deleteProperty(o, key) {
        if (info.freed !== null || paged) pool.touched(block, info, key, "write");
        return Reflect.deleteProperty(o, key);
      },
    });
    this.blocks.set(block, info);
    this.live.add(block);
    return block;
  }

  free(ddi: string, block: object, tag: PoolTag | null): void {
    const info = typeof block === "object" && block !== null ? this.blocks.get(block) : undefined;
    if (info === undefined) {
      this.k.violation(
        "pool",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [
          BigInt(VERIFIER_C4.FREE_OF_UNALLOCATED_ADDRESS.code),
          typeof block === "object" && block !== null ? this.k.addressOf(block) : 0n,
          0n,
          0n,
        ],
        `${ddi} was given ${block === null ? "NULL" : "an address that no ExAllocatePoolWithTag returned"}: a driver may free only the pointer its allocation gave it.`,
      );
      return;
    }
    this.checkIrql(ddi, info.poolType, info.bytes, true, block);
    if (info.freed !== null) {
      this.k.violation(
        "pool",
        BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
        [BigInt(VERIFIER_C4.POOL_DOUBLE_FREE.code), 0n, this.k.addressOf(block), 0n],
        `${ddi} freed ${this.describe(info)} a second time. It was allocated ${this.where(info.allocated)}, and freed by ${info.freed.by} ${this.where(info.freed)}.`,
      );
      return;
    }
    if (tag !== null && tagText(tag) !== info.tag) {
      this.k.violation(
        "pool",
        BUGCHECK.BAD_POOL_CALLER,
        [BigInt(BAD_POOL_CALLER_CODES.FREE_WITH_WRONG_TAG.code), this.k.addressOf(block), 0n, 0n],
        `${ddi} gave the tag '${tagText(tag)}' for ${this.describe(info)}, allocated with '${info.tag}' ${this.where(info.allocated)}.`,
      );
      return;
    }
    info.freed = this.event(ddi);
    this.live.delete(block);
    if (this.freeObserver !== null) this.freeObserver(block, info);
  }

  /** A driver's image unloads: its blocks still allocated are pool tracking's 0xC4 / 0x62. */
  verifyUnload(driverObject: object, driverName: string): void {
    const left: PoolBlockInfo[] = [];
    for (const b of this.live) {
      const info = this.blocks.get(b) as PoolBlockInfo;
      if (info.driver === driverName) left.push(info);
    }
    if (left.length === 0) return;
    const list = left.map((b) => `${this.describe(b)}, allocated ${this.where(b.allocated)}`).join("; ");
    this.k.violation(
      "pool",
      BUGCHECK.DRIVER_VERIFIER_DETECTED_VIOLATION,
      [BigInt(VERIFIER_C4.UNLOAD_WITH_POOL_ALLOCATED.code), this.k.addressOf(driverObject), 0n, BigInt(left.length)],
      `${driverName} unloaded without freeing ${left.length === 1 ? "1 pool allocation" : `${left.length} pool allocations`}: ${list}.`,
    );
  }

  /** A freed block was touched: special pool's 0xD5, with the block's story. */
  private used(block: object, info: PoolBlockInfo, field: string, use: "read" | "write"): void {
    const freed = info.freed as PoolEvent;
    this.k.violation(
      "pool",
      BUGCHECK.DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL,
      [this.k.addressOf(block), use === "write" ? 1n : 0n, 0n, 0n],
      `A ${use} of ${field} of ${this.describe(info)} after it was freed: a use after free — in Windows this reads or corrupts reused pool. Allocated ${this.where(info.allocated)}; freed by ${freed.by} ${this.where(freed)}.`,
    );
  }

  /**
   * A field of a freed block, or of a paged one, was used (symbols are not fields: inspection, iteration). After a
   * stop nothing is driver code any more (a test or the report looking at the state).
   */
  private touched(block: object, info: PoolBlockInfo, key: string | symbol, use: "read" | "write"): void {
    if (typeof key !== "string" || this.k.stopped !== null) return;
    if (info.freed !== null) this.used(block, info, key, use);
    else this.touchPaged(block, info, key, use);
  }

  /**
   * A live paged block read or written: at DISPATCH_LEVEL or above its page may not be resident, and the page fault
   * cannot be served there — 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL in Windows, when the page happens to be out.
   */
  private touchPaged(block: object, info: PoolBlockInfo, field: string, use: "read" | "write"): void {
    const t = this.k.current;
    if (t === null || t.irql < DISPATCH_LEVEL || info.pagedFaultReported || !this.k.checkIrql) return;
    info.pagedFaultReported = true;
    this.k.pageableAtRaisedIrql(
      t,
      this.k.addressOf(block),
      use === "write" ? 1n : 0n,
      `A ${use} of ${field} of ${this.describe(info)}`,
      "",
      "paged pool may be touched",
      `Allocate what DISPATCH_LEVEL code reads from NonPagedPool. The block was allocated ${this.where(info.allocated)}.`,
    );
  }

  /** What a block is, or undefined for an object no allocation returned. */
  infoOf(block: object): PoolBlockInfo | undefined {
    return this.blocks.get(block);
  }

  /** The blocks still allocated, described with where each was allocated (for leak reports). */
  outstanding(): string[] {
    const out: string[] = [];
    for (const b of this.live) {
      const info = this.blocks.get(b) as PoolBlockInfo;
      out.push(`${this.describe(info)} never freed: allocated ${this.where(info.allocated)}`);
    }
    return out;
  }
}
