// The iqqq image, for linux/amd64 and linux/arm64 in one OCI index. Each
// platform's image is one layer: /opt/iqqq/ self-contained (the executable,
// its own loader and libraries, the executable patched with patchelf to use
// them), so it runs FROM scratch and wherever the folder is mounted at
// /opt/iqqq. amd64's loader and libraries are the host's glibc (libc6); arm64's
// are Debian's cross ones (libc6-arm64-cross, in /usr/aarch64-linux-gnu/lib).
//
// The OCI layout is written here (blobs, manifests, configs, index.json), not
// with podman: podman 4.3's build cache handed the arm64 build's image back for
// `podman build --arch amd64` of the same context (one image id for both), and
// its manifest list then held arm64 alone. Written by hand, each config says
// its platform, and the archive is the same bytes from the same inputs
// (sorted entries, owner 0, times from SOURCE_DATE_EPOCH or the last commit).
//
// Used by scripts/release.mjs (writeImage) and by the pods suite (stageImage).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("../", import.meta.url));

/**
 * What differs by platform: the ELF machine (e_machine) of its executables, where its
 * loader and libraries are taken from, and the Debian package they come from.
 */
export const PLATFORMS = {
  amd64: { machine: 0x3e, libs: ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"], deb: "libc6" },
  arm64: { machine: 0xb7, libs: ["/usr/aarch64-linux-gnu/lib"], deb: "libc6-arm64-cross" },
};

/** The image's user (non-root, as a number so that runAsNonRoot can check it) and entrypoint. */
const USER = "65532:65532";
const ENTRYPOINT = ["/opt/iqqq/iqqq"];

/** The Debian architecture of an ELF executable, by its e_machine. */
export function elfArch(path) {
  const head = readFileSync(path).subarray(0, 20);
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  const machine = head.readUInt16LE(18);
  const arch = Object.keys(PLATFORMS).find((a) => PLATFORMS[a].machine === machine);
  if (arch === undefined) throw new Error(`${path}: no image platform for ELF machine 0x${machine.toString(16)}`);
  return arch;
}

function patchelf(args) {
  const r = spawnSync("patchelf", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`patchelf ${args.join(" ")} failed (${r.error?.message ?? r.stderr.trim()})`);
  return r.stdout.trim();
}

/**
 * Stages opt/iqqq/ for `exe` (its platform told by its ELF header) in a new folder, a
 * Containerfile beside it (docker/iqqq.Dockerfile); returns the folder. The libraries are
 * what the executable needs (DT_NEEDED, and theirs in turn), found in the platform's
 * library folders; ldd is not used, as it cannot read another machine's executable.
 */
export function stageImage(exe) {
  const platform = PLATFORMS[elfArch(exe)];
  const stage = mkdtempSync(join(tmpdir(), "iqqq-image-"));
  const opt = join(stage, "opt/iqqq");
  mkdirSync(join(opt, "lib"), { recursive: true });
  const copy = join(opt, "iqqq");
  copyFileSync(exe, copy);
  const find = (name) => {
    const dir = platform.libs.find((d) => existsSync(join(d, name)));
    if (dir === undefined) throw new Error(`${name}, which ${exe} needs, is not in ${platform.libs.join(" or ")}`);
    return join(dir, name);
  };
  const loader = basename(patchelf(["--print-interpreter", copy]));
  const wanted = patchelf(["--print-needed", copy]).split("\n").filter(Boolean);
  const copied = new Set([loader]);
  while (wanted.length > 0) {
    const name = wanted.shift();
    if (copied.has(name)) continue;
    copied.add(name);
    const lib = join(opt, "lib", name);
    copyFileSync(find(name), lib);
    wanted.push(...patchelf(["--print-needed", lib]).split("\n").filter(Boolean));
  }
  copyFileSync(find(loader), join(opt, loader));
  patchelf(["--set-interpreter", `/opt/iqqq/${loader}`, "--set-rpath", "/opt/iqqq/lib", copy]);
  fixVerdef(copy);
  copyFileSync(join(root, "docker/iqqq.Dockerfile"), join(stage, "Containerfile"));
  return stage;
}

/** ELF's section types and dynamic tags used below (elf.h). */
const SHT_DYNAMIC = 6;
const SHT_GNU_VERDEF = 0x6ffffffd;
const DT_VERDEF = 0x6ffffffcn;

/**
 * patchelf (0.14 to 0.18 at least) moves the dynamic sections to grow .dynstr for the
 * rpath, and updates DT_SYMTAB, DT_STRTAB, DT_VERSYM and DT_VERNEED, but leaves DT_VERDEF
 * at the old address, which it has overwritten: glibc's loader reads it, as Bun's
 * executables define symbol versions, and the arm64 one died of SIGSEGV before its main
 * (https://github.com/can1357/oh-my-pi/issues/9881, NixOS/nixpkgs#510446). Points
 * DT_VERDEF at .gnu.version_d where it now is; a no-op where it was right.
 */
export function fixVerdef(path) {
  const fd = openSync(path, "r+");
  try {
    const read = (offset, length) => {
      const b = Buffer.alloc(length);
      if (readSync(fd, b, 0, length, offset) !== length) throw new Error(`${path}: short read at ${offset}`);
      return b;
    };
    const header = read(0, 64);
    if (header[4] !== 2 || header[5] !== 1) throw new Error(`${path}: not a 64-bit little-endian ELF file`);
    const shoff = Number(header.readBigUInt64LE(0x28));
    const shentsize = header.readUInt16LE(0x3a);
    const shnum = header.readUInt16LE(0x3c);
    const sections = read(shoff, shentsize * shnum);
    let verdef;
    let dynamic;
    for (let i = 0; i < shnum; i++) {
      const at = i * shentsize;
      const type = sections.readUInt32LE(at + 4);
      const section = {
        addr: sections.readBigUInt64LE(at + 0x10),
        offset: Number(sections.readBigUInt64LE(at + 0x18)),
        size: Number(sections.readBigUInt64LE(at + 0x20)),
      };
      if (type === SHT_GNU_VERDEF) verdef = section;
      if (type === SHT_DYNAMIC) dynamic = section;
    }
    if (verdef === undefined || dynamic === undefined) return;
    const entries = read(dynamic.offset, dynamic.size);
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      if (entries.readBigInt64LE(at) !== DT_VERDEF) continue;
      const value = Buffer.alloc(8);
      value.writeBigUInt64LE(verdef.addr);
      writeSync(fd, value, 0, 8, dynamic.offset + at + 8);
    }
  } finally {
    closeSync(fd);
  }
}

/** When the release's inputs last changed: SOURCE_DATE_EPOCH (reproducible-builds.org), else the last commit. */
function epoch() {
  const given = process.env.SOURCE_DATE_EPOCH;
  if (given !== undefined && /^\d+$/.test(given)) return Number(given);
  const commit = spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: root, encoding: "utf8" });
  return commit.status === 0 && /^\d+$/.test(commit.stdout.trim()) ? Number(commit.stdout.trim()) : 0;
}

/** tar's options for the same archive from the same files: sorted names, root-owned, one time, no atime/ctime. */
function reproducible(when) {
  return [
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    `--mtime=@${when}`,
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
  ];
}

/**
 * Writes the iqqq image as an OCI archive at `archive`: an index of one image per
 * platform, `executables` mapping each platform (amd64, arm64) to its executable. Its
 * index.json names the index `localhost/iqqq:VERSION` (what podman load calls it).
 */
export function writeImage(archive, { version, executables }) {
  const when = epoch();
  const created = new Date(when * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  const layout = mkdtempSync(join(tmpdir(), "iqqq-oci-"));
  const blobs = join(layout, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const blob = (mediaType, data) => {
    const hex = createHash("sha256").update(data).digest("hex");
    writeFileSync(join(blobs, hex), data);
    return { mediaType, digest: `sha256:${hex}`, size: data.length };
  };
  const json = (value) => Buffer.from(JSON.stringify(value));
  const manifests = [];
  for (const [arch, exe] of Object.entries(executables)) {
    if (elfArch(exe) !== arch) throw new Error(`${exe} is not an ${arch} executable`);
    const stage = stageImage(exe);
    try {
      const tar = spawnSync("tar", [...reproducible(when), "-C", stage, "-cf", "-", "opt"], { maxBuffer: 1 << 30 });
      if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
      const diffId = `sha256:${createHash("sha256").update(tar.stdout).digest("hex")}`;
      const layer = blob("application/vnd.oci.image.layer.v1.tar+gzip", gzipSync(tar.stdout));
      const config = blob(
        "application/vnd.oci.image.config.v1+json",
        json({
          created,
          architecture: arch,
          os: "linux",
          config: { User: USER, Entrypoint: ENTRYPOINT, Labels: { "org.opencontainers.image.version": version } },
          rootfs: { type: "layers", diff_ids: [diffId] },
          history: [{ created, created_by: "scripts/image.mjs: /opt/iqqq (the executable, its loader and libraries)" }],
        }),
      );
      const manifest = blob(
        "application/vnd.oci.image.manifest.v1+json",
        json({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: [layer] }),
      );
      manifests.push({ ...manifest, platform: { architecture: arch, os: "linux" } });
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  const index = blob(
    "application/vnd.oci.image.index.v1+json",
    json({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
  );
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...index, annotations: { "org.opencontainers.image.ref.name": `localhost/iqqq:${version}` } }],
    }),
  );
  const tar = spawnSync(
    "tar",
    [...reproducible(when), "-C", layout, "-cf", archive, "oci-layout", "index.json", "blobs"],
    { encoding: "utf8" },
  );
  rmSync(layout, { recursive: true, force: true });
  if (tar.status !== 0) throw new Error(`tar of the OCI layout failed: ${tar.stderr}`);
}
