import assert from "node:assert/strict";
import { constants } from "node:os";
import { test } from "node:test";
import { EXIT, exitStatusOf } from "../src/exit-status.js";

test("an exit code is passed through as is", () => {
  for (let code = 0; code <= 255; code++) assert.equal(exitStatusOf({ kind: "exited", code }), code);
});

test("killed by signal N is 128+N, as sh does", () => {
  for (const [name, number] of Object.entries(constants.signals)) {
    assert.equal(exitStatusOf({ kind: "signaled", signal: name as NodeJS.Signals }), 128 + number, name);
  }
  assert.equal(exitStatusOf({ kind: "signaled", signal: "SIGTERM" }), 143);
  assert.equal(exitStatusOf({ kind: "signaled", signal: "SIGKILL" }), 137);
});

test("spawn failures are 127 and 126, as sh does", () => {
  assert.equal(exitStatusOf({ kind: "not-found", message: "" }), 127);
  assert.equal(exitStatusOf({ kind: "not-executable", message: "" }), 126);
  assert.equal(EXIT.NOT_FOUND, 127);
  assert.equal(EXIT.NOT_EXECUTABLE, 126);
});
