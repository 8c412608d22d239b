/**
 * Prometheus metrics. Labels carry routes and outcomes only — never tokens,
 * keys, user ids or session ids.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly requestDuration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request latency by route template, method and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly sessionsCreated = new Counter({
    name: 'tessera_sessions_created_total',
    help: 'Sign-ins by outcome: a new session, a device joining the user\'s session, with or without a guest merge.',
    labelNames: ['kind', 'guest_merged'] as const,
    registers: [this.registry],
  });

  readonly tokenReuse = new Counter({
    name: 'tessera_token_reuse_total',
    help: 'Rotated-out tokens presented after their grace window (treated as theft: the device is revoked).',
    registers: [this.registry],
  });

  readonly problems = new Counter({
    name: 'tessera_problems_total',
    help: 'Error answers by problem type.',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  // Webhooks: an endpoint is labelled by its place in TESSERA_WEBHOOK_URLS (a URL may hold a secret).
  readonly webhooksQueued = new Counter({
    name: 'tessera_webhooks_queued_total',
    help: 'Session events taken from the change feed for delivery, per endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  readonly webhooksDelivered = new Counter({
    name: 'tessera_webhooks_delivered_total',
    help: 'Session events an endpoint accepted (answered 2xx), per endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  readonly webhooksFailed = new Counter({
    name: 'tessera_webhooks_failed_total',
    help: 'Session events given up after retrying for TESSERA_WEBHOOK_RETRY_FOR, per endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  readonly webhookAttemptFailures = new Counter({
    name: 'tessera_webhook_attempt_failures_total',
    help: 'Delivery attempts that failed (refused connection, timeout, non-2xx answer) and will be retried, per endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  readonly webhooksPending = new Gauge({
    name: 'tessera_webhooks_pending',
    help: 'Session events taken from the feed and not yet delivered or given up, per endpoint (the feed may hold more).',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  readonly sweptSessions = new Counter({
    name: 'tessera_swept_sessions_total',
    help: 'Expired sessions removed by the embedded engine\'s sweeper.',
    registers: [this.registry],
  });

  /** L1 lookups by part and outcome, counted here and handed to the counter when scraped (a labelled inc costs 0.4 µs). */
  readonly #lookups = new Map<string, { hit: number; miss: number }>();

  readonly cacheLookups: Counter<'part' | 'outcome'> = new Counter({
    name: 'tessera_cache_lookups_total',
    help: 'L1 lookups of session parts: a hit served the cached state after the store confirmed its version.',
    labelNames: ['part', 'outcome'] as const,
    registers: [this.registry],
    collect: () => {
      this.cacheLookups.reset();
      for (const [part, { hit, miss }] of this.#lookups) {
        this.cacheLookups.inc({ part, outcome: 'hit' }, hit);
        this.cacheLookups.inc({ part, outcome: 'miss' }, miss);
      }
    },
  });

  readonly storeReadBytes = new Histogram({
    name: 'tessera_store_read_bytes',
    help: 'Bytes of session data read from the store per call (sum / count = bytes per read).',
    buckets: [64, 256, 1024, 4096, 16384, 65536, 262144],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
  }

  /** One answered request; `route` is the route template (never the URL: no ids in labels). */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status_code: statusCode }, seconds);
  }

  /** One L1 lookup of a part. */
  observeLookup(part: string, outcome: 'hit' | 'miss'): void {
    let counts = this.#lookups.get(part);
    if (counts === undefined) this.#lookups.set(part, (counts = { hit: 0, miss: 0 }));
    counts[outcome] += 1;
  }
}
