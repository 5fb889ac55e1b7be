import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Command, type Config, parseConfig, UsageError } from "../../src/config/config.js";
import { VARIABLES } from "../../src/config/variables.js";
import { EXIT } from "../../src/exit-status.js";

const K8S = { KUBERNETES_SERVICE_HOST: "10.96.0.1" };

function config(argv: string[], env: Record<string, string>): Config {
  const command = parseConfig(argv, env);
  if (command instanceof UsageError) assert.fail(`unexpected UsageError: ${command.message}`);
  assert.equal(command.action, "run");
  return (command as Extract<Command, { action: "run" }>).config;
}

function usageError(argv: string[], env: Record<string, string>): UsageError {
  const command = parseConfig(argv, env);
  assert.ok(command instanceof UsageError, `expected a UsageError, got ${JSON.stringify(command)}`);
  return command;
}

describe("arguments", () => {
  const rows: [string[], Command["action"], string | undefined, string[]][] = [
    [[], "run", undefined, []],
    [["--help"], "help", undefined, []],
    [["--version"], "version", undefined, []],
    [["--help", "ls"], "help", undefined, []],
    [["ls", "--help"], "run", "ls", ["--help"]],
    [["ls", "-la", "", " a b ", "ü✓", "--", "--version"], "run", "ls", ["-la", "", " a b ", "ü✓", "--", "--version"]],
    [["--", "--help"], "run", "--help", []],
    [["--", "-x", "y"], "run", "-x", ["y"]],
    [["--"], "run", undefined, []],
    [["-"], "run", "-", []],
  ];
  for (const [argv, action, file, args] of rows) {
    test(JSON.stringify(argv), () => {
      const command = parseConfig(argv, {});
      assert.ok(!(command instanceof UsageError));
      assert.equal(command.action, action);
      if (command.action === "run") {
        assert.equal(command.config.program?.file, file);
        if (file !== undefined) assert.deepEqual(command.config.program?.args, args);
      }
    });
  }
  for (const argv of [["-x"], ["--verbose", "ls"], ["-h"], ["--foo=bar"]]) {
    test(`${JSON.stringify(argv)} is a usage error`, () => {
      const err = usageError(argv, {});
      assert.equal(err.exitCode, EXIT.USAGE);
      assert.match(err.message, new RegExp(`unknown option "${argv[0]}"`));
    });
  }
  test("an empty program name is a usage error", () => assert.equal(usageError([""], {}).exitCode, EXIT.USAGE));
});

describe("when to stop", () => {
  const rows: [string, Record<string, string>, string | undefined][] = [
    ["outside Kubernetes", {}, "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)"],
    [
      "KUBERNETES_SERVICE_HOST empty counts as unset",
      { KUBERNETES_SERVICE_HOST: "" },
      "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)",
    ],
    ["in Kubernetes", K8S, undefined],
    ["DISABLE_IQQQ=true", { ...K8S, DISABLE_IQQQ: "true" }, "DISABLE_IQQQ is true"],
    ["DISABLE_IQQQ=YES", { ...K8S, DISABLE_IQQQ: "YES" }, "DISABLE_IQQQ is true"],
    ["DISABLE_IQQQ=false", { ...K8S, DISABLE_IQQQ: "false" }, undefined],
    ["DISABLE_IQQQ empty", { ...K8S, DISABLE_IQQQ: "" }, undefined],
    ["NEVER_KILL_ISTIO=1", { ...K8S, NEVER_KILL_ISTIO: "1" }, "NEVER_KILL_ISTIO is true"],
    ["NEVER_KILL_ISTIO=0", { ...K8S, NEVER_KILL_ISTIO: "0" }, undefined],
  ];
  for (const [name, env, reason] of rows) {
    test(name, () => assert.equal(config([], env).stop.skipReason, reason));
  }
  test("NEVER_KILL_ISTIO_ON_FAILURE", () => {
    assert.equal(config([], K8S).stop.skipOnFailure, false);
    assert.equal(config([], { ...K8S, NEVER_KILL_ISTIO_ON_FAILURE: "true" }).stop.skipOnFailure, true);
  });
});

describe("where to stop", () => {
  const url = (env: Record<string, string>): string => config([], { ...K8S, ...env }).stop.targets[0]?.url.href ?? "";
  test("default", () => assert.equal(url({}), "http://127.0.0.1:15020/quitquitquit"));
  test("ISTIO_PORT", () => assert.equal(url({ ISTIO_PORT: "15999" }), "http://127.0.0.1:15999/quitquitquit"));
  test("ISTIO_QUIT_API", () =>
    assert.equal(url({ ISTIO_QUIT_API: "http://localhost:15020" }), "http://localhost:15020/quitquitquit"));
  test("ISTIO_QUIT_API with a trailing slash", () =>
    assert.equal(url({ ISTIO_QUIT_API: "http://127.0.0.1:1/" }), "http://127.0.0.1:1/quitquitquit"));
  test("ISTIO_QUIT_API with a path prefix", () =>
    assert.equal(url({ ISTIO_QUIT_API: "https://h.test/agent/" }), "https://h.test/agent/quitquitquit"));
  test("ISTIO_QUIT_API overrides ISTIO_PORT", () =>
    assert.equal(url({ ISTIO_PORT: "1", ISTIO_QUIT_API: "http://127.0.0.1:2" }), "http://127.0.0.1:2/quitquitquit"));
  test("GENERIC_QUIT_ENDPOINTS", () => {
    const { generic } = config([], {
      ...K8S,
      GENERIC_QUIT_ENDPOINTS: "http://127.0.0.1:9091/quitquitquit, http://127.0.0.1:4191/shutdown",
    }).stop;
    assert.deepEqual(
      generic.map((u) => u.href),
      ["http://127.0.0.1:9091/quitquitquit", "http://127.0.0.1:4191/shutdown"],
    );
  });
  test("IQQQ_QUIT_TIMEOUT", () => {
    assert.equal(config([], K8S).stop.budgetMs, 5000);
    assert.equal(config([], { IQQQ_QUIT_TIMEOUT: "1m30s" }).stop.budgetMs, 90_000);
    assert.equal(config([], { IQQQ_QUIT_TIMEOUT: "250ms" }).stop.budgetMs, 250);
  });
});

describe("log level", () => {
  const rows: [Record<string, string>, string][] = [
    [{}, "warn"],
    [{ IQQQ_LOG_LEVEL: "debug" }, "debug"],
    [{ IQQQ_LOG_LEVEL: "INFO" }, "info"],
    [{ IQQQ_LOG_LEVEL: "silent" }, "silent"],
    [{ SCUTTLE_LOGGING: "true" }, "info"],
    [{ SCUTTLE_LOGGING: "true", IQQQ_LOG_LEVEL: "debug" }, "debug"],
    [{ SCUTTLE_LOGGING: "false" }, "warn"],
  ];
  for (const [env, level] of rows)
    test(`${JSON.stringify(env)} → ${level}`, () => assert.equal(config([], env).logLevel, level));
});

describe("bad values: named, with the value, and nothing runs", () => {
  const rows: [string, string][] = [
    ["DISABLE_IQQQ", "maybe"],
    ["DISABLE_IQQQ", " true"],
    ["ISTIO_PORT", "0"],
    ["ISTIO_PORT", "65536"],
    ["ISTIO_PORT", "1e3"],
    ["ISTIO_PORT", "15020 "],
    ["ISTIO_PORT", "-1"],
    ["ISTIO_QUIT_API", "127.0.0.1:15020"],
    ["ISTIO_QUIT_API", "ftp://127.0.0.1"],
    ["ISTIO_QUIT_API", "http://"],
    ["GENERIC_QUIT_ENDPOINTS", "http://ok.test,://bad"],
    ["GENERIC_QUIT_ENDPOINTS", "file:///x"],
    ["NEVER_KILL_ISTIO", "sure"],
    ["NEVER_KILL_ISTIO_ON_FAILURE", "2"],
    ["IQQQ_QUIT_TIMEOUT", "5"],
    ["IQQQ_QUIT_TIMEOUT", "-1s"],
    ["IQQQ_QUIT_TIMEOUT", "0s"],
    ["IQQQ_QUIT_TIMEOUT", "1 s"],
    ["IQQQ_LOG_LEVEL", "verbose"],
    ["SCUTTLE_LOGGING", "on"],
  ];
  for (const [name, value] of rows) {
    test(`${name}=${JSON.stringify(value)}`, () => {
      const err = usageError(["true"], { ...K8S, [name]: value });
      assert.equal(err.exitCode, EXIT.CONFIG);
      assert.equal(err.problems.length, 1);
      assert.ok(err.problems[0]?.startsWith(`${name}=${JSON.stringify(value)} is invalid: `), err.problems[0]);
    });
  }
  test("every bad variable is reported, not only the first", () => {
    const err = usageError([], { ISTIO_PORT: "x", IQQQ_QUIT_TIMEOUT: "y", DISABLE_IQQQ: "z" });
    assert.deepEqual(
      err.problems.map((p) => p.split("=")[0]),
      ["DISABLE_IQQQ", "ISTIO_PORT", "IQQQ_QUIT_TIMEOUT"],
    );
  });
  test("bad values are errors even when the stop is disabled", () => {
    assert.ok(parseConfig([], { DISABLE_IQQQ: "true", ISTIO_PORT: "x" }) instanceof UsageError);
  });
  test("empty values count as unset", () => {
    const env = Object.fromEntries(VARIABLES.map((v) => [v.name, ""]));
    const c = config([], env);
    assert.equal(c.stop.skipReason, "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)");
    assert.equal(c.stop.budgetMs, 5000);
  });
  test("every variable in the table has a bad-value row or is a presence flag", () => {
    const covered = new Set(rows.map(([name]) => name));
    for (const v of VARIABLES) if (v.kind !== "presence") assert.ok(covered.has(v.name), v.name);
  });
});
