/**
 * What the conformance suites share: settings, a store per suite, sign-in and
 * call helpers. Times are real (Date.now() based) because the Redis engines
 * hand deadlines to Redis, which expires keys by its own clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { newDevice, type DeviceAuthOptions, type DeviceLabel } from '../../../src/domain/devices.js';
import { HybridLogicalClock } from '../../../src/domain/hlc.js';
import { DEFAULT_LIMITS, type Limits } from '../../../src/domain/limits.js';
import type { DeviceLimitAction, Operation } from '../../../src/domain/operations.js';
import type { SessionMeta } from '../../../src/domain/session.js';
import type {
  ApplyResult,
  Caller,
  CreateResult,
  LoadedSession,
  SessionStore,
  StoreSettings,
} from '../../../src/store/session-store.js';
import { newDeviceId, newSessionId } from '../../../src/tokens/session-token.js';

/**
 * Opens a store. Stores opened with the same `place` share their data — a
 * node restarted, or two nodes of one region — and stores of different places
 * are different regions; without a place, a store of its own.
 */
export type StoreFactory = (settings: StoreSettings, place?: string) => Promise<SessionStore>;

export const IDLE_MS = 60_000;
export const ABSOLUTE_MS = 3_600_000;
export const ORIGIN = 'eu';

export const SMALL_LIMITS: Limits = {
  ...DEFAULT_LIMITS,
  cartLines: 3,
  maxQuantity: 10,
  prefsBytes: 100,
  historyItems: 5,
  devices: 3,
};

/** The replication horizon of the suite: how long ended and expired sessions are kept. */
export const HORIZON_MS = 60_000;
/** The feed consumer every suite's store is built with (the feed is on). */
export const CONSUMER = 'replication';

/** Settings of a suite's store; activity is recorded on every call unless `slideAfterMs` says otherwise. */
export function settings(limits: Partial<Limits> = {}, idleTimeoutMs = IDLE_MS, overrides: Partial<StoreSettings> = {}): StoreSettings {
  return {
    idleTimeoutMs,
    slideAfterMs: 0,
    limits: { ...DEFAULT_LIMITS, ...limits },
    origin: ORIGIN,
    horizonMs: HORIZON_MS,
    feedConsumers: [CONSUMER],
    ...overrides,
  };
}

/** Opens a store before the enclosing suite's tests and closes it after them. */
export function useStore(makeStore: StoreFactory, storeSettings: StoreSettings = settings(), place?: string): () => SessionStore {
  let store: SessionStore | undefined;
  before(async () => {
    store = await makeStore(storeSettings, place);
  });
  after(async () => {
    await store?.close();
  });
  return () => {
    assert.ok(store, 'the store is open');
    return store;
  };
}

const clock = new HybridLogicalClock('conformance');
export const stamp = (): string => clock.now();

export const admin: Caller = { kind: 'admin' };

export function randomHash(): string {
  return randomBytes(32).toString('base64url');
}

export interface SignedIn {
  readonly id: string;
  readonly deviceId: string;
  readonly hash: string;
  readonly caller: Caller;
  readonly meta: SessionMeta;
  readonly result: CreateResult;
}

export interface SignInOptions {
  readonly userId?: string | null;
  readonly now?: number;
  readonly idleMs?: number;
  readonly absoluteMs?: number;
  readonly label?: DeviceLabel;
  readonly auth?: DeviceAuthOptions;
  readonly atDeviceLimit?: DeviceLimitAction;
}

/** Creates a session (or joins the user's) as the service does at sign-in. */
export async function signIn(store: SessionStore, options: SignInOptions = {}): Promise<SignedIn> {
  const now = options.now ?? Date.now();
  const absoluteMs = options.absoluteMs ?? ABSOLUTE_MS;
  const meta: SessionMeta = {
    id: newSessionId(),
    userId: options.userId ?? null,
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: Math.min(now + (options.idleMs ?? IDLE_MS), now + absoluteMs),
    absoluteExpiresAt: now + absoluteMs,
    csrfSecret: randomBytes(32).toString('base64url'),
  };
  const deviceId = newDeviceId();
  const hash = randomHash();
  const hlc = stamp();
  const device = newDevice(options.label ?? {}, hash, now, hlc, options.auth);
  const atDeviceLimit = options.atDeviceLimit === undefined ? {} : { atDeviceLimit: options.atDeviceLimit };
  const result = await store.create({ meta, deviceId, device, ...atDeviceLimit }, { now, hlc });
  const id = result.status === 'rejected' ? meta.id : result.session.meta.id;
  // The store stamps the session with the largest stamp it has seen: the creation's.
  return { id, deviceId, hash, caller: { kind: 'device', deviceId, tokenHash: hash }, meta: { ...meta, t: hlc }, result };
}

export async function applied(
  store: SessionStore,
  sessionId: string,
  caller: Caller,
  op: Operation,
  now: number = Date.now(),
  ifVersion?: string,
): Promise<Extract<ApplyResult, { status: 'applied' }>> {
  const result = await store.apply(sessionId, caller, op, ifVersion === undefined ? { now, hlc: stamp() } : { now, hlc: stamp(), ifVersion });
  assert.equal(result.status, 'applied', `${op.kind} should apply, got ${JSON.stringify(result)}`);
  return result as Extract<ApplyResult, { status: 'applied' }>;
}

export async function loadAll(store: SessionStore, sessionId: string, now: number = Date.now()): Promise<LoadedSession> {
  const session = await store.load(sessionId, ['cart', 'prefs', 'history', 'devices'], now);
  assert.ok(session, `session ${sessionId} should be live`);
  return session;
}

/** The parts' states, without metadata: what two converged sessions must share. */
export function dataOf(session: LoadedSession): Pick<LoadedSession, 'devices' | 'cart' | 'prefs' | 'history'> {
  return { devices: session.devices, cart: session.cart, prefs: session.prefs, history: session.history };
}

/** A deterministic pseudo-random generator (mulberry32), so a failing sequence can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}
