// The release's SBOM (SPDX 2.3, JSON): for each artefact in dist/release, its
// sha256 and the third-party code inside it, so that a scanner can match it
// against advisories. What is inside comes from the build's own account, not
// from package.json: dist/bundled.json (scripts/build.mjs, from esbuild's
// metafile) names the npm packages bundled into each file; their versions,
// download locations and sha512 from package-lock.json, their licences from
// their package.json. The executables carry the Bun runtime too; the image the
// C libraries scripts/image.mjs copies in: libc6 (the host's, amd64) and
// libc6-arm64-cross (arm64's).
//
//   node scripts/sbom.mjs OUT.json ARTEFACT...   (scripts/release.mjs runs it)

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PLATFORMS } from "./image.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));

/** The SPDX document for `artefacts` (paths of release files), as an object. */
export function sbom(artefacts, { created = new Date().toISOString() } = {}) {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const bundled = JSON.parse(readFileSync(join(root, "dist/bundled.json"), "utf8"));
  const everyNpm = [...new Set(Object.values(bundled).flat())].sort();
  const packages = new Map();
  const npmPackage = (spec) => {
    const at = spec.lastIndexOf("@");
    const name = spec.slice(0, at);
    const v = spec.slice(at + 1);
    const entry = lock.packages[`node_modules/${name}`];
    if (entry?.version !== v) throw new Error(`sbom: ${spec} is not what package-lock.json has (${entry?.version})`);
    const { license } = JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8"));
    const [algorithm, digest] = String(entry.integrity ?? "").split("-");
    return {
      SPDXID: `SPDXRef-npm-${name.replace(/[^A-Za-z0-9.]/g, "-")}-${v.replace(/[^A-Za-z0-9.]/g, "-")}`,
      name,
      versionInfo: v,
      downloadLocation: entry.resolved ?? "NOASSERTION",
      filesAnalyzed: false,
      licenseConcluded: "NOASSERTION",
      licenseDeclared: typeof license === "string" ? license : "NOASSERTION",
      copyrightText: "NOASSERTION",
      ...(algorithm === "sha512" && digest
        ? { checksums: [{ algorithm: "SHA512", checksumValue: Buffer.from(digest, "base64").toString("hex") }] }
        : {}),
      externalRefs: [
        {
          referenceCategory: "PACKAGE-MANAGER",
          referenceType: "purl",
          referenceLocator: `pkg:npm/${name.replace(/^@/, "%40")}@${v}`,
        },
      ],
    };
  };
  const other = (id, name, v, purl) => ({
    SPDXID: id,
    name,
    versionInfo: v,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "NOASSERTION",
    copyrightText: "NOASSERTION",
    externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purl }],
  });
  const add = (p) => {
    packages.set(p.SPDXID, p);
    return p.SPDXID;
  };
  const documents = [];
  const relationships = [];
  artefacts.forEach((path, i) => {
    const file = basename(path);
    const id = `SPDXRef-Artefact-${i + 1}`;
    const image = /\.oci\.tar$/.test(file);
    documents.push({
      SPDXID: id,
      name: file,
      versionInfo: version,
      packageFileName: file,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "MIT",
      copyrightText: "NOASSERTION",
      primaryPackagePurpose: image ? "CONTAINER" : /\.tgz$/.test(file) ? "ARCHIVE" : "APPLICATION",
      checksums: [
        { algorithm: "SHA256", checksumValue: createHash("sha256").update(readFileSync(path)).digest("hex") },
      ],
    });
    relationships.push({ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: id });
    // The npm package ships every file bundled.json accounts for; an executable is compiled by
    // Bun from the same sources, every part included; the image holds the x64 executable.
    const contains = everyNpm.map((spec) => add(npmPackage(spec)));
    if (!/\.tgz$/.test(file)) {
      const bun = JSON.parse(readFileSync(join(root, "node_modules/bun/package.json"), "utf8")).version;
      contains.push(add(other(`SPDXRef-bun-${bun.replace(/[^A-Za-z0-9.]/g, "-")}`, "bun", bun, `pkg:npm/bun@${bun}`)));
    }
    if (image) {
      // Each platform's loader and libraries, by the Debian package they are copied from
      // (scripts/image.mjs): libc6 (amd64, the host's) and libc6-arm64-cross.
      // dpkg-query's own format field, not a template.
      const format = ["$", "{Version}"].join("");
      for (const [arch, { deb }] of Object.entries(PLATFORMS)) {
        const v = spawnSync("dpkg-query", ["-W", "-f", format, deb], { encoding: "utf8" }).stdout.trim();
        if (v === "") throw new Error(`sbom: cannot tell the ${deb} version the image's ${arch} libraries come from`);
        const purlArch = deb === "libc6" ? arch : "all";
        contains.push(
          add(
            other(
              `SPDXRef-deb-${deb}-${v.replace(/[^A-Za-z0-9.]/g, "-")}`,
              deb,
              v,
              `pkg:deb/debian/${deb}@${v}?arch=${purlArch}`,
            ),
          ),
        );
      }
    }
    for (const related of contains)
      relationships.push({ spdxElementId: id, relationshipType: "CONTAINS", relatedSpdxElement: related });
  });
  const body = {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `iqqq-${version}`,
    creationInfo: { created: created.replace(/\.\d+Z$/, "Z"), creators: ["Tool: iqqq scripts/sbom.mjs"] },
    packages: [...documents, ...[...packages.values()].sort((a, b) => a.SPDXID.localeCompare(b.SPDXID))],
    relationships,
  };
  // A namespace unique to this content, as SPDX asks.
  const hash = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32);
  return { ...body, documentNamespace: `https://spdx.org/spdxdocs/iqqq-${version}-${hash}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, ...artefacts] = process.argv.slice(2);
  if (out === undefined || artefacts.length === 0) {
    console.error("usage: node scripts/sbom.mjs OUT.json ARTEFACT...");
    process.exit(64);
  }
  writeFileSync(out, `${JSON.stringify(sbom(artefacts), null, 2)}\n`);
}
