// Non-UTF-8 arguments: found in a cmdline, and passed on byte for byte through sh.

import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { alteredEnv, alteredWords, formatPieces, LAUNCHER, launcherArgs, utf8Length } from "../../src/program/bytes.js";
import { nulRecords } from "../support/cli.js";

/** The program the words run: prints each of its arguments followed by NUL. */
const PRINT = [Buffer.from("sh"), Buffer.from("-c"), Buffer.from('printf "%s\\0" "$@"'), Buffer.from("sh")];

/** Runs the launcher as run.ts does and splits what PRINT printed. */
function launch(words: (string | Buffer)[], exports: [string, Buffer][] = [], unset: string[] = []) {
  const r = spawnSync("/bin/sh", launcherArgs({ words: [...PRINT, ...words], exports, unset }).slice(0), {
    env: { PATH: process.env.PATH },
  });
  assert.equal(r.status, 0, r.stderr.toString());
  return nulRecords(r.stdout);
}

test("the launcher passes every byte 1-255 on, quotes, backslashes, % and trailing newlines included", () => {
  const every = Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1));
  const words = [
    every,
    Buffer.from("\n\n"),
    Buffer.from("'\"$`\\%"),
    Buffer.from([0xe9]),
    Buffer.from(" "),
    Buffer.from(""),
  ];
  assert.deepEqual(launch(words), words);
  assert.match(LAUNCHER, /^[\x20-\x7e\n]*$/, "the script itself must be plain ASCII");
});

test("the launcher: unaltered words as they are, altered ones in order between them", () => {
  const words = ["plain", Buffer.from([0x61, 0xff, 0x62]), "$HOME * ?", Buffer.from("x%sy\\z")];
  assert.deepEqual(
    launch(words),
    words.map((w) => (typeof w === "string" ? Buffer.from(w) : w)),
  );
});

test("the launcher exports raw values and unsets what it is told", () => {
  const value = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x25, 0x5c]);
  const r = spawnSync("/bin/sh", launcherArgs({ words: ["env", "-0"], exports: [["RAW", value]], unset: ["PWD"] }), {
    env: { PATH: process.env.PATH },
  });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(
    nulRecords(r.stdout).sort(Buffer.compare),
    [Buffer.from(`PATH=${process.env.PATH}`), Buffer.concat([Buffer.from("RAW="), value])].sort(Buffer.compare),
  );
});

test("formatPieces: only bytes that are not UTF-8 are escaped; long values are cut below 128 KiB, never inside an escape", () => {
  assert.deepEqual(formatPieces(Buffer.from("café ✓ 🎉")), ["café ✓ 🎉"]);
  assert.deepEqual(formatPieces(Buffer.from([0x61, 0xe9, 0x62])), ["a\\351b"]);
  // Overlong, surrogate and out-of-range forms are not UTF-8.
  for (const bad of [
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xe2, 0x82],
  ]) {
    assert.equal(formatPieces(Buffer.from(bad)).join(""), bad.map((b) => `\\${b.toString(8)}`).join(""));
  }
  const big = Buffer.alloc(100_000, 0xff);
  const pieces = formatPieces(big);
  assert.ok(pieces.length > 1);
  for (const p of pieces) {
    assert.ok(Buffer.byteLength(p) < 128 * 1024);
    assert.match(p, /^(\\377)+$/);
  }
  assert.deepEqual(launch([big]), [big]);
});

test("utf8Length agrees with the runtime's own UTF-8 check on every 1-4 byte prefix", () => {
  for (let a = 0; a < 256; a++) {
    for (const tail of [[], [0x80], [0xbf], [0x90, 0x80], [0xa0, 0x80, 0x80], [0x8f, 0xbf, 0xbf]]) {
      const b = Buffer.from([a, ...tail]);
      const n = utf8Length(b, 0);
      if (n > 0) assert.ok(isUtf8(b.subarray(0, n)), `0x${b.toString("hex")}: ${n}`);
      else assert.ok(![1, 2, 3, 4].some((k) => k <= b.length && isUtf8(b.subarray(0, k))), b.toString("hex"));
    }
  }
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

test("alteredEnv: the variables whose values decoded to U+FFFD, with their raw bytes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-environ-"));
  const environ = join(dir, "environ");
  await writeFile(
    environ,
    Buffer.concat([
      Buffer.from("PATH=/bin\0A="),
      Buffer.from([0xe9, 0]),
      Buffer.from("GONE="),
      Buffer.from([0xff, 0]),
      Buffer.from("NEW="),
      Buffer.from([0xff, 0]),
      Buffer.from("a-b="),
      Buffer.from([0xfe, 0]),
      Buffer.from("OK=\uFFFD\0"),
    ]),
  );
  const env = { PATH: "/bin", A: "\uFFFD", NEW: "set by a plugin", "a-b": "\uFFFD", OK: "\uFFFD" };
  assert.deepEqual(alteredEnv(env, environ), {
    raw: [["A", Buffer.from([0xe9])]],
    unpassable: [["a-b", Buffer.from([0x61, 0x2d, 0x62, 0x3d, 0xfe])]],
  });
  assert.equal(alteredEnv({ PATH: "/bin" }, environ), undefined, "no U+FFFD: not even read");
  assert.equal(alteredEnv({ OK: "\uFFFD" }, environ), undefined, "a real U+FFFD is not an alteration");
});
