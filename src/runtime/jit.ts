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
// - Bun executable, started again without JavaScriptCore's DFG compiler (and
//   so without FTL): its baseline JIT still compiles, which the scaled
//   thresholds above had held back too. Over the same 1,000 Jobs (10
//   alternating rounds here, the variable set by a shell): held, 0.78 s of
//   wall time and 0.80 s of CPU; without the DFG, 0.63 s and 0.67 s. Peak
//   RSS 55.5 and 60.2 MB (3 runs each; the growth over one Job 13.1x and
//   16.2x). JavaScriptCore reads that option
//   from the environment as it starts, so a run restarts itself with it
//   (restartWithoutDfg): before it has read anything, with execve(2), which
//   keeps its pid, open files and arguments. Its cost, a second start of the
//   executable, about 18 ms, is repaid from about 256 KiB of input (12-20
//   alternating rounds per size: 200 Jobs, 233 KiB, 6 ms less wall time and
//   8 ms more CPU; 400 Jobs, 460 KiB, 46 ms and 26 ms less; 1,000 Jobs, 177
//   ms and 153 ms less), so only inputs of a known size from RESTART_FROM_BYTES
//   to HOLD_BELOW_CHARS restart. A pipe's length is not known before it is
//   read, and what is read cannot be read again after execve: a stream on
//   stdin runs as it is, held. Over HOLD_BELOW_CHARS the DFG stays: at 10,000
//   Jobs (12 MB) a run without it took the same CPU time (5.3 s against 5.2)
//   but 5.2 s of wall time against 3.1 on two cores, where the DFG compiles on
//   the second.
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

/** Inputs of a known size (in bytes) from this to HOLD_BELOW_CHARS restart under Bun without the DFG. */
export const RESTART_FROM_BYTES = 256 * 2 ** 10;

/** JavaScriptCore's option, read from the environment as it starts: "0" starts it without its DFG compiler. */
export const NO_DFG_VARIABLE = "BUN_JSC_useDFGJIT";

/** process.execve, from Bun 1.4 and Node 23.11: replaces this process with `file`. */
type Execve = (file: string, args: readonly string[], env: Record<string, string | undefined>) => void;

/** What restartWithoutDfg needs to know of this process. */
export interface Process {
  readonly bun: boolean;
  readonly execve: Execve | undefined;
  readonly execPath: string;
  readonly argv0: string;
  readonly argv: readonly string[];
  readonly execArgv: readonly string[];
  readonly env: Record<string, string | undefined>;
}

/**
 * How a short run under Bun restarts itself without the DFG: the file, arguments and environment for
 * execve(2), or undefined where it runs on: under Node; the variable already set, by an earlier restart or
 * by the user; inputs whose known sizes (in bytes; a pipe's is not known, and counts as none) come to less
 * than RESTART_FROM_BYTES, or to HOLD_BELOW_CHARS or more.
 */
export function restartPlan(
  sizes: readonly (number | undefined)[],
  p: Process,
): { file: string; args: string[]; env: Record<string, string | undefined> } | undefined {
  if (!p.bun || p.execve === undefined || p.env[NO_DFG_VARIABLE] !== undefined) return undefined;
  let known = 0;
  for (const size of sizes) known += size ?? 0;
  if (known < RESTART_FROM_BYTES || known >= HOLD_BELOW_CHARS) return undefined;
  // A compiled executable has its embedded module as argv[1] ("/$bunfs/root/…"), and its own arguments after it;
  // `bun iqqq.mjs` has the script there, after Bun's own options.
  const compiled = p.argv[1]?.startsWith("/$bunfs/") ?? false;
  const args = compiled ? [p.argv0, ...p.argv.slice(2)] : [p.argv0, ...p.execArgv, ...p.argv.slice(1)];
  return { file: p.execPath, args, env: { ...p.env, [NO_DFG_VARIABLE]: "0" } };
}

/**
 * Under Bun, for an input that repays it (restartPlan): replaces this process with itself started without
 * the DFG.
 * To be called before anything is read or written. Returns if it did not (an execve that failed included:
 * the run goes on as it is, with the thresholds held).
 */
export function restartWithoutDfg(sizes: readonly (number | undefined)[]): void {
  const execve = (process as { execve?: Execve }).execve;
  const plan = restartPlan(sizes, {
    bun: (globalThis as { Bun?: unknown }).Bun !== undefined,
    execve,
    execPath: process.execPath,
    argv0: process.argv0,
    argv: process.argv,
    execArgv: process.execArgv,
    env: process.env,
  });
  if (plan === undefined || execve === undefined) return;
  try {
    (process as unknown as { execve: Execve }).execve(plan.file, plan.args, plan.env);
  } catch {}
}

/**
 * Holds the optimising compilers back for the rest of this run if `chars` is below HOLD_BELOW_CHARS.
 * Under a Bun started without its DFG (restartWithoutDfg), nothing more is held: its baseline JIT is
 * what a short run wants.
 */
export function holdOptimisingCompilers(chars: number): boolean {
  if (chars >= HOLD_BELOW_CHARS) return false;
  try {
    const bun = (globalThis as { Bun?: { unsafe?: { setJITPolicy?(scale: number): void } } }).Bun;
    if (bun !== undefined) {
      if (process.env[NO_DFG_VARIABLE] === "0") return true;
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
