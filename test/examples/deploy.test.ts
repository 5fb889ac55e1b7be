// deploy/, the webhook's kustomization, as `kubectl kustomize` renders it (the
// install with cert-manager, and deploy/without-cert-manager/ with a CA of the
// test's own): every Kubernetes object valid against the API's schema
// (strictly), the cert-manager ones well formed, and the pieces agreeing with
// each other and with iqqq webhook's defaults. Which pods the webhook
// configuration sends: test/e2e/webhook-selectors.test.ts.

import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseFlags } from "../../src/commands/flags.js";
import { FLAGS as REAPER_FLAGS } from "../../src/commands/reaper.js";
import { ROOT } from "../support/cli.js";
import { DEPLOY, deployCopy, kustomize } from "../support/kustomize.js";
import type { Obj } from "../support/read-back.js";
import { makeTls } from "../support/tls.js";
import { deployMemoryLimit } from "../support/webhook.js";
import { validateObject } from "./kubernetes.js";

const one = (docs: Obj[], kind: string): Obj => {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as Obj;
};

async function valid(docs: Obj[], namespace = "iqqq-system"): Promise<void> {
  for (const doc of docs) {
    if (doc.apiVersion.startsWith("cert-manager.io/")) {
      assert.equal(doc.apiVersion, "cert-manager.io/v1");
      assert.ok(["Issuer", "Certificate"].includes(doc.kind), doc.kind);
      assert.equal(doc.metadata.namespace, namespace);
      continue;
    }
    assert.deepEqual(await validateObject(doc), [], `${doc.kind}/${doc.metadata.name}`);
  }
}

/** What both installs share: the Deployment, its budget, its Service, the webhooks that call it. */
function agree(docs: Obj[], pullSecrets = false): void {
  const configuration = one(docs, "MutatingWebhookConfiguration");
  const deployment = one(docs, "Deployment");
  const service = one(docs, "Service");
  const budget = one(docs, "PodDisruptionBudget");
  const pod = deployment.spec.template;
  const podLabels = pod.metadata.labels;
  const container = pod.spec.containers[0];
  // Two replicas, spread over nodes and zones, and a drain never takes both.
  assert.equal(deployment.spec.replicas, 2);
  assert.deepEqual(budget.spec.selector.matchLabels, podLabels);
  assert.ok(budget.spec.minAvailable >= 1 && budget.spec.minAvailable < deployment.spec.replicas);
  assert.deepEqual(pod.spec.topologySpreadConstraints.map((c: Obj) => c.topologyKey).sort(), [
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
  ]);
  for (const c of pod.spec.topologySpreadConstraints) assert.deepEqual(c.labelSelector.matchLabels, podLabels);
  assert.deepEqual(service.spec.selector, podLabels);
  // The image, named once, is the one it runs and the one it injects.
  assert.equal(container.args[0], "webhook");
  const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e]));
  assert.equal(env.IQQQ_IMAGE.value, container.image);
  assert.equal(env.POD_NAMESPACE.valueFrom.fieldRef.fieldPath, "metadata.namespace");
  // /metrics: the port the flag names is the one the pod, the Service (by name, for a
  // ServiceMonitor) and the NetworkPolicy open.
  const metricsPort = Number(container.args[container.args.indexOf("--metrics-port") + 1]);
  assert.equal(container.ports.find((p: Obj) => p.name === "http-metrics")?.containerPort, metricsPort);
  assert.equal(service.spec.ports.find((p: Obj) => p.name === "http-metrics")?.targetPort, "http-metrics");
  assert.ok(
    one(docs, "NetworkPolicy").spec.ingress.some((rule: Obj) => rule.ports.some((p: Obj) => p.port === metricsPort)),
  );
  // The secret's tls.crt and tls.key land where iqqq webhook looks by default.
  assert.equal(container.volumeMounts[0].mountPath, "/etc/iqqq-webhook");
  assert.equal(pod.spec.volumes[0].secret.secretName, "iqqq-webhook-tls");
  // The limit the reliability suite holds the webhook to is the one deployed.
  assert.equal(container.resources.limits.memory, `${deployMemoryLimit() / 1024 ** 2}Mi`);
  assert.equal(configuration.webhooks.length, 2);
  for (const webhook of configuration.webhooks) {
    assert.equal(webhook.failurePolicy, "Ignore");
    assert.deepEqual(webhook.admissionReviewVersions, ["v1"]);
    assert.equal(webhook.clientConfig.service.name, service.metadata.name);
    assert.equal(webhook.clientConfig.service.namespace, service.metadata.namespace);
    assert.ok(["/inject", "/inject/namespace"].includes(webhook.clientConfig.service.path));
    // Never the webhook's own namespace, nor kube-system.
    assert.deepEqual(
      webhook.namespaceSelector.matchExpressions.find((e: Obj) => e.key === "kubernetes.io/metadata.name"),
      { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [deployment.metadata.namespace, "kube-system"] },
    );
  }
  if (pullSecrets) return;
  // No object asks for any permission: the webhook calls no Kubernetes API.
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(container.args.includes("--pull-secrets"), false);
  assert.deepEqual(
    docs.filter((d) => /Role/.test(d.kind)),
    [],
  );
}

/** The install with cert-manager: its objects, and its certificate's names and CA where the webhook is. */
function withCertManager(docs: Obj[]): void {
  agree(docs);
  assert.deepEqual(docs.map((d) => d.kind).sort(), [
    "Certificate",
    "Deployment",
    "Issuer",
    "MutatingWebhookConfiguration",
    "Namespace",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "ServiceAccount",
  ]);
  const certificate = one(docs, "Certificate");
  const service = one(docs, "Service");
  assert.equal(
    one(docs, "MutatingWebhookConfiguration").metadata.annotations["cert-manager.io/inject-ca-from"],
    `${certificate.metadata.namespace}/${certificate.metadata.name}`,
  );
  assert.equal(certificate.spec.issuerRef.name, one(docs, "Issuer").metadata.name);
  for (const name of certificate.spec.dnsNames)
    assert.ok(name.startsWith(`${service.metadata.name}.${service.metadata.namespace}.svc`), name);
  assert.ok(certificate.spec.dnsNames.includes(`${service.metadata.name}.${service.metadata.namespace}.svc`));
  assert.equal(one(docs, "Deployment").spec.template.spec.volumes[0].secret.secretName, certificate.spec.secretName);
}

describe("deploy/ (kubectl kustomize)", () => {
  test("with cert-manager: valid objects that agree with each other", async () => {
    const docs = kustomize(DEPLOY);
    await valid(docs);
    withCertManager(docs);
  });

  test("deploy/other-namespace: every object and every name written inside a value is in the new namespace", async () => {
    const docs = kustomize(join(DEPLOY, "other-namespace"));
    await valid(docs, "platform-iqqq");
    withCertManager(docs);
    assert.equal(one(docs, "Namespace").metadata.name, "platform-iqqq");
    assert.doesNotMatch(JSON.stringify(docs), /iqqq-system/);
  });

  test("the image is set once: changing it in deploy/image changes what runs and what is injected", async () => {
    const copy = await deployCopy();
    const file = join(copy, "image/kustomization.yaml");
    const text = await readFile(file, "utf8");
    assert.match(text, /newName: REGISTRY\/iqqq\n {4}newTag: 0\.1\.0\n/);
    await writeFile(file, text.replace("newName: REGISTRY/iqqq", "newName: registry.test/team/iqqq"));
    const container = one(kustomize(copy), "Deployment").spec.template.spec.containers[0];
    assert.equal(container.image, "registry.test/team/iqqq:0.1.0");
    assert.deepEqual(
      container.env.find((e: Obj) => e.name === "IQQQ_IMAGE"),
      { name: "IQQQ_IMAGE", value: "registry.test/team/iqqq:0.1.0" },
    );
  });

  test("pull-secrets, the opt-in component: get Secrets only, the token mounted, the flag given", async () => {
    const copy = await deployCopy();
    const overlay = join(copy, "..", "mine");
    await mkdir(overlay);
    await writeFile(
      join(overlay, "kustomization.yaml"),
      "resources: [../deploy]\ncomponents: [../deploy/pull-secrets]\n",
    );
    const docs = kustomize(overlay);
    await valid(docs);
    agree(docs, true);
    const container = one(docs, "Deployment").spec.template.spec.containers[0];
    assert.deepEqual(container.args.slice(container.args.indexOf("--pull-secrets")), ["--pull-secrets", "read"]);
    assert.equal(one(docs, "Deployment").spec.template.spec.automountServiceAccountToken, true);
    assert.deepEqual(one(docs, "ClusterRole").rules, [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }]);
    const binding = one(docs, "ClusterRoleBinding");
    assert.equal(binding.roleRef.name, one(docs, "ClusterRole").metadata.name);
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "iqqq-webhook", namespace: "iqqq-system" }]);
  });

  test("without cert-manager: the operator's CA in caBundle, nothing of cert-manager, nothing of the CA applied but caBundle", async () => {
    const copy = await deployCopy();
    const overlay = join(copy, "without-cert-manager");
    // Without the CA the operator is told to put there, it does not render.
    assert.throws(() => kustomize(overlay), /ca-bundle/);
    const tls = await makeTls();
    // As the comment in the kustomization says: base64 -w0 ca.crt > ca-bundle.
    await writeFile(join(overlay, "ca-bundle"), tls.ca.toString("base64"));
    const docs = kustomize(overlay);
    await valid(docs);
    agree(docs);
    assert.deepEqual(
      docs.filter((d) => d.apiVersion.startsWith("cert-manager.io/") || d.kind === "Secret" || d.kind === "ConfigMap"),
      [],
    );
    const configuration = one(docs, "MutatingWebhookConfiguration");
    assert.equal(configuration.metadata.annotations?.["cert-manager.io/inject-ca-from"], undefined);
    for (const webhook of configuration.webhooks)
      assert.equal(Buffer.from(webhook.clientConfig.caBundle, "base64").toString(), tls.ca.toString());
  });
});
/** The only rules the reaper needs: see pods, add an ephemeral container, write an Event. */
const REAPER_RULES = [
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
  { apiGroups: [""], resources: ["pods/ephemeralcontainers"], verbs: ["patch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
];

for (const [file, scope] of [
  ["reaper.yaml", "cluster"],
  ["namespaced.yaml", "namespace"],
] as const) {
  test(`deploy/reaper/${file}: valid objects, the least RBAC, agreeing with iqqq reaper's flags`, async () => {
    const docs = parseAllDocuments(await readFile(join(ROOT, "deploy/reaper", file), "utf8")).map(
      (d) => d.toJS() as Obj,
    );
    for (const doc of docs) assert.deepEqual(await validateObject(doc), [], `${doc.kind}/${doc.metadata.name}`);
    const byKind = new Map(docs.map((d) => [d.kind as string, d]));
    const deployment = byKind.get("Deployment") as Obj;
    const account = byKind.get("ServiceAccount") as Obj;
    const role = byKind.get(scope === "cluster" ? "ClusterRole" : "Role") as Obj;
    const binding = byKind.get(scope === "cluster" ? "ClusterRoleBinding" : "RoleBinding") as Obj;
    assert.deepEqual(role.rules, REAPER_RULES);
    // A namespaced reaper holds nothing cluster-wide.
    if (scope === "namespace") assert.ok(!docs.some((d) => d.kind.startsWith("Cluster") || d.kind === "Namespace"));
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: role.kind,
      name: role.metadata.name,
    });
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: account.metadata.name, namespace: account.metadata.namespace },
    ]);
    const pod = deployment.spec.template.spec;
    assert.equal(pod.serviceAccountName, account.metadata.name);
    assert.notEqual(pod.automountServiceAccountToken, false, "the reaper needs its token");
    assert.equal(deployment.metadata.namespace, account.metadata.namespace);
    const container = pod.containers[0];
    assert.equal(container.args[0], "reaper");
    const line = parseFlags(REAPER_FLAGS, container.args.slice(1), {}, false);
    assert.ok(typeof line === "object", `the args are iqqq reaper's: ${String(line)}`);
    assert.equal(line.values.image, container.image, "the ephemeral container runs the reaper's own image");
    assert.equal(line.values.port, container.ports[0].containerPort);
    assert.equal(line.values.namespace, scope === "cluster" ? undefined : deployment.metadata.namespace);
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
  });
}
