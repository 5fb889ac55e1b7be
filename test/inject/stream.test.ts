// inject's output, held to its bytes: a chart's rendering (test/support/job-stream.ts:
// Jobs in an Istio mesh, in block and flow style, with an anchor and a merge,
// CRLF lines, comments; ConfigMaps and Services between them) comes out as
// the output of inject before the quick cut of a stream (split.ts) was
// written, byte for byte; and the quick cut and the parser's cut of the whole
// stream give the same output for 1,000 Jobs.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { InjectError, type InjectOptions } from "../../src/inject/inject.js";
import { injectStream } from "../../src/inject/stream.js";
import { ROOT } from "../support/cli.js";
import { jobStream } from "../support/job-stream.js";

const OPTIONS: InjectOptions = { image: "registry.example/iqqq:1.0", mode: "wrapper" };

describe("inject's output, byte for byte", () => {
  test("15 Jobs of a chart come out as test/inject/golden/jobs-15.out (written by inject before the quick cut)", async () => {
    const out = await injectStream(jobStream(15), "jobs.yaml", OPTIONS);
    assert.equal(out.text, readFileSync(`${ROOT}test/inject/golden/jobs-15.out`, "utf8"));
    assert.equal(out.documents, 15 + 3 + 2);
    assert.deepEqual(out.passed, ["ConfigMap", "Service", "ConfigMap", "ConfigMap", "Service"]);
  });

  test("1,000 Jobs of a chart come out as they did before the quick cut (its SHA-256)", async () => {
    const out = await injectStream(jobStream(1000), "jobs.yaml", OPTIONS);
    const digest = createHash("sha256").update(out.text).digest("hex");
    // sha256sum of `iqqq inject --image registry.example/iqqq:1.0` over jobStream(1000), built from main at 0b4019e.
    assert.equal(digest, "ef8145b0fe59d60c9bdefee72d573cced550620ab9c8a23cc35c863e3e391a82");
  });

  test("an injected Job injected again passes through as written, however it is written", async () => {
    // Written differently from the package's style, as a person might (a comment after a value, spaced
    // apart; CRLF): inject has nothing to change, so nothing of it is rewritten, on either reader.
    const once = (await injectStream(jobStream(1).split("---").slice(0, 3).join("---"), "a.yaml", OPTIONS)).text;
    const restyled = once.replace("apiVersion: batch/v1\n", "apiVersion: batch/v1    # spaced apart\n");
    assert.notEqual(restyled, once);
    for (const text of [restyled, restyled.replaceAll("\n", "\r\n")]) {
      const again = await injectStream(text, "a.yaml", OPTIONS);
      assert.equal(again.text, text);
    }
  });

  test("a document whose kind the parser cannot resolve is refused with its line, not an internal error", async () => {
    await assert.rejects(injectStream("---\nkind: ConfigMap\n,x: 1\n", "bad.yaml", OPTIONS), (err: Error) => {
      assert.ok(err instanceof InjectError, String(err));
      assert.match(err.message, /^bad\.yaml: document 1 \(line 3\): not valid YAML: Plain value cannot start with/);
      return true;
    });
  });

  test("a Job with a second top-level kind, as a Kubernetes-valid quote across lines can make one, is refused, not passed through", async () => {
    // Kubernetes reads the quote on to `# '` (kind: Job); the yaml package ends it at the line indented less and
    // finds `kind: ConfigMap` after it. Read as a ConfigMap, the Job would have been written out un-injected.
    const hidden = [
      "apiVersion: batch/v1",
      "kind: Job",
      "spec:",
      "  template:",
      "    spec:",
      "      restartPolicy: Never",
      "      containers:",
      "      - name: c",
      "        image: busybox",
      '        command: ["sh", "-c", "echo hi"]',
      "metadata:",
      "  name: j",
      "  annotations:",
      "    note: 'it",
      "kind: ConfigMap",
      "# '",
      "",
    ].join("\n");
    const cases: [string, RegExp][] = [
      [
        hidden,
        /^twice\.yaml: document 1 \(line 14\): not valid YAML: Missing closing 'quote; if its later lines are indented/,
      ],
      [
        "kind: Job\nmetadata: {name: j}\nkind: ConfigMap\n",
        /^twice\.yaml: document 1 \(line 3\): the key "kind" appears twice/,
      ],
    ];
    for (const [input, message] of cases) {
      await assert.rejects(injectStream(input, "twice.yaml", OPTIONS), (err: Error) => {
        assert.ok(err instanceof InjectError, String(err));
        assert.match(err.message, message);
        return true;
      });
    }
  });

  test("a Job after a document with an error at its top level keeps every byte between them", async () => {
    // The parser gives the second document's error (a `}` alone) before that document: the Job ends at the `---`.
    const input =
      "kind: Job\nspec: {template: {spec: {containers: [{name: a, image: b, command: [c]}]}}}\n--- # next\n  }\n";
    const out = await injectStream(input, "err.yaml", OPTIONS);
    assert.ok(out.text.endsWith("\n--- # next\n  }\n"), out.text);
  });

  test("directives are written as the yaml package writes them: %YAML kept, a %TAG kept where a node uses it", async () => {
    const pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: !e!x {a: b}}\nspec:\n  containers: [{name: c, image: i, command: [x]}]\n";
    const tagged = await injectStream(`%TAG !e! tag:example.com,2000:\n---\n${pod}`, "tag.yaml", OPTIONS);
    assert.match(tagged.text, /^%TAG !e! tag:example\.com,2000:\n---\napiVersion: v1\n/);
    assert.match(tagged.text, /labels: !e!x \{a: b\}/);
    const versioned = await injectStream(`%YAML 1.1\n---\n${pod.replace(" !e!x", "")}`, "yaml.yaml", OPTIONS);
    assert.match(versioned.text, /^%YAML 1\.1\n---\napiVersion: v1\n/);
    // A %TAG no node uses is not written, as before; the document keeps its `---`.
    const unused = await injectStream(
      `%TAG !u! tag:unused.example,2000:\n---\n${pod.replace(" !e!x", "")}`,
      "u.yaml",
      OPTIONS,
    );
    assert.match(unused.text, /^---\napiVersion: v1\n/);
  });
});
