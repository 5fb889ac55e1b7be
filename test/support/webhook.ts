// iqqq webhook as the tests run it: the CLI under test, over real TLS from a
// test CA (tls.ts), optionally in a mount namespace of its own whose
// /etc/resolv.conf names the dns-server fixture on 127.53.0.1 (so that names
// such as registry.test resolve as the test says, on loopback), with its peak
// memory read from /proc.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CLI, cliEnv, collect, FIXTURES, NODE, ROOT, type RunResult, watchOutput } from "./cli.js";
import { makeTls, type Tls } from "./tls.js";

export const WEBHOOK_IMAGE = "registry.example/iqqq:1.0";

/**
 * The webhook container's memory limit in deploy/core/webhook.yaml, in bytes:
 * what its peak is held to. Read from the file itself (no overlay changes it:
 * test/examples/deploy.test.ts checks the rendered one is the same).
 */
export const DEPLOY_WEBHOOK = "deploy/core/webhook.yaml";
export function deployMemoryLimit(): number {
  const docs = parseAllDocuments(readFileSync(join(ROOT, DEPLOY_WEBHOOK), "utf8")).map((d) => d.toJS());
  const deployment = docs.find((d) => d?.kind === "Deployment");
  const limit = String(deployment?.spec?.template?.spec?.containers?.[0]?.resources?.limits?.memory ?? "");
  const m = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (m === null) throw new Error(`${DEPLOY_WEBHOOK}: no memory limit in Mi or Gi (${limit})`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 ** 3 : 1024 ** 2);
}
/**
 * The runtime's settings the webhook container is deployed with (its env's BUN_
 * variables in deploy/core/webhook.yaml): every webhook the tests and
 * npm run bench:webhook start gets them, so what is measured is what is deployed.
 */
export function deployRuntimeEnv(): Record<string, string> {
  const docs = parseAllDocuments(readFileSync(join(ROOT, DEPLOY_WEBHOOK), "utf8")).map((d) => d.toJS());
  const deployment = docs.find((d) => d?.kind === "Deployment");
  const env: { name: string; value?: string }[] = deployment?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  return Object.fromEntries(
    env.filter((e) => e.name.startsWith("BUN_") && e.value !== undefined).map((e) => [e.name, e.value as string]),
  );
}
export const NAMESERVER = "127.53.0.1";

/** Root with unshare and mount: a resolv.conf of the test's own can be put in place. */
export const canResolve = process.getuid?.() === 0 && spawnSync("unshare", ["--mount", "true"]).status === 0;

/** An AdmissionReview's response, as far as the tests read it. */
export interface ReviewResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: string;
  readonly patch?: string;
  readonly warnings?: string[];
}

export interface Webhook {
  readonly port: number;
  readonly tls: Tls;
  readonly child: ChildProcess;
  readonly log: ReturnType<typeof watchOutput>;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }>;
  /** POSTs an AdmissionReview for `pod`, and returns its response. */
  review(pod: unknown, uid?: string): Promise<ReviewResponse>;
  /** Peak resident memory since start (or since resetPeak), in bytes. */
  peakRss(): Promise<number>;
  resetPeak(): Promise<void>;
  stop(): Promise<RunResult>;
}

export interface WebhookOptions {
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** NAME → IPv4 or "silent": answered by a DNS server the webhook alone uses. */
  readonly dns?: Record<string, string>;
  /** resolv.conf's search list, with ndots:5 (as a pod's). */
  readonly search?: readonly string[];
  /** The CLI to run (default: the one under test). */
  readonly cli?: string;
  /** The serving key's kind (tls.ts; default RSA). */
  readonly key?: "rsa" | "ec";
}

export function admissionReview(object: unknown, uid = "0f1e2d3c") {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid, kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: "jobs", object },
  };
}

export function callWebhook(
  port: number,
  ca: Buffer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: a new TLS session each time (a resumed one would skip the certificate).
    const req = request(
      { host: "127.0.0.1", port, method, path, ca, agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body));
  });
}

export async function startWebhook(options: WebhookOptions = {}): Promise<Webhook> {
  const tls = await makeTls([], options.key);
  const cli = options.cli ?? CLI;
  const args = [
    "webhook",
    "--image",
    WEBHOOK_IMAGE,
    "--cert",
    tls.cert,
    "--key",
    tls.key,
    "--port",
    "0",
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  let dns: ChildProcess | undefined;
  if (options.dns !== undefined) {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-resolv-"));
    const search = options.search ?? [];
    await writeFile(
      join(dir, "resolv.conf"),
      `nameserver ${NAMESERVER}\n${search.length > 0 ? `search ${search.join(" ")}\noptions ndots:5\n` : ""}`,
    );
    dns = spawn(
      NODE,
      [
        join(FIXTURES, "dns-server.js"),
        "answer",
        "--bind",
        NAMESERVER,
        ...Object.entries(options.dns).map(([n, a]) => `${n}=${a}`),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await watchOutput(dns.stdout as NodeJS.ReadableStream).until("listening", 10_000);
    // unshare --mount execs the shell, which execs the CLI: one process, the webhook.
    child = spawn(
      "unshare",
      ["--mount", "sh", "-c", `mount --bind "${dir}/resolv.conf" /etc/resolv.conf && exec "$0" "$@"`, cli, ...args],
      { env: cliEnv({ ...deployRuntimeEnv(), ...options.env }), stdio: ["ignore", "pipe", "pipe"] },
    );
  } else
    child = spawn(cli, args, {
      env: cliEnv({ ...deployRuntimeEnv(), ...options.env }),
      stdio: ["ignore", "pipe", "pipe"],
    });
  const log = watchOutput(child.stderr as NodeJS.ReadableStream);
  try {
    await log.until(" injecting ", 20_000);
  } catch (err) {
    child.kill("SIGKILL");
    dns?.kill("SIGKILL");
    throw new Error(`the webhook did not start: ${log.text()}`, { cause: err });
  }
  const port = Number(/serving on port (\d+)/.exec(log.text())?.[1]);
  const call = (method: string, path: string, body?: unknown) => callWebhook(port, tls.ca, method, path, body);
  const status = async (): Promise<string> => readFile(`/proc/${child.pid}/status`, "utf8");
  return {
    port,
    tls,
    child,
    log,
    call,
    async review(pod, uid) {
      const answer = await call("POST", "/inject", admissionReview(pod, uid));
      if (answer.status !== 200) throw new Error(`review answered ${answer.status}: ${answer.text}`);
      return JSON.parse(answer.text).response as ReviewResponse;
    },
    async peakRss() {
      return Number(/VmHWM:\s+(\d+) kB/.exec(await status())?.[1]) * 1024;
    },
    async resetPeak() {
      await writeFile(`/proc/${child.pid}/clear_refs`, "5");
    },
    async stop() {
      const done = collect(child, { timeoutMs: 30_000 });
      child.kill("SIGINT");
      // A second signal ends the drain at once.
      await log.until("/readyz says 503", 10_000).catch(() => {});
      child.kill("SIGINT");
      const r = await done;
      dns?.kill("SIGKILL");
      return r;
    },
  };
}
