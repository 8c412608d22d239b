/**
 * Session metadata: identity, owner and deadlines.
 *
 * Join: `lastActiveAt` and `idleExpiresAt` take the maximum (activity anywhere
 * keeps the session alive), `endedAt` is a tombstone (earliest kept), and the
 * rest is set once at creation.
 */
export interface SessionMeta {
  readonly id: string;
  readonly userId: string | null;
  readonly createdAt: number;
  readonly lastActiveAt: number;
  /** Idle deadline: lastActiveAt + idle timeout, capped by the absolute deadline. */
  readonly idleExpiresAt: number;
  readonly absoluteExpiresAt: number;
  /** Per-session secret from which CSRF tokens are derived. */
  readonly csrfSecret: string;
  readonly endedAt?: number;
}

export function mergeMeta(x: SessionMeta, y: SessionMeta): SessionMeta {
  const merged: SessionMeta = {
    ...x,
    lastActiveAt: Math.max(x.lastActiveAt, y.lastActiveAt),
    idleExpiresAt: Math.max(x.idleExpiresAt, y.idleExpiresAt),
  };
  const ended = [x.endedAt, y.endedAt].filter((at): at is number => at !== undefined);
  return ended.length > 0 ? { ...merged, endedAt: Math.min(...ended) } : merged;
}

export function expiresAt(meta: SessionMeta): number {
  return Math.min(meta.idleExpiresAt, meta.absoluteExpiresAt);
}

/** A session is served only while it has not ended and neither deadline has passed. */
export function isSessionLive(meta: SessionMeta, now: number): boolean {
  return meta.endedAt === undefined && now < expiresAt(meta);
}
