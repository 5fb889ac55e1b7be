// `iqqq inject` at scale, for npm run bench (a section of its report) or alone
// (`node build/bench/inject.js`, after npm run build, npm run build:test and
// node scripts/build-binaries.mjs --host-only): 1,000 Jobs of a chart's
// rendering (test/support/job-stream.ts) through the bundle and the
// executable, beside the `yaml` package alone reading and writing the same
// stream (bench/floor/yaml.mjs, under Node and under Bun), in alternating
// rounds. Wall time, CPU time and peak RSS (GNU time's %M: the kernel's
// maxrss, VmHWM) per run; memory also as the growth over the same command on a
// single Job, per byte of input. BENCH_BEFORE=DIR adds another build's
// dist/ (its iqqq.mjs and bin/), to set a change against what it replaces in
// the same rounds.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { quickSegments } from "../src/inject/split.js";
import { jobStream } from "../test/support/job-stream.js";
import { median } from "./measure.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TIME = "/usr/bin/time";
const JOBS = 1000;
const ROUNDS = Number(process.env.INJECT_ROUNDS ?? 7);
const IMAGE = "registry.example/iqqq:1.0";
/** The (#22) targets: 1,000 Jobs in a second or less; memory no more than 20 times the input. */
const SECONDS_LIMIT = 1;
const RSS_LIMIT = 20;

/** A budget line of bench.ts's report. */
export interface InjectBudget {
  readonly what: string;
  readonly value: string;
  readonly limit: string;
  readonly pass: boolean;
}

export interface Report {
  say(line?: string): void;
  table(head: readonly string[], rows: readonly (readonly string[])[]): void;
}

interface Subject {
  readonly name: string;
  /** Run with the input file appended. */
  readonly command: readonly string[];
  /** iqqq's own builds are held to the budgets; the floors are not. */
  readonly budget?: string;
  readonly floor?: string;
}

interface Run {
  readonly wall: number;
  readonly cpu: number;
  readonly peak: number;
}

/** One run to completion under GNU time: wall ms (from here), CPU ms and peak RSS bytes (from time). */
function run(command: readonly string[], file: string, out: string): Run {
  const started = performance.now();
  const r = spawnSync(TIME, ["-f", "%M %U %S", "-o", out, ...command, file], { stdio: "ignore" });
  const wall = performance.now() - started;
  if (r.status !== 0) throw new Error(`${command.join(" ")} ${file}: exit ${r.status ?? r.signal}`);
  const [kib, user, system] = readFileSync(out, "utf8").trim().split("\n").pop()?.split(" ").map(Number) ?? [];
  return { wall, cpu: ((user ?? Number.NaN) + (system ?? Number.NaN)) * 1000, peak: (kib ?? Number.NaN) * 1024 };
}

function subjects(): Subject[] {
  const exe = `dist/bin/iqqq-linux-${process.arch}`;
  const list: Subject[] = [];
  const builds = (dist: string, label: string, budget: boolean): void => {
    if (existsSync(`${dist}/iqqq.mjs`))
      list.push({
        name: `bundle${label} (\`node dist/iqqq.mjs inject\`)`,
        command: [process.execPath, `${dist}/iqqq.mjs`, "inject", "--image", IMAGE],
        floor: "Node",
        ...(budget ? { budget: "bundle" } : {}),
      });
    const bin = `${dist}/bin/iqqq-linux-${process.arch}`;
    if (existsSync(bin))
      list.push({
        name: `executable${label} (\`${exe} inject\`)`,
        command: [bin, "inject", "--image", IMAGE],
        floor: "Bun",
        ...(budget ? { budget: "executable" } : {}),
      });
  };
  builds(`${ROOT}dist`, "", true);
  const before = process.env.BENCH_BEFORE;
  if (before !== undefined) builds(before.replace(/\/$/, ""), ", before", false);
  list.push({
    name: "Node floor (`node bench/floor/yaml.mjs`)",
    command: [process.execPath, `${ROOT}bench/floor/yaml.mjs`],
  });
  list.push({
    name: "Bun floor (`bun bench/floor/yaml.mjs`)",
    command: [`${ROOT}node_modules/.bin/bun`, `${ROOT}bench/floor/yaml.mjs`],
  });
  return list;
}

/** Measures, writes its section of the report, and returns its budget lines. */
export function benchInject(report: Report): InjectBudget[] {
  const { say, table } = report;
  say(`## Inject: ${JOBS.toLocaleString("en")} Jobs (${ROUNDS} alternating rounds)`);
  say();
  if (!existsSync(TIME)) {
    say(`n/a: needs GNU time at ${TIME} (Debian's \`time\` package) for the peak RSS of each run.`);
    say();
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), "iqqq-bench-inject-"));
  try {
    const big = join(dir, "jobs.yaml");
    const one = join(dir, "job.yaml");
    const text = jobStream(JOBS);
    const quick = [...quickSegments(text)].filter((segment) => segment.quick !== undefined).length;
    writeFileSync(big, text);
    writeFileSync(one, jobStream(1));
    const input = Buffer.byteLength(text);
    const list = subjects();
    const runs = list.map(() => ({ big: [] as Run[], one: [] as Run[] }));
    const out = join(dir, "time");
    // A warm-up round (page cache, Bun's and Node's compile caches), then rounds in an order rotated each time.
    for (let round = -1; round < ROUNDS; round++)
      for (let k = 0; k < list.length; k++) {
        const i = (k + Math.max(round, 0)) % list.length;
        const subject = list[i] as Subject;
        const a = run(subject.command, big, out);
        const b = run(subject.command, one, out);
        if (round >= 0) {
          runs[i]?.big.push(a);
          runs[i]?.one.push(b);
        }
      }
    say(
      `The input: ${JOBS.toLocaleString("en")} Jobs of a chart's rendering (test/support/job-stream.ts: Istio's label on each pod template, block and flow style, an anchor and a merge, CRLF lines, comments) with ${(JOBS / 5).toLocaleString("en")} ConfigMaps and ${(JOBS / 10).toLocaleString("en")} Services between them, ${kib(input)}. Each run's figures are GNU time's; the growth is the peak RSS over the same command's on one Job, per byte of input.`,
    );
    say();
    const stat = (xs: readonly number[], f: (x: number) => string) =>
      `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
    const floorOf = (name: string) => runs[list.findIndex((s) => s.name.startsWith(`${name} floor`))]?.big ?? [];
    const budgets: InjectBudget[] = [];
    const rows = list.map((s, i) => {
      const r = runs[i] as { big: Run[]; one: Run[] };
      const wall = r.big.map((x) => x.wall);
      const growth = r.big.map((x, j) => (x.peak - (r.one[j]?.peak ?? 0)) / input);
      const floor = s.floor === undefined ? [] : floorOf(s.floor);
      const vsFloor =
        floor.length === 0
          ? "–"
          : `${(median(r.big.map((x) => x.cpu)) / median(floor.map((x) => x.cpu))).toFixed(2)}× the ${s.floor} floor's CPU`;
      if (s.budget !== undefined) {
        budgets.push({
          what: `${s.budget}: inject ${JOBS.toLocaleString("en")} Jobs`,
          value: seconds(median(wall)),
          limit: `≤ ${SECONDS_LIMIT} s`,
          pass: median(wall) <= SECONDS_LIMIT * 1000,
        });
        budgets.push({
          what: `${s.budget}: inject's peak RSS growth per byte of input`,
          value: times(median(growth)),
          limit: `≤ ${RSS_LIMIT}×`,
          pass: median(growth) <= RSS_LIMIT,
        });
      }
      return [
        s.name,
        stat(wall, seconds),
        stat(
          r.big.map((x) => x.cpu),
          seconds,
        ),
        stat(
          r.big.map((x) => x.peak),
          mb,
        ),
        stat(growth, times),
        vsFloor,
      ];
    });
    table(
      [
        "command",
        `wall time, ${JOBS.toLocaleString("en")} Jobs: median (min–max)`,
        "CPU time (user + system)",
        "peak RSS",
        "peak RSS growth over one Job, per input byte",
        "against the library alone",
      ],
      rows,
    );
    say(
      `The floors are the \`yaml\` package reading every document of the stream into a Document and writing it back (bench/floor/yaml.mjs): no meaning, no edits, no checks. iqqq reads the Jobs only (a ConfigMap's or a Service's kind is read from its lines), gives each its meaning as Kubernetes reads YAML, edits it and writes it back: a Job written as the package writes one with its own quick reader and writer (src/inject/quick.ts; ${quick.toLocaleString("en-US")} of these ${JOBS.toLocaleString("en-US")}), the others (an anchor and a merge) with the package.`,
    );
    say();
    return budgets;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

function times(x: number): string {
  return `${x.toFixed(1)}×`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const budgets = benchInject({
    say: (line = "") => console.log(line),
    table: (head, rows) => {
      console.log(`| ${head.join(" | ")} |`);
      console.log(`|${head.map(() => "---").join("|")}|`);
      for (const row of rows) console.log(`| ${row.join(" | ")} |`);
      console.log();
    },
  });
  for (const b of budgets) console.log(`- ${b.what}: ${b.value} (${b.limit}) ${b.pass ? "pass" : "FAIL"}`);
}
