// What the wrapper loads at start: the modules reachable from the bin through
// static imports are evaluated before the program is spawned, in both builds.
// Everything else (the watcher, the plugin loader, --explain, the pod lookup,
// the DNS helper, the PID-1 reaper, the install/inject/webhook commands) must
// be imported where it is used, and no
// module on that path may import a Node built-in at its top (runtime/builtins.ts
// says why). Read from esbuild's metafile of the same entry dist/iqqq.mjs is built from.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { build, type Metafile } from "esbuild";
import { ROOT } from "../support/cli.js";

const ON_DEMAND = [
  "src/explain.ts",
  "src/plugins/host.ts",
  "src/watch/watch.ts",
  "src/watch/every.ts",
  "src/watch/outcome.ts",
  "src/pod/api.ts",
  "src/sidecar/resolve.ts",
  "src/runtime/reaper.ts",
  "src/commands/install.ts",
  "src/commands/inject.ts",
  "src/registry/client.ts",
  "src/registry/lookups.ts",
  "src/registry/network.ts",
  "src/commands/webhook.ts",
  "src/webhook/server.ts",
  "src/watch/pattern.ts",
  "src/pod/decision.ts",
  "src/pod/knowledge.ts",
  "src/pod/facts.ts",
  "src/pod/group.ts",
  "src/help.ts",
  "src/sidecar/fetch.ts",
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

/** The entry's static closure: its modules, and the external (built-in) modules they import. */
function staticClosure(meta: Metafile): { modules: Set<string>; builtins: Map<string, string> } {
  const modules = new Set<string>();
  const builtins = new Map<string, string>();
  const visit = (path: string): void => {
    if (modules.has(path)) return;
    modules.add(path);
    for (const edge of meta.inputs[path]?.imports ?? []) {
      if (edge.kind !== "import-statement") continue;
      if (edge.external) builtins.set(edge.path, path);
      else visit(edge.path);
    }
  };
  visit("src/cli.ts");
  return { modules, builtins };
}

test("the watcher, plugins, --explain and the other on-demand parts are not on the start-up path", async () => {
  const meta = await metafile();
  const { modules } = staticClosure(meta);
  for (const path of ON_DEMAND) {
    assert.ok(meta.inputs[path] !== undefined, `${path} is not in the bundle at all`);
    assert.ok(!modules.has(path), `${path} is imported statically from the bin: it is loaded at every start`);
  }
  // The wrapper's own path is: the test would pass vacuously on a wrong entry.
  for (const path of ["src/main.ts", "src/program/run.ts", "src/sidecar/stop.ts", "src/sidecar/http1.ts"])
    assert.ok(modules.has(path), `${path} should be on the start-up path`);
});

test("no module on the start-up path imports a Node built-in at its top", async () => {
  const { builtins } = staticClosure(await metafile());
  assert.deepEqual(
    [...builtins].map(([builtin, from]) => `${from} imports ${builtin}`),
    [],
    "use builtin() from src/runtime/builtins.ts where the module is needed",
  );
});
