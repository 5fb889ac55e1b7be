// iqqq reaper: a controller that ends the Job pods that an iqqq inside the pod
// cannot (it was never added, or its image was not rebuilt). It watches pods,
// and to a pod whose job containers have ended for good while a known sidecar
// still runs (decide.ts) it adds an ephemeral container that runs the iqqq
// image standalone with IQQQ_SIDECARS set: it shares the pod's network
// namespace, so the sidecars' admin ports on 127.0.0.1 are its own.
//
// The Kubernetes side is the official client (@kubernetes/client-node): its
// ListWatch lists, then watches from the list's resourceVersion, watches again
// from the last one seen when a watch ends, and lists again on 410 Gone. Here:
// bookmarks are asked for (so that a quiet watch still moves its
// resourceVersion on), a watch that says nothing, not even a bookmark, for
// stallMs is dropped, one that sends an ERROR the client would ignore (any but
// 410) or ends at once with nothing has failed, every call has a deadline, and
// after a failure the watch starts again with back-off.
//
// Several replicas need no leader election to be correct: the ephemeral
// container has one name per pod (REAPER_CONTAINER), and the PATCH carries the
// resourceVersion the decision was made on, so the API server refuses the
// second of two replicas (409 Conflict) and, had the first one's change been
// missed, the next look sees the container and skips the pod. Ephemeral
// containers can be neither changed nor removed, so a pod is stopped at most
// once. Replicas only share the work's events; the Event is written by the
// replica whose PATCH succeeded.
//
// Bounded: only the fields the decision reads are kept of each pod (trim());
// the pods to stop wait in a set keyed by pod, drained MAX_IN_FLIGHT at a time
// within the rate limit; the grace periods are one map and one timer.

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import {
  type ConfigurationOptions,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  ListWatch,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from "@kubernetes/client-node";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { parseBool } from "../config/values.js";
import { V } from "../config/variables.js";
import { EXIT } from "../exit-status.js";
import { podSidecars } from "../inject/sidecars.js";
import type { Env, Io } from "../io.js";
import { builtin } from "../runtime/builtins.js";
import {
  type ContainerView,
  type Decision,
  decide,
  type PodView,
  REAPER_CONTAINER,
  type ReaperVariable,
  type SkipReason,
} from "./decide.js";
import type { Selector } from "./selector.js";

export interface ReaperOptions {
  readonly image: string;
  /** Only this namespace (and the RBAC of deploy/reaper's namespaced variant suffices). */
  readonly namespace?: string;
  /** A label selector the API server applies to the pods watched. */
  readonly selector?: string;
  readonly jobSelector?: Selector;
  /** Only pods in the namespaces whose labels it matches (the namespaces are watched too: RBAC list/watch namespaces). */
  readonly namespaceSelector?: Selector;
  readonly graceMs: number;
  /** Ephemeral containers added per second at most (a burst of as many). */
  readonly rate: number;
  readonly dryRun: boolean;
  /** /metrics, /healthz, /readyz (0: any free port, logged). */
  readonly port: number;
  /** Who writes the Events (the pod's name, from HOSTNAME). */
  readonly instance: string;
  /** Shorter timings, for tests only (no flag sets them). */
  readonly timing?: Partial<Timing>;
}

interface Timing {
  /**
   * An API call (a list page, a PATCH, an Event) not answered within this, or a watch whose
   * headers have not come, is abandoned as failed: the API server's own default
   * --request-timeout (1 min), so that nothing it still works on is given up early.
   */
  readonly callMs: number;
  /** A watch that has sent nothing for this long (bookmarks come about every minute) is dropped. */
  readonly stallMs: number;
}

/** Pods being stopped at once. */
const MAX_IN_FLIGHT = 4;
/** The API server ends each watch after this (it picks at most this; a real one adds jitter itself). */
const WATCH_SECONDS = 300;
const TIMING: Timing = { callMs: 60_000, stallMs: (WATCH_SECONDS + 60) * 1000 };
/**
 * A watch that ends within this having shown nothing (an empty answer, a proxy that closes it)
 * counts as failed, so that it starts again with back-off, not in a loop as fast as the network.
 */
const QUICK_END_MS = 1000;
/** Back-off after a list or watch error, doubling up to the most. */
const RETRY_FIRST_MS = 500;
const RETRY_MOST_MS = 30_000;
/** A PATCH that failed for a passing reason (5xx, 429, no answer) is tried again after this, or after the API server's Retry-After (at most RETRY_AFTER_MOST_MS). */
const PATCH_RETRY_MS = 10_000;
const RETRY_AFTER_MOST_MS = 300_000;
/** Pods asked for per list page. */
const PAGE = 500;
/** After SIGTERM, the stops in flight are waited for this long. */
const FINISH_MS = 10_000;

export interface Reaper {
  /** The port /metrics is served on. */
  readonly port: number;
  /** Stops the watch, lets the stops in flight finish, closes the port. */
  stop(): Promise<void>;
}

interface PodState {
  uid: string;
  /** The last reason it was skipped for: counted once per change. */
  skipped?: SkipReason | "dry-run";
  /** Busy: being stopped now; again: it changed meanwhile, look again after. */
  busy?: boolean;
  again?: boolean;
  /** A PATCH was refused for good (403, 422): not tried again on this pod. */
  refused?: boolean;
  /** Its ephemeral container's failure has been told (Event, metric). */
  told?: boolean;
}

/**
 * Where the API server is, as kubectl finds it: $KUBECONFIG, else ~/.kube/config, else in-cluster.
 * $KUBECONFIG's files are merged by kubectl's rules (client-go's loading rules), which the
 * client's own mergeConfig does not follow (it throws on a name two files share, and never
 * takes current-context from a later file): a file that does not exist is skipped; the first
 * file to name a cluster, user or context wins; current-context is the first one set.
 */
export function loadKubeConfig(env: Env): KubeConfig | Error {
  const kc = new KubeConfig();
  try {
    const path = builtin("node:path");
    const fs = builtin("node:fs");
    const listed = (env.KUBECONFIG ?? "").split(path.delimiter).filter((f) => f !== "");
    const home = env.HOME ? path.join(env.HOME, ".kube", "config") : undefined;
    // A file that does not exist, or is empty, is skipped, as kubectl skips it.
    const usable = (f: string): boolean => fs.existsSync(f) && fs.readFileSync(f, "utf8").trim() !== "";
    const files = listed.length > 0 ? listed.filter(usable) : home !== undefined && usable(home) ? [home] : [];
    if (listed.length > 0 && files.length === 0)
      return new Error(
        `none of the files $KUBECONFIG names exists, or has anything in it (${listed.join(path.delimiter)})`,
      );
    if (files.length > 0) {
      const clusters = new Map<string, KubeConfig["clusters"][number]>();
      const users = new Map<string, KubeConfig["users"][number]>();
      const contexts = new Map<string, KubeConfig["contexts"][number]>();
      let currentContext = "";
      for (const file of files) {
        const one = new KubeConfig();
        one.loadFromFile(file);
        for (const c of one.clusters) if (!clusters.has(c.name)) clusters.set(c.name, c);
        for (const u of one.users) if (!users.has(u.name)) users.set(u.name, u);
        for (const c of one.contexts) if (!contexts.has(c.name)) contexts.set(c.name, c);
        currentContext ||= one.currentContext ?? "";
      }
      kc.loadFromOptions({
        clusters: [...clusters.values()].map(plainHttp),
        users: [...users.values()],
        contexts: [...contexts.values()],
        currentContext,
      });
    } else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else
      return new Error("no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a cluster (no KUBERNETES_SERVICE_HOST)");
    if (kc.getCurrentCluster() === null) return new Error("the kubeconfig has no current context with a cluster");
  } catch (err) {
    return new Error(`cannot read the kubeconfig: ${(err as Error).message}`);
  }
  return kc;
}

/**
 * A server at http:// (kubectl proxy) is reached as kubectl reaches it. The client refuses one
 * unless skipTLSVerify is set, which for plain HTTP changes nothing else (there is no TLS).
 */
function plainHttp(cluster: KubeConfig["clusters"][number]): KubeConfig["clusters"][number] {
  return cluster.server.startsWith("http:") ? { ...cluster, skipTLSVerify: true } : cluster;
}

/** The opt-outs iqqq inside the container would obey, from its literal environment (a value from elsewhere cannot be read here). */
function keepSidecars(env: unknown): ContainerView["keepSidecars"] {
  if (!Array.isArray(env)) return undefined;
  // The last entry of a name is the one the container gets, as the kubelet reads the list.
  const on = (variable: string): boolean => {
    const e = (env as { name?: unknown; value?: unknown }[]).findLast((x) => x?.name === variable);
    if (typeof e?.value !== "string") return false;
    try {
      return parseBool(e.value);
    } catch {
      return false;
    }
  };
  for (const v of [V.DISABLE_IQQQ, V.NEVER_KILL_ISTIO]) if (on(v.name)) return { when: "always", variable: v.name };
  if (on(V.NEVER_KILL_ISTIO_ON_FAILURE.name))
    return { when: "on-failure", variable: V.NEVER_KILL_ISTIO_ON_FAILURE.name };
  return undefined;
}

/** Only what decide() reads: a pod of 10 KiB becomes some hundreds of bytes. Dates may be Date objects (the client's list). */
export function trim(raw: unknown): PodView {
  const pod = raw as {
    metadata?: Record<string, unknown> & { ownerReferences?: { kind: string; apiVersion: string; name: string }[] };
    spec?: {
      restartPolicy?: string;
      containers?: ContainerView[];
      initContainers?: ContainerView[];
      ephemeralContainers?: { name: string }[];
    };
    status?: {
      phase?: string;
      containerStatuses?: {
        name: string;
        state?: Record<string, Record<string, unknown> | undefined>;
        lastState?: { terminated?: unknown };
        restartCount?: number;
      }[];
      ephemeralContainerStatuses?: { name: string; state?: Record<string, Record<string, unknown> | undefined> }[];
    };
  };
  const reaperEnded = pod.status?.ephemeralContainerStatuses?.find((s) => s.name === REAPER_CONTAINER)?.state
    ?.terminated;
  const m = pod.metadata ?? {};
  const text = (v: unknown): string | undefined =>
    v === undefined || v === null ? undefined : v instanceof Date ? v.toISOString() : String(v);
  const container = (c: ContainerView & { env?: unknown }): ContainerView => {
    const keep = keepSidecars(c.env);
    return {
      name: c.name,
      ...(c.image === undefined ? {} : { image: c.image }),
      ...(c.restartPolicy === undefined ? {} : { restartPolicy: c.restartPolicy }),
      ...(keep === undefined ? {} : { keepSidecars: keep }),
    };
  };
  // Read from the whole pod, as iqqq inject reads it: a sidecar's moved port (its flag, variable or annotation).
  const found = podSidecars(
    m,
    (pod.spec?.containers ?? []) as Parameters<typeof podSidecars>[1],
    (pod.spec?.initContainers ?? []) as Parameters<typeof podSidecars>[2],
  );
  const env: ReaperVariable[] = [...found.env.map((e) => ({ name: e.name, value: e.value })), ...found.secretEnv];
  return {
    ...(env.length > 0 ? { env } : {}),
    metadata: {
      name: String(m.name ?? ""),
      namespace: String(m.namespace ?? ""),
      uid: String(m.uid ?? ""),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: String(m.resourceVersion) }),
      ...(m.labels === undefined ? {} : { labels: m.labels as Record<string, string> }),
      ...(m.ownerReferences === undefined
        ? {}
        : {
            ownerReferences: m.ownerReferences.map((o) => ({ kind: o.kind, apiVersion: o.apiVersion, name: o.name })),
          }),
      ...(m.deletionTimestamp === undefined || m.deletionTimestamp === null
        ? {}
        : { deletionTimestamp: text(m.deletionTimestamp) as string }),
    },
    spec: {
      ...(pod.spec?.restartPolicy === undefined ? {} : { restartPolicy: pod.spec.restartPolicy }),
      containers: (pod.spec?.containers ?? []).map(container),
      initContainers: (pod.spec?.initContainers ?? []).map(container),
      ephemeralContainers: (pod.spec?.ephemeralContainers ?? []).map((c) => ({ name: c.name })),
    },
    status: {
      ...(pod.status?.phase === undefined ? {} : { phase: pod.status.phase }),
      ...(reaperEnded === undefined
        ? {}
        : {
            reaperEnded: {
              exitCode: Number(reaperEnded.exitCode ?? 0),
              // FallbackToLogsOnError: the log's tail when it failed. Bounded here, whatever the API says.
              ...(reaperEnded.message ? { message: String(reaperEnded.message).slice(-512) } : {}),
            },
          }),
      containerStatuses: (pod.status?.containerStatuses ?? []).map((s) => {
        const st = s.state ?? {};
        const terminated = st.terminated;
        const state = terminated
          ? {
              terminated: {
                exitCode: Number(terminated.exitCode ?? 0),
                ...(terminated.finishedAt ? { finishedAt: text(terminated.finishedAt) as string } : {}),
              },
            }
          : st.running
            ? { running: {} }
            : st.waiting
              ? { waiting: st.waiting.reason === undefined ? {} : { reason: String(st.waiting.reason) } }
              : {};
        const restarted = (s.restartCount ?? 0) > 0 || (s.lastState?.terminated ?? undefined) !== undefined;
        return { name: s.name, state, ...(restarted ? { restarted } : {}) };
      }),
    },
  };
}

/** The ephemeral container that stops the pod's sidecars: iqqq standalone, from the pod's network namespace. */
export function reaperContainer(
  image: string,
  kinds: readonly string[],
  env: readonly ReaperVariable[] = [],
): Record<string, unknown> {
  return {
    name: REAPER_CONTAINER,
    image,
    env: [{ name: "IQQQ_SIDECARS", value: kinds.join(",") }, ...env],
    // What Pod Security's restricted profile asks of every container, ephemeral ones too.
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    },
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

export async function startReaper(
  options: ReaperOptions,
  kc: KubeConfig,
  log: (line: string) => void,
): Promise<Reaper> {
  const api = kc.makeApiClient(CoreV1Api);
  const timing: Timing = { ...TIMING, ...options.timing };
  // Every call has a deadline: one the API server never answers would otherwise hold its slot
  // (of MAX_IN_FLIGHT) or the start for ever, while /healthz says all is well.
  const deadline = (opt?: ConfigurationOptions): ConfigurationOptions => ({
    ...opt,
    middleware: [
      ...(opt?.middleware ?? []),
      {
        pre: (request) => {
          request.setSignal(AbortSignal.timeout(timing.callMs));
          return new Observable(Promise.resolve(request));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  });
  // The watch's request: its headers within callMs (node-fetch's timeout ends at the headers;
  // what comes after is the stall timer's). The executable's Bun serves node-fetch with its own
  // fetch, whose timeout is one on silence, body included: a quiet watch would be cut every
  // callMs. There it is stallMs, the limit on silence anyway.
  const timed = Object.create(kc) as KubeConfig;
  const headersMs = process.versions.bun !== undefined ? timing.stallMs : timing.callMs;
  timed.applyToFetchOptions = async (opts) => ({ ...(await kc.applyToFetchOptions(opts)), timeout: headersMs });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const seen = new Counter({
    name: "iqqq_reaper_pods_seen_total",
    help: "Pods the watch has shown, each once",
    registers: [registry],
  });
  const reaped = new Counter({
    name: "iqqq_reaper_reaped_total",
    help: "Ephemeral containers added to stop a pod's sidecars, by sidecar kind (one that then fails is also in iqqq_reaper_stop_failed_total)",
    labelNames: ["sidecar"],
    registers: [registry],
  });
  const skipped = new Counter({
    name: "iqqq_reaper_skipped_total",
    help: "Pods left alone, by reason (each pod counted once per reason it takes on)",
    labelNames: ["reason"],
    registers: [registry],
  });
  const apiErrors = new Counter({
    name: "iqqq_reaper_api_errors_total",
    help: "Kubernetes API calls that failed, by operation",
    labelNames: ["operation"],
    registers: [registry],
  });
  const stopFailed = new Counter({
    name: "iqqq_reaper_stop_failed_total",
    help: "Ephemeral containers that ended without stopping the sidecars, by exit code",
    labelNames: ["exit"],
    registers: [registry],
  });
  const waiting = new Gauge({
    name: "iqqq_reaper_pods_waiting",
    help: "Pods in their grace period (not those waiting to try a refused PATCH again)",
    registers: [registry],
  });
  for (const reason of ["not-a-job", "no-sidecar", "native-sidecar", "will-restart"]) skipped.inc({ reason }, 0);
  for (const operation of ["list", "watch", "patch", "event"]) apiErrors.inc({ operation }, 0);

  const where = options.namespace === undefined ? "all namespaces" : `namespace ${options.namespace}`;
  const path =
    options.namespace === undefined
      ? "/api/v1/pods"
      : `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`;
  let stopping = false;
  const failing = new Map<string, string>();
  const listedOnce = new Set<string>();
  const watch = new Watch(timed);

  /**
   * The client's ListWatch over one kind: listed PAGE at a time, each object
   * trimmed (list and watch alike), bookmarks asked for, a stalled watch
   * dropped, and after an error started again with back-off.
   */
  const informerOf = (
    what: string,
    path: string,
    page: (query: { limit: number; labelSelector?: string; _continue?: string }) => Promise<{
      items: unknown[];
      metadata?: { _continue?: string; resourceVersion?: string };
    }>,
    trimmed: (raw: unknown) => unknown,
    selector: string | undefined,
  ): ListWatch<KubernetesObject> => {
    let retryMs = RETRY_FIRST_MS;
    let retryTimer: NodeJS.Timeout | undefined;
    /** A watch that works: /readyz says so, and the next failure backs off from the start. */
    const healthy = (): void => {
      failing.delete(what);
      retryMs = RETRY_FIRST_MS;
    };
    const list = async (): Promise<{ metadata: { resourceVersion?: string }; items: unknown[] }> => {
      const items: unknown[] = [];
      let next: string | undefined;
      let resourceVersion: string | undefined;
      try {
        do {
          const got = await page({
            limit: PAGE,
            ...(selector ? { labelSelector: selector } : {}),
            ...(next ? { _continue: next } : {}),
          });
          for (const item of got.items) items.push(trimmed(item));
          next = got.metadata?._continue || undefined;
          resourceVersion = got.metadata?.resourceVersion;
        } while (next !== undefined);
      } catch (err) {
        apiErrors.inc({ operation: "list" });
        throw err;
      }
      if (!listedOnce.has(what)) log(`listed ${items.length} ${what}; watching`);
      listedOnce.add(what);
      failing.delete(what);
      return { metadata: resourceVersion === undefined ? {} : { resourceVersion }, items };
    };
    const watcher = {
      watch: async (
        p: string,
        query: Record<string, string | number | boolean | undefined>,
        callback: (phase: string, obj: unknown, raw: unknown) => void,
        done: (err: unknown) => void,
      ): Promise<AbortController> => {
        let ended = false;
        let timer: NodeJS.Timeout | undefined;
        let abort: AbortController | undefined;
        /** Why this watch is ended from here (an ERROR event it sent), once its request is known. */
        let failed: Error | undefined;
        let events = 0;
        const started = Date.now();
        const arm = (): void => {
          clearTimeout(timer);
          if (!ended) timer = setTimeout(() => abort?.abort(), timing.stallMs);
        };
        // Armed before the request: a watch whose headers never come is dropped too (and the
        // request itself gives up after callMs: timed, below).
        arm();
        abort = await watch.watch(
          p,
          { ...query, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS },
          (phase, obj, raw) => {
            if (ended || failed !== undefined) return;
            arm();
            const status = obj as { code?: unknown; reason?: unknown; message?: unknown } | undefined;
            if (phase === "ERROR" && status?.code !== 410) {
              // The client ignores it and watches again at once, from the same place: a loop as fast
              // as the API server answers, with nothing counted. It is a failure here, with back-off.
              failed = new Error(
                `the watch sent an error: ${[status?.code, status?.reason, status?.message].filter((x) => x !== undefined).join(" ")}`,
              );
              abort?.abort();
              return;
            }
            events++;
            // 410 Gone: a list is due, and failing no longer; not yet a working watch.
            if (phase === "ERROR") failing.delete(what);
            else healthy();
            callback(phase, phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED" ? trimmed(obj) : obj, raw);
          },
          (err) => {
            if (ended) return;
            ended = true;
            clearTimeout(timer);
            let why = failed ?? err;
            if (why === null && events === 0 && Date.now() - started < QUICK_END_MS)
              why = new Error("the watch ended at once, having sent nothing");
            if (why !== null && !stopping) apiErrors.inc({ operation: "watch" });
            done(why);
          },
        );
        if (failed !== undefined) abort.abort();
        // Up for QUICK_END_MS without failing: a working watch, even a quiet one (no event to say so).
        const up = setTimeout(() => {
          if (!ended && failed === undefined) healthy();
        }, QUICK_END_MS);
        up.unref();
        abort.signal.addEventListener("abort", () => clearTimeout(up), { once: true });
        return abort;
      },
    };
    // What it holds are the trimmed objects (list and watcher above), whatever its type says.
    const informer = new ListWatch<KubernetesObject>(path, watcher as unknown as Watch, list as never, false, selector);
    informer.on("error", (err: unknown) => {
      if (stopping) return;
      failing.set(what, (err as Error)?.message ?? String(err));
      log(`the watch of ${what} failed (${describe(err)}); again in ${retryMs / 1000} s`);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        if (!stopping) void informer.start();
      }, retryMs);
      retryTimer.unref();
      retryMs = Math.min(retryMs * 2, RETRY_MOST_MS);
    });
    return informer;
  };

  const informer = informerOf(
    `pods in ${where}`,
    path,
    (query) =>
      options.namespace === undefined
        ? api.listPodForAllNamespaces(query, deadline())
        : api.listNamespacedPod({ namespace: options.namespace, ...query }, deadline()),
    trim,
    options.selector,
  );
  const cached = (name: string, namespace: string): PodView | undefined =>
    informer.get(name, namespace) as unknown as PodView | undefined;

  // --namespace-selector: the namespaces' labels, watched too (only their names and labels kept).
  const namespaces =
    options.namespaceSelector === undefined
      ? undefined
      : informerOf(
          "namespaces",
          "/api/v1/namespaces",
          (query) => api.listNamespace(query, deadline()),
          (raw) => {
            const m = (
              raw as { metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: string } }
            ).metadata;
            return { metadata: { name: m?.name ?? "", labels: m?.labels ?? {}, resourceVersion: m?.resourceVersion } };
          },
          undefined,
        );
  const namespaceSelected = (namespace: string): boolean => {
    if (options.namespaceSelector === undefined || namespaces === undefined) return true;
    const ns = namespaces.get(namespace) as unknown as { metadata: { labels: Record<string, string> } } | undefined;
    // Not known yet: left alone until its namespace is seen (its event brings the pods back).
    return ns !== undefined && options.namespaceSelector.matches(ns.metadata.labels);
  };
  const decideNow = (pod: PodView): Decision =>
    namespaceSelected(pod.metadata.namespace)
      ? decide(pod, {
          graceMs: options.graceMs,
          nowMs: Date.now(),
          ...(options.jobSelector ? { jobSelector: options.jobSelector } : {}),
        })
      : {
          kind: "skip",
          reason: "namespace-not-selected",
          why: `its namespace's labels do not match ${options.namespaceSelector?.text}`,
        };

  // ------------------------------------------------------------ per pod
  const states = new Map<string, PodState>();
  const keyOf = (pod: PodView): string => `${pod.metadata.namespace}/${pod.metadata.name}`;
  const current = (key: string): PodView | undefined => {
    const slash = key.indexOf("/");
    return cached(key.slice(slash + 1), key.slice(0, slash));
  };

  /** Grace periods, and PATCHes to try again (retrying): key → when; one timer for the earliest. */
  const due = new Map<string, number>();
  const retrying = new Set<string>();
  let dueTimer: NodeJS.Timeout | undefined;
  let dueAt = Number.POSITIVE_INFINITY;
  const schedule = (): void => {
    const first = Math.min(...due.values());
    waiting.set(due.size - retrying.size);
    if (first === dueAt) return;
    clearTimeout(dueTimer);
    dueAt = first;
    if (Number.isFinite(first)) {
      dueTimer = setTimeout(
        () => {
          dueAt = Number.POSITIVE_INFINITY;
          const now = Date.now();
          for (const [key, at] of due) {
            if (at > now) continue;
            due.delete(key);
            retrying.delete(key);
            const pod = current(key);
            if (pod !== undefined) evaluate(pod);
          }
          schedule();
        },
        Math.max(0, first - Date.now()),
      );
    }
  };

  const noteSkip = (state: PodState, reason: SkipReason | "dry-run"): void => {
    if (state.skipped === reason) return;
    state.skipped = reason;
    skipped.inc({ reason });
  };

  const evaluate = (pod: PodView): void => {
    if (stopping) return;
    const key = keyOf(pod);
    let state = states.get(key);
    if (state === undefined || state.uid !== pod.metadata.uid) {
      state = { uid: pod.metadata.uid };
      states.set(key, state);
    }
    if (state.busy) {
      state.again = true;
      return;
    }
    const ended = pod.status?.reaperEnded;
    if (ended !== undefined && ended.exitCode !== 0 && !state.told) {
      // It ran but did not stop the sidecars: say so where the pod's owner looks (the replica that saw it first).
      state.told = true;
      stopFailed.inc({ exit: String(ended.exitCode) });
      const meaning =
        ended.exitCode === 69
          ? "no sidecar was listening"
          : ended.exitCode === 1
            ? "a sidecar refused or did not answer"
            : "it failed";
      const why = `the ephemeral container ${REAPER_CONTAINER} exited ${ended.exitCode}: ${meaning}${ended.message ? ` (${ended.message.trim()})` : ""}`;
      log(`${pod.metadata.namespace}/${pod.metadata.name}: ${why}`);
      void event(
        pod,
        "Warning",
        "SidecarStopFailed",
        `iqqq reaper: ${why}; see kubectl logs ${pod.metadata.name} -c ${REAPER_CONTAINER}`,
      );
    }
    const decision = decideNow(pod);
    if (decision.kind === "wait") {
      if (!due.has(key)) {
        due.set(key, decision.untilMs);
        schedule();
      }
      return;
    }
    if (decision.kind === "reap" && retrying.has(key)) return;
    retrying.delete(key);
    if (due.delete(key)) schedule();
    if (decision.kind === "skip") {
      queue.delete(key);
      noteSkip(state, decision.reason);
      return;
    }
    if (state.refused) return;
    queue.add(key);
    pump();
  };

  // ------------------------------------------------------------ stopping, rate-limited
  const queue = new Set<string>();
  let inFlight = 0;
  const flights = new Set<Promise<void>>();
  const burst = Math.max(1, options.rate);
  let tokens = burst;
  let filled = Date.now();
  let pumpTimer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    while (!stopping && inFlight < MAX_IN_FLIGHT && queue.size > 0) {
      const now = Date.now();
      tokens = Math.min(burst, tokens + ((now - filled) / 1000) * options.rate);
      filled = now;
      if (tokens < 1) {
        if (pumpTimer === undefined)
          pumpTimer = setTimeout(
            () => {
              pumpTimer = undefined;
              pump();
            },
            Math.ceil(((1 - tokens) / options.rate) * 1000),
          );
        return;
      }
      const key = queue.values().next().value as string;
      queue.delete(key);
      const pod = current(key);
      const state = states.get(key);
      if (pod === undefined || state === undefined) continue;
      tokens -= 1;
      inFlight++;
      state.busy = true;
      const flight = reap(pod, state).finally(() => {
        inFlight--;
        flights.delete(flight);
        state.busy = false;
        if (state.again) {
          state.again = false;
          const now = current(key);
          if (now !== undefined) evaluate(now);
        }
        pump();
      });
      flights.add(flight);
    }
  };

  const reap = async (pod: PodView, state: PodState): Promise<void> => {
    const decision = decideNow(pod);
    if (decision.kind !== "reap") {
      state.again = true;
      return;
    }
    const { name, namespace } = pod.metadata;
    const kinds = [...new Set(decision.sidecars.map((s) => s.kind.name))];
    const containers = decision.sidecars.map((s) => s.container).join(", ");
    if (options.dryRun) {
      if (state.skipped !== "dry-run")
        log(`dry run: would stop ${kinds.join(", ")} (${containers}) in ${namespace}/${name}: ${decision.why}`);
      noteSkip(state, "dry-run");
      return;
    }
    const body = {
      metadata: { resourceVersion: pod.metadata.resourceVersion },
      spec: { ephemeralContainers: [reaperContainer(options.image, kinds, pod.env)] },
    };
    try {
      await api.patchNamespacedPodEphemeralcontainers(
        { name, namespace, body },
        deadline(setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)),
      );
    } catch (err) {
      const code = statusOf(err);
      if (code === 409) {
        // Changed since it was read (another replica, or the kubelet): the watch brings the new version.
        log(`${namespace}/${name} changed while being stopped (409 Conflict): looking again when the watch shows it`);
        if (current(`${namespace}/${name}`)?.metadata.resourceVersion !== pod.metadata.resourceVersion)
          state.again = true;
        return;
      }
      apiErrors.inc({ operation: "patch" });
      if (code === 404) return;
      if (code !== undefined && code >= 400 && code < 500 && code !== 429) {
        state.refused = true;
        log(`cannot add the ephemeral container to ${namespace}/${name}: ${describe(err)}; not trying this pod again`);
        await event(
          pod,
          "Warning",
          "SidecarStopFailed",
          `iqqq reaper could not add the ephemeral container ${REAPER_CONTAINER} to stop ${containers}: ${describe(err)}`,
          decision.sidecars[0]?.container,
        );
        return;
      }
      const againMs = retryAfterMs(err) ?? PATCH_RETRY_MS;
      log(`cannot add the ephemeral container to ${namespace}/${name}: ${describe(err)}; again in ${againMs / 1000} s`);
      // Not before then, whatever the watch shows of the pod meanwhile (evaluate() keeps it waiting).
      due.set(keyOf(pod), Date.now() + againMs);
      retrying.add(keyOf(pod));
      schedule();
      return;
    }
    for (const kind of kinds) reaped.inc({ sidecar: kind });
    log(
      `stopping ${kinds.join(", ")} (${containers}) in ${namespace}/${name} with the ephemeral container ${REAPER_CONTAINER}: ${decision.why}`,
    );
    await event(
      pod,
      "Normal",
      "SidecarStopped",
      `iqqq reaper added the ephemeral container ${REAPER_CONTAINER} (IQQQ_SIDECARS=${kinds.join(",")}) to stop ${containers}: ${decision.why}`,
      decision.sidecars[0]?.container,
    );
  };

  const event = async (
    pod: PodView,
    type: string,
    reason: string,
    message: string,
    container?: string,
  ): Promise<void> => {
    const { name, namespace, uid } = pod.metadata;
    const now = new Date();
    try {
      await api.createNamespacedEvent(
        {
          namespace,
          body: {
            // One name per pod and reason: a second writer is refused (409), not counted twice.
            metadata: {
              name: `${name.slice(0, 200)}.iqqq-reaper.${reason.toLowerCase()}.${uid.slice(0, 8)}`,
              namespace,
            },
            involvedObject: {
              apiVersion: "v1",
              kind: "Pod",
              name,
              namespace,
              uid,
              ...(container === undefined ? {} : { fieldPath: `spec.containers{${container}}` }),
            },
            type,
            reason,
            message: message.slice(0, 1024),
            source: { component: "iqqq-reaper" },
            reportingComponent: "iqqq.io/reaper",
            reportingInstance: options.instance,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        },
        deadline(),
      );
    } catch (err) {
      if (statusOf(err) === 409) return;
      apiErrors.inc({ operation: "event" });
      log(`cannot write the event on ${namespace}/${name}: ${describe(err)}`);
    }
  };

  informer.on("add", (obj) => {
    seen.inc();
    evaluate(obj as unknown as PodView);
  });
  informer.on("update", (obj) => evaluate(obj as unknown as PodView));
  informer.on("delete", (obj) => {
    const key = keyOf(obj as unknown as PodView);
    states.delete(key);
    queue.delete(key);
    retrying.delete(key);
    if (due.delete(key)) schedule();
  });

  // ------------------------------------------------------------ /metrics, /healthz, /readyz
  const server: Server = builtin("node:http").createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();
    if (url === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    if (url === "/readyz") {
      const why = stopping
        ? "stopping"
        : listedOnce.size < (namespaces === undefined ? 1 : 2)
          ? "not listed yet"
          : failing.size > 0
            ? `the watch is failing: ${[...failing].map(([what, why]) => `${what}: ${why}`).join("; ")}`
            : undefined;
      return void res
        .writeHead(why === undefined ? 200 : 503, { "content-type": "text/plain" })
        .end(`${why ?? "ok"}\n`);
    }
    if (url === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  const listenError = await new Promise<Error | undefined>((resolve) => {
    server.once("error", resolve);
    server.listen(options.port, () => resolve(undefined));
  });
  if (listenError !== undefined) throw listenError;
  const port = (server.address() as { port: number }).port;
  log(
    `watching pods in ${where}${options.namespaceSelector ? ` labelled ${options.namespaceSelector.text}` : ""}${options.selector ? `, pods labelled ${options.selector}` : ""}; grace ${options.graceMs / 1000} s, at most ${options.rate} stops/s${options.dryRun ? ", dry run: nothing is changed" : ""}; /metrics on port ${port}`,
  );
  if (namespaces !== undefined) {
    // A namespace's labels change: its pods are looked at again.
    const again = (obj: KubernetesObject): void => {
      for (const pod of informer.list(obj.metadata?.name ?? "")) evaluate(pod as unknown as PodView);
    };
    namespaces.on("add", again);
    namespaces.on("update", again);
    // Known before the pods are, so that no pod is counted as not selected only for being early.
    // Not awaited: a list that hangs must not hold the start (nor SIGTERM's handling) up.
    void namespaces.start().then(() => {
      if (!stopping) void informer.start();
    });
  } else void informer.start();

  return {
    port,
    async stop(): Promise<void> {
      if (stopping) return;
      stopping = true;
      clearTimeout(dueTimer);
      clearTimeout(pumpTimer);
      await informer.stop();
      await namespaces?.stop();
      const late = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), FINISH_MS).unref());
      if ((await Promise.race([Promise.allSettled([...flights]), late])) === "late")
        log("stops still in flight at exit");
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Serves until SIGTERM or SIGINT; resolves to the exit status. */
export async function runReaper(options: ReaperOptions, env: Env, io: Io): Promise<number> {
  const log = (line: string): void => io.stderr(`iqqq reaper: ${line}\n`);
  const kc = loadKubeConfig(env);
  if (kc instanceof Error) {
    io.stderr(`iqqq reaper: error: ${kc.message}\n`);
    return EXIT.CONFIG;
  }
  // Handled from the first moment: a SIGTERM while starting still ends it cleanly (exit 0).
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  let reaper: Reaper;
  try {
    reaper = await startReaper(options, kc, log);
  } catch (err) {
    io.stderr(`iqqq reaper: error: cannot listen on port ${options.port}: ${(err as Error).message}\n`);
    return EXIT.CONFIG;
  }
  const signal = await signalled;
  log(`${signal}: stopping the watch`);
  await reaper.stop();
  log("stopped");
  return EXIT.OK;
}

/**
 * How long the API server asked to be left alone (429, 503: its Retry-After header, or the
 * Status's details.retryAfterSeconds), in ms, within 1 s and RETRY_AFTER_MOST_MS.
 */
function retryAfterMs(err: unknown): number | undefined {
  const e = err as { headers?: Record<string, string>; body?: unknown };
  let seconds = Number(e?.headers?.["retry-after"] ?? Number.NaN);
  if (!Number.isFinite(seconds) && typeof e?.body === "string") {
    try {
      seconds = Number(
        (JSON.parse(e.body) as { details?: { retryAfterSeconds?: unknown } }).details?.retryAfterSeconds,
      );
    } catch {}
  }
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return Math.min(Math.max(seconds * 1000, 1000), RETRY_AFTER_MOST_MS);
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

/** An API error as a person reads it: the status and the API server's own message. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: string; statusCode?: number };
  let message: string | undefined;
  if (typeof e?.body === "string") {
    try {
      message = (JSON.parse(e.body) as { message?: string }).message;
    } catch {
      message = e.body.slice(0, 200);
    }
  }
  const status = typeof e?.code === "number" ? e.code : e?.statusCode;
  return [status === undefined ? undefined : `HTTP ${status}`, message ?? e?.message ?? String(err)]
    .filter(Boolean)
    .join(": ");
}
