// The Node bundle's compile cache (src/runtime/compile-cache.ts): V8's code for
// dist/iqqq.mjs, kept in FILE.cache beside it, written by a run with
// IQQQ_COMPILE_CACHE=write (iqqq install has one) and read by every later start.
// A code cache is code, so what matters most here is what is NOT read: another
// build's cache, another Node's, a symlink, a file someone else could have
// written. --version says what became of the cache in its run. The Bun
// executable has no such cache: nothing here applies to it.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmod,
  chown,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI, CLI_IS_COMPILED, runCli } from "../support/cli.js";
import { startFakeSidecar } from "../support/fake-sidecar.js";

/** A copy of the bundle alone in a folder of its own, as an image has it. */
async function copied(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-cache-"));
  const bundle = join(dir, "iqqq.mjs");
  await copyFile(CLI, bundle);
  await chmod(bundle, 0o755);
  return bundle;
}

/** What --version says of the cache of `bundle`. */
async function cacheState(bundle: string, env: Record<string, string> = {}): Promise<string> {
  const r = await runCli(["--version"], { executable: bundle, env, timeoutMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.toString().split("\n")[2] ?? "";
  assert.ok(line.endsWith(`(${bundle}.cache)`), line);
  return line.slice("compile cache: ".length, line.lastIndexOf(" ("));
}

/** Has `bundle` write its cache in a run that stops a live sidecar and exits 3; returns the cache file. */
async function writeCache(bundle: string): Promise<string> {
  const sidecar = await startFakeSidecar();
  try {
    const r = await runCli(["sh", "-c", "exit 3"], {
      executable: bundle,
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port), IQQQ_COMPILE_CACHE: "write" },
      timeoutMs: 30_000,
    });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(sidecar.quits(), 1);
  } finally {
    await sidecar.close();
  }
  return `${bundle}.cache`;
}

describe("the Node bundle's compile cache", { skip: CLI_IS_COMPILED && "the executable has no compile cache" }, () => {
  test("copied alone: no cache used, none written, the program's status kept", async () => {
    const bundle = await copied();
    const r = await runCli(["sh", "-c", "echo out; exit 3"], { executable: bundle, timeoutMs: 30_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout.toString(), "out\n");
    assert.deepEqual(await readdir(join(bundle, "..")), ["iqqq.mjs"]);
    assert.equal(await cacheState(bundle), "none");
  });

  test("IQQQ_COMPILE_CACHE=write: written at the run's end, then used by every start; off: never read", async () => {
    const bundle = await copied();
    // Written readable by all whatever the umask: a pod's user reads what root wrote.
    const umask = spawnSync("sh", ["-c", 'umask 077; exec "$0" "$1" --version', process.execPath, bundle], {
      env: { PATH: process.env.PATH, IQQQ_COMPILE_CACHE: "write" },
    });
    assert.equal(umask.status, 0, String(umask.stderr));
    assert.equal((await stat(`${bundle}.cache`)).mode & 0o777, 0o644);
    await rmCache(bundle);
    const cache = await writeCache(bundle);
    const header = (await readFile(cache, "latin1")).split("\n", 1)[0] ?? "";
    assert.match(header, new RegExp(`^iqqq compile cache 1 [0-9a-f]{32} ${process.version} ${process.arch}$`));
    assert.equal((await stat(cache)).mode & 0o777, 0o644);
    assert.deepEqual((await readdir(join(bundle, ".."))).sort(), ["iqqq.mjs", "iqqq.mjs.cache"], "no temporary left");
    assert.equal(await cacheState(bundle), "used");
    assert.equal(await cacheState(bundle, { IQQQ_COMPILE_CACHE: "off" }), "off");
    // A run with the cache does the job as one without: the program's status, the sidecar stopped.
    const sidecar = await startFakeSidecar();
    try {
      const r = await runCli(["sh", "-c", "exit 5"], {
        executable: bundle,
        env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", ISTIO_PORT: String(sidecar.port) },
        timeoutMs: 30_000,
      });
      assert.equal(r.status, 5, r.stderr);
      assert.equal(sidecar.quits(), 1);
    } finally {
      await sidecar.close();
    }
    // A valid cache is not written again.
    const before = await stat(cache);
    await writeCache(bundle);
    assert.equal((await stat(cache)).ino, before.ino);
  });

  test("a cache not to trust is never read: a symlink, writable by others, someone else's, another build's", async () => {
    const bundle = await copied();
    const good = await writeCache(bundle);
    const bytes = await readFile(good);
    const cases: [string, (file: string) => Promise<void>][] = [
      ["a symlink to a good cache", (file) => symlink(`${bundle}.good`, file)],
      ["writable by its group", (file) => writeFile(file, bytes, { mode: 0o664 }).then(() => chmod(file, 0o664))],
      ["writable by anyone", (file) => writeFile(file, bytes).then(() => chmod(file, 0o646))],
      ["another build's (its code's hash)", (file) => writeFile(file, flipKey(bytes))],
      ["a header alone", (file) => writeFile(file, bytes.subarray(0, bytes.indexOf(10) + 1))],
      // Not waited on: a FIFO nobody writes to would hold the open forever.
      ["a FIFO", async (file) => assert.equal(spawnSync("mkfifo", [file]).status, 0)],
    ];
    if (process.getuid?.() === 0)
      cases.push(["owned by another user", (file) => writeFile(file, bytes).then(() => chown(file, 4242, 4242))]);
    await writeFile(`${bundle}.good`, bytes);
    for (const [what, make] of cases) {
      await rmCache(bundle);
      await make(`${bundle}.cache`);
      assert.equal(await cacheState(bundle), "none", what);
    }
  });

  test("a cache V8 refuses (damaged, or another Node's) is not used, and write replaces it", async () => {
    const bundle = await copied();
    const bytes = await readFile(await writeCache(bundle));
    const cut = bytes.subarray(0, bytes.length - 1000);
    await rmCache(bundle);
    await writeFile(`${bundle}.cache`, cut, { mode: 0o644 });
    assert.equal(await cacheState(bundle), "rejected by V8 (another Node's, or damaged)");
    await writeCache(bundle);
    assert.equal(await cacheState(bundle), "used");
  });

  test("a cache that cannot be written: a warning naming it, the program's status kept", async () => {
    const bundle = await copied();
    // A folder where the cache goes: the rename fails (not even root may replace a folder by a file).
    await mkdir(`${bundle}.cache`);
    const r = await runCli(["sh", "-c", "exit 4"], {
      executable: bundle,
      env: { IQQQ_COMPILE_CACHE: "write" },
      timeoutMs: 30_000,
    });
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /^iqqq: warning: cannot write the compile cache .*iqqq\.mjs\.cache: EISDIR\n$/);
    assert.deepEqual((await readdir(join(bundle, ".."))).sort(), ["iqqq.mjs", "iqqq.mjs.cache"], "no temporary left");
  });

  test("a bad IQQQ_COMPILE_CACHE is named, and nothing runs (78)", async () => {
    const bundle = await copied();
    const bad = await runCli(["sh", "-c", "echo ran"], {
      executable: bundle,
      env: { IQQQ_COMPILE_CACHE: "on" },
      timeoutMs: 30_000,
    });
    assert.equal(bad.status, 78, bad.stderr);
    assert.match(bad.stderr, /IQQQ_COMPILE_CACHE/);
    assert.equal(bad.stdout.toString(), "");
  });
});

async function rmCache(bundle: string): Promise<void> {
  await rm(`${bundle}.cache`, { force: true, recursive: true });
}

/** The cache with one hex digit of its code's hash changed. */
function flipKey(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf("iqqq compile cache 1 ") + "iqqq compile cache 1 ".length;
  copy[at] = copy[at] === 0x30 ? 0x31 : 0x30;
  return copy;
}
