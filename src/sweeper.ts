/**
 * The embedded engine's cleanup: removes expired sessions in small batches,
 * yielding to the event loop between them so requests never wait long behind it.
 */
import type { Logger } from 'pino';
import type { SessionStore } from './store/session-store.js';

export const SWEEP_BATCH = 500;
/** Stop a round after this long; the next interval picks up the rest. */
const ROUND_BUDGET_MS = 200;

export class Sweeper {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<number> | null = null;

  constructor(
    private readonly store: SessionStore,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly onSwept: (count: number) => void = () => {},
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.sweepOnce(), this.intervalMs).unref();
  }

  /** One round: batches until nothing expired is left or the budget is spent. */
  sweepOnce(now: () => number = Date.now): Promise<number> {
    this.#running ??= this.#round(now).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  async #round(now: () => number): Promise<number> {
    const started = Date.now();
    let total = 0;
    try {
      for (;;) {
        const removed = await this.store.sweep(now(), SWEEP_BATCH);
        total += removed;
        if (removed < SWEEP_BATCH || Date.now() - started > ROUND_BUDGET_MS) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'sweeping expired sessions failed; will retry');
    }
    if (total > 0) {
      this.onSwept(total);
      this.logger.debug({ removed: total }, 'swept expired sessions');
    }
    return total;
  }
}
