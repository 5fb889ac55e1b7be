// iqqq webhook --pull-secrets read: a pod's imagePullSecrets, read from a fake
// Kubernetes API (HTTPS, a test CA, a bearer token, as in a cluster) for the
// look-up of an image in a private repository (the fake registry insisting on
// credentials). Off by default: then the API is never called. A secret name
// that is not a Kubernetes name is never asked for; an answer found with one
// pod's credentials is not given to a pod without them (the cache's key).

import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../support/cli.js";
import { type FakeRegistry, fakeRegistry } from "../support/fake-registry.js";
import type { Obj } from "../support/read-back.js";
import { makeTls } from "../support/tls.js";
import { startWebhook, type Webhook } from "../support/webhook.js";

const CREDENTIALS = Buffer.from("puller:s3cret").toString("base64");
const TOKEN = "service-account-token";

function pod(pullSecrets: string[] | undefined): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels: { "iqqq.io/inject": "true" } },
    spec: {
      restartPolicy: "Never",
      ...(pullSecrets === undefined ? {} : { imagePullSecrets: pullSecrets.map((name) => ({ name })) }),
      containers: [{ name: "job", image: "" }],
    },
  };
}

describe("iqqq webhook --pull-secrets", () => {
  let registry: FakeRegistry;
  let api: Server;
  let apiPort = 0;
  const asked: { path: string; authorization: string | undefined }[] = [];
  let env: Record<string, string>;
  let image = "";

  before(async () => {
    registry = await fakeRegistry();
    registry.requireCredentials = CREDENTIALS;
    image = `127.0.0.1:${registry.port}/team/job:1`;
    const tls = await makeTls();
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/dockerconfigjson",
      data: {
        ".dockerconfigjson": Buffer.from(
          JSON.stringify({ auths: { [`127.0.0.1:${registry.port}`]: { auth: CREDENTIALS } } }),
        ).toString("base64"),
      },
    };
    api = createServer({ cert: await readFile(tls.cert), key: await readFile(tls.key) }, (req, res) => {
      asked.push({ path: req.url ?? "", authorization: req.headers.authorization });
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end();
      if (req.url === "/api/v1/namespaces/jobs/secrets/regcred")
        return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(secret));
      if (req.url === "/api/v1/namespaces/jobs/secrets/tls-only")
        return res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ ...secret, type: "kubernetes.io/tls", data: { "tls.key": "c2VjcmV0" } }));
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    apiPort = (api.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), "iqqq-sa-"));
    await writeFile(join(dir, "token"), `${TOKEN}\n`);
    await writeFile(join(dir, "ca.crt"), tls.ca);
    env = {
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(apiPort),
      IQQQ_SERVICE_ACCOUNT_DIR: dir,
    };
  });
  after(() => {
    registry?.server.close();
    api?.close();
  });

  const withImage = (p: Obj): Obj => {
    p.spec.containers[0].image = image;
    return p;
  };
  const injected = (response: { patch?: string; warnings?: string[] }): boolean => {
    const ops = JSON.parse(Buffer.from(response.patch ?? "W10=", "base64").toString()) as Obj[];
    return ops.some((o) => o.path === "/spec/containers");
  };

  test("read: the pod's pull secret opens its private image; others' pods do not get the answer", async () => {
    const webhook: Webhook = await startWebhook({
      env,
      args: ["--allow-registry", "127.0.0.1", "--pull-secrets", "read"],
    });
    try {
      asked.length = 0;
      // Without a pull secret: the registry refuses the webhook (it has no credentials of its own).
      assert.equal(injected(await webhook.review(withImage(pod(undefined)))), false);
      assert.equal(asked.length, 0);
      // With one: read with the service account's token, and the look-up succeeds.
      const response = await webhook.review(withImage(pod(["regcred"])));
      assert.equal(injected(response), true, JSON.stringify(response));
      assert.deepEqual(asked, [{ path: "/api/v1/namespaces/jobs/secrets/regcred", authorization: `Bearer ${TOKEN}` }]);
      // The answer is cached for that secret's credentials only: a pod without them still fails.
      assert.equal(injected(await webhook.review(withImage(pod(undefined)))), false);
      // A secret of another type is not used; a name that is not a Kubernetes name is never asked for.
      asked.length = 0;
      assert.equal(injected(await webhook.review(withImage(pod(["tls-only", "../../../api/v1/secrets"])))), false);
      assert.deepEqual(
        asked.map((a) => a.path),
        ["/api/v1/namespaces/jobs/secrets/tls-only"],
      );
      // Nothing of a secret reaches the log.
      assert.doesNotMatch(webhook.log.text(), /s3cret|c2VjcmV0|cHVsbGVy|puller/);
      assert.match(webhook.log.text(), /pull secret's name is not a Kubernetes name/);
    } finally {
      await webhook.stop();
    }
  });

  test("off (the default): the API is never called, the pod's pull secrets unused", async () => {
    const webhook = await startWebhook({ env, args: ["--allow-registry", "127.0.0.1"] });
    try {
      asked.length = 0;
      assert.equal(injected(await webhook.review(withImage(pod(["regcred"])))), false);
      assert.equal(asked.length, 0);
    } finally {
      await webhook.stop();
    }
  });

  test("read outside a cluster: a clear error, exit 78", async () => {
    const tls = await makeTls();
    const args = ["webhook", "--image", "r/iqqq:1", "--cert", tls.cert, "--key", tls.key, "--port", "0"];
    const r = await runCli([...args, "--pull-secrets", "read"], { timeoutMs: 20_000 });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /KUBERNETES_SERVICE_HOST is not set/);
    const bad = await runCli([...args, "--pull-secrets", "yes"], { timeoutMs: 20_000 });
    assert.equal(bad.status, 64, bad.stderr);
    assert.match(bad.stderr, /--pull-secrets "yes": expected off or read/);
  });
});
