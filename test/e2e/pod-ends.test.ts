// An injected pod always ends, on both builds: inject tells the wrapper which
// sidecars the pod has (Istio, Linkerd, cloud-sql-proxy…), its restartPolicy,
// and the wrapper acts on it: nothing is stopped under a failed program the
// kubelet will rerun (restartPolicy OnFailure), a member that starts again is
// not counted as finished, a sidecar the pod has but that is not listening yet
// is waited for, and the quit is attempted at least once whatever came before.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse, parseAllDocuments, stringify } from "yaml";
import { ROOT, runCli, startCli, watchOutput } from "../support/cli.js";
import { fakeRegistry } from "../support/fake-registry.js";
import { startFakeSidecar } from "../support/fake-sidecar.js";
import type { Obj } from "../support/read-back.js";
import { closedPort, fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();
const IMAGE = "registry.example/iqqq:1.0";

async function inject(yaml: string, args: readonly string[] = []) {
  const r = await runCli(["inject", "--image", IMAGE, ...args], { input: yaml, timeoutMs: 30_000 });
  const docs = r.status === 0 ? parseAllDocuments(r.stdout.toString()).map((d) => d.toJS() as Obj) : [];
  return { ...r, docs };
}

const job = (podMeta: string, containers: string, restartPolicy = "Never") =>
  `apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    metadata: ${podMeta}
    spec:
      restartPolicy: ${restartPolicy}
      containers:
${containers}`;

const JOB_CONTAINER = "      - {name: job, image: busybox, command: [sh, -c, 'exit 0']}\n";

function envOf(doc: Obj, name = "job"): Record<string, string> {
  const spec = doc.kind === "Job" ? doc.spec.template.spec : doc.spec;
  const c = spec.containers.find((x: Obj) => x.name === name);
  return Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e.value]));
}

describe("inject: which sidecars the pod has, and its restartPolicy", () => {
  test("each kind is found by its mark and told to iqqq: Istio, Linkerd, cloud-sql-proxy, Envoy; unknown keeps the default", async () => {
    const cases: [string, string, Record<string, string>][] = [
      [
        "{labels: {sidecar.istio.io/inject: 'true'}}",
        JOB_CONTAINER,
        { IQQQ_SIDECARS: "istio", IQQQ_POD_SIDECARS: "istio" },
      ],
      [
        "{annotations: {sidecar.istio.io/inject: 'true'}}",
        JOB_CONTAINER,
        { IQQQ_SIDECARS: "istio", IQQQ_POD_SIDECARS: "istio" },
      ],
      [
        "{}",
        `${JOB_CONTAINER}      - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}\n`,
        { IQQQ_SIDECARS: "istio", IQQQ_POD_SIDECARS: "istio" },
      ],
      [
        "{annotations: {linkerd.io/inject: enabled}}",
        JOB_CONTAINER,
        { IQQQ_SIDECARS: "linkerd", IQQQ_POD_SIDECARS: "linkerd" },
      ],
      [
        "{}",
        `${JOB_CONTAINER}      - {name: proxy, image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14, args: [--quitquitquit, --admin-port, '9092', 'p:r:i']}\n`,
        { IQQQ_SIDECARS: "cloudsql", IQQQ_POD_SIDECARS: "cloudsql", CLOUDSQL_ADMIN_PORT: "9092" },
      ],
      [
        "{}",
        `${JOB_CONTAINER}      - {name: envoy, image: envoyproxy/envoy:v1.31.0}\n`,
        { IQQQ_SIDECARS: "envoy", IQQQ_POD_SIDECARS: "envoy" },
      ],
      [
        "{labels: {sidecar.istio.io/inject: 'true'}, annotations: {linkerd.io/inject: enabled}}",
        `${JOB_CONTAINER}      - {name: sql, image: cloud-sql-proxy:2, args: [--quitquitquit]}\n`,
        { IQQQ_SIDECARS: "istio,linkerd,cloudsql", IQQQ_POD_SIDECARS: "istio,linkerd,cloudsql" },
      ],
      // Nothing says: the wrapper's default (istio), nothing known to be there.
      ["{}", JOB_CONTAINER, {}],
      // Istio turned off and nothing else: whichever known sidecar answers.
      ["{labels: {sidecar.istio.io/inject: 'false'}}", JOB_CONTAINER, { IQQQ_SIDECARS: "auto" }],
      // A native sidecar is the kubelet's to stop.
      [
        "{annotations: {linkerd.io/inject: enabled, config.linkerd.io/proxy-enable-native-sidecar: 'true'}}",
        JOB_CONTAINER,
        {},
      ],
    ];
    for (const [meta, containers, env] of cases) {
      const r = await inject(job(meta, containers));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(envOf(r.docs[0] as Obj), env, `${meta}\n${containers}`);
    }
  });

  test("Linkerd: the pod is given its shutdown endpoint (config.linkerd.io/proxy-admin-shutdown: enabled)", async () => {
    const r = await inject(job("{annotations: {linkerd.io/inject: enabled}}", JOB_CONTAINER));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.docs[0]?.spec.template.metadata.annotations, {
      "linkerd.io/inject": "enabled",
      "config.linkerd.io/proxy-admin-shutdown": "enabled",
    });
    const proxied = await inject(
      job("{}", `${JOB_CONTAINER}      - {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:edge-24.1.1}\n`),
    );
    assert.equal(proxied.status, 0, proxied.stderr);
    assert.match(
      proxied.stderr,
      /warning: stdin: document 1 \(line 1\): Job\/j: linkerd-proxy \(Linkerd's proxy admin server\) has its stop endpoint off: iqqq cannot stop it, and the pod will not end; turn it on: the pod annotation config\.linkerd\.io\/proxy-admin-shutdown: enabled/,
    );
  });

  test("cloud-sql-proxy without --quitquitquit: a warning that says the pod will not end and what fixes it", async () => {
    const r = await inject(
      job("{}", `${JOB_CONTAINER}      - {name: sql, image: cloud-sql-proxy:2, args: ['p:r:i']}\n`),
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /sql \(cloud-sql-proxy v2\) has its stop endpoint off: iqqq cannot stop it, and the pod will not end; turn it on: add --quitquitquit to its args/,
    );
  });

  test("restartPolicy OnFailure is told to iqqq; re-inject with another --image updates iqqq's and says so", async () => {
    const r = await inject(job("{}", JOB_CONTAINER, "OnFailure"));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(envOf(r.docs[0] as Obj).IQQQ_RESTART_POLICY, "OnFailure");
    const again = await runCli(["inject", "--image", "registry.example/iqqq:2.0"], {
      input: r.stdout,
      timeoutMs: 30_000,
    });
    assert.equal(again.status, 0, again.stderr);
    const doc = parse(again.stdout.toString());
    assert.equal(doc.spec.template.spec.initContainers[0].image, "registry.example/iqqq:2.0");
    assert.match(
      again.stderr,
      /iqqq's image changed from registry\.example\/iqqq:1\.0 to registry\.example\/iqqq:2\.0/,
    );
  });

  test("re-inject keeps the pod's facts true: a new restartPolicy, a new job container, a new sidecar set", async () => {
    const first = await inject(job("{}", JOB_CONTAINER, "OnFailure"));
    const changed = first.stdout.toString().replace("restartPolicy: OnFailure", "restartPolicy: Never");
    const again = await inject(changed);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(envOf(again.docs[0] as Obj).IQQQ_RESTART_POLICY, "Never");
    // Two job containers, then a third: every member learns of it.
    const two = await inject(job("{}", `${JOB_CONTAINER}      - {name: b, image: busybox, command: [b]}\n`));
    const withC = parse(two.stdout.toString());
    withC.spec.template.spec.containers.push({ name: "c", image: "busybox", command: ["c"] });
    const three = await inject(stringify(withC));
    assert.equal(three.status, 0, three.stderr);
    for (const name of ["job", "b", "c"]) assert.equal(envOf(three.docs[0] as Obj, name).IQQQ_GROUP, "job,b,c", name);
    // Watcher mode: a job container added since is marked and counted.
    const watched = await inject(job("{}", JOB_CONTAINER), ["--mode", "watcher"]);
    const withD = parse(watched.stdout.toString());
    withD.spec.template.spec.containers.unshift({ name: "d", image: "busybox", command: ["d"] });
    const more = await inject(stringify(withD), ["--mode", "watcher"]);
    assert.equal(more.status, 0, more.stderr);
    assert.equal(envOf(more.docs[0] as Obj, "iqqq-watcher").IQQQ_WATCH_CONTAINERS, "2");
    const d = more.docs[0]?.spec.template.spec.containers.find((c: Obj) => c.name === "d");
    assert.deepEqual(d.volumeMounts, [{ name: "iqqq-job", mountPath: "/run/iqqq-job", readOnly: true }]);
  });

  test("cloud-sql-proxy set up by its variables, and two proxies on two ports: each is stopped", async () => {
    const r = await inject(
      job(
        "{}",
        `${JOB_CONTAINER}      - {name: one, image: cloud-sql-proxy:2, env: [{name: CSQL_PROXY_QUITQUITQUIT, value: "true"}, {name: CSQL_PROXY_ADMIN_PORT, value: "9092"}]}\n      - {name: two, image: cloud-sql-proxy:2, args: [--quitquitquit=1, --admin-port=9093]}\n`,
      ),
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.deepEqual(envOf(r.docs[0] as Obj), {
      IQQQ_SIDECARS: "cloudsql",
      IQQQ_POD_SIDECARS: "cloudsql",
      CLOUDSQL_ADMIN_PORT: "9092",
      GENERIC_QUIT_ENDPOINTS: "http://127.0.0.1:9093/quitquitquit",
    });
  });

  test("watcher mode in an OnFailure pod: a warning that says to use the wrapper", async () => {
    const r = await inject(job("{}", JOB_CONTAINER, "OnFailure"), ["--mode", "watcher"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /restartPolicy is OnFailure: a watcher cannot tell a failed run .* inject it as a wrapper/);
  });

  test("the shipped watcher examples inject cleanly: their own watcher is recognised, not looked up", async () => {
    for (const file of ["examples/watcher/job.yaml", "examples/watcher/cronjob.yaml"]) {
      const text = await readFile(join(ROOT, file), "utf8");
      const r = await runCli(["inject", "--image", IMAGE, "--mode", "watcher"], { input: text, timeoutMs: 30_000 });
      assert.equal(r.status, 0, `${file}: ${r.stderr}`);
      assert.equal(r.stdout.toString(), text, `${file}: a pod with its own watcher needs nothing`);
    }
  });

  test("an image whose registry cannot be reached: the registry, the reason, and the two ways out", async () => {
    const port = await closedPort();
    const noCommand = (image: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: nc}\nspec:\n  containers:\n  - {name: job, image: ${image}}\n`;
    const refused = await inject(noCommand(`127.0.0.1:${port}/team/job:1`));
    assert.equal(refused.status, 65);
    assert.match(
      refused.stderr,
      new RegExp(
        `container job has no command, and its image's ENTRYPOINT could not be read from 127\\.0\\.0\\.1:${port}: connection refused; give the container a command: \\(its image's ENTRYPOINT and CMD\\), or use --mode watcher`,
      ),
    );
    const registry = await fakeRegistry();
    registry.requireCredentials = "dXNlcjpwYXNz";
    try {
      const denied = await inject(noCommand(`127.0.0.1:${registry.port}/team/job:1`));
      assert.equal(denied.status, 65);
      assert.match(
        denied.stderr,
        /: 401 Unauthorized: it wants credentials \(docker login or podman login, or DOCKER_CONFIG/,
      );
    } finally {
      registry.server.close();
    }
  });

  test("--explain in the injected container says what it will stop, why, and what it waits for", async () => {
    const r = await inject(
      job(
        "{annotations: {linkerd.io/inject: enabled}}",
        `${JOB_CONTAINER}      - {name: sql, image: cloud-sql-proxy:2, args: [--quitquitquit, --admin-port=9092]}\n`,
        "OnFailure",
      ),
    );
    const env = envOf(r.docs[0] as Obj);
    const explained = await runCli(["--explain", "true"], { env: { ...K8S, ...env } });
    assert.equal(explained.status, 0, explained.stderr);
    const text = explained.stdout.toString();
    assert.match(text, /if the program fails, stop no sidecar: .*restartPolicy is OnFailure/);
    assert.match(text, /POST http:\/\/127\.0\.0\.1:4191\/shutdown \(linkerd.*the pod has it/);
    assert.match(text, /POST http:\/\/127\.0\.0\.1:9092\/quitquitquit \(cloudsql.*the pod has it/);
  });
});

describe("examples to inject", () => {
  const expected: Record<string, Record<string, Record<string, string>>> = {
    "istio.yaml": { report: { IQQQ_SIDECARS: "istio", IQQQ_POD_SIDECARS: "istio" } },
    "linkerd.yaml": { report: { IQQQ_SIDECARS: "linkerd", IQQQ_POD_SIDECARS: "linkerd" } },
    "cloudsql.yaml": {
      report: { IQQQ_SIDECARS: "cloudsql", IQQQ_POD_SIDECARS: "cloudsql", CLOUDSQL_ADMIN_PORT: "9092" },
    },
    "onfailure.yaml": {
      nightly: { IQQQ_SIDECARS: "istio", IQQQ_POD_SIDECARS: "istio", IQQQ_RESTART_POLICY: "OnFailure" },
    },
    "two-containers.yaml": {
      extract: {
        IQQQ_SIDECARS: "istio",
        IQQQ_POD_SIDECARS: "istio",
        IQQQ_GROUP: "extract,load",
        IQQQ_NAME: "extract",
        IQQQ_GROUP_DIR: "/run/iqqq-group",
      },
      load: {
        IQQQ_SIDECARS: "istio",
        IQQQ_POD_SIDECARS: "istio",
        IQQQ_GROUP: "extract,load",
        IQQQ_NAME: "load",
        IQQQ_GROUP_DIR: "/run/iqqq-group",
      },
    },
  };
  for (const [file, containers] of Object.entries(expected)) {
    test(`examples/inject/${file}: injected without a warning, iqqq told what the pod has, its comments kept`, async () => {
      const text = await readFile(join(ROOT, "examples/inject", file), "utf8");
      const r = await runCli(["inject", "--image", IMAGE], { input: text, timeoutMs: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "");
      const out = r.stdout.toString();
      const doc = parse(out);
      const spec = doc.kind === "CronJob" ? doc.spec.jobTemplate.spec.template.spec : doc.spec.template.spec;
      for (const [name, env] of Object.entries(containers)) {
        const c = spec.containers.find((x: Obj) => x.name === name);
        assert.equal(c.command[0], "/opt/iqqq/iqqq", name);
        assert.deepEqual(Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value])), env, name);
      }
      for (const comment of text.match(/#.*$/gm) ?? []) assert.ok(out.includes(comment.trim()), `lost: ${comment}`);
    });
  }

  test("every other example comes through inject with its comments (the wrapped ones unchanged)", async () => {
    for (const kind of ["istio", "linkerd", "cloudsql", "watcher"]) {
      for (const file of ["job.yaml", "cronjob.yaml"]) {
        const text = await readFile(join(ROOT, "examples", kind, file), "utf8");
        const args = kind === "watcher" ? ["--mode", "watcher"] : [];
        const r = await runCli(["inject", "--image", IMAGE, ...args], { input: text, timeoutMs: 30_000 });
        assert.equal(r.status, 0, `${kind}/${file}: ${r.stderr}`);
        assert.equal(r.stdout.toString(), text, `${kind}/${file}: a pod that brings its own iqqq needs nothing`);
      }
    }
  });
});

describe("the wrapper acts on what the pod says", () => {
  test("restartPolicy OnFailure: a failed program stops nothing (the retry needs its sidecars); a success stops", async () => {
    const s = await sidecar({ stayAfterQuit: true });
    const env = { ...K8S, ISTIO_PORT: String(s.port), IQQQ_RESTART_POLICY: "OnFailure", IQQQ_LOG_LEVEL: "info" };
    const failed = await runCli(["sh", "-c", "exit 3"], { env });
    assert.equal(failed.status, 3);
    assert.equal(s.quits(), 0, failed.stderr);
    assert.match(
      failed.stderr,
      /not stopping any sidecar: the program failed and the pod's restartPolicy is OnFailure/,
    );
    const succeeded = await runCli(["true"], { env });
    assert.equal(succeeded.status, 0, succeeded.stderr);
    assert.equal(s.quits(), 1);
  });

  test("group and OnFailure: a failed member records nothing, a restarted one clears its old record, the last success stops", async () => {
    const s = await sidecar({ stayAfterQuit: true });
    const dir = await mkdtemp(join(tmpdir(), "iqqq-group-"));
    const env = (name: string) => ({
      ...K8S,
      ISTIO_PORT: String(s.port),
      IQQQ_RESTART_POLICY: "OnFailure",
      IQQQ_GROUP: "a,b",
      IQQQ_NAME: name,
      IQQQ_GROUP_DIR: dir,
    });
    // A left a record from an earlier run that failed (Never) or from before its restart.
    await writeFile(join(dir, "a.exit"), '{"status":1}\n');
    const go = join(dir, "go");
    const a = startCli(["sh", "-c", `while [ ! -e ${go} ]; do sleep 0.05; done`], { env: env("a") });
    const aDone = new Promise<number | null>((resolve) => a.once("close", resolve));
    // Running again, A is not finished: its record goes.
    for (let i = 0; existsSync(join(dir, "a.exit")); i++) {
      assert.ok(i < 400, "a.exit was not cleared");
      await new Promise((r) => setTimeout(r, 25));
    }
    const bFails = await runCli(["sh", "-c", "exit 2"], { env: env("b") });
    assert.equal(bFails.status, 2);
    assert.equal(existsSync(join(dir, "b.exit")), false, "a failed member the kubelet reruns records nothing");
    const b = await runCli(["true"], { env: env("b") });
    assert.equal(b.status, 0, b.stderr);
    assert.equal(s.quits(), 0, "A still runs: nothing may be stopped");
    await writeFile(go, "");
    assert.equal(await aDone, 0);
    assert.equal(s.quits(), 1, "the last one out stops the sidecars");
  });

  test("a sidecar the pod has but that is not listening yet is waited for, then stopped", async () => {
    const port = await closedPort();
    const child = startCli(["true"], {
      env: { ...K8S, ISTIO_PORT: String(port), IQQQ_POD_SIDECARS: "istio", IQQQ_LOG_LEVEL: "info" },
    });
    const log = watchOutput(child.stderr as NodeJS.ReadableStream);
    const done = new Promise<number | null>((resolve) => child.once("close", resolve));
    await log.until("the pod has it, so its stop is retried", 20_000);
    // The proxy comes up only now.
    const late = await startFakeSidecar({ port });
    try {
      assert.equal(await done, 0, log.text());
      await late.stopped;
      assert.match(log.text(), /stopped istio/);
    } finally {
      await late.close();
    }
  });

  test("a late sidecar whose first answer is a 503: retried within a quit timeout of its own, then stopped", async () => {
    const port = await closedPort();
    const child = startCli(["true"], {
      env: {
        ...K8S,
        ISTIO_PORT: String(port),
        IQQQ_POD_SIDECARS: "istio",
        IQQQ_QUIT_TIMEOUT: "1s",
        IQQQ_LOG_LEVEL: "info",
      },
    });
    const log = watchOutput(child.stderr as NodeJS.ReadableStream);
    const done = new Promise<number | null>((resolve) => child.once("close", resolve));
    await log.until("the pod has it, so its stop is retried", 20_000);
    // Wait past IQQQ_QUIT_TIMEOUT (1s) before the sidecar comes up: its answers get a budget of their own.
    await new Promise((r) => setTimeout(r, 1500));
    const late = await startFakeSidecar({ port, quit: [{ status: 503, body: "starting" }, "ok"] });
    try {
      assert.equal(await done, 0, log.text());
      assert.match(log.text(), /stopped istio/);
      assert.equal(late.quits(), 1);
    } finally {
      await late.close();
    }
  });

  test("nothing listening and nothing says the pod has it: absent at once, with what fixes a late one", async () => {
    const port = await closedPort();
    const r = await runCli(["true"], { env: { ...K8S, ISTIO_PORT: String(port) } });
    assert.equal(r.status, 0);
    assert.match(
      r.stderr,
      /no sidecar is listening at .*: nothing to stop there\. If the pod has one that starts late, set IQQQ_WAIT_FOR=istio .* or IQQQ_POD_SIDECARS=istio/,
    );
    assert.match(r.stderr, /\(its port from ISTIO_PORT\)/);
    // A quit timeout shorter than the grace for refusals: the same message, not the late sidecar's.
    const short = await runCli(["true"], { env: { ...K8S, ISTIO_PORT: String(port), IQQQ_QUIT_TIMEOUT: "100ms" } });
    assert.match(short.stderr, /no sidecar is listening at/);
    assert.doesNotMatch(short.stderr, /though the pod has it/);
  });

  test("a watcher never applies the OnFailure rule (it cannot see a failure): the sidecars are stopped", async () => {
    const s = await sidecar({ stayAfterQuit: true });
    const r = await runCli([], {
      env: {
        ...K8S,
        ISTIO_PORT: String(s.port),
        IQQQ_WATCH_PROCESS: "never-there",
        IQQQ_WATCH_START_TIMEOUT: "200ms",
        IQQQ_RESTART_POLICY: "OnFailure",
      },
    });
    assert.equal(r.status, 75, r.stderr);
    assert.equal(s.quits(), 1, r.stderr);
  });

  test("a huge annotations file costs nothing, and the quit is sent at least once however small the budget", async () => {
    const s = await sidecar();
    const dir = await mkdtemp(join(tmpdir(), "iqqq-podinfo-"));
    const file = join(dir, "annotations");
    await writeFile(file, `a="${"x".repeat(100 * 1024 * 1024)}"\n`);
    const r = await runCli(["true"], {
      env: { ...K8S, ISTIO_PORT: String(s.port), IQQQ_PODINFO_ANNOTATIONS: file, IQQQ_QUIT_TIMEOUT: "1ms" },
      timeoutMs: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(s.quits(), 1, r.stderr);
    assert.match(r.stderr, /cannot read the pod's annotations from .*larger than 1048576 bytes/);
  });
});
