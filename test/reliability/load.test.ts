// Load: many wrapped runs, each against its own fake pilot-agent. Zero lost
// stops (every sidecar acknowledged exactly one quit) and zero wrong exit codes.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runCli } from "../support/cli.js";
import { startFakeSidecar } from "../support/fake-sidecar.js";
import { record } from "./figures.js";

const SEQUENTIAL = 200;
const CONCURRENT = 50;

interface Tally {
  readonly runs: number;
  readonly wrongStatus: string[];
  readonly lostStops: string[];
  readonly seconds: number;
  readonly maxMs: number;
}

/** One wrapped run against its own sidecar; the program exits with a status of its own. */
async function once(i: number, lanes: number) {
  const sidecar = await startFakeSidecar();
  const code = (i * 7) % 256;
  try {
    const r = await runCli(["sh", "-c", `exit ${code}`], {
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port), IQQQ_QUIT_TIMEOUT: "30s" },
      timeoutMs: 60_000 + lanes * 1000,
    });
    return { i, code, status: r.status, quits: sidecar.quits(), ms: r.durationMs, stderr: r.stderr };
  } finally {
    await sidecar.close();
  }
}

function tally(results: Awaited<ReturnType<typeof once>>[], startedAt: number): Tally {
  return {
    runs: results.length,
    wrongStatus: results
      .filter((r) => r.status !== r.code)
      .map((r) => `run ${r.i}: ${r.status} ≠ ${r.code} ${r.stderr}`),
    lostStops: results.filter((r) => r.quits !== 1).map((r) => `run ${r.i}: ${r.quits} quits ${r.stderr}`),
    seconds: (Date.now() - startedAt) / 1000,
    maxMs: Math.max(...results.map((r) => r.ms)),
  };
}

describe("load", () => {
  test(`${SEQUENTIAL} sequential wrapped runs: no lost stop, no wrong exit code`, async () => {
    const started = Date.now();
    const results = [];
    for (let i = 0; i < SEQUENTIAL; i++) results.push(await once(i, 1));
    const t = tally(results, started);
    assert.deepEqual(t.wrongStatus, []);
    assert.deepEqual(t.lostStops, []);
    record("load-sequential", {
      runs: t.runs,
      lost: 0,
      wrong: 0,
      seconds: t.seconds,
      perSecond: t.runs / t.seconds,
      maxMs: t.maxMs,
    });
  });

  test(`${CONCURRENT} concurrent wrapped runs: no lost stop, no wrong exit code`, async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => once(SEQUENTIAL + i, CONCURRENT)));
    const t = tally(results, started);
    assert.deepEqual(t.wrongStatus, []);
    assert.deepEqual(t.lostStops, []);
    record("load-concurrent", {
      runs: t.runs,
      lost: 0,
      wrong: 0,
      seconds: t.seconds,
      perSecond: t.runs / t.seconds,
      maxMs: t.maxMs,
    });
  });
});
