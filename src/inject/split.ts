// A YAML stream cut into its documents, and each document's top-level `kind`,
// reading as little as that takes. A stream inject sees is often a chart's
// rendering: documents that each start at a `---` line, many of them kinds
// with no pod (ConfigMaps, Services). Their kind shows on a `kind:` line at
// the left margin, found by looking at the first characters of each line; only
// a document whose kind that look cannot tell for sure (or that may hold a
// pod) is given to the `yaml` package's CST parser, on its own text. A stream
// with anything else in it (a directive, `...`, a byte-order mark) goes to the
// parser whole, as every stream did before.
//
// Why cut the text here rather than let the parser do it: its tokens for a
// whole stream stayed in memory until the last document was done (1,000 Jobs
// of bench/inject.ts: 160 MB peak RSS for the bundle, 104-108 MB now), and it
// read every byte of the documents passed through. A `---` line at the left
// margin starts a document in every state of the `yaml` lexer (a quoted, plain
// or block scalar and a flow collection all end there, as YAML says) but one:
// a quote it finds no end for anywhere after it, which reads to the end of the
// stream (unclosable() below). So the parser, given one document's text,
// reads what it read in the whole stream; test/inject/split.test.ts holds the
// two ways to the same segments, kinds and tokens over random streams.

import { CST, Parser } from "yaml";
import { mayHoldPodSpec } from "./inject.js";
import { resolvePlain } from "./meaning.js";
import { type Quick, readQuick } from "./quick.js";

/** The kinds whose documents can hold a pod spec: the only ones parsed in full. */

/** One document of a stream: where it stands in the text, and its kind when a look at the top level tells it. */
export interface Segment {
  /** 1-based position in the stream. */
  readonly index: number;
  /** The text to replace when the document is rewritten: its directives, `---` and content. */
  readonly start: number;
  readonly end: number;
  /** Its line (1-based) in the text. */
  readonly line: number;
  /** The top-level `kind` ("" when it has none); undefined when only a full parse can tell. */
  readonly kind: string | undefined;
  /** Its CST tokens (directives, then the document); empty where the kind was read from the lines alone. */
  readonly tokens: readonly CST.Token[];
  /** Where the tokens' offsets count from in the text: the document's own text was parsed alone. */
  readonly base: number;
  /** The document as the quick reader (quick.ts) took it, without the parser: tokens is empty then. */
  readonly quick?: Quick;
}

/**
 * The documents of a YAML stream, found by the CST parser without composing
 * any of them; or of its tail from `from` (a document's start), as they stand
 * in the whole text.
 */
export function splitStream(text: string, from = 0, firstIndex = 1, firstLine = 1): Segment[] {
  const segments: Segment[] = [];
  let directives: CST.Token[] = [];
  const tail = from === 0 ? text : text.slice(from);
  const lines = lineStarts(tail);
  const tokens = [...new Parser().parse(tail)];
  tokens.forEach((token, i) => {
    if (token.type === "directive") directives.push(token);
    else if (token.type === "document") {
      const start = directives[0]?.offset ?? token.offset;
      // Up to the next document, directive or `...`: the parser gives a document's errors before the document, and an
      // error is no place to end the one before (its text up to there would be lost from the output).
      const end = tokens.find((t, j) => j > i && t.type !== "error")?.offset ?? tail.length;
      segments.push({
        index: firstIndex + segments.length,
        start: from + start,
        end: from + end,
        line: firstLine - 1 + lineOf(lines, token.offset),
        kind: kindOf(token),
        tokens: [...directives, token],
        base: from,
      });
      directives = [];
    } else if (token.type === "doc-end") directives = [];
  });
  return segments;
}

/** What the quick cut cannot take: a byte-order mark, a directive or a `...` line. */
const NOT_QUICK = /\uFEFF|(?:^|\n)(?:%|\.\.\.(?=[ \t\r\n]|$))/;
/** A document start: `---` at the left margin, then white space or the end (the lexer's isEmpty). */
const DOC_START = /(?:^|\n)---(?=[ \t\r\n]|$)/g;

/** The quick cut could not tell a document apart as the parser does: the caller starts again with splitStream. */
export class Resplit extends Error {}

/**
 * The same segments as splitStream, one at a time, each document parsed alone
 * and only where its lines do not tell its kind (segment.tokens is empty
 * where they did). Throws Resplit where a document's own parse does not look
 * as the cut expects (the parser found an error between documents); the
 * caller then starts again with splitStream.
 */
export function* quickSegments(text: string): Generator<Segment> {
  if (NOT_QUICK.test(text)) {
    yield* splitStream(text);
    return;
  }
  const starts: number[] = [];
  for (const m of text.matchAll(DOC_START)) starts.push(m.index === 0 && !text.startsWith("\n") ? 0 : m.index + 1);
  const open = unclosable(text);
  let index = 0;
  let line = 1;
  let from = 0;
  for (let k = 0; k <= starts.length; k++) {
    const start = k === 0 ? 0 : (starts[k - 1] as number);
    const end = starts[k] ?? text.length;
    if (end === start) continue;
    line += newlines(text, from, start);
    from = start;
    if (end > open) {
      // The stream's last document, where the quick reader takes it, has no quote left open: as the parser cuts it.
      const last = end === text.length ? readQuick(text, start, end) : undefined;
      const kind = last === undefined ? undefined : kindIn(last.value);
      if (last !== undefined && mayHoldPodSpec(kind)) {
        yield { index: index + 1, start, end, line, kind: kind as string, tokens: [], base: start, quick: last };
        return;
      }
      // A quote from here on may be one the lexer never finds the end of: it then reads to the end of the stream.
      yield* splitStream(text, start, index + 1, line);
      return;
    }
    const marked = text.startsWith("---", start) && (k > 0 || starts[0] === 0);
    const quick = kindFromLines(text, start, end, marked);
    if (quick === NO_DOCUMENT) continue;
    index++;
    if (quick !== undefined && !mayHoldPodSpec(quick)) {
      // Without a `---`, the document starts at its first key: comments and blank lines before it are the stream's.
      const own = marked ? start : (FIRST_CONTENT.exec(text.slice(start, end))?.index ?? 0) + start;
      yield { index, start: own, end, line: line + newlines(text, start, own), kind: quick, tokens: [], base: start };
      continue;
    }
    // Before the next `---`, the parser is given one more document, with a quote of each kind: a quote the lexer
    // finds no end for in this document then ends where it did in the whole stream, at that `---` line.
    const read = readQuick(text, start, end);
    const kind = read === undefined ? undefined : kindIn(read.value);
    if (read !== undefined && mayHoldPodSpec(kind)) {
      yield { index, start, end, line, kind: kind as string, tokens: [], base: start, quick: read };
      continue;
    }
    const tokens: CST.Token[] = [];
    for (const token of new Parser().parse(end < text.length ? text.slice(start, end) + NEXT : text.slice(start))) {
      if (token.offset >= end - start) break;
      tokens.push(token);
    }
    const documents = tokens.filter((t) => t.type === "document");
    const doc = documents[0] as CST.Document | undefined;
    const around = tokens.every((t) => t.type === "document" || t.type === "comment" || t.type === "newline");
    if (doc === undefined || documents.length !== 1 || !around || (marked && tokens[0] !== doc))
      throw new Resplit(`document ${index}`);
    // What follows the document at the stream's level (blank lines after a scalar) is copied as it stands.
    const after = tokens[tokens.indexOf(doc) + 1];
    yield {
      index,
      start: start + doc.offset,
      end: after === undefined ? end : start + after.offset,
      line: line + newlines(text, start, start + doc.offset),
      kind: kindOf(doc),
      tokens: [doc],
      base: start,
    };
  }
}

/** A document's top-level `kind` as kindOf gives it: "" where it has none, or none that is a string. */
function kindIn(value: unknown): string {
  const kind =
    typeof value === "object" && value !== null && !Array.isArray(value) ? (value as { kind?: unknown }).kind : "";
  return typeof kind === "string" ? kind : "";
}

/**
 * A segment the quick reader took, with its tokens, for the full path: where
 * the quick writer does not make an edit. Resplit where the parser cuts it
 * otherwise (the quick reader takes only what it cuts alike).
 */
export function withTokens(text: string, segment: Segment): Segment {
  if (segment.tokens.length > 0) return segment;
  const found = splitStream(text.slice(0, segment.end), segment.start, segment.index, segment.line);
  const own = found[0];
  if (found.length !== 1 || own === undefined || own.start !== segment.start || own.end !== segment.end)
    throw new Resplit(`document ${segment.index}`);
  return own;
}

const NO_DOCUMENT = Symbol("no document");
/** The first line that is not blank or a comment. */
const FIRST_CONTENT = /^(?![ ]*(?:#.*)?\r?$)/m;
/** What follows a document that is not the stream's last, for the parser: see quickSegments. */
const NEXT = `---\n"'\n`;

/**
 * Where a quoted scalar could start that the lexer finds no end for (it then
 * takes the rest of the stream, `---` lines and all): at or after the last
 * quote that closes whatever quote is open before it. A `'` counts unless a
 * `'` stands beside it (`''` is a quote inside the scalar); a `"` counts after
 * an even number of backslashes. Where none counts, the first quote; where
 * there is none, text.length.
 */
function unclosable(text: string): number {
  let single = text.length;
  for (let i = text.lastIndexOf("'"); i >= 0; i = i > 0 ? text.lastIndexOf("'", i - 1) : -1) {
    single = i;
    if (text[i - 1] !== "'" && text[i + 1] !== "'") break;
  }
  let double = text.length;
  for (let i = text.lastIndexOf('"'); i >= 0; i = i > 0 ? text.lastIndexOf('"', i - 1) : -1) {
    double = i;
    let backslashes = 0;
    while (text[i - 1 - backslashes] === "\\") backslashes++;
    if (backslashes % 2 === 0) break;
  }
  return Math.min(single, double);
}

/**
 * The top-level `kind` of text[start, end) from its lines alone: "" where it
 * has none, undefined where only the parser can tell, NO_DOCUMENT where the
 * text before the first `---` holds only comments and blank lines.
 *
 * Sure only of a document whose top level is a block map at the left margin,
 * each line there a plain key, a comment or blank; whose keys' values are on
 * the key's line, or a block scalar, or lines indented alike that all start
 * the same way (each a plain key, or each a sequence item; a value there may
 * be a one-line flow collection), anything more indented under them (but no
 * flow collection); whose word `kind` is only in its one `kind:` line, with a
 * plain word for its value. In YAML that is a map whose keys are those
 * lines', and no error the `yaml` parser recovers from can make it otherwise
 * (it hangs a line on the innermost collection indented no deeper). The rest
 * goes to the parser; test/inject/split.test.ts holds the two to the same
 * kinds over random documents.
 */
function kindFromLines(
  text: string,
  start: number,
  end: number,
  marked: boolean,
): string | undefined | typeof NO_DOCUMENT {
  let at = start;
  if (marked) {
    const eol = lineEnd(text, at, end);
    // `---`, then nothing but a comment: a document of its own (a node on that line needs the parser).
    if (!/^---[ ]*(?:[ ]#.*)?\r?$/.test(text.slice(at, eol))) return undefined;
    at = eol + 1;
  }
  let kind = "";
  let keys = 0;
  let kinds = 0;
  /** The value of the last key: on its line, a block scalar, lines under it (or none yet), or ended by a comment. */
  let value: "inline" | "scalar" | "lines" | "ended" = "ended";
  /** How far the value's lines are indented (0 before the first), and how its lines at that indentation start. */
  let indent = 0;
  let starts: "key" | "item" | undefined;
  /** A block scalar below the top level: the indentation of its key or item (-1: none), and of its text (0: not yet). */
  let inside = -1;
  let content = 0;
  for (; at < end; ) {
    const eol = lineEnd(text, at, end);
    const first = text.charCodeAt(at);
    if (first === SPACE) {
      let n = 1;
      while (text.charCodeAt(at + n) === SPACE) n++;
      const rest = text.charCodeAt(at + n);
      const blank = at + n === eol || (rest === CR && at + n + 1 === eol);
      if (blank) {
        // Nothing to read.
      } else if (inside >= 0 && n > inside && (content === 0 || n >= content)) {
        // A line of a block scalar under a key (or item) indented `inside`: its text, whatever it holds.
        if (content === 0) content = n;
      } else {
        inside = -1;
        if (value === "inline" || value === "ended" || n < indent) return undefined;
        if (value === "scalar") {
          // The text of a block scalar at the top level, whatever it holds (a `#` too): its first line sets how far.
          if (indent === 0) indent = n;
        } else if (rest !== HASH) {
          // A comment sets no indentation for the lines after it.
          if (indent === 0) indent = n;
          const line = text.slice(at + n, eol);
          // A flow collection only on a line of the block's own: a line under an inline value continues it.
          if (!plainLine(line, n === indent)) return undefined;
          if (n === indent) {
            const begins = INDENTED_KEY.test(line) ? "key" : ITEM.test(line) ? "item" : undefined;
            if (begins === undefined || (starts !== undefined && begins !== starts)) return undefined;
            starts = begins;
          }
          if (NESTED_BLOCK_SCALAR.test(line)) {
            inside = n;
            content = 0;
          }
        }
      }
    } else if (first === HASH) {
      if (keys > 0) value = "ended";
    } else if (at !== eol && !(first === CR && eol === at + 1)) {
      const line = text.slice(at, eol);
      const key = KEY_LINE.exec(line);
      if (key === null || !plainLine(line, true)) return undefined;
      keys++;
      inside = -1;
      const inline = key[2] ?? "";
      value = inline === "" || inline.startsWith("#") ? "lines" : BLOCK_SCALAR.test(inline) ? "scalar" : "inline";
      indent = 0;
      starts = undefined;
      if (key[1] === "kind") {
        // A second `kind`: a key given twice, or a quote that Kubernetes reads across lines where the yaml package
        // ends it (and then finds a `kind` that Kubernetes does not). The parser looks, and refuses it.
        if (++kinds > 1) return undefined;
        const word = KIND_VALUE.exec(inline);
        if (word === null) return undefined;
        const meaning = resolvePlain(word[1] as string);
        kind = typeof meaning === "string" ? meaning : "";
      }
    }
    at = eol + 1;
  }
  if (keys === 0) return marked ? "" : NO_DOCUMENT;
  const own = text.slice(start, end);
  // A `kind` key only where read above; none spelled with escapes; no YAML 1.1 line break for a line to hide behind.
  if (own.split("kind").length - 1 !== kinds || (own.includes("\\") && own.includes('"'))) return undefined;
  return YAML11_BREAK.test(own) ? undefined : kind;
}

const SPACE = 0x20;
const HASH = 0x23;
const CR = 0x0d;
/** A plain key at the left margin, then its value (or nothing) on the line. Not `<<`, not quoted, no tag or anchor. */
const KEY_LINE = /^([A-Za-z0-9][A-Za-z0-9_./-]*):(?:[ ]+(.*?))?\r?$/;
/**
 * A line with nothing the parser could take for the end of the document: no
 * flow collection (a `}` or `]` where none is open ends the document there)
 * but, where `flowValue`, one that a key's or an item's value closes on the
 * line, no `?`, `:` or `,` to start it, no block scalar header alone, no
 * second key.
 */
function plainLine(line: string, flowValue = false): boolean {
  const flow = flowValue ? ONE_LINE_FLOW.exec(line) : null;
  const rest = flow === null ? line : `${flow[1]}x${flow[2]}`;
  return !/[[\]{}]/.test(rest) && !/^[?:,|>]/.test(rest) && (rest.match(MAPPING_INDICATOR)?.length ?? 0) <= 1;
}

/** A plain word, as a flow collection's key or value. */
const FLOW_WORD = "[A-Za-z0-9][A-Za-z0-9_./-]*";
/** A flow collection's value: a plain word, or quoted text without an escape, a quote of the other kind, a bracket or a `#`. */
const FLOW_VALUE = `(?:${FLOW_WORD}|"[^"'\\\\[\\]{}#]*"|'[^"'[\\]{}#]*')`;
/**
 * A key's or an item's value that is a flow collection of plain words and
 * quoted text alone, nothing nested, closed on its line (a Service's
 * `selector: {app: web}`), then perhaps a comment: the lexer is back where it
 * was after it, and the line reads as one with a plain value in its place.
 */
const ONE_LINE_FLOW = new RegExp(
  `^((?:- +)?${FLOW_WORD}: +|- +)` +
    // The spaces before the closing bracket inside the optional part: two ` *` side by side are quadratic.
    `(?:\\{ *(?:${FLOW_WORD}: +${FLOW_VALUE}(?: *, +${FLOW_WORD}: +${FLOW_VALUE})* *)?\\}` +
    `|\\[ *(?:${FLOW_VALUE}(?: *, +${FLOW_VALUE})* *)?\\])` +
    "( *(?: #.*)?\\r?)$",
);

/** `: ` (or `:` at the end): a second one on a line is a mapping in a mapping's value, which YAML refuses. */
const MAPPING_INDICATOR = /:(?=[ \t]|\r?$)/g;

/** A key or item whose value is a block scalar, below the top level. */
const NESTED_BLOCK_SCALAR = /^(?:[A-Za-z0-9][A-Za-z0-9_./-]*:|-)[ ]+[|>][-+1-9]{0,2}[ ]*(?:[ ]#.*)?\r?$/;
/** The same, indented under a key. */
const INDENTED_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]*:(?:[ ]|\r?$)/;
/** A sequence item. */
const ITEM = /^-(?:[ ]|\r?$)/;
/** A block scalar's header, then perhaps a comment. */
const BLOCK_SCALAR = /^[|>][-+1-9]{0,2}[ ]*(?:[ ]#.*)?$/;
/** A plain word, then perhaps a comment. */
const KIND_VALUE = /^([A-Za-z][A-Za-z0-9]*)[ ]*(?:[ ]#.*)?$/;

function lineEnd(text: string, at: number, end: number): number {
  const eol = text.indexOf("\n", at);
  return eol < 0 || eol > end ? end : eol;
}

function newlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf("\n", from); i >= 0 && i < to; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Might this document hold a pod spec? */
export function mayHoldPods(segment: Segment, text: string): boolean {
  if (segment.kind === undefined || mayHoldPodSpec(segment.kind)) return true;
  // NEL, LS and PS end a line for YAML 1.1 but not for the parser here: a `kind` could hide behind one.
  const own = text.slice(segment.start, segment.end);
  if (!YAML11_BREAK.test(own)) return false;
  // Read again with those as line ends (there are none left to look behind then).
  const seen = splitStream(own.replace(YAML11_BREAKS, "\n"))[0];
  return seen === undefined || seen.kind === undefined || mayHoldPodSpec(seen.kind);
}

export const YAML11_BREAK = /[\u0085\u2028\u2029]/;
const YAML11_BREAKS = /[\u0085\u2028\u2029]/g;

/** The document's top-level `kind` from its tokens; undefined where that takes a full parse. */
export function kindOf(doc: CST.Document): string | undefined {
  const value = doc.value;
  if (value === undefined) return "";
  if (value.type !== "block-map" && !(value.type === "flow-collection" && value.start.source === "{"))
    return CST.isScalar(value) ? "" : undefined;
  let kind = "";
  let kinds = 0;
  for (const item of value.items) {
    if (item.start.some((t) => t.type === "anchor" || t.type === "tag")) return undefined;
    const key = item.key;
    if (key === null || key === undefined || !CST.isScalar(key)) {
      if (key === null || key === undefined) continue;
      return undefined;
    }
    const name = scalarText(key);
    if (name === undefined) return undefined;
    if (name === "<<") return undefined;
    if (name !== "kind") continue;
    // Given twice: the full parse refuses it (kindFromLines says why it matters).
    if (++kinds > 1) return undefined;
    if ((item.sep ?? []).some((t) => t.type === "anchor" || t.type === "tag")) return undefined;
    const v = item.value;
    if (v === undefined || v === null) kind = "";
    else if (!CST.isScalar(v)) return undefined;
    else {
      const text = scalarText(v);
      if (text === undefined) return undefined;
      const meaning = v.type === "scalar" ? resolvePlain(text) : text;
      kind = typeof meaning === "string" ? meaning : "";
    }
  }
  return kind;
}

function scalarText(token: CST.FlowScalar | CST.BlockScalar): string | undefined {
  if (token.type === "alias") return undefined;
  // A scalar the composer would refuse (`,x`): the full parse says so, with the line.
  let bad = false;
  const resolved = CST.resolveAsScalar(token, true, () => {
    bad = true;
  });
  return resolved === null || bad ? undefined : resolved.value;
}

export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

export function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
