// Signals sent to the built CLI reach the wrapped program; the program's own exit wins.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FORWARDED_SIGNALS } from "../../src/program/signals.js";
import { CLI_IS_COMPILED, collect, FIXTURES, NODE, startCli, waitForOutput, watchOutput } from "../support/cli.js";
import { type FakeSidecar, startFakeSidecar } from "../support/fake-sidecar.js";

let sidecar: FakeSidecar;
let env: Record<string, string>;
before(async () => {
  sidecar = await startFakeSidecar({ stayAfterQuit: true });
  env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port) };
});
after(() => sidecar.close());

// Bun's JavaScriptCore suspends threads for its GC with SIGPWR, so a compiled
// executable never runs a SIGPWR listener: it swallows SIGPWR rather than
// forwarding it (oven-sh/bun#43186; docs/install.md).
const SIGNALS = CLI_IS_COMPILED ? FORWARDED_SIGNALS.filter((s) => s !== "SIGPWR") : FORWARDED_SIGNALS;

const printSignals = (...args: string[]) => [NODE, `${FIXTURES}print-signals.js`, ...args];

describe("forwarding", () => {
  for (const signal of SIGNALS) {
    test(`${signal} is forwarded; the program's exit status wins`, async () => {
      const quits = sidecar.quits();
      const child = startCli(printSignals("--exit-on", signal, "--code", "42"), { env });
      const result = collect(child);
      await waitForOutput(child.stdout as NodeJS.ReadableStream, "ready");
      child.kill(signal);
      const r = await result;
      assert.equal(r.status, 42, r.stderr);
      assert.equal(r.stdout.toString(), `ready\nsignal ${signal}\n`);
      assert.equal(sidecar.quits() - quits, 1);
    });
  }

  test("every forwarded signal, one after the other, arrives in order", async () => {
    const child = startCli(printSignals("--exit-on", "SIGTERM"), { env });
    const result = collect(child);
    await waitForOutput(child.stdout as NodeJS.ReadableStream, "ready");
    const others = SIGNALS.filter((s) => s !== "SIGTERM");
    for (const signal of others) {
      child.kill(signal);
      await waitForOutput(child.stdout as NodeJS.ReadableStream, `signal ${signal}\n`);
    }
    child.kill("SIGTERM");
    const r = await result;
    assert.equal(r.status, 0);
    assert.equal(r.stdout.toString(), ["ready", ...[...others, "SIGTERM"].map((s) => `signal ${s}`), ""].join("\n"));
  });

  test("a program that dies of the forwarded SIGTERM gives 143, and the sidecar is stopped", async () => {
    const quits = sidecar.quits();
    const child = startCli(printSignals("--exit-on", "SIGTERM", "--die"), { env });
    const result = collect(child);
    await waitForOutput(child.stdout as NodeJS.ReadableStream, "ready");
    child.kill("SIGTERM");
    const r = await result;
    assert.equal(r.status, 143);
    assert.equal(sidecar.quits() - quits, 1);
  });

  test("a program that ignores SIGTERM keeps running; iqqq keeps waiting and forwarding", async () => {
    const child = startCli(printSignals("--exit-on", "SIGUSR2", "--code", "3"), { env });
    const out = watchOutput(child.stdout as NodeJS.ReadableStream);
    const result = collect(child);
    await out.until("ready");
    child.kill("SIGTERM");
    await out.until("signal SIGTERM");
    child.kill("SIGTERM");
    await out.until("signal SIGTERM\nsignal SIGTERM");
    assert.equal(child.exitCode, null, "iqqq exited although the program is still running");
    child.kill("SIGUSR2");
    const r = await result;
    assert.equal(r.status, 3);
  });
});
