// One flag table per command: each row says its flag, its value's name, its
// help, how its value is read and checked, and its default (which may come from
// a variable). The command's usage text and its parser both come from the table,
// so a flag shared by several commands (shared.ts) is one row. The command line's
// grammar (--flag=V, --flag V, -h, --) is node:util's parseArgs; the rows check
// the values, with messages that name the flag and the value.

import { EXIT } from "../exit-status.js";
import type { Env, Io } from "../io.js";
import { builtin } from "../runtime/builtins.js";

/** A bad value: the message says what was expected (the flag and the value are added). */
export class FlagError extends Error {}

export interface Flag<T, N extends string = string> {
  /** Without the leading "--". */
  readonly name: N;
  /** The value's name in the usage text (REF, FILE, N). */
  readonly value: string;
  /** One or more lines of help; "$default" is replaced by the default's description. */
  readonly help: string;
  /** Its default, and how the usage text says it. */
  default(env: Env): T;
  readonly shownDefault?: string;
  /** Reads one given value; several given: each in turn, `previous` is what the last one gave. */
  parse(raw: string, previous: T): T;
  /** A switch, given without a value (--dry-run): parse() is called with "". */
  readonly boolean?: true;
}

// biome-ignore lint/suspicious/noExplicitAny: a table holds flags of every value type.
type AnyFlag = Flag<any>;

/** A flag row, typed by its value and its name. */
export function flag<T, const N extends string>(row: Flag<T, N>): Flag<T, N> {
  return row;
}

/**
 * A TCP port to listen on (0: any free one, which the command logs), given as
 * decimal digits; `fallback` is the default, undefined where the default is
 * "not served".
 */
export function portFlag<const N extends string, D extends number | undefined>(
  name: N,
  help: string,
  fallback: D,
): Flag<number | D, N> {
  return {
    name,
    value: "N",
    help,
    ...(fallback === undefined ? {} : { shownDefault: String(fallback) }),
    default: (): number | D => fallback,
    parse: (raw): number => {
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new FlagError("expected 0-65535 (0: any free one)");
      return Number(raw);
    },
  };
}

export type Values<F extends readonly AnyFlag[]> = {
  [K in F[number] as K["name"]]: K extends Flag<infer T> ? T : never;
};

export interface CommandLine<F extends readonly AnyFlag[]> {
  readonly values: Values<F>;
  readonly positionals: readonly string[];
}

/** The command line read by the table, "help", or the problem (for `iqqq NAME: error: …`). */
export function parseFlags<F extends readonly AnyFlag[]>(
  flags: F,
  args: readonly string[],
  env: Env,
  positionals: boolean,
): CommandLine<F> | "help" | string {
  const { parseArgs } = builtin("node:util");
  const options = Object.fromEntries(
    flags.map((f) => [f.name, { type: f.boolean ? ("boolean" as const) : ("string" as const), multiple: true }]),
  );
  const { tokens } = parseArgs({
    args: [...args],
    options: { ...options, help: { type: "boolean", short: "h" } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, unknown> = Object.fromEntries(flags.map((f) => [f.name, f.default(env)]));
  const rest: string[] = [];
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      if (!positionals) return `unexpected argument ${JSON.stringify(token.value)}`;
      rest.push(token.value);
      continue;
    }
    if (token.name === "help") return "help";
    const row = flags.find((f) => f.name === token.name);
    if (row === undefined) return `unknown option ${JSON.stringify(token.rawName)}`;
    if (row.boolean) {
      if (token.value !== undefined) return `${token.rawName} takes no value`;
      values[row.name] = row.parse("", values[row.name]);
      continue;
    }
    if (token.value === undefined || token.value === "") return `${token.rawName} needs a value`;
    try {
      values[row.name] = row.parse(token.value, values[row.name]);
    } catch (err) {
      if (!(err instanceof FlagError)) throw err;
      return `${token.rawName} ${JSON.stringify(token.value)}: ${err.message}`;
    }
  }
  return { values: values as Values<F>, positionals: rest };
}

/** The usage text's flag lines: `  --name VALUE  help`, help lines aligned. */
export function flagHelp(flags: readonly AnyFlag[]): string {
  const heads = flags.map((f) => (f.boolean ? `  --${f.name}` : `  --${f.name} ${f.value}`));
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return flags
    .map((f, i) => {
      const help = f.help.replace("$default", f.shownDefault ?? "");
      const [first = "", ...more] = help.split("\n");
      return [`${(heads[i] as string).padEnd(width)}${first}`, ...more.map((l) => `${" ".repeat(width)}${l}`)].join(
        "\n",
      );
    })
    .join("\n");
}

/** `[--name VALUE]…` for the usage line. */
export function flagSynopsis(flags: readonly AnyFlag[]): string {
  return flags.map((f) => (f.boolean ? `[--${f.name}]` : `[--${f.name} ${f.value}]`)).join(" ");
}

/**
 * A command's line read by its table, or the exit status when there is nothing
 * more to do: --help (the usage on stdout, 0) or a bad line (the problem and the
 * usage on stderr, 64).
 */
export function readCommandLine<F extends readonly AnyFlag[]>(
  command: { readonly name: string; readonly usage: string; readonly flags: F; readonly positionals: boolean },
  args: readonly string[],
  env: Env,
  io: Io,
): CommandLine<F> | number {
  const line = parseFlags(command.flags, args, env, command.positionals);
  if (line === "help") {
    io.stdout(command.usage);
    return EXIT.OK;
  }
  if (typeof line === "string") {
    io.stderr(`iqqq ${command.name}: error: ${line}\n${command.usage}`);
    return EXIT.USAGE;
  }
  return line;
}
