import assert from "node:assert/strict";
import { test } from "node:test";
import { ValueError } from "../../src/config/values.js";
import { describeQuery, matchesName, matchesPattern, parseProcessName } from "../../src/watch/match.js";
import { parseWatchPattern } from "../../src/watch/pattern.js";

test("matchesName: comm, argv[0]'s basename, a rewritten title's first word, truncated comm", () => {
  const rows: [name: string, comm: string, argv: string[] | undefined, expected: boolean][] = [
    ["airflow", "airflow", ["/usr/bin/python3", "/usr/local/bin/airflow", "tasks", "run"], true],
    ["airflow", "python3", ["/usr/local/bin/airflow", "tasks"], true],
    ["airflow", "airflow task ru", ["airflow task runner: dag task 2024-01-01"], true],
    ["airflow", "python3", ["/usr/bin/python3", "/usr/local/bin/airflow"], false],
    ["airflow", "airflowx", ["airflowx"], false],
    ["airflow", "xairflow", ["/opt/xairflow"], false],
    ["airflow", "sh", ["sh", "-c", "airflow tasks run"], false],
    ["airflow", "zombie", [], false],
    ["airflow", "zombie", undefined, false],
    ["a-very-long-process-name", "a-very-long-pro", ["python", "x"], true],
    ["a-very-long-process-name", "a-very-long-pro", ["/bin/a-very-long-process-name"], true],
    ["a-very-long-pro", "a-very-long-pro", [], true],
    ["a-very-long-pro-x", "a-very-long-pro", [], true],
    ["a-very-long-pr", "a-very-long-pro", [], false],
    ["sleep", "sleep", ["sleep", "10"], true],
    ["", "sleep", ["sleep"], false],
  ];
  for (const [name, comm, argv, expected] of rows) {
    assert.equal(
      matchesName(name, comm, () => argv),
      expected,
      `${name} vs comm ${comm} argv ${JSON.stringify(argv)}`,
    );
  }
});

test("matchesName reads argv only when comm does not decide", () => {
  let reads = 0;
  assert.equal(
    matchesName("job", "job", () => {
      reads++;
      return [];
    }),
    true,
  );
  assert.equal(reads, 0);
});

test("matchesPattern searches the arguments joined by spaces", () => {
  assert.equal(matchesPattern(/tasks run my_dag/, ["airflow", "tasks", "run", "my_dag"]), true);
  assert.equal(matchesPattern(/^airflow tasks/, ["/usr/bin/airflow", "tasks"]), false);
  assert.equal(matchesPattern(/airflow$/, ["/usr/bin/airflow"]), true);
  assert.equal(matchesPattern(/./, []), false);
});

test("describeQuery names what is watched", () => {
  assert.equal(describeQuery({ name: "airflow" }), 'a process named "airflow"');
  assert.equal(describeQuery({ pattern: /a b/ }), "a process whose command line matches /a b/");
  assert.equal(
    describeQuery({ name: "python3", pattern: /job\.py/ }),
    'a process named "python3" and whose command line matches /job\\.py/',
  );
});

test("parseProcessName and parseWatchPattern: one row per value", () => {
  assert.equal(parseProcessName("airflow"), "airflow");
  assert.equal(parseProcessName("my job"), "my job");
  for (const bad of ["/usr/bin/airflow", "bin/x", " airflow", "airflow\n"]) {
    assert.throws(() => parseProcessName(bad), ValueError, bad);
  }
  assert.equal(String(parseWatchPattern("airflow (tasks|celery)")), "/airflow (tasks|celery)/");
  assert.throws(() => parseWatchPattern("a("), /expected a regular expression/);
  assert.throws(() => parseWatchPattern("[z-a]"), ValueError);
});
