// Plugin modules written to a temporary directory, and the calls they record.

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger } from "../../src/log.js";

export interface Call {
  readonly plugin: string;
  readonly hook: string;
  readonly ctx: Record<string, unknown>;
  readonly at: number;
}

declare global {
  // Plugins are imported into this process: they record their calls here.
  var iqqqPluginCalls: Call[] | undefined;
}

export function calls(): Call[] {
  globalThis.iqqqPluginCalls ??= [];
  return globalThis.iqqqPluginCalls;
}

export function resetCalls(): void {
  globalThis.iqqqPluginCalls = [];
}

/** A hook body that records its call under `plugin`. */
export function recorder(plugin: string, hook: string): string {
  return `(globalThis.iqqqPluginCalls ??= []).push({ plugin: ${JSON.stringify(plugin)}, hook: ${JSON.stringify(hook)}, ctx, at: Date.now() });`;
}

let dir: Promise<string> | undefined;
let count = 0;

/** Writes an ES module and returns its path. Each call gets a new file: modules are cached by URL. */
export async function pluginFile(source: string, name = "plugin"): Promise<string> {
  dir ??= mkdtemp(join(tmpdir(), "iqqq-plugins-"));
  const path = join(await dir, `${name}-${++count}.mjs`);
  await writeFile(path, source);
  return join(await dir, `${name}-${count}.mjs`);
}

export function captureLog(level: "debug" | "warn" = "debug"): Logger & { readonly lines: string[]; text(): string } {
  const lines: string[] = [];
  return Object.assign(
    createLogger(level, (line) => lines.push(line)),
    { lines, text: () => lines.join("") },
  );
}
