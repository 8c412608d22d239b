/**
 * Shared support for the domain tests: a canonical form to compare CRDT states,
 * and a small multi-region simulation that produces realistic states.
 *
 * The simulation runs replicas ('eu', 'us', 'ap'), each with its own wall clock
 * (skewed, sometimes stepping back) and hybrid logical clock. A step either
 * applies an operation on one replica through `applyOperation` — joining the
 * change records into that replica's state, as a store does — or delivers part
 * of one replica's records to another, as replication does, late and out of
 * order. Every state it yields is therefore a state the service can really hold.
 */
import fc from 'fast-check';
import { cartItems, type CartState } from '../../src/domain/cart.js';
import { activeDevice, deviceViews, newDevice, type DevicesState, type RevokeReason, type Seen } from '../../src/domain/devices.js';
import { historyItems, type HistoryState } from '../../src/domain/history.js';
import { HybridLogicalClock, type Hlc } from '../../src/domain/hlc.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/domain/limits.js';
import { applyOperation, type Operation, type OperationContext, type OperationOutcome } from '../../src/domain/operations.js';
import { EMPTY_PARTS, mergePart, type ChangeRecord, type PartName, type PartStates } from '../../src/domain/parts.js';
import { prefsObject, type Json, type JsonObject, type PrefsState } from '../../src/domain/prefs.js';
import type { SessionMeta } from '../../src/domain/session.js';

/**
 * A plain, key-sorted copy of a value, without `undefined` properties, so that
 * two states that mean the same compare deep-equal whatever their key order.
 * Built with `Object.fromEntries` so that an own `__proto__` key stays data.
 */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}

export const ORIGINS = ['eu', 'us', 'ap'] as const;
export const SESSION_ID = 'sess-1';
/** 2024-05-01T00:00:00Z: realistic epoch milliseconds. */
export const BASE_TIME = Date.UTC(2024, 4, 1);
export const IDLE_TIMEOUT_MS = 30 * 24 * 3600 * 1000;

/** Small limits so that short scenarios reach them (trimming, rejections). */
export const TEST_LIMITS: Limits = Object.freeze({
  ...DEFAULT_LIMITS,
  cartLines: 5,
  maxQuantity: 40,
  historyItems: 4,
  devices: 4,
  prefsBytes: 2048,
});

export function newMeta(now: number = BASE_TIME): SessionMeta {
  return {
    id: SESSION_ID,
    userId: 'user-1',
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: now + IDLE_TIMEOUT_MS,
    absoluteExpiresAt: now + 90 * 24 * 3600 * 1000,
    csrfSecret: 'csrf-secret',
  };
}

/** The session as created at sign-in: metadata and the first device 'd0'. */
export function initialParts(): PartStates {
  return {
    ...EMPTY_PARTS,
    meta: newMeta(),
    devices: { devices: { d0: newDevice({ name: 'laptop', kind: 'browser' }, 'hash-d0', BASE_TIME, hlcAt(BASE_TIME, 'eu')) } },
  };
}

export function hlcAt(wall: number, origin: string, counter = 0): Hlc {
  return `${wall.toString(16).padStart(12, '0')}.${counter.toString(16).padStart(4, '0')}.${origin}`;
}

export function ctxFor(origin: string, now: number, hlc: Hlc, limits: Limits = TEST_LIMITS): OperationContext {
  return { sessionId: SESSION_ID, now, hlc, origin, limits };
}

/** Joins records into parts, exactly as a store does. */
export function joinAll(parts: PartStates, records: readonly ChangeRecord[], limits: Limits = TEST_LIMITS): PartStates {
  let next = parts;
  for (const record of records) {
    next = { ...next, [record.part]: mergePart(record.part, next[record.part], record.state, limits.historyItems) };
  }
  return next;
}

/** A cart line by SKU, as data only: a SKU such as "constructor" is not Object.prototype's. */
export function lineOf(cart: CartState, sku: string): CartState['lines'][string] | undefined {
  return Object.hasOwn(cart.lines, sku) ? cart.lines[sku] : undefined;
}

/** What callers see of each part. */
export function views(parts: PartStates): unknown {
  return canonical({
    cart: cartItems(parts.cart),
    prefs: prefsObject(parts.prefs),
    history: historyItems(parts.history),
    devices: deviceViews(parts.devices, null),
    ended: parts.meta.endedAt,
  });
}

// ---------------------------------------------------------------------------
// Operations, as a caller would send them. Device operations name their target
// by an index into the devices the replica knows, so they stay meaningful.

export type Family = 'cart' | 'prefs' | 'history' | 'devices' | 'meta';

export type OpSpec =
  | { readonly family: 'direct'; readonly op: Operation }
  | { readonly family: 'history'; readonly productId: string; readonly ageMs: number }
  | { readonly family: 'device'; readonly kind: 'add' | 'rotate' | 'revoke' | 'seen'; readonly pick: number; readonly variant: number }
  | { readonly family: 'meta'; readonly kind: 'touch' | 'end' };

/** Ids that are also names on Object.prototype: they must stay plain data. */
export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'] as const;

/** Mostly a small pool (so that replicas collide), now and then any string. */
function idArb(prefix: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 1, max: 6 }).map((i) => `${prefix}-${i}`) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
  );
}

export const skuArb = idArb('sku');
export const productArb = idArb('prod');

const attributesArb: fc.Arbitrary<Record<string, unknown> | undefined> = fc.option(
  fc.record({ size: fc.constantFrom('S', 'M', 'L') }, { requiredKeys: [] }),
  { nil: undefined, freq: 3 },
);

function withAttributes<T extends object>(op: T, attributes: Record<string, unknown> | undefined): T {
  return attributes === undefined ? op : { ...op, attributes };
}

const cartOpArb: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(skuArb, fc.integer({ min: 1, max: 5 }), attributesArb).map(([sku, quantity, a]) => withAttributes({ kind: 'cart.add' as const, sku, quantity }, a)) },
  { weight: 2, arbitrary: fc.tuple(skuArb, fc.integer({ min: 0, max: 12 }), attributesArb).map(([sku, quantity, a]) => withAttributes({ kind: 'cart.set' as const, sku, quantity }, a)) },
  { weight: 2, arbitrary: skuArb.map((sku) => ({ kind: 'cart.remove' as const, sku })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'cart.clear' as const }) },
);

const scalarArb: fc.Arbitrary<Json> = fc.oneof(fc.constantFrom('dark', 'light', 'en', 'fr', 'EUR'), fc.integer({ min: -5, max: 50 }), fc.boolean());
const nestedPatchArb: fc.Arbitrary<Json> = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(scalarArb, fc.constant(null)), { maxKeys: 3 });
const prefKeyArb = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom('theme', 'lang', 'currency', 'layout', 'consent') },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
);
export const patchArb: fc.Arbitrary<JsonObject> = fc
  .array(fc.tuple(prefKeyArb, fc.oneof(scalarArb, fc.constant(null), nestedPatchArb, fc.array(scalarArb, { maxLength: 3 }))), { minLength: 1, maxLength: 3 })
  .map((entries) => Object.fromEntries(entries) as JsonObject);

const specArbs: Record<Family, fc.Arbitrary<OpSpec>> = {
  cart: cartOpArb.map((op) => ({ family: 'direct', op })),
  prefs: patchArb.map((patch) => ({ family: 'direct', op: { kind: 'prefs.patch', patch } })),
  history: fc.record({ productId: productArb, ageMs: fc.integer({ min: 0, max: 4_000 }) }).map((r) => ({ family: 'history', ...r })),
  devices: fc
    .record({ kind: fc.constantFrom('add', 'rotate', 'rotate', 'revoke', 'seen'), pick: fc.nat(7), variant: fc.nat(5) })
    .map((r) => ({ family: 'device', ...r })),
  meta: fc.oneof(
    { weight: 6, arbitrary: fc.constant({ family: 'meta', kind: 'touch' } as const) },
    { weight: 1, arbitrary: fc.constant({ family: 'meta', kind: 'end' } as const) },
  ),
};

export type Step =
  | { readonly kind: 'op'; readonly replica: number; readonly advanceMs: number; readonly spec: OpSpec }
  /** Delivers the first `count` records `from` holds (its log) to `to`, in that order. */
  | { readonly kind: 'sync'; readonly from: number; readonly to: number; readonly count: number };

export function stepsArb(families: readonly Family[], maxSteps = 30): fc.Arbitrary<Step[]> {
  const replica = fc.nat(ORIGINS.length - 1);
  const op: fc.Arbitrary<Step> = fc.record({
    kind: fc.constant('op' as const),
    replica,
    // Wall clocks mostly move forward, sometimes a little back (NTP steps).
    advanceMs: fc.integer({ min: -300, max: 2_000 }),
    spec: fc.oneof(...families.map((family) => specArbs[family])),
  });
  const sync: fc.Arbitrary<Step> = fc.record({ kind: fc.constant('sync' as const), from: replica, to: replica, count: fc.nat(40) });
  return fc.array(fc.oneof({ weight: 3, arbitrary: op }, { weight: 1, arbitrary: sync }), { minLength: 1, maxLength: maxSteps, size: 'max' });
}

export interface Replica {
  readonly origin: string;
  wall: number;
  readonly clock: HybridLogicalClock;
  state: PartStates;
  /** Every record this replica holds, own or received, in arrival order. */
  readonly log: ChangeRecord[];
}

export interface Simulation {
  readonly initial: PartStates;
  readonly replicas: readonly Replica[];
  /** Every record any replica produced, in the order produced. */
  readonly records: readonly ChangeRecord[];
  /** Operations refused by `applyOperation` (limits, unknown devices). */
  readonly rejected: number;
}

/** Skewed clocks: 'us' runs 700 ms behind 'eu', 'ap' 400 ms ahead. */
const CLOCK_SKEW_MS = [0, -700, 400] as const;

function newReplica(origin: string, index: number, initial: PartStates): Replica {
  let wall = BASE_TIME + 1_000 + (CLOCK_SKEW_MS[index] ?? 0);
  return {
    origin,
    get wall() {
      return wall;
    },
    set wall(value: number) {
      wall = value;
    },
    clock: new HybridLogicalClock(origin, () => wall),
    state: initial,
    log: [],
  };
}

const SEEN: readonly Seen[] = [{ ip: '203.0.113.0' }, { country: 'DE' }, { ip: '2001:db8::', country: 'US-CA' }, { ip: '198.51.100.0', country: 'FR' }];
const REASONS: readonly (RevokeReason | undefined)[] = [undefined, 'logout', 'revoked', 'reuse', 'admin', 'merged:guest-1'];

function resolve(spec: OpSpec, replica: Replica, serial: number): Operation | { touch: true } | { seen: { deviceId: string; at: Seen } } {
  switch (spec.family) {
    case 'direct':
      return spec.op;
    case 'history':
      return { kind: 'history.add', productId: spec.productId, viewedAt: replica.wall - spec.ageMs };
    case 'meta':
      return spec.kind === 'end' ? { kind: 'session.end' } : { touch: true };
    case 'device': {
      const deviceId = `${replica.origin}-d${serial}`;
      const v = spec.variant;
      if (spec.kind === 'add') {
        // Now and then with a level, a transient sign-in, or ending the least recently active device at the limit.
        const auth = {
          ...(v % 2 === 1 ? { authLevel: ['pwd', 'otp', 'webauthn'][v % 3]! } : {}),
          ...(v >= 3 ? { transient: { idleTimeoutMs: 3_600_000, absoluteExpiresAt: replica.wall + 86_400_000 } } : {}),
        };
        return { kind: 'device.add', deviceId, label: { name: deviceId, kind: 'app', ...(v === 2 ? { country: 'NL' } : {}) }, hash: `hash-${deviceId}`, auth, ...(v >= 2 ? { atLimit: 'end-least-recent' as const } : {}) };
      }
      const known = Object.keys(replica.state.devices.devices).sort();
      const target = known[spec.pick % known.length] ?? 'd0';
      if (spec.kind === 'seen') return { seen: { deviceId: target, at: SEEN[v % SEEN.length]! } };
      if (spec.kind === 'rotate') {
        const reauth = v === 0 ? {} : v === 1 ? { authLevel: 'otp' } : undefined;
        return { kind: 'device.rotate', deviceId: target, hash: `hash-${replica.origin}-${serial}`, graceMs: 5_000, ...(reauth ? { reauth } : {}) };
      }
      const reason = REASONS[v];
      return { kind: 'device.revoke', deviceId: target, ...(reason ? { reason } : {}) };
    }
  }
}

/** Slides the idle deadline, as a store does on activity; the record carries the whole meta state. */
function touchRecord(replica: Replica, hlc: Hlc): ChangeRecord {
  const meta = replica.state.meta;
  const state: SessionMeta = {
    ...meta,
    lastActiveAt: Math.max(meta.lastActiveAt, replica.wall),
    idleExpiresAt: Math.max(meta.idleExpiresAt, Math.min(replica.wall + IDLE_TIMEOUT_MS, meta.absoluteExpiresAt)),
  };
  return { sessionId: SESSION_ID, part: 'meta', state, hlc, origin: replica.origin };
}

export function simulate(steps: readonly Step[], limits: Limits = TEST_LIMITS): Simulation {
  const initial = initialParts();
  const replicas = ORIGINS.map((origin, i) => newReplica(origin, i, initial));
  const records: ChangeRecord[] = [];
  let rejected = 0;
  steps.forEach((step, serial) => {
    if (step.kind === 'sync') {
      const from = replicas[step.from]!;
      const to = replicas[step.to]!;
      const batch = from.log.slice(0, step.count);
      for (const record of batch) to.clock.observe(record.hlc);
      to.state = joinAll(to.state, batch, limits);
      to.log.push(...batch.filter((r) => !to.log.includes(r)));
      return;
    }
    const replica = replicas[step.replica]!;
    replica.wall += step.advanceMs;
    const hlc = replica.clock.now();
    const op = resolve(step.spec, replica, serial);
    let produced: readonly ChangeRecord[];
    if ('touch' in op) {
      produced = [touchRecord(replica, hlc)];
    } else if ('seen' in op) {
      // Activity of a device, seen from somewhere (as a store records it).
      const device = replica.state.devices.devices[op.seen.deviceId];
      if (device === undefined || device.revokedAt !== undefined) return;
      produced = [{ sessionId: SESSION_ID, part: 'devices', state: { devices: { [op.seen.deviceId]: activeDevice(device, replica.wall, op.seen.at) } }, hlc, origin: replica.origin }];
    } else {
      const outcome = applyOperation(replica.state, op, ctxFor(replica.origin, replica.wall, hlc, limits));
      if (!outcome.ok) {
        rejected += 1;
        return;
      }
      produced = outcome.records;
    }
    replica.state = joinAll(replica.state, produced, limits);
    replica.log.push(...produced);
    records.push(...produced);
  });
  return { initial, replicas, records, rejected };
}

/** States of one part that a simulation yields: each replica's, and every record's (deltas are states). */
export function statesOf<P extends PartName>(sim: Simulation, part: P): PartStates[P][] {
  return [
    ...sim.replicas.map((r) => r.state[part]),
    ...sim.records.filter((r) => r.part === part).map((r) => r.state as PartStates[P]),
  ];
}

/**
 * One region in an example test: its own state, wall clock and HLC. `do` applies
 * an operation and returns its records; `receive` joins records from elsewhere.
 */
export class Region {
  state: PartStates;
  wall: number;
  readonly clock: HybridLogicalClock;

  constructor(
    readonly origin: string,
    state: PartStates = initialParts(),
    wall: number = BASE_TIME + 1_000,
    readonly limits: Limits = TEST_LIMITS,
  ) {
    this.state = state;
    this.wall = wall;
    this.clock = new HybridLogicalClock(origin, () => this.wall);
  }

  /** A region that starts from this one's state (a fully replicated peer). */
  peer(origin: string, wallOffsetMs = 0): Region {
    const peer = new Region(origin, this.state, this.wall + wallOffsetMs, this.limits);
    peer.clock.observe(this.clock.now());
    return peer;
  }

  try(op: Operation, advanceMs = 1): OperationOutcome {
    this.wall += advanceMs;
    const outcome = applyOperation(this.state, op, ctxFor(this.origin, this.wall, this.clock.now(), this.limits));
    if (outcome.ok) this.state = joinAll(this.state, outcome.records, this.limits);
    return outcome;
  }

  do(op: Operation, advanceMs = 1): readonly ChangeRecord[] {
    const outcome = this.try(op, advanceMs);
    if (!outcome.ok) throw new Error(`${op.kind} refused on ${this.origin}: ${outcome.code} ${outcome.detail}`);
    return outcome.records;
  }

  receive(...batches: (readonly ChangeRecord[])[]): this {
    for (const records of batches) {
      for (const record of records) this.clock.observe(record.hlc);
      this.state = joinAll(this.state, records, this.limits);
    }
    return this;
  }
}

/** A copy of `items` in a random order, with random duplicates, drawn from `g`. */
export function shuffledWithDuplicates<T>(g: fc.GeneratorValue, items: readonly T[]): T[] {
  const pool = [...items, ...items.filter(() => g(fc.boolean))];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = g(fc.nat, i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool;
}

export type { CartState, DevicesState, HistoryState, PrefsState };
