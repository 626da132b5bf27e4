/**
 * The live object graph of RDBSS — SRV_CALL → NET_ROOT → V_NET_ROOT → FCB → SRV_OPEN → FOBX, and optionally the
 * FILE_OBJECTs on top — as plain data (`objectGraph`, for tests and JSON) and as Graphviz DOT (`objectGraphDot`).
 *
 * Objects are found where RDBSS keeps them: every registered device's netname table (SRV_CALLs, NET_ROOTs,
 * V_NET_ROOTs), each NET_ROOT's V_NET_ROOT list and FCB table, each FCB's SRV_OPEN list, each SRV_OPEN's FOBX list,
 * plus everything allocated and not yet freed (`Rdbss.live`: orphaned FCBs have left their table but are alive).
 * An edge is a real parent pointer of the child (FOBX.pSrvOpen, SRV_OPEN.pFcb and .pVNetRoot, FCB.pNetRoot and
 * .VNetRoot, V_NET_ROOT.pNetRoot, NET_ROOT.pSrvCall), marked with whether the child holds a reference through
 * it. Order is stable: by structure type, then by serial number.
 */
import { CONDITION_NAMES, FCB_STATE, FOBX_FLAG, NETROOT_FLAG, SRVCALL_FLAG, SRVOPEN_FLAG } from "./constants.js";
import type { Rdbss } from "./rdbss.js";
import { type AnyRxNode, FCB, FOBX } from "./structs.js";
import type { RX_FCB_TABLE } from "./tables.js";

export const RX_GRAPH_KINDS = ["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "FCB", "SRV_OPEN", "FOBX", "FILE_OBJECT"] as const;
export type RxGraphNodeKind = (typeof RX_GRAPH_KINDS)[number];

export interface RxGraphNode {
  /** "FCB#4", "FILE_OBJECT#12": unique in the graph, stable within a run. */
  readonly id: string;
  readonly kind: RxGraphNodeKind;
  /** The name or prefix: "\srv", "\srv\share", "\;N:0\srv\share", "\srv\share\a.txt", a file object's FileName. */
  readonly name: string;
  /** The mini-redirector the object belongs to ("nulmrx"). */
  readonly device: string;
  /** NodeReferenceCount (a FILE_OBJECT's PointerCount). */
  readonly refs: number;
  /** "Good", "InTransition" … (null for a FOBX, which has no condition, and a FILE_OBJECT). */
  readonly condition: string | null;
  /** The open counts the structure keeps (FCB OpenCount / UncleanCount, NET_ROOT NumberOfFcbs …), in a fixed order. */
  readonly counts: Readonly<Record<string, number>>;
  /** Set flags without their prefix ("ORPHANED", "CLOSE_DELAYED"), plus the emulator's own states. */
  readonly flags: readonly string[];
}

export interface RxGraphEdge {
  /** The child: the object holding the pointer. */
  readonly from: string;
  /** The parent it points to. */
  readonly to: string;
  /** The pointer field: "pSrvOpen", "pFcb", "pVNetRoot", "pNetRoot", "VNetRoot", "pSrvCall", "FsContext" … */
  readonly field: string;
  /** Whether the child holds a reference on the parent through this pointer. */
  readonly reference: boolean;
}

export interface RxObjectGraph {
  readonly nodes: readonly RxGraphNode[];
  readonly edges: readonly RxGraphEdge[];
}

export interface ObjectGraphOptions {
  /** Add the FILE_OBJECTs whose FsContext2 is a live FOBX and that have not been closed (default false). */
  readonly fileObjects?: boolean;
  /** Only the objects of this mini-redirector (its short name "nulmrx" or its device name "\Device\NulMRx"). */
  readonly device?: string;
}

const KIND_ORDER: Readonly<Record<RxGraphNodeKind, number>> = {
  SRV_CALL: 0,
  NET_ROOT: 1,
  V_NET_ROOT: 2,
  FCB: 3,
  SRV_OPEN: 4,
  FOBX: 5,
  FILE_OBJECT: 6,
};

/** The set bits of `value` named from a flag table, prefix removed, in the table's order. */
function flagNames(table: Readonly<Record<string, number>>, value: number, prefix: string): string[] {
  const out: string[] = [];
  for (const [name, bit] of Object.entries(table)) {
    if ((value & bit) >>> 0 !== 0) out.push(name.startsWith(prefix) ? name.slice(prefix.length) : name);
  }
  return out;
}

const idOf = (n: AnyRxNode): string => `${n.kind}#${n.serial}`;

/** Every structure RDBSS can still reach or has not freed, each once. */
function collect(rx: Rdbss): AnyRxNode[] {
  const seen = new Set<AnyRxNode>();
  const add = (n: AnyRxNode | null | undefined): void => {
    if (n == null || seen.has(n)) return;
    seen.add(n);
    switch (n.kind) {
      case "NET_ROOT":
        add(n.pSrvCall);
        for (const v of n.VirtualNetRoots) add(v);
        for (const f of (n.FcbTable as RX_FCB_TABLE | null)?.all() ?? []) add(f);
        break;
      case "V_NET_ROOT":
        add(n.pNetRoot);
        break;
      case "FCB":
        add(n.pNetRoot);
        add(n.VNetRoot);
        for (const so of n.SrvOpenList) add(so);
        break;
      case "SRV_OPEN":
        add(n.pFcb);
        add(n.pVNetRoot);
        for (const fx of n.FobxList) add(fx);
        break;
      case "FOBX":
        add(n.pSrvOpen);
        break;
      case "SRV_CALL":
        break;
    }
  };
  for (const dev of rx.devices) for (const c of dev.pRxNetNameTable.containers()) add(c);
  for (const n of rx.live) add(n);
  return [...seen];
}

function nodeOf(rx: Rdbss, n: AnyRxNode): RxGraphNode {
  const dev = rx.deviceOf(n);
  const flags: string[] = [];
  let counts: Record<string, number> = {};
  switch (n.kind) {
    case "SRV_CALL":
      counts = {
        NumberOfCloseDelayedFiles: n.NumberOfCloseDelayedFiles,
        MaximumNumberOfCloseDelayedFiles: n.MaximumNumberOfCloseDelayedFiles,
      };
      flags.push(...flagNames(SRVCALL_FLAG, n.Flags, "SRVCALL_FLAG_"));
      break;
    case "NET_ROOT":
      counts = {
        NumberOfVirtualNetRoots: n.NumberOfVirtualNetRoots,
        NumberOfFcbs: n.NumberOfFcbs,
        NumberOfSrvOpens: n.NumberOfSrvOpens,
      };
      flags.push(...flagNames(NETROOT_FLAG, n.Flags, "NETROOT_FLAG_"));
      break;
    case "V_NET_ROOT":
      counts = { NumberOfOpens: n.NumberOfOpens, NumberOfFobxs: n.NumberOfFobxs };
      if (n.IsExplicitConnection) flags.push("EXPLICIT_CONNECTION");
      if (n.ConnectionFinalizationDone) flags.push("CONNECTION_FINALIZATION_DONE");
      if (n.AdditionalReferenceForDeleteFsctlTaken) flags.push("DELETE_FSCTL_REFERENCE");
      break;
    case "FCB": {
      counts = { OpenCount: n.OpenCount, UncleanCount: n.UncleanCount };
      flags.push(...flagNames(FCB_STATE, n.FcbState, "FCB_STATE_"));
      const table = n.pNetRoot.FcbTable as RX_FCB_TABLE | null;
      if (table !== null && table.lookup(n.FcbTablePath) !== n) flags.push("NOT_IN_FCB_TABLE");
      break;
    }
    case "SRV_OPEN":
      counts = { OpenCount: n.OpenCount, UncleanFobxCount: n.UncleanFobxCount };
      flags.push(...flagNames(SRVOPEN_FLAG, n.Flags, "SRVOPEN_FLAG_"));
      break;
    case "FOBX":
      flags.push(...flagNames(FOBX_FLAG, n.Flags, "FOBX_FLAG_"));
      break;
  }
  if ((n.kind === "SRV_CALL" || n.kind === "NET_ROOT" || n.kind === "V_NET_ROOT") && !dev.pRxNetNameTable.contains(n))
    flags.push("NOT_IN_NETNAME_TABLE");
  if (n.scavengerMarked) flags.push("SCAVENGER_MARKED");
  if (n.UpperFinalizationDone) flags.push("UPPER_FINALIZATION_DONE");
  // RX_FREED_POISON overlaps RX_SCAVENGER_MASK in the node type (0xeb07 | 0x1000 = 0xfb07): `freed` decides.
  if (n.freed !== null) flags.push("FREED");
  if (!rx.live.has(n) && n.freed === null) flags.push("UNTRACKED");
  return {
    id: idOf(n),
    kind: n.kind,
    name: n.displayName,
    device: dev.MiniRdrName,
    refs: n.NodeReferenceCount,
    condition: n.kind === "FOBX" ? null : (CONDITION_NAMES[n.Condition] ?? String(n.Condition)),
    counts,
    flags,
  };
}

function edgesOf(rx: Rdbss, n: AnyRxNode): RxGraphEdge[] {
  const id = idOf(n);
  const e = (to: AnyRxNode | null, field: string, reference: boolean): RxGraphEdge[] =>
    to === null ? [] : [{ from: id, to: idOf(to), field, reference }];
  const fcbRefsVNetRoot = rx.profile.fcbReferences === "v-net-root";
  switch (n.kind) {
    case "SRV_CALL":
      return [];
    case "NET_ROOT":
      return e(n.pSrvCall, "pSrvCall", true);
    case "V_NET_ROOT":
      return e(n.pNetRoot, "pNetRoot", true);
    case "FCB":
      return [...e(n.pNetRoot, "pNetRoot", !fcbRefsVNetRoot), ...e(n.VNetRoot, "VNetRoot", fcbRefsVNetRoot)];
    case "SRV_OPEN":
      return [...e(n.pFcb, "pFcb", true), ...e(n.pVNetRoot, "pVNetRoot", true)];
    case "FOBX":
      return e(n.pSrvOpen, "pSrvOpen", true);
  }
}

/** The live object graph as plain data. */
export function objectGraph(rx: Rdbss, options: ObjectGraphOptions = {}): RxObjectGraph {
  const want = options.device;
  const objects = collect(rx)
    .filter((n) => {
      if (want === undefined) return true;
      const dev = rx.deviceOf(n);
      return dev.MiniRdrName === want || dev.DeviceName.toUpperCase() === want.toUpperCase();
    })
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.serial - b.serial);
  const nodes: RxGraphNode[] = objects.map((n) => nodeOf(rx, n));
  const ids = new Set(nodes.map((n) => n.id));
  const edges: RxGraphEdge[] = objects.flatMap((n) => edgesOf(rx, n)).filter((e) => ids.has(e.to));
  if (options.fileObjects) {
    for (const fobx of objects) {
      if (!(fobx instanceof FOBX)) continue;
      const fo = fobx.AssociatedFileObject;
      if (fo === null || fo.closeSent || fo.FsContext2 !== fobx) continue;
      const id = `FILE_OBJECT#${fo.id}`;
      const flags: string[] = [];
      if (fo.cleanupSent) flags.push("CLEANUP_SENT");
      if (fo.DeletePending) flags.push("DELETE_PENDING");
      nodes.push({
        id,
        kind: "FILE_OBJECT",
        name: fo.FileName,
        device: rx.deviceOf(fobx).MiniRdrName,
        refs: fo.PointerCount,
        condition: null,
        counts: { HandleCount: fo.HandleCount, PendingIrps: fo.pendingIrps.size },
        flags,
      });
      edges.push({ from: id, to: idOf(fobx), field: "FsContext2", reference: false });
      if (fo.FsContext instanceof FCB && ids.has(idOf(fo.FsContext)))
        edges.push({ from: id, to: idOf(fo.FsContext), field: "FsContext", reference: false });
    }
  }
  return { nodes, edges };
}

const FILL: Readonly<Record<RxGraphNodeKind, string>> = {
  SRV_CALL: "#dbe9f6",
  NET_ROOT: "#dff0d8",
  V_NET_ROOT: "#eef6e6",
  FCB: "#fcf1d4",
  SRV_OPEN: "#f9e0c8",
  FOBX: "#f2dede",
  FILE_OBJECT: "#eeeeee",
};

/** A DOT double-quoted string: backslashes and quotes escaped, lines joined with \n. */
function dotString(lines: readonly string[]): string {
  return `"${lines.map((l) => l.replace(/\\/g, "\\\\").replace(/"/g, '\\"')).join("\\n")}"`;
}

function labelLines(n: RxGraphNode): string[] {
  const lines = [n.id, n.name];
  const refs = n.kind === "FILE_OBJECT" ? `PointerCount ${n.refs}` : `refs ${n.refs}`;
  lines.push(n.condition === null ? refs : `${refs} · ${n.condition}`);
  const counts = Object.entries(n.counts).map(([k, v]) => `${k} ${v}`);
  for (let i = 0; i < counts.length; i += 2) lines.push(counts.slice(i, i + 2).join(" · "));
  for (let i = 0; i < n.flags.length; i += 2) lines.push(n.flags.slice(i, i + 2).join(" "));
  return lines;
}

const ALARM = new Set(["ORPHANED", "FREED", "NOT_IN_FCB_TABLE", "NOT_IN_NETNAME_TABLE", "UNTRACKED"]);

/**
 * The live object graph as Graphviz DOT (`dot -Tsvg`): one cluster per mini-redirector, parents above children,
 * arrows along the child → parent pointers (dashed when the pointer holds no reference). Nodes in a Bad condition
 * or orphaned, freed or out of their table are outlined in red.
 */
export function objectGraphDot(rx: Rdbss, options: ObjectGraphOptions = {}): string {
  const g = objectGraph(rx, options);
  const out: string[] = [
    "digraph rdbss {",
    "  rankdir=TB;",
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    '  edge [dir=back, fontname="Helvetica", fontsize=8];',
  ];
  const devices = [...new Set(g.nodes.map((n) => n.device))].sort();
  devices.forEach((device, i) => {
    out.push(`  subgraph cluster_${i} {`, `    label=${dotString([device])};`);
    for (const n of g.nodes) {
      if (n.device !== device) continue;
      const alarm = n.condition === "Bad" || n.flags.some((f) => ALARM.has(f));
      out.push(
        `    ${dotString([n.id])} [label=${dotString(labelLines(n))}, fillcolor="${FILL[n.kind]}"${alarm ? ', color="red", penwidth=2' : ""}];`,
      );
    }
    out.push("  }");
  });
  // Parent → child for the layout; dir=back draws the arrowhead at the parent, where the child's pointer points.
  for (const e of g.edges) {
    out.push(
      `  ${dotString([e.to])} -> ${dotString([e.from])} [label=${dotString([e.field])}${e.reference ? "" : ", style=dashed"}];`,
    );
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}
