// inject --volume image: the iqqq image mounted as an image volume (its
// /opt/iqqq by subPath) instead of an init container copying it into an
// emptyDir. Valid for Kubernetes' schema, stable on re-injection, and each kind
// turns into the other cleanly.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { injectDocument, type Volume } from "../../src/inject/inject.js";
import { validateObject } from "../examples/kubernetes.js";
import { jobManifest, type Obj } from "../support/read-back.js";

const IMAGE = "registry.example/iqqq:1.0";

const job = (): Obj => jobManifest({ volumes: [{ name: "data", emptyDir: {} }] });

const spec = (doc: Obj) => doc.spec.template.spec;

async function inject(doc: Obj, volume: Volume, image = IMAGE): Promise<Obj> {
  await injectDocument(doc, { image, mode: "wrapper", volume });
  return doc;
}

describe("inject --volume image", () => {
  test("no init container; the image as a volume; the job container mounts its opt/iqqq at /opt/iqqq", async () => {
    const doc = await inject(job(), "image");
    const s = spec(doc);
    assert.equal(s.initContainers, undefined);
    assert.deepEqual(s.volumes[1], { name: "iqqq", image: { reference: IMAGE, pullPolicy: "IfNotPresent" } });
    assert.deepEqual(s.containers[0].volumeMounts[0], {
      name: "iqqq",
      mountPath: "/opt/iqqq",
      subPath: "opt/iqqq",
      readOnly: true,
    });
    assert.deepEqual(s.containers[0].command, ["/opt/iqqq/iqqq", "python", "/app/report.py"]);
    assert.deepEqual(await validateObject(doc), []);
  });

  test("injected again: nothing changes", async () => {
    const once = await inject(job(), "image");
    const twice = await inject(structuredClone(once), "image");
    assert.deepEqual(twice, once);
  });

  test("emptydir → image → emptydir: each the same as injecting that kind afresh", async () => {
    const image = await inject(await inject(job(), "emptydir"), "image");
    assert.deepEqual(image, await inject(job(), "image"));
    const back = await inject(structuredClone(image), "emptydir");
    assert.deepEqual(back, await inject(job(), "emptydir"));
  });

  test("a new iqqq image replaces the volume's reference", async () => {
    const doc = await inject(await inject(job(), "image"), "image", "registry.example/iqqq:2.0");
    assert.equal(spec(doc).volumes[1].image.reference, "registry.example/iqqq:2.0");
    assert.equal(spec(doc).volumes.length, 3);
  });

  test("a user's own image volume named iqqq is not taken: iqqq's is iqqq-2", async () => {
    const doc = job();
    spec(doc).volumes.push({ name: "iqqq", image: { reference: "mine:1" } });
    spec(doc).containers[0].volumeMounts = [{ name: "iqqq", mountPath: "/data/mine" }];
    await inject(doc, "image");
    assert.deepEqual(
      spec(doc).volumes.map((v: Obj) => v.name),
      ["data", "iqqq", "iqqq-2", "iqqq-podinfo"],
    );
    assert.equal(spec(doc).volumes[1].image.reference, "mine:1");
  });
});
