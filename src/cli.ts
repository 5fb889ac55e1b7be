// The bin: the one place iqqq exits.

import { basename } from "node:path";
import { EXIT } from "./exit-status.js";
import { main } from "./main.js";

// The streams are only touched when something is written: creating them costs
// milliseconds (about 10 ms under Bun), and the wrapper path usually writes nothing.
const write = (stream: () => NodeJS.WriteStream) => (text: string) => void stream().write(text);

// Under Node argv[1] is the script as invoked (a symlink keeps its own name). A
// Bun-compiled executable puts its embedded module there instead ("/$bunfs/root/"
// + the name it was built as) and the name it was invoked under in argv0.
const invokedPath = process.argv[1]?.startsWith("/$bunfs/") ? process.argv0 : process.argv[1];

main(process.argv.slice(2), process.env, {
  stdout: write(() => process.stdout),
  stderr: write(() => process.stderr),
  invokedAs: basename(invokedPath ?? "iqqq").replace(/\.(mjs|js)$/, ""),
}).then(
  (status) => process.exit(status),
  (err: unknown) => {
    process.stderr.write(`iqqq: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(EXIT.INTERNAL);
  },
);
