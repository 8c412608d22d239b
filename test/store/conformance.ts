/**
 * The store conformance suite: one set of behaviours, written once against
 * `SessionStore`, that every engine must pass (`sqlite.test.ts`,
 * `redis.test.ts`, `redis-cluster.test.ts`). An engine is done only when all
 * of it passes.
 */
import { describe } from 'node:test';
import { authSuite } from './conformance/auth.js';
import { devicesSuite } from './conformance/devices.js';
import { eventsSuite } from './conformance/events.js';
import { lifecycleSuite } from './conformance/lifecycle.js';
import { mergeSuite } from './conformance/merge.js';
import { paritySuite } from './conformance/parity.js';
import { privacySuite } from './conformance/privacy.js';
import { partsSuite } from './conformance/parts.js';
import { replicationSuite } from './conformance/replication.js';
import type { StoreFactory } from './conformance/support.js';

export type { StoreFactory } from './conformance/support.js';

/** Declares the whole suite for the engine `makeStore` opens (it gets the settings each part needs). */
export function conformance(name: string, makeStore: StoreFactory): void {
  // A generous bound: a hung engine fails the suite instead of stalling the run.
  describe(`${name} engine conforms to SessionStore`, { timeout: 180_000 }, () => {
    lifecycleSuite(makeStore);
    partsSuite(makeStore);
    authSuite(makeStore);
    devicesSuite(makeStore);
    privacySuite(makeStore);
    eventsSuite(makeStore);
    mergeSuite(makeStore);
    paritySuite(makeStore);
    replicationSuite(makeStore);
  });
}
