// Signal storms against the built CLI: bursts, signals at every stage (readiness
// wait, program running, program exiting, sidecar stop), a program that ignores
// SIGTERM, and a sweep of every signal 1-64.

import assert from "node:assert/strict";
import { constants } from "node:os";
import { after, before, describe, test } from "node:test";
import { FORWARDED_SIGNALS } from "../../src/program/signals.js";
import { pool, startCli } from "../support/cli.js";
import { type FakeSidecar, startFakeSidecar } from "../support/fake-sidecar.js";
import { startFaultServer } from "../support/fault-server.js";
import { record } from "./figures.js";
import { printSignals, SWEEP, type SweepOutcome, sleep, sweepOne, until, watch } from "./harness.js";

let sidecar: FakeSidecar;
let env: Record<string, string>;
let sent = 0;
before(async () => {
  sidecar = await startFakeSidecar({ stayAfterQuit: true });
  env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port) };
});
after(async () => {
  await sidecar.close();
  record("signals-storms", { signals: sent });
});

function send(pid: number | undefined, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid ?? 0, signal);
    sent++;
    return true;
  } catch {
    return false; // ESRCH: it has just exited
  }
}

/** Signals a program can be sent and survive, with print-signals' handlers. */
const CAUGHT = FORWARDED_SIGNALS.filter((s) => s !== "SIGTERM");
/** Forwarded, and harmless to sh and sleep (default action: ignore or continue). */
const HARMLESS: NodeJS.Signals[] = ["SIGWINCH", "SIGCONT"];

describe("bursts", () => {
  test("50 mixed signals in a burst, 3 runs at once: every kind arrives, iqqq survives, status and stop intact", async () => {
    const quits = sidecar.quits();
    const runs = await pool(3, 3, async (run) => {
      const w = watch(startCli(printSignals("--exit-on", "SIGTERM", "--code", "42"), { env }));
      await w.until("ready\n");
      const burst = Array.from({ length: 50 }, (_, i) => CAUGHT[(i + run) % CAUGHT.length] as NodeJS.Signals);
      for (const signal of burst) assert.ok(send(w.child.pid, signal));
      // Standard signals coalesce while pending, so count kinds, not deliveries.
      for (const signal of new Set(burst)) await w.until(`signal ${signal}\n`);
      send(w.child.pid, "SIGTERM");
      const r = await w.result;
      const lines = r.stdout.toString().trim().split("\n").slice(1);
      assert.equal(r.status, 42, r.stderr);
      assert.equal(lines.at(-1), "signal SIGTERM");
      assert.ok(lines.length <= 51, `${lines.length} deliveries for 51 signals`);
      assert.ok(
        lines.every(
          (l) =>
            (/^signal SIG[A-Z0-9]+$/.test(l) && burst.includes(l.slice(7) as NodeJS.Signals)) || l === "signal SIGTERM",
        ),
      );
      return lines.length;
    });
    assert.equal(sidecar.quits() - quits, 3);
    record("signals-burst", { runs: 3, sent: 3 * 51, delivered: runs.reduce((a, b) => a + b, 0) });
  });

  test("50 SIGTERMs at a program that exits on the first: its status wins, one stop, no crash", async () => {
    const quits = sidecar.quits();
    const w = watch(startCli(printSignals("--exit-on", "SIGTERM", "--code", "42"), { env }));
    await w.until("ready\n");
    for (let i = 0; i < 50; i++) send(w.child.pid, "SIGTERM");
    const r = await w.result;
    assert.equal(r.status, 42, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error/);
    assert.equal(sidecar.quits() - quits, 1);
  });
});

describe("a program that ignores SIGTERM", () => {
  test("iqqq keeps waiting and keeps forwarding, then the program's status wins", async () => {
    const w = watch(startCli(printSignals("--exit-on", "SIGUSR2", "--code", "42"), { env }));
    await w.until("ready\n");
    for (const [i, signal] of (["SIGTERM", "SIGTERM", "SIGINT", "SIGTERM", "SIGHUP", "SIGTERM"] as const).entries()) {
      send(w.child.pid, signal);
      await until(() => w.out().split("\n").length - 2 >= i + 1, `delivery ${i + 1}`);
      assert.equal(w.out().trim().split("\n").at(-1), `signal ${signal}`, "one delivery per signal, in order");
    }
    await sleep(300);
    assert.equal(w.ended(), false, "iqqq gave up on a program that is still running");
    send(w.child.pid, "SIGUSR2");
    const r = await w.result;
    assert.equal(r.status, 42);
  });

  test("a shell that traps SIGTERM and SIGINT as ignored: iqqq waits for it to finish", async () => {
    const w = watch(startCli(["sh", "-c", 'trap "" TERM INT; echo ready; sleep 1; exit 6'], { env }));
    await w.until("ready\n");
    for (let i = 0; i < 10; i++) {
      send(w.child.pid, i % 2 === 0 ? "SIGTERM" : "SIGINT");
      await sleep(50);
    }
    assert.equal(w.ended(), false);
    const r = await w.result;
    assert.equal(r.status, 6, r.stderr);
  });
});

describe("a program that exits while signals are being forwarded", () => {
  test("20 programs exit at their own time under a stream of signals: every status intact, every sidecar stopped", async () => {
    const quits = sidecar.quits();
    const results = await pool(20, 4, async (i) => {
      const code = (i * 13 + 1) % 256;
      const w = watch(startCli(["sh", "-c", `echo ready; sleep 0.${i % 4}; exit ${code}`], { env }));
      // Not before: until Node has installed iqqq's handlers a signal has its default
      // action, and SIGPIPE's is to terminate (docs/reliability.md).
      await w.until("ready\n");
      // Forwarded and not (SIGCHLD, SIGURG, SIGPIPE), until iqqq itself has exited.
      const stream: (NodeJS.Signals | number)[] = [...HARMLESS, "SIGCHLD", "SIGURG", "SIGPIPE"];
      for (let k = 0; !w.ended(); k++) {
        send(w.child.pid, stream[k % stream.length] as NodeJS.Signals);
        await sleep(2);
      }
      const r = await w.result;
      return { code, status: r.status, stderr: r.stderr };
    });
    for (const r of results) assert.equal(r.status, r.code, r.stderr);
    assert.equal(sidecar.quits() - quits, 20);
  });

  test("a program killed by a forwarded SIGTERM while more arrive: 143, one stop", async () => {
    const quits = sidecar.quits();
    const w = watch(startCli(["sh", "-c", "echo ready; exec sleep 5"], { env }));
    await w.until("ready\n");
    while (!w.ended()) {
      send(w.child.pid, "SIGTERM");
      await sleep(1);
    }
    const r = await w.result;
    assert.equal(r.status, 128 + constants.signals.SIGTERM, r.stderr);
    assert.equal(sidecar.quits() - quits, 1);
  });
});

describe("signals during the sidecar stop", () => {
  test("every signal during a slow stop: the stop completes and the program's status wins", async () => {
    let answered = false;
    const slow = await startFaultServer((c) => {
      void c.request.then(() =>
        c.after(700, () => {
          answered = true;
          c.socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOK");
        }),
      );
    });
    try {
      const w = watch(
        startCli(["sh", "-c", "exit 3"], {
          env: { ...env, ISTIO_PORT: String(slow.port), IQQQ_LOG_LEVEL: "info", IQQQ_QUIT_TIMEOUT: "5s" },
        }),
      );
      await until(() => slow.requests.length > 0 || w.ended(), "the quit request");
      const storm = [...FORWARDED_SIGNALS, "SIGCHLD", "SIGURG", "SIGPIPE"] as NodeJS.Signals[];
      for (let round = 0; round < 3; round++) for (const s of storm) send(w.child.pid, s);
      const r = await w.result;
      assert.equal(r.status, 3, r.stderr);
      assert.ok(answered);
      assert.match(r.stderr, /stopped istio: POST/);
    } finally {
      await slow.close();
    }
  });
});

describe("signals during the readiness wait", () => {
  let ready = false;
  let gate: FakeSidecar;
  let gateEnv: Record<string, string>;
  before(async () => {
    gate = await startFakeSidecar({ stayAfterQuit: true, ready: () => ready });
    gateEnv = {
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      ISTIO_PORT: String(gate.port),
      ISTIO_READY_PORT: String(gate.port),
      IQQQ_WAIT_FOR: "istio",
    };
  });
  after(() => gate.close());

  /** Starts iqqq and resolves once it has polled readiness at least twice. */
  async function waiting(args: string[]) {
    ready = false;
    const polls = gate.requests.filter((r) => r.path === "/healthz/ready").length;
    const w = watch(startCli(args, { env: gateEnv }));
    await until(
      () => gate.requests.filter((r) => r.path === "/healthz/ready").length >= polls + 2 || w.ended(),
      "readiness polls",
    );
    return w;
  }

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} ends the wait: 128+N, the program never starts, the sidecar is still stopped`, async () => {
      const quits = gate.quits();
      const w = await waiting(["sh", "-c", "echo started"]);
      send(w.child.pid, signal);
      const r = await w.result;
      assert.equal(r.status, 128 + constants.signals[signal], r.stderr);
      assert.equal(r.stdout.length, 0, "the program ran");
      assert.equal(gate.quits() - quits, 1);
    });
  }

  test("50 other signals during the wait are kept, and delivered once the program starts", async () => {
    const w = await waiting(["sleep", "5"]);
    for (let i = 0; i < 49; i++) send(w.child.pid, HARMLESS[i % 2] as NodeJS.Signals);
    send(w.child.pid, "SIGHUP");
    await sleep(100);
    assert.equal(w.ended(), false);
    ready = true;
    const r = await w.result;
    // sleep dies of the queued SIGHUP: it was delivered, not lost.
    assert.equal(r.status, 128 + constants.signals.SIGHUP, r.stderr);
  });
});

describe("every signal 1-64 sent to iqqq (not PID 1)", () => {
  // The tty stops are not forwarded. What they do to iqqq depends on the test's own
  // process group, not on iqqq: the kernel discards them when the group is orphaned
  // (POSIX kill(2)), as it is under a CI runner or a shell with job control.
  const TTY_STOP: readonly SweepOutcome[] = ["stopped iqqq", "ignored"];
  const either: Record<string, readonly SweepOutcome[]> = { SIGTSTP: TTY_STOP, SIGTTIN: TTY_STOP, SIGTTOU: TTY_STOP };
  const named: Record<string, SweepOutcome> = {
    ...Object.fromEntries(FORWARDED_SIGNALS.map((s) => [s, "forwarded"])),
    SIGCHLD: "ignored",
    SIGURG: "ignored",
    SIGPIPE: "ignored",
    // Describe a fault in iqqq itself when synchronous; Node lets them kill the process.
    SIGILL: "killed iqqq",
    SIGTRAP: "killed iqqq",
    SIGABRT: "killed iqqq",
    SIGBUS: "killed iqqq",
    SIGFPE: "killed iqqq",
    SIGSEGV: "killed iqqq",
    SIGSYS: "killed iqqq",
    SIGSTKFLT: "killed iqqq",
  };
  test(`${SWEEP.length} signals: each forwarded, ignored, or as documented`, async () => {
    const rows = await pool(SWEEP.length, 6, (i) =>
      sweepOne(SWEEP[i] as number, () => {
        const w = watch(startCli(printSignals("--exit-on", "SIGUSR2", "--code", "42"), { env }));
        return { watched: w, target: () => w.child.pid ?? 0 };
      }),
    );
    sent += rows.length;
    const wrong = rows.filter((r) => {
      const allowed = either[r.name];
      if (allowed !== undefined) return !allowed.includes(r.outcome) || (r.outcome === "ignored" && r.status !== 42);
      const expected = named[r.name] ?? (r.signal >= 34 ? "killed iqqq" : undefined);
      if (expected !== undefined && r.outcome !== expected) return true;
      return r.outcome !== "killed iqqq" && r.status !== 42;
    });
    assert.deepEqual(wrong, []);
    const count = (o: SweepOutcome) => rows.filter((r) => r.outcome === o).map((r) => r.name);
    record("signals-sweep", {
      signals: rows.length,
      forwarded: count("forwarded").length,
      ignored: count("ignored"),
      stopped: count("stopped iqqq"),
      killed: count("killed iqqq"),
    });
  });
});
