// src/proc/read.ts against a /proc-like folder of its own.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { listPids } from "../../src/proc/read.js";
import { prepareBuiltins } from "../../src/runtime/builtins.js";

test("listPids: the entries made of digits only, as numbers; self, sys and mixed names are not processes", async () => {
  await prepareBuiltins();
  const root = mkdtempSync(join(tmpdir(), "iqqq-proc-"));
  try {
    for (const name of ["1", "42", "self", "sys", "1a", "a1", "4\u0660"]) mkdirSync(join(root, name));
    assert.deepEqual(
      listPids(root).sort((a, b) => a - b),
      [1, 42],
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
