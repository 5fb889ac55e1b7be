// What the artefact itself must not add: the Node bundle and the compiled
// executable read the same configuration, from the environment only.

import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../support/cli.js";

test("a .env or bunfig.toml in the working directory is never read", async () => {
  // A Bun-compiled executable loads both by default; scripts/build-binaries.mjs turns that off.
  const dir = await mkdtemp(join(tmpdir(), "iqqq-cwd-"));
  await writeFile(join(dir, ".env"), "DISABLE_IQQQ=not-a-boolean\nIQQQ_LOG_LEVEL=loud\n");
  await writeFile(join(dir, "bunfig.toml"), 'preload = ["./missing.ts"]\n');
  const r = await runCli(["sh", "-c", "exit 7"], { cwd: dir, env: { DISABLE_IQQQ: "true" } });
  assert.equal(r.status, 7, r.stderr);
  assert.doesNotMatch(r.stderr, /not-a-boolean|loud|missing/);
});
