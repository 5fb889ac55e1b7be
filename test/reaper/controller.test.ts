// iqqq reaper against a stand-in API server (test/support/kube-apiserver.ts:
// not Kubernetes, but its wire protocol for what the reaper uses, over HTTPS
// with a test CA, through a kubeconfig), with the official client in between.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadKubeConfig, type Reaper, type ReaperOptions, startReaper } from "../../src/reaper/controller.js";
import { REAPER_CONTAINER } from "../../src/reaper/decide.js";
import { parseSelector, type Selector } from "../../src/reaper/selector.js";
import { prepareBuiltins } from "../../src/runtime/builtins.js";
import { CLI, CLI_IS_COMPILED, NODE, ROOT } from "../support/cli.js";
import { jobPod, type Obj, StandInApiServer, terminated } from "../support/kube-apiserver.js";

/** The CLI under test as a command line: the Node bundle, or the Bun executable (IQQQ_CLI). */
const IQQQ = (...args: string[]): [string, string[]] => (CLI_IS_COMPILED ? [CLI, args] : [NODE, [CLI, ...args]]);
const DIR = mkdtempSync(join(tmpdir(), "iqqq-reaper-"));
const IMAGE = "registry.example/iqqq:0.1.0";
let api: StandInApiServer;
const running: Reaper[] = [];

before(async () => {
  await prepareBuiltins();
  api = await StandInApiServer.start(DIR);
});
after(async () => {
  for (const r of running) await r.stop();
  await api.close();
});

async function reaper(options: Partial<ReaperOptions> = {}): Promise<{ reaper: Reaper; logs: string[] }> {
  const started = await faulty(options);
  await until(() => api.watchCount > 0 && started.logs.some((l) => l.startsWith("listed")), 5000);
  return started;
}

async function stop(r: Reaper): Promise<void> {
  running.splice(running.indexOf(r), 1);
  await r.stop();
}

async function until(ok: () => boolean | Promise<boolean>, ms: number, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function metrics(port: number, path = "/metrics"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(" ")[1]);
}

const ephemeral = (ns: string, name: string): Obj[] => api.pods.get(`${ns}/${name}`)?.spec.ephemeralContainers ?? [];

/** A pod whose job container has ended, made as the Job controller and the kubelet would. */
function ended(name: string, namespace: string, options: Parameters<typeof jobPod>[1] = {}, exitCode = 0): Obj {
  const pod = jobPod(name, { namespace, ...options });
  terminated(pod, "job", exitCode, new Date(Date.now() - 60_000));
  return api.createPod(pod);
}

test("a Job's pod is stopped after the grace period: one ephemeral container, an Event, the counts", async () => {
  const { reaper: r, logs } = await reaper({ namespace: "grace", graceMs: 600 });
  api.createPod(jobPod("report-a1", { namespace: "grace" }));
  await sleep(100);
  const finished = Date.now();
  api.updatePod("grace", "report-a1", (p) => terminated(p, "job", 0, new Date(finished)));
  await until(() => ephemeral("grace", "report-a1").length > 0, 5000, "the ephemeral container");
  const waited = Date.now() - finished;
  assert.ok(waited >= 550, `added ${waited} ms after the job's end, within the 600 ms grace period`);
  const [container] = ephemeral("grace", "report-a1");
  assert.equal(container?.name, REAPER_CONTAINER);
  assert.equal(container?.image, IMAGE);
  assert.deepEqual(container?.env, [{ name: "IQQQ_SIDECARS", value: "istio" }]);
  await until(() => api.events.some((e) => e.involvedObject.name === "report-a1"), 5000, "the event");
  const event = api.events.find((e) => e.involvedObject.name === "report-a1") as Obj;
  assert.equal(event.reason, "SidecarStopped");
  assert.equal(event.type, "Normal");
  assert.equal(event.involvedObject.kind, "Pod");
  assert.equal(event.involvedObject.uid, api.pods.get("grace/report-a1")?.metadata.uid);
  assert.match(event.message, /IQQQ_SIDECARS=istio.*istio-proxy.*every job container \(job\) has ended/);
  assert.ok(
    logs.some((l) => /stopping istio \(istio-proxy\) in grace\/report-a1/.test(l)),
    logs.join("\n"),
  );
  const m = (await metrics(r.port)).body;
  assert.equal(metric(m, 'iqqq_reaper_reaped_total{sidecar="istio"}'), 1);
  assert.equal(metric(m, "iqqq_reaper_pods_seen_total"), 1);
  assert.equal(metric(m, 'iqqq_reaper_api_errors_total{operation="patch"}'), 0);
  // Later changes of the pod do not stop it again.
  api.updatePod("grace", "report-a1", (p) => {
    p.metadata.labels.touched = "yes";
  });
  await sleep(200);
  assert.equal(
    api.requests.filter((q) => q.includes("/namespaces/grace/pods/report-a1/ephemeralcontainers")).length,
    1,
  );
  await stop(r);
});

test("a pod whose daprd wants its API token: the ephemeral container gets DAPR_API_TOKEN from the pod's Secret", async () => {
  const { reaper: r } = await reaper({ namespace: "dapr", graceMs: 0 });
  const pod = jobPod("tally-a1", { namespace: "dapr" });
  pod.metadata.annotations = { "dapr.io/enabled": "true", "dapr.io/api-token-secret": "dapr-api-token" };
  pod.spec.containers[1] = { name: "daprd", image: "docker.io/daprio/daprd:1.14.4" };
  pod.status.containerStatuses[1].name = "daprd";
  terminated(pod, "job", 0, new Date(Date.now() - 60_000));
  api.createPod(pod);
  await until(() => ephemeral("dapr", "tally-a1").length > 0, 5000, "the ephemeral container");
  assert.deepEqual(ephemeral("dapr", "tally-a1")[0]?.env, [
    { name: "IQQQ_SIDECARS", value: "dapr" },
    { name: "DAPR_API_TOKEN", valueFrom: { secretKeyRef: { name: "dapr-api-token", key: "token", optional: true } } },
  ]);
  await stop(r);
});

test("an ephemeral container that did not stop the sidecars is told: a Warning event with its log's tail, counted once", async () => {
  const ns = "failed";
  const { reaper: r, logs } = await reaper({ namespace: ns });
  ended("report-f1", ns);
  await until(() => ephemeral(ns, "report-f1").length > 0, 5000);
  // What the kubelet reports once iqqq exits 69 (terminationMessagePolicy FallbackToLogsOnError: the log's tail).
  await until(
    () => api.events.some((e) => e.reason === "SidecarStopped" && e.involvedObject.name === "report-f1"),
    5000,
  );
  const tail = "iqqq: error: no sidecar answered: connection refused on 127.0.0.1:15020 (istio)";
  for (let i = 0; i < 2; i++) {
    // Two updates seen one after the other (the second one is not to be told again).
    if (i > 0) await sleep(200);
    api.updatePod(ns, "report-f1", (p) => {
      p.status.ephemeralContainerStatuses = [
        { name: REAPER_CONTAINER, state: { terminated: { exitCode: 69, reason: "Error", message: `${tail}\n` } } },
      ];
      p.metadata.labels.round = String(i);
    });
  }
  await until(
    () => api.events.some((e) => e.reason === "SidecarStopFailed" && e.involvedObject.name === "report-f1"),
    5000,
  );
  await sleep(200);
  const warnings = api.events.filter((e) => e.reason === "SidecarStopFailed" && e.involvedObject.name === "report-f1");
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.type, "Warning");
  assert.match(warnings[0]?.message, /exited 69: no sidecar was listening \(iqqq: error: no sidecar answered.*\)/);
  assert.ok(logs.some((l) => l.includes("failed/report-f1: the ephemeral container iqqq-reaper exited 69")));
  const m = (await metrics(r.port)).body;
  assert.equal(metric(m, 'iqqq_reaper_stop_failed_total{exit="69"}'), 1);
  assert.equal(metric(m, 'iqqq_reaper_api_errors_total{operation="event"}'), 0);
  await stop(r);
});

test("the pods left alone are left alone, each counted under its reason", async () => {
  const ns = "skips";
  const { reaper: r } = await reaper({ namespace: ns });
  ended("notjob-a1", ns, { job: false });
  ended("retry-a1", ns, { restartPolicy: "OnFailure" }, 1);
  const native = jobPod("native-a1", { namespace: ns });
  native.spec.initContainers = [{ ...native.spec.containers[1], restartPolicy: "Always" }];
  native.spec.containers = [native.spec.containers[0]];
  native.status.containerStatuses = [native.status.containerStatuses[0]];
  terminated(native, "job", 0);
  api.createPod(native);
  const bare = jobPod("bare-a1", { namespace: ns });
  bare.spec.containers = [bare.spec.containers[0]];
  bare.status.containerStatuses = [bare.status.containerStatuses[0]];
  terminated(bare, "job", 0);
  api.createPod(bare);
  api.createPod(jobPod("busy-a1", { namespace: ns }));
  // And one that is stopped, so that the wait below has something to wait for.
  ended("onfailure-ok-a1", ns, { restartPolicy: "OnFailure" }, 0);
  await until(() => ephemeral(ns, "onfailure-ok-a1").length > 0, 5000);
  await sleep(200);
  for (const name of ["notjob-a1", "retry-a1", "native-a1", "bare-a1", "busy-a1"])
    assert.deepEqual(ephemeral(ns, name), [], name);
  const m = (await metrics(r.port)).body;
  for (const [reason, n] of Object.entries({
    "not-a-job": 1,
    "will-restart": 1,
    "native-sidecar": 1,
    "no-sidecar": 1,
    "job-running": 1,
  }))
    assert.equal(metric(m, `iqqq_reaper_skipped_total{reason="${reason}"}`), n, reason);
  assert.equal(metric(m, 'iqqq_reaper_reaped_total{sidecar="istio"}'), 1);
  assert.equal(metric(m, "iqqq_reaper_pods_seen_total"), 6);
  await stop(r);
});

test("--dry-run only logs: no ephemeral container, no event", async () => {
  const ns = "dry";
  const { reaper: r, logs } = await reaper({ namespace: ns, dryRun: true });
  ended("report-d1", ns);
  await until(() => logs.some((l) => l.startsWith("dry run: would stop istio (istio-proxy) in dry/report-d1")), 5000);
  await sleep(200);
  assert.deepEqual(ephemeral(ns, "report-d1"), []);
  assert.ok(!api.requests.some((q) => q.startsWith("PATCH") && q.includes("/namespaces/dry/")));
  assert.ok(!api.events.some((e) => e.metadata.namespace === ns));
  assert.equal(metric((await metrics(r.port)).body, 'iqqq_reaper_skipped_total{reason="dry-run"}'), 1);
  await stop(r);
});

test("--namespace-selector: only the pods of the namespaces it matches; a namespace relabelled is looked at again", async () => {
  api.putNamespace("team-a", { team: "batch" });
  api.putNamespace("team-b", { team: "web" });
  const { reaper: r } = await reaper({
    namespaceSelector: parseSelector("team=batch") as Selector,
    selector: "suite=namespaces",
  });
  for (const ns of ["team-a", "team-b"]) {
    const pod = jobPod("report-n1", { namespace: ns });
    pod.metadata.labels.suite = "namespaces";
    terminated(pod, "job", 0, new Date(Date.now() - 60_000));
    api.createPod(pod);
  }
  await until(() => ephemeral("team-a", "report-n1").length > 0, 5000, "team-a's pod");
  await sleep(200);
  assert.deepEqual(ephemeral("team-b", "report-n1"), []);
  assert.equal(metric((await metrics(r.port)).body, 'iqqq_reaper_skipped_total{reason="namespace-not-selected"}'), 1);
  api.putNamespace("team-b", { team: "batch" });
  await until(() => ephemeral("team-b", "report-n1").length > 0, 5000, "team-b's pod, once its namespace matches");
  assert.ok(api.requests.some((q) => q.startsWith("GET /api/v1/namespaces?") && q.includes("watch=true")));
  await stop(r);
});

test("a dropped watch resumes from its resourceVersion; 410 Gone lists again: no pod is missed", async () => {
  const ns = "drops";
  const { reaper: r } = await reaper({ namespace: ns });
  const lists = () =>
    api.requests.filter((q) => q.startsWith(`GET /api/v1/namespaces/${ns}/pods?`) && !q.includes("watch=true")).length;
  assert.equal(lists(), 1);
  // Dropped: the pod is made while no watch is open; the next watch replays it from the history.
  api.dropWatches();
  ended("during-drop-a1", ns);
  await until(() => ephemeral(ns, "during-drop-a1").length > 0, 5000, "the pod made during the drop");
  assert.equal(lists(), 1, "resumed without listing again");
  assert.ok(
    api.requests.some(
      (q) => q.includes("watch=true") && /resourceVersion=\d+/.test(q) && q.includes("allowWatchBookmarks=true"),
    ),
  );
  // Dropped and compacted: the watch gets 410 Gone, and only a new list shows the pod.
  api.bookmark();
  await sleep(50);
  api.dropWatches();
  ended("during-gone-a1", ns);
  api.compact();
  await until(() => ephemeral(ns, "during-gone-a1").length > 0, 5000, "the pod made during the 410");
  assert.equal(lists(), 2, "listed again after 410 Gone");
  const m = (await metrics(r.port)).body;
  assert.equal(metric(m, 'iqqq_reaper_reaped_total{sidecar="istio"}'), 2);
  await stop(r);
});

test("two replicas stop a pod once: one ephemeral container, one event", async () => {
  const ns = "pair";
  const a = await reaper({ namespace: ns });
  const b = await reaper({ namespace: ns });
  for (let i = 0; i < 5; i++) ended(`report-p${i}`, ns);
  await until(() => [0, 1, 2, 3, 4].every((i) => ephemeral(ns, `report-p${i}`).length > 0), 5000);
  await sleep(300);
  for (let i = 0; i < 5; i++) assert.equal(ephemeral(ns, `report-p${i}`).length, 1);
  assert.equal(api.events.filter((e) => e.metadata.namespace === ns).length, 5);
  const reaped = async (r: Reaper) => metric((await metrics(r.port)).body, 'iqqq_reaper_reaped_total{sidecar="istio"}');
  assert.equal((await reaped(a.reaper)) + (await reaped(b.reaper)), 5, "each pod counted by one replica");
  const patches = api.requests.filter((q) => q.startsWith("PATCH") && q.includes(`/namespaces/${ns}/`));
  assert.ok(patches.length >= 5, patches.join("\n"));
  // One PATCH a pod succeeded; whatever raced it was refused (409: the resourceVersion it was decided on is stale).
  assert.equal(patches.filter((p) => p.endsWith(" 200")).length, 5, patches.join("\n"));
  for (const p of patches) assert.match(p, / (200|409)$/);
  await stop(a.reaper);
  await stop(b.reaper);
});

test("the same ephemeral container sent again is no change; a different one by that name is refused", async () => {
  const ns = "again";
  const { reaper: r } = await reaper({ namespace: ns });
  ended("report-g1", ns);
  await until(() => ephemeral(ns, "report-g1").length > 0, 5000);
  await stop(r);
  // What a replica with the other image (mid-rollout) or without the precondition would send.
  const { CoreV1Api, PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  const kc = loadKubeConfig({ KUBECONFIG: api.kubeconfig });
  if (kc instanceof Error) throw kc;
  const client = kc.makeApiClient(CoreV1Api);
  const send = (image: string) =>
    client.patchNamespacedPodEphemeralcontainers(
      {
        name: "report-g1",
        namespace: ns,
        body: { spec: { ephemeralContainers: [{ ...ephemeral(ns, "report-g1")[0], image }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
  const before = api.pods.get(`${ns}/report-g1`)?.metadata.resourceVersion;
  await send(IMAGE);
  assert.equal(api.pods.get(`${ns}/report-g1`)?.metadata.resourceVersion, before, "no change");
  await assert.rejects(send("registry.example/iqqq:0.2.0"), (err: { code?: number }) => err.code === 422);
  assert.equal(ephemeral(ns, "report-g1").length, 1);
});

test("deploy/reaper's RBAC is enough, and each rule is needed", async () => {
  const docs = parseAllDocuments(await readFile(join(ROOT, "deploy/reaper/reaper.yaml"), "utf8")).map((d) => d.toJS());
  const role = docs.find((d) => d.kind === "ClusterRole");
  try {
    api.rules = role.rules;
    const ns = "rbac";
    const { reaper: r } = await reaper({ namespace: ns });
    ended("report-r1", ns);
    await until(() => api.events.some((e) => e.involvedObject.name === "report-r1"), 5000, "the event");
    assert.ok(!api.requests.some((q) => q.endsWith(" 403")), api.requests.join("\n"));
    await stop(r);
    // Without the rule for events: the container is still added, the refusal counted.
    api.rules = role.rules.filter((rule: Obj) => !rule.resources.includes("events"));
    const { reaper: r2 } = await reaper({ namespace: ns });
    ended("report-r2", ns);
    await until(() => ephemeral(ns, "report-r2").length > 0, 5000);
    await until(
      () => api.requests.some((q) => q.startsWith(`POST /api/v1/namespaces/${ns}/events`) && q.endsWith(" 403")),
      5000,
    );
    await sleep(50);
    assert.equal(metric((await metrics(r2.port)).body, 'iqqq_reaper_api_errors_total{operation="event"}'), 1);
    await stop(r2);
    // Without patch on pods/ephemeralcontainers: refused, said in a Warning event, not tried again.
    api.rules = role.rules.filter((rule: Obj) => !rule.resources.includes("pods/ephemeralcontainers"));
    const { reaper: r3, logs } = await reaper({ namespace: ns });
    ended("report-r3", ns);
    await until(() => api.events.some((e) => e.involvedObject.name === "report-r3"), 5000, "the warning");
    const warning = api.events.find((e) => e.involvedObject.name === "report-r3") as Obj;
    assert.equal(warning.type, "Warning");
    assert.equal(warning.reason, "SidecarStopFailed");
    assert.match(warning.message, /HTTP 403: User .* cannot patch resource "pods\/ephemeralcontainers"/);
    assert.ok(
      logs.some((l) => l.includes("not trying this pod again")),
      logs.join("\n"),
    );
    api.updatePod(ns, "report-r3", (p) => {
      p.metadata.labels.touched = "yes";
    });
    await sleep(200);
    assert.equal(api.requests.filter((q) => q.includes("pods/report-r3/ephemeralcontainers")).length, 1);
    assert.equal(metric((await metrics(r3.port)).body, 'iqqq_reaper_api_errors_total{operation="patch"}'), 1);
    await stop(r3);
  } finally {
    api.rules = undefined;
  }
});

test("the bundled command: serves /metrics, /healthz, /readyz, and stops cleanly on SIGTERM", async () => {
  const ns = "cli";
  const child = spawn(...IQQQ("reaper", "--image", IMAGE, "--namespace", ns, "--grace", "0", "--port", "0"), {
    env: { PATH: process.env.PATH, KUBECONFIG: api.kubeconfig, HOSTNAME: "iqqq-reaper-7d9f" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await until(
      () => /on port (\d+)/.test(stderr) && /listed \d+ pods/.test(stderr),
      10_000,
      `the reaper to start:\n${stderr}`,
    );
    const port = Number(/on port (\d+)/.exec(stderr)?.[1]);
    assert.equal((await metrics(port, "/healthz")).status, 200);
    assert.equal((await metrics(port, "/readyz")).status, 200);
    ended("report-c1", ns);
    await until(() => ephemeral(ns, "report-c1").length > 0, 5000, "the ephemeral container");
    await until(() => api.events.some((e) => e.involvedObject.name === "report-c1"), 5000, "the event");
    assert.equal(api.events.find((e) => e.involvedObject.name === "report-c1")?.reportingInstance, "iqqq-reaper-7d9f");
    assert.match((await metrics(port)).body, /iqqq_reaper_reaped_total\{sidecar="istio"\} 1/);
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: stopping the watch[\s\S]*stopped\n$/);
  } finally {
    child.kill("SIGKILL");
  }
});

test("usage errors: no image, a bad selector", async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(...IQQQ("reaper", ...args), {
        env: { PATH: process.env.PATH },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (c) => {
        stderr += c;
      });
      child.on("exit", (code) => resolve({ code, stderr }));
    });
  assert.equal((await run([])).code, 64);
  const bad = await run(["--image", IMAGE, "--job-selector", "a b"]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--job-selector "a b": "a b" is not a label requirement/);
  const port = await run(["--image", IMAGE, "--port", "8o8o"]);
  assert.equal(port.code, 64);
  assert.match(port.stderr, /--port "8o8o": expected 0-65535 \(0: any free one\)/);
  // --dry-run is a switch: no value.
  const valued = await run(["--image", IMAGE, "--dry-run=yes"]);
  assert.equal(valued.code, 64);
  assert.match(valued.stderr, /--dry-run takes no value/);
  assert.match(valued.stderr, / \[--dry-run\] /);
  const none = await run(["--image", IMAGE]);
  assert.equal(none.code, 78);
  assert.match(none.stderr, /no kubeconfig/);
});

// ------------------------------------------------------------ what a real API server does now and then

/** Watch requests to the stand-in for `ns` so far. */
const watches = (ns: string) =>
  api.requests.filter((q) => q.startsWith(`GET /api/v1/namespaces/${ns}/pods?`) && q.includes("watch=true")).length;

/** A reaper whose start is not waited for (its list or watch may be what fails); reaper() waits for it. */
async function faulty(options: Partial<ReaperOptions>): Promise<{ reaper: Reaper; logs: string[] }> {
  const kc = loadKubeConfig({ KUBECONFIG: api.kubeconfig });
  if (kc instanceof Error) throw kc;
  const logs: string[] = [];
  const r = await startReaper(
    { image: IMAGE, graceMs: 0, rate: 100, dryRun: false, port: 0, instance: "test", ...options },
    kc,
    (line) => logs.push(line),
  );
  running.push(r);
  return { reaper: r, logs };
}

for (const [i, [what, answer]] of (
  [
    [
      "an ERROR event that is not 410 Gone (a 500 in the stream)",
      (res: import("node:http").ServerResponse) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          `${JSON.stringify({ type: "ERROR", object: { kind: "Status", apiVersion: "v1", status: "Failure", message: "etcd is sad", reason: "InternalError", code: 500 } })}\n`,
        );
      },
    ],
    [
      "a watch answered 200 with nothing in it",
      (res: import("node:http").ServerResponse) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end();
      },
    ],
  ] as const
).entries()) {
  test(`a watch that ends at once with ${what}: a failure, counted, /readyz 503, and watched again with back-off, not in a loop`, async () => {
    const ns = `hot-${i}`;
    api.intercept = (req, res, url) => {
      if (url.pathname !== `/api/v1/namespaces/${ns}/pods` || url.searchParams.get("watch") !== "true") return false;
      req.resume();
      answer(res);
      return true;
    };
    try {
      const { reaper: r, logs } = await faulty({ namespace: ns });
      await until(() => logs.some((l) => /the watch of pods .* failed/.test(l)), 5000, "the failure logged");
      await until(() => watches(ns) >= 3, 10_000, "three watches");
      const m = (await metrics(r.port)).body;
      assert.ok(metric(m, 'iqqq_reaper_api_errors_total{operation="watch"}') >= 2, m);
      assert.equal((await metrics(r.port, "/readyz")).status, 503);
      // Back-off: 0.5 s, then 1 s, 2 s…; the client alone watched again hundreds of times a second.
      const before = watches(ns);
      await sleep(1000);
      assert.ok(watches(ns) - before <= 2, `${watches(ns) - before} watches in a second`);
      // The server mends: the next watch works, /readyz says so, and a pod is stopped.
      api.intercept = undefined;
      await until(() => api.watchCount > 0 && watches(ns) > before, 10_000, "a working watch");
      ended("after-mend-h1", ns);
      await until(() => ephemeral(ns, "after-mend-h1").length > 0, 10_000, "the pod stopped once the watch works");
      await until(async () => (await metrics(r.port, "/readyz")).status === 200, 5000, "ready again");
      await stop(r);
    } finally {
      api.intercept = undefined;
    }
  });
}

test("API calls that are never answered are given up after their deadline: the stops go on, the list and the watch are tried again", async () => {
  const ns = "hangs";
  const held: import("node:http").ServerResponse[] = [];
  let patches = 0;
  let lists = 0;
  let watchHeld = false;
  api.intercept = (req, res, url) => {
    if (!url.pathname.startsWith(`/api/v1/namespaces/${ns}/`)) return false;
    const watching = url.searchParams.get("watch") === "true";
    // The first list, the first watch (no headers, ever), the first four PATCHes: never answered.
    if (req.method === "PATCH") patches++;
    else if (!watching) lists++;
    const hang =
      (req.method === "PATCH" && patches <= 4) ||
      (req.method === "GET" && !watching && lists === 1) ||
      (req.method === "GET" && watching && !watchHeld);
    if (!hang) return false;
    if (watching) watchHeld = true;
    req.resume();
    held.push(res);
    return true;
  };
  try {
    const { reaper: r, logs } = await faulty({ namespace: ns, timing: { callMs: 400 } });
    for (let i = 0; i < 6; i++) ended(`report-hang${i}`, ns);
    // Every pod ends up stopped: the four held PATCHes were given up and tried again.
    await until(
      () => [0, 1, 2, 3, 4, 5].every((i) => ephemeral(ns, `report-hang${i}`).length > 0),
      30_000,
      `every pod stopped:\n${logs.join("\n")}`,
    );
    assert.ok(patches >= 10, `${patches} PATCHes`);
    assert.ok(lists >= 2, "listed again after the first list was given up");
    assert.match(logs.join("\n"), /the watch of pods in namespace hangs failed/);
    const m = (await metrics(r.port)).body;
    assert.ok(metric(m, 'iqqq_reaper_api_errors_total{operation="patch"}') >= 4, m);
    assert.ok(metric(m, 'iqqq_reaper_api_errors_total{operation="list"}') >= 1, m);
    assert.ok(metric(m, 'iqqq_reaper_api_errors_total{operation="watch"}') >= 1, m);
    await stop(r);
  } finally {
    api.intercept = undefined;
    for (const res of held) res.destroy();
  }
});

test("429 with Retry-After: the PATCH is tried again no sooner than the API server asked, and the pod is not counted as in its grace period", async () => {
  const ns = "busy";
  const times: number[] = [];
  api.intercept = (req, res, url) => {
    if (req.method !== "PATCH" || !url.pathname.startsWith(`/api/v1/namespaces/${ns}/`)) return false;
    times.push(Date.now());
    if (times.length > 1) return false;
    req.resume();
    res.writeHead(429, { "content-type": "application/json", "retry-after": "2" });
    res.end(
      JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        message: "Too many requests, please try again later.",
        reason: "TooManyRequests",
        details: { retryAfterSeconds: 2 },
        code: 429,
      }),
    );
    return true;
  };
  try {
    const { reaper: r, logs } = await reaper({ namespace: ns });
    ended("report-busy1", ns);
    await until(() => times.length === 1, 5000, "the first PATCH");
    await until(() => logs.some((l) => l.includes("again in 2 s")), 5000, "the retry logged");
    assert.equal(metric((await metrics(r.port)).body, "iqqq_reaper_pods_waiting"), 0);
    // The pod changes meanwhile (the kubelet writes its status): still not before then.
    api.updatePod(ns, "report-busy1", (p) => {
      p.metadata.labels.touched = "yes";
    });
    await until(() => ephemeral(ns, "report-busy1").length > 0, 10_000, "the pod stopped after the wait");
    assert.ok(
      (times[1] as number) - (times[0] as number) >= 1900,
      `tried again after ${(times[1] as number) - (times[0] as number)} ms`,
    );
    await stop(r);
  } finally {
    api.intercept = undefined;
  }
});

test("KUBECONFIG with several files, merged as kubectl merges them: missing files skipped, the first of a name wins, the first current-context", async () => {
  const dir = mkdtempSync(join(DIR, "kubeconfigs-"));
  const real = await readFile(api.kubeconfig, "utf8");
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  // The same names as the real file, pointing nowhere, and no current-context.
  const other = write(
    "other.yaml",
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: elsewhere",
      "  cluster: {server: 'https://127.0.0.9:1'}",
      "users:",
      "- name: nobody",
      "  user: {token: nothing}",
      "contexts:",
      "- name: elsewhere",
      "  context: {cluster: elsewhere, user: nobody}",
      "",
    ].join("\n"),
  );
  const shadow = write(
    "shadow.yaml",
    real.replace(/server: https:\/\/127\.0\.0\.1:\d+/, "server: https://127.0.0.9:2"),
  );
  const first = write("real.yaml", real);
  const empty = write("empty.yaml", "\n");
  const cases: [string, string | undefined][] = [
    [[join(dir, "missing.yaml"), first].join(":"), "https://127.0.0.1:"],
    [[empty, first].join(":"), "https://127.0.0.1:"],
    [[other, first].join(":"), "https://127.0.0.1:"], // current-context from the second file
    [[first, shadow].join(":"), "https://127.0.0.1:"], // same names: the first file's
    [[shadow, first].join(":"), "https://127.0.0.9:2"],
  ];
  for (const [kubeconfig, server] of cases) {
    const kc = loadKubeConfig({ KUBECONFIG: kubeconfig });
    assert.ok(!(kc instanceof Error), `${kubeconfig}: ${kc instanceof Error ? kc.message : ""}`);
    assert.ok(
      kc.getCurrentCluster()?.server.startsWith(server as string),
      `${kubeconfig}: ${kc.getCurrentCluster()?.server}`,
    );
    // kubectl, where it is installed, reads the same.
    const kubectl = spawnSync(
      "kubectl",
      ["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
      {
        env: { PATH: process.env.PATH, KUBECONFIG: kubeconfig },
        encoding: "utf8",
      },
    );
    if (kubectl.status === 0) assert.ok(kubectl.stdout.startsWith(server as string), `kubectl: ${kubectl.stdout}`);
  }
  const none = loadKubeConfig({ KUBECONFIG: [join(dir, "a"), join(dir, "b")].join(":") });
  assert.ok(none instanceof Error);
  assert.match(none.message, /none of the files \$KUBECONFIG names exists/);
});

test("an API server at http:// (kubectl proxy) is reached, as kubectl reaches it", async () => {
  const plain = await StandInApiServer.start(DIR, { plain: true });
  try {
    const kc = loadKubeConfig({ KUBECONFIG: plain.kubeconfig });
    if (kc instanceof Error) throw kc;
    const logs: string[] = [];
    const r = await startReaper(
      { image: IMAGE, graceMs: 0, rate: 100, dryRun: false, port: 0, instance: "test", namespace: "plain" },
      kc,
      (line) => logs.push(line),
    );
    try {
      await until(() => plain.watchCount > 0, 5000, `the watch:\n${logs.join("\n")}`);
      const pod = jobPod("report-plain1", { namespace: "plain" });
      terminated(pod, "job", 0, new Date(Date.now() - 60_000));
      plain.createPod(pod);
      await until(() => (plain.pods.get("plain/report-plain1")?.spec.ephemeralContainers ?? []).length > 0, 5000);
    } finally {
      await r.stop();
    }
  } finally {
    await plain.close();
  }
});

test("SIGTERM while the reaper starts (its namespaces' list unanswered): exit 0, as once it runs", async () => {
  const held: import("node:http").ServerResponse[] = [];
  api.intercept = (req, res, url) => {
    if (url.pathname !== "/api/v1/namespaces") return false;
    req.resume();
    held.push(res);
    return true;
  };
  const child = spawn(...IQQQ("reaper", "--image", IMAGE, "--namespace-selector", "team=a", "--port", "0"), {
    env: { PATH: process.env.PATH, KUBECONFIG: api.kubeconfig },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const exited = new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
  try {
    await until(() => held.length > 0 && /on port \d+/.test(stderr), 10_000, `the namespaces' list:\n${stderr}`);
    child.kill("SIGTERM");
    assert.deepEqual(await exited, [0, null], stderr);
  } finally {
    child.kill("SIGKILL");
    api.intercept = undefined;
    for (const res of held) res.destroy();
  }
});

test("a quiet watch is not cut by the call deadline, under Node and under the executable's Bun (whose node-fetch times out on silence)", async () => {
  const ns = "quiet";
  // Under the binary suite, the controller runs in the executable's own runtime (BUN_BE_BUN=1).
  // Bun's timeout on silence fired after about 8 s here for a deadline of 0.5 s: 12 s shows it.
  const [command, args] = CLI_IS_COMPILED
    ? [CLI, ["run", join(ROOT, "build/test/fixtures/reaper.js")]]
    : [NODE, [join(ROOT, "build/test/fixtures/reaper.js")]];
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH,
      KUBECONFIG: api.kubeconfig,
      REAPER_NAMESPACE: ns,
      REAPER_CALL_MS: "500",
      REAPER_RUN_MS: "12000",
      ...(CLI_IS_COMPILED ? { BUN_BE_BUN: "1" } : {}),
    },
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => {
    stdout += c;
  });
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  const logs = JSON.parse(stdout) as string[];
  assert.ok(
    logs.some((l) => l.startsWith("listed 0 pods")),
    logs.join("\n"),
  );
  assert.deepEqual(
    logs.filter((l) => l.includes("failed")),
    [],
    "a quiet watch (nothing for 12 s, its call deadline 0.5 s) was cut",
  );
});
