// Which processes the watcher waits for. Pure: the table tests feed it comm and
// argv as /proc shows them.

import { ValueError } from "../config/values.js";
import type { Pattern } from "./pattern.js";

/** At least one of name and pattern; with both, a process must match both. */
export interface ProcessQuery {
  /** IQQQ_WATCH_PROCESS: the kernel comm, or the basename of argv[0]. */
  readonly name?: string | undefined;
  /** IQQQ_WATCH_PATTERN: searched in the full command line, arguments joined by spaces. */
  readonly pattern?: Pattern | undefined;
}

/** TASK_COMM_LEN is 16 bytes with the NUL: the kernel keeps 15 of a longer name. */
export const COMM_MAX = 15;

/**
 * A process is named NAME when:
 * - its comm is NAME: the executable's basename, or a script's when run through
 *   its #! line (`/usr/bin/airflow`, a Python script, has comm "airflow"); for a
 *   NAME longer than 15 bytes, comm is its first 15;
 * - or the basename of argv[0] is NAME (`exec -a NAME`, busybox applets);
 * - or argv[0]'s first word is NAME: a process that rewrites its title
 *   (setproctitle, as Airflow's task runner does) shows one string such as
 *   "airflow task runner: dag task" with no separate arguments.
 */
export function matchesName(name: string, comm: string, argv: () => readonly string[] | undefined): boolean {
  if (comm === name) return true;
  if (Buffer.byteLength(name) > COMM_MAX && comm.length > 0 && truncateComm(name) === comm) return true;
  const argv0 = argv()?.[0];
  if (argv0 === undefined || argv0 === "") return false;
  if (basename(argv0) === name) return true;
  const space = argv0.indexOf(" ");
  return space > 0 && basename(argv0.slice(0, space)) === name;
}

export function matchesPattern(pattern: Pattern, argv: readonly string[]): boolean {
  return pattern.test(commandLine(argv));
}

/** What `ps -o args` shows: the arguments joined by single spaces. */
export function commandLine(argv: readonly string[]): string {
  return argv.join(" ");
}

/** For messages: `a process named "airflow"`, `a process whose command line matches /x/`. */
export function describeQuery(query: ProcessQuery): string {
  const named = query.name === undefined ? "" : ` named ${JSON.stringify(query.name)}`;
  const matching = query.pattern === undefined ? "" : ` whose command line matches ${String(query.pattern)}`;
  return `a process${named}${named && matching ? " and" : ""}${matching}`;
}

/** IQQQ_WATCH_PROCESS: a process name, as comm or argv[0]'s basename would show it. */
export function parseProcessName(raw: string): string {
  if (raw.includes("/")) {
    throw new ValueError(
      "expected a process name without '/' (the basename, as ps shows it); to match a path use IQQQ_WATCH_PATTERN",
    );
  }
  if (raw.trim() !== raw) throw new ValueError("expected a process name without leading or trailing spaces");
  return raw;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function truncateComm(name: string): string {
  // Byte-wise, as the kernel does; a cut multi-byte character decodes as U+FFFD in /proc too.
  return Buffer.from(name).subarray(0, COMM_MAX).toString("utf8");
}
