// Writes a one-line summary of the run to the container's termination message
// file, so that `kubectl describe pod` and the Job's pod status show how the
// program ended and whether the sidecars were stopped:
//
//   iqqq: program exited 3 after 12.4s; istio stopped
//
// The file is Kubernetes' terminationMessagePath, /dev/termination-log unless the
// pod spec says otherwise; set IQQQ_TERMINATION_LOG to the same path then. The
// line is appended, so a message the program wrote itself is kept. A file that
// cannot be written is logged as a warning, never an error: the summary is a
// courtesy, the exit status is what counts.
// https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/
//
//   IQQQ_PLUGINS=/plugins/termination-log.mjs iqqq my-job

import { appendFile } from "node:fs/promises";

export const DEFAULT_PATH = "/dev/termination-log";

/** @type {import("iqqq/plugin").IqqqPlugin} */
export default {
  name: "termination-log",
  async afterStop(ctx) {
    const path = process.env.IQQQ_TERMINATION_LOG || DEFAULT_PATH;
    const line = summary(ctx);
    try {
      await appendFile(path, `${line}\n`);
      ctx.log.debug(`wrote ${JSON.stringify(line)} to ${path}`);
    } catch (error) {
      const err = /** @type {NodeJS.ErrnoException} */ (error);
      const reason = err?.code ?? err?.message ?? String(err);
      // Outside Kubernetes the default file does not exist: nothing worth a warning.
      if (reason === "ENOENT" && path === DEFAULT_PATH) ctx.log.debug(`${path} does not exist: not in Kubernetes?`);
      else ctx.log.warn(`cannot write the termination message to ${path}: ${reason}`);
    }
  },
};

/** @param {import("iqqq/plugin").AfterStopContext} ctx */
export function summary(ctx) {
  return `iqqq: ${describeExit(ctx)}; ${describeStop(ctx)}`;
}

/** @param {import("iqqq/plugin").AfterStopContext} ctx */
function describeExit({ mode, exit, status }) {
  if (exit === undefined) return `${mode} stop, status ${status}`;
  const after = ` after ${duration(exit.durationMs)}`;
  switch (exit.kind) {
    case "exited":
      return `program exited ${exit.exitCode}${after}`;
    case "signaled":
      return `program killed by ${exit.signal} (status ${exit.status})${after}`;
    case "not-found":
      return `program not found (status ${exit.status})`;
    case "not-executable":
      return `program not executable (status ${exit.status})`;
    case "gone":
      return `watched process ended${after} (its exit code cannot be seen by a watcher)`;
    case "never-appeared":
      return `watched process never appeared (status ${exit.status})`;
    case "unavailable":
      return `cannot watch: /proc unreadable (status ${exit.status})`;
    default:
      return `program ended (${exit.kind}, status ${exit.status})`;
  }
}

/** @param {import("iqqq/plugin").AfterStopContext} ctx */
function describeStop({ sidecars, skipReason }) {
  if (skipReason !== undefined) return `sidecars not stopped: ${skipReason}`;
  if (sidecars.length === 0) return "no sidecar to stop";
  return sidecars.map((s) => `${s.name} ${s.outcome}`).join(", ");
}

/** Like Go's time.Duration.String(), to a tenth of a second: 850ms, 12.4s, 3m5s, 1h2m0s. @param {number} ms */
function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h` : ""}${m}m${s % 60}s`;
}
