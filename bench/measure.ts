// Measuring tools for bench.ts: timed process runs, paired statistics, peak RSS
// and CPU time from /proc, and a description of the machine.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { cpus, release, totalmem } from "node:os";

export type Env = Record<string, string>;

/** A command to run: the file and its arguments, before the wrapped program's. */
export interface Subject {
  readonly name: string;
  readonly command: readonly string[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Wall time of one run to completion, in ms; the output is discarded. */
export function timeRun(command: readonly string[], env: Env): number {
  const [file, ...args] = command as [string, ...string[]];
  const started = performance.now();
  const result = spawnSync(file, args, { stdio: "ignore", env });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command.join(" ")} exited ${result.status ?? result.signal}`);
  return elapsed;
}

/** A command and the environment it runs in. */
export interface Run {
  readonly command: readonly string[];
  readonly env: Env;
}

/**
 * Runs every command once per round, in an order rotated each round so that
 * none always runs first or after the same neighbour. Returns each one's
 * durations, index-aligned by round (for paired differences).
 */
export function alternate(commands: readonly (readonly string[])[], env: Env, rounds: number): number[][] {
  return alternateRuns(
    commands.map((command) => ({ command, env })),
    rounds,
  );
}

/** alternate(), each command with its own environment. */
export function alternateRuns(runs: readonly Run[], rounds: number): number[][] {
  const times = runs.map(() => new Array<number>(rounds));
  for (let round = -2; round < rounds; round++) {
    for (let k = 0; k < runs.length; k++) {
      const i = (k + Math.max(round, 0)) % runs.length;
      const run = runs[i] as Run;
      const elapsed = timeRun(run.command, run.env);
      // Rounds -2 and -1 warm the page cache and are not kept.
      if (round >= 0) (times[i] as number[])[round] = elapsed;
    }
  }
  return times;
}

/** Median of the per-round differences a[r] - b[r]: the paired overhead of a over b. */
export function pairedOverhead(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, r) => x - (b[r] as number)));
}

/** Median of the per-round ratios a[r] / b[r]. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, r) => x / (b[r] as number)));
}

export interface Memory {
  /** VmHWM: the peak resident set so far. */
  readonly peak: number;
  /** RssAnon: resident memory of the process's own (private, anonymous) pages now, not file-backed. */
  readonly anonymous: number;
}

/** From /proc/PID/status, in bytes (0 if the process has gone). */
export function memory(pid: number): Memory {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {}
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { peak: kib("VmHWM"), anonymous: kib("RssAnon") };
}

/** User + system CPU time a process has used so far, in ms (proc(5) stat fields 14 and 15, at USER_HZ 100). */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One POST over a new connection, as iqqq makes it; resolves with the round trip in ms. */
export function postRoundTrip(port: number, path = "/quitquitquit"): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      method: "POST",
      agent: false,
      headers: { "content-length": 0 },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.end();
  });
}

/**
 * Runs `command sh -c 'sleep 0.1; printf x'` (a job runs a while: long enough
 * for the wrapper to get ready to stop the sidecar) and measures from the program's last output
 * (just before it exits) to the wrapper's own exit, in ms.
 */
export function timeTeardown(command: readonly string[], env: Env): Promise<number> {
  const [file, ...args] = command as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(file, [...args, "sh", "-c", "sleep 0.1; printf x"], {
      stdio: ["ignore", "pipe", "inherit"],
      env,
    });
    let lastOutput: number | undefined;
    child.stdout?.on("data", () => {
      lastOutput = performance.now();
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      const exited = performance.now();
      if (code !== 0 || lastOutput === undefined)
        reject(new Error(`${command.join(" ")}: exit ${code}, output seen: ${lastOutput !== undefined}`));
      else resolve(exited - lastOutput);
    });
  });
}

export function version(command: readonly string[]): string | undefined {
  const [file, ...args] = command as [string, ...string[]];
  const result = spawnSync(file, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export function describeMachine(extra: Readonly<Record<string, string | undefined>>): string[] {
  const cpu = cpus();
  const os = /PRETTY_NAME="([^"]*)"/.exec(readText("/etc/os-release"))?.[1] ?? "unknown";
  const virt = readText("/proc/cpuinfo").includes(" hypervisor") ? ", virtualised" : "";
  const lines = [
    `CPU: ${cpu[0]?.model.trim() ?? "unknown"}, ${cpu.length} cores${virt}`,
    `Memory: ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `OS: ${os}, Linux ${release()}, ${process.arch}`,
    `Node ${process.version}`,
  ];
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) lines.push(`${name} ${value}`);
  return lines;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
