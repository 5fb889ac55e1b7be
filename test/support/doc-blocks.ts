// The fenced blocks of the README and docs/, with the mark on the line before
// each fence. A mark is an HTML comment, so the docs render without it:
//
//   <!-- run -->                 sh: run in a scratch folder with the built iqqq on PATH
//   <!-- run: stub NAME… -->     the same, with each NAME a program on PATH that exits 0
//   <!-- cluster -->             sh: needs a cluster; checked for syntax and names only
//   <!-- fragment: KIND PATH --> yaml: part of a KIND (Job, Pod, CronJob) at PATH
//                                (spec.template.spec…), validated merged into one
//   <!-- output: FILE… -->       text: what a program prints; its fixed words are in FILE…
//   <!-- file: NAME -->          sh, yaml, dockerfile: checked, then written as NAME into the
//                                document's scratch folder, where its run blocks run
//   <!-- skip: REASON -->        not checked, for the reason given
//
// A block without a mark is checked by its language: sh for syntax and the
// names it uses, yaml against Kubernetes' schema, dockerfile built (npm run
// test:pods), js with node --check, text for the names it uses.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./cli.js";

export interface DocBlock {
  readonly file: string;
  /** The fence's line, 1-based. */
  readonly line: number;
  readonly lang: string;
  /** The mark's kind ("run", "cluster", "fragment", "output", "skip"), or undefined. */
  readonly mark: string | undefined;
  /** The words after the mark's colon. */
  readonly markArgs: string;
  readonly text: string;
  /** file:line, for messages. */
  readonly where: string;
}

/** The documents a user reads whose blocks are checked. */
export function docFiles(): string[] {
  return [
    "README.md",
    "CONTRIBUTING.md",
    ...readdirSync(join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .sort()
      .map((f) => `docs/${f}`),
  ];
}

const MARK = /^<!--\s*([a-z]+)(?::\s*(.*?))?\s*-->$/;

export function docBlocks(file: string, text = readFileSync(join(ROOT, file), "utf8")): DocBlock[] {
  const lines = text.split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+|~~~+)\s*([\w-]*)/.exec(lines[i] as string);
    if (!open) continue;
    const [, indent, fence, lang] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !(lines[j] as string).trimStart().startsWith(fence)) {
      body.push((lines[j] as string).slice(indent.length));
      j++;
    }
    const mark = MARK.exec((lines[i - 1] ?? "").trim());
    blocks.push({
      file,
      line: i + 1,
      lang: lang.toLowerCase(),
      mark: mark?.[1],
      markArgs: mark?.[2] ?? "",
      text: `${body.join("\n")}\n`,
      where: `${file}:${i + 1}`,
    });
    i = j;
  }
  return blocks;
}

export function allDocBlocks(): DocBlock[] {
  return docFiles().flatMap((f) => docBlocks(f));
}

/** A Dockerfile's instructions: continuation lines joined, comments and blank lines dropped. */
export function instructions(dockerfile: string): { keyword: string; rest: string; line: number }[] {
  const out: { keyword: string; rest: string; line: number }[] = [];
  let current = "";
  let start = 0;
  for (const [i, raw] of dockerfile.split("\n").entries()) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (current === "") start = i + 1;
    current += `${line.replace(/\\$/, "")} `;
    if (line.endsWith("\\")) continue;
    const [keyword = "", ...rest] = current.trim().split(/\s+/);
    out.push({ keyword: keyword.toUpperCase(), rest: rest.join(" "), line: start });
    current = "";
  }
  return out;
}
