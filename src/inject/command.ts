// iqqq inject [options] [FILE…]: Kubernetes YAML in (the files, or stdin), the
// same YAML with iqqq injected out, on stdout. Loaded only for this command.

import type { Env } from "../config/config.js";
import { EXIT } from "../exit-status.js";
import type { Io } from "../main.js";
import { builtin } from "../runtime/builtins.js";
import { InjectError, injectDocument, type Mode } from "./inject.js";
import { loadYaml } from "./yaml.js";

export const INJECT_USAGE = `Usage: iqqq inject [--image REF] [--mode wrapper|watcher] [--watch NAME]
                   [--platform OS/ARCH] [FILE…]
Reads Kubernetes YAML (the FILEs, or stdin when none or "-"), writes it to stdout
with iqqq injected into every Pod, Job and CronJob; other kinds pass through.
  --image REF        the iqqq image for the init container (or the watcher);
                     default: $IQQQ_IMAGE
  --mode wrapper     (default) an init container copies iqqq into an emptyDir and
                     each job container's command starts with it
  --mode watcher     a watcher container instead, with shareProcessNamespace
  --watch NAME       watcher mode: the process to wait for in a container that
                     has no command (else its image's ENTRYPOINT names it)
  --platform OS/ARCH the platform whose image config is read when a container has
                     no command (default linux/amd64)
A container without a command gets its image's ENTRYPOINT and CMD from the
registry (anonymous or bearer-token access; credentials from Docker's
config.json or podman's auth.json).
`;

interface Options {
  image: string | undefined;
  mode: Mode;
  watch: string | undefined;
  platform: string;
  files: string[];
}

export async function injectCommand(args: readonly string[], env: Env, io: Io): Promise<number> {
  const parsed = parseOptions(args, env);
  if (typeof parsed === "string") {
    if (parsed === "help") {
      io.stdout(INJECT_USAGE);
      return EXIT.OK;
    }
    io.stderr(`iqqq inject: error: ${parsed}\n${INJECT_USAGE}`);
    return EXIT.USAGE;
  }
  const { image } = parsed;
  if (image === undefined) {
    io.stderr("iqqq inject: error: which iqqq image? Give --image REF or set IQQQ_IMAGE\n");
    return EXIT.USAGE;
  }
  const inputs: { name: string; text: string }[] = [];
  for (const file of parsed.files.length > 0 ? parsed.files : ["-"]) {
    try {
      inputs.push({
        name: file === "-" ? "stdin" : file,
        text: builtin("node:fs").readFileSync(file === "-" ? 0 : file, "utf8"),
      });
    } catch (err) {
      io.stderr(
        `iqqq inject: error: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
      );
      return EXIT.DATA;
    }
  }
  const yaml = await loadYaml();
  const { imageCommand } = await import("./registry.js");
  const lookups = new Map<string, ReturnType<typeof imageCommand>>();
  const options = {
    image,
    mode: parsed.mode,
    watch: parsed.watch,
    imageCommand: (ref: string) => {
      // One look-up per image, however many containers use it.
      const found = lookups.get(ref) ?? imageCommand(ref, { platform: parsed.platform, env });
      lookups.set(ref, found);
      return found;
    },
  };
  const out: string[] = [];
  for (const input of inputs) {
    let from = 0;
    for (const doc of yaml.parseAllDocuments(input.text)) {
      // This document's text as written: from where the previous one ended, comments included.
      const written = input.text.slice(from, doc.range[2]);
      from = doc.range[2];
      if (doc.errors.length > 0) {
        io.stderr(`iqqq inject: error: ${input.name}: not valid YAML: ${doc.errors[0]?.message}\n`);
        return EXIT.DATA;
      }
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      try {
        const outcome = await injectDocument(value, options);
        if (outcome.kind === "skipped") {
          io.stderr(`iqqq inject: warning: ${input.name}: ${outcome.what}: ${outcome.note}\n`);
          // As written, comments and all; the separator is added below.
          out.push(written.replace(/^---[ \t]*(\n|$)/, ""));
        } else out.push(yaml.stringify(value, { lineWidth: 0, aliasDuplicateObjects: false }));
      } catch (err) {
        if (!(err instanceof InjectError)) throw err;
        io.stderr(`iqqq inject: error: ${input.name}: ${err.message}; nothing was written\n`);
        return EXIT.DATA;
      }
    }
  }
  if (out.length === 0) io.stderr(`iqqq inject: warning: no document in ${inputs.map((i) => i.name).join(", ")}\n`);
  io.stdout(out.map((d) => (d.endsWith("\n") ? d : `${d}\n`)).join("---\n"));
  return EXIT.OK;
}

function parseOptions(args: readonly string[], env: Env): Options | string {
  const options: Options = {
    image: env.IQQQ_IMAGE || undefined,
    mode: "wrapper",
    watch: undefined,
    platform: "linux/amd64",
    files: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const value = (): string | undefined => {
      const eq = arg.indexOf("=");
      if (eq >= 0) return arg.slice(eq + 1);
      i++;
      return args[i];
    };
    const flag = arg.startsWith("--") ? arg.replace(/=.*/, "") : arg;
    if (flag === "--help" || flag === "-h") return "help";
    if (flag === "--image" || flag === "--mode" || flag === "--watch" || flag === "--platform") {
      const v = value();
      if (v === undefined || v === "") return `${flag} needs a value`;
      if (flag === "--image") options.image = v;
      else if (flag === "--watch") options.watch = v;
      else if (flag === "--platform") {
        if (!/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(v))
          return `--platform ${JSON.stringify(v)}: expected OS/ARCH, such as linux/arm64`;
        options.platform = v;
      } else if (v === "wrapper" || v === "watcher") options.mode = v;
      else return `--mode ${JSON.stringify(v)}: expected wrapper or watcher`;
    } else if (arg === "--") {
      options.files.push(...args.slice(i + 1));
      break;
    } else if (arg.startsWith("-") && arg !== "-") return `unknown option ${JSON.stringify(arg)}`;
    else options.files.push(arg);
  }
  return options;
}
