/**
 * The Lua twins of the domain, held to the TypeScript definitions entry by
 * entry on a real redis-server: each part's join, the versions' digests, the
 * metadata join, stamps above a floor, the merge patch's text, and the verdict
 * on a token. The conformance suite checks whole operations end to end; these
 * check each rule alone, on states made by concurrent operations of several
 * regions (`test/domain/support.ts`), so a rule changed on one side fails here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { mergeCartLine, type CartState } from '../../src/domain/cart.js';
import { mergeDevice, type DevicesState } from '../../src/domain/devices.js';
import { encodeHlc, stampAbove } from '../../src/domain/hlc.js';
import type { DataPart, PartStates } from '../../src/domain/parts.js';
import { applyMergePatch, mergeRegister, type Json, type PrefsState } from '../../src/domain/prefs.js';
import { mergeMeta, type SessionMeta } from '../../src/domain/session.js';
import { partVersion } from '../../src/domain/versions.js';
import { decodeCartLine, decodeDevice, decodeMeta, decodeRegister, encodeCartLine, encodeDevice, encodeMeta, encodePartFields, encodeRegister } from '../../src/store/redis/codec.js';
import { functionLibrary, LIBRARY, type FunctionLibrary } from '../../src/store/redis/scripts.js';
import { matchToken } from '../../src/tokens/token-match.js';
import { canonical, simulate, statesOf, stepsArb, type Family } from '../domain/support.js';
import { startRedis, type RedisServer } from '../support/redis-harness.js';

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

const KEYS = ['t:{twin}:m', 't:{twin}:d', 't:{twin}:c', 't:{twin}:p', 't:{twin}:h'];
const RUNS = 60;

const twins = new Map<string, FunctionLibrary>();

/** Runs a Lua body as a function of a library of the scripts' helpers, on the keys of one scratch session. */
async function lua(body: string, ...args: string[]): Promise<unknown> {
  let library = twins.get(body);
  if (library === undefined) {
    library = functionLibrary('twin', LIBRARY, { twin: { body } });
    await server.command('FUNCTION', 'LOAD', library.code);
    twins.set(body, library);
  }
  return server.command('FCALL', library.functions.twin!, KEYS.length, ...KEYS, ...args);
}

const FAMILIES: Record<'devices' | 'cart' | 'prefs', Family[]> = { devices: ['devices', 'meta'], cart: ['cart'], prefs: ['prefs'] };

/** Pairs of states of a part that concurrent operations made (replicas' states and records). */
function statePairs<P extends 'devices' | 'cart' | 'prefs'>(part: P): fc.Arbitrary<Array<[PartStates[P], PartStates[P]]>> {
  return stepsArb(FAMILIES[part], 20).map((steps) => {
    const states = statesOf(simulate(steps), part);
    const pairs: Array<[PartStates[P], PartStates[P]]> = [];
    for (const x of states) for (const y of states) pairs.push([x, y]);
    return pairs.slice(0, 12);
  });
}

function entriesOf(part: 'devices' | 'cart' | 'prefs', state: PartStates['devices'] | PartStates['cart'] | PartStates['prefs']): Record<string, unknown> {
  if (part === 'devices') return (state as DevicesState).devices;
  if (part === 'cart') return (state as CartState).lines;
  return (state as PrefsState).keys;
}

describe('the Lua twins of the domain', { timeout: 120_000 }, () => {
  for (const part of ['devices', 'cart', 'prefs'] as const) {
    it(`join the ${part} entries as the TypeScript join does`, async () => {
      const encode = { devices: encodeDevice, cart: encodeCartLine, prefs: encodeRegister }[part] as (value: unknown) => string;
      const decode = { devices: decodeDevice, cart: decodeCartLine, prefs: decodeRegister }[part] as (text: string) => unknown;
      const join = { devices: mergeDevice, cart: mergeCartLine, prefs: mergeRegister }[part] as (x: unknown, y: unknown) => unknown;
      await fc.assert(
        fc.asyncProperty(statePairs(part), async (pairs) => {
          for (const [x, y] of pairs) {
            const xs = entriesOf(part, x);
            const ys = entriesOf(part, y);
            for (const key of Object.keys(xs).filter((k) => Object.hasOwn(ys, k))) {
              const text = await lua(`local j = JOINS[ARGV[1]]; return j.encode(j.merge(j.decode(ARGV[2]), j.decode(ARGV[3])))`, part, encode(xs[key]), encode(ys[key]));
              assert.deepEqual(canonical(decode(String(text))), canonical(join(xs[key], ys[key])), `${part} "${key}"`);
            }
          }
        }),
        { numRuns: RUNS / 3 },
      );
    });
  }

  it('break ties of activity and of revocation as mergeDevice does (where last seen, why revoked)', async () => {
    const base = { createdAt: 1, lastActiveAt: 50, gen: 1, hash: 'h', retired: [], t: 'T1', authenticatedAt: 1 } as const;
    const devices = [
      { ...base, lastIp: '203.0.113.0', lastCountry: 'DE' },
      { ...base, lastIp: '198.51.100.0' },
      { ...base, lastCountry: 'FR' },
      { ...base, lastActiveAt: 40, lastIp: '192.0.2.0', revokedAt: 60, revokedFor: 'reuse' as const },
      { ...base, revokedAt: 60, revokedFor: 'logout' as const },
      { ...base, revokedAt: 60 },
      { ...base, gen: 2, t: 'T2', authLevel: 'otp', authenticatedAt: 45, revokedAt: 70, revokedFor: 'limit' as const },
    ];
    for (const x of devices) {
      for (const y of devices) {
        const text = await lua(`local j = JOINS.devices; return j.encode(j.merge(j.decode(ARGV[1]), j.decode(ARGV[2])))`, encodeDevice(x), encodeDevice(y));
        assert.deepEqual(canonical(decodeDevice(String(text))), canonical(mergeDevice(x, y)), `${JSON.stringify(x)} ⊔ ${JSON.stringify(y)}`);
      }
    }
  });

  it('give every part the version partVersion gives it', async () => {
    const states = fc.constantFrom<Family[]>(['cart'], ['prefs'], ['history'], ['devices', 'meta']).chain((families) =>
      stepsArb(families, 20).map((steps) => simulate(steps)),
    );
    await fc.assert(
      fc.asyncProperty(states, async (sim) => {
        await server.command('DEL', ...KEYS);
        const parts: Array<[DataPart, number]> = [['devices', 1], ['cart', 2], ['prefs', 3], ['history', 4]];
        for (const [part, index] of parts) {
          const state = sim.replicas[0]!.state[part];
          const fields = encodePartFields(part, state);
          if (fields.length > 0) await server.command('HSET', KEYS[index]!, ...fields);
          assert.equal(await lua(`return versionOf({}, ARGV[1])`, part), partVersion(part, state as never), part);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('join metadata as mergeMeta does', async () => {
    const metaArb: fc.Arbitrary<SessionMeta> = fc.record(
      {
        id: fc.constant('sid'),
        userId: fc.constantFrom<string | null>(null, 'u1'),
        createdAt: fc.integer({ min: 1, max: 9 }),
        lastActiveAt: fc.integer({ min: 1, max: 99 }),
        idleExpiresAt: fc.integer({ min: 100, max: 199 }),
        absoluteExpiresAt: fc.integer({ min: 200, max: 299 }),
        csrfSecret: fc.constantFrom('s1', 's2'),
        endedAt: fc.integer({ min: 1, max: 99 }),
        mergedInto: fc.constantFrom('w1', 'w2'),
        t: fc.integer({ min: 0, max: 9 }).map((n) => encodeHlc({ wall: 1_000 + n, counter: n % 3, origin: `r${n % 2}.n` })),
      },
      { requiredKeys: ['id', 'userId', 'createdAt', 'lastActiveAt', 'idleExpiresAt', 'absoluteExpiresAt', 'csrfSecret'] },
    );
    await fc.assert(
      fc.asyncProperty(metaArb, metaArb, async (x, y) => {
        const flat = await lua(
          `local a, b, i = {}, {}, 1
           while ARGV[i] ~= '|' do a[#a + 1] = ARGV[i]; i = i + 1 end
           for j = i + 1, #ARGV do b[#b + 1] = ARGV[j] end
           local m = metaFromFlat(a)
           mergeMeta(m, metaFromFlat(b))
           return metaRecordFlat(m)`,
          ...encodeMeta(x),
          '|',
          ...encodeMeta(y),
        );
        assert.deepEqual(decodeMeta('sid', flat as string[]).meta, mergeMeta(x, y));
      }),
      { numRuns: RUNS },
    );
  });

  it('order strings byte by byte as JavaScript orders ASCII, at every length and shared prefix', async () => {
    // Strings of a few bytes, so that prefixes, ties and differences at every offset of the 4-byte steps occur.
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '.', '0', '~'), maxLength: 11 });
    await fc.assert(
      fc.asyncProperty(text, text, text, async (prefix, x, y) => {
        const [a, b] = [prefix + x, prefix + y];
        assert.equal(await lua(`return bytesLess(ARGV[1], ARGV[2]) and 1 or 0`, a, b), a < b ? 1 : 0, `${JSON.stringify(a)} < ${JSON.stringify(b)}`);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  it('lift a stamp above a floor as stampAbove does', async () => {
    const stamp = fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 1, 0xfffe, 0xffff), fc.constantFrom('eu.a', 'us.b'))
      .map(([wall, counter, origin]) => encodeHlc({ wall: 1_700_000_000_000 + wall, counter, origin }));
    await fc.assert(
      fc.asyncProperty(stamp, fc.option(stamp, { nil: undefined }), async (s, floor) => {
        assert.equal(await lua(`return stampAbove(ARGV[1], ARGV[2])`, s, floor ?? ''), stampAbove(s, floor));
      }),
      { numRuns: RUNS },
    );
  });

  it('write a merge patch as JSON.stringify writes applyMergePatch’s result, integer-like keys first', async () => {
    const key = fc.constantFrom('a', 'b', 'z', '0', '1', '10', '2', '01', '-1', '4294967295', 'é');
    const leaf: fc.Arbitrary<Json> = fc.oneof(fc.integer(), fc.constantFrom('x', 'ü', null, true), fc.constant([1, { b: 2, '1': 3 }] as Json));
    const object: fc.Arbitrary<Json> = fc.letrec<{ node: Json }>((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(key, tie('node'), { maxKeys: 4 })),
    })).node;
    await fc.assert(
      fc.asyncProperty(fc.option(object, { nil: undefined }), fc.dictionary(key, object, { maxKeys: 4 }), async (current, patch) => {
        const target = current === undefined || current === null ? undefined : current;
        const text = await lua(`return mergePatchText(ARGV[1] ~= '' and ARGV[1] or nil, ARGV[2])`, target === undefined ? '' : JSON.stringify(target), JSON.stringify(patch));
        assert.equal(text, JSON.stringify(applyMergePatch(target, patch)));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('judge a presented token as matchToken does', async () => {
    await fc.assert(
      fc.asyncProperty(
        stepsArb(['devices'], 12),
        fc.constantFrom('hash-d0', 'h-1', 'h-2', 'h-3', 'nope'),
        fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        fc.integer({ min: 0, max: 40_000 }),
        async (steps, hash, gen, later) => {
          const sim = simulate(steps);
          const devices = sim.replicas[0]!.state.devices.devices;
          for (const device of Object.values(devices)) {
            const now = device.lastActiveAt + later;
            const verdict = await lua(
              `return tokenMatch(cjson.decode(ARGV[1]), ARGV[2], ARGV[3] ~= '' and tonumber(ARGV[3]) or nil, tonumber(ARGV[4]), 30000)`,
              encodeDevice(device), hash, gen === undefined ? '' : String(gen), String(now),
            );
            assert.equal(verdict, matchToken(device, gen === undefined ? { hash } : { hash, gen }, { now, idleTimeoutMs: 30_000 }));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
