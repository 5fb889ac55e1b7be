// IQQQ_WATCH_PATTERN: RE2 syntax, matched in linear time. It must accept and
// answer as Go's regexp does (the syntax Go and scuttle users know), checked
// against Go itself where Go is installed. Where RE2 and a JavaScript RegExp (no
// flags) both accept a pattern and mean the same by it, they must answer the
// same; where they differ, the table says how.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ValueError } from "../../src/config/values.js";
import { parseWatchPattern } from "../../src/watch/pattern.js";
import { goOracle } from "../support/go-oracle.js";

/**
 * Small patterns over a small alphabet, in the syntax both engines accept with
 * one meaning: no \s against \v or U+00A0, no "." against \r (the texts have
 * neither), no astral characters (code points against code units).
 */
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
      fc.constantFrom("a", "b", "1", " ", "-", "_", "é", ".", "\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "\\-", "\\n"),
      fc.constantFrom("[ab]", "[^a]", "[a-c]", "[\\d_]", "[^\\w]", "[-a]", "[a-]", "[\\s1]", "\\x41", "\\t", "\\."),
      fc.constantFrom("^", "$", "\\b", "\\B").map((a) => `(?:${a})`),
      tie("alt").map((inner) => `(${inner})`),
      tie("alt").map((inner) => `(?:${inner})`),
    ),
  }),
).alt;

const text = fc.string({
  unit: fc.constantFrom("a", "b", "c", "A", "1", " ", "-", "_", "\n", "é", "\t"),
  maxLength: 12,
});

test("answers as RegExp.prototype.test does, on generated patterns both accept, and with (?i) as the i flag", () => {
  fc.assert(
    fc.property(pattern, fc.boolean(), fc.array(text, { minLength: 1, maxLength: 8 }), (source, fold, texts) => {
      const native = new RegExp(source, fold ? "i" : "");
      const linear = parseWatchPattern(fold ? `(?i)${source}` : source);
      for (const t of texts)
        assert.equal(linear.test(t), native.test(t), `${linear} (i: ${fold}) on ${JSON.stringify(t)}`);
    }),
    // A fixed seed: RegExp, the reference, is itself exponential on some generated
    // patterns (seconds on a 12-character text), so random ones could stall CI.
    { numRuns: 3000, seed: 20261122 },
  );
});

test("the syntax is RE2's: where a JavaScript RegExp reads a pattern otherwise, RE2's answer is the one given", () => {
  // [pattern, text, RE2's answer, RegExp's answer (no flags), or "refused" by RegExp].
  const rows: [string, string, boolean, boolean | "refused"][] = [
    // In both, with one meaning.
    ["airflow (tasks|celery) run", "/usr/bin/python3 /usr/local/bin/airflow tasks run dag", true, true],
    ["^python3? -m etl( |$)", "python -m etl --date 2024-01-01", true, true],
    ["^python3? -m etl( |$)", "python -m etlx", false, false],
    ["\\x41\\t\\n\\v\\f\\r\\0", "A\t\n\v\f\r\0", true, true],
    ["\\12", "\n", true, true],
    ["a{,2}", "a{,2}", true, true],
    ["x{2", "x{2", true, true],
    ["]}", "]}", true, true],
    ["(?<name>ab)+c", "ababc", true, true],
    ["a\\/b", "a/b", true, true],
    // Read otherwise by RE2.
    ["^.$", "😀", true, false],
    ["^..$", "😀", false, true],
    [".", "\r", true, false],
    [".", "\u2028", true, false],
    ["\\s", "\v", false, true],
    ["\\s", "\u00a0", false, true],
    ["\\s", "\f", true, true],
    ["$", "a\n", true, true],
    ["a$", "a\n", false, false],
    // RE2 only.
    ["\\x{1F600}", "😀", true, false],
    ["(?P<n>a)b", "ab", true, "refused"],
    ["\\pL", "é", true, false],
    ["\\p{Greek}", "α", true, false],
    ["[[:digit:]]", "7", true, false],
    ["\\Qa.b\\E", "a.b", true, false],
    ["\\Qa.b\\E", "axb", false, false],
    ["\\Aab\\z", "ab", true, false],
    ["(?i)AIRFLOW", "airflow", true, "refused"],
    ["(?s)a.b", "a\nb", true, "refused"],
    ["(?m)^b$", "a\nb\nc", true, "refused"],
    ["[]a]", "]", true, false],
  ];
  for (const [source, t, re2, js] of rows) {
    const label = `/${source}/ on ${JSON.stringify(t)}`;
    assert.equal(parseWatchPattern(source).test(t), re2, label);
    if (js === "refused") assert.throws(() => new RegExp(source), SyntaxError, label);
    else assert.equal(new RegExp(source).test(t), js, label);
  }
});

test("JavaScript's own escapes and Annex B corners are refused, with what RE2 calls them", () => {
  const rows: [string, RegExp][] = [
    ["\\cA", /invalid escape sequence: \\c \(write a character as \\x\{41\}\)/],
    ["\\u0041", /invalid escape sequence: \\u \(write a character as \\x\{41\}\)/],
    ["\\u{41}", /invalid escape sequence: \\u/],
    ["\\e", /invalid escape sequence: \\e$/],
    ["\\Z", /invalid escape sequence: \\Z$/],
    ["[\\b]", /invalid escape sequence: \\b$/],
    ["[]", /missing closing \]/],
    ["[^]", /missing closing \]/],
    ["a{1001}", /invalid repeat count: \{1001\} \(at most 1000, nested counts multiplied\)/],
    ["(?:a{100}){100}", /invalid repeat count/],
    ["(unclosed", /missing closing \): \(unclosed$/],
    ["a**", /invalid nested repetition operator/],
    ["[z-a]", /invalid character class range: z-a$/],
    ["\\", /trailing backslash/],
  ];
  for (const [source, message] of rows) {
    assert.throws(
      () => parseWatchPattern(source),
      (err: Error) => {
        assert.ok(err instanceof ValueError, source);
        assert.match(err.message, /^expected a regular expression in RE2 syntax \(as Go's regexp\): /, source);
        assert.match(err.message, message, source);
        return true;
      },
    );
  }
});

test("refused by name: backreferences and lookaround, which need backtracking", () => {
  for (const source of ["(a)\\1", "(?<n>a)\\k<n>", "(job)\\2x"]) {
    assert.throws(() => parseWatchPattern(source), /backreferences \(\\1, \\k<name>\) are not supported/, source);
  }
  for (const source of ["a(?=b)", "a(?!b)", "(?<=a)b", "x(?<!a)b"]) {
    assert.throws(
      () => parseWatchPattern(source),
      /lookaround \(\(\?=, \(\?!, \(\?<=, \(\?<!\) is not supported/,
      source,
    );
  }
});

test("catastrophic patterns for a backtracking engine take time linear in the text", () => {
  // A backtracking engine takes 2^n steps on these (Node's RegExp would not finish
  // on 40 characters); a linear one takes about 64 times as long on 64 times the
  // text. Each figure is the fastest of nine runs, as load only ever adds time;
  // the bound (a quarter of quadratic growth) leaves room for a loaded machine.
  const cases: [string, (n: number) => string, boolean][] = [
    ["^(a+)+$", (n) => `${"a".repeat(n)}!`, false],
    ["(a|aa)*b", (n) => `${"a".repeat(n)}!`, false],
    ["(x+x+)+y", (n) => "x".repeat(n), false],
    ["(a*)*!", (n) => `${"a".repeat(n)}!`, true],
    ["(\\w+\\s?)+$", (n) => `${"word ".repeat(n / 5)}!`, false],
  ];
  const fastest = (run: () => void): number => {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 9; i++) {
      const start = process.hrtime.bigint();
      run();
      best = Math.min(best, Number(process.hrtime.bigint() - start));
    }
    return best;
  };
  for (const [source, make, expected] of cases) {
    const p = parseWatchPattern(source);
    const short = make(2_000);
    const long = make(128_000);
    assert.equal(p.test(short), expected, source);
    assert.equal(p.test(long), expected, source);
    const ratio = fastest(() => p.test(long)) / fastest(() => p.test(short));
    assert.ok(ratio < 64 * 16, `${source}: 64 times the text took ${ratio.toFixed(0)} times as long`);
  }
});

/** Atoms of RE2's syntax, as a weight and a list each (lists one line long). */
const RE2_ATOMS: [number, string[]][] = [
  [2, ["a", "b", "A", "1", " ", "é", "😀", "α", ".", "\\d", "\\w", "\\s", "\\S", "\\b", "\\B"]],
  [2, ["^", "$", "\\A", "\\z", "\\n", "\\r", "\\v", "\\f", "\\x41", "\\x{e9}", "\\x{1F600}", "\\101"]],
  [2, ["\\pL", "\\PL", "\\p{Greek}", "\\pN", "\\p{Lu}", "[[:alpha:]]", "[[:^space:]]", "[\\p{Lu}1]"]],
  [2, ["[ab]", "[^a]", "[a-c]", "[é-ü]", "[^\\n]", "[\\d_]", "[]a]", "[😀-😂]", "\\Qa.\\E"]],
  [2, ["(?i:a)", "(?s:.)", "(?-i:a)", "(?P<n>a)", "(?<m>b)", "a{,2}", "x{2"]],
  // Refused by Go: JavaScript's escapes, backtracking, Perl's extras (a pattern in four or so).
  [1, ["\\1", "(?=a)", "(?<!a)", "\\cA", "\\u0041", "[]", "[^]", "a{1001}", "a{2,1}", "\\Z", "\\e", "\\C"]],
];

/** Patterns in RE2's syntax, with what only RE2 has and what RE2 refuses, over a wider alphabet. */
const re2Pattern: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom("", "", "", "(?i)", "(?s)", "(?m)", "(?U)", "(?im)"),
    fc.letrec<{ alt: string; seq: string; atom: string; quantified: string }>((tie) => ({
      alt: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        tie("seq"),
        fc.tuple(tie("seq"), tie("seq")).map(([a, b]) => `${a}|${b}`),
      ),
      seq: fc.array(tie("quantified"), { maxLength: 4 }).map((items) => items.join("")),
      quantified: fc
        .tuple(
          tie("atom"),
          fc.constantFrom("", "", "", "*", "+", "?", "{2}", "{1,2}", "{0,}"),
          fc.constantFrom("", "", "?"),
        )
        .map(([atom, q, lazy]) => (q === "" ? atom : `${atom}${q}${lazy}`)),
      atom: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        ...RE2_ATOMS.map(([weight, atoms]) => ({ weight, arbitrary: fc.constantFrom(...atoms) })),
        { weight: 1, arbitrary: tie("alt").map((inner) => `(${inner})`) },
        { weight: 1, arbitrary: tie("alt").map((inner) => `(?:${inner})`) },
      ),
    })).alt,
  )
  .map(([flags, body]) => flags + body);

const re2Text = fc.string({
  unit: fc.constantFrom("a", "b", "A", "1", " ", "\n", "\r", "\v", "é", "É", "😀", "α", "Ω", "."),
  maxLength: 10,
});

const go = goOracle("go-regexp");

describe("as Go's regexp reads RE2 syntax (test/support/go-regexp)", { skip: go.missing() ?? false }, () => {
  test("the same patterns accepted and the same answers, on generated patterns and texts", () => {
    const cases = fc.sample(fc.tuple(re2Pattern, fc.array(re2Text, { minLength: 1, maxLength: 6 })), {
      numRuns: 4000,
      seed: 20261202,
    });
    const answers = go.run(cases.map(([pattern, texts]) => ({ pattern, texts }))) as {
      error?: string;
      matches?: boolean[];
    }[];
    let refused = 0;
    const disagreements: string[] = [];
    for (const [i, [source, texts]] of cases.entries()) {
      const goes = answers[i] as { error?: string; matches?: boolean[] };
      let mine: ReturnType<typeof parseWatchPattern>;
      try {
        mine = parseWatchPattern(source);
      } catch (err) {
        assert.ok(err instanceof ValueError, source);
        refused++;
        // The one difference found: Go (1.19 here) takes a group name twice, RE2 (C++ and re2js) refuses it.
        if (goes.error === undefined && !/duplicate capture group name/.test(err.message))
          disagreements.push(`/${source}/: refused here (${err.message}), accepted by Go`);
        continue;
      }
      // (?<name>…) came with Go 1.22 (RE2 had it before): an older Go refuses it.
      const olderGo = goes.error?.includes("`(?<`") === true;
      if (goes.error !== undefined && !olderGo)
        disagreements.push(`/${source}/: accepted here, refused by Go (${goes.error})`);
      for (const [j, t] of texts.entries()) {
        if (goes.error === undefined && mine.test(t) !== goes.matches?.[j])
          disagreements.push(`/${source}/ on ${JSON.stringify(t)}: Go says ${goes.matches?.[j]}`);
      }
    }
    assert.deepEqual(disagreements, []);
    // Both sides of the comparison are exercised.
    assert.ok(refused > cases.length / 10 && refused < cases.length / 2, `${refused} of ${cases.length} refused`);
  });
});
