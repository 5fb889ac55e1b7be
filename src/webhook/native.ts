// The webhook's transport under Bun (transport.ts): Bun.listen's sockets, TLS
// done natively, HTTP/1.1 read and written here.
//
// Why by hand: under `npm run bench:webhook`'s load (64 reviews at once), the
// executable served through Bun's node:tls, node:http and the streams between
// them peaked at 113-123 MiB resident where a Bun.listen server doing TLS,
// reading the request and answering peaked at 55-56 MiB (one run each, by hand;
// docs/performance-notes.md). Bun.serve, the native HTTP server, reads a
// request's body into memory whether or not it is asked for (sixty 4 MiB
// bodies left unread: 76 MiB more), which breaks the webhook's bound on review
// bytes in memory; a Bun.listen socket stops reading when paused. What is read
// here is only what the API server sends a webhook: a request line, headers
// and a body of the length Content-Length says. Anything else is refused and
// its connection closed: a head over HEAD_MAX bytes (431), a malformed line
// (400), Transfer-Encoding (the request is handed on without a length, which
// server.ts refuses, and nothing after it is read).
//
// Bun's TLS layer does at most a few handshake steps per event-loop turn, newest
// first; server.ts answers one review a turn so that turns stay short and old
// handshakes are not starved (listener.ts's history: some waited seconds).
//
// The certificate cannot be swapped in a Bun TLS listener (its reload() keeps
// the pair it was made with), and a second listener on the same port
// (SO_REUSEPORT) resets what the kernel queued on the first when it closes (a
// test saw one connection of hundreds fail). So TCP is accepted plainly and each
// connection upgraded to TLS, natively, with the pair current then.

import { EventEmitter } from "node:events";
import { GONE } from "./gate.js";
import {
  type Answer,
  HANDSHAKE_MS,
  type Handler,
  HEADER_CREDIT,
  IN_FLIGHT,
  type Limits,
  PerPeer,
  type Request,
  type TlsPair,
  type Transport,
  UNREAD_ANSWERS,
} from "./transport.js";

/** A request's line and headers, at most (Node's own limit for the same). */
const HEAD_MAX = 16 * 1024;

/** The reason phrases of the statuses answered (node:http's STATUS_CODES would load node:http). */
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The part of Bun's socket API used here (the Node build has no bun-types). */
interface Socket {
  data: Connection | undefined;
  upgradeTLS(options: { tls: TlsPair; isServer: true; socket: Handlers }): [Socket, Socket];
  readonly remoteAddress: string;
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(on: boolean): void;
}
interface Listener {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}
interface Handlers {
  open(socket: Socket): void;
  handshake(socket: Socket, success: boolean): void;
  data(socket: Socket, chunk: Buffer): void;
  drain(socket: Socket): void;
  end(socket: Socket): void;
  close(socket: Socket): void;
  error(socket: Socket): void;
}
interface BunListen {
  listen(options: { hostname: string; port: number; socket: Plain }): Listener;
}
/** The accepted TCP socket's, until it is upgraded. */
interface Plain {
  open(socket: Socket): void;
  data(): void;
  end(): void;
  close(): void;
  error(): void;
}

/** The TCP socket under each TLS one: ending the TLS socket alone left the TCP one reading (4 MiB a connection, measured here). */
const tcpOf = new WeakMap<Socket, Socket>();

function terminate(socket: Socket): void {
  socket.terminate();
  tcpOf.get(socket)?.terminate();
}

class NativeRequest extends EventEmitter implements Request {
  readonly socket: { remoteAddress: string; destroy(): void };
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: Record<string, string>,
    readonly connection: Connection,
  ) {
    super();
    this.socket = { remoteAddress: connection.peer, destroy: () => connection.kill() };
  }
  resume(): this {
    return this;
  }
}

class NativeAnswer extends EventEmitter implements Answer {
  headersSent = false;
  destroyed = false;
  /** The answer's bytes, once end() made them; written when every answer before it is. */
  bytes: Buffer | undefined;
  #status = 200;
  readonly #headers: Record<string, string> = {};
  constructor(
    private readonly connection: Connection,
    /** The request said Connection: close, or could not be framed: the connection ends after this answer. */
    public last: boolean,
    /** A HEAD request: the answer's head only, its content-length that of the body not sent (RFC 9110 9.3.2). */
    private readonly headOnly = false,
  ) {
    super();
  }
  setHeader(name: string, value: string): this {
    this.#headers[name.toLowerCase()] = value;
    return this;
  }
  writeHead(status: number, headers: Record<string, string>): this {
    this.#status = status;
    for (const [name, value] of Object.entries(headers)) this.setHeader(name, value);
    return this;
  }
  end(text: string): this {
    if (this.headersSent || this.destroyed) return this;
    this.headersSent = true;
    if (this.#headers.connection === "close") this.last = true;
    this.#headers.connection = this.last ? "close" : "keep-alive";
    const body = Buffer.from(text);
    let head = `HTTP/1.1 ${this.#status} ${REASONS[this.#status] ?? "Unknown"}\r\n`;
    for (const [name, value] of Object.entries(this.#headers)) head += `${name}: ${value}\r\n`;
    head += `content-length: ${body.length}\r\n\r\n`;
    this.bytes = this.headOnly ? Buffer.from(head, "latin1") : Buffer.concat([Buffer.from(head, "latin1"), body]);
    this.connection.answered();
    return this;
  }
}

interface Out {
  bytes: Buffer;
  readonly res: NativeAnswer | undefined;
}

export class Connection {
  /** Received and not yet read: held while the connection may not deliver more. */
  readonly #queued: Buffer[] = [];
  /** The head being read, in pieces, and its length so far. */
  #head: Buffer[] = [];
  #headBytes = 0;
  /** The request whose body is being read, and how much of it is left. */
  #request: NativeRequest | undefined;
  #bodyLeft = 0;
  #credit = HEADER_CREDIT;
  /** Answers in request order, the first not yet written. */
  readonly #answers: NativeAnswer[] = [];
  readonly #deadlines = new Map<NativeAnswer, ReturnType<typeof setTimeout>>();
  /** Bytes written that the socket did not take yet, each with its answer. */
  #out: Out[] = [];
  #outBytes = 0;
  #paused = false;
  #flowing = false;
  /**
   * The client sent its FIN: what it sent is still read and answered while the
   * socket stays open. Bun closes a TLS socket at the client's FIN, so answers
   * not out by then are lost (docs/limits.md; with allowHalfOpen on the
   * listener, the next connection after such clients was reset, seen here). The
   * API server never half-closes.
   */
  #peerDone = false;
  /** Nothing more is read: the last answer is on its way, or the stream cannot be framed. */
  #stopped = false;
  #gone = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly socket: Socket,
    readonly peer: string,
    private readonly transport: Pick<NativeTransport, "closing" | "limits" | "handle" | "forget">,
  ) {
    this.#idle();
  }

  get busy(): number {
    return this.#answers.length;
  }

  receive(chunk: Buffer): void {
    // Bun may go on delivering what was read before the socket was ended.
    if (this.#gone) return;
    this.#queued.push(chunk);
    this.#flow();
  }

  grant(bytes: number): void {
    this.#credit += bytes;
    this.#flow();
  }

  /** Ends the connection at once; every answer not yet out is told it is gone. */
  kill(): void {
    if (this.#gone) return;
    terminate(this.socket);
    this.closed();
  }

  /** The socket closed (or was ended here). */
  closed(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#timer);
    for (const timer of this.#deadlines.values()) clearTimeout(timer);
    this.#deadlines.clear();
    // Answers not made yet, and those made but not taken by the socket yet: gone.
    const open = [...this.#answers.splice(0), ...this.#out.flatMap((out) => (out.res === undefined ? [] : [out.res]))];
    for (const res of open) {
      res.destroyed = true;
      res.emit(GONE);
      res.emit("close");
    }
    this.#queued.length = 0;
    this.#out = [];
    this.transport.forget(this);
  }

  /** An answer is made: written, with those after it that are made too, once the ones before it are. */
  answered(): void {
    while (!this.#gone && this.#answers[0]?.bytes !== undefined) {
      const res = this.#answers.shift() as NativeAnswer;
      const bytes = res.bytes as Buffer;
      res.bytes = undefined;
      if (res.last) this.#stopped = true;
      // The next request gets HEADER_CREDIT, never more (credit left over does not add up).
      this.#credit = Math.min(this.#credit, 0) + HEADER_CREDIT;
      this.#write(bytes, res);
      if (res.last) {
        this.#endWhenWritten();
        return;
      }
    }
    if (this.#gone) return;
    if (this.#answers.length === 0) {
      if (this.#stopped || this.transport.closing) {
        this.#stopped = true;
        this.#endWhenWritten();
        return;
      }
      this.#idle();
    }
    this.#flow();
    // Nothing more will come: once what came is answered, the connection ends.
    if (this.#peerDone && this.#answers.length === 0 && !this.#gone) {
      this.#stopped = true;
      this.#endWhenWritten();
    }
  }

  /** The client sent all it will: what it sent is answered, then the connection ends. */
  peerEnded(): void {
    this.#peerDone = true;
    this.#flow();
    if (this.#answers.length === 0) this.kill();
  }

  drained(): void {
    while (this.#out.length > 0) {
      const out = this.#out[0] as Out;
      const n = this.socket.write(out.bytes);
      if (n < 0) {
        this.kill();
        return;
      }
      this.#outBytes -= n;
      if (n < out.bytes.length) {
        out.bytes = out.bytes.subarray(n);
        return;
      }
      this.#out.shift();
      if (out.res !== undefined) this.#finished(out.res);
      if (this.#gone) return;
    }
    if (this.#stopped && this.#answers.length === 0) this.socket.end();
    this.#flow();
  }

  /**
   * Writes an answer's bytes; what the socket does not take now waits for its
   * drain. The answer is finished (its review's room given back) only once the
   * socket has taken all of it: a client that reads no answer holds its room,
   * so answers waiting for their clients stay within the reviews' bounds
   * (released at once, 130 clients that never read a 4 MB answer each took the
   * executable to 338 MiB peak RSS).
   */
  #write(bytes: Buffer, res: NativeAnswer): void {
    if (this.#out.length === 0) {
      const n = this.socket.write(bytes);
      if (n < 0) {
        this.kill();
        return;
      }
      if (n === bytes.length) {
        this.#finished(res);
        return;
      }
      bytes = bytes.subarray(n);
    }
    this.#out.push({ bytes, res });
    this.#outBytes += bytes.length;
  }

  #finished(res: NativeAnswer): void {
    clearTimeout(this.#deadlines.get(res));
    this.#deadlines.delete(res);
    res.emit("finish");
  }

  #endWhenWritten(): void {
    if (this.#out.length === 0) this.socket.end();
  }

  #idle(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.kill(), this.transport.limits.idleMs);
  }

  /**
   * Reads what the connection may deliver now; pauses the socket while it may
   * not. Never re-entered: an answer made while a request is read (a 404, a
   * 400) calls it again, and each pipelined request would otherwise add to the
   * stack (20,000 tiny ones overflowed it and ended the process); the loop
   * running sees what changed.
   */
  #flow(): void {
    if (this.#flowing) return;
    this.#flowing = true;
    try {
      while (this.#queued.length > 0 && !this.#gone && !this.#held()) {
        const chunk = this.#queued.shift() as Buffer;
        if (this.#request === undefined) this.#readHead(chunk);
        else this.#readBody(chunk);
      }
    } finally {
      this.#flowing = false;
    }
    if (this.#gone) return;
    const pause = this.#queued.length > 0 || this.#held();
    if (pause !== this.#paused) {
      this.#paused = pause;
      if (pause) this.socket.pause();
      else this.socket.resume();
    }
  }

  /** Nothing may be read now: no more requests, the review not let in yet, or answers unread. */
  #held(): boolean {
    if (this.#stopped && this.#request === undefined) return true;
    return this.#credit <= 0 || this.#outBytes > UNREAD_ANSWERS;
  }

  #readBody(chunk: Buffer): void {
    const request = this.#request as NativeRequest;
    const n = Math.min(chunk.length, this.#bodyLeft);
    if (n < chunk.length) this.#queued.unshift(chunk.subarray(n));
    this.#bodyLeft -= n;
    this.#credit -= n;
    if (n > 0) request.emit("data", chunk.subarray(0, n));
    if (this.#bodyLeft === 0) {
      this.#request = undefined;
      request.emit("end");
    }
  }

  #readHead(chunk: Buffer): void {
    // The blank line may straddle two chunks: look from 3 bytes before this one.
    const from = Math.max(0, this.#headBytes - 3);
    const fresh = this.#headBytes;
    this.#head.push(chunk);
    this.#headBytes += chunk.length;
    const all = this.#head.length === 1 ? chunk : Buffer.concat(this.#head);
    this.#head = [all];
    const end = all.indexOf("\r\n\r\n", from, "latin1");
    // A line ended by LF alone never ends a head here: refused at once, as Node's parser refuses
    // it, not held until the idle timeout.
    if (bareLf(all, fresh, end < 0 ? all.length : end + 4)) {
      this.#refuse(400);
      return;
    }
    if (end < 0) {
      if (this.#headBytes > HEAD_MAX) this.#refuse(431);
      else this.#credit -= chunk.length;
      return;
    }
    if (end > HEAD_MAX) {
      this.#refuse(431);
      return;
    }
    const rest = all.subarray(end + 4);
    if (rest.length > 0) this.#queued.unshift(rest);
    this.#credit -= chunk.length - rest.length;
    this.#head = [];
    this.#headBytes = 0;
    const parsed = parseHead(all.subarray(0, end).toString("latin1"));
    if (parsed === undefined) {
      this.#refuse(400);
      return;
    }
    const { method, url, headers, close, framed, length } = parsed;
    const request = new NativeRequest(method, url, headers, this);
    const res = new NativeAnswer(this, close || !framed, method === "HEAD");
    // Nothing after a request that asks to close, or whose body cannot be framed, is read.
    if (close || !framed) this.#stopped = true;
    this.#answers.push(res);
    if (this.#answers.length > IN_FLIGHT) {
      this.kill();
      return;
    }
    clearTimeout(this.#timer);
    // However the answer is held up (a client that never reads it, a review stuck), the
    // connection ends after requestMs: nothing holds a connection, or its room, for ever.
    this.#deadlines.set(
      res,
      setTimeout(() => this.kill(), this.transport.limits.requestMs),
    );
    if (this.transport.closing) res.setHeader("connection", "close");
    if (framed && length > 0) {
      this.#request = request;
      this.#bodyLeft = length;
    }
    this.transport.handle(request, res);
    if (framed && length === 0) request.emit("end");
  }

  /** A request that cannot be read: answered with `status`, and nothing more is read. */
  #refuse(status: number): void {
    this.#stopped = true;
    this.#queued.length = 0;
    const res = new NativeAnswer(this, true);
    this.#answers.push(res);
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(`${REASONS[status]}\n`);
  }
}

/** Whether bytes[from, to) hold a LF without the CR before it. */
function bareLf(bytes: Buffer, from: number, to: number): boolean {
  for (let i = bytes.indexOf(10, from); i >= 0 && i < to; i = bytes.indexOf(10, i + 1))
    if (i === 0 || bytes[i - 1] !== 13) return true;
  return false;
}

interface Head {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The connection ends after the answer. */
  close: boolean;
  /** False: Transfer-Encoding, whose body is not read (the request goes on without a length). */
  framed: boolean;
  length: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A request target: visible ASCII, nothing else (no control byte, no space). */
const TARGET = /^[\x21-\x7e]+$/;

/** A request's line and headers, or undefined for what no HTTP/1.1 client sends. */
export function parseHead(text: string): Head | undefined {
  const lines = text.split("\r\n");
  const line = (lines[0] as string).split(" ");
  if (line.length !== 3) return undefined;
  const [method, url, version] = line as [string, string, string];
  if (!TOKEN.test(method) || !TARGET.test(url) || (version !== "HTTP/1.1" && version !== "HTTP/1.0")) return undefined;
  const headers: Record<string, string> = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const header = lines[i] as string;
    const colon = header.indexOf(":");
    if (colon <= 0) return undefined;
    const name = header.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return undefined;
    const value = header.slice(colon + 1).trim();
    if (/[\0\r\n]/.test(value)) return undefined;
    const before = headers[name];
    // Two lengths that differ: which one the client meant is not known.
    if (name === "content-length" && before !== undefined && before !== value) return undefined;
    headers[name] = before === undefined || name === "content-length" ? value : `${before}, ${value}`;
  }
  const te = headers["transfer-encoding"];
  const cl = headers["content-length"];
  if (cl !== undefined && !/^\d{1,15}$/.test(cl)) return undefined;
  // RFC 9112: an HTTP/1.1 request without Host is answered 400 (as node:http does).
  if (version === "HTTP/1.1" && headers.host === undefined) return undefined;
  const framed = te === undefined;
  if (!framed) delete headers["content-length"];
  const connection = (headers.connection ?? "")
    .toLowerCase()
    .split(",")
    .map((t) => t.trim());
  const close = version === "HTTP/1.0" ? !connection.includes("keep-alive") : connection.includes("close");
  return { method, url, headers, close, framed, length: framed && cl !== undefined ? Number(cl) : 0 };
}

class NativeTransport implements Transport {
  closing = false;
  #listener: Listener | undefined;
  #pair: TlsPair;
  #port = 0;
  readonly #all = new Set<Connection>();
  readonly #byPeer = new PerPeer();
  #shaking = 0;
  readonly #shakingBy = new PerPeer();
  #emptied: (() => void) | undefined;
  readonly #handlers: Handlers;
  readonly #plain: Plain;

  constructor(
    pair: TlsPair,
    readonly limits: Limits,
    readonly handle: Handler,
  ) {
    this.#pair = pair;
    /** The sockets still in their handshake, with their timers. */
    const shaking = new Map<Socket, ReturnType<typeof setTimeout>>();
    const settle = (socket: Socket): string | undefined => {
      const timer = shaking.get(socket);
      if (timer === undefined) return undefined;
      clearTimeout(timer);
      shaking.delete(socket);
      this.#shaking--;
      this.#shakingBy.add(socket.remoteAddress, -1);
      return socket.remoteAddress;
    };
    this.#plain = {
      open: (raw) => {
        const peer = raw.remoteAddress;
        if (this.#shaking >= limits.handshakes || this.#shakingBy.get(peer) >= limits.handshakesPerPeer) {
          raw.terminate();
          return;
        }
        const [, secure] = raw.upgradeTLS({
          tls: this.#pair,
          isServer: true,
          socket: this.#handlers,
        });
        tcpOf.set(secure, raw);
      },
      data: () => {},
      end: () => {},
      close: () => {},
      error: () => {},
    };
    this.#handlers = {
      // Called as the connection is upgraded.
      open: (socket) => {
        socket.data = undefined;
        const peer = socket.remoteAddress;
        this.#shaking++;
        this.#shakingBy.add(peer, 1);
        shaking.set(
          socket,
          setTimeout(() => {
            settle(socket);
            terminate(socket);
          }, HANDSHAKE_MS),
        );
      },
      handshake: (socket, success) => {
        const peer = settle(socket);
        if (peer === undefined) return;
        if (!success || this.closing || this.#all.size >= limits.max || this.#byPeer.get(peer) >= limits.perPeer) {
          terminate(socket);
          return;
        }
        // Answers go out at once (Nagle's algorithm and delayed ACKs held each 40 ms).
        socket.setNoDelay(true);
        const connection = new Connection(socket, peer, this);
        socket.data = connection;
        this.#all.add(connection);
        this.#byPeer.add(peer, 1);
      },
      data: (socket, chunk) => socket.data?.receive(chunk),
      drain: (socket) => socket.data?.drained(),
      // The client is done sending: what it sent is still answered, then the connection ends.
      end: (socket) => {
        if (socket.data === undefined) terminate(socket);
        else socket.data.peerEnded();
      },
      close: (socket) => {
        settle(socket);
        socket.data?.closed();
      },
      error: (socket) => {
        settle(socket);
        terminate(socket);
        socket.data?.closed();
      },
    };
  }

  forget(connection: Connection): void {
    if (!this.#all.delete(connection)) return;
    this.#byPeer.add(connection.peer, -1);
    if (this.#all.size === 0) this.#emptied?.();
  }

  #listen(port: number): Listener {
    const bun = (globalThis as unknown as { Bun: BunListen }).Bun;
    try {
      // Both IPv6 and IPv4, as node:net listens.
      return bun.listen({ hostname: "::", port, socket: this.#plain });
    } catch (err) {
      if ((err as { code?: string }).code === "EADDRINUSE") throw err;
      return bun.listen({ hostname: "0.0.0.0", port, socket: this.#plain });
    }
  }

  listen(port: number): Promise<Error | undefined> {
    try {
      this.#listener = this.#listen(port);
      this.#port = this.#listener.port;
      return Promise.resolve(undefined);
    } catch (err) {
      return Promise.resolve(err as Error);
    }
  }

  get port(): number {
    return this.#port;
  }

  setSecureContext(pair: TlsPair): void {
    this.#pair = pair;
  }

  stopListening(): void {
    this.#listener?.stop(false);
    this.#listener = undefined;
  }

  close(): Promise<void> {
    this.closing = true;
    for (const connection of this.#all) if (connection.busy === 0) connection.kill();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#emptied = resolve;
    });
  }

  destroyAll(): void {
    for (const connection of this.#all) connection.kill();
  }

  grant(req: Request, bytes: number): void {
    (req as NativeRequest).connection.grant(bytes);
  }

  drop(req: Request): void {
    req.socket.destroy();
  }
}

export function nativeTransport(pair: TlsPair, limits: Limits, handle: Handler): Transport {
  return new NativeTransport(pair, limits, handle);
}
