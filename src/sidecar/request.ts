// One bounded POST. node:http rather than fetch: it never follows redirects,
// tells "connection refused" apart from other failures, loads faster than
// undici, and lets a huge or never-ending body be cut short.

import type { ClientRequest, IncomingMessage } from "node:http";
import { VERSION } from "../version.js";

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

/** How much of a body is kept for the log, and how long it may take once the head is in. */
const BODY_BYTES = 256;
const BODY_GRACE_MS = 200;

const BROKEN = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

export async function post(url: URL, timeoutMs: number): Promise<Answer> {
  // Loaded on first use: the wrapper path pays for HTTP only once the program has ended.
  const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
  const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
  return new Promise((resolve) => {
    let req: ClientRequest | undefined;
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const settle = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(grace);
      req?.destroy();
      resolve(answer);
    };
    try {
      req = request(url, {
        method: "POST",
        agent: false,
        signal,
        headers: { "content-length": "0", "user-agent": `iqqq/${VERSION}` },
      });
    } catch (err) {
      settle({ kind: "error", code: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      return;
    }
    req.on("error", (err: NodeJS.ErrnoException) => settle(signal.aborted ? { kind: "timeout" } : classify(err)));
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const answer = (): void =>
        settle({
          kind: "status",
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8").slice(0, BODY_BYTES),
          ...(res.headers.location === undefined ? {} : { location: res.headers.location }),
        });
      // The status is what counts; the body is only read a little, for the log.
      grace = setTimeout(answer, BODY_GRACE_MS);
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= BODY_BYTES) answer();
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
