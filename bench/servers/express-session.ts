/**
 * The ecosystem default: Express 5 + express-session + connect-redis 9 on
 * node-redis 5, storing the same session shape as Tessera (cart, prefs,
 * history, devices) as one JSON document per session. Defaults as a typical
 * app sets them: resave false, saveUninitialized false, 30-day cookie; the
 * store's touch (EXPIRE) runs on reads, as connect-redis does by default.
 *
 * Routes mirror Tessera's API v1 so the load generator sends the same requests;
 * the end-user credential is the signed `connect.sid` cookie. Input checks are
 * minimal (far less than Tessera's), which favours this baseline.
 *
 * Env: PORT, HOST, API_KEY, REDIS_URL, SESSION_SECRET.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { loopDelayProbe } from './loop-delay.js';

interface CartItem {
  sku: string;
  quantity: number;
  attributes?: Record<string, unknown>;
  addedAt: string;
}
interface HistoryItem {
  productId: string;
  viewedAt: string;
}
interface Device {
  id: string;
  name?: string;
  kind?: string;
  userAgent?: string;
  createdAt: string;
}
declare module 'express-session' {
  interface SessionData {
    userId: string | null;
    devices: Device[];
    cart: { items: CartItem[] };
    prefs: Record<string, unknown>;
    history: { items: HistoryItem[] };
    createdAt: string;
  }
}

const apiKey = process.env['API_KEY'] ?? 'bench-secret';
const expected = `Bearer ${apiKey}`;
const HISTORY_LIMIT = 100;
const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;

const redis = createClient({ url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: unknown) => console.error('redis', error));
await redis.connect();

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.get('/readyz', (_req, res) => {
  res.json({ ok: true });
});
const loopDelay = loopDelayProbe();
app.get('/readyz/loop-delay', (_req, res) => {
  res.json(loopDelay());
});
app.use((req: Request, res: Response, next: NextFunction) => {
  if (req.headers.authorization !== expected) {
    res.status(401).type('application/problem+json').json({ type: '/problems/invalid-api-key', status: 401 });
    return;
  }
  next();
});
app.use(express.json({ type: ['application/json', 'application/merge-patch+json'], limit: '64kb' }));
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: 'sess:' }),
    secret: process.env['SESSION_SECRET'] ?? 'bench-session-secret',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: THIRTY_DAYS_MS, httpOnly: true, sameSite: 'lax', secure: false },
  }),
);

function requireSession(req: Request, res: Response): boolean {
  if (req.session.cart === undefined) {
    res.status(401).type('application/problem+json').json({ type: '/problems/invalid-token', status: 401 });
    return false;
  }
  return true;
}

function sessionInfo(req: Request): Record<string, unknown> {
  return { id: req.sessionID, userId: req.session.userId ?? null, createdAt: req.session.createdAt };
}

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((error: unknown) => (error ? reject(error) : resolve())));
}

function newDevice(body: { device?: Partial<Device> } | undefined): Device {
  const d = body?.device ?? {};
  return { id: Math.random().toString(36).slice(2, 14), name: d.name, kind: d.kind, userAgent: d.userAgent, createdAt: new Date().toISOString() };
}

// Login: a new session for the user (express-session has no cross-device sharing).
app.post('/v1/sessions', async (req: Request, res: Response) => {
  await regenerate(req);
  const now = new Date().toISOString();
  req.session.userId = typeof req.body?.userId === 'string' ? req.body.userId : null;
  req.session.devices = [newDevice(req.body)];
  req.session.cart = { items: [] };
  req.session.prefs = {};
  req.session.history = { items: [] };
  req.session.createdAt = now;
  res.status(201).json({ session: sessionInfo(req) });
});

// Benchmark seeding: a whole session in one request, answered with the cookie.
app.post('/bench/seed', async (req: Request, res: Response) => {
  await regenerate(req);
  const body = req.body as { userId: string; devices: Array<Partial<Device>>; cart: CartItem[]; prefs: Record<string, unknown>; history: HistoryItem[] };
  req.session.userId = body.userId;
  req.session.devices = body.devices.map((device) => newDevice({ device }));
  req.session.cart = { items: body.cart };
  req.session.prefs = body.prefs;
  req.session.history = { items: body.history };
  req.session.createdAt = new Date().toISOString();
  res.status(201).json({ session: sessionInfo(req) });
});

app.get('/v1/session', (req: Request, res: Response) => {
  if (!requireSession(req, res)) return;
  const parts = String(req.query['parts'] ?? '').split(',');
  const out: Record<string, unknown> = { session: sessionInfo(req) };
  if (parts.includes('cart')) out['cart'] = req.session.cart;
  if (parts.includes('prefs')) out['prefs'] = req.session.prefs;
  if (parts.includes('history')) out['history'] = req.session.history;
  if (parts.includes('devices')) out['devices'] = req.session.devices;
  res.json(out);
});

app.post('/v1/session/cart/items', (req: Request, res: Response) => {
  if (!requireSession(req, res)) return;
  const { sku, quantity = 1, attributes } = req.body as { sku: string; quantity?: number; attributes?: Record<string, unknown> };
  const items = req.session.cart!.items;
  const line = items.find((item) => item.sku === sku);
  if (line) {
    line.quantity = Math.min(999, line.quantity + quantity);
    if (attributes) line.attributes = attributes;
  } else {
    items.push({ sku, quantity, attributes, addedAt: new Date().toISOString() });
  }
  res.json(req.session.cart);
});

app.post('/v1/session/history', (req: Request, res: Response) => {
  if (!requireSession(req, res)) return;
  const { productId, viewedAt = new Date().toISOString() } = req.body as { productId: string; viewedAt?: string };
  const items = req.session.history!.items.filter((item) => item.productId !== productId);
  items.unshift({ productId, viewedAt });
  req.session.history = { items: items.slice(0, HISTORY_LIMIT) };
  res.json(req.session.history);
});

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

app.patch('/v1/session/prefs', (req: Request, res: Response) => {
  if (!requireSession(req, res)) return;
  req.session.prefs = mergePatch(req.session.prefs, req.body) as Record<string, unknown>;
  res.json({ prefs: req.session.prefs });
});

app.listen(Number(process.env['PORT'] ?? 8091), process.env['HOST'] ?? '127.0.0.1');
