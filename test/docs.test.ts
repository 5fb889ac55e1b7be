// The README, docs/ and --help must agree with the code: every variable and
// exit code is documented, and the tables generated from the code are current.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { VARIABLES } from "../src/config/variables.js";
import { EXIT } from "../src/exit-status.js";
import { helpText } from "../src/help.js";
import { ROOT } from "./support/cli.js";

const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");
const readme = read("README.md");

/** The lines between `<!-- generated:NAME -->` and `<!-- end generated:NAME -->` in a file. */
function generated(file: string, name: string): string[] {
  const lines = read(file).split("\n");
  const start = lines.indexOf(`<!-- generated:${name} -->`);
  const end = lines.indexOf(`<!-- end generated:${name} -->`);
  assert.ok(start >= 0 && end > start, `${file}: no generated:${name} block`);
  return lines.slice(start + 1, end);
}

test("the README's two commands are at its top", () => {
  const top = readme.split("\n").slice(0, 8).join("\n");
  assert.match(top, /npm ci && npm run demo/);
  assert.match(top, /npm test/);
});

test("the README stays a five-minute read: at most 250 lines", () => {
  const lines = readme.trimEnd().split("\n").length;
  assert.ok(lines <= 250, `README.md has ${lines} lines; move details to docs/`);
});

test("every variable is in docs/configuration.md's table with its default", () => {
  const rows = generated("docs/configuration.md", "variables");
  for (const v of VARIABLES) {
    const row = rows.find((line) => line.startsWith(`| \`${v.name}\` |`));
    assert.ok(row, `docs/configuration.md has no table row for ${v.name}`);
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
    const text = read(file);
    blocks.push(...(text.match(/<!-- generated:[a-z-]+ -->/g) ?? []));
    assert.equal(render(text, file), text, `${file} is stale: run npm run docs`);
  }
  assert.ok(
    blocks.includes("<!-- generated:variables -->") && blocks.includes("<!-- generated:sidecars -->"),
    blocks.join(),
  );
});

test("every exit code is in docs/exit-status.md's table and in --help", () => {
  const doc = read("docs/exit-status.md");
  const help = helpText();
  for (const [name, code] of Object.entries(EXIT)) {
    if (name === "SIGNAL_BASE") continue;
    assert.match(doc, new RegExp(`^\\| ${code} \\|`, "m"), `docs/exit-status.md: no row for ${name} (${code})`);
    assert.ok(help.includes(String(code)), `--help: no ${name} (${code})`);
  }
  assert.match(doc, /^\| 128\+N \|/m);
});
