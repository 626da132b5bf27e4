/**
 * Race (c): a close racing a forced connection delete.
 *
 * The variant sends the server-side CLOSE asynchronously, as SMB redirectors do: MRxCloseSrvOpen posts it to a
 * worker and returns. The worker reads the share from the NET_ROOT's extension when it runs instead of capturing
 * it when the close was issued, and MRxFinalizeNetRoot tears the share down (tree disconnect). A forced
 * `net use /delete` (RxFinalizeConnection TRUE) calls MRxFinalizeNetRoot at once, so if it runs between the close
 * and its worker, the worker dereferences a share that is gone: an exception in a system thread, bug check 0x7E.
 * Under the default FIFO schedule the close's worker runs before the deleting thread.
 */
import { type NTSTATUS, STATUS, WorkQueueType } from "../../../emulator/kernel/index.js";
import type { MRX_NET_ROOT, NET_ROOT, RDBSS_DEVICE_OBJECT, RX_CONTEXT } from "../../../emulator/rdbss/index.js";
import { type NulExtensions, NulMrx, type NulShare } from "../../../miniredirs/nulmrx/index.js";
import { nulOptions, nulVariant } from "./_nulvariant.js";

export class CloseVsDeleteMrx extends NulMrx {
  /** Server-side opens per share: MRxCreate adds one, the CLOSE worker removes it. */
  readonly serverOpens = new Map<string, number>();

  override MRxCreate(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const st = super.MRxCreate(ctx);
    const share = ((ctx.Create.pNetRoot as NET_ROOT | null)?.Context as NulExtensions["NetRoot"] | null)?.share;
    if (st === STATUS.STATUS_SUCCESS && share)
      this.serverOpens.set(share.name, (this.serverOpens.get(share.name) ?? 0) + 1);
    return st;
  }

  override MRxCloseSrvOpen(ctx?: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const netRoot = ctx?.pFcb?.pNetRoot as NET_ROOT | undefined;
    if (!netRoot) return STATUS.STATUS_SUCCESS;
    this.rx.RxDispatchToWorkerThread(
      this.device as unknown as RDBSS_DEVICE_OBJECT,
      WorkQueueType.DelayedWorkQueue,
      () => {
        // BUG: the share is read when the CLOSE goes out, not captured when it was issued (nor kept alive).
        const share = (netRoot.Context as NulExtensions["NetRoot"]).share as NulShare;
        this.serverOpens.set(share.name, (this.serverOpens.get(share.name) ?? 1) - 1);
      },
      netRoot,
      "close-vs-delete: server CLOSE",
    );
    return STATUS.STATUS_SUCCESS;
  }

  override MRxFinalizeNetRoot(netRoot?: MRX_NET_ROOT<NulExtensions>): NTSTATUS {
    const ext = netRoot?.Context as NulExtensions["NetRoot"] | undefined;
    if (ext) ext.share = null; // tree disconnect: the share state is gone
    return STATUS.STATUS_SUCCESS;
  }
}

export const miniRdr = nulVariant(
  "close-vs-delete",
  "nulmrx whose asynchronous server CLOSE uses the share after a forced delete tore it down (race c)",
  (rx, setup) => new CloseVsDeleteMrx(rx, nulOptions(setup)),
  (mrx) =>
    [...mrx.serverOpens]
      .filter(([, n]) => n !== 0)
      .map(([s, n]) => `share ${s}: ${n} server-side open(s) never closed`),
);
