/** Messages between the open-loop driver (main thread) and its worker threads. */
import type { OpClass, WorkloadConfig } from './workload.js';

/** A piece of the arrival-rate schedule: `rate` requests/s (all workers together) for `durationMs`. */
export interface RateStep {
  readonly durationMs: number;
  readonly rate: number;
}

export interface WorkerSetup {
  readonly origin: string;
  readonly connections: number;
  readonly workerIndex: number;
  readonly workerCount: number;
  readonly steps: readonly RateStep[];
  readonly windowMs: number;
  /** Unrecorded warm-up at the first step's rate, before the schedule. */
  readonly warmupMs: number;
  /** How long to wait for the last responses after the schedule ends. */
  readonly timeoutMs: number;
  /** Beyond this many requests in flight the worker stops sending and counts them as dropped. */
  readonly maxInFlight: number;
  readonly workload: WorkloadConfig;
  readonly rngSeed: number;
}

export interface WindowResult {
  readonly histogram: string;
  readonly errors: number;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | {
      readonly type: 'progress';
      readonly sent: number;
      readonly completed: number;
      readonly errors: number;
      readonly inFlight: number;
      /** Encoded histogram of what completed since the previous progress message. */
      readonly recent: string;
    }
  | {
      readonly type: 'done';
      readonly total: string;
      readonly byClass: Partial<Record<OpClass, string>>;
      readonly lag: string;
      readonly windows: readonly WindowResult[];
      readonly sent: number;
      readonly completed: number;
      readonly dropped: number;
      readonly errorsByKind: Record<string, number>;
      /** Event-loop utilisation of this worker thread over the run, 0–1. */
      readonly elu: number;
    };

export type ToWorker = { readonly type: 'start'; readonly startAt: number };
