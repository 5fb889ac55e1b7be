// npm run release: everything a user installs, without a clone, in dist/release/:
//   iqqq-linux-{x64,arm64}[-musl]      the standalone executables (Bun)
//   iqqq-VERSION.tgz                   the npm package (npm i -g ./iqqq-VERSION.tgz; npm publish)
//   iqqq-image-VERSION.oci.tar         the iqqq image for linux/amd64 and linux/arm64, an OCI archive
//                                      (npm run release:push copies it to a registry)
//   ARTEFACT.spdx.json, iqqq-VERSION.tgz.cdx.json  beside each artefact, its SBOM (scripts/sbom.mjs)
//   SHA256SUMS                         for all of them (sha256sum -c SHA256SUMS)
// `--no-image` skips the image (it needs patchelf and Debian's libc6-arm64-cross; CI has them;
// its OCI layout is written directly, no podman).
// scripts/check-release.mjs checks what this writes; .github/workflows/release.yml runs both.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeImage } from "./image.mjs";
import { npmSbom, sbom, sbomName } from "./sbom.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const out = join(root, "dist/release");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const withImage = !process.argv.includes("--no-image");

function run(file, args, options = {}) {
  const r = spawnSync(file, args, { stdio: ["ignore", "inherit", "inherit"], cwd: root, ...options });
  if (r.status !== 0) {
    console.error(`release: ${file} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
  return r;
}

function have(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

if (withImage) {
  const missing = ["patchelf"].filter((c) => !have(c));
  // arm64's loader and libraries (scripts/image.mjs).
  if (!existsSync("/usr/aarch64-linux-gnu/lib/libc.so.6")) missing.push("libc6-arm64-cross");
  if (missing.length > 0) {
    console.error(
      `release: the image needs ${missing.join(", ")} (Debian: apt-get install ${missing.join(" ")}); or run npm run release -- --no-image`,
    );
    process.exit(1);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// 1. The bundle and the plugin types, then the npm tarball made of them.
run("npm", ["run", "--silent", "build"]);
run("npm", ["pack", "--silent", "--pack-destination", out], { stdio: ["ignore", "ignore", "inherit"] });

// 2. Every executable.
run(process.execPath, [join(root, "scripts/build-binaries.mjs")]);
for (const name of readdirSync(join(root, "dist/bin")).filter((f) => f.startsWith("iqqq-linux-"))) {
  copyFileSync(join(root, "dist/bin", name), join(out, name));
}

// 3. The image: /opt/iqqq/ is self-contained (the executable, its own loader
//    and libraries), so it runs FROM scratch, and copied into any image; one
//    image for each of linux/amd64 and linux/arm64, in one OCI index.
if (withImage) {
  writeImage(join(out, `iqqq-image-${version}.oci.tar`), {
    version,
    executables: { amd64: join(root, "dist/bin/iqqq-linux-x64"), arm64: join(root, "dist/bin/iqqq-linux-arm64") },
  });
}

// 4. Beside each artefact, its SBOM: CycloneDX from npm sbom for the npm package, SPDX for the rest.
for (const file of readdirSync(out).sort()) {
  const path = join(out, file);
  const doc = /\.tgz$/.test(file) ? npmSbom(path) : sbom([path]);
  writeFileSync(join(out, sbomName(file)), `${JSON.stringify(doc, null, 2)}\n`);
}

// 5. Sums for everything.
const files = readdirSync(out)
  .filter((f) => f !== "SHA256SUMS")
  .sort();
const sums = files.map(
  (f) =>
    `${createHash("sha256")
      .update(readFileSync(join(out, f)))
      .digest("hex")}  ${f}\n`,
);
writeFileSync(join(out, "SHA256SUMS"), sums.join(""));
for (const f of [...files, "SHA256SUMS"]) console.log(`dist/release/${f}`);
console.log(`(check with: cd dist/release && sha256sum -c SHA256SUMS)`);
