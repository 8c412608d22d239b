/**
 * `npm run bench` — Tessera side by side with a Fastify hello-world (the HTTP
 * ceiling) and express-session + connect-redis (the ecosystem default), on the
 * same workload, in one run, on this machine. See docs/PERFORMANCE.md.
 *
 * Phases run scenario by scenario, every target back to back, so that the
 * ratios compare measurements taken minutes apart rather than a whole run apart
 * (absolute numbers drift on a shared machine; ratios drift far less).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem, release, platform } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { monotonicUs, skipBefore, summarizeProfile } from './lib/cpu-profile.js';
import type { CpuReport } from './lib/proc.js';
import { parseOptions, type Options } from './lib/options.js';
import { Progress, fmtInt } from './lib/progress.js';
import { Zipf } from './lib/rng.js';
import { findWrk } from './load/closed-loop.js';
import type { MixName } from './load/workload.js';
import { computeChecks, computeRatios, peakOf } from './report/analysis.js';
import { writeFlameGraph } from './report/flamegraph.js';
import { renderHtml } from './report/html.js';
import { renderMarkdown } from './report/markdown.js';
import type { BenchResults, Environment, OpenLoopRecord, PeakRecord, ProfileRecord, StepRecord, TargetRecord } from './report/results.js';
import { describeLatency, measureLevel, measurePeak, measureStep, type RunContext } from './scenarios/measure.js';
import { startTarget } from './targets/start.js';
import { tesseraCommand } from './targets/build.js';
import { TARGET_DESCRIPTION, TARGET_LABEL, type Target, type TargetContext, type TargetId } from './targets/target.js';
import { restoreOrSeed } from './dataset/snapshot.js';
import { deployRedisSettings } from './targets/redis.js';
import { Isolation } from './lib/isolation.js';

/** A phase during which other work used more than this much CPU (% of one core) is re-run once. */
const CONTENDED_OTHER_CPU = 50;

/** Runs a measurement; if other work competed hard for the CPU meanwhile, runs it once more and keeps the calmer one. */
async function calmest<T extends { readonly cpu: CpuReport | null }>(retry: boolean, measure: () => Promise<T>, onRetry: () => void): Promise<T> {
  const first = await measure();
  if (!retry || (first.cpu?.other ?? 0) <= CONTENDED_OTHER_CPU) return first;
  onRetry();
  const second = await measure();
  return (second.cpu?.other ?? 0) < (first.cpu?.other ?? 0) ? second : first;
}

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PEAK_MIXES: readonly MixName[] = ['reads', 'read-heavy', 'mutations', 'login'];

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function environment(tessera: string): Environment {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${platform()} ${release()}`,
    redis: sh('redis-server', ['--version']).replace(/^Redis server /, '').split(' ')[0] ?? '',
    wrk: findWrk() ? sh('sh', ['-c', 'wrk -v 2>&1 | head -1']) || 'wrk' : null,
    gitCommit: sh('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: sh('git', ['status', '--porcelain', '--', 'src']).length > 0,
    loadAverageAtStart: Math.round(loadavg()[0]! * 100) / 100,
    tesseraCommand: tessera,
    redisSettings: deployRedisSettings().map(([k, v]) => `${k} ${v}`).join(', ') || 'harness defaults (no deploy/redis.conf)',
  };
}

function countPhases(options: Options): number {
  const n = options.targets.length;
  const { profile } = options;
  return (
    1 + n + // start, seed
    n * PEAK_MIXES.length +
    n * profile.levels.length +
    (profile.commonRate ? n : 0) +
    (profile.loginLevel > 0 ? n : 0) +
    n + // step
    (options.profileCpu ? options.targets.filter((t) => t.startsWith('tessera')).length * 2 : 0)
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { profile } = options;
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  const outDir = resolve(ROOT, options.outDir);
  mkdirSync(outDir, { recursive: true });
  const progress = new Progress(countPhases(options));
  const apiKey = `bench-${randomBytes(12).toString('hex')}`;
  const tmpDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const notes: string[] = [];
  const targets: Target[] = [];
  const records = new Map<TargetId, TargetRecord>();
  let stopping = false;

  // Each phase runs with the other targets paused; whatever happens, nothing is left stopped.
  const isolation = new Isolation();
  process.on('exit', () => isolation.resumeAll());
  const stopAll = async (): Promise<void> => {
    isolation.resumeAll();
    await Promise.allSettled(targets.splice(0).map((t) => t.stop()));
    rmSync(tmpDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A second signal: leave now; 'exit' hooks still kill every child and Redis.
      if (stopping) process.exit(130);
      stopping = true;
      progress.done();
      process.stdout.write(`\n${signal}: stopping the servers…\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  progress.log(`Tessera benchmark (${profile.name}) — ${options.targets.join(', ')}`);
  progress.log(`${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)}; server, stores and load generator share this machine.`);
  let tessera: ReturnType<typeof tesseraCommand> = { command: process.execPath, args: [], description: 'not used' };
  if (options.targets.some((t) => t.startsWith('tessera'))) {
    progress.status('building Tessera (npm run build) if src/ changed…');
    tessera = tesseraCommand(ROOT);
    if (tessera.warning) {
      notes.push(tessera.warning);
      progress.log(`note: ${tessera.warning.split('\n')[0]}`);
    }
  }
  const env = environment(tessera.description);
  const ctxTarget: TargetContext = { apiKey, tessera, tmpDir };
  const credentials = new Map<string, readonly string[]>();
  let seedCounter = 1;
  const ctx: RunContext = {
    options,
    apiKey,
    progress,
    credentials,
    runTag: stamp.replace(/[^0-9]/g, '').slice(2),
    nextSeed: () => options.dataSeed + seedCounter++,
  };

  const peaks: PeakRecord[] = [];
  const levels: OpenLoopRecord[] = [];
  const steps: StepRecord[] = [];
  const profiles: ProfileRecord[] = [];
  const live = (): Target[] => targets.filter((t) => records.get(t.id)?.status === 'ok');
  /** `work` with every other live target paused. */
  const alone = <T>(target: Target, work: () => Promise<T>): Promise<T> => isolation.alone(target, live(), work);
  const fail = (t: Target | TargetId, error: unknown): void => {
    const id = typeof t === 'string' ? t : t.id;
    const exited = typeof t === 'string' ? null : t.exitReport();
    const message = `${error instanceof Error ? error.message : String(error)}${exited ? `\n${exited}` : ''}`;
    if (exited) notes.push(`${id} failed: ${exited}`);
    records.set(id, { id, label: TARGET_LABEL[id], description: TARGET_DESCRIPTION[id], status: 'failed', error: message.slice(0, 2000) });
    progress.log(`✗ ${id}: ${message.split('\n')[0]}${exited ? ` — ${exited.split('\n')[0]}` : ''}`);
  };

  try {
    // 1. Start every target (concurrently: mostly waiting for processes), then seed them one by one.
    progress.phase(`starting ${options.targets.join(', ')}`);
    const started = await Promise.allSettled(options.targets.map((id) => startTarget(id, ctxTarget)));
    for (const [i, outcome] of started.entries()) {
      const id = options.targets[i]!;
      let target = outcome.status === 'fulfilled' ? outcome.value : null;
      if (!target) {
        // Concurrent starts can race for a free port: try once more on its own.
        try {
          target = await startTarget(id, ctxTarget);
        } catch (error) {
          fail(id, error);
          continue;
        }
      }
      targets.push(target);
      records.set(id, { id, label: TARGET_LABEL[id], description: TARGET_DESCRIPTION[id], status: 'ok' });
    }
    for (const target of live()) {
      progress.phase(`seeding ${target.id}`);
      try {
        const seed = await restoreOrSeed(target, {
          root: ROOT,
          count: profile.sessions,
          dataSeed: options.dataSeed,
          reseed: options.reseed,
          apiKey,
          onStatus: (text) => progress.status(`seeding ${target.id}: ${text}`),
        });
        credentials.set(target.id, seed.credentials);
        records.set(target.id, { ...records.get(target.id)!, seed: seed.record });
        progress.status(`seeding ${target.id}: waiting for the store's background work (AOF rewrite, replica sync)…`);
        await target.settle?.();
        const how = seed.record.fromSnapshot ? 'restored from snapshot' : `${fmtInt(seed.record.requests)} API requests`;
        const per = seed.record.bytesPerSession === null ? '' : `, ${fmtInt(seed.record.bytesPerSession)} B/session in the store`;
        progress.log(`✓ ${target.id}: ${fmtInt(seed.record.sessions)} sessions (${how}, ${(seed.record.elapsedMs / 1000).toFixed(1)} s${per})`);
      } catch (error) {
        fail(target, error);
      }
    }

    // 2. Closed-loop peaks, mix by mix, every target back to back.
    for (const mix of PEAK_MIXES) {
      for (const target of live()) {
        progress.phase(`peak ${mix} · ${target.id}`);
        try {
          const peak = await calmest(
            options.retryContended,
            () => alone(target, () => measurePeak(ctx, target, mix, profile.warmupEveryMix || mix === PEAK_MIXES[0])),
            () => progress.log(`  (other work used over ${CONTENDED_OTHER_CPU} % of a core: measuring ${mix} · ${target.id} again)`),
          );
          peaks.push(peak);
          progress.log(`  peak ${mix.padEnd(10)} ${target.id.padEnd(16)} ${fmtInt(peak.rps).padStart(7)} req/s${peak.errors ? `  (${fmtInt(peak.errors)} errors)` : ''}`);
        } catch (error) {
          fail(target, error);
        }
      }
    }

    // 3. Open-loop read-heavy mix at fractions of each target's own peak.
    for (const fraction of profile.levels) {
      for (const target of live()) {
        const peak = peakOf(peaks, target.id, 'read-heavy');
        if (!peak || peak.rps <= 0) continue;
        progress.phase(`open-loop ${Math.round(fraction * 100)} % · ${target.id}`);
        try {
          const record = await calmest(
            options.retryContended,
            () => alone(target, () => measureLevel(ctx, target, 'read-heavy', Math.max(10, Math.round(peak.rps * fraction)), fraction, `${Math.round(fraction * 100)}%`)),
            () => progress.log(`  (other work used over ${CONTENDED_OTHER_CPU} % of a core: measuring again)`),
          );
          levels.push(record);
          progress.log(`  open-loop ${`${Math.round(fraction * 100)}%`.padStart(4)} ${target.id.padEnd(16)} ${fmtInt(record.offeredRate).padStart(7)}/s  ${describeLatency(record.latency)}${record.errors ? `  errors ${fmtInt(record.errors)}` : ''}`);
        } catch (error) {
          fail(target, error);
        }
      }
    }
    if (profile.commonRate) {
      const candidates = live()
        .map((t) => peakOf(peaks, t.id, 'read-heavy')?.rps ?? 0)
        .filter((r) => r > 0);
      const rate = Math.round(Math.min(...candidates) / 2);
      if (candidates.length > 0) {
        for (const target of live()) {
          progress.phase(`open-loop common rate · ${target.id}`);
          try {
            const record = await calmest(
              options.retryContended,
              () => alone(target, () => measureLevel(ctx, target, 'read-heavy', rate, null, 'common')),
              () => progress.log(`  (other work used over ${CONTENDED_OTHER_CPU} % of a core: measuring again)`),
            );
            levels.push(record);
            progress.log(`  open-loop same ${fmtInt(rate)}/s ${target.id.padEnd(16)} ${describeLatency(record.latency)}`);
          } catch (error) {
            fail(target, error);
          }
        }
      }
    }

    // 4. Login burst.
    if (profile.loginLevel > 0) {
      for (const target of live()) {
        const peak = peakOf(peaks, target.id, 'login');
        if (!peak || peak.rps <= 0) continue;
        progress.phase(`login burst · ${target.id}`);
        try {
          const record = await alone(target, () => measureLevel(ctx, target, 'login', Math.round(peak.rps * profile.loginLevel), profile.loginLevel, 'login'));
          levels.push(record);
          progress.log(`  login burst ${target.id.padEnd(16)} ${fmtInt(record.offeredRate).padStart(7)}/s  ${describeLatency(record.latency)}${record.errors ? `  errors ${fmtInt(record.errors)}` : ''}`);
        } catch (error) {
          fail(target, error);
        }
      }
    }

    // 5. Black-Friday step.
    for (const target of live()) {
      const peak = peakOf(peaks, target.id, 'read-heavy');
      if (!peak || peak.rps <= 0) continue;
      progress.phase(`Black-Friday step · ${target.id}`);
      try {
        const step = await alone(target, () => measureStep(ctx, target, peak.rps));
        steps.push(step);
        progress.log(
          `  step ${target.id.padEnd(16)} ${fmtInt(step.baseRate)}→${fmtInt(step.spikeRate)}/s  p99 before ${step.before.latency.p99} · during ${step.during.latency.p99} · after ${step.after.latency.p99} ms · errors ${step.before.errors + step.during.errors + step.after.errors}`,
        );
      } catch (error) {
        fail(target, error);
      }
    }

    // 6. Optional: where Tessera's time goes (a restart under --cpu-prof per workload).
    if (options.profileCpu) {
      const profileDir = join(outDir, `profiles-${stamp}`);
      for (const target of live().filter((t) => t.id.startsWith('tessera') && t.restartServer)) {
        for (const mix of ['reads', 'mutations'] as const) {
          progress.phase(`cpu profile ${mix} · ${target.id}`);
          const dir = join(profileDir, `${target.id}-${mix}`);
          try {
            await target.restartServer!([`--cpu-prof`, `--cpu-prof-dir=${dir}`]);
            let measuredFromUs = 0;
            await alone(target, () => measurePeak(ctx, target, mix, true, () => (measuredFromUs = monotonicUs())));
            await target.restartServer!([]);
            const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
            if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
            // Only the measured window: skip start-up and the warm-up run.
            const skipMs = skipBefore(join(dir, file), measuredFromUs);
            const summary = summarizeProfile(join(dir, file), 15, skipMs);
            let flamegraph: string | undefined = join(dir, 'flamegraph.svg');
            try {
              writeFlameGraph(join(dir, file), flamegraph, { skipMs, title: `CPU flame graph — ${TARGET_LABEL[target.id]}, closed-loop ${mix} (${stamp})` });
            } catch (error) {
              progress.log(`  flame graph ${mix} ${target.id} failed: ${(error as Error).message.split('\n')[0]}`);
              flamegraph = undefined;
            }
            profiles.push({ target: target.id, file: relative(ROOT, join(dir, file)), mix, skipMs, idlePercent: summary.idlePercent, areas: summary.areas.slice(0, 15), functions: summary.functions, inclusive: summary.inclusive, ...(flamegraph ? { flamegraph: relative(ROOT, flamegraph) } : {}) });
            progress.log(`  profile ${mix} ${target.id}: ${summary.areas.slice(0, 5).map((a) => `${a.area} ${a.percent}%`).join(', ')}`);
          } catch (error) {
            progress.log(`  profile ${mix} ${target.id} failed: ${(error as Error).message.split('\n')[0]}`);
          }
        }
      }
    }
  } finally {
    progress.done();
    progress.log('stopping servers…');
    await stopAll();
  }

  // 7. Results and reports.
  const ratios = computeRatios(peaks);
  const results: BenchResults = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    mode: profile.name,
    environment: env,
    settings: {
      sessions: profile.sessions,
      dataSeed: options.dataSeed,
      zipfS: options.zipfS,
      hottestShare: Math.round(new Zipf(profile.sessions, options.zipfS, options.dataSeed).hottestShare * 10000) / 10000,
      closedLoopConnections: options.connections,
      openLoopWorkers: options.workers,
      openLoopConnections: options.workers * options.workerConnections,
      profile,
    },
    targets: options.targets.map((id) => records.get(id) ?? { id, label: TARGET_LABEL[id], description: TARGET_DESCRIPTION[id], status: 'failed', error: 'not started' }),
    peaks,
    openLoop: levels,
    steps,
    ratios,
    checks: computeChecks(ratios, levels, steps),
    profiles,
    notes,
  };
  const base = join(outDir, stamp + (profile.name === 'quick' ? '-quick' : ''));
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2));
  const markdown = renderMarkdown(results);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.html`, renderHtml(results));
  progress.log('');
  for (const check of results.checks) progress.log(`${check.met ? '✓' : '✗'} ${check.name}: ${check.value}${check.unit === '×' ? '×' : check.unit ? ` ${check.unit}` : ''} (goal ${check.goal})`);
  progress.log(`\nresults: ${relative(ROOT, base)}.{json,md,html}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
