// iqqq's exit-status contract. In wrapper mode the program's own status always
// wins; these codes are for what happened around it.

import { builtin } from "./runtime/builtins.js";

export const EXIT = {
  OK: 0,
  /** Standalone mode: a sidecar answered the stop with an error, or not in time. */
  STOP_FAILED: 1,
  /** sysexits.h EX_USAGE: a bad command line. Nothing was run. */
  USAGE: 64,
  /** sysexits.h EX_DATAERR: iqqq inject got input it cannot inject (bad YAML, a look-up that failed). */
  DATA: 65,
  /** sysexits.h EX_UNAVAILABLE: standalone mode found no sidecar listening (connection refused). */
  NO_SIDECAR: 69,
  /**
   * sysexits.h EX_UNAVAILABLE ("a support program or file does not exist"): dist/iqqq.mjs copied
   * without the files beside it that iqqq install, inject, webhook or IQQQ_WATCH_PATTERN load.
   * Nothing was run.
   */
  MISSING_PART: 69,
  /** sysexits.h EX_SOFTWARE: a bug in iqqq itself; the sidecar is still stopped. */
  INTERNAL: 70,
  /** sysexits.h EX_OSFILE: watcher mode cannot read /proc; the sidecars were stopped. */
  NO_PROC: 72,
  /** sysexits.h EX_CANTCREAT: iqqq install could not copy into its folder. */
  CANT_CREATE: 73,
  /**
   * sysexits.h EX_IOERR: a command's output (inject's manifests, --help, --explain) could not be
   * written whole: its reader went away (EPIPE), or another write error. What was written is incomplete.
   */
  IO_ERROR: 74,
  /**
   * sysexits.h EX_TEMPFAIL: QUIT_WITHOUT_ENVOY_TIMEOUT ran out (the program was not
   * started), or IQQQ_WATCH_START_TIMEOUT did (nothing appeared); the sidecars were stopped.
   */
  NOT_READY: 75,
  /** sysexits.h EX_CONFIG: a bad environment variable. Nothing was run. */
  CONFIG: 78,
  /** The program was found but could not be executed, as sh reports it (POSIX 2.8.2). */
  NOT_EXECUTABLE: 126,
  /** The program was not found, as sh reports it (POSIX 2.8.2). */
  NOT_FOUND: 127,
  /** Killed by signal N: 128 + N, as sh, bash and tini report it. */
  SIGNAL_BASE: 128,
} as const;

/** How the wrapped program ended. */
export type ProgramResult =
  | { readonly kind: "exited"; readonly code: number }
  | { readonly kind: "signaled"; readonly signal: NodeJS.Signals }
  | { readonly kind: "not-found"; readonly message: string }
  | { readonly kind: "not-executable"; readonly message: string };

export function signalNumber(signal: NodeJS.Signals): number {
  return builtin("node:os").constants.signals[signal] ?? 0;
}

export function exitStatusOf(result: ProgramResult): number {
  switch (result.kind) {
    case "exited":
      return result.code;
    case "signaled":
      return EXIT.SIGNAL_BASE + signalNumber(result.signal);
    case "not-found":
      return EXIT.NOT_FOUND;
    case "not-executable":
      return EXIT.NOT_EXECUTABLE;
  }
}
