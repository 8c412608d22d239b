/**
 * The check at the end of an export or an import: a new scan of the store,
 * each session's digest compared with the one the file promises (its last
 * line). A session the file holds that is past its forgetting time is not
 * expected: stores drop such sessions (an import does not store them).
 */
import type { SessionStore } from '../store/session-store.js';
import type { Expected } from './dump-file.js';
import type { Progress } from './progress.js';

export interface Comparison {
  /** Sessions of the file still expected in the store. */
  readonly expected: number;
  /** Of those, how many the store holds with the same digest. */
  readonly matched: number;
  /** Sessions of the file past their forgetting time, and not in the store. */
  readonly forgotten: number;
  /** In the file, not in the store. */
  readonly missing: readonly string[];
  /** In both, with other digests. */
  readonly differing: readonly string[];
  /** In the store, not in the file. */
  readonly extra: readonly string[];
}

const SCAN_PAGE = 500;

export async function compareWithStore(store: SessionStore, expected: ReadonlyMap<string, Expected>, now: number, progress?: Progress): Promise<Comparison> {
  const seen = new Set<string>();
  const differing: string[] = [];
  const extra: string[] = [];
  let matched = 0;
  let cursor: string | null = '';
  while (cursor !== null) {
    const page: Awaited<ReturnType<SessionStore['scan']>> = await store.scan(cursor, SCAN_PAGE);
    for (const { id, digest } of page.sessions) {
      // A scan may visit a session twice (Redis SCAN): count it once.
      if (seen.has(id)) continue;
      seen.add(id);
      const want = expected.get(id);
      if (want === undefined) extra.push(id);
      else if (want.digest === digest) matched += 1;
      else differing.push(id);
    }
    progress?.tick(page.sessions.length);
    cursor = page.next;
  }
  const missing: string[] = [];
  let forgotten = 0;
  for (const [id, want] of expected) {
    if (seen.has(id)) continue;
    if (want.forgetAt <= now) forgotten += 1;
    else missing.push(id);
  }
  return { expected: expected.size - forgotten, matched, forgotten, missing, differing, extra };
}

/** Up to ten ids, for a message. */
export function someIds(ids: readonly string[]): string {
  return ids.length <= 10 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more`;
}

/** Prints the verification; 0 when the store and the file agree, else 1. */
export function report(verb: 'export' | 'import', file: string, c: Comparison, out: (line: string) => void): number {
  const failed = c.missing.length > 0 || c.differing.length > 0 || (verb === 'export' && c.extra.length > 0);
  const left = c.forgotten > 0 ? `; ${c.forgotten} past their forgetting time left out` : '';
  const others = verb === 'import' && c.extra.length > 0 ? `; the store also holds ${c.extra.length} session(s) not in the file` : '';
  if (!failed) {
    out(`verified: ${c.matched} of ${c.expected} sessions of ${file} match the store by digest${left}${others}`);
    return 0;
  }
  out(`tessera ${verb}: verification failed: ${c.matched} of ${c.expected} sessions match`);
  if (c.missing.length > 0) out(`  ${c.missing.length} in the file but not in the store: ${someIds(c.missing)}`);
  if (c.differing.length > 0) out(`  ${c.differing.length} differ from the file: ${someIds(c.differing)}`);
  if (verb === 'export' && c.extra.length > 0) out(`  ${c.extra.length} in the store but not in the file: ${someIds(c.extra)}`);
  out(
    verb === 'export'
      ? '  the store is being written to: export while no Tessera writes to it, or run tessera export again to catch up'
      : '  the store held other states of these sessions before the import (they were joined), or it is being written to',
  );
  return 1;
}
