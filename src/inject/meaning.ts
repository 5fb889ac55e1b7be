// What Kubernetes reads from a YAML document. The API server and kubectl turn
// YAML into JSON with sigs.k8s.io/yaml, which decodes with go-yaml v2: YAML 1.1
// scalars (`on`, `y`, `0644`, `1_000`, `0o17` are not strings there), merge
// keys where a later key wins over an earlier one (whichever side the `<<` is
// on), map keys turned into strings. The `yaml` package parses the syntax (we
// read every scalar as text with its failsafe schema); this file gives the
// text its meaning, because the package's own YAML 1.1 schema differs from
// go-yaml v2 (it knows base-60 numbers and timestamps, not `0o17`, and lets an
// explicit key beat a later merge). test/inject/meaning.test.ts checks it
// against sigs.k8s.io/yaml itself, built from Debian's package.

import { type Document, isAlias, isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from "yaml";
import type { Value } from "./value.js";

/** The most aliases a document may use: go-yaml v2 and the `yaml` package refuse alias bombs too. */
export const MAX_ALIASES = 100;
/** The most values a document may expand to through its aliases. */
const MAX_VALUES = 1_000_000;
/**
 * The deepest nesting read. A pod spec is a dozen levels deep; the `yaml`
 * package writes documents recursively, and runs out of stack at about 650.
 */
export const MAX_DEPTH = 200;

const STR = "tag:yaml.org,2002:str";
const BINARY = "tag:yaml.org,2002:binary";
const RESOLVABLE = new Set(["tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"]);
const RESOLVABLE_TAGS = new Set([...RESOLVABLE, STR, "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp"]);

/** Where in the text a problem is: an offset into the document's source. */
export class MeaningError extends Error {
  constructor(
    message: string,
    readonly offset: number | undefined,
  ) {
    super(message);
  }
}

const WORDS = new Map<string, Value>([
  ...["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"].map((w) => [w, true] as const),
  ...["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"].map((w) => [w, false] as const),
  ...["", "~", "null", "Null", "NULL"].map((w) => [w, null] as const),
  ...[".nan", ".NaN", ".NAN"].map((w) => [w, Number.NaN] as const),
  ...[".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"].map((w) => [w, Number.POSITIVE_INFINITY] as const),
  ...["-.inf", "-.Inf", "-.INF"].map((w) => [w, Number.NEGATIVE_INFINITY] as const),
]);

/** go-yaml v2's yamlStyleFloat. */
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** Go's strconv.ParseFloat for decimal text (what reaches it here): digits, one point, an exponent. */
const GO_DECIMAL_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?$/;
const GO_SPECIAL_FLOAT = /^[-+]?(inf|infinity|nan)$/i;
const GO_HEX_FLOAT = /^[-+]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][-+]?[0-9]+$/;

/** A plain scalar's value, by go-yaml v2's resolve(): untagged, or tagged with a core type. */
export function resolvePlain(text: string): Value {
  const word = WORDS.get(text);
  if (word !== undefined) return word;
  const first = text[0];
  if (first === ".") return goParseFloat(text) ?? text;
  if (first === "+" || first === "-" || (first !== undefined && first >= "0" && first <= "9")) {
    const plain = text.replaceAll("_", "");
    const int = goParseInt(plain, true) ?? goParseInt(plain, false);
    if (int !== undefined) return int;
    if (YAML_FLOAT.test(plain)) {
      const f = goParseFloat(plain);
      if (f !== undefined) return f;
    }
    if (plain.startsWith("0b") && /^[01]+$/.test(plain.slice(2)))
      return fitInt(BigInt(`0b${plain.slice(2)}`), false) ?? text;
    if (plain.startsWith("-0b") && /^[01]+$/.test(plain.slice(3)))
      return fitInt(-BigInt(`0b${plain.slice(3)}`), true) ?? text;
  }
  return text;
}

/** Go's strconv.ParseInt(text, 0, 64) (signed) or ParseUint(text, 0, 64); undefined where Go fails. */
function goParseInt(text: string, signed: boolean): number | bigint | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (m === null) return undefined;
  const sign = m[1] as string;
  if (!signed && sign !== "") return undefined;
  let digits = m[2] as string;
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const magnitude = BigInt(digits.toLowerCase().replace(/^0([xob])/, (_, p: string) => `0${p}`));
  return fitInt(sign === "-" ? -magnitude : magnitude, signed);
}

function fitInt(value: bigint, signed: boolean): number | bigint | undefined {
  const [min, max] = signed ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
  if (value < min || value > max) return undefined;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function goParseFloat(text: string): number | undefined {
  if (GO_SPECIAL_FLOAT.test(text)) {
    const lower = text.toLowerCase();
    if (lower.endsWith("nan")) return Number.NaN;
    return lower.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (GO_DECIMAL_FLOAT.test(text)) {
    // Go refuses a number beyond float64 (ErrRange), and go-yaml then keeps the text.
    const f = Number(text);
    return Number.isFinite(f) ? f : undefined;
  }
  if (GO_HEX_FLOAT.test(text)) return undefined; // Go reads it; nothing in a pod spec is written so
  return undefined;
}

/** A scalar node's value: plain text resolved, quoted and block text a string, as go-yaml v2 does. */
export function scalarValue(node: Scalar): Value {
  const text = String(node.value ?? "");
  const tag = node.tag;
  if (tag === STR || tag === BINARY) return text;
  if (tag !== undefined && !RESOLVABLE_TAGS.has(tag)) return text;
  if (node.type === "PLAIN" || (tag !== undefined && RESOLVABLE.has(tag))) return resolvePlain(text);
  return text;
}

/** The key string sigs.k8s.io/yaml makes of a map key. */
export function keyString(key: Value, at: number | undefined): string {
  if (typeof key === "string") return key;
  if (typeof key === "boolean" || typeof key === "bigint") return String(key);
  if (typeof key === "number") return Number.isInteger(key) ? String(key) : goFloat32(key);
  throw new MeaningError(`a map key that is ${key === null ? "null" : "not a scalar"}: Kubernetes cannot read it`, at);
}

/** strconv.FormatFloat(f, 'g', -1, 32), for the rare float map key. */
function goFloat32(f: number): string {
  if (Number.isNaN(f)) return ".nan";
  if (!Number.isFinite(f)) return f > 0 ? ".inf" : "-.inf";
  const target = Math.fround(f);
  for (let digits = 1; digits <= 9; digits++) {
    const s = target.toPrecision(digits);
    if (Math.fround(Number(s)) !== target) continue;
    const [mantissa = "", exp = "0"] = Number(s).toExponential().split("e");
    const e = Number(exp);
    return e < -4 || e >= digits
      ? `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`
      : String(Number(s));
  }
  return String(target);
}

/** Is this pair a merge (`<<: …`)? A plain, untagged `<<` key, or one tagged !!merge (go-yaml v2's isMerge). */
export function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  // Tagged !!merge, the `yaml` package makes the value a symbol of its own.
  if (key.tag === "tag:yaml.org,2002:merge") return true;
  return key.type === "PLAIN" && key.tag === undefined && key.value === "<<";
}

/** Where a map's effective value for a key comes from: its own pair, or a merged map's value node. */
export type Origin = { readonly own: true; readonly index: number } | { readonly own: false; readonly node: Node };

/**
 * The keys of a map in go-yaml v2's order of effect: pairs in order, a merge
 * setting every key of the merged map(s) (a sequence of maps merged last to
 * first, so the first wins), a later key replacing an earlier one. Explicit
 * keys that repeat are refused, as the API server's strict decoding does.
 */
export function originsOf(
  map: YAMLMap,
  doc: Document,
  countAlias: (at?: number) => void = () => {},
): Map<string, Origin> {
  const origins = new Map<string, Origin>();
  /** Each key as Kubernetes reads it → its text (without quotes), and as it is written. */
  const seen = new Map<string, { text: string; shown: string }>();
  map.items.forEach((pair, index) => {
    if (isMergeKey(pair.key)) {
      for (const source of mergeSources(pair.value as Node | null, doc)) {
        countAlias((pair.value as Node | null)?.range?.[0]);
        for (const [key, origin] of originsOf(source, doc, countAlias))
          origins.set(key, origin.own ? { own: false, node: source.items[origin.index]?.value as Node } : origin);
      }
      return;
    }
    const at = (pair.key as Node | null)?.range?.[0];
    const key = keyString(isScalar(pair.key) ? scalarValue(pair.key) : nonScalarKey(pair.key, at), at);
    const text = isScalar(pair.key) ? (pair.key.source ?? key) : key;
    const type = isScalar(pair.key) ? pair.key.type : "PLAIN";
    const shown = type === "QUOTE_DOUBLE" ? JSON.stringify(text) : type === "QUOTE_SINGLE" ? `'${text}'` : text;
    const before = seen.get(key);
    if (before !== undefined && before.text !== text)
      // `on` and "true": two keys in YAML, one once read as JSON (the last would win there).
      throw new MeaningError(
        `the keys ${before.shown} and ${shown} of one mapping are both ${JSON.stringify(key)} as Kubernetes reads them (YAML 1.1): which is meant is not clear; write one of them`,
        at,
      );
    if (before !== undefined) throw new MeaningError(`the key ${JSON.stringify(key)} appears twice in one mapping`, at);
    seen.set(key, { text, shown });
    origins.set(key, { own: true, index });
  });
  return origins;
}

function nonScalarKey(key: unknown, at: number | undefined): never {
  throw new MeaningError(`a map key that is ${key === null ? "empty" : "a collection"}: Kubernetes cannot read it`, at);
}

/** The maps a merge value names: a map, an alias of one, or a sequence of those (last first). */
function mergeSources(value: Node | null, doc: Document): YAMLMap[] {
  const map = (node: unknown): YAMLMap => {
    const target = isAlias(node) ? node.resolve(doc) : node;
    if (!isMap(target))
      throw new MeaningError("a merge key (<<) whose value is not a map", (node as Node | null)?.range?.[0]);
    return target;
  };
  if (isSeq(value)) return value.items.map(map).reverse();
  return [map(value)];
}

/**
 * The document's value as Kubernetes reads it. Each alias is expanded into a
 * value of its own (so editing one place never edits another), at most
 * MAX_ALIASES of them (merged maps counted) and MAX_VALUES values in all.
 */
export function meaningOf(doc: Document): Value {
  let aliases = 0;
  let values = 0;
  const countAlias = (at?: number): void => {
    if (++aliases > MAX_ALIASES) throw new MeaningError(`more than ${MAX_ALIASES} aliases in one document`, at);
  };
  const active = new Set<Node>();
  let depth = 0;
  const value = (node: unknown): Value => {
    if (depth > MAX_DEPTH)
      throw new MeaningError(`nested deeper than ${MAX_DEPTH} levels`, (node as Node | null)?.range?.[0]);
    if (++values > MAX_VALUES)
      throw new MeaningError(`the document expands to more than ${MAX_VALUES} values through its aliases`, undefined);
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      countAlias(node.range?.[0]);
      const target = node.resolve(doc);
      if (target === undefined) throw new MeaningError(`the alias *${node.source} names no anchor`, node.range?.[0]);
      if (active.has(target)) throw new MeaningError(`the alias *${node.source} contains itself`, node.range?.[0]);
      active.add(target);
      try {
        return value(target);
      } finally {
        active.delete(target);
      }
    }
    if (isScalar(node)) return scalarValue(node);
    depth++;
    try {
      if (isSeq(node)) return node.items.map(value);
      if (isMap(node)) {
        const out: { [key: string]: Value } = {};
        for (const [key, origin] of originsOf(node, doc, countAlias))
          out[key] = value(origin.own ? (node.items[origin.index]?.value ?? null) : origin.node);
        return out;
      }
    } finally {
      depth--;
    }
    throw new MeaningError("a node of a kind YAML does not have", undefined);
  };
  return value(doc.contents);
}
