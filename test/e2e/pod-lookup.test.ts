// IQQQ_POD_LOOKUP=api against a real HTTPS server with a CA made by the test,
// and the service account files where Kubernetes puts them (in a private mount
// namespace: a tmpfs over /run, so the host's /run is untouched).

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, cliEnv, collect } from "../support/cli.js";
import { fakeSidecars } from "../support/sidecars.js";

const canUnshare =
  process.getuid?.() === 0 &&
  spawnSync("unshare", ["--mount", "sh", "-c", "mount -t tmpfs tmpfs /run"]).status === 0 &&
  spawnSync("openssl", ["version"]).status === 0;
const skip = canUnshare ? false : "needs root, unshare(1) and openssl (CI runs as root)";

const sidecar = fakeSidecars();

/** A CA and a server certificate for 127.0.0.1 it signed. */
async function certificates(dir: string): Promise<{ ca: string; key: Buffer; cert: Buffer }> {
  const run = (args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=iqqq test CA",
  ]);
  run([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=kubernetes",
  ]);
  await writeFile(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n");
  run([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ]);
  return {
    ca: join(dir, "ca.crt"),
    key: await readFile(join(dir, "server.key")),
    cert: await readFile(join(dir, "server.crt")),
  };
}

interface Seen {
  path: string;
  authorization: string | undefined;
}

describe("IQQQ_POD_LOOKUP=api", { skip }, () => {
  let dir = "";
  let ca = "";
  let server: Server;
  let port = 0;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const seen: Seen[] = [];

  before(async () => {
    if (!canUnshare) return;
    dir = await mkdtemp(join(tmpdir(), "iqqq-api-"));
    const certs = await certificates(dir);
    ca = certs.ca;
    server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
      seen.push({ path: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server?.close());

  /** Runs the CLI with the service account files in place, as in a pod named job-x7 in namespace batch. */
  async function inPod(env: Record<string, string>) {
    const sa = "/run/secrets/kubernetes.io/serviceaccount";
    const script = [
      "set -e",
      "mount -t tmpfs tmpfs /run",
      `mkdir -p ${sa}`,
      `printf 'test-token' > ${sa}/token`,
      `printf 'batch' > ${sa}/namespace`,
      `cp "${ca}" ${sa}/ca.crt`,
      `exec "${resolve(CLI)}" sh -c 'exit 3'`,
    ].join("\n");
    const child = spawn("unshare", ["--mount", "sh", "-c", script], {
      env: cliEnv({
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: String(port),
        HOSTNAME: "job-x7",
        IQQQ_POD_LOOKUP: "api",
        ...env,
      }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    return collect(child);
  }

  const pod = (initContainers: unknown[]) => ({ kind: "Pod", metadata: { name: "job-x7" }, spec: { initContainers } });

  test("istio-proxy as a native sidecar in the pod's spec: no quit; the request carries the token", async () => {
    const istio = await sidecar();
    answer = {
      status: 200,
      body: pod([
        { name: "istio-init", image: "docker.io/istio/proxyv2:1.27.0" },
        { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.27.0", restartPolicy: "Always" },
      ]),
    };
    const r = await inPod({ ISTIO_PORT: String(istio.port), IQQQ_LOG_LEVEL: "info" });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(istio.quits(), 0);
    assert.match(r.stderr, /not stopping istio: the pod's spec has istio-proxy as a native sidecar/);
    assert.deepEqual(seen.at(-1), { path: "/api/v1/namespaces/batch/pods/job-x7", authorization: "Bearer test-token" });
  });

  test("a regular sidecar (not an init container): the quit is sent", async () => {
    const istio = await sidecar();
    answer = { status: 200, body: pod([{ name: "istio-init", image: "docker.io/istio/proxyv2:1.27.0" }]) };
    const r = await inPod({ ISTIO_PORT: String(istio.port) });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(istio.quits(), 1);
    assert.equal(r.stderr, "");
  });

  test("403 (no RBAC): one warning naming the cause, and the quit is sent", async () => {
    const istio = await sidecar();
    answer = { status: 403, body: { kind: "Status", reason: "Forbidden" } };
    const r = await inPod({ ISTIO_PORT: String(istio.port) });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(istio.quits(), 1);
    assert.match(
      r.stderr,
      /^iqqq: warning: IQQQ_POD_LOOKUP=api: GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/batch\/pods\/job-x7: 403 \(the service account may not get pods: RBAC\)/m,
    );
  });
});
