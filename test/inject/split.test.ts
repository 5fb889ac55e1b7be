// The quick cut of a stream (split.ts) against the parser's: random streams of
// documents built from lines that trouble a line-by-line look (keys at and off
// the margin, open quotes and flow collections, block scalars, comments,
// tabs, CRLF, anchors, tags, merges, YAML 1.1 line breaks, text the parser
// refuses) must come out as the same documents, at the same places, with the
// same kinds and, where parsed, the same tokens.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { CST } from "yaml";
import { quickSegments, Resplit, type Segment, splitStream } from "../../src/inject/split.js";

/** A segment as splitStream would give it: the tokens' offsets counted from the start of the whole text. */
function plain(segment: Segment, quick: boolean) {
  const shift = (token: unknown): unknown =>
    JSON.parse(JSON.stringify(token), (key, value) =>
      key === "offset" && typeof value === "number" ? value + segment.base : value,
    );
  return {
    index: segment.index,
    start: segment.start,
    end: segment.end,
    line: segment.line,
    kind: segment.kind,
    ...(quick && segment.tokens.length === 0 ? {} : { tokens: segment.tokens.map(shift) as CST.Token[] }),
  };
}

/** Resplit: the quick cut gave up, and the stream is cut by splitStream alone. */
function same(text: string): "resplit" | undefined {
  const full = splitStream(text);
  let quick: Segment[];
  try {
    quick = [...quickSegments(text)];
  } catch (err) {
    if (err instanceof Resplit) return "resplit";
    throw err;
  }
  assert.equal(quick.length, full.length, `documents in ${JSON.stringify(text)}`);
  quick.forEach((q, i) => {
    const f = full[i] as Segment;
    const mine = plain(q, true);
    const theirs = plain(f, false);
    if (!("tokens" in mine)) delete (theirs as { tokens?: unknown }).tokens;
    assert.deepEqual(mine, theirs, `document ${i + 1} of ${JSON.stringify(text)}`);
  });
  return undefined;
}

const AT_MARGIN = [
  "kind: Job",
  "kind: ConfigMap",
  "kind: Service # the front",
  "kind: Service#x",
  "kind: y",
  "kind: on",
  "kind: 12",
  'kind: "Job"',
  "kind: 'ConfigMap'",
  "kind: !!str Job",
  "kind: &k ConfigMap",
  "kind: *k",
  "kind:",
  "kind:   ",
  "kind: Con fig",
  "kind : Job",
  "kind:\tJob",
  '"kind": Job',
  "? kind",
  ": Job",
  "apiVersion: v1",
  "a:",
  "a: x",
  "a: |",
  "a: >-",
  'a: "x',
  "a: 'x",
  "a: [x,",
  "a: {x: 1,",
  "a: b: c",
  "a: &anchor",
  "a: *anchor",
  "&a b: 1",
  "!t b: 1",
  "<<: *x",
  "<<: {kind: Job}",
  "a: {x: 1}",
  "a: [x, 'y'] # c",
  "kind: {a: b}",
  "a: {x: 1}}",
  "- {a: 1}",
  "- x",
  "-",
  "[a, b]",
  "{kind: Job}",
  "x",
  "'q'",
  '"dq: 1"',
  "# a comment",
  "#",
  "",
  "\t",
  "\tkind: Job",
  "%YAML 1.1",
  "...",
  "--- x",
  "---",
  "--- # Source: x",
  "--- |",
  "--- !!map",
  "---\tkind: Job",
  "-- x",
  "kind: Pod\u2028kind: ConfigMap",
  "a: x\u0085kind: Job",
];
const INDENTED = [
  "kind: Job",
  "kind: Pod",
  "b: 1",
  "- x",
  "- kind: Job",
  'x"',
  "x'",
  "]",
  "}",
  "# c",
  "|",
  "y",
  "\tz",
  "\tkind: Job",
  "a: b: c",
  "? k",
  '"q"',
  "k: {a: 1}",
  "k: [x, 'y']",
  "- [x]",
  "- k: {a: b} # c",
  "k: {a: 1}#c",
  "k: {a: [b]}",
];

const line = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...AT_MARGIN) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom(...INDENTED))
      .map(([n, s]) => " ".repeat(n) + s),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

const documentText = fc
  .tuple(fc.constantFrom("---", "--- # Source: chart/x.yaml", "", "--- "), fc.array(line, { maxLength: 8 }))
  .map(([start, lines]) => (start === "" ? lines : [start, ...lines]).join("\n"));

const stream = fc
  .tuple(fc.array(documentText, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean())
  .map(([docs, crlf, end]) => {
    const text = docs.join("\n") + (end ? "\n" : "");
    return crlf ? text.replaceAll("\n", "\r\n") : text;
  });

/** A value as charts write them, some of it awkward: quotes, flow, block scalars, the word kind, comments. */
const SCALARS = [
  "x",
  "'q'",
  '"dq"',
  '"a \\" b"',
  "'it''s'",
  "[a, b]",
  "{a: 1}",
  '{app: web, tier: "be"}',
  "[a, 'b', c.d/e]",
  "{a: 1} # c",
  "{a: 1}#c",
  "{a: 1}}",
  "[a]]",
  "{a: [b]}",
  "{a: 1,}",
  "{a: b, c}",
  '{a: "}"}',
  "{kind: Job}",
  "[kind]",
  "{ }",
  "{a:  b ,  c: d}",
  '{a: "x, y"}',
  "{a: 'it''s'}",
  "on",
  "kind",
  "a # c",
  "*ref",
  "&a v",
  "!!str 1",
  "'open",
  '"open',
  "x: y",
  "- z",
];
const INDENTS = [1, 2, 4];

/** Lines of a chart's document: keys at the margin, values under them nested a level or two, block scalars. */
const chartLines: fc.Arbitrary<string[]> = fc
  .array(
    fc.tuple(
      fc.constantFrom("apiVersion", "kind", "metadata", "data", "spec", "a.b/c", "kind"),
      fc.oneof(
        fc
          .constantFrom("v1", "ConfigMap", "Service", "Job", "Pod", "List", "y", "ConfigMap # c", ...SCALARS)
          .map((v) => ` ${v}`),
        fc.constant(""),
        fc.constant(" |"),
        fc.constant(" >-"),
      ),
      fc.constantFrom(...INDENTS),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 3 }),
          fc.oneof(
            fc.constantFrom(...SCALARS, ...INDENTED).map((v) => `k: ${v}`),
            fc.constantFrom(...SCALARS, ...INDENTED).map((v) => `- ${v}`),
            fc.constantFrom(...SCALARS, ...INDENTED, "# note", "", "kind: Job"),
          ),
        ),
        { maxLength: 4 },
      ),
    ),
    { minLength: 1, maxLength: 5 },
  )
  .map((keys) =>
    keys.flatMap(([key, value, indent, under]) => [
      `${key}:${value}`,
      ...under.map(([deeper, line]) => " ".repeat(indent + deeper) + line),
    ]),
  );

const chartStream = fc
  .tuple(fc.array(fc.tuple(fc.boolean(), chartLines), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([docs, crlf]) => {
    const text = docs
      .map(([source, lines]) => ["---", ...(source ? ["# Source: chart/x.yaml"] : []), ...lines].join("\n"))
      .join("\n");
    return crlf ? `${text.replaceAll("\n", "\r\n")}\r\n` : `${text}\n`;
  });

describe("the quick cut of a stream", () => {
  test("reads a long line with a bracket in linear time", () => {
    // In a process of its own: a regular expression that backtracks blocks its thread, and a test's time-out with
    // it. Each line takes milliseconds in linear time; quadratic, a minute is far from enough.
    const split = new URL("../../src/inject/split.js", import.meta.url).href;
    const script = `
      const { quickSegments, Resplit } = await import(${JSON.stringify(split)});
      const lines = ["k: {" + " ".repeat(1e6) + "}x", "k: [" + " ".repeat(1e6) + "[a]]", "k: {a: b" + ", a: b".repeat(1e5) + "}}"];
      for (const line of lines) {
        try { [...quickSegments("kind: ConfigMap\\ndata:\\n  " + line + "\\n")]; }
        catch (err) { if (!(err instanceof Resplit)) throw err; }
      }`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.signal, null, "still reading after a minute");
    assert.equal(r.status, 0, r.stderr);
  });

  test("finds the documents, kinds and tokens the parser finds in a chart's documents (fast-check)", () => {
    let read = 0;
    fc.assert(
      fc.property(chartStream, (text) => {
        if (same(text) !== "resplit") read += [...quickSegments(text)].filter((s) => s.tokens.length === 0).length;
      }),
      { numRuns: 10_000, seed: 23, endOnFailure: true },
    );
    assert.ok(read > 500, `only ${read} kinds read from the lines alone`);
  });

  test("finds the documents, kinds and tokens the parser finds (fast-check)", () => {
    let resplit = 0;
    let read = 0;
    fc.assert(
      fc.property(stream, (text) => {
        if (same(text) === "resplit") resplit++;
        else read += [...quickSegments(text)].filter((s) => s.tokens.length === 0).length;
      }),
      { numRuns: 20_000, seed: 22, endOnFailure: true },
    );
    // Giving up is always safe (text the parser finds errors in between documents, common in random lines); and the
    // lines alone tell many kinds, or this test would prove nothing.
    assert.ok(resplit < 10_000, `the quick cut gave up on ${resplit} streams of 20,000`);
    assert.ok(read > 2_000, `only ${read} kinds read from the lines alone`);
  });

  test("reads the kind of a chart's ConfigMap and Service from its lines, a Job written as the yaml package writes with the quick reader, and parses a Job with an anchor", () => {
    const text = `# Source: a/b.yaml
---
# Source: chart/templates/config.yaml
apiVersion: v1
kind: ConfigMap   # settings
data:
  a.ini: |
    x = 1
---
apiVersion: v1
kind: Service
spec:
  ports:
    - port: 80
---
apiVersion: batch/v1
kind: Job
---
apiVersion: batch/v1
kind: Job
metadata: &m
  name: x
`;
    same(text);
    const segments = [...quickSegments(text)];
    assert.deepEqual(
      segments.map((s) => [s.kind, s.tokens.length, s.quick !== undefined]),
      [
        ["ConfigMap", 0, false],
        ["Service", 0, false],
        ["Job", 0, true],
        ["Job", 1, false],
      ],
    );
  });

  test("hands a kind it cannot be sure of to the parser", () => {
    for (const text of [
      "kind: ConfigMap\na:\n  b: 1\n kind: Job\n",
      "---\nkind: ConfigMap\na: |\n  x\n# c\n  kind: Job\n",
      "kind: ConfigMap\n\tkind: Job\n",
      'kind: "ConfigMap"\n',
      // A flow collection: a `}` or `]` that closes none ends the document where it stands.
      "---\nkind: Service\nspec: {ports: [{port: 80}]}\n",
      "---\nspec:\n  k: }\nkind: Job\n",
      // A flow collection on a line under an inline value: that line continues the value, and its `}` closes nothing.
      'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n  labels:\n    note: hello\n      - {tier: "be"}\nkind: Service\n---\nkind: ConfigMap\ndata:\n  a: "x"\n',
      "kind: Pod\nspec:\n  k: x\n    - {y: ''}\nkind: ConfigMap\n---\nq: 'x'\n",
      "kind: ConfigMap\nspec:\n  k: x\n    - {y: ''}\n---\nq: 'x'\n",
      // `kind` twice: the parser reads the document, and refuses it.
      "kind: Job\nmetadata: {name: j}\nkind: ConfigMap\n",
      // The word `kind` anywhere but its own line: the parser looks, though no test has yet found a need to.
      "kind: ConfigMap\ndata:\n  x: |\n    kind: Job\n",
    ]) {
      // The parser reads it: alone, or with the whole stream where it finds an error between documents.
      if (same(text) !== "resplit") assert.equal([...quickSegments(text)][0]?.tokens.length, 1, text);
    }
  });
});
