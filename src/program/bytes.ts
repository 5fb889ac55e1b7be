// Arguments that are not valid UTF-8. Node and Bun decode argv as UTF-8, so a
// byte such as 0xE9 (Latin-1 "é") reaches JavaScript as U+FFFD and would reach
// the program altered. The kernel still holds the original bytes in
// /proc/self/cmdline; when they differ, the program is started through
// `/bin/sh -c 'exec "$@"'` with each argument rebuilt from octal escapes, so it
// gets them byte for byte (exec keeps the pid: signals and the status are as usual).

import { existsSync, readFileSync } from "node:fs";

export const SHELL = "/bin/sh";

/**
 * The raw bytes of `words` (the program and its arguments, the last words of
 * iqqq's own command line) when decoding changed at least one of them; else undefined.
 */
export function alteredWords(words: readonly string[], cmdline = "/proc/self/cmdline"): Buffer[] | undefined {
  // U+FFFD is what a byte that is not UTF-8 decodes to: no U+FFFD, nothing altered.
  if (!words.some((w) => w.includes("\uFFFD"))) return undefined;
  let raw: Buffer;
  try {
    raw = readFileSync(cmdline);
  } catch {
    return undefined;
  }
  const all = split(raw);
  if (all.length < words.length) return undefined;
  const mine = all.slice(all.length - words.length);
  return mine.some((bytes, i) => !bytes.equals(Buffer.from(words[i] as string))) ? mine : undefined;
}

/** A POSIX sh script that execs `words`, each rebuilt byte for byte; pure ASCII. */
export function execScript(words: readonly Buffer[]): string {
  const lines = ["set --"];
  for (const word of words) {
    const octal = [...word].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
    // The "." keeps trailing newlines, which command substitution would strip.
    lines.push(`w=$(printf '${octal}.'); set -- "$@" "\${w%.}"`);
  }
  lines.push('exec "$@"');
  return lines.join("\n");
}

export function shellAvailable(): boolean {
  return existsSync(SHELL);
}

function split(cmdline: Buffer): Buffer[] {
  const words: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < cmdline.length; i++) {
    if (cmdline[i] === 0) {
      words.push(cmdline.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < cmdline.length) words.push(cmdline.subarray(start));
  return words;
}
