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
    grant: (req, bytes) => connections.grant(req as never, bytes),
    drop: (req) => connections.drop(req as never),
  };
}
