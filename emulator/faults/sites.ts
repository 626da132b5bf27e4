/**
 * The named fault sites: where the emulator can be told to fail, and what failing means there. RDBSS's allocations
 * and work-queue insertions follow how RDBSS itself handles each failure (../shared/reference/rdbss-semantics.md,
 * and the NT RDBSS sources the reference cites: RxFindOrCreateConnections, RxFsdCommonDispatch …); the transport and
 * server sites belong to memsmb; a mini-redirector adds its own sites by calling `rx.faults.check(name)`.
 */
import type { NtStatusName } from "../kernel/index.js";

export type FaultSiteKind = "allocation" | "dispatch" | "transport" | "server";

export interface FaultSiteInfo {
  readonly kind: FaultSiteKind;
  /** Where the site is. */
  readonly where: string;
  /** What an injected failure does there, and the status the operation ends with. */
  readonly failure: string;
  /** The status a failure produces (a fault's `status` overrides it where the site returns one). */
  readonly status: NtStatusName;
}

/** The fixed sites (the server family `server.<OP>` is listed in SERVER_OPERATIONS). */
export const FAULT_SITES = {
  RxCreateSrvCall: {
    kind: "allocation",
    where: "RxCreateSrvCall (RxFindOrCreateConnections, a create or net use to a server RDBSS has no SRV_CALL for)",
    failure:
      "returns NULL: the create fails with STATUS_INSUFFICIENT_RESOURCES before anything is built; the mini-redirector is not called",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxCreateNetRoot: {
    kind: "allocation",
    where: "RxCreateNetRoot (RxFindOrCreateConnections, the first open of a share on a server)",
    failure:
      "returns NULL: the create fails with STATUS_INSUFFICIENT_RESOURCES; the SRV_CALL it was for stays (unreferenced, finalized by the scavenger)",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxCreateVNetRoot: {
    kind: "allocation",
    where: "RxCreateVNetRoot (RxFindOrCreateConnections, a new connection to a share: net use, or a user's first open)",
    failure:
      "returns NULL: a NET_ROOT built for it is finalized at once (RxFinalizeNetRoot(NetRoot, TRUE, TRUE)) and the create fails with STATUS_INSUFFICIENT_RESOURCES",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxCreateNetFcb: {
    kind: "allocation",
    where: "RxCreateNetFcb (RxFindOrCreateFcb, an open of a file with no FCB)",
    failure: "returns NULL: the create fails with STATUS_INSUFFICIENT_RESOURCES; MRxCreate is not called",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxCreateSrvOpen: {
    kind: "allocation",
    where: "RxCreateSrvOpen (RxCollapseOrCreateSrvOpen, an open that does not collapse)",
    failure:
      "returns NULL: the create fails with STATUS_INSUFFICIENT_RESOURCES; an FCB nobody has open is finalized; MRxCreate is not called",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxCreateNetFobx: {
    kind: "allocation",
    where: "RxCreateNetFobx (called by the mini-redirector at the end of MRxCreate, and by RDBSS for a collapsed open)",
    failure:
      "returns NULL: MRxCreate must undo its open on the server and fail (memsmb and nulmrx return STATUS_INSUFFICIENT_RESOURCES, and the create fails with it); a collapsed open fails with STATUS_INSUFFICIENT_RESOURCES and its SRV_OPEN stays dormant; a MRxCreate that returns STATUS_SUCCESS anyway is the NO_FOBX contract stop",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxCreateRxContext: {
    kind: "allocation",
    where: "RxCreateRxContext (RxFsdCommonDispatch: every IRP that reaches a mini-redirector's device)",
    failure:
      "RxFsdCommonDispatch completes the IRP with STATUS_INSUFFICIENT_RESOURCES. Not consulted for IRP_MJ_CLEANUP and IRP_MJ_CLOSE, which the I/O manager cannot fail (a failed CLOSE would strand the FCB)",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxDispatchToWorkerThread: {
    kind: "dispatch",
    where:
      "RxDispatchToWorkerThread (posting a request to the file-system process, the IRP cancel routine, a posted MRxFinalizeSrvCall, and mini-redirectors' own work)",
    failure:
      "returns STATUS_INSUFFICIENT_RESOURCES and the routine never runs: a post to the FSP completes the request with it, RxFinalizeSrvCall finalizes inline, memsmb and nulmrx report it through their MRxCreateSrvCall / MRxCreateVNetRoot callback (the create fails with it), a cancel is left to cleanup",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  RxPostToWorkerThread: {
    kind: "dispatch",
    where: "RxPostToWorkerThread (a caller-supplied RX_WORK_QUEUE_ITEM)",
    failure: "returns STATUS_UNSUCCESSFUL (the queue refuses the item, as when the dispatcher is spinning down)",
    status: "STATUS_UNSUCCESSFUL",
  },
  ExAllocatePoolWithTag: {
    kind: "allocation",
    where: "ExAllocatePoolWithTag (a driver's own pool; the fault's detail is the tag)",
    failure: "returns NULL: the driver must handle the failure (its caller sees whatever status it then returns)",
    status: "STATUS_INSUFFICIENT_RESOURCES",
  },
  "transport.send": {
    kind: "transport",
    where: "memsmb: a message from the redirector to a server (a request, or a cancel)",
    failure:
      "action disconnect (default): the connection resets instead, and every request in flight and every later one on it fails with STATUS_CONNECTION_DISCONNECTED (memsmb does not reconnect); delay: it arrives `delay` late (default 100 ms), behind messages sent after it; lose: it vanishes and the connection resets `delay` later (default 5 s)",
    status: "STATUS_CONNECTION_DISCONNECTED",
  },
  "transport.receive": {
    kind: "transport",
    where: "memsmb: a response from a server to the redirector (the server has already done the work)",
    failure: "as transport.send, for the response: disconnect (default), delay or lose",
    status: "STATUS_CONNECTION_DISCONNECTED",
  },
} as const satisfies Readonly<Record<string, FaultSiteInfo>>;
export type FixedFaultSite = keyof typeof FAULT_SITES;

/**
 * memsmb server operations: `server.<OP>` fails the operation on the server thread with an error status (default
 * STATUS_INSUFF_SERVER_RESOURCES) before the server model runs it, so the server's state does not change.
 */
export const SERVER_OPERATIONS = [
  "SESSION_SETUP",
  "LOGOFF",
  "TREE_CONNECT",
  "TREE_DISCONNECT",
  "QUERY_PATH",
  "CREATE",
  "CLOSE",
  "READ",
  "WRITE",
  "FLUSH",
  "LOCK",
  "UNLOCK",
  "CHANGE_NOTIFY",
  "QUERY_DIRECTORY",
  "QUERY_INFO",
  "SET_INFO",
  "QUERY_VOLUME",
] as const;
export type ServerOperation = (typeof SERVER_OPERATIONS)[number];

export const SERVER_SITE_INFO: FaultSiteInfo = {
  kind: "server",
  where: "memsmb: the server thread, before the server model runs a request (server.CREATE, server.WRITE …)",
  failure:
    "the server answers with the error status (default STATUS_INSUFF_SERVER_RESOURCES) and does nothing; the redirector sees it as the operation's result (memsmb hands it back to RDBSS; a failed CLOSE, TREE_DISCONNECT or LOGOFF leaves the server's state until the connection goes)",
  status: "STATUS_INSUFF_SERVER_RESOURCES",
};

/** Transport actions (transport.send / transport.receive). */
export const TRANSPORT_ACTIONS = ["disconnect", "delay", "lose"] as const;
export type TransportAction = (typeof TRANSPORT_ACTIONS)[number];

/** How late a delayed message arrives by default: 100 ms of virtual time (50 × memsmb's default latency). */
export const DEFAULT_DELAY = 1_000_000;
/** How long after a lost message the transport notices and resets the connection by default: 5 s. */
export const DEFAULT_LOSS_DETECTION = 50_000_000;

/** The description of a site by name (fixed sites, `server.<OP>`); null for a mini-redirector's own site. */
export function siteInfo(site: string): FaultSiteInfo | null {
  const fixed = (FAULT_SITES as Readonly<Record<string, FaultSiteInfo>>)[site];
  if (fixed !== undefined) return fixed;
  if (site.startsWith("server.")) return SERVER_SITE_INFO;
  return null;
}

/** Every named site, for help texts and suggestions. */
export function knownSites(): string[] {
  return [...Object.keys(FAULT_SITES), ...SERVER_OPERATIONS.map((o) => `server.${o}`)];
}
