// Whose image config inject and the webhook read for a container without a
// command, against a real registry (Debian's docker-registry, its access log
// read) holding two-platform image indexes: by default the pod's node
// architecture when its nodeSelector names one (kubernetes.io/arch), else both
// linux/amd64 and linux/arm64, which must then agree, or the pod is not
// injected, with a reason naming both; an explicit --platform wins over the
// pod.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { runCli } from "../support/cli.js";
import type { Obj } from "../support/read-back.js";
import { hasRegistry, type RealRegistry, startRegistry } from "../support/real-registry.js";
import { startWebhook, type Webhook } from "../support/webhook.js";

const skip = hasRegistry ? false : "needs docker-registry (Debian's package; .ci/run installs it)";
const IQQQ = "/opt/iqqq/iqqq";

function pod(image: string, arch?: string, affinity?: Obj): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels: { "iqqq.io/inject": "true" } },
    spec: {
      restartPolicy: "Never",
      ...(arch === undefined ? {} : { nodeSelector: { "kubernetes.io/arch": arch } }),
      ...(affinity === undefined ? {} : { affinity: { nodeAffinity: affinity } }),
      containers: [{ name: "job", image }],
    },
  };
}

async function inject(doc: Obj, args: readonly string[] = []) {
  const r = await runCli(["inject", "--image", "registry.example/iqqq:1.0", ...args], {
    input: JSON.stringify(doc),
    timeoutMs: 30_000,
  });
  const out = r.status === 0 ? (parseAllDocuments(r.stdout.toString())[0]?.toJS() as Obj) : undefined;
  const job = (out?.spec.containers as Obj[] | undefined)?.find((c) => c.name === "job");
  return { ...r, command: job === undefined ? undefined : { command: job.command, args: job.args } };
}

describe("the platform whose ENTRYPOINT is read: the pod's node architecture, else both", { skip }, () => {
  let registry: RealRegistry;
  let webhook: Webhook;
  /** Each platform's manifest digest, of the index whose platforms agree and of the one whose differ. */
  let agree: Record<string, string>;
  let differ: Record<string, string>;
  let same = "";
  let split = "";

  before(async () => {
    registry = await startRegistry();
    agree = await registry.pushIndex("jobs/same", "1", {
      amd64: { entrypoint: ["/bin/report"], cmd: ["--all"] },
      arm64: { entrypoint: ["/bin/report"], cmd: ["--all"] },
    });
    differ = await registry.pushIndex("jobs/split", "1", {
      amd64: { entrypoint: ["/bin/report-amd64"], cmd: ["--all"] },
      arm64: { entrypoint: ["/bin/report-arm64"], cmd: ["--all"] },
    });
    same = `${registry.host}/jobs/same:1`;
    split = `${registry.host}/jobs/split:1`;
    webhook = await startWebhook({ args: ["--allow-registry", "127.0.0.1"] });
  });
  after(async () => {
    await webhook?.stop();
    registry?.stop();
  });

  /** The platform manifests (by digest) the registry served since `since` requests. */
  const served = async (since: number, digests: Record<string, string>): Promise<string[]> =>
    (await registry.requests())
      .slice(since)
      .flatMap((line) =>
        Object.entries(digests)
          .filter(([, digest]) => line.includes(`"GET /v2/jobs/`) && line.includes(`/manifests/${digest}`))
          .map(([arch]) => arch),
      )
      .sort();
  const count = async (): Promise<number> => (await registry.requests()).length;

  test("inject: no --platform and no nodeSelector: both platforms are read; they agree, so that is the command", async () => {
    const since = await count();
    const r = await inject(pod(same));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.command, { command: [IQQQ, "/bin/report"], args: ["--all"] });
    assert.deepEqual(await served(since, agree), ["amd64", "arm64"]);
  });

  test("inject: both read and they differ: refused, naming both platforms and the ways out", async () => {
    const r = await inject(pod(split));
    assert.equal(r.status, 65);
    assert.equal(r.stdout.toString(), "");
    assert.match(
      r.stderr,
      /container job has no command, and its image 127\.0\.0\.1:\d+\/jobs\/split:1 runs another ENTRYPOINT or CMD on linux\/amd64 than on linux\/arm64; the pod does not say which its nodes are \(nodeSelector, or required node affinity, on kubernetes\.io\/arch\), so iqqq does not guess: give the container a command, or the pod a nodeSelector kubernetes\.io\/arch, or iqqq --platform/,
    );
  });

  test("inject: the pod's nodeSelector kubernetes.io/arch says which, and only that platform is read", async () => {
    const since = await count();
    const r = await inject(pod(split, "arm64"));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.command, { command: [IQQQ, "/bin/report-arm64"], args: ["--all"] });
    assert.deepEqual(await served(since, differ), ["arm64"]);
    const amd = await inject(pod(split, "amd64"));
    assert.deepEqual(amd.command, { command: [IQQQ, "/bin/report-amd64"], args: ["--all"] });
  });

  test("inject: the pod's required node affinity on kubernetes.io/arch narrows it as the scheduler would; a preferred one does not", async () => {
    const arch = (operator: string, values?: string[]) => ({
      key: "kubernetes.io/arch",
      operator,
      ...(values === undefined ? {} : { values }),
    });
    const required = (...terms: Obj[][]) => ({
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: terms.map((matchExpressions) => ({ matchExpressions })),
      },
    });
    const zone = { key: "topology.kubernetes.io/zone", operator: "In", values: ["a"] };
    const cases: [Obj, string[] | "both"][] = [
      [required([arch("In", ["arm64"])]), ["arm64"]],
      [required([zone, arch("In", ["amd64", "s390x"])]), ["amd64"]],
      [required([arch("NotIn", ["amd64"])]), ["arm64"]],
      // Any one term will do: the pod may land on either.
      [required([arch("In", ["arm64"])], [arch("In", ["amd64"])]), "both"],
      // A term that does not narrow the architecture lets the pod land anywhere.
      [required([arch("In", ["arm64"])], [zone]), "both"],
      [required([arch("Exists")]), "both"],
      // An empty term matches no node; Gt and Lt want numbers, which no architecture is.
      [required([arch("In", ["arm64"])], []), ["arm64"]],
      [required([arch("In", ["arm64"])], [arch("Gt", ["1"])]), ["arm64"]],
      [
        {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 1, preference: { matchExpressions: [arch("In", ["arm64"])] } },
          ],
        },
        "both",
      ],
    ];
    for (const [affinity, want] of cases) {
      const since = await count();
      const r = await inject(pod(split, undefined, affinity));
      if (want === "both") {
        assert.equal(r.status, 65, JSON.stringify(affinity));
        assert.match(r.stderr, /runs another ENTRYPOINT or CMD on linux\/amd64 than on linux\/arm64/);
        continue;
      }
      assert.equal(r.status, 0, `${JSON.stringify(affinity)}: ${r.stderr}`);
      assert.deepEqual(r.command, { command: [IQQQ, `/bin/report-${want[0]}`], args: ["--all"] });
      assert.deepEqual(await served(since, differ), want, JSON.stringify(affinity));
    }
    const bad = await inject(pod(split, undefined, required([arch("In", ["arm64; rm"])])));
    assert.equal(bad.status, 65);
    assert.match(bad.stderr, /its node affinity on kubernetes\.io\/arch "arm64; rm" is not an architecture/);
  });

  test("inject: an explicit --platform wins over the pod's nodeSelector", async () => {
    const r = await inject(pod(split, "arm64"), ["--platform", "linux/amd64"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.command, { command: [IQQQ, "/bin/report-amd64"], args: ["--all"] });
  });

  test("inject: an index of one of the two platforms: that one is read, as the pod can only run there", async () => {
    await registry.pushIndex("jobs/only", "1", { arm64: { entrypoint: ["/bin/only-arm64"], cmd: [] } });
    const r = await inject(pod(`${registry.host}/jobs/only:1`));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.command, { command: [IQQQ, "/bin/only-arm64"], args: [] });
  });

  test("inject: a nodeSelector architecture the index lacks, or that is no architecture, says so", async () => {
    const missing = await inject(pod(split, "s390x"));
    assert.equal(missing.status, 65);
    assert.match(missing.stderr, /jobs\/split:1 has no image for linux\/s390x/);
    const bad = await inject(pod(split, "arm64; rm"));
    assert.equal(bad.status, 65);
    assert.match(bad.stderr, /its nodeSelector kubernetes\.io\/arch "arm64; rm" is not an architecture/);
  });

  test("webhook: the same rules; a pod whose platforms differ is let through, not injected, with the reason", async () => {
    const patched = async (doc: Obj): Promise<unknown> => {
      const response = await webhook.review(doc);
      assert.equal(response.patchType, "JSONPatch", JSON.stringify(response));
      const ops = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString()) as Obj[];
      const containers = ops.find((o) => o.path === "/spec/containers")?.value as Obj[];
      const job = containers.find((c) => c.name === "job") as Obj;
      return { command: job.command, args: job.args };
    };
    assert.deepEqual(await patched(pod(same)), { command: [IQQQ, "/bin/report"], args: ["--all"] });
    assert.deepEqual(await patched(pod(split, "arm64")), { command: [IQQQ, "/bin/report-arm64"], args: ["--all"] });
    const refused = await webhook.review(pod(split));
    assert.equal(refused.allowed, true);
    const why = /runs another ENTRYPOINT or CMD on linux\/amd64 than on linux\/arm64/;
    assert.match(refused.warnings?.[0] ?? "", /not injected/);
    assert.match(refused.warnings?.[0] ?? "", why);
    // Only the reason is written onto the pod (an annotation); its containers are left as they are.
    const ops = JSON.parse(Buffer.from(refused.patch ?? "", "base64").toString()) as Obj[];
    assert.deepEqual(
      ops.map((o) => o.path),
      ["/metadata/annotations"],
    );
    assert.match(ops[0]?.value["iqqq.io/not-injected"], why);
  });
});
