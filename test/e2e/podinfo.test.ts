// The pod's annotations (IQQQ_PODINFO_ANNOTATIONS, a downward-API file), end to
// end: native sidecars and ambient mode get no quit; anything doubtful does.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli, waitForOutput } from "../support/cli.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

/** The annotations file as the kubelet writes it: key="Go-quoted value" a line. */
async function annotations(entries: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-podinfo-"));
  const file = join(dir, "annotations");
  await writeFile(
    file,
    Object.entries(entries)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}\n`)
      .join(""),
  );
  return file;
}

const NATIVE = JSON.stringify({ initContainers: ["istio-validation", "istio-proxy"], containers: null });
const REGULAR = JSON.stringify({ initContainers: ["istio-init"], containers: ["istio-proxy"] });

describe("IQQQ_PODINFO_ANNOTATIONS", () => {
  test("Istio injected as a native sidecar: no quit, the reason logged, the program's status kept", async () => {
    const istio = await sidecar();
    const file = await annotations({ "sidecar.istio.io/status": NATIVE });
    const env = { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PODINFO_ANNOTATIONS: file, IQQQ_LOG_LEVEL: "info" };
    const r = await runCli(["sh", "-c", "exit 3"], { env });
    assert.equal(r.status, 3);
    assert.equal(istio.quits(), 0);
    assert.match(r.stderr, /not stopping istio: Istio.s pilot-agent \(istio-proxy\) was injected as a native sidecar/);
    const standalone = await runCli([], { env });
    assert.equal(standalone.status, 0, "nothing to do is success");
    const explain = await runCli(["--explain", "true"], { env });
    assert.match(
      explain.stdout.toString(),
      /not istio: Istio.s pilot-agent \(istio-proxy\) was injected as a native sidecar/,
    );
  });

  test("a regular Istio sidecar is stopped as usual", async () => {
    const istio = await sidecar();
    const file = await annotations({ "sidecar.istio.io/status": REGULAR });
    const r = await runCli(["true"], {
      env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PODINFO_ANNOTATIONS: file },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(istio.quits(), 1);
    assert.equal(r.stderr, "");
  });

  test("ambient mode, and Linkerd's native sidecar: no quit for them, the others still stopped", async () => {
    const istio = await sidecar();
    const linkerd = await sidecar({ kind: "linkerd" });
    const cloudsql = await sidecar({ kind: "cloudsql" });
    const file = await annotations({
      "ambient.istio.io/redirection": "enabled",
      "config.linkerd.io/proxy-enable-native-sidecar": "true",
    });
    const r = await runCli(["sh", "-c", "exit 4"], {
      env: {
        ...K8S,
        IQQQ_SIDECARS: "istio,linkerd,cloudsql",
        ISTIO_PORT: String(istio.port),
        LINKERD_ADMIN_PORT: String(linkerd.port),
        CLOUDSQL_ADMIN_PORT: String(cloudsql.port),
        IQQQ_PODINFO_ANNOTATIONS: file,
      },
    });
    assert.equal(r.status, 4, r.stderr);
    assert.equal(istio.quits(), 0);
    assert.equal(linkerd.quits(), 0);
    assert.equal(cloudsql.quits(), 1);
  });

  test("asked for but missing, or malformed: one warning, and every sidecar is stopped (never skip on doubt)", async () => {
    const istio = await sidecar();
    const dir = await mkdtemp(join(tmpdir(), "iqqq-podinfo-"));
    const missing = await runCli(["true"], {
      env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PODINFO_ANNOTATIONS: join(dir, "none") },
    });
    assert.equal(missing.status, 0);
    assert.equal(istio.quits(), 1);
    assert.match(missing.stderr, /^iqqq: warning: cannot read the pod's annotations .*ENOENT/m);
    const again = await sidecar();
    const bad = join(dir, "bad");
    await writeFile(bad, "this is not the kubelet's format\n");
    const malformed = await runCli(["true"], {
      env: { ...K8S, ISTIO_PORT: String(again.port), IQQQ_PODINFO_ANNOTATIONS: bad },
    });
    assert.equal(again.quits(), 1);
    assert.equal((malformed.stderr.match(/warning/g) ?? []).length, 1, malformed.stderr);
    assert.match(malformed.stderr, /malformed/);
  });

  // The executable maps the file (pod/facts.ts), and mmap(2) refuses an empty file or a directory.
  test("an empty file is no annotations; a directory, or a file past 1 MiB: one warning; every sidecar stopped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-podinfo-"));
    const empty = join(dir, "empty");
    await writeFile(empty, "");
    const large = join(dir, "large");
    await writeFile(large, `a="${"x".repeat(1024 * 1024)}"\n`);
    for (const [file, warning] of [
      [empty, undefined],
      [dir, /cannot read the pod's annotations from .* \(EISDIR\)/],
      [large, /cannot read the pod's annotations from .* \(larger than 1048576 bytes\)/],
    ] as const) {
      const istio = await sidecar();
      const r = await runCli(["true"], {
        env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PODINFO_ANNOTATIONS: file },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(istio.quits(), 1, file);
      if (warning === undefined) assert.equal(r.stderr, "", file);
      else assert.match(r.stderr, warning);
    }
  });

  // A path that names a FIFO must not hold the stop (nor --explain) forever:
  // opened without blocking, one with no writer reads as empty, one whose writer
  // has written nothing fails with EAGAIN (one warning). Killed at 20 s if it hangs.
  test("a FIFO there never hangs: no writer reads as empty; a silent writer is one warning; every sidecar stopped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-podinfo-"));
    const fifo = join(dir, "annotations");
    execFileSync("mkfifo", [fifo]);
    // A fake sidecar ends after its quit, as the real ones do: one for each run that stops it.
    const istio = await sidecar();
    const env = { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PODINFO_ANNOTATIONS: fifo };
    const lone = await runCli(["true"], { env });
    assert.equal(lone.status, 0, lone.stderr);
    assert.equal(istio.quits(), 1);
    assert.equal(lone.stderr, "");
    const explain = await runCli(["--explain", "true"], { env });
    assert.equal(explain.status, 0, explain.stderr);
    // A writer that holds the FIFO open and says nothing (O_RDWR: Linux opens a
    // FIFO so without waiting for a reader); iqqq runs once it is seen holding it.
    const writer = spawn("sh", ["-c", 'exec 3<>"$1"; echo open; exec sleep 60', "sh", fifo], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await waitForOutput(writer.stdout, "open");
      const again = await sidecar();
      const silent = await runCli(["true"], { env: { ...env, ISTIO_PORT: String(again.port) } });
      assert.equal(silent.status, 0, silent.stderr);
      assert.equal(again.quits(), 1);
      assert.match(silent.stderr, /^iqqq: warning: cannot read the pod's annotations from .* \(EAGAIN\)/m);
    } finally {
      writer.kill("SIGKILL");
    }
  });

  test("a relative path is a bad value: exit 78, naming the variable", async () => {
    const r = await runCli(["true"], { env: { ...K8S, IQQQ_PODINFO_ANNOTATIONS: "podinfo/annotations" } });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /IQQQ_PODINFO_ANNOTATIONS="podinfo\/annotations" is invalid: expected an absolute path/);
  });
});
