// iqqq's own writes to stdout and stderr. Never through process.stdout or
// process.stderr: creating those streams puts a pipe into O_NONBLOCK mode, and a
// pipe's mode belongs to its open file description, which iqqq shares with the
// program it runs. A program that then writes faster than its reader reads gets
// EAGAIN and loses output (its stderr cut short by iqqq's first log line). A
// plain write(2) leaves the descriptor as iqqq found it.

import { builtin } from "./builtins.js";

/** How long a write may keep meeting a full pipe (EAGAIN) before the text is dropped. */
const FULL_PIPE_PATIENCE_MS = 2000;
let pause: Int32Array | undefined;

/** Writes all of `text` to `fd`; a log line is never worth hanging for, so errors drop it. */
export function writeAll(fd: number, text: string): void {
  let bytes = Buffer.from(text, "utf8");
  let waitedMs = 0;
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(builtin("node:fs").writeSync(fd, bytes));
    } catch (err) {
      // EAGAIN: the descriptor was made non-blocking by someone else and the pipe is full.
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || waitedMs >= FULL_PIPE_PATIENCE_MS) return;
      pause ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(pause, 0, 0, 5);
      waitedMs += 5;
    }
  }
}
