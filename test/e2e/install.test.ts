// iqqq install DIR, black-box on both builds: what an init container runs to put
// iqqq into an emptyDir (iqqq inject). From the image's self-contained layout
// (a loader beside the executable, libraries in lib/) the whole folder is
// copied; otherwise the running file alone. The pods suite runs the real image.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmod,
  copyFile,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import { CLI, ROOT, runCli } from "../support/cli.js";

/** The image's layout in DIR/opt-iqqq (the CLI under test beside a loader, libraries in lib/); its executable. */
async function selfContained(dir: string): Promise<string> {
  const source = join(dir, "opt-iqqq");
  await mkdir(join(source, "lib"), { recursive: true });
  const self = join(source, basename(CLI));
  await copyFile(CLI, self);
  await chmod(self, 0o755);
  // The Node bundle's commands (install among them) are files beside it, as the npm package has them.
  if (CLI.endsWith(".mjs")) await cp(join(dirname(CLI), "commands"), join(source, "commands"), { recursive: true });
  await writeFile(join(source, "ld-linux-x86-64.so.2"), "loader");
  await writeFile(join(source, "lib", "libc.so.6"), "libc");
  await chmod(join(source, "lib"), 0o750);
  return self;
}

test("from a self-contained folder: the whole folder is copied, modes kept, and the copy runs", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-install-"));
  const self = await selfContained(dir);
  const target = join(dir, "emptydir", "nested");
  const r = await runCli(["install", target], { executable: self, timeoutMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.length, 0);
  assert.match(r.stderr, /installed .*opt-iqqq\/ \(self-contained\) into /);
  const files = [basename(CLI), "ld-linux-x86-64.so.2", "lib", ...(CLI.endsWith(".mjs") ? ["commands"] : [])];
  assert.deepEqual((await readdir(target)).sort(), files.sort());
  assert.deepEqual(await readdir(join(target, "lib")), ["libc.so.6"]);
  assert.equal((await stat(join(target, basename(CLI)))).mode & 0o777, 0o755);
  assert.equal((await stat(join(target, "lib"))).mode & 0o777, 0o750, "a folder's mode");
  const copy = await runCli(["--version"], { executable: join(target, basename(CLI)), timeoutMs: 30_000 });
  assert.equal(copy.status, 0, copy.stderr);
  // Again into the same folder (an init container that restarts): it overwrites.
  assert.equal((await runCli(["install", target], { executable: self, timeoutMs: 30_000 })).status, 0);
});

test("from anywhere else: the running file alone, always as DIR/iqqq", async () => {
  const target = await mkdtemp(join(tmpdir(), "iqqq-install-plain-"));
  const r = await runCli(["install", target], { timeoutMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  // The Node bundle keeps its .mjs beside a link (Node 20 runs an extensionless file as CommonJS).
  // … and its compile cache for this Node, written by one run of the copy (test/e2e/compile-cache.test.ts).
  assert.deepEqual(
    (await readdir(target)).sort(),
    CLI.endsWith(".mjs") ? ["iqqq", "iqqq.mjs", "iqqq.mjs.cache"] : ["iqqq"],
  );
  const copy = await runCli(["--version"], { executable: join(target, "iqqq") });
  assert.equal(copy.status, 0, copy.stderr);
  if (CLI.endsWith(".mjs")) {
    assert.match(r.stderr, /its compile cache for this Node is .*iqqq\.mjs\.cache\n/);
    assert.match(copy.stdout.toString(), /^compile cache: used \(.*\/iqqq\.mjs\.cache\)$/m);
    // IQQQ_COMPILE_CACHE=off: no cache written; a value it does not know: 78, nothing copied.
    const bare = await mkdtemp(join(tmpdir(), "iqqq-install-nocache-"));
    const off = await runCli(["install", bare], { env: { IQQQ_COMPILE_CACHE: "off" }, timeoutMs: 30_000 });
    assert.equal(off.status, 0, off.stderr);
    assert.deepEqual((await readdir(bare)).sort(), ["iqqq", "iqqq.mjs"]);
    const typo = await mkdtemp(join(tmpdir(), "iqqq-install-typo-"));
    const bad = await runCli(["install", typo], { env: { IQQQ_COMPILE_CACHE: "of" }, timeoutMs: 30_000 });
    assert.equal(bad.status, 78, bad.stderr);
    assert.match(bad.stderr, /IQQQ_COMPILE_CACHE="of": expected off or write/);
    assert.deepEqual(await readdir(typo), []);
    // V8 takes a cache only under the flags it was made with: install passes NODE_OPTIONS on.
    const flagged = await mkdtemp(join(tmpdir(), "iqqq-install-flags-"));
    const flags = { NODE_OPTIONS: "--max-old-space-size=512" };
    assert.equal((await runCli(["install", flagged], { env: flags, timeoutMs: 30_000 })).status, 0);
    const run = await runCli(["--version"], { executable: join(flagged, "iqqq"), env: flags });
    assert.match(run.stdout.toString(), /^compile cache: used /m);
    // The bundle run by the bun CLI: the bundle is copied (not bun itself), and no V8 cache is made.
    const underBun = await mkdtemp(join(tmpdir(), "iqqq-install-bun-"));
    const bun = spawnSync(join(ROOT, "node_modules/.bin/bun"), [CLI, "install", underBun], {
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });
    assert.equal(bun.status, 0, bun.stderr);
    assert.deepEqual((await readdir(underBun)).sort(), ["iqqq", "iqqq.mjs"]);
    assert.deepEqual(await readFile(join(underBun, "iqqq.mjs")), await readFile(CLI));
    // A cache that cannot be made (a folder at its name): a warning saying so, the copy still installed.
    const blocked = await mkdtemp(join(tmpdir(), "iqqq-install-blocked-"));
    await mkdir(join(blocked, "iqqq.mjs.cache"));
    const warned = await runCli(["install", blocked], { timeoutMs: 30_000 });
    assert.equal(warned.status, 0, warned.stderr);
    assert.match(warned.stderr, /warning: no compile cache for .*EISDIR.*: it runs, and starts slower\n$/);
  }
});

test("bad use: no folder or two (64), a folder that cannot be made (73); `iqqq -- install` runs a program", async () => {
  for (const args of [["install"], ["install", "a", "b"], ["install", "--force"]]) {
    const r = await runCli(args, { timeoutMs: 30_000 });
    assert.equal(r.status, 64, args.join(" "));
    assert.match(r.stderr, /expected one folder to copy iqqq into/);
  }
  const r = await runCli(["install", "/proc/iqqq-cannot"], { timeoutMs: 30_000 });
  assert.equal(r.status, 73);
  assert.match(r.stderr, /cannot copy into \/proc\/iqqq-cannot: E[A-Z]+/);
  const gnu = await runCli(["--", "install", "--version"], { timeoutMs: 30_000 });
  assert.equal(gnu.status, 0, gnu.stderr);
  assert.match(gnu.stdout.toString(), /install \(GNU coreutils\)/);
});

test("a symlink planted in DIR is never written through: replaced (DIR/iqqq), or refused (the image's folder)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-install-link-"));
  const victim = join(dir, "victim");
  await writeFile(victim, "precious\n");
  await chmod(victim, 0o600);
  const target = join(dir, "emptydir");
  await mkdir(target);
  await symlink(victim, join(target, "iqqq"));
  const r = await runCli(["install", target], { timeoutMs: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(await readFile(victim, "utf8"), "precious\n");
  assert.equal((await stat(victim)).mode & 0o777, 0o600);
  // DIR/iqqq is iqqq's own now: the executable, or the bundle's link to its .mjs.
  if (CLI.endsWith(".mjs")) assert.equal(await readlink(join(target, "iqqq")), "iqqq.mjs");
  else assert.equal((await lstat(join(target, "iqqq"))).isSymbolicLink(), false);
  // The image's self-contained folder: a link where a file of it goes is refused, exit 73.
  const self = await selfContained(dir);
  const planted = join(dir, "planted");
  await mkdir(join(planted, "lib"), { recursive: true });
  await symlink(victim, join(planted, "lib", "libc.so.6"));
  const refused = await runCli(["install", planted], { executable: self, timeoutMs: 30_000 });
  assert.equal(refused.status, 73, refused.stderr);
  assert.match(refused.stderr, /lib\/libc\.so\.6 is a symbolic link: not followed, nothing copied/);
  assert.equal(await readFile(victim, "utf8"), "precious\n");
});

const canMount = process.getuid?.() === 0 && spawnSync("unshare", ["--mount", "true"]).status === 0;

test("a copy cut short (the folder's disk full): 73, nothing left behind, no partial file under a name that runs", {
  skip: canMount ? false : "needs root and unshare(1) to mount a small tmpfs (CI runs as root)",
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-install-full-"));
  const self = await selfContained(dir);
  // More than the folder holds, in lib/, copied before the executable.
  await writeFile(join(dirname(self), "lib", "libbig.so"), Buffer.alloc(3 * 1024 * 1024, 1));
  const mount = join(dir, "mnt");
  await mkdir(mount);
  const cli = CLI.endsWith(".mjs") ? `"${process.execPath}" "${self}"` : `"${self}"`;
  // A tmpfs of 2 MiB in a mount namespace of its own: the copy runs out of room.
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "sh",
      "-c",
      `mount -t tmpfs -o size=2m tmpfs "${mount}" && { ${cli} install "${mount}/d"; echo "status $?"; ls -A "${mount}/d" "${mount}/d/lib"; }`,
    ],
    { encoding: "utf8", env: { PATH: process.env.PATH } },
  );
  assert.match(r.stdout, /^status 73$/m, r.stderr + r.stdout);
  assert.match(r.stderr, /cannot copy into .*: ENOSPC/);
  const listed = r.stdout.split("\n").filter((l) => l !== "" && !l.startsWith("status") && !l.endsWith(":"));
  assert.ok(!listed.includes(basename(CLI)), `the executable is there: ${listed}`);
  assert.deepEqual(
    listed.filter((l) => l.startsWith(".iqqq.")),
    [],
    "temporary files left behind",
  );
});
