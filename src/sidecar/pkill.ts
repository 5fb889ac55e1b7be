// Istio ≤ 1.2 has no quit endpoint: scuttle stopped it with `pkill -SIGINT
// pilot-agent`. Distroless images have no pkill, so /proc is scanned here, with
// the watcher's readers. Only processes in iqqq's PID namespace are visible: the
// pod needs shareProcessNamespace.

import { listPids, readArgv, readStat } from "../proc/read.js";
import { COMM_MAX } from "../watch/match.js";

/** Sends `signal` to every process named `name` (comm, or argv[0]'s basename); returns their pids. */
export async function signalProcessesNamed(
  name: string,
  signal: NodeJS.Signals,
  procRoot = "/proc",
): Promise<number[]> {
  const signalled: number[] = [];
  let pids: number[];
  try {
    pids = listPids(procRoot);
  } catch {
    return signalled; // no /proc: nothing is visible
  }
  for (const pid of pids) {
    if (pid === process.pid || !isNamed(procRoot, pid, name)) continue;
    try {
      process.kill(pid, signal);
      signalled.push(pid);
    } catch {
      // Gone since the scan (ESRCH), or not ours to signal (EPERM): nothing to do.
    }
  }
  return signalled;
}

function isNamed(procRoot: string, pid: number, name: string): boolean {
  // readStat and readArgv answer undefined for a process that ended while being read.
  if (readStat(procRoot, pid)?.comm === name.slice(0, COMM_MAX)) return true;
  const argv0 = readArgv(procRoot, pid)?.[0] ?? "";
  return argv0.slice(argv0.lastIndexOf("/") + 1) === name;
}
