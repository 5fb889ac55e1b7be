// Every environment variable iqqq reads, with its kind, default and meaning.
// `--help` prints this table and a test checks that the README documents each row,
// so the three cannot drift apart.

export type VariableKind = "bool" | "port" | "duration" | "url" | "url-list" | "log-level" | "presence";

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
