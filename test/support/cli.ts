// Runs the CLI under test as a real process. IQQQ_CLI picks the artefact (the
// Node bundle by default, or a compiled executable); it is exec'd directly, as a
// container runtime would.

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = process.env.IQQQ_CLI ?? `${ROOT}dist/iqqq.mjs`;
/** A compiled (Bun) executable rather than the Node bundle: see docs/install.md for the few runtime differences. */
export const CLI_IS_COMPILED = !/\.[cm]?js$/.test(CLI);
export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
export const NODE = process.execPath;

export interface RunOptions {
  /** Added to a minimal environment (PATH only): the host's variables never leak in. */
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string | Buffer;
  /** The test fails rather than hangs: the process is killed after this long. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** Run this file instead of the CLI under test (e.g. a symlink to it named scuttle). */
  readonly executable?: string;
}

export interface RunResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** When the process ended, Date.now() milliseconds. */
  readonly endedAt: number;
  readonly durationMs: number;
}

export function cliEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", ...extra };
}

export function startCli(args: readonly string[], options: RunOptions = {}): ChildProcess {
  return spawn(options.executable ?? CLI, args, {
    env: cliEnv(options.env),
    cwd: options.cwd ?? ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

export function runCli(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return collect(startCli(args, options), options);
}

export function collect(child: ChildProcess, options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const stdout: Buffer[] = [];
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdin?.on("error", () => {});
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      const endedAt = Date.now();
      resolve({ status, signal, stdout: Buffer.concat(stdout), stderr, endedAt, durationMs: endedAt - started });
    });
  });
}

/** Accumulates a stream's output from now on; until() waits for it to contain a text. */
export function watchOutput(stream: NodeJS.ReadableStream): {
  text(): string;
  until(text: string, timeoutMs?: number): Promise<void>;
} {
  let seen = "";
  const waiters = new Set<() => void>();
  stream.on("data", (chunk: Buffer) => {
    seen += chunk.toString("utf8");
    for (const check of waiters) check();
  });
  return {
    text: () => seen,
    until: (text, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`));
        }, timeoutMs);
        const check = (): void => {
          if (!seen.includes(text)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

/** Resolves once the stream has printed a line containing `text`. */
export function waitForOutput(stream: NodeJS.ReadableStream, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString("utf8");
      if (seen.includes(text)) {
        clearTimeout(timer);
        stream.removeListener("data", onData);
        resolve();
      }
    };
    stream.on("data", onData);
  });
}

/** Runs `count` jobs with at most `width` at once, results in order. */
export async function pool<T>(count: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  return results;
}

/** Output made of NUL-terminated records (printf "%s\0", env -0), split; bytes after the last NUL are dropped. */
export function nulRecords(out: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = out.indexOf(0); i >= 0; i = out.indexOf(0, start)) {
    parts.push(out.subarray(start, i));
    start = i + 1;
  }
  return parts;
}
