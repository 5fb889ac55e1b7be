import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatDuration,
  isLoopback,
  parseBool,
  parseDuration,
  parseHttpUrl,
  parsePort,
  parseUrlList,
  ValueError,
} from "../../src/config/values.js";

describe("parseDuration (Go syntax)", () => {
  const good: [string, number][] = [
    ["0", 0],
    ["0s", 0],
    ["500ms", 500],
    ["1s", 1000],
    ["1.5s", 1500],
    [".5s", 500],
    ["1.s", 1000],
    ["+2s", 2000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1h2m3s4ms", 3_723_004],
    ["250us", 0.25],
    ["250\u00b5s", 0.25],
    ["250\u03bcs", 0.25],
    ["1000000ns", 1],
    ["2562047h", 2562047 * 3_600_000],
  ];
  for (const [raw, ms] of good) {
    test(`${JSON.stringify(raw)} is ${ms} ms`, () => assert.equal(parseDuration(raw), ms));
  }
  const bad = [
    "",
    "5",
    "-1s",
    "-0s",
    "1e3s",
    "1 s",
    " 1s",
    "1s ",
    "s",
    ".s",
    "1x",
    "1S",
    "1sec",
    "1m-30s",
    "1.2.3s",
    "NaN",
    "Infinity",
    "2562048h",
    "1s,",
  ];
  for (const raw of bad) {
    test(`${JSON.stringify(raw)} is refused`, () => assert.throws(() => parseDuration(raw), ValueError));
  }
  test("formatDuration round-trips", () => {
    for (const ms of [
      0, 0.001, 0.25, 1, 17, 999, 1000, 1500, 59_999, 60_000, 90_000, 3_600_000, 3_723_004, 86_400_000,
    ]) {
      assert.equal(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
    }
    assert.equal(formatDuration(90_000), "1m30s");
    assert.equal(formatDuration(500), "500ms");
    assert.equal(formatDuration(3_600_000), "1h0m0s");
    assert.equal(formatDuration(0.009), "9\u00b5s");
    assert.equal(parseDuration("9us"), 0.009);
    assert.equal(formatDuration(parseDuration("1m1ns")), "1m0.000000001s");
    assert.equal(parseDuration("1.0000000009s"), 1000, "Go truncates below a nanosecond");
  });
});

describe("parseBool", () => {
  for (const raw of ["true", "TRUE", "True", "1", "yes", "YES"])
    test(`${raw} is true`, () => assert.equal(parseBool(raw), true));
  for (const raw of ["false", "FALSE", "0", "no", "No"])
    test(`${raw} is false`, () => assert.equal(parseBool(raw), false));
  for (const raw of ["y", "n", "on", "off", "2", " true", "true ", "t", "enabled"]) {
    test(`${JSON.stringify(raw)} is refused`, () => assert.throws(() => parseBool(raw), ValueError));
  }
});

describe("parsePort", () => {
  for (const [raw, port] of [
    ["1", 1],
    ["15020", 15020],
    ["65535", 65535],
    ["08080", 8080],
  ] as const) {
    test(`${raw} is ${port}`, () => assert.equal(parsePort(raw), port));
  }
  for (const raw of ["0", "65536", "99999", "-1", "1e3", "15020.0", "0x50", " 80", "80 ", "abc", "123456"]) {
    test(`${JSON.stringify(raw)} is refused`, () => assert.throws(() => parsePort(raw), ValueError));
  }
});

describe("URLs", () => {
  test("http and https are accepted", () => {
    assert.equal(parseHttpUrl("http://127.0.0.1:15020").href, "http://127.0.0.1:15020/");
    assert.equal(parseHttpUrl("https://example.test/a").protocol, "https:");
  });
  for (const raw of ["127.0.0.1:15020", "ftp://x", "file:///etc/passwd", "unix:/x", "http//x", "", " "]) {
    test(`${JSON.stringify(raw)} is refused`, () => assert.throws(() => parseHttpUrl(raw), ValueError));
  }
  test("lists are split on commas, trimmed, empty items skipped", () => {
    assert.deepEqual(
      parseUrlList(" http://a.test/x , https://b.test,,").map((u) => u.href),
      ["http://a.test/x", "https://b.test/"],
    );
  });
  test("a bad item names itself", () => {
    assert.throws(() => parseUrlList("http://a.test,nope"), /item "nope"/);
  });
  test("loopback hosts", () => {
    for (const u of ["http://127.0.0.1:1", "http://127.1.2.3", "http://localhost:15000", "http://[::1]:15000"]) {
      assert.equal(isLoopback(new URL(u)), true, u);
    }
    for (const u of [
      "http://10.0.0.1",
      "http://127.0.0.1.example.test",
      "http://localhost.example.test",
      "http://[::2]",
    ]) {
      assert.equal(isLoopback(new URL(u)), false, u);
    }
  });
});
