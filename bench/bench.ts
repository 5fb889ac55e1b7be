// npm run bench: start-up, memory, teardown, watcher and size figures for the
// Node bundle, the compiled executable and (if `go` is installed) a reference
// static Go wrapper. Every subject runs alternately with its baseline in this
// one process; the figures are medians. Prints a Markdown report and writes it
// to docs/benchmarks.md. Never part of `npm test`: timings are not assertions.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { startFakeSidecar } from "../test/support/fake-sidecar.js";
import { benchInject } from "./inject.js";
import {
  alternate,
  cpuTimeMs,
  describeMachine,
  type Env,
  type Memory,
  median,
  memory,
  pairedOverhead,
  postRoundTrip,
  type Subject,
  timeTeardown,
  version,
} from "./measure.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = process.execPath;
const HOST_EXE = `${ROOT}dist/bin/iqqq-linux-${process.arch}`;
const BUNDLE = `${ROOT}dist/iqqq.mjs`;
const GO_REF = `${ROOT}build/bench/goref`;
const BUN_FLOOR = `${ROOT}build/bench/bun-floor`;
const NODE_FLOOR = `${ROOT}bench/floor/node.mjs`;

const STARTUP_ROUNDS = 60;
const RSS_RUNS = 7;
const TEARDOWN_ROUNDS = 20;
const WATCH_RUNS = 3;
const WATCH_CPU_WINDOW_MS = 2000;

interface Budget {
  readonly what: string;
  readonly value: string;
  readonly limit: string;
  readonly pass: boolean;
}
const budgets: Budget[] = [];
const report: string[] = [];
const say = (line = ""): void => {
  report.push(line);
  console.log(line);
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const kib = (bytes: number): string => (bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : mb(bytes));
const verdict = (pass: boolean): string => (pass ? "✅ pass" : "❌ fail");

function table(head: readonly string[], rows: readonly (readonly string[])[]): void {
  say(`| ${head.join(" | ")} |`);
  say(`|${head.map(() => "---").join("|")}|`);
  for (const row of rows) say(`| ${row.join(" | ")} |`);
  say();
}

function buildGoReference(): string | undefined {
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) return undefined;
  const built = spawnSync("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", GO_REF, "."], {
    cwd: `${ROOT}bench/go-ref`,
    stdio: ["ignore", "inherit", "inherit"],
    // Static (no cgo), and never a download: the module has no dependencies.
    env: { ...process.env, CGO_ENABLED: "0", GOPROXY: "off", GOFLAGS: "-mod=mod" },
  });
  return built.status === 0 ? go.stdout.trim().replace(/^go version /, "") : undefined;
}

/** bench/floor/bun.ts, compiled with the executable's own flags. */
function buildBunFloor(): void {
  const built = spawnSync(
    `${ROOT}node_modules/.bin/bun`,
    [
      "build",
      "--compile",
      "--bytecode",
      "--format=esm",
      "--minify",
      `--outfile=${BUN_FLOOR}`,
      `${ROOT}bench/floor/bun.ts`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (built.status !== 0) throw new Error("bench: could not compile bench/floor/bun.ts");
}

const goVersion = buildGoReference();
buildBunFloor();
const bundle: Subject = { name: "bundle (`node dist/iqqq.mjs`)", command: [NODE, BUNDLE] };
const exe: Subject = { name: `executable (\`dist/bin/iqqq-linux-${process.arch}\`)`, command: [HOST_EXE] };
const nodeFloor: Subject = { name: "Node floor (bench/floor/node.mjs)", command: [NODE, NODE_FLOOR] };
const bunFloor: Subject = { name: "Bun floor (bench/floor/bun.ts, compiled)", command: [BUN_FLOOR] };
const subjects: Subject[] = [bundle, exe, nodeFloor, bunFloor];
if (goVersion !== undefined) subjects.push({ name: "Go reference wrapper (static)", command: [GO_REF] });
/** What each of iqqq's builds is set against: the same runtime doing only the job's minimum. */
const floorOf = new Map<Subject, Subject>([
  [bundle, nodeFloor],
  [exe, bunFloor],
]);
const plainEnv: Env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

say("# Benchmarks");
say();
say(
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}; see "Method" below. Do not edit by hand.`,
);
say();
say("## Machine");
say();
for (const line of describeMachine({
  "Bun (compiled executable)": version([`${ROOT}node_modules/.bin/bun`, "--version"]),
  "Go (reference wrapper)": goVersion,
}))
  say(`- ${line}`);
say();

// (1) Start-up: not in Kubernetes, so iqqq only runs the program and exits with its status.
{
  const TRUE = ["true"];
  const NODE_E0 = [NODE, "-e", "0"];
  const commands = [TRUE, NODE_E0, ...subjects.map((s) => [...s.command, "true"])];
  const times = alternate(commands, plainEnv, STARTUP_ROUNDS);
  const base = times[0] as number[];
  const nodeTimes = times[1] as number[];
  const nodeOverhead = pairedOverhead(nodeTimes, base);
  say(`## Start-up: \`X true\` against bare \`true\` (${STARTUP_ROUNDS} alternating rounds)`);
  say();
  const rows = [["bare `true`", ms(median(base)), "–", "1.0×", ""]];
  rows.push(["`node -e 0` (Node's own floor)", ms(median(nodeTimes)), ms(nodeOverhead), ratio(nodeTimes, base), ""]);
  subjects.forEach((s, i) => {
    const t = times[i + 2] as number[];
    const overhead = pairedOverhead(t, base);
    const floor = floorOf.get(s);
    let note =
      floor === undefined
        ? ""
        : `${ms(pairedOverhead(t, times[subjects.indexOf(floor) + 2] as number[]))} beyond its floor`;
    if (s === bundle || s === nodeFloor)
      note = [`${ms(pairedOverhead(t, nodeTimes))} beyond \`node -e 0\``, note].filter(Boolean).join("; ");
    if (s === bundle) {
      const beyondNode = pairedOverhead(t, nodeTimes);
      budgets.push({
        what: "bundle start-up beyond `node -e 0`",
        value: ms(beyondNode),
        limit: "≤ 12 ms",
        pass: beyondNode <= 12,
      });
    }
    if (s === exe)
      budgets.push({
        what: "executable start-up overhead over bare `true`",
        value: ms(overhead),
        limit: "≤ 8 ms",
        pass: overhead <= 8,
      });
    rows.push([`\`${s.name.replace(/`/g, "")} true\``, ms(median(t)), ms(overhead), ratio(t, base), note]);
  });
  table(["command", "median", "overhead vs `true`", "ratio", "note"], rows);
}

function ratio(a: readonly number[], b: readonly number[]): string {
  return `${(median(a) / median(b)).toFixed(1)}×`;
}

// (2) Peak RSS, and (3) teardown, against a live fake pilot-agent.
{
  let watchedPid = 0;
  let seen: Memory = { peak: 0, anonymous: 0 };
  let onQuit: (() => void) | undefined;
  const sidecar = await startFakeSidecar({
    stayAfterQuit: true,
    onRequest: () => {
      // The wrapper is waiting for this answer: everything but its exit has happened.
      if (watchedPid !== 0) seen = memory(watchedPid);
      onQuit?.();
    },
  });
  const k8sEnv: Env = { ...plainEnv, KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port) };

  const rss = new Map<Subject, Memory>();
  for (const s of subjects) {
    const peaks: number[] = [];
    const anonymous: number[] = [];
    for (let i = 0; i < RSS_RUNS; i++) {
      seen = { peak: 0, anonymous: 0 };
      const child = spawn(s.command[0] as string, [...s.command.slice(1), "true"], { stdio: "ignore", env: k8sEnv });
      watchedPid = child.pid ?? 0;
      await new Promise((resolve) => child.once("exit", resolve));
      watchedPid = 0;
      peaks.push(seen.peak);
      anonymous.push(seen.anonymous);
    }
    rss.set(s, { peak: median(peaks), anonymous: median(anonymous) });
  }
  const nodeSelf = Number(
    version([
      NODE,
      "-e",
      "process.stdout.write(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])",
    ]),
  );
  say(`## Memory: \`X true\` with a live sidecar, at the stop request (median of ${RSS_RUNS})`);
  say();
  say(
    "Peak RSS counts the runtime's file-backed pages (the executable's code, shared with every other copy of it); anonymous RSS is the memory the process itself allocated.",
  );
  say();
  const rssRows = [["`node -e 0` (Node's own floor, at exit)", mb(nodeSelf * 1024), "–"]];
  for (const s of subjects) rssRows.push([s.name, mb(rss.get(s)?.peak ?? 0), mb(rss.get(s)?.anonymous ?? 0)]);
  table(["process", "peak RSS (VmHWM)", "anonymous RSS (RssAnon)"], rssRows);
  const exeRss = rss.get(exe) ?? { peak: Number.NaN, anonymous: Number.NaN };
  budgets.push({ what: "executable peak RSS", value: mb(exeRss.peak), limit: "≤ 32 MB", pass: exeRss.peak <= 32e6 });
  budgets.push({
    what: "executable anonymous RSS",
    value: mb(exeRss.anonymous),
    limit: "≤ 5 MB",
    pass: exeRss.anonymous <= 5e6,
  });

  const teardownRows: string[][] = [];
  const beyondRtt = new Map<Subject, number>();
  for (const s of subjects) {
    const rtt: number[] = [];
    const withSidecar: number[] = [];
    const without: number[] = [];
    for (let r = -2; r < TEARDOWN_ROUNDS; r++) {
      const a = await postRoundTrip(sidecar.port);
      const b = await timeTeardown(s.command, k8sEnv);
      const c = await timeTeardown(s.command, plainEnv);
      if (r < 0) continue;
      rtt.push(a);
      withSidecar.push(b);
      without.push(c);
    }
    const beyond = pairedOverhead(withSidecar, rtt);
    beyondRtt.set(s, beyond);
    teardownRows.push([s.name, ms(median(without)), ms(median(withSidecar)), ms(median(rtt)), ms(beyond)]);
    if (s === bundle || s === exe) {
      const limit = s === bundle ? 10 : 3;
      budgets.push({
        what: `${s === bundle ? "bundle" : "executable"} teardown beyond the HTTP round trip`,
        value: ms(beyond),
        limit: `≤ ${limit} ms`,
        pass: beyond <= limit,
      });
    }
  }
  say(`## Teardown: from the program's last output to the wrapper's exit (${TEARDOWN_ROUNDS} alternating rounds)`);
  say();
  say(
    "The baseline is a bare `POST /quitquitquit` round trip (new connection) from this process to the same fake sidecar.",
  );
  say();
  // Set against its floor, measured in the same rounds' conditions (the floors run after iqqq's builds).
  for (const row of teardownRows) {
    const s = subjects.find((x) => x.name === row[0]) as Subject;
    const floor = floorOf.get(s);
    row.push(
      floor === undefined ? "" : `${ms((beyondRtt.get(s) ?? 0) - (beyondRtt.get(floor) ?? 0))} beyond its floor`,
    );
  }
  table(
    [
      "wrapper",
      "no sidecar (not in Kubernetes)",
      "live sidecar",
      "bare HTTP round trip",
      "beyond the round trip",
      "note",
    ],
    teardownRows,
  );

  // (4) Watcher mode: detection latency and CPU while watching.
  say("## Watcher: detection latency and CPU while watching");
  say();
  const help = version([HOST_EXE, "--help"]) ?? "";
  if (!help.includes("IQQQ_WATCH_PROCESS")) {
    say("n/a: watcher mode not implemented yet (`--help` does not mention `IQQQ_WATCH_PROCESS`).");
    say();
  } else {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-bench-"));
    const target = join(dir, "iqqq-bench-tgt");
    await copyFile("/bin/sleep", target);
    const rows: string[][] = [];
    for (const s of [bundle, exe]) {
      const latencies: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < WATCH_RUNS; i++) {
        const watcher = spawn(s.command[0] as string, s.command.slice(1), {
          stdio: "ignore",
          env: { ...k8sEnv, IQQQ_WATCH_PROCESS: "iqqq-bench-tgt" },
        });
        const watched = spawn(target, ["60"], { stdio: "ignore" });
        await sleep(1000);
        const before = cpuTimeMs(watcher.pid as number);
        await sleep(WATCH_CPU_WINDOW_MS);
        cpu.push(((cpuTimeMs(watcher.pid as number) - before) / WATCH_CPU_WINDOW_MS) * 100);
        const quit = new Promise<number>((resolve) => {
          onQuit = () => resolve(performance.now());
        });
        const killed = performance.now();
        watched.kill("SIGKILL");
        latencies.push((await quit) - killed);
        onQuit = undefined;
        await new Promise((resolve) => (watcher.exitCode === null ? watcher.once("exit", resolve) : resolve(null)));
      }
      rows.push([s.name, ms(median(latencies)), `${median(cpu).toFixed(2)} %`]);
    }
    await rm(dir, { recursive: true, force: true });
    table(["watcher", "exit → stop request (median)", "CPU while watching (one core)"], rows);
  }
  await sidecar.close();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// (5) Artefact sizes.
{
  // The bundle, then the files beside it that it loads on demand (in the npm package too).
  const files = [BUNDLE];
  for (const folder of ["commands", "vendor"])
    if (existsSync(`${ROOT}dist/${folder}`))
      for (const name of readdirSync(`${ROOT}dist/${folder}`).sort()) files.push(`${ROOT}dist/${folder}/${name}`);
  if (existsSync(`${ROOT}dist/bin`))
    for (const name of readdirSync(`${ROOT}dist/bin`).sort())
      if (name.startsWith("iqqq-")) files.push(`${ROOT}dist/bin/${name}`);
  if (goVersion !== undefined) files.push(GO_REF);
  const rows = files.map((file) => {
    const raw = statSync(file).size;
    const gz = gzipSync(readFileSync(file), { level: 6 }).length;
    return [`\`${file.slice(ROOT.length)}\``, kib(raw), kib(gz)];
  });
  say("## Artefact sizes");
  say();
  table(["artefact", "raw", "gzip -6"], rows);
  const size = statSync(BUNDLE).size;
  budgets.push({ what: "bundle size", value: kib(size), limit: "≤ 64 KiB", pass: size <= 64 * 1024 });
}

// (6) iqqq inject at scale: bench/inject.ts.
budgets.push(...benchInject({ say, table }));

say("## Budgets");
say();
table(
  ["budget", "measured", "limit", "verdict"],
  budgets.map((b) => [b.what, b.value, b.limit, verdict(b.pass)]),
);

say("## Method");
say();
for (const line of [
  "- Start-up: each round runs `true`, `node -e 0` and every wrapper around `true` once, in an order rotated each round, after two warm-up rounds; no `KUBERNETES_SERVICE_HOST`, so the wrappers stop nothing. Overheads are medians of the per-round differences.",
  "- Memory: `VmHWM` and `RssAnon` from `/proc/PID/status`, read by the fake sidecar when the stop request arrives (the wrapper then waits for the answer, so only its exit is left out).",
  "- Teardown: the wrapped program is `sh -c 'sleep 0.1; printf x'` (a job runs a while, and iqqq loads its HTTP client meanwhile); the time runs from that byte's arrival to the wrapper's exit. Alternates with a bare POST round trip; the last column is the median of per-round differences.",
  "- Watcher: a copy of `sleep` named `iqqq-bench-tgt` is watched; CPU is `utime+stime` over 2 s; latency runs from `SIGKILL` to the stop request.",
  "- The floors (bench/floor) are each runtime doing only the job's minimum: spawn the program, one POST over a new connection, exit with its status; the Bun one is compiled with the executable's flags. \"Beyond its floor\" is what iqqq's own code costs on top of its runtime, on this machine; the absolute budgets were set on a faster one.",
  "- The Go reference wrapper (bench/go-ref) is the floor for a static binary: run, forward signals, one POST, exit. It is not a peer and has none of iqqq's rules.",
  "- Reproduce: `npm ci && npm run bench` (Go from Debian's `golang-go` is optional).",
])
  say(line);

writeFileSync(`${ROOT}docs/benchmarks.md`, `${report.join("\n").trimEnd()}\n`);
console.error("\nwrote docs/benchmarks.md");
