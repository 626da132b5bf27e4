/**
 * memsmb server: byte-range locks of one file, with the FsRtl / LockFileEx rules.
 *
 * - A lock belongs to an owner (the server's open) and a key. Ranges are [offset, offset + length).
 * - A zero-length lock is always granted and never conflicts with anything (a lock or an I/O); it only exists to be
 *   unlocked again.
 * - Lock against lock: two overlapping shared locks never conflict; anything else overlapping conflicts, except a
 *   shared lock over an exclusive lock of the same owner and key (locks "stack", as FsRtl and Samba allow). An
 *   exclusive lock over an own shared lock conflicts.
 * - Lock against I/O: a read conflicts with an overlapping exclusive lock of another owner; a write conflicts with an
 *   overlapping exclusive lock of another owner and with every overlapping shared lock, the writer's own included
 *   (a shared lock makes the range read-only for everybody). I/O carries no key: the owner alone decides.
 * - Waiters queue in FIFO order. Whenever locks go away, the queue is scanned in order and every waiter that no
 *   longer conflicts is granted (a waiter still blocked does not hold back the ones behind it).
 */

export interface LockRange {
  readonly offset: number;
  readonly length: number;
  readonly exclusive: boolean;
  readonly key: number;
}

export interface GrantedLock<O> extends LockRange {
  readonly owner: O;
}

export interface LockWaiter<O> extends LockRange {
  readonly owner: O;
  readonly waitId: number;
  readonly onGranted: (status: number) => void;
}

export function rangesOverlap(aOffset: number, aLength: number, bOffset: number, bLength: number): boolean {
  return aLength > 0 && bLength > 0 && aOffset < bOffset + bLength && bOffset < aOffset + aLength;
}

/** The lists of a file nobody has locked: one shared, frozen empty array (most files never see a lock). */
const NONE: never[] = Object.freeze([]) as unknown as never[];

export class ByteRangeLocks<O> {
  /** Granted locks, oldest first. Replaced by a list of its own on the first grant (never mutated while empty). */
  granted: GrantedLock<O>[] = NONE;
  /** Waiting lock requests, FIFO. Same sharing as `granted`. */
  waiters: LockWaiter<O>[] = NONE;

  get empty(): boolean {
    return this.granted.length === 0 && this.waiters.length === 0;
  }

  /** Whether `req` by `owner` conflicts with a granted lock. */
  conflicts(owner: O, req: LockRange): boolean {
    for (const g of this.granted) {
      if (!rangesOverlap(g.offset, g.length, req.offset, req.length)) continue;
      if (!g.exclusive && !req.exclusive) continue;
      if (g.exclusive && !req.exclusive && g.owner === owner && g.key === req.key) continue;
      return true;
    }
    return false;
  }

  canRead(owner: O, offset: number, length: number): boolean {
    return !this.granted.some(
      (g) => g.exclusive && g.owner !== owner && rangesOverlap(g.offset, g.length, offset, length),
    );
  }

  canWrite(owner: O, offset: number, length: number): boolean {
    return !this.granted.some(
      (g) => (!g.exclusive || g.owner !== owner) && rangesOverlap(g.offset, g.length, offset, length),
    );
  }

  grant(owner: O, req: LockRange): void {
    const g = { owner, offset: req.offset, length: req.length, exclusive: req.exclusive, key: req.key };
    if (this.granted === NONE) this.granted = [g];
    else this.granted.push(g);
  }

  /** Remove the oldest lock of `owner` with exactly this range and key; false when there is none. */
  release(owner: O, offset: number, length: number, key: number): boolean {
    const i = this.granted.findIndex(
      (g) => g.owner === owner && g.offset === offset && g.length === length && g.key === key,
    );
    if (i < 0) return false;
    this.granted.splice(i, 1);
    return true;
  }

  /** Remove every granted lock of `owner`; returns how many went. */
  releaseOwner(owner: O): number {
    let removed = 0;
    for (let i = this.granted.length - 1; i >= 0; i--) {
      if ((this.granted[i] as GrantedLock<O>).owner === owner) {
        this.granted.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  enqueue(waiter: LockWaiter<O>): void {
    if (this.waiters === NONE) this.waiters = [waiter];
    else this.waiters.push(waiter);
  }

  /** Remove the waiter with this id, if it belongs to `owner`. */
  removeWaiter(waitId: number, owner: O): LockWaiter<O> | undefined {
    const i = this.waiters.findIndex((w) => w.waitId === waitId && w.owner === owner);
    if (i < 0) return undefined;
    return this.waiters.splice(i, 1)[0];
  }

  /** Remove (in FIFO order) and return the waiters of `owner`. */
  removeWaitersOf(owner: O): LockWaiter<O>[] {
    const mine = this.waiters.filter((w) => w.owner === owner);
    if (mine.length > 0) {
      const rest = this.waiters.filter((w) => w.owner !== owner);
      this.waiters.length = 0;
      this.waiters.push(...rest);
    }
    return mine;
  }

  /** Grant, in FIFO order, every waiter that no longer conflicts; returns them (already granted). */
  grantWaiters(): LockWaiter<O>[] {
    const granted: LockWaiter<O>[] = [];
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i] as LockWaiter<O>;
      if (this.conflicts(w.owner, w)) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      this.grant(w.owner, w);
      granted.push(w);
    }
    return granted;
  }
}
