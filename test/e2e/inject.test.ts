// iqqq inject, black-box: YAML in on stdin or in files, YAML out, on both
// builds. The output is checked against Kubernetes' schema (strictly), for
// idempotence, and for what each container ends up running. A container
// without a command gets its image's ENTRYPOINT and CMD from a loopback
// registry that speaks the distribution API with bearer tokens (the pods suite
// does the same against a real registry).

import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { validateObject } from "../examples/kubernetes.js";
import { runCli } from "../support/cli.js";
import { DOLLARS, type FakeRegistry, fakeRegistry } from "../support/fake-registry.js";
import { expandKubelet } from "../support/kubelet.js";
import { kubernetesDocument } from "../support/kubernetes-yaml.js";
import type { Obj } from "../support/read-back.js";

const IMAGE = "registry.example/iqqq:1.0";
const IQQQ = "/opt/iqqq/iqqq";
/** iqqq's own containers pass the "restricted" Pod Security Standard and, in a Burstable pod (JOB), carry resources. */
const RESTRICTED = {
  securityContext: {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  },
  resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
};

async function inject(yaml: string, args: readonly string[] = [], env: Record<string, string> = {}) {
  const r = await runCli(["inject", "--image", IMAGE, ...args], { input: yaml, env, timeoutMs: 30_000 });
  const text = r.stdout.toString();
  const docs = r.status === 0 ? parseAllDocuments(text).map((d) => d.toJS() as Obj) : [];
  return { ...r, text, docs };
}

async function assertValid(docs: readonly Obj[]): Promise<void> {
  for (const doc of docs) {
    if (!["Pod", "Job", "CronJob"].includes(doc.kind)) continue;
    assert.deepEqual(await validateObject(doc), [], `${doc.kind}/${doc.metadata?.name} is not valid`);
  }
}

const JOB = `# the job
apiVersion: batch/v1
kind: Job
metadata:
  name: report
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        sidecar.istio.io/inject: "true"
    spec:
      restartPolicy: Never
      containers:
        - name: report
          image: python:3.12-slim
          command: ["python", "-c"]
          args: ["print('done')"]
          resources: {requests: {cpu: 100m}}
        - name: istio-proxy
          image: docker.io/istio/proxyv2:1.24.0
`;

describe("iqqq inject", () => {
  test("a Job: init container, emptyDir, annotations volume, the command prefixed; sidecars untouched", async () => {
    const r = await inject(JOB);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const [job] = r.docs as [Obj];
    await assertValid([job]);
    const spec = job.spec.template.spec;
    assert.deepEqual(spec.containers[0].command, [IQQQ, "python", "-c"]);
    assert.deepEqual(spec.containers[0].args, ["print('done')"]);
    assert.deepEqual(spec.containers[0].volumeMounts, [
      { name: "iqqq", mountPath: "/opt/iqqq", readOnly: true },
      { name: "iqqq-podinfo", mountPath: "/etc/podinfo", readOnly: true },
    ]);
    assert.deepEqual(spec.containers[1], { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.0" });
    assert.deepEqual(spec.initContainers, [
      {
        name: "iqqq-install",
        image: IMAGE,
        command: [IQQQ, "install", "/iqqq-install"],
        volumeMounts: [{ name: "iqqq", mountPath: "/iqqq-install" }],
        ...RESTRICTED,
      },
    ]);
    assert.deepEqual(
      spec.volumes.map((v: Obj) => v.name),
      ["iqqq", "iqqq-podinfo"],
    );
    assert.equal(spec.volumes[1].downwardAPI.items[0].fieldRef.fieldPath, "metadata.annotations");
    // Everything else as it was.
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(job.spec.template.metadata.annotations["sidecar.istio.io/inject"], "true");
  });

  test("--volume image: the iqqq image mounted, no init container; injecting twice changes nothing; a bad kind is refused", async () => {
    const r = await inject(JOB, ["--volume", "image"]);
    assert.equal(r.status, 0, r.stderr);
    const [job] = r.docs as [Obj];
    await assertValid([job]);
    const spec = job.spec.template.spec;
    assert.equal(spec.initContainers, undefined);
    assert.deepEqual(spec.volumes[0], { name: "iqqq", image: { reference: IMAGE, pullPolicy: "IfNotPresent" } });
    assert.deepEqual(spec.containers[0].volumeMounts[0], {
      name: "iqqq",
      mountPath: "/opt/iqqq",
      subPath: "opt/iqqq",
      readOnly: true,
    });
    const twice = await inject(r.text, ["--volume", "image"]);
    assert.equal(twice.text, r.text);
    // And back: the same as injecting with an emptyDir in the first place.
    const back = await inject(r.text, ["--volume", "emptydir"]);
    assert.equal(back.status, 0, back.stderr);
    assert.deepEqual(back.docs, (await inject(JOB)).docs);
    const bad = await inject(JOB, ["--volume", "hostPath"]);
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, /--volume "hostPath": expected emptydir or image/);
  });

  test("injecting twice equals injecting once, byte for byte", async () => {
    const once = await inject(JOB);
    const twice = await inject(once.text);
    assert.equal(twice.status, 0, twice.stderr);
    assert.equal(twice.text, once.text);
  });

  test("several JSON files: one stream of JSON objects, as kubectl reads JSON (no `---`); JSON and YAML files together: refused, 64", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-inject-json-"));
    const job = (name: string) =>
      JSON.stringify(
        {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name },
          spec: {
            template: {
              spec: { restartPolicy: "Never", containers: [{ name: "m", image: "x", command: ["a"] }] },
            },
          },
        },
        null,
        2,
      );
    const [a, b, c] = [join(dir, "a.json"), join(dir, "b.json"), join(dir, "c.yaml")];
    await writeFile(a, job("a"));
    await writeFile(b, `${job("b")}\n`);
    await writeFile(c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    const r = await runCli(["inject", "--image", IMAGE, a, b], { timeoutMs: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout.toString();
    assert.doesNotMatch(text, /^---/m);
    // A stream of JSON values, read one after the other as Go's json.Decoder reads them.
    const values: Obj[] = [];
    let rest = text;
    while (rest.trim() !== "") {
      const start = rest.search(/\S/);
      let end = rest.indexOf("\n", start);
      for (; ; end = rest.indexOf("\n", end + 1)) {
        try {
          values.push(JSON.parse(rest.slice(start, end < 0 ? undefined : end)));
          break;
        } catch (err) {
          if (end < 0) throw err;
        }
      }
      rest = end < 0 ? "" : rest.slice(end);
    }
    assert.deepEqual(
      values.map((v) => [v.metadata.name, v.spec.template.spec.containers[0].command[0]]),
      [
        ["a", "/opt/iqqq/iqqq"],
        ["b", "/opt/iqqq/iqqq"],
      ],
    );
    for (const files of [
      [a, c],
      [c, b],
    ]) {
      const mixed = await runCli(["inject", "--image", IMAGE, ...files], { timeoutMs: 30_000 });
      assert.equal(mixed.status, 64, mixed.stderr);
      assert.match(mixed.stderr, /a\.json|b\.json/);
      assert.match(mixed.stderr, /is JSON and .*c\.yaml is YAML: kubectl reads one stream as one or the other/);
      assert.equal(mixed.stdout.length, 0);
    }
  });

  test("a Pod, a CronJob and a List; several files; other kinds pass through as written, with a warning", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-inject-"));
    const pod = join(dir, "pod.yaml");
    const rest = join(dir, "rest.yaml");
    await writeFile(
      pod,
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  restartPolicy: Never\n  containers: [{name: a, image: busybox, command: [sh, -c, 'exit 3']}]\n",
    );
    const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm} # kept\ndata: {a: '1'}\n";
    await writeFile(
      rest,
      `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: etl, image: etl:1, command: [/bin/etl]}]
---
${configMap}---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: q}
    spec: {restartPolicy: Never, containers: [{name: b, image: busybox, command: ["true"], env: &env [{name: A, value: "1"}]}]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: r}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox, command: ["true"], env: *env}]}
`,
    );
    const r = await runCli(["inject", "--image", IMAGE, pod, rest], { timeoutMs: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout.toString();
    const docs = parseAllDocuments(text).map((d) => d.toJS() as Obj);
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["Pod", "CronJob", "ConfigMap", "List"],
    );
    await assertValid(docs);
    assert.deepEqual(docs[0]?.spec.containers[0].command, [IQQQ, "sh", "-c", "exit 3"]);
    assert.deepEqual(docs[1]?.spec.jobTemplate.spec.template.spec.containers[0].command, [IQQQ, "/bin/etl"]);
    assert.deepEqual(docs[3]?.items[0].spec.containers[0].command, [IQQQ, "true"]);
    assert.ok(text.includes(configMap), "the ConfigMap is not as written");
    // Plain YAML: an alias of the input is written out in full, and nothing iqqq adds is an alias.
    assert.doesNotMatch(text, /[&*]\w+\d/);
    assert.deepEqual(docs[3]?.items[1].spec.containers[0].env, [{ name: "A", value: "1" }]);
    assert.match(r.stderr, /note: 1 document with no pod passed through as written: ConfigMap\n/);
  });

  test("a command that already starts with iqqq (an image built with it): the pod is left as it is", async () => {
    const r = await inject(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  containers:\n  - {name: a, image: x, command: [/usr/local/bin/iqqq, /app/job]}\n",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.docs[0]?.spec.containers[0].command, ["/usr/local/bin/iqqq", "/app/job"]);
    // No copy of iqqq is needed: no init container, no volume.
    assert.equal(r.docs[0]?.spec.initContainers, undefined);
    assert.equal(r.docs[0]?.spec.volumes, undefined);
  });

  test("a Job whose one container runs a sidecar's image (envoy --mode validate) is a job: wrapped, nothing to stop", async () => {
    const r = await inject(
      "apiVersion: batch/v1\nkind: Job\nmetadata: {name: check}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: validate\n        image: envoyproxy/envoy:v1.31.0\n        command: [envoy, --mode, validate, -c, /etc/envoy/envoy.yaml]\n",
    );
    assert.equal(r.status, 0, r.stderr);
    const [c] = (r.docs[0] as Obj).spec.template.spec.containers;
    assert.deepEqual(c.command, ["/opt/iqqq/iqqq", "envoy", "--mode", "validate", "-c", "/etc/envoy/envoy.yaml"]);
    assert.ok(!(c.env ?? []).some((e: Obj) => e.name === "IQQQ_SIDECARS" || e.name === "IQQQ_POD_SIDECARS"), r.text);
  });

  test("Dapr with its API token on: a job container without DAPR_API_TOKEN gets it from the same Secret, one with it keeps its own", async () => {
    const job = (env: string) =>
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: d}\nspec:\n  template:\n    metadata:\n      annotations:\n        dapr.io/enabled: "true"\n        dapr.io/api-token-secret: dapr-api-token\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: job\n        image: busybox\n        command: [sh, -c, "exit 0"]\n${env}`;
    const token = {
      name: "DAPR_API_TOKEN",
      valueFrom: { secretKeyRef: { name: "dapr-api-token", key: "token", optional: true } },
    };
    for (const mode of ["wrapper", "watcher"]) {
      const r = await inject(job(""), ["--mode", mode]);
      assert.equal(r.status, 0, r.stderr);
      await assertValid(r.docs);
      const containers = (r.docs[0] as Obj).spec.template.spec.containers as Obj[];
      const stopper = containers.find((c) => c.name === (mode === "wrapper" ? "job" : "iqqq-watcher"));
      assert.deepEqual(
        ((stopper?.env ?? []) as Obj[]).find((e) => e.name === "DAPR_API_TOKEN"),
        token,
        `${mode}: ${r.text}`,
      );
    }
    const own = await inject(job("        env:\n        - {name: DAPR_API_TOKEN, value: mine}\n"));
    assert.equal(own.status, 0, own.stderr);
    const env = ((own.docs[0] as Obj).spec.template.spec.containers[0] as Obj).env as Obj[];
    assert.deepEqual(
      env.filter((e) => e.name === "DAPR_API_TOKEN"),
      [{ name: "DAPR_API_TOKEN", value: "mine" }],
    );
    // No token Secret on the pod: nothing added.
    const none = await inject(job("").replace("        dapr.io/api-token-secret: dapr-api-token\n", ""));
    assert.doesNotMatch(none.text, /DAPR_API_TOKEN/);
    // The Secret named after a watcher-mode injection: injected again, the watcher gets it.
    const before = await inject(job("").replace("        dapr.io/api-token-secret: dapr-api-token\n", ""), [
      "--mode",
      "watcher",
    ]);
    const later = await inject(
      before.text.replace(
        'dapr.io/enabled: "true"\n',
        'dapr.io/enabled: "true"\n        dapr.io/api-token-secret: dapr-api-token\n',
      ),
      ["--mode", "watcher"],
    );
    assert.equal(later.status, 0, later.stderr);
    const watcher = ((later.docs[0] as Obj).spec.template.spec.containers as Obj[]).find(
      (c) => c.name === "iqqq-watcher",
    );
    assert.deepEqual(
      ((watcher?.env ?? []) as Obj[]).find((e) => e.name === "DAPR_API_TOKEN"),
      token,
      later.text,
    );
  });

  test("a manifest injected in one mode, injected again in the other: refused, not both (exit 65)", async () => {
    const watched = await inject(JOB, ["--mode", "watcher"]);
    assert.equal(watched.status, 0, watched.stderr);
    const again = await inject(watched.text);
    assert.equal(again.status, 65);
    assert.equal(again.stdout.toString(), "");
    assert.match(again.stderr, /it has iqqq's iqqq-watcher container \(injected with --mode watcher\)/);
    const wrapped = await inject(JOB);
    const other = await inject(wrapped.text, ["--mode", "watcher"]);
    assert.equal(other.status, 65);
    assert.match(other.stderr, /container report runs iqqq's copy already \(injected with --mode wrapper\)/);
    // The same mode again changes nothing.
    assert.equal((await inject(watched.text, ["--mode", "watcher"])).text, watched.text);
  });

  test("several job containers: the last one out stops the sidecars (IQQQ_GROUP in a shared emptyDir)", async () => {
    const r = await inject(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: two}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: a, image: x, command: [a]}\n  - {name: b, image: busybox, command: [b], env: [{name: IQQQ_NAME, value: custom}]}\n",
    );
    assert.equal(r.status, 0, r.stderr);
    await assertValid(r.docs);
    const [a, b] = (r.docs[0] as Obj).spec.containers as [Obj, Obj];
    const env = (c: Obj) => Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    assert.deepEqual(env(a), { IQQQ_GROUP: "a,b", IQQQ_NAME: "a", IQQQ_GROUP_DIR: "/run/iqqq-group" });
    // A variable the user set is left alone.
    assert.equal(env(b).IQQQ_NAME, "custom");
    assert.ok(r.docs[0]?.spec.volumes.some((v: Obj) => v.name === "iqqq-group" && v.emptyDir !== undefined));
  });

  test("watcher mode: a watcher container in a shared process namespace; the job's command untouched", async () => {
    const r = await inject(JOB, ["--mode", "watcher"]);
    assert.equal(r.status, 0, r.stderr);
    await assertValid(r.docs);
    const spec = r.docs[0]?.spec.template.spec;
    assert.equal(spec.shareProcessNamespace, true);
    assert.deepEqual(spec.containers[0].command, ["python", "-c"]);
    assert.equal(spec.initContainers, undefined);
    const watcher = spec.containers.find((c: Obj) => c.name === "iqqq-watcher");
    assert.deepEqual(watcher.command, [IQQQ]);
    // The pod's istio-proxy: the watcher stops it, and waits for it if it starts late.
    // It follows the job container (marked by its mount at /run/iqqq-job), whatever it execs into.
    assert.deepEqual(watcher.env, [
      { name: "IQQQ_WATCH_CONTAINERS", value: "1" },
      { name: "IQQQ_SIDECARS", value: "istio" },
      { name: "IQQQ_POD_SIDECARS", value: "istio" },
    ]);
    assert.deepEqual(spec.containers[0].volumeMounts, [
      { name: "iqqq-job", mountPath: "/run/iqqq-job", readOnly: true },
    ]);
    assert.ok(spec.volumes.some((v: Obj) => v.name === "iqqq-job" && v.emptyDir !== undefined));
    assert.equal(watcher.image, IMAGE);
    assert.deepEqual(watcher.securityContext, RESTRICTED.securityContext);
    const again = await inject(r.text, ["--mode", "watcher"]);
    assert.equal(again.text, r.text);
  });

  test("bad input: nothing on stdout, a message that says what, and exit 64 or 65", async () => {
    const noImage = await runCli(["inject"], { input: JOB, timeoutMs: 30_000 });
    assert.equal(noImage.status, 64);
    assert.match(noImage.stderr, /--image REF or set IQQQ_IMAGE/);
    const fromEnv = await runCli(["inject"], { input: JOB, env: { IQQQ_IMAGE: "from/env:1" }, timeoutMs: 30_000 });
    assert.equal(fromEnv.status, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout.toString(), /image: from\/env:1/);
    const badMode = await inject(JOB, ["--mode", "sidecar"]);
    assert.equal(badMode.status, 64);
    assert.match(badMode.stderr, /--mode "sidecar": expected wrapper or watcher/);
    const badYaml = await inject("kind: Pod\n  spec: [\n");
    assert.equal(badYaml.status, 65);
    assert.match(badYaml.stderr, /stdin: document 1 \(line 1\): not valid YAML/);
    assert.equal(badYaml.text, "");
    const missing = await runCli(["inject", "--image", IMAGE, "/nonexistent.yaml"], { timeoutMs: 30_000 });
    assert.equal(missing.status, 65);
    assert.match(missing.stderr, /cannot read \/nonexistent\.yaml: ENOENT/);
    const onlySidecars = await inject(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec: {containers: [{name: istio-proxy, image: x}]}\n",
    );
    assert.equal(onlySidecars.status, 65);
    assert.match(onlySidecars.stderr, /Pod\/s: no job container/);
  });

  describe("a container without a command: its image's ENTRYPOINT and CMD from the registry", () => {
    let registry: FakeRegistry;
    before(async () => {
      registry = await fakeRegistry();
    });
    after(() => registry.server.close());

    const noCommand = (image: string, args?: string[]) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: nc}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: job\n    image: ${image}\n${args ? `    args: ${JSON.stringify(args)}\n` : ""}`;

    test("both platforms' manifests are asked for side by side; where both fail, the first platform's failure is said", async (t) => {
      // Its own registry: the others' tests count its tokens. "paired": each platform manifest is
      // served only while the other's request is under way too.
      const own = await fakeRegistry();
      t.after(() => own.server.close());
      const r = await inject(noCommand(`127.0.0.1:${own.port}/team/job:paired`));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.docs[0]?.spec.containers[0].command, [IQQQ, "/paired"]);
      const gone = await inject(noCommand(`127.0.0.1:${own.port}/team/job:gone`));
      assert.equal(gone.status, 65);
      assert.match(
        gone.stderr,
        /could not be read from 127\.0\.0\.1:\d+: 127\.0\.0\.1:\d+: the linux\/amd64 manifest: 404/,
      );
    });

    test("ENTRYPOINT becomes the command after iqqq, CMD the args (an index whose platforms agree)", async () => {
      const r = await inject(noCommand(`127.0.0.1:${registry.port}/team/job:1`));
      assert.equal(r.status, 0, r.stderr);
      await assertValid(r.docs);
      const c = r.docs[0]?.spec.containers[0];
      assert.deepEqual(c.command, [IQQQ, "/entry"]);
      assert.deepEqual(c.args, ["run", "all"]);
      // The bearer-token flow was followed, and the token was asked for this repository.
      assert.ok(registry.tokensIssued > 0);
      assert.deepEqual(registry.scopes, ["repository:team/job:pull"]);
    });

    test("--platform picks one image of the index; the container's own args replace CMD", async () => {
      const r = await inject(noCommand(`127.0.0.1:${registry.port}/team/job:split`, ["only"]), [
        "--platform",
        "linux/arm64",
      ]);
      assert.equal(r.status, 0, r.stderr);
      const c = r.docs[0]?.spec.containers[0];
      assert.deepEqual(c.command, [IQQQ, "/entry", "--arm64"]);
      assert.deepEqual(c.args, ["only"]);
    });

    test("watcher mode looks nothing up: it follows the containers; --watch names a process instead", async () => {
      const looked = await inject(noCommand("unreachable.invalid/x:1"), ["--mode", "watcher"]);
      assert.equal(looked.status, 0, looked.stderr);
      const watcher = looked.docs[0]?.spec.containers.find((c: Obj) => c.name === "iqqq-watcher");
      assert.deepEqual(watcher.env, [{ name: "IQQQ_WATCH_CONTAINERS", value: "1" }]);
      const named = await inject(noCommand("unreachable.invalid/x:1"), ["--mode", "watcher", "--watch", "etl"]);
      assert.equal(named.status, 0, named.stderr);
      const w = named.docs[0]?.spec.containers.find((c: Obj) => c.name === "iqqq-watcher");
      assert.deepEqual(w.env, [{ name: "IQQQ_WATCH_PROCESS", value: "etl" }]);
    });

    test("credentials from Docker's config.json (DOCKER_CONFIG) are sent to the token endpoint; without them, refused", async () => {
      const config = await mkdtemp(join(tmpdir(), "iqqq-docker-config-"));
      const host = `127.0.0.1:${registry.port}`;
      const image = noCommand(`${host}/team/job:1`);
      registry.requireCredentials = "dXNlcjpwYXNz"; // user:pass
      try {
        const refused = await inject(image);
        assert.equal(refused.status, 65);
        assert.match(refused.stderr, /127\.0\.0\.1:\d+: its token realm: 401 Unauthorized/);
        await writeFile(join(config, "config.json"), JSON.stringify({ auths: { [host]: { auth: "dXNlcjpwYXNz" } } }));
        const r = await inject(image, [], { DOCKER_CONFIG: config });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.docs[0]?.spec.containers[0].command, [IQQQ, "/entry"]);
      } finally {
        registry.requireCredentials = undefined;
      }
    });

    test("an image whose ENTRYPOINT is iqqq already: its command is left unset", async () => {
      const r = await inject(noCommand(`127.0.0.1:${registry.port}/team/job:wrapped`));
      assert.equal(r.status, 0, r.stderr);
      const c = r.docs[0]?.spec.containers[0];
      assert.equal(c.command, undefined);
      assert.equal(c.args, undefined);
      assert.equal(r.docs[0]?.spec.initContainers, undefined);
    });

    test("ENTRYPOINT and CMD are escaped for the kubelet: after its $(VAR) and $$ expansion the container runs exactly them", async () => {
      const r = await inject(noCommand(`127.0.0.1:${registry.port}/team/job:dollars`));
      assert.equal(r.status, 0, r.stderr);
      // Read as Kubernetes reads it (YAML 1.1): "on", "0644", "yes" and "1e3" stay strings.
      const pod = kubernetesDocument(r.text) as Obj;
      const c = pod.spec.containers[0];
      const env = { HOME: "/root" }; // defined for the container: the kubelet would substitute it
      assert.deepEqual(
        c.command.map((w: string) => expandKubelet(w, env)),
        [IQQQ, ...DOLLARS.entrypoint],
      );
      assert.deepEqual(
        c.args.map((w: string) => expandKubelet(w, env)),
        DOLLARS.cmd,
      );
      // Unescaped, the kubelet would have changed them: the test can tell.
      assert.notDeepEqual(
        DOLLARS.entrypoint.map((w) => expandKubelet(w, env)),
        DOLLARS.entrypoint,
      );
    });

    test("an image the registry does not have: exit 65, the container and the answer named, nothing written", async () => {
      const r = await inject(noCommand(`127.0.0.1:${registry.port}/team/missing:1`));
      assert.equal(r.status, 65);
      assert.equal(r.text, "");
      assert.match(
        r.stderr,
        /container job has no command, and its image's ENTRYPOINT could not be read from 127\.0\.0\.1:\d+: .*404/,
      );
    });
  });
});
