// Starting the program, one interface over two runtimes. The Bun executable uses
// Bun.spawn: loading node:child_process there costs about 4 ms of start-up, and
// Bun's node:child_process is itself built on Bun.spawn. The Node bundle imports
// node:child_process when the program is started. Both inherit stdin, stdout
// and stderr, and report exec's errno (ENOENT, EACCES, ENOEXEC, E2BIG…) as a
// rejection carrying its code.

import type { ProgramResult } from "../exit-status.js";
import { builtin } from "../runtime/builtins.js";

export interface Start {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Its own session and process group (setsid), signalled as a whole. */
  readonly group: boolean;
}

/** How a program that did start ended. */
export type Ended = Extract<ProgramResult, { readonly kind: "exited" | "signaled" }>;

/** A running program. */
export interface Child {
  readonly pid: number;
  /** Sends `signal` to the program; throws (ESRCH) only when it is already gone. */
  kill(signal: NodeJS.Signals): void;
  readonly ended: Promise<Ended>;
}

/** The part of Bun's API used here (the Node build has no bun-types). */
interface BunSpawn {
  spawn(options: {
    cmd: string[];
    /** The program's argv[0], where cmd[0] is the path it was found at. */
    argv0?: string;
    env: NodeJS.ProcessEnv;
    stdio: ["inherit", "inherit", "inherit"];
    detached: boolean;
  }): BunProcess;
}

interface BunProcess {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the program has ended (to 128 + the signal's number when a signal killed it). */
  readonly exited: Promise<number>;
  /** Once ended: its exit code, or null when a signal killed it. */
  readonly exitCode: number | null;
  /** Once ended: the signal's name, as Node's 'exit' event gives it, or null. */
  readonly signalCode: NodeJS.Signals | null;
}

/** Starts the program; rejects with exec's error (an Error with `code`) when it cannot. */
export function spawnProgram(start: Start): Promise<Child> {
  const bun = (globalThis as { Bun?: BunSpawn }).Bun;
  return bun === undefined ? spawnWithNode(start) : Promise.resolve(spawnWithBun(bun, start));
}

function spawnWithBun(bun: BunSpawn, start: Start): Child {
  const here = inEmptyPathEntry(start.file, start.env.PATH);
  // Throws at once when exec fails: Bun forks and execs synchronously.
  const proc = bun.spawn({
    cmd: [here ?? start.file, ...start.args],
    ...(here !== undefined ? { argv0: start.file } : {}),
    env: start.env,
    stdio: ["inherit", "inherit", "inherit"],
    detached: start.group,
  });
  return { pid: proc.pid, kill: (signal) => proc.kill(signal), ended: endOf(proc) };
}

/**
 * execvp(3), and so the Node bundle (and tini), take an empty PATH entry
 * (`:/usr/bin`, `/bin:`, `a::b`) for the working directory; Bun.spawn skips it
 * and calls the program not found. Where the first match for a bare name is in
 * such an entry, its path (`./NAME`); else undefined, Bun's own look-up
 * finding what execvp would. Only a PATH with an empty entry is walked here.
 */
export function inEmptyPathEntry(file: string, path: string | undefined): string | undefined {
  if (path === undefined || file.includes("/")) return undefined;
  if (!(path.startsWith(":") || path.endsWith(":") || path.includes("::"))) return undefined;
  const found = firstExecutable(file, path);
  return found === `./${file}` ? found : undefined;
}

/** The first executable file named `file` along `path`, as execvp(3) walks it: an empty entry is the working directory. */
export function firstExecutable(file: string, path: string): string | undefined {
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${file}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutableFile(path: string): boolean {
  const fs = builtin("node:fs");
  try {
    fs.accessSync(path, fs.constants.X_OK);
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * An async function over Bun's own exited promise, not a new Promise resolved
 * from onExit: JavaScriptCore compiles the Promise constructor from its
 * JavaScript source on first use, about 0.1 ms of every start
 * (runtime/resolvable.ts).
 */
async function endOf(proc: BunProcess): Promise<Ended> {
  // Bun rejects it when waitpid(2) fails, where onExit got no code and no
  // signal: an exit with status 0, as before.
  await proc.exited.catch(() => undefined);
  return proc.signalCode !== null
    ? { kind: "signaled", signal: proc.signalCode }
    : { kind: "exited", code: proc.exitCode ?? 0 };
}

function spawnWithNode(start: Start): Promise<Child> {
  const { spawn } = builtin("node:child_process");
  return new Promise((resolve, reject) => {
    // libuv forks and execs synchronously and reports exec's errno: ENOENT and
    // EACCES arrive as an 'error' event, anything else (ENOEXEC, E2BIG, a NUL
    // in an argument) is thrown here. detached is setsid(2).
    const child = spawn(start.file, start.args, { stdio: "inherit", env: start.env, detached: start.group });
    const ended = new Promise<Ended>((resolveEnded) => {
      child.once("exit", (code, signal) =>
        resolveEnded(signal !== null ? { kind: "signaled", signal } : { kind: "exited", code: code ?? 0 }),
      );
    });
    // 'error' also reports a kill() that failed on a running program; only
    // without a pid is it a failure to start.
    child.on("error", (err) => {
      if (child.pid === undefined) reject(err);
    });
    // A pid means exec succeeded: the program exists and can be signalled now,
    // before the 'spawn' event, which only arrives on the next tick.
    const pid = child.pid;
    if (pid !== undefined)
      resolve({
        pid,
        kill: (signal) => {
          child.kill(signal);
        },
        ended,
      });
  });
}
