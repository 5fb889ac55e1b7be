// The release's SBOM (scripts/sbom.mjs) and what it is made from
// (dist/bundled.json, written by npm run build from esbuild's metafile): every
// shipped module file accounted for; prom-client only in the webhook's file,
// never in the wrapper's; each artefact described by its sha256 and holding
// the bundled packages at the lock's versions and sha512, the executables the
// Bun runtime too, the image the C libraries of both its platforms (the host's
// libc6, and libc6-arm64-cross); the document well formed
// (unique ids, relationships between known ones).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../support/cli.js";
import type { Obj } from "../support/read-back.js";

const { sbom } = (await import(join(ROOT, "scripts/sbom.mjs"))) as { sbom(artefacts: string[]): Obj };
const json = (path: string): Obj => JSON.parse(readFileSync(join(ROOT, path), "utf8"));

test("dist/bundled.json accounts for every module file npm ships, and prom-client is the webhook's and the reaper's alone", () => {
  const bundled = json("dist/bundled.json");
  const shipped = [
    "iqqq.mjs",
    ...readdirSync(join(ROOT, "dist/commands")).map((f) => `commands/${f}`),
    ...readdirSync(join(ROOT, "dist/vendor")).map((f) => `vendor/${f}`),
  ].sort();
  assert.deepEqual(Object.keys(bundled).sort(), shipped);
  const holding = (name: string) =>
    Object.keys(bundled).filter((f) => bundled[f].some((p: string) => p.startsWith(`${name}@`)));
  assert.deepEqual(holding("prom-client").sort(), ["commands/reaper.mjs", "commands/webhook.mjs"]);
  assert.deepEqual(holding("@kubernetes/client-node"), ["commands/reaper.mjs"]);
  assert.deepEqual(holding("yaml"), ["commands/inject.mjs"]);
  assert.deepEqual(holding("re2js"), ["vendor/re2js.mjs"]);
  // The wrapper's own file bundles no package at all.
  assert.deepEqual(bundled["iqqq.mjs"], []);
});

test("the SBOM: each artefact by sha256, with what it holds at the lock's versions", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-sbom-"));
  const { version } = json("package.json");
  const names = [`iqqq-${version}.tgz`, "iqqq-linux-x64", `iqqq-image-${version}.oci.tar`];
  for (const name of names) await writeFile(join(dir, name), `content of ${name}`);
  const doc = sbom(names.map((n) => join(dir, n)));
  assert.equal(doc.spdxVersion, "SPDX-2.3");
  assert.equal(doc.dataLicense, "CC0-1.0");
  assert.match(doc.documentNamespace, /^https:\/\/spdx\.org\/spdxdocs\/iqqq-/);
  const ids = doc.packages.map((p: Obj) => p.SPDXID);
  assert.equal(new Set(ids).size, ids.length, "unique SPDXIDs");
  for (const r of doc.relationships) {
    assert.ok(r.spdxElementId === "SPDXRef-DOCUMENT" || ids.includes(r.spdxElementId), r.spdxElementId);
    assert.ok(ids.includes(r.relatedSpdxElement), r.relatedSpdxElement);
  }
  const lock = json("package-lock.json");
  const bundled = [...new Set(Object.values(json("dist/bundled.json")).flat() as string[])].sort();
  assert.ok(bundled.includes("prom-client@15.1.3"));
  const byId = new Map(doc.packages.map((p: Obj) => [p.SPDXID, p]));
  const held = (name: string): Obj[] => {
    const artefact = doc.packages.find((p: Obj) => p.packageFileName === name);
    assert.equal(artefact.checksums[0].checksumValue, createHash("sha256").update(`content of ${name}`).digest("hex"));
    return doc.relationships
      .filter((r: Obj) => r.spdxElementId === artefact.SPDXID && r.relationshipType === "CONTAINS")
      .map((r: Obj) => byId.get(r.relatedSpdxElement) as Obj);
  };
  for (const name of names) {
    const inside = held(name);
    const npm = inside.filter((p) => p.externalRefs[0].referenceLocator.startsWith("pkg:npm/") && p.name !== "bun");
    assert.deepEqual(npm.map((p) => `${p.name}@${p.versionInfo}`).sort(), bundled, name);
    for (const p of npm) {
      const entry = lock.packages[`node_modules/${p.name}`];
      assert.equal(p.versionInfo, entry.version);
      assert.equal(p.checksums[0].checksumValue, Buffer.from(entry.integrity.split("-")[1], "base64").toString("hex"));
      // The lock keeps no download address here: the purl says where from.
      assert.equal(p.downloadLocation, entry.resolved ?? "NOASSERTION");
    }
    const bun = inside.find((p) => p.name === "bun");
    assert.equal(bun?.versionInfo, name.endsWith(".tgz") ? undefined : json("node_modules/bun/package.json").version);
    for (const deb of ["libc6", "libc6-arm64-cross"]) {
      const libc = inside.find((p) => p.name === deb);
      const dpkg = spawnSync("dpkg-query", ["-W", "-f", "$" + "{Version}", deb], { encoding: "utf8" }).stdout;
      assert.equal(libc?.versionInfo, name.endsWith(".oci.tar") ? dpkg : undefined, deb);
    }
  }
});
