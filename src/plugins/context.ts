// The ExitInfo that hooks get, from what the pipeline already has.

import type { ProgramResult } from "../exit-status.js";
import type { WatchResult } from "../watch/watch.js";
import type { ExitInfo } from "./api.js";

/** Wrapper mode: how the program ended, and the status iqqq exits with. */
export function programExit(result: ProgramResult, status: number, durationMs: number): ExitInfo {
  return {
    kind: result.kind,
    exitCode: result.kind === "exited" ? result.code : null,
    signal: result.kind === "signaled" ? result.signal : null,
    durationMs,
    status,
  };
}

/** Watcher mode; undefined when the watch was aborted (there is no end to report). */
export function watchExit(result: WatchResult, status: number): ExitInfo | undefined {
  if (result.kind === "aborted") return undefined;
  return {
    kind: result.kind === "ended" ? "gone" : result.kind,
    exitCode: null,
    signal: null,
    durationMs: result.kind === "ended" ? result.watchedMs : 0,
    status,
  };
}
