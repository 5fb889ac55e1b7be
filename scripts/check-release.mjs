// npm run release:check: what npm run release wrote works, as a user would use it.
//  - SHA256SUMS matches every file;
//  - beside each artefact its SBOM, which names it by its sha256 and lists what ships
//    inside it and nothing else (scripts/check-sbom.mjs);
//  - the npm tarball installs with `npm i -g` (into a scratch prefix), its iqqq
//    runs a program and keeps its exit status, and what it loads on demand is there;
//  - the host's executable does the same; the others are ELF files for their machine;
//  - the OCI archive is an index of linux/amd64 and linux/arm64: each config says its
//    architecture, each layer's iqqq is an ELF executable for that machine whose
//    interpreter is in the layer, every blob is what its digest says;
//  - each artefact's SBOM (scripts/check-sbom.mjs), the image's naming both platforms'
//    C libraries;
//  - the arm64 image runs under qemu (podman --arch arm64): its iqqq install, and the
//    copy it makes wrapping a program and keeping its status;
//  - the OCI archive loads into podman (this machine's platform) and the image runs
//    iqqq FROM scratch, and its /opt/iqqq runs unchanged inside another image
//    (busybox-static, no libc);
//  - on a tag in GitHub Actions (GITHUB_REF_TYPE=tag), the tag is v + the version and
//    package.json's repository is the one publishing (npm publish --provenance checks it).
// Skips the image when the release has none (npm run release -- --no-image).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { arch, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { publishProblems } from "./check-publish.mjs";
import { checkSboms, expectations } from "./check-sbom.mjs";
import { PLATFORMS } from "./image.mjs";
import { choosePodman, failure } from "./podman.mjs";
import { sbomName } from "./sbom.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const dir = join(root, "dist/release");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const work = mkdtempSync(join(tmpdir(), "iqqq-release-check-"));
let failures = 0;

function check(what, ok, detail = "") {
  console.log(`${ok ? "ok" : "FAIL"}  ${what}${ok || detail === "" ? "" : `\n      ${detail}`}`);
  if (!ok) failures++;
}

function run(file, args, options = {}) {
  return spawnSync(file, args, { encoding: "utf8", timeout: 120_000, ...options });
}

if (!existsSync(join(dir, "SHA256SUMS"))) {
  console.error("release:check: no dist/release/SHA256SUMS; run npm run release first");
  process.exit(1);
}

// Sums.
const listed = readFileSync(join(dir, "SHA256SUMS"), "utf8").trim().split("\n");
for (const line of listed) {
  const [sum, name] = line.split(/\s+/);
  const actual = createHash("sha256")
    .update(readFileSync(join(dir, name)))
    .digest("hex");
  check(`SHA256SUMS: ${name}`, actual === sum);
}
const present = readdirSync(dir).filter((f) => f !== "SHA256SUMS");
check("SHA256SUMS lists every file", present.length === listed.length, present.join(" "));

// The SBOMs: one beside each artefact.
for (const { file, sbom, problems } of checkSboms(dir, { version, ...expectations(root) })) {
  check(`SBOM ${sbom}${file === "" ? "" : ` (${file})`}`, problems.length === 0, problems.join("\n      "));
}

// The tag a release is published from (GitHub Actions on a tag push) names this version, and
// npm's provenance needs package.json's repository to be the repository that publishes.
if (process.env.GITHUB_REF_TYPE === "tag") {
  const problems = publishProblems(process.env, JSON.parse(readFileSync(join(root, "package.json"), "utf8")));
  check(`the tag ${process.env.GITHUB_REF_NAME} may publish`, problems.length === 0, problems.join("\n      "));
} else console.log("skip  the tag and the repository (not a tag build in GitHub Actions)");

// The npm tarball, installed globally into a scratch prefix.
const tgz = `iqqq-${version}.tgz`;
const prefix = join(work, "prefix");
const install = run("npm", ["i", "-g", "--no-audit", "--no-fund", "--prefix", prefix, join(dir, tgz)]);
check(`npm i -g ./${tgz}`, install.status === 0, install.stderr);
const installed = join(prefix, "bin/iqqq");
const v = run(installed, ["--version"]);
// --version's first line; the second names the build (runtime and platform).
const firstLine = (text) => text.split("\n")[0];
check(
  "installed iqqq --version (the Node bundle)",
  v.status === 0 && firstLine(v.stdout) === `iqqq ${version}` && /^Node bundle, node /m.test(v.stdout),
  v.stdout + v.stderr,
);
const wrapped = run(installed, ["sh", "-c", "echo out; exit 3"], { env: { PATH: process.env.PATH } });
check("installed iqqq runs a program and keeps its status", wrapped.status === 3 && wrapped.stdout === "out\n");
// The commands and the IQQQ_WATCH_PATTERN engine are files beside the bundle (dist/commands/,
// dist/vendor/): the tarball must carry them.
for (const command of ["install", "inject", "webhook"]) {
  const help = run(installed, [command, "--help"], { env: { PATH: process.env.PATH } });
  check(
    `installed iqqq ${command} --help`,
    help.status === 0 && help.stdout.startsWith(`Usage: iqqq ${command}`),
    help.stdout + help.stderr,
  );
}
const pattern = run(installed, ["--explain"], { env: { PATH: process.env.PATH, IQQQ_WATCH_PATTERN: "jo+b" } });
check(
  "installed iqqq reads IQQQ_WATCH_PATTERN",
  pattern.status === 0 && pattern.stdout.includes("/jo+b/"),
  pattern.stdout + pattern.stderr,
);

// The executables.
const host = `iqqq-linux-${arch() === "arm64" ? "arm64" : "x64"}`;
const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7 };
for (const name of ["iqqq-linux-x64", "iqqq-linux-arm64", "iqqq-linux-x64-musl", "iqqq-linux-arm64-musl"]) {
  const path = join(dir, name);
  if (!existsSync(path)) {
    check(`${name} is in the release`, false);
    continue;
  }
  const head = readFileSync(path).subarray(0, 20);
  const machine = head.readUInt16LE(18);
  const want = name.includes("arm64") ? ELF_MACHINE.arm64 : ELF_MACHINE.x64;
  check(
    `${name} is an ELF executable for ${name.includes("arm64") ? "arm64" : "x86-64"}`,
    head.readUInt32BE(0) === 0x7f454c46 && machine === want,
  );
}
const exe = run(join(dir, host), ["sh", "-c", "exit 4"], { env: { PATH: process.env.PATH } });
check(`${host} runs a program and keeps its status`, exe.status === 4, exe.stderr);

// The image.
const archive = present.find((f) => f.endsWith(".oci.tar"));
if (archive === undefined) {
  console.log("skip  the image (the release has none: built with --no-image)");
} else {
  checkIndex(join(dir, archive));
  const image = `localhost/iqqq:${version}`;
  // podman as this machine has it; a fallback only where it cannot start the image (scripts/podman.mjs).
  let podman;
  try {
    podman = choosePodman("release:check", (p) => {
      const load = p(["load", "-q", "-i", join(dir, archive)]);
      return failure(load) ?? failure(p(["run", "--rm", "--network", "none", image, "--version"]));
    });
    check(`podman load -i ${archive}`, true);
  } catch (error) {
    check(`podman load -i ${archive}, and the image starts`, false, error.message);
    podman = () => ({ status: 1, stdout: "", stderr: "podman does not work here" });
  }
  checkArm64(join(dir, archive), podman);
  // podman pull (in checkArm64) named the arm64 image localhost/iqqq:VERSION too: this machine's again.
  const reload = podman(["load", "-q", "-i", join(dir, archive)]);
  check(`podman load -i ${archive} (this machine's platform)`, reload.status === 0, reload.stderr);
  const ver = podman(["run", "--rm", "--network", "none", image, "--version"]);
  check(
    "the image runs iqqq FROM scratch",
    ver.status === 0 &&
      firstLine(ver.stdout) === `iqqq ${version}` &&
      // podman load takes the index's image for this machine.
      new RegExp(`^Bun executable, bun .*, linux-${arch() === "arm64" ? "arm64" : "x64"}$`, "m").test(ver.stdout),
    ver.stdout + ver.stderr,
  );
  // /opt/iqqq copied into another image with no libc of its own: busybox-static.
  if (existsSync("/bin/busybox")) {
    const ctx = join(work, "busybox");
    mkdirSync(join(ctx, "rootfs/bin"), { recursive: true });
    cpSync("/bin/busybox", join(ctx, "rootfs/bin/busybox"));
    for (const applet of ["sh", "true"]) cpSync("/bin/busybox", join(ctx, `rootfs/bin/${applet}`));
    writeFileSync(
      join(ctx, "Containerfile"),
      `FROM ${image} AS iqqq\nFROM scratch\nCOPY rootfs/ /\nCOPY --from=iqqq /opt/iqqq /opt/iqqq\nENV PATH=/bin\nENTRYPOINT ["/opt/iqqq/iqqq"]\n`,
    );
    const build = podman(["build", "-q", "-t", `localhost/iqqq-check:${version}`, ctx]);
    check("/opt/iqqq copied into a busybox image builds", build.status === 0, build.stderr);
    const job = podman([
      "run",
      "--rm",
      "--network",
      "none",
      `localhost/iqqq-check:${version}`,
      "sh",
      "-c",
      "echo job; exit 5",
    ]);
    check(
      "…and wraps a program there, keeping its status",
      job.status === 5 && job.stdout === "job\n",
      job.stdout + job.stderr,
    );
    podman(["rmi", "-f", `localhost/iqqq-check:${version}`]);
  } else {
    console.log("skip  /opt/iqqq in another image (no /bin/busybox: apt-get install busybox-static)");
  }
}

rmSync(work, { recursive: true, force: true });
if (failures > 0) {
  console.error(`release:check: ${failures} failed`);
  process.exit(1);
}
console.log("release:check: all passed");

/**
 * The archive as a registry or a runtime reads it, without podman: index.json names one
 * index, localhost/iqqq:VERSION; it lists linux/amd64 and linux/arm64; every blob has the
 * digest and size it is named by; each platform's config says its architecture, its one
 * layer is what diff_ids says, and in that layer /opt/iqqq/iqqq is an ELF executable for
 * that machine whose interpreter is in the layer too. The SBOM says what the image holds:
 * both platforms' C libraries.
 */
function checkIndex(archive) {
  const oci = join(work, "oci");
  mkdirSync(oci);
  const untar = run("tar", ["-xf", archive, "-C", oci]);
  if (untar.status !== 0) return check(`tar -xf ${archive}`, false, untar.stderr);
  const blob = (descriptor, what) => {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(String(descriptor?.digest))?.[1];
    const path = hex === undefined ? undefined : join(oci, "blobs/sha256", hex);
    const data = path !== undefined && existsSync(path) ? readFileSync(path) : undefined;
    const ok =
      data !== undefined && createHash("sha256").update(data).digest("hex") === hex && data.length === descriptor.size;
    check(`the image: ${what} is the blob its digest and size name`, ok, String(descriptor?.digest));
    return ok ? data : undefined;
  };
  const top = JSON.parse(readFileSync(join(oci, "index.json"), "utf8"));
  const named = top.manifests?.[0];
  check(
    `the image: index.json names one index, localhost/iqqq:${version}`,
    top.manifests?.length === 1 &&
      named.mediaType === "application/vnd.oci.image.index.v1+json" &&
      named.annotations?.["org.opencontainers.image.ref.name"] === `localhost/iqqq:${version}`,
    JSON.stringify(top),
  );
  const indexData = blob(named, "the index");
  if (indexData === undefined) return;
  const index = JSON.parse(indexData.toString());
  const platforms = (index.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
  check(
    "the image: the index lists linux/amd64 and linux/arm64, once each",
    platforms.length === 2 && platforms.includes("linux/amd64") && platforms.includes("linux/arm64"),
    platforms.join(" "),
  );
  for (const entry of index.manifests ?? []) {
    const arch = entry.platform?.architecture;
    const expected = PLATFORMS[arch];
    const manifestData = blob(entry, `the ${arch} manifest`);
    if (manifestData === undefined || expected === undefined) continue;
    const manifest = JSON.parse(manifestData.toString());
    const configData = blob(manifest.config, `the ${arch} config`);
    if (configData === undefined) continue;
    const config = JSON.parse(configData.toString());
    check(
      `the image: the ${arch} config says architecture ${arch}, os linux, ENTRYPOINT /opt/iqqq/iqqq, user 65532`,
      config.architecture === arch &&
        config.os === "linux" &&
        JSON.stringify(config.config?.Entrypoint) === '["/opt/iqqq/iqqq"]' &&
        config.config?.User === "65532:65532",
      JSON.stringify(config),
    );
    const layerData = manifest.layers?.length === 1 ? blob(manifest.layers[0], `the ${arch} layer`) : undefined;
    if (layerData === undefined) {
      check(`the image: the ${arch} image is one layer`, false, JSON.stringify(manifest.layers));
      continue;
    }
    const tar = gunzipSync(layerData);
    check(
      `the image: the ${arch} layer is what its config's diff_ids says`,
      `sha256:${createHash("sha256").update(tar).digest("hex")}` === config.rootfs?.diff_ids?.[0],
    );
    const layer = join(work, `layer-${arch}`);
    mkdirSync(layer);
    writeFileSync(join(work, `layer-${arch}.tar`), tar);
    run("tar", ["-xf", join(work, `layer-${arch}.tar`), "-C", layer]);
    const exe = join(layer, "opt/iqqq/iqqq");
    const elf = existsSync(exe) ? readFileSync(exe) : Buffer.alloc(0);
    const machine = elf.length >= 64 && elf.readUInt32BE(0) === 0x7f454c46 ? elf.readUInt16LE(18) : undefined;
    check(
      `the image: the ${arch} layer's /opt/iqqq/iqqq is an ELF executable for ${arch} (e_machine 0x${expected.machine.toString(16)})`,
      machine === expected.machine,
      `e_machine ${machine}`,
    );
    if (machine === undefined) continue;
    const interp = interpreter(elf);
    check(
      `the image: the ${arch} executable's interpreter, ${interp}, is in the layer`,
      interp?.startsWith("/opt/iqqq/") === true && existsSync(join(layer, interp)),
    );
  }
  // The SBOM's account of the image: both platforms' C libraries, by their Debian packages.
  const spdx = join(dir, sbomName(basename(archive)));
  const doc = existsSync(spdx) ? JSON.parse(readFileSync(spdx, "utf8")) : undefined;
  const image = doc?.packages.find((p) => p.packageFileName === basename(archive));
  const held = (doc?.relationships ?? [])
    .filter((r) => r.spdxElementId === image?.SPDXID && r.relationshipType === "CONTAINS")
    .map((r) => doc.packages.find((p) => p.SPDXID === r.relatedSpdxElement)?.name);
  for (const { deb } of Object.values(PLATFORMS))
    check(`SBOM: the image holds ${deb}`, held.includes(deb), held.join(" "));
}

/** PT_INTERP of a 64-bit little-endian ELF executable, or undefined. */
function interpreter(elf) {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const at = phoff + i * phentsize;
    if (elf.readUInt32LE(at) !== 3) continue;
    const offset = Number(elf.readBigUInt64LE(at + 8));
    const size = Number(elf.readBigUInt64LE(at + 0x20));
    return elf
      .subarray(offset, offset + size)
      .toString("latin1")
      .replace(/\0+$/, "");
  }
  return undefined;
}

/**
 * The arm64 image's iqqq, run under user-mode emulation (qemu-user-static, registered
 * with binfmt_misc, so that podman --arch arm64 runs it): it says it is the arm64 build;
 * `iqqq install` copies /opt/iqqq into a folder as inject's init container does; and that
 * copy, mounted at /opt/iqqq of another container as a job container sees it, wraps a
 * program and keeps its exit status. The program is the host's static busybox (x86-64,
 * which the kernel runs itself): what is checked is the arm64 wrapper.
 */
function checkArm64(archive, podman) {
  if (!existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64")) {
    console.log(
      "skip  the arm64 image under qemu (no binfmt_misc entry qemu-aarch64: apt-get install qemu-user-static binfmt-support; .ci/run registers it)",
    );
    return;
  }
  // By its id: podman pull names it localhost/iqqq:VERSION too, which podman load then gives the host's image.
  const pull = podman(["pull", "-q", "--arch", "arm64", `oci-archive:${archive}`]);
  const id = pull.stdout.trim();
  check(
    "podman pull --arch arm64 oci-archive:… (the arm64 image of the index)",
    pull.status === 0 && id !== "",
    pull.stderr,
  );
  if (pull.status !== 0) return;
  const arch = podman(["image", "inspect", "--format", "{{.Architecture}}", id]);
  check("…whose architecture is arm64", arch.stdout.trim() === "arm64", arch.stdout + arch.stderr);
  // qemu-user can hang instead of exiting when the program it runs crashes (a SIGSEGV seen
  // here, from a bad patch): podman ends such a container itself, before run()'s deadline.
  const arm = ["run", "--rm", "--network", "none", "--arch", "arm64", "--timeout", "90"];
  const ver = podman([...arm, id, "--version"]);
  check(
    "the arm64 image's iqqq runs under qemu (--version: linux-arm64)",
    ver.status === 0 && firstLine(ver.stdout) === `iqqq ${version}` && /, linux-arm64$/m.test(ver.stdout),
    ver.stdout + ver.stderr,
  );
  if (ver.status !== 0) return;
  // The image's user (65532) writes the folder, as it writes a pod's emptyDir.
  const folder = join(work, "arm64-install");
  mkdirSync(folder, { mode: 0o777 });
  chmodSync(folder, 0o777);
  const install = podman([...arm, "-v", `${folder}:/iqqq-install`, id, "install", "/iqqq-install"]);
  check(
    "…iqqq install /iqqq-install copies its /opt/iqqq there",
    install.status === 0 && existsSync(join(folder, "iqqq")) && existsSync(join(folder, "lib")),
    install.stdout + install.stderr,
  );
  const job = podman([
    ...arm,
    "-v",
    `${folder}:/opt/iqqq:ro`,
    "-v",
    "/bin/busybox:/bin/sh:ro",
    "--entrypoint",
    "/opt/iqqq/iqqq",
    id,
    "/bin/sh",
    "-c",
    "echo job; exit 5",
  ]);
  check(
    "…and the installed copy wraps a program, keeping its status (5)",
    job.status === 5 && job.stdout === "job\n",
    `exit ${job.status}: ${job.stdout}${job.stderr}`,
  );
}
