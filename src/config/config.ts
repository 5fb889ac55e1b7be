// (argv, env, invokedAs) → Command | UsageError. Pure: no I/O, no process globals,
// so every variable and every bad value is one row of a table test.

import { EXIT } from "../exit-status.js";
import { LOG_LEVELS, type LogLevel } from "../log.js";
import { parseBool, parseDuration, parseHttpUrl, parsePort, parseUrlList, ValueError } from "./values.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** A sidecar endpoint that must acknowledge the stop. */
export interface QuitTarget {
  readonly name: string;
  readonly url: URL;
}

export interface StopPlan {
  /** Why nothing will be stopped, or undefined when the targets below are used. */
  readonly skipReason: string | undefined;
  /** NEVER_KILL_ISTIO_ON_FAILURE: skip the stop when the program failed. */
  readonly skipOnFailure: boolean;
  /** Sidecars whose stop decides standalone mode's exit status. */
  readonly targets: readonly QuitTarget[];
  /** GENERIC_QUIT_ENDPOINTS: also POSTed, answers only logged. */
  readonly generic: readonly URL[];
  /** Total time for all stop requests, retries included. */
  readonly budgetMs: number;
}

export interface Program {
  readonly file: string;
  readonly args: readonly string[];
}

export interface Config {
  /** undefined: standalone mode, stop the sidecar now. */
  readonly program: Program | undefined;
  readonly logLevel: LogLevel;
  readonly stop: StopPlan;
}

export type Command =
  | { readonly action: "help" }
  | { readonly action: "version" }
  | { readonly action: "run"; readonly config: Config };

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

export const DEFAULT_ISTIO_PORT = 15020;
export const DEFAULT_QUIT_BUDGET_MS = 5000;

export function parseConfig(argv: readonly string[], env: Env, _invokedAs = "iqqq"): Command | UsageError {
  const args = parseArgs(argv);
  if (args instanceof UsageError || args.action !== "run") return args;

  const read = new Reader(env);
  const inKubernetes = read.present("KUBERNETES_SERVICE_HOST");
  const disabled = read.value("DISABLE_IQQQ", parseBool) ?? false;
  const istioPort = read.value("ISTIO_PORT", parsePort) ?? DEFAULT_ISTIO_PORT;
  const istioQuitApi = read.value("ISTIO_QUIT_API", parseHttpUrl);
  const generic = read.value("GENERIC_QUIT_ENDPOINTS", parseUrlList) ?? [];
  const neverKill = read.value("NEVER_KILL_ISTIO", parseBool) ?? false;
  const neverKillOnFailure = read.value("NEVER_KILL_ISTIO_ON_FAILURE", parseBool) ?? false;
  const budgetMs = read.value("IQQQ_QUIT_TIMEOUT", parsePositiveDuration) ?? DEFAULT_QUIT_BUDGET_MS;
  const scuttleLogging = read.value("SCUTTLE_LOGGING", parseBool) ?? false;
  let logLevel = read.value("IQQQ_LOG_LEVEL", parseLogLevel) ?? "warn";
  if (read.problems.length > 0) return new UsageError(read.problems, EXIT.CONFIG);

  if (scuttleLogging && LOG_LEVELS.indexOf(logLevel) < LOG_LEVELS.indexOf("info")) logLevel = "info";

  const skipReason = !inKubernetes
    ? "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)"
    : disabled
      ? "DISABLE_IQQQ is true"
      : neverKill
        ? "NEVER_KILL_ISTIO is true"
        : undefined;

  return {
    action: "run",
    config: {
      program: args.program,
      logLevel,
      stop: {
        skipReason,
        skipOnFailure: neverKillOnFailure,
        targets: [{ name: "istio", url: istioQuitUrl(istioQuitApi, istioPort) }],
        generic,
        budgetMs,
      },
    },
  };
}

type Args = { readonly action: "help" | "version" } | { readonly action: "run"; readonly program: Program | undefined };

/** iqqq's own options come before PROGRAM: --help, --version, and -- to end them. */
function parseArgs(argv: readonly string[]): Args | UsageError {
  let i = 0;
  const first = argv[0];
  if (first === "--help") return { action: "help" };
  if (first === "--version") return { action: "version" };
  if (first === "--") i = 1;
  else if (first?.startsWith("-") && first !== "-") {
    return new UsageError(
      [`unknown option ${JSON.stringify(first)} (to run a program whose name starts with "-", put -- before it)`],
      EXIT.USAGE,
    );
  }
  const file = argv[i];
  if (file === undefined) return { action: "run", program: undefined };
  if (file === "") return new UsageError(["the program to run is an empty string"], EXIT.USAGE);
  return { action: "run", program: { file, args: argv.slice(i + 1) } };
}

function istioQuitUrl(base: URL | undefined, port: number): URL {
  if (base === undefined) return new URL(`http://127.0.0.1:${port}/quitquitquit`);
  // scuttle appends "/quitquitquit" to the base as a string; keep any path prefix.
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/quitquitquit`;
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
      this.problems.push(`${name}=${JSON.stringify(raw)} is invalid: ${err.message}`);
      return undefined;
    }
  }
}
