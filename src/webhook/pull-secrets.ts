// iqqq webhook --pull-secrets read: a pod's imagePullSecrets, read from the
// Kubernetes API with the webhook's service account, for the look-up of its
// images' ENTRYPOINT and CMD. Off by default (docs/inject.md says why: the
// webhook then needs to read every Secret in the cluster).
//
// What it trusts and bounds: the secret names and the namespace come from the
// review, that is from whoever created the pod, and are used only if they are
// Kubernetes names (no path can be made of them); at most SECRETS_PER_POD are
// read, each answer at most SECRET_BYTES, within the review's look-up deadline.
// Only a secret of type kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg is used; anything else is ignored, and nothing of a
// secret ever reaches a log line, a warning or /metrics. The credentials are
// kept only while the review is answered, never cached (the look-up cache keys
// its answers by a hash of them instead).

import type { Env } from "../io.js";
import { builtin } from "../runtime/builtins.js";

/** Secrets read for one pod; more are ignored. */
export const SECRETS_PER_POD = 5;
/** A Secret is at most 1 MiB in etcd; its JSON, base64 inside, a third more. */
const SECRET_BYTES = 1536 * 1024;
const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A DNS subdomain (RFC 1123), which Secret names and namespaces are. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export class PullSecrets {
  readonly #api: string;
  readonly #dir: string;

  /** From the in-cluster variables; `IQQQ_SERVICE_ACCOUNT_DIR` moves the token and CA (tests). */
  constructor(env: Env) {
    const host = env.KUBERNETES_SERVICE_HOST ?? "";
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    if (host === "") throw new Error("--pull-secrets read: KUBERNETES_SERVICE_HOST is not set (not in a cluster?)");
    this.#api = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.#dir = env.IQQQ_SERVICE_ACCOUNT_DIR || SERVICE_ACCOUNT;
  }

  /**
   * registry host → base64(user:password), from the pod's pull secrets (the first
   * secret naming a registry wins, as with the kubelet). Secrets that cannot be
   * read are left out; `problems` says which, by name only.
   */
  async credentials(
    namespace: unknown,
    pod: unknown,
    signal: AbortSignal,
  ): Promise<{ auths: Map<string, string>; problems: string[] }> {
    const auths = new Map<string, string>();
    const problems: string[] = [];
    const spec = isObj(pod) && isObj(pod.spec) ? pod.spec : {};
    const refs = Array.isArray(spec.imagePullSecrets) ? spec.imagePullSecrets : [];
    if (refs.length === 0) return { auths, problems };
    if (typeof namespace !== "string" || !NAME.test(namespace)) return { auths, problems: ["no namespace"] };
    const names = refs
      .map((r: unknown) => (isObj(r) ? r.name : undefined))
      .filter((n: unknown): n is string => typeof n === "string")
      .slice(0, SECRETS_PER_POD);
    for (const name of names) {
      if (!NAME.test(name)) {
        problems.push("a pull secret's name is not a Kubernetes name");
        continue;
      }
      try {
        for (const [host, auth] of parseDockerConfig(await this.#get(namespace, name, signal)))
          if (!auths.has(host)) auths.set(host, auth);
      } catch (err) {
        problems.push(`pull secret ${name}: ${(err as Error).message}`);
      }
    }
    return { auths, problems };
  }

  async #get(namespace: string, name: string, signal: AbortSignal): Promise<unknown> {
    const fs = builtin("node:fs");
    // Read each time: a projected token is rotated in place.
    const token = fs.readFileSync(`${this.#dir}/token`, "utf8").trim();
    const ca = fs.readFileSync(`${this.#dir}/ca.crt`);
    const url = new URL(`${this.#api}/api/v1/namespaces/${namespace}/secrets/${name}`);
    return new Promise((resolve, reject) => {
      const req = builtin("node:https").request(
        url,
        { ca, headers: { authorization: `Bearer ${token}`, accept: "application/json" }, signal, agent: false },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            // 403: the webhook may not read it (RBAC); 404: no such secret. The status alone is said.
            return reject(new Error(`the API answered ${res.statusCode}`));
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > SECRET_BYTES) {
              req.destroy();
              reject(new Error("the API's answer is too large"));
            } else chunks.push(chunk);
          });
          res.on("end", () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
            } catch {
              reject(new Error("the API's answer is not JSON"));
            }
          });
          res.on("error", reject);
        },
      );
      req.on("error", (err) =>
        reject(new Error(`cannot reach the API: ${(err as NodeJS.ErrnoException).code ?? "error"}`)),
      );
      req.end();
    });
  }
}

/** registry host → base64(user:password) from a Secret of a Docker config type; empty for any other. */
export function parseDockerConfig(secret: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!isObj(secret) || !isObj(secret.data)) return out;
  const key =
    secret.type === "kubernetes.io/dockerconfigjson"
      ? ".dockerconfigjson"
      : secret.type === "kubernetes.io/dockercfg"
        ? ".dockercfg"
        : undefined;
  const encoded = key === undefined ? undefined : secret.data[key];
  if (typeof encoded !== "string") return out;
  let config: unknown;
  try {
    config = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
  } catch {
    return out;
  }
  // .dockerconfigjson: { auths: { HOST: entry } }; the older .dockercfg: { HOST: entry }.
  const auths = isObj(config) ? (key === ".dockerconfigjson" ? config.auths : config) : undefined;
  if (!isObj(auths)) return out;
  for (const [name, entry] of Object.entries(auths)) {
    if (!isObj(entry)) continue;
    const host = name.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const docker = host === "index.docker.io" || host === "docker.io" ? "registry-1.docker.io" : host;
    if (typeof entry.auth === "string" && entry.auth !== "") out.set(docker, entry.auth);
    else if (typeof entry.username === "string" && typeof entry.password === "string")
      out.set(docker, Buffer.from(`${entry.username}:${entry.password}`).toString("base64"));
  }
  return out;
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
