// podman as the machine has it. scripts/release.mjs and scripts/check-release.mjs
// run every podman command through the podman that choosePodman() returns: the
// machine's own (its runtime, its cgroup manager, its containers.conf), unless a
// probe with those fails; only then the fallback, said on stderr: runc (crun
// refuses hybrid cgroup v1/v2 hierarchies), the cgroupfs manager (no systemd to
// ask) and scripts/podman-fallback.conf (no default ulimits), as a root build box
// inside a container needs.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const FALLBACK_CONF = fileURLToPath(new URL("podman-fallback.conf", import.meta.url));
const FALLBACK_ARGS = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

/**
 * @typedef {(args: string[], options?: import("node:child_process").SpawnSyncOptions) =>
 *   import("node:child_process").SpawnSyncReturns<string>} Podman
 */

/** A podman with `globals` before every command and `env` added to the environment. */
function podmanWith(globals, env) {
  /** @type {Podman & { settings: string }} */
  const podman = (args, options = {}) =>
    spawnSync("podman", [...globals, ...args], {
      encoding: "utf8",
      ...options,
      env: { ...process.env, ...options.env, ...env },
    });
  podman.settings = globals.length === 0 ? "the machine's defaults" : `${globals.join(" ")}, ${FALLBACK_CONF}`;
  return podman;
}

export const defaultPodman = podmanWith([], {});
export const fallbackPodman = podmanWith(FALLBACK_ARGS, { CONTAINERS_CONF: FALLBACK_CONF });

/**
 * The podman to use: `probe(podman)` is tried with the machine's defaults, then,
 * only if it fails, with the fallback. The probe must start a container (a build
 * without RUN steps never calls the runtime) and may be repeated. It returns
 * undefined on success, else what went wrong. Throws when neither works.
 * @param {string} who  the script's name, for messages
 * @param {(podman: Podman) => string | undefined} probe
 */
export function choosePodman(who, probe) {
  const failed = probe(defaultPodman);
  if (failed === undefined) return defaultPodman;
  if (spawnSync("runc", ["--version"], { stdio: "ignore" }).status !== 0) {
    throw new Error(
      `${who}: podman fails with this machine's defaults, and there is no runc to try instead: ${failed}`,
    );
  }
  const again = probe(fallbackPodman);
  if (again !== undefined) {
    throw new Error(
      `${who}: podman fails with this machine's defaults (${failed.trim()}) and with runc, cgroupfs and no default ulimits (${again.trim()})`,
    );
  }
  console.error(
    `${who}: podman could not start a container with this machine's defaults (${failed.trim()});\n` +
      `${who}: using ${fallbackPodman.settings} instead`,
  );
  return fallbackPodman;
}

/** A failed podman command's own words, or undefined when it succeeded. */
export function failure(result) {
  if (result.status === 0) return undefined;
  const said = `${result.stderr ?? ""}`.trim().split("\n").slice(-3).join(" ");
  return `podman exited ${result.status ?? result.signal}${said === "" ? "" : `: ${said}`}${result.error ? ` (${result.error.message})` : ""}`;
}
