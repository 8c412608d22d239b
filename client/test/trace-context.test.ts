/**
 * A trace that reaches the app continues through Tessera: the middleware (and
 * `withTraceContext`) send the incoming W3C trace context with every call.
 * Checked end to end: a Tessera process traced into a real OTLP/HTTP receiver,
 * whose request spans must be children of the span the app was called from.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { TesseraClient, traceContextOf, withTraceContext } from '../src/index.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../test/support/otlp-receiver.js';
import { startExpressApp, startFastifyApp } from './support/apps.js';
import { APP_KEY, startTesseraProcess, type TesseraProcess } from './support/tessera-process.js';
import { Visitor } from './support/visitor.js';

const SERVER = 2;

function incoming(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

describe('traceContextOf', () => {
  for (const [name, value] of [
    ['missing', undefined],
    ['malformed', 'not-a-traceparent'],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`],
    ['an unknown version', `ff-${'1'.repeat(32)}-${'1'.repeat(16)}-01`],
  ] as const) {
    it(`drops a traceparent that is ${name}`, () => assert.equal(traceContextOf(value), undefined));
  }

  it('keeps a valid traceparent, lower-cased, with its tracestate', () => {
    assert.deepEqual(traceContextOf(`00-${'A'.repeat(32)}-${'b'.repeat(16)}-01`, ' vendor=1 '), {
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      tracestate: 'vendor=1',
    });
  });
});

describe('trace context through Tessera', () => {
  let receiver: OtlpReceiver;
  let server: TesseraProcess;
  let tessera: TesseraClient;
  const direct = incoming();
  const express = incoming();
  const fastify = incoming();
  const notForwarded = incoming();

  before(async () => {
    receiver = await startOtlpReceiver();
    server = await startTesseraProcess({
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' },
    });
    tessera = new TesseraClient({ endpoints: server.url, apiKey: APP_KEY });
    await withTraceContext(traceContextOf(direct.traceparent), () => tessera.createSession());
    for (const [start, trace, options] of [
      [startExpressApp, express, {}],
      [startFastifyApp, fastify, {}],
      [startExpressApp, notForwarded, { forwardTraceContext: false }],
    ] as const) {
      const app = await start(tessera, options);
      try {
        const added = await new Visitor(app.url).post('/cart/add', { form: { sku: 'mug' }, headers: { traceparent: trace.traceparent } });
        assert.equal(added.status, 200, added.text);
      } finally {
        await app.close();
      }
    }
    await tessera.close();
    // SIGTERM: the graceful shutdown exports the spans still queued.
    await server.close();
  });
  after(() => receiver.close());

  const requestSpans = (traceId: string): ReceivedSpan[] => receiver.spans.filter((s) => s.kind === SERVER && s.traceId === traceId);

  it('a call made within withTraceContext is a child of the given span', () => {
    assert.deepEqual(requestSpans(direct.traceId).map((s) => [s.name, s.parentSpanId]), [['POST /v1/sessions', direct.spanId]]);
  });

  for (const [framework, trace] of [['Express', express], ['Fastify', fastify]] as const) {
    it(`the ${framework} middleware sends the incoming trace context with every call of the request`, () => {
      const spans = requestSpans(trace.traceId);
      // The guest session is created, then the line added: two calls, both in the visitor's trace.
      assert.deepEqual(spans.map((s) => s.name).sort(), ['POST /v1/session/cart/items', 'POST /v1/sessions']);
      for (const span of spans) assert.equal(span.parentSpanId, trace.spanId);
    });
  }

  it('forwardTraceContext: false sends none: Tessera starts traces of its own', () => {
    assert.equal(requestSpans(notForwarded.traceId).length, 0);
    const roots = receiver.spans.filter((s) => s.kind === SERVER && s.parentSpanId === '');
    assert.deepEqual(roots.map((s) => s.name).sort(), ['POST /v1/session/cart/items', 'POST /v1/sessions']);
  });
});
