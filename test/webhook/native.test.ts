// The Bun executable's HTTP/1.1 framing (src/webhook/native.ts's Connection),
// run here over a fake socket: requests cut anywhere arrive whole and in order,
// and their answers go out in order.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Connection } from "../../src/webhook/native.js";
import type { Answer, Request } from "../../src/webhook/transport.js";

const LIMITS = { max: 10, perPeer: 10, idleMs: 60_000, requestMs: 60_000, handshakes: 10, handshakesPerPeer: 10 };

/** A socket that takes `room` bytes a write at most (Infinity: all), and says whether it was ended. */
function fakeSocket(room = Number.POSITIVE_INFINITY) {
  const written: Buffer[] = [];
  const state = { ended: false };
  return {
    written,
    state,
    socket: {
      data: undefined,
      remoteAddress: "127.0.0.1",
      write: (b: Uint8Array) => {
        const n = Math.min(b.length, room);
        written.push(Buffer.from(b.subarray(0, n)));
        return n;
      },
      end: () => {
        state.ended = true;
      },
      terminate: () => {},
      pause: () => {},
      resume: () => {},
      setNoDelay: () => {},
      upgradeTLS: () => {
        throw new Error("not here");
      },
    },
  };
}

describe("native HTTP/1.1 framing", () => {
  test("pipelined requests cut at random places: each body whole, answers in order (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 300 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (bodies, cuts, answerLate) => {
          const stream = Buffer.concat(
            bodies.map((b) =>
              Buffer.from(`POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`),
            ),
          );
          const { socket, written } = fakeSocket();
          const seen: string[] = [];
          const pending: (() => void)[] = [];
          const transport = {
            closing: false,
            limits: { max: 10, perPeer: 10, idleMs: 60_000, requestMs: 60_000, handshakes: 10, handshakesPerPeer: 10 },
            forget: () => {},
            handle: (req: Request, res: Answer) => {
              const chunks: Buffer[] = [];
              const i = seen.length;
              seen.push("");
              req.on("data", (c: Buffer) => chunks.push(c));
              req.once("end", () => {
                seen[i] = Buffer.concat(chunks).toString();
                const answer = () => {
                  res.writeHead(200, { "content-type": "text/plain" });
                  res.end(`#${i}`);
                };
                // Later requests answered first: the answers must still go out in order.
                if (answerLate) pending.unshift(answer);
                else answer();
              });
              connection.grant(Number(req.headers["content-length"]));
            },
          };
          const connection = new Connection(socket as never, "127.0.0.1", transport as never);
          let at = 0;
          for (const cut of [...cuts].map((c) => c % (stream.length + 1)).sort((a, b) => a - b)) {
            connection.receive(stream.subarray(at, cut));
            at = cut;
          }
          connection.receive(stream.subarray(at));
          for (const answer of pending) answer();
          connection.kill();
          assert.deepEqual(seen, bodies);
          const out = Buffer.concat(written).toString();
          assert.deepEqual(
            [...out.matchAll(/#(\d+)/g)].map((m) => Number(m[1])),
            bodies.map((_, i) => i),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  /** A connection whose handler answers each request with `answer` (at once, or when the test says). */
  function connectionOver(socket: object, answer: (req: Request, res: Answer) => void) {
    const transport = { closing: false, limits: LIMITS, forget: () => {}, handle: answer };
    return new Connection(socket as never, "127.0.0.1", transport as never);
  }
  const ok = (res: Answer) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  };

  test("20,000 tiny requests pipelined in one piece, each answered at once: all answered, the stack never deeper", () => {
    const { socket, written } = fakeSocket();
    let answered = 0;
    const connection = connectionOver(socket, (_req, res) => {
      ok(res);
      answered++;
    });
    connection.receive(Buffer.from("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20_000)));
    connection.kill();
    assert.equal(answered, 20_000);
    assert.equal(Buffer.concat(written).toString().split("HTTP/1.1 200").length - 1, 20_000);
  });

  test("an answer the client does not take is not finished (its review's room held) until the socket takes it", () => {
    const fake = fakeSocket(1000);
    let finished = false;
    const connection = connectionOver(fake.socket, (_req, res) => {
      res.once("finish", () => {
        finished = true;
      });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("x".repeat(5000));
    });
    connection.receive(Buffer.from("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal(finished, false);
    for (let i = 0; i < 10 && !finished; i++) connection.drained();
    assert.equal(finished, true);
    connection.kill();
  });

  test("HEAD: the answer's head alone, with the length of the body it leaves out; the next answer whole after it", () => {
    const { socket, written } = fakeSocket();
    const connection = connectionOver(socket, (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    });
    connection.receive(
      Buffer.from("HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    connection.kill();
    const [head, get] = Buffer.concat(written)
      .toString()
      .split(/(?=HTTP\/1\.1 )/);
    assert.match(head ?? "", /^HTTP\/1\.1 404 .*\r\ncontent-length: 10\r\n\r\n$/s);
    assert.match(get ?? "", /^HTTP\/1\.1 404 .*\r\n\r\nnot found\n$/s);
  });

  test("a head with a line ended by LF alone is refused with 400 at once, also when the LF is a chunk's first byte (it was held until the idle timeout)", () => {
    for (const pieces of [["GET / HTTP/1.1\nHost: x\n\n"], ["GET / HTTP/1.1\r", "\nHost: x", "\n"], ["\n"]]) {
      const { socket, written, state } = fakeSocket();
      const handled: string[] = [];
      const connection = connectionOver(socket, (req, res) => {
        handled.push(req.url ?? "");
        ok(res);
      });
      for (const piece of pieces) connection.receive(Buffer.from(piece));
      assert.deepEqual(handled, [], JSON.stringify(pieces));
      assert.match(Buffer.concat(written).toString(), /^HTTP\/1\.1 400 /, JSON.stringify(pieces));
      assert.equal(state.ended, true, JSON.stringify(pieces));
      connection.kill();
    }
  });

  test("CR LF split between chunks, and a body holding bare LFs, are read as before", () => {
    const { socket, written } = fakeSocket();
    const bodies: string[] = [];
    const connection = connectionOver(socket, (req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => {
        body += d.toString();
      });
      req.on("end", () => {
        bodies.push(body);
        ok(res);
      });
    });
    for (const piece of ["POST /a HTTP/1.1\r", "\nHost: x\r\nContent-Length: 4\r\n\r", "\na\nb\n"])
      connection.receive(Buffer.from(piece));
    connection.kill();
    assert.deepEqual(bodies, ["a\nb\n"]);
    assert.match(Buffer.concat(written).toString(), /^HTTP\/1\.1 200 /);
  });

  test("a client that sends its FIN after two requests, the second not read yet: both answered, then the connection ends", () => {
    const fake = fakeSocket();
    const later: Answer[] = [];
    const connection = connectionOver(fake.socket, (_req, res) => later.push(res));
    // The first body is more than a connection may deliver before its answer: the second request waits, unread.
    const body = "x".repeat(70_000);
    connection.receive(
      Buffer.from(
        `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /b HTTP/1.1\r\nHost: x\r\n\r\n`,
      ),
    );
    connection.peerEnded();
    assert.equal(later.length, 1);
    ok(later[0] as Answer);
    assert.equal(later.length, 2);
    ok(later[1] as Answer);
    assert.equal(Buffer.concat(fake.written).toString().split("HTTP/1.1 200").length - 1, 2);
    assert.equal(fake.state.ended, true);
  });
});
