// npm run release:push -- [--tls-verify=false] [--archive FILE] REGISTRY/iqqq:TAG…
//
// Copies the iqqq image, as npm run release wrote it (the one dist/release/*.oci.tar),
// to each reference, byte for byte: skopeo copy --all --preserve-digests, so a
// multi-arch index goes up whole with every image it names, a single image as
// it is, and nothing is converted on the way. Then reads each reference back
// (skopeo inspect --raw) and checks that the registry serves the archive's own
// manifest digest; prints REFERENCE@DIGEST. Registry credentials are skopeo's
// (skopeo login / podman login, $REGISTRY_AUTH_FILE). --tls-verify=false for a
// plain-HTTP registry (one on loopback, in a test).
// .github/workflows/release.yml runs it on a version tag.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const USAGE = "usage: npm run release:push -- [--tls-verify=false] [--archive FILE] REGISTRY/iqqq:TAG…";

function fail(message, code = 1) {
  console.error(`release:push: ${message}`);
  process.exit(code);
}

const args = process.argv.slice(2);
let tlsVerify = true;
let archive;
const refs = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--tls-verify=false") tlsVerify = false;
  else if (arg === "--tls-verify=true") tlsVerify = true;
  else if (arg === "--archive") archive = args[++i];
  else if (arg === "--help" || arg === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else if (arg.startsWith("-") || arg === "") fail(`unknown option ${arg}\n${USAGE}`, 64);
  else refs.push(arg);
}
if (refs.length === 0 || (archive === undefined && args.includes("--archive"))) fail(USAGE, 64);

if (archive === undefined) {
  const dir = join(root, "dist/release");
  let found = [];
  try {
    found = readdirSync(dir).filter((f) => f.endsWith(".oci.tar"));
  } catch {}
  if (found.length !== 1) {
    fail(`dist/release/ has ${found.length} image archives (*.oci.tar), not one: run npm run release first`);
  }
  archive = join(dir, found[0]);
}

/** skopeo's result; stdout as bytes (a manifest's digest is over its exact bytes). */
function skopeo(commandArgs) {
  const r = spawnSync("skopeo", commandArgs, { maxBuffer: 16 * 1024 * 1024 });
  if (r.error?.code === "ENOENT") fail("skopeo is not installed (Debian, Ubuntu: apt-get install skopeo)", 69);
  return { status: r.status, stdout: r.stdout, stderr: `${r.stderr ?? ""}`.trim() };
}

for (const ref of refs) {
  const target = `docker://${ref}`;
  const copied = skopeo([
    "copy",
    "--all",
    "--preserve-digests",
    `--dest-tls-verify=${tlsVerify}`,
    `oci-archive:${archive}`,
    target,
  ]);
  if (copied.status !== 0) fail(`skopeo copy to ${ref} failed: ${copied.stderr}`);
  // What the archive names (its index.json's one entry: an image, or an index of images) …
  const local = skopeo(["inspect", "--raw", `oci-archive:${archive}`]);
  if (local.status !== 0) fail(`skopeo inspect ${archive} failed: ${local.stderr}`);
  const want = `sha256:${createHash("sha256").update(local.stdout).digest("hex")}`;
  // … is what the registry now serves under the reference.
  const served = skopeo(["inspect", "--raw", `--tls-verify=${tlsVerify}`, target]);
  if (served.status !== 0) fail(`skopeo inspect ${ref} failed: ${served.stderr}`);
  const got = `sha256:${createHash("sha256").update(served.stdout).digest("hex")}`;
  if (got !== want) fail(`${ref} serves ${got}, not the archive's ${want}`);
  const media = JSON.parse(served.stdout.toString()).mediaType ?? "(no mediaType)";
  console.log(`${ref}@${got} ${media}`);
}
