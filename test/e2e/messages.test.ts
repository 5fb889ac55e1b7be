// What a newcomer reads (issue 14): messages that say what happens and why, on the built CLI.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../support/cli.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

describe("messages", () => {
  test("sidecar settings outside Kubernetes: one warning that nothing is stopped, why, and how to try locally", async () => {
    const r = await runCli(["sh", "-c", "exit 3"], { env: { ISTIO_PORT: "15020", IQQQ_SIDECARS: "istio,linkerd" } });
    assert.equal(r.status, 3);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? "",
      /^iqqq: warning: IQQQ_SIDECARS, ISTIO_PORT are set, but KUBERNETES_SERVICE_HOST is not: outside Kubernetes no sidecar is stopped\. To try iqqq against a local sidecar, set KUBERNETES_SERVICE_HOST to any value$/,
    );
    // Said once: at info level the stop does not repeat it.
    const info = await runCli(["true"], { env: { ISTIO_PORT: "15020", IQQQ_LOG_LEVEL: "info" } });
    assert.equal((info.stderr.match(/no sidecar is stopped|not stopping any sidecar/g) ?? []).length, 1, info.stderr);
    // Without sidecar settings, outside Kubernetes is a quiet pass-through.
    assert.equal((await runCli(["true"])).stderr, "");
  });

  test("the watcher's start timeout with NEVER_KILL_ISTIO_ON_FAILURE says the sidecars are left running, as they are", async () => {
    const istio = await sidecar();
    const env = {
      ...K8S,
      ISTIO_PORT: String(istio.port),
      IQQQ_WATCH_PROCESS: "no-such-job-xq",
      IQQQ_WATCH_START_TIMEOUT: "200ms",
    };
    const kept = await runCli([], { env: { ...env, NEVER_KILL_ISTIO_ON_FAILURE: "true" } });
    assert.equal(kept.status, 75);
    assert.equal(istio.quits(), 0);
    assert.match(kept.stderr, /leaving the sidecars running \(NEVER_KILL_ISTIO_ON_FAILURE is true\) and exiting 75/);
    assert.doesNotMatch(kept.stderr, /stopping the sidecars/);
    const stopped = await runCli([], { env });
    assert.equal(stopped.status, 75);
    assert.equal(istio.quits(), 1);
    assert.match(stopped.stderr, /stopping the sidecars and exiting 75/);
  });

  test("iqqq's own options in any order: --help, then --version, then --explain win", async () => {
    const version = await runCli(["--explain", "--version"]);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout.toString(), /^iqqq \d+\.\d+\.\d+/);
    const help = await runCli(["--version", "--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout.toString(), /IQQQ_QUIT_TIMEOUT/);
    const unknown = await runCli(["--explain", "--verbose", "ls"]);
    assert.equal(unknown.status, 64);
    assert.match(unknown.stderr, /unknown option "--verbose": iqqq's own are --help \(-h\), --version and --explain/);
  });

  test("a directory as PROGRAM: 126, and the message says it is a directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-dir-"));
    const r = await runCli([dir]);
    assert.equal(r.status, 126);
    assert.match(r.stderr, /is a directory, not a program/);
  });

  test("--explain prints to stdout, and runs nothing", async () => {
    const r = await runCli(["--explain", "sh", "-c", "echo ran"], { env: K8S });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /^iqqq .*, as iqqq$/m);
    assert.doesNotMatch(r.stdout.toString(), /^ran$/m);
  });

  test("a misspelt variable: one warning naming the closest known one, and the program still runs", async () => {
    const r = await runCli(["sh", "-c", "echo ran; exit 3"], { env: { IQQQ_QUIT_TIMOUT: "1s" } });
    assert.equal(r.status, 3);
    assert.equal(r.stdout.toString(), "ran\n");
    assert.equal(
      r.stderr,
      "iqqq: warning: IQQQ_QUIT_TIMOUT is not a variable iqqq knows, so it has no effect; did you mean IQQQ_QUIT_TIMEOUT?\n",
    );
  });
});
