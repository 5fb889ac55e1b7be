// The optimising compilers held back for a short batch run (iqqq inject).
// V8's TurboFan and JavaScriptCore's DFG and FTL are tuned for programs that
// run long enough to repay them; inject over a chart's rendering does not.
// Over the benchmark's 1,000 Jobs (1.2 MB, bench/inject.ts; 5 alternating
// rounds here, before and after):
// - Node bundle, --max-opt=1 (the interpreter and Sparkplug stay; neither
//   TurboFan nor Maglev, on by default from Node 22, compiles): wall time
//   0.83 s to 0.76 s, CPU 1.37 s to 0.74 s, peak RSS 80.0 MB to 59.9 MB (the
//   growth over one Job 27.2x to 10.3x the input). TurboFan's zones are
//   malloc'd on its background threads: a fixed cost that no input repays.
// - Bun executable, tier-up thresholds scaled by HELD_JIT_SCALE
//   (Bun.unsafe.setJITPolicy): CPU 0.85 s to 0.82 s, peak RSS 90.9 MB to
//   67.0 MB (39.1x to 22.2x), but wall time 0.49 s to 0.82 s: on two cores
//   its compilers had run beside the work; on one core, as a CPU-limited CI
//   runner gives, the CPU time is the wall time.
// Larger inputs keep each runtime's own policy: Node's TurboFan pays for
// itself somewhere between 2,000 Jobs (2.4 MB: 1.15 s with it, 0.97-1.25 s
// without) and 3,000 (3.6 MB: 1.18-1.44 s against 1.64-1.85 s; 10,000:
// 2.86-3.35 s against 5.41-5.70 s, 3 runs each). The limit is set below
// where they meet: a stream just over it loses nothing.

import { builtin } from "./builtins.js";

/** Inputs (all files together, in characters) below this are run with the optimising compilers held back. */
export const HOLD_BELOW_CHARS = 2 * 2 ** 20;
/** JavaScriptCore's tier-up thresholds are multiplied by this (Bun.unsafe.setJITPolicy; 1 is Bun's normal). */
const HELD_JIT_SCALE = 1000;

/** Holds the optimising compilers back for the rest of this run if `chars` is below HOLD_BELOW_CHARS. */
export function holdOptimisingCompilers(chars: number): boolean {
  if (chars >= HOLD_BELOW_CHARS) return false;
  try {
    const bun = (globalThis as { Bun?: { unsafe?: { setJITPolicy?(scale: number): void } } }).Bun;
    if (bun !== undefined) {
      // A Bun without it (before 1.4) runs at its normal policy.
      if (bun.unsafe?.setJITPolicy === undefined) return false;
      bun.unsafe.setJITPolicy(HELD_JIT_SCALE);
      return true;
    }
    builtin("node:v8").setFlagsFromString("--max-opt=1");
    return true;
  } catch {
    return false;
  }
}
