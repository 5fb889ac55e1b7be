// Every sidecar kind iqqq knows, one record each, and the only place a kind is
// declared: its stop endpoint and port variable, its readiness endpoint, the
// answers that deserve a hint, how it shows in a pod spec (its container, its
// injector's annotations), what must be switched on for its stop to work, and
// where all that is documented. Derived from these records: the kind names
// IQQQ_SIDECARS and IQQQ_WAIT_FOR accept, the port variables (parsed, listed
// by --help and docs/configuration.md, known to the misspelling check), the
// stop and readiness URLs, the pod facts (native, ambient, present), what
// iqqq inject and the webhook detect and set, and the test stand-in's answers.
// Adding a sidecar is adding a record (with its source); tests run over them all.

export interface PortSetting {
  readonly variable: string;
  readonly default: number;
}

export interface Hint {
  readonly status: number;
  /** A text the answer's body contains ("" for any body). */
  readonly body: string;
  readonly hint: string;
}

/** An annotation (or label) and the values that count. */
export interface Mark {
  readonly key: string;
  readonly values: readonly string[];
}

export interface HttpSidecar {
  readonly name: string;
  /** What it is, for --explain, messages and docs. */
  readonly what: string;
  /** Where its stop endpoint (and the rest of this record) is documented. */
  readonly source: string;
  /** The port its stop endpoint listens on, loopback. */
  readonly port: PortSetting;
  /** POST this path to stop it. */
  readonly quitPath: string;
  /** What it answers a stop, as documented (docs and the test stand-in). */
  readonly answer: { readonly status: number; readonly body: string; readonly methods: readonly string[] };
  /** GET this until 200 to know it is ready (IQQQ_WAIT_FOR). */
  readonly ready?: { readonly port: PortSetting; readonly path: string };
  readonly hints: readonly Hint[];
  /** Its container in a pod spec: by name, or by image (a regular expression each). */
  readonly container: { readonly name: RegExp; readonly image?: RegExp };
  /** Pod annotations whose value "true" say it runs as a native sidecar. */
  readonly nativeAnnotations: readonly string[];
  /**
   * An API token its stop needs when the sidecar has one set: read from this
   * variable of the job container, as the sidecar's own SDKs read it, and sent
   * in this header to its loopback port only. `secret`: the pod annotation
   * that names the Secret its injector gives the sidecar the token from, and
   * the Secret's key; iqqq inject and the webhook give a job container without
   * the variable the same (optional: a missing Secret starts no pod the worse).
   */
  readonly token?: {
    readonly variable: string;
    readonly header: string;
    readonly secret?: { readonly annotation: string; readonly key: string };
  };
  /** Its injector's opt-in on a pod not injected yet: the sidecar will be added (labelToo: a label counts, and wins). */
  readonly requested?: Mark & { readonly labelToo?: boolean };
  /** What its injector leaves on a pod it injected: an annotation (listing: a JSON status naming this container). */
  readonly injected?: { readonly key: string; readonly values?: readonly string[]; readonly listing?: string };
  /** An annotation that says the pod gets no such container even so. */
  readonly absentIf?: Mark & { readonly reason?: string };
  /**
   * Its stop endpoint is off unless switched on: by a pod annotation its
   * injector reads (iqqq inject and the webhook add it), a variable or a flag
   * of its container (Go's true values). `how` says it to a person.
   */
  readonly quitSwitch?: {
    readonly annotation?: readonly [string, string];
    readonly env?: string;
    readonly flag?: string;
    readonly how: string;
  };
  /** Where a pod says the port, when it moves it: its container's flag or variable, or a pod annotation. */
  readonly portFrom?: { readonly flag?: string; readonly env?: string; readonly annotation?: string };
}

export const SIDECARS = [
  {
    name: "istio",
    what: "Istio's pilot-agent (istio-proxy)",
    source: "https://istio.io/latest/docs/reference/commands/pilot-agent/",
    port: { variable: "ISTIO_PORT", default: 15020 },
    quitPath: "quitquitquit",
    answer: { status: 200, body: "OK", methods: ["POST"] },
    ready: { port: { variable: "ISTIO_READY_PORT", default: 15021 }, path: "healthz/ready" },
    hints: [],
    container: { name: /^istio-proxy$/, image: /\/proxyv2[:@]/ },
    nativeAnnotations: ["sidecar.istio.io/nativeSidecar"],
    requested: { key: "sidecar.istio.io/inject", values: ["true"], labelToo: true },
    injected: { key: "sidecar.istio.io/status", listing: "istio-proxy" },
    absentIf: {
      key: "ambient.istio.io/redirection",
      values: ["enabled"],
      reason: "the pod is in Istio's ambient mode (ambient.istio.io/redirection: enabled) and has no istio-proxy",
    },
  },
  {
    name: "envoy",
    what: "a plain Envoy's admin interface (Consul, Kuma, OSM…)",
    source: "https://www.envoyproxy.io/docs/envoy/latest/operations/admin#post--quitquitquit",
    port: { variable: "ENVOY_ADMIN_PORT", default: 15000 },
    quitPath: "quitquitquit",
    answer: { status: 200, body: "OK\n", methods: ["POST"] },
    ready: { port: { variable: "ENVOY_ADMIN_PORT", default: 15000 }, path: "ready" },
    hints: [],
    container: { name: /^envoy$/, image: /envoyproxy\/envoy[:@]/ },
    nativeAnnotations: [],
  },
  {
    name: "linkerd",
    what: "Linkerd's proxy admin server",
    source: "https://linkerd.io/2-edge/tasks/graceful-shutdown/",
    port: { variable: "LINKERD_ADMIN_PORT", default: 4191 },
    quitPath: "shutdown",
    answer: { status: 200, body: "shutdown\n", methods: ["POST"] },
    ready: { port: { variable: "LINKERD_ADMIN_PORT", default: 4191 }, path: "ready" },
    hints: [
      {
        status: 404,
        body: "shutdown endpoint is not enabled",
        hint: "enable it with the pod annotation config.linkerd.io/proxy-admin-shutdown: enabled (or the proxy's LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED=true; Helm: proxy.enableShutdownEndpoint)",
      },
    ],
    container: { name: /^linkerd-proxy$/, image: /linkerd.*\/proxy[:@]/ },
    nativeAnnotations: [
      "config.linkerd.io/proxy-enable-native-sidecar",
      "config.beta.linkerd.io/proxy-enable-native-sidecar",
      "config.alpha.linkerd.io/proxy-enable-native-sidecar",
    ],
    requested: { key: "linkerd.io/inject", values: ["enabled", "ingress"] },
    injected: { key: "linkerd.io/proxy-version" },
    quitSwitch: {
      annotation: ["config.linkerd.io/proxy-admin-shutdown", "enabled"],
      env: "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED",
      how: "the pod annotation config.linkerd.io/proxy-admin-shutdown: enabled (off by default since Linkerd 2.16)",
    },
  },
  {
    name: "cloudsql",
    what: "cloud-sql-proxy v2",
    source: "https://github.com/GoogleCloudPlatform/cloud-sql-proxy#localhost-admin-server",
    port: { variable: "CLOUDSQL_ADMIN_PORT", default: 9091 },
    quitPath: "quitquitquit",
    answer: { status: 200, body: "", methods: ["GET", "POST"] },
    hints: [],
    container: { name: /^cloud-sql-proxy$/, image: /(^|\/)cloud-sql-proxy[:@]/ },
    nativeAnnotations: [],
    quitSwitch: { flag: "--quitquitquit", env: "CSQL_PROXY_QUITQUITQUIT", how: "add --quitquitquit to its args" },
    portFrom: { flag: "--admin-port", env: "CSQL_PROXY_ADMIN_PORT" },
  },
  {
    name: "vault",
    what: "Vault Agent (vault-agent, from Vault's injector)",
    source:
      "https://developer.hashicorp.com/vault/docs/agent-and-proxy/agent#quit and https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations",
    port: { variable: "VAULT_AGENT_PORT", default: 8200 },
    quitPath: "agent/v1/quit",
    answer: { status: 200, body: "", methods: ["POST"] },
    hints: [],
    // By name only: the vault image is also what a job that runs the vault CLI uses.
    container: { name: /^vault-agent$/ },
    nativeAnnotations: [],
    requested: { key: "vault.hashicorp.com/agent-inject", values: ["true"] },
    injected: { key: "vault.hashicorp.com/agent-inject-status", values: ["injected"] },
    absentIf: { key: "vault.hashicorp.com/agent-pre-populate-only", values: ["true"] },
    quitSwitch: {
      annotation: ["vault.hashicorp.com/agent-enable-quit", "true"],
      how: 'the pod annotation vault.hashicorp.com/agent-enable-quit: "true" (or agent_api { enable_quit = true } in the agent\'s listener)',
    },
    portFrom: { annotation: "vault.hashicorp.com/agent-cache-listener-port" },
  },
  {
    name: "dapr",
    what: "Dapr's sidecar (daprd)",
    source: "https://docs.dapr.io/reference/api/shutdown_api/",
    // The variable Dapr's injector itself sets in the app's containers.
    port: { variable: "DAPR_HTTP_PORT", default: 3500 },
    quitPath: "v1.0/shutdown",
    answer: { status: 204, body: "", methods: ["POST"] },
    hints: [
      {
        status: 401,
        body: "",
        hint: "Dapr's API token is on (dapr.io/api-token-secret), and this container's DAPR_API_TOKEN is not it (or is unset): give the container DAPR_API_TOKEN from the same secret, as Dapr's SDKs read it; iqqq sends it as dapr-api-token",
      },
    ],
    container: { name: /^daprd$/, image: /\/daprd[:@]/ },
    nativeAnnotations: [],
    token: {
      variable: "DAPR_API_TOKEN",
      header: "dapr-api-token",
      secret: { annotation: "dapr.io/api-token-secret", key: "token" },
    },
    // Dapr's injector leaves no mark of its own (dapr.io/enabled is the request): a pod has daprd when its spec says so.
    requested: { key: "dapr.io/enabled", values: ["true"] },
  },
] as const satisfies readonly HttpSidecar[];

export type HttpKind = (typeof SIDECARS)[number]["name"];

/** Istio ≤ 1.2: no quit endpoint; pilot-agent is sent SIGINT (needs shareProcessNamespace). */
export const ISTIO_LEGACY = { name: "istio-legacy", process: "pilot-agent", signal: "SIGINT" } as const;

// This module is evaluated at every start, and sidecar() and portVariables() run
// on every wrapper's start path: they use loops, not map/filter/find or spreads
// of a Map. JavaScriptCore (the executable's engine) compiles each of those
// built-ins from its JavaScript source the first time it runs, about 0.1 ms
// each (docs/performance-notes.md, "The executable's start path").

/** Every kind IQQQ_SIDECARS and IQQQ_POD_SIDECARS accept. */
export const KIND_NAMES: readonly string[] = [];
/** The kinds IQQQ_WAIT_FOR accepts: those with a readiness endpoint. */
export const READY_NAMES: readonly string[] = [];
for (const kind of SIDECARS as readonly HttpSidecar[]) {
  (KIND_NAMES as string[]).push(kind.name);
  if (kind.ready !== undefined) (READY_NAMES as string[]).push(kind.name);
}
(KIND_NAMES as string[]).push(ISTIO_LEGACY.name);

export function sidecar(name: HttpKind): HttpSidecar;
export function sidecar(name: string): HttpSidecar | undefined;
export function sidecar(name: string): HttpSidecar | undefined {
  for (const kind of SIDECARS as readonly HttpSidecar[]) if (kind.name === name) return kind;
  return undefined;
}

/** Whether a container of a pod spec is this kind of sidecar. */
export function isContainerOf(kind: HttpSidecar, c: { readonly name: string; readonly image?: string }): boolean {
  return kind.container.name.test(c.name) || (kind.container.image?.test(c.image ?? "") ?? false);
}

/**
 * The kind of each of a pod's containers (undefined: no sidecar). A container
 * is a sidecar by its name, and by its image alone only where another
 * container of the pod is none: where every container looks like a sidecar,
 * those that do only by their image are the pod's job (a Job whose one
 * container runs envoyproxy/envoy --mode validate has no sidecar to stop).
 * For init containers with restartPolicy: Always (native sidecars), kindOfContainer.
 */
export function containerKinds(
  containers: readonly { readonly name: string; readonly image?: string | undefined }[],
): (HttpSidecar | undefined)[] {
  const kinds = SIDECARS as readonly HttpSidecar[];
  const byName = containers.map((c) => kinds.find((k) => k.container.name.test(c.name)));
  const byImage = containers.map((c, i) => byName[i] ?? kinds.find((k) => k.container.image?.test(c.image ?? "")));
  // iqqq's own watcher is neither: it does not make the others sidecars.
  const job = byImage.some((k, i) => k === undefined && containers[i]?.name !== WATCHER_CONTAINER);
  return job ? byImage : byName;
}

/** The container iqqq inject and the webhook add in watcher mode: no job, and no sidecar. */
export const WATCHER_CONTAINER = "iqqq-watcher";

/** The kind a container is, if any, by its name or image (a native sidecar's; see containerKinds for a pod's containers). */
export function kindOfContainer(c: { readonly name: string; readonly image?: string }): HttpSidecar | undefined {
  return (SIDECARS as readonly HttpSidecar[]).find((k) => isContainerOf(k, c));
}

/** Every port variable the catalogue names, once each (ENVOY_ADMIN_PORT serves two endpoints), with its meaning. */
export function portVariables(): { variable: string; default: number; meaning: string }[] {
  const out: { variable: string; default: number; meaning: string }[] = [];
  const uses = (kind: HttpSidecar, setting: PortSetting, use: string): void => {
    for (const known of out) {
      if (known.variable !== setting.variable) continue;
      known.meaning += `; ${use}`;
      return;
    }
    out.push({ variable: setting.variable, default: setting.default, meaning: `${kind.what}: ${use}` });
  };
  for (const kind of SIDECARS as readonly HttpSidecar[]) {
    uses(kind, kind.port, `POST http://127.0.0.1:PORT/${kind.quitPath} stops it (IQQQ_SIDECARS=${kind.name})`);
    if (kind.ready !== undefined) uses(kind, kind.ready.port, `GET /${kind.ready.path} (IQQQ_WAIT_FOR=${kind.name})`);
  }
  return out;
}

/** The hint for an answer from a sidecar, if any. */
export function hintFor(name: string, status: number, body: string): string | undefined {
  const kind = sidecar(name);
  if (kind === undefined) return undefined;
  const hint = kind.hints.find((h) => h.status === status && body.includes(h.body))?.hint;
  if (hint !== undefined) return hint;
  // A stop endpoint that must be switched on is the likely reason for a refusal.
  if (kind.quitSwitch !== undefined && status >= 400 && status < 500)
    return `its stop endpoint is off unless switched on: ${kind.quitSwitch.how}`;
  return undefined;
}
