// Misspelt variables: a typo in a variable name is otherwise silent, and the
// setting it meant simply does not apply. Unknown IQQQ_* names (and, invoked as
// scuttle, names that look like scuttle's) get one warning each, naming the
// closest known variable. The program still runs: an unknown name might be
// meant for someone else (a plugin reads its own IQQQ_* variables).

import type { Env } from "../io.js";
import { VARIABLES } from "./variables.js";

/** Edits (insert, delete, substitute, swap two neighbours) to turn a into b. */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** At most this many edits count as a typo of a known name. */
const TYPO = 2;
/** Words scuttle's variables are made of: invoked as scuttle, a close name with one of these is suspect. */
const SCUTTLE_WORDS = /ENVOY|ISTIO|SCUTTLE|QUIT/;

export function misspeltVariables(env: Env, flavour: "iqqq" | "scuttle", pluginsConfigured: boolean): string[] {
  // The names that look like ours first: most environments have none, and the
  // check then costs one pass over the names (it runs at every start; the
  // table of known names and a sort cost the executable about 0.4 ms more).
  const suspects: string[] = [];
  for (const name of Object.keys(env)) {
    if ((env[name] ?? "") === "") continue;
    const upper = name.toUpperCase();
    if (upper.startsWith("IQQQ_") || (flavour === "scuttle" && SCUTTLE_WORDS.test(upper))) suspects.push(name);
  }
  if (suspects.length === 0) return [];
  const known = new Set<string>();
  // A loop, not VARIABLES.map(): a callback run once per variable is enough to
  // wake the executable's JIT compiler, a thread and about 2 ms for nothing.
  for (const variable of VARIABLES) known.add(variable.name);
  const warnings: string[] = [];
  for (const name of suspects.sort()) {
    if (known.has(name)) continue;
    const upper = name.toUpperCase();
    const scuttleLike = flavour === "scuttle" && SCUTTLE_WORDS.test(upper);
    let closest = "";
    let best = Number.POSITIVE_INFINITY;
    for (const candidate of known) {
      const d = distance(upper, candidate) + (upper === name ? 0 : 1);
      if (d < best) [closest, best] = [candidate, d];
    }
    // Far from every known name: a plugin's own variable, or another program's.
    if (best > TYPO && (scuttleLike || pluginsConfigured)) continue;
    warnings.push(`${name} is not a variable iqqq knows, so it has no effect; did you mean ${closest}?`);
  }
  return warnings;
}
