// The example plugins in examples/plugins, loaded as iqqq loads them.

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { AfterStopContext, ExitInfo } from "../../src/plugins/api.js";
import { loadPlugins } from "../../src/plugins/host.js";
import { ROOT } from "../support/cli.js";
import { captureLog } from "./support.js";

const ECHO = join(ROOT, "examples/plugins/echo.mjs");
const TERMINATION_LOG = join(ROOT, "examples/plugins/termination-log.mjs");
const istio = { name: "istio", url: "http://127.0.0.1:15020/quitquitquit" };

test("echo: wrapper4's plugin, loaded through GetPlugin, prints its line once the program has ended", async () => {
  const host = await loadPlugins([ECHO], { log: captureLog(), mode: "wrapper" });
  assert.deepEqual(
    host.plugins.map((p) => p.name),
    ["echo"],
  );
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    await host.run("beforeStart", { program: { file: "ls", args: ["-l"] } });
    assert.deepEqual(written, []);
    await host.run("afterExit", { exit: { kind: "exited", exitCode: 0, signal: null, durationMs: 5, status: 0 } });
  } finally {
    process.stderr.write = write;
  }
  assert.equal(written.length, 1);
  assert.match(written[0] ?? "", /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Echo demo plugin\n$/);
});

const { summary } = (await import(TERMINATION_LOG)) as { summary(ctx: Partial<AfterStopContext>): string };

test("termination-log: the summary line, one row per way a run ends", () => {
  const stopped = [{ ...istio, outcome: "stopped" as const }];
  const exit = (e: Partial<ExitInfo>): ExitInfo => ({
    kind: "exited",
    exitCode: 0,
    signal: null,
    durationMs: 12_400,
    status: 0,
    ...e,
  });
  const rows: [Partial<AfterStopContext>, string][] = [
    [
      { mode: "wrapper", exit: exit({ exitCode: 3, status: 3 }), sidecars: stopped },
      "program exited 3 after 12.4s; istio stopped",
    ],
    [
      {
        mode: "wrapper",
        exit: exit({ kind: "signaled", exitCode: null, signal: "SIGKILL", status: 137, durationMs: 850 }),
        sidecars: stopped,
      },
      "program killed by SIGKILL (status 137) after 850ms; istio stopped",
    ],
    [
      { mode: "wrapper", exit: exit({ kind: "not-found", status: 127 }), sidecars: stopped },
      "program not found (status 127); istio stopped",
    ],
    [
      {
        mode: "watcher",
        exit: exit({ kind: "gone", exitCode: null, durationMs: 185_000 }),
        sidecars: [{ ...istio, outcome: "absent" }],
      },
      "watched process ended after 3m5s (its exit code cannot be seen by a watcher); istio absent",
    ],
    [
      { mode: "watcher", exit: exit({ kind: "never-appeared", status: 75 }), sidecars: [] },
      "watched process never appeared (status 75); no sidecar to stop",
    ],
    [
      { mode: "wrapper", exit: exit({ exitCode: 1, status: 1 }), sidecars: [], skipReason: "NEVER_KILL_ISTIO is true" },
      "program exited 1 after 12.4s; sidecars not stopped: NEVER_KILL_ISTIO is true",
    ],
    [
      { mode: "standalone", exit: undefined, sidecars: [{ ...istio, outcome: "failed" }], status: 1 },
      "standalone stop, status 1; istio failed",
    ],
  ];
  for (const [ctx, line] of rows) assert.equal(summary({ skipReason: undefined, ...ctx }), `iqqq: ${line}`);
});

async function runTerminationLog(path: string | undefined): Promise<ReturnType<typeof captureLog>> {
  const log = captureLog("warn");
  const host = await loadPlugins([TERMINATION_LOG], { log, mode: "wrapper" });
  const saved = process.env.IQQQ_TERMINATION_LOG;
  if (path === undefined) delete process.env.IQQQ_TERMINATION_LOG;
  else process.env.IQQQ_TERMINATION_LOG = path;
  try {
    await host.run("afterStop", {
      exit: { kind: "exited", exitCode: 0, signal: null, durationMs: 1500, status: 0 },
      sidecars: [{ ...istio, outcome: "stopped" }],
      skipReason: undefined,
      status: 0,
    });
  } finally {
    if (saved === undefined) delete process.env.IQQQ_TERMINATION_LOG;
    else process.env.IQQQ_TERMINATION_LOG = saved;
  }
  return log;
}

test("termination-log: appends its line to IQQQ_TERMINATION_LOG, after what the program wrote", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-termlog-"));
  const file = join(dir, "termination-log");
  await writeFile(file, "job: 42 rows written\n");
  const log = await runTerminationLog(file);
  assert.deepEqual(log.lines, []);
  assert.equal(
    await readFile(file, "utf8"),
    "job: 42 rows written\niqqq: program exited 0 after 1.5s; istio stopped\n",
  );
});

test("termination-log: a file that cannot be written is a warning, not a failure", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-termlog-"));
  await mkdir(join(dir, "a-directory"));
  for (const path of [join(dir, "a-directory"), join(dir, "missing/termination-log")]) {
    const log = await runTerminationLog(path);
    assert.equal(log.lines.length, 1, log.text());
    assert.match(
      log.text(),
      new RegExp(`^iqqq: warning: plugin termination-log: cannot write the termination message to ${path}: E`),
    );
    assert.doesNotMatch(log.text(), /afterStop failed|did not finish/);
  }
});
