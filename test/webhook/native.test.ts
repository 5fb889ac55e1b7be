// The Bun executable's HTTP/1.1 framing (src/webhook/native.ts's Connection),
// run here over a fake socket: requests cut anywhere arrive whole and in order,
// and their answers go out in order.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Connection } from "../../src/webhook/native.js";
import type { Answer, Request } from "../../src/webhook/transport.js";

function fakeSocket() {
  const written: Buffer[] = [];
  return {
    written,
    socket: {
      data: undefined,
      remoteAddress: "127.0.0.1",
      write: (b: Uint8Array) => {
        written.push(Buffer.from(b));
        return b.length;
      },
      end: () => {},
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
});
