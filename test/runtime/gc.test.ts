// keepYoungGenerationSmall(): V8's young generation stays near its first size
// however much short-lived garbage is made. In a child process of its own, so
// that the test runner's heap is not changed.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";

const GC = new URL("../../src/runtime/gc.js", import.meta.url).href;
const BUILTINS = new URL("../../src/runtime/builtins.js", import.meta.url).href;

/** The young generation's size after a burst of garbage (bytes), with or without the switch. */
function youngAfterBurst(small: boolean): number {
  const code = `
    import { getHeapSpaceStatistics } from "node:v8";
    const { prepareBuiltins } = await import(${JSON.stringify(BUILTINS)});
    const { keepYoungGenerationSmall } = await import(${JSON.stringify(GC)});
    await prepareBuiltins();
    if (${small}) keepYoungGenerationSmall();
    let kept = [];
    for (let i = 0; i < 2e6; i++) {
      kept.push({ i, s: "x" + i });
      if (kept.length > 20000) kept = [];
    }
    process.stdout.write(String(getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", "nothing said about the flag");
  return Number(r.stdout);
}

test("keepYoungGenerationSmall(): the young generation does not grow under a burst of garbage", () => {
  const grown = youngAfterBurst(false);
  const kept = youngAfterBurst(true);
  assert.ok(kept <= 4 * 1024 * 1024, `young generation ${kept} bytes`);
  // The burst does grow it otherwise: the check above can fail.
  assert.ok(grown > 2 * kept, `without the switch: ${grown} bytes, with: ${kept}`);
});

const BUN = new URL("../../../node_modules/.bin/bun", import.meta.url).pathname;

test("collectShortRunGarbage(): under Bun a collection, not waited for, every 20 documents; under Node none", {
  skip: existsSync(BUN) ? false : "no node_modules/.bin/bun",
}, () => {
  const code = `
    const { collectShortRunGarbage } = await import(${JSON.stringify(GC)});
    const calls = [];
    let n = 0;
    if (globalThis.Bun !== undefined) Bun.gc = (force) => calls.push([n, force]);
    const after = collectShortRunGarbage();
    for (n = 1; n <= 45; n++) after?.();
    process.stdout.write(JSON.stringify({ hook: after !== undefined, calls }));
  `;
  const bun = spawnSync(BUN, ["-e", code], { encoding: "utf8" });
  assert.equal(bun.status, 0, bun.stderr);
  assert.deepEqual(JSON.parse(bun.stdout), {
    hook: true,
    calls: [
      [20, false],
      [40, false],
    ],
  });
  const node = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
  assert.equal(node.status, 0, node.stderr);
  assert.deepEqual(JSON.parse(node.stdout), { hook: false, calls: [] });
});
