// Which sidecars a pod has, read from its spec and metadata when iqqq is put
// into it, so that the wrapper knows what to stop (IQQQ_SIDECARS), what is
// there but may still be starting (IQQQ_POD_SIDECARS), and on which port
// (CLOUDSQL_ADMIN_PORT). The marks each mesh leaves (../shared/research):
// Istio's `sidecar.istio.io/inject` label or annotation, or its istio-proxy
// container; Linkerd's `linkerd.io/inject` annotation, or its linkerd-proxy
// container; any other kind of the catalogue by its container. A sidecar that
// runs as a native one (an init container with restartPolicy: Always, or the
// mesh's native annotation) is the kubelet's to stop, and left out.

import { type HttpSidecar, SIDECARS, sidecar } from "../sidecar/catalogue.js";

type Obj = Record<string, unknown>;

interface Container {
  readonly name: string;
  readonly image?: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly env?: readonly Obj[];
  readonly restartPolicy?: string;
}

export interface PodSidecars {
  /** IQQQ_SIDECARS for the job containers; undefined: nothing says, the wrapper's default (istio). */
  readonly stop: readonly string[] | undefined;
  /** IQQQ_POD_SIDECARS: the kinds the pod has (or will have, once its mesh's injector has run). */
  readonly present: readonly string[];
  /** Other variables the wrapper needs: a sidecar's port where the pod moves it. */
  readonly env: readonly { readonly name: string; readonly value: string }[];
  /** Annotations the pod needs for a sidecar of it to be stoppable at all (Linkerd's shutdown endpoint). */
  readonly annotations: Readonly<Record<string, string>>;
  /** What stands in the way of a pod that ends, for the person who runs inject. */
  readonly warnings: readonly string[];
}

/** The annotation that turns Linkerd's /shutdown on for a workload (off by default since Linkerd 2.16). */
export const LINKERD_SHUTDOWN = "config.linkerd.io/proxy-admin-shutdown";

export function podSidecars(
  meta: Obj,
  containers: readonly Container[],
  initContainers: readonly Container[],
): PodSidecars {
  const labels = record(meta.labels);
  const annotations = record(meta.annotations);
  const present: string[] = [];
  const env: { name: string; value: string }[] = [];
  const warnings: string[] = [];
  const needs: Record<string, string> = {};
  const extra: string[] = [];
  const running = (kind: HttpSidecar) => containers.filter((c) => kind.container(c));
  const native = (kind: HttpSidecar) =>
    initContainers.some((c) => c.restartPolicy === "Always" && kind.container(c)) ||
    kind.nativeAnnotations.some((key) => annotations[key] === "true");

  // Istio: its label wins over its annotation, as in Istio's own injector.
  const istio = sidecar("istio");
  const istioSays = labels["sidecar.istio.io/inject"] ?? annotations["sidecar.istio.io/inject"];
  const istioNative = native(istio) || annotations["sidecar.istio.io/nativeSidecar"] === "true";
  if (!istioNative && (running(istio).length > 0 || istioSays === "true")) present.push("istio");

  const linkerd = sidecar("linkerd");
  const linkerdSays = annotations["linkerd.io/inject"];
  if (!native(linkerd) && (running(linkerd).length > 0 || linkerdSays === "enabled" || linkerdSays === "ingress")) {
    present.push("linkerd");
    const proxy = running(linkerd)[0];
    if (proxy !== undefined) {
      // Injected already (linkerd inject): its /shutdown is on only if the proxy was told so.
      const on = proxy.env?.some((e) => e.name === "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED" && e.value === "true");
      if (!on && annotations[LINKERD_SHUTDOWN] !== "enabled")
        warnings.push(
          `${proxy.name} has no shutdown endpoint (LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED is not "true"): iqqq cannot stop it, and the pod will not end; inject before linkerd inject, or annotate the pod ${LINKERD_SHUTDOWN}: enabled`,
        );
    } else if (annotations[LINKERD_SHUTDOWN] !== "enabled") needs[LINKERD_SHUTDOWN] = "enabled";
  }

  for (const kind of SIDECARS) {
    if (kind.name === "istio" || kind.name === "linkerd" || native(kind)) continue;
    for (const c of running(kind)) {
      if (kind.name === "cloudsql") {
        // Its flags, or the CSQL_PROXY_* variables that stand for them (cloud-sql-proxy v2).
        const words = [...(c.command ?? []), ...(c.args ?? [])];
        const variable = (name: string) => c.env?.find((e) => e.name === name)?.value as string | undefined;
        const quit = flagValue(words, "--quitquitquit", true) ?? variable("CSQL_PROXY_QUITQUITQUIT");
        if (quit === undefined || !GO_TRUE.has(quit)) {
          warnings.push(
            `${c.name} (cloud-sql-proxy) runs without --quitquitquit: iqqq cannot stop it, and the pod will not end; add --quitquitquit to its args`,
          );
          continue;
        }
        const port = flagValue(words, "--admin-port") ?? variable("CSQL_PROXY_ADMIN_PORT") ?? String(kind.port.default);
        // One CLOUDSQL_ADMIN_PORT: a second proxy on another port is POSTed as a generic endpoint.
        if (!present.includes(kind.name)) {
          if (port !== String(kind.port.default)) env.push({ name: kind.port.variable, value: port });
        } else extra.push(`http://127.0.0.1:${port}/${kind.quitPath}`);
      }
      if (!present.includes(kind.name)) present.push(kind.name);
    }
  }

  if (extra.length > 0) env.push({ name: "GENERIC_QUIT_ENDPOINTS", value: extra.join(",") });
  const stop = present.length > 0 ? present : istioSays === "false" ? ["auto"] : undefined;
  return { stop, present, env, annotations: needs, warnings };
}

/** Go's flag package's true (strconv.ParseBool). */
const GO_TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);

/** A flag's value, as Go's flag package reads it: `--flag=V`, `--flag V`, or a bool flag alone ("true"). */
function flagValue(words: readonly string[], flag: string, bool = false): string | undefined {
  for (const [i, w] of words.entries()) {
    for (const f of [flag, flag.slice(1)]) {
      if (w.startsWith(`${f}=`)) return w.slice(f.length + 1);
      if (w === f) return bool ? "true" : words[i + 1];
    }
  }
  return undefined;
}

function record(x: unknown): Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}
