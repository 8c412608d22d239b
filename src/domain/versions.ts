/**
 * Part versions: a digest of the part's state, the same in every region and
 * every engine that holds the same state.
 *
 * A version is the XOR of one 64-bit hash per entry of the part (a cart line,
 * a preference key, a viewed product, a device), each hash taken over the
 * part's name, the entry's key and a canonical text of its value. XOR makes
 * it independent of entry order, and lets a store keep it up to date in O(1)
 * per entry a change touches: XOR out the entry's old hash, XOR in its new one.
 *
 * Because every part is a join-semilattice whose states only grow (counters
 * rise, stamps move forward, tombstones stay), a part never returns to an
 * earlier state: equal versions mean "nothing changed", which is what
 * `If-Match` asks, and a version read in one region means the same in any
 * other. (A 64-bit XOR hash resists accidents, not an adversary; a caller who
 * forges a collision only fools its own compare-and-swap.)
 *
 * Device versions leave activity (`lastActiveAt`) out: using a device does
 * not move the devices part's version.
 *
 * The Redis engines keep the same digest in Lua (`lua/versions.lua.ts`), over
 * the same canonical texts; a parity test holds the two to each other.
 */
import { hash } from 'node:crypto';
import type { CartLineState } from './cart.js';
import type { DeviceState } from './devices.js';
import type { DataPart, PartStates } from './parts.js';
import type { PrefRegister } from './prefs.js';
import type { SessionMeta } from './session.js';

/** The version of an empty part. */
export const EMPTY_VERSION = '0000000000000000';

/** A cart line as text: first add, counters per writer in byte order, attributes' stamp and JSON. */
export function canonicalCartLine(line: CartLineState): string {
  const writers = Object.keys(line.n).sort(byteOrder);
  const counters = writers.map((w) => `${w}:${line.n[w]![0]}:${line.n[w]![1]}`).join(',');
  return `${line.at}|${counters}|${line.a === undefined ? '' : `${line.a.t} ${JSON.stringify(line.a.v)}`}`;
}

/** A preference register as the Redis engines store it: "<stamp> <JSON>". */
export function canonicalRegister(register: PrefRegister): string {
  return `${register.t} ${JSON.stringify(register.v)}`;
}

/**
 * What identifies a device's token state: generation, stamp, revocation (and
 * its reason, when one was recorded). The authentication time and level and a
 * transient device's limits change only with the stamp; where the device was
 * last seen is activity, which moves no version.
 */
export function canonicalDevice(device: DeviceState): string {
  const text = `${device.gen}|${device.t}|${device.revokedAt ?? ''}`;
  return device.revokedFor === undefined ? text : `${text}|${device.revokedFor}`;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Two 32-bit halves of the first 64 bits of SHA-1("<part>\n<key>\n<value>"). */
function entryHash(part: DataPart, key: string, value: string): [number, number] {
  const hex = hash('sha1', `${part}\n${key}\n${value}`, 'hex');
  return [Number.parseInt(hex.slice(0, 8), 16), Number.parseInt(hex.slice(8, 16), 16)];
}

function parse(version: string): [number, number] {
  return [Number.parseInt(version.slice(0, 8), 16) >>> 0, Number.parseInt(version.slice(8, 16), 16) >>> 0];
}

function format([hi, lo]: [number, number]): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** Where a part keeps its entries, by key, and each entry's canonical text. */
interface EntryForm<P extends DataPart> {
  readonly record: (state: PartStates[P]) => Readonly<Record<string, unknown>>;
  readonly text: (value: never) => string;
}

const ENTRY_FORMS: { readonly [P in DataPart]: EntryForm<P> } = {
  cart: { record: (state) => state.lines, text: canonicalCartLine },
  prefs: { record: (state) => state.keys, text: canonicalRegister },
  history: { record: (state) => state.items, text: String },
  devices: { record: (state) => state.devices, text: canonicalDevice },
};

function formOf<P extends DataPart>(part: P): EntryForm<P> {
  const form = ENTRY_FORMS[part] as EntryForm<P> | undefined;
  if (form === undefined) throw new TypeError(`unknown data part "${String(part)}"`);
  return form;
}

/** The version of a part's state, computed from every entry. */
export function partVersion<P extends DataPart>(part: P, state: PartStates[P]): string {
  const { record, text } = formOf(part);
  const entries = record(state);
  let hi = 0;
  let lo = 0;
  for (const key of Object.keys(entries)) {
    const [h, l] = entryHash(part, key, text(entries[key] as never));
    hi ^= h;
    lo ^= l;
  }
  return format([hi, lo]);
}

/**
 * The version after a change, from the version before it: only the entries
 * whose canonical text differs are hashed. `before` and `after` are the
 * whole states; entries absent from `after` (history trimmed) are XORed out.
 * An entry the change left as it was — the same object, as joins keep
 * untouched entries — is not even written out: a write costs what it touched.
 */
export function nextVersion<P extends DataPart>(part: P, version: string, before: PartStates[P], after: PartStates[P]): string {
  const { record, text } = formOf(part);
  const old = record(before);
  const now = record(after);
  let [hi, lo] = parse(version);
  const flip = (key: string, entryText: string): void => {
    const [h, l] = entryHash(part, key, entryText);
    hi ^= h;
    lo ^= l;
  };
  for (const key of Object.keys(now)) {
    const value = now[key];
    const was = Object.hasOwn(old, key) ? old[key] : undefined;
    if (was === value) continue;
    const valueText = text(value as never);
    if (was !== undefined) {
      const wasText = text(was as never);
      if (wasText === valueText) continue;
      flip(key, wasText);
    }
    flip(key, valueText);
  }
  for (const key of Object.keys(old)) if (!Object.hasOwn(now, key)) flip(key, text(old[key] as never));
  return format([hi, lo]);
}

/**
 * A digest of everything stored of a session — its metadata and the versions
 * of its parts — equal wherever the session's state is equal: what regions
 * compare to find sessions that diverged (and tests, to check convergence).
 */
export function sessionDigest(meta: SessionMeta, versions: Readonly<Record<DataPart, string>>): string {
  if (meta.mergedInto !== undefined) {
    // A session merged into another is a redirect: every read and write goes to the other. A region
    // that learned of the merge after writing to it locally keeps those parts (and their stamps,
    // activity and deadline) where nothing reads them, while a region that merged it moved them; both
    // sent the writes on to the winner. Regions compare a redirect by what it says, or the repair would
    // exchange it forever without a difference that matters (seen in the chaos tests: users who signed
    // in again in two regions at once).
    const redirect = [meta.id, meta.userId ?? '', meta.createdAt, meta.absoluteExpiresAt, meta.endedAt ?? '', meta.mergedInto, meta.erasedAt ?? ''];
    return hash('sha1', ['merged', ...redirect].join('\n'), 'hex').slice(0, 16);
  }
  const fields = [
    meta.id, meta.userId ?? '', meta.createdAt, meta.lastActiveAt, meta.idleExpiresAt, meta.absoluteExpiresAt,
    meta.csrfSecret, meta.endedAt ?? '', meta.mergedInto ?? '', meta.t ?? '',
    versions.cart, versions.prefs, versions.history, versions.devices,
    // Appended only when set, so that the digests of sessions never erased stay what they were.
    ...(meta.erasedAt !== undefined ? [meta.erasedAt] : []),
  ];
  return hash('sha1', fields.join('\n'), 'hex').slice(0, 16);
}
