// Whether to stop the sidecars, decided in one place when the program (or the
// watched process) has ended, from every rule there is, in this order:
//   1. the configuration alone (not in Kubernetes, DISABLE_IQQQ, NEVER_KILL_ISTIO,
//      scuttle's rules): config.ts found the reason at start;
//   2. the kubelet runs the program again (restartPolicy OnFailure after a
//      failure, or Always; pod/knowledge.ts): a wrapper only, since a watcher
//      cannot tell a failed run from the last;
//   3. several job containers (IQQQ_GROUP): only the last one out stops them,
//      and a member's failure counts as the program's;
//   4. NEVER_KILL_ISTIO_ON_FAILURE and a failure;
//   5. each sidecar the pod runs as a native one, or does not have (ambient):
//      the kubelet's to stop, so it is left out.
// The reason is logged here, once. sidecar/stop.ts then only sends requests.

import type { Config, QuitTarget } from "../config/config.js";
import type { Logger } from "../log.js";
import { podKnowledge, rerunReason } from "./knowledge.js";

export interface StopTarget {
  readonly target: QuitTarget;
  /** Why it is not sent a stop (native, or absent from the pod), or undefined. */
  readonly skip: string | undefined;
}

export type Decision =
  | { readonly kind: "skip"; readonly reason: string }
  | {
      readonly kind: "stop";
      readonly targets: readonly StopTarget[];
      /** Sidecar kinds the pod has: "connection refused" from one means "not started yet". */
      readonly present: ReadonlySet<string>;
    };

export interface Ending {
  /** The program (or, in a group, any member) failed. */
  readonly failed: boolean;
  /** This member's exit status, for its group record. */
  readonly status: number;
}

export async function decideStop(config: Config, ending: Ending, log: Logger): Promise<Decision> {
  const plan = config.stop;
  const skip = (reason: string, quietly = false): Decision => {
    (quietly ? log.debug : log.info)(`not stopping any sidecar: ${reason}`);
    return { kind: "skip", reason };
  };
  if (plan.skipReason !== undefined) return skip(plan.skipReason, plan.skipWarned === true);

  const pod = await podKnowledge(plan, log);
  // The program runs again: this member has not finished, so it records nothing either.
  const rerun = config.program !== undefined ? rerunReason(pod.restartPolicy, ending.failed) : undefined;
  if (rerun !== undefined) return skip(rerun);

  let failed = ending.failed;
  if (config.group !== undefined) {
    const { recordAndCheck } = await import("./group.js");
    const group = recordAndCheck(config.group, ending.status);
    if (group.kind === "waiting")
      return skip(`IQQQ_GROUP: ${group.running.join(", ")} still running; the last one out stops the sidecars`);
    if (group.kind === "unrecorded") {
      log.warn(`${group.message}: stopping the sidecars now rather than leave the pod running for ever`);
    } else {
      log.info(`IQQQ_GROUP: every member has finished; ${config.group.name}, the last one out, stops the sidecars`);
      if (group.failed.length > 0) {
        failed = true;
        log.info(`IQQQ_GROUP: ${group.failed.join(", ")} failed`);
      }
    }
  }
  if (plan.skipOnFailure && failed) return skip("the program failed and NEVER_KILL_ISTIO_ON_FAILURE is true");

  // A loop, not map(): this runs at every stop (sidecar/catalogue.ts says why).
  const targets: StopTarget[] = [];
  for (const target of plan.targets) {
    const reason = pod.skip.get(target.name);
    if (reason !== undefined) log.info(`not stopping ${target.name}: ${reason}`);
    targets.push({ target, skip: reason });
  }
  return { kind: "stop", targets, present: pod.present };
}
