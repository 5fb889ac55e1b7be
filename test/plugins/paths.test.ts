import assert from "node:assert/strict";
import { test } from "node:test";
import { ValueError } from "../../src/config/values.js";
import { parsePluginPaths, parseWrapperPluginPath, pluginPaths } from "../../src/plugins/paths.js";

test("IQQQ_PLUGINS: comma-separated, spaces trimmed, no empty entry", () => {
  assert.deepEqual(parsePluginPaths("/p/a.mjs"), ["/p/a.mjs"]);
  assert.deepEqual(parsePluginPaths(" /p/a.mjs , ./b.js"), ["/p/a.mjs", "./b.js"]);
  assert.deepEqual(parsePluginPaths("/p/with space.mjs"), ["/p/with space.mjs"]);
  for (const bad of [",", "a.mjs,", ",a.mjs", "a.mjs,,b.mjs", " "]) {
    assert.throws(() => parsePluginPaths(bad), ValueError, JSON.stringify(bad));
  }
});

test("WRAPPER_PLUGIN_PATH is one path; both variables together load each path once", () => {
  assert.deepEqual(parseWrapperPluginPath("/x,y.so"), ["/x,y.so"]);
  assert.deepEqual(pluginPaths(["/a.mjs", "/b.mjs"], ["/b.mjs"]), ["/a.mjs", "/b.mjs"]);
  assert.deepEqual(pluginPaths(undefined, ["/w.mjs"]), ["/w.mjs"]);
  assert.deepEqual(pluginPaths(undefined, undefined), []);
});
