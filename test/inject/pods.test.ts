// What inject does with pods that are not the plain case: one that runs as
// root, a program named like one of iqqq's commands, a pod on the host's
// network or for Windows, a Pod without a restartPolicy, a custom resource
// called Job, an image whose ENTRYPOINT is [""], a pod's QoS class. Each wrapped command is also
// run, as the kubelet would run it, through the built iqqq: the program must be
// the one the container ran before.

import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { COMMAND_NAMES } from "../../src/commands/names.js";
import {
  IMAGE_USER_ID,
  type ImageCommand,
  type InjectOptions,
  injectDocument,
  type Mode,
} from "../../src/inject/inject.js";
import { validateObject } from "../examples/kubernetes.js";
import { runCli } from "../support/cli.js";
import { expandKubelet } from "../support/kubelet.js";
import { jobManifest } from "../support/read-back.js";

const IMAGE = "registry.example/iqqq:1.0";
// biome-ignore lint/suspicious/noExplicitAny: manifests are open-ended here.
type Obj = any;

const job = jobManifest;

function pod(spec: Obj = {}): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "one" },
    spec: { containers: [{ name: "job", image: "busybox", command: ["sleep", "1"] }], ...spec },
  };
}

const image = (found: ImageCommand) => async (): Promise<readonly ImageCommand[]> => [found];

async function inject(doc: Obj, mode: Mode = "wrapper", imageCommand?: InjectOptions["imageCommand"]) {
  return injectDocument(doc, { image: IMAGE, mode, ...(imageCommand !== undefined ? { imageCommand } : {}) });
}

const templateOf = (doc: Obj) => doc.spec.template.spec;
const env = (c: Obj): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e.value]));

describe("a pod that runs as root", () => {
  test("iqqq's containers say their own non-root user: the kubelet would refuse runAsNonRoot as 0", async () => {
    for (const mode of ["wrapper", "watcher"] as const) {
      const doc = job({ securityContext: { runAsUser: 0 } });
      await inject(doc, mode);
      const s = templateOf(doc);
      const ours = mode === "wrapper" ? s.initContainers[0] : s.containers.at(-1);
      assert.equal(ours.securityContext.runAsNonRoot, true);
      assert.equal(ours.securityContext.runAsUser, IMAGE_USER_ID, mode);
      assert.equal(s.securityContext.runAsUser, 0, "the pod's own user is kept");
      assert.deepEqual(await validateObject(doc), [], mode);
    }
  });

  test("a pod that runs as another user, or says none: no user of iqqq's (a platform may assign one)", async () => {
    for (const securityContext of [{ runAsUser: 1000 }, {}, undefined]) {
      const doc = job(securityContext === undefined ? {} : { securityContext });
      await inject(doc);
      assert.equal(templateOf(doc).initContainers[0].securityContext.runAsUser, undefined);
    }
  });

  test("injected before the pod ran as root: injected again, iqqq's container gets its user; again, nothing more", async () => {
    const doc = job();
    await inject(doc);
    templateOf(doc).securityContext = { runAsUser: 0 };
    assert.equal((await inject(doc)).kind, "injected");
    assert.equal(templateOf(doc).initContainers[0].securityContext.runAsUser, IMAGE_USER_ID);
    assert.equal((await inject(doc)).kind, "unchanged");
  });
});

describe("a program named like one of iqqq's commands, or like an option", () => {
  const dir = mkdtempSync(join(tmpdir(), "iqqq-names-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // A program of each name, on PATH, that writes down that it ran and with what.
  const named = [...COMMAND_NAMES, "-x", "--help"];
  for (const name of named) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$0" "$@" > "${dir}/ran"\n`);
    chmodSync(file, 0o755);
  }

  /** The container's command and args as the kubelet runs them, with the built iqqq for the copy. */
  async function run(c: Obj): Promise<string[]> {
    const words = [...(c.command ?? []), ...(c.args ?? [])].map((w: string) => expandKubelet(w));
    assert.equal(words[0], "/opt/iqqq/iqqq");
    rmSync(join(dir, "ran"), { force: true });
    const result = await runCli(words.slice(1), { env: { PATH: `${dir}:/usr/bin:/bin` } });
    assert.equal(result.status, 0, result.stderr);
    return readFileSync(join(dir, "ran"), "utf8").trimEnd().split("\n");
  }

  test("its command: `--` after iqqq, so that the program runs, not iqqq's command", async () => {
    for (const name of named) {
      const doc = job({}, { command: [name, "a b", "$(HOME)"] });
      await inject(doc);
      const c = templateOf(doc).containers[0];
      assert.deepEqual(c.command, ["/opt/iqqq/iqqq", "--", name, "a b", "$(HOME)"], name);
      const ran = await run(c);
      assert.deepEqual(ran, [join(dir, name), "a b", "$(HOME)"], name);
    }
  });

  test("its image's CMD (no ENTRYPOINT): `--` is iqqq's command, CMD the args", async () => {
    const doc = job({}, { image: "tools:1" });
    await inject(doc, "wrapper", image({ entrypoint: [], cmd: ["install", "-d", "$x"] }));
    const c = templateOf(doc).containers[0];
    assert.deepEqual(
      [c.command, c.args],
      [
        ["/opt/iqqq/iqqq", "--"],
        ["install", "-d", "$$x"],
      ],
    );
    assert.deepEqual(await run(c), [join(dir, "install"), "-d", "$x"]);
  });

  test("any other name, and `-` alone, which iqqq takes for a program: no `--`, as before", async () => {
    for (const name of ["python", "installer", "-", "./install"]) {
      const doc = job({}, { command: [name] });
      await inject(doc);
      assert.deepEqual(templateOf(doc).containers[0].command, ["/opt/iqqq/iqqq", name]);
    }
  });
});

describe("pods iqqq must leave as they are", () => {
  const cases: [string, Obj, RegExp][] = [
    ["hostNetwork: true", { hostNetwork: true }, /host's network \(hostNetwork: true\)/],
    ["os windows", { os: { name: "windows" } }, /runs on "windows" \(spec\.os\.name\), and iqqq only on Linux/],
  ];
  for (const [what, spec, said] of cases) {
    test(`${what}: unchanged, with a warning that says why, in either mode`, async () => {
      for (const mode of ["wrapper", "watcher"] as const) {
        const doc = job(spec);
        const before = structuredClone(doc);
        const outcome = await inject(doc, mode);
        assert.equal(outcome.kind, "unchanged");
        assert.deepEqual(doc, before);
        assert.equal(outcome.warnings?.length, 1);
        assert.match(outcome.warnings?.[0] ?? "", /^Job\/report: not injected: /);
        assert.match(outcome.warnings?.[0] ?? "", said);
      }
    });
  }

  test("os linux, or none: injected", async () => {
    for (const spec of [{ os: { name: "linux" } }, {}]) {
      const doc = job(spec);
      assert.equal((await inject(doc)).kind, "injected");
    }
  });

  test("in a List, only that pod is left: the others are injected", async () => {
    const list = {
      apiVersion: "v1",
      kind: "List",
      items: [pod({ hostNetwork: true }), pod({ restartPolicy: "Never" })],
    };
    const outcome = await inject(list);
    assert.equal(outcome.kind, "injected");
    assert.equal(list.items[0].spec.initContainers, undefined);
    assert.equal(list.items[1].spec.initContainers[0].name, "iqqq-install");
    assert.equal(outcome.warnings?.length, 1);
  });
});

describe("a Pod's restartPolicy as the API server reads it", () => {
  test("none is Always, as written out: IQQQ_RESTART_POLICY=Always either way", async () => {
    for (const spec of [{}, { restartPolicy: "Always" }]) {
      const doc = pod(spec);
      await inject(doc);
      assert.equal(env(doc.spec.containers[0]).IQQQ_RESTART_POLICY, "Always", JSON.stringify(spec));
      assert.equal(doc.spec.restartPolicy, spec.restartPolicy, "the pod's own field is left as written");
    }
  });

  test("Never: none told, as before", async () => {
    const doc = pod({ restartPolicy: "Never" });
    await inject(doc);
    assert.equal(env(doc.spec.containers[0]).IQQQ_RESTART_POLICY, undefined);
  });
});

describe("Kubernetes' own kinds only", () => {
  test("a custom resource called Job, or a Pod of another group: passed through", async () => {
    for (const doc of [
      { ...job(), apiVersion: "example.com/v1" },
      { ...pod(), apiVersion: "example.com/v1" },
    ]) {
      const before = structuredClone(doc);
      const outcome = await inject(doc);
      assert.equal(outcome.kind, "skipped");
      assert.deepEqual(doc, before);
    }
  });

  test("batch/v1 and batch/v1beta1 Jobs and CronJobs, v1 Pods, and a document without apiVersion: injected", async () => {
    const cronJob = (apiVersion: string): Obj => ({
      apiVersion,
      kind: "CronJob",
      metadata: { name: "nightly" },
      spec: { schedule: "@daily", jobTemplate: { spec: job().spec } },
    });
    const { apiVersion: _, ...bare } = job();
    for (const doc of [job(), cronJob("batch/v1"), cronJob("batch/v1beta1"), pod(), bare])
      assert.equal((await inject(doc)).kind, "injected", `${doc.apiVersion} ${doc.kind}`);
  });
});

describe('an image whose ENTRYPOINT is [""]', () => {
  test("it has none, as containerd reads it: iqqq's command alone, CMD the args", async () => {
    const doc = job({}, { image: "tools:1" });
    await inject(doc, "wrapper", image({ entrypoint: [""], cmd: ["echo", "hi"] }));
    const c = templateOf(doc).containers[0];
    assert.deepEqual([c.command, c.args], [["/opt/iqqq/iqqq"], ["echo", "hi"]]);
  });

  test('[""] with no CMD: neither, an error that says so', async () => {
    const doc = job({}, { image: "tools:1" });
    await assert.rejects(inject(doc, "wrapper", image({ entrypoint: [""], cmd: [] })), /neither ENTRYPOINT nor CMD/);
  });
});

/**
 * The pod's QoS class as the kubelet computes it (pkg/apis/core/helper/qos, GetPodQOS): cpu and memory
 * of every container and init container; a limit without a request is its request (API defaulting).
 * Here quantities are compared as written, so the cases below write equal ones alike.
 */
function qos(spec: Obj): "BestEffort" | "Burstable" | "Guaranteed" {
  const all: Obj[] = [...(spec.initContainers ?? []), ...spec.containers];
  let any = false;
  let guaranteed = true;
  for (const c of all) {
    const limits = c.resources?.limits ?? {};
    const requests = { ...limits, ...(c.resources?.requests ?? {}) };
    for (const r of ["cpu", "memory"]) {
      if (limits[r] !== undefined || requests[r] !== undefined) any = true;
      if (limits[r] === undefined || String(requests[r]) !== String(limits[r])) guaranteed = false;
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

describe("the pod's QoS class", () => {
  const equal = { limits: { cpu: "1", memory: "256Mi" } };
  const both = { requests: { cpu: "250m", memory: "64Mi" }, limits: { cpu: "250m", memory: "64Mi" } };
  const cases: [string, Obj, string][] = [
    ["no resources anywhere", {}, "BestEffort"],
    ["limits alone (requests default to them)", { resources: equal }, "Guaranteed"],
    ["requests equal to limits", { resources: both }, "Guaranteed"],
    ["requests below limits", { resources: { requests: { cpu: "100m" }, limits: equal.limits } }, "Burstable"],
    ["a memory limit only", { resources: { limits: { memory: "1Gi" } } }, "Burstable"],
  ];

  test("kept as it was, in both modes: no resources in a BestEffort pod, requests equal to limits in a Guaranteed one", async () => {
    for (const mode of ["wrapper", "watcher"] as const)
      for (const [name, container, expected] of cases) {
        const doc = job({}, { command: ["python", "/app/report.py"], ...container });
        assert.equal(qos(templateOf(doc)), expected, `${name}: the case itself`);
        await inject(doc, mode);
        const spec = templateOf(doc);
        assert.equal(qos(spec), expected, `${mode}, ${name}`);
        const own = [...(spec.initContainers ?? []), ...spec.containers].filter((c: Obj) => c.name.startsWith("iqqq-"));
        assert.equal(own.length, 1, `${mode}, ${name}`);
        if (expected === "BestEffort") assert.equal(own[0].resources, undefined);
        else assert.deepEqual(own[0].resources.limits, { cpu: "500m", memory: "128Mi" });
        assert.deepEqual(await validateObject(doc), [], `${mode}, ${name}`);
      }
  });

  test("Guaranteed is told by quantity as Kubernetes reads it, not spelling: 1 and 1000m, 0.7 and 700m, 1Gi and 1024Mi, n and u", async () => {
    const pairs: [unknown, unknown][] = [
      ["1000m", 1],
      ["0.7", "700m"],
      [".5", "500000u"],
      ["1000000u", "1"],
      ["500000000n", "0.5"],
      ["1e3", "1k"],
      ["1024Mi", "1Gi"],
      ["1.5Gi", "1536Mi"],
      // Rounded up to a whole 1n, as Kubernetes reads quantities.
      ["1.0000000001", "1.000000001"],
      ["1e-10", "1n"],
      ["1e31", "1e31"],
    ];
    for (const [request, limit] of pairs) {
      const doc = job(
        {},
        {
          command: ["python", "/app/report.py"],
          resources: { requests: { cpu: request, memory: "1Gi" }, limits: { cpu: limit, memory: "1Gi" } },
        },
      );
      await inject(doc);
      const install = templateOf(doc).initContainers[0];
      assert.deepEqual(install.resources.requests, install.resources.limits, `${request} and ${limit}`);
    }
    // Near, not equal: Burstable, and left so.
    const near = job(
      {},
      {
        command: ["python", "/app/report.py"],
        resources: { requests: { cpu: "0.6999" }, limits: { cpu: "700m", memory: "1Gi" } },
      },
    );
    await inject(near);
    assert.deepEqual(templateOf(near).initContainers[0].resources.requests, { cpu: "10m", memory: "32Mi" });
  });

  test("a quantity of zero is none, as the kubelet counts it: such a pod is BestEffort, and left so", async () => {
    for (const resources of [
      { requests: { cpu: "0" } },
      { limits: { cpu: "0", memory: "0" } },
      { requests: { memory: 0 } },
    ]) {
      const doc = job({}, { command: ["python", "/app/report.py"], resources });
      await inject(doc);
      assert.equal(templateOf(doc).initContainers[0].resources, undefined, JSON.stringify(resources));
    }
  });

  test("a pod with resources of its own (spec.resources): iqqq's containers say none, so they fit in them", async () => {
    for (const mode of ["wrapper", "watcher"] as const) {
      const doc = job({ resources: { limits: { cpu: "1", memory: "100Mi" } } });
      await inject(doc, mode);
      const spec = templateOf(doc);
      const own = [...(spec.initContainers ?? []), ...spec.containers].filter((c: Obj) => c.name.startsWith("iqqq-"));
      assert.equal(own.length, 1);
      assert.equal(own[0].resources, undefined, mode);
    }
  });
});
