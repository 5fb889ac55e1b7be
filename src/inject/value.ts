// A manifest's value as Kubernetes decodes it (JSON, with exact big integers),
// and equality over it. Shared by inject (YAML) and the webhook (JSON).

/** A JSON value as Kubernetes decodes it; integers beyond 2^53 stay exact as bigint. */
export type Value = null | boolean | number | bigint | string | Value[] | { [key: string]: Value };

/**
 * Deep equality of decoded values (bigint and NaN included). Loops, not every(): with its optimising
 * compilers held back (src/runtime/jit.ts) the executable runs JavaScriptCore's every() and map() as
 * interpreted JavaScript, a call per element; this and copy() walk every node of every Job inject writes.
 */
export function same(a: unknown, b: unknown): boolean {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const array = Array.isArray(a);
  if (array !== Array.isArray(b)) return false;
  if (array) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!same(x[i], y[i])) return false;
    return true;
  }
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) {
    if (!Object.hasOwn(b, k) || !same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
      return false;
  }
  return true;
}

/**
 * A deep copy of a decoded value. Not structuredClone: that goes through V8's
 * serializer, 10–11 µs per Job of bench/inject.ts's input where this takes
 * 1.5–1.7 µs (20,000 copies each, alternating). A key `__proto__` stays an own key, as structuredClone
 * keeps it.
 */
export function copy<T extends Value>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out: Value[] = [];
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i] as Value);
    return out as T;
  }
  const out: { [key: string]: Value } = {};
  for (const key of Object.keys(value)) {
    const v = copy((value as { [key: string]: Value })[key] as Value);
    if (key === "__proto__")
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out as T;
}

export function isRecord(v: unknown): v is Record<string, Value> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * How a list edited from `was` to `now` keeps its items: where each item of
 * `now` comes from in `was` (-1: new). Items keep their places (the same
 * length), or new ones come at either end, or items with names (containers,
 * volumes, env) are matched by name. Undefined where none of these holds: the
 * list is written anew. The full path (manifest.ts) and the quick writer
 * (quick.ts) edit a sequence by it alike.
 */
export function seqOrder(was: Value[], now: Value[]): number[] | undefined {
  const n = was.length;
  const m = now.length;
  if (m === n) return now.map((_, i) => i);
  if (m < n) return undefined;
  if (was.every((b, i) => same(b, now[i]))) return now.map((_, i) => (i < n ? i : -1));
  if (was.every((b, i) => same(b, now[m - n + i]))) return now.map((_, i) => (i < m - n ? -1 : i - (m - n)));
  const names = (list: Value[]) => list.map((v) => (isRecord(v) && typeof v.name === "string" ? v.name : undefined));
  const before = names(was);
  const after = names(now);
  if (before.some((x) => x === undefined) || new Set(before).size !== n || new Set(after).size !== m) return undefined;
  // By a map of names: a list of thousands (an env) is matched in linear time.
  const at = new Map(before.map((name, i) => [name, i]));
  const kept = new Set(after);
  if (before.some((x) => !kept.has(x))) return undefined;
  return after.map((name) => at.get(name) ?? -1);
}
