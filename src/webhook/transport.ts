// How reviews reach the webhook, one way per runtime; server.ts sees only this.
//
// Node: a node:tls server (listener.ts) hands connections, metered
// (connections.ts), to a node:http server that never listens itself.
// Bun: its own sockets, native TLS, HTTP/1.1 read and written here (native.ts):
// Bun's node:tls and node:http layers cost the webhook twice its memory under
// load (docs/performance-notes.md, "The webhook's memory"), and Bun's TLS
// servers starve the oldest handshakes unless each event-loop turn is short
// (server.ts answers one review a turn).
//
// Either way the same limits hold: connections in all and per client address,
// handshakes under way and their time, a connection's idle time and a
// request's, what a connection may deliver before its review is let in, and
// answers its client has not read.

import type { EventEmitter } from "node:events";
import type { ConnectionLimits } from "./connections.js";

/** What the webhook uses of a request: node:http's IncomingMessage, or native.ts's. */
export interface Request extends EventEmitter {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly socket: { readonly remoteAddress?: string | undefined; destroy(): void };
  resume(): unknown;
}

/** What the webhook uses of an answer: node:http's ServerResponse, or native.ts's. */
export interface Answer extends EventEmitter {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(text: string): unknown;
}

/** A handshake must be done within this (Node's own default is 120 s: a client that never finishes holds a socket). */
export const HANDSHAKE_MS = 10_000;
/** What a connection may deliver before its request is let in: headers and a little body. */
export const HEADER_CREDIT = 64 * 1024;
/**
 * Answers not yet taken by the client, past which nothing more is read from it:
 * Bun's HTTP server answers pipelined requests however full the socket is (eight
 * clients pipelining and never reading grew it to 592 MiB, measured here).
 */
export const UNREAD_ANSWERS = 256 * 1024;

/**
 * Requests in flight on one connection, past which it is closed. Pipelining is
 * allowed (one test sends 100 reviews in a row), but a client that pipelines
 * hundreds and reads no answer is not an API server: Bun's HTTP server parses
 * every request it is given and keeps each unanswered one (eight such clients
 * grew it to 870 MiB here; closed at this count, its peak was 161 MiB).
 */
export const IN_FLIGHT = 128;

/** A count per client address; an address whose count falls to 0 is forgotten (the map stays as small as what is open). */
export class PerPeer {
  readonly #counts = new Map<string, number>();
  get(peer: string): number {
    return this.#counts.get(peer) ?? 0;
  }
  add(peer: string, n: number): void {
    const next = this.get(peer) + n;
    if (next === 0) this.#counts.delete(peer);
    else this.#counts.set(peer, next);
  }
}

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface Limits extends ConnectionLimits {
  /** Handshakes under way at once, in all and from one client address. */
  readonly handshakes: number;
  readonly handshakesPerPeer: number;
}

export type Handler = (req: Request, res: Answer) => void;

export interface Transport {
  /** Resolves when listening, or to why it could not. */
  listen(port: number): Promise<Error | undefined>;
  readonly port: number;
  /** Served from the next connection on (open ones keep theirs); throws when the pair is not usable. */
  setSecureContext(pair: TlsPair): void;
  /** Takes no new connections. */
  stopListening(): void;
  /** Ends the idle connections now and the others after their answers; resolves when all are gone. */
  close(): Promise<void>;
  /** Ends every connection, answered or not. */
  destroyAll(): void;
  /** Lets the request's body in: `bytes` more may be read from its connection. */
  grant(req: Request, bytes: number): void;
  /** Ends the request's connection: what is in flight on it is told it is gone. */
  drop(req: Request): void;
}

export async function transportFor(pair: TlsPair, limits: Limits, handle: Handler): Promise<Transport> {
  if (process.versions.bun !== undefined) return (await import("./native.js")).nativeTransport(pair, limits, handle);
  const [{ Connections }, { tlsListener }, { builtin }] = await Promise.all([
    import("./connections.js"),
    import("./listener.js"),
    import("../runtime/builtins.js"),
  ]);
  const http = builtin("node:http").createServer((req, res) => {
    connections.begin(req, res);
    handle(req, res);
  });
  const connections = new Connections(limits, http);
  const tcp = tlsListener(pair, limits.handshakes, limits.handshakesPerPeer, (socket, peer, hold) =>
    connections.accept(socket, peer, hold),
  );
  return {
    listen: (port) => tcp.listen(port),
    get port() {
      return tcp.port;
    },
    setSecureContext: (p) => tcp.setSecureContext(p),
    stopListening: () => tcp.close(),
    close: () => connections.close(),
    destroyAll: () => connections.destroyAll(),
    grant: (req, bytes) => connections.grant(req, bytes),
    drop: (req) => connections.drop(req),
  };
}
