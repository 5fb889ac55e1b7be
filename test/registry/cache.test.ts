// ImageLookups' cache, bounded: at most `entries` and `bytes`, the least
// recently used evicted first, a tag's answer kept only its time to live;
// one key however a reference is written. Against the fake registry on
// loopback; `observe` counts the look-ups really sent.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type CacheOptions, ImageLookups } from "../../src/registry/lookups.js";
import { type FakeRegistry, fakeRegistry } from "../support/fake-registry.js";

/** One platform; which platforms a look-up reads is inject's to say (test/e2e/platform.test.ts). */
const AMD64 = ["linux/amd64"];

let registry: FakeRegistry;
before(async () => {
  registry = await fakeRegistry();
});
after(() => registry.server.close());

function lookups(cache: Partial<CacheOptions>) {
  const sent: string[] = [];
  const hits: boolean[] = [];
  const l = new ImageLookups({
    env: {},
    deadlineMs: 5000,
    perHost: 4,
    total: 16,
    observe: (result) => sent.push(result),
    cache: { entries: 100, bytes: 1024 * 1024, entryBytes: 64 * 1024, tagTtlMs: 60_000, digestTtlMs: 60_000, ...cache },
    onCache: (hit) => hits.push(hit),
  });
  const at = (tag: string) => `127.0.0.1:${registry.port}/team/job:${tag}`;
  return { l, sent, hits, at };
}

test("one look-up for the same image however written; answers equal", async () => {
  const { l, sent, hits, at } = lookups({});
  const first = await l.lookup(at("1"), AMD64);
  assert.deepEqual(await l.lookup(at("1"), AMD64), first);
  // Port and host spelled as given; the same registry, repository and tag.
  assert.deepEqual(await l.lookup(`127.0.0.1:${registry.port}/team/job:1`, AMD64), first);
  assert.deepEqual(sent, ["found"]);
  assert.deepEqual(hits, [false, true, true]);
});

test("at most `entries`: the least recently used goes first", async () => {
  const { l, sent, at } = lookups({ entries: 2 });
  await l.lookup(at("1"), AMD64);
  await l.lookup(at("wrapped"), AMD64);
  await l.lookup(at("1"), AMD64); // a hit: now the most recent
  await l.lookup(at("dollars"), AMD64); // evicts "wrapped"
  assert.equal(l.cached.entries, 2);
  assert.equal(sent.length, 3);
  await l.lookup(at("1"), AMD64);
  assert.equal(sent.length, 3, "1 was kept");
  await l.lookup(at("wrapped"), AMD64);
  assert.equal(sent.length, 4, "wrapped was evicted");
  assert.equal(l.cached.entries, 2);
});

test("at most `bytes`, the least recently used going first; an answer over `entryBytes` is not kept", async () => {
  // Here the three answers take 362, 380 and 534 bytes as counted.
  const { l, sent, at } = lookups({ bytes: 1000 });
  for (const tag of ["1", "wrapped", "dollars"]) await l.lookup(at(tag), AMD64);
  assert.ok(l.cached.bytes <= 1000, `${l.cached.bytes} bytes`);
  assert.equal(l.cached.entries, 2);
  await l.lookup(at("dollars"), AMD64);
  await l.lookup(at("wrapped"), AMD64);
  assert.equal(sent.length, 3, "the two most recent were kept");
  await l.lookup(at("1"), AMD64);
  assert.equal(sent.length, 4, "the oldest was evicted");
  const tiny = lookups({ entryBytes: 300 });
  await tiny.l.lookup(tiny.at("1"), AMD64);
  assert.deepEqual(tiny.l.cached, { entries: 0, bytes: 0 });
});

test("a tag's answer is kept its time to live only; failures never", async () => {
  const { l, sent, at } = lookups({ tagTtlMs: 0 });
  await l.lookup(at("1"), AMD64);
  await l.lookup(at("1"), AMD64);
  assert.equal(sent.length, 2);
  const other = lookups({});
  await assert.rejects(other.l.lookup(other.at("missing"), AMD64));
  await assert.rejects(other.l.lookup(other.at("missing"), AMD64));
  assert.deepEqual(other.sent, ["failed", "failed"]);
  assert.equal(other.l.cached.entries, 0);
});
