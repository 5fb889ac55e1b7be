// The bin: the one place iqqq exits.

import { basename } from "node:path";
import { EXIT } from "./exit-status.js";
import { main } from "./main.js";

const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);

main(process.argv.slice(2), process.env, {
  stdout: write(process.stdout),
  stderr: write(process.stderr),
  invokedAs: basename(process.argv[1] ?? "iqqq").replace(/\.(mjs|js)$/, ""),
}).then(
  (status) => process.exit(status),
  (err: unknown) => {
    process.stderr.write(`iqqq: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(EXIT.INTERNAL);
  },
);
