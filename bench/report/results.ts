/** The shape of bench/results/<timestamp>.json — everything the reports are drawn from. */
import type { LatencySummary } from '../lib/histogram.js';
import type { CpuReport } from '../lib/proc.js';
import type { MixName } from '../load/workload.js';
import type { TargetId } from '../targets/target.js';

export interface Environment {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly redis: string;
  readonly wrk: string | null;
  readonly gitCommit: string;
  readonly gitDirty: boolean;
  /** 1-minute load average when the run started (others' work on a shared machine shows here). */
  readonly loadAverageAtStart: number;
  readonly tesseraCommand: string;
  /** Settings from deploy/redis.conf applied to every Redis the bench started. */
  readonly redisSettings: string;
}

export interface SeedRecord {
  readonly sessions: number;
  /** API requests it took (0 when restored from a snapshot). */
  readonly requests: number;
  readonly elapsedMs: number;
  readonly fromSnapshot: boolean;
  readonly meanSessionBytes: number;
  readonly footprintBytes: number | null;
  readonly bytesPerSession: number | null;
  readonly footprintWhat: string | null;
}

export interface TargetRecord {
  readonly id: TargetId;
  readonly label: string;
  readonly description: string;
  readonly status: 'ok' | 'failed';
  readonly error?: string;
  readonly seed?: SeedRecord;
}

export interface PeakRecord {
  readonly target: TargetId;
  readonly mix: MixName;
  readonly tool: 'wrk' | 'autocannon';
  readonly rps: number;
  readonly requests: number;
  readonly errors: number;
  readonly durationS: number;
  readonly connections: number;
  readonly cpu: CpuReport | null;
  /** Redis commands run during the phase (warm-up included): calls, and µs Redis spent executing them. */
  readonly storeCommands?: ReadonlyArray<{ readonly command: string; readonly calls: number; readonly usec: number }>;
}

export interface SpectrumPoint {
  readonly percentile: number;
  readonly ms: number;
}

/** What the server's garbage collector did during a phase (Tessera only). */
export interface GcRecord {
  readonly heapUsedMiB: number;
  readonly majorCount: number;
  readonly majorOver100ms: number;
  readonly majorMs: number;
  readonly minorMs: number;
}

/**
 * Where the slow requests of a phase waited: the share of them over `SLOW_MS`
 * as the generator saw them, as Tessera timed them (from the parsed request to
 * the reply; Tessera only) and of Tessera's calls to Redis, and the server's
 * event loop's largest delay (Tessera and the baselines). Tessera's side
 * includes the phase's warm-up.
 */
export interface WaitRecord {
  readonly slowMs: number;
  readonly client: number;
  readonly server: number | null;
  readonly store: number | null;
  readonly loopDelayMaxMs: number | null;
}

export interface OpenLoopRecord {
  readonly target: TargetId;
  readonly mix: MixName;
  /** Fraction of the target's own closed-loop peak, or null for an absolute rate. */
  readonly fraction: number | null;
  readonly label: string;
  readonly offeredRate: number;
  readonly achievedRate: number;
  readonly sent: number;
  readonly errors: number;
  readonly errorsByKind: Record<string, number>;
  readonly latency: LatencySummary;
  readonly byClass: Partial<Record<'read' | 'write' | 'login', LatencySummary>>;
  readonly lag: LatencySummary;
  readonly spectrum: readonly SpectrumPoint[];
  readonly cpu: CpuReport | null;
  readonly generatorElu: number;
  readonly gc?: GcRecord;
  readonly waits?: WaitRecord;
}

export interface StepWindow {
  readonly startS: number;
  readonly offeredRate: number;
  readonly completed: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface StepPart {
  readonly latency: LatencySummary;
  readonly errors: number;
}

export interface StepRecord {
  readonly target: TargetId;
  readonly baseRate: number;
  readonly spikeRate: number;
  readonly beforeS: number;
  readonly spikeS: number;
  readonly afterS: number;
  readonly windows: readonly StepWindow[];
  readonly before: StepPart;
  readonly during: StepPart;
  readonly after: StepPart;
  /** Seconds after the spike until a window's p99 is back under 2× the before-spike p99 (null: never in the run). */
  readonly recoveryS: number | null;
  readonly errorsByKind: Record<string, number>;
  readonly cpu: CpuReport | null;
  readonly gc?: GcRecord;
}

export interface RatioRecord {
  readonly name: string;
  readonly numerator: TargetId;
  readonly denominator: TargetId;
  readonly mix: MixName;
  readonly value: number;
  /** Goal from issue 5, when there is one: value ≥ goal. */
  readonly goal?: number;
}

export interface CheckRecord {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly goal: string;
  readonly met: boolean;
}

export interface ProfileRecord {
  readonly target: TargetId;
  readonly mix: MixName;
  readonly file: string;
  /** Milliseconds skipped at the start of the profile (start-up and warm-up). */
  readonly skipMs?: number;
  readonly idlePercent: number;
  readonly areas: ReadonlyArray<{ readonly area: string; readonly percent: number }>;
  readonly functions: ReadonlyArray<{ readonly name: string; readonly where: string; readonly percent: number }>;
  readonly inclusive: ReadonlyArray<{ readonly name: string; readonly where: string; readonly percent: number }>;
  /** The flame graph SVG, next to the `.cpuprofile` (relative to the repository, like `file`); absent in older results. */
  readonly flamegraph?: string;
}

export interface BenchResults {
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly mode: 'quick' | 'full';
  readonly environment: Environment;
  readonly settings: {
    readonly sessions: number;
    readonly dataSeed: number;
    readonly zipfS: number;
    /** Share of session requests that go to the hottest session. */
    readonly hottestShare: number;
    readonly closedLoopConnections: number;
    readonly openLoopWorkers: number;
    readonly openLoopConnections: number;
    readonly profile: unknown;
  };
  readonly targets: readonly TargetRecord[];
  readonly peaks: readonly PeakRecord[];
  readonly openLoop: readonly OpenLoopRecord[];
  readonly steps: readonly StepRecord[];
  readonly ratios: readonly RatioRecord[];
  readonly checks: readonly CheckRecord[];
  readonly profiles: readonly ProfileRecord[];
  readonly notes: readonly string[];
}
