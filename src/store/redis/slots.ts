/**
 * Redis Cluster slots: the slot of a key is CRC16 (XMODEM) of its hash tag —
 * the part between the first `{` and the next `}` when non-empty — or of the
 * whole key, modulo 16384. The change feed keeps one stream per slot, named
 * with a tag of that slot (`slotTag`), so that a session's scripts reach the
 * stream of their own slot.
 */
export const SLOTS = 16384;

const TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % SLOTS;
}

let tags: string[] | undefined;

/** The shortest base-36 string whose slot is `slot` (the same on every node: found by counting up). */
export function slotTag(slot: number): string {
  if (tags === undefined) {
    const found = new Array<string>(SLOTS);
    let missing = SLOTS;
    for (let n = 0; missing > 0; n += 1) {
      const tag = n.toString(36);
      const s = crc16(Buffer.from(tag)) % SLOTS;
      if (found[s] === undefined) {
        found[s] = tag;
        missing -= 1;
      }
    }
    tags = found;
  }
  return tags[slot]!;
}
