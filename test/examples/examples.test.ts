// The examples are valid Kubernetes: every YAML file under examples/, and the
// objects the Airflow examples build (run with stand-ins for the kubernetes and
// airflow Python packages, which cannot be installed here).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { parseWatchPattern } from "../../src/watch/pattern.js";
import { ROOT } from "../support/cli.js";
import { isClientModel, validateObject } from "./kubernetes.js";

const EXAMPLES = join(ROOT, "examples");
const AIRFLOW = [join(EXAMPLES, "airflow/executor_config.py"), join(EXAMPLES, "airflow/kubernetes_pod_operator.py")];

test("the validator is strict: a misspelt field and a wrong type are both errors", async () => {
  const problems = await validateObject({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "x", labels: { anything: "goes" } },
    spec: {
      shareProcessNamespace: "yes",
      containers: [{ name: "a", image: "b", env: [{ name: "X", valu: "1" }], resources: { requests: { cpu: "1" } } }],
    },
  });
  assert.deepEqual(
    problems.map((p) => p.split(":")[0]),
    ["/spec/shareProcessNamespace", "/spec/containers/0/env/0/valu"],
    problems.join("\n"),
  );
});

/** YAML under a folder, recursively, as paths relative to ROOT. */
function yamlUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);
}
// The examples users copy, and the pod manifests the real-pod tests play.
const yamlFiles = [...yamlUnder("examples"), ...yamlUnder("test/pods/manifests")];

test("a Job and a CronJob for each sidecar kind and the watcher", () => {
  for (const kind of ["istio", "linkerd", "cloudsql", "watcher"]) {
    for (const file of ["job.yaml", "cronjob.yaml"]) {
      assert.ok(yamlFiles.includes(`examples/${kind}/${file}`), `examples/${kind}/${file}`);
    }
  }
});

for (const file of yamlFiles) {
  test(`${file} is valid Kubernetes`, async () => {
    const docs = parseAllDocuments(readFileSync(join(ROOT, file), "utf8"));
    assert.ok(docs.length > 0);
    for (const doc of docs) {
      assert.deepEqual(doc.errors, []);
      const problems = await validateObject(doc.toJS() as Record<string, unknown>);
      assert.deepEqual(problems, [], problems.join("\n"));
    }
  });
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value: string }[];
}
interface PodSpec {
  shareProcessNamespace?: boolean;
  restartPolicy: string;
  containers: Container[];
}
interface Workload {
  metadata: { annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: PodSpec;
}

/** The pod template of a Job or a CronJob example. */
function template(file: string): Workload {
  const doc = parseAllDocuments(readFileSync(join(EXAMPLES, file), "utf8"))[0]?.toJS();
  return doc.kind === "CronJob" ? doc.spec.jobTemplate.spec.template : doc.spec.template;
}
const envOf = (c: Container | undefined): Record<string, string> =>
  Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));

for (const file of ["job.yaml", "cronjob.yaml"]) {
  test(`${file} examples: iqqq in front of the program, the right sidecar named, pods that end`, () => {
    for (const kind of ["istio", "linkerd", "cloudsql"]) {
      const pod = template(`${kind}/${file}`);
      assert.equal(pod.spec.restartPolicy, "Never");
      const job = pod.spec.containers[0];
      assert.equal(job?.command?.[0], "iqqq", `${kind}: iqqq first`);
      const sidecars = envOf(job).IQQQ_SIDECARS ?? "istio";
      assert.equal(sidecars, kind, `${kind}/${file}: IQQQ_SIDECARS`);
    }
    for (const kind of ["istio", "linkerd"]) {
      // The pod's annotations where IQQQ_PODINFO_ANNOTATIONS looks by default.
      const pod = template(`${kind}/${file}`) as unknown as {
        spec: {
          volumes: { name: string; downwardAPI?: { items: { path: string; fieldRef: { fieldPath: string } }[] } }[];
          containers: { volumeMounts: { name: string; mountPath: string }[] }[];
        };
      };
      const volume = pod.spec.volumes.find((v) => v.downwardAPI !== undefined);
      const item = volume?.downwardAPI?.items[0];
      assert.equal(item?.fieldRef.fieldPath, "metadata.annotations", kind);
      const mount = pod.spec.containers[0]?.volumeMounts.find((m) => m.name === volume?.name);
      assert.equal(`${mount?.mountPath}/${item?.path}`, "/etc/podinfo/annotations", kind);
    }
    const linkerd = template(`linkerd/${file}`);
    assert.equal(linkerd.metadata.annotations?.["config.linkerd.io/proxy-admin-shutdown"], "enabled");
    const proxy = template(`cloudsql/${file}`).spec.containers.find((c) => c.name === "cloud-sql-proxy");
    assert.ok(proxy !== undefined);
    const args = (proxy as unknown as { args: string[] }).args;
    assert.ok(args.includes("--quitquitquit") && args.includes("--admin-port=9091"), args.join(" "));
    const watcher = template(`watcher/${file}`);
    assert.equal(watcher.spec.shareProcessNamespace, true);
    const job = watcher.spec.containers.find((c) => c.name === "report");
    const pattern = parseWatchPattern(
      envOf(watcher.spec.containers.find((c) => c.name === "iqqq")).IQQQ_WATCH_PATTERN ?? "",
    );
    assert.ok(pattern.test((job?.command ?? []).join(" ")), "the watcher's pattern matches the job's command line");
  });
}

test("the examples' inline programs (python -c) compile, and their images are python:3.12-slim or built from it", () => {
  for (const kind of ["istio", "linkerd", "cloudsql", "watcher"]) {
    for (const file of ["job.yaml", "cronjob.yaml"]) {
      const text = readFileSync(join(EXAMPLES, kind, file), "utf8");
      const job = template(`${kind}/${file}`).spec.containers[0];
      const argv = job?.command ?? [];
      const c = argv.indexOf("-c");
      assert.ok(argv[c - 1] === "python" && c > 0, `${kind}/${file}: python -c`);
      const compile = "import sys; compile(sys.argv[1], '<-c>', 'exec')";
      const r = spawnSync("python3", ["-B", "-c", compile, argv[c + 1] ?? ""], { encoding: "utf8" });
      assert.equal(r.status, 0, `${kind}/${file}: ${r.stderr}`);
      if (job?.image !== "python:3.12-slim") {
        // Wrapped: the image is python:3.12-slim plus iqqq, as the comment at the top builds it.
        assert.ok(text.includes("#   FROM python:3.12-slim\n#   COPY iqqq-linux-x64 /usr/local/bin/iqqq\n"), kind);
        assert.ok(text.includes(`-t ${job?.image} .`), `${kind}/${file}: the comment builds ${job?.image}`);
      }
    }
  }
});

test("the Airflow examples compile (py_compile, the bytecode thrown away)", () => {
  const script =
    "import py_compile, sys, tempfile\nfor f in sys.argv[1:]: py_compile.compile(f, cfile=tempfile.mktemp(), doraise=True)";
  const r = spawnSync("python3", ["-B", "-c", script, ...AIRFLOW], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});

test("the Airflow examples build valid pods, with k8s classes that exist", async () => {
  const r = spawnSync("python3", ["-B", join(ROOT, "test/examples/python/dump.py"), ...AIRFLOW], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", PYTHONPATH: join(ROOT, "test/examples/python") },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  for (const name of out.classes) assert.ok(isClientModel(name), `k8s.${name} is not a Kubernetes model`);
  assert.ok(!isClientModel("V1Bogus") && !isClientModel("Container"), "isClientModel accepts anything");

  for (const [label, pod] of [
    ["pod_override", out.executor_pod_override],
    ["full_pod_spec", out.kpo_full_pod_spec],
  ]) {
    const problems = await validateObject({ apiVersion: "v1", kind: "Pod", ...pod });
    assert.deepEqual(problems, [], `${label}:\n${problems.join("\n")}`);
    assert.equal(pod.spec.shareProcessNamespace, true, label);
    assert.equal(pod.spec.containers[0].name, "base", `${label}: the task's container must come first`);
    const iqqq = pod.spec.containers[1];
    assert.equal(iqqq.name, "iqqq");
    const env = Object.fromEntries(iqqq.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.ok(env.IQQQ_WATCH_PROCESS !== undefined || env.IQQQ_WATCH_PATTERN !== undefined, label);
  }
  const pattern = parseWatchPattern(
    out.kpo_full_pod_spec.spec.containers[1].env.find((e: { name: string }) => e.name === "IQQQ_WATCH_PATTERN").value,
  );
  assert.ok(pattern.test("python -m etl --date 2024-01-01") && !pattern.test("python -m etlx"));
  assert.deepEqual(out.kpo_operator_keys, ["arguments", "cmds", "full_pod_spec", "image", "name", "task_id"]);
});
