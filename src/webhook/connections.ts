// The webhook's connections under Node (transport.ts; Bun's are native.ts's),
// kept by hand. The TLS listener (listener.ts: its certificate can be swapped
// in place) hands each connection to an HTTP server that never listens itself. That
// server's own idle, header and drain handling does not apply to connections
// it did not accept, so this does it:
// - at most `max` connections, `perPeer` of them from one address;
// - a connection with more than IN_FLIGHT requests in flight (pipelined, unanswered) is closed;
// - a connection without a request in flight is closed after `idleMs`, however
//   slowly it sends (a trickled header is no request yet); one whose answer is
//   not out `requestMs` after the request began is closed too;
// - close(): no new connections; idle ones end now, busy ones after their
//   answer (which says Connection: close);
// - what the HTTP server is given to read is metered: a request's headers and
//   the first HEADER_CREDIT bytes, then its body only once grant() lets it in
//   (its review has room). Pausing a request is not enough: Bun's HTTP server
//   reads a paused request's whole body into memory (sixty 4 MiB bodies
//   waiting: 396 MiB; metered: 109 MiB, measured here), Node's does not.

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { builtin } from "../runtime/builtins.js";
import { GONE, onAnswered } from "./gate.js";
import { HEADER_CREDIT, IN_FLIGHT, type Request, UNREAD_ANSWERS } from "./transport.js";

export interface ConnectionLimits {
  readonly max: number;
  readonly perPeer: number;
  readonly idleMs: number;
  /** From a request's start to its answer being out, at most. */
  readonly requestMs: number;
}

interface Connection {
  readonly socket: TLSSocket;
  readonly peer: string;
  readonly metered: Metered;
  busy: number;
  /** Answers not yet out: told the connection is gone when it goes (Node emits nothing for a queued one). */
  readonly open: Set<ServerResponse>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The TLS socket as the HTTP server sees it: bytes pass only as far as the credit goes. */
interface Metered extends Duplex {
  grant(bytes: number): void;
  reset(): void;
}

type MeteredNew = new (tls: TLSSocket, peer: string, hold: (held: boolean) => void) => Metered;
let MeteredClass: MeteredNew | undefined;

function meteredClass(): MeteredNew {
  const { Duplex } = builtin("node:stream");
  class M extends Duplex implements Metered {
    readonly remoteAddress: string | undefined;
    readonly remotePort: number | undefined;
    readonly encrypted = true;
    #credit = HEADER_CREDIT;
    readonly #pending: Buffer[] = [];
    /** The HTTP server has not asked for more (push() said no): nothing is pushed until _read(). */
    #full = false;
    /** The TLS socket said its buffer is full (write() returned false): until its "drain". */
    #blocked = false;
    constructor(
      private readonly tls: TLSSocket,
      peer: string,
      private readonly hold: (held: boolean) => void,
    ) {
      super();
      this.remoteAddress = peer;
      this.remotePort = tls.remotePort;
      tls.on("data", (chunk: Buffer) => {
        this.#pending.push(chunk);
        this.#flow();
      });
      tls.on("end", () => this.push(null));
      tls.on("close", () => this.destroy());
      tls.on("drain", () => {
        this.#blocked = false;
        this.#flow();
      });
      this.on("drain", () => this.#flow());
    }
    grant(bytes: number): void {
      this.#credit += bytes;
      this.#flow();
    }
    /** An answer went out: the next request gets HEADER_CREDIT, never more (credit left over does not add up). */
    reset(): void {
      this.#credit = Math.min(this.#credit, 0) + HEADER_CREDIT;
      this.#flow();
    }
    #flow(): void {
      const backed = (): boolean => this.#blocked || this.tls.writableLength + this.writableLength > UNREAD_ANSWERS;
      while (this.#pending.length > 0 && this.#credit > 0 && !this.#full && !backed()) {
        const chunk = this.#pending.shift() as Buffer;
        this.#credit -= chunk.length;
        if (!this.push(chunk)) this.#full = true;
      }
      this.hold(this.#pending.length > 0 || this.#full || backed());
    }
    override _read(): void {
      this.#full = false;
      this.#flow();
    }
    override _write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void): void {
      if (!this.tls.write(chunk, encoding, done)) this.#blocked = true;
    }
    override _final(done: (err?: Error | null) => void): void {
      this.tls.end();
      done();
    }
    override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
      this.tls.destroy();
      done(err);
    }
    setTimeout(): this {
      return this;
    }
    setNoDelay(): this {
      return this;
    }
    setKeepAlive(): this {
      return this;
    }
  }
  return M;
}

export class Connections {
  readonly #all = new Set<Connection>();
  readonly #byTls = new WeakMap<object, Connection>();
  readonly #peers = new Map<string, number>();
  #closing = false;
  #emptied: (() => void) | undefined;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly http: Server,
  ) {}

  get size(): number {
    return this.#all.size;
  }

  /**
   * A connection whose handshake is done (listener.ts): counted (or refused
   * over the limits) and handed, metered, to the HTTP server. `peer`: the
   * client's address (a TLSSocket over a stream, as Bun's are, knows none);
   * `hold` stops or lets bytes come from the client (listener.ts).
   */
  accept(socket: TLSSocket, peer: string, hold: (held: boolean) => void): void {
    socket.on("error", () => socket.destroy());
    const fromPeer = this.#peers.get(peer) ?? 0;
    if (this.#closing || this.#all.size >= this.limits.max || fromPeer >= this.limits.perPeer) {
      socket.destroy();
      return;
    }
    // Answers go out at once (an HTTP server sets this on the sockets it accepts itself; without
    // it, Nagle's algorithm and delayed ACKs held each answer 40 ms here).
    socket.setNoDelay(true);
    MeteredClass ??= meteredClass();
    const metered = new MeteredClass(socket, peer, hold);
    metered.on("error", () => socket.destroy());
    const connection: Connection = { socket, peer, metered, busy: 0, open: new Set(), timer: undefined };
    this.#all.add(connection);
    this.#peers.set(peer, fromPeer + 1);
    socket.once("close", () => {
      clearTimeout(connection.timer);
      for (const res of connection.open) res.emit(GONE);
      connection.open.clear();
      this.#all.delete(connection);
      const left = (this.#peers.get(peer) ?? 1) - 1;
      if (left > 0) this.#peers.set(peer, left);
      else this.#peers.delete(peer);
      if (this.#all.size === 0) this.#emptied?.();
    });
    this.#idle(connection);
    this.#byTls.set(metered, connection);
    this.http.emit("connection", metered);
  }

  /** A request has started on its connection: the connection is busy until the answer is done. */
  begin(req: IncomingMessage, res: ServerResponse): void {
    const connection = this.#byTls.get(req.socket);
    if (connection === undefined) return;
    connection.busy++;
    connection.open.add(res);
    if (connection.busy > IN_FLIGHT) {
      // Every request in flight on it, this one included, is told the connection is gone.
      kill(connection);
      return;
    }
    clearTimeout(connection.timer);
    // However the answer is held up (a client that never reads it, a review stuck), the
    // connection ends after requestMs: nothing holds a connection, or its room, for ever.
    const deadline = setTimeout(() => kill(connection), this.limits.requestMs);
    if (this.#closing) res.setHeader("connection", "close");
    onAnswered(res, () => {
      clearTimeout(deadline);
      connection.open.delete(res);
      connection.busy--;
      connection.metered.reset();
      if (connection.busy > 0) return;
      if (this.#closing) kill(connection);
      else this.#idle(connection);
    });
  }

  /** Takes no more connections; ends the idle ones now and the others after their answers. Resolves when all are gone. */
  close(): Promise<void> {
    this.#closing = true;
    for (const connection of this.#all) if (connection.busy === 0) kill(connection);
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#emptied = resolve;
    });
  }

  /** Lets the request's body in: `bytes` more may be read from its connection. */
  grant(req: Request, bytes: number): void {
    this.#byTls.get(req.socket)?.metered.grant(bytes);
  }

  /** Ends the request's connection: what is in flight on it is told it is gone. */
  drop(req: Request): void {
    const connection = this.#byTls.get(req.socket);
    if (connection !== undefined) kill(connection);
    else req.socket.destroy();
  }

  /** Ends every connection, answered or not. */
  destroyAll(): void {
    for (const connection of this.#all) kill(connection);
  }

  #idle(connection: Connection): void {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => kill(connection), this.limits.idleMs);
  }
}

/** Ends a connection, every layer of it. */
function kill(connection: Connection): void {
  connection.metered.destroy();
  connection.socket.destroy();
}
