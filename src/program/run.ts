// Runs the wrapped program with iqqq's stdin, stdout and stderr, and reports how it ended.

import { type ChildProcess, spawn } from "node:child_process";
import type { Program } from "../config/config.js";
import type { ProgramResult } from "../exit-status.js";
import type { Logger } from "../log.js";
import { alteredWords, execScript, SHELL, shellAvailable } from "./bytes.js";
import type { SignalRelay } from "./signals.js";

export function runProgram(program: Program, relay: SignalRelay, log: Logger): Promise<ProgramResult> {
  const raw = alteredWords([program.file, ...program.args]);
  if (raw !== undefined && !shellAvailable()) {
    return Promise.resolve({
      kind: "not-executable",
      message: `an argument is not valid UTF-8, and without ${SHELL} it cannot be passed on byte for byte; nothing was run`,
    });
  }
  if (raw !== undefined)
    log.debug(`an argument is not valid UTF-8: starting the program through ${SHELL} to keep its bytes`);
  const [file, args] = raw === undefined ? [program.file, program.args] : [SHELL, ["-c", execScript(raw)]];
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      // libuv forks and execs synchronously and reports exec's errno: ENOENT and
      // EACCES arrive as an 'error' event, anything else (ENOEXEC, E2BIG, a NUL
      // in an argument) is thrown here.
      child = spawn(file, args, { stdio: "inherit" });
    } catch (err) {
      resolve(spawnFailure(program.file, err as NodeJS.ErrnoException));
      return;
    }
    // A pid means exec succeeded: the program exists and can be signalled now,
    // before the 'spawn' event, which only arrives on the next tick.
    if (child.pid !== undefined) {
      log.debug(`started ${JSON.stringify(program.file)} as pid ${child.pid}`);
      relay.attach(child);
    }
    child.on("error", (err: NodeJS.ErrnoException) => {
      // 'error' also reports a kill() that failed on a running program; only
      // without a pid is it a failure to start.
      if (child.pid === undefined) resolve(spawnFailure(program.file, err));
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
  const reason = err.code === "EACCES" ? "permission denied (not executable?)" : (err.code ?? err.message);
  return { kind: "not-executable", message: `${JSON.stringify(file)}: cannot execute: ${reason}` };
}
