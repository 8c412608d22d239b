/** Starting a target by its id: the one place that maps ids to their servers. */
import { startExpressSession, startFastifyHello, startRedisFloor } from './baselines.js';
import { startTessera } from './tessera.js';
import type { Target, TargetContext, TargetId } from './target.js';

const STARTERS: Record<TargetId, (ctx: TargetContext) => Promise<Target>> = {
  'tessera-redis': (ctx) => startTessera('redis', ctx),
  'tessera-cluster': (ctx) => startTessera('redis-cluster', ctx),
  'tessera-sqlite': (ctx) => startTessera('sqlite', ctx),
  'tessera-redis-traced': (ctx) => startTessera('redis', ctx, { traced: true }),
  'tessera-sqlite-traced': (ctx) => startTessera('sqlite', ctx, { traced: true }),
  'fastify-hello': startFastifyHello,
  'express-session': startExpressSession,
  'redis-floor': startRedisFloor,
};

export function startTarget(id: TargetId, ctx: TargetContext): Promise<Target> {
  return STARTERS[id](ctx);
}
