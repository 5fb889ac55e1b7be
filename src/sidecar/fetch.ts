// The same bounded request through fetch, for the Bun-compiled executable when
// plain TCP will not do (HTTPS, or a host name: fetch has Bun's own resolver and
// TLS; node:http would take about 20 ms to load there). Same Answer contract as
// request.ts: redirects are returned, not followed (redirect: "manual"); every
// attempt opens its own connection (keepalive: false); the body is cut short.
// One difference: a reply that is not HTTP at all reads as a reset ("broken",
// retried within the budget) where node:https reports a parse error.

import type { Answer, RequestOptions } from "./answer.js";
import { BROKEN } from "./broken.js";

export async function fetchRequest(url: URL, options: RequestOptions, userAgent: string): Promise<Answer> {
  const { method, timeoutMs, bodyBytes = 256, bodyGraceMs = 200 } = options;
  const deadline = AbortSignal.timeout(Math.max(1, timeoutMs));
  const signal = options.abort ? AbortSignal.any([deadline, options.abort]) : deadline;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      redirect: "manual",
      signal,
      headers: [["user-agent", userAgent], ...(options.headers ?? [])] as [string, string][],
      // Bun's own option: no pooled connection, as agent: false is for node:http.
      keepalive: false,
    });
  } catch (err) {
    if (signal.aborted) return { kind: "timeout" };
    const code = (err as { code?: unknown }).code;
    const name = typeof code === "string" ? code : (err as Error).message;
    if (name === "ECONNREFUSED" || name === "ConnectionRefused") return { kind: "refused" };
    if (BROKEN.has(name)) return { kind: "broken", code: name };
    return { kind: "error", code: name };
  }
  const location = response.headers.get("location");
  const body = await readSome(response, bodyBytes, bodyGraceMs);
  return { kind: "status", status: response.status, body, ...(location === null ? {} : { location }) };
}

/** The body's first bytes, whatever has arrived within graceMs; never throws. */
async function readSome(response: Response, bytes: number, graceMs: number): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  let grace: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<void>((resolve) => {
    grace = setTimeout(resolve, graceMs);
  });
  try {
    while (size < bytes) {
      const next = await Promise.race([reader.read(), timeUp]);
      if (next === undefined || next.done) break;
      chunks.push(next.value);
      size += next.value.length;
    }
  } catch {
    // A broken or aborted body: the status is what counts.
  } finally {
    clearTimeout(grace);
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, bytes);
}
