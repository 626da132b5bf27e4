/**
 * The network between the memsmb mini-redirector and its servers. Every message travels with virtual latency: each
 * direction of a connection is a wire, whose one DPC delivers the messages that have arrived into the receiver's
 * KQUEUE (as a NIC's receive DPC does); each connection has a server thread (in the server's own process) and a
 * client receive thread (in the System process, where the redirector's transport lives). Faults come from the kernel's seeded PRNG: a dropped connection, jitter (which reorders completions),
 * a drop at the N-th message.
 *
 * A request is an exchange (SmbExchange: what the server does with it, what the client does with the response; no wire
 * encoding), served on the server thread against the server model: `reply` may be called later for operations that
 * wait (locks, change notifications). A dropped connection fails every request
 * in flight with STATUS_CONNECTION_DISCONNECTED and logs off the connection's sessions on the server; memsmb does
 * not reconnect.
 */
import type { Kernel, KQUEUE, KThread, NTSTATUS, Prng } from "../../emulator/kernel/index.js";
import { STATUS } from "../../emulator/kernel/index.js";
import type { MemSmbServer, MemSmbWorld } from "./server/index.js";

export interface NetworkOptions {
  /** One-way latency in 100 ns units (default 2 ms). */
  readonly latency?: number;
  /** Up to this much extra latency per message, seeded (reorders messages). Default 0. */
  readonly jitter?: number;
  /** Probability that sending a message drops its connection instead, seeded. Default 0. */
  readonly dropProbability?: number;
  /** Drop the connection that sends the N-th message (1-based, counted over all connections). */
  readonly dropAtMessage?: number;
  /** Keep a log of the messages delivered (SmbNetwork.log), for tests and reports. Default false. */
  readonly record?: boolean;
}

/** What a request handler on the server thread gets. */
export interface ServerCall {
  readonly server: MemSmbServer;
  readonly connection: SmbConnection;
  /** The current virtual time. */
  readonly now: number;
  /** Send the response (once); may be called later, from a server-model callback. */
  reply(response: unknown): void;
  /** Register what a CANCEL for this request does (cancel a lock wait or a notification). */
  onCancel(cancel: () => void): void;
}

export type ServerHandler = (call: ServerCall) => void;

/**
 * One request as the client's transport keeps it until its response arrives (as an SMB client's exchange does):
 * what the server does with it and what the client does with the answer. A class implementing it is one object per
 * request, where `send`'s handler and callback are two closures and their contexts.
 */
export interface SmbExchange {
  /** The operation ("READ"), for logs and reports. */
  readonly name: string;
  /** On the connection's server thread: do the operation on `call.server` and `call.reply` (now or later). */
  serve(call: ServerCall): void;
  /**
   * On the client's receive thread (PASSIVE_LEVEL, System process): the server's reply, or DISCONNECTED when the
   * connection drops first.
   */
  receive(response: unknown): void;
}

/** A fault or event the network produced, for reports. */
export interface NetworkEvent {
  readonly time: number;
  readonly connection: number;
  readonly what: "drop" | "deliver-late";
  readonly detail: string;
}

/**
 * A message on the wire (when NetworkOptions.record is set): a request or a cancel reaching the server thread
 * ("request", "cancel"), the server answering ("reply", with `lost` when its connection is already gone, so the
 * answer never leaves the server), a response reaching the client's receive thread ("response", with its status;
 * a request failed by a dropped connection gets STATUS_CONNECTION_DISCONNECTED), and "admin" for a server-side
 * action (SmbConnection.serverAction). A request or cancel lost with its connection never appears.
 */
export interface NetworkMessage {
  readonly time: number;
  readonly connection: number;
  readonly what: "request" | "cancel" | "admin" | "reply" | "response";
  /** The request id (per connection). */
  readonly id: number;
  readonly name: string;
  readonly status?: NTSTATUS;
  readonly lost?: boolean;
}

/**
 * A connection's requests waiting for their response, by request id. Ids are handed out in increasing order and
 * most responses come back in order, so entries are kept in parallel arrays in sending order and found by binary
 * search; an answered entry is cleared in place and the front is trimmed. (A Map that goes from one entry to none and
 * back on every request reallocates its table each time.)
 */
class Outstanding {
  private readonly ids: number[] = [];
  private readonly exchanges: (SmbExchange | null)[] = [];
  private head = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  /** Add request `id` (greater than every id added before). */
  add(id: number, exchange: SmbExchange): void {
    this.ids.push(id);
    this.exchanges.push(exchange);
    this.live++;
  }

  /** Where request `id` waits, or -1 when it does not (any more). */
  find(id: number): number {
    const ids = this.ids;
    let lo = this.head;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid] as number;
      if (v === id) return this.exchanges[mid] === null ? -1 : mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  exchangeAt(i: number): SmbExchange {
    return this.exchanges[i] as SmbExchange;
  }

  /** Take the entry at `i` (from `find`) out; indexes found before are stale after this. */
  clearAt(i: number): void {
    this.exchanges[i] = null;
    this.live--;
    const n = this.ids.length;
    while (this.head < n && this.exchanges[this.head] === null) this.head++;
    // Trimmed now and then, not after every answer (a length write is a runtime call).
    if (this.head === n && n >= 32) this.reset();
    else if (this.head > 64 && this.head * 2 > n) {
      this.ids.splice(0, this.head);
      this.exchanges.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Every waiting request, in sending order, taken out. */
  takeAll(): { id: number; exchange: SmbExchange }[] {
    const out: { id: number; exchange: SmbExchange }[] = [];
    for (let i = this.head; i < this.ids.length; i++) {
      const x = this.exchanges[i];
      if (x === null || x === undefined) continue;
      out.push({ id: this.ids[i] as number, exchange: x });
    }
    this.reset();
    return out;
  }

  private reset(): void {
    this.ids.length = 0;
    this.exchanges.length = 0;
    this.head = 0;
    this.live = 0;
  }
}

/** What `send` makes of a handler and a callback. */
class CallbackExchange implements SmbExchange {
  readonly name: string;
  private readonly handler: ServerHandler;
  private readonly onResponse: (r: unknown) => void;
  constructor(name: string, handler: ServerHandler, onResponse: (r: unknown) => void) {
    this.name = name;
    this.handler = handler;
    this.onResponse = onResponse;
  }
  serve(call: ServerCall): void {
    this.handler(call);
  }
  receive(response: unknown): void {
    this.onResponse(response);
  }
}

const RESET = { kind: "reset" } as const;

/**
 * A request travels to the server as its ServerRequest, and the response travels back in the same object (the
 * request id and the reply), as a packet would carry the message id back: one object per request for both messages.
 */
type ServerMessage =
  | ServerRequest
  | { readonly kind: "cancel"; readonly id: number; readonly name: string }
  | { readonly kind: "admin"; readonly name: string; readonly run: (server: MemSmbServer, now: number) => void }
  | typeof RESET;

type ClientMessage = ServerRequest | typeof RESET;

/**
 * One direction of a connection: the messages in flight, in arrival order (arrival time, then sending order), and
 * one DPC that moves those that have arrived into the receiving KQUEUE. Each message puts one entry on the kernel's
 * timer queue when it is sent (so it keeps its place among every other timer of the run); the entry only queues the
 * wire's DPC. No KTIMER, KDPC or closure per message.
 */
class Wire<M> {
  private readonly k: Kernel;
  private readonly connection: SmbConnection;
  private readonly queue: KQUEUE<M>;
  private readonly arrivals: number[] = [];
  private readonly messages: M[] = [];
  private head = 0;
  /** The timer entries' routine: one function for every message of the wire. */
  private readonly arrived: () => void;

  constructor(k: Kernel, connection: SmbConnection, queue: KQUEUE<M>, name: string) {
    this.k = k;
    this.connection = connection;
    this.queue = queue;
    const dpc = k.KeInitializeDpc(() => this.deliver(), null, name);
    // Through a local, not `this.arrived = () => …`: V8 pretenures a function literal assigned straight to a property,
    // and through its context it would keep this run's kernel alive into the old generation (KernelCore.createThread).
    const arrived = (): void => {
      k.queueDpc(dpc, undefined, undefined);
    };
    this.arrived = arrived;
  }

  /** Put a message on the wire; it arrives at virtual time `at`. */
  put(at: number, m: M): void {
    const arrivals = this.arrivals;
    const messages = this.messages;
    let i = arrivals.length;
    // Jitter can make a later message arrive first: keep arrival order, stable for equal times.
    while (i > this.head && (arrivals[i - 1] as number) > at) i--;
    if (i === arrivals.length) {
      arrivals.push(at);
      messages.push(m);
    } else {
      arrivals.splice(i, 0, at);
      messages.splice(i, 0, m);
    }
    this.k.addTimer(at, this.arrived);
  }

  /** The wire's DPC: every message that has arrived goes into the receiving queue (none once the connection dropped). */
  private deliver(): void {
    const k = this.k;
    const now = k.now;
    const arrivals = this.arrivals;
    const messages = this.messages;
    while (this.head < arrivals.length && (arrivals[this.head] as number) <= now) {
      const m = messages[this.head] as M;
      messages[this.head] = undefined as M;
      this.head++;
      if (!this.connection.dropped) k.KeInsertQueue(this.queue, m);
    }
    // Delivered entries are trimmed now and then, not after every delivery (a length write is a runtime call).
    if (this.head === arrivals.length && this.head >= 32) {
      arrivals.length = 0;
      messages.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > arrivals.length) {
      arrivals.splice(0, this.head);
      messages.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** The connection threads' waits for the next message: idle (they do not keep a run alive). */
const IDLE_WAIT = { idle: true } as const;

/** The response a request gets when its connection is gone. */
export const DISCONNECTED = { status: STATUS.STATUS_CONNECTION_DISCONNECTED } as const;

export class SmbConnection {
  readonly id: number;
  readonly server: MemSmbServer;
  readonly network: SmbNetwork;
  dropped = false;
  /** Sessions set up on this connection (logged off on the server when it drops). */
  readonly sessions = new Set<number>();
  private readonly toServer: KQUEUE<ServerMessage>;
  private readonly toClient: KQUEUE<ClientMessage>;
  private readonly serverWire: Wire<ServerMessage>;
  private readonly clientWire: Wire<ClientMessage>;
  private readonly outstanding = new Outstanding();
  private readonly cancels = new Map<number, () => void>();
  private nextId = 1;
  serverThread: KThread | null = null;
  receiveThread: KThread | null = null;

  constructor(id: number, server: MemSmbServer, network: SmbNetwork) {
    this.id = id;
    this.server = server;
    this.network = network;
    const k = network.k;
    this.toServer = k.KeInitializeQueue<ServerMessage>(`\\\\${server.name} connection ${id} (server side)`);
    this.toClient = k.KeInitializeQueue<ClientMessage>(`\\\\${server.name} connection ${id} (client side)`);
    this.serverWire = new Wire(k, this, this.toServer, `memsmb wire to \\\\${server.name} #${id}`);
    this.clientWire = new Wire(k, this, this.toClient, `memsmb wire from \\\\${server.name} #${id}`);
  }

  get outstandingCount(): number {
    return this.outstanding.size;
  }

  /** Start the two threads of the connection. */
  start(serverProcessName: string): void {
    const k = this.network.k;
    const proc = this.network.serverProcess(serverProcessName);
    this.serverThread = k.createThread(proc, `srvsvc conn ${this.id}`, () => this.serverLoop());
    this.receiveThread = k.PsCreateSystemThread(`memsmb receive \\${this.server.name} #${this.id}`, () =>
      this.receiveLoop(),
    );
  }

  /**
   * Send a request; `onResponse` runs on the client receive thread (PASSIVE_LEVEL, System process) with the
   * handler's reply, or with DISCONNECTED if the connection drops first. Returns the request id (for cancel).
   */
  send(name: string, handler: ServerHandler, onResponse: (r: unknown) => void): number {
    return this.submit(new CallbackExchange(name, handler, onResponse));
  }

  /** Send an exchange's request: `send` with the handler and the callback as the methods of one object. */
  submit(exchange: SmbExchange): number {
    const id = this.nextId++;
    const request = new ServerRequest(this, id, exchange);
    this.outstanding.add(id, exchange);
    if (this.dropped) {
      request.response = DISCONNECTED;
      this.network.k.KeInsertQueue(this.toClient, request);
      return id;
    }
    this.network.transmit(this, this.serverWire, request, "transport.send", exchange.name, id);
    return id;
  }

  /** Send a request and wait (on the calling thread) for its response. */
  async call(name: string, handler: ServerHandler): Promise<unknown> {
    const k = this.network.k;
    const ev = k.KeInitializeEvent(0, false, `memsmb ${name}`);
    let result: unknown = DISCONNECTED;
    this.send(name, handler, (r) => {
      result = r;
      k.KeSetEvent(ev);
    });
    await k.KeWaitForSingleObject(ev);
    return result;
  }

  /** Ask the server to cancel a request (SMB2 CANCEL); its final response still arrives. */
  cancel(id: number): void {
    if (this.dropped) return;
    const i = this.outstanding.find(id);
    const name = i < 0 ? "?" : this.outstanding.exchangeAt(i).name;
    this.network.transmit(
      this,
      this.serverWire,
      { kind: "cancel", id, name },
      "transport.send",
      name,
      id,
      "CANCEL of ",
    );
  }

  /**
   * Something the server does on its own, outside any request (an administrator disconnecting a tree or a session,
   * a share going away): `run` executes on the connection's server thread, in order with the requests; what it
   * completes is answered over the wire as usual. Fault injection for tests and scenarios.
   */
  serverAction(name: string, run: (server: MemSmbServer, now: number) => void): void {
    if (this.dropped) return;
    this.network.k.KeInsertQueue(this.toServer, { kind: "admin", name, run });
  }

  /** The connection goes away (a fault, or the redirector disconnecting). */
  drop(reason: string): void {
    if (this.dropped) return;
    this.dropped = true;
    const k = this.network.k;
    this.network.events.push({ time: k.now, connection: this.id, what: "drop", detail: reason });
    k.KeInsertQueue(this.toServer, RESET);
    k.KeInsertQueue(this.toClient, RESET);
  }

  private async serverLoop(): Promise<void> {
    const k = this.network.k;
    for (;;) {
      const m = await k.KeRemoveQueue(this.toServer, IDLE_WAIT);
      if (m === undefined) continue;
      if (m.kind === "reset") {
        // The server notices the transport is gone: it logs off every session of the connection.
        for (const s of this.sessions) this.server.logoff(s, k.now);
        this.sessions.clear();
        this.cancels.clear();
        return;
      }
      if (m.kind === "admin") {
        this.network.record(this, "admin", 0, m.name);
        m.run(this.server, k.now);
        continue;
      }
      if (m.kind === "cancel") {
        this.network.record(this, "cancel", m.id, m.name);
        const c = this.cancels.get(m.id);
        this.cancels.delete(m.id);
        c?.();
        continue;
      }
      const { id, name } = m;
      this.network.record(this, "request", id, name);
      m.now = k.now;
      // Fault site server.<OP>: the server answers with an error and does nothing (its state does not change).
      const fault = k.faults !== null ? k.faults.hit(`server.${name.split(" ")[0]}`, `${name} #${id}`) : null;
      if (fault !== null) m.reply({ status: fault.status });
      else m.exchange.serve(m);
    }
  }

  /** ServerRequest.reply: send the response (once) back over the wire. */
  serverReply(call: ServerRequest, response: unknown): void {
    const { id, name } = call;
    if (call.replied) throw new Error(`memsmb: request #${id} (${name}) on connection ${this.id} replied twice`);
    call.replied = true;
    this.cancels.delete(id);
    if (this.network.recording) {
      const st = (response as { status?: unknown } | null)?.status;
      this.network.record(this, "reply", id, name, typeof st === "number" ? st : undefined, this.dropped);
    }
    if (this.dropped) return;
    call.response = response;
    this.network.transmit(this, this.clientWire, call, "transport.receive", name, id, "response to ");
  }

  /** ServerRequest.onCancel: what a CANCEL for this request does, until it is answered. */
  serverOnCancel(call: ServerRequest, cancel: () => void): void {
    if (!call.replied) this.cancels.set(call.id, cancel);
  }

  private async receiveLoop(): Promise<void> {
    const k = this.network.k;
    for (;;) {
      const m = await k.KeRemoveQueue(this.toClient, IDLE_WAIT);
      if (m === undefined) continue;
      if (m.kind === "reset") {
        // Every request in flight fails.
        for (const o of this.outstanding.takeAll()) {
          this.network.record(this, "response", o.id, o.exchange.name, DISCONNECTED.status);
          o.exchange.receive(DISCONNECTED);
        }
        // Requests sent after the drop are answered from the queue; keep serving them.
        continue;
      }
      const out = this.outstanding;
      const i = out.find(m.id);
      if (i < 0) continue;
      const exchange = out.exchangeAt(i);
      const response = m.response;
      if (this.network.recording) {
        const st = (response as { status?: unknown } | null)?.status;
        this.network.record(this, "response", m.id, exchange.name, typeof st === "number" ? st : undefined);
      }
      out.clearAt(i);
      exchange.receive(response);
    }
  }
}

/**
 * One request on the wire and on the connection's server thread (the ServerCall its exchange is served with), then
 * its response on the way back: one object per request, its methods on the prototype.
 */
class ServerRequest implements ServerCall {
  readonly kind = "request";
  readonly server: MemSmbServer;
  readonly connection: SmbConnection;
  readonly id: number;
  readonly exchange: SmbExchange;
  /** When the server thread took the request. */
  now = 0;
  replied = false;
  /** The reply, once sent (what the client's receive thread gets). */
  response: unknown = undefined;
  constructor(connection: SmbConnection, id: number, exchange: SmbExchange) {
    this.server = connection.server;
    this.connection = connection;
    this.id = id;
    this.exchange = exchange;
  }
  get name(): string {
    return this.exchange.name;
  }
  reply(response: unknown): void {
    this.connection.serverReply(this, response);
  }
  onCancel(cancel: () => void): void {
    this.connection.serverOnCancel(this, cancel);
  }
}

/**
 * The transport's data buffers: a read's reply carries the server's bytes in one until the client's receive thread
 * has copied them into the caller's buffer, then it comes back here for the next reply. Buffers come in power-of-two
 * sizes from 4 KiB to 64 KiB, a few of each kept; a larger one is made for its reply and left to the collector.
 * (A fresh ArrayBuffer per reply cost ≈ 1 µs, and at 100,000 reads a second its external memory made V8 run a major
 * collection every few milliseconds — which also threw away optimized code the rest of the process was using.)
 */
export class WireBuffers {
  private readonly free: Uint8Array[][] = [];
  /** A buffer of at least `length` bytes that nothing else uses until it is given back. */
  take(length: number): Uint8Array {
    const c = WireBuffers.sizeClass(length);
    if (c < 0) return new Uint8Array(length);
    const list = this.free[c];
    const b = list !== undefined ? list.pop() : undefined;
    return b ?? new Uint8Array(WireBuffers.MIN << c);
  }
  /** Give back a buffer from `take` once nothing reads it any more. */
  give(b: Uint8Array): void {
    const c = WireBuffers.sizeClass(b.length);
    if (c < 0 || b.length !== WireBuffers.MIN << c) return;
    let list = this.free[c];
    if (list === undefined) {
      list = [];
      this.free[c] = list;
    }
    if (list.length < WireBuffers.KEEP) list.push(b);
  }
  private static readonly MIN = 4096;
  private static readonly CLASSES = 5;
  private static readonly KEEP = 8;
  /** The size class of a request for `length` bytes (4 KiB << class), or -1 for more than 64 KiB. */
  private static sizeClass(length: number): number {
    let c = 0;
    while (WireBuffers.MIN << c < length) if (++c >= WireBuffers.CLASSES) return -1;
    return c;
  }
}

export class SmbNetwork {
  readonly k: Kernel;
  /** Reply data buffers (see WireBuffers). */
  readonly buffers = new WireBuffers();
  readonly world: MemSmbWorld;
  readonly latency: number;
  readonly jitter: number;
  readonly dropProbability: number;
  dropAtMessage: number;
  readonly connections: SmbConnection[] = [];
  readonly events: NetworkEvent[] = [];
  /** Messages as delivered, when NetworkOptions.record is set (empty otherwise). */
  readonly log: NetworkMessage[] = [];
  readonly recording: boolean;
  private readonly prng: Prng;
  private messages = 0;
  private readonly processes = new Map<string, ReturnType<Kernel["createProcess"]>>();

  constructor(k: Kernel, world: MemSmbWorld, options: NetworkOptions = {}) {
    this.k = k;
    this.world = world;
    this.latency = options.latency ?? 20_000;
    this.jitter = options.jitter ?? 0;
    this.dropProbability = options.dropProbability ?? 0;
    this.dropAtMessage = options.dropAtMessage ?? 0;
    this.recording = options.record ?? false;
    this.prng = k.prng.fork("memsmb network");
  }

  /** Log a delivered message (NetworkOptions.record). */
  record(
    c: SmbConnection,
    what: NetworkMessage["what"],
    id: number,
    name: string,
    status?: NTSTATUS,
    lost = false,
  ): void {
    if (!this.recording) return;
    this.log.push({
      time: this.k.now,
      connection: c.id,
      what,
      id,
      name,
      ...(status !== undefined ? { status } : {}),
      ...(lost ? { lost } : {}),
    });
  }

  serverProcess(name: string): ReturnType<Kernel["createProcess"]> {
    let p = this.processes.get(name);
    if (!p) {
      p = this.k.createProcess(name);
      this.processes.set(name, p);
    }
    return p;
  }

  /**
   * Connect to a server by name: a TCP handshake's worth of latency on the calling thread. Unknown server →
   * STATUS_BAD_NETWORK_PATH.
   */
  async connect(serverName: string): Promise<{ status: NTSTATUS; connection: SmbConnection | null }> {
    const server = this.world.get(serverName);
    await this.k.KeDelayExecutionThread(-2 * this.latency);
    if (!server) return { status: STATUS.STATUS_BAD_NETWORK_PATH, connection: null };
    const c = new SmbConnection(this.connections.length + 1, server, this);
    this.connections.push(c);
    c.start(`\\\\${server.name} (server)`);
    return { status: STATUS.STATUS_SUCCESS, connection: c };
  }

  /** Put a message on the wire: it arrives after the latency (plus seeded jitter), unless a fault drops the connection. */
  transmit<M>(
    c: SmbConnection,
    wire: Wire<M>,
    message: M,
    site: "transport.send" | "transport.receive" = "transport.send",
    name = "",
    id = 0,
    prefix = "",
  ): void {
    const n = ++this.messages;
    if (
      (this.dropAtMessage > 0 && n === this.dropAtMessage) ||
      (this.dropProbability > 0 && this.prng.chance(this.dropProbability))
    ) {
      c.drop(`fault injected at message ${n}`);
      return;
    }
    let extra = this.jitter > 0 ? this.prng.int(this.jitter + 1) : 0;
    const k = this.k;
    // Fault sites transport.send / transport.receive (emulator/faults): reset the connection, lose the message (the
    // transport notices `delay` later and resets it), or deliver it `delay` late.
    const fault =
      k.faults !== null
        ? k.faults.hit(site, `${prefix}${name || `message ${n}`}${id ? ` #${id}` : ""} on connection ${c.id}`)
        : null;
    if (fault !== null) {
      if (fault.action === "disconnect") {
        c.drop(`injected fault: ${site} hit ${fault.hit} (message ${n})`);
        return;
      }
      if (fault.action === "lose") {
        const reset = k.KeInitializeDpc(
          () =>
            c.drop(`injected fault: ${site} hit ${fault.hit} lost message ${n}; the transport reset the connection`),
          null,
          `memsmb transport notices lost message ${n}`,
        );
        k.KeSetTimer(k.KeInitializeTimer(undefined, `lost message ${n}`), -fault.delay, reset);
        return;
      }
      extra += fault.delay;
    }
    wire.put(k.now + this.latency + extra, message);
  }

  /** Drop a connection to a server now (a fault step). */
  dropConnections(serverName?: string): number {
    let n = 0;
    for (const c of this.connections) {
      if (c.dropped || (serverName && c.server.name.toUpperCase() !== serverName.toUpperCase())) continue;
      c.drop("dropped on request");
      n++;
    }
    return n;
  }
}
