// The first lines of dist/iqqq.mjs (scripts/build.mjs puts them there). The
// bundle's own code follows them in the same file, commented out: a line that
// is the mark alone, then every line of the code behind "//". These lines compile that
// code as a script, with V8's code cache when a trusted one is beside the file
// (runtime/compile-cache.ts says why and when), and run it. Copied alone, the
// file still runs: without a cache, the code is compiled as before.
//
// The code is a function expression that takes import() and import.meta.url
// from here: a script has neither of its own (vm.Script's import() needs
// --experimental-vm-modules on Node 20), and both must resolve from this file,
// as they did when the code was the module itself. Its third argument says
// what became of the cache, for --version.

import { EXIT } from "../exit-status.js";
import { COMPILE_CACHE_VARIABLE, cacheFileOf, cacheHeader, readCache, writeCache } from "./compile-cache.js";

/** The hash of the code below the mark, written in by the build (the cache's header names it). */
declare const __IQQQ_CODE_KEY__: string;
/** The line after which the code starts, written in by the build (without its newlines: see below). */
declare const __IQQQ_BODY_MARK__: string;

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

// The code is ASCII (the build checks): latin1 reads it as it was written.
const text = fs.readFileSync(file, "latin1");
// The mark as a line of its own: this file's copy of it, above, is in quotes.
let mark = text.indexOf(__IQQQ_BODY_MARK__);
while (mark >= 0 && !(text.charCodeAt(mark - 1) === 0x0a && text.charCodeAt(mark + __IQQQ_BODY_MARK__.length) === 0x0a))
  mark = text.indexOf(__IQQQ_BODY_MARK__, mark + 1);
if (mark < 0) {
  fs.writeSync(2, `iqqq: internal error: ${file} has no code after its first lines: a damaged copy?\n`);
  process.exit(EXIT.INTERNAL);
}
// The mark's line number (stack traces give the file's own line numbers).
let line = 1;
for (let at = text.indexOf("\n"); at >= 0 && at < mark; at = text.indexOf("\n", at + 1)) line++;
const code = text.slice(mark + __IQQQ_BODY_MARK__.length + 3).replaceAll("\n//", "\n");

const setting = process.env[COMPILE_CACHE_VARIABLE];
const cacheFile = cacheFileOf(file);
const header = cacheHeader(__IQQQ_CODE_KEY__);
// Bun (`bun dist/iqqq.mjs`) keeps no V8 cache.
const cached = process.versions.bun === undefined && setting !== "off";
const cachedData = cached ? readCache(fs, cacheFile, header) : undefined;
const script = new vm.Script(code, { filename: file, lineOffset: line, cachedData });
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
    ? `${cached ? "none" : "off"} (${cacheFile})`
    : `${script.cachedDataRejected === true ? "rejected by V8 (another Node's, or damaged)" : "used"} (${cacheFile})`;
(
  script.runInThisContext() as (
    importModule: (specifier: string) => Promise<unknown>,
    url: string,
    compileCache: string,
  ) => void
)((specifier) => import(specifier), import.meta.url, state);
