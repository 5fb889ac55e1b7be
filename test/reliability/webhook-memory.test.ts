// The webhook's memory under everything a pod's creator, an in-cluster client
// or a registry can send it: each case run against a webhook of each build
// (the Node bundle, and the host's Bun executable when built), its peak
// resident memory read from /proc (VmHWM, reset before each case) and held to
// the deploy's limit. Loopback only; bounded in count and time. The figures
// go to docs/reliability.md (npm run reliability).
//
// Each case has a webhook of its own: a runtime keeps the memory it grew, so
// a peak read after an earlier case would be that case's.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { request } from "node:https";
import { arch } from "node:os";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { CLI, ROOT } from "../support/cli.js";
import { type HostileRegistry, hostileRegistry } from "../support/hostile-registry.js";
import { admissionReview, deployMemoryLimit, startWebhook, type Webhook } from "../support/webhook.js";
import { record } from "./figures.js";

const LIMIT = deployMemoryLimit();
const MiB = 1024 * 1024;

const EXECUTABLE = `${ROOT}dist/bin/iqqq-linux-${arch()}`;
const BUILDS: [string, string][] = [
  ["bundle", CLI.endsWith(".mjs") ? CLI : `${ROOT}dist/iqqq.mjs`],
  ...(existsSync(EXECUTABLE) ? [["executable", EXECUTABLE] as [string, string]] : []),
];

/** POSTs `body` (bytes, or a generator of chunks with no length) and returns the status. */
function post(webhook: Webhook, body: Buffer | (() => AsyncGenerator<Buffer>)): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: webhook.port,
        method: "POST",
        path: "/inject",
        ca: webhook.tls.ca,
        agent: false,
        headers: {
          "content-type": "application/json",
          ...(Buffer.isBuffer(body) ? { "content-length": body.length } : {}),
        },
      },
      (res) => {
        res.resume();
        // An answer cut short (the webhook closes a connection it will not read) ends too.
        res.on("close", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", () => resolve(0));
    if (Buffer.isBuffer(body)) req.end(body);
    else
      (async () => {
        for await (const chunk of body()) if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
        req.end();
      })().catch(() => {});
  });
}

/** A review of a labelled pod whose annotation makes the body `bytes` long. */
function bigReview(bytes: number, uid: string): Buffer {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "big", labels: { "iqqq.io/inject": "true" }, annotations: { pad: "" } },
    spec: { restartPolicy: "Never", containers: [{ name: "job", image: "busybox", command: ["true"] }] },
  };
  const base = JSON.stringify(admissionReview(pod, uid)).length;
  pod.metadata.annotations.pad = "x".repeat(bytes - base);
  return Buffer.from(JSON.stringify(admissionReview(pod, uid)));
}

for (const [build, cli] of BUILDS)
  describe(`the webhook's memory (${build})`, () => {
    let webhook: Webhook;
    let registry: HostileRegistry;
    const peaks: Record<string, number> = {};
    before(async () => {
      registry = await hostileRegistry();
    });
    after(async () => {
      await registry.close();
      record(`webhook-memory-${build}`, peaks);
      record("webhook-memory-limit", { mib: LIMIT / MiB });
    });

    /** Runs `load` against a webhook of its own, and holds its peak to the deploy's limit. */
    async function measure(name: string, load: () => Promise<void>): Promise<void> {
      webhook = await startWebhook({ cli, args: ["--allow-registry", "127.0.0.1,127.0.0.2"] });
      try {
        await load();
        const peak = await webhook.peakRss();
        peaks[name] = Math.round((peak / MiB) * 10) / 10;
        assert.ok(peak < LIMIT, `${name}: peak RSS ${(peak / MiB).toFixed(1)} MiB`);
        assert.equal(webhook.child.exitCode, null, "the webhook died");
      } finally {
        await webhook.stop();
      }
    }

    test("idle, then one ordinary review", async () => {
      await measure("one review", async () => {
        const pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "one", labels: { "iqqq.io/inject": "true" } },
          spec: { containers: [{ name: "job", image: "busybox", command: ["true"] }] },
        };
        assert.equal((await webhook.review(pod)).patchType, "JSONPatch");
      });
    });

    test("a registry's gzip bomb and endless config blob, 10 pods each at once", async () => {
      for (const kind of ["bomb", "endless"])
        await measure(kind === "bomb" ? "gzip bomb x10" : "endless blob x10", async () => {
          const pods = Array.from({ length: 10 }, (_, i) => ({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: `p${i}`, labels: { "iqqq.io/inject": "true" } },
            spec: { containers: [{ name: "job", image: `${registry.address}/${kind}/j${i}:1` }] },
          }));
          const answers = await Promise.all(pods.map((p, i) => webhook.review(p, `${kind}-${i}`)));
          for (const a of answers) assert.match(a.warnings?.[0] ?? "", /not injected/);
        });
    });

    test("60 reviews of 4 MiB at once (over the API server's own limit: refused unread)", async () => {
      await measure("60 x 4 MiB", async () => {
        const body = bigReview(4 * MiB, "big");
        const statuses = await Promise.all(Array.from({ length: 60 }, () => post(webhook, body)));
        for (const s of statuses) assert.ok(s === 413 || s === 0, `status ${s}`);
        assert.ok(statuses.includes(413));
      });
    });

    test("60 reviews of 2.9 MiB of nested arrays at once (answered unparsed)", async () => {
      await measure("60 x 2.9 MiB of [", async () => {
        const prefix = '{"request":{"uid":"deep","object":';
        const body = Buffer.concat([Buffer.from(prefix), Buffer.alloc(2.9 * MiB - prefix.length, "[")]);
        const statuses = await Promise.all(Array.from({ length: 60 }, () => post(webhook, body)));
        assert.deepEqual([...new Set(statuses)], [200]);
      });
    });

    test("60 labelled pods of 2.9 MiB at once (read within the memory budget, the rest answered unread)", async () => {
      await measure("60 x 2.9 MiB", async () => {
        const body = bigReview(2.9 * MiB, "big");
        const statuses = await Promise.all(Array.from({ length: 60 }, () => post(webhook, body)));
        assert.deepEqual([...new Set(statuses)], [200]);
      });
    });

    test("bodies without a length that never end, 8 at once: refused unread", async () => {
      await measure("endless bodies x8", async () => {
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        const endless = async function* () {
          yield Buffer.from('{"request":{"uid":"u","object":"');
          for (let i = 0; i < 400; i++) yield chunk;
        };
        const statuses = await Promise.all(Array.from({ length: 8 }, () => post(webhook, endless)));
        for (const s of statuses) assert.equal(s, 0, `status ${s}`);
      });
    });

    // Bun's HTTP server keeps every pipelined request it has parsed until answered: a connection
    // with more than 128 in flight is closed (connections.ts IN_FLIGHT).
    test("8 clients that pipeline requests for 3 s and never read an answer", async () => {
      await measure("pipelined, never read x8", async () => {
        const get = Buffer.from("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000));
        await Promise.all(
          Array.from(
            { length: 8 },
            () =>
              new Promise<void>((resolve) => {
                const socket = connect({
                  host: "127.0.0.1",
                  port: webhook.port,
                  ca: webhook.tls.ca,
                  checkServerIdentity: () => undefined,
                });
                socket.pause();
                const stop = Date.now() + 3000;
                const pump = (): void => {
                  while (Date.now() < stop && socket.write(get));
                  if (Date.now() < stop) socket.once("drain", pump);
                };
                socket.on("secureConnect", pump);
                socket.on("error", () => resolve());
                setTimeout(() => {
                  socket.destroy();
                  resolve();
                }, 3500);
              }),
          ),
        );
      });
    });

    test("a pod with 5000 containers", async () => {
      await measure("5000 containers", async () => {
        const pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "wide", labels: { "iqqq.io/inject": "true" } },
          spec: {
            containers: Array.from({ length: 5000 }, (_, i) => ({
              name: `c${i}`,
              image: `${registry.address}/good/j${i}:1`,
            })),
          },
        };
        assert.equal((await webhook.review(pod)).allowed, true);
      });
    });
  });
