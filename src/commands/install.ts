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

export const INSTALL_USAGE = `Usage: iqqq install DIR
Copies iqqq into DIR (created if missing): from the iqqq image, the whole
self-contained /opt/iqqq folder; else this executable (or dist/iqqq.mjs, which
wraps, without the files beside it) alone.
`;

export async function installCommand(args: readonly string[], _env: Env, io: Io): Promise<number> {
  if (args[0] === "--help" || args[0] === "-h") {
    io.stdout(INSTALL_USAGE);
    return EXIT.OK;
  }
  if (args.length !== 1 || args[0] === "" || (args[0] as string).startsWith("-")) {
    io.stderr(`iqqq install: error: expected one folder to copy iqqq into\n${INSTALL_USAGE}`);
    return EXIT.USAGE;
  }
  const target = args[0] as string;
  const fs = builtin("node:fs");
  const path = builtin("node:path");
  // The running file: the executable, or under Node the bundle (argv[1]).
  const self = fs.realpathSync(process.versions.bun !== undefined ? process.execPath : (process.argv[1] ?? ""));
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
  return EXIT.OK;
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
