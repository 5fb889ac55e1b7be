// A STAND-IN for the Kubernetes API server, for iqqq reaper's tests: no API
// server exists here. It is the smallest one that speaks the real wire
// protocol for what the reaper uses, over HTTPS from a test CA, behind a
// bearer token, reached through a kubeconfig file as kubectl would be:
// - pods: list (all namespaces or one; labelSelector; limit/continue paging)
//   and watch (?watch=true from a resourceVersion: the events after it, one
//   JSON object a line; bookmarks when asked for, allowWatchBookmarks; ended
//   after timeoutSeconds; an ERROR event with a 410 Expired Status when the
//   resourceVersion is older than the history kept, as etcd's compaction
//   makes it);
// - PATCH pods/NAME/ephemeralcontainers, application/strategic-merge-patch+json:
//   the containers merged by name; metadata.resourceVersion, when sent, is a
//   precondition (409 Conflict); an existing ephemeral container may not be
//   changed (422 Invalid) and sending it unchanged is no change, as the real
//   validation (ValidatePodEphemeralContainersUpdate) has it;
// - POST events (409 AlreadyExists for a name taken);
// - namespaces: list and watch, as pods.
// Errors are Status objects, as the real one sends them. What it does not do:
// field selectors, protobuf, server-side apply, admission.

import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer as createPlainServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer } from "node:https";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parseSelector } from "../../src/reaper/selector.js";
import { makeTls } from "./tls.js";

// biome-ignore lint/suspicious/noExplicitAny: pods are free-form JSON here, as on the wire.
export type Obj = Record<string, any>;

interface Watcher {
  readonly resource: "pods" | "namespaces";
  readonly res: ServerResponse;
  readonly namespace: string | undefined;
  readonly matches: (pod: Obj) => boolean;
  readonly bookmarks: boolean;
}

export class StandInApiServer {
  readonly pods = new Map<string, Obj>();
  readonly namespaces = new Map<string, Obj>();
  readonly events: Obj[] = [];
  /** Every request, "METHOD path?query status", for the tests to read. */
  readonly requests: string[] = [];
  /** RBAC: when set, only what these rules (a Role's) allow is done; the rest is 403 Forbidden. */
  rules: readonly { apiGroups: string[]; resources: string[]; verbs: string[] }[] | undefined;
  /**
   * A fault, for the tests of what a real API server does now and then: called for each request
   * that passed authentication; true means it has taken the request (answered it, or left it
   * hanging), and nothing else is done with it.
   */
  intercept: ((req: IncomingMessage, res: ServerResponse, url: URL) => boolean) | undefined;
  /** Called when an ephemeral container is added (the podman suite starts it). */
  onEphemeral: ((pod: Obj, container: Obj) => void) | undefined;
  #rv = 1000;
  #history: { rv: number; type: string; resource: "pods" | "namespaces"; object: Obj }[] = [];
  /** Watches from a resourceVersion below this get 410 Gone. */
  #oldest = 0;
  readonly #watchers = new Set<Watcher>();
  readonly #token = randomBytes(16).toString("hex");

  private constructor(
    readonly server: Server,
    readonly kubeconfig: string,
  ) {}

  /** plain: over HTTP, as kubectl proxy serves it (its kubeconfig then names an http:// server and no CA). */
  static async start(dir: string, options: { plain?: boolean } = {}): Promise<StandInApiServer> {
    const tls = await makeTls();
    const server = options.plain
      ? createPlainServer()
      : createServer({ cert: await readFile(tls.cert), key: await readFile(tls.key) });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const kubeconfig = join(dir, `kubeconfig-${port}`);
    const api = new StandInApiServer(server, kubeconfig);
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: stand-in",
        "  cluster:",
        ...(options.plain
          ? [`    server: http://127.0.0.1:${port}`]
          : [`    server: https://127.0.0.1:${port}`, `    certificate-authority-data: ${tls.ca.toString("base64")}`]),
        "users:",
        "- name: reaper",
        "  user:",
        `    token: ${api.#token}`,
        "contexts:",
        "- name: stand-in",
        "  context: {cluster: stand-in, user: reaper}",
        "current-context: stand-in",
        "",
      ].join("\n"),
    );
    server.on("request", (req, res) => api.#serve(req, res));
    return api;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  createPod(pod: Obj): Obj {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (this.pods.has(key)) throw new Error(`${key} exists`);
    pod.metadata.uid ??= randomBytes(16).toString("hex");
    pod.metadata.creationTimestamp ??= new Date().toISOString();
    return this.#store("ADDED", key, pod);
  }

  updatePod(namespace: string, name: string, change: (pod: Obj) => void): Obj {
    const key = `${namespace}/${name}`;
    const pod = structuredClone(this.pods.get(key));
    if (pod === undefined) throw new Error(`no pod ${key}`);
    change(pod);
    return this.#store("MODIFIED", key, pod);
  }

  /** A namespace, with the label the API server gives every one (kubernetes.io/metadata.name). */
  putNamespace(name: string, labels: Record<string, string> = {}): void {
    const ns = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name,
        labels: { "kubernetes.io/metadata.name": name, ...labels },
        resourceVersion: String(++this.#rv),
      },
    };
    const type = this.namespaces.has(name) ? "MODIFIED" : "ADDED";
    this.namespaces.set(name, ns);
    this.#record(type, ns, "namespaces");
  }

  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (pod === undefined) return;
    this.pods.delete(key);
    const gone = structuredClone(pod);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record("DELETED", gone);
  }

  /** As etcd's compaction: every watch from before now gets 410 Gone. */
  compact(): void {
    this.#history = [];
    this.#oldest = this.#rv + 1;
  }

  /** Cuts every watch (a network drop, an API server restart): the clients must watch again. */
  dropWatches(): void {
    for (const w of this.#watchers) w.res.socket?.destroy();
    this.#watchers.clear();
  }

  /** Sends a BOOKMARK to the watches that asked for them. */
  bookmark(): void {
    for (const w of this.#watchers)
      if (w.bookmarks)
        this.#send(w, "BOOKMARK", { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: String(this.#rv) } });
  }

  get watchCount(): number {
    return this.#watchers.size;
  }

  close(): Promise<void> {
    this.dropWatches();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  #store(type: string, key: string, pod: Obj): Obj {
    pod.metadata.resourceVersion = String(++this.#rv);
    this.pods.set(key, pod);
    this.#record(type, pod);
    return pod;
  }

  #record(type: string, obj: Obj, resource: "pods" | "namespaces" = "pods"): void {
    const object = structuredClone(obj);
    this.#history.push({ rv: Number(obj.metadata.resourceVersion), type, resource, object });
    for (const w of this.#watchers) if (w.resource === resource && w.matches(object)) this.#send(w, type, object);
  }

  #send(w: Watcher, type: string, object: Obj): void {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "https://stand-in");
    const log = (status: number): void => {
      this.requests.push(`${req.method} ${url.pathname}${url.search} ${status}`);
    };
    const status = (code: number, reason: string, message: string): void => {
      log(code);
      res.writeHead(code, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code }),
      );
    };
    const ok = (code: number, body: Obj): void => {
      log(code);
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.#token}`) {
      status(401, "Unauthorized", "Unauthorized");
      return;
    }
    if (this.intercept?.(req, res, url)) {
      this.requests.push(`${req.method} ${url.pathname}${url.search} intercepted`);
      return;
    }
    const forbidden = (verb: string, resource: string): boolean => {
      if (this.rules === undefined) return false;
      const allowed = this.rules.some(
        (r) => r.apiGroups.includes("") && r.resources.includes(resource) && r.verbs.includes(verb),
      );
      if (!allowed)
        status(
          403,
          "Forbidden",
          `User "system:serviceaccount:iqqq-system:iqqq-reaper" cannot ${verb} resource "${resource}"`,
        );
      return !allowed;
    };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = url.pathname;
      if (path === "/api/v1/namespaces" && req.method === "GET") {
        const watching = url.searchParams.get("watch") === "true";
        if (forbidden(watching ? "watch" : "list", "namespaces")) return;
        if (watching) return this.#watch(url, res, undefined, () => true, log, "namespaces");
        return ok(200, {
          kind: "NamespaceList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(this.#rv) },
          items: [...this.namespaces.values()],
        });
      }
      let m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/.exec(path);
      if (m !== null && req.method === "GET") {
        const namespace = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
        const selector = url.searchParams.get("labelSelector");
        const parsed = selector ? parseSelector(selector) : undefined;
        if (parsed instanceof Error) return status(400, "BadRequest", parsed.message);
        if (forbidden(url.searchParams.get("watch") === "true" ? "watch" : "list", "pods")) return;
        const matches = (pod: Obj): boolean =>
          (namespace === undefined || pod.metadata.namespace === namespace) &&
          (parsed === undefined || parsed.matches(pod.metadata.labels ?? {}));
        if (url.searchParams.get("watch") === "true") return this.#watch(url, res, namespace, matches, log);
        const all = [...this.pods.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([, p]) => p)
          .filter(matches);
        const limit = Number(url.searchParams.get("limit") ?? "0");
        const from = Number(url.searchParams.get("continue") ?? "0");
        const items = limit > 0 ? all.slice(from, from + limit) : all.slice(from);
        const more = limit > 0 && from + limit < all.length;
        return ok(200, {
          kind: "PodList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(this.#rv), ...(more ? { continue: String(from + limit) } : {}) },
          items,
        });
      }
      m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/ephemeralcontainers$/.exec(path);
      if (m !== null && req.method === "PATCH") {
        if (forbidden("patch", "pods/ephemeralcontainers")) return;
        if (req.headers["content-type"] !== "application/strategic-merge-patch+json")
          return status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format: ${req.headers["content-type"]}`,
          );
        const key = `${decodeURIComponent(m[1] as string)}/${decodeURIComponent(m[2] as string)}`;
        const pod = this.pods.get(key);
        if (pod === undefined) return status(404, "NotFound", `pods "${m[2]}" not found`);
        const patch = JSON.parse(body) as Obj;
        const precondition = patch.metadata?.resourceVersion;
        if (precondition !== undefined && precondition !== pod.metadata.resourceVersion)
          return status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on pods "${m[2]}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        const existing: Obj[] = pod.spec.ephemeralContainers ?? [];
        const added: Obj[] = [];
        for (const c of (patch.spec?.ephemeralContainers ?? []) as Obj[]) {
          if (!c.name || !c.image)
            return status(422, "Invalid", "spec.ephemeralContainers: name and image are required");
          const same = existing.find((e) => e.name === c.name);
          if (same === undefined) added.push(c);
          else if (!isDeepStrictEqual(same, c))
            return status(
              422,
              "Invalid",
              `Pod "${m[2]}" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "${c.name}" may not be changed`,
            );
        }
        if (added.length === 0) return ok(200, pod);
        const updated = this.updatePod(pod.metadata.namespace, pod.metadata.name, (p) => {
          p.spec.ephemeralContainers = [...existing, ...added];
        });
        ok(200, updated);
        for (const c of added) this.onEphemeral?.(updated, c);
        return;
      }
      m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path);
      if (m !== null && req.method === "POST") {
        if (forbidden("create", "events")) return;
        const event = JSON.parse(body) as Obj;
        if (this.events.some((e) => e.metadata.name === event.metadata?.name))
          return status(409, "AlreadyExists", `events "${event.metadata?.name}" already exists`);
        event.metadata.resourceVersion = String(++this.#rv);
        this.events.push(event);
        return ok(201, event);
      }
      status(404, "NotFound", "the server could not find the requested resource");
    });
  }

  #watch(
    url: URL,
    res: ServerResponse,
    namespace: string | undefined,
    matches: (pod: Obj) => boolean,
    log: (status: number) => void,
    resource: "pods" | "namespaces" = "pods",
  ): void {
    log(200);
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    // As the real one: the headers go at once, before any event (a client waits for them to start watching).
    res.flushHeaders();
    const w: Watcher = {
      resource,
      res,
      namespace,
      matches,
      bookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
    };
    const from = url.searchParams.get("resourceVersion") ?? "";
    if (from !== "" && from !== "0" && Number(from) < this.#oldest - 1) {
      this.#send(w, "ERROR", {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `too old resource version: ${from} (${this.#oldest})`,
        reason: "Expired",
        code: 410,
      });
      res.end();
      return;
    }
    if (from === "" || from === "0") {
      const all = resource === "pods" ? this.pods : this.namespaces;
      for (const obj of all.values()) if (matches(obj)) this.#send(w, "ADDED", obj);
    } else {
      for (const e of this.#history)
        if (e.resource === resource && e.rv > Number(from) && matches(e.object)) this.#send(w, e.type, e.object);
    }
    this.#watchers.add(w);
    const seconds = Number(url.searchParams.get("timeoutSeconds") ?? "0");
    const timer = seconds > 0 ? setTimeout(() => res.end(), seconds * 1000) : undefined;
    res.on("close", () => {
      clearTimeout(timer);
      this.#watchers.delete(w);
    });
  }
}

/** A Job's pod as the Job controller makes it: a job container and istio-proxy, both running. */
export function jobPod(name: string, options: { namespace?: string; restartPolicy?: string; job?: boolean } = {}): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: options.namespace ?? "default",
      labels: { "batch.kubernetes.io/job-name": name.replace(/-[^-]+$/, "") },
      ...(options.job === false
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: "batch/v1",
                kind: "Job",
                name: name.replace(/-[^-]+$/, ""),
                uid: randomBytes(8).toString("hex"),
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }),
    },
    spec: {
      restartPolicy: options.restartPolicy ?? "Never",
      containers: [
        { name: "job", image: "registry.example/nightly-report:1.0" },
        { name: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.0" },
      ],
    },
    status: {
      phase: "Running",
      containerStatuses: [
        { name: "job", state: { running: { startedAt: new Date().toISOString() } } },
        { name: "istio-proxy", state: { running: { startedAt: new Date().toISOString() } } },
      ],
    },
  };
}

/** What the kubelet writes when a container ends. */
export function terminated(pod: Obj, container: string, exitCode: number, finishedAt = new Date()): void {
  const s = (pod.status.containerStatuses as Obj[]).find((c) => c.name === container);
  if (s === undefined) throw new Error(`no status for ${container}`);
  s.state = {
    terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", finishedAt: finishedAt.toISOString() },
  };
}
