/**
 * The freshness leases of one node, one per other region: may this node
 * answer token checks of the sessions that region orders from its own
 * region's copy? Only while that copy has applied every auth change that
 * region has published — checked against its global streams' last sequences
 * every `CHECK_MS` — and for `FRESH_MS` after the check began, by this node's
 * monotonic clock, and while a write of this node's (its heartbeat) that
 * began under `FRESH_MS` ago was acknowledged by a majority of regions — a
 * server cut off from the others may still answer as a leader that has been
 * replaced. (One lease per region: a region whose streams are between
 * leaders does not make the others' sessions unanswerable.) A node cut off from the other regions, or
 * whose region lags, stops being fresh by itself within `FRESH_MS`; that is
 * also how long a revocation waits for a region that does not confirm it
 * (`barrier` in `auth.ts`): any freshness begun after the revocation was
 * acknowledged requires it applied.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { streamName } from './layout.js';
import type { ReplicationSettings } from './settings.js';

/** How long a successful check keeps a node fresh. */
export const FRESH_MS = 1_500;
const CHECK_MS = 200;

export class Freshness {
  readonly #freshUntil = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly settings: ReplicationSettings,
    /** This region's applied position of a stream. */
    private readonly position: (stream: string) => Promise<number>,
    /**
     * When this node's last write that a majority of regions acknowledged began (monotonic ms;
     * `HomeOwnership.lastAcknowledged`). A server cut off from the others may still answer
     * stream info as a leader that has been replaced: only a node whose writes get through is
     * known to read the real leader's view.
     */
    private readonly lastAcknowledged: () => number,
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.#check(), CHECK_MS);
    void this.#check();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * Whether this node may trust its region's copy for the auth changes another
   * region (`origin`) orders: a check begun under `FRESH_MS` ago found every
   * one of them applied, and a write of this node's that began under `FRESH_MS`
   * ago was acknowledged by a majority of regions.
   */
  fresh(origin: string): boolean {
    if (origin === this.settings.region) return false;
    const now = performance.now();
    return now < (this.#freshUntil.get(origin) ?? -Infinity) && now < this.lastAcknowledged() + FRESH_MS;
  }

  /** Whether it is fresh for every other region (for metrics). */
  freshEverywhere(): boolean {
    return this.settings.regions.every((origin) => origin === this.settings.region || this.fresh(origin));
  }

  async #check(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await Promise.all(this.settings.regions.filter((origin) => origin !== this.settings.region).map((origin) => this.#checkOrigin(origin)));
    } finally {
      this.#busy = false;
    }
  }

  async #checkOrigin(origin: string): Promise<void> {
    const began = performance.now();
    try {
      for (let shard = 0; shard < this.settings.shards; shard += 1) {
        const stream = streamName({ origin, durability: 'global', shard });
        const last = (await this.jsm.streams.info(stream)).state.last_seq;
        if ((await this.position(stream)) < last) return;
      }
      this.#freshUntil.set(origin, began + FRESH_MS);
    } catch {
      // Not confirmed: freshness runs out by itself.
    }
  }
}
