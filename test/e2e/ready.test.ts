// The readiness gate end to end: the program starts only once the sidecar is
// ready; the timeout policies; signals during the wait. Ports scuttle's own
// readiness scenarios (slow Envoy, never-LIVE Envoy with each timeout policy,
// START_WITHOUT_ENVOY) and adds what scuttle never tested.

import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { collect, runCli, startCli, watchOutput } from "../support/cli.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

/** Ready after `ms`; remembers when it first said so. */
function readyAfter(ms: number): { ready: () => boolean; readyAt: () => number } {
  const start = Date.now();
  let at = 0;
  return {
    ready: () => {
      const ready = Date.now() - start >= ms;
      if (ready && at === 0) at = Date.now();
      return ready;
    },
    readyAt: () => at,
  };
}

/** A program that records when it started, in ms since the epoch. */
async function markerProgram(): Promise<{ args: string[]; startedAt: () => Promise<number | undefined> }> {
  const file = join(await mkdtemp(join(tmpdir(), "iqqq-ready-")), "started");
  return {
    args: ["sh", "-c", `date +%s%3N > ${file}`],
    startedAt: async () => {
      try {
        return Number(await readFile(file, "utf8"));
      } catch {
        return undefined;
      }
    },
  };
}

describe("ENVOY_ADMIN_API: /server_info until LIVE (scuttle)", () => {
  test("slow Envoy: the program starts only once the state is LIVE, then the sidecar is stopped", async () => {
    const gate = readyAfter(800);
    const envoy = await sidecar({ kind: "envoy", ready: gate.ready });
    const istio = await sidecar();
    const program = await markerProgram();
    const r = await runCli(program.args, {
      env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), IQQQ_LOG_LEVEL: "info" },
    });
    assert.equal(r.status, 0, r.stderr);
    const started = await program.startedAt();
    assert.ok(started !== undefined && gate.readyAt() > 0 && started >= gate.readyAt(), "started before LIVE");
    assert.ok(envoy.requests.filter((q) => q.path === "/server_info").length >= 2, "did not poll");
    assert.match(r.stderr, /waiting for envoy to be ready: .*state PRE_INITIALIZING/);
    assert.equal(istio.quits(), 1);
    assert.equal(envoy.quits(), 0, "Istio's quit API applies: Envoy's own quit is not needed");
  });

  test("503 for a while, then LIVE (scuttle's own fake): the program waits for it", async () => {
    const gate = readyAfter(600);
    const envoy = await sidecar({ kind: "envoy", ready: gate.ready, notReadyStatus: 503 });
    const istio = await sidecar();
    const program = await markerProgram();
    const r = await runCli(program.args, {
      env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port) },
    });
    assert.equal(r.status, 0, r.stderr);
    const started = await program.startedAt();
    assert.ok(started !== undefined && started >= gate.readyAt(), "started before LIVE");
    assert.equal(istio.quits(), 1);
  });

  for (const policy of ["WAIT_FOR_ENVOY_TIMEOUT", "QUIT_WITHOUT_ENVOY_TIMEOUT"] as const) {
    test(`always 503, ${policy}: the policy applies`, async () => {
      const envoy = await sidecar({ kind: "envoy", ready: () => false, notReadyStatus: 503 });
      const istio = await sidecar();
      const program = await markerProgram();
      const r = await runCli(program.args, {
        env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), [policy]: "400ms" },
      });
      const ran = (await program.startedAt()) !== undefined;
      assert.deepEqual([r.status, ran], policy === "WAIT_FOR_ENVOY_TIMEOUT" ? [0, true] : [75, false]);
      assert.equal(istio.quits(), 1);
    });
  }

  test("never LIVE, WAIT_FOR_ENVOY_TIMEOUT: the program runs anyway after the timeout", async () => {
    const envoy = await sidecar({ kind: "envoy", ready: () => false });
    const istio = await sidecar();
    const program = await markerProgram();
    const began = Date.now();
    const r = await runCli([...program.args.slice(0, 2), `${program.args[2]}; exit 9`], {
      env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), WAIT_FOR_ENVOY_TIMEOUT: "700ms" },
    });
    assert.equal(r.status, 9);
    const started = await program.startedAt();
    assert.ok(started !== undefined && started - began >= 650, `started ${started && started - began} ms in`);
    assert.match(r.stderr, /not ready within WAIT_FOR_ENVOY_TIMEOUT: starting the program anyway/);
    assert.equal(istio.quits(), 1);
  });

  test("never LIVE, QUIT_WITHOUT_ENVOY_TIMEOUT (wins over WAIT_FOR_ENVOY_TIMEOUT): program not run, sidecar stopped, exit 75", async () => {
    const envoy = await sidecar({ kind: "envoy", ready: () => false });
    const istio = await sidecar();
    const program = await markerProgram();
    const r = await runCli(program.args, {
      env: {
        ...K8S,
        ENVOY_ADMIN_API: envoy.url,
        ISTIO_PORT: String(istio.port),
        WAIT_FOR_ENVOY_TIMEOUT: "300ms",
        QUIT_WITHOUT_ENVOY_TIMEOUT: "600ms",
      },
    });
    assert.equal(r.status, 75);
    assert.equal(await program.startedAt(), undefined, "the program ran");
    assert.match(r.stderr, /not ready within QUIT_WITHOUT_ENVOY_TIMEOUT: the program was not started/);
    assert.equal(istio.quits(), 1);
  });

  test("an Envoy that is not even listening: the timeout still applies", async () => {
    const istio = await sidecar();
    const closed = await sidecar();
    await closed.close();
    const r = await runCli(["sh", "-c", "exit 4"], {
      env: { ...K8S, ENVOY_ADMIN_API: closed.url, ISTIO_PORT: String(istio.port), WAIT_FOR_ENVOY_TIMEOUT: "400ms" },
    });
    assert.equal(r.status, 4);
    assert.equal(istio.quits(), 1);
  });

  test("START_WITHOUT_ENVOY: no wait at all, the sidecar is still stopped", async () => {
    const envoy = await sidecar({ kind: "envoy", ready: () => false });
    const istio = await sidecar();
    const r = await runCli(["true"], {
      env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), START_WITHOUT_ENVOY: "true" },
    });
    assert.equal(r.status, 0);
    assert.equal(envoy.requests.length, 0);
    assert.equal(istio.quits(), 1);
  });
});

describe("signals during the wait", () => {
  for (const [signal, status] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    test(`${signal} ends an unbounded wait at once: program not started, sidecar stopped, exit ${status}`, async () => {
      const envoy = await sidecar({ kind: "envoy", ready: () => false });
      const istio = await sidecar();
      const program = await markerProgram();
      const child = startCli(program.args, {
        env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), IQQQ_LOG_LEVEL: "info" },
      });
      const err = watchOutput(child.stderr as NodeJS.ReadableStream);
      const result = collect(child);
      await err.until("waiting for envoy to be ready");
      child.kill(signal);
      const r = await result;
      assert.equal(r.status, status, err.text());
      assert.equal(await program.startedAt(), undefined, "the program ran");
      assert.match(err.text(), new RegExp(`${signal} while waiting for the sidecar to be ready`));
      assert.equal(istio.quits(), 1);
    });
  }

  test("another signal during the wait is not lost: it reaches the program once it starts", async () => {
    const gate = readyAfter(600);
    const envoy = await sidecar({ kind: "envoy", ready: gate.ready });
    const istio = await sidecar();
    const child = startCli(["sleep", "5"], {
      env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), IQQQ_LOG_LEVEL: "info" },
    });
    const err = watchOutput(child.stderr as NodeJS.ReadableStream);
    const result = collect(child);
    await err.until("waiting for envoy to be ready");
    child.kill("SIGHUP");
    const r = await result;
    // sleep dies of the queued SIGHUP as soon as it exists: 128 + 1.
    assert.equal(r.status, 129, err.text());
    assert.ok(gate.readyAt() > 0);
    assert.equal(istio.quits(), 1);
  });
});

describe("IQQQ_WAIT_FOR: Istio's and Linkerd's own readiness", () => {
  test("istio: GET :15021/healthz/ready until 200", async () => {
    const gate = readyAfter(500);
    const istio = await sidecar({ ready: gate.ready });
    const program = await markerProgram();
    const r = await runCli(program.args, {
      env: { ...K8S, IQQQ_WAIT_FOR: "istio", ISTIO_READY_PORT: String(istio.port), ISTIO_PORT: String(istio.port) },
    });
    assert.equal(r.status, 0, r.stderr);
    const started = await program.startedAt();
    assert.ok(started !== undefined && started >= gate.readyAt());
    assert.ok(istio.requests.some((q) => q.method === "GET" && q.path === "/healthz/ready"));
    assert.equal(istio.quits(), 1);
  });

  test("linkerd: GET :4191/ready until 200, then POST /shutdown", async () => {
    const gate = readyAfter(500);
    const linkerd = await sidecar({ kind: "linkerd", ready: gate.ready });
    const program = await markerProgram();
    const r = await runCli(program.args, {
      env: { ...K8S, IQQQ_WAIT_FOR: "linkerd", IQQQ_SIDECARS: "linkerd", LINKERD_ADMIN_PORT: String(linkerd.port) },
    });
    assert.equal(r.status, 0, r.stderr);
    const started = await program.startedAt();
    assert.ok(started !== undefined && started >= gate.readyAt());
    assert.deepEqual(
      linkerd.requests.filter((q) => q.method === "POST").map((q) => q.path),
      ["/shutdown"],
    );
  });

  test("not in Kubernetes: no wait (iqqq is a pass-through)", async () => {
    const istio = await sidecar({ ready: () => false });
    const r = await runCli(["true"], { env: { IQQQ_WAIT_FOR: "istio", ISTIO_READY_PORT: String(istio.port) } });
    assert.equal(r.status, 0);
    assert.equal(istio.requests.length, 0);
  });
});
