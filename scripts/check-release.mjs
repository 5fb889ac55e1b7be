// npm run release:check: what npm run release wrote works, as a user would use it.
//  - SHA256SUMS matches every file;
//  - beside each artefact its SBOM, which names it by its sha256 and lists what ships
//    inside it and nothing else (scripts/check-sbom.mjs);
//  - the npm tarball installs with `npm i -g` (into a scratch prefix), its iqqq
//    runs a program and keeps its exit status, and what it loads on demand is there;
//  - the host's executable does the same; the others are ELF files for their machine;
//  - the OCI archive loads into podman and the image runs iqqq FROM scratch, and its
//    /opt/iqqq runs unchanged inside another image (busybox-static, no libc);
//  - on a tag in GitHub Actions (GITHUB_REF_TYPE=tag), the tag is v + the version and
//    package.json's repository is the one publishing (npm publish --provenance checks it).
// Skips the image when the release has none (npm run release -- --no-image).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { publishProblems } from "./check-publish.mjs";
import { checkSboms, expectations } from "./check-sbom.mjs";
import { choosePodman, failure } from "./podman.mjs";

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
  const ver = podman(["run", "--rm", "--network", "none", image, "--version"]);
  check(
    "the image runs iqqq FROM scratch",
    ver.status === 0 && firstLine(ver.stdout) === `iqqq ${version}` && /^Bun executable, bun /m.test(ver.stdout),
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
