// What iqqq knows about its pod when the program has ended, from every source
// it has: its configuration (what iqqq inject and the webhook wrote:
// IQQQ_POD_SIDECARS, IQQQ_RESTART_POLICY), the downward-API annotations, and
// with IQQQ_POD_LOOKUP=api the pod's spec. Which sidecars are native or absent
// (no quit), which are in the pod (a refused connection means "not started
// yet"), and whether the kubelet will run the program again. Any source that
// fails is one warning, and the stop goes on without it: never skip a stop on
// doubt.

import type { RestartPolicy, StopPlan } from "../config/config.js";
import type { Logger } from "../log.js";
import { loadPodFacts } from "./facts.js";

export interface PodKnowledge {
  /** Sidecar kinds not to send a quit to, each with the reason. */
  readonly skip: ReadonlyMap<string, string>;
  /** Sidecar kinds the pod has. */
  readonly present: ReadonlySet<string>;
  readonly restartPolicy: RestartPolicy | string | undefined;
}

export const NO_KNOWLEDGE: PodKnowledge = { skip: new Map(), present: new Set(), restartPolicy: undefined };

export async function podKnowledge(plan: StopPlan, log: Logger): Promise<PodKnowledge> {
  const { facts, warning } = await loadPodFacts(plan.podinfo.path, plan.podinfo.explicit);
  if (warning !== undefined) log.warn(warning);
  const skip = new Map(facts.skip);
  const present = new Set([...plan.podSidecars, ...facts.present]);
  let restartPolicy: string | undefined = plan.restartPolicy;
  if (plan.podLookup) {
    // Within the stop's own budget, leaving it at least half for the quits.
    const { lookupPod } = await import("./api.js");
    const found = await lookupPod({ env: process.env, timeoutMs: Math.max(100, Math.min(2000, plan.budgetMs / 2)) });
    if (found.kind === "error")
      log.warn(`IQQQ_POD_LOOKUP=api: ${found.message}; every configured sidecar is stopped as usual`);
    else {
      log.debug(`IQQQ_POD_LOOKUP=api: read pod ${found.pod}`);
      for (const [kind, reason] of found.skip) if (!skip.has(kind)) skip.set(kind, reason);
      for (const kind of found.present) present.add(kind);
      restartPolicy = found.restartPolicy ?? restartPolicy;
    }
  }
  for (const kind of skip.keys()) present.delete(kind);
  return { skip, present, restartPolicy };
}

/**
 * Why nothing may be stopped because the kubelet runs the program again:
 * restartPolicy OnFailure after a failure (the retry needs its sidecars; the
 * Job controller ends the pod after backoffLimit), or Always.
 */
export function rerunReason(restartPolicy: string | undefined, programFailed: boolean): string | undefined {
  if (restartPolicy === "OnFailure" && programFailed)
    return "the program failed and the pod's restartPolicy is OnFailure: the kubelet runs it again, and the retry needs its sidecars";
  if (restartPolicy === "Always")
    return "the pod's restartPolicy is Always: the kubelet runs every container again, so there is no end to reach";
  return undefined;
}
