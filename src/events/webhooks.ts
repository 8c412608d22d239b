/**
 * Webhook delivery of session events (Standard Webhooks), from the change
 * feed's `events` consumer: read a batch of changes, derive their events
 * (`session-events.ts`), deliver each to every endpoint — signed, retried
 * with exponential backoff until it is accepted or `retryForMs` has passed —
 * and only then acknowledge the batch. So a restart, or an endpoint that is
 * down, loses nothing: what was not acknowledged is read again
 * (at-least-once; receivers de-duplicate by `webhook-id`).
 *
 * This runs beside the request path, never in it: a request only commits its
 * change (with its feed entry, as it always does); nothing in a request waits
 * for a delivery.
 *
 * Nodes that share a store take turns through the consumer's lease, so each
 * event normally goes out once; a node that dies is replaced once its lease
 * lapses, and may repeat what it had not acknowledged.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { Agent, request } from 'undici';
import type { Metrics } from '../metrics.js';
import type { ChangeFeed } from '../store/feed.js';
import type { SessionStore } from '../store/session-store.js';
import { eventsOf, type SessionEvent } from './session-events.js';
import { signDelivery } from './webhook-signature.js';

/** The feed consumer webhooks are delivered from. */
export const EVENTS_CONSUMER = 'events';

export interface WebhookOptions {
  /** Endpoints; every event goes to each. */
  readonly urls: readonly string[];
  /** Signing keys (`webhookKey`): every delivery carries one signature per key. */
  readonly keys: readonly Buffer[];
  /** Time limit of one attempt. @default 10 s */
  readonly timeoutMs: number;
  /** Wait before the first retry; it doubles, up to `maxBackoffMs`. @default 1 s */
  readonly backoffMs: number;
  /** @default 5 min */
  readonly maxBackoffMs: number;
  /** An event not accepted this long after its first attempt is given up (and counted failed). @default 3 days */
  readonly retryForMs: number;
}

export const DEFAULT_WEBHOOK_TIMING = Object.freeze({ timeoutMs: 10_000, backoffMs: 1_000, maxBackoffMs: 300_000, retryForMs: 3 * 86_400_000 });

/** Changes read per batch, and deliveries in flight per endpoint. */
const BATCH = 100;
const CONCURRENCY = 8;
const LEASE_MS = 30_000;

class Stopped extends Error {}

export class WebhookDelivery {
  readonly #feed: ChangeFeed;
  readonly #store: SessionStore;
  readonly #options: WebhookOptions;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #holder: string;
  readonly #agent: Agent;
  readonly #stop = new AbortController();
  readonly #users = new LRUCache<string, { userId: string | null }>({ max: 10_000 });
  #held = false;
  #loop: Promise<void> | null = null;
  #renewal: NodeJS.Timeout | null = null;

  constructor(feed: ChangeFeed, store: SessionStore, options: WebhookOptions, context: { metrics: Metrics; logger: Logger; nodeId: string }) {
    this.#feed = feed;
    this.#store = store;
    this.#options = options;
    this.#metrics = context.metrics;
    this.#log = context.logger.child({ channel: 'webhooks' });
    this.#holder = `${context.nodeId}/${randomBytes(4).toString('hex')}`;
    this.#agent = new Agent({ connect: { timeout: options.timeoutMs }, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
    options.urls.forEach((_, i) => this.#metrics.webhooksPending.set({ endpoint: String(i) }, 0));
  }

  start(): void {
    if (this.#loop !== null) return;
    this.#renewal = setInterval(() => void this.#renew(), LEASE_MS / 3);
    this.#renewal.unref();
    this.#loop = this.#run();
  }

  /** Stops reading and abandons deliveries in flight: what was not acknowledged is read again at the next start. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#renewal !== null) clearInterval(this.#renewal);
    await this.#loop;
    // Give the lease up, so that the node that delivers next (this one restarted, or another) need not wait for it to lapse.
    if (this.#held) await this.#feed.lease(EVENTS_CONSUMER, this.#holder, 0).catch(() => undefined);
    await this.#agent.close();
  }

  async #renew(): Promise<boolean> {
    try {
      this.#held = await this.#feed.lease(EVENTS_CONSUMER, this.#holder, LEASE_MS);
    } catch (error) {
      this.#log.warn({ err: error }, 'could not renew the webhook delivery lease; will try again');
      this.#held = false;
    }
    return this.#held;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        if (!this.#held && !(await this.#renew())) {
          // Another node delivers; take over when its lease lapses.
          await sleep(LEASE_MS / 3, undefined, { signal });
          continue;
        }
        const entries = await this.#feed.read(EVENTS_CONSUMER, BATCH, 1_000);
        if (entries.length === 0 || signal.aborted) continue;
        const events = (await Promise.all(entries.map((entry) => eventsOf(entry.change, (id) => this.#userOf(id))))).flat();
        await Promise.all(this.#options.urls.map((url, endpoint) => this.#deliverAll(url, String(endpoint), events)));
        await this.#feed.ack(EVENTS_CONSUMER, entries);
      } catch (error) {
        if (signal.aborted) break;
        // The store failed (or is gone): nothing was acknowledged; read the same again later.
        this.#log.warn({ err: error }, 'webhook delivery could not read or acknowledge the change feed; retrying');
        await sleep(1_000, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  async #userOf(sessionId: string): Promise<string | null> {
    const known = this.#users.get(sessionId);
    if (known !== undefined) return known.userId;
    const userId = (await this.#store.snapshot(sessionId))?.meta.userId ?? null;
    this.#users.set(sessionId, { userId });
    return userId;
  }

  /** Every event to one endpoint, a few at a time; resolves once each is delivered or given up. */
  async #deliverAll(url: string, endpoint: string, events: readonly SessionEvent[]): Promise<void> {
    const labels = { endpoint };
    this.#metrics.webhooksQueued.inc(labels, events.length);
    this.#metrics.webhooksPending.inc(labels, events.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < events.length) {
        const event = events[next++]!;
        try {
          await this.#deliver(url, endpoint, event);
        } finally {
          this.#metrics.webhooksPending.dec(labels);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, events.length) }, worker));
  }

  async #deliver(url: string, endpoint: string, event: SessionEvent): Promise<void> {
    const body = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
    const signal = this.#stop.signal;
    const first = Date.now();
    for (let attempt = 0; ; attempt += 1) {
      if (signal.aborted) throw new Stopped();
      const timestamp = Math.floor(Date.now() / 1000);
      let failure: string;
      try {
        const answer = await request(url, {
          method: 'POST',
          dispatcher: this.#agent,
          signal,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Tessera-Webhooks/1',
            'webhook-id': event.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signDelivery(this.#options.keys, event.id, timestamp, body),
          },
          body,
        });
        await answer.body.dump();
        if (answer.statusCode >= 200 && answer.statusCode < 300) {
          this.#metrics.webhooksDelivered.inc({ endpoint });
          return;
        }
        failure = `HTTP ${answer.statusCode}`;
      } catch (error) {
        if (signal.aborted) throw new Stopped();
        failure = (error as { code?: string }).code ?? (error as Error).name;
      }
      this.#metrics.webhookAttemptFailures.inc({ endpoint });
      if (Date.now() - first >= this.#options.retryForMs) {
        this.#metrics.webhooksFailed.inc({ endpoint });
        // No URL in the log: it may carry a secret.
        this.#log.error({ endpoint, id: event.id, type: event.type, attempts: attempt + 1, failure }, 'webhook given up');
        return;
      }
      const delay = Math.min(this.#options.backoffMs * 2 ** attempt, this.#options.maxBackoffMs);
      this.#log.debug({ endpoint, id: event.id, attempt: attempt + 1, failure, retryInMs: delay }, 'webhook attempt failed');
      // Jitter, so that endpoints coming back are not met by every retry at once.
      await sleep(delay * (0.8 + Math.random() * 0.4), undefined, { signal }).catch(() => undefined);
    }
  }
}
