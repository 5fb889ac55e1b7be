// npm run lock:complete — after any `npm install`. The npm registry reachable
// here serves only the Linux builds of @biomejs/biome's platform packages, so
// npm leaves the others out of package-lock.json, and `npm ci` then refuses the
// lock ("Missing: @biomejs/cli-darwin-arm64@ from lock file"). This adds the
// missing entries, marked optional for their own os/cpu, which npm ci skips on
// every other platform without fetching them.
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const biome = lock.packages["node_modules/@biomejs/biome"];
let added = 0;
for (const name of Object.keys(biome?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const [os, cpu, libc] = name.replace("@biomejs/cli-", "").split("-");
  lock.packages[key] = {
    version: biome.version,
    cpu: [cpu],
    dev: true,
    license: biome.license,
    optional: true,
    os: [os],
    ...(libc ? { libc: [libc] } : {}),
    engines: biome.engines,
  };
  added++;
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entries added`);
