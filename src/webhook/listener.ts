// The webhook's TLS listener under Node (transport.ts; Bun has native.ts): a
// node:tls server, whose connections are handed over after their handshake,
// in arrival order.
//
// A connection whose handshake is not done within HANDSHAKE_MS is closed, and
// the certificate can be swapped in place (new connections get the new pair),
// and at most `pending` handshakes are under way at once, at most `perPeer` of
// them from one client address (one more is closed at once): a single pod that
// opens connections and says nothing cannot take every slot and keep the API
// server's reviews out.

import type { Server as NetServer, Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { builtin } from "../runtime/builtins.js";
import { HANDSHAKE_MS, PerPeer, type TlsPair } from "./transport.js";

export interface TlsListener {
  /** Resolves when listening, or to why it could not. */
  listen(port: number): Promise<Error | undefined>;
  readonly port: number;
  /** Served from the next connection on; throws when the pair is not usable. */
  setSecureContext(pair: TlsPair): void;
  close(): void;
}

/** A connection whose handshake is done, with the client's address and `hold`, which stops (true) or lets (false) bytes come from the client. */
export type Secure = (socket: TLSSocket, peer: string, hold: (held: boolean) => void) => void;

/** Listens for TLS connections; `secure` gets each one once its handshake is done. */
export function tlsListener(pair: TlsPair, pending: number, perPeer: number, secure: Secure): TlsListener {
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
