// The watcher in a process of its own (test/fixtures/watch.ts): SIGTERM, and
// fresh PID namespaces, where a real PID can be reused on purpose
// (/proc/sys/kernel/ns_last_pid) and where /proc shows nothing of other containers.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { CLI, CLI_IS_COMPILED, cliEnv, collect, FIXTURES, NODE, watchOutput } from "../support/cli.js";
import { uniqueName } from "./support.js";

const DRIVER = `${FIXTURES}watch.js`;
const canUnshare =
  process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;
const needsUnshare = canUnshare ? false : "needs root and unshare(1) (CI runs as root)";

test("SIGTERM stops the watcher promptly", async () => {
  const child = spawn(NODE, [DRIVER], {
    env: cliEnv({ WATCH_NAME: uniqueName() }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const err = watchOutput(child.stderr);
  const done = collect(child, { timeoutMs: 10_000 });
  await err.until("waiting for a process named");
  const sentAt = Date.now();
  child.kill("SIGTERM");
  const r = await done;
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.toString()), { kind: "aborted", processes: [] });
  assert.ok(r.endedAt - sentAt < 2000, `took ${r.endedAt - sentAt} ms`);
});

test("in a PID namespace of its own the watcher warns once that it cannot see other containers", {
  skip: needsUnshare,
}, async () => {
  const r = await collect(
    spawn("unshare", ["--pid", "--fork", "--mount-proc", NODE, DRIVER], {
      env: cliEnv({ WATCH_NAME: "airflow", WATCH_START_TIMEOUT_MS: "500", WATCH_INTERVAL_MS: "20" }),
      stdio: ["ignore", "pipe", "pipe"],
    }),
    { timeoutMs: 10_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.toString()).kind, "never-appeared");
  const warnings = r.stderr.split("\n").filter((l) => l.startsWith("iqqq: warning:"));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0] ?? "", /PID namespace is not shared .*so a process named "airflow" cannot be seen/);
});

test("a real PID reused by another program between two looks: the watch ends", { skip: needsUnshare }, async () => {
  const name = uniqueName();
  // In a fresh PID namespace: start NAME, let the watcher (polling every 2 s)
  // find it, kill it, then make the next process take its PID, all between two looks.
  const script = `
    set -e
    dir=$(mktemp -d); cp /bin/sleep "$dir/${name}"
    "$dir/${name}" 60 & target=$!
    WATCH_NAME=${name} WATCH_INTERVAL_MS=2000 "${NODE}" "${DRIVER}" 2> "$dir/log" & watcher=$!
    i=0; until grep -q "found a process" "$dir/log"; do i=$((i+1)); [ $i -lt 200 ] || exit 90; sleep 0.02; done
    kill -KILL $target; wait $target || true
    echo $((target - 1)) > /proc/sys/kernel/ns_last_pid
    sleep 60 & reused=$!
    echo "target $target reused $reused" >&2
    wait $watcher
    cat "$dir/log" >&2
    kill $reused
  `;
  const r = await collect(
    spawn("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", script], {
      env: cliEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    }),
    { timeoutMs: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const [, target, reused] = /target (\d+) reused (\d+)/.exec(r.stderr) ?? [];
  assert.equal(reused, target, `the PID was not reused, the test proves nothing: ${r.stderr}`);
  const result = JSON.parse(r.stdout.toString());
  assert.equal(result.kind, "ended");
  assert.deepEqual(
    result.processes.map((p: { pid: number }) => p.pid),
    [Number(target)],
  );
  assert.match(r.stderr, new RegExp(`pid ${target} \\(${name}\\) has gone; its pid now belongs to sleep`));
});

test("IQQQ_WATCH_CONTAINERS in a PID namespace of its own: it warns and waits for the start timeout (75), never takes the job for ended", {
  skip: needsUnshare,
}, async () => {
  // It exited 0 after 5 s, stopping the sidecars of a job it could never have seen.
  const cli = CLI_IS_COMPILED ? [CLI] : [NODE, CLI];
  const r = await collect(
    spawn("unshare", ["--pid", "--fork", "--kill-child", "--mount-proc", ...cli], {
      env: cliEnv({ IQQQ_WATCH_CONTAINERS: "1", IQQQ_WATCH_START_TIMEOUT: "7s" }),
      stdio: ["ignore", "pipe", "pipe"],
    }),
    { timeoutMs: 30_000 },
  );
  assert.equal(r.status, 75, r.stderr);
  assert.match(
    r.stderr,
    /iqqq: warning: \/proc shows no process but iqqq and its parents: the pod's PID namespace is not shared/,
  );
  assert.doesNotMatch(r.stderr, /had ended before the watcher first looked/);
});

test("its own pid is read from /proc/self: under a /proc of another PID namespace it never waits for its own shell", {
  skip: needsUnshare,
}, async () => {
  // unshare --pid without --mount-proc: /proc is the outer namespace's, where process.pid means another process.
  const marker = uniqueName();
  const cli = CLI_IS_COMPILED ? `"${CLI}"` : `"${NODE}" "${CLI}"`;
  const r = await collect(
    spawn(
      "unshare",
      [
        "--pid",
        "--fork",
        "--kill-child",
        "sh",
        "-c",
        `IQQQ_WATCH_PATTERN=${marker} IQQQ_WATCH_START_TIMEOUT=1s ${cli}`,
      ],
      {
        env: cliEnv({}),
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
    { timeoutMs: 20_000 },
  );
  assert.equal(r.status, 75, r.stderr);
  assert.doesNotMatch(r.stderr, /found /);
});
