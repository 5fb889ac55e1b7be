// The uid of a review found as its body streams past (src/webhook/uid.ts):
// the same as JSON.parse reads, however the body is cut into chunks.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { UidScanner } from "../../src/webhook/uid.js";

function scan(text: string, cuts: readonly number[]): string | undefined {
  const bytes = Buffer.from(text);
  const scanner = new UidScanner();
  let at = 0;
  for (const cut of [...cuts].map((c) => c % (bytes.length + 1)).sort((a, b) => a - b)) {
    scanner.feed(bytes.subarray(at, cut));
    at = cut;
  }
  scanner.feed(bytes.subarray(at));
  return scanner.uid;
}

describe("UidScanner", () => {
  test("request.uid and nothing else: not a uid elsewhere, not a key named like it, escapes decoded", () => {
    const cases: [unknown, string | undefined][] = [
      [{ request: { uid: "abc" } }, "abc"],
      [{ kind: "AdmissionReview", request: { kind: { uid: "no" }, uid: "yes" } }, "yes"],
      [{ uid: "top", request: { object: { metadata: { uid: "pod" } } } }, undefined],
      [{ request: [{ uid: "in-array" }] }, undefined],
      [{ request: { 'uid"': "quoted", uid: 'a"b\\c\u00e9\u2028' } }, 'a"b\\c\u00e9\u2028'],
      [{ response: { uid: "x" }, request: { uid: "y" } }, "y"],
      [{ request: { uid: 5 } }, undefined],
      [{ request: { uid: "x".repeat(300) } }, undefined],
    ];
    for (const [review, uid] of cases) assert.equal(scan(JSON.stringify(review), []), uid, JSON.stringify(review));
    assert.equal(scan(`{"request":{"object":"${"x".repeat(1_000_000)}","uid":"late"}}`, []), "late");
    assert.equal(scan("[".repeat(5000), []), undefined);
  });

  test("agrees with JSON.parse on random reviews cut at random places (fast-check)", () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    const review = fc.record({
      before: fc.dictionary(fc.string(), value, { maxKeys: 3 }),
      uid: fc.option(fc.string({ maxLength: 40, unit: "binary" }), { nil: undefined }),
      inner: fc.dictionary(fc.constantFrom("kind", "object", "uid2", "name", "u"), value, { maxKeys: 3 }),
    });
    fc.assert(
      fc.property(review, fc.array(fc.nat(), { maxLength: 8 }), (r, cuts) => {
        const request: Record<string, unknown> = { ...r.inner };
        if (r.uid !== undefined) request.uid = r.uid;
        const text = JSON.stringify({ ...r.before, request });
        const want = (JSON.parse(text) as { request: { uid?: string } }).request.uid;
        assert.equal(scan(text, cuts), Buffer.byteLength(JSON.stringify(want ?? "")) - 2 > 256 ? undefined : want);
      }),
      { numRuns: 500 },
    );
  });
});
