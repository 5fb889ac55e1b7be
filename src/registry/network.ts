// How iqqq reaches a registry: which addresses it may contact, how it resolves
// names, and one bounded GET. Everything a registry look-up sends goes through
// get() below, so the rules hold for manifests, blobs and token realms alike:
// - only http: and https: URLs (never file:, data: or anything a runtime's
//   fetch might honour); no user info in a URL;
// - the address actually connected to is checked (in the socket's look-up, so
//   a name cannot resolve to one address when checked and another when used);
//   loopback, private, link-local and other non-public addresses only when the
//   policy allows them (iqqq inject on a user's machine: any; the webhook: only
//   registries or ranges it is told with --allow-registry);
// - nothing is decompressed (Accept-Encoding: identity; any other encoding in
//   the answer is refused), and a body over its limit is cut off as it arrives;
// - redirects are not followed here: the caller decides (client.ts).
//
// Written by hand, and why: fetch() cannot check the connected address, follows
// redirects across schemes, decompresses without a bound, and in Bun reads
// file: URLs; node:http/https with a look-up hook does all of that in both
// runtimes. net.BlockList was tried for the ranges: once a ::ffff:0:0/96 rule
// is in, it matches every IPv4 address (seen in Node 20 and Bun 1.4), and it
// cannot read the IPv4 address inside a mapped, NAT64 or 6to4 one; the byte
// comparison below is 40 lines. Names are resolved by the DNS resolver
// (c-ares) in the webhook, not getaddrinfo: getaddrinfo runs on a small thread
// pool in both runtimes, and six names whose DNS never answers held a seventh,
// good one for 30 s (measured here); c-ares applies no search list, so the
// resolv.conf search rules are applied here (search, domain, ndots).

import type { IncomingHttpHeaders } from "node:http";
import { builtin } from "../runtime/builtins.js";
import { VERSION } from "../version.js";

export interface AddressPolicy {
  /** Any address may be contacted (iqqq inject, run by a person on their own machine). */
  readonly anyAddress: boolean;
  /** Registries (host, host:port) and ranges (CIDR) that may be contacted at a non-public address. */
  readonly allowed: readonly string[];
  /** "system": getaddrinfo (/etc/hosts, nsswitch). "dns": the resolv.conf nameservers and search list, asynchronously. */
  readonly resolver: "system" | "dns";
}

export const OPEN_POLICY: AddressPolicy = { anyAddress: true, allowed: [], resolver: "system" };

type Bytes = readonly number[];

/** Non-public ranges: [first bytes of the 16-byte form, prefix bits, what it is]. */
const NON_PUBLIC: readonly [string, number, string][] = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared (carrier NAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "documentation"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local"],
  ["fc00::", 7, "private"],
  ["64:ff9b:1::", 48, "private (local NAT64)"],
  ["ff00::", 8, "multicast"],
  ["2001:db8::", 32, "documentation"],
];

/** The 16-byte form of an IPv4 (as ::ffff:a.b.c.d) or IPv6 address; undefined when it is neither. */
export function addressBytes(text: string): Bytes | undefined {
  const net = builtin("node:net");
  if (net.isIPv4(text)) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...text.split(".").map(Number)];
  if (!net.isIPv6(text)) return undefined;
  let s = text.replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4 !== null) {
    const [a, b, c, d] = (v4[1] as string).split(".").map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? (s.split("::") as [string, string]) : [s, undefined];
  const groups = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function inRange(ip: Bytes, base: Bytes, bits: number): boolean {
  for (let i = 0; i < 16; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    const mask = (0xff << (8 - take)) & 0xff;
    if (((ip[i] as number) & mask) !== ((base[i] as number) & mask)) return false;
  }
  return true;
}

/** A range as bytes and prefix bits: IPv4 prefixes count within the mapped form. */
function range(base: string, bits: number): [Bytes, number] {
  const bytes = addressBytes(base) as Bytes;
  return [bytes, builtin("node:net").isIPv4(base) ? bits + 96 : bits];
}

/** The IPv4 address inside a mapped, IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) IPv6 one. */
function embeddedIPv4(ip: Bytes): Bytes | undefined {
  const v4 = (from: number): Bytes => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.slice(from, from + 4)];
  if (inRange(ip, ...range("::ffff:0:0", 96))) return undefined; // already the IPv4 form
  if (inRange(ip, ...range("::", 96)) && !inRange(ip, ...range("::", 127))) return v4(12);
  if (inRange(ip, ...range("::ffff:0:0:0", 96))) return v4(12);
  if (inRange(ip, ...range("64:ff9b::", 96))) return v4(12);
  if (inRange(ip, ...range("2002::", 16))) return v4(2);
  return undefined;
}

/** What kind of non-public address this is ("loopback", "private", …), or undefined for a public one. */
export function nonPublic(address: string): string | undefined {
  const ip = addressBytes(address);
  if (ip === undefined) return "not an address";
  for (const candidate of [ip, embeddedIPv4(ip)]) {
    if (candidate === undefined) continue;
    for (const [base, bits, what] of NON_PUBLIC) if (inRange(candidate, ...range(base, bits))) return what;
  }
  return undefined;
}

/** Checks --allow-registry's entries; returns the first that is neither host[:port] nor a CIDR range. */
export function badAllowEntry(entries: readonly string[]): string | undefined {
  return entries.find((e) => {
    const cidr = /^(.+)\/(\d{1,3})$/.exec(e);
    if (cidr !== null) {
      const bytes = addressBytes(cidr[1] as string);
      return bytes === undefined || Number(cidr[2]) > (builtin("node:net").isIPv4(cidr[1] as string) ? 32 : 128);
    }
    return !/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/.test(e);
  });
}

/** Why `address` (which `host`:`port` resolved to) may not be contacted; undefined when it may. */
export function refusal(policy: AddressPolicy, host: string, port: number, address: string): string | undefined {
  if (policy.anyAddress) return undefined;
  const what = nonPublic(address);
  if (what === undefined) return undefined;
  const bracketed = host.includes(":") ? `[${host}]` : host;
  const ip = addressBytes(address) as Bytes;
  const allowed = policy.allowed.some((entry) => {
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr !== null) return inRange(ip, ...range(cidr[1] as string, Number(cidr[2])));
    const e = entry.toLowerCase();
    return e === bracketed.toLowerCase() || e === `${bracketed}:${port}`.toLowerCase();
  });
  if (allowed) return undefined;
  // The address itself is not said: the pod's creator sees this, and the webhook is no DNS service.
  const is = address === host ? "is" : "resolves to";
  return `${bracketed} ${is} a ${what} address: not contacted (allow it with --allow-registry ${bracketed}${what === "loopback" ? "" : " or its range"})`;
}

export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

interface Resolved {
  readonly until: number;
  readonly addresses: Promise<{ address: string; family: number }[]>;
}
const CACHE_OK_MS = 30_000;
const CACHE_FAILED_MS = 5_000;
const CACHE_ENTRIES = 1000;
const NAME_DEADLINE_MS = 3000;
const resolved = new Map<string, Resolved>();
let searchRules: { search: string[]; ndots: number } | undefined;

/** Each name resolved once at a time, remembered for 30 s (5 s when it failed), given at most 3 s. */
function resolve(host: string, policy: AddressPolicy): Promise<{ address: string; family: number }[]> {
  const net = builtin("node:net");
  const family = net.isIP(host);
  if (family !== 0) return Promise.resolve([{ address: host, family }]);
  const name = host.toLowerCase().replace(/\.$/, "");
  if (name === "localhost")
    return Promise.resolve([
      { address: "127.0.0.1", family: 4 },
      { address: "::1", family: 6 },
    ]);
  const key = `${policy.resolver}:${name}`;
  const now = Date.now();
  const known = resolved.get(key);
  if (known !== undefined && known.until > now) return known.addresses;
  const addresses = withDeadline(
    policy.resolver === "system" ? systemLookup(name) : dnsLookup(name),
    NAME_DEADLINE_MS,
    () => new NetworkError(`${host}: DNS gave no answer in ${NAME_DEADLINE_MS / 1000} s`, "ETIMEOUT"),
  );
  const entry = { until: now + CACHE_OK_MS, addresses };
  resolved.delete(key);
  resolved.set(key, entry);
  if (resolved.size > CACHE_ENTRIES) resolved.delete(resolved.keys().next().value as string);
  addresses.catch(() => {
    if (resolved.get(key) === entry) resolved.set(key, { until: Date.now() + CACHE_FAILED_MS, addresses });
  });
  return addresses;
}

async function systemLookup(name: string): Promise<{ address: string; family: number }[]> {
  return builtin("node:dns").promises.lookup(name, { all: true });
}

let dnsResolver: import("node:dns").promises.Resolver | undefined;

/** A and AAAA records, the resolv.conf search list applied as glibc does. */
async function dnsLookup(name: string): Promise<{ address: string; family: number }[]> {
  dnsResolver ??= new (builtin("node:dns").promises.Resolver)({ timeout: 1000, tries: 2 });
  const resolver = dnsResolver;
  searchRules ??= readSearchRules();
  const { search, ndots } = searchRules;
  const dots = name.split(".").length - 1;
  const suffixed = search.map((domain) => `${name}.${domain}`);
  const candidates = dots >= ndots ? [name, ...suffixed] : [...suffixed, name];
  let failure: unknown;
  for (const candidate of candidates) {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(candidate), resolver.resolve6(candidate)]);
    const found = [
      ...(v4.status === "fulfilled" ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === "fulfilled" ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (found.length > 0) return found;
    failure = v4.status === "rejected" ? v4.reason : v6.status === "rejected" ? v6.reason : undefined;
  }
  const code = (failure as { code?: string } | undefined)?.code ?? "ENOTFOUND";
  throw new NetworkError(`${name}: no address (DNS: ${code})`, code === "ENODATA" ? "ENOTFOUND" : code);
}

function readSearchRules(): { search: string[]; ndots: number } {
  let search: string[] = [];
  let ndots = 1;
  try {
    for (const line of builtin("node:fs").readFileSync("/etc/resolv.conf", "utf8").split("\n")) {
      const [word, ...rest] = line.trim().split(/\s+/);
      if (word === "search" || word === "domain") search = rest.slice(0, 6);
      if (word === "options")
        for (const option of rest) {
          const m = /^ndots:(\d+)$/.exec(option);
          if (m !== null) ndots = Math.min(15, Number(m[1]));
        }
    }
  } catch {}
  return { search, ndots };
}

function withDeadline<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(error()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export interface Fetched {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Bytes of answers being read at once, across all look-ups: over it, a look-up fails rather than the process grow. */
export class Budget {
  #used = 0;
  constructor(readonly bytes: number) {}
  take(n: number): boolean {
    if (this.#used + n > this.bytes) return false;
    this.#used += n;
    return true;
  }
  give(n: number): void {
    this.#used -= n;
  }
  get used(): number {
    return this.#used;
  }
}

export interface GetOptions {
  readonly headers: Record<string, string>;
  readonly budget?: Budget | undefined;
  /** The largest body accepted, in bytes. */
  readonly limit: number;
  readonly signal: AbortSignal;
  readonly policy: AddressPolicy;
}

/** One GET under the rules at the top of this file. */
export async function get(url: URL, options: GetOptions): Promise<Fetched> {
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new NetworkError(`${url.protocol.slice(0, 12)} URLs are never fetched (only http: and https:)`, "EPROTO");
  if (url.username !== "" || url.password !== "")
    throw new NetworkError("a URL with credentials in it is never fetched", "EPROTO");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  if (builtin("node:net").isIP(host) !== 0) {
    const refused = refusal(options.policy, host, port, host);
    if (refused !== undefined) throw new NetworkError(refused, "EREFUSED_ADDRESS");
  }
  const lookup = (
    _name: string,
    opts: { all?: boolean },
    callback: (err: Error | null, address: unknown, family?: number) => void,
  ): void => {
    resolve(host, options.policy).then(
      (all) => {
        const reasons = all.map((a) => refusal(options.policy, host, port, a.address));
        const allowed = all.filter((_, i) => reasons[i] === undefined);
        const first = allowed[0];
        if (first === undefined)
          return callback(new NetworkError(reasons[0] ?? `${host}: no address`, "EREFUSED_ADDRESS"), undefined);
        if (opts.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (err: Error) => callback(err, undefined),
    );
  };
  const transport = url.protocol === "https:" ? builtin("node:https") : builtin("node:http");
  return new Promise<Fetched>((done, failed) => {
    const request = transport.request(
      {
        protocol: url.protocol,
        hostname: host,
        port,
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers: { ...options.headers, "accept-encoding": "identity", "user-agent": `iqqq/${VERSION}` },
        lookup: lookup as never,
        agent: false,
        signal: options.signal,
      },
      (response) => {
        const encoding = response.headers["content-encoding"];
        if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
          response.destroy();
          return failed(
            new NetworkError(
              `${url.host} answered with Content-Encoding ${encoding}, which iqqq does not accept`,
              "EENCODING",
            ),
          );
        }
        const declared = Number(response.headers["content-length"] ?? "0");
        const tooBig = (): Error =>
          new NetworkError(`the answer is larger than iqqq accepts (${options.limit} bytes)`, "ETOOBIG");
        if (declared > options.limit) {
          response.destroy();
          return failed(tooBig());
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const budget = options.budget;
        const release = (): void => {
          budget?.give(size);
          size = 0;
        };
        response.on("data", (chunk: Buffer) => {
          if (budget !== undefined && !budget.take(chunk.length)) {
            response.destroy();
            release();
            return failed(
              new NetworkError(
                `not read: registry answers already being read fill iqqq's budget (${budget.bytes} bytes)`,
                "EBUSY",
              ),
            );
          }
          size += chunk.length;
          if (size > options.limit) {
            response.destroy();
            release();
            failed(tooBig());
          } else chunks.push(chunk);
        });
        response.on("error", (err) => {
          release();
          failed(err);
        });
        response.on("close", () => {
          release();
          failed(new NetworkError("the connection closed before the answer was complete", "ECONNRESET"));
        });
        response.on("end", () =>
          done({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? "",
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    request.on("error", (err: Error) => failed(options.signal.aborted ? (options.signal.reason as Error) : err));
    // An answer that is no answer (101 Switching Protocols, a connection closed first) ends the GET too.
    request.on("upgrade", (_res, socket: import("node:net").Socket) => {
      socket.destroy();
      failed(new NetworkError("the registry answered 101 Switching Protocols", "EPROTO"));
    });
    request.on("close", () => failed(new NetworkError("the connection closed without an answer", "ECONNRESET")));
    request.end();
  });
}
