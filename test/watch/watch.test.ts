// watchProcess() against real processes with unique names, and against a fake
// /proc for what real processes cannot stage on demand (a PID reused between
// two looks). Timing assertions are correctness bounds only; the detection
// latency is measured by bench/watch-latency.ts.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FULL_SCAN_MS, watchProcess } from "../../src/watch/watch.js";
import { captureLog, exited, fakeProc, startNamed, uniqueName } from "./support.js";

const never = new AbortController().signal;

test("waits for a process that appears late, then until it has gone", async () => {
  const name = uniqueName();
  const log = captureLog();
  const watching = watchProcess({ name }, log, never);
  await log.until(/waiting for a process named/);
  await sleep(400);
  const spawnedAt = performance.now();
  const child = await startNamed(name, 0.6);
  const result = await watching;
  assert.equal(result.kind, "ended");
  assert.ok(performance.now() - spawnedAt >= 590, "resolved before the process could have ended");
  assert.deepEqual(
    result.processes.map((p) => [p.pid, p.comm]),
    [[child.pid, name]],
  );
  assert.ok(result.waitedMs >= 350, `waitedMs ${result.waitedMs}`);
  assert.match(log.lines.join(""), new RegExp(`found a process named "${name}": pid ${child.pid}`));
});

test("matches argv[0]'s basename (exec -a) when comm differs", async () => {
  const name = uniqueName();
  const child = await startNamed(name, 0.3, "argv0");
  const result = await watchProcess({ name }, captureLog(), never);
  assert.equal(result.kind, "ended");
  assert.deepEqual(
    result.processes.map((p) => [p.pid, p.comm]),
    [[child.pid, "sleep"]],
  );
});

test("a pattern matches the full command line", async () => {
  // argv[0] set to a unique token: no other process has this command line. (A
  // shell would not do: its forked children share its command line until they exec.)
  const token = uniqueName();
  const child = spawn("sleep", ["0.3"], { stdio: "ignore", argv0: `/opt/${token}` });
  const result = await watchProcess({ pattern: new RegExp(`${token} 0\\.3$`) }, captureLog(), never);
  assert.equal(result.kind, "ended");
  assert.deepEqual(
    result.processes.map((p) => p.pid),
    [child.pid],
  );
  assert.equal(result.processes[0]?.commandLine, `/opt/${token} 0.3`);
});

test("name and pattern together: a process must match both", async () => {
  const name = uniqueName();
  const other = await startNamed(name, 30, "argv0");
  const wanted = await startNamed(name, 0.3, "comm");
  try {
    // Both are named NAME, only the copy's command line starts with a path.
    const result = await watchProcess({ name, pattern: /^\// }, captureLog(), never);
    assert.equal(result.kind, "ended");
    assert.deepEqual(
      result.processes.map((p) => p.pid),
      [wanted.pid],
    );
  } finally {
    other.kill("SIGKILL");
  }
});

test("waits until every process with the name has gone, also one that started while others ran", async () => {
  const name = uniqueName();
  const first = await startNamed(name, 0.3);
  const log = captureLog();
  const watching = watchProcess({ name }, log, never);
  await log.until(/found a process named/);
  const secondAt = performance.now();
  const second = await startNamed(name, 1.2, "argv0");
  const result = await watching;
  assert.equal(result.kind, "ended");
  assert.ok(performance.now() - secondAt >= 1190, "resolved before the second process could have ended");
  assert.deepEqual(
    result.processes.map((p) => p.pid),
    [first.pid, second.pid],
  );
});

test("an exited process that its parent has not reaped (a zombie) has gone", async () => {
  const name = uniqueName();
  const go = join(await mkdtemp(join(tmpdir(), "iqqq-zombie-")), "go");
  execFileSync("mkfifo", [go]);
  // The background child's parent exec's into a long sleep that never wait()s for it. The child
  // blocks opening a FIFO until the watcher has found it (a condition, not a race a loaded
  // machine could lose). It forks nothing: a forked copy of it carries its name until it
  // exec's, and the watcher could find that copy instead (CI did once).
  const parent = spawn("bash", ["-c", `(exec -a ${name} sh -c 'read x < ${go}') & exec sleep 20`], {
    stdio: "ignore",
  });
  try {
    const log = captureLog();
    const watched = watchProcess({ name }, log, never);
    await log.until(/found /, 20_000);
    await writeFile(go, "go\n");
    const result = await watched;
    assert.equal(result.kind, "ended");
    assert.equal(result.processes.length, 1);
    const pid = result.processes[0]?.pid;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    assert.match(stat, /^\d+ \(sh\) Z /, "the watched process is not a zombie: the test proves nothing");
    assert.equal(parent.exitCode, null);
  } finally {
    parent.kill("SIGKILL");
  }
});

test("a real process that renames itself (Perl's $0, as setproctitle does) is watched until it exits", async () => {
  const marker = uniqueName();
  const dir = await mkdtemp(join(tmpdir(), "iqqq-rename-"));
  const [go, end] = [join(dir, "go"), join(dir, "end")];
  const script =
    "my ($go, $end) = @ARGV; select(undef, undef, undef, 0.02) until -e $go; $0 = 'report: step 2 of 5'; select(undef, undef, undef, 0.02) until -e $end;";
  const child = spawn("perl", ["-e", script, go, end, marker], { stdio: "ignore" });
  try {
    const log = captureLog();
    let result: unknown;
    const watching = watchProcess({ pattern: new RegExp(marker) }, log, never).then((r) => {
      result = r;
      return r;
    });
    await log.until(/found /, 20_000);
    await writeFile(go, "");
    await log.until(/no longer matches .*: it renamed itself/, 20_000);
    await sleep(300);
    assert.equal(result, undefined, "the watch ended while the renamed process ran");
    await writeFile(end, "");
    const r = await watching;
    assert.equal(r.kind, "ended");
    await exited(child);
    assert.equal(child.exitCode, 0);
  } finally {
    child.kill("SIGKILL");
  }
});

test("without a start timeout it never gives up; abort ends it", async () => {
  const log = captureLog();
  const controller = new AbortController();
  const watching = watchProcess({ name: uniqueName(), intervalMs: 20 }, log, controller.signal);
  const early = await Promise.race([watching, sleep(1000, "still waiting")]);
  assert.equal(early, "still waiting");
  controller.abort();
  assert.deepEqual(await watching, { kind: "aborted", processes: [] });
});

test("with a start timeout it resolves never-appeared once it has passed", async () => {
  const started = performance.now();
  const result = await watchProcess({ name: uniqueName(), startTimeoutMs: 300 }, captureLog(), never);
  assert.equal(result.kind, "never-appeared");
  assert.ok(result.waitedMs >= 300 && performance.now() - started >= 300);
});

test("the start timeout no longer matters once the process has appeared", async () => {
  const name = uniqueName();
  await startNamed(name, 0.8);
  const result = await watchProcess({ name, startTimeoutMs: 200 }, captureLog(), never);
  assert.equal(result.kind, "ended");
  assert.ok(result.watchedMs >= 500, `watchedMs ${result.watchedMs}`);
});

test("an abort while watching reports what was being watched", async () => {
  const name = uniqueName();
  const child = await startNamed(name, 30);
  try {
    const log = captureLog();
    const controller = new AbortController();
    const watching = watchProcess({ name }, log, controller.signal);
    await log.until(/found a process named/);
    controller.abort();
    const result = await watching;
    assert.equal(result.kind, "aborted");
    assert.deepEqual(result.kind === "aborted" && result.processes.map((p) => p.pid), [child.pid]);
  } finally {
    child.kill("SIGKILL");
  }
});

test("an already aborted signal resolves at once", async () => {
  const controller = new AbortController();
  controller.abort();
  assert.equal((await watchProcess({ name: "x" }, captureLog(), controller.signal)).kind, "aborted");
});

test("a process killed by a signal has gone too", async () => {
  const name = uniqueName();
  const child = await startNamed(name, 30);
  const log = captureLog();
  const watching = watchProcess({ name }, log, never);
  await log.until(/found/);
  child.kill("SIGKILL");
  await exited(child);
  assert.equal((await watching).kind, "ended");
});

test("a command line longer than a page is read whole", async () => {
  const token = uniqueName();
  const long = "x".repeat(10_000);
  const child = spawn("sleep", ["0.3"], { stdio: "ignore", argv0: `${long}${token}` });
  const result = await watchProcess({ pattern: new RegExp(`^${long}${token} 0\\.3$`) }, captureLog(), never);
  assert.equal(result.kind, "ended");
  assert.deepEqual(
    result.processes.map((p) => p.pid),
    [child.pid],
  );
});

// --- a fake /proc -----------------------------------------------------------

test("fake /proc: a PID reused by another program between two looks ends the watch", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  await proc.put({ pid: 7, comm: "iqqq", ppid: 1, startTime: 5 });
  await proc.put({ pid: 100, comm: "job", startTime: 500 });
  const log = captureLog();
  const watching = watchProcess({ name: "job", procRoot: proc.root, selfPid: 7, intervalMs: 10 }, log, never);
  await log.until(/found a process named "job": pid 100/);
  await proc.put({ pid: 100, comm: "other", startTime: 900 });
  const result = await watching;
  assert.equal(result.kind, "ended");
  assert.deepEqual(
    result.processes.map((p) => [p.pid, p.startTime]),
    [[100, 500]],
  );
  assert.match(log.lines.join(""), /pid 100 \(job\) has gone; its pid now belongs to other/);
});

test("fake /proc: a PID reused by a new process with the same name is a new process, watched too", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  await proc.put({ pid: 7, comm: "iqqq", ppid: 1, startTime: 5 });
  await proc.put({ pid: 100, comm: "job", startTime: 500 });
  const log = captureLog();
  const watching = watchProcess({ name: "job", procRoot: proc.root, selfPid: 7, intervalMs: 10 }, log, never);
  await log.until(/found a process named "job": pid 100/);
  await proc.put({ pid: 100, comm: "job", startTime: 900 });
  await log.until(/also watching pid/);
  await proc.put({ pid: 100, comm: "job", state: "Z", startTime: 900, argv: [] });
  const result = await watching;
  assert.equal(result.kind, "ended");
  assert.deepEqual(
    result.processes.map((p) => [p.pid, p.startTime]),
    [
      [100, 500],
      [100, 900],
    ],
  );
});

test("fake /proc: a copy forked by a match drops out once it exec's into another program; its parent is still watched", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  await proc.put({ pid: 90, comm: "job", startTime: 400, argv: ["job", "--x"] });
  await proc.put({ pid: 100, comm: "job", ppid: 90, startTime: 500, argv: ["job", "--x"] });
  const log = captureLog();
  const watching = watchProcess({ name: "job", procRoot: proc.root, selfPid: 7, intervalMs: 10 }, log, never);
  await log.until(/also watching pid/);
  await proc.put({ pid: 100, comm: "cleanup", ppid: 90, startTime: 500, argv: ["cleanup"] });
  await log.until(/pid 100 \(job\) no longer matches \(now "cleanup"\): a copy forked by a match/);
  await proc.remove(90);
  const result = await watching;
  assert.equal(result.kind, "ended");
});

test("fake /proc: a copy found only after its matching parent has gone (reparented) still drops out when it exec's", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  await proc.put({ pid: 90, comm: "job", startTime: 400, argv: ["job", "--x"] });
  const log = captureLog();
  const watching = watchProcess({ name: "job", procRoot: proc.root, selfPid: 7, intervalMs: 10 }, log, never);
  await log.until(/found/);
  // The script forks a background child (a copy of it) and ends; the child is its orphan now.
  await proc.put({ pid: 100, comm: "job", ppid: 1, startTime: 500, argv: ["job", "--x"] });
  await proc.remove(90);
  await log.until(/also watching pid 100/);
  await proc.put({ pid: 100, comm: "sleep", ppid: 1, startTime: 500, argv: ["sleep", "25"] });
  assert.equal((await watching).kind, "ended");
  assert.match(log.lines.join(""), /pid 100 \(job\) no longer matches \(now "sleep"\): a copy forked by a match/);
});

test("fake /proc: a process that renames itself (setproctitle, Perl's $0) is the job still running: watched until it exits", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  await proc.put({ pid: 100, comm: "perl", startTime: 500, argv: ["perl", "report.pl"] });
  const log = captureLog();
  let result: unknown;
  const watching = watchProcess({ name: "perl", procRoot: proc.root, selfPid: 7, intervalMs: 10 }, log, never).then(
    (r) => {
      result = r;
      return r;
    },
  );
  await log.until(/found/);
  await proc.put({ pid: 100, comm: "report: step 2", startTime: 500, argv: ["report: step 2 of 5"] });
  await log.until(/pid 100 \(perl\) no longer matches \(now "report: step 2"\): it renamed itself/);
  // Many ticks later (10 ms each), still watched.
  await sleep(300);
  assert.equal(result, undefined, "the watch ended while the renamed process ran");
  await proc.remove(100);
  assert.equal((await watching).kind, "ended");
});

test("fake /proc: iqqq and its parents never match, even when their command line does", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  // In a shared PID namespace a container's first process has ppid 0: its parent is outside.
  await proc.put({ pid: 5, comm: "sh", ppid: 0, startTime: 2, argv: ["sh", "-c", "IQQQ_WATCH_PATTERN=airflow iqqq"] });
  await proc.put({ pid: 7, comm: "iqqq", ppid: 5, startTime: 3, argv: ["iqqq"] });
  const log = captureLog();
  const result = await watchProcess(
    { pattern: /airflow/, procRoot: proc.root, selfPid: 7, intervalMs: 10, startTimeoutMs: 100 },
    log,
    never,
  );
  assert.equal(result.kind, "never-appeared");
  assert.doesNotMatch(log.lines.join(""), /PID namespace is not shared/, "pid 1 (pause) is another process");
});

test("fake /proc: only iqqq and its parents visible: one clear warning, and the start timeout still applies", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "sh", startTime: 1, argv: ["sh", "-c", "iqqq"] });
  await proc.put({ pid: 7, comm: "iqqq", ppid: 1, startTime: 3 });
  const log = captureLog();
  const result = await watchProcess(
    { name: "airflow", procRoot: proc.root, selfPid: 7, intervalMs: 10, startTimeoutMs: 200 },
    log,
    never,
  );
  assert.equal(result.kind, "never-appeared");
  const warnings = log.lines.filter((l) => l.startsWith("iqqq: warning:"));
  assert.equal(warnings.length, 1, JSON.stringify(log.lines));
  assert.match(warnings[0] ?? "", /PID namespace is not shared.*shareProcessNamespace: true/);
});

test("fake /proc: a /proc that cannot be listed is reported, not thrown", async () => {
  const proc = await fakeProc();
  const result = await watchProcess({ name: "x", procRoot: `${proc.root}/missing` }, captureLog(), never);
  assert.equal(result.kind, "unavailable");
  assert.match(result.kind === "unavailable" ? result.message : "", /cannot list .*missing/);
});

test("fake /proc: a process that has long been there and exec's into a match is found within a second", async () => {
  const proc = await fakeProc();
  await proc.put({ pid: 1, comm: "pause", startTime: 1 });
  await proc.put({ pid: 50, comm: "runc:[2:INIT]", startTime: 10 });
  const log = captureLog();
  const watching = watchProcess({ name: "job", procRoot: proc.root, selfPid: 7, intervalMs: 10 }, log, never);
  // pid 50 was there when the watch began: it is examined only by the full scans.
  await sleep(300);
  await proc.put({ pid: 50, comm: "job", startTime: 10 });
  const execAt = performance.now();
  await log.until(/found a process named "job": pid 50/, 5000);
  assert.ok(performance.now() - execAt < FULL_SCAN_MS + 500, `found after ${performance.now() - execAt} ms`);
  await proc.remove(50);
  assert.equal((await watching).kind, "ended");
});
