// Stops the sidecars: every endpoint in parallel, each retried with backoff on
// transient failures, all within one total budget. Never throws: the outcome is
// only logged and, in standalone mode, turned into an exit status.

import type { StopPlan } from "../config/config.js";
import { formatDuration } from "../config/values.js";
import { EXIT } from "../exit-status.js";
import type { Logger } from "../log.js";
import { type Answer, post } from "./request.js";

/** stopped: acknowledged (2xx). absent: nothing listening. failed: anything else. */
export type Outcome = "stopped" | "absent" | "failed";

export type StopResult =
  | { readonly kind: "skipped" }
  | { readonly kind: "done"; readonly outcomes: readonly Outcome[] };

/** One request may take this long before it is tried again (within the budget). */
export const ATTEMPT_TIMEOUT_MS = 2000;
/** Connection refused is retried this long only, in case the sidecar is just starting. */
export const REFUSED_GRACE_MS = 200;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;

export async function stopSidecars(plan: StopPlan, programFailed: boolean, log: Logger): Promise<StopResult> {
  if (plan.skipReason !== undefined) {
    log.info(`not stopping any sidecar: ${plan.skipReason}`);
    return { kind: "skipped" };
  }
  if (plan.skipOnFailure && programFailed) {
    log.info("not stopping any sidecar: the program failed and NEVER_KILL_ISTIO_ON_FAILURE is true");
    return { kind: "skipped" };
  }
  const deadline = Date.now() + plan.budgetMs;
  const [outcomes] = await Promise.all([
    Promise.all(plan.targets.map((t) => stopOne(t.name, t.url, deadline, log, true))),
    Promise.all(plan.generic.map((url) => stopOne("generic endpoint", url, deadline, log, false))),
  ]);
  return { kind: "done", outcomes };
}

/** Standalone mode's exit status: did the stop work? */
export function standaloneStatus(result: StopResult): number {
  if (result.kind === "skipped") return EXIT.OK;
  if (result.outcomes.includes("failed")) return EXIT.STOP_FAILED;
  if (result.outcomes.includes("absent")) return EXIT.NO_SIDECAR;
  return EXIT.OK;
}

async function stopOne(name: string, url: URL, deadline: number, log: Logger, primary: boolean): Promise<Outcome> {
  const started = Date.now();
  const warn = primary ? log.warn : log.info;
  let backoff = FIRST_BACKOFF_MS;
  let last: Answer | undefined;
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      warn(
        `could not stop ${name}: POST ${url.href} ${describe(last)} after ${attempt - 1} attempts (IQQQ_QUIT_TIMEOUT ${formatDuration(deadline - started)} used up)`,
      );
      return "failed";
    }
    log.debug(`POST ${url.href} (attempt ${attempt})`);
    last = await post(url, Math.min(remaining, ATTEMPT_TIMEOUT_MS));
    log.debug(`POST ${url.href}: ${describe(last)}`);
    switch (last.kind) {
      case "status":
        if (last.status >= 200 && last.status < 300) {
          log.info(`stopped ${name}: POST ${url.href} → ${describe(last)}`);
          return "stopped";
        }
        if (last.status >= 300 && last.status < 400) {
          warn(
            `could not stop ${name}: POST ${url.href} → ${last.status} redirect to ${JSON.stringify(last.location ?? "")}, not followed`,
          );
          return "failed";
        }
        if (last.status < 500 && last.status !== 429) {
          warn(`could not stop ${name}: POST ${url.href} → ${describe(last)}`);
          return "failed";
        }
        break;
      case "refused":
        if (Date.now() - started >= REFUSED_GRACE_MS) {
          warn(`no sidecar is listening at ${url.href} (connection refused): nothing to stop there`);
          return "absent";
        }
        break;
      case "error":
        warn(`could not stop ${name}: POST ${url.href} failed: ${last.code}`);
        return "failed";
      case "timeout":
      case "broken":
        break;
    }
    const pause = Math.min(backoff, deadline - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

function describe(answer: Answer | undefined): string {
  switch (answer?.kind) {
    case undefined:
      return "got no answer";
    case "status":
      return `${answer.status} ${JSON.stringify(answer.body.trim())}`;
    case "refused":
      return "connection refused";
    case "timeout":
      return "timed out";
    case "broken":
    case "error":
      return `failed (${answer.code})`;
  }
}
