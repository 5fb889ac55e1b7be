// Which pods get iqqq, end to end, as docs/inject.md's table "Which pods"
// says: for every cell (a namespace without the label, labelled
// iqqq.io/inject=enabled or =disabled, kube-system and the webhook's own; a pod
// without the label, with each value, with an unknown one; on the host's
// network or not), the webhooks that `kubectl kustomize deploy/`'s
// MutatingWebhookConfiguration selects are found as the API server finds them
// (its namespaceSelector on the namespace's labels, its objectSelector on the
// pod's), the review is sent to that webhook's path of a running iqqq webhook,
// and what the pod got is compared with the cell. Also: the webhook's own
// checks hold when a review comes that the selectors should have kept away (a
// configuration edited by hand).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT } from "../support/cli.js";
import { DEPLOY, kustomize, webhooksFor } from "../support/kustomize.js";
import type { Obj } from "../support/read-back.js";
import { admissionReview, type ReviewResponse, startWebhook, type Webhook } from "../support/webhook.js";

type Got = "unchanged" | "wrapper" | "watcher" | "not-injected";

const OWN = "iqqq-system";
interface Namespace {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}
/** The table's columns, as namespaces (the last column stands for two). */
const COLUMNS: readonly (readonly Namespace[])[] = [
  [{ name: "jobs", labels: {} }],
  [{ name: "batch", labels: { "iqqq.io/inject": "enabled" } }],
  [{ name: "quiet", labels: { "iqqq.io/inject": "disabled" } }],
  [
    { name: "kube-system", labels: { "iqqq.io/inject": "enabled" } },
    { name: OWN, labels: { "iqqq.io/inject": "enabled" } },
  ],
];
/** The table's rows, as the pod's label. */
const ROWS: Readonly<Record<string, string | undefined>> = {
  none: undefined,
  '`"true"`': "true",
  "`wrapper`": "wrapper",
  "`watcher`": "watcher",
  '`"false"`': "false",
  'another (`"yes"`)': "yes",
};
const CELLS: Readonly<Record<string, Got>> = {
  "–": "unchanged",
  wrapper: "wrapper",
  watcher: "watcher",
  "not injected": "not-injected",
};

/** docs/inject.md's table: [namespace, pod label, what the pod gets] for every cell. */
function table(): [Namespace, string | undefined, Got][] {
  const text = readFileSync(join(ROOT, "docs/inject.md"), "utf8");
  const start = text.indexOf("| the pod's label | namespace without the label |");
  assert.ok(start >= 0, "the table is in docs/inject.md");
  const lines = text.slice(start).split("\n");
  const rows = lines.slice(
    2,
    lines.findIndex((l, i) => i > 1 && !l.startsWith("|")),
  );
  assert.equal(rows.length, Object.keys(ROWS).length, "a row for each pod label");
  const cells: [Namespace, string | undefined, Got][] = [];
  for (const row of rows) {
    const [label, ...columns] = row
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    assert.ok(label !== undefined && label in ROWS, `row ${label}`);
    assert.equal(columns.length, COLUMNS.length, row);
    columns.forEach((cell, i) => {
      const got = CELLS[cell];
      assert.ok(got !== undefined, `cell ${JSON.stringify(cell)}`);
      for (const namespace of COLUMNS[i] ?? []) cells.push([namespace, ROWS[label], got]);
    });
  }
  return cells;
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
  async function admit(namespace: Namespace, object: Obj, want: Got): Promise<Got> {
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

  for (const [namespace, label, cell] of table())
    for (const hostNetwork of [false, true]) {
      // On the host's network, whatever would be injected is not (docs/inject.md says why).
      const want = hostNetwork && (cell === "wrapper" || cell === "watcher") ? "not-injected" : cell;
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
