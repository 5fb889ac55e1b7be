// iqqq reaper's decision for one pod, from the pod alone (and the time): reap
// it (which sidecar kinds to stop), wait (the grace period), or skip it, with
// the reason. Pure, so that the table of cases is tested without an API server.
//
// A pod is reaped only when stopping its sidecars can only help it end:
// - it belongs to a Job (an ownerReference of kind Job), or to another batch
//   system that its label selector names;
// - every container that is not a known sidecar has terminated and the kubelet
//   will not start it again: restartPolicy Never, or OnFailure with exit 0;
//   a container the kubelet still retries (a failure under OnFailure, one
//   waiting in back-off) is the Job's business, and stopping the sidecar under
//   it would make its next try fail;
// - a known sidecar (src/sidecar/catalogue.ts) runs as a regular container and
//   is still running. A native sidecar (an init container with restartPolicy
//   Always) is stopped by the kubelet itself, and a quit would only restart it;
// - the last job container ended more than the grace period ago, so that an
//   iqqq inside the pod (which acts at once) stops its sidecars first;
// - no job container says, in its own environment, that its sidecars are never
//   to be stopped (DISABLE_IQQQ, NEVER_KILL_ISTIO) or not after a failure
//   (NEVER_KILL_ISTIO_ON_FAILURE, and it failed): what iqqq inside would obey,
//   the reaper obeys too.

import type { SecretVariable } from "../inject/sidecars.js";
import { containerKinds, type HttpSidecar, kindOfContainer } from "../sidecar/catalogue.js";
import type { Selector } from "./selector.js";

/** The ephemeral container's name: one per pod, so that no two replicas or retries stop a pod twice. */

/** A variable of the reaper's container: a value, or a Secret's key (inject/sidecars.ts's SecretVariable). */
export type ReaperVariable = { readonly name: string; readonly value: string } | SecretVariable;
export const REAPER_CONTAINER = "iqqq-reaper";

/** The parts of a pod the decision reads (controller.ts keeps only these in memory). */
export interface PodView {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { readonly kind: string; readonly apiVersion: string; readonly name: string }[];
    readonly deletionTimestamp?: string;
  };
  readonly spec: {
    readonly restartPolicy?: string;
    readonly containers: readonly ContainerView[];
    readonly initContainers?: readonly ContainerView[];
    readonly ephemeralContainers?: readonly { readonly name: string }[];
  };
  /**
   * What the wrapper would be told of the pod's sidecars besides their kinds (a port the pod
   * moves, a second sidecar of a kind): inject's reading (inject/sidecars.ts), for the
   * ephemeral container's environment; with a token its stop needs from a Secret (Dapr's).
   */
  readonly env?: readonly ReaperVariable[];
  readonly status?: {
    readonly phase?: string;
    readonly containerStatuses?: readonly ContainerStatusView[];
    /** The reaper's own ephemeral container's, once it has ended (only that one is kept). */
    readonly reaperEnded?: { readonly exitCode: number; readonly message?: string };
  };
}

export interface ContainerView {
  readonly name: string;
  readonly image?: string;
  readonly restartPolicy?: string;
  /** Its own environment says no sidecar is to be stopped: ever, or after it failed (trim() reads it). */
  readonly keepSidecars?: { readonly when: "always" | "on-failure"; readonly variable: string };
}

export interface ContainerStatusView {
  readonly name: string;
  readonly state?: {
    readonly running?: object;
    readonly waiting?: { readonly reason?: string };
    readonly terminated?: { readonly exitCode: number; readonly finishedAt?: string };
  };
  /** It has run before (restartCount above 0, or a lastState.terminated): waiting is then the kubelet's back-off. */
  readonly restarted?: boolean;
}

/** Why a pod is left alone: the label of iqqq_reaper_skipped_total. */
export type SkipReason =
  | "namespace-not-selected"
  | "not-a-job"
  | "deleting"
  | "no-sidecar"
  | "native-sidecar"
  | "job-running"
  | "will-restart"
  | "sidecar-stopped"
  | "already-reaped"
  | "opted-out";

export interface Sidecar {
  readonly kind: HttpSidecar;
  readonly container: string;
}

export type Decision =
  | { readonly kind: "reap"; readonly sidecars: readonly Sidecar[]; readonly why: string }
  | { readonly kind: "wait"; readonly untilMs: number; readonly why: string }
  | { readonly kind: "skip"; readonly reason: SkipReason; readonly why: string };

export interface DecideOptions {
  readonly graceMs: number;
  /** Pods of other batch systems, besides those a Job owns. */
  readonly jobSelector?: Selector;
  readonly nowMs: number;
}

const skip = (reason: SkipReason, why: string): Decision => ({ kind: "skip", reason, why });

export function decide(pod: PodView, options: DecideOptions): Decision {
  const owner = pod.metadata.ownerReferences?.find((o) => o.kind === "Job" && o.apiVersion.startsWith("batch/"));
  const selected = options.jobSelector?.matches(pod.metadata.labels ?? {}) ?? false;
  if (owner === undefined && !selected)
    return skip("not-a-job", "no Job owns it and the job selector does not match its labels");
  if (pod.metadata.deletionTimestamp !== undefined)
    return skip("deleting", "it is being deleted: the kubelet stops every container");
  if (pod.spec.ephemeralContainers?.some((c) => c.name === REAPER_CONTAINER))
    return skip("already-reaped", `it already has the ephemeral container ${REAPER_CONTAINER}`);
  const sidecars: Sidecar[] = [];
  const jobs: string[] = [];
  const keeps: { name: string; keep: NonNullable<ContainerView["keepSidecars"]> }[] = [];
  const kinds = containerKinds(pod.spec.containers);
  for (const [i, c] of pod.spec.containers.entries()) {
    const kind = kinds[i];
    if (kind !== undefined) sidecars.push({ kind, container: c.name });
    else {
      jobs.push(c.name);
      if (c.keepSidecars !== undefined) keeps.push({ name: c.name, keep: c.keepSidecars });
    }
  }
  if (sidecars.length === 0) {
    const native = (pod.spec.initContainers ?? []).find(
      (c) => c.restartPolicy === "Always" && kindOfContainer(c) !== undefined,
    );
    return native !== undefined
      ? skip(
          "native-sidecar",
          `${native.name} is a native sidecar (an init container with restartPolicy: Always): the kubelet stops it after the job`,
        )
      : skip("no-sidecar", "none of its containers is a sidecar iqqq knows");
  }
  if (jobs.length === 0) return skip("no-sidecar", "it has no container besides its sidecars");
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
  const policy = pod.spec.restartPolicy ?? "Always";
  let lastEnd = 0;
  for (const name of jobs) {
    const status = statuses.get(name);
    const state = status?.state;
    const ended = state?.terminated;
    if (ended === undefined) {
      // Waiting after a failure is the kubelet's back-off before the next try; waiting to start
      // for the first time (ContainerCreating, an image being pulled) is a job not run yet.
      return state?.waiting !== undefined && policy !== "Never" && status?.restarted === true
        ? skip(
            "will-restart",
            `${name} is waiting (${state.waiting.reason ?? "no reason"}): the kubelet will run it again`,
          )
        : skip("job-running", `${name} has not ended`);
    }
    if (policy === "Always" || (policy === "OnFailure" && ended.exitCode !== 0))
      return skip(
        "will-restart",
        `${name} exited ${ended.exitCode} under restartPolicy ${policy}: the kubelet will run it again`,
      );
    lastEnd = Math.max(lastEnd, Date.parse(ended.finishedAt ?? "") || 0);
  }
  for (const { name, keep } of keeps) {
    const status = statuses.get(name)?.state?.terminated?.exitCode ?? 0;
    if (keep.when === "always")
      return skip("opted-out", `${name} sets ${keep.variable}=true: its sidecars are never to be stopped`);
    if (status !== 0)
      return skip(
        "opted-out",
        `${name} exited ${status} and sets ${keep.variable}=true: its sidecars are not to be stopped after a failure`,
      );
  }
  const running = sidecars.filter((s) => statuses.get(s.container)?.state?.running !== undefined);
  if (running.length === 0) return skip("sidecar-stopped", "no sidecar of it is running");
  const names = running.map((s) => `${s.container} (${s.kind.name})`).join(", ");
  // No finishedAt (a kubelet always says it): the grace period is counted as over.
  const due = lastEnd + options.graceMs;
  if (due > options.nowMs)
    return {
      kind: "wait",
      untilMs: due,
      why: `its job containers have ended; ${names} may yet be stopped from inside`,
    };
  return {
    kind: "reap",
    sidecars: running,
    why: `every job container (${jobs.join(", ")}) has ended and will not run again, and ${names} ${running.length === 1 ? "was" : "were"} still running ${Math.round(options.graceMs / 1000)} s later`,
  };
}
