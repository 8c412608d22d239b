/**
 * The HTTP ceiling: Fastify answering the benchmark's routes with a small JSON
 * after checking the bearer API key, and nothing else (no store, no session).
 * Bodies are parsed, as a real service must. Whatever Tessera does beyond this
 * is the cost of being a session service.
 *
 * Env: PORT, HOST, API_KEY.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { loopDelayProbe } from './loop-delay.js';

const apiKey = process.env['API_KEY'] ?? 'bench-secret';
const expected = `Bearer ${apiKey}`;
const app = Fastify({ logger: false });

app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body as string));
  } catch (error) {
    done(error as Error, undefined);
  }
});

app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
  if (request.url.startsWith('/readyz')) return;
  if (request.headers.authorization !== expected) {
    await reply.code(401).type('application/problem+json').send({ type: '/problems/invalid-api-key', status: 401 });
  }
});

const small = { ok: true, session: { id: 'hello', userId: null } };
const loopDelay = loopDelayProbe();
app.get('/readyz', async () => ({ ok: true }));
app.get('/readyz/loop-delay', async () => loopDelay());
app.get('/v1/session', async () => small);
app.post('/v1/sessions', async (_request, reply) => reply.code(201).send({ token: 'tss1_hello', session: small.session }));
app.post('/v1/session/cart/items', async () => small);
app.post('/v1/session/history', async () => small);
app.patch('/v1/session/prefs', async () => small);

await app.listen({ port: Number(process.env['PORT'] ?? 8090), host: process.env['HOST'] ?? '127.0.0.1' });
