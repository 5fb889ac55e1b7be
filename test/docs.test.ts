// The README, docs/, --help and the code must agree: every variable and exit
// code is documented, the tables generated from the code are current, links and
// anchors resolve, the sizes quoted for the built files are theirs, and no
// in-team word reaches a reader.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
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

// Sizes quoted for the built artefacts: "about 185 KiB", "~105 MiB (~50 MiB gzip)".
// Each figure in a paragraph, list item or table row that names an artefact is
// read as that artefact's size (gzip -6 when followed by "gzip") and must be
// within TOLERANCE of the file's. Benchmark reports (measurements with a date)
// are left out, as are figures of something else: "of code", "more", "peak RSS",
// "budget", ranges.

const TOLERANCE = 0.15;
const MEASUREMENTS = new Set(["docs/benchmarks.md", "docs/reliability.md", "docs/webhook-load.md", "docs/pods.md"]);
const UNITS: Record<string, number> = {
  bytes: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
};

interface Artefact {
  readonly name: string;
  /** How the text names it. */
  readonly mention: RegExp;
  /** The built files it stands for (any that exist are checked). */
  readonly files: () => string[];
  readonly absent: string;
}

function bin(...names: string[]): () => string[] {
  return () => names.map((n) => join(ROOT, "dist/bin", n));
}
const ARTEFACTS: readonly Artefact[] = [
  {
    name: "the Node bundle",
    mention: /\b(?:dist\/)?iqqq\.mjs\b|\bbundle\b/g,
    files: () => [join(ROOT, "dist/iqqq.mjs")],
    absent: "dist/iqqq.mjs is absent: npm run build makes it",
  },
  // What the Node bundle loads on demand, each a file beside it (scripts/build.mjs).
  ...[
    "commands/inject.mjs",
    "commands/webhook.mjs",
    "commands/reaper.mjs",
    "commands/install.mjs",
    "vendor/re2js.mjs",
  ].map((file) => ({
    name: `dist/${file}`,
    mention: new RegExp(`\\b(?:dist/)?${file.replace(".", "\\.")}\\b`, "g"),
    files: () => [join(ROOT, "dist", file)],
    absent: `dist/${file} is absent: npm run build makes it`,
  })),
  {
    name: "the musl executables",
    mention: /iqqq-linux-(?:x64|arm64|\{x64,arm64\}|<arch>)-musl\b|\bmusl executables?\b/g,
    files: bin("iqqq-linux-x64-musl", "iqqq-linux-arm64-musl"),
    absent: "no musl executable in dist/bin: npm run build:binaries makes them",
  },
  {
    name: "the glibc executables",
    mention: /iqqq-linux-(?:x64|arm64|\{x64,arm64\}|<arch>)(?!-musl)\b|\bexecutables?\b/g,
    files: bin("iqqq-linux-x64", "iqqq-linux-arm64"),
    absent: "dist/bin/iqqq-linux-x64 is absent: node scripts/build-binaries.mjs --host-only makes it",
  },
  {
    name: "the iqqq image",
    mention: /\biqqq image\b|iqqq-image-[\w.-]*\.oci\.tar/g,
    files: () => {
      const dir = join(ROOT, "dist/release");
      return existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => /^iqqq-image-.*\.oci\.tar$/.test(f))
            .map((f) => join(dir, f))
        : [];
    },
    absent: "no iqqq image in dist/release: npm run release makes it",
  },
];

interface SizeClaim {
  readonly where: string;
  readonly text: string;
  readonly bytes: number;
  readonly gzip: boolean;
  readonly artefact: Artefact;
}

/** Paragraphs, list items and table rows, as single lines; Dockerfiles' comments. */
function blocks(file: string): string[] {
  let text = read(file);
  if (file.endsWith("Dockerfile")) {
    text = text
      .split("\n")
      .map((l) => (l.startsWith("#") ? l.replace(/^#\s?/, "") : ""))
      .join("\n");
  }
  const out: string[] = [];
  let current: string[] = [];
  const flush = (): void => {
    if (current.length > 0) out.push(current.join(" "));
    current = [];
  };
  for (const line of prose(text).split("\n")) {
    if (line.trim() === "" || /^\s*([-*]|\d+\.)\s|^\s*\||^#/.test(line)) flush();
    if (line.trim() !== "") current.push(line.trim());
    if (/^\s*\|/.test(line)) flush();
  }
  flush();
  return out;
}

function sizeClaims(): SizeClaim[] {
  const files = [
    ...MARKDOWN.filter((f) => !MEASUREMENTS.has(f)),
    ...readdirSync(join(ROOT, "docker")).map((f) => `docker/${f}`),
  ];
  const claims: SizeClaim[] = [];
  const size = /(?<![\d.,–-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?(bytes|[kKMG]B|[KMG]iB)\b(\s+gzip)?/g;
  // Not the artefact's own size: "87 KiB of code", "~39 MB peak RSS", "against the peers' 6–12 MB", "(≤ 5 MB)".
  const otherAfter = /^\s*(?:of\b|more\b|less\b|peak\b|anonymous\b|RSS\b|budget\b|per\b|limit\b|at once\b)/;
  const otherBefore = /(?:\bagainst|\bthan|\bpeers'|[≤≥<>])\s*~?$/;
  for (const file of files) {
    for (const block of blocks(file)) {
      const mentions = ARTEFACTS.flatMap((artefact) =>
        [...block.matchAll(artefact.mention)].map((m) => ({ artefact, start: m.index, end: m.index + m[0].length })),
      );
      if (mentions.length === 0) continue;
      for (const m of block.matchAll(size)) {
        const start = m.index;
        const end = start + m[0].length;
        if (otherAfter.test(block.slice(end)) || otherBefore.test(block.slice(0, start))) continue;
        // "the ~185 KiB bundle": a mention right after the figure, in the same phrase, names it;
        // otherwise the nearest mention before it, else the nearest after.
        const after = mentions
          .filter((x) => x.start >= end && x.start - end <= 20 && !/[,;.()|:]/.test(block.slice(end, x.start)))
          .sort((a, b) => a.start - b.start)[0];
        const before = mentions.filter((x) => x.end <= start).sort((a, b) => b.end - a.end)[0];
        const later = mentions.filter((x) => x.start >= end).sort((a, b) => a.start - b.start)[0];
        const artefact = (after ?? before ?? later)?.artefact;
        if (!artefact) continue;
        const bytes = Number((m[1] as string).replace(/,/g, "")) * (UNITS[m[2] as string] as number);
        claims.push({ where: file, text: m[0], bytes, gzip: m[3] !== undefined, artefact });
      }
    }
  }
  return claims;
}

const claims = sizeClaims();
const gzipped = new Map<string, number>();
function measured(file: string, gzip: boolean): number {
  if (!gzip) return statSync(file).size;
  let n = gzipped.get(file);
  if (n === undefined) {
    n = gzipSync(readFileSync(file), { level: 6 }).length;
    gzipped.set(file, n);
  }
  return n;
}

const human = (bytes: number): string =>
  bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 10).toFixed(1)} KiB`;

test("the size figures are read: the bundle's and the executables' are quoted", () => {
  const named = (name: string): number => claims.filter((c) => c.artefact.name === name).length;
  assert.ok(named("the Node bundle") >= 3, "fewer than 3 size figures found for the bundle: is the regex still right?");
  assert.ok(named("the glibc executables") >= 3, "fewer than 3 size figures found for the executables");
});

for (const artefact of ARTEFACTS) {
  const mine = claims.filter((c) => c.artefact === artefact);
  const files = artefact.files().filter((f) => existsSync(f));
  const skip = mine.length > 0 && files.length === 0 && artefact.name !== "the Node bundle" ? artefact.absent : false;
  test(`sizes quoted for ${artefact.name} match the built files within ±${TOLERANCE * 100}%`, { skip }, (t) => {
    assert.ok(mine.length === 0 || files.length > 0, artefact.absent);
    for (const claim of mine) {
      for (const file of files) {
        const actual = measured(file, claim.gzip);
        t.diagnostic(
          `${claim.where}: "${claim.text}", ${relative(ROOT, file)} is ${human(actual)}${claim.gzip ? " gzip" : ""}`,
        );
        const off = Math.abs(claim.bytes - actual) / actual;
        assert.ok(
          off <= TOLERANCE,
          `${claim.where}: "${claim.text}" said of ${artefact.name}, but ${relative(ROOT, file)} is ${human(actual)} ` +
            `(${actual} bytes${claim.gzip ? " gzip -6" : ""}): off by ${Math.round(off * 100)}%`,
        );
      }
    }
  });
}

// Figures quoted from a measurement report (benchmarks, reliability, the webhook
// under load, real pods) are the report's, which its command writes: in a
// paragraph, list item or table row that links the report, and in
// docs/performance.md's tables (the benchmarks' reading), each figure in ms, MB, MiB or %
// must be one of the report's to the quote's own precision: "9.7 ms" is 9.7 ms
// there, "~39 MB" anything from 38.5 to 39.5 MB. Limits ("≤ 8 ms"), ranges
// ("6–12 MB") and the peers' figures set against it are not measurements.

const REPORTS: Readonly<Record<string, string>> = {
  "benchmarks.md": "docs/benchmarks.md",
  "reliability.md": "docs/reliability.md",
  "webhook-load.md": "docs/webhook-load.md",
  "pods.md": "docs/pods.md",
};
const FIGURE = /(?<![\w.,–])([-−]?\d+(?:\.\d+)?)\s?(ms|MB|MiB|%)(?![\w–-])/g;

/** Each report's figures, by unit. */
function reportFigures(file: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of read(file).matchAll(FIGURE)) {
    const list = out.get(m[2] as string) ?? [];
    list.push(Number(m[1]));
    out.set(m[2] as string, list);
  }
  return out;
}

export function reportQuoteProblems(file: string): string[] {
  const problems: string[] = [];
  for (const block of blocks(file)) {
    const linked = Object.entries(REPORTS)
      .filter(([name]) => new RegExp(`\\]\\((?:docs/)?${name.replace(".", "\\.")}[)#]`).test(block))
      .map(([, report]) => report);
    // docs/performance.md's tables quote docs/benchmarks.md; its prose also gives one-off figures.
    if (file === "docs/performance.md" && block.startsWith("|")) linked.push("docs/benchmarks.md");
    if (linked.length === 0) continue;
    const figures = linked.map(reportFigures);
    for (const m of block.matchAll(FIGURE)) {
      // Limits, and figures of something else set against the measured one.
      if (/(?:\bagainst|\bthan|\bpeers'|[≤≥<>])\s*~?$/.test(block.slice(0, m.index))) continue;
      const text = (m[1] as string).replace("−", "-");
      const value = Number(text);
      // Half a unit of the quote's last digit, and a little for floating point.
      const half = 0.5 * 10 ** -(text.split(".")[1]?.length ?? 0) + 1e-9;
      const unit = m[2] as string;
      const near = figures.some((f) => (f.get(unit) ?? []).some((x) => Math.abs(x - value) <= half));
      if (!near)
        problems.push(
          `${file}: "${m[0]}" is in none of ${[...new Set(linked)].join(", ")} (to ±${half.toPrecision(1)})`,
        );
    }
  }
  return problems;
}

test("figures quoted from a measurement report are the report's", () => {
  const problems = MARKDOWN.filter((f) => !MEASUREMENTS.has(f)).flatMap(reportQuoteProblems);
  assert.deepEqual(problems, [], problems.join("\n"));
});

// A measured figure (a time or a memory figure in a sentence that says it was
// measured, costs, is faster or slower…) must come from something that measures
// it again: a report that its command writes (checked above, so the block must
// link the report) or the built artefacts (the sizes, checked above). A one-off
// figure measured once by hand is not allowed: it goes stale unseen. Limits and
// settings ("at most 5 s", "every 100 ms", "≤ 5 MB") are not measurements. One
// file is a log of such one-off measurements, each with its method, and says so
// at its top: docs/performance-notes.md.
const LOGS: ReadonlySet<string> = new Set(["docs/performance-notes.md"]);

test("the log of one-off measurements says at its top that it is one", () => {
  for (const file of LOGS) assert.match(read(file).slice(0, 600), /measured once, by hand/, file);
});

const MEASURED_CUE =
  /\b(?:measured|median|medians|costs?|took|takes|slower|faster|instead of|shorter|longer|RSS|p50|p99|answers\/s|req\/s|start-up|overhead)\b/i;
const TIME_OR_MEMORY = /(?<![\w.,–-])(\d+(?:\.\d+)?)\s?(ms|µs|MB|MiB)(?![\w–-])/g;
const SETTING_BEFORE =
  /(?:[≤≥<>]|\bat most|\bat least|\bup to|\bevery|\bafter|\bwithin|\btimeout(?: of)?|\bbudget(?: of)?|\blimit(?: of)?|\bdefault|\bdefaults to|\bagainst(?: the peers')?|\bthan|\bpeers'|\bfor)\s*~?(?:about\s+)?$/i;

export function unsourcedFigures(file: string): string[] {
  const problems: string[] = [];
  for (const block of blocks(file)) {
    if (!MEASURED_CUE.test(block)) continue;
    if (Object.keys(REPORTS).some((name) => new RegExp(`\\]\\((?:docs/)?${name.replace(".", "\\.")}[)#]`).test(block)))
      continue;
    if (file === "docs/performance.md" && block.startsWith("|")) continue;
    for (const m of block.matchAll(TIME_OR_MEMORY)) {
      if (SETTING_BEFORE.test(block.slice(Math.max(0, m.index - 40), m.index))) continue;
      problems.push(`${file}: "${m[0]}" in "${block.slice(Math.max(0, m.index - 60), m.index + 20)}…"`);
    }
  }
  return problems;
}

test("every measured figure in the docs is one a command measures again (a report's, linked)", () => {
  const problems = MARKDOWN.filter((f) => !MEASUREMENTS.has(f) && !LOGS.has(f)).flatMap(unsourcedFigures);
  assert.deepEqual(problems, [], problems.join("\n"));
});

// Words from the team's own work that mean nothing to a user.
const JARGON: readonly RegExp[] = [
  /\bseeds?\b/i,
  /\bseed's\b/i,
  /\bissues? #?\d+/i,
  /\bthe issue\b/i,
  /\bthe brief\b/i,
  /\bsessions?\b/i,
  /\bhostile review\b/i,
  /\bshared\/(?:research|podman)/i,
  /\bworktrees?\b/i,
];
/** "session" in its Unix sense (setsid) is a word users know. */
const UNIX_SESSION = /\bits own session\b|\bown process group \(and session\)|\bsession and process group\b/gi;

function jargonIn(where: string, text: string): void {
  const plain = text.replace(UNIX_SESSION, "");
  for (const word of JARGON) {
    const hit = word.exec(plain);
    assert.equal(hit, null, `${where}: "${hit?.[0]}" is an in-team word; say it as a user would read it`);
  }
}

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => ext.test(f))
    .map((f) => `${dir}/${f}`);
}

test("no in-team words in the README, CONTRIBUTING.md, docs/, examples/, docker/ or deploy/", () => {
  const files = [
    ...MARKDOWN,
    ...filesUnder("examples", /\.(ya?ml|py|m?js)$/),
    ...filesUnder("docker", /Dockerfile$/),
    ...filesUnder("deploy", /\.ya?ml$/),
  ];
  for (const file of files) jargonIn(file, read(file));
});

test("no in-team words in what iqqq prints: --help and the strings in src/", () => {
  jargonIn("--help", helpText());
  for (const file of filesUnder("src", /\.ts$/)) {
    // The code's strings, not its comments.
    const code = read(file)
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:\\"'`])\/\/.*$/gm, "$1");
    jargonIn(file, code);
  }
});
