/**
 * The bench's inputs and arithmetic: the generated data set, the request mix,
 * the Zipf popularity, the HdrHistogram percentiles and the capacity model.
 * (The measurements themselves are `npm run bench`'s, never asserted on here.)
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CART_LINES, MAX_HISTORY, MAX_SESSION_BYTES, MIN_SESSION_BYTES, generateSession } from '../../bench/dataset/generator.js';
import { WorkloadSampler, READ_PATH, type Op } from '../../bench/load/workload.js';
import { Rng, Zipf } from '../../bench/lib/rng.js';
import { encode, mergeEncoded, newHistogram, recordMs, shareOverMs, summarize } from '../../bench/lib/histogram.js';
import { ASSUMPTIONS, capacityModel } from '../../bench/report/capacity.js';

describe('the bench data set', () => {
  const sessions = Array.from({ length: 2_000 }, (_, i) => generateSession(20261129, i, Date.UTC(2026, 11, 4)));

  test('sessions of 2–8 KB: cart 1–20 lines, up to 100 viewed products, 1–3 devices, every size and count reached', () => {
    const public_ = (s: (typeof sessions)[number]) => JSON.stringify({ cart: { items: s.cart }, prefs: s.prefs, devices: s.devices, history: { items: s.history } }).length;
    for (const s of sessions) {
      assert.ok(s.cart.length >= 1 && s.cart.length <= MAX_CART_LINES, `cart of ${s.cart.length} lines`);
      assert.ok(s.history.length <= MAX_HISTORY);
      assert.ok(s.devices.length >= 1 && s.devices.length <= 3);
      assert.equal(new Set(s.cart.map((line) => line.sku)).size, s.cart.length, 'one line per SKU');
      // The last history entry may carry a session a few dozen bytes past its drawn size.
      assert.ok(public_(s) >= MIN_SESSION_BYTES && public_(s) <= MAX_SESSION_BYTES + 128, `session of ${public_(s)} bytes`);
    }
    assert.deepEqual(new Set(sessions.map((s) => s.devices.length)), new Set([1, 2, 3]));
    assert.equal(Math.max(...sessions.map((s) => s.cart.length)), MAX_CART_LINES);
    assert.equal(Math.max(...sessions.map((s) => s.history.length)), MAX_HISTORY);
    const sizes = sessions.map(public_).sort((a, b) => a - b);
    assert.ok(sizes[100]! < 3_000 && sizes[1_900]! > 7_000, 'sizes spread over the whole range');
  });

  test('is the same for the same seed and index, whatever the time', () => {
    const again = generateSession(20261129, 17, Date.UTC(2027, 0, 1));
    assert.deepEqual(again.cart, sessions[17]!.cart);
    assert.deepEqual(again.prefs, sessions[17]!.prefs);
    assert.notDeepEqual(generateSession(7, 17).cart, sessions[17]!.cart);
  });
});

describe('the request mix', () => {
  const credentials = Array.from({ length: 1_000 }, (_, i) => `token-${i}`);
  const config = { apiKey: 'k', credentialHeader: 'tessera-token', credentials, zipfS: 0.99, popularitySeed: 3, loginPrefix: 'bench' };

  test('read-heavy: 90 % read, 5 % cart add, 3 % history, 2 % prefs, each request carrying the key and a seeded credential', () => {
    const sampler = new WorkloadSampler({ ...config, mix: 'read-heavy' }, new Rng(11));
    const counts: Partial<Record<Op, number>> = {};
    const n = 40_000;
    for (let i = 0; i < n; i++) {
      const request = sampler.next();
      counts[request.op] = (counts[request.op] ?? 0) + 1;
      assert.equal(request.headers['authorization'], 'Bearer k');
      assert.ok(credentials.includes(request.headers['tessera-token']!));
      if (request.op === 'read') assert.equal(request.path, READ_PATH);
      else assert.ok(request.body !== undefined && request.headers['content-type'] !== undefined);
    }
    const share = (op: Op) => (counts[op] ?? 0) / n;
    assert.ok(Math.abs(share('read') - 0.9) < 0.01, `read ${share('read')}`);
    assert.ok(Math.abs(share('cart-add') - 0.05) < 0.006, `cart add ${share('cart-add')}`);
    assert.ok(Math.abs(share('history-append') - 0.03) < 0.005, `history ${share('history-append')}`);
    assert.ok(Math.abs(share('prefs-patch') - 0.02) < 0.004, `prefs ${share('prefs-patch')}`);
  });

  test('logins create a new user each, without credentials', () => {
    const sampler = new WorkloadSampler({ ...config, mix: 'login' }, new Rng(1));
    const bodies = Array.from({ length: 50 }, () => sampler.next());
    assert.ok(bodies.every((r) => r.method === 'POST' && r.path === '/v1/sessions' && r.headers['tessera-token'] === undefined));
    assert.equal(new Set(bodies.map((r) => (JSON.parse(r.body!) as { userId: string }).userId)).size, 50);
  });
});

describe('Zipf popularity', () => {
  test('the hottest of 100 000 items gets its 1/H(n,s) share, and popularity is scattered over the indexes', () => {
    const zipf = new Zipf(100_000, 0.99, 5);
    let harmonic = 0;
    for (let r = 1; r <= 100_000; r++) harmonic += 1 / Math.pow(r, 0.99);
    assert.ok(Math.abs(zipf.hottestShare - 1 / harmonic) < 1e-9);
    const rng = new Rng(9);
    const counts = new Map<number, number>();
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const index = zipf.sample(rng);
      counts.set(index, (counts.get(index) ?? 0) + 1);
    }
    const [hottest, hits] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    assert.ok(Math.abs(hits / n - zipf.hottestShare) < 0.005, `hottest share ${hits / n}`);
    assert.notEqual(hottest, 0, 'rank 1 is not simply the first index');
    assert.ok(counts.size > 20_000 && counts.size < 100_000, `${counts.size} distinct items drawn`);
  });
});

describe('latency histograms', () => {
  test('percentiles within 0.1 % of the exact values, also after merging encoded histograms from workers', () => {
    const a = newHistogram();
    const b = newHistogram();
    for (let ms = 1; ms <= 1_000; ms++) recordMs(ms % 2 === 0 ? a : b, ms);
    const merged = summarize(mergeEncoded([encode(a), encode(b)]));
    assert.equal(merged.count, 1_000);
    for (const [got, exact] of [[merged.p50, 500], [merged.p90, 900], [merged.p99, 990], [merged.p999, 999], [merged.max, 1_000]] as const) {
      assert.ok(Math.abs(got - exact) / exact <= 0.001, `${got} vs ${exact}`);
    }
    assert.ok(Math.abs(merged.mean - 500.5) < 0.5);
    assert.equal(summarize(newHistogram()).count, 0);
  });

  test('the share over a threshold matches a count of the recorded values', () => {
    const rng = new Rng(7);
    for (let round = 0; round < 20; round++) {
      const h = newHistogram();
      const values: number[] = [];
      const n = 1 + Math.floor(rng.next() * 5_000);
      // Mostly fast, a tail of slow ones, as a phase with a stall.
      for (let i = 0; i < n; i++) values.push(rng.next() < 0.97 ? 0.2 + rng.next() * 5 : 20 + rng.next() * 100);
      for (const ms of values) recordMs(h, ms);
      for (const threshold of [1, 5, 25, 50, 200]) {
        const exact = values.filter((ms) => ms > threshold).length / n;
        // HdrHistogram keeps 3 significant digits: values within 0.1 % of the threshold may land on either side.
        const near = values.filter((ms) => Math.abs(ms - threshold) <= threshold * 0.001).length / n;
        assert.ok(Math.abs(shareOverMs(h, threshold) - exact) <= near + 1e-6, `round ${round}, ${threshold} ms: ${shareOverMs(h, threshold)} vs ${exact}`);
      }
    }
    assert.equal(shareOverMs(newHistogram(), 25), 0);
  });
});

describe('the capacity model', () => {
  const inputs = {
    apiUs: { reads: 100, mutations: 300, logins: 1_000 },
    redisUs: { reads: 10, mutations: 40, logins: 50 },
    bytesPerSession: 4_096,
    source: 'test',
  };

  test('sizes each region for its peak or for the loss of the worst other region, whichever is more', () => {
    const model = capacityModel(inputs);
    // 0.89·100 + 0.10·300 + 0.01·1000 µs per request.
    assert.equal(model.apiUsPerRequest, 129);
    assert.equal(model.redisUsPerRequest, 13.4);
    const first = model.regions[0]!;
    assert.equal(first.peakRps, 400_000);
    // Losing the 35 % region sends 0.4 / 0.65 of the traffic here.
    assert.equal(first.degradedRps, 615_385);
    // max(400k·129 µs / 0.6, 615k·129 µs / 0.85) / 0.85 usable → 110 cores.
    assert.equal(first.apiCores, 110);
    // 500 M × 4 KiB over 25 GiB masters: memory, not CPU, sets the shards.
    assert.equal(first.mastersForMemory, 77);
    assert.equal(first.mastersForCpu, 22);
    assert.equal(first.redisNodes, 154);
    assert.deepEqual(model.regions.map((r) => r.apiCores), [110, 105, 75]);
    assert.equal(model.totals.apiCores, 290);
    assert.equal(model.totals.redisNodes, 462);
    assert.equal(model.totals.normalApiCores, 26);
  });

  test('CPU sets the shards once requests cost Redis enough', () => {
    const heavy = capacityModel({ ...inputs, redisUs: { reads: 100, mutations: 400, logins: 500 } });
    assert.ok(heavy.regions[0]!.mastersForCpu > heavy.regions[0]!.mastersForMemory);
    assert.equal(heavy.regions[0]!.masters, heavy.regions[0]!.mastersForCpu);
    assert.equal(ASSUMPTIONS.regionShares.reduce((s, x) => s + x, 0), 1);
  });
});
