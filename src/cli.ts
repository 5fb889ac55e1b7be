// The bin: the one place iqqq exits.

import { EXIT } from "./exit-status.js";
import { main } from "./main.js";
import { prepareBuiltins } from "./runtime/builtins.js";
import { keepStdioBlocking, OutputError, writeAll, writeOutput } from "./runtime/stdio.js";

// Plain write(2) calls, never process.stdout/stderr: see runtime/stdio.ts. (They
// are also cheaper: creating those streams costs about 10 ms under Bun.) Logs
// may be dropped; a command's output never is (a failed write is exit 74).
const output = (text: string) => writeOutput(1, text);
const log = (text: string) => writeAll(2, text);

// Under Node argv[1] is the script as invoked (a symlink keeps its own name). A
// Bun-compiled executable puts its embedded module there instead ("/$bunfs/root/"
// + the name it was built as) and the name it was invoked under in argv0.
const invokedPath = process.argv[1]?.startsWith("/$bunfs/") ? process.argv0 : process.argv[1];

// String operations, not regular expressions: the executable's engine compiles
// a regular expression on its first use, which costs start-up.
const base = (invokedPath ?? "iqqq").slice((invokedPath ?? "").lastIndexOf("/") + 1);
const invokedAs = base.endsWith(".mjs") ? base.slice(0, -4) : base.endsWith(".js") ? base.slice(0, -3) : base;

// Started within this module's evaluation, not from a promise's callback, when
// no built-in has to be prepared first: one turn from start to the program's
// spawn, unless a readiness wait, a group or the pattern engine comes first
// (no gain that whole runs resolve: docs/performance-notes.md).
const run = () => main(process.argv.slice(2), process.env, { stdout: output, stderr: log, invokedAs });
keepStdioBlocking();
const preparing = prepareBuiltins();
(preparing === undefined ? run() : preparing.then(run)).then(
  (status) => process.exit(status),
  (err: unknown) => {
    if (err instanceof OutputError) {
      writeAll(2, `iqqq: error: ${err.message}; the output is incomplete\n`);
      process.exit(EXIT.IO_ERROR);
    }
    writeAll(2, `iqqq: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(EXIT.INTERNAL);
  },
);
