// Stops the sidecars that pod/decision.ts decided to stop: every endpoint in
// parallel, each retried with backoff on transient failures, all within one
// total budget. Sends requests and signals only; whether to stop was decided
// before. Never throws: the outcome is only logged and, in standalone mode,
// turned into an exit status.

import type { QuitTarget, StopPlan } from "../config/config.js";
import { formatDuration, shownUrl } from "../config/values.js";
import { EXIT } from "../exit-status.js";
import type { Logger } from "../log.js";
import type { StopTarget } from "../pod/decision.js";
import type { HeaderFields } from "./answer.js";
import { hintFor, ISTIO_LEGACY } from "./catalogue.js";
import { signalProcessesNamed } from "./pkill.js";
import { type Answer, post } from "./request.js";

/** stopped: acknowledged (2xx) or signalled. absent: nothing listening. failed: anything else. */
export type Outcome = "stopped" | "absent" | "failed" | "native";

export interface TargetOutcome {
  readonly name: string;
  readonly outcome: Outcome;
}

export type StopResult =
  | { readonly kind: "skipped"; readonly reason: string }
  | { readonly kind: "done"; readonly outcomes: readonly TargetOutcome[] };

/** One request may take this long before it is tried again (within the budget). */
export const ATTEMPT_TIMEOUT_MS = 2000;
/** Connection refused is retried this long only, in case the sidecar is just starting. */
export const REFUSED_GRACE_MS = 200;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;

/**
 * Stops `targets` (those with a skip reason get the outcome "native" and no
 * request); `present`: kinds the pod has, whose refused connections mean "not
 * started yet".
 */
export async function stopSidecars(
  plan: StopPlan,
  targets: readonly StopTarget[],
  present: ReadonlySet<string>,
  log: Logger,
): Promise<StopResult> {
  const budget: Budget = {
    started: Date.now(),
    deadline: Date.now() + plan.budgetMs,
    ms: plan.budgetMs,
    startTimeoutMs: plan.startTimeoutMs,
  };
  // Loops, not map(): this runs at every stop (catalogue.ts says why).
  const generic = (): Promise<unknown> => {
    const each: Promise<Outcome>[] = [];
    for (const url of plan.generic) each.push(stopHttp("generic endpoint", url, budget, log, GENERIC));
    return Promise.all(each);
  };
  const stopOne = async ({ target, skip }: StopTarget): Promise<TargetOutcome> => {
    if (skip !== undefined) return { name: target.name, outcome: "native" as const };
    let outcome = await stopTarget(target, budget, log, present.has(target.name));
    if (outcome !== "stopped" && plan.pkillFallback && target.name === "istio") {
      log.info("ISTIO_FALLBACK_PKILL is true: sending SIGINT to pilot-agent instead");
      outcome = await stopTarget({ kind: "signal", ...ISTIO_LEGACY }, budget, log);
    }
    return { name: target.name, outcome };
  };
  const stopAll = (): Promise<TargetOutcome[]> => {
    const each: Promise<TargetOutcome>[] = [];
    for (const target of targets) each.push(stopOne(target));
    return Promise.all(each);
  };
  if (plan.genericFirst) {
    await generic();
    return { kind: "done", outcomes: await stopAll() };
  }
  const [outcomes] = await Promise.all([stopAll(), generic()]);
  return { kind: "done", outcomes };
}

/** Standalone mode's exit status: did the stop work? */
export function standaloneStatus(result: StopResult): number {
  if (result.kind === "skipped") return EXIT.OK;
  // A native (or absent, ambient) sidecar is the kubelet's to stop: nothing to do for it.
  const outcomes: TargetOutcome["outcome"][] = [];
  for (const { outcome } of result.outcomes) if (outcome !== "native") outcomes.push(outcome);
  if (outcomes.includes("failed")) return EXIT.STOP_FAILED;
  if (outcomes.includes("stopped")) return EXIT.OK;
  return outcomes.length > 0 ? EXIT.NO_SIDECAR : EXIT.OK;
}

/** The stop's time: when it ends, and how long it was (IQQQ_QUIT_TIMEOUT), for messages. */
interface Budget {
  readonly started: number;
  readonly deadline: number;
  readonly ms: number;
  /** IQQQ_SIDECAR_START_TIMEOUT: how long a sidecar the pod has may refuse connections before it counts as absent. */
  readonly startTimeoutMs: number;
}

/** present: the pod is known to have this sidecar, so "connection refused" means "not started yet". */
async function stopTarget(target: QuitTarget, budget: Budget, log: Logger, present = false): Promise<Outcome> {
  if (target.kind === "http")
    return stopHttp(
      target.name,
      target.url,
      budget,
      log,
      target.optional ? PROBE : SIDECAR,
      present,
      target.from,
      target.headers,
    );
  const pids = await signalProcessesNamed(target.process, target.signal);
  if (pids.length > 0) {
    log.info(`stopped ${target.name}: sent ${target.signal} to ${target.process} (pid ${pids.join(", ")})`);
    return "stopped";
  }
  if (target.optional === true) {
    log.debug(`no process named ${target.process} is visible (no shareProcessNamespace): Envoy's own quit stands in`);
    return "absent";
  }
  log.warn(
    `no process named ${target.process} is visible: nothing to signal (its container must share the pod's process namespace: shareProcessNamespace: true)`,
  );
  return "absent";
}

/** At which level a failure and "connection refused" are logged. */
interface Levels {
  readonly failed: "warn" | "info";
  readonly refused: "warn" | "info" | "debug";
}
const SIDECAR: Levels = { failed: "warn", refused: "warn" };
/** Generic endpoints' answers are only logged (scuttle). */
const GENERIC: Levels = { failed: "info", refused: "info" };
/** auto: a known port that nobody listens on just means "not this kind of sidecar". */
const PROBE: Levels = { failed: "warn", refused: "debug" };

async function stopHttp(
  name: string,
  url: URL,
  budget: Budget,
  log: Logger,
  levels: Levels,
  present = false,
  from?: string,
  headers?: HeaderFields,
): Promise<Outcome> {
  // A sidecar the pod has may still be starting: refused connections are retried for IQQQ_SIDECAR_START_TIMEOUT.
  const refusedUntil = budget.started + (present ? budget.startTimeoutMs : REFUSED_GRACE_MS);
  const report = log[levels.failed];
  let backoff = FIRST_BACKOFF_MS;
  let last: Answer | undefined;
  let waitingSaid = false;
  // A late sidecar's first answer that is not "refused" starts its own IQQQ_QUIT_TIMEOUT for retries.
  let answeredBy = budget.deadline;
  const nothingListens = (): Outcome => {
    const port = from !== undefined ? ` (its port from ${from})` : "";
    if (present)
      log.warn(
        `could not stop ${name}: nothing listened at ${shownUrl(url)}${port} within IQQQ_SIDECAR_START_TIMEOUT ${formatDuration(budget.startTimeoutMs)}, though the pod has it`,
      );
    else
      log[levels.refused](
        `no sidecar is listening at ${shownUrl(url)}${port} (connection refused): nothing to stop there. If the pod has one that starts late, set IQQQ_WAIT_FOR=${name} (the program then starts once it is ready) or IQQQ_POD_SIDECARS=${name} (its stop waits up to IQQQ_SIDECAR_START_TIMEOUT)`,
      );
    return "absent";
  };
  for (let attempt = 1; ; attempt++) {
    const deadline = last?.kind === "refused" ? Math.max(answeredBy, refusedUntil) : answeredBy;
    const remaining = deadline - Date.now();
    // The first attempt is always made, however long what came before took (a slow pod lookup, say).
    if (remaining <= 0 && attempt > 1) {
      if (last?.kind === "refused") return nothingListens();
      report(
        `could not stop ${name}: POST ${shownUrl(url)} ${describe(last)} after ${attempt - 1} attempts (IQQQ_QUIT_TIMEOUT ${formatDuration(budget.ms)} used up)`,
      );
      return "failed";
    }
    log.debug(`POST ${shownUrl(url)} (attempt ${attempt})`);
    last = await post(url, Math.min(Math.max(remaining, ATTEMPT_TIMEOUT_MS / 2), ATTEMPT_TIMEOUT_MS), headers);
    log.debug(`POST ${shownUrl(url)}: ${describe(last)}`);
    if (present && last.kind !== "refused" && answeredBy === budget.deadline && Date.now() >= budget.deadline) {
      answeredBy = Date.now() + budget.ms;
      backoff = FIRST_BACKOFF_MS;
    }
    switch (last.kind) {
      case "status": {
        if (last.status >= 200 && last.status < 300) {
          log.info(`stopped ${name}: POST ${shownUrl(url)} → ${describe(last)}`);
          return "stopped";
        }
        if (last.status >= 300 && last.status < 400) {
          report(
            `could not stop ${name}: POST ${shownUrl(url)} → ${last.status} redirect to ${JSON.stringify(last.location ?? "")}, not followed`,
          );
          return "failed";
        }
        if (last.status < 500 && last.status !== 429) {
          const answer = last;
          const hint = hintFor(name, answer.status, answer.body);
          report(`could not stop ${name}: POST ${shownUrl(url)} → ${describe(last)}${hint ? `: ${hint}` : ""}`);
          return "failed";
        }
        break;
      }
      case "refused":
        if (Date.now() >= refusedUntil) return nothingListens();
        if (present && !waitingSaid && Date.now() - budget.started >= REFUSED_GRACE_MS) {
          waitingSaid = true;
          log.info(
            `${name} is not listening at ${shownUrl(url)} yet; the pod has it, so its stop is retried for up to IQQQ_SIDECAR_START_TIMEOUT ${formatDuration(budget.startTimeoutMs)}`,
          );
        }
        break;
      case "error":
        report(`could not stop ${name}: POST ${shownUrl(url)} failed: ${last.code}`);
        return "failed";
      case "timeout":
      case "broken":
        break;
    }
    const pause = Math.min(backoff, Math.max(answeredBy, last.kind === "refused" ? refusedUntil : 0) - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

export function describe(answer: Answer | undefined): string {
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
