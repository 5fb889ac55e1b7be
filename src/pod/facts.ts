// What the pod says about its own sidecars, from the downward API: the pod's
// annotations as the kubelet writes them into a file (one `key="value"` a line,
// the value quoted as Go's strconv.Quote does). A native sidecar (an init
// container with restartPolicy: Always) is stopped by the kubelet after the job,
// and a quit sent to it only makes the kubelet restart it; in Istio's ambient
// mode there is no proxy in the pod at all. So those are not sent a quit.
// Never skip a stop on doubt: a missing, unreadable or malformed file counts as
// "no facts", with one warning when it was asked for.
// Facts: ../shared/research/native-sidecars.md.

import { builtin } from "../runtime/builtins.js";
import { type HttpSidecar, SIDECARS } from "../sidecar/catalogue.js";

export interface PodFacts {
  /** Where they were read from, or why there are none. */
  readonly source: string;
  /** Sidecar kinds not to send a quit to, each with the reason. */
  readonly skip: ReadonlyMap<string, string>;
  /** Sidecar kinds the annotations show are in the pod (their injectors' marks). */
  readonly present: ReadonlySet<string>;
}

/**
 * The most of the annotations file read. Kubernetes allows 256 KiB of
 * annotations in all; anything larger is not the kubelet's file, and reading
 * it must not eat the stop's time.
 */
export const ANNOTATIONS_LIMIT = 1024 * 1024;

export interface FactsResult {
  readonly facts: PodFacts;
  /** A problem worth one warning (the file was asked for, or is there but unusable). */
  readonly warning?: string;
}

/**
 * Reads the annotations file. `explicit`: IQQQ_PODINFO_ANNOTATIONS was set, so a
 * missing file is worth a warning; at the default path it only means the
 * downward-API volume is not mounted, the usual case.
 */
export function readPodFacts(path: string, explicit: boolean): FactsResult {
  let text: string;
  try {
    text = readAtMost(path, ANNOTATIONS_LIMIT);
  } catch (err) {
    return unread(path, explicit, err);
  }
  return factsIn(path, text);
}

/**
 * The same, for the stop. The Bun executable maps the file with Bun.mmap
 * (0.1 ms) where node:fs costs it about 1 ms to build and a JIT compiler thread
 * for its set-up, and Bun.file's first read 0.5 ms (a thread of its own), on
 * the path from the program's exit to the stop request. The text is copied at
 * once; the kubelet replaces the downward API's files (a new directory, a
 * symlink swapped), never truncates them in place. mmap(2) refuses an empty
 * file, a pipe or a /proc file (EINVAL): those, and any error but ENOENT, are
 * read with node:fs as before. The Node bundle has node:fs loaded already.
 * Only the downward API's own file is mapped: a file IQQQ_PODINFO_ANNOTATIONS
 * names could be truncated in place while mapped, and SIGBUS would then end
 * iqqq after the program, its status lost; such a file is read with node:fs.
 */
export async function loadPodFacts(path: string, explicit: boolean): Promise<FactsResult> {
  const bun = (globalThis as { Bun?: BunMmap }).Bun;
  if (bun === undefined || explicit) return readPodFacts(path, explicit);
  let text: string;
  try {
    const mapped = bun.mmap(path, { shared: false });
    if (mapped.byteLength > ANNOTATIONS_LIMIT) return unread(path, explicit, tooLarge(ANNOTATIONS_LIMIT));
    text = Buffer.from(mapped.buffer, mapped.byteOffset, mapped.byteLength).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return unread(path, explicit, err);
    return readPodFacts(path, explicit);
  }
  return factsIn(path, text);
}

/** The part of Bun's API used here (the Node build has no bun-types). */
interface BunMmap {
  mmap(path: string, options: { shared: boolean }): Uint8Array;
}

function tooLarge(limit: number): Error {
  return Object.assign(new Error(`larger than ${limit} bytes`), { code: `larger than ${limit} bytes` });
}

function unread(path: string, explicit: boolean, err: unknown): FactsResult {
  const code = (err as NodeJS.ErrnoException).code;
  const none: PodFacts = {
    source: `no pod annotations (${path}: ${code ?? "unreadable"})`,
    skip: new Map(),
    present: new Set(),
  };
  if (code === "ENOENT" && !explicit) return { facts: none };
  return {
    facts: none,
    warning: `cannot read the pod's annotations from ${path} (${code ?? (err as Error).message}): every configured sidecar is stopped as usual`,
  };
}

function factsIn(path: string, text: string): FactsResult {
  const parsed = parseAnnotations(text);
  if (parsed instanceof Error) {
    return {
      facts: { source: `no pod annotations (${path} is malformed)`, skip: new Map(), present: new Set() },
      warning: `the pod's annotations in ${path} are malformed (${parsed.message}): every configured sidecar is stopped as usual`,
    };
  }
  const skip = decide(parsed);
  return { facts: { source: `pod annotations from ${path}`, skip, present: presentIn(parsed, skip) } };
}

/** The file's text, or an error (code EFBIG) when it is larger than `limit` bytes. */
function readAtMost(path: string, limit: number): string {
  const fs = builtin("node:fs");
  // No downward-API volume, the usual case: told without an exception, whose
  // making costs Node 0.3-0.5 ms on the stop path. Any other error is open's.
  if (fs.statSync(path, { throwIfNoEntry: false }) === undefined)
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
  // Non-blocking: a FIFO (or a terminal) named there must not hold the stop
  // forever; one with no writer reads as empty, one with nothing yet written
  // fails with EAGAIN. Regular files ignore the flag.
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buffer = Buffer.allocUnsafe(limit + 1);
    let size = 0;
    for (let n = 1; n > 0 && size <= limit; size += n) n = fs.readSync(fd, buffer, size, limit + 1 - size, null);
    if (size > limit) throw tooLarge(limit);
    return buffer.subarray(0, size).toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/** A JSON status annotation's container lists (Istio's sidecar.istio.io/status), or undefined. */
function listing(value: string | undefined): { initContainers?: unknown; containers?: unknown } | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as { initContainers?: unknown }) : undefined;
  } catch {
    // Not the injector's JSON: no knowledge.
    return undefined;
  }
}

const lists = (names: unknown, name: string): boolean => Array.isArray(names) && names.includes(name);

/** Which sidecar kinds the annotations show to be in the pod (their injectors' marks), not native. */
export function presentIn(annotations: ReadonlyMap<string, string>, skip: ReadonlyMap<string, string>): Set<string> {
  const present = new Set<string>();
  for (const kind of SIDECARS as readonly HttpSidecar[]) {
    const mark = kind.injected;
    const value = mark === undefined ? undefined : annotations.get(mark.key);
    if (mark === undefined || value === undefined || skip.has(kind.name)) continue;
    if (
      mark.listing !== undefined
        ? lists(listing(value)?.containers, mark.listing)
        : (mark.values ?? [value]).includes(value)
    )
      present.add(kind.name);
  }
  return present;
}

/** Which sidecar kinds the annotations show as native or absent, each with the reason. */
export function decide(annotations: ReadonlyMap<string, string>): Map<string, string> {
  const skip = new Map<string, string>();
  for (const kind of SIDECARS as readonly HttpSidecar[]) {
    const mark = kind.injected;
    const status = mark?.listing !== undefined ? listing(annotations.get(mark.key)) : undefined;
    const nativeKey = kind.nativeAnnotations.find((k) => annotations.get(k) === "true");
    const absent = kind.absentIf;
    if (mark?.listing !== undefined && lists(status?.initContainers, mark.listing)) {
      skip.set(
        kind.name,
        `${kind.what} was injected as a native sidecar (${mark.key} lists ${mark.listing} under initContainers): the kubelet stops it after the job, and a quit would only restart it`,
      );
    } else if (nativeKey !== undefined && !(mark?.listing !== undefined && lists(status?.containers, mark.listing))) {
      // The injector's own record wins over the request: it lists what it did.
      skip.set(
        kind.name,
        `${kind.what} is a native sidecar (${nativeKey}: "true"): the kubelet stops it after the job, and a quit would only restart it`,
      );
    } else if (
      absent?.values.includes(annotations.get(absent.key) ?? "") &&
      !(mark?.listing !== undefined && lists(status?.containers, mark.listing))
    ) {
      skip.set(
        kind.name,
        `${absent.reason ?? `the pod has no ${kind.what} (${absent.key}: ${annotations.get(absent.key)})`}: nothing to stop`,
      );
    }
  }
  return skip;
}

/** The kubelet's format: `key="value"` a line, the value a Go-quoted string. */
export function parseAnnotations(text: string): Map<string, string> | Error {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  for (const [n, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return new Error(`line ${n + 1}: no key="value"`);
    const value = unquote(line.slice(eq + 1));
    if (value === undefined) return new Error(`line ${n + 1}: the value is not a quoted string`);
    out.set(line.slice(0, eq), value);
  }
  return out;
}

const SIMPLE: Record<string, string> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

/** Go's strconv.Unquote for a double-quoted string; undefined when it is not one. */
export function unquote(quoted: string): string | undefined {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) return undefined;
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  const pushText = (s: string): void => {
    for (const b of Buffer.from(s, "utf8")) bytes.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '"') return undefined;
    if (c !== "\\") {
      const cp = body.codePointAt(i) as number;
      pushText(String.fromCodePoint(cp));
      if (cp > 0xffff) i++;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return undefined;
    const simple = SIMPLE[e];
    if (simple !== undefined) {
      pushText(simple);
      continue;
    }
    const hex = (n: number): number | undefined => {
      const digits = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) return undefined;
      i += n;
      return Number.parseInt(digits, 16);
    };
    if (e === "x") {
      const b = hex(2);
      if (b === undefined) return undefined;
      bytes.push(b);
    } else if (e === "u" || e === "U") {
      const cp = hex(e === "u" ? 4 : 8);
      if (cp === undefined || cp > 0x10ffff) return undefined;
      pushText(String.fromCodePoint(cp));
    } else if (/[0-7]/.test(e)) {
      const digits = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(digits)) return undefined;
      i += 2;
      bytes.push(Number.parseInt(digits, 8) & 0xff);
    } else return undefined;
  }
  return Buffer.from(bytes).toString("utf8");
}
