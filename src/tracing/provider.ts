/**
 * The OpenTelemetry SDK, set up from `TracingSettings`: a Node tracer provider
 * (AsyncLocalStorage context, W3C trace-context propagation), the configured
 * sampler, and a batching OTLP/HTTP exporter. Loaded only when tracing is
 * configured (`tessera.ts` imports this module on demand).
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { SamplerName, TracingSettings } from './settings.js';

/** The instrumentation scope of every span Tessera makes. */
export const TRACER_NAME = 'tessera';

/**
 * The longest a shutdown waits for the last spans to be exported: a collector
 * that does not answer must not hold the drain past its deadline (10 s, after
 * which the process exits 1); spans not sent by then are dropped.
 */
export const FLUSH_LIMIT_MS = 3_000;

export interface Tracing {
  readonly tracer: Tracer;
  /** Exports the spans still queued (graceful shutdown), then unregisters the provider. */
  shutdown(): Promise<void>;
}

function samplerOf(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * Starts the SDK and registers it as the process's provider, context manager
 * and propagator (the API is global: one tracing setup per process).
 */
export function startTracing(settings: TracingSettings, instanceId: string): Tracing {
  const exporterConfig = { url: settings.url, headers: { ...settings.headers }, timeoutMillis: settings.timeoutMs };
  const exporter = settings.protocol === 'http/json' ? new JsonExporter(exporterConfig) : new ProtobufExporter(exporterConfig);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      ...settings.resourceAttributes,
      [ATTR_SERVICE_NAME]: settings.serviceName,
      // The node id (TESSERA_NODE_ID), as in the Tessera-Node header and the logs.
      [ATTR_SERVICE_INSTANCE_ID]: instanceId,
    }),
    sampler: samplerOf(settings.sampler, settings.ratio),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  let stopped: Promise<void> | null = null;
  return {
    tracer: trace.getTracer(TRACER_NAME),
    shutdown() {
      stopped ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, FLUSH_LIMIT_MS).unref();
        });
        // An export that fails is the collector's problem, not a reason to fail the shutdown.
        await Promise.race([provider.shutdown().catch(() => undefined), limit]);
        clearTimeout(timer);
        trace.disable();
        context.disable();
        propagation.disable();
      })();
      return stopped;
    },
  };
}
