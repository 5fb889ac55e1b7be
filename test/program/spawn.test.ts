// How the executable's Bun.spawn reports a program's end (src/program/spawn.ts),
// with a stand-in for the part of Bun's API it uses: this runs under Node, and
// the end-to-end tests run the real executable (IQQQ_CLI).

import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnProgram } from "../../src/program/spawn.js";

interface Stub {
  readonly exited: Promise<number>;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
}

/** Runs spawnProgram with globalThis.Bun standing in, its process ending as `stub` says. */
async function endedWith(stub: Stub): Promise<unknown> {
  const g = globalThis as { Bun?: unknown };
  const saved = g.Bun;
  g.Bun = { spawn: () => ({ pid: 4242, kill: () => {}, ...stub }) };
  try {
    const child = await spawnProgram({ file: "/bin/true", args: [], env: {}, group: false });
    return await child.ended;
  } finally {
    g.Bun = saved;
  }
}

test("an exit code, a signal by name: as Bun reports them once exited has settled", async () => {
  assert.deepEqual(await endedWith({ exited: Promise.resolve(3), exitCode: 3, signalCode: null }), {
    kind: "exited",
    code: 3,
  });
  assert.deepEqual(await endedWith({ exited: Promise.resolve(143), exitCode: null, signalCode: "SIGTERM" }), {
    kind: "signaled",
    signal: "SIGTERM",
  });
});

test("waitpid failing (Bun rejects exited; onExit had neither code nor signal): an exit with status 0, not a rejection", async () => {
  const failed = Promise.reject(Object.assign(new Error("waitpid"), { code: "ECHILD" }));
  assert.deepEqual(await endedWith({ exited: failed, exitCode: null, signalCode: null }), { kind: "exited", code: 0 });
});
