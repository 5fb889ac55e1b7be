// holdOptimisingCompilers(): below HOLD_BELOW_CHARS a hot function is never
// optimised, at or above it the runtime's own policy optimises it. Each case in
// a child process of its own, under Node (V8's optimisation status, read with
// --allow-natives-syntax) and under Bun (bun:jsc's count of DFG compiles).
// restartPlan(), below them.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { prepareBuiltins } from "../../src/runtime/builtins.js";
import {
  HOLD_BELOW_CHARS,
  inputSizes,
  NO_DFG_VARIABLE,
  RESTART_FROM_BYTES,
  restartPlan,
} from "../../src/runtime/jit.js";
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

// restartPlan(): which runs restart under Bun without the DFG, and with what arguments; inputSizes(): what
// counts as a known size. The restart itself, execve(2) on the executable, is test/e2e/jit.test.ts's.
const EXE = {
  bun: true,
  execve: () => {},
  argv0: "iqqq",
  argv: ["bun", "/$bunfs/root/iqqq-linux-x64", "inject", "--image", "r/i:1", "a.yaml"],
  env: { PATH: "/usr/bin", HOME: "/root" },
};

test("restartPlan: only inputs all of known size, from RESTART_FROM_BYTES to below HOLD_BELOW_CHARS, restart", () => {
  const restarts = (sizes: (number | undefined)[]) => restartPlan(EXE, () => sizes) !== undefined;
  assert.equal(restarts([RESTART_FROM_BYTES - 1]), false);
  assert.equal(restarts([RESTART_FROM_BYTES]), true);
  assert.equal(restarts([HOLD_BELOW_CHARS - 1]), true);
  assert.equal(restarts([HOLD_BELOW_CHARS]), false);
  assert.equal(restarts([RESTART_FROM_BYTES / 2, RESTART_FROM_BYTES / 2]), true);
  // A pipe's size (undefined) is not known until it is read, and it may be of any length.
  assert.equal(restarts([undefined]), false);
  assert.equal(restarts([RESTART_FROM_BYTES, undefined]), false);
});

test("restartPlan: only as the compiled executable, with process.execve, and without the variable set", () => {
  const size = [RESTART_FROM_BYTES];
  assert.equal(
    restartPlan({ ...EXE, bun: false }, () => size),
    undefined,
  );
  // Nor does it look at the files then: the Node bundle never stats them for this.
  let asked = false;
  restartPlan({ ...EXE, bun: false }, () => {
    asked = true;
    return size;
  });
  assert.equal(asked, false);
  assert.equal(
    restartPlan({ ...EXE, execve: undefined }, () => size),
    undefined,
  );
  // `bun --cwd sub iqqq.mjs …`: Bun's own options would apply twice.
  assert.equal(
    restartPlan({ ...EXE, argv: ["/usr/bin/bun", "/opt/dist/iqqq.mjs", "inject", "a.yaml"] }, () => size),
    undefined,
  );
  // Set by the restart itself (no second one), or by the user (their choice stands, "1" included).
  assert.equal(
    restartPlan({ ...EXE, env: { ...EXE.env, [NO_DFG_VARIABLE]: "0" } }, () => size),
    undefined,
  );
  assert.equal(
    restartPlan({ ...EXE, env: { ...EXE.env, [NO_DFG_VARIABLE]: "1" } }, () => size),
    undefined,
  );
});

test("restartPlan: the running executable, the same arguments and environment, and the variable", () => {
  // Its embedded module (argv[1]) is not an argument; the name it was invoked under is argv[0].
  assert.deepEqual(
    restartPlan(EXE, () => [RESTART_FROM_BYTES]),
    {
      file: "/proc/self/exe",
      args: ["iqqq", "inject", "--image", "r/i:1", "a.yaml"],
      env: { PATH: "/usr/bin", HOME: "/root", [NO_DFG_VARIABLE]: "0" },
    },
  );
});

test("inputSizes: a regular file's size; none for a pipe, a missing file, or a file open on a descriptor above 2", async () => {
  await prepareBuiltins();
  const dir = mkdtempSync(join(tmpdir(), "iqqq-sizes-"));
  const file = join(dir, "a.yaml");
  writeFileSync(file, "x".repeat(1000));
  assert.deepEqual(inputSizes([file, join(dir, "missing.yaml")]), [1000, undefined]);
  // A descriptor this process has open on the file: execve would close it (the path may name it, /dev/fd/N).
  const fd = openSync(file, "r");
  try {
    assert.deepEqual(inputSizes([file, `/dev/fd/${fd}`]), [undefined, undefined]);
  } finally {
    closeSync(fd);
  }
  const fifo = join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  assert.deepEqual(inputSizes([fifo]), [undefined]);
});
