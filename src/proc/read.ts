// The few /proc fields iqqq needs (the watcher, pkill, the PID-1 reaper), read synchronously: a scan is a few
// dozen tiny reads of virtual files, cheaper done at once than through libuv's
// thread pool. A process may vanish between readdir and read at any moment, so
// every reader returns undefined for "gone" instead of throwing.
// Field layout: proc(5), https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html

import { isDigits } from "../config/values.js";
import { builtin } from "../runtime/builtins.js";

export interface ProcStat {
  readonly pid: number;
  /** Kernel comm: the executable's (or script's) basename, truncated to 15 bytes. */
  readonly comm: string;
  /** R, S, D, T, Z (zombie: exited, not yet reaped), X (dead)… */
  readonly state: string;
  readonly ppid: number;
  /**
   * Field 22: when the process started, in clock ticks after boot. A PID can be
   * reused once its process has gone; (pid, startTime) cannot, so it is the
   * identity the watcher tracks.
   */
  readonly startTime: number;
}

/** The numeric entries of /proc: one per process (thread-group leader), never threads. */
export function listPids(procRoot: string): number[] {
  const pids: number[] = [];
  for (const name of builtin("node:fs").readdirSync(procRoot)) if (isDigits(name)) pids.push(Number(name));
  return pids;
}

export function readStat(procRoot: string, pid: number): ProcStat | undefined {
  const text = readSmall(`${procRoot}/${pid}/stat`);
  if (text === undefined) return undefined;
  // comm is in parentheses and may itself contain spaces and ")": the last ")" ends it.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(" ");
  const state = rest[0];
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  if (state === undefined || !Number.isFinite(ppid) || !Number.isFinite(startTime)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTime };
}

/** argv as the process shows it; [] for kernel threads and zombies. */
export function readArgv(procRoot: string, pid: number): string[] | undefined {
  const text = readSmall(`${procRoot}/${pid}/cmdline`);
  if (text === undefined) return undefined;
  const argv = text.split("\0");
  if (argv[argv.length - 1] === "") argv.pop();
  return argv;
}

// One buffer for every read: the watcher reads thousands of tiny files a
// minute, and readFileSync's fstat and fresh buffer per file cost a third more.
let buffer = Buffer.allocUnsafe(4096);

function readSmall(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = builtin("node:fs").openSync(path, "r");
    let length = 0;
    for (;;) {
      const wanted = buffer.length - length;
      const n = builtin("node:fs").readSync(fd, buffer, length, wanted, null);
      length += n;
      // procfs fills a read as far as it can: a short one is the end, no need to ask again.
      if (n < wanted) break;
      // A long command line (java, say) can exceed the buffer: grow it and read on.
      if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(buffer.length)]);
    }
    return buffer.toString("utf8", 0, length);
  } catch {
    // ENOENT or ESRCH: the process has gone. EACCES (hidepid=, a hardened
    // /proc): as good as gone, the watcher cannot see it.
    return undefined;
  } finally {
    if (fd !== undefined) builtin("node:fs").closeSync(fd);
  }
}
