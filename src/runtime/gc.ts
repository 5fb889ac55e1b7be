// A full garbage collection, asked for after the webhook has dealt with a
// large body. Both runtimes collect lazily: after sixty 2.9 MiB reviews the
// Node bundle's peak resident memory was 147 MiB and the Bun executable's
// 280 MiB (measured here, npm run reliability) — mostly garbage waiting for a
// collection, over the deploy's 128 MiB limit. A full collection of the
// webhook's small heap takes milliseconds; asked for at most every
// MIN_INTERVAL_MS, it costs little even under a flood of large bodies.
// Node exposes gc() only with --expose-gc; the flag can be set at run time and
// the function read from a new context (node:v8, node:vm).

import { builtin, builtinModule } from "./builtins.js";

const MIN_INTERVAL_MS = 50;
let last = 0;
let collect: (() => void) | undefined;

/** Collects garbage now, unless it was done less than MIN_INTERVAL_MS ago. */
export function collectGarbage(): void {
  const now = Date.now();
  if (now - last < MIN_INTERVAL_MS) return;
  last = now;
  collect ??= find();
  collect();
}

function find(): () => void {
  const bun = (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  try {
    builtin("node:v8").setFlagsFromString("--expose-gc");
    const gc = (builtinModule("node:vm") as { runInNewContext(code: string): unknown }).runInNewContext("gc");
    if (typeof gc === "function") return gc as () => void;
  } catch {}
  return () => {};
}

/**
 * Keeps Node's young generation at its first size (V8 doubles it as a busy
 * process allocates): set once by the webhook, whose every review is garbage
 * within milliseconds. At 64 reviews at once its peak resident memory was
 * 70-72 MiB with keep-alive and 81-89 MiB without, against 96-97 and 102-117
 * (4000 reviews a phase, alternating runs here), for no more CPU. Set by
 * inject too, whose every document is garbage once written (its figures:
 * docs/performance-notes.md). Bun's heap (JavaScriptCore) has no such switch
 * at run time.
 */
export function keepYoungGenerationSmall(): void {
  if (process.versions.bun !== undefined) return;
  try {
    builtin("node:v8").setFlagsFromString("--semi-space-growth-factor=1");
  } catch {}
}

/** How many documents between two collections of a short run's young garbage under Bun. */
const YOUNG_EVERY = 20;

/**
 * For a short run of iqqq inject under Bun (its input below HOLD_BELOW_CHARS,
 * runtime/jit.ts): a collection asked for every YOUNG_EVERY documents
 * (Bun.gc(false), which does not wait for a full one). JavaScriptCore let
 * the run's garbage pile up between its own collections: over the
 * benchmark's 1,000 Jobs (5 alternating runs each, here) the executable's
 * peak went from 63.9 to 58.9 MiB peak RSS, 22.2x to 17.9x the input over one
 * Job, at the same wall time (0.73 and 0.70 s); every 5 or 10 documents
 * did no better, and adding a full collection after each document the
 * `yaml` package parsed took 0.1 s more for 1.2 MiB less. Under Node, whose
 * young generation inject keeps small (keepYoungGenerationSmall), nothing.
 */
export function collectShortRunGarbage(): (() => void) | undefined {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun === undefined) return undefined;
  let documents = 0;
  return () => {
    if (++documents % YOUNG_EVERY === 0) bun.gc(false);
  };
}
