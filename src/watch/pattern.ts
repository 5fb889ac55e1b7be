// IQQQ_WATCH_PATTERN, in RE2 syntax, matched in linear time by re2js (a port of
// RE2 to JavaScript, bundled: iqqq still has no runtime dependencies).
//
// Why not RegExp: JavaScript's own engines backtrack. On Node a pattern such as
// `(a+)+$` against a long command line spins for ever at 100% CPU, deaf to
// SIGTERM (the event loop never turns); Bun's engine gives up after about half a
// second and answers "no match", which may be wrong. RE2 answers in time linear
// in the text, for any pattern.
//
// Why RE2's syntax rather than JavaScript's: it is the syntax of Go's regexp,
// which scuttle's users (scuttle is Go) already write, and it is what the
// engine implements, so there is no second parser to keep in step. Unanchored,
// no flags; a pattern may set its own with (?i), (?s), (?m), (?U). Checked
// against Go's regexp itself (Go 1.19, on thousands of generated patterns): the
// same patterns accepted and the same answers, but for a group name used twice
// (re2js refuses it, Go takes it) and (?<name>…) (re2js takes it, as Go does
// from 1.22 on).
//
// Where RE2 and a JavaScript RegExp (no flags) differ, as found by the tests:
// - refused by RE2: backreferences (\1, \k<name>) and lookaround ((?=, (?!,
//   (?<=, (?<!), said so by name; \cX, \uXXXX and \u{…} (write \x{41}); the
//   identity escapes of letters and digits (\e, \8, \Z, \k); [\b]; [] and [^];
//   a repeat count above 1000, nested counts multiplied ((?:a{100}){100});
//   a repeated repetition such as a** or a{2}{3} (JavaScript refuses those too).
// - accepted by RE2 only: (?P<name>…), \x{…}, \pL and \p{Greek}, [[:alpha:]],
//   \Q…\E, \A and \z, the flag groups above, []a] (a class that starts with ]).
// - answered differently: RE2 matches code points, JavaScript without /u code
//   units ("." is one emoji for RE2, half of one for JavaScript); "." refuses only
//   \n in RE2, also \r, U+2028 and U+2029 in JavaScript; \s is [\t\n\f\r ] in
//   RE2, JavaScript adds \v, U+00A0 and the other Unicode spaces. \d, \w and \b
//   are ASCII in both.

import type * as Re2 from "re2js";
import { ValueError } from "../config/values.js";

// Imported with import(), not an import statement, so that the Node bundle can
// leave re2js in a file of its own, dist/vendor/re2js.mjs, read only when this
// module is, that is only for IQQQ_WATCH_PATTERN (scripts/build.mjs): as code
// in dist/iqqq.mjs it added 150 KB to it and about 3 ms of parsing to every
// start. Awaited here, once, so that parsing a pattern stays synchronous.
const { RE2JS, RE2JSException, RE2JSSyntaxException } = await import("re2js");

export interface Pattern {
  readonly source: string;
  /** Whether the pattern matches anywhere in `text`. */
  test(text: string): boolean;
  /** `/source/`, for messages. */
  toString(): string;
}

/** IQQQ_WATCH_PATTERN: an RE2 regular expression (Go's syntax), unanchored, matched in linear time. */
export function parseWatchPattern(raw: string): Pattern {
  let re: Re2.RE2JS;
  try {
    re = RE2JS.compile(raw);
  } catch (err) {
    if (err instanceof RE2JSException) throw new ValueError(reason(err));
    throw err;
  }
  return {
    source: raw,
    test: (text) => re.test(text),
    toString: () => `/${raw}/`,
  };
}

/** What a user writing JavaScript or PCRE should be told: by name for what RE2 has no way to do. */
function reason(err: Re2.RE2JSException): string {
  const prefix = "expected a regular expression in RE2 syntax (as Go's regexp)";
  if (!(err instanceof RE2JSSyntaxException)) return `${prefix}: ${err.message}`;
  // The fragment at fault: `\1`, `(?=`, or the rest of the pattern from `(?<=`.
  const at = err.input ?? "";
  if (/^\\([1-9]|k)/.test(at))
    return `${prefix}: backreferences (\\1, \\k<name>) are not supported: RE2 matches in linear time, without backtracking`;
  if (/^\(\?<?[=!]/.test(at))
    return `${prefix}: lookaround ((?=, (?!, (?<=, (?<!) is not supported: RE2 matches in linear time, without backtracking`;
  const shown = at === "" ? err.error : `${err.error}: ${at}`;
  if (/^\\[uc]/.test(at)) return `${prefix}: ${shown} (write a character as \\x{41})`;
  if (err.error === "invalid repeat count") return `${prefix}: ${shown} (at most 1000, nested counts multiplied)`;
  return `${prefix}: ${shown}`;
}
