/**
 * Ships the store's change feed, in order, to this region's regional streams.
 * Everything the region commits goes out this way — including changes a
 * writer already published (de-duplicated by JetStream) and changes whose
 * writer crashed or timed out before publishing. Entries are acknowledged in
 * the feed only once JetStream has acknowledged them: a crash loses nothing,
 * at worst it sends some twice.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { changeId } from '../domain/parts.js';
import type { SessionStore } from '../store/session-store.js';
import { encodeChange, shardOf, subjectOf } from './layout.js';
import type { ReplicationObserver } from './observer.js';
import type { ReplicationSettings } from './settings.js';

export const FEED_CONSUMER = 'replication';
const BATCH = 256;
const PUBLISH_TIMEOUT_MS = 5_000;

export class Relay {
  #running: Promise<void> | null = null;
  #stopping = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly store: SessionStore,
    private readonly settings: ReplicationSettings,
    private readonly logger: Logger,
    private readonly observer: ReplicationObserver,
  ) {}

  start(): void {
    if (this.#running !== null) return;
    this.#stopping = false;
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#running;
  }

  async #loop(): Promise<void> {
    const feed = this.store.feed;
    if (feed === null) return;
    let failures = 0;
    while (!this.#stopping) {
      try {
        const entries = await feed.read(FEED_CONSUMER, BATCH, 500);
        if (entries.length === 0) continue;
        await Promise.all(
          entries.map(({ change }) => {
            const subject = subjectOf({ origin: this.settings.region, durability: 'regional', shard: shardOf(change.sessionId, this.settings.shards) });
            return this.js.publish(subject, encodeChange(change), { msgID: changeId(change), timeout: PUBLISH_TIMEOUT_MS });
          }),
        );
        await feed.ack(FEED_CONSUMER, entries);
        this.observer.relayed(entries.length);
        failures = 0;
      } catch (error) {
        failures += 1;
        // Once, then every tenth time: NATS being away is logged, not flooded.
        if (failures === 1 || failures % 10 === 0) this.logger.warn({ err: error, failures }, 'relaying the change feed to NATS failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** Math.min(failures, 4), 4_000)));
      }
    }
  }
}
