// A full garbage collection, asked for after the webhook has dealt with a
// large body. Both runtimes collect lazily: after sixty 2.9 MiB reviews the
// Node bundle's peak resident memory was 147 MiB and the Bun executable's
// 280 MiB (measured here, npm run reliability) — mostly garbage waiting for a
// collection, over the deploy's 128 MiB limit. A full collection of the
// webhook's small heap takes milliseconds; asked for at most every
// MIN_INTERVAL_MS, it costs little even under a flood of large bodies.
// Node exposes gc() only with --expose-gc; the flag can be set at run time and
// the function read from a new context (node:v8, node:vm).

import { builtinModule } from "./builtins.js";

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
    (builtinModule("node:v8") as { setFlagsFromString(flags: string): void }).setFlagsFromString("--expose-gc");
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
    (builtinModule("node:v8") as { setFlagsFromString(flags: string): void }).setFlagsFromString(
      "--semi-space-growth-factor=1",
    );
  } catch {}
}
