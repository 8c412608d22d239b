/**
 * OpenTelemetry tracing end to end: a real Tessera exports to a real OTLP/HTTP
 * receiver started here (JSON protocol), and the tests decode what arrives:
 * span names, attributes, parent links, the ids in the log lines — and that
 * without configuration nothing is registered or sent.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import * as semconv from '@opentelemetry/semantic-conventions';
import { keySlot } from '../../src/store/redis/slots.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../support/redis-harness.js';
import { APP_KEY, startTessera, type TestServer } from '../support/tessera-server.js';

const SERVER = 2;
const CLIENT = 3;

/** An incoming W3C trace context, as an upstream service would send it. */
function upstream(sampled = true): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}` };
}

function tracingEnv(receiver: OtlpReceiver, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'tessera-under-test',
    ...extra,
  };
}

function only(spans: readonly ReceivedSpan[], predicate: (span: ReceivedSpan) => boolean, what: string): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(found.length, 1, `expected one ${what}, got ${found.length}: ${spans.map((s) => s.name).join(', ')}`);
  return found[0]!;
}

/**
 * A sign-in whose body arrives in a second packet, after the head: Fastify then
 * parses it in a later event, outside the async context the request began in.
 */
async function signInWithLateBody(url: string, traceparent: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('utf8')));
    socket.on('close', () => resolve(text));
  });
  socket.write(
    `POST /v1/sessions HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${APP_KEY}\r\ntraceparent: ${traceparent}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
  );
  await sleep(50);
  socket.end('{}');
  return (await answer).split('\r\n')[0]!;
}

/** The JSON log lines of one request (by Fastify's request id). */
function linesOf(server: TestServer, reqId: string): Array<Record<string, unknown>> {
  return server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['reqId'] === reqId);
}

describe('tracing on the embedded engine', () => {
  let receiver: OtlpReceiver;
  let server: TestServer;
  const signIn = upstream();
  const read = upstream();
  const unsampled = upstream(false);
  const lateBody = upstream();
  const probe = upstream();
  let token = '';
  let csrfToken = '';

  before(async () => {
    receiver = await startOtlpReceiver();
    server = await startTessera(tracingEnv(receiver));
    const created = await server.request('POST', '/v1/sessions', { body: {}, headers: { traceparent: signIn.traceparent } });
    assert.equal(created.status, 201);
    token = created.body.token;
    csrfToken = created.body.csrfToken;
    assert.equal((await server.request('GET', '/v1/session', { token, headers: { traceparent: read.traceparent } })).status, 200);
    assert.equal((await server.request('GET', '/v1/session', { token, headers: { traceparent: unsampled.traceparent } })).status, 200);
    assert.equal((await server.request('GET', '/v1/session', { token, key: 'not-a-key', headers: { traceparent: read.traceparent } })).status, 401);
    assert.equal(await signInWithLateBody(server.url, lateBody.traceparent), 'HTTP/1.1 201 Created');
    for (const path of ['/healthz', '/readyz']) assert.equal((await server.request('GET', path, { key: null, headers: { traceparent: probe.traceparent } })).status, 200);
    // Graceful shutdown flushes the exporter: every span has arrived once close resolves.
    await server.close();
  });
  after(() => receiver.close());

  test('a request span continues the incoming trace, named by method and route template', () => {
    const span = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === signIn.traceId, 'sign-in request span');
    assert.equal(span.name, 'POST /v1/sessions');
    assert.equal(span.parentSpanId, signIn.spanId);
    assert.equal(span.attributes[ATTR.httpRoute], '/v1/sessions');
    assert.equal(span.attributes[ATTR.httpRequestMethod], 'POST');
    assert.equal(span.attributes[ATTR.httpResponseStatusCode], 201);
    assert.equal(span.scope, 'tessera');
    assert.equal(span.resource['service.name'], 'tessera-under-test');
  });

  test('a read is one request span with the session route and its status', () => {
    const spans = receiver.spans.filter((s) => s.kind === SERVER && s.traceId === read.traceId);
    assert.deepEqual(spans.map((s) => [s.name, s.attributes[ATTR.httpResponseStatusCode], s.parentSpanId]).sort(), [
      ['GET /v1/session', 200, read.spanId],
      ['GET /v1/session', 401, read.spanId],
    ]);
  });

  test('store calls are children of the request span and name the engine and the operation', () => {
    const request = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === signIn.traceId, 'sign-in request span');
    const store = receiver.spans.filter((s) => s.parentSpanId === request.spanId);
    assert.ok(store.length >= 1, 'the sign-in made no store span');
    const create = only(store, (s) => s.name === 'store.create', 'store.create span');
    assert.equal(create.kind, CLIENT);
    assert.equal(create.traceId, signIn.traceId);
    assert.deepEqual(
      [create.attributes[ATTR.storeEngine], create.attributes[ATTR.dbSystemName], create.attributes[ATTR.dbOperationName]],
      ['sqlite', 'sqlite', 'create'],
    );
    const readSpan = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === read.traceId && s.attributes[ATTR.httpResponseStatusCode] === 200, 'read span');
    const load = only(receiver.spans, (s) => s.parentSpanId === readSpan.spanId && s.name === 'store.load', 'store.load span');
    assert.equal(load.attributes[ATTR.dbOperationName], 'load');
  });

  test('store calls stay children of the request span when the body arrives after the head', () => {
    // Guards the context re-entered after body parsing: without it the store span starts a trace of its own.
    const request = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === lateBody.traceId, 'late-body request span');
    const create = only(receiver.spans, (s) => s.name === 'store.create' && s.traceId === lateBody.traceId, 'store.create span');
    assert.equal(create.parentSpanId, request.spanId);
    assert.equal(receiver.spans.filter((s) => s.name === 'store.create').length, 2);
  });

  test('health probes make no span', () => {
    assert.equal(receiver.spans.filter((s) => s.traceId === probe.traceId).length, 0);
  });

  test('an incoming parent that was not sampled is honoured: nothing of its trace is exported', () => {
    assert.equal(receiver.spans.filter((s) => s.traceId === unsampled.traceId).length, 0);
    // Nor under a trace of its own: the only request spans are the other three requests'.
    assert.deepEqual(receiver.spans.filter((s) => s.kind === SERVER).map((s) => s.traceId).sort(), [signIn.traceId, read.traceId, read.traceId, lateBody.traceId].sort());
  });

  test('every log line of a request carries its trace and span ids, sampled or not', () => {
    for (const [incoming, flags] of [[signIn, '01'], [unsampled, '00']] as const) {
      const lines = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['trace_id'] === incoming.traceId);
      assert.ok(lines.length >= 1, `no log line names trace ${incoming.traceId}`);
      const reqIds = new Set(lines.map((line) => line['reqId']).filter((id) => id !== undefined));
      assert.equal(reqIds.size, 1);
      for (const line of linesOf(server, [...reqIds][0] as string)) {
        assert.equal(line['trace_id'], incoming.traceId);
        assert.equal(line['trace_flags'], flags);
        assert.match(String(line['span_id']), /^[0-9a-f]{16}$/);
        assert.notEqual(line['span_id'], incoming.spanId);
      }
    }
    const request = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === signIn.traceId, 'sign-in request span');
    const closing = linesOf(server, String(request.attributes[ATTR.requestId])).find((line) => line['msg'] === 'request');
    assert.equal(closing?.['span_id'], request.spanId);
  });

  test('no token, API key, CSRF token or cookie is sent to the collector', () => {
    const sent = receiver.bodies.join('\n');
    assert.ok(receiver.spans.length > 0);
    for (const secret of [token, csrfToken, APP_KEY, 'tss1_', 'authorization', 'tessera-token', 'cookie']) {
      assert.equal(sent.toLowerCase().includes(secret.toLowerCase()), false, `sent "${secret.slice(0, 8)}…"`);
    }
  });
});

describe('tracing on Redis', () => {
  let receiver: OtlpReceiver;
  let redis: RedisServer;
  const signIn = upstream();

  before(async () => {
    receiver = await startOtlpReceiver();
    redis = await startRedis();
    const server = await startTessera(tracingEnv(receiver, { TESSERA_STORE: 'redis', TESSERA_REDIS_URL: redis.url }));
    try {
      assert.equal((await server.request('POST', '/v1/sessions', { body: {}, headers: { traceparent: signIn.traceparent } })).status, 201);
    } finally {
      await server.close();
    }
  });
  after(async () => {
    await redis.stop();
    await receiver.close();
  });

  test('each script a store call runs is a span beneath it, named by the script', () => {
    const request = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === signIn.traceId, 'request span');
    const create = only(receiver.spans, (s) => s.parentSpanId === request.spanId && s.name === 'store.create', 'store.create span');
    assert.equal(create.attributes[ATTR.storeEngine], 'redis');
    assert.equal(create.attributes[ATTR.dbSystemName], 'redis');
    const script = only(receiver.spans, (s) => s.parentSpanId === create.spanId && s.name === 'FCALL tesseraCreate', 'tesseraCreate span');
    assert.equal(script.kind, CLIENT);
    assert.deepEqual(
      [script.attributes[ATTR.dbOperationName], script.attributes[ATTR.dbStoredProcedureName], script.attributes[ATTR.storeEngine]],
      ['FCALL', 'tesseraCreate', 'redis'],
    );
    // One server has no slots to speak of.
    assert.equal(script.attributes[ATTR.redisSlot], undefined);
  });
});

describe('tracing on Redis Cluster', () => {
  let receiver: OtlpReceiver;
  let cluster: RedisCluster;
  const read = upstream();
  let sessionId = '';

  before(async () => {
    receiver = await startOtlpReceiver();
    cluster = await startRedisCluster();
    const server = await startTessera(tracingEnv(receiver, { TESSERA_STORE: 'redis-cluster', TESSERA_REDIS_NODES: cluster.nodes.join(','), TESSERA_L1: 'off' }));
    try {
      const { token, session } = await server.signIn();
      sessionId = session.id;
      assert.equal((await server.request('GET', '/v1/session', { token, headers: { traceparent: read.traceparent } })).status, 200);
    } finally {
      await server.close();
    }
  });
  after(async () => {
    await cluster.stop();
    await receiver.close();
  });

  test('a script span names the slot of the session it ran on', () => {
    const request = only(receiver.spans, (s) => s.kind === SERVER && s.traceId === read.traceId, 'request span');
    const load = only(receiver.spans, (s) => s.parentSpanId === request.spanId && s.name === 'store.load', 'store.load span');
    assert.equal(load.attributes[ATTR.storeEngine], 'redis-cluster');
    const script = only(receiver.spans, (s) => s.parentSpanId === load.spanId && s.name === 'FCALL tesseraLoad', 'tesseraLoad span');
    assert.equal(script.attributes[ATTR.redisSlot], keySlot(`{${sessionId}}`));
    assert.equal(script.attributes[ATTR.storeEngine], 'redis-cluster');
  });
});

test('a collector that never answers does not hold the shutdown', { timeout: 60_000 }, async () => {
  // Takes every export and never answers: without a limit, close() would wait out the export timeout (2 min).
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1/traces`;
    const server = await startTessera({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '120000' });
    assert.equal((await server.request('POST', '/v1/sessions', { body: {}, headers: { traceparent: upstream().traceparent } })).status, 201);
    await server.close();
    // Unregistered all the same: the next start may register its own provider.
    assert.equal(trace.getTracer('probe').startSpan('probe').isRecording(), false);
  } finally {
    silent.closeAllConnections();
    silent.close();
  }
});

describe('tracing off', () => {
  for (const [name, env] of [
    ['no OTLP endpoint configured', { OTEL_SERVICE_NAME: 'tessera', OTEL_TRACES_SAMPLER: 'always_on' }],
    ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true' }],
    ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none' }],
  ] as ReadonlyArray<readonly [string, Record<string, string>]>) {
    test(`${name}: no provider is registered, no span is sent and log lines carry no trace ids`, async () => {
      const receiver = await startOtlpReceiver();
      // The endpoint points at the receiver except where its absence is the point.
      const endpoint: Record<string, string> = name.startsWith('no OTLP') ? {} : { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' };
      const server = await startTessera({ ...endpoint, ...env });
      try {
        assert.equal(server.tessera.tracing, null);
        const probe = trace.getTracer('probe').startSpan('probe');
        assert.equal(probe.isRecording(), false);
        assert.equal(probe.spanContext().traceId, '00000000000000000000000000000000');
        probe.end();
        const incoming = upstream();
        assert.equal((await server.request('POST', '/v1/sessions', { body: {}, headers: { traceparent: incoming.traceparent } })).status, 201);
        assert.ok(server.logs.length > 0);
        assert.equal(server.logs.some((line) => line.includes('trace_id') || line.includes(incoming.traceId)), false);
      } finally {
        await server.close();
      }
      assert.equal(receiver.requests, 0);
      await receiver.close();
    });
  }
});

test('the attribute names are those of the semantic conventions package', () => {
  assert.deepEqual(
    [ATTR.httpRequestMethod, ATTR.httpRoute, ATTR.httpResponseStatusCode, ATTR.urlScheme, ATTR.errorType, ATTR.dbSystemName, ATTR.dbOperationName, ATTR.dbStoredProcedureName],
    [
      semconv.ATTR_HTTP_REQUEST_METHOD,
      semconv.ATTR_HTTP_ROUTE,
      semconv.ATTR_HTTP_RESPONSE_STATUS_CODE,
      semconv.ATTR_URL_SCHEME,
      semconv.ATTR_ERROR_TYPE,
      semconv.ATTR_DB_SYSTEM_NAME,
      semconv.ATTR_DB_OPERATION_NAME,
      semconv.ATTR_DB_STORED_PROCEDURE_NAME,
    ],
  );
});
