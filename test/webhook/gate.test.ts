// The webhook's room for reviews (src/webhook/gate.ts): whatever the clients
// do, waiting or let in, going away or answered, the room comes back.

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Gate } from "../../src/webhook/gate.js";

/** As much of a ServerResponse as the gate uses: "close" once, and destroyed after. */
function response(): ServerResponse & { finish(): void } {
  const res = new EventEmitter() as EventEmitter & { destroyed: boolean; finish(): void };
  res.destroyed = false;
  res.finish = () => {
    if (res.destroyed) return;
    res.destroyed = true;
    res.emit("close");
  };
  return res as unknown as ServerResponse & { finish(): void };
}

describe("Gate", () => {
  test("a client that goes while its review waits gives its room back (a hostile review found it kept forever)", async () => {
    const gate = new Gate(6, 64, 10);
    const a = response();
    const b = response();
    assert.equal(await gate.enter(3, 1000, a), true);
    assert.equal(await gate.enter(3, 1000, b), true);
    const c = response();
    const waiting = gate.enter(3, 60_000, c);
    c.finish();
    assert.equal(await waiting, false);
    a.finish();
    b.finish();
    assert.deepEqual(gate.used, { units: 0, reviews: 0, waiting: 0 });
    assert.equal(await gate.enter(6, 10, response()), true);
  });

  test("random arrivals, departures and time-outs: the room always comes back, and never goes over (fast-check)", async () => {
    const step = fc.record({
      units: fc.integer({ min: 1, max: 6 }),
      leaveAfter: fc.integer({ min: 0, max: 5 }),
      gone: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const gate = new Gate(6, 3, 5);
        const open: (ServerResponse & { finish(): void })[] = [];
        const entries: Promise<boolean>[] = [];
        for (const s of steps) {
          const res = response();
          open.push(res);
          entries.push(gate.enter(s.units, 5, res));
          if (s.gone) res.finish();
          assert.ok(gate.used.units <= 6 && gate.used.reviews <= 3, JSON.stringify(gate.used));
          for (let i = 0; i < s.leaveAfter && open.length > 0; i++) open.shift()?.finish();
          await new Promise((resolve) => setImmediate(resolve));
        }
        for (const res of open) res.finish();
        await Promise.all(entries);
        assert.deepEqual(gate.used, { units: 0, reviews: 0, waiting: 0 });
      }),
      { numRuns: 200 },
    );
  });
});
