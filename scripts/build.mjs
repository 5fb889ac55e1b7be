// npm run build: bundles src/cli.ts into dist/iqqq.mjs, one self-contained
// executable file with no runtime dependencies.
import { chmod, readFile } from "node:fs/promises";
import { build } from "esbuild";

const { version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const outfile = new URL("../dist/iqqq.mjs", import.meta.url).pathname;

await build({
  entryPoints: [new URL("../src/cli.ts", import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node" },
  define: { __IQQQ_VERSION__: JSON.stringify(version) },
  logLevel: "warning",
});
await chmod(outfile, 0o755);
