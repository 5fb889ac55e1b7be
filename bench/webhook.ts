// npm run bench:webhook: the webhook under load, as the API server calls it.
// A Go client (bench/webhook-load, built here with the machine's Go) POSTs a
// typical labelled pod's AdmissionReview at 64 concurrent requests, with and
// without keep-alive, to the Node bundle and to the Bun executable, in
// alternating rounds, over TLS on loopback. Reports answers per second,
// p50/p99/max latency, answers over 1 s (the API server gives up at 10 s, and
// failurePolicy Ignore then admits the pod uninjected), failures, how many
// later reviews overtook one at most, and the webhook's peak resident memory
// in each phase (and its anonymous part, sampled). The serving key is ECDSA
// P-256, as deploy/cert-manager/certificate.yaml has cert-manager issue it
// (KEY=rsa: RSA 2048, cert-manager's default). Writes docs/webhook-load.md.
// Never part of npm test: timings are not assertions.

import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { collect } from "../test/support/cli.js";
import { buildLoadClient, LOAD_CLIENT as CLIENT } from "../test/support/load-client.js";
import { admissionReview, deployRuntimeEnv, startWebhook } from "../test/support/webhook.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILDS: [string, string][] = [
  ["Node bundle", `${ROOT}dist/iqqq.mjs`],
  ["Bun executable", `${ROOT}dist/bin/iqqq-linux-${process.arch}`],
];
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 8);
const CONCURRENCY = 64;
const KEY = process.env.KEY === "rsa" ? "rsa" : "ec";

interface Phase {
  readonly answered: number;
  readonly failed: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly over1s: number;
  readonly overtaken: number;
  peakMiB: number;
  anonMiB: number;
}

buildLoadClient();
for (const [, cli] of BUILDS) if (!existsSync(cli)) throw new Error(`${cli} is missing: npm run build:binaries`);

const pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "report-x7", namespace: "jobs", labels: { "iqqq.io/inject": "true", "job-name": "report" } },
  spec: {
    restartPolicy: "Never",
    containers: [
      {
        name: "report",
        image: "python:3.12-slim",
        command: ["python", "-c", "print(1)"],
        env: [{ name: "A", value: "1" }],
      },
      { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.0", args: ["proxy", "sidecar"] },
    ],
  },
};
const body = `${ROOT}build/bench/review.json`;
writeFileSync(body, JSON.stringify(admissionReview(pod, "bench")));

const results = new Map<string, Phase[]>();
for (let round = 0; round < ROUNDS; round++)
  for (const [build, cli] of round % 2 === 0 ? BUILDS : [...BUILDS].reverse()) {
    const webhook = await startWebhook({ cli, key: KEY });
    const ca = `${webhook.tls.cert}.ca.pem`;
    writeFileSync(ca, webhook.tls.ca);
    try {
      for (const keepAlive of [true, false]) {
        await connectionsGone(webhook.port);
        await webhook.resetPeak();
        // Not spawnSync: this process must go on reading the webhook's log, or its pipe fills and the webhook waits.
        const client = spawn(
          CLIENT,
          [
            `-url=https://127.0.0.1:${webhook.port}/inject`,
            `-ca=${ca}`,
            `-body=${body}`,
            `-c=${CONCURRENCY}`,
            `-d=${SECONDS}s`,
            `-keepalive=${keepAlive}`,
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        const anon = sampleAnon(webhook.child.pid as number);
        const run = await collect(client, { timeoutMs: (SECONDS + 30) * 1000 });
        if (run.status !== 0) throw new Error(`the load client failed: ${run.stderr}`);
        const phase = JSON.parse(run.stdout.toString()) as Phase;
        phase.peakMiB = (await webhook.peakRss()) / 1024 / 1024;
        phase.anonMiB = (await anon.stop()) / 1024;
        const key = `${build}|${keepAlive ? "keep-alive" : "a new connection per review"}`;
        results.set(key, [...(results.get(key) ?? []), phase]);
        process.stderr.write(`round ${round + 1} ${key}: ${JSON.stringify(phase)}\n`);
      }
    } finally {
      await webhook.stop();
    }
  }

/**
 * Waits (at most 10 s) until the webhook holds no connection of the phase before. A new client
 * reuses loopback ports at once (tcp_tw_reuse), and a SYN to a port whose old connection is still
 * closing on the server's side is answered only when resent, a second later: the Node bundle's
 * first reviews of a phase took 1.1–1.2 s that way, right after hundreds of keep-alive connections
 * closed, and never when the phase ran first.
 */
async function connectionsGone(port: number): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const tables = (await Promise.all(["tcp", "tcp6"].map((t) => readFile(`/proc/net/${t}`, "utf8")))).join("");
    // Columns: sl local_address rem_address st …; 0A is LISTEN, 06 TIME-WAIT (a new SYN gets through that).
    const open = tables.split("\n").filter((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return local?.endsWith(`:${hex}`) && state !== "0A" && state !== "06";
    });
    if (open.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The process's anonymous resident memory (RssAnon, kB), read every 20 ms until stop(): its peak.
 * The rest of the resident memory is mostly the runtime's own code, mapped from its file (clean
 * pages the kernel can drop and read again): 38-39 MiB of either build's 49 MiB when idle, here.
 */
function sampleAnon(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
      peak = Math.max(peak, Number(/RssAnon:\s+(\d+) kB/.exec(status)?.[1] ?? 0));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};
const span = (xs: number[], digits = 0): string =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
const rows = [...results].map(([key, phases]) => {
  const [build, mode] = key.split("|");
  const f = (k: keyof Phase) => phases.map((p) => p[k] as number);
  return `| ${build} | ${mode} | ${span(f("perSecond"))} | ${span(f("p50"), 1)} | ${span(f("p99"), 1)} | ${Math.max(...f("max")).toFixed(0)} | ${f("over1s").reduce((a, b) => a + b, 0)} | ${f("failed").reduce((a, b) => a + b, 0)} | ${Math.max(...f("overtaken"))} | ${Math.max(...f("peakMiB")).toFixed(1)} | ${Math.max(...f("anonMiB")).toFixed(1)} |`;
});
// The budgets, for the image's build (the Bun executable) and reported for the bundle too:
// no review over 1 s, p99 ≤ 100 ms (the worst round's), peak resident memory ≤ 64 MiB.
const budgetRows = [...results].flatMap(([key, phases]) => {
  const [build, mode] = key.split("|");
  const over = phases.reduce((a, p) => a + p.over1s, 0);
  const p99 = Math.max(...phases.map((p) => p.p99));
  const peak = Math.max(...phases.map((p) => p.peakMiB));
  const v = (ok: boolean): string => (ok ? "✅ pass" : "❌ fail");
  return [
    `| ${build}, ${mode}: reviews over 1 s | ${over} | 0 | ${v(over === 0)} |`,
    `| ${build}, ${mode}: p99, worst round | ${p99.toFixed(1)} ms | ≤ 100 ms | ${v(p99 <= 100)} |`,
    `| ${build}, ${mode}: peak resident memory | ${peak.toFixed(1)} MiB | ≤ 64 MiB | ${v(peak <= 64)} |`,
  ];
});
const markdown = `## The webhook under load

\`npm run bench:webhook\`: a Go client POSTs a labelled pod's AdmissionReview
(${CONCURRENCY} at once, ${SECONDS} s per phase, ${ROUNDS} alternating rounds) to
\`iqqq webhook\` over TLS on loopback, as the API server calls it; the pod is
injected (no registry look-up). Each webhook runs with the runtime settings
deploy/core/webhook.yaml gives it (${
  Object.entries(deployRuntimeEnv())
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(", ") || "none"
}). The serving key is ${KEY === "ec" ? "ECDSA P-256, as deploy/cert-manager/certificate.yaml has cert-manager issue it" : "RSA 2048 (cert-manager's default)"}.
Medians, with the range over the rounds; "over 1 s" and "failed" are totals;
"overtaken": the most reviews begun after one and answered before it (near
${CONCURRENCY} when reviews are answered in the order they come); peak memory is
the highest: resident (VmHWM), much of it the runtime's own code mapped from
its file, and anonymous (RssAnon, sampled every 20 ms). Machine:
${availableParallelism()} CPUs (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}; the client shares it.

| build | connections | answers/s | p50 ms | p99 ms | max ms | over 1 s | failed | overtaken | peak MiB | peak anon MiB |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join("\n")}

### Budgets

The image runs the Bun executable; the bundle's are reported beside it.

| budget | measured | limit | verdict |
|---|---|---|---|
${budgetRows.join("\n")}
`;
process.stdout.write(markdown);
writeFileSync(`${ROOT}docs/webhook-load.md`, markdown);
