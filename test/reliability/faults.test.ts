// Hostile sidecars, end to end: the built CLI against raw TCP servers on
// loopback that misbehave in every way we could think of. In each, the
// program's exit status survives and iqqq ends within its budget.

import assert from "node:assert/strict";
import { test } from "node:test";
import { pool, runCli } from "../support/cli.js";
import { type Connection, closedPort, type FaultServer, startFaultServer } from "../support/fault-server.js";
import { record } from "./figures.js";

/** IQQQ_QUIT_TIMEOUT for these runs: the documented total budget for the stop. */
const BUDGET_MS = 1000;
/** A bound against hangs, not a speed measurement: process start-up on a loaded 2-core machine. */
const SLACK_MS = 3000;

type Outcome = "stopped" | "failed" | "absent";
/** iqqq's standalone exit status for each outcome (src/exit-status.ts). */
const STANDALONE: Record<Outcome, number> = { stopped: 0, failed: 1, absent: 69 };

interface Fault {
  readonly name: string;
  /** What the sidecar does with each connection; undefined: nothing listens. */
  readonly script?: (c: Connection, index: number) => void;
  readonly read?: boolean;
  readonly outcome: Outcome;
  /** How many connections iqqq may open: a hot retry loop or a retry where none is due fails the test. */
  readonly connections: readonly [min: number, max: number];
  /** A redirect's target: it must never be contacted. */
  readonly redirect?: number;
}

const CRLF = "\r\n";
const head = (status: string, ...headers: string[]): string =>
  `HTTP/1.1 ${status}${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}`;
const answer = (status: string, body = ""): string =>
  head(status, `content-length: ${Buffer.byteLength(body)}`, "content-type: text/plain") + body;

/** Answers the Nth request with the Nth entry (the last one repeats). */
const sequence =
  (...answers: string[]) =>
  (c: Connection, index: number): void =>
    void c.request.then(() => c.socket.end(answers[Math.min(index, answers.length - 1)] ?? ""));

/** Retried until the budget runs out: backoff 50, 100, 200, 400 ms… within 1 s. */
const RETRIED: readonly [number, number] = [2, 10];
const ONCE: readonly [number, number] = [1, 1];

const faults: Fault[] = [
  { name: "nothing listens (connection refused)", outcome: "absent", connections: [0, 0] },
  {
    name: "resets the connection as soon as it is accepted",
    script: (c) => c.socket.resetAndDestroy(),
    outcome: "failed",
    connections: RETRIED,
  },
  {
    name: "resets the connection after reading the request",
    script: (c) => void c.request.then(() => c.socket.resetAndDestroy()),
    outcome: "failed",
    connections: RETRIED,
  },
  {
    name: "closes without answering",
    script: (c) => void c.request.then(() => c.socket.end()),
    outcome: "failed",
    connections: RETRIED,
  },
  {
    name: "closes at once, before the request",
    script: (c) => c.socket.end(),
    outcome: "failed",
    connections: RETRIED,
  },
  { name: "accepts and never reads", read: false, script: () => {}, outcome: "failed", connections: [1, 2] },
  { name: "reads the request and never answers", script: () => {}, outcome: "failed", connections: [1, 2] },
  {
    name: "answers garbage",
    script: (c) => void c.request.then(() => c.socket.end("\u0000\u00ff\u00fegarbage\r\n\r\n")),
    outcome: "failed",
    connections: ONCE,
  },
  {
    name: "answers an SSH banner and waits",
    script: (c) => c.socket.write("SSH-2.0-OpenSSH_9.6\r\n"),
    outcome: "failed",
    connections: ONCE,
  },
  {
    name: "answers a four-digit status code",
    script: (c) => void c.request.then(() => c.socket.end("HTTP/1.1 2000 OK\r\n\r\n")),
    outcome: "failed",
    connections: ONCE,
  },
  {
    name: "answers HTTP/0.9 (a body with no head)",
    script: (c) => void c.request.then(() => c.socket.end("OK\n")),
    outcome: "failed",
    connections: ONCE,
  },
  {
    name: "sends 100 KB of headers",
    script: (c) => void c.request.then(() => c.socket.end(head("200 OK", `x-big: ${"a".repeat(100_000)}`))),
    outcome: "failed",
    connections: ONCE,
  },
  {
    name: "never finishes its headers",
    script: (c) => void c.request.then(() => c.socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n")),
    outcome: "failed",
    connections: [1, 2],
  },
  {
    name: "sends 100 Continue forever",
    script: (c) => c.every(50, () => c.socket.write("HTTP/1.1 100 Continue\r\n\r\n")),
    outcome: "failed",
    connections: [1, 2],
  },
  {
    name: "trickles its head one byte a second",
    script: (c) => {
      const bytes = answer("200 OK", "OK");
      let i = 0;
      c.every(1000, () => c.socket.write(bytes.charAt(i++)));
    },
    outcome: "failed",
    connections: [1, 2],
  },
  {
    name: "200, then never finishes its body",
    script: (c) => void c.request.then(() => c.socket.write(`${head("200 OK", "content-length: 1000")}OK`)),
    outcome: "stopped",
    connections: ONCE,
  },
  {
    name: "503, then never finishes its body",
    script: (c) =>
      void c.request.then(() => c.socket.write(`${head("503 Service Unavailable", "content-length: 1000")}no`)),
    outcome: "failed",
    connections: RETRIED,
  },
  {
    name: "200, then trickles its body one byte a second",
    script: (c) =>
      void c.request.then(() => {
        c.socket.write(head("200 OK", "content-length: 100"));
        c.every(1000, () => c.socket.write("x"));
      }),
    outcome: "stopped",
    connections: ONCE,
  },
  {
    name: "200, then closes in the middle of its body",
    script: (c) => void c.request.then(() => c.socket.end(`${head("200 OK", "content-length: 1000")}OK`)),
    outcome: "stopped",
    connections: ONCE,
  },
  {
    name: "200 with a huge chunked body, streamed as fast as it is read",
    script: (c) =>
      void c.request.then(() =>
        streamForever(c, head("200 OK", "transfer-encoding: chunked"), `10000\r\n${"x".repeat(0x10000)}\r\n`),
      ),
    outcome: "stopped",
    connections: ONCE,
  },
  {
    name: "503 with a 1 TB body, streamed as fast as it is read",
    script: (c) =>
      void c.request.then(() =>
        streamForever(c, head("503 Service Unavailable", "content-length: 1000000000000"), "y".repeat(0x10000)),
      ),
    outcome: "failed",
    connections: RETRIED,
  },
  {
    name: "HTTP/1.0 200 with no length, then closes",
    script: (c) => void c.request.then(() => c.socket.end("HTTP/1.0 200 OK\r\n\r\nOK")),
    outcome: "stopped",
    connections: ONCE,
  },
  {
    name: "answers 200 before the request arrives",
    script: (c) => c.socket.end(answer("200 OK", "OK")),
    outcome: "stopped",
    connections: ONCE,
  },
  ...[301, 302, 303, 307, 308].map(
    (status): Fault => ({
      name: `redirects (${status}) to another live server`,
      script: () => {},
      outcome: "failed",
      connections: ONCE,
      redirect: status,
    }),
  ),
  {
    name: "404",
    script: sequence(answer("404 Not Found", "404 page not found\n")),
    outcome: "failed",
    connections: ONCE,
  },
  { name: "405", script: sequence(answer("405 Method Not Allowed")), outcome: "failed", connections: ONCE },
  {
    name: "500 forever",
    script: sequence(answer("500 Internal Server Error", "boom")),
    outcome: "failed",
    connections: RETRIED,
  },
  { name: "503 forever", script: sequence(answer("503 Service Unavailable")), outcome: "failed", connections: RETRIED },
  {
    name: "503, 503, then 200",
    script: sequence(answer("503 Service Unavailable"), answer("503 Service Unavailable"), answer("200 OK", "OK")),
    outcome: "stopped",
    connections: [3, 3],
  },
  {
    name: "500, 503, 429, then 200",
    script: sequence(
      answer("500 Internal Server Error"),
      answer("503 Service Unavailable"),
      answer("429 Too Many Requests"),
      answer("200 OK", "OK"),
    ),
    outcome: "stopped",
    connections: [4, 4],
  },
  {
    name: "503, then 404",
    script: sequence(answer("503 Service Unavailable"), answer("404 Not Found")),
    outcome: "failed",
    connections: [2, 2],
  },
  {
    name: "503, then 405",
    script: sequence(answer("503 Service Unavailable"), answer("405 Method Not Allowed")),
    outcome: "failed",
    connections: [2, 2],
  },
  {
    name: "reset, then 200",
    script: (c, i) => (i === 0 ? c.socket.resetAndDestroy() : sequence(answer("200 OK", "OK"))(c, i)),
    outcome: "stopped",
    connections: [2, 2],
  },
  {
    name: "hangs for longer than the budget",
    script: (c) => void c.request.then(() => c.after(BUDGET_MS + 500, () => c.socket.end(answer("200 OK", "OK")))),
    outcome: "failed",
    connections: [1, 2],
  },
];

function streamForever(c: Connection, first: string, chunk: string): void {
  const pump = (): void => {
    while (!c.socket.destroyed && c.socket.write(chunk)) {}
  };
  c.socket.write(first);
  c.socket.on("drain", pump);
  pump();
}

interface Run {
  readonly fault: Fault;
  readonly mode: "standalone" | "exit" | "killed";
}

const runs: Run[] = faults.flatMap((fault) =>
  (["standalone", "exit", "killed"] as const).map((mode) => ({ fault, mode })),
);

/** A different program status for every fault, 0 included. */
const exitCodeFor = (fault: Fault): number => (faults.indexOf(fault) * 37) % 256;

test(`${faults.length} hostile sidecars × 3 runs: the program's status survives, iqqq ends within its budget`, async () => {
  const durations: number[] = [];
  const failures: string[] = [];
  const results = await pool(runs.length, 6, async (i) => {
    const { fault, mode } = runs[i] as Run;
    const target = fault.redirect === undefined ? undefined : await startFaultServer(() => {});
    let server: FaultServer | undefined;
    if (fault.script !== undefined) {
      const script = fault.script;
      const status = fault.redirect;
      server = await startFaultServer(
        status === undefined || target === undefined
          ? script
          : (c) =>
              void c.request.then(() =>
                c.socket.end(head(`${status} Moved`, `location: ${target.url}/quitquitquit`, "content-length: 0")),
              ),
        fault.read === false ? { read: false } : {},
      );
    }
    const port = server?.port ?? (await closedPort());
    const code = exitCodeFor(fault);
    const args =
      mode === "standalone" ? [] : mode === "exit" ? ["sh", "-c", `exit ${code}`] : ["sh", "-c", "kill -KILL $$"];
    const expected = mode === "standalone" ? STANDALONE[fault.outcome] : mode === "exit" ? code : 128 + 9;
    try {
      const r = await runCli(args, {
        env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(port), IQQQ_QUIT_TIMEOUT: `${BUDGET_MS}ms` },
        timeoutMs: 30_000,
      });
      const where = `${fault.name} (${mode})`;
      durations.push(r.durationMs);
      const problems: string[] = [];
      if (r.status !== expected) problems.push(`exit status ${r.status} (${r.signal}), expected ${expected}`);
      if (r.durationMs > BUDGET_MS + SLACK_MS) problems.push(`took ${r.durationMs} ms`);
      const connections = server?.connections() ?? 0;
      const [min, max] = fault.connections;
      if (connections < min || connections > max) problems.push(`${connections} connections, expected ${min}-${max}`);
      if (target !== undefined && target.connections() > 0) problems.push("followed the redirect");
      if (!r.stderr.split("\n").every((l) => l === "" || l.startsWith("iqqq: "))) problems.push("stray stderr");
      const complaint = /could not stop|no sidecar is listening/.test(r.stderr);
      if (complaint !== (fault.outcome !== "stopped")) problems.push("log does not match the outcome");
      if (problems.length > 0) failures.push(`${where}: ${problems.join("; ")}\n${r.stderr}`);
      return { where, status: r.status, connections };
    } finally {
      await server?.close();
      await target?.close();
    }
  });
  assert.deepEqual(failures, []);
  record("faults", {
    faults: faults.length,
    runs: results.length,
    lost: failures.length,
    budgetMs: BUDGET_MS,
    maxMs: Math.max(...durations),
    connections: results.reduce((n, r) => n + r.connections, 0),
  });
});
