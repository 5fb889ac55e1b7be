// scripts/podman.mjs: npm run release and release:check use podman as the
// machine has it, and the fallback (runc, cgroupfs, no default ulimits) only
// when a probe with the defaults fails, saying so on stderr. Run in a child
// Node with a stand-in `podman` first on PATH that prints what it was given and
// fails or succeeds as told, so what each choice passes to podman is seen.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ROOT } from "../support/cli.js";

const work = mkdtempSync(join(tmpdir(), "iqqq-podman-"));
after(() => rmSync(work, { recursive: true, force: true }));
const bin = join(work, "bin");
mkdirSync(bin);
// Fails (as podman does on a box whose limits it cannot set) unless given the fallback, when FALLBACK_WORKS.
writeFileSync(
  join(bin, "podman"),
  `#!/bin/sh
echo "podman $* CONTAINERS_CONF=\${CONTAINERS_CONF:-}" >> "${work}/calls"
case " $* " in
  *" --runtime runc "*) [ -n "\${FALLBACK_WORKS:-}" ] && exit 0 ;;
  *) [ -n "\${DEFAULT_WORKS:-}" ] && exit 0 ;;
esac
echo "Error: runc: runc create failed: error setting rlimit type 7: operation not permitted" >&2
exit 126
`,
  { mode: 0o755 },
);
writeFileSync(join(bin, "runc"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });

const CHOOSE = `
const { choosePodman, failure, fallbackPodman } = await import(${JSON.stringify(join(ROOT, "scripts/podman.mjs"))});
try {
  const podman = choosePodman("release", (p) => failure(p(["run", "--rm", "probe"])));
  podman(["save", "image"]);
  console.log(podman === fallbackPodman ? "fallback" : "default");
} catch (error) {
  console.log("neither: " + error.message);
}
`;

function choose(env: Record<string, string>) {
  rmSync(join(work, "calls"), { force: true });
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", CHOOSE], {
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, ...env },
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(join(work, "calls"), "utf8").trim().split("\n");
  } catch {}
  return { stdout: r.stdout.trim(), stderr: r.stderr, calls };
}

const CONF = join(ROOT, "scripts/podman-fallback.conf");

test("podman works as the machine has it: the defaults, nothing else passed, nothing said", () => {
  const r = choose({ DEFAULT_WORKS: "1" });
  assert.equal(r.stdout, "default");
  assert.equal(r.stderr, "");
  assert.deepEqual(r.calls, ["podman run --rm probe CONTAINERS_CONF=", "podman save image CONTAINERS_CONF="]);
});

test("the defaults cannot start a container: the fallback, said on stderr with podman's own words, used from then on", () => {
  const r = choose({ FALLBACK_WORKS: "1" });
  assert.equal(r.stdout, "fallback");
  assert.match(
    r.stderr,
    /^release: podman could not start a container with this machine's defaults \(podman exited 126: Error: runc: runc create failed: error setting rlimit type 7/,
  );
  assert.match(
    r.stderr,
    /release: using --runtime runc --cgroup-manager cgroupfs, .*scripts\/podman-fallback\.conf instead\n$/,
  );
  const fallback = `--runtime runc --cgroup-manager cgroupfs`;
  assert.deepEqual(r.calls, [
    "podman run --rm probe CONTAINERS_CONF=",
    `podman ${fallback} run --rm probe CONTAINERS_CONF=${CONF}`,
    `podman ${fallback} save image CONTAINERS_CONF=${CONF}`,
  ]);
});

test("neither works: an error naming both failures", () => {
  const r = choose({});
  assert.match(
    r.stdout,
    /^neither: release: podman fails with this machine's defaults \(podman exited 126: .*\) and with runc, cgroupfs and no default ulimits \(podman exited 126: /,
  );
});

test("the fallback's file is the repository's own, and only empties the default ulimits", () => {
  const settings = readFileSync(CONF, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"));
  assert.deepEqual(settings, ["[containers]", "default_ulimits = []"]);
});
