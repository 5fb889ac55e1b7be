// iqqq inject changes nothing but what it adds, on both builds, as a user
// runs it: manifests written the ways people write them (octal modes, quoted
// YAML 1.1 words, merges, anchors, comments, CRLF, a BOM, directives, helm's
// `--- # Source:` lines) are read back with Kubernetes' own decoder
// (sigs.k8s.io/yaml, test/support/kubernetes-yaml.ts); pass-through documents
// come out byte for byte, a second inject changes nothing, and input it cannot
// read is refused with exit 65, the document and the line.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { CLI, cliEnv, runCli } from "../support/cli.js";
import { jobStream } from "../support/job-stream.js";
import { oracleMissing, readAsKubernetes } from "../support/kubernetes-yaml.js";
import type { Obj } from "../support/read-back.js";

const IMAGE = "registry.example/iqqq:1.0";
const missing = oracleMissing();
if (missing !== undefined && process.env.CI) throw new Error(`the Kubernetes YAML oracle is needed in CI: ${missing}`);

async function inject(input: string, args: readonly string[] = []) {
  const r = await runCli(["inject", "--image", IMAGE, ...args], { input, timeoutMs: 60_000 });
  return { ...r, text: r.stdout.toString() };
}

/**
 * Each document of a stream as Kubernetes reads it (split on `---` lines, as
 * kubectl's reader does). Strict decoding must find no duplicate key, except
 * where a merge (<<) is overridden, which go-yaml v2's strict mode also counts
 * and kubectl's (non-strict) reading resolves: a later key wins.
 */
function kubernetes(stream: string): Obj[] {
  const docs = stream
    .replace(/^\uFEFF/, "")
    .split(/^---(?:[ \t].*)?\r?$/m)
    .filter((d) => /^\s*[^\s#%]/m.test(d.replace(/^%.*$/gm, "")));
  return readAsKubernetes(docs).map((r, i) => {
    assert.equal(r.error, undefined, `document ${i + 1}: Kubernetes cannot read it: ${r.error}\n${docs[i]}`);
    if (!/<<:/.test(docs[i] as string)) assert.equal(r.strict, undefined, `document ${i + 1}: ${r.strict}`);
    return r.json as Obj;
  });
}

/** The pod spec of a Job, a CronJob or a Pod. */
function podSpec(doc: Obj): Obj {
  if (doc.kind === "Job") return doc.spec.template.spec;
  if (doc.kind === "CronJob") return doc.spec.jobTemplate.spec.template.spec;
  return doc.spec;
}

/** What the user wrote, with iqqq's additions taken out again: it must equal the input exactly. */
function withoutIqqq(doc: Obj): Obj {
  const copy = structuredClone(doc);
  const spec = podSpec(copy);
  const ours = (name: unknown) => typeof name === "string" && name.startsWith("iqqq");
  const keep = (o: Obj, key: string, wanted: (x: Obj) => boolean) => {
    if (o[key] === undefined) return;
    o[key] = o[key].filter(wanted);
    if (o[key].length === 0) delete o[key];
  };
  keep(spec, "volumes", (v) => !ours(v.name));
  keep(spec, "initContainers", (c) => c.name !== "iqqq-install");
  for (const c of spec.containers) {
    if (c.command?.[0] === "/opt/iqqq/iqqq") c.command = c.command.slice(1);
    keep(c, "volumeMounts", (m) => !ours(m.name));
    keep(c, "env", (e) => !e.name.startsWith("IQQQ_"));
  }
  return copy;
}

const WRITTEN_BY_HAND = `# A Job as people write it: YAML 1.1 words, octal modes, an anchor and a merge.
apiVersion: batch/v1
kind: Job
metadata:
  name: report   # the report
  labels: {"on": "yes", "y": "n", app: report}
  annotations:
    big: 12345678901234567890
    sidecar.istio.io/inject: "true"
    note: "tab\\there, nel\\x85 ls\\u2028 bell\\a"
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - &main
        name: main
        image: python:3.12
        command: ["python", "-c", "print('$(HOME) $$')"]   # flow, kept
        args:
        - "on"
        - '0644'
        - |
          multi
          line
        env: &env
        - {name: A, value: "yes"}
        - {name: B, value: '1_000'}
      - <<: *main
        name: second
        env: *env
      - name: istio-proxy
        image: docker.io/istio/proxyv2:1.24.0
      volumes:
      - name: secret
        secret: {secretName: s, defaultMode: 0400}
      - name: config
        configMap:
          name: c
          items: [{key: k, path: p, mode: 0440}]
`;

describe("iqqq inject: what Kubernetes reads is what the user wrote, plus iqqq", { skip: missing }, () => {
  test("YAML 1.1 words, octal modes, big numbers, escapes, anchors and merges mean the same after inject", async () => {
    const r = await inject(WRITTEN_BY_HAND);
    assert.equal(r.status, 0, r.stderr);
    const [before] = kubernetes(WRITTEN_BY_HAND);
    const [after] = kubernetes(r.text);
    assert.ok(before && after);
    assert.deepEqual(withoutIqqq(after), before);
    const spec = podSpec(after);
    // Kubernetes reads 0400 as 256: still owner-read only.
    assert.equal(spec.volumes[0].secret.defaultMode, 256);
    assert.equal(spec.volumes[1].configMap.items[0].mode, 288);
    // Comments, the flow command and the merge stay as written.
    assert.match(r.text, /^# A Job as people write it/);
    assert.match(r.text, /name: report # the report/);
    assert.match(r.text, /command: \[\/opt\/iqqq\/iqqq, "python", "-c", "print\('\$\(HOME\) \$\$'\)"\] # flow, kept/);
    assert.match(r.text, /defaultMode: 0400/);
    assert.match(r.text, /big: 12345678901234567890/);
    // Both job containers wrapped: the merged one too.
    assert.deepEqual(
      spec.containers.map((c: Obj) => c.command?.[0]),
      ["/opt/iqqq/iqqq", "/opt/iqqq/iqqq", undefined],
    );
    const again = await inject(r.text);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.text, r.text, "a second inject changed the bytes");
  });

  test("a job container with envFrom: warned that iqqq's variables in env win over any of the same name there", async () => {
    const job = (from: string) =>
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    metadata: {annotations: {sidecar.istio.io/inject: "true"}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: x, command: [a]${from}}]\n`;
    const r = await inject(job(", envFrom: [{configMapRef: {name: settings}}]"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /container m takes variables from envFrom, which inject cannot read: IQQQ_SIDECARS, IQQQ_POD_SIDECARS, added to its env, win/,
    );
    assert.doesNotMatch((await inject(job(""))).stderr, /envFrom/);
    // Injected again: nothing new is added, nothing said.
    assert.doesNotMatch((await inject(r.text)).stderr, /envFrom/);
  });

  test("a document that starts on its --- line is refused (65): kubectl 1.32 refuses it, earlier ones read no document there", async () => {
    for (const stream of [
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n--- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: m, image: x, command: [a]}]}}\n",
      "--- |\n  text\n",
      "--- !!map\nkind: Pod\n",
    ]) {
      const r = await inject(stream);
      assert.equal(r.status, 65, stream);
      assert.match(r.stderr, /line \d+: a document that starts on its --- line/);
      assert.equal(r.text, "");
    }
    // A comment after it, or blanks, are a separator's as kubectl reads it.
    for (const stream of ["--- # note\napiVersion: v1\nkind: ConfigMap\n", "---   \napiVersion: v1\nkind: ConfigMap\n"])
      assert.equal((await inject(stream)).status, 0, stream);
  });

  test("pass-through documents and everything between documents come out byte for byte", async () => {
    const configMap = `apiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: cm}\r\ndata:\r\n  a: on\r\n  b: "0644"\r\n`;
    const stream = [
      "\uFEFF# Source: chart/templates/cm.yaml\n",
      "--- # Source: chart/templates/cm.yaml\n",
      configMap,
      "...\n",
      "%YAML 1.1\n",
      "--- # Source: chart/templates/job.yaml\n",
      "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: a, image: busybox, command: [sleep, '1']}]\n",
      "--- # Source: chart/templates/empty.yaml\n",
      "---\n{kind: Service, apiVersion: v1, metadata: {name: s}, spec: {ports: [{port: 80}]}}\n",
      "---\n# only a comment\n",
    ].join("");
    const r = await inject(stream);
    assert.equal(r.status, 0, r.stderr);
    const text = r.text;
    // Everything up to the Job, as written: BOM, comments, CRLF, `...`, the directive.
    const upToJob = stream.indexOf("apiVersion: batch/v1");
    assert.equal(
      text.slice(0, stream.indexOf("--- # Source: chart/templates/job.yaml")),
      stream.slice(0, stream.indexOf("--- # Source: chart/templates/job.yaml")),
    );
    assert.ok(upToJob > 0);
    // Everything after the Job, as written.
    const tail = stream.slice(stream.indexOf("--- # Source: chart/templates/empty.yaml"));
    assert.ok(text.endsWith(tail), "the documents after the Job changed");
    assert.match(text, /iqqq-install/);
    // One summary line for what passed through.
    assert.match(r.stderr, /note: 2 documents with no pod passed through as written: ConfigMap, Service\n/);
    const again = await inject(text);
    assert.equal(again.text, text, "a second inject changed the bytes");
  });

  test("a 1 MB ConfigMap passes through as written, in linear time", async () => {
    const lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: big}", "data:"];
    for (let i = 0, size = 0; size < 1_000_000; i++) {
      lines.push(`  key-${i}: "value ${i} ${"x".repeat(20)}"`);
      size += (lines.at(-1) as string).length + 1;
    }
    const big = `${lines.join("\n")}\n`;
    const started = Date.now();
    const r = await inject(`${big}---\n${WRITTEN_BY_HAND}`);
    const took = Date.now() - started;
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.text.startsWith(big));
    // Not a timed budget (bench measures that): a bound ten times what it needs on a loaded
    // machine, where the quadratic key check this replaced took minutes.
    assert.ok(took < 20_000, `took ${took} ms`);
  });

  test("input Kubernetes cannot read, or that would mean something else, is refused: exit 65, document and line", async () => {
    const cases: [string, RegExp][] = [
      [
        `kind: ConfigMap\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    name: b\n    image: x\n`,
        /stdin: document 2 \(line \d+\): the key "name" appears twice in one mapping/,
      ],
      [
        `apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {on: a, "true": b}}\nspec:\n  containers: [{name: a, image: x, command: [x]}]\n`,
        /document 1 \(line 3\): the keys on and "true" of one mapping are both "true" as Kubernetes reads them \(YAML 1\.1\)/,
      ],
      [
        `apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: x, "a": y}}\nspec:\n  containers: [{name: a, image: x, command: [x]}]\n`,
        /document 1 \(line 3\): the key "a" appears twice in one mapping/,
      ],
      [
        `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: x, command: [sleep, 1e3]}]\n`,
        /document 1 \(line 1\): Pod\/p: containers\[0\]\.command\[1\] is a number where Kubernetes needs a string \(YAML 1\.1 reads what is written there as the number 1000; quote it\)/,
      ],
      [
        `apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: &l {a: b}}\nspec:\n  x: [${Array(101).fill("*l").join(", ")}]\n  containers: [{name: a, image: x, command: [a]}]\n`,
        /document 1 \(line 5\): more than 100 aliases in one document/,
      ],
      [`apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a\n`, /stdin: document 1 \(line 4\): not valid YAML/],
    ];
    for (const [input, message] of cases) {
      const r = await inject(input);
      assert.equal(r.status, 65, `${input}\n${r.stderr}`);
      assert.equal(r.text, "");
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "a stack trace");
    }
  });

  test("iqqq's volumes never take a user's: another name beside a volume called iqqq; a mount at /opt/iqqq is refused", async () => {
    const pod = (extra: string, mounts = "") =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: a\n    image: busybox\n    command: [sh]\n${mounts}  volumes:\n${extra}`;
    const named = await inject(
      pod(
        "  - {name: iqqq, configMap: {name: mine}}\n  - {name: iqqq-podinfo, secret: {secretName: s}}\n",
        "    volumeMounts: [{name: iqqq, mountPath: /data}]\n",
      ),
    );
    assert.equal(named.status, 0, named.stderr);
    const [doc] = kubernetes(named.text);
    const spec = podSpec(doc as Obj);
    assert.deepEqual(
      spec.volumes.map((v: Obj) => v.name),
      ["iqqq", "iqqq-podinfo", "iqqq-2", "iqqq-podinfo-2"],
    );
    assert.deepEqual(spec.volumes[0], { name: "iqqq", configMap: { name: "mine" } });
    assert.deepEqual(
      spec.containers[0].volumeMounts.map((m: Obj) => `${m.name}@${m.mountPath}`),
      ["iqqq@/data", "iqqq-2@/opt/iqqq", "iqqq-podinfo-2@/etc/podinfo"],
    );
    assert.deepEqual(spec.initContainers[0].volumeMounts, [{ name: "iqqq-2", mountPath: "/iqqq-install" }]);
    const again = await inject(named.text);
    assert.equal(again.text, named.text, "a second inject changed the bytes");
    for (const path of ["/opt/iqqq", "/etc/podinfo", "/opt/iqqq/lib"]) {
      const clash = await inject(
        pod("  - {name: mine, emptyDir: {}}\n", `    volumeMounts: [{name: mine, mountPath: ${path}}]\n`),
      );
      assert.equal(clash.status, 65, clash.stderr);
      assert.match(
        clash.stderr,
        new RegExp(`Pod/p: container a already mounts the volume "mine" at ${path}, where iqqq needs its own`),
      );
    }
  });

  test("what a hostile review found: each reads as Kubernetes reads it, or is refused with the reason", async () => {
    const pod = (extra: string) =>
      `kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: m, image: x, command: [a]}]\n${extra}`;
    // Characters YAML 1.1 reads as line breaks, or refuses: refused, never given another meaning.
    for (const [input, message] of [
      [pod("  # note\u2028  hostNetwork: true\n"), /a raw line-break character \(U\+2028\)/],
      [pod('  x: "a\u0085b"\n'), /a raw line-break character \(U\+0085\)/],
      [pod('  x: "a\u0007b"\n'), /the control character U\+0007/],
      [pod('  x: "a\\/b"\n'), /the escape \\\/, which Kubernetes refuses/],
      [pod('  x: "\\uD83D\\uDE00"\n'), /the escape \\uD83D, which Kubernetes refuses/],
      // A kind behind a line break YAML 1.1 sees and the parser here does not.
      ["kind: ConfigMap # \u2028kind: Pod\nmetadata: {name: p}\n", /a raw line-break character/],
      // Nesting deeper than any pod spec.
      [
        pod(`  x:\n${Array.from({ length: 650 }, (_, i) => `${" ".repeat(2 * i + 4)}k:\n`).join("")}`),
        /nested deeper than 200 levels/,
      ],
    ] as const) {
      const r = await inject(input);
      assert.equal(r.status, 65, `${JSON.stringify(input.slice(0, 80))}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    // !!merge is a merge, as in go-yaml: the merged mounts stay.
    const merged = await inject(
      "kind: Pod\nmetadata: {name: p}\nbase: &base\n  volumeMounts: [{name: data, mountPath: /data}]\nspec:\n  containers:\n    - !!merge <<: *base\n      name: m\n      image: x\n      command: [a]\n  volumes: [{name: data, emptyDir: {}}]\n",
    );
    assert.equal(merged.status, 0, merged.stderr);
    const [mergedPod] = kubernetes(merged.text);
    assert.deepEqual(
      mergedPod?.spec.containers[0].volumeMounts.map((m: Obj) => m.mountPath),
      ["/data", "/opt/iqqq", "/etc/podinfo"],
    );
    // A key a later merge overrides is written once, and a second inject changes nothing.
    const overridden = await inject(
      "kind: Pod\nmetadata: {name: p}\nbase: &b {name: m, image: img, command: [sh]}\nspec:\n  containers:\n    - command: [run]\n      <<: *b\n",
    );
    assert.equal(overridden.status, 0, overridden.stderr);
    assert.doesNotMatch(overridden.text, /command: \[run\]/, "the overridden key stays beside the new one");
    assert.deepEqual(kubernetes(overridden.text)[0]?.spec.containers[0].command, ["/opt/iqqq/iqqq", "sh"]);
    assert.equal((await inject(overridden.text)).text, overridden.text);
    // A file without a final line break ends as it ended: the block scalar keeps its meaning.
    const bare = "kind: ConfigMap\ndata:\n  a: |\n    text";
    const r = await inject(bare);
    assert.equal(r.text, bare);
    // A user's group directory or init container named like iqqq's is never taken over.
    const group = await inject(
      "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: m, image: x, command: [a], volumeMounts: [{name: cfg, mountPath: /run/iqqq-group}]}\n    - {name: k, image: x, command: [b]}\n  volumes: [{name: cfg, configMap: {name: c}}]\n",
    );
    assert.equal(group.status, 65);
    assert.match(group.stderr, /container m already mounts the volume "cfg" at \/run\/iqqq-group/);
    const init = await inject(
      "kind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: iqqq-install, image: u, command: [s]}]\n  containers: [{name: m, image: x, command: [a]}]\n",
    );
    assert.equal(init.status, 65);
    assert.match(init.stderr, /an init container named iqqq-install that is not iqqq's/);
    const dotted = await inject(
      pod("").replace("command: [a]}", "command: [a], volumeMounts: [{name: v, mountPath: //opt/./iqqq/}]}"),
    );
    assert.equal(dotted.status, 65);
    assert.match(dotted.stderr, /already mounts the volume "v" at \/opt\/iqqq/);
  });

  test("a typed list (JobList, as kubectl get -o yaml writes it): each item is injected, as kubectl applies each", async () => {
    const r = await inject(
      "apiVersion: batch/v1\nkind: JobList\nitems:\n- apiVersion: batch/v1\n  kind: Job\n  metadata: {name: j}\n  spec:\n    template:\n      spec:\n        restartPolicy: Never\n        containers: [{name: m, image: x, command: [a]}]\n---\napiVersion: v1\nkind: ConfigMapList\nitems: []\n",
    );
    assert.equal(r.status, 0, r.stderr);
    const [list, empty] = kubernetes(r.text);
    assert.deepEqual(list?.items[0].spec.template.spec.containers[0].command, ["/opt/iqqq/iqqq", "a"]);
    assert.deepEqual(empty, { apiVersion: "v1", kind: "ConfigMapList", items: [] });
  });

  test("a typed list's items without kind or apiVersion are the list's (JobList's are batch/v1 Jobs, PodList's v1 Pods), as kubectl reads them; a plain List's are not", async () => {
    const r = await inject(
      "apiVersion: batch/v1\nkind: JobList\nitems:\n- metadata: {name: j}\n  spec:\n    template:\n      spec:\n        restartPolicy: Never\n        containers: [{name: m, image: x, command: [a]}]\n---\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p}\n  spec:\n    containers: [{name: m, image: x, command: [b]}]\n---\napiVersion: example.com/v1\nkind: JobList\nitems:\n- metadata: {name: crd}\n  spec:\n    template:\n      spec:\n        containers: [{name: m, image: x, command: [c]}]\n",
    );
    assert.equal(r.status, 0, r.stderr);
    const [jobs, pods, crds] = kubernetes(r.text);
    assert.deepEqual(jobs?.items[0].spec.template.spec.containers[0].command, ["/opt/iqqq/iqqq", "a"]);
    assert.deepEqual(pods?.items[0].spec.containers[0].command, ["/opt/iqqq/iqqq", "b"]);
    // A Pod item (a Pod's restartPolicy defaults to Always): told so, as a Pod is.
    assert.ok(
      pods?.items[0].spec.containers[0].env.some(
        (e: { name: string; value: string }) => e.name === "IQQQ_RESTART_POLICY" && e.value === "Always",
      ),
      JSON.stringify(pods?.items[0].spec.containers[0].env),
    );
    // Another group's JobList holds its own kind of items: passed through.
    assert.deepEqual(crds?.items[0].spec.template.spec.containers[0].command, ["c"]);
  });

  test("--mode watcher on a pod with hostPID: no shareProcessNamespace, which the API server refuses beside it", async () => {
    const pod = (host: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {sidecar.istio.io/inject: "true"}}\nspec:\n${host}  restartPolicy: Never\n  containers: [{name: m, image: x, command: [a]}]\n`;
    const hosted = await inject(pod("  hostPID: true\n"), ["--mode", "watcher"]);
    assert.equal(hosted.status, 0, hosted.stderr);
    const [spec] = kubernetes(hosted.text).map((d) => d.spec);
    assert.equal(spec.hostPID, true);
    assert.equal(spec.shareProcessNamespace, undefined);
    assert.ok(spec.containers.some((c: { name: string }) => c.name === "iqqq-watcher"));
    const plain = await inject(pod(""), ["--mode", "watcher"]);
    assert.equal(kubernetes(plain.text)[0]?.spec.shareProcessNamespace, true);
  });

  test("many anchored containers in a List: edited in linear time", async () => {
    const items = Array.from(
      { length: 1000 },
      (_, i) =>
        `- kind: Pod\n  metadata: {name: p${i}}\n  spec:\n    containers: [{name: m, image: x, command: &c${i} [a]}]\n${i % 20 === 0 ? `    x: *c${i}\n` : ""}`,
    ).join("");
    const started = Date.now();
    const r = await inject(`apiVersion: v1\nkind: List\nitems:\n${items}`);
    const took = Date.now() - started;
    assert.equal(r.status, 0, r.stderr);
    const [list] = kubernetes(r.text);
    assert.deepEqual(list?.items[980].spec.x, ["a"]);
    assert.deepEqual(list?.items[999].spec.containers[0].command, ["/opt/iqqq/iqqq", "a"]);
    // Not a budget: the quadratic version took 27 s here; linear takes about one.
    assert.ok(took < 15_000, `took ${took} ms`);
  });

  test("iqqq's own containers: no fixed user (the image's non-root USER, which OpenShift may replace); limits.cpu set where the pod says resources", async () => {
    const r = await inject(WRITTEN_BY_HAND);
    const [doc] = kubernetes(r.text);
    const install = podSpec(doc as Obj).initContainers[0];
    assert.equal(install.securityContext.runAsNonRoot, true);
    assert.equal(install.securityContext.runAsUser, undefined);
    assert.equal(install.securityContext.runAsGroup, undefined);
    // A BestEffort pod (no container says resources) stays one (inject/pods.test.ts has every class).
    assert.equal(install.resources, undefined);
    const burstable = WRITTEN_BY_HAND.replace(
      "        image: python:3.12\n",
      "        image: python:3.12\n        resources: {requests: {cpu: 100m}}\n",
    );
    assert.notEqual(burstable, WRITTEN_BY_HAND);
    const [said] = kubernetes((await inject(burstable)).text);
    const own = podSpec(said as Obj).initContainers[0];
    assert.ok(own.resources.limits.cpu);
    assert.ok(own.resources.limits.memory);
  });

  test("stdin that is a non-blocking pipe with a slow writer is read whole", async () => {
    // sh makes its stdin (the pipe) non-blocking for everyone who shares it, then runs iqqq on it.
    const child = spawn(
      "python3",
      [
        "-c",
        "import os,fcntl,sys; fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) | os.O_NONBLOCK); os.execv(sys.argv[1], sys.argv[1:])",
        CLI,
        "inject",
        "--image",
        IMAGE,
      ],
      { env: cliEnv(), stdio: ["pipe", "pipe", "pipe"] },
    );
    const half = Math.floor(WRITTEN_BY_HAND.length / 2);
    const out: Buffer[] = [];
    let err = "";
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const status = new Promise<number | null>((resolve) => child.once("close", resolve));
    child.stdin?.write(WRITTEN_BY_HAND.slice(0, half));
    // The rest comes later: until then iqqq finds the pipe empty (EAGAIN). (Were it to come
    // sooner, the test would pass without exercising that: it cannot fail wrongly.)
    setTimeout(() => child.stdin?.end(WRITTEN_BY_HAND.slice(half)), 300);
    assert.equal(await status, 0, err);
    const whole = await inject(WRITTEN_BY_HAND);
    assert.equal(Buffer.concat(out).toString(), whole.text);
  });

  /** iqqq inject on `input`, its stdout a pipe made non-blocking (as a shell's other user can), the rest to the test. */
  function injectToNonBlockingPipe(input: string) {
    const child = spawn(
      "python3",
      [
        "-c",
        // SIGPIPE back to its default (Python ignores it, and exec keeps that): iqqq must survive a closed pipe itself.
        "import os,fcntl,signal,sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK); os.execv(sys.argv[1], sys.argv[1:])",
        CLI,
        "inject",
        "--image",
        IMAGE,
      ],
      { env: cliEnv(), stdio: ["pipe", "pipe", "pipe"] },
    );
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdin?.end(input);
    const ended = new Promise<{ status: number | null; signal: string | null }>((resolve) =>
      child.once("close", (status, signal) => resolve({ status, signal })),
    );
    return { child, ended, stderr: () => err };
  }

  // A log line may be dropped after 2 s of a full pipe; a command's output never is (runtime/stdio.ts).
  test("stdout a non-blocking pipe whose reader stalls for seconds: the manifests are written whole", async () => {
    const input = jobStream(300); // about 350 KB: several times what a pipe holds
    const { child, ended, stderr } = injectToNonBlockingPipe(input);
    const out: Buffer[] = [];
    child.stdout?.pause();
    // Longer than the 2 s a log line waits: were the output treated as one, it would be cut short.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stdout?.resume();
    const { status } = await ended;
    assert.equal(status, 0, stderr());
    const whole = await inject(input);
    assert.equal(whole.status, 0);
    assert.equal(Buffer.concat(out).toString(), whole.text);
  });

  test("a reader that goes away (EPIPE): exit 74, and iqqq says the output is incomplete", async () => {
    const { child, ended, stderr } = injectToNonBlockingPipe(jobStream(300));
    child.stdout?.once("data", () => child.stdout?.destroy());
    const { status, signal } = await ended;
    assert.deepEqual({ status, signal }, { status: 74, signal: null }, stderr());
    assert.match(stderr(), /^iqqq: error: cannot write to stdout: EPIPE; the output is incomplete$/m);
  });
});
