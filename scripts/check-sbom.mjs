// The release's SBOMs, checked (scripts/check-release.mjs; test/release/sbom.test.ts
// feeds it broken ones): beside each artefact exactly its SBOM (scripts/sbom.mjs
// names them), and each one parses, names its artefact or package at this
// version by its sha256, and lists the npm packages that ship inside it (what
// esbuild bundled, dist/bundled.json) and none that do not: no build tool, no
// devDependency that src/ never imports. An executable's also lists the Bun
// runtime; the image's the Debian packages its loader and libraries come from.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { imageDebs, isSbom, sbomName } from "./sbom.mjs";

/**
 * What an SBOM must list, from the repository at `root`: `shipped`, the npm
 * packages bundled into what the npm package ships ("name@version"); `buildOnly`,
 * the devDependencies that no file of src/ imports (they never ship).
 */
export function expectations(root) {
  const bundled = JSON.parse(readFileSync(join(root, "dist/bundled.json"), "utf8"));
  const shipped = new Set(Object.values(bundled).flat());
  const src = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readFileSync(join(root, "src", f), "utf8"))
    .join("\n");
  const { devDependencies = {} } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const imported = (name) => new RegExp(`(?:from\\s+|import\\()\\s*["']${name}(?:/[^"']*)?["']`).test(src);
  const buildOnly = new Set(Object.keys(devDependencies).filter((name) => !imported(name)));
  return { shipped, buildOnly };
}

const sha256 = (path) => createHash("sha256").update(readFileSync(path)).digest("hex");
const spec = (name, version) => `${name}@${version}`;

/** Differences between the packages an SBOM lists and those that ship: one problem per package. */
function listProblems(listed, shipped, buildOnly) {
  const problems = [];
  for (const s of shipped) if (!listed.includes(s)) problems.push(`does not list ${s}, which ships`);
  for (const s of listed) {
    const name = s.slice(0, s.lastIndexOf("@"));
    if (buildOnly.has(name)) problems.push(`lists ${s}, a build tool that does not ship`);
    else if (!shipped.has(s)) problems.push(`lists ${s}, which does not ship`);
  }
  if (new Set(listed).size !== listed.length) problems.push("lists a package twice");
  return problems;
}

/** The npm package's CycloneDX SBOM: its problems. */
function cycloneDxProblems(doc, { tgz, path, version, shipped, buildOnly }) {
  const problems = [];
  if (doc.bomFormat !== "CycloneDX" || typeof doc.specVersion !== "string") return ["not a CycloneDX document"];
  const root = doc.metadata?.component ?? {};
  if (root.name !== "iqqq" || root.version !== version) {
    problems.push(`names ${root.name}@${root.version}, not iqqq@${version}`);
  }
  if (root.purl !== `pkg:npm/iqqq@${version}`) problems.push(`its purl is ${root.purl}`);
  const sum = root.hashes?.find((h) => h.alg === "SHA-256")?.content;
  if (sum !== sha256(path)) problems.push(`its SHA-256 is not ${tgz}'s`);
  const components = doc.components ?? [];
  problems.push(
    ...listProblems(
      components.map((c) => spec(c.name, c.version)),
      shipped,
      buildOnly,
    ),
  );
  for (const c of components) {
    if (c.scope !== "required") problems.push(`${spec(c.name, c.version)} is not required (scope ${c.scope})`);
    if (c.properties?.some((p) => p.name === "cdx:npm:package:development" && p.value === "true"))
      problems.push(`${spec(c.name, c.version)} is marked a development dependency`);
    if (!String(c.purl).startsWith("pkg:npm/")) problems.push(`${spec(c.name, c.version)} has no npm purl`);
  }
  const refs = new Set([root["bom-ref"], ...components.map((c) => c["bom-ref"])]);
  for (const d of doc.dependencies ?? [])
    for (const ref of [d.ref, ...(d.dependsOn ?? [])])
      if (!refs.has(ref)) problems.push(`its dependencies name ${ref}, which it does not list`);
  return problems;
}

/** An executable's or the image's SPDX SBOM: its problems. */
function spdxProblems(doc, { file, path, version, shipped, buildOnly }) {
  const problems = [];
  if (doc.spdxVersion !== "SPDX-2.3" || !Array.isArray(doc.packages)) return ["not an SPDX 2.3 document"];
  const described = (doc.relationships ?? []).filter(
    (r) => r.spdxElementId === "SPDXRef-DOCUMENT" && r.relationshipType === "DESCRIBES",
  );
  if (described.length !== 1) return [`describes ${described.length} packages, not its artefact alone`];
  const byId = new Map(doc.packages.map((p) => [p.SPDXID, p]));
  const artefact = byId.get(described[0].relatedSpdxElement);
  if (artefact?.packageFileName !== file) return [`describes ${artefact?.packageFileName}, not ${file}`];
  if (artefact.versionInfo !== version) problems.push(`says version ${artefact.versionInfo}, not ${version}`);
  const sum = artefact.checksums?.find((c) => c.algorithm === "SHA256")?.checksumValue;
  if (sum !== sha256(path)) problems.push(`its SHA256 is not ${file}'s`);
  const inside = doc.relationships
    .filter((r) => r.spdxElementId === artefact.SPDXID && r.relationshipType === "CONTAINS")
    .map((r) => byId.get(r.relatedSpdxElement));
  if (inside.some((p) => p === undefined)) problems.push("contains a package it does not list");
  const purl = (p) => p?.externalRefs?.find((r) => r.referenceType === "purl")?.referenceLocator ?? "";
  const npm = inside.filter((p) => purl(p).startsWith("pkg:npm/") && p.name !== "bun");
  // The executables and the image carry the Bun runtime: bun is a devDependency that ships there.
  problems.push(
    ...listProblems(
      npm.map((p) => spec(p.name, p.versionInfo)),
      shipped,
      buildOnly,
    ),
  );
  const bun = inside.filter((p) => p?.name === "bun");
  if (bun.length !== 1) problems.push(`lists the Bun runtime ${bun.length} times, not once`);
  const image = file.endsWith(".oci.tar");
  const debs = imageDebs();
  const libc = inside.filter((p) => debs.includes(p?.name));
  for (const deb of debs) {
    const listed = libc.filter((p) => p.name === deb).length;
    if (image && listed !== 1)
      problems.push(`lists ${deb} ${listed} times, whose loader and libraries the image carries`);
    if (!image && listed > 0) problems.push(`lists ${deb}, which an executable does not carry`);
  }
  const others = inside.filter((p) => p && !npm.includes(p) && !bun.includes(p) && !libc.includes(p));
  for (const p of others) problems.push(`lists ${spec(p.name, p.versionInfo)}, which does not ship`);
  return problems;
}

/**
 * Every file of the release folder `dir` that should have an SBOM, with the
 * problems of its SBOM (none: it is right); and SBOMs that belong to no file.
 * @returns {{ file: string, sbom: string, problems: string[] }[]}
 */
export function checkSboms(dir, { version, shipped, buildOnly }) {
  const files = readdirSync(dir).sort();
  const artefacts = files.filter((f) => f !== "SHA256SUMS" && !isSbom(f));
  const results = artefacts.map((file) => {
    const sbom = sbomName(file);
    if (!files.includes(sbom)) return { file, sbom, problems: ["missing"] };
    let doc;
    try {
      doc = JSON.parse(readFileSync(join(dir, sbom), "utf8"));
    } catch (error) {
      return { file, sbom, problems: [`does not parse: ${error.message}`] };
    }
    const context = { file, tgz: file, path: join(dir, file), version, shipped };
    const problems = file.endsWith(".tgz")
      ? cycloneDxProblems(doc, { ...context, buildOnly })
      : spdxProblems(doc, { ...context, buildOnly: new Set([...buildOnly].filter((n) => n !== "bun")) });
    return { file, sbom, problems };
  });
  for (const sbom of files.filter(isSbom)) {
    if (!artefacts.some((f) => sbomName(f) === sbom))
      results.push({ file: "", sbom, problems: ["belongs to no file"] });
  }
  return results;
}
