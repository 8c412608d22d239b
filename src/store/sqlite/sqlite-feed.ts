/**
 * The embedded engine's change feed: a table written in the same transaction
 * as each change (see `sqlite-store.ts`), one shard, positions are the rows'
 * autoincrement keys. Consumers' positions live in `feed_positions`.
 */
import type Database from 'better-sqlite3';
import type { Change } from '../../domain/parts.js';
import { furthestPositions, type ChangeFeed, type FeedEntry } from '../feed.js';

const POLL_MS = 25;

export class SqliteFeed implements ChangeFeed {
  readonly #append: Database.Statement<[string]>;
  readonly #after: Database.Statement<[number, number], { position: number; change: string }>;
  readonly #position: Database.Statement<[string], { position: number }>;
  readonly #advance: Database.Statement<[string, number]>;
  readonly #trim: Database.Statement<[number]>;
  readonly #count: Database.Statement<[number], { n: number }>;
  readonly #lease: Database.Statement<[string, string, number, number]>;
  readonly #consumers: readonly string[];
  readonly #db: Database.Database;
  /** Woken when a change is appended, so that a waiting read returns at once. */
  #waiters: Array<() => void> = [];

  constructor(db: Database.Database, consumers: readonly string[]) {
    this.#db = db;
    this.#consumers = consumers;
    this.#append = db.prepare('INSERT INTO feed (change) VALUES (?)');
    this.#after = db.prepare('SELECT position, change FROM feed WHERE position > ? ORDER BY position LIMIT ?');
    this.#position = db.prepare('SELECT position FROM feed_positions WHERE consumer = ?');
    this.#advance = db.prepare(
      'INSERT INTO feed_positions (consumer, position) VALUES (?, ?) ON CONFLICT (consumer) DO UPDATE SET position = max(position, excluded.position)',
    );
    this.#trim = db.prepare('DELETE FROM feed WHERE position <= ?');
    this.#count = db.prepare('SELECT count(*) AS n FROM feed WHERE position > ?');
    // Taken when free, lapsed or already ours; otherwise left alone (no row changes).
    this.#lease = db.prepare(
      `INSERT INTO feed_leases (consumer, holder, until) VALUES (?, ?, ?) ON CONFLICT (consumer) DO UPDATE
         SET holder = excluded.holder, until = excluded.until WHERE holder = excluded.holder OR until <= ?`,
    );
  }

  /** Appends a change; call inside the transaction that commits it. */
  append(change: Change): void {
    this.#append.run(JSON.stringify(change));
  }

  /** Wakes waiting readers; call after the transaction committed. */
  appended(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async read(consumer: string, limit: number, waitMs = 0): Promise<FeedEntry[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const rows = this.#after.all(this.#positionOf(consumer), limit);
      if (rows.length > 0 || Date.now() >= deadline) {
        return rows.map((row) => ({ shard: '', position: String(row.position), change: JSON.parse(row.change) as Change }));
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(POLL_MS * 8, Math.max(1, deadline - Date.now())));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async ack(consumer: string, entries: readonly FeedEntry[]): Promise<void> {
    const furthest = furthestPositions(entries).get('');
    if (furthest === undefined) return;
    this.#db.transaction(() => {
      this.#advance.run(consumer, Number(furthest));
      this.#trim.run(Math.min(...this.#consumers.map((c) => this.#positionOf(c))));
    }).immediate();
  }

  async backlog(consumer: string): Promise<number> {
    return this.#count.get(this.#positionOf(consumer))?.n ?? 0;
  }

  async lease(consumer: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const taken = this.#db.transaction(() => this.#lease.run(consumer, holder, now + ttlMs, now).changes === 1).immediate();
    return taken && ttlMs > 0;
  }

  #positionOf(consumer: string): number {
    return this.#position.get(consumer)?.position ?? 0;
  }
}
