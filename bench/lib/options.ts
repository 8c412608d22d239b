/** Command-line options and the two run profiles (`--quick` and the full run). */
import { parseArgs } from 'node:util';
import type { TargetId } from '../targets/target.js';

export interface Profile {
  readonly name: 'quick' | 'full';
  /** Seeded sessions per target. */
  readonly sessions: number;
  /** Closed-loop: unrecorded warm-up, then measured seconds, per mix and target (whole seconds: wrk). */
  readonly peakWarmupS: number;
  /** Warm up before every mix, or only before a target's first. */
  readonly warmupEveryMix: boolean;
  readonly peakS: number;
  /** Open-loop read-heavy levels, as fractions of each target's own closed-loop peak. */
  readonly levels: readonly number[];
  readonly levelWarmupS: number;
  readonly levelS: number;
  /** Also run every target at one common absolute rate (half the slowest peak). */
  readonly commonRate: boolean;
  /** Login burst at this fraction of the login peak; 0 skips it. */
  readonly loginLevel: number;
  readonly loginS: number;
  /** Black-Friday step: base rate as a fraction of the read-heavy peak, ×factor during the spike. */
  readonly step: { readonly baseFraction: number; readonly factor: number; readonly beforeS: number; readonly spikeS: number; readonly afterS: number };
}

/** A smoke test: every scenario and target once, briefly — under two minutes on a fresh checkout, first seeding and build included. */
export const QUICK: Profile = {
  name: 'quick',
  sessions: 200,
  peakWarmupS: 1,
  warmupEveryMix: false,
  peakS: 1,
  levels: [0.5, 0.9],
  levelWarmupS: 0.5,
  levelS: 1,
  commonRate: false,
  loginLevel: 0,
  loginS: 0,
  step: { baseFraction: 0.05, factor: 10, beforeS: 0.5, spikeS: 1.5, afterS: 0.5 },
};

export const FULL: Profile = {
  name: 'full',
  sessions: 100_000,
  peakWarmupS: 3,
  warmupEveryMix: true,
  peakS: 10,
  levels: [0.1, 0.25, 0.5, 0.75, 0.9],
  levelWarmupS: 2,
  levelS: 10,
  commonRate: true,
  loginLevel: 0.5,
  loginS: 10,
  step: { baseFraction: 0.05, factor: 10, beforeS: 10, spikeS: 30, afterS: 20 },
};

export const ALL_TARGETS: readonly TargetId[] = ['tessera-redis', 'tessera-cluster', 'tessera-sqlite', 'fastify-hello', 'express-session', 'redis-floor'];
/** Tracing's cost (tracing on at 1 %, beside the same engine untraced): only when named in --targets. */
export const OPTIONAL_TARGETS: readonly TargetId[] = ['tessera-redis-traced', 'tessera-sqlite-traced'];
/** --quick leaves out the diagnostic Redis floor to stay under two minutes. */
const QUICK_TARGETS: readonly TargetId[] = ALL_TARGETS.filter((t) => t !== 'redis-floor');

export interface Options {
  readonly profile: Profile;
  readonly targets: readonly TargetId[];
  readonly dataSeed: number;
  readonly zipfS: number;
  /** Closed-loop connections (wrk -c). */
  readonly connections: number;
  /** Open-loop worker threads and connections per thread. */
  readonly workers: number;
  readonly workerConnections: number;
  /** Re-seed through the API even when a snapshot of the same data exists. */
  readonly reseed: boolean;
  /** Run Tessera with --cpu-prof and summarize where the time goes. */
  readonly profileCpu: boolean;
  readonly outDir: string;
  readonly forceAutocannon: boolean;
  /** Re-run a phase once when other work took over half a core meanwhile (shared machines). */
  readonly retryContended: boolean;
}

const HELP = `npm run bench -- [options]

  --quick                 short run (< 2 min): ${QUICK.sessions} sessions, 1 s phases
  --targets a,b,...       subset of: ${ALL_TARGETS.join(', ')}
                          (default: all; --quick leaves out redis-floor); also
                          ${OPTIONAL_TARGETS.join(', ')}: tracing on at 1 %,
                          e.g. --targets tessera-sqlite,tessera-sqlite-traced
  --sessions N            seeded sessions per target (full: ${FULL.sessions})
  --seconds S             measured seconds per closed-loop and open-loop phase
  --reseed                seed through the API even if a snapshot of the same data exists
  --profile               run Tessera under --cpu-prof and report where its time goes
  --connections N         closed-loop connections (default 50)
  --workers N             open-loop generator threads (default 2)
  --autocannon            closed loop with autocannon even if wrk is installed
  --no-retry              do not re-run phases during which other work took over half a core
                          (default: re-run once in the full run, never in --quick)
  --out DIR               results folder (default bench/results)
`;

export function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      targets: { type: 'string' },
      sessions: { type: 'string' },
      seconds: { type: 'string' },
      reseed: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      connections: { type: 'string', default: '50' },
      workers: { type: 'string', default: '2' },
      autocannon: { type: 'boolean', default: false },
      'no-retry': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/results' },
      seed: { type: 'string', default: '20261129' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  let profile: Profile = values.quick ? QUICK : FULL;
  if (values.sessions !== undefined) profile = { ...profile, sessions: positive('--sessions', values.sessions) };
  if (values.seconds !== undefined) {
    const s = positive('--seconds', values.seconds);
    profile = { ...profile, peakS: s, levelS: s, loginS: profile.loginS > 0 ? s : 0 };
  }
  const targets =
    values.targets === undefined ? (values.quick ? QUICK_TARGETS : ALL_TARGETS) : (values.targets.split(',').map((t) => t.trim()) as TargetId[]);
  const known = [...ALL_TARGETS, ...OPTIONAL_TARGETS];
  for (const t of targets) if (!known.includes(t)) throw new Error(`--targets: unknown target "${t}"; choose from ${known.join(', ')}`);
  return {
    profile,
    targets,
    dataSeed: positive('--seed', values.seed),
    zipfS: 0.99,
    connections: positive('--connections', values.connections),
    workers: positive('--workers', values.workers),
    workerConnections: 24,
    reseed: values.reseed,
    profileCpu: values.profile,
    outDir: values.out,
    forceAutocannon: values.autocannon,
    retryContended: !values.quick && !values['no-retry'],
  };
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got "${text}"`);
  return n;
}
