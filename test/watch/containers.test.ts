// IQQQ_WATCH_CONTAINERS: the watcher follows job containers by the mount that
// marks them (/run/iqqq-job in their mountinfo), not by name: real processes in
// their own mount namespace (unshare, as root) that exec into something else
// and fork children; and a fake /proc tree for several containers told apart by
// their cgroup.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MARK, watchContainers } from "../../src/watch/containers.js";
import { captureLog } from "./support.js";

const root = process.getuid?.() === 0 && spawnSync("unshare", ["--version"]).status === 0;

describe("watching job containers by their mark", () => {
  test("a marked process that execs into another program and forks: watched until the last of them ends; unmarked ones never count", {
    skip: root ? false : "needs root and unshare (a mount namespace of its own)",
  }, async () => {
    mkdirSync(MARK, { recursive: true });
    const log = captureLog();
    const marker = join(mkdtempSync(join(tmpdir(), "iqqq-mark-")), "go");
    // The job container: its own mount namespace with a mount at MARK; its shell execs into another,
    // which forks a child that outlives it a little, and waits for the test's go.
    const job = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount -t tmpfs iqqq-job ${MARK} && exec sh -c 'while [ ! -e ${marker} ]; do sleep 0.05; done; sleep 0.3 & exit 0'`,
      ],
      { stdio: "ignore" },
    );
    // A sidecar: unmarked, runs on.
    const sidecar = spawn("sleep", ["30"], { stdio: "ignore" });
    const watched = watchContainers({ count: 1, intervalMs: 20 }, log, new AbortController().signal);
    let ended = false;
    void watched.then(() => {
      ended = true;
    });
    await log.until(/job container 1 of 1 seen/, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ended, false, "ended while the job container ran");
    writeFileSync(marker, "");
    const result = await watched;
    assert.equal(result.kind, "ended");
    assert.equal(job.exitCode ?? (await new Promise((r) => job.once("exit", r))), 0);
    assert.ok(result.kind === "ended" && result.processes.length >= 1);
    assert.equal(sidecar.exitCode, null, "the sidecar is still running: it never counted");
    sidecar.kill();
  });

  test("several containers (a fake /proc): the watch ends only once N have appeared and none is left", async () => {
    const proc = mkdtempSync(join(tmpdir(), "iqqq-fakeproc-"));
    const add = (pid: number, comm: string, cgroup: string, marked: boolean): void => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      const stat = `${pid} (${comm}) S 1 ${Array(17).fill("0").join(" ")} ${1000 + pid} 0 0`;
      writeFileSync(join(proc, String(pid), "stat"), stat);
      writeFileSync(join(proc, String(pid), "cmdline"), `${comm}\0`);
      writeFileSync(join(proc, String(pid), "cgroup"), `0::${cgroup}\n`);
      writeFileSync(
        join(proc, String(pid), "mountinfo"),
        `1 0 0:1 / / rw - overlay overlay rw\n${marked ? `2 1 0:2 / ${MARK} ro - tmpfs tmpfs ro\n` : ""}`,
      );
    };
    const remove = (pid: number): void => rmSync(join(proc, String(pid)), { recursive: true });
    add(1, "pause", "/pause", false);
    add(5, "iqqq", "/watcher", false);
    add(7, "pilot-agent", "/proxy", false);
    add(10, "python", "/job-a", true);
    const log = captureLog();
    const abort = new AbortController();
    const watched = watchContainers({ count: 2, intervalMs: 10, procRoot: proc, selfPid: 5 }, log, abort.signal);
    await log.until(/job container 1 of 2 seen/);
    remove(10); // the first ends before the second has started: not the end
    await new Promise((r) => setTimeout(r, 100));
    add(11, "bash", "/job-b", true);
    await log.until(/job container 2 of 2 seen/);
    add(12, "python", "/job-b", true); // a child in the same container
    remove(11);
    await new Promise((r) => setTimeout(r, 100));
    let ended = false;
    void watched.then(() => {
      ended = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ended, false, "ended while a process of the second container ran");
    remove(12);
    const result = await watched;
    assert.equal(result.kind, "ended");
    assert.deepEqual(result.kind === "ended" ? result.processes.map((p) => p.pid) : [], [10, 11, 12]);
    abort.abort();
  });

  test("a process first seen before its container was set up (runc init, no mark yet) is looked at again once it execs", async () => {
    const proc = mkdtempSync(join(tmpdir(), "iqqq-fakeproc-"));
    const add = (pid: number, comm: string, marked: boolean): void => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), "stat"), `${pid} (${comm}) S 1 ${Array(17).fill("0").join(" ")} 7 0 0`);
      writeFileSync(join(proc, String(pid), "cmdline"), `${comm}\0`);
      writeFileSync(join(proc, String(pid), "cgroup"), "0::/job\n");
      writeFileSync(
        join(proc, String(pid), "mountinfo"),
        `1 0 0:1 / / rw - overlay overlay rw\n${marked ? `2 1 0:2 / ${MARK} ro - tmpfs tmpfs ro\n` : ""}`,
      );
    };
    add(1, "pause", false);
    add(5, "iqqq", false);
    add(10, "runc:[2:INIT]", false);
    const log = captureLog();
    const abort = new AbortController();
    const watched = watchContainers(
      { count: 1, intervalMs: 10, startTimeoutMs: 60_000, procRoot: proc, selfPid: 5 },
      log,
      abort.signal,
    );
    await new Promise((r) => setTimeout(r, 100));
    // The same process (pid and start time) once it has exec'd the job, in its container.
    add(10, "cat", true);
    await log.until(/job container 1 of 1 seen: pid 10 \(cat\)/);
    rmSync(join(proc, "10"), { recursive: true });
    const result = await watched;
    assert.equal(result.kind, "ended");
    abort.abort();
  });

  test("a job container that ended before the watcher first looked is not waited for (the kubelet starts the watcher last)", async () => {
    const proc = mkdtempSync(join(tmpdir(), "iqqq-fakeproc-"));
    // The pod's other processes are visible (its PID namespace is shared): only the job's are gone.
    mkdirSync(join(proc, "1"));
    writeFileSync(join(proc, "1", "stat"), `1 (pause) S 0 ${Array(17).fill("0").join(" ")} 5 0 0`);
    const log = captureLog();
    const result = await watchContainers(
      { count: 1, intervalMs: 10, procRoot: proc, startedBeforeMs: 100 },
      log,
      new AbortController().signal,
    );
    assert.equal(result.kind, "ended");
    await log.until(/1 of 1 job containers had ended before the watcher first looked/);
  });

  test("none appears within the start timeout: never-appeared; with a start timeout, a container not seen is waited for, not taken for ended", async () => {
    const proc = mkdtempSync(join(tmpdir(), "iqqq-fakeproc-"));
    mkdirSync(join(proc, "1"));
    writeFileSync(join(proc, "1", "stat"), `1 (pause) S 0 ${Array(17).fill("0").join(" ")} 5 0 0`);
    for (const startedBeforeMs of [60_000, 10]) {
      const result = await watchContainers(
        { count: 1, intervalMs: 10, procRoot: proc, startTimeoutMs: 300, startedBeforeMs },
        captureLog(),
        new AbortController().signal,
      );
      assert.equal(result.kind, "never-appeared", `startedBeforeMs ${startedBeforeMs}`);
    }
  });

  test("nothing but itself visible (no shared PID namespace, or hidepid): one warning, and no container is taken for ended", async () => {
    const proc = mkdtempSync(join(tmpdir(), "iqqq-fakeproc-"));
    const log = captureLog();
    const abort = new AbortController();
    let result: unknown;
    const watched = watchContainers(
      { count: 1, intervalMs: 10, procRoot: proc, startedBeforeMs: 20 },
      log,
      abort.signal,
    ).then((r) => {
      result = r;
      return r;
    });
    await log.until(/PID namespace is not shared/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(result, undefined, "it ended: a job it cannot see was taken for ended");
    abort.abort();
    assert.equal((await watched).kind, "aborted");
    assert.equal(log.lines.filter((l) => l.includes("warning")).length, 1);
  });
});
