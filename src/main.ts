// The pipeline: config → plugins → readiness → run (or watch) the program →
// stop the sidecars → exit status. main() returns the status; only the bin
// (cli.ts) calls process.exit. Only the wrapper's and the standalone stop's
// modules are imported at start, the decision to stop included: every run
// takes it, and the executable loads a module imported on demand from a chunk
// of its own (0.1-0.3 ms, more than evaluating it). --explain, the plugin
// loader and the watcher are imported when they are used
// (test/runtime/start-path.test.ts checks it).

import type { CommandName } from "./commands/names.js";
import { type Config, type Program, parseConfig, UsageError, type WatchPlan } from "./config/config.js";
import { EXIT, exitStatusOf, signalNumber } from "./exit-status.js";
import type { Env, Io } from "./io.js";
import { createLogger, type Logger } from "./log.js";
import type { ExitInfo, Mode, Sidecar } from "./plugins/api.js";
import { programExit, watchExit } from "./plugins/context.js";
import { NO_PLUGINS, type PluginHost } from "./plugins/paths.js";
import { decideStop } from "./pod/decision.js";
import { runProgram } from "./program/run.js";
import { SignalRelay } from "./program/signals.js";
import { waitUntilReady } from "./ready/wait.js";
import { logStrayErrors } from "./runtime/strays.js";
import { later } from "./runtime/timers.js";
import { WARM_UP_AFTER_MS, warmUp } from "./sidecar/request.js";
import { type StopResult, standaloneStatus, stopSidecars, type TargetOutcome } from "./sidecar/stop.js";
import { VERSION } from "./version.js";

export type { Env, Io };

/**
 * iqqq's commands, as its first argument; each loaded only when used. `iqqq -- install …` runs a program.
 * The Node bundle has each in a file of its own, dist/commands/NAME.mjs (scripts/build.mjs); the Bun
 * executable has them inside.
 */
const COMMANDS: Record<CommandName, () => Promise<(args: readonly string[], env: Env, io: Io) => Promise<number>>> = {
  install: async () => (await import("./commands/install.js")).installCommand,
  inject: async () => (await import("./commands/inject.js")).injectCommand,
  webhook: async () => (await import("./commands/webhook.js")).webhookCommand,
  reaper: async () => (await import("./commands/reaper.js")).reaperCommand,
};

/**
 * Runs iqqq and resolves to its exit status. In wrapper and watcher mode the
 * signal handlers stay installed when it returns, so that a late SIGTERM cannot
 * kill iqqq before the caller exits with the right status.
 */
export async function main(argv: readonly string[], env: Env, io: Io): Promise<number> {
  // Invoked as scuttle, iqqq follows scuttle's rules: its first argument is always the program.
  const load =
    io.invokedAs !== "scuttle" && Object.hasOwn(COMMANDS, argv[0] ?? "") ? COMMANDS[argv[0] as CommandName] : undefined;
  if (load !== undefined) {
    const name = argv[0] as string;
    const command = await fromBeside(load, `iqqq ${name}`, `commands/${name}.mjs`, `iqqq ${name}`, io);
    return command === undefined ? EXIT.MISSING_PART : command(argv.slice(1), env, io);
  }
  // The pattern engine is loaded only for the variable that needs it, and only in watcher mode:
  // with a PROGRAM the pattern is ignored (with a warning), so a copy without the engine still wraps.
  const watchPattern = (env.IQQQ_WATCH_PATTERN ?? "") !== "";
  const ignored = {
    pattern: (raw: string) => ({ source: raw, test: () => false, toString: () => `/${raw}/` }),
  };
  let command = parseConfig(argv, env, io.invokedAs, watchPattern ? ignored : {});
  if (watchPattern && !(command instanceof UsageError) && "config" in command && command.config.program !== undefined) {
    // Still checked where the engine is there: a bad value is an error, used or not.
    const pattern = await import("./watch/pattern.js").then(
      (m) => m.parseWatchPattern,
      () => undefined,
    );
    if (pattern !== undefined) command = parseConfig(argv, env, io.invokedAs, { pattern });
  } else if (watchPattern && !(command instanceof UsageError) && "config" in command) {
    const pattern = await fromBeside(
      async () => (await import("./watch/pattern.js")).parseWatchPattern,
      "iqqq",
      "vendor/re2js.mjs",
      "IQQQ_WATCH_PATTERN",
      io,
    );
    if (pattern === undefined) return EXIT.MISSING_PART;
    command = parseConfig(argv, env, io.invokedAs, { pattern });
  }
  if (command instanceof UsageError) {
    for (const problem of command.problems) io.stderr(`iqqq: error: ${problem}\n`);
    io.stderr("iqqq: nothing was run; see iqqq --help\n");
    return command.exitCode;
  }
  if (command.action === "help") {
    io.stdout((await import("./help.js")).helpText());
    return EXIT.OK;
  }
  if (command.action === "version") {
    // What a bug report needs: the build (Bun executable or Node bundle), its runtime and platform.
    const build =
      process.versions.bun !== undefined
        ? `Bun executable, bun ${process.versions.bun}`
        : `Node bundle, node ${process.versions.node}`;
    io.stdout(`iqqq ${VERSION}\n${build}, ${process.platform}-${process.arch}\n${compileCacheLine()}`);
    return EXIT.OK;
  }
  const { config } = command;
  if (command.action === "explain") {
    const { explain } = await import("./explain.js");
    io.stdout(explain(config));
    return EXIT.OK;
  }
  const log = createLogger(config.logLevel, io.stderr);
  logStrayErrors(log);
  for (const warning of config.warnings) log.warn(warning);
  const mode: Mode = config.program !== undefined ? "wrapper" : config.watch !== undefined ? "watcher" : "standalone";
  const plugins =
    config.plugins.paths.length === 0
      ? NO_PLUGINS
      : await (await import("./plugins/host.js")).loadPlugins(config.plugins.paths, {
          log,
          mode,
          timeoutMs: config.plugins.timeoutMs,
          budgetMs: config.plugins.budgetMs,
        });
  if (config.program !== undefined) return wrap(config, config.program, plugins, log);
  if (config.watch !== undefined) return watch(config, config.watch, plugins, log);
  return stop(config, plugins, log, undefined, (result) => standaloneStatus(result));
}

/**
 * A part of iqqq imported on demand. The Node bundle leaves some in files beside
 * dist/iqqq.mjs (scripts/build.mjs); copied alone (into a Node image, or by iqqq
 * install) it still wraps, and what needs one of them says so here and resolves
 * to undefined. The part's file imports nothing but built-ins, so a module not
 * found is the file itself (Node names it in the error's url).
 */
async function fromBeside<T>(
  load: () => Promise<T>,
  prefix: string,
  file: string,
  what: string,
  io: Io,
): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    const missing = err as { code?: unknown; url?: unknown };
    const url = typeof missing.url === "string" ? missing.url : "";
    if (missing.code !== "ERR_MODULE_NOT_FOUND" || (url !== "" && !url.endsWith(`/${file}`))) throw err;
    const where = url === "" ? "" : ` (no ${url.startsWith("file://") ? decodeURI(url.slice(7)) : url})`;
    io.stderr(
      `${prefix}: error: this copy of iqqq is the wrapper alone: ${what} needs ${file} beside iqqq.mjs${where}. ` +
        "Install the npm package (npm i -g iqqq), or use the iqqq executable or image; nothing was run\n",
    );
    return undefined;
  }
}

async function wrap(config: Config, program: Program, plugins: PluginHost, log: Logger): Promise<number> {
  const relay = new SignalRelay(log).install();
  // As a container's PID 1, orphans are iqqq's to reap (the Bun executable only: reaper.ts).
  if (process.pid === 1 && process.versions.bun !== undefined)
    void import("./runtime/reaper.js").then((m) => m.reapOrphans(() => relay.programPid, log));
  let status: number = EXIT.INTERNAL;
  let exit: ExitInfo | undefined;
  try {
    if (config.ready !== undefined) {
      // SIGTERM/SIGINT end the wait: the pod is going away, the program must not start.
      const interrupt = new AbortController();
      relay.onReceive((signal) => {
        if (signal === "SIGTERM" || signal === "SIGINT") interrupt.abort(signal);
      });
      const waited = await waitUntilReady(config.ready, log, interrupt.signal);
      relay.onReceive(undefined);
      if (waited.kind === "interrupted") {
        status = EXIT.SIGNAL_BASE + signalNumber(waited.signal);
        log.warn(`${waited.signal} while waiting for the sidecar to be ready: the program was not started`);
        return status;
      }
      if (waited.kind === "timeout" && config.ready.onTimeout === "quit") {
        status = EXIT.NOT_READY;
        log.error("the sidecar was not ready within QUIT_WITHOUT_ENVOY_TIMEOUT: the program was not started");
        return status;
      }
      if (waited.kind === "timeout")
        log.warn("the sidecar was not ready within WAIT_FOR_ENVOY_TIMEOUT: starting the program anyway");
    }
    // No await here without plugins: with no readiness wait or group either, the program starts
    // in the same turn as iqqq (cli.ts).
    if (plugins !== NO_PLUGINS)
      await plugins.run("beforeStart", { program: { file: program.file, args: program.args } });
    // Started again by the kubelet (restartPolicy OnFailure): this member is running, not finished.
    if (config.group !== undefined) (await import("./pod/group.js")).clearRecord(config.group, log);
    const started = Date.now();
    const running = runProgram(program, relay, log);
    // The program has been spawned and iqqq is idle until it ends: warm the HTTP client up then,
    // unless it has ended first (request.ts says why).
    const cancelWarmUp =
      config.stop.skipReason === undefined ? later(WARM_UP_AFTER_MS, warmUp, { ref: false }) : undefined;
    const result = await running;
    cancelWarmUp?.();
    status = exitStatusOf(result);
    if (result.kind === "not-found" || result.kind === "not-executable") log.error(result.message);
    else if (result.kind === "signaled") log.info(`program killed by ${result.signal}: exit status ${status}`);
    else log.info(`program exited with status ${status}`);
    exit = programExit(result, status, Date.now() - started);
    await plugins.run("afterExit", { exit });
  } finally {
    // Also when the program could not be started: a sidecar left running keeps the pod alive forever.
    await stop(config, plugins, log, exit, () => status, status !== EXIT.OK, status);
  }
  return status;
}

async function watch(config: Config, plan: WatchPlan, plugins: PluginHost, log: Logger): Promise<number> {
  const [{ watchEvery }, { watchOutcome }] = await Promise.all([
    import("./watch/every.js"),
    import("./watch/outcome.js"),
  ]);
  if (config.stop.skipOnFailure) {
    log.warn(
      "NEVER_KILL_ISTIO_ON_FAILURE has no effect when the watched process ends: a watcher cannot see its exit status, so the end counts as success",
    );
  }
  // SIGTERM/SIGINT end the watch at once. The handlers stay: a signal must not kill iqqq mid-stop.
  const interrupt = new AbortController();
  let received: NodeJS.Signals | undefined;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      received ??= signal;
      interrupt.abort(signal);
    });
  }
  await plugins.run("beforeStart", {
    watch: {
      ...(plan.name === undefined ? {} : { name: plan.name }),
      ...(plan.pattern === undefined ? {} : { pattern: plan.pattern.source }),
    },
  });
  const result =
    plan.containers !== undefined
      ? await (await import("./watch/containers.js")).watchContainers(
          { count: plan.containers, startTimeoutMs: plan.startTimeoutMs },
          log,
          interrupt.signal,
        )
      : await watchEvery(
          plan.names,
          { pattern: plan.pattern, startTimeoutMs: plan.startTimeoutMs },
          log,
          interrupt.signal,
        );
  const outcome = watchOutcome(result, log, received, config.stop.skipOnFailure);
  const exit = watchExit(result, outcome.status);
  if (exit !== undefined) await plugins.run("afterExit", { exit });
  if (!outcome.stop) return outcome.status;
  return stop(config, plugins, log, exit, () => outcome.status, outcome.failed, outcome.status);
}

/** Decides, then stops the sidecars between the beforeStop and afterStop hooks; resolves to the exit status. */
async function stop(
  config: Config,
  plugins: PluginHost,
  log: Logger,
  exit: ExitInfo | undefined,
  statusOf: (result: StopResult) => number,
  programFailed = false,
  memberStatus = 0,
): Promise<number> {
  const decision = await decideStop(config, { failed: programFailed, status: memberStatus }, log);
  // The plan's targets, in its order, as a decision to stop lists them too. A
  // loop, not map(): this runs at every stop (sidecar/catalogue.ts says why).
  const sidecars: Sidecar[] = [];
  for (const t of config.stop.targets)
    sidecars.push({ name: t.name, url: t.kind === "http" ? t.url.href : `signal:${t.signal}:${t.process}` });
  const skipReason = decision.kind === "skip" ? decision.reason : undefined;
  await plugins.run("beforeStop", { exit, sidecars, skipReason });
  const result: StopResult =
    decision.kind === "skip"
      ? { kind: "skipped", reason: decision.reason }
      : await stopSidecars(config.stop, decision.targets, decision.present, log);
  const status = statusOf(result);
  const stopped: (Sidecar & { outcome: TargetOutcome["outcome"] })[] = [];
  if (result.kind === "done")
    for (let i = 0; i < sidecars.length; i++)
      stopped.push({ ...(sidecars[i] as Sidecar), outcome: result.outcomes[i]?.outcome ?? "failed" });
  await plugins.run("afterStop", { exit, sidecars: stopped, skipReason, status });
  return status;
}

/** What the Node bundle's loader says of its compile cache (runtime/bundle-loader.ts), as a line of --version. */
declare const __iqqqCompileCache: string | undefined;
function compileCacheLine(): string {
  return typeof __iqqqCompileCache === "string" ? `compile cache: ${__iqqqCompileCache}\n` : "";
}
