// request.uid of an AdmissionReview, found while its body streams past and
// kept in a few hundred bytes, whatever the body's size. The webhook answers a
// review it will not read whole (too large, or too many reviews already in
// memory) with allowed: true and a warning, and that answer must carry the
// request's uid; this lets it do so without holding the body.
//
// Written by hand, and why: the JSON libraries that stream (stream-json,
// @streamparser/json) build every value they pass through, keys and strings of
// any length included; this keeps a depth count, the kinds and keys of the
// first two levels, and that one string (≤ UID_MAX bytes): a fixed size,
// whatever the body (16 MiB of "[" included).

const UID_MAX = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class UidScanner {
  /** How deep in objects and arrays: a count, whatever the depth. */
  #depth = 0;
  /** "o" or "a" for the first two levels only (deeper ones never hold the uid). */
  readonly #kinds: string[] = [];
  /** The key of the member being read at depth 1 (the review) and 2 (request). */
  readonly #keys: (string | undefined)[] = [];
  #expectKey = false;
  #inString = false;
  #escaped = false;
  #string: number[] | undefined;
  #uid: string | undefined;
  #broken = false;

  /** The uid, once seen. */
  get uid(): string | undefined {
    return this.#uid;
  }

  feed(chunk: Uint8Array): void {
    if (this.#uid !== undefined || this.#broken) return;
    for (const byte of chunk) {
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === BACKSLASH) this.#escaped = true;
        else if (byte === QUOTE) {
          this.#inString = false;
          this.#endString();
          if (this.#uid !== undefined) return;
          continue;
        }
        if (this.#string !== undefined) {
          if (this.#string.length < UID_MAX) this.#string.push(byte);
          else this.#string = undefined;
        }
        continue;
      }
      switch (byte) {
        case QUOTE:
          this.#inString = true;
          // Only keys near the top, and a value where the uid would be, are worth keeping.
          this.#string = this.#depth <= 2 ? [] : undefined;
          break;
        case 0x7b: // {
        case 0x5b: // [
          this.#depth++;
          if (this.#depth <= 2) {
            this.#kinds[this.#depth - 1] = byte === 0x7b ? "o" : "a";
            this.#keys[this.#depth] = undefined;
          }
          this.#expectKey = byte === 0x7b;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          if (this.#depth === 0) {
            this.#broken = true;
            return;
          }
          this.#depth--;
          this.#expectKey = false;
          break;
        case 0x2c: // ,
          this.#expectKey = this.#depth <= 2 && this.#kinds[this.#depth - 1] === "o";
          break;
      }
    }
  }

  #endString(): void {
    const bytes = this.#string;
    this.#string = undefined;
    const depth = this.#depth;
    if (this.#expectKey) {
      this.#expectKey = false;
      if (depth <= 2) this.#keys[depth] = bytes === undefined ? undefined : decode(bytes);
      return;
    }
    if (
      bytes !== undefined &&
      depth === 2 &&
      this.#kinds[0] === "o" &&
      this.#kinds[1] === "o" &&
      this.#keys[1] === "request" &&
      this.#keys[2] === "uid"
    )
      this.#uid = decode(bytes);
  }
}

function decode(bytes: number[]): string | undefined {
  try {
    const text = JSON.parse(`"${Buffer.from(bytes).toString("utf8")}"`) as unknown;
    return typeof text === "string" ? text : undefined;
  } catch {
    return undefined;
  }
}
