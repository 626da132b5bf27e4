/**
 * The RDBSS object graph (emulator/rdbss/graph.ts) along a nulmrx run: the chain SRV_CALL → NET_ROOT → V_NET_ROOT →
 * FCB → SRV_OPEN → FOBX with the real parent pointers and counts after `net use` and two opens, the delayed-close
 * state after the closes, fewer nodes after the scavenger, none after `net use /delete`; the DOT text carries the
 * same nodes and edges as the data; orphaned objects after a forced `net use /delete` are flagged.
 */
import test, { type ExecutionContext } from "ava";
import type { Emulator } from "../../emulator/boot.js";
import { GENERIC_READ, SYNCHRONIZE } from "../../emulator/io/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import {
  type AnyRxNode,
  objectGraph,
  objectGraphDot,
  type RxGraphNode,
  type RxObjectGraph,
} from "../../emulator/rdbss/index.js";
import { bootNulMrx, nulmrxRun, openFile, type RunPoint } from "./_run.js";

interface Seen {
  readonly graph: RxObjectGraph;
  readonly withFiles: RxObjectGraph;
  readonly dot: string;
  readonly live: ReadonlyMap<string, number>;
}

/** The graph, its DOT and the live objects' reference counts at every point of the standard run. */
async function graphsAlongRun(): Promise<Map<RunPoint, Seen>> {
  const seen = new Map<RunPoint, Seen>();
  const take =
    (p: RunPoint) =>
    (em: Emulator): void => {
      seen.set(p, {
        graph: objectGraph(em.rx),
        withFiles: objectGraph(em.rx, { fileObjects: true }),
        dot: objectGraphDot(em.rx, { fileObjects: true }),
        live: new Map([...em.rx.live].map((n: AnyRxNode) => [`${n.kind}#${n.serial}`, n.NodeReferenceCount])),
      });
    };
  const points: RunPoint[] = ["connected", "open", "closed", "scavenged", "deleted", "end"];
  const r = await nulmrxRun({ trace: false, at: Object.fromEntries(points.map((p) => [p, take(p)])) });
  if (r.run.stop !== null || r.run.threadErrors.length > 0) throw new Error("the run did not end cleanly");
  return seen;
}

const along = graphsAlongRun();

const kinds = (g: RxObjectGraph): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const n of g.nodes) out[n.kind] = (out[n.kind] ?? 0) + 1;
  return out;
};
const byKind = (g: RxObjectGraph, kind: RxGraphNode["kind"]): RxGraphNode[] => g.nodes.filter((n) => n.kind === kind);
const parent = (g: RxObjectGraph, from: string, field: string): string | undefined =>
  g.edges.find((e) => e.from === from && e.field === field)?.to;

/** Node ids and edges (parent → child, as drawn) read back from the DOT text. */
function parseDot(dot: string): { nodes: string[]; edges: string[] } {
  const nodes: string[] = [];
  const edges: string[] = [];
  for (const line of dot.split("\n")) {
    const edge = /^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]+)"/.exec(line);
    if (edge) edges.push(`${edge[2]} -${edge[3]}-> ${edge[1]}`);
    const node = /^\s*"([^"]+)" \[label=/.exec(line);
    if (node) nodes.push(node[1] as string);
  }
  return { nodes, edges };
}

function assertDotMatches(t: ExecutionContext, s: Seen): void {
  const parsed = parseDot(s.dot);
  t.deepEqual(
    parsed.nodes,
    s.withFiles.nodes.map((n) => n.id),
  );
  t.deepEqual(
    parsed.edges,
    s.withFiles.edges.map((e) => `${e.from} -${e.field}-> ${e.to}`),
  );
  t.true(s.dot.startsWith("digraph rdbss {\n"));
  t.true(s.dot.endsWith("}\n"));
}

test("after net use: SRV_CALL → NET_ROOT → V_NET_ROOT, nothing else", async (t) => {
  const s = (await along).get("connected") as Seen;
  t.deepEqual(kinds(s.graph), { SRV_CALL: 1, NET_ROOT: 1, V_NET_ROOT: 1 });
  const [sc] = byKind(s.graph, "SRV_CALL");
  const [nr] = byKind(s.graph, "NET_ROOT");
  const [vnr] = byKind(s.graph, "V_NET_ROOT");
  t.is(sc?.name, "\\srv");
  t.is(nr?.name, "\\srv\\share");
  t.is(vnr?.name, "\\;N:0\\srv\\share");
  t.is(parent(s.graph, nr?.id ?? "", "pSrvCall"), sc?.id);
  t.is(parent(s.graph, vnr?.id ?? "", "pNetRoot"), nr?.id);
  t.is(nr?.counts.NumberOfVirtualNetRoots, 1);
  t.is(nr?.condition, "Good");
  assertDotMatches(t, s);
});

test("after two opens of one file: the whole chain with the real parent pointers and counts", async (t) => {
  const s = (await along).get("open") as Seen;
  const g = s.graph;
  t.deepEqual(kinds(g), { SRV_CALL: 1, NET_ROOT: 1, V_NET_ROOT: 1, FCB: 1, SRV_OPEN: 2, FOBX: 2 });
  const sc = byKind(g, "SRV_CALL")[0] as RxGraphNode;
  const nr = byKind(g, "NET_ROOT")[0] as RxGraphNode;
  const vnr = byKind(g, "V_NET_ROOT")[0] as RxGraphNode;
  const fcb = byKind(g, "FCB")[0] as RxGraphNode;
  t.is(fcb.name, "\\srv\\share\\a.txt");
  t.deepEqual(fcb.counts, { OpenCount: 2, UncleanCount: 2 });
  t.is(fcb.condition, "Good");
  t.is(parent(g, fcb.id, "pNetRoot"), nr.id, "an FCB belongs to its NET_ROOT");
  t.is(parent(g, fcb.id, "VNetRoot"), vnr.id);
  for (const so of byKind(g, "SRV_OPEN")) {
    t.is(parent(g, so.id, "pFcb"), fcb.id);
    t.is(parent(g, so.id, "pVNetRoot"), vnr.id);
    t.deepEqual(so.counts, { OpenCount: 1, UncleanFobxCount: 1 });
  }
  // Every FOBX reaches the SRV_CALL through its parents.
  for (const fobx of byKind(g, "FOBX")) {
    const so = parent(g, fobx.id, "pSrvOpen") as string;
    t.is(parent(g, parent(g, parent(g, so, "pFcb") as string, "pNetRoot") as string, "pSrvCall"), sc.id);
    t.is(fobx.condition, null);
  }
  // The reference counts are the objects' NodeReferenceCount.
  for (const n of g.nodes) t.is(s.live.get(n.id), n.refs, n.id);
  t.is(nr.counts.NumberOfFcbs, 1);
  t.is(nr.counts.NumberOfSrvOpens, 2);
  t.is(vnr.counts.NumberOfFobxs, 2);
  // Nodes come in structure order, then by serial number.
  t.deepEqual(
    g.nodes.map((n) => n.kind),
    ["SRV_CALL", "NET_ROOT", "V_NET_ROOT", "FCB", "SRV_OPEN", "SRV_OPEN", "FOBX", "FOBX"],
  );
  t.true(s.dot.includes("OpenCount 2 · UncleanCount 2"));
  t.true(s.dot.includes('"V_NET_ROOT#3" -> "FCB#4" [label="VNetRoot"]'));
});

test("file objects: each open FILE_OBJECT points at its FOBX (FsContext2) and FCB (FsContext)", async (t) => {
  const s = (await along).get("open") as Seen;
  const files = byKind(s.withFiles, "FILE_OBJECT");
  t.is(files.length, 2);
  const fcb = byKind(s.withFiles, "FCB")[0] as RxGraphNode;
  const fobxs = byKind(s.withFiles, "FOBX").map((n) => n.id);
  for (const fo of files) {
    t.is(fo.name, "\\;N:0\\srv\\share\\a.txt");
    t.is(fo.counts.HandleCount, 1);
    t.is(parent(s.withFiles, fo.id, "FsContext"), fcb.id);
    t.true(fobxs.includes(parent(s.withFiles, fo.id, "FsContext2") as string));
  }
  t.is(byKind(s.graph, "FILE_OBJECT").length, 0, "only when asked for");
  assertDotMatches(t, s);
  t.is(byKind((await along).get("closed")?.withFiles as RxObjectGraph, "FILE_OBJECT").length, 0, "closed files go");
});

test("after the closes the file stays (delayed close); the scavenger removes it; net use /delete removes the rest", async (t) => {
  const a = await along;
  const closed = a.get("closed") as Seen;
  t.deepEqual(kinds(closed.graph), { SRV_CALL: 1, NET_ROOT: 1, V_NET_ROOT: 1, FCB: 1, SRV_OPEN: 2, FOBX: 2 });
  const fcb = byKind(closed.graph, "FCB")[0] as RxGraphNode;
  t.deepEqual(fcb.counts, { OpenCount: 0, UncleanCount: 0 });
  t.true(
    byKind(closed.graph, "SRV_OPEN").every((so) => so.flags.includes("CLOSE_DELAYED")),
    "both SRV_OPENs are kept for collapsing",
  );
  t.true(byKind(closed.graph, "FOBX").every((f) => f.flags.includes("MARKED_AS_DORMANT")));
  t.is(byKind(closed.graph, "SRV_CALL")[0]?.counts.NumberOfCloseDelayedFiles, 2);

  const scavenged = a.get("scavenged") as Seen;
  t.deepEqual(kinds(scavenged.graph), { SRV_CALL: 1, NET_ROOT: 1, V_NET_ROOT: 1 });
  t.true(scavenged.graph.nodes.length < closed.graph.nodes.length);
  assertDotMatches(t, scavenged);

  const end = a.get("end") as Seen;
  t.deepEqual(end.graph, { nodes: [], edges: [] });
  t.deepEqual(parseDot(end.dot), { nodes: [], edges: [] });
});

test("the same run gives the same DOT; the device filter", async (t) => {
  const again = await graphsAlongRun();
  const a = await along;
  for (const p of ["connected", "open", "closed", "scavenged"] as const) t.is(again.get(p)?.dot, a.get(p)?.dot, p);
  const { em, np } = await bootNulMrx({ trace: false });
  em.k.createThread(em.k.createProcess("app.exe"), "app", async () => {
    await np.start();
    await np.netUse("N", "\\\\srv\\share");
    t.is(objectGraph(em.rx, { device: "nulmrx" }).nodes.length, 3);
    t.is(objectGraph(em.rx, { device: "\\Device\\NulMRx" }).nodes.length, 3);
    t.deepEqual(objectGraph(em.rx, { device: "memsmb" }), { nodes: [], edges: [] });
  });
  t.is((await em.k.run()).stop, null);
});

test("a forced net use /delete with a file open: the orphaned FCB and SRV_OPEN are flagged and outlined", async (t) => {
  const { em, np } = await bootNulMrx({ trace: false });
  let g: RxObjectGraph | null = null;
  let dot = "";
  em.k.createThread(em.k.createProcess("app.exe"), "app", async () => {
    await np.start();
    await np.netUse("N", "\\\\srv\\share");
    const f = await openFile(em, "\\a.txt", GENERIC_READ | SYNCHRONIZE, true);
    t.is(await np.netUseDelete("N", 1), STATUS.STATUS_SUCCESS);
    g = objectGraph(em.rx);
    dot = objectGraphDot(em.rx);
    await em.sys.nt.NtClose(f.FileHandle);
    await em.k.KeDelayExecutionThread(-11 * 10_000_000);
  });
  const run = await em.k.run();
  t.is(run.stop, null);
  const graph = g as RxObjectGraph | null;
  if (graph === null) return t.fail("no graph");
  const fcb = byKind(graph, "FCB")[0] as RxGraphNode;
  t.true(fcb.flags.includes("ORPHANED"));
  t.true(fcb.flags.includes("NOT_IN_FCB_TABLE"), "an orphaned FCB has left the FCB table");
  t.true(byKind(graph, "SRV_OPEN")[0]?.flags.includes("ORPHANED"));
  t.true(byKind(graph, "V_NET_ROOT")[0]?.flags.includes("NOT_IN_NETNAME_TABLE"));
  const fcbLine = dot.split("\n").find((l) => l.includes(`"${fcb.id}" [label=`)) ?? "";
  t.true(fcbLine.includes('color="red"'));
  t.deepEqual(objectGraph(em.rx), { nodes: [], edges: [] }, "all finalized once the handle is closed and scavenged");
});
