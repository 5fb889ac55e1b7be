// (argv, env, invokedAs) → Command | UsageError. Pure: no I/O, no process
// globals. Every value is read through its row of the settings table
// (variables.ts), and each part of the configuration is built by its own
// function below from those values, so every variable and every bad value is
// one row of a table test.

import { EXIT } from "../exit-status.js";
import type { Env } from "../io.js";
import { LOG_LEVELS, type LogLevel } from "../log.js";
import type { HeaderFields } from "../sidecar/answer.js";
import { type HttpSidecar, ISTIO_LEGACY, SIDECARS, sidecar } from "../sidecar/catalogue.js";
import type { Pattern } from "../watch/pattern.js";
import { misspeltVariables } from "./misspelt.js";
import { scuttleStop } from "./scuttle.js";
import { isLoopback, shownValue, ValueError } from "./values.js";
import {
  DEFAULT_PODINFO_ANNOTATIONS,
  type Engines,
  PORTS,
  type RestartPolicy,
  SIDECAR_SETTINGS,
  V,
  VARIABLES,
  type Variable,
} from "./variables.js";

export type { Engines, RestartPolicy };

/** A sidecar to stop: an HTTP endpoint to POST, or (Istio ≤ 1.2) a process to SIGINT. */
export type QuitTarget =
  | {
      readonly kind: "http";
      readonly name: string;
      readonly url: URL;
      /** auto detection: connection refused just means "not this kind", said at debug level. */
      readonly optional: boolean;
      /** The variable its address came from, when one was set (for messages). */
      readonly from?: string | undefined;
      /** Sent with the stop: its API token (catalogue.ts's token), when the container has one. */
      readonly headers?: HeaderFields;
    }
  | {
      readonly kind: "signal";
      readonly name: string;
      readonly process: string;
      readonly signal: NodeJS.Signals;
      /** Alongside another target that does the same job: absence is not worth a warning. */
      readonly optional?: boolean;
    };

export interface StopPlan {
  /** Why nothing will be stopped, whatever happens (the configuration alone), or undefined. */
  readonly skipReason: string | undefined;
  /** The reason was already given as a warning at start: the decision only notes it at debug level. */
  readonly skipWarned?: boolean;
  /** NEVER_KILL_ISTIO_ON_FAILURE: skip the stop when the program failed. */
  readonly skipOnFailure: boolean;
  /** Sidecars whose stop decides standalone mode's exit status. */
  readonly targets: readonly QuitTarget[];
  /** GENERIC_QUIT_ENDPOINTS: also POSTed, answers only logged. */
  readonly generic: readonly URL[];
  /** scuttle stops the generic endpoints first, then Istio; iqqq does all at once. */
  readonly genericFirst: boolean;
  /** ISTIO_FALLBACK_PKILL: SIGINT pilot-agent when an HTTP stop could not be sent. */
  readonly pkillFallback: boolean;
  /** IQQQ_PODINFO_ANNOTATIONS: the pod's annotations (downward API); explicit: the variable was set. */
  readonly podinfo: { readonly path: string; readonly explicit: boolean };
  /** IQQQ_POD_LOOKUP=api: also read the pod's spec from the API server at stop time. */
  readonly podLookup: boolean;
  /** Total time for all stop requests, retries included. */
  readonly budgetMs: number;
  /** IQQQ_RESTART_POLICY: the pod's restartPolicy, when known. */
  readonly restartPolicy: RestartPolicy | undefined;
  /** IQQQ_POD_SIDECARS: the sidecar kinds the pod is known to have. */
  readonly podSidecars: readonly string[];
  /** IQQQ_SIDECAR_START_TIMEOUT: how long a known sidecar that refuses connections is waited for. */
  readonly startTimeoutMs: number;
}

/** A readiness endpoint: GET until 200 (and, for server_info, state LIVE). */
export interface ReadyCheck {
  readonly name: string;
  readonly url: URL;
  readonly expectLive: boolean;
}

export interface ReadyPlan {
  readonly checks: readonly ReadyCheck[];
  /** undefined: wait until ready (or until SIGTERM/SIGINT). */
  readonly timeoutMs: number | undefined;
  /** On timeout: start the program anyway, or stop the sidecars and exit 75. */
  readonly onTimeout: "start" | "quit";
}

export interface Program {
  readonly file: string;
  readonly args: readonly string[];
  /** IQQQ_SIGNAL_GROUP: the program leads its own process group, and signals go to the whole group. */
  readonly signalGroup?: boolean;
}

/** Watcher mode: the process to wait for, in /proc. */
export interface WatchPlan {
  /** IQQQ_WATCH_PROCESS as given (for messages and plugins). */
  readonly name: string | undefined;
  /** Its names: with several, every one must appear and end. */
  readonly names: readonly string[];
  readonly pattern: Pattern | undefined;
  /** undefined: wait for the process to appear as long as it takes. */
  readonly startTimeoutMs: number | undefined;
  /** IQQQ_WATCH_CONTAINERS: watch this many job containers (watch/containers.ts), not names. */
  readonly containers?: number | undefined;
}

/** Several job containers in one pod (pod/group.ts): the shared folder, every member, this one. */
export interface GroupPlan {
  readonly dir: string;
  readonly members: readonly string[];
  readonly name: string;
}

export interface PluginPlan {
  readonly paths: readonly string[];
  /** Each load and each hook call. */
  readonly timeoutMs: number;
  /** All plugin work in the run together. */
  readonly budgetMs: number;
}

export interface Config {
  /** "scuttle" when invoked under that name: scuttle's rules for when to stop. */
  readonly flavour: "iqqq" | "scuttle";
  /** undefined: standalone or watcher mode. */
  readonly program: Program | undefined;
  /** Watcher mode: no program, and IQQQ_WATCH_PROCESS or IQQQ_WATCH_PATTERN set. */
  readonly watch: WatchPlan | undefined;
  readonly plugins: PluginPlan;
  readonly logLevel: LogLevel;
  /** undefined: start the program at once. */
  readonly ready: ReadyPlan | undefined;
  readonly stop: StopPlan;
  /** IQQQ_GROUP_DIR, IQQQ_GROUP, IQQQ_NAME: several job containers, the last one out stops the sidecars. */
  readonly group: GroupPlan | undefined;
  /** Problems that scuttle mode ignores with a warning, as scuttle does. */
  readonly warnings: readonly string[];
}

export type Command =
  | { readonly action: "help" }
  | { readonly action: "version" }
  | { readonly action: "run" | "explain"; readonly config: Config };

/** Bad command line or configuration: nothing is run. */
export class UsageError extends Error {
  constructor(
    readonly problems: readonly string[],
    readonly exitCode: number,
  ) {
    super(problems.join("; "));
    this.name = "UsageError";
  }
}

export const DEFAULT_QUIT_BUDGET_MS = V.IQQQ_QUIT_TIMEOUT.fallback;
export const DEFAULT_SIDECAR_START_TIMEOUT_MS = V.IQQQ_SIDECAR_START_TIMEOUT.fallback;

type Flavour = Config["flavour"];

/**
 * engines: parsers loaded only when their variable is set (main.ts loads the
 * pattern engine when IQQQ_WATCH_PATTERN is).
 */
export function parseConfig(
  argv: readonly string[],
  env: Env,
  invokedAs = "iqqq",
  engines: Engines = {},
): Command | UsageError {
  const args = parseArgs(argv);
  if (args instanceof UsageError || !("program" in args)) return args;

  const flavour: Flavour = invokedAs === "scuttle" ? "scuttle" : "iqqq";
  // Every variable is read, used or not: a bad value is an error wherever it is.
  const read = new Reader(env, engines);
  const plugins = pluginPlan(read);
  const endpoints = new Endpoints(read);
  const stop = stopPlan(read, endpoints, flavour);
  const ready = readyPlan(read, endpoints, flavour);
  const watch = watchPlan(read);
  const group = groupPlan(read);
  const signalGroup = read.v.IQQQ_SIGNAL_GROUP;
  let logLevel = read.v.IQQQ_LOG_LEVEL;
  // scuttle ignores bad values with a warning; iqqq refuses to run on them.
  if (read.problems.length > 0 && flavour === "iqqq") return new UsageError(read.problems, EXIT.CONFIG);
  const warnings: string[] = [];
  for (const p of read.problems) warnings.push(`${p}; ignored, as scuttle does`);
  warnings.push(...misspeltVariables(env, flavour, plugins.paths.length > 0));
  if (watch !== undefined && args.program !== undefined) {
    warnings.push("IQQQ_WATCH_PROCESS/IQQQ_WATCH_PATTERN are ignored: a PROGRAM was given, so iqqq wraps it");
  }
  if (watch === undefined && args.program === undefined) {
    // Meant as a watcher, it would stop the sidecars now, under a job still running: said, by name.
    const targets = [V.IQQQ_WATCH_PROCESS.name, V.IQQQ_WATCH_PATTERN.name, V.IQQQ_WATCH_CONTAINERS.name];
    const empty = targets.filter((name) => env[name] === "");
    const why =
      empty.length > 0
        ? `${empty.join(", ")} ${empty.length === 1 ? "is" : "are"} set but empty, which counts as unset`
        : read.present(V.IQQQ_WATCH_START_TIMEOUT.name)
          ? `${V.IQQQ_WATCH_START_TIMEOUT.name} is set, but nothing to watch is (${targets.join(", ")})`
          : undefined;
    if (why !== undefined) warnings.push(`${why}: not a watcher, so the sidecars are stopped now (standalone)`);
  }
  warnings.push(...read.warnings);
  if (read.v.SCUTTLE_LOGGING && LOG_LEVELS.indexOf(logLevel) < LOG_LEVELS.indexOf("info")) logLevel = "info";

  return {
    action: args.action,
    config: {
      flavour,
      program: args.program === undefined ? undefined : { ...args.program, signalGroup },
      watch: args.program === undefined ? watch : undefined,
      plugins,
      logLevel,
      ready,
      stop,
      group,
      warnings,
    },
  };
}

/** Each once, in order. A loop, not a spread of a Set: this runs at every start (catalogue.ts says why). */
function unique(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) if (!out.includes(value)) out.push(value);
  return out;
}

function pluginPlan(read: Reader): PluginPlan {
  return {
    paths: unique([...read.v.IQQQ_PLUGINS, ...read.v.WRAPPER_PLUGIN_PATH]),
    timeoutMs: read.v.IQQQ_PLUGIN_TIMEOUT,
    budgetMs: read.v.IQQQ_PLUGIN_BUDGET,
  };
}

/** Where each catalogue kind's endpoints are, from its port variable (and, for Envoy, ENVOY_ADMIN_API). */
class Endpoints {
  readonly istioQuitApi: URL | undefined;
  readonly envoyAdminApi: URL | undefined;
  /** ENVOY_ADMIN_API on loopback: Envoy's own endpoints are there. */
  readonly envoyLocal: boolean;
  private readonly ports = new Map<string, number>();

  constructor(private readonly read: Reader) {
    this.istioQuitApi = read.v.ISTIO_QUIT_API;
    this.envoyAdminApi = read.v.ENVOY_ADMIN_API;
    this.envoyLocal = this.envoyAdminApi !== undefined && isLoopback(this.envoyAdminApi);
    for (const row of PORTS.values()) this.ports.set(row.name, read.value(row));
  }

  private base(kind: HttpSidecar, variable: string): URL {
    if (kind.name === "envoy" && this.envoyLocal) return this.envoyAdminApi as URL;
    return new URL(`http://127.0.0.1:${this.ports.get(variable)}`);
  }

  quit(kind: HttpSidecar): URL {
    if (kind.name === "istio" && this.istioQuitApi !== undefined) return appendPath(this.istioQuitApi, kind.quitPath);
    return appendPath(this.base(kind, kind.port.variable), kind.quitPath);
  }

  ready(kind: HttpSidecar): URL | undefined {
    return kind.ready === undefined
      ? undefined
      : appendPath(this.base(kind, kind.ready.port.variable), kind.ready.path);
  }

  /** The variable a kind's quit address came from, when one was set (for messages). */
  from(kind: HttpSidecar): string | undefined {
    if (kind.name === "istio" && this.istioQuitApi !== undefined) return V.ISTIO_QUIT_API.name;
    if (kind.name === "envoy" && this.envoyLocal) return V.ENVOY_ADMIN_API.name;
    return this.read.present(kind.port.variable) ? kind.port.variable : undefined;
  }

  target(kind: HttpSidecar, optional: boolean): QuitTarget {
    const from = this.from(kind);
    const headers = this.token(kind);
    return {
      kind: "http",
      name: kind.name,
      optional,
      ...(from !== undefined ? { from } : {}),
      ...(headers !== undefined ? { headers } : {}),
      url: this.quit(kind),
    };
  }

  /**
   * The kind's API token from the container's environment, as a header of its
   * stop (Dapr's DAPR_API_TOKEN, read as its SDKs read it). It goes only to the
   * kind's own loopback port, and is never logged: a value no HTTP header can
   * carry (a line break, a control character, spaces at its ends) is left out,
   * with a warning that names the variable, not the value.
   */
  private token(kind: HttpSidecar): HeaderFields | undefined {
    const { token } = kind;
    if (token === undefined || !this.read.present(token.variable)) return undefined;
    const value = this.read.text(token.variable);
    if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value)) {
      this.read.warnings.push(
        `${token.variable} holds what an HTTP header cannot carry (a line break, a control or non-ASCII character, or spaces at its ends): the ${kind.name} stop is sent without ${token.header}`,
      );
      return undefined;
    }
    return [[token.header, value]];
  }
}

function stopPlan(read: Reader, at: Endpoints, flavour: Flavour): StopPlan {
  const inKubernetes = read.present(V.KUBERNETES_SERVICE_HOST.name);
  const disabled = read.v.DISABLE_IQQQ;
  const neverKill = read.v.NEVER_KILL_ISTIO;
  const sidecars = read.v.IQQQ_SIDECARS;
  const pilotAgent: QuitTarget = { kind: "signal", ...ISTIO_LEGACY };
  const podinfo = read.v.IQQQ_PODINFO_ANNOTATIONS;
  const common = {
    skipOnFailure: read.v.NEVER_KILL_ISTIO_ON_FAILURE,
    generic: read.v.GENERIC_QUIT_ENDPOINTS,
    genericFirst: flavour === "scuttle",
    pkillFallback: read.v.ISTIO_FALLBACK_PKILL,
    podinfo: { path: podinfo ?? DEFAULT_PODINFO_ANNOTATIONS, explicit: podinfo !== undefined },
    podLookup: read.v.IQQQ_POD_LOOKUP === "api",
    budgetMs: read.v.IQQQ_QUIT_TIMEOUT,
    restartPolicy: read.v.IQQQ_RESTART_POLICY,
    podSidecars: read.v.IQQQ_POD_SIDECARS,
    startTimeoutMs: read.v.IQQQ_SIDECAR_START_TIMEOUT,
  };
  if (flavour === "scuttle") {
    const { skipReason, targets } = scuttleStop(
      {
        envoyAdminApi: at.envoyAdminApi,
        envoyLocal: at.envoyLocal,
        istioQuitApi: at.istioQuitApi,
        disabled,
        neverKill,
      },
      at.target(sidecar("istio"), false),
      at.target(sidecar("envoy"), false),
      pilotAgent,
    );
    return { ...common, skipReason, targets };
  }
  const skipReason = !inKubernetes
    ? "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)"
    : disabled
      ? "DISABLE_IQQQ is true"
      : neverKill
        ? "NEVER_KILL_ISTIO is true"
        : undefined;
  // Sidecar settings outside Kubernetes: someone expects a stop that will not come. Say so, once.
  // Loops here, not filter/map: this runs at every start (catalogue.ts says why).
  const expecting: string[] = [];
  for (const name of SIDECAR_SETTINGS) if (read.present(name)) expecting.push(name);
  const skipWarned = !inKubernetes && expecting.length > 0 && !disabled && !neverKill;
  if (skipWarned) {
    read.warnings.push(
      `${expecting.join(", ")} ${expecting.length === 1 ? "is" : "are"} set, but KUBERNETES_SERVICE_HOST is not: outside Kubernetes no sidecar is stopped. To try iqqq against a local sidecar, set KUBERNETES_SERVICE_HOST to any value`,
    );
  }
  const targets: QuitTarget[] = [];
  if (sidecars === "auto") {
    for (const k of SIDECARS as readonly HttpSidecar[]) targets.push(at.target(k, true));
  } else {
    for (const k of sidecars)
      targets.push(k === ISTIO_LEGACY.name ? pilotAgent : at.target(sidecar(k) as HttpSidecar, false));
    // A local ENVOY_ADMIN_API is a sidecar to stop too when no Istio quit API applies.
    if (at.envoyLocal && !sidecars.includes("istio") && !sidecars.includes("envoy"))
      targets.push(at.target(sidecar("envoy"), false));
  }
  return { ...common, skipReason, skipWarned, targets };
}

function readyPlan(read: Reader, at: Endpoints, flavour: Flavour): ReadyPlan | undefined {
  const checks: ReadyCheck[] = [];
  if (at.envoyAdminApi !== undefined)
    checks.push({ name: "envoy", url: appendPath(at.envoyAdminApi, "server_info"), expectLive: true });
  for (const name of read.v.IQQQ_WAIT_FOR) {
    const url = at.ready(sidecar(name) as HttpSidecar) as URL;
    if (!checks.some((c) => c.url.href === url.href)) checks.push({ name, url, expectLive: false });
  }
  // Outside Kubernetes iqqq is a pass-through; scuttle waits wherever it runs.
  const inKubernetes = read.present(V.KUBERNETES_SERVICE_HOST.name);
  if (checks.length === 0 || read.v.START_WITHOUT_ENVOY || (flavour !== "scuttle" && !inKubernetes)) return undefined;
  const quitTimeout = read.v.QUIT_WITHOUT_ENVOY_TIMEOUT || undefined;
  const waitTimeout = read.v.WAIT_FOR_ENVOY_TIMEOUT || undefined;
  return { checks, timeoutMs: quitTimeout ?? waitTimeout, onTimeout: quitTimeout !== undefined ? "quit" : "start" };
}

function watchPlan(read: Reader): WatchPlan | undefined {
  const names = read.v.IQQQ_WATCH_PROCESS;
  const pattern = read.v.IQQQ_WATCH_PATTERN;
  const containers = read.v.IQQQ_WATCH_CONTAINERS;
  const startTimeoutMs = read.v.IQQQ_WATCH_START_TIMEOUT;
  if (names === undefined && pattern === undefined && containers === undefined) return undefined;
  return {
    name: names?.join(","),
    names: names ?? [],
    pattern,
    startTimeoutMs,
    ...(containers !== undefined ? { containers } : {}),
  };
}

/** IQQQ_GROUP_DIR, IQQQ_GROUP and IQQQ_NAME go together: all three or none. */
function groupPlan(read: Reader): GroupPlan | undefined {
  const rows = [V.IQQQ_GROUP_DIR, V.IQQQ_GROUP, V.IQQQ_NAME] as const;
  const dir = read.v.IQQQ_GROUP_DIR;
  const members = read.v.IQQQ_GROUP;
  const name = read.v.IQQQ_NAME;
  const parsed: Record<string, unknown> = { IQQQ_GROUP_DIR: dir, IQQQ_GROUP: members, IQQQ_NAME: name };
  // A loop, not rows.filter(): this runs at every start (catalogue.ts says why).
  const set: (typeof rows)[number][] = [];
  for (const r of rows) if (read.present(r.name)) set.push(r);
  if (set.length > 0 && set.length < 3) {
    // A value already refused is not named twice.
    for (const r of set.filter((r) => parsed[r.name] !== undefined)) {
      const others = rows
        .filter((o) => o !== r)
        .map((o) => o.name)
        .join(" and ");
      read.problem(
        r.name,
        `it goes with ${others} (a shared emptyDir, every job container's name, this one's): set all three or none`,
      );
    }
    return undefined;
  }
  if (name !== undefined && members !== undefined && !members.includes(name)) {
    read.problem(V.IQQQ_NAME.name, `it is not one of IQQQ_GROUP (${members.join(", ")})`);
    return undefined;
  }
  return dir !== undefined && members !== undefined && name !== undefined ? { dir, members, name } : undefined;
}

type Args =
  | { readonly action: "help" | "version" }
  | { readonly action: "run" | "explain"; readonly program: Program | undefined };

/** iqqq's own options come before PROGRAM: --help, --version, --explain, and -- to end them. */
function parseArgs(argv: readonly string[]): Args | UsageError {
  // iqqq's own options come first, in any order; --help wins over --version, which wins over --explain.
  const own = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h" || arg === "--version" || arg === "--explain")
      own.add(arg === "-h" ? "--help" : arg);
    else break;
  }
  if (own.has("--help")) return { action: "help" };
  if (own.has("--version")) return { action: "version" };
  const action = own.has("--explain") ? "explain" : "run";
  const next = argv[i];
  if (next === "--") i++;
  else if (next?.startsWith("-") && next !== "-") {
    return new UsageError(
      [
        `unknown option ${JSON.stringify(next)}: iqqq's own are --help (-h), --version and --explain (to run a program whose name starts with "-", put -- before it)`,
      ],
      EXIT.USAGE,
    );
  }
  const file = argv[i];
  if (file === undefined) return { action, program: undefined };
  if (file === "") return new UsageError(["the program to run is an empty string"], EXIT.USAGE);
  return { action, program: { file, args: argv.slice(i + 1) } };
}

/** Appends a path segment to a base URL's path, as scuttle does with "%s/quitquitquit". */
function appendPath(base: URL, segment: string): URL {
  const url = new URL(base);
  let path = url.pathname;
  while (path.endsWith("/")) path = path.slice(0, -1);
  url.pathname = `${path}/${segment}`;
  return url;
}

/** Reads variables through their rows, treating empty as unset and collecting every bad value. */
/** The variables' values by name: `read.v.ISTIO_PORT`, a property, not a call per use. */
type Values = { readonly [K in keyof typeof V]: (typeof V)[K] extends Variable<infer T> ? T : never };

class Reader {
  /** Warnings found while building the plans. */
  readonly warnings: string[] = [];
  /** Each variable's value, typed as its row says: the default when unset, empty or bad (a bad value is a problem, once). */
  readonly v: Values;
  private readonly values: Record<string, unknown> = {};
  private readonly found: { name: string; text: string }[] = [];

  /**
   * Reads every row, in one loop: a method called once per variable (some
   * forty calls) is enough to wake the executable's JIT compiler, a thread and
   * about 2 ms of start-up for nothing.
   */
  constructor(
    private readonly env: Env,
    engines: Engines,
  ) {
    for (const row of VARIABLES) {
      const raw = env[row.name];
      let value = row.fallback;
      if (raw !== undefined && raw !== "") {
        try {
          value = row.parse(raw, engines);
        } catch (err) {
          if (!(err instanceof ValueError)) throw err;
          this.problem(row.name, err.message);
        }
      }
      this.values[row.name] = value;
    }
    this.v = this.values as Values;
  }

  present(name: string): boolean {
    return (this.env[name] ?? "") !== "";
  }

  /** A variable's text as set ("" when unset): for one the settings table does not hold (a sidecar's token). */
  text(name: string): string {
    return this.env[name] ?? "";
  }

  /** A row's value, for rows met in a loop (the catalogue's ports). */
  value<T>(row: Variable<T>): T {
    return this.values[row.name] as T;
  }

  problem(name: string, message: string): void {
    this.found.push({
      name,
      text: `${name}=${JSON.stringify(shownValue(this.env[name] ?? ""))} is invalid: ${message}`,
    });
  }

  /** Every bad value, in the settings table's order. */
  get problems(): string[] {
    if (this.found.length === 0) return [];
    const order = VARIABLES.map((v) => v.name);
    return this.found
      .map((p, i) => ({ ...p, i }))
      .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name) || a.i - b.i)
      .map((p) => p.text);
  }
}
