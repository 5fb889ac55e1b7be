// Image look-ups shared fairly: the same image asked for by several
// containers or several pods at once is looked up once; each registry host gets
// at most `perHost` look-ups at a time (the others wait, within their
// deadline), so one slow registry holds up only the pods that use it, and all
// hosts together at most `total`; every look-up has a deadline of its own,
// whoever waits for it.
//
// With `cache`, what a look-up found is kept (ImageCache below), so that the
// many pods of one image (a Job's parallelism, a CronJob's runs) cost one
// look-up, not one each.

import type { ImageCommand } from "../inject/inject.js";
import type { Env } from "../io.js";
import { builtin } from "../runtime/builtins.js";
import { imageCommand } from "./client.js";
import type { AddressPolicy, Budget } from "./network.js";
import { parseReference } from "./reference.js";

export interface LookupsOptions {
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
  /** Keep what look-ups found; undefined: keep nothing. */
  readonly cache?: CacheOptions;
  /** Told of each lookup() call whether the cache had the answer. */
  readonly onCache?: (hit: boolean) => void;
}

export interface CacheOptions {
  /** Entries kept at most, and their bytes (references and answers) at most. */
  readonly entries: number;
  readonly bytes: number;
  /** One answer larger than this is not kept (it would evict many for itself). */
  readonly entryBytes: number;
  /** How long an answer for a tag is kept (a tag can be moved to another image). */
  readonly tagTtlMs: number;
  /** How long an answer for a digest is kept (a digest names one image for ever). */
  readonly digestTtlMs: number;
}

export class ImageLookups {
  readonly #inflight = new Map<string, Promise<readonly ImageCommand[]>>();
  readonly #hosts = new Map<string, Slots>();
  readonly #all: Slots;
  readonly #cache: ImageCache | undefined;

  constructor(private readonly options: LookupsOptions) {
    this.#all = new Slots(options.total);
    this.#cache = options.cache === undefined ? undefined : new ImageCache(options.cache);
  }

  /**
   * The image's ENTRYPOINT and CMD on each of `platforms` it has (client.ts); `signal` ends this
   * caller's wait, not a look-up others share.
   * `credentials` (base64(user:password), a pod's pull secret's): used for this look-up, and part
   * of its key in flight and in the cache, so that an answer read with one pod's credentials is
   * never given to a pod without them.
   */
  lookup(
    ref: string,
    platforms: readonly string[],
    signal?: AbortSignal,
    credentials?: string,
  ): Promise<readonly ImageCommand[]> {
    const who = credentials === undefined ? "" : `\0${sha256(credentials)}`;
    // Platforms are checked words (OS/ARCH[/VARIANT]): joined with a space, one key per list.
    const on = `\0${platforms.join(" ")}`;
    const base = this.#cache === undefined ? ref : cacheKey(ref);
    const key = base === undefined ? undefined : `${base}${on}${who}`;
    const flight = `${ref}${on}${who}`;
    const cached = key === undefined ? undefined : this.#cache?.get(key);
    if (this.#cache !== undefined) this.options.onCache?.(cached !== undefined);
    if (cached !== undefined) return Promise.resolve(cached.command);
    let shared = this.#inflight.get(flight);
    if (shared === undefined) {
      shared = this.#start(ref, platforms, credentials);
      this.#inflight.set(flight, shared);
      const forget = (): void => {
        this.#inflight.delete(flight);
      };
      shared.then((command) => {
        forget();
        // Only answers are kept, never failures: a registry that failed is asked again by the next pod.
        if (key !== undefined) this.#cache?.set(key, command, parseReference(ref).digest !== undefined);
      }, forget);
    }
    return signal === undefined ? shared : raceAbort(shared, signal);
  }

  /** Look-ups running or waiting. */
  get size(): number {
    return this.#inflight.size;
  }

  /** Entries and bytes in the cache. */
  get cached(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.#cache?.size ?? 0, bytes: this.#cache?.bytes ?? 0 };
  }

  async #start(
    ref: string,
    platforms: readonly string[],
    credentials: string | undefined,
  ): Promise<readonly ImageCommand[]> {
    const observe = this.options.observe;
    if (observe === undefined) return this.#send(ref, platforms, credentials);
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    try {
      const found = await this.#send(ref, platforms, credentials);
      observe("found", seconds());
      return found;
    } catch (err) {
      observe(seconds() * 1000 >= this.options.deadlineMs ? "timed-out" : "failed", seconds());
      throw err;
    }
  }

  async #send(
    ref: string,
    platforms: readonly string[],
    credentials: string | undefined,
  ): Promise<readonly ImageCommand[]> {
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
              platforms,
              env: this.options.env,
              signal: deadline,
              ...(this.options.policy === undefined ? {} : { policy: this.options.policy }),
              ...(this.options.budget === undefined ? {} : { budget: this.options.budget }),
              ...(credentials === undefined ? {} : { credentials }),
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

/**
 * One key however the reference is written (busybox, docker.io/library/busybox:latest),
 * by its digest when it has one (the image the kubelet runs is then that one,
 * whatever the tag says); undefined when it cannot be read (the look-up says why).
 */
function cacheKey(ref: string): string | undefined {
  try {
    const r = parseReference(ref);
    const name = `${new URL(`http://${r.registry}`).host}/${r.repository}`;
    return r.digest !== undefined ? `${name}@${r.digest.text}` : `${name}:${r.tag ?? "latest"}`;
  } catch {
    return undefined;
  }
}

/**
 * What look-ups found, bounded in entries and in bytes (keys come from pod
 * specs, that is from whoever may create a pod: they can churn the cache, not
 * grow it), oldest use evicted first (a Map keeps insertion order; a hit moves
 * its entry to the end), each kept at most its time to live.
 */
class ImageCache {
  readonly #entries = new Map<string, { command: readonly ImageCommand[]; bytes: number; until: number }>();
  #bytes = 0;

  constructor(private readonly options: CacheOptions) {}

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): { command: readonly ImageCommand[] } | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.until <= Date.now()) {
      this.#bytes -= entry.bytes;
      return undefined;
    }
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, command: readonly ImageCommand[], byDigest: boolean): void {
    // Counted as UTF-16 strings are kept (2 bytes a unit), with the key, and a little for the objects.
    const bytes = 2 * (key.length + JSON.stringify(command).length) + 200;
    if (bytes > this.options.entryBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= old.bytes;
    }
    const ttl = byDigest ? this.options.digestTtlMs : this.options.tagTtlMs;
    this.#entries.set(key, { command, bytes, until: Date.now() + ttl });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.options.entries && this.#bytes <= this.options.bytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }
}

function sha256(text: string): string {
  return builtin("node:crypto").createHash("sha256").update(text).digest("hex");
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
