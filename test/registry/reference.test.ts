// Image references as the distribution project reads them: checked against its
// own parser (test/support/image-ref, Go) on a table of real and hostile names
// and on random ones (fast-check). Whatever iqqq accepts, the oracle reads the
// same way; what iqqq refuses and the oracle takes is only what the newer
// reference package added (IPv6 hosts, an upper-case first component as a
// domain), a digest algorithm iqqq cannot verify (sha384), a port beyond 65535,
// or a name it reads with no registry at all (127.0.0.1_a/b: its first
// component looks like a host but is not one).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BadReference, parseDigest, parseReference } from "../../src/registry/reference.js";
import { goOracle } from "../support/go-oracle.js";

const oracle = goOracle("image-ref", {
  file: "github.com/docker/distribution/reference/normalize.go",
  debian: "golang-github-docker-distribution-dev",
});

interface Read {
  domain?: string;
  path?: string;
  tag?: string;
  digest?: string;
  error?: string;
}

/** A port no connection can use (the grammar takes any digits; iqqq refuses those). */
function badPort(domain: string | undefined): boolean {
  const port = /:(\d+)$/.exec(domain ?? "")?.[1];
  return port !== undefined && (Number(port) < 1 || Number(port) > 65535);
}

const HEX = "0123456789abcdef".repeat(4);

/** Checks each reference against the oracle; returns how many iqqq accepted. */
function agree(refs: readonly string[]): number {
  const reads = oracle.run(refs) as Read[];
  let accepted = 0;
  refs.forEach((ref, i) => {
    const want = reads[i] as Read;
    let got: ReturnType<typeof parseReference> | undefined;
    try {
      got = parseReference(ref);
    } catch (err) {
      assert.ok(err instanceof BadReference, `${ref}: ${err}`);
    }
    const newer = /^\[|^[^/]*[A-Z][^/]*\//.test(ref);
    if (got === undefined) {
      assert.ok(
        want.error !== undefined || newer || /@sha384:/.test(ref) || badPort(want.domain) || !want.domain,
        `${JSON.stringify(ref)}: iqqq refuses what the oracle reads: ${JSON.stringify(want)}`,
      );
      return;
    }
    accepted++;
    if (newer && want.error !== undefined) return;
    assert.equal(want.error, undefined, `${JSON.stringify(ref)}: iqqq accepts what the oracle refuses (${want.error})`);
    const domain = want.domain === "docker.io" ? "registry-1.docker.io" : want.domain;
    assert.deepEqual(
      { registry: got.registry, repository: got.repository, tag: got.tag, digest: got.digest?.text },
      {
        registry: domain,
        repository: want.path,
        tag: want.tag ?? (want.digest === undefined ? "latest" : undefined),
        digest: want.digest,
      },
      ref,
    );
  });
  return accepted;
}

describe("image references", { skip: oracle.missing() }, () => {
  test("real and hostile names read as the distribution project reads them", () => {
    const accepted = agree([
      "python",
      "python:3.12-slim",
      "library/python:3",
      "docker.io/istio/proxyv2:1.24.0",
      "index.docker.io/library/busybox",
      "ghcr.io/org/team/app:v1.2.3",
      "localhost:5000/a/b",
      "localhost/a",
      "127.0.0.1:5000/team/job:1",
      "169.254.169.254/latest/meta-data:1",
      "registry.example.com:443/a__b/c-d/e.f:tag_1",
      `busybox@sha256:${HEX}`,
      `busybox:1.36@sha256:${HEX}`,
      `quay.io/a/b@sha512:${HEX}${HEX}`,
      `busybox@sha256:${HEX.toUpperCase()}`,
      `busybox@sha256:${HEX.slice(1)}`,
      `busybox@sha384:${HEX}${HEX.slice(32)}`,
      "busybox@sha256:../../../token",
      `r.io/a@sha256:${HEX}?x=1`,
      "r.io/a:1?x=1",
      "r.io/a#frag",
      "r.io/a/../b",
      "r.io/a/./b",
      "r.io//a",
      "r.io/a/",
      "user:pass@r.io/a",
      "r.io:99999/a",
      "r.io:/a",
      "-r.io/a",
      "r..io/a",
      "r.io/A",
      "r.io/a%2f..",
      "r.io/a:-tag",
      `r.io/a:${"t".repeat(129)}`,
      `r.io/${"a".repeat(256)}`,
      "",
      ":",
      "@",
      "a@",
    ]);
    assert.ok(accepted >= 14, `only ${accepted} accepted`);
  });

  test("random names: iqqq never accepts what the distribution project refuses, nor reads it differently (fast-check)", () => {
    const piece = fc.constantFrom(
      "a",
      "b0",
      "x-y",
      "x__y",
      "x.y",
      "A",
      "..",
      ".",
      "-",
      "_",
      "%2e",
      "?",
      "#",
      "@",
      ":",
      "/",
      "[::1]",
      "1",
      "0x7f",
      "localhost",
      "127.0.0.1",
      "r.io",
      `sha256:${HEX}`,
      "sha256:",
      "é",
    );
    const ref = fc.array(piece, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.array(ref, { minLength: 200, maxLength: 200 }), (refs) => {
        agree(refs);
      }),
      { numRuns: 10 },
    );
  });
});

describe("digests", () => {
  test("only sha256 and sha512, lower-case, at their length", () => {
    assert.equal(parseDigest(`sha256:${HEX}`).algorithm, "sha256");
    assert.equal(parseDigest(`sha512:${HEX}${HEX}`).algorithm, "sha512");
    for (const bad of [
      `sha256:${HEX.toUpperCase()}`,
      `sha256:${HEX}0`,
      `md5:${HEX.slice(32)}`,
      `sha256:${HEX.slice(1)}/..`,
      "sha256",
    ])
      assert.throws(() => parseDigest(bad), BadReference, bad);
  });
});
