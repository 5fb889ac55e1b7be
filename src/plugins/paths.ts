// Which plugins to load and their limits: pure parsing of IQQQ_PLUGINS and
// WRAPPER_PLUGIN_PATH for src/config (a ValueError there names the variable),
// and what main.ts needs when there are none. The loader itself (host.ts) is
// imported only when a plugin is configured.

import { ValueError } from "../config/values.js";
import type { HookContext, HookName, IqqqPlugin } from "./api.js";

/** IQQQ_PLUGIN_TIMEOUT's default: for loading a plugin, and for each of its hooks. */
export const DEFAULT_PLUGIN_TIMEOUT_MS = 5000;
/**
 * IQQQ_PLUGIN_BUDGET's default: all plugin work in one run, loading and every
 * hook of every plugin together. Well inside Kubernetes' default 30 s grace
 * period, with IQQQ_QUIT_TIMEOUT's 5 s on top.
 */
export const DEFAULT_PLUGIN_BUDGET_MS = 10_000;

/** What the caller passes to a hook: its context without the parts the host adds. */
export type HookData<H extends HookName> = Omit<Parameters<NonNullable<IqqqPlugin[H]>>[0], keyof HookContext>;

export interface LoadedPlugin {
  readonly name: string;
  readonly path: string;
}

export interface PluginHost {
  readonly plugins: readonly LoadedPlugin[];
  /** Runs `hook` of every plugin that has it, one after another in load order. Never rejects. */
  run<H extends HookName>(hook: H, data: HookData<H>): Promise<void>;
}

/** No plugins: nothing is imported, and run() costs nothing. */
export const NO_PLUGINS: PluginHost = { plugins: [], run: async () => {} };

/** IQQQ_PLUGINS: comma-separated paths, spaces around them trimmed; a path cannot contain a comma. */
export function parsePluginPaths(raw: string): string[] {
  const paths = raw.split(",").map((p) => p.trim());
  if (paths.some((p) => p === "")) throw new ValueError("expected comma-separated file paths, none of them empty");
  return paths;
}

/** WRAPPER_PLUGIN_PATH (wrapper4): one path, taken as it is. */
export function parseWrapperPluginPath(raw: string): string[] {
  return [raw];
}

/** IQQQ_PLUGINS first, then WRAPPER_PLUGIN_PATH; a path named twice is loaded once. */
export function pluginPaths(...lists: readonly (readonly string[] | undefined)[]): string[] {
  return [...new Set(lists.flatMap((list) => list ?? []))];
}
