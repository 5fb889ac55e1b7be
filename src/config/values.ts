// Pure parsers for the value kinds iqqq's environment variables take.
// Each returns the parsed value or throws a ValueError whose message says what
// was expected; the caller adds the variable's name and the raw value.

import { LOG_LEVELS, type LogLevel } from "../log.js";

export class ValueError extends Error {}

const TRUE = new Set(["true", "1", "yes"]);
const FALSE = new Set(["false", "0", "no"]);

/** `true/false/1/0/yes/no`, any case. */
export function parseBool(raw: string): boolean {
  const v = raw.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ValueError("expected true, false, 1, 0, yes or no");
}

/** Whether `text` is one or more ASCII digits. */
export function isDigits(text: string): boolean {
  if (text === "") return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 48 || text.charCodeAt(i) > 57) return false;
  return true;
}

/**
 * A TCP port: digits only, 1–65535. A loop, not a regular expression: the
 * executable's engine compiles one on its first use (about 0.09 ms), and a
 * port is read at every start where ISTIO_PORT or another port is set.
 */
export function parsePort(raw: string): number {
  if (raw.length > 5 || !isDigits(raw)) throw new ValueError("expected a port number, digits only, 1-65535");
  const port = Number(raw);
  if (port < 1 || port > 65535) throw new ValueError("expected a port number, digits only, 1-65535");
  return port;
}

// Go's time.ParseDuration units, in nanoseconds. Both micro signs are accepted
// as Go does (U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU). Arithmetic is
// on whole nanoseconds (BigInt), as Go's is, so that no float noise creeps in.
const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n,
  "\u03bcs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const DURATION_PART = /([0-9]*)(?:\.([0-9]*))?([a-z\u00b5\u03bc]+)/gy;
/** Go's limit: the largest int64 number of nanoseconds, about 290 years. */
const MAX_DURATION_NS = 9_223_372_036_854_775_807n;

/**
 * A non-negative duration in Go syntax (`500ms`, `1m30s`, `1.5h`, `0`), in
 * milliseconds. Negative durations are refused: every iqqq duration is a wait.
 * See https://pkg.go.dev/time#ParseDuration
 *
 * Hand-written because it must read what Go's time.ParseDuration reads (scuttle's
 * variables are Go durations), and no npm package does. Checked against Go 1.19:
 * ms 2.1.3 takes "1", "1d", "1y", "1H" and "1 h" and refuses "2h45m" and "300ns";
 * parse-duration 2.1.9 and timestring 7.0.0 take "1", "1d", "1w", "1H", "1h 30m"
 * and "1m30", which Go refuses; parse-duration also "1e3ms" and "1ms2" (1.002 ms),
 * and timestring reads "1µs" as a second and refuses "300ns".
 */
export function parseDuration(raw: string): number {
  const expected = 'expected a duration such as "500ms", "10s" or "1m30s"';
  if (raw === "0") return 0;
  if (raw.startsWith("-")) throw new ValueError(`${expected}, not negative`);
  const body = raw.startsWith("+") ? raw.slice(1) : raw;
  if (body === "") throw new ValueError(expected);
  let total = 0n;
  let end = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(body); m !== null; m = DURATION_PART.exec(body)) {
    const [, whole = "", fraction, unit = ""] = m;
    const scale = UNIT_NS[unit];
    if ((whole === "" && (fraction ?? "") === "") || scale === undefined) throw new ValueError(expected);
    total += BigInt(whole || "0") * scale;
    // Go truncates what is below a nanosecond.
    if (fraction) total += (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length);
    end = DURATION_PART.lastIndex;
  }
  if (end !== body.length) throw new ValueError(expected);
  if (total > MAX_DURATION_NS) throw new ValueError(`${expected}, at most 2562047h47m16.854775807s`);
  return nsToMs(total);
}

/** The spelling Go's Duration.String() gives (`1h0m0s`, `1.5s`, `250ms`, `9µs`); parseDuration reverses it. */
export function formatDuration(ms: number): string {
  const ns = msToNs(ms);
  if (ns === 0n) return "0s";
  if (ns < 1_000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${decimal(ns, 1_000n)}\u00b5s`;
  if (ns < 1_000_000_000n) return `${decimal(ns, 1_000_000n)}ms`;
  const h = ns / 3_600_000_000_000n;
  const m = (ns / 60_000_000_000n) % 60n;
  const s = decimal(ns % 60_000_000_000n, 1_000_000_000n);
  return `${h > 0n ? `${h}h` : ""}${h > 0n || m > 0n ? `${m}m` : ""}${s}s`;
}

/** n / unit as a decimal number, without trailing zeros. */
function decimal(n: bigint, unit: bigint): string {
  const whole = n / unit;
  const digits = String(unit).length - 1;
  const fraction = String(n % unit)
    .padStart(digits, "0")
    .replace(/0+$/, "");
  return fraction === "" ? String(whole) : `${whole}.${fraction}`;
}

/**
 * The nearest double to ns / 1e6: one correctly rounded division while ns is
 * exact as a double (up to 2^53 ns, about 104 days); beyond, whole milliseconds
 * stay exact and the fraction is added.
 */
function nsToMs(ns: bigint): number {
  if (ns <= 9_007_199_254_740_992n) return Number(ns) / 1e6;
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/** An absolute http: or https: URL. */
export function parseHttpUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValueError("expected an http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ValueError(`expected an http:// or https:// URL, not ${url.protocol}`);
  }
  return url;
}

/** Comma-separated http(s) URLs, spaces around each trimmed, empty items skipped. */
export function parseUrlList(raw: string): URL[] {
  const urls: URL[] = [];
  for (const item of raw.split(",")) {
    const trimmed = item.trim();
    if (trimmed === "") continue;
    try {
      urls.push(parseHttpUrl(trimmed));
    } catch (err) {
      throw new ValueError(`item "${trimmed}": ${(err as Error).message}`);
    }
  }
  return urls;
}

/** Whether a URL's host is this machine's loopback: 127.0.0.0/8, localhost or [::1]. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A URL for logs and --explain: a password in it (user:password@) shown as "***". */
export function shownUrl(url: URL): string {
  if (url.password === "") return url.href;
  const copy = new URL(url.href);
  copy.password = "***";
  return copy.href;
}

/** A raw variable value for messages: credentials in anything URL-like masked the same way. */
export function shownValue(raw: string): string {
  return raw.replace(/(\/\/[^/@:\s]*:)[^/@\s]*@/g, "$1***@");
}

/** A duration greater than 0. */
export function parsePositiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0) throw new ValueError("expected a duration greater than 0");
  return ms;
}

/** A comma-separated list of known words, any case, spaces trimmed, repeats dropped. */
export function parseList(raw: string, known: readonly string[], expected = "a comma-separated list of"): string[] {
  const items = raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
  const unknown = items.filter((s) => !known.includes(s));
  if (items.length === 0 || unknown.length > 0) {
    throw new ValueError(`expected ${expected} ${known.join(", ")}`);
  }
  return [...new Set(items)];
}

/** One of a few exact words. */
export function parseOneOf<T extends string>(raw: string, words: readonly T[], expected: string): T {
  const found = words.find((w) => w === raw);
  if (found === undefined) throw new ValueError(expected);
  return found;
}

export function parseLogLevel(raw: string): LogLevel {
  const level = raw.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new ValueError(`expected one of ${LOG_LEVELS.join(", ")}`);
}

/** A file path given by a variable: absolute, as a volume is mounted. */
export function parseAbsolutePath(raw: string): string {
  if (!raw.startsWith("/"))
    throw new ValueError("expected an absolute path (where the downward-API volume is mounted)");
  return raw;
}

/** A Kubernetes container name: a DNS label. */
export const CONTAINER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseContainerName(raw: string): string {
  if (!CONTAINER_NAME.test(raw)) throw new ValueError("expected a container name (lower-case letters, digits and -)");
  return raw;
}

/** Container names, comma-separated, at least two, no repeats. */
export function parseContainerList(raw: string): string[] {
  const names = raw.split(",").map((n) => n.trim());
  for (const name of names) parseContainerName(name);
  if (new Set(names).size !== names.length) throw new ValueError("a name is listed twice");
  if (names.length < 2) throw new ValueError("expected at least two container names, comma-separated");
  return names;
}

/** A whole number from 1 to 9999. */
export function parseCount(raw: string): number {
  if (!/^[1-9][0-9]{0,3}$/.test(raw)) throw new ValueError("expected a whole number from 1 to 9999");
  return Number(raw);
}
