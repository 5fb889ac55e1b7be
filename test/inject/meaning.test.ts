// meaning.ts against Kubernetes' own decoder (sigs.k8s.io/yaml, see
// test/support/kubernetes-yaml.ts): every plain scalar of a long table, and
// random ones, must resolve as go-yaml v2 resolves them; merges in go-yaml v2's
// order; alias bombs refused before they cost anything.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseDocument } from "yaml";
import { MeaningError, meaningOf, resolvePlain } from "../../src/inject/meaning.js";
import { oracleMissing, readAsKubernetes } from "../support/kubernetes-yaml.js";

const missing = oracleMissing();
if (missing !== undefined && process.env.CI) throw new Error(`the Kubernetes YAML oracle is needed in CI: ${missing}`);

const SCALARS = [
  "on",
  "On",
  "ON",
  "oN",
  "off",
  "yes",
  "Yes",
  "YES",
  "yEs",
  "no",
  "y",
  "Y",
  "n",
  "N",
  "true",
  "True",
  "TRUE",
  "tRue",
  "false",
  "~",
  "null",
  "Null",
  "NULL",
  "nULL",
  "0",
  "00",
  "07",
  "08",
  "0644",
  "-0644",
  "+0644",
  "0o17",
  "0O17",
  "0x1F",
  "0X1f",
  "0b101",
  "0B101",
  "-0b101",
  "0b",
  "0x",
  "1_000",
  "1__0",
  "_1",
  "1_",
  "+1",
  "-1",
  "+-1",
  "1e3",
  "1E3",
  "1e+3",
  "1.5e-3",
  "1.",
  ".5",
  "-.5",
  "+.5",
  ".",
  "..",
  "1.2.3",
  ".inf",
  "-.Inf",
  "+.INF",
  ".nan",
  ".NaN",
  "inf",
  "nan",
  "Infinity",
  "1_000.5",
  "0x1p3",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775808",
  "-9223372036854775809",
  "18446744073709551615",
  "18446744073709551616",
  "2001-12-14",
  "2001-12-14T21:59:43Z",
  "1:20",
  "190:20:30",
  "12:30:45.5",
  "0.1",
  "010.5",
  "1e",
  "e3",
  "=",
  "<<",
  "<",
  "-",
  "--",
  "1-2",
  "1/2",
  "0o8",
  "0b2",
  "0xG",
  "12345678901234567890",
  "3.14159265358979323846",
  "1e400",
  "-1e400",
  "1e-400",
];

describe("meaning.ts reads as go-yaml v2 does", { skip: missing }, () => {
  test("each plain scalar of a table resolves as sigs.k8s.io/yaml resolves it", () => {
    const reads = readAsKubernetes(SCALARS.map((s) => `v: ${s}\n`));
    SCALARS.forEach((s, i) => {
      const read = reads[i];
      if (read?.error !== undefined) return; // Kubernetes cannot read it (an infinite float); neither matters here
      const mine = resolvePlain(s);
      const theirs = (read?.json as { v: unknown } | undefined)?.v;
      assert.deepEqual(
        typeof mine === "bigint" ? Number(mine) : mine,
        theirs,
        `${JSON.stringify(s)}: inject reads ${String(mine)}, Kubernetes ${JSON.stringify(theirs)}`,
      );
    });
  });

  test("random plain scalars resolve as sigs.k8s.io/yaml resolves them (fast-check)", () => {
    const plain = fc.stringMatching(/^[0-9+\-._oObBxXeE][0-9a-fA-F+\-._oOxXbBeE:]{0,12}$/);
    fc.assert(
      fc.property(fc.array(plain, { minLength: 50, maxLength: 50 }), (texts) => {
        const docs = texts.map((t) => `v: ${t}\n`);
        const reads = readAsKubernetes(docs);
        texts.forEach((t, i) => {
          const read = reads[i];
          const parsed = parseDocument(docs[i] as string, { schema: "failsafe" });
          if (read?.error !== undefined || parsed.errors.length > 0) return;
          const mine = resolvePlain(t);
          const theirs = (read?.json as { v: unknown } | undefined)?.v;
          if (typeof theirs === "number" && !Number.isSafeInteger(theirs) && Number.isInteger(theirs)) return; // JSON.parse rounds
          assert.deepEqual(typeof mine === "bigint" ? Number(mine) : mine, theirs, JSON.stringify(t));
        });
      }),
      { numRuns: 40, seed: 21 },
    );
  });

  test("merges: a later key wins, whichever side of the << it is; a list of maps merges first-wins", () => {
    const text =
      "base: &b {p: 1, q: 1}\nother: &o {p: 2, r: 2}\nafter: {p: 9, <<: *b}\nbefore: {<<: *b, p: 9}\nlist: {<<: [*o, *b]}\n";
    const [read] = readAsKubernetes([text]);
    const mine = meaningOf(parseDocument(text, { schema: "failsafe", uniqueKeys: false }));
    assert.deepEqual(mine, read?.json);
  });

  test("alias and merge bombs are refused with the place, before they cost anything", () => {
    const lines = ["a0: &a0 {k: 1}"];
    for (let i = 1; i <= 30; i++) lines.push(`a${i}: &a${i} {<<: [*a${i - 1}, *a${i - 1}]}`);
    assert.throws(
      () => meaningOf(parseDocument(`${lines.join("\n")}\n`, { schema: "failsafe" })),
      (err: unknown) => err instanceof MeaningError && /more than 100 aliases/.test(err.message),
    );
    const laughs = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i <= 9; i++)
      laughs.push(
        `l${i}: &l${i} [${Array(10)
          .fill(`*l${i - 1}`)
          .join(", ")}]`,
      );
    assert.throws(
      () => meaningOf(parseDocument(`${laughs.join("\n")}\n`, { schema: "failsafe" })),
      (err: unknown) => err instanceof MeaningError && /more than 100 aliases/.test(err.message),
    );
  });
});
