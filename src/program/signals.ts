// Signal forwarding. Handlers are installed before the program is spawned, so a
// signal that arrives first is queued and delivered once the program exists
// instead of being lost (a known way peers left pods stuck). iqqq never dies of a
// forwarded signal: it keeps waiting for the program's own exit, whose status wins.

import type { Logger } from "../log.js";
import type { Child } from "./spawn.js";

/**
 * What a container can be sent that means something to the program. Not
 * forwarded: SIGKILL and SIGSTOP (cannot be caught); SIGCHLD and SIGURG (runtime
 * noise, a complaint against Go peers); SIGPIPE (about iqqq's own pipes); the
 * synchronous faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS),
 * which describe iqqq; and the tty job-control stops SIGTSTP, SIGTTIN, SIGTTOU,
 * which a terminal sends to the program's process group directly.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  "SIGTERM",
  "SIGINT",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
  "SIGALRM",
  "SIGCONT",
  "SIGVTALRM",
  "SIGPROF",
  "SIGIO",
  "SIGPWR",
  "SIGXCPU",
  "SIGXFSZ",
];

const MAX_PENDING = 64;

/** What forwarding needs of the running program. */
type Signallable = Pick<Child, "pid" | "kill">;

/**
 * Its state is in TypeScript's private properties, not #private fields: the
 * first object with #private fields costs the executable's engine about 0.1 ms
 * (JavaScriptCore, measured in a compiled executable against a plain class),
 * and every wrapped run makes one before it starts the program.
 */
export class SignalRelay {
  private child: Signallable | undefined;
  private group = false;
  private pending: NodeJS.Signals[] = [];
  private listeners = new Map<NodeJS.Signals, () => void>();
  private receiveHook: ((signal: NodeJS.Signals) => void) | undefined;

  constructor(private readonly log: Logger) {}

  /** Installs the handlers; from now on a forwarded signal never terminates iqqq. */
  install(): this {
    for (const signal of FORWARDED_SIGNALS) {
      const listener = (): void => this.receive(signal);
      this.listeners.set(signal, listener);
      // (Bun does not know SIGPWR: that listener is never called, and the signal keeps its default action.)
      process.on(signal, listener);
    }
    return this;
  }

  uninstall(): void {
    for (const [signal, listener] of this.listeners) process.removeListener(signal, listener);
    this.listeners.clear();
  }

  /** Called for every signal received, before it is forwarded or queued. */
  onReceive(callback: ((signal: NodeJS.Signals) => void) | undefined): void {
    this.receiveHook = callback;
  }

  /**
   * Starts forwarding to a running program, first whatever was queued; with
   * `group`, to its whole process group (it must lead one: spawned detached).
   */
  attach(child: Signallable, group = false): void {
    this.child = child;
    this.group = group;
    const pending = this.pending;
    this.pending = [];
    for (const signal of pending) this.forward(signal);
  }

  /** The running program's pid, if any. */
  get programPid(): number | undefined {
    return this.child?.pid;
  }

  /** The program has exited: later signals are only noted. */
  detach(): void {
    this.child = undefined;
  }

  private receive(signal: NodeJS.Signals): void {
    this.receiveHook?.(signal);
    if (this.child !== undefined) {
      this.forward(signal);
    } else if (this.pending.length < MAX_PENDING) {
      this.log.debug(`received ${signal} before the program started; it will be forwarded once it has`);
      this.pending.push(signal);
    }
  }

  private forward(signal: NodeJS.Signals): void {
    const child = this.child;
    if (child === undefined) return;
    this.log.debug(`forwarding ${signal} to the program (${this.group ? "process group" : "pid"} ${child.pid})`);
    try {
      // kill() fails with ESRCH when the program has just exited: harmless, its
      // 'exit' event is on its way.
      if (this.group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch (err) {
      this.log.debug(`could not forward ${signal}: ${(err as Error).message}`);
    }
  }
}
