// The iqqq image's build context: opt/iqqq/ self-contained (the executable, its
// own loader and its libraries, the executable patched with patchelf to use
// them), so it runs FROM scratch and wherever the folder is mounted at
// /opt/iqqq. Used by scripts/release.mjs and by the pods suite.

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

/** Stages the build context for `exe`; returns its folder (a Containerfile inside). */
export function stageImage(exe) {
  const stage = mkdtempSync(join(tmpdir(), "iqqq-image-"));
  const opt = join(stage, "opt/iqqq");
  mkdirSync(join(opt, "lib"), { recursive: true });
  const copy = join(opt, "iqqq");
  copyFileSync(exe, copy);
  const libs = spawnSync("ldd", [copy], { encoding: "utf8" }).stdout;
  let loader;
  for (const line of libs.split("\n")) {
    const lib = /=>\s+(\/\S+)/.exec(line)?.[1];
    const interp = /^\s*(\/\S*ld-linux\S*)/.exec(line)?.[1];
    if (lib) copyFileSync(lib, join(opt, "lib", basename(lib)));
    if (interp) loader = interp;
  }
  if (loader === undefined) throw new Error(`ldd found no loader for ${exe}`);
  copyFileSync(loader, join(opt, basename(loader)));
  const patched = spawnSync(
    "patchelf",
    ["--set-interpreter", `/opt/iqqq/${basename(loader)}`, "--set-rpath", "/opt/iqqq/lib", copy],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (patched.status !== 0) throw new Error(`patchelf failed (${patched.error?.message ?? `exit ${patched.status}`})`);
  copyFileSync(join(root, "docker/iqqq.Dockerfile"), join(stage, "Containerfile"));
  return stage;
}
