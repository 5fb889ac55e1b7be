// Runs the wrapped program with iqqq's stdin, stdout and stderr, and reports how it ended.

import type { Program } from "../config/config.js";
import type { ProgramResult } from "../exit-status.js";
import type { Logger } from "../log.js";
import { builtin } from "../runtime/builtins.js";
import {
  type AlteredEnv,
  alteredEnv,
  alteredWords,
  envProgram,
  fragileEnv,
  type Launch,
  launcherArgs,
  SHELL,
  shellAvailable,
  type Word,
} from "./bytes.js";
import type { SignalRelay } from "./signals.js";
import { firstExecutable, isExecutableFile, type Start, spawnProgram } from "./spawn.js";

export function runProgram(program: Program, relay: SignalRelay, log: Logger): Promise<ProgramResult> {
  const words = [program.file, ...program.args];
  const rawWords = alteredWords(words);
  const rawEnv = alteredEnv(process.env);
  const reasons: string[] = [];
  if (rawWords !== undefined) reasons.push("an argument is not valid UTF-8");
  if (rawEnv !== undefined && rawEnv.raw.length > 0)
    reasons.push(`the value of ${rawEnv.raw.map(([name]) => name).join(", ")} is not valid UTF-8`);
  // Variables sh cannot export: passed raw through sh and env(1) where the image has sh, else altered.
  let unpassable = rawEnv?.unpassable ?? [];
  if (unpassable.length > 0 && !shellAvailable()) {
    for (const [name] of unpassable)
      log.warn(
        `the variable ${JSON.stringify(name)} is not valid UTF-8, and without ${SHELL} the program gets it altered`,
      );
    unpassable = [];
  }
  if (unpassable.length > 0)
    reasons.push(`the variable ${unpassable.map(([name]) => name).join(", ")} is not valid UTF-8`);
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
    return run(throughShell(launch, unpassable, group, log), program.file, relay, log);
  }
  return run(direct, program.file, relay, log, () => {
    // exec(2) refuses a script without "#!" (ENOEXEC); execvp(3), and so the
    // Node bundle, then runs it with /bin/sh. The Bun executable does not.
    if (!shellAvailable()) return undefined;
    log.debug(`${JSON.stringify(program.file)} has no #! line: running it with ${SHELL}, as execvp(3) does`);
    return throughShell(launch, unpassable, group, log);
  });
}

/**
 * sh -c LAUNCHER: the environment without the variables sh exports raw, and
 * without PWD added (bash as sh adds SHLVL too, which no unset removes). What sh would not pass on as it is (a
 * variable whose name is no shell name, one sh makes its own: fragileEnv, and
 * `unpassable` raw ones) is set again by env(1) before the program:
 * `exec env -- NAME=VALUE… PROGRAM ARGS…`. An image without env(1), or a
 * program whose name env(1) would take for a variable (it has `=`), gets them
 * as sh leaves them, with a warning naming them.
 */
function throughShell(launch: Launch, unpassable: AlteredEnv["unpassable"], group: boolean, log: Logger): Start {
  const env = { ...process.env };
  for (const [name] of [...launch.exports, ...unpassable]) delete env[name];
  const unset = process.env.PWD === undefined ? ["PWD"] : [];
  const fragile = fragileEnv(env);
  const again: Word[] = [...fragile.map((name) => `${name}=${env[name]}`), ...unpassable.map(([, entry]) => entry)];
  let words = launch.words;
  if (again.length > 0) {
    const envPath = envProgram();
    const file = words[0];
    if (envPath !== undefined && !(typeof file === "string" ? file : (file?.toString("latin1") ?? "")).includes("="))
      words = [envPath, "--", ...again, ...words];
    else {
      const names = [...fragile, ...unpassable.map(([name]) => name)].map((n) => JSON.stringify(n));
      const why =
        envPath === undefined ? "the image has no env(1)" : "env(1) would take the program's name for a variable";
      log.warn(
        `${SHELL}, which starts the program here, does not pass on ${names.join(", ")} as they are, and ${why} to set them again: the program may get them altered, or not at all`,
      );
    }
  }
  return { file: SHELL, args: launcherArgs({ ...launch, words, unset }), env, group };
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
    if (retry !== undefined) return run(retry, file, relay, log);
    return spawnFailure(file, err as NodeJS.ErrnoException, start.file === SHELL && file !== SHELL);
  }
  log.debug(`started ${JSON.stringify(file)} as pid ${child.pid}${start.group ? ", leading its process group" : ""}`);
  relay.attach(child, start.group);
  const ended = await child.ended;
  relay.detach();
  return ended;
}

/** `viaShell`: the program was to start through sh (program/bytes.ts), its bytes that are not UTF-8 escaped. */
function spawnFailure(file: string, err: NodeJS.ErrnoException, viaShell = false): ProgramResult {
  if (err.code === "E2BIG")
    return {
      kind: "not-executable",
      message: `${JSON.stringify(file)}: cannot execute: E2BIG: its arguments and environment are more than the kernel takes${viaShell ? `, once each byte that is not UTF-8 is escaped as four for ${SHELL}` : ""}`,
    };
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
  const path = firstExecutable(file, process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin");
  if (path !== undefined) return { path };
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
