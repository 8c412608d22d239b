/**
 * Tracing settings from the standard OpenTelemetry variables (`OTEL_*`),
 * validated once at start-up like every other setting. Tracing is off — no
 * SDK loaded, no hook, no span — unless an OTLP endpoint is configured.
 * Values of OTEL_EXPORTER_OTLP_HEADERS (often an API key) and endpoints are
 * never echoed in an error.
 */

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export type SamplerName = (typeof SAMPLERS)[number];

export interface TracingSettings {
  /** Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
  readonly url: string;
  /** @default 'http/protobuf' (the specification's default) */
  readonly protocol: OtlpProtocol;
  /** Sent with every export (e.g. a collector's API key). Never logged. */
  readonly headers: Readonly<Record<string, string>>;
  /** One export's time limit. @default 10 000 */
  readonly timeoutMs: number;
  /** @default 'parentbased_always_on' */
  readonly sampler: SamplerName;
  /** The ratio of the `traceidratio` samplers, 0 to 1. @default 1 */
  readonly ratio: number;
  /** `service.name`. @default 'tessera' */
  readonly serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

export const DEFAULT_TRACING = {
  protocol: 'http/protobuf',
  timeoutMs: 10_000,
  sampler: 'parentbased_always_on',
  ratio: 1,
  serviceName: 'tessera',
} as const satisfies Partial<TracingSettings>;

/** Builds the error that names a bad variable (the configuration's `ConfigError`). */
export type Invalid = (variable: string, message: string) => Error;

/**
 * The tracing settings, or null when tracing is off: no endpoint,
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function parseTracing(read: (name: string) => string | undefined, invalid: Invalid): TracingSettings | null {
  if (read('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return null;
  const exporter = read('OTEL_TRACES_EXPORTER')?.toLowerCase() ?? 'otlp';
  if (exporter === 'none') return null;
  if (exporter !== 'otlp') throw invalid('OTEL_TRACES_EXPORTER', `"${exporter}" is not supported; use otlp (the default) or none`);

  const url = tracesUrl(read, invalid);
  if (url === null) return null;

  const protocolVariable = read('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = read(protocolVariable) ?? DEFAULT_TRACING.protocol;
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw invalid(protocolVariable, `"${protocol}" is not supported; use http/protobuf (the default) or http/json`);
  }

  const headersVariable = read('OTEL_EXPORTER_OTLP_TRACES_HEADERS') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_HEADERS' : 'OTEL_EXPORTER_OTLP_HEADERS';
  const timeoutVariable = read('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const timeoutText = read(timeoutVariable);
  const timeoutMs = timeoutText === undefined ? DEFAULT_TRACING.timeoutMs : Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) {
    throw invalid(timeoutVariable, `"${timeoutText}" must be milliseconds, an integer from 100 to 120000`);
  }

  const sampler = (read('OTEL_TRACES_SAMPLER')?.toLowerCase() ?? DEFAULT_TRACING.sampler) as SamplerName;
  if (!SAMPLERS.includes(sampler)) throw invalid('OTEL_TRACES_SAMPLER', `"${sampler}" must be one of ${SAMPLERS.join(', ')}`);
  const ratioText = read('OTEL_TRACES_SAMPLER_ARG');
  const ratio = ratioText === undefined || !sampler.endsWith('traceidratio') ? DEFAULT_TRACING.ratio : Number(ratioText);
  if (!(ratio >= 0 && ratio <= 1)) throw invalid('OTEL_TRACES_SAMPLER_ARG', `"${ratioText}" must be a ratio from 0 to 1 (e.g. 0.01 for 1 %)`);

  const resourceAttributes = keyValues(read('OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', invalid, true);
  return {
    url,
    protocol,
    headers: keyValues(read(headersVariable), headersVariable, invalid, false),
    timeoutMs,
    sampler,
    ratio,
    // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES, as the specification says.
    serviceName: read('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_TRACING.serviceName,
    resourceAttributes,
  };
}

function tracesUrl(read: (name: string) => string | undefined, invalid: Invalid): string | null {
  const signal = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = read('OTEL_EXPORTER_OTLP_ENDPOINT');
  const variable = signal !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const text = signal ?? base;
  if (text === undefined) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(variable, 'is not a URL; use e.g. http://otel-collector:4318');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(variable, 'must be an http:// or https:// URL (OTLP over gRPC is not supported; use the collector\'s HTTP port, 4318)');
  }
  // The signal-specific variable is used as is; the base one gets the traces path appended.
  return signal !== undefined ? text : `${text.replace(/\/+$/, '')}/v1/traces`;
}

/** `key=value,key2=value2` with percent-encoded values (W3C Baggage's format, as OTEL_*_HEADERS use it). */
function keyValues(text: string | undefined, variable: string, invalid: Invalid, echoKeys: boolean): Record<string, string> {
  const pairs: Record<string, string> = {};
  if (text === undefined) return pairs;
  for (const [i, item] of text.split(',').entries()) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    const key = at > 0 ? item.slice(0, at).trim() : '';
    if (key === '') throw invalid(variable, `entry ${i + 1} is not key=value`);
    try {
      pairs[key] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      // Header values may be secrets: name the entry, not its value.
      throw invalid(variable, `the value of ${echoKeys ? `"${key}"` : `entry ${i + 1}`} is not valid percent-encoding`);
    }
  }
  return pairs;
}
