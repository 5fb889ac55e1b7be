// Errors nobody awaits: a rejection no one handles, or an exception thrown from a
// timer or an event callback, typically a plugin's (a hook that returned but left
// work behind). By default either ends the runtime at once with status 1, while
// the program runs on orphaned and the sidecar is never stopped. iqqq logs them
// and goes on: the program's exit status and the stop come first.
// The runtime's own warnings go to iqqq's log too: its default printer writes
// through process.stderr, which would make the shared pipe non-blocking (stdio.ts).

import type { Logger } from "../log.js";

let installed = false;

export function logStrayErrors(log: Logger): void {
  if (installed) return;
  installed = true;
  const report = (what: string) => (error: unknown) => {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    log.error(`${what} (ignored; a plugin's?): ${text.replace(/\s*[\r\n]+\s*/g, " ")}`);
  };
  process.on("uncaughtException", report("uncaught exception"));
  process.on("unhandledRejection", report("unhandled rejection"));
  process.removeAllListeners("warning");
  process.on("warning", (warning) => log.debug(`runtime warning: ${warning.name}: ${warning.message}`));
}
