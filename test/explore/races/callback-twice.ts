/**
 * Race (d): MRxCreateSrvCall calling back twice when the transport fails.
 *
 * The variant connects on a worker. When the server cannot be reached, two paths fail the connect in flight: the
 * transport's link-failure indication (a second worker that fails every pending connect on the link, removing each
 * from the pending list before calling back), and the connect worker itself, which removes its entry WITHOUT
 * checking that it was still there and calls back. If the indication runs while the connect worker is still
 * closing its socket, RDBSS's RxCreateSrvCallCallBack is called twice for one SRV_CALL: a contract stop. Under the
 * default FIFO schedule the connect worker finishes before the indication runs, and the indication finds nothing.
 */
import { type NTSTATUS, STATUS, WorkQueueType } from "../../../emulator/kernel/index.js";
import type { MRX_SRV_CALL, MRX_SRVCALL_CALLBACK_CONTEXT, RDBSS_DEVICE_OBJECT } from "../../../emulator/rdbss/index.js";
import { type NulExtensions, NulMrx } from "../../../miniredirs/nulmrx/index.js";
import { nulOptions, nulVariant, preemptible } from "./_nulvariant.js";

interface PendingConnect {
  readonly server: string;
  readonly cb: MRX_SRVCALL_CALLBACK_CONTEXT<NulExtensions>;
}

export class CallbackTwiceMrx extends NulMrx {
  /** Servers that do not answer (setup.options.unreachable). */
  readonly unreachable: ReadonlySet<string>;
  readonly connecting = new Set<PendingConnect>();

  constructor(
    rx: ConstructorParameters<typeof NulMrx>[0],
    options: ConstructorParameters<typeof NulMrx>[1],
    unreachable: readonly string[],
  ) {
    super(rx, options);
    this.unreachable = new Set(unreachable.map((s) => s.toUpperCase()));
  }

  private post(name: string, fn: () => Promise<void> | void, ctx: unknown): void {
    this.rx.RxDispatchToWorkerThread(
      this.device as unknown as RDBSS_DEVICE_OBJECT,
      WorkQueueType.DelayedWorkQueue,
      fn,
      ctx,
      name,
    );
  }

  override MRxCreateSrvCall(
    srvCall: MRX_SRV_CALL<NulExtensions>,
    cb: MRX_SRVCALL_CALLBACK_CONTEXT<NulExtensions>,
  ): NTSTATUS {
    const p: PendingConnect = { server: srvCall.pSrvCallName.replace(/^\\/, ""), cb };
    this.connecting.add(p);
    this.post("callback-twice: connect", () => this.connect(p), srvCall);
    return STATUS.STATUS_PENDING;
  }

  private async connect(p: PendingConnect): Promise<void> {
    await preemptible(this.rx, "callback-twice: transport connect");
    if (this.unreachable.has(p.server.toUpperCase())) {
      // The transport reports the dead link to everyone waiting on it …
      this.post("callback-twice: link failure indication", () => this.linkDown(p.server), null);
      await preemptible(this.rx, "callback-twice: close the socket");
      // … and this worker fails its own connect. BUG: the delete's result is ignored; false means the indication
      // already failed this connect and called back.
      this.connecting.delete(p);
      p.cb.Status = STATUS.STATUS_BAD_NETWORK_PATH;
      p.cb.SrvCalldownStructure.CallBack(p.cb);
      return;
    }
    this.connecting.delete(p);
    p.cb.Status = STATUS.STATUS_SUCCESS;
    p.cb.RecommunicateContext = { server: p.server };
    p.cb.SrvCalldownStructure.CallBack(p.cb);
  }

  /** The transport's link-failure indication: fail every connect in flight to the server. */
  private linkDown(server: string): void {
    for (const p of [...this.connecting]) {
      if (p.server.toUpperCase() !== server.toUpperCase()) continue;
      this.connecting.delete(p);
      p.cb.Status = STATUS.STATUS_CONNECTION_DISCONNECTED;
      p.cb.SrvCalldownStructure.CallBack(p.cb);
    }
  }
}

export const miniRdr = nulVariant(
  "callback-twice",
  "nulmrx whose failed connect is reported by two transport paths (race d)",
  (rx, setup) => {
    const u = setup.options?.unreachable;
    return new CallbackTwiceMrx(rx, nulOptions(setup), Array.isArray(u) ? u.map(String) : []);
  },
  (mrx) => [...mrx.connecting].map((p) => `connect to ${p.server} still pending`),
);
