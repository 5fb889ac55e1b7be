// Which plugins to load: pure parsing of IQQQ_PLUGINS and WRAPPER_PLUGIN_PATH,
// for src/config (a ValueError there names the variable).

import { ValueError } from "../config/values.js";

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
