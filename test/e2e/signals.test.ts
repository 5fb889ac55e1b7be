// Signals sent to the built CLI reach the wrapped program; the program's own exit wins.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FORWARDED_SIGNALS } from "../../src/program/signals.js";
import { CLI_IS_COMPILED, collect, FIXTURES, NODE, startCli, waitForOutput, watchOutput } from "../support/cli.js";
import { sharedSidecar } from "../support/sidecars.js";

const shared = sharedSidecar();

// Bun's JavaScriptCore suspends threads for its GC with SIGPWR, so a compiled
// executable never runs a SIGPWR listener: it swallows SIGPWR rather than
// forwarding it (oven-sh/bun#43186; docs/install.md).
const SIGNALS = CLI_IS_COMPILED ? FORWARDED_SIGNALS.filter((s) => s !== "SIGPWR") : FORWARDED_SIGNALS;

const printSignals = (...args: string[]) => [NODE, `${FIXTURES}print-signals.js`, ...args];

describe("forwarding", () => {
  for (const signal of SIGNALS) {
    test(`${signal} is forwarded; the program's exit status wins`, async () => {
      const quits = shared.sidecar.quits();
      const child = startCli(printSignals("--exit-on", signal, "--code", "42"), { env: shared.env });
      const result = collect(child);
      await waitForOutput(child.stdout as NodeJS.ReadableStream, "ready");
      child.kill(signal);
      const r = await result;
      assert.equal(r.status, 42, r.stderr);
      assert.equal(r.stdout.toString(), `ready\nsignal ${signal}\n`);
      assert.equal(shared.sidecar.quits() - quits, 1);
    });
  }

  test("every forwarded signal, one after the other, arrives in order", async () => {
    const child = startCli(printSignals("--exit-on", "SIGTERM"), { env: shared.env });
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

  test("a program that dies of the forwarded SIGTERM gives 143, and the shared.sidecar is stopped", async () => {
    const quits = shared.sidecar.quits();
    const child = startCli(printSignals("--exit-on", "SIGTERM", "--die"), { env: shared.env });
    const result = collect(child);
    await waitForOutput(child.stdout as NodeJS.ReadableStream, "ready");
    child.kill("SIGTERM");
    const r = await result;
    assert.equal(r.status, 143);
    assert.equal(shared.sidecar.quits() - quits, 1);
  });

  test("a program that ignores SIGTERM keeps running; iqqq keeps waiting and forwarding", async () => {
    const child = startCli(printSignals("--exit-on", "SIGUSR2", "--code", "3"), { env: shared.env });
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
