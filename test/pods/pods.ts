// npm run test:pods: real pods. podman plays the Pod manifests of test/pods/manifests/
// (pods as users write them, with only the image names substituted) as real
// containers under runc, in pods that share loopback (and, when asked, the
// process namespace), and this checks how each pod ends.
//
// Images are built locally (no registry is reachable): distroless-like bases
// from this machine's own glibc, busybox and node; the job images; and iqqq
// images from the project's own docker/*.Dockerfile, as users build them.
// The recipe and this machine's settings: ../shared/podman.md.

import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { createServer } from "node:net";
import { arch, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { parse, stringify } from "yaml";
import { type HttpSidecar, SIDECARS } from "../../src/sidecar/catalogue.js";
import { ROOT } from "../support/cli.js";
import { allDocBlocks, type DocBlock, docBlocks, instructions } from "../support/doc-blocks.js";
import type { Obj } from "../support/read-back.js";
import { makeTls } from "../support/tls.js";

const WORK = mkdtempSync(join(tmpdir(), "iqqq-pods-"));
const CONF = join(WORK, "containers.conf");
// The defaults fail on this machine (setrlimit, cgroup v2), and crun refuses
// its hybrid cgroups: see ../shared/podman.md.
writeFileSync(CONF, '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n');
const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: CONF };
const TAG = "localhost/iqqq-pods";
const VARIANT = `linux-${arch() === "arm64" ? "arm64" : "x64"}`;

function podman(args: readonly string[], options: { allowFail?: boolean; timeoutMs?: number } = {}): string {
  const r = spawnSync("podman", ["--runtime", "runc", ...args], {
    env: PODMAN_ENV,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 300_000,
  });
  if (r.status !== 0 && !options.allowFail) {
    throw new Error(`podman ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
  }
  return r.stdout.trim();
}

const MUSL = `/lib/ld-musl-${arch() === "arm64" ? "aarch64" : "x86_64"}.so.1`;
const available =
  process.getuid?.() === 0 &&
  spawnSync("podman", ["--version"]).status === 0 &&
  existsSync("/bin/busybox") &&
  existsSync(MUSL) &&
  spawnSync("docker-registry", ["--version"]).status === 0 &&
  spawnSync("patchelf", ["--version"]).status === 0 &&
  existsSync(join(ROOT, `dist/bin/iqqq-${VARIANT}`));
const missing =
  "needs root, podman, runc, busybox-static, musl, docker-registry, patchelf, openssl and dist/bin (npm run test:pods installs them)";
// Skipped on a developer's machine that lacks them; in CI a missing piece is a failure.
const skip = available || process.env.CI ? false : missing;

// ---------------------------------------------------------------- images

/** The shared libraries `ldd` lists for a binary, with the loader. */
function libraries(binary: string): string[] {
  const out = execFileSync("ldd", [binary], { encoding: "utf8" });
  return [...out.matchAll(/(\/\S+\.so[^\s]*)/g)].map((m) => m[1] as string);
}

/** A FROM-scratch image from host files: what "distroless base" is, plus busybox. */
function buildBase(name: string, binaries: readonly string[], user = "0", withLibraries = true): void {
  const dir = join(WORK, `base-${name}`);
  const rootfs = join(dir, "rootfs");
  const files = new Set<string>(binaries);
  if (withLibraries) for (const binary of binaries) for (const lib of libraries(binary)) files.add(lib);
  for (const file of files) {
    const target = join(rootfs, file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
  // busybox as the userland of the job scripts (sh, sleep, date, echo…).
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  for (const tool of ["sh", "sleep", "date", "echo", "cat", "kill"]) symlinkSync("busybox", join(rootfs, "bin", tool));
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  // The kubelet sets KUBERNETES_SERVICE_HOST in every container it starts;
  // `podman kube play` does not (nor does containers.conf's env reach it), so
  // the test bases carry it, and the manifests stay exactly as users copy them.
  writeFileSync(
    join(dir, "Containerfile"),
    `FROM scratch\nCOPY rootfs/ /\nENV KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443\nUSER ${user}\n`,
  );
  podman(["build", "-q", "-t", `${TAG}/base:${name}`, dir]);
}

function buildJob(name: string, base: string, files: Record<string, string>): void {
  const dir = join(WORK, `job-${name}`);
  mkdirSync(join(dir, "app"), { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, "app", file), content, { mode: 0o755 });
  podman([
    "build",
    "-q",
    "-f",
    join(ROOT, "test/pods/images/job.Containerfile"),
    "--build-arg",
    `BASE=${base}`,
    "-t",
    `${TAG}/job:${name}`,
    dir,
  ]);
}

/** One of the project's own Dockerfiles, context the repository, as docs/install.md says. */
function buildIqqq(dockerfile: string, base: string, tag: string): void {
  podman([
    "build",
    "-q",
    "-f",
    join(ROOT, "docker", dockerfile),
    "--build-arg",
    `BASE=${base}`,
    "--build-arg",
    `VARIANT=${VARIANT}`,
    "-t",
    tag,
    ROOT,
  ]);
}

const JOBS: Record<string, string> = {
  ok: '#!/bin/sh\necho "job: started"\nsleep 1\necho "job: done"\nexit 0\n',
  fail: '#!/bin/sh\necho "job: started"\nsleep 1\necho "job: failing"\nexit 3\n',
  killed: '#!/bin/sh\necho "job: started"\nsleep 1\necho "job: killing itself with SIGKILL"\nkill -KILL $$\n',
  long: '#!/bin/sh\necho "job: started"\ntrap \'echo "job: got SIGTERM"; exit 143\' TERM\nsleep 300 &\nwait $!\n',
};

before(
  () => {
    if (!available) {
      if (process.env.CI) throw new Error(missing);
      return;
    }
    const started = Date.now();
    const node = process.execPath;
    buildBase("glibc", [join(ROOT, `dist/bin/iqqq-${VARIANT}`)]);
    buildBase("node", [node]);
    // As distroless's :nonroot images (uid 65532), for the watcher's runAsNonRoot.
    buildBase("nonroot", [join(ROOT, `dist/bin/iqqq-${VARIANT}`)], "65532");
    for (const [name, script] of Object.entries(JOBS)) buildJob(name, `${TAG}/base:glibc`, { job: script });
    const nodeJob = 'console.log("job: started (node)");\nsetTimeout(() => console.log("job: done"), 500);\n';
    buildJob("node", `${TAG}/base:node`, { "job.js": nodeJob, job: `#!${node}\n${nodeJob}` });
    // The fake pilot-agent, bundled into one file for the node base.
    const fake = join(WORK, "fake");
    mkdirSync(fake, { recursive: true });
    execFileSync(join(ROOT, "node_modules/.bin/esbuild"), [
      join(ROOT, "test/support/fake-sidecar.ts"),
      "--bundle",
      "--platform=node",
      "--format=esm",
      `--outfile=${join(fake, "fake-sidecar.mjs")}`,
      "--log-level=warning",
    ]);
    const fakefile = join(ROOT, "test/pods/images/fake-istio.Containerfile");
    podman([
      "build",
      "-q",
      "-f",
      fakefile,
      "--build-arg",
      `BASE=${TAG}/base:node`,
      "-t",
      `${TAG}/istio-proxy:fake`,
      fake,
    ]);
    // --no-cache: buildah reuses the ENV layer of the first build despite the other ARG value.
    podman([
      "build",
      "-q",
      "--no-cache",
      "-f",
      fakefile,
      "--build-arg",
      `BASE=${TAG}/base:node`,
      "--build-arg",
      "READY_AFTER_MS=3000",
      "-t",
      `${TAG}/istio-proxy:slow`,
      fake,
    ]);
    for (const name of Object.keys(JOBS)) buildIqqq("wrap.Dockerfile", `${TAG}/job:${name}`, `${TAG}/job:${name}-iqqq`);
    buildIqqq("add.Dockerfile", `${TAG}/job:ok`, `${TAG}/job:ok-iqqq-add`);
    buildIqqq("wrap-node.Dockerfile", `${TAG}/job:node`, `${TAG}/job:node-iqqq`);
    buildIqqq("watcher.Dockerfile", `${TAG}/base:nonroot`, `${TAG}/iqqq-watcher:local`);
    // The watcher example's job: a program named "report", run as `report --since 24h`.
    buildJob("report", `${TAG}/base:glibc`, { job: JOBS.ok as string });
    const report = join(WORK, "report");
    mkdirSync(join(report, "usr/local/bin"), { recursive: true });
    writeFileSync(
      join(report, "usr/local/bin/report"),
      // With a gate mounted (the watcher's guide), it runs until the test opens it; else 2 s.
      '#!/bin/sh\necho "report: started $*"\nif [ -p /gate/go ]; then cat /gate/go >/dev/null; else sleep 2; fi\necho "report: done"\n',
      { mode: 0o755 },
    );
    writeFileSync(join(report, "Containerfile"), `FROM ${TAG}/base:glibc\nCOPY usr/ /usr/\n`);
    podman(["build", "-q", "-t", `${TAG}/job:report`, report]);
    console.log(`# images built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  { timeout: 600_000 },
);

// ------------------------------------------- iqqq inject, the webhook, a registry

const HOST_EXE = join(ROOT, `dist/bin/iqqq-${VARIANT}`);
const SIDECAR_IMAGE = `${TAG}/istio-proxy:fake`;
const IQQQ_IMAGE = `${TAG}/iqqq:image`;
let registry: { process: ChildProcess; host: string } | undefined;

before(
  async () => {
    if (!available) return;
    // The iqqq image as npm run release builds it: /opt/iqqq self-contained (scripts/image.mjs).
    const { stageImage } = (await import(join(ROOT, "scripts/image.mjs"))) as { stageImage(exe: string): string };
    podman(["build", "-q", "-t", IQQQ_IMAGE, stageImage(HOST_EXE)]);
    // Job images without iqqq: glibc (base:glibc), musl only (an Alpine-like libc), and nothing at all.
    buildBase("musl", [MUSL], "0", false);
    buildBase("scratch", []);
    // A real registry on loopback (Debian's docker-registry), for the ENTRYPOINT look-up.
    const port = await freePort();
    const dir = join(WORK, "registry");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "config.yml"),
      `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: 127.0.0.1:${port}}\n`,
    );
    const child = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
    registry = { process: child, host: `127.0.0.1:${port}` };
    await until(
      () => spawnSync("busybox", ["wget", "-q", "-O", "/dev/null", `http://${registry?.host}/v2/`]).status === 0,
      15_000,
    );
    // An image whose ENTRYPOINT and CMD run the job, and an index with an arm64 image besides.
    const entry = join(WORK, "entry");
    mkdirSync(entry, { recursive: true });
    writeFileSync(
      join(entry, "Containerfile"),
      `FROM ${TAG}/base:glibc\nENTRYPOINT ["/bin/sh", "-c"]\nCMD ["echo job: started; sleep 1; echo job: exiting 4; exit 4"]\n`,
    );
    const pushed = `${registry.host}/jobs/entry:1`;
    podman(["build", "-q", "-t", pushed, entry]);
    podman(["push", "-q", "--tls-verify=false", pushed]);
    // FROM scratch: a base image of this machine's arch would be pulled again for arm64.
    writeFileSync(join(entry, "entry.arm64"), "#!/bin/sh\n");
    writeFileSync(
      join(entry, "Containerfile.arm64"),
      'FROM scratch\nCOPY entry.arm64 /arm64/entry\nENTRYPOINT ["/arm64/entry"]\n',
    );
    podman([
      "build",
      "-q",
      "--arch",
      "arm64",
      "-f",
      join(entry, "Containerfile.arm64"),
      "-t",
      `${registry.host}/jobs/entry:arm64`,
      entry,
    ]);
    const index = `${registry.host}/jobs/multi:1`;
    podman(["manifest", "create", index]);
    podman(["manifest", "add", index, `containers-storage:${pushed}`]);
    podman(["manifest", "add", index, `containers-storage:${registry.host}/jobs/entry:arm64`]);
    podman(["manifest", "push", "-q", "--all", "--tls-verify=false", index, `docker://${index}`]);
  },
  { timeout: 600_000 },
);

// The work directory holds every image's files (about 1 GB a run): gone with the run, whatever its outcome.
after(() => {
  registry?.process.kill();
  rmSync(WORK, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** iqqq inject, the executable under test, on a manifest. */
function inject(yaml: string, ...args: string[]): string {
  const r = spawnSync(HOST_EXE, ["inject", "--image", IQQQ_IMAGE, ...args], { input: yaml, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/**
 * podman kube play has no downward API volumes: the iqqq-podinfo volume becomes
 * a host folder holding the file the kubelet would write (metadata.annotations,
 * one key="value" per line). Nothing else in the manifest is changed.
 */
function withoutDownwardApi(yaml: string): string {
  const pod = parse(yaml) as {
    metadata: { name: string; annotations?: Record<string, string> };
    spec: { volumes?: { downwardAPI?: unknown; hostPath?: { path: string; type: string } }[] };
  };
  for (const volume of pod.spec.volumes ?? []) {
    if (volume.downwardAPI === undefined) continue;
    const dir = join(WORK, `podinfo-${pod.metadata.name}`);
    mkdirSync(dir, { recursive: true });
    const lines = Object.entries(pod.metadata.annotations ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}\n`);
    writeFileSync(join(dir, "annotations"), lines.join(""));
    delete volume.downwardAPI;
    volume.hostPath = { path: dir, type: "Directory" };
  }
  return stringify(pod);
}

/** A pod as a user writes it: a job container and the (fake) istio-proxy; no iqqq anywhere. */
function plainPod(name: string, job: Record<string, unknown>, labels: Record<string, string> = {}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: name, ...labels } },
    spec: {
      restartPolicy: "Never",
      containers: [
        { name: "job", ...job },
        { name: "istio-proxy", image: SIDECAR_IMAGE },
      ],
    },
  });
}

// ---------------------------------------------------------------- pods

interface Outcome {
  scenario: string;
  status: string;
  exits: Record<string, string>;
  /** From the job container's end to the last container's end, or why there is none. */
  delay: string;
  logs: Record<string, string>;
  /** The same with podman's timestamps. */
  stamped: Record<string, string>;
}
const table: Outcome[] = [];

/** The image names in test/pods/manifests/, and what each scenario puts in their place. */
const IMAGES = {
  wrapped: "registry.example/nightly-report:1.0-iqqq",
  added: "registry.example/nightly-report:1.0-iqqq-add",
  plain: "registry.example/nightly-report:1.0",
  node: "registry.example/nightly-report-node:1.0-iqqq",
  watcher: "registry.example/iqqq-watcher:0.1.0",
  sidecar: "docker.io/istio/proxyv2:1.24.0",
  report: "registry.example/report:1.2.3",
  sidecar2: "docker.io/istio/proxyv2:1.24.2",
};

interface Play {
  scenario: string;
  manifest: string;
  /** The manifest itself, instead of a file of test/pods/manifests. */
  yaml?: string;
  images: Partial<Record<keyof typeof IMAGES, string>>;
  /** Stop the pod (SIGTERM to every container) this long after the job has started. */
  stopAfterMs?: number;
  /** How long to wait for the pod to end before calling it stuck. */
  waitMs: number;
  /** Run once the pod is up, while its containers run (as: release a gated job). */
  whileRunning?: ((pod: string) => Promise<void>) | undefined;
}

interface Ended {
  outcome: Outcome;
}

async function play(p: Play): Promise<Ended> {
  let yaml = p.yaml ?? (await readFile(join(ROOT, "test/pods/manifests", p.manifest), "utf8"));
  // Longest names first: one is a prefix of another.
  const names = (Object.keys(IMAGES) as (keyof typeof IMAGES)[]).sort((a, b) => IMAGES[b].length - IMAGES[a].length);
  for (const name of names) {
    const replacement = p.images[name];
    if (replacement !== undefined) yaml = yaml.replaceAll(IMAGES[name], replacement);
  }
  assert.ok(!yaml.includes("registry.example") && !yaml.includes("docker.io"), `unsubstituted image in ${p.manifest}`);
  const pod = /^ {2}name: (\S+)$/m.exec(yaml)?.[1] ?? "";
  const file = join(WORK, `${p.scenario.replace(/\W+/g, "-")}.yaml`);
  writeFileSync(file, yaml);
  podman(["pod", "rm", "-f", "-t", "0", pod], { allowFail: true });
  try {
    podman(["kube", "play", "--network", "none", file]);
    const containers = podman(["pod", "inspect", pod, "--format", "{{range .Containers}}{{.Name}} {{end}}"])
      .split(/\s+/)
      .filter((c) => c !== "" && !c.endsWith("-infra"));
    const job = `${pod}-job`;
    await p.whileRunning?.(pod);
    if (p.stopAfterMs !== undefined) {
      await until(() => logs(job).includes("job: started"), 15_000);
      await sleep(p.stopAfterMs);
      podman(["pod", "stop", "-t", "10", pod]);
    }
    const running = (c: string): boolean =>
      podman(["inspect", c, "--format", "{{.State.Running}}"], { allowFail: true }) === "true";
    await until(() => !running(job), 60_000);
    await until(() => containers.every((c) => !running(c)), p.waitMs).catch(() => {});
    const finished: Record<string, number | undefined> = {};
    const exits: Record<string, string> = {};
    const out: Record<string, string> = {};
    const stamped: Record<string, string> = {};
    for (const c of containers) {
      const short = c.slice(pod.length + 1);
      const done = !running(c);
      exits[short] = done ? podman(["inspect", c, "--format", "{{.State.ExitCode}}"]) : "running";
      finished[short] = done ? goTime(podman(["inspect", c, "--format", "{{.State.FinishedAt}}"])) : undefined;
      out[short] = logs(c);
      stamped[short] = logs(c, true);
    }
    // The job's end: the "job" container's, or with several job containers (IQQQ_GROUP) the last of theirs.
    const jobs = Object.entries(finished).filter(([name]) => !["istio-proxy", "iqqq"].includes(name));
    const jobEnd =
      finished.job ?? (jobs.every(([, t]) => t !== undefined) ? Math.max(...jobs.map(([, t]) => t ?? 0)) : undefined);
    const ends = Object.values(finished);
    const complete = ends.every((t) => t !== undefined);
    const last = Math.max(...ends.map((t) => t ?? 0));
    const outcome: Outcome = {
      scenario: p.scenario,
      status: complete
        ? "Completed (every container exited)"
        : `Not completed: still running ${p.waitMs / 1000} s after the job`,
      exits,
      delay: complete && jobEnd !== undefined ? `${((last - jobEnd) / 1000).toFixed(2)} s` : "never",
      logs: out,
      stamped,
    };
    table.push(outcome);
    return { outcome };
  } finally {
    podman(["kube", "down", file], { allowFail: true, timeoutMs: 60_000 });
    podman(["pod", "rm", "-f", "-t", "0", pod], { allowFail: true });
  }
}

/** A container's output: `podman logs` replays its stdout on stdout and its stderr (iqqq's logs) on stderr. */
function logs(container: string, timestamps = false): string {
  const args = ["--runtime", "runc", "logs", ...(timestamps ? ["--timestamps"] : []), container];
  const r = spawnSync("podman", args, { env: PODMAN_ENV, encoding: "utf8" });
  return `${r.stdout}${r.stderr}`;
}

/** When a container printed a line matching `message` (podman's --timestamps), in ms. */
function loggedAt(lines: string, message: RegExp): number {
  const line = lines.split("\n").find((l) => message.test(l.slice(l.indexOf(" ") + 1)));
  assert.ok(line, `no line matching ${message} in:\n${lines}`);
  return Date.parse(line.slice(0, line.indexOf(" ")));
}

/** podman prints Go's time.Time: "2026-11-21 15:20:01.123456789 +0000 UTC". */
function goTime(text: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d)/.exec(text);
  assert.ok(m, `unexpected time ${JSON.stringify(text)}`);
  const fraction = (m[3] ?? ".0").slice(0, 4);
  return Date.parse(`${m[1]}T${m[2]}${fraction}${m[4]}:${m[5]}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * A FIFO at /gate/go in the containers that mount it: a job that reads it (`cat /gate/go`) runs until the
 * test writes to it, which the test does once a container has logged a line. A condition, not a sleep:
 * however slowly podman starts the watcher (the kubelet's order puts it last), the job is still running when
 * it first looks. Released either way after 60 s, so a watcher that never sees the job fails the test's
 * assertions on its log, not a timeout.
 */
function fifoGate(name: string) {
  const dir = join(WORK, `gate-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("mkfifo", ["-m", "0666", join(dir, "go")]);
  return {
    volume: { name: "gate", hostPath: { path: dir, type: "Directory" } },
    mount: { name: "gate", mountPath: "/gate" },
    async releaseWhen(container: string, line: string): Promise<void> {
      await until(() => logs(container).includes(line), 60_000).catch(() => {});
      spawnSync("/bin/sh", ["-c", 'echo go > "$1"', "release", join(dir, "go")], { timeout: 30_000 });
    },
  };
}

/**
 * For the fake sidecar in a pod with shareProcessNamespace: on a quit request it logs the names of the
 * processes it sees, before answering. Whether the job's processes had ended when the stop arrived is then
 * read from one observation, not from two containers' clocks: podman stamps a container's end when its
 * conmon gets to it, which on a loaded machine can come after the quit the end caused.
 */
const AT_QUIT = { name: "FAKE_PROCESSES_AT_QUIT", value: "1" };

function processesAtQuit(log: string | undefined): string[] {
  const line = /^processes at quit: (.*)$/m.exec(log ?? "");
  assert.ok(line, `the proxy logged no processes at quit:\n${log}`);
  return (line[1] ?? "").split(" ").filter(Boolean);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(200);
  }
}

const opts = { skip, timeout: 120_000 };
const SIDECAR = SIDECAR_IMAGE;

test("baseline without iqqq: the job exits, the sidecar stays up, the pod does not complete", opts, async () => {
  const { outcome } = await play({
    scenario: "baseline: no iqqq",
    manifest: "without-iqqq.yaml",
    images: { plain: `${TAG}/job:ok`, sidecar: SIDECAR },
    waitMs: 5000,
  });
  assert.equal(outcome.exits.job, "0");
  assert.equal(outcome.exits["istio-proxy"], "running");
});

for (const [variant, code] of [
  ["ok", "0"],
  ["fail", "3"],
  ["killed", "137"],
] as const) {
  test(
    `wrapped entrypoint, program ${variant}: the pod completes with the program's status ${code}`,
    opts,
    async () => {
      const { outcome } = await play({
        scenario: `wrapped entrypoint, job ${variant === "killed" ? "killed by SIGKILL" : `exits ${code}`}`,
        manifest: "wrapped.yaml",
        images: { wrapped: `${TAG}/job:${variant}-iqqq`, sidecar: SIDECAR },
        waitMs: 10_000,
      });
      assert.equal(outcome.exits.job, code, outcome.logs.job);
      assert.equal(outcome.exits["istio-proxy"], "0", outcome.logs["istio-proxy"]);
      assert.match(outcome.logs["istio-proxy"] ?? "", /request POST \/quitquitquit/);
    },
  );
}

test("iqqq added, called by the manifest's command: the pod completes", opts, async () => {
  const { outcome } = await play({
    scenario: "added binary, command: [iqqq, /app/job]",
    manifest: "added.yaml",
    images: { added: `${TAG}/job:ok-iqqq-add`, sidecar: SIDECAR },
    waitMs: 10_000,
  });
  assert.deepEqual([outcome.exits.job, outcome.exits["istio-proxy"]], ["0", "0"]);
});

test("Node image with the single-file bundle: the pod completes", opts, async () => {
  const { outcome } = await play({
    scenario: "Node image, dist/iqqq.mjs",
    manifest: "node-bundle.yaml",
    images: { node: `${TAG}/job:node-iqqq`, sidecar: SIDECAR },
    waitMs: 10_000,
  });
  assert.deepEqual([outcome.exits.job, outcome.exits["istio-proxy"]], ["0", "0"], outcome.logs.job);
  assert.match(outcome.logs.job ?? "", /job: done/);
  // The Dockerfile's RUN wrote the compile cache with the image's own Node, and a pod's user reads it.
  const version = podman([
    "run",
    "--rm",
    "--user",
    "1000",
    "--entrypoint",
    "node",
    `${TAG}/job:node-iqqq`,
    "/usr/local/lib/iqqq/iqqq.mjs",
    "--version",
  ]);
  assert.match(version, /^compile cache: used \(\/usr\/local\/lib\/iqqq\/iqqq\.mjs\.cache\)$/m);
});

test("readiness gate: the program starts only after the (slow) sidecar is ready", opts, async () => {
  const { outcome } = await play({
    scenario: "IQQQ_WAIT_FOR=istio, sidecar ready after 3 s",
    manifest: "wait-for-ready.yaml",
    images: { wrapped: `${TAG}/job:ok-iqqq`, sidecar: `${TAG}/istio-proxy:slow` },
    waitMs: 15_000,
  });
  assert.deepEqual([outcome.exits.job, outcome.exits["istio-proxy"]], ["0", "0"]);
  const job = outcome.stamped.job ?? "";
  assert.match(job, /waiting for istio to be ready/);
  // The program's first line comes after the sidecar said it was ready.
  const ready = loggedAt(outcome.stamped["istio-proxy"] ?? "", /^ready$/);
  assert.ok(loggedAt(job, /^job: started$/) >= ready, job);
  const waited = Number(/istio is ready \(after ([\d.]+)s\)/.exec(job)?.[1] ?? "0");
  assert.ok(waited >= 2, `waited only ${waited} s for a sidecar ready after 3 s`);
});

test("podman pod stop (a Job deleted): the program gets SIGTERM, exits 143, the pod ends", opts, async () => {
  const { outcome } = await play({
    scenario: "pod stopped while the job runs",
    manifest: "wrapped.yaml",
    images: { wrapped: `${TAG}/job:long-iqqq`, sidecar: SIDECAR },
    stopAfterMs: 1000,
    waitMs: 15_000,
  });
  assert.equal(outcome.exits.job, "143", outcome.logs.job);
  assert.match(outcome.logs.job ?? "", /job: got SIGTERM/);
  assert.notEqual(outcome.exits["istio-proxy"], "running");
});

test(
  "watcher sidecar with shareProcessNamespace (seed 001's Airflow case): the pod completes after the job's end",
  opts,
  async () => {
    // report runs until the watcher has logged that it found it (see fifoGate).
    const gate = fifoGate("report-watched");
    const pod = parse(await readFile(join(ROOT, "test/pods/manifests/watcher.yaml"), "utf8"));
    pod.spec.containers[0].volumeMounts = [gate.mount];
    pod.spec.volumes = [gate.volume];
    pod.spec.containers[1].env = [AT_QUIT];
    const { outcome } = await play({
      scenario: "watcher container, shareProcessNamespace",
      manifest: "watcher.yaml",
      yaml: stringify(pod),
      images: { report: `${TAG}/job:report`, sidecar2: SIDECAR, watcher: `${TAG}/iqqq-watcher:local` },
      waitMs: 15_000,
      whileRunning: (name) => gate.releaseWhen(`${name}-iqqq`, 'found a process named "report"'),
    });
    assert.deepEqual(
      [outcome.exits.job, outcome.exits["istio-proxy"], outcome.exits.iqqq],
      ["0", "0", "0"],
      outcome.logs.iqqq,
    );
    assert.match(outcome.logs.job ?? "", /report: done/);
    // In order: when the quit reached the proxy, no process of the job's was left (report and its cat).
    assert.deepEqual(
      processesAtQuit(outcome.logs["istio-proxy"]).filter((p) => ["report", "cat"].includes(p)),
      [],
      outcome.logs["istio-proxy"],
    );
  },
);

test("two job containers (IQQQ_GROUP): the sidecar stays up until the last one is out", opts, async () => {
  const { outcome } = await play({
    scenario: "two job containers, IQQQ_GROUP, the last one out stops",
    manifest: "group.yaml",
    images: { added: `${TAG}/job:ok-iqqq-add`, sidecar: SIDECAR },
    waitMs: 15_000,
  });
  assert.deepEqual(
    [outcome.exits.extract, outcome.exits.load, outcome.exits["istio-proxy"]],
    ["0", "4", "0"],
    JSON.stringify(outcome.logs),
  );
  assert.match(outcome.logs.extract ?? "", /IQQQ_GROUP: load still running/);
  assert.match(outcome.logs.load ?? "", /load, the last one out, stops the sidecars/);
  // One quit, and extract did not send it (it said load was still running): load, the last one out, did.
  // Not compared with podman's end times: they are stamped when conmon gets to them, and load's own stop of
  // the proxy comes before load's end.
  assert.equal(quits(outcome.logs["istio-proxy"]), 1, outcome.logs["istio-proxy"]);
});

test("no sidecar at all (ambient mesh, native sidecars): the job completes at once", opts, async () => {
  const { outcome } = await play({
    scenario: "no sidecar in the pod",
    manifest: "no-sidecar.yaml",
    images: { wrapped: `${TAG}/job:ok-iqqq` },
    waitMs: 5000,
  });
  assert.equal(outcome.exits.job, "0");
  assert.match(outcome.logs.job ?? "", /no sidecar is listening/);
});

test("DISABLE_IQQQ=true: behaves as the baseline", opts, async () => {
  const { outcome } = await play({
    scenario: "DISABLE_IQQQ=true",
    manifest: "disabled.yaml",
    images: { wrapped: `${TAG}/job:ok-iqqq`, sidecar: SIDECAR },
    waitMs: 5000,
  });
  assert.equal(outcome.exits.job, "0");
  assert.equal(outcome.exits["istio-proxy"], "running");
});

const JOB_EXITS_3 = ["/bin/sh", "-c", "echo job: started; sleep 1; echo job: failing; exit 3"];

for (const flavour of ["glibc", "musl", "scratch"] as const) {
  test(
    `iqqq inject, a ${flavour} job image left as it is: the pod completes with the job's status 3`,
    opts,
    async () => {
      const name = `inject-${flavour}`;
      const yaml = inject(plainPod(name, { image: `${TAG}/base:${flavour}`, command: JOB_EXITS_3 }));
      const { outcome } = await play({
        scenario: `iqqq inject, ${flavour} job image`,
        manifest: "",
        yaml: withoutDownwardApi(yaml),
        images: {},
        waitMs: 15_000,
      });
      assert.equal(outcome.exits.job, "3", JSON.stringify(outcome.logs));
      assert.equal(outcome.exits["istio-proxy"], "0", outcome.logs["istio-proxy"]);
      assert.match(outcome.logs["istio-proxy"] ?? "", /request POST \/quitquitquit/);
      assert.match(outcome.logs.job ?? "", /job: failing/);
    },
  );
}

test(
  "iqqq inject, no command: ENTRYPOINT and CMD read from a real registry (an index narrowed to the platform)",
  opts,
  async () => {
    const host = registry?.host as string;
    // The index: amd64's ENTRYPOINT, not arm64's, for a pod whose nodes are amd64.
    const onAmd64 = parse(plainPod("inject-index", { image: `${host}/jobs/multi:1` })) as Obj;
    onAmd64.spec.nodeSelector = { "kubernetes.io/arch": "amd64" };
    const fromIndex = parse(inject(stringify(onAmd64)));
    assert.deepEqual(fromIndex.spec.containers[0].command, ["/opt/iqqq/iqqq", "/bin/sh", "-c"]);
    // A pod that does not say which nodes, where the two platforms differ: not guessed.
    const unsaid = spawnSync(HOST_EXE, ["inject", "--image", IQQQ_IMAGE], {
      input: plainPod("inject-unsaid", { image: `${host}/jobs/multi:1` }),
      encoding: "utf8",
    });
    assert.equal(unsaid.status, 65, unsaid.stderr);
    assert.match(unsaid.stderr, /another ENTRYPOINT or CMD on linux\/amd64 than on linux\/arm64/);
    const arm = parse(inject(plainPod("inject-arm", { image: `${host}/jobs/multi:1` }), "--platform", "linux/arm64"));
    assert.deepEqual(arm.spec.containers[0].command, ["/opt/iqqq/iqqq", "/arm64/entry"]);
    const yaml = inject(plainPod("inject-entrypoint", { image: `${host}/jobs/entry:1` }));
    const pod = parse(yaml);
    assert.deepEqual(pod.spec.containers[0].args, ["echo job: started; sleep 1; echo job: exiting 4; exit 4"]);
    const { outcome } = await play({
      scenario: "iqqq inject, ENTRYPOINT from the registry",
      manifest: "",
      yaml: withoutDownwardApi(yaml),
      images: {},
      waitMs: 15_000,
    });
    assert.equal(outcome.exits.job, "4", JSON.stringify(outcome.logs));
    assert.equal(outcome.exits["istio-proxy"], "0");
  },
);

/** A pod as the API server would create it through the webhook: its AdmissionReview answered over TLS, the patch applied. */
async function throughWebhook(pod: Obj): Promise<Obj> {
  const tls = await makeTls();
  const webhook = spawn(
    HOST_EXE,
    ["webhook", "--image", IQQQ_IMAGE, "--cert", tls.cert, "--key", tls.key, "--port", "0"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  try {
    let log = "";
    webhook.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    await until(() => /serving on port \d+/.test(log), 15_000);
    const port = Number(/serving on port (\d+)/.exec(log)?.[1]);
    const review = {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "u1", namespace: "jobs", object: pod },
    };
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/inject", ca: tls.ca }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end(JSON.stringify(review));
    });
    const { response } = JSON.parse(answer);
    assert.equal(response.allowed, true);
    assert.ok(response.patch, `no patch: ${answer}`);
    const patched = structuredClone(pod);
    for (const op of JSON.parse(Buffer.from(response.patch, "base64").toString()))
      patched.spec[op.path.split("/")[2]] = op.value;
    return patched;
  } finally {
    webhook.kill();
  }
}

test(
  "iqqq webhook over TLS: its patch applied to a labelled pod, the pod completes with the job's status",
  opts,
  async () => {
    const pod = await throughWebhook(
      parse(plainPod("webhook", { image: `${TAG}/base:musl`, command: JOB_EXITS_3 }, { "iqqq.io/inject": "true" })),
    );
    const { outcome } = await play({
      scenario: "iqqq webhook, labelled pod",
      manifest: "",
      yaml: withoutDownwardApi(stringify(pod)),
      images: {},
      waitMs: 15_000,
    });
    assert.equal(outcome.exits.job, "3", JSON.stringify(outcome.logs));
    assert.equal(outcome.exits["istio-proxy"], "0");
  },
);

// ------------------------------------------- an injected pod always ends (issue 20)

/** The fake sidecar's CLI, in the stand-in image, as another kind on another port. */
const standIn = (kind: string, port: number, ...args: string[]) => ({
  image: SIDECAR_IMAGE,
  command: ["/usr/bin/node", "/fake-sidecar.mjs"],
  args: ["--kind", kind, "--port", String(port), ...args],
});

/** A pod as users write it, with whatever sidecars and restartPolicy; no iqqq anywhere. */
function podWith(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): string {
  return stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, labels: { app: name }, ...metadata }, spec });
}

/** A job that fails on its first run and succeeds on the next (the kubelet's retry under OnFailure). */
const FAIL_ONCE = [
  "/bin/sh",
  "-c",
  'if [ -e /state/$NAME ]; then echo "job: second run"; sleep 1; echo "job: done"; exit 0; fi; : > /state/$NAME; echo "job: first run, failing"; exit 1',
];

async function playInjected(scenario: string, yaml: string) {
  return play({ scenario, manifest: "", yaml: withoutDownwardApi(inject(yaml)), images: {}, waitMs: 30_000 });
}

/** How many quits a stand-in logged (one line per request). */
const quits = (log: string | undefined) =>
  (log ?? "").match(/request (POST|GET) \/(quitquitquit|shutdown)/g)?.length ?? 0;

test("iqqq inject beside cloud-sql-proxy (--quitquitquit, --admin-port 9092): the pod completes", opts, async () => {
  const yaml = podWith("inject-cloudsql", {
    restartPolicy: "Never",
    containers: [
      { name: "job", image: `${TAG}/base:glibc`, command: JOB_EXITS_3 },
      { name: "cloud-sql-proxy", ...standIn("cloudsql", 9092, "--quitquitquit", "--admin-port=9092", "p:r:i") },
    ],
  });
  const { outcome } = await playInjected("iqqq inject, cloud-sql-proxy stand-in", yaml);
  assert.equal(outcome.exits.job, "3", JSON.stringify(outcome.logs));
  assert.equal(outcome.exits["cloud-sql-proxy"], "0", outcome.logs["cloud-sql-proxy"]);
  assert.equal(quits(outcome.logs["cloud-sql-proxy"]), 1);
});

// inject --volume image: the kubelet mounts the iqqq image's opt/iqqq at /opt/iqqq (an image volume with
// subPath, Kubernetes 1.33 and later). podman kube play has no image volumes and this podman (4.3) no subpath
// for image mounts, so the pod is made by hand: the whole iqqq image mounted read-only at /iqqq-image, and a
// job image whose /opt/iqqq links to its opt/iqqq. What is checked is what subPath gives: iqqq and its
// loader and libraries run from the image's read-only files, and the sidecar is stopped.
test("inject --volume image: iqqq runs from the iqqq image mounted read-only, and stops the sidecar", opts, () => {
  const dir = join(WORK, "volume-image");
  mkdirSync(join(dir, "rootfs/opt"), { recursive: true });
  symlinkSync("/iqqq-image/opt/iqqq", join(dir, "rootfs/opt/iqqq"));
  writeFileSync(join(dir, "Containerfile"), `FROM ${TAG}/base:glibc\nCOPY rootfs/ /\n`);
  const jobImage = `${TAG}/job:volume-image`;
  podman(["build", "-q", "-t", jobImage, dir]);
  const pod = "iqqq-volume-image";
  podman(["pod", "rm", "-f", pod], { allowFail: true });
  podman(["pod", "create", "--name", pod, "--network", "none"]);
  try {
    podman(["run", "-d", "--pod", pod, "--name", `${pod}-proxy`, SIDECAR_IMAGE]);
    const run = spawnSync(
      "podman",
      [
        "--runtime",
        "runc",
        "run",
        "--pod",
        pod,
        "--name",
        `${pod}-job`,
        "--mount",
        `type=image,source=${IQQQ_IMAGE},destination=/iqqq-image`,
        "-e",
        "KUBERNETES_SERVICE_HOST=10.96.0.1",
        "-e",
        "IQQQ_WAIT_FOR=istio",
        jobImage,
        "/opt/iqqq/iqqq",
        ...JOB_EXITS_3,
      ],
      { encoding: "utf8", env: PODMAN_ENV, timeout: 60_000 },
    );
    assert.equal(run.status, 3, `${run.stdout}${run.stderr}`);
    const proxy = podman(["wait", `${pod}-proxy`]).trim();
    assert.equal(proxy, "0", podman(["logs", `${pod}-proxy`]));
  } finally {
    podman(["pod", "rm", "-f", pod], { allowFail: true });
  }
});

// Every kind of the sidecar catalogue that has a stop endpoint, as inject finds it by its container:
// a new record is a new real pod here, with no new test.
for (const kind of (SIDECARS as readonly HttpSidecar[]).filter((k) => k.name !== "istio")) {
  test(`iqqq inject beside the ${kind.name} stand-in (${kind.what}): the pod completes`, opts, async () => {
    const sw = kind.quitSwitch;
    const name = kind.container.name.source.replace(/^\^/, "").replace(/\$$/, "");
    const yaml = podWith(
      `inject-kind-${kind.name}`,
      {
        restartPolicy: "Never",
        containers: [
          { name: "job", image: `${TAG}/base:glibc`, command: JOB_EXITS_3 },
          {
            name,
            ...standIn(kind.name, kind.port.default, ...(sw?.flag !== undefined ? [sw.flag] : [])),
            ...(sw?.env !== undefined && sw.flag === undefined ? { env: [{ name: sw.env, value: "true" }] } : {}),
          },
        ],
      },
      sw?.annotation !== undefined && sw.flag === undefined && sw.env === undefined
        ? { annotations: { [sw.annotation[0]]: sw.annotation[1] } }
        : {},
    );
    const { outcome } = await playInjected(`iqqq inject, ${kind.name} stand-in`, yaml);
    assert.equal(outcome.exits.job, "3", JSON.stringify(outcome.logs));
    assert.equal(outcome.exits[name], "0", outcome.logs[name]);
    assert.equal((outcome.logs[name] ?? "").split(`request POST /${kind.quitPath}`).length - 1, 1, outcome.logs[name]);
  });
}

test("iqqq inject in a Linkerd-injected pod (linkerd-proxy, shutdown on): the pod completes", opts, async () => {
  const yaml = podWith(
    "inject-linkerd",
    {
      restartPolicy: "Never",
      containers: [
        { name: "job", image: `${TAG}/base:glibc`, command: JOB_EXITS_3 },
        {
          name: "linkerd-proxy",
          ...standIn("linkerd", 4191),
          env: [{ name: "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED", value: "true" }],
        },
      ],
    },
    { annotations: { "linkerd.io/inject": "enabled" } },
  );
  const { outcome } = await playInjected("iqqq inject, Linkerd stand-in", yaml);
  assert.equal(outcome.exits.job, "3", JSON.stringify(outcome.logs));
  assert.equal(outcome.exits["linkerd-proxy"], "0", outcome.logs["linkerd-proxy"]);
  assert.equal(quits(outcome.logs["linkerd-proxy"]), 1);
});

test(
  "restartPolicy OnFailure: the job fails once, its retry runs with the proxy up, then the pod completes",
  opts,
  async () => {
    const yaml = podWith("inject-onfailure", {
      restartPolicy: "OnFailure",
      containers: [
        {
          name: "job",
          image: `${TAG}/base:glibc`,
          command: FAIL_ONCE,
          env: [{ name: "NAME", value: "job" }],
          volumeMounts: [{ name: "state", mountPath: "/state" }],
        },
        { name: "istio-proxy", image: SIDECAR_IMAGE },
      ],
      volumes: [{ name: "state", emptyDir: {} }],
    });
    const { outcome } = await playInjected("OnFailure: fails once, the retry keeps its proxy", yaml);
    assert.equal(outcome.exits.job, "0", JSON.stringify(outcome.logs));
    assert.equal(outcome.exits["istio-proxy"], "0");
    assert.match(outcome.logs.job ?? "", /job: first run, failing[\s\S]*job: second run/);
    assert.equal(quits(outcome.logs["istio-proxy"]), 1, outcome.logs["istio-proxy"]);
    // The one quit came after the retry had started: it ran with its mesh.
    const retried = loggedAt(outcome.stamped.job ?? "", /job: second run/);
    const quit = loggedAt(outcome.stamped["istio-proxy"] ?? "", /request POST \/quitquitquit/);
    assert.ok(quit >= retried, `the quit (${quit}) came before the retry (${retried})`);
  },
);

test(
  "OnFailure with two job containers: the one that fails and reruns is never counted as finished",
  opts,
  async () => {
    const yaml = podWith("inject-onfailure-group", {
      restartPolicy: "OnFailure",
      containers: [
        {
          name: "flaky",
          image: `${TAG}/base:glibc`,
          command: FAIL_ONCE,
          env: [{ name: "NAME", value: "flaky" }],
          volumeMounts: [{ name: "state", mountPath: "/state" }],
        },
        { name: "steady", image: `${TAG}/base:glibc`, command: ["/bin/sh", "-c", "echo steady: done"] },
        { name: "istio-proxy", image: SIDECAR_IMAGE },
      ],
      volumes: [{ name: "state", emptyDir: {} }],
    });
    const { outcome } = await playInjected("OnFailure, two job containers", yaml);
    assert.equal(outcome.exits.flaky, "0", JSON.stringify(outcome.logs));
    assert.equal(outcome.exits.steady, "0");
    assert.equal(outcome.exits["istio-proxy"], "0");
    assert.equal(quits(outcome.logs["istio-proxy"]), 1, outcome.logs["istio-proxy"]);
    // After the rerun had started, a second before its end: two containers' log stamps are compared, so
    // with a margin that their lag on a loaded machine does not eat (the quit follows "job: done" at once).
    const retried = loggedAt(outcome.stamped.flaky ?? "", /job: second run/);
    const quit = loggedAt(outcome.stamped["istio-proxy"] ?? "", /request POST \/quitquitquit/);
    assert.ok(quit >= retried, "the proxy was stopped before the rerun member started");
  },
);

test(
  "a proxy that starts listening 4 s after the job has ended still gets its quit: the pod completes",
  opts,
  async () => {
    const yaml = podWith("inject-late-proxy", {
      restartPolicy: "Never",
      containers: [
        {
          name: "job",
          image: `${TAG}/base:glibc`,
          command: ["/bin/sh", "-c", "echo job: quick; exit 0"],
          env: [{ name: "IQQQ_LOG_LEVEL", value: "info" }],
        },
        {
          name: "istio-proxy",
          image: SIDECAR_IMAGE,
          command: [
            "/bin/sh",
            "-c",
            "sleep 4; exec /usr/bin/node /fake-sidecar.mjs --kind istio --port 15020 --ready-port 15021",
          ],
        },
      ],
    });
    const { outcome } = await playInjected("proxy listening 4 s after the job ends", yaml);
    assert.equal(outcome.exits.job, "0", JSON.stringify(outcome.logs));
    assert.equal(outcome.exits["istio-proxy"], "0", outcome.logs["istio-proxy"]);
    assert.equal(quits(outcome.logs["istio-proxy"]), 1);
    assert.match(outcome.logs.job ?? "", /the pod has it, so its stop is retried/);
  },
);

for (const [variant, command] of [
  [
    'behind an ENTRYPOINT script\'s exec "$@"',
    ["/bin/sh", "-c", 'exec "$@"', "entry", "/bin/sh", "-c", "echo job: started; cat /gate/go; echo job: done"],
  ],
  ["behind sh -c, which execs its one command", ["/bin/sh", "-c", "cat /gate/go"]],
] as const) {
  test(
    `iqqq inject --mode watcher, the program ${variant}: the watcher follows the container, the pod completes after it`,
    opts,
    async () => {
      const name = `watch-${variant.includes("ENTRYPOINT") ? "exec" : "shc"}`;
      const gate = fifoGate(name);
      const pod = parse(
        inject(
          podWith(name, {
            restartPolicy: "Never",
            containers: [
              {
                name: "job",
                image: `${TAG}/base:glibc`,
                command: [...command],
                volumeMounts: [gate.mount],
              },
              { name: "istio-proxy", image: SIDECAR_IMAGE, env: [AT_QUIT] },
            ],
            volumes: [gate.volume],
          }),
          "--mode",
          "watcher",
        ),
      );
      // The kubelet sets KUBERNETES_SERVICE_HOST in every container; podman kube play does not (see buildBase).
      const watcher = pod.spec.containers.find((c: { name: string }) => c.name === "iqqq-watcher");
      watcher.env.push(
        { name: "KUBERNETES_SERVICE_HOST", value: "10.96.0.1" },
        { name: "IQQQ_LOG_LEVEL", value: "info" },
        // The kubelet starts the watcher, last, after the job container; podman kube play does not
        // always (a CI run saw the watcher count the job, not yet started, as ended after 5 s): the
        // watch waits for it instead. What it then follows is what this test is about.
        { name: "IQQQ_WATCH_START_TIMEOUT", value: "60s" },
      );
      const { outcome } = await play({
        scenario: `iqqq inject --mode watcher, program ${variant}`,
        manifest: "",
        yaml: withoutDownwardApi(stringify(pod)),
        images: {},
        waitMs: 30_000,
        whileRunning: (pod) => gate.releaseWhen(`${pod}-iqqq-watcher`, "job container 1 of 1 seen"),
      });
      assert.equal(outcome.exits.job, "0", JSON.stringify(outcome.logs));
      assert.equal(outcome.exits["iqqq-watcher"], "0", outcome.logs["iqqq-watcher"]);
      assert.equal(outcome.exits["istio-proxy"], "0", outcome.logs["istio-proxy"]);
      assert.match(outcome.logs["iqqq-watcher"] ?? "", /job container 1 of 1 seen/);
      // At the right moment: when the quit reached the proxy, the job's last process had ended (sh, cat).
      assert.deepEqual(
        processesAtQuit(outcome.logs["istio-proxy"]).filter((p) => ["sh", "cat"].includes(p)),
        [],
        outcome.logs["istio-proxy"],
      );
    },
  );
}

// ------------------------------------------- the docs: every Dockerfile built, the first hour run

/** The images the docs' Dockerfiles and Jobs name, and what stands in for each here. */
const DOC_IMAGES: Readonly<Record<string, string>> = {
  "python:3.12-slim": `${TAG}/base:python`,
  "debian:12-slim": `${TAG}/base:glibc`,
  "report:1.0": `${TAG}/job:ok`,
  "localhost/iqqq:0.1.0": IQQQ_IMAGE,
  "REGISTRY/iqqq:0.1.0": IQQQ_IMAGE,
  "REGISTRY/iqqq-watcher:0.1.0": `${TAG}/iqqq-watcher:local`,
  "REGISTRY/vendor-report:2.3": `${TAG}/job:report`,
  // The first hour's own image: its Dockerfile, built by the test below.
  "REGISTRY/report:1.0": `${TAG}/docs:start-wrap`,
};

const withDocImages = (text: string): string =>
  Object.keys(DOC_IMAGES)
    .sort((a, b) => b.length - a.length)
    .reduce(
      (t, name) =>
        t.replace(
          new RegExp(`(?<![\\w./-])${name.replace(/[.]/g, "\\.")}(?![\\w.-])`, "g"),
          DOC_IMAGES[name] as string,
        ),
      text,
    );

/**
 * Builds a Dockerfile block as a reader would: the build context holds what it
 * COPYs: the release's executable (this host's), a file an earlier block of the
 * same document wrote, or else a stand-in program. Returns where iqqq is in the image.
 */
function buildDocDockerfile(block: DocBlock, tag: string): string {
  const dir = mkdtempSync(join(WORK, "docfile-"));
  const files = new Map(
    docBlocks(block.file)
      .filter((b) => b.mark === "file" && b.line < block.line)
      .map((b) => [b.markArgs.trim(), b.text]),
  );
  let iqqq = "";
  for (const { keyword, rest } of instructions(block.text)) {
    if (keyword === "FROM") {
      const image = rest.split(/\s+/)[0] as string;
      assert.ok(image.startsWith(TAG) || image === "scratch", `${block.where}: no stand-in for FROM ${image}`);
    }
    if (keyword !== "COPY") continue;
    const paths = rest.split(/\s+/).filter((w) => !w.startsWith("--"));
    const dest = paths.at(-1) as string;
    if (/(?:^|\/)iqqq$/.test(dest)) iqqq = dest;
    if (dest === "/opt/iqqq") iqqq = "/opt/iqqq/iqqq";
    if (rest.includes("--from=")) continue;
    for (const source of paths.slice(0, -1)) {
      const target = join(dir, source);
      if (/^iqqq-linux-/.test(source)) copyFileSync(HOST_EXE, target);
      else writeFileSync(target, files.get(source) ?? '#!/bin/sh\necho "$0 $*: done"\n', { mode: 0o755 });
    }
  }
  writeFileSync(join(dir, "Containerfile"), block.text);
  podman(["build", "-q", "-t", tag, dir]);
  return iqqq;
}

/**
 * docker/wrap.Dockerfile and add.Dockerfile say, in comments, how to take iqqq
 * from the iqqq image instead: that variant, as a reader would write it (the
 * first stage dropped, the comment's lines in, the file's own CMD kept), on
 * the job image.
 */
function commentedVariant(file: string): DocBlock {
  const text = readFileSync(join(ROOT, "docker", file), "utf8");
  const lines = text.split("\n");
  const suggested = lines.map((l) => /^#\s+((?:COPY|ENTRYPOINT|CMD)\s.*)$/.exec(l)?.[1]).filter((l) => l !== undefined);
  const cmd = lines.filter((l) => l.startsWith("CMD "));
  assert.ok(
    suggested.some((l) => l.startsWith("COPY --from=")),
    `docker/${file}: no COPY --from in its comments`,
  );
  return {
    file: `docker/${file}`,
    line: 1,
    lang: "dockerfile",
    mark: undefined,
    markArgs: "",
    text: `FROM report:1.0\n${[...suggested, ...cmd].join("\n")}\n`,
    where: `docker/${file} (its comments' variant)`,
  };
}

const docDockerfiles = [
  ...allDocBlocks().filter((b) => b.lang === "dockerfile" && b.mark !== "skip"),
  commentedVariant("wrap.Dockerfile"),
  commentedVariant("add.Dockerfile"),
].map((b) => ({ ...b, text: withDocImages(b.text) }));

test(`every Dockerfile in the README and docs/ (and docker/'s commented variants) builds, and the iqqq it copies runs (${docDockerfiles.length})`, {
  ...opts,
  timeout: 300_000,
}, async () => {
  assert.ok(docDockerfiles.length >= 5, `only ${docDockerfiles.length} Dockerfile blocks`);
  const started = Date.now();
  // python:3.12-slim's stand-in: glibc and a "python" that says what it was given.
  const python = join(WORK, "base-python");
  mkdirSync(join(python, "usr/local/bin"), { recursive: true });
  writeFileSync(join(python, "usr/local/bin/python"), '#!/bin/sh\necho "python $*: done"\n', { mode: 0o755 });
  writeFileSync(join(python, "Containerfile"), `FROM ${TAG}/base:glibc\nCOPY usr/ /usr/\n`);
  podman(["build", "-q", "-t", `${TAG}/base:python`, python]);
  for (const [i, block] of docDockerfiles.entries()) {
    const tag = `${TAG}/docs:${i}`;
    const iqqq = buildDocDockerfile(block, tag);
    assert.ok(iqqq !== "", `${block.where}: copies no iqqq`);
    const version = podman(["run", "--rm", "--network", "none", "--entrypoint", iqqq, tag, "--version"]);
    assert.match(version, /^iqqq \d+\.\d+\.\d+/, `${block.where}: ${iqqq} --version`);
    // An image whose entrypoint is iqqq runs its program, and ends with its status.
    if (/^ENTRYPOINT \[".*iqqq"/m.test(block.text)) {
      const r = spawnSync("podman", ["--runtime", "runc", "run", "--rm", "--network", "none", tag], {
        env: PODMAN_ENV,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `${block.where}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /done/, `${block.where}: the program did not run: ${r.stdout}${r.stderr}`);
    }
  }
  console.log(
    `# ${docDockerfiles.length} Dockerfiles of the docs built and run in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});

/** docs/start.md's blocks, by the section (## heading) they are in. */
function startSection(title: string): DocBlock[] {
  const text = readFileSync(join(ROOT, "docs/start.md"), "utf8");
  const lines = text.split("\n");
  const from = lines.findIndex((l) => l.startsWith(`## ${title}`));
  assert.ok(from >= 0, `docs/start.md has no section "${title}"`);
  const to = lines.findIndex((l, i) => i > from && l.startsWith("## "));
  return docBlocks("docs/start.md", text).filter((b) => b.line > from && (to < 0 || b.line < to + 1));
}

/** The section's job.yaml, its images replaced by their stand-ins. */
function startJob(section: DocBlock[]): Obj {
  const block = section.find((b) => b.mark === "file" && b.markArgs.trim() === "job.yaml");
  assert.ok(block, "no job.yaml in the section");
  return parse(withDocImages(block.text));
}

/**
 * A Job's pod as the cluster would run it: the template as a Pod, and the
 * Istio injector's work (the label sidecar.istio.io/inject) done by hand: the
 * stand-in istio-proxy beside the containers.
 */
function podOfJob(job: Obj, name: string): Obj {
  const template = job.spec.template;
  assert.equal(template.metadata.labels["sidecar.istio.io/inject"], "true", "the guide's Job asks for Istio's sidecar");
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      labels: template.metadata.labels,
      ...(template.metadata.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    spec: {
      ...template.spec,
      containers: [...template.spec.containers, { name: "istio-proxy", image: SIDECAR_IMAGE }],
    },
  };
}

/**
 * The section's output block is in the log of the container its `kubectl logs … -c NAME`
 * names: each line, a number standing for any number, and the pid's command line for any.
 */
function assertLogAsDocumented(section: DocBlock[], logs: Record<string, string>): void {
  const out = section.find((b) => b.lang === "text" && b.mark === "output");
  assert.ok(out, "the section shows no output");
  const command = section.filter((b) => b.lang === "sh" && b.line < out.line).at(-1);
  const container = /kubectl logs \S+ -c (\S+)/.exec(command?.text ?? "")?.[1];
  assert.ok(container, `${out.where}: no kubectl logs -c NAME before it`);
  const log = logs[container] ?? "";
  for (const line of out.text.split("\n").filter((l) => l.trim() !== "")) {
    const escaped = line
      .replace(/pid \d+ "[^"]*"/, "\u0001")
      .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      .replace(/\d+/g, "\\d+")
      .replace("\u0001", 'pid \\d+ "[^"]*"');
    assert.match(log, new RegExp(`^${escaped}$`, "m"), `${out.where}: "${line}" is not in ${container}'s log:\n${log}`);
  }
}

async function playStart(way: string, pod: Obj, whileRunning?: Play["whileRunning"]): Promise<Outcome> {
  const { outcome } = await play({
    scenario: `docs/start.md, ${way}: the guide's Job`,
    manifest: "",
    yaml: withoutDownwardApi(stringify(pod)),
    images: {},
    waitMs: 30_000,
    whileRunning,
  });
  for (const [container, exit] of Object.entries(outcome.exits))
    assert.equal(exit, "0", `${container}: ${JSON.stringify(outcome.logs)}`);
  assert.equal(quits(outcome.logs["istio-proxy"]), 1, outcome.logs["istio-proxy"]);
  assert.match(outcome.status, /^Completed/);
  return outcome;
}

test("docs/start.md, wrap: the guide's Dockerfile built, its Job's pod completes", opts, async () => {
  const section = startSection("Wrap");
  const dockerfile = section.find((b) => b.lang === "dockerfile");
  assert.ok(dockerfile);
  buildDocDockerfile(
    { ...dockerfile, text: withDocImages(dockerfile.text) },
    DOC_IMAGES["REGISTRY/report:1.0"] as string,
  );
  const outcome = await playStart("wrap", podOfJob(startJob(section), "start-wrap"));
  assertLogAsDocumented(section, outcome.logs);
});

test("docs/start.md, inject: the guide's Job through iqqq inject, its pod completes", opts, async () => {
  const section = startSection("Inject");
  const injected = parse(inject(stringify(startJob(section))));
  const outcome = await playStart("inject", podOfJob(injected, "start-inject"));
  assertLogAsDocumented(section, outcome.logs);
});

test("docs/start.md, webhook: the guide's labelled Job's pod through iqqq webhook completes", opts, async () => {
  const pod = await throughWebhook(podOfJob(startJob(startSection("Webhook")), "start-webhook"));
  assert.ok(
    pod.spec.initContainers?.some((c: Obj) => c.name === "iqqq-install"),
    "the webhook did not inject",
  );
  const outcome = await playStart("webhook", pod);
  assert.match(outcome.logs.report ?? "", /report: done/);
});

test("docs/start.md, watcher: the guide's Job with the watcher container completes", opts, async () => {
  const section = startSection("Watcher");
  // The watcher waits for a process named "report" to appear: report runs until the watcher has logged that
  // it found it (a watcher started after report had ended would wait its 10 minutes).
  const pod = podOfJob(startJob(section), "start-watcher");
  const gate = fifoGate("start-watcher");
  const report = pod.spec.containers.find((c: Obj) => c.name === "report");
  report.volumeMounts = [...(report.volumeMounts ?? []), gate.mount];
  pod.spec.volumes = [...(pod.spec.volumes ?? []), gate.volume];
  const outcome = await playStart("watcher", pod, (name) =>
    gate.releaseWhen(`${name}-iqqq`, 'found a process named "report"'),
  );
  assert.match(outcome.logs.report ?? "", /report: done/);
  assertLogAsDocumented(section, outcome.logs);
});

/** The scenarios above: docs/pods.md is written only by a run of all of them (not a filtered one). */
const SCENARIOS = 35;

after(async () => {
  if (table.length === 0) return;
  const rows = table.map((o) => {
    const exits = Object.entries(o.exits)
      .sort(([a], [b]) => (a === "job" ? -1 : b === "job" ? 1 : a.localeCompare(b)))
      .map(([c, e]) => `${c}: ${e}`)
      .join(", ");
    return `| ${o.scenario} | ${o.status} | ${exits} | ${o.delay} |`;
  });
  const md = [
    "| scenario | pod | container exit codes | job's end → pod complete |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
  console.log(`\n${md}\n`);
  const machine = `${execFileSync("podman", ["--version"], { encoding: "utf8" }).trim()}, runc, ${process.platform}-${arch()}`;
  if (table.length !== SCENARIOS) return;
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  writeFileSync(
    join(ROOT, "docs/pods.md"),
    `# Proven in real pods\n\nProduced by \`npm run test:pods\` (${machine}) on ${new Date().toISOString().slice(0, 10)}.\n\n${md}\n`,
  );
});

// ------------------------------------------------------------ iqqq reaper

/**
 * A Job's pod that nothing in it can end, ended by iqqq reaper. `kill`: the job
 * container is SIGKILLed once it has started (as an OOM kill would), which kills
 * a wrapper with it.
 */
async function reaperCase(c: {
  readonly manifest: string;
  readonly pod: string;
  readonly job: string;
  readonly scenario: string;
  readonly kill: boolean;
  readonly jobExit: string;
}): Promise<void> {
  {
    // No API server here: the stand-in (test/support/kube-apiserver.ts) holds the
    // pod as the kubelet would report it, mirrored from podman, and turns the
    // reaper's ephemeral container into `podman run --pod`: the iqqq image with
    // its environment, in the pod's network namespace, as the kubelet would start it.
    const { StandInApiServer } = await import("../support/kube-apiserver.js");
    const api = await StandInApiServer.start(WORK);
    const pod = c.pod;
    api.createPod({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: pod,
        namespace: "default",
        labels: { app: "nightly-report" },
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "nightly-report", uid: "j1", controller: true }],
      },
      spec: {
        restartPolicy: "Never",
        containers: [
          { name: "job", image: c.job },
          { name: "istio-proxy", image: SIDECAR },
        ],
      },
      status: { phase: "Pending", containerStatuses: [] },
    });
    const started: string[] = [];
    api.onEphemeral = (_p, c) => {
      // The kubelet sets KUBERNETES_SERVICE_HOST in every container it starts, ephemeral ones too (the bases carry it).
      const env = [
        { name: "KUBERNETES_SERVICE_HOST", value: "10.96.0.1" },
        ...(c.env as { name: string; value: string }[]),
      ].flatMap((e) => ["-e", `${e.name}=${e.value}`]);
      const user = String(c.securityContext?.runAsUser ?? "");
      podman([
        "run",
        "-d",
        "--pod",
        pod,
        "--name",
        `${pod}-${c.name}`,
        ...(user ? ["--user", user] : []),
        ...env,
        c.image,
      ]);
      started.push(c.name);
    };
    // The kubelet's part: container states as podman has them.
    let last = "";
    const mirror = setInterval(() => {
      const states = ["job", "istio-proxy"].map((name) => {
        const f = podman(
          ["inspect", `${pod}-${name}`, "--format", "{{.State.Status}}|{{.State.ExitCode}}|{{.State.FinishedAt}}"],
          { allowFail: true },
        ).split("|");
        const state =
          f[0] === "running"
            ? { running: {} }
            : f[0] === "exited"
              ? { terminated: { exitCode: Number(f[1]), finishedAt: new Date(goTime(f[2] ?? "")).toISOString() } }
              : { waiting: { reason: "ContainerCreating" } };
        return { name, state };
      });
      if (JSON.stringify(states) === last) return;
      last = JSON.stringify(states);
      api.updatePod("default", pod, (p) => {
        p.status = { phase: "Running", containerStatuses: states };
      });
    }, 300);
    const reaper = spawn(HOST_EXE, ["reaper", "--image", IQQQ_IMAGE, "--grace", "1", "--port", "0"], {
      env: { PATH: process.env.PATH, KUBECONFIG: api.kubeconfig },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    reaper.stderr?.on("data", (c) => {
      stderr += c;
    });
    // The OOM killer's part: SIGKILL to the job container once it runs, wrapper and all.
    const killing = c.kill
      ? until(() => logs(`${pod}-job`).includes("job: started"), 20_000).then(() =>
          podman(["kill", "-s", "KILL", `${pod}-job`]),
        )
      : Promise.resolve("");
    try {
      const { outcome } = await play({
        scenario: c.scenario,
        manifest: c.manifest,
        images: { plain: c.job, wrapped: c.job, sidecar: SIDECAR },
        waitMs: 30_000,
      });
      await killing;
      assert.deepEqual(started, ["iqqq-reaper"], stderr);
      assert.equal(outcome.exits.job, c.jobExit, outcome.logs.job);
      assert.equal(outcome.exits["istio-proxy"], "0", `${outcome.logs["istio-proxy"]}\n${stderr}`);
      assert.match(outcome.logs["istio-proxy"] ?? "", /request POST \/quitquitquit/);
      // The reaper logs and writes the Event once its PATCH is answered, which may be after the pod has ended.
      await until(() => new RegExp(`stopping istio \\(istio-proxy\\) in default/${pod}`).test(stderr), 10_000);
      await until(() => api.events[0]?.reason === "SidecarStopped", 10_000);
    } finally {
      clearInterval(mirror);
      reaper.kill("SIGTERM");
      await api.close();
      podman(["rm", "-f", "-t", "0", `${pod}-iqqq-reaper`], { allowFail: true });
    }
  }
}

test("iqqq reaper: the baseline pod, untouched, completes: the ephemeral container stops istio-proxy", opts, () =>
  reaperCase({
    manifest: "without-iqqq.yaml",
    pod: "without-iqqq",
    job: `${TAG}/job:ok`,
    scenario: "no iqqq in the pod; iqqq reaper adds it as an ephemeral container",
    kill: false,
    jobExit: "0",
  }),
);

test(
  "iqqq reaper: a wrapped job SIGKILLed (its wrapper with it) leaves istio-proxy up; the reaper ends the pod",
  opts,
  () =>
    reaperCase({
      manifest: "wrapped.yaml",
      pod: "wrapped",
      job: `${TAG}/job:long-iqqq`,
      scenario: "a wrapped job SIGKILLed; iqqq reaper stops the sidecar the wrapper could not",
      kill: true,
      jobExit: "137",
    }),
);
