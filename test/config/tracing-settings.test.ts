/** The OTEL_* variables as loadConfig reads them: off by default, defaults, and bad values named. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const BASE = { TESSERA_API_KEYS: 'app:app-key-0123456789abcdef' };
const tracingOf = (env: Record<string, string>) => loadConfig({ ...BASE, ...env }).tracing;

describe('tracing settings', () => {
  test('tracing is off without an OTLP endpoint, whatever else is set', () => {
    assert.equal(tracingOf({}), null);
    assert.equal(tracingOf({ OTEL_SERVICE_NAME: 'shop-sessions', OTEL_TRACES_SAMPLER: 'always_on' }), null);
    assert.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }), null);
    assert.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }), null);
  });

  test('the base endpoint gets /v1/traces; the traces endpoint is used as is and wins', () => {
    assert.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })?.url, 'http://collector:4318/v1/traces');
    assert.equal(
      tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' })?.url,
      'https://b/otlp/traces',
    );
  });

  test('defaults follow the specification', () => {
    assert.deepEqual(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), {
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      sampler: 'parentbased_always_on',
      ratio: 1,
      serviceName: 'tessera',
      resourceAttributes: {},
    });
  });

  test('sampler, ratio, protocol, headers, timeout and resource are read', () => {
    const settings = tracingOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D,tenant=shop',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.01',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=from-resource',
    });
    assert.deepEqual(settings && [settings.protocol, settings.headers, settings.timeoutMs, settings.sampler, settings.ratio, settings.serviceName], [
      'http/json',
      { 'x-api-key': 'abc==', tenant: 'shop' },
      2500,
      'parentbased_traceidratio',
      0.01,
      'from-resource',
    ]);
    assert.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SERVICE_NAME: 'mine', OTEL_RESOURCE_ATTRIBUTES: 'service.name=other' })?.serviceName, 'mine');
  });

  for (const [variable, value, message] of [
    ['OTEL_TRACES_SAMPLER', 'sometimes', /OTEL_TRACES_SAMPLER: "sometimes" must be one of always_on/],
    ['OTEL_TRACES_SAMPLER_ARG', '2', /OTEL_TRACES_SAMPLER_ARG: "2" must be a ratio from 0 to 1/],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'grpc', /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" is not supported; use http\/protobuf/],
    ['OTEL_TRACES_EXPORTER', 'zipkin', /OTEL_TRACES_EXPORTER: "zipkin" is not supported/],
    ['OTEL_EXPORTER_OTLP_TIMEOUT', 'soon', /OTEL_EXPORTER_OTLP_TIMEOUT: "soon" must be milliseconds/],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'grpc://collector:4317', /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/],
  ] as const) {
    test(`a bad ${variable} stops the start and names the variable`, () => {
      const env = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', [variable]: value };
      assert.throws(() => tracingOf(env), (error: unknown) => error instanceof ConfigError && error.variable === variable && message.test(error.message));
    });
  }

  test('a malformed header never echoes its value (it may be a collector key)', () => {
    const secret = 'sk_live_%zz';
    assert.throws(
      () => tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_HEADERS: `authorization=${secret}` }),
      (error: unknown) =>
        error instanceof ConfigError && error.variable === 'OTEL_EXPORTER_OTLP_HEADERS' && !error.message.includes('sk_live') && !error.message.includes('authorization'),
    );
  });
});
