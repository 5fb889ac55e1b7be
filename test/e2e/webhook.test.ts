// iqqq webhook over real TLS: a test CA signs the serving certificate (openssl),
// the client trusts only that CA, AdmissionReviews go in as the API server
// sends them, and the JSONPatch that comes back, applied to the pod, gives
// exactly what `iqqq inject` writes for it. Health endpoints, refusals of bad
// requests, and a clean exit on SIGTERM.

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { collect, runCli, startCli, watchOutput } from "../support/cli.js";
import { DOLLARS, fakeRegistry } from "../support/fake-registry.js";
import { expandKubelet } from "../support/kubelet.js";
import { kubernetesDocument } from "../support/kubernetes-yaml.js";
import type { Obj } from "../support/read-back.js";
import { makeTls, type Tls } from "../support/tls.js";
import { admissionReview, callWebhook } from "../support/webhook.js";

const IMAGE = "registry.example/iqqq:1.0";

const call = callWebhook;

const POD = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "report-x7", namespace: "jobs", labels: { "iqqq.io/inject": "true", "job-name": "report" } },
  spec: {
    restartPolicy: "Never",
    containers: [
      { name: "report", image: "python:3.12-slim", command: ["python", "-c", "print(1)"] },
      { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.0" },
    ],
  },
};

const review = admissionReview;

/** Applies the add/replace operations the webhook answers with (whole fields of /spec). */
function applyPatch(object: Obj, patch: { op: string; path: string; value: unknown }[]): Obj {
  const copy = structuredClone(object);
  for (const op of patch) {
    assert.ok(op.op === "add" || op.op === "replace", `unexpected op ${op.op}`);
    const [, top, key, ...rest] = op.path.split("/");
    assert.ok(top === "spec" || top === "metadata", op.path);
    assert.equal(rest.length, 0);
    copy[top] ??= {};
    copy[top][(key as string).replace(/~1/g, "/").replace(/~0/g, "~")] = op.value;
  }
  return copy;
}

describe("iqqq webhook", () => {
  let tls: Tls;
  let server: ReturnType<typeof startCli>;
  let port = 0;
  let log: ReturnType<typeof watchOutput>;

  before(async () => {
    tls = await makeTls();
    // The test registries are on loopback: the webhook contacts such addresses only when told to.
    server = startCli([
      "webhook",
      "--image",
      IMAGE,
      "--cert",
      tls.cert,
      "--key",
      tls.key,
      "--port",
      "0",
      "--allow-registry",
      "127.0.0.1",
      "--drain",
      "2",
    ]);
    log = watchOutput(server.stderr as NodeJS.ReadableStream);
    await log.until(" injecting ", 20_000);
    port = Number(/serving on port (\d+)/.exec(log.text())?.[1]);
  });
  after(() => server.kill("SIGKILL"));

  test("health: GET /healthz and /readyz answer 200 over TLS that the test CA vouches for", async () => {
    assert.deepEqual(await call(port, tls.ca, "GET", "/healthz"), { status: 200, text: "ok\n" });
    assert.deepEqual(await call(port, tls.ca, "GET", "/readyz"), { status: 200, text: "ok\n" });
  });

  test("a labelled pod: allowed, with a JSONPatch that gives exactly what iqqq inject writes", async () => {
    const answer = await call(port, tls.ca, "POST", "/inject", review(POD));
    assert.equal(answer.status, 200, answer.text);
    const { apiVersion, kind, response } = JSON.parse(answer.text);
    assert.equal(apiVersion, "admission.k8s.io/v1");
    assert.equal(kind, "AdmissionReview");
    assert.equal(response.uid, "0f1e2d3c");
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, "JSONPatch");
    const patched = applyPatch(POD, JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")));
    const injected = await runCli(["inject", "--image", IMAGE], { input: JSON.stringify(POD), timeoutMs: 30_000 });
    assert.equal(injected.status, 0, injected.stderr);
    assert.deepEqual(patched, parse(injected.stdout.toString()));
    assert.match(log.text(), /jobs\/Pod\/report-x7: injected \(wrapper\), \d+ patch operations/);
    // Sent again (the API server retries): the patched pod needs nothing more.
    const again = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(patched, "again"))).text);
    assert.deepEqual(again.response, { uid: "again", allowed: true });
  });

  test("the same as inject, read as Kubernetes reads YAML, for a pod with a volume named iqqq, YAML 1.1 words and a command from its image", async () => {
    const registry = await fakeRegistry();
    try {
      const pod = structuredClone(POD) as Obj;
      pod.metadata.labels.y = "on";
      pod.spec.volumes = [{ name: "iqqq", configMap: { name: "mine", defaultMode: 0o400 } }];
      pod.spec.containers[0].args = ["yes", "0644", "$(HOME)"];
      pod.spec.containers.unshift({ name: "shell", image: `127.0.0.1:${registry.port}/team/job:dollars` });
      const { response } = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(pod))).text);
      assert.equal(response.patchType, "JSONPatch", JSON.stringify(response));
      const patched = applyPatch(pod, JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")));
      const injected = await runCli(["inject", "--image", IMAGE], { input: JSON.stringify(pod), timeoutMs: 30_000 });
      assert.equal(injected.status, 0, injected.stderr);
      assert.deepEqual(kubernetesDocument(injected.stdout.toString()), patched);
      assert.deepEqual(
        patched.spec.volumes.map((v: { name: string }) => v.name),
        ["iqqq", "iqqq-2", "iqqq-podinfo", "iqqq-group"],
      );
      // What the kubelet runs is the image's own program, `$` and all.
      assert.deepEqual(
        patched.spec.containers[0].command.map((w: string) => expandKubelet(w, { HOME: "/root" })),
        ["/opt/iqqq/iqqq", ...DOLLARS.entrypoint],
      );
    } finally {
      registry.server.close();
    }
  });

  test("a Linkerd pod with cloud-sql-proxy and restartPolicy OnFailure: the same env and annotation as inject gives it", async () => {
    const pod = structuredClone(POD) as Obj;
    pod.metadata.annotations = { "linkerd.io/inject": "enabled" };
    pod.spec.restartPolicy = "OnFailure";
    pod.spec.containers[1] = { name: "sql", image: "cloud-sql-proxy:2", args: ["--quitquitquit", "--admin-port=9092"] };
    const { response } = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(pod))).text);
    const patched = applyPatch(pod, JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")));
    const injected = await runCli(["inject", "--image", IMAGE], { input: JSON.stringify(pod), timeoutMs: 30_000 });
    assert.deepEqual(kubernetesDocument(injected.stdout.toString()), patched);
    assert.equal(patched.metadata.annotations["config.linkerd.io/proxy-admin-shutdown"], "enabled");
    const env = Object.fromEntries(
      patched.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    assert.deepEqual(env, {
      IQQQ_SIDECARS: "linkerd,cloudsql",
      IQQQ_POD_SIDECARS: "linkerd,cloudsql",
      CLOUDSQL_ADMIN_PORT: "9092",
      IQQQ_RESTART_POLICY: "OnFailure",
    });
  });

  test("iqqq.io/inject=watcher: the watcher container and a shared process namespace", async () => {
    const pod = structuredClone(POD);
    pod.metadata.labels["iqqq.io/inject"] = "watcher";
    const { response } = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(pod))).text);
    const patched = applyPatch(pod, JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")));
    assert.equal(patched.spec.shareProcessNamespace, true);
    assert.ok(patched.spec.containers.some((c: { name: string }) => c.name === "iqqq-watcher"));
  });

  test("no label, another kind, or a pod that cannot be injected: allowed unchanged (with a warning for the last)", async () => {
    const unlabelled = structuredClone(POD) as Obj;
    delete unlabelled.metadata.labels["iqqq.io/inject"];
    assert.deepEqual(JSON.parse((await call(port, tls.ca, "POST", "/inject", review(unlabelled))).text).response, {
      uid: "0f1e2d3c",
      allowed: true,
    });
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } };
    assert.equal(JSON.parse((await call(port, tls.ca, "POST", "/inject", review(cm))).text).response.allowed, true);
    const onlySidecar: typeof POD & { metadata: { ownerReferences?: object[] } } = structuredClone(POD);
    onlySidecar.spec.containers = [POD.spec.containers[1] as (typeof POD.spec.containers)[0]];
    onlySidecar.metadata.ownerReferences = [{ apiVersion: "batch/v1", kind: "Job", name: "report", uid: "u" }];
    const refused = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(onlySidecar))).text).response;
    assert.equal(refused.allowed, true);
    assert.match(refused.warnings[0], /iqqq: not injected: .*no job container/);
    // The reason reaches the person too: on the pod (kubectl describe pod), and in the log with its Job.
    const annotated = applyPatch(onlySidecar, JSON.parse(Buffer.from(refused.patch, "base64").toString("utf8")));
    assert.deepEqual(annotated.spec, onlySidecar.spec);
    assert.match(annotated.metadata.annotations["iqqq.io/not-injected"], /no job container/);
    await log.until("jobs/Pod/report-x7 (of Job/report): not injected: ", 10_000);
    assert.match(log.text(), /jobs\/Pod\/report-x7 \(of Job\/report\): not injected: .*no job container/);
  });

  test("a pod that runs as root: iqqq-install says its own user; a pod for Windows: not injected, and told why", async () => {
    const root = structuredClone(POD) as Obj;
    root.spec.securityContext = { runAsUser: 0 };
    const injected = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(root))).text).response;
    const patched = applyPatch(root, JSON.parse(Buffer.from(injected.patch, "base64").toString("utf8")));
    assert.equal(patched.spec.initContainers[0].name, "iqqq-install");
    assert.deepEqual(
      [
        patched.spec.initContainers[0].securityContext.runAsNonRoot,
        patched.spec.initContainers[0].securityContext.runAsUser,
      ],
      [true, 65532],
    );
    assert.equal(patched.spec.securityContext.runAsUser, 0);

    const windows = structuredClone(POD) as Obj;
    windows.spec.os = { name: "windows" };
    const refused = JSON.parse((await call(port, tls.ca, "POST", "/inject", review(windows))).text).response;
    assert.equal(refused.allowed, true);
    assert.match(refused.warnings[0], /iqqq: not injected: the pod runs on "windows" \(spec\.os\.name\)/);
    const annotated = applyPatch(windows, JSON.parse(Buffer.from(refused.patch, "base64").toString("utf8")));
    assert.deepEqual(annotated.spec, windows.spec);
    assert.match(annotated.metadata.annotations["iqqq.io/not-injected"], /only on Linux/);
  });

  test("a registry that never answers: the pod is let through with a warning inside the API server's 10 s", async () => {
    // It accepts and says nothing; an aborted fetch may reset the connection (Bun does).
    const silent = createServer((socket) => socket.on("error", () => {}));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const pod = structuredClone(POD) as Obj;
      pod.spec.containers[0] = {
        name: "report",
        image: `127.0.0.1:${(silent.address() as AddressInfo).port}/team/job:1`,
      };
      const started = Date.now();
      const answer = await call(port, tls.ca, "POST", "/inject", review(pod));
      const took = Date.now() - started;
      const { response } = JSON.parse(answer.text);
      assert.equal(response.allowed, true);
      const ops = JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as { path: string }[];
      assert.deepEqual(
        ops.map((op) => op.path),
        ["/metadata/annotations"],
      );
      assert.match(response.warnings[0], /its image's ENTRYPOINT could not be read/);
      assert.ok(took < 9000, `answered after ${took} ms`);
    } finally {
      silent.close();
    }
  });

  test("bad requests: 400 for what is not an AdmissionReview, 404 and 405 elsewhere", async () => {
    assert.equal((await call(port, tls.ca, "POST", "/inject", "{not json")).status, 400);
    assert.equal((await call(port, tls.ca, "POST", "/inject", { kind: "AdmissionReview" })).status, 400);
    assert.equal((await call(port, tls.ca, "GET", "/inject")).status, 405);
    assert.equal((await call(port, tls.ca, "GET", "/elsewhere")).status, 404);
    // A target in absolute-form, which RFC 9112 has a server accept: its path is what is asked for.
    assert.deepEqual(await call(port, tls.ca, "GET", `https://127.0.0.1:${port}/healthz`), {
      status: 200,
      text: "ok\n",
    });
    assert.equal((await call(port, tls.ca, "GET", `https://127.0.0.1:${port}/inject?x=1`)).status, 405);
    // As it stands, as the origin-form is taken: no dot-segment or fragment taken away.
    for (const path of ["/inject/../healthz", "/healthz#x"]) {
      assert.equal((await call(port, tls.ca, "GET", path)).status, 404, path);
      assert.equal((await call(port, tls.ca, "GET", `https://127.0.0.1:${port}${path}`)).status, 404, path);
    }
  });

  test("SIGTERM: /readyz says 503 at once, reviews are still answered for the drain period, then it exits 0", async () => {
    const done = collect(server, { timeoutMs: 20_000 });
    server.kill("SIGTERM");
    await log.until("/readyz says 503", 10_000);
    assert.deepEqual(await call(port, tls.ca, "GET", "/readyz"), { status: 503, text: "draining\n" });
    assert.equal((await call(port, tls.ca, "GET", "/healthz")).status, 200);
    const during = await call(port, tls.ca, "POST", "/inject", review(POD, "during-drain"));
    assert.equal(during.status, 200);
    assert.equal(JSON.parse(during.text).response.patchType, "JSONPatch");
    const r = await done;
    assert.equal(r.status, 0, r.stderr);
    assert.match(log.text(), /SIGTERM: \/readyz says 503; answering reviews for 2 s more/);
    assert.match(log.text(), /no longer taking connections/);
    assert.match(log.text(), /stopped/);
  });
});

describe("iqqq webhook: a renewed certificate", () => {
  test("files replaced in place are served from the next connection on, without a restart", async () => {
    const [first, renewed] = await Promise.all([makeTls(), makeTls()]);
    const server = startCli(["webhook", "--image", IMAGE, "--cert", first.cert, "--key", first.key, "--port", "0"]);
    try {
      const log = watchOutput(server.stderr as NodeJS.ReadableStream);
      await log.until(" injecting ", 20_000);
      const port = Number(/serving on port (\d+)/.exec(log.text())?.[1]);
      assert.equal((await call(port, first.ca, "GET", "/healthz")).status, 200);
      // As cert-manager renews it: same paths, new pair (signed by another CA here, so it shows).
      await writeFile(first.key, await readFile(renewed.key));
      await writeFile(first.cert, await readFile(renewed.cert));
      await log.until("certificate reloaded", 10_000);
      assert.equal((await call(port, renewed.ca, "GET", "/healthz")).status, 200);
      await assert.rejects(call(port, first.ca, "GET", "/healthz"));
    } finally {
      server.kill("SIGKILL");
    }
  });
});

describe("iqqq webhook and iqqq inject share their flags", () => {
  test("--image, --mode, --volume and --platform: the same rows in both --help texts", async () => {
    const help = async (command: string) =>
      (await runCli([command, "--help"], { timeoutMs: 15_000 })).stdout.toString();
    const rows = (text: string, name: string) => {
      const lines = text.split("\n");
      const at = lines.findIndex((l) => l.startsWith(`  --${name} `));
      assert.ok(at >= 0, `no --${name} in ${text}`);
      const out = [(lines[at] as string).replace(/^(\s+--\S+ \S+)\s+/, "$1 ")];
      for (const l of lines.slice(at + 1)) {
        if (!/^\s{6,}\S/.test(l)) break;
        out.push(l.trim());
      }
      return out;
    };
    const [inject, webhook] = [await help("inject"), await help("webhook")];
    for (const name of ["image", "mode", "volume", "platform"])
      assert.deepEqual(rows(webhook, name), rows(inject, name), name);
  });
});

describe("iqqq webhook: bad setup", () => {
  test("no image, or a certificate that cannot be read: an error that says so", async () => {
    const noImage = await runCli(["webhook", "--port", "0"], { timeoutMs: 15_000 });
    assert.equal(noImage.status, 64);
    assert.match(noImage.stderr, /--image REF or set IQQQ_IMAGE/);
    const noCert = await runCli(["webhook", "--image", IMAGE, "--cert", "/nonexistent.crt", "--port", "0"], {
      timeoutMs: 15_000,
    });
    assert.equal(noCert.status, 78);
    assert.match(noCert.stderr, /cannot read the certificate or key: .*nonexistent\.crt/);
    // The same words as iqqq inject for the same mistakes: one check of each.
    for (const [args, expected] of [
      [["--platform", "linux"], /--platform "linux": expected OS\/ARCH or OS\/ARCH\/VARIANT/],
      [["--allow-registry", "http://reg"], /--allow-registry "http:\/\/reg": .*is neither a registry/],
      [["--drain", "soon"], /--drain "soon": expected seconds/],
      [["--port", "65536"], /--port "65536": expected 0-65535/],
      [["--metrics-port", "-1"], /--metrics-port "-1": expected 0-65535/],
    ] as const) {
      const r = await runCli(["webhook", "--image", IMAGE, ...args], { timeoutMs: 15_000 });
      assert.equal(r.status, 64, r.stderr);
      assert.match(r.stderr, expected);
      if (args[0] === "--platform") {
        const inject = await runCli(["inject", "--image", IMAGE, ...args], { input: "", timeoutMs: 15_000 });
        assert.equal(inject.status, 64);
        assert.match(inject.stderr, expected);
      }
    }
  });
});
