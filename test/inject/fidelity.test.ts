// Inject changes nothing but what it adds, as Kubernetes reads YAML. Random
// Jobs written in every style (plain, quoted, block, flow; anchors, merges,
// comments; boolean-, octal- and number-looking scalars) go through inject; the
// oracle is Kubernetes' own decoder (sigs.k8s.io/yaml over go-yaml v2, see
// test/support/kubernetes-yaml.ts): what it reads from the output must equal
// what it reads from the input, with iqqq's additions applied to that.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type ImageCommand, type InjectOptions, injectDocument } from "../../src/inject/inject.js";
import { parseSegment, readValue } from "../../src/inject/manifest.js";
import { splitStream } from "../../src/inject/split.js";
import { injectStream } from "../../src/inject/stream.js";
import { oracleMissing, readAsKubernetes } from "../support/kubernetes-yaml.js";

const missing = oracleMissing();
if (missing !== undefined && process.env.CI) throw new Error(`the Kubernetes YAML oracle is needed in CI: ${missing}`);

/** Scalars that YAML 1.1 and 1.2 read differently, or that need quoting, or that the kubelet expands. */
const TRICKY = [
  "on",
  "On",
  "off",
  "yes",
  "Yes",
  "no",
  "NO",
  "y",
  "Y",
  "n",
  "true",
  "False",
  "~",
  "null",
  "",
  "0644",
  "0400",
  "0",
  "07",
  "08",
  "1_000",
  "0b1010",
  "-0b11",
  "0x1F",
  "0o17",
  "1e3",
  "1.10",
  ".5",
  "-.inf",
  ".nan",
  "12345678901234567890",
  "-1",
  "+1",
  "2001-12-14",
  "1:20",
  "190:20:30",
  "a: b",
  "#x",
  "a #b",
  "- a",
  "<<",
  "=",
  "$HOME",
  "$(HOME)",
  "$$",
  "$$(HOME)",
  "a b",
  "'q'",
  '"dq"',
  "\\",
  "é",
  "日本",
  "😀",
  "tab\there",
  "x\ny",
  "x\r\ny",
  "\u0085",
  "\u2028",
  "\u007f",
  "\u0007",
  "\ufeff",
  " lead",
  "trail ",
  "@at",
  "`tick",
  "%pct",
  "!bang",
  "&amp",
  "*star",
  "?q",
  "|",
  ">",
  "[",
  "{",
  "]",
  ",",
  "a,b",
  "[a]",
];

const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/) },
);

type Style = "plain" | "single" | "double";

/** Could this text stand as a plain scalar (in block and flow context) and still parse? */
function plainWritable(s: string): boolean {
  return (
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters a plain scalar cannot hold
    /^[A-Za-z0-9~+.$=_/\u00e9\u65e5\u672c][^\n\r\t:#,[\]{}"'\\\u0085\u2028\u2029\u007f\u0007\ufeff]*$/u.test(s) &&
    !s.endsWith(" ") &&
    !/^[-?:]/.test(s)
  );
}

/** A double-quoted scalar every YAML reader reads as this string. */
function dq(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || c === 0xfeff)
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

function scalar(s: string, style: Style): string {
  if (style === "plain" && plainWritable(s)) return s;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters a single-quoted scalar cannot hold
  if (style !== "double" && /^[^\n\r\u0085\u2028\u2029\u007f\u0007\ufeff\t]*$/u.test(s))
    return `'${s.replaceAll("'", "''")}'`;
  return dq(s);
}

type Node =
  | { s: string; style: Style }
  | { seq: Node[]; flow: boolean }
  | { map: [string, Style, Node][]; flow: boolean };

function render(node: Node, indent: string): string {
  if ("s" in node) return ` ${scalar(node.s, node.style)}`;
  if ("seq" in node) {
    if (node.flow || node.seq.length === 0) return ` [${node.seq.map((n) => render(n, "").trim()).join(", ")}]`;
    return node.seq.map((n) => `\n${indent}-${"s" in n ? render(n, indent) : renderIn(n, `${indent}  `)}`).join("");
  }
  if (node.flow || node.map.length === 0)
    return ` {${node.map.map(([k, ks, v]) => `${scalar(k, ks)}: ${render(v, "").trim()}`).join(", ")}}`;
  return node.map.map(([k, ks, v]) => `\n${indent}${scalar(k, ks)}:${render(v, `${indent}  `)}`).join("");
}

/** A collection as a sequence item: its first line after the dash. */
function renderIn(node: Node, indent: string): string {
  const r = render(node, indent);
  return r.startsWith("\n") ? ` ${r.slice(1 + indent.length)}` : r;
}

const style = fc.constantFrom<Style>("plain", "single", "double");
const flow = fc.boolean();
const leaf: fc.Arbitrary<Node> = fc.record({ s: text, style });
const stringList = fc.tuple(fc.array(leaf, { maxLength: 3 }), flow).map(([seq, f]): Node => ({ seq, flow: f }));
/** A map with unique keys (as Kubernetes reads them) of random values. */
const freeMap = fc
  .tuple(
    fc.uniqueArray(fc.tuple(text, style), { maxLength: 4, selector: ([k]) => k }),
    fc.array(leaf, { minLength: 4, maxLength: 4 }),
    flow,
  )
  .map(([keys, values, f]): Node => ({ map: keys.map(([k, ks], i) => [k, ks, values[i] as Node]), flow: f }));

const s = (v: string): Node => ({ s: v, style: "plain" });

const container = (name: string, image: string) =>
  fc
    .record({
      command: fc.option(stringList, { nil: undefined }),
      args: fc.option(stringList, { nil: undefined }),
      env: fc.option(
        fc.tuple(fc.array(fc.tuple(fc.stringMatching(/^[A-Z][A-Z_]{0,5}$/), leaf), { maxLength: 3 }), flow),
        { nil: undefined },
      ),
      mode: fc.constantFrom("0400", "0644", "420", "0o644", "0x1A4", "1_0"),
      f: flow,
    })
    .map(({ command, args, env, mode, f }): { node: Node; mode: string } => ({
      mode,
      node: {
        flow: f,
        map: [
          ["name", "plain", s(name)],
          ["image", "plain", s(image)],
          ...(command ? ([["command", "plain", command]] as [string, Style, Node][]) : []),
          ...(args ? ([["args", "plain", args]] as [string, Style, Node][]) : []),
          ...(env
            ? ([
                [
                  "env",
                  "plain",
                  {
                    flow: env[1],
                    seq: [...new Map(env[0]).entries()].map(
                      ([k, v]): Node => ({
                        flow: env[1],
                        map: [
                          ["name", "plain", s(k)],
                          ["value", "plain", v],
                        ],
                      }),
                    ),
                  },
                ],
              ] as [string, Style, Node][])
            : []),
        ],
      },
    }));

/** Images without a command get this ENTRYPOINT and CMD: dollars, spaces and YAML-looking words included. */
const IMAGES: Record<string, ImageCommand> = {
  "python:3.12": { entrypoint: ["sh", "-c", 'echo "my pid is $$ and $(HOME)" "$@"', "--"], cmd: ["on", "0644", "$1"] },
  "busybox:1": { entrypoint: [], cmd: ["sleep", "1e3"] },
};

const OPTIONS: InjectOptions = {
  image: "registry.example/iqqq:1.0",
  mode: "wrapper",
  imageCommand: async (image) => {
    const found = IMAGES[image];
    if (found === undefined) throw new Error(`no image ${image}`);
    return [found];
  },
};

/** A Job as text, in random styles; anchors and merges on some. */
const job = fc
  .record({
    labels: freeMap,
    annotations: freeMap,
    main: container("main", "python:3.12"),
    second: fc.option(container("second", "busybox:1"), { nil: undefined }),
    sidecar: fc.boolean(),
    merge: fc.boolean(),
    comment: fc.boolean(),
    directive: fc.boolean(),
  })
  .map(({ labels, annotations, main, second, sidecar, merge, comment, directive }) => {
    const lines: string[] = [];
    if (directive) lines.push("%YAML 1.1", "---");
    if (comment) lines.push("# a Job, written by hand");
    lines.push("apiVersion: batch/v1", "kind: Job", "metadata:", "  name: job");
    lines.push(`  labels:${render(labels, "    ")}`);
    lines.push("spec:", "  template:", "    metadata:", `      annotations:${render(annotations, "        ")}`);
    lines.push("    spec:", "      restartPolicy: Never");
    if (merge)
      lines.push(
        `      x-base: &base${render({ map: [["imagePullPolicy", "plain", s("Always")]], flow: false }, "        ")}`,
      );
    lines.push("      containers:");
    lines.push(`      -${renderIn(main.node, "        ")}`);
    if (second) {
      if (merge && !("s" in second.node) && "map" in second.node && !second.node.flow)
        lines.push(`      - <<: *base${render(second.node, "        ").replace(/^\n {8}/, "\n        ")}`);
      else lines.push(`      -${renderIn(second.node, "        ")}`);
    }
    if (sidecar) lines.push("      - name: istio-proxy", "        image: istio/proxyv2:1.22  # the mesh");
    lines.push("      volumes:", "      - name: secret", `        secret: {secretName: s, defaultMode: ${main.mode}}`);
    return `${lines.join("\n")}\n`;
  });

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("inject, read back as Kubernetes reads YAML", { skip: missing }, () => {
  test("the output means the input plus iqqq's additions, and nothing else (fast-check, sigs.k8s.io/yaml)", async () => {
    await fc.assert(
      fc.asyncProperty(job, async (input) => {
        const [read] = readAsKubernetes([input]);
        fc.pre(read?.json !== undefined && read.strict === undefined);
        const expected = structuredClone(read?.json) as Record<string, unknown>;
        const refused = await injectDocument(expected, OPTIONS).then(
          () => undefined,
          (err: Error) => err,
        );
        if (refused !== undefined) {
          // Input Kubernetes would refuse (a number where a string belongs): refused the same way, with the reason.
          await assert.rejects(injectStream(input, "job.yaml", OPTIONS), {
            message: new RegExp(literal(refused.message.replace(/ where .*/s, ""))),
          });
          return;
        }
        const out = await injectStream(input, "job.yaml", OPTIONS);
        const [back] = readAsKubernetes([out.text]);
        assert.equal(back?.error, undefined, `Kubernetes cannot read the output:\n${out.text}`);
        assert.equal(back?.strict, undefined, `duplicate keys in the output:\n${out.text}`);
        assert.deepEqual(back?.json, expected, `the output means something else:\n${input}\n=>\n${out.text}`);
        const again = await injectStream(out.text, "job.yaml", OPTIONS);
        assert.equal(again.text, out.text, "a second inject changed the bytes");
      }),
      { numRuns: 300, seed: 19, endOnFailure: true },
    );
  });

  test("what inject reads from a document is what Kubernetes reads (fast-check)", async () => {
    fc.assert(
      fc.property(job, (input) => {
        const [read] = readAsKubernetes([input]);
        fc.pre(read?.json !== undefined && read.strict === undefined);
        const segment = splitStream(input)[0];
        assert.ok(segment);
        const doc = parseSegment(input, segment, "job.yaml");
        const mine = JSON.parse(
          JSON.stringify(readValue(doc, input, segment, "job.yaml"), (_, v) => (typeof v === "bigint" ? Number(v) : v)),
        );
        assert.deepEqual(mine, read?.json, input);
      }),
      { numRuns: 300, seed: 20, endOnFailure: true },
    );
  });

  test("lines indented less than YAML wants, which Kubernetes reads: refused with how to mend them, and mended they mean the same", async () => {
    const pod = (body: string): string =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n${body}spec:\n  containers: [{name: c, image: i, command: [x]}]\n`;
    const cases: [written: string, mended: string][] = [
      ['  name: "a\nb"\n', '  name: "a\n    b"\n'],
      ["  name: 'a\nb'\n", "  name: 'a\n    b'\n"],
      ['  name: "a\n\t b"\n', '  name: "a\n    b"\n'],
      ["  labels:\n    x: [a\n, b]\n", "  labels:\n    x: [a\n      , b]\n"],
      ["  labels: {a: b\n}\n", "  labels: {a: b\n    }\n"],
    ];
    for (const [written, mended] of cases) {
      const [asWritten, asMended] = readAsKubernetes([pod(written), pod(mended)]);
      assert.equal(asWritten?.error, undefined, `Kubernetes reads it: ${written}`);
      assert.deepEqual(asMended?.json, asWritten?.json, `mended, the same meaning: ${mended}`);
      await assert.rejects(injectStream(pod(written), "pod.yaml", OPTIONS), {
        message:
          /^pod\.yaml: document 1 \(line \d+\): not valid YAML: .*; if its later lines are indented no further than its key \(or by a tab\), indent them with spaces/,
      });
      await injectStream(pod(mended), "pod.yaml", OPTIONS);
    }
    // A quote never closed is no such case: no hint.
    await assert.rejects(injectStream(pod('  name: "a\n'), "pod.yaml", OPTIONS), (err: Error) => {
      assert.doesNotMatch(err.message, /indent them/);
      return true;
    });
  });

  // Found by a hostile fuzzing run against sigs.k8s.io/yaml (each once meant something else, or crashed).
  test("inputs a fuzzer found: the output means the input plus iqqq's additions", async () => {
    const pod = (metadata: string, spec = "", container = "") =>
      `apiVersion: v1\nkind: Pod\nmetadata: ${metadata}\nspec:\n${spec}  containers:\n  - {name: a, image: busybox, command: [sleep, "1"]${container}}\n`;
    const cases = [
      // An empty value in a flow map: written {a:}, which go-yaml reads as the key "a:".
      pod("{name: p, labels: {a: }}"),
      pod("{name: p}", "  securityContext: {runAsUser: }\n"),
      // ...but a tagged empty value is the empty string, not null (a hostile review found it written !!str null).
      pod('{name: p, annotations: {k: !!str , !!str : "v"}}', "", ', args: [!!str , "b"]'),
      // A key with no value at all: exit 70 ("Tag not resolved for null value").
      pod("{name: p}", "  ? x\n"),
      // !!binary in a flow map: folded at 20 characters, the folds read as spaces in base64.
      pod("{name: p, annotations: {a: !!binary QUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJD}}"),
      // An escaped backslash before / or u: no escape Kubernetes refuses.
      pod('{name: p, annotations: {path: "^\\\\/api", u: "\\\\ud83d"}}'),
      // Lists left empty (null): Kubernetes takes them for none.
      pod("{name: p}", "  volumes:\n  initContainers: ~\n", ", env: , volumeMounts: null"),
    ];
    for (const input of cases) {
      const [read] = readAsKubernetes([input]);
      assert.equal(read?.error, undefined, `Kubernetes reads it:\n${input}`);
      const expected = structuredClone(read?.json) as Record<string, unknown>;
      await injectDocument(expected, OPTIONS);
      const out = await injectStream(input, "pod.yaml", OPTIONS);
      const [back] = readAsKubernetes([out.text]);
      assert.equal(back?.error, undefined, `Kubernetes cannot read the output:\n${out.text}`);
      assert.deepEqual(back?.json, expected, `the output means something else:\n${input}\n=>\n${out.text}`);
      assert.equal((await injectStream(out.text, "pod.yaml", OPTIONS)).text, out.text, "a second inject changed it");
    }
  });

  test("a lone carriage return, or a byte-order mark after the stream's start, is refused: Kubernetes reads them otherwise", async () => {
    const refused: [string, RegExp][] = [
      [
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {a: "x\ry"}}\n',
        /line 3: a carriage return not followed by a line feed/,
      ],
      ["apiVersion: v1\nkind:\r List\nitems: []\n", /line 2: a carriage return not followed by a line feed/],
      ["---\n\uFEFFapiVersion: v1\nkind: Pod\n", /line 2: a byte-order mark \(U\+FEFF\) at the start of a line/],
    ];
    for (const [input, message] of refused) {
      const [read] = readAsKubernetes([input.replace(/^---\n/, "")]);
      assert.equal(read?.error, undefined, "Kubernetes reads it");
      await assert.rejects(injectStream(input, "in.yaml", OPTIONS), { message });
    }
    // CRLF line ends, a BOM at the very start, and one inside a line (read alike by both) are no such thing.
    const crlf = "\uFEFFapiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: c}\r\n";
    assert.equal((await injectStream(crlf, "in.yaml", OPTIONS)).text, crlf);
    const inside = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c} # a \uFEFF\ndata: {x: "a\uFEFFb"}\n';
    assert.equal((await injectStream(inside, "in.yaml", OPTIONS)).text, inside);
    // A kind that holds no pod, with a YAML 1.1 line break in it: passed through as written (it was once read again and again).
    for (const brk of ["\u0085", "\u2028", "\u2029"]) {
      const other = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: "a${brk}b"}\n`;
      assert.equal((await injectStream(other, "in.yaml", OPTIONS)).text, other);
      const lead = `a\u00a0${brk}{"kind": "ConfigMap"}\n`;
      await injectStream(lead, "in.yaml", OPTIONS).catch((err) => assert.doesNotMatch(String(err), /call stack/));
    }
  });
});

/**
 * A JSON manifest (kubectl get -o json, a generator's output): kubectl reads a
 * stream that starts with `{` as JSON, so JSON's escapes `\/` and surrogate
 * pairs are a slash and one character there, and inject's output must be JSON
 * too (before Kubernetes 1.31 kubectl had no YAML to fall back on).
 */
const jsonString = fc.oneof(
  fc.constantFrom(...TRICKY),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.constantFrom("a/b", "🚀 go", "\u0001\u007f", 'q"\\', "$(HOME) $$", "é/🎉/"),
);
const jsonJob = fc
  .record({
    annotations: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,4})?$/), jsonString, { maxKeys: 3 }),
    command: fc.option(fc.array(jsonString, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    env: fc.array(fc.record({ name: fc.stringMatching(/^[A-Z]{1,4}$/), value: jsonString }), { maxLength: 2 }),
    list: fc.boolean(),
    indent: fc.constantFrom(undefined, 2, 4),
    slash: fc.boolean(),
    pairs: fc.boolean(),
  })
  .map(({ annotations, command, env, list, indent, slash, pairs }) => {
    const container = {
      name: "main",
      image: command === undefined ? "busybox:1" : "python:3.12",
      ...(command !== undefined ? { command } : {}),
      ...(env.length > 0 ? { env: [...new Map(env.map((e) => [e.name, e])).values()] } : {}),
    };
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "j", annotations },
      spec: { template: { spec: { restartPolicy: "Never", containers: [container] } } },
    };
    let text = JSON.stringify(list ? { apiVersion: "v1", kind: "List", items: [job] } : job, null, indent);
    // Both only ever stand in strings in JSON: escaped as a JSON writer may.
    if (slash) text = text.replaceAll("/", "\\/");
    if (pairs)
      text = text.replace(/[\u{10000}-\u{10FFFF}]/gu, (c) =>
        [...c.split("")].map((u) => `\\u${u.charCodeAt(0).toString(16)}`).join(""),
      );
    return `${text}\n`;
  });

describe("a JSON manifest, read back as kubectl reads JSON", { skip: missing }, () => {
  test("the output is JSON and means the input plus iqqq's additions, escapes and all (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(jsonJob, async (input) => {
        const [read] = readAsKubernetes([input]);
        assert.equal(read?.asJson?.error, undefined, input);
        const expected = structuredClone(read?.asJson?.json) as Record<string, unknown>;
        await injectDocument(expected, OPTIONS);
        const out = await injectStream(input, "job.json", OPTIONS);
        const [back] = readAsKubernetes([out.text]);
        assert.equal(back?.asJson?.error, undefined, `kubectl cannot read the output as JSON:\n${out.text}`);
        assert.deepEqual(back?.asJson?.json, expected, `the output means something else:\n${input}\n=>\n${out.text}`);
        const again = await injectStream(out.text, "job.json", OPTIONS);
        assert.equal(again.text, out.text, "a second inject changed the bytes");
      }),
      { numRuns: 150, seed: 23, endOnFailure: true },
    );
  });

  test("null where iqqq adds a list (volumes, volumeMounts, initContainers): what it writes there is JSON too", async () => {
    const input = `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b", "command": ["x"], "volumeMounts": null}], "volumes": null, "initContainers": null}}\n`;
    const [read] = readAsKubernetes([input]);
    const expected = structuredClone(read?.asJson?.json) as Record<string, unknown>;
    await injectDocument(expected, OPTIONS);
    for (const mode of ["wrapper", "watcher"] as const) {
      const out = await injectStream(input, "in.json", { ...OPTIONS, mode });
      const [back] = readAsKubernetes([out.text]);
      assert.equal(back?.asJson?.error, undefined, `${mode}: kubectl cannot read the output as JSON:\n${out.text}`);
      if (mode === "wrapper") assert.deepEqual(back?.asJson?.json, expected);
    }
  });

  test("a comment after the object: still JSON, as kubectl reads the object before it (then YAML, which the comment is)", async () => {
    const input = `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"a": "x\\/y #z"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "b", "command": ["x"]}]}} # a note\n# another\n`;
    const [read] = readAsKubernetes([input]);
    const expected = structuredClone(read?.asJson?.json) as Record<string, unknown>;
    await injectDocument(expected, OPTIONS);
    const out = await injectStream(input, "in.json", OPTIONS);
    const [back] = readAsKubernetes([out.text]);
    assert.equal(back?.asJson?.error, undefined, out.text);
    assert.deepEqual(back?.asJson?.json, expected);
    assert.match(out.text, /# a note\n/);
  });

  test("a surrogate escape outside a pair, or a second object, is refused there; `\\/` in YAML still is", async () => {
    const job = (value: string) =>
      `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"a": "${value}"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "busybox", "command": ["true"]}]}}\n`;
    await assert.rejects(injectStream(job("x\\ud83d y"), "in.json", OPTIONS), {
      message:
        /the escape \\ud83d, which Kubernetes refuses in a double-quoted string \(a UTF-16 surrogate outside a pair\)/,
    });
    await assert.rejects(injectStream(job("\\ude80"), "in.json", OPTIONS), { message: /the escape \\ude80/ });
    // An escaped backslash before it: a backslash and the letters, no escape at all.
    const [back] = readAsKubernetes([(await injectStream(job("\\\\ud83d\\/"), "in.json", OPTIONS)).text]);
    const read = back?.asJson?.json as { metadata?: { annotations?: { a?: string } } } | undefined;
    assert.equal(read?.metadata?.annotations?.a, "\\ud83d/");
    // Two objects in one stream, which kubectl reads: refused, saying how to give them.
    await assert.rejects(injectStream(job("a") + job("b"), "in.json", OPTIONS), {
      message: /line 2\): not valid YAML: .* \(a second JSON object after the first: .*give each its own file/,
    });
    // YAML flow that starts with `{` but is no JSON: kubectl reads it as YAML, and so does inject.
    await assert.rejects(injectStream(`{kind: Pod, metadata: {name: p, labels: {x: "a\\/b"}}}\n`, "in.yaml", OPTIONS), {
      message: /the escape \\\//,
    });
    // Not JSON (a YAML stream): go-yaml v2 refuses `\/`, and so does inject.
    await assert.rejects(injectStream(`---\n${job("a\\/b")}`, "in.yaml", OPTIONS), { message: /the escape \\\// });
  });
});
