// Which pods get iqqq, end to end: for every namespace (no label,
// iqqq.io/inject=enabled, =disabled, kube-system, the webhook's own) and every
// pod (no label, each value of iqqq.io/inject, an unknown one; on the host's
// network or not), the webhooks that `kubectl kustomize deploy/`'s
// MutatingWebhookConfiguration selects are found as the API server finds them
// (its namespaceSelector on the namespace's labels, its objectSelector on the
// pod's), the review is sent to that webhook's path of a running iqqq webhook,
// and what the pod got is compared with the rules docs/inject.md's table
// states (expected() below, written from the table, not from the code).
// Also: the webhook's own checks hold when a review comes that the selectors
// should have kept away (a configuration edited by hand).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEPLOY, kustomize, webhooksFor } from "../support/kustomize.js";
import type { Obj } from "../support/read-back.js";
import { admissionReview, type ReviewResponse, startWebhook, type Webhook } from "../support/webhook.js";

type Got = "unchanged" | "wrapper" | "watcher" | "not-injected";

const OWN = "iqqq-system";
const NAMESPACES = [
  { name: "jobs", labels: {} },
  { name: "batch", labels: { "iqqq.io/inject": "enabled" } },
  { name: "quiet", labels: { "iqqq.io/inject": "disabled" } },
  { name: "kube-system", labels: { "iqqq.io/inject": "enabled" } },
  { name: OWN, labels: { "iqqq.io/inject": "enabled" } },
] as const;
const POD_LABELS = [undefined, "true", "wrapper", "watcher", "false", "yes"] as const;

/** docs/inject.md, "Which pods", as rules (the webhook runs with the default --mode, wrapper). */
function expected(namespace: (typeof NAMESPACES)[number], label: string | undefined, hostNetwork: boolean): Got {
  if (namespace.name === "kube-system" || namespace.name === OWN) return "unchanged";
  const nsLabel = (namespace.labels as Record<string, string>)["iqqq.io/inject"];
  if (label === "false" || nsLabel === "disabled") return "unchanged";
  let got: Got;
  if (label === "wrapper" || label === "watcher") got = label;
  else if (label === "true") got = "wrapper";
  else if (nsLabel !== "enabled") return "unchanged";
  else if (label === undefined) got = "wrapper";
  else got = "not-injected";
  return hostNetwork && got !== "not-injected" ? "not-injected" : got;
}

function pod(namespace: string, label: string | undefined, hostNetwork: boolean): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "report-x7",
      namespace,
      labels: { "job-name": "report", ...(label === undefined ? {} : { "iqqq.io/inject": label }) },
    },
    spec: {
      restartPolicy: "Never",
      ...(hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: "report", image: "python:3.12-slim", command: ["python", "-c", "print(1)"] }],
    },
  };
}

function what(response: ReviewResponse): Got {
  assert.equal(response.allowed, true);
  if (response.patch === undefined) return "unchanged";
  const ops = JSON.parse(Buffer.from(response.patch, "base64").toString()) as Obj[];
  const containers = ops.find((o) => o.path === "/spec/containers")?.value as Obj[] | undefined;
  if (containers === undefined) {
    // Only the annotation saying why, and the same reason as a warning.
    assert.ok(
      ops.every((o) => String(o.path).startsWith("/metadata")),
      JSON.stringify(ops),
    );
    assert.match(JSON.stringify(ops), /iqqq\.io(~1|\/)not-injected/);
    assert.match(response.warnings?.[0] ?? "", /^iqqq: not injected: /);
    return "not-injected";
  }
  return containers.some((c) => c.name === "iqqq-watcher") ? "watcher" : "wrapper";
}

describe("which pods get iqqq: deploy/'s selectors and the webhook's own rules agree", () => {
  let webhook: Webhook;
  let configuration: Obj;

  before(async () => {
    configuration = kustomize(DEPLOY).find((d) => d.kind === "MutatingWebhookConfiguration") as Obj;
    webhook = await startWebhook({ env: { POD_NAMESPACE: OWN } });
  });
  after(async () => {
    await webhook?.stop();
  });

  /** As the API server would: the selected webhook's path, or nothing sent. */
  async function admit(namespace: (typeof NAMESPACES)[number], object: Obj, want: Got): Promise<Got> {
    const selected = webhooksFor(configuration, namespace, object.metadata.labels);
    // Two webhooks selecting one pod would inject it twice (once each), and double the latency.
    assert.ok(selected.length <= 1, `${selected.length} webhooks for one pod`);
    // A pod left unchanged is not even sent: the selectors alone keep it away (and cost it no call).
    if (want === "unchanged") assert.equal(selected.length, 0, "sent to a webhook");
    const chosen = selected[0];
    if (chosen === undefined) return "unchanged";
    const review = admissionReview(object);
    review.request.namespace = namespace.name;
    const answer = await webhook.call("POST", chosen.clientConfig.service.path, review);
    assert.equal(answer.status, 200, answer.text);
    return what(JSON.parse(answer.text).response);
  }

  for (const namespace of NAMESPACES)
    for (const label of POD_LABELS)
      for (const hostNetwork of [false, true]) {
        const want = expected(namespace, label, hostNetwork);
        test(`namespace ${namespace.name} ${JSON.stringify(namespace.labels)}, pod label ${label ?? "(none)"}${hostNetwork ? ", hostNetwork" : ""}: ${want}`, async () => {
          assert.equal(await admit(namespace, pod(namespace.name, label, hostNetwork), want), want);
        });
      }

  test("the webhook's own rules hold against reviews the selectors would not send", async () => {
    const direct = async (path: string, namespace: string, label: string | undefined): Promise<Got> => {
      const review = admissionReview(pod(namespace, label, false));
      review.request.namespace = namespace;
      const answer = await webhook.call("POST", path, review);
      assert.equal(answer.status, 200, answer.text);
      return what(JSON.parse(answer.text).response);
    };
    // Only /inject/namespace means "the namespace opted in".
    assert.equal(await direct("/inject", "jobs", undefined), "unchanged");
    assert.equal(await direct("/inject/namespace", "jobs", undefined), "wrapper");
    // false wins wherever it comes.
    assert.equal(await direct("/inject/namespace", "jobs", "false"), "unchanged");
    // Never kube-system, never its own namespace, whatever the label or the path.
    for (const namespace of ["kube-system", OWN])
      for (const path of ["/inject", "/inject/namespace"])
        assert.equal(await direct(path, namespace, "true"), "unchanged", `${path} ${namespace}`);
    assert.match(
      webhook.log.text(),
      /kube-system\/Pod\/report-x7: namespace kube-system is never injected, let through/,
    );
  });
});
