/**
 * Prometheus metrics. Labels carry routes and outcomes only — never tokens,
 * keys, user ids or session ids.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReplicationObserver } from './replication/observer.js';

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

  readonly storeCallDuration = new Histogram({
    name: 'tessera_store_call_duration_seconds',
    help: 'Time of each call to a networked store (Redis, Redis Cluster), retries included, by script or command.',
    labelNames: ['call'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** The histogram's child per call, bound once: `labels()` builds and checks a labels object and two closures at each call. */
  readonly #storeCalls = new Map<string, Histogram.Internal<'call'>>();

  readonly storeReadBytes = new Histogram({
    name: 'tessera_store_read_bytes',
    help: 'Bytes of session data read from the store per call (sum / count = bytes per read).',
    buckets: [64, 256, 1024, 4096, 16384, 65536, 262144],
    registers: [this.registry],
  });

  readonly storeCertificateRefusals = new Counter({
    name: 'tessera_store_certificate_refusals_total',
    help: "Times the Redis servers refused this node's client certificate (TESSERA_REDIS_CERT, TESSERA_REDIS_KEY): calls that need the store answer 503 until it is renewed (docs/redis.md, \"TLS\").",
    registers: [this.registry],
  });

  // Global mode ------------------------------------------------------------------

  readonly replicationLagSeconds = new Gauge({
    name: 'tessera_replication_lag_seconds',
    help: 'Age of the last change applied from another region\'s stream (0 when caught up), by source region and stream.',
    labelNames: ['source_region', 'stream'] as const,
    registers: [this.registry],
  });

  readonly replicationLagChanges = new Gauge({
    name: 'tessera_replication_lag_changes',
    help: 'Changes in another region\'s stream not yet applied here, by source region and stream.',
    labelNames: ['source_region', 'stream'] as const,
    registers: [this.registry],
  });

  readonly replicationApplied = new Counter({
    name: 'tessera_replication_applied_total',
    help: 'Changes from other regions joined into this region\'s store, by source region.',
    labelNames: ['source_region'] as const,
    registers: [this.registry],
  });

  readonly replicationMerges = new Counter({
    name: 'tessera_replication_merges_total',
    help: 'What joining other regions\' changes did, per session and batch: merged, created, parked (waiting for its metadata), redirected, ignored (ended), unchanged (duplicates).',
    labelNames: ['source_region', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly replicationPublished = new Counter({
    name: 'tessera_replication_published_total',
    help: 'Writes published by the node that made them, by durability class and outcome (ok, timeout, error).',
    labelNames: ['class', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly replicationRelayed = new Counter({
    name: 'tessera_replication_relayed_total',
    help: 'Changes of the store\'s feed shipped to this region\'s streams by the relay.',
    registers: [this.registry],
  });

  readonly natsConnected = new Gauge({
    name: 'tessera_replication_nats_connected',
    help: '1 while this node is connected to NATS with its streams set up; 0 before that and while the connection is down (global writes answer 503). Global mode only.',
    labelNames: ['region'] as const,
    registers: [this.registry],
  });

  readonly natsDisconnects = new Counter({
    name: 'tessera_replication_nats_disconnects_total',
    help: 'Times this node lost its connection to NATS after having it (the client reconnects by itself).',
    registers: [this.registry],
  });

  readonly replicationLease = new Gauge({
    name: 'tessera_replication_lease',
    help: '1 while this node holds its region\'s replication lease (runs the relay, the appliers and the checks).',
    registers: [this.registry],
  });

  readonly replicaBehind = new Gauge({
    name: 'tessera_replication_replica_behind_messages',
    help: 'How many messages a stream replica is behind its leader, by stream and server (this region\'s streams).',
    labelNames: ['stream', 'server'] as const,
    registers: [this.registry],
  });

  readonly replicationRepaired = new Counter({
    name: 'tessera_replication_repaired_sessions_total',
    help: 'Sessions that differed from another region\'s and were exchanged by the repair, by peer region.',
    labelNames: ['peer'] as const,
    registers: [this.registry],
  });

  readonly replicationRepairRounds = new Counter({
    name: 'tessera_replication_repair_rounds_total',
    help: 'Periodic repair rounds with another region, by peer region and outcome (ok: compared, and what differed exchanged; failed: see the log).',
    labelNames: ['peer', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly replicationRepairSeconds = new Histogram({
    name: 'tessera_replication_repair_round_seconds',
    help: 'How long a periodic repair round with another region took, ok or failed, by peer region: it grows with the sessions a region holds.',
    labelNames: ['peer'] as const,
    // From a few sessions to hundreds of millions (hours: docs/PERFORMANCE.md, "What the repair reads").
    buckets: [0.1, 1, 10, 60, 300, 900, 3_600, 10_800, 43_200],
    registers: [this.registry],
  });

  readonly replicationRebuild = new Gauge({
    name: 'tessera_replication_repair_progress_ratio',
    help: 'Progress of the current repair round with a peer region (sessions of the differing buckets the peer has listed / how many it holds in them).',
    labelNames: ['peer'] as const,
    registers: [this.registry],
  });

  readonly authHomeLease = new Gauge({
    name: 'tessera_auth_home_lease',
    help: '1 while this node may order the auth changes of a home region\'s sessions (its region owns the home, and its heartbeats get through).',
    labelNames: ['home'] as const,
    registers: [this.registry],
  });

  readonly authFresh = new Gauge({
    name: 'tessera_auth_fresh',
    help: '1 while this node may answer token checks of other regions\' sessions from its region\'s copy (the freshness lease).',
    registers: [this.registry],
  });

  readonly authForwarded = new Counter({
    name: 'tessera_auth_forwarded_total',
    help: 'Auth changes (apply) and token checks (load) forwarded to the region that owns the session\'s home.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly authBarrier = new Histogram({
    name: 'tessera_auth_barrier_seconds',
    help: 'How long an auth change waited for every region to apply it (confirmed) or to lose its freshness (waited-out).',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5],
    registers: [this.registry],
  });

  readonly authFailedClosed = new Counter({
    name: 'tessera_auth_failed_closed_total',
    help: 'Token checks answered 503 because this region could neither trust its copy nor reach the session\'s home.',
    registers: [this.registry],
  });

  readonly authEpochStreamFaults = new Counter({
    name: 'tessera_auth_epoch_stream_faults_total',
    help: 'Times this node found the epoch stream (TESSERA_EPOCHS) without what it had read (went-back) or without a message within it (missing-message): NATS lost acknowledged records (docs/replication.md#runbook).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly authEpochConflicts = new Counter({
    name: 'tessera_auth_epoch_conflicts_total',
    help: 'Times this node was told a second record of an epoch of a home it knew, naming another owner: it keeps the first, but the other\'s region may order that home\'s auth changes too (docs/replication.md#runbook).',
    labelNames: ['home'] as const,
    registers: [this.registry],
  });

  readonly authEpochsLearned = new Counter({
    name: 'tessera_auth_epoch_records_learned_total',
    help: 'Epoch records this node took from a heartbeat, another region or an answer to the barrier before the epoch stream gave them (lost from the stream, or read there a moment later).',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
  }

  /**
   * What the global mode reports, as metrics. The counters of rare faults start at 0 for every
   * `regions`' home and kind: an alert on `increase()` sees no increase in a series whose first
   * sample is already 1, so the first fault of a node would go unseen.
   */
  replicationObserver(regions: readonly string[] = []): ReplicationObserver {
    for (const home of regions) this.authEpochConflicts.inc({ home }, 0);
    for (const kind of ['went-back', 'missing-message'] as const) this.authEpochStreamFaults.inc({ kind }, 0);
    return {
      published: (durability, outcome) => this.replicationPublished.inc({ class: durability, outcome }),
      relayed: (changes) => this.replicationRelayed.inc(changes),
      applied: (source, _stream, { changes, outcomes }) => {
        this.replicationApplied.inc({ source_region: source }, changes);
        for (const [outcome, count] of Object.entries(outcomes)) this.replicationMerges.inc({ source_region: source, outcome }, count);
      },
      lag: (source, stream, seconds, changes) => {
        this.replicationLagSeconds.set({ source_region: source, stream }, seconds);
        this.replicationLagChanges.set({ source_region: source, stream }, changes);
      },
      lease: (held) => this.replicationLease.set(held ? 1 : 0),
      natsConnection: (region, state) => {
        if (state === 'down') this.natsDisconnects.inc();
        this.natsConnected.set({ region }, state === 'up' ? 1 : 0);
      },
      replicaBehind: (stream, server, messages) => this.replicaBehind.set({ stream, server }, messages),
      repaired: (peer, sessions) => this.replicationRepaired.inc({ peer }, sessions),
      repairRound: (peer, outcome, seconds) => {
        this.replicationRepairRounds.inc({ peer, outcome });
        this.replicationRepairSeconds.observe({ peer }, seconds);
      },
      rebuildProgress: (peer, done, total) => this.replicationRebuild.set({ peer }, total === 0 ? 1 : done / total),
      forwarded: (kind) => this.authForwarded.inc({ kind }),
      barrier: (seconds, outcome) => this.authBarrier.observe({ outcome }, seconds),
      failedClosed: () => this.authFailedClosed.inc(),
      epochStreamFault: (kind) => this.authEpochStreamFaults.inc({ kind }),
      epochLearned: (source) => this.authEpochsLearned.inc({ source }),
      epochConflict: (home) => this.authEpochConflicts.inc({ home }),
      authLeases: (holds, fresh) => {
        for (const [home, held] of Object.entries(holds)) this.authHomeLease.set({ home }, held ? 1 : 0);
        this.authFresh.set(fresh ? 1 : 0);
      },
    };
  }

  /** One answered request; `route` is the route template (never the URL: no ids in labels). */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status_code: statusCode }, seconds);
  }

  /** One call to a networked store; `call` is the script's name or the command, a fixed set. */
  observeStoreCall(call: string, seconds: number): void {
    let child = this.#storeCalls.get(call);
    if (child === undefined) this.#storeCalls.set(call, (child = this.storeCallDuration.labels(call)));
    child.observe(seconds);
  }

  /** One L1 lookup of a part. */
  observeLookup(part: string, outcome: 'hit' | 'miss'): void {
    let counts = this.#lookups.get(part);
    if (counts === undefined) this.#lookups.set(part, (counts = { hit: 0, miss: 0 }));
    counts[outcome] += 1;
  }
}
