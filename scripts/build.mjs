// npm run build: bundles src/cli.ts into dist/iqqq.mjs, one self-contained
// executable file with no runtime dependencies: the wrapper, the watcher and
// the standalone stop. What it loads only on demand is bundled apart, into
// files beside it that it imports when they are used: the commands (iqqq
// install, inject, webhook, reaper), each with what it uses (the yaml package
// included), in dist/commands/NAME.mjs; the RE2 engine for IQQQ_WATCH_PATTERN
// (the re2js package) in dist/vendor/re2js.mjs.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { Script } from "node:vm";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

const { version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const outfile = `${root}dist/iqqq.mjs`;

/**
 * The import()s in src that dist/iqqq.mjs leaves to a file beside it: the
 * specifier → that file (under dist/) and what it is built from. `command`:
 * one of src/main.ts's commands, whose file carries its own copy of the src
 * modules it uses (see prepare-builtins below).
 */
const APART = {
  "./commands/install.js": { file: "commands/install.mjs", source: "./src/commands/install.ts", command: true },
  "./commands/inject.js": { file: "commands/inject.mjs", source: "./src/commands/inject.ts", command: true },
  "./commands/webhook.js": { file: "commands/webhook.mjs", source: "./src/commands/webhook.ts", command: true },
  // With the Kubernetes client and prom-client: some 1.3 MB that nothing else loads.
  "./commands/reaper.js": { file: "commands/reaper.mjs", source: "./src/commands/reaper.ts", command: true },
  // src/watch/pattern.ts's; the module itself stays in dist/iqqq.mjs, as config.ts must know its errors.
  re2js: { file: "vendor/re2js.mjs", source: "re2js", command: false },
};

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  define: { __IQQQ_VERSION__: JSON.stringify(version) },
  logLevel: "warning",
  // What each file is made of, for the SBOM (scripts/sbom.mjs reads dist/bundled.json).
  metafile: true,
};

/** dist/FILE → the npm packages bundled into it, "name@version", from esbuild's own account of its inputs. */
const bundled = {};
async function record(file, result) {
  const names = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) names.add(m[1]);
  }
  const packages = [];
  for (const name of [...names].sort()) {
    const { version: v } = JSON.parse(await readFile(`${root}node_modules/${name}/package.json`, "utf8"));
    packages.push(`${name}@${v}`);
  }
  bundled[file] = packages;
}

// A file left from an older build (a part since renamed) must not ship.
await rm(`${root}dist/commands`, { recursive: true, force: true });
await rm(`${root}dist/vendor`, { recursive: true, force: true });

// dist/iqqq.mjs: the wrapper's code as a template literal on its second line, then a loader
// (src/runtime/bundle-loader.ts) that compiles it as a script with V8's code cache
// (src/runtime/compile-cache.ts).
const wrapper = await build({
  ...common,
  entryPoints: [`${root}src/cli.ts`],
  outfile,
  write: false,
  // The loader hands the code its own import() and import.meta.url: a script has neither.
  define: { ...common.define, "import.meta.url": "__iqqqModuleUrl" },
  plugins: [partsApart()],
});
await record("iqqq.mjs", wrapper);
const code = asScript(wrapper.outputFiles[0].text);
const CODE_PREFIX = "const __iqqqCode = `";
const loader = await build({
  ...common,
  entryPoints: [`${root}src/runtime/bundle-loader.ts`],
  write: false,
  define: {
    ...common.define,
    __IQQQ_CODE_KEY__: JSON.stringify(createHash("sha256").update(code).digest("hex").slice(0, 32)),
    __IQQQ_CODE_COLUMN__: String(CODE_PREFIX.length),
  },
  metafile: false,
});
// A template literal, not a string: its escapes (\\, \` and \${) add no line, so the code keeps its
// line numbers in the file. In the file rather than read from it: a comment the loader read back
// cost a fresh Node process more than this literal does (docs/performance-notes.md).
const literal = code.replaceAll("\\", "\\\\").replaceAll("`", "\\`").replaceAll("${", "\\${");
const file = `#!/usr/bin/env node\n${CODE_PREFIX}${literal}\`;\n${loader.outputFiles[0].text}`;
// What the literal says must be the code, byte for byte (its hash is the cache's key).
if (new Script(`\`${literal}\``).runInThisContext() !== code)
  throw new Error("build: the wrapper's code does not read back from its literal");
await mkdir(`${root}dist`, { recursive: true });
await writeFile(outfile, file);
await chmod(outfile, 0o755);

for (const { file, source, command } of Object.values(APART)) {
  const result = await build({
    ...common,
    // A command's module comes after one that makes its copy of src/runtime/builtins.ts ready.
    stdin: {
      contents: `${command ? 'import "iqqq:prepare-builtins";\n' : ""}export * from ${JSON.stringify(source)};\n`,
      resolveDir: root,
      sourcefile: file,
      loader: "js",
    },
    outfile: `${root}dist/${file}`,
    // The yaml package's Node build is CommonJS and require()s "process" and "buffer": esbuild
    // leaves those calls to a require that an ES module does not have, so a command's file makes one.
    banner: command
      ? { js: 'import{createRequire as __iqqqRequire}from"node:module";const require=__iqqqRequire(import.meta.url);' }
      : {},
    plugins: [prepareBuiltins()],
  });
  await record(file, result);
}
await writeFile(`${root}dist/bundled.json`, `${JSON.stringify(bundled, null, 2)}\n`);

// dist/iqqq.mjs.cache, for this Node (the npm package leaves it out: it fits no other): what
// `iqqq install` writes, so that the bundle run from here (npm run demo, bench, the tests) starts
// as an installed one does. Written by iqqq install itself, into a folder of its own, then moved;
// install says whether a run of its copy takes the cache (it warns, and exits 0, when not).
{
  const folder = await mkdtemp(`${root}dist/.install-`);
  try {
    const { IQQQ_COMPILE_CACHE: _, ...env } = process.env;
    const run = spawnSync(process.execPath, [outfile, "install", folder], { encoding: "utf8", env });
    if (run.status !== 0 || !run.stderr.includes("its compile cache for this Node is"))
      throw new Error(`build: iqqq install made no compile cache that a run takes: ${run.stderr}`);
    await rename(`${folder}/iqqq.mjs.cache`, `${outfile}.cache`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * The wrapper's code (an ES module, as esbuild writes it) as the script the
 * loader compiles: a function expression, strict as a module is, taking import()
 * and import.meta.url (defined as __iqqqModuleUrl) from the loader, and what
 * became of the cache (src/main.ts's --version says it). Each dynamic
 * `import(` in the code becomes a call of that function, proven one by V8: the
 * code with "@" put before it is refused (so it is no text in a string or a
 * regular expression: the build fails on those), and with "(0)(" in its place
 * it is still code (so it is a call, not a method named import, which stays).
 * Checked too: the code is printable ASCII, tabs and "\n" (esbuild escapes the
 * rest), so a template literal holds it as it is (a CR would be read as "\n").
 */
function asScript(module) {
  if (/[^\t\n -~]/.test(module)) throw new Error("build: the wrapper's code is not printable ASCII");
  const body = module.startsWith("#!") ? module.slice(module.indexOf("\n") + 1) : module;
  const imports = [...body.matchAll(/(?<![\w$.])import\(/g)].map((m) => m.index);
  const compiles = (text) => {
    try {
      new Script(text);
      return true;
    } catch {
      return false;
    }
  };
  const wrap = (text) => `(function(__iqqqImport,__iqqqModuleUrl,__iqqqCompileCache){"use strict";${text}\n})`;
  const put = (at, text) => wrap(`${body.slice(0, at)}${text}${body.slice(at + "import(".length)}`);
  let replaced = body;
  // From the last to the first, so that the positions before each stay as they were.
  for (const at of imports.reverse()) {
    if (compiles(put(at, "@import(")))
      throw new Error(
        `build: "import(" at ${at} of the wrapper's code is not a dynamic import: ${body.slice(at - 40, at + 40)}`,
      );
    // A method named import (`{import(n){…}}`, `get import()`) is not a call: "(0)(" there is no code.
    if (!compiles(put(at, "(0)("))) continue;
    replaced = `${replaced.slice(0, at)}__iqqqImport(${replaced.slice(at + "import(".length)}`;
  }
  const script = wrap(replaced);
  if (!compiles(script) || /\bimport\.meta\b/.test(script)) throw new Error("build: the wrapper's code is no script");
  return script;
}

/**
 * The wrapper's build leaves the parts in APART out: their import()s stay
 * import() calls, rewritten to the part's file beside the bundle (resolved
 * from dist/iqqq.mjs at run time). So the wrapper's start-up neither loads nor
 * even parses them (as code in the same file, V8 took about 5 ms more to parse
 * it for the commands, 3 ms for re2js: docs/performance.md), and
 * dist/iqqq.mjs still runs alone when it is copied without them (src/main.ts
 * then says what is missing). esbuild's own code splitting is not used: it
 * would move the modules the wrapper shares with the commands (exit codes,
 * runtime/builtins.ts) into chunks that dist/iqqq.mjs imports statically, and
 * the file would no longer run alone.
 */
function partsApart() {
  return {
    name: "parts-apart",
    setup(plugin) {
      plugin.onResolve({ filter: /.*/ }, (args) => {
        const part = Object.hasOwn(APART, args.path) ? APART[args.path] : undefined;
        if (args.kind !== "dynamic-import" || part === undefined) return undefined;
        return { path: `./${part.file}`, external: true };
      });
    },
  };
}

/**
 * Each command's file has its own copy of src/runtime/builtins.ts, the one
 * module with state it shares with the wrapper: the function that fetches a
 * built-in. On Node 20.16 and later that is process.getBuiltinModule, there at
 * once; before, prepareBuiltins() must make one, which src/cli.ts does for the
 * wrapper's copy only. This module, imported first, does it for the command's
 * copy before the command's own modules are evaluated (a top-level await: an
 * ES module may wait). Nothing else the two share keeps state that matters (a
 * scratch buffer, constants), and no error class of one is caught by the other
 * (which is why src/watch/pattern.ts, whose ValueError config.ts catches, stays
 * in dist/iqqq.mjs and only the re2js package is apart).
 */
function prepareBuiltins() {
  return {
    name: "prepare-builtins",
    setup(plugin) {
      plugin.onResolve({ filter: /^iqqq:prepare-builtins$/ }, () => ({
        path: "prepare-builtins",
        namespace: "iqqq",
      }));
      plugin.onLoad({ filter: /.*/, namespace: "iqqq" }, () => ({
        contents: `import { prepareBuiltins } from "./src/runtime/builtins.ts";\nawait prepareBuiltins();\n`,
        resolveDir: root,
        loader: "ts",
      }));
    },
  };
}
