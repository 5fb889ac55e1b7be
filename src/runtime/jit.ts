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
//   16.2x). JavaScriptCore reads that option from the environment as it
//   starts, so a run restarts itself with it (restartWithoutDfg): before it
//   has read anything, with execve(2), which keeps its pid, its arguments,
//   and its stdin, stdout and stderr (Bun closes every other descriptor on
//   it). Its cost, a second start of the
//   executable, about 18 ms, is repaid from about 256 KiB of input (12-20
//   alternating rounds per size: 200 Jobs, 233 KiB, 6 ms less wall time and
//   8 ms more CPU; 400 Jobs, 460 KiB, 46 ms and 26 ms less; 1,000 Jobs, 177
//   ms and 153 ms less), so only inputs of known sizes from RESTART_FROM_BYTES
//   to HOLD_BELOW_CHARS restart. A pipe's length is not known before it is
//   read, and what is read cannot be read again after execve: a run with a
//   stream on stdin (or a pipe among its files) goes on as it is, held. Over
//   HOLD_BELOW_CHARS the DFG stays: at 10,000 Jobs (12 MB) a run without it
//   took the same CPU time (5.3 s against 5.2) but 5.2 s of wall time against
//   3.1 on two cores, where the DFG compiles on the second.
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

/** What restartPlan needs to know of this process. */
export interface Process {
  readonly bun: boolean;
  readonly execve: Execve | undefined;
  readonly argv0: string;
  readonly argv: readonly string[];
  readonly env: Record<string, string | undefined>;
}

/**
 * How a run restarts itself without the DFG: the file, arguments and environment for execve(2), or
 * undefined where it runs on. It restarts only as the compiled executable, whose arguments are exactly
 * argv0 and what follows its embedded module (argv[1], "/$bunfs/root/…"); `bun iqqq.mjs` has Bun's own
 * options (execArgv, BUN_OPTIONS) around it, some of which, such as --cwd or --preload, would apply twice.
 * Not with the variable already set (by an earlier restart, or by the user: their choice stands), and
 * only for inputs whose sizes are all known (a pipe's is not, before it is read; see inputSizes) and come
 * to RESTART_FROM_BYTES or more and less than HOLD_BELOW_CHARS. The sizes are asked for last, so that a
 * run that cannot restart (the Node bundle, every time) looks at no file for it.
 * The file is /proc/self/exe: the running executable's own inode, even if its path was since replaced or
 * removed.
 */
export function restartPlan(
  p: Process,
  sizes: () => readonly (number | undefined)[],
): { file: string; args: string[]; env: Record<string, string | undefined> } | undefined {
  if (!p.bun || p.execve === undefined || p.env[NO_DFG_VARIABLE] !== undefined) return undefined;
  if (!(p.argv[1]?.startsWith("/$bunfs/") ?? false)) return undefined;
  let total = 0;
  for (const size of sizes()) {
    if (size === undefined) return undefined;
    total += size;
  }
  if (total < RESTART_FROM_BYTES || total >= HOLD_BELOW_CHARS) return undefined;
  return { file: "/proc/self/exe", args: [p.argv0, ...p.argv.slice(2)], env: { ...p.env, [NO_DFG_VARIABLE]: "0" } };
}

/**
 * Each input's size in bytes, where it is a regular file that the restart keeps: undefined for stdin
 * that is not a regular file, a pipe (`<(…)` included), anything that cannot be read (reading it later
 * says why), and a file this process already has open on a descriptor above 2 (`/dev/fd/3` with `3<file`,
 * however named): execve keeps stdin, stdout and stderr, but Bun closes every other descriptor on it.
 */
export function inputSizes(files: readonly string[]): (number | undefined)[] {
  const fs = builtin("node:fs");
  let inherited: Set<string> | undefined;
  const open = (): Set<string> => {
    const out = new Set<string>();
    try {
      for (const fd of fs.readdirSync("/proc/self/fd")) {
        if (Number(fd) <= 2) continue;
        try {
          const s = fs.statSync(`/proc/self/fd/${fd}`);
          out.add(`${s.dev}:${s.ino}`);
        } catch {}
      }
    } catch {}
    return out;
  };
  return files.map((file) => {
    try {
      const s = file === "-" ? fs.fstatSync(0) : fs.statSync(file);
      if (!s.isFile()) return undefined;
      inherited ??= open();
      return inherited.has(`${s.dev}:${s.ino}`) ? undefined : s.size;
    } catch {
      return undefined;
    }
  });
}

/**
 * For an input that repays it (restartPlan, inputSizes), replaces this process with itself started
 * without the DFG. To be called before anything is read or written. Returns if it did not: an execve that
 * failed too, after which the run goes on as it is, held. Bun warns of process.execve as experimental when
 * it is first called, which only a failed call would leave time to print: that one warning is dropped.
 */
export function restartWithoutDfg(files: readonly string[]): void {
  const execve = (process as { execve?: Execve }).execve;
  const plan = restartPlan(
    {
      bun: (globalThis as { Bun?: unknown }).Bun !== undefined,
      execve,
      argv0: process.argv0,
      argv: process.argv,
      env: process.env,
    },
    () => inputSizes(files),
  );
  if (plan === undefined) return;
  const listeners = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name === "ExperimentalWarning" && warning.message.includes("process.execve")) return;
    for (const listener of listeners) listener(warning);
  });
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
