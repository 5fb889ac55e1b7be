// What watcher mode does with a WatchResult: whether to stop the sidecars, and
// with which exit status. The watcher never learns the watched program's exit
// status (it is not the parent; the container runtime reaps it), so the end of
// the process counts as success: the watcher exits 0 and
// NEVER_KILL_ISTIO_ON_FAILURE cannot apply to it.

import { EXIT, signalNumber } from "../exit-status.js";
import type { Logger } from "../log.js";
import type { WatchResult } from "./watch.js";

export const WATCH_EXIT = {
  /**
   * sysexits.h EX_TEMPFAIL: nothing matching appeared within
   * IQQQ_WATCH_START_TIMEOUT. Non-zero so that the pod fails and the Job may
   * retry it; the sidecars are stopped so that the pod can end at all.
   */
  NEVER_APPEARED: EXIT.NOT_READY,
  /** sysexits.h EX_OSFILE: /proc cannot be read; the sidecars are stopped all the same. */
  PROC_UNAVAILABLE: EXIT.NO_PROC,
} as const;

export interface WatchOutcome {
  /** Stop the sidecars now. */
  readonly stop: boolean;
  /** Pass to the stop as "the program failed" (NEVER_KILL_ISTIO_ON_FAILURE). */
  readonly failed: boolean;
  /** iqqq's exit status. */
  readonly status: number;
}

/**
 * `signal`: the signal that aborted the watch, if any. On SIGTERM the pod is
 * being deleted: the kubelet sends SIGTERM to the sidecar too, which then drains
 * as configured, so iqqq does not cut it short with a quit while the watched
 * program may still be shutting down; it exits at once with 128+N.
 */
export function watchOutcome(
  result: WatchResult,
  log: Logger,
  signal?: NodeJS.Signals,
  keepOnFailure = false,
): WatchOutcome {
  // With NEVER_KILL_ISTIO_ON_FAILURE a failed watch leaves the sidecars running: say so.
  const failedStop = keepOnFailure
    ? "leaving the sidecars running (NEVER_KILL_ISTIO_ON_FAILURE is true)"
    : "stopping the sidecars";
  switch (result.kind) {
    case "ended":
      log.info("the watched process has gone; its exit status cannot be seen from here, so it counts as success");
      return { stop: true, failed: false, status: EXIT.OK };
    case "never-appeared":
      log.error(
        `no matching process appeared within IQQQ_WATCH_START_TIMEOUT; ${failedStop} and exiting ${WATCH_EXIT.NEVER_APPEARED}`,
      );
      return { stop: true, failed: true, status: WATCH_EXIT.NEVER_APPEARED };
    case "unavailable":
      log.error(`${result.message}; ${failedStop} and exiting ${WATCH_EXIT.PROC_UNAVAILABLE}`);
      return { stop: true, failed: true, status: WATCH_EXIT.PROC_UNAVAILABLE };
    case "aborted": {
      const sig = signal ?? "SIGTERM";
      log.info(`${sig} received while watching: exiting without stopping the sidecars (the pod is being terminated)`);
      return { stop: false, failed: false, status: EXIT.SIGNAL_BASE + signalNumber(sig) };
    }
  }
}
