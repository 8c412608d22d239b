/**
 * The stream layout and consistency tokens of the global mode, and the
 * configuration that turns it on: pure functions, no NATS.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { allStreams, decodeChange, encodeChange, formatToken, parseToken, shardOf, streamName, subjectOf, type StreamRef } from '../../src/replication/layout.js';

describe('stream layout', () => {
  test('a fixed number of streams per origin region and class, never one per session', () => {
    const streams = allStreams(['eu', 'us', 'ap'], 4);
    assert.equal(streams.length, 3 * 2 * 4);
    assert.equal(new Set(streams.map(streamName)).size, streams.length);
    assert.deepEqual(streams.slice(0, 2).map(streamName), ['TESSERA_G_eu_0', 'TESSERA_G_eu_1']);
    assert.equal(subjectOf({ origin: 'us', durability: 'regional', shard: 3 }), 'tessera.r.us.3');
  });

  test('a session always goes to one shard, and sessions spread over all of them', () => {
    fc.assert(fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 64 }), (id, shards) => shardOf(id, shards) === shardOf(id, shards) && shardOf(id, shards) < shards));
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8_000; i += 1) counts[shardOf(`session-${i}`, 8)]! += 1;
    for (const count of counts) assert.ok(count > 800 && count < 1_200, `shard sizes ${counts.join(', ')}`);
  });

  test('a change travels as JSON and comes back equal; anything else is refused', () => {
    const change = { sessionId: 's', hlc: '01.0.eu.n', origin: 'eu', records: [{ sessionId: 's', part: 'history' as const, state: { items: { p: 1 } }, hlc: '01.0.eu.n', origin: 'eu' }] };
    assert.deepEqual(decodeChange(encodeChange(change)), change);
    assert.throws(() => decodeChange(new TextEncoder().encode('{"hello":1}')), TypeError);
  });
});

describe('consistency tokens', () => {
  test('name the stream and sequence a change was stored at, and read back', () => {
    const ref: StreamRef = { origin: 'eu-west_1', durability: 'global', shard: 12 };
    assert.equal(formatToken(ref, 4321), 'eu-west_1.g.12.4321');
    assert.deepEqual(parseToken('eu-west_1.g.12.4321'), { ref, sequence: 4321 });
    assert.deepEqual(parseToken('us.r.0.7'), { ref: { origin: 'us', durability: 'regional', shard: 0 }, sequence: 7 });
  });

  test('anything else is no token (a read then waits for nothing)', () => {
    for (const junk of ['', 'eu', 'eu.x.1.2', 'eu.g.1', 'eu.g.1.2.3', 'eu.g.a.2', `${'r'.repeat(33)}.g.1.2`, 'eu.g.1.99999999999999999']) {
      assert.equal(parseToken(junk), null, junk);
    }
  });
});

describe('global mode configuration', () => {
  const BASE = { TESSERA_API_KEYS: 'app:0123456789abcdef0123', TESSERA_REGION: 'eu' };
  const refused = (env: Record<string, string>, variable: string, message: RegExp): void => {
    assert.throws(() => loadConfig({ ...BASE, ...env }), (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message));
  };

  test('without TESSERA_NATS_URL the service runs single-region', () => {
    assert.equal(loadConfig(BASE).replication, null);
  });

  test('with it: every region named, this one among them, this region’s servers first', () => {
    const config = loadConfig({ ...BASE, TESSERA_NATS_URL: 'eu-nats:4222, nats://us-nats:4222', TESSERA_REGIONS: 'eu,us,ap', TESSERA_GLOBAL_PARTS: 'cart' });
    assert.deepEqual(config.replication?.natsUrls, ['nats://eu-nats:4222', 'nats://us-nats:4222']);
    assert.deepEqual(config.replication?.regions, ['eu', 'us', 'ap']);
    assert.deepEqual(config.replication?.globalParts, ['cart']);
    assert.equal(config.replication?.shards, 4);
  });

  test('a region missing, named twice or not this one, a part that is not data, a bad address: start-up stops naming the variable', () => {
    const nats = { TESSERA_NATS_URL: 'nats://127.0.0.1:4222' };
    refused(nats, 'TESSERA_REGIONS', /every region/);
    refused({ ...nats, TESSERA_REGIONS: 'eu' }, 'TESSERA_REGIONS', /at least two/);
    refused({ ...nats, TESSERA_REGIONS: 'eu,us,eu' }, 'TESSERA_REGIONS', /twice/);
    refused({ ...nats, TESSERA_REGIONS: 'us,ap' }, 'TESSERA_REGION', /not one of TESSERA_REGIONS/);
    refused({ ...nats, TESSERA_REGIONS: 'eu,us', TESSERA_GLOBAL_PARTS: 'devices' }, 'TESSERA_GLOBAL_PARTS', /always global/);
    refused({ TESSERA_NATS_URL: 'http://x:1', TESSERA_REGIONS: 'eu,us' }, 'TESSERA_NATS_URL', /not a NATS server address/);
    refused({ ...nats, TESSERA_REGIONS: 'eu,us', TESSERA_STREAM_SHARDS: '0' }, 'TESSERA_STREAM_SHARDS', /from 1 to 64/);
    refused({ ...nats, TESSERA_REGIONS: 'eu,us', TESSERA_NATS_MONITOR_URLS: 'nats://x:8222' }, 'TESSERA_NATS_MONITOR_URLS', /http/);
  });
});
