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
function asPid1(runtime: Runtime, args: readonly string[], extra: Record<string, string> = {}) {
  const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", ...runtime.command, ...args], {
    env: cliEnv({ ...shared.env, ...extra }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const watched = watch(child);
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
      // Conditions, not fixed sleeps: the orphans live until told to go (a file), the counts are polled.
      const script = [
        "go=/tmp/iqqq-orphans-go-$$; rm -f $go",
        `for i in $(seq ${count}); do sh -c "(while [ ! -e $go ]; do sleep 0.05; done) & exit 0"; done`,
        'ppid1() { n=0; for f in /proc/[0-9]*/status; do grep -q "^PPid:[[:space:]]*1$" "$f" 2>/dev/null && grep -q "^State:[[:space:]]*$1" "$f" && n=$((n+1)); done; echo $n; }',
        // Every orphan re-parented to PID 1 (the program, sh, is its child too: count + 1).
        // Alive is any state but zombie: an orphan between two sleeps is running (R), not sleeping (S).
        `i=0; while [ "$(ppid1 '[RSD]')" -lt ${count + 1} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`,
        `echo "orphans $(ppid1 '[RSD]')"`,
        ": > $go",
        // Every orphan has exited (only the program is still running)…
        `i=0; while [ "$(ppid1 '[RSD]')" -gt 1 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`,
        // …and a reaper, which scans every second, gets up to 3 s.
        'i=0; while [ "$(ppid1 Z)" -gt 0 ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done',
        'echo "zombies $(ppid1 Z)"',
        "rm -f $go",
        "exit 7",
      ].join("\n");
      const { watched } = asPid1(runtime, ["sh", "-c", script]);
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
