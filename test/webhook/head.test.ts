// The request head as the Bun executable's webhook reads it (src/webhook/native.ts):
// what an HTTP/1.1 client writes is read back as written; what none writes is refused.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseHead } from "../../src/webhook/native.js";

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,40}[\x21-\x7e])?$/);

describe("parseHead", () => {
  test("any head a client writes is read back: method, target, headers (names lower-cased, values trimmed) (fast-check)", () => {
    fc.assert(
      fc.property(
        token,
        fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/),
        fc
          .uniqueArray(fc.tuple(token, value), { selector: ([n]) => n.toLowerCase(), maxLength: 10 })
          .map((hs) => hs.filter(([n]) => n.toLowerCase() !== "host")),
        (method, url, headers) => {
          const clean = headers.filter(
            ([n]) => !["content-length", "transfer-encoding", "connection"].includes(n.toLowerCase()),
          );
          const text = [`${method} ${url} HTTP/1.1`, "Host: x", ...clean.map(([n, v]) => `${n}:  ${v} `)].join("\r\n");
          const head = parseHead(text);
          assert.ok(head !== undefined, text);
          assert.equal(head.method, method);
          assert.equal(head.url, url);
          assert.deepEqual(
            { ...head.headers },
            { host: "x", ...Object.fromEntries(clean.map(([n, v]) => [n.toLowerCase(), v])) },
          );
          assert.equal(head.framed, true);
          assert.equal(head.length, 0);
          assert.equal(head.close, false);
        },
      ),
    );
  });

  test("Content-Length: read when it is one number; two that differ, or not a number, refused", () => {
    assert.equal(parseHead("POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: 12")?.length, 12);
    assert.equal(parseHead("POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\ncontent-length: 12")?.length, 12);
    assert.equal(parseHead("POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\ncontent-length: 13"), undefined);
    for (const bad of ["-1", "1e3", "0x10", "", "1 2", "9999999999999999"])
      assert.equal(parseHead(`POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: ${bad}`), undefined, bad);
  });

  test("Transfer-Encoding: the body is not framed and the length is dropped (server.ts refuses a review without one)", () => {
    const head = parseHead("POST /inject HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5");
    assert.equal(head?.framed, false);
    assert.equal(head?.headers["content-length"], undefined);
  });

  test("Connection: close ends it after the answer; HTTP/1.0 too unless it asks to keep alive", () => {
    assert.equal(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: close")?.close, true);
    assert.equal(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive")?.close, false);
    assert.equal(parseHead("GET / HTTP/1.0")?.close, true);
    assert.equal(parseHead("GET / HTTP/1.0\r\nConnection: Keep-Alive")?.close, false);
  });

  test("what no HTTP/1.1 client writes is refused", () => {
    assert.ok(parseHead("GET / HTTP/1.1\r\nHost: x") !== undefined);
    assert.ok(parseHead("GET / HTTP/1.0") !== undefined);
    for (const bad of [
      "GET / HTTP/1.1",
      "GET /",
      "GET  / HTTP/1.1",
      "GET / HTTP/2.0",
      "GET / http/1.1",
      "G(T / HTTP/1.1",
      "GET  HTTP/1.1",
      "GET /a\0b HTTP/1.1",
      "GET /a\x7fb HTTP/1.1",
      "GET /a\tb HTTP/1.1",
      "GET / HTTP/1.1\r\n folded: line",
      "GET / HTTP/1.1\r\nno colon",
      "GET / HTTP/1.1\r\n: empty name",
      "GET / HTTP/1.1\r\nbad name: x",
      "GET / HTTP/1.1\r\nx: a\nb",
      "GET / HTTP/1.1\r\nx: a\0b",
    ]) {
      // Each with a Host (but the first, refused for lacking one), so it is refused for its own fault.
      const withHost = bad === "GET / HTTP/1.1" ? bad : `${bad}\r\nHost: x`;
      assert.equal(parseHead(withHost), undefined, JSON.stringify(withHost));
    }
  });

  test("Connection is read as a list of tokens, not searched for words", () => {
    assert.equal(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: closeish")?.close, false);
    assert.equal(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Close")?.close, true);
    assert.equal(parseHead("GET / HTTP/1.0\r\nConnection: x-keep-alive-y")?.close, true);
  });
});
