// The Node bundle's files: dist/iqqq.mjs is the wrapper, the watcher and the
// standalone stop, self-contained; the commands (install, inject, webhook, reaper) are
// files of their own in dist/commands/, and the RE2 engine IQQQ_WATCH_PATTERN
// needs is dist/vendor/re2js.mjs, each imported when used (scripts/build.mjs).
// The wrapper must still run when dist/iqqq.mjs is copied alone into an image
// (docker/wrap-node.Dockerfile does), and what needs a missing file must then
// say how to get it. The Bun executable has all of it inside: nothing here
// applies to it.

import assert from "node:assert/strict";
import { chmod, copyFile, mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { CLI, CLI_IS_COMPILED, NODE, ROOT, runCli } from "../support/cli.js";

const JOB = `apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: job
          image: busybox
          command: [sh, -c, "true"]
`;

describe("the Node bundle's files", { skip: CLI_IS_COMPILED && "the executable has its commands inside" }, () => {
  test("one file per command, and re2js, beside the bundle; the npm package ships them", async () => {
    assert.deepEqual((await readdir(join(dirname(CLI), "commands"))).sort(), [
      "inject.mjs",
      "install.mjs",
      "reaper.mjs",
      "webhook.mjs",
    ]);
    assert.deepEqual(await readdir(join(dirname(CLI), "vendor")), ["re2js.mjs"]);
    const { files } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { files: string[] };
    for (const file of ["dist/iqqq.mjs", "dist/commands/", "dist/vendor/"])
      assert.ok(files.includes(file), `package.json files: ${file}`);
  });

  test("dist/iqqq.mjs copied alone: the wrapper runs; a command says how to get it (69)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-alone-"));
    const alone = join(dir, "iqqq.mjs");
    await copyFile(CLI, alone);
    await chmod(alone, 0o755);
    const wrapped = await runCli(["sh", "-c", "echo out; exit 3"], { executable: alone });
    assert.equal(wrapped.status, 3, wrapped.stderr);
    assert.equal(wrapped.stdout.toString(), "out\n");
    assert.equal((await runCli(["true"], { executable: alone })).status, 0);
    for (const name of ["install", "inject", "webhook", "reaper"]) {
      const r = await runCli([name, "--help"], { executable: alone });
      assert.equal(r.status, 69, `${name}: ${r.stderr}`);
      assert.equal(r.stdout.length, 0);
      assert.match(r.stderr, new RegExp(`^iqqq ${name}: error: .*iqqq ${name} needs commands/${name}\\.mjs beside`));
      assert.ok(r.stderr.includes(join(dir, "commands", `${name}.mjs`)), r.stderr);
      assert.match(r.stderr, /Install the npm package \(npm i -g iqqq\), or use the iqqq executable or image/);
      assert.doesNotMatch(r.stderr, /internal error|^ {4}at /m);
    }
    // The watcher without a pattern needs nothing beside it; with one, the RE2 engine.
    const explain = await runCli(["--explain"], { executable: alone, env: { IQQQ_WATCH_PROCESS: "job" } });
    assert.equal(explain.status, 0, explain.stderr);
    const pattern = await runCli(["--explain"], { executable: alone, env: { IQQQ_WATCH_PATTERN: "jo+b" } });
    assert.equal(pattern.status, 69, pattern.stderr);
    assert.equal(pattern.stdout.length, 0);
    assert.match(pattern.stderr, /^iqqq: error: .*IQQQ_WATCH_PATTERN needs vendor\/re2js\.mjs beside iqqq\.mjs/);
    assert.ok(pattern.stderr.includes(join(dir, "vendor", "re2js.mjs")), pattern.stderr);
    // With a PROGRAM the pattern is ignored (with a warning), so the copy alone still wraps it.
    const wraps = await runCli(["sh", "-c", "exit 4"], { executable: alone, env: { IQQQ_WATCH_PATTERN: "jo+b" } });
    assert.equal(wraps.status, 4, wraps.stderr);
    assert.match(wraps.stderr, /IQQQ_WATCH_PATTERN are ignored: a PROGRAM was given/);
  });

  test("on a Node without process.getBuiltinModule (before 20.16), the wrapper and the commands both run", async () => {
    // Each command's file has its own copy of src/runtime/builtins.ts, which must be made ready too.
    const old = ["--import", "data:text/javascript,delete process.getBuiltinModule", CLI];
    const wrapped = await runCli([...old, "sh", "-c", "exit 4"], { executable: NODE });
    assert.equal(wrapped.status, 4, wrapped.stderr);
    const injected = await runCli([...old, "inject", "--image", "registry.example/iqqq:1.0"], {
      executable: NODE,
      input: JOB,
    });
    assert.equal(injected.status, 0, injected.stderr);
    assert.match(injected.stdout.toString(), /command: \[\/opt\/iqqq\/iqqq, sh, -c, "true"\]/);
  });
});
