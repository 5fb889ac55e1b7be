import assert from "node:assert/strict";
import { test } from "node:test";
import { distance, misspeltVariables } from "../../src/config/misspelt.js";

test("distance: edits, with a swap of neighbours as one", () => {
  assert.equal(distance("IQQQ_SIDECARS", "IQQQ_SIDECARS"), 0);
  assert.equal(distance("IQQQ_SIDECAR", "IQQQ_SIDECARS"), 1);
  assert.equal(distance("IQQQ_QUIT_TIMOUT", "IQQQ_QUIT_TIMEOUT"), 1);
  assert.equal(distance("IQQQ_SIDECRAS", "IQQQ_SIDECARS"), 1);
  assert.equal(distance("abc", ""), 3);
});

test("unknown IQQQ_ names: one warning each, naming the closest known variable", () => {
  const warnings = misspeltVariables(
    { IQQQ_SIDECAR: "linkerd", iqqq_log_level: "debug", IQQQ_QUIT_TIMEOUT: "1s", PATH: "/bin", IQQQ_EMPTY: "" },
    "iqqq",
    false,
  );
  assert.deepEqual(warnings, [
    "IQQQ_SIDECAR is not a variable iqqq knows, so it has no effect; did you mean IQQQ_SIDECARS?",
    "iqqq_log_level is not a variable iqqq knows, so it has no effect; did you mean IQQQ_LOG_LEVEL?",
  ]);
});

test("with plugins, an IQQQ_ name far from every known one is a plugin's own: no warning", () => {
  const env = { IQQQ_TERMINATION_LOG: "/dev/termination-log", IQQQ_PLUGIN_TIMEOT: "1s" };
  assert.deepEqual(misspeltVariables(env, "iqqq", true), [
    "IQQQ_PLUGIN_TIMEOT is not a variable iqqq knows, so it has no effect; did you mean IQQQ_PLUGIN_TIMEOUT?",
  ]);
  assert.equal(misspeltVariables(env, "iqqq", false).length, 2);
});

test("as scuttle: names close to scuttle's are warned about; other programs' variables are not", () => {
  const env = {
    ENVOY_ADMIN_APi: "http://127.0.0.1:15000",
    ISTIO_QUIT_AP: "x",
    ISTIO_SERVICE_HOST: "10.0.0.1",
    HOME: "/",
  };
  assert.deepEqual(misspeltVariables(env, "scuttle", false), [
    "ENVOY_ADMIN_APi is not a variable iqqq knows, so it has no effect; did you mean ENVOY_ADMIN_API?",
    "ISTIO_QUIT_AP is not a variable iqqq knows, so it has no effect; did you mean ISTIO_QUIT_API?",
  ]);
  assert.deepEqual(misspeltVariables(env, "iqqq", false), []);
});

test("only the environment's own names are read, not inherited ones", () => {
  const env = Object.create({ IQQQ_WAT: "1" }) as Record<string, string>;
  env.IQQQ_LOG_LEVL = "debug";
  assert.deepEqual(misspeltVariables(env, "iqqq", false), [
    "IQQQ_LOG_LEVL is not a variable iqqq knows, so it has no effect; did you mean IQQQ_LOG_LEVEL?",
  ]);
});
