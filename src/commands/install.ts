// iqqq install DIR: copies iqqq into DIR, for an init container that puts it
// into an emptyDir (iqqq inject). From the iqqq image, that is the whole
// self-contained /opt/iqqq (the executable, its loader and libraries), which
// then runs in any job image once mounted at /opt/iqqq (the loader's path was
// patched in); otherwise the running executable, or the Node bundle, alone
// (not the files beside it, dist/commands/ and dist/vendor/: a job container
// needs the wrapper; the commands and IQQQ_WATCH_PATTERN then say what is
// missing). No shell needed: the image is FROM scratch.

import { EXIT } from "../exit-status.js";
import type { Env, Io } from "../io.js";
import { builtin } from "../runtime/builtins.js";
import {
  COMPILE_CACHE_EXPECTED,
  COMPILE_CACHE_SETTINGS,
  COMPILE_CACHE_VARIABLE,
  cacheFileOf,
} from "../runtime/compile-cache.js";

export const INSTALL_USAGE = `Usage: iqqq install DIR
Copies iqqq into DIR (created if missing): from the iqqq image, the whole
self-contained /opt/iqqq folder; else this executable (or dist/iqqq.mjs, which
wraps, without the files beside it) alone. The Node bundle then runs once to
write its compile cache, DIR/iqqq.mjs.cache, for this Node: later starts
compile less (IQQQ_COMPILE_CACHE=off: no cache).
`;

export async function installCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  if (args[0] === "--help" || args[0] === "-h") {
    io.stdout(INSTALL_USAGE);
    return EXIT.OK;
  }
  if (args.length !== 1 || args[0] === "" || (args[0] as string).startsWith("-")) {
    io.stderr(`iqqq install: error: expected one folder to copy iqqq into\n${INSTALL_USAGE}`);
    return EXIT.USAGE;
  }
  const target = args[0] as string;
  const setting = env[COMPILE_CACHE_VARIABLE] ?? "";
  if (setting !== "" && !(COMPILE_CACHE_SETTINGS as readonly string[]).includes(setting)) {
    io.stderr(
      `iqqq install: error: ${COMPILE_CACHE_VARIABLE}=${JSON.stringify(setting)}: ${COMPILE_CACHE_EXPECTED}; nothing copied\n`,
    );
    return EXIT.CONFIG;
  }
  const fs = builtin("node:fs");
  const path = builtin("node:path");
  // A Bun-compiled executable names its embedded module in argv[1] ("/$bunfs/…": cli.ts); the bundle
  // run by Node, or by the bun CLI (`bun dist/iqqq.mjs`, whose execPath is bun itself), names the file.
  const compiled = process.argv[1]?.startsWith("/$bunfs/") === true;
  const self = fs.realpathSync(compiled ? process.execPath : (process.argv[1] ?? ""));
  const folder = path.dirname(self);
  // The image's layout: a loader next to the executable, the libraries in lib/.
  const selfContained = fs.readdirSync(folder).some((name) => name.startsWith("ld-")) && fs.existsSync(`${folder}/lib`);
  /** Files made under a temporary name and not yet renamed into place. */
  const temporaries = new Set<string>();
  try {
    makeFolders(path.resolve(target));
    if (selfContained) {
      // Nothing in DIR that would be written may be a symlink: cpSync would write through it.
      const planted = symlinksIn(folder, target);
      if (planted !== undefined) {
        io.stderr(`iqqq install: error: ${planted} is a symbolic link: not followed, nothing copied\n`);
        return EXIT.CANT_CREATE;
      }
      // File by file, each new then renamed into place, DIR/iqqq last: a copy cut short (a full
      // disk, a kill) never leaves a partial file under a name that runs. cpSync wrote in place.
      copyInto(folder, target, path.basename(self), temporaries);
    } else {
      // Always DIR/iqqq. The Node bundle keeps its .mjs (Node 20 runs an extensionless file as CommonJS)
      // and DIR/iqqq links to it (Node takes the format from the link's target). Each file is new, then
      // renamed into place, so that a symlink planted at its name is replaced, never written through.
      const temporary = (): string => remember(temporaries, path.join(target, temporaryName()));
      const bundle = self.endsWith(".mjs");
      const copy = temporary();
      fs.copyFileSync(self, copy, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(copy, 0o755);
      fs.renameSync(copy, path.join(target, bundle ? "iqqq.mjs" : "iqqq"));
      if (bundle) {
        const link = temporary();
        fs.symlinkSync("iqqq.mjs", link);
        fs.renameSync(link, path.join(target, "iqqq"));
      }
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // What was not renamed into place yet is removed: nothing of a failed copy stays behind.
    for (const file of temporaries) fs.rmSync(file, { force: true });
    io.stderr(`iqqq install: error: cannot copy into ${target}: ${e.code ?? e.message}\n`);
    return EXIT.CANT_CREATE;
  }
  io.stderr(`iqqq: installed ${selfContained ? `${folder}/ (self-contained)` : self} into ${target}\n`);
  // Under Bun the bundle has no V8 to cache for.
  if (self.endsWith(".mjs") && !selfContained && setting !== "off" && process.versions.bun === undefined) {
    const copy = path.join(path.resolve(target), "iqqq.mjs");
    const failed = await writeCompileCache(copy);
    if (failed === undefined) io.stderr(`iqqq: its compile cache for this Node is ${cacheFileOf(copy)}\n`);
    else io.stderr(`iqqq install: warning: no compile cache for ${copy} (${failed}): it runs, and starts slower\n`);
  }
  return EXIT.OK;
}

/**
 * Has the bundle at `bundle` write its compile cache (runtime/compile-cache.ts):
 * one run of it with IQQQ_COMPILE_CACHE=write, in Kubernetes's environment,
 * wrapping `node -e 0` (there is always a node here) and stopping a stand-in
 * Istio sidecar on loopback, so that the cache holds what a job's run
 * compiles, the stop included; then one `--version` of it, which says whether
 * a run takes that cache. NODE_OPTIONS is passed on: V8 takes a cache only
 * under the flags it was made with, so those of the job's runs must be set here
 * too. Returns why no cache is used, if so.
 */
async function writeCompileCache(bundle: string): Promise<string | undefined> {
  const http = builtin("node:http");
  const server = http.createServer((request, response) => {
    request.resume();
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    ...(process.env.NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.NODE_OPTIONS }),
  };
  try {
    const port = (server.address() as { port: number }).port;
    const trained = await run(bundle, [process.execPath, "-e", "0"], {
      ...base,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      ISTIO_PORT: String(port),
      [COMPILE_CACHE_VARIABLE]: "write",
    });
    const checked = await run(bundle, ["--version"], base);
    const state = /^compile cache: (.*)$/m.exec(checked.stdout)?.[1] ?? checked.failure;
    if (state.startsWith("used ")) return undefined;
    return trained.failure === "" ? state : `${trained.failure}; then ${state}`;
  } finally {
    server.close();
  }
}

/** A run of the bundle under `env`: its stdout, and its last line on stderr or how it ended. Never over a minute. */
async function run(
  bundle: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ stdout: string; failure: string }> {
  const child = builtin("node:child_process").spawn(process.execPath, [bundle, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stdout = "";
  let said = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    if (stdout.length < 4096) stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    if (said.length < 4096) said += chunk.toString();
  });
  // One node start and at most one request: a minute is far more than it needs.
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = (await new Promise((resolve) =>
    child.on("close", (c: number | null, s: string | null) => resolve([c, s])),
  )) as [number | null, string | null];
  clearTimeout(timer);
  const last = said.trim().split("\n").at(-1) ?? "";
  const ended = code === 0 ? "" : code !== null ? `its run exited ${code}` : `its run was killed by ${signal}`;
  return { stdout, failure: last !== "" ? last : ended };
}

/** A name in DIR that no copy of iqqq runs by: a dot-file, unique to this process. */
function temporaryName(): string {
  return `.iqqq.${process.pid}.${Math.random().toString(36).slice(2)}`;
}

function remember(temporaries: Set<string>, file: string): string {
  temporaries.add(file);
  return file;
}

/**
 * Copies the folder `source` into `target` (its folders made, modes and files' times kept, its
 * symlinks as symlinks), each file written under a temporary name beside its place and renamed
 * into it, and the file named `last` at the top last of all.
 */
function copyInto(source: string, target: string, last: string, temporaries: Set<string>): void {
  const fs = builtin("node:fs");
  const entries = fs.readdirSync(source, { withFileTypes: true });
  entries.sort((a, b) => Number(a.name === last) - Number(b.name === last));
  for (const entry of entries) {
    const from = `${source}/${entry.name}`;
    const to = `${target}/${entry.name}`;
    if (entry.isDirectory()) {
      makeFolder(to);
      copyInto(from, to, "", temporaries);
      fs.chmodSync(to, fs.statSync(from).mode & 0o7777);
      continue;
    }
    const temporary = remember(temporaries, `${target}/${temporaryName()}`);
    if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), temporary);
    else {
      fs.copyFileSync(from, temporary, fs.constants.COPYFILE_EXCL);
      const stat = fs.statSync(from);
      fs.chmodSync(temporary, stat.mode & 0o7777);
      fs.utimesSync(temporary, stat.atime, stat.mtime);
    }
    fs.renameSync(temporary, to);
    temporaries.delete(temporary);
  }
}

/** The first path under `target` that copying `source` would write and that is a symlink, if any. */
function symlinksIn(source: string, target: string): string | undefined {
  const fs = builtin("node:fs");
  for (const entry of fs.readdirSync(source, { withFileTypes: true })) {
    const at = `${target}/${entry.name}`;
    let stat: ReturnType<typeof fs.lstatSync> | undefined;
    try {
      stat = fs.lstatSync(at);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) return at;
    if (entry.isDirectory()) {
      const inner = symlinksIn(`${source}/${entry.name}`, at);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** mkdir -p, one level at a time: Node's recursive mkdirSync never returns on a path under /proc. */
function makeFolders(folder: string): void {
  let at = "";
  for (const part of folder.split("/").filter(Boolean)) {
    at += `/${part}`;
    makeFolder(at);
  }
}

/** mkdir, where a folder already there is no error. */
function makeFolder(at: string): void {
  try {
    builtin("node:fs").mkdirSync(at);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
