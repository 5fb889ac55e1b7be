// iqqq reaper [options]: its flag table, then the controller (reaper/controller.ts).
// Loaded only for this command; the controller, with the Kubernetes client and
// prom-client bundled in, only once the flags are good.

import { EXIT } from "../exit-status.js";
import type { Env, Io } from "../io.js";
import { parseSelector, type Selector } from "../reaper/selector.js";
import { FlagError, flag, flagHelp, flagSynopsis, portFlag, readCommandLine } from "./flags.js";
import { IMAGE, noImage } from "./shared.js";

/** The image flag inject and the webhook share, said of what the reaper does with it. */
const REAPER_IMAGE = { ...IMAGE, help: "the iqqq image the ephemeral container runs;\ndefault: $IQQQ_IMAGE" };

const NAMESPACE = flag({
  name: "namespace",
  value: "NS",
  help: "watch only this namespace; default: all namespaces",
  default: (): string | undefined => undefined,
  parse: (raw): string | undefined => {
    if (!/^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(raw)) throw new FlagError("expected a namespace name");
    return raw;
  },
});

const selectorFlag = <const N extends string>(name: N, help: string) =>
  flag({
    name,
    value: "SELECTOR",
    help,
    default: (): Selector | undefined => undefined,
    parse: (raw): Selector | undefined => {
      const selector = parseSelector(raw);
      if (selector instanceof Error) throw new FlagError(selector.message);
      return selector;
    },
  });

const SELECTOR = selectorFlag(
  "selector",
  "watch only the pods this label selector matches (as kubectl -l:\napp=x,tier!=db,env in (a,b),!legacy); default: all pods",
);

const JOB_SELECTOR = selectorFlag(
  "job-selector",
  "pods of other batch systems, by label, that count as a Job's\n(besides the pods a Job owns); default: none",
);

const seconds = <const N extends string>(name: N, help: string, shown: string, most: number) =>
  flag({
    name,
    value: "SECONDS",
    help,
    shownDefault: shown,
    default: (): number => Number(shown) * 1000,
    parse: (raw): number => {
      if (!/^\d+(?:\.\d+)?$/.test(raw) || Number(raw) > most) throw new FlagError(`expected seconds, 0 to ${most}`);
      return Number(raw) * 1000;
    },
  });

const NAMESPACE_SELECTOR = selectorFlag(
  "namespace-selector",
  "only the pods in namespaces whose labels this matches\n(kubernetes.io/metadata.name is the namespace's name);\nthe namespaces are watched too (RBAC: list, watch\nnamespaces, which only a ClusterRole grants);\ndefault: every namespace",
);

const GRACE = seconds(
  "grace",
  "wait this long after a pod's last job container ended, so\nthat an iqqq inside the pod stops its sidecars first;\ndefault $default",
  "30",
  86_400,
);

const RATE = flag({
  name: "rate",
  value: "N",
  help: "add at most N ephemeral containers a second; default $default",
  shownDefault: "5",
  default: (): number => 5,
  parse: (raw): number => {
    if (!/^\d+(?:\.\d+)?$/.test(raw) || Number(raw) <= 0 || Number(raw) > 1000)
      throw new FlagError("expected a number above 0, at most 1000");
    return Number(raw);
  },
});

const DRY_RUN = flag({
  name: "dry-run",
  value: "",
  help: "only log which pods would be stopped, and why",
  boolean: true,
  default: (): boolean => false,
  parse: (): boolean => true,
});

const PORT = portFlag(
  "port",
  "the HTTP port of /metrics, /healthz and /readyz;\ndefault $default (0: any free one, logged)",
  8080,
);

export const FLAGS = [
  REAPER_IMAGE,
  NAMESPACE,
  NAMESPACE_SELECTOR,
  SELECTOR,
  JOB_SELECTOR,
  GRACE,
  RATE,
  DRY_RUN,
  PORT,
] as const;

export const REAPER_USAGE = `Usage: iqqq reaper ${flagSynopsis(FLAGS)}
A controller for the Job pods that have no iqqq inside: when every job
container of a pod has ended for good and a sidecar iqqq knows still runs, it
adds an ephemeral container to the pod that runs the iqqq image with
IQQQ_SIDECARS set, which stops them, and writes an Event on the pod saying why.
Finds the API server as kubectl does: $KUBECONFIG, ~/.kube/config, in-cluster.
${flagHelp(FLAGS)}
Endpoints: GET /metrics (Prometheus), /healthz, /readyz. See docs/reaper.md.
`;

export async function reaperCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const line = readCommandLine(
    { name: "reaper", usage: REAPER_USAGE, flags: FLAGS, positionals: false },
    args,
    env,
    io,
  );
  if (typeof line === "number") return line;
  const { image, namespace, selector, grace, rate, port } = line.values;
  if (image === undefined) {
    io.stderr(noImage("reaper"));
    return EXIT.USAGE;
  }
  const jobSelector = line.values["job-selector"];
  const namespaceSelector = line.values["namespace-selector"];
  const { runReaper } = await import("../reaper/controller.js");
  return runReaper(
    {
      image,
      ...(namespace === undefined ? {} : { namespace }),
      ...(selector === undefined ? {} : { selector: selector.text }),
      ...(jobSelector === undefined ? {} : { jobSelector }),
      ...(namespaceSelector === undefined ? {} : { namespaceSelector }),
      graceMs: grace,
      rate,
      dryRun: line.values["dry-run"],
      port,
      instance: env.HOSTNAME || "iqqq-reaper",
    },
    env,
    io,
  );
}
