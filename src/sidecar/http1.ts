// One HTTP/1.1 exchange over a plain TCP connection, for the common case: a
// sidecar at an IP address (127.0.0.1:15020). iqqq sends one request without a
// body and needs the status, the Location header and the body's first bytes;
// node:http (5 ms to load and 9 ms for its first request) and Bun's fetch (its
// own thread, 6-8 ms cold) cost more than the whole exchange. Node connects
// through node:net, the Bun executable through Bun.connect (Bun's node:net
// takes about 10 ms to load).
//
// Why not a package: iqqq's npm package has no runtime dependencies (all is
// bundled), so any HTTP client would be more code loaded on the wrapper's start
// path, where every module is paid for on each run; one request without a body,
// to a loopback address, needs only this much of HTTP/1.1.
//
// The same Answer contract as request.ts: redirects are returned, not followed;
// 1xx answers other than 101 are skipped; 101 ends the exchange; a reply that
// is not HTTP is an "error" (HPE_INVALID_CONSTANT, as node:http says); a
// connection closed before a complete head is "broken" (ECONNRESET).

import { isDigits } from "../config/values.js";
import { builtin } from "../runtime/builtins.js";
import { resolvable } from "../runtime/resolvable.js";
import { later } from "../runtime/timers.js";
import type { Answer, RequestOptions } from "./answer.js";
import { BROKEN } from "./broken.js";

/** A response head larger than this is refused (node:http's default limit). */
const MAX_HEAD_BYTES = 16 * 1024;

interface Handlers {
  open(): void;
  data(chunk: Uint8Array): void;
  /** The peer closed the connection, or it broke without an error code. */
  close(): void;
  error(code: string): void;
}

interface Connection {
  write(bytes: string): void;
  destroy(): void;
  /** The connection no longer keeps the process alive. */
  unref(): void;
}

type Connect = (host: string, port: number, on: Handlers) => Connection;

/**
 * What ends an exchange without an answer: its deadline, a plain timer (no
 * AbortSignal: AbortSignal.timeout and its first listener cost a fresh Node
 * process about 0.5 ms more than a timer, on every stop), and an outside abort,
 * when there is one (a readiness wait's end, a name's look-up's deadline).
 * Either ends it as a timeout.
 */
export interface Limit {
  readonly timeoutMs: number;
  readonly abort?: AbortSignal;
}

/** Sends `method url` to `address` (url's host, resolved) and resolves to the answer; never rejects. */
export function exchange(
  url: URL,
  address: string,
  options: RequestOptions,
  userAgent: string,
  limit: Limit,
  /** A warm-up's: the connection does not keep the process alive. */
  extra: { readonly unref?: boolean } = {},
): Promise<Answer> {
  const { method, bodyBytes = 256, bodyGraceMs = 200 } = options;
  const port = url.port === "" ? 80 : Number(url.port);
  const request =
    `${method} ${url.pathname}${url.search} HTTP/1.1\r\n` +
    `Host: ${url.host}\r\n` +
    `User-Agent: ${userAgent}\r\n` +
    (method === "POST" ? "Content-Length: 0\r\n" : "") +
    (options.headers === undefined ? "" : options.headers.map(([name, value]) => `${name}: ${value}\r\n`).join("")) +
    "Connection: close\r\n\r\n";
  const { promise, resolve, reject } = resolvable<Answer>();
  const start = (): void => {
    let settled = false;
    let grace: ReturnType<typeof setTimeout> | undefined;
    let connection: Connection | undefined;
    let cancelDeadline: (() => void) | undefined;
    const parser = new ResponseParser(bodyBytes);
    const settle = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(grace);
      cancelDeadline?.();
      limit.abort?.removeEventListener("abort", onAbort);
      // After an answer, closed once the callbacks waiting for it have run: a stop's answer is the
      // last thing iqqq waits for, and its exit closes the connection anyway (a destroy costs a fresh
      // Node process about half a millisecond). Any other end closes it at once, before it could
      // connect late and still send the request.
      const done = connection;
      if (answer.kind === "status") setImmediate(() => done?.destroy());
      else done?.destroy();
      resolve(answer);
    };
    const onAbort = (): void => settle({ kind: "timeout" });
    if (limit.abort?.aborted === true) {
      settle({ kind: "timeout" });
      return;
    }
    limit.abort?.addEventListener("abort", onAbort);
    // As AbortSignal.timeout's, the timer never keeps the process alive (the connection does).
    cancelDeadline = later(Math.max(1, limit.timeoutMs), onAbort, { ref: false });
    const answerNow = (): void => {
      const answer = parser.answer();
      if (answer !== undefined) settle(answer);
    };
    try {
      connection = connectFor()(address, port, {
        open: () => connection?.write(request),
        data: (chunk) => {
          const state = parser.push(chunk);
          if (state === "invalid") settle({ kind: "error", code: parser.problem });
          else if (state === "complete") answerNow();
          // The status is what counts; the body is only read a little, for the log.
          else if (state === "body" && grace === undefined) grace = setTimeout(answerNow, bodyGraceMs);
        },
        close: () => settle(parser.answer() ?? { kind: "broken", code: "ECONNRESET" }),
        error: (code) => {
          if (parser.answer() !== undefined) return answerNow();
          if (code === "ECONNREFUSED") settle({ kind: "refused" });
          else settle(BROKEN.has(code) ? { kind: "broken", code } : { kind: "error", code });
        },
      });
      if (extra.unref === true) connection.unref();
    } catch (err) {
      settle({ kind: "error", code: (err as { code?: string }).code ?? (err as Error).message });
    }
  };
  // As in a Promise executor: whatever start() throws rejects the answer, never escapes.
  try {
    start();
  } catch (err) {
    reject(err);
  }
  return promise;
}

/** Bun.connect in the executable, node:net in Node. */
function connectFor(): Connect {
  const bun = (globalThis as { Bun?: BunConnect }).Bun;
  return bun === undefined ? connectWithNode : (host, port, on) => connectWithBun(bun, host, port, on);
}

function connectWithNode(host: string, port: number, on: Handlers): Connection {
  const socket = builtin("node:net").connect({ host, port });
  socket.setNoDelay(true);
  socket.on("connect", on.open);
  socket.on("data", on.data);
  socket.on("error", (err: NodeJS.ErrnoException) => on.error(err.code ?? err.message));
  socket.on("close", on.close);
  return { write: (bytes) => socket.write(bytes), destroy: () => socket.destroy(), unref: () => socket.unref() };
}

/** The part of Bun's API used here (the Node build has no bun-types). */
interface BunSocket {
  write(data: string): number;
  terminate(): void;
  unref(): void;
}
interface BunConnect {
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      open(socket: BunSocket): void;
      data(socket: BunSocket, chunk: Uint8Array): void;
      close(socket: BunSocket): void;
      end(socket: BunSocket): void;
      error(socket: BunSocket, err: Error): void;
      connectError(socket: BunSocket, err: Error): void;
    };
  }): Promise<BunSocket>;
}

function connectWithBun(bun: BunConnect, host: string, port: number, on: Handlers): Connection {
  let socket: BunSocket | undefined;
  let destroyed = false;
  let unref = false;
  const code = (err: Error): string => (err as { code?: string }).code ?? err.message;
  bun
    .connect({
      hostname: host,
      port,
      socket: {
        open: (s) => {
          socket = s;
          if (unref) s.unref();
          if (destroyed) s.terminate();
          else on.open();
        },
        data: (_s, chunk) => on.data(chunk),
        close: () => on.close(),
        end: () => on.close(),
        error: (_s, err) => on.error(code(err)),
        connectError: (_s, err) => on.error(code(err)),
      },
    })
    .catch((err: Error) => on.error(code(err)));
  return {
    write: (bytes) => socket?.write(bytes),
    destroy: () => {
      destroyed = true;
      socket?.terminate();
    },
    unref: () => {
      unref = true;
      socket?.unref();
    },
  };
}

type ParseState = "head" | "body" | "complete" | "invalid";

/**
 * An HTTP/1.x response, fed as it arrives. Plain private properties, not
 * #private fields: the executable's engine takes about 0.1 ms over the first
 * object with #private fields, which for a program that ends before the
 * warm-up (and waited for no sidecar) is on the path from its exit to
 * iqqq's (program/signals.ts).
 */
export class ResponseParser {
  private buffer: Buffer = Buffer.alloc(0);
  private status: number | undefined;
  private location: string | undefined;
  private chunked = false;
  private expected: number | undefined;
  private body: Buffer[] = [];
  private bodySize = 0;
  private complete = false;
  problem = "";

  constructor(private readonly bodyBytes: number) {}

  push(chunk: Uint8Array): ParseState {
    if (this.problem !== "") return "invalid";
    if (this.complete) return "complete";
    if (this.status === undefined) {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      return this.head();
    }
    return this.take(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  /** The answer so far: undefined until a complete head has arrived. */
  answer(): Answer | undefined {
    if (this.status === undefined) return undefined;
    let body: Buffer = Buffer.concat(this.body);
    if (this.chunked) body = dechunk(body);
    return {
      kind: "status",
      status: this.status,
      body: body.toString("utf8").slice(0, this.bodyBytes),
      ...(this.location === undefined ? {} : { location: this.location }),
    };
  }

  private head(): ParseState {
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (this.buffer.length > MAX_HEAD_BYTES) return this.invalid("HPE_HEADER_OVERFLOW");
        // Not HTTP at all: no need to wait for a head that will never come.
        if (!"HTTP/".startsWith(this.buffer.subarray(0, 5).toString("latin1"))) return this.invalid();
        return "head";
      }
      const lines = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
      const rest = this.buffer.subarray(end + 4);
      const code = statusCode(lines[0] ?? "");
      if (code === undefined) return this.invalid();
      // 100 Continue, 102 Processing, 103 Early Hints: the real answer follows.
      if (code >= 100 && code < 200 && code !== 101) {
        this.buffer = rest;
        continue;
      }
      this.status = code;
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        if (colon <= 0) return this.invalid("HPE_INVALID_HEADER_TOKEN");
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === "location") this.location = value;
        else if (name === "content-length") this.expected = Number(value);
        else if (name === "transfer-encoding") this.chunked = value.toLowerCase().includes("chunked");
      }
      this.buffer = Buffer.alloc(0);
      // No body to wait for: 101 (the connection is someone else's now), 204, 304, or an empty one.
      if (code === 101 || code === 204 || code === 304 || this.expected === 0) {
        this.complete = true;
        return "complete";
      }
      return this.take(rest);
    }
  }

  private take(bytes: Buffer): ParseState {
    if (bytes.length > 0) {
      this.body.push(bytes);
      this.bodySize += bytes.length;
    }
    if (this.bodySize >= this.bodyBytes || (this.expected !== undefined && this.bodySize >= this.expected)) {
      this.complete = true;
      return "complete";
    }
    return "body";
  }

  private invalid(code = "HPE_INVALID_CONSTANT"): ParseState {
    this.problem = code;
    return "invalid";
  }
}

/**
 * The code of an HTTP/1.0 or 1.1 status line ("HTTP/1.1 200 OK"), or undefined.
 * String tests, not a regular expression: the executable's engine compiles one
 * on its first use, on the path from the program's exit to its own.
 */
export function statusCode(line: string): number | undefined {
  if (!(line.startsWith("HTTP/1.0 ") || line.startsWith("HTTP/1.1 "))) return undefined;
  const digits = line.slice(9, 12);
  const reason = line.slice(12);
  if (digits.length !== 3 || digits[0] === "0" || !isDigits(digits)) return undefined;
  if (reason !== "" && (reason[0] !== " " || reason.includes("\n") || reason.includes("\r"))) return undefined;
  return Number(digits);
}

/** The data of a chunked body, as far as it goes (it may be cut short). */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = Number.parseInt(body.subarray(at, eol).toString("latin1"), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(eol + 2, Math.min(body.length, eol + 2 + size)));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
