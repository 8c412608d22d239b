/** Waiting on the wall clock, for tests whose expected order is the order of creation. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves once `Date.now()` has left the current millisecond. Tessera orders
 * devices and cart lines by their creation time, and breaks ties by (random)
 * id or by name: two requests in one millisecond would make the expected order
 * a coin toss. Call this between them.
 */
export async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  while (Date.now() <= now) await sleep(1);
}
