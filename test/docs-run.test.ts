// Docs that run: every fenced block of the README, CONTRIBUTING.md and docs/ is
// run or checked, by its mark and its language (test/support/doc-blocks.ts),
// and every name the docs use (an IQQQ_* variable, an iqqq flag, an exit code,
// a path, an npm script) exists. Dockerfile blocks are built with podman by
// npm run test:pods (test/pods/pods.ts); here they are read.
//
// Each checker returns its problems; the "a broken doc fails" tests feed each one
// a doc with a mistake in it, so none of them passes whatever it is given.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { FLAGS as INJECT_FLAGS } from "../src/commands/inject.js";
import { FLAGS as REAPER_FLAGS } from "../src/commands/reaper.js";
import { FLAGS as WEBHOOK_FLAGS } from "../src/commands/webhook.js";
import { VARIABLES } from "../src/config/variables.js";
import { EXIT } from "../src/exit-status.js";
import { validateObject } from "./examples/kubernetes.js";
import { CLI, ROOT } from "./support/cli.js";
import { allDocBlocks, type DocBlock, docBlocks, docFiles, instructions } from "./support/doc-blocks.js";
import type { Obj } from "./support/read-back.js";

const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");
const BLOCKS = allDocBlocks();
const SCRATCH = mkdtempSync(join(tmpdir(), "iqqq-docs-"));
after(() => rmSync(SCRATCH, { recursive: true, force: true }));

// ---------------------------------------------------------------- what exists

/** Every text file under a folder of the repository, concatenated. */
function textUnder(dir: string, ext: RegExp): string {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => ext.test(f))
    .map((f) => read(`${dir}/${f}`))
    .join("\n");
}
const SRC = textUnder("src", /\.ts$/);
/** What iqqq's code, its scripts, its examples and its test harness name. */
const SOURCES = [
  SRC,
  textUnder("scripts", /\.m?[jt]s$/),
  textUnder("examples", /\.(m?js|py|ya?ml)$/),
  read("test/support/cli.ts"),
].join("\n");
const SCRIPTS = new Set(Object.keys(JSON.parse(read("package.json")).scripts as Record<string, string>));

const VARIABLE_NAMES = new Set(VARIABLES.map((v) => v.name));
/** Names the docs show misspelt on purpose, with what iqqq says about each (checked below). */
const MISSPELT: Readonly<Record<string, string>> = { IQQQ_QUIT_TIMOUT: "did you mean IQQQ_QUIT_TIMEOUT?" };

const OWN_FLAGS = new Set(["--help", "-h", "--version", "--explain", "--"]);
const COMMAND_FLAGS: Readonly<Record<string, ReadonlySet<string>>> = {
  inject: new Set(["--help", "-h", ...INJECT_FLAGS.map((f) => `--${f.name}`)]),
  webhook: new Set(["--help", "-h", ...WEBHOOK_FLAGS.map((f) => `--${f.name}`)]),
  install: new Set(["--help", "-h"]),
  reaper: new Set(["--help", "-h", ...REAPER_FLAGS.map((f) => `--${f.name}`)]),
};
const ALL_IQQQ_FLAGS = new Set([...OWN_FLAGS, ...Object.values(COMMAND_FLAGS).flatMap((s) => [...s])]);
/** Flags of other programs that the docs name alone, in backquotes: the program each belongs to. */
const OTHER_FLAGS: Readonly<Record<string, string>> = {
  "--shutdown": "linkerd-await",
  "--timeout": "linkerd-await",
  "--require": "node",
  "--splitting": "esbuild",
};

/** The files a build writes (names as the docs write them: VERSION, {x64,arm64}, <arch>). */
const BUILT =
  /^dist\/(?:bin\/?|release\/?|bin\/(?:SHA256SUMS|iqqq-linux-(?:x64|arm64|\{x64,arm64\}|<arch>)(?:-musl)?|iqqq-\$\{VARIANT\})|release\/(?:SHA256SUMS|iqqq-linux-(?:x64|arm64)(?:-musl)?|iqqq-image-(?:VERSION|\*)\.oci\.tar|iqqq-VERSION\.tgz))$/;
const REPO_PATH = /(?<![\w./-])((?:src|test|docker|docs|examples|deploy|scripts|bench|dist|\.ci)\/[\w./*{},<>$-]*)/g;
/** Absolute paths that are iqqq's own, in its containers: the code must use them. */
const OWN_ABSOLUTE =
  /(?<![\w.-])(\/(?:opt\/iqqq|etc\/podinfo|run\/iqqq-[\w-]+|iqqq-install|etc\/iqqq-webhook)[\w./-]*)/g;

const expand = (path: string): string[] => {
  const brace = /\{([^}]*)\}/.exec(path);
  if (!brace) return [path];
  return (brace[1] as string).split(",").flatMap((alt) => expand(path.replace(brace[0], alt)));
};

function pathProblems(where: string, text: string): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(REPO_PATH)) {
    const path = (m[1] as string).replace(/[.,:;)]+$/, "");
    // kubectl's TYPE/NAME (deploy/iqqq-webhook) is not a path.
    if (/\bkubectl\b[^\n|;]*$/.test(text.slice(0, m.index)) && !path.includes(".")) continue;
    // The executables and the release: by name (they may not be built here); the rest of dist/ is
    // npm run build's, which the tests run after.
    if (/^dist\/(?:bin|release)\b/.test(path)) {
      if (!BUILT.test(path)) problems.push(`${where}: ${path}: no build writes it`);
      continue;
    }
    for (const one of expand(path)) {
      // A glob or a placeholder names the folder it is in.
      const wild = one.search(/\*|\b[A-Z]{3,}\b/); // a glob, or a placeholder: NAME, VERSION
      const fixed = wild >= 0 ? one.slice(0, one.lastIndexOf("/", wild)) : one;
      if (!existsSync(join(ROOT, fixed)))
        problems.push(
          `${where}: ${one}: ${one.startsWith("dist/") ? "npm run build writes no such file" : "no such file in the repository"}`,
        );
    }
  }
  for (const [, raw] of text.matchAll(OWN_ABSOLUTE)) {
    const path = (raw as string).replace(/[.,:;)/]+$/, "");
    if (!SRC.includes(path) && !SRC.includes(`"${path.slice(0, path.lastIndexOf("/"))}"`))
      problems.push(`${where}: ${path}: iqqq's code never uses this path`);
  }
  return problems;
}

function variableProblems(where: string, text: string): string[] {
  const problems: string[] = [];
  for (const [name] of text.matchAll(/\bIQQQ_[A-Z0-9_]*(\*)?/g)) {
    if (name.endsWith("*") || name.endsWith("_")) {
      const prefix = name.replace(/\*$/, "");
      if (![...VARIABLE_NAMES].some((v) => v.startsWith(prefix)))
        problems.push(`${where}: ${name}: no variable has that prefix`);
      continue;
    }
    if (VARIABLE_NAMES.has(name) || name in MISSPELT) continue;
    if (!new RegExp(`\\b${name}\\b`).test(SOURCES)) problems.push(`${where}: ${name}: no such variable`);
  }
  return problems;
}

/** One command line's words, quotes removed (enough for the flags and names it uses). */
const words = (line: string): string[] =>
  [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => (m[1] ?? m[2] ?? m[3]) as string);

/** The flags of each `iqqq …` command in a text (a code span or a shell line). */
function flagProblems(where: string, text: string): string[] {
  const problems: string[] = [];
  for (const command of text.split(/\||;|&&|\|\||\$\(|`|\n/)) {
    const w = words(command.replace(/#.*$/, "")).filter((x) => !/^[A-Z_][A-Z0-9_]*=/.test(x));
    // iqqq as the command word (after any VAR=value), not as an argument of another program.
    const at = w[0] === "exec" ? 1 : 0;
    if (!(w[at] === "iqqq" || w[at]?.endsWith("/iqqq"))) continue;
    const rest = w.slice(at + 1);
    const known = COMMAND_FLAGS[rest[0] ?? ""];
    const args = known ? rest.slice(1) : rest;
    for (const arg of args) {
      if (!arg.startsWith("-")) {
        if (known) continue; // a command's files and flag values
        break; // the program: its own flags follow
      }
      if (arg === "--") break;
      const flag = arg.replace(/=.*$/, "");
      if (!(known ?? OWN_FLAGS).has(flag)) problems.push(`${where}: iqqq ${known ? `${rest[0]} ` : ""}has no ${flag}`);
    }
  }
  return problems;
}

function npmProblems(where: string, text: string): string[] {
  return [...text.matchAll(/\bnpm run ([\w:-]+)/g)]
    .filter(([, s]) => !SCRIPTS.has(s as string))
    .map(([, s]) => `${where}: npm run ${s}: no such script in package.json`);
}

/** Exit codes in sysexits' range (iqqq's own) named in prose: each one of EXIT's. */
function exitProblems(where: string, text: string): string[] {
  const codes = new Set<number>(Object.values(EXIT));
  return [...text.matchAll(/\bexit(?:s|ed)?(?:\s+(?:code|status))?\s+\**(\d+)\b/gi)]
    .map(([, n]) => Number(n))
    .filter((n) => n >= 64 && n <= 78 && !codes.has(n))
    .map((n) => `${where}: exit ${n}: iqqq has no such exit code (src/exit-status.ts)`);
}

const VERSION = (JSON.parse(read("package.json")) as { version: string }).version;

/** iqqq's images and files by version (iqqq:0.1.0, iqqq-image-0.1.0-…, iqqq-0.1.0.tgz): this version. */
function versionProblems(where: string, text: string): string[] {
  return [
    ...text.matchAll(/\biqqq(?:-watcher)?:(\d+\.\d+\.\d+)\b|\biqqq-image-(\d+\.\d+\.\d+)|\biqqq-(\d+\.\d+\.\d+)\.tgz/g),
  ]
    .filter((m) => (m[1] ?? m[2] ?? m[3]) !== VERSION)
    .map((m) => `${where}: ${m[0]}: the version is ${VERSION}`);
}

/** `sed 's|FROM|TO|' FILE` on a file of the repository: FILE has FROM, or the command changes nothing. */
function sedProblems(where: string, text: string): string[] {
  return [...text.matchAll(/\bsed\s+'s(.)(.+?)\1.*?\1g?'\s+([\w./-]+)/g)]
    .filter(([, , , file]) => existsSync(join(ROOT, file as string)))
    .filter(([, , from, file]) => !read(file as string).includes((from as string).replace(/\\(.)/g, "$1")))
    .map(([, , from, file]) => `${where}: sed: ${file} has no "${from}", so the command changes nothing`);
}

/** Every name in a piece of text: variables, iqqq's flags, npm scripts, paths, exit codes, versions. */
function nameProblems(where: string, text: string): string[] {
  return [
    ...variableProblems(where, text),
    ...flagProblems(where, text),
    ...npmProblems(where, text),
    ...pathProblems(where, text),
    ...exitProblems(where, text),
    ...versionProblems(where, text),
    ...sedProblems(where, text),
  ];
}

/** Markdown outside fenced blocks. */
const prose = (text: string): string => text.replace(/^\s*(```+|~~~+)[^\n]*\n[\s\S]*?^\s*\1[^\n]*$/gm, "");

function proseProblems(file: string, text: string): string[] {
  const problems: string[] = [];
  const lines = prose(text).split("\n");
  for (const [i, line] of lines.entries()) {
    const where = `${file}:${i + 1}`;
    problems.push(...variableProblems(where, line), ...exitProblems(where, line), ...versionProblems(where, line));
  }
  // Code spans may wrap over two lines.
  for (const [, span] of prose(text).matchAll(/`([^`]+)`/g)) {
    const s = (span as string).replace(/\s+/g, " ");
    const where = `${file}: \`${s}\``;
    problems.push(...flagProblems(where, s), ...npmProblems(where, s), ...pathProblems(where, s));
    if (/^--[\w-]+$/.test(s) && !ALL_IQQQ_FLAGS.has(s) && !(s in OTHER_FLAGS) && !SOURCES.includes(`${s}`)) {
      problems.push(`${where}: neither an iqqq flag nor one the code or scripts use`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- blocks

const LANGS = new Set(["sh", "yaml", "dockerfile", "js", "text"]);
const MARKS: Readonly<Record<string, ReadonlySet<string>>> = {
  sh: new Set(["run", "cluster", "file", "skip"]),
  yaml: new Set(["fragment", "file", "skip"]),
  dockerfile: new Set(["file", "skip"]),
  js: new Set(["skip"]),
  text: new Set(["output", "skip"]),
};

function formProblems(b: DocBlock): string[] {
  if (!LANGS.has(b.lang)) return [`${b.where}: block language "${b.lang}": say sh, yaml, dockerfile, js or text`];
  if (b.mark !== undefined && !MARKS[b.lang]?.has(b.mark))
    return [`${b.where}: <!-- ${b.mark} --> on a ${b.lang} block`];
  if (b.mark === "skip" && b.markArgs.trim() === "") return [`${b.where}: <!-- skip --> needs its reason`];
  return [];
}

function shProblems(b: DocBlock): string[] {
  const r = spawnSync("sh", ["-n"], { input: b.text, encoding: "utf8" });
  // `…` stands for "and so on" in a few commands; sh reads it as a word, which is fine.
  const problems = r.status === 0 ? [] : [`${b.where}: sh -n: ${r.stderr.trim()}`];
  return [...problems, ...nameProblems(b.where, b.text)];
}

/**
 * One scratch folder per document, as a reader has one: the files its
 * `<!-- file: NAME -->` blocks write, in order, and what its run blocks leave.
 * RELEASE names a folder with the release's executable (the iqqq under test).
 */
const folders = new Map<string, string>();
function folderOf(b: DocBlock): string {
  let dir = folders.get(b.file);
  if (dir === undefined) {
    dir = mkdtempSync(join(SCRATCH, "doc-"));
    mkdirSync(join(dir, ".bin"));
    mkdirSync(join(dir, ".release"));
    symlinkSync(CLI, join(dir, ".bin/iqqq"));
    symlinkSync(CLI, join(dir, ".release/iqqq-linux-x64"));
    folders.set(b.file, dir);
  }
  return dir;
}

function writeBlock(b: DocBlock): string[] {
  const name = b.markArgs.trim();
  if (!/^[\w.-]+$/.test(name)) return [`${b.where}: <!-- file: NAME -->: "${name}" is not a file name`];
  writeFileSync(join(folderOf(b), name), b.text, { mode: 0o644 });
  return [];
}

/** Runs a `<!-- run -->` block: sh -eu, in its document's folder, the built iqqq first on PATH. */
function runBlock(b: DocBlock): { status: number | null; output: string } {
  const dir = folderOf(b);
  const bin = join(dir, ".bin");
  const stubs = /^stub\s+(.*)$/.exec(b.markArgs)?.[1]?.split(/\s+/) ?? [];
  for (const stub of stubs) writeFileSync(join(bin, stub), '#!/bin/sh\necho "$0 $*"\n', { mode: 0o755 });
  const r = spawnSync("sh", ["-eu"], {
    input: b.text,
    cwd: dir,
    encoding: "utf8",
    timeout: 30_000,
    // Not in Kubernetes (no KUBERNETES_SERVICE_HOST): iqqq stops nothing, so nothing on this machine is touched.
    env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: dir, RELEASE: join(dir, ".release") },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The object a fragment is part of: the minimum of its KIND, the fragment at PATH. */
function skeleton(kind: string, path: string, fragment: Record<string, unknown>): Record<string, unknown> {
  const pod = { containers: [{ name: "job", image: "report:1.0" }] };
  const objects: Record<string, Record<string, unknown>> = {
    Pod: { apiVersion: "v1", kind: "Pod", metadata: { name: "x" }, spec: pod },
    Job: { apiVersion: "batch/v1", kind: "Job", metadata: { name: "x" }, spec: { template: { spec: pod } } },
    CronJob: {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "x" },
      spec: { schedule: "0 3 * * *", jobTemplate: { spec: { template: { spec: pod } } } },
    },
  };
  const object = structuredClone(objects[kind]);
  assert.ok(object, `fragment of ${kind}: say Pod, Job or CronJob`);
  let at: Record<string, unknown> = object;
  for (const key of path === "" ? [] : path.split(".")) {
    at[key] ??= {};
    at = at[key] as Record<string, unknown>;
  }
  merge(at, fragment);
  return object;
}

/** Deep merge; lists of named items (containers) merge by name. */
function merge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const here = into[key];
    if (Array.isArray(here) && Array.isArray(value)) {
      for (const item of value as Record<string, unknown>[]) {
        const same = (here as Record<string, unknown>[]).find((x) => x?.name !== undefined && x.name === item?.name);
        if (same) merge(same, item);
        else here.push(item);
      }
    } else if (here && typeof here === "object" && value && typeof value === "object" && !Array.isArray(value)) {
      merge(here as Record<string, unknown>, value as Record<string, unknown>);
    } else into[key] = value;
  }
}

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

function podSpecs(object: Record<string, unknown>): { containers: Container[] }[] {
  const spec = object.spec as Obj | undefined;
  if (!spec) return [];
  if (object.kind === "Pod") return [spec as { containers: Container[] }];
  if (object.kind === "Job") return [spec.template?.spec];
  if (object.kind === "CronJob") return [spec.jobTemplate?.spec?.template?.spec];
  return [];
}

/** iqqq --explain with a container's environment and command, as the kubelet would run it: exit 0. */
function explain(where: string, c: Container): string[] {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    KUBERNETES_SERVICE_HOST: "10.96.0.1",
  };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  const wrapped = argv[0] === "iqqq" || argv[0]?.endsWith("/iqqq");
  const program = wrapped ? argv.slice(1).filter((a, i) => !(i === 0 && a === "--")) : [];
  const r = spawnSync(CLI, ["--explain", ...(program.length > 0 ? ["--", ...program] : [])], {
    env,
    encoding: "utf8",
    timeout: 30_000,
  });
  return r.status === 0 ? [] : [`${where}: container ${c.name}: iqqq --explain exits ${r.status}: ${r.stderr.trim()}`];
}

async function yamlProblems(b: DocBlock): Promise<string[]> {
  const problems: string[] = [];
  const docs = parseAllDocuments(b.text);
  for (const doc of docs) {
    if (doc.errors.length > 0) return [`${b.where}: not YAML: ${doc.errors[0]?.message}`];
    const js = doc.toJS() as Record<string, unknown>;
    let object = js;
    if (b.mark === "fragment") {
      const [kind = "", path = ""] = b.markArgs.split(/\s+/);
      object = skeleton(kind, path, js);
    } else if (js.apiVersion === undefined) {
      return [`${b.where}: a YAML fragment: mark it <!-- fragment: KIND PATH --> so it can be validated`];
    }
    problems.push(...(await validateObject(object)).map((p) => `${b.where}: ${p}`));
    problems.push(...variableProblems(b.where, b.text));
    // An iqqq example: each container that runs iqqq, or sets its variables, is read by iqqq --explain.
    for (const spec of podSpecs(object)) {
      for (const c of spec?.containers ?? []) {
        const runsIqqq =
          (c.command?.[0] ?? "").endsWith("iqqq") || (c.env ?? []).some((e) => e.name.startsWith("IQQQ_"));
        if (runsIqqq) problems.push(...explain(b.where, c));
      }
    }
    // A whole workload whose containers all say their command: iqqq inject takes it (no registry look-up).
    const specs = podSpecs(object);
    if (b.mark !== "fragment" && specs.length > 0 && specs.every((s) => s.containers.every((c) => c.command))) {
      const r = spawnSync(CLI, ["inject", "--image", "registry.example/iqqq:0.1.0"], {
        input: b.text,
        encoding: "utf8",
        timeout: 30_000,
      });
      if (r.status !== 0) problems.push(`${b.where}: iqqq inject exits ${r.status}: ${r.stderr.trim()}`);
      else
        for (const out of parseAllDocuments(r.stdout))
          problems.push(...(await validateObject(out.toJS())).map((p) => `${b.where}: injected: ${p}`));
    }
  }
  return problems;
}

/** The image a COPY --from names is the iqqq image: what it holds is /opt/iqqq, whole (its loader is in it). */
const IQQQ_IMAGE = /(?:^|\/)iqqq:[\w.-]+$|\/iqqq$|^IQQQ_IMAGE$|^<iqqq image>$/;

function dockerfileProblems(where: string, text: string): string[] {
  const problems: string[] = [];
  const known = new Set([
    "FROM",
    "COPY",
    "ADD",
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "ARG",
    "USER",
    "WORKDIR",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "SHELL",
    "HEALTHCHECK",
    "STOPSIGNAL",
    "ONBUILD",
  ]);
  const stages = new Set<string>();
  const list = instructions(text);
  if (list[0] && !["FROM", "ARG"].includes(list[0].keyword))
    problems.push(`${where}: the first instruction is ${list[0].keyword}, not FROM`);
  for (const { keyword, rest, line } of list) {
    const at = `${where} (line ${line})`;
    if (!known.has(keyword)) problems.push(`${at}: ${keyword} is not a Dockerfile instruction`);
    // Docker reads a comment only at the start of a line: after an instruction, "#…" is more arguments.
    if (/\s#/.test(` ${rest}`) && keyword !== "RUN")
      problems.push(`${at}: a comment after ${keyword}: Dockerfiles take comments on their own lines only`);
    if (keyword === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) problems.push(`${at}: FROM ${rest}: one image, optionally AS a name`);
      else if (m[2]) stages.add(m[2].toLowerCase());
    }
    if (keyword === "COPY") {
      const from = /--from=(\S+)/.exec(rest)?.[1];
      const paths = rest.split(/\s+/).filter((w) => !w.startsWith("--"));
      if (from && !stages.has(from.toLowerCase()) && IQQQ_IMAGE.test(from)) {
        if (paths[0] !== "/opt/iqqq" || paths[1] !== "/opt/iqqq")
          problems.push(
            `${at}: COPY --from=${from} ${paths.join(" ")}: the iqqq image holds /opt/iqqq only, and it runs only at /opt/iqqq: copy /opt/iqqq /opt/iqqq`,
          );
      }
      if (/^\[/.test(rest)) continue;
      if (paths.length < 2) problems.push(`${at}: COPY needs a source and a destination`);
    }
    if ((keyword === "ENTRYPOINT" || keyword === "CMD") && rest.startsWith("[")) {
      try {
        JSON.parse(rest);
      } catch {
        problems.push(`${at}: ${keyword} ${rest}: not a JSON array, so it would run through /bin/sh -c`);
      }
    }
  }
  return [...problems, ...variableProblems(where, text), ...pathProblems(where, text)];
}

/** The comments of a Dockerfile that show instructions ("replace … with COPY …"), as a Dockerfile. */
const commentedInstructions = (text: string): string =>
  text
    .split("\n")
    .map((l) => /^#\s+((?:COPY|FROM|ENTRYPOINT|CMD)\s.*)$/.exec(l)?.[1])
    .filter((l) => l !== undefined)
    .join("\n");

function jsProblems(b: DocBlock): string[] {
  const file = join(mkdtempSync(join(SCRATCH, "js-")), "block.mjs");
  writeFileSync(file, b.text);
  const r = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
  return [
    ...(r.status === 0 ? [] : [`${b.where}: node --check: ${r.stderr.trim()}`]),
    ...nameProblems(b.where, b.text),
  ];
}

/**
 * What iqqq prints (its lines, "iqqq: …"): their fixed words (not numbers,
 * durations, quoted names or sidecar kinds) are each in one of the files that print them. Messages are
 * put together from several strings, so word by word.
 */
function outputProblems(b: DocBlock): string[] {
  const files = b.markArgs.split(/\s+/).filter((f) => f !== "");
  if (files.length === 0) return [`${b.where}: <!-- output: FILE… --> names the files that print it`];
  const missing = files.filter((f) => !existsSync(join(ROOT, f)));
  if (missing.length > 0) return [`${b.where}: ${missing.join(", ")}: no such file`];
  const source = new Set(files.flatMap((f) => read(f).match(/[A-Za-z][\w'-]*/g) ?? []));
  const problems: string[] = [];
  // iqqq's lines; the others are the program's own.
  for (const line of b.text.split("\n").filter((l) => l.startsWith("iqqq: "))) {
    const fixed = line
      .replace(/^iqqq: (?:warning: |error: )?/, "")
      .replace(/"[^"]*"|\b\d[\w.]*/g, " ")
      .match(/[A-Za-z][\w'-]*/g);
    const unknown = (fixed ?? []).filter(
      (w) =>
        w.length >= 4 && !source.has(w) && !/^(?:istio|linkerd|envoy|cloudsql|vault|dapr|sidecars?|SIG[A-Z]+)$/.test(w),
    );
    if (unknown.length > 0)
      problems.push(`${b.where}: ${unknown.map((w) => `"${w}"`).join(", ")} printed by none of ${files.join(", ")}`);
  }
  return problems;
}

async function blockProblems(b: DocBlock): Promise<string[]> {
  const form = formProblems(b);
  if (form.length > 0 || b.mark === "skip") return form;
  const problems = await checkBlock(b);
  return b.mark === "file" ? [...problems, ...writeBlock(b)] : problems;
}

async function checkBlock(b: DocBlock): Promise<string[]> {
  switch (b.lang) {
    case "sh": {
      const problems = shProblems(b);
      if (b.mark === "run" && problems.length === 0) {
        const r = runBlock(b);
        if (r.status !== 0) problems.push(`${b.where}: <!-- run -->: exit ${r.status}:\n${r.output}`);
      }
      return problems;
    }
    case "yaml":
      return yamlProblems(b);
    case "dockerfile":
      return dockerfileProblems(b.where, b.text);
    case "js":
      return jsProblems(b);
    case "text":
      return b.mark === "output" ? outputProblems(b) : nameProblems(b.where, b.text);
  }
  return [];
}

// ---------------------------------------------------------------- the docs

test("the docs' fenced blocks are found: README, CONTRIBUTING.md, docs/", () => {
  assert.ok(BLOCKS.length >= 20, `only ${BLOCKS.length} blocks`);
  for (const lang of ["sh", "yaml", "dockerfile", "js", "text"])
    assert.ok(
      BLOCKS.some((b) => b.lang === lang),
      lang,
    );
  assert.ok(
    BLOCKS.some((b) => b.mark === "run"),
    "no block is run",
  );
});

for (const file of docFiles()) {
  const mine = BLOCKS.filter((b) => b.file === file);
  test(`${file}: every block is run or checked (${mine.length})`, { timeout: 60_000 }, async () => {
    const problems: string[] = [];
    for (const b of mine) problems.push(...(await blockProblems(b)));
    assert.deepEqual(problems, [], problems.join("\n"));
  });
  test(`${file}: every variable, flag, exit code, path and npm script the prose names exists`, () => {
    const problems = proseProblems(file, read(file));
    assert.deepEqual(problems, [], problems.join("\n"));
  });
}

test("docker/*.Dockerfile read as Dockerfiles, with the instructions their comments suggest", () => {
  const problems: string[] = [];
  for (const f of readdirSync(join(ROOT, "docker")).filter((f) => f.endsWith("Dockerfile"))) {
    const text = read(`docker/${f}`);
    problems.push(...dockerfileProblems(`docker/${f}`, text));
    // A comment's alternative line is checked as an instruction of its own (no FROM of its own).
    const suggested = commentedInstructions(text);
    if (suggested !== "") problems.push(...dockerfileProblems(`docker/${f} (comments)`, `FROM scratch\n${suggested}`));
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

test("the misspelt names the docs show get the warning the docs say", () => {
  for (const [name, warning] of Object.entries(MISSPELT)) {
    const r = spawnSync(CLI, ["--explain", "true"], {
      env: { PATH: process.env.PATH ?? "", [name]: "1s" },
      encoding: "utf8",
    });
    assert.ok(
      `${r.stdout}${r.stderr}`.includes(`${name} is not a variable iqqq knows`),
      `${name}: ${r.stdout}${r.stderr}`,
    );
    assert.ok(r.stdout.includes(warning), `${name}: ${r.stdout}`);
    assert.ok(
      BLOCKS.length > 0 && docFiles().some((f) => read(f).includes(name)),
      `${name} is in no document: drop it here`,
    );
  }
});

// ---------------------------------------------------------------- a broken doc fails

/** A document's blocks, as if it were a file of docs/. */
const blocksOf = (markdown: string): DocBlock[] => docBlocks("docs/broken.md", markdown);
async function problemsOf(markdown: string): Promise<string[]> {
  const out: string[] = [];
  for (const b of blocksOf(markdown)) out.push(...(await blockProblems(b)));
  return [...out, ...proseProblems("docs/broken.md", markdown)];
}

test("a broken doc fails: each kind of mistake is reported", async () => {
  const cases: [string, string, RegExp][] = [
    ["an unknown iqqq flag in prose", "Run `iqqq --explian ls`.\n", /iqqq has no --explian/],
    ["an unknown inject flag in a block", "```sh\niqqq inject --imag x job.yaml\n```\n", /iqqq inject has no --imag/],
    ["a bare flag nobody has", "Pass `--frobnicate`.\n", /--frobnicate`: neither an iqqq flag/],
    ["a misspelt variable in prose", "Set `IQQQ_LOG_LEVLE=info`.\n", /IQQQ_LOG_LEVLE: no such variable/],
    [
      "a misspelt variable in YAML",
      "```yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n    - name: a\n      image: b\n      env: [{name: IQQQ_SIDECAR, value: istio}]\n```\n",
      /IQQQ_SIDECAR: no such variable/,
    ],
    ["an exit code iqqq does not have", "iqqq then exits 71.\n", /exit 71: iqqq has no such exit code/],
    ["a path that is not there", "See `docker/wrapp.Dockerfile`.\n", /docker\/wrapp\.Dockerfile: no such file/],
    ["a build output no build writes", "Copy `dist/bin/iqqq-linux-riscv`.\n", /no build writes it/],
    [
      "a file npm run build does not write",
      "Copy `dist/commands/frobnicate.mjs`.\n",
      /npm run build writes no such file/,
    ],
    ["an npm script that is not there", "```sh\nnpm run tests:pods\n```\n", /npm run tests:pods: no such script/],
    ["sh that does not parse", "```sh\nif true; then echo\n```\n", /sh -n/],
    [
      "a run block that fails",
      "<!-- run -->\n```sh\niqqq --explain -- no-such-program-here\nfalse\n```\n",
      /<!-- run -->: exit 1/,
    ],
    [
      "a field Kubernetes does not have",
      "```yaml\napiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: a, image: b, command: [x]}]\n      shareProcessNamespaces: true\n```\n",
      /shareProcessNamespaces: unknown field/,
    ],
    ["an unmarked fragment", "```yaml\nspec:\n  template: {}\n```\n", /mark it <!-- fragment/],
    [
      "a fragment with a wrong field",
      "<!-- fragment: Job spec.template.spec -->\n```yaml\ncontainers:\n  - name: job\n    imag: x\n```\n",
      /imag: unknown field/,
    ],
    [
      "a bad value iqqq refuses",
      "```yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n    - name: a\n      image: b\n      command: [iqqq, job]\n      env: [{name: IQQQ_QUIT_TIMEOUT, value: soon}]\n```\n",
      /iqqq --explain exits 78/,
    ],
    [
      "a Dockerfile with a comment after FROM",
      "```dockerfile\nFROM report:1.0   # your image\n```\n",
      /a comment after FROM/,
    ],
    [
      "a Dockerfile copying iqqq's executable alone from its image",
      "```dockerfile\nFROM x\nCOPY --from=registry.example/iqqq:0.1.0 /usr/local/bin/iqqq /usr/local/bin/iqqq\n```\n",
      /holds \/opt\/iqqq only/,
    ],
    ["an ENTRYPOINT that is not JSON", '```dockerfile\nFROM x\nENTRYPOINT ["iqqq", "job",]\n```\n', /not a JSON array/],
    ["js that does not parse", "```js\nexport default {\n```\n", /node --check/],
    [
      "output no file prints",
      "<!-- output: src/main.ts -->\n```text\niqqq: the sidecar was politely asked to leave\n```\n",
      /printed by none/,
    ],
    ["a block without a language", "```\nsomething\n```\n", /block language ""/],
    ["another version of iqqq", "Push `REGISTRY/iqqq:0.0.9`.\n", /iqqq:0\.0\.9: the version is/],
    [
      "a sed that changes nothing",
      "<!-- cluster -->\n```sh\nsed 's|REGISTRY/iqqq:9.9.9|x|' deploy/core/webhook.yaml | kubectl apply -f -\n```\n",
      /changes nothing/,
    ],
    ["an exit code in a block", "<!-- cluster -->\n```sh\nkubectl wait job/x || exit 71\n```\n", /exit 71/],
    ["a skip without its reason", "<!-- skip -->\n```sh\nexit 1\n```\n", /needs its reason/],
  ];
  for (const [what, markdown, expected] of cases) {
    const problems = await problemsOf(markdown);
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${what}: expected ${expected}, got:\n${problems.join("\n")}`,
    );
  }
  // And the same checkers are quiet on a doc without mistakes.
  const fine = await problemsOf(
    "Run `iqqq --explain ls` with `IQQQ_LOG_LEVEL=info`; see `docker/wrap.Dockerfile`; exit 64 is a usage error.\n\n<!-- run -->\n```sh\niqqq --version\n```\n",
  );
  assert.deepEqual(fine, []);
});
