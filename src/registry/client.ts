// An image's ENTRYPOINT and CMD, read from its registry with the OCI
// distribution API: the manifest (an image index or Docker manifest list is
// narrowed to each platform asked for that it has), then the config blob, each
// checked against its digest before it is used. Anonymous access, Basic credentials and
// the bearer-token flow (Docker Hub, GHCR, Quay, GCR/AR, ECR's Basic), with
// credentials from credentials.ts. Registries on a loopback address are spoken
// to over plain HTTP, as Docker and podman do; every other one over HTTPS.
//
// What a registry (or an image name) cannot make iqqq do, whoever wrote it:
// - fetch a manifest from another host than the registry's, or follow a
//   redirect from https to http (blobs may be redirected to another host, as
//   registries do to their CDNs: then without credentials, under the same
//   address policy, network.ts);
// - send credentials anywhere but the registry itself or its token realm on
//   https (a realm on plain http only for a registry on loopback);
// - read more than MANIFEST_LIMIT / CONFIG_LIMIT / TOKEN_LIMIT bytes;
// - have its words repeated: errors say the status and the registry's error
//   code, never the body.
//
// Why not a package: none of those on npm does the above. The maintained one,
// @snyk/docker-registry-v2-client 4.0.5, checks a token realm's host, but not a
// config blob against its digest, sets no limit on an answer's size, and brings
// needle, psl, parse-link-header and tslib; docker-registry-client 3.4.0 (and
// Renovate's fork) is built on restify-clients and bunyan, twelve dependencies;
// oci-registry-client 0.2.0 is node-fetch 2 and about a thousand downloads a month.

import type { ImageCommand } from "../inject/inject.js";
import type { Env } from "../io.js";
import { builtin } from "../runtime/builtins.js";
import { moreContainersThan } from "../runtime/json.js";
import { credentialsFor } from "./credentials.js";
import { type AddressPolicy, type Budget, type Fetched, get, NetworkError, OPEN_POLICY } from "./network.js";
import { type Digest, manifestName, parseDigest, parseReference, type Reference } from "./reference.js";

const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
];
/** The OCI distribution spec: registries and clients SHOULD accept manifests of at least 4 MiB; iqqq takes no more. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** An image config: real ones are a few KiB (each layer's history line); iqqq takes up to 4 MiB. */
export const CONFIG_LIMIT = 4 * 1024 * 1024;
/** A token answer (a JWT and its expiry). */
const TOKEN_LIMIT = 64 * 1024;
/** Objects and arrays in a manifest, index or config (a config with 1,000 history lines has some 2,000). */
const CONTAINERS_LIMIT = 20_000;
/** The error codes of the OCI distribution spec: the only words of a registry's error body ever repeated. */
const ERROR_CODES = new Set([
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
]);
const REQUEST_TIMEOUT_MS = 15_000;
const MAX_REDIRECTS = 3;

export interface LookupOptions {
  /** OS/ARCH[/VARIANT], such as linux/amd64: those to read, of an index (one image for all: that one). */
  readonly platforms: readonly string[];
  readonly env: Env;
  /** Ends the whole look-up early (the webhook's answer cannot wait past the API server's timeout). */
  readonly signal?: AbortSignal;
  /** Which addresses may be contacted; iqqq inject: any. */
  readonly policy?: AddressPolicy;
  /** Bytes of answers read at once, shared with other look-ups. */
  readonly budget?: Budget;
  /** base64(user:password) for the registry, used before the files credentialsFor reads (a pod's imagePullSecrets). */
  readonly credentials?: string | undefined;
}

export class RegistryError extends Error {
  /** The network error's code when there was one (ECONNREFUSED, ENOTFOUND, ETIMEOUT, …). */
  code: string | undefined;
}

/**
 * The image's ENTRYPOINT and CMD on each platform asked for that its index has (at least
 * one, else an error), each with its platform; an image that is no index: its own, with
 * no platform (it is the same on every node).
 */
export async function imageCommand(ref: string, options: LookupOptions): Promise<readonly ImageCommand[]> {
  const image = parseReference(ref);
  const policy = options.policy ?? OPEN_POLICY;
  const client = new RegistryClient(
    image,
    options.credentials ?? credentialsFor(image.registry, options.env),
    policy,
    options.signal,
    options.budget,
  );
  let manifest: Json | undefined = await client.json(
    `manifests/${manifestName(image)}`,
    [...INDEX_TYPES, ...MANIFEST_TYPES],
    { limit: MANIFEST_LIMIT, digest: image.digest, what: `the manifest ${manifestName(image).slice(0, 19)}` },
  );
  if (!INDEX_TYPES.includes(String(manifest.mediaType)) && !Array.isArray(manifest.manifests))
    return [await configCommand(client, configOf(ref, manifest), undefined)];
  const list = manifest.manifests;
  const chosen = options.platforms.flatMap((platform) => {
    const digest = choosePlatform(list, platform);
    return digest === undefined ? [] : [{ platform, digest }];
  });
  // Not kept while waiting for more: the bytes it held count against the budget no longer.
  manifest = undefined;
  if (chosen.length === 0) throw new RegistryError(`${ref} has no image for ${options.platforms.join(" or ")}`);
  // Side by side (the index's request has already got any token they need); a failure
  // is reported as one after the other would report it: the first platform's.
  const settled = await Promise.allSettled(
    chosen.map(async ({ platform, digest: named }) => {
      const digest = parseDigest(named, (why) => {
        throw new RegistryError(`${ref}: its index names a manifest by a bad digest: ${why}`);
      });
      const one = await client.json(`manifests/${digest.text}`, MANIFEST_TYPES, {
        limit: MANIFEST_LIMIT,
        digest,
        what: `the ${platform} manifest`,
      });
      return configCommand(client, configOf(ref, one), platform);
    }),
  );
  return settled.map((s) => {
    if (s.status === "rejected") throw s.reason;
    return s.value;
  });
}

/** The digest of the config an image manifest names. */
function configOf(ref: string, manifest: Json): Digest {
  const named = (manifest.config as { digest?: unknown } | undefined)?.digest;
  if (typeof named !== "string") throw new RegistryError(`${ref}: the manifest names no config`);
  return parseDigest(named, (why) => {
    throw new RegistryError(`${ref}: the manifest names its config by a bad digest: ${why}`);
  });
}

/** ENTRYPOINT and CMD from an image's config. */
async function configCommand(
  client: RegistryClient,
  digest: Digest,
  platform: string | undefined,
): Promise<ImageCommand> {
  const config = await client.json(`blobs/${digest.text}`, ["application/json", "*/*"], {
    limit: CONFIG_LIMIT,
    digest,
    blob: true,
    what: platform === undefined ? "the image config" : `the ${platform} image config`,
  });
  const inner = (config.config ?? {}) as { Entrypoint?: unknown; Cmd?: unknown };
  return {
    entrypoint: strings(inner.Entrypoint),
    cmd: strings(inner.Cmd),
    ...(platform === undefined ? {} : { platform }),
  };
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
  return typeof best?.digest === "string" ? best.digest : undefined;
}

type Json = Record<string, unknown>;

interface What {
  /** For messages: "the manifest 1.2", "the image config". */
  readonly what: string;
  readonly limit: number;
  /** The content must hash to this. */
  readonly digest: Digest | undefined;
  /** A blob: may be redirected to another host (a CDN), which gets no credentials. */
  readonly blob?: boolean;
}

class RegistryClient {
  readonly #base: URL;
  #authorization: string | undefined;

  constructor(
    private readonly image: Reference,
    private readonly basic: string | undefined,
    private readonly policy: AddressPolicy,
    private readonly deadline: AbortSignal | undefined,
    private readonly budget: Budget | undefined,
  ) {
    const host = image.host.includes(":") ? `[${image.host}]` : image.host;
    const loopback = image.host === "localhost" || /^127\./.test(image.host) || image.host === "::1";
    this.#base = new URL(
      `${loopback ? "http" : "https"}://${host}${image.port === undefined ? "" : `:${image.port}`}/v2/${image.repository}/`,
    );
  }

  get #plainHttp(): boolean {
    return this.#base.protocol === "http:";
  }

  async json(path: string, accept: readonly string[], what: What): Promise<Json> {
    const url = new URL(path, this.#base);
    const name = `${this.image.registry}: ${what.what}`;
    let response: Fetched;
    try {
      response = await this.#follow(url, accept, what);
      if (response.status === 401) {
        this.#authorization = await this.#authorize(String(response.headers["www-authenticate"] ?? ""));
        response = await this.#follow(url, accept, what);
      }
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      const wrapped = new RegistryError(`${name}: ${err.message}`);
      wrapped.code = err.code;
      throw wrapped;
    }
    if (response.status !== 200) throw new RegistryError(`${name}: ${statusLine(response)}`);
    if (what.digest !== undefined) {
      const hex = builtin("node:crypto").createHash(what.digest.algorithm).update(response.body).digest("hex");
      if (hex !== what.digest.hex)
        throw new RegistryError(`${name}: the content is not what its digest says; not used`);
    }
    if (moreContainersThan(response.body, CONTAINERS_LIMIT))
      throw new RegistryError(`${name}: the answer holds more than ${CONTAINERS_LIMIT} objects and arrays; not read`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.body.toString("utf8"));
    } catch {
      throw new RegistryError(`${name}: the answer is not JSON`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new RegistryError(`${name}: the answer is not a JSON object`);
    return parsed as Json;
  }

  /** GET, following at most MAX_REDIRECTS redirects by the rules at the top of this file. */
  async #follow(first: URL, accept: readonly string[], what: What): Promise<Fetched> {
    let url = first;
    for (let hops = 0; ; hops++) {
      const own = url.origin === this.#base.origin;
      const response = await get(url, {
        headers: {
          accept: accept.join(", "),
          ...(own && this.#authorization !== undefined ? { authorization: this.#authorization } : {}),
        },
        limit: what.limit,
        signal: this.#signal(),
        policy: this.policy,
        budget: this.budget,
      });
      if (![301, 302, 303, 307, 308].includes(response.status)) return response;
      const location = response.headers.location;
      let next: URL;
      const name = `${this.image.registry}: ${what.what}`;
      try {
        next = new URL(String(location), url);
      } catch {
        throw new RegistryError(`${name}: redirected to a location that is not a URL`);
      }
      if (hops >= MAX_REDIRECTS) throw new RegistryError(`${name}: more than ${MAX_REDIRECTS} redirects`);
      if (url.protocol === "https:" && next.protocol !== "https:")
        throw new RegistryError(`${name}: redirected to ${next.protocol.slice(0, 12)} (from https): not followed`);
      if (!what.blob && next.origin !== this.#base.origin)
        throw new RegistryError(
          `${name}: redirected to another host: not followed (a manifest comes from its registry)`,
        );
      url = next;
    }
  }

  #signal(): AbortSignal {
    const own = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    return this.deadline === undefined ? own : AbortSignal.any([own, this.deadline]);
  }

  /** Answers a 401's challenge: Basic with the stored credentials, or Bearer with a token fetched with them. */
  async #authorize(challenge: string): Promise<string> {
    const registry = this.image.registry;
    const scheme = challenge.split(" ")[0]?.toLowerCase();
    if (scheme === "basic") {
      if (this.basic === undefined)
        throw new RegistryError(`${registry}: 401 Unauthorized: it wants credentials, and none are configured`);
      return `Basic ${this.basic}`;
    }
    if (scheme !== "bearer")
      throw new RegistryError(
        `${registry}: 401 Unauthorized with an authentication scheme iqqq does not speak (${JSON.stringify(scheme?.slice(0, 20))})`,
      );
    const params = Object.fromEntries(
      [...challenge.matchAll(/([a-z_]+)="([^"]*)"/gi)].map((m) => [(m[1] as string).toLowerCase(), m[2] as string]),
    );
    if (params.realm === undefined) throw new RegistryError(`${registry}: a Bearer challenge without a realm`);
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new RegistryError(`${registry}: its token realm is not a URL`);
    }
    const sameHost = realm.host === this.#base.host;
    if (realm.protocol !== "https:" && !(realm.protocol === "http:" && this.#plainHttp && sameHost))
      throw new RegistryError(
        `${registry}: its token realm is a ${realm.protocol.slice(0, 12)} URL${sameHost || !/^https?:$/.test(realm.protocol) ? "" : " on another host"}: only https is used for tokens (plain http only on a loopback registry itself)`,
      );
    if (params.service !== undefined) realm.searchParams.set("service", params.service);
    realm.searchParams.set("scope", params.scope ?? `repository:${this.image.repository}:pull`);
    const response = await get(realm, {
      headers: { accept: "application/json", ...(this.basic ? { authorization: `Basic ${this.basic}` } : {}) },
      limit: TOKEN_LIMIT,
      signal: this.#signal(),
      policy: this.policy,
      budget: this.budget,
    });
    const where = `${registry}: its token realm`;
    if (response.status !== 200) throw new RegistryError(`${where}: ${statusLine(response)}`);
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(response.body.toString("utf8")) as typeof body;
    } catch {
      throw new RegistryError(`${where}: the answer is not JSON`);
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token))
      throw new RegistryError(`${where}: no usable token in the answer`);
    return `Bearer ${token}`;
  }
}

/** "404 Not Found (MANIFEST_UNKNOWN)": the status, its standard text, and the spec's error code when the registry gives one; never the registry's own words. */
function statusLine(response: Fetched): string {
  let code = "";
  try {
    const errors = (JSON.parse(response.body.toString("utf8")) as { errors?: { code?: unknown }[] }).errors;
    const first = errors?.[0]?.code;
    if (typeof first === "string" && ERROR_CODES.has(first)) code = ` (${first})`;
  } catch {}
  const text = builtin("node:http").STATUS_CODES[response.status];
  return `${response.status}${text === undefined ? "" : ` ${text}`}${code}`;
}

export { NetworkError };
