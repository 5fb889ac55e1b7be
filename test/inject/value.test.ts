// copy(): a deep copy of a decoded value, as structuredClone makes it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { copy, same, type Value } from "../../src/inject/value.js";

test("copy() gives an equal value that shares nothing, bigints, NaN and a __proto__ key included", () => {
  const value = JSON.parse('{"a": [1, {"b": null}], "__proto__": {"x": true}, "s": "t"}') as { [key: string]: Value };
  value.big = 12345678901234567890n;
  value.nan = Number.NaN;
  const copied = copy(value);
  assert.ok(same(copied, value));
  assert.deepEqual(Object.keys(copied), Object.keys(structuredClone(value)));
  assert.equal(Object.getPrototypeOf(copied), Object.prototype);
  ((copied.a as Value[])[1] as { [key: string]: Value }).b = "changed";
  (Object.getOwnPropertyDescriptor(copied, "__proto__")?.value as { [key: string]: Value }).x = false;
  assert.deepEqual(value.a, [1, { b: null }]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(value, "__proto__")?.value, { x: true });
});
