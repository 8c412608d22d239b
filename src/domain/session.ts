/**
 * Session metadata: identity, owner, deadlines, and the largest stamp the
 * session has seen.
 *
 * Join, field by field, so that it is commutative, associative and
 * idempotent whatever the fields' history:
 *   - `lastActiveAt`, `idleExpiresAt`, `absoluteExpiresAt`: maximum (activity
 *     anywhere keeps the session alive);
 *   - `endedAt`: a tombstone, the earliest kept; an ended session forgets its
 *     CSRF secret (`csrfSecret` becomes '');
 *   - `erasedAt`: a privacy erasure (the earliest kept); an erased session
 *     names no user whatever else arrives, so a late change cannot name them
 *     again;
 *   - `mergedInto`: a redirect to the session of the same user that won a
 *     concurrent first sign-in in two regions (`user-index.ts`); set once;
 *   - `t`: the largest HLC stamp of any change joined into the session;
 *   - the rest is set once at creation (`createdAt` the earliest, `userId`
 *     whichever is set, `csrfSecret` the same everywhere).
 */
import { maxHlc, type Hlc } from './hlc.js';

export interface SessionMeta {
  readonly id: string;
  readonly userId: string | null;
  readonly createdAt: number;
  readonly lastActiveAt: number;
  /** Idle deadline: lastActiveAt + idle timeout, capped by the absolute deadline. */
  readonly idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
  /** Per-session secret from which CSRF tokens are derived; '' once the session has ended. */
  readonly csrfSecret: string;
  readonly endedAt?: number;
  /** When the user was erased (a privacy request): the session names no user from then on, everywhere. */
  readonly erasedAt?: number;
  /** The session this one was merged into (same user, signed in concurrently in two regions). */
  readonly mergedInto?: string;
  /** The largest stamp of any change joined into this session. */
  readonly t?: Hlc;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function smaller(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a <= b ? a : b;
}

export function mergeMeta(x: SessionMeta, y: SessionMeta): SessionMeta {
  const endedAt = earliest(x.endedAt, y.endedAt);
  const erasedAt = earliest(x.erasedAt, y.erasedAt);
  const mergedInto = smaller(x.mergedInto, y.mergedInto);
  const t = maxHlc(x.t, y.t);
  const merged: SessionMeta = {
    id: x.id,
    userId: erasedAt !== undefined ? null : (x.userId ?? y.userId),
    createdAt: Math.min(x.createdAt, y.createdAt),
    lastActiveAt: Math.max(x.lastActiveAt, y.lastActiveAt),
    idleExpiresAt: Math.max(x.idleExpiresAt, y.idleExpiresAt),
    absoluteExpiresAt: Math.max(x.absoluteExpiresAt, y.absoluteExpiresAt),
    csrfSecret: endedAt !== undefined ? '' : x.csrfSecret >= y.csrfSecret ? x.csrfSecret : y.csrfSecret,
  };
  return {
    ...merged,
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(erasedAt !== undefined ? { erasedAt } : {}),
    ...(mergedInto !== undefined ? { mergedInto } : {}),
    ...(t !== undefined ? { t } : {}),
  };
}

export function expiresAt(meta: SessionMeta): number {
  return Math.min(meta.idleExpiresAt, meta.absoluteExpiresAt);
}

/** A session is served only while it has not ended and neither deadline has passed. */
export function isSessionLive(meta: SessionMeta, now: number): boolean {
  return meta.endedAt === undefined && now < expiresAt(meta);
}

/**
 * When a store may forget the session: its deadline (or, once ended or merged
 * away, its absolute deadline) plus the replication horizon — the longest a change may
 * take to arrive from another region. Until then its row stays, ended or
 * expired, so that a late change cannot bring it (or its tokens) back.
 */
export function forgetAt(meta: SessionMeta, horizonMs: number): number {
  const final = meta.endedAt !== undefined || meta.mergedInto !== undefined;
  return (final ? meta.absoluteExpiresAt : expiresAt(meta)) + horizonMs;
}
