// npm run build: bundles src/cli.ts into dist/iqqq.mjs, one self-contained
// executable file with no runtime dependencies.
import { chmod, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

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
  plugins: [compressedOnDemand(["yaml"])],
  logLevel: "warning",
});
await chmod(outfile, 0o755);

/**
 * Packages imported on demand only (`await import("yaml")`, by iqqq inject),
 * embedded as a gzipped, base64 string and evaluated when imported. V8 scans a
 * string literal far faster than it pre-parses code: the bundle's start-up does
 * not pay for what only a subcommand uses (src/inject/yaml.ts).
 */
function compressedOnDemand(packages) {
  return {
    name: "compressed-on-demand",
    setup(plugin) {
      const filter = new RegExp(`^(${packages.join("|")})$`);
      plugin.onResolve({ filter }, (args) => {
        if (args.kind !== "dynamic-import") throw new Error(`${args.path} may only be imported on demand`);
        return { path: args.path, namespace: "compressed-on-demand" };
      });
      plugin.onLoad({ filter: /.*/, namespace: "compressed-on-demand" }, async (args) => {
        const cjs = await build({
          stdin: { contents: `module.exports = require(${JSON.stringify(args.path)});`, resolveDir: root },
          bundle: true,
          platform: "node",
          format: "cjs",
          target: "node20",
          minify: true,
          legalComments: "none",
          write: false,
          logLevel: "warning",
        });
        const blob = gzipSync(cjs.outputFiles[0].contents, { level: 9 }).toString("base64");
        const names = Object.keys(await import(args.path)).filter(
          (n) => n !== "default" && /^[A-Za-z_$][\w$]*$/.test(n),
        );
        return {
          resolveDir: root,
          contents: [
            `import { builtin, builtinModule } from "./src/runtime/builtins.ts";`,
            `const m = { exports: {} };`,
            `const source = builtin("node:zlib").gunzipSync(Buffer.from(${JSON.stringify(blob)}, "base64")).toString("utf8");`,
            // Its require() is only ever for Node built-ins (the package has no dependencies).
            `new Function("module", "exports", "require", source)(m, m.exports, (id) => builtinModule(id));`,
            `export const { ${names.join(", ")} } = m.exports;`,
            `export default m.exports;`,
          ].join("\n"),
        };
      });
    },
  };
}
