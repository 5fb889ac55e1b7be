// Watcher mode by container (IQQQ_WATCH_CONTAINERS=N): waits for the
// processes of N job containers, whatever they are called and whatever they
// exec into (an ENTRYPOINT script ending in `exec "$@"`, `bash -c "one
// command"`). A job container is told by a mount that iqqq inject gives it
// alone, at MARK (an empty, read-only emptyDir): every process in it shows
// that mount point in /proc/PID/mountinfo, which procfs lets any user of a
// shared process namespace read (its environment and root it does not). Its
// cgroup (/proc/PID/cgroup, also readable) tells one container from another.
// The watch ends once N containers' processes have appeared and none is left;
// a container not seen within STARTED_BEFORE_MS had already ended, unless
// IQQQ_WATCH_START_TIMEOUT says how long to wait for it, or no other process
// can be seen at all (the PID namespace is not shared: nothing could be).
// Processes are tracked as (pid, start time), each classified once.

import { formatDuration } from "../config/values.js";
import type { Logger } from "../log.js";
import { listPids, readArgv, readStat } from "../proc/read.js";
import { builtin } from "../runtime/builtins.js";
import { commandLine } from "./match.js";
import {
  aloneWarning,
  DEFAULT_WATCH_INTERVAL_MS,
  selfAndAncestors,
  selfPidIn,
  type WatchedProcess,
  type WatchResult,
} from "./watch.js";

/** Where iqqq inject mounts the mark in each job container (watcher mode). */
export const MARK = "/run/iqqq-job";

/**
 * iqqq inject puts the watcher last, and the kubelet starts a pod's containers
 * one after the other, in order (image pull included): by the time the watcher
 * runs, every job container has started. One it has not seen within this long
 * had ended before it first looked (a quick job), and is not waited for.
 * Unless its start failed (an image pull error, a Secret it needs missing):
 * the kubelet then goes on to the next container and tries it again later, and
 * nothing in the pod can tell that from a quick job. Waiting for it would hang
 * every quick job's pod; not waiting stops the sidecars before it runs. The
 * default is not to wait; IQQQ_WATCH_START_TIMEOUT waits (docs/watcher.md).
 */
export const STARTED_BEFORE_MS = 5000;
/** The processes kept for the report (plugins, logs): a long job may start many. */
const KEPT = 100;

export interface ContainersSpec {
  readonly count: number;
  /** Default STARTED_BEFORE_MS. */
  readonly startedBeforeMs?: number | undefined;
  readonly startTimeoutMs?: number | undefined;
  readonly intervalMs?: number | undefined;
  readonly procRoot?: string | undefined;
  readonly selfPid?: number | undefined;
}

/** Never rejects; resolves once: the end, the start timeout, the abort, or /proc unreadable. */
export async function watchContainers(spec: ContainersSpec, log: Logger, signal: AbortSignal): Promise<WatchResult> {
  const procRoot = spec.procRoot ?? "/proc";
  const intervalMs = Math.max(1, spec.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS);
  const excluded = selfAndAncestors(procRoot, spec.selfPid ?? selfPidIn(procRoot));
  const target = `the processes of ${spec.count} job container(s) (marked by a mount at ${MARK})`;
  let alone = true;
  const started = performance.now();
  /**
   * "pid:startTime" → the container (cgroup) of a job process, or null for any other process, with
   * its name then. One that was no job's is looked at again once it has exec'd (its name changed): it
   * may have been seen while the runtime still set its container up (runc init, its mounts not yet
   * there), which a CI run of the pods suite caught under podman, the job's `cat` never seen.
   */
  const known = new Map<string, { readonly container: string | null; readonly comm: string }>();
  const containers = new Set<string>();
  const watched: WatchedProcess[] = [];
  let firstSeen: number | undefined;
  let said = false;
  let saidAlone = false;
  for (;;) {
    if (signal.aborted) return { kind: "aborted", processes: watched };
    let pids: number[];
    try {
      pids = listPids(procRoot);
    } catch (err) {
      return { kind: "unavailable", message: `cannot list ${procRoot}: ${(err as Error).message}` };
    }
    let alive = 0;
    const seen = new Set<string>();
    for (const pid of pids) {
      if (excluded.has(pid)) continue;
      alone = false;
      const stat = readStat(procRoot, pid);
      if (stat === undefined || stat.state === "Z" || stat.state === "X") continue;
      const key = `${pid}:${stat.startTime}`;
      seen.add(key);
      const before = known.get(key);
      let container = before?.container;
      if (before === undefined || (container === null && before.comm !== stat.comm)) {
        container = isMarked(procRoot, pid) ? (readText(`${procRoot}/${pid}/cgroup`) ?? `pid ${pid}`) : null;
        known.set(key, { container, comm: stat.comm });
        if (container !== null) {
          if (watched.length < KEPT) {
            const argv = readArgv(procRoot, pid) ?? [];
            watched.push({ pid, startTime: stat.startTime, comm: stat.comm, commandLine: commandLine(argv) });
          }
          if (!containers.has(container)) {
            containers.add(container);
            firstSeen ??= performance.now();
            log.info(
              `job container ${containers.size} of ${spec.count} seen: pid ${pid} (${stat.comm}), marked by its mount at ${MARK}`,
            );
          }
        }
      }
      if (container !== null) alive++;
    }
    // Forget what has gone, so that the map stays the size of the pod's processes.
    for (const key of known.keys()) if (!seen.has(key)) known.delete(key);
    const waited = performance.now() - started;
    // A container not seen by now had ended before the watcher looked: never when nothing at all
    // can be seen, never with a start timeout (which waits for it, then exits 75 below).
    const looked = !alone && spec.startTimeoutMs === undefined && waited >= (spec.startedBeforeMs ?? STARTED_BEFORE_MS);
    if (
      alive === 0 &&
      containers.size < spec.count &&
      spec.startTimeoutMs !== undefined &&
      waited >= spec.startTimeoutMs
    )
      return { kind: "never-appeared", waitedMs: waited };
    if (alive === 0 && (containers.size >= spec.count || looked)) {
      const now = performance.now();
      if (containers.size < spec.count)
        log.info(
          `${spec.count - containers.size} of ${spec.count} job containers had ended before the watcher first looked (the kubelet starts it last)`,
        );
      return {
        kind: "ended",
        processes: watched,
        waitedMs: (firstSeen ?? now) - started,
        watchedMs: now - (firstSeen ?? now),
      };
    }
    if (containers.size < spec.count) {
      if (alone && !saidAlone) {
        saidAlone = true;
        log.warn(aloneWarning(procRoot, target));
      }
      if (!said && waited >= 5000) {
        said = true;
        log.info(
          `waiting for ${spec.count - containers.size} more job container(s): processes with a mount at ${MARK} (iqqq inject --mode watcher adds it), visible with shareProcessNamespace; ${spec.startTimeoutMs !== undefined ? `IQQQ_WATCH_START_TIMEOUT ${formatDuration(spec.startTimeoutMs)}` : "no IQQQ_WATCH_START_TIMEOUT: as long as it takes"}`,
        );
      }
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, intervalMs);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** Does the process see a mount at MARK? (mountinfo(5): the fifth field is the mount point.) */
function isMarked(procRoot: string, pid: number): boolean {
  const text = readText(`${procRoot}/${pid}/mountinfo`);
  if (text === undefined) return false;
  for (const line of text.split("\n")) if (line.split(" ")[4] === MARK) return true;
  return false;
}

function readText(path: string): string | undefined {
  try {
    return builtin("node:fs").readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
