// One YAML stream through inject: each document that holds pods is parsed,
// injected (inject.ts) and edited in place (manifest.ts); every other byte is
// copied as written. The same text in gives the same text out, and a second
// pass changes nothing.

import type { Document } from "yaml";
import { describe, InjectError, type InjectOptions, injectDocument } from "./inject.js";
import { applyValue, freshLines, ManifestError, parseSegment, readValue, writeDocument } from "./manifest.js";
import { mayHoldPods, quickSegments, Resplit, type Segment, splitStream, withTokens } from "./split.js";
import { copy, same } from "./value.js";

export interface Injected {
  readonly text: string;
  /** How many documents the stream had. */
  readonly documents: number;
  /** The kinds (or names) of the documents with no pod in them, passed through as written. */
  readonly passed: readonly string[];
  /** What stands in the way of a pod that ends, or what changed besides iqqq's additions: "document N: …". */
  readonly warnings: readonly string[];
}

/**
 * Injects iqqq into every pod of a YAML stream. A problem is an InjectError naming the file, document and
 * line. `eachDocument` is called once per document, before it is read (the inject command's housekeeping:
 * runtime/gc.ts).
 */
export async function injectStream(
  text: string,
  name: string,
  options: InjectOptions,
  eachDocument?: () => void,
): Promise<Injected> {
  refuseHiddenBreaks(text, name);
  try {
    return await injectSegments(text, name, options, quickSegments(text), eachDocument);
  } catch (err) {
    if (!(err instanceof Resplit)) throw err;
    return await injectSegments(text, name, options, splitStream(text), eachDocument);
  }
}

/**
 * Two characters Kubernetes reads otherwise than the `yaml` package, anywhere
 * in the stream, are refused before anything is read: a carriage return not
 * followed by a line feed (a line break to go-yaml v2, so `kind:\r List` is a
 * List; the package keeps it inside the text), and a byte-order mark at the
 * start of a line but the first (go-yaml v2 drops one there: `---` then a BOM
 * then `apiVersion` is apiVersion; the package reads "\uFEFFapiVersion"). One
 * inside a line (a quoted string, a comment) reads alike in both. A document
 * iqqq would pass through is refused too: its kind could be misread.
 */
function refuseHiddenBreaks(text: string, name: string): void {
  // And a document that starts on its `---` line (`--- {kind: Pod}`): kubectl's reader cuts a stream
  // at lines of `---` and blanks or a comment only; it refuses this one from 1.32 ("invalid Yaml
  // document separator"), and before that reads no document from it, where YAML starts one.
  const node = /^---[ \t]+[^\s#]/m.exec(text);
  if (node !== null) {
    throw new InjectError(
      `${name}: line ${text.slice(0, node.index).split("\n").length}: a document that starts on its --- line, which kubectl refuses (from 1.32) or reads no document from (before); put what follows --- on the next line`,
    );
  }
  const at = text.search(/\r(?!\n)|(?<=\n)\uFEFF/);
  if (at < 0) return;
  const line = text.slice(0, at).split("\n").length;
  throw new InjectError(
    text[at] === "\r"
      ? `${name}: line ${line}: a carriage return not followed by a line feed, which Kubernetes reads as a line break and iqqq's YAML reader does not; end lines with LF or CRLF, or write it as \\r in a double-quoted string`
      : `${name}: line ${line}: a byte-order mark (U+FEFF) at the start of a line, which Kubernetes drops there and iqqq's YAML reader does not; remove it, or write it as \\uFEFF in a double-quoted string`,
  );
}

/** Injects iqqq into the documents of a stream, cut into `segments` (split.ts). */
export async function injectSegments(
  text: string,
  name: string,
  options: InjectOptions,
  segments: Iterable<Segment>,
  eachDocument?: () => void,
): Promise<Injected> {
  const written: string[] = [];
  let from = 0;
  let documents = 0;
  const passed: string[] = [];
  const warnings: string[] = [];
  for (const segment of segments) {
    eachDocument?.();
    documents++;
    if (!mayHoldPods(segment, text)) {
      if (segment.kind !== "") passed.push(segment.kind as string);
      continue;
    }
    try {
      const quick = segment.quick;
      let doc = quick === undefined ? parseSegment(text, segment, name) : undefined;
      const before = quick === undefined ? readValue(doc as Document, text, segment, name) : quick.value;
      const after = copy(before);
      const outcome = await injectDocument(after, options, before);
      if (outcome.kind === "skipped") {
        if (typeof after === "object" && after !== null) passed.push(describe(after));
        continue;
      }
      for (const w of outcome.warnings ?? []) warnings.push(`document ${segment.index} (line ${segment.line}): ${w}`);
      if (outcome.kind !== "injected") continue;
      const own = text.slice(segment.start, segment.end);
      let out = quick?.write(before, after, freshLines);
      if (out === undefined) {
        if (doc === undefined) {
          const full = withTokens(text, segment);
          doc = parseSegment(text, full, name);
          if (!same(readValue(doc, text, full, name), before))
            throw new Error(`${name}: document ${segment.index}: the quick reader and the parser read it otherwise`);
        }
        applyValue(doc, before, after, own);
        out = writeDocument(doc, own);
      }
      written.push(text.slice(from, segment.start), out);
      from = segment.end;
    } catch (err) {
      if (err instanceof ManifestError) throw new InjectError(err.message);
      // The `yaml` package writes and reads recursively: nesting too deep for its stack.
      if (err instanceof RangeError)
        throw new InjectError(`${name}: document ${segment.index} (line ${segment.line}): nested too deeply to handle`);
      if (err instanceof InjectError)
        throw new InjectError(`${name}: document ${segment.index} (line ${segment.line}): ${err.message}`);
      throw err;
    }
  }
  written.push(text.slice(from));
  return { text: written.join(""), documents, passed, warnings };
}
