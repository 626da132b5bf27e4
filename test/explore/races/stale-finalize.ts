/**
 * Race (a): a new connection to a server racing the delayed-worker MRxFinalizeSrvCall of the old one.
 *
 * The variant keeps its per-server connection state in a table keyed by server name and, in MRxFinalizeSrvCall,
 * looks the connection up BY NAME instead of taking it from SrvCall->Context. RDBSS removes a finalized SRV_CALL
 * from the netname table at once but (docs profile, called outside the RDBSS process) runs MRxFinalizeSrvCall later
 * on a delayed worker, so a `net use` to the same server in between builds a second SRV_CALL whose connection the
 * late finalization then closes: the new connection's opens fail with STATUS_CONNECTION_DISCONNECTED and the old
 * connection is never closed (a backend leak). Under the default FIFO schedule the worker always runs first.
 */
import { type NTSTATUS, STATUS } from "../../../emulator/kernel/index.js";
import type { MRX_SRV_CALL, NET_ROOT, RX_CONTEXT } from "../../../emulator/rdbss/index.js";
import { type NulExtensions, NulMrx } from "../../../miniredirs/nulmrx/index.js";
import { nulOptions, nulVariant } from "./_nulvariant.js";

interface Connection {
  readonly server: string;
  readonly serial: number;
  open: boolean;
}

export class StaleFinalizeMrx extends NulMrx {
  /** Server name → its connection: the table the bug consults. */
  readonly byServer = new Map<string, Connection>();
  readonly connections: Connection[] = [];

  override MRxSrvCallWinnerNotify(
    srvCall: MRX_SRV_CALL<NulExtensions>,
    winner: boolean,
    recommunicate: unknown,
  ): NTSTATUS {
    const st = super.MRxSrvCallWinnerNotify(srvCall, winner, recommunicate);
    if (!winner) return st;
    const conn: Connection = { server: srvCall.pSrvCallName, serial: this.connections.length + 1, open: true };
    this.connections.push(conn);
    this.byServer.set(srvCall.pSrvCallName.toUpperCase(), conn);
    srvCall.Context = conn;
    return st;
  }

  override MRxFinalizeSrvCall(srvCall: MRX_SRV_CALL<NulExtensions>): NTSTATUS {
    // BUG: the connection of *this* SRV_CALL is srvCall.Context; the name may already belong to a newer one.
    const key = srvCall.pSrvCallName.toUpperCase();
    const conn = this.byServer.get(key);
    if (conn) {
      conn.open = false;
      this.byServer.delete(key);
    }
    srvCall.Context = null;
    srvCall.Context2 = null;
    return STATUS.STATUS_SUCCESS;
  }

  override MRxCreate(ctx: RX_CONTEXT<NulExtensions>): NTSTATUS {
    const conn = (ctx.Create.pNetRoot as NET_ROOT | null)?.pSrvCall.Context as Connection | null | undefined;
    if (!conn?.open) return STATUS.STATUS_CONNECTION_DISCONNECTED;
    return super.MRxCreate(ctx);
  }
}

export const miniRdr = nulVariant(
  "stale-finalize",
  "nulmrx whose MRxFinalizeSrvCall closes the connection it finds by server name (race a)",
  (rx, setup) => new StaleFinalizeMrx(rx, nulOptions(setup)),
  (mrx) =>
    mrx.connections
      .filter((c) => c.open && mrx.byServer.get(c.server.toUpperCase()) !== c)
      .map((c) => `connection ${c.server} #${c.serial} never closed`),
);
