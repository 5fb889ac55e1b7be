// iqqq webhook answers in the order reviews come, under load as the API server
// makes it (issue 22): 64 reviews at once from a Go client (bench/webhook-load,
// Go as the API server's own client is), with and without keep-alive. Bun's own
// TLS servers queue handshakes LIFO under load (src/webhook/listener.ts): there
// an early review waited for the whole run, every later one overtaking it.
// Counted, not timed: the client reports the most reviews begun after one and
// answered before it.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { collect, ROOT } from "../support/cli.js";
import { buildLoadClient, LOAD_CLIENT as CLIENT } from "../support/load-client.js";
import { admissionReview, startWebhook, type Webhook } from "../support/webhook.js";

const CONCURRENCY = 64;
const REVIEWS = 3000;
/**
 * At most this many reviews may overtake one: those in flight with it, and
 * again as many for the order the runtime happens to serve ready sockets in.
 * Starved, one is overtaken by nearly all REVIEWS.
 */
const OVERTAKEN = 10 * CONCURRENCY;

const go = spawnSync("go", ["version"]).status === 0;

describe("iqqq webhook under 64 reviews at once", {
  skip: !go && "go is not installed: apt-get install golang-go",
}, () => {
  let webhook: Webhook;
  let body: string;
  let ca: string;
  before(async () => {
    buildLoadClient();
    webhook = await startWebhook();
    body = `${ROOT}build/webhook-load/review.json`;
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "jobs", labels: { "iqqq.io/inject": "true" } },
      spec: { restartPolicy: "Never", containers: [{ name: "job", image: "busybox", command: ["true"] }] },
    };
    writeFileSync(body, JSON.stringify(admissionReview(pod, "load")));
    ca = `${webhook.tls.cert}.ca.pem`;
    writeFileSync(ca, webhook.tls.ca);
  });
  after(async () => {
    await webhook?.stop();
  });

  for (const keepAlive of [false, true])
    test(`${keepAlive ? "with" : "without"} keep-alive: every review answered, none overtaken by the run`, async () => {
      const client = spawn(
        CLIENT,
        [
          `-url=https://127.0.0.1:${webhook.port}/inject`,
          `-ca=${ca}`,
          `-body=${body}`,
          `-c=${CONCURRENCY}`,
          `-n=${REVIEWS}`,
          // Only a bound: the run ends after REVIEWS.
          "-d=300s",
          `-keepalive=${keepAlive}`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const run = await collect(client, { timeoutMs: 330_000 });
      assert.equal(run.status, 0, run.stderr.toString());
      const result = JSON.parse(run.stdout.toString()) as { answered: number; failed: number; overtaken: number };
      assert.equal(result.failed, 0, run.stderr.toString());
      assert.equal(result.answered, REVIEWS);
      assert.ok(result.overtaken <= OVERTAKEN, `one review was overtaken by ${result.overtaken} later ones`);
    });
});
