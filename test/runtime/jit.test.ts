// holdOptimisingCompilers(): below HOLD_BELOW_CHARS a hot function is never
// optimised, at or above it the runtime's own policy optimises it. Each case in
// a child process of its own, under Node (V8's optimisation status, read with
// --allow-natives-syntax) and under Bun (bun:jsc's count of DFG compiles).
// restartPlan(), below them.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { HOLD_BELOW_CHARS, NO_DFG_VARIABLE, RESTART_FROM_BYTES, restartPlan } from "../../src/runtime/jit.js";
import { ROOT } from "../support/cli.js";

const JIT = new URL("../../src/runtime/jit.js", import.meta.url).href;
const BUILTINS = new URL("../../src/runtime/builtins.js", import.meta.url).href;
const BUN = `${ROOT}node_modules/.bin/bun`;

/**
 * Holds for `chars`, runs a hot function a fixed number of times (a count, which is what tier-up
 * thresholds count), then, unless held, waits up to 20 s for its compile to finish on its thread.
 */
function optimisedAfterHold(runtime: "node" | "bun", chars: number): { held: boolean; optimised: boolean } {
  const optimised =
    runtime === "node"
      ? "(%GetOptimizationStatus(hot) & 16) !== 0" // V8's OptimizationStatus::kOptimized
      : '(await import("bun:jsc")).numberOfDFGCompiles(hot) > 0';
  const code = `
    const { prepareBuiltins } = await import(${JSON.stringify(BUILTINS)});
    const { holdOptimisingCompilers } = await import(${JSON.stringify(JIT)});
    await prepareBuiltins();
    const held = holdOptimisingCompilers(${chars});
    function hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 31) % 1000003; return s; }
    const isOptimised = async () => ${optimised};
    for (let k = 0; k < 10000; k++) hot(100);
    const end = Date.now() + (held ? 0 : 20_000);
    let done = await isOptimised();
    while (!done && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      done = await isOptimised();
    }
    process.stdout.write(JSON.stringify({ held, optimised: done }));
  `;
  const r =
    runtime === "node"
      ? spawnSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", code], { encoding: "utf8" })
      : spawnSync(BUN, ["-e", code], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("Node: an input below HOLD_BELOW_CHARS runs without TurboFan; one at the limit keeps it", () => {
  assert.deepEqual(optimisedAfterHold("node", HOLD_BELOW_CHARS - 1), { held: true, optimised: false });
  assert.deepEqual(optimisedAfterHold("node", HOLD_BELOW_CHARS), { held: false, optimised: true });
});

test("Bun: an input below HOLD_BELOW_CHARS holds the DFG back; one at the limit keeps Bun's policy", {
  skip: existsSync(BUN) ? false : "no node_modules/.bin/bun",
}, () => {
  assert.deepEqual(optimisedAfterHold("bun", HOLD_BELOW_CHARS - 1), { held: true, optimised: false });
  assert.deepEqual(optimisedAfterHold("bun", HOLD_BELOW_CHARS), { held: false, optimised: true });
});

// restartPlan(): which runs restart under Bun without the DFG, and with what arguments. The restart itself,
// execve(2) on the executable, is test/e2e/jit.test.ts's.
const EXE = {
  bun: true,
  execve: () => {},
  execPath: "/usr/local/bin/iqqq",
  argv0: "iqqq",
  argv: ["bun", "/$bunfs/root/iqqq-linux-x64", "inject", "--image", "r/i:1", "a.yaml"],
  execArgv: [],
  env: { PATH: "/usr/bin", HOME: "/root" },
};

test("restartPlan: only inputs of a known size from RESTART_FROM_BYTES to below HOLD_BELOW_CHARS restart", () => {
  const restarts = (sizes: (number | undefined)[]) => restartPlan(sizes, EXE) !== undefined;
  assert.equal(restarts([RESTART_FROM_BYTES - 1]), false);
  assert.equal(restarts([RESTART_FROM_BYTES]), true);
  assert.equal(restarts([HOLD_BELOW_CHARS - 1]), true);
  assert.equal(restarts([HOLD_BELOW_CHARS]), false);
  // Sizes add up; a pipe's (undefined) counts as none.
  assert.equal(restarts([RESTART_FROM_BYTES / 2, RESTART_FROM_BYTES / 2]), true);
  assert.equal(restarts([undefined]), false);
  assert.equal(restarts([undefined, RESTART_FROM_BYTES]), true);
  assert.equal(restarts([HOLD_BELOW_CHARS - 1, 1, undefined]), false);
});

test("restartPlan: never under Node, without process.execve, or with the variable already set", () => {
  const size = [RESTART_FROM_BYTES];
  assert.equal(restartPlan(size, { ...EXE, bun: false }), undefined);
  assert.equal(restartPlan(size, { ...EXE, execve: undefined }), undefined);
  // Set by the restart itself (no second one), or by the user (their choice stands, "1" included).
  assert.equal(restartPlan(size, { ...EXE, env: { ...EXE.env, [NO_DFG_VARIABLE]: "0" } }), undefined);
  assert.equal(restartPlan(size, { ...EXE, env: { ...EXE.env, [NO_DFG_VARIABLE]: "1" } }), undefined);
});

test("restartPlan: the same program, arguments and environment, and the variable", () => {
  // The executable: its embedded module (argv[1]) is not an argument; the name it was invoked under is argv[0].
  assert.deepEqual(restartPlan([RESTART_FROM_BYTES], EXE), {
    file: "/usr/local/bin/iqqq",
    args: ["iqqq", "inject", "--image", "r/i:1", "a.yaml"],
    env: { PATH: "/usr/bin", HOME: "/root", [NO_DFG_VARIABLE]: "0" },
  });
  // `bun --smol dist/iqqq.mjs inject`: Bun's own options, then the script.
  const script = {
    ...EXE,
    execPath: "/usr/bin/bun",
    argv0: "bun",
    argv: ["/usr/bin/bun", "/opt/dist/iqqq.mjs", "inject", "-"],
    execArgv: ["--smol"],
  };
  assert.deepEqual(restartPlan([RESTART_FROM_BYTES], script)?.args, [
    "bun",
    "--smol",
    "/opt/dist/iqqq.mjs",
    "inject",
    "-",
  ]);
});
