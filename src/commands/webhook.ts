// iqqq webhook [options]: its flag table, then the server (webhook/server.ts).
// Loaded only for this command.

import { EXIT } from "../exit-status.js";
import type { Env, Io } from "../io.js";
import { badAllowEntry } from "../registry/network.js";
import { INJECT_LABEL } from "../webhook/review.js";
import { FlagError, flag, flagHelp, flagSynopsis, portFlag, readCommandLine } from "./flags.js";
import { INJECTION, noImage } from "./shared.js";

const CERT = flag({
  name: "cert",
  value: "FILE",
  help: "the serving certificate (PEM); default $default",
  shownDefault: "/etc/iqqq-webhook/tls.crt",
  default: (): string => "/etc/iqqq-webhook/tls.crt",
  parse: (raw): string => raw,
});

const KEY = flag({
  name: "key",
  value: "FILE",
  help: "its private key (PEM); default $default",
  shownDefault: "/etc/iqqq-webhook/tls.key",
  default: (): string => "/etc/iqqq-webhook/tls.key",
  parse: (raw): string => raw,
});

const PORT = portFlag("port", "the HTTPS port; default $default (0: any free one, logged)", 8443);

const METRICS_PORT = portFlag(
  "metrics-port",
  "serve GET /metrics (Prometheus text) over plain HTTP on this\nport (0: any free one, logged); default: not served",
  undefined,
);

const PULL_SECRETS = flag({
  name: "pull-secrets",
  value: "off|read",
  help: "read: look images up with the pod's imagePullSecrets, read\nfrom the Kubernetes API (the service account must be allowed\nto get Secrets: deploy/pull-secrets/); default $default",
  shownDefault: "off",
  default: (): boolean => false,
  parse: (raw): boolean => {
    if (raw !== "off" && raw !== "read") throw new FlagError("expected off or read");
    return raw === "read";
  },
});

const ALLOW_REGISTRY = flag({
  name: "allow-registry",
  value: "LIST",
  help: "registries (HOST or HOST:PORT) and address ranges (CIDR),\ncomma-separated, that may be contacted at a loopback, private\nor link-local address; others only at public addresses;\nmay be given more than once",
  default: (): readonly string[] => [],
  parse: (raw, previous): readonly string[] => {
    const entries = raw
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "");
    const bad = badAllowEntry(entries);
    if (bad !== undefined)
      throw new FlagError(
        `${JSON.stringify(bad)} is neither a registry (HOST or HOST:PORT) nor an address range (CIDR)`,
      );
    return [...previous, ...entries];
  },
});

const DRAIN = flag({
  name: "drain",
  value: "SECONDS",
  help: "after SIGTERM, go on answering reviews this long while\n/readyz says 503; default $default",
  shownDefault: "10",
  default: (): number => 10_000,
  parse: (raw): number => {
    if (!/^\d+(?:\.\d+)?$/.test(raw) || Number(raw) > 600) throw new FlagError("expected seconds, 0 to 600");
    return Number(raw) * 1000;
  },
});

export const FLAGS = [...INJECTION, CERT, KEY, PORT, METRICS_PORT, ALLOW_REGISTRY, PULL_SECRETS, DRAIN] as const;

export const WEBHOOK_USAGE = `Usage: iqqq webhook ${flagSynopsis(FLAGS)}
A mutating admission webhook: injects iqqq (as iqqq inject does) into every pod
labelled ${INJECT_LABEL}=true (or =wrapper, =watcher) that the API server sends it,
and into those sent to /inject/namespace (their namespace is labelled
${INJECT_LABEL}=enabled) unless labelled ${INJECT_LABEL}=false; never into
kube-system or $POD_NAMESPACE (its own), nor into a hostNetwork pod.
${flagHelp(FLAGS)}
Endpoints: POST /inject and /inject/namespace (AdmissionReview v1, answered
with a JSONPatch), GET /healthz, GET /readyz; GET /metrics on --metrics-port.
`;

export async function webhookCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const line = readCommandLine(
    { name: "webhook", usage: WEBHOOK_USAGE, flags: FLAGS, positionals: false },
    args,
    env,
    io,
  );
  if (typeof line === "number") return line;
  const { image, mode, volume, cert, key, port, platform, drain } = line.values;
  if (image === undefined) {
    io.stderr(noImage("webhook"));
    return EXIT.USAGE;
  }
  const { serveWebhook } = await import("../webhook/server.js");
  return serveWebhook(
    {
      image,
      mode,
      volume,
      cert,
      key,
      port,
      platform,
      allow: line.values["allow-registry"],
      drainMs: drain,
      metricsPort: line.values["metrics-port"],
      pullSecrets: line.values["pull-secrets"],
    },
    env,
    io,
  );
}
