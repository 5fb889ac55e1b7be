// The published types: a plugin author's project that depends on iqqq
// type-checks against "iqqq/plugin" (dist/plugin.d.ts, from `npm run build`),
// in TypeScript and, through JSDoc, the example plugins themselves.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../support/cli.js";

test("iqqq/plugin types check a TypeScript plugin and the JSDoc of the example plugins", async () => {
  const dir = await mkdtemp(join(tmpdir(), "iqqq-plugin-types-"));
  await mkdir(join(dir, "node_modules/@types"), { recursive: true });
  await symlink(ROOT, join(dir, "node_modules/iqqq"));
  await symlink(join(ROOT, "node_modules/@types/node"), join(dir, "node_modules/@types/node"));
  await cp(join(ROOT, "examples/plugins"), join(dir, "plugins"), { recursive: true });
  await writeFile(
    join(dir, "notify.mts"),
    `import type { AfterExitContext, IqqqPlugin } from "iqqq/plugin";
const plugin: IqqqPlugin = {
  name: "notify",
  async afterExit({ exit, log, signal }: AfterExitContext) {
    const code: number | null = exit.exitCode;
    log.info(\`exit \${code ?? exit.signal} after \${exit.durationMs} ms\`);
    signal.throwIfAborted();
  },
};
export default plugin;
// @ts-expect-error: a misspelt hook is caught
const bad: IqqqPlugin = { afterexit() {} };
void bad;
`,
  );
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        strict: true,
        noEmit: true,
        allowJs: true,
        checkJs: true,
        types: ["node"],
      },
      include: ["notify.mts", "plugins/*.mjs"],
    }),
  );
  const tsc = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["-p", dir], { encoding: "utf8" });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});
