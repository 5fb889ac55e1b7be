// A loopback server that behaves like a mesh sidecar's admin endpoint (status
// codes and bodies as the real ones send them), with scripted faults for tests.
//
//   istio (pilot-agent)  POST /quitquitquit → 200 "OK" (other methods 405);
//                        GET /healthz/ready → 200 when ready, 503 before
//   envoy (admin)        POST /quitquitquit → 200 "OK\n" (GET 400); GET /ready →
//                        200 "LIVE\n" or 503 "PRE_INITIALIZING\n"; GET /server_info →
//                        200 JSON whose "state" is LIVE or PRE_INITIALIZING
//   linkerd (proxy)      POST /shutdown → 200 "shutdown\n" (405 otherwise), or 404
//                        "shutdown endpoint is not enabled\n"; GET /ready → 200 "ready\n" / 503
//   cloudsql             GET or POST /quitquitquit → 200 "" (other methods 400)
//   every kind           403 to a non-loopback caller, 404 elsewhere; after a
//                        successful quit the sidecar exits (the server closes)
//
// Also a CLI, for the demo and for tests that need it in another process or
// network namespace or container:  node fake-sidecar.js [--kind K] [--port N]
// [--ready-port N] [--host H] [--ready-after-ms N (or FAKE_READY_AFTER_MS)] [--stay]
// It prints "listening PORT" once ready and one line per request to stdout, and
// exits 0 after acknowledging /quitquitquit (unless --stay). With
// FAKE_PROCESSES_AT_QUIT=1 it also prints, on receiving a quit request and before
// answering it, "processes at quit: " and the name (comm) of every other process
// it sees in /proc: in a pod with shareProcessNamespace, proof of what had ended
// when the stop arrived, with no clock to compare.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { listPids, readStat } from "../../src/proc/read.js";
import { prepareBuiltins } from "../../src/runtime/builtins.js";
import { type HttpKind, type HttpSidecar, SIDECARS } from "../../src/sidecar/catalogue.js";

/** What the sidecar does with one POST /quitquitquit. */
export type QuitBehaviour =
  | "ok"
  /** Read the request, never answer. */
  | "hang"
  /** Destroy the connection without answering (ECONNRESET at the client). */
  | "reset"
  | { readonly status: number; readonly body?: string; readonly location?: string };

/** Every kind of the sidecar catalogue: its stop path, methods and answer come from its record. */
export type SidecarKind = HttpKind;

interface KindSpec {
  readonly quitPath: string;
  readonly quitMethods: readonly string[];
  /** Status for a quit request with another method. */
  readonly wrongMethod: number;
  readonly okStatus: number;
  readonly ok: string;
  /** The header its API token comes in (lower case, as node:http gives it). */
  readonly tokenHeader?: string;
  readonly ready: (
    ready: boolean,
    path: string,
    notReadyStatus: number | undefined,
  ) => { status: number; body: string; json?: boolean } | undefined;
}

/** What each kind's readiness endpoint answers (its GET /ready or the like), where the fake knows it. */
const READY: Partial<Record<SidecarKind, KindSpec["ready"]>> = {
  istio: (ready, path) => (path === "/healthz/ready" ? { status: ready ? 200 : 503, body: "" } : undefined),
  envoy: (ready, path, notReadyStatus) => {
    const state = ready ? "LIVE" : "PRE_INITIALIZING";
    if (path === "/ready") return { status: ready ? 200 : 503, body: `${state}\n` };
    if (path === "/server_info") {
      if (!ready && notReadyStatus !== undefined) return { status: notReadyStatus, body: "" };
      return {
        status: 200,
        json: true,
        body: JSON.stringify({ version: "fake/1.0/Clean/RELEASE", state, uptime_current_epoch: "1s" }),
      };
    }
    return undefined;
  },
  linkerd: (ready, path) =>
    path === "/ready" ? { status: ready ? 200 : 503, body: ready ? "ready\n" : "" } : undefined,
  cloudsql: (ready, path) =>
    path === "/readiness" ? { status: ready ? 200 : 503, body: ready ? "ok" : "error" } : undefined,
};

/** Envoy's admin answers a GET on a mutating endpoint 400, as cloud-sql-proxy does other methods; the rest 405. */
const WRONG_METHOD: Partial<Record<SidecarKind, number>> = { envoy: 400, cloudsql: 400 };

const KINDS = Object.fromEntries(
  (SIDECARS as readonly HttpSidecar[]).map((k) => [
    k.name,
    {
      quitPath: `/${k.quitPath}`,
      quitMethods: k.answer.methods,
      wrongMethod: WRONG_METHOD[k.name as SidecarKind] ?? 405,
      okStatus: k.answer.status,
      ok: k.answer.body,
      ready: READY[k.name as SidecarKind] ?? (() => undefined),
      ...(k.token === undefined ? {} : { tokenHeader: k.token.header }),
    } satisfies KindSpec,
  ]),
) as Record<SidecarKind, KindSpec>;

export interface FakeSidecarOptions {
  /** Which sidecar's admin API to behave as (default istio: pilot-agent). */
  readonly kind?: SidecarKind;
  /** linkerd only: the shutdown endpoint is off, as it is by default. */
  readonly shutdownDisabled?: boolean;
  readonly host?: string;
  readonly port?: number;
  /** Answers to successive quit requests; the last one repeats. Default ["ok"]. */
  readonly quit?: readonly QuitBehaviour[];
  /** Keep serving after a successful quit (to count the quits of many runs). */
  readonly stayAfterQuit?: boolean;
  /** envoy only: answer /server_info with this status while not ready (scuttle's fake answers 503). */
  readonly notReadyStatus?: number;
  /** Whether the readiness endpoint says ready (default true). */
  readonly ready?: () => boolean;
  /** Called for every request, after it is recorded. */
  readonly onRequest?: (request: RecordedRequest) => void;
  /** A kind with an API token (catalogue.ts's token): a quit without this value in its header is answered 401. */
  readonly token?: string;
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
  const kind = KINDS[options.kind ?? "istio"];
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
    const readiness = kind.ready(options.ready?.() ?? true, req.url ?? "", options.notReadyStatus);
    if (readiness !== undefined) {
      if (req.method !== "GET") return send(res, 405, "");
      return send(res, readiness.status, readiness.body, readiness.json);
    }
    if (req.url !== kind.quitPath) return send(res, 404, "404 page not found\n");
    if (!kind.quitMethods.includes(req.method ?? "")) return send(res, kind.wrongMethod, "");
    if (options.shutdownDisabled) return send(res, 404, "shutdown endpoint is not enabled\n");
    if (options.token !== undefined && req.headers[kind.tokenHeader ?? ""] !== options.token) return send(res, 401, "");
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
      return send(res, kind.okStatus, kind.ok);
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

function send(res: ServerResponse, status: number, body: string, json = false): void {
  const type = json ? "application/json" : "text/plain; charset=utf-8";
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function isLoopbackAddress(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}

/** The comm of every process in /proc but this one (a process that ends while it is read is left out). */
function otherProcesses(): string[] {
  const names: string[] = [];
  for (const pid of listPids("/proc")) {
    const stat = pid === process.pid ? undefined : readStat("/proc", pid);
    if (stat !== undefined) names.push(stat.comm);
  }
  return names;
}

async function cli(argv: readonly string[]): Promise<void> {
  await prepareBuiltins(); // for src/proc/read.ts (FAKE_PROCESSES_AT_QUIT)
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  // The env variable lets one image serve as a slow-to-be-ready sidecar too.
  const notReadyFor = Number(flag("--ready-after-ms") ?? process.env.FAKE_READY_AFTER_MS ?? 0);
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  // Ready and the "ready" line in the same tick: a client can never see 200 before the line is out.
  let isReady = false;
  const becomeReady = (): void => {
    isReady = true;
    say("ready");
  };
  const readyTimer = notReadyFor > 0 ? setTimeout(becomeReady, notReadyFor) : undefined;
  const ready = (): boolean => isReady;
  const kind = (flag("--kind") ?? "istio") as SidecarKind;
  const common = {
    kind,
    ready,
    host: flag("--host") ?? "127.0.0.1",
    stayAfterQuit: argv.includes("--stay"),
    onRequest: (r: RecordedRequest) => {
      say(`request ${r.method} ${r.path}`);
      if (process.env.FAKE_PROCESSES_AT_QUIT === "1" && r.path === KINDS[kind].quitPath) {
        say(`processes at quit: ${otherProcesses().join(" ")}`);
      }
    },
  };
  const sidecar = await startFakeSidecar({ ...common, port: Number(flag("--port") ?? 0) });
  // pilot-agent answers readiness on its own port (15021) as well.
  const readyPort = flag("--ready-port");
  const health = readyPort === undefined ? undefined : await startFakeSidecar({ ...common, port: Number(readyPort) });
  say(`listening ${sidecar.port}${health ? ` (ready on ${health.port})` : ""}`);
  if (readyTimer === undefined) becomeReady();
  const exit = async (why: string): Promise<never> => {
    say(why);
    await Promise.all([sidecar.close(), health?.close()]);
    process.exit(0);
  };
  process.on("SIGTERM", () => void exit("SIGTERM: exiting"));
  await sidecar.stopped;
  if (!argv.includes("--stay")) await exit("quit acknowledged: exiting");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  void cli(process.argv.slice(2));
}
