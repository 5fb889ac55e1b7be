// GET /metrics on iqqq webhook's --metrics-port: after a mix of reviews (each
// outcome and several reasons, a registry look-up that finds an image and one
// that fails, a certificate renewal), the Prometheus text is parsed and every
// count must be exactly what was sent, every other series 0. The label sets
// are the fixed ones (no pod, namespace or image ever appears).

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { type FakeRegistry, fakeRegistry } from "../support/fake-registry.js";
import { parseMetrics, scrape } from "../support/metrics.js";
import type { Obj } from "../support/read-back.js";
import { makeTls } from "../support/tls.js";
import { admissionReview, startWebhook, type Webhook } from "../support/webhook.js";

function pod(labels: Record<string, string>, spec: Obj = {}, image = "busybox", command: string[] | null = ["true"]) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels },
    spec: {
      restartPolicy: "Never",
      containers: [{ name: "job", image, ...(command !== null ? { command } : {}) }],
      ...spec,
    },
  };
}

describe("iqqq webhook --metrics-port", () => {
  let webhook: Webhook;
  let registry: FakeRegistry;
  let metricsPort = 0;

  before(async () => {
    registry = await fakeRegistry();
    webhook = await startWebhook({ args: ["--metrics-port", "0", "--allow-registry", "127.0.0.1"] });
    metricsPort = Number(/metrics on port (\d+)/.exec(webhook.log.text())?.[1]);
  });
  after(async () => {
    await webhook?.stop();
    registry?.server.close();
  });

  test("counts match the reviews sent, by outcome and reason; look-ups; certificate reloads", async () => {
    const at = `127.0.0.1:${registry.port}/team/job`;
    const send = async (path: string, body: unknown, status = 200): Promise<void> => {
      const answer = await webhook.call("POST", path, body);
      assert.equal(answer.status, status, answer.text);
    };
    // Every series there is, before any traffic: the same set must be there after it.
    const initial = parseMetrics((await scrape(metricsPort)).text);
    const yes = { "iqqq.io/inject": "true" };
    await send("/inject", admissionReview(pod(yes)));
    await send("/inject/namespace", admissionReview(pod({})));
    await send("/inject", admissionReview(pod(yes, {}, `${at}:1`, null)));
    await send("/inject", admissionReview(pod(yes, {}, `${at}:missing`, null)));
    await send("/inject", admissionReview(pod({})));
    await send("/inject", admissionReview(pod({ "iqqq.io/inject": "nope" })));
    await send("/inject/namespace", admissionReview(pod({ "iqqq.io/inject": "false" })));
    await send("/inject", admissionReview(pod(yes, { hostNetwork: true })));
    await send("/inject", admissionReview(pod(yes, { os: { name: "windows" } })));
    await send("/inject", admissionReview({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } }));
    await send("/inject", "{not json", 400);
    await send("/inject", {}, 400);
    // Not reviews: not counted.
    assert.equal((await webhook.call("GET", "/healthz")).status, 200);
    assert.equal((await webhook.call("POST", "/elsewhere", {})).status, 404);
    // A renewal, as cert-manager writes it: the key, then the certificate.
    const renewed = await makeTls();
    await writeFile(webhook.tls.key, await readFile(renewed.key));
    await writeFile(webhook.tls.cert, await readFile(renewed.cert));
    await webhook.log.until("certificate reloaded", 20_000);

    const answer = await scrape(metricsPort);
    assert.equal(answer.status, 200);
    assert.match(answer.type, /^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(answer.text);
    const reviews = [...samples].filter(([k]) => k.startsWith("iqqq_webhook_reviews_total{"));
    const want: Record<string, number> = {
      'outcome="injected",reason=""': 3,
      // The unlabelled pod, and "nope" (a value iqqq does not read: the same, outside an opted-in namespace).
      'outcome="skipped",reason="not-opted-in"': 2,
      'outcome="skipped",reason="opted-out"': 1,
      'outcome="skipped",reason="not-a-pod"': 1,
      'outcome="not-injected",reason="host-network"': 1,
      'outcome="not-injected",reason="not-linux"': 1,
      'outcome="not-injected",reason="cannot-inject"': 1,
      'outcome="error",reason="bad-request"': 2,
    };
    for (const [key, value] of reviews) {
      const labels = key.slice("iqqq_webhook_reviews_total{".length, -1);
      assert.equal(value, want[labels] ?? 0, labels);
    }
    for (const labels of Object.keys(want))
      assert.ok(samples.has(`iqqq_webhook_reviews_total{${labels}}`), `missing series ${labels}`);
    const total = Object.values(want).reduce((a, b) => a + b, 0);
    assert.equal(samples.get("iqqq_webhook_review_duration_seconds_count"), total);
    assert.equal(samples.get('iqqq_webhook_review_duration_seconds_bucket{le="+Inf"}'), total);
    assert.equal(samples.get('iqqq_webhook_registry_lookups_total{result="found"}'), 1);
    assert.equal(samples.get('iqqq_webhook_registry_lookups_total{result="failed"}'), 1);
    assert.equal(samples.get('iqqq_webhook_registry_lookups_total{result="timed-out"}'), 0);
    assert.equal(samples.get("iqqq_webhook_registry_lookup_duration_seconds_count"), 2);
    const refused = (webhook.log.text().match(/certificate changed but could not be loaded/g) ?? []).length;
    assert.equal(samples.get('iqqq_webhook_certificate_reloads_total{result="loaded"}'), 1);
    assert.equal(samples.get('iqqq_webhook_certificate_reloads_total{result="refused"}'), refused);
    assert.deepEqual([...samples.keys()].sort(), [...initial.keys()].sort(), "the same series as at the start");
    // The label sets are fixed: nothing of what was sent (pod, namespace, image, registry) shows.
    assert.doesNotMatch(answer.text, /jobs|busybox|team\/job|127\.0\.0\.1|nope/);
    assert.equal((await scrape(metricsPort, "/other")).status, 404);
  });
});
