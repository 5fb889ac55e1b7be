// npm run build:binaries: compiles src/cli.ts into standalone Linux executables
// with Bun (`bun build --compile`), version embedded, plus dist/bin/SHA256SUMS.
//
//   node scripts/build-binaries.mjs              all four targets
//   node scripts/build-binaries.mjs --host-only  only the one this machine runs (for test:binary)
//
// Bun fetches the cross-compile runtimes (@oven/bun-linux-*) from the npm
// registry on first use and caches them.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { arch } from "node:process";
import { bunCompileFlags } from "./bun-compile-flags.mjs";

const root = new URL("../", import.meta.url).pathname;
const { version } = JSON.parse(await readFile(`${root}package.json`, "utf8"));

/** Our artefact name → Bun's --target. glibc builds link libc only; musl builds also need libstdc++. */
const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64-musl": "bun-linux-arm64-musl",
};
const HOST = arch === "arm64" ? "linux-arm64" : "linux-x64";

const names = process.argv.includes("--host-only") ? [HOST] : Object.keys(TARGETS);
await mkdir(`${root}dist/bin`, { recursive: true });

for (const name of names) {
  const outfile = `${root}dist/bin/iqqq-${name}`;
  const result = spawnSync(
    `${root}node_modules/.bin/bun`,
    [
      "build",
      "--compile",
      `--target=${TARGETS[name]}`,
      ...bunCompileFlags(version),
      `--outfile=${outfile}`,
      `${root}src/cli.ts`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (result.status !== 0) {
    console.error(`build:binaries: bun build for ${name} failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
  console.log(`dist/bin/iqqq-${name}`);
}

// Sums for every executable present, so a --host-only build does not drop the others'.
const lines = [];
for (const name of Object.keys(TARGETS)) {
  let data;
  try {
    data = await readFile(`${root}dist/bin/iqqq-${name}`);
  } catch {
    continue;
  }
  lines.push(`${createHash("sha256").update(data).digest("hex")}  iqqq-${name}\n`);
}
await writeFile(`${root}dist/bin/SHA256SUMS`, lines.join(""));
console.log("dist/bin/SHA256SUMS (check with: cd dist/bin && sha256sum -c SHA256SUMS)");
