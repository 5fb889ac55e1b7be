// iqqq's own writes to stdout and stderr. Never through process.stdout or
// process.stderr: creating those streams puts a pipe into O_NONBLOCK mode, and a
// pipe's mode belongs to its open file description, which iqqq shares with the
// program it runs. A program that then writes faster than its reader reads gets
// EAGAIN and loses output (its stderr cut short by iqqq's first log line). A
// plain write(2) leaves the descriptor as iqqq found it.
//
// Node itself reaches for process.stderr where nobody writes: closing any TCP
// socket compares it with process.stderr (net.js, Socket#_destroy), which
// creates the stream. So under Node the two getters are replaced, before
// anything runs, by streams that write with write(2) as well.

import { builtin } from "./builtins.js";

/** How long a log line's write may keep meeting a full pipe (EAGAIN) before the line is dropped. */
const FULL_PIPE_PATIENCE_MS = 2000;
let pause: Int32Array | undefined;

/** Writes all of `text` to `fd`; a log line is never worth hanging for, so errors drop it. */
export function writeAll(fd: number, text: string | Uint8Array): void {
  try {
    writeFully(fd, text, FULL_PIPE_PATIENCE_MS);
  } catch {}
}

/** A command's output that could not be written whole: what was written is incomplete. */
export class OutputError extends Error {
  constructor(readonly code: string) {
    super(`cannot write to stdout: ${code}`);
  }
}

/**
 * Writes all of a command's output (inject's manifests, --help, --explain) to
 * `fd`: unlike a log line, it is never dropped. A full non-blocking pipe is
 * waited out for as long as its reader takes, as a blocking write would; any
 * other failure (the reader gone: EPIPE) is an OutputError, which the bin turns
 * into exit 74 (EX_IOERR), never a success with half a manifest written.
 */
export function writeOutput(fd: number, text: string): void {
  try {
    // In slices, each encoded as it is written: a 1 MB manifest is not copied whole into a buffer.
    // Never between the two halves of a surrogate pair, which encode only together.
    for (let at = 0; at < text.length; ) {
      let end = Math.min(at + OUTPUT_SLICE, text.length);
      if (end < text.length && isHigh(text.charCodeAt(end - 1)) && isLow(text.charCodeAt(end))) end++;
      writeFully(fd, text.slice(at, end), Number.POSITIVE_INFINITY);
      at = end;
    }
  } catch (err) {
    // A write that failed (an errno); anything else is a bug, and stays one (exit 70).
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== "string") throw err;
    throw new OutputError(code);
  }
}

const OUTPUT_SLICE = 1 << 16;
const isHigh = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

function writeFully(fd: number, text: string | Uint8Array, patienceMs: number): void {
  let bytes =
    typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  let waitedMs = 0;
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(builtin("node:fs").writeSync(fd, bytes));
    } catch (err) {
      // EAGAIN: the descriptor was made non-blocking by someone else and the pipe is full.
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || waitedMs >= patienceMs) throw err;
      pause ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(pause, 0, 0, 5);
      waitedMs += 5;
    }
  }
}

/**
 * Under Node: process.stdout and process.stderr become, on first use, plain
 * Writables over writeAll(), which never change the descriptor's mode. (Bun's
 * streams leave the mode alone.)
 */
export function keepStdioBlocking(): void {
  if (process.versions.bun !== undefined) return;
  for (const [name, fd] of [
    ["stdout", 1],
    ["stderr", 2],
  ] as const) {
    let stream: NodeJS.WriteStream | undefined;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: true,
      get: () => {
        stream ??= blockingStream(fd);
        return stream;
      },
    });
  }
}

function blockingStream(fd: 1 | 2): NodeJS.WriteStream {
  const { Writable } = builtin("node:stream");
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Uint8Array, _encoding, done) {
      writeAll(fd, chunk);
      done();
    },
  });
  // isTTY when asked: Node reads process.stderr whenever it closes a socket, and
  // loading node:tty then cost the stop's request 0.5 ms, for a property nobody reads.
  Object.defineProperty(stream, "isTTY", { enumerable: true, get: () => builtin("node:tty").isatty(fd) });
  return Object.assign(stream, { fd }) as unknown as NodeJS.WriteStream;
}
