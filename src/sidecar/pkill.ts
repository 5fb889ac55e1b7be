// Istio ≤ 1.2 has no quit endpoint: scuttle stopped it with `pkill -SIGINT
// pilot-agent`. Distroless images have no pkill, so /proc is scanned here. Only
// processes in iqqq's PID namespace are visible: the pod needs shareProcessNamespace.

import { readdir, readFile } from "node:fs/promises";

/** Linux truncates a process's comm to 15 bytes (TASK_COMM_LEN - 1). */
const COMM_MAX = 15;

/** Sends `signal` to every process named `name` (comm, or argv[0]'s basename); returns their pids. */
export async function signalProcessesNamed(
  name: string,
  signal: NodeJS.Signals,
  procRoot = "/proc",
): Promise<number[]> {
  const signalled: number[] = [];
  const entries = await readdir(procRoot).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (!(await isNamed(`${procRoot}/${entry}`, name))) continue;
    try {
      process.kill(pid, signal);
      signalled.push(pid);
    } catch {
      // Gone since the scan (ESRCH), or not ours to signal (EPERM): nothing to do.
    }
  }
  return signalled;
}

async function isNamed(dir: string, name: string): Promise<boolean> {
  try {
    const comm = (await readFile(`${dir}/comm`, "utf8")).trimEnd();
    if (comm === name.slice(0, COMM_MAX)) return true;
    const argv0 = (await readFile(`${dir}/cmdline`, "utf8")).split("\0")[0] ?? "";
    return argv0.slice(argv0.lastIndexOf("/") + 1) === name;
  } catch {
    return false; // the process ended while being read
  }
}
