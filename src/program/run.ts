// Runs the wrapped program with iqqq's stdin, stdout and stderr, and reports how it ended.

import type { Program } from "../config/config.js";
import type { ProgramResult } from "../exit-status.js";
import type { Logger } from "../log.js";
import { builtin } from "../runtime/builtins.js";
import { alteredEnv, alteredWords, type Launch, launcherArgs, SHELL, shellAvailable } from "./bytes.js";
import type { SignalRelay } from "./signals.js";
import { type Start, spawnProgram } from "./spawn.js";

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

async function run(
  start: Start,
  file: string,
  relay: SignalRelay,
  log: Logger,
  onNoExec?: () => Start | undefined,
): Promise<ProgramResult> {
  let child: Awaited<ReturnType<typeof spawnProgram>>;
  try {
    child = await spawnProgram(start);
  } catch (err) {
    const retry = (err as NodeJS.ErrnoException).code === "ENOEXEC" ? onNoExec?.() : undefined;
    return retry !== undefined ? run(retry, file, relay, log) : spawnFailure(file, err as NodeJS.ErrnoException);
  }
  log.debug(`started ${JSON.stringify(file)} as pid ${child.pid}${start.group ? ", leading its process group" : ""}`);
  relay.attach(child, start.group);
  const ended = await child.ended;
  relay.detach();
  return ended;
}

function spawnFailure(file: string, err: NodeJS.ErrnoException): ProgramResult {
  // Bun.spawn looks a bare name up in PATH itself and calls a directory or a
  // file without execute permission "not found"; execvp(3), and so the Node
  // bundle, says EACCES.
  const found = err.code === "ENOENT" && !file.includes("/") ? firstInPath(file) : undefined;
  if (found !== undefined && !isExecutableFile(found)) err = Object.assign(new Error(err.message), { code: "EACCES" });
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

/**
 * Where exec would find `file` and whether it could run it, without running
 * it (for --explain): the path, or the status the run would exit with (127 not
 * found, 126 not executable) and why.
 */
export function locate(file: string): { readonly path: string } | { readonly status: 126 | 127; readonly why: string } {
  if (file.includes("/")) {
    if (isExecutableFile(file)) return { path: file };
    const exists = builtin("node:fs").existsSync(file);
    return exists
      ? { status: 126, why: isDirectory(file) ? "a directory, not a program" : "not executable" }
      : { status: 127, why: "no such file" };
  }
  for (const dir of (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const path = `${dir || "."}/${file}`;
    if (isExecutableFile(path)) return { path };
  }
  return firstInPath(file) !== undefined
    ? { status: 126, why: `not executable where PATH has it (${firstInPath(file)})` }
    : { status: 127, why: `not found in PATH (${process.env.PATH ?? ""})` };
}

/** Whether `file`, as exec would find it (PATH for a bare name: the first match), is a directory. */
function isDirectory(file: string): boolean {
  const path = file.includes("/") ? file : firstInPath(file);
  try {
    return path !== undefined && builtin("node:fs").statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isExecutableFile(path: string): boolean {
  const fs = builtin("node:fs");
  try {
    fs.accessSync(path, fs.constants.X_OK);
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first PATH entry holding something named `name`, executable or not. */
function firstInPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const path = `${dir || "."}/${name}`;
    try {
      builtin("node:fs").statSync(path);
      return path;
    } catch {}
  }
  return undefined;
}
