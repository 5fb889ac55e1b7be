// npm run release:push (scripts/publish-image.mjs), as the release workflow runs
// it, against a real registry on loopback (Debian's docker-registry): an OCI
// archive holding one image, and one holding an index of two (amd64, arm64),
// each goes up whole and comes back the same. The archives are written here,
// blob by blob, as an OCI image layout in a tar (what podman save --format
// oci-archive writes), so that no podman is needed.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT } from "../support/cli.js";
import { hasRegistry, type RealRegistry, startRegistry } from "../support/real-registry.js";
import { closedPort } from "../support/sidecars.js";

const hasSkopeo = spawnSync("skopeo", ["--version"]).status === 0;
const skip =
  hasRegistry && hasSkopeo ? false : "needs docker-registry and skopeo (Debian's packages; .ci/run installs them)";

const SCRIPT = join(ROOT, "scripts/publish-image.mjs");
const work = mkdtempSync(join(tmpdir(), "iqqq-publish-"));
after(() => rmSync(work, { recursive: true, force: true }));

const digestOf = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** An OCI image layout in a folder, archived as one tar; its top manifest (or index) and the blobs. */
function ociArchive(name: string, platforms: string[], index: boolean) {
  const layout = join(work, name);
  mkdirSync(join(layout, "blobs/sha256"), { recursive: true });
  const blob = (bytes: Buffer, mediaType: string) => {
    const digest = digestOf(bytes);
    writeFileSync(join(layout, "blobs/sha256", digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  };
  const layers: Record<string, Buffer> = {};
  const manifests = platforms.map((arch) => {
    const files = join(work, `${name}-${arch}`);
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, "hello"), `hello from ${arch}\n`);
    const tar = join(work, `${name}-${arch}.tar`);
    assert.equal(spawnSync("tar", ["-cf", tar, "-C", files, "hello"]).status, 0);
    const layerBytes = readFileSync(tar);
    const layer = blob(layerBytes, "application/vnd.oci.image.layer.v1.tar");
    layers[layer.digest] = layerBytes;
    const config = blob(
      Buffer.from(
        JSON.stringify({
          architecture: arch,
          os: "linux",
          config: { Entrypoint: ["/hello"] },
          rootfs: { type: "layers", diff_ids: [layer.digest] },
        }),
      ),
      "application/vnd.oci.image.config.v1+json",
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config,
        layers: [layer],
      }),
    );
    return {
      ...blob(manifest, "application/vnd.oci.image.manifest.v1+json"),
      platform: { architecture: arch, os: "linux" },
    };
  });
  let top: { mediaType: string; digest: string; size: number };
  if (index) {
    const bytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
    );
    top = blob(bytes, "application/vnd.oci.image.index.v1+json");
  } else {
    const [only] = manifests;
    assert.ok(only);
    top = { mediaType: only.mediaType, digest: only.digest, size: only.size };
  }
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [top] }));
  const archive = join(work, `${name}.oci.tar`);
  assert.equal(spawnSync("tar", ["-cf", archive, "-C", layout, "."]).status, 0);
  return { archive, top, manifests, layers };
}

const push = (...args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", timeout: 120_000 });

describe("npm run release:push", { skip }, () => {
  let registry: RealRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(() => registry?.stop());

  /** The registry's answer for a manifest, as a client that takes either kind asks. */
  const manifest = async (repository: string, reference: string) => {
    const r = await fetch(`http://${registry.host}/v2/${repository}/manifests/${reference}`, {
      headers: { accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json" },
    });
    return { status: r.status, type: r.headers.get("content-type"), bytes: Buffer.from(await r.arrayBuffer()) };
  };

  test("one image: pushed as it is, its digest printed, and pulled back the same", async () => {
    const { archive, top, layers } = ociArchive("single", ["amd64"], false);
    const ref = `${registry.host}/iqqq:single`;
    const r = push("--tls-verify=false", "--archive", archive, ref);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${ref}@${top.digest} application/vnd.oci.image.manifest.v1+json\n`);
    const served = await manifest("iqqq", "single");
    assert.equal(served.status, 200);
    assert.equal(digestOf(served.bytes), top.digest);
    // Pulled back by a client: the layer is the one in the archive.
    const back = join(work, "single-back");
    const pulled = spawnSync(
      "skopeo",
      ["copy", "--preserve-digests", "--src-tls-verify=false", `docker://${ref}`, `oci:${back}`],
      {
        encoding: "utf8",
      },
    );
    assert.equal(pulled.status, 0, pulled.stderr);
    for (const [digest, bytes] of Object.entries(layers)) {
      assert.deepEqual(readFileSync(join(back, "blobs/sha256", digest.slice(7))), bytes);
    }
  });

  test("an index of two images: the index and every image it names go up, to each reference", async () => {
    const { archive, top, manifests, layers } = ociArchive("multi", ["amd64", "arm64"], true);
    const refs = [`${registry.host}/iqqq:0.1.0`, `${registry.host}/mirror/iqqq:latest`];
    const r = push("--tls-verify=false", "--archive", archive, ...refs);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      refs.map((ref) => `${ref}@${top.digest} application/vnd.oci.image.index.v1+json\n`).join(""),
    );
    for (const [repository, tag] of [
      ["iqqq", "0.1.0"],
      ["mirror/iqqq", "latest"],
    ] as const) {
      const served = await manifest(repository, tag);
      assert.equal(served.status, 200);
      assert.equal(served.type, "application/vnd.oci.image.index.v1+json");
      assert.equal(digestOf(served.bytes), top.digest);
      // Not only the host's platform: the arm64 image and its layer are there too.
      for (const m of manifests) assert.equal((await manifest(repository, m.digest)).status, 200, m.digest);
      for (const digest of Object.keys(layers)) {
        const blob = await fetch(`http://${registry.host}/v2/${repository}/blobs/${digest}`);
        assert.equal(digestOf(Buffer.from(await blob.arrayBuffer())), digest);
      }
    }
  });

  test("no reference is a usage error (64); a registry that is not there fails (1), naming it", async () => {
    const none = push();
    assert.equal(none.status, 64);
    assert.match(none.stderr, /usage: npm run release:push -- /);
    const { archive } = ociArchive("nowhere", ["amd64"], false);
    const nowhere = `127.0.0.1:${await closedPort()}/iqqq:x`;
    const failed = push("--tls-verify=false", "--archive", archive, nowhere);
    assert.equal(failed.status, 1);
    assert.ok(failed.stderr.startsWith(`release:push: skopeo copy to ${nowhere} failed: `), failed.stderr);
  });
});
