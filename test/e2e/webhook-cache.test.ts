// The webhook's look-up cache against a real registry (Debian's
// docker-registry, its access log read): two pods of one image cost one
// manifest GET, however the image is written; /metrics says one miss and one
// hit. A digest reference is its own entry. What is cached is what was found:
// the second pod gets the same command as the first.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseMetrics, scrape } from "../support/metrics.js";
import type { Obj } from "../support/read-back.js";
import { hasRegistry, type RealRegistry, startRegistry } from "../support/real-registry.js";
import { startWebhook, type Webhook } from "../support/webhook.js";

const skip = hasRegistry ? false : "needs docker-registry (Debian's package; .ci/run installs it)";

function pod(image: string): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels: { "iqqq.io/inject": "true" } },
    spec: { restartPolicy: "Never", containers: [{ name: "job", image }] },
  };
}

describe("iqqq webhook: the registry look-up cache", { skip }, () => {
  let registry: RealRegistry;
  let webhook: Webhook;
  let metricsPort = 0;

  before(async () => {
    registry = await startRegistry();
    webhook = await startWebhook({ args: ["--metrics-port", "0", "--allow-registry", "127.0.0.1"] });
    metricsPort = Number(/metrics on port (\d+)/.exec(webhook.log.text())?.[1]);
  });
  after(async () => {
    await webhook?.stop();
    registry?.stop();
  });

  const command = async (image: string): Promise<unknown> => {
    const response = await webhook.review(pod(image));
    assert.equal(response.patchType, "JSONPatch", JSON.stringify(response));
    const ops = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString()) as Obj[];
    const containers = ops.find((o) => o.path === "/spec/containers")?.value as Obj[];
    assert.ok(containers !== undefined, "injected");
    const job = containers.find((c) => c.name === "job") as Obj;
    return { command: job.command, args: job.args };
  };
  const manifestGets = async (repository: string): Promise<number> =>
    (await registry.requests()).filter((l) => l.includes(`"GET /v2/${repository}/manifests/`)).length;

  test("two pods of one image: one manifest GET, one miss and one hit", async () => {
    const digest = await registry.push("jobs/entry", "1", ["/bin/report"], ["--all"]);
    const first = await command(`${registry.host}/jobs/entry:1`);
    assert.deepEqual(first, { command: ["/opt/iqqq/iqqq", "/bin/report"], args: ["--all"] });
    assert.equal(await manifestGets("jobs/entry"), 1);
    // The same image, written otherwise (the tag said, the host's port as given): one key.
    assert.deepEqual(await command(`${registry.host}/jobs/entry:1`), first);
    assert.equal(await manifestGets("jobs/entry"), 1);
    let samples = parseMetrics((await scrape(metricsPort)).text);
    assert.equal(samples.get('iqqq_webhook_registry_cache_total{result="miss"}'), 1);
    assert.equal(samples.get('iqqq_webhook_registry_cache_total{result="hit"}'), 1);
    assert.equal(samples.get('iqqq_webhook_registry_lookups_total{result="found"}'), 1);
    // By digest: an entry of its own (the tag may since name another image), then cached too.
    assert.deepEqual(await command(`${registry.host}/jobs/entry@${digest}`), first);
    assert.deepEqual(await command(`${registry.host}/jobs/entry@${digest}`), first);
    assert.equal(await manifestGets("jobs/entry"), 2);
    samples = parseMetrics((await scrape(metricsPort)).text);
    assert.equal(samples.get('iqqq_webhook_registry_cache_total{result="miss"}'), 2);
    assert.equal(samples.get('iqqq_webhook_registry_cache_total{result="hit"}'), 2);
  });

  test("a failure is not cached: the next pod asks the registry again", async () => {
    const before = await manifestGets("jobs/later");
    for (let i = 0; i < 2; i++) {
      const response = await webhook.review(pod(`${registry.host}/jobs/later:1`));
      assert.match(response.warnings?.[0] ?? "", /not injected/);
    }
    assert.equal((await manifestGets("jobs/later")) - before, 2);
    // Pushed now: found at once, as nothing was kept of the failures.
    await registry.push("jobs/later", "1", ["/bin/later"], []);
    assert.deepEqual(await command(`${registry.host}/jobs/later:1`), {
      command: ["/opt/iqqq/iqqq", "/bin/later"],
      args: [],
    });
  });
});
