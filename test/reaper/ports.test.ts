// The reaper's ephemeral container is told what iqqq inject would tell a wrapper
// of the same pod: a sidecar's moved port (its flag, its variable or its pod
// annotation, from the catalogue's portFrom), a second sidecar of one kind.

import assert from "node:assert/strict";
import { test } from "node:test";
import { reaperContainer, trim } from "../../src/reaper/controller.js";

function pod(metadata: Record<string, unknown>, sidecar: Record<string, unknown>) {
  return {
    metadata: { name: "p", namespace: "jobs", uid: "u", ...metadata },
    spec: { restartPolicy: "Never", containers: [{ name: "job", image: "busybox" }, sidecar] },
  };
}

test("a moved port goes into the ephemeral container's environment", () => {
  const cloudsql = trim(
    pod(
      {},
      { name: "cloud-sql-proxy", image: "cloud-sql-proxy:2", args: ["--quitquitquit", "--admin-port=9092", "p:r:i"] },
    ),
  );
  assert.deepEqual(cloudsql.env, [{ name: "CLOUDSQL_ADMIN_PORT", value: "9092" }]);
  assert.deepEqual((reaperContainer("iqqq:1", ["cloudsql"], cloudsql.env) as { env: unknown }).env, [
    { name: "IQQQ_SIDECARS", value: "cloudsql" },
    { name: "CLOUDSQL_ADMIN_PORT", value: "9092" },
  ]);
  const vault = trim(
    pod(
      {
        annotations: {
          "vault.hashicorp.com/agent-enable-quit": "true",
          "vault.hashicorp.com/agent-cache-listener-port": "8100",
        },
      },
      { name: "vault-agent", image: "hashicorp/vault:1.18" },
    ),
  );
  assert.deepEqual(vault.env, [{ name: "VAULT_AGENT_PORT", value: "8100" }]);
  const plain = trim(pod({}, { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.0" }));
  assert.equal(plain.env, undefined);
});
