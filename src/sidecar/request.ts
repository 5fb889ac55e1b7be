// One bounded HTTP request. Plain HTTP goes through http1.ts, one raw exchange
// over TCP; HTTPS through node:https in the Node bundle and fetch in the Bun
// executable. Neither follows redirects, both tell "connection refused" apart
// from other failures, and a huge or never-ending body is cut short.

import type { ClientRequest, IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { isDigits } from "../config/values.js";
import { builtin } from "../runtime/builtins.js";
import { VERSION } from "../version.js";
import type { Answer, HeaderFields, RequestOptions } from "./answer.js";
import { BROKEN } from "./broken.js";
import { exchange } from "./http1.js";
import type { Address } from "./resolve.js";

export type { Answer, RequestOptions };

const USER_AGENT = `iqqq/${VERSION}`;

/**
 * Loads what stopping the sidecar needs (node:fs for the Node bundle's pod
 * facts; node:net for the Node bundle; Bun.connect needs no loading) while the
 * wrapped program runs, so that the stop afterwards costs the request only.
 * It also makes one exchange with a throwaway server of its own on loopback:
 * a function's first call costs (V8 compiles it; JavaScriptCore builds its
 * caches), and the socket, stream and parser code of a first request cost the
 * teardown about 6 ms under Node. Nothing leaves the process but a loopback
 * connection to itself; it never keeps iqqq alive, and a failure changes nothing.
 * main.ts calls it only once the program has run WARM_UP_AFTER_MS.
 */
export function warmUp(): void {
  const bun = (globalThis as { Bun?: BunListen }).Bun;
  // The executable maps the pod's facts with Bun.mmap (pod/facts.ts): node:fs would cost it 1 ms to build.
  if (bun === undefined) builtin("node:fs");
  // One server per runtime; the exchange with it is the same code as the stop's.
  const listening = bun === undefined ? listenWithNode() : listenWithBun(bun);
  void listening
    .then((server) =>
      exchange(
        new URL(`http://127.0.0.1:${server.port}/`),
        "127.0.0.1",
        { method: "POST", timeoutMs: WARM_UP_MS },
        USER_AGENT,
        { timeoutMs: WARM_UP_MS },
        { unref: true },
      ).finally(server.close),
    )
    .catch(() => {
      // Only a warm-up.
    });
}

/**
 * The warm-up waits until the program has run this long. A program that ends
 * sooner (`iqqq true`) would have its stop wait for the warm-up's own
 * exchange, still in flight, and then pay the request on top: a cold request
 * alone costs about what the warm-up does. A job runs longer than this.
 */
export const WARM_UP_AFTER_MS = 20;

const WARM_UP_MS = 1000;
const WARM_UP_ANSWER = "HTTP/1.1 204 No Content\r\n\r\n";

/** A throwaway loopback server that answers every connection at once and never keeps iqqq alive. */
interface WarmUpServer {
  readonly port: number;
  readonly close: () => void;
}

function listenWithNode(): Promise<WarmUpServer> {
  return new Promise((resolve, reject) => {
    const server = builtin("node:net").createServer((socket) => {
      socket.on("error", () => {});
      socket.end(WARM_UP_ANSWER);
    });
    server.on("error", reject);
    server.unref();
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: (server.address() as { port: number }).port, close: () => server.close() }),
    );
  });
}

/** The part of Bun's API the warm-up uses (the Node build has no bun-types). */
interface BunListen {
  listen(options: {
    hostname: string;
    port: number;
    socket: { open(socket: { end(data: string): void }): void; data(): void; error(): void };
  }): { readonly port: number; stop(closeActive?: boolean): void; unref(): void };
}

async function listenWithBun(bun: BunListen): Promise<WarmUpServer> {
  const server = bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: (socket) => socket.end(WARM_UP_ANSWER), data: () => {}, error: () => {} },
  });
  server.unref();
  return { port: server.port, close: () => server.stop(true) };
}

export function post(url: URL, timeoutMs: number, headers?: HeaderFields): Promise<Answer> {
  return request(url, headers === undefined ? { method: "POST", timeoutMs } : { method: "POST", timeoutMs, headers });
}

export async function request(url: URL, options: RequestOptions): Promise<Answer> {
  const { method, timeoutMs, bodyBytes = 256, bodyGraceMs = 200 } = options;
  // An IPv6 address is a URL's hostname in brackets. (No regular expression: see http1.ts's statusCode.)
  const host = url.hostname.startsWith("[") && url.hostname.endsWith("]") ? url.hostname.slice(1, -1) : url.hostname;
  const parts = host.split(".");
  // Not parts.every(): this runs at every stop (catalogue.ts says why).
  const isAddress =
    host.includes(":") ||
    (parts.length === 4 &&
      isDigits(parts[0] as string) &&
      isDigits(parts[1] as string) &&
      isDigits(parts[2] as string) &&
      isDigits(parts[3] as string));
  // The common case, a sidecar at an IP address over plain HTTP: one raw exchange (http1.ts).
  if (url.protocol === "http:" && isAddress)
    return exchange(
      url,
      host,
      options,
      USER_AGENT,
      options.abort ? { timeoutMs, abort: options.abort } : { timeoutMs },
    );
  // The Bun-compiled executable: its native fetch, with its own resolver and TLS (fetch.ts).
  if (process.versions.bun !== undefined) return (await import("./fetch.js")).fetchRequest(url, options, USER_AGENT);
  // One deadline for the rest of the request, the name's look-up included.
  const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
  const signal = options.abort ? AbortSignal.any([deadline, options.abort]) : deadline;
  let lookup: LookupFunction | undefined;
  if (!isAddress) {
    // A name: looked up within the deadline (resolve.ts), not by node:http's unbounded lookup.
    const { resolveHost } = await import("./resolve.js");
    const resolved = await resolveHost(host, signal);
    if (resolved.kind !== "ok") return resolved;
    const [first] = resolved.addresses as [Address];
    if (url.protocol === "http:")
      return exchange(url, first.address, options, USER_AGENT, { timeoutMs, abort: signal });
    lookup = (_name, lookupOptions, callback) => {
      if (lookupOptions.all) (callback as (e: null, a: readonly Address[]) => void)(null, resolved.addresses);
      else (callback as (e: null, a: string, f: number) => void)(null, first.address, first.family);
    };
  }
  // HTTPS: node:https, loaded on first use.
  const http = builtin("node:https");
  return new Promise((resolve) => {
    let req: ClientRequest | undefined;
    let settled = false;
    let responded = false;
    let grace: NodeJS.Timeout | undefined;
    const settle = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(grace);
      req?.destroy();
      resolve(answer);
    };
    try {
      req = http.request(url, {
        method,
        agent: false,
        signal,
        ...(lookup === undefined ? {} : { lookup }),
        headers: {
          ...(method === "POST" ? { "content-length": "0" } : {}),
          "user-agent": USER_AGENT,
          ...Object.fromEntries(options.headers ?? []),
        },
      });
    } catch (err) {
      settle({ kind: "error", code: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      return;
    }
    req.on("error", (err: NodeJS.ErrnoException) => settle(signal.aborted ? { kind: "timeout" } : classify(err)));
    // "101 Switching Protocols" is no 'response': node:http hands the socket to an
    // 'upgrade' listener, or with none destroys it without any other event. The
    // request would never settle and the runtime, its loop empty, would exit 0.
    req.on("upgrade", (res: IncomingMessage, socket) => {
      socket.destroy();
      settle({ kind: "status", status: res.statusCode ?? 101, body: "" });
    });
    // Whatever else ends the exchange without an answer ends it as a broken connection.
    req.on("close", () => {
      if (!responded) settle(signal.aborted ? { kind: "timeout" } : { kind: "broken", code: "ECONNRESET" });
    });
    req.on("response", (res: IncomingMessage) => {
      responded = true;
      const chunks: Buffer[] = [];
      let size = 0;
      const answer = (): void =>
        settle({
          kind: "status",
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8").slice(0, bodyBytes),
          ...(res.headers.location === undefined ? {} : { location: res.headers.location }),
        });
      // The status is what counts; the body is only read a little, for the log.
      grace = setTimeout(answer, bodyGraceMs);
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= bodyBytes) answer();
      });
      res.on("end", answer);
      res.on("error", answer);
      res.on("close", answer);
    });
    req.end();
  });
}

function classify(err: NodeJS.ErrnoException): Answer {
  const code = err.code ?? err.message;
  if (code === "ECONNREFUSED") return { kind: "refused" };
  if (BROKEN.has(code)) return { kind: "broken", code };
  return { kind: "error", code };
}
