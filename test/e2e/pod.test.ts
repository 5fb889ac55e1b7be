// A pod in miniature: a fresh network namespace (so pilot-agent's default port
// 15020 is free, as in a pod) and a fresh PID namespace where iqqq is PID 1, as
// a container's ENTRYPOINT is. No port override: iqqq finds the fake pilot-agent
// at 127.0.0.1:15020 as it would find the real one.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CLI, cliEnv, collect, FIXTURES, NODE, ROOT, watchOutput } from "../support/cli.js";

const canUnshare =
  process.getuid?.() === 0 && spawnSync("unshare", ["--net", "--pid", "--fork", "--mount-proc", "true"]).status === 0;

test("iqqq as PID 1 of a pod forwards SIGTERM to the program and stops pilot-agent on :15020", {
  skip: canUnshare ? false : "needs root and unshare(1) (CI runs as root)",
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-pod-"));
  const sidecarLog = join(dir, "sidecar.log");
  const fake = join(ROOT, "build/test/support/fake-sidecar.js");
  const script = [
    "set -e",
    "ip link set lo up",
    `"${NODE}" "${fake}" --port 15020 > "${sidecarLog}" &`,
    `i=0; until grep -q listening "${sidecarLog}"; do i=$((i+1)); [ $i -lt 200 ] || exit 90; sleep 0.05; done`,
    `exec "${CLI}" "${NODE}" "${FIXTURES}print-signals.js" --exit-on SIGTERM --die`,
  ].join("\n");
  const pod = spawn("unshare", ["--net", "--pid", "--fork", "--mount-proc", "sh", "-c", script], {
    env: cliEnv({ KUBERNETES_SERVICE_HOST: "10.96.0.1", IQQQ_LOG_LEVEL: "info" }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = watchOutput(pod.stdout);
  const result = collect(pod, { timeoutMs: 30_000 });
  await out.until("ready\n");

  // unshare --fork's child is the namespace's PID 1, which exec'd into iqqq.
  const children = await readFile(`/proc/${pod.pid}/task/${pod.pid}/children`, "utf8");
  const iqqq = Number(children.trim().split(/\s+/)[0]);
  const status = await readFile(`/proc/${iqqq}/status`, "utf8");
  assert.match(status, /^NSpid:\s+\d+\s+1$/m, "iqqq is not PID 1 of its namespace");

  process.kill(iqqq, "SIGTERM");
  const r = await result;
  assert.equal(r.status, 143, r.stderr);
  assert.equal(r.stdout.toString(), "ready\nsignal SIGTERM\n");
  const log = await readFile(sidecarLog, "utf8");
  assert.match(log, /^request POST \/quitquitquit$/m, log);
  // Not "quit acknowledged": once iqqq, PID 1, has its 200 and exits, the kernel
  // kills the rest of the namespace, the fake sidecar too, maybe before it logs that.
  assert.match(r.stderr, /stopped istio: POST http:\/\/127\.0\.0\.1:15020\/quitquitquit → 200 "OK"/);
});
