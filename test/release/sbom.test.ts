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

// ------------------------------------------------ one SBOM beside each artefact

const sbomModule = (await import(join(ROOT, "scripts/sbom.mjs"))) as {
  sbom(artefacts: string[]): Obj;
  npmSbom(tgz: string): Obj;
  sbomName(file: string): string;
};
const { checkSboms, expectations } = (await import(join(ROOT, "scripts/check-sbom.mjs"))) as {
  checkSboms(dir: string, e: Obj): { file: string; sbom: string; problems: string[] }[];
  expectations(root: string): { shipped: Set<string>; buildOnly: Set<string> };
};
const VERSION = json("package.json").version as string;
const SHIPPED = [...new Set(Object.values(json("dist/bundled.json")).flat() as string[])].sort();

test("the npm package's SBOM is npm sbom's CycloneDX, named iqqq, listing what is bundled in it and no build tool", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-cdx-"));
  const tgz = join(dir, `iqqq-${VERSION}.tgz`);
  await writeFile(tgz, "a tarball");
  const doc = sbomModule.npmSbom(tgz);
  assert.equal(doc.bomFormat, "CycloneDX");
  assert.ok(
    doc.metadata.tools.some((t: Obj) => t.vendor === "npm"),
    "npm's own document",
  );
  // npm names the root after its folder (npm/cli#9178): iqqq whatever the checkout is called.
  assert.equal(doc.metadata.component.name, "iqqq");
  assert.equal(doc.metadata.component.version, VERSION);
  assert.equal(doc.metadata.component.purl, `pkg:npm/iqqq@${VERSION}`);
  assert.equal(
    doc.metadata.component.hashes.find((h: Obj) => h.alg === "SHA-512").content,
    createHash("sha512").update("a tarball").digest("hex"),
  );
  const listed = doc.components.map((c: Obj) => `${c.name}@${c.version}`).sort();
  assert.deepEqual(listed, SHIPPED);
  for (const tool of ["typescript", "esbuild", "@biomejs/biome", "bun", "fast-check"])
    assert.ok(!doc.components.some((c: Obj) => c.name === tool), tool);
  // npm's data kept: the lock's sha512 of each.
  const lock = json("package-lock.json");
  for (const c of doc.components) {
    assert.equal(c.scope, "required");
    const integrity = lock.packages[`node_modules/${c.name}`].integrity.split("-")[1];
    assert.equal(c.hashes[0].content, Buffer.from(integrity, "base64").toString("hex"), c.name);
  }
  // Every bundled package hangs from the root, directly or through another.
  const refs = new Set<string>(doc.components.map((c: Obj) => c["bom-ref"]));
  const reached = new Set<string>();
  const walk = (ref: string): void => {
    if (reached.has(ref)) return;
    reached.add(ref);
    for (const next of doc.dependencies.find((d: Obj) => d.ref === ref)?.dependsOn ?? []) walk(next);
  };
  walk(doc.metadata.component["bom-ref"]);
  for (const ref of refs) assert.ok(reached.has(ref), `${ref} is reached from the root`);
});

/** A release folder of stand-in artefacts, each with the SBOM npm run release writes beside it. */
async function releaseFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-sboms-"));
  for (const name of [`iqqq-${VERSION}.tgz`, "iqqq-linux-x64", `iqqq-image-${VERSION}-linux-x64.oci.tar`]) {
    const path = join(dir, name);
    await writeFile(path, `content of ${name}`);
    const doc = name.endsWith(".tgz") ? sbomModule.npmSbom(path) : sbomModule.sbom([path]);
    await writeFile(join(dir, sbomModule.sbomName(name)), JSON.stringify(doc));
  }
  await writeFile(join(dir, "SHA256SUMS"), "");
  return dir;
}

test("release:check's SBOM check: the SBOMs npm run release writes pass", async () => {
  const dir = await releaseFolder();
  const results = checkSboms(dir, { version: VERSION, ...expectations(ROOT) });
  assert.deepEqual(
    results.map((r) => r.sbom),
    [`iqqq-${VERSION}.tgz.cdx.json`, `iqqq-image-${VERSION}-linux-x64.oci.tar.spdx.json`, "iqqq-linux-x64.spdx.json"],
  );
  for (const r of results) assert.deepEqual(r.problems, [], r.sbom);
});

const CDX = `iqqq-${VERSION}.tgz.cdx.json`;
const EXE = "iqqq-linux-x64.spdx.json";
const IMAGE = `iqqq-image-${VERSION}-linux-x64.oci.tar.spdx.json`;
/** An SPDX document's package that its artefact CONTAINS, by name. */
const spdxDrop = (doc: Obj, name: string): void => {
  const id = doc.packages.find((p: Obj) => p.name === name).SPDXID;
  doc.relationships = doc.relationships.filter((r: Obj) => r.relatedSpdxElement !== id);
};
const BROKEN: {
  what: string;
  sbom: string;
  breaks: (doc: Obj, dir: string) => Promise<Obj | string> | Obj | string;
  says: RegExp;
}[] = [
  {
    what: "a build tool listed in the npm package's",
    sbom: CDX,
    breaks: (doc) => {
      doc.components.push({
        ...doc.components[0],
        "bom-ref": "typescript@7.0.2",
        name: "typescript",
        version: "7.0.2",
      });
      return doc;
    },
    says: /lists typescript@7\.0\.2, a build tool that does not ship/,
  },
  {
    what: "a bundled package left out of the npm package's",
    sbom: CDX,
    breaks: (doc) => {
      doc.components = doc.components.filter((c: Obj) => c.name !== "yaml");
      doc.dependencies = doc.dependencies.map((d: Obj) => ({
        ...d,
        dependsOn: d.dependsOn.filter((r: string) => !r.startsWith("yaml@")),
      }));
      return doc;
    },
    says: /does not list yaml@/,
  },
  {
    what: "npm's own development mark left on a component",
    sbom: CDX,
    breaks: (doc) => {
      doc.components[0].properties.push({ name: "cdx:npm:package:development", value: "true" });
      return doc;
    },
    says: /marked a development dependency/,
  },
  {
    what: "the npm package named after the checkout's folder (npm/cli#9178)",
    sbom: CDX,
    breaks: (doc) => {
      doc.metadata.component.name = "release";
      return doc;
    },
    says: /names release@/,
  },
  {
    what: "a version not the package's",
    sbom: EXE,
    breaks: (doc) => {
      for (const p of doc.packages) if (p.packageFileName) p.versionInfo = "9.9.9";
      return doc;
    },
    says: /says version 9\.9\.9/,
  },
  {
    what: "an executable's without the Bun runtime",
    sbom: EXE,
    breaks: (doc) => {
      spdxDrop(doc, "bun");
      return doc;
    },
    says: /lists the Bun runtime 0 times/,
  },
  {
    what: "the image's without its libc6",
    sbom: IMAGE,
    breaks: (doc) => {
      spdxDrop(doc, "libc6");
      return doc;
    },
    says: /lists libc6 0 times, whose loader and libraries the image carries/,
  },
  {
    what: "an executable's listing a package that is not bundled",
    sbom: EXE,
    breaks: (doc) => {
      const yaml = doc.packages.find((p: Obj) => p.name === "yaml");
      yaml.versionInfo = "1.0.0";
      return doc;
    },
    says: /lists yaml@1\.0\.0, which does not ship/,
  },
  {
    what: "an artefact changed after its SBOM was written",
    sbom: EXE,
    breaks: async (doc, dir) => {
      await writeFile(join(dir, "iqqq-linux-x64"), "another build");
      return doc;
    },
    says: /its SHA256 is not iqqq-linux-x64's/,
  },
  { what: "an SBOM that is not JSON", sbom: EXE, breaks: () => "{", says: /does not parse/ },
];

for (const { what, sbom: name, breaks, says } of BROKEN) {
  test(`release:check's SBOM check fails on ${what}`, async () => {
    const dir = await releaseFolder();
    const doc = JSON.parse(readFileSync(join(dir, name), "utf8"));
    const broken = await breaks(doc, dir);
    await writeFile(join(dir, name), typeof broken === "string" ? broken : JSON.stringify(broken));
    const results = checkSboms(dir, { version: VERSION, ...expectations(ROOT) });
    const problems = results.find((r) => r.sbom === name)?.problems ?? [];
    assert.ok(
      problems.some((p) => says.test(p)),
      `${name}: ${problems.join("; ") || "no problem found"}`,
    );
    // The other SBOMs are untouched and still pass.
    for (const r of results) if (r.sbom !== name) assert.deepEqual(r.problems, [], r.sbom);
  });
}

test("release:check's SBOM check: an artefact without its SBOM, and an SBOM of no artefact", async () => {
  const dir = await releaseFolder();
  await writeFile(join(dir, "iqqq-linux-arm64"), "an executable");
  await writeFile(join(dir, "iqqq-linux-riscv64.spdx.json"), "{}");
  const results = checkSboms(dir, { version: VERSION, ...expectations(ROOT) });
  assert.deepEqual(results.find((r) => r.file === "iqqq-linux-arm64")?.problems, ["missing"]);
  assert.deepEqual(results.find((r) => r.sbom === "iqqq-linux-riscv64.spdx.json")?.problems, ["belongs to no file"]);
});
