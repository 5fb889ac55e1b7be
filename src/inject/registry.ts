// An image's ENTRYPOINT and CMD, read from its registry with the OCI
// distribution API: the manifest (an image index or Docker manifest list is
// narrowed to the platform asked for), then the config blob. Anonymous access,
// Basic credentials and the bearer-token flow (Docker Hub, GHCR, Quay, GCR/AR,
// ECR's Basic), with credentials from podman's auth.json or Docker's
// config.json. Registries on a loopback address are spoken to over plain HTTP,
// as Docker and podman do; every other one over HTTPS.

import type { Env } from "../config/config.js";
import { isLoopback } from "../config/values.js";
import { builtin } from "../runtime/builtins.js";
import type { ImageCommand } from "./inject.js";

const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];
const REQUEST_TIMEOUT_MS = 15_000;

export interface LookupOptions {
  /** OS/ARCH[/VARIANT], such as linux/amd64. */
  readonly platform: string;
  readonly env: Env;
  /** Ends the whole look-up early (the webhook's answer cannot wait past the API server's timeout). */
  readonly signal?: AbortSignal;
}

export interface Reference {
  /** host[:port] to connect to. */
  readonly registry: string;
  readonly repository: string;
  /** A tag or a digest. */
  readonly reference: string;
}

/** docker.io/library/python:3.12 and its short forms, as Docker reads them. */
export function parseReference(ref: string): Reference {
  let rest = ref;
  let reference = "latest";
  const at = rest.indexOf("@");
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  let registry = "docker.io";
  if (first !== "" && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    rest = rest.slice(slash + 1);
  }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    if (at < 0) reference = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (registry === "docker.io") {
    registry = "registry-1.docker.io";
    if (!rest.includes("/")) rest = `library/${rest}`;
  }
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(rest) || reference === "")
    throw new Error(`${JSON.stringify(ref)} is not an image reference`);
  return { registry, repository: rest, reference };
}

export async function imageCommand(ref: string, options: LookupOptions): Promise<ImageCommand> {
  const image = parseReference(ref);
  const client = new RegistryClient(image, credentialsFor(image.registry, options.env), options.signal);
  let manifest = await client.json(`manifests/${image.reference}`, [...INDEX_TYPES, ...MANIFEST_TYPES]);
  if (INDEX_TYPES.includes(String(manifest.mediaType)) || Array.isArray(manifest.manifests)) {
    const chosen = choosePlatform(manifest.manifests, options.platform);
    if (chosen === undefined) throw new Error(`${ref} has no image for ${options.platform}`);
    manifest = await client.json(`manifests/${chosen}`, MANIFEST_TYPES);
  }
  const digest = (manifest.config as { digest?: unknown } | undefined)?.digest;
  if (typeof digest !== "string") throw new Error(`${ref}: the manifest names no config`);
  const config = await client.json(`blobs/${digest}`, ["application/json", "*/*"]);
  const inner = (config.config ?? {}) as { Entrypoint?: unknown; Cmd?: unknown };
  return { entrypoint: strings(inner.Entrypoint), cmd: strings(inner.Cmd) };
}

function strings(x: unknown): string[] {
  return Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : [];
}

function choosePlatform(manifests: unknown, platform: string): string | undefined {
  const [os, arch, variant] = platform.split("/");
  const list = (Array.isArray(manifests) ? manifests : []) as {
    digest?: string;
    platform?: { os?: string; architecture?: string; variant?: string };
  }[];
  const candidates = list.filter((m) => m.platform?.os === os && m.platform?.architecture === arch);
  const best = candidates.find((m) => variant === undefined || m.platform?.variant === variant) ?? candidates[0];
  return best?.digest;
}

type Json = Record<string, unknown>;

class RegistryClient {
  readonly #base: string;
  #authorization: string | undefined;

  constructor(
    private readonly image: Reference,
    private readonly basic: string | undefined,
    private readonly deadline: AbortSignal | undefined,
  ) {
    const loopback = isLoopback(new URL(`http://${image.registry}`));
    this.#base = `${loopback ? "http" : "https"}://${image.registry}/v2/${image.repository}/`;
  }

  async json(path: string, accept: readonly string[]): Promise<Json> {
    const url = this.#base + path;
    let response = await this.#get(url, accept);
    if (response.status === 401) {
      this.#authorization = await this.#authorize(response.headers.get("www-authenticate") ?? "");
      response = await this.#get(url, accept);
    }
    if (!response.ok) {
      const body = (await response.text().catch(() => "")).slice(0, 200).trim();
      throw new Error(`GET ${url}: ${response.status}${body ? ` ${body}` : ""}`);
    }
    return (await response.json()) as Json;
  }

  #get(url: string, accept: readonly string[]): Promise<Response> {
    return fetch(url, {
      headers: { accept: accept.join(", "), ...(this.#authorization ? { authorization: this.#authorization } : {}) },
      signal: this.#signal(),
    });
  }

  #signal(): AbortSignal {
    const own = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    return this.deadline === undefined ? own : AbortSignal.any([own, this.deadline]);
  }

  /** Answers a 401's challenge: Basic with the stored credentials, or Bearer with a token fetched with them. */
  async #authorize(challenge: string): Promise<string> {
    const scheme = challenge.split(" ")[0]?.toLowerCase();
    if (scheme === "basic") {
      if (this.basic === undefined)
        throw new Error(`${this.image.registry} wants credentials, and none are configured`);
      return `Basic ${this.basic}`;
    }
    if (scheme !== "bearer")
      throw new Error(`${this.image.registry}: unknown authentication ${JSON.stringify(challenge)}`);
    const params = Object.fromEntries(
      [...challenge.matchAll(/([a-z_]+)="([^"]*)"/gi)].map((m) => [(m[1] as string).toLowerCase(), m[2] as string]),
    );
    if (params.realm === undefined) throw new Error(`${this.image.registry}: a Bearer challenge without a realm`);
    const tokenUrl = new URL(params.realm);
    if (params.service !== undefined) tokenUrl.searchParams.set("service", params.service);
    tokenUrl.searchParams.set("scope", params.scope ?? `repository:${this.image.repository}:pull`);
    const response = await fetch(tokenUrl, {
      headers: this.basic ? { authorization: `Basic ${this.basic}` } : {},
      signal: this.#signal(),
    });
    if (!response.ok) throw new Error(`token from ${tokenUrl.origin}${tokenUrl.pathname}: ${response.status}`);
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (typeof token !== "string") throw new Error(`token from ${tokenUrl.origin}: no token in the answer`);
    return `Bearer ${token}`;
  }
}

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
