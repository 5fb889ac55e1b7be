// Real processes with names no other process has, and a logger that tests can wait on.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger } from "../../src/log.js";

/** 11 characters: short enough to be a whole comm (15 bytes at most). */
export function uniqueName(): string {
  return `iqw${randomBytes(4).toString("hex")}`;
}

let sleepCopies: Promise<string> | undefined;

/**
 * `sleep SECONDS` running as an executable called NAME, so that its kernel comm
 * is NAME (via: "comm"), or as plain sleep with argv[0] set to NAME, as
 * `exec -a NAME` does (via: "argv0").
 */
export async function startNamed(name: string, seconds: number, via: "comm" | "argv0" = "comm"): Promise<ChildProcess> {
  let child: ChildProcess;
  if (via === "comm") {
    sleepCopies ??= mkdtemp(join(tmpdir(), "iqqq-watch-bin-"));
    const file = join(await sleepCopies, name);
    await copyFile("/bin/sleep", file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ETXTBSY") throw err;
    });
    child = spawn(file, [String(seconds)], { stdio: "ignore" });
  } else {
    child = spawn("sleep", [String(seconds)], { stdio: "ignore", argv0: name });
  }
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return child;
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export interface CapturedLog extends Logger {
  readonly lines: string[];
  /** Resolves once a line matching `pattern` has been logged. */
  until(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const log = createLogger("debug", (line) => {
    lines.push(line);
    for (const check of waiters) check();
  });
  return Object.assign(log, {
    lines,
    until: (pattern: RegExp, timeoutMs = 10_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no log line matched ${pattern}; got ${JSON.stringify(lines)}`));
        }, timeoutMs);
        const check = (): void => {
          const line = lines.find((l) => pattern.test(l));
          if (line === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(line);
        };
        waiters.add(check);
        check();
      }),
  });
}

export interface FakeProcess {
  readonly pid: number;
  readonly ppid?: number;
  readonly comm: string;
  readonly state?: string;
  readonly startTime: number;
  readonly argv?: readonly string[];
}

/** A directory laid out as procfs is, for the cases real processes cannot stage on demand. */
export async function fakeProc(): Promise<{
  root: string;
  put(p: FakeProcess): Promise<void>;
  remove(pid: number): Promise<void>;
}> {
  const root = await mkdtemp(join(tmpdir(), "iqqq-fake-proc-"));
  return {
    root,
    async put(p) {
      const dir = join(root, String(p.pid));
      await mkdir(dir, { recursive: true });
      // Fields 1-22 as the kernel writes them (the ones between are irrelevant here).
      const fields = [p.state ?? "S", String(p.ppid ?? 1), ...Array(17).fill("0"), String(p.startTime), "0"];
      // Replaced whole, by rename: the watcher reads them concurrently, and the kernel's never tear.
      const put = async (file: string, content: string): Promise<void> => {
        await writeFile(join(dir, `.${file}`), content);
        await rename(join(dir, `.${file}`), join(dir, file));
      };
      await put("cmdline", (p.argv ?? [p.comm]).map((a) => `${a}\0`).join(""));
      await put("stat", `${p.pid} (${p.comm}) ${fields.join(" ")}\n`);
    },
    async remove(pid) {
      await rm(join(root, String(pid)), { recursive: true, force: true });
    },
  };
}
