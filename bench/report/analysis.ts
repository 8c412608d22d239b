/** Ratios to the two baselines and the checks against issue 5's goals. */
import type { MixName } from '../load/workload.js';
import type { TargetId } from '../targets/target.js';
import type { CheckRecord, OpenLoopRecord, PeakRecord, RatioRecord, StepRecord } from './results.js';

const TESSERA: readonly TargetId[] = ['tessera-redis', 'tessera-cluster', 'tessera-sqlite'];

/** Goals for Tessera on Redis (issue 5). */
const GOALS: Partial<Record<`${MixName}/${TargetId}`, number>> = {
  'reads/fastify-hello': 0.7,
  'reads/express-session': 5,
  'mutations/fastify-hello': 0.5,
};

export function peakOf(peaks: readonly PeakRecord[], target: TargetId, mix: MixName): PeakRecord | undefined {
  return peaks.find((p) => p.target === target && p.mix === mix);
}

export function computeRatios(peaks: readonly PeakRecord[]): RatioRecord[] {
  const ratios: RatioRecord[] = [];
  for (const mix of ['reads', 'read-heavy', 'mutations', 'login'] as const) {
    for (const numerator of TESSERA) {
      for (const denominator of ['fastify-hello', 'express-session'] as const) {
        const a = peakOf(peaks, numerator, mix);
        const b = peakOf(peaks, denominator, mix);
        if (!a || !b || b.rps <= 0) continue;
        const goal = numerator === 'tessera-redis' ? GOALS[`${mix}/${denominator}`] : undefined;
        ratios.push({
          name: `${mix}: ${numerator} ÷ ${denominator}`,
          numerator,
          denominator,
          mix,
          value: Math.round((a.rps / b.rps) * 100) / 100,
          ...(goal === undefined ? {} : { goal }),
        });
      }
    }
  }
  return ratios;
}

export function computeChecks(ratios: readonly RatioRecord[], levels: readonly OpenLoopRecord[], steps: readonly StepRecord[]): CheckRecord[] {
  const checks: CheckRecord[] = [];
  for (const r of ratios) {
    if (r.goal === undefined) continue;
    checks.push({ name: `${r.mix} throughput, Tessera·Redis ÷ ${r.denominator}`, value: r.value, unit: '×', goal: `≥ ${r.goal}×`, met: r.value >= r.goal });
  }
  const half = levels.find((l) => l.target === 'tessera-redis' && l.mix === 'read-heavy' && l.fraction === 0.5);
  if (half) {
    checks.push({ name: 'read-heavy p99 at half of peak, Tessera·Redis', value: half.latency.p99, unit: 'ms', goal: '< 5 ms', met: half.latency.p99 < 5 && half.errors === 0 });
  }
  const high = levels
    .filter((l) => l.target === 'tessera-redis' && l.mix === 'read-heavy' && l.fraction !== null)
    .sort((a, b) => (b.fraction ?? 0) - (a.fraction ?? 0))[0];
  if (high) {
    const read = high.byClass.read?.p99 ?? high.latency.p99;
    const write = high.byClass.write?.p99 ?? high.latency.p99;
    const pct = Math.round((high.fraction ?? 0) * 100);
    checks.push({ name: `requirement: p99 read at ${pct} % of peak, Tessera·Redis`, value: read, unit: 'ms', goal: '< 50 ms', met: read < 50 });
    checks.push({ name: `requirement: p99 write at ${pct} % of peak, Tessera·Redis`, value: write, unit: 'ms', goal: '< 100 ms', met: write < 100 });
  }
  const step = steps.find((s) => s.target === 'tessera-redis');
  if (step) {
    checks.push({ name: 'Black-Friday ×10 step: p99 during the spike, Tessera·Redis', value: step.during.latency.p99, unit: 'ms', goal: '< 50 ms', met: step.during.latency.p99 < 50 });
    const errors = step.before.errors + step.during.errors + step.after.errors;
    checks.push({ name: 'Black-Friday ×10 step: errors, Tessera·Redis', value: errors, unit: '', goal: '0', met: errors === 0 });
  }
  return checks;
}
