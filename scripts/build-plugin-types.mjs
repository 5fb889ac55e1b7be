// npm run build:types: dist/plugin.d.ts, the plugin API's types, published as
// the types-only entry point "iqqq/plugin" (see src/plugins/api.ts).
import { spawnSync } from "node:child_process";
import { copyFile, mkdir } from "node:fs/promises";

const root = new URL("../", import.meta.url).pathname;
const tsc = spawnSync(`${root}node_modules/.bin/tsc`, ["-p", `${root}tsconfig.plugin.json`], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
await mkdir(`${root}dist`, { recursive: true });
await copyFile(`${root}build/plugin-types/api.d.ts`, `${root}dist/plugin.d.ts`);
