// README, --help and the code must agree: every variable and exit code is documented.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { VARIABLES } from "../src/config/variables.js";
import { EXIT } from "../src/exit-status.js";
import { helpText } from "../src/help.js";
import { ROOT } from "./support/cli.js";

const readme = await readFile(join(ROOT, "README.md"), "utf8");

test("the README's two commands are at its top", () => {
  const top = readme.split("\n").slice(0, 8).join("\n");
  assert.match(top, /npm ci && npm run demo/);
  assert.match(top, /npm test/);
});

test("every variable is in the README's configuration table with its default", () => {
  for (const v of VARIABLES) {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${v.name}\` |`));
    assert.ok(row, `README has no table row for ${v.name}`);
    const plainDefault = v.default.replace(/[()]/g, "");
    assert.ok(
      row.includes(plainDefault) || row.includes(`\`${v.default}\``),
      `${v.name}: default ${v.default} not in "${row}"`,
    );
  }
});

test("the tables generated from the code are up to date in every document (npm run docs rewrites them)", async () => {
  const { documents, render } = await import("../scripts/docs.js");
  const blocks = [];
  for (const file of documents(ROOT)) {
    const text = await readFile(join(ROOT, file), "utf8");
    blocks.push(...(text.match(/<!-- generated:[a-z-]+ -->/g) ?? []));
    assert.equal(render(text, file), text, `${file} is stale: run npm run docs`);
  }
  assert.ok(
    blocks.includes("<!-- generated:variables -->") && blocks.includes("<!-- generated:sidecars -->"),
    blocks.join(),
  );
});

test("every exit code is in the README's table and in --help", () => {
  const help = helpText();
  for (const [name, code] of Object.entries(EXIT)) {
    if (name === "SIGNAL_BASE") continue;
    assert.match(readme, new RegExp(`^\\| ${code} \\|`, "m"), `README: no row for ${name} (${code})`);
    assert.ok(help.includes(String(code)), `--help: no ${name} (${code})`);
  }
  assert.match(readme, /^\| 128\+N \|/m);
});
