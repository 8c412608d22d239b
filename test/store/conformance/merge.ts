/** Joining change records (guest merge at sign-in, replication): order, duplicates, creation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantityOf, rebaseCart } from '../../../src/domain/cart.js';
import { HybridLogicalClock } from '../../../src/domain/hlc.js';
import { applyOperation, type Operation } from '../../../src/domain/operations.js';
import { mergePart, type ChangeRecord, type PartStates } from '../../../src/domain/parts.js';
import type { SessionMeta } from '../../../src/domain/session.js';
import type { LoadedSession, SessionStore } from '../../../src/store/session-store.js';
import { newSessionId } from '../../../src/tokens/session-token.js';
import {
  applied,
  dataOf,
  loadAll,
  random,
  randomHash,
  settings,
  signIn,
  SMALL_LIMITS,
  useStore,
  type StoreFactory,
} from './support.js';

const LIMITS = { ...SMALL_LIMITS, cartLines: 50, prefsBytes: 16_384, devices: 10 };

/** Records another region ('us') would send for a session in this state, made by the reference rules. */
function remoteRecords(start: LoadedSession, now: number): ChangeRecord[] {
  const clock = new HybridLogicalClock('us', () => now);
  let state: PartStates = {
    meta: start.meta,
    devices: start.devices,
    cart: start.cart!,
    prefs: start.prefs!,
    history: start.history!,
  };
  const records: ChangeRecord[] = [];
  const ops: Operation[] = [
    { kind: 'cart.add', sku: 'X', quantity: 2, attributes: { size: 'S' } },
    { kind: 'cart.add', sku: 'Y', quantity: 1 },
    { kind: 'cart.set', sku: 'X', quantity: 5, attributes: { size: 'M' } },
    { kind: 'cart.remove', sku: 'Y' },
    { kind: 'cart.add', sku: 'SHARED', quantity: 3 },
    { kind: 'prefs.patch', patch: { theme: 'dark', layout: { cols: 2 } } },
    { kind: 'prefs.patch', patch: { layout: { rows: 4 }, lang: 'fr', theme: null } },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'].map((productId, i): Operation => ({ kind: 'history.add', productId, viewedAt: now - 100 + i * 7 })),
    { kind: 'history.add', productId: 'h2', viewedAt: now - 1 },
    { kind: 'device.add', deviceId: 'remote-device', label: { name: 'tablet' }, hash: randomHash() },
    { kind: 'device.rotate', deviceId: 'remote-device', hash: randomHash(), graceMs: 1000 },
  ];
  for (const op of ops) {
    const outcome = applyOperation(state, op, { sessionId: start.meta.id, now, hlc: clock.now(), origin: 'us', limits: LIMITS });
    assert.ok(outcome.ok, `${op.kind} applies in the reference`);
    for (const record of outcome.records) {
      records.push(record);
      state = { ...state, [record.part]: mergePart(record.part, state[record.part], record.state, LIMITS.historyItems) };
    }
  }
  return records;
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const next = random(seed);
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function retarget(records: readonly ChangeRecord[], sessionId: string): ChangeRecord[] {
  return records.map((r) => ({ ...r, sessionId }));
}

/** The reference join of records into a loaded session's parts. */
function referenceJoin(start: LoadedSession, records: readonly ChangeRecord[]): ReturnType<typeof dataOf> {
  let parts = dataOf(start) as Required<ReturnType<typeof dataOf>>;
  for (const r of records) {
    if (r.part === 'meta') continue;
    parts = { ...parts, [r.part]: mergePart(r.part, parts[r.part] as never, r.state as never, LIMITS.historyItems) };
  }
  return parts;
}

async function withLocalWrites(store: SessionStore): Promise<{ id: string; start: LoadedSession }> {
  const s = await signIn(store);
  await applied(store, s.id, s.caller, { kind: 'cart.add', sku: 'SHARED', quantity: 1 });
  await applied(store, s.id, s.caller, { kind: 'prefs.patch', patch: { theme: 'light', local: true } });
  await applied(store, s.id, s.caller, { kind: 'history.add', productId: 'h3', viewedAt: Date.now() });
  return { id: s.id, start: await loadAll(store, s.id) };
}

export function mergeSuite(makeStore: StoreFactory): void {
  describe('merging change records', () => {
    const store = useStore(makeStore, settings(LIMITS));

    it('joins records in any order, with duplicates, to the reference state', async () => {
      const a = await withLocalWrites(store());
      const b = await withLocalWrites(store());
      const records = remoteRecords(a.start, Date.now());
      await store().merge(retarget(shuffled([...records, ...records.slice(0, 5)], 1), a.id), Date.now());
      await store().merge(retarget([...records].reverse(), b.id), Date.now());
      await store().merge(retarget(shuffled(records, 2), b.id), Date.now());
      const loadedA = dataOf(await loadAll(store(), a.id));
      const loadedB = dataOf(await loadAll(store(), b.id));
      // Both sessions started alike but for device ids and stamps; compare what the records decide.
      assert.deepEqual(loadedA.cart, referenceJoin(a.start, records).cart);
      assert.deepEqual(loadedA.prefs, referenceJoin(a.start, records).prefs);
      assert.deepEqual(loadedA.history, referenceJoin(a.start, records).history);
      assert.deepEqual(loadedA.devices, referenceJoin(a.start, records).devices);
      assert.deepEqual(loadedB.cart, referenceJoin(b.start, records).cart);
      assert.deepEqual(loadedB.history, referenceJoin(b.start, records).history);
      assert.deepEqual(loadedB.devices, referenceJoin(b.start, records).devices);
      assert.deepEqual(loadedB.prefs, referenceJoin(b.start, records).prefs);
      assert.equal(quantityOf(loadedA.cart!.lines.SHARED), 4);
    });

    it('merging the same records again changes nothing', async () => {
      const a = await withLocalWrites(store());
      const records = retarget(remoteRecords(a.start, Date.now()), a.id);
      await store().merge(records, Date.now());
      const once = dataOf(await loadAll(store(), a.id));
      await store().merge(shuffled(records, 3), Date.now());
      assert.deepEqual(dataOf(await loadAll(store(), a.id)), once);
    });

    it('moves the version of each part it changed, and of no other', async () => {
      const a = await withLocalWrites(store());
      const cartOnly = retarget(remoteRecords(a.start, Date.now()), a.id).filter((r) => r.part === 'cart');
      await store().merge(cartOnly, Date.now());
      const after = await loadAll(store(), a.id);
      assert.notEqual(after.versions.cart, a.start.versions.cart);
      assert.equal(after.versions.prefs, a.start.versions.prefs);
      assert.equal(after.versions.history, a.start.versions.history);
      assert.equal(after.versions.devices, a.start.versions.devices);
    });

    it("a guest's rebased cart adds to the user's quantities, once however often it is merged", async () => {
      const user = await signIn(store(), { userId: `buyer-${Math.random()}` });
      const guest = await signIn(store());
      await applied(store(), user.id, user.caller, { kind: 'cart.add', sku: 'A', quantity: 2 });
      const guestCart = (await applied(store(), guest.id, guest.caller, { kind: 'cart.add', sku: 'A', quantity: 3 })).session.cart!;
      const record: ChangeRecord = { sessionId: user.id, part: 'cart', state: rebaseCart(guestCart, `guest-${guest.id}`), hlc: 'x', origin: 'eu' };
      await store().merge([record], Date.now());
      await store().merge([record], Date.now());
      assert.equal(quantityOf((await loadAll(store(), user.id)).cart!.lines.A), 5);
    });

    it('creates an absent session from its metadata record, and indexes its user', async () => {
      const now = Date.now();
      const userId = `replicated-${Math.random()}`;
      const meta: SessionMeta = {
        id: newSessionId(),
        userId,
        createdAt: now,
        lastActiveAt: now,
        idleExpiresAt: now + 60_000,
        absoluteExpiresAt: now + 600_000,
        csrfSecret: 'secret',
      };
      const base = { sessionId: meta.id, hlc: 'h', origin: 'us' };
      await store().merge(
        [
          { ...base, part: 'cart', state: { lines: { A: { n: { us: [2, 0] }, at: now } } } },
          { ...base, part: 'meta', state: meta },
        ],
        now,
      );
      const loaded = await loadAll(store(), meta.id, now);
      assert.deepEqual(loaded.meta, { ...meta, t: 'h' });
      assert.equal(quantityOf(loaded.cart!.lines.A), 2);
      assert.equal(await store().findUserSession(userId, now), meta.id);
    });

    it('drops records of an absent session that come without live metadata', async () => {
      const now = Date.now();
      const id = newSessionId();
      const base = { sessionId: id, hlc: 'h', origin: 'us' };
      const meta: SessionMeta = {
        id, userId: null, createdAt: now - 10, lastActiveAt: now - 10, idleExpiresAt: now - 1, absoluteExpiresAt: now + 1000, csrfSecret: 's',
      };
      await store().merge([{ ...base, part: 'history', state: { items: { p: now } } }], now);
      assert.equal(await store().load(id, [], now), null);
      await store().merge([{ ...base, part: 'meta', state: meta }], now);
      assert.equal(await store().load(id, [], now), null);
      await store().merge([{ ...base, part: 'meta', state: { ...meta, idleExpiresAt: now + 1000, endedAt: now - 5 } }], now);
      assert.equal(await store().load(id, [], now), null);
    });
  });
}
