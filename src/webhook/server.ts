// iqqq webhook: a mutating admission webhook over HTTPS. POST /inject answers
// AdmissionReviews (review.ts), POST /inject/namespace those of pods whose
// namespace the webhook configuration found opted in; GET /healthz and /readyz
// answer 200 while it serves.
//
// It never makes the API server wait past its timeout and never grows without
// bound, whatever is sent to it (the threat model: docs/inject.md, Security):
// - a review must say its length, at most BODY_LIMIT (the API server's own
//   limit), else it is refused unread (411-like close, or 413);
// - a review's body is read only while the bodies in memory stay within
//   REVIEW_BYTES (PEER_BYTES for one client address) and REVIEWS_AT_ONCE; the
//   others wait, unread (connections.ts meters what reaches the HTTP server),
//   at most QUEUE_WAIT_MS, QUEUE_MAX of them; one that cannot be read in time
//   is answered allowed: true with a warning, its uid found as the body
//   streams past (uid.ts), SCANS_AT_ONCE at a time, without keeping it;
// - a review with more than REVIEW_CONTAINERS objects and arrays is answered
//   the same way, unparsed; after a large body, garbage is collected (gc.ts);
// - at most CONNECTIONS_MAX connections, CONNECTIONS_PER_PEER from one address;
//   one without a request in flight for IDLE_MS is closed;
// - registry look-ups: shared and fair (registry/lookups.ts), within one
//   review's LOOKUP_BUDGET_MS, at most LOOKUPS_PER_REVIEW images per pod, their
//   answers within REGISTRY_BYTES at once, at the addresses the policy allows;
//   what they found kept at most CACHE_ENTRIES and CACHE_BYTES (an answer
//   larger than CACHE_ENTRY_BYTES not at all), for TAG_TTL_MS
//   (DIGEST_TTL_MS for a reference by digest).
// SIGTERM or SIGINT: /readyz answers 503 while reviews are still served for
// the drain period (the API server stops sending them once the endpoint is
// gone), then the listener closes, the reviews in flight finish (at most
// FINISH_MS), and it exits 0. A second signal ends the drain at once.
// The certificate and key are read again when their files change (cert-manager
// renews them in place) and swapped into the transport (transport.ts):
// new connections get the new pair, open ones keep theirs, none is dropped.
// Each handshake within 10 s, at most CONNECTIONS_MAX under way at once; how
// reviews reach it is transport.ts's (node:tls and node:http under Node, Bun's
// own sockets under Bun, native.ts), and reviews are answered one an
// event-loop turn (inTurn) so that Bun's TLS layer starves no old handshake.

import { EXIT } from "../exit-status.js";
import type { Mode, Volume } from "../inject/inject.js";
import type { Env, Io } from "../io.js";
import { ImageLookups } from "../registry/lookups.js";
import { Budget } from "../registry/network.js";
import { parseReference } from "../registry/reference.js";
import { builtin } from "../runtime/builtins.js";
import { collectGarbage, keepYoungGenerationSmall } from "../runtime/gc.js";
import { moreContainersThan } from "../runtime/json.js";
import { Gate, onAnswered } from "./gate.js";
import { WebhookMetrics } from "./metrics.js";
import type { PullSecrets } from "./pull-secrets.js";
import { answerReview, INJECT_LABEL, NAMESPACE_ENABLED, type Outcome, type Reason, shedReview } from "./review.js";
import { type Answer, type Request, transportFor } from "./transport.js";
import { UidScanner } from "./uid.js";

/**
 * The largest review read: the API server takes requests of at most 3 MiB (its
 * --max-request-body-bytes default) and etcd stores objects of at most 1.5 MiB;
 * a CREATE review carries the pod once. Larger: answered unread.
 */
export const BODY_LIMIT = 3 * 1024 * 1024;
/** Review bodies in memory at once (a pod of 10 KiB is typical: some 600 reviews). */
const REVIEW_BYTES = 6 * 1024 * 1024;
/** Reviews answered unread, their bodies streaming past the uid scanner, at once (the others wait, paused). */
const SCANS_AT_ONCE = 1;
/** Reviews read or being answered at once, and review bytes one client address may have in memory. */
const REVIEWS_AT_ONCE = 64;
const PEER_BYTES = REVIEW_BYTES / 2;
/** A review with more objects and arrays than this is answered unread (a pod with 100 containers of 50 variables has some 6,000). */
const REVIEW_CONTAINERS = 100_000;
/** After a body larger than this, garbage is collected (runtime/gc.ts says why). */
const LARGE_BODY = 512 * 1024;
/** Reviews waiting, unread, for room; and how long each may wait. */
const QUEUE_MAX = 256;
const QUEUE_WAIT_MS = 2000;
const CONNECTIONS_MAX = 512;
// The API server opens one connection per call in flight (HTTP/1.1): hundreds when busy.
const CONNECTIONS_PER_PEER = 256;
/**
 * TLS handshakes under way at once from one client address (of CONNECTIONS_MAX in all): as many
 * as it may have connections, so that one pod that opens connections and says nothing holds at
 * most half the slots, and the API server's handshakes get the rest.
 */
const HANDSHAKES_PER_PEER = CONNECTIONS_PER_PEER;
/** A connection without a request in flight (a trickled header is none) is closed after this. */
const IDLE_MS = 30_000;
/** A body must arrive within this (a review of 3 MiB crosses a cluster network in well under a second). */
const BODY_MS = 5_000;
const FINISH_MS = 10_000;
/** A request's answer must be out within this, or its connection is closed (body + look-ups + margin). */
const REQUEST_MS = 15_000;
const CERT_CHECK_MS = 30_000;
const RELOAD_RETRY_MS = 1000;
/**
 * All registry look-ups for one review (containers without a command): well
 * inside the API server's timeout (deploy/: 10 s), so that a slow registry gets
 * the pod through unchanged with a warning, not a timeout.
 */
const LOOKUP_BUDGET_MS = 6000;
/** One image look-up, however many reviews wait for it. */
const LOOKUP_DEADLINE_MS = 5000;
const LOOKUPS_PER_HOST = 4;
const LOOKUPS_AT_ONCE = 16;
/** Distinct images without a command looked up for one pod. */
export const LOOKUPS_PER_REVIEW = 10;
/** Registry answers being read at once, across all reviews. */
const REGISTRY_BYTES = 8 * 1024 * 1024;
/** Images whose command is kept, and the memory they may take (keys included). */
const CACHE_ENTRIES = 1000;
const CACHE_BYTES = 4 * 1024 * 1024;
/** One image's answer larger than this is not kept (a command of 64 KiB is already rare). */
const CACHE_ENTRY_BYTES = 64 * 1024;
/**
 * How long a tag's answer is kept: a tag moved to an image with another
 * ENTRYPOINT is seen this much later at worst (a pod created meanwhile would run
 * the old command on the new image). A burst of one Job's pods fits well inside.
 */
const TAG_TTL_MS = 60_000;
/** A digest names one image for ever: its answer is kept until evicted, or this long. */
const DIGEST_TTL_MS = 60 * 60_000;

/** What `iqqq webhook`'s flags say (commands/webhook.ts). */
export interface WebhookOptions {
  readonly image: string;
  /** How pods labelled iqqq.io/inject=true get iqqq (=wrapper or =watcher pick their own). */
  readonly mode: Mode;
  /** How iqqq reaches the job containers (inject.ts Volume). */
  readonly volume: Volume;
  readonly cert: string;
  readonly key: string;
  readonly port: number;
  /** --platform; undefined: each pod's node architecture, else linux/amd64 and linux/arm64. */
  readonly platform: string | undefined;
  readonly allow: readonly string[];
  readonly drainMs: number;
  /** Where GET /metrics is served over plain HTTP (0: any free port); undefined: not served. */
  readonly metricsPort?: number | undefined;
  /** Read a pod's imagePullSecrets from the API for its look-ups (pull-secrets.ts). */
  readonly pullSecrets?: boolean;
}

/** Serves until SIGTERM or SIGINT and the drain; resolves to the exit status. */
export async function serveWebhook(options: WebhookOptions, env: Env, io: Io): Promise<number> {
  const { image } = options;
  keepYoungGenerationSmall();
  const fs = builtin("node:fs");
  const tls = builtin("node:tls");
  /** The pair, read and checked (a key that does not match its certificate throws here). */
  const readPair = (): { cert: Buffer; key: Buffer } => {
    const pair = { cert: fs.readFileSync(options.cert), key: fs.readFileSync(options.key) };
    tls.createSecureContext(pair);
    return pair;
  };
  let pair: { cert: Buffer; key: Buffer };
  try {
    pair = readPair();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(
      e.code !== undefined && e.syscall !== undefined
        ? `iqqq webhook: error: cannot read the certificate or key: ${e.message}\n`
        : `iqqq webhook: error: the certificate or key is not usable: ${e.message}\n`,
    );
    return EXIT.CONFIG;
  }
  let pullSecrets: PullSecrets | undefined;
  if (options.pullSecrets) {
    try {
      pullSecrets = new (await import("./pull-secrets.js")).PullSecrets(env);
    } catch (err) {
      io.stderr(`iqqq webhook: error: ${(err as Error).message}\n`);
      return EXIT.CONFIG;
    }
  }
  const metrics = new WebhookMetrics();
  const lookups = new ImageLookups({
    observe: (result, seconds) => metrics.lookup(result, seconds),
    cache: {
      entries: CACHE_ENTRIES,
      bytes: CACHE_BYTES,
      entryBytes: CACHE_ENTRY_BYTES,
      tagTtlMs: TAG_TTL_MS,
      digestTtlMs: DIGEST_TTL_MS,
    },
    onCache: (hit) => metrics.cache(hit),
    env,
    policy: { anyAddress: false, allowed: options.allow, resolver: "dns" },
    budget: new Budget(REGISTRY_BYTES),
    deadlineMs: LOOKUP_DEADLINE_MS,
    perHost: LOOKUPS_PER_HOST,
    total: LOOKUPS_AT_ONCE,
  });
  const log = (line: string): void => io.stderr(`iqqq webhook: ${line}\n`);
  // deploy/ sets it from the downward API: the webhook never changes its own pods.
  const ownNamespace = env.POD_NAMESPACE || undefined;
  let draining = false;
  const room = new Gate(REVIEW_BYTES, REVIEWS_AT_ONCE, QUEUE_MAX);
  const scans = new Gate(SCANS_AT_ONCE, SCANS_AT_ONCE, CONNECTIONS_MAX);
  /** Review bytes in memory for each client address. */
  const peerBytes = new Map<string, number>();

  /** When each review's request came, for the latency histogram. */
  const started = new WeakMap<Answer, number>();
  /** Counts a review's outcome, once, as it is answered. */
  const count = (res: Answer, outcome: Outcome, reason: Reason): void => {
    const at = started.get(res);
    if (at === undefined) return;
    started.delete(res);
    metrics.review(outcome, reason, (performance.now() - at) / 1000);
  };

  /** Answers a review without keeping its body, SCANS_AT_ONCE at a time: its uid is found as it streams past. */
  const shed = (req: Request, res: Answer, body: Body) => {
    const why = "the webhook is busy (too many reviews at once)";
    scans.enter(1, BODY_MS, res).then((entered) => {
      if (!entered) {
        transport.drop(req);
        return;
      }
      const scanner = body.scan();
      transport.grant(req, body.length);
      body.ended.then(() => {
        if (body.length > LARGE_BODY) collectGarbage();
        if (scanner.uid === undefined) {
          count(res, "error", "bad-request");
          return reply(res, 400, "not an AdmissionReview: no request.uid\n");
        }
        const { review, summary, outcome, reason } = shedReview(scanner.uid, why, "busy");
        count(res, outcome, reason);
        log(summary);
        reply(res, 200, review);
      });
    });
  };

  const handle = (req: Request, res: Answer) => {
    const path = pathOf(req.url ?? "/");
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      req.resume();
      return reply(res, draining && path === "/readyz" ? 503 : 200, draining ? "draining\n" : "ok\n");
    }
    const inject = path === "/inject" || path === "/inject/namespace";
    if (!inject || req.method !== "POST") {
      req.resume();
      return reply(res, !inject ? 404 : 405, !inject ? "not found\n" : "POST an AdmissionReview\n");
    }
    const namespaceOptedIn = path === "/inject/namespace";
    started.set(res, performance.now());
    // Whatever ends a review without an answer counted (no length, too large, too slow, dropped) is an error.
    onAnswered(res, () => count(res, "error", "bad-request"));
    // The API server always says how long a review is; a body that does not is not one.
    const length = Number(req.headers["content-length"]);
    if (req.headers["content-length"] === undefined || !Number.isSafeInteger(length)) {
      transport.drop(req);
      return;
    }
    // The body must have arrived within BODY_MS (the answer may take longer: look-ups).
    const timer = setTimeout(() => transport.drop(req), BODY_MS);
    req.once("end", () => clearTimeout(timer));
    onAnswered(res, () => clearTimeout(timer));
    // The API server sends no request larger than BODY_LIMIT: a larger one is not from it, and not read.
    if (length > BODY_LIMIT) {
      reply(res, 413, "too large\n");
      transport.drop(req);
      return;
    }
    const peer = req.socket.remoteAddress ?? "";
    const held = peerBytes.get(peer) ?? 0;
    // Listened to at once: Bun's HTTP server may have the whole body, and emits it whether or not
    // the request is paused. Until the review is let in, its connection delivers only a little
    // (connections.ts), so what is kept meanwhile stays small.
    const body = new Body(req, length);
    if (held + length > PEER_BYTES) return shed(req, res, body);
    peerBytes.set(peer, held + length);
    onAnswered(res, () => {
      const left = (peerBytes.get(peer) ?? length) - length;
      if (left > 0) peerBytes.set(peer, left);
      else peerBytes.delete(peer);
    });
    room.enter(length, QUEUE_WAIT_MS, res).then((entered) => {
      if (!entered) return res.destroyed ? undefined : shed(req, res, body);
      transport.grant(req, length);
      read(res, body, namespaceOptedIn);
    });
  };

  /** Reads a review whose room in memory is reserved (its length is known), and answers it, in its turn. */
  const read = (res: Answer, body: Body, namespaceOptedIn: boolean) => {
    body.ended.then(() =>
      inTurn(
        () => answerBody(res, body.take(), namespaceOptedIn),
        (err) => {
          count(res, "error", "bad-request");
          log(`internal error: ${err.message}`);
          reply(res, 500, "internal error\n");
        },
      ),
    );
  };

  /** Answers a review from its whole body. */
  const answerBody = (res: Answer, bytes: Buffer, namespaceOptedIn: boolean) => {
    const large = bytes.length > LARGE_BODY;
    let review: unknown;
    try {
      if (moreContainersThan(bytes, REVIEW_CONTAINERS)) {
        const scanner = new UidScanner();
        scanner.feed(bytes);
        if (scanner.uid === undefined) {
          count(res, "error", "bad-request");
          return reply(res, 400, "not an AdmissionReview: no request.uid\n");
        }
        const { review, summary, outcome, reason } = shedReview(
          scanner.uid,
          `the review holds more than ${REVIEW_CONTAINERS} objects and arrays`,
          "too-many-objects",
        );
        count(res, outcome, reason);
        log(summary);
        return reply(res, 200, review);
      }
      review = JSON.parse(bytes.toString("utf8"));
    } catch {
      count(res, "error", "bad-request");
      return reply(res, 400, "not JSON\n");
    }
    const deadline = AbortSignal.timeout(LOOKUP_BUDGET_MS);
    const asked = new Set<string>();
    /** The pod's pull secrets, read once per review, when a look-up first needs them. */
    let secrets: Promise<Map<string, string>> | undefined;
    const podCredentials = (): Promise<Map<string, string>> => {
      if (secrets !== undefined) return secrets;
      const request = (review as { request?: { namespace?: unknown; object?: unknown } }).request;
      secrets = (pullSecrets as PullSecrets)
        .credentials(request?.namespace, request?.object, deadline)
        .then(({ auths, problems }) => {
          for (const problem of problems)
            log(`${String(request?.namespace).slice(0, 63)}: ${problem}; looked up with the webhook's own credentials`);
          return auths;
        });
      return secrets;
    };
    answerReview(review, {
      image,
      mode: options.mode,
      volume: options.volume,
      platform: options.platform,
      namespaceOptedIn,
      ...(ownNamespace === undefined ? {} : { ownNamespace }),
      imageCommand: (ref, platforms) => {
        asked.add(ref);
        if (asked.size > LOOKUPS_PER_REVIEW)
          return Promise.reject(
            new Error(`the pod has more than ${LOOKUPS_PER_REVIEW} images without a command to look up`),
          );
        if (pullSecrets === undefined) return lookups.lookup(ref, platforms, deadline);
        return podCredentials().then((auths) =>
          lookups.lookup(ref, platforms, deadline, auths.get(registryOf(ref) ?? "")),
        );
      },
    }).then(
      ({ review, summary, outcome, reason }) => {
        count(res, outcome, reason);
        log(summary);
        reply(res, 200, review);
        if (large) collectGarbage();
      },
      (err: Error) => {
        count(res, "error", "bad-request");
        log(`bad request: ${err.message}`);
        reply(res, 400, `${err.message}\n`);
      },
    );
  };

  const transport = await transportFor(
    pair,
    {
      max: CONNECTIONS_MAX,
      perPeer: CONNECTIONS_PER_PEER,
      idleMs: IDLE_MS,
      requestMs: REQUEST_MS,
      handshakes: CONNECTIONS_MAX,
      handshakesPerPeer: HANDSHAKES_PER_PEER,
    },
    handle,
  );

  // cert-manager renews the files in place: served from the next connection
  // on. Watched in their folders (a mounted Secret changes by a symlink swap
  // there), and looked at every CERT_CHECK_MS in case a change brings no event.
  // The stamp is the hash of the very bytes loaded: hashing the files apart
  // from reading them let a write in between count one renewal twice (CI saw it).
  let stamp = stampOf(pair);
  let reloading = Promise.resolve();
  let failedStamp = "";
  // One look again at a time: each failure, event and check would otherwise start a chain of its own.
  let retry: ReturnType<typeof setTimeout> | undefined;
  const retrySoon = (): void => {
    if (retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      recheck();
    }, RELOAD_RETRY_MS);
    retry.unref();
  };
  const reload = async (): Promise<void> => {
    let now = "";
    let read: { cert: Buffer; key: Buffer } | undefined;
    try {
      read = { cert: fs.readFileSync(options.cert), key: fs.readFileSync(options.key) };
      now = stampOf(read);
    } catch {
      // A file swapped out this instant: looked at again in a second.
      retrySoon();
      return;
    }
    if (read === undefined || now === stamp || now === failedStamp) return;
    try {
      // A pair that does not match (one file renewed, the other not yet) throws here.
      tls.createSecureContext(read);
      transport.setSecureContext(read);
      stamp = now;
      metrics.certificate("loaded");
      log("certificate reloaded");
    } catch (err) {
      // Often one file of the pair is in and the other not yet: looked at again
      // in a second (its own event may not come), and this pair not retried.
      failedStamp = now;
      metrics.certificate("refused");
      retrySoon();
      log(`certificate changed but could not be loaded, keeping the old one: ${(err as Error).message}`);
    }
  };
  // One reload at a time: a renewal writes two files, and each brings events.
  const recheck = (): void => {
    reloading = reloading.then(reload);
  };
  const polling = setInterval(recheck, CERT_CHECK_MS);
  polling.unref();
  const watchers = [...new Set([options.cert, options.key].map((f) => builtin("node:path").dirname(f)))].flatMap(
    (folder) => {
      try {
        const watcher = fs.watch(folder, recheck);
        watcher.on("error", () => {});
        watcher.unref();
        return [watcher];
      } catch {
        return [];
      }
    },
  );
  const listening = await transport.listen(options.port);
  if (listening !== undefined) {
    io.stderr(`iqqq webhook: error: cannot listen on port ${options.port}: ${listening.message}\n`);
    return EXIT.CONFIG;
  }
  const { port } = transport;
  let metricsServer: { port: number; close(): void } | undefined;
  if (options.metricsPort !== undefined) {
    const served = await metrics.serve(options.metricsPort);
    if (served instanceof Error) {
      io.stderr(`iqqq webhook: error: cannot listen on metrics port ${options.metricsPort}: ${served.message}\n`);
      transport.stopListening();
      return EXIT.CONFIG;
    }
    metricsServer = served;
    log(`metrics on port ${served.port} (plain HTTP, GET /metrics)`);
  }
  log(
    `serving on port ${port}, injecting ${image} into pods labelled ${INJECT_LABEL} and those of namespaces labelled ${INJECT_LABEL}=${NAMESPACE_ENABLED}`,
  );
  let signalled: () => void = () => {};
  const second = new Promise<void>((resolve) => {
    signalled = resolve;
  });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (name: NodeJS.Signals) => () => {
      if (draining) signalled();
      else resolve(name);
    };
    process.on("SIGTERM", on("SIGTERM"));
    process.on("SIGINT", on("SIGINT"));
  });
  draining = true;
  log(`${signal}: /readyz says 503; answering reviews for ${options.drainMs / 1000} s more`);
  await Promise.race([new Promise((resolve) => setTimeout(resolve, options.drainMs)), second]);
  clearInterval(polling);
  clearTimeout(retry);
  for (const watcher of watchers) watcher.close();
  await reloading;
  log("no longer taking connections; finishing the reviews in flight");
  transport.stopListening();
  metricsServer?.close();
  const timeUp = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), FINISH_MS).unref());
  if ((await Promise.race([transport.close(), timeUp])) === "late") {
    log(`requests still in flight after ${FINISH_MS / 1000} s: closing them`);
    transport.destroyAll();
  }
  log("stopped");
  return EXIT.OK;
}

/** A review's body as it arrives: kept, or (once scan() is called) only streamed past the uid scanner. */
class Body {
  #chunks: Buffer[] = [];
  #scanner: UidScanner | undefined;
  readonly ended: Promise<void>;

  constructor(
    req: Request,
    readonly length: number,
  ) {
    req.on("data", (chunk: Buffer) => {
      if (this.#scanner !== undefined) this.#scanner.feed(chunk);
      else this.#chunks.push(chunk);
    });
    this.ended = new Promise((resolve) => req.once("end", resolve));
  }

  /** From now on the body is only scanned; what was kept so far is scanned and dropped. */
  scan(): UidScanner {
    const scanner = new UidScanner();
    for (const chunk of this.#chunks) scanner.feed(chunk);
    this.#chunks = [];
    this.#scanner = scanner;
    return scanner;
  }

  /** The whole body, once ended; not kept here after. */
  take(): Buffer {
    const bytes = Buffer.concat(this.#chunks);
    this.#chunks = [];
    return bytes;
  }
}

interface Turn {
  readonly work: () => unknown;
  /** What a throw in `work` is told: one review's failure ends nothing else. */
  readonly failed: (err: Error) => void;
}

/** Work waiting for its turn, oldest first. */
const turns: Turn[] = [];
let turning = false;

/**
 * Runs `work` in an event-loop turn of its own, after the work queued before it.
 * Bun's TLS layer does a few handshake steps per turn, newest first: when one
 * turn answered every review whose body had come, the oldest handshakes waited
 * seconds under load (a Bun.listen server spending 0.5 ms on each review, 64 at
 * once without keep-alive: 62 of 9,038 reviews over 1 s, the slowest 8 s; one
 * review a turn: none over 1 s, the slowest 111 ms; measured here). Node does
 * its handshakes in order either way: there the work runs at once, as before.
 */
function inTurn(work: () => unknown, failed: (err: Error) => void): void {
  if (process.versions.bun === undefined) {
    run({ work, failed });
    return;
  }
  turns.push({ work, failed });
  if (turning) return;
  turning = true;
  setImmediate(nextTurn);
}

function nextTurn(): void {
  const turn = turns.shift();
  try {
    if (turn !== undefined) run(turn);
  } finally {
    if (turns.length > 0) setImmediate(nextTurn);
    else turning = false;
  }
}

function run(turn: Turn): void {
  try {
    turn.work();
  } catch (err) {
    turn.failed(err as Error);
  }
}

/** The registry host an image reference names; undefined when it cannot be read (the look-up says why). */
function registryOf(ref: string): string | undefined {
  try {
    return parseReference(ref).registry;
  } catch {
    return undefined;
  }
}

function reply(res: Answer, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
  res.end(text);
}

/** What the pair holds (not when it changed: a file's time moves in steps of milliseconds, and two writes can share one). */
function stampOf(pair: { cert: Buffer; key: Buffer }): string {
  return builtin("node:crypto").createHash("sha256").update(pair.cert).update("\0").update(pair.key).digest("hex");
}

/**
 * The path a request target asks for: its origin-form (`/inject?timeout=10s`,
 * what the API server sends) without the query, or the path of an
 * absolute-form one (`https://host/inject`), which RFC 9112 (3.2.2) has a
 * server accept too: the text after the authority, as it stands (no
 * dot-segment taken away, so that both forms route alike).
 */
export function pathOf(target: string): string | undefined {
  const path = /^https?:\/\//i.test(target) ? target.replace(/^https?:\/\/[^/?#]*/i, "") || "/" : target;
  return path.split("?")[0];
}
