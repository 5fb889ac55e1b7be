// A raw TCP server on loopback for fault injection: each connection is handed to
// a script that may answer anything, or nothing, byte by byte. Unlike
// fake-sidecar.ts it does not speak HTTP unless the script does.

import { createServer, type Server, type Socket } from "node:net";

export interface Connection {
  readonly socket: Socket;
  /** Resolves with the request head once "\r\n\r\n" has arrived (never, if it does not). */
  readonly request: Promise<string>;
  /** Runs fn every intervalMs until the connection or the server closes. */
  every(intervalMs: number, fn: () => void): void;
  /** Runs fn once after ms unless the connection or the server closed first. */
  after(ms: number, fn: () => void): void;
}

export type Script = (connection: Connection, index: number) => void;

export interface FaultServer {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Request heads received so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startFaultServer(
  script: Script,
  options: { readonly read?: boolean } = {},
): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const requests: string[] = [];
  let accepted = 0;
  let closed = false;

  const server: Server = createServer({ pauseOnConnect: options.read === false }, (socket: Socket) => {
    const index = accepted++;
    sockets.add(socket);
    const mine = new Set<NodeJS.Timeout>();
    const clear = (): void => {
      for (const t of mine) {
        clearTimeout(t);
        clearInterval(t);
        timers.delete(t);
      }
      mine.clear();
    };
    socket.on("close", () => {
      sockets.delete(socket);
      clear();
    });
    // Resets, writes after the peer left: all expected here.
    socket.on("error", () => {});
    const request = new Promise<string>((resolve) => {
      if (options.read === false) return;
      let head = "";
      const onData = (chunk: Buffer): void => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end >= 0) {
          socket.removeListener("data", onData);
          requests.push(head.slice(0, end));
          resolve(head.slice(0, end));
        }
      };
      socket.on("data", onData);
    });
    const track = (t: NodeJS.Timeout): void => {
      if (closed || socket.destroyed) {
        clearTimeout(t);
        return;
      }
      mine.add(t);
      timers.add(t);
    };
    script(
      {
        socket,
        request,
        every: (ms, fn) => track(setInterval(() => !socket.destroyed && fn(), ms)),
        after: (ms, fn) => track(setTimeout(() => !socket.destroyed && fn(), ms)),
      },
      index,
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    requests,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        for (const t of timers) {
          clearTimeout(t);
          clearInterval(t);
        }
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}
