/**
 * HdrHistogram helpers. Latencies are recorded in microseconds (1 µs – 60 s, 3
 * significant digits), travel between worker threads as compressed base64 and
 * are reported in milliseconds.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

const HIGHEST_US = 60_000_000;

export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Records a latency given in milliseconds (clamped to the trackable range). */
export function recordMs(histogram: Histogram, ms: number): void {
  histogram.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
}

export function encode(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decode(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

export function mergeEncoded(encoded: readonly string[]): Histogram {
  const total = newHistogram();
  for (const e of encoded) total.add(decode(e));
  return total;
}

/** The share (0–1) of recorded latencies above `ms`, to within a few thousandths of a percent. */
export function shareOverMs(histogram: Histogram, ms: number): number {
  const us = ms * 1000;
  if (histogram.totalCount === 0 || histogram.maxValue <= us) return 0;
  // The highest percentile whose value is at most `ms`, by bisection (HdrHistogram has no count-above).
  let within = 0;
  let above = 100;
  for (let i = 0; i < 40; i += 1) {
    const mid = (within + above) / 2;
    if (histogram.getValueAtPercentile(mid) <= us) within = mid;
    else above = mid;
  }
  return (100 - within) / 100;
}

/** The percentiles every table and chart uses, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p75: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export const PERCENTILE_KEYS = ['p50', 'p75', 'p90', 'p99', 'p999'] as const;
export type PercentileKey = (typeof PERCENTILE_KEYS)[number];
export const PERCENTILE_LABEL: Record<PercentileKey, string> = {
  p50: 'p50',
  p75: 'p75',
  p90: 'p90',
  p99: 'p99',
  p999: 'p99.9',
};

const ms = (us: number): number => Math.round(us) / 1000;

export function summarize(histogram: Histogram): LatencySummary {
  if (histogram.totalCount === 0) return { count: 0, mean: 0, p50: 0, p75: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: histogram.totalCount,
    mean: ms(histogram.mean),
    p50: ms(histogram.getValueAtPercentile(50)),
    p75: ms(histogram.getValueAtPercentile(75)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}

/** Latency at a ladder of percentiles, for the classic percentile-spectrum plot. */
export const SPECTRUM_PERCENTILES = [0, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.75, 99.9, 99.95, 99.99] as const;

export function spectrum(histogram: Histogram): Array<{ percentile: number; ms: number }> {
  if (histogram.totalCount === 0) return [];
  const points: Array<{ percentile: number; ms: number }> = SPECTRUM_PERCENTILES.map((percentile) => ({
    percentile,
    ms: ms(histogram.getValueAtPercentile(percentile === 0 ? 0.0001 : percentile)),
  }));
  points.push({ percentile: 100, ms: ms(histogram.maxValue) });
  return points;
}
