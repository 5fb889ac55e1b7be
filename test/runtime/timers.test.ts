// Timers past 2^31−1 ms: a chain, never the runtime's "fire after 1 ms".

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { later, MAX_TIMER_MS, timeoutSignal } from "../../src/runtime/timers.js";

test("later() fires after a short delay, and not when cancelled", async () => {
  let fired = 0;
  later(10, () => fired++);
  const cancel = later(10, () => fired++);
  cancel();
  await sleep(60);
  assert.equal(fired, 1);
});

test("later() and timeoutSignal() past a timer's limit do not fire early", async () => {
  let fired = false;
  const cancels = [MAX_TIMER_MS + 1, 2 ** 32, 2 ** 40].map((ms) => later(ms, () => (fired = true)));
  const signals = [MAX_TIMER_MS + 1, 2 ** 32, 2 ** 40].map((ms) => timeoutSignal(ms));
  await sleep(50);
  for (const cancel of cancels) cancel();
  assert.equal(fired, false);
  assert.ok(signals.every((s) => !s.aborted));
});

test("timeoutSignal() within the limit is AbortSignal.timeout's: a TimeoutError", async () => {
  const signal = timeoutSignal(10);
  await sleep(60);
  assert.ok(signal.aborted);
  assert.equal((signal.reason as DOMException).name, "TimeoutError");
});
