/**
 * Seeding through the public API: each session is created by a sign-in, its
 * other devices sign in too, then its preferences, cart lines and viewed
 * products are written one API call at a time, exactly as a storefront would
 * have built them up. This is slow (≈ 45 requests per session) but the stored
 * form is then precisely what the engine writes in production.
 */
import { RawHttpPool } from '../load/raw-http.js';
import { generateSession, type SessionSpec } from './generator.js';

export interface SeedProgress {
  readonly sessions: number;
  readonly total: number;
  readonly requests: number;
  readonly elapsedMs: number;
}

export interface SeedOptions {
  readonly origin: string;
  readonly apiKey: string;
  readonly count: number;
  readonly dataSeed: number;
  /** Sessions built concurrently. @default 24 */
  readonly parallel?: number;
  readonly connections?: number;
  readonly onProgress?: (p: SeedProgress) => void;
}

export interface SeedResult {
  /** The end-user credential header value per session index. */
  readonly credentials: string[];
  readonly requests: number;
  readonly elapsedMs: number;
  /** Mean serialized size of the generated sessions (public JSON shape). */
  readonly meanSessionBytes: number;
}

type Call = (method: string, path: string, headers: Record<string, string>, body?: unknown) => Promise<{ head: string; body: Buffer }>;

async function seedWith(options: SeedOptions, one: (spec: SessionSpec, call: Call) => Promise<string>): Promise<SeedResult> {
  const pool = new RawHttpPool(options.origin, options.connections ?? 32);
  const started = Date.now();
  const credentials: string[] = new Array<string>(options.count);
  let requests = 0;
  let next = 0;
  let finished = 0;
  let bytes = 0;
  const call: Call = async (method, path, headers, body) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const h = text === undefined ? headers : { ...headers, 'content-type': 'application/json' };
    for (let attempt = 1; ; attempt++) {
      const response = await pool.fetch(pool.serialize(method, path, h, text));
      requests++;
      if (response.status < 400) return response;
      if (response.status === 503 && attempt < 5) {
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        continue;
      }
      throw new Error(`seeding failed: ${method} ${path} answered ${response.status}: ${response.body.toString('utf8').slice(0, 500)}`);
    }
  };
  const ticker = setInterval(
    () => options.onProgress?.({ sessions: finished, total: options.count, requests, elapsedMs: Date.now() - started }),
    250,
  );
  const now = Date.now();
  try {
    await Promise.all(
      Array.from({ length: options.parallel ?? 24 }, async () => {
        while (next < options.count) {
          const index = next++;
          const spec = generateSession(options.dataSeed, index, now);
          bytes += spec.bytes;
          credentials[index] = await one(spec, call);
          finished++;
        }
      }),
    );
  } finally {
    clearInterval(ticker);
    pool.close();
  }
  options.onProgress?.({ sessions: finished, total: options.count, requests, elapsedMs: Date.now() - started });
  return { credentials, requests, elapsedMs: Date.now() - started, meanSessionBytes: Math.round(bytes / options.count) };
}

/** Builds the sessions through Tessera's API v1; the credential is the first device's token. */
export function seedTessera(options: SeedOptions): Promise<SeedResult> {
  const auth = { authorization: `Bearer ${options.apiKey}` };
  return seedWith(options, async (spec, call) => {
    const created = await call('POST', '/v1/sessions', auth, { userId: spec.userId, device: spec.devices[0] });
    const token = (JSON.parse(created.body.toString('utf8')) as { token: string }).token;
    const mine = { ...auth, 'tessera-token': token };
    const writes: Array<Promise<unknown>> = [];
    for (const device of spec.devices.slice(1)) writes.push(call('POST', '/v1/sessions', auth, { userId: spec.userId, device }));
    writes.push(call('PATCH', '/v1/session/prefs', mine, spec.prefs));
    for (const line of spec.cart) writes.push(call('POST', '/v1/session/cart/items', mine, line));
    // Oldest first, as the user browsed.
    for (let h = spec.history.length - 1; h >= 0; h--) writes.push(call('POST', '/v1/session/history', mine, spec.history[h]));
    await Promise.all(writes);
    return token;
  });
}

/**
 * Builds the sessions in the express-session baseline. It has no partial-update
 * API worth replaying for seeding, so a bench-only route stores each whole
 * session through express-session itself; the credential is the cookie.
 */
export function seedExpressSession(options: SeedOptions): Promise<SeedResult> {
  const auth = { authorization: `Bearer ${options.apiKey}` };
  return seedWith(options, async (spec, call) => {
    const response = await call('POST', '/bench/seed', auth, {
      userId: spec.userId,
      devices: spec.devices,
      cart: spec.cart.map((line) => ({ ...line, addedAt: new Date().toISOString() })),
      prefs: spec.prefs,
      history: spec.history,
    });
    const cookie = /\r\nset-cookie: *(connect\.sid=[^;]+)/i.exec(response.head)?.[1];
    if (!cookie) throw new Error('express-session did not set its cookie on /bench/seed');
    return cookie;
  });
}

/** The Redis floor stores each session's read view whole; the credential is the key it answers. */
export function seedRedisFloor(options: SeedOptions): Promise<SeedResult> {
  const auth = { authorization: `Bearer ${options.apiKey}` };
  return seedWith(options, async (spec, call) => {
    const response = await call('POST', '/bench/seed', auth, {
      cart: spec.cart.map((line) => ({ ...line, addedAt: new Date().toISOString() })),
      prefs: spec.prefs,
    });
    return (JSON.parse(response.body.toString('utf8')) as { token: string }).token;
  });
}

/** The hello-world keeps no sessions: any credential will do. */
export function fakeCredentials(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `tss1_hello-${i}`);
}
