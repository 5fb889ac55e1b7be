// Which addresses a registry look-up may contact (src/registry/network.ts).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type AddressPolicy, addressBytes, badAllowEntry, nonPublic, refusal } from "../../src/registry/network.js";

const WEBHOOK: AddressPolicy = { anyAddress: false, allowed: [], resolver: "dns" };

describe("non-public addresses", () => {
  test("every range a registry must not be reached at without permission, in each way it can be written", () => {
    const cases: [string, string | undefined][] = [
      ["127.0.0.1", "loopback"],
      ["127.255.255.254", "loopback"],
      ["::1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:7f00:1", "loopback"],
      ["::127.0.0.1", "loopback"],
      ["169.254.169.254", "link-local"],
      ["::ffff:169.254.169.254", "link-local"],
      ["64:ff9b::a9fe:a9fe", "link-local"],
      ["2002:a9fe:a9fe::1", "link-local"],
      ["fe80::1", "link-local"],
      ["fe80::1%eth0", "link-local"],
      ["10.0.0.1", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["fd00::1", "private"],
      ["100.64.0.1", "shared (carrier NAT)"],
      ["0.0.0.0", "unspecified"],
      ["::", "unspecified"],
      ["224.0.0.1", "multicast"],
      ["ff02::1", "multicast"],
      ["255.255.255.255", "reserved"],
      ["8.8.8.8", undefined],
      ["172.32.0.1", undefined],
      ["100.128.0.1", undefined],
      ["2606:4700::1111", undefined],
      ["::ffff:8.8.8.8", undefined],
      ["64:ff9b::808:808", undefined],
    ];
    for (const [address, what] of cases) assert.equal(nonPublic(address), what, address);
  });

  test("IPv4 in its IPv6 forms is read as the IPv4 address (fast-check)", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
        const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        assert.equal(nonPublic(`::ffff:${v4}`), nonPublic(v4));
        assert.equal(nonPublic(`::ffff:${hex}`), nonPublic(v4));
        assert.deepEqual(addressBytes(`::ffff:${hex}`), addressBytes(v4));
      }),
    );
  });
});

describe("the webhook's policy", () => {
  test("a non-public address only when its registry or range was allowed; any address for iqqq inject", () => {
    assert.match(
      refusal(WEBHOOK, "10.0.0.1", 5000, "10.0.0.1") ?? "",
      /10\.0\.0\.1 is a private address: not contacted \(allow it with --allow-registry 10\.0\.0\.1 or its range\)/,
    );
    assert.match(
      refusal(WEBHOOK, "reg.corp", 443, "10.0.0.1") ?? "",
      /reg\.corp resolves to a private address: not contacted/,
    );
    assert.equal(refusal(WEBHOOK, "reg.io", 443, "8.8.8.8"), undefined);
    const allowed: AddressPolicy = { ...WEBHOOK, allowed: ["reg.corp", "other:5000", "10.1.0.0/16", "[::1]"] };
    assert.equal(refusal(allowed, "reg.corp", 443, "10.0.0.1"), undefined);
    assert.equal(refusal(allowed, "REG.corp", 443, "10.0.0.1"), undefined);
    assert.equal(refusal(allowed, "other", 5000, "10.0.0.1"), undefined);
    assert.notEqual(refusal(allowed, "other", 5001, "10.0.0.1"), undefined);
    assert.equal(refusal(allowed, "x", 443, "10.1.2.3"), undefined);
    assert.notEqual(refusal(allowed, "x", 443, "10.2.0.1"), undefined);
    assert.equal(refusal(allowed, "::1", 5000, "::1"), undefined);
    assert.equal(refusal({ anyAddress: true, allowed: [], resolver: "system" }, "x", 1, "169.254.169.254"), undefined);
  });

  test("--allow-registry entries: host, host:port, [IPv6], or a CIDR range", () => {
    assert.equal(
      badAllowEntry(["reg.corp", "reg.corp:5000", "[::1]", "[::1]:5000", "10.0.0.0/8", "fd00::/8", "127.0.0.1"]),
      undefined,
    );
    for (const bad of ["http://reg", "reg/path", "10.0.0.0/33", "::1/200", "a b", "reg:port"])
      assert.equal(badAllowEntry([bad]), bad, bad);
  });
});
