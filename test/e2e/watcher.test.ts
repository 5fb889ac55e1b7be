// Watcher mode and plugins, end to end on the built CLI.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { collect, ROOT, runCli, startCli, watchOutput } from "../support/cli.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

/** A copy of sleep under a name no other process has. */
async function uniqueSleep(): Promise<{ name: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-watch-"));
  const name = `job${process.pid}x${Math.floor(Math.random() * 1e6)}`.slice(0, 15);
  const path = join(dir, name);
  await copyFile("/bin/sleep", path);
  return { name, path };
}

function run(path: string, seconds: string): Promise<number> {
  const child = spawn(path, [seconds], { stdio: "ignore" });
  return new Promise((resolve) => child.once("exit", () => resolve(Date.now())));
}

describe("watcher mode (IQQQ_WATCH_PROCESS, no PROGRAM)", () => {
  test("waits for the process to appear and to end, then stops the sidecar and exits 0", async () => {
    const istio = await sidecar();
    const job = await uniqueSleep();
    const child = startCli([], {
      env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_WATCH_PROCESS: job.name, IQQQ_LOG_LEVEL: "info" },
    });
    const result = collect(child);
    // The job starts well after the watcher: the watcher must not give up.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(istio.requests.length, 0, "stopped before the job even started");
    const ended = await run(job.path, "0.5");
    const r = await result;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(istio.quits(), 1);
    assert.ok((istio.requests[0]?.at ?? 0) >= ended - 5, "quit before the job ended");
    assert.match(r.stderr, /exit status cannot be seen from here/);
  });

  test("several names (IQQQ_WATCH_PROCESS=a,b): the sidecar is stopped only once every one has appeared and ended", async () => {
    const istio = await sidecar();
    const first = await uniqueSleep();
    const second = await uniqueSleep();
    const child = startCli([], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_WATCH_PROCESS: `${first.name},${second.name}`,
        IQQQ_LOG_LEVEL: "info",
      },
    });
    const result = collect(child);
    await run(first.path, "0.3");
    // The first has come and gone; the second has not even started.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(istio.requests.length, 0, "stopped before every named process had ended");
    const ended = await run(second.path, "0.3");
    const r = await result;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(istio.quits(), 1);
    assert.ok((istio.requests[0]?.at ?? 0) >= ended - 5, "quit before the last one ended");
    assert.match(r.stderr, /still watching for 1 more/);
  });

  test("several names, one never appears: exit 75 after IQQQ_WATCH_START_TIMEOUT, the sidecar stopped", async () => {
    const istio = await sidecar();
    const job = await uniqueSleep();
    const child = startCli([], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_WATCH_PROCESS: `${job.name},no-such-job-xq`,
        IQQQ_WATCH_START_TIMEOUT: "1s",
      },
    });
    const result = collect(child);
    await run(job.path, "0.2");
    const r = await result;
    assert.equal(r.status, 75, r.stderr);
    assert.equal(istio.quits(), 1);
  });

  test("IQQQ_WATCH_START_TIMEOUT: nothing appears, the sidecar is stopped, exit 75", async () => {
    const istio = await sidecar();
    const r = await runCli([], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_WATCH_PROCESS: "no-such-job-xq",
        IQQQ_WATCH_START_TIMEOUT: "300ms",
      },
    });
    assert.equal(r.status, 75, r.stderr);
    assert.equal(istio.quits(), 1);
  });

  test("SIGTERM ends the watch at once: exit 143, the sidecar is left to the kubelet", async () => {
    const istio = await sidecar();
    const child = startCli([], {
      env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_WATCH_PROCESS: "no-such-job-xq", IQQQ_LOG_LEVEL: "debug" },
    });
    const err = watchOutput(child.stderr as NodeJS.ReadableStream);
    const result = collect(child);
    await new Promise((r) => setTimeout(r, 500));
    child.kill("SIGTERM");
    const r = await result;
    assert.equal(r.status, 143, err.text());
    assert.equal(istio.requests.length, 0);
  });

  test("NEVER_KILL_ISTIO_ON_FAILURE is said to have no effect on the watched end", async () => {
    const istio = await sidecar();
    const r = await runCli([], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_WATCH_PROCESS: "no-such-job-xq",
        IQQQ_WATCH_START_TIMEOUT: "200ms",
        NEVER_KILL_ISTIO_ON_FAILURE: "true",
      },
    });
    assert.match(r.stderr, /NEVER_KILL_ISTIO_ON_FAILURE has no effect when the watched process ends/);
    // Nothing appearing is a failure the watcher does see: the flag applies to it.
    assert.equal(r.status, 75);
    assert.equal(istio.requests.length, 0);
    // --explain says so too (it said the sidecars would be stopped).
    const explained = await runCli(["--explain"], {
      env: {
        ...K8S,
        IQQQ_WATCH_PROCESS: "job",
        IQQQ_WATCH_START_TIMEOUT: "200ms",
        NEVER_KILL_ISTIO_ON_FAILURE: "true",
      },
    });
    assert.match(
      explained.stdout.toString(),
      /at most 200ms, then leave the sidecars running \(NEVER_KILL_ISTIO_ON_FAILURE\) and exit 75/,
    );
  });

  test("a watcher's variable with nothing to watch: a standalone stop, with a warning that names it", async () => {
    for (const [env, said] of [
      [{ IQQQ_WATCH_START_TIMEOUT: "10m" }, /IQQQ_WATCH_START_TIMEOUT is set, but nothing to watch is/],
      [{ IQQQ_WATCH_PROCESS: "" }, /IQQQ_WATCH_PROCESS is set but empty, which counts as unset/],
    ] as const) {
      const istio = await sidecar();
      const r = await runCli([], { env: { ...K8S, ISTIO_PORT: String(istio.port), ...env } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, said);
      assert.match(r.stderr, /not a watcher, so the sidecars are stopped now \(standalone\)/);
      assert.equal(istio.quits(), 1);
    }
    // A wrapper is not told about it.
    const wrapped = await runCli(["true"], { env: { IQQQ_WATCH_START_TIMEOUT: "10m" } });
    assert.doesNotMatch(wrapped.stderr, /standalone/);
  });

  test("--explain with IQQQ_WATCH_CONTAINERS says what the run does: containers by their mark, the 5 s rule or the start timeout", async () => {
    const plain = await runCli(["--explain"], { env: { ...K8S, IQQQ_WATCH_CONTAINERS: "2" } });
    assert.match(
      plain.stdout.toString(),
      /watch \/proc for the processes of 2 job container\(s\), each told by its mount at \/run\/iqqq-job \(one not seen within 5s had ended before/,
    );
    const timed = await runCli(["--explain"], {
      env: { ...K8S, IQQQ_WATCH_CONTAINERS: "2", IQQQ_WATCH_START_TIMEOUT: "10m" },
    });
    assert.match(timed.stdout.toString(), /\(at most 10m0s for all of them, then stop the sidecars and exit 75\)/);
  });
});

describe("plugins (IQQQ_PLUGINS, WRAPPER_PLUGIN_PATH)", () => {
  async function recorder(): Promise<{ plugin: string; record: string }> {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-plugin-"));
    const record = join(dir, "record.jsonl");
    const plugin = join(dir, "record.mjs");
    await writeFile(
      plugin,
      `import { appendFileSync } from "node:fs";
const log = (hook, ctx) => appendFileSync(${JSON.stringify(record)}, JSON.stringify({ hook, at: Date.now(), mode: ctx.mode, program: ctx.program, exit: ctx.exit, sidecars: ctx.sidecars, status: ctx.status }) + "\\n");
export default {
  name: "recorder",
  beforeStart: (ctx) => log("beforeStart", ctx),
  afterExit: (ctx) => log("afterExit", ctx),
  beforeStop: (ctx) => log("beforeStop", ctx),
  afterStop: (ctx) => log("afterStop", ctx),
};
`,
    );
    return { plugin, record };
  }
  const lines = async (file: string) =>
    (await readFile(file, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));

  test("each hook, in order, with its arguments; the sidecar stop between beforeStop and afterStop", async () => {
    const istio = await sidecar();
    const { plugin, record } = await recorder();
    const r = await runCli(["sh", "-c", "exit 3"], {
      env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PLUGINS: plugin },
    });
    assert.equal(r.status, 3, r.stderr);
    const hooks = await lines(record);
    assert.deepEqual(
      hooks.map((h) => h.hook),
      ["beforeStart", "afterExit", "beforeStop", "afterStop"],
    );
    assert.deepEqual(hooks[0].program, { file: "sh", args: ["-c", "exit 3"] });
    assert.equal(hooks[1].exit.exitCode, 3);
    assert.equal(hooks[1].exit.kind, "exited");
    assert.equal(hooks[2].sidecars[0].name, "istio");
    assert.equal(hooks[3].sidecars[0].outcome, "stopped");
    assert.equal(hooks[3].status, 3);
    const quitAt = istio.requests[0]?.at ?? 0;
    assert.ok(hooks[2].at <= quitAt && quitAt <= hooks[3].at, "the stop is not between beforeStop and afterStop");
  });

  test("a plugin that throws, one that hangs and one that is missing change nothing but a warning", async () => {
    const istio = await sidecar();
    const dir = await mkdtemp(join(tmpdir(), "iqqq-plugin-"));
    await writeFile(join(dir, "throws.mjs"), "export function afterExit() { throw new Error('boom'); }\n");
    await writeFile(join(dir, "hangs.mjs"), "export function beforeStop() { return new Promise(() => {}); }\n");
    const r = await runCli(["sh", "-c", "exit 4"], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_PLUGINS: `${join(dir, "throws.mjs")},${join(dir, "hangs.mjs")},${join(dir, "missing.mjs")}`,
        IQQQ_PLUGIN_TIMEOUT: "300ms",
      },
    });
    assert.equal(r.status, 4);
    assert.equal(istio.quits(), 1);
    assert.match(r.stderr, /plugin .*missing\.mjs: not loaded/);
    assert.match(r.stderr, /boom/);
    assert.match(r.stderr, /hangs.*(timed out|did not finish|300ms)/);
  });

  test("wrapper4's echo plugin through WRAPPER_PLUGIN_PATH", async () => {
    const r = await runCli(["true"], { env: { WRAPPER_PLUGIN_PATH: join(ROOT, "examples/plugins/echo.mjs") } });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Echo demo plugin$/m);
    assert.equal(r.stdout.length, 0);
  });

  test("the termination-log plugin writes the one-line summary", async () => {
    const istio = await sidecar();
    const dir = await mkdtemp(join(tmpdir(), "iqqq-plugin-"));
    const file = join(dir, "termination-log");
    const r = await runCli(["sh", "-c", "exit 2"], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_PLUGINS: join(ROOT, "examples/plugins/termination-log.mjs"),
        IQQQ_TERMINATION_LOG: file,
      },
    });
    assert.equal(r.status, 2);
    assert.match(await readFile(file, "utf8"), /^iqqq: program exited 2 after .*; istio stopped\n$/);
  });
});
