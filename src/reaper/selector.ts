// Kubernetes label selectors in their string form (`app=x,tier!=db,env in
// (a,b),!legacy`), as kubectl -l takes them: the reaper's --selector is sent to
// the API server as is; its --job-selector is matched here, against each pod's
// labels. The grammar: k8s.io/apimachinery/pkg/labels, Parse.

export interface Selector {
  readonly text: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
}

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

const KEY = String.raw`(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?`;
const VALUE = "(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?";
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(\s*(${VALUE}(?:\s*,\s*${VALUE})*)\s*\)$`);
const EQUALITY = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const EXISTS = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

/** The selector, or an Error saying which part is not one. */
export function parseSelector(text: string): Selector | Error {
  const requirements: Requirement[] = [];
  // Commas separate requirements except inside a set's parentheses.
  for (const part of text.split(/,(?![^()]*\))/)) {
    const p = part.trim();
    if (p === "") return new Error(`an empty requirement in ${JSON.stringify(text)}`);
    const set = SET.exec(p);
    const equality = set === null ? EQUALITY.exec(p) : null;
    const exists = set === null && equality === null ? EXISTS.exec(p) : null;
    if (set !== null) {
      const [, key = "", op, list = ""] = set;
      const values = new Set(list.split(",").map((v) => v.trim()));
      requirements.push(
        op === "in"
          ? (l) => Object.hasOwn(l, key) && values.has(l[key] as string)
          : (l) => !Object.hasOwn(l, key) || !values.has(l[key] as string),
      );
    } else if (equality !== null) {
      const [, key = "", op, value = ""] = equality;
      requirements.push(
        op === "!="
          ? (l) => !Object.hasOwn(l, key) || l[key] !== value
          : (l) => Object.hasOwn(l, key) && l[key] === value,
      );
    } else if (exists !== null) {
      const [, not, key = ""] = exists;
      requirements.push(not === "!" ? (l) => !Object.hasOwn(l, key) : (l) => Object.hasOwn(l, key));
    } else
      return new Error(
        `${JSON.stringify(p)} is not a label requirement (key, !key, key=value, key!=value, key in (a,b), key notin (a,b))`,
      );
  }
  return { text, matches: (labels) => requirements.every((r) => r(labels)) };
}
