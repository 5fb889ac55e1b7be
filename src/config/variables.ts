// Every environment variable iqqq reads, with its kind, default and meaning.
// `--help` prints this table and a test checks that the README documents each row,
// so the three cannot drift apart.

export type VariableKind =
  | "bool"
  | "port"
  | "duration"
  | "url"
  | "url-list"
  | "log-level"
  | "presence"
  | "sidecar-list"
  | "ready-list"
  | "process-name"
  | "regex"
  | "path-list"
  | "path"
  | "restart-policy"
  | "count";

export interface Variable {
  readonly name: string;
  readonly kind: VariableKind;
  readonly default: string;
  readonly meaning: string;
}

export const VARIABLES: readonly Variable[] = [
  {
    name: "KUBERNETES_SERVICE_HOST",
    kind: "presence",
    default: "(set by Kubernetes)",
    meaning: "unset: not in Kubernetes, so no sidecar is stopped and iqqq only runs the program",
  },
  {
    name: "DISABLE_IQQQ",
    kind: "bool",
    default: "false",
    meaning: "true: never stop a sidecar; the program still runs in full",
  },
  {
    name: "ISTIO_PORT",
    kind: "port",
    default: "15020",
    meaning: "pilot-agent's port: iqqq POSTs http://127.0.0.1:PORT/quitquitquit",
  },
  {
    name: "ISTIO_QUIT_API",
    kind: "url",
    default: "(unset)",
    meaning: "base URL of the quit API (scuttle); /quitquitquit is appended; overrides ISTIO_PORT",
  },
  {
    name: "GENERIC_QUIT_ENDPOINTS",
    kind: "url-list",
    default: "(unset)",
    meaning: "comma-separated URLs that each get a POST too (scuttle); their answers are logged, never fatal",
  },
  {
    name: "NEVER_KILL_ISTIO",
    kind: "bool",
    default: "false",
    meaning: "true: stop nothing, whatever the program's status (scuttle)",
  },
  {
    name: "NEVER_KILL_ISTIO_ON_FAILURE",
    kind: "bool",
    default: "false",
    meaning: "true: stop nothing when the program's exit status is not 0 (scuttle)",
  },
  {
    name: "IQQQ_SIDECARS",
    kind: "sidecar-list",
    default: "istio",
    meaning:
      "which sidecars to stop, comma-separated: istio, envoy, linkerd, cloudsql, istio-legacy (SIGINT to pilot-agent); or auto: whichever known port answers",
  },
  {
    name: "ENVOY_ADMIN_PORT",
    kind: "port",
    default: "15000",
    meaning: "Envoy admin port for the envoy sidecar kind: POST http://127.0.0.1:PORT/quitquitquit",
  },
  {
    name: "LINKERD_ADMIN_PORT",
    kind: "port",
    default: "4191",
    meaning: "Linkerd proxy admin port: POST /shutdown to stop, GET /ready to wait",
  },
  {
    name: "CLOUDSQL_ADMIN_PORT",
    kind: "port",
    default: "9091",
    meaning: "cloud-sql-proxy admin port (--quitquitquit): POST /quitquitquit",
  },
  {
    name: "ISTIO_FALLBACK_PKILL",
    kind: "bool",
    default: "false",
    meaning: "true: if the Istio quit request fails, send SIGINT to pilot-agent (scuttle; needs shareProcessNamespace)",
  },
  {
    name: "ENVOY_ADMIN_API",
    kind: "url",
    default: "(unset)",
    meaning:
      "Envoy admin base URL (scuttle): wait for /server_info to be LIVE before the program starts; if loopback, POST its /quitquitquit when no Istio quit API applies",
  },
  {
    name: "IQQQ_WAIT_FOR",
    kind: "ready-list",
    default: "(unset)",
    meaning:
      "sidecars to wait for before the program starts, comma-separated: istio (GET :15021/healthz/ready), linkerd (GET :4191/ready), envoy (GET admin /ready)",
  },
  {
    name: "ISTIO_READY_PORT",
    kind: "port",
    default: "15021",
    meaning: "pilot-agent's health port for IQQQ_WAIT_FOR=istio",
  },
  {
    name: "START_WITHOUT_ENVOY",
    kind: "bool",
    default: "false",
    meaning: "true: do not wait for readiness at all; the sidecars are still stopped at the end (scuttle)",
  },
  {
    name: "WAIT_FOR_ENVOY_TIMEOUT",
    kind: "duration",
    default: "(none: wait until ready)",
    meaning: "stop waiting after this long and start the program anyway (scuttle; 0 = no limit)",
  },
  {
    name: "QUIT_WITHOUT_ENVOY_TIMEOUT",
    kind: "duration",
    default: "(none: wait until ready)",
    meaning:
      "after this long not ready: do not start the program, stop the sidecars, exit 75 (scuttle; 0 = no limit; wins over WAIT_FOR_ENVOY_TIMEOUT)",
  },
  {
    name: "IQQQ_WATCH_PROCESS",
    kind: "process-name",
    default: "(unset)",
    meaning:
      "watcher mode (no PROGRAM): wait for a process with this name (comm or argv[0]'s basename) to appear, then to end, then stop the sidecars; several names, comma-separated: every one must appear and end; needs shareProcessNamespace",
  },
  {
    name: "IQQQ_WATCH_PATTERN",
    kind: "regex",
    default: "(unset)",
    meaning:
      "watcher mode: a JavaScript regular expression matched against the full command line, in linear time (no backreferences or lookaround); with IQQQ_WATCH_PROCESS, both must match",
  },
  {
    name: "IQQQ_WATCH_CONTAINERS",
    kind: "count",
    default: "(unset)",
    meaning:
      "watcher mode: wait for the processes of this many job containers, each told by the mount at /run/iqqq-job that iqqq inject --mode watcher gives it, whatever they are called or exec into; the watch ends once that many have appeared and none of their processes is left; needs shareProcessNamespace",
  },
  {
    name: "IQQQ_WATCH_START_TIMEOUT",
    kind: "duration",
    default: "(none: wait forever)",
    meaning: "watcher mode: no matching process within this long: stop the sidecars, exit 75",
  },
  {
    name: "IQQQ_PLUGINS",
    kind: "path-list",
    default: "(unset)",
    meaning: "comma-separated ES modules loaded at start, whose hooks run around the program and the stop",
  },
  {
    name: "WRAPPER_PLUGIN_PATH",
    kind: "path",
    default: "(unset)",
    meaning: "one more plugin path (wrapper4's name); a Go .so is skipped with a warning",
  },
  {
    name: "IQQQ_PODINFO_ANNOTATIONS",
    kind: "path",
    default: "/etc/podinfo/annotations",
    meaning:
      "the pod's annotations from a downward-API volume: native Istio or Linkerd sidecars and Istio ambient mode then get no quit (the kubelet stops native ones)",
  },
  {
    name: "IQQQ_POD_LOOKUP",
    kind: "bool",
    default: "(unset)",
    meaning:
      "api: at stop time, read the pod's own spec from the API server (service account; RBAC get pods); known sidecars among its native init containers get no quit",
  },
  {
    name: "IQQQ_RESTART_POLICY",
    kind: "restart-policy",
    default: "(unset)",
    meaning:
      "the pod's restartPolicy (iqqq inject and the webhook set it; IQQQ_POD_LOOKUP=api reads it): OnFailure and a failed program: nothing is stopped, since the kubelet runs the program again and it needs its sidecars; Always: nothing is ever stopped",
  },
  {
    name: "IQQQ_POD_SIDECARS",
    kind: "sidecar-list",
    default: "(unset)",
    meaning:
      "the sidecars this pod is known to have (iqqq inject and the webhook set it; the pod's annotations and IQQQ_POD_LOOKUP=api tell it too): a 'connection refused' from one of them means it has not started yet, and its stop is retried up to IQQQ_SIDECAR_START_TIMEOUT",
  },
  {
    name: "IQQQ_SIDECAR_START_TIMEOUT",
    kind: "duration",
    default: "60s",
    meaning:
      "how long the stop of a sidecar the pod is known to have (IQQQ_POD_SIDECARS) keeps trying while nothing listens yet, beyond IQQQ_QUIT_TIMEOUT",
  },
  {
    name: "IQQQ_GROUP_DIR",
    kind: "path",
    default: "(unset)",
    meaning:
      "several job containers in one pod: a directory they share (an emptyDir) where each records its end; with IQQQ_GROUP and IQQQ_NAME",
  },
  {
    name: "IQQQ_GROUP",
    kind: "path-list",
    default: "(unset)",
    meaning: "the job containers' names, comma-separated: only the last of them to finish stops the sidecars",
  },
  {
    name: "IQQQ_NAME",
    kind: "process-name",
    default: "(unset)",
    meaning: "this container's name, one of IQQQ_GROUP (else exit 78, nothing run)",
  },
  {
    name: "IQQQ_SIGNAL_GROUP",
    kind: "bool",
    default: "false",
    meaning:
      "true: the program runs in its own process group (and session) and forwarded signals go to the whole group, as tini -g; false: to the program alone",
  },
  {
    name: "IQQQ_PLUGIN_TIMEOUT",
    kind: "duration",
    default: "5s",
    meaning: "bound on loading each plugin and on each of its hook calls",
  },
  {
    name: "IQQQ_PLUGIN_BUDGET",
    kind: "duration",
    default: "10s",
    meaning: "bound on all plugin work in one run together; once used up, the remaining hooks are skipped",
  },
  {
    name: "IQQQ_QUIT_TIMEOUT",
    kind: "duration",
    default: "5s",
    meaning: "total time for stopping the sidecars, retries included (Go duration: 500ms, 10s, 1m30s)",
  },
  {
    name: "IQQQ_LOG_LEVEL",
    kind: "log-level",
    default: "warn",
    meaning: "how much iqqq logs to stderr: silent, error, warn, info or debug",
  },
  {
    name: "SCUTTLE_LOGGING",
    kind: "bool",
    default: "false",
    meaning: "true: log at least at info level (scuttle)",
  },
];
