// Bad input: property-based tests over the config parser, a table of hostile
// values for every variable (driven by its kind, so new variables are covered
// the day they are added), and arguments with every byte value.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { type Command, parseConfig, UsageError } from "../../src/config/config.js";
import { formatDuration, parseDuration } from "../../src/config/values.js";
import { VARIABLES, type VariableKind } from "../../src/config/variables.js";
import { EXIT } from "../../src/exit-status.js";
import { parseWatchPattern } from "../../src/watch/pattern.js";
import { CLI, cliEnv, nulRecords, pool, runCli } from "../support/cli.js";
import { type FakeSidecar, startFakeSidecar } from "../support/fake-sidecar.js";
import { record } from "./figures.js";

/** The pattern engine main.ts loads when IQQQ_WATCH_PATTERN is set. */
const ENGINES = { pattern: parseWatchPattern };

const K8S = { KUBERNETES_SERVICE_HOST: "10.96.0.1" };
const RUNS = 2000;

/**
 * Values every variable of a kind must refuse. No NUL: an environment cannot
 * carry one (the property tests below try it in-process). A kind missing here
 * fails the "every kind" test, so a new kind gets its rows.
 */
const HOSTILE: Readonly<Record<Exclude<VariableKind, "presence">, readonly string[]>> = {
  bool: [
    "maybe",
    " true",
    "true ",
    "tru",
    "2",
    "-1",
    "on",
    "off",
    "y",
    "t",
    "ｔｒｕｅ",
    "true\n",
    "1e0",
    "0x1",
    "yes please",
  ],
  port: [
    "0",
    "65536",
    "99999",
    "1e3",
    "15020 ",
    " 15020",
    "-1",
    "+15020",
    "0x3ab4",
    "15020.0",
    "１５０２０",
    "123456",
    "99999999999999999999",
    "15_020",
    "NaN",
    "Infinity",
    ":15020",
    "15020/tcp",
  ],
  duration: [
    "5",
    "-1s",
    "-0s",
    "1 s",
    " 1s",
    "1s ",
    "1e3ms",
    "1d",
    "1w",
    "1S",
    "1sec",
    "forever",
    "NaN",
    "Infinity",
    "2562048h",
    "1h-1m",
    "1.2.3s",
    "１s",
    ".s",
    "s",
    "∞",
  ],
  url: [
    "127.0.0.1:15020",
    "localhost",
    "//127.0.0.1:15020",
    "ftp://127.0.0.1",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "unix:///var/run/envoy.sock",
    "ws://127.0.0.1:15000",
    "http://",
    "http://[::1",
    "http://exa mple.test",
    "http://127.0.0.1:99999",
    " ",
    "%",
  ],
  "url-list": [
    "http://ok.test,://bad",
    "file:///x",
    "http://a.test,ftp://b.test",
    "http://a.test, http://",
    "http://[::1,http://a.test",

    "127.0.0.1:9091/quitquitquit",
  ],
  "log-level": ["verbose", "trace", "warning", "debug ", "0", "INFO\n", "all", "-"],
  "sidecar-list": [
    "bogus",
    "istio,bogus",
    ",",
    " , ",
    "istio;envoy",
    "istio envoy",
    "auto,istio",
    "Istio-Legacy2",
    "*",
  ],
  "ready-list": ["bogus", "istio,cloudsql", ",", "istio;linkerd", "all", "*", "istio-legacy"],
  "process-name": ["/usr/bin/airflow", "bin/job", " airflow", "airflow ", "./job"],
  regex: ["(", "[a-", "*x", "a{2,1}", "(?<", "\\"],
  "path-list": [",", "a.mjs,,b.mjs", " , ", "a.mjs,"],
  // WRAPPER_PLUGIN_PATH: any path is a path; a missing file is a warning at load time.
  path: [],
  count: ["0", "-1", "1.5", "01", "two", " 2", "2 ", "10000", "1e3", "0x2"],
  "container-name": ["Job", "a_b", "-a", "a-", "a b", "x".repeat(64), "ä"],
  "container-list": [",", "a,,b", " , ", "a,", "a", "a,a", "A,b", "a_b,c"],
  lookup: ["true", "API", "yes", "api ", "1", "kubelet"],
  "compile-cache": ["on", "Write", "OFF", " write", "write ", "read", "true", "1", "ｗｒｉｔｅ", "write\n"],
  "restart-policy": ["never", "onfailure", "Never ", " OnFailure", "On-Failure", "Always!", "1", "true"],
};

/** The table, one row per variable and value. */
const rows = VARIABLES.filter((v) => v.kind !== "presence").flatMap((v) =>
  (HOSTILE[v.kind as keyof typeof HOSTILE] ?? []).map((value) => ({ name: v.name, value })),
);

function problemOf(name: string, value: string): string {
  return `${name}=${JSON.stringify(value)} is invalid: `;
}

describe("hostile values", () => {
  test("every kind of variable has hostile values", () => {
    for (const v of VARIABLES) {
      // Any value is a valid presence flag, and any string a valid single path.
      if (v.kind === "presence" || v.kind === "path") continue;
      assert.ok((HOSTILE[v.kind as keyof typeof HOSTILE]?.length ?? 0) > 0, `no hostile values for kind ${v.kind}`);
    }
  });

  test(`${rows.length} hostile values: each is a config error that names the variable`, () => {
    for (const { name, value } of rows) {
      const command = parseConfig(["true"], { ...K8S, [name]: value }, "iqqq", ENGINES);
      assert.ok(command instanceof UsageError, `${name}=${JSON.stringify(value)} was accepted`);
      assert.equal(command.exitCode, EXIT.CONFIG);
      assert.equal(command.problems.length, 1, command.message);
      assert.ok(command.problems[0]?.startsWith(problemOf(name, value)), command.problems[0]);
    }
  });

  test("as scuttle, each is a warning that names the variable, and the program runs", () => {
    for (const { name, value } of rows) {
      const command = parseConfig(["true"], { ...K8S, [name]: value }, "scuttle", ENGINES);
      assert.ok(!(command instanceof UsageError), `${name}: ${command instanceof UsageError && command.message}`);
      assert.equal(command.action, "run");
      if (command.action !== "run") continue;
      assert.equal(command.config.program?.file, "true");
      assert.ok(
        command.config.warnings.some((w) => w.startsWith(problemOf(name, value))),
        name,
      );
    }
  });

  describe("end to end", () => {
    let sidecar: FakeSidecar;
    before(async () => {
      sidecar = await startFakeSidecar({ stayAfterQuit: true });
    });
    after(() => sidecar.close());

    test(`${rows.length} hostile values: exit 78, the variable named, nothing run, nothing stopped`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "iqqq-bad-input-"));
      const failures: string[] = [];
      await pool(rows.length, 6, async (i) => {
        const { name, value } = rows[i] as { name: string; value: string };
        const marker = join(dir, `ran-${i}`);
        const r = await runCli(["sh", "-c", 'touch "$0"', marker], {
          env: { ...K8S, ISTIO_PORT: String(sidecar.port), [name]: value },
        });
        const where = `${name}=${JSON.stringify(value)}`;
        if (r.status !== EXIT.CONFIG) failures.push(`${where}: exit ${r.status}`);
        if (!r.stderr.includes(`iqqq: error: ${problemOf(name, value)}`)) failures.push(`${where}: ${r.stderr}`);
        if (existsSync(marker)) failures.push(`${where}: the program ran`);
        if (r.stdout.length > 0) failures.push(`${where}: wrote to stdout`);
      });
      assert.deepEqual(failures, []);
      assert.equal(sidecar.requests.length, 0, "a sidecar was contacted");
      record("bad-input-table", {
        variables: new Set(rows.map((r) => r.name)).size,
        values: rows.length,
        kinds: Object.keys(HOSTILE).length,
        lost: failures.length,
      });
    });
  });
});

describe("properties of the config parser", () => {
  const names = VARIABLES.map((v) => v.name);
  /** Near-valid values: the parsers' edges, mutated. */
  const plausible = fc.oneof(
    fc.constantFrom("true", "false", "1", "0", "yes", "no", "15020", "65535", "65536", "500ms", "1m30s", "0s", "-1s"),
    fc.constantFrom("http://127.0.0.1:15020", "https://x.test/a/", "istio,envoy", "auto", "istio", "debug", "silent"),
    fc.nat({ max: 100_000 }).map(String),
    fc
      .tuple(fc.double({ noNaN: false }), fc.constantFrom("ns", "us", "µs", "ms", "s", "m", "h", "", "d"))
      .map(([n, u]) => `${n}${u}`),
    fc.webUrl(),
    fc.array(fc.webUrl(), { maxLength: 4 }).map((urls) => urls.join(",")),
  );
  const value = fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), plausible, fc.string({ maxLength: 3 }));
  const env = fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), value, {
    maxKeys: names.length + 3,
  });
  const argv = fc.array(
    fc.oneof(fc.string({ unit: "binary" }), fc.constantFrom("--", "--help", "-x", "--explain", "")),
    {
      maxLength: 4,
    },
  );
  let tried = 0;

  function check(args: string[], vars: Record<string, string>, invokedAs: string): void {
    tried++;
    const command: Command | UsageError = parseConfig(args, vars, invokedAs, ENGINES);
    if (command instanceof UsageError) {
      assert.ok(command.problems.length > 0);
      if (command.exitCode === EXIT.USAGE) return;
      assert.equal(command.exitCode, EXIT.CONFIG);
      assert.notEqual(invokedAs, "scuttle", "scuttle refuses nothing");
      const named = command.problems.map((p) => {
        const name = names.find((n) => p.startsWith(problemOf(n, vars[n] ?? "")));
        assert.ok(name !== undefined, `problem names no variable: ${p}`);
        assert.notEqual(vars[name], "", "an empty value counts as unset");
        return name;
      });
      assert.equal(new Set(named).size, named.length, "a variable is named twice");
      return;
    }
    if (command.action !== "run" && command.action !== "explain") return;
    const { stop } = command.config;
    assert.ok(Number.isFinite(stop.budgetMs) && stop.budgetMs > 0, `budget ${stop.budgetMs}`);
    for (const t of stop.targets) {
      if (t.kind === "http") assert.match(t.url.protocol, /^https?:$/);
    }
    for (const url of stop.generic) assert.match(url.protocol, /^https?:$/);
    for (const c of command.config.ready?.checks ?? []) assert.match(c.url.protocol, /^https?:$/);
  }

  test("any environment and arguments: a config, or an error naming the variable; never a crash", () => {
    fc.assert(
      fc.property(argv, env, fc.constantFrom("iqqq", "scuttle", "istio_quitquitquit"), (args, vars, invokedAs) =>
        check(args, vars, invokedAs),
      ),
      { numRuns: RUNS },
    );
  });

  test("one variable at a time, any value: accepted, or refused naming that variable only", () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), value, (name, raw) => {
        tried++;
        const command = parseConfig(["true"], { ...K8S, [name]: raw }, "iqqq", ENGINES);
        if (!(command instanceof UsageError)) return;
        assert.deepEqual(
          command.problems.map((p) => p.startsWith(problemOf(name, raw))),
          [true],
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("durations round-trip: parse(format(ms)) = ms for whole milliseconds up to Go's limit", () => {
    fc.assert(
      fc.property(fc.nat({ max: 9_223_372_036_854 }), (ms) => {
        tried++;
        assert.equal(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
      }),
      { numRuns: RUNS },
    );
  });

  test("durations round-trip: parse(format(ms)) = ms for whole microseconds", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 999_999 }).map((us) => us / 1000),
        (ms) => {
          tried++;
          assert.equal(parseDuration(formatDuration(ms)), ms, formatDuration(ms));
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("durations round-trip: any Go duration string, formatted and parsed again, is the same", () => {
    const part = fc.tuple(fc.nat({ max: 100_000 }), fc.constantFrom("ns", "us", "µs", "μs", "ms", "s", "m", "h"));
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        tried++;
        const raw = parts.map(([n, u]) => `${n}${u}`).join("");
        const ms = parseDuration(raw);
        assert.ok(Number.isFinite(ms) && ms >= 0, raw);
        const again = parseDuration(formatDuration(ms));
        assert.ok(Math.abs(again - ms) <= ms * 1e-12, `${raw}: ${ms} → ${formatDuration(ms)} → ${again}`);
      }),
      { numRuns: RUNS },
    );
  });

  after(() => record("bad-input-properties", { cases: tried, runs: RUNS }));
});

describe("arguments with every byte value", () => {
  const env = cliEnv();
  /** The program: prints its arguments, each followed by NUL, byte for byte. */
  const echo = ["sh", "-c", 'printf "%s\\0" "$@"', "sh"];
  test("bytes 1-127, each alone and all together, reach the program intact", async () => {
    const args = Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1));
    args.push(args.join(""));
    const r = await runCli([...echo, ...args], { env });
    assert.equal(r.status, 0, r.stderr);
    const got = nulRecords(r.stdout);
    assert.equal(got.length, args.length);
    for (const [i, arg] of args.entries()) assert.deepEqual(got[i], Buffer.from(arg, "latin1"), `argument ${i + 1}`);
  });

  // Every byte that UTF-8 can carry, 0x80-0xBF as continuation bytes and
  // 0xC2-0xF4 as lead bytes, inside valid characters.
  const utf8Bytes = Array.from({ length: 0xf4 - 0x80 + 1 }, (_, i) => 0x80 + i).filter((b) => b !== 0xc0 && b !== 0xc1);
  test(`the ${utf8Bytes.length} bytes 0x80-0xF4 that UTF-8 uses reach the program intact`, async () => {
    const chars: string[] = [];
    // U+0080-U+00BF are C2 80-C2 BF: every continuation byte.
    for (let cp = 0x80; cp <= 0xbf; cp++) chars.push(String.fromCodePoint(cp));
    // The smallest character after each lead byte (E0 needs U+0800 and up, F0 U+10000 and up).
    for (let lead = 0xc2; lead <= 0xdf; lead++) chars.push(String.fromCodePoint((lead & 0x1f) << 6));
    for (let lead = 0xe0; lead <= 0xef; lead++) chars.push(String.fromCodePoint(Math.max(0x800, (lead & 0x0f) << 12)));
    for (let lead = 0xf0; lead <= 0xf4; lead++)
      chars.push(String.fromCodePoint(Math.max(0x10000, (lead & 0x07) << 18)));
    const args = chars.map((c) => `a${c}z`);
    const covered = new Set(Buffer.from(args.join(""), "utf8"));
    for (const b of utf8Bytes) assert.ok(covered.has(b), `byte 0x${b.toString(16)} not covered`);
    const r = await runCli([...echo, ...args], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      nulRecords(r.stdout),
      args.map((a) => Buffer.from(a, "utf8")),
    );
  });

  // Node (and Bun) decode argv as UTF-8: a byte that is not valid UTF-8 becomes
  // U+FFFD. iqqq then takes the bytes from /proc/self/cmdline and starts the
  // program through /bin/sh (src/program/bytes.ts), so they arrive intact.
  const raw = Array.from({ length: 128 }, (_, i) => 0x80 + i);
  test("bytes 0x80-0xFF alone (not UTF-8) reach the program intact", async () => {
    const script = `exec "$0" "$@" ${raw.map((b) => `"$(printf '\\${b.toString(8)}')"`).join(" ")}`;
    const r = await runCli(["sh", "-c", script, CLI, ...echo], { env });
    assert.equal(r.status, 0, r.stderr);
    const got = nulRecords(r.stdout);
    const intact = raw.filter((b, i) => got[i]?.equals(Buffer.from([b])));
    record("bad-input-bytes", { rawTried: raw.length, rawIntact: intact.length, utf8Tried: 127 + utf8Bytes.length });
    assert.equal(intact.length, raw.length, `${raw.length - intact.length} of ${raw.length} bytes arrived altered`);
  });
});
