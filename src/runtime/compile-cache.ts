// V8's code cache for the Node bundle: what dist/iqqq.mjs's loader
// (runtime/bundle-loader.ts) reads, and what `iqqq install` has it write.
//
// Why: Node 20 keeps no compiled code for an ES module between runs (Node 22's
// NODE_COMPILE_CACHE does, but not for the file that calls it), so every start
// of the bundle compiled its 90 KiB again and each function at its first call:
// the largest part of its distance to a minimal Node wrapper
// (docs/performance-notes.md). The bundle's code is compiled as a script instead
// (vm.Script, which takes V8's cachedData), and the cache written after one run
// that stopped a sidecar lets later starts skip most of that work.
//
// A code cache is code: V8 trusts it and checks only its own version, its flags
// and the lengths of the source and of the data, not the data's content (a
// checksum of the 130 KiB at every start cost 1.3-2.2 ms in JavaScript, 1.4 ms
// and more with node:zlib or node:crypto loaded for it: more than half of what
// the cache saves). So the file carries a header naming the exact code it
// belongs to (a hash the build computes), the Node version and the machine; it
// is read only when it is a regular file (never through a symlink, never a FIFO
// waited on), owned by root or by the user running iqqq, and writable by no one
// else; and it is written only when asked (IQQQ_COMPILE_CACHE=write, as
// `iqqq install` does), whole, under a new name renamed into place, so that no
// reader sees a part of one.

import type * as Fs from "node:fs";

/** The variable that turns the cache off, or has a run write it (variables.ts documents it). */
export const COMPILE_CACHE_VARIABLE = "IQQQ_COMPILE_CACHE";
export const COMPILE_CACHE_SETTINGS = ["off", "write"] as const;
/** What a value of it that is none of them gets told (the settings' parser, and iqqq install's check). */
export const COMPILE_CACHE_EXPECTED = `expected ${COMPILE_CACHE_SETTINGS.join(" or ")}, or leave it unset`;

/** The cache of the bundle at `bundle` (its real path): beside it. */
export function cacheFileOf(bundle: string): string {
  return `${bundle}.cache`;
}

/** The first line of a cache file: what the code cache after it was made from and for. */
export function cacheHeader(codeKey: string): string {
  return `iqqq compile cache 1 ${codeKey} ${process.version} ${process.arch}\n`;
}

/**
 * The V8 data of the cache at `file` when it was written for `header`'s code and
 * may be trusted; else undefined (missing, foreign, another version's, or a
 * file someone else could have written).
 */
export function readCache(fs: typeof Fs, file: string, header: string): Buffer | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO at the name is opened at once (and refused below), never waited on.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    const owner = stat.uid === 0 || stat.uid === process.geteuid?.();
    if (!stat.isFile() || !owner || (stat.mode & 0o022) !== 0 || stat.size <= header.length) return undefined;
    const data = Buffer.allocUnsafe(stat.size);
    let at = 0;
    while (at < data.length) {
      const n = fs.readSync(fd, data, at, data.length - at, at);
      if (n === 0) return undefined;
      at += n;
    }
    return data.toString("latin1", 0, header.length) === header ? data.subarray(header.length) : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes `data` as the cache at `file`: under a new name beside it, then renamed
 * into place, so that no reader ever sees half a cache and a symlink planted at
 * the name is replaced, not written through. Returns why it could not, if so.
 */
export function writeCache(fs: typeof Fs, file: string, header: string, data: Uint8Array): string | undefined {
  const slash = file.lastIndexOf("/");
  // Unique beyond the pid: pids repeat across containers that share a volume (iqqq is often PID 1).
  const temporary = `${file.slice(0, slash + 1)}.${file.slice(slash + 1)}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  let created = false;
  try {
    const fd = fs.openSync(
      temporary,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o644,
    );
    created = true;
    try {
      // Readable by all whatever the umask, as the bundle beside it is: a pod's user reads what root wrote.
      fs.fchmodSync(fd, 0o644);
      const all = Buffer.concat([Buffer.from(header, "latin1"), data]);
      for (let at = 0; at < all.length; ) at += fs.writeSync(fd, all, at, all.length - at);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
    return undefined;
  } catch (err) {
    // Only a file this run made: another writer's is not ours to remove.
    if (created)
      try {
        fs.rmSync(temporary, { force: true });
      } catch {}
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}
