// The README, docs/, --help and the code must agree: every variable and exit
// code is documented, the tables generated from the code are current, and links
// and anchors resolve.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { VARIABLES } from "../src/config/variables.js";
import { EXIT } from "../src/exit-status.js";
import { helpText } from "../src/help.js";
import { ROOT } from "./support/cli.js";

const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");
const readme = read("README.md");

/** The Markdown a user reads: the README, CONTRIBUTING.md and every file in docs/. */
const MARKDOWN = ["README.md", "CONTRIBUTING.md", ...readdirSync(join(ROOT, "docs")).map((f) => `docs/${f}`)].filter(
  (f) => f.endsWith(".md"),
);

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

test("generated blocks are well formed: each on its own lines, opened once and closed", () => {
  const names = new Map<string, string>();
  for (const file of MARKDOWN) {
    let open: string | undefined;
    for (const [i, line] of read(file).split("\n").entries()) {
      // Markers shown as code (`<!-- generated:NAME -->`) are not markers.
      const marker = /<!--\s*(end )?generated:([\w-]+)\s*-->/.exec(line.replace(/`[^`]*`/g, ""));
      if (!marker) continue;
      const where = `${file}:${i + 1}`;
      assert.equal(line, marker[0], `${where}: a generated marker must be alone on its line`);
      const name = marker[2] as string;
      if (marker[1]) {
        assert.equal(open, name, `${where}: end of generated:${name} without its start`);
        open = undefined;
      } else {
        assert.equal(open, undefined, `${where}: generated:${name} inside generated:${open}`);
        assert.ok(!names.has(name), `${where}: generated:${name} is also in ${names.get(name)}`);
        names.set(name, where);
        open = name;
      }
    }
    assert.equal(open, undefined, `${file}: generated:${open} is never closed`);
  }
  for (const name of ["variables", "sidecars"]) assert.ok(names.has(name), `no generated:${name} block`);
});

/** Markdown outside fenced code blocks. */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** GitHub's anchors for a file's headings. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of prose(read(file)).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = (heading as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

test("every relative link in the README, CONTRIBUTING.md and docs/ resolves, anchors included", () => {
  for (const file of MARKDOWN) {
    for (const [, target] of prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const [path, anchor] = (target as string).split("#") as [string, string | undefined];
      const resolved = path === "" ? join(ROOT, file) : resolve(ROOT, dirname(file), path);
      assert.ok(existsSync(resolved), `${file}: link to ${target}: no such file`);
      if (anchor === undefined) continue;
      const linked = relative(ROOT, resolved);
      assert.ok(linked.endsWith(".md"), `${file}: link to ${target}: an anchor into a file that is not Markdown`);
      assert.ok(anchors(linked).has(anchor), `${file}: link to ${target}: ${linked} has no heading #${anchor}`);
    }
  }
});

test("the README links every file in docs/ and CONTRIBUTING.md", () => {
  const linked = new Set(
    [...prose(readme).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map(([, target]) => join(target as string)),
  );
  for (const file of MARKDOWN.filter((f) => f !== "README.md")) {
    assert.ok(linked.has(file), `README.md does not link ${file}`);
  }
});
