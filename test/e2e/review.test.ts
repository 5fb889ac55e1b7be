// Holes a hostile review found (issue 12), end to end against the built CLI:
// each test here failed before its fix. Both builds: IQQQ_CLI picks the artefact.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CLI,
  CLI_IS_COMPILED,
  cliEnv,
  collect,
  FIXTURES,
  NODE,
  nulRecords,
  ROOT,
  runCli,
  startCli,
  watchOutput,
} from "../support/cli.js";
import { startFaultServer } from "../support/fault-server.js";
import { closedPort, fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

const SWITCHING = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "iqqq-review-"));
}

describe("1. a sidecar answering 101 Switching Protocols", () => {
  test("to the quit: a failed stop, and the program's status survives", async () => {
    const server = await startFaultServer((c) => void c.request.then(() => c.socket.write(SWITCHING)));
    try {
      const r = await runCli(["sh", "-c", "exit 7"], {
        env: { ...K8S, ISTIO_PORT: String(server.port), IQQQ_QUIT_TIMEOUT: "1s" },
      });
      assert.equal(r.status, 7, r.stderr);
      assert.match(r.stderr, /could not stop istio: POST .* (101|failed|timed out)/);
    } finally {
      await server.close();
    }
  });

  test("to every readiness poll: the wait times out and the program runs", async () => {
    const server = await startFaultServer((c) => void c.request.then(() => c.socket.write(SWITCHING)));
    const istio = await sidecar();
    try {
      const r = await runCli(["sh", "-c", "echo ran; exit 4"], {
        env: {
          ...K8S,
          ENVOY_ADMIN_API: server.url,
          WAIT_FOR_ENVOY_TIMEOUT: "700ms",
          ISTIO_PORT: String(istio.port),
        },
      });
      assert.equal(r.status, 4, r.stderr);
      assert.equal(r.stdout.toString(), "ran\n");
      assert.ok(server.connections() >= 2, "polled once only");
      assert.equal(istio.quits(), 1);
    } finally {
      await server.close();
    }
  });
});

describe("2. a plugin that leaves errors behind", () => {
  test("a stray rejection and a throw from a timer: the program runs to its end, the sidecar is stopped", async () => {
    const dir = await tempDir();
    const plugin = join(dir, "stray.mjs");
    await writeFile(
      plugin,
      `export default {
        beforeStart() {
          Promise.reject(new Error("stray rejection"));
          setTimeout(() => { throw new Error("thrown from a timer"); }, 20);
        },
      };\n`,
    );
    const istio = await sidecar();
    const r = await runCli(["sh", "-c", "sleep 0.4; echo done; exit 5"], {
      env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_PLUGINS: plugin },
    });
    assert.equal(r.status, 5, r.stderr);
    assert.equal(r.stdout.toString(), "done\n");
    assert.equal(istio.quits(), 1);
    assert.match(r.stderr, /unhandled rejection .*stray rejection/);
    assert.match(r.stderr, /uncaught exception .*thrown from a timer/);
  });
});

describe("3. durations longer than a timer holds (2^31 ms)", () => {
  for (const variable of ["QUIT_WITHOUT_ENVOY_TIMEOUT", "WAIT_FOR_ENVOY_TIMEOUT"] as const) {
    for (const value of ["597h", "1194h", "2562047h"]) {
      test(`${variable}=${value}: the wait goes on until SIGTERM`, async () => {
        const envoy = await sidecar({ kind: "envoy", ready: () => false });
        const istio = await sidecar();
        const child = startCli(["sh", "-c", "echo ran"], {
          env: { ...K8S, ENVOY_ADMIN_API: envoy.url, ISTIO_PORT: String(istio.port), [variable]: value },
        });
        let ended = false;
        const result = collect(child).finally(() => {
          ended = true;
        });
        const polls = () => envoy.requests.filter((q) => q.path === "/server_info").length;
        while (polls() < 4 && !ended) await sleep(50);
        child.kill("SIGTERM");
        const r = await result;
        assert.equal(r.status, 143, r.stderr);
        assert.equal(r.stdout.length, 0, "the program ran");
        assert.equal(istio.quits(), 1);
      });
    }
  }
});

describe("4. IQQQ_LOG_LEVEL=debug and the program's stderr", () => {
  test("iqqq's log lines leave the shared stderr blocking, and the program's output whole", async () => {
    const istio = await sidecar();
    const size = 3_000_000;
    // The program looks after iqqq has logged "started … as pid".
    const r = await runCli(
      ["sh", "-c", `sleep 0.3; grep flags /proc/self/fdinfo/2; head -c ${size} /dev/zero | tr '\\0' x >&2`],
      { env: { ...K8S, ISTIO_PORT: String(istio.port), IQQQ_LOG_LEVEL: "debug" } },
    );
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const flags = Number.parseInt(/flags:\s*([0-7]+)/.exec(r.stdout.toString())?.[1] ?? "", 8);
    const O_NONBLOCK = 0o4000;
    assert.equal(flags & O_NONBLOCK, 0, `stderr is non-blocking: flags ${flags.toString(8)}`);
    assert.equal(/x+/.exec(r.stderr)?.[0].length, size, "the program's stderr was cut short");
    assert.match(r.stderr, /iqqq: started "sh" as pid/);
  });
});

const canUnshare = process.getuid?.() === 0 && spawnSync("unshare", ["--net", "--mount", "true"]).status === 0;

/**
 * Runs iqqq in a network and mount namespace of its own whose only nameserver is
 * the dns-server fixture, in `mode`, and whose pilot-agent (fake) listens on :15020.
 */
async function withNameserver(mode: "answer" | "blackhole", env: Record<string, string>) {
  const dir = await tempDir();
  await writeFile(join(dir, "resolv.conf"), "nameserver 127.0.0.1\n");
  const fake = join(ROOT, "build/test/support/fake-sidecar.js");
  const script = [
    "set -e",
    "ip link set lo up",
    `mount --bind "${dir}/resolv.conf" /etc/resolv.conf`,
    `"${NODE}" "${FIXTURES}dns-server.js" ${mode} > "${dir}/dns.log" 2>&1 & dns=$!`,
    `"${NODE}" "${fake}" --port 15020 --stay > "${dir}/sidecar.log" 2>&1 & sidecar=$!`,
    `trap 'kill $dns $sidecar 2>/dev/null' EXIT`,
    `i=0; until grep -q listening "${dir}/dns.log" && grep -q listening "${dir}/sidecar.log"; do i=$((i+1)); [ $i -lt 200 ] || exit 90; sleep 0.05; done`,
    `"${CLI}" sh -c 'exit 3' && status=0 || status=$?`,
    `cat "${dir}/sidecar.log" >&2`,
    "exit $status",
  ].join("\n");
  const child = spawn("unshare", ["--net", "--mount", "sh", "-c", script], {
    env: cliEnv({ ...K8S, ...env }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  return collect(child, { timeoutMs: 30_000 });
}

describe("5. environment values that are not UTF-8", () => {
  test("reach the program byte for byte, a 100 KB one included, and nothing is added", async () => {
    // The shell gives iqqq the raw bytes (JavaScript strings cannot hold them).
    const script = [
      "unset PWD",
      `RAW=$(printf 'caf\\351 %% \\\\ \\342\\234\\223'); export RAW`,
      `LAT=$(printf '\\377\\376'); export LAT`,
      `BIG=$(head -c 100000 /dev/zero | tr '\\000' '\\377'); export BIG`,
      'exec "$0" env -0',
    ].join("\n");
    const child = spawn("sh", ["-c", script, CLI], { env: cliEnv({ PLAIN: "ok" }), stdio: ["pipe", "pipe", "pipe"] });
    const r = await collect(child);
    assert.equal(r.status, 0, r.stderr);
    const got = nulRecords(r.stdout).sort(Buffer.compare);
    const want = [
      Buffer.from(`PATH=${cliEnv().PATH}`),
      Buffer.from("PLAIN=ok"),
      Buffer.concat([Buffer.from("RAW=caf"), Buffer.from([0xe9]), Buffer.from(" % \\ ✓")]),
      Buffer.concat([Buffer.from("LAT="), Buffer.from([0xff, 0xfe])]),
      Buffer.concat([Buffer.from("BIG="), Buffer.alloc(100_000, 0xff)]),
    ].sort(Buffer.compare);
    assert.deepEqual(
      got.map((b) => b.toString("latin1")),
      want.map((b) => b.toString("latin1")),
    );
  });
});

describe("5b. variables sh would not pass on, when the program starts through it", () => {
  // A value that is not UTF-8 sends the program through /bin/sh (program/bytes.ts). dash drops a
  // variable whose name is no shell name and makes IFS, OPTIND and PPID its own: env(1) sets them again.
  test("names that are no shell names, or not UTF-8, and the shell's own, reach the program as they were, raw ones too", async () => {
    const script = [
      "unset PWD",
      `RAW=$(printf 'x\\351'); export RAW`,
      `exec env 'spring.profile=dev' 'A-B=1' "$(printf 'a.b=\\376')" "$(printf '\\377X=1')" IFS=: OPTIND=5 PPID=3 PS4=p PWD=/ "$0" env -0`,
    ].join("\n");
    const child = spawn("sh", ["-c", script, CLI], { env: cliEnv({ PLAIN: "ok" }), stdio: ["pipe", "pipe", "pipe"] });
    const r = await collect(child);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const got = nulRecords(r.stdout).map((b) => b.toString("latin1"));
    const want = [
      `PATH=${cliEnv().PATH}`,
      "PLAIN=ok",
      "RAW=x\xe9",
      "spring.profile=dev",
      "A-B=1",
      "a.b=\xfe",
      "\xffX=1",
      "IFS=:",
      "OPTIND=5",
      "PPID=3",
      "PS4=p",
      "PWD=/",
    ];
    assert.deepEqual(got.sort(), want.sort());
  });
});

describe("5d. a name that is not UTF-8, and nothing else to alter", () => {
  test("the executable passes it on raw; Node never has it in process.env, and the bundle cannot (docs/limits.md)", async () => {
    const script = `exec env -i PATH="$PATH" "$(printf '\\377X=1')" "$0" env -0`;
    const child = spawn("sh", ["-c", script, CLI], { env: cliEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const r = await collect(child);
    assert.equal(r.status, 0, r.stderr);
    const got = nulRecords(r.stdout).map((b) => b.toString("latin1"));
    assert.equal(got.includes("\xffX=1"), CLI_IS_COMPILED, got.join(" "));
  });
});

describe("5c. arguments that are not UTF-8, too many once escaped", () => {
  test("exit 126, and the message says the escaping for sh made them too large", async () => {
    // Arguments of 100 KB of 0xFF: a quarter of the kernel's limit and a little more as given, past it escaped.
    const script = [
      `A=$(head -c 100000 /dev/zero | tr '\\000' '\\377')`,
      "n=$(( $(getconf ARG_MAX) / 400000 + 2 )); set --",
      'while [ "$n" -gt 0 ]; do set -- "$@" "$A"; n=$((n - 1)); done',
      'exec "$0" true "$@"',
    ].join("\n");
    const child = spawn("sh", ["-c", script, CLI], { env: cliEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const r = await collect(child);
    assert.equal(r.status, 126, r.stderr);
    assert.match(
      r.stderr,
      /"true": cannot execute: E2BIG: .* once each byte that is not UTF-8 is escaped as four for \/bin\/sh/,
    );
  });
});

describe("7. SIGTERM and the program's own children", () => {
  // sh runs a child shell in the foreground; that grandchild says when TERM reaches it.
  const grandchild = `trap "echo grandchild got TERM; exit 5" TERM; echo "ready $$"; while :; do sleep 0.05; done`;
  const program = ["sh", "-c", `sh -c '${grandchild}'`];

  async function terminate(env: Record<string, string>) {
    const istio = await sidecar();
    const child = startCli(program, { env: { ...K8S, ISTIO_PORT: String(istio.port), ...env } });
    const out = watchOutput(child.stdout as NodeJS.ReadableStream);
    const result = collect(child, { timeoutMs: 15_000 });
    await out.until("ready ");
    const pid = Number(/ready (\d+)/.exec(out.text())?.[1]);
    await sleep(100);
    child.kill("SIGTERM");
    await sleep(500);
    // Whatever still runs (the default case's orphaned grandchild) is ended here.
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
    return { ...(await result), out: out.text(), quits: istio.quits() };
  }

  test("by default it reaches the program alone, as documented", async () => {
    const r = await terminate({});
    assert.equal(r.status, 143, r.stderr);
    assert.doesNotMatch(r.out, /grandchild got TERM/);
    assert.equal(r.quits, 1);
  });

  test("IQQQ_SIGNAL_GROUP=true: it reaches the whole process group, as tini -g", async () => {
    const r = await terminate({ IQQQ_SIGNAL_GROUP: "true" });
    assert.match(r.out, /grandchild got TERM/);
    assert.equal(r.status, 143, r.stderr);
    assert.equal(r.quits, 1);
  });
});

describe("8. odd places to start from", () => {
  test("a script without #! runs with /bin/sh, as execvp(3) runs it", async () => {
    const dir = await tempDir();
    const script = join(dir, "job");
    await writeFile(script, "echo from the script\nexit 9\n");
    await chmod(script, 0o755);
    const r = await runCli([script, "a"]);
    assert.equal(r.status, 9, r.stderr);
    assert.equal(r.stdout.toString(), "from the script\n");
  });

  test("a working directory deleted before the start: the program runs, its status kept", async () => {
    const dir = await tempDir();
    const child = spawn(
      "sh",
      ["-c", 'cd "$1" && rmdir "$1" && exec "$0" sh -c "echo ran; exit 4"', resolve(CLI), dir],
      {
        env: cliEnv(),
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    const r = await collect(child);
    assert.equal(r.status, 4, r.stderr);
    assert.equal(r.stdout.toString(), "ran\n");
  });
});

describe("6. a host name in a sidecar URL (Node: getaddrinfo cannot be cancelled)", () => {
  const skip = canUnshare ? false : "needs root and unshare(1) (CI runs as root)";

  test("a name the nameserver answers: the quit reaches it", { skip }, async () => {
    const r = await withNameserver("answer", { ISTIO_QUIT_API: "http://pilot-agent.example:15020" });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /^request POST \/quitquitquit$/m);
  });

  test("a nameserver that never answers: iqqq ends within its budget, with the program's status", {
    skip,
  }, async () => {
    const r = await withNameserver("blackhole", {
      ISTIO_QUIT_API: "http://pilot-agent.example:15020",
      IQQQ_QUIT_TIMEOUT: "1s",
    });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /could not stop istio/);
    // A bound against the hang (resolv.conf's 5 s × 2 attempts), not a speed test.
    assert.ok(r.durationMs < 6000, `took ${r.durationMs} ms`);
  });
});

describe("9. plugin hooks together are bounded", () => {
  test("two hanging plugins: IQQQ_PLUGIN_BUDGET ends their hooks, the stop and the status are kept", async () => {
    const dir = await tempDir();
    const hang = `export default { afterExit: () => new Promise(() => {}), beforeStop: () => new Promise(() => {}), afterStop: () => new Promise(() => {}) };\n`;
    const paths = [join(dir, "a.mjs"), join(dir, "b.mjs")];
    for (const p of paths) await writeFile(p, hang);
    const istio = await sidecar();
    const r = await runCli(["sh", "-c", "exit 3"], {
      env: {
        ...K8S,
        ISTIO_PORT: String(istio.port),
        IQQQ_PLUGINS: paths.join(","),
        IQQQ_PLUGIN_TIMEOUT: "400ms",
        IQQQ_PLUGIN_BUDGET: "1s",
      },
    });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(istio.quits(), 1);
    // 400 + 400 + what is left of the budget (about 200), then every other hook is skipped.
    assert.equal((r.stderr.match(/did not finish within 400ms \(IQQQ_PLUGIN_TIMEOUT\)/g) ?? []).length, 2);
    assert.match(r.stderr, /beforeStop did not finish within \d+ms \(IQQQ_PLUGIN_BUDGET\)/);
    assert.equal((r.stderr.match(/not run: the plugins' IQQQ_PLUGIN_BUDGET is used up/g) ?? []).length, 3);
  });
});

describe("10. a catastrophic IQQQ_WATCH_PATTERN", () => {
  test("matched in linear time: the start limit still ends the watch, with the sidecar stopped", async () => {
    // A process whose command line is 40 a's and a "!": /^(a+)+$/ backtracks 2^40
    // times on it in a backtracking engine, at 100% CPU, deaf to signals.
    const decoy = spawn("sleep", ["30"], { argv0: `${"a".repeat(40)}!` });
    const istio = await sidecar();
    try {
      const r = await runCli([], {
        env: {
          ...K8S,
          ISTIO_PORT: String(istio.port),
          IQQQ_WATCH_PATTERN: "^(a+)+$",
          IQQQ_WATCH_START_TIMEOUT: "1s",
        },
        timeoutMs: 15_000,
      });
      assert.equal(r.status, 75, r.stderr);
      assert.equal(istio.quits(), 1);
    } finally {
      decoy.kill("SIGKILL");
    }
  });

  test("a backreference is refused by name, in both builds: exit 78, nothing watched", async () => {
    const r = await runCli([], { env: { ...K8S, IQQQ_WATCH_PATTERN: "(job)\\1" } });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /IQQQ_WATCH_PATTERN.*backreferences .* not supported/);
  });
});

describe("low: credentials in sidecar URLs", () => {
  test("a password in a sidecar URL is never printed, in logs or --explain", async () => {
    const env = {
      ...K8S,
      ISTIO_QUIT_API: `http://job:s3cret@127.0.0.1:${await closedPort()}`,
      IQQQ_LOG_LEVEL: "debug",
    };
    const run = await runCli(["true"], { env: { ...env, IQQQ_QUIT_TIMEOUT: "300ms" } });
    const explain = await runCli(["--explain", "true"], { env });
    const bad = await runCli(["true"], { env: { ...env, ISTIO_QUIT_API: "ftp://job:s3cret@127.0.0.1" } });
    assert.equal(bad.status, 78);
    for (const r of [run, explain, bad]) {
      assert.match(r.stderr + r.stdout.toString(), /job:\*\*\*@127\.0\.0\.1/);
      assert.doesNotMatch(r.stderr + r.stdout.toString(), /s3cret/);
    }
  });
});

describe("low: plugins others may write to", () => {
  test("a world-writable plugin is not loaded, with a warning; the program runs", async () => {
    const dir = await tempDir();
    const plugin = join(dir, "open.mjs");
    await writeFile(plugin, `export default { beforeStart: () => { process.stdout.write("plugin ran\\n"); } };\n`);
    await chmod(plugin, 0o666);
    const r = await runCli(["sh", "-c", "echo program ran"], { env: { IQQQ_PLUGINS: plugin } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), "program ran\n");
    assert.match(r.stderr, /open\.mjs: not loaded: .* is writable by every user/);
  });
});
