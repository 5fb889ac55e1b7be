import assert from "node:assert/strict";
import { test } from "node:test";
import { lookupPod, nativeSidecars } from "../../src/pod/api.js";

test("nativeSidecars: known kinds among init containers with restartPolicy: Always only", () => {
  const skip = nativeSidecars([
    { name: "istio-init", image: "docker.io/istio/proxyv2:1.27.0" },
    { name: "linkerd-proxy", image: "cr.l5d.io/linkerd/proxy:edge-25.1.1", restartPolicy: "Always" },
    { name: "db", image: "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0", restartPolicy: "Always" },
    { name: "vault-agent", image: "hashicorp/vault:1.18", restartPolicy: "Always" },
  ]);
  assert.deepEqual([...skip.keys()].sort(), ["cloudsql", "linkerd", "vault"]);
  assert.equal(
    nativeSidecars([{ name: "istio-proxy", image: "x/proxyv2:1", restartPolicy: "Always" }]).has("istio"),
    true,
  );
  assert.equal(nativeSidecars([{ name: "istio-proxy", image: "x/proxyv2:1" }]).size, 0);
});

test("lookupPod without what it needs: an error that says what is missing, never a throw", async () => {
  const base = { timeoutMs: 500, serviceAccount: "/nonexistent" };
  assert.match((await lookupPod({ ...base, env: {} })).kind === "error" ? "ok" : "", /ok/);
  const noHost = await lookupPod({ ...base, env: { HOSTNAME: "p" } });
  assert.deepEqual(noHost, { kind: "error", message: "KUBERNETES_SERVICE_HOST is not set" });
  const noName = await lookupPod({ ...base, env: { KUBERNETES_SERVICE_HOST: "127.0.0.1" } });
  assert.deepEqual(noName, { kind: "error", message: "neither POD_NAME nor HOSTNAME names the pod" });
  const noAccount = await lookupPod({ ...base, env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", HOSTNAME: "p" } });
  assert.match(noAccount.kind === "error" ? noAccount.message : "", /^no service account \(ENOENT/);
});
