// iqqq webhook: a mutating admission webhook over HTTPS. POST /inject answers
// AdmissionReviews (review.ts); GET /healthz and /readyz answer 200 while it
// serves.
//
// It never makes the API server wait past its timeout and never grows without
// bound, whatever is sent to it (the threat model: docs/inject.md, Security):
// - a review's body is read only while the bodies in memory stay within
//   REVIEW_BYTES; the others wait, unread, at most QUEUE_WAIT_MS, QUEUE_MAX of
//   them; a review that cannot be read in time, or is larger than BODY_LIMIT, is
//   answered allowed: true with a warning, its uid found as the body streams
//   past (uid.ts) without keeping it;
// - at most CONNECTIONS_MAX connections; one idle for IDLE_MS is closed;
// - registry look-ups: shared and fair (registry/lookups.ts), within one
//   review's LOOKUP_BUDGET_MS, at most LOOKUPS_PER_REVIEW images per pod, their
//   answers within REGISTRY_BYTES at once, at the addresses the policy allows.
// SIGTERM or SIGINT: /readyz answers 503 while reviews are still served for
// the drain period (the API server stops sending them once the endpoint is
// gone), then the listener closes, the reviews in flight finish (at most
// FINISH_MS), and it exits 0. A second signal ends the drain at once.
// The certificate and key are read again when their files change (cert-manager
// renews them in place); each connection's TLS is set up here with the current
// pair, so a renewal swaps nothing under an open connection (Bun's https server
// cannot change its certificate at all).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import type { Env } from "../config/config.js";
import { EXIT } from "../exit-status.js";
import type { Io } from "../main.js";
import { ImageLookups } from "../registry/lookups.js";
import { Budget, badAllowEntry } from "../registry/network.js";
import { builtin } from "../runtime/builtins.js";
import { answerReview, INJECT_LABEL, shedReview } from "./review.js";
import { UidScanner } from "./uid.js";

export const WEBHOOK_USAGE = `Usage: iqqq webhook [--image REF] [--cert FILE] [--key FILE] [--port N]
                    [--platform OS/ARCH] [--allow-registry LIST] [--drain SECONDS]
A mutating admission webhook: injects iqqq (as iqqq inject does) into every pod
labelled ${INJECT_LABEL}=true (or =watcher) that the API server sends it.
  --image REF       the iqqq image to inject; default: $IQQQ_IMAGE
  --cert FILE       the serving certificate (PEM); default /etc/iqqq-webhook/tls.crt
  --key FILE        its private key (PEM); default /etc/iqqq-webhook/tls.key
  --port N          the HTTPS port; default 8443 (0: any free one, logged)
  --platform OS/ARCH  the platform whose image config is read when a container
                    has no command; default linux/amd64
  --allow-registry LIST  registries (HOST or HOST:PORT) and address ranges (CIDR),
                    comma-separated, that may be contacted at a loopback, private
                    or link-local address; others only at public addresses
  --drain SECONDS   after SIGTERM, go on answering reviews this long while
                    /readyz says 503; default 10
Endpoints: POST /inject (AdmissionReview v1, answered with a JSONPatch),
GET /healthz, GET /readyz.
`;

/**
 * The largest review read: the API server takes requests of at most 3 MiB (its
 * --max-request-body-bytes default) and etcd stores objects of at most 1.5 MiB;
 * a CREATE review carries the pod once. Larger: answered unread.
 */
export const BODY_LIMIT = 3 * 1024 * 1024;
/** A body larger than this is not even scanned for its uid: 413, and the connection closed. */
const SCAN_LIMIT = 16 * 1024 * 1024;
/** Review bodies in memory at once (a pod of 10 KiB is typical: some 600 reviews). */
const REVIEW_BYTES = 6 * 1024 * 1024;
/** Reviews waiting, unread, for room; and how long each may wait. */
const QUEUE_MAX = 256;
const QUEUE_WAIT_MS = 2000;
const CONNECTIONS_MAX = 256;
const IDLE_MS = 30_000;
/** A body must arrive within this. */
const BODY_MS = 10_000;
const FINISH_MS = 10_000;
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
/** Distinct images without a command looked up for one pod. */
export const LOOKUPS_PER_REVIEW = 10;
/** Registry answers being read at once, across all reviews. */
const REGISTRY_BYTES = 16 * 1024 * 1024;

interface Options {
  image: string | undefined;
  cert: string;
  key: string;
  port: number;
  platform: string;
  allow: string[];
  drainMs: number;
}

export async function webhookCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const options = parseOptions(args, env);
  if (options === "help") {
    io.stdout(WEBHOOK_USAGE);
    return EXIT.OK;
  }
  if (typeof options === "string") {
    io.stderr(`iqqq webhook: error: ${options}\n${WEBHOOK_USAGE}`);
    return EXIT.USAGE;
  }
  const { image } = options;
  if (image === undefined) {
    io.stderr("iqqq webhook: error: which iqqq image? Give --image REF or set IQQQ_IMAGE\n");
    return EXIT.USAGE;
  }
  const fs = builtin("node:fs");
  const tls = builtin("node:tls");
  const readContext = (): SecureContext =>
    tls.createSecureContext({ cert: fs.readFileSync(options.cert), key: fs.readFileSync(options.key) });
  let context: SecureContext;
  try {
    context = readContext();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(
      e.code !== undefined && e.syscall !== undefined
        ? `iqqq webhook: error: cannot read the certificate or key: ${e.message}\n`
        : `iqqq webhook: error: the certificate or key is not usable: ${e.message}\n`,
    );
    return EXIT.CONFIG;
  }
  const lookups = new ImageLookups({
    platform: options.platform,
    env,
    policy: { anyAddress: false, allowed: options.allow, resolver: "dns" },
    budget: new Budget(REGISTRY_BYTES),
    deadlineMs: LOOKUP_DEADLINE_MS,
    perHost: LOOKUPS_PER_HOST,
  });
  const log = (line: string): void => io.stderr(`iqqq webhook: ${line}\n`);
  let draining = false;
  const gate = new Gate(REVIEW_BYTES, QUEUE_MAX);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const reply = (status: number, body: unknown): void => {
      if (res.headersSent || res.destroyed) return;
      const text = typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
      res.end(text);
    };
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      req.resume();
      reply(draining && path === "/readyz" ? 503 : 200, draining ? "draining\n" : "ok\n");
      return;
    }
    if (path !== "/inject" || req.method !== "POST") {
      req.resume();
      reply(path !== "/inject" ? 404 : 405, path !== "/inject" ? "not found\n" : "POST an AdmissionReview\n");
      return;
    }
    const length = Number(req.headers["content-length"] ?? Number.NaN);
    const timer = setTimeout(() => req.destroy(), BODY_MS);
    res.on("close", () => clearTimeout(timer));
    if (length > BODY_LIMIT) {
      shed(req, reply, `the review is larger than ${BODY_LIMIT} bytes`, log);
      return;
    }
    const size = Number.isFinite(length) ? length : BODY_LIMIT;
    req.pause();
    gate.enter(size, QUEUE_WAIT_MS).then((entered) => {
      if (!entered) {
        req.resume();
        return shed(req, reply, "the webhook is busy (too many reviews at once)", log);
      }
      res.on("close", () => gate.leave(size));
      read(req, size, reply, log);
    });
  };

  /** Reads a review whose room in memory is reserved, and answers it. */
  const read = (
    req: IncomingMessage,
    room: number,
    reply: (status: number, body: unknown) => void,
    log: (line: string) => void,
  ): void => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const scanner = new UidScanner();
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > room || over) {
        // A body without a length, or longer than it said: not kept past its room.
        if (!over) for (const c of chunks.splice(0)) scanner.feed(c);
        over = true;
        scanner.feed(chunk);
        if (size > SCAN_LIMIT) {
          reply(413, "too large\n");
          req.destroy();
        }
      } else chunks.push(chunk);
    });
    req.resume();
    req.on("end", () => {
      if (over) return answerShed(scanner.uid, reply, `the review is larger than ${room} bytes`, log);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return reply(400, "not JSON\n");
      }
      chunks.length = 0;
      const deadline = AbortSignal.timeout(LOOKUP_BUDGET_MS);
      const asked = new Set<string>();
      answerReview(body, {
        image,
        imageCommand: (ref) => {
          asked.add(ref);
          if (asked.size > LOOKUPS_PER_REVIEW)
            return Promise.reject(
              new Error(`the pod has more than ${LOOKUPS_PER_REVIEW} images without a command to look up`),
            );
          return lookups.lookup(ref, deadline);
        },
      }).then(
        ({ review, summary }) => {
          log(summary);
          reply(200, review);
        },
        (err: Error) => {
          log(`bad request: ${err.message}`);
          reply(400, `${err.message}\n`);
        },
      );
    });
  };

  let connections = 0;
  const http = builtin("node:http").createServer(handle);
  const tcp = builtin("node:net").createServer((raw: Socket) => {
    raw.on("error", () => {});
    if (connections >= CONNECTIONS_MAX) {
      raw.destroy();
      return;
    }
    connections++;
    raw.once("close", () => connections--);
    raw.setTimeout(IDLE_MS, () => raw.destroy());
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    socket.on("error", () => raw.destroy());
    socket.once("close", () => raw.destroy());
    http.emit("connection", socket);
  });

  // cert-manager renews the files in place: served from the next connection
  // on. Watched in their folders (a mounted Secret changes by a symlink swap
  // there), and looked at every CERT_CHECK_MS in case a change brings no event.
  let stamp = certStamp(options);
  let reloading = Promise.resolve();
  let failedStamp = "";
  const reload = async (): Promise<void> => {
    const now = certStamp(options);
    if (now === stamp || now === failedStamp) return;
    try {
      // A pair that does not match (one file renewed, the other not yet) throws here.
      context = readContext();
      stamp = now;
      log("certificate reloaded");
    } catch (err) {
      // Often one file of the pair is in and the other not yet: looked at again
      // in a second (its own event may not come), and this pair not retried.
      failedStamp = now;
      setTimeout(recheck, RELOAD_RETRY_MS).unref();
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
  const listening = await new Promise<Error | undefined>((resolve) => {
    tcp.once("error", resolve);
    tcp.listen(options.port, () => resolve(undefined));
  });
  if (listening !== undefined) {
    io.stderr(`iqqq webhook: error: cannot listen on port ${options.port}: ${listening.message}\n`);
    return EXIT.CONFIG;
  }
  const port = (tcp.address() as { port: number }).port;
  log(`serving on port ${port}, injecting ${image} into pods labelled ${INJECT_LABEL}`);
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
  for (const watcher of watchers) watcher.close();
  await reloading;
  log("no longer taking connections; finishing the reviews in flight");
  const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
  http.closeIdleConnections();
  const stopping = setInterval(() => http.closeIdleConnections(), 100);
  const timeUp = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), FINISH_MS).unref());
  if ((await Promise.race([closed, timeUp])) === "late") {
    log(`requests still in flight after ${FINISH_MS / 1000} s: closing them`);
    http.closeAllConnections();
  }
  clearInterval(stopping);
  log("stopped");
  return EXIT.OK;
}

/** Answers a review without keeping its body: its uid is found as it streams past. */
function shed(
  req: IncomingMessage,
  reply: (status: number, body: unknown) => void,
  why: string,
  log: (line: string) => void,
): void {
  const scanner = new UidScanner();
  let size = 0;
  req.on("data", (chunk: Buffer) => {
    size += chunk.length;
    scanner.feed(chunk);
    if (size > SCAN_LIMIT) {
      reply(413, "too large\n");
      req.destroy();
    }
  });
  req.on("end", () => answerShed(scanner.uid, reply, why, log));
}

function answerShed(
  uid: string | undefined,
  reply: (status: number, body: unknown) => void,
  why: string,
  log: (line: string) => void,
): void {
  if (uid === undefined) {
    reply(400, "not an AdmissionReview: no request.uid\n");
    return;
  }
  const { review, summary } = shedReview(uid, why);
  log(summary);
  reply(200, review);
}

/** Room for review bodies in memory: a review waits (unread) for room, in order, or gives up. */
interface Waiting {
  readonly bytes: number;
  readonly go: (entered: boolean) => void;
}

class Gate {
  #used = 0;
  readonly #waiting: Waiting[] = [];

  constructor(
    readonly bytes: number,
    readonly queueMax: number,
  ) {}

  enter(bytes: number, waitMs: number): Promise<boolean> {
    if (this.#waiting.length === 0 && this.#used + bytes <= this.bytes) {
      this.#used += bytes;
      return Promise.resolve(true);
    }
    if (this.#waiting.length >= this.queueMax) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry: Waiting = {
        bytes,
        go: (entered: boolean) => {
          clearTimeout(timer);
          resolve(entered);
        },
      };
      const timer = setTimeout(() => {
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve(false);
        this.#admit();
      }, waitMs);
      this.#waiting.push(entry);
    });
  }

  leave(bytes: number): void {
    this.#used -= bytes;
    this.#admit();
  }

  #admit(): void {
    while (this.#waiting.length > 0 && this.#used + (this.#waiting[0]?.bytes ?? 0) <= this.bytes) {
      const next = this.#waiting.shift() as Waiting;
      this.#used += next.bytes;
      next.go(true);
    }
  }
}

/** What the pair holds (not when it changed: a file's time moves in steps of milliseconds, and two writes can share one). */
function certStamp(options: Options): string {
  try {
    const fs = builtin("node:fs");
    return builtin("node:crypto")
      .createHash("sha256")
      .update(fs.readFileSync(options.cert))
      .update("\0")
      .update(fs.readFileSync(options.key))
      .digest("hex");
  } catch {
    return "";
  }
}

function parseOptions(args: readonly string[], env: Env): Options | string {
  const options: Options = {
    image: env.IQQQ_IMAGE || undefined,
    cert: "/etc/iqqq-webhook/tls.crt",
    key: "/etc/iqqq-webhook/tls.key",
    port: 8443,
    platform: "linux/amd64",
    allow: [],
    drainMs: 10_000,
  };
  const flags = ["--image", "--cert", "--key", "--port", "--platform", "--allow-registry", "--drain"];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--help" || arg === "-h") return "help";
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!flags.includes(flag)) return `unknown argument ${JSON.stringify(arg)}`;
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === "") return `${flag} needs a value`;
    if (flag === "--image") options.image = value;
    else if (flag === "--cert") options.cert = value;
    else if (flag === "--key") options.key = value;
    else if (flag === "--platform") {
      if (!/^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/.test(value))
        return `--platform ${JSON.stringify(value)}: expected OS/ARCH or OS/ARCH/VARIANT, such as linux/amd64`;
      options.platform = value;
    } else if (flag === "--allow-registry") {
      const entries = value
        .split(",")
        .map((e) => e.trim())
        .filter((e) => e !== "");
      const bad = badAllowEntry(entries);
      if (bad !== undefined)
        return `--allow-registry: ${JSON.stringify(bad)} is neither a registry (HOST or HOST:PORT) nor an address range (CIDR)`;
      options.allow.push(...entries);
    } else if (flag === "--drain") {
      if (!/^\d+(?:\.\d+)?$/.test(value) || Number(value) > 600)
        return `--drain ${JSON.stringify(value)}: expected seconds, 0 to 600`;
      options.drainMs = Number(value) * 1000;
    } else {
      const port = Number(value);
      if (!/^\d+$/.test(value) || port > 65535)
        return `--port ${JSON.stringify(value)}: expected 1-65535 (0: any free port)`;
      options.port = port;
    }
  }
  return options;
}
