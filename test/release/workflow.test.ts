// .github/workflows/release.yml, read (it runs only on a forge, on a tag): it
// parses; it runs on v* tags; what it builds and checks is what .ci/run runs
// here (npm ci, npm run release, npm run release:check), so the steps that can
// run here are the same scripts; every npm script and repository file its
// steps name exists, and the release file it publishes is the one npm run
// release writes; every action is pinned by a full commit SHA; no secret or
// expression is spliced into a shell script (they come in through env:).

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { ROOT } from "../support/cli.js";

const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: { push: { tags: string[] } };
  jobs: Record<string, { permissions: Record<string, string>; steps: Step[] }>;
}

/** The shell's words for the tag's version (v0.1.0 → 0.1.0), and a GitHub expression: not JavaScript's. */
const TAG_VERSION = "$" + "{GITHUB_REF_NAME#v}";
const EXPRESSION = "$" + "{{ github.ref_name }}";

const PACKAGE = JSON.parse(read("package.json")) as { name: string; version: string; scripts: Record<string, string> };

/** A workflow's problems: each a sentence. */
function workflowProblems(text: string, ci: string): string[] {
  const problems: string[] = [];
  let wf: Workflow;
  try {
    wf = parse(text) as Workflow;
  } catch (error) {
    return [`not YAML: ${(error as Error).message}`];
  }
  if (JSON.stringify(wf.on?.push?.tags) !== JSON.stringify(["v*"])) problems.push("does not run on v* tags");
  const steps = Object.values(wf.jobs ?? {}).flatMap((job) => job.steps ?? []);
  const runs = steps.flatMap((s) => (s.run === undefined ? [] : [s.run]));
  const perms = Object.assign({}, ...Object.values(wf.jobs ?? {}).map((job) => job.permissions ?? {}));
  if (perms["id-token"] !== "write") problems.push("no id-token: write (npm publish --provenance needs it)");
  for (const s of steps) {
    if (s.uses !== undefined && !/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/.test(s.uses))
      problems.push(`${s.uses}: not pinned by a full commit SHA`);
  }
  for (const run of runs) {
    if (run.includes("${{")) problems.push(`an expression in a run: script (pass it through env:): ${run.trim()}`);
    for (const [, script] of run.matchAll(/\bnpm run ([\w:-]+)/g))
      if (!(script && script in PACKAGE.scripts)) problems.push(`npm run ${script}: no such script in package.json`);
    for (const [, npm] of run.matchAll(/\bnpm (?!run\b)([\w-]+)/g))
      if (!["ci", "publish"].includes(npm as string)) problems.push(`npm ${npm}: not a command the release uses`);
    for (const [, path] of run.matchAll(/(?<![\w/.-])((?:scripts|\.ci|docker)\/[\w./-]+)/g))
      if (!existsSync(join(ROOT, path as string))) problems.push(`${path}: no such file in the repository`);
    // What it publishes from dist/release is what npm run release writes there.
    for (const [, file] of run.matchAll(/dist\/release\/([^\s"']+)/g)) {
      const named = (file as string).replace(TAG_VERSION, PACKAGE.version);
      if (named !== "*" && named !== `${PACKAGE.name}-${PACKAGE.version}.tgz`)
        problems.push(`dist/release/${file}: npm run release writes no such file`);
    }
  }
  // The steps that can run here are .ci/run's own: the same install, build and check.
  const ciLines = ci.split("\n").map((l) => l.trim());
  for (const command of ["npm ci --no-audit --no-fund", "npm run release", "npm run release:check"]) {
    if (!runs.some((r) => r.trim() === command)) problems.push(`no step runs \`${command}\` alone`);
    if (!ciLines.includes(command)) problems.push(`.ci/run does not run \`${command}\``);
  }
  for (const tool of ["podman", "patchelf", "skopeo", "libc6-arm64-cross", "qemu-user-static"])
    if (!runs.some((r) => /apt-get install/.test(r) && new RegExp(`\\b${tool}\\b`).test(r)))
      problems.push(`does not install ${tool}`);
  if (!runs.some((r) => /\bnpm publish --provenance\b/.test(r))) problems.push("does not npm publish --provenance");
  if (!runs.some((r) => /\bnpm run release:push -- /.test(r))) problems.push("does not push the image");
  if (!runs.some((r) => /\bgh release create\b.*dist\/release\/\*/s.test(r)))
    problems.push("does not attach dist/release/* to a GitHub release");
  if (/\b(?:ghp_|github_pat_|npm_)[A-Za-z0-9]{20,}/.test(text)) problems.push("a token written into the file");
  // A job that installs from npm (install scripts run) may not write, nor hold a token it can leak.
  for (const [name, job] of Object.entries(wf.jobs ?? {})) {
    const installs = (job.steps ?? []).some((s) => /\bnpm (?:ci|install|i)\b/.test(s.run ?? ""));
    const writes = Object.entries(job.permissions ?? {}).filter(([, v]) => v === "write");
    if (installs && writes.length > 0)
      problems.push(`job ${name} runs npm ci and may write (${writes.map(([k]) => k).join(", ")})`);
    for (const s of job.steps ?? [])
      if (s.uses?.startsWith("actions/checkout@") && s.with?.["persist-credentials"] !== false)
        problems.push(`job ${name}: checkout leaves its token in .git/config (persist-credentials: false)`);
  }
  return problems;
}

const WORKFLOW = read(".github/workflows/release.yml");
const CI = read(".ci/run");

test(".github/workflows/release.yml: the same scripts as .ci/run, names that exist, actions pinned", () => {
  assert.deepEqual(workflowProblems(WORKFLOW, CI), []);
});

// Each mistake, made in a copy, is found: the check above cannot pass whatever it is given.
const BROKEN: [string, (text: string) => string, RegExp][] = [
  [
    "a script that is not in package.json",
    (t) => t.replace("npm run release:push", "npm run release:publish"),
    /npm run release:publish: no such script/,
  ],
  [
    "an action by tag",
    (t) => t.replace(/actions\/checkout@[0-9a-f]{40}/, "actions/checkout@v4"),
    /actions\/checkout@v4: not pinned/,
  ],
  [
    "an expression in a script",
    (t) => t.replace('"$GITHUB_REF_NAME" --verify-tag', `"${EXPRESSION}" --verify-tag`),
    /an expression in a run: script/,
  ],
  [
    "a build step other than .ci/run's",
    (t) => t.replace("- run: npm run release:check", "- run: npm run release:check -- --fast"),
    /no step runs `npm run release:check` alone/,
  ],
  [
    "a file release does not write",
    (t) => t.replace(`iqqq-${TAG_VERSION}.tgz`, "iqqq.tgz"),
    /dist\/release\/iqqq\.tgz: npm run release writes no such file/,
  ],
  ["no provenance", (t) => t.replace("id-token: write", "id-token: none"), /no id-token: write/],
  ["branches instead of tags", (t) => t.replace('tags: ["v*"]', 'branches: ["main"]'), /does not run on v\* tags/],
  ["not YAML", (t) => `${t}\n  - : [\n`, /not YAML/],
  [
    "a build job that may write",
    (t) =>
      t.replace(
        "    permissions:\n      contents: read\n    steps:",
        "    permissions:\n      contents: write\n    steps:",
      ),
    /job build runs npm ci and may write \(contents\)/,
  ],
  [
    "a checkout that keeps its token",
    (t) => t.replace("persist-credentials: false", "persist-credentials: true"),
    /checkout leaves its token/,
  ],
  [
    "no arm64 libraries for the image",
    (t) => t.replace("skopeo libc6-arm64-cross busybox", "skopeo busybox"),
    /does not install libc6-arm64-cross/,
  ],
];
for (const [what, breaks, says] of BROKEN) {
  test(`the workflow check finds ${what}`, () => {
    const broken = breaks(WORKFLOW);
    assert.notEqual(broken, WORKFLOW, "the mistake was made");
    const problems = workflowProblems(broken, CI);
    assert.ok(
      problems.some((p) => says.test(p)),
      problems.join("\n") || "no problem found",
    );
  });
}

test("the workflow check finds .ci/run no longer running the release", () => {
  const problems = workflowProblems(WORKFLOW, CI.replace(/^npm run release:check$/m, ""));
  assert.ok(problems.includes(".ci/run does not run `npm run release:check`"), problems.join("\n"));
});

// On a tag, release:check says whether the build may publish (scripts/check-publish.mjs).
const { publishProblems } = (await import(join(ROOT, "scripts/check-publish.mjs"))) as {
  publishProblems(env: Record<string, string>, pkg: { version: string; repository?: unknown }): string[];
};
const ENV = { GITHUB_REF_NAME: "v1.2.3", GITHUB_REPOSITORY: "Owner/iqqq" };
const PUBLISH: [string, Record<string, string>, { version: string; repository?: unknown }, RegExp | null][] = [
  [
    "the tag and the repository as npm writes it",
    ENV,
    { version: "1.2.3", repository: { type: "git", url: "git+https://github.com/owner/iqqq.git" } },
    null,
  ],
  ["the repository as a string", ENV, { version: "1.2.3", repository: "https://github.com/Owner/iqqq" }, null],
  ["the GitHub shorthand", ENV, { version: "1.2.3", repository: "github:owner/iqqq" }, null],
  [
    "a tag that is not v + the version",
    { ...ENV, GITHUB_REF_NAME: "v1.2.4" },
    { version: "1.2.3", repository: "owner/iqqq" },
    /^the tag v1\.2\.4 is not v1\.2\.3/,
  ],
  [
    "no repository in package.json",
    ENV,
    { version: "1.2.3" },
    /^package\.json's repository is not set, not github\.com\/owner\/iqqq/,
  ],
  [
    "another repository",
    ENV,
    { version: "1.2.3", repository: "https://github.com/fork/iqqq.git" },
    /is github\.com\/fork\/iqqq, not github\.com\/owner\/iqqq/,
  ],
  [
    "a host that only ends like GitHub's",
    ENV,
    { version: "1.2.3", repository: "https://notgithub.com/owner/iqqq" },
    /is https:\/\/notgithub\.com\/owner\/iqqq, not github\.com\/owner\/iqqq/,
  ],
];
for (const [what, env, pkg, says] of PUBLISH) {
  test(`a tag build may publish: ${what} → ${says === null ? "yes" : "no"}`, () => {
    const problems = publishProblems(env, pkg);
    if (says === null) assert.deepEqual(problems, []);
    else assert.ok(problems.length === 1 && says.test(problems[0] as string), problems.join("\n"));
  });
}
