/**
 * Seeded data sets, kept between runs. Seeding 100 k sessions through the API
 * takes ≈ 4.5 M requests — tens of minutes on a 2-core machine — so after the
 * first run the store's contents (Redis DUMP payloads, or the SQLite file) and
 * the sessions' credentials are saved under bench/.cache/snapshots/ and
 * restored next time. A snapshot is used only when it was built from the same
 * data (count, seed, generator) within the last week AND a sample of its
 * sessions reads back through the target's API exactly as generated — so a
 * change of the stored form (new key layout, new encoding) makes the bench
 * seed afresh instead of measuring stale data. `--reseed` ignores snapshots.
 * Tessera on Redis and on Redis Cluster share one snapshot: same key layout,
 * and RESTORE routes every key to the master owning its slot.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { SeedRecord } from '../report/results.js';
import type { Target } from '../targets/target.js';
import { generateSession } from './generator.js';
import { RawHttpPool } from '../load/raw-http.js';
import { dumpRedis, flushRedis, restoreRedis } from './redis-dump.js';

const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** The files that decide the generated data (a snapshot is also checked by reading a sample back). */
const GENERATOR_SOURCES = ['bench/dataset/generator.ts', 'bench/dataset/catalog.ts'];

export interface SeedOutcome {
  readonly credentials: string[];
  readonly record: SeedRecord;
}

export interface SeedPlan {
  readonly root: string;
  readonly count: number;
  readonly dataSeed: number;
  readonly reseed: boolean;
  readonly apiKey: string;
  readonly onStatus: (text: string) => void;
}

interface SnapshotMeta {
  readonly createdAt: number;
  readonly sessions: number;
  readonly requests: number;
  readonly seedElapsedMs: number;
  readonly meanSessionBytes: number;
}

export function hashSources(root: string, paths: readonly string[]): string {
  const hash = createHash('sha256');
  const visit = (path: string): void => {
    const full = join(root, path);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) visit(join(path, name));
    } else {
      hash.update(path).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  for (const p of paths) visit(p);
  return hash.digest('hex').slice(0, 16);
}

const VERIFY_SAMPLE = 40;

/**
 * Tessera slides a session's deadline (a write) on the first request after it
 * has been idle for a while (TESSERA_SLIDE_AFTER, 1 h by default). Sessions
 * restored from an older snapshot would all take that write on first access,
 * which a freshly seeded set does not: read each once before measuring.
 */
const FRESH_MS = 30 * 60 * 1000;

async function readEverySession(target: Target, apiKey: string, credentials: readonly string[]): Promise<void> {
  const pool = new RawHttpPool(target.origin, 32);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < credentials.length) {
          const index = next++;
          const request = pool.serialize('GET', '/v1/session', { authorization: `Bearer ${apiKey}`, [target.credentialHeader]: credentials[index]! });
          await pool.fetch(request);
        }
      }),
    );
  } finally {
    pool.close();
  }
}

/** Null when a sample of sessions reads back through the API as generated, else what differs. */
async function verifySample(target: Target, plan: SeedPlan, credentials: readonly string[]): Promise<string | null> {
  if (credentials.length !== plan.count) return 'credential count differs';
  for (let k = 0; k < VERIFY_SAMPLE; k++) {
    const index = Math.floor((k * plan.count) / VERIFY_SAMPLE);
    const spec = generateSession(plan.dataSeed, index);
    const response = await fetch(`${target.origin}/v1/session?parts=cart,prefs,history`, {
      headers: { authorization: `Bearer ${plan.apiKey}`, [target.credentialHeader]: credentials[index]! },
    });
    if (response.status !== 200) return `session ${index} answered ${response.status}`;
    const body = (await response.json()) as {
      cart?: { items?: Array<{ sku: string; quantity: number }> };
      prefs?: Record<string, unknown>;
      history?: { items?: Array<{ productId: string }> };
    };
    const cart = new Map((body.cart?.items ?? []).map((i) => [i.sku, i.quantity]));
    if (cart.size !== spec.cart.length || spec.cart.some((l) => cart.get(l.sku) !== l.quantity)) return `session ${index} has another cart`;
    const history = new Set((body.history?.items ?? []).map((i) => i.productId));
    if (history.size !== spec.history.length || spec.history.some((h) => !history.has(h.productId))) return `session ${index} has another history`;
    if (JSON.stringify(body.prefs?.['savedAddresses']) !== JSON.stringify(spec.prefs['savedAddresses']) || body.prefs?.['locale'] !== spec.prefs['locale']) {
      return `session ${index} has other preferences`;
    }
  }
  return null;
}

async function clearStore(target: Target): Promise<void> {
  const store = target.store!;
  if (store.kind === 'redis') await flushRedis(store.url);
  else await target.restartServer!([], async () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${store.path}${suffix}`, { force: true });
  });
}

export async function restoreOrSeed(target: Target, plan: SeedPlan): Promise<SeedOutcome> {
  const before = await target.footprint();
  const finish = async (credentials: string[], meta: SnapshotMeta, fromSnapshot: boolean, elapsedMs: number): Promise<SeedOutcome> => {
    const after = await target.footprint();
    const grown = after && before ? after.bytes - before.bytes : null;
    return {
      credentials,
      record: {
        sessions: plan.count,
        requests: fromSnapshot ? 0 : meta.requests,
        elapsedMs,
        fromSnapshot,
        meanSessionBytes: meta.meanSessionBytes,
        footprintBytes: after?.bytes ?? null,
        bytesPerSession: grown === null ? null : Math.round(grown / plan.count),
        footprintWhat: after?.what ?? null,
      },
    };
  };

  if (!target.store) {
    const seeded = await target.seed(plan.count, plan.dataSeed, () => {});
    const meta = { createdAt: Date.now(), sessions: plan.count, requests: seeded.requests, seedElapsedMs: seeded.elapsedMs, meanSessionBytes: seeded.meanSessionBytes };
    return finish(seeded.credentials, meta, false, seeded.elapsedMs);
  }

  const key = hashSources(plan.root, GENERATOR_SOURCES);
  const cacheRoot = join(plan.root, 'bench', '.cache', 'snapshots');
  const prefix = `${target.snapshotFamily ?? target.id}-${plan.count}-${plan.dataSeed}-`;
  const dir = join(cacheRoot, `${prefix}${key}`);
  const metaFile = join(dir, 'meta.json');
  const store = target.store;

  if (!plan.reseed && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as SnapshotMeta;
    if (Date.now() - meta.createdAt < MAX_AGE_MS) {
      const started = Date.now();
      plan.onStatus('restoring the snapshot of a previous seeding…');
      if (store.kind === 'redis') await restoreRedis(store.url, join(dir, 'data.bin'));
      else {
        if (!target.restartServer) throw new Error(`${target.id} cannot be restarted to load an SQLite snapshot`);
        await target.restartServer([], async () => {
          for (const suffix of ['', '-wal', '-shm']) rmSync(`${store.path}${suffix}`, { force: true });
          copyFileSync(join(dir, 'tessera.db'), store.path);
        });
      }
      const credentials = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as string[];
      const problem = await verifySample(target, plan, credentials);
      if (problem === null) {
        if (Date.now() - meta.createdAt > FRESH_MS) {
          plan.onStatus('reading every session once, as a fresh seeding would leave them…');
          await readEverySession(target, plan.apiKey, credentials);
        }
        return finish(credentials, meta, true, Date.now() - started);
      }
      plan.onStatus(`snapshot does not read back (${problem}); seeding through the API…`);
      await clearStore(target);
    }
  }

  const seeded = await target.seed(plan.count, plan.dataSeed, (p) => {
    const rate = p.requests / Math.max(1, p.elapsedMs / 1000);
    const eta = p.sessions > 0 ? ((p.total - p.sessions) * p.elapsedMs) / p.sessions / 1000 : 0;
    plan.onStatus(`${p.sessions.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} sessions · ${Math.round(rate).toLocaleString('en-US')} req/s · ETA ${Math.round(eta)} s`);
  });
  const meta: SnapshotMeta = {
    createdAt: Date.now(),
    sessions: plan.count,
    requests: seeded.requests,
    seedElapsedMs: seeded.elapsedMs,
    meanSessionBytes: seeded.meanSessionBytes,
  };
  const outcome = await finish(seeded.credentials, meta, false, seeded.elapsedMs);

  plan.onStatus('saving a snapshot for the next run…');
  mkdirSync(cacheRoot, { recursive: true });
  for (const old of readdirSync(cacheRoot)) if (old.startsWith(prefix)) rmSync(join(cacheRoot, old), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (store.kind === 'redis') {
    const keys = await dumpRedis(store.url, join(dir, 'data.bin'));
    if (keys < plan.count) throw new Error(`snapshot of ${target.id} holds ${keys} keys for ${plan.count} sessions`);
  } else {
    const db = new Database(store.path, { readonly: true, fileMustExist: true });
    try {
      await db.backup(join(dir, 'tessera.db'));
    } finally {
      db.close();
    }
  }
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify(seeded.credentials));
  writeFileSync(metaFile, JSON.stringify(meta));
  return outcome;
}
