import assert from "node:assert/strict";
import { test } from "node:test";
import { programExit, watchExit } from "../../src/plugins/context.js";

test("programExit: one row per way the program ends", () => {
  assert.deepEqual(programExit({ kind: "exited", code: 3 }, 3, 10), {
    kind: "exited",
    exitCode: 3,
    signal: null,
    durationMs: 10,
    status: 3,
  });
  assert.deepEqual(programExit({ kind: "signaled", signal: "SIGKILL" }, 137, 5), {
    kind: "signaled",
    exitCode: null,
    signal: "SIGKILL",
    durationMs: 5,
    status: 137,
  });
  assert.deepEqual(programExit({ kind: "not-found", message: "x" }, 127, 0), {
    kind: "not-found",
    exitCode: null,
    signal: null,
    durationMs: 0,
    status: 127,
  });
});

test("watchExit: the exit code is never known; an aborted watch has no end", () => {
  assert.deepEqual(watchExit({ kind: "ended", processes: [], waitedMs: 1, watchedMs: 2500 }, 0), {
    kind: "gone",
    exitCode: null,
    signal: null,
    durationMs: 2500,
    status: 0,
  });
  assert.equal(watchExit({ kind: "never-appeared", waitedMs: 9 }, 75)?.kind, "never-appeared");
  assert.equal(watchExit({ kind: "unavailable", message: "m" }, 72)?.kind, "unavailable");
  assert.equal(watchExit({ kind: "aborted", processes: [] }, 143), undefined);
});
