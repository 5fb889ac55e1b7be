// dist/iqqq.mjs past its first two lines (scripts/build.mjs writes those: the
// shebang, then iqqq's own code as one template literal, __iqqqCode). This
// compiles that code as a script, with V8's code cache when a trusted one is
// beside the file (runtime/compile-cache.ts says why and when), and runs it.
// Copied alone, the file still runs: without a cache, the code is compiled
// from the literal, as the module it once was.
//
// The code is a function expression that takes import() and import.meta.url
// from here: a script has neither of its own (vm.Script's import() needs
// --experimental-vm-modules on Node 20), and both must resolve from this file,
// as they did when the code was the module itself. Its third argument says
// what became of the cache, for --version. It keeps its line numbers in the
// file (the literal's escapes add no line), so a stack trace's lines are the
// file's (its columns, on a line with escapes, are the code's).

import { COMPILE_CACHE_VARIABLE, cacheFileOf, cacheHeader, readCache, writeCache } from "./compile-cache.js";

/** iqqq's code, the literal on the file's second line. */
declare const __iqqqCode: string;
/** The hash of the code (the cache's header names it), written in by the build. */
declare const __IQQQ_CODE_KEY__: string;
/** The column of the second line where the code starts, written in by the build. */
declare const __IQQQ_CODE_COLUMN__: number;

type Load = (id: string) => unknown;
const load: Load =
  (process as { getBuiltinModule?: Load }).getBuiltinModule?.bind(process) ??
  (await import("node:module")).createRequire(import.meta.url);
const fs = load("node:fs") as typeof import("node:fs");
const vm = load("node:vm") as typeof import("node:vm");
// Under Node the real path (a symlink to the bundle is resolved): its cache is beside the bundle.
const file =
  (import.meta as { filename?: string }).filename ??
  (load("node:url") as typeof import("node:url")).fileURLToPath(import.meta.url);

const setting = process.env[COMPILE_CACHE_VARIABLE];
const cacheFile = cacheFileOf(file);
const header = cacheHeader(__IQQQ_CODE_KEY__);
// Bun (`bun dist/iqqq.mjs`) keeps no V8 cache.
const bun = process.versions.bun !== undefined;
const cached = !bun && setting !== "off";
const cachedData = cached ? readCache(fs, cacheFile, header) : undefined;
const script = new vm.Script(__iqqqCode, {
  // The name alone, not the path: V8 keeps the name the cache was made under, and a cache is
  // made in one place (iqqq install's folder, dist/) and read in another (a volume mounted elsewhere).
  filename: file.slice(file.lastIndexOf("/") + 1),
  lineOffset: 1,
  columnOffset: __IQQQ_CODE_COLUMN__,
  cachedData,
});
if (cached && setting === "write" && (cachedData === undefined || script.cachedDataRejected === true))
  // At the end of the run: the cache then holds every function this run compiled.
  process.once("exit", () => {
    const failed = writeCache(fs, cacheFile, header, script.createCachedData());
    if (failed !== undefined)
      fs.writeSync(2, `iqqq: warning: cannot write the compile cache ${cacheFile}: ${failed}\n`);
  });
/** For --version: whether this run uses the cache, and which. */
const state =
  cachedData === undefined
    ? `${bun ? "none under Bun" : cached ? "none" : "off"} (${cacheFile})`
    : `${script.cachedDataRejected === true ? "rejected by V8 (another Node's, or damaged)" : "used"} (${cacheFile})`;
(
  script.runInThisContext() as (
    importModule: (specifier: string) => Promise<unknown>,
    url: string,
    compileCache: string,
  ) => void
)((specifier) => import(specifier), import.meta.url, state);
