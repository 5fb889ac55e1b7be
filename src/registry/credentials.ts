// Registry credentials, as podman and Docker store them: base64(user:password)
// for a registry host, from auth.json or config.json. Credential helpers
// (credHelpers, credsStore) are not run.

import type { Env } from "../io.js";
import { builtin } from "../runtime/builtins.js";

/**
 * base64(user:password) for a registry, from the first file that has it:
 * $REGISTRY_AUTH_FILE, podman's $XDG_RUNTIME_DIR/containers/auth.json,
 * $DOCKER_CONFIG/config.json, ~/.docker/config.json.
 */
export function credentialsFor(registry: string, env: Env): string | undefined {
  const home = env.HOME ?? "";
  const files = [
    env.REGISTRY_AUTH_FILE,
    env.XDG_RUNTIME_DIR && `${env.XDG_RUNTIME_DIR}/containers/auth.json`,
    env.DOCKER_CONFIG && `${env.DOCKER_CONFIG}/config.json`,
    home && `${home}/.docker/config.json`,
  ].filter((f): f is string => typeof f === "string" && f !== "");
  const wanted =
    registry === "registry-1.docker.io" ? ["docker.io", "index.docker.io", "registry-1.docker.io"] : [registry];
  for (const file of files) {
    let auths: Record<string, { auth?: string; username?: string; password?: string }>;
    try {
      auths = (JSON.parse(builtin("node:fs").readFileSync(file, "utf8")) as { auths?: typeof auths }).auths ?? {};
    } catch {
      continue;
    }
    for (const [key, entry] of Object.entries(auths)) {
      const host = key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
      if (!wanted.includes(host)) continue;
      if (entry.auth) return entry.auth;
      if (entry.username !== undefined && entry.password !== undefined)
        return Buffer.from(`${entry.username}:${entry.password}`).toString("base64");
    }
  }
  return undefined;
}
