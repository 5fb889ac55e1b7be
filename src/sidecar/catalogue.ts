// Every sidecar kind iqqq knows, one record each: its ports and their
// variables, how to stop it, how to ask whether it is ready, the answers that
// deserve a hint, and how it shows in a pod as a native sidecar. Config, the
// stop, the readiness wait, pod facts and --explain all read this table; adding
// a sidecar is adding a record. Facts: ../shared/research/sidecars.md.

export interface PortSetting {
  readonly variable: string;
  readonly default: number;
}

export interface Hint {
  readonly status: number;
  readonly body: string;
  readonly hint: string;
}

export interface HttpSidecar {
  readonly name: "istio" | "envoy" | "linkerd" | "cloudsql";
  /** What it is, for --explain and docs. */
  readonly what: string;
  /** The port its quit endpoint listens on, loopback. */
  readonly port: PortSetting;
  /** POST this path to stop it. */
  readonly quitPath: string;
  /** GET this to know it is ready (IQQQ_WAIT_FOR); expectLive: Envoy's /server_info "state": "LIVE". */
  readonly ready?: { readonly port: PortSetting; readonly path: string };
  readonly hints: readonly Hint[];
  /** Pod annotations whose value "true" says it runs as a native sidecar. */
  readonly nativeAnnotations: readonly string[];
  /** Whether a container of a pod spec is this sidecar. */
  readonly container: (c: { readonly name: string; readonly image?: string }) => boolean;
}

export const SIDECARS: readonly HttpSidecar[] = [
  {
    name: "istio",
    what: "Istio's pilot-agent (istio-proxy)",
    port: { variable: "ISTIO_PORT", default: 15020 },
    quitPath: "quitquitquit",
    ready: { port: { variable: "ISTIO_READY_PORT", default: 15021 }, path: "healthz/ready" },
    hints: [],
    // Istio says it in sidecar.istio.io/status instead: pod/facts.ts reads that.
    nativeAnnotations: [],
    container: (c) => c.name === "istio-proxy" || /\/proxyv2[:@]/.test(c.image ?? ""),
  },
  {
    name: "envoy",
    what: "a plain Envoy's admin interface (Consul, Kuma, OSM…)",
    port: { variable: "ENVOY_ADMIN_PORT", default: 15000 },
    quitPath: "quitquitquit",
    ready: { port: { variable: "ENVOY_ADMIN_PORT", default: 15000 }, path: "ready" },
    hints: [],
    nativeAnnotations: [],
    container: (c) => c.name === "envoy" || /envoyproxy\/envoy[:@]/.test(c.image ?? ""),
  },
  {
    name: "linkerd",
    what: "Linkerd's proxy admin server",
    port: { variable: "LINKERD_ADMIN_PORT", default: 4191 },
    quitPath: "shutdown",
    ready: { port: { variable: "LINKERD_ADMIN_PORT", default: 4191 }, path: "ready" },
    hints: [
      {
        status: 404,
        body: "shutdown endpoint is not enabled",
        hint: "enable it with the pod annotation config.linkerd.io/proxy-admin-shutdown: enabled (or the proxy's LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED=true; Helm: proxy.enableShutdownEndpoint)",
      },
    ],
    nativeAnnotations: [
      "config.linkerd.io/proxy-enable-native-sidecar",
      "config.beta.linkerd.io/proxy-enable-native-sidecar",
      "config.alpha.linkerd.io/proxy-enable-native-sidecar",
    ],
    container: (c) =>
      c.name === "linkerd-proxy" || (/linkerd/.test(c.image ?? "") && /\/proxy[:@]/.test(c.image ?? "")),
  },
  {
    name: "cloudsql",
    what: "cloud-sql-proxy v2 started with --quitquitquit",
    port: { variable: "CLOUDSQL_ADMIN_PORT", default: 9091 },
    quitPath: "quitquitquit",
    hints: [],
    nativeAnnotations: [],
    container: (c) => /cloud-sql-proxy/.test(`${c.name} ${c.image ?? ""}`),
  },
];

/** Istio ≤ 1.2: no quit endpoint; pilot-agent is sent SIGINT (needs shareProcessNamespace). */
export const ISTIO_LEGACY = { name: "istio-legacy", process: "pilot-agent", signal: "SIGINT" } as const;

export function sidecar(name: HttpSidecar["name"]): HttpSidecar {
  return SIDECARS.find((s) => s.name === name) as HttpSidecar;
}

/** The hint for an answer from a sidecar, if any. */
export function hintFor(name: string, status: number, body: string): string | undefined {
  return SIDECARS.find((s) => s.name === name)?.hints.find((h) => h.status === status && body.includes(h.body))?.hint;
}
