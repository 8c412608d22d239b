/**
 * Not a product: the least work any Redis-backed session service must do, to
 * show how much of the gap to the hello-world is the store round trip itself.
 * Fastify + node-redis; a session is one Redis string holding the JSON that a
 * read returns (cart and prefs, pre-rendered), so a read is one GET whose bytes
 * go out unparsed, and every write is one small HSET. No validation, no
 * versions, no expiry logic, no merge.
 *
 * Env: PORT, HOST, API_KEY, REDIS_URL.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createClient } from 'redis';

const apiKey = process.env['API_KEY'] ?? 'bench-secret';
const expected = `Bearer ${apiKey}`;
const redis = createClient({ url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: unknown) => console.error('redis', error));
await redis.connect();

const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
  if (request.url.startsWith('/readyz')) return;
  if (request.headers.authorization !== expected) {
    await reply.code(401).type('application/problem+json').send({ type: '/problems/invalid-api-key', status: 401 });
  }
});

const sessionKey = (request: FastifyRequest): string => `s:${String(request.headers['tessera-token'] ?? '')}`;
const invalid = { type: '/problems/invalid-token', status: 401 };

app.get('/readyz', async () => ({ ok: true }));
app.get('/v1/session', async (request, reply) => {
  const view = await redis.get(sessionKey(request));
  if (view === null) return reply.code(401).type('application/problem+json').send(invalid);
  return reply.type('application/json').send(view);
});
const write = (field: string) => async (request: FastifyRequest) => {
  await redis.hSet(`${sessionKey(request)}:w`, field, typeof request.body === 'string' ? request.body : JSON.stringify(request.body));
  return { ok: true };
};
app.post('/v1/session/cart/items', write('cart'));
app.post('/v1/session/history', write('history'));
app.patch('/v1/session/prefs', write('prefs'));
app.post('/v1/sessions', async (request, reply) => {
  const token = randomBytes(24).toString('base64url');
  await redis.set(`s:${token}`, JSON.stringify({ cart: { items: [] }, prefs: {} }));
  return reply.code(201).send({ token });
});
// Benchmark seeding: stores the read view of a whole session, answers its token.
app.post('/bench/seed', async (request, reply) => {
  const body = request.body as { cart: unknown[]; prefs: unknown };
  const token = randomBytes(24).toString('base64url');
  await redis.set(`s:${token}`, JSON.stringify({ session: { id: token }, cart: { items: body.cart }, prefs: body.prefs }));
  return reply.code(201).send({ token });
});

await app.listen({ port: Number(process.env['PORT'] ?? 8092), host: process.env['HOST'] ?? '127.0.0.1' });
