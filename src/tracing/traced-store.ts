/**
 * A span per store call: a decorator around any `SessionStore`, set under the
 * L1 cache so that its spans are the engine's real round trips. Each span is
 * a child of the active one (the request's) and names the engine and the
 * operation; the Redis engines add a span per command or script beneath it
 * (`store/redis/connection.ts`), with the cluster slot.
 *
 * Only calls within a sampled request make a span: within an unsampled one
 * it would not be exported either, and the calls of the sweeper, replication
 * and webhook delivery would each start a trace of their own, many a second,
 * and drown the requests'. Arguments and results are never recorded (they
 * hold token hashes, user ids and carts).
 */
import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import type { SessionStore } from '../store/session-store.js';
import { ATTR } from './attributes.js';

type Operation = Exclude<keyof SessionStore, 'engine' | 'feed' | 'close'>;

export class TracedStore implements SessionStore {
  readonly #inner: SessionStore;
  readonly #tracer: Tracer;
  readonly #attributes: Attributes;

  constructor(inner: SessionStore, tracer: Tracer) {
    this.#inner = inner;
    this.#tracer = tracer;
    this.#attributes = { [ATTR.dbSystemName]: inner.engine === 'sqlite' ? 'sqlite' : 'redis', [ATTR.storeEngine]: inner.engine };
  }

  get engine(): SessionStore['engine'] {
    return this.#inner.engine;
  }

  get feed(): SessionStore['feed'] {
    return this.#inner.feed;
  }

  load: SessionStore['load'] = (...args) => this.#traced('load', () => this.#inner.load(...args));
  create: SessionStore['create'] = (...args) => this.#traced('create', () => this.#inner.create(...args));
  apply: SessionStore['apply'] = (...args) => this.#traced('apply', () => this.#inner.apply(...args));
  merge: SessionStore['merge'] = (...args) => this.#traced('merge', () => this.#inner.merge(...args));
  touch: SessionStore['touch'] = (...args) => this.#traced('touch', () => this.#inner.touch(...args));
  findUserSession: SessionStore['findUserSession'] = (...args) => this.#traced('findUserSession', () => this.#inner.findUserSession(...args));
  userSessions: SessionStore['userSessions'] = (...args) => this.#traced('userSessions', () => this.#inner.userSessions(...args));
  eraseUser: SessionStore['eraseUser'] = (...args) => this.#traced('eraseUser', () => this.#inner.eraseUser(...args));
  snapshot: SessionStore['snapshot'] = (...args) => this.#traced('snapshot', () => this.#inner.snapshot(...args));
  scan: SessionStore['scan'] = (...args) => this.#traced('scan', () => this.#inner.scan(...args));
  digests: SessionStore['digests'] = (...args) => this.#traced('digests', () => this.#inner.digests(...args));
  readMark: SessionStore['readMark'] = (...args) => this.#traced('readMark', () => this.#inner.readMark(...args));
  writeMark: SessionStore['writeMark'] = (...args) => this.#traced('writeMark', () => this.#inner.writeMark(...args));
  lease: SessionStore['lease'] = (...args) => this.#traced('lease', () => this.#inner.lease(...args));
  release: SessionStore['release'] = (...args) => this.#traced('release', () => this.#inner.release(...args));
  sweep: SessionStore['sweep'] = (...args) => this.#traced('sweep', () => this.#inner.sweep(...args));
  ping: SessionStore['ping'] = () => this.#traced('ping', () => this.#inner.ping());

  close(): Promise<void> {
    return this.#inner.close();
  }

  #traced<T>(operation: Operation, work: () => Promise<T>): Promise<T> {
    // Outside a request, or within one not sampled (its children would not be exported either).
    if (trace.getSpan(context.active())?.isRecording() !== true) return work();
    return this.#tracer.startActiveSpan(
      `store.${operation}`,
      { kind: SpanKind.CLIENT, attributes: { ...this.#attributes, [ATTR.dbOperationName]: operation } },
      async (span) => {
        try {
          return await work();
        } catch (error) {
          // The error's name only: messages of wrapped driver errors may quote keys or values.
          span.setAttribute(ATTR.errorType, error instanceof Error ? error.name : 'unknown');
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }
}
