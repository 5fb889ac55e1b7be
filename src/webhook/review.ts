// One AdmissionReview (admission.k8s.io/v1) answered: for a pod that opted in,
// the injection of src/inject as a JSONPatch. Never refuses a pod: anything
// that goes wrong lets it through unchanged, with a warning, as failurePolicy
// Ignore would.
//
// Which pods opted in (decide(), docs/inject.md "Which pods"): the label
// iqqq.io/inject on the pod, or its namespace's label iqqq.io/inject=enabled.
// A review carries the namespace's name, not its labels: the webhook
// configuration's namespaceSelector reads them, and sends the pods of opted-in
// namespaces to their own path (/inject/namespace), which is what tells this
// code the namespace opted in. Reading the namespace from the API instead would
// need a token, a permission and a call per pod; the path needs none.

import {
  describe,
  type ImageCommand,
  InjectError,
  injectDocument,
  type Mode,
  type Unfit,
  unfitPod,
  type Volume,
} from "../inject/inject.js";

/** The label a pod opts in with: "true" or "wrapper", or "watcher". */
export const INJECT_LABEL = "iqqq.io/inject";
/**
 * The annotation a labelled pod gets when it could not be injected, saying why:
 * `kubectl describe pod` shows it. A warning alone reaches only whoever
 * created the pod, which for a Job's pod is the job controller, not a person.
 */
export const NOT_INJECTED_ANNOTATION = "iqqq.io/not-injected";
const REASON_MAX = 1000;

/** The namespaces whose pods are never injected, whatever they say: the control plane's. */
export const NEVER_NAMESPACES: readonly string[] = ["kube-system"];
/** A namespace's label value that opts its pods in (the pod's label "false" still opts out). */
export const NAMESPACE_ENABLED = "enabled";

export interface ReviewOptions {
  readonly image: string;
  /** For pods labelled iqqq.io/inject=true; =wrapper and =watcher pick their own. Default wrapper. */
  readonly mode?: Mode;
  readonly volume?: Volume;
  readonly imageCommand?: (image: string, platforms: readonly string[]) => Promise<readonly ImageCommand[]>;
  /** --platform; undefined: the pod's node architecture, else both (inject.ts). */
  readonly platform?: string | undefined;
  /** The API server found the pod's namespace labelled iqqq.io/inject=enabled (the review came to /inject/namespace). */
  readonly namespaceOptedIn?: boolean;
  /** The webhook's own namespace: never injected, as kube-system. */
  readonly ownNamespace?: string;
}

/** What became of a review: /metrics counts these. */
export type Outcome = "injected" | "skipped" | "not-injected" | "error";
/**
 * Why a pod was skipped or not injected: a fixed set (never a pod's name or
 * an error's text), so that /metrics has a bounded number of series.
 * skipped: not-a-pod, not-opted-in, opted-out, namespace, already-injected;
 * not-injected (the pod is annotated and warned): host-network, not-linux,
 * label-value, cannot-inject; not read at all: busy, too-many-objects; error: bad-request
 * (not an AdmissionReview, no length, too large, too slow).
 */
export type Reason =
  | "not-a-pod"
  | "not-opted-in"
  | "opted-out"
  | "namespace"
  | "already-injected"
  | "host-network"
  | "not-linux"
  | "label-value"
  | "cannot-inject"
  | "busy"
  | "too-many-objects"
  | "bad-request"
  | "";
export const REASONS: readonly Reason[] = [
  "not-a-pod",
  "not-opted-in",
  "opted-out",
  "namespace",
  "already-injected",
  "host-network",
  "not-linux",
  "label-value",
  "cannot-inject",
  "busy",
  "too-many-objects",
];

/** Whether a pod gets iqqq, and how; or why not (not-injected: the pod wanted iqqq, and is told why it has none). */
export type Decision =
  | { readonly mode: Mode }
  | { readonly outcome: "skipped" | "not-injected"; readonly reason: Reason; readonly why: string };

export interface PodFacts {
  readonly namespace: string | undefined;
  readonly labels: Readonly<Record<string, unknown>>;
  /** Why no iqqq can run in it (inject/inject.ts's unfitPod: the host's network, not Linux), if so. */
  readonly unfit: Unfit | undefined;
}

/** docs/inject.md's table "Which pods", in code. */
export function decide(
  pod: PodFacts,
  options: Pick<ReviewOptions, "mode" | "namespaceOptedIn" | "ownNamespace">,
): Decision {
  const byDefault = options.mode ?? "wrapper";
  const skip = (reason: Reason, why: string): Decision => ({ outcome: "skipped", reason, why });
  const refuse = (reason: Reason, why: string): Decision => ({ outcome: "not-injected", reason, why });
  // Checked here too, not only by the webhook configuration's selectors: a configuration
  // edited by hand must still never have the control plane's pods, or the webhook's own, changed.
  if (
    pod.namespace !== undefined &&
    (NEVER_NAMESPACES.includes(pod.namespace) || pod.namespace === options.ownNamespace)
  )
    return skip("namespace", `namespace ${pod.namespace} is never injected`);
  const label = pod.labels[INJECT_LABEL];
  let mode: Mode;
  if (label === "false") return skip("opted-out", `${INJECT_LABEL}: "false"`);
  if (label === undefined) {
    if (options.namespaceOptedIn !== true) return skip("not-opted-in", `no ${INJECT_LABEL} label`);
    mode = byDefault;
  } else if (label === "true") mode = byDefault;
  else if (label === "wrapper" || label === "watcher") mode = label;
  // Only the namespace's opt-in brings such a pod here (the configuration sends none to /inject):
  // its label then says something iqqq cannot read, and the pod is told.
  else if (options.namespaceOptedIn !== true) return skip("not-opted-in", `no ${INJECT_LABEL} label iqqq reads`);
  else
    return refuse(
      "label-value",
      `the label ${INJECT_LABEL} is ${JSON.stringify(String(label).slice(0, 63))}: expected true, wrapper, watcher or false`,
    );
  if (pod.unfit !== undefined) return refuse(pod.unfit.reason, pod.unfit.why);
  return { mode };
}

export interface PatchOperation {
  readonly op: "add" | "replace";
  readonly path: string;
  readonly value: unknown;
}

type Obj = Record<string, unknown>;

export interface Reviewed {
  /** The AdmissionReview to answer with. */
  readonly review: Obj;
  /** For the log. */
  readonly summary: string;
  /** For /metrics. */
  readonly outcome: Outcome;
  readonly reason: Reason;
}

export async function answerReview(body: unknown, options: ReviewOptions): Promise<Reviewed> {
  const request = isObj(body) && isObj(body.request) ? body.request : undefined;
  if (request === undefined || typeof request.uid !== "string")
    throw new Error("not an AdmissionReview: no request.uid");
  const uid = request.uid;
  const answer = (response: Obj, summary: string, outcome: Outcome, reason: Reason): Reviewed => ({
    review: {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid, allowed: true, ...response },
    },
    summary,
    outcome,
    reason,
  });
  const pod = request.object;
  const namespace = typeof request.namespace === "string" ? request.namespace : undefined;
  const where = `${namespace !== undefined ? `${namespace}/` : ""}${describe(pod)}`;
  if (!isObj(pod) || pod.kind !== "Pod") return answer({}, `${where}: not a Pod, let through`, "skipped", "not-a-pod");
  const labels = isObj(pod.metadata) && isObj(pod.metadata.labels) ? pod.metadata.labels : {};
  const decision = decide({ namespace, labels, unfit: unfitPod(pod.spec) }, options);
  if (!("mode" in decision)) {
    if (decision.outcome === "skipped")
      return answer({}, `${where}: ${decision.why}, let through`, "skipped", decision.reason);
    return notInjected(pod, decision.why, `${where}${ownerOf(pod)}`, decision.reason);
  }
  const mode = decision.mode;
  // Only the spec is changed in place (metadata is replaced whole): the rest, large annotations
  // included, is shared rather than copied.
  const changed: Obj = { ...pod, spec: structuredClone(pod.spec) };
  let warnings: readonly string[];
  try {
    const outcome = await injectDocument(changed, {
      image: options.image,
      mode,
      ...(options.volume !== undefined ? { volume: options.volume } : {}),
      ...optional(options.imageCommand),
      platform: options.platform,
    });
    warnings = (outcome.warnings ?? []).map((w) => `iqqq: ${w}`);
    if (outcome.kind !== "injected")
      return answer(
        warnings.length > 0 ? { warnings } : {},
        `${where}: already injected`,
        "skipped",
        "already-injected",
      );
  } catch (err) {
    if (!(err instanceof InjectError)) throw err;
    return notInjected(pod, err.message, `${where}${ownerOf(pod)}`, "cannot-inject");
  }
  const patch = diffSpec(pod, changed);
  return answer(
    {
      patchType: "JSONPatch",
      patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
      ...(warnings.length > 0 ? { warnings } : {}),
    },
    `${where}: injected (${mode}), ${patch.length} patch operations${warnings.map((w) => `; ${w}`).join("")}`,
    "injected",
    "",
  );

  /** Let through, with the reason in the pod's annotation and in a warning. */
  function notInjected(pod: Obj, why: string, who: string, reason: Reason): Reviewed {
    const text = why.length > REASON_MAX ? `${why.slice(0, REASON_MAX)}…` : why;
    return answer(
      {
        patchType: "JSONPatch",
        patch: Buffer.from(JSON.stringify(annotate(pod, NOT_INJECTED_ANNOTATION, text))).toString("base64"),
        warnings: [`iqqq: not injected: ${why}`],
      },
      `${who}: not injected: ${why}`,
      "not-injected",
      reason,
    );
  }
}

/** The answer to a review that was not read: allowed, unchanged, with a warning saying why. */
export function shedReview(uid: string, why: string, reason: "busy" | "too-many-objects"): Reviewed {
  return {
    outcome: "not-injected",
    reason,
    review: {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid, allowed: true, warnings: [`iqqq: not injected: ${why}`] },
    },
    summary: `review ${JSON.stringify(uid)}: not read, let through: ${why}`,
  };
}

/** The spec fields the injection changed, and the pod's annotations if it added any, each added or replaced whole. */
export function diffSpec(before: Obj, after: Obj): PatchOperation[] {
  const old = (isObj(before.spec) ? before.spec : {}) as Obj;
  const now = (isObj(after.spec) ? after.spec : {}) as Obj;
  const ops: PatchOperation[] = [];
  for (const key of Object.keys(now)) {
    if (JSON.stringify(old[key]) === JSON.stringify(now[key])) continue;
    ops.push({ op: key in old ? "replace" : "add", path: `/spec/${pointerEscape(key)}`, value: now[key] });
  }
  const meta = (o: Obj): Obj => (isObj(o.metadata) ? o.metadata : {});
  const annotations = meta(after).annotations;
  if (JSON.stringify(meta(before).annotations) !== JSON.stringify(annotations)) {
    if (!isObj(before.metadata)) ops.push({ op: "add", path: "/metadata", value: {} });
    const op = isObj(meta(before).annotations) ? "replace" : "add";
    ops.push({ op, path: "/metadata/annotations", value: annotations });
  }
  return ops;
}

/** Operations adding one annotation to the pod, whatever metadata it has. */
function annotate(pod: Obj, key: string, value: string): PatchOperation[] {
  const meta = isObj(pod.metadata) ? pod.metadata : undefined;
  if (meta === undefined) return [{ op: "add", path: "/metadata", value: { annotations: { [key]: value } } }];
  if (!isObj(meta.annotations)) return [{ op: "add", path: "/metadata/annotations", value: { [key]: value } }];
  return [{ op: "add", path: `/metadata/annotations/${pointerEscape(key)}`, value }];
}

/** " (of Job/report)", from the pod's first owner reference, for the log; "" when it has none. */
function ownerOf(pod: Obj): string {
  const owners = isObj(pod.metadata) && Array.isArray(pod.metadata.ownerReferences) ? pod.metadata.ownerReferences : [];
  const first = owners[0] as { kind?: unknown; name?: unknown } | undefined;
  return typeof first?.kind === "string" && typeof first.name === "string" ? ` (of ${first.kind}/${first.name})` : "";
}

/** JSON Pointer (RFC 6901) escaping. */
function pointerEscape(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function optional<T>(f: T | undefined): { imageCommand?: T } {
  return f === undefined ? {} : { imageCommand: f };
}

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
