// What the wrapper loads at start: the modules reachable from the bin through
// static imports are evaluated before the program is spawned, in both builds.
// START_PATH below is the whole of what may be there, on purpose: any other
// module (the watcher, the plugin loader, --explain, the pod lookup, the
// commands, and every module added later) must be imported where it is used.
// And no module on that path may import a Node built-in at its top
// (runtime/builtins.ts says why). Read from esbuild's metafile of the same
// entry dist/iqqq.mjs is built from.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { build, type Metafile } from "esbuild";
import { ROOT } from "../support/cli.js";

/**
 * Every module the wrapper's start path may load (src's; no package is on it),
 * and nothing else. To put a module on it, add it here; to take one off,
 * import it where it is used and remove it here. The test prints the list it
 * found when the two differ.
 */
const START_PATH = [
  "src/cli.ts",
  "src/config/config.ts",
  "src/config/misspelt.ts",
  "src/config/scuttle.ts",
  "src/config/values.ts",
  "src/config/variables.ts",
  "src/exit-status.ts",
  "src/log.ts",
  "src/main.ts",
  "src/plugins/context.ts",
  "src/plugins/paths.ts",
  // Every run decides whether to stop (main.ts says why these are not imported on demand).
  "src/pod/decision.ts",
  "src/pod/facts.ts",
  "src/pod/knowledge.ts",
  "src/proc/read.ts",
  "src/program/bytes.ts",
  "src/program/run.ts",
  "src/program/signals.ts",
  "src/program/spawn.ts",
  "src/ready/wait.ts",
  "src/runtime/builtins.ts",
  // IQQQ_COMPILE_CACHE's name and values, for variables.ts (the bundle's loader reads the cache).
  "src/runtime/compile-cache.ts",
  "src/runtime/resolvable.ts",
  "src/runtime/stdio.ts",
  "src/runtime/strays.ts",
  "src/runtime/timers.ts",
  "src/sidecar/broken.ts",
  "src/sidecar/catalogue.ts",
  "src/sidecar/http1.ts",
  "src/sidecar/pkill.ts",
  "src/sidecar/request.ts",
  "src/sidecar/stop.ts",
  "src/version.ts",
  "src/watch/match.ts",
];

async function metafile(): Promise<Metafile> {
  const result = await build({
    entryPoints: [join(ROOT, "src/cli.ts")],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    metafile: true,
    logLevel: "silent",
    define: { __IQQQ_VERSION__: '"test"' },
  });
  return result.metafile;
}

/**
 * The entry's static closure: each module with the one that first imported it
 * (to say how a module got there), and the external (built-in) modules they import.
 */
function staticClosure(meta: Metafile): { modules: Map<string, string | undefined>; builtins: Map<string, string> } {
  const modules = new Map<string, string | undefined>();
  const builtins = new Map<string, string>();
  const visit = (path: string, from: string | undefined): void => {
    if (modules.has(path)) return;
    modules.set(path, from);
    for (const edge of meta.inputs[path]?.imports ?? []) {
      if (edge.kind !== "import-statement") continue;
      if (edge.external) builtins.set(edge.path, path);
      else visit(edge.path, path);
    }
  };
  visit("src/cli.ts", undefined);
  return { modules, builtins };
}

/** "src/a.ts ← src/b.ts ← src/cli.ts": the import chain that puts a module on the start path. */
function chain(modules: Map<string, string | undefined>, path: string): string {
  const links = [path];
  for (let at = modules.get(path); at !== undefined; at = modules.get(at)) links.push(at);
  return links.join(" ← ");
}

test("only START_PATH's modules are on the start-up path: everything else is imported where it is used", async () => {
  const meta = await metafile();
  const { modules } = staticClosure(meta);
  const allowed = new Set(START_PATH);
  // Packages too (node_modules/…): the yaml package or re2js there would cost every start.
  const found = [...modules.keys()].sort();
  const extra = found.filter((path) => !allowed.has(path));
  assert.deepEqual(
    extra.map((path) => chain(modules, path)),
    [],
    "these are imported statically from the bin, so loaded at every start: import them where they are used " +
      `(or, on purpose, add them to START_PATH). The start path now: ${JSON.stringify(found, null, 2)}`,
  );
  // A module that left the start path leaves the list too: it stays the exact record of what starts.
  assert.deepEqual(
    START_PATH.filter((path) => !modules.has(path)),
    [],
    "no longer on the start path: remove from START_PATH",
  );
  // The on-demand modules are still in the bundle (imported somewhere), so the check above saw the real graph.
  for (const path of ["src/explain.ts", "src/watch/watch.ts", "src/commands/inject.ts", "src/commands/webhook.ts"])
    assert.ok(meta.inputs[path] !== undefined, `${path} is not in the bundle at all`);
});

test("no module on the start-up path imports a Node built-in at its top", async () => {
  const { builtins } = staticClosure(await metafile());
  assert.deepEqual(
    [...builtins].map(([builtin, from]) => `${from} imports ${builtin}`),
    [],
    "use builtin() from src/runtime/builtins.ts where the module is needed",
  );
});
