/**
 * Admission control at the edge, answered with 429 `rate-limited`:
 *   - a token bucket per API key (`TESSERA_RATE_LIMIT` requests per second,
 *     bursts up to one second's worth), off by default;
 *   - a cap on requests in flight per node (`TESSERA_MAX_IN_FLIGHT`), so that a
 *     surge is shed quickly with Retry-After instead of queueing until every
 *     request times out.
 */
import { TesseraError } from '../domain/errors.js';

export class TokenBuckets {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`; throws `rate-limited` when the bucket is empty. */
  take(key: string): void {
    const now = this.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.perSecond, at: now };
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.#buckets.set(key, bucket);
      throw new TesseraError('rate-limited', `over ${this.perSecond} requests per second for this API key; retry after a second`);
    }
    bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
  }
}

export class InFlightLimit {
  #inFlight = 0;

  constructor(private readonly max: number) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Admits a request or throws `rate-limited`; call `release` once it is answered. */
  admit(): void {
    if (this.#inFlight >= this.max) {
      throw new TesseraError('rate-limited', `this node is at its limit of ${this.max} requests in flight; retry shortly`);
    }
    this.#inFlight += 1;
  }

  release(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }
}
