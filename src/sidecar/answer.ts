// What one request to a sidecar can end in, and how it is asked: shared by the
// two HTTP clients (http1.ts, and fetch.ts in the Bun executable), the request
// entry point (request.ts) and the stop.

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

/** Header fields beyond the request's own, as [name, value]. */
export type HeaderFields = readonly (readonly [string, string])[];

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
  /** More header fields (a sidecar's API token: catalogue.ts's token), each value checked by config.ts. */
  readonly headers?: HeaderFields;
}
