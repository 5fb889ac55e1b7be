// npm run build: bundles src/cli.ts into dist/iqqq.mjs, one self-contained
// executable file with no runtime dependencies.
import { chmod, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
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
  plugins: [compressedOnDemand(["./commands/install.js", "./commands/inject.js", "./commands/webhook.js"], ["re2js"])],
  logLevel: "warning",
});
await chmod(outfile, 0o755);

/**
 * The commands (iqqq install, inject, webhook: src/main.ts imports them on
 * demand), each bundled with what it uses (the yaml package included) into
 * CommonJS, gzipped and embedded as a base64 string that is inflated and
 * evaluated when the command runs. V8 scans a string literal far faster than it
 * pre-parses code, so the wrapper's start-up does not pay for them (as code
 * they cost it 3-4 ms, the yaml package alone 7 ms). The one module they share
 * with the rest at run time, src/runtime/builtins.ts, is the bundle's own.
 * Small stateless modules (exit codes, the sidecar catalogue) are copied.
 * `packages` are embedded the same way where they are imported: re2js, which
 * only src/watch/pattern.ts imports, and that only for IQQQ_WATCH_PATTERN (as
 * code it added 145 KB to the bundle and about 2 ms to every start, unused).
 */
function compressedOnDemand(specifiers, packages) {
  const builtins = `${root}src/runtime/builtins.ts`;
  return {
    name: "compressed-on-demand",
    setup(plugin) {
      plugin.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "import-statement" && packages.includes(args.path))
          return { path: fileURLToPath(import.meta.resolve(args.path)), namespace: "compressed-on-demand" };
        if (args.kind !== "dynamic-import" || !specifiers.includes(args.path)) return undefined;
        const file = `${args.resolveDir}/${args.path.replace(/\.js$/, ".ts")}`;
        return { path: file, namespace: "compressed-on-demand" };
      });
      plugin.onLoad({ filter: /.*/, namespace: "compressed-on-demand" }, async (args) => {
        const cjs = await build({
          entryPoints: [args.path],
          bundle: true,
          platform: "node",
          format: "cjs",
          target: "node20",
          minify: true,
          legalComments: "none",
          define: { __IQQQ_VERSION__: JSON.stringify(version) },
          write: false,
          metafile: true,
          outfile: "command.js",
          logLevel: "warning",
          plugins: [
            {
              name: "host-builtins",
              setup(nested) {
                nested.onResolve({ filter: /runtime\/builtins\.js$/ }, () => ({
                  path: "iqqq:builtins",
                  external: true,
                }));
              },
            },
          ],
        });
        // The entry's export names (a CommonJS output lists none): from an ESM transform of the file alone.
        const esm = await build({
          entryPoints: [args.path],
          format: "esm",
          write: false,
          metafile: true,
          outfile: "x.js",
          logLevel: "warning",
        });
        const names = Object.values(esm.metafile.outputs)[0].exports;
        const blob = gzipSync(cjs.outputFiles[0].contents, { level: 9 }).toString("base64");
        return {
          resolveDir: root,
          contents: [
            `import * as host from ${JSON.stringify(builtins)};`,
            "const m = { exports: {} };",
            `const source = host.builtin("node:zlib").gunzipSync(Buffer.from(${JSON.stringify(blob)}, "base64")).toString("utf8");`,
            // require(): the bundle's own builtins module, or a Node built-in (yaml asks for "process" and "buffer").
            `new Function("module", "exports", "require", source)(m, m.exports, (id) => id === "iqqq:builtins" ? host : host.builtinModule(id));`,
            `export const { ${names.join(", ")} } = m.exports;`,
          ].join("\n"),
        };
      });
    },
  };
}
