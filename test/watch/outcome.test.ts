import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../../src/log.js";
import { WATCH_EXIT, watchOutcome } from "../../src/watch/outcome.js";

test("watchOutcome: one row per result", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l));
  const ended = { kind: "ended", processes: [], waitedMs: 1, watchedMs: 2 } as const;
  assert.deepEqual(watchOutcome(ended, log), { stop: true, failed: false, status: 0 });
  assert.deepEqual(watchOutcome({ kind: "never-appeared", waitedMs: 5 }, log), {
    stop: true,
    failed: true,
    status: WATCH_EXIT.NEVER_APPEARED,
  });
  assert.deepEqual(watchOutcome({ kind: "unavailable", message: "cannot list /proc: ENOENT" }, log), {
    stop: true,
    failed: true,
    status: WATCH_EXIT.PROC_UNAVAILABLE,
  });
  assert.deepEqual(watchOutcome({ kind: "aborted", processes: [] }, log, "SIGTERM"), {
    stop: false,
    failed: false,
    status: 143,
  });
  assert.deepEqual(watchOutcome({ kind: "aborted", processes: [] }, log, "SIGINT"), {
    stop: false,
    failed: false,
    status: 130,
  });
  assert.match(lines[0] ?? "", /exit status cannot be seen from here, so it counts as success/);
  assert.match(lines[1] ?? "", /^iqqq: error: no matching process appeared within IQQQ_WATCH_START_TIMEOUT/);
});
