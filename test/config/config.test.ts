import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Command, type Config, parseConfig, UsageError } from "../../src/config/config.js";
import { PORTS, VARIABLES } from "../../src/config/variables.js";
import { EXIT } from "../../src/exit-status.js";
import { type HttpSidecar, SIDECARS } from "../../src/sidecar/catalogue.js";
import { parseWatchPattern } from "../../src/watch/pattern.js";

/** The pattern engine main.ts loads when IQQQ_WATCH_PATTERN is set. */
const ENGINES = { pattern: parseWatchPattern };

const K8S = { KUBERNETES_SERVICE_HOST: "10.96.0.1" };

function config(argv: string[], env: Record<string, string>): Config {
  const command = parseConfig(argv, env, "iqqq", ENGINES);
  if (command instanceof UsageError) assert.fail(`unexpected UsageError: ${command.message}`);
  assert.equal(command.action, "run");
  return (command as Extract<Command, { config: Config }>).config;
}

function usageError(argv: string[], env: Record<string, string>): UsageError {
  const command = parseConfig(argv, env, "iqqq", ENGINES);
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
    [["--explain"], "explain", undefined, []],
    [["--explain", "ls", "-l"], "explain", "ls", ["-l"]],
    [["--explain", "--", "-x"], "explain", "-x", []],
    // iqqq's own options in any order: --help, then --version, then --explain win.
    [["--explain", "--version"], "version", undefined, []],
    [["--version", "--explain", "ls"], "version", undefined, []],
    [["--explain", "--help"], "help", undefined, []],
    [["--version", "--help"], "help", undefined, []],
    [["--explain", "--explain", "ls"], "explain", "ls", []],
    [["--explain", "ls", "--version"], "explain", "ls", ["--version"]],
  ];
  for (const [argv, action, file, args] of rows) {
    test(JSON.stringify(argv), () => {
      const command = parseConfig(argv, {}, "iqqq", ENGINES);
      assert.ok(!(command instanceof UsageError));
      assert.equal(command.action, action);
      if ("config" in command) {
        assert.equal(command.config.program?.file, file);
        if (file !== undefined) assert.deepEqual(command.config.program?.args, args);
      }
    });
  }
  for (const argv of [["-x"], ["--verbose", "ls"], ["-H"], ["--foo=bar"], ["--explain", "--bogus"]]) {
    test(`${JSON.stringify(argv)} is a usage error`, () => {
      const err = usageError(argv, {});
      assert.equal(err.exitCode, EXIT.USAGE);
      assert.match(err.message, new RegExp(`unknown option "${argv.findLast((a) => a.startsWith("-"))}"`));
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
  const url = (env: Record<string, string>): string => {
    const target = config([], { ...K8S, ...env }).stop.targets[0];
    return target?.kind === "http" ? target.url.href : "";
  };
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
    ["IQQQ_COMPILE_CACHE", "on"],
    ["SCUTTLE_LOGGING", "on"],
    ["IQQQ_SIDECARS", "istio,consul"],
    ["IQQQ_SIDECARS", ","],
    ["ENVOY_ADMIN_PORT", "15000x"],
    ["LINKERD_ADMIN_PORT", "70000"],
    ["CLOUDSQL_ADMIN_PORT", "0"],
    ["ISTIO_READY_PORT", "port"],
    ["ISTIO_FALLBACK_PKILL", "t"],
    ["ENVOY_ADMIN_API", "localhost:15000"],
    ["IQQQ_WAIT_FOR", "cloudsql"],
    ["START_WITHOUT_ENVOY", "nope"],
    ["WAIT_FOR_ENVOY_TIMEOUT", "10"],
    ["QUIT_WITHOUT_ENVOY_TIMEOUT", "-5s"],
    ["IQQQ_WATCH_PROCESS", "/usr/bin/airflow"],
    ["IQQQ_WATCH_PATTERN", "(unclosed"],
    ["IQQQ_WATCH_START_TIMEOUT", "0"],
    ["IQQQ_PLUGINS", "a.mjs,,b.mjs"],
    ["IQQQ_PLUGIN_TIMEOUT", "soon"],
    ["IQQQ_PLUGIN_BUDGET", "-1s"],
    ["IQQQ_SIGNAL_GROUP", "group"],
    ["IQQQ_PODINFO_ANNOTATIONS", "podinfo/annotations"],
    ["IQQQ_GROUP_DIR", "shared"],
    ["IQQQ_GROUP", "job,Bad_Name"],
    ["IQQQ_NAME", "Job One"],
    ["IQQQ_POD_LOOKUP", "kubernetes"],
    ["IQQQ_RESTART_POLICY", "onfailure"],
    ["IQQQ_POD_SIDECARS", "istio,consul"],
    ["IQQQ_SIDECAR_START_TIMEOUT", "a minute"],
    ["IQQQ_WATCH_CONTAINERS", "0"],
    // Every port variable of the sidecar catalogue, new kinds included.
    ...[...PORTS.keys()].map((name): [string, string] => [name, "65536"]),
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
    assert.ok(parseConfig([], { DISABLE_IQQQ: "true", ISTIO_PORT: "x" }, "iqqq", ENGINES) instanceof UsageError);
  });
  test("empty values count as unset", () => {
    const env = Object.fromEntries(VARIABLES.map((v) => [v.name, ""]));
    const c = config([], env);
    assert.equal(c.stop.skipReason, "KUBERNETES_SERVICE_HOST is not set (not in Kubernetes)");
    assert.equal(c.stop.budgetMs, 5000);
  });
  test("every variable in the table has a bad-value row or is a presence flag", () => {
    const covered = new Set(rows.map(([name]) => name));
    // Any value is a valid presence flag, and any string a valid single path.
    for (const v of VARIABLES) if (v.kind !== "presence" && v.kind !== "path") assert.ok(covered.has(v.name), v.name);
  });
});

type HttpTarget = { kind: string; name: string; url?: URL; optional?: boolean; process?: string };
const targets = (c: Config): string[] =>
  c.stop.targets.map((t: HttpTarget) =>
    t.url ? `${t.name} ${t.url.href}${t.optional ? " optional" : ""}` : `${t.name} ${t.process}`,
  );

describe("every common sidecar (IQQQ_SIDECARS)", () => {
  const rows: [Record<string, string>, string[]][] = [
    [{}, ["istio http://127.0.0.1:15020/quitquitquit"]],
    [{ IQQQ_SIDECARS: "linkerd" }, ["linkerd http://127.0.0.1:4191/shutdown"]],
    [
      { IQQQ_SIDECARS: "cloudsql, envoy" },
      ["cloudsql http://127.0.0.1:9091/quitquitquit", "envoy http://127.0.0.1:15000/quitquitquit"],
    ],
    [{ IQQQ_SIDECARS: "ISTIO,istio" }, ["istio http://127.0.0.1:15020/quitquitquit"]],
    [{ IQQQ_SIDECARS: "istio-legacy" }, ["istio-legacy pilot-agent"]],
    [
      {
        IQQQ_SIDECARS: "envoy,linkerd,cloudsql",
        ENVOY_ADMIN_PORT: "9901",
        LINKERD_ADMIN_PORT: "4192",
        CLOUDSQL_ADMIN_PORT: "9092",
      },
      [
        "envoy http://127.0.0.1:9901/quitquitquit",
        "linkerd http://127.0.0.1:4192/shutdown",
        "cloudsql http://127.0.0.1:9092/quitquitquit",
      ],
    ],
    // auto: every kind of the catalogue, at its default port.
    [
      { IQQQ_SIDECARS: "auto" },
      (SIDECARS as readonly HttpSidecar[]).map(
        (k) => `${k.name} http://127.0.0.1:${k.port.default}/${k.quitPath} optional`,
      ),
    ],
    // Each kind alone, at its default port and at the port its variable gives.
    ...(SIDECARS as readonly HttpSidecar[]).flatMap((k): [Record<string, string>, string[]][] => [
      [{ IQQQ_SIDECARS: k.name }, [`${k.name} http://127.0.0.1:${k.port.default}/${k.quitPath}`]],
      [{ IQQQ_SIDECARS: k.name, [k.port.variable]: "1234" }, [`${k.name} http://127.0.0.1:1234/${k.quitPath}`]],
    ]),
    // A local ENVOY_ADMIN_API is stopped when no Istio quit API applies...
    [
      { IQQQ_SIDECARS: "linkerd", ENVOY_ADMIN_API: "http://[::1]:9901" },
      ["linkerd http://127.0.0.1:4191/shutdown", "envoy http://[::1]:9901/quitquitquit"],
    ],
    [
      { IQQQ_SIDECARS: "envoy", ENVOY_ADMIN_API: "http://localhost:9901/" },
      ["envoy http://localhost:9901/quitquitquit"],
    ],
    // ...but not when Istio's applies, nor when it is not loopback.
    [{ ENVOY_ADMIN_API: "http://127.0.0.1:15000" }, ["istio http://127.0.0.1:15020/quitquitquit"]],
    [
      { IQQQ_SIDECARS: "linkerd", ENVOY_ADMIN_API: "http://10.0.0.1:15000" },
      ["linkerd http://127.0.0.1:4191/shutdown"],
    ],
  ];
  for (const [env, expected] of rows) {
    test(JSON.stringify(env), () => assert.deepEqual(targets(config([], { ...K8S, ...env })), expected));
  }
  test("ISTIO_FALLBACK_PKILL", () => {
    assert.equal(config([], { ...K8S, ISTIO_FALLBACK_PKILL: "true" }).stop.pkillFallback, true);
    assert.equal(config([], K8S).stop.pkillFallback, false);
  });
});

describe("readiness gate", () => {
  const ready = (env: Record<string, string>, argv = ["job"]) => config(argv, { ...K8S, ...env }).ready;
  test("none by default", () => assert.equal(ready({}), undefined));
  test("ENVOY_ADMIN_API waits for /server_info LIVE, no time limit", () => {
    assert.deepEqual(ready({ ENVOY_ADMIN_API: "http://127.0.0.1:15000" }), {
      checks: [{ name: "envoy", url: new URL("http://127.0.0.1:15000/server_info"), expectLive: true }],
      timeoutMs: undefined,
      onTimeout: "start",
    });
  });
  test("IQQQ_WAIT_FOR=istio,linkerd,envoy", () => {
    const r = ready({ IQQQ_WAIT_FOR: "istio, linkerd,envoy", ISTIO_READY_PORT: "15121", ENVOY_ADMIN_PORT: "9901" });
    assert.deepEqual(
      r?.checks.map((c) => `${c.name} ${c.url.href} ${c.expectLive}`),
      [
        "istio http://127.0.0.1:15121/healthz/ready false",
        "linkerd http://127.0.0.1:4191/ready false",
        "envoy http://127.0.0.1:9901/ready false",
      ],
    );
  });
  test("WAIT_FOR_ENVOY_TIMEOUT starts anyway; QUIT_WITHOUT_ENVOY_TIMEOUT wins and quits", () => {
    const base = { ENVOY_ADMIN_API: "http://127.0.0.1:15000" };
    assert.deepEqual(
      [
        ready({ ...base, WAIT_FOR_ENVOY_TIMEOUT: "10s" })?.timeoutMs,
        ready({ ...base, WAIT_FOR_ENVOY_TIMEOUT: "10s" })?.onTimeout,
      ],
      [10_000, "start"],
    );
    const both = ready({ ...base, WAIT_FOR_ENVOY_TIMEOUT: "10s", QUIT_WITHOUT_ENVOY_TIMEOUT: "3s" });
    assert.deepEqual([both?.timeoutMs, both?.onTimeout], [3000, "quit"]);
    assert.equal(ready({ ...base, WAIT_FOR_ENVOY_TIMEOUT: "0" })?.timeoutMs, undefined);
  });
  test("START_WITHOUT_ENVOY skips the wait but not the stop", () => {
    const c = config(["job"], { ...K8S, ENVOY_ADMIN_API: "http://127.0.0.1:15000", START_WITHOUT_ENVOY: "true" });
    assert.equal(c.ready, undefined);
    assert.equal(c.stop.skipReason, undefined);
  });
  test("outside Kubernetes iqqq does not wait (pass-through)", () => {
    assert.equal(config(["job"], { ENVOY_ADMIN_API: "http://127.0.0.1:15000" }).ready, undefined);
  });
});

describe("scuttle drop-in (invoked as scuttle)", () => {
  const scuttle = (env: Record<string, string>, argv = ["job"]): Config => {
    const command = parseConfig(argv, env, "scuttle", ENGINES);
    assert.ok(!(command instanceof UsageError) && "config" in command);
    return command.config;
  };
  test("nothing is stopped unless ENVOY_ADMIN_API is set and local", () => {
    assert.equal(
      scuttle({ ISTIO_QUIT_API: "http://127.0.0.1:15020" }).stop.skipReason,
      "ENVOY_ADMIN_API is not set (scuttle)",
    );
    assert.equal(
      scuttle({ ENVOY_ADMIN_API: "http://envoy.test:15000" }).stop.skipReason,
      "ENVOY_ADMIN_API is not a loopback address (scuttle)",
    );
    assert.equal(scuttle({ ENVOY_ADMIN_API: "http://[::1]:15000" }).stop.skipReason, undefined);
  });
  test("no Kubernetes check, as scuttle", () => {
    const c = scuttle({ ENVOY_ADMIN_API: "http://127.0.0.1:15000" });
    assert.equal(c.stop.skipReason, undefined);
    assert.equal(c.ready?.checks[0]?.url.href, "http://127.0.0.1:15000/server_info");
  });
  test("ISTIO_QUIT_API, else Envoy's quit and the pkill fallback; generic endpoints first", () => {
    const api = scuttle({
      ENVOY_ADMIN_API: "http://127.0.0.1:15000",
      ISTIO_QUIT_API: "http://127.0.0.1:15020",
      GENERIC_QUIT_ENDPOINTS: "http://127.0.0.1:1/x",
    });
    assert.deepEqual(targets(api), ["istio http://127.0.0.1:15020/quitquitquit"]);
    assert.equal(api.stop.genericFirst, true);
    assert.deepEqual(targets(scuttle({ ENVOY_ADMIN_API: "http://127.0.0.1:15000" })), [
      "envoy http://127.0.0.1:15000/quitquitquit",
      "istio-legacy pilot-agent",
    ]);
  });
  test("bad values are ignored with a warning, as scuttle does", () => {
    const c = scuttle({
      ENVOY_ADMIN_API: "http://127.0.0.1:15000",
      NEVER_KILL_ISTIO: "maybe",
      WAIT_FOR_ENVOY_TIMEOUT: "soon",
    });
    assert.deepEqual(c.warnings, [
      'NEVER_KILL_ISTIO="maybe" is invalid: expected true, false, 1, 0, yes or no; ignored, as scuttle does',
      'WAIT_FOR_ENVOY_TIMEOUT="soon" is invalid: expected a duration such as "500ms", "10s" or "1m30s"; ignored, as scuttle does',
    ]);
    assert.equal(c.stop.skipReason, undefined);
    assert.equal(c.ready?.timeoutMs, undefined);
  });
  test("the never-kill flags", () => {
    const base = { ENVOY_ADMIN_API: "http://127.0.0.1:15000" };
    assert.equal(scuttle({ ...base, NEVER_KILL_ISTIO: "true" }).stop.skipReason, "NEVER_KILL_ISTIO is true");
    assert.equal(scuttle({ ...base, NEVER_KILL_ISTIO_ON_FAILURE: "true" }).stop.skipOnFailure, true);
  });
  test("any other name is iqqq", () => {
    for (const name of ["iqqq", "istio_quitquitquit", "scuttle.old", "iqqq-linux-x64"]) {
      const c = parseConfig([], {}, name, ENGINES);
      assert.ok(!(c instanceof UsageError) && "config" in c && c.config.flavour === "iqqq", name);
    }
  });
});

describe("watcher mode and plugins", () => {
  test("no PROGRAM and IQQQ_WATCH_PROCESS: watcher mode", () => {
    const c = config([], { IQQQ_WATCH_PROCESS: "airflow", IQQQ_WATCH_START_TIMEOUT: "10m" });
    assert.deepEqual(c.watch, { name: "airflow", names: ["airflow"], pattern: undefined, startTimeoutMs: 600_000 });
  });
  test("IQQQ_WATCH_PROCESS with several names, comma-separated; an empty one is a bad value", () => {
    assert.deepEqual(config([], { IQQQ_WATCH_PROCESS: "extract,load" }).watch?.names, ["extract", "load"]);
    const err = usageError([], { IQQQ_WATCH_PROCESS: "extract,,load" });
    assert.match(err.problems[0] ?? "", /IQQQ_WATCH_PROCESS="extract,,load" is invalid: expected process names/);
  });
  test("IQQQ_WATCH_PATTERN alone", () => {
    assert.equal(config([], { IQQQ_WATCH_PATTERN: "^python3? -m etl" }).watch?.pattern?.source, "^python3? -m etl");
  });
  test("with a PROGRAM the watch variables are ignored, with a warning", () => {
    const c = config(["job"], { IQQQ_WATCH_PROCESS: "airflow" });
    assert.equal(c.watch, undefined);
    assert.match(c.warnings.join("\n"), /IQQQ_WATCH_PROCESS\/IQQQ_WATCH_PATTERN are ignored/);
  });
  test("IQQQ_PLUGINS then WRAPPER_PLUGIN_PATH, each once, with the timeout", () => {
    const c = config([], { IQQQ_PLUGINS: " a.mjs , b.mjs", WRAPPER_PLUGIN_PATH: "a.mjs", IQQQ_PLUGIN_TIMEOUT: "2s" });
    assert.deepEqual(c.plugins, { paths: ["a.mjs", "b.mjs"], timeoutMs: 2000, budgetMs: 10_000 });
    assert.deepEqual(config([], {}).plugins, { paths: [], timeoutMs: 5000, budgetMs: 10_000 });
  });
});
