// Several job containers in one pod (IQQQ_GROUP_DIR, IQQQ_GROUP, IQQQ_NAME):
// only the last one out stops the sidecars.

import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../support/cli.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

async function group(members = "extract,load") {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-group-"));
  const istio = await sidecar();
  const env = (name: string, extra: Record<string, string> = {}) => ({
    ...K8S,
    ISTIO_PORT: String(istio.port),
    IQQQ_GROUP_DIR: dir,
    IQQQ_GROUP: members,
    IQQQ_NAME: name,
    IQQQ_LOG_LEVEL: "info",
    ...extra,
  });
  return { dir, istio, env };
}

describe("IQQQ_GROUP: the last one out stops the sidecars", () => {
  test("the first member to finish leaves the sidecar; the last stops it; each keeps its own status", async () => {
    const { dir, istio, env } = await group();
    const first = await runCli(["sh", "-c", "exit 3"], { env: env("extract") });
    assert.equal(first.status, 3);
    assert.equal(istio.quits(), 0);
    assert.match(
      first.stderr,
      /not stopping any sidecar: IQQQ_GROUP: load still running; the last one out stops the sidecars/,
    );
    assert.deepEqual(JSON.parse(await readFile(join(dir, "extract.exit"), "utf8")).status, 3);
    const last = await runCli(["sh", "-c", "exit 0"], { env: env("load") });
    assert.equal(last.status, 0);
    assert.equal(istio.quits(), 1);
    assert.match(last.stderr, /every member has finished; load, the last one out, stops the sidecars/);
    assert.match(last.stderr, /IQQQ_GROUP: extract failed/);
  });

  test("members finishing at the same moment: the sidecar is stopped (at least once), never left running", async () => {
    const { istio, env } = await group("a,b,c");
    const runs = await Promise.all(
      ["a", "b", "c"].map((name, i) => runCli(["sh", "-c", `sleep 0.2; exit ${i}`], { env: env(name) })),
    );
    assert.deepEqual(
      runs.map((r) => r.status),
      [0, 1, 2],
    );
    assert.ok(istio.quits() >= 1, "nobody stopped the sidecar");
  });

  test("NEVER_KILL_ISTIO_ON_FAILURE: another member's failure keeps the sidecar", async () => {
    const { istio, env } = await group();
    await runCli(["sh", "-c", "exit 1"], { env: env("extract", { NEVER_KILL_ISTIO_ON_FAILURE: "true" }) });
    const last = await runCli(["true"], { env: env("load", { NEVER_KILL_ISTIO_ON_FAILURE: "true" }) });
    assert.equal(last.status, 0);
    assert.equal(istio.quits(), 0);
    assert.match(last.stderr, /NEVER_KILL_ISTIO_ON_FAILURE/);
  });

  test("IQQQ_NAME not in IQQQ_GROUP, or the three not set together: exit 78, nothing run", async () => {
    const { dir, istio, env } = await group();
    const stray = await runCli(["sh", "-c", "echo ran"], { env: env("other") });
    assert.equal(stray.status, 78);
    assert.equal(stray.stdout.toString(), "");
    assert.match(stray.stderr, /IQQQ_NAME="other" is invalid: it is not one of IQQQ_GROUP \(extract, load\)/);
    const partial = await runCli(["sh", "-c", "echo ran"], { env: { ...K8S, IQQQ_GROUP_DIR: dir } });
    assert.equal(partial.status, 78);
    assert.equal(partial.stdout.toString(), "");
    assert.match(partial.stderr, /IQQQ_GROUP_DIR=".*" is invalid: it goes with IQQQ_GROUP and IQQQ_NAME/);
    assert.equal(istio.quits(), 0);
  });

  test("a directory that cannot be written: that member stops the sidecar itself, with a warning", async () => {
    const { istio, env } = await group();
    // Not a directory at all (as root, permission bits would not stop the write).
    const r = await runCli(["sh", "-c", "exit 2"], { env: { ...env("extract"), IQQQ_GROUP_DIR: "/proc/version" } });
    assert.equal(r.status, 2);
    assert.equal(istio.quits(), 1);
    assert.match(r.stderr, /warning: cannot record this member's end in \/proc\/version.*stopping the sidecars now/);
  });
});
