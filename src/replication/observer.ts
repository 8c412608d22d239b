/**
 * What the global mode reports as it works, for metrics (`src/metrics.ts`
 * implements it; `QUIET_OBSERVER` reports nothing).
 */
import type { AuthObserver } from './auth.js';
import type { EpochObserver } from './home.js';
import type { DurabilityClass } from './layout.js';

/** What the replication reports, for metrics. */
export interface ReplicationObserver extends AuthObserver, EpochObserver {
  published(durability: DurabilityClass, outcome: 'ok' | 'timeout' | 'error'): void;
  relayed(changes: number): void;
  /** Changes joined from a stream, and what the joins did per session (`MergeReport` outcomes; 'unchanged' for duplicates). */
  applied(source: string, stream: string, outcome: { changes: number; outcomes: Readonly<Record<string, number>> }): void;
  lag(source: string, stream: string, seconds: number, changes: number): void;
  lease(held: boolean): void;
  /** This node's connection to NATS: not set up yet, up (set up, or back after a drop), or down after it was up. */
  natsConnection(region: string, state: 'connecting' | 'up' | 'down'): void;
  replicaBehind(stream: string, server: string, messages: number): void;
  repaired(peer: string, sessions: number): void;
  /** A periodic repair round with a peer region ended after `seconds`: compared (and exchanged what differed), or failed. */
  repairRound(peer: string, outcome: 'ok' | 'failed', seconds: number): void;
  rebuildProgress(peer: string, done: number, total: number): void;
  /** Per home region, whether this node may order its sessions now; and whether it may answer token checks locally. */
  authLeases(holds: Readonly<Record<string, boolean>>, fresh: boolean): void;
}

export const QUIET_OBSERVER: ReplicationObserver = {
  published: () => {},
  relayed: () => {},
  applied: () => {},
  lag: () => {},
  lease: () => {},
  natsConnection: () => {},
  replicaBehind: () => {},
  repaired: () => {},
  repairRound: () => {},
  rebuildProgress: () => {},
  forwarded: () => {},
  barrier: () => {},
  failedClosed: () => {},
  authLeases: () => {},
  epochStreamFault: () => {},
  epochLearned: () => {},
  epochConflict: () => {},
};
