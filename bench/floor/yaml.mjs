// The floor of `iqqq inject` (bench/inject.ts): the `yaml` package alone reads
// every document of the stream in FILE and writes each back, nothing else. No
// meaning, no edits, no checks: what any inject built on the library pays for
// the library, set beside what iqqq pays in all.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const text = readFileSync(process.argv[2], "utf8");
process.stdout.write(
  parseAllDocuments(text)
    .map((doc) => doc.toString())
    .join(""),
);
