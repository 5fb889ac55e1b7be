// iqqq as PID 1 of a fresh PID namespace (unshare --pid --fork --mount-proc), as a
// container's ENTRYPOINT is, under Node and under Bun (the compiled executable):
// forwarding, signals from inside the namespace, every signal 1-64, and orphaned
// grandchildren, which a PID 1 is expected to reap.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants as fs, readFileSync } from "node:fs";
import { arch } from "node:os";
import { describe, test } from "node:test";
import { CLI, cliEnv, pool, ROOT } from "../support/cli.js";
import { sharedSidecar } from "../support/sidecars.js";
import { record } from "./figures.js";
import { childrenOf, printSignals, SWEEP, type SweepRow, sweepOne, watch } from "./harness.js";

const canUnshare =
  process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;
const skip = canUnshare ? false : "needs root and unshare(1) (CI runs as root)";

function executable(path: string): boolean {
  try {
    accessSync(path, fs.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface Runtime {
  readonly name: "node" | "bun";
  readonly command: readonly string[];
  /** Whether it reaps orphans as PID 1: measured below, and documented. */
  readonly reaps: boolean;
  /** Signals that kill it even as PID 1 (handlers the runtime itself installs). */
  readonly fatal: readonly string[];
}

const BUN_BINARY = `${ROOT}dist/bin/iqqq-linux-${arch()}`;
const runtimes: Runtime[] = [
  { name: "node", command: [CLI], reaps: false, fatal: [] },
  ...(executable(BUN_BINARY)
    ? [
        {
          name: "bun",
          command: [BUN_BINARY],
          // waitpid() through bun:ffi (src/runtime/reaper.ts).
          reaps: true,
          // Bun's crash handler catches these and aborts, even when sent by kill().
          fatal: ["SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV"],
        } as const,
      ]
    : []),
];

const shared = sharedSidecar();

/** Runs iqqq as PID 1; `init()` is its pid as seen from here, once it exists. */
function asPid1(runtime: Runtime, args: readonly string[], extra: Record<string, string> = {}, timeoutMs?: number) {
  const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", ...runtime.command, ...args], {
    env: cliEnv({ ...shared.env, ...extra }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const watched = watch(child, timeoutMs);
  return { watched, init: () => childrenOf(child.pid ?? 0)[0] ?? 0 };
}

for (const runtime of runtimes) {
  describe(`${runtime.name} as PID 1`, { skip }, () => {
    test("it is PID 1, SIGTERM from outside is forwarded, the program's status wins, the shared.sidecar is stopped", async () => {
      const quits = shared.sidecar.quits();
      const { watched, init } = asPid1(runtime, printSignals("--exit-on", "SIGTERM", "--code", "42"));
      await watched.until("ready\n");
      assert.match(readFileSync(`/proc/${init()}/status`, "utf8"), /^NSpid:\s+\d+\s+1$/m);
      process.kill(init(), "SIGTERM");
      const r = await watched.result;
      assert.equal(r.status, 42, r.stderr);
      assert.equal(r.stdout.toString(), "ready\nsignal SIGTERM\n");
      assert.equal(shared.sidecar.quits() - quits, 1);
    });

    test("a signal sent to PID 1 from inside the namespace is forwarded", async () => {
      const { watched } = asPid1(runtime, ["sh", "-c", 'trap "exit 9" TERM; kill -TERM 1; sleep 5 & wait']);
      const r = await watched.result;
      assert.equal(r.status, 9, r.stderr);
    });

    test("orphaned grandchildren: re-parented to iqqq, and whether they are reaped", async () => {
      const quits = shared.sidecar.quits();
      const count = 5;
      // Each orphan's parent exits at once, so it is re-parented to PID 1, iqqq.
      // When it exits, only PID 1 can reap it; if not, it stays a zombie.
      // Conditions, not fixed sleeps: the orphans live until told to go (a file of
      // this run's own: a PID in the namespace repeats from run to run, and
      // runs on one machine would tell each other's orphans to go), and each
      // count is polled until it is what is waited for or a deadline far beyond
      // any load has passed.
      const script = [
        "dir=$(mktemp -d /tmp/iqqq-orphans.XXXXXX); go=$dir/go",
        `for i in $(seq ${count}); do sh -c "(while [ ! -e $go ]; do sleep 0.05; done) & exit 0"; done`,
        // PID 1's children in a state matching $1, from every /proc/PID/status at once (Name, State, then
        // PPid); through cat, which goes on past a process that has gone since the glob (mawk would stop).
        `ppid1() { cat /proc/[0-9]*/status 2>/dev/null | awk -v s="^$1" '/^Name:/ { st = "" } /^State:/ { st = $2 } /^PPid:/ && $2 == 1 && st ~ s { n++ } END { print n + 0 }'; }`,
        // poll SECONDS TEST...: until TEST holds or SECONDS have passed.
        'poll() { end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -lt $end ] || return 0; sleep 0.05; done; }',
        // Every orphan re-parented to PID 1 (the program, sh, is its child too: count + 1).
        // Alive is any state but zombie: an orphan between two sleeps is running (R), not sleeping (S).
        `alive() { [ "$(ppid1 '[RSD]')" "$@" ]; }`,
        `poll 30 alive -ge ${count + 1}`,
        `echo "orphans $(ppid1 '[RSD]')"`,
        ": > $go",
        // Every orphan has exited (only the program is still running)…
        "poll 30 alive -le 1",
        // …and is reaped: a reaper scans every second. Without one, they stay zombies (3 s: three scans, had there been one).
        `reaped() { [ "$(ppid1 Z)" -eq 0 ]; }`,
        `poll ${runtime.reaps ? 30 : 3} reaped`,
        'echo "zombies $(ppid1 Z)"',
        'rm -rf "$dir"',
        "exit 7",
      ].join("\n");
      // Room for the three polls' deadlines, so that a count that is never reached fails as a count.
      const { watched } = asPid1(runtime, ["sh", "-c", script], {}, 120_000);
      const r = await watched.result;
      assert.equal(r.status, 7, r.stderr);
      assert.equal(shared.sidecar.quits() - quits, 1);
      const out = r.stdout.toString();
      // The program itself (sh) is PID 1's child too, but it is alive and not a zombie.
      const orphans = Number(/orphans (\d+)/.exec(out)?.[1]) - 1;
      const zombies = Number(/zombies (\d+)/.exec(out)?.[1]);
      assert.equal(orphans, count, out);
      assert.equal(zombies, runtime.reaps ? 0 : count, `${runtime.name} reaping changed: update docs/reliability.md`);
      record(`pid1-orphans-${runtime.name}`, { runtime: runtime.name, orphans, zombies, reaped: count - zombies });
    });

    test(`every signal 1-64 sent to PID 1: survived${runtime.fatal.length > 0 ? `, but for ${runtime.fatal.join(", ")}` : ""}`, async () => {
      const rows: SweepRow[] = await pool(SWEEP.length, 6, (i) =>
        sweepOne(SWEEP[i] as number, () => {
          const { watched, init } = asPid1(runtime, printSignals("--exit-on", "SIGUSR2", "--code", "42"));
          return { watched, target: init };
        }),
      );
      const killed = rows.filter((r) => r.outcome === "killed iqqq").map((r) => r.name);
      assert.deepEqual(killed, runtime.fatal);
      const wrongStatus = rows.filter((r) => r.outcome !== "killed iqqq" && r.status !== 42);
      assert.deepEqual(wrongStatus, []);
      record(`pid1-sweep-${runtime.name}`, {
        runtime: runtime.name,
        signals: rows.length,
        forwarded: rows.filter((r) => r.outcome === "forwarded").length,
        killed,
      });
    });
  });
}

test("the Bun executable was tested", {
  skip: runtimes.length > 1 ? false : `no ${BUN_BINARY}: npm run build:binaries`,
}, () => {
  assert.ok(runtimes.some((r) => r.name === "bun"));
});
