// The executable's wrapper path wakes no JIT compiler. JavaScriptCore compiles a
// function once it has been called some forty times, on threads it starts
// for that: about 2 ms of a short job's run for code that then runs a few
// times more (issue 22). A loop over the settings table in place of a call per
// row, and node:fs left unbuilt on the stop path, keep `iqqq true` at zero,
// with a sidecar to stop and without. Compilation is made synchronous so that
// none can finish after the exit unseen. The Node bundle has no such switch.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CLI_IS_COMPILED, runCli } from "../support/cli.js";
import { fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();
const REPORT = { BUN_JSC_useConcurrentJIT: "false", BUN_JSC_reportCompileTimes: "true" };

describe("the executable compiles nothing for `iqqq true`", {
  skip: !CLI_IS_COMPILED && "IQQQ_CLI is not the executable",
}, () => {
  test("not in Kubernetes", async () => {
    const r = await runCli(["true"], { env: REPORT });
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stderr, /Optimized/, r.stderr);
  });

  test("stopping a live sidecar", async () => {
    const istio = await sidecar();
    const r = await runCli(["true"], { env: { ...REPORT, ...K8S, ISTIO_PORT: String(istio.port) } });
    assert.equal(r.status, 0);
    assert.equal(istio.quits(), 1);
    assert.doesNotMatch(r.stderr, /Optimized/, r.stderr);
  });
});
