// npm run docs: writes the tables that come from the code into the docs, between
// `<!-- generated:NAME -->` and `<!-- end generated:NAME -->` lines: the
// environment variables (the settings table, src/config/variables.ts) and the
// sidecar kinds (the catalogue, src/sidecar/catalogue.ts). test/docs.test.ts
// fails when a file's block differs from what this writes, so the docs cannot
// drift from the code. `--check` only reports the stale files.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VARIABLES } from "../src/config/variables.js";
import { type HttpSidecar, ISTIO_LEGACY, SIDECARS } from "../src/sidecar/catalogue.js";

const cell = (text: string): string => text.replaceAll("|", "\\|").replaceAll("\n", " ");
const code = (text: string): string => `\`${text}\``;

function variables(): string {
  const rows = VARIABLES.map(
    (v) =>
      `| ${code(v.name)} | ${v.default.startsWith("(") ? cell(v.default) : code(v.default)} | ${cell(v.meaning)} |`,
  );
  return ["| Variable | Default | Meaning |", "|---|---|---|", ...rows].join("\n");
}

function sidecars(): string {
  const rows = (SIDECARS as readonly HttpSidecar[]).map((k) => {
    const stop = `${code(`POST :${k.port.default}/${k.quitPath}`)} → ${k.answer.status}`;
    const port = `${code(k.port.variable)} (${k.port.default})`;
    const ready = k.ready === undefined ? "–" : code(`GET :${k.ready.port.default}/${k.ready.path}`);
    const marks = [
      `container ${code(k.container.name.source)}${k.container.image !== undefined ? ` or image ${code(k.container.image.source)}` : ""}`,
      ...(k.requested !== undefined ? [`${code(`${k.requested.key}: ${k.requested.values.join("|")}`)}`] : []),
    ].join("; ");
    const sw = k.quitSwitch?.how ?? "–";
    return `| ${code(k.name)} | ${cell(k.what)} | ${stop} | ${port} | ${ready} | ${cell(marks)} | ${cell(sw)} | ${k.source
      .split(" and ")
      .map((url) => `<${url}>`)
      .join(" ")} |`;
  });
  return [
    "| `IQQQ_SIDECARS=` | What | Stop | Port variable (default) | `IQQQ_WAIT_FOR` | Found in a pod by | Must be switched on | Source |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    `| ${code(ISTIO_LEGACY.name)} | Istio ≤ 1.2 | ${ISTIO_LEGACY.signal} to ${code(ISTIO_LEGACY.process)} (needs shareProcessNamespace) | – | – | – | – | – |`,
  ].join("\n");
}

export const BLOCKS: Readonly<Record<string, () => string>> = { variables, sidecars };

/** The text with every generated block rewritten; unknown block names are an error. */
export function render(text: string, file: string): string {
  return text.replace(
    /(<!-- generated:([a-z-]+) -->\n)([\s\S]*?)(<!-- end generated:\2 -->)/g,
    (_all, open: string, name: string, _old: string, close: string) => {
      const block = BLOCKS[name];
      if (block === undefined) throw new Error(`${file}: no generated block named ${name}`);
      return `${open}${block()}\n${close}`;
    },
  );
}

/** README.md, CONTRIBUTING.md and docs/*.md, relative to the repository root. */
export function documents(root: string): string[] {
  const docs = readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`);
  return ["README.md", "CONTRIBUTING.md", ...docs].filter((f) => {
    try {
      readFileSync(join(root, f));
      return true;
    } catch {
      return false;
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = new URL("../..", import.meta.url).pathname;
  const check = process.argv.includes("--check");
  const stale: string[] = [];
  for (const file of documents(root)) {
    const text = readFileSync(join(root, file), "utf8");
    const next = render(text, file);
    if (next === text) continue;
    stale.push(file);
    if (!check) writeFileSync(join(root, file), next);
  }
  console.log(stale.length === 0 ? "docs: up to date" : `docs: ${check ? "stale" : "rewritten"}: ${stale.join(", ")}`);
  if (check && stale.length > 0) process.exitCode = 1;
}
