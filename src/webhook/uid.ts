// request.uid of an AdmissionReview, found while its body streams past and
// kept in a few hundred bytes, whatever the body's size. The webhook answers a
// review it will not read whole (too large, or too many reviews already in
// memory) with allowed: true and a warning, and that answer must carry the
// request's uid; this lets it do so without holding the body.
//
// Written by hand, and why: the JSON libraries that stream (stream-json,
// @streamparser/json) build every value they pass through, keys and strings of
// any length included; this tracks only nesting, the keys on the way to
// request.uid, and that one string (≤ UID_MAX bytes).

const UID_MAX = 256;
const DEPTH_MAX = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class UidScanner {
  /** "o" or "a" for each open object or array. */
  readonly #stack: string[] = [];
  /** The key of the member being read, at each object depth (1: the review, 2: request). */
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
          this.#string = this.#stack.length <= 2 ? [] : undefined;
          break;
        case 0x7b: // {
          if (this.#stack.length >= DEPTH_MAX) {
            this.#broken = true;
            return;
          }
          this.#stack.push("o");
          this.#keys[this.#stack.length] = undefined;
          this.#expectKey = true;
          break;
        case 0x5b: // [
          this.#stack.push("a");
          this.#expectKey = false;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.#stack.pop();
          this.#expectKey = false;
          break;
        case 0x2c: // ,
          this.#expectKey = this.#stack[this.#stack.length - 1] === "o";
          break;
      }
    }
  }

  #endString(): void {
    const bytes = this.#string;
    this.#string = undefined;
    const depth = this.#stack.length;
    if (this.#expectKey) {
      this.#expectKey = false;
      this.#keys[depth] = bytes === undefined ? undefined : decode(bytes);
      return;
    }
    if (
      bytes !== undefined &&
      depth === 2 &&
      this.#stack[0] === "o" &&
      this.#stack[1] === "o" &&
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
