// One bounded HTTP request. node:http rather than fetch: it never follows redirects,
// tells "connection refused" apart from other failures, loads faster than
// undici, and lets a huge or never-ending body be cut short.

import type { ClientRequest, IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { VERSION } from "../version.js";
import { BROKEN } from "./broken.js";
import { fetchRequest } from "./fetch.js";
import type { Address } from "./resolve.js";

export type Answer =
  /** The sidecar answered; body is its first bytes, for the log. */
  | { readonly kind: "status"; readonly status: number; readonly body: string; readonly location?: string }
  /** Nothing listens on the port: no sidecar (ambient mesh, native sidecar, no injection). */
  | { readonly kind: "refused" }
  /** No complete response head before the deadline. */
  | { readonly kind: "timeout" }
  /** The connection broke (reset, hang-up): worth another try. */
  | { readonly kind: "broken"; readonly code: string }
  /** Anything else (DNS, TLS, garbage instead of HTTP): another try will not help. */
  | { readonly kind: "error"; readonly code: string };

export interface RequestOptions {
  readonly method: "GET" | "POST";
  /** The whole request, head and body, within this. */
  readonly timeoutMs: number;
  /** Ends the request early (SIGTERM during a readiness wait); answers "timeout". */
  readonly abort?: AbortSignal;
  /** How much of the body is kept (256 bytes: enough for a log line). */
  readonly bodyBytes?: number;
  /** How long the body may take once the head is in (200 ms: the status is what counts). */
  readonly bodyGraceMs?: number;
}

/**
 * Loads node:http in the background, for a wrapper whose program is running,
 * so that stopping the sidecar afterwards costs the request only. Bun's fetch
 * needs no loading.
 */
export function warmUp(): void {
  if (process.versions.bun === undefined) import("node:http").catch(() => {});
}

export function post(url: URL, timeoutMs: number): Promise<Answer> {
  return request(url, { method: "POST", timeoutMs });
}

export async function request(url: URL, options: RequestOptions): Promise<Answer> {
  // The Bun-compiled executable: its native fetch is about 40 ms faster here (fetch.ts).
  if (process.versions.bun !== undefined) return fetchRequest(url, options, `iqqq/${VERSION}`);
  const { method, timeoutMs, bodyBytes = 256, bodyGraceMs = 200 } = options;
  // Loaded on first use: the wrapper path pays for HTTP only once the program has ended.
  const http = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
  const signal = options.abort ? AbortSignal.any([deadline, options.abort]) : deadline;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let lookup: LookupFunction | undefined;
  if (!host.includes(":") && !/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host)) {
    // A name: looked up within the deadline (resolve.ts), not by node:http's unbounded lookup.
    const { resolveHost } = await import("./resolve.js");
    const resolved = await resolveHost(host, signal);
    if (resolved.kind !== "ok") return resolved;
    const [first] = resolved.addresses as [Address];
    lookup = (_name, lookupOptions, callback) => {
      if (lookupOptions.all) (callback as (e: null, a: readonly Address[]) => void)(null, resolved.addresses);
      else (callback as (e: null, a: string, f: number) => void)(null, first.address, first.family);
    };
  }
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
        headers: { ...(method === "POST" ? { "content-length": "0" } : {}), "user-agent": `iqqq/${VERSION}` },
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
