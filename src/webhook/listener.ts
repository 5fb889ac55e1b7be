// The webhook's TLS listener: where a connection's handshake is done, which is
// the one thing Node and Bun must do differently here.
//
// Node: a node:tls server; connections are handed over after their handshake.
//
// Bun: every TLS server of Bun's (node:tls, node:https, Bun.serve, and a
// TLSSocket around an accepted socket) shakes hands in its native socket
// layer, uSockets, which does at most 5 handshake steps per event-loop turn and
// queues the rest LIFO ("prioritize newer clients under high load", Bun's
// packages/bun-usockets loop.c). Under a steady stream of new connections the
// oldest handshakes wait until the stream stops: at 64 reviews at once without
// keep-alive, some took the whole 4 s of the run, and with keep-alive the first
// handshakes up to 4.5 s (bench/webhook.ts; a ten-line Bun.serve with the same
// certificate stalled the same way, so Bun.serve is no way out). Here TCP is
// accepted plainly (node:net) and the TLS runs over a JavaScript stream
// (Bridge), which Bun does in memory, in arrival order: the same trivial
// server then answered every review within 0.3 s. The cost is throughput
// (452 against 681 answers/s for that trivial server without keep-alive; one
// 4 s run each on a shared machine).
//
// Either way: a connection whose handshake is not done within HANDSHAKE_MS is
// closed, and the certificate can be swapped in place (new connections get the
// new pair), and at most `pending` handshakes are under way at once, at most
// `perPeer` of them from one client address (one more is closed at once): a
// single pod that opens connections and says nothing cannot take every slot
// and keep the API server's reviews out.

import type { Server as NetServer, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import { builtin } from "../runtime/builtins.js";

/** A handshake must be done within this (Node's own default is 120 s: a client that never finishes holds a socket). */
const HANDSHAKE_MS = 10_000;

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TlsListener {
  /** Resolves when listening, or to why it could not. */
  listen(port: number): Promise<Error | undefined>;
  readonly port: number;
  /** Served from the next connection on; throws when the pair is not usable. */
  setSecureContext(pair: TlsPair): void;
  close(): void;
}

/**
 * A connection whose handshake is done, with the client's address (a
 * TLSSocket over a stream knows none) and `hold`, which stops (true) or lets
 * (false) bytes come from the client. Pausing the TLSSocket is not enough in
 * Bun: over a stream it goes on reading, and decrypts what comes into memory
 * (sixty 2.9 MiB reviews at once: a peak of 168 MiB against 115 MiB for Bun's
 * own TLS server, which stops reading; measured here, webhook-memory.test.ts).
 */
export type Secure = (socket: TLSSocket, peer: string, hold: (held: boolean) => void) => void;

/** Listens for TLS connections; `secure` gets each one once its handshake is done. */
export function tlsListener(pair: TlsPair, pending: number, perPeer: number, secure: Secure): TlsListener {
  return process.versions.bun === undefined
    ? nodeListener(pair, pending, perPeer, secure)
    : bunListener(pair, pending, perPeer, secure);
}

/** A count per client address; an address whose count falls to 0 is forgotten (the map stays as small as what is open). */
class PerPeer {
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

function nodeListener(pair: TlsPair, pending: number, perPeer: number, secure: Secure): TlsListener {
  // Handshakes under way: connections open less those whose handshake is done and still open
  // (the server tells neither which TLS socket is whose, nor when a handshake starts), in all
  // and by client address.
  let open = 0;
  let done = 0;
  const openBy = new PerPeer();
  const doneBy = new PerPeer();
  const server = builtin("node:tls").createServer({ ...pair, handshakeTimeout: HANDSHAKE_MS }, (socket) => {
    const peer = socket.remoteAddress ?? "";
    done++;
    doneBy.add(peer, 1);
    socket.once("close", () => {
      done--;
      doneBy.add(peer, -1);
    });
    secure(socket, peer, (held) => (held ? socket.pause() : socket.resume()));
  });
  server.on("connection", (raw: Socket) => {
    const peer = raw.remoteAddress ?? "";
    if (open - done >= pending || openBy.get(peer) - doneBy.get(peer) >= perPeer) {
      raw.destroy();
      return;
    }
    open++;
    openBy.add(peer, 1);
    raw.once("close", () => {
      open--;
      openBy.add(peer, -1);
    });
  });
  // With a listener, a failed handshake's socket is the listener's to end (a timed-out one stayed open).
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  return listener(server, (p) => server.setSecureContext(p));
}

function bunListener(pair: TlsPair, pending: number, perPeer: number, secure: Secure): TlsListener {
  const tls = builtin("node:tls");
  let context: SecureContext = tls.createSecureContext(pair);
  let shaking = 0;
  const shakingBy = new PerPeer();
  BridgeClass ??= bridgeClass();
  const Bridge = BridgeClass;
  const server = builtin("node:net").createServer((raw) => {
    raw.on("error", () => raw.destroy());
    const peer = raw.remoteAddress ?? "";
    if (shaking >= pending || shakingBy.get(peer) >= perPeer) {
      raw.destroy();
      return;
    }
    shaking++;
    shakingBy.add(peer, 1);
    raw.setNoDelay(true);
    const bridge = new Bridge(raw);
    const socket = new tls.TLSSocket(bridge, { isServer: true, secureContext: context });
    let done = false;
    const settle = (): void => {
      if (done) return;
      done = true;
      shaking--;
      shakingBy.add(peer, -1);
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      settle();
      socket.destroy();
      raw.destroy();
    }, HANDSHAKE_MS);
    socket.on("error", () => {
      settle();
      socket.destroy();
      raw.destroy();
    });
    raw.once("close", () => {
      settle();
      socket.destroy();
    });
    socket.once("secure", () => {
      settle();
      secure(socket, peer, (held) => {
        bridge.hold(held);
        if (held) socket.pause();
        else socket.resume();
      });
    });
  });
  return listener(server, (p) => {
    context = tls.createSecureContext(p);
  });
}

function listener(server: NetServer, swap: (pair: TlsPair) => void): TlsListener {
  return {
    listen: (port) =>
      new Promise((resolve) => {
        server.once("error", resolve);
        server.listen(port, () => resolve(undefined));
      }),
    get port() {
      return (server.address() as { port: number }).port;
    },
    setSecureContext: swap,
    close: () => server.close(),
  };
}

interface Bridge extends Duplex {
  /** Nothing more is read from the client while held. */
  hold(held: boolean): void;
}

let BridgeClass: (new (raw: Socket) => Bridge) | undefined;

/** An accepted socket as a plain stream: Bun runs TLS over it in memory, not in its socket layer. */
function bridgeClass(): new (raw: Socket) => Bridge {
  const { Duplex } = builtin("node:stream");
  return class extends Duplex implements Bridge {
    /** The TLS layer has not asked for more (push() said no). */
    #full = false;
    #held = false;
    constructor(private readonly raw: Socket) {
      super();
      raw.on("data", (chunk: Buffer) => {
        if (!this.push(chunk)) {
          this.#full = true;
          raw.pause();
        }
      });
      raw.on("end", () => this.push(null));
      // The peer gone, or the socket closed here: both ends go (no connection is left in CLOSE-WAIT).
      raw.on("close", () => this.destroy());
    }
    hold(held: boolean): void {
      this.#held = held;
      if (held) this.raw.pause();
      else if (!this.#full) this.raw.resume();
    }
    override _read(): void {
      this.#full = false;
      if (!this.#held) this.raw.resume();
    }
    override _write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void): void {
      this.raw.write(chunk, encoding, done);
    }
    override _final(done: (err?: Error | null) => void): void {
      this.raw.end();
      done();
    }
    override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
      this.raw.destroy();
      done(err);
    }
  };
}
