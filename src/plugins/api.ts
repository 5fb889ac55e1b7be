// The plugin API: what a module named in IQQQ_PLUGINS may export, and what its
// hooks are given. Published as the types-only entry point "iqqq/plugin":
//
//   /** @type {import("iqqq/plugin").IqqqPlugin} */
//   export default { name: "notify", async afterExit({ exit, log }) { … } };
//
// Self-contained on purpose (no imports): this file becomes dist/plugin.d.ts.
// Hooks observe; they cannot change what iqqq does. A hook that throws, rejects
// or outlives IQQQ_PLUGIN_TIMEOUT is logged and left behind; the program's exit
// status and the sidecar stop are never affected. Hooks run one plugin after
// another, in the order IQQQ_PLUGINS lists them.

/** wrapper: iqqq runs PROGRAM. watcher: iqqq watches a process of another container. standalone: iqqq only stops the sidecars. */
export type Mode = "wrapper" | "watcher" | "standalone";

/** Lines go to stderr as `iqqq: plugin NAME: …`, filtered by IQQQ_LOG_LEVEL like iqqq's own. */
export interface PluginLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** Given to every hook. Context objects are frozen copies: changing them changes nothing. */
export interface HookContext {
  readonly mode: Mode;
  /** iqqq's version. */
  readonly version: string;
  readonly log: PluginLog;
  /** Aborted when this hook's time is up (IQQQ_PLUGIN_TIMEOUT): hand it to fetch() and timers. */
  readonly signal: AbortSignal;
}

/** What iqqq is about to run or watch. */
export interface StartInfo {
  /** Wrapper mode: the program and its arguments, as given. */
  readonly program?: { readonly file: string; readonly args: readonly string[] };
  /** Watcher mode: IQQQ_WATCH_PROCESS and IQQQ_WATCH_PATTERN. */
  readonly watch?: { readonly name?: string; readonly pattern?: string };
}

/**
 * How the program ended.
 * - exited, signaled, not-found, not-executable: wrapper mode.
 * - gone: watcher mode, every watched process has gone; its exit code cannot be seen.
 * - never-appeared: watcher mode, nothing matched within IQQQ_WATCH_START_TIMEOUT.
 * - unavailable: watcher mode, /proc could not be read.
 */
export type ExitKind =
  | "exited"
  | "signaled"
  | "not-found"
  | "not-executable"
  | "gone"
  | "never-appeared"
  | "unavailable";

export interface ExitInfo {
  readonly kind: ExitKind;
  /** The program's exit code (0-255) when it exited; null when a signal killed it or it is unknown (watcher). */
  readonly exitCode: number | null;
  /** The signal that killed the program, e.g. "SIGKILL"; otherwise null. */
  readonly signal: string | null;
  /** Wrapper: from start to exit. Watcher: from first seen to gone (0 if never seen). */
  readonly durationMs: number;
  /** The status iqqq will exit with (the program's, 128+N for a signal, 127, 126…). */
  readonly status: number;
}

/** A sidecar iqqq stops: a name for people and the endpoint it POSTs to. */
export interface Sidecar {
  readonly name: string;
  readonly url: string;
}

/**
 * stopped: acknowledged. absent: nothing listening. failed: refused, error, or no
 * answer in time. native: not sent, the pod's annotations show a native sidecar
 * (the kubelet stops it) or none at all (Istio ambient).
 */
export type StopOutcome = "stopped" | "absent" | "failed" | "native";

export interface BeforeStartContext extends HookContext, StartInfo {}

export interface AfterExitContext extends HookContext {
  readonly exit: ExitInfo;
}

export interface BeforeStopContext extends HookContext {
  /** undefined in standalone mode: there is no program. */
  readonly exit: ExitInfo | undefined;
  readonly sidecars: readonly Sidecar[];
  /** Why nothing will be stopped (NEVER_KILL_ISTIO, not in Kubernetes…), or undefined. */
  readonly skipReason: string | undefined;
}

export interface AfterStopContext extends HookContext {
  readonly exit: ExitInfo | undefined;
  /** Each sidecar with its outcome; empty when the stop was skipped. */
  readonly sidecars: readonly (Sidecar & { readonly outcome: StopOutcome })[];
  readonly skipReason: string | undefined;
  /** The status iqqq exits with once the hooks have run. */
  readonly status: number;
}

export type Awaitable<T> = T | Promise<T>;

export interface IqqqPlugin {
  /** For log lines; defaults to the module's file name without its extension. */
  readonly name?: string;
  /** Wrapper and watcher modes: before the program starts (or the watch begins). */
  beforeStart?(ctx: BeforeStartContext): Awaitable<void>;
  /** Wrapper and watcher modes: once the program has ended, before the stop. */
  afterExit?(ctx: AfterExitContext): Awaitable<void>;
  /** Every mode: right before the sidecars are stopped (also when the stop is skipped). */
  beforeStop?(ctx: BeforeStopContext): Awaitable<void>;
  /** Every mode: after the stop, right before iqqq exits. */
  afterStop?(ctx: AfterStopContext): Awaitable<void>;
  /** wrapper4's PluginRunner.Run(): called as afterExit when there is no afterExit. */
  run?(ctx: AfterExitContext): Awaitable<void>;
}

export type HookName = "beforeStart" | "afterExit" | "beforeStop" | "afterStop";

/** Given to a plugin factory (a default-exported function, or getPlugin / GetPlugin). */
export interface SetupContext {
  readonly mode: Mode;
  readonly version: string;
  readonly log: PluginLog;
}

/**
 * A plugin module exports one of, in this order of precedence:
 * - `default`: an IqqqPlugin, or a function (factory) returning one;
 * - `getPlugin` or `GetPlugin`: a factory, as wrapper4's Go plugins do;
 * - the hooks themselves as named exports (`export function afterExit(ctx) {}`), and optionally `name`.
 */
export type PluginFactory = (setup: SetupContext) => Awaitable<IqqqPlugin>;
