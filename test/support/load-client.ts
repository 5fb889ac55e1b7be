// The Go load client (bench/webhook-load): it POSTs one AdmissionReview many
// times at once over TLS, as the API server's own Go client calls a webhook,
// and prints what it saw as JSON. The webhook's handshake-order test and
// npm run bench:webhook both run it; built here with the machine's Go,
// offline (its module has no dependencies).

import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { ROOT } from "./cli.js";

export const LOAD_CLIENT = `${ROOT}build/webhook-load/webhook-load`;

/** Builds LOAD_CLIENT; throws with Go's words when it cannot. */
export function buildLoadClient(): void {
  mkdirSync(`${ROOT}build/webhook-load`, { recursive: true });
  const built = spawnSync("go", ["build", "-o", LOAD_CLIENT, "."], {
    cwd: `${ROOT}bench/webhook-load`,
    env: { ...process.env, GOFLAGS: "-mod=mod", GO111MODULE: "on", GOPROXY: "off" },
    encoding: "utf8",
  });
  if (built.error !== undefined || built.status !== 0)
    throw new Error(
      `building the Go load client failed (apt-get install golang-go): ${built.error?.message ?? built.stderr}`,
    );
}
