// IQQQ_POD_LOOKUP=api: the pod's own spec from the Kubernetes API server, with
// the pod's service account (needs RBAC `get` on pods). Native sidecars of any
// kind show there as init containers with `restartPolicy: Always`; those that are
// a sidecar iqqq knows get no quit. Any error (403, no token, timeout) is one
// warning, and the stop goes on as without it: never skip a stop on doubt.

import { builtin } from "../runtime/builtins.js";
import { containerKinds, kindOfContainer } from "../sidecar/catalogue.js";

export const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

interface Container {
  readonly name: string;
  readonly image?: string;
  readonly restartPolicy?: string;
}

export type Lookup =
  | {
      readonly kind: "ok";
      readonly skip: ReadonlyMap<string, string>;
      /** Known sidecars among its (regular) containers. */
      readonly present: ReadonlySet<string>;
      readonly restartPolicy: string | undefined;
      readonly pod: string;
    }
  | { readonly kind: "error"; readonly message: string };

export interface LookupOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs: number;
  readonly serviceAccount?: string;
}

export async function lookupPod(options: LookupOptions): Promise<Lookup> {
  const { env, timeoutMs } = options;
  const dir = options.serviceAccount ?? SERVICE_ACCOUNT;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const name = env.POD_NAME || env.HOSTNAME;
  if (!host) return { kind: "error", message: "KUBERNETES_SERVICE_HOST is not set" };
  if (!name) return { kind: "error", message: "neither POD_NAME nor HOSTNAME names the pod" };
  let token: string;
  let ca: Buffer;
  let namespace: string;
  try {
    token = builtin("node:fs").readFileSync(`${dir}/token`, "utf8").trim();
    ca = builtin("node:fs").readFileSync(`${dir}/ca.crt`);
    namespace = env.POD_NAMESPACE || builtin("node:fs").readFileSync(`${dir}/namespace`, "utf8").trim();
  } catch (err) {
    return { kind: "error", message: `no service account (${(err as Error).message})` };
  }
  const https = builtin("node:https");
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
  const hostname = host.includes(":") ? `[${host}]` : host;
  const where = `GET https://${hostname}:${port}${path}`;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: Lookup): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      req.destroy();
      settle({ kind: "error", message: `${where}: no answer within ${timeoutMs}ms` });
    }, timeoutMs);
    const req = https.request(
      {
        host,
        port: Number(port),
        path,
        method: "GET",
        ca,
        agent: false,
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size <= 4 * 1024 * 1024) chunks.push(chunk);
        });
        res.on("error", (err) => settle({ kind: "error", message: `${where}: ${err.message}` }));
        res.on("end", () => {
          if (res.statusCode !== 200) {
            const reason = res.statusCode === 403 ? " (the service account may not get pods: RBAC)" : "";
            settle({ kind: "error", message: `${where}: ${res.statusCode}${reason}` });
            return;
          }
          try {
            const pod = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
              spec?: { initContainers?: Container[]; containers?: Container[]; restartPolicy?: string };
            };
            const skip = nativeSidecars(pod.spec?.initContainers ?? []);
            const present = new Set(containerKinds(pod.spec?.containers ?? []).flatMap((k) => k?.name ?? []));
            settle({
              kind: "ok",
              skip,
              present,
              restartPolicy: pod.spec?.restartPolicy,
              pod: `${namespace}/${name}`,
            });
          } catch (err) {
            settle({ kind: "error", message: `${where}: not a pod (${(err as Error).message})` });
          }
        });
      },
    );
    req.on("error", (err) => settle({ kind: "error", message: `${where}: ${err.message}` }));
    req.end();
  });
}

/** Known sidecars among the init containers with restartPolicy: Always. */
export function nativeSidecars(initContainers: readonly Container[]): Map<string, string> {
  const skip = new Map<string, string>();
  for (const c of initContainers) {
    if (c.restartPolicy !== "Always") continue;
    const known = kindOfContainer(c);
    if (known !== undefined && !skip.has(known.name)) {
      skip.set(
        known.name,
        `the pod's spec has ${c.name} as a native sidecar (an init container with restartPolicy: Always): the kubelet stops it after the job, and a quit would only restart it`,
      );
    }
  }
  return skip;
}
