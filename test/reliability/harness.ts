// Shared by the reliability tests: watching a running CLI's output, and the
// signal sweep (every signal 1-64 sent to iqqq while it wraps a program).

import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { constants } from "node:os";
import { collect, FIXTURES, NODE, type RunResult } from "../support/cli.js";

export const printSignals = (...args: string[]): string[] => [NODE, `${FIXTURES}print-signals.js`, ...args];

export interface Watched {
  readonly child: ChildProcess;
  readonly result: Promise<RunResult>;
  /** stdout so far. */
  out(): string;
  /** Resolves once stdout contains `text`; rejects after timeoutMs. */
  until(text: string, timeoutMs?: number): Promise<void>;
  /** Whether the process has ended. */
  ended(): boolean;
}

export function watch(child: ChildProcess, timeoutMs = 30_000): Watched {
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  let done = false;
  const result = collect(child, { timeoutMs }).finally(() => {
    done = true;
  });
  return {
    child,
    result,
    out: () => out,
    ended: () => done || child.exitCode !== null || child.signalCode !== null,
    until: (text, ms = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          if (out.includes(text)) {
            clearInterval(poll);
            resolve();
          } else if (Date.now() - started > ms || done) {
            clearInterval(poll);
            reject(new Error(`no ${JSON.stringify(text)} in ${JSON.stringify(out)}`));
          }
        }, 5);
      }),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `done()` holds; throws after timeoutMs, so that a test fails rather than hangs. */
export async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The children of a process, from /proc (every thread's list). */
export function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** The one-letter state of a process (R, S, T, Z…), or undefined once it is gone. */
export function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

export function signalName(n: number): string {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `SIG${n}`;
}

/** What a signal sent to iqqq did. */
export type SweepOutcome = "forwarded" | "ignored" | "stopped iqqq" | "killed iqqq";

export interface SweepRow {
  readonly signal: number;
  readonly name: string;
  readonly outcome: SweepOutcome;
  /** iqqq's exit status once ended with the program's own exit (42), or how it died. */
  readonly status: number | null;
}

/**
 * Sends signal `n` to a running iqqq that wraps print-signals (which exits 42
 * on SIGUSR2), and reports what happened. `start` runs iqqq and returns it with
 * the pid to signal (iqqq itself, found inside a wrapper such as unshare).
 */
export async function sweepOne(n: number, start: () => { watched: Watched; target: () => number }): Promise<SweepRow> {
  const { watched, target } = start();
  await watched.until("ready\n");
  const pid = target();
  const orphans = childrenOf(pid).flatMap((c) => [c, ...childrenOf(c)]);
  process.kill(pid, n);
  await sleep(250);
  const name = signalName(n);
  let outcome: SweepOutcome;
  // SIGUSR2 is forwarded and ends the run. A dead iqqq may still be a zombie
  // whose exit this process has not seen yet: "Z" counts as dead.
  const alive = (): boolean => !watched.ended() && ![undefined, "Z"].includes(stateOf(pid));
  if (watched.out().includes(`signal ${name}\n`)) outcome = "forwarded";
  else if (!alive()) outcome = "killed iqqq";
  else if (stateOf(pid) === "T") outcome = "stopped iqqq";
  else outcome = "ignored";
  try {
    if (outcome === "stopped iqqq") process.kill(pid, "SIGCONT");
    if (alive()) process.kill(pid, "SIGUSR2");
  } catch {}
  await until(() => !alive(), `pid ${pid} to exit`, 20_000).catch(() => process.kill(pid, "SIGKILL"));
  // A dead iqqq leaves its program running, holding the output pipes open: end it.
  for (const orphan of orphans) {
    try {
      if (readFileSync(`/proc/${orphan}/cmdline`, "utf8").includes("print-signals")) process.kill(orphan, "SIGKILL");
    } catch {}
  }
  const r = await watched.result;
  return { signal: n, name, outcome, status: r.status };
}

/** Signals 1-64 except SIGKILL and SIGSTOP, which nothing can catch. */
export const SWEEP: readonly number[] = Array.from({ length: 64 }, (_, i) => i + 1).filter(
  (n) => n !== constants.signals.SIGKILL && n !== constants.signals.SIGSTOP,
);
