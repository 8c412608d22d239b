/**
 * Operations endpoints (no API key): health and readiness (on both listeners),
 * problem documentation (API listener), metrics (management listener).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ProblemCode } from '../../domain/errors.js';
import { PROBLEMS } from '../problems.js';
import type { SessionStore } from '../../store/session-store.js';
import type { Metrics } from '../../metrics.js';
import { problemType, sendProblem } from '../problem.js';

export interface OperationsContext {
  readonly store: SessionStore;
  /** True once shutdown has begun: readiness fails so load balancers drain the node. */
  readonly draining: () => boolean;
  /**
   * The global mode's link to NATS, reported by `/readyz` (null: single-region). Readiness does
   * not wait for it: a region serves its own store while NATS is away, with global writes answering 503.
   */
  readonly replication?: () => ReplicationState | null;
}

/** `connected`: streams set up, global writes accepted; `connecting`: not yet, or not any more. */
export type ReplicationState = 'connected' | 'connecting';

/** `/healthz` and `/readyz`: load balancers probe them on the API port. */
export function healthRoutes(app: FastifyInstance, { store, draining, replication = () => null }: OperationsContext): void {
  const Status = Type.Object({
    status: Type.String(),
    engine: Type.Optional(Type.String()),
    replication: Type.Optional(Type.Union([Type.Literal('connected'), Type.Literal('connecting')], { description: 'Global mode only: whether this node can publish to NATS' })),
  });

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: Status } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'The session store is reachable (503 otherwise)', response: { 200: Status } } },
    async (_request, reply) => {
      if (draining()) return sendProblem(reply, 'unavailable', 'shutting down');
      await store.ping();
      const state = replication();
      return { status: 'ready', engine: store.engine, ...(state === null ? {} : { replication: state }) };
    },
  );
}

/** `/metrics` (Prometheus text format), for the management listener only. */
export function metricsRoutes(app: FastifyInstance, { metrics }: { readonly metrics: Metrics }): void {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics (text format)' } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}

/** `/problems/<code>`: what a problem type means; problem documents link here. */
export function problemRoutes(app: FastifyInstance): void {
  app.get<{ Params: { code: string } }>(
    '/problems/:code',
    { schema: { tags: ['operations'], summary: 'What a problem type means', params: Type.Object({ code: Type.String({ maxLength: 64 }) }) } },
    async (request, reply) => {
      const code = request.params.code as ProblemCode;
      const problem = Object.hasOwn(PROBLEMS, code) ? PROBLEMS[code] : undefined;
      if (problem === undefined) return sendProblem(reply, 'not-found', `no problem type "${request.params.code}"`);
      const body = { type: problemType(code), code, status: problem.status, title: problem.title, description: problem.description };
      if (request.headers.accept?.includes('text/html')) {
        return reply.type('text/html; charset=utf-8').send(
          `<!doctype html><meta charset="utf-8"><title>${body.title}</title>` +
            `<h1>${body.status} ${code}</h1><h2>${body.title}</h2><p>${body.description}</p>`,
        );
      }
      return body;
    },
  );
}
