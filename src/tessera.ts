/**
 * The composition root: wires configuration, store, service and HTTP app.
 * `main.ts` runs it as a process; tests build it in-process.
 */
import type { FastifyInstance } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { Config } from './config/config.js';
import { ADMIN_LISTENER, explainListenError } from './config/diagnostics.js';
import { HybridLogicalClock, nodeOrigin } from './domain/hlc.js';
import { buildAdminApp } from './http/admin-app.js';
import { buildHttpApp } from './http/app.js';
import { Metrics } from './metrics.js';
import { createLogger } from './logging.js';
import { FEED_CONSUMER } from './replication/relay.js';
import { Replicator } from './replication/replicator.js';
import { SessionService } from './service/session-service.js';
import { openStore } from './store/open-store.js';
import type { SessionStore, StoreSettings } from './store/session-store.js';
import { Sweeper } from './sweeper.js';
import { CachedStore } from './cache/cached-store.js';
import { ApiKeyRing, SCOPE_ALIASES, apiKey, generateApiKeySecret } from './tokens/api-keys.js';
import { DEFAULT_WEBHOOK_TIMING, EVENTS_CONSUMER, WebhookDelivery } from './events/webhooks.js';
import { webhookKey } from './events/webhook-signature.js';
import type { Tracing } from './tracing/provider.js';
import { TracedStore } from './tracing/traced-store.js';

export interface Tessera {
  /** The API listener's app: `/v1`, `/healthz`, `/readyz`, `/problems/…`. */
  readonly app: FastifyInstance;
  /** The management listener's app: `/metrics`, `/openapi.json`, `/docs`, `/healthz`, `/readyz`. */
  readonly adminApp: FastifyInstance;
  readonly store: SessionStore;
  readonly service: SessionService;
  readonly metrics: Metrics;
  readonly sweeper: Sweeper | null;
  /** The global mode, when configured (`TESSERA_NATS_URL`). */
  readonly replicator: Replicator | null;
  /** Session events as webhooks, when TESSERA_WEBHOOK_URLS is set; delivering once listening. */
  readonly webhooks: WebhookDelivery | null;
  /** OpenTelemetry tracing, when configured (`OTEL_EXPORTER_OTLP_ENDPOINT`…); null: off, no provider registered. */
  readonly tracing: Tracing | null;
  /** Set when no API key was configured: the one generated for this run. */
  readonly generatedApiKey: string | null;
  /**
   * Starts both listeners; resolves to the API listener's address. A failure of the
   * management listener is a `StartupError` naming TESSERA_ADMIN_HOST/TESSERA_ADMIN_PORT.
   */
  listen(): Promise<string>;
  /** The management listener's address, once listening. */
  readonly adminAddress: string | null;
  /** Stops taking requests, lets in-flight ones finish, closes the store. */
  close(): Promise<void>;
}

export interface TesseraOptions {
  readonly logger?: Logger;
  readonly now?: () => number;
}

export async function createTessera(config: Config, options: TesseraOptions = {}): Promise<Tessera> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // What the start has opened so far, closed newest first if a later step fails: a failed start
  // leaves no connection, consumer or exporter behind in the process that asked for it.
  const opened: Array<() => Promise<unknown>> = [];
  try {
    return await assemble(config, options, logger, opened);
  } catch (error) {
    for (const close of opened.reverse()) {
      await close().catch((closeError: unknown) => logger.warn({ err: closeError }, 'closing what a failed start had opened'));
    }
    throw error;
  }
}

async function assemble(config: Config, options: TesseraOptions, logger: Logger, opened: Array<() => Promise<unknown>>): Promise<Tessera> {
  const now = options.now ?? Date.now;
  const metrics = new Metrics();
  // Loaded only when configured: with tracing off, no SDK, no hook and no span exist.
  const tracing = config.tracing === null ? null : (await import('./tracing/provider.js')).startTracing(config.tracing, config.nodeId);
  if (tracing !== null) opened.push(() => tracing.shutdown());
  const storeSettings: StoreSettings = {
    idleTimeoutMs: config.idleTimeoutMs,
    slideAfterMs: config.slideAfterMs,
    limits: config.limits,
    origin: config.region,
    horizonMs: config.horizonMs,
    // The global mode ships the feed and webhooks are delivered from it; with neither, nothing reads it and nothing is appended.
    feedConsumers: [...(config.replication === null ? [] : [FEED_CONSUMER]), ...(config.webhooks === null ? [] : [EVENTS_CONSUMER])],
    onBytesRead: (bytes) => metrics.storeReadBytes.observe(bytes),
    onCallTimed: (call, seconds) => metrics.observeStoreCall(call, seconds),
    onCertificateRefused: certificateRefusalReport(logger.child({ channel: 'store' }), () => metrics.storeCertificateRefusals.inc()),
    ...(tracing === null ? {} : { tracer: tracing.tracer }),
  };
  const engine = await openStore(config.store, storeSettings);
  // Spans under the L1 cache: a store span is a real round trip to the engine.
  const traced = tracing === null ? engine : new TracedStore(engine, tracing.tracer);
  const store = config.l1.enabled
    ? new CachedStore(traced, config.limits.historyItems, config.l1, { lookup: (part, outcome) => metrics.observeLookup(part, outcome) })
    : traced;
  opened.push(() => store.close());
  // Stamps carry the node, so no two nodes issue equal ones; the region stays the writer in CRDT state.
  const clock = new HybridLogicalClock(nodeOrigin(config.region, randomBytes(6).toString('base64url')), now);
  const replicator =
    config.replication === null
      ? null
      : await Replicator.start({ ...config.replication, nodeId: config.nodeId }, storeSettings, store, clock, logger.child({ channel: 'replication' }), metrics.replicationObserver(config.replication.regions));
  if (replicator !== null) opened.push(() => replicator.close());
  const security = logger.child({ channel: 'security' });
  const service = new SessionService(
    store,
    clock,
    {
      idleTimeoutMs: config.idleTimeoutMs,
      absoluteTimeoutMs: config.absoluteTimeoutMs,
      rotationGraceMs: config.rotationGraceMs,
      slideAfterMs: config.slideAfterMs,
      region: config.region,
      limits: config.limits,
      transient: config.transient,
      deviceLimitAction: config.deviceLimitAction,
      addressPrefixes: config.addressPrefixes,
    },
    {
      tokenReuse: ({ sessionId, deviceId }) => {
        metrics.tokenReuse.inc();
        security.warn({ event: 'token.reuse', sessionId, deviceId }, 'rotated-out token reused after its grace window: device revoked');
      },
      sessionCreated: ({ joined, guestMerged }) => {
        metrics.sessionsCreated.inc({ kind: joined ? 'joined' : 'created', guest_merged: String(guestMerged) });
      },
    },
    { now, replication: replicator },
  );

  const generatedApiKey = config.apiKeys.length === 0 ? generateApiKeySecret() : null;
  const specs = generatedApiKey === null ? config.apiKeys : [{ name: 'generated', secret: generatedApiKey, scopes: SCOPE_ALIASES.admin }];
  const keys = new ApiKeyRing(specs.map(apiKey));

  let draining = false;
  // `/readyz` says whether the global mode can publish yet (it does not wait for it: the region serves meanwhile).
  const linked = replicator;
  const replication = linked === null ? undefined : () => (linked.connected ? ('connected' as const) : ('connecting' as const));
  const app = await buildHttpApp({ service, store, keys, limits: config.limits, metrics, logger, draining: () => draining,
    ...(replication ? { replication } : {}),
    tracer: tracing?.tracer ?? null,
    nodeId: config.nodeId,
    now,
    admission: { rateLimitPerKey: config.rateLimitPerKey, maxInFlight: config.maxInFlight, authFailuresPerMinute: config.authFailuresPerMinute },
    timeouts: config.timeouts,
  });
  opened.push(() => app.close());
  // Every route is registered: the OpenAPI document is complete, for the management listener to serve.
  await app.ready();
  const adminApp = await buildAdminApp({
    store,
    metrics,
    logger,
    draining: () => draining,
    ...(replication ? { replication } : {}),
    nodeId: config.nodeId,
    openapi: app.swagger() as unknown as Readonly<Record<string, unknown>>,
    timeouts: config.timeouts,
  });
  opened.push(() => adminApp.close());
  let adminAddress: string | null = null;
  const sweeper = store.engine === 'sqlite' ? new Sweeper(store, config.sweepIntervalMs, logger, (n) => metrics.sweptSessions.inc(n)) : null;
  const webhooks =
    config.webhooks === null || engine.feed === null
      ? null
      : new WebhookDelivery(
          engine.feed,
          store,
          {
            ...DEFAULT_WEBHOOK_TIMING,
            urls: config.webhooks.urls,
            keys: config.webhooks.secrets.map((secret) => webhookKey(secret)!),
            timeoutMs: config.webhooks.timeoutMs,
            backoffMs: config.webhooks.backoffMs,
            retryForMs: config.webhooks.retryForMs,
          },
          { metrics, logger, nodeId: config.nodeId },
        );

  return {
    app,
    adminApp,
    get adminAddress() {
      return adminAddress;
    },
    store,
    service,
    metrics,
    sweeper,
    replicator,
    webhooks,
    tracing,
    generatedApiKey,
    async listen() {
      // Without configured keys the generated one is printed once: never expose that beyond loopback.
      const host = generatedApiKey === null ? config.host : '127.0.0.1';
      const address = await app.listen({ port: config.port, host });
      try {
        adminAddress = await adminApp.listen({ port: config.admin.port, host: config.admin.host });
      } catch (error) {
        await app.close();
        throw explainListenError(config.admin, error, ADMIN_LISTENER);
      }
      sweeper?.start();
      webhooks?.start();
      return address;
    },
    async close() {
      draining = true;
      // Readiness now fails and every answer closes its connection: give balancers and clients time to move.
      if (config.shutdownDelayMs > 0) await sleep(config.shutdownDelayMs);
      await sweeper?.stop();
      await Promise.all([app.close(), adminApp.close()]);
      // In-flight writes have published; the relay stops after its current batch (the rest waits in the feed).
      await replicator?.close();
      // After the last request: its change is in the feed, delivered by this node's next start or another node.
      await webhooks?.stop();
      await store.close();
      // Last: the spans of the final requests and store calls are exported before the process exits.
      await tracing?.shutdown();
    },
  };
}

/**
 * The store's refusals of this node's client certificate while it runs: each counted (the
 * metric the alert reads), and logged, the first at once, then at most one line a minute with how
 * many came meanwhile (a refused node retries about once a second, D95).
 */
function certificateRefusalReport(logger: Logger, count: () => void): (alert: string) => void {
  let loggedAt = -Infinity;
  let refusals = 0;
  return (alert) => {
    count();
    refusals += 1;
    if (Date.now() - loggedAt < 60_000) return;
    logger.error(
      { alert, refusals, variables: ['TESSERA_REDIS_CERT', 'TESSERA_REDIS_KEY'] },
      "the Redis servers refuse this node's client certificate: calls that need the store answer 503 until it is renewed in TESSERA_REDIS_CERT and TESSERA_REDIS_KEY, which the node reads again by itself",
    );
    loggedAt = Date.now();
    refusals = 0;
  };
}
