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

test("a job container's own opt-out (its literal DISABLE_IQQQ, NEVER_KILL_ISTIO, NEVER_KILL_ISTIO_ON_FAILURE) is read", () => {
  const withEnv = (env: unknown) =>
    trim({
      metadata: { name: "p", namespace: "jobs", uid: "u" },
      spec: {
        restartPolicy: "Never",
        containers: [
          { name: "job", image: "busybox", env },
          {
            name: "istio-proxy",
            image: "docker.io/istio/proxyv2:1.24.0",
            env: [{ name: "DISABLE_IQQQ", value: "true" }],
          },
        ],
      },
    }).spec.containers;
  const [job, proxy] = withEnv([
    { name: "A", value: "1" },
    { name: "DISABLE_IQQQ", value: "TRUE" },
  ]);
  assert.deepEqual(job?.keepSidecars, { when: "always", variable: "DISABLE_IQQQ" });
  // Only the job containers' environment is iqqq's; the sidecar's is kept out of the decision anyway.
  assert.deepEqual(proxy?.keepSidecars, { when: "always", variable: "DISABLE_IQQQ" });
  assert.deepEqual(withEnv([{ name: "NEVER_KILL_ISTIO", value: "1" }])[0]?.keepSidecars, {
    when: "always",
    variable: "NEVER_KILL_ISTIO",
  });
  assert.deepEqual(withEnv([{ name: "NEVER_KILL_ISTIO_ON_FAILURE", value: "yes" }])[0]?.keepSidecars, {
    when: "on-failure",
    variable: "NEVER_KILL_ISTIO_ON_FAILURE",
  });
  // false, a value iqqq would refuse, one from elsewhere (valueFrom), or a true one overridden
  // by a later entry of the same name (the container gets the last): nothing is read.
  for (const env of [
    [
      { name: "DISABLE_IQQQ", value: "true" },
      { name: "DISABLE_IQQQ", value: "false" },
    ],
    [{ name: "DISABLE_IQQQ", value: "false" }],
    [{ name: "DISABLE_IQQQ", value: "maybe" }],
    [{ name: "DISABLE_IQQQ", valueFrom: { configMapKeyRef: { name: "c", key: "k" } } }],
    undefined,
  ])
    assert.equal(withEnv(env)[0]?.keepSidecars, undefined, JSON.stringify(env));
});
