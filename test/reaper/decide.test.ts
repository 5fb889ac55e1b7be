// iqqq reaper's decision table: which pod is reaped, which waits, which is
// skipped and why, from the pod alone (src/reaper/decide.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { type ContainerView, decide, type PodView, REAPER_CONTAINER } from "../../src/reaper/decide.js";
import { parseSelector, type Selector } from "../../src/reaper/selector.js";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const ENDED = "2026-01-01T11:59:00Z"; // 60 s before NOW
const GRACE = 30_000;

interface Shape {
  job?: boolean;
  labels?: Record<string, string>;
  restartPolicy?: string;
  jobState?: "running" | "waiting" | "creating" | { exitCode: number; finishedAt?: string };
  extraJob?: "running" | { exitCode: number; finishedAt?: string };
  sidecar?: "running" | "ended" | "none" | "native";
  sidecarImage?: string;
  jobImage?: string;
  ephemeral?: string;
  deleting?: boolean;
  keep?: ContainerView["keepSidecars"];
}

function pod(s: Shape = {}): PodView {
  const state = (x: Shape["jobState"]) =>
    x === "running"
      ? { running: {} }
      : x === "waiting"
        ? { waiting: { reason: "CrashLoopBackOff" } }
        : x === "creating"
          ? { waiting: { reason: "ContainerCreating" } }
          : { terminated: { exitCode: x?.exitCode ?? 0, finishedAt: x?.finishedAt ?? ENDED } };
  const sidecar = s.sidecar ?? "running";
  const containers: ContainerView[] = [
    {
      name: "job",
      image: s.jobImage ?? "registry.example/report:1",
      ...(s.keep === undefined ? {} : { keepSidecars: s.keep }),
    },
  ];
  const statuses: { name: string; state: object; restarted?: boolean }[] = [
    {
      name: "job",
      state: state(s.jobState ?? { exitCode: 0 }),
      ...(s.jobState === "waiting" ? { restarted: true } : {}),
    },
  ];
  if (s.extraJob !== undefined) {
    containers.push({ name: "upload", image: "registry.example/upload:1" });
    statuses.push({ name: "upload", state: state(s.extraJob) });
  }
  if (sidecar === "running" || sidecar === "ended") {
    containers.push({
      name: s.sidecarImage ? "proxy" : "istio-proxy",
      image: s.sidecarImage ?? "docker.io/istio/proxyv2:1.24.0",
    });
    statuses.push({
      name: s.sidecarImage ? "proxy" : "istio-proxy",
      state: sidecar === "running" ? { running: {} } : { terminated: { exitCode: 0, finishedAt: ENDED } },
    });
  }
  return {
    metadata: {
      name: "report-abc12",
      namespace: "batch",
      uid: "u1",
      resourceVersion: "5",
      labels: s.labels ?? {},
      ...(s.job === false ? {} : { ownerReferences: [{ kind: "Job", apiVersion: "batch/v1", name: "report" }] }),
      ...(s.deleting ? { deletionTimestamp: ENDED } : {}),
    },
    spec: {
      restartPolicy: s.restartPolicy ?? "Never",
      containers,
      initContainers:
        sidecar === "native"
          ? [{ name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.0", restartPolicy: "Always" }]
          : [],
      ephemeralContainers: s.ephemeral === undefined ? [] : [{ name: s.ephemeral }],
    },
    status: { phase: "Running", containerStatuses: statuses },
  };
}

const run = (p: PodView, jobSelector?: Selector) =>
  decide(p, { graceMs: GRACE, nowMs: NOW, ...(jobSelector === undefined ? {} : { jobSelector }) });

function outcome(p: PodView, jobSelector?: Selector): string {
  const d = run(p, jobSelector);
  return d.kind === "skip"
    ? `skip:${d.reason}`
    : d.kind === "reap"
      ? `reap:${d.sidecars.map((s) => s.kind.name).join(",")}`
      : "wait";
}

test("the decision table", () => {
  const selector = parseSelector("workflows.argoproj.io/workflow") as Selector;
  const cases: [string, Shape, string, Selector?][] = [
    ["Never, job exited 0, istio-proxy running", {}, "reap:istio"],
    [
      "Never, job failed: it will not run again, so the pod must end (Failed)",
      { jobState: { exitCode: 3 } },
      "reap:istio",
    ],
    ["OnFailure, job exited 0", { restartPolicy: "OnFailure" }, "reap:istio"],
    [
      "OnFailure, job failed: the kubelet runs it again",
      { restartPolicy: "OnFailure", jobState: { exitCode: 1 } },
      "skip:will-restart",
    ],
    ["OnFailure, job waiting in back-off", { restartPolicy: "OnFailure", jobState: "waiting" }, "skip:will-restart"],
    [
      "OnFailure, job waiting to start for the first time: running, not restarting",
      { restartPolicy: "OnFailure", jobState: "creating" },
      "skip:job-running",
    ],
    ["Always (not a Job's pod policy)", { restartPolicy: "Always" }, "skip:will-restart"],
    ["job still running", { jobState: "running" }, "skip:job-running"],
    ["one of two job containers still running", { extraJob: "running" }, "skip:job-running"],
    ["both job containers ended", { extraJob: { exitCode: 0 } }, "reap:istio"],
    ["native sidecar: the kubelet stops it", { sidecar: "native" }, "skip:native-sidecar"],
    ["no sidecar", { sidecar: "none" }, "skip:no-sidecar"],
    ["sidecar already stopped", { sidecar: "ended" }, "skip:sidecar-stopped"],
    ["not a Job", { job: false }, "skip:not-a-job"],
    [
      "not a Job, but the job selector matches",
      { job: false, labels: { "workflows.argoproj.io/workflow": "w" } },
      "reap:istio",
      selector,
    ],
    ["not a Job, the job selector does not match", { job: false, labels: { app: "x" } }, "skip:not-a-job", selector],
    ["being deleted", { deleting: true }, "skip:deleting"],
    ["already has the reaper's ephemeral container", { ephemeral: REAPER_CONTAINER }, "skip:already-reaped"],
    ["another ephemeral container (kubectl debug) is no obstacle", { ephemeral: "debugger-x" }, "reap:istio"],
    ["within the grace period", { jobState: { exitCode: 0, finishedAt: "2026-01-01T11:59:45Z" } }, "wait"],
    ["a sidecar known by its image", { sidecarImage: "docker.io/envoyproxy/envoy:v1.31" }, "reap:envoy"],
    // A container like a sidecar only by its image, with no other job container: the job (envoy --mode validate).
    [
      "the job runs a sidecar's image, alone",
      { jobImage: "envoyproxy/envoy:v1.31", sidecar: "none" },
      "skip:no-sidecar",
    ],
    ["the job runs a sidecar's image, beside istio-proxy", { jobImage: "envoyproxy/envoy:v1.31" }, "reap:istio"],
    // What iqqq inside would obey: the job container's own DISABLE_IQQQ, NEVER_KILL_ISTIO(_ON_FAILURE).
    ["the job says DISABLE_IQQQ=true", { keep: { when: "always", variable: "DISABLE_IQQQ" } }, "skip:opted-out"],
    [
      "the job says NEVER_KILL_ISTIO_ON_FAILURE=true and failed",
      { jobState: { exitCode: 2 }, keep: { when: "on-failure", variable: "NEVER_KILL_ISTIO_ON_FAILURE" } },
      "skip:opted-out",
    ],
    [
      "the job says NEVER_KILL_ISTIO_ON_FAILURE=true and succeeded",
      { keep: { when: "on-failure", variable: "NEVER_KILL_ISTIO_ON_FAILURE" } },
      "reap:istio",
    ],
    [
      "an opt-out does not hurry a job still running",
      { jobState: "running", keep: { when: "always", variable: "NEVER_KILL_ISTIO" } },
      "skip:job-running",
    ],
  ];
  for (const [name, shape, expected, sel] of cases) assert.equal(outcome(pod(shape), sel), expected, name);
});

test("the grace period counts from the last job container's end", () => {
  const p = pod({
    jobState: { exitCode: 0, finishedAt: "2026-01-01T11:59:45Z" },
    extraJob: { exitCode: 0, finishedAt: "2026-01-01T11:59:50Z" },
  });
  const d = run(p);
  assert.equal(d.kind, "wait");
  assert.equal(d.kind === "wait" && d.untilMs, Date.parse("2026-01-01T11:59:50Z") + GRACE);
  assert.equal(decide(p, { graceMs: GRACE, nowMs: Date.parse("2026-01-01T12:00:20Z") }).kind, "reap");
});

test("a reap says why, naming the containers", () => {
  const d = run(pod({ extraJob: { exitCode: 0 } }));
  assert.equal(d.kind, "reap");
  assert.match(
    d.kind === "reap" ? d.why : "",
    /every job container \(job, upload\) has ended.*istio-proxy \(istio\) was still running 30 s later/,
  );
});

test("label selectors as kubectl reads them", () => {
  const s = (text: string) => parseSelector(text) as Selector;
  assert.ok(s("a=b,c!=d").matches({ a: "b" }));
  assert.ok(!s("a=b,c!=d").matches({ a: "b", c: "d" }));
  assert.ok(s("env in (x, y),!legacy").matches({ env: "y" }));
  assert.ok(!s("env in (x, y),!legacy").matches({ env: "y", legacy: "" }));
  assert.ok(s("env notin (x)").matches({}));
  assert.ok(s("example.com/k==v").matches({ "example.com/k": "v" }));
  assert.ok(parseSelector("a=b,,c") instanceof Error);
  assert.ok(parseSelector("a b") instanceof Error);
});
