// Bytes that are not UTF-8. Node and Bun decode argv and the environment as
// UTF-8, so a byte such as 0xE9 (Latin-1 "é") reaches JavaScript as U+FFFD and
// would reach the program altered. The kernel still holds the original bytes in
// /proc/self/cmdline and /proc/self/environ; when they differ, the program is
// started through `/bin/sh -c SCRIPT` (exec keeps the pid: signals and the status
// are as usual). SCRIPT is constant; the words and values come as its positional
// parameters: unaltered ones as they are, altered ones as printf formats in which
// only the bytes that are not UTF-8 are octal escapes, cut into pieces below the
// kernel's 128 KiB limit on one argument, so nothing grows past what it must.

import { builtin } from "../runtime/builtins.js";

const isUtf8 = (bytes: Buffer): boolean => builtin("node:buffer").isUtf8(bytes);

export const SHELL = "/bin/sh";

/**
 * The launcher. $1 lists what follows, one token per item: `l` a word as is,
 * `w:N` a word from N format pieces, `x:NAME:N` an exported variable from N
 * pieces, `u:NAME` a variable to unset (PWD, which sh would otherwise add).
 * Each consumed parameter is shifted off the front and each word appended at
 * the back, so "$@" ends as exactly the program's words.
 */
// biome-ignore-start lint/suspicious/noTemplateCurlyInString: these are sh parameter expansions, not JavaScript templates
export const LAUNCHER = [
  "set -f",
  "spec=$1; shift",
  "for t in $spec; do",
  "  case $t in",
  '    l) set -- "$@" "$1"; shift ;;',
  '    u:*) unset "${t#u:}" ;;',
  "    *) n=${t##*:}; f=",
  '      while [ "$n" -gt 0 ]; do f=$f$1; shift; n=$((n - 1)); done',
  '      v=$(printf "x$f."); v=${v#x}; v=${v%.}',
  "      case $t in",
  '        w:*) set -- "$@" "$v" ;;',
  '        *) name=${t#x:}; export "${name%:*}=$v" ;;',
  "      esac ;;",
  "  esac",
  "done",
  'exec "$@"',
].join("\n");
// biome-ignore-end lint/suspicious/noTemplateCurlyInString: the launcher ends here

/** Below MAX_ARG_STRLEN (32 pages) with room to spare. */
const PIECE_BYTES = 64 * 1024;

/** A word for the program: a string when decoding kept it, else its raw bytes. */
export type Word = string | Buffer;

export interface Launch {
  readonly words: readonly Word[];
  /** Variables whose values are not UTF-8, raw, for sh to export. */
  readonly exports: ReadonlyArray<readonly [string, Buffer]>;
  /** Variables sh itself would add that the program must not see. */
  readonly unset: readonly string[];
}

/** `sh -c` arguments that exec the launch's words with its exports; all plain ASCII but unaltered words. */
export function launcherArgs(launch: Launch): string[] {
  const spec: string[] = launch.unset.map((name) => `u:${name}`);
  const params: string[] = [];
  for (const [name, value] of launch.exports) {
    const pieces = formatPieces(value);
    spec.push(`x:${name}:${pieces.length}`);
    params.push(...pieces);
  }
  for (const word of launch.words) {
    if (typeof word === "string") {
      spec.push("l");
      params.push(word);
    } else {
      const pieces = formatPieces(word);
      spec.push(`w:${pieces.length}`);
      params.push(...pieces);
    }
  }
  return ["-c", LAUNCHER, "iqqq", spec.join(" "), ...params];
}

/**
 * `bytes` as printf formats: UTF-8 characters as they are (but `\` and `%`
 * doubled), every other byte as `\ooo`; at least one piece, each of at most
 * PIECE_BYTES, never cut inside an escape or a character.
 */
export function formatPieces(bytes: Buffer): string[] {
  const pieces: string[] = [];
  let piece = "";
  let size = 0;
  for (let i = 0; i < bytes.length; ) {
    const n = utf8Length(bytes, i);
    let unit: string;
    if (n === 0) unit = `\\${(bytes[i] as number).toString(8).padStart(3, "0")}`;
    else if (bytes[i] === 0x5c) unit = "\\\\";
    else if (bytes[i] === 0x25) unit = "%%";
    else unit = bytes.toString("utf8", i, i + n);
    const unitBytes = n === 0 ? 4 : Buffer.byteLength(unit);
    if (size + unitBytes > PIECE_BYTES) {
      pieces.push(piece);
      piece = "";
      size = 0;
    }
    piece += unit;
    size += unitBytes;
    i += Math.max(n, 1);
  }
  pieces.push(piece);
  return pieces;
}

/** The length of the valid UTF-8 character at `i` (RFC 3629), or 0 when the byte there starts none. */
export function utf8Length(b: Buffer, i: number): number {
  const lead = b[i] as number;
  if (lead < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) n = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead === 0xe0) lo = 0xa0;
    if (lead === 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead === 0xf0) lo = 0x90;
    if (lead === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > b.length) return 0;
  const second = b[i + 1] as number;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = b[i + k] as number;
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}

/**
 * The raw bytes of `words` (the program and its arguments, the last words of
 * iqqq's own command line) when decoding changed at least one of them; else undefined.
 */
export function alteredWords(words: readonly string[], cmdline = "/proc/self/cmdline"): Buffer[] | undefined {
  // U+FFFD is what a byte that is not UTF-8 decodes to: no U+FFFD, nothing altered.
  // A loop, not words.some(): this runs at every start (sidecar/catalogue.ts says why).
  let altered = false;
  for (const word of words) altered ||= word.includes("\uFFFD");
  if (!altered) return undefined;
  const raw = readOrUndefined(cmdline);
  if (raw === undefined) return undefined;
  const all = split(raw);
  if (all.length < words.length) return undefined;
  const mine = all.slice(all.length - words.length);
  return mine.some((bytes, i) => !bytes.equals(Buffer.from(words[i] as string))) ? mine : undefined;
}

export interface AlteredEnv {
  /** Variables to pass raw, by name. */
  readonly raw: ReadonlyArray<readonly [string, Buffer]>;
  /** Altered variables sh cannot export (no shell name, or one it makes its own), each with its raw `NAME=VALUE`. */
  readonly unpassable: ReadonlyArray<readonly [string, Buffer]>;
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Variables a POSIX shell makes its own whatever its environment says: dash
 * resets IFS and OPTIND and sets PPID; bash also LINENO and PS4, and drops
 * PPID, PS1, PS2, RANDOM and OLDPWD (measured with both on Debian); both set
 * PWD to the working directory where it names another. dash
 * drops, too, every variable whose name is not a shell name (`spring.profile`,
 * `A-B`). On the way through sh (the launcher), such variables are set again by
 * env(1) just before the program (fragileEnv).
 */
const SHELL_OWN: ReadonlySet<string> = new Set([
  "IFS",
  "OPTIND",
  "PPID",
  "LINENO",
  "PS1",
  "PS2",
  "PS4",
  "RANDOM",
  "OLDPWD",
  "PWD",
]);

/** env(1), where images keep it. */
const ENV_PROGRAMS = ["/usr/bin/env", "/bin/env"];

/** The path of env(1), or undefined when the image has none. */
export function envProgram(): string | undefined {
  const fs = builtin("node:fs");
  return ENV_PROGRAMS.find((path) => fs.existsSync(path));
}

/**
 * The names in `env` that sh would not pass on as they are: not shell names, or
 * made its own (SHELL_OWN). Only names with a value: Bun lists a name that is
 * not UTF-8 but finds no value under it (alteredEnv has those raw).
 */
export function fragileEnv(env: NodeJS.ProcessEnv): string[] {
  const names: string[] = [];
  for (const name in env)
    if ((!SHELL_NAME.test(name) || SHELL_OWN.has(name)) && env[name] !== undefined) names.push(name);
  return names;
}

/**
 * The variables of `env` whose values decoding altered, with their bytes from
 * `environ`; undefined when there are none. Only variables still in `env` with
 * a value still decoded (U+FFFD in it) count.
 */
export function alteredEnv(env: NodeJS.ProcessEnv, environ = "/proc/self/environ"): AlteredEnv | undefined {
  let suspect = false;
  for (const key in env) {
    if (key.includes("\uFFFD") || env[key]?.includes("\uFFFD")) {
      suspect = true;
      break;
    }
  }
  if (!suspect) return undefined;
  const data = readOrUndefined(environ);
  if (data === undefined) return undefined;
  const raw: [string, Buffer][] = [];
  const unpassable: [string, Buffer][] = [];
  for (const entry of split(data)) {
    const eq = entry.indexOf(0x3d);
    if (eq <= 0) continue;
    const nameBytes = entry.subarray(0, eq);
    const value = entry.subarray(eq + 1);
    const name = nameBytes.toString("utf8");
    if (isUtf8(nameBytes) && isUtf8(value)) continue;
    // A name that is not UTF-8 cannot be looked up (Node leaves it out of process.env, Bun cannot
    // find the key it lists): passed on raw as iqqq was given it.
    if (!isUtf8(nameBytes)) {
      unpassable.push([name, Buffer.from(entry)]);
      continue;
    }
    // Gone, or set anew since (by a plugin): the program gets what is there now.
    const now = env[name];
    if (now === undefined || !now.includes("\uFFFD")) continue;
    if (SHELL_NAME.test(name) && !SHELL_OWN.has(name)) raw.push([name, Buffer.from(value)]);
    else unpassable.push([name, Buffer.from(entry)]);
  }
  return raw.length > 0 || unpassable.length > 0 ? { raw, unpassable } : undefined;
}

export function shellAvailable(): boolean {
  return builtin("node:fs").existsSync(SHELL);
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return builtin("node:fs").readFileSync(path);
  } catch {
    return undefined;
  }
}

function split(data: Buffer): Buffer[] {
  const words: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) {
      words.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < data.length) words.push(data.subarray(start));
  return words;
}
