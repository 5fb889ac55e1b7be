// IQQQ_WATCH_PATTERN, matched in linear time. JavaScript's own engines
// backtrack: on Node a pattern such as `(a+)+$` against a long command line spins
// for ever at 100% CPU, deaf to SIGTERM (the event loop never turns); Bun's
// engine gives up after about half a second and answers "no match", which may be
// wrong. So the pattern is compiled here, as RE2 and Go's regexp do (scuttle is Go),
// into a Thompson NFA run by a Pike VM: time linear in the text, for any pattern.
//
// The syntax is JavaScript's, without flags, matching UTF-16 code units as a
// RegExp without /u does; only what needs backtracking is refused, with a clear
// message: backreferences (\1, \k<name>) and lookaround ((?=, (?!, (?<=, (?<!).

import { ValueError } from "../config/values.js";

export interface Pattern {
  readonly source: string;
  /** Whether the pattern matches anywhere in `text` (RegExp.prototype.test without flags). */
  test(text: string): boolean;
  /** `/source/`, for messages. */
  toString(): string;
}

/** Counted repetitions are expanded; this bounds the compiled program. */
const MAX_PROGRAM = 20_000;

type Node =
  | { readonly t: "set"; readonly set: CharSet }
  | { readonly t: "cat"; readonly items: readonly Node[] }
  | { readonly t: "alt"; readonly items: readonly Node[] }
  | { readonly t: "rep"; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly t: "assert"; readonly kind: AssertKind };

type AssertKind = "^" | "$" | "\\b" | "\\B";

/** Code-unit ranges [lo, hi], inclusive; negated or not. */
interface CharSet {
  readonly ranges: readonly (readonly [number, number])[];
  readonly negated: boolean;
}

const DIGIT: [number, number][] = [[0x30, 0x39]];
const WORD: [number, number][] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: [number, number][] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: [number, number][] = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];

/** IQQQ_WATCH_PATTERN: a JavaScript regular expression, unanchored, no flags, matched in linear time. */
export function parseWatchPattern(raw: string): Pattern {
  try {
    new RegExp(raw);
  } catch (err) {
    throw new ValueError(`expected a regular expression (JavaScript syntax): ${(err as Error).message}`);
  }
  const program = compile(new Parser(raw).parse());
  return {
    source: raw,
    test: (text) => run(program, text),
    toString: () => `/${raw}/`,
  };
}

class Parser {
  private i = 0;
  /** Capturing groups: `\N` is a backreference up to this, else (Annex B) an octal escape. */
  private readonly groups: number;
  constructor(private readonly src: string) {
    this.groups = countGroups(src);
  }

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.src.length) this.fail(`unexpected ${JSON.stringify(this.src[this.i])}`);
    return node;
  }

  private alternation(): Node {
    const items = [this.sequence()];
    while (this.peek() === "|") {
      this.i++;
      items.push(this.sequence());
    }
    return items.length === 1 ? (items[0] as Node) : { t: "alt", items };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.peek() !== "|" && this.peek() !== ")") {
      items.push(this.quantified());
    }
    return { t: "cat", items };
  }

  private quantified(): Node {
    const atom = this.atom();
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{" && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i)) as RegExpExecArray;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    // Lazy or greedy gives the same answer to "is there a match": the mark is dropped.
    if (this.peek() === "?") this.i++;
    if (atom.t === "assert") return min === 0 ? { t: "cat", items: [] } : atom;
    return { t: "rep", node: atom, min, max };
  }

  private atom(): Node {
    const c = this.src[this.i++] as string;
    switch (c) {
      case "^":
      case "$":
        return { t: "assert", kind: c };
      case ".":
        return { t: "set", set: { ranges: LINE_TERMINATORS, negated: true } };
      case "(": {
        if (this.src.startsWith("?:", this.i)) this.i += 2;
        else if (/^\?<[=!]/.test(this.src.slice(this.i)) || /^\?[=!]/.test(this.src.slice(this.i)))
          this.fail("lookaround ((?=, (?!, (?<=, (?<!) is not supported: it needs backtracking");
        else if (this.src.startsWith("?<", this.i)) this.i = this.src.indexOf(">", this.i) + 1;
        const node = this.alternation();
        if (this.src[this.i++] !== ")") this.fail("missing )");
        return node;
      }
      case "[":
        return { t: "set", set: this.charClass() };
      case "\\":
        return this.escape();
      default:
        return literal(c.charCodeAt(0));
    }
  }

  private escape(): Node {
    const c = this.src[this.i++] as string;
    if (c === "b" || c === "B") return { t: "assert", kind: c === "b" ? "\\b" : "\\B" };
    if (/[1-9]/.test(c)) {
      const digits = /^[0-9]*/.exec(this.src.slice(this.i))?.[0] ?? "";
      if (Number(c + digits) <= this.groups)
        this.fail("backreferences (\\1, \\k<name>) are not supported: they need backtracking");
      // No such group: "\8" is "8", "\12" is the octal escape \12.
      if (c === "8" || c === "9") return literal(c.charCodeAt(0));
      return literal(this.legacyOctal(c));
    }
    if (c === "k" && this.src[this.i] === "<" && /\(\?<[^=!]/.test(this.src))
      this.fail("backreferences (\\1, \\k<name>) are not supported: they need backtracking");
    const set = this.classEscape(c);
    return { t: "set", set };
  }

  /** After a backslash, outside or inside a class; `\b` inside a class is backspace. */
  private classEscape(c: string, inClass = false): CharSet {
    switch (c) {
      case "d":
        return { ranges: DIGIT, negated: false };
      case "D":
        return { ranges: DIGIT, negated: true };
      case "w":
        return { ranges: WORD, negated: false };
      case "W":
        return { ranges: WORD, negated: true };
      case "s":
        return { ranges: SPACE, negated: false };
      case "S":
        return { ranges: SPACE, negated: true };
      default:
        return one(this.escapedUnit(c, inClass));
    }
  }

  /** The code unit a character escape stands for (Annex B semantics, as a RegExp without /u). */
  private escapedUnit(c: string, inClass: boolean): number {
    const hex = (n: number): number | undefined => {
      const digits = this.src.slice(this.i, this.i + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) return undefined;
      this.i += n;
      return Number.parseInt(digits, 16);
    };
    switch (c) {
      case "t":
        return 0x09;
      case "n":
        return 0x0a;
      case "v":
        return 0x0b;
      case "f":
        return 0x0c;
      case "r":
        return 0x0d;
      case "b":
        return inClass ? 0x08 : 0x62;
      case "0":
        if (!/[0-9]/.test(this.src[this.i] ?? "")) return 0;
        return this.legacyOctal(c);
      case "x":
        return hex(2) ?? 0x78;
      case "u":
        return hex(4) ?? 0x75;
      case "c": {
        const letter = this.src[this.i] ?? "";
        if (/[A-Za-z]/.test(letter)) {
          this.i++;
          return letter.charCodeAt(0) % 32;
        }
        if (inClass && /[0-9_]/.test(letter)) {
          this.i++;
          return letter.charCodeAt(0) % 32;
        }
        // "\c" alone is a backslash followed by "c".
        this.i--;
        return 0x5c;
      }
      default:
        if (/[1-7]/.test(c) && inClass) return this.legacyOctal(c);
        if (/[89]/.test(c) && inClass) return c.charCodeAt(0);
        return c.charCodeAt(0);
    }
  }

  private legacyOctal(first: string): number {
    let digits = first;
    while (digits.length < 3 && /[0-7]/.test(this.src[this.i] ?? "")) {
      const next = digits + this.src[this.i];
      if (Number.parseInt(next, 8) > 0o377) break;
      digits = next;
      this.i++;
    }
    return Number.parseInt(digits, 8);
  }

  private charClass(): CharSet {
    const negated = this.peek() === "^";
    if (negated) this.i++;
    const ranges: (readonly [number, number])[] = [];
    const sets: CharSet[] = [];
    while (this.i < this.src.length && this.peek() !== "]") {
      const lo = this.classAtom();
      if (this.peek() === "-" && this.src[this.i + 1] !== "]" && this.i + 1 < this.src.length) {
        const save = this.i;
        this.i++;
        const hi = this.classAtom();
        if (typeof lo === "number" && typeof hi === "number") {
          ranges.push([lo, hi]);
          continue;
        }
        // A class escape next to "-" (Annex B): "-" is itself a member.
        this.i = save;
      }
      if (typeof lo === "number") ranges.push([lo, lo]);
      else sets.push(lo);
    }
    if (this.src[this.i++] !== "]") this.fail("missing ]");
    // A class escape inside a class: \d, \W… are unions of ranges; negated ones are complemented.
    for (const set of sets) ranges.push(...(set.negated ? complement(set.ranges) : set.ranges));
    return { ranges, negated };
  }

  private classAtom(): number | CharSet {
    const c = this.src[this.i++] as string;
    if (c !== "\\") return c.charCodeAt(0);
    const e = this.src[this.i++] as string;
    if ("dDwWsS".includes(e)) return this.classEscape(e, true);
    if (e === "-") return 0x2d;
    return this.escapedUnit(e, true);
  }

  private peek(): string | undefined {
    return this.src[this.i];
  }

  private fail(message: string): never {
    throw new ValueError(`a regular expression iqqq can match in linear time: ${message}`);
  }
}

function countGroups(src: string): number {
  let n = 0;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(" && (src[i + 1] !== "?" || /^\?<[^=!]/.test(src.slice(i + 1)))) n++;
  }
  return n;
}

function literal(unit: number): Node {
  return { t: "set", set: one(unit) };
}

function one(unit: number): CharSet {
  return { ranges: [[unit, unit]], negated: false };
}

function complement(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0xffff) out.push([next, 0xffff]);
  return out;
}

// The program: a Thompson NFA as instructions.
type Inst =
  | { readonly op: "set"; readonly set: CharSet }
  | { readonly op: "split"; x: number; y: number }
  | { readonly op: "jmp"; x: number }
  | { readonly op: "assert"; readonly kind: AssertKind }
  | { readonly op: "match" };

function compile(root: Node): Inst[] {
  const prog: Inst[] = [];
  const emit = (inst: Inst): number => {
    if (prog.length >= MAX_PROGRAM)
      throw new ValueError(
        "a regular expression iqqq can match in linear time: too large once its counted repetitions are expanded",
      );
    prog.push(inst);
    return prog.length - 1;
  };
  const gen = (node: Node): void => {
    switch (node.t) {
      case "set":
        emit({ op: "set", set: node.set });
        return;
      case "assert":
        emit({ op: "assert", kind: node.kind });
        return;
      case "cat":
        for (const item of node.items) gen(item);
        return;
      case "alt": {
        const jumps: { op: "jmp"; x: number }[] = [];
        node.items.forEach((item, k) => {
          if (k < node.items.length - 1) {
            const split = { op: "split" as const, x: prog.length + 1, y: 0 };
            emit(split);
            gen(item);
            const jmp = { op: "jmp" as const, x: 0 };
            emit(jmp);
            jumps.push(jmp);
            split.y = prog.length;
          } else gen(item);
        });
        for (const jmp of jumps) jmp.x = prog.length;
        return;
      }
      case "rep": {
        for (let k = 0; k < node.min; k++) gen(node.node);
        if (node.max === Infinity) {
          const split = { op: "split" as const, x: prog.length + 1, y: 0 };
          const at = emit(split);
          gen(node.node);
          emit({ op: "jmp", x: at });
          split.y = prog.length;
        } else {
          const splits: { op: "split"; x: number; y: number }[] = [];
          for (let k = node.min; k < node.max; k++) {
            const split = { op: "split" as const, x: prog.length + 1, y: 0 };
            emit(split);
            splits.push(split);
            gen(node.node);
          }
          for (const split of splits) split.y = prog.length;
        }
        return;
      }
    }
  };
  gen(root);
  emit({ op: "match" });
  return prog;
}

function inSet(set: CharSet, unit: number): boolean {
  let found = false;
  for (const [lo, hi] of set.ranges) {
    if (unit >= lo && unit <= hi) {
      found = true;
      break;
    }
  }
  return found !== set.negated;
}

function isWord(text: string, at: number): boolean {
  if (at < 0 || at >= text.length) return false;
  const u = text.charCodeAt(at);
  return (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a) || u === 0x5f || (u >= 0x61 && u <= 0x7a);
}

function holds(kind: AssertKind, text: string, at: number): boolean {
  switch (kind) {
    case "^":
      return at === 0;
    case "$":
      return at === text.length;
    case "\\b":
      return isWord(text, at - 1) !== isWord(text, at);
    case "\\B":
      return isWord(text, at - 1) === isWord(text, at);
  }
}

/** The Pike VM: every thread advances in lockstep, at most one per instruction. */
function run(prog: readonly Inst[], text: string): boolean {
  let current: number[] = [];
  let next: number[] = [];
  const onList = new Int32Array(prog.length).fill(-1);
  let generation = 0;
  const add = (list: number[], pc: number, at: number): boolean => {
    // Iterative epsilon closure; true when Match is reachable.
    const stack = [pc];
    while (stack.length > 0) {
      const p = stack.pop() as number;
      if (onList[p] === generation) continue;
      onList[p] = generation;
      const inst = prog[p] as Inst;
      switch (inst.op) {
        case "jmp":
          stack.push(inst.x);
          break;
        case "split":
          stack.push(inst.y, inst.x);
          break;
        case "assert":
          if (holds(inst.kind, text, at)) stack.push(p + 1);
          break;
        case "match":
          return true;
        case "set":
          list.push(p);
          break;
      }
    }
    return false;
  };
  for (let at = 0; ; at++) {
    // Unanchored: a new thread starts at every position.
    if (add(current, 0, at)) return true;
    if (at >= text.length) return false;
    const unit = text.charCodeAt(at);
    generation++;
    next.length = 0;
    for (const pc of current) {
      const inst = prog[pc] as Inst & { op: "set" };
      if (inSet(inst.set, unit) && add(next, pc + 1, at + 1)) return true;
    }
    [current, next] = [next, current];
  }
}
