// Runs the wrapped program with iqqq's stdin, stdout and stderr, and reports how it ended.

import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import type { Program } from "../config/config.js";
import type { ProgramResult } from "../exit-status.js";
import type { Logger } from "../log.js";
import { alteredEnv, alteredWords, type Launch, launcherArgs, SHELL, shellAvailable } from "./bytes.js";
import type { SignalRelay } from "./signals.js";

interface Start {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Its own session and process group (IQQQ_SIGNAL_GROUP), signalled as a whole. */
  readonly group: boolean;
}

export function runProgram(program: Program, relay: SignalRelay, log: Logger): Promise<ProgramResult> {
  const words = [program.file, ...program.args];
  const rawWords = alteredWords(words);
  const rawEnv = alteredEnv(process.env);
  for (const name of rawEnv?.unpassable ?? [])
    log.warn(
      `the variable ${JSON.stringify(name)} is not valid UTF-8 and not a shell name: the program gets it altered`,
    );
  const reasons: string[] = [];
  if (rawWords !== undefined) reasons.push("an argument is not valid UTF-8");
  if (rawEnv !== undefined && rawEnv.raw.length > 0)
    reasons.push(`the value of ${rawEnv.raw.map(([name]) => name).join(", ")} is not valid UTF-8`);
  if (reasons.length > 0 && !shellAvailable()) {
    return Promise.resolve({
      kind: "not-executable",
      message: `${reasons.join(", and ")}; without ${SHELL} it cannot be passed on byte for byte; nothing was run`,
    });
  }
  const group = program.signalGroup === true;
  const direct: Start = { file: program.file, args: program.args, env: process.env, group };
  const launch: Launch = { words: rawWords ?? words, exports: rawEnv?.raw ?? [], unset: [] };
  if (reasons.length > 0) {
    log.debug(`${reasons.join(", and ")}: starting the program through ${SHELL} to keep its bytes`);
    return run(throughShell(launch, group), program.file, relay, log);
  }
  return run(direct, program.file, relay, log, () => {
    // exec(2) refuses a script without "#!" (ENOEXEC); execvp(3), and so the
    // Node bundle, then runs it with /bin/sh. The Bun executable does not.
    if (!shellAvailable()) return undefined;
    log.debug(`${JSON.stringify(program.file)} has no #! line: running it with ${SHELL}, as execvp(3) does`);
    return throughShell(launch, group);
  });
}

/** sh -c LAUNCHER: the environment without the variables sh exports raw, and without PWD added. */
function throughShell(launch: Launch, group: boolean): Start {
  const env = { ...process.env };
  for (const [name] of launch.exports) delete env[name];
  const unset = process.env.PWD === undefined ? ["PWD"] : [];
  return { file: SHELL, args: launcherArgs({ ...launch, unset }), env, group };
}

function run(
  start: Start,
  file: string,
  relay: SignalRelay,
  log: Logger,
  onNoExec?: () => Start | undefined,
): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      const retry = err.code === "ENOEXEC" ? onNoExec?.() : undefined;
      if (retry !== undefined) resolve(run(retry, file, relay, log));
      else resolve(spawnFailure(file, err));
    };
    let child: ChildProcess;
    try {
      // libuv forks and execs synchronously and reports exec's errno: ENOENT and
      // EACCES arrive as an 'error' event, anything else (ENOEXEC, E2BIG, a NUL
      // in an argument) is thrown here.
      // detached is setsid(2): a new session whose process group the program leads.
      child = spawn(start.file, start.args, { stdio: "inherit", env: start.env, detached: start.group });
    } catch (err) {
      failed(err as NodeJS.ErrnoException);
      return;
    }
    // A pid means exec succeeded: the program exists and can be signalled now,
    // before the 'spawn' event, which only arrives on the next tick.
    if (child.pid !== undefined) {
      log.debug(
        `started ${JSON.stringify(file)} as pid ${child.pid}${start.group ? ", leading its process group" : ""}`,
      );
      relay.attach(child, start.group);
    }
    child.on("error", (err: NodeJS.ErrnoException) => {
      // 'error' also reports a kill() that failed on a running program; only
      // without a pid is it a failure to start.
      if (child.pid === undefined) failed(err);
      else log.debug(`program error: ${err.message}`);
    });
    child.once("exit", (code, signal) => {
      relay.detach();
      resolve(signal !== null ? { kind: "signaled", signal } : { kind: "exited", code: code ?? 0 });
    });
  });
}

function spawnFailure(file: string, err: NodeJS.ErrnoException): ProgramResult {
  if (err.code === "ENOENT") {
    return {
      kind: "not-found",
      message: file.includes("/")
        ? `${JSON.stringify(file)}: no such file`
        : `${JSON.stringify(file)}: command not found in PATH`,
    };
  }
  if (err.code === "EACCES" && isDirectory(file)) {
    return { kind: "not-executable", message: `${JSON.stringify(file)}: is a directory, not a program` };
  }
  const reason = err.code === "EACCES" ? "permission denied (not executable?)" : (err.code ?? err.message);
  return { kind: "not-executable", message: `${JSON.stringify(file)}: cannot execute: ${reason}` };
}

/** Whether `file`, as exec would find it (PATH for a bare name: the first match), is a directory. */
function isDirectory(file: string): boolean {
  const candidates = file.includes("/")
    ? [file]
    : (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":").map((dir) => `${dir || "."}/${file}`);
  for (const path of candidates) {
    try {
      return statSync(path).isDirectory();
    } catch {}
  }
  return false;
}
