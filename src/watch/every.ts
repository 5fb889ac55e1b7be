// IQQQ_WATCH_PROCESS with several names ("extract,load"): one watch per name, at
// once; the watch ends when every named process has appeared and ended. The
// first that cannot end well (never appeared within IQQQ_WATCH_START_TIMEOUT,
// /proc unreadable) decides for all, and the others are stopped.

import type { Logger } from "../log.js";
import { type WatchResult, type WatchSpec, watchProcess } from "./watch.js";

export function watchEvery(
  names: readonly string[],
  spec: Omit<WatchSpec, "name">,
  log: Logger,
  signal: AbortSignal,
): Promise<WatchResult> {
  if (names.length <= 1) return watchProcess({ ...spec, name: names[0] }, log, signal);
  const inner = new AbortController();
  const onAbort = (): void => inner.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const ended: (WatchResult & { kind: "ended" })[] = [];
    const settle = (result: WatchResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      inner.abort();
      resolve(result);
    };
    for (const name of names) {
      void watchProcess({ ...spec, name }, log, inner.signal).then((result) => {
        if (result.kind !== "ended") return settle(result);
        ended.push(result);
        if (ended.length < names.length) {
          log.info(`${name} has gone; still watching for ${names.length - ended.length} more`);
          return;
        }
        const waitedMs = Math.min(...ended.map((r) => r.waitedMs));
        settle({
          kind: "ended",
          processes: ended.flatMap((r) => r.processes),
          waitedMs,
          watchedMs: performance.now() - started - waitedMs,
        });
      });
    }
  });
}
