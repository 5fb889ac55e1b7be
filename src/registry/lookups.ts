// Image look-ups shared fairly: the same image asked for by several
// containers or several pods at once is looked up once; each registry host gets
// at most `perHost` look-ups at a time (the others wait, within their
// deadline), so one slow registry holds up only the pods that use it, and all
// hosts together at most `total`; every look-up has a deadline of its own,
// whoever waits for it.

import type { ImageCommand } from "../inject/inject.js";
import type { Env } from "../io.js";
import { imageCommand } from "./client.js";
import type { AddressPolicy, Budget } from "./network.js";
import { parseReference } from "./reference.js";

export interface LookupsOptions {
  readonly platform: string;
  readonly env: Env;
  readonly policy?: AddressPolicy;
  readonly budget?: Budget;
  /** One look-up's deadline, waiting for its host's turn included. */
  readonly deadlineMs: number;
  /** Look-ups of one registry host at a time. */
  readonly perHost: number;
  /** Look-ups at a time, all hosts together. */
  readonly total: number;
  /** Told of each look-up sent (not of those that shared it): how it ended and how long it took. */
  readonly observe?: (result: "found" | "failed" | "timed-out", seconds: number) => void;
}

export class ImageLookups {
  readonly #inflight = new Map<string, Promise<ImageCommand>>();
  readonly #hosts = new Map<string, Slots>();
  readonly #all: Slots;

  constructor(private readonly options: LookupsOptions) {
    this.#all = new Slots(options.total);
  }

  /** The image's ENTRYPOINT and CMD; `signal` ends this caller's wait, not a look-up others share. */
  lookup(ref: string, signal?: AbortSignal): Promise<ImageCommand> {
    let shared = this.#inflight.get(ref);
    if (shared === undefined) {
      shared = this.#start(ref);
      this.#inflight.set(ref, shared);
      const forget = (): void => {
        this.#inflight.delete(ref);
      };
      shared.then(forget, forget);
    }
    return signal === undefined ? shared : raceAbort(shared, signal);
  }

  /** Look-ups running or waiting. */
  get size(): number {
    return this.#inflight.size;
  }

  async #start(ref: string): Promise<ImageCommand> {
    const observe = this.options.observe;
    if (observe === undefined) return this.#send(ref);
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const found = await this.#send(ref);
      observe("found", seconds());
      return found;
    } catch (err) {
      observe(seconds() * 1000 >= this.options.deadlineMs ? "timed-out" : "failed", seconds());
      throw err;
    }
  }

  async #send(ref: string): Promise<ImageCommand> {
    const registry = parseReference(ref).registry;
    // One host however it is written (2130706433, 127.1 and 127.0.0.1 are one).
    const host = new URL(`http://${registry}`).host;
    let slots = this.#hosts.get(host);
    if (slots === undefined) {
      slots = new Slots(this.options.perHost);
      this.#hosts.set(host, slots);
    }
    const deadline = AbortSignal.timeout(this.options.deadlineMs);
    try {
      await slots.take(deadline, `timed out waiting behind ${slots.count} look-ups of ${registry} already running`);
      try {
        await this.#all.take(deadline, `timed out waiting behind ${this.#all.count} look-ups already running`);
        try {
          // The deadline ends the wait even if a request never settles.
          return await raceAbort(
            imageCommand(ref, {
              platform: this.options.platform,
              env: this.options.env,
              signal: deadline,
              ...(this.options.policy === undefined ? {} : { policy: this.options.policy }),
              ...(this.options.budget === undefined ? {} : { budget: this.options.budget }),
            }),
            deadline,
          );
        } finally {
          this.#all.give();
        }
      } finally {
        slots.give();
      }
    } finally {
      if (slots.idle) this.#hosts.delete(host);
    }
  }
}

class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly count: number) {
    this.#free = count;
  }

  get idle(): boolean {
    return this.#free === this.count && this.#waiting.length === 0;
  }

  take(signal: AbortSignal, late: string): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const turn = (): void => {
        signal.removeEventListener("abort", gone);
        resolve();
      };
      const gone = (): void => {
        const i = this.#waiting.indexOf(turn);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(new Error(late));
      };
      signal.addEventListener("abort", gone, { once: true });
      this.#waiting.push(turn);
    });
  }

  give(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const gone = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", gone, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", gone);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", gone);
        reject(err);
      },
    );
  });
}
