// PID 1's duty: reaping orphans. In a container iqqq is often PID 1, and every
// process whose parent exits is re-parented to it; when such an orphan exits it
// stays a zombie until PID 1 waits for it. Node has no waitpid(); the Bun
// executable can call libc's through bun:ffi, so there iqqq reaps, tini-class.
//
// It never takes a status that is not an orphan's: it waits only for a given
// pid (never -1), never for the program, and only for a zombie it already saw
// as one a scan earlier (a second ago). Bun reaps its own children within
// milliseconds of their exit, so a child of iqqq's own (a plugin's, say) is never
// a zombie that long; an orphan, with no one else to wait for it, is.

import type { Logger } from "../log.js";
import { listPids, readStat } from "../proc/read.js";
import { later } from "./timers.js";

const INTERVAL_MS = 1000;
const WNOHANG = 1;

type WaitPid = (pid: number) => number;

/** The part of bun:ffi used here (the Node build has no bun-types). */
interface Ffi {
  dlopen(
    path: string,
    symbols: { waitpid: { args: string[]; returns: string } },
  ): { symbols: { waitpid(pid: number, status: unknown, options: number): number } };
  ptr(view: Int32Array): unknown;
}

/** Reaps orphans every second from now on when iqqq is PID 1 under Bun; never keeps iqqq alive. */
export async function reapOrphans(programPid: () => number | undefined, log: Logger): Promise<void> {
  if (process.pid !== 1 || process.versions.bun === undefined) return;
  const waitpid = await loadWaitpid(log);
  if (waitpid === undefined) return;
  let seen = new Set<number>();
  const scan = (): void => {
    const zombies = new Set<number>();
    try {
      for (const pid of listPids("/proc")) {
        if (pid === 1 || pid === programPid()) continue;
        const stat = readStat("/proc", pid);
        if (stat?.state !== "Z" || stat.ppid !== 1) continue;
        if (!seen.has(pid)) zombies.add(pid);
        else if (waitpid(pid) === pid) log.debug(`reaped orphan pid ${pid} (${stat.comm})`);
      }
    } catch (err) {
      log.debug(`orphan scan failed: ${(err as Error).message}`);
    }
    seen = zombies;
    later(INTERVAL_MS, scan, { ref: false });
  };
  later(INTERVAL_MS, scan, { ref: false });
  log.debug("PID 1: reaping orphaned processes every second");
}

async function loadWaitpid(log: Logger): Promise<WaitPid | undefined> {
  // A variable specifier: bundlers for Node must not try to resolve it.
  const ffiModule = "bun:ffi";
  try {
    const ffi = (await import(ffiModule)) as Ffi;
    for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"]) {
      try {
        const lib = ffi.dlopen(name, { waitpid: { args: ["i32", "ptr", "i32"], returns: "i32" } });
        const status = new Int32Array(1);
        const at = ffi.ptr(status);
        return (pid) => lib.symbols.waitpid(pid, at, WNOHANG);
      } catch {}
    }
    log.debug("PID 1: no libc to call waitpid() in; orphans are not reaped");
  } catch (err) {
    log.debug(`PID 1: bun:ffi unavailable (${(err as Error).message}); orphans are not reaped`);
  }
  return undefined;
}
