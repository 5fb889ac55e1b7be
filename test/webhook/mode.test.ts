// iqqq webhook --mode: the mode for pods labelled iqqq.io/inject=true; a label
// of wrapper or watcher picks its own, whatever the flag says.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Mode } from "../../src/inject/inject.js";
import { answerReview } from "../../src/webhook/review.js";

function review(label: string) {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "u1",
      kind: { group: "", version: "v1", kind: "Pod" },
      namespace: "jobs",
      object: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", labels: { "iqqq.io/inject": label } },
        spec: { restartPolicy: "Never", containers: [{ name: "job", image: "busybox", command: ["true"] }] },
      },
    },
  };
}

async function injected(label: string, mode: Mode | undefined): Promise<string[]> {
  const reviewed = await answerReview(review(label), { image: "registry.example/iqqq:1", ...(mode ? { mode } : {}) });
  const response = (reviewed.review as { response: { patch?: string } }).response;
  const ops = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString("utf8")) as {
    path: string;
    value: unknown;
  }[];
  const containers = ops.find((o) => o.path === "/spec/containers")?.value as { name: string }[];
  return containers.map((c) => c.name);
}

test("label true follows --mode (wrapper by default); wrapper and watcher labels pick their own", async () => {
  assert.deepEqual(await injected("true", undefined), ["job"]);
  assert.deepEqual(await injected("true", "watcher"), ["job", "iqqq-watcher"]);
  assert.deepEqual(await injected("wrapper", "watcher"), ["job"]);
  assert.deepEqual(await injected("watcher", "wrapper"), ["job", "iqqq-watcher"]);
});

test("--volume image: the webhook mounts the iqqq image, as inject --volume image does", async () => {
  const reviewed = await answerReview(review("true"), { image: "registry.example/iqqq:1", volume: "image" });
  const response = (reviewed.review as { response: { patch?: string } }).response;
  const ops = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString("utf8")) as {
    path: string;
    value: unknown;
  }[];
  assert.equal(
    ops.find((o) => o.path === "/spec/initContainers"),
    undefined,
  );
  const volumes = ops.find((o) => o.path === "/spec/volumes")?.value as { name: string; image?: unknown }[];
  assert.deepEqual(volumes[0], {
    name: "iqqq",
    image: { reference: "registry.example/iqqq:1", pullPolicy: "IfNotPresent" },
  });
});
