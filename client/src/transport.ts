/**
 * Sends API calls: one keep-alive undici `Pool` per endpoint, a timeout per
 * attempt, failover to the next endpoint when one cannot be reached, and the
 * retry rule of `retry.ts`. Knows HTTP, not the API's operations.
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import {
  TesseraError,
  errorFromResponse,
  transportError,
} from './errors.js';
import { backoffDelay, neverSent, parseRetryAfter, type RetryOptions } from './retry.js';
import { activeTraceContext } from './trace-context.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Call {
  readonly method: Method;
  /** Path and query, starting with `/`. */
  readonly path: string;
  readonly token?: string | undefined;
  readonly csrfToken?: string | undefined;
  readonly ifMatch?: string | undefined;
  /** `Prefer` (RFC 7240), e.g. `return=minimal`. */
  readonly prefer?: string | undefined;
  /** Where the end user's request came from (`Tessera-Client-IP`, `Tessera-Client-Country`). */
  readonly client?: ClientOrigin | undefined;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Whether sending it twice has the same effect as once (see `retry.ts`). */
  readonly idempotent: boolean;
  /** Send the API key (every `/v1` call). @default true */
  readonly authenticated?: boolean;
  /** Statuses returned as answers rather than thrown (besides 2xx). */
  readonly accept?: readonly number[];
}

/** Where an end user's request came from, as the app knows it: recorded with the device's activity. */
export interface ClientOrigin {
  /** Their address (e.g. Express's `req.ip`); Tessera keeps it truncated. */
  readonly ip?: string;
  /** Their country or region, ISO 3166 (e.g. from a CDN's geo header: `DE`, `US-CA`). */
  readonly country?: string;
}

/** Per-call settings every public method accepts. */
export interface RequestOptions {
  /** Abort the call (no retry follows an abort). */
  readonly signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for each attempt of this call. */
  readonly timeoutMs?: number;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly etag: string | undefined;
  readonly endpoint: string;
}

export interface TransportOptions {
  readonly endpoints: readonly string[];
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly connections: number;
  readonly endpointCooldownMs: number;
  readonly retry: RetryOptions;
  readonly userAgent: string;
  /** Replaces the per-endpoint pools (tests, proxies, custom TLS). */
  readonly dispatcher?: Dispatcher | undefined;
}

interface Endpoint {
  readonly url: string;
  readonly origin: string;
  readonly basePath: string;
  /** Try last until this time: it refused a connection or left an attempt unanswered recently. */
  downUntil: number;
}

/** More than the resolution of undici's own timers (see `#attempt`). */
const UNDICI_TIMER_SLACK_MS = 1000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Sessions whose last consistency token the transport remembers (the oldest forgotten first). */
const CONSISTENCY_KEPT = 10_000;
/** Streams remembered per session (the server reads 8 at most). */
const CONSISTENCY_POSITIONS = 8;

/** The session id a token names (`tss1_<session>.…`), or undefined. */
function sessionOfToken(token: string | undefined): string | undefined {
  if (token === undefined || !token.startsWith('tss1_')) return undefined;
  const end = token.indexOf('.');
  return end < 0 ? undefined : token.slice('tss1_'.length, end);
}

export class Transport {
  readonly #options: TransportOptions;
  readonly #endpoints: Endpoint[];
  readonly #pools = new Map<string, Dispatcher>();
  /**
   * The consistency token of each session's last write (`Tessera-Consistency`,
   * global mode), sent with its next calls: a read that fails over to another
   * region then waits for that region to have the write (read-your-writes).
   */
  readonly #consistency = new Map<string, string>();
  #closed = false;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#endpoints = options.endpoints.map((raw) => {
      const url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`Tessera endpoint "${raw}" must be an http: or https: URL`);
      }
      return { url: raw, origin: url.origin, basePath: url.pathname.replace(/\/+$/, ''), downUntil: 0 };
    });
  }

  /** Endpoints in the order the next call will try them: those not cooling down first. */
  get endpointOrder(): string[] {
    return this.#order(Date.now()).map((e) => e.url);
  }

  async send(call: Call, options: RequestOptions = {}): Promise<Answer> {
    if (this.#closed) throw new TypeError('TesseraClient is closed; create a new one');
    const retry = this.#options.retry;
    let attempts = 0;
    let retries = 0;
    const answered503: Endpoint[] = []; // by this call, least recently first
    for (;;) {
      const round = this.#round(answered503);
      let failure: TesseraError | undefined;
      let retryable = false;
      let waitAtLeast = 0;
      for (const endpoint of round) {
        attempts += 1;
        let answer: Answer & { retryAfter: string | undefined };
        try {
          answer = await this.#attempt(endpoint, call, options);
        } catch (error) {
          if (options.signal?.aborted) throw options.signal.reason;
          if (neverSent(error)) {
            // The request never left: any call may go to the next endpoint right away.
            this.#coolDown(endpoint);
            failure = transportError(
              'connection-failed',
              `Cannot connect to any Tessera endpoint (last: ${endpoint.url}: ${describe(error)}); check \`endpoints\` and that the service is running`,
              { attempts, endpoint: endpoint.url, cause: error },
            );
            retryable = true;
            continue;
          }
          const timedOut = isTimeout(error);
          if (timedOut) {
            // No answer in time: the endpoint is hung or overloaded (a frozen process still
            // accepts connections, so this is not a refusal). Trying it last for a while sends
            // the retry, and the calls after this one, elsewhere instead of each waiting out the
            // timeout again. Done for every call: even one that may not be retried has learnt
            // that this endpoint does not answer.
            this.#coolDown(endpoint);
          }
          failure = transportError(
            timedOut ? 'timeout' : 'connection-failed',
            timedOut
              ? `No answer from ${endpoint.url} within ${options.timeoutMs ?? this.#options.timeoutMs} ms; raise \`timeoutMs\` if the service is just slow`
              : `The connection to ${endpoint.url} failed mid-request: ${describe(error)}`,
            { attempts, endpoint: endpoint.url, cause: error },
          );
          // It may have reached the server: only an idempotent call is sent again.
          // The retry counts against `retries` (unlike a refusal, it cost a whole attempt), and
          // after a timeout it goes to the next endpoint, this one now being last.
          retryable = call.idempotent;
          break;
        }
        endpoint.downUntil = 0;
        if ((answer.status >= 200 && answer.status < 300) || call.accept?.includes(answer.status)) {
          return answer;
        }
        const retryAfterMs = parseRetryAfter(answer.retryAfter);
        failure = errorFromResponse(answer.status, answer.body, {
          attempts,
          endpoint: endpoint.url,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
        if (answer.status === 429) {
          retryable = true; // refused before any work was done
          waitAtLeast = retryAfterMs ?? 0;
        } else if (answer.status === 503) {
          // Not proof that nothing was done: Tessera also answers 503 `unavailable` when its
          // store failed mid-write (e.g. a Redis reply lost after the script ran), so a cart add
          // or a sign-in could land twice. Only idempotent calls go again.
          retryable = call.idempotent;
          // This region's store is down or the node is draining: prefer another region next.
          const seen = answered503.indexOf(endpoint);
          if (seen !== -1) answered503.splice(seen, 1);
          answered503.push(endpoint);
        } else {
          retryable = false;
        }
        break;
      }
      if (failure === undefined) throw new Error('unreachable: a round without attempts');
      if (!retryable || retries >= retry.retries || waitAtLeast > retry.maxDelayMs) throw failure;
      await sleep(Math.max(waitAtLeast, backoffDelay(retries, retry)), options.signal);
      retries += 1;
    }
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#pools.clear();
  }

  /** Tries `endpoint` last for `endpointCooldownMs` (until it answers again). */
  #coolDown(endpoint: Endpoint): void {
    endpoint.downUntil = Date.now() + this.#options.endpointCooldownMs;
  }

  /**
   * The endpoints a call tries next: those not cooling down first, those that
   * answered it 503 after them, those cooling down (hung or refusing) last.
   */
  #round(answered503: readonly Endpoint[]): Endpoint[] {
    const now = Date.now();
    const order = this.#order(now);
    const up = order.filter((e) => e.downUntil <= now && !answered503.includes(e));
    const cooling = order.filter((e) => e.downUntil > now);
    return [...up, ...answered503.filter((e) => e.downUntil <= now), ...cooling];
  }

  #order(now: number): Endpoint[] {
    const up = this.#endpoints.filter((e) => e.downUntil <= now);
    const down = this.#endpoints.filter((e) => e.downUntil > now).sort((a, b) => a.downUntil - b.downUntil);
    return [...up, ...down];
  }

  #pool(endpoint: Endpoint): Dispatcher {
    if (this.#options.dispatcher) return this.#options.dispatcher;
    let pool = this.#pools.get(endpoint.origin);
    if (!pool) {
      pool = new Pool(endpoint.origin, {
        connections: this.#options.connections,
        connect: { timeout: this.#options.connectTimeoutMs },
      });
      this.#pools.set(endpoint.origin, pool);
    }
    return pool;
  }

  /**
   * Keeps a write's position: per session, the latest position of each
   * stream its writes went to (a cart write and a sign-in may go to two), so
   * the next call can ask for all of them.
   */
  #remember(session: string | undefined, consistency: string): void {
    if (session === undefined) return;
    const positions = new Map<string, number>();
    for (const token of [...(this.#consistency.get(session)?.split(',') ?? []), ...consistency.split(',')]) {
      const match = /^(.+)\.(\d{1,16})$/.exec(token.trim());
      if (match === null) continue;
      positions.set(match[1]!, Math.max(positions.get(match[1]!) ?? 0, Number(match[2])));
    }
    const kept = [...positions].slice(-CONSISTENCY_POSITIONS).map(([stream, seq]) => `${stream}.${seq}`);
    this.#consistency.delete(session);
    this.#consistency.set(session, kept.join(','));
    if (this.#consistency.size > CONSISTENCY_KEPT) this.#consistency.delete(this.#consistency.keys().next().value!);
  }

  async #attempt(
    endpoint: Endpoint,
    call: Call,
    options: RequestOptions,
  ): Promise<Answer & { retryAfter: string | undefined }> {
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      'user-agent': this.#options.userAgent,
    };
    if (call.authenticated !== false && this.#options.apiKey !== undefined) {
      headers.authorization = `Bearer ${this.#options.apiKey}`;
    }
    if (call.token !== undefined) headers['tessera-token'] = call.token;
    const session = sessionOfToken(call.token);
    const consistency = session === undefined ? undefined : this.#consistency.get(session);
    if (consistency !== undefined) headers['tessera-consistency'] = consistency;
    if (call.csrfToken !== undefined) headers['tessera-csrf'] = call.csrfToken;
    if (call.ifMatch !== undefined) headers['if-match'] = call.ifMatch;
    if (call.prefer !== undefined) headers.prefer = call.prefer;
    if (call.client?.ip !== undefined) headers['tessera-client-ip'] = call.client.ip;
    if (call.client?.country !== undefined) headers['tessera-client-country'] = call.client.country;
    // Continues the caller's trace through Tessera (`withTraceContext`, the middleware).
    const trace = activeTraceContext();
    if (trace !== undefined) {
      headers.traceparent = trace.traceparent;
      if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate;
    }
    let body: string | undefined;
    if (call.body !== undefined) {
      body = JSON.stringify(call.body);
      headers['content-type'] = call.contentType ?? 'application/json';
    }
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const response = await this.#pool(endpoint).request({
      origin: endpoint.origin,
      path: endpoint.basePath + call.path,
      method: call.method,
      headers,
      body,
      signal,
      // The signal is the limit. undici runs these on a coarse timer (about 0.5 s steps)
      // that can fire that much early, so they only back it up.
      headersTimeout: timeoutMs + UNDICI_TIMER_SLACK_MS,
      bodyTimeout: timeoutMs + UNDICI_TIMER_SLACK_MS,
    });
    const text = await response.body.text();
    const contentType = String(response.headers['content-type'] ?? '');
    let parsed: unknown = text;
    if (text !== '' && /json/.test(contentType)) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const written = header(response.headers['tessera-consistency']);
    if (written !== undefined) {
      // A sign-in answers with the token naming its session; other calls carry it already.
      const token = (parsed as { token?: unknown } | null)?.token;
      this.#remember(sessionOfToken(typeof token === 'string' ? token : call.token), written);
    }
    return {
      status: response.statusCode,
      body: parsed,
      etag: header(response.headers.etag),
      retryAfter: header(response.headers['retry-after']),
      endpoint: endpoint.url,
    };
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isTimeout(error: unknown): boolean {
  const e = error as { name?: string; code?: string; cause?: { name?: string } };
  return (
    e?.name === 'TimeoutError' ||
    e?.cause?.name === 'TimeoutError' ||
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e?.code === 'UND_ERR_BODY_TIMEOUT'
  );
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  const e = error as { code?: string; message?: string };
  return [e?.code, e?.message].filter(Boolean).join(' ') || String(error);
}
