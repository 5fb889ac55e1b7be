// iqqq webhook: a mutating admission webhook over HTTPS. POST /inject answers
// AdmissionReviews (review.ts); GET /healthz and /readyz answer 200 while it
// serves. SIGTERM or SIGINT: it stops taking connections, lets the requests in
// flight finish (at most 10 s), and exits 0. The certificate and key are read
// again when their files change (cert-manager renews them in place).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "node:https";
import type { Env } from "../config/config.js";
import { EXIT } from "../exit-status.js";
import type { Io } from "../main.js";
import { builtin } from "../runtime/builtins.js";
import { answerReview, INJECT_LABEL } from "./review.js";

export const WEBHOOK_USAGE = `Usage: iqqq webhook [--image REF] [--cert FILE] [--key FILE] [--port N]
A mutating admission webhook: injects iqqq (as iqqq inject does) into every pod
labelled ${INJECT_LABEL}=true (or =watcher) that the API server sends it.
  --image REF   the iqqq image to inject; default: $IQQQ_IMAGE
  --cert FILE   the serving certificate (PEM); default /etc/iqqq-webhook/tls.crt
  --key FILE    its private key (PEM); default /etc/iqqq-webhook/tls.key
  --port N      the HTTPS port; default 8443 (0: any free one, logged)
Endpoints: POST /inject (AdmissionReview v1, answered with a JSONPatch),
GET /healthz, GET /readyz. SIGTERM: finish the requests in flight, then exit 0.
`;

const BODY_LIMIT = 4 * 1024 * 1024;
const SHUTDOWN_GRACE_MS = 10_000;
const CERT_CHECK_MS = 30_000;
const RELOAD_RETRY_MS = 1000;
/**
 * All registry look-ups for one review (containers without a command): well
 * inside the API server's timeout (deploy/webhook.yaml: 10 s), so that a slow
 * registry gets the pod through unchanged with a warning, not a timeout.
 */
const LOOKUP_BUDGET_MS = 6000;

interface Options {
  image: string | undefined;
  cert: string;
  key: string;
  port: number;
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
  const readPair = (): { cert: Buffer; key: Buffer } => ({
    cert: fs.readFileSync(options.cert),
    key: fs.readFileSync(options.key),
  });
  let pair: { cert: Buffer; key: Buffer };
  try {
    pair = readPair();
  } catch (err) {
    io.stderr(`iqqq webhook: error: cannot read the certificate or key: ${(err as Error).message}\n`);
    return EXIT.CONFIG;
  }
  const { imageCommand } = await import("../inject/registry.js");
  const log = (line: string): void => io.stderr(`iqqq webhook: ${line}\n`);
  let draining = false;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, body: unknown): void => {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
      res.end(text);
    };
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && (path === "/healthz" || path === "/readyz")) {
      reply(draining && path === "/readyz" ? 503 : 200, draining ? "draining\n" : "ok\n");
      return;
    }
    if (path !== "/inject") return reply(404, "not found\n");
    if (req.method !== "POST") return reply(405, "POST an AdmissionReview\n");
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        reply(413, "too large\n");
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return reply(400, "not JSON\n");
      }
      const deadline = AbortSignal.timeout(LOOKUP_BUDGET_MS);
      answerReview(body, {
        image,
        imageCommand: (ref) => imageCommand(ref, { platform: "linux/amd64", env, signal: deadline }),
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
  const serve = (tls: { cert: Buffer; key: Buffer }): Server => builtin("node:https").createServer({ ...tls }, handle);
  let server: Server;
  /** Servers a renewed certificate replaced (Bun), finishing their requests. */
  const retired: Server[] = [];
  try {
    server = serve(pair);
  } catch (err) {
    io.stderr(`iqqq webhook: error: the certificate or key is not usable: ${(err as Error).message}\n`);
    return EXIT.CONFIG;
  }
  // cert-manager renews the files in place: serve the new pair from the next
  // connection on. Watched in their folders (a mounted Secret changes by a
  // symlink swap there), and looked at every CERT_CHECK_MS in case a change
  // brings no event.
  let stamp = certStamp(options);
  let reloading = Promise.resolve();
  let failedStamp = "";
  const reload = async (): Promise<void> => {
    const now = certStamp(options);
    if (now === stamp || now === failedStamp || draining) return;
    try {
      const renewed = readPair();
      // A pair that does not match (one file renewed, the other not yet) throws here, before any swap.
      builtin("node:tls").createSecureContext(renewed);
      if (typeof server.setSecureContext === "function") server.setSecureContext(renewed);
      else {
        // Bun's https server cannot change its certificate: a new server takes
        // the port over, and the old one finishes the requests it has. A
        // connection arriving in between is refused (failurePolicy Ignore lets
        // that pod through unchanged).
        const replacement = serve(renewed);
        const { port } = server.address() as { port: number };
        server.close();
        server.closeIdleConnections();
        retired.push(server);
        server = replacement;
        const failed = await listen(server, port);
        if (failed !== undefined) throw failed;
      }
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
  const listening = await listen(server, options.port);
  if (listening !== undefined) {
    io.stderr(`iqqq webhook: error: cannot listen on port ${options.port}: ${listening.message}\n`);
    return EXIT.CONFIG;
  }
  const port = (server.address() as { port: number }).port;
  log(`serving on port ${port}, injecting ${image} into pods labelled ${INJECT_LABEL}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  draining = true;
  log(`${signal}: finishing the requests in flight`);
  clearInterval(polling);
  for (const watcher of watchers) watcher.close();
  await reloading;
  const servers = [server, ...retired];
  const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  for (const s of servers) s.closeIdleConnections();
  const timeUp = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), SHUTDOWN_GRACE_MS).unref());
  if ((await Promise.race([closed, timeUp])) === "late") {
    log(`requests still in flight after ${SHUTDOWN_GRACE_MS / 1000}s: closing them`);
    for (const s of servers) s.closeAllConnections();
  }
  log("stopped");
  return EXIT.OK;
}

/** Starts listening; resolves to the error when the port cannot be had. */
function listen(server: Server, port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    server.once("error", resolve);
    server.listen(port, () => resolve(undefined));
  });
}

function certStamp(options: Options): string {
  try {
    const fs = builtin("node:fs");
    return `${fs.statSync(options.cert).mtimeMs}:${fs.statSync(options.key).mtimeMs}`;
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
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--help" || arg === "-h") return "help";
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!["--image", "--cert", "--key", "--port"].includes(flag)) return `unknown argument ${JSON.stringify(arg)}`;
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === "") return `${flag} needs a value`;
    if (flag === "--image") options.image = value;
    else if (flag === "--cert") options.cert = value;
    else if (flag === "--key") options.key = value;
    else {
      const port = Number(value);
      if (!/^\d+$/.test(value) || port > 65535)
        return `--port ${JSON.stringify(value)}: expected 1-65535 (0: any free port)`;
      options.port = port;
    }
  }
  return options;
}
