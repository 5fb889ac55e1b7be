// One AdmissionReview (admission.k8s.io/v1) answered: for a pod that opted in
// with the label iqqq.io/inject, the injection of src/inject as a JSONPatch.
// Never refuses a pod: anything that goes wrong lets it through unchanged, with
// a warning, as failurePolicy Ignore would.

import { describe, type ImageCommand, InjectError, injectDocument, type Mode, type Volume } from "../inject/inject.js";

/** The label a pod opts in with: "true" or "wrapper", or "watcher". */
export const INJECT_LABEL = "iqqq.io/inject";
/**
 * The annotation a labelled pod gets when it could not be injected, saying why:
 * `kubectl describe pod` shows it. A warning alone reaches only whoever
 * created the pod, which for a Job's pod is the job controller, not a person.
 */
export const NOT_INJECTED_ANNOTATION = "iqqq.io/not-injected";
const REASON_MAX = 1000;

export interface ReviewOptions {
  readonly image: string;
  /** For pods labelled iqqq.io/inject=true; =wrapper and =watcher pick their own. Default wrapper. */
  readonly mode?: Mode;
  readonly volume?: Volume;
  readonly imageCommand?: (image: string) => Promise<ImageCommand>;
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
}

export async function answerReview(body: unknown, options: ReviewOptions): Promise<Reviewed> {
  const request = isObj(body) && isObj(body.request) ? body.request : undefined;
  if (request === undefined || typeof request.uid !== "string")
    throw new Error("not an AdmissionReview: no request.uid");
  const uid = request.uid;
  const answer = (response: Obj, summary: string): Reviewed => ({
    review: {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid, allowed: true, ...response },
    },
    summary,
  });
  const pod = request.object;
  const where = `${typeof request.namespace === "string" ? `${request.namespace}/` : ""}${describe(pod)}`;
  if (!isObj(pod) || pod.kind !== "Pod") return answer({}, `${where}: not a Pod, let through`);
  const labels = isObj(pod.metadata) && isObj(pod.metadata.labels) ? pod.metadata.labels : {};
  const mode = modeOf(labels[INJECT_LABEL], options.mode ?? "wrapper");
  if (mode === undefined) return answer({}, `${where}: no ${INJECT_LABEL} label, let through`);
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
    });
    warnings = (outcome.warnings ?? []).map((w) => `iqqq: ${w}`);
    if (outcome.kind !== "injected")
      return answer(warnings.length > 0 ? { warnings } : {}, `${where}: already injected`);
  } catch (err) {
    if (!(err instanceof InjectError)) throw err;
    const reason = err.message.length > REASON_MAX ? `${err.message.slice(0, REASON_MAX)}…` : err.message;
    return answer(
      {
        patchType: "JSONPatch",
        patch: Buffer.from(JSON.stringify(annotate(pod, NOT_INJECTED_ANNOTATION, reason))).toString("base64"),
        warnings: [`iqqq: not injected: ${err.message}`],
      },
      `${where}${ownerOf(pod)}: not injected: ${err.message}`,
    );
  }
  const patch = diffSpec(pod, changed);
  return answer(
    {
      patchType: "JSONPatch",
      patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
      ...(warnings.length > 0 ? { warnings } : {}),
    },
    `${where}: injected (${mode}), ${patch.length} patch operations${warnings.map((w) => `; ${w}`).join("")}`,
  );
}

/** The answer to a review that was not read: allowed, unchanged, with a warning saying why. */
export function shedReview(uid: string, why: string): Reviewed {
  return {
    review: {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid, allowed: true, warnings: [`iqqq: not injected: ${why}`] },
    },
    summary: `review ${JSON.stringify(uid)}: not read, let through: ${why}`,
  };
}

function modeOf(label: unknown, byDefault: Mode): Mode | undefined {
  if (label === "true") return byDefault;
  if (label === "wrapper") return "wrapper";
  if (label === "watcher") return "watcher";
  return undefined;
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
