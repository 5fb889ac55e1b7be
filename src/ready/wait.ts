// The readiness gate: before the program starts, wait until every configured
// sidecar says it is ready, so that the job's first network calls do not fail.
// Bounded by the configured timeout, and by SIGTERM/SIGINT: a pod being deleted
// must not wait for a proxy that will never come (a complaint against scuttle).

import type { ReadyCheck, ReadyPlan } from "../config/config.js";
import { formatDuration, shownUrl } from "../config/values.js";
import type { Logger } from "../log.js";
import { later, timeoutSignal } from "../runtime/timers.js";
import { request } from "../sidecar/request.js";
import { describe } from "../sidecar/stop.js";

export type WaitResult =
  | { readonly kind: "ready"; readonly waitedMs: number }
  | { readonly kind: "timeout"; readonly waitedMs: number }
  | { readonly kind: "interrupted"; readonly signal: NodeJS.Signals };

/** As Istio's own `pilot-agent wait`: 500 ms per request, polls at most 500 ms apart. */
export const READY_REQUEST_TIMEOUT_MS = 500;
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 500;
/** Envoy's /server_info is a few KiB of JSON; "state" comes early, but keep room. */
const SERVER_INFO_BYTES = 64 * 1024;

/** `interrupt` is aborted with the signal's name as its reason. */
export async function waitUntilReady(plan: ReadyPlan, log: Logger, interrupt: AbortSignal): Promise<WaitResult> {
  const started = Date.now();
  const limits = plan.timeoutMs === undefined ? [interrupt] : [interrupt, timeoutSignal(plan.timeoutMs)];
  const stop = AbortSignal.any(limits);
  await Promise.all(plan.checks.map((check) => waitFor(check, log, stop)));
  const waitedMs = Date.now() - started;
  if (interrupt.aborted) return { kind: "interrupted", signal: interrupt.reason as NodeJS.Signals };
  if (stop.aborted) return { kind: "timeout", waitedMs };
  return { kind: "ready", waitedMs };
}

async function waitFor(check: ReadyCheck, log: Logger, stop: AbortSignal): Promise<void> {
  const started = Date.now();
  let poll = FIRST_POLL_MS;
  let lastState = "";
  while (!stop.aborted) {
    const answer = await request(check.url, {
      method: "GET",
      timeoutMs: READY_REQUEST_TIMEOUT_MS,
      abort: stop,
      bodyBytes: check.expectLive ? SERVER_INFO_BYTES : 256,
      bodyGraceMs: READY_REQUEST_TIMEOUT_MS,
    });
    let state = describe(answer);
    if (answer.kind === "status" && answer.status === 200) {
      if (!check.expectLive) break;
      // Envoy's /server_info: {"version": …, "state": "LIVE" | "DRAINING" | "PRE_INITIALIZING" | "INITIALIZING", …}
      const live = /"state"\s*:\s*"([A-Z_]+)"/.exec(answer.body)?.[1];
      if (live === "LIVE") break;
      state = `state ${live ?? "unknown"}`;
    }
    if (state !== lastState) {
      log.info(`waiting for ${check.name} to be ready: GET ${shownUrl(check.url)}: ${state}`);
      lastState = state;
    }
    await pause(poll, stop);
    poll = Math.min(poll * 2, MAX_POLL_MS);
  }
  if (!stop.aborted) log.info(`${check.name} is ready (after ${formatDuration(Date.now() - started)})`);
}

/** Waits `ms`, or less when `stop` aborts first. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      cancel();
      stop.removeEventListener("abort", done);
      resolve();
    };
    const cancel = later(ms, done);
    stop.addEventListener("abort", done);
  });
}
