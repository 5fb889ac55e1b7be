// The release's SBOMs, one beside each artefact in dist/release, named after it:
//   iqqq-VERSION.tgz.cdx.json   the npm package: CycloneDX, from npm's own
//                               `npm sbom --sbom-format cyclonedx` (npmSbom below)
//   ARTEFACT.spdx.json          an executable, the image: SPDX 2.3 (sbom below)
// Each says what ships inside its artefact, so that a scanner can match it
// against advisories. What is inside comes from the build's own account, not
// from package.json: dist/bundled.json (scripts/build.mjs, from esbuild's
// metafile) names the npm packages bundled into each file; their versions,
// download locations and sha512 from package-lock.json, their licences from
// their package.json (npm's own data for the npm package's). The executables
// carry the Bun runtime too; the image the Debian glibc packages whose loader
// and libraries scripts/image.mjs copies in (imageDebs below).
//
//   node scripts/sbom.mjs OUT.json ARTEFACT...   (an SPDX document for the artefacts)

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as image from "./image.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));

/**
 * The Debian packages the image's loader and libraries are copied from: each platform's
 * (scripts/image.mjs's PLATFORMS) where the image has several, else the host's libc6.
 */
export function imageDebs() {
  return image.PLATFORMS ? [...new Set(Object.values(image.PLATFORMS).map((p) => p.deb))] : ["libc6"];
}

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
      // The distribution (Debian here, Ubuntu on GitHub's runners) the image's loader and libraries come from.
      const distro = /^ID=("?)([\w.-]+)\1$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[2] ?? "debian";
      for (const deb of imageDebs()) {
        // dpkg-query's own format fields, not a template.
        const format = ["$", "{Version} $", "{Architecture}"].join("");
        const [v = "", debArch = ""] = spawnSync("dpkg-query", ["-W", "-f", format, deb], { encoding: "utf8" })
          .stdout.trim()
          .split(" ");
        if (v === "") throw new Error(`sbom: cannot tell the version of ${deb}, which the image's libraries come from`);
        contains.push(
          add(
            other(
              `SPDXRef-deb-${deb}-${v.replace(/[^A-Za-z0-9.]/g, "-")}`,
              deb,
              v,
              `pkg:deb/${distro}/${deb}@${v}?arch=${debArch}`,
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

/** The SBOM file beside a release artefact: FILE.cdx.json for the npm package, FILE.spdx.json for the rest. */
export function sbomName(file) {
  return /\.tgz$/.test(file) ? `${file}.cdx.json` : `${file}.spdx.json`;
}

/** Whether a release file is an SBOM (and so no artefact of its own). */
export const isSbom = (file) => /\.(?:cdx|spdx)\.json$/.test(file);

/**
 * The npm package's SBOM (CycloneDX), as an object: npm's own account
 * (`npm sbom --sbom-format cyclonedx`, npm >= 10.2) of the package and the
 * packages of its lock, narrowed to what ships in the tarball. iqqq has no
 * dependencies at run time: the packages it uses are devDependencies that
 * esbuild bundles into the files the tarball carries, so npm, told to omit dev
 * dependencies, would list none, and not told, lists every build tool too. What
 * is kept is what dist/bundled.json says is inside, marked required; npm's
 * names, versions, purls, sha512 and licences are kept as npm wrote them.
 */
export function npmSbom(tgz) {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const bundled = JSON.parse(readFileSync(join(root, "dist/bundled.json"), "utf8"));
  // npm names the root component after the folder it runs in, not package.json (npm/cli#9178,
  // fixed in npm 12): run it in a folder named after the package, from the lock alone.
  const scratch = mkdtempSync(join(tmpdir(), "iqqq-sbom-"));
  const folder = join(scratch, pkg.name.replace(/^@[^/]+\//, ""));
  mkdirSync(folder);
  let doc;
  try {
    copyFileSync(join(root, "package.json"), join(folder, "package.json"));
    copyFileSync(join(root, "package-lock.json"), join(folder, "package-lock.json"));
    const r = spawnSync("npm", ["sbom", "--sbom-format", "cyclonedx", "--package-lock-only"], {
      cwd: folder,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) {
      throw new Error(`sbom: npm sbom --sbom-format cyclonedx failed (npm >= 10.2 has it): ${r.stderr.trim()}`);
    }
    doc = JSON.parse(r.stdout);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  /** npm package "name@version" → the files of dist/ it is bundled into. */
  const inside = new Map();
  for (const [file, specs] of Object.entries(bundled))
    for (const spec of specs) inside.set(spec, [...(inside.get(spec) ?? []), `dist/${file}`]);
  const components = doc.components
    .filter((c) => inside.has(c["bom-ref"]))
    .map((c) => ({
      ...c,
      scope: "required",
      properties: [
        ...(c.properties ?? []).filter((p) => p.name !== "cdx:npm:package:development"),
        ...(inside.get(c["bom-ref"]) ?? []).map((file) => ({ name: "iqqq:bundled-into", value: file })),
      ],
    }));
  const kept = new Set(components.map((c) => c["bom-ref"]));
  const missing = [...inside.keys()].filter((spec) => !kept.has(spec));
  if (missing.length > 0)
    throw new Error(`sbom: npm sbom does not list ${missing.join(", ")} (is package-lock.json current?)`);
  const rootRef = doc.metadata.component["bom-ref"];
  const dependencies = doc.dependencies
    .filter((d) => d.ref === rootRef || kept.has(d.ref))
    .map((d) => ({ ref: d.ref, dependsOn: d.dependsOn.filter((ref) => kept.has(ref)) }));
  // A bundled package that npm's graph does not reach (an optional peer, as @opentelemetry/api
  // of prom-client) hangs from the root: it ships all the same.
  const reached = new Set();
  const walk = (ref) => {
    if (reached.has(ref)) return;
    reached.add(ref);
    for (const next of dependencies.find((d) => d.ref === ref)?.dependsOn ?? []) walk(next);
  };
  walk(rootRef);
  const rootDeps = dependencies.find((d) => d.ref === rootRef);
  for (const ref of kept) if (!reached.has(ref)) rootDeps?.dependsOn.push(ref);
  const file = readFileSync(tgz);
  const hash = (alg, name) => ({ alg, content: createHash(name).update(file).digest("hex") });
  return {
    ...doc,
    metadata: {
      ...doc.metadata,
      // After the build: what the tarball holds, not what the lock asks for.
      lifecycles: [{ phase: "build" }],
      tools: [...doc.metadata.tools, { vendor: "iqqq", name: "scripts/sbom.mjs", version: pkg.version }],
      component: {
        ...doc.metadata.component,
        name: pkg.name,
        hashes: [hash("SHA-256", "sha256"), hash("SHA-512", "sha512")],
        properties: [...(doc.metadata.component.properties ?? []), { name: "iqqq:file", value: basename(tgz) }],
      },
    },
    components,
    dependencies,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, ...artefacts] = process.argv.slice(2);
  if (out === undefined || artefacts.length === 0) {
    console.error("usage: node scripts/sbom.mjs OUT.json ARTEFACT...");
    process.exit(64);
  }
  writeFileSync(out, `${JSON.stringify(sbom(artefacts), null, 2)}\n`);
}
