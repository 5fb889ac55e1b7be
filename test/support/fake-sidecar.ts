// A loopback server that behaves like Istio's pilot-agent (status codes and
// bodies as pilot-agent sends them), with scripted faults for the tests.
//
//   POST /quitquitquit   200 "OK", then the agent exits (the server closes)
//   other methods        405
//   non-loopback caller  403
//   GET /healthz/ready   200 when ready, 503 before
//   anything else        404
//
// Also a CLI, for the demo and for tests that need it in another process or
// network namespace:  node fake-sidecar.js [--port N] [--host H] [--stay]
// It prints "listening PORT" once ready and one line per request to stdout, and
// exits 0 after acknowledging /quitquitquit (unless --stay).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { pathToFileURL } from "node:url";

/** What the sidecar does with one POST /quitquitquit. */
export type QuitBehaviour =
  | "ok"
  /** Read the request, never answer. */
  | "hang"
  /** Destroy the connection without answering (ECONNRESET at the client). */
  | "reset"
  | { readonly status: number; readonly body?: string; readonly location?: string };

export interface FakeSidecarOptions {
  readonly host?: string;
  readonly port?: number;
  /** Answers to successive quit requests; the last one repeats. Default ["ok"]. */
  readonly quit?: readonly QuitBehaviour[];
  /** Keep serving after a successful quit (to count the quits of many runs). */
  readonly stayAfterQuit?: boolean;
  /** Whether /healthz/ready answers 200 (default true). */
  readonly ready?: () => boolean;
  /** Called for every request, after it is recorded. */
  readonly onRequest?: (request: RecordedRequest) => void;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** performance.timeOrigin-relative milliseconds: comparable across processes via Date.now(). */
  readonly at: number;
  readonly headers: IncomingMessage["headers"];
}

export interface FakeSidecar {
  readonly port: number;
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Successful quit requests (the ones answered 200 OK). */
  quits(): number;
  /** Resolves when a quit has been acknowledged. */
  readonly stopped: Promise<void>;
  close(): Promise<void>;
}

export async function startFakeSidecar(options: FakeSidecarOptions = {}): Promise<FakeSidecar> {
  const script = options.quit ?? ["ok"];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let quitCount = 0;
  let okCount = 0;
  let markStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const recorded = { method: req.method ?? "", path: req.url ?? "", at: Date.now(), headers: req.headers };
    requests.push(recorded);
    options.onRequest?.(recorded);
    const remote = req.socket.remoteAddress ?? "";
    if (!isLoopbackAddress(remote)) return send(res, 403, "forbidden\n");
    if (req.url === "/healthz/ready") {
      if (req.method !== "GET") return send(res, 405, "");
      return (options.ready?.() ?? true) ? send(res, 200, "") : send(res, 503, "");
    }
    if (req.url !== "/quitquitquit") return send(res, 404, "404 page not found\n");
    if (req.method !== "POST") return send(res, 405, "");
    const behaviour = script[Math.min(quitCount, script.length - 1)] ?? "ok";
    quitCount++;
    if (behaviour === "hang") return;
    if (behaviour === "reset") return void req.socket.destroy();
    if (behaviour === "ok") {
      okCount++;
      res.once("finish", () => {
        markStopped();
        // pilot-agent exits after acknowledging: later connections are refused.
        if (!options.stayAfterQuit) void close();
      });
      return send(res, 200, "OK");
    }
    if (behaviour.location !== undefined) res.setHeader("location", behaviour.location);
    send(res, behaviour.status, behaviour.body ?? "");
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    requests,
    quits: () => okCount,
    stopped,
    close,
  };
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function isLoopbackAddress(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}

async function cli(argv: readonly string[]): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sidecar = await startFakeSidecar({
    port: Number(flag("--port") ?? 0),
    host: flag("--host") ?? "127.0.0.1",
    stayAfterQuit: argv.includes("--stay"),
    onRequest: (r) => process.stdout.write(`request ${r.method} ${r.path}\n`),
  });
  process.stdout.write(`listening ${sidecar.port}\n`);
  process.on("SIGTERM", () => void sidecar.close().then(() => process.exit(0)));
  await sidecar.stopped;
  process.stdout.write("quit acknowledged: exiting\n");
  if (!argv.includes("--stay")) {
    await sidecar.close();
    process.exit(0);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  void cli(process.argv.slice(2));
}
