// Loads the IQQQ_PLUGINS modules and runs their hooks, each bounded by a
// timeout, and all of them together by one budget for the whole run. Never
// throws and never rejects: a plugin that fails to load, throws, rejects or
// hangs is logged as a warning and iqqq goes on without it, so a plugin can
// neither change the program's exit status nor keep the sidecars from being
// stopped. (Stray rejections and exceptions thrown later from a plugin's timers
// are caught by the bin, cli.ts.) What it cannot be protected from: a hook that
// blocks the event loop (an endless synchronous loop) or calls process.exit().

import { formatDuration } from "../config/values.js";
import type { Logger } from "../log.js";
import { builtin } from "../runtime/builtins.js";
import { later } from "../runtime/timers.js";
import { VERSION } from "../version.js";
import type { HookName, IqqqPlugin, Mode, PluginLog, SetupContext } from "./api.js";
import {
  DEFAULT_PLUGIN_BUDGET_MS,
  DEFAULT_PLUGIN_TIMEOUT_MS,
  type LoadedPlugin,
  NO_PLUGINS,
  type PluginHost,
} from "./paths.js";

export interface PluginOptions {
  readonly log: Logger;
  readonly mode: Mode;
  /** For loading each plugin and for each hook call. Default DEFAULT_PLUGIN_TIMEOUT_MS. */
  readonly timeoutMs?: number | undefined;
  /** For all plugin work in the run together. Default DEFAULT_PLUGIN_BUDGET_MS. */
  readonly budgetMs?: number | undefined;
  /** Relative paths are resolved against it. Default process.cwd(). */
  readonly cwd?: string | undefined;
}

type Hooks = { readonly [H in HookName]?: (ctx: never) => unknown };

interface Plugin extends LoadedPlugin {
  readonly hooks: Hooks;
  readonly log: PluginLog;
}

const HOOKS: readonly HookName[] = ["beforeStart", "afterExit", "beforeStop", "afterStop"];

export async function loadPlugins(paths: readonly string[], options: PluginOptions): Promise<PluginHost> {
  if (paths.length === 0) return NO_PLUGINS;
  const { log, mode } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  const budget = new Budget(options.budgetMs ?? DEFAULT_PLUGIN_BUDGET_MS);
  const cwd = options.cwd ?? process.cwd();

  // Imported in parallel, kept in the order given; the budget is charged once for all.
  const loadStarted = Date.now();
  const loadLimit = budget.limit(timeoutMs);
  const loaded = await Promise.all(
    paths.map(async (path): Promise<Plugin | undefined> => {
      const { basename, extname, resolve } = builtin("node:path");
      const file = resolve(cwd, path);
      const fallbackName = basename(file, extname(file));
      if (extname(file) === ".so") {
        log.warn(
          `plugin ${path}: not loaded: a Go plugin (wrapper4's WRAPPER_PLUGIN_PATH); iqqq stops the sidecar itself and loads ES modules (.mjs, .js) only`,
        );
        return undefined;
      }
      const unsafe = writableByOthers(file);
      if (unsafe !== undefined) {
        log.warn(
          `plugin ${path}: not loaded: ${unsafe} is writable by every user, so anyone could change what iqqq runs`,
        );
        return undefined;
      }
      const setupLog = pluginLog(log, fallbackName);
      const result = await bounded(
        async () =>
          toPlugin(await import(builtin("node:url").pathToFileURL(file).href), {
            mode,
            version: VERSION,
            log: setupLog,
          }),
        loadLimit.ms,
      );
      if (result.kind !== "done") {
        log.warn(`plugin ${path}: not loaded: ${describeFailure(result, loadLimit)}`);
        return undefined;
      }
      const object = result.value;
      const name = typeof object.name === "string" && object.name !== "" ? object.name : fallbackName;
      const hooks: Record<string, (ctx: never) => unknown> = {};
      for (const hook of HOOKS) {
        const fn = object[hook];
        if (typeof fn === "function") hooks[hook] = fn.bind(object) as (ctx: never) => unknown;
      }
      if (hooks.afterExit === undefined && typeof object.run === "function") {
        hooks.afterExit = object.run.bind(object) as (ctx: never) => unknown;
      }
      if (Object.keys(hooks).length === 0) {
        log.warn(`plugin ${path}: not loaded: it has no hooks (${HOOKS.join(", ")} or run)`);
        return undefined;
      }
      log.debug(`plugin ${name}: loaded from ${file} (${Object.keys(hooks).join(", ")})`);
      return { name, path: file, hooks, log: pluginLog(log, name) };
    }),
  );
  budget.charge(Date.now() - loadStarted);
  const plugins = loaded.filter((p): p is Plugin => p !== undefined);

  return {
    plugins: plugins.map(({ name, path }) => ({ name, path })),
    async run(hook, data) {
      for (const plugin of plugins) {
        const fn = plugin.hooks[hook];
        if (fn === undefined) continue;
        if (budget.spent()) {
          log.warn(`plugin ${plugin.name}: ${hook} not run: the plugins' IQQQ_PLUGIN_BUDGET is used up`);
          continue;
        }
        const limit = budget.limit(timeoutMs);
        const started = Date.now();
        const result = await bounded(
          (signal) =>
            fn(freeze({ ...structuredClone(data), mode, version: VERSION, log: plugin.log, signal }) as never),
          limit.ms,
        );
        // A call that timed out used its whole allowance, whatever the clock says
        // (Date.now() can read a millisecond short of the timer, leaving a 1 ms slot).
        budget.charge(Math.max(Date.now() - started, result.kind === "timeout" ? limit.ms : 0));
        if (result.kind === "done") log.debug(`plugin ${plugin.name}: ${hook} done`);
        else log.warn(`plugin ${plugin.name}: ${hook} ${describeFailure(result, limit)}; going on without it`);
      }
    },
  };
}

/** Turns a module namespace into a plugin object, following the precedence documented in api.ts. */
async function toPlugin(module: Record<string, unknown>, setup: SetupContext): Promise<IqqqPlugin> {
  const factory = (value: unknown): Promise<unknown> | undefined =>
    typeof value === "function" ? Promise.resolve((value as (s: SetupContext) => unknown)(setup)) : undefined;
  const fromDefault = module.default;
  const made = factory(fromDefault) ?? factory(module.getPlugin) ?? factory(module.GetPlugin);
  const object = made !== undefined ? await made : fromDefault !== undefined ? fromDefault : module;
  if (typeof object !== "object" || object === null) {
    throw new Error(`expected a plugin object, got ${object === null ? "null" : typeof object}`);
  }
  return object as IqqqPlugin;
}

type Bounded<T> =
  | { readonly kind: "done"; readonly value: T }
  | { readonly kind: "threw"; readonly error: unknown }
  | { readonly kind: "timeout" };

/** How long one plugin call may take: its own limit, or what is left of the run's budget. */
interface Limit {
  readonly ms: number;
  readonly by: "IQQQ_PLUGIN_TIMEOUT" | "IQQQ_PLUGIN_BUDGET";
}

/** The time all plugin work in one run may take together. */
class Budget {
  #left: number;
  constructor(readonly totalMs: number) {
    this.#left = totalMs;
  }
  limit(perCallMs: number): Limit {
    return perCallMs <= this.#left
      ? { ms: perCallMs, by: "IQQQ_PLUGIN_TIMEOUT" }
      : { ms: this.#left, by: "IQQQ_PLUGIN_BUDGET" };
  }
  charge(ms: number): void {
    this.#left = Math.max(0, this.#left - ms);
  }
  spent(): boolean {
    return this.#left <= 0;
  }
}

/**
 * Runs `work` until it settles or `timeoutMs` passes, whichever is first. The
 * timer is a plain (ref'd) one, not AbortSignal.timeout(): with a hook that
 * hangs on nothing, an unref'd timer would let Node's event loop run dry and
 * the process end before the sidecars are stopped.
 */
async function bounded<T>(work: (signal: AbortSignal) => T | Promise<T>, timeoutMs: number): Promise<Bounded<T>> {
  const controller = new AbortController();
  let cancel: (() => void) | undefined;
  const timeout = new Promise<Bounded<T>>((done) => {
    cancel = later(timeoutMs, () => {
      controller.abort(new Error(`timed out after ${formatDuration(timeoutMs)}`));
      done({ kind: "timeout" });
    });
  });
  const attempt = (async (): Promise<Bounded<T>> => {
    try {
      return { kind: "done", value: await work(controller.signal) };
    } catch (error) {
      return { kind: "threw", error };
    }
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    cancel?.();
  }
}

/**
 * The file, or the folder it is in, when others may write to it (a folder with
 * the sticky bit, as /tmp, is safe for files its owner owns); else undefined.
 * Such a plugin would run whatever anyone put there, so it is not loaded.
 */
function writableByOthers(file: string): string | undefined {
  const OTHERS_WRITE = 0o002;
  const STICKY = 0o1000;
  try {
    const { statSync } = builtin("node:fs");
    if ((statSync(file).mode & OTHERS_WRITE) !== 0) return file;
    const folder = builtin("node:path").dirname(file);
    const mode = statSync(folder).mode;
    if ((mode & OTHERS_WRITE) !== 0 && (mode & STICKY) === 0) return `its folder ${folder}`;
  } catch {
    // Missing or unreadable: the import reports it.
  }
  return undefined;
}

function describeFailure(result: Bounded<unknown>, limit: Limit): string {
  if (result.kind === "timeout") return `did not finish within ${formatDuration(limit.ms)} (${limit.by})`;
  if (result.kind === "threw") {
    const error = result.error;
    return `failed: ${oneLine(error instanceof Error ? `${error.name}: ${error.message}` : String(error))}`;
  }
  return "done";
}

function pluginLog(log: Logger, name: string): PluginLog {
  const at =
    (write: (message: string) => void) =>
    (message: string): void =>
      write(`plugin ${name}: ${oneLine(String(message))}`);
  return { error: at(log.error), warn: at(log.warn), info: at(log.info), debug: at(log.debug) };
}

/** iqqq's log is one line per message. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}

/** Freezes the plain-data part of a context (objects and arrays), not the signal. */
function freeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || value instanceof AbortSignal || Object.isFrozen(value)) {
    return value;
  }
  for (const key of Object.keys(value)) freeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}
