// Pure parsers for the value kinds iqqq's environment variables take.
// Each returns the parsed value or throws a ValueError whose message says what
// was expected; the caller adds the variable's name and the raw value.

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

/** A TCP port: digits only, 1–65535. */
export function parsePort(raw: string): number {
  if (!/^[0-9]{1,5}$/.test(raw)) throw new ValueError("expected a port number, digits only, 1-65535");
  const port = Number(raw);
  if (port < 1 || port > 65535) throw new ValueError("expected a port number, digits only, 1-65535");
  return port;
}

// Go's time.ParseDuration units, in milliseconds. Both micro signs are accepted
// as Go does (U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU).
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3,
  "\u03bcs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PART = /([0-9]*(?:\.[0-9]*)?)([a-z\u00b5\u03bc]+)/gy;
/** Longest duration accepted: Go's own limit, about 290 years, as milliseconds. */
const MAX_DURATION_MS = 9_223_372_036_854;

/**
 * A non-negative duration in Go syntax (`500ms`, `1m30s`, `1.5h`, `0`), in
 * milliseconds. Negative durations are refused: every iqqq duration is a wait.
 * See https://pkg.go.dev/time#ParseDuration
 */
export function parseDuration(raw: string): number {
  const expected = 'expected a duration such as "500ms", "10s" or "1m30s"';
  if (raw === "0") return 0;
  if (raw.startsWith("-")) throw new ValueError(`${expected}, not negative`);
  const body = raw.startsWith("+") ? raw.slice(1) : raw;
  if (body === "") throw new ValueError(expected);
  let total = 0;
  DURATION_PART.lastIndex = 0;
  let end = 0;
  for (let m = DURATION_PART.exec(body); m !== null; m = DURATION_PART.exec(body)) {
    const [, num = "", unit = ""] = m;
    const scale = UNIT_MS[unit];
    if (num === "" || num === "." || scale === undefined) throw new ValueError(expected);
    total += Number(num) * scale;
    end = DURATION_PART.lastIndex;
  }
  if (end !== body.length) throw new ValueError(expected);
  if (!(total <= MAX_DURATION_MS)) throw new ValueError(`${expected}, at most 2562047h`);
  return total;
}

/** The shortest Go-syntax spelling of a duration in milliseconds; parseDuration reverses it. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1) return `${trim(ms * 1000)}us`;
  if (ms < 1000) return `${trim(ms)}ms`;
  let rest = ms;
  let out = "";
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${out}${trim(rest / 1000)}s`;
}

function trim(n: number): string {
  // Twelve significant digits hide float noise such as 0.30000000000000004.
  return String(Number(n.toPrecision(12)));
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
