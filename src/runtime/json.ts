// What JSON.parse would build grows with the objects and arrays in the text,
// not with its bytes (3 MiB of "{}," is a million objects: hundreds of MiB once
// parsed, in either runtime): counted first, building nothing.

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;

/**
 * Whether a JSON text holds more than `limit` objects and arrays, without
 * parsing it. Every `{` and `[` byte is found by Buffer's native search first:
 * when there are no more than `limit` of them, in strings or not, the answer
 * is no without a loop over every byte in JavaScript, which the webhook's
 * executable runs interpreted (deploy/core/webhook.yaml turns its JIT off).
 * Only a text with more of them is read byte by byte.
 */
export function moreContainersThan(bytes: Uint8Array, limit: number): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let found = 0;
  for (const open of [OPEN_OBJECT, OPEN_ARRAY]) {
    for (let at = buffer.indexOf(open); at >= 0 && found <= limit; at = buffer.indexOf(open, at + 1)) found++;
  }
  return found > limit && jsonContainers(bytes) > limit;
}

/** Objects and arrays in a JSON text, counted without parsing it. */
export function jsonContainers(bytes: Uint8Array): number {
  let count = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) count++;
  }
  return count;
}
