// Under Node, process.stdout/stderr become plain write(2) streams (src/runtime/stdio.ts).
// Node reads process.stderr whenever it closes a socket: making that stream must not
// load node:tty (0.5 ms on the stop path) unless isTTY is read.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { ROOT } from "../support/cli.js";

const stdio = pathToFileURL(`${ROOT}build/src/runtime/stdio.js`).href;
const builtins = pathToFileURL(`${ROOT}build/src/runtime/builtins.js`).href;

const SCRIPT = `
import { keepStdioBlocking } from ${JSON.stringify(stdio)};
import { prepareBuiltins } from ${JSON.stringify(builtins)};
await prepareBuiltins();
keepStdioBlocking();
const tty = () => process.moduleLoadList.some((m) => m === "NativeModule tty");
const net = process.getBuiltinModule("node:net");
const server = net.createServer((s) => s.end("x")).listen(0, "127.0.0.1", () => {
  const socket = net.connect(server.address().port, "127.0.0.1");
  socket.on("data", () => {
    socket.destroy();
    setImmediate(() => {
      const afterClose = tty();
      const isTTY = process.stderr.isTTY;
      process.stdout.write(JSON.stringify({ afterClose, isTTY, afterIsTTY: tty() }));
      process.exit(0);
    });
  });
});
`;

test("closing a socket reads process.stderr without loading node:tty; isTTY still answers", () => {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { afterClose: false, isTTY: false, afterIsTTY: true });
});

// A command's output is written in slices (writeOutput): one never ends between the two halves of a
// surrogate pair, which would each be written as U+FFFD.
test("writeOutput writes every byte of a text, astral characters at any slice boundary included", () => {
  const texts = [
    `${"a".repeat(65535)}😀b`,
    `${"a".repeat(65534)}😀😀${"c".repeat(65536)}é𝄞`,
    "😀".repeat(65539),
    // A lone high surrogate at the boundary, a pair right after it: the pair stays whole.
    `${"a".repeat(65535)}\uD800😀z`,
    `${"a".repeat(65535)}\uD800`,
    `${"a".repeat(65536)}\uDC00😀`,
    "",
    "plain",
  ];
  // The texts go in on stdin: they are too long for a command line.
  const script = `
import { readFileSync } from "node:fs";
import { writeOutput } from ${JSON.stringify(stdio)};
import { prepareBuiltins } from ${JSON.stringify(builtins)};
await prepareBuiltins();
for (const t of JSON.parse(readFileSync(0, "utf8"))) writeOutput(1, t + "\\n");
`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    input: JSON.stringify(texts),
    maxBuffer: 1 << 24,
  });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(r.stdout.equals(Buffer.from(texts.map((t) => `${t}\n`).join(""))), "the bytes differ");
});
