// The executable's wrapper path wakes no JIT compiler. JavaScriptCore compiles a
// function once it has been called some forty times, on threads it starts
// for that: about 2 ms of a short job's run for code that then runs a few
// times more (issue 22). A loop over the settings table in place of a call per
// row, and node:fs left unbuilt on the stop path, keep `iqqq true` at zero,
// with a sidecar to stop and without. Compilation is made synchronous so that
// none can finish after the exit unseen. The Node bundle has no such switch.
// Last, inject's restart without the DFG.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { NO_DFG_VARIABLE, RESTART_FROM_BYTES } from "../../src/runtime/jit.js";
import { CLI, CLI_IS_COMPILED, cliEnv, collect, runCli, startCli } from "../support/cli.js";
import { jobStream } from "../support/job-stream.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();
const REPORT = { BUN_JSC_useConcurrentJIT: "false", BUN_JSC_reportCompileTimes: "true" };

/** The two runs of `iqqq true` each check makes: a test's name, and whether a live sidecar is stopped. */
const RUNS = [
  ["not in Kubernetes", false],
  ["stopping a live sidecar", true],
] as const;

/** `iqqq true` with `env`, not in Kubernetes or stopping a live sidecar (stopped once); its stderr. */
async function iqqqTrue(env: Record<string, string>, live: boolean): Promise<string> {
  const istio = live ? await sidecar() : undefined;
  const port = istio === undefined ? {} : { ...K8S, ISTIO_PORT: String(istio.port) };
  const r = await runCli(["true"], { env: { ...env, ...port } });
  assert.equal(r.status, 0);
  if (istio !== undefined) assert.equal(istio.quits(), 1);
  return r.stderr;
}

describe("the executable compiles nothing for `iqqq true`", {
  skip: !CLI_IS_COMPILED && "IQQQ_CLI is not the executable",
}, () => {
  for (const [name, live] of RUNS) {
    test(name, async () => {
      const stderr = await iqqqTrue(REPORT, live);
      assert.doesNotMatch(stderr, /Optimized/, stderr);
    });
  }
});

// Nor any of JavaScriptCore's built-ins written in JavaScript: the engine
// compiles each from its source the first time it runs, about 0.1 ms apiece
// (docs/performance-notes.md, "The executable's start path"). The wrapper's
// path uses loops where it would call these; BUN_JSC_dumpGeneratedBytecodes
// names every function whose bytecode is made during the run.
const BUILT_INS = new Set([
  "map",
  "filter",
  "flatMap",
  "flatIntoArray",
  "flatIntoArrayWithCallback",
  "find",
  "findIndex",
  "findLast",
  "some",
  "every",
  "forEach",
  "reduce",
  "performIteration",
  "Promise",
]);
const DUMP = { BUN_JSC_dumpGeneratedBytecodes: "true" };

/** The JavaScript built-ins whose bytecode a run made, by name. */
function builtInsCompiled(dump: string): string[] {
  const names = [...dump.matchAll(/^([^\s[#]+)#[A-Za-z0-9]{6}:\[/gm)].map((m) => m[1] as string);
  return names.filter((name) => BUILT_INS.has(name));
}

describe("the executable compiles none of its engine's JavaScript built-ins for `iqqq true`", {
  skip: !CLI_IS_COMPILED && "IQQQ_CLI is not the executable",
}, () => {
  for (const [name, live] of RUNS) {
    test(name, async () => {
      const stderr = await iqqqTrue(DUMP, live);
      assert.match(stderr, /#[A-Za-z0-9]{6}:\[/, "no bytecode dump: BUN_JSC_dumpGeneratedBytecodes did nothing");
      assert.deepEqual(builtInsCompiled(stderr), []);
    });
  }
});

// iqqq inject on an input that repays it restarts the executable without JavaScriptCore's DFG compiler
// (src/runtime/jit.ts): the same process, by execve(2). Seen from outside, as /proc shows it: the process
// the test started has the variable in its environment, which only an execve can have put there. The run
// is held where it looks an image's ENTRYPOINT up: the "registry" keeps the connection waiting until the
// test has looked, then drops it.
describe("inject on the executable restarts without the DFG for an input that repays it", {
  skip: !CLI_IS_COMPILED && "IQQQ_CLI is not the executable",
}, () => {
  const IMAGE = "registry.example/iqqq:1.0";
  const noCommand = (image: string) =>
    `---\napiVersion: v1\nkind: Pod\nmetadata: {name: nc}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: job\n    image: ${image}\n`;

  test("a file of 256 KiB or more: the same pid runs on with the variable", async (t) => {
    const held: Socket[] = [];
    const registry = createServer((socket) => {
      socket.on("error", () => {});
      held.push(socket);
    });
    await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
    t.after(() => registry.close());
    const port = (registry.address() as AddressInfo).port;
    const dir = await mkdtemp(join(tmpdir(), "iqqq-jit-"));
    const file = join(dir, "jobs.yaml");
    const text = jobStream(250) + noCommand(`127.0.0.1:${port}/team/job:1`);
    assert.ok(text.length >= RESTART_FROM_BYTES, `${text.length} bytes`);
    await writeFile(file, text);

    const child = startCli(["inject", "--image", IMAGE, file]);
    const done = collect(child, { timeoutMs: 60_000 });
    const end = Date.now() + 30_000;
    while (held.length === 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
    let environ = "";
    try {
      environ = readFileSync(`/proc/${child.pid}/environ`, "utf8");
    } catch {}
    for (const socket of held) socket.destroy();
    const r = await done;
    assert.ok(held.length > 0, `no registry look-up within 30 s: ${r.stderr}`);
    assert.ok(environ.split("\0").includes(`${NO_DFG_VARIABLE}=0`), `pid ${child.pid} was not restarted: ${r.stderr}`);
    // The look-up failed as the test meant it to: the rest of the run is the other test's.
    assert.equal(r.status, 65, r.stderr);
    assert.match(r.stderr, /its image's ENTRYPOINT could not be read/);
  });

  test("a file named by a descriptor the process was given (/dev/fd/3): read, not lost to the restart", async () => {
    // execve keeps stdin, stdout and stderr; Bun closes the others on it. So this run does not restart,
    // and the one on the file's path does: the two write the same bytes.
    const dir = await mkdtemp(join(tmpdir(), "iqqq-jit-"));
    const file = join(dir, "jobs.yaml");
    await writeFile(file, jobStream(250));
    const fd = openSync(file, "r");
    const child = spawn(CLI, ["inject", "--image", IMAGE, "/dev/fd/3"], {
      env: cliEnv(),
      stdio: ["pipe", "pipe", "pipe", fd],
    });
    closeSync(fd);
    const r = await collect(child, { timeoutMs: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const named = await runCli(["inject", "--image", IMAGE, file], { timeoutMs: 60_000 });
    assert.equal(r.stdout.toString(), named.stdout.toString());
  });
});
