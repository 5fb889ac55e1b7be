// deploy/webhook.yaml, the webhook's manifests: every Kubernetes object valid
// against the API's schema (strictly), the cert-manager ones well formed, and
// the pieces agreeing with each other and with iqqq webhook's defaults.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { ROOT } from "../support/cli.js";
import type { Obj } from "../support/read-back.js";
import { validateObject } from "./kubernetes.js";

test("deploy/webhook.yaml: valid objects that agree with each other", async () => {
  const docs = parseAllDocuments(await readFile(join(ROOT, "deploy/webhook.yaml"), "utf8")).map((d) => d.toJS() as Obj);
  const byKind = new Map(docs.map((d) => [d.kind as string, d]));
  for (const doc of docs) {
    if (doc.apiVersion.startsWith("cert-manager.io/")) continue;
    assert.deepEqual(await validateObject(doc), [], `${doc.kind}/${doc.metadata.name}`);
  }
  const webhook = byKind.get("MutatingWebhookConfiguration")?.webhooks[0];
  const deployment = byKind.get("Deployment") as Obj;
  const service = byKind.get("Service") as Obj;
  const certificate = byKind.get("Certificate") as Obj;
  assert.equal(webhook.failurePolicy, "Ignore");
  assert.deepEqual(webhook.admissionReviewVersions, ["v1"]);
  assert.equal(webhook.clientConfig.service.path, "/inject");
  assert.equal(webhook.clientConfig.service.name, service.metadata.name);
  assert.equal(
    byKind.get("MutatingWebhookConfiguration")?.metadata.annotations["cert-manager.io/inject-ca-from"],
    `${certificate.metadata.namespace}/${certificate.metadata.name}`,
  );
  assert.ok(certificate.spec.dnsNames.includes(`${service.metadata.name}.${service.metadata.namespace}.svc`));
  const pod = deployment.spec.template.spec;
  assert.equal(pod.volumes[0].secret.secretName, certificate.spec.secretName);
  // The secret's tls.crt and tls.key land where iqqq webhook looks by default.
  assert.equal(pod.containers[0].volumeMounts[0].mountPath, "/etc/iqqq-webhook");
  assert.equal(pod.containers[0].args[0], "webhook");
  assert.deepEqual(webhook.objectSelector.matchExpressions[0].key, "iqqq.io/inject");
});
