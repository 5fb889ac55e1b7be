// The pod's annotations (downward API): the kubelet's file format, and what they say of each sidecar.

import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { decide, parseAnnotations, readPodFacts, unquote } from "../../src/pod/facts.js";

test("unquote: Go's strconv.Quote forms, and what is not one", () => {
  assert.equal(unquote('"plain"'), "plain");
  assert.equal(unquote('"{\\"a\\":[\\"b\\"]}"'), '{"a":["b"]}');
  assert.equal(unquote('"tab\\tnl\\nbs\\\\ q\\" bell\\a v\\v"'), 'tab\tnl\nbs\\ q" bell\x07 v\v');
  assert.equal(unquote('"\\u00e9\\U0001F389 \\xc3\\xa9 \\303\\251"'), "é🎉 é é");
  assert.equal(unquote('"ünïcödé ✓"'), "ünïcödé ✓");
  for (const bad of ["plain", '"open', '"a"b"', '"\\q"', '"\\x4"', '"\\u12"', '"\\400x"'.slice(0, 4)]) {
    assert.equal(unquote(bad), undefined, bad);
  }
});

test('parseAnnotations: key="value" a line; anything else is malformed', () => {
  const parsed = parseAnnotations('a.b/c="1"\nkubectl.kubernetes.io/default-container="job"\n\n');
  assert.ok(!(parsed instanceof Error));
  assert.deepEqual(
    [...parsed],
    [
      ["a.b/c", "1"],
      ["kubectl.kubernetes.io/default-container", "job"],
    ],
  );
  assert.ok(parseAnnotations("no equals sign\n") instanceof Error);
  assert.ok(parseAnnotations("k=unquoted\n") instanceof Error);
});

const ISTIO_NATIVE = JSON.stringify({ initContainers: ["istio-validation", "istio-proxy"], containers: null });
const ISTIO_REGULAR = JSON.stringify({ initContainers: ["istio-init"], containers: ["istio-proxy"] });

test("decide: native Istio, ambient, native Linkerd get no quit; regular sidecars do", () => {
  const rows: [string, Record<string, string>, string[]][] = [
    ["no annotations", {}, []],
    ["Istio, regular sidecar", { "sidecar.istio.io/status": ISTIO_REGULAR }, []],
    ["Istio, native sidecar", { "sidecar.istio.io/status": ISTIO_NATIVE }, ["istio"]],
    ["Istio ambient, no proxy", { "ambient.istio.io/redirection": "enabled" }, ["istio"]],
    [
      "ambient label but a proxy injected (sidecar wins)",
      { "ambient.istio.io/redirection": "enabled", "sidecar.istio.io/status": ISTIO_REGULAR },
      [],
    ],
    ["Istio status that is not JSON: no doubt-based skip", { "sidecar.istio.io/status": "{broken" }, []],
    ["Linkerd 2.20", { "config.linkerd.io/proxy-enable-native-sidecar": "true" }, ["linkerd"]],
    ["Linkerd 2.19 (beta)", { "config.beta.linkerd.io/proxy-enable-native-sidecar": "true" }, ["linkerd"]],
    ["Linkerd edge (alpha)", { "config.alpha.linkerd.io/proxy-enable-native-sidecar": "true" }, ["linkerd"]],
    ["Linkerd, native off", { "config.linkerd.io/proxy-enable-native-sidecar": "false" }, []],
    [
      "Istio asked for native but injected a regular container (its status wins)",
      { "sidecar.istio.io/nativeSidecar": "true", "sidecar.istio.io/status": ISTIO_REGULAR },
      [],
    ],
  ];
  for (const [name, annotations, skipped] of rows) {
    const skip = decide(new Map(Object.entries(annotations)));
    assert.deepEqual([...skip.keys()].sort(), skipped, name);
    for (const reason of skip.values()) assert.match(reason, /native sidecar|ambient/);
  }
});

test("readPodFacts: a missing default file is silent; asked for, missing, unreadable or malformed: one warning and no skip", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-podinfo-"));
  const missing = join(dir, "annotations");
  assert.equal(readPodFacts(missing, false).warning, undefined);
  assert.equal(readPodFacts(missing, false).facts.skip.size, 0);
  assert.match(
    readPodFacts(missing, true).warning ?? "",
    /cannot read the pod's annotations .*ENOENT.*stopped as usual/,
  );
  assert.match(readPodFacts(dir, false).warning ?? "", /EISDIR/);
  await writeFile(missing, "garbage line\n");
  const malformed = readPodFacts(missing, false);
  assert.match(malformed.warning ?? "", /malformed \(line 1: no key="value"\)/);
  assert.equal(malformed.facts.skip.size, 0);
  await writeFile(missing, `sidecar.istio.io/status=${JSON.stringify(ISTIO_NATIVE)}\n`);
  const native = readPodFacts(missing, true);
  assert.equal(native.warning, undefined);
  assert.deepEqual([...native.facts.skip.keys()], ["istio"]);
});
