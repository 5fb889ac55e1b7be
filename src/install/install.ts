// iqqq install DIR: copies iqqq into DIR, for an init container that puts it
// into an emptyDir (iqqq inject). From the iqqq image, that is the whole
// self-contained /opt/iqqq (the executable, its loader and libraries), which
// then runs in any job image once mounted at /opt/iqqq (the loader's path was
// patched in); otherwise the running executable, or the Node bundle, alone.
// No shell needed: the image is FROM scratch.

import type { Env } from "../config/config.js";
import { EXIT } from "../exit-status.js";
import type { Io } from "../main.js";
import { builtin } from "../runtime/builtins.js";

export const INSTALL_USAGE = `Usage: iqqq install DIR
Copies iqqq into DIR (created if missing): from the iqqq image, the whole
self-contained /opt/iqqq folder; else this executable (or dist/iqqq.mjs) alone.
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
  try {
    makeFolders(path.resolve(target));
    if (selfContained) fs.cpSync(folder, target, { recursive: true, force: true, preserveTimestamps: true });
    else {
      const name = path.basename(self);
      fs.copyFileSync(self, path.join(target, name));
      fs.chmodSync(path.join(target, name), 0o755);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr(`iqqq install: error: cannot copy into ${target}: ${e.code ?? e.message}\n`);
    return EXIT.CANT_CREATE;
  }
  io.stderr(`iqqq: installed ${selfContained ? `${folder}/ (self-contained)` : self} into ${target}\n`);
  return EXIT.OK;
}

/** mkdir -p, one level at a time: Node's recursive mkdirSync never returns on a path under /proc. */
function makeFolders(folder: string): void {
  let at = "";
  for (const part of folder.split("/").filter(Boolean)) {
    at += `/${part}`;
    try {
      builtin("node:fs").mkdirSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}
