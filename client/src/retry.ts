/**
 * When the SDK may send a request again, and how long it waits first.
 *
 * The rule: a request is sent again only when doing so cannot apply it twice.
 *  - It never reached the server (connection refused, host unreachable,
 *    connect timeout): safe for every request, and the SDK moves on to the next
 *    endpoint at once.
 *  - The server refused it before doing anything (429 `rate-limited`): safe
 *    for every request, after the `Retry-After` interval.
 *  - It may have reached the server (the connection broke or the attempt timed
 *    out mid-flight) or the server answered 503 `unavailable`: safe only for
 *    idempotent operations (reads, PUT, DELETE, merge-patch, history appends
 *    with a pinned `viewedAt`). Never for adding to the cart, creating a
 *    session or rotating a token: there a retry could add twice or mint a
 *    second token, so the error goes to the caller. A 503 is in this group
 *    because Tessera sends it both when a draining node refused the request
 *    and when its store failed mid-write (a lost Redis reply): the answer does
 *    not say which. A reset of a reused keep-alive connection (undici's
 *    `UND_ERR_SOCKET`, "other side closed") is too: undici already resends on
 *    a new connection a request it had not written, so one that reaches us was
 *    written, and undici says nothing more precise.
 * After a timeout the endpoint is tried last for a while (like one that
 * refused), so the retry and later calls go to the next endpoint.
 * Waits use exponential backoff with full jitter: uniform in [0, min(max, base·2^n)).
 */

export interface RetryOptions {
  /** How many times a failed request may be sent again (failovers to another endpoint not counted). @default 2 */
  readonly retries: number;
  /** Backoff base. @default 50 */
  readonly baseDelayMs: number;
  /** Cap of one wait, `Retry-After` included. @default 2000 */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = Object.freeze({ retries: 2, baseDelayMs: 50, maxDelayMs: 2000 });

/** Full-jitter backoff before retry number `retry` (0-based). */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** System and undici error codes meaning the request was never written to a server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** True when the error proves the request did not reach the server: any request may go elsewhere. */
export function neverSent(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    if (e instanceof AggregateError && e.errors.some(neverSent)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** `Retry-After` (seconds or an HTTP date) in milliseconds, or undefined. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
