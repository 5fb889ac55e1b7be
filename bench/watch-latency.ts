// The watcher's detection latency and CPU cost, measured on watchProcess()
// itself (no CLI, so it runs before watcher mode is wired into main, and
// without the noise of process start-up):
//
//   latency   from SIGKILL of the watched process to watchProcess() resolving;
//   cpu       CPU time of this process while watching a live process and while
//             waiting for one that has not appeared, as % of one core.
//
// Medians (and the worst) over `runs`. Timings are figures, never assertions.
//
//   node build/bench/watch-latency.js [runs]

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { createLogger } from "../src/log.js";
import { listPids } from "../src/proc/read.js";
import { DEFAULT_WATCH_INTERVAL_MS, watchProcess } from "../src/watch/watch.js";

export interface WatchLatencyOptions {
  readonly runs?: number;
  readonly intervalMs?: number;
  /** How long each CPU sample watches. */
  readonly cpuWindowMs?: number;
}

export interface WatchLatencyReport {
  readonly runs: number;
  readonly intervalMs: number;
  /** Processes visible in /proc: what one scan reads. */
  readonly processes: number;
  readonly latencyMs: { readonly median: number; readonly max: number };
  /** % of one core. */
  readonly cpuWatchingPercent: { readonly median: number; readonly max: number };
  readonly cpuWaitingPercent: { readonly median: number; readonly max: number };
}

export async function measureWatchLatency(options: WatchLatencyOptions = {}): Promise<WatchLatencyReport> {
  const runs = options.runs ?? 10;
  const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const cpuWindowMs = options.cpuWindowMs ?? 1000;
  const dir = await mkdtemp(join(tmpdir(), "iqqq-watch-bench-"));
  const log = createLogger("silent", () => {});
  const latency: number[] = [];
  const watching: number[] = [];
  const waiting: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const name = `iqb${randomBytes(4).toString("hex")}`;
      const file = join(dir, name);
      await copyFile("/bin/sleep", file);

      // Waiting: nothing with that name exists yet.
      const waitAbort = new AbortController();
      const waited = watchProcess({ name, intervalMs }, log, waitAbort.signal);
      waiting.push(await cpuPercent(cpuWindowMs));
      waitAbort.abort();
      await waited;

      // Watching: the process runs, then is killed; the end is timed from the kill.
      const child = await start(file);
      const watched = watchProcess({ name, intervalMs }, log, new AbortController().signal);
      await sleep(intervalMs * 2); // found by now
      watching.push(await cpuPercent(cpuWindowMs));
      // Spread the kill over the polling phase, as real ends are.
      await sleep(Math.random() * intervalMs);
      const killedAt = performance.now();
      child.kill("SIGKILL");
      const result = await watched;
      latency.push(performance.now() - killedAt);
      if (result.kind !== "ended") throw new Error(`watch ended as ${result.kind}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    runs,
    intervalMs,
    processes: listPids("/proc").length,
    latencyMs: stats(latency),
    cpuWatchingPercent: stats(watching),
    cpuWaitingPercent: stats(waiting),
  };
}

async function start(file: string): Promise<ChildProcess> {
  const child = spawn(file, ["60"], { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return child;
}

async function cpuPercent(windowMs: number): Promise<number> {
  const before = process.cpuUsage();
  await sleep(windowMs);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) / 1000 / windowMs) * 100;
}

function stats(values: readonly number[]): { median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  const round = (n: number): number => Math.round(n * 100) / 100;
  return { median: round(median), max: round(sorted[sorted.length - 1] ?? 0) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const report = await measureWatchLatency({ runs: Number(process.argv[2] ?? 10) });
  process.stdout.write(
    [
      `watcher (watchProcess, interval ${report.intervalMs} ms, ${report.processes} processes in /proc, ${report.runs} runs)`,
      `  end noticed after the kill: median ${report.latencyMs.median} ms, worst ${report.latencyMs.max} ms`,
      `  CPU while watching:         median ${report.cpuWatchingPercent.median} %, worst ${report.cpuWatchingPercent.max} % of one core`,
      `  CPU while waiting:          median ${report.cpuWaitingPercent.median} %, worst ${report.cpuWaitingPercent.max} % of one core`,
      "",
    ].join("\n"),
  );
}
