// The pipeline: config → readiness → run the program → stop the sidecars → exit status.
// main() returns the status; only the bin (cli.ts) calls process.exit.

import { type Config, type Env, type Program, parseConfig, UsageError } from "./config/config.js";
import { EXIT, exitStatusOf, signalNumber } from "./exit-status.js";
import { explain } from "./explain.js";
import { helpText } from "./help.js";
import { createLogger, type Logger } from "./log.js";
import { runProgram } from "./program/run.js";
import { SignalRelay } from "./program/signals.js";
import { waitUntilReady } from "./ready/wait.js";
import { warmUp } from "./sidecar/request.js";
import { standaloneStatus, stopSidecars } from "./sidecar/stop.js";
import { VERSION } from "./version.js";

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The name iqqq was started under (argv[1]'s basename): "scuttle" selects scuttle's rules. */
  readonly invokedAs: string;
}

/**
 * Runs iqqq and resolves to its exit status. In wrapper mode the signal
 * handlers stay installed when it returns, so that a late SIGTERM cannot kill
 * iqqq before the caller exits with the program's status.
 */
export async function main(argv: readonly string[], env: Env, io: Io): Promise<number> {
  const command = parseConfig(argv, env, io.invokedAs);
  if (command instanceof UsageError) {
    for (const problem of command.problems) io.stderr(`iqqq: error: ${problem}\n`);
    io.stderr("iqqq: nothing was run; see iqqq --help\n");
    return command.exitCode;
  }
  if (command.action === "help") {
    io.stdout(helpText());
    return EXIT.OK;
  }
  if (command.action === "version") {
    io.stdout(`iqqq ${VERSION}\n`);
    return EXIT.OK;
  }
  const { config } = command;
  if (command.action === "explain") {
    io.stdout(explain(config));
    return EXIT.OK;
  }
  const log = createLogger(config.logLevel, io.stderr);
  for (const warning of config.warnings) log.warn(warning);
  if (config.program === undefined) return standaloneStatus(await stopSidecars(config.stop, false, log));
  return wrap(config, config.program, log);
}

async function wrap(config: Config, program: Program, log: Logger): Promise<number> {
  const relay = new SignalRelay(log).install();
  let status: number = EXIT.INTERNAL;
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
    const running = runProgram(program, relay, log);
    // The program has been spawned and iqqq is idle until it ends: load the HTTP client now.
    if (config.stop.skipReason === undefined) warmUp();
    const result = await running;
    status = exitStatusOf(result);
    if (result.kind === "not-found" || result.kind === "not-executable") log.error(result.message);
    else if (result.kind === "signaled") log.info(`program killed by ${result.signal}: exit status ${status}`);
    else log.info(`program exited with status ${status}`);
  } finally {
    // Also when the program could not be started: a sidecar left running keeps the pod alive forever.
    await stopSidecars(config.stop, status !== EXIT.OK, log);
  }
  return status;
}
