// The wrapper end to end: the built CLI, real programs, a fake pilot-agent on loopback.

import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, stat, writeFile } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI_IS_COMPILED, pool, runCli } from "../support/cli.js";
import { sharedSidecar } from "../support/sidecars.js";

const shared = sharedSidecar();

/** Runs the CLI and checks that it stopped the shared.sidecar exactly once. */
async function runAndCountQuits(args: string[], extraEnv: Record<string, string> = {}) {
  const before = shared.sidecar.quits();
  const result = await runCli(args, { env: { ...shared.env, ...extraEnv } });
  return { ...result, quits: shared.sidecar.quits() - before };
}

describe("exit status", () => {
  test("every exit code 0-255 is passed through, and the shared.sidecar is stopped each time", async () => {
    const before = shared.sidecar.quits();
    const results = await pool(256, 4, (code) => runCli(["sh", "-c", `exit ${code}`], { env: shared.env }));
    for (const [code, r] of results.entries()) assert.equal(r.status, code, `exit ${code}: ${r.stderr}`);
    assert.equal(shared.sidecar.quits() - before, 256);
  });

  // Standard signals whose default action terminates the process. Realtime
  // signals are left out: Node reports a child they kill as "exit 0" (docs/limits.md).
  const fatal = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
  ] as const;
  test("a program killed by signal N exits 128+N, and the shared.sidecar is stopped", async () => {
    const before = shared.sidecar.quits();
    const results = await pool(fatal.length, 4, (i) =>
      runCli(["sh", "-c", `kill -${constants.signals[fatal[i] as NodeJS.Signals]} $$`], { env: shared.env }),
    );
    for (const [i, r] of results.entries()) {
      const name = fatal[i] as NodeJS.Signals;
      assert.equal(r.status, 128 + constants.signals[name], `${name}: ${r.stderr}`);
    }
    assert.equal(shared.sidecar.quits() - before, fatal.length);
  });

  test("command not found: 127, a message naming it, and the shared.sidecar is still stopped", async () => {
    const r = await runAndCountQuits(["iqqq-no-such-command-x", "arg"]);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /iqqq: error: "iqqq-no-such-command-x": command not found/);
    assert.equal(r.quits, 1);
  });

  test("missing path: 127, and the shared.sidecar is still stopped", async () => {
    const r = await runAndCountQuits(["/nonexistent/dir/prog"]);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /"\/nonexistent\/dir\/prog": no such file/);
    assert.equal(r.quits, 1);
  });

  test("found but not executable: 126, and the shared.sidecar is still stopped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-"));
    const file = join(dir, "not-executable");
    await writeFile(file, "#!/bin/sh\nexit 0\n");
    await chmod(file, 0o644);
    for (const target of [file, dir]) {
      const r = await runAndCountQuits([target]);
      assert.equal(r.status, 126, target);
      assert.match(r.stderr, target === dir ? /is a directory, not a program/ : /cannot execute/);
      assert.equal(r.quits, 1);
    }
  });

  test("a bare name PATH holds only as a non-executable file or a directory: 126, as execvp says (EACCES)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-"));
    await writeFile(join(dir, "iqqq-not-executable"), "#!/bin/sh\nexit 0\n");
    await chmod(join(dir, "iqqq-not-executable"), 0o644);
    await mkdir(join(dir, "iqqq-a-directory"));
    const env = { PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}` };
    const file = await runCli(["iqqq-not-executable"], { env });
    assert.equal(file.status, 126, file.stderr);
    assert.match(file.stderr, /"iqqq-not-executable": cannot execute: permission denied/);
    const folder = await runCli(["iqqq-a-directory"], { env });
    assert.equal(folder.status, 126, folder.stderr);
    assert.match(folder.stderr, /"iqqq-a-directory": is a directory, not a program/);
  });

  test("an empty PATH entry is the working directory, as execvp says: the program there runs, called by its name", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-"));
    await writeFile(join(dir, "iqqq-here"), '#!/bin/sh\necho "from here: $(basename "$0")"\nexit 6\n');
    await chmod(join(dir, "iqqq-here"), 0o755);
    for (const path of [`:${process.env.PATH ?? "/usr/bin:/bin"}`, `${process.env.PATH ?? "/usr/bin:/bin"}:`]) {
      const r = await runCli(["iqqq-here"], { env: { PATH: path }, cwd: dir });
      assert.equal(r.status, 6, `${path}: ${r.stderr}`);
      assert.equal(r.stdout.toString(), "from here: iqqq-here\n");
    }
    // No empty entry: not looked for there.
    const none = await runCli(["iqqq-here"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, cwd: dir });
    assert.equal(none.status, 127, none.stderr);
  });

  test("a command is looked up on PATH", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-"));
    await writeFile(join(dir, "my-job"), "#!/bin/sh\necho from-path\nexit 7\n");
    await chmod(join(dir, "my-job"), 0o755);
    const r = await runCli(["my-job"], { env: { ...shared.env, PATH: `${dir}:${process.env.PATH}` } });
    assert.equal(r.status, 7);
    assert.equal(r.stdout.toString(), "from-path\n");
  });
});

describe("arguments and stdio", () => {
  test("arguments reach the program verbatim", async () => {
    const args = [
      "-la",
      "--help",
      "--version",
      "--",
      "",
      " spaced  out ",
      "ünïcødé ✓ 🚀",
      "$HOME",
      "'\"`",
      "a\nb",
      "-",
    ];
    const r = await runCli(["sh", "-c", 'printf "%s\\0" "$@"', "sh", ...args], { env: shared.env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.toString().split("\0").slice(0, -1), args);
  });

  test("stdin, stdout and stderr are the program's, byte for byte", async () => {
    const input = Buffer.alloc(256 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 8)) & 0xff;
    const r = await runCli(["sh", "-c", "cat; printf 'to-stderr\\n' >&2"], {
      env: { ...shared.env, IQQQ_LOG_LEVEL: "debug" },
      input,
    });
    assert.equal(r.status, 0);
    assert.ok(r.stdout.equals(input), "stdout differs from stdin");
    assert.match(r.stderr, /^to-stderr$/m);
  });

  test("iqqq writes nothing to stdout, even at debug level and when things fail", async () => {
    for (const args of [["true"], ["false"], ["iqqq-no-such-command-x"], ["sh", "-c", "kill -TERM $$"]]) {
      const r = await runCli(args, { env: { ...shared.env, IQQQ_LOG_LEVEL: "debug", ISTIO_PORT: "1" } });
      assert.equal(r.stdout.length, 0, `${args}: ${r.stdout}`);
      assert.ok(
        r.stderr
          .split("\n")
          .filter(Boolean)
          .every((l) => l.startsWith("iqqq: ")),
        r.stderr,
      );
    }
  });

  test("quiet by default: a clean run logs nothing", async () => {
    const r = await runCli(["true"], { env: shared.env });
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
  });
});

describe("the order of things", () => {
  test("the shared.sidecar is stopped after the program has ended, with a POST to /quitquitquit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-"));
    const marker = join(dir, "ended");
    const count = shared.sidecar.requests.length;
    const r = await runCli(["sh", "-c", `sleep 0.2; touch ${marker}; exit 3`], { env: shared.env });
    assert.equal(r.status, 3);
    const requests = shared.sidecar.requests.slice(count);
    assert.equal(requests.length, 1);
    assert.equal(requests[0]?.method, "POST");
    assert.equal(requests[0]?.path, "/quitquitquit");
    assert.match(String(requests[0]?.headers["user-agent"]), /^iqqq\//);
    const ended = (await stat(marker)).mtimeMs;
    assert.ok((requests[0]?.at ?? 0) >= Math.floor(ended), "quit was sent before the program ended");
  });

  test("a bad variable runs nothing and stops nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-"));
    const marker = join(dir, "ran");
    const count = shared.sidecar.requests.length;
    const r = await runCli(["sh", "-c", `touch ${marker}`], { env: { ...shared.env, IQQQ_QUIT_TIMEOUT: "forever" } });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /IQQQ_QUIT_TIMEOUT="forever" is invalid/);
    await assert.rejects(stat(marker));
    assert.equal(shared.sidecar.requests.length, count);
  });

  test("an unknown option runs nothing and exits 64", async () => {
    const r = await runCli(["--verbose", "true"], { env: shared.env });
    assert.equal(r.status, 64);
    assert.match(r.stderr, /unknown option "--verbose"/);
  });
});

describe("--help and --version", () => {
  test("--help goes to stdout and documents every variable and exit code", async () => {
    const { VARIABLES } = await import("../../src/config/variables.js");
    const r = await runCli(["--help"]);
    assert.equal(r.status, 0);
    const help = r.stdout.toString();
    for (const v of VARIABLES) assert.ok(help.includes(v.name), v.name);
    for (const code of ["126", "127", "128+N", "64", "69", "78"]) assert.ok(help.includes(code), code);
    assert.equal(r.stderr, "");
  });
  test("--version prints package.json's version", async () => {
    const { readFile } = await import("node:fs/promises");
    const { ROOT } = await import("../support/cli.js");
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    const r = await runCli(["--version"]);
    const [first, second] = r.stdout.toString().split("\n");
    assert.equal(first, `iqqq ${version}`);
    // The build details a bug report needs.
    assert.match(second ?? "", CLI_IS_COMPILED ? /^Bun executable, bun \d+\.\d+/ : /^Node bundle, node \d+\.\d+/);
    assert.match(second ?? "", new RegExp(`, ${process.platform}-${process.arch}$`));
  });

  test("-h is --help; --explain says when PROGRAM cannot be found and what the run would exit with", async () => {
    const h = await runCli(["-h"]);
    assert.equal(h.status, 0);
    assert.equal(h.stdout.toString(), (await runCli(["--help"])).stdout.toString());
    const missing = await runCli(["--explain", "pyhton", "x"]);
    assert.equal(missing.status, 0);
    assert.match(missing.stdout.toString(), /"pyhton" is not found in PATH .*: the run would exit 127/);
    const found = await runCli(["--explain", "sh", "-c", "true"]);
    assert.match(found.stdout.toString(), /run \["sh","-c","true"\] \(\/\S*\/sh\)/);
  });
  test("options after PROGRAM are the program's", async () => {
    const r = await runCli(["sh", "-c", 'echo "$@"', "sh", "--help"], { env: shared.env });
    assert.equal(r.stdout.toString(), "--help\n");
  });
});
