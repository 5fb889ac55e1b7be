// A stream of Kubernetes YAML documents, edited without changing what any of
// them means. Only documents that may hold a pod (Pod, Job, CronJob, List) are
// parsed beyond their `kind`; the rest, and every byte between documents
// (directives, `...`, comments, a BOM, CRLF), are copied as written. A parsed
// document that inject changes is edited in place, node by node: comments, key
// order, flow style and every untouched scalar's text survive, and what iqqq
// adds is written so that YAML 1.1 (go-yaml v2) reads it back as meant.
//
// Syntax comes from the `yaml` package (its CST parser is linear; its failsafe
// schema keeps every scalar as the text written); meaning from meaning.ts.

import {
  type Alias,
  Composer,
  Document,
  isAlias,
  isDocument,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Node,
  Pair,
  Scalar,
  visit,
  YAMLMap,
  YAMLSeq,
} from "yaml";
import { stringifyString, stringTag } from "yaml/util";
import { keyString, MeaningError, meaningOf, originsOf, resolvePlain, scalarValue } from "./meaning.js";
import { lineOf, lineStarts, type Segment, YAML11_BREAK } from "./split.js";
import { isRecord, same, seqOrder, type Value } from "./value.js";

/** A problem in the input, with where it is. */
export class ManifestError extends Error {}

/** Characters go-yaml v2 refuses in its input (it allows tab, LF, CR, NEL and the printable rest). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to find
const REFUSED_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]/;

/** What a JSON string cannot hold raw, and the non-characters: JSON takes DEL, C1 controls, NEL, LS and PS as they are. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to find
const REFUSED_IN_JSON = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** An escaped backslash, or an escape go-yaml v2 refuses in a double-quoted string (`\/`, a UTF-16 surrogate). */
const REFUSED_ESCAPE = /\\\\|\\(?:\/|u[dD][89a-fA-F][0-9a-fA-F]{2}|U0000[dD][89a-fA-F][0-9a-fA-F]{2})/g;

/** In JSON: an escaped backslash, a UTF-16 surrogate pair (one character beyond U+FFFF), a surrogate alone. */
const JSON_SURROGATE =
  /\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}/g;

/** A stream kubectl first tries to read as JSON: its first character but white space (Go's unicode.IsSpace) is `{`. */
export function startsAsJson(text: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\{/.test(text);
}

/**
 * Whether kubectl reads a whole stream as JSON: it starts as JSON and its first object parses as
 * JSON (a comment after the object aside). Files joined into one stream must all be, or none.
 */
export function streamIsJson(text: string): boolean {
  if (!startsAsJson(text)) return false;
  for (const candidate of [text, text.slice(0, text.lastIndexOf("}") + 1)]) {
    try {
      JSON.parse(candidate);
      return true;
    } catch {}
  }
  return false;
}

/**
 * A document kubectl decodes as JSON, not YAML: the first of a stream that
 * starts as JSON (startsAsJson; k8s.io/apimachinery's YAMLOrJSONDecoder), and
 * is JSON. One that is not (YAML flow: `{kind: Pod}`) kubectl reads as YAML
 * from 1.31 on, and not at all before. JSON's escapes `\/` and a surrogate
 * pair are then a slash and one character, as the `yaml` package reads them
 * too. JSON.parse reads JSON as Go's encoding/json does but for a surrogate
 * escape outside a pair, which checkText refuses.
 */
function isJsonDocument(text: string, segment: Segment): boolean {
  if (segment.index !== 1 || !startsAsJson(text)) return false;
  try {
    JSON.parse(jsonText(text, segment));
    return true;
  } catch {
    return false;
  }
}

/**
 * The document's text up to the end of its `{…}`: a comment after it (`} # note`),
 * which kubectl never reads as JSON (it reads the object, then YAML), left out.
 */
function jsonText(text: string, segment: Segment): string {
  const doc = segment.tokens.find((t) => t.type === "document");
  const value = doc?.type === "document" ? doc.value : undefined;
  const close = value?.type === "flow-collection" ? value.end.find((t) => t.type === "flow-map-end") : undefined;
  if (value === undefined || close === undefined) return text.slice(segment.start, segment.end);
  return text.slice(segment.base + value.offset, segment.base + close.offset + 1);
}

/**
 * Text the `yaml` package would read otherwise than go-yaml v2 does is refused
 * rather than given a meaning Kubernetes would not: a raw NEL, LS or PS (line
 * breaks in YAML 1.1, not in 1.2), a character go-yaml refuses, and the
 * double-quoted escapes it refuses (`\/`, a UTF-16 surrogate). In a JSON
 * document kubectl reads as JSON, none of that is YAML's: those characters
 * stand raw in its strings, those escapes are JSON's own; only a control
 * character JSON forbids raw and a surrogate escape outside a pair (Go
 * reads it as U+FFFD) are refused.
 */
function checkText(text: string, segment: Segment, name: string): boolean {
  const own = text.slice(segment.start, segment.end);
  const at = (offset: number) => where(name, segment, text, segment.start + offset);
  const json = isJsonDocument(text, segment);
  const brk = json ? -1 : own.search(YAML11_BREAK);
  if (brk >= 0)
    throw new ManifestError(
      `${at(brk)}: a raw line-break character (U+${(own.codePointAt(brk) as number).toString(16).toUpperCase().padStart(4, "0")}) that YAML 1.1, as Kubernetes reads it, takes for the end of a line where other YAML readers do not; write it as an escape in a double-quoted string (\\N, \\L, \\P)`,
    );
  const bad = own.search(json ? REFUSED_IN_JSON : REFUSED_CHARACTER);
  if (bad >= 0)
    throw new ManifestError(
      `${at(bad)}: the control character U+${(own.codePointAt(bad) as number).toString(16).toUpperCase().padStart(4, "0")}, which Kubernetes refuses in YAML; write it as an escape in a double-quoted string`,
    );
  const refusedEscape = (token: unknown): void => {
    if (typeof token !== "object" || token === null) return;
    if (Array.isArray(token)) {
      for (const t of token) refusedEscape(t);
      return;
    }
    const t = token as { type?: string; source?: string; offset?: number };
    if (t.type === "double-quoted-scalar" && typeof t.source === "string") {
      // Left to right, an escaped backslash taken whole: `\\/` is a backslash and a slash, no escape.
      // In JSON a pair is taken whole too: what is left is a surrogate alone.
      const found = t.source.matchAll(json ? JSON_SURROGATE : REFUSED_ESCAPE);
      const m = [...found].find((e) => e[0] !== "\\\\" && e[0].length !== 12);
      if (m !== undefined)
        throw new ManifestError(
          `${where(name, segment, text, segment.base + (t.offset ?? 0) + m.index)}: the escape ${m[0]}, which Kubernetes refuses in a double-quoted string${json ? " (a UTF-16 surrogate outside a pair)" : ""}`,
        );
      return;
    }
    for (const value of Object.values(token)) refusedEscape(value);
  };
  // Only a backslash starts an escape: most documents have none, and are not walked.
  if (own.includes("\\")) refusedEscape(segment.tokens);
  return json;
}

/** The documents parseSegment found kubectl reads as JSON (isJsonDocument): applyValue writes JSON into them. */
const JSON_DOCUMENTS = new WeakSet<Document>();

/** Read as text: every scalar a string, nothing resolved (meaning.ts does that); keys may repeat (meaning.ts refuses it). */
const READ = {
  schema: "failsafe",
  merge: false,
  uniqueKeys: false,
  keepSourceTokens: false,
  strict: false,
  customTags: (tags: unknown[]) => [...tags.map((t) => (t === stringTag ? KUBERNETES_STRING : t)), KUBERNETES_BINARY],
} as const;

/** One document, parsed; a syntax error is a ManifestError naming the document and its line. */
export function parseSegment(text: string, segment: Segment, name: string): Document {
  const json = checkText(text, segment, name);
  const docs = [...new Composer(READ as never).compose(segment.tokens)];
  const doc = docs[0] as Document | undefined;
  if (doc === undefined) throw new ManifestError(`${where(name, segment)}: no document`);
  const error = doc.errors[0];
  if (error !== undefined)
    throw new ManifestError(
      `${where(name, segment, text, segment.base + error.pos[0])}: not valid YAML: ${firstLine(error.message)}${underIndented(error, text, segment)}${jsonStream(error, text, segment)}`,
    );
  if (json) JSON_DOCUMENTS.add(doc);
  return doc;
}

/** Where a JSON document is followed by more than white space: a hint, for kubectl reads a stream of JSON objects. */
function jsonStream(error: { message: string }, text: string, segment: Segment): string {
  if (segment.index !== 1 || !startsAsJson(text) || !/flow-map-start/.test(error.message)) return "";
  return " (a second JSON object after the first: inject takes one JSON object a stream; give each its own file, or write them as YAML documents split by `---`)";
}

/**
 * Where the error is a quoted string or flow collection whose later lines are
 * indented no further than its key, a hint: go-yaml v2, and so Kubernetes,
 * reads those lines (kubectl applies such a manifest), while the `yaml`
 * package holds to the YAML spec, which wants them indented. The document is
 * refused rather than guessed at; indenting those lines changes nothing of
 * what it means (a quoted string folds its lines' leading spaces away; a flow
 * collection's indentation means nothing).
 */
function underIndented(
  error: { code: string; message: string; pos: [number, number] },
  text: string,
  segment: Segment,
): string {
  const at = segment.base + error.pos[0];
  const quote = /^Missing closing (["'])quote/.exec(error.message)?.[1];
  const closedLater = quote !== undefined && text.slice(at, segment.end).includes(quote);
  const flow = error.code === "BAD_INDENT" && /^Flow (?:sequence|map) in block collection/.test(error.message);
  if (!closedLater && !flow) return "";
  return `; if its later lines are indented no further than its key (or by a tab), indent them with spaces: Kubernetes reads them as they are, iqqq's YAML reader does not, and the indentation changes nothing of their meaning`;
}

/** The document's meaning (meaning.ts), its problems named with the document and line. */
export function readValue(doc: Document, text: string, segment: Segment, name: string): Value {
  try {
    return meaningOf(doc);
  } catch (err) {
    if (!(err instanceof MeaningError)) throw err;
    throw new ManifestError(
      `${where(name, segment, text, err.offset === undefined ? undefined : segment.base + err.offset)}: ${err.message}`,
    );
  }
}

function where(name: string, segment: Segment, text?: string, offset?: number): string {
  const line = text !== undefined && offset !== undefined ? lineOf(lineStarts(text), offset) : segment.line;
  return `${name}: document ${segment.index} (line ${line})`;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/**
 * Makes the document mean `after` where it meant `before`, changing as few
 * nodes as it can: maps gain or change keys, sequences gain items at either
 * end or have items (matched by position or by name) edited; a node is only
 * written anew where its type changed. An aliased node that must change is
 * first copied into each alias, so no other place changes with it. `source`,
 * the document's text where the caller has it, spares a walk for aliases.
 * In a document kubectl reads as JSON, what is added is JSON too (text()).
 */
export function applyValue(doc: Document, before: Value, after: Value, source?: string): void {
  // An alias is written with `*`: a document without one (most) is not walked for them.
  const aliases = source?.includes("*") === false ? new Map() : aliasesByTarget(doc);
  const editing: Editing = { doc, aliases, json: JSON_DOCUMENTS.has(doc) };
  doc.contents = edit(editing, doc.contents as Node | null, before, after) as never;
}

/** The document being edited, and where each anchored node is aliased (found in one pass). */
interface Editing {
  readonly doc: Document;
  readonly aliases: Map<Node, Place[]>;
  /** kubectl reads the document as JSON (isJsonDocument): what is added is written as JSON (text()). */
  readonly json: boolean;
}

/** Where an alias stands, and how to put another node there. */
interface Place {
  readonly alias: Alias;
  replace(node: Node): void;
}

/**
 * Every alias of the document by the node it names: anchors in document
 * order, an alias naming the last one defined before it (as YAML does). One
 * walk, where asking each alias (Alias.resolve walks the document) would make
 * editing many anchored nodes quadratic.
 */
function aliasesByTarget(doc: Document): Map<Node, Place[]> {
  const anchors = new Map<string, Node>();
  const found = new Map<Node, Place[]>();
  collectAliases(doc, found, (alias) => anchors.get(alias.source), anchors);
  return found;
}

/** Adds the places of the aliases under `root` to `found`, each by the node `target` says it names. */
function collectAliases(
  root: Document | Node,
  found: Map<Node, Place[]>,
  target: (alias: Alias) => Node | undefined,
  anchors?: Map<string, Node>,
): void {
  visit(root, (key, node, path) => {
    if (isAlias(node)) {
      const named = target(node);
      const parent = path[path.length - 1];
      if (named === undefined || parent === undefined) return;
      const replace = (n: Node): void => {
        if (isPair(parent)) {
          if (key === "key") parent.key = n;
          else parent.value = n;
        } else if (isSeq(parent) && typeof key === "number") parent.items[key] = n;
        else if (isDocument(parent)) parent.contents = n as never;
      };
      found.set(named, [...(found.get(named) ?? []), { alias: node, replace }]);
    } else if (anchors !== undefined && node !== null && typeof node === "object" && "anchor" in node) {
      if (typeof node.anchor === "string") anchors.set(node.anchor, node as Node);
    }
  });
}

function edit(editing: Editing, node: Node | null, before: Value, after: Value): Node {
  if (same(before, after) && node !== null) return node;
  let at = node;
  if (isAlias(at)) at = detach(at.resolve(editing.doc) as Node);
  else if (at !== null) unshare(editing, at);
  // A key removed (inject --volume turning one kind of volume into the other): the map is written anew.
  if (isMap(at) && isRecord(before) && isRecord(after) && Object.keys(before).every((k) => Object.hasOwn(after, k))) {
    editMap(editing, at, before, after);
    return at;
  }
  if (isSeq(at) && Array.isArray(before) && Array.isArray(after) && editSeq(editing, at, before, after)) return at;
  // In JSON all is flow: a collection where there was a scalar (`"volumes": null`) too.
  const flow = editing.json || (at !== null && (isMap(at) || isSeq(at)) && Boolean(at.flow));
  return build(after, flow, editing.json);
}

function editMap(editing: Editing, map: YAMLMap, before: Record<string, Value>, after: Record<string, Value>): void {
  for (const key of Object.keys(before))
    if (!Object.hasOwn(after, key)) throw new Error(`inject removed ${key}: it only ever adds`);
  const origins = originsOf(map, editing.doc);
  for (const [key, value] of Object.entries(after)) {
    const origin = origins.get(key);
    if (origin === undefined || !Object.hasOwn(before, key)) {
      map.items.push(
        new Pair(text(key, Boolean(map.flow), editing.json), build(value, Boolean(map.flow), editing.json)),
      );
      continue;
    }
    const old = before[key] as Value;
    if (same(old, value)) continue;
    if (origin.own) {
      const pair = map.items[origin.index] as Pair<unknown, Node | null>;
      pair.value = edit(editing, pair.value ?? null, old, value);
    } else {
      // The key came from a merge (<<): a key of the map's own, written after everything, wins in go-yaml v2.
      // An own key of that name that the merge overrode goes, so that the map never has it twice.
      const mine = map.items.findIndex((p) => isScalar(p.key) && keyString(scalarValue(p.key), undefined) === key);
      if (mine >= 0) map.items.splice(mine, 1);
      map.items.push(
        new Pair(text(key, Boolean(map.flow), editing.json), edit(editing, detach(origin.node), old, value)),
      );
    }
  }
}

/**
 * Edits a sequence in place, its items kept as seqOrder (value.ts) matches
 * them: each edited where it stands (an item that did not change is left as
 * it is), new ones built where `after` puts them; false when it must be
 * written anew.
 */
function editSeq(editing: Editing, seq: YAMLSeq, before: Value[], after: Value[]): boolean {
  const order = seqOrder(before, after);
  if (order === undefined) return false;
  const items = seq.items as (Node | null)[];
  const flow = Boolean(seq.flow);
  const edited = order.map((j, i) =>
    j < 0
      ? build(after[i] as Value, flow, editing.json)
      : edit(editing, items[j] ?? null, before[j] as Value, after[i] as Value),
  );
  items.splice(0, items.length, ...edited);
  return true;
}

/** A copy of a node for one place: no anchors in it, so it defines nothing for later aliases. */
function detach(node: Node): Node {
  const copy = node.clone() as Node;
  visit(copy, (_, n) => {
    if (n !== null && typeof n === "object" && "anchor" in n) delete (n as { anchor?: string }).anchor;
  });
  return copy;
}

/** Before a node that aliases name is edited: each of its aliases becomes a copy of it as it was. */
function unshare(editing: Editing, node: Node): void {
  const places = editing.aliases.get(node);
  if (places === undefined) return;
  editing.aliases.delete(node);
  const original = detach(node);
  for (const place of places) {
    const copy = original.clone() as Node;
    place.replace(copy);
    // Aliases inside the copy name anchors defined before it: they are places too, should those be edited.
    collectAliases(copy, editing.aliases, (alias) => alias.resolve(editing.doc) as Node | undefined);
  }
}

/** A new node for a value iqqq adds (`json`: in a JSON manifest, text() says why). */
function build(value: Value, flow: boolean, json = false): Node {
  if (Array.isArray(value)) {
    const seq = new YAMLSeq();
    seq.flow = flow || value.length === 0;
    seq.items = value.map((v) => build(v, Boolean(seq.flow), json));
    return seq;
  }
  if (isRecord(value)) {
    const map = new YAMLMap();
    map.flow = flow || Object.keys(value).length === 0;
    for (const [k, v] of Object.entries(value))
      map.items.push(new Pair(text(k, map.flow, json), build(v, map.flow, json)));
    return map;
  }
  if (typeof value === "string") return text(value, flow, json);
  const scalar = new Scalar(value === null ? "null" : String(value));
  scalar.type = "PLAIN";
  VERBATIM.add(scalar);
  return scalar;
}

/**
 * A string scalar iqqq adds: plain where go-yaml v2 (and any YAML reader)
 * reads that text as this string, else double-quoted. In a JSON manifest
 * (`json`: all flow) always double-quoted: kubectl reads a stream that starts
 * with `{` as JSON (k8s.io/apimachinery's YAMLOrJSONDecoder, before Kubernetes
 * 1.31 with no YAML to fall back on), so what iqqq adds there must be JSON too:
 * quoted keys and strings, numbers, booleans and null as they are (build()).
 */
function text(value: string, flow = false, json = false): Scalar {
  const scalar = new Scalar(value);
  scalar.type = !(flow && json) && isPlainSafe(value, flow) ? "PLAIN" : "QUOTE_DOUBLE";
  return scalar;
}

/**
 * `!!binary` as the `yaml` package reads and writes it, but on one line in a
 * flow collection: the package folds its base64 at 20 characters (lineWidth 0
 * is its minimum), and in a flow collection the folds become spaces, which
 * go-yaml v2 refuses in base64. One line of the same bytes means the same.
 */
const BINARY_TAG = new Document(null, { schema: "failsafe" }).schema.knownTags["tag:yaml.org,2002:binary"] as {
  stringify(item: Scalar, ctx: unknown, onComment?: () => void, onChompKeep?: () => void): string;
};
const KUBERNETES_BINARY = {
  ...BINARY_TAG,
  stringify(item: Scalar, ctx: never, onComment?: () => void, onChompKeep?: () => void): string {
    if (inFlow(ctx) && item.value instanceof Uint8Array) return Buffer.from(item.value).toString("base64");
    return BINARY_TAG.stringify(item, ctx, onComment, onChompKeep);
  },
};

/** Whether the `yaml` package is writing inside a flow collection (its stringify context says). */
function inFlow(ctx: unknown): boolean {
  return (ctx as { inFlow?: boolean | null }).inFlow === true;
}

/** Scalars written as their text, unquoted: the numbers and booleans iqqq adds. */
const VERBATIM = new WeakSet<Scalar>();

/**
 * Plain only where the text cannot be read as anything else: a conservative
 * alphabet, no YAML 1.1 number, boolean or null, and `:`/`@` (image
 * references, URLs) only in block context after a letter or `/` (libyaml
 * refuses `:` in a plain scalar inside flow collections; some YAML 1.1 readers
 * take `10:30` for a base-60 number).
 */
function isPlainSafe(value: string, flow: boolean): boolean {
  if (resolvePlain(value) !== value) return false;
  if (/^[A-Za-z0-9_/][A-Za-z0-9_./-]*$/.test(value)) return true;
  return !flow && /^[A-Za-z_/][A-Za-z0-9_./@:-]*$/.test(value) && !value.endsWith(":");
}

/**
 * Characters a YAML 1.1 reader (libyaml, go-yaml v2) cannot take as written
 * inside a string: controls, DEL and C1, a byte-order mark, the non-characters,
 * and the line breaks NEL, LS and PS (which YAML 1.2 writers leave raw, but
 * YAML 1.1 folds into spaces).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to find
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udfff]/u;

/** A double-quoted scalar go-yaml v2 reads back as exactly this string. */
function quote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    // \u, never YAML's \x: JSON has only \u (a JSON manifest is read as JSON, text() says why).
    else if (UNSAFE.test(ch)) out += `\\u${hex(code, 4)}`;
    else out += ch;
  }
  return `${out}"`;
}

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, "0");
}

/** Strings as the `yaml` package writes them, except where YAML 1.1 would read that text otherwise. */
const KUBERNETES_STRING = {
  ...stringTag,
  stringify(item: Scalar, ctx: never, onComment?: () => void, onChompKeep?: () => void): string {
    const value = String(item.value);
    if (VERBATIM.has(item)) return value;
    // An empty value in a flow collection: the package writes `{a:}`, which go-yaml v2 reads as
    // the key "a:". Untagged it is null, and `null` means the same; `!!str` (or another tag) makes
    // it the empty string, written "" after its tag.
    if (value === "" && item.type === "PLAIN" && inFlow(ctx)) return item.tag === undefined ? "null" : '""';
    if (item.type === "QUOTE_DOUBLE" || UNSAFE.test(value)) return quote(value);
    return stringifyString(item, ctx, onComment, onChompKeep);
  },
};

/** How every document is written. */
const WRITE = { lineWidth: 0, indentSeq: true, flowCollectionPadding: false } as const;

/** The most fresh writings remembered: a stream's Jobs add the same few nodes, over and over. */
const FRESH_KEPT = 256;
const freshKept = new Map<string, string[]>();

/**
 * What iqqq adds to a collection, as writeDocument writes it there: a pair
 * (`key: value`) of a block map or an item (`- value`) of a block sequence,
 * whose lines start at `column`, or an item of a flow sequence (one line). For the quick reader (quick.ts), which writes the
 * rest of a document itself.
 */
export function freshLines(what: "pair" | "item" | "flow", key: string, value: Value, column: number): string[] {
  const memo = plainJson(value) ? `${what}\u0000${key}\u0000${column}\u0000${JSON.stringify(value)}` : undefined;
  const kept = memo === undefined ? undefined : freshKept.get(memo);
  if (kept !== undefined) return kept;
  const doc = new Document(null, READ as never);
  if (what === "pair") {
    const map = new YAMLMap();
    map.items.push(new Pair(text(key), build(value, false)));
    doc.contents = map as never;
  } else {
    const seq = new YAMLSeq();
    seq.flow = what === "flow";
    seq.items.push(build(value, seq.flow));
    doc.contents = seq as never;
  }
  skipTagWalk(doc);
  const indent = " ".repeat(column);
  const written = doc.toString(WRITE);
  if (what === "flow" && !/^\[[^\n]*\]\n$/.test(written))
    throw new Error(`a flow item written on more than one line: ${written}`);
  // A flow item: the text between the brackets of `[item]`.
  const lines =
    what === "flow"
      ? [written.slice(1, -2)]
      : written
          .split("\n")
          .slice(0, -1)
          .map((line) => indent + line);
  if (memo !== undefined) {
    if (freshKept.size >= FRESH_KEPT) freshKept.clear();
    freshKept.set(memo, lines);
  }
  return lines;
}

/** A value JSON writes as it is (no bigint, NaN or infinity), so that its JSON can name it. */
function plainJson(value: Value): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || value === null) return typeof value !== "bigint";
  if (Array.isArray(value)) return value.every(plainJson);
  return Object.keys(value).every((k) => k !== "__proto__" && plainJson(value[k] as Value));
}

/** The document as text: its CRLF line ends kept if it had them, its `---` if it had one. */
export function writeDocument(doc: Document, original: string): string {
  skipTagWalk(doc);
  const options = WRITE;
  let out: string;
  try {
    out = doc.toString(options);
  } catch (err) {
    // Rare (a key with no value at all): mended only where it throws, as a walk of every node costs every document.
    if (!/Tag not resolved for null value/.test((err as Error).message)) throw err;
    emptyValues(doc);
    out = doc.toString(options);
  }
  if (/^---(\s|$)/.test(original.trimStart()) && !/^(%.*\n)*---/.test(out)) out = `---\n${out}`;
  return original.includes("\r\n") ? out.replace(/\r?\n/g, "\r\n") : out;
}

/**
 * A key of a block map with no value at all (`? x` alone, null) is given an
 * empty one, written `x:`: the `yaml` package cannot write the first (it
 * throws "Tag not resolved for null value"); both mean x: null.
 */
function emptyValues(doc: Document): void {
  visit(doc, {
    Map(_, map) {
      if (map.flow) return;
      for (const pair of map.items) {
        if (pair.value !== null) continue;
        const empty = new Scalar("");
        empty.type = "PLAIN";
        pair.value = empty;
      }
    },
  });
}

/**
 * The `yaml` package walks every node of a document to find which `%TAG`
 * directives to write, even when there can be none to write (a twentieth of
 * inject's time over 1,000 Jobs): with no `%YAML` and only the `!!` handle,
 * its Directives.toString returns "" whatever the walk finds. That answer is
 * given here without the walk; all else is written as before.
 */
function skipTagWalk(doc: Document): void {
  const { directives } = doc;
  if (directives === undefined || directives.yaml.explicit) return;
  const tags = Object.entries(directives.tags);
  if (tags.length !== 1 || tags[0]?.[0] !== "!!" || tags[0][1] !== "tag:yaml.org,2002:") return;
  directives.toString = () => "";
}
