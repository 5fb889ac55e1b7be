// Watcher mode: wait until a process with a given name appears in /proc, then
// until every such process has gone. No ptrace, no netlink (both need
// privileges a sidecar should not have): polling /proc is what works in a pod
// with `shareProcessNamespace: true`, and it is cheap when done in two phases:
//
//   waiting   every tick, list /proc and examine (stat, and cmdline when
//             needed) the processes that are new or young; every second, all
//             of them. A container's process is forked and then exec's its
//             program within moments, so young processes are the ones that
//             can turn into a match; an old one that exec's late is found
//             within a second. This keeps a pod of a hundred processes at
//             well under 1% of a core;
//   watching  every tick, one read of /proc/PID/stat per tracked process; a
//             full scan only once they have all gone, to catch any other match
//             (a child with the same name, a second run) before declaring the end.
//
// A process is tracked as (pid, start time), so a PID reused by another process
// between two ticks is seen as the end of the first, never as it running on.

import { formatDuration } from "../config/values.js";
import type { Logger } from "../log.js";
import { listPids, type ProcStat, readArgv, readStat } from "../proc/read.js";
import { builtin } from "../runtime/builtins.js";
import { commandLine, describeQuery, matchesName, matchesPattern, type ProcessQuery } from "./match.js";

export interface WatchSpec extends ProcessQuery {
  /** Give up when no process has appeared after this long; undefined: wait forever. */
  readonly startTimeoutMs?: number | undefined;
  /** Time between two looks at /proc. Default DEFAULT_WATCH_INTERVAL_MS. */
  readonly intervalMs?: number | undefined;
  /** Where procfs is mounted. Default "/proc"; tests point it at a fake tree. */
  readonly procRoot?: string | undefined;
  /** The watcher's own pid as procRoot numbers it. Default process.pid. */
  readonly selfPid?: number | undefined;
}

export interface WatchedProcess {
  readonly pid: number;
  /** Clock ticks after boot (proc(5) stat field 22): with pid, the process's identity. */
  readonly startTime: number;
  readonly comm: string;
  /** The arguments joined by spaces, as `ps -o args` shows them. */
  readonly commandLine: string;
}

export type WatchResult =
  /** Every matching process has gone. processes: all that were watched, in the order they were found. */
  | {
      readonly kind: "ended";
      readonly processes: readonly WatchedProcess[];
      /** From the start of the watch until the first match was seen. */
      readonly waitedMs: number;
      /** From the first match until the end was noticed. */
      readonly watchedMs: number;
    }
  /** startTimeoutMs passed and no matching process was ever seen. */
  | { readonly kind: "never-appeared"; readonly waitedMs: number }
  /** The signal was aborted (SIGTERM) first. */
  | { readonly kind: "aborted"; readonly processes: readonly WatchedProcess[] }
  /** procRoot cannot be listed (not mounted?): the watch cannot work at all. */
  | { readonly kind: "unavailable"; readonly message: string };

/** The end is noticed at most this long (plus one scan) after it happens: well within 250 ms. */
export const DEFAULT_WATCH_INTERVAL_MS = 100;
/** While waiting, every process is examined at least this often… */
export const FULL_SCAN_MS = 1000;
/** …and one first seen less than this long ago, every tick. */
export const YOUNG_MS = 2000;

/** Never rejects; resolves once, with the first of: the end, the start timeout, the abort. */
export function watchProcess(spec: WatchSpec, log: Logger, signal: AbortSignal): Promise<WatchResult> {
  const procRoot = spec.procRoot ?? "/proc";
  const intervalMs = Math.max(1, spec.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS);
  const query: ProcessQuery = {
    name: spec.name,
    // A /g or /y RegExp (tests pass RegExps) keeps lastIndex between test() calls: matching must be stateless.
    pattern:
      spec.pattern instanceof RegExp
        ? new RegExp(spec.pattern.source, spec.pattern.flags.replace(/[gy]/g, ""))
        : spec.pattern,
  };
  const target = describeQuery(query);
  const started = performance.now();
  const tracked = new Map<number, WatchedProcess>();
  /**
   * Tracked processes forked by a matching process, found while they still carried its name or
   * command line (a shell's child before it exec's): they drop out once they no longer match.
   * Any other tracked process that no longer matches (it renamed itself: setproctitle, Perl's
   * $0; or exec'd) is the job still running, watched until it exits: in renamed.
   */
  const copies = new Set<number>();
  const renamed = new Set<number>();
  /**
   * Each command line found (comm and arguments), with the earliest start time it was found
   * with: a later process with the same is a copy too, even when its parent has gone by the
   * time it is found (a background child of a script that has ended).
   */
  const lineage = new Map<string, number>();
  const found: WatchedProcess[] = [];
  let firstSeenAt: number | undefined;
  let warnedAlone = false;
  let excluded: ReadonlySet<number> = new Set();
  /** Processes examined and found not to match: when first seen, by (pid, start time). */
  const others = new Map<number, { startTime: number; since: number }>();
  let lastFullScan = Number.NEGATIVE_INFINITY;
  let scans = 0;

  return new Promise<WatchResult>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (result: WatchResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = (): void => {
      log.debug(`stopped watching for ${target}: aborted`);
      finish({ kind: "aborted", processes: [...found] });
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });

    const matchesNow = (stat: ProcStat): boolean => {
      let argv: readonly string[] | undefined;
      const lazyArgv = (): readonly string[] | undefined => {
        argv ??= readArgv(procRoot, stat.pid);
        return argv;
      };
      if (query.name !== undefined && !matchesName(query.name, stat.comm, lazyArgv)) return false;
      if (query.pattern !== undefined) {
        const args = lazyArgv();
        if (args === undefined || !matchesPattern(query.pattern, args)) return false;
      }
      return true;
    };

    const alive = (stat: ProcStat | undefined): stat is ProcStat =>
      stat !== undefined && stat.state !== "Z" && stat.state !== "X";

    /** Drops the tracked processes that have gone; true if any is left. */
    const recheck = (): boolean => {
      for (const [pid, process] of tracked) {
        const stat = readStat(procRoot, pid);
        let why: string | undefined;
        if (!alive(stat)) why = stat === undefined ? "has gone" : "has exited (zombie, not yet reaped)";
        else if (stat.startTime !== process.startTime) why = `has gone; its pid now belongs to ${stat.comm}`;
        else if (!renamed.has(pid) && !matchesNow(stat)) {
          if (copies.has(pid))
            why = `no longer matches (now ${JSON.stringify(stat.comm)}): a copy forked by a match, it has exec'd`;
          else {
            renamed.add(pid);
            log.debug(
              `pid ${pid} (${process.comm}) no longer matches (now ${JSON.stringify(stat.comm)}): it renamed itself or exec'd, and is watched until it exits`,
            );
          }
        }
        if (why !== undefined) {
          log.debug(`pid ${pid} (${process.comm}) ${why}`);
          tracked.delete(pid);
          copies.delete(pid);
          renamed.delete(pid);
        }
      }
      return tracked.size > 0;
    };

    /**
     * Adds matching processes to the tracked set; undefined if /proc cannot be
     * listed. full: examine every process, else only the new and young ones.
     */
    const scan = (full: boolean): { visibleOthers: number } | undefined => {
      let pids: number[];
      try {
        pids = listPids(procRoot);
      } catch (err) {
        finish({ kind: "unavailable", message: `cannot list ${procRoot}: ${(err as Error).message}` });
        return undefined;
      }
      const now = performance.now();
      if (full) lastFullScan = now;
      // What is already running when the watch begins is not young.
      const youngSince = scans++ === 0 ? Number.NEGATIVE_INFINITY : now;
      let visibleOthers = 0;
      const listed = new Set<number>();
      for (const pid of pids) {
        if (excluded.has(pid)) continue;
        visibleOthers++;
        listed.add(pid);
        if (tracked.has(pid)) continue;
        const known = others.get(pid);
        if (!full && known !== undefined && now - known.since >= YOUNG_MS) continue;
        const stat = readStat(procRoot, pid);
        if (stat === undefined) continue;
        if (!alive(stat) || !matchesNow(stat)) {
          // Young: started after the watch began, or a PID reused since (a new start time).
          if (known?.startTime !== stat.startTime) others.set(pid, { startTime: stat.startTime, since: youngSince });
          continue;
        }
        others.delete(pid);
        const process: WatchedProcess = {
          pid,
          startTime: stat.startTime,
          comm: stat.comm,
          commandLine: commandLine(readArgv(procRoot, pid) ?? []),
        };
        tracked.set(pid, process);
        found.push(process);
        const parent = excluded.has(stat.ppid) ? undefined : readStat(procRoot, stat.ppid);
        const key = `${stat.comm}\0${process.commandLine}`;
        const earliest = lineage.get(key);
        if (
          (parent !== undefined && alive(parent) && matchesNow(parent)) ||
          (earliest !== undefined && earliest < stat.startTime)
        )
          copies.add(pid);
        if (earliest === undefined || stat.startTime < earliest) lineage.set(key, stat.startTime);
        const line = `pid ${pid} ${JSON.stringify(process.commandLine || process.comm)}`;
        if (firstSeenAt === undefined) {
          firstSeenAt = performance.now();
          log.info(`found ${target}: ${line}; watching until it has gone`);
        } else {
          log.info(`also watching ${line}`);
        }
      }
      for (const pid of others.keys()) if (!listed.has(pid)) others.delete(pid);
      return { visibleOthers };
    };

    const tick = (): void => {
      if (done) return;
      if (tracked.size === 0 || !recheck()) {
        // Before declaring the end, every process is examined: any match keeps the watch going.
        const full =
          firstSeenAt !== undefined || performance.now() - lastFullScan >= Math.max(intervalMs, FULL_SCAN_MS);
        const seen = scan(full);
        if (seen === undefined) return;
        if (tracked.size === 0) {
          const now = performance.now();
          if (firstSeenAt !== undefined) {
            const pids = found.map((p) => p.pid).join(", ");
            log.info(`${target} has gone (pid ${pids})`);
            finish({
              kind: "ended",
              processes: [...found],
              waitedMs: firstSeenAt - started,
              watchedMs: now - firstSeenAt,
            });
            return;
          }
          if (!warnedAlone && seen.visibleOthers === 0) {
            warnedAlone = true;
            log.warn(aloneWarning(procRoot, target));
          }
          if (spec.startTimeoutMs !== undefined && now - started >= spec.startTimeoutMs) {
            log.debug(`${target} did not appear within ${formatDuration(Math.round(now - started))}`);
            finish({ kind: "never-appeared", waitedMs: now - started });
            return;
          }
          const untilTimeout =
            spec.startTimeoutMs === undefined ? intervalMs : Math.max(0, spec.startTimeoutMs - (now - started));
          timer = setTimeout(tick, Math.min(intervalMs, untilTimeout));
          return;
        }
      }
      timer = setTimeout(tick, intervalMs);
    };

    excluded = selfAndAncestors(procRoot, spec.selfPid ?? selfPidIn(procRoot));
    log.info(
      `waiting for ${target} to appear in ${procRoot}${spec.startTimeoutMs === undefined ? "" : ` (at most ${formatDuration(spec.startTimeoutMs)})`}`,
    );
    tick();
  });
}

/**
 * iqqq's own pid as procRoot numbers it: /proc/self, which differs from
 * process.pid when /proc belongs to another PID namespace than iqqq's
 * (`unshare -p -f` without --mount-proc); process.pid where it cannot be read.
 */
export function selfPidIn(procRoot: string): number {
  try {
    const pid = Number(builtin("node:fs").readlinkSync(`${procRoot}/self`));
    return Number.isInteger(pid) && pid > 0 ? pid : process.pid;
  } catch {
    return process.pid;
  }
}

/** What the watcher says when it sees no other process: neither a name nor a container can be seen. */
export function aloneWarning(procRoot: string, target: string): string {
  return `${procRoot} shows no process but iqqq and its parents: the pod's PID namespace is not shared (set shareProcessNamespace: true in the pod spec), or ${procRoot} hides other users' processes (hidepid), so ${target} cannot be seen`;
}

/**
 * iqqq and the processes above it never count: a shell running
 * `IQQQ_WATCH_PATTERN=airflow iqqq` would otherwise match its own pattern and
 * wait for itself forever.
 */
export function selfAndAncestors(procRoot: string, selfPid: number): ReadonlySet<number> {
  const pids = new Set<number>();
  for (let pid = selfPid; pid > 0 && !pids.has(pid) && pids.size < 1000; ) {
    pids.add(pid);
    pid = readStat(procRoot, pid)?.ppid ?? 0;
  }
  return pids;
}
