// The quick reader: a document written the way the `yaml` package writes one
// (two-space block indentation, one-line flow collections, ASCII, no anchors,
// tags, block scalars or comments between lines; LF or CRLF line ends), or
// the way Go's YAML writers do (kubectl, kustomize: a sequence at its key's
// column, which the package moves under its key), is read and written back by
// this file alone, line by line, without the package's parse, composition and
// writing. Anything else, and any edit this file does not make (a scalar or a
// flow collection changed, a key removed), goes to the full path
// (manifest.ts), which it must match byte for byte: test/inject/quick.test.ts
// holds the two to the same output, and the same refusals, over random
// documents.
//
// Why it is hand-written: for 1,000 Jobs of a chart (bench/inject.ts) the
// package's parse, composition and writing were about three quarters of
// inject's time (docs/performance-notes.md, "`iqqq inject` at scale"); the
// package alone took longer than the budget for all of inject. A
// document this file reads costs it one pass over its lines. What iqqq adds
// is still written by the package (manifest.ts freshLines), so new nodes look
// exactly as they did.

import { resolvePlain } from "./meaning.js";
import { isRecord, same, seqOrder, type Value } from "./value.js";

/** A document the quick reader took: its meaning, and a writer for an edited meaning. */
export interface Quick {
  readonly value: Value;
  /**
   * The document as the full path would write it once edited from `before`
   * to `after`; undefined where this file does not make that edit.
   */
  write(before: Value, after: Value, fresh: Fresh): string | undefined;
}

/** How the `yaml` package writes a new pair, block sequence item or flow sequence item at a column (manifest.ts freshLines). */
export type Fresh = (what: "pair" | "item" | "flow", key: string, value: Value, column: number) => string[];

type Node = QMap | QSeq | QLeaf;
interface Span {
  /** The first and last line (indexes into the document's lines) of the node, or of the pair. */
  readonly from: number;
  to: number;
}
interface QMap extends Span {
  readonly kind: "map";
  readonly column: number;
  readonly pairs: { readonly key: string; readonly value: Node; readonly from: number; to: number }[];
}
interface QSeq extends Span {
  readonly kind: "seq";
  readonly column: number;
  readonly items: Node[];
}
interface QLeaf extends Span {
  readonly kind: "leaf";
  /** Where on its line, as written, the leaf starts. */
  readonly start: number;
  /** A flow sequence's items as written, where the leaf is one. */
  items?: string[];
}

/** Printable ASCII and line feeds only: nothing to refuse (manifest.ts checkText), nothing read two ways. */
const ASCII = /^[\x20-\x7e\n]*$/;
/** A plain key (not a number, boolean or null: checked apart), then `:` and a space or the line's end. */
const KEY = /^([A-Za-z0-9][A-Za-z0-9_./-]*):(?: (?! )|$)/;
/** A plain scalar the package writes back as it stands, in block context. */
const PLAIN_BLOCK = /^(?:[A-Za-z0-9_./$(]|-(?=[A-Za-z0-9_./-]))[A-Za-z0-9_./$()=+,:@%~ -]*$/;
/** The same inside a flow collection: no `,`, `:` or brackets. */
const PLAIN_FLOW = /^(?:[A-Za-z0-9_./$(]|-(?=[A-Za-z0-9_./-]))[A-Za-z0-9_./$()=+@%~ -]*/;
/** A head comment line as the package writes it back: `#`, then no trailing space. */
const COMMENT = /^#(?:.*[^ ])?$/;
/** A document marker at a scalar's start: the package quotes such a scalar. */
const MARKER = /^(?:---|\.\.\.)/;
/** A block map's key longer than this the package writes as an explicit key (`? key`, then `: value`). */
const LONG_KEY = 1024;
/** Deeper than this, the full path reads it (and refuses it past MAX_DEPTH). */
const DEPTH = 64;

class NotQuick extends Error {}
const NOT = new NotQuick();

/** The document text[start, end), or undefined where it is not written as this file reads. */
export function readQuick(text: string, start: number, end: number): Quick | undefined {
  if (end <= start || text.charCodeAt(end - 1) !== 0x0a) return undefined;
  let own = text.slice(start, end);
  // CRLF line ends are read as LF and written back as CRLF, every one, as writeDocument does.
  const crlf = own.includes("\r\n");
  if (crlf) own = own.replaceAll("\r\n", "\n");
  if (!ASCII.test(own) || own.includes(" \n") || own.includes("\\")) return undefined;
  const lines = own.split("\n");
  lines.pop();
  // A document opens with `---` and perhaps comments, or (the stream's first) with its content.
  const marked = lines[0] === "---";
  let first = marked ? 1 : 0;
  while (marked && first < lines.length && (lines[first] as string).startsWith("#")) {
    if (!COMMENT.test(lines[first] as string)) return undefined;
    first++;
  }
  if (first >= lines.length) return undefined;
  try {
    const reader = new Reader(lines, first);
    const root = reader.root();
    return {
      value: reader.value(root),
      write: (before, after, fresh) => {
        const out = writer(lines, reader.shown, first, root, before, after, fresh);
        return crlf ? out?.replaceAll("\n", "\r\n") : out;
      },
    };
  } catch (err) {
    if (err === NOT) return undefined;
    throw err;
  }
}

class Reader {
  /** Each line's indentation. */
  readonly #indent: number[];
  /** Each line as the package writes it (a comment after a scalar: one space before its `#`). */
  readonly shown: string[];
  /** Each leaf's value, by its node. */
  readonly #leaves = new Map<QLeaf, Value>();
  #at: number;
  #depth = 0;
  /**
   * How far the lines being read move right when written: two columns for
   * each sequence around them written at its key's column (`key:` then `- a`),
   * which the package indents under its key.
   */
  #shift = 0;

  constructor(
    readonly lines: string[],
    first: number,
  ) {
    this.#at = first;
    this.shown = lines.slice();
    // Loops here and in value() and the writer, not map() or entries(): see same() in value.ts.
    this.#indent = [];
    for (const line of lines) {
      let n = 0;
      while (line.charCodeAt(n) === 0x20) n++;
      this.#indent.push(n);
    }
  }

  root(): QMap {
    if (this.#indent[this.#at] !== 0) throw NOT;
    const map = this.#map(0, undefined);
    if (this.#at !== this.lines.length) throw NOT;
    return map;
  }

  value(node: Node): Value {
    if (node.kind === "leaf") return this.#leaves.get(node) as Value;
    if (node.kind === "seq") {
      const items: Value[] = [];
      for (const item of node.items) items.push(this.value(item));
      return items;
    }
    const out: { [key: string]: Value } = {};
    for (const pair of node.pairs) out[pair.key] = this.value(pair.value);
    return out;
  }

  /** The line at the cursor, after its indentation: undefined where it is indented less than `column` (or there is none). */
  #body(column: number): string | undefined {
    const at = this.#at;
    if (at >= this.lines.length) return undefined;
    const indent = this.#indent[at] as number;
    if (indent < column) return undefined;
    if (indent > column) throw NOT;
    return (this.lines[at] as string).slice(indent);
  }

  /** Moves past the cursor's line, as written: moved right by the shift. */
  #next(): void {
    if (this.#shift > 0) this.shown[this.#at] = " ".repeat(this.#shift) + (this.shown[this.#at] as string);
    this.#at++;
  }

  /** What is under a key at `column - 2`: a node at `column`, or a sequence at the key's own column. */
  #nested(column: number): Node {
    if (++this.#depth > DEPTH) throw NOT;
    const at = this.#at;
    const compact = this.#indent[at] === column - 2 && (this.lines[at] as string).startsWith("- ", column - 2);
    let node: Node;
    if (compact) {
      this.#shift += 2;
      node = this.#seq(column - 2, true);
      this.#shift -= 2;
    } else {
      const body = this.#body(column);
      if (body === undefined) throw NOT; // a key with nothing under it: null, written otherwise
      node = body.startsWith("-") ? this.#seq(column, false) : this.#map(column, undefined);
    }
    this.#depth--;
    return node;
  }

  /** A block map at `column`; `first`, the rest of a dash line holding its first pair. */
  #map(column: number, first: string | undefined): QMap {
    const map: QMap = { kind: "map", column: column + this.#shift, pairs: [], from: this.#at, to: this.#at };
    const keys = new Set<string>();
    for (let line = first; ; line = undefined) {
      const body = line ?? this.#body(column);
      if (body === undefined) break;
      const m = KEY.exec(body);
      if (m === null) throw NOT;
      const key = m[1] as string;
      if (keys.has(key) || resolvePlain(key) !== key || key.length > LONG_KEY) throw NOT;
      keys.add(key);
      const from = this.#at;
      const rest = body.slice(key.length + 2);
      let value: Node;
      if (body.length === key.length + 1) {
        this.#next();
        value = this.#nested(column + 2);
      } else {
        value = this.#leaf(rest, column + key.length + 2, true);
        this.#next();
      }
      map.pairs.push({ key, value, from, to: this.#at - 1 });
    }
    map.to = this.#at - 1;
    return map;
  }

  /** A block sequence at `column`, each item a dash line; `compact`, at its key's column, which a key ends. */
  #seq(column: number, compact: boolean): QSeq {
    const seq: QSeq = { kind: "seq", column: column + this.#shift, items: [], from: this.#at, to: this.#at };
    for (let body = this.#body(column); body !== undefined; body = this.#body(column)) {
      if (compact && !body.startsWith("-")) break;
      if (!body.startsWith("- ") || body[2] === " ") throw NOT;
      const rest = body.slice(2);
      if (rest === "-" || rest.startsWith("- ")) throw NOT; // a sequence in a sequence
      if (KEY.test(rest)) {
        if (++this.#depth > DEPTH) throw NOT;
        seq.items.push(this.#map(column + 2, rest));
        this.#depth--;
      } else {
        seq.items.push(this.#leaf(rest, column + 2, false));
        this.#next();
      }
    }
    seq.to = this.#at - 1;
    return seq;
  }

  /** A scalar or a one-line flow collection: `text` starts at `offset` of the cursor's line. */
  #leaf(text: string, offset: number, comment: boolean): QLeaf {
    const leaf: QLeaf = { kind: "leaf", from: this.#at, to: this.#at, start: offset + this.#shift };
    const c = text[0];
    let value: Value;
    let end: number;
    if (c === "[" || c === "{") {
      const flow = new Flow(text);
      value = flow.node();
      end = flow.at;
      if (end !== text.length) throw NOT;
      if (c === "[") leaf.items = flow.items;
      this.#leaves.set(leaf, value);
      return leaf;
    }
    if (c === '"' || c === "'") {
      end = text.indexOf(c, 1);
      if (end < 0) throw NOT;
      value = text.slice(1, end);
      end++;
    } else {
      const hash = text.indexOf(" #");
      const plain = hash < 0 ? text : text.slice(0, hash).trimEnd();
      end = plain.length;
      if (!PLAIN_BLOCK.test(plain) || plain.endsWith(" ") || plain.includes(": ") || plain.endsWith(":")) throw NOT;
      if (MARKER.test(plain)) throw NOT;
      value = resolvePlain(plain);
    }
    if (end < text.length) {
      // A comment after the scalar: the package writes one space before its `#`.
      if (!comment) throw NOT;
      const hash = text.indexOf("#", end);
      if (hash < 0 || text.slice(end, hash).trim() !== "") throw NOT;
      const line = this.lines[this.#at] as string;
      this.shown[this.#at] = `${line.slice(0, offset + end)} ${line.slice(offset + hash)}`;
    }
    this.#leaves.set(leaf, value);
    return leaf;
  }
}

/** A one-line flow collection, written as the package writes it: `[a, b]`, `{k: v}`, `, ` between. */
class Flow {
  at = 0;
  /** The outermost sequence's items as written. */
  readonly items: string[] = [];
  #depth = 0;
  constructor(readonly text: string) {}

  node(): Value {
    const c = this.text[this.at];
    if (c === "[" || c === "{") {
      if (++this.#depth > DEPTH) throw NOT;
      const value = c === "[" ? this.#seq() : this.#map();
      this.#depth--;
      return value;
    }
    if (c === '"' || c === "'") {
      const end = this.text.indexOf(c, this.at + 1);
      if (end < 0) throw NOT;
      const value = this.text.slice(this.at + 1, end);
      this.at = end + 1;
      return value;
    }
    const m = PLAIN_FLOW.exec(this.text.slice(this.at));
    if (m === null || m[0].endsWith(" ") || MARKER.test(m[0])) throw NOT;
    this.at += m[0].length;
    return resolvePlain(m[0]);
  }

  #seq(): Value[] {
    this.at++;
    const out: Value[] = [];
    if (this.text[this.at] === "]") {
      this.at++;
      return out;
    }
    for (;;) {
      const from = this.at;
      out.push(this.node());
      if (this.#depth === 1) this.items.push(this.text.slice(from, this.at));
      if (this.#next("]")) return out;
    }
  }

  #map(): { [key: string]: Value } {
    this.at++;
    const out: { [key: string]: Value } = {};
    if (this.text[this.at] === "}") {
      this.at++;
      return out;
    }
    for (;;) {
      const m = KEY.exec(this.text.slice(this.at));
      const key = m?.[1];
      if (key === undefined || this.text[this.at + key.length + 1] !== " ") throw NOT;
      if (Object.hasOwn(out, key) || resolvePlain(key) !== key) throw NOT;
      this.at += key.length + 2;
      out[key] = this.node();
      if (this.#next("}")) return out;
    }
  }

  /** After an item: `, ` and more (false), or the closing bracket (true). */
  #next(close: string): boolean {
    if (this.text[this.at] === close) {
      this.at++;
      return true;
    }
    if (this.text[this.at] !== "," || this.text[this.at + 1] !== " " || this.text[this.at + 2] === " ") throw NOT;
    this.at += 2;
    return false;
  }
}

/** The document edited from `before` to `after` as the full path writes it, or undefined. */
function writer(
  lines: string[],
  shown: string[],
  first: number,
  root: QMap,
  before: Value,
  after: Value,
  fresh: Fresh,
): string | undefined {
  const out = lines.slice(0, first);
  const copy = (from: number, to: number): void => {
    for (let i = from; i <= to; i++) out.push(shown[i] as string);
  };
  const edit = (node: Node, was: Value, now: Value): boolean => {
    if (same(was, now)) {
      copy(node.from, node.to);
      return true;
    }
    if (node.kind === "leaf") {
      // A flow sequence gaining items: the rest of it stays as written.
      const items = node.items;
      if (items === undefined || !Array.isArray(was) || !Array.isArray(now)) return false;
      const order = seqOrder(was, now);
      if (order === undefined) return false;
      const parts: string[] = [];
      for (let i = 0; i < order.length; i++) {
        const item = order[i] as number;
        if (item >= 0 && !same(was[item], now[i])) return false;
        parts.push(item < 0 ? (fresh("flow", "", now[i] as Value, 0)[0] as string) : (items[item] as string));
      }
      out.push(`${(shown[node.from] as string).slice(0, node.start)}[${parts.join(", ")}]`);
      return true;
    }
    if (node.kind === "map") {
      if (!isRecord(was) || !isRecord(now)) return false;
      for (const key of Object.keys(was)) if (!Object.hasOwn(now, key)) return false;
      for (const pair of node.pairs) {
        const a = was[pair.key] as Value;
        const b = now[pair.key] as Value;
        if (same(a, b)) copy(pair.from, pair.to);
        else {
          // A leaf is on its key's line, and writes it; a collection is under it.
          if (pair.value.kind !== "leaf") out.push(shown[pair.from] as string);
          if (!edit(pair.value, a, b)) return false;
        }
      }
      for (const key of Object.keys(now))
        if (!Object.hasOwn(was, key)) out.push(...fresh("pair", key, now[key] as Value, node.column));
      return true;
    }
    if (!Array.isArray(was) || !Array.isArray(now)) return false;
    const order = seqOrder(was, now);
    if (order === undefined) return false;
    for (let i = 0; i < order.length; i++) {
      const item = order[i] as number;
      if (item < 0) out.push(...fresh("item", "", now[i] as Value, node.column));
      else if (!edit(node.items[item] as Node, was[item] as Value, now[i] as Value)) return false;
    }
    return true;
  };
  if (!edit(root, before, after)) return undefined;
  out.push("");
  return out.join("\n");
}
