// Non-UTF-8 arguments: found in a cmdline, and passed on byte for byte through sh.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { alteredWords, execScript } from "../../src/program/bytes.js";

/** The program the words run: prints each of its arguments followed by NUL. */
const PRINT = [Buffer.from("sh"), Buffer.from("-c"), Buffer.from('printf "%s\\0" "$@"'), Buffer.from("sh")];

test("execScript passes every byte 1-255 on, quotes, backslashes and trailing newlines included", () => {
  const every = Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1));
  const words = [every, Buffer.from("\n\n"), Buffer.from("'\"$`\\%"), Buffer.from([0xe9]), Buffer.from(" ")];
  const r = spawnSync("/bin/sh", ["-c", execScript([...PRINT, ...words])]);
  assert.equal(r.status, 0, r.stderr.toString());
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < r.stdout.length; i++) {
    if (r.stdout[i] === 0) {
      out.push(r.stdout.subarray(start, i));
      start = i + 1;
    }
  }
  assert.deepEqual(out, words);
  assert.match(execScript(words), /^[\x20-\x7e\n]*$/, "the script itself must be plain ASCII");
});

test("alteredWords: only when a word decoded to U+FFFD and differs from the raw bytes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-cmdline-"));
  const cmdline = join(dir, "cmdline");
  await writeFile(
    cmdline,
    Buffer.concat([Buffer.from("node\0/x/iqqq.mjs\0prog\0"), Buffer.from([0xe9, 0]), Buffer.from("ok\0")]),
  );
  assert.deepEqual(alteredWords(["prog", "\uFFFD", "ok"], cmdline), [
    Buffer.from("prog"),
    Buffer.from([0xe9]),
    Buffer.from("ok"),
  ]);
  assert.equal(alteredWords(["prog", "e", "ok"], cmdline), undefined, "no U+FFFD: not even read");
  await writeFile(cmdline, "node\0/x/iqqq.mjs\0prog\0\uFFFD\0ok\0");
  assert.equal(alteredWords(["prog", "\uFFFD", "ok"], cmdline), undefined, "a real U+FFFD is not an alteration");
});
