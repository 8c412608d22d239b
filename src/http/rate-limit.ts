/**
 * Admission control at the edge, answered with 429 `rate-limited`:
 *   - a token bucket of failed API-key authentications per client address
 *     (`TESSERA_AUTH_FAILURE_LIMIT` per minute), so keys cannot be guessed at speed;
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

/**
 * The address a limit per client applies to: an IPv4 address as it is (an
 * IPv4-mapped IPv6 address as IPv4), an IPv6 address by its /64 prefix — one
 * host usually holds a whole /64, and counting its addresses one by one would
 * give it 2^64 allowances.
 */
export function clientAddressKey(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  const [head = '', tail] = address.split('::', 2);
  const before = head === '' ? [] : head.split(':');
  const after = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? before : [...before, ...Array<string>(Math.max(0, 8 - before.length - after.length)).fill('0'), ...after];
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** Addresses whose failures are remembered at most; past it the longest-remembered is forgotten. */
const FAILING_ADDRESSES_KEPT = 10_000;

/**
 * Failed API-key authentications per client address: a token bucket of
 * `perMinute` failures (bursts up to a minute's worth). An address whose bucket
 * is empty gets 429 before its key is even looked at — otherwise a right guess
 * would show itself by not being refused — so while it lasts, callers with a
 * good key behind the same address are refused too (docs/decisions.md).
 */
export class AuthFailureLimit {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * 0 when `address` may fail again; otherwise the seconds until it may (then
   * refuse with `refusal()`). An address that never failed costs a `Map.size` read.
   */
  retryAfter(address: string): number {
    if (this.#buckets.size === 0) return 0;
    const key = clientAddressKey(address);
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return 0;
    const tokens = this.#refill(bucket);
    // Full again: the failures are forgotten, and so is the address (the map stays small, the check cheap).
    if (tokens >= this.perMinute) this.#buckets.delete(key);
    if (tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - tokens) * 60) / this.perMinute));
  }

  refusal(): TesseraError {
    return new TesseraError('rate-limited', 'too many requests with a missing or unknown API key from this address; retry later with a configured key');
  }

  /** Counts one failed authentication from `address`. */
  fail(address: string): void {
    const key = clientAddressKey(address);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= FAILING_ADDRESSES_KEPT) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.perMinute, at: this.now() };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = this.#refill(bucket) - 1;
  }

  #refill(bucket: { tokens: number; at: number }): number {
    const now = this.now();
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) / 60_000) * this.perMinute);
    bucket.at = now;
    return bucket.tokens;
  }
}
