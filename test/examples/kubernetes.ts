// Validates Kubernetes objects against the API's OpenAPI schema, offline, with
// the validators that kubernetes-models compiles from it, and strictly: a field
// the schema does not know is an error too, as `kubectl apply
// --validate=strict` makes it. The compiled validators allow unknown fields, so
// the object is wrapped in Proxies that record which fields the validator
// looked at: it looks at every field its schema declares (and at all the keys
// of a map), so a field it never looked at is one the schema does not have.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/cli.js";

const SCHEMAS = join(ROOT, "node_modules/kubernetes-models/_schemas");
const META_SCHEMAS = join(ROOT, "node_modules/@kubernetes-models/apimachinery/_schemas");

/** apiVersion/kind → schema name, for the kinds the examples use. */
const KINDS: Readonly<Record<string, string>> = {
  "v1/Pod": "IoK8sApiCoreV1Pod",
  "batch/v1/Job": "IoK8sApiBatchV1Job",
  "batch/v1/CronJob": "IoK8sApiBatchV1CronJob",
  "v1/Namespace": "IoK8sApiCoreV1Namespace",
  "v1/ServiceAccount": "IoK8sApiCoreV1ServiceAccount",
  "v1/Service": "IoK8sApiCoreV1Service",
  "apps/v1/Deployment": "IoK8sApiAppsV1Deployment",
  "policy/v1/PodDisruptionBudget": "IoK8sApiPolicyV1PodDisruptionBudget",
  "rbac.authorization.k8s.io/v1/ClusterRole": "IoK8sApiRbacV1ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "IoK8sApiRbacV1ClusterRoleBinding",
  "networking.k8s.io/v1/NetworkPolicy": "IoK8sApiNetworkingV1NetworkPolicy",
  "rbac.authorization.k8s.io/v1/Role": "IoK8sApiRbacV1Role",
  "rbac.authorization.k8s.io/v1/RoleBinding": "IoK8sApiRbacV1RoleBinding",
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration":
    "IoK8sApiAdmissionregistrationV1MutatingWebhookConfiguration",
};

type Validator = ((data: unknown) => boolean) & {
  errors?: readonly { instancePath: string; message?: string; params?: unknown }[] | null;
};

export async function validateObject(object: Record<string, unknown>): Promise<string[]> {
  const key = `${object.apiVersion}/${object.kind}`;
  const schema = KINDS[key];
  if (schema === undefined) return [`no schema for ${key}: add it to test/examples/kubernetes.ts`];
  const { validate } = (await import(join(SCHEMAS, `${schema}.mjs`))) as { validate: Validator };
  const looked = new Map<object, Set<string>>();
  const paths = new Map<object, string>();
  const ok = validate(watch(object, "", looked, paths));
  const problems = ok
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message ?? ""} ${JSON.stringify(e.params)}`);
  for (const [value, path] of paths) {
    if (Array.isArray(value)) continue;
    const seen = looked.get(value) ?? new Set();
    for (const field of Object.keys(value)) {
      if (!seen.has(field)) problems.push(`${path}/${field}: unknown field`);
    }
  }
  return problems;
}

function watch(value: unknown, path: string, looked: Map<object, Set<string>>, paths: Map<object, string>): unknown {
  if (typeof value !== "object" || value === null) return value;
  paths.set(value, path);
  const note = looked.get(value) ?? new Set<string>();
  looked.set(value, note);
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || !Object.hasOwn(target, key)) return child;
      note.add(key);
      return watch(child, `${path}/${key}`, looked, paths);
    },
    has(target, key) {
      if (typeof key === "string") note.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      for (const key of Reflect.ownKeys(target)) if (typeof key === "string") note.add(key);
      return Reflect.ownKeys(target);
    },
  });
}

/** Whether the Python client's class V1Name (k8s.V1Name) exists: its schema does, core or meta. */
export function isClientModel(className: string): boolean {
  const name = className.replace(/^V1/, "");
  if (name === className) return false;
  return (
    existsSync(join(SCHEMAS, `IoK8sApiCoreV1${name}.mjs`)) ||
    existsSync(join(META_SCHEMAS, `IoK8sApimachineryPkgApisMetaV1${name}.mjs`))
  );
}
