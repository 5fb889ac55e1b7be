// Objects and arrays in a JSON text, counted without parsing it (src/runtime/json.ts):
// the same count JSON.parse builds, and the limit told the same whichever way it is found.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { jsonContainers, moreContainersThan } from "../../src/runtime/json.js";

/** What JSON.parse builds: objects and arrays, counted on the parsed value. */
function built(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.reduce((n: number, v) => n + built(v), 0);
  if (value !== null && typeof value === "object")
    return 1 + Object.values(value).reduce((n: number, v) => n + built(v), 0);
  return 0;
}

describe("jsonContainers and moreContainersThan", () => {
  test("count what JSON.parse builds, braces inside strings and escapes not counted (fast-check)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(40), (value, limit) => {
        const bytes = Buffer.from(JSON.stringify(value));
        const count = built(JSON.parse(bytes.toString()));
        assert.equal(jsonContainers(bytes), count);
        assert.equal(moreContainersThan(bytes, limit), count > limit);
      }),
      { numRuns: 500 },
    );
  });

  test("strings full of braces: not containers, whichever search finds them", () => {
    const text = Buffer.from(JSON.stringify({ a: '{[{[\\"{'.repeat(50), b: [[], {}] }));
    assert.equal(jsonContainers(text), 4);
    assert.equal(moreContainersThan(text, 4), false);
    assert.equal(moreContainersThan(text, 3), true);
    assert.equal(moreContainersThan(text.subarray(0, 0), 0), false);
  });
});
