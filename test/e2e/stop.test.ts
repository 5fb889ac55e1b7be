// How the built CLI stops the sidecar: against fake pilot-agents on loopback.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runCli } from "../support/cli.js";
import { closedPort, fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

describe("standalone mode", () => {
  test("stops the sidecar now: POST /quitquitquit, 200 OK, exit 0, pilot-agent exits", async () => {
    const s = await sidecar();
    const r = await runCli([], { env: { ...K8S, ISTIO_PORT: String(s.port), IQQQ_LOG_LEVEL: "info" } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      s.requests.map((q) => `${q.method} ${q.path}`),
      ["POST /quitquitquit"],
    );
    await s.stopped;
    assert.match(r.stderr, /stopped istio: POST http:\/\/127\.0\.0\.1:\d+\/quitquitquit → 200 "OK"/);
  });

  test("no sidecar listening: exit 69 and one warning, without waiting out the budget", async () => {
    const port = await closedPort();
    const r = await runCli([], { env: { ...K8S, ISTIO_PORT: String(port), IQQQ_QUIT_TIMEOUT: "60s" } });
    assert.equal(r.status, 69);
    assert.equal(r.stderr.match(/no sidecar is listening/g)?.length, 1, r.stderr);
    // A correctness bound, not a speed figure: refused must not be retried for the 60 s budget.
    assert.ok(r.durationMs < 10_000, `took ${r.durationMs} ms`);
  });

  test("a sidecar answering an error: exit 1 and a warning with status and body", async () => {
    const s = await sidecar({ quit: [{ status: 403, body: "forbidden" }] });
    const r = await runCli([], { env: { ...K8S, ISTIO_PORT: String(s.port) } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /could not stop istio: .* 403 "forbidden"/);
    assert.equal(s.requests.length, 1, "a 4xx is not retried");
  });

  test("outside Kubernetes or disabled: nothing is sent, exit 0", async () => {
    const s = await sidecar();
    for (const env of [{}, { ...K8S, DISABLE_IQQQ: "true" }, { ...K8S, NEVER_KILL_ISTIO: "yes" }]) {
      const r = await runCli([], { env: { ...env, ISTIO_PORT: String(s.port), IQQQ_LOG_LEVEL: "info" } });
      assert.equal(r.status, 0);
      assert.match(r.stderr, /not stopping any sidecar|no sidecar is stopped/);
    }
    assert.equal(s.requests.length, 0);
  });
});

describe("retries and budget", () => {
  test("5xx then recovery: retried with backoff until OK", async () => {
    const s = await sidecar({ quit: [{ status: 503, body: "no healthy upstream" }, { status: 500 }, "reset", "ok"] });
    const r = await runCli([], { env: { ...K8S, ISTIO_PORT: String(s.port), IQQQ_LOG_LEVEL: "debug" } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(s.requests.length, 4);
    assert.equal(s.quits(), 1);
    const gaps = s.requests.slice(1).map((q, i) => q.at - (s.requests[i]?.at ?? 0));
    assert.ok(
      gaps.every((g) => g >= 40),
      `retries came without backoff: ${gaps}`,
    );
  });

  test("a hung sidecar never holds iqqq past IQQQ_QUIT_TIMEOUT; the program's status survives", async () => {
    const s = await sidecar({ quit: ["hang"] });
    const r = await runCli(["sh", "-c", "exit 7"], {
      env: { ...K8S, ISTIO_PORT: String(s.port), IQQQ_QUIT_TIMEOUT: "1500ms" },
    });
    assert.equal(r.status, 7);
    assert.ok(r.durationMs >= 1400, `gave up early: ${r.durationMs} ms`);
    assert.ok(r.durationMs < 1500 + 3000, `overran the budget: ${r.durationMs} ms`);
    assert.match(r.stderr, /could not stop istio: .*timed out .*IQQQ_QUIT_TIMEOUT 1\.5s used up/);
    assert.ok(s.requests.length >= 1);
  });

  test("a sidecar that keeps failing: the program's status survives, exit 0 stays 0", async () => {
    const s = await sidecar({ quit: [{ status: 503 }] });
    const r = await runCli(["true"], { env: { ...K8S, ISTIO_PORT: String(s.port), IQQQ_QUIT_TIMEOUT: "500ms" } });
    assert.equal(r.status, 0);
    assert.ok(s.requests.length >= 2, "503 was not retried");
  });

  test("redirects are never followed", async () => {
    const elsewhere = await sidecar();
    const s = await sidecar({ quit: [{ status: 307, location: `${elsewhere.url}/quitquitquit` }] });
    const r = await runCli([], { env: { ...K8S, ISTIO_PORT: String(s.port) } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /307 redirect to ".*", not followed/);
    assert.equal(elsewhere.requests.length, 0);
  });
});

describe("where", () => {
  test("ISTIO_QUIT_API overrides ISTIO_PORT and keeps its path", async () => {
    const s = await sidecar({ stayAfterQuit: true });
    const r = await runCli([], { env: { ...K8S, ISTIO_PORT: "1", ISTIO_QUIT_API: `${s.url}/` } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      s.requests.map((q) => q.path),
      ["/quitquitquit"],
    );
  });

  test("GENERIC_QUIT_ENDPOINTS each get a POST, in parallel; their failures are logged, never fatal", async () => {
    const istio = await sidecar();
    const slow = await sidecar({ quit: ["hang"] });
    const failing = await sidecar({ quit: [{ status: 404, body: "shutdown endpoint is not enabled" }] });
    const r = await runCli(["sh", "-c", "exit 0"], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        GENERIC_QUIT_ENDPOINTS: ` ${slow.url}/quitquitquit , ${failing.url}/shutdown `,
        IQQQ_QUIT_TIMEOUT: "1s",
      },
    });
    assert.equal(r.status, 0);
    assert.equal(istio.quits(), 1);
    assert.deepEqual(
      failing.requests.map((q) => `${q.method} ${q.path}`),
      ["POST /shutdown"],
    );
    assert.ok(slow.requests.length >= 1);
    // In parallel: the hung endpoint did not delay the others' requests.
    assert.ok((failing.requests[0]?.at ?? 0) - (slow.requests[0]?.at ?? 0) < 500);
    // Standalone: only Istio's outcome decides the exit status.
    const standalone = await runCli([], {
      env: { ...K8S, ISTIO_QUIT_API: (await sidecar()).url, GENERIC_QUIT_ENDPOINTS: `${failing.url}/shutdown` },
    });
    assert.equal(standalone.status, 0, standalone.stderr);
  });
});

describe("never-kill flags", () => {
  test("NEVER_KILL_ISTIO_ON_FAILURE skips the stop only when the program failed", async () => {
    const s = await sidecar({ stayAfterQuit: true });
    const env = { ...K8S, ISTIO_PORT: String(s.port), NEVER_KILL_ISTIO_ON_FAILURE: "true" };
    assert.equal((await runCli(["sh", "-c", "exit 3"], { env })).status, 3);
    assert.equal((await runCli(["sh", "-c", "kill -TERM $$"], { env })).status, 143);
    assert.equal((await runCli(["iqqq-no-such-command-x"], { env })).status, 127);
    assert.equal(s.requests.length, 0);
    assert.equal((await runCli(["true"], { env })).status, 0);
    assert.equal(s.quits(), 1);
  });

  test("NEVER_KILL_ISTIO and DISABLE_IQQQ: the program runs in full, nothing is stopped", async () => {
    const s = await sidecar({ stayAfterQuit: true });
    for (const flag of ["NEVER_KILL_ISTIO", "DISABLE_IQQQ"]) {
      const r = await runCli(["sh", "-c", "echo ran; exit 4"], {
        env: { ...K8S, ISTIO_PORT: String(s.port), [flag]: "true" },
      });
      assert.equal(r.status, 4);
      assert.equal(r.stdout.toString(), "ran\n");
    }
    assert.equal(s.requests.length, 0);
  });
});
