// Every common sidecar, several at once, auto detection, the legacy pkill, and
// the scuttle drop-in, on the built CLI.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type HttpKind, type HttpSidecar, SIDECARS } from "../../src/sidecar/catalogue.js";
import { CLI, cliEnv, FIXTURES, NODE, runCli } from "../support/cli.js";
import { closedPort, fakeSidecars, K8S } from "../support/sidecars.js";

const sidecar = fakeSidecars();

describe("each sidecar kind's endpoint", () => {
  test("every kind of the catalogue, all at once, each with its own method, path and answer", async () => {
    const kinds = SIDECARS as readonly HttpSidecar[];
    const fakes = await Promise.all(kinds.map((k) => sidecar({ kind: k.name as HttpKind })));
    const r = await runCli(["sh", "-c", "exit 6"], {
      env: {
        ...K8S,
        IQQQ_SIDECARS: kinds.map((k) => k.name).join(","),
        ...Object.fromEntries(kinds.map((k, i) => [k.port.variable, String(fakes[i]?.port)])),
        IQQQ_LOG_LEVEL: "info",
      },
    });
    assert.equal(r.status, 6, r.stderr);
    for (const [i, k] of kinds.entries()) {
      const s = fakes[i] as (typeof fakes)[number];
      assert.deepEqual(
        s.requests.map((q) => `${q.method} ${q.path}`),
        [`POST /${k.quitPath}`],
        k.name,
      );
      assert.equal(s.quits(), 1, k.name);
      assert.match(
        r.stderr,
        new RegExp(`stopped ${k.name}: POST http://127\\.0\\.0\\.1:${s.port}/${k.quitPath} → ${k.answer.status}`),
      );
    }
  });

  test("a kind with an API token (Dapr's): its stop carries the token from the container's variable, to it alone", async () => {
    const kinds = (SIDECARS as readonly HttpSidecar[]).filter((k) => k.token !== undefined);
    assert.ok(kinds.length > 0);
    for (const k of kinds) {
      const token = k.token as NonNullable<HttpSidecar["token"]>;
      const secret = "s3cr3t-T0ken_value";
      const run = async (value: string | undefined) => {
        const guarded = await sidecar({ kind: k.name as HttpKind, token: secret });
        const other = await sidecar({ kind: "istio" });
        const r = await runCli(["true"], {
          env: {
            ...K8S,
            IQQQ_SIDECARS: `${k.name},istio`,
            [k.port.variable]: String(guarded.port),
            ISTIO_PORT: String(other.port),
            IQQQ_QUIT_TIMEOUT: "1s",
            IQQQ_LOG_LEVEL: "debug",
            ...(value === undefined ? {} : { [token.variable]: value }),
          },
        });
        // The token goes to this kind's endpoint only, and never into a log line.
        assert.equal(other.requests[0]?.headers[token.header], undefined);
        assert.doesNotMatch(r.stderr, new RegExp(secret));
        return { r, guarded };
      };
      const right = await run(secret);
      assert.equal(right.r.status, 0, right.r.stderr);
      assert.equal(right.guarded.quits(), 1, right.r.stderr);
      assert.equal(right.guarded.requests[0]?.headers[token.header], secret);
      const unset = await run(undefined);
      assert.equal(unset.guarded.quits(), 0);
      assert.match(unset.r.stderr, new RegExp(`give the container ${token.variable} from the same secret`));
      const wrong = await run("another");
      assert.equal(wrong.guarded.quits(), 0);
      // A value no header can carry is not sent, and the warning names the variable, not the value.
      const broken = await run(`${secret}\r\nX-Injected: 1`);
      assert.equal(broken.guarded.quits(), 0);
      assert.equal(broken.guarded.requests[0]?.headers["x-injected"], undefined);
      assert.match(broken.r.stderr, new RegExp(`${token.variable} holds what an HTTP header cannot carry`));
    }
  });

  test("a kind whose stop endpoint must be switched on: a refusal says how to switch it on", async () => {
    for (const k of (SIDECARS as readonly HttpSidecar[]).filter((k) => k.quitSwitch !== undefined)) {
      const off = await sidecar({ kind: k.name as HttpKind, quit: [{ status: 404, body: "404 page not found\n" }] });
      const r = await runCli([], { env: { ...K8S, IQQQ_SIDECARS: k.name, [k.port.variable]: String(off.port) } });
      assert.equal(r.status, 1, k.name);
      assert.ok(r.stderr.includes(k.quitSwitch?.how ?? "?"), `${k.name}: ${r.stderr}`);
    }
  });

  test("Linkerd's disabled shutdown endpoint gets a clear hint; standalone exits 1", async () => {
    const linkerd = await sidecar({ kind: "linkerd", shutdownDisabled: true });
    const r = await runCli([], { env: { ...K8S, IQQQ_SIDECARS: "linkerd", LINKERD_ADMIN_PORT: String(linkerd.port) } });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /404 "shutdown endpoint is not enabled": enable it with .*LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED/,
    );
  });

  test("a local ENVOY_ADMIN_API is stopped through its own /quitquitquit when Istio's API does not apply", async () => {
    const envoy = await sidecar({ kind: "envoy", host: "::1" });
    const linkerd = await sidecar({ kind: "linkerd" });
    const r = await runCli(["true"], {
      env: {
        ...K8S,
        IQQQ_SIDECARS: "linkerd",
        LINKERD_ADMIN_PORT: String(linkerd.port),
        ENVOY_ADMIN_API: `http://[::1]:${envoy.port}`,
        START_WITHOUT_ENVOY: "true",
      },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(envoy.quits(), 1);
    assert.equal(linkerd.quits(), 1);
  });
});

describe("IQQQ_SIDECARS=auto", () => {
  test("stops whichever known port answers, quietly skipping the others", async () => {
    const linkerd = await sidecar({ kind: "linkerd" });
    const cloudsql = await sidecar({ kind: "cloudsql" });
    const env = {
      ...K8S,
      IQQQ_SIDECARS: "auto",
      ISTIO_PORT: String(await closedPort()),
      ENVOY_ADMIN_PORT: String(await closedPort()),
      LINKERD_ADMIN_PORT: String(linkerd.port),
      CLOUDSQL_ADMIN_PORT: String(cloudsql.port),
    };
    const r = await runCli([], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "auto must not warn about kinds that are not there");
    assert.equal(linkerd.quits(), 1);
    assert.equal(cloudsql.quits(), 1);
  });

  test("nothing listening at all: standalone exits 69", async () => {
    const ports = await Promise.all([closedPort(), closedPort(), closedPort(), closedPort()]);
    const r = await runCli([], {
      env: {
        ...K8S,
        IQQQ_SIDECARS: "auto",
        ISTIO_PORT: String(ports[0]),
        ENVOY_ADMIN_PORT: String(ports[1]),
        LINKERD_ADMIN_PORT: String(ports[2]),
        CLOUDSQL_ADMIN_PORT: String(ports[3]),
      },
    });
    assert.equal(r.status, 69);
  });
});

const canUnshare =
  process.getuid?.() === 0 && spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "true"]).status === 0;

/** Runs iqqq standalone in a fresh PID namespace beside a process named pilot-agent. */
function withPilotAgent(env: Record<string, string>): { agent: string; iqqq: string; log: string } {
  const script = `
    dir=$(mktemp -d)
    (exec -a pilot-agent "${NODE}" "${FIXTURES}pilot-agent.js" > "$dir/agent") &
    agent=$!
    i=0; until grep -q ready "$dir/agent"; do i=$((i+1)); [ $i -lt 200 ] || exit 90; sleep 0.05; done
    "${CLI}" 2> "$dir/iqqq.err"; echo "iqqq=$?"
    wait $agent; echo "agent=$?"
    cat "$dir/agent" "$dir/iqqq.err"`;
  const r = spawnSync("unshare", ["--pid", "--fork", "--mount-proc", "bash", "-c", script], {
    env: cliEnv(env),
    encoding: "utf8",
    timeout: 20_000,
  });
  return {
    iqqq: /iqqq=(\d+)/.exec(r.stdout)?.[1] ?? "?",
    agent: /agent=(\d+)/.exec(r.stdout)?.[1] ?? "?",
    log: r.stdout + r.stderr,
  };
}

describe("Istio ≤ 1.2: SIGINT to pilot-agent, found in /proc", {
  skip: canUnshare ? false : "needs root and unshare(1)",
}, () => {
  test("IQQQ_SIDECARS=istio-legacy signals the process named pilot-agent", () => {
    const r = withPilotAgent({ ...K8S, IQQQ_SIDECARS: "istio-legacy", IQQQ_LOG_LEVEL: "info" });
    assert.equal(r.iqqq, "0", r.log);
    assert.equal(r.agent, "0", r.log);
    assert.match(r.log, /pilot-agent: SIGINT/);
    assert.match(r.log, /stopped istio-legacy: sent SIGINT to pilot-agent/);
  });

  test("ISTIO_FALLBACK_PKILL: when the quit request fails, pilot-agent gets SIGINT", () => {
    const r = withPilotAgent({ ...K8S, ISTIO_PORT: "1", ISTIO_FALLBACK_PKILL: "true" });
    assert.equal(r.iqqq, "0", r.log);
    assert.match(r.log, /pilot-agent: SIGINT/);
  });

  test("no pilot-agent visible: a clear warning about shareProcessNamespace", async () => {
    const r = await runCli([], { env: { ...K8S, IQQQ_SIDECARS: "istio-legacy" } });
    assert.equal(r.status, 69);
    assert.match(r.stderr, /no process named pilot-agent is visible.*shareProcessNamespace: true/);
  });
});

describe("invoked as scuttle", () => {
  async function scuttle(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "iqqq-scuttle-"));
    await symlink(CLI, join(dir, "scuttle"));
    return dir;
  }
  const run = async ([name, ...args]: string[], env: Record<string, string>) => {
    const dir = await scuttle();
    return runCli(args, { env, executable: join(dir, name ?? "scuttle") });
  };

  test("nothing is stopped unless ENVOY_ADMIN_API is set (even in Kubernetes, with ISTIO_QUIT_API)", async () => {
    const istio = await sidecar();
    const r = await run(["scuttle", "sh", "-c", "exit 2"], {
      ...K8S,
      ISTIO_QUIT_API: istio.url,
      SCUTTLE_LOGGING: "true",
    });
    assert.equal(r.status, 2);
    assert.equal(istio.requests.length, 0);
    assert.match(r.stderr, /ENVOY_ADMIN_API is not set \(scuttle\)/);
  });

  test("waits for LIVE, runs, then the generic endpoints first and Istio's quit API — without Kubernetes", async () => {
    const envoy = await sidecar({
      kind: "envoy",
      ready: (() => {
        const t = Date.now();
        return () => Date.now() - t > 300;
      })(),
    });
    const istio = await sidecar();
    const generic = await sidecar({ kind: "cloudsql" });
    const r = await run(["scuttle", "sh", "-c", "echo job; exit 0"], {
      ENVOY_ADMIN_API: envoy.url,
      ISTIO_QUIT_API: istio.url,
      GENERIC_QUIT_ENDPOINTS: `${generic.url}/quitquitquit`,
      SCUTTLE_LOGGING: "true",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.toString(), "job\n", "scuttle's logs must not reach stdout");
    assert.match(r.stderr, /^iqqq: /m);
    assert.equal(istio.quits(), 1);
    assert.equal(generic.quits(), 1);
    assert.ok((generic.requests[0]?.at ?? Infinity) <= (istio.requests[0]?.at ?? 0), "generic endpoints go first");
  });

  test("no ISTIO_QUIT_API: Envoy's own /quitquitquit; pilot-agent's absence is no warning when Envoy stopped", async () => {
    const envoy = await sidecar({ kind: "envoy" });
    const r = await run(["scuttle", "true"], { ENVOY_ADMIN_API: envoy.url });
    assert.equal(r.status, 0);
    assert.equal(envoy.quits(), 1);
    assert.equal(r.stderr, "");
    const again = await sidecar({ kind: "envoy" });
    const debug = await run(["scuttle", "true"], { ENVOY_ADMIN_API: again.url, IQQQ_LOG_LEVEL: "debug" });
    assert.match(debug.stderr, /no process named pilot-agent is visible \(no shareProcessNamespace\)/);
  });

  test("keeps iqqq's fixes: 143 not 255, 127 not a panic, and the stop still happens", async () => {
    const envoy = await sidecar({ kind: "envoy", stayAfterQuit: true });
    const env = { ENVOY_ADMIN_API: envoy.url, ISTIO_QUIT_API: envoy.url };
    assert.equal((await run(["scuttle", "sh", "-c", "kill -TERM $$"], env)).status, 143);
    const missing = await run(["scuttle", "no-such-job-x"], env);
    assert.equal(missing.status, 127);
    assert.equal(envoy.quits(), 2);
  });

  test("a malformed ISTIO_QUIT_API is ignored with a warning: Envoy is stopped instead, the status is kept", async () => {
    const envoy = await sidecar({ kind: "envoy" });
    const r = await run(["scuttle", "sh", "-c", "exit 5"], {
      ENVOY_ADMIN_API: envoy.url,
      ISTIO_QUIT_API: "127.0.0.1:15020",
    });
    assert.equal(r.status, 5);
    assert.match(r.stderr, /ISTIO_QUIT_API="127\.0\.0\.1:15020" is invalid/);
    assert.equal(envoy.quits(), 1);
  });

  test("invalid values are ignored with a warning, as scuttle does", async () => {
    const envoy = await sidecar({ kind: "envoy" });
    const r = await run(["scuttle", "true"], {
      ENVOY_ADMIN_API: envoy.url,
      ISTIO_QUIT_API: envoy.url,
      NEVER_KILL_ISTIO: "maybe",
    });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /warning: NEVER_KILL_ISTIO="maybe" is invalid: .*; ignored, as scuttle does/);
    assert.equal(envoy.quits(), 1);
  });
});

describe("--explain", () => {
  test("prints the plan with every URL and limit, runs nothing, exits 0", async () => {
    const r = await runCli(["--explain", "sh", "-c", "touch /nonexistent/should-not-run"], {
      env: {
        ...K8S,
        IQQQ_SIDECARS: "istio,linkerd",
        ENVOY_ADMIN_API: "http://127.0.0.1:15000",
        QUIT_WITHOUT_ENVOY_TIMEOUT: "30s",
      },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(out, /GET http:\/\/127\.0\.0\.1:15000\/server_info until 200 with "state": "LIVE", 500ms per request/);
    assert.match(out, /at most 30s, then do not start the program, stop the sidecars, exit 75/);
    assert.match(out, /run \["sh","-c","touch \/nonexistent\/should-not-run"\]/);
    assert.match(out, /POST http:\/\/127\.0\.0\.1:15020\/quitquitquit \(istio: Istio's pilot-agent/);
    assert.match(out, /POST http:\/\/127\.0\.0\.1:4191\/shutdown \(linkerd: Linkerd/);
    assert.match(out, /within 5s in all \(IQQQ_QUIT_TIMEOUT\), 2s per request/);
  });
  test("names a bad variable and exits 78", async () => {
    const r = await runCli(["--explain"], { env: { IQQQ_SIDECARS: "consul" } });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /IQQQ_SIDECARS="consul" is invalid/);
  });
});
