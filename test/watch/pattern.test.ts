// IQQQ_WATCH_PATTERN's linear-time matcher: it must answer exactly as a
// JavaScript RegExp without flags does, and refuse only what needs backtracking.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ValueError } from "../../src/config/values.js";
import { parseWatchPattern } from "../../src/watch/pattern.js";

/** Small patterns over a small alphabet, with every construct the matcher supports. */
const pattern: fc.Arbitrary<string> = fc.letrec<{ alt: string; seq: string; atom: string; quantified: string }>(
  (tie) => ({
    alt: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      tie("seq"),
      fc.tuple(tie("seq"), tie("seq")).map(([a, b]) => `${a}|${b}`),
    ),
    seq: fc.array(tie("quantified"), { maxLength: 4 }).map((items) => items.join("")),
    quantified: fc
      .tuple(
        tie("atom"),
        fc.constantFrom("", "", "", "*", "+", "?", "{2}", "{1,2}", "{0,}", "{2,3}"),
        fc.constantFrom("", "", "?"),
      )
      .map(([atom, q, lazy]) => (q === "" ? atom : `${atom}${q}${lazy}`)),
    atom: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom("a", "b", "1", " ", "-", "_", ".", "\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "\\-", "\\n"),
      fc.constantFrom("[ab]", "[^a]", "[a-c]", "[\\d_]", "[^\\w]", "[-a]", "[a-]", "[]", "[^]", "[\\b]", "[\\s1]"),
      fc.constantFrom("^", "$", "\\b", "\\B").map((a) => `(?:${a})`),
      tie("alt").map((inner) => `(${inner})`),
      tie("alt").map((inner) => `(?:${inner})`),
    ),
  }),
).alt;

const text = fc.string({ unit: fc.constantFrom("a", "b", "c", "1", " ", "-", "_", "\n"), maxLength: 12 });

test("answers as RegExp.prototype.test does, on generated patterns and texts", () => {
  fc.assert(
    fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
      const native = new RegExp(source);
      const linear = parseWatchPattern(source);
      for (const t of texts) assert.equal(linear.test(t), native.test(t), `/${source}/ on ${JSON.stringify(t)}`);
    }),
    // A fixed seed: RegExp, the reference, is itself exponential on some generated
    // patterns (seconds on a 12-character text), so random ones could stall CI.
    { numRuns: 3000, seed: 20261122 },
  );
});

test("answers as RegExp does on escapes and Annex B corners", () => {
  const rows: [string, string[]][] = [
    ["\\x41\\u0042\\t\\cA", ["AB\t\x01", "AB\t"]],
    ["\\x4\\u12", ["x4u12", "\x04"]],
    ["a\\0b", ["a\0b", "a0b"]],
    ["\\8\\9", ["89"]],
    ["(a)\\2", ["a\x02", "a2"]],
    ["\\12", ["\n", "12"]],
    ["[\\12]", ["\n", "1"]],
    ["\\c1", ["\\c1", "\x11"]],
    ["[\\c1]", ["\x11", "c"]],
    ["a{,2}", ["a{,2}", "aa"]],
    ["x{2", ["x{2", "xx"]],
    ["]}", ["]}"]],
    ["[\\d-z]", ["-", "5", "z", "q"]],
    ["(?<name>ab)+c", ["ababc", "ac"]],
    ["\\k", ["k"]],
    ["airflow (tasks|celery) run", ["/usr/bin/python3 /usr/local/bin/airflow tasks run dag", "airflow run"]],
  ];
  for (const [source, texts] of rows) {
    const native = new RegExp(source);
    const linear = parseWatchPattern(source);
    for (const t of texts) assert.equal(linear.test(t), native.test(t), `/${source}/ on ${JSON.stringify(t)}`);
  }
});

test("catastrophic patterns for a backtracking engine answer at once (linear time)", () => {
  // On Node's RegExp each of these would not finish within this suite's lifetime.
  const long = `${"a".repeat(5000)}!`;
  assert.equal(parseWatchPattern("^(a+)+$").test(long), false);
  assert.equal(parseWatchPattern("(a|aa)*b").test(long), false);
  assert.equal(parseWatchPattern("(x+x+)+y").test("x".repeat(5000)), false);
  assert.equal(parseWatchPattern("(a*)*!").test(long), true);
});

test("refused with a reason: backreferences and lookaround; syntax errors as JavaScript reports them", () => {
  for (const source of ["(a)\\1", "(?<n>a)\\k<n>", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b"]) {
    assert.throws(
      () => parseWatchPattern(source),
      (err: Error) => {
        assert.ok(err instanceof ValueError);
        assert.match(err.message, /not supported: it needs backtracking|not supported: they need backtracking/);
        return true;
      },
    );
  }
  assert.throws(() => parseWatchPattern("(?:a{1000}){1000}"), /too large/);
  assert.throws(() => parseWatchPattern("(unclosed"), /expected a regular expression \(JavaScript syntax\)/);
});
