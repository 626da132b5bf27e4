/**
 * Race (e): a reference dropped early on an error path that only a particular interleaving reaches.
 *
 * The variant serves reads on a worker (the server round trip) and keeps the SRV_OPEN referenced while the read is
 * in flight (RxReference when it pends, RxDereference when it completes). The worker's error path — the request was
 * cancelled before the worker got to it — drops the reference, and then the common exit drops it again. The error
 * path is reached only when the requester's cancel lands before the worker runs; then the SRV_OPEN's count is one
 * short and RDBSS finalizes it under the FOBX that still points to it (or the count underflows): a stop. Under the
 * default FIFO schedule the read worker runs before the cancelling thread and the error path never runs.
 */
import { type NTSTATUS, STATUS, WorkQueueType } from "../../../emulator/kernel/index.js";
import {
  LockHoldingState,
  type RDBSS_DEVICE_OBJECT,
  type RX_CONTEXT,
  RX_CONTEXT_FLAG,
  type SRV_OPEN,
} from "../../../emulator/rdbss/index.js";
import { type NulExtensions, NulMrx } from "../../../miniredirs/nulmrx/index.js";
import { nulOptions, nulVariant } from "./_nulvariant.js";

export class EarlyDerefMrx extends NulMrx {
  /** Reads in flight. */
  inFlight = 0;

  constructor(...args: ConstructorParameters<typeof NulMrx>) {
    super(...args);
    const lowio = this.MRxLowIOSubmit as ((ctx: RX_CONTEXT<NulExtensions>) => NTSTATUS)[];
    const read = lowio[0] as (ctx: RX_CONTEXT<NulExtensions>) => NTSTATUS;
    // Through a local (a literal assigned straight to an element is pretenured: docs/WRITING-A-MINIRDR.md).
    const submit = (ctx: RX_CONTEXT<NulExtensions>): NTSTATUS => this.readAsync(ctx, read);
    lowio[0] = submit;
  }

  private readAsync(ctx: RX_CONTEXT<NulExtensions>, read: (ctx: RX_CONTEXT<NulExtensions>) => NTSTATUS): NTSTATUS {
    const srvOpen = ctx.pRelevantSrvOpen as unknown as SRV_OPEN | null;
    if (!srvOpen) return read(ctx);
    this.rx.RxReference(srvOpen); // keeps the SRV_OPEN alive while the read is on the wire
    this.inFlight++;
    this.rx.RxDispatchToWorkerThread(
      this.device as unknown as RDBSS_DEVICE_OBJECT,
      WorkQueueType.DelayedWorkQueue,
      async () => {
        let status: NTSTATUS;
        if (ctx.Flags & RX_CONTEXT_FLAG.RX_CONTEXT_FLAG_CANCELLED) {
          // BUG: the error path drops the in-flight reference, and the common exit below drops it again.
          await this.rx.RxDereference(srvOpen, LockHoldingState.LHS_LockNotHeld);
          status = STATUS.STATUS_CANCELLED;
          ctx.IoStatusBlock.Information = 0;
        } else status = read(ctx);
        ctx.IoStatusBlock.Status = status;
        this.inFlight--;
        this.rx.RxLowIoCompletion(ctx as unknown as RX_CONTEXT);
        await this.rx.RxDereference(srvOpen, LockHoldingState.LHS_LockNotHeld);
      },
      ctx,
      "early-deref: server READ",
    );
    return STATUS.STATUS_PENDING;
  }
}

export const miniRdr = nulVariant(
  "early-deref",
  "nulmrx whose cancelled-read error path drops the SRV_OPEN reference twice (race e)",
  (rx, setup) => new EarlyDerefMrx(rx, nulOptions(setup)),
  (mrx) => (mrx.inFlight ? [`${mrx.inFlight} read(s) still in flight`] : []),
);
