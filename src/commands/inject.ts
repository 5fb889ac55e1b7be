// iqqq inject [options] [FILE…]: Kubernetes YAML in (the files, or stdin), the
// same YAML with iqqq injected out, on stdout. Loaded only for this command.

import { EXIT } from "../exit-status.js";
import { InjectError } from "../inject/inject.js";
import type { Env, Io } from "../io.js";
import { builtin } from "../runtime/builtins.js";
import { flagHelp, flagSynopsis, readCommandLine } from "./flags.js";
import { INJECTION, noImage, WATCH } from "./shared.js";

export const FLAGS = [...INJECTION, WATCH] as const;

export const INJECT_USAGE = `Usage: iqqq inject ${flagSynopsis(FLAGS)} [FILE…]
Reads Kubernetes YAML (the FILEs, or stdin when none or "-"), writes it to stdout
with iqqq injected into every Pod, Job and CronJob; other kinds pass through.
${flagHelp(FLAGS)}
A container without a command gets its image's ENTRYPOINT and CMD from the
registry (anonymous or bearer-token access; credentials from Docker's
config.json or podman's auth.json).
`;

/** One image look-up, waiting for its registry included: generous, a person is waiting, not an API server. */
const LOOKUP_DEADLINE_MS = 60_000;

export async function injectCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const line = readCommandLine({ name: "inject", usage: INJECT_USAGE, flags: FLAGS, positionals: true }, args, env, io);
  if (typeof line === "number") return line;
  const parsed = { ...line.values, files: line.positionals };
  const { image } = parsed;
  if (image === undefined) {
    io.stderr(noImage("inject"));
    return EXIT.USAGE;
  }
  const files = parsed.files.length > 0 ? parsed.files : ["-"];
  // Under Bun, a long enough input starts the run again without JavaScriptCore's DFG compiler, before a byte is read
  // (runtime/jit.ts).
  const jit = await import("../runtime/jit.js");
  jit.restartWithoutDfg(files);
  const inputs: { name: string; text: string }[] = [];
  for (const file of files) {
    try {
      inputs.push({ name: file === "-" ? "stdin" : file, text: await readInput(file) });
    } catch (err) {
      io.stderr(
        `iqqq inject: error: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
      );
      return EXIT.DATA;
    }
  }
  // A stream of a chart's size is done before the optimising compilers would repay their cost (runtime/jit.ts).
  const short = jit.holdOptimisingCompilers(inputs.reduce((n, i) => n + i.text.length, 0));
  const [{ injectStream }, { streamIsJson }] = await Promise.all([
    import("../inject/stream.js"),
    import("../inject/manifest.js"),
  ]);
  // Each document is garbage once written: a young generation left at its first size holds less of it
  // (Node); a short run collects it as it goes (Bun).
  const gc = await import("../runtime/gc.js");
  gc.keepYoungGenerationSmall();
  const eachDocument = short ? gc.collectShortRunGarbage() : undefined;
  const { ImageLookups } = await import("../registry/lookups.js");
  // One look-up per image, however many containers use it; any address (this
  // runs on the user's own machine, for the user).
  const lookups = new ImageLookups({
    env,
    deadlineMs: LOOKUP_DEADLINE_MS,
    perHost: 4,
    total: 16,
  });
  const cache = new Map<string, ReturnType<typeof lookups.lookup>>();
  const options = {
    image,
    mode: parsed.mode,
    volume: parsed.volume,
    watch: parsed.watch,
    platform: parsed.platform,
    imageCommand: (ref: string, platforms: readonly string[]) => {
      const key = `${ref}\0${platforms.join(" ")}`;
      const found = cache.get(key) ?? lookups.lookup(ref, platforms);
      cache.set(key, found);
      return found;
    },
  };
  const out: string[] = [];
  /** Whether the files so far are JSON: kubectl reads one stream as JSON or as YAML, never both. */
  let json: { readonly name: string; readonly is: boolean } | undefined;
  let documents = 0;
  const passed: string[] = [];
  for (const [n, input] of inputs.entries()) {
    let result: Awaited<ReturnType<typeof injectStream>>;
    try {
      result = await injectStream(
        n > 0 ? input.text.replace(/^\uFEFF/, "") : input.text,
        input.name,
        options,
        eachDocument,
      );
    } catch (err) {
      if (!(err instanceof InjectError)) throw err;
      io.stderr(`iqqq inject: error: ${err.message}; nothing was written\n`);
      return EXIT.DATA;
    }
    const { text } = result;
    // Only files joined into one stream need telling apart: a single file is not parsed a second time.
    const isJson = inputs.length > 1 && streamIsJson(input.text.replace(/^\uFEFF/, ""));
    if (json !== undefined && json.is !== isJson) {
      const [jsonFile, yamlFile] = json.is ? [json.name, input.name] : [input.name, json.name];
      io.stderr(
        `iqqq inject: error: ${jsonFile} is JSON and ${yamlFile} is YAML: kubectl reads one stream as one or the other, so they cannot be joined; run iqqq inject on each; nothing was written\n`,
      );
      return EXIT.USAGE;
    }
    json ??= { name: input.name, is: isJson };
    for (const warning of result.warnings) io.stderr(`iqqq inject: warning: ${input.name}: ${warning}\n`);
    documents += result.documents;
    passed.push(...result.passed);
    // Files are joined as one stream: a document separator between them (`...` where the next one starts with
    // directives), after a line break the previous file may lack. The last file ends as it ended.
    if (out.length > 0) {
      const previous = out[out.length - 1] as string;
      if (previous.length > 0 && !previous.endsWith("\n")) {
        io.stderr(
          `iqqq inject: warning: ${inputs[n - 1]?.name} does not end with a line break: one is added before ${input.name}, which a block scalar (|) at its very end would keep\n`,
        );
        out.push("\n");
      }
      // JSON files: a stream of JSON objects, which kubectl reads one after the other (a `---` is not JSON).
      if (!json.is) out.push(/^\s*(#.*\s*)*%/.test(text) ? "...\n" : "---\n");
    }
    out.push(text);
  }
  if (passed.length > 0)
    io.stderr(
      `iqqq inject: note: ${passed.length} document${passed.length === 1 ? "" : "s"} with no pod passed through as written: ${summary(passed)}\n`,
    );
  if (documents === 0) io.stderr(`iqqq inject: warning: no document in ${inputs.map((i) => i.name).join(", ")}\n`);
  io.stdout(out.join(""));
  return EXIT.OK;
}

/** "ConfigMap ×3, Service" */
function summary(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(", ");
}

/**
 * A file, or stdin, read whole. Stdin may be a pipe whose other end made it
 * non-blocking (EAGAIN), or a slow writer: read until end of file, waiting
 * for data when there is none yet, rather than readFileSync's one attempt.
 */
async function readInput(file: string): Promise<string> {
  const fs = builtin("node:fs");
  if (file !== "-") return fs.readFileSync(file, "utf8");
  const chunks: Buffer[] = [];
  const buffer = Buffer.allocUnsafe(1 << 16);
  for (let delay = 1; ; ) {
    let n: number;
    try {
      n = fs.readSync(0, buffer, 0, buffer.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 50);
      continue;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
    delay = 1;
  }
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(Buffer.concat(chunks));
}
