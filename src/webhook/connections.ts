// The webhook's connections, kept by hand: TLS is set up on each accepted
// socket with the certificate current at that moment (so a renewal swaps
// nothing under an open connection, on both runtimes: Bun's https server
// cannot change its certificate), and the connection is handed to an HTTP
// server that never listens itself. That server's own idle, header and drain
// handling does not apply to connections it did not accept, so this does it:
// - at most `max` connections, `perPeer` of them from one address;
// - a connection without a request in flight is closed after `idleMs`, however
//   slowly it sends (a trickled header is no request yet);
// - close(): no new connections; idle ones end now, busy ones after their
//   answer (which says Connection: close);
// - what the HTTP server is given to read is metered: a request's headers and
//   the first HEADER_CREDIT bytes, then its body only once grant() lets it in
//   (its review has room). Pausing a request is not enough: Bun's HTTP server
//   reads a paused request's whole body into memory (sixty 4 MiB bodies
//   waiting: 396 MiB; metered: 109 MiB, measured here), Node's does not.

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import { builtin } from "../runtime/builtins.js";

/** What a connection may deliver before its request is let in: headers and a little body. */
const HEADER_CREDIT = 64 * 1024;

export interface ConnectionLimits {
  readonly max: number;
  readonly perPeer: number;
  readonly idleMs: number;
}

interface Connection {
  readonly raw: Socket;
  readonly peer: string;
  readonly metered: Metered;
  busy: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The TLS socket as the HTTP server sees it: bytes pass only as far as the credit goes. */
interface Metered extends Duplex {
  grant(bytes: number): void;
  reset(): void;
}

let MeteredClass: (new (tls: TLSSocket, raw: Socket) => Metered) | undefined;

function meteredClass(): new (tls: TLSSocket, raw: Socket) => Metered {
  const { Duplex } = builtin("node:stream");
  class M extends Duplex implements Metered {
    readonly remoteAddress: string | undefined;
    readonly remotePort: number | undefined;
    readonly encrypted = true;
    #credit = HEADER_CREDIT;
    readonly #pending: Buffer[] = [];
    constructor(
      private readonly tls: TLSSocket,
      raw: Socket,
    ) {
      super();
      this.remoteAddress = raw.remoteAddress;
      this.remotePort = raw.remotePort;
      tls.on("data", (chunk: Buffer) => {
        this.#pending.push(chunk);
        this.#flow();
      });
      tls.on("end", () => this.push(null));
      tls.on("close", () => this.destroy());
    }
    grant(bytes: number): void {
      this.#credit += bytes;
      this.#flow();
    }
    reset(): void {
      this.#credit = Math.max(this.#credit, 0) + HEADER_CREDIT;
      this.#flow();
    }
    #flow(): void {
      while (this.#pending.length > 0 && this.#credit > 0) {
        const chunk = this.#pending.shift() as Buffer;
        this.#credit -= chunk.length;
        this.push(chunk);
      }
      if (this.#pending.length > 0) this.tls.pause();
      else this.tls.resume();
    }
    override _read(): void {}
    override _write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void): void {
      this.tls.write(chunk, encoding, done);
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
    private readonly context: () => SecureContext,
    private readonly http: Server,
  ) {}

  get size(): number {
    return this.#all.size;
  }

  accept(raw: Socket): void {
    raw.on("error", () => {});
    const peer = raw.remoteAddress ?? "";
    const fromPeer = this.#peers.get(peer) ?? 0;
    if (this.#closing || this.#all.size >= this.limits.max || fromPeer >= this.limits.perPeer) {
      raw.destroy();
      return;
    }
    const socket: TLSSocket = new (builtin("node:tls").TLSSocket)(raw, {
      isServer: true,
      secureContext: this.context(),
    });
    socket.on("error", () => raw.destroy());
    socket.once("close", () => raw.destroy());
    MeteredClass ??= meteredClass();
    const metered = new MeteredClass(socket, raw);
    metered.on("error", () => raw.destroy());
    const connection: Connection = { raw, peer, metered, busy: 0, timer: undefined };
    this.#all.add(connection);
    this.#peers.set(peer, fromPeer + 1);
    raw.once("close", () => {
      clearTimeout(connection.timer);
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
    clearTimeout(connection.timer);
    if (this.#closing) res.setHeader("connection", "close");
    res.once("close", () => {
      connection.busy--;
      connection.metered.reset();
      if (connection.busy > 0) return;
      if (this.#closing) connection.raw.destroy();
      else this.#idle(connection);
    });
  }

  /** Takes no more connections; ends the idle ones now and the others after their answers. Resolves when all are gone. */
  close(): Promise<void> {
    this.#closing = true;
    for (const connection of this.#all) if (connection.busy === 0) connection.raw.destroy();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#emptied = resolve;
    });
  }

  /** Lets the request's body in: `bytes` more may be read from its connection. */
  grant(req: IncomingMessage, bytes: number): void {
    this.#byTls.get(req.socket)?.metered.grant(bytes);
  }

  /** Ends every connection, answered or not. */
  destroyAll(): void {
    for (const connection of this.#all) connection.raw.destroy();
  }

  #idle(connection: Connection): void {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => connection.raw.destroy(), this.limits.idleMs);
  }
}
