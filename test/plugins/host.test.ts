// loadPlugins() and PluginHost.run(): the module shapes, each hook's context,
// and plugins that fail every way they can.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { basename } from "node:path";
import { beforeEach, test } from "node:test";
import { loadPlugins } from "../../src/plugins/host.js";
import { NO_PLUGINS } from "../../src/plugins/paths.js";
import { VERSION } from "../../src/version.js";
import { collect, NODE, ROOT } from "../support/cli.js";
import { startFakeSidecar } from "../support/fake-sidecar.js";
import { calls, captureLog, pluginFile, recorder, resetCalls } from "./support.js";

beforeEach(resetCalls);

const exit = { kind: "exited", exitCode: 3, signal: null, durationMs: 1234, status: 3 } as const;
const istio = { name: "istio", url: "http://127.0.0.1:15020/quitquitquit" };
const sidecars = [istio];

function allHooks(plugin: string): string {
  return ["beforeStart", "afterExit", "beforeStop", "afterStop"]
    .map((h) => `${h}(ctx) { ${recorder(plugin, h)} },`)
    .join("\n");
}

test("no plugins: nothing is loaded and run() does nothing", async () => {
  assert.equal(await loadPlugins([], { log: captureLog(), mode: "wrapper" }), NO_PLUGINS);
  await NO_PLUGINS.run("afterExit", { exit });
});

test("each hook gets its data plus mode, version, log and a live signal", async () => {
  const path = await pluginFile(`export default { name: "rec", ${allHooks("rec")} };`);
  const log = captureLog();
  const host = await loadPlugins([path], { log, mode: "watcher" });
  assert.deepEqual(host.plugins, [{ name: "rec", path }]);

  await host.run("beforeStart", { watch: { name: "airflow" } });
  await host.run("afterExit", { exit });
  await host.run("beforeStop", { exit, sidecars, skipReason: undefined });
  await host.run("afterStop", {
    exit,
    sidecars: [{ ...istio, outcome: "stopped" }],
    skipReason: undefined,
    status: 3,
  });

  const got = calls();
  assert.deepEqual(
    got.map((c) => c.hook),
    ["beforeStart", "afterExit", "beforeStop", "afterStop"],
  );
  for (const { ctx } of got) {
    assert.equal(ctx.mode, "watcher");
    assert.equal(ctx.version, VERSION);
    assert.ok(ctx.signal instanceof AbortSignal && !ctx.signal.aborted);
    assert.equal(typeof (ctx.log as { warn: unknown }).warn, "function");
  }
  assert.deepEqual(got[0]?.ctx.watch, { name: "airflow" });
  assert.deepEqual(got[1]?.ctx.exit, exit);
  assert.deepEqual(got[2]?.ctx.sidecars, sidecars);
  assert.equal(got[2]?.ctx.skipReason, undefined);
  assert.deepEqual(got[3]?.ctx.sidecars, [{ ...istio, outcome: "stopped" }]);
  assert.equal(got[3]?.ctx.status, 3);
});

test("module shapes: default object, default factory, getPlugin, GetPlugin, named exports, run()", async () => {
  const paths = [
    await pluginFile(`export default { afterExit(ctx) { ${recorder("default-object", "afterExit")} } };`, "obj"),
    await pluginFile(
      `export default (setup) => ({ name: "factory-" + setup.mode, afterExit(ctx) { ${recorder("default-factory", "afterExit")} } });`,
    ),
    await pluginFile(
      `export async function getPlugin() { return { name: "get", afterExit(ctx) { ${recorder("getPlugin", "afterExit")} } }; }`,
    ),
    await pluginFile(
      `export function GetPlugin() { return { name: "Get", run(ctx) { ${recorder("GetPlugin.run", "run")} } }; }`,
    ),
    await pluginFile(
      `export const name = "named"; export function afterExit(ctx) { ${recorder("named", "afterExit")} }`,
    ),
  ];
  const host = await loadPlugins(paths, { log: captureLog(), mode: "wrapper" });
  assert.deepEqual(
    host.plugins.map((p) => p.name),
    [basename(paths[0] ?? "", ".mjs"), "factory-wrapper", "get", "Get", "named"],
  );
  await host.run("afterExit", { exit });
  assert.deepEqual(
    calls().map((c) => c.plugin),
    ["default-object", "default-factory", "getPlugin", "GetPlugin.run", "named"],
  );
  assert.deepEqual(calls()[3]?.ctx.exit, exit, "run() gets afterExit's context");
});

test("hooks run in the order the plugins were given, one after another", async () => {
  const slow = await pluginFile(
    `export default { name: "slow", async afterExit(ctx) { await new Promise((r) => setTimeout(r, 100)); ${recorder("slow", "afterExit")} } };`,
  );
  const fast = await pluginFile(
    `export default { name: "fast", afterExit(ctx) { ${recorder("fast", "afterExit")} } };`,
  );
  const host = await loadPlugins([slow, fast], { log: captureLog(), mode: "wrapper" });
  await host.run("afterExit", { exit });
  assert.deepEqual(
    calls().map((c) => c.plugin),
    ["slow", "fast"],
  );
});

test("a hook that throws, rejects or throws a non-Error is logged; the next plugin still runs", async () => {
  const paths = [
    await pluginFile(`export default { name: "sync", afterExit() { throw new TypeError("boom\\nsecond line"); } };`),
    await pluginFile(`export default { name: "async", async afterExit() { throw new Error("rejected"); } };`),
    await pluginFile(`export default { name: "odd", afterExit() { throw 42; } };`),
    await pluginFile(`export default { name: "fine", afterExit(ctx) { ${recorder("fine", "afterExit")} } };`),
  ];
  const log = captureLog("warn");
  const host = await loadPlugins(paths, { log, mode: "wrapper" });
  await host.run("afterExit", { exit });
  assert.deepEqual(log.lines, [
    "iqqq: warning: plugin sync: afterExit failed: TypeError: boom second line; going on without it\n",
    "iqqq: warning: plugin async: afterExit failed: Error: rejected; going on without it\n",
    "iqqq: warning: plugin odd: afterExit failed: 42; going on without it\n",
  ]);
  assert.deepEqual(
    calls().map((c) => c.plugin),
    ["fine"],
  );
});

test("a hook that hangs is left behind after the timeout, its signal aborted", async () => {
  const hang = await pluginFile(
    `export default { name: "hang", afterExit(ctx) { ${recorder("hang", "afterExit")} return new Promise(() => {}); } };`,
  );
  const next = await pluginFile(
    `export default { name: "next", afterExit(ctx) { ${recorder("next", "afterExit")} } };`,
  );
  const log = captureLog("warn");
  const host = await loadPlugins([hang, next], { log, mode: "wrapper", timeoutMs: 150 });
  const started = performance.now();
  await host.run("afterExit", { exit });
  const took = performance.now() - started;
  assert.ok(took >= 140 && took < 5000, `took ${took} ms`);
  assert.deepEqual(log.lines, [
    "iqqq: warning: plugin hang: afterExit did not finish within 150ms (IQQQ_PLUGIN_TIMEOUT); going on without it\n",
  ]);
  const [hung, ran] = calls();
  assert.equal((hung?.ctx.signal as AbortSignal | undefined)?.aborted, true);
  assert.equal(ran?.plugin, "next");
});

test("a plugin that cannot be loaded is logged and skipped: missing, broken, hanging, empty, a Go .so", async () => {
  const good = await pluginFile(
    `export default { name: "good", afterExit(ctx) { ${recorder("good", "afterExit")} } };`,
  );
  const broken = await pluginFile(`export default { afterExit( };`, "broken");
  const throwsOnLoad = await pluginFile(`throw new Error("no config");`, "throws");
  const hangsOnLoad = await pluginFile(`await new Promise(() => {}); export default {};`, "hangs");
  const empty = await pluginFile(`export const x = 1;`, "empty");
  const notObject = await pluginFile(`export default () => 42;`, "number");
  const log = captureLog("warn");
  const host = await loadPlugins(
    ["/nonexistent/plugin.mjs", broken, throwsOnLoad, hangsOnLoad, empty, notObject, "/istio-proxy-plugin.so", good],
    { log, mode: "wrapper", timeoutMs: 300 },
  );
  assert.deepEqual(
    host.plugins.map((p) => p.name),
    ["good"],
  );
  const text = log.text();
  assert.match(text, /plugin \/nonexistent\/plugin\.mjs: not loaded: failed: Error: Cannot find module/);
  assert.match(text, new RegExp(`plugin ${broken}: not loaded: failed: SyntaxError`));
  assert.match(text, new RegExp(`plugin ${throwsOnLoad}: not loaded: failed: Error: no config`));
  assert.match(text, new RegExp(`plugin ${hangsOnLoad}: not loaded: did not finish within 300ms`));
  assert.match(text, new RegExp(`plugin ${empty}: not loaded: it has no hooks`));
  assert.match(
    text,
    new RegExp(`plugin ${notObject}: not loaded: failed: Error: expected a plugin object, got number`),
  );
  assert.match(text, /plugin \/istio-proxy-plugin\.so: not loaded: a Go plugin \(wrapper4's WRAPPER_PLUGIN_PATH\)/);
  assert.equal(log.lines.length, 7, text);
  await host.run("afterExit", { exit });
  assert.equal(calls().length, 1);
});

test("relative paths are resolved against cwd", async () => {
  const path = await pluginFile(`export default { name: "rel", afterExit() {} };`);
  const host = await loadPlugins([basename(path)], { log: captureLog(), mode: "wrapper", cwd: `${path}/..` });
  assert.deepEqual(host.plugins, [{ name: "rel", path }]);
});

test("contexts are frozen copies: a plugin cannot change what the caller passed", async () => {
  const path = await pluginFile(
    `export default { name: "meddler", afterExit(ctx) { ctx.exit.status = 0; } , beforeStop(ctx) { ctx.sidecars.pop(); } };`,
  );
  const log = captureLog("warn");
  const host = await loadPlugins([path], { log, mode: "wrapper" });
  const data = { exit: { ...exit }, sidecars: [...sidecars], skipReason: undefined };
  await host.run("afterExit", data);
  await host.run("beforeStop", data);
  assert.equal(data.exit.status, 3);
  assert.equal(data.sidecars.length, 1);
  assert.match(log.lines[0] ?? "", /plugin meddler: afterExit failed: TypeError: Cannot assign to read only property/);
  assert.match(log.lines[1] ?? "", /plugin meddler: beforeStop failed: TypeError/);
});

test("plugin log lines carry the plugin's name and follow the log level", async () => {
  const path = await pluginFile(
    `export default { name: "talk", afterExit({ log }) { log.error("e"); log.warn("w\\nx"); log.info("i"); log.debug("d"); } };`,
  );
  const log = captureLog("warn");
  await (await loadPlugins([path], { log, mode: "wrapper" })).run("afterExit", { exit });
  assert.deepEqual(log.lines, ["iqqq: error: plugin talk: e\n", "iqqq: warning: plugin talk: w x\n"]);
});

test("a hanging beforeStop hook delays a sidecar stop made after it by the timeout at most", async () => {
  // The order the pipeline keeps: beforeStop → POST /quitquitquit → afterStop.
  // main's own wiring is tested end to end; this pins what the host guarantees.
  const sidecar = await startFakeSidecar();
  try {
    const path = await pluginFile(
      `export default { name: "p", beforeStop(ctx) { ${recorder("p", "beforeStop")} return new Promise(() => {}); }, afterStop(ctx) { ${recorder("p", "afterStop")} } };`,
    );
    const log = captureLog("warn");
    const host = await loadPlugins([path], { log, mode: "standalone", timeoutMs: 200 });
    const target = { name: "istio", url: `${sidecar.url}/quitquitquit` };
    const targets = [target];
    await host.run("beforeStop", { exit: undefined, sidecars: targets, skipReason: undefined });
    const answer = await fetch(target.url, { method: "POST", signal: AbortSignal.timeout(5000) });
    assert.equal(answer.status, 200);
    await host.run("afterStop", {
      exit: undefined,
      sidecars: [{ ...target, outcome: "stopped" }],
      skipReason: undefined,
      status: 0,
    });
    const [before, after] = calls();
    const quitAt = sidecar.requests[0]?.at ?? 0;
    assert.ok(before !== undefined && after !== undefined);
    assert.ok(
      before.at <= quitAt && quitAt <= after.at,
      `beforeStop ${before.at}, quit ${quitAt}, afterStop ${after.at}`,
    );
    assert.ok(quitAt - before.at >= 190, "the stop did not wait for the hook's timeout");
    assert.ok(quitAt - before.at < 5000, "the hook held the stop past its timeout");
    assert.match(log.text(), /plugin p: beforeStop did not finish within 200ms/);
  } finally {
    await sidecar.close();
  }
});

test("a hung plugin does not let Node's event loop run dry before the rest of the pipeline", async () => {
  // If the hook's deadline were an unref'd timer, Node would exit here with the
  // promise pending, before "done": the sidecar stop would never happen.
  const hang = await pluginFile(`export default { name: "hang", beforeStop() { return new Promise(() => {}); } };`);
  const r = await collect(
    spawn(NODE, [`${ROOT}build/test/fixtures/plugin-host.js`, hang], {
      env: { PATH: process.env.PATH ?? "", PLUGIN_TIMEOUT_MS: "200" },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.toString(), "done\n", r.stderr);
  assert.match(r.stderr, /plugin hang: beforeStop did not finish within 200ms/);
});
