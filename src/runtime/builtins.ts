// Node's built-in modules, each fetched where it is first used, never imported
// at the top of a module. Two costs are avoided that way:
// - The Bun executable builds a built-in when it is first imported: node:fs
//   alone costs it about 4 ms of start-up, and the wrapper needs none of it to
//   start the program.
// - Node imports a built-in into an ES module through a facade that reads every
//   one of its exports: importing node:fs that way loads node:stream (4 ms),
//   through fs.ReadStream's lazy getter. process.getBuiltinModule() returns the
//   module itself.

import type * as ChildProcess from "node:child_process";
import type * as Fs from "node:fs";
import type * as Http from "node:http";
import type * as Https from "node:https";
import type * as Net from "node:net";
import type * as Os from "node:os";
import type * as Path from "node:path";
import type * as Url from "node:url";

interface Builtins {
  "node:buffer": typeof import("node:buffer");
  "node:child_process": typeof ChildProcess;
  "node:crypto": typeof import("node:crypto");
  "node:dns": typeof import("node:dns");
  "node:fs": typeof Fs;
  "node:http": typeof Http;
  "node:https": typeof Https;
  "node:net": typeof Net;
  "node:os": typeof Os;
  "node:path": typeof Path;
  "node:url": typeof Url;
  "node:util": typeof import("node:util");
  "node:v8": typeof import("node:v8");
  "node:stream": typeof import("node:stream");
  "node:tls": typeof import("node:tls");
  "node:tty": typeof import("node:tty");
  "node:zlib": typeof import("node:zlib");
}

type Load = (id: string) => unknown;
let load = (process as { getBuiltinModule?: Load }).getBuiltinModule?.bind(process);

/** A built-in module, built on first use (cheap once loaded). */
export function builtin<K extends keyof Builtins>(id: K): Builtins[K] {
  return builtinModule(id) as Builtins[K];
}

/** Any built-in by name ("process", "node:v8"), also one the table above does not type. */
export function builtinModule(id: string): unknown {
  if (load === undefined) throw new Error("internal: prepareBuiltins() has not run");
  return load(id.startsWith("node:") ? id : `node:${id}`);
}

/**
 * For Node before 20.16, which has no process.getBuiltinModule: the bin awaits
 * this once, first. Undefined when there is nothing to wait for (Bun, Node
 * 20.16 and later): the bin then starts at once (cli.ts says why).
 */
export function prepareBuiltins(): Promise<void> | undefined {
  if (load !== undefined) return undefined;
  return import("node:module").then((m) => {
    load = m.createRequire(import.meta.url);
  });
}
