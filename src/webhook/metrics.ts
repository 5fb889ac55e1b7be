// GET /metrics on the webhook's plain-HTTP metrics port, in Prometheus' text
// format (prom-client): reviews by outcome and reason, how long they took,
// registry look-ups by result and how long they took, the look-up cache's hits
// and misses, certificate reloads.
// Loaded only by iqqq webhook (its bundle is the command's own, never the
// wrapper's start path).
//
// Bounded: every label value comes from a fixed set in this file or review.ts
// (never a pod's name, a namespace, an image or an error's text), so the
// series are a fixed number whatever is sent. The port serves counts only,
// nothing about any pod, to whoever can reach it: deploy/'s NetworkPolicy
// leaves it open, as Prometheus' address differs per cluster.

import { Counter, Histogram, Registry } from "prom-client";
import { builtin } from "../runtime/builtins.js";
import type { Outcome, Reason } from "./review.js";

/** Look-up results: the registry answered, failed (or was refused), or the deadline passed. */
export type LookupResult = "found" | "failed" | "timed-out";
const LOOKUP_RESULTS: readonly LookupResult[] = ["found", "failed", "timed-out"];

/** Each outcome with the reasons it comes with: all series exist from the start, at 0. */
const SERIES: Readonly<Record<Outcome, readonly Reason[]>> = {
  injected: [""],
  skipped: ["not-a-pod", "not-opted-in", "opted-out", "namespace", "already-injected"],
  "not-injected": ["host-network", "not-linux", "label-value", "cannot-inject", "busy", "too-many-objects"],
  error: ["bad-request"],
};

/** Connections to the metrics port at once; a scrape needs one. */
const METRICS_CONNECTIONS = 8;
const METRICS_REQUEST_MS = 5000;

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly #reviews = new Counter({
    name: "iqqq_webhook_reviews_total",
    help: "AdmissionReviews answered, by outcome and reason (docs/inject.md, Metrics).",
    labelNames: ["outcome", "reason"] as const,
    registers: [this.registry],
  });
  readonly #reviewSeconds = new Histogram({
    name: "iqqq_webhook_review_duration_seconds",
    help: "From a review's request to its answer (the API server's timeout in deploy/ is 10 s).",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly #lookups = new Counter({
    name: "iqqq_webhook_registry_lookups_total",
    help: "Image look-ups sent to registries (one per image however many pods wait for it), by result.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly #lookupSeconds = new Histogram({
    name: "iqqq_webhook_registry_lookup_duration_seconds",
    help: "How long each image look-up took, waiting for its turn included.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly #cache = new Counter({
    name: "iqqq_webhook_registry_cache_total",
    help: "Image commands asked for: found in the cache (hit), or not (miss: looked up, or waiting for a look-up of the same image).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly #reloads = new Counter({
    name: "iqqq_webhook_certificate_reloads_total",
    help: "Changed certificate files read: loaded, or refused (the old pair kept).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  constructor() {
    for (const [outcome, reasons] of Object.entries(SERIES))
      for (const reason of reasons) this.#reviews.inc({ outcome, reason }, 0);
    for (const result of LOOKUP_RESULTS) this.#lookups.inc({ result }, 0);
    for (const result of ["loaded", "refused"]) this.#reloads.inc({ result }, 0);
    for (const result of ["hit", "miss"]) this.#cache.inc({ result }, 0);
  }

  review(outcome: Outcome, reason: Reason, seconds: number): void {
    // A pair outside SERIES would be a new series: a mistake in the code, counted where it fits.
    const known = SERIES[outcome]?.includes(reason) === true;
    this.#reviews.inc(known ? { outcome, reason } : { outcome: "error", reason: "bad-request" });
    this.#reviewSeconds.observe(seconds);
  }

  lookup(result: LookupResult, seconds: number): void {
    this.#lookups.inc({ result });
    this.#lookupSeconds.observe(seconds);
  }

  cache(hit: boolean): void {
    this.#cache.inc({ result: hit ? "hit" : "miss" });
  }

  certificate(result: "loaded" | "refused"): void {
    this.#reloads.inc({ result });
  }

  /** Serves GET /metrics on `port` (0: any free one); resolves to the port, or the error. */
  async serve(port: number): Promise<{ port: number; close(): void } | Error> {
    const server = builtin("node:http").createServer((req, res) => {
      req.resume();
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" || path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    server.maxConnections = METRICS_CONNECTIONS;
    server.requestTimeout = METRICS_REQUEST_MS;
    server.headersTimeout = METRICS_REQUEST_MS;
    server.keepAliveTimeout = METRICS_REQUEST_MS;
    const error = await new Promise<Error | undefined>((resolve) => {
      server.once("error", resolve);
      server.listen(port, () => resolve(undefined));
    });
    if (error !== undefined) return error;
    return {
      port: (server.address() as { port: number }).port,
      close: () => {
        server.close();
        server.closeAllConnections();
      },
    };
  }
}
