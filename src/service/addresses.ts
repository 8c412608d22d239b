/**
 * Client addresses as Tessera keeps them: truncated before they are stored
 * (IPv4 to a /24, IPv6 to a /48 by default), so that a device list shows
 * roughly where a sign-in came from without keeping a precise address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Bits kept of each address family. @default { v4: 24, v6: 48 } */
export interface AddressPrefixes {
  readonly v4: number;
  readonly v6: number;
}

export const DEFAULT_ADDRESS_PREFIXES: AddressPrefixes = Object.freeze({ v4: 24, v6: 48 });

/** ISO 3166-1 alpha-2, optionally with a subdivision: `DE`, `US-CA`, `GB-SCT`. */
export const COUNTRY = /^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/;

/**
 * The address with every bit past the prefix set to zero, in canonical form;
 * an IPv4-mapped IPv6 address counts as IPv4. Undefined for what is not an IP
 * address, and when the family's prefix is 0 (addresses are not kept at all).
 */
export function truncateAddress(address: string, prefixes: AddressPrefixes): string | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped ? mapped[1]! : address;
  if (isIPv4(v4)) {
    if (prefixes.v4 === 0) return undefined;
    const bytes = v4.split('.').map(Number);
    return bytes.map((byte, i) => maskByte(byte, prefixes.v4 - i * 8)).join('.');
  }
  if (!isIPv6(address) || prefixes.v6 === 0) return undefined;
  const groups = expandIPv6(address);
  if (groups === undefined) return undefined;
  const kept = groups.map((group, i) => {
    const bits = Math.max(0, Math.min(16, prefixes.v6 - i * 16));
    return bits === 0 ? 0 : group & ((0xffff << (16 - bits)) & 0xffff);
  });
  return compressIPv6(kept);
}

function maskByte(byte: number, bits: number): number {
  if (bits >= 8) return byte;
  if (bits <= 0) return 0;
  return byte & ((0xff << (8 - bits)) & 0xff);
}

/** Eight 16-bit groups, an embedded IPv4 tail included. */
function expandIPv6(address: string): number[] | undefined {
  let text = address.replace(/%.*$/, '');
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -tail[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - left.length - right.length;
  if (rest === undefined ? missing !== 0 : missing < 0) return undefined;
  return [...left, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...right].map((g) => Number.parseInt(g, 16));
}

/** RFC 5952: lower case, the longest run of two or more zero groups as `::`. */
function compressIPv6(groups: readonly number[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start === -1) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
