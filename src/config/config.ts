// (argv, env, invokedAs) → Command | UsageError. Pure: no I/O, no process globals,
// so every variable and every bad value is one row of a table test.

import { EXIT } from "../exit-status.js";
import { LOG_LEVELS, type LogLevel } from "../log.js";
import {
  DEFAULT_PLUGIN_BUDGET_MS,
  DEFAULT_PLUGIN_TIMEOUT_MS,
  parsePluginPaths,
  parseWrapperPluginPath,
  pluginPaths,
} from "../plugins/paths.js";
import { DEFAULT_PODINFO_ANNOTATIONS } from "../pod/facts.js";
import { type GroupPlan, MEMBER_NAME } from "../pod/group.js";
import { type HttpSidecar, ISTIO_LEGACY, type PortSetting, SIDECARS, sidecar } from "../sidecar/catalogue.js";
import { parseProcessName } from "../watch/match.js";
import { type Pattern, parseWatchPattern } from "../watch/pattern.js";
import { misspeltVariables } from "./misspelt.js";
import { scuttleStop } from "./scuttle.js";
import {
  isLoopback,
  parseBool,
  parseDuration,
  parseHttpUrl,
  parsePort,
  parseUrlList,
  shownValue,
  ValueError,
} from "./values.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** The sidecar kinds iqqq knows how to stop. */
export const SIDECAR_KINDS = ["istio", "envoy", "linkerd", "cloudsql", "istio-legacy"] as const;
export type SidecarKind = (typeof SIDECAR_KINDS)[number];
/** The sidecar kinds iqqq knows how to wait for. */
export const READY_KINDS = ["istio", "linkerd", "envoy"] as const;
export type ReadyKind = (typeof READY_KINDS)[number];

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
  /** Why nothing will be stopped, or undefined when the targets below are used. */
  readonly skipReason: string | undefined;
  /** The reason was already given as a warning at start: the stop only notes it at debug level. */
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

export const RESTART_POLICIES = ["Never", "OnFailure", "Always"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export const DEFAULT_SIDECAR_START_TIMEOUT_MS = 60_000;

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

/** Variables that only matter for stopping or waiting for a sidecar. */
const SIDECAR_SETTINGS = [
  "ISTIO_PORT",
  "ISTIO_QUIT_API",
  "IQQQ_SIDECARS",
  "ENVOY_ADMIN_API",
  "ENVOY_ADMIN_PORT",
  "LINKERD_ADMIN_PORT",
  "CLOUDSQL_ADMIN_PORT",
  "GENERIC_QUIT_ENDPOINTS",
  "IQQQ_WAIT_FOR",
  "ISTIO_READY_PORT",
  "ISTIO_FALLBACK_PKILL",
] as const;

export const DEFAULT_QUIT_BUDGET_MS = 5000;

export function parseConfig(argv: readonly string[], env: Env, invokedAs = "iqqq"): Command | UsageError {
  const args = parseArgs(argv);
  if (args instanceof UsageError || !("program" in args)) return args;

  const flavour = invokedAs === "scuttle" ? "scuttle" : "iqqq";
  const read = new Reader(env);
  const inKubernetes = read.present("KUBERNETES_SERVICE_HOST");
  const disabled = read.value("DISABLE_IQQQ", parseBool) ?? false;
  // Every port the catalogue names, each variable read once (ENVOY_ADMIN_PORT serves two records).
  const ports = new Map<string, number>();
  for (const kind of SIDECARS) {
    for (const setting of [kind.port, kind.ready?.port]) {
      if (setting !== undefined && !ports.has(setting.variable))
        ports.set(setting.variable, read.value(setting.variable, parsePort) ?? setting.default);
    }
  }
  const port = (setting: PortSetting): number => ports.get(setting.variable) ?? setting.default;
  const istioQuitApi = read.value("ISTIO_QUIT_API", parseHttpUrl);
  const envoyAdminApi = read.value("ENVOY_ADMIN_API", parseHttpUrl);
  const sidecars = read.value("IQQQ_SIDECARS", parseSidecars);
  const waitFor = read.value("IQQQ_WAIT_FOR", (raw) => parseList(raw, READY_KINDS));
  const generic = read.value("GENERIC_QUIT_ENDPOINTS", parseUrlList) ?? [];
  const neverKill = read.value("NEVER_KILL_ISTIO", parseBool) ?? false;
  const neverKillOnFailure = read.value("NEVER_KILL_ISTIO_ON_FAILURE", parseBool) ?? false;
  const pkillFallback = read.value("ISTIO_FALLBACK_PKILL", parseBool) ?? false;
  const startWithoutEnvoy = read.value("START_WITHOUT_ENVOY", parseBool) ?? false;
  const waitTimeout = read.value("WAIT_FOR_ENVOY_TIMEOUT", parseDuration) || undefined;
  const quitTimeout = read.value("QUIT_WITHOUT_ENVOY_TIMEOUT", parseDuration) || undefined;
  const budgetMs = read.value("IQQQ_QUIT_TIMEOUT", parsePositiveDuration) ?? DEFAULT_QUIT_BUDGET_MS;
  const scuttleLogging = read.value("SCUTTLE_LOGGING", parseBool) ?? false;
  const watchNames = read.value("IQQQ_WATCH_PROCESS", parseProcessNames);
  const watchName = watchNames?.join(",");
  const watchPattern = read.value("IQQQ_WATCH_PATTERN", parseWatchPattern);
  const watchStartTimeout = read.value("IQQQ_WATCH_START_TIMEOUT", parsePositiveDuration);
  const watchContainers = read.value("IQQQ_WATCH_CONTAINERS", parseCount);
  const plugins = pluginPaths(
    read.value("IQQQ_PLUGINS", parsePluginPaths),
    read.value("WRAPPER_PLUGIN_PATH", parseWrapperPluginPath),
  );
  const pluginTimeout = read.value("IQQQ_PLUGIN_TIMEOUT", parsePositiveDuration) ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  const pluginBudget = read.value("IQQQ_PLUGIN_BUDGET", parsePositiveDuration) ?? DEFAULT_PLUGIN_BUDGET_MS;
  const signalGroup = read.value("IQQQ_SIGNAL_GROUP", parseBool) ?? false;
  const podinfoPath = read.value("IQQQ_PODINFO_ANNOTATIONS", parseAbsolutePath);
  const podLookup = read.value("IQQQ_POD_LOOKUP", parsePodLookup) === "api";
  const restartPolicy = read.value("IQQQ_RESTART_POLICY", parseRestartPolicy);
  const podSidecars = read.value("IQQQ_POD_SIDECARS", (raw) => parseList(raw, SIDECAR_KINDS)) ?? [];
  const startTimeoutMs = read.value("IQQQ_SIDECAR_START_TIMEOUT", parseDuration) ?? DEFAULT_SIDECAR_START_TIMEOUT_MS;
  const groupDir = read.value("IQQQ_GROUP_DIR", parseAbsolutePath);
  const groupMembers = read.value("IQQQ_GROUP", parseMemberList);
  const groupName = read.value("IQQQ_NAME", parseMemberName);
  const GROUP_VARS = ["IQQQ_GROUP_DIR", "IQQQ_GROUP", "IQQQ_NAME"] as const;
  const groupSet = GROUP_VARS.filter((name) => read.present(name));
  if (groupSet.length > 0 && groupSet.length < 3) {
    const parsed = { IQQQ_GROUP_DIR: groupDir, IQQQ_GROUP: groupMembers, IQQQ_NAME: groupName };
    // A value already refused is not named twice.
    for (const name of groupSet.filter((n) => parsed[n] !== undefined)) {
      const others = GROUP_VARS.filter((n) => n !== name).join(" and ");
      read.problems.push(
        `${name}=${JSON.stringify(shownValue(env[name] ?? ""))} is invalid: it goes with ${others} (a shared emptyDir, every job container's name, this one's): set all three or none`,
      );
    }
  } else if (groupName !== undefined && groupMembers !== undefined && !groupMembers.includes(groupName)) {
    read.problems.push(
      `IQQQ_NAME=${JSON.stringify(groupName)} is invalid: it is not one of IQQQ_GROUP (${groupMembers.join(", ")})`,
    );
  }
  let logLevel = read.value("IQQQ_LOG_LEVEL", parseLogLevel) ?? "warn";
  // scuttle ignores bad values with a warning; iqqq refuses to run on them.
  if (read.problems.length > 0 && flavour === "iqqq") return new UsageError(read.problems, EXIT.CONFIG);
  const warnings = read.problems.map((p) => `${p}; ignored, as scuttle does`);
  warnings.push(...misspeltVariables(env, flavour, plugins.length > 0));
  const watching = watchName !== undefined || watchPattern !== undefined || watchContainers !== undefined;
  if (watching && args.program !== undefined) {
    warnings.push("IQQQ_WATCH_PROCESS/IQQQ_WATCH_PATTERN are ignored: a PROGRAM was given, so iqqq wraps it");
  }

  if (scuttleLogging && LOG_LEVELS.indexOf(logLevel) < LOG_LEVELS.indexOf("info")) logLevel = "info";

  const envoyLocal = envoyAdminApi !== undefined && isLoopback(envoyAdminApi);
  const envoyBase = envoyLocal ? envoyAdminApi : new URL(`http://127.0.0.1:${port(sidecar("envoy").port)}`);
  const endpoint = (base: URL | string, path: string): URL => appendPath(new URL(base), path);
  const fromVariable = (kind: Exclude<SidecarKind, "istio-legacy">): string | undefined =>
    kind === "istio" && istioQuitApi !== undefined
      ? "ISTIO_QUIT_API"
      : kind === "envoy" && envoyLocal
        ? "ENVOY_ADMIN_API"
        : read.present(sidecar(kind).port.variable)
          ? sidecar(kind).port.variable
          : undefined;
  const httpTarget = (kind: Exclude<SidecarKind, "istio-legacy">, optional: boolean): QuitTarget => ({
    kind: "http",
    name: kind,
    optional,
    ...(fromVariable(kind) !== undefined ? { from: fromVariable(kind) } : {}),
    url:
      kind === "istio" && istioQuitApi !== undefined
        ? endpoint(istioQuitApi, sidecar(kind).quitPath)
        : kind === "envoy"
          ? endpoint(envoyBase, sidecar(kind).quitPath)
          : endpoint(`http://127.0.0.1:${port(sidecar(kind).port)}`, sidecar(kind).quitPath),
  });
  const pilotAgent: QuitTarget = { kind: "signal", ...ISTIO_LEGACY };

  let targets: QuitTarget[];
  let skipReason: string | undefined;
  let skipWarned = false;
  if (flavour === "scuttle") {
    ({ skipReason, targets } = scuttleStop(
      { envoyAdminApi, envoyLocal, istioQuitApi, disabled, neverKill },
      httpTarget("istio", false),
      httpTarget("envoy", false),
      pilotAgent,
    ));
  } else {
    skipReason = !inKubernetes
      ? "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)"
      : disabled
        ? "DISABLE_IQQQ is true"
        : neverKill
          ? "NEVER_KILL_ISTIO is true"
          : undefined;
    // Sidecar settings outside Kubernetes: someone expects a stop that will not come. Say so, once.
    const expecting = SIDECAR_SETTINGS.filter((name) => read.present(name));
    if (!inKubernetes && expecting.length > 0 && !disabled && !neverKill) {
      warnings.push(
        `${expecting.join(", ")} ${expecting.length === 1 ? "is" : "are"} set, but KUBERNETES_SERVICE_HOST is not: outside Kubernetes no sidecar is stopped. To try iqqq against a local sidecar, set KUBERNETES_SERVICE_HOST to any value`,
      );
      skipWarned = true;
    }
    if (sidecars === "auto") {
      targets = SIDECARS.map((k) => httpTarget(k.name, true));
    } else {
      const kinds = sidecars ?? ["istio"];
      targets = kinds.map((k) => (k === "istio-legacy" ? pilotAgent : httpTarget(k, false)));
      // A local ENVOY_ADMIN_API is a sidecar to stop too when no Istio quit API applies.
      if (envoyLocal && !kinds.includes("istio") && !kinds.includes("envoy")) targets.push(httpTarget("envoy", false));
    }
  }

  const checks: ReadyCheck[] = [];
  if (envoyAdminApi !== undefined)
    checks.push({ name: "envoy", url: endpoint(envoyAdminApi, "server_info"), expectLive: true });
  for (const kind of waitFor ?? []) {
    const ready = sidecar(kind).ready as NonNullable<HttpSidecar["ready"]>;
    const url =
      kind === "envoy" ? endpoint(envoyBase, ready.path).href : `http://127.0.0.1:${port(ready.port)}/${ready.path}`;
    if (!checks.some((c) => c.url.href === url)) checks.push({ name: kind, url: new URL(url), expectLive: false });
  }
  // Outside Kubernetes iqqq is a pass-through; scuttle waits wherever it runs.
  const waits = checks.length > 0 && !startWithoutEnvoy && (flavour === "scuttle" || inKubernetes);

  return {
    action: args.action,
    config: {
      flavour,
      program: args.program === undefined ? undefined : { ...args.program, signalGroup },
      watch:
        watching && args.program === undefined
          ? {
              name: watchName,
              names: watchNames ?? [],
              pattern: watchPattern,
              startTimeoutMs: watchStartTimeout,
              ...(watchContainers !== undefined ? { containers: watchContainers } : {}),
            }
          : undefined,
      plugins: { paths: plugins, timeoutMs: pluginTimeout, budgetMs: pluginBudget },
      logLevel,
      ready: waits
        ? {
            checks,
            timeoutMs: quitTimeout ?? waitTimeout,
            onTimeout: quitTimeout !== undefined ? "quit" : "start",
          }
        : undefined,
      stop: {
        skipReason,
        skipWarned,
        skipOnFailure: neverKillOnFailure,
        targets,
        generic,
        genericFirst: flavour === "scuttle",
        pkillFallback,
        podinfo: { path: podinfoPath ?? DEFAULT_PODINFO_ANNOTATIONS, explicit: podinfoPath !== undefined },
        podLookup,
        budgetMs,
        restartPolicy,
        podSidecars,
        startTimeoutMs,
      },
      group:
        groupDir !== undefined && groupMembers !== undefined && groupName !== undefined
          ? { dir: groupDir, members: groupMembers, name: groupName }
          : undefined,
      warnings,
    },
  };
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

function parsePositiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0) throw new ValueError("expected a duration greater than 0");
  return ms;
}

function parseLogLevel(raw: string): LogLevel {
  const level = raw.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new ValueError(`expected one of ${LOG_LEVELS.join(", ")}`);
}

function parseSidecars(raw: string): readonly SidecarKind[] | "auto" {
  if (raw.trim().toLowerCase() === "auto") return "auto";
  return parseList(raw, SIDECAR_KINDS, "auto, or a comma-separated list of");
}

/** A comma-separated list of known words, any case, spaces trimmed, repeats dropped. */
function parseList<T extends string>(raw: string, known: readonly T[], expected = "a comma-separated list of"): T[] {
  const items = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  const unknown = items.filter((s) => !(known as readonly string[]).includes(s));
  if (items.length === 0 || unknown.length > 0) {
    throw new ValueError(`expected ${expected} ${known.join(", ")}`);
  }
  return [...new Set(items)] as T[];
}

/** Reads variables, treating empty as unset and collecting every bad value. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  present(name: string): boolean {
    return (this.env[name] ?? "") !== "";
  }

  value<T>(name: string, parse: (raw: string) => T): T | undefined {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return undefined;
    try {
      return parse(raw);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      this.problems.push(`${name}=${JSON.stringify(shownValue(raw))} is invalid: ${err.message}`);
      return undefined;
    }
  }
}

/** A file path given by a variable: absolute, as the downward API mounts it. */
function parseAbsolutePath(raw: string): string {
  if (!raw.startsWith("/"))
    throw new ValueError("expected an absolute path (where the downward-API volume is mounted)");
  return raw;
}

/** IQQQ_NAME: a container name (a DNS label). */
function parseMemberName(raw: string): string {
  if (!MEMBER_NAME.test(raw)) throw new ValueError("expected a container name (lower-case letters, digits and -)");
  return raw;
}

/** IQQQ_GROUP: container names, comma-separated, at least two, no repeats. */
function parseMemberList(raw: string): string[] {
  const names = raw.split(",").map((n) => n.trim());
  for (const name of names) parseMemberName(name);
  if (new Set(names).size !== names.length) throw new ValueError("a name is listed twice");
  if (names.length < 2) throw new ValueError("expected at least two container names, comma-separated");
  return names;
}

/** IQQQ_WATCH_PROCESS: one process name, or several, comma-separated. */
function parseProcessNames(raw: string): string[] {
  const names = raw.split(",");
  if (names.some((n) => n === "")) throw new ValueError("expected process names, comma-separated, none empty");
  return names.map(parseProcessName);
}

/** IQQQ_POD_LOOKUP: "api", or unset. */
function parseCount(raw: string): number {
  if (!/^[1-9][0-9]{0,3}$/.test(raw)) throw new ValueError("expected a whole number from 1 to 9999");
  return Number(raw);
}

function parseRestartPolicy(raw: string): RestartPolicy {
  const found = RESTART_POLICIES.find((p) => p === raw);
  if (found === undefined) throw new ValueError(`expected ${RESTART_POLICIES.join(", ")} (the pod's restartPolicy)`);
  return found;
}

function parsePodLookup(raw: string): "api" {
  if (raw !== "api")
    throw new ValueError('expected "api" (read the pod\'s spec from the API server), or leave it unset');
  return "api";
}
