// The quick reader and writer (quick.ts) against the full path (manifest.ts,
// the `yaml` package): random Pods and Jobs, some written as the package
// writes them and some not (indentation, spacing, comments, quotes, YAML 1.1
// scalars, flow collections, repeated keys, text no reader agrees on), must
// give the same output, byte for byte, or the same refusal. Where the quick
// reader takes a document, it must mean what the parser reads.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type InjectOptions, injectDocument } from "../../src/inject/inject.js";
import { freshLines, parseSegment, readValue } from "../../src/inject/manifest.js";
import { readQuick } from "../../src/inject/quick.js";
import { quickSegments, splitStream } from "../../src/inject/split.js";
import { injectSegments, injectStream } from "../../src/inject/stream.js";
import { copy, same } from "../../src/inject/value.js";

const OPTIONS: InjectOptions = { image: "registry.example/iqqq:1.0", mode: "wrapper" };

/** Scalars as written: strings most of the time (a command must be one), and the rest of YAML 1.1's kinds. */
const WORD = fc.constantFrom(
  "x",
  "python",
  "-m",
  "--shard",
  "report",
  "a b",
  "a:b",
  "http://x/y",
  "$(VAR)",
  "$$(VAR)",
  "a,b",
  "100m",
  "x=y",
  "/opt/x",
  "registry.example/r:1.0",
);
const ODD = fc.constantFrom(
  "on",
  "yes",
  "Off",
  "y",
  "0644",
  "1_000",
  "0o17",
  "0x1F",
  "1e3",
  ".5",
  "-.inf",
  ".NaN",
  "~",
  "null",
  "+1",
  "12345678901234567890",
  "---x",
  "...x",
  "-",
  "a  b",
  "%x",
  "@x",
  "a#b",
  "a: b",
  "a #b",
  "'it''s'",
  "'a\"b'",
  '"a\'b"',
  '"a\\"b"',
  '"\\t"',
  '"\\/"',
  "'x y'",
  '"a #b"',
  '"é"',
  '""',
  "''",
  '"on"',
  "'0644'",
  "!!str 1",
  "&a x",
  "*a",
  "|",
  "x ",
);
const SCALAR = fc.oneof(
  { weight: 6, arbitrary: WORD },
  { weight: 2, arbitrary: WORD.map((w) => `"${w}"`) },
  { weight: 1, arbitrary: WORD.map((w) => `'${w}'`) },
  { weight: 2, arbitrary: ODD },
);
const FLOW_WORD = fc.oneof(
  fc.constantFrom("x", "-m", "--shard", "report", "a b", "$(VAR)", "100m", "/opt/x", "on", "0644", "1"),
  WORD.map((w) => `"${w}"`),
);
const SEP = fc.constantFrom(", ", ", ", ", ", ",", " , ", ",  ");
const flowSeqOf = (sep: fc.Arbitrary<string>, pad: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.array(FLOW_WORD, { maxLength: 4 }), sep, pad)
    .map(([items, sep, pad]) => (items.length === 0 ? "[]" : `[${pad}${items.join(sep)}${pad}]`));
const flowMapOf = (sep: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.uniqueArray(fc.tuple(fc.constantFrom("cpu", "memory", "a", "x.y/z", "a"), FLOW_WORD), { maxLength: 3 }),
      sep,
    )
    .map(([pairs, sep]) => (pairs.length === 0 ? "{}" : `{${pairs.map(([k, v]) => `${k}: ${v}`).join(sep)}}`));
/** What varies between a document written as the package writes and one written otherwise. */
interface Style {
  readonly flowSeq: fc.Arbitrary<string>;
  readonly flowMap: fc.Arbitrary<string>;
  readonly comment: fc.Arbitrary<string>;
  readonly key: fc.Arbitrary<string>;
  /** Each label key once. */
  readonly unique: boolean;
}
const NOISY: Style = {
  flowSeq: flowSeqOf(SEP, fc.constantFrom("", "", " ")),
  flowMap: flowMapOf(SEP),
  comment: fc.constantFrom("", "", "", " # c", "   # one per shard", " #c", " # c "),
  key: fc.constantFrom("team", "x-y", "a.b/c", "app.kubernetes.io/name", "on", '"q"', "1", "team"),
  unique: false,
};
const CLEAN: Style = {
  flowSeq: flowSeqOf(fc.constant(", "), fc.constant("")),
  flowMap: flowMapOf(fc.constant(", ")),
  comment: fc.constantFrom("", "", "", " # c", "   # one per shard", " #c"),
  key: fc.constantFrom("team", "x-y", "a.b/c", "app.kubernetes.io/name"),
  unique: true,
};

/** How the document is laid out: the package's own way, or another a person might write. */
interface Layout {
  /** Indentation per level. */
  readonly step: 2 | 4;
  /** A sequence under its key indented (`key:\n  - a`), or not (`key:\n- a`). */
  readonly indentSeq: boolean;
  readonly marker: "---\n" | "" | "--- \n";
  readonly head: string;
  readonly blank: boolean;
  /** Line ends: LF, CRLF, or CRLF on the first line only. */
  readonly eol: "lf" | "crlf" | "mixed";
}
const layout: fc.Arbitrary<Layout> = fc.record({
  step: fc.constantFrom(2, 2, 2, 4) as fc.Arbitrary<2 | 4>,
  indentSeq: fc.constantFrom(true, true, true, false),
  marker: fc.constantFrom("---\n", "---\n", "---\n", "", "--- \n") as fc.Arbitrary<Layout["marker"]>,
  head: fc.constantFrom("", "# Source: a/b.yaml\n", "# one\n#two\n", "#\n", "# trailing \n"),
  blank: fc.constantFrom(false, false, false, false, true),
  eol: fc.constantFrom("lf", "lf", "lf", "crlf", "mixed") as fc.Arbitrary<Layout["eol"]>,
});

const list = <T>(items: fc.Arbitrary<T>, max = 3) => fc.array(items, { minLength: 0, maxLength: max });

/** A layout and scalars as the package writes them: the documents the quick reader is for. */
const CLEAN_SCALAR = fc.oneof(
  { weight: 6, arbitrary: WORD },
  { weight: 2, arbitrary: WORD.map((w) => `"${w}"`) },
  { weight: 1, arbitrary: WORD.map((w) => `'${w}'`) },
  { weight: 1, arbitrary: fc.constantFrom("on", "0644", "1e3", "~", '"on"', "'0644'", '""', "''") },
);
const CLEAN_LAYOUT: fc.Arbitrary<Layout> = fc.record({
  step: fc.constant(2 as const),
  indentSeq: fc.constantFrom(true, true, false),
  marker: fc.constantFrom("---\n", "---\n", "") as fc.Arbitrary<Layout["marker"]>,
  head: fc.constantFrom("", "# Source: a/b.yaml\n", "# one\n#two\n"),
  blank: fc.constant(false),
  eol: fc.constantFrom("lf", "lf", "lf", "crlf") as fc.Arbitrary<Layout["eol"]>,
});

function podOf(
  scalar: fc.Arbitrary<string>,
  layout: fc.Arbitrary<Layout>,
  { flowSeq, flowMap, comment, key, unique }: typeof CLEAN,
) {
  const container = fc.record({
    name: fc.constantFrom("report", "main", "c", '"report"'),
    image: fc.constantFrom("registry.example/r:1.0", "img", '"img"'),
    command: fc.oneof(list(scalar, 4), flowSeq, fc.constant(undefined)),
    args: fc.oneof(list(scalar, 3), flowSeq, fc.constant(undefined)),
    env: fc.option(list(fc.tuple(fc.constantFrom("A", "B", "SHARD", "A"), scalar), 3), { nil: undefined }),
    resources: fc.option(flowMap, { nil: undefined }),
    comment,
  });
  return fc.record({
    kind: fc.constantFrom("Pod", "Job", "Job"),
    name: scalar,
    labels: fc.oneof(
      unique
        ? fc.uniqueArray(fc.tuple(key, scalar, comment), { maxLength: 3, selector: ([k]) => k })
        : fc.array(fc.tuple(key, scalar, comment), { maxLength: 3 }),
      flowMap,
    ),
    containers: fc.array(container, { minLength: 1, maxLength: 2 }),
    volumes: fc.option(list(fc.constantFrom("config", "data", "config"), 2), { nil: undefined }),
    extra: fc.option(fc.tuple(fc.constantFrom("restartPolicy", "priority"), scalar), { nil: undefined }),
    layout,
  });
}

const pod = fc.oneof(podOf(SCALAR, layout, NOISY), podOf(CLEAN_SCALAR, CLEAN_LAYOUT, CLEAN));
type Pod = typeof pod extends fc.Arbitrary<infer T> ? T : never;

/** The document's text, as a person (or a chart) might write it. */
function write(p: Pod): string {
  const { step, indentSeq, blank } = p.layout;
  const lines: string[] = [];
  const pad = (n: number) => " ".repeat(n * step);
  /** Lines of a block sequence under a key at `level`, or a flow one on its line. */
  const seq = (key: string, level: number, items: string[] | string, each: (item: string, at: number) => string[]) => {
    if (typeof items === "string") {
      lines.push(`${pad(level)}${key}: ${items}`);
      return;
    }
    if (items.length === 0) {
      lines.push(`${pad(level)}${key}: []`);
      return;
    }
    lines.push(`${pad(level)}${key}:`);
    const at = indentSeq ? level + 1 : level;
    for (const item of items) {
      const [first, ...rest] = each(item, at);
      lines.push(`${pad(at)}- ${first}`);
      for (const line of rest) lines.push(`${pad(at)}${" ".repeat(2)}${line}`);
    }
  };
  lines.push(`apiVersion: ${p.kind === "Pod" ? "v1" : "batch/v1"}`, `kind: ${p.kind}`, "metadata:");
  lines.push(`${pad(1)}name: ${p.name}`);
  let level = 1;
  if (p.kind === "Job") {
    lines.push("spec:", `${pad(1)}template:`);
    level = 2;
    lines.push(`${pad(level)}metadata:`);
  }
  const meta = p.kind === "Job" ? level + 1 : 1;
  if (typeof p.labels === "string") lines.push(`${pad(meta)}labels: ${p.labels}`);
  else if (p.labels.length > 0) {
    lines.push(`${pad(meta)}labels:`);
    for (const [k, v, c] of p.labels) lines.push(`${pad(meta + 1)}${k}: ${v}${c}`);
  }
  if (blank) lines.push("");
  if (p.kind === "Job") lines.push(`${pad(level)}spec:`);
  else lines.push("spec:");
  const spec = p.kind === "Job" ? level + 1 : 1;
  if (p.extra !== undefined) lines.push(`${pad(spec)}${p.extra[0]}: ${p.extra[1]}`);
  lines.push(`${pad(spec)}containers:`);
  const cs = indentSeq ? spec + 1 : spec;
  for (const c of p.containers) {
    const inner: string[] = [];
    const sub = (key: string, items: string[] | string | undefined, each: (item: string) => string[]) => {
      if (items === undefined) return;
      if (typeof items === "string") inner.push(`${key}: ${items}`);
      else if (items.length === 0) inner.push(`${key}: []`);
      else {
        inner.push(`${key}:`);
        const at = indentSeq ? " ".repeat(step) : "";
        for (const item of items) {
          const [first, ...rest] = each(item);
          inner.push(`${at}- ${first}`, ...rest.map((r) => `${at}  ${r}`));
        }
      }
    };
    inner.push(`name: ${c.name}${c.comment}`, `image: ${c.image}`);
    sub("command", c.command, (s) => [s]);
    sub("args", c.args, (s) => [s]);
    sub("env", c.env as unknown as string[] | undefined, (e) => {
      const [n, v] = e as unknown as [string, string];
      return [`name: ${n}`, `value: ${v}`];
    });
    if (c.resources !== undefined) inner.push(`resources: ${c.resources}`);
    const [first, ...rest] = inner;
    lines.push(`${pad(cs)}- ${first}`);
    for (const line of rest) lines.push(`${pad(cs)}  ${line}`);
  }
  if (p.volumes !== undefined)
    seq("volumes", spec, p.volumes, (v) => [`name: ${v}`, "configMap:", `${" ".repeat(step)}name: ${v}`]);
  const text = `${p.layout.marker}${p.layout.head}${lines.join("\n")}\n`;
  return p.layout.eol === "lf"
    ? text
    : p.layout.eol === "crlf"
      ? text.replaceAll("\n", "\r\n")
      : text.replace("\n", "\r\n");
}

/** What inject makes of a stream: its output, or its refusal. */
async function outcome(run: () => Promise<{ text: string; warnings: readonly string[]; passed: readonly string[] }>) {
  try {
    const out = await run();
    return { text: out.text, warnings: out.warnings, passed: out.passed };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

describe("the quick reader and writer (quick.ts) against the yaml package", () => {
  test("give the same output, byte for byte, or the same refusal, as the full path (fast-check)", async () => {
    let quick = 0;
    let written = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(pod, { minLength: 1, maxLength: 3 }), async (pods) => {
        runs++;
        const text = pods
          .map(write)
          .map((d, i) => (i === 0 || d.startsWith("---") ? d : `---\n${d}`))
          .join("");
        const full = await outcome(() => injectSegments(text, "t.yaml", OPTIONS, splitStream(text)));
        const mine = await outcome(() => injectStream(text, "t.yaml", OPTIONS));
        assert.deepEqual(mine, full, text);
        for (const segment of splitStream(text)) {
          const read = readQuick(text, segment.start, segment.end);
          if (read === undefined) continue;
          quick++;
          const parsed = readValue(parseSegment(text, segment, "t.yaml"), text, segment, "t.yaml");
          assert.ok(
            same(read.value, parsed),
            `the quick reader's meaning of ${text.slice(segment.start, segment.end)}`,
          );
          const after = copy(read.value);
          const done = await injectDocument(after, OPTIONS).catch(() => undefined);
          if (done?.kind === "injected" && read.write(read.value, after, freshLines) !== undefined) written++;
        }
      }),
      { numRuns: 400, seed: 23, endOnFailure: true },
    );
    // Not a vacuous comparison: many documents took the quick path, and were edited there.
    assert.ok(quick > runs / 3, `${quick} documents read quickly in ${runs} runs`);
    assert.ok(written > runs / 8, `${written} of ${quick} written by the quick writer`);
  });

  test("takes the stream's last document too, quotes and all", async () => {
    const pod = '---\nkind: Pod\nmetadata:\n  name: "p"\nspec:\n  containers:\n    - name: c\n      command: [x]\n';
    const segments = [...quickSegments(pod)];
    assert.equal(segments.length, 1);
    assert.ok(segments[0]?.quick !== undefined);
    const full = await injectSegments(pod, "p.yaml", OPTIONS, splitStream(pod));
    assert.equal((await injectStream(pod, "p.yaml", OPTIONS)).text, full.text);
  });

  test("takes a Job as kubectl writes one (kubectl create job --dry-run=client -o yaml), with the full path's bytes", async () => {
    const job = `apiVersion: batch/v1
kind: Job
metadata:
  creationTimestamp: null
  name: demo
spec:
  template:
    metadata:
      creationTimestamp: null
    spec:
      containers:
      - command:
        - sh
        - -c
        - echo hi
        image: busybox
        name: demo
        resources: {}
      restartPolicy: Never
status: {}
`;
    assert.ok([...quickSegments(job)][0]?.quick !== undefined);
    const full = await injectSegments(job, "job.yaml", OPTIONS, splitStream(job));
    const mine = await injectStream(job, "job.yaml", OPTIONS);
    assert.equal(mine.text, full.text);
    assert.match(mine.text, /\n {6}containers:\n {8}- command:\n {12}- \/opt\/iqqq\/iqqq\n/);
  });

  test("leaves to the full path an edit it does not make", () => {
    const doc = "---\na: [{name: x, v: 1}]\nb: c\n";
    const read = readQuick(doc, 0, doc.length);
    assert.ok(read !== undefined);
    const write = (after: unknown) => read.write(read.value, after as never, freshLines);
    // A flow item gaining company is written here; one edited in place, a scalar changed or a key removed, not.
    assert.equal(write({ a: [{ name: "x", v: 1 }, "z", "y"], b: "c" }), '---\na: [{name: x, v: 1}, z, "y"]\nb: c\n');
    assert.equal(write({ a: [{ name: "w" }, { name: "x", v: 2 }], b: "c" }), undefined);
    assert.equal(write({ a: [{ name: "x", v: 1 }], b: "d" }), undefined);
    assert.equal(write({ a: [{ name: "x", v: 1 }] }), undefined);
    assert.equal(write({ a: [{ name: "x", v: 1 }], b: "c", d: ["e"] }), "---\na: [{name: x, v: 1}]\nb: c\nd:\n  - e\n");
  });

  test("reads only what is written as the package writes it", () => {
    const read = (doc: string) => readQuick(doc, 0, doc.length)?.value;
    assert.deepEqual(read('---\nkind: Pod\nspec:\n  a: [x, "1", 1]\n'), { kind: "Pod", spec: { a: ["x", "1", 1] } });
    assert.deepEqual(read("---\n# c\na: 0644 # c\nb: on\n"), { a: 420, b: true });
    assert.deepEqual(read("kind: Pod\n"), { kind: "Pod" }); // the stream's first document, no `---`
    assert.deepEqual(read("---\r\na: x\r\nb: z\n"), { a: "x", b: "z" });
    // A sequence at its key's column (kubectl's, kustomize's), which the package writes under its key.
    const compact = "---\na:\n- b: [x]\n  c:\n  - u\nd: z\n";
    const taken = readQuick(compact, 0, compact.length);
    assert.deepEqual(taken?.value, { a: [{ b: ["x"], c: ["u"] }], d: "z" });
    assert.equal(
      taken?.write(taken.value, { a: [{ b: ["w", "x"], c: ["u", "v"] }], d: "z" }, freshLines),
      "---\na:\n  - b: [w, x]\n    c:\n      - u\n      - v\nd: z\n",
    );
    // A key of 1,024 characters is written as it stands; a longer one, as an explicit key (`? k`): the full path's.
    assert.deepEqual(read(`---\n${"k".repeat(1024)}: x\n`), { ["k".repeat(1024)]: "x" });
    assert.equal(read(`---\n${"k".repeat(1025)}: x\n`), undefined);
    assert.equal(read(`---\na:\n  - ${"k".repeat(1025)}: x\n`), undefined);
    for (const refused of [
      "# c\nkind: Pod\n", // a comment before the content, no `---`
      "---\nkind: Pod", // no last line feed
      "---\na:\n    b: c\n", // four spaces
      "---\na:  x\n", // two spaces after the key
      "---\na: x\n\nb: y\n", // a blank line
      "---\na: x\n# c\nb: y\n", // a comment between lines
      "---\na: [x , y]\n", // a flow collection spaced otherwise
      "---\na: x\na: y\n", // a key twice
      "---\non: x\n", // a key that is not a string
      "---\na: 'it''s'\n", // a quote in a quoted string
      '---\na: "\\t"\n', // an escape
      "---\na: é\n", // not ASCII
      "---\na:\n", // no value
      "---\na: |\n  x\n", // a block scalar
      "---\na: &x y\n", // an anchor
      "---\na: ---x\n", // a document marker the package quotes
      "---\na:\n  - - x\n", // a sequence in a sequence
      "---\r\na: x\rb\r\n", // a carriage return alone
    ])
      assert.equal(read(refused), undefined, refused);
  });
});
