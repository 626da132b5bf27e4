/**
 * Race (b): a change notification completing while it is being cancelled.
 *
 * The variant completes a pending notification on a worker when the directory changes (as a redirector does when
 * the server's change response arrives on a receive thread). The completion path disarms the cancel routine and
 * takes the notification off its list WITHOUT looking at either result: when the requester's NtCancelIoFileEx got
 * there first, RDBSS's cancel routine has already completed the request with STATUS_CANCELLED
 * (RxSetMinirdrCancelRoutine answers STATUS_CANCELLED), and RDBSS has freed the context: the worker's disarm is a
 * use after free of the RX_CONTEXT (useAfterFree.rx-context), and its completion would complete the IRP twice (0x44). Under the default FIFO schedule the completion worker runs as soon as the writer
 * blocks, long before the canceller, and the cancel finds nothing to cancel.
 */
import { encodeNotifyRecords } from "../../../emulator/io/index.js";
import { type NTSTATUS, STATUS, WorkQueueType } from "../../../emulator/kernel/index.js";
import type { FOBX, NET_ROOT, RDBSS_DEVICE_OBJECT, RX_CONTEXT } from "../../../emulator/rdbss/index.js";
import { armCancelRoutine } from "../../../miniredirs/common/control.js";
import { type NulExtensions, NulMrx, type NulNode, type NulShare } from "../../../miniredirs/nulmrx/index.js";
import type { NulChange } from "../../../miniredirs/nulmrx/store.js";
import { nulOptions, nulVariant } from "./_nulvariant.js";

interface Pending {
  readonly ctx: RX_CONTEXT;
  readonly dir: NulNode;
  readonly share: NulShare;
  readonly filter: number;
}

export class NotifyCancelRaceMrx extends NulMrx {
  readonly pending = new Set<Pending>();
  private readonly watched = new WeakSet<NulShare>();

  constructor(...args: ConstructorParameters<typeof NulMrx>) {
    super(...args);
    // Through a local: a function literal assigned straight to an element is pretenured, and would keep every
    // finished schedule's emulator alive across young collections (docs/WRITING-A-MINIRDR.md).
    const submit = (ctx: RX_CONTEXT<NulExtensions>): NTSTATUS => this.submitNotify(ctx as RX_CONTEXT);
    (this.MRxLowIOSubmit as ((ctx: RX_CONTEXT<NulExtensions>) => NTSTATUS)[])[8] = submit;
  }

  private submitNotify(ctx: RX_CONTEXT): NTSTATUS {
    const fcb = ctx.pFcb;
    const dir = fcb ? (fcb.Context as NulExtensions["Fcb"]).node : null;
    const share = ((fcb?.pNetRoot as NET_ROOT | undefined)?.Context as NulExtensions["NetRoot"] | undefined)?.share;
    if (!dir?.isDirectory || !share) return STATUS.STATUS_INVALID_PARAMETER;
    const p: Pending = { ctx, dir, share, filter: ctx.LowIoContext.ParamsFor.NotifyChangeDirectory.CompletionFilter };
    if (armCancelRoutine(this.rx, ctx, (c) => this.cancelNotification(c, p)) === STATUS.STATUS_CANCELLED)
      return STATUS.STATUS_CANCELLED;
    this.pending.add(p);
    if (!this.watched.has(share)) {
      this.watched.add(share);
      share.listeners.add((c) => this.changed(share, c));
    }
    return STATUS.STATUS_PENDING;
  }

  private changed(share: NulShare, c: NulChange): void {
    for (const p of this.pending) {
      if (p.share !== share || !(p.filter & c.filter)) continue;
      const dirPath = share.pathOf(p.dir);
      const prefix = dirPath === "\\" ? "\\" : `${dirPath}\\`;
      if (!c.path.toUpperCase().startsWith(prefix.toUpperCase())) continue;
      const rel = c.path.slice(prefix.length);
      if (rel.includes("\\")) continue;
      this.rx.RxDispatchToWorkerThread(
        this.device as unknown as RDBSS_DEVICE_OBJECT,
        WorkQueueType.DelayedWorkQueue,
        () => this.complete(p, c.action, rel),
        p.ctx,
        "notify-cancel: change response",
      );
    }
  }

  private async complete(p: Pending, action: number, name: string): Promise<void> {
    // BUG: both results are ignored. If the cancel routine ran first, it took the notification off the list and
    // completed it with STATUS_CANCELLED; RxSetMinirdrCancelRoutine answers STATUS_CANCELLED and the delete false,
    // and the request must be left alone.
    armCancelRoutine(this.rx, p.ctx, null);
    this.pending.delete(p);
    const buf = p.ctx.LowIoContext.ParamsFor.NotifyChangeDirectory.pNotificationBuffer;
    const r = buf ? encodeNotifyRecords([{ action, fileName: name }], buf) : { bytesWritten: 0, complete: false };
    p.ctx.IoStatusBlock.Status = r.complete ? STATUS.STATUS_SUCCESS : STATUS.STATUS_NOTIFY_ENUM_DIR;
    p.ctx.IoStatusBlock.Information = r.bytesWritten;
    this.rx.RxLowIoCompletion(p.ctx);
  }

  private cancelNotification(ctx: RX_CONTEXT, p: Pending): NTSTATUS {
    if (!this.pending.delete(p)) return STATUS.STATUS_SUCCESS;
    const fo = (ctx.pFobx as FOBX | null)?.AssociatedFileObject;
    ctx.IoStatusBlock.Status = fo?.cleanupSent ? STATUS.STATUS_NOTIFY_CLEANUP : STATUS.STATUS_CANCELLED;
    ctx.IoStatusBlock.Information = 0;
    this.rx.RxLowIoCompletion(ctx);
    return STATUS.STATUS_SUCCESS;
  }
}

export const miniRdr = nulVariant(
  "notify-cancel",
  "nulmrx whose notification completion ignores that its cancel routine is already running (race b)",
  (rx, setup) => new NotifyCancelRaceMrx(rx, nulOptions(setup)),
  (mrx) => [...mrx.pending].map((p) => `notification ${p.ctx.label()} still pending`),
);
