// A manifest's value as Kubernetes decodes it (JSON, with exact big integers),
// and equality over it. Shared by inject (YAML) and the webhook (JSON).

/** A JSON value as Kubernetes decodes it; integers beyond 2^53 stay exact as bigint. */
export type Value = null | boolean | number | bigint | string | Value[] | { [key: string]: Value };

/** Deep equality of decoded values (bigint and NaN included). */
export function same(a: unknown, b: unknown): boolean {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  return (
    ak.length === bk.length &&
    ak.every((k) => Object.hasOwn(b, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}
