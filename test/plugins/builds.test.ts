// Plugins are imported at run time from files on disk: that must survive
// bundling with esbuild (dist/iqqq.mjs) and compiling with Bun (standalone
// executables). test/fixtures/plugin-host.ts is built both ways and loads the
// example plugins.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { build } from "esbuild";
import { collect, NODE, ROOT } from "../support/cli.js";

const ENTRY = join(ROOT, "test/fixtures/plugin-host.ts");
const BUN = join(ROOT, "node_modules/.bin/bun");
const PLUGINS = [join(ROOT, "examples/plugins/echo.mjs"), join(ROOT, "examples/plugins/termination-log.mjs")];

async function runHost(command: string, args: readonly string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-plugin-build-"));
  const termLog = join(dir, "termination-log");
  const r = await collect(
    spawn(command, [...args, ...PLUGINS, join(dir, "missing.mjs")], {
      env: { PATH: process.env.PATH ?? "", IQQQ_TERMINATION_LOG: termLog },
      stdio: ["ignore", "pipe", "pipe"],
      cwd: dir,
    }),
    { timeoutMs: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.toString(), "done\n", r.stderr);
  assert.match(r.stderr, /^loaded: echo,termination-log$/m);
  assert.match(r.stderr, /Echo demo plugin/);
  assert.match(r.stderr, /plugin .*missing\.mjs: not loaded: failed: .*Cannot find module/);
  assert.equal(await readFile(termLog, "utf8"), "iqqq: program exited 3 after 1.2s; istio stopped\n");
}

test("in an esbuild bundle, as dist/iqqq.mjs is built", async () => {
  const outfile = join(await mkdtemp(join(tmpdir(), "iqqq-plugin-bundle-")), "host.mjs");
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    logLevel: "error",
  });
  await runHost(NODE, [outfile]);
});

test("in a Bun standalone executable", {
  skip: existsSync(BUN) ? false : "bun is not installed (devDependency)",
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-plugin-bun-"));
  const outfile = join(dir, "host");
  const r = await collect(
    spawn(
      BUN,
      [
        "build",
        "--compile",
        "--no-compile-autoload-dotenv",
        "--no-compile-autoload-bunfig",
        `--outfile=${outfile}`,
        ENTRY,
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
    { timeoutMs: 100_000 },
  );
  try {
    assert.equal(r.status, 0, r.stderr);
    await runHost(outfile, []);
  } finally {
    await rm(dir, { recursive: true, force: true }); // ~100 MB
  }
});
