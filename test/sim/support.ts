/**
 * What the chaos tests share: an HTTP client per region that remembers which
 * writes were acknowledged, direct views of each region's store (the level
 * at which the tests judge: what a user would get), and waits for regions to
 * converge.
 */
import assert from 'node:assert/strict';
import type { JetStreamManager } from '@nats-io/jetstream';
import { DEFAULT_LIMITS } from '../../src/domain/limits.js';
import { EPOCH_STREAM, type EpochRecord } from '../../src/replication/home.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { SessionSnapshot, SessionStore } from '../../src/store/session-store.js';
import type { Sim } from '../../sim/harness.js';

/** Settings every chaos test gives the simulated nodes: short intervals, one stream per region and class. */
export const CHAOS_ENV: Readonly<Record<string, string>> = {
  TESSERA_STREAM_SHARDS: '1',
  TESSERA_REPAIR_INTERVAL: '3s',
  TESSERA_REPLICA_CHECK_INTERVAL: '2s',
  TESSERA_CONSISTENCY_WAIT: '1s',
  TESSERA_LOG_LEVEL: 'warn',
};

/**
 * How long a healed cluster may take to be one again (routes, one meta leader) before a test goes
 * on: nats-server 2.9.10 once took 47 s to elect a meta leader after a heal, on a loaded machine
 * (auth test 4, 2026-12-07), where 30 s had always been enough before.
 */
export const HEALED_WITHIN_MS = 90_000;

export interface Reply {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

/** Calls one region's first node; a request that cannot connect answers status 0. */
export class RegionClient {
  constructor(
    private readonly sim: Sim,
    readonly region: string,
  ) {}

  async request(method: string, path: string, options: { token?: string; body?: unknown; consistency?: string; timeoutMs?: number } = {}): Promise<Reply> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.sim.apiKey}` };
    if (options.token !== undefined) headers['tessera-token'] = options.token;
    if (options.consistency !== undefined) headers['tessera-consistency'] = options.consistency;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await fetch(`${this.sim.region(this.region).urls[0]}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
    } catch {
      return { status: 0, body: undefined, headers: new Headers() };
    }
  }

  signIn(userId?: string): Promise<Reply> {
    return this.request('POST', '/v1/sessions', { body: userId === undefined ? {} : { userId } });
  }

  add(token: string, sku: string, quantity = 1): Promise<Reply> {
    return this.request('POST', '/v1/session/cart/items', { token, body: { sku, quantity } });
  }

  read(token: string, parts = 'cart', consistency?: string): Promise<Reply> {
    return this.request('GET', `/v1/session?parts=${parts}`, { token, ...(consistency !== undefined ? { consistency } : {}) });
  }
}

/** A direct, read-only view of a region's Redis: what its Tessera nodes serve from. */
export async function storeOf(sim: Sim, region: string): Promise<SessionStore> {
  const url = sim.region(region).redisUrl;
  assert.ok(url, `region ${region} runs Redis`);
  return RedisStore.connect({
    engine: 'redis',
    url,
    idleTimeoutMs: 30 * 24 * 3_600_000,
    slideAfterMs: 3_600_000,
    limits: DEFAULT_LIMITS,
    origin: `observer-${region}`,
    horizonMs: 24 * 3_600_000,
    feedConsumers: [],
    tuning: { commandTimeoutMs: 5_000 },
  });
}

export async function snapshotIn(sim: Sim, region: string, sessionId: string): Promise<SessionSnapshot | null> {
  const store = await storeOf(sim, region);
  try {
    return await store.snapshot(sessionId);
  } finally {
    await store.close();
  }
}

/** Every session of a region's store with its digest. */
export async function digestsOf(sim: Sim, region: string): Promise<Map<string, string>> {
  const store = await storeOf(sim, region);
  try {
    const digests = new Map<string, string>();
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Awaited<ReturnType<SessionStore['scan']>> = await store.scan(cursor, 500);
      for (const { id, digest } of page.sessions) digests.set(id, digest);
      cursor = page.next;
    }
    return digests;
  } finally {
    await store.close();
  }
}

/**
 * Waits until every region's store holds the same sessions with the same
 * digests; fails with what still differs after `timeoutMs`.
 */
export async function waitForConvergence(sim: Sim, regions: readonly string[], timeoutMs: number): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const maps = await Promise.all(regions.map((region) => digestsOf(sim, region).catch(() => new Map<string, string>())));
    const differing: string[] = [];
    const ids = new Set(maps.flatMap((map) => [...map.keys()]));
    for (const id of ids) if (new Set(maps.map((map) => map.get(id) ?? 'absent')).size > 1) differing.push(id);
    if (differing.length === 0 && ids.size > 0) return maps[0]!;
    last = `${differing.length} of ${ids.size} sessions differ, e.g. ${differing.slice(0, 3).join(', ')}`;
    if (Date.now() >= deadline) {
      // What differs, region by region: the digests and the stored state of the first such session.
      const example = differing[0];
      const detail =
        example === undefined
          ? ''
          : (
              await Promise.all(
                regions.map(async (region, i) => `\n  ${region} ${maps[i]!.get(example) ?? 'absent'}: ${JSON.stringify(await snapshotIn(sim, region, example).catch(() => null))}`),
              )
            ).join('');
      assert.fail(`regions ${regions.join(', ')} did not converge within ${timeoutMs} ms: ${last}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The session id a token names. */
export function sessionOf(token: string): string {
  return token.slice('tss1_'.length, token.indexOf('.'));
}

/** A metric's value on one node, from its management listener (`/metrics`); null when absent or unreachable. */
export async function metricOf(adminUrl: string, series: string): Promise<number | null> {
  const text = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text()).catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

/**
 * Waits until the regions have settled after a cut or a kill: every region orders its own
 * sessions again (a taken-over home handed back) and is fresh, and a sign-in and a logout go
 * through in every region twice in a row, a second apart. (After a heal, nats-server 2.9.10
 * re-elects stream leaders for some seconds — no pre-vote — and global writes answer 503 meanwhile.)
 */
export async function waitUntilSettled(sim: Sim, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let passes = 0;
  for (;;) {
    // Per region: null when settled, else what is not yet (for the failure message).
    const unsettled = await Promise.all(
      sim.regions.map(async (region): Promise<string | null> => {
        const url = region.adminUrls[0]!;
        const lease = await metricOf(url, `tessera_auth_home_lease{home="${region.name}"}`);
        if (lease !== 1) return `its home lease is ${lease ?? 'not reported'}`;
        const fresh = await metricOf(url, 'tessera_auth_fresh');
        if (fresh !== 1) return `tessera_auth_fresh is ${fresh ?? 'not reported'}`;
        const client = new RegionClient(sim, region.name);
        const signedIn = await client.signIn();
        if (signedIn.status !== 201) return `a sign-in answered ${signedIn.status} ${signedIn.body?.type ?? ''}`.trim();
        const logout = await client.request('DELETE', '/v1/session', { token: signedIn.body.token });
        return logout.status === 204 ? null : `a logout answered ${logout.status} ${logout.body?.type ?? ''}`.trim();
      }),
    );
    passes = unsettled.every((reason) => reason === null) ? passes + 1 : 0;
    if (passes === 2) return;
    if (Date.now() >= deadline) {
      const why = sim.regions.flatMap((region, i) => (unsettled[i] === null ? [] : [`${region.name} (${unsettled[i]})`]));
      throw new Error(`regions not settled after ${timeoutMs} ms: ${why.join(', ') || 'flapping'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, passes > 0 ? 1_000 : 250));
  }
}

/** The epoch records the stream holds now (marks left out), in order. */
export async function epochRecordsIn(jsm: JetStreamManager): Promise<Array<{ seq: number; record: EpochRecord }>> {
  const { first_seq: first, last_seq: last } = (await jsm.streams.info(EPOCH_STREAM)).state;
  const found: Array<{ seq: number; record: EpochRecord }> = [];
  for (let seq = Math.max(1, first); seq <= last; seq += 1) {
    const message = await jsm.streams.getMessage(EPOCH_STREAM, { seq });
    if (message !== null && !message.subject.startsWith('tessera.epoch.mark.')) found.push({ seq, record: message.json<EpochRecord>() });
  }
  return found;
}
