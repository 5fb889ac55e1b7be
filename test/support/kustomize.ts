// deploy/ as kubectl renders it (`kubectl kustomize`, offline: no API server is
// needed), and Kubernetes' label selectors evaluated as the API server does,
// so that a test can send the webhook exactly the reviews the rendered
// MutatingWebhookConfiguration would have sent.

import { spawnSync } from "node:child_process";
import { cp, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./cli.js";
import type { Obj } from "./read-back.js";

export const DEPLOY = join(ROOT, "deploy");

/** The objects `kubectl kustomize DIR` renders; throws with kubectl's message when it fails. */
export function kustomize(dir: string): Obj[] {
  const r = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  if (r.error !== undefined) throw new Error(`kubectl is needed to render ${dir}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
}

/** A copy of deploy/ in a new temporary folder, to render with changes of a test's own. */
export async function deployCopy(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), "iqqq-deploy-")), "deploy");
  await cp(DEPLOY, dir, { recursive: true });
  return dir;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    readonly values?: readonly string[];
  }[];
}

/**
 * Whether `labels` match `selector`, as apimachinery's LabelSelectorAsSelector
 * reads it: every term must hold; NotIn and DoesNotExist hold when the label is
 * missing; an absent selector matches everything.
 */
export function selects(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const holds =
      operator === "In"
        ? has && values.includes(labels[key] as string)
        : operator === "NotIn"
          ? !has || !values.includes(labels[key] as string)
          : operator === "Exists"
            ? has
            : has === false;
    if (!holds) return false;
  }
  return true;
}

/**
 * The webhooks of a MutatingWebhookConfiguration the API server calls for a pod
 * created in a namespace: a namespace's labels include
 * kubernetes.io/metadata.name, which the API server sets on every namespace.
 */
export function webhooksFor(
  configuration: Obj,
  namespace: { readonly name: string; readonly labels: Readonly<Record<string, string>> },
  podLabels: Readonly<Record<string, string>>,
): Obj[] {
  const nsLabels = { ...namespace.labels, "kubernetes.io/metadata.name": namespace.name };
  return (configuration.webhooks as Obj[]).filter(
    (w) =>
      (w.rules as Obj[]).some(
        (r) => r.operations.includes("CREATE") && r.resources.includes("pods") && r.apiGroups.includes(""),
      ) &&
      selects(w.namespaceSelector, nsLabels) &&
      selects(w.objectSelector, podLabels),
  );
}
