// SignalRelay in-process, with a real child and real signals sent to this process.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { createLogger } from "../../src/log.js";
import { FORWARDED_SIGNALS, SignalRelay } from "../../src/program/signals.js";
import { FIXTURES, NODE, watchOutput } from "../support/cli.js";

test("a signal received before the program exists is queued and delivered once it does", async () => {
  const relay = new SignalRelay(createLogger("silent", () => {})).install();
  try {
    const received: NodeJS.Signals[] = [];
    relay.onReceive((s) => received.push(s));
    process.kill(process.pid, "SIGUSR2");
    process.kill(process.pid, "SIGHUP");
    // Let the signals be handled while no program is attached.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(received, ["SIGUSR2", "SIGHUP"]);

    const child = spawn(NODE, [`${FIXTURES}print-signals.js`, "--exit-on", "SIGTERM", "--code", "5"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const out = watchOutput(child.stdout);
    await out.until("ready\n");
    relay.attach({ pid: child.pid as number, kill: (signal) => child.kill(signal) });
    await out.until("signal SIGUSR2\n");
    await out.until("signal SIGHUP\n");
    child.kill("SIGTERM");
    const code = await new Promise((r) => child.once("exit", r));
    assert.equal(code, 5);
    // Both queued signals arrive (the kernel may deliver pending ones lowest number first).
    assert.deepEqual(out.text().split("\n").sort(), ["", "ready", "signal SIGHUP", "signal SIGTERM", "signal SIGUSR2"]);
  } finally {
    relay.uninstall();
  }
});

test("the forwarded set has the signals a container is sent, and none that cannot or must not be", () => {
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const) {
    assert.ok(FORWARDED_SIGNALS.includes(s), s);
  }
  for (const s of ["SIGKILL", "SIGSTOP", "SIGCHLD", "SIGURG", "SIGPIPE", "SIGSEGV"] as const) {
    assert.ok(!FORWARDED_SIGNALS.includes(s), s);
  }
});
